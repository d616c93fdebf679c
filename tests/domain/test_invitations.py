"""Invitations to register (R2): inviteUser, resendInvitation, revokeInvitation and the list."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from gateway.data.db import Database
from gateway.domain.invitations import (
    accept_invitation,
    effective_status,
    hash_token,
    invite_user,
)
from gateway.errors import Conflict, NotFound
from gateway.models import Invitation, OutboxMessage, utcnow
from gateway.settings import Settings
from tests.support import JSON, Api, World, error_of, errors_at, role_table
from tests.support.database import outbox_of
from tests.support.factories import Org, make_org, request_for

INVITE = """mutation Invite($org: ID!, $input: InviteUserInput!) {
  inviteUser(organizationId: $org, input: $input) {
    id name email kind status createdAt expiresAt resentCount invitedBy { username } } }"""
RESEND = """mutation Resend($org: ID!, $invitation: ID!) {
  resendInvitation(organizationId: $org, invitationId: $invitation) {
    id status expiresAt resentCount } }"""
REVOKE = """mutation Revoke($org: ID!, $invitation: ID!) {
  revokeInvitation(organizationId: $org, invitationId: $invitation) { id status } }"""
INVITATIONS = """query Invitations($org: ID!) { organization(id: $org) {
  invitations(first: 50) { edges { node { id name email kind status invitedBy { username } } } }
} }"""
TOKEN = re.compile(r"[?&]invitation=([A-Za-z0-9_-]+)")


def invitation_input(email: str, confirmation: str | None = None, **more: str) -> JSON:
    fields = {"name": "Jane Doe", "email": email, "kind": "OFFICE_STAFF", **more}
    return {**fields, "emailConfirmation": email if confirmation is None else confirmation}


async def invite(api: Api, org: Org, actor: str, email: str, **more: Any) -> JSON:
    variables = {"org": str(org.id), "input": invitation_input(email, **more)}
    return await api.query(INVITE, as_user=actor, variables=variables)


async def resend(api: Api, org: Org, actor: str, invitation_id: str) -> JSON:
    variables = {"org": str(org.id), "invitation": invitation_id}
    return await api.query(RESEND, as_user=actor, variables=variables)


async def revoke(api: Api, org: Org, actor: str, invitation_id: str) -> JSON:
    variables = {"org": str(org.id), "invitation": invitation_id}
    return await api.query(REVOKE, as_user=actor, variables=variables)


async def invitations_of(db: Database, org: Org) -> list[Invitation]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Invitation).where(Invitation.organization_id == org.id).order_by(Invitation.id)
        )
        return list(rows)


def token_in(message: OutboxMessage) -> str:
    match = TOKEN.search(message.body)
    assert match is not None, message.body
    return match.group(1)


async def accept(db: Database, token: str, user_id: int, **now: Any) -> Invitation:
    async with db.transaction() as session:
        return await accept_invitation(session, token=token, user_id=user_id, **now)


# ---- who may call them at all: every role of the fixture world --------------------------------

CALLERS = role_table("admin", "office")


@pytest.mark.parametrize("mutation", [INVITE, RESEND, REVOKE])
@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_manage_sunrise_invitations(
    api: Api, world: World, mutation: str, caller: str | None, allowed: bool
) -> None:
    """A caller the policy allows reaches the domain (here: a mismatched confirmation, or a
    missing invitation) and changes nothing; everyone else is refused before anything is read."""
    variables: JSON = {"org": world.org("Sunrise Family Practice")}
    if mutation is INVITE:
        variables["input"] = invitation_input("new@sunrise.example.org", "other@example.org")
        domain_answer = "BAD_USER_INPUT"
    else:
        variables["invitation"] = "987654"
        domain_answer = "NOT_FOUND"
    body = await api.query(mutation, as_user=caller, variables=variables)
    (error,) = body["errors"]
    refusal = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    assert error["extensions"]["code"] == (domain_answer if allowed else refusal)


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [("admin", True), ("office", True), ("finance", False), ("drsmith", False),
     ("nurse", False), ("frontdesk", False), ("biller", False), ("auditor", False),
     ("helpdesk", False), ("chiroadmin", False)],
)  # fmt: skip
async def test_who_may_read_sunrise_invitations(
    api: Api, world: World, caller: str, allowed: bool
) -> None:
    """V3: the invitations list is for admins and office managers only."""
    body = await api.query(
        INVITATIONS, as_user=caller, variables={"org": world.org("Sunrise Family Practice")}
    )
    errors = errors_at(body, ["organization", "invitations"])
    if allowed:
        assert errors == []
    elif body["data"]["organization"] is None:  # V1: not even the organization
        assert errors_at(body, ["organization"])[0]["extensions"]["code"] == "NOT_FOUND"
    else:
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


# ---- inviting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ACCOUNT_ADMIN", "OFFICE_MANAGER"])
async def test_inviting_records_the_invitation_and_queues_its_email(
    api: Api, db: Database, role: str
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1})
    actor = org.user(role)
    body = await invite(api, org, actor, "Jane.Doe+portal@Example.org", kind="PROVIDER")
    invited = body["data"]["inviteUser"]
    assert {k: invited[k] for k in ("name", "email", "kind", "status", "resentCount")} == {
        "name": "Jane Doe",
        "email": "Jane.Doe+portal@Example.org",
        "kind": "PROVIDER",
        "status": "PENDING",
        "resentCount": 0,
    }
    assert invited["invitedBy"] == {"username": actor}
    (invitation,) = await invitations_of(db, org)
    email, copy = await outbox_of(db, org)
    assert (email.kind, email.channel, email.status) == ("INVITATION", "EMAIL", "PENDING")
    assert email.recipient == "Jane.Doe+portal@Example.org"
    token = token_in(email)
    assert invitation.token_hash == hash_token(token) != token  # only the hash is stored
    # Seed 001: the inviter gets a copy, but not the link (the token is the invitee's alone).
    assert (copy.kind, copy.recipient) == ("INVITATION_COPY", f"{actor}@example.org")
    assert token not in copy.body and "Jane.Doe+portal@Example.org" in copy.body


@pytest.mark.parametrize(
    ("email", "confirmation", "expected"),
    [
        ("jane@example.org", "jane@example.com", ("BAD_USER_INPUT", "R2")),
        ("jane@example.org", "", ("BAD_USER_INPUT", "R2")),
        ("jane@example.org", " JANE@Example.ORG ", None),  # the same address, typed again
        ("jane+a@example.org", "jane@example.org", ("BAD_USER_INPUT", "R2")),  # seed 003
        ("jane@example", "jane@example", ("BAD_USER_INPUT", None)),
        ("jane example.org", "jane example.org", ("BAD_USER_INPUT", None)),
        ("jane@@example.org", "jane@@example.org", ("BAD_USER_INPUT", None)),
        ("", "", ("BAD_USER_INPUT", None)),
    ],
)
async def test_the_email_must_be_an_address_typed_twice_alike(
    api: Api, db: Database, email: str, confirmation: str, expected: tuple[str, str | None] | None
) -> None:
    org = await make_org(db)
    body = await invite(api, org, org.user("ACCOUNT_ADMIN"), email, confirmation=confirmation)
    if expected is None:
        assert "errors" not in body, body
        return
    assert error_of(body) == expected
    assert await invitations_of(db, org) == []
    assert await outbox_of(db, org) == []  # a refused invitation sends nothing


async def test_a_name_is_required(api: Api, db: Database) -> None:
    org = await make_org(db)
    body = await invite(api, org, org.user("ACCOUNT_ADMIN"), "jane@example.org", name="  ")
    assert error_of(body) == ("BAD_USER_INPUT", None)


async def test_an_active_member_cannot_be_invited(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    staff_email = f"{org.user('STAFF').upper()}@EXAMPLE.ORG"
    body = await invite(api, org, org.user("ACCOUNT_ADMIN"), staff_email)
    assert error_of(body) == ("CONFLICT", "R2")
    assert await outbox_of(db, org) == []


async def test_a_second_invitation_to_a_pending_address_conflicts_and_names_the_first(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1})
    first = await invite(api, org, org.user("ACCOUNT_ADMIN"), "jane@example.org")
    first_id = first["data"]["inviteUser"]["id"]
    again = await invite(api, org, org.user("OFFICE_MANAGER"), "JANE@example.org")
    (error,) = again["errors"]
    assert (error["extensions"]["code"], error["extensions"]["rule"]) == ("CONFLICT", "R2")
    assert error["extensions"]["invitationId"] == first_id  # resend that one instead
    assert len(await invitations_of(db, org)) == 1
    # Another organization may invite the same person; a revoked invitation frees the address.
    other = await make_org(db)
    assert "errors" not in await invite(api, other, other.user("ACCOUNT_ADMIN"), "jane@example.org")
    await revoke(api, org, org.user("ACCOUNT_ADMIN"), first_id)
    assert "errors" not in await invite(api, org, org.user("ACCOUNT_ADMIN"), "jane@example.org")


@pytest.mark.parametrize("table", ["outbox_messages", "access_log"])
async def test_an_invitation_and_its_email_commit_together_or_not_at_all(
    api: Api, db: Database, table: str
) -> None:
    """If the email (or the access-log record) cannot be written, there is no invitation
    either, and the other way round: one transaction."""
    org = await make_org(db)
    async with db.engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        variables = {"org": str(org.id), "input": invitation_input("jane@example.org")}
        response = await api.post(INVITE, as_user=org.user("ACCOUNT_ADMIN"), variables=variables)
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))
    assert response.json()["data"] is None or response.json()["data"]["inviteUser"] is None
    assert await invitations_of(db, org) == []
    assert await outbox_of(db, org) == []


async def test_two_inviters_at_once_send_one_invitation(api: Api, db: Database) -> None:
    """R2 under truly concurrent requests: one wins, the other is told to resend. Repeated."""
    for _ in range(6):
        org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1})
        bodies = await asyncio.gather(
            invite(api, org, org.user("ACCOUNT_ADMIN"), "jane@example.org"),
            invite(api, org, org.user("OFFICE_MANAGER"), "jane@example.org"),
        )
        assert sorted("errors" in body for body in bodies) == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R2")
        assert len(await invitations_of(db, org)) == 1
        assert [m.kind for m in await outbox_of(db, org)] == ["INVITATION", "INVITATION_COPY"]


# ---- resending, revoking, accepting -------------------------------------------------------------


async def test_resending_sends_a_new_link_and_the_old_one_stops_working(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin = org.user("ACCOUNT_ADMIN")
    invitation_id = (await invite(api, org, admin, "jane@example.org"))["data"]["inviteUser"]["id"]
    old_token = token_in((await outbox_of(db, org))[0])
    body = await resend(api, org, admin, invitation_id)
    assert body["data"]["resendInvitation"]["resentCount"] == 1
    emails = [m for m in await outbox_of(db, org) if m.kind == "INVITATION"]
    assert [m.recipient for m in emails] == ["jane@example.org"] * 2
    new_token = token_in(emails[1])
    assert new_token != old_token
    user_id = org.users[org.user("STAFF")]
    with pytest.raises(NotFound):
        await accept(db, old_token, user_id)
    accepted = await accept(db, new_token, user_id)
    assert (accepted.id, accepted.status, accepted.accepted_by_id) == (
        int(invitation_id),
        "ACCEPTED",
        user_id,
    )
    with pytest.raises(NotFound):  # single use
        await accept(db, new_token, user_id)
    assert error_of(await resend(api, org, admin, invitation_id)) == ("CONFLICT", "R2")


async def test_a_revoked_invitation_can_be_neither_used_nor_resent(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1})
    manager = org.user("OFFICE_MANAGER")
    invitation_id = (await invite(api, org, manager, "jane@example.org"))["data"]["inviteUser"][
        "id"
    ]
    token = token_in((await outbox_of(db, org))[0])
    body = await revoke(api, org, manager, invitation_id)
    assert body["data"]["revokeInvitation"] == {"id": invitation_id, "status": "REVOKED"}
    with pytest.raises(NotFound):
        await accept(db, token, org.users[manager])
    assert error_of(await resend(api, org, manager, invitation_id)) == ("CONFLICT", "R2")
    assert error_of(await revoke(api, org, manager, invitation_id)) == ("CONFLICT", "R2")


async def test_another_organizations_invitation_is_not_found(api: Api, db: Database) -> None:
    """V1: an admin of A names A with B's invitation: NOT_FOUND; names B: FORBIDDEN."""
    mine, theirs = await make_org(db), await make_org(db)
    body = await invite(api, theirs, theirs.user("ACCOUNT_ADMIN"), "jane@example.org")
    invitation_id = body["data"]["inviteUser"]["id"]
    admin = mine.user("ACCOUNT_ADMIN")
    for call in (revoke, resend):
        assert error_of(await call(api, mine, admin, invitation_id)) == ("NOT_FOUND", None)
        assert error_of(await call(api, theirs, admin, invitation_id)) == ("FORBIDDEN", None)
    assert [i.status for i in await invitations_of(db, theirs)] == ["PENDING"]


async def test_an_invitation_expires_after_14_days(db: Database, settings: Settings) -> None:
    org = await make_org(db)
    sent_at = utcnow() - timedelta(days=30)
    async with db.transaction() as session:
        invitation = await invite_user(
            session,
            org_id=org.id,
            invited_by_id=org.users[org.user("ACCOUNT_ADMIN")],
            request=request_for("jane@example.org"),
            settings=settings,
            now=sent_at,
        )
    assert invitation.expires_at == sent_at + timedelta(days=14)
    token, user_id = token_in((await outbox_of(db, org))[0]), org.users[org.user("ACCOUNT_ADMIN")]
    expired_at = sent_at + timedelta(days=14)
    assert effective_status(invitation, expired_at - timedelta(seconds=1)) == "PENDING"
    assert effective_status(invitation, expired_at) == "EXPIRED"
    with pytest.raises(Conflict):  # expired: the invitee is told to ask for it again
        await accept(db, token, user_id, now=expired_at)
    accepted = await accept(db, token, user_id, now=expired_at - timedelta(seconds=1))
    assert accepted.status == "ACCEPTED"


async def test_an_expired_invitation_shows_expired_and_resending_renews_it(
    api: Api, db: Database
) -> None:
    org = await make_org(db)
    admin = org.user("ACCOUNT_ADMIN")
    invitation_id = (await invite(api, org, admin, "jane@example.org"))["data"]["inviteUser"]["id"]
    async with db.transaction() as session:
        invitation = await session.get(Invitation, int(invitation_id))
        assert invitation is not None
        invitation.expires_at = utcnow() - timedelta(minutes=1)
    listed = await api.query(INVITATIONS, as_user=admin, variables={"org": str(org.id)})
    (edge,) = listed["data"]["organization"]["invitations"]["edges"]
    assert edge["node"]["status"] == "EXPIRED"
    renewed = (await resend(api, org, admin, invitation_id))["data"]["resendInvitation"]
    assert renewed["status"] == "PENDING"
    token = token_in([m for m in await outbox_of(db, org) if m.kind == "INVITATION"][-1])
    assert (await accept(db, token, org.users[admin])).status == "ACCEPTED"


async def test_two_registrations_with_one_token_at_once_accept_it_once(
    db: Database, settings: Settings
) -> None:
    """The token is single use even under concurrent registrations. Repeated."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 2})
    first, second = org.users[org.user("STAFF", 1)], org.users[org.user("STAFF", 2)]
    for n in range(6):
        async with db.transaction() as session:
            await invite_user(
                session,
                org_id=org.id,
                invited_by_id=org.users[org.user("ACCOUNT_ADMIN")],
                request=request_for(f"jo{n}@example.org"),
                settings=settings,
            )
        token = token_in([m for m in await outbox_of(db, org) if m.kind == "INVITATION"][-1])
        outcomes = await asyncio.gather(
            accept(db, token, first), accept(db, token, second), return_exceptions=True
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["Invitation", "NotFound"]


# ---- the list -----------------------------------------------------------------------------------


async def test_the_invitation_list_is_for_admins_and_office_managers(
    api: Api, db: Database
) -> None:
    roles = ["ACCOUNT_ADMIN", "OFFICE_MANAGER", "FINANCIAL_MANAGER", "PROVIDER",
             "CLINICAL_STAFF", "STAFF"]  # fmt: skip
    org = await make_org(db, members=dict.fromkeys(roles, 1))
    await invite(api, org, org.user("OFFICE_MANAGER"), "jane@example.org", kind="PROVIDER")
    for role in roles:
        body = await api.query(INVITATIONS, as_user=org.user(role), variables={"org": str(org.id)})
        if role in {"ACCOUNT_ADMIN", "OFFICE_MANAGER"}:
            (edge,) = body["data"]["organization"]["invitations"]["edges"]
            assert edge["node"]["email"] == "jane@example.org"
            assert edge["node"]["kind"] == "PROVIDER"
            assert edge["node"]["invitedBy"] == {"username": org.user("OFFICE_MANAGER")}
        else:
            assert body["data"]["organization"]["invitations"] is None
            (error,) = errors_at(body, ["organization", "invitations"])
            assert error["extensions"]["code"] == "FORBIDDEN"


async def test_the_invitation_list_pages_and_counts_every_invitation(
    api: Api, db: Database
) -> None:
    org = await make_org(db)
    admin = org.user("ACCOUNT_ADMIN")
    emails = [f"page{n}@invited.example.org" for n in range(3)]
    for email in emails:
        assert "errors" not in await invite(api, org, admin, email)
    query = """query Page($org: ID!, $after: String) { organization(id: $org) {
      invitations(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { email } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        body = await api.query(query, as_user=admin, variables={"org": str(org.id), "after": after})
        page = body["data"]["organization"]["invitations"]
        assert page["totalCount"] == 3
        seen += [edge["node"]["email"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(emails)


async def test_the_invitation_token_is_never_a_field(api: Api, world: World) -> None:
    body = await api.query('{ __type(name: "Invitation") { fields { name } } }', as_user="admin")
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert names == {
        "id", "name", "email", "kind", "status", "createdAt", "expiresAt", "resentCount",
        "invitedBy",
    }  # fmt: skip
