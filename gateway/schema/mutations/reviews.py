"""Access reviews (R12): start, keep or remove each member, complete."""

from __future__ import annotations

import strawberry

from gateway.catalog import ReviewDecision
from gateway.context import Info
from gateway.resolvers import reviews as resolve
from gateway.schema.reviews import AccessReview, AccessReviewItem


@strawberry.type
class ReviewMutations:
    @strawberry.mutation(
        description="Start a review of every active member (R12), with a snapshot of their "
        "roles, eTools, providers and last login. Admins; one open review at a time."
    )
    async def start_access_review(
        self, info: Info, organization_id: strawberry.ID
    ) -> AccessReview | None:
        row = await resolve.start_access_review(info.context, organization_id)
        return AccessReview.from_row(row)

    @strawberry.mutation(
        description="Keep or remove one member under review (R12); REMOVE removes them (R8) "
        "but never the last administrator (R7). Admins and office managers; only admins "
        "review admins and office managers (R6). One decision per member."
    )
    async def review_member(
        self,
        info: Info,
        organization_id: strawberry.ID,
        review_id: strawberry.ID,
        membership_id: strawberry.ID,
        decision: ReviewDecision,
    ) -> AccessReviewItem | None:
        item, member = await resolve.review_member(
            info.context, organization_id, review_id, membership_id, decision
        )
        return AccessReviewItem.from_row(item, member)

    @strawberry.mutation(
        description="Complete a review once every member is kept or removed (R12); it becomes "
        "the organization's lastReviewedAt. Admins."
    )
    async def complete_access_review(
        self, info: Info, organization_id: strawberry.ID, review_id: strawberry.ID
    ) -> AccessReview | None:
        row = await resolve.complete_access_review(info.context, organization_id, review_id)
        return AccessReview.from_row(row)
