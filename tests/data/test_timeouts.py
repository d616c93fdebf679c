"""A serving gateway's database connections carry its timeouts (the settings, not defaults)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from gateway.http.app import create_app
from gateway.settings import Settings
from tests.support import World


async def test_the_gateways_connections_carry_its_timeouts(
    settings: Settings, world: World
) -> None:
    app = create_app(
        settings.model_copy(
            update={
                "database_statement_timeout_seconds": 4,
                "database_lock_timeout_seconds": 1.5,
                "database_pool_timeout_seconds": 3,
            }
        )
    )
    db = app.state.runtime.db
    try:
        async with db.session() as session:
            if db.is_sqlite:
                waits = [await session.scalar(text("PRAGMA busy_timeout"))]
            else:
                waits = [
                    await session.scalar(text("SHOW statement_timeout")),
                    await session.scalar(text("SHOW lock_timeout")),
                ]
        assert waits == ([1500] if db.is_sqlite else ["4s", "1500ms"])
        assert cast(QueuePool, db.engine.pool).timeout() == 3
    finally:
        await db.dispose()
