"""Mutations on billing agency grants (R11): decided in the organization each one names."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.resolvers import agencies as resolve
from gateway.schema.agencies import AgencyGrant


@strawberry.type
class AgencyMutations:
    @strawberry.mutation(
        description="Invite a registered billing agency to act for the organization, optionally "
        "limited to some of its providers (omit providerIds for all). Admins and office "
        "managers of organizationId; the agency's administrators are emailed (R11)."
    )
    async def invite_billing_agency(
        self,
        info: Info,
        organization_id: strawberry.ID,
        agency_id: strawberry.ID,
        provider_ids: list[strawberry.ID] | None = None,
    ) -> AgencyGrant | None:
        row = await resolve.invite_billing_agency(
            info.context, organization_id, agency_id, provider_ids
        )
        return AgencyGrant.from_row(row)

    @strawberry.mutation(
        description="Accept (ACTIVE) or decline (DECLINED) a pending invitation. organizationId "
        "is the agency; its administrators only. The client's admins are emailed (R11)."
    )
    async def respond_to_agency_invitation(
        self, info: Info, organization_id: strawberry.ID, grant_id: strawberry.ID, accept: bool
    ) -> AgencyGrant | None:
        row = await resolve.respond_to_agency_invitation(
            info.context, organization_id, grant_id, accept
        )
        return AgencyGrant.from_row(row)

    @strawberry.mutation(
        description="Set which of the agency's users work for this client (replaces the set). "
        "organizationId is the agency; its administrators only (R11)."
    )
    async def assign_agency_staff(
        self,
        info: Info,
        organization_id: strawberry.ID,
        grant_id: strawberry.ID,
        user_ids: list[strawberry.ID],
    ) -> AgencyGrant | None:
        row = await resolve.assign_agency_staff(info.context, organization_id, grant_id, user_ids)
        return AgencyGrant.from_row(row)

    @strawberry.mutation(
        description="Deny a billing agency access, at any time: its users lose it on their next "
        "request. Admins and office managers of organizationId, the client (R11)."
    )
    async def revoke_agency_grant(
        self, info: Info, organization_id: strawberry.ID, grant_id: strawberry.ID
    ) -> AgencyGrant | None:
        row = await resolve.revoke_agency_grant(info.context, organization_id, grant_id)
        return AgencyGrant.from_row(row)
