"""Helpers of the read planner's tests: its metric, and a request's log content as a set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.support import Api
from tests.support.accounts import Logged

COMPILED = 'gateway_graphql_reads_total{path="compiled"}'


async def compiled_reads_count(api: Api) -> float:
    """How many operations the app answered by the read planner so far (``/metrics``)."""
    text = (await api.client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(COMPILED):
            return float(line.split()[-1])
    return 0.0


def log_content(entries: Iterable[Logged]) -> list[tuple[Any, ...]]:
    """What a request's entries say, however they are grouped into rows: each disclosure
    (type, field, action, decision, rule) with each object it covered and the organization
    it is filed under, and the executions of each disclosure in all."""
    said: set[tuple[Any, ...]] = set()
    executions: Counter[tuple[Any, ...]] = Counter()
    for logged in entries:
        entry = logged.entry
        disclosure = (entry.object_type, entry.field, entry.action, entry.decision, entry.rule)
        said.update((*disclosure, object_id, org) for object_id, org in entry.objects)
        executions[disclosure] += entry.executions
    return sorted(said, key=repr) + sorted(
        ((*disclosure, "executions", count) for disclosure, count in executions.items()), key=repr
    )
