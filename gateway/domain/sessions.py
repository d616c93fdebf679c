"""Sessions (R14): short-lived access tokens and rotating refresh tokens.

Signing in opens a session: an access token (HS256 JWT, ``session_idle_minutes`` long: the
HIPAA automatic logoff) and a refresh token (opaque, stored as a digest). ``refresh`` trades a
refresh token for a new pair; the old one is rotated and may never be used again. A refresh
token expires when the session has been idle that long, and the session ends
``session_max_hours`` after sign-in whatever happens. A rotated token presented again means
someone kept a copy: the session is revoked, and the user's token version is bumped so every
access token they hold stops too. Signing out bumps the version as well.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AccountEvent
from gateway.audit import events as events
from gateway.auth import access_token, password_expired
from gateway.catalog import UserStatus
from gateway.domain.credentials import digest, new_secret
from gateway.domain.second_factor import must_enroll
from gateway.models import RefreshToken, User
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What a successful sign-in, refresh or password change hands the client."""

    access_token: str
    refresh_token: str
    expires_at: datetime  # the access token's
    must_change_password: bool  # R14: the access token allows only changePassword and logout
    # R14: the user's roles require a second factor they have not enabled: the access token
    # allows only enrolling one and logout (after the password, if it also expired).
    must_enroll_second_factor: bool


@dataclass(frozen=True, slots=True)
class Refreshed:
    """The outcome of presenting a refresh token: a new session, or why not."""

    user_id: int | None
    issued: IssuedSession | None
    event: AccountEvent


async def open_session(
    session: AsyncSession, user: User, settings: Settings, now: datetime
) -> IssuedSession:
    """A new session for ``user`` (read in this transaction, at its current token version)."""
    family = secrets.token_hex(16)
    ends = now + timedelta(hours=settings.session_max_hours)
    return await _issue(session, user, family, ends, settings, now)


async def refresh(
    session: AsyncSession, *, token: str, settings: Settings, now: datetime
) -> Refreshed:
    """Rotate ``token``: claimed in one conditional statement, so it is used at most once."""
    claimed = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == digest(token),
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
                RefreshToken.session_expires_at > now,
            )
            .values(rotated_at=now)
            .returning(
                RefreshToken.user_id,
                RefreshToken.family,
                RefreshToken.token_version,
                RefreshToken.session_expires_at,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if claimed is None:
        return await _unusable(session, digest(token), now)
    user_id, family, version, ends = claimed
    user = await session.get(User, user_id, populate_existing=True)
    if user is None or user.status != UserStatus.ACTIVE or user.token_version != version:
        return Refreshed(user_id, None, events.REFRESH_REFUSED)
    issued = await _issue(session, user, family, ends, settings, now)
    return Refreshed(user_id, issued, events.SESSION_REFRESHED)


async def revoke_all(session: AsyncSession, user_id: int) -> None:
    """Every token the user holds stops working at once (sign-out, password change)."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(token_version=User.token_version + 1)
        .execution_options(synchronize_session=False)
    )


async def _unusable(session: AsyncSession, token_hash: str, now: datetime) -> Refreshed:
    found = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if found is None or found.rotated_at is None or found.revoked_at is not None:
        return Refreshed(None if found is None else found.user_id, None, events.REFRESH_REFUSED)
    # R14: a rotated token came back, so two parties hold this session: end it everywhere.
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == found.family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await revoke_all(session, found.user_id)
    return Refreshed(found.user_id, None, events.REFRESH_REUSED)


async def _issue(
    session: AsyncSession,
    user: User,
    family: str,
    ends: datetime,
    settings: Settings,
    now: datetime,
) -> IssuedSession:
    token, token_hash = new_secret()
    session.add(
        RefreshToken(
            user_id=user.id,
            family=family,
            token_hash=token_hash,
            token_version=user.token_version,
            issued_at=now,
            expires_at=min(now + timedelta(minutes=settings.session_idle_minutes), ends),
            session_expires_at=ends,
        )
    )
    await session.flush()
    access, expires_at = access_token(settings, user.username, user.token_version, now)
    expired = password_expired(user.password_changed_at, settings, now)
    enroll = await must_enroll(session, user, settings)
    return IssuedSession(access, token, expires_at, expired, enroll)
