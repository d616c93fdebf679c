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

from collections.abc import Awaitable, Callable, Iterator, Mapping
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from gateway.audit import Entry, storable
from gateway.authz import masking
from gateway.authz.decisions import FieldDecision
from gateway.authz.policy import Decision
from gateway.authz.scope import ROOT_SCOPE, SCOPE_ATTRIBUTE, UNDECLARED, NodeScope, ScopeRule
from gateway.data import as_id
from gateway.errors import BadUserInput, Forbidden, GatewayError, Unauthenticated

if TYPE_CHECKING:
    from gateway.context import Context

ALLOW, DENY = Decision.ALLOW, Decision.DENY
UNSTORABLE_INPUT = "Text arguments may not contain NUL characters or unpaired surrogates"
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
        if root is None:  # the Query and Mutation roots
            return _resolve_root(_next, info, *args, **kwargs)
        context: Context = info.context
        rule: ScopeRule | None = getattr(root, SCOPE_ATTRIBUTE, None)
        scope = UNDECLARED if rule is None else rule.scope_of(root, context.caller.user_id)
        decided = context.authz.field((scope, info.parent_type.name, info.field_name))
        if not decided.recorded:
            return _introspection(_next, root, info, *args, **kwargs)
        index = context.audit.record(decided.entry, getattr(root, "id", None))
        decision = decided.verdict.decision
        if decision is ALLOW:
            return _next(root, info, *args, **kwargs)
        if decision is DENY:
            raise refusal(context, decided, context.audit.decision_id(index))
        return _masked(decided, _next(root, info, *args, **kwargs))

    def on_execute(self) -> Iterator[None]:
        """A1: entries name the operation the document runs (whether or not the request named
        it), from the first batch a mutation writes."""
        context: Context = self.execution_context.context
        context.audit.operation = self.execution_context.operation_name
        yield


def _resolve_root(
    _next: Callable[..., Any], info: GraphQLResolveInfo[Any], *args: str, **kwargs: Any
) -> Any:
    """A root field: decided in the organization its arguments name, logged with what it was
    asked about, and logged again as refused if its input or a rule refuses it (A1)."""
    context: Context = info.context
    key = (root_scope(kwargs), info.parent_type.name, info.field_name)
    decided = context.authz.field(key)
    if not decided.recorded:
        return _introspection(_next, None, info, *args, **kwargs)
    object_id = storable(root_object(kwargs), 64)
    index = context.audit.record(decided.entry, object_id)
    if unstorable(kwargs):
        raise _settled(context, decided, index, object_id, BadUserInput(UNSTORABLE_INPUT))
    if decided.verdict.decision is DENY:
        raise refusal(context, decided, context.audit.decision_id(index))
    try:
        value = _next(None, info, *args, **kwargs)
    except GatewayError as refused:
        raise _settled(context, decided, index, object_id, refused) from None
    if isawaitable(value):
        value = _outcome(context, decided, index, object_id, value)
    return value if decided.verdict.decision is ALLOW else _masked(decided, value)


async def _outcome(
    context: Context,
    decided: FieldDecision,
    index: int,
    object_id: str | None,
    value: Awaitable[Any],
) -> Any:
    try:
        return await value
    except GatewayError as refused:
        raise _settled(context, decided, index, object_id, refused) from None


def _settled(
    context: Context,
    decided: FieldDecision,
    index: int,
    object_id: str | None,
    refused: GatewayError,
) -> GatewayError:
    """The field was allowed, but its input or a rule refused it (R6, NOT_FOUND, CONFLICT,
    ...): its execution on ``object_id`` is recorded as the refusal and its rule instead."""
    context.audit.amend(index, settled_entry(decided, refused), object_id)
    return refused


def settled_entry(decided: FieldDecision, refused: GatewayError) -> Entry:
    """The entry of an execution the policy allowed and its input or a rule refused."""
    code = (refused.extensions or {}).get("code", "")
    return Entry.of(
        organization_id=decided.entry.organization_id,
        object_type=decided.type_name,
        field=decided.field,
        action=decided.verdict.action,
        allowed=False,
        rule=storable(f"{code}: {refused.message}", 200),
    )


def root_scope(arguments: Mapping[str, Any]) -> NodeScope:
    """A root field acting on an organization names it in ``organizationId``: its decision is
    made with the caller's roles there (a malformed id grants no organization's roles)."""
    raw = arguments.get("organizationId")
    key = as_id(raw) if isinstance(raw, str) else None
    return ROOT_SCOPE if key is None else NodeScope((key,))


def unstorable(value: object) -> bool:
    """NUL cannot be stored in PostgreSQL text, nor an unpaired surrogate in any UTF-8 text:
    such input is refused as bad input (both databases answer alike)."""
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and not _encodes(value))
    if isinstance(value, dict):
        return any(unstorable(v) for v in value.values())
    if isinstance(value, list):
        return any(unstorable(v) for v in value)
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def root_object(arguments: Mapping[str, Any]) -> str | None:
    """What a root field was asked about, for the log: "who looked up organization 7?", "who
    searched for smith?" (the help desk's ``users(search:)``)."""
    for name in (
        "id", "membershipId", "requestId", "grantId", "invitationId", "taxIdId", "reviewId",
        "userId", "organizationId", "search",
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


def refusal(context: Context, decided: FieldDecision, decision_id: str) -> GatewayError:
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


def _masked(decided: FieldDecision, value: Any) -> Any:
    """A masked read's value (now, or once the resolver's awaitable is done)."""
    if isawaitable(value):
        return _mask_later(value, decided.type_name, decided.field)
    return masking.apply(decided.type_name, decided.field, value)


async def _mask_later(value: Awaitable[Any], type_name: str, field: str) -> object:
    return masking.apply(type_name, field, await value)
