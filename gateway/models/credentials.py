"""Secrets that stand for someone for a while: refresh tokens, password-recovery links,
activation codes (R1) and partner clients' secrets.

Only a SHA-256 digest of each token is stored (the tokens are 256-bit random values, so a fast
hash is enough); the token itself exists only in the response or email that carried it (R13).
Activation codes are short enough to be typed from a letter, so they get a slow hash (argon2).
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


class ActivationCode(Base):
    """R1: the authentication code mailed to an organization's correspondence address for its
    first user, the master account holder. Stored as an argon2 hash; valid
    ``activation_code_ttl_days``; used once. A re-issued code supersedes the one before."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # a re-issue
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PartnerClient(Base):
    """An OAuth2 client-credentials client: a billing agency's software (R11).

    Each client acts as its own service account (``service_user_id``: a user without a
    password or memberships) whose scope is the agency's ACTIVE grants. Only a SHA-256 digest
    of the secret is stored (a 256-bit random value); rotating replaces it, revoking ends the
    client and every token it holds."""

    __tablename__ = "partner_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    service_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
