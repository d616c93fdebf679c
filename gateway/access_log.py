"""The access log: a per-request buffer, one batched append, and chain verification (A1-A3).

Every entry is chained to the one before it with an HMAC-SHA256 over its content and the
previous entry's hash, so a changed, removed or reordered entry breaks the chain at the
first place it was touched. Batches are appended under a lock on the chain's head row.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.authorization import Decision, Verdict
from gateway.db import Database
from gateway.models import AccessLogEntry, AccessLogHead

ACCESS_LOG_TABLE = cast(Table, AccessLogEntry.__table__)
GENESIS_HASH = "0" * 64
HEAD_ID = 1
DECISION_NAMES = {Decision.ALLOW: "allow", Decision.MASK: "allow", Decision.DENY: "deny"}

# Column order of an entry: the hash covers exactly these, in this order.
COLUMNS = (
    "seq",
    "at",
    "request_id",
    "decision_id",
    "user_id",
    "username",
    "organization_id",
    "operation",
    "client_address",
    "object_type",
    "object_id",
    "field",
    "action",
    "decision",
    "rule",
)


@dataclass(slots=True)
class AccessLogBuffer:
    """What one request did, kept in memory until the request's single append."""

    request_id: str
    at: datetime
    user_id: int | None
    username: str | None
    client_address: str | None
    operation: str | None = None
    # (object_type, object_id, field, action, decision, rule, organization_id)
    rows: list[tuple[str, str | None, str, str, str, str | None, int | None]] = field(
        default_factory=list
    )

    def record(
        self,
        object_type: str,
        object_id: object,
        field_name: str,
        verdict: Verdict,
        organization_id: int | None,
    ) -> str:
        """Buffer one resolver execution; return its decision id."""
        index = len(self.rows)
        self.rows.append(
            (
                object_type,
                None if object_id is None else str(object_id),
                field_name,
                verdict.action,
                DECISION_NAMES[verdict.decision],
                verdict.rule,
                organization_id,
            )
        )
        return self.decision_id(index)

    def decision_id(self, index: int) -> str:
        return f"{self.request_id}:{index}"

    def entries(self, first_seq: int) -> list[tuple[Any, ...]]:
        """The buffered rows as full entries (without hash), numbered from ``first_seq``."""
        return [
            (
                first_seq + i,
                self.at,
                self.request_id,
                self.decision_id(i),
                self.user_id,
                self.username,
                org,
                self.operation,
                self.client_address,
                typ,
                oid,
                fld,
                act,
                dec,
                rule,
            )
            for i, (typ, oid, fld, act, dec, rule, org) in enumerate(self.rows)
        ]


def entry_hash(key: bytes, previous: str, entry: Sequence[Any]) -> str:
    """HMAC of an entry's columns (in ``COLUMNS`` order) chained to the previous hash."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in entry]
    payload = previous.encode() + json.dumps(values, separators=(",", ":")).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


class AccessLogWriter:
    """Appends batches to the chained log; one writer per process and database."""

    def __init__(self, db: Database, key: bytes) -> None:
        self._db = db
        self._key = key
        # Serializes this process's appends; PostgreSQL's row lock covers other processes.
        self._lock = asyncio.Lock()

    async def append(self, buffer: AccessLogBuffer, session: AsyncSession | None = None) -> None:
        """Write the buffer durably; raises if it cannot (the caller fails the request)."""
        if not buffer.rows:
            return
        async with self._lock:
            if session is not None:
                await self._append_in(session, buffer)
            else:
                async with self._db.transaction() as own:
                    await self._append_in(own, buffer)
        buffer.rows.clear()

    async def _append_in(self, session: AsyncSession, buffer: AccessLogBuffer) -> None:
        head = (
            await session.execute(
                select(AccessLogHead).where(AccessLogHead.id == HEAD_ID).with_for_update()
            )
        ).scalar_one()
        previous = head.hash
        records = []
        for entry in buffer.entries(head.seq + 1):
            previous = entry_hash(self._key, previous, entry)
            records.append((*entry, previous))
        await self._insert(session, records)
        head.seq += len(records)
        head.hash = previous
        await session.flush()

    async def _insert(self, session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
        columns = (*COLUMNS, "hash")
        if self._db.is_sqlite:
            # Core executemany on the table: one statement, nulls included (the ORM bulk path
            # would split the batch by which columns happen to be null).
            await session.execute(
                insert(ACCESS_LOG_TABLE),
                [dict(zip(columns, r, strict=True)) for r in records],
            )
            return
        # PostgreSQL: COPY is an order of magnitude faster than INSERT for a page of fields.
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            AccessLogEntry.__tablename__, records=records, columns=list(columns)
        )


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"access log entry {self.seq}: {self.what}"


async def _entries(session: AsyncSession) -> AsyncIterator[AccessLogEntry]:
    result = await session.stream_scalars(
        select(AccessLogEntry).order_by(AccessLogEntry.seq).execution_options(yield_per=2000)
    )
    async for entry in result:
        yield entry


async def verify_chain(db: Database, key: bytes) -> tuple[int, ChainProblem | None]:
    """Walk the whole log; return how many entries were checked and the first problem."""
    expected_seq, previous, checked = 1, GENESIS_HASH, 0
    async with db.session() as session:
        async for entry in _entries(session):
            values = [getattr(entry, c) for c in COLUMNS]
            if entry.seq != expected_seq:
                return checked, ChainProblem(expected_seq, "missing (removed or renumbered)")
            if entry_hash(key, previous, values) != entry.hash:
                return checked, ChainProblem(entry.seq, "changed or out of order")
            previous, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
        head = await session.get(AccessLogHead, HEAD_ID)
    if head is None or head.seq != checked or head.hash != previous:
        return checked, ChainProblem(checked + 1, "missing at the end (log truncated)")
    return checked, None


async def export_entries(db: Database) -> AsyncIterator[dict[str, Any]]:
    """Every entry in chain order, as JSON-ready dictionaries (A4 export)."""
    async with db.session() as session:
        async for entry in _entries(session):
            values = {c: getattr(entry, c) for c in (*COLUMNS, "hash")}
            values["at"] = entry.at.isoformat()
            yield values
