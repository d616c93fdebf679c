"""A2 with group commit: the requests waiting at once share one access-log transaction, and each
answers only once its batch is durable; a batch that fails refuses every request in it, and the
next one tries again; mutations' own appends and other processes' batches share the one chain.

To know that a burst really waited together, a test holds the chain's lock (the head row on
PostgreSQL, the write lock on SQLite) until every request of the burst waits for the log
(``gateway_access_log_requests_waiting``), so batching does not depend on timing.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.audit import verify_chain
from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.models import AccessLogEntry, AccessLogRequest
from gateway.settings import Settings
from tests.support import Api, World, app_client, codes
from tests.support.accounts import LOGIN, PASSWORD, make_account
from tests.support.database import access_log_unwritable, log_head_locked
from tests.support.server import serving_several

HANG_GUARD_SECONDS = 60  # not a timing assertion: every wait below normally takes milliseconds
BURST = 24
BATCHES = "gateway_access_log_requests_per_batch"
WAITING = "gateway_access_log_requests_waiting"
SUNRISE = "Sunrise Family Practice"


def patient(settings: Settings, **changes: object) -> Settings:
    """Settings whose appends wait for the chain's lock as long as a test holds it."""
    timeouts = {
        "database_lock_timeout_seconds": HANG_GUARD_SECONDS,
        "database_statement_timeout_seconds": HANG_GUARD_SECONDS,
    }
    return settings.model_copy(update=timeouts | changes)


def me_query(operation: str) -> str:
    """Two entries: ``Query.me`` and ``User.username``, in a request named ``operation``."""
    return f"query {operation} {{ me {{ username }} }}"


def operation_name() -> str:
    return f"Burst{uuid.uuid4().hex[:12]}"


# ---- what /metrics and the log say --------------------------------------------------------------


@dataclass(frozen=True)
class Batches:
    """The batch histogram of one process, as /metrics shows it."""

    count: float  # batches (transactions)
    requests: float  # requests they held
    at_most: dict[float, float]  # per bucket bound: batches of at most that many requests

    def since(self, before: Batches) -> Batches:
        return Batches(
            self.count - before.count,
            self.requests - before.requests,
            {le: n - before.at_most.get(le, 0) for le, n in self.at_most.items()},
        )


async def scrape(client: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = (await client.get("/metrics")).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def batches(client: httpx.AsyncClient) -> Batches:
    samples = await scrape(client)
    buckets = {float(labels["le"]): value for labels, value in samples[f"{BATCHES}_bucket"]}
    [(_, count)] = samples[f"{BATCHES}_count"]
    [(_, requests)] = samples[f"{BATCHES}_sum"]
    return Batches(count, requests, buckets)


async def waiting(client: httpx.AsyncClient) -> float:
    [(_, value)] = (await scrape(client))[WAITING]
    return value


async def until_waiting(client: httpx.AsyncClient, count: int) -> None:
    """Until exactly ``count`` requests of this process wait for their batch."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while await waiting(client) != count:
        assert time.monotonic() < deadline, f"hang guard: never {count} requests waiting"
        await asyncio.sleep(0.02)


async def logged(db: Database, request_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per request id in the log: (its request rows, its entries)."""
    async with db.session() as session:
        rows = dict(
            (
                await session.execute(
                    select(AccessLogRequest.request_id, func.count())
                    .where(AccessLogRequest.request_id.in_(request_ids))
                    .group_by(AccessLogRequest.request_id)
                )
            ).all()
        )
        entries = dict(
            (
                await session.execute(
                    select(AccessLogRequest.request_id, func.count(AccessLogEntry.seq))
                    .join(AccessLogEntry, AccessLogEntry.request_seq == AccessLogRequest.first_seq)
                    .where(AccessLogRequest.request_id.in_(request_ids))
                    .group_by(AccessLogRequest.request_id)
                )
            ).all()
        )
    return {request_id: (rows[request_id], entries.get(request_id, 0)) for request_id in rows}


async def requests_named(db: Database, operation: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(AccessLogRequest.operation == operation)
        )
    return int(count or 0)


def request_ids(responses: list[httpx.Response]) -> list[str]:
    return [response.headers["x-request-id"] for response in responses]


async def chain_problem(db: Database, settings: Settings) -> object:
    return (await verify_chain(db, settings.chain_key)).problem


# ---- one process ------------------------------------------------------------------------------


async def held_burst(api: Api, db: Database, size: int, query: str) -> list[httpx.Response]:
    """``size`` concurrent reads that all wait for the log before any batch can be written."""
    async with log_head_locked(db):
        requests = [asyncio.create_task(api.post(query, as_user="admin")) for _ in range(size)]
        await until_waiting(api.client, size)
    return list(await asyncio.gather(*requests))


async def test_requests_waiting_together_share_a_transaction_and_each_is_written(
    settings: Settings, world: World, db: Database
) -> None:
    operation = operation_name()
    async with app_client(patient(settings)) as client:
        before = await batches(client)
        responses = await held_burst(Api(client, settings), db, BURST, me_query(operation))
        written = (await batches(client)).since(before)
    assert [response.status_code for response in responses] == [200] * BURST
    assert {r.json()["data"]["me"]["username"] for r in responses} == {"admin"}
    ids = request_ids(responses)
    assert await logged(db, ids) == dict.fromkeys(ids, (1, 2))  # once each, both entries
    assert await chain_problem(db, settings) is None
    assert written.requests == BURST
    assert written.count < BURST  # fewer transactions than requests


async def test_a_batch_holds_no_more_requests_than_its_limit(
    settings: Settings, world: World, db: Database
) -> None:
    async with app_client(patient(settings, access_log_batch_requests=4)) as client:
        before = await batches(client)
        responses = await held_burst(Api(client, settings), db, 16, me_query(operation_name()))
        written = (await batches(client)).since(before)
    assert [response.status_code for response in responses] == [200] * 16
    assert written.requests == 16
    assert written.at_most[4] == written.count >= 4
    assert await chain_problem(db, settings) is None


async def test_a_request_whose_client_left_leaves_the_others_answered_and_is_written(
    settings: Settings, world: World, db: Database
) -> None:
    """Cancelled while waiting for its batch: the others still answer; its entries are
    written all the same (A1: it ran)."""
    operation = operation_name()
    async with app_client(patient(settings)) as client:
        api = Api(client, settings)
        async with log_head_locked(db):
            requests = [
                asyncio.create_task(api.post(me_query(operation), as_user="admin"))
                for _ in range(12)
            ]
            await until_waiting(client, 12)
            gone, kept = requests[::3], [r for i, r in enumerate(requests) if i % 3]
            for request in gone:
                request.cancel()
            await until_waiting(client, len(kept))
        answered = await asyncio.gather(*kept)
        # Batches are taken in arrival order: once a later request is answered, every
        # earlier one has been written.
        later = await api.post(me_query(operation_name()), as_user="admin")
    assert [response.status_code for response in [*answered, later]] == [200] * 9
    assert all(request.cancelled() for request in gone)
    assert await requests_named(db, operation) == 12
    assert await chain_problem(db, settings) is None


async def test_a_failed_batch_refuses_all_its_requests_and_the_next_batch_is_written(
    settings: Settings, world: World, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    query = f'{{ organization(id: "{world.org(SUNRISE)}") {{ name taxIds {{ tin }} }} }}'
    async with app_client(patient(settings)) as client:
        api = Api(client, settings)
        before = await batches(client)
        async with access_log_unwritable(db):
            refused = await held_burst(api, db, BURST, query)
        failed = (await batches(client)).since(before)
        served = await asyncio.gather(*(api.post(query, as_user="admin") for _ in range(BURST)))
    for response in refused:  # A2: no data leaves without its entries
        assert response.status_code == 503
        assert (response.json()["data"], codes(response.json())) == (None, ["UNAVAILABLE"])
        assert "111111111" not in response.text
    assert failed.count < BURST  # the refusals were batches of several requests
    assert await logged(db, request_ids(refused)) == {}  # nothing of a failed batch remains
    failures = [r.getMessage() for r in caplog.records if "append failed" in r.getMessage()]
    assert all(any(i in failure for failure in failures) for i in request_ids(refused))
    assert [response.status_code for response in served] == [200] * BURST
    assert all(r.json()["data"]["organization"]["name"] == SUNRISE for r in served)
    assert set(await logged(db, request_ids(served))) == set(request_ids(served))
    assert await chain_problem(db, settings) is None


async def test_mutations_appending_in_their_own_transactions_interleave_with_batches(
    settings: Settings, world: World, db: Database
) -> None:
    """Sign-ins append in their own transactions (the change and its entries together) while
    a burst of reads waits for its batches: the head lock orders them all in one chain."""
    accounts = [await make_account(db) for _ in range(4)]
    operation = operation_name()
    async with app_client(patient(settings)) as client:
        api = Api(client, settings)
        async with log_head_locked(db):
            reads = [
                asyncio.create_task(api.post(me_query(operation), as_user="admin"))
                for _ in range(BURST)
            ]
            await until_waiting(client, BURST)
            sign_ins = [
                asyncio.create_task(
                    client.post(
                        "/graphql",
                        json={"query": LOGIN, "variables": {"u": a.username, "p": PASSWORD}},
                    )
                )
                for a in accounts
            ]
        responses = await asyncio.gather(*reads, *sign_ins)
    assert [response.status_code for response in responses] == [200] * (BURST + len(accounts))
    assert all(r.json()["data"]["login"]["accessToken"] for r in responses[BURST:])
    assert await requests_named(db, operation) == BURST
    assert await chain_problem(db, settings) is None


# ---- two processes ----------------------------------------------------------------------------


@pytest.fixture
def two_gateways(settings: Settings, world: World, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``gateway serve`` processes on the suite's database (SQLite file or PostgreSQL)."""
    env = {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_AUDIT_KEY": settings.audit_key or "",
        # Each waits for the other's batches as long as they take (a hang guard).
        "GATEWAY_DATABASE_LOCK_TIMEOUT_SECONDS": str(HANG_GUARD_SECONDS),
        "GATEWAY_DATABASE_STATEMENT_TIMEOUT_SECONDS": str(HANG_GUARD_SECONDS),
    }
    with serving_several(env, [tmp_path / "serve-1.log", tmp_path / "serve-2.log"]) as urls:
        yield urls


async def test_two_processes_append_to_one_chain_each_request_once(
    two_gateways: list[str], settings: Settings, db: Database
) -> None:
    headers = {"Authorization": f"Bearer {mint_token(settings, 'admin')}"}
    operation = operation_name()
    async with (
        httpx.AsyncClient(base_url=two_gateways[0], timeout=HANG_GUARD_SECONDS) as first,
        httpx.AsyncClient(base_url=two_gateways[1], timeout=HANG_GUARD_SECONDS) as second,
    ):
        before = [await batches(first), await batches(second)]
        payload = {"query": me_query(operation)}
        responses = await asyncio.gather(
            *(
                client.post("/graphql", json=payload, headers=headers)
                for _ in range(BURST)
                for client in (first, second)
            )
        )
        after = [await batches(first), await batches(second)]
    assert [response.status_code for response in responses] == [200] * 2 * BURST
    ids = request_ids(list(responses))
    assert await logged(db, ids) == dict.fromkeys(ids, (1, 2))
    assert await requests_named(db, operation) == 2 * BURST
    assert [a.since(b).requests for a, b in zip(after, before, strict=True)] == [BURST, BURST]
    assert await chain_problem(db, settings) is None
