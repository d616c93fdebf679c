"""Reads of the access log: explaining a decision (V2), searching it (A4). Nothing here
writes: no one changes or deletes entries through the gateway (A6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.audit import LogFilter, LogRow, as_utc, find_decision, search
from gateway.context import Context
from gateway.data import PageRequest, as_id
from gateway.errors import BadUserInput, NotFound
from gateway.models import utcnow

LOGGED_TEXT_MAX = 64  # object types, object ids and field names are stored in 64 characters


async def decision(context: Context, decision_id: str) -> tuple[LogRow, frozenset[int] | None]:
    """The entry a ``decisionId`` (request id and entry index) names, if the caller may
    explain it, and whose objects they see of it: the security officer every entry whole,
    admins those with objects in their organizations, and only those objects (A4, V2)."""
    reach = context.authz.reach("AccessDecision", "rule")
    async with context.db.session() as session:
        row = await find_decision(session, decision_id, reach)
    if row is None:
        raise NotFound("Decision not found")
    return row, reach


async def entries(context: Context, log_filter: LogFilter, page: PageRequest) -> Sequence[LogRow]:
    """A page of matching entries, newest first: ``page.after`` is the last entry number of
    the page before, and this page continues below it."""
    async with context.db.session() as session:
        return await search(
            session, log_filter=log_filter, before_seq=page.after, limit=page.first + 1
        )


def log_filter(
    context: Context,
    *,
    since: datetime,
    until: datetime | None,
    organization_id: str | None,
    user_id: str | None,
    object_type: str | None,
    object_id: str | None,
    field: str | None,
) -> LogFilter:
    """The ``accessLog`` arguments as a filter, confined to what the caller may search (A4)."""
    start, end = _window(since, until, context.settings.access_log_window_max_days)
    return LogFilter(
        since=start,
        until=end,
        user_id=_input_id(user_id, "userId"),
        organization_id=_searchable(context, _input_id(organization_id, "organizationId")),
        object_type=_logged_text(object_type, "objectType"),
        object_id=_logged_text(object_id, "objectId"),
        field=_logged_text(field, "field"),
    )


def _searchable(context: Context, org_id: int | None) -> int | None:
    """The organization whose entries the caller gets: the security officer's choice (None:
    all); an admin must name an organization they administer. The enforcement point already
    decided the field in the organization named, so this refusal is a second line."""
    context.authz.require("Query", "accessLog", org_id)
    return org_id


def _window(since: datetime, until: datetime | None, max_days: int) -> tuple[datetime, datetime]:
    """A4: a bounded window keeps the search on the indexes; ``until`` defaults to now."""
    try:
        start, end = as_utc(since), utcnow() if until is None else as_utc(until)
    except OverflowError:
        raise BadUserInput("`since` and `until` must be times UTC can hold") from None
    if end < start:
        raise BadUserInput("`until` is before `since`", argument="until")
    if end - start > timedelta(days=max_days):
        raise BadUserInput(
            f"The window from `since` to `until` is longer than {max_days} days",
            argument="since",
            maximum=max_days,
        )
    return start, end


def _input_id(value: str | None, argument: str) -> int | None:
    """A filter's id is input, not a lookup: a malformed one is the client's mistake."""
    if value is None:
        return None
    key = as_id(value)
    if key is None:
        raise BadUserInput(f"`{argument}` is not an id", argument=argument)
    return key


def _logged_text(value: str | None, argument: str) -> str | None:
    if value is not None and len(value) > LOGGED_TEXT_MAX:
        raise BadUserInput(
            f"`{argument}` is longer than the log stores ({LOGGED_TEXT_MAX})", argument=argument
        )
    return value
