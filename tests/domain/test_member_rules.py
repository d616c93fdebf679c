"""R4-R7 on the domain services themselves, without GraphQL or HTTP: who may hold a role (R4),
the financial manager's dedicated account (R5), what an office manager may not touch (R6) and
the last administrator (R7), wherever access changes: ``members.update_member_access`` and
``remove_member``, ``access_requests.approve`` and ``reviews.review_member``.

Each call runs in a real transaction on the suite's database (SQLite or PostgreSQL) and each
test then reads what was stored: a refused change must leave nothing behind. The policy's
outer gate (which callers reach these services at all) is tested over HTTP in test_members.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, insert, select, update

from gateway.catalog import Employment, EToolCode, ReviewDecision, RoleCode
from gateway.data.db import Database
from gateway.domain import access_requests, members, reviews
from gateway.domain.members import MemberAccess
from gateway.errors import GatewayError
from gateway.models import AccessReviewItem, Membership, MembershipRole
from gateway.settings import Settings
from tests.support.factories import Org, add_membership, make_org, make_user

A, OM, FM = RoleCode.ACCOUNT_ADMIN, RoleCode.OFFICE_MANAGER, RoleCode.FINANCIAL_MANAGER
PR, CS, ST = RoleCode.PROVIDER, RoleCode.CLINICAL_STAFF, RoleCode.STAFF
AUDITOR, SUPPORT, SECURITY = (
    RoleCode.PAYER_AUDITOR, RoleCode.PAYER_SUPPORT, RoleCode.SECURITY_OFFICER,
)  # fmt: skip
EMPLOYEE, THIRD_PARTY = Employment.EMPLOYEE, Employment.THIRD_PARTY
KEEP, REMOVE = ReviewDecision.KEEP, ReviewDecision.REMOVE

# What a call comes to: None (it went through) or the contract error's code and rule.
OK = None
R4 = ("BAD_USER_INPUT", "R4")
R5 = ("BAD_USER_INPUT", "R5")
R6 = ("FORBIDDEN", "R6")
R7 = ("CONFLICT", "R7")
Outcome = tuple[str, str | None] | None


# ---- helpers --------------------------------------------------------------------------------


async def outcome(call: Awaitable[object]) -> Outcome:
    """None if the domain call went through, else the code and rule of the error it raised."""
    try:
        await call
    except GatewayError as error:
        extensions = error.extensions or {}
        return extensions["code"], extensions.get("rule")
    return OK


@dataclass(frozen=True)
class Stored:
    """A membership as the database holds it."""

    status: str
    roles: frozenset[str]
    employment: str


async def stored(db: Database, membership_id: int) -> Stored:
    async with db.session() as session:
        member = await session.get(Membership, membership_id)
        assert member is not None
        roles = await session.scalars(
            select(MembershipRole.role).where(MembershipRole.membership_id == membership_id)
        )
        return Stored(member.status, frozenset(roles), member.employment)


async def arrange(
    db: Database, membership_id: int, roles: Iterable[RoleCode], employment: Employment = EMPLOYEE
) -> None:
    """Give a member these roles and this employment directly (the starting state of a test,
    written without the rules under test)."""
    async with db.transaction() as session:
        await session.execute(
            delete(MembershipRole).where(MembershipRole.membership_id == membership_id)
        )
        await session.execute(
            insert(MembershipRole), [{"membership_id": membership_id, "role": r} for r in roles]
        )
        await session.execute(
            update(Membership).where(Membership.id == membership_id).values(employment=employment)
        )


async def org_with_member(
    db: Database, held: Iterable[RoleCode], employment: Employment = EMPLOYEE
) -> tuple[Org, int]:
    """An organization with one admin, one office manager and the member under test, who holds
    ``held``: (the organization, the member's membership id)."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    member = org.members[org.user("STAFF")]
    await arrange(db, member, held, employment)
    return org, member


async def change(
    db: Database, org: Org, actor: Iterable[RoleCode], membership_id: int, access: MemberAccess
) -> None:
    async with db.transaction() as session:
        await members.update_member_access(
            session,
            actor_roles=frozenset(actor),
            org_id=org.id,
            membership_id=membership_id,
            access=access,
        )


async def remove(db: Database, org: Org, actor: Iterable[RoleCode], membership_id: int) -> None:
    async with db.transaction() as session:
        await members.remove_member(
            session, actor_roles=frozenset(actor), org_id=org.id, membership_id=membership_id
        )


def given(roles: Iterable[RoleCode] | None) -> MemberAccess:
    """Access that sets these roles, or (None) changes only the eTools and leaves the roles."""
    if roles is None:
        return MemberAccess(etools=frozenset({EToolCode.CARELON}))
    return MemberAccess(roles=frozenset(roles))


# ---- R4: employee-only roles, and no health-plan role in an organization ----------------------


@pytest.mark.parametrize(
    ("employment", "wanted", "expected"),
    [
        (THIRD_PARTY, {A}, R4),
        (THIRD_PARTY, {OM}, R4),
        (THIRD_PARTY, {FM}, R4),
        (THIRD_PARTY, {ST}, OK),
        (THIRD_PARTY, {CS}, OK),
        (THIRD_PARTY, {PR}, OK),
        (THIRD_PARTY, {PR, ST}, OK),
        (THIRD_PARTY, {ST, OM}, R4),
        (EMPLOYEE, {A}, OK),
        (EMPLOYEE, {OM}, OK),
        (EMPLOYEE, {FM}, OK),
        (EMPLOYEE, {AUDITOR}, R4),
        (EMPLOYEE, {SUPPORT}, R4),
        (EMPLOYEE, {SECURITY}, R4),
        (EMPLOYEE, {ST, AUDITOR}, R4),
    ],
)
async def test_r4_who_may_be_given_a_role(
    db: Database, employment: Employment, wanted: set[RoleCode], expected: Outcome
) -> None:
    org, member = await org_with_member(db, {ST}, employment)
    assert await outcome(change(db, org, {A}, member, given(wanted))) == expected
    roles = wanted if expected is OK else {ST}
    assert await stored(db, member) == Stored("ACTIVE", frozenset(roles), employment)


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        ({A}, R4),
        ({OM}, R4),
        ({FM}, R4),
        ({ST}, OK),
        ({PR, CS}, OK),
    ],
)
async def test_r4_an_employee_only_role_holder_cannot_become_third_party(
    db: Database, held: set[RoleCode], expected: Outcome
) -> None:
    """The roles stay as they are; only the employment changes (or not)."""
    org, member = await org_with_member(db, held)
    access = MemberAccess(employment=THIRD_PARTY)
    assert await outcome(change(db, org, {A}, member, access)) == expected
    employment = THIRD_PARTY if expected is OK else EMPLOYEE
    assert await stored(db, member) == Stored("ACTIVE", frozenset(held), employment)


# ---- R5: the financial manager's account holds no other role -----------------------------------


@pytest.mark.parametrize(
    ("held", "wanted", "expected"),
    [
        ({ST}, {FM}, OK),
        ({ST}, {FM, ST}, R5),
        ({ST}, {FM, PR}, R5),
        ({ST}, {FM, CS}, R5),
        ({ST}, {FM, OM}, R5),
        ({ST}, {FM, A}, R5),
        ({FM}, {FM, ST}, R5),
        ({FM}, None, OK),  # the eTools of a financial manager may change
        ({FM}, {ST}, OK),  # no longer the financial manager: any other role
    ],
)
async def test_r5_the_financial_manager_holds_no_other_role(
    db: Database, held: set[RoleCode], wanted: set[RoleCode] | None, expected: Outcome
) -> None:
    org, member = await org_with_member(db, held)
    assert await outcome(change(db, org, {A}, member, given(wanted))) == expected
    roles = held if expected is not OK or wanted is None else wanted
    assert (await stored(db, member)).roles == roles


# ---- R6: office managers manage non-admin users only -------------------------------------------


@pytest.mark.parametrize(
    ("actor", "held", "wanted", "expected"),
    [
        ({OM}, {ST}, {CS}, OK),
        ({OM}, {ST}, {PR, ST}, OK),
        ({OM}, {ST}, {FM}, OK),  # the financial manager is not an administrative role
        ({OM}, {ST}, None, OK),
        ({OM}, {ST}, {OM}, R6),
        ({OM}, {ST}, {A}, R6),
        ({OM}, {ST}, {ST, OM}, R6),
        ({OM}, {OM}, {ST}, R6),
        ({OM}, {OM}, {OM}, R6),  # not even re-granting what they hold
        ({OM}, {OM}, None, R6),  # nor an office manager's eTools
        ({OM}, {A}, {ST}, R6),
        ({OM}, {A}, None, R6),
        ({A}, {ST}, {OM}, OK),
        ({A}, {ST}, {A}, OK),
        ({A}, {OM}, {ST}, OK),
        ({A}, {A}, {ST}, OK),  # another admin stays (R7 is not in the way)
        ({A}, {OM}, None, OK),
        ({OM, A}, {A}, {OM}, OK),  # an admin who is also office manager is an admin
    ],
)
async def test_r6_what_an_office_manager_may_not_grant_or_touch(
    db: Database,
    actor: set[RoleCode],
    held: set[RoleCode],
    wanted: set[RoleCode] | None,
    expected: Outcome,
) -> None:
    org, member = await org_with_member(db, held)
    assert await outcome(change(db, org, actor, member, given(wanted))) == expected
    roles = held if expected is not OK or wanted is None else wanted
    assert (await stored(db, member)).roles == roles


@pytest.mark.parametrize(
    ("actor", "held", "expected"),
    [
        ({OM}, {ST}, OK),
        ({OM}, {CS, PR}, OK),
        ({OM}, {FM}, OK),
        ({OM}, {OM}, R6),
        ({OM}, {A}, R6),
        ({OM}, {ST, OM}, R6),
        ({A}, {OM}, OK),
        ({A}, {A}, OK),  # another admin stays
    ],
)
async def test_r6_an_office_manager_removes_no_admin_or_office_manager(
    db: Database, actor: set[RoleCode], held: set[RoleCode], expected: Outcome
) -> None:
    org, member = await org_with_member(db, held)
    assert await outcome(remove(db, org, actor, member)) == expected
    status = "REMOVED" if expected is OK else "ACTIVE"
    assert await stored(db, member) == Stored(status, frozenset(held), EMPLOYEE)


# ---- R4-R6 where a request is approved (access_requests.approve) -------------------------------


@pytest.mark.parametrize(
    ("actor", "employment", "granted", "expected"),
    [
        ({A}, EMPLOYEE, {ST}, OK),
        ({A}, EMPLOYEE, {OM}, OK),
        ({A}, THIRD_PARTY, {ST}, OK),
        ({A}, THIRD_PARTY, {OM}, R4),
        ({A}, THIRD_PARTY, {FM}, R4),
        ({A}, EMPLOYEE, {AUDITOR}, R4),
        ({A}, EMPLOYEE, {FM}, OK),
        ({A}, EMPLOYEE, {FM, ST}, R5),
        ({OM}, EMPLOYEE, {ST}, OK),
        ({OM}, EMPLOYEE, {OM}, R6),
        ({OM}, EMPLOYEE, {A}, R6),
        ({OM}, EMPLOYEE, {CS, A}, R6),
    ],
)
async def test_approving_a_request_obeys_r4_to_r6(
    db: Database,
    actor: set[RoleCode],
    employment: Employment,
    granted: set[RoleCode],
    expected: Outcome,
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1}, tins=("555000111",))
    _, requester = await make_user(db)
    async with db.transaction() as session:
        request = await access_requests.request_access(
            session,
            user_id=requester,
            provider_id=org.provider_id,
            tin="555000111",
            employment=employment,
        )
    approver = org.users[org.user("ACCOUNT_ADMIN" if A in actor else "OFFICE_MANAGER")]

    async def approve() -> None:
        async with db.transaction() as session:
            await access_requests.approve(
                session,
                actor_id=approver,
                actor_roles=frozenset(actor),
                org_id=org.id,
                request_id=request.id,
                access=MemberAccess(roles=frozenset(granted)),
            )

    assert await outcome(approve()) == expected
    if expected is OK:
        assert await stored(db, request.id) == Stored("ACTIVE", frozenset(granted), employment)
    else:
        assert await stored(db, request.id) == Stored("REQUESTED", frozenset(), employment)


# ---- R6 and R7 in an access review (reviews.review_member) -------------------------------------


async def decision_of(db: Database, review_id: int, membership_id: int) -> str | None:
    async with db.session() as session:
        return await session.scalar(
            select(AccessReviewItem.decision).where(
                AccessReviewItem.review_id == review_id,
                AccessReviewItem.membership_id == membership_id,
            )
        )


async def review(
    db: Database, org: Org, actor: Iterable[RoleCode], review_id: int, member: int, decision: str
) -> None:
    actor_roles = frozenset(actor)
    actor_id = org.users[org.user("ACCOUNT_ADMIN" if A in actor_roles else "OFFICE_MANAGER")]
    async with db.transaction() as session:
        await reviews.review_member(
            session,
            org_id=org.id,
            review_id=review_id,
            membership_id=member,
            decision=ReviewDecision(decision),
            actor_id=actor_id,
            actor_roles=actor_roles,
        )


async def started(db: Database, org: Org, settings: Settings) -> int:
    async with db.transaction() as session:
        started = await reviews.start_access_review(
            session,
            org_id=org.id,
            actor_id=org.users[org.user("ACCOUNT_ADMIN")],
            settings=settings,
        )
        return started.id


@pytest.mark.parametrize(
    ("actor", "held", "decision", "expected"),
    [
        ({OM}, {ST}, KEEP, OK),
        ({OM}, {ST}, REMOVE, OK),
        ({OM}, {FM}, REMOVE, OK),
        ({OM}, {OM}, KEEP, R6),  # keeping one is a decision about an office manager too
        ({OM}, {OM}, REMOVE, R6),
        ({OM}, {A}, KEEP, R6),
        ({OM}, {A}, REMOVE, R6),
        ({A}, {OM}, REMOVE, OK),
        ({A}, {A}, KEEP, OK),
        ({A}, {A}, REMOVE, OK),  # another admin stays
    ],
)
async def test_r6_an_office_manager_reviews_no_admin_or_office_manager(
    db: Database,
    settings: Settings,
    actor: set[RoleCode],
    held: set[RoleCode],
    decision: str,
    expected: Outcome,
) -> None:
    org, member = await org_with_member(db, held)
    review_id = await started(db, org, settings)
    assert await outcome(review(db, org, actor, review_id, member, decision)) == expected
    removed = expected is OK and decision == REMOVE
    assert await decision_of(db, review_id, member) == (decision if expected is OK else None)
    assert (await stored(db, member)).status == ("REMOVED" if removed else "ACTIVE")


# ---- R7: never below one active account administrator -----------------------------------------


async def sole_admin_leaves(db: Database, settings: Settings, org: Org, how: str) -> Outcome:
    admin = org.members[org.user("ACCOUNT_ADMIN")]
    if how == "removed in a review":
        review_id = await started(db, org, settings)
        return await outcome(review(db, org, {A}, review_id, admin, REMOVE))
    if how == "removed":
        return await outcome(remove(db, org, {A}, admin))
    wanted = {"demoted to staff": {ST}, "made office manager": {OM}, "left with no role": set()}
    access = given(wanted[how]) if how in wanted else given(None)
    return await outcome(change(db, org, {A}, admin, access))


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("demoted to staff", R7),
        ("made office manager", R7),
        ("left with no role", R7),
        ("removed", R7),
        ("removed in a review", R7),
        ("given other eTools", OK),  # still the admin: nothing for R7 to refuse
    ],
)
async def test_r7_the_only_admin_cannot_leave(
    db: Database, settings: Settings, how: str, expected: Outcome
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    assert await sole_admin_leaves(db, settings, org, how) == expected
    admin = await stored(db, org.members[org.user("ACCOUNT_ADMIN")])
    assert (admin.status, admin.roles) == ("ACTIVE", frozenset({A}))


async def test_r7_of_two_admins_one_may_go_and_then_the_other_may_not(db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
    first, second = (org.members[org.user("ACCOUNT_ADMIN", n)] for n in (1, 2))
    assert await outcome(change(db, org, {A}, first, given({ST}))) == OK
    assert await outcome(change(db, org, {A}, second, given({ST}))) == R7
    assert await outcome(remove(db, org, {A}, second)) == R7
    assert (await stored(db, first)).roles == {ST}
    assert await stored(db, second) == Stored("ACTIVE", frozenset({A}), EMPLOYEE)


async def test_r7_a_removed_admin_does_not_count(db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
    first, second = (org.members[org.user("ACCOUNT_ADMIN", n)] for n in (1, 2))
    assert await outcome(remove(db, org, {A}, first)) == OK
    assert (await stored(db, first)) == Stored("REMOVED", frozenset({A}), EMPLOYEE)
    assert await outcome(change(db, org, {A}, second, given({ST}))) == R7
    assert await outcome(remove(db, org, {A}, second)) == R7


async def test_r7_an_admin_of_another_organization_does_not_count(db: Database) -> None:
    """The same person administers two organizations: in the one where they are the only
    admin they must stay; in the one with another admin they may go."""
    alone, shared = await make_org(db), await make_org(db)
    person = alone.user("ACCOUNT_ADMIN")
    shared_membership = await add_membership(db, alone.users[person], shared, A)
    assert await outcome(change(db, alone, {A}, alone.members[person], given({ST}))) == R7
    assert await outcome(change(db, shared, {A}, shared_membership, given({ST}))) == OK
    assert (await stored(db, alone.members[person])).roles == {A}
    assert (await stored(db, shared_membership)).roles == {ST}
