"""The GraphQL HTTP endpoint: builds each request's context and flushes its access log."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gateway.audit import events as account_events
from gateway.audit.chain import AccessLogBuffer
from gateway.auth.oidc import JwksVerifier
from gateway.auth.tokens import Bearer, issued_here, load_caller, read_bearer, token_refusal
from gateway.authz.scope import ANONYMOUS_CALLER
from gateway.context import Context
from gateway.data.db import statement_count
from gateway.data.loaders import Loaders
from gateway.errors import ErrorCode, Unavailable
from gateway.http import metrics
from gateway.models import utcnow
from gateway.runtime import Runtime


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view plus the gateway's request lifecycle (A2)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            runtime.schema,
            graphql_ide="graphiql" if runtime.settings.is_development else None,
            allow_queries_via_get=False,
        )
        self.runtime = runtime
        settings = runtime.settings
        self.oidc = JwksVerifier(settings) if settings.jwks_url else None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        runtime = self.runtime
        statements = [0]
        statement_count.set(statements)  # this request's task and its loaders' tasks
        authorization = request.headers.get("authorization")
        bearer = await self._read_bearer(authorization)
        available = True
        try:
            caller = await load_caller(runtime.db, bearer, runtime.settings)
        except Exception:  # without the caller's roles nothing may be answered
            runtime.log_failure("loading the caller failed", "-")
            caller, available = ANONYMOUS_CALLER, False
        # A1: a refused token leaves the caller anonymous, and the log says whose and why.
        refused = token_refusal(bearer, caller) if available else None
        request_id = uuid.uuid4().hex
        if isinstance(response, Response):
            response.headers["x-request-id"] = request_id
        context = Context(
            db=runtime.db,
            log_writer=runtime.access_log,
            limiter=runtime.limiter,
            settings=runtime.settings,
            policy=runtime.policy,
            caller=caller,
            loaders=None,  # type: ignore[arg-type]  # set below: loaders read the context
            access_log=AccessLogBuffer(
                request_id=request_id,
                at=utcnow(),
                user_id=caller.user_id,
                username=caller.username or (refused.subject if refused else None),
                client_address=runtime.client_address(request),
            ),
            request_id=request_id,
            statements=statements,
            available=available,
        )
        context.loaders = Loaders(runtime.db, caller, context.roster_org_ids)
        if refused is not None:
            account_events.record(
                context.access_log, account_events.TOKEN_REFUSED, None, detail=refused.refusal
            )
        return context

    async def _read_bearer(self, authorization: str | None) -> Bearer | None:
        """The gateway's own tokens (the ``iss`` it names them with) on the HS256 path, any
        other on the OIDC provider's JWKS; beside a provider the gateway's serve partner
        clients only. The unverified issuer only picks the path; each path pins its own
        algorithms, so neither accepts the other's (no algorithm confusion)."""
        settings = self.runtime.settings
        if self.oidc is None:
            return read_bearer(authorization, settings)
        if issued_here(authorization, settings):
            bearer = read_bearer(authorization, settings)  # people sign in at the provider
            return None if bearer is None else replace(bearer, partner_only=True)
        return await self.oidc.read_bearer(authorization)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Run the operation, then make its access-log entries durable before answering (A2)."""
        context: Context = kwargs["context"]
        if not context.available:
            return self._unavailable(kwargs, "The gateway cannot reach its database")
        try:
            result = await super().execute_operation(*args, **kwargs)
            context.access_log.operation = _operation_name(kwargs)
            metrics.ACCESS_LOG_ENTRIES.observe(len(context.access_log.rows))
            if not await self._append_access_log(context):
                return self._unavailable(
                    kwargs, "The access log is unavailable; nothing was returned"
                )
        finally:
            metrics.SQL_STATEMENTS.observe(context.statements[0])
        metrics.REQUESTS.labels("errors" if getattr(result, "errors", None) else "ok").inc()
        return result

    def _unavailable(self, kwargs: dict[str, Any], message: str) -> ExecutionResult:
        kwargs["sub_response"].status_code = 503
        return ExecutionResult(data=None, errors=[Unavailable(message)])

    async def _append_access_log(self, context: Context) -> bool:
        try:
            await self.runtime.access_log.append(context.access_log)
        except Exception:  # any failure to record means no data may leave
            self.runtime.log_failure("access log append failed", context.request_id)
            metrics.REQUESTS.labels("unavailable").inc()
            return False
        return True

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [self._format(error) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def _format(self, error: GraphQLError) -> dict[str, Any]:
        """Every error carries a contract code; unexpected ones never show their internals."""
        formatted: dict[str, Any] = dict(error.formatted)
        extensions = dict(formatted.get("extensions") or {})
        if "code" not in extensions:
            code = _classify(error)
            extensions["code"] = code
            if code == ErrorCode.INTERNAL and not self.runtime.settings.is_development:
                formatted["message"] = "Internal server error"
        formatted["extensions"] = extensions
        return formatted


def _classify(error: GraphQLError) -> str:
    message = error.message
    if "exceeds maximum operation depth" in message or "aliases found" in message:
        return ErrorCode.QUERY_TOO_COMPLEX
    if error.original_error is None or not error.path:
        # Parse and validation errors, and variables that do not coerce to their types (raised
        # before anything executes, so without a path): the request itself is wrong.
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.INTERNAL


def _operation_name(kwargs: dict[str, Any]) -> str | None:
    data = kwargs.get("request_data")
    name = getattr(data, "operation_name", None)
    return name if isinstance(name, str) else None
