"""Access requests (R3): a registered user asks to join; an admin or office manager decides."""

from __future__ import annotations

import strawberry

from gateway import models
from gateway.authz import scoped
from gateway.catalog import Employment, MembershipStatus
from gateway.context import Info
from gateway.resolvers import access_requests as resolve
from gateway.schema.mutations.members import MemberAccessInput
from gateway.schema.users import Membership


@scoped(organizations=("organization_id",), owner="user_id")
@strawberry.type(
    description="An access request as its requester sees it: nothing of the organization "
    "until approved (R3)"
)
class AccessRequest:
    id: strawberry.ID
    status: MembershipStatus | None
    employment: Employment | None
    organization_id: strawberry.Private[int]
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Membership) -> AccessRequest:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=MembershipStatus(row.status),
            employment=Employment(row.employment),
            organization_id=row.organization_id,
            user_id=row.user_id,
        )


@strawberry.type
class AccessRequestMutations:
    @strawberry.mutation(
        description="Ask to join the organization with this payer-assigned provider ID and one "
        "of its tax IDs (R3). A wrong pair gets one answer, whichever part was wrong."
    )
    async def request_access(
        self,
        info: Info,
        provider_id: str,
        tin: str,
        employment: Employment = Employment.EMPLOYEE,
    ) -> AccessRequest | None:
        row = await resolve.request_access(info.context, provider_id, tin, employment)
        return AccessRequest.from_row(row)

    @strawberry.mutation(
        description="Approve a pending request with roles, eTools, provider assignments and "
        "employment (R3-R6, R9); an omitted part is none. Admins and office managers; only "
        "admins grant admin or office manager (R6). One decision wins (R3)."
    )
    async def approve_access_request(
        self,
        info: Info,
        organization_id: strawberry.ID,
        request_id: strawberry.ID,
        input: MemberAccessInput,
    ) -> Membership | None:
        row = await resolve.approve(info.context, organization_id, request_id, input.to_access())
        return Membership.from_row(row)

    @strawberry.mutation(
        description="Deny a pending request (R3); the requester may ask again. One decision wins."
    )
    async def deny_access_request(
        self, info: Info, organization_id: strawberry.ID, request_id: strawberry.ID
    ) -> Membership | None:
        row = await resolve.deny(info.context, organization_id, request_id)
        return Membership.from_row(row)
