"""Member access: roles, eTools, provider assignments and removal (R4-R9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog import (
    ETOOL_BY_CODE,
    ORGANIZATION_ROLES,
    ROLE_BY_CODE,
    Employment,
    EToolCode,
    MembershipStatus,
    OrganizationKind,
    RoleCode,
)
from gateway.domain.rules import conflict, refused, violation
from gateway.errors import NotFound
from gateway.models import (
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    Provider,
    ProviderAssignment,
    utcnow,
)

# R6: only an account administrator grants, revokes or changes these (and their holders).
ADMIN_ROLES = frozenset({RoleCode.ACCOUNT_ADMIN, RoleCode.OFFICE_MANAGER})
AGENCY_ROLES = frozenset({RoleCode.AGENCY_ADMIN, RoleCode.AGENCY_USER})


@dataclass(frozen=True, slots=True)
class MemberAccess:
    """What a member may do in one organization; ``None`` leaves that part unchanged."""

    roles: frozenset[RoleCode] | None = None
    etools: frozenset[EToolCode] | None = None
    provider_ids: frozenset[int] | None = None
    employment: Employment | None = None


async def lock_organization(session: AsyncSession, org_id: int) -> Organization:
    """Serialize changes to one organization's members (R3, R7 under concurrency).

    Writing the row first takes its lock on PostgreSQL and the write lock on SQLite, so the
    reads that follow see every change committed before ours."""
    locked = await session.scalar(
        update(Organization)
        .where(Organization.id == org_id)
        .values(id=Organization.id)
        .returning(Organization.id)
    )
    organization = None if locked is None else await session.get(Organization, org_id)
    if organization is None:
        raise NotFound("Organization not found")
    return organization


async def update_member_access(
    session: AsyncSession,
    *,
    actor_roles: frozenset[str],
    org_id: int,
    membership_id: int,
    access: MemberAccess,
) -> Membership:
    organization = await lock_organization(session, org_id)
    member = await _active_member(session, org_id, membership_id)
    current = await roles_of(session, membership_id)
    roles = current if access.roles is None else access.roles
    employment = Employment(member.employment) if access.employment is None else access.employment
    check_grant(actor_roles, organization, current, roles, employment)
    if RoleCode.ACCOUNT_ADMIN in current and RoleCode.ACCOUNT_ADMIN not in roles:
        await _keep_an_admin(session, org_id, leaving=membership_id)
    await write_access(
        session, organization, member, replace(access, roles=roles, employment=employment)
    )
    await session.flush()
    return member


def check_grant(
    actor_roles: frozenset[str],
    organization: Organization,
    current: frozenset[RoleCode],
    roles: frozenset[RoleCode],
    employment: Employment,
) -> None:
    """R4, R5, R6, R11: may this actor change a member's roles from ``current`` to ``roles``."""
    _check_may_change(actor_roles, current, roles)
    _check_roles(organization, roles, employment)


async def write_access(
    session: AsyncSession, organization: Organization, member: Membership, access: MemberAccess
) -> None:
    """Write the given parts of ``access`` (eTools checked by R9, providers by V4)."""
    if access.etools is not None:
        _check_etools(organization, access.etools)
        await _replace(session, MembershipEtool, member.id, "etool", access.etools)
    if access.provider_ids is not None:
        await _check_providers(session, organization.id, access.provider_ids)
        await _replace(session, ProviderAssignment, member.id, "provider_id", access.provider_ids)
    if access.roles is not None:
        await _replace(session, MembershipRole, member.id, "role", access.roles)
    if access.employment is not None:
        member.employment = access.employment


async def remove_member(
    session: AsyncSession, *, actor_roles: frozenset[str], org_id: int, membership_id: int
) -> Membership:
    """R8: the person left. Their membership stays (history) but grants nothing from now on."""
    await lock_organization(session, org_id)
    member = await _active_member(session, org_id, membership_id)
    current = await roles_of(session, membership_id)
    _check_may_change(actor_roles, current, frozenset())
    if RoleCode.ACCOUNT_ADMIN in current:
        await _keep_an_admin(session, org_id, leaving=membership_id)
    member.status = MembershipStatus.REMOVED
    member.removed_at = utcnow()
    await session.flush()
    return member


async def roles_of(session: AsyncSession, membership_id: int) -> frozenset[RoleCode]:
    rows = await session.scalars(
        select(MembershipRole.role).where(MembershipRole.membership_id == membership_id)
    )
    return frozenset(RoleCode(r) for r in rows)


async def _active_member(session: AsyncSession, org_id: int, membership_id: int) -> Membership:
    member = await session.get(Membership, membership_id)
    if (
        member is None
        or member.organization_id != org_id
        or member.status != MembershipStatus.ACTIVE
    ):
        raise NotFound("Membership not found")
    return member


def _check_may_change(
    actor_roles: frozenset[str], current: frozenset[RoleCode], wanted: frozenset[RoleCode]
) -> None:
    """R6: office managers manage non-admin users only; admins manage everyone."""
    if RoleCode.ACCOUNT_ADMIN in actor_roles:
        return
    if current & ADMIN_ROLES or wanted & ADMIN_ROLES:
        raise refused(
            "R6",
            "only an account administrator grants, revokes or changes administrators "
            "and office managers",
        )


def _check_roles(
    organization: Organization, roles: frozenset[RoleCode], employment: Employment
) -> None:
    unknown = roles - ORGANIZATION_ROLES
    if unknown:
        raise violation(
            "R4", f"{', '.join(sorted(unknown))} are health-plan roles, not organization roles"
        )
    employee_only = {r for r in roles if ROLE_BY_CODE[r].employee_only}
    if employee_only and employment is not Employment.EMPLOYEE:
        raise violation(
            "R4",
            f"{', '.join(sorted(employee_only))} may only be held by an employee, "
            "not by third-party billing staff",
        )
    if RoleCode.FINANCIAL_MANAGER in roles and len(roles) > 1:
        raise violation(
            "R5", "the financial manager needs a dedicated account holding no other role"
        )
    is_agency = organization.kind == OrganizationKind.BILLING_AGENCY
    if is_agency != bool(roles & AGENCY_ROLES) and roles:
        kind = "only" if is_agency else "never"
        raise violation("R11", f"agency roles are held {kind} in billing agencies")


def _check_etools(organization: Organization, etools: Iterable[EToolCode]) -> None:
    """R9: eTools only where the organization's kind is eligible."""
    for code in etools:
        kinds = ETOOL_BY_CODE[code].organization_kinds
        if kinds is not None and organization.kind not in kinds:
            allowed = ", ".join(sorted(kinds))
            raise violation("R9", f"{code} may only be granted in {allowed} organizations")


async def _check_providers(
    session: AsyncSession, org_id: int, provider_ids: frozenset[int]
) -> None:
    if not provider_ids:
        return
    found = await session.scalar(
        select(func.count()).where(
            Provider.id.in_(provider_ids), Provider.organization_id == org_id
        )
    )
    if found != len(provider_ids):
        raise violation("V4", "provider assignments must name providers of this organization")


async def _keep_an_admin(session: AsyncSession, org_id: int, *, leaving: int) -> None:
    """R7: an active organization never drops below one active account administrator."""
    others = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(
            Membership.organization_id == org_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id != leaving,
            MembershipRole.role == RoleCode.ACCOUNT_ADMIN,
        )
    )
    if not others:
        raise conflict(
            "R7",
            "the organization would be left without an active account administrator; "
            "make someone else an administrator first",
        )


async def _replace(
    session: AsyncSession,
    model: type[MembershipRole] | type[MembershipEtool] | type[ProviderAssignment],
    membership_id: int,
    column: str,
    values: Iterable[object],
) -> None:
    await session.execute(delete(model).where(model.membership_id == membership_id))
    rows = [{"membership_id": membership_id, column: value} for value in values]
    if rows:
        await session.execute(insert(model), rows)
