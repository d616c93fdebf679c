"""From a request's ``Authorization`` header to its caller, in one direction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from gateway.auth.caller import ANONYMOUS_CALLER, Caller
from gateway.auth.callers import load_caller
from gateway.auth.oidc import JwksVerifier
from gateway.auth.tokens import Bearer, issued_here, read_bearer, token_refusal
from gateway.data import Database
from gateway.settings import Settings

logger = logging.getLogger("gateway")


@dataclass(frozen=True, slots=True)
class Authentication:
    """Who a request comes from."""

    caller: Caller
    refused: Bearer | None = None  # a presented token that was refused, and why (A1: logged)
    available: bool = True  # False: the caller could not be loaded, so nothing is answered


class Authenticator:
    """Reads bearer tokens (the gateway's own, or an OIDC provider's) and loads the caller;
    one per process."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self._oidc = JwksVerifier(settings) if settings.jwks_url else None

    async def authenticate(self, authorization: str | None) -> Authentication:
        bearer = await self._read_bearer(authorization)
        try:
            caller = await load_caller(self._db, bearer, self._settings)
        except Exception:  # without the caller's roles nothing may be answered
            logger.exception("loading the caller failed")
            return Authentication(ANONYMOUS_CALLER, available=False)
        # A1: a refused token leaves the caller anonymous, and the log says whose and why.
        return Authentication(caller, token_refusal(bearer, caller))

    async def _read_bearer(self, authorization: str | None) -> Bearer | None:
        """The gateway's own tokens (the ``iss`` it names them with) on the HS256 path, any
        other on the OIDC provider's JWKS; beside a provider the gateway's serve partner
        clients only. The unverified issuer only picks the path; each path pins its own
        algorithms, so neither accepts the other's (no algorithm confusion)."""
        settings = self._settings
        if self._oidc is None:
            return read_bearer(authorization, settings)
        if issued_here(authorization, settings):
            bearer = read_bearer(authorization, settings)  # people sign in at the provider
            return None if bearer is None else replace(bearer, partner_only=True)
        return await self._oidc.read_bearer(authorization)
