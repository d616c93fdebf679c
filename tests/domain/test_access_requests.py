"""Access requests (R3): requestAccess, approveAccessRequest, denyAccessRequest, accessRequests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.data.db import Database
from gateway.models import (
    AccessLogEntry,
    AccessLogRequest,
    Membership,
    MembershipRole,
    Organization,
)
from tests.support import JSON, Api, World, error_of, errors_at, refusal_code, role_table
from tests.support.factories import Org, make_org, make_user

REQUEST = """mutation Request($providerId: String!, $tin: String!, $employment: Employment) {
  requestAccess(providerId: $providerId, tin: $tin, employment: $employment) {
    id status employment } }"""
APPROVE = """mutation Approve($org: ID!, $request: ID!, $input: MemberAccessInput!) {
  approveAccessRequest(organizationId: $org, requestId: $request, input: $input) {
    id status employment approvedAt approvedBy { username }
    roles { code } etools { code } providers { id } } }"""
DENY = """mutation Deny($org: ID!, $request: ID!) {
  denyAccessRequest(organizationId: $org, requestId: $request) { id status } }"""
PENDING = """query Pending($id: ID!) { organization(id: $id) {
  accessRequests { totalCount edges { node { id status employment user { username } } } } } }"""
SEE_ORG = "query See($id: ID!) { organization(id: $id) { id name } }"

_tins = itertools.count(900000001)


async def org_with_tin(db: Database, **kwargs: Any) -> tuple[Org, str]:
    """A factory organization registered with one tax ID of its own."""
    tin = f"{next(_tins):09}"
    return await make_org(db, tins=(tin,), **kwargs), tin


async def request(api: Api, user: str | None, provider_id: str, tin: str, **more: str) -> JSON:
    variables = {"providerId": provider_id, "tin": tin, **more}
    return await api.query(REQUEST, as_user=user, variables=variables)


async def requested(api: Api, user: str, org: Org, tin: str, **more: str) -> str:
    """The id of a fresh, successful request."""
    body = await request(api, user, org.provider_id, tin, **more)
    assert "errors" not in body, body
    request_id: str = body["data"]["requestAccess"]["id"]
    return request_id


async def approve(api: Api, org: Org, actor: str | None, request_id: str, **access: Any) -> JSON:
    variables = {"org": str(org.id), "request": request_id, "input": access}
    return await api.query(APPROVE, as_user=actor, variables=variables)


async def deny(api: Api, org: Org, actor: str | None, request_id: str) -> JSON:
    variables = {"org": str(org.id), "request": request_id}
    return await api.query(DENY, as_user=actor, variables=variables)


async def pending(api: Api, org: Org, actor: str) -> JSON:
    return await api.query(PENDING, as_user=actor, variables={"id": str(org.id)})


async def membership(db: Database, request_id: str) -> tuple[str, set[str], int | None]:
    """Status, roles and approver of a membership, as stored."""
    async with db.session() as session:
        row = await session.get(Membership, int(request_id))
        assert row is not None
        roles = set(
            await session.scalars(
                select(MembershipRole.role).where(MembershipRole.membership_id == row.id)
            )
        )
        return row.status, roles, row.approved_by_id


# ---- who may call them at all: every caller of the fixture world --------------------------------

CALLERS = role_table("admin", "office")


@pytest.mark.parametrize("mutation", [APPROVE, DENY])
@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_decide_sunrise_access_requests(
    api: Api, world: World, mutation: str, caller: str | None, allowed: bool
) -> None:
    """A caller the policy allows reaches the domain (NOT_FOUND for a missing request);
    everyone else is refused before anything is read."""
    variables: JSON = {"org": world.org("Sunrise Family Practice"), "request": "987654"}
    if mutation is APPROVE:
        variables["input"] = {"roles": ["STAFF"]}
    body = await api.query(mutation, as_user=caller, variables=variables)
    expected = "NOT_FOUND" if allowed else refusal_code(caller)
    assert error_of(body)[0] == expected


@pytest.mark.parametrize("caller", CALLERS)
async def test_any_signed_in_user_may_ask_for_access(api: Api, caller: str | None) -> None:
    """Allowed callers reach the domain (no organization matches this pair)."""
    body = await request(api, caller, "P-0000", "000000000")
    assert error_of(body) == (("NOT_FOUND", "R3") if caller else ("UNAUTHENTICATED", None))


SUNRISE_PENDING = {
    "admin": None, "office": None, "finance": "FORBIDDEN", "drsmith": "FORBIDDEN",
    "nurse": "FORBIDDEN", "frontdesk": "FORBIDDEN", "biller": "FORBIDDEN",
    "agencyadmin": "NOT_FOUND", "chiroadmin": "NOT_FOUND", "auditor": "FORBIDDEN",
    "helpdesk": "FORBIDDEN", "secofficer": "FORBIDDEN", "leaver": "NOT_FOUND",
    None: "UNAUTHENTICATED",
}  # fmt: skip


@pytest.mark.parametrize(("caller", "refusal"), SUNRISE_PENDING.items())
async def test_only_admins_and_office_managers_see_access_requests(
    api: Api, world: World, caller: str | None, refusal: str | None
) -> None:
    """V3: the payer's roles and the roster readers below admin see no pending requests."""
    variables = {"id": world.org("Sunrise Family Practice")}
    body = await api.query(PENDING, as_user=caller, variables=variables)
    organization = body["data"]["organization"]
    if refusal is None:
        assert "errors" not in body, body
        assert organization["accessRequests"]["edges"] == []
        return
    (error,) = body["errors"]
    assert error["extensions"]["code"] == refusal
    assert organization is None or organization["accessRequests"] is None


# ---- R3: a wrong pair reveals nothing --------------------------------------------------------


async def test_a_wrong_pair_gets_one_answer_whichever_part_was_wrong(
    api: Api, db: Database
) -> None:
    org, tin = await org_with_tin(db)
    other, other_tin = await org_with_tin(db)
    suspended, suspended_tin = await org_with_tin(db)
    async with db.transaction() as session:
        await session.execute(
            update(Organization).where(Organization.id == suspended.id).values(status="SUSPENDED")
        )
    user, user_id = await make_user(db)
    wrong_pairs = [
        ("P-NOSUCH", tin),  # unknown provider ID, a real TIN
        (org.provider_id, "999999999"),  # real provider ID, unknown TIN
        ("P-NOSUCH", "999999999"),  # both wrong
        (org.provider_id, other_tin),  # both real, of different organizations
        (other.provider_id, tin),
        (suspended.provider_id, suspended_tin),  # right pair, but not an active account
    ]
    bodies = [await request(api, user, p, t) for p, t in wrong_pairs]
    assert bodies[0]["errors"][0]["extensions"] == {"code": "NOT_FOUND", "rule": "R3"}
    assert all(body == bodies[0] for body in bodies)  # data, message, path, extensions
    async with db.session() as session:
        rows = await session.scalars(select(Membership).where(Membership.user_id == user_id))
        assert list(rows) == []


async def test_a_malformed_tax_id_is_bad_input_and_dashes_are_accepted(
    api: Api, db: Database
) -> None:
    org, tin = await org_with_tin(db)
    user, _ = await make_user(db)
    assert error_of(await request(api, user, org.provider_id, "12345")) == ("BAD_USER_INPUT", None)
    dashed = f"{tin[:2]}-{tin[2:]}"
    body = await request(api, user, f" {org.provider_id} ", dashed)
    assert body["data"]["requestAccess"]["status"] == "REQUESTED"


# ---- happy paths --------------------------------------------------------------------------------


async def test_approved_requester_becomes_a_member_with_the_granted_access(
    api: Api, db: Database
) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    user, _ = await make_user(db)
    body = await request(api, user, org.provider_id, tin)
    request_id = body["data"]["requestAccess"]["id"]
    assert body["data"]["requestAccess"] == {
        "id": request_id,
        "status": "REQUESTED",
        "employment": "EMPLOYEE",
    }
    assert error_of(await api.query(SEE_ORG, as_user=user, variables={"id": str(org.id)})) == (
        "NOT_FOUND",
        None,
    )
    listed = await pending(api, org, admin)
    assert listed["data"]["organization"]["accessRequests"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "id": request_id,
                    "status": "REQUESTED",
                    "employment": "EMPLOYEE",
                    "user": {"username": user},
                }
            }
        ],
    }
    assert errors_at(await pending(api, org, staff), ["organization", "accessRequests"])
    approved = await approve(
        api,
        org,
        admin,
        request_id,
        roles=["CLINICAL_STAFF"],
        etools=["CARELON"],
        providerIds=[str(org.providers[1])],
    )
    member = approved["data"]["approveAccessRequest"]
    assert member["approvedAt"] is not None
    assert {k: v for k, v in member.items() if k != "approvedAt"} == {
        "id": request_id,
        "status": "ACTIVE",
        "employment": "EMPLOYEE",
        "approvedBy": {"username": admin},
        "roles": [{"code": "CLINICAL_STAFF"}],
        "etools": [{"code": "CARELON"}],
        "providers": [{"id": str(org.providers[1])}],
    }
    seen = await api.query(SEE_ORG, as_user=user, variables={"id": str(org.id)})
    assert seen["data"]["organization"]["id"] == str(org.id)
    after = await pending(api, org, admin)
    assert after["data"]["organization"]["accessRequests"]["totalCount"] == 0


async def test_the_requester_learns_nothing_of_the_organization_before_approval(
    api: Api, db: Database
) -> None:
    org, tin = await org_with_tin(db)
    user, _ = await make_user(db)
    await requested(api, user, org, tin)
    fields = await api.query('{ __type(name: "AccessRequest") { fields { name } } }', as_user=user)
    names = {f["name"] for f in fields["data"]["__type"]["fields"]}
    assert names == {"id", "status", "employment"}
    own = await api.query(
        "{ me { memberships { status organization { id name providerId } } } }", as_user=user
    )
    (mine,) = own["data"]["me"]["memberships"]
    assert mine == {"status": "REQUESTED", "organization": None}
    assert {e["extensions"]["code"] for e in own["errors"]} == {"FORBIDDEN"}


async def test_denied_requester_stays_out_and_may_ask_again(api: Api, db: Database) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1})
    user, _ = await make_user(db)
    request_id = await requested(api, user, org, tin)
    denied = await deny(api, org, org.user("OFFICE_MANAGER"), request_id)
    assert denied["data"]["denyAccessRequest"] == {"id": request_id, "status": "DENIED"}
    seen = await api.query(SEE_ORG, as_user=user, variables={"id": str(org.id)})
    assert error_of(seen) == ("NOT_FOUND", None)
    listed = await pending(api, org, org.user("ACCOUNT_ADMIN"))
    assert listed["data"]["organization"]["accessRequests"]["totalCount"] == 0
    again = await request(api, user, org.provider_id, tin, employment="THIRD_PARTY")
    assert again["data"]["requestAccess"] == {
        "id": request_id,  # the same membership, asked again
        "status": "REQUESTED",
        "employment": "THIRD_PARTY",
    }


async def test_asking_twice_or_as_a_member_is_a_conflict(api: Api, db: Database) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1})
    user, _ = await make_user(db)
    await requested(api, user, org, tin)
    assert error_of(await request(api, user, org.provider_id, tin)) == ("CONFLICT", "R3")
    member = await request(api, org.user("ACCOUNT_ADMIN"), org.provider_id, tin)
    assert error_of(member) == ("CONFLICT", "R3")


async def test_a_removed_member_asks_again_and_is_approved_with_new_access_only(
    api: Api, db: Database
) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    removed = await api.query(
        "mutation($o: ID!, $m: ID!) { removeMember(organizationId: $o, membershipId: $m) { id } }",
        as_user=admin,
        variables={"o": str(org.id), "m": str(org.members[staff])},
    )
    assert "errors" not in removed, removed
    request_id = await requested(api, staff, org, tin)
    assert request_id == str(org.members[staff])
    body = await approve(api, org, admin, request_id, roles=["PROVIDER"])
    member = body["data"]["approveAccessRequest"]
    assert (member["roles"], member["etools"], member["providers"]) == (
        [{"code": "PROVIDER"}],
        [],
        [],
    )


async def test_a_decided_or_foreign_request_cannot_be_decided(api: Api, db: Database) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1})
    other, other_tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1})
    admin = org.user("ACCOUNT_ADMIN")
    user, _ = await make_user(db)
    request_id = await requested(api, user, org, tin)
    foreign_id = await requested(api, user, other, other_tin)
    assert error_of(await approve(api, org, admin, foreign_id, roles=["STAFF"])) == (
        "NOT_FOUND",
        None,
    )
    assert error_of(await deny(api, org, admin, "not-an-id")) == ("NOT_FOUND", None)
    assert "errors" not in await deny(api, org, admin, request_id)
    assert error_of(await approve(api, org, admin, request_id, roles=["STAFF"])) == (
        "CONFLICT",
        "R3",
    )
    assert error_of(await deny(api, org, admin, request_id)) == ("CONFLICT", "R3")
    member = str(org.members[admin])  # an active membership is no pending request
    assert error_of(await deny(api, org, admin, member)) == ("CONFLICT", "R3")


# ---- the rules of approval ----------------------------------------------------------------------


ADMIN, MANAGER = "ACCOUNT_ADMIN", "OFFICE_MANAGER"
GP, EMP, TP = "GROUP_PRACTICE", "EMPLOYEE", "THIRD_PARTY"
APPROVALS = [
    # approver, organization kind, requested as, access granted, the rule it breaks
    (ADMIN, GP, EMP, {"roles": [MANAGER]}, None),
    (MANAGER, GP, EMP, {"roles": ["STAFF"]}, None),
    (MANAGER, GP, EMP, {"roles": [MANAGER]}, "R6"),
    (MANAGER, GP, EMP, {"roles": [ADMIN]}, "R6"),
    (ADMIN, GP, TP, {"roles": ["FINANCIAL_MANAGER"]}, "R4"),
    (ADMIN, GP, EMP, {"roles": [ADMIN], "employment": TP}, "R4"),
    (ADMIN, GP, TP, {"roles": ["STAFF"]}, None),
    (ADMIN, GP, TP, {"roles": ["FINANCIAL_MANAGER"], "employment": EMP}, None),
    (ADMIN, GP, EMP, {"roles": ["FINANCIAL_MANAGER", "STAFF"]}, "R5"),
    (ADMIN, GP, EMP, {"roles": ["FINANCIAL_MANAGER"]}, None),
    (ADMIN, GP, EMP, {"roles": ["STAFF"], "etools": ["CHIROPRACTIC_AUTH"]}, "R9"),
    (ADMIN, "CHIROPRACTIC", EMP, {"roles": ["STAFF"], "etools": ["CHIROPRACTIC_AUTH"]}, None),
    (ADMIN, GP, EMP, {"roles": ["AGENCY_USER"]}, "R11"),
    (ADMIN, "BILLING_AGENCY", EMP, {"roles": ["STAFF"]}, "R11"),
    (ADMIN, GP, EMP, {"roles": ["PAYER_AUDITOR"]}, "R4"),
    (ADMIN, GP, EMP, {"roles": []}, "R3"),
    (ADMIN, GP, EMP, {"etools": ["CARELON"]}, "R3"),  # approving needs at least one role
]


@pytest.mark.parametrize(("actor", "kind", "employment", "access", "rule"), APPROVALS)
async def test_approval_follows_the_rules_of_access(
    api: Api,
    db: Database,
    actor: str,
    kind: str,
    employment: str,
    access: JSON,
    rule: str | None,
) -> None:
    org, tin = await org_with_tin(db, kind=kind, members={"ACCOUNT_ADMIN": 1, actor: 1})
    user, _ = await make_user(db)
    request_id = await requested(api, user, org, tin, employment=employment)
    body = await approve(api, org, org.user(actor), request_id, **access)
    if rule is None:
        assert body["data"]["approveAccessRequest"]["status"] == "ACTIVE", body
        return
    code = "FORBIDDEN" if rule == "R6" else "BAD_USER_INPUT"
    assert error_of(body) == (code, rule)
    assert await membership(db, request_id) == ("REQUESTED", set(), None)  # nothing changed


async def test_providers_of_another_organization_are_refused(api: Api, db: Database) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1})
    other = await make_org(db)
    user, _ = await make_user(db)
    request_id = await requested(api, user, org, tin)
    body = await approve(
        api,
        org,
        org.user("ACCOUNT_ADMIN"),
        request_id,
        roles=["STAFF"],
        etools=["CARELON"],
        providerIds=[str(other.providers[0])],
    )
    assert error_of(body) == ("BAD_USER_INPUT", "V4")
    assert await membership(db, request_id) == ("REQUESTED", set(), None)


# ---- the access log -------------------------------------------------------------------------


async def test_requests_and_decisions_are_in_the_access_log(api: Api, db: Database) -> None:
    org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    user, _ = await make_user(db)
    request_id = await requested(api, user, org, tin)
    await approve(api, org, staff, request_id, roles=["STAFF"])  # denied by policy
    await deny(api, org, staff, request_id)  # denied by policy
    await approve(api, org, admin, request_id, roles=["STAFF"])
    await deny(api, org, admin, request_id)  # allowed by policy, refused by R3
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    AccessLogRequest.username,
                    AccessLogEntry.objects,
                    AccessLogEntry.field,
                    AccessLogEntry.action,
                    AccessLogEntry.decision,
                )
                .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
                .where(
                    AccessLogEntry.object_type == "Mutation",
                    AccessLogRequest.username.in_([user, admin, staff]),
                )
                .order_by(AccessLogEntry.seq)
            )
        ).all()
    the_request = [[request_id, org.id]]  # the request decided on, filed under the office
    assert [tuple(r) for r in rows] == [
        (user, [[None, None]], "requestAccess", "write", "allow"),  # in no organization yet
        (staff, the_request, "approveAccessRequest", "write", "deny"),
        (staff, the_request, "denyAccessRequest", "write", "deny"),
        (admin, the_request, "approveAccessRequest", "write", "allow"),
        (admin, the_request, "denyAccessRequest", "write", "deny"),  # A1: R3's refusal
    ]


# ---- concurrency: one decision wins (R3) ----------------------------------------------------


@pytest.mark.parametrize("second", ["approve", "deny"])
async def test_two_admins_deciding_at_once_make_exactly_one_decision(
    api: Api, db: Database, second: str
) -> None:
    """Truly concurrent requests (separate connections), repeated to catch a race."""
    for _ in range(8):
        org, tin = await org_with_tin(db, members={"ACCOUNT_ADMIN": 2})
        first_admin, second_admin = org.user("ACCOUNT_ADMIN", 1), org.user("ACCOUNT_ADMIN", 2)
        user, _ = await make_user(db)
        request_id = await requested(api, user, org, tin)
        racing = (
            approve(api, org, second_admin, request_id, roles=["CLINICAL_STAFF"])
            if second == "approve"
            else deny(api, org, second_admin, request_id)
        )
        bodies = await asyncio.gather(
            approve(api, org, first_admin, request_id, roles=["STAFF"]), racing
        )
        winners = [i for i, body in enumerate(bodies) if "errors" not in body]
        assert len(winners) == 1, bodies
        assert error_of(bodies[1 - winners[0]]) == ("CONFLICT", "R3")
        outcomes = {
            0: ("ACTIVE", {"STAFF"}, org.users[first_admin]),
            1: ("ACTIVE", {"CLINICAL_STAFF"}, org.users[second_admin])
            if second == "approve"
            else ("DENIED", set(), None),
        }
        assert await membership(db, request_id) == outcomes[winners[0]]


async def test_asking_twice_at_once_makes_one_request(api: Api, db: Database) -> None:
    for _ in range(8):
        org, tin = await org_with_tin(db)
        user, user_id = await make_user(db)
        bodies = await asyncio.gather(
            request(api, user, org.provider_id, tin), request(api, user, org.provider_id, tin)
        )
        assert sorted("errors" in body for body in bodies) == [False, True], bodies
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R3")
        async with db.session() as session:
            rows = list(
                await session.scalars(select(Membership).where(Membership.user_id == user_id))
            )
        assert [row.status for row in rows] == ["REQUESTED"]
