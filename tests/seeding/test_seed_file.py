"""Seeding: the YAML seed file (SPEC section 4) and the demo world, each on its own database."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import gateway.seeding.loader
from gateway import cli
from gateway.catalog import HEALTH_PLAN_ROLES, ORGANIZATION_ROLES, RoleCode
from gateway.data.db import Database
from gateway.migrate import upgrade
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    EftAccount,
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    PayerRole,
    Provider,
    ProviderAssignment,
    TaxId,
    User,
)
from gateway.seeding import DEMO_PASSWORD, SeedError, seed_demo, seed_demo_if_empty, seed_file
from gateway.settings import Settings, get_settings

# The SPEC's example, completed with the agency, biller and auditor it refers to.
SPEC_EXAMPLE = """\
organizations:
  - name: Example Family Practice
    kind: GROUP_PRACTICE            # INDIVIDUAL_PRACTICE GROUP_PRACTICE FACILITY HOSPITAL ...
    providerId: P-0001
    npi: "1234567893"
    taxIds: ["123456789"]
    status: ACTIVE
    correspondenceAddress: {line1: 1 Main St, city: Phoenix, state: AZ, zip: "85001"}
    eftAccount: {bankName: First Bank, routingNumber: "011000015", accountNumber: "000123456789"}
    providers:
      - {npi: "1987654321", name: Dr. Example One, specialty: Family Medicine}
  - name: Example Billing LLC
    kind: BILLING_AGENCY
    providerId: A-0001
    taxIds: ["987654321"]
users:
  - {username: jdoe, email: jdoe@example.org, name: Jane Doe, phone: "+1 602 555 0100", password: "a long passphrase"}
  - {username: abiller, email: abiller@example.org, name: Al Biller, password: "another passphrase"}
  - {username: auditor1, email: auditor1@example.org, name: Aud Itor, password: "a third passphrase"}
memberships:
  - user: jdoe
    organization: Example Family Practice
    employment: EMPLOYEE            # or THIRD_PARTY
    roles: [ACCOUNT_ADMIN]
    etools: [ONLINE_SERVICES]
    providers: ["1987654321"]       # provider assignments by NPI; omit for none
  - {user: abiller, organization: Example Billing LLC, employment: EMPLOYEE, roles: [AGENCY_USER]}
agencyGrants:
  - organization: Example Family Practice
    agency: Example Billing LLC     # an organization of kind BILLING_AGENCY
    status: ACTIVE                  # REQUESTED ACTIVE REVOKED
    providers: ["1987654321"]       # omit for all of the org's providers
    staff: [abiller]                # agency users assigned to this client
payerRoles:
  - {user: auditor1, role: PAYER_AUDITOR}
"""  # noqa: E501

# A small valid document that the rejection tests break in one place each.
BASE = """\
organizations:
  - name: Example Family Practice
    kind: GROUP_PRACTICE
    providerId: P-0001
    taxIds: ["123456789"]
    providers:
      - {npi: "1987654321", name: Dr. Example One, specialty: Family Medicine}
  - name: Other Practice
    kind: GROUP_PRACTICE
    providerId: P-0002
    providers:
      - {npi: "1555555555", name: Dr. Other, specialty: Pediatrics}
users:
  - {username: jdoe, email: jdoe@example.org, name: Jane Doe, password: "a long passphrase"}
"""


@pytest.fixture
def db_settings(tmp_path: Path) -> Settings:
    """A fresh, migrated SQLite database for one test."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    upgrade(settings)
    return settings


@pytest.fixture
async def session(db_settings: Settings) -> AsyncIterator[AsyncSession]:
    db = Database(db_settings.database_url)
    try:
        async with db.session() as opened:
            yield opened
    finally:
        await db.dispose()


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(textwrap.dedent(content), encoding="utf-8")
    return path


async def count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def rejection(db_settings: Settings, tmp_path: Path, content: str) -> str:
    with pytest.raises(SeedError) as caught:
        await seed_file(db_settings, write(tmp_path, content))
    return str(caught.value)


async def test_spec_example_loads_every_key(
    db_settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    summary = await seed_file(db_settings, write(tmp_path, SPEC_EXAMPLE))

    assert summary == (
        "loaded 2 organizations, 1 provider, 3 users, 2 memberships, 1 agency grant, 1 payer role"
    )
    org = await session.scalar(select(Organization).where(Organization.provider_id == "P-0001"))
    assert org is not None
    assert (org.name, org.kind, org.npi, org.status) == (
        "Example Family Practice",
        "GROUP_PRACTICE",
        "1234567893",
        "ACTIVE",
    )
    assert (org.address_line1, org.address_city, org.address_state, org.address_zip) == (
        "1 Main St",
        "Phoenix",
        "AZ",
        "85001",
    )
    assert list(
        await session.scalars(select(TaxId.tin).where(TaxId.organization_id == org.id))
    ) == ["123456789"]
    eft = await session.get(EftAccount, org.id)
    assert eft is not None
    assert (eft.bank_name, eft.routing_number, eft.account_number) == (
        "First Bank",
        "011000015",
        "000123456789",
    )
    provider = await session.scalar(select(Provider).where(Provider.organization_id == org.id))
    assert provider is not None
    assert (provider.npi, provider.name, provider.specialty) == (
        "1987654321",
        "Dr. Example One",
        "Family Medicine",
    )


async def test_spec_example_users_memberships_and_grants_land(
    db_settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    await seed_file(db_settings, write(tmp_path, SPEC_EXAMPLE))

    jdoe = await session.scalar(select(User).where(User.username == "jdoe"))
    assert jdoe is not None
    assert (jdoe.email_normalized, jdoe.phone, jdoe.status) == (
        "jdoe@example.org",
        "+1 602 555 0100",
        "ACTIVE",
    )
    assert jdoe.password_hash is not None and jdoe.password_hash.startswith("$argon2")
    assert "a long passphrase" not in jdoe.password_hash
    assert PasswordHasher().verify(jdoe.password_hash, "a long passphrase")
    assert jdoe.password_changed_at is not None
    membership = await session.scalar(select(Membership).where(Membership.user_id == jdoe.id))
    assert membership is not None
    assert (membership.status, membership.employment) == ("ACTIVE", "EMPLOYEE")
    assert list(await session.scalars(select(MembershipRole.role))).count("ACCOUNT_ADMIN") == 1
    assert list(await session.scalars(select(MembershipEtool.etool))) == ["ONLINE_SERVICES"]
    assert await count(session, ProviderAssignment) == 1
    grant = await session.scalar(select(AgencyGrant))
    assert grant is not None and grant.status == "ACTIVE" and grant.decided_at is not None
    assert await count(session, AgencyGrantProvider) == 1
    staff = await session.scalar(select(AgencyGrantStaff.user_id))
    assert staff == await session.scalar(select(User.id).where(User.username == "abiller"))
    assert list(await session.scalars(select(PayerRole.role))) == ["PAYER_AUDITOR"]


async def test_bad_role_names_key_path_and_loads_nothing(
    db_settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    message = await rejection(
        db_settings,
        tmp_path,
        BASE
        + """\
memberships:
  - {user: jdoe, organization: Example Family Practice, employment: EMPLOYEE, roles: [STAFF]}
  - {user: jdoe, organization: Other Practice, employment: EMPLOYEE, roles: [ADMIN]}
""",
    )

    assert "memberships[1].roles[0]: unknown role 'ADMIN'" in message
    assert await count(session, Organization) == 0
    assert await count(session, User) == 0


async def test_failure_while_inserting_rolls_back_everything(
    db_settings: Settings,
    tmp_path: Path,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*_args: object) -> list[dict[str, Any]]:
        raise SeedError("payerRoles: simulated failure after the other inserts")

    monkeypatch.setattr(gateway.seeding.loader, "payer_role_rows", fail)
    message = await rejection(db_settings, tmp_path, SPEC_EXAMPLE)

    assert "simulated failure" in message
    for model in (Organization, Provider, User, Membership, AgencyGrant):
        assert await count(session, model) == 0


async def test_yaml_syntax_error_names_the_line(db_settings: Settings, tmp_path: Path) -> None:
    message = await rejection(
        db_settings,
        tmp_path,
        """\
users:
  - username: jdoe
   email: jdoe@example.org
""",
    )

    assert "YAML syntax error at line 3" in message


async def test_key_given_twice_names_the_line(db_settings: Settings, tmp_path: Path) -> None:
    message = await rejection(
        db_settings,
        tmp_path,
        """\
users:
  - username: jdoe
    username: jane
""",
    )

    assert "line 3" in message and "'username' twice" in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Example Family Practice, "
            "employment: EMPLOYEE, roles: [STAFF], providers: ['1999999999']}\n",
            "memberships[0].providers[0]: no provider with NPI '1999999999' in "
            "'Example Family Practice'",
            id="unknown-npi",
        ),
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Example Family Practice, "
            "employment: EMPLOYEE, roles: [STAFF], providers: ['1555555555']}\n",
            "memberships[0].providers[0]: no provider with NPI '1555555555' in "
            "'Example Family Practice'",
            id="npi-of-another-org",
        ),
        pytest.param(
            "  - {username: jane, email: JDoe@Example.org, name: Jane, password: passphrase}\n",
            "users[1].email: email 'jdoe@example.org' is already given at users[0].email",
            id="email-differing-only-by-case",
        ),
        pytest.param(
            "agencyGrants:\n  - {organization: Example Family Practice, agency: Other Practice, "
            "status: ACTIVE}\n",
            "agencyGrants[0].agency: 'Other Practice' is GROUP_PRACTICE, not a BILLING_AGENCY",
            id="agency-not-billing-agency",
        ),
        pytest.param(
            "memberships:\n  - {user: nobody, organization: Nowhere, employment: EMPLOYEE}\n",
            "memberships[0].user: unknown user 'nobody'",
            id="unknown-user",
        ),
        pytest.param(
            "payerRoles:\n  - {user: jdoe, role: STAFF}\n",
            "payerRoles[0].role: role 'STAFF' is not allowed here",
            id="org-role-as-payer-role",
        ),
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Other Practice, "
            "employment: THIRD_PARTY, roles: [OFFICE_MANAGER]}\n",
            "memberships[0].roles[0]: OFFICE_MANAGER may only be held by an EMPLOYEE",
            id="third-party-manager",
        ),
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Other Practice, "
            "employment: EMPLOYEE, roles: [FINANCIAL_MANAGER, STAFF]}\n",
            "memberships[0].roles: FINANCIAL_MANAGER needs a dedicated membership",
            id="financial-manager-not-dedicated",
        ),
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Other Practice, "
            "employment: EMPLOYEE, roles: [STAFF], etools: [CHIROPRACTIC_AUTH]}\n",
            "memberships[0].etools[0]: eTool CHIROPRACTIC_AUTH is only for CHIROPRACTIC",
            id="chiropractic-tool-elsewhere",
        ),
        pytest.param(
            "memberships:\n  - {user: jdoe, organization: Other Practice, "
            "employment: EMPLOYEE, roles: [STAFF], colour: red}\n",
            "memberships[0].colour: unknown key",
            id="unknown-key",
        ),
    ],
)
async def test_bad_reference_or_rule_is_rejected_with_its_key_path(
    db_settings: Settings, tmp_path: Path, session: AsyncSession, extra: str, expected: str
) -> None:
    message = await rejection(db_settings, tmp_path, BASE + extra)

    assert expected in message
    assert await count(session, User) == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'taxIds: ["123456789"]',
            'taxIds: ["12345678"]',
            "organizations[0].taxIds[0]: a TIN must be exactly 9 digits",
        ),
        (
            'taxIds: ["123456789"]',
            "taxIds: [123456789]",
            "organizations[0].taxIds[0]: expected a string, got a number",
        ),
        (
            "kind: GROUP_PRACTICE\n    providerId: P-0001",
            "kind: CLINIC\n    providerId: P-0001",
            "organizations[0].kind: unknown organization kind 'CLINIC'",
        ),
        ("providerId: P-0001", "providerId: P-0002", "organizations[1].providerId: providerId"),
    ],
)
async def test_bad_value_is_rejected_with_its_key_path(
    db_settings: Settings, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    assert expected in await rejection(db_settings, tmp_path, BASE.replace(old, new, 1))


async def test_plus_tag_address_is_distinct_from_plain_address(
    db_settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    await seed_file(
        db_settings,
        write(
            tmp_path,
            BASE
            + (
                "  - {username: jdoe2, email: jdoe+billing@example.org, name: Jane Doe, "
                "password: another passphrase}\n"
            ),
        ),
    )

    emails = set(await session.scalars(select(User.email_normalized)))
    assert emails == {"jdoe@example.org", "jdoe+billing@example.org"}


async def test_loading_twice_names_what_already_exists(
    db_settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    path = write(tmp_path, BASE)
    await seed_file(db_settings, path)

    with pytest.raises(
        SeedError,
        match=r"organizations\[0\]\.name: 'Example Family Practice' "
        r"already exists in the database",
    ):
        await seed_file(db_settings, path)
    assert await count(session, Organization) == 2


async def held_roles(session: AsyncSession) -> dict[tuple[str, str], set[str]]:
    """(username, organization name or '*' for a payer role) -> roles."""
    held: dict[tuple[str, str], set[str]] = {}
    rows = await session.execute(
        select(User.username, Organization.name, MembershipRole.role)
        .join(Membership, Membership.user_id == User.id)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(Membership.status == "ACTIVE")
    )
    for username, org, role in rows:
        held.setdefault((username, org), set()).add(role)
    for username, role in await session.execute(
        select(User.username, PayerRole.role).join(PayerRole, PayerRole.user_id == User.id)
    ):
        held.setdefault((username, "*"), set()).add(role)
    return held


async def test_demo_world_gives_each_documented_user_their_role(
    db_settings: Settings, session: AsyncSession
) -> None:
    summary = await seed_demo(db_settings)

    assert DEMO_PASSWORD in summary
    held = await held_roles(session)
    sunrise, chiro, summit = (
        "Sunrise Family Practice",
        "Desert Spine Chiropractic",
        "Summit Billing LLC",
    )
    expected = {
        ("admin", sunrise): "ACCOUNT_ADMIN",
        ("office", sunrise): "OFFICE_MANAGER",
        ("finance", sunrise): "FINANCIAL_MANAGER",
        ("drsmith", sunrise): "PROVIDER",
        ("nurse", sunrise): "CLINICAL_STAFF",
        ("frontdesk", sunrise): "STAFF",
        ("chiroadmin", chiro): "ACCOUNT_ADMIN",
        ("agencyadmin", summit): "AGENCY_ADMIN",
        ("biller", summit): "AGENCY_USER",
        ("auditor", "*"): "PAYER_AUDITOR",
        ("helpdesk", "*"): "PAYER_SUPPORT",
        ("secofficer", "*"): "SECURITY_OFFICER",
    }
    for key, role in expected.items():
        assert held.get(key) == {role}, key
    assert {role for roles in held.values() for role in roles} == set(RoleCode)
    assert {r for (_, org), roles in held.items() if org == "*" for r in roles} == HEALTH_PLAN_ROLES
    assert {
        r for (_, org), roles in held.items() if org != "*" for r in roles
    } == ORGANIZATION_ROLES
    assert set(await session.scalars(select(User.status))) == {"ACTIVE"}
    admin_hash = await session.scalar(select(User.password_hash).where(User.username == "admin"))
    assert admin_hash is not None and PasswordHasher().verify(admin_hash, DEMO_PASSWORD)


async def test_demo_world_has_the_required_organizations(
    db_settings: Settings, session: AsyncSession
) -> None:
    await seed_demo(db_settings)

    kinds = dict((await session.execute(select(Organization.name, Organization.kind))).all())
    assert sum(kind != "BILLING_AGENCY" for kind in kinds.values()) >= 3
    assert "CHIROPRACTIC" in kinds.values()
    assert list(kinds.values()).count("BILLING_AGENCY") == 1
    grants = (
        await session.execute(
            select(AgencyGrant.status, AgencyGrant.organization_id).where(
                AgencyGrant.status.in_(["ACTIVE", "REVOKED"])
            )
        )
    ).all()
    assert sorted(status for status, _ in grants) == ["ACTIVE", "REVOKED"]
    assert len({org for _, org in grants}) == 2
    active = await session.scalar(select(AgencyGrant.id).where(AgencyGrant.status == "ACTIVE"))
    assert await session.scalar(select(func.count()).where(AgencyGrantStaff.grant_id == active))
    assert await session.scalar(select(func.count()).where(AgencyGrantProvider.grant_id == active))
    for model in (TaxId, EftAccount, Provider):
        assert await count(session, model) >= 3
    chiro_tool_orgs = set(
        await session.scalars(
            select(Organization.kind)
            .join(Membership, Membership.organization_id == Organization.id)
            .join(MembershipEtool, MembershipEtool.membership_id == Membership.id)
            .where(MembershipEtool.etool == "CHIROPRACTIC_AUTH")
        )
    )
    assert chiro_tool_orgs == {"CHIROPRACTIC"}


async def test_demo_world_has_big_org_shared_user_and_admin_counts(
    db_settings: Settings, session: AsyncSession
) -> None:
    await seed_demo(db_settings)

    active_members = list(
        await session.scalars(
            select(func.count())
            .select_from(Membership)
            .where(Membership.status == "ACTIVE")
            .group_by(Membership.organization_id)
        )
    )
    assert max(active_members) >= 200
    orgs_per_user = dict(
        (
            await session.execute(
                select(User.username, func.count())
                .join(Membership, Membership.user_id == User.id)
                .group_by(User.username)
            )
        ).all()
    )
    assert orgs_per_user["admin"] == 2
    admins_per_org = list(
        await session.scalars(
            select(func.count())
            .select_from(MembershipRole)
            .join(Membership, Membership.id == MembershipRole.membership_id)
            .where(MembershipRole.role == "ACCOUNT_ADMIN", Membership.status == "ACTIVE")
            .group_by(Membership.organization_id)
        )
    )
    assert 1 in admins_per_org and 2 in admins_per_org
    frontdesk = (
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == "frontdesk")
    )
    assert (
        await session.scalar(
            select(func.count()).where(ProviderAssignment.membership_id.in_(frontdesk))
        )
        == 1
    )


async def test_demo_is_seeded_only_into_an_empty_database(
    db_settings: Settings, session: AsyncSession
) -> None:
    await seed_demo_if_empty(db_settings)
    organizations = await count(session, Organization)
    await seed_demo_if_empty(db_settings)

    assert organizations >= 4
    assert await count(session, Organization) == organizations
    with pytest.raises(SeedError, match="already exists in the database"):
        await seed_demo(db_settings)


@pytest.fixture
def cli_database(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the CLI's settings (read from the environment, cached) at the test database."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_settings.database_url)
    get_settings.cache_clear()
    yield db_settings
    get_settings.cache_clear()


def test_cli_seed_reports_key_path_and_exits_1(
    cli_database: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE + "payerRoles:\n  - {user: ghost, role: PAYER_SUPPORT}\n")
    status = cli.main(["seed", "--file", str(path)])

    assert status == 1
    assert "payerRoles[0].user: unknown user 'ghost'" in capsys.readouterr().err


def test_cli_seed_prints_summary_and_exits_0(
    cli_database: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["seed", "--file", str(write(tmp_path, BASE))])

    assert status == 0
    assert capsys.readouterr().out.startswith("loaded 2 organizations, 2 providers, 1 user,")
