"""Activation codes (R1): made, mailed, stored hashed, and checked.

A code is twelve characters from an alphabet without look-alikes, printed in a letter to the
organization's correspondence address (an outbox LETTER: never email, never on screen); only
its argon2 hash is stored. It works once, for ``activation_code_ttl_days``; each check first
claims one of its ``activation_max_attempts`` (a conditional update), so attempts sent at once
cannot test more codes than allowed. A new code supersedes the organization's earlier one.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import outbox
from gateway.audit import AccountEvent
from gateway.audit import events as events
from gateway.auth import hash_password, verify_password
from gateway.catalog import OrganizationStatus
from gateway.domain.portal_links import ACTIVATE, portal_link
from gateway.errors import BadUserInput, GatewayError
from gateway.models import ActivationCode, Organization, User
from gateway.settings import Settings

# Typed from a printed letter: no 0/O or 1/I to confuse.
# Typed from a printed letter: no 0/O or 1/I to confuse.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
NO_PENDING = "no activation is pending for this account"
EXPIRED = (
    "the activation code has expired: ask for a new letter (requestActivationCode) or call the "
    "help desk"
)
SPENT = "too many wrong codes: ask for a new letter (requestActivationCode)"
MISMATCH = "the code does not match; enter it exactly as printed"


# A code neither used nor replaced by a newer one.
STILL_OPEN = and_(ActivationCode.used_at.is_(None), ActivationCode.superseded_at.is_(None))


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
                STILL_OPEN,
                Organization.status == OrganizationStatus.PENDING_ACTIVATION,
            )
            .order_by(ActivationCode.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else OpenCode(*row)


async def claim_attempt(
    session: AsyncSession, open_code: OpenCode, settings: Settings, now: datetime
) -> bool:
    """Take one of the code's attempts before it is checked; False if none is left, or it
    expired, was used or was superseded meanwhile."""
    claimed = await session.scalar(
        update(ActivationCode)
        .where(
            ActivationCode.id == open_code.id,
            STILL_OPEN,
            ActivationCode.expires_at > now,
            ActivationCode.failed_attempts < settings.activation_max_attempts,
        )
        .values(failed_attempts=ActivationCode.failed_attempts + 1)
        .returning(ActivationCode.id)
        .execution_options(synchronize_session=False)
    )
    return claimed is not None


async def issue(
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
    await supersede(session, organization.id, now)
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


async def use(session: AsyncSession, open_code: OpenCode, now: datetime) -> bool:
    """Use the code, once (a conditional update); False if it was used or superseded since
    it was checked."""
    used = await session.scalar(
        update(ActivationCode)
        .where(ActivationCode.id == open_code.id, STILL_OPEN)
        .values(used_at=now)
        .returning(ActivationCode.id)
        .execution_options(synchronize_session=False)
    )
    return used is not None


async def supersede(session: AsyncSession, org_id: int, now: datetime) -> None:
    await session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.organization_id == org_id,
            STILL_OPEN,
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
    page = portal_link(settings, ACTIVATE)
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
            f"{page} by {expires:%B %d, %Y}. It works once. If it expires, "
            "ask for a new one on the same page or from the help desk.\n\nIf nobody at your "
            "office registered, tell the help desk: nobody can use the account without this "
            "letter, and the help desk can release the organization for its rightful holder.\n"
        ),
        organization_id=organization.id,
    )
