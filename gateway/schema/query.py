"""The query root."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.catalog import MembershipStatus
from gateway.context import Info
from gateway.resolvers import access_log as resolve_log
from gateway.resolvers import organizations as resolve_orgs
from gateway.resolvers import users as resolve_users
from gateway.resolvers.users import SEARCH_MAX, SEARCH_MIN
from gateway.schema.access_log import AccessDecision, access_log, log_page_of
from gateway.schema.catalog import ETOOLS, ROLES, ETool, Role
from gateway.schema.export import MemberExport, export_members
from gateway.schema.organizations import BillingAgency, Organization, page_of
from gateway.schema.pagination import Connection, connection
from gateway.schema.users import User


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user")
    async def me(self, info: Info) -> User | None:
        row = await resolve_users.me(info.context)
        if row is None:
            return None
        return User.from_row(row, seen_in=())

    @strawberry.field(description="V1: null with NOT_FOUND unless the caller can see it")
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return Organization.from_row(await resolve_orgs.organization(info.context, id))

    @strawberry.field(description="Organizations the caller can see")
    async def organizations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Organization] | None:
        page = page_of(info, first, after)
        rows = await resolve_orgs.organizations(info.context, page)
        return connection(rows, page, Organization.from_row)

    @strawberry.field(description="V1: null with NOT_FOUND unless the caller can see the user")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        row, org_ids = await resolve_users.user(info.context, id)
        return User.from_row(row, seen_in=org_ids)

    @strawberry.field(
        description="The help desk's lookup (SPEC 2, R13; payer support and the payer auditor "
        "only): users whose username, email, name or active organization's name contains "
        f"`search` in any case, by id. `search` is {SEARCH_MIN} to {SEARCH_MAX} characters "
        "(trimmed); no match is an empty connection."
    )
    async def users(
        self, info: Info, search: str, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        page = page_of(info, first, after)
        found = await resolve_users.search(info.context, search, page)
        return connection(
            found.rows,
            page,
            lambda row: User.from_row(row, seen_in=found.seen_in.get(row.id, ())),
            total_count=found.total,
        )

    @strawberry.field(description="The role catalog (V6)")
    def roles(self) -> list[Role] | None:
        return list(ROLES.values())

    @strawberry.field(description="The eTool catalog (V6)")
    def etools(self) -> list[ETool] | None:
        return list(ETOOLS.values())

    @strawberry.field(description="V2: why a decision was made (admins: their organizations)")
    async def access_decision(self, info: Info, decision_id: str) -> AccessDecision | None:
        row, reach = await resolve_log.decision(info.context, decision_id)
        return AccessDecision.of(row, within=reach)

    @strawberry.field(
        description="A4: access-log entries of requests made from `since` until `until` "
        "(default: now; the window at most GATEWAY_ACCESS_LOG_WINDOW_MAX_DAYS, 366 by "
        "default), newest first. Times without an offset are UTC. The security officer "
        "searches everything; an admin names an organization they administer and gets its "
        "entries. Each filter given narrows the search; there is no mutation of the log (A6)."
    )
    async def access_log(
        self,
        info: Info,
        *,
        organization_id: strawberry.ID | None = None,
        user_id: strawberry.ID | None = None,
        object_type: str | None = None,
        object_id: strawberry.ID | None = None,
        field: str | None = None,
        since: datetime,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AccessDecision] | None:
        page = log_page_of(info, first, after)
        log_filter = resolve_log.log_filter(
            info.context,
            since=since,
            until=until,
            organization_id=organization_id,
            user_id=user_id,
            object_type=object_type,
            object_id=object_id,
            field=field,
        )
        return await access_log(info, log_filter, page)

    @strawberry.field(
        description="R12: the organization's member list as CSV (admins and office managers). "
        "A read, so a query; `status` defaults to the active members."
    )
    async def export_members(
        self,
        info: Info,
        organization_id: strawberry.ID,
        status: list[MembershipStatus] | None = None,
    ) -> MemberExport | None:
        return await export_members(info, organization_id, status)

    @strawberry.field(description="Registered billing agencies an organization may invite")
    async def billing_agencies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[BillingAgency] | None:
        page = page_of(info, first, after)
        rows = await resolve_orgs.billing_agencies(info.context, page)
        return connection(
            rows,
            page,
            BillingAgency.from_row,
        )
