"""Compiled reads: a read operation planned once, each root field answered by one statement.

``CompiledReads.execute`` answers a query the way the resolvers would, but without them:
the plan (gateway.reads.plan) is made once per document, operation and shape of the caller's
row scopes and kept in a bounded cache; each root field's whole answer comes back from the
database as one JSON value; the disclosure walk (gateway.authz.disclosure) applies the same
memoized decisions as the enforcement point and records the same executions. Whatever it does
not compile, it returns None for, and the resolvers answer (counted in ``/metrics``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLSchema, located_error, validate
from strawberry.types import ExecutionResult

from gateway.authz import Disclosure, Unanswerable
from gateway.reads.plan import CompiledRoot, NotCompiled, Plan, ScopeShape, compile_operation
from gateway.reads.sql import Bindings
from gateway.schema.limits import DOCUMENTS_KEPT, DocumentLimits, parse_within

if TYPE_CHECKING:
    from gateway.context import Context
    from gateway.settings import Settings

__all__ = ["CompiledReads"]
PLANS_KEPT = DOCUMENTS_KEPT * 4  # a document's plans differ by operation and row-scope shape


class CompiledReads:
    """The process's plans and the execution of a compiled read (see module)."""

    def __init__(self, schema: GraphQLSchema, settings: Settings, postgresql: bool) -> None:
        self.schema = schema
        self.settings = settings
        self.postgresql = postgresql
        self.limits = DocumentLimits.of(settings)
        self._plans: OrderedDict[tuple[str, str | None, ScopeShape], Plan | None] = OrderedDict()

    def plan(self, query: str, operation_name: str | None, scope: ScopeShape) -> Plan | None:
        key = (query, operation_name, scope)
        plans = self._plans
        if key in plans:
            plans.move_to_end(key)
            return plans[key]
        plan = self._compile(query, operation_name, scope)
        plans[key] = plan
        if len(plans) > PLANS_KEPT:
            plans.popitem(last=False)
        return plan

    def _compile(self, query: str, operation_name: str | None, scope: ScopeShape) -> Plan | None:
        try:
            document = parse_within(query, self.limits)
        except GraphQLError:  # refused or malformed: the resolvers' path says so
            return None
        if validate(self.schema, document):
            return None
        settings = self.settings
        return compile_operation(
            self.schema,
            document,
            operation_name,
            scope,
            self.postgresql,
            settings.page_size_default,
            settings.page_size_max,
        )

    async def execute(
        self,
        context: Context,
        query: object,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> ExecutionResult | None:
        """The answer, or None when the resolvers must give it (nothing was recorded)."""
        if not isinstance(query, str):
            return None
        plan = self.plan(query, operation_name, ScopeShape.of(context.rows))
        if plan is None:
            return None
        try:
            arguments = plan.bind(variables or {})
        except NotCompiled:
            return None
        bindings = Bindings(arguments, context.rows, context.caller.user_id)
        walk = Disclosure(context, self.settings.enforce, arguments)
        data: dict[str, Any] = {}
        try:
            values = await self._fetch(context, plan, bindings)
        except _DatabaseFault as fault:  # the view answers 503 for a database fault
            if walk.enforce:  # each root field was run, as the resolvers' would have been
                for compiled in plan.roots:
                    walk.attempted(compiled.root_of(arguments))
            walk.finish()
            nodes, key = list(fault.root.root.nodes), fault.root.root.key
            error = located_error(fault.failure, nodes, [key])
            return ExecutionResult(data=None, errors=[error])
        for compiled, value in zip(plan.roots, values, strict=True):
            missing = compiled.missing if value is None else None
            try:
                data[compiled.root.key] = walk.root(compiled.root_of(arguments), value, missing)
            except Unanswerable:
                return None
        context.audit.operation = plan.operation_name
        errors = walk.finish()
        return ExecutionResult(data=data, errors=errors or None)

    @staticmethod
    async def _fetch(context: Context, plan: Plan, bindings: Bindings) -> list[Any]:
        """Each root field's answer, in one connection: one statement per root field."""
        values: list[Any] = []
        compiled = plan.roots[0]
        try:
            async with context.db.json_reader() as reader:
                for compiled in plan.roots:
                    if compiled.sql is None:
                        values.append(list(compiled.catalog))
                        continue
                    parameters = tuple(bind(bindings) for bind in compiled.binders)
                    values.append(await reader.fetch(compiled.sql, parameters))
        except Exception as failed:
            raise _DatabaseFault(compiled, failed) from failed
        return values


class _DatabaseFault(Exception):
    """The database failed a compiled read's statement for ``root``."""

    def __init__(self, root: CompiledRoot, failure: Exception) -> None:
        super().__init__(root.root.key)
        self.root = root
        self.failure = failure
