"""Faults fail fast: while the access log's lock is held elsewhere, a request answers 503
within the lock timeout instead of waiting with it, and ``/readyz`` says not ready."""

from __future__ import annotations

import asyncio

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.settings import Settings
from tests.support import World, app_client, codes
from tests.support.database import log_head_locked

# A hang guard, not a timing assertion: before the timeouts the request waited for the lock
# as long as it was held (PostgreSQL) or 30 s (SQLite).
HANG_GUARD_SECONDS = 20
ME = {"query": "{ me { username } }"}


def impatient(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"database_lock_timeout_seconds": 0.5, "database_statement_timeout_seconds": 2}
    )


async def test_readyz_is_unavailable_while_the_log_cannot_be_appended_to(
    settings: Settings, world: World, db: Database
) -> None:
    async with app_client(impatient(settings)) as client:
        before = await client.get("/readyz")
        async with log_head_locked(db):
            locked = await asyncio.wait_for(client.get("/readyz"), HANG_GUARD_SECONDS)
        after = await client.get("/readyz")
    assert [before.status_code, locked.status_code, after.status_code] == [200, 503, 200]
    assert locked.json() == {"status": "unavailable"}


async def test_a_request_answers_503_instead_of_waiting_for_the_log(
    settings: Settings, world: World, db: Database
) -> None:
    headers = {"Authorization": f"Bearer {mint_token(settings, 'admin')}"}
    async with app_client(impatient(settings)) as client:
        async with log_head_locked(db):
            refused = await asyncio.wait_for(
                client.post("/graphql", json=ME, headers=headers), HANG_GUARD_SECONDS
            )
        served = await client.post("/graphql", json=ME, headers=headers)
    assert (refused.status_code, codes(refused.json())) == (503, ["UNAVAILABLE"])
    assert refused.json()["data"] is None
    assert served.json() == {"data": {"me": {"username": "admin"}}}
