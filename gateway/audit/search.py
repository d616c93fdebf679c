"""Searching the access log (A4): filters that map onto its indexes, shared by the
``accessLog`` query and ``gateway audit export``.

Each filter names an indexed column: the user and the time window ``access_log_requests``
(``ix_access_log_requests_user_at``, ``ix_access_log_requests_at``), the type and field
``access_log`` (``ix_access_log_kind``), and the object and the organization the entry's
objects (``has_object``: containment, which PostgreSQL answers from the GIN index
``ix_access_log_objects``). A request's entries are the ``entry_count`` numbers from its
``first_seq``, so when the search starts from the requests (a user's day) the join is also
written as that range of the entries' primary key, and the entries are read by key range
instead of a scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.objects import filed_under_any, has_object
from gateway.models import AccessLogEntry, AccessLogRequest

Entry, Request = AccessLogEntry, AccessLogRequest
LogRow = tuple[AccessLogEntry, AccessLogRequest]


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Entries of requests made at or after ``since`` and before ``until``; None: any."""

    since: datetime | None = None
    until: datetime | None = None
    user_id: int | None = None
    organization_id: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    field: str | None = None

    @property
    def starts_from_requests(self) -> bool:
        """A user's requests, or a time window alone: the requests' indexes lead the search.
        (Joined by key range only then: the planner reads the redundant range as narrowing
        and would otherwise misjudge an organization's or an object's entries.)"""
        entry_side = (self.organization_id, self.object_type, self.object_id, self.field)
        return self.user_id is not None or all(value is None for value in entry_side)

    @property
    def within(self) -> frozenset[int] | None:
        """The organizations whose objects the search shows of each entry (None: all): an
        admin's search names their organization and shows only its part (A4)."""
        return None if self.organization_id is None else frozenset((self.organization_id,))

    @property
    def window_only(self) -> bool:
        """Nothing but a time window narrows the search."""
        return self.user_id is None and self.starts_from_requests

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions over ``access_log`` joined with its requests."""
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(Request.at >= self.since)
        if self.until is not None:
            found.append(Request.at < self.until)
        if self.user_id is not None:
            found.append(Request.user_id == self.user_id)
        if self.organization_id is not None or self.object_id is not None:
            found.append(has_object(self.object_id, self.organization_id))
        if self.object_type is not None:
            found.append(Entry.object_type == self.object_type)
        if self.field is not None:
            found.append(Entry.field == self.field)
        return found


def as_utc(value: datetime) -> datetime:
    """A time without an offset is taken as UTC (the log's own clock). Raises OverflowError
    for a time that UTC cannot hold (e.g. year 1 at +05:00)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def request_of_entry(*, by_key_range: bool = True) -> ColumnElement[bool]:
    """The join of an entry to its request, also as a range of the entries' key when the
    search starts from the requests (a user, or a time window alone)."""
    if not by_key_range:
        return Request.first_seq == Entry.request_seq
    return and_(
        Request.first_seq == Entry.request_seq,
        Entry.seq >= Request.first_seq,
        Entry.seq < Request.first_seq + Request.entry_count,
    )


def newest_first(
    log_filter: LogFilter, *, before_seq: int | None, limit: int
) -> Select[AccessLogEntry, AccessLogRequest]:
    """Up to ``limit`` matching entries numbered below ``before_seq``, newest first."""
    statement = (
        select(Entry, Request)
        .join(Request, request_of_entry(by_key_range=log_filter.starts_from_requests))
        .where(*log_filter.conditions())
        .order_by(Entry.seq.desc())
        .limit(limit)
    )
    if before_seq is not None:
        statement = statement.where(Entry.seq < before_seq)
    if log_filter.window_only:
        statement = statement.where(*_seq_window(log_filter))
    return statement


def _seq_window(log_filter: LogFilter) -> list[ColumnElement[bool]]:
    """A time window as a range of entry numbers, from the requests' time index: an old day
    is then read by key range, not by scanning every newer entry. (Requests are appended in
    chain order, but a request's time is when it began, so the bounds come from the requests
    themselves: every entry of a request in the window lies within them.)"""
    bounds: list[ColumnElement[bool]] = []
    if log_filter.since is not None:
        first = select(func.min(Request.first_seq)).where(Request.at >= log_filter.since)
        bounds.append(Entry.seq >= first.scalar_subquery())
    if log_filter.until is not None:
        end = func.max(Request.first_seq + Request.entry_count)
        bounds.append(
            Entry.seq < select(end).where(Request.at < log_filter.until).scalar_subquery()
        )
    return bounds


async def search(
    session: AsyncSession, *, log_filter: LogFilter, before_seq: int | None, limit: int
) -> Sequence[LogRow]:
    """One page of matching entries with their requests, newest first (keyset on ``seq``)."""
    statement = newest_first(log_filter, before_seq=before_seq, limit=limit)
    return [(entry, request) for entry, request in await session.execute(statement)]


async def find_decision(
    session: AsyncSession, decision_id: str, org_ids: frozenset[int] | None
) -> LogRow | None:
    """The entry a decision id (request id and entry index) names, if it was filed under one
    of ``org_ids`` (None: under any organization or none)."""
    request_id, _, raw_index = decision_id.partition(":")
    if not raw_index.isdigit() or len(raw_index) > 9:
        return None
    index = int(raw_index)
    filed = true() if org_ids is None else filed_under_any(org_ids)
    row = (
        await session.execute(
            select(Entry, Request)
            .join(Request, Request.first_seq == Entry.request_seq)
            .where(
                Request.request_id == request_id,
                Request.first_index <= index,
                Request.first_index + Request.entry_count > index,
                Entry.seq == Request.first_seq + index - Request.first_index,
                filed,
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])
