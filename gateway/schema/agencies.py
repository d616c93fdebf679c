"""Agency grants between an organization and a billing agency (R11)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz.scope import NodeScope
from gateway.catalog import GrantStatus
from gateway.resolvers import agencies as resolve
from gateway.resolvers import users as resolve_users
from gateway.schema.organizations import BillingAgency, Info, Organization, Provider
from gateway.schema.users import User

GrantStatusEnum = strawberry.enum(GrantStatus, name="GrantStatus")


@strawberry.type
class AgencyGrant:
    id: strawberry.ID
    status: GrantStatus | None
    created_at: datetime | None
    decided_at: datetime | None
    node_scope: strawberry.Private[NodeScope]
    row: strawberry.Private[models.AgencyGrant]

    @classmethod
    def from_row(cls, row: models.AgencyGrant) -> AgencyGrant:
        # Seen through both sides: the client organization and the agency.
        scope = NodeScope((row.organization_id, row.agency_id))
        return cls(
            id=strawberry.ID(str(row.id)),
            status=GrantStatus(row.status),
            created_at=row.created_at,
            decided_at=row.decided_at,
            node_scope=scope,
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
        scope = NodeScope((self.row.organization_id,))
        return [Provider.from_row(r, scope) for r in rows]

    @strawberry.field(description="Agency users assigned to this client")
    async def staff(self, info: Info) -> list[User] | None:
        rows = await resolve.grant_staff(info.context, self.row.id)
        caller = info.context.caller
        # Agency staff are seen as the agency's people: the client's roles reveal nothing
        # of them (the grant itself is what the client sees).
        return [User.from_row(r, caller.scope((self.row.agency_id,), r.id)) for r in rows]
