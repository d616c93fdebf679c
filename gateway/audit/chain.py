"""The chained access log: batches appended durably, before any data leaves (A2, A3).

Every entry is chained to the one before it with an HMAC-SHA256 over its content and the
previous entry's hash, so a changed, removed or reordered entry breaks the chain at the first
place it was touched. Batches are appended under a lock on the chain's head row.

``AccessLogWriter.flush`` and ``AccessLogWriter.transaction`` are the only ways entries reach
the database: the GraphQL view, the token endpoint and every mutation go through them. Flushes
are group-committed (``group_commit``): the requests waiting at once share one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from gateway.audit.entries import ENTRY_COLUMNS, REQUEST_COLUMNS
from gateway.audit.group_commit import BatchLimits, BatchMetrics, GroupCommit
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

    def __init__(
        self,
        db: Database,
        key: bytes,
        limits: BatchLimits,
        metrics: BatchMetrics | None = None,
    ) -> None:
        self._db = db
        self._key = key
        # This process's flushes, one batch at a time; the head row's lock orders the batches
        # with other processes' and with the mutations' transactions.
        self._batches = GroupCommit(self._append_batch, limits, metrics or BatchMetrics())

    async def flush(self, trail: AuditTrail) -> bool:
        """A2: write what ``trail`` recorded durably, in one batch with the other requests
        waiting. False if that batch could not be written (the failure is logged): then no
        data may leave, and the caller answers "unavailable"."""
        if not trail.entry_count:
            return True
        return await self._batches.write(trail)

    async def close(self) -> None:
        """Let the flushes under way finish (at shutdown, before the database is closed)."""
        await self._batches.close()

    @asynccontextmanager
    async def transaction(self, trail: AuditTrail) -> AsyncIterator[AsyncSession]:
        """One transaction for a change and what ``trail`` recorded up to its end (the change's
        own entries included): they commit together or not at all. If it rolls back, the
        entries stay recorded and are written by the request's final ``flush``.

        Neither a process lock nor a place in a group commit here: the transaction already
        holds database locks (SQLite's write lock), and waiting for a request, or a batch, that
        waits for them would deadlock. Its commit is the change's own. The head row's lock
        (SQLite: the write lock) orders this append with the group writer's batches, which
        hold no lock but the log's while they wait for it."""
        async with self._db.transaction() as session:
            yield session
            if trail.entry_count:
                await self._append_in(session, [trail])
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

    async def _append_batch(self, trails: list[AuditTrail]) -> None:
        """One group commit: all of ``trails`` in one transaction, or none of them."""
        async with self._db.transaction() as session:
            await self._append_in(session, trails)
        for trail in trails:
            trail.mark_written()

    async def _append_in(self, session: AsyncSession, trails: Sequence[AuditTrail]) -> None:
        """Each trail's request row and entries, in order, under one lock on the chain's head:
        a request's first entry is chained onto the previous request's last."""
        last_seq, last_hash = (await session.execute(_take_head())).one()
        requests: list[dict[str, Any]] = []
        records: list[tuple[Any, ...]] = []
        for trail in trails:
            request = trail.request_row(last_seq + 1)
            chained = trail.chained(self._key, request, last_hash)
            requests.append(dict(zip(REQUEST_COLUMNS, request, strict=True)))
            records += chained
            last_seq, last_hash = last_seq + len(chained), chained[-1][-1]
        await session.execute(insert(REQUESTS_TABLE), requests)
        await self._insert_entries(session, records)
        await session.execute(
            update(AccessLogHead)
            .where(AccessLogHead.id == HEAD_ID)
            .values(seq=last_seq, hash=last_hash)
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
