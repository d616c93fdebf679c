"""The access log: a per-request buffer, one batched append, and chain verification (A1-A3).

Every entry is chained to the one before it with an HMAC-SHA256 over its content and the
previous entry's hash, so a changed, removed or reordered entry breaks the chain at the
first place it was touched. Batches are appended under a lock on the chain's head row.

The buffer sits on the hot path (one append per resolved field), so it stores a reference to
the request's memoized ``FieldDecision`` plus the object id, and the bytes each entry
contributes to its hash are mostly prepared once per (object scope, type, field).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.authorization import Decision, Verdict
from gateway.db import Database
from gateway.models import AccessLogEntry, AccessLogHead

ACCESS_LOG_TABLE = cast(Table, AccessLogEntry.__table__)
GENESIS_HASH = "0" * 64
HEAD_ID = 1
DECISION_NAMES = {Decision.ALLOW: "allow", Decision.MASK: "allow", Decision.DENY: "deny"}

# Column order of an appended entry: the request's columns, then the entry's own.
INSERT_COLUMNS = (
    "at", "request_id", "user_id", "username", "operation", "client_address",
    "seq", "decision_id", "organization_id", "object_type", "object_id", "field", "action",
    "decision", "rule", "hash",
)  # fmt: skip
SQLITE_INSERT = (  # built from the constant column names above
    f"INSERT INTO access_log ({', '.join(INSERT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
)


@dataclass(frozen=True, slots=True)
class FieldDecision:
    """What the enforcement point decided for one (object scope, type, field) in a request."""

    verdict: Verdict
    type_name: str
    field: str
    organization_id: int | None
    recorded: bool = True  # schema introspection is not data and is not logged
    tail: bytes = b""  # this decision's share of each entry's hashed bytes

    @classmethod
    def of(
        cls, verdict: Verdict, type_name: str, field_name: str, organization_id: int | None
    ) -> FieldDecision:
        decision = DECISION_NAMES[verdict.decision]
        tail = tail_bytes(
            organization_id, type_name, field_name, verdict.action, decision, verdict.rule
        )
        return cls(verdict, type_name, field_name, organization_id, True, tail)


def tail_bytes(
    organization_id: int | None,
    object_type: str,
    field_name: str,
    action: str,
    decision: str,
    rule: str | None,
) -> bytes:
    """Entry columns that do not vary by object: numbers and schema or policy names, none of
    which can contain the separator, so a plain join is unambiguous."""
    org = "" if organization_id is None else str(organization_id)
    return "\x1f".join((org, object_type, field_name, action, decision, rule or "")).encode()


def entry_bytes(seq: int, decision_id: str, object_id: str | None, tail: bytes) -> bytes:
    return b"%d\x1f%s\x1f%s\x1f" % (seq, decision_id.encode(), (object_id or "").encode()) + tail


def header_bytes(
    at: datetime,
    request_id: str,
    user_id: int | None,
    username: str | None,
    operation: str | None,
    client_address: str | None,
) -> bytes:
    """The request-level columns, encoded once per batch (they may carry client-chosen text)."""
    values = [at.isoformat(), request_id, user_id, username, operation, client_address]
    return json.dumps(values, separators=(",", ":")).encode() + b"\x1e"


def chain_hash(key: bytes, previous: bytes, header: bytes, entry: bytes) -> bytes:
    """HMAC-SHA256 of an entry (header and own columns) chained to the previous digest."""
    return hmac.digest(key, previous + header + entry, "sha256")


@dataclass(slots=True)
class AccessLogBuffer:
    """What one request did, kept in memory until the request's single append."""

    request_id: str
    at: datetime
    user_id: int | None
    username: str | None
    client_address: str | None
    operation: str | None = None
    rows: list[tuple[FieldDecision, str | None]] = field(default_factory=list)

    def decision_id(self, index: int) -> str:
        return f"{self.request_id}:{index}"

    def header(self) -> bytes:
        return header_bytes(
            self.at, self.request_id, self.user_id, self.username, self.operation,
            self.client_address,
        )  # fmt: skip

    def chained(self, key: bytes, first_seq: int, previous: str) -> list[tuple[Any, ...]]:
        """Rows ready to insert, in ``INSERT_COLUMNS`` order, numbered from ``first_seq``."""
        header = self.header()
        digest = bytes.fromhex(previous)
        request = (
            self.at, self.request_id, self.user_id, self.username, self.operation,
            self.client_address,
        )  # fmt: skip
        records = []
        for index, (decided, object_id) in enumerate(self.rows):
            seq, decision_id = first_seq + index, f"{self.request_id}:{index}"
            digest = chain_hash(
                key, digest, header, entry_bytes(seq, decision_id, object_id, decided.tail)
            )
            verdict = decided.verdict
            records.append((
                *request, seq, decision_id, decided.organization_id, decided.type_name,
                object_id, decided.field, verdict.action, DECISION_NAMES[verdict.decision],
                verdict.rule, digest.hex(),
            ))  # fmt: skip
        return records


def entry_hash(key: bytes, previous: str, entry: AccessLogEntry) -> str:
    """The chain hash of a stored entry, recomputed from its columns."""
    header = header_bytes(
        entry.at, entry.request_id, entry.user_id, entry.username, entry.operation,
        entry.client_address,
    )  # fmt: skip
    tail = tail_bytes(
        entry.organization_id, entry.object_type, entry.field, entry.action, entry.decision,
        entry.rule,
    )  # fmt: skip
    body = entry_bytes(entry.seq, entry.decision_id, entry.object_id, tail)
    return chain_hash(key, bytes.fromhex(previous), header, body).hex()


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
        records = buffer.chained(self._key, head.seq + 1, head.hash)
        await self._insert(session, records)
        head.seq += len(records)
        head.hash = records[-1][-1]
        await session.flush()

    async def _insert(self, session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
        connection = await session.connection()
        if self._db.is_sqlite:
            # One executemany of plain tuples: SQLAlchemy's per-row parameter processing would
            # cost more than the rest of the append. Only `at` needs converting, once.
            convert = ACCESS_LOG_TABLE.c.at.type.bind_processor(connection.dialect)
            at = convert(records[0][0]) if convert else records[0][0]
            await connection.exec_driver_sql(SQLITE_INSERT, [(at, *r[1:]) for r in records])
            return
        # PostgreSQL: COPY is an order of magnitude faster than INSERT for a page of fields.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            AccessLogEntry.__tablename__, records=records, columns=list(INSERT_COLUMNS)
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
            if entry.seq != expected_seq:
                return checked, ChainProblem(expected_seq, "missing (removed or renumbered)")
            if entry_hash(key, previous, entry) != entry.hash:
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
            values = {c: getattr(entry, c) for c in INSERT_COLUMNS}
            values["at"] = entry.at.isoformat()
            yield values
