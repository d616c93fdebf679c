"""The one enforcement point: every field of every operation passes through here.

``Enforcement.resolve`` runs around each resolver. It asks the request's memoized decision
table, records the execution in the request's access-log buffer, and then either calls the
resolver (allow), calls it and masks the value (masked read), or raises ``FORBIDDEN``
(``UNAUTHENTICATED`` for a caller without a token) so the field resolves to null and the rest
of the response is still returned (V2). No resolver ever asks Casbin itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from gateway import masking
from gateway.authorization import Decision
from gateway.caller import ROOT_SCOPE
from gateway.context import Context
from gateway.errors import Forbidden, Unauthenticated


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
        type_name = info.parent_type.name
        field = info.field_name
        if field.startswith("__") or type_name.startswith("__"):
            return _introspection(_next, root, info, *args, **kwargs)
        context: Context = info.context
        scope = getattr(root, "node_scope", ROOT_SCOPE)
        verdict = context.decide(scope, type_name, field)
        decision_id = context.access_log.record(
            type_name,
            getattr(root, "id", None),
            field,
            verdict,
            scope.org_ids[0] if scope.org_ids else None,
        )
        if verdict.decision is Decision.ALLOW:
            return _next(root, info, *args, **kwargs)
        if verdict.decision is Decision.DENY:
            raise _refusal(context, type_name, field, decision_id)
        value = _next(root, info, *args, **kwargs)
        if isawaitable(value):
            return _mask_later(value, type_name, field)
        return masking.apply(type_name, field, value)


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


def _refusal(context: Context, type_name: str, field: str, decision_id: str) -> Exception:
    if not context.caller.is_authenticated:
        return Unauthenticated("Authentication required", decisionId=decision_id)
    return Forbidden(f"Not allowed to read {type_name}.{field}", decisionId=decision_id)


async def _mask_later(value: Awaitable[Any], type_name: str, field: str) -> object:
    return masking.apply(type_name, field, await value)
