"""AccessReview and its items (R12): who held what when the review started, and the decisions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz.scope import NodeScope
from gateway.domain.reviews import ReviewDecision, ReviewStatus, Snapshot
from gateway.resolvers import reviews as resolve
from gateway.resolvers import users as resolve_users
from gateway.schema.catalog import ETOOLS, ROLES, ETool, Role
from gateway.schema.organizations import Info
from gateway.schema.users import Membership, User

ReviewDecisionEnum = strawberry.enum(ReviewDecision, name="ReviewDecision")
AccessReviewStatusEnum = strawberry.enum(ReviewStatus, name="AccessReviewStatus")


async def _user(info: Info, user_id: int | None, scope: NodeScope) -> User | None:
    row = await resolve_users.by_id(info.context, user_id)
    if row is None:
        return None
    return User.from_row(row, info.context.caller.scope(scope.org_ids, row.id))


@strawberry.type(description="A provider the member was assigned to when the review started")
class ReviewedProvider:
    id: strawberry.ID | None
    npi: str | None
    name: str | None
    node_scope: strawberry.Private[NodeScope]


@strawberry.type(description="What a member held when the review started (R12)")
class AccessReviewSnapshot:
    roles: list[Role] | None
    etools: list[ETool] | None
    providers: list[ReviewedProvider] | None
    last_login_at: datetime | None
    node_scope: strawberry.Private[NodeScope]

    @classmethod
    def of(cls, snapshot: Snapshot, scope: NodeScope) -> AccessReviewSnapshot:
        return cls(
            roles=[ROLES[code] for code in snapshot.roles],
            etools=[ETOOLS[code] for code in snapshot.etools],
            providers=[
                ReviewedProvider(
                    id=strawberry.ID(str(p.id)), npi=p.npi, name=p.name, node_scope=scope
                )
                for p in snapshot.providers
            ],
            last_login_at=snapshot.last_login_at,
            node_scope=scope,
        )


@strawberry.type(description="One member under review: kept, removed, or not yet decided")
class AccessReviewItem:
    id: strawberry.ID
    decision: ReviewDecision | None = strawberry.field(
        description="Null until decided; REMOVE with no decidedBy: the deadline decided (R15)"
    )
    decided_at: datetime | None
    node_scope: strawberry.Private[NodeScope]
    row: strawberry.Private[models.AccessReviewItem]
    member_row: strawberry.Private[models.Membership]

    @classmethod
    def from_row(
        cls, row: models.AccessReviewItem, member: models.Membership, scope: NodeScope
    ) -> AccessReviewItem:
        return cls(
            id=strawberry.ID(str(row.id)),
            decision=None if row.decision is None else ReviewDecision(row.decision),
            decided_at=row.decided_at,
            node_scope=scope,
            row=row,
            member_row=member,
        )

    @strawberry.field(description="The membership under review, as it is now")
    def member(self, info: Info) -> Membership | None:
        scope = info.context.caller.scope(self.node_scope.org_ids, self.member_row.user_id)
        return Membership.from_row(self.member_row, scope)

    @strawberry.field(description="Roles, eTools, providers and last login at the review's start")
    def snapshot(self) -> AccessReviewSnapshot | None:
        return AccessReviewSnapshot.of(Snapshot.from_json(self.row.snapshot), self.node_scope)

    @strawberry.field
    async def decided_by(self, info: Info) -> User | None:
        return await _user(info, self.row.decided_by_id, self.node_scope)


@strawberry.type(description="An access review of every member of an organization (R12, R15)")
class AccessReview:
    id: strawberry.ID
    status: ReviewStatus | None
    started_at: datetime | None
    deadline: datetime | None = strawberry.field(
        description="Unreviewed members are handled per R15 once it passes"
    )
    completed_at: datetime | None
    expired_at: datetime | None
    node_scope: strawberry.Private[NodeScope]
    row: strawberry.Private[models.AccessReview]

    @classmethod
    def from_row(cls, row: models.AccessReview) -> AccessReview:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=ReviewStatus(row.status),
            started_at=row.started_at,
            deadline=row.deadline,
            completed_at=row.completed_at,
            expired_at=row.expired_at,
            node_scope=NodeScope((row.organization_id,)),
            row=row,
        )

    @strawberry.field
    async def started_by(self, info: Info) -> User | None:
        return await _user(info, self.row.started_by_id, self.node_scope)

    @strawberry.field
    async def completed_by(self, info: Info) -> User | None:
        return await _user(info, self.row.completed_by_id, self.node_scope)

    @strawberry.field(description="Every member active when the review started")
    async def items(self, info: Info) -> list[AccessReviewItem] | None:
        rows = await resolve.items(info.context, self.row.id)
        return [AccessReviewItem.from_row(item, m, self.node_scope) for item, m in rows]

    @strawberry.field(description="Members not yet kept or removed")
    async def undecided_count(self, info: Info) -> int | None:
        rows = await resolve.items(info.context, self.row.id)
        return sum(1 for item, _ in rows if item.decision is None)
