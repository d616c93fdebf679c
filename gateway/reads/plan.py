"""A read operation compiled once: its shapes (what the walk discloses) and its SQL.

``compile_operation`` turns a validated query into a ``Plan``: per root field one SQL
statement (gateway.reads.sql) and the ``Shape`` tree the disclosure walk follows
(gateway.authz.disclosure). What it cannot compile (mutations, directives, abstract types, a
field missing from gateway.reads.tables) makes it return None: the operation then runs through
the resolvers, which stay the reference.

A plan depends on the document, the operation and which of the caller's row scopes are
unbounded (a health-plan role reads every organization: no condition at all); the values of
arguments, variables and row scopes are bound per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
)

from gateway.authz import Kind, Root, Selected, Shape, declares_scope, unstorable
from gateway.catalog import MembershipStatus
from gateway.data import PageRequest, as_id
from gateway.reads.sql import Bindings, Statement
from gateway.reads.tables import RELATIONS, ROOTS, TABLES, Relation, RootField, Scope
from gateway.schema.catalog import ETOOLS, ROLES

CATALOGS: dict[str, Mapping[str, Any]] = {"Role": ROLES, "ETool": ETOOLS}
NO_AFTER = -1  # no cursor: every key is greater (keys start at 1)
MAX_INT = 2**31 - 1


class NotCompiled(Exception):
    """The operation, or the request's input, is the resolvers' to answer."""


@dataclass(frozen=True, slots=True)
class ScopeShape:
    """Which row scopes of the caller are unbounded: part of a plan's key."""

    all_organizations: bool
    all_providers: bool
    all_memberships: bool

    @classmethod
    def of(cls, rows: Any) -> ScopeShape:
        return cls(
            rows.organizations is None,
            rows.every_provider_in is None,
            rows.memberships_in is None,
        )


Slot = Callable[[Mapping[str, Any]], Any]  # an argument's value from the request's variables


@dataclass(frozen=True, slots=True)
class CompiledRoot:
    root: Selected
    arguments: Mapping[str, int]  # argument name -> slot, as the log and its checks see them
    sql: str | None  # None: answered without the database (the catalogs)
    binders: tuple[Callable[[Bindings], Any], ...]
    missing: str | None  # an object looked up by id: the NOT_FOUND message
    catalog: tuple[str, ...] = ()

    def root_of(self, arguments: tuple[Any, ...]) -> Root:
        return Root(self.root, {name: arguments[slot] for name, slot in self.arguments.items()})


@dataclass(frozen=True, slots=True)
class Plan:
    operation_name: str | None
    roots: tuple[CompiledRoot, ...]
    slots: tuple[Slot, ...]

    def bind(self, variables: Mapping[str, Any]) -> tuple[Any, ...]:
        """The request's argument values; NotCompiled when one needs the resolvers' answer
        (malformed input is refused there, with its own error)."""
        return tuple(slot(variables) for slot in self.slots)


def compile_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    scope: ScopeShape,
    postgresql: bool,
    page_default: int,
    page_max: int,
) -> Plan | None:
    try:
        return _Compiler(schema, document, scope, postgresql, page_default, page_max).plan(
            operation_name
        )
    except NotCompiled:
        return None


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        scope: ScopeShape,
        postgresql: bool,
        page_default: int,
        page_max: int,
    ) -> None:
        self.schema = schema
        self.scope = scope
        self.postgresql = postgresql
        self.page_default = page_default
        self.page_max = page_max
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.slots: list[Slot] = []
        self.defaults: dict[str, ValueNode] = {}
        self.required: set[str] = set()

    def plan(self, operation_name: str | None) -> Plan:
        operation = self._operation(operation_name)
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise NotCompiled
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if definition.directives:
                raise NotCompiled
            if definition.default_value is not None:
                self.defaults[name] = definition.default_value
            elif isinstance(definition.type, NonNullTypeNode):
                self.required.add(name)
        query_type = self.schema.query_type
        assert query_type is not None
        roots = []
        for key, nodes in self._collect(query_type, [operation.selection_set]).items():
            roots.append(self._root(query_type, key, nodes))
        return Plan(
            operation.name.value if operation.name else None, tuple(roots), tuple(self.slots)
        )

    def _operation(self, name: str | None) -> OperationDefinitionNode:
        if name is None:
            if len(self.operations) != 1:
                raise NotCompiled
            return self.operations[0]
        for operation in self.operations:
            if operation.name and operation.name.value == name:
                return operation
        raise NotCompiled

    # ---- selections ------------------------------------------------------------------------

    def _collect(
        self, parent: GraphQLObjectType, sets: list[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Response key -> its field nodes, in document order, fragments merged. Directives
        vary by request: an operation using them is the resolvers'."""
        found: dict[str, list[FieldNode]] = {}
        for selection_set in sets:
            self._collect_into(parent, selection_set, found)
        return found

    def _collect_into(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        found: dict[str, list[FieldNode]],
    ) -> None:
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompiled
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                self._same_type(parent, selection.type_condition)
                self._collect_into(parent, selection.selection_set, found)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.directives:
                    raise NotCompiled
                self._same_type(parent, fragment.type_condition)
                self._collect_into(parent, fragment.selection_set, found)

    @staticmethod
    def _same_type(parent: GraphQLObjectType, condition: Any) -> None:
        if condition is not None and condition.name.value != parent.name:
            raise NotCompiled

    def _subselections(self, nodes: list[FieldNode]) -> list[SelectionSetNode]:
        return [n.selection_set for n in nodes if n.selection_set is not None]

    # ---- roots -----------------------------------------------------------------------------

    def _root(
        self, query_type: GraphQLObjectType, key: str, nodes: list[FieldNode]
    ) -> CompiledRoot:
        name = nodes[0].name.value
        spec = ROOTS.get(name)
        definition = query_type.fields.get(name)
        if spec is None or definition is None:
            raise NotCompiled
        statement = Statement(self.postgresql)
        non_null = isinstance(definition.type, GraphQLNonNull)
        arguments = self._arguments(nodes[0])
        if spec.kind is Kind.CATALOG:
            self._no_arguments(arguments)
            child = self._catalog_shape(spec.child, nodes)
            selected = Selected(key, name, Kind.CATALOG, non_null, tuple(nodes), child=child)
            codes = tuple(CATALOGS[spec.child])
            return CompiledRoot(selected, {}, None, (), None, codes)
        answer = self._root_connection if spec.kind is Kind.CONNECTION else self._root_object
        shape, sql, logged = answer(spec, nodes, definition, arguments, statement)
        selected = Selected(
            key, name, spec.kind, non_null, tuple(nodes), child=shape, slot=logged.get("first", -1)
        )
        return CompiledRoot(selected, logged, sql, tuple(statement.binders), spec.missing)

    def _root_object(
        self,
        spec: RootField,
        nodes: list[FieldNode],
        definition: Any,
        arguments: dict[str, ValueNode],
        statement: Statement,
    ) -> tuple[Shape, str, dict[str, int]]:
        """An object root's shape, statement and logged arguments (by their slots)."""
        alias = statement.alias()
        logged: dict[str, int] = {}
        if spec.by == "id":
            id_slot = self._slot(arguments.pop("id", None), _id_value)
            logged["id"] = id_slot
            condition = f"{alias}.id = " + statement.param(
                lambda b: _key_or_none(b.arguments[id_slot])
            )
        else:
            condition = f"{alias}.id = " + statement.param(lambda b: b.user_id)
        self._no_arguments(arguments)
        shape, value = self._object(
            statement, _object_type(definition.type), self._subselections(nodes), alias, spec.orgs
        )
        where = " AND ".join(
            part
            for part in (condition, self._scope(statement, spec.scope, alias, None))
            if part != "TRUE"
        )
        return shape, f"SELECT {value} FROM {spec.table} {alias} WHERE {where}", logged

    def _root_connection(
        self,
        spec: RootField,
        nodes: list[FieldNode],
        definition: Any,
        arguments: dict[str, ValueNode],
        statement: Statement,
    ) -> tuple[Shape, str, dict[str, int]]:
        """A connection root's shape, statement and logged arguments (``first``: the slot of
        its page size)."""
        first, after = self._page(arguments)
        self._no_arguments(arguments)
        relation = Relation(Kind.CONNECTION, spec.child, spec.table, spec.where, scope=spec.scope)
        shape, value = self._connection(
            statement, _object_type(definition.type), relation, nodes, None, first, after
        )
        return shape, f"SELECT {value}", {"first": first, "after": after}

    # ---- objects ---------------------------------------------------------------------------

    def _object(
        self,
        statement: Statement,
        graphql_type: GraphQLObjectType,
        sets: list[SelectionSetNode],
        alias: str,
        orgs: tuple[str, ...] | None,
        parent: str | None = None,
    ) -> tuple[Shape, str]:
        """The shape of one object of ``graphql_type`` read from row ``alias`` and its JSON
        array: [object id, organizations..., owner?, values...]."""
        table = TABLES.get(graphql_type.name)
        if table is None or not _declares_scope(graphql_type):
            raise NotCompiled
        own_orgs = table.orgs if orgs is None else orgs
        values = [f"{alias}.{table.id}" if table.id else "NULL"]
        values += [_sql(o, alias, parent) for o in own_orgs]
        if table.owner:
            values.append(_sql(table.owner, alias, parent))
        fields = []
        for key, nodes in self._collect(graphql_type, sets).items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(Selected(key, name, Kind.TYPENAME, True, tuple(nodes)))
                continue
            definition = graphql_type.fields.get(name)
            if definition is None:
                raise NotCompiled
            non_null = isinstance(definition.type, GraphQLNonNull)
            column = table.columns.get(name)
            if column is not None:
                if nodes[0].arguments:
                    raise NotCompiled
                kind = _scalar_kind(definition.type, column[1])
                value = f"{alias}.{column[0]}"
                if kind is Kind.ID:  # the schema's IDs are strings: made so by the database
                    kind, value = Kind.VALUE, f"CAST({value} AS TEXT)"
                fields.append(Selected(key, name, kind, non_null, tuple(nodes), len(values)))
                values.append(value)
                continue
            relation = RELATIONS.get((graphql_type.name, name))
            if relation is None:
                raise NotCompiled
            selected, value = self._relation(
                statement, relation, key, name, nodes, definition, non_null, alias, len(values)
            )
            fields.append(selected)
            values.append(value)
        shape = Shape(graphql_type.name, tuple(fields), len(own_orgs), table.owner is not None)
        return shape, statement.array(values)

    def _relation(
        self,
        statement: Statement,
        relation: Relation,
        key: str,
        name: str,
        nodes: list[FieldNode],
        definition: Any,
        non_null: bool,
        parent: str,
        position: int,
    ) -> tuple[Selected, str]:
        arguments = self._arguments(nodes[0])
        if relation.expression:
            self._no_arguments(arguments)
            kind = _scalar_kind(definition.type, relation.kind)
            value = f"({_sql(relation.expression, '', parent)})"
            return Selected(key, name, kind, non_null, tuple(nodes), position), value
        if relation.kind is Kind.CONNECTION:
            first, after = self._page(arguments)
            statuses = self._statuses(relation, arguments)
            self._no_arguments(arguments)
            shape, value = self._connection(
                statement,
                _object_type(definition.type),
                relation,
                nodes,
                parent,
                first,
                after,
                statuses,
            )
            return Selected(
                key, name, Kind.CONNECTION, non_null, tuple(nodes), position, shape, first
            ), value
        self._no_arguments(arguments)
        if relation.kind is Kind.CATALOG:
            shape = self._catalog_shape(relation.child, nodes)
            alias = statement.alias()
            where = _sql(relation.where, alias, parent)
            rows = (
                f"SELECT {relation.column} FROM {relation.table} {alias} WHERE {where} "
                f"ORDER BY {relation.order}"
            )
            value = statement.aggregate(f"{alias}.{relation.column}", rows, alias, relation.order)
            return Selected(key, name, Kind.CATALOG, non_null, tuple(nodes), position, shape), value
        child_type = _object_type(definition.type)
        if relation.inline:
            shape, value = self._object(
                statement, child_type, self._subselections(nodes), parent, relation.orgs, parent
            )
            return Selected(key, name, Kind.OBJECT, non_null, tuple(nodes), position, shape), value
        alias = statement.alias()
        shape, array = self._object(
            statement, child_type, self._subselections(nodes), alias, relation.orgs, parent
        )
        where = self._where(statement, relation, alias, parent)
        if relation.kind is Kind.OBJECT:
            value = statement.nested(f"SELECT {array} FROM {relation.table} {alias} WHERE {where}")
        else:
            rows = f"SELECT * FROM {relation.table} {alias} WHERE {where} ORDER BY {alias}.id"
            value = statement.aggregate(array, rows, alias, "id")
        return Selected(key, name, relation.kind, non_null, tuple(nodes), position, shape), value

    def _connection(
        self,
        statement: Statement,
        connection_type: GraphQLObjectType,
        relation: Relation,
        nodes: list[FieldNode],
        parent: str | None,
        first: int,
        after: int,
        statuses: int | None = None,
    ) -> tuple[Shape, str]:
        """[the page's rows (one extra), totalCount] and the connection's structure shape."""
        edge_type = _object_type(connection_type.fields["edges"].type)
        page_info_type = _object_type(connection_type.fields["pageInfo"].type)
        node_type = _object_type(edge_type.fields["node"].type)
        alias = statement.alias()
        parts = []
        node_shape: Shape | None = None
        node_array = "NULL"
        for key, part_nodes in self._collect(connection_type, self._subselections(nodes)).items():
            name = part_nodes[0].name.value
            non_null = _non_null(connection_type, name)
            if name == "edges":
                edge_fields = []
                for edge_key, edge_nodes in self._collect(
                    edge_type, self._subselections(part_nodes)
                ).items():
                    edge_name = edge_nodes[0].name.value
                    if edge_name == "node":
                        if node_shape is not None:
                            raise NotCompiled  # one node selection per connection
                        node_shape, node_array = self._object(
                            statement,
                            node_type,
                            self._subselections(edge_nodes),
                            alias,
                            relation.orgs,
                            parent,
                        )
                        kind = Kind.NODE
                        child: Shape | None = node_shape
                    else:
                        kind, child = _structure_kind(edge_name), None
                    edge_fields.append(
                        Selected(
                            edge_key,
                            edge_name,
                            kind,
                            _non_null(edge_type, edge_name),
                            tuple(edge_nodes),
                            child=child,
                        )
                    )
                edge_shape = Shape(edge_type.name, tuple(edge_fields), structure=True)
                parts.append(
                    Selected(key, name, Kind.EDGES, non_null, tuple(part_nodes), child=edge_shape)
                )
            elif name == "pageInfo":
                info_fields = tuple(
                    Selected(
                        k,
                        n[0].name.value,
                        _structure_kind(n[0].name.value),
                        _non_null(page_info_type, n[0].name.value),
                        tuple(n),
                    )
                    for k, n in self._collect(
                        page_info_type, self._subselections(part_nodes)
                    ).items()
                )
                info_shape = Shape(page_info_type.name, info_fields, structure=True)
                parts.append(
                    Selected(
                        key, name, Kind.PAGE_INFO, non_null, tuple(part_nodes), child=info_shape
                    )
                )
            else:
                parts.append(
                    Selected(key, name, _structure_kind(name), non_null, tuple(part_nodes))
                )
        if node_shape is None:  # ids still make cursors and page info
            node_array = statement.array([f"{alias}.id"])
        where = self._where(statement, relation, alias, parent, statuses)
        after_param = statement.param(lambda b: b.arguments[after])
        limit = statement.param(lambda b: b.arguments[first] + 1)
        rows = (
            f"SELECT * FROM {relation.table} {alias} WHERE {where} AND {alias}.id > {after_param} "
            f"ORDER BY {alias}.id LIMIT {limit}"
        )
        page = statement.aggregate(node_array, rows, alias, "id")
        total = "NULL"  # also when not asked for: nothing is counted that nobody reads
        if relation.counted and any(part.kind is Kind.TOTAL_COUNT for part in parts):
            counted = statement.alias()
            total = (
                f"(SELECT count(*) FROM {relation.table} {counted} "
                f"WHERE {self._where(statement, relation, counted, parent, statuses)})"
            )
        shape = Shape(connection_type.name, tuple(parts), structure=True)
        return shape, statement.array([page, total])

    def _where(
        self,
        statement: Statement,
        relation: Relation,
        alias: str,
        parent: str | None,
        statuses: int | None = None,
    ) -> str:
        parts = [_sql(relation.where, alias, parent)] if relation.where else []
        parts.append(self._scope(statement, relation.scope, alias, parent))
        if relation.statuses is not None:
            if statuses is None:
                fixed = ", ".join(f"'{s}'" for s in relation.statuses)
                parts.append(f"{alias}.status IN ({fixed})")
            else:
                slot = statuses
                param = statement.texts_param(lambda b: b.arguments[slot])
                parts.append(statement.in_set(f"{alias}.status", param))
        parts = [p for p in parts if p != "TRUE"]
        return " AND ".join(parts) if parts else "TRUE"

    def _scope(
        self, statement: Statement, scope: str | None, alias: str, parent: str | None
    ) -> str:
        if scope == Scope.VISIBLE and not self.scope.all_organizations:
            param = statement.ids_param(lambda b: b.rows.organizations)
            return statement.in_set(f"{alias}.id", param)
        if scope == Scope.PROVIDERS and not self.scope.all_providers:
            every = statement.ids_param(lambda b: _every_provider_in(b.rows))
            assigned = statement.ids_param(lambda b: _assigned_providers(b.rows))
            return (
                f"({statement.in_set(f'{alias}.organization_id', every)} "
                f"OR {statement.in_set(f'{alias}.id', assigned)})"
            )
        if scope == Scope.MEMBERSHIPS and not self.scope.all_memberships:
            user = statement.param(lambda b: b.user_id)
            reached = statement.ids_param(lambda b: b.rows.memberships_in)
            return (
                f"({alias}.user_id = {user} "
                f"OR {statement.in_set(f'{alias}.organization_id', reached)})"
            )
        return "TRUE"

    def _catalog_shape(self, type_name: str, nodes: list[FieldNode]) -> Shape:
        graphql_type = self.schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        fields = []
        for key, field_nodes in self._collect(graphql_type, self._subselections(nodes)).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                fields.append(Selected(key, name, Kind.TYPENAME, True, tuple(field_nodes)))
                continue
            if name not in graphql_type.fields or field_nodes[0].arguments:
                raise NotCompiled
            fields.append(
                Selected(
                    key, name, Kind.ATTRIBUTE, _non_null(graphql_type, name), tuple(field_nodes)
                )
            )
        return Shape(type_name, tuple(fields), catalog=CATALOGS[type_name])

    # ---- arguments -------------------------------------------------------------------------

    @staticmethod
    def _arguments(node: FieldNode) -> dict[str, ValueNode]:
        return {argument.name.value: argument.value for argument in node.arguments or ()}

    @staticmethod
    def _no_arguments(arguments: dict[str, ValueNode]) -> None:
        if arguments:
            raise NotCompiled

    def _slot(self, node: ValueNode | _Pair | None, coerce: Callable[[Any], Any]) -> int:
        defaults, required = self.defaults, self.required

        def value(variables: Mapping[str, Any]) -> Any:
            return coerce(_input(node, variables, defaults, required))

        self.slots.append(value)
        return len(self.slots) - 1

    def _page(self, arguments: dict[str, ValueNode]) -> tuple[int, int]:
        """Slots of a connection's page size and of the key after its cursor."""
        first_node, after_node = arguments.pop("first", None), arguments.pop("after", None)
        default, maximum = self.page_default, self.page_max
        pair = self._slot(
            _Pair(first_node, after_node),
            lambda raw: _page_request(raw, default, maximum),
        )
        first = self._derived(pair, lambda page: page.first)
        after = self._derived(pair, lambda page: NO_AFTER if page.after is None else page.after)
        return first, after

    def _derived(self, slot: int, get: Callable[[Any], Any]) -> int:
        slots = self.slots
        source = slots[slot]
        self.slots.append(lambda variables: get(source(variables)))
        return len(self.slots) - 1

    def _statuses(self, relation: Relation, arguments: dict[str, ValueNode]) -> int | None:
        node = arguments.pop("status", None)
        if not relation.status_argument or node is None:
            return None
        fallback = relation.statuses or ()
        return self._slot(node, lambda raw: _statuses(raw, fallback))


@dataclass(frozen=True, slots=True)
class _Pair:
    first: ValueNode | None
    after: ValueNode | None


def _input(
    node: Any, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode], required: set[str]
) -> Any:
    """An argument's raw value: a literal, or a variable as sent (or its default)."""
    if isinstance(node, _Pair):
        return (
            _input(node.first, variables, defaults, required),
            _input(node.after, variables, defaults, required),
        )
    if node is None or isinstance(node, NullValueNode):
        return None
    if isinstance(node, VariableNode):
        name = node.name.value
        if name in variables:
            return variables[name]
        if name in defaults:
            return _input(defaults[name], variables, defaults, required)
        if name in required:
            raise NotCompiled  # the resolvers refuse it
        return None
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        return [_input(v, variables, defaults, required) for v in node.values]
    raise NotCompiled


def _id_value(raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise NotCompiled
    text = str(raw)
    if unstorable(text):
        raise NotCompiled  # refused as bad input by the resolvers' enforcement point
    return text


def _key_or_none(value: str) -> int:
    key = as_id(value)
    return -1 if key is None else key  # a malformed id finds nothing, like a missing one


def _page_request(raw: tuple[Any, Any], default: int, maximum: int) -> PageRequest:
    first, after = raw
    if first is not None and (isinstance(first, bool) or not isinstance(first, int)):
        raise NotCompiled
    if first is not None and not -MAX_INT - 1 <= first <= MAX_INT:
        raise NotCompiled
    if after is not None and not isinstance(after, str):
        raise NotCompiled
    try:
        return PageRequest.parse(first, after, default=default, maximum=maximum)
    except Exception as refused:  # the resolvers answer it, with its argument named
        raise NotCompiled from refused


def _statuses(raw: Any, fallback: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return fallback
    values = raw if isinstance(raw, list) else [raw]
    names = {s.value for s in MembershipStatus}
    if not all(isinstance(v, str) and v in names for v in values):
        raise NotCompiled
    return tuple(sorted(set(values))) or fallback


def _every_provider_in(rows: Any) -> frozenset[int]:
    """V4: organizations where the caller sees every provider (assigned to all of them)."""
    unbounded = {org for org, ids in rows.assigned_providers.items() if ids is None}
    return frozenset(rows.every_provider_in) | unbounded


def _assigned_providers(rows: Any) -> frozenset[int]:
    assigned: set[int] = set()
    for ids in rows.assigned_providers.values():
        if ids is not None:
            assigned |= ids
    return frozenset(assigned)


def _sql(template: str, alias: str, parent: str | None) -> str:
    return template.replace("{c}", alias).replace("{p}", parent or "")


def _declares_scope(graphql_type: GraphQLObjectType) -> bool:
    definition = (graphql_type.extensions or {}).get("strawberry-definition")
    return definition is not None and declares_scope(definition.origin)


def _object_type(graphql_type: Any) -> GraphQLObjectType:
    named = get_named_type(graphql_type)
    if not isinstance(named, GraphQLObjectType):
        raise NotCompiled
    return named


def _non_null(parent: GraphQLObjectType, name: str) -> bool:
    if name == "__typename":
        return True
    definition = parent.fields.get(name)
    if definition is None:
        raise NotCompiled
    return isinstance(definition.type, GraphQLNonNull)


def _scalar_kind(graphql_type: Any, stored: Kind) -> Kind:
    """How a column shows as the field's scalar: IDs as strings, booleans as booleans."""
    named = get_named_type(graphql_type).name
    if named == "ID":
        return Kind.ID
    if named == "Boolean":
        return Kind.BOOLEAN
    return stored


def _structure_kind(name: str) -> Kind:
    kinds = {
        "__typename": Kind.TYPENAME,
        "cursor": Kind.CURSOR,
        "hasNextPage": Kind.HAS_NEXT_PAGE,
        "endCursor": Kind.END_CURSOR,
        "totalCount": Kind.TOTAL_COUNT,
    }
    kind = kinds.get(name)
    if kind is None:
        raise NotCompiled
    return kind
