"""``gateway seed --demo``: a small, obviously fake world in which every role is held.

It is the same :class:`SeedDocument` a YAML file becomes, loaded by the same code. Every demo
user signs in with :data:`DEMO_PASSWORD` (demo only: never use the demo world in production).
"""

from __future__ import annotations

import asyncio

from gateway.catalog import (
    Employment,
    EToolCode,
    GrantStatus,
    OrganizationKind,
    OrganizationStatus,
    RoleCode,
)
from gateway.seeding.document import (
    AddressSeed,
    AgencyGrantSeed,
    EftAccountSeed,
    MembershipSeed,
    OrganizationSeed,
    PayerRoleSeed,
    ProviderSeed,
    SeedDocument,
    UserSeed,
)
from gateway.seeding.errors import SeedError
from gateway.seeding.loader import load_into
from gateway.seeding.passwords import hash_password
from gateway.settings import Settings

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - documented, demo-only credential
SUNRISE = "Sunrise Family Practice"
DESERT_SPINE = "Desert Spine Chiropractic"
VALLEY = "Valley Medical Center"
CANYON = "Canyon Dental"
SUMMIT = "Summit Billing LLC"
MESA = "Mesa Pediatrics"  # enrolled, awaiting its master account (R1)
GENERATED_STAFF = 220  # Valley Medical Center's roster: staff001 .. staff220

R, T = RoleCode, EToolCode
FIRST_NAMES = (
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emery",
    "Finley",
    "Gray",
    "Harper",
    "Indy",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Taylor",
)
LAST_NAMES = (
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Foster",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
)


def npi(base: str) -> str:
    """A 10-digit NPI with a valid check digit (Luhn over the prefix 80840 + ``base``)."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed("80840" + base)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return base + str((10 - total % 10) % 10)


# The demo's practitioners by a short name: (NPI, name, specialty, DEA number).
PRACTITIONERS = {
    "smith": (npi("150000001"), "Dr. Ada Smith", "Family Medicine", "AS1234563"),
    "jones": (npi("150000002"), "Dr. Ben Jones", "Pediatrics", "BJ1234563"),
    "ruiz": (npi("150000003"), "Dr. Carmen Ruiz", "Internal Medicine", "BR1234563"),
    "ortiz": (npi("150000004"), "Dr. Cal Ortiz", "Chiropractic", None),
    "lee": (npi("150000005"), "Dr. Dana Lee", "Chiropractic", None),
    "park": (npi("150000006"), "Dr. Dee Park", "General Dentistry", None),
    **{
        f"valley{n}": (npi(f"15000010{n}"), f"Dr. {first} {last}", specialty, None)
        for n, (first, last, specialty) in enumerate(
            [
                ("Elena", "Marsh", "Cardiology"),
                ("Felix", "Nguyen", "Radiology"),
                ("Grace", "Okafor", "Oncology"),
                ("Hugo", "Patel", "Emergency Medicine"),
                ("Iris", "Quill", "Orthopedic Surgery"),
                ("Jonah", "Reyes", "Neurology"),
            ]
        )
    },
}
VALLEY_PROVIDERS = [f"valley{n}" for n in range(6)]


def provider(key: str) -> ProviderSeed:
    number, name, specialty, dea = PRACTITIONERS[key]
    return ProviderSeed(npi=number, name=name, specialty=specialty, dea_number=dea)


def npis(*keys: str) -> list[str]:
    return [PRACTITIONERS[key][0] for key in keys]


def organization(
    name: str,
    kind: OrganizationKind,
    number: int,
    street: str,
    city: str,
    zip_code: str,
    providers: list[str],
) -> OrganizationSeed:
    prefix = "A" if kind is OrganizationKind.BILLING_AGENCY else "P"
    return OrganizationSeed(
        name=name,
        kind=kind,
        provider_id=f"{prefix}-{100000 + number}",
        npi=None if kind is OrganizationKind.BILLING_AGENCY else npi(f"16000000{number}"),
        tax_ids=[f"86000{number:02d}01"] + ([f"86000{number:02d}02"] if number == 1 else []),
        correspondence_address=AddressSeed(line1=street, city=city, state="AZ", zip=zip_code),
        eft_account=EftAccountSeed(
            bank_name="Demo Community Bank",
            routing_number="011000015",
            account_number=f"0000{number:02d}123456",
        ),
        providers=[provider(key) for key in providers],
    )


def organizations() -> list[OrganizationSeed]:
    kinds = OrganizationKind
    return [
        organization(
            SUNRISE,
            kinds.GROUP_PRACTICE,
            1,
            "100 Sunrise Way, Suite 5",
            "Phoenix",
            "85001",
            ["smith", "jones", "ruiz"],
        ),
        organization(
            DESERT_SPINE, kinds.CHIROPRACTIC, 2, "200 Mesa Rd", "Tucson", "85701", ["ortiz", "lee"]
        ),
        organization(
            VALLEY, kinds.HOSPITAL, 3, "300 Valley Pkwy", "Mesa", "85201", VALLEY_PROVIDERS
        ),
        organization(CANYON, kinds.DENTAL, 4, "400 Canyon Ave", "Flagstaff", "86001", ["park"]),
        organization(SUMMIT, kinds.BILLING_AGENCY, 5, "500 Summit Blvd", "Scottsdale", "85251", []),
        organization(
            MESA, kinds.GROUP_PRACTICE, 6, "600 Mesa Dr", "Chandler", "85224", []
        ).model_copy(update={"status": OrganizationStatus.PENDING_ACTIVATION}),
    ]


def user(username: str, name: str, domain: str, line: int | None = None) -> UserSeed:
    return UserSeed(
        username=username,
        email=f"{username}@{domain}.example.org",
        name=name,
        phone=None if line is None else f"+1 602 555 {line:04d}",
        password=DEMO_PASSWORD,
    )


def named_users() -> list[UserSeed]:
    return [
        user("admin", "Alice Admin", "sunrise", 101),
        user("office", "Oscar Office", "sunrise", 102),
        user("finance", "Fiona Finance", "sunrise", 103),
        user("drsmith", "Ada Smith", "sunrise", 104),
        user("nurse", "Nina Nurse", "sunrise", 105),
        user("frontdesk", "Frank Desk", "sunrise", 106),
        user("chiroadmin", "Carla Chiro", "desertspine", 107),
        user("valleyadmin", "Victor Valley", "valley", 108),
        user("valleyadmin2", "Vera Valley", "valley", 109),
        user("canyonadmin", "Cody Canyon", "canyon", 110),
        user("agencyadmin", "Greta Agency", "summitbilling", 111),
        user("biller", "Bill Biller", "summitbilling", 112),
        user("biller2", "Beth Biller", "summitbilling", 113),
        # Registered but in no organization yet: to try requestAccess.
        user("newcomer", "Nora Newcomer", "newcomer", 114),
        user("auditor", "Audra Itor", "healthplan"),
        user("helpdesk", "Hal Desk", "healthplan"),
        user("secofficer", "Sam Secure", "healthplan"),
    ]


def generated_users() -> list[UserSeed]:
    return [
        user(
            f"staff{n:03d}",
            f"{FIRST_NAMES[(n - 1) % len(FIRST_NAMES)]} {LAST_NAMES[(n - 1) // len(FIRST_NAMES)]}",
            "valley",
        )
        for n in range(1, GENERATED_STAFF + 1)
    ]


def member(
    username: str,
    org: str,
    roles: list[RoleCode],
    etools: list[EToolCode] | None = None,
    providers: list[str] | None = None,
) -> MembershipSeed:
    return MembershipSeed(
        user=username,
        organization=org,
        employment=Employment.EMPLOYEE,
        roles=roles,
        etools=etools or [],
        providers=npis(*(providers or [])),
    )


def named_memberships() -> list[MembershipSeed]:
    return [
        member(
            "admin",
            SUNRISE,
            [R.ACCOUNT_ADMIN],
            [T.ONLINE_SERVICES, T.CONNECT_CENTER, T.AUTHORIZATION_MANAGER],
        ),
        member("office", SUNRISE, [R.OFFICE_MANAGER], [T.ONLINE_SERVICES]),
        member("finance", SUNRISE, [R.FINANCIAL_MANAGER]),  # R5: a dedicated membership
        member("drsmith", SUNRISE, [R.PROVIDER], [T.ONLINE_SERVICES, T.CARELON], ["smith"]),
        member(
            "nurse",
            SUNRISE,
            [R.CLINICAL_STAFF],
            [T.CARELON, T.AUTHORIZATION_MANAGER],
            ["smith", "jones"],
        ),
        member("frontdesk", SUNRISE, [R.STAFF], [T.ONLINE_SERVICES], ["jones"]),
        # admin also works at the chiropractic office: a user in two organizations (V5).
        member("admin", DESERT_SPINE, [R.STAFF], [T.CHIROPRACTIC_AUTH], ["ortiz"]),
        member(
            "chiroadmin", DESERT_SPINE, [R.ACCOUNT_ADMIN], [T.ONLINE_SERVICES, T.CHIROPRACTIC_AUTH]
        ),
        member("valleyadmin", VALLEY, [R.ACCOUNT_ADMIN], [T.ONLINE_SERVICES, T.CONNECT_CENTER]),
        member("valleyadmin2", VALLEY, [R.ACCOUNT_ADMIN], [T.ONLINE_SERVICES]),
        member("canyonadmin", CANYON, [R.ACCOUNT_ADMIN], [T.ONLINE_SERVICES]),
        member("agencyadmin", SUMMIT, [R.AGENCY_ADMIN]),
        member("biller", SUMMIT, [R.AGENCY_USER]),
        member("biller2", SUMMIT, [R.AGENCY_USER]),
    ]


def generated_memberships() -> list[MembershipSeed]:
    """Valley's roster: office staff and clinical staff, each assigned to one provider."""
    memberships = []
    for n in range(1, GENERATED_STAFF + 1):
        clinical = n % 3 == 0
        memberships.append(
            member(
                f"staff{n:03d}",
                VALLEY,
                [R.CLINICAL_STAFF if clinical else R.STAFF],
                [T.ONLINE_SERVICES, T.AIM_SPECIALTY_HEALTH] if clinical else [T.ONLINE_SERVICES],
                [VALLEY_PROVIDERS[n % len(VALLEY_PROVIDERS)]],
            )
        )
    return memberships


def agency_grants() -> list[AgencyGrantSeed]:
    return [
        # Limited to two of Sunrise's three providers; biller is assigned, biller2 is not.
        AgencyGrantSeed(
            organization=SUNRISE,
            agency=SUMMIT,
            status=GrantStatus.ACTIVE,
            providers=npis("smith", "jones"),
            staff=["biller"],
        ),
        AgencyGrantSeed(
            organization=CANYON, agency=SUMMIT, status=GrantStatus.REVOKED, staff=["biller"]
        ),
        # Awaiting the agency admin's answer (R11).
        AgencyGrantSeed(organization=VALLEY, agency=SUMMIT, status=GrantStatus.REQUESTED),
    ]


def payer_roles() -> list[PayerRoleSeed]:
    return [
        PayerRoleSeed(user="auditor", role=R.PAYER_AUDITOR),
        PayerRoleSeed(user="helpdesk", role=R.PAYER_SUPPORT),
        PayerRoleSeed(user="secofficer", role=R.SECURITY_OFFICER),
    ]


def demo_document() -> SeedDocument:
    return SeedDocument(
        organizations=organizations(),
        users=named_users() + generated_users(),
        memberships=named_memberships() + generated_memberships(),
        agency_grants=agency_grants(),
        payer_roles=payer_roles(),
    )


async def _demo_hashes(document: SeedDocument) -> dict[str, str]:
    # Demo data only: one argon2 hash (it carries its own salt) shared by every demo user, so
    # the 236 users cost one slow hash, not 236. Real users always get their own salted hash.
    shared = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
    return {seed.username: shared for seed in document.users}


async def seed_demo(settings: Settings) -> str:
    """Load the demo world in one transaction; fails (writing nothing) if any of it exists."""
    document = demo_document()
    counts = await load_into(settings, document, await _demo_hashes(document))
    assert counts is not None
    return f"demo world {counts.summary()}; every demo user's password is {DEMO_PASSWORD!r}"


async def seed_demo_if_empty(settings: Settings) -> None:
    """Load the demo world unless the database already has organizations (``serve --demo``)."""
    document = demo_document()
    hashes = await _demo_hashes(document)
    try:
        await load_into(settings, document, hashes, only_if_empty=True)
    except SeedError:
        # Another process may have seeded between our check and our insert: then all is well.
        await load_into(settings, document, hashes, only_if_empty=True)
