"""Access-log types: why a decision was made (V2) and searching the log (A4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import strawberry

from gateway.audit import LogFilter, LogRow
from gateway.authz import scoped
from gateway.context import Info
from gateway.data import MAX_SEQ, PageRequest
from gateway.resolvers import access_log as resolve
from gateway.schema.pagination import Connection, connection


@scoped(organizations=("filed_in",))
@strawberry.type(description="One recorded decision and the policy line that made it")
class AccessDecision:
    decision_id: str
    at: datetime | None
    user_id: strawberry.ID | None = strawberry.field(description="Null: no signed-in caller")
    username: str | None
    organization_id: strawberry.ID | None
    operation: str | None = strawberry.field(description="The GraphQL operation name sent")
    client_address: str | None
    object_type: str | None
    object_id: str | None
    field: str | None
    action: str | None
    decision: str | None
    rule: str | None = strawberry.field(description="The matched policy line; null: default deny")
    executions: int | None = strawberry.field(
        description="How many identical executions in the request this entry stands for"
    )
    filed_in: strawberry.Private[tuple[int, ...]]  # the organization it is filed under, if any

    @classmethod
    def of(cls, found: LogRow) -> AccessDecision:
        row, request = found
        org = row.organization_id
        return cls(
            decision_id=f"{request.request_id}:{request.first_index + row.seq - request.first_seq}",
            at=request.at,
            user_id=None if request.user_id is None else strawberry.ID(str(request.user_id)),
            username=request.username,
            organization_id=None if org is None else strawberry.ID(str(org)),
            operation=request.operation,
            client_address=request.client_address,
            object_type=row.object_type,
            object_id=row.object_id,
            field=row.field,
            action=row.action,
            decision=row.decision,
            rule=row.rule,
            executions=row.executions,
            filed_in=() if org is None else (org,),
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


def log_connection(rows: Sequence[LogRow], page: PageRequest) -> Connection[AccessDecision]:
    keyed = [_Keyed(entry.seq, (entry, request)) for entry, request in rows]
    return connection(keyed, page, lambda k: AccessDecision.of(k.row))


async def access_log(
    info: Info, log_filter: LogFilter, page: PageRequest
) -> Connection[AccessDecision]:
    """A4: a page of the entries ``log_filter`` matches, newest first."""
    return log_connection(await resolve.entries(info.context, log_filter, page), page)
