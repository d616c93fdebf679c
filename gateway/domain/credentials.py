"""What the identity workflows share: opaque secrets, checking a password, lockout (R13, R14).

A password is verified outside the write transaction (argon2 is slow on purpose, and no lock
should wait for it); the transaction that follows then changes the user only if the row is
still what was verified (same status, same hash), in one conditional statement.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import verify_password
from gateway.catalog import UserStatus
from gateway.domain.invitations import normalize_email
from gateway.models import User
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the identity workflows see them, read before the write transaction."""

    id: int
    username: str
    email: str
    status: UserStatus
    password_hash: str | None
    totp_secret: str | None = field(default=None, repr=False)  # R14: encrypted
    totp_enabled: bool = False  # R14: sign-in needs a code of ``totp_secret``


def new_secret() -> tuple[str, str]:
    """A random 256-bit token and the digest stored in its place (R13: never the token)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def find_account(
    session: AsyncSession, *, username: str | None = None, user_id: int | None = None
) -> Account | None:
    """The user with this username, in any case (or this id)."""
    condition = User.id == user_id if username is None else username_is(username)
    return _account(await session.scalar(select(User).where(condition)))


async def find_by_login(session: AsyncSession, login: str) -> Account | None:
    """The user a username or email address names (both compare case-insensitively)."""
    value = login.strip()
    row = await session.scalar(
        select(User)
        .where(or_(username_is(value), User.email_normalized == normalize_email(value)))
        .order_by(User.id)
        .limit(1)
    )
    return _account(row)


def username_is(username: str) -> ColumnElement[bool]:
    """Usernames compare case-insensitively, as their unique index does (lower(username)):
    "Alice" signs in as "alice", and a username's case is no new account to guess at."""
    return func.lower(User.username) == func.lower(username)


def _account(row: User | None) -> Account | None:
    if row is None:
        return None
    status, enabled = UserStatus(row.status), row.totp_enabled_at is not None
    return Account(
        row.id, row.username, row.email, status, row.password_hash, row.totp_secret, enabled
    )


# Whose password is checked: an ACTIVE user, or a master account holder awaiting activation
# (R1: they learn so only with the right password).
VERIFIABLE = frozenset({UserStatus.ACTIVE, UserStatus.PENDING_ACTIVATION})


async def password_matches(account: Account | None, password: str) -> bool:
    """argon2 verification in a worker thread. An unknown user, one without a password and a
    locked one are checked against a dummy hash: the same time, never a match (R14)."""
    usable = account is not None and account.status in VERIFIABLE
    stored = account.password_hash if usable and account is not None else None
    return await asyncio.to_thread(verify_password, stored, password)


async def count_failure(session: AsyncSession, user_id: int, settings: Settings) -> bool:
    """R14: one more failed attempt, counted in one statement so concurrent attempts all
    count; the one that reaches ``max_failed_logins`` locks the account and revokes its tokens.
    True if this attempt locked it."""
    reached = User.failed_logins + 1 >= settings.max_failed_logins
    status = await session.scalar(
        update(User)
        .where(User.id == user_id, User.status == UserStatus.ACTIVE)
        .values(
            failed_logins=User.failed_logins + 1,
            status=case((reached, UserStatus.LOCKED.value), else_=User.status),
            token_version=case((reached, User.token_version + 1), else_=User.token_version),
        )
        .returning(User.status)
        .execution_options(synchronize_session=False)
    )
    return status == UserStatus.LOCKED


async def claim_attempt(session: AsyncSession, user_id: int, settings: Settings) -> bool:
    """R14: take one of the account's remaining sign-in attempts *before* its password is
    checked, so attempts sent at once cannot test more than ``max_failed_logins`` passwords.
    False when none is left (the account is, or is about to be, locked)."""
    claimed = await session.scalar(
        update(User)
        .where(
            User.id == user_id,
            User.status.in_(sorted(VERIFIABLE)),
            User.failed_logins < settings.max_failed_logins,
        )
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return claimed is not None


async def lock_if_exhausted(session: AsyncSession, user_id: int, settings: Settings) -> bool:
    """R14: after a failed, already counted attempt, lock the account (and revoke its tokens)
    once no attempt is left. True if this call locked it."""
    limit = settings.max_failed_logins
    locked = await session.scalar(
        update(User)
        .where(
            User.id == user_id,
            User.status == UserStatus.ACTIVE,
            User.failed_logins >= limit,
        )
        .values(status=UserStatus.LOCKED.value, token_version=User.token_version + 1)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if locked is not None:
        return True
    # R1: a holder awaiting activation keeps that status (unlocking must not make them
    # ACTIVE); a count one past the limit marks their lockout, set once.
    held = await session.scalar(
        update(User)
        .where(
            User.id == user_id,
            User.status == UserStatus.PENDING_ACTIVATION,
            User.failed_logins == limit,
        )
        .values(failed_logins=limit + 1)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return held is not None


def locked_out(max_failed_logins: int) -> ColumnElement[bool]:
    """R14: the user's account is locked: LOCKED, or awaiting activation (R1) with no attempt
    left."""
    exhausted = and_(
        User.status == UserStatus.PENDING_ACTIVATION, User.failed_logins >= max_failed_logins
    )
    return or_(User.status == UserStatus.LOCKED, exhausted)


async def reset_failures(session: AsyncSession, user_id: int) -> None:
    """R14: the right password restarts the count of failed attempts."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=0)
        .execution_options(synchronize_session=False)
    )


async def current_status(session: AsyncSession, user_id: int) -> UserStatus:
    status = await session.scalar(select(User.status).where(User.id == user_id))
    return UserStatus(status) if status is not None else UserStatus.DEACTIVATED
