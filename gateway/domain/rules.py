"""Rule violations: contract errors that say which rule was broken and why."""

from __future__ import annotations

from gateway.errors import BadUserInput, Conflict, Forbidden, GatewayError


def violation(rule: str, message: str, *, kind: type[GatewayError] = BadUserInput) -> GatewayError:
    """An error for ``rule`` (e.g. "R7"), carried in ``extensions.rule``."""
    return kind(f"{rule}: {message}", rule=rule)


def conflict(rule: str, message: str) -> GatewayError:
    """The request is well formed but the current state forbids it (e.g. the last admin)."""
    return violation(rule, message, kind=Conflict)


def refused(rule: str, message: str) -> GatewayError:
    """The caller's role may not make this change (e.g. R6: only admins grant admin)."""
    return violation(rule, message, kind=Forbidden)
