"""Reading the chain back: verification (A3) and the JSON-lines export (A4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.chain import GENESIS_HASH, HEAD_ID
from gateway.audit.entries import (
    ENTRY_COLUMNS,
    REQUEST_COLUMNS,
    FiledObject,
    chain_hash,
    entry_bytes,
    header_bytes,
    objects_json,
    per_object_bytes,
    tail_bytes,
)
from gateway.audit.objects import shown
from gateway.audit.search import LogFilter, request_of_entry
from gateway.data import Database
from gateway.models import AccessLogEntry, AccessLogHead, AccessLogRequest


def request_tuple(request: AccessLogRequest) -> tuple[Any, ...]:
    return tuple(getattr(request, column) for column in REQUEST_COLUMNS)


def entry_hash(
    key: bytes, previous: bytes, header: bytes, entry: AccessLogEntry, per_object_until: int
) -> bytes | None:
    """The chain hash of a stored entry, recomputed from its columns and its request's as
    they were hashed when written (one entry per object up to ``per_object_until``). None:
    no hash fits it (an entry written per object covers exactly one)."""
    columns = (entry.object_type, entry.field, entry.action, entry.decision, entry.rule)
    if entry.seq > per_object_until:
        objects = objects_json(entry.objects)
        body = entry_bytes(entry.seq, entry.executions, objects, tail_bytes(*columns))
    elif (only := _only_object(entry.objects)) is not None:
        body = per_object_bytes(entry.seq, entry.executions, *only, columns)
    else:
        return None
    return chain_hash(key, previous, header, body)


def _only_object(objects: Any) -> FiledObject | None:
    """The one object of an entry migrated from one per object, if that is what it holds."""
    match objects:
        case [[str() | None as object_id, int() | None as organization_id]]:
            return object_id, organization_id
    return None


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
        problem, checked = await _walk(
            session, key, (head.seq, head.per_object_until), _parse_anchor(anchor)
        )
    if problem is None and checked != head.seq:
        problem = ChainProblem(checked + 1, "missing at the end (log truncated)")
    return ChainReport(checked, head.seq, head.hash, problem)


async def _walk(
    session: AsyncSession, key: bytes, head: tuple[int, int], anchor: tuple[int, bytes] | None
) -> tuple[ChainProblem | None, int]:
    last_seq, per_object_until = head
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
        if entry_hash(key, previous, header, entry, per_object_until) != entry.hash:
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
    columns, JSON-ready (A4 export): all its objects, and the one object and organization it
    is about (those ``accessLog`` shows as ``objectId`` and ``organizationId``)."""
    where = []
    if log_filter is not None and log_filter.conditions():
        by_key_range = log_filter.starts_from_requests
        where = [request_of_entry(by_key_range=by_key_range), *log_filter.conditions()]
    object_id = None if log_filter is None else log_filter.object_id
    async with db.session() as session:
        async for entry, request in _entries(session, where=where):
            values: dict[str, Any] = {c: getattr(entry, c) for c in ENTRY_COLUMNS}
            part = shown(entry, object_id=object_id)
            values["objects"] = [{"id": oid, "organization_id": org} for oid, org in part.objects]
            values["object_id"], values["organization_id"] = part.object_id, part.organization_id
            values["hash"] = entry.hash.hex()
            if request is not None:
                values |= {c: getattr(request, c) for c in REQUEST_COLUMNS}
                values["at"] = request.at.isoformat()
                index = request.first_index + entry.seq - request.first_seq
                values["decision_id"] = f"{request.request_id}:{index}"
            yield values
