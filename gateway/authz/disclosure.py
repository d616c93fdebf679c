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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLError, located_error

from gateway.audit import Entry, storable
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
Path = tuple[str | int, ...]


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


@dataclass(frozen=True, slots=True, eq=False)
class Root:
    """One root field of a compiled read and the arguments it was given."""

    selected: Selected
    arguments: Mapping[str, Any]  # as sent (strings and numbers), for the log and its checks


@dataclass(slots=True)
class _Refusal:
    error: GatewayError
    nodes: tuple[FieldNode, ...]
    path: Path
    decided: FieldDecision | None = None
    record: int = -1  # index in the walk's records of the refused execution


@dataclass(slots=True)
class Disclosure:
    """One compiled read's walk for one request (see module)."""

    context: Context
    enforce: bool
    bound: Sequence[Any]  # the operation's bound arguments (page sizes)
    records: list[tuple[Entry, str | None]] = field(default_factory=list)
    refusals: list[_Refusal] = field(default_factory=list)
    # Decisions by (shape, the object's organizations, whether it is the caller's own).
    _decided: dict[tuple[int, tuple[int, ...], bool], list[FieldDecision | None]] = field(
        default_factory=dict
    )
    # Catalog objects answered without a refusal: (answer, entries) by (shape, code).
    _catalog: dict[tuple[int, str], tuple[dict[str, Any], list[Entry]]] = field(
        default_factory=dict
    )

    def root(self, root: Root, value: JSON, missing: str | None) -> Any:
        """A root field, as ``_resolve_root`` answers it: decided, recorded, then resolved
        (``missing``: no row was found, and the NOT_FOUND message to say so)."""
        selected, context = root.selected, self.context
        path: Path = (selected.key,)
        if not self.enforce:
            if missing is not None:
                self._refuse(NotFound(missing), selected, path)
                return None
            return self._value(selected, value, path)
        decided = context.authz.field((root_scope(root.arguments), "Query", selected.field))
        record = self._record(decided.entry, storable(root_object(root.arguments), 64))
        if decided.verdict.decision is DENY:
            self._deny(selected, path, decided, record)
            return None
        if missing is not None:
            failure = NotFound(missing)
            self.records[record] = (settled_entry(decided, failure), self.records[record][1])
            self._refuse(failure, selected, path)
            return None
        value = self._value(selected, value, path)
        if decided.verdict.decision is not ALLOW:
            value = self._mask(selected, "Query", value)
        return value

    def finish(self) -> list[GraphQLError]:
        """Record the walk's executions in the request's trail (in the order the walk met
        them) and return its errors, each refusal naming its decision."""
        audit = self.context.audit
        indexes = [audit.record(entry, object_id) for entry, object_id in self.records]
        errors = []
        for refused in self.refusals:
            error = refused.error
            if refused.decided is not None:
                error = refusal(
                    self.context, refused.decided, audit.decision_id(indexes[refused.record])
                )
            errors.append(located_error(error, list(refused.nodes), list(refused.path)))
        return errors

    # ---- the walk --------------------------------------------------------------------------

    def _object(self, shape: Shape, row: JSON, path: Path) -> Any:
        if shape.structure:
            raise AssertionError("structure shapes are walked by their connection")
        if shape.catalog is not None:
            return self._catalog_object(shape, shape.catalog[row], path)
        object_id = None if row[0] is None else str(row[0])
        orgs = tuple(row[1 : 1 + shape.orgs])
        own = shape.owner and row[1 + shape.orgs] == self.context.caller.user_id
        decisions = self._decisions(shape, orgs, own)
        answer: dict[str, Any] = {}
        records = self.records
        # The hot loop of a compiled read (once per field of every object): kept flat.
        for selected, decided in zip(shape.fields, decisions):  # noqa: B905 - built together
            key, kind = selected.key, selected.kind
            if kind is Kind.TYPENAME:
                answer[key] = shape.type_name
                continue
            decision = ALLOW
            if decided is not None:
                records.append((decided.entry, object_id))
                decision = decided.verdict.decision
                if decision is DENY:
                    self._deny(selected, (*path, key), decided, len(records) - 1)
                    answer[key] = None
                    continue
            value = row[selected.position]
            if kind is not Kind.VALUE and value is not None:
                value = self._value(selected, value, (*path, key))
            if decision is not ALLOW:
                value = self._mask(selected, shape.type_name, value)
            answer[key] = value
        return answer

    def _catalog_object(self, shape: Shape, item: Any, path: Path) -> dict[str, Any]:
        """A catalog object (a role, an eTool): decided alike wherever it appears, so once it
        is answered without a refusal its answer and entries are reused for the request."""
        reused = self._catalog.get((id(shape), item.id))
        if reused is not None:
            self.records.extend([(entry, item.id) for entry in reused[1]])
            return reused[0]
        refusals, first = len(self.refusals), len(self.records)
        answer: dict[str, Any] = {}
        decisions = self._decisions(shape, (), False)
        for selected, decided in zip(shape.fields, decisions, strict=True):
            key = selected.key
            if selected.kind is Kind.TYPENAME:
                answer[key] = shape.type_name
                continue
            if decided is not None:
                record = self._record(decided.entry, item.id)
                if decided.verdict.decision is DENY:
                    self._deny(selected, (*path, key), decided, record)
                    answer[key] = None
                    continue
            value = _plain(getattr(item, _attribute(selected.field)))
            if decided is not None and decided.verdict.decision is not ALLOW:
                value = self._mask(selected, shape.type_name, value)
            answer[key] = value
        if len(self.refusals) == refusals:
            entries = [entry for entry, _ in self.records[first:]]
            self._catalog[(id(shape), item.id)] = (answer, entries)
        return answer

    def _value(self, selected: Selected, value: JSON, path: Path) -> Any:
        kind = selected.kind
        if kind is Kind.VALUE or value is None:
            return value
        if kind is Kind.ID:
            return str(value)
        if kind is Kind.BOOLEAN:
            return bool(value)
        if kind is Kind.DATETIME:
            return _timestamp(value)
        child = selected.child
        assert child is not None
        if kind is Kind.OBJECT:
            return self._object(child, value, path)
        if kind is Kind.LIST or kind is Kind.CATALOG:
            return [self._object(child, item, (*path, i)) for i, item in enumerate(value)]
        if kind is Kind.CONNECTION:
            return self._connection(selected, child, value, path)
        raise AssertionError(f"unexpected {kind}")

    def _connection(
        self, selected: Selected, shape: Shape, value: JSON, path: Path
    ) -> dict[str, Any]:
        """A page from rows fetched with one extra, as ``schema.pagination.connection``."""
        rows, total = value
        first = self.bound[selected.slot]
        visible = rows[:first]
        decisions = self._decisions(shape, (), False)
        answer: dict[str, Any] = {}
        for part, decided in zip(shape.fields, decisions, strict=True):
            key = part.key
            if part.kind is Kind.TYPENAME:
                answer[key] = shape.type_name
                continue
            at = (*path, key)
            if decided is not None:
                record = self._record(decided.entry, None)
                if decided.verdict.decision is DENY:
                    self._deny(part, at, decided, record)
                    answer[key] = None
                    continue
            if part.kind is Kind.EDGES:
                assert part.child is not None
                answer[key] = [
                    self._edge(part.child, row, (*at, i)) for i, row in enumerate(visible)
                ]
            elif part.kind is Kind.PAGE_INFO:
                assert part.child is not None
                answer[key] = self._page_info(part.child, len(rows) > first, visible, at)
            elif part.kind is Kind.TOTAL_COUNT:
                answer[key] = total
            else:
                raise AssertionError(f"unexpected {part.kind}")
            if decided is not None and decided.verdict.decision is not ALLOW:
                answer[key] = self._mask(part, shape.type_name, answer[key])
        return answer

    def _edge(self, shape: Shape, row: JSON, path: Path) -> Any:
        return self._structure(
            shape,
            path,
            lambda part, at: (
                encode_cursor(row[0])
                if part.kind is Kind.CURSOR
                else self._object(_child(part), row, at)
            ),
        )

    def _page_info(self, shape: Shape, more: bool, visible: list[JSON], path: Path) -> Any:
        return self._structure(
            shape,
            path,
            lambda part, _at: (
                more
                if part.kind is Kind.HAS_NEXT_PAGE
                else (encode_cursor(visible[-1][0]) if visible else None)
            ),
        )

    def _structure(self, shape: Shape, path: Path, value_of: Any) -> dict[str, Any]:
        decisions = self._decisions(shape, (), False)
        answer: dict[str, Any] = {}
        for part, decided in zip(shape.fields, decisions, strict=True):
            key = part.key
            if part.kind is Kind.TYPENAME:
                answer[key] = shape.type_name
                continue
            at = (*path, key)
            if decided is not None:
                record = self._record(decided.entry, None)
                if decided.verdict.decision is DENY:
                    self._deny(part, at, decided, record)
                    answer[key] = None
                    continue
            value = value_of(part, at)
            if decided is not None and decided.verdict.decision is not ALLOW:
                value = self._mask(part, shape.type_name, value)
            answer[key] = value
        return answer

    # ---- decisions and records -------------------------------------------------------------

    def _decisions(
        self, shape: Shape, orgs: tuple[int, ...], own: bool
    ) -> list[FieldDecision | None]:
        """The decision on each selected field of an object of ``shape`` seen in ``orgs``
        (None: not enforced, or not data), made once per request and scope."""
        key = (id(shape), orgs, own)
        found = self._decided.get(key)
        if found is None:
            authz, scope = self.context.authz, NodeScope(orgs, own)
            found = []
            for selected in shape.fields:
                if not self.enforce or selected.kind is Kind.TYPENAME:
                    found.append(None)
                    continue
                found.append(authz.field((scope, shape.type_name, selected.field)))
            self._decided[key] = found
        return found

    def _record(self, entry: Entry, object_id: str | None) -> int:
        self.records.append((entry, object_id))
        return len(self.records) - 1

    def _deny(self, selected: Selected, path: Path, decided: FieldDecision, record: int) -> None:
        if selected.non_null:  # the resolvers would null its parent: theirs to answer
            raise Unanswerable(f"refused non-null field {selected.field}")
        self.refusals.append(_Refusal(_PLACEHOLDER, selected.nodes, path, decided, record))

    def _refuse(
        self,
        error: GatewayError | None,
        selected: Selected,
        path: Path,
        decided: FieldDecision | None = None,
        record: int = -1,
    ) -> None:
        self.refusals.append(_Refusal(error or _PLACEHOLDER, selected.nodes, path, decided, record))

    def _mask(self, selected: Selected, type_name: str, value: Any) -> Any:
        masked = masking.apply(type_name, selected.field, value)
        if masked is None and selected.non_null:
            raise Unanswerable(f"masked non-null field {selected.field}")
        return masked


_PLACEHOLDER = GatewayError("refused")  # replaced by the refusal, once its decision id is known


def _child(selected: Selected) -> Shape:
    assert selected.child is not None
    return selected.child


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
