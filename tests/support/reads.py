"""Helpers of the read planner's tests: its metric, and a request's log content as a set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.support import Api
from tests.support.accounts import Logged

# What differs between two requests that did the same: their numbers, hashes and requests.
NOT_CONTENT = frozenset({"seq", "request_seq", "hash"})
COMPILED = 'gateway_graphql_reads_total{path="compiled"}'


async def compiled_reads_count(api: Api) -> float:
    """How many operations the app answered by the read planner so far (``/metrics``)."""
    text = (await api.client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(COMPILED):
            return float(line.split()[-1])
    return 0.0


def log_content(entries: Iterable[Logged]) -> list[tuple[Any, ...]]:
    """Each entry's content: its columns but its numbering and hash (lists sorted)."""
    found = []
    for logged in entries:
        entry = logged.entry
        values = []
        for column in entry.__table__.columns:
            if column.key in NOT_CONTENT:
                continue
            value = getattr(entry, column.key)
            if isinstance(value, list):
                value = repr(sorted(value, key=repr))
            values.append((column.key, value))
        found.append(tuple(values))
    return found
