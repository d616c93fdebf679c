"""Cheap requests stay cheap: a document is measured, once, before it is validated or run.

Strawberry's depth and alias limiters walk a fragment again at every spread, so a 1 KB document
whose fragments each spread the one before twice costs time that doubles per fragment (21
fragments: 10 s of one core). Here each fragment is measured once and its size reused at every
spread: parsing stops at a token limit, every other check is linear in the document, and a
refused document never reaches validation or execution (QUERY_TOO_COMPLEX).

Usage, as the schema builds it::

    strawberry.Schema(Query, extensions=[partial(DocumentLimiter, DocumentLimits.of(settings))])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension

from gateway.errors import QueryTooComplex
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """The most one document may ask for; the size counts are taken with fragments expanded."""

    tokens: int  # lexical tokens, comments included (graphql-core's parser stops there)
    operations: int  # operation definitions in the document
    depth: int  # nested selection sets (introspection fields not counted, as strawberry did)
    aliases: int
    directives: int
    cost: int  # field selections

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(
            tokens=settings.max_query_tokens,
            operations=settings.max_operations,
            depth=settings.max_query_depth,
            aliases=settings.max_aliases,
            directives=settings.max_directives,
            cost=settings.max_query_cost,
        )


@dataclass(frozen=True, slots=True)
class Size:
    """What a selection set asks for, its fragments expanded."""

    fields: int = 0
    depth: int = 0
    aliases: int = 0
    directives: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(
            fields=self.fields + other.fields,
            depth=max(self.depth, other.depth),
            aliases=self.aliases + other.aliases,
            directives=self.directives + other.directives,
        )


class DocumentSize:
    """Measures a document's operations, each fragment once (memoized)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self._measured: dict[str, Size] = {}
        self._measuring: set[str] = set()

    def total(self) -> Size:
        """All operations together: validation reads every one of them."""
        total = Size()
        for operation in self.operations:
            total += _directives(operation) + self.of(operation.selection_set)
        return total

    def of(self, selection_set: SelectionSetNode | None) -> Size:
        total = Size()
        for selection in selection_set.selections if selection_set else ():
            total += _directives(selection) + self._of_selection(selection)
        return total

    def _of_selection(self, selection: SelectionNode) -> Size:
        if isinstance(selection, FieldNode):
            return self._of_field(selection)
        if isinstance(selection, FragmentSpreadNode):
            return self._of_fragment(selection.name.value)
        assert isinstance(selection, InlineFragmentNode)
        return self.of(selection.selection_set)

    def _of_field(self, field: FieldNode) -> Size:
        inner = self.of(field.selection_set)
        nests = field.selection_set is not None and not field.name.value.startswith("__")
        return Size(
            fields=1 + inner.fields,
            depth=1 + inner.depth if nests else 0,
            aliases=(field.alias is not None) + inner.aliases,
            directives=inner.directives,
        )

    def _of_fragment(self, name: str) -> Size:
        measured = self._measured.get(name)
        if measured is not None:
            return measured
        fragment = self.fragments.get(name)
        if fragment is None or name in self._measuring:
            return Size()  # unknown or cyclic: validation refuses the document
        self._measuring.add(name)
        size = _directives(fragment) + self.of(fragment.selection_set)
        self._measuring.discard(name)
        self._measured[name] = size
        return size


def _directives(node: ExecutableDefinitionNode | SelectionNode) -> Size:
    return Size(directives=len(node.directives or ()))


def refusal(document: DocumentNode, limits: DocumentLimits) -> str | None:
    """Why the document asks for too much; None when it is within the limits."""
    measured = DocumentSize(document)
    if len(measured.operations) > limits.operations:
        return f"The document holds more than {limits.operations} operations"
    try:
        size = measured.total()
    except RecursionError:
        return "The document nests fragments too deeply"
    checks = (
        (size.depth, limits.depth, "The query is nested deeper than {} levels"),
        (size.aliases, limits.aliases, "The query uses more than {} aliases"),
        (size.directives, limits.directives, "The query uses more than {} directives"),
        (size.fields, limits.cost, "The query selects more than {} fields (fragments expanded)"),
    )
    return next((why.format(limit) for value, limit, why in checks if value > limit), None)


DOCUMENTS_KEPT = 256  # parsed (here) and validated (ValidationCache) documents per process


@lru_cache(maxsize=DOCUMENTS_KEPT)
def parse_within(query: str, limits: DocumentLimits) -> DocumentNode:
    """The parsed document, or QueryTooComplex when it is larger than the limits allow.

    Memoized: clients send the same documents again and again, and nothing changes a parsed
    document (a refusal is raised, never cached)."""
    try:
        document = parse(query, max_tokens=limits.tokens)
    except GraphQLSyntaxError as error:
        # graphql-core says so only in its message: "Document contains more than N tokens."
        if f"more than {limits.tokens} tokens" in error.message:
            raise QueryTooComplex(f"The document holds more than {limits.tokens} tokens") from None
        raise
    why = refusal(document, limits)
    if why is not None:
        raise QueryTooComplex(why)
    return document


class DocumentLimiter(SchemaExtension):
    """Parses the document within the limits before anything else reads it."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            # Strawberry parses only when no document is set; a refusal raised here is the
            # operation's only error (data null), and the access log still records the request.
            context.graphql_document = parse_within(context.query, self.limits)
        yield
