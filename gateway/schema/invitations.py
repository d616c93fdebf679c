"""Invitation: an invitation to register, as its organization's admins see it (R2, V3)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz.scope import NodeScope
from gateway.domain.invitations import InvitationKind, InvitationStatus, effective_status
from gateway.resolvers import users as resolve_users
from gateway.schema.organizations import Info
from gateway.schema.users import User

InvitationKindEnum = strawberry.enum(InvitationKind, name="InvitationKind")
InvitationStatusEnum = strawberry.enum(InvitationStatus, name="InvitationStatus")


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
    node_scope: strawberry.Private[NodeScope]
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
            node_scope=NodeScope((row.organization_id,)),
            invited_by_id=row.invited_by_id,
        )

    @strawberry.field
    async def invited_by(self, info: Info) -> User | None:
        row = await resolve_users.by_id(info.context, self.invited_by_id)
        if row is None:
            return None
        return User.from_row(row, info.context.caller.scope(self.node_scope.org_ids, row.id))
