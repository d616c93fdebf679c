"""Mutations on an organization's members (R4-R9)."""

from __future__ import annotations

import strawberry

from gateway.catalog import Employment, EToolCode, RoleCode
from gateway.context import Info
from gateway.data import parse_input_ids
from gateway.domain.members import MemberAccess
from gateway.resolvers import members as resolve
from gateway.schema.users import Membership


@strawberry.input(description="A member's access; an omitted part stays as it is")
class MemberAccessInput:
    roles: list[RoleCode] | None = None
    etools: list[EToolCode] | None = None
    provider_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Providers the member is assigned to (V4)"
    )
    employment: Employment | None = None

    def to_access(self) -> MemberAccess:
        return MemberAccess(
            roles=None if self.roles is None else frozenset(self.roles),
            etools=None if self.etools is None else frozenset(self.etools),
            provider_ids=(
                None
                if self.provider_ids is None
                else parse_input_ids(self.provider_ids, "providerIds")
            ),
            employment=self.employment,
        )


@strawberry.type
class MemberMutations:
    @strawberry.mutation(
        description="Change a member's roles, eTools, provider assignments or employment. "
        "Admins and office managers; only admins touch admins and office managers (R6)."
    )
    async def update_member_access(
        self,
        info: Info,
        organization_id: strawberry.ID,
        membership_id: strawberry.ID,
        input: MemberAccessInput,
    ) -> Membership | None:
        row = await resolve.update_member_access(
            info.context, organization_id, membership_id, input.to_access()
        )
        return Membership.from_row(row)

    @strawberry.mutation(
        description="Remove a member who left (R8): effective on their very next request; "
        "their history stays. Never the last administrator (R7)."
    )
    async def remove_member(
        self, info: Info, organization_id: strawberry.ID, membership_id: strawberry.ID
    ) -> Membership | None:
        row = await resolve.remove_member(info.context, organization_id, membership_id)
        return Membership.from_row(row)
