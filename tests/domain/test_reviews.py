"""Access reviews (R12, R15): start, keep or remove, complete; the deadline; dormant and overdue."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from gateway.cli import main
from gateway.data.db import Database
from gateway.domain.review_deadlines import ExpiredReview, enforce_overdue_reviews
from gateway.models import (
    AccessReview,
    AccessReviewItem,
    Membership,
    Organization,
    User,
    utcnow,
)
from gateway.settings import Settings, get_settings
from tests.support import JSON, Api, World, error_of, errors_at
from tests.support.database import counting, outbox_of
from tests.support.factories import Org, make_org

ITEMS = """items { id decision decidedAt decidedBy { username } member { id status }
  snapshot { roles { code } etools { code } providers { id npi } lastLoginAt } }"""
START = f"""mutation Start($org: ID!) {{ startAccessReview(organizationId: $org) {{
  id status startedAt deadline undecidedCount startedBy {{ username }} {ITEMS} }} }}"""
REVIEW = """mutation Review($org: ID!, $review: ID!, $member: ID!, $decision: ReviewDecision!) {
  reviewMember(organizationId: $org, reviewId: $review, membershipId: $member,
               decision: $decision) {
    id decision decidedAt decidedBy { username } member { id status } } }"""
COMPLETE = """mutation Complete($org: ID!, $review: ID!) {
  completeAccessReview(organizationId: $org, reviewId: $review) {
    id status completedAt completedBy { username } undecidedCount } }"""
FLAGS = f"""query Flags($id: ID!) {{ organization(id: $id) {{
  reviewOverdue lastReviewedAt accessReview {{ id status undecidedCount {ITEMS} }}
  members(first: 50) {{ edges {{ node {{ id dormant }} }} }} }} }}"""


async def start(api: Api, org: Org, actor: str | None) -> JSON:
    return await api.query(START, as_user=actor, variables={"org": str(org.id)})


async def started(api: Api, org: Org, actor: str | None = None) -> JSON:
    body = await start(api, org, actor or org.user("ACCOUNT_ADMIN"))
    assert "errors" not in body, body
    review: JSON = body["data"]["startAccessReview"]
    return review


async def review(
    api: Api, org: Org, actor: str | None, review_id: str, member: str, decision: str
) -> JSON:
    variables = {
        "org": str(org.id),
        "review": review_id,
        "member": str(org.members[member]),
        "decision": decision,
    }
    return await api.query(REVIEW, as_user=actor, variables=variables)


async def complete(api: Api, org: Org, actor: str | None, review_id: str) -> JSON:
    variables = {"org": str(org.id), "review": review_id}
    return await api.query(COMPLETE, as_user=actor, variables=variables)


async def flags(api: Api, org: Org, actor: str | None = None) -> JSON:
    body = await api.query(
        FLAGS, as_user=actor or org.user("ACCOUNT_ADMIN"), variables={"id": str(org.id)}
    )
    assert "errors" not in body, body
    organization: JSON = body["data"]["organization"]
    return organization


async def membership_status(db: Database, membership_id: int) -> str:
    async with db.session() as session:
        member = await session.get(Membership, membership_id)
    assert member is not None
    return member.status


async def items_by_member(db: Database, review_id: int) -> dict[int, AccessReviewItem]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AccessReviewItem).where(AccessReviewItem.review_id == review_id)
        )
        return {item.membership_id: item for item in rows}


async def review_row(db: Database, review_id: int) -> AccessReview:
    async with db.session() as session:
        row = await session.get(AccessReview, review_id)
    assert row is not None
    return row


# ---- who may call them: every role in an organization of its own, the health plan, outsiders ----

EVERY_ROLE = {
    "ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "FINANCIAL_MANAGER": 1, "PROVIDER": 1,
    "CLINICAL_STAFF": 1, "STAFF": 1,
}  # fmt: skip
CALLERS = {
    "ACCOUNT_ADMIN": (True, True, True),  # start, reviewMember, complete
    "OFFICE_MANAGER": (False, True, False),  # seed 002: office managers review members (R6)
    "FINANCIAL_MANAGER": (False, False, False),
    "PROVIDER": (False, False, False),
    "CLINICAL_STAFF": (False, False, False),
    "STAFF": (False, False, False),
    "admin": (False, False, False),  # an admin of another organization
    "auditor": (False, False, False),
    "helpdesk": (False, False, False),
    "secofficer": (False, False, False),
    None: (False, False, False),
}


@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_run_access_reviews(
    api: Api, db: Database, caller: str | None, allowed: tuple[bool, bool, bool]
) -> None:
    """Allowed callers reach the domain (a new review; NOT_FOUND for a missing review);
    everyone else is refused before anything is read."""
    org = await make_org(db, members=EVERY_ROLE)
    actor = org.user(caller) if caller in EVERY_ROLE else caller
    refusal = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    bodies = [
        await start(api, org, actor),
        await review(api, org, actor, "987654", org.user("STAFF"), "KEEP"),
        await complete(api, org, actor, "987654"),
    ]
    starting, *others = bodies
    if allowed[0]:
        assert starting["data"]["startAccessReview"]["status"] == "OPEN"
    else:
        assert error_of(starting) == (refusal, None)
    for body, may in zip(others, allowed[1:], strict=True):
        assert error_of(body)[0] == ("NOT_FOUND" if may else refusal)


REVIEW_FIELDS = ["reviewOverdue", "lastReviewedAt", "accessReview"]
READERS = {
    "admin": True, "office": True, "auditor": True, "finance": False, "drsmith": False,
    "nurse": False, "frontdesk": False, "biller": False, "helpdesk": False, "secofficer": False,
}  # fmt: skip


@pytest.mark.parametrize(("caller", "allowed"), READERS.items())
async def test_who_sees_the_review_flags(
    api: Api, world: World, caller: str, allowed: bool
) -> None:
    query = (
        "query($id: ID!) { organization(id: $id) { id reviewOverdue lastReviewedAt "
        "accessReview { id } } }"
    )
    body = await api.query(
        query, as_user=caller, variables={"id": world.org("Sunrise Family Practice")}
    )
    assert body["data"]["organization"]["id"] == world.org("Sunrise Family Practice")
    for field in REVIEW_FIELDS:
        denied = errors_at(body, ["organization", field])
        assert (not denied) is allowed, (field, body)
        if denied:
            assert denied[0]["extensions"]["code"] == "FORBIDDEN"


DORMANT_READERS = {"admin": True, "office": True, "auditor": True, "helpdesk": False}


@pytest.mark.parametrize(("caller", "allowed"), DORMANT_READERS.items())
async def test_who_sees_dormant_members_on_the_roster(
    api: Api, world: World, caller: str, allowed: bool
) -> None:
    query = (
        "query($id: ID!) { organization(id: $id) { members(first: 1) { edges { node { "
        "id dormant } } } } }"
    )
    body = await api.query(
        query, as_user=caller, variables={"id": world.org("Sunrise Family Practice")}
    )
    path: list[str | int] = ["organization", "members", "edges", 0, "node", "dormant"]
    denied = errors_at(body, path)
    assert (not denied) is allowed, body
    node = body["data"]["organization"]["members"]["edges"][0]["node"]
    assert isinstance(node["dormant"], bool) is allowed


@pytest.mark.parametrize("caller", ["finance", "drsmith", "nurse", "frontdesk"])
async def test_staff_do_not_see_even_their_own_dormant_flag(api: Api, caller: str) -> None:
    body = await api.query("{ me { memberships { id dormant } } }", as_user=caller)
    (membership,) = body["data"]["me"]["memberships"]
    assert membership["id"] is not None and membership["dormant"] is None
    assert errors_at(body, ["me", "memberships", 0, "dormant"])[0]["extensions"]["code"] == (
        "FORBIDDEN"
    )


# ---- the review (R12) ---------------------------------------------------------------------------


async def test_a_review_snapshots_every_active_member(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 2})
    staff = org.user("STAFF")
    seen = utcnow() - timedelta(days=3)
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.id == org.users[staff]).values(last_login_at=seen)
        )
        gone = await session.get(Membership, org.members[org.user("STAFF", 2)])
        assert gone is not None
        gone.status = "REMOVED"
    body = await started(api, org)
    assert body["status"] == "OPEN" and body["undecidedCount"] == 2
    assert body["startedBy"] == {"username": org.user("ACCOUNT_ADMIN")}
    started_at = datetime.fromisoformat(body["startedAt"])
    assert datetime.fromisoformat(body["deadline"]) - started_at == timedelta(days=30)
    by_member = {item["member"]["id"]: item for item in body["items"]}
    assert set(by_member) == {str(org.members[org.user("ACCOUNT_ADMIN")]), str(org.members[staff])}
    item = by_member[str(org.members[staff])]
    assert item["decision"] is None
    assert item["snapshot"]["roles"] == [{"code": "STAFF"}]
    assert item["snapshot"]["etools"] == [{"code": "ONLINE_SERVICES"}]
    assert item["snapshot"]["providers"] == [
        {"id": str(org.providers[0]), "npi": item["snapshot"]["providers"][0]["npi"]}
    ]
    last_login = datetime.fromisoformat(item["snapshot"]["lastLoginAt"])
    assert abs(last_login - seen) < timedelta(seconds=1)


async def test_review_keep_and_remove_then_complete(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 2, "OFFICE_MANAGER": 1, "STAFF": 2})
    admin, other_admin = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
    manager, leaver, stayer = org.user("OFFICE_MANAGER"), org.user("STAFF", 1), org.user("STAFF", 2)
    review_id = (await started(api, org, admin))["id"]
    assert (await flags(api, org))["accessReview"]["id"] == review_id

    removed = await review(api, org, manager, review_id, leaver, "REMOVE")
    assert removed["data"]["reviewMember"]["decision"] == "REMOVE"
    assert removed["data"]["reviewMember"]["decidedBy"] == {"username": manager}
    assert removed["data"]["reviewMember"]["member"]["status"] == "REMOVED"
    # R6: an office manager does not decide about administrators, not even to keep them.
    assert error_of(await review(api, org, manager, review_id, other_admin, "KEEP")) == (
        "FORBIDDEN",
        "R6",
    )
    for member in (admin, other_admin, manager, stayer):
        body = await review(api, org, admin, review_id, member, "KEEP")
        assert body["data"]["reviewMember"]["decision"] == "KEEP", body
    # One decision per member.
    assert error_of(await review(api, org, admin, review_id, stayer, "REMOVE")) == (
        "CONFLICT",
        "R12",
    )

    done = (await complete(api, org, admin, review_id))["data"]["completeAccessReview"]
    assert done["status"] == "COMPLETED" and done["undecidedCount"] == 0
    assert done["completedBy"] == {"username": admin}
    after = await flags(api, org)
    assert after["accessReview"] is None
    assert after["lastReviewedAt"] == done["completedAt"]
    assert after["reviewOverdue"] is False
    assert await membership_status(db, org.members[leaver]) == "REMOVED"
    assert await membership_status(db, org.members[stayer]) == "ACTIVE"
    # R8: the removed member's very next request no longer reaches the organization.
    gone = await api.query(
        "query($id: ID!) { organization(id: $id) { id } }",
        as_user=leaver,
        variables={"id": str(org.id)},
    )
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_removing_the_last_admin_in_a_review_is_refused(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin = org.user("ACCOUNT_ADMIN")
    review_id = (await started(api, org))["id"]
    assert error_of(await review(api, org, admin, review_id, admin, "REMOVE")) == (
        "CONFLICT",
        "R7",
    )
    assert await membership_status(db, org.members[admin]) == "ACTIVE"
    item = (await items_by_member(db, int(review_id)))[org.members[admin]]
    assert item.decision is None  # all or nothing: no decision recorded either


async def test_a_review_completes_only_when_every_member_is_decided(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 3})
    admin = org.user("ACCOUNT_ADMIN")
    review_id = (await started(api, org))["id"]
    await review(api, org, admin, review_id, org.user("STAFF", 1), "KEEP")
    body = await complete(api, org, admin, review_id)
    assert error_of(body) == ("CONFLICT", "R12")
    assert "3 member(s) still to review" in body["errors"][0]["message"]
    assert (await review_row(db, int(review_id))).status == "OPEN"


async def test_one_open_review_per_organization(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    admin = org.user("ACCOUNT_ADMIN")
    first = (await started(api, org))["id"]
    assert error_of(await start(api, org, admin)) == ("CONFLICT", "R12")
    await review(api, org, admin, first, admin, "KEEP")
    await complete(api, org, admin, first)
    assert (await started(api, org))["id"] != first  # once completed, the next one may start


async def test_a_review_of_another_organization_is_not_found(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    other = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    theirs = (await started(api, other))["id"]
    admin = org.user("ACCOUNT_ADMIN")
    assert error_of(await review(api, org, admin, theirs, org.user("STAFF"), "KEEP")) == (
        "NOT_FOUND",
        None,
    )
    assert error_of(await complete(api, org, admin, theirs)) == ("NOT_FOUND", None)


# ---- R15: the deadline --------------------------------------------------------------------------


def expired_in(results: list[ExpiredReview], org: Org) -> ExpiredReview:
    (result,) = [r for r in results if r.organization_id == org.id]
    return result


async def test_unreviewed_members_lose_access_at_the_deadline_but_one_admin_stays(
    api: Api, db: Database, settings: Settings
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 2, "OFFICE_MANAGER": 1, "STAFF": 2})
    first_admin, second_admin = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
    kept, unreviewed = org.user("STAFF", 1), org.user("STAFF", 2)
    review_id = int((await started(api, org, first_admin))["id"])
    await review(api, org, first_admin, str(review_id), kept, "KEEP")
    deadline = (await review_row(db, review_id)).deadline

    early = await enforce_overdue_reviews(db, settings, now=deadline - timedelta(seconds=1))
    assert [r for r in early if r.organization_id == org.id] == []
    now = deadline + timedelta(minutes=1)
    result = expired_in(await enforce_overdue_reviews(db, settings, now=now), org)

    assert set(result.removed) == {unreviewed, org.user("OFFICE_MANAGER"), second_admin}
    assert result.kept_last_admin == (first_admin,)  # R7: the longest-standing admin stays
    expired = await review_row(db, review_id)
    assert expired.status == "EXPIRED" and expired.expired_at == now
    items = await items_by_member(db, review_id)
    for username in result.removed:
        item = items[org.members[username]]
        assert (item.decision, item.decided_by_id, item.decided_at) == ("REMOVE", None, now)
        assert await membership_status(db, org.members[username]) == "REMOVED"
    assert items[org.members[first_admin]].decision is None
    assert items[org.members[kept]].decision == "KEEP"
    assert await membership_status(db, org.members[first_admin]) == "ACTIVE"
    assert await membership_status(db, org.members[kept]) == "ACTIVE"
    (email,) = await outbox_of(db, org)  # the admins still active: the first one
    assert (email.kind, email.channel) == ("REVIEW_REMINDER", "EMAIL")
    assert email.recipient == f"{first_admin}@example.org"
    assert unreviewed in email.body and first_admin in email.body
    # The next pass has nothing left to do for this organization.
    again = await enforce_overdue_reviews(db, settings, now=now)
    assert [r for r in again if r.organization_id == org.id] == []


async def test_with_the_keep_setting_the_deadline_removes_nobody(
    api: Api, db: Database, settings: Settings
) -> None:
    keep = settings.model_copy(update={"review_unanswered_action": "keep"})
    org = await make_org(db, members={"ACCOUNT_ADMIN": 2, "STAFF": 1})
    review_id = int((await started(api, org))["id"])
    now = (await review_row(db, review_id)).deadline + timedelta(minutes=1)
    result = expired_in(await enforce_overdue_reviews(db, keep, now=now), org)
    assert result.removed == () and len(result.left_unreviewed) == 3
    assert (await review_row(db, review_id)).status == "EXPIRED"
    for membership_id in org.members.values():
        assert await membership_status(db, membership_id) == "ACTIVE"
    emails = await outbox_of(db, org)
    assert sorted(e.recipient for e in emails) == sorted(
        f"{org.user('ACCOUNT_ADMIN', n)}@example.org" for n in (1, 2)
    )
    assert all(org.user("STAFF") in e.body for e in emails)


async def test_a_completed_review_is_left_alone_at_its_deadline(
    api: Api, db: Database, settings: Settings
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    admin = org.user("ACCOUNT_ADMIN")
    review_id = (await started(api, org))["id"]
    await review(api, org, admin, review_id, admin, "KEEP")
    await complete(api, org, admin, review_id)
    now = (await review_row(db, int(review_id))).deadline + timedelta(days=1)
    results = await enforce_overdue_reviews(db, settings, now=now)
    assert [r for r in results if r.organization_id == org.id] == []
    assert (await review_row(db, int(review_id))).status == "COMPLETED"
    expired = await review(api, org, admin, review_id, admin, "KEEP")
    assert error_of(expired) == ("CONFLICT", "R12")


async def test_reviews_enforce_command_expires_overdue_reviews(
    api: Api,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    review_id = int((await started(api, org))["id"])
    async with db.transaction() as session:
        await session.execute(
            update(AccessReview)
            .where(AccessReview.id == review_id)
            .values(deadline=utcnow() - timedelta(minutes=1))
        )
        name = await session.scalar(select(Organization.name).where(Organization.id == org.id))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        status = await asyncio.to_thread(main, ["reviews", "enforce"])
    finally:
        get_settings.cache_clear()
    assert status == 0
    out = capsys.readouterr().out
    assert f"review {review_id} of {name} expired; removed {org.user('STAFF')}" in out
    assert f"kept the last administrator {org.user('ACCOUNT_ADMIN')} (R7)" in out
    assert (await review_row(db, review_id)).status == "EXPIRED"
    assert await membership_status(db, org.members[org.user("STAFF")]) == "REMOVED"
    (email,) = await outbox_of(db, org)
    assert email.recipient == f"{org.user('ACCOUNT_ADMIN')}@example.org"


# ---- flags (R12) --------------------------------------------------------------------------------


async def set_times(
    db: Database, org: Org, username: str, *, login: int | None, joined: int
) -> None:
    """The member's last login and joining, in days ago (``login`` None: never logged in)."""
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == org.users[username])
            .values(last_login_at=None if login is None else now - timedelta(days=login))
        )
        await session.execute(
            update(Membership)
            .where(Membership.id == org.members[username])
            .values(created_at=now - timedelta(days=joined))
        )


async def test_members_without_a_login_for_90_days_are_dormant(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 5})
    expected = {
        org.user("STAFF", 1): (91, 200, True),  # last login 91 days ago
        org.user("STAFF", 2): (10, 200, False),
        org.user("STAFF", 3): (None, 91, True),  # never logged in, joined 91 days ago
        org.user("STAFF", 4): (None, 5, False),  # never logged in, joined 5 days ago
        org.user("STAFF", 5): (300, 2, False),  # an old login, but joined 2 days ago
        org.user("ACCOUNT_ADMIN"): (89, 400, False),
    }
    for username, (login, joined, _) in expected.items():
        await set_times(db, org, username, login=login, joined=joined)
    edges = (await flags(api, org))["members"]["edges"]
    dormant = {edge["node"]["id"]: edge["node"]["dormant"] for edge in edges}
    assert dormant == {str(org.members[u]): d for u, (_, _, d) in expected.items()}


async def set_review(db: Database, org_id: int, **values: object) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(AccessReview).where(AccessReview.organization_id == org_id).values(**values)
        )


async def set_created(db: Database, org: Org, days_ago: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Organization)
            .where(Organization.id == org.id)
            .values(created_at=utcnow() - timedelta(days=days_ago))
        )


async def completed_review(api: Api, db: Database, org: Org, days_ago: int) -> datetime:
    admin = org.user("ACCOUNT_ADMIN")
    review_id = (await started(api, org))["id"]
    await review(api, org, admin, review_id, admin, "KEEP")
    await complete(api, org, admin, review_id)
    at = utcnow() - timedelta(days=days_ago)
    await set_review(db, org.id, completed_at=at)
    return at


async def test_an_organization_never_reviewed_is_overdue_after_the_interval(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    await set_created(db, org, 89)
    assert (await flags(api, org))["reviewOverdue"] is False
    await set_created(db, org, 91)
    now = await flags(api, org)
    assert now["reviewOverdue"] is True and now["lastReviewedAt"] is None


async def test_a_review_completed_within_the_interval_is_not_overdue(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    await set_created(db, org, 400)
    at = await completed_review(api, db, org, days_ago=10)
    recent = await flags(api, org)
    assert recent["reviewOverdue"] is False
    assert abs(datetime.fromisoformat(recent["lastReviewedAt"]) - at) < timedelta(seconds=1)
    await set_review(db, org.id, completed_at=utcnow() - timedelta(days=91))
    assert (await flags(api, org))["reviewOverdue"] is True


async def test_an_open_review_past_its_deadline_is_overdue(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    await completed_review(api, db, org, days_ago=5)
    review_id = (await started(api, org))["id"]
    assert (await flags(api, org))["reviewOverdue"] is False
    async with db.transaction() as session:
        await session.execute(
            update(AccessReview)
            .where(AccessReview.id == int(review_id))
            .values(deadline=utcnow() - timedelta(minutes=1))
        )
    overdue = await flags(api, org)
    assert overdue["reviewOverdue"] is True and overdue["accessReview"]["id"] == review_id


async def test_the_payer_auditor_reads_a_review_and_its_snapshots(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    review_id = (await started(api, org))["id"]
    seen = await flags(api, org, "auditor")
    assert seen["accessReview"]["id"] == review_id
    assert {i["snapshot"]["roles"][0]["code"] for i in seen["accessReview"]["items"]} == {
        "ACCOUNT_ADMIN",
        "STAFF",
    }


async def test_flags_of_a_page_cost_the_same_statements_whatever_its_size(
    api: Api, app: Starlette, db: Database
) -> None:
    """No N+1: dormant, overdue and the open review's items are loaded per page, not per row."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 9})
    await started(api, org)
    query = f"""query($id: ID!, $first: Int!) {{ organization(id: $id) {{
      reviewOverdue lastReviewedAt accessReview {{ {ITEMS} }}
      members(first: $first) {{ edges {{ node {{ id dormant roles {{ code }} }} }} }} }} }}"""
    counts = []
    for first in (2, 10):
        with counting(app) as statements:
            body = await api.query(
                query,
                as_user=org.user("ACCOUNT_ADMIN"),
                variables={"id": str(org.id), "first": first},
            )
        assert "errors" not in body, body
        assert len(body["data"]["organization"]["members"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1]


# ---- concurrency --------------------------------------------------------------------------------


async def test_two_admins_reviewing_the_same_member_at_once_record_one_decision(
    api: Api, db: Database
) -> None:
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2, "STAFF": 1})
        first, second, staff = (
            org.user("ACCOUNT_ADMIN", 1),
            org.user("ACCOUNT_ADMIN", 2),
            org.user("STAFF"),
        )
        review_id = (await started(api, org, first))["id"]
        bodies = await asyncio.gather(
            review(api, org, first, review_id, staff, "KEEP"),
            review(api, org, second, review_id, staff, "REMOVE"),
        )
        winners = [b["data"]["reviewMember"] for b in bodies if "errors" not in b]
        (winner,) = winners
        (loser,) = [b for b in bodies if "errors" in b]
        assert error_of(loser) == ("CONFLICT", "R12")
        item = (await items_by_member(db, int(review_id)))[org.members[staff]]
        assert item.decision == winner["decision"]
        expected = "REMOVED" if winner["decision"] == "REMOVE" else "ACTIVE"
        assert await membership_status(db, org.members[staff]) == expected


async def test_two_admins_removing_each_other_in_a_review_leave_one_admin(
    api: Api, db: Database
) -> None:
    """R7 through reviewMember under truly concurrent requests."""
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
        first, second = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
        review_id = (await started(api, org, first))["id"]
        bodies = await asyncio.gather(
            review(api, org, first, review_id, second, "REMOVE"),
            review(api, org, second, review_id, first, "REMOVE"),
        )
        assert sorted("errors" in b for b in bodies) == [False, True]
        loser = next(b for b in bodies if "errors" in b)
        assert error_of(loser) in {("CONFLICT", "R7"), ("FORBIDDEN", None)}
        statuses = {await membership_status(db, org.members[u]) for u in (first, second)}
        assert statuses == {"ACTIVE", "REMOVED"}


async def test_two_admins_completing_at_once_complete_once(api: Api, db: Database) -> None:
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
        first, second = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
        review_id = (await started(api, org, first))["id"]
        for member in (first, second):
            await review(api, org, first, review_id, member, "KEEP")
        bodies = await asyncio.gather(
            complete(api, org, first, review_id), complete(api, org, second, review_id)
        )
        assert sorted("errors" in b for b in bodies) == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R12")
        done = await review_row(db, int(review_id))
        winner = next(b for b in bodies if "errors" not in b)["data"]["completeAccessReview"]
        assert done.status == "COMPLETED"
        assert winner["completedBy"]["username"] in (first, second)


async def test_completing_while_the_last_member_is_reviewed_stays_consistent(
    api: Api, db: Database
) -> None:
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
        first, second = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
        review_id = (await started(api, org, first))["id"]
        await review(api, org, first, review_id, first, "KEEP")
        reviewed, completed = await asyncio.gather(
            review(api, org, second, review_id, second, "KEEP"),
            complete(api, org, first, review_id),
        )
        assert "errors" not in reviewed  # the review decides first or the completion refuses
        row = await review_row(db, int(review_id))
        if "errors" in completed:
            assert error_of(completed) == ("CONFLICT", "R12")
            assert row.status == "OPEN"
        else:
            assert row.status == "COMPLETED"
        assert all(i.decision == "KEEP" for i in (await items_by_member(db, row.id)).values())


async def test_two_admins_starting_at_once_open_one_review(api: Api, db: Database) -> None:
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
        bodies = await asyncio.gather(
            start(api, org, org.user("ACCOUNT_ADMIN", 1)),
            start(api, org, org.user("ACCOUNT_ADMIN", 2)),
        )
        assert sorted("errors" in b for b in bodies) == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R12")
        async with db.session() as session:
            reviews = (
                await session.scalars(
                    select(AccessReview.id).where(AccessReview.organization_id == org.id)
                )
            ).all()
        assert len(reviews) == 1
