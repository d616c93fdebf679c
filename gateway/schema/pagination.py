"""Relay connection types shared by every list (``edges { cursor node }``, ``pageInfo``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from gateway.data import PageRequest, encode_cursor
from gateway.schema.scoping import Structure

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo(Structure):
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Structure, Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Structure, Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int | None = None


def connection(
    rows: Sequence[Any],
    page: PageRequest,
    to_node: Callable[[Any], NodeT],
    total_count: int | None = None,
) -> Connection[NodeT]:
    """A page from rows fetched with one extra (``page.first + 1``) to tell if more exist."""
    visible = rows[: page.first]
    edges = [Edge(cursor=encode_cursor(row.id), node=to_node(row)) for row in visible]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > page.first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total_count,
    )
