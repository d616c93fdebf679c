"""The GraphQL schema: types per domain, assembled here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import strawberry
from graphql import GraphQLError, GraphQLNonNull, GraphQLObjectType
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.types import ExecutionContext

from gateway.authz import Enforcement
from gateway.errors import GatewayError
from gateway.schema.agencies import AgencyGrant
from gateway.schema.limits import DOCUMENTS_KEPT, DocumentLimiter, DocumentLimits
from gateway.schema.mutations import Mutation
from gateway.schema.query import Query
from gateway.settings import Settings


class GatewaySchema(strawberry.Schema):
    """Logs only unexpected errors: refusals and bad input are answers, not failures."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if not _is_answer(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def _is_answer(error: GraphQLError) -> bool:
    return (
        isinstance(error, GatewayError)
        or isinstance(error.original_error, GatewayError)
        or (
            error.original_error is None  # parse and validation errors
        )
    )


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        partial(DocumentLimiter, DocumentLimits.of(settings)),
        partial(ValidationCache, maxsize=DOCUMENTS_KEPT),
    ]
    if settings.enforce:
        extensions.append(Enforcement)
    return GatewaySchema(query=Query, mutation=Mutation, types=[AgencyGrant], extensions=extensions)


def schema_fields(schema: strawberry.Schema) -> Iterator[tuple[str, str, bool]]:
    """Every (type, field, non-null?) of the schema's object types, introspection excluded."""
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            yield name, field_name, isinstance(field.type, GraphQLNonNull)


def object_types(schema: strawberry.Schema) -> dict[str, type]:
    """The Python class behind each object type (a generic's, for its specializations)."""
    found: dict[str, type] = {}
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        definition = (graphql_type.extensions or {}).get("strawberry-definition")
        if definition is not None:
            origin = (definition.concrete_of or definition).origin
            found[name] = origin
    return found
