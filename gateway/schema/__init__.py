"""The GraphQL schema: types per domain, assembled here."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLNonNull, GraphQLObjectType
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from gateway.enforcement import Enforcement
from gateway.schema.agencies import AgencyGrant
from gateway.schema.query import Query
from gateway.settings import Settings


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | SchemaExtension] = [
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=30),
    ]
    if settings.enforce:
        extensions.append(Enforcement)
    return strawberry.Schema(query=Query, types=[AgencyGrant], extensions=extensions)


def schema_fields(schema: strawberry.Schema) -> Iterator[tuple[str, str, bool]]:
    """Every (type, field, non-null?) of the schema's object types, introspection excluded."""
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            yield name, field_name, isinstance(field.type, GraphQLNonNull)
