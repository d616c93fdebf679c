"""Access-log types: why a decision was made (V2) and searching the log (A4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import strawberry

from gateway.audit import FiledObject, LogFilter, LogRow, shown
from gateway.authz import scoped
from gateway.context import Info
from gateway.data import MAX_SEQ, PageRequest
from gateway.resolvers import access_log as resolve
from gateway.schema.pagination import Connection, connection


def _id(value: int | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@scoped(organizations=("filed_in",))
@strawberry.type(description="An object an access-log entry covers")
class LoggedObject:
    id: str | None = strawberry.field(description="Null: the execution named no object")
    organization_id: strawberry.ID | None = strawberry.field(
        description="The organization the object is filed under: the one the caller acted in"
    )
    filed_in: strawberry.Private[tuple[int, ...]]

    @classmethod
    def of(cls, logged: FiledObject) -> LoggedObject:
        object_id, org = logged
        return cls(id=object_id, organization_id=_id(org), filed_in=() if org is None else (org,))


@scoped(organizations=("filed_in",))
@strawberry.type(
    description="One recorded decision and the policy line that made it: every execution of "
    "one field decided the same way in one request, and the objects they covered"
)
class AccessDecision:
    decision_id: str
    at: datetime | None
    user_id: strawberry.ID | None = strawberry.field(description="Null: no signed-in caller")
    username: str | None
    organization_id: strawberry.ID | None = strawberry.field(
        description="The organization of `objectId`, else the one all `objects` are filed "
        "under; null: none, or several"
    )
    operation: str | None = strawberry.field(description="The GraphQL operation name sent")
    client_address: str | None
    object_type: str | None
    object_id: str | None = strawberry.field(
        description="The object searched for (`objectId`), else the entry's only object; "
        "null: it covers several (see `objects`) or named none"
    )
    objects: list[LoggedObject] | None = strawberry.field(
        description="The objects the executions covered, in first-seen order; an admin sees "
        "those filed under their organizations only"
    )
    field: str | None
    action: str | None
    decision: str | None
    rule: str | None = strawberry.field(description="The matched policy line; null: default deny")
    executions: int | None = strawberry.field(
        description="How many executions in the request this entry stands for, over all its "
        "objects; null when some of its objects are not shown"
    )
    filed_in: strawberry.Private[tuple[int, ...]]  # the organizations of the objects shown

    @classmethod
    def of(
        cls, found: LogRow, *, within: frozenset[int] | None = None, object_id: str | None = None
    ) -> AccessDecision:
        """The entry, showing only its objects filed under ``within`` (None: all of them)."""
        row, request = found
        part = shown(row, within=within, object_id=object_id)
        filed_in = tuple(dict.fromkeys(org for _, org in part.objects if org is not None))
        return cls(
            decision_id=f"{request.request_id}:{request.first_index + row.seq - request.first_seq}",
            at=request.at,
            user_id=_id(request.user_id),
            username=request.username,
            organization_id=_id(part.organization_id),
            operation=request.operation,
            client_address=request.client_address,
            object_type=row.object_type,
            object_id=part.object_id,
            objects=[LoggedObject.of(logged) for logged in part.objects],
            field=row.field,
            action=row.action,
            decision=row.decision,
            rule=row.rule,
            executions=row.executions if part.whole else None,
            filed_in=filed_in,
        )


@dataclass(frozen=True, slots=True)
class _Keyed:
    """An entry with its request, keyed by its entry number for the page's cursors."""

    id: int
    row: LogRow


def log_page_of(info: Info, first: int | None, after: str | None) -> PageRequest:
    """Page size capped like every connection; cursors hold entry numbers (BIGINT)."""
    settings = info.context.settings
    return PageRequest.parse(
        first,
        after,
        default=settings.page_size_default,
        maximum=settings.page_size_max,
        key_maximum=MAX_SEQ,
    )


def log_connection(
    rows: Sequence[LogRow], page: PageRequest, log_filter: LogFilter
) -> Connection[AccessDecision]:
    keyed = [_Keyed(entry.seq, (entry, request)) for entry, request in rows]
    within, object_id = log_filter.within, log_filter.object_id
    return connection(
        keyed, page, lambda k: AccessDecision.of(k.row, within=within, object_id=object_id)
    )


async def access_log(
    info: Info, log_filter: LogFilter, page: PageRequest
) -> Connection[AccessDecision]:
    """A4: a page of the entries ``log_filter`` matches, newest first, each showing the part
    the search is confined to (an admin's: their organization's objects)."""
    return log_connection(await resolve.entries(info.context, log_filter, page), page, log_filter)
