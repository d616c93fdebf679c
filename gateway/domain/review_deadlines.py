"""R15: an access review left unanswered past its deadline ends in the safe direction.

``enforce_overdue_reviews`` is one pass a scheduler runs (``gateway reviews enforce``), also
callable from tests with an injected ``now``. For every OPEN review past its deadline, in its own
transaction under the organization's lock:

- with ``review_unanswered_action = "remove"`` (the default) each unreviewed ACTIVE member loses
  access through ``members.remove_member`` (R8), except that the organization keeps one account
  administrator (R7): unreviewed admins go newest first, and the one who would be the last stays
  and is reported. The item records the removal with ``decided_by`` null: the deadline decided;
- with ``"keep"`` nobody is removed; unreviewed items stay undecided;
- the review becomes EXPIRED and every remaining active admin gets an outbox email saying what
  happened.

A scheduler's pass is not a request, so it writes no access-log entries: what it did is in the
review's items and in the admins' emails.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import outbox
from gateway.catalog import MembershipStatus, ReviewDecision, ReviewStatus, RoleCode
from gateway.data import Database
from gateway.domain.members import lock_organization, remove_member
from gateway.domain.reviews import decide
from gateway.errors import Conflict
from gateway.models import (
    AccessReview,
    AccessReviewItem,
    Membership,
    MembershipRole,
    Organization,
    User,
    utcnow,
)
from gateway.settings import Settings

# The deadline removes members with an administrator's authority; R7 still holds.
DEADLINE_AUTHORITY: frozenset[str] = frozenset({RoleCode.ACCOUNT_ADMIN})


@dataclass(frozen=True, slots=True)
class ExpiredReview:
    """What enforcing one overdue review did (usernames)."""

    review_id: int
    organization_id: int
    organization_name: str
    removed: tuple[str, ...] = ()
    kept_last_admin: tuple[str, ...] = ()  # R7: unreviewed, but the last administrator
    left_unreviewed: tuple[str, ...] = ()  # the "keep" setting: access unchanged
    notified: int = 0  # admins emailed

    def __str__(self) -> str:
        parts = [f"review {self.review_id} of {self.organization_name} expired"]
        parts.append(f"removed {_names(self.removed)}")
        if self.kept_last_admin:
            parts.append(f"kept the last administrator {_names(self.kept_last_admin)} (R7)")
        if self.left_unreviewed:
            parts.append(f"left unreviewed {_names(self.left_unreviewed)}")
        parts.append(f"{self.notified} administrator(s) emailed")
        return "; ".join(parts)


async def enforce_overdue_reviews(
    db: Database, settings: Settings, *, now: datetime | None = None
) -> list[ExpiredReview]:
    """One pass: expire every OPEN review past its deadline (R15), one transaction each."""
    now = now or utcnow()
    async with db.session() as session:
        due = await session.execute(
            select(AccessReview.id, AccessReview.organization_id)
            .where(AccessReview.status == ReviewStatus.OPEN, AccessReview.deadline <= now)
            .order_by(AccessReview.id)
        )
        reviews = due.all()
    expired = []
    for review_id, org_id in reviews:
        async with db.transaction() as session:
            result = await expire_review(session, settings, org_id, review_id, now=now)
        if result is not None:
            expired.append(result)
    return expired


async def expire_review(
    session: AsyncSession, settings: Settings, org_id: int, review_id: int, *, now: datetime
) -> ExpiredReview | None:
    """R15 for one review; ``None`` if it was completed (or expired) since it was found due."""
    organization = await lock_organization(session, org_id)
    review = await session.get(AccessReview, review_id)
    if review is None or review.status != ReviewStatus.OPEN or review.deadline > now:
        return None
    unreviewed = await _unreviewed(session, review_id)
    if settings.review_unanswered_action == "remove":
        removed, kept = await _remove(session, org_id, unreviewed, now)
        result = ExpiredReview(review_id, org_id, organization.name, removed, kept)
    else:
        left = tuple(username for _, username in unreviewed)
        result = ExpiredReview(review_id, org_id, organization.name, left_unreviewed=left)
    review.status = ReviewStatus.EXPIRED
    review.expired_at = now
    notified = await _tell_admins(session, organization, result)
    return replace(result, notified=notified)


async def _unreviewed(session: AsyncSession, review_id: int) -> list[tuple[AccessReviewItem, str]]:
    """Undecided items of members still ACTIVE; admins last and newest first (R7 order)."""
    is_admin = (
        select(MembershipRole.membership_id)
        .where(
            MembershipRole.membership_id == Membership.id,
            MembershipRole.role == RoleCode.ACCOUNT_ADMIN,
        )
        .exists()
    )
    rows = await session.execute(
        select(AccessReviewItem, User.username)
        .join(Membership, Membership.id == AccessReviewItem.membership_id)
        .join(User, User.id == Membership.user_id)
        .where(
            AccessReviewItem.review_id == review_id,
            AccessReviewItem.decision.is_(None),
            Membership.status == MembershipStatus.ACTIVE,
        )
        .order_by(is_admin, Membership.id.desc())
    )
    return list(rows.all())


async def _remove(
    session: AsyncSession,
    org_id: int,
    unreviewed: list[tuple[AccessReviewItem, str]],
    now: datetime,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Remove each unreviewed member; the one whose removal R7 refuses stays."""
    removed: list[str] = []
    kept: list[str] = []
    for item, username in unreviewed:
        try:
            member = await remove_member(
                session,
                actor_roles=DEADLINE_AUTHORITY,
                org_id=org_id,
                membership_id=item.membership_id,
            )
        except Conflict as refusal:  # R7 is checked before anything is written
            if (refusal.extensions or {}).get("rule") != "R7":
                raise
            kept.append(username)
            continue
        member.removed_at = now
        decide(item, ReviewDecision.REMOVE, decided_by_id=None, now=now)
        removed.append(username)
    await session.flush()
    return tuple(removed), tuple(kept)


async def _tell_admins(
    session: AsyncSession, organization: Organization, result: ExpiredReview
) -> int:
    """R15: the organization's active account administrators are told, one email each."""
    admins = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(
            Membership.organization_id == organization.id,
            Membership.status == MembershipStatus.ACTIVE,
            MembershipRole.role == RoleCode.ACCOUNT_ADMIN,
        )
        .order_by(User.id)
    )
    count = 0
    for admin in admins:
        await outbox.enqueue(
            session,
            kind=outbox.OutboxKind.REVIEW_REMINDER,
            channel=outbox.Channel.EMAIL,
            recipient=admin.email,
            subject=f"Access review of {organization.name} expired unanswered",
            body=_notice(admin.name, result),
            organization_id=organization.id,
        )
        count += 1
    return count


def _notice(admin_name: str, result: ExpiredReview) -> str:
    lines = [
        f"Dear {admin_name},",
        "",
        f"The access review of {result.organization_name} was not completed by its deadline.",
    ]
    if result.removed:
        lines.append(f"These unreviewed members lost access: {_names(result.removed)}.")
    if result.kept_last_admin:
        lines.append(
            f"{_names(result.kept_last_admin)} was not reviewed but keeps access as the "
            "organization's last account administrator; please review this account."
        )
    if result.left_unreviewed:
        lines.append(f"These members were not reviewed: {_names(result.left_unreviewed)}.")
    if not (result.removed or result.kept_last_admin or result.left_unreviewed):
        lines.append("Every member still active had been reviewed.")
    lines += ["", "Please sign in and start a new access review of your portal users."]
    return "\n".join(lines)


def _names(usernames: tuple[str, ...]) -> str:
    return ", ".join(usernames) if usernames else "nobody"
