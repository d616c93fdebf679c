"""Mutations on an organization's invitations to register (R2)."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.domain.invitations import InvitationKind, InvitationRequest
from gateway.resolvers import invitations as resolve
from gateway.schema.invitations import Invitation


@strawberry.input(description="Whom to invite; the email address is typed twice (seed 001)")
class InviteUserInput:
    name: str
    email: str
    email_confirmation: str
    kind: InvitationKind

    def to_request(self) -> InvitationRequest:
        return InvitationRequest(
            name=self.name,
            email=self.email,
            email_confirmation=self.email_confirmation,
            kind=self.kind,
        )


@strawberry.type
class InvitationMutations:
    @strawberry.mutation(
        description="Invite a colleague (provider or office staff) to register: an email with a "
        "registration link, valid 14 days by default. Admins and office managers (R2)."
    )
    async def invite_user(
        self, info: Info, organization_id: strawberry.ID, input: InviteUserInput
    ) -> Invitation | None:
        row = await resolve.invite_user(info.context, organization_id, input.to_request())
        return Invitation.from_row(row)

    @strawberry.mutation(
        description="Send a pending or expired invitation again: a new link and expiry; the old "
        "link stops working."
    )
    async def resend_invitation(
        self, info: Info, organization_id: strawberry.ID, invitation_id: strawberry.ID
    ) -> Invitation | None:
        row = await resolve.resend_invitation(info.context, organization_id, invitation_id)
        return Invitation.from_row(row)

    @strawberry.mutation(description="Withdraw a pending invitation: its link stops working.")
    async def revoke_invitation(
        self, info: Info, organization_id: strawberry.ID, invitation_id: strawberry.ID
    ) -> Invitation | None:
        row = await resolve.revoke_invitation(info.context, organization_id, invitation_id)
        return Invitation.from_row(row)
