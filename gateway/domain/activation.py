"""Master-account activation (R1, seed 004): who holds a pending organization, and activating it.

An organization the health plan enrolled starts ``PENDING_ACTIVATION``. The first person to
register for it (with its provider ID and one of its TINs) becomes its master account holder:
an ``ACCOUNT_ADMIN`` membership that grants nothing while the organization is pending (roles
count only in ACTIVE organizations, gateway.auth.tokens), and a code goes to the organization's
correspondence address (gateway.domain.activation_codes). Entering it exactly as printed
activates the organization and, for someone who registered for it, their account. An expired
or spent code is replaced on the holder's request; the help desk re-issues one at any time, and
releases an organization from a holder who should not be it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog import Employment, MembershipStatus, OrganizationStatus, RoleCode, UserStatus
from gateway.domain.access_requests import matching_organization
from gateway.domain.activation_codes import (
    NewCode,
    OpenCode,
    issue,
    open_code_of,
    supersede,
    usable,
    use,
)
from gateway.domain.members import lock_organization
from gateway.domain.rules import conflict, violation
from gateway.errors import NotFound
from gateway.models import (
    ActivationCode,
    Membership,
    MembershipRole,
    Organization,
    User,
)
from gateway.settings import Settings

# R1 like R3: one answer for an unknown provider ID, a wrong TIN, or an organization that is
# not awaiting its master account, so a guess learns nothing.
NO_MATCH = "no organization awaiting activation matches this provider ID and tax ID"
HAS_HOLDER = (
    "this organization already has a master account holder awaiting the activation letter; "
    "if that is not you, ask the health plan's help desk"
)
NO_ADDRESS = (
    "the organization has no correspondence address on file for the activation letter: "
    "have the health plan correct it first"
)


async def claim_master_account(
    session: AsyncSession,
    *,
    user_id: int,
    provider_id: str,
    tin: str,
    code: NewCode,
    settings: Settings,
    now: datetime,
) -> ActivationCode:
    """R1: make ``user_id`` the master account holder of the pending organization whose
    provider ID and TIN match, and mail them a code."""
    pending = OrganizationStatus.PENDING_ACTIVATION
    org_id = await matching_organization(session, provider_id, tin, pending)
    if org_id is None:
        raise violation("R1", NO_MATCH, kind=NotFound)
    organization = await lock_organization(session, org_id)  # two first users: one wins
    if await _holder(session, org_id) is not None:
        raise conflict("R1", HAS_HOLDER)
    if await open_code_of(session, user_id) is not None:
        raise conflict(
            "R1", "activate the organization you are already the pending holder of first"
        )
    if not organization.address_line1:
        raise conflict("R1", NO_ADDRESS)
    await _make_holder(session, org_id, user_id, now)
    return await issue(session, organization, user_id, code, settings, now, issued_by=None)


async def reissue(
    session: AsyncSession,
    *,
    org_id: int,
    actor_id: int,
    code: NewCode,
    settings: Settings,
    now: datetime,
) -> ActivationCode:
    """R1, R13: the help desk sends the holder a new code (the earlier one stops working)."""
    organization, holder = await _pending_holder(session, org_id)
    return await issue(session, organization, holder, code, settings, now, issued_by=actor_id)


async def release(session: AsyncSession, *, org_id: int, now: datetime) -> int:
    """R1: the help desk frees a pending organization from its holder (someone who should not
    be it, or who left before activating); the next first user registers anew. The released
    holder's id: their membership is removed, their code stops, and an account registered
    only for this (still awaiting activation) is deactivated."""
    _, holder = await _pending_holder(session, org_id)
    membership_id = await session.scalar(
        update(Membership)
        .where(Membership.organization_id == org_id, Membership.user_id == holder)
        .values(status=MembershipStatus.REMOVED, removed_at=now)
        .returning(Membership.id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(MembershipRole).where(MembershipRole.membership_id == membership_id)
    )
    await supersede(session, org_id, now)
    await session.execute(
        update(User)
        .where(User.id == holder, User.status == UserStatus.PENDING_ACTIVATION)
        .values(status=UserStatus.DEACTIVATED, token_version=User.token_version + 1)
        .execution_options(synchronize_session=False)
    )
    return holder


async def renew_if_due(
    session: AsyncSession, *, user_id: int, code: NewCode, settings: Settings, now: datetime
) -> ActivationCode | None:
    """R1: a new code for the holder once theirs has expired or is spent; None if no
    activation is pending or the code still works (nothing is mailed)."""
    current = await open_code_of(session, user_id)
    if current is None or usable(current, settings, now):
        return None
    organization = await lock_organization(session, current.organization_id)
    current = await open_code_of(session, user_id)  # again, under the lock
    if current is None or usable(current, settings, now):
        return None
    return await issue(session, organization, user_id, code, settings, now, issued_by=None)


async def activate(
    session: AsyncSession, *, open_code: OpenCode, user_id: int, now: datetime
) -> User | None:
    """Use the code (once: a conditional update) and activate the organization and the
    holder's account. None if the code was used or superseded since it was checked."""
    if not await use(session, open_code, now):
        return None
    await session.execute(
        update(Organization)
        .where(
            Organization.id == open_code.organization_id,
            Organization.status == OrganizationStatus.PENDING_ACTIVATION,
        )
        .values(status=OrganizationStatus.ACTIVE)
        .execution_options(synchronize_session=False)
    )
    # The holder signs in by activating: their account is ACTIVE from now on.
    pending = User.status == UserStatus.PENDING_ACTIVATION
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            status=case((pending, UserStatus.ACTIVE.value), else_=User.status),
            failed_logins=0,
            last_login_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return await session.get(User, user_id, populate_existing=True)


async def _pending_holder(session: AsyncSession, org_id: int) -> tuple[Organization, int]:
    """The organization, locked, and its holder; CONFLICT unless it awaits activation and
    someone registered as its master account holder."""
    organization = await lock_organization(session, org_id)
    if organization.status != OrganizationStatus.PENDING_ACTIVATION:
        raise conflict("R1", "the organization is not awaiting activation")
    holder = await _holder(session, org_id)
    if holder is None:
        raise conflict("R1", "nobody has registered as this organization's master account holder")
    return organization, holder


async def _holder(session: AsyncSession, org_id: int) -> int | None:
    """The organization's master account holder (an ACTIVE admin membership), if any."""
    user_id: int | None = await session.scalar(
        select(Membership.user_id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(
            Membership.organization_id == org_id,
            Membership.status == MembershipStatus.ACTIVE,
            MembershipRole.role == RoleCode.ACCOUNT_ADMIN,
        )
        .order_by(Membership.id)
        .limit(1)
    )
    return user_id


async def _make_holder(session: AsyncSession, org_id: int, user_id: int, now: datetime) -> None:
    membership = await session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organization_id == org_id
        )
    )
    if membership is None:
        membership = Membership(user_id=user_id, organization_id=org_id, created_at=now)
        session.add(membership)
    else:  # from before the organization went back to pending: nothing of it carries over
        await session.execute(
            delete(MembershipRole).where(MembershipRole.membership_id == membership.id)
        )
    membership.status = MembershipStatus.ACTIVE
    membership.employment = Employment.EMPLOYEE  # R4: an admin is an employee
    membership.approved_by_id = None
    membership.approved_at = now
    membership.removed_at = None
    await session.flush()
    session.add(MembershipRole(membership_id=membership.id, role=RoleCode.ACCOUNT_ADMIN))
    await session.flush()
