"""Bearer tokens from an external OpenID Connect provider, verified against its JWKS.

The algorithm is pinned by the key the token's ``kid`` names (RS256 or ES256 only), never
taken from the token header, so ``none`` and HS256-with-the-public-key confusion are refused.
An unknown ``kid`` refreshes the key set, at most once per ``jwks_refresh_seconds``, so
forged ``kid`` values cannot turn the gateway into a fetch amplifier. External tokens carry
no ``ver``: roles and the account's status still come from the database per request (R8).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from gateway.auth.tokens import MAX_SUBJECT, REFUSALS, Bearer
from gateway.settings import Settings

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset({"RS256", "ES256"})
LEEWAY_SECONDS = 30
FETCH_TIMEOUT_SECONDS = 5.0
# A1: refusals particular to external tokens, as the access log says them.
OIDC_REFUSALS: dict[type[jwt.PyJWTError], str] = {
    jwt.InvalidAudienceError: "wrong audience",
    jwt.InvalidIssuerError: "wrong issuer",
    jwt.ExpiredSignatureError: "expired",
    jwt.InvalidIssuedAtError: "issued in the future",
}


class JwksVerifier:
    """Verifies external bearer tokens; keeps the provider's signing keys between requests."""

    def __init__(self, settings: Settings) -> None:
        assert settings.jwks_url and settings.jwt_audience and settings.jwt_issuer
        self.url = settings.jwks_url
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.claim = settings.jwt_username_claim
        self.refresh_seconds = settings.jwks_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def read_bearer(self, authorization: str | None) -> Bearer | None:
        """The token's subject, or why it is refused; None without a bearer token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return Bearer(None, refusal="malformed")
        key = await self._key(kid) if isinstance(kid, str) else None
        if key is None:
            return Bearer(None, refusal="unknown signing key")
        try:
            claims = self._decode(token, key)
        except jwt.PyJWTError as error:
            return Bearer(None, refusal=_refusal(error))
        subject = claims.get(self.claim)
        # Never cut to fit: a longer name must not sign in as the user its prefix names.
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
            return Bearer(None, refusal="malformed claims")
        return Bearer(subject)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],  # pinned by the key, never by the token
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "aud", "iss", self.claim]},
        )
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:  # concurrent unknown kids wait for one fetch
            if kid not in self._keys and self._may_refresh():
                await self._refresh()
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or time.monotonic() - fetched >= self.refresh_seconds

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError):  # keep the keys we have; retry after the interval
            logger.warning("fetching the JWKS from %s failed", self.url)
            return
        self._keys = usable_keys(document)


def usable_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The key set's RS256/ES256 signing keys by ``kid``; any other key is ignored."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALLOWED_ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


def _refusal(error: jwt.PyJWTError) -> str:
    for kind, reason in OIDC_REFUSALS.items():
        if isinstance(error, kind):
            return reason
    return REFUSALS.get(type(error), "malformed")
