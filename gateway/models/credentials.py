"""Secrets that stand for a user for a while: refresh tokens and password-recovery links.

Only a SHA-256 digest of each token is stored (the tokens are 256-bit random values, so a fast
hash is enough); the token itself exists only in the response or email that carried it (R13).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime


class RefreshToken(Base):
    """One refresh token of a session; using it rotates it (R14).

    A session is a family of tokens, each replacing the one before. A rotated token presented
    again means it was copied: the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # users.token_version when issued: a sign-out, password change or lockout bumps the user's
    # version, and every token issued before stops working.
    token_version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # idle limit (HIPAA logoff)
    session_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the family's hard end
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordRecovery(Base):
    """A single-use, expiring password-recovery link sent by email (R13)."""

    __tablename__ = "password_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # or superseded by a newer one
