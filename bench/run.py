"""Benchmark the gateway with authorization and the access log ON and OFF.

Builds a synthetic world in the PostgreSQL database ``gateway_bench``, starts ``gateway serve``
once per mode and measures two read queries. See bench/README.md.

    .venv/bin/python bench/run.py [--duration 20] [--concurrency 8] [--skip-build]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from gateway.auth import mint_token
from gateway.settings import Environment, Settings

import database
import promscrape
from database import BenchDatabase
from loadgen import LoadResult, run_load, top_failures
from report import OFF, ON, Measurement, is_valid, problems, ratios, table, write_json
from scenarios import Identities, Scenario, scenarios
from server import GatewayServer
from world import WorldSize, build_world

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 20260115


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0,
                        help="measured seconds per scenario and mode (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="unmeasured seconds before each measurement (default 3)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="concurrent clients (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="ON/OFF rounds, alternating which goes first (default 3); the "
                             "ratio reported is the median over rounds")
    parser.add_argument("--skip-build", action="store_true",
                        help="reuse the existing gateway_bench database")
    parser.add_argument("--orgs", type=int, default=1000, help="organizations (default 1000)")
    parser.add_argument("--users", type=int, default=20000, help="users (default 20000)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--duration and --concurrency must be positive, --warmup not negative")
    try:
        WorldSize.of(args.orgs, args.users)
    except ValueError as error:
        parser.error(str(error))
    return args


async def build(db: BenchDatabase, orgs: int, users: int) -> dict[str, Any]:
    """Recreate, migrate and fill the bench database; returns the row counts and timing."""
    started = time.perf_counter()
    world = build_world(orgs, users, SEED)
    await database.recreate(db)
    database.migrate(db)
    head = await database.access_log_head(db)
    await database.load(db, world)
    if await database.access_log_head(db) != head or head != database.HEAD_GENESIS:
        raise RuntimeError(f"access_log_head changed or unexpected after load: {head}")
    seconds = time.perf_counter() - started
    print(f"built {db.name} in {seconds:.1f}s: {world.counts()}", flush=True)
    return {"build_seconds": round(seconds, 2), "rows": world.counts()}


def bearer(db: BenchDatabase, username: str) -> dict[str, str]:
    settings = Settings(database_url=db.sqlalchemy_url, env=Environment.DEVELOPMENT,
                        jwt_secret=None)
    return {"Authorization": f"Bearer {mint_token(settings, username)}"}


async def measure(
    db: BenchDatabase, server: GatewayServer, scenario: Scenario, args: argparse.Namespace
) -> Measurement:
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=bearer(db, scenario.username), timeout=60.0,
        limits=limits,
    ) as client:
        warm = await run_load(client, scenario.payload, duration=args.warmup,
                              concurrency=args.concurrency)
        before, seq_before = await promscrape.scrape(client), await log_seq(db)
        result = await run_load(client, scenario.payload, duration=args.duration,
                                concurrency=args.concurrency)
        after, seq_after = await promscrape.scrape(client), await log_seq(db)
    stored = await database.log_bytes(db, seq_before, seq_after)
    return to_measurement(scenario, server, result, warm, (before, after),
                          seq_after - seq_before, stored)


async def log_seq(db: BenchDatabase) -> int:
    return (await database.access_log_head(db))[1]


def to_measurement(
    scenario: Scenario, server: GatewayServer, result: LoadResult, warm: LoadResult,
    snapshots: tuple[promscrape.Snapshot, promscrape.Snapshot], log_rows: int,
    log_bytes: int,
) -> Measurement:
    before, after = snapshots
    sql = promscrape.histogram_delta(before, after, promscrape.SQL_STATEMENTS)
    entries = promscrape.histogram_delta(before, after, promscrape.LOG_ENTRIES)
    batches = promscrape.histogram_delta(before, after, promscrape.LOG_BATCHES)
    sample = result.first_data or warm.first_data
    shape = scenario.check_shape(sample) if sample is not None else ["no successful response"]
    return Measurement(
        scenario=scenario.name,
        mode=ON if server.enforce else OFF,
        requests=result.requests,
        failures=result.failure_count,
        warmup_failures=warm.failure_count,
        seconds=round(result.elapsed, 2),
        requests_per_second=result.throughput,
        p50_ms=result.percentile_ms(0.50),
        p99_ms=result.percentile_ms(0.99),
        sql_statements_per_request=sql.mean,
        log_entries_per_request=entries.mean,
        requests_per_log_batch=batches.mean,
        log_rows_per_request_db=log_rows / result.requests if result.requests else 0.0,
        log_bytes_per_request_db=log_bytes / result.requests if result.requests else 0.0,
        failure_samples=top_failures(result) + top_failures(warm),
        shape_problems=shape,
    )


async def measure_mode(
    db: BenchDatabase, who: Identities, enforce: bool, args: argparse.Namespace
) -> list[Measurement]:
    mode = ON if enforce else OFF
    log_path = RESULTS / f"server-{mode.lower()}.log"
    measurements = []
    async with GatewayServer(db, enforce=enforce, log_path=log_path) as server:
        for scenario in scenarios(who):
            print(f"measuring {scenario.name} {mode} ...", flush=True)
            measurements.append(await measure(db, server, scenario, args))
        if not is_valid(measurements):
            print(f"server log ({log_path}), last lines:\n{server.log_tail(20)}", flush=True)
    return measurements


async def bench(args: argparse.Namespace) -> int:
    db = BenchDatabase()
    extra: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {"duration": args.duration, "warmup": args.warmup,
                   "concurrency": args.concurrency, "orgs": args.orgs, "users": args.users,
                   "skip_build": args.skip_build, "seed": SEED, "database": db.name},
    }
    if not args.skip_build:
        extra["world"] = await build(db, args.orgs, args.users)
    elif not await database.exists(db):
        print(f"--skip-build: database {db.name} does not exist", file=sys.stderr)
        return 2
    who = await database.identities(db)
    rounds = []
    for number in range(args.rounds):
        # Alternate which mode goes first, so drift on a shared machine favours neither.
        order = (True, False) if number % 2 == 0 else (False, True)
        rounds.append([m for enforce in order for m in await measure_mode(db, who, enforce, args)])
        print(f"\nround {number + 1} of {args.rounds}\n{table(rounds[-1])}", flush=True)
    measurements = [m for measured in rounds for m in measured]
    print("\n" + median_ratios(rounds))
    for line in problems(measurements):
        print(f"PROBLEM {line}")
    extra["median_ratios"] = _medians(rounds)
    write_json(args.output, measurements, extra)
    print(f"results: {args.output}")
    if not is_valid(measurements):
        print("INVALID RUN: some requests failed", file=sys.stderr)
        return 1
    return 0


def _medians(rounds: list[list[Measurement]]) -> dict[str, float | None]:
    per_scenario: dict[str, list[float]] = {}
    for measured in rounds:
        for scenario, ratio in ratios(measured).items():
            if ratio is not None:
                per_scenario.setdefault(scenario, []).append(ratio)
    return {s: round(statistics.median(r), 3) if r else None for s, r in per_scenario.items()}


def median_ratios(rounds: list[list[Measurement]]) -> str:
    return "\n".join(
        f"median ON/OFF throughput over {len(rounds)} rounds, {scenario}: {ratio}"
        for scenario, ratio in _medians(rounds).items()
    )


def main() -> int:
    return asyncio.run(bench(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
