"""Agency grants between an organization and a billing agency (R11)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz import scoped
from gateway.catalog import GrantStatus
from gateway.context import Info
from gateway.resolvers import agencies as resolve
from gateway.resolvers import users as resolve_users
from gateway.schema.organizations import BillingAgency, Organization, Provider
from gateway.schema.users import User

GrantStatusEnum = strawberry.enum(GrantStatus, name="GrantStatus")


# Seen through both sides: the client organization and the agency.
@scoped(organizations=("row.organization_id", "row.agency_id"))
@strawberry.type
class AgencyGrant:
    id: strawberry.ID
    status: GrantStatus | None
    created_at: datetime | None
    decided_at: datetime | None
    row: strawberry.Private[models.AgencyGrant]

    @classmethod
    def from_row(cls, row: models.AgencyGrant) -> AgencyGrant:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=GrantStatus(row.status),
            created_at=row.created_at,
            decided_at=row.decided_at,
            row=row,
        )

    @strawberry.field
    async def organization(self, info: Info) -> Organization | None:
        row = await resolve_users.organization_of(info.context, self.row.organization_id)
        return Organization.from_row(row)

    @strawberry.field
    async def agency(self, info: Info) -> BillingAgency | None:
        row = await resolve_users.organization_of(info.context, self.row.agency_id)
        return BillingAgency.from_row(row)

    @strawberry.field(description="Providers the grant is limited to; empty means all")
    async def providers(self, info: Info) -> list[Provider] | None:
        rows = await resolve.grant_providers(info.context, self.row.id)
        return [Provider.from_row(r, seen_in=(self.row.organization_id,)) for r in rows]

    @strawberry.field(description="Agency users assigned to this client")
    async def staff(self, info: Info) -> list[User] | None:
        rows = await resolve.grant_staff(info.context, self.row.id)
        # Agency staff are seen as the agency's people: the client's roles reveal nothing
        # of them (the grant itself is what the client sees).
        return [User.from_row(r, seen_in=(self.row.agency_id,)) for r in rows]
