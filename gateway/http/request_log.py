"""One log line per HTTP request, and how the process logs: JSON lines in production, readable
text in development.

A line names the request id (the ``x-request-id`` header and the access log's), the caller
(user id and username), the GraphQL operation, the status and the duration. Nothing else of
the request: no headers (tokens), no body (passwords, variables, PHI), no query string.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Gauge
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit import AuditTrail
from gateway.settings import Settings

logger = logging.getLogger("gateway.request")
IN_FLIGHT = Gauge("gateway_http_requests_in_flight", "HTTP requests being answered")
TRAIL_STATE = "audit_trail"  # request.state key: the request's AuditTrail, once it has one
# Operation names and usernames are the client's to choose until checked: only plain ones are
# logged, so that no line can be forged or carry a payload.
GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
USERNAME = re.compile(r"[\w.@+-]{1,100}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def remember_trail(request: HTTPConnection, trail: AuditTrail) -> None:
    """Let the request's log line name what its access-log entries name (id, caller,
    operation, as they are when the request ends)."""
    setattr(request.state, TRAIL_STATE, trail)


class RequestLog:
    """Pure ASGI middleware: logs each HTTP request once it has been answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500}  # unless the app answers otherwise

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["request_id"] = _header(message, b"x-request-id")
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            IN_FLIGHT.dec()
            _log(scope, answer, (time.perf_counter() - started) * 1000)


def _log(scope: Scope, answer: dict[str, Any], duration_ms: float) -> None:
    trail = scope.get("state", {}).get(TRAIL_STATE)
    caller = trail if isinstance(trail, AuditTrail) else None
    fields = {
        "request_id": answer.get("request_id"),
        "method": scope["method"],
        "path": scope["path"],
        "status": answer["status"],
        "duration_ms": round(duration_ms, 1),
        "user_id": caller.user_id if caller else None,
        "username": _plain(USERNAME, caller.username if caller else None),
        "operation": _plain(GRAPHQL_NAME, caller.operation if caller else None),
    }
    logger.info(
        "%(method)s %(path)s %(status)s %(duration_ms).1f ms operation=%(operation)s "
        "user=%(username)s request=%(request_id)s",
        fields,
        extra={"request": fields},
    )


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _plain(pattern: re.Pattern[str], value: str | None) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "request", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def log_formatter(settings: Settings) -> logging.Formatter:
    """JSON lines unless GATEWAY_LOG_FORMAT says text (the default in development)."""
    log_format = settings.log_format or ("text" if settings.is_development else "json")
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Every logger of the process (the gateway's, uvicorn's, SQLAlchemy's) to stderr, in one
    format: the root logger's only handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(settings))
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Casbin prints its whole model and policy at INFO on each load (start-up, SIGHUP).
    logging.getLogger("casbin").setLevel(max(logging.WARNING, root.level))
