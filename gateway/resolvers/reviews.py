"""Access reviews (R12): the mutations (parse, one transaction, the domain) and the flags."""

from __future__ import annotations

from datetime import datetime

from gateway.catalog import ReviewDecision
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import reviews
from gateway.models import AccessReview, AccessReviewItem, Membership, Organization, User, utcnow


async def start_access_review(context: Context, raw_org_id: str) -> AccessReview:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await reviews.start_access_review(
            session, org_id=org_id, actor_id=context.signed_in_user_id(), settings=context.settings
        )


async def review_member(
    context: Context,
    raw_org_id: str,
    raw_review_id: str,
    raw_membership_id: str,
    decision: ReviewDecision,
) -> tuple[AccessReviewItem, Membership]:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        item = await reviews.review_member(
            session,
            org_id=org_id,
            review_id=parse_id(raw_review_id, "Access review"),
            membership_id=parse_id(raw_membership_id, "Membership"),
            decision=decision,
            actor_id=context.signed_in_user_id(),
            actor_roles=context.authz.roles_in(org_id),
        )
        member = await session.get(Membership, item.membership_id)
    assert member is not None  # the item references it
    return item, member


async def complete_access_review(
    context: Context, raw_org_id: str, raw_review_id: str
) -> AccessReview:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await reviews.complete_access_review(
            session,
            org_id=org_id,
            review_id=parse_id(raw_review_id, "Access review"),
            actor_id=context.signed_in_user_id(),
        )


# ---- reads: per-request loaders, so a page of organizations or members costs one batch -------


async def open_review(context: Context, org_id: int) -> AccessReview | None:
    result: AccessReview | None = await context.loaders.open_review.load(org_id)
    return result


async def last_reviewed_at(context: Context, org_id: int) -> datetime | None:
    result: datetime | None = await context.loaders.last_reviewed_at.load(org_id)
    return result


async def review_overdue(context: Context, organization: Organization) -> bool:
    review = await open_review(context, organization.id)
    return reviews.is_review_overdue(
        last_reviewed_at=await last_reviewed_at(context, organization.id),
        organization_since=organization.created_at,
        open_deadline=None if review is None else review.deadline,
        now=utcnow(),
        settings=context.settings,
    )


async def items(context: Context, review_id: int) -> list[tuple[AccessReviewItem, Membership]]:
    result: list[tuple[AccessReviewItem, Membership]] = await context.loaders.review_items.load(
        review_id
    )
    return result


async def dormant(context: Context, membership: Membership) -> bool:
    """R12: from the member's user row, batched with the page's other users."""
    user: User | None = await context.loaders.user.load(membership.user_id)
    assert user is not None  # memberships reference existing users
    return reviews.is_dormant(
        user.last_login_at, membership.created_at, now=utcnow(), settings=context.settings
    )
