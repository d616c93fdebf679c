"""Reads the gateway's ``/metrics`` and turns two snapshots into per-request averages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

SQL_STATEMENTS = "gateway_sql_statements_per_request"
LOG_ENTRIES = "gateway_access_log_entries_per_request"
LOG_BATCHES = "gateway_access_log_requests_per_batch"  # requests per group commit
REQUESTS_TOTAL = "gateway_graphql_requests_total"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every sample's value, summed over its label sets (buckets excluded)."""

    values: dict[str, float]

    def get(self, name: str) -> float:
        return self.values.get(name, 0.0)


@dataclass(frozen=True, slots=True)
class HistogramDelta:
    sum: float
    count: float

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None


def parse(text: str) -> Snapshot:
    values: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                values[sample.name] += sample.value
    return Snapshot(dict(values))


async def scrape(client: httpx.AsyncClient) -> Snapshot:
    response = await client.get("/metrics")
    response.raise_for_status()
    return parse(response.text)


def histogram_delta(before: Snapshot, after: Snapshot, name: str) -> HistogramDelta:
    return HistogramDelta(
        sum=after.get(f"{name}_sum") - before.get(f"{name}_sum"),
        count=after.get(f"{name}_count") - before.get(f"{name}_count"),
    )


def counter_delta(before: Snapshot, after: Snapshot, name: str) -> float:
    return after.get(name) - before.get(name)
