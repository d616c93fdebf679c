"""Billing agencies (R11): an office invites a registered agency, the agency's admin accepts or
declines and assigns agency staff to the client, and the office revokes ("deny access") at any
time.

Each decision locks the organization that owns it (the client for invite and revoke, the agency
for respond and assign), then changes the grant in one conditional statement on its row. The
two sides lock different organizations, so the grant row is where a revoke and an accept meet:
whichever writes second sees the first's outcome, and a grant is never ACTIVE after a revoke was
reported. A declined invitation is DECLINED (the agency said no), distinguishable from REVOKED
(the client said no); either may be invited again. Every step tells the other side through the
outbox, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import outbox
from gateway.catalog import GrantStatus, MembershipStatus, OrganizationKind, RoleCode, UserStatus
from gateway.domain.members import lock_organization
from gateway.domain.rules import conflict, violation
from gateway.errors import NotFound
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Membership,
    MembershipRole,
    Organization,
    Provider,
    User,
    utcnow,
)

# Who is told on the client's side: those who may invite and revoke agencies.
CLIENT_RECIPIENTS = frozenset({RoleCode.ACCOUNT_ADMIN, RoleCode.OFFICE_MANAGER})
AGENCY_RECIPIENTS = frozenset({RoleCode.AGENCY_ADMIN})
# A grant someone said no to may be asked for again; a pending or active one may not.
REOPENABLE = (GrantStatus.DECLINED, GrantStatus.REVOKED)
STAFFABLE = (GrantStatus.REQUESTED, GrantStatus.ACTIVE)


async def invite_agency(
    session: AsyncSession, *, org_id: int, agency_id: int, provider_ids: frozenset[int] | None
) -> AgencyGrant:
    """R11: ask a registered agency to act for the organization (``None``: all providers)."""
    client = await lock_organization(session, org_id)
    agency = await _agency(session, agency_id)
    if client.kind == OrganizationKind.BILLING_AGENCY:
        raise violation("R11", "billing agencies act for provider offices, not for each other")
    await _check_providers(session, org_id, provider_ids)
    grant = await _open_grant(session, org_id, agency_id)
    await _limit_providers(session, grant.id, provider_ids)
    scope = "all of its providers" if provider_ids is None else f"{len(provider_ids)} provider(s)"
    await _notify(
        session,
        agency,
        AGENCY_RECIPIENTS,
        f"{client.name} invites {agency.name} to act as its billing agency",
        f"{client.name} (provider ID {client.provider_id}) invited {agency.name} to act as its "
        f"billing agency for {scope}.\n\nAn agency administrator can accept or decline the "
        "invitation in the provider portal.\n",
    )
    return grant


async def respond_to_invitation(
    session: AsyncSession, *, org_id: int, grant_id: int, accept: bool
) -> AgencyGrant:
    """R11: the agency's admin accepts (ACTIVE) or declines (DECLINED) a pending invitation."""
    agency = await lock_organization(session, org_id)
    status = GrantStatus.ACTIVE if accept else GrantStatus.DECLINED
    grant = await _claim(
        session,
        grant_id,
        AgencyGrant.agency_id == org_id,
        (GrantStatus.REQUESTED,),
        status=status,
        decided_at=utcnow(),
    )
    client = await _organization(session, grant.organization_id)
    answer = "accepted" if accept else "declined"
    await _notify(
        session,
        client,
        CLIENT_RECIPIENTS,
        f"{agency.name} {answer} your billing agency invitation",
        f"{agency.name} {answer} the invitation of {client.name} to act as its billing "
        "agency.\n"
        + (
            "Its administrator now assigns the agency staff who work for you; you can deny "
            "the agency access at any time in the provider portal.\n"
            if accept
            else ""
        ),
    )
    return grant


async def assign_staff(
    session: AsyncSession, *, org_id: int, grant_id: int, user_ids: frozenset[int]
) -> AgencyGrant:
    """R11: the agency users who work for this client (replaces the set)."""
    await lock_organization(session, org_id)
    # Holds the grant's row until commit, so a concurrent revoke is either seen or waits.
    grant = await _claim(
        session, grant_id, AgencyGrant.agency_id == org_id, STAFFABLE, id=AgencyGrant.id
    )
    await _check_staff(session, org_id, user_ids)
    await session.execute(delete(AgencyGrantStaff).where(AgencyGrantStaff.grant_id == grant.id))
    if user_ids:
        rows = [{"grant_id": grant.id, "user_id": user_id} for user_id in sorted(user_ids)]
        await session.execute(insert(AgencyGrantStaff), rows)
    return grant


async def revoke_grant(session: AsyncSession, *, org_id: int, grant_id: int) -> AgencyGrant:
    """R11: the client denies the agency access; its users lose it on their next request."""
    client = await lock_organization(session, org_id)
    grant = await _claim(
        session,
        grant_id,
        AgencyGrant.organization_id == org_id,
        STAFFABLE,
        status=GrantStatus.REVOKED,
        decided_at=utcnow(),
    )
    agency = await _organization(session, grant.agency_id)
    await _notify(
        session,
        agency,
        AGENCY_RECIPIENTS,
        f"{client.name} ended {agency.name}'s access",
        f"{client.name} denied {agency.name} access to its account. Your agency's users no "
        f"longer see {client.name} in the provider portal.\n",
    )
    return grant


async def _agency(session: AsyncSession, agency_id: int) -> Organization:
    """A registered billing agency; any other organization is answered like a missing one."""
    agency = await session.get(Organization, agency_id)
    if agency is None or agency.kind != OrganizationKind.BILLING_AGENCY:
        raise NotFound("Billing agency not found")
    return agency


async def _organization(session: AsyncSession, org_id: int) -> Organization:
    organization = await session.get(Organization, org_id)
    assert organization is not None  # the grant references it
    return organization


async def _check_providers(
    session: AsyncSession, org_id: int, provider_ids: frozenset[int] | None
) -> None:
    """R11: a grant limited to providers names some, and only the client's own."""
    if provider_ids is None:
        return
    if not provider_ids:
        raise violation("R11", "name at least one provider, or omit providerIds for all of them")
    found = await session.scalars(
        select(Provider.id).where(Provider.id.in_(provider_ids), Provider.organization_id == org_id)
    )
    if set(found) != provider_ids:
        raise violation("R11", "an agency grant names only providers of this organization")


async def _open_grant(session: AsyncSession, org_id: int, agency_id: int) -> AgencyGrant:
    """A new REQUESTED grant, or a declined or revoked one asked for again."""
    between = (AgencyGrant.organization_id == org_id) & (AgencyGrant.agency_id == agency_id)
    reopened = await _update(
        session,
        between & AgencyGrant.status.in_(REOPENABLE),
        status=GrantStatus.REQUESTED,
        created_at=utcnow(),
        decided_at=None,
    )
    if reopened is not None:
        # A fresh start: whoever worked for the client before is assigned again, or not.
        await session.execute(
            delete(AgencyGrantStaff).where(AgencyGrantStaff.grant_id == reopened.id)
        )
        return reopened
    status = await session.scalar(select(AgencyGrant.status).where(between))
    if status is not None:
        raise conflict("R11", f"this agency's grant is already {status.lower()}")
    grant = AgencyGrant(organization_id=org_id, agency_id=agency_id, status=GrantStatus.REQUESTED)
    session.add(grant)
    await session.flush()
    return grant


async def _limit_providers(
    session: AsyncSession, grant_id: int, provider_ids: frozenset[int] | None
) -> None:
    await session.execute(
        delete(AgencyGrantProvider).where(AgencyGrantProvider.grant_id == grant_id)
    )
    if provider_ids:
        rows = [{"grant_id": grant_id, "provider_id": p} for p in sorted(provider_ids)]
        await session.execute(insert(AgencyGrantProvider), rows)


async def _claim(
    session: AsyncSession,
    grant_id: int,
    side: ColumnElement[bool],
    statuses: Collection[GrantStatus],
    **values: Any,
) -> AgencyGrant:
    """Change the grant seen from ``side`` if its status is one of ``statuses``; one
    conditional statement, so of two decisions at once the second sees the first."""
    grant = await _update(
        session, (AgencyGrant.id == grant_id) & side & AgencyGrant.status.in_(statuses), **values
    )
    if grant is not None:
        return grant
    status = await session.scalar(
        select(AgencyGrant.status).where(AgencyGrant.id == grant_id, side)
    )
    if status is None:
        raise NotFound("Agency grant not found")
    raise conflict("R11", f"the agency grant is {status.lower()}")


async def _update(
    session: AsyncSession, where: ColumnElement[bool], **values: Any
) -> AgencyGrant | None:
    grant: AgencyGrant | None = await session.scalar(
        update(AgencyGrant)
        .where(where)
        .values(**values)
        .returning(AgencyGrant)
        .execution_options(synchronize_session=False)
    )
    return grant


async def _check_staff(session: AsyncSession, org_id: int, user_ids: frozenset[int]) -> None:
    """R11: only the agency's own active agency users work for its clients."""
    if not user_ids:
        return
    found = await session.scalars(
        select(Membership.user_id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(
            Membership.organization_id == org_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.user_id.in_(user_ids),
            MembershipRole.role == RoleCode.AGENCY_USER,
        )
    )
    outsiders = user_ids - set(found)
    if outsiders:
        raise violation(
            "R11",
            f"users {', '.join(map(str, sorted(outsiders)))} are not active agency users "
            "of this agency",
        )


async def _notify(
    session: AsyncSession,
    organization: Organization,
    roles: frozenset[RoleCode],
    subject: str,
    body: str,
) -> None:
    """An AGENCY_NOTICE email to each active member of ``organization`` holding ``roles``."""
    emails = await session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(
            Membership.organization_id == organization.id,
            Membership.status == MembershipStatus.ACTIVE,
            MembershipRole.role.in_(roles),
            User.status != UserStatus.DEACTIVATED,
        )
        .distinct()
        .order_by(User.email)
    )
    for email in list(emails):
        await outbox.enqueue(
            session,
            kind=outbox.OutboxKind.AGENCY_NOTICE,
            channel=outbox.Channel.EMAIL,
            recipient=email,
            subject=subject,
            body=body,
            organization_id=organization.id,
        )
