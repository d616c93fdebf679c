"""Access reviews (R12, seed 002): an admin confirms or removes every member, on a schedule.

A review snapshots each ACTIVE member (roles, eTools, providers, last login) when it starts;
each member is then kept or removed (a removal goes through ``members.remove_member``, so R6 and
R7 hold); the review completes once every member is decided. Unanswered reviews past their
deadline are ended by ``gateway.domain.review_deadlines`` (R15).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.catalog import MembershipStatus, ReviewDecision, ReviewStatus, RoleCode
from gateway.domain.members import ADMIN_ROLES, lock_organization, remove_member, roles_of
from gateway.domain.rules import conflict, refused
from gateway.errors import NotFound
from gateway.models import (
    AccessReview,
    AccessReviewItem,
    Membership,
    MembershipEtool,
    MembershipRole,
    Provider,
    ProviderAssignment,
    User,
    utcnow,
)
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class SnapshotProvider:
    id: int
    npi: str
    name: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a member held when the review started (stored as JSON on the item)."""

    roles: tuple[str, ...] = ()
    etools: tuple[str, ...] = ()
    providers: tuple[SnapshotProvider, ...] = ()
    last_login_at: datetime | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["last_login_at"] = self.last_login_at.isoformat() if self.last_login_at else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        last_login = data.get("last_login_at")
        return cls(
            roles=tuple(data.get("roles", ())),
            etools=tuple(data.get("etools", ())),
            providers=tuple(SnapshotProvider(**p) for p in data.get("providers", ())),
            last_login_at=datetime.fromisoformat(last_login) if last_login else None,
        )


# ---- flags (R12) ---------------------------------------------------------------------------------


def is_dormant(
    last_login_at: datetime | None, member_since: datetime, *, now: datetime, settings: Settings
) -> bool:
    """R12: no login for ``dormant_after_days``, counted from joining if that came later (a
    member who never logged in counts from the day they joined)."""
    last_seen = max(last_login_at or member_since, member_since)
    return now - last_seen >= timedelta(days=settings.dormant_after_days)


def is_review_overdue(
    *,
    last_reviewed_at: datetime | None,
    organization_since: datetime,
    open_deadline: datetime | None,
    now: datetime,
    settings: Settings,
) -> bool:
    """R12: no completed review within ``review_interval_days`` (a never-reviewed organization
    counts from its creation), or an open review past its deadline."""
    if open_deadline is not None and open_deadline <= now:
        return True
    since = last_reviewed_at or organization_since
    return now - since >= timedelta(days=settings.review_interval_days)


# ---- the review --------------------------------------------------------------------------------


async def start_access_review(
    session: AsyncSession,
    *,
    org_id: int,
    actor_id: int,
    settings: Settings,
    now: datetime | None = None,
) -> AccessReview:
    """R12: open a review of every ACTIVE member, each with a snapshot of their access."""
    await lock_organization(session, org_id)  # two admins starting at once: one review
    await _check_none_open(session, org_id)
    now = now or utcnow()
    review = AccessReview(
        organization_id=org_id,
        status=ReviewStatus.OPEN,
        started_by_id=actor_id,
        started_at=now,
        deadline=now + timedelta(days=settings.review_response_days),
    )
    session.add(review)
    await session.flush()
    snapshots = await snapshots_of_members(session, org_id)
    if snapshots:
        rows = [
            {"review_id": review.id, "membership_id": m, "snapshot": s.to_json()}
            for m, s in snapshots.items()
        ]
        await session.execute(insert(AccessReviewItem), rows)
    return review


async def review_member(
    session: AsyncSession,
    *,
    org_id: int,
    review_id: int,
    membership_id: int,
    decision: ReviewDecision,
    actor_id: int,
    actor_roles: frozenset[str],
    now: datetime | None = None,
) -> AccessReviewItem:
    """R12: keep or remove one member under review; one decision per member."""
    await lock_organization(session, org_id)  # two reviewers at once: one decision
    await open_review(session, org_id, review_id)
    item = await _item(session, review_id, membership_id)
    if item.decision is not None:
        raise conflict("R12", "this member was already reviewed in this review")
    _check_may_decide(actor_roles, await roles_of(session, membership_id))
    member = await session.get(Membership, membership_id)
    assert member is not None  # the item references it
    if member.status == MembershipStatus.ACTIVE:
        if decision is ReviewDecision.REMOVE:  # R6, R7, R8: the rules of any removal
            await remove_member(
                session, actor_roles=actor_roles, org_id=org_id, membership_id=membership_id
            )
    elif decision is ReviewDecision.KEEP:
        raise conflict("R12", "this member already lost access; they can only be removed")
    decide(item, decision, decided_by_id=actor_id, now=now or utcnow())
    await session.flush()
    return item


async def complete_access_review(
    session: AsyncSession,
    *,
    org_id: int,
    review_id: int,
    actor_id: int,
    now: datetime | None = None,
) -> AccessReview:
    """R12: close the review once every member is kept or removed."""
    await lock_organization(session, org_id)
    review = await open_review(session, org_id, review_id)
    undecided = await session.scalar(
        select(func.count()).where(
            AccessReviewItem.review_id == review_id, AccessReviewItem.decision.is_(None)
        )
    )
    if undecided:
        raise conflict(
            "R12",
            f"{undecided} member(s) still to review: keep or remove each before completing",
        )
    review.status = ReviewStatus.COMPLETED
    review.completed_by_id = actor_id
    review.completed_at = now or utcnow()
    await session.flush()
    return review


def decide(
    item: AccessReviewItem, decision: ReviewDecision, *, decided_by_id: int | None, now: datetime
) -> None:
    """Record a decision; ``decided_by_id`` None means the R15 deadline decided it."""
    item.decision = decision
    item.decided_by_id = decided_by_id
    item.decided_at = now


async def open_review(session: AsyncSession, org_id: int, review_id: int) -> AccessReview:
    """The organization's review ``review_id``, which must still be open."""
    review = await session.get(AccessReview, review_id)
    if review is None or review.organization_id != org_id:
        raise NotFound("Access review not found")
    if review.status == ReviewStatus.EXPIRED:
        raise conflict("R15", "this review expired at its deadline; start a new one")
    if review.status != ReviewStatus.OPEN:
        raise conflict("R12", "this review is already completed")
    return review


async def snapshots_of_members(session: AsyncSession, org_id: int) -> dict[int, Snapshot]:
    """Every ACTIVE member's access, in four statements whatever the organization's size."""
    logins = await session.execute(
        select(Membership.id, User.last_login_at)
        .join(User, User.id == Membership.user_id)
        .where(*_active_in(org_id))
        .order_by(Membership.id)
    )
    last_login = dict(logins.all())
    roles = await _codes_of_members(
        session, org_id, MembershipRole.membership_id, MembershipRole.role
    )
    etools = await _codes_of_members(
        session, org_id, MembershipEtool.membership_id, MembershipEtool.etool
    )
    providers = await _providers_of_members(session, org_id)
    return {
        m: Snapshot(
            roles=tuple(roles[m]),
            etools=tuple(etools[m]),
            providers=tuple(providers[m]),
            last_login_at=login,
        )
        for m, login in last_login.items()
    }


def _active_in(org_id: int) -> tuple[ColumnElement[bool], ...]:
    return Membership.organization_id == org_id, Membership.status == MembershipStatus.ACTIVE


async def _codes_of_members(
    session: AsyncSession,
    org_id: int,
    membership_id: InstrumentedAttribute[int],
    code_column: InstrumentedAttribute[str],
) -> defaultdict[int, list[str]]:
    rows = await session.execute(
        select(membership_id, code_column)
        .join(Membership, Membership.id == membership_id)
        .where(*_active_in(org_id))
        .order_by(code_column)
    )
    groups: defaultdict[int, list[str]] = defaultdict(list)
    for member, code in rows:
        groups[member].append(code)
    return groups


async def _providers_of_members(
    session: AsyncSession, org_id: int
) -> defaultdict[int, list[SnapshotProvider]]:
    rows = await session.execute(
        select(ProviderAssignment.membership_id, Provider.id, Provider.npi, Provider.name)
        .join(Provider, Provider.id == ProviderAssignment.provider_id)
        .join(Membership, Membership.id == ProviderAssignment.membership_id)
        .where(*_active_in(org_id))
        .order_by(Provider.id)
    )
    groups: defaultdict[int, list[SnapshotProvider]] = defaultdict(list)
    for member, provider_id, npi, name in rows:
        groups[member].append(SnapshotProvider(provider_id, npi, name))
    return groups


async def _check_none_open(session: AsyncSession, org_id: int) -> None:
    """R12: one open review per organization at a time."""
    open_id = await session.scalar(
        select(AccessReview.id).where(
            AccessReview.organization_id == org_id, AccessReview.status == ReviewStatus.OPEN
        )
    )
    if open_id is not None:
        raise conflict(
            "R12", f"access review {open_id} is still open: complete it before starting another"
        )


async def _item(session: AsyncSession, review_id: int, membership_id: int) -> AccessReviewItem:
    item = await session.scalar(
        select(AccessReviewItem).where(
            AccessReviewItem.review_id == review_id,
            AccessReviewItem.membership_id == membership_id,
        )
    )
    if item is None:
        raise NotFound("Membership not found in this access review")
    return item


def _check_may_decide(actor_roles: frozenset[str], member_roles: frozenset[str]) -> None:
    """R6: an office manager reviews non-admin members; admins and office managers are reviewed
    by an account administrator (keeping one is a decision about an admin too)."""
    if RoleCode.ACCOUNT_ADMIN not in actor_roles and member_roles & ADMIN_ROLES:
        raise refused(
            "R6", "only an account administrator reviews administrators and office managers"
        )
