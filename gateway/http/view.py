"""The GraphQL HTTP endpoint: builds each request's context and flushes its access log."""

from __future__ import annotations

import uuid
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.audit import AuditTrail, events
from gateway.authz import Decisions
from gateway.context import Context
from gateway.data import Loaders, database_unavailable, statement_count
from gateway.errors import ErrorCode, Unavailable
from gateway.http import body, graphiql, metrics
from gateway.http.request_log import remember_trail
from gateway.jsoncodec import dumps
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's, but a request refused before it runs (a malformed body, an unknown
        operation) is answered in GraphQL's error shape, never as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as refused:
            response = body.refusal(refused.status_code, refused.reason)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """Strict JSON: what strawberry would turn into a 500 is a 400 here."""
        return body.decode(data)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry checks the query, variables and extensions; the name is checked here."""
        parsed = await super().parse_http_body(request)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            body.check_operation_name(item.operation_name)
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our own GraphiQL page: its assets are the gateway's, not a CDN's."""
        return graphiql.page()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """The request's context, complete: http -> auth -> authz -> data, in that order."""
        runtime = self.runtime
        statements = [0]
        statement_count.set(statements)  # this request's task and its loaders' tasks
        who = await runtime.authenticator.authenticate(request.headers.get("authorization"))
        caller, refused = who.caller, who.refused
        request_id = uuid.uuid4().hex
        if isinstance(response, Response):
            response.headers["x-request-id"] = request_id
        trail = AuditTrail(
            request_id=request_id,
            at=utcnow(),
            user_id=caller.user_id,
            username=caller.username or (refused.subject if refused else None),
            client_address=runtime.client_address(request),
        )
        remember_trail(request, trail)
        if refused is not None:
            trail.record_event(events.TOKEN_REFUSED, None, detail=refused.refusal)
        decisions = Decisions(runtime.policy, caller)
        rows = decisions.row_scope()
        return Context(
            settings=runtime.settings,
            db=runtime.db,
            caller=caller,
            authz=decisions,
            rows=rows,
            loaders=Loaders(runtime.db, rows),
            audit=trail,
            audit_writer=runtime.access_log,
            limiter=runtime.limiter,
            request_id=request_id,
            statements=statements,
            available=who.available,
        )

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Run the operation, then make its access-log entries durable before answering (A2)."""
        context: Context = kwargs["context"]
        if not context.available:
            return self._unavailable(kwargs, "The gateway cannot reach its database")
        # Named as sent until the document is parsed; then as the document names it (A1).
        context.audit.operation = _operation_name(kwargs)
        try:
            result: Any = await self._compiled(kwargs, context)
            if result is None:
                result = await super().execute_operation(*args, **kwargs)
            metrics.ACCESS_LOG_ENTRIES.observe(context.audit.entry_count)
            if not await self.runtime.access_log.flush(context.audit):  # A2
                metrics.REQUESTS.labels("unavailable").inc()
                return self._log_unavailable(kwargs, result, context)
        finally:
            metrics.SQL_STATEMENTS.observe(context.statements[0])
        if _database_failed(result):  # its entries are written; its data is not trusted
            metrics.REQUESTS.labels("unavailable").inc()
            return self._unavailable(kwargs, "The gateway cannot reach its database")
        metrics.REQUESTS.labels("errors" if getattr(result, "errors", None) else "ok").inc()
        return result

    async def _compiled(self, kwargs: dict[str, Any], context: Context) -> ExecutionResult | None:
        """A query the read planner compiles (gateway.reads); None: the resolvers answer."""
        data = kwargs.get("request_data")
        if not self.runtime.settings.compiled_reads:
            return None
        if not isinstance(data, GraphQLRequestData) or kwargs["request_adapter"].method != "POST":
            return None
        result = await self.runtime.reads.execute(
            context, data.query, data.operation_name, data.variables
        )
        metrics.READS.labels("resolvers" if result is None else "compiled").inc()
        return result

    def _log_unavailable(
        self, kwargs: dict[str, Any], result: Any, context: Context
    ) -> ExecutionResult:
        """No data leaves without its entries (A2). A change that committed (with its own
        entries) is still said to be made, so that nobody repeats it."""
        if context.audit.changes_committed and _answered_a_mutation(result):
            return self._unavailable(
                kwargs,
                "The change was made, but its answer cannot be shown: the access log is "
                "unavailable. Do not repeat it.",
                changeCommitted=True,
            )
        return self._unavailable(kwargs, "The access log is unavailable; nothing was returned")

    def _unavailable(
        self, kwargs: dict[str, Any], message: str, **extensions: Any
    ) -> ExecutionResult:
        kwargs["sub_response"].status_code = 503
        return ExecutionResult(data=None, errors=[Unavailable(message, **extensions)])

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
    """The code of an error raised without one (document limits raise their own)."""
    if error.original_error is None or not error.path:
        # Parse and validation errors, and variables that do not coerce to their types (raised
        # before anything executes, so without a path): the request itself is wrong.
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.INTERNAL


def _database_failed(result: Any) -> bool:
    """Whether a field failed because the database could not be reached or answered too late:
    the answer is then 503 UNAVAILABLE without data, not an internal error."""
    errors = getattr(result, "errors", None) or ()
    return any(database_unavailable(error.original_error) for error in errors)


def _answered_a_mutation(result: Any) -> bool:
    """A mutation field answered (its change was committed before the answer was built)."""
    data = getattr(result, "data", None) or {}
    return any(value is not None for value in data.values())


def _operation_name(kwargs: dict[str, Any]) -> str | None:
    data = kwargs.get("request_data")
    name = getattr(data, "operation_name", None)
    return name if isinstance(name, str) else None
