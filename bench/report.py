"""What one scenario measured in one mode, the printed table and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ON, OFF = "ON", "OFF"


@dataclass(frozen=True, slots=True)
class Measurement:
    scenario: str
    mode: str  # ON: authorization + access log; OFF: both disabled (GATEWAY_ENFORCE=false)
    requests: int
    failures: int  # measured requests that were not HTTP 200 with data and no errors
    warmup_failures: int
    seconds: float
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    sql_statements_per_request: float | None  # from /metrics
    log_entries_per_request: float | None  # from /metrics
    requests_per_log_batch: float | None  # from /metrics: requests per access-log transaction
    log_rows_per_request_db: float  # access_log_head.seq delta / requests, a cross-check
    log_bytes_per_request_db: float  # bytes of those entries and their request rows / requests
    failure_samples: list[tuple[str, int]] = field(default_factory=list)
    shape_problems: list[str] = field(default_factory=list)


def ratios(measurements: Sequence[Measurement]) -> dict[str, float | None]:
    """Per scenario: ON throughput divided by OFF throughput."""
    by_key = {(m.scenario, m.mode): m for m in measurements}
    result: dict[str, float | None] = {}
    for scenario in dict.fromkeys(m.scenario for m in measurements):
        on, off = by_key.get((scenario, ON)), by_key.get((scenario, OFF))
        if on is None or off is None or off.requests_per_second <= 0:
            result[scenario] = None
        else:
            result[scenario] = on.requests_per_second / off.requests_per_second
    return result


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = ("scenario", "mode", "requests", "failed", "req/s", "p50 ms", "p99 ms", "SQL/req",
          "log/req", "log B/req", "req/batch")


def _row(m: Measurement) -> tuple[str, ...]:
    return (
        m.scenario, m.mode, str(m.requests), str(m.failures), _number(m.requests_per_second),
        _number(m.p50_ms), _number(m.p99_ms), _number(m.sql_statements_per_request),
        _number(m.log_entries_per_request), _number(m.log_bytes_per_request_db, 0),
        _number(m.requests_per_log_batch),
    )


def table(measurements: Sequence[Measurement]) -> str:
    rows = [HEADER, *(_row(m) for m in measurements)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for scenario, ratio in ratios(measurements).items():
        lines.append(f"ON/OFF throughput, {scenario}: {_number(ratio, 2)}")
    return "\n".join(lines)


def is_valid(measurements: Sequence[Measurement]) -> bool:
    return all(m.failures == 0 and m.warmup_failures == 0 for m in measurements)


def problems(measurements: Sequence[Measurement]) -> list[str]:
    """Everything that makes the run invalid or suspicious, one line each."""
    lines = []
    for m in measurements:
        label = f"{m.scenario} {m.mode}"
        lines += [f"{label}: {count}x {message}" for message, count in m.failure_samples]
        lines += [f"{label}: shape: {problem}" for problem in m.shape_problems]
    return lines


def write_json(path: Path, measurements: Sequence[Measurement], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        **extra,
        "valid": is_valid(measurements),
        "measurements": [asdict(m) for m in measurements],
        "on_off_throughput_ratio": ratios(measurements),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
