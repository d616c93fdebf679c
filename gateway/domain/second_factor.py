"""The second factor (R14): enrolment, the code at sign-in, and the help desk's reset.

A user enrols by asking for a secret (``begin_enrollment``) and proving their authenticator app
holds it with one code (``confirm``); until then the secret is pending and sign-in ignores it.
Once enabled, every sign-in needs a code (``check_code`` before the write transaction,
``use_step`` inside it). Each accepted code stores its time step in one conditional statement,
so a code works once even when two sign-ins present it at the same instant. An enabled factor is
never replaced by its holder: a lost phone is reset by the help desk (``reset``), whose reset
also revokes every token, so sessions opened with the lost device end.

Who must enrol is ``settings.totp_required_roles``; the restricted session of those who have not
yet is computed per request in ``gateway.auth.tokens`` (and reported at sign-in by ``must_enroll``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AccountEvent
from gateway.audit import events as events
from gateway.auth import second_factor as totp
from gateway.auth import second_factor_missing
from gateway.domain.credentials import Account
from gateway.domain.rules import conflict
from gateway.errors import BadUserInput, GatewayError, NotFound
from gateway.models import User
from gateway.settings import Settings

ALREADY_ENABLED = "a second factor is already enabled; the help desk can reset it (lost device)"
NOTHING_PENDING = "no second-factor enrolment is pending: begin one first"
WRONG_CODE = "the code does not match the new secret: check the authenticator app's clock"
CODE_REQUIRED = (
    "R14: this account signs in with a second factor: send the code of its authenticator app "
    "as totpCode"
)


class CodeCheck(Enum):
    """What a sign-in's code says, judged before the write transaction."""

    NOT_ENABLED = "not enabled"  # no second factor: the password is enough
    MISSING = "missing"
    WRONG = "wrong"
    MATCHED = "matched"


@dataclass(frozen=True, slots=True)
class SignInCode:
    check: CodeCheck
    step: int | None = None  # MATCHED: the time step of the code
    secret: str | None = field(default=None, repr=False)  # the stored secret it matched


NO_SECOND_FACTOR = SignInCode(CodeCheck.NOT_ENABLED)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A new secret, shown to its owner this once."""

    secret: str = field(repr=False)
    provisioning_uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class FactorChange:
    """What an enrolment step did (logged), and the error to answer with if it was refused."""

    event: AccountEvent
    enrollment: Enrollment | None = None
    refusal: GatewayError | None = None


async def begin_enrollment(
    session: AsyncSession, *, user_id: int, settings: Settings
) -> FactorChange:
    """A new secret for the user, replacing a pending one; refused once a factor is enabled."""
    secret = totp.new_secret()
    username = await session.scalar(
        update(User)
        .where(User.id == user_id, User.totp_enabled_at.is_(None))
        .values(totp_secret=totp.encrypt(secret, settings), totp_last_step=None)
        .returning(User.username)
        .execution_options(synchronize_session=False)
    )
    if username is None:
        return FactorChange(events.ENROLMENT_REFUSED, refusal=conflict("R14", ALREADY_ENABLED))
    uri = totp.provisioning_uri(secret, username, settings)
    return FactorChange(events.ENROLMENT_BEGUN, Enrollment(secret, uri))


async def confirm(
    session: AsyncSession, *, user_id: int, code: str, settings: Settings, now: datetime
) -> FactorChange:
    """Enable the pending secret if ``code`` is one of its current codes."""
    stored, enabled_at = (
        await session.execute(
            select(User.totp_secret, User.totp_enabled_at).where(User.id == user_id)
        )
    ).one()
    if enabled_at is not None or stored is None:
        problem = ALREADY_ENABLED if enabled_at is not None else NOTHING_PENDING
        return FactorChange(events.CONFIRMATION_REFUSED, refusal=conflict("R14", problem))
    secret = totp.decrypt(stored, settings)
    step = None if secret is None else totp.matching_step(secret, code, now)
    if step is None:
        wrong = BadUserInput(f"R14: {WRONG_CODE}", rule="R14", argument="code")
        return FactorChange(events.CONFIRMATION_REFUSED, refusal=wrong)
    enabled = await session.scalar(
        update(User)
        .where(User.id == user_id, User.totp_secret == stored, User.totp_enabled_at.is_(None))
        .values(totp_enabled_at=now, totp_last_step=step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if enabled is None:  # begun again or confirmed by a concurrent request
        return FactorChange(events.CONFIRMATION_REFUSED, refusal=conflict("R14", NOTHING_PENDING))
    return FactorChange(events.SECOND_FACTOR_CONFIRMED)


def check_code(
    account: Account | None, code: str | None, settings: Settings, now: datetime
) -> SignInCode:
    """Judge a sign-in's code against the account's enabled secret (cheap: no argon2)."""
    if account is None or not account.totp_enabled or account.totp_secret is None:
        return NO_SECOND_FACTOR
    if not code:
        return SignInCode(CodeCheck.MISSING)
    secret = totp.decrypt(account.totp_secret, settings)
    step = None if secret is None else totp.matching_step(secret, code, now)
    if step is None:
        return SignInCode(CodeCheck.WRONG)
    return SignInCode(CodeCheck.MATCHED, step, account.totp_secret)


async def use_step(session: AsyncSession, user_id: int, code: SignInCode) -> bool:
    """Accept a matched code once: its step must be later than the last one accepted, checked
    and stored in one statement so two requests with the same code cannot both win."""
    assert code.step is not None
    used = await session.scalar(
        update(User)
        .where(
            User.id == user_id,
            User.totp_enabled_at.is_not(None),
            User.totp_secret == code.secret,  # not reset (or re-enrolled) since it was read
            or_(User.totp_last_step.is_(None), User.totp_last_step < code.step),
        )
        .values(totp_last_step=code.step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return used is not None


async def must_enroll(session: AsyncSession, user: User, settings: Settings) -> bool:
    """R14: whether a new session of ``user`` is restricted to enrolling a second factor."""
    roles = settings.totp_required_roles
    if not roles or user.totp_enabled_at is not None:
        return False
    missing = await session.scalar(
        select(second_factor_missing(User.id, roles)).where(User.id == user.id)
    )
    return bool(missing)


async def reset(session: AsyncSession, *, user_id: int) -> None:
    """The help desk clears a user's second factor (a lost device) and revokes their tokens.

    Only the help desk may (authz/policy.csv): an organization's admin who could reset a
    colleague's factor could take over that account with its password alone."""
    cleared = await session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(
            totp_secret=None,
            totp_enabled_at=None,
            totp_last_step=None,
            token_version=User.token_version + 1,
        )
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if cleared is None:
        raise NotFound("User not found")
