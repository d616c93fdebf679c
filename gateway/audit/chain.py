"""The chained access log: batches appended durably, before any data leaves (A2, A3).

Every entry is chained to the one before it with an HMAC-SHA256 over its content and the
previous entry's hash, so a changed, removed or reordered entry breaks the chain at the first
place it was touched. Batches are appended under a lock on the chain's head row.

``AccessLogWriter.flush`` and ``AccessLogWriter.transaction`` are the only ways entries reach
the database: the GraphQL view, the token endpoint and every mutation go through them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from gateway.audit.entries import ENTRY_COLUMNS, REQUEST_COLUMNS
from gateway.audit.trail import AuditTrail
from gateway.data import Database
from gateway.models import AccessLogEntry, AccessLogHead, AccessLogRequest

logger = logging.getLogger("gateway")
REQUESTS_TABLE = cast(Table, AccessLogRequest.__table__)
GENESIS_HASH = bytes(32)
HEAD_ID = 1
SQLITE_INSERT_ENTRIES = (  # built from the constant column names above
    f"INSERT INTO access_log ({', '.join(ENTRY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in ENTRY_COLUMNS)})"
)


class AccessLogWriter:
    """Appends batches to the chained log; one writer per process and database."""

    def __init__(self, db: Database, key: bytes) -> None:
        self._db = db
        self._key = key
        # Serializes this process's appends; PostgreSQL's row lock covers other processes.
        self._lock = asyncio.Lock()

    async def flush(self, trail: AuditTrail) -> bool:
        """A2: write what ``trail`` recorded durably. False if it could not be written (the
        failure is logged): then no data may leave, and the caller answers "unavailable"."""
        if not trail.entry_count:
            return True
        try:
            async with self._lock, self._db.transaction() as session:
                await self._append_in(session, trail)
        except Exception:  # any failure to record means no data may leave
            logger.exception("access log append failed (request %s)", trail.request_id)
            return False
        trail.mark_written()
        return True

    @asynccontextmanager
    async def transaction(self, trail: AuditTrail) -> AsyncIterator[AsyncSession]:
        """One transaction for a change and what ``trail`` recorded up to its end (the change's
        own entries included): they commit together or not at all. If it rolls back, the
        entries stay recorded and are written by the request's final ``flush``.

        No process lock here: the transaction already holds database locks (SQLite's write
        lock), and waiting for a request that waits for them would deadlock. The head row's
        lock orders this append with every other."""
        async with self._db.transaction() as session:
            yield session
            if trail.entry_count:
                await self._append_in(session, trail)
        trail.mark_written()
        trail.changes_committed = True

    async def can_append(self) -> bool:
        """Whether an append could take the chain's lock now (``/readyz``): taken, waiting no
        longer than an append would (the lock timeout), and let go; nothing is written."""
        try:
            async with self._db.session() as session:
                (await session.execute(_take_head())).one()
                await session.rollback()
        except Exception:  # whatever keeps an append from the log keeps the gateway unready
            logger.warning("the access log cannot be appended to", exc_info=True)
            return False
        return True

    async def _append_in(self, session: AsyncSession, trail: AuditTrail) -> None:
        last_seq, last_hash = (await session.execute(_take_head())).one()
        request = trail.request_row(last_seq + 1)
        records = trail.chained(self._key, request, last_hash)
        await session.execute(
            insert(REQUESTS_TABLE), [dict(zip(REQUEST_COLUMNS, request, strict=True))]
        )
        await self._insert_entries(session, records)
        await session.execute(
            update(AccessLogHead)
            .where(AccessLogHead.id == HEAD_ID)
            .values(seq=last_seq + len(records), hash=records[-1][-1])
        )

    async def _insert_entries(self, session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
        connection = await session.connection()
        if self._db.is_sqlite:
            # One executemany of plain tuples: SQLAlchemy's per-row parameter processing would
            # cost more than the rest of the append.
            await connection.exec_driver_sql(SQLITE_INSERT_ENTRIES, records)
            return
        # PostgreSQL: COPY is an order of magnitude faster than INSERT for a page of fields.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            AccessLogEntry.__tablename__, records=records, columns=list(ENTRY_COLUMNS)
        )


def _take_head() -> ReturningUpdate[int, bytes]:
    """Writing the head first takes the chain's lock before reading it: a row lock on
    PostgreSQL, the database write lock on SQLite (whose snapshot then starts after it)."""
    return (
        update(AccessLogHead)
        .where(AccessLogHead.id == HEAD_ID)
        .values(seq=AccessLogHead.seq)
        .returning(AccessLogHead.seq, AccessLogHead.hash)
    )
