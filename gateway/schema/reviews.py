"""AccessReview and its items (R12): who held what when the review started, and the decisions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz import organizations_of, scoped
from gateway.catalog import ReviewDecision, ReviewStatus
from gateway.context import Info
from gateway.domain.reviews import Snapshot
from gateway.resolvers import reviews as resolve
from gateway.resolvers import users as resolve_users
from gateway.schema.catalog import ETOOLS, ROLES, ETool, Role
from gateway.schema.users import Membership, User

ReviewDecisionEnum = strawberry.enum(ReviewDecision, name="ReviewDecision")
AccessReviewStatusEnum = strawberry.enum(ReviewStatus, name="AccessReviewStatus")


async def _user(info: Info, user_id: int | None, seen_from: object) -> User | None:
    """A user named by a review, seen in the review's organization."""
    row = await resolve_users.by_id(info.context, user_id)
    return None if row is None else User.from_row(row, organizations_of(seen_from))


@scoped(organizations=("organization_id",))
@strawberry.type(description="A provider the member was assigned to when the review started")
class ReviewedProvider:
    id: strawberry.ID | None
    npi: str | None
    name: str | None
    organization_id: strawberry.Private[int]


@scoped(organizations=("organization_id",))
@strawberry.type(description="What a member held when the review started (R12)")
class AccessReviewSnapshot:
    roles: list[Role] | None
    etools: list[ETool] | None
    providers: list[ReviewedProvider] | None
    last_login_at: datetime | None
    organization_id: strawberry.Private[int]

    @classmethod
    def of(cls, snapshot: Snapshot, organization_id: int) -> AccessReviewSnapshot:
        return cls(
            roles=[ROLES[code] for code in snapshot.roles],
            etools=[ETOOLS[code] for code in snapshot.etools],
            providers=[
                ReviewedProvider(
                    id=strawberry.ID(str(p.id)),
                    npi=p.npi,
                    name=p.name,
                    organization_id=organization_id,
                )
                for p in snapshot.providers
            ],
            last_login_at=snapshot.last_login_at,
            organization_id=organization_id,
        )


@scoped(organizations=("member_row.organization_id",))
@strawberry.type(description="One member under review: kept, removed, or not yet decided")
class AccessReviewItem:
    id: strawberry.ID
    decision: ReviewDecision | None = strawberry.field(
        description="Null until decided; REMOVE with no decidedBy: the deadline decided (R15)"
    )
    decided_at: datetime | None
    row: strawberry.Private[models.AccessReviewItem]
    member_row: strawberry.Private[models.Membership]

    @classmethod
    def from_row(cls, row: models.AccessReviewItem, member: models.Membership) -> AccessReviewItem:
        return cls(
            id=strawberry.ID(str(row.id)),
            decision=None if row.decision is None else ReviewDecision(row.decision),
            decided_at=row.decided_at,
            row=row,
            member_row=member,
        )

    @strawberry.field(description="The membership under review, as it is now")
    def member(self, info: Info) -> Membership | None:
        return Membership.from_row(self.member_row)

    @strawberry.field(description="Roles, eTools, providers and last login at the review's start")
    def snapshot(self) -> AccessReviewSnapshot | None:
        snapshot = Snapshot.from_json(self.row.snapshot)
        return AccessReviewSnapshot.of(snapshot, self.member_row.organization_id)

    @strawberry.field
    async def decided_by(self, info: Info) -> User | None:
        return await _user(info, self.row.decided_by_id, self)


@scoped(organizations=("row.organization_id",))
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
            row=row,
        )

    @strawberry.field
    async def started_by(self, info: Info) -> User | None:
        return await _user(info, self.row.started_by_id, self)

    @strawberry.field
    async def completed_by(self, info: Info) -> User | None:
        return await _user(info, self.row.completed_by_id, self)

    @strawberry.field(description="Every member active when the review started")
    async def items(self, info: Info) -> list[AccessReviewItem] | None:
        rows = await resolve.items(info.context, self.row.id)
        return [AccessReviewItem.from_row(item, m) for item, m in rows]

    @strawberry.field(description="Members not yet kept or removed")
    async def undecided_count(self, info: Info) -> int | None:
        rows = await resolve.items(info.context, self.row.id)
        return sum(1 for item, _ in rows if item.decision is None)
