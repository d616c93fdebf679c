"""The error codes of the public contract (SPEC section 4) as GraphQL errors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL_SERVER_ERROR"


class GatewayError(GraphQLError):
    """A GraphQL error whose ``extensions.code`` is one of the contract's codes."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code.value, **extensions})


class Unauthenticated(GatewayError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(GatewayError):
    code = ErrorCode.FORBIDDEN


class NotFound(GatewayError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(GatewayError):
    code = ErrorCode.BAD_USER_INPUT


class Conflict(GatewayError):
    code = ErrorCode.CONFLICT


class Unavailable(GatewayError):
    code = ErrorCode.UNAVAILABLE


class RateLimited(GatewayError):
    code = ErrorCode.RATE_LIMITED


class QueryTooComplex(GatewayError):
    code = ErrorCode.QUERY_TOO_COMPLEX
