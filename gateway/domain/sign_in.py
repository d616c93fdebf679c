"""Signing in (R14): one answer for an unknown user and a wrong password, lockout after
``max_failed_logins`` failures, a restricted session once the password has expired, and the
code of an enabled second factor (``gateway.domain.second_factor``).

``attempt`` runs before the write transaction (it reads the user and verifies the password in a
worker thread); ``conclude`` runs inside it and returns what happened instead of raising, so a
failed attempt's count and lockout commit with the request's access-log entries and only then
is the caller refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AccountEvent
from gateway.audit import events as events
from gateway.auth import hash_password, needs_rehash
from gateway.catalog import UserStatus
from gateway.domain import activation, second_factor
from gateway.domain.activation_codes import CodeAttempt
from gateway.domain.credentials import (
    Account,
    current_status,
    lock_if_exhausted,
    password_matches,
    reset_failures,
)
from gateway.domain.rules import conflict
from gateway.domain.second_factor import CODE_REQUIRED, NO_SECOND_FACTOR, CodeCheck, SignInCode
from gateway.domain.sessions import IssuedSession, open_session
from gateway.errors import GatewayError, Unauthenticated
from gateway.models import User
from gateway.settings import Settings

# R14: the same words whether the username is unknown or the password wrong.
SIGN_IN_FAILED = "Sign-in failed: unknown username or wrong password"
ACCOUNT_LOCKED = (
    "R14: this account is locked after too many failed sign-ins; your administrator or the "
    "help desk can unlock it"
)

# Who may get past the password check (a locked account only learns it is locked).
SIGNING_IN = (UserStatus.ACTIVE, UserStatus.LOCKED, UserStatus.PENDING_ACTIVATION)
NOT_ACTIVATED = (
    "R1: this account awaits activation: enter the authentication code mailed to your "
    "organization's correspondence address (activateAccount)"
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt after the password check, before anything is written."""

    account: Account | None
    verified: bool
    new_hash: str | None = None  # the password rehashed with today's argon2 parameters
    claimed: bool = True  # False: the account had no attempt left (see claim_attempt)
    code: SignInCode = NO_SECOND_FACTOR  # R14: the second factor's code, judged
    activation: CodeAttempt | None = None  # R1: signing in by activating, with this code


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    user: User | None  # the signed-in user
    user_id: int | None  # whom the attempt was about, if anyone (for the log)
    events: tuple[AccountEvent, ...]
    issued: IssuedSession | None
    error: GatewayError | None = None  # why, when it is not the usual sign-in answer
    organization_id: int | None = None  # R1: the organization an activation was about

    def refusal(self) -> GatewayError:
        """The error a failed attempt answers with."""
        if self.error is not None:
            return self.error
        if events.SIGN_IN_LOCKED in self.events:
            return Unauthenticated(ACCOUNT_LOCKED, rule="R14", reason="ACCOUNT_LOCKED")
        if events.SECOND_FACTOR_REQUIRED in self.events:
            return Unauthenticated(CODE_REQUIRED, rule="R14", reason="SECOND_FACTOR_REQUIRED")
        if events.SIGN_IN_NOT_ACTIVATED in self.events:
            return Unauthenticated(NOT_ACTIVATED, rule="R1", reason="ACTIVATION_REQUIRED")
        return Unauthenticated(SIGN_IN_FAILED, reason="SIGN_IN_FAILED")


async def attempt(account: Account | None, password: str) -> Attempt:
    """Verify ``password`` (every path costs one argon2 verification)."""
    verified = await password_matches(account, password)
    stored = account.password_hash if account is not None else None
    if verified and stored is not None and needs_rehash(stored):
        return Attempt(account, verified, await asyncio.to_thread(hash_password, password))
    return Attempt(account, verified)


async def conclude(
    session: AsyncSession, attempt: Attempt, settings: Settings, now: datetime
) -> SignInOutcome:
    """Count a failure (maybe locking the account) or open a session."""
    account = attempt.account
    if account is None or account.status not in SIGNING_IN:
        user_id = None if account is None else account.id
        return SignInOutcome(None, user_id, (events.SIGN_IN_FAILED,), None)
    if account.status is UserStatus.LOCKED or not attempt.claimed:
        # No attempt was left: whatever the password, the answer is "locked" (R14).
        await lock_if_exhausted(session, account.id, settings)
        return SignInOutcome(None, account.id, (events.SIGN_IN_LOCKED,), None)
    if not attempt.verified:
        locked = await lock_if_exhausted(session, account.id, settings)
        failed = (events.SIGN_IN_FAILED, events.LOCKED_OUT) if locked else (events.SIGN_IN_FAILED,)
        return SignInOutcome(None, account.id, failed, None)
    if (refused := await _second_factor_refusal(session, attempt, settings)) is not None:
        return refused
    if (refused := await _activation_refusal(session, attempt, settings, now)) is not None:
        return refused
    user = await _signed_in(session, attempt, now)
    if user is None:  # locked, deactivated or given a new password since it was verified
        locked = await current_status(session, account.id) is UserStatus.LOCKED
        event = events.SIGN_IN_LOCKED if locked else events.SIGN_IN_FAILED
        return SignInOutcome(None, account.id, (event,), None)
    issued = await open_session(session, user, settings, now)
    signed_in = _signed_in_event(attempt, issued)
    if attempt.activation is None or attempt.activation.open_code is None:
        return SignInOutcome(user, user.id, (signed_in,), issued)
    org_id = attempt.activation.open_code.organization_id
    return SignInOutcome(user, user.id, (events.ACTIVATED, signed_in), issued, None, org_id)


async def _second_factor_refusal(
    session: AsyncSession, attempt: Attempt, settings: Settings
) -> SignInOutcome | None:
    """R14: after the right password, an enabled second factor needs a code, usable once. A
    missing code is told only now and its attempt stays counted; a wrong or used one is a
    failed sign-in, like a wrong password."""
    assert attempt.account is not None
    user_id, code = attempt.account.id, attempt.code
    if code.check is CodeCheck.NOT_ENABLED:
        return None
    if code.check is CodeCheck.MISSING:
        return SignInOutcome(None, user_id, (events.SECOND_FACTOR_REQUIRED,), None)
    if code.check is CodeCheck.MATCHED and await second_factor.use_step(session, user_id, code):
        return None
    locked = await lock_if_exhausted(session, user_id, settings)
    failed = (events.SECOND_FACTOR_WRONG,) + ((events.LOCKED_OUT,) if locked else ())
    return SignInOutcome(None, user_id, failed, None)


def _signed_in_event(attempt: Attempt, issued: IssuedSession) -> AccountEvent:
    if issued.must_change_password:
        return events.SIGNED_IN_PASSWORD_EXPIRED
    if issued.must_enroll_second_factor:
        return events.SIGNED_IN_MUST_ENROL
    if attempt.code.check is CodeCheck.MATCHED:
        return events.SIGNED_IN_WITH_SECOND_FACTOR
    return events.SIGNED_IN


async def _activation_refusal(
    session: AsyncSession, attempt: Attempt, settings: Settings, now: datetime
) -> SignInOutcome | None:
    """R1, after the right password (and second factor): a holder awaiting activation signs
    in only by activating; None once the code activated the organization (and the account)."""
    assert attempt.account is not None
    pending = attempt.account.status is UserStatus.PENDING_ACTIVATION
    if attempt.activation is None and not pending:
        return None
    user_id = attempt.account.id
    await reset_failures(session, user_id)  # the password was right
    if attempt.activation is None:
        return SignInOutcome(None, user_id, (events.SIGN_IN_NOT_ACTIVATED,), None)
    open_code = attempt.activation.open_code
    refused = attempt.activation.refusal(settings.activation_max_attempts, now)
    if refused is None and open_code is not None:
        if await activation.activate(session, open_code=open_code, user_id=user_id, now=now):
            return None
        refused = events.ACTIVATION_CODE_USED, conflict("R1", "this code was used or replaced")
    assert refused is not None
    event, error = refused
    org_id = None if open_code is None else open_code.organization_id
    return SignInOutcome(None, user_id, (event,), None, error, org_id)


async def _signed_in(session: AsyncSession, attempt: Attempt, now: datetime) -> User | None:
    """R14: a success resets the failure count and records the sign-in, if the user is still
    ACTIVE with the password that was verified (and still without a second factor if they had
    none when it was read)."""
    assert attempt.account is not None
    values: dict[str, object] = {"failed_logins": 0, "last_login_at": now}
    if attempt.new_hash is not None:
        values["password_hash"] = attempt.new_hash
    user_id = await session.scalar(
        update(User)
        .where(
            User.id == attempt.account.id,
            User.status == UserStatus.ACTIVE,
            User.password_hash == attempt.account.password_hash,
            _same_factor(attempt.code),
        )
        .values(**values)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return None if user_id is None else await session.get(User, user_id, populate_existing=True)


def _same_factor(code: SignInCode) -> ColumnElement[bool]:
    """R14: a second factor enabled after the account was read needs a code this attempt lacks."""
    return User.totp_enabled_at.is_(None) if code.check is CodeCheck.NOT_ENABLED else true()
