"""Billing agencies (R11): inviteBillingAgency, respondToAgencyInvitation, assignAgencyStaff and
revokeAgencyGrant, and what agency users see because of them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import or_, select, text, update

from gateway.audit import has_object
from gateway.data.db import Database
from gateway.models import (
    AccessLogEntry,
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Membership,
)
from tests.support import JSON, Api, World, error_of
from tests.support.database import outbox_of
from tests.support.factories import Org, make_grant, make_org

GRANT_FIELDS = "id status createdAt decidedAt"
INVITE = f"""mutation Invite($org: ID!, $agency: ID!, $providers: [ID!]) {{
  inviteBillingAgency(organizationId: $org, agencyId: $agency, providerIds: $providers) {{
    {GRANT_FIELDS} providers {{ id }} }} }}"""
RESPOND = f"""mutation Respond($org: ID!, $grant: ID!, $accept: Boolean!) {{
  respondToAgencyInvitation(organizationId: $org, grantId: $grant, accept: $accept) {{
    {GRANT_FIELDS} }} }}"""
ASSIGN = f"""mutation Assign($org: ID!, $grant: ID!, $users: [ID!]!) {{
  assignAgencyStaff(organizationId: $org, grantId: $grant, userIds: $users) {{
    {GRANT_FIELDS} staff {{ username }} }} }}"""
REVOKE = f"""mutation Revoke($org: ID!, $grant: ID!) {{
  revokeAgencyGrant(organizationId: $org, grantId: $grant) {{ {GRANT_FIELDS} }} }}"""
CLIENT_VIEW = """query Client($id: ID!) { organization(id: $id) {
  id providers(first: 50) { edges { node { id } } } } }"""


# ---- helpers --------------------------------------------------------------------------------


async def make_agency(db: Database, **members: int) -> Org:
    """A billing agency with no providers; one admin and two agency users unless told."""
    roles = members or {"AGENCY_ADMIN": 1, "AGENCY_USER": 2}
    return await make_org(db, kind="BILLING_AGENCY", members=roles, providers=0)


async def make_client(db: Database) -> Org:
    return await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})


async def invite(
    api: Api, client: Org, actor: str, agency_id: int | str, providers: list[Any] | None = None
) -> JSON:
    variables = {"org": str(client.id), "agency": str(agency_id), "providers": providers}
    return await api.query(INVITE, as_user=actor, variables=variables)


async def respond(api: Api, agency: Org, actor: str, grant_id: str, *, accept: bool) -> JSON:
    variables = {"org": str(agency.id), "grant": grant_id, "accept": accept}
    return await api.query(RESPOND, as_user=actor, variables=variables)


async def assign(api: Api, agency: Org, actor: str, grant_id: str, users: list[str]) -> JSON:
    variables = {"org": str(agency.id), "grant": grant_id, "users": users}
    return await api.query(ASSIGN, as_user=actor, variables=variables)


async def revoke(api: Api, client: Org, actor: str, grant_id: str) -> JSON:
    variables = {"org": str(client.id), "grant": grant_id}
    return await api.query(REVOKE, as_user=actor, variables=variables)


async def grant_state(db: Database, grant_id: str) -> tuple[str, set[int], set[int]]:
    """The grant's status, staff user ids and provider limits, as stored."""
    async with db.session() as session:
        grant = await session.get(AgencyGrant, int(grant_id))
        assert grant is not None
        staff = await session.scalars(
            select(AgencyGrantStaff.user_id).where(AgencyGrantStaff.grant_id == grant.id)
        )
        providers = await session.scalars(
            select(AgencyGrantProvider.provider_id).where(AgencyGrantProvider.grant_id == grant.id)
        )
        return grant.status, set(staff), set(providers)


async def grants_between(db: Database, client: Org, agency: Org) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AgencyGrant.status).where(
                AgencyGrant.organization_id == client.id, AgencyGrant.agency_id == agency.id
            )
        )
        return list(rows)


async def recipients(db: Database, org: Org) -> list[str]:
    messages = await outbox_of(db, org)
    assert {(m.kind, m.channel) for m in messages} <= {("AGENCY_NOTICE", "EMAIL")}
    return [m.recipient for m in messages]


def email(username: str) -> str:
    return f"{username}@example.org"  # tests/support/factories.py gives every user this address


async def sees_client(api: Api, user: str, client: Org) -> list[str] | None:
    """The client's provider ids the user sees, or None if the client is NOT_FOUND for them."""
    body = await api.query(CLIENT_VIEW, as_user=user, variables={"id": str(client.id)})
    if body["data"]["organization"] is None:
        assert error_of(body) == ("NOT_FOUND", None)
        return None
    edges = body["data"]["organization"]["providers"]["edges"]
    return [edge["node"]["id"] for edge in edges]


# ---- who may call them at all: every caller of the fixture world, in either organization ------

INVITERS = {"admin", "office"}  # Sunrise's admin and office manager
AGENCY_MANAGERS = {"agencyadmin"}  # Summit's agency admin
CALLERS = [
    "admin", "office", "finance", "drsmith", "nurse", "frontdesk", "leaver", "chiroadmin",
    "canyonadmin", "agencyadmin", "biller", "auditor", "helpdesk", "secofficer", None,
]  # fmt: skip


async def world_grant(db: Database, world: World, client: str) -> str:
    async with db.session() as session:
        grant_id = await session.scalar(
            select(AgencyGrant.id).where(AgencyGrant.organization_id == world.orgs[client])
        )
    return str(grant_id)


@pytest.mark.parametrize("mutation", ["invite", "respond", "assign", "revoke"])
@pytest.mark.parametrize("acting_in", ["Sunrise Family Practice", "Summit Billing LLC"])
@pytest.mark.parametrize("caller", CALLERS)
async def test_who_may_call_the_agency_mutations(
    api: Api, db: Database, world: World, mutation: str, acting_in: str, caller: str | None
) -> None:
    """Only the caller's roles in the organization named by organizationId count: Sunrise's
    admins for invite and revoke, Summit's admin for respond and assign. An allowed caller
    reaches the domain, which refuses (nothing in the shared world changes); the others are
    refused before anything is read."""
    sunrise_grant = await world_grant(db, world, "Sunrise Family Practice")  # ACTIVE
    canyon_grant = await world_grant(db, world, "Canyon Dental")  # REVOKED
    org = world.org(acting_in)
    operations: dict[str, tuple[str, JSON, set[str], str, tuple[str, str | None]]] = {
        "invite": (INVITE, {"agency": world.org("Summit Billing LLC")}, INVITERS,
                   "Sunrise Family Practice", ("CONFLICT", "R11")),
        "revoke": (REVOKE, {"grant": canyon_grant}, INVITERS,
                   "Sunrise Family Practice", ("NOT_FOUND", None)),
        "respond": (RESPOND, {"grant": sunrise_grant, "accept": False}, AGENCY_MANAGERS,
                    "Summit Billing LLC", ("CONFLICT", "R11")),
        "assign": (ASSIGN, {"grant": canyon_grant, "users": []}, AGENCY_MANAGERS,
                   "Summit Billing LLC", ("CONFLICT", "R11")),
    }  # fmt: skip
    query, variables, allowed, owner, domain_answer = operations[mutation]
    body = await api.query(query, as_user=caller, variables={"org": org, **variables})
    if caller in allowed and acting_in == owner:
        assert error_of(body) == domain_answer
    else:
        refusal = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
        assert error_of(body) == (refusal, None)
    assert await grant_state(db, sunrise_grant) == (
        "ACTIVE",
        {world.users["biller"]},
        {world.providers["1000000001"]},
    )


# ---- the whole story through the real app ---------------------------------------------------


async def test_invited_accepted_assigned_then_revoked_on_the_agency_users_next_request(
    api: Api, db: Database
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    admin, agency_admin = client.user("ACCOUNT_ADMIN"), agency.user("AGENCY_ADMIN")
    biller, other_biller = agency.user("AGENCY_USER", 1), agency.user("AGENCY_USER", 2)
    granted = str(client.providers[1])

    invited = (await invite(api, client, admin, agency.id, [granted]))["data"]
    grant = invited["inviteBillingAgency"]
    assert (grant["status"], grant["decidedAt"], grant["providers"]) == (
        "REQUESTED",
        None,
        [{"id": granted}],
    )
    assert await recipients(db, agency) == [email(agency_admin)]
    assert await sees_client(api, biller, client) is None

    accepted = await respond(api, agency, agency_admin, grant["id"], accept=True)
    assert accepted["data"]["respondToAgencyInvitation"]["status"] == "ACTIVE"
    assert accepted["data"]["respondToAgencyInvitation"]["decidedAt"] is not None
    assert await recipients(db, client) == sorted(
        email(client.user(role)) for role in ("ACCOUNT_ADMIN", "OFFICE_MANAGER")
    )
    assert await sees_client(api, biller, client) is None  # active, but not assigned yet

    assigned = await assign(api, agency, agency_admin, grant["id"], [str(agency.users[biller])])
    assert assigned["data"]["assignAgencyStaff"]["staff"] == [{"username": biller}]
    assert await sees_client(api, biller, client) == [granted]  # only the granted provider
    assert await sees_client(api, other_biller, client) is None  # not assigned to this client

    revoked = await revoke(api, client, admin, grant["id"])
    assert revoked["data"]["revokeAgencyGrant"]["status"] == "REVOKED"
    assert await recipients(db, agency) == [email(agency_admin)] * 2
    assert await sees_client(api, biller, client) is None  # the very next request


async def test_a_grant_without_provider_limits_covers_every_provider(
    api: Api, db: Database
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant = (await invite(api, client, client.user("OFFICE_MANAGER"), agency.id))["data"]
    grant_id = grant["inviteBillingAgency"]["id"]
    assert grant["inviteBillingAgency"]["providers"] == []
    biller = agency.user("AGENCY_USER")
    await assign(api, agency, agency.user("AGENCY_ADMIN"), grant_id, [str(agency.users[biller])])
    assert await sees_client(api, biller, client) is None  # assigned, but not accepted yet
    await respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=True)
    assert await sees_client(api, biller, client) == [str(p) for p in client.providers]


# ---- inviting -------------------------------------------------------------------------------


async def test_the_agency_must_be_a_registered_billing_agency(api: Api, db: Database) -> None:
    """A missing id, a malformed one and an organization that is not an agency get one answer."""
    client, practice = await make_client(db), await make_org(db)
    messages = set()
    for agency_id in ("987654", "not-an-id", str(practice.id), str(client.id)):
        body = await invite(api, client, client.user("ACCOUNT_ADMIN"), agency_id)
        assert error_of(body) == ("NOT_FOUND", None)
        messages.add(body["errors"][0]["message"])
    assert len(messages) == 1
    assert await outbox_of(db, practice) == []


async def test_a_billing_agency_is_not_a_client_of_another_agency(api: Api, db: Database) -> None:
    agency, other = await make_agency(db, ACCOUNT_ADMIN=1), await make_agency(db)
    body = await invite(api, agency, agency.user("ACCOUNT_ADMIN"), other.id)
    assert error_of(body) == ("BAD_USER_INPUT", "R11")
    assert await grants_between(db, agency, other) == []


@pytest.mark.parametrize("status", ["REQUESTED", "ACTIVE"])
async def test_a_pending_or_active_grant_cannot_be_requested_again(
    api: Api, db: Database, status: str
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    await make_grant(db, client, agency, status)
    body = await invite(api, client, client.user("ACCOUNT_ADMIN"), agency.id)
    assert error_of(body) == ("CONFLICT", "R11")
    assert await grants_between(db, client, agency) == [status]
    assert await outbox_of(db, agency) == []


@pytest.mark.parametrize("status", ["DECLINED", "REVOKED"])
async def test_a_declined_or_revoked_grant_is_requested_afresh(
    api: Api, db: Database, status: str
) -> None:
    """The same grant goes back to REQUESTED with the new limits and nobody assigned: staff who
    worked for the client before gain nothing when the agency accepts again."""
    client, agency = await make_client(db), await make_agency(db)
    biller = agency.user("AGENCY_USER")
    grant_id = await make_grant(
        db, client, agency, status, staff=[biller], providers=[client.providers[0]]
    )
    body = await invite(api, client, client.user("ACCOUNT_ADMIN"), agency.id)
    grant = body["data"]["inviteBillingAgency"]
    assert (grant["id"], grant["status"], grant["decidedAt"]) == (grant_id, "REQUESTED", None)
    assert await grant_state(db, grant_id) == ("REQUESTED", set(), set())
    assert await recipients(db, agency) == [email(agency.user("AGENCY_ADMIN"))]
    await respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=True)
    assert await sees_client(api, biller, client) is None


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        ("other", ("BAD_USER_INPUT", "R11")),  # another organization's provider
        ("missing", ("BAD_USER_INPUT", "R11")),
        ("mixed", ("BAD_USER_INPUT", "R11")),  # one of the client's, one not
        ("none", ("BAD_USER_INPUT", "R11")),  # an empty list would grant nothing
        ("malformed", ("BAD_USER_INPUT", None)),
    ],
)
async def test_provider_limits_name_only_the_clients_providers(
    api: Api, db: Database, providers: str, expected: tuple[str, str | None]
) -> None:
    client, agency, other = await make_client(db), await make_agency(db), await make_org(db)
    ids = {
        "other": [str(other.providers[0])],
        "missing": ["987654"],
        "mixed": [str(client.providers[0]), str(other.providers[0])],
        "none": [],
        "malformed": ["x1"],
    }[providers]
    body = await invite(api, client, client.user("ACCOUNT_ADMIN"), agency.id, ids)
    assert error_of(body) == expected
    assert await grants_between(db, client, agency) == []
    assert await outbox_of(db, agency) == []


# ---- answering ------------------------------------------------------------------------------


async def test_declining_is_recorded_as_declined_and_tells_the_clients_admins(
    api: Api, db: Database
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, "REQUESTED")
    body = await respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=False)
    answer = body["data"]["respondToAgencyInvitation"]
    assert answer["status"] == "DECLINED" and answer["decidedAt"] is not None
    # The admin and the office manager are told; the client's staff are not.
    assert await recipients(db, client) == sorted(
        email(client.user(role)) for role in ("ACCOUNT_ADMIN", "OFFICE_MANAGER")
    )
    assert "declined" in (await outbox_of(db, client))[0].subject


@pytest.mark.parametrize("status", ["ACTIVE", "DECLINED", "REVOKED"])
@pytest.mark.parametrize("accept", [True, False])
async def test_only_a_pending_invitation_can_be_answered(
    api: Api, db: Database, status: str, accept: bool
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, status)
    body = await respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=accept)
    assert error_of(body) == ("CONFLICT", "R11")
    assert (await grant_state(db, grant_id))[0] == status
    assert await outbox_of(db, client) == []


async def test_a_grant_is_found_only_from_its_own_two_sides(api: Api, db: Database) -> None:
    """Another agency's admin, or another client's admin, naming their own organization, is
    told the grant does not exist."""
    client, agency = await make_client(db), await make_agency(db)
    other_client, other_agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, "REQUESTED")
    other_admin = other_agency.user("AGENCY_ADMIN")
    bodies = [
        await respond(api, other_agency, other_admin, grant_id, accept=True),
        await assign(api, other_agency, other_admin, grant_id, []),
        await revoke(api, other_client, other_client.user("ACCOUNT_ADMIN"), grant_id),
        await respond(api, agency, agency.user("AGENCY_ADMIN"), "987654", accept=True),
        await revoke(api, client, client.user("ACCOUNT_ADMIN"), "not-an-id"),
    ]
    assert [error_of(body) for body in bodies] == [("NOT_FOUND", None)] * 5
    assert await grant_state(db, grant_id) == ("REQUESTED", set(), set())


# ---- assigning staff ------------------------------------------------------------------------


async def test_assigning_replaces_the_clients_staff(api: Api, db: Database) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, "ACTIVE")
    admin = agency.user("AGENCY_ADMIN")
    first, second = agency.user("AGENCY_USER", 1), agency.user("AGENCY_USER", 2)
    ids = {user: str(agency.users[user]) for user in (first, second)}
    both = await assign(api, agency, admin, grant_id, [ids[first], ids[second]])
    assert both["data"]["assignAgencyStaff"]["staff"] == [{"username": first}, {"username": second}]
    only_second = await assign(api, agency, admin, grant_id, [ids[second]])
    assert only_second["data"]["assignAgencyStaff"]["staff"] == [{"username": second}]
    assert await sees_client(api, first, client) is None
    assert await sees_client(api, second, client) is not None
    nobody = await assign(api, agency, admin, grant_id, [])
    assert nobody["data"]["assignAgencyStaff"]["staff"] == []
    assert await sees_client(api, second, client) is None


@pytest.mark.parametrize(
    "candidate", ["client staff", "other agency's user", "agency admin", "removed", "missing"]
)
async def test_only_the_agencys_active_agency_users_can_be_assigned(
    api: Api, db: Database, candidate: str
) -> None:
    client, agency, other = await make_client(db), await make_agency(db), await make_agency(db)
    biller = agency.user("AGENCY_USER", 1)
    grant_id = await make_grant(db, client, agency, "ACTIVE", staff=[biller])
    removed = agency.user("AGENCY_USER", 2)
    async with db.transaction() as session:
        await session.execute(
            update(Membership)
            .where(Membership.id == agency.members[removed])
            .values(status="REMOVED")
        )
    user_id = {
        "client staff": client.users[client.user("STAFF")],
        "other agency's user": other.users[other.user("AGENCY_USER")],
        "agency admin": agency.users[agency.user("AGENCY_ADMIN")],  # holds no AGENCY_USER
        "removed": agency.users[removed],
        "missing": 987654,
    }[candidate]
    users = [str(agency.users[biller]), str(user_id)]
    body = await assign(api, agency, agency.user("AGENCY_ADMIN"), grant_id, users)
    assert error_of(body) == ("BAD_USER_INPUT", "R11")
    assert await grant_state(db, grant_id) == ("ACTIVE", {agency.users[biller]}, set())


async def test_a_malformed_user_id_is_bad_input(api: Api, db: Database) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, "ACTIVE")
    body = await assign(api, agency, agency.user("AGENCY_ADMIN"), grant_id, ["-1"])
    assert error_of(body) == ("BAD_USER_INPUT", None)


@pytest.mark.parametrize("status", ["DECLINED", "REVOKED"])
async def test_a_declined_or_revoked_grant_takes_no_staff(
    api: Api, db: Database, status: str
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, status)
    biller = str(agency.users[agency.user("AGENCY_USER")])
    body = await assign(api, agency, agency.user("AGENCY_ADMIN"), grant_id, [biller])
    assert error_of(body) == ("CONFLICT", "R11")
    assert await grant_state(db, grant_id) == (status, set(), set())


# ---- revoking -------------------------------------------------------------------------------


async def test_a_pending_invitation_can_be_withdrawn(api: Api, db: Database) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, "REQUESTED")
    body = await revoke(api, client, client.user("OFFICE_MANAGER"), grant_id)
    assert body["data"]["revokeAgencyGrant"]["status"] == "REVOKED"
    assert await recipients(db, agency) == [email(agency.user("AGENCY_ADMIN"))]
    late = await respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=True)
    assert error_of(late) == ("CONFLICT", "R11")


@pytest.mark.parametrize("status", ["DECLINED", "REVOKED"])
async def test_a_declined_or_revoked_grant_cannot_be_revoked(
    api: Api, db: Database, status: str
) -> None:
    client, agency = await make_client(db), await make_agency(db)
    grant_id = await make_grant(db, client, agency, status)
    body = await revoke(api, client, client.user("ACCOUNT_ADMIN"), grant_id)
    assert error_of(body) == ("CONFLICT", "R11")
    assert (await grant_state(db, grant_id))[0] == status
    assert await outbox_of(db, agency) == []


# ---- one transaction: the change, its notice and its access-log record ---------------------


@pytest.mark.parametrize("mutation", ["invite", "accept", "decline", "revoke"])
async def test_a_change_and_its_notice_commit_together_or_not_at_all(
    api: Api, db: Database, mutation: str
) -> None:
    """With the outbox unwritable, the decision fails and the grant is as it was."""
    client, agency = await make_client(db), await make_agency(db)
    status = {"invite": "DECLINED", "accept": "REQUESTED", "decline": "REQUESTED"}
    grant_id = await make_grant(db, client, agency, status.get(mutation, "ACTIVE"))
    before = await grant_state(db, grant_id)
    async with db.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE outbox_messages RENAME TO outbox_away"))
    try:
        if mutation == "invite":
            body = await invite(api, client, client.user("ACCOUNT_ADMIN"), agency.id)
        elif mutation == "revoke":
            body = await revoke(api, client, client.user("ACCOUNT_ADMIN"), grant_id)
        else:
            admin = agency.user("AGENCY_ADMIN")
            body = await respond(api, agency, admin, grant_id, accept=mutation == "accept")
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE outbox_away RENAME TO outbox_messages"))
    assert body["data"] is None or next(iter(body["data"].values())) is None
    assert await grant_state(db, grant_id) == before
    assert await outbox_of(db, client) == await outbox_of(db, agency) == []


async def test_each_mutation_and_refusal_is_in_the_access_log(api: Api, db: Database) -> None:
    client, agency = await make_client(db), await make_agency(db)
    admin, agency_admin = client.user("ACCOUNT_ADMIN"), agency.user("AGENCY_ADMIN")
    biller = agency.user("AGENCY_USER")
    grant_id = (await invite(api, client, admin, agency.id))["data"]["inviteBillingAgency"]["id"]
    await respond(api, agency, biller, grant_id, accept=True)  # denied by policy
    await respond(api, agency, agency_admin, grant_id, accept=True)
    await assign(api, agency, agency_admin, grant_id, [str(agency.users[biller])])
    await revoke(api, client, client.user("STAFF"), grant_id)  # denied by policy
    await revoke(api, client, admin, grant_id)
    await revoke(api, client, admin, grant_id)  # allowed by policy, refused by R11
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AccessLogEntry.objects, AccessLogEntry.field,
                       AccessLogEntry.action, AccessLogEntry.decision)
                .where(
                    AccessLogEntry.object_type == "Mutation",
                    or_(has_object(None, client.id), has_object(None, agency.id)),
                )
                .order_by(AccessLogEntry.seq)
            )
        ).all()  # fmt: skip
    assert [(objects, *rest) for objects, *rest in rows] == [
        ([[str(client.id), client.id]], "inviteBillingAgency", "write", "allow"),
        ([[grant_id, agency.id]], "respondToAgencyInvitation", "write", "deny"),
        ([[grant_id, agency.id]], "respondToAgencyInvitation", "write", "allow"),
        ([[grant_id, agency.id]], "assignAgencyStaff", "write", "allow"),
        ([[grant_id, client.id]], "revokeAgencyGrant", "write", "deny"),
        ([[grant_id, client.id]], "revokeAgencyGrant", "write", "allow"),
        ([[grant_id, client.id]], "revokeAgencyGrant", "write", "deny"),  # A1: R11's refusal
    ]


# ---- concurrency ----------------------------------------------------------------------------


async def test_a_revoke_racing_an_accept_always_ends_revoked(api: Api, db: Database) -> None:
    """The two lock different organizations and meet on the grant's row. Either order is fine:
    accepted-then-revoked, or revoked-then-refused; never ACTIVE after a reported revoke, and
    the notices match what happened. Truly concurrent requests, repeated."""
    for _ in range(8):
        client, agency = await make_client(db), await make_agency(db)
        biller = agency.user("AGENCY_USER")
        grant_id = await make_grant(db, client, agency, "REQUESTED", staff=[biller])
        accepted, revoked = await asyncio.gather(
            respond(api, agency, agency.user("AGENCY_ADMIN"), grant_id, accept=True),
            revoke(api, client, client.user("ACCOUNT_ADMIN"), grant_id),
        )
        assert revoked["data"]["revokeAgencyGrant"]["status"] == "REVOKED", revoked
        if "errors" in accepted:
            assert error_of(accepted) == ("CONFLICT", "R11")
        else:
            assert accepted["data"]["respondToAgencyInvitation"]["status"] == "ACTIVE"
        assert (await grant_state(db, grant_id))[0] == "REVOKED"
        told_client = 0 if "errors" in accepted else 2  # the admin and the office manager
        assert len(await outbox_of(db, client)) == told_client
        assert len(await outbox_of(db, agency)) == 1
        assert await sees_client(api, biller, client) is None


async def test_two_agency_admins_answering_at_once_make_one_decision(
    api: Api, db: Database
) -> None:
    for _ in range(8):
        client, agency = await make_client(db), await make_agency(db, AGENCY_ADMIN=2)
        grant_id = await make_grant(db, client, agency, "REQUESTED")
        bodies = await asyncio.gather(
            respond(api, agency, agency.user("AGENCY_ADMIN", 1), grant_id, accept=True),
            respond(api, agency, agency.user("AGENCY_ADMIN", 2), grant_id, accept=False),
        )
        winners = [i for i, body in enumerate(bodies) if "errors" not in body]
        assert len(winners) == 1, bodies
        assert error_of(bodies[1 - winners[0]]) == ("CONFLICT", "R11")
        assert (await grant_state(db, grant_id))[0] == ("ACTIVE", "DECLINED")[winners[0]]
        assert len(await outbox_of(db, client)) == 2  # one decision told, once


async def test_two_inviters_at_once_make_one_grant(api: Api, db: Database) -> None:
    for _ in range(8):
        client, agency = await make_client(db), await make_agency(db)
        bodies = await asyncio.gather(
            invite(api, client, client.user("ACCOUNT_ADMIN"), agency.id),
            invite(api, client, client.user("OFFICE_MANAGER"), agency.id),
        )
        assert sorted("errors" in body for body in bodies) == [False, True], bodies
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R11")
        assert await grants_between(db, client, agency) == ["REQUESTED"]
        assert len(await outbox_of(db, agency)) == 1
