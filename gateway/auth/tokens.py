"""The gateway's own bearer tokens (HS256): minted at sign-in, read from each request.

A token names the user (``sub``) and their ``token_version`` (claim ``ver``): signing out,
changing the password and a lockout bump the version, so every token issued before stops
working at once (R14). The version is checked in the statement that loads the caller
(gateway.auth.callers); roles never come from the token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select

from gateway.auth.caller import Caller
from gateway.data import Database
from gateway.models import User
from gateway.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "ver"]
MAX_SUBJECT = 64  # a username's longest; a longer subject is logged cut to this
# A1: why a token was refused, as the access log says it (never the token itself).
REFUSALS: dict[type[jwt.PyJWTError], str] = {
    jwt.InvalidAlgorithmError: "algorithm not allowed",
    jwt.InvalidSignatureError: "bad signature",
    jwt.MissingRequiredClaimError: "missing claim",
    jwt.ImmatureSignatureError: "not yet valid",
}
REVOKED = "revoked (signed out, password changed or account locked) or account not active"
PARTNER_ONLY = "revoked, not active, or not a partner client (beside the OIDC provider)"


@dataclass(frozen=True, slots=True)
class Bearer:
    """What a request's ``Authorization`` header presented."""

    subject: str | None  # the claimed username; None unless the signature verified
    version: int | None = None  # the ``ver`` claim; None for an external (OIDC) token
    refusal: str | None = None  # why the token may not be used (A1: logged), None if it may
    # The gateway's own token beside an OIDC provider: people sign in at the provider, so only
    # a partner client's service account may use it.
    partner_only: bool = False


def mint_token(
    settings: Settings,
    username: str,
    *,
    version: int = 0,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """A bearer token for ``username`` whose ``token_version`` is ``version`` (0 until their
    first sign-out, password change or lockout). ``gateway token`` and sign-in mint with this."""
    issued = now or datetime.now(UTC)
    claims = {
        "iss": settings.token_issuer,  # tells the gateway's tokens from an OIDC provider's
        "sub": username,
        "ver": version,
        "iat": issued,
        "exp": issued + (ttl or timedelta(seconds=settings.dev_token_ttl_seconds)),
    }
    return jwt.encode(claims, settings.signing_secret, algorithm=ALGORITHM)


async def current_version(settings: Settings, username: str) -> int | None:
    """The user's token version, to mint a development token that sign-out also revokes."""
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            version: int | None = await session.scalar(
                select(User.token_version).where(User.username == username)
            )
    finally:
        await db.dispose()
    return version


def access_token(
    settings: Settings, username: str, version: int, now: datetime
) -> tuple[str, datetime]:
    """A signed-in session's access token and its expiry: it lives as long as a session may
    stay idle (R14, HIPAA automatic logoff)."""
    ttl = timedelta(minutes=settings.session_idle_minutes)
    issued = now.replace(microsecond=0)  # JWT times are whole seconds: expiresAt is exp
    return mint_token(settings, username, version=version, ttl=ttl, now=issued), issued + ttl


def read_bearer(authorization: str | None, settings: Settings) -> Bearer | None:
    """The bearer token's claims, or why it is refused; None without a bearer token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    if not signs_own_tokens(settings):
        return Bearer(None, refusal="the gateway's own tokens are not accepted here")
    token = authorization[7:].strip()
    try:
        claims = _decode(token, settings)
    except jwt.ExpiredSignatureError:
        return Bearer(_subject_of_expired(token, settings), refusal="expired")
    except jwt.PyJWTError as error:
        return Bearer(None, refusal=REFUSALS.get(type(error), "malformed"))
    if claims.get("iss", settings.token_issuer) != settings.token_issuer:
        return Bearer(None, refusal="wrong issuer")
    subject, version = claims.get("sub"), claims.get("ver")
    if not isinstance(subject, str) or type(version) is not int:
        return Bearer(None, refusal="malformed claims")
    return Bearer(subject, version)


def signs_own_tokens(settings: Settings) -> bool:
    """Whether the gateway issues and accepts tokens of its own (HS256). Beside an OIDC
    provider only with a secret of its own: never with the well-known development one."""
    return bool(settings.jwt_secret) or (settings.is_development and not settings.jwks_url)


def issued_here(authorization: str | None, settings: Settings) -> bool:
    """Whether the bearer token *claims* the gateway as its issuer (unverified: it only picks
    which verification path checks it, and each path pins its own algorithms)."""
    token = (authorization or "")[7:].strip()
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return False
    return bool(issuer == settings.token_issuer)


def _decode(token: str, settings: Settings, *, verify_exp: bool = True) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        settings.signing_secret,
        algorithms=[ALGORITHM],  # never "none", never a key-confusion algorithm
        options={"require": REQUIRED_CLAIMS, "verify_exp": verify_exp},
        leeway=30,
    )
    return claims


def _subject_of_expired(token: str, settings: Settings) -> str | None:
    """Whose expired token it was: the signature still verifies, so the subject is ours."""
    try:
        subject = _decode(token, settings, verify_exp=False).get("sub")
    except jwt.PyJWTError:
        return None
    return subject[:MAX_SUBJECT] if isinstance(subject, str) else None


def token_refusal(bearer: Bearer | None, caller: Caller) -> Bearer | None:
    """The presented token if it was refused, with why (A1: the refusal is logged)."""
    if bearer is None or caller.is_authenticated:
        return None
    if bearer.refusal is None:  # well signed, but the database knows no such signed-in user
        refusal = PARTNER_ONLY if bearer.partner_only else REVOKED
        return replace(bearer, subject=(bearer.subject or "")[:MAX_SUBJECT], refusal=refusal)
    return bearer
