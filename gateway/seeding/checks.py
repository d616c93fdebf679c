"""Checks across a seed document: references resolve, nothing twice, the domain rules hold."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from gateway.catalog import (
    ETOOL_BY_CODE,
    ROLE_BY_CODE,
    Employment,
    OrganizationKind,
    RoleCode,
    UserStatus,
)
from gateway.seeding.document import (
    AgencyGrantSeed,
    MembershipSeed,
    OrganizationSeed,
    SeedDocument,
)
from gateway.seeding.errors import Problem, SeedError, key_path

AGENCY_ROLES = frozenset({RoleCode.AGENCY_ADMIN, RoleCode.AGENCY_USER})


@dataclass
class Checker:
    """Collects every problem of a document, so one run reports them all."""

    document: SeedDocument
    problems: list[Problem] = field(default_factory=list)
    organizations: dict[str, OrganizationSeed] = field(default_factory=dict)
    usernames: set[str] = field(default_factory=set)

    def add(self, message: str, *path: str | int) -> None:
        self.problems.append(Problem(key_path(*path), message))

    def once_each(
        self,
        values: Sequence[Hashable],
        what: str,
        *path: str | int,
        attribute: str = "",
        note: str = "",
    ) -> None:
        """Report every repeat in a list, at the repeat, naming where the value first appeared."""
        first: dict[Hashable, int] = {}
        tail = (attribute,) if attribute else ()
        for position, value in enumerate(values):
            if value in first:
                where = key_path(*path, first[value], *tail)
                self.add(
                    f"{what} '{value}' is already given at {where}{note}", *path, position, *tail
                )
            first.setdefault(value, position)

    def organization(self, name: str, *path: str | int) -> OrganizationSeed | None:
        found = self.organizations.get(name)
        if found is None:
            self.add(f"unknown organization '{name}' (not under organizations)", *path)
        return found

    def user(self, username: str, *path: str | int) -> bool:
        if username not in self.usernames:
            self.add(f"unknown user '{username}' (not under users)", *path)
            return False
        return True

    def npis(self, organization: OrganizationSeed, npis: Iterable[str], *path: str | int) -> None:
        known = {provider.npi for provider in organization.providers}
        for position, npi in enumerate(npis):
            if npi not in known:
                self.add(f"no provider with NPI '{npi}' in '{organization.name}'", *path, position)


def check_document(document: SeedDocument) -> None:
    """Raise :class:`SeedError` listing every problem, or return if the document can be loaded."""
    checker = Checker(document)
    _check_organizations(checker)
    _check_users(checker)
    for position, membership in enumerate(document.memberships):
        _check_membership(checker, membership, ("memberships", position))
    _once_per_pair(
        checker,
        [(m.user, m.organization) for m in document.memberships],
        "membership of this user in this organization",
        "memberships",
    )
    for position, grant in enumerate(document.agency_grants):
        _check_grant(checker, grant, ("agencyGrants", position))
    _once_per_pair(
        checker,
        [(g.organization, g.agency) for g in document.agency_grants],
        "grant from this organization to this agency",
        "agencyGrants",
    )
    for position, payer_role in enumerate(document.payer_roles):
        checker.user(payer_role.user, "payerRoles", position, "user")
    _once_per_pair(
        checker,
        [(p.user, p.role) for p in document.payer_roles],
        "payer role for this user",
        "payerRoles",
    )
    if checker.problems:
        raise SeedError.from_problems(checker.problems)


def _check_organizations(checker: Checker) -> None:
    organizations = checker.document.organizations
    checker.once_each(
        [o.name for o in organizations], "organization", "organizations", attribute="name"
    )
    checker.once_each(
        [o.provider_id for o in organizations],
        "providerId",
        "organizations",
        attribute="providerId",
    )
    for position, org in enumerate(organizations):
        path = ("organizations", position)
        checker.organizations.setdefault(org.name, org)
        checker.once_each(org.tax_ids, "TIN", *path, "taxIds")
        checker.once_each(org.registered_tax_ids, "TIN", *path, "registeredTaxIds")
        checker.once_each(
            [p.npi for p in org.providers], "NPI", *path, "providers", attribute="npi"
        )
        if org.kind is OrganizationKind.BILLING_AGENCY and org.providers:
            checker.add("a billing agency has no providers of its own", *path, "providers")


def _check_users(checker: Checker) -> None:
    users = checker.document.users
    checker.once_each(
        [u.username.lower() for u in users],
        "username",
        "users",
        attribute="username",
        note=" (usernames compare case-insensitively)",
    )
    checker.once_each(
        [u.email.lower() for u in users],
        "email",
        "users",
        attribute="email",
        note=" (emails compare case-insensitively)",
    )
    for position, user in enumerate(users):
        checker.usernames.add(user.username)
        if user.password is None and user.status is not UserStatus.INVITED:
            checker.add("required unless status is INVITED", "users", position, "password")


def _check_membership(
    checker: Checker, membership: MembershipSeed, path: tuple[str | int, ...]
) -> None:
    checker.user(membership.user, *path, "user")
    org = checker.organization(membership.organization, *path, "organization")
    checker.once_each(membership.roles, "role", *path, "roles")
    checker.once_each(membership.etools, "eTool", *path, "etools")
    checker.once_each(membership.providers, "NPI", *path, "providers")
    _check_roles(checker, membership, org, path)
    if org is None:
        return
    for position, etool in enumerate(membership.etools):
        kinds = ETOOL_BY_CODE[etool].organization_kinds
        if kinds is not None and org.kind not in kinds:
            allowed = ", ".join(sorted(kinds))
            checker.add(
                f"eTool {etool} is only for {allowed} organizations, not {org.kind} (R9)",
                *path,
                "etools",
                position,
            )
    checker.npis(org, membership.providers, *path, "providers")


def _check_roles(
    checker: Checker,
    membership: MembershipSeed,
    org: OrganizationSeed | None,
    path: tuple[str | int, ...],
) -> None:
    roles = membership.roles
    for position, role in enumerate(roles):
        if ROLE_BY_CODE[role].employee_only and membership.employment is not Employment.EMPLOYEE:
            checker.add(
                f"{role} may only be held by an EMPLOYEE membership, "
                f"not {membership.employment} (R4)",
                *path,
                "roles",
                position,
            )
        is_agency = org is not None and org.kind is OrganizationKind.BILLING_AGENCY
        if role in AGENCY_ROLES and org is not None and not is_agency:
            checker.add(
                f"{role} exists only in BILLING_AGENCY organizations, '{org.name}' is {org.kind}",
                *path,
                "roles",
                position,
            )
    if RoleCode.FINANCIAL_MANAGER in roles and len(set(roles)) > 1:
        checker.add(
            "FINANCIAL_MANAGER needs a dedicated membership holding no other role (R5)",
            *path,
            "roles",
        )


def _check_grant(checker: Checker, grant: AgencyGrantSeed, path: tuple[str | int, ...]) -> None:
    org = checker.organization(grant.organization, *path, "organization")
    agency = checker.organization(grant.agency, *path, "agency")
    if agency is not None and agency.kind is not OrganizationKind.BILLING_AGENCY:
        checker.add(f"'{agency.name}' is {agency.kind}, not a BILLING_AGENCY", *path, "agency")
    if grant.organization == grant.agency:
        checker.add("an organization cannot grant itself", *path, "agency")
    if grant.providers is not None:
        if not grant.providers:
            checker.add(
                "list at least one NPI, or omit the key for all providers", *path, "providers"
            )
        checker.once_each(grant.providers, "NPI", *path, "providers")
        if org is not None:
            checker.npis(org, grant.providers, *path, "providers")
    checker.once_each(grant.staff, "user", *path, "staff")
    staff = _agency_staff(checker.document, grant.agency)
    for position, username in enumerate(grant.staff):
        if checker.user(username, *path, "staff", position) and username not in staff:
            checker.add(
                f"'{username}' holds no AGENCY_USER or AGENCY_ADMIN role in '{grant.agency}'",
                *path,
                "staff",
                position,
            )


def _agency_staff(document: SeedDocument, agency: str) -> set[str]:
    return {
        m.user
        for m in document.memberships
        if m.organization == agency and AGENCY_ROLES.intersection(m.roles)
    }


def _once_per_pair(
    checker: Checker, pairs: Sequence[tuple[str, str]], what: str, section: str
) -> None:
    first: dict[tuple[str, str], int] = {}
    for position, pair in enumerate(pairs):
        if pair in first:
            checker.add(f"a {what} is already given at {section}[{first[pair]}]", section, position)
        first.setdefault(pair, position)
