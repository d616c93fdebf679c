"""Partner billing systems (SPEC 1, R11): a billing agency's software, calling the gateway with
OAuth2 client credentials (``POST /oauth/token``, gateway.http.oauth).

Each client acts as a service account of its own: a user without a password or memberships,
whose scope is its agency's ACTIVE grants (gateway.auth.tokens), so a client office that denies the
agency access is gone from the client's next request. Only the agency's admins manage its
clients. The secret is a 256-bit random value shown once; only its SHA-256 digest is stored.
Rotating replaces it and bumps the service account's token version, so the old secret and every
token it got stop at once; revoking also deactivates the service account.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import mint_token
from gateway.catalog import OrganizationKind, OrganizationStatus, UserStatus
from gateway.domain.credentials import digest, new_secret
from gateway.domain.invitations import MAX_NAME_LENGTH
from gateway.domain.members import lock_organization
from gateway.domain.rules import conflict, violation
from gateway.errors import BadUserInput, NotFound
from gateway.models import Organization, PartnerClient, User
from gateway.settings import Settings

# ':' never appears in a registered username (accounts.USERNAME_PATTERN), so no person can take
# a service account's name; ".invalid" (RFC 2606) is a domain no email is ever delivered to.
SERVICE_USERNAME = "partner:{client_id}"
SERVICE_EMAIL = "{client_id}@partner-client.invalid"
CLIENT_ID_PREFIX = "pc-"
MAX_CLIENT_ID = 64  # the column's length: a longer client_id names no client
# Compared with when the client_id names no client, so both answers cost the same.
NO_CLIENT_DIGEST = digest(secrets.token_urlsafe(32))


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client with its secret: the only moment the secret exists outside the client."""

    client: PartnerClient
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KnownClient:
    """The client a token request names, read before the write transaction."""

    id: int
    client_id: str
    secret_hash: str
    agency_id: int
    service_user_id: int
    revoked: bool
    account_status: str
    agency_status: str  # nobody acts for a SUSPENDED agency, its software included


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token for a partner client's service account."""

    access_token: str
    expires_in: int  # seconds
    user_id: int
    username: str


def checked_name(name: str) -> str:
    """The client's name as stored: 1 to 200 characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadUserInput(f"`name` must be 1 to {MAX_NAME_LENGTH} characters", argument="name")
    return name


async def create(
    session: AsyncSession, *, agency_id: int, name: str, created_by_id: int, now: datetime
) -> Credentials:
    """A new client of the billing agency, with its service account (no memberships)."""
    name = checked_name(name)
    agency = await lock_organization(session, agency_id)
    if agency.kind != OrganizationKind.BILLING_AGENCY:
        raise violation("R11", "partner clients belong to billing agencies only")
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(16)
    secret, secret_hash = new_secret()
    account = _service_account(client_id, name, now)
    session.add(account)
    await session.flush()
    client = PartnerClient(
        client_id=client_id,
        secret_hash=secret_hash,
        name=name,
        agency_id=agency_id,
        service_user_id=account.id,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(client)
    await session.flush()
    return Credentials(client, secret)


def _service_account(client_id: str, name: str, now: datetime) -> User:
    email = SERVICE_EMAIL.format(client_id=client_id)
    return User(
        username=SERVICE_USERNAME.format(client_id=client_id),
        email=email,
        email_normalized=email,
        name=name,
        status=UserStatus.ACTIVE,
        password_hash=None,  # it never signs in with a password
        failed_logins=0,
        token_version=0,
        created_at=now,
    )


async def rotate_secret(
    session: AsyncSession, *, agency_id: int, client_id: str, now: datetime
) -> Credentials:
    """A new secret; the old one and every token issued with it stop at once."""
    secret, secret_hash = new_secret()
    client = await _change(
        session, agency_id, client_id, secret_hash=secret_hash, secret_rotated_at=now
    )
    await _revoke_tokens(session, client.service_user_id)
    return Credentials(client, secret)


async def revoke(
    session: AsyncSession, *, agency_id: int, client_id: str, now: datetime
) -> PartnerClient:
    """End the client: its secret and tokens stop on their next use, for good."""
    client = await _change(session, agency_id, client_id, revoked_at=now)
    await _revoke_tokens(session, client.service_user_id, status=UserStatus.DEACTIVATED)
    return client


async def _change(
    session: AsyncSession, agency_id: int, client_id: str, **values: Any
) -> PartnerClient:
    """Change the agency's unrevoked client in one conditional statement, so a rotation and a
    revocation at once never leave a revoked client with a fresh secret."""
    names = (PartnerClient.client_id == client_id) & (PartnerClient.agency_id == agency_id)
    client: PartnerClient | None = await session.scalar(
        update(PartnerClient)
        .where(names, PartnerClient.revoked_at.is_(None))
        .values(**values)
        .returning(PartnerClient)
        .execution_options(synchronize_session=False)
    )
    if client is not None:
        return client
    if await session.scalar(select(PartnerClient.id).where(names)) is None:
        raise NotFound("Partner client not found")  # another agency's is answered alike
    raise conflict("R11", "this partner client is revoked")


async def _revoke_tokens(
    session: AsyncSession, user_id: int, *, status: UserStatus | None = None
) -> None:
    """Bump the service account's token version: every token it holds stops (as R14's)."""
    values: dict[str, Any] = {"token_version": User.token_version + 1}
    if status is not None:
        values["status"] = status.value
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def find(session: AsyncSession, client_id: str) -> KnownClient | None:
    """The client ``client_id`` names, with its service account's status."""
    if len(client_id) > MAX_CLIENT_ID:
        return None
    row = (
        await session.execute(
            select(PartnerClient, User.status, Organization.status)
            .join(User, User.id == PartnerClient.service_user_id)
            .join(Organization, Organization.id == PartnerClient.agency_id)
            .where(PartnerClient.client_id == client_id)
        )
    ).one_or_none()
    if row is None:
        return None
    client, status, agency_status = row
    return KnownClient(
        client.id, client.client_id, client.secret_hash, client.agency_id,
        client.service_user_id, client.revoked_at is not None, status, agency_status,
    )  # fmt: skip


def refusal(client: KnownClient | None, secret: str) -> str | None:
    """Why these credentials authenticate no client (for the log only: the client is told
    nothing more than invalid_client), or None if they do. Constant-time comparison."""
    stored = client.secret_hash if client is not None else NO_CLIENT_DIGEST
    matches = hmac.compare_digest(digest(secret), stored)
    if client is None:
        return "unknown client"
    if not matches:
        return "wrong secret"
    if client.revoked:
        return "client revoked"
    if client.account_status != UserStatus.ACTIVE:
        return "service account not active"
    if client.agency_status != OrganizationStatus.ACTIVE:
        return "agency not active"
    return None


async def issue_token(
    session: AsyncSession, client: KnownClient, settings: Settings, now: datetime
) -> IssuedToken | None:
    """An access token for the verified client, at its service account's current token
    version; None if the client was rotated or revoked since it was verified. Marks it used.

    The client's row is written first: a rotation or revocation running at the same time
    either commits before (and this finds nothing) or waits for this transaction (and its
    version bump then stops the token issued here)."""
    used = await session.scalar(
        update(PartnerClient)
        .where(
            PartnerClient.id == client.id,
            PartnerClient.secret_hash == client.secret_hash,
            PartnerClient.revoked_at.is_(None),
        )
        .values(last_used_at=now)
        .returning(PartnerClient.service_user_id)
        .execution_options(synchronize_session=False)
    )
    account = None if used is None else await _active_account(session, used)
    if account is None:
        return None
    username, version = account
    ttl = timedelta(minutes=settings.partner_token_minutes)
    issued = now.replace(microsecond=0)  # JWT times are whole seconds
    token = mint_token(settings, username, version=version, ttl=ttl, now=issued)
    return IssuedToken(token, int(ttl.total_seconds()), client.service_user_id, username)


async def _active_account(session: AsyncSession, user_id: int) -> tuple[str, int] | None:
    row = (
        await session.execute(
            select(User.username, User.token_version).where(
                User.id == user_id, User.status == UserStatus.ACTIVE
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])
