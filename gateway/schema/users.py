"""User and Membership."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz import organizations_of, scoped
from gateway.catalog import Employment, MembershipStatus, UserStatus
from gateway.context import Info
from gateway.resolvers import reviews as resolve_reviews
from gateway.resolvers import users as resolve
from gateway.schema.catalog import ETOOLS, ROLES, ETool, Role
from gateway.schema.organizations import Organization, Provider

EmploymentEnum = strawberry.enum(Employment, name="Employment")
UserStatusEnum = strawberry.enum(UserStatus, name="UserStatus")


@scoped(organizations=("seen_in",), owner="user_id")
@strawberry.type
class User:
    id: strawberry.ID
    username: str | None
    name: str | None
    email: str | None
    phone: str | None
    status: UserStatus | None
    last_login_at: datetime | None
    created_at: datetime | None
    # The organizations the user was reached through: whose roles decide what is seen of them.
    seen_in: strawberry.Private[tuple[int, ...]]
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.User, seen_in: tuple[int, ...]) -> User:
        return cls(
            id=strawberry.ID(str(row.id)),
            username=row.username,
            name=row.name,
            email=row.email,
            phone=row.phone,
            status=UserStatus(row.status),
            last_login_at=row.last_login_at,
            created_at=row.created_at,
            seen_in=seen_in,
            user_id=row.id,
        )

    @strawberry.field(description="V5: only memberships in organizations the caller administers")
    async def memberships(self, info: Info) -> list[Membership] | None:
        rows = await resolve.memberships(info.context, self.user_id)
        return [Membership.from_row(r) for r in rows]


@scoped(organizations=("row.organization_id",), owner="row.user_id")
@strawberry.type
class Membership:
    id: strawberry.ID
    status: MembershipStatus | None
    employment: Employment | None
    approved_at: datetime | None
    created_at: datetime | None
    row: strawberry.Private[models.Membership]

    @classmethod
    def from_row(cls, row: models.Membership) -> Membership:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=MembershipStatus(row.status),
            employment=Employment(row.employment),
            approved_at=row.approved_at,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        row = await resolve.organization_of(info.context, self.row.organization_id)
        return Organization.from_row(row)

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        row = await resolve.by_id(info.context, self.row.user_id)
        return None if row is None else User.from_row(row, organizations_of(self))

    @strawberry.field
    async def approved_by(self, info: Info) -> User | None:
        row = await resolve.by_id(info.context, self.row.approved_by_id)
        return None if row is None else User.from_row(row, organizations_of(self))

    @strawberry.field
    async def roles(self, info: Info) -> list[Role] | None:
        return [ROLES[code] for code in await resolve.roles(info.context, self.row.id)]

    @strawberry.field
    async def etools(self, info: Info) -> list[ETool] | None:
        return [ETOOLS[code] for code in await resolve.etools(info.context, self.row.id)]

    @strawberry.field(description="Providers this member is assigned to (V4)")
    async def providers(self, info: Info) -> list[Provider] | None:
        rows = await resolve.assigned_providers(info.context, self.row.id)
        return [Provider.from_row(r, organizations_of(self)) for r in rows]

    @strawberry.field(description="R12: no login for the dormancy period (counted from joining)")
    async def dormant(self, info: Info) -> bool | None:
        return await resolve_reviews.dormant(info.context, self.row)
