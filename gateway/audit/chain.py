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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.search import LogFilter, request_of_entry
from gateway.authz.policy import Decision, Verdict
from gateway.data.db import Database
from gateway.models import AccessLogEntry, AccessLogHead, AccessLogRequest

REQUESTS_TABLE = cast(Table, AccessLogRequest.__table__)
GENESIS_HASH = bytes(32)
HEAD_ID = 1
DECISION_NAMES = {Decision.ALLOW: "allow", Decision.MASK: "allow", Decision.DENY: "deny"}

REQUEST_COLUMNS = (
    "first_seq", "entry_count", "request_id", "first_index", "at", "user_id", "username",
    "operation", "client_address",
)  # fmt: skip
# The entry's columns; those from "organization_id" to "rule" come from its FieldDecision.
ENTRY_COLUMNS = (
    "seq", "request_seq", "object_id", "executions", "organization_id", "object_type", "field",
    "action", "decision", "rule", "hash",
)  # fmt: skip
SQLITE_INSERT_ENTRIES = (  # built from the constant column names above
    f"INSERT INTO access_log ({', '.join(ENTRY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in ENTRY_COLUMNS)})"
)


@dataclass(frozen=True, slots=True, eq=False)  # memoized per request: identity is equality
class FieldDecision:
    """What the enforcement point decided for one (object scope, type, field) in a request."""

    verdict: Verdict
    type_name: str
    field: str
    organization_id: int | None
    recorded: bool = True  # schema introspection is not data and is not logged
    tail: bytes = b""  # this decision's share of each entry's hashed bytes
    columns: tuple[Any, ...] = ()  # this decision's entry columns, in ENTRY_COLUMNS order

    @classmethod
    def of(
        cls, verdict: Verdict, type_name: str, field_name: str, organization_id: int | None
    ) -> FieldDecision:
        decision = DECISION_NAMES[verdict.decision]
        tail = tail_bytes(
            organization_id, type_name, field_name, verdict.action, decision, verdict.rule
        )
        columns = (
            organization_id, type_name, field_name, verdict.action, decision, verdict.rule
        )  # fmt: skip
        return cls(verdict, type_name, field_name, organization_id, True, tail, columns)


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


def entry_bytes(seq: int, executions: int, object_id: str | None, tail: bytes) -> bytes:
    return b"%d\x1f%d\x1f%s\x1f" % (seq, executions, (object_id or "").encode()) + tail


def header_bytes(request: tuple[Any, ...]) -> bytes:
    """A request's columns (``REQUEST_COLUMNS`` order), part of each of its entries' hashes.

    JSON, because some of them (operation name, client address) are client-chosen text."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in request]
    return json.dumps(values, separators=(",", ":")).encode() + b"\x1e"


def chain_hash(key: bytes, previous: bytes, header: bytes, entry: bytes) -> bytes:
    """HMAC-SHA256 of an entry (with its request's columns) chained to the previous digest."""
    return hmac.digest(key, previous + header + entry, "sha256")


@dataclass(slots=True)
class AccessLogBuffer:
    """What one request did, kept in memory until it is appended.

    A read request is appended once, before its response. A mutation appends what was
    recorded so far inside its own transaction (so the change and its record commit together)
    and the rest at the end; ``flushed`` counts the entries already written, so decision ids
    (request id and entry index) stay unique across the request's batches.
    """

    request_id: str
    at: datetime
    user_id: int | None
    username: str | None
    client_address: str | None
    operation: str | None = None
    # One entry per distinct (decision, object id); ``executions`` counts repeats.
    rows: list[tuple[FieldDecision, str | None]] = field(default_factory=list)
    executions: list[int] = field(default_factory=list)
    _index: dict[tuple[FieldDecision, str | None], int] = field(default_factory=dict)
    flushed: int = 0

    def record(self, decided: FieldDecision, object_id: str | None) -> int:
        """Count one resolver execution; return its entry's index in this request."""
        key = (decided, object_id)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.rows)
            self.rows.append(key)
            self.executions.append(1)
        else:
            self.executions[index] += 1
        return self.flushed + index

    def mark_written(self) -> None:
        """The buffered entries are durable: start the request's next batch."""
        self.flushed += len(self.rows)
        self.rows.clear()
        self.executions.clear()
        self._index.clear()

    def decision_id(self, index: int) -> str:
        return f"{self.request_id}:{index}"

    def request_row(self, first_seq: int) -> tuple[Any, ...]:
        """The request's own row, in ``REQUEST_COLUMNS`` order."""
        return (
            first_seq, len(self.rows), self.request_id, self.flushed, self.at, self.user_id,
            self.username, self.operation, self.client_address,
        )  # fmt: skip

    def chained(
        self, key: bytes, request: tuple[Any, ...], previous: bytes
    ) -> list[tuple[Any, ...]]:
        """The entries, in ``ENTRY_COLUMNS`` order, each hashed onto the one before."""
        header, first_seq = header_bytes(request), request[0]
        digest, records, hmac_digest = previous, [], hmac.digest
        for seq, (decided, object_id), executions in zip(
            range(first_seq, first_seq + len(self.rows)), self.rows, self.executions, strict=True
        ):
            # chain_hash(entry_bytes(...)) written out: this loop runs once per entry.
            oid = object_id.encode() if object_id else b""
            message = b"%b%b%d\x1f%d\x1f%b\x1f%b" % (
                digest,
                header,
                seq,
                executions,
                oid,
                decided.tail,
            )
            digest = hmac_digest(key, message, "sha256")
            records.append((seq, first_seq, object_id, executions, *decided.columns, digest))
        return records


def request_tuple(request: AccessLogRequest) -> tuple[Any, ...]:
    return tuple(getattr(request, column) for column in REQUEST_COLUMNS)


def entry_hash(key: bytes, previous: bytes, header: bytes, entry: AccessLogEntry) -> bytes:
    """The chain hash of a stored entry, recomputed from its columns and its request's."""
    tail = tail_bytes(
        entry.organization_id, entry.object_type, entry.field, entry.action, entry.decision,
        entry.rule,
    )  # fmt: skip
    body = entry_bytes(entry.seq, entry.executions, entry.object_id, tail)
    return chain_hash(key, previous, header, body)


class AccessLogWriter:
    """Appends batches to the chained log; one writer per process and database."""

    def __init__(self, db: Database, key: bytes) -> None:
        self._db = db
        self._key = key
        # Serializes this process's appends; PostgreSQL's row lock covers other processes.
        self._lock = asyncio.Lock()

    async def append(self, buffer: AccessLogBuffer) -> None:
        """Write the buffer durably; raises if it cannot (the caller fails the request)."""
        if not buffer.rows:
            return
        async with self._lock, self._db.transaction() as session:
            await self._append_in(session, buffer)
        buffer.mark_written()

    async def append_within(self, session: AsyncSession, buffer: AccessLogBuffer) -> None:
        """Write the buffer in the caller's transaction; after it commits the caller calls
        ``buffer.mark_written()`` (if it rolls back, the entries are still buffered).

        No process lock here: the transaction already holds database locks (SQLite's write
        lock), and waiting for a request that waits for them would deadlock. The head row's
        lock orders this append with every other."""
        if buffer.rows:
            await self._append_in(session, buffer)

    async def _append_in(self, session: AsyncSession, buffer: AccessLogBuffer) -> None:
        # Writing the head first takes the chain's lock before reading it: a row lock on
        # PostgreSQL, the database write lock on SQLite (whose snapshot then starts after it).
        last_seq, last_hash = (
            await session.execute(
                update(AccessLogHead)
                .where(AccessLogHead.id == HEAD_ID)
                .values(seq=AccessLogHead.seq)
                .returning(AccessLogHead.seq, AccessLogHead.hash)
            )
        ).one()
        request = buffer.request_row(last_seq + 1)
        records = buffer.chained(self._key, request, last_hash)
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


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"access log entry {self.seq}: {self.what}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify_chain`` found: entries checked, the head it checked up to, any problem."""

    checked: int
    head_seq: int
    head_hash: bytes
    problem: ChainProblem | None

    @property
    def anchor(self) -> str:
        """Record this outside the database; a later verify given it proves nothing was cut."""
        return f"{self.head_seq}:{self.head_hash.hex()}"


async def _entries(
    session: AsyncSession,
    last_seq: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> AsyncIterator[tuple[AccessLogEntry, AccessLogRequest | None]]:
    statement = (
        select(AccessLogEntry, AccessLogRequest)
        .outerjoin(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
        .where(*where)
        .order_by(AccessLogEntry.seq)
        .execution_options(yield_per=2000)
    )
    if last_seq is not None:
        statement = statement.where(AccessLogEntry.seq <= last_seq)
    result = await session.stream(statement)
    async for entry, request in result:
        yield entry, request


async def verify_chain(db: Database, key: bytes, *, anchor: str | None = None) -> ChainReport:
    """Walk the log up to its current head; report the first changed, removed or reordered
    entry. Entries appended while it runs are beyond the head it read and left for next time.
    ``anchor`` ("seq:hash" from an earlier report) must still be part of the chain."""
    async with db.session() as session:
        head = await session.get(AccessLogHead, HEAD_ID)
        if head is None:
            return ChainReport(0, 0, GENESIS_HASH, ChainProblem(1, "the chain's head is missing"))
        problem, checked = await _walk(session, key, head.seq, _parse_anchor(anchor))
    if problem is None and checked != head.seq:
        problem = ChainProblem(checked + 1, "missing at the end (log truncated)")
    return ChainReport(checked, head.seq, head.hash, problem)


async def _walk(
    session: AsyncSession, key: bytes, last_seq: int, anchor: tuple[int, bytes] | None
) -> tuple[ChainProblem | None, int]:
    expected_seq, previous, checked = 1, GENESIS_HASH, 0
    request: AccessLogRequest | None = None
    header, seen = b"", 0
    async for entry, entry_request in _entries(session, last_seq):
        if entry.seq != expected_seq:
            return ChainProblem(expected_seq, "missing (removed or renumbered)"), checked
        if entry_request is None:
            return ChainProblem(entry.seq, "its request record is missing"), checked
        if request is None or entry_request.first_seq != request.first_seq:
            if request is not None and seen != request.entry_count:
                return ChainProblem(entry.seq, "its request's entry count does not match"), checked
            request, seen = entry_request, 0
            header = header_bytes(request_tuple(request))
        if entry_hash(key, previous, header, entry) != entry.hash:
            return ChainProblem(entry.seq, "changed or out of order"), checked
        previous, expected_seq, checked, seen = entry.hash, expected_seq + 1, checked + 1, seen + 1
        if anchor is not None and entry.seq == anchor[0] and entry.hash != anchor[1]:
            return ChainProblem(entry.seq, "differs from the recorded anchor"), checked
    if anchor is not None and checked < anchor[0]:
        return ChainProblem(checked + 1, "the log ends before the recorded anchor"), checked
    return None, checked


def _parse_anchor(anchor: str | None) -> tuple[int, bytes] | None:
    if anchor is None:
        return None
    seq, _, digest = anchor.partition(":")
    return int(seq), bytes.fromhex(digest)


async def export_entries(
    db: Database, log_filter: LogFilter | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every entry (or those ``log_filter`` matches) in chain order with its request's
    columns, JSON-ready (A4 export)."""
    where = []
    if log_filter is not None and log_filter.conditions():
        by_key_range = log_filter.starts_from_requests
        where = [request_of_entry(by_key_range=by_key_range), *log_filter.conditions()]
    async with db.session() as session:
        async for entry, request in _entries(session, where=where):
            values: dict[str, Any] = {c: getattr(entry, c) for c in ENTRY_COLUMNS}
            values["hash"] = entry.hash.hex()
            if request is not None:
                values |= {c: getattr(request, c) for c in REQUEST_COLUMNS}
                values["at"] = request.at.isoformat()
                index = request.first_index + entry.seq - request.first_seq
                values["decision_id"] = f"{request.request_id}:{index}"
            yield values
