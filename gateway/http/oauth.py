"""``POST /oauth/token``: OAuth2 client credentials for partner billing systems (SPEC 1, R11).

RFC 6749 section 4.4: a form-encoded ``grant_type=client_credentials`` request, the client
authenticated by HTTP Basic (``client_secret_basic``) or by ``client_id`` and ``client_secret``
in the body (``client_secret_post``) - one of the two, never both. The answer is a bearer token
(HS256, ``partner_token_minutes`` long) for the client's service account, whose scope the
database decides on every request (gateway.auth.tokens); errors are section 5.2's JSON. A
``scope`` parameter is refused (``invalid_scope``): a client's scope is its agency's grants.

Every issuance and refusal is written to the access log like a GraphQL request's entries (A1),
with the client address and without any secret. The token and its entries (and the client's
``last_used_at``) commit in one transaction; if the log cannot be written, the answer is 503
and no token (A2). Requests are rate-limited per client address, and tokens per client.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.audit import AccountEvent, AuditTrail, events
from gateway.auth import Limit, rate_limits, signs_own_tokens
from gateway.domain import partner_clients
from gateway.domain.partner_clients import IssuedToken, KnownClient
from gateway.errors import RateLimited
from gateway.models import utcnow
from gateway.runtime import Runtime

OPERATION = "POST /oauth/token"  # the access log's operation name for these requests
FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 4096
NO_CACHE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1
CLIENT_AUTH_FAILED = "Client authentication failed"

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str = field(repr=False)


class TokenError(Exception):
    """A refusal, answered as RFC 6749 5.2 JSON and logged with ``reason`` (never anything the
    client sent, which could be a secret)."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        reason: str | None = None,
        status: int = 400,
        client: KnownClient | None = None,
        event: AccountEvent = events.PARTNER_TOKEN_REFUSED,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.reason = reason or description
        self.client, self.event, self.headers = client, event, headers or {}

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=NO_CACHE | self.headers)


def invalid_client(reason: str, client: KnownClient | None = None) -> TokenError:
    """One answer whatever failed (unknown client, wrong secret, revoked): nothing to learn."""
    return TokenError(
        "invalid_client",
        CLIENT_AUTH_FAILED,
        reason=reason,
        status=401,
        client=client,
        headers={"WWW-Authenticate": 'Basic realm="provider-portal-gateway"'},
    )


def token_endpoint(runtime: Runtime) -> Endpoint:
    """The Starlette endpoint of ``POST /oauth/token``."""

    async def token(request: Request) -> Response:
        log = AuditTrail(
            request_id=uuid.uuid4().hex,
            at=utcnow(),
            user_id=None,
            username=None,
            client_address=runtime.client_address(request),
            operation=OPERATION,
        )
        try:
            response = await _issue(runtime, request, log)
        except TokenError as refusal:
            response = await _refuse(runtime, log, refusal)
        except Exception:  # the database or the rate-limit store failed: never a 500
            runtime.log_failure("token request failed", log.request_id)
            response = _unavailable()
        response.headers["x-request-id"] = log.request_id
        return response

    return token


async def _issue(runtime: Runtime, request: Request, log: AuditTrail) -> Response:
    await _limited(runtime, Limit.OAUTH_PER_ADDRESS, log.client_address)
    form = await _form(request)
    credentials = _client_credentials(request.headers.get("authorization"), form)
    _check_grant(form, runtime)
    async with runtime.db.session() as session:
        client = await partner_clients.find(session, credentials.client_id)
    reason = partner_clients.refusal(client, credentials.secret)
    if reason is not None:
        raise invalid_client(reason, client)
    assert client is not None
    # Counted once authenticated: a 256-bit secret needs no guessing limit beyond the
    # address's, and nobody without the secret can spend a client's allowance.
    await _limited(runtime, Limit.OAUTH_PER_CLIENT, client.client_id, client)
    issued = await _issue_logged(runtime, client, log)
    if issued is None:  # the token and its entries could not be committed (A2)
        return _unavailable()
    body = {"access_token": issued.access_token, "token_type": "Bearer"}
    return JSONResponse(body | {"expires_in": issued.expires_in}, headers=NO_CACHE)


async def _issue_logged(
    runtime: Runtime, client: KnownClient, log: AuditTrail
) -> IssuedToken | None:
    """Mint the token, mark the client used and write the log entries in one transaction.
    None if that failed; TokenError if the client changed since it was verified."""
    try:
        async with runtime.access_log.transaction(log) as session:
            issued = await partner_clients.issue_token(session, client, runtime.settings, utcnow())
            if issued is not None:
                log.signed_in_as(issued.user_id, issued.username)
                _record(log, events.PARTNER_TOKEN_ISSUED, client)
    except Exception:  # A2: nothing leaves unless its entries are durable
        runtime.log_failure("token issue failed", log.request_id)
        return None
    if issued is None:
        raise invalid_client("client rotated or revoked meanwhile", client)
    return issued


async def _refuse(runtime: Runtime, log: AuditTrail, refusal: TokenError) -> Response:
    """Log the refusal (A1), then answer it; 503 if the log cannot be written (A2)."""
    detail = f"{refusal.error}: {refusal.reason}"
    _record(log, refusal.event, refusal.client, detail=detail)
    if not await runtime.access_log.flush(log):
        return _unavailable()
    return refusal.response()


def _record(
    log: AuditTrail,
    event: AccountEvent,
    client: KnownClient | None,
    *,
    detail: str | None = None,
) -> None:
    """The event, about the client's service account and in its agency when the client is
    known; an unknown client_id is not logged (it may be a mistyped secret)."""
    user_id = None if client is None else client.service_user_id
    org_id = None if client is None else client.agency_id
    log.record_event(event, user_id, org_id, detail)


def _unavailable() -> Response:
    body = {"error": "temporarily_unavailable", "error_description": "Try again later"}
    return JSONResponse(body, status_code=503, headers=NO_CACHE)


async def _limited(
    runtime: Runtime, limit: Limit, key: str | None, client: KnownClient | None = None
) -> None:
    try:
        await rate_limits.hit(runtime.limiter, limit, key)
    except RateLimited as error:
        retry_after = str((error.extensions or {}).get("retryAfterSeconds", 60))
        raise TokenError(
            "slow_down",
            "Too many token requests: try again later",
            reason=limit.value,
            status=429,
            client=client,
            event=events.PARTNER_TOKEN_RATE_LIMITED,
            headers={"Retry-After": retry_after},
        ) from None


async def _form(request: Request) -> dict[str, str]:
    """The form parameters; each at most once (RFC 6749 3.2)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise TokenError("invalid_request", f"The request body must be {FORM}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TokenError("invalid_request", "The request body is too large")
    try:
        text = body.decode()
        pieces = [piece for piece in text.split("&") if piece]  # a stray "&" is harmless
        pairs = parse_qsl("&".join(pieces), keep_blank_values=True, strict_parsing=bool(pieces))
    except (UnicodeDecodeError, ValueError):
        raise TokenError("invalid_request", "The request body is not a valid form") from None
    if len({name for name, _ in pairs}) != len(pairs):
        raise TokenError("invalid_request", "A parameter was sent more than once")
    # RFC 6749 3.2: a parameter sent without a value is treated as omitted.
    return {name: value for name, value in pairs if value}


def _client_credentials(authorization: str | None, form: dict[str, str]) -> ClientCredentials:
    """The client's credentials from exactly one of HTTP Basic and the body (RFC 6749 2.3.1)."""
    basic = _basic(authorization)
    in_body = form.get("client_id"), form.get("client_secret")
    if basic is not None:
        if in_body[1] is not None or in_body[0] not in (None, basic.client_id):
            raise TokenError(
                "invalid_request",
                "Authenticate the client with HTTP Basic or in the body, not both",
                reason="two client authentication methods",
            )
        return basic
    if in_body[0] and in_body[1] is not None:
        return ClientCredentials(in_body[0], in_body[1])
    raise invalid_client("no client authentication")


def _basic(authorization: str | None) -> ClientCredentials | None:
    """HTTP Basic credentials: the form-encoded client_id and secret (RFC 6749 2.3.1)."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("malformed HTTP Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise invalid_client("malformed HTTP Basic credentials")
    return ClientCredentials(unquote_plus(client_id), unquote_plus(secret))


def _check_grant(form: dict[str, str], runtime: Runtime) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise TokenError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise TokenError(
            "unsupported_grant_type",
            "This endpoint grants client_credentials only",
            reason="grant_type is not client_credentials",
        )
    if not signs_own_tokens(runtime.settings):
        # Beside an OIDC provider, only with a secret of its own does the gateway mint tokens.
        raise TokenError(
            "unsupported_grant_type",
            "This gateway issues no tokens of its own",
            reason="no GATEWAY_JWT_SECRET beside the OIDC provider",
        )
    if form.get("scope"):
        raise TokenError(
            "invalid_scope",
            "scope is not supported: a client's scope is its billing agency's active grants",
        )
