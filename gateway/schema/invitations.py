"""Invitation: an invitation to register, as its organization's admins see it (R2, V3)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz import organizations_of, scoped
from gateway.context import Info
from gateway.domain.invitations import InvitationKind, InvitationStatus, effective_status
from gateway.resolvers import users as resolve_users
from gateway.schema.users import User

InvitationKindEnum = strawberry.enum(InvitationKind, name="InvitationKind")
InvitationStatusEnum = strawberry.enum(InvitationStatus, name="InvitationStatus")


@scoped(organizations=("organization_id",))
@strawberry.type(description="An invitation to register; the token itself is never shown")
class Invitation:
    id: strawberry.ID
    name: str | None
    email: str | None
    kind: InvitationKind | None
    status: InvitationStatus | None = strawberry.field(
        description="EXPIRED once a pending invitation is past expiresAt"
    )
    created_at: datetime | None
    expires_at: datetime | None
    resent_count: int | None
    organization_id: strawberry.Private[int]
    invited_by_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Invitation) -> Invitation:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            email=row.email,
            kind=InvitationKind(row.kind),
            status=effective_status(row),
            created_at=row.created_at,
            expires_at=row.expires_at,
            resent_count=row.resent_count,
            organization_id=row.organization_id,
            invited_by_id=row.invited_by_id,
        )

    @strawberry.field
    async def invited_by(self, info: Info) -> User | None:
        row = await resolve_users.by_id(info.context, self.invited_by_id)
        return None if row is None else User.from_row(row, organizations_of(self))
