"""A synthetic, deterministic world of organizations, users and grants for the benchmark.

Rows are plain tuples keyed by table, with explicit primary keys, so they can be bulk-copied
into PostgreSQL in foreign-key order. Vocabulary comes from ``gateway.catalog``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.catalog import (
    Employment,
    EToolCode,
    GrantStatus,
    MembershipStatus,
    OrganizationKind,
    OrganizationStatus,
    RoleCode,
    UserStatus,
)

Row = tuple[Any, ...]

# Column order of each table, in foreign-key (load) order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "organizations": (
        "id", "name", "kind", "provider_id", "npi", "status", "address_line1", "address_line2",
        "address_city", "address_state", "address_zip", "created_at",
    ),
    "users": (
        "id", "username", "email", "email_normalized", "name", "phone", "status",
        "password_hash", "password_changed_at", "failed_logins", "token_version",
        "last_login_at", "created_at",
    ),
    "tax_ids": ("id", "organization_id", "tin"),
    "eft_accounts": (
        "organization_id", "bank_name", "routing_number", "account_number", "updated_at",
    ),
    "providers": ("id", "organization_id", "npi", "name", "specialty", "dea_number"),
    "memberships": (
        "id", "user_id", "organization_id", "status", "employment", "approved_by_id",
        "approved_at", "created_at",
    ),
    "membership_roles": ("membership_id", "role"),
    "membership_etools": ("membership_id", "etool"),
    "provider_assignments": ("membership_id", "provider_id"),
    "payer_roles": ("user_id", "role"),
    "agency_grants": ("id", "organization_id", "agency_id", "status", "created_at", "decided_at"),
    "agency_grant_staff": ("grant_id", "user_id"),
    "agency_grant_providers": ("grant_id", "provider_id"),
}

DASHBOARD_ORG_ID = 1
DASHBOARD_ACTIVE_MEMBERS = 70
DASHBOARD_OTHER_MEMBERS = 6  # REQUESTED and REMOVED, hidden by the default status filter
PROVIDERS_PER_ORG = 5
CLIENTS_PER_AGENCY = 25
MIN_ORGANIZATIONS = 25
AUDITOR_USERNAME = "bench.auditor"

KINDS = (
    OrganizationKind.INDIVIDUAL_PRACTICE, OrganizationKind.GROUP_PRACTICE,
    OrganizationKind.FACILITY, OrganizationKind.HOSPITAL, OrganizationKind.DENTAL,
    OrganizationKind.CHIROPRACTIC,
)
EMPLOYEE_ONLY = (RoleCode.OFFICE_MANAGER, RoleCode.FINANCIAL_MANAGER)
ANYONE = (RoleCode.STAFF, RoleCode.PROVIDER, RoleCode.CLINICAL_STAFF)
ASSIGNED_ROLES = frozenset(ANYONE)
GENERAL_ETOOLS = tuple(t for t in EToolCode if t is not EToolCode.CHIROPRACTIC_AUTH)
SPECIALTIES = (
    "Family Medicine", "Internal Medicine", "Pediatrics", "Cardiology", "Dermatology",
    "Orthopedics", "Radiology", "Oncology", "Chiropractic", "General Dentistry",
)
FIRST_NAMES = (
    "Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kim",
    "Luis", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor",
)
LAST_NAMES = (
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones",
    "Khan", "Lopez", "Miller", "Nguyen", "Okafor", "Patel", "Rossi", "Smith", "Tanaka", "Weber",
)
CITIES = (("Phoenix", "AZ", "85001"), ("Boston", "MA", "02108"), ("Tucson", "AZ", "85701"),
          ("Worcester", "MA", "01608"), ("Mesa", "AZ", "85201"))


@dataclass(frozen=True, slots=True)
class WorldSize:
    organizations: int
    users: int
    agencies: int

    @classmethod
    def of(cls, organizations: int, users: int) -> WorldSize:
        agencies = max(3, organizations // 200)
        needed = DASHBOARD_ACTIVE_MEMBERS + DASHBOARD_OTHER_MEMBERS + 2 * organizations + 3
        if organizations < MIN_ORGANIZATIONS:  # the org list pages through 20 of them
            raise ValueError(f"--orgs must be at least {MIN_ORGANIZATIONS}")
        if users < needed:
            raise ValueError(f"--users must be at least {needed} for {organizations} orgs")
        return cls(organizations, users, agencies)


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    kind: OrganizationKind
    provider_ids: tuple[int, ...]


@dataclass
class World:
    """Rows per table, in load order."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in COLUMNS})

    def add(self, table: str, row: Row) -> None:
        assert len(row) == len(COLUMNS[table]), table
        self.rows[table].append(row)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}


def npi_with_check_digit(base9: int) -> str:
    """A 10-digit NPI: nine digits plus the Luhn check digit over the ``80840`` prefix."""
    digits = f"80840{base9:09d}"
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the check digit will sit to the right
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return f"{base9:09d}{(10 - total % 10) % 10}"


def dea_number(provider_id: int) -> str:
    """Nine characters shaped like a DEA registration: two letters and seven digits."""
    return f"B{chr(ord('A') + provider_id % 26)}{provider_id % 10**7:07d}"


class Builder:
    """Builds a World from a seed; each ``_add_*`` method fills one part of it."""

    def __init__(self, size: WorldSize, seed: int) -> None:
        self.size = size
        self.random = random.Random(seed)
        self.world = World()
        self.now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
        self.orgs: list[Org] = []
        self.next_user_id = 1
        self.next_membership_id = 1
        self.admins: dict[int, int] = {}  # organization id -> its first account admin
        self.agency_staff: dict[int, list[int]] = {}  # agency id -> its ACTIVE agency users

    def build(self) -> World:
        self._add_payer_users()
        self._add_organizations()
        self._add_admins()
        self._add_dashboard_members()
        self._add_remaining_members()
        self._add_agency_grants()
        return self.world

    # --- people ------------------------------------------------------------------------------

    def _new_user(self, status: UserStatus = UserStatus.ACTIVE, username: str = "") -> int:
        user_id = self.next_user_id
        self.next_user_id += 1
        username = username or f"user{user_id:06d}"
        first, last = self.random.choice(FIRST_NAMES), self.random.choice(LAST_NAMES)
        email = f"{username}@example.org"
        created = self.now - timedelta(days=self.random.randrange(1, 2000))
        self.world.add("users", (
            user_id, username, email, email.lower(), f"{first} {last}",
            f"+1 602 555 {user_id % 10000:04d}", str(status), None, None, 0, 0,
            created + timedelta(days=1), created,
        ))
        return user_id

    def _random_user_status(self) -> UserStatus:
        roll = self.random.random()
        if roll < 0.92:
            return UserStatus.ACTIVE
        return self.random.choice((UserStatus.INVITED, UserStatus.LOCKED, UserStatus.DEACTIVATED))

    def _add_payer_users(self) -> None:
        for username, role in ((AUDITOR_USERNAME, RoleCode.PAYER_AUDITOR),
                               ("bench.support", RoleCode.PAYER_SUPPORT),
                               ("bench.security", RoleCode.SECURITY_OFFICER)):
            self.world.add("payer_roles", (self._new_user(username=username), str(role)))

    # --- organizations -----------------------------------------------------------------------

    def _add_organizations(self) -> None:
        first_agency = self.size.organizations - self.size.agencies + 1
        next_provider = 1
        for org_id in range(1, self.size.organizations + 1):
            is_agency = org_id >= first_agency
            kind = OrganizationKind.BILLING_AGENCY if is_agency else self._org_kind(org_id)
            count = 0 if is_agency else PROVIDERS_PER_ORG
            provider_ids = tuple(range(next_provider, next_provider + count))
            next_provider += count
            self.orgs.append(Org(org_id, kind, provider_ids))
            self._add_org_rows(org_id, kind, is_agency)
            for provider_id in provider_ids:
                self._add_provider(org_id, provider_id, kind)

    def _org_kind(self, org_id: int) -> OrganizationKind:
        if org_id == DASHBOARD_ORG_ID:
            return OrganizationKind.GROUP_PRACTICE
        return self.random.choice(KINDS)

    def _add_org_rows(self, org_id: int, kind: OrganizationKind, is_agency: bool) -> None:
        city, state, zip_code = self.random.choice(CITIES)
        label = "Billing Services LLC" if is_agency else kind.replace("_", " ").title()
        status = OrganizationStatus.ACTIVE
        if org_id != DASHBOARD_ORG_ID and self.random.random() < 0.05:
            status = self.random.choice((OrganizationStatus.PENDING_ACTIVATION,
                                         OrganizationStatus.SUSPENDED))
        self.world.add("organizations", (
            org_id, f"Bench {label} {org_id:05d}", str(kind), f"P-{org_id:07d}",
            npi_with_check_digit(500_000_000 + org_id), str(status),
            f"{self.random.randrange(1, 9999)} Main St", None, city, state, zip_code,
            self.now - timedelta(days=self.random.randrange(30, 3000)),
        ))
        for index in range(1 if self.random.random() < 0.7 else 2):
            tax_id = 2 * org_id - 1 + index
            self.world.add("tax_ids", (tax_id, org_id, f"{100_000_000 + tax_id * 7919:09d}"))
        self.world.add("eft_accounts", (
            org_id, "First Bench Bank", "011000015", f"{org_id:012d}", self.now,
        ))

    def _add_provider(self, org_id: int, provider_id: int, kind: OrganizationKind) -> None:
        specialty = "Chiropractic" if kind is OrganizationKind.CHIROPRACTIC else (
            self.random.choice(SPECIALTIES))
        first, last = self.random.choice(FIRST_NAMES), self.random.choice(LAST_NAMES)
        self.world.add("providers", (
            provider_id, org_id, npi_with_check_digit(100_000_000 + provider_id),
            f"Dr. {first} {last}", specialty, dea_number(provider_id),
        ))

    # --- memberships -------------------------------------------------------------------------

    def _add_membership(
        self, user_id: int, org: Org, roles: Sequence[RoleCode], *,
        status: MembershipStatus = MembershipStatus.ACTIVE,
        employment: Employment = Employment.EMPLOYEE, approver: int | None = None,
    ) -> int:
        membership_id = self.next_membership_id
        self.next_membership_id += 1
        created = self.now - timedelta(days=self.random.randrange(1, 1500))
        approved = status in (MembershipStatus.ACTIVE, MembershipStatus.REMOVED)
        self.world.add("memberships", (
            membership_id, user_id, org.id, str(status), str(employment),
            approver if approved else None, created + timedelta(hours=4) if approved else None,
            created,
        ))
        for role in roles:
            self.world.add("membership_roles", (membership_id, str(role)))
        self._add_etools(membership_id, org)
        if ASSIGNED_ROLES & set(roles) and org.provider_ids:
            count = self.random.randint(1, min(3, len(org.provider_ids)))
            for provider_id in self.random.sample(org.provider_ids, count):
                self.world.add("provider_assignments", (membership_id, provider_id))
        return membership_id

    def _add_etools(self, membership_id: int, org: Org) -> None:
        tools: list[EToolCode] = self.random.sample(GENERAL_ETOOLS, self.random.randint(1, 3))
        if org.kind is OrganizationKind.CHIROPRACTIC and self.random.random() < 0.5:
            tools.append(EToolCode.CHIROPRACTIC_AUTH)
        for tool in tools:
            self.world.add("membership_etools", (membership_id, str(tool)))

    def _add_admins(self) -> None:
        """Every organization gets one or two ACTIVE account administrators first."""
        for org in self.orgs:
            count = 2 if org.id == DASHBOARD_ORG_ID or self.random.random() < 0.4 else 1
            for index in range(count):
                user_id = self._new_user()
                roles = [RoleCode.ACCOUNT_ADMIN]
                if org.kind is OrganizationKind.BILLING_AGENCY:
                    roles.append(RoleCode.AGENCY_ADMIN)
                self._add_membership(user_id, org, roles, approver=self.admins.get(org.id))
                if index == 0:
                    self.admins[org.id] = user_id

    def _add_dashboard_members(self) -> None:
        org = self.orgs[DASHBOARD_ORG_ID - 1]
        approver = self.admins[org.id]
        for _ in range(DASHBOARD_ACTIVE_MEMBERS):
            employment, roles = self._member_profile(org)
            self._add_membership(self._new_user(), org, roles, employment=employment,
                                 approver=approver)
        for index in range(DASHBOARD_OTHER_MEMBERS):
            status = MembershipStatus.REQUESTED if index % 2 else MembershipStatus.REMOVED
            self._add_membership(self._new_user(), org, [RoleCode.STAFF], status=status,
                                 approver=approver)

    def _add_remaining_members(self) -> None:
        """Spread the other users over the organizations; some also join a second one."""
        others = self.orgs[1:]
        memberships_of: dict[int, set[int]] = {}
        while self.next_user_id <= self.size.users:
            org = self.random.choice(others)
            user_id = self._new_user(self._random_user_status())
            memberships_of[user_id] = {org.id}
            self._add_random_membership(user_id, org)
        for user_id, org_ids in memberships_of.items():
            second = self.random.choice(others)
            if self.random.random() < 0.1 and second.id not in org_ids:
                self._add_random_membership(user_id, second, employment=Employment.THIRD_PARTY)

    def _add_random_membership(
        self, user_id: int, org: Org, employment: Employment | None = None
    ) -> None:
        profile_employment, roles = self._member_profile(org, employment)
        roll = self.random.random()
        status = MembershipStatus.ACTIVE
        if roll > 0.9:
            status = self.random.choice((MembershipStatus.REQUESTED, MembershipStatus.DENIED,
                                         MembershipStatus.REMOVED))
        self._add_membership(
            user_id, org, roles, status=status, employment=profile_employment,
            approver=self.admins[org.id],
        )
        if org.kind is OrganizationKind.BILLING_AGENCY and status is MembershipStatus.ACTIVE:
            self.agency_staff.setdefault(org.id, []).append(user_id)

    def _member_profile(
        self, org: Org, employment: Employment | None = None
    ) -> tuple[Employment, list[RoleCode]]:
        """Employment and one or two roles; employee-only roles (R4) go to employees only."""
        if org.kind is OrganizationKind.BILLING_AGENCY:
            return Employment.EMPLOYEE, [RoleCode.AGENCY_USER]
        if employment is None:
            employment = Employment.THIRD_PARTY if self.random.random() < 0.15 else (
                Employment.EMPLOYEE)
        pool = ANYONE + EMPLOYEE_ONLY if employment is Employment.EMPLOYEE else ANYONE
        roles = self.random.sample(pool, 2 if self.random.random() < 0.25 else 1)
        return employment, sorted(roles)

    # --- agency grants -----------------------------------------------------------------------

    def _add_agency_grants(self) -> None:
        agencies = [o for o in self.orgs if o.kind is OrganizationKind.BILLING_AGENCY]
        clients = [o for o in self.orgs if o.kind is not OrganizationKind.BILLING_AGENCY]
        grant_id = 1
        for index, agency in enumerate(agencies):
            chosen = self.random.sample(clients[1:], min(CLIENTS_PER_AGENCY, len(clients) - 1))
            if index < 3:  # the dashboard org works with a few agencies
                chosen.append(clients[0])
            for client in chosen:
                self._add_grant(grant_id, client, agency)
                grant_id += 1

    def _add_grant(self, grant_id: int, client: Org, agency: Org) -> None:
        roll = self.random.random()
        status = GrantStatus.ACTIVE if roll < 0.75 else (
            GrantStatus.REQUESTED if roll < 0.9 else GrantStatus.REVOKED)
        created = self.now - timedelta(days=self.random.randrange(1, 700))
        decided = None if status is GrantStatus.REQUESTED else created + timedelta(days=2)
        self.world.add("agency_grants", (
            grant_id, client.id, agency.id, str(status), created, decided,
        ))
        staff = self.agency_staff.get(agency.id, [])
        if status is GrantStatus.ACTIVE and staff:
            for user_id in self.random.sample(staff, min(len(staff), self.random.randint(1, 3))):
                self.world.add("agency_grant_staff", (grant_id, user_id))
        if self.random.random() < 0.5 and client.provider_ids:
            count = self.random.randint(1, 3)
            for provider_id in self.random.sample(client.provider_ids, count):
                self.world.add("agency_grant_providers", (grant_id, provider_id))


def build_world(organizations: int, users: int, seed: int) -> World:
    return Builder(WorldSize.of(organizations, users), seed).build()
