"""The GraphQL request body: at most ``max_body_bytes`` (413), then a JSON object of UTF-8 text
(400). Both refusals come before anything runs, in GraphQL's error shape with a contract code.

A malformed body is the client's mistake: a string, number or ``NaN`` where the object belongs,
bytes that are not UTF-8, JSON nested past the interpreter's recursion limit or an
``operationName`` that is not text must never surface as a 500.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from cross_web import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ErrorCode

# A refusal's code by HTTP status; any other status the view refuses with is the client's mistake.
STATUS_CODES = {404: ErrorCode.NOT_FOUND, 413: ErrorCode.QUERY_TOO_COMPLEX}


def refusal(status: int, message: str) -> Response:
    """A request refused before it ran: errors only, no ``data`` (GraphQL over HTTP)."""
    code = STATUS_CODES.get(status, ErrorCode.BAD_USER_INPUT)
    body = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    # json.dumps escapes what is not ASCII, so text the client sent (a lone surrogate in an
    # unknown operation's name) cannot break the answer.
    text = json.dumps(body, separators=(",", ":"))
    return Response(text, status_code=status, media_type="application/json")


def bad_request(message: str) -> NoReturn:
    raise HTTPException(400, message)


def decode(data: str | bytes) -> object:
    """The body as JSON: UTF-8 only, no ``NaN`` or ``Infinity``, an object or a (batch) list."""
    try:
        text = data.decode() if isinstance(data, bytes) else data  # strict: no lone surrogates
        value = json.loads(text, parse_constant=_not_json)
    except UnicodeDecodeError:
        bad_request("The request body is not UTF-8 text")
    except RecursionError:
        bad_request("The request body nests JSON too deeply")
    except ValueError:  # JSONDecodeError, NaN, a number of more digits than Python converts
        bad_request("The request body is not valid JSON")
    if not isinstance(value, dict | list):
        bad_request("The request body must be a JSON object")
    return value


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def check_operation_name(name: Any) -> None:
    """``operationName`` is text or null: it is matched, answered and logged (A1) as text."""
    if name is None:
        return
    if not isinstance(name, str):
        bad_request("The GraphQL operation's `operationName` must be a string or null")
    try:
        name.encode()
    except UnicodeEncodeError:
        bad_request("The GraphQL operation's `operationName` is not valid text")


class BodyTooLarge(Exception):
    """The body went past the limit while it was read."""


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is answered 413, by its Content-Length before
    anything reads it, else as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            if started:  # too late to answer: the connection just ends
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The request body exceeds {self.max_bytes} bytes"
        await refusal(413, message)(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    """The Content-Length header's value; 0 without a valid one (then the bytes count)."""
    value = dict(scope["headers"]).get(b"content-length", b"")
    if not value.isdigit():
        return 0
    return int(value) if len(value) < 19 else 10**18  # int() refuses thousands of digits
