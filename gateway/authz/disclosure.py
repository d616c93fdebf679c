"""What a compiled read discloses: the same decisions as the enforcement point, per object.

A compiled read (gateway.reads) fetches a root field's whole answer in one SQL statement, as
nested JSON arrays: each object is ``[object id, its organizations..., its owner?, values...]``
in the order its ``Shape`` lists them. ``Disclosure`` walks that answer once and, for every
selected field of every object, does what ``Enforcement.resolve`` does for a resolver: it
looks up the request's memoized decision for (object scope, type, field), records the
execution, and keeps the value (allow), masks it, or answers null with FORBIDDEN and a
decision id (V2). Decisions are made once per (object scope, type) for all of a type's
selected fields, so a page of fifty members of one organization costs one look-up per field.

Nothing is written to the request's trail until the walk is complete: a shape the walk cannot
answer exactly as the resolvers would (a refused or masked field that may not be null) raises
``Unanswerable`` and the operation runs through the resolvers instead, recording nothing
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, auto
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLError, located_error

from gateway.audit import Entry, FiledObject, storable
from gateway.authz import masking
from gateway.authz.decisions import FieldDecision
from gateway.authz.enforcement import refusal, root_object, root_scope, settled_entry
from gateway.authz.policy import Decision
from gateway.authz.scope import NodeScope
from gateway.data import encode_cursor
from gateway.errors import GatewayError, NotFound

if TYPE_CHECKING:
    from gateway.context import Context

ALLOW, DENY = Decision.ALLOW, Decision.DENY
JSON = Any


class Unanswerable(Exception):
    """The walk met a case only the resolvers answer exactly (see module)."""


class Kind(Enum):
    """How a selected field's value is found."""

    VALUE = auto()  # a column, as it is
    ID = auto()  # a key column, as the schema's ID (a string)
    BOOLEAN = auto()  # a column, as true or false (SQLite gives 0 and 1)
    DATETIME = auto()  # a timestamp column, as an ISO 8601 string
    OBJECT = auto()  # a nested object (or null)
    LIST = auto()  # a list of objects
    CONNECTION = auto()  # [rows fetched (first + 1), totalCount] of a Relay connection
    CATALOG = auto()  # a list of catalog codes, shown as the catalog's objects
    ATTRIBUTE = auto()  # an attribute of a catalog object
    TYPENAME = auto()
    EDGES = auto()  # Connection.edges
    CURSOR = auto()  # Edge.cursor
    NODE = auto()  # Edge.node
    PAGE_INFO = auto()  # Connection.pageInfo
    HAS_NEXT_PAGE = auto()
    END_CURSOR = auto()
    TOTAL_COUNT = auto()


VALUE, ID, BOOLEAN, DATETIME, TYPENAME = (
    Kind.VALUE,
    Kind.ID,
    Kind.BOOLEAN,
    Kind.DATETIME,
    Kind.TYPENAME,
)
OBJECT, LIST, CATALOG, CONNECTION = Kind.OBJECT, Kind.LIST, Kind.CATALOG, Kind.CONNECTION
EDGES, CURSOR, PAGE_INFO, HAS_NEXT_PAGE = (
    Kind.EDGES,
    Kind.CURSOR,
    Kind.PAGE_INFO,
    Kind.HAS_NEXT_PAGE,
)
NODE, TOTAL_COUNT = Kind.NODE, Kind.TOTAL_COUNT


@dataclass(frozen=True, slots=True, eq=False)
class Selected:
    """One response key of an object: a schema field, how to find its value, and where."""

    key: str
    field: str
    kind: Kind
    non_null: bool
    nodes: tuple[FieldNode, ...]  # for the error locations
    position: int = -1  # index in the object's array (VALUE .. CATALOG)
    child: Shape | None = None
    slot: int = -1  # CONNECTION: index of its page size in the bound arguments


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """One object type as the operation selects it. ``orgs`` values after the object id are
    its organizations, then its owner if ``owner``; a structure shape (connection, edge, page
    info) has no array of its own. ``catalog``: a catalog type's objects by code."""

    type_name: str
    fields: tuple[Selected, ...]
    orgs: int = 0
    owner: bool = False
    structure: bool = False
    catalog: Mapping[str, Any] | None = None
    # (key, kind, position, selected) of each field: what the walk's loops unpack.
    steps: tuple[tuple[str, Kind, int, Selected], ...] = field(init=False)
    # An object's answer when nothing of it is refused or masked: every key with the value at
    # its position (``values``), then the fields that are not a column as it is (``then``).
    keys: tuple[str, ...] = field(init=False)
    values: Callable[[Sequence[Any]], Sequence[Any]] = field(init=False)
    then: tuple[tuple[str, Kind, Selected], ...] = field(init=False)

    def __post_init__(self) -> None:
        fields = self.fields
        steps = tuple((s.key, s.kind, s.position, s) for s in fields)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "keys", tuple(s.key for s in fields))
        positions = [max(s.position, 0) for s in fields]
        values = itemgetter(*positions) if len(positions) > 1 else _few(positions)
        object.__setattr__(self, "values", values)
        then = tuple((s.key, s.kind, s) for s in fields if s.kind is not VALUE)
        object.__setattr__(self, "then", then)


@dataclass(frozen=True, slots=True, eq=False)
class Root:
    """One root field of a compiled read and the arguments it was given."""

    selected: Selected
    arguments: Mapping[str, Any]  # as sent (strings and numbers), for the log and its checks


# A response path, linked from the leaf: (parent, key), flattened only for an error.
Path = tuple[Any, str | int] | None


@dataclass(slots=True)
class _Group:
    """The objects of one shape seen in one scope (organizations, own or not): the decision
    on each selected field, made once, and each object the walk met there, with how many
    times. Every decided field covered every object of its group: that is what is recorded."""

    decisions: list[FieldDecision | None]
    plain: bool  # nothing refused or masked: values are answered as they are
    refuses: bool
    objects: dict[str | None, int] = field(default_factory=dict)
    indexes: list[int] = field(default_factory=list)  # each field's entry, once recorded
    _filed: dict[int | None, dict[FiledObject, int]] = field(default_factory=dict)

    def met(self, object_id: str | None) -> None:
        objects = self.objects
        objects[object_id] = objects.get(object_id, 0) + 1

    def filed(self, decided: FieldDecision) -> dict[FiledObject, int]:
        """The objects as ``decided``'s entry files them (usually one organization for all
        of a group's fields: keyed once)."""
        org = decided.entry.organization_id
        filed = self._filed.get(org)
        if filed is None:
            filed = self._filed[org] = {(o, org): n for o, n in self.objects.items()}
        return filed


@dataclass(slots=True)
class _Refusal:
    error: GatewayError
    nodes: tuple[FieldNode, ...]
    path: Path
    decided: FieldDecision | None = None
    group: _Group | None = None  # None: a root field's execution
    index: int = -1  # the refused field in its group, or the root's execution


@dataclass(slots=True)
class Disclosure:
    """One compiled read's walk for one request (see module)."""

    context: Context
    enforce: bool
    bound: Sequence[Any]  # the operation's bound arguments (page sizes)
    refusals: list[_Refusal] = field(default_factory=list)
    # Root fields' executions, each with the object it was asked about.
    _roots: list[tuple[Entry, str | None]] = field(default_factory=list)
    # Groups by (shape, the objects' organizations, whether they are the caller's own).
    _groups: dict[tuple[int, tuple[int, ...], bool], _Group] = field(default_factory=dict)
    # Catalog objects answered without a refusal, by (shape, code): alike wherever they are.
    _catalog: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)

    def root(self, root: Root, value: JSON, missing: str | None) -> Any:
        """A root field, as ``_resolve_root`` answers it: decided, recorded, then resolved
        (``missing``: no row was found, and the NOT_FOUND message to say so)."""
        selected = root.selected
        path: Path = (None, selected.key)
        if not self.enforce:
            if missing is not None:
                self.refusals.append(_Refusal(NotFound(missing), selected.nodes, path))
                return None
            return self._value(selected, value, path)
        decided, index = self.attempted(root)
        if decided.verdict.decision is DENY:
            self._deny(selected, path, decided, None, index)
            return None
        if missing is not None:
            failure = NotFound(missing)
            self._roots[index] = (settled_entry(decided, failure), self._roots[index][1])
            self.refusals.append(_Refusal(failure, selected.nodes, path))
            return None
        value = self._value(selected, value, path)
        if decided.verdict.decision is not ALLOW:
            value = self._mask(selected, "Query", value)
        return value

    def attempted(self, root: Root) -> tuple[FieldDecision, int]:
        """Record a root field's execution (also when the database then fails it, as the
        resolvers' would be); its decision and its index among the roots."""
        arguments = root.arguments
        decided = self.context.authz.field((root_scope(arguments), "Query", root.selected.field))
        self._roots.append((decided.entry, storable(root_object(arguments), 64)))
        return decided, len(self._roots) - 1

    def finish(self) -> list[GraphQLError]:
        """Record the walk's executions in the request's trail, each group's objects under
        each of its decided fields at once, and return its errors, each refusal naming its
        decision."""
        audit = self.context.audit
        roots = [audit.record(entry, object_id) for entry, object_id in self._roots]
        for group in self._groups.values():
            group.indexes = [
                -1 if decided is None else audit.record_each(decided.entry, group.filed(decided))
                for decided in group.decisions
            ]
        errors = []
        for refused in self.refusals:
            error = refused.error
            if refused.decided is not None:
                within, index = refused.group, refused.index
                entry = roots[index] if within is None else within.indexes[index]
                error = refusal(self.context, refused.decided, audit.decision_id(entry))
            errors.append(located_error(error, list(refused.nodes), _flat(refused.path)))
        return errors

    # ---- the walk --------------------------------------------------------------------------

    def _object(self, shape: Shape, row: JSON, path: Path) -> Any:
        if shape.structure or shape.catalog is not None:
            raise AssertionError("walked by their connection, or as catalog lists")
        count = shape.orgs
        orgs = tuple(row[1 : 1 + count]) if count else ()
        own = shape.owner and row[1 + count] == self.context.caller.user_id
        group = self._group(shape, orgs, own)
        object_id = row[0]
        object_id = None if object_id is None else str(object_id)
        objects = group.objects
        objects[object_id] = objects.get(object_id, 0) + 1
        if not group.plain:
            return self._fields(
                shape,
                group,
                path,
                lambda selected, at: self._value(selected, row[selected.position], at),
            )
        # The hot path of a compiled read (once per object): the columns taken as they are at
        # once, then the rest (nested objects, conversions) one by one.
        answer = dict(zip(shape.keys, shape.values(row), strict=True))
        for key, kind, selected in shape.then:
            if kind is TYPENAME:
                answer[key] = shape.type_name
            else:
                answer[key] = self._value(selected, answer[key], (path, key))
        return answer

    def _catalog_objects(self, shape: Shape, codes: list[str], path: Path) -> list[Any]:
        """A list of catalog objects (a member's roles): one group, decided alike wherever
        they appear, so an object answered without a refusal is answered once per request."""
        if not codes:
            return []
        group = self._group(shape, (), False)
        catalog, answers, key = shape.catalog, self._catalog, id(shape)
        assert catalog is not None
        listed = []
        for i, code in enumerate(codes):
            item = catalog[code]
            group.met(item.id)
            answer = None if group.refuses else answers.get((key, item.id))
            if answer is None:
                answer = self._fields(shape, group, (path, i), _attributes_of(item))
                if not group.refuses:
                    answers[(key, item.id)] = answer
            listed.append(answer)
        return listed

    def _value(self, selected: Selected, value: JSON, path: Path) -> Any:
        kind = selected.kind
        if kind is VALUE or value is None:
            return value
        if kind is ID:
            return str(value)
        if kind is BOOLEAN:
            return bool(value)
        if kind is DATETIME:
            return _timestamp(value)
        child = selected.child
        assert child is not None
        if kind is OBJECT:
            return self._object(child, value, path)
        if kind is CATALOG:
            return self._catalog_objects(child, value, path)
        if kind is LIST:
            return [self._object(child, item, (path, i)) for i, item in enumerate(value)]
        if kind is CONNECTION:
            return self._connection(selected, child, value, path)
        raise AssertionError(f"unexpected {kind}")

    def _connection(
        self, selected: Selected, shape: Shape, value: JSON, path: Path
    ) -> dict[str, Any]:
        """A page from rows fetched with one extra, as ``schema.pagination.connection``."""
        rows, total = value
        first = self.bound[selected.slot]
        visible = rows[:first]

        def part_of(part: Selected, at: Path) -> Any:
            kind = part.kind
            if kind is EDGES:
                return self._edges(_child(part), visible, at)
            if kind is PAGE_INFO:
                return self._page_info(_child(part), len(rows) > first, visible, at)
            if kind is TOTAL_COUNT:
                return total
            raise AssertionError(f"unexpected {kind}")

        return self._structure(shape, path, part_of)

    def _edges(self, shape: Shape, rows: list[JSON], path: Path) -> list[Any]:
        """A page's edges; when nothing of an edge is refused or masked (as good as always),
        in one flat loop, as ``_object``'s."""
        if not rows:
            return []
        group = self._group(shape, (), False)
        if not group.plain:
            return [self._edge(shape, row, (path, i)) for i, row in enumerate(rows)]
        objects = group.objects
        objects[None] = objects.get(None, 0) + len(rows)
        edges = []
        for i, row in enumerate(rows):
            edge: dict[str, Any] = {}
            for key, kind, _, selected in shape.steps:
                if kind is NODE:
                    edge[key] = self._object(_child(selected), row, ((path, i), key))
                elif kind is CURSOR:
                    edge[key] = encode_cursor(row[0])
                else:
                    edge[key] = shape.type_name
            edges.append(edge)
        return edges

    def _edge(self, shape: Shape, row: JSON, path: Path) -> Any:
        return self._structure(
            shape,
            path,
            lambda part, at: (
                encode_cursor(row[0])
                if part.kind is CURSOR
                else self._object(_child(part), row, at)
            ),
        )

    def _page_info(self, shape: Shape, more: bool, visible: list[JSON], path: Path) -> Any:
        return self._structure(
            shape,
            path,
            lambda part, _at: (
                more
                if part.kind is HAS_NEXT_PAGE
                else (encode_cursor(visible[-1][0]) if visible else None)
            ),
        )

    def _structure(self, shape: Shape, path: Path, value_of: ValueOf) -> dict[str, Any]:
        """A connection, an edge or page info: no object of its own (its executions name
        none)."""
        group = self._group(shape, (), False)
        group.met(None)
        return self._fields(shape, group, path, value_of)

    def _fields(self, shape: Shape, group: _Group, path: Path, value_of: ValueOf) -> dict[str, Any]:
        """An object's selected fields as its group's decisions answer them: allowed values as
        they are, masked ones masked, refused ones null with an error."""
        answer: dict[str, Any] = {}
        type_name = shape.type_name
        for index, ((key, kind, _, selected), decided) in enumerate(
            zip(shape.steps, group.decisions, strict=True)
        ):
            if kind is TYPENAME:
                answer[key] = type_name
                continue
            at = (path, key)
            decision = ALLOW if decided is None else decided.verdict.decision
            if decision is DENY:
                assert decided is not None
                self._deny(selected, at, decided, group, index)
                answer[key] = None
                continue
            value = value_of(selected, at)
            answer[key] = value if decision is ALLOW else self._mask(selected, type_name, value)
        return answer

    # ---- decisions -------------------------------------------------------------------------

    def _group(self, shape: Shape, orgs: tuple[int, ...], own: bool) -> _Group:
        """The group of objects of ``shape`` seen in ``orgs``: its decisions are made once per
        request (None: not enforced, or not data)."""
        key = (id(shape), orgs, own)
        group = self._groups.get(key)
        if group is None:
            authz, scope = self.context.authz, NodeScope(orgs, own)
            decisions = [
                None
                if not self.enforce or selected.kind is TYPENAME
                else authz.field((scope, shape.type_name, selected.field))
                for selected in shape.fields
            ]
            verdicts = [d.verdict.decision for d in decisions if d is not None]
            group = self._groups[key] = _Group(
                decisions,
                plain=all(v is ALLOW for v in verdicts),
                refuses=any(v is DENY for v in verdicts),
            )
        return group

    def _deny(
        self,
        selected: Selected,
        path: Path,
        decided: FieldDecision,
        group: _Group | None,
        index: int,
    ) -> None:
        if selected.non_null:  # the resolvers would null its parent: theirs to answer
            raise Unanswerable(f"refused non-null field {selected.field}")
        self.refusals.append(_Refusal(_PLACEHOLDER, selected.nodes, path, decided, group, index))

    def _mask(self, selected: Selected, type_name: str, value: Any) -> Any:
        masked = masking.apply(type_name, selected.field, value)
        if masked is None and selected.non_null:
            raise Unanswerable(f"masked non-null field {selected.field}")
        return masked


ValueOf = Callable[[Selected, Path], Any]  # a selected field's value (before its decision)


_PLACEHOLDER = GatewayError("refused")  # replaced by the refusal, once its decision id is known


def _child(selected: Selected) -> Shape:
    assert selected.child is not None
    return selected.child


def _few(positions: list[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """``itemgetter`` for one position or none: always a tuple."""
    return lambda row: tuple(row[p] for p in positions)


def _attributes_of(item: Any) -> ValueOf:
    return lambda selected, _at: _catalog_value(item, selected)


def _catalog_value(item: Any, selected: Selected) -> Any:
    return _plain(getattr(item, _attribute(selected.field)))


def _flat(path: Path) -> list[str | int]:
    keys: list[str | int] = []
    while path is not None:
        path, key = path
        keys.append(key)
    keys.reverse()
    return keys


def _attribute(field_name: str) -> str:
    """A catalog object's Python attribute for a schema field (``employeeOnly``)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in field_name)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _timestamp(value: str) -> str:
    """A timestamp as the schema's DateTime shows it (UTC, ISO 8601): PostgreSQL's JSON gives
    ISO 8601 with an offset, SQLite the stored text without one (UTC)."""
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()
