"""Broken connections are discarded: after every database connection of a gateway is ended
behind its back, its next requests are served on new ones (no failure in between)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.http.app import create_app
from gateway.settings import Settings
from tests.support import World

ORG = """query($id: ID!) { organization(id: $id) { name
  members { totalCount edges { node { user { username } roles { code } } } } } }"""


@contextmanager
def opened_connections(engine: AsyncEngine) -> Iterator[list[Any]]:
    """The driver connections (asyncpg's, aiosqlite's) the engine opens inside the block."""
    opened: list[Any] = []

    def record(dbapi_connection: Any, _record: Any) -> None:
        opened.append(dbapi_connection.driver_connection)

    event.listen(engine.sync_engine, "connect", record)
    try:
        yield opened
    finally:
        event.remove(engine.sync_engine, "connect", record)


async def end_behind_its_back(db: Database, connections: list[Any]) -> None:
    """PostgreSQL: terminate their backends (as an operator or a failover would), waiting
    until they are gone. SQLite: close them under the pool."""
    if db.is_sqlite:
        for connection in connections:
            await connection.close()
        return
    pids = [connection.get_server_pid() for connection in connections]
    async with db.session() as session:
        ended = await session.scalars(
            text("SELECT pg_terminate_backend(pid, 5000) FROM unnest(CAST(:pids AS int[])) pid"),
            {"pids": pids},
        )
        assert all(ended.all())


async def test_the_pool_heals_after_the_gateways_connections_are_ended(
    settings: Settings, world: World, db: Database
) -> None:
    app: Starlette = create_app(settings)
    engine = app.state.runtime.db.engine
    headers = {"Authorization": f"Bearer {mint_token(settings, 'admin')}"}
    request = {"query": ORG, "variables": {"id": world.org("Sunrise Family Practice")}}
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:

            async def answers(times: int) -> list[tuple[int, Any]]:
                responses = await asyncio.gather(
                    *(client.post("/graphql", json=request, headers=headers) for _ in range(times))
                )
                return [(r.status_code, r.json().get("errors")) for r in responses]

            with opened_connections(engine) as pooled:
                assert await answers(5) == [(200, None)] * 5
            assert pooled
            await end_behind_its_back(db, pooled)
            assert [*await answers(1), *await answers(5)] == [(200, None)] * 6
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await engine.dispose()
