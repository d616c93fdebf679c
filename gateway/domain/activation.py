"""Master-account activation (R1, seed 004).

An organization the health plan enrolled starts ``PENDING_ACTIVATION``. The first person to
register for it (with its provider ID and one of its TINs) becomes its master account holder:
an ``ACCOUNT_ADMIN`` membership that grants nothing while the organization is pending (roles
count only in ACTIVE organizations, gateway.identity). An authentication code goes by letter
to the organization's correspondence address, never by email or on screen; only its argon2 hash
is stored. Entering it exactly as printed, within ``activation_code_ttl_days``, activates the
organization and, for someone who registered for it, their account. A code is used once; after
``activation_max_attempts`` wrong codes it is spent; an expired or spent code is replaced on the
holder's request, and the help desk may re-issue one at any time. A new code supersedes the old.

Each attempt claims one of the code's attempts *before* the code is checked (argon2 runs outside
the transaction), so attempts sent at once cannot test more codes than allowed.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway import account_events as events
from gateway import outbox
from gateway.account_events import AccountEvent
from gateway.catalog import Employment, MembershipStatus, OrganizationStatus, RoleCode, UserStatus
from gateway.domain.access_requests import normalize_tin
from gateway.domain.members import lock_organization
from gateway.domain.rules import conflict, violation
from gateway.errors import BadUserInput, GatewayError, NotFound
from gateway.models import (
    ActivationCode,
    Membership,
    MembershipRole,
    Organization,
    TaxId,
    User,
)
from gateway.passwords import hash_password, verify_password
from gateway.settings import Settings

# Typed from a printed letter: no 0/O or 1/I to confuse.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# R1 like R3: one answer for an unknown provider ID, a wrong TIN, or an organization that is
# not awaiting its master account, so a guess learns nothing.
NO_MATCH = "no organization awaiting activation matches this provider ID and tax ID"
HAS_HOLDER = (
    "this organization already has a master account holder awaiting the activation letter; "
    "if that is not you, ask the health plan's help desk"
)
NO_PENDING = "no activation is pending for this account"
EXPIRED = (
    "the activation code has expired: ask for a new letter (requestActivationCode) or call the "
    "help desk"
)
SPENT = "too many wrong codes: ask for a new letter (requestActivationCode)"
MISMATCH = "the code does not match; enter it exactly as printed"
NO_ADDRESS = (
    "the organization has no correspondence address on file for the activation letter: "
    "have the health plan correct it first"
)


@dataclass(frozen=True, slots=True)
class NewCode:
    """A fresh code and its hash, made before the transaction (argon2 is slow on purpose)."""

    code: str = field(repr=False)
    code_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OpenCode:
    """A holder's current code, read before the transaction."""

    id: int
    organization_id: int
    code_hash: str
    expires_at: datetime
    failed_attempts: int


@dataclass(frozen=True, slots=True)
class CodeAttempt:
    """An activation's code, judged before the write transaction (argon2 is slow)."""

    open_code: OpenCode | None  # the holder's current code, if an activation is pending
    claimed: bool = False  # one of the code's attempts was taken for this one
    matched: bool = False

    def refusal(self, max_attempts: int, now: datetime) -> tuple[AccountEvent, GatewayError] | None:
        """Why the code cannot activate; the caller proved their password, so they may know."""
        code = self.open_code
        if code is None:
            return events.ACTIVATION_NOT_PENDING, _bad(NO_PENDING, "NO_ACTIVATION_PENDING")
        if code.expires_at <= now:
            return events.ACTIVATION_CODE_EXPIRED, _bad(EXPIRED, "CODE_EXPIRED")
        if not self.claimed:
            return events.ACTIVATION_CODE_SPENT, _bad(SPENT, "CODE_SPENT")
        if not self.matched:
            left = max(0, max_attempts - code.failed_attempts - 1)
            error = _bad(f"{MISMATCH} ({left} attempt(s) left)", "CODE_MISMATCH", attemptsLeft=left)
            return events.ACTIVATION_CODE_MISMATCH, error
        return None


def _bad(message: str, reason: str, **more: object) -> GatewayError:
    return BadUserInput(f"R1: {message}", rule="R1", reason=reason, **more)


async def prepare_code() -> NewCode:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return NewCode(code, await asyncio.to_thread(hash_password, code))


async def code_matches(open_code: OpenCode | None, code: str) -> bool:
    """R1: an exact match (no trimming, no case folding), always one argon2 verification."""
    stored = None if open_code is None else open_code.code_hash
    return await asyncio.to_thread(verify_password, stored, code)


def usable(open_code: OpenCode, settings: Settings, now: datetime) -> bool:
    return (
        open_code.expires_at > now and open_code.failed_attempts < settings.activation_max_attempts
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
    org_id = await _pending_organization(session, provider_id.strip(), normalize_tin(tin))
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
    return await _issue(session, organization, user_id, code, settings, now, issued_by=None)


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
    organization = await lock_organization(session, org_id)
    if organization.status != OrganizationStatus.PENDING_ACTIVATION:
        raise conflict("R1", "the organization is not awaiting activation")
    holder = await _holder(session, org_id)
    if holder is None:
        raise conflict("R1", "nobody has registered as this organization's master account holder")
    return await _issue(session, organization, holder, code, settings, now, issued_by=actor_id)


async def release(session: AsyncSession, *, org_id: int, now: datetime) -> int:
    """R1: the help desk frees a pending organization from its holder (someone who should not
    be it, or who left before activating); the next first user registers anew. The released
    holder's id: their membership is removed, their code stops, and an account registered
    only for this is deactivated."""
    organization = await lock_organization(session, org_id)
    if organization.status != OrganizationStatus.PENDING_ACTIVATION:
        raise conflict("R1", "the organization is not awaiting activation")
    holder = await _holder(session, org_id)
    if holder is None:
        raise conflict("R1", "nobody has registered as this organization's master account holder")
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
    await _supersede(session, org_id, now)
    await session.execute(
        update(User)
        .where(User.id == holder, _registered_for_it_only())
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
    return await _issue(session, organization, user_id, code, settings, now, issued_by=None)


async def open_code_of(session: AsyncSession, user_id: int) -> OpenCode | None:
    """The holder's current code for an organization still pending, if any."""
    row = (
        await session.execute(
            select(
                ActivationCode.id,
                ActivationCode.organization_id,
                ActivationCode.code_hash,
                ActivationCode.expires_at,
                ActivationCode.failed_attempts,
            )
            .join(Organization, Organization.id == ActivationCode.organization_id)
            .where(
                ActivationCode.user_id == user_id,
                ActivationCode.used_at.is_(None),
                ActivationCode.superseded_at.is_(None),
                Organization.status == OrganizationStatus.PENDING_ACTIVATION,
            )
            .order_by(ActivationCode.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else OpenCode(*row)


def awaiting_activation(user_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Whether the user registered as a master account holder and has not activated yet:
    never signed in, and holding a code of an organization still pending (unlocking such an
    account gives it back its PENDING_ACTIVATION status, not ACTIVE)."""
    return and_(
        User.last_login_at.is_(None),
        exists().where(
            ActivationCode.user_id == user_id,
            ActivationCode.used_at.is_(None),
            Organization.id == ActivationCode.organization_id,
            Organization.status == OrganizationStatus.PENDING_ACTIVATION,
        ),
    )


async def claim_attempt(
    session: AsyncSession, open_code: OpenCode, settings: Settings, now: datetime
) -> bool:
    """Take one of the code's attempts before it is checked; False if none is left, or it
    expired, was used or was superseded meanwhile."""
    claimed = await session.scalar(
        update(ActivationCode)
        .where(
            ActivationCode.id == open_code.id,
            ActivationCode.used_at.is_(None),
            ActivationCode.superseded_at.is_(None),
            ActivationCode.expires_at > now,
            ActivationCode.failed_attempts < settings.activation_max_attempts,
        )
        .values(failed_attempts=ActivationCode.failed_attempts + 1)
        .returning(ActivationCode.id)
        .execution_options(synchronize_session=False)
    )
    return claimed is not None


async def activate(
    session: AsyncSession, *, open_code: OpenCode, user_id: int, now: datetime
) -> User | None:
    """Use the code (once: a conditional update) and activate the organization and the
    holder's account. None if the code was used or superseded since it was checked."""
    used = await session.scalar(
        update(ActivationCode)
        .where(
            ActivationCode.id == open_code.id,
            ActivationCode.used_at.is_(None),
            ActivationCode.superseded_at.is_(None),
        )
        .values(used_at=now)
        .returning(ActivationCode.id)
        .execution_options(synchronize_session=False)
    )
    if used is None:
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


async def _pending_organization(session: AsyncSession, provider_id: str, tin: str) -> int | None:
    """Both parts in one statement, so no path differs by which part was wrong."""
    org_id: int | None = await session.scalar(
        select(Organization.id)
        .join(TaxId, TaxId.organization_id == Organization.id)
        .where(
            Organization.provider_id == provider_id,
            Organization.status == OrganizationStatus.PENDING_ACTIVATION,
            TaxId.tin == tin,
        )
    )
    return org_id


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


async def _issue(
    session: AsyncSession,
    organization: Organization,
    user_id: int,
    code: NewCode,
    settings: Settings,
    now: datetime,
    *,
    issued_by: int | None,
) -> ActivationCode:
    """Supersede the organization's earlier code and mail the new one (R1)."""
    await _supersede(session, organization.id, now)
    issued = ActivationCode(
        organization_id=organization.id,
        user_id=user_id,
        code_hash=code.code_hash,
        issued_at=now,
        expires_at=now + timedelta(days=settings.activation_code_ttl_days),
        issued_by_id=issued_by,
        failed_attempts=0,
    )
    session.add(issued)
    await session.flush()
    holder = await session.get(User, user_id)
    assert holder is not None  # the holder's membership was just read or written
    await _mail_letter(session, organization, holder, code.code, issued.expires_at, settings)
    return issued


def _registered_for_it_only() -> ColumnElement[bool]:
    """A holder who registered as such and never signed in (awaiting activation, or locked
    while awaiting it); someone already registered keeps their account."""
    never_signed_in = and_(User.status == UserStatus.LOCKED, User.last_login_at.is_(None))
    return or_(User.status == UserStatus.PENDING_ACTIVATION, never_signed_in)


async def _supersede(session: AsyncSession, org_id: int, now: datetime) -> None:
    await session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.organization_id == org_id,
            ActivationCode.used_at.is_(None),
            ActivationCode.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


async def _mail_letter(
    session: AsyncSession,
    organization: Organization,
    holder: User,
    code: str,
    expires: datetime,
    settings: Settings,
) -> None:
    """R1 (seed 004): by post to the correspondence address, never by email."""
    address = [
        organization.name,
        "Attn: master account holder",
        organization.address_line1 or "",
        organization.address_line2 or "",
        f"{organization.address_city or ''}, {organization.address_state or ''} "
        f"{organization.address_zip or ''}".strip(),
    ]
    await outbox.enqueue(
        session,
        kind=outbox.OutboxKind.ACTIVATION_LETTER,
        channel=outbox.Channel.LETTER,
        recipient="\n".join(line for line in address if line),
        subject="Your provider portal authentication code",
        body=(
            # Nothing the registrant typed but their username (letters, digits, . _ -): an
            # official letter must not carry text a stranger chose.
            f"Someone registered as the master account holder of {organization.name} "
            f"(provider ID {organization.provider_id}) on the provider portal, with the "
            f"username {holder.username}.\n\nThe authentication code:\n\n"
            f"    {code}\n\nEnter it exactly as shown, with your username and password, at "
            f"{settings.activation_url} by {expires:%B %d, %Y}. It works once. If it expires, "
            "ask for a new one on the same page or from the help desk.\n\nIf nobody at your "
            "office registered, tell the help desk: nobody can use the account without this "
            "letter, and the help desk can release the organization for its rightful holder.\n"
        ),
        organization_id=organization.id,
    )
