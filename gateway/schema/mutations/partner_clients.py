"""Mutations on partner billing systems' OAuth2 clients: the agency's admins only (SPEC 1, R11)."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.resolvers import partner_clients as resolve
from gateway.schema.partner_clients import PartnerClient, PartnerClientCredentials


@strawberry.type
class PartnerClientMutations:
    @strawberry.mutation(
        description="Create an OAuth2 client for the agency's billing software; its secret is "
        "in this answer only. organizationId is the billing agency; its administrators only."
    )
    async def create_partner_client(
        self, info: Info, organization_id: strawberry.ID, name: str
    ) -> PartnerClientCredentials | None:
        created = await resolve.create_partner_client(info.context, organization_id, name)
        return PartnerClientCredentials.of(created)

    @strawberry.mutation(
        description="Replace the client's secret: the old one, and every token it got, stop at "
        "once. The agency's administrators only."
    )
    async def rotate_partner_client_secret(
        self, info: Info, organization_id: strawberry.ID, client_id: str
    ) -> PartnerClientCredentials | None:
        rotated = await resolve.rotate_partner_client_secret(
            info.context, organization_id, client_id
        )
        return PartnerClientCredentials.of(rotated)

    @strawberry.mutation(
        description="End the client for good: its secret and every token stop at once. The "
        "agency's administrators only."
    )
    async def revoke_partner_client(
        self, info: Info, organization_id: strawberry.ID, client_id: str
    ) -> PartnerClient | None:
        row = await resolve.revoke_partner_client(info.context, organization_id, client_id)
        return PartnerClient.from_row(row)
