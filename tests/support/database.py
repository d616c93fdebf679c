"""Reading, and deliberately breaking, the database directly: what a request left behind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette

from gateway.data.db import Database
from gateway.models import OutboxMessage
from tests.support.factories import Org


async def outbox_of(db: Database, org: Org) -> list[OutboxMessage]:
    """The organization's outbox messages, oldest first."""
    async with db.session() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.organization_id == org.id)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


@asynccontextmanager
async def held(db: Database, statement: str, **parameters: Any) -> AsyncIterator[None]:
    """Another connection runs ``statement`` (a lock, a write) and holds what it took until
    the block ends, as a long transaction elsewhere would."""
    async with db.session() as session:
        await session.execute(text(statement), parameters)
        try:
            yield
        finally:
            await session.rollback()


@asynccontextmanager
async def access_log_unwritable(db: Database) -> AsyncIterator[None]:
    """Inside the block no access-log entry can be written (the table is renamed away)."""
    async with db.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        yield
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE access_log_away RENAME TO access_log"))


@contextmanager
def counting(app: Starlette) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@asynccontextmanager
async def log_head_locked(db: Database) -> AsyncIterator[None]:
    """Another connection holds the access log head's lock until the block ends: its row
    lock on PostgreSQL, the database's write lock on SQLite."""
    async with db.session() as session:
        await session.execute(text("UPDATE access_log_head SET seq = seq WHERE id = 1"))
        try:
            yield
        finally:
            await session.rollback()


# A6: the database refuses to change or delete access-log rows; tests of verification (A3)
# lift that guard the way someone with schema rights could.
APPEND_ONLY = ("access_log", "access_log_requests")


@asynccontextmanager
async def tampering(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection with the append-only guard lifted, as someone with schema rights could."""
    async with db.engine.begin() as connection:
        for table in APPEND_ONLY:
            if db.is_sqlite:
                await connection.execute(text(f"DROP TRIGGER {table}_no_update"))
                await connection.execute(text(f"DROP TRIGGER {table}_no_delete"))
            else:
                await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield connection
        for table in APPEND_ONLY:
            if db.is_sqlite:
                for change in ("UPDATE", "DELETE"):
                    trigger = f"{table}_no_{change.lower()} BEFORE {change} ON {table}"
                    await connection.execute(
                        text(
                            f"CREATE TRIGGER {trigger} "
                            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
                        )
                    )
            else:
                await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
