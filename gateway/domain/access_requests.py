"""Access requests (R3): a registered user asks to join an organization; an admin decides.

A request is a membership with status ``REQUESTED``; approving makes it ``ACTIVE`` with the
access the approver gives, denying makes it ``DENIED``. Someone denied or removed may ask again
(the same row goes back to ``REQUESTED``: one membership per user and organization).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog import Employment, MembershipStatus, OrganizationStatus
from gateway.domain.members import MemberAccess, check_grant, lock_organization, write_access
from gateway.domain.rules import conflict, violation
from gateway.errors import BadUserInput, NotFound
from gateway.models import Membership, Organization, TaxId, utcnow

# R3: one answer for an unknown provider ID, a wrong TIN or both, so a guess learns nothing.
NO_MATCH = "no active organization matches this provider ID and tax ID"
# A DENIED or REMOVED membership may ask again; these may not.
UNDECIDED_OR_MEMBER = {
    MembershipStatus.REQUESTED: "you already asked for access to this organization",
    MembershipStatus.ACTIVE: "you are already a member of this organization",
}


def normalize_tin(tin: str) -> str:
    """A TIN as stored: nine digits (``12-3456789`` is accepted)."""
    digits = tin.replace("-", "").replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and len(digits) == 9):
        raise BadUserInput("A tax ID (TIN) has nine digits", argument="tin")
    return digits


async def request_access(
    session: AsyncSession, *, user_id: int, provider_id: str, tin: str, employment: Employment
) -> Membership:
    """R3: ask to join the organization whose provider ID and one of whose TINs match."""
    org_id = await matching_organization(session, provider_id, tin, OrganizationStatus.ACTIVE)
    if org_id is None:
        raise violation("R3", NO_MATCH, kind=NotFound)
    await lock_organization(session, org_id)  # two requests at once: one row, one answer
    member = await session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organization_id == org_id
        )
    )
    if member is None:
        member = Membership(user_id=user_id, organization_id=org_id)
        session.add(member)
    elif member.status in UNDECIDED_OR_MEMBER:
        raise conflict("R3", UNDECIDED_OR_MEMBER[MembershipStatus(member.status)])
    _reopen(member, employment)
    await session.flush()
    return member


async def approve(
    session: AsyncSession,
    *,
    actor_id: int,
    actor_roles: frozenset[str],
    org_id: int,
    request_id: int,
    access: MemberAccess,
) -> Membership:
    """R3: grant the requester the given access; an omitted part of it is none."""
    organization = await lock_organization(session, org_id)
    request = await _undecided(session, org_id, request_id)
    if not access.roles:
        raise violation("R3", "approve a request with at least one role")
    employment = Employment(request.employment) if access.employment is None else access.employment
    # R4, R5, R6, R11: the rules of any change of access; the requester holds nothing yet.
    check_grant(actor_roles, organization, frozenset(), access.roles, employment)
    granted = MemberAccess(
        roles=access.roles,
        etools=access.etools or frozenset(),
        provider_ids=access.provider_ids or frozenset(),
        employment=employment,
    )
    await write_access(session, organization, request, granted)  # R9, V4
    request.status = MembershipStatus.ACTIVE
    request.approved_by_id = actor_id
    request.approved_at = utcnow()
    await session.flush()
    return request


async def deny(session: AsyncSession, *, org_id: int, request_id: int) -> Membership:
    """R3: refuse the request; the requester may ask again."""
    await lock_organization(session, org_id)
    request = await _undecided(session, org_id, request_id)
    request.status = MembershipStatus.DENIED
    await session.flush()
    return request


async def matching_organization(
    session: AsyncSession, provider_id: str, tin: str, status: OrganizationStatus
) -> int | None:
    """The organization in ``status`` with this provider ID and one of its TINs (R1, R3):
    both parts in one statement, so no path differs by which part was wrong."""
    org_id: int | None = await session.scalar(
        select(Organization.id)
        .join(TaxId, TaxId.organization_id == Organization.id)
        .where(
            Organization.provider_id == provider_id.strip(),
            Organization.status == status,
            TaxId.tin == normalize_tin(tin),
        )
    )
    return org_id


def _reopen(member: Membership, employment: Employment) -> None:
    """A fresh request: nothing of an earlier decision or removal applies to it."""
    member.status = MembershipStatus.REQUESTED
    member.employment = employment
    member.approved_by_id = None
    member.approved_at = None
    member.removed_at = None


async def _undecided(session: AsyncSession, org_id: int, request_id: int) -> Membership:
    """The request, read after the organization's lock so a concurrent decision is seen."""
    request = await session.get(Membership, request_id)
    if request is None or request.organization_id != org_id:
        raise NotFound("Access request not found")
    if request.status != MembershipStatus.REQUESTED:
        raise conflict("R3", "this request was already decided")
    return request
