"""Member administration: updateMemberAccess and removeMember under R4-R9."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from gateway.audit import has_object
from gateway.data.db import Database
from gateway.models import AccessLogEntry, Membership, MembershipEtool, MembershipRole
from tests.support import JSON, Api, World, error_of, refusal_code, role_table
from tests.support.factories import Org, make_org

UPDATE = """mutation Update($org: ID!, $member: ID!, $input: MemberAccessInput!) {
  updateMemberAccess(organizationId: $org, membershipId: $member, input: $input) {
    id roles { code } etools { code } providers { id } employment } }"""
REMOVE = """mutation Remove($org: ID!, $member: ID!) {
  removeMember(organizationId: $org, membershipId: $member) { id status } }"""


async def update(api: Api, org: Org, actor: str, member: str, **access: Any) -> JSON:
    variables = {"org": str(org.id), "member": str(org.members[member]), "input": access}
    return await api.query(UPDATE, as_user=actor, variables=variables)


async def remove(api: Api, org: Org, actor: str, member: str) -> JSON:
    variables = {"org": str(org.id), "member": str(org.members[member])}
    return await api.query(REMOVE, as_user=actor, variables=variables)


async def roles_in_db(db: Database, membership_id: int) -> set[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(MembershipRole.role).where(MembershipRole.membership_id == membership_id)
        )
        return set(rows)


# ---- who may call them at all: every role of the fixture world --------------------------------

CALLERS = role_table("admin", "office")


@pytest.mark.parametrize("mutation", [UPDATE, REMOVE])
@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_administer_sunrise_members(
    api: Api, world: World, mutation: str, caller: str | None, allowed: bool
) -> None:
    """A caller the policy allows reaches the domain (here: NOT_FOUND for a missing member);
    everyone else is refused before anything is read."""
    variables: JSON = {"org": world.org("Sunrise Family Practice"), "member": "987654"}
    if mutation is UPDATE:
        variables["input"] = {"etools": []}
    body = await api.query(mutation, as_user=caller, variables=variables)
    (error,) = body["errors"]
    expected = "NOT_FOUND" if allowed else refusal_code(caller)
    assert error["extensions"]["code"] == expected


# ---- the rules ----------------------------------------------------------------------------------


async def test_admin_changes_a_members_roles_etools_and_providers(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    body = await update(
        api,
        org,
        admin,
        staff,
        roles=["CLINICAL_STAFF"],
        etools=["CARELON"],
        providerIds=[str(org.providers[1])],
    )
    assert body["data"]["updateMemberAccess"] == {
        "id": str(org.members[staff]),
        "roles": [{"code": "CLINICAL_STAFF"}],
        "etools": [{"code": "CARELON"}],
        "providers": [{"id": str(org.providers[1])}],
        "employment": "EMPLOYEE",
    }


async def test_office_manager_manages_staff_but_not_admins(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    manager, staff, admin = (
        org.user("OFFICE_MANAGER"),
        org.user("STAFF"),
        org.user("ACCOUNT_ADMIN"),
    )
    ok = await update(api, org, manager, staff, etools=["AUTHORIZATION_MANAGER"])
    assert ok["data"]["updateMemberAccess"]["etools"] == [{"code": "AUTHORIZATION_MANAGER"}]
    promote = await update(api, org, manager, staff, roles=["OFFICE_MANAGER"])
    assert error_of(promote) == ("FORBIDDEN", "R6")
    assert error_of(await remove(api, org, manager, admin)) == ("FORBIDDEN", "R6")
    assert await roles_in_db(db, org.members[staff]) == {"STAFF"}


async def test_admin_upgrades_a_member_to_admin(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    body = await update(
        api, org, org.user("ACCOUNT_ADMIN"), org.user("STAFF"), roles=["ACCOUNT_ADMIN"]
    )
    assert body["data"]["updateMemberAccess"]["roles"] == [{"code": "ACCOUNT_ADMIN"}]


@pytest.mark.parametrize(
    ("access", "employment", "kind", "rule"),
    [
        ({"roles": ["OFFICE_MANAGER"]}, "THIRD_PARTY", "GROUP_PRACTICE", "R4"),
        ({"roles": ["FINANCIAL_MANAGER"]}, "THIRD_PARTY", "GROUP_PRACTICE", "R4"),
        ({"roles": ["STAFF"], "employment": "THIRD_PARTY"}, "EMPLOYEE", "GROUP_PRACTICE", None),
        ({"roles": ["FINANCIAL_MANAGER", "STAFF"]}, "EMPLOYEE", "GROUP_PRACTICE", "R5"),
        ({"roles": ["FINANCIAL_MANAGER"]}, "EMPLOYEE", "GROUP_PRACTICE", None),
        ({"etools": ["CHIROPRACTIC_AUTH"]}, "EMPLOYEE", "GROUP_PRACTICE", "R9"),
        ({"etools": ["CHIROPRACTIC_AUTH"]}, "EMPLOYEE", "CHIROPRACTIC", None),
        ({"roles": ["AGENCY_USER"]}, "EMPLOYEE", "GROUP_PRACTICE", "R11"),
        ({"roles": ["PAYER_AUDITOR"]}, "EMPLOYEE", "GROUP_PRACTICE", "R4"),
    ],
)
async def test_role_and_etool_rules(
    api: Api, db: Database, access: JSON, employment: str, kind: str, rule: str | None
) -> None:
    org = await make_org(db, kind=kind, members={"ACCOUNT_ADMIN": 1})
    staff_org = await make_org(db, kind=kind, members={"STAFF": 1}, employment=employment)
    # Move the staff member into the admin's organization with the requested employment.
    member = await _adopt(db, org, staff_org)
    body = await update(api, org, org.user("ACCOUNT_ADMIN"), member, **access)
    if rule is None:
        assert "errors" not in body, body
    else:
        assert error_of(body) == ("BAD_USER_INPUT", rule)
        assert await roles_in_db(db, org.members[member]) == {"STAFF"}


async def _adopt(db: Database, org: Org, other: Org) -> str:
    (username,) = other.members
    async with db.transaction() as session:
        membership = await session.get(Membership, other.members[username])
        assert membership is not None
        membership.organization_id = org.id
        await session.execute(
            delete(MembershipEtool).where(MembershipEtool.membership_id == membership.id)
        )
    org.members[username] = other.members[username]
    return username


async def test_providers_of_another_organization_are_refused_and_nothing_changes(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    other = await make_org(db)
    body = await update(
        api,
        org,
        org.user("ACCOUNT_ADMIN"),
        org.user("STAFF"),
        roles=["CLINICAL_STAFF"],
        etools=["CARELON"],
        providerIds=[str(other.providers[0])],
    )
    assert error_of(body) == ("BAD_USER_INPUT", "V4")
    assert await roles_in_db(db, org.members[org.user("STAFF")]) == {"STAFF"}
    async with db.session() as session:
        etools = set(await session.scalars(
            select(MembershipEtool.etool).where(
                MembershipEtool.membership_id == org.members[org.user("STAFF")]
            )
        ))  # fmt: skip
    assert etools == {"ONLINE_SERVICES"}  # the transaction left no half-applied change


async def test_the_last_admin_can_neither_leave_nor_be_demoted(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    admin = org.user("ACCOUNT_ADMIN")
    assert error_of(await remove(api, org, admin, admin)) == ("CONFLICT", "R7")
    assert error_of(await update(api, org, admin, admin, roles=["STAFF"])) == ("CONFLICT", "R7")
    assert await roles_in_db(db, org.members[admin]) == {"ACCOUNT_ADMIN"}


async def test_removed_member_loses_access_on_the_next_request_but_history_stays(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    staff = org.user("STAFF")
    query = "query($id: ID!) { organization(id: $id) { id } }"
    before = await api.query(query, as_user=staff, variables={"id": str(org.id)})
    assert before["data"]["organization"] == {"id": str(org.id)}
    body = await remove(api, org, org.user("ACCOUNT_ADMIN"), staff)
    assert body["data"]["removeMember"] == {"id": str(org.members[staff]), "status": "REMOVED"}
    after = await api.query(query, as_user=staff, variables={"id": str(org.id)})
    assert after["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await roles_in_db(db, org.members[staff]) == {"STAFF"}  # what they had is kept


async def test_mutations_and_refusals_are_in_the_access_log(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    await update(api, org, admin, staff, etools=["CARELON"])
    await remove(api, org, staff, admin)  # staff may not: denied by policy
    await remove(api, org, admin, admin)  # allowed by policy, refused by R7
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AccessLogEntry.field, AccessLogEntry.action, AccessLogEntry.decision)
                .where(AccessLogEntry.object_type == "Mutation", has_object(None, org.id))
                .order_by(AccessLogEntry.seq)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("updateMemberAccess", "write", "allow"),
        ("removeMember", "write", "deny"),
        ("removeMember", "write", "deny"),  # A1: the outcome, R7's refusal
    ]


# ---- concurrency --------------------------------------------------------------------------------


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    api: Api, db: Database
) -> None:
    """R7 under truly concurrent requests (separate connections), repeated to catch a race."""
    for _ in range(8):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 2})
        first, second = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
        bodies = await asyncio.gather(
            update(api, org, first, second, roles=["STAFF"]),
            update(api, org, second, first, roles=["STAFF"]),
        )
        outcomes = sorted("errors" in body for body in bodies)
        assert outcomes == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) in {
            ("CONFLICT", "R7"),
            ("FORBIDDEN", None),  # the loser may already be demoted
        }
        async with db.session() as session:
            admins = await session.scalar(
                select(func.count())
                .select_from(MembershipRole)
                .join(Membership, Membership.id == MembershipRole.membership_id)
                .where(Membership.organization_id == org.id, MembershipRole.role == "ACCOUNT_ADMIN")
            )
        assert admins == 1
