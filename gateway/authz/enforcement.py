"""The one enforcement point: every field of every operation passes through here.

``Enforcement.resolve`` runs around each resolver. It derives the object's scope from its
type's declaration (gateway.authz.scope; a type without one is refused: fail closed), looks up
the request's memoized decision for (object scope, type, field), records the execution in the
request's audit trail, and then either calls the resolver (allow), calls it and masks the
value (masked read), or raises ``FORBIDDEN`` (``UNAUTHENTICATED`` for a caller without a
token) so the field resolves to null and the rest of the response is still returned (V2). No
resolver ever asks Casbin itself.

This runs once per resolved field, so it is kept to a dictionary lookup and an append.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from gateway.authz import masking
from gateway.authz.decisions import FieldDecision
from gateway.authz.policy import Decision
from gateway.authz.scope import ROOT_SCOPE, SCOPE_ATTRIBUTE, UNDECLARED, NodeScope, ScopeRule
from gateway.data import as_id
from gateway.errors import BadUserInput, Forbidden, Unauthenticated

if TYPE_CHECKING:
    from gateway.context import Context

ALLOW, DENY = Decision.ALLOW, Decision.DENY
MUST_CHANGE = "R14: your password has expired; change it (changePassword) or sign out (logout)"
MUST_ENROLL = (
    "R14: your roles require a second factor: enrol one (beginSecondFactorEnrollment, then "
    "confirmSecondFactor) or sign out (logout)"
)


class Enforcement(SchemaExtension):
    """Decide, record and mask every field resolution (V2, A1)."""

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: str,
        **kwargs: Any,
    ) -> Any:
        context: Context = info.context
        if root is None:  # the Query and Mutation roots
            scope = _root_scope(kwargs)
            if _holds_nul(kwargs):
                raise BadUserInput("Text arguments may not contain NUL characters")
        else:
            rule: ScopeRule | None = getattr(root, SCOPE_ATTRIBUTE, None)
            scope = UNDECLARED if rule is None else rule.scope_of(root, context.caller.user_id)
        decided = context.authz.field((scope, info.parent_type.name, info.field_name))
        if not decided.recorded:
            return _introspection(_next, root, info, *args, **kwargs)
        object_id = getattr(root, "id", None) if root is not None else _root_object(kwargs)
        index = context.audit.record(decided.entry, object_id)
        decision = decided.verdict.decision
        if decision is ALLOW:
            return _next(root, info, *args, **kwargs)
        if decision is DENY:
            raise _refusal(context, decided, context.audit.decision_id(index))
        value = _next(root, info, *args, **kwargs)
        if isawaitable(value):
            return _mask_later(value, decided.type_name, decided.field)
        return masking.apply(decided.type_name, decided.field, value)


def _root_scope(arguments: dict[str, Any]) -> NodeScope:
    """A root field acting on an organization names it in ``organizationId``: its decision is
    made with the caller's roles there (a malformed id grants no organization's roles)."""
    raw = arguments.get("organizationId")
    key = as_id(raw) if isinstance(raw, str) else None
    return ROOT_SCOPE if key is None else NodeScope((key,))


def _holds_nul(value: object) -> bool:
    """NUL cannot be stored in PostgreSQL text: refuse it up front, as bad input (both
    databases answer alike)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _root_object(arguments: dict[str, Any]) -> str | None:
    """What a root field was asked about, for the log: "who looked up organization 7?"."""
    for name in (
        "id", "membershipId", "requestId", "grantId", "invitationId", "taxIdId", "reviewId",
        "userId", "organizationId",
    ):  # fmt: skip
        value = arguments.get(name)
        if isinstance(value, str):
            return value[:64]
    return None


def _introspection(
    _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], *args: str, **kwargs: Any
) -> Any:
    """Schema introspection describes no data; outside development it needs a signed-in caller."""
    context: Context = info.context
    if info.field_name == "__typename" or context.settings.is_development:
        return _next(root, info, *args, **kwargs)
    if not context.caller.is_authenticated:
        raise Unauthenticated("Sign in to introspect the schema")
    return _next(root, info, *args, **kwargs)


def _refusal(context: Context, decided: FieldDecision, decision_id: str) -> Exception:
    if not context.caller.is_authenticated:
        return Unauthenticated("Authentication required", decisionId=decision_id)
    if context.caller.password_expired:
        return Forbidden(MUST_CHANGE, decisionId=decision_id, rule="R14")
    if context.caller.must_enroll_second_factor:
        return Forbidden(MUST_ENROLL, decisionId=decision_id, rule="R14")
    verb = "call" if decided.type_name == "Mutation" else "read"
    return Forbidden(
        f"Not allowed to {verb} {decided.type_name}.{decided.field}", decisionId=decision_id
    )


async def _mask_later(value: Awaitable[Any], type_name: str, field: str) -> object:
    return masking.apply(type_name, field, await value)
