"""The mutation root, merged from one type per domain."""

from __future__ import annotations

from strawberry.tools import merge_types

from gateway.schema.mutations.members import MemberMutations

Mutation = merge_types("Mutation", (MemberMutations,))
