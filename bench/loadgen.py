"""Closed-loop load: a few concurrent clients send one request after another for a while."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

MAX_ERROR_KINDS = 5


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    failures: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    first_data: dict[str, Any] | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.failure_count

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile_ms(self, fraction: float) -> float | None:
        """Nearest-rank percentile of the successful requests' latency."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1
        return ordered[rank] * 1000


def failure_of(response: httpx.Response) -> tuple[str | None, dict[str, Any] | None]:
    """A short description of what is wrong with a response, or None, and its data."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}", None
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:300]}", None
    errors = body.get("errors")
    if errors:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code")
        return f"{code} at {first.get('path')}: {first.get('message')}", body.get("data")
    data = body.get("data")
    if not isinstance(data, dict):
        return "no data", None
    return None, data


async def _client_loop(
    client: httpx.AsyncClient, payload: dict[str, Any], deadline: float, result: LoadResult
) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.post("/graphql", json=payload)
        except httpx.HTTPError as error:
            result.failures[f"transport: {type(error).__name__}: {error}"] += 1
            continue
        latency = time.perf_counter() - started
        problem, data = failure_of(response)
        if problem is not None:
            result.failures[problem] += 1
        else:
            result.latencies.append(latency)
            if result.first_data is None:
                result.first_data = data


async def run_load(
    client: httpx.AsyncClient, payload: dict[str, Any], *, duration: float, concurrency: int
) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_client_loop(client, payload, deadline, result) for _ in range(concurrency))
    )
    result.elapsed = time.perf_counter() - started
    return result


def top_failures(result: LoadResult) -> list[tuple[str, int]]:
    return result.failures.most_common(MAX_ERROR_KINDS)
