"""Registration, unlocking (R2, R13, R14), anonymous access (V6) and what no field reveals (R13)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from sqlalchemy import insert, select
from starlette.applications import Starlette

from gateway.data.db import Database
from gateway.domain.accounts import TAKEN
from gateway.domain.invitations import hash_token
from gateway.models import Invitation, Membership, User, utcnow
from tests.support import JSON, Api, World
from tests.support.accounts import (
    PASSWORD,
    body,
    call,
    events,
    login,
    login_error,
    make_account,
    set_user,
    user_row,
)
from tests.support.factories import Org, make_org

REGISTER = """mutation Register($input: RegisterUserInput!) {
  registerUser(input: $input) { userId username accessRequestId } }"""
UNLOCK = """mutation Unlock($user: ID!, $org: ID) {
  unlockUser(userId: $user, organizationId: $org) { id username status } }"""
PENDING = """query Pending($id: ID!) { organization(id: $id) {
  accessRequests { edges { node { id status user { username } } } } } }"""
# V6: what an unauthenticated caller may call.
ANONYMOUS_FIELDS = {
    ("Mutation", "registerUser"),
    ("Mutation", "login"),
    ("Mutation", "refreshToken"),
    ("Mutation", "requestPasswordRecovery"),
    ("Mutation", "recoverPassword"),
    ("Mutation", "activateAccount"),  # R1: a holder awaiting activation cannot sign in
    ("Mutation", "requestActivationCode"),
}


def new_user(username: str, email: str | None = None, **more: str) -> JSON:
    return {
        "username": username,
        "email": email or f"{username}@register.example.org",
        "name": "New Person",
        "password": PASSWORD,
        **more,
    }


async def register(api: Api, token: str | None = None, **fields: str) -> JSON:
    return await body(api, REGISTER, {"input": new_user(**fields)}, token=token)


# ---- registration ------------------------------------------------------------------------------


async def test_anyone_may_register_and_then_sign_in(api: Api, db: Database) -> None:
    answer = await register(api, username="reg-alice", email="Reg.Alice@Register.example.org")
    assert "errors" not in answer, answer
    registered = answer["data"]["registerUser"]
    assert registered["username"] == "reg-alice" and registered["accessRequestId"] is None
    row = await user_row(db, int(registered["userId"]))
    assert row.status == "ACTIVE"
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    assert row.email == "Reg.Alice@Register.example.org"
    assert row.email_normalized == "reg.alice@register.example.org"
    assert row.password_changed_at is not None
    await login(api, "reg-alice")


async def test_a_signed_in_user_may_register_another_account(api: Api, world: World) -> None:
    token = (await login(api, "admin", "fixture-password-1"))["accessToken"]
    answer = await register(api, token, username="reg-second-account")
    assert "errors" not in answer, answer


@pytest.mark.parametrize(
    ("username", "email"),
    [
        ("reg-taken", "someone-else@register.example.org"),  # the username
        ("reg-Taken", "someone-else@register.example.org"),  # the username, other case
        ("reg-someone-else", "Reg-Taken@Register.Example.org"),  # the email, other case
    ],
)
async def test_a_taken_username_or_email_gets_one_answer(
    api: Api, db: Database, username: str, email: str
) -> None:
    if await _count_users(db, "reg-taken") == 0:
        assert "errors" not in await register(api, username="reg-taken")
    answer = await register(api, username=username, email=email)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"] == TAKEN  # neither which part nor whose account
    assert await _count_users(db, username) == (1 if username == "reg-taken" else 0)


@pytest.mark.parametrize("attempt", range(3))
async def test_two_registrations_differing_only_by_case_at_once_make_one_account(
    api: Api, db: Database, attempt: int
) -> None:
    """The database decides (a unique index on the lower-cased username), so neither
    registration can miss the other however they interleave."""
    names = [f"reg-Race{attempt}", f"reg-race{attempt}", f"REG-RACE{attempt}"]
    answers = await asyncio.gather(
        *(register(api, username=name, email=f"{name}-{n}@race.example.org")
          for n, name in enumerate(names))
    )  # fmt: skip
    assert sum("errors" not in a for a in answers) == 1, answers
    assert {a["errors"][0]["message"] for a in answers if "errors" in a} == {TAKEN}


async def test_a_plus_tag_is_a_distinct_email_address(api: Api) -> None:
    assert "errors" not in await register(api, username="reg-tag", email="tag@register.example.org")
    answer = await register(api, username="reg-tag-2", email="tag+billing@register.example.org")
    assert "errors" not in answer, answer


@pytest.mark.parametrize(
    ("fields", "argument"),
    [
        ({"username": "ab"}, "input.username"),
        ({"username": "has space"}, "input.username"),
        ({"username": "reg-bad-email", "email": "not-an-email"}, "input.email"),
        ({"username": "reg-bad-name", "name": "  "}, "input.name"),
    ],
)
async def test_registration_input_is_checked(api: Api, fields: JSON, argument: str) -> None:
    answer = await body(api, REGISTER, {"input": {**new_user(fields["username"]), **fields}})
    [error] = answer["errors"]
    assert (error["extensions"]["code"], error["extensions"]["argument"]) == (
        "BAD_USER_INPUT",
        argument,
    )


@pytest.mark.parametrize("password", ["too short", "Password2024!", "reg-weak-is-my-name-ok"])
async def test_registration_enforces_the_password_policy(
    api: Api, db: Database, password: str
) -> None:
    answer = await body(api, REGISTER, {"input": new_user("reg-weak", password=password)})
    [error] = answer["errors"]
    assert (error["extensions"]["code"], error["extensions"]["rule"]) == ("BAD_USER_INPUT", "R14")
    assert await _count_users(db, "reg-weak") == 0


async def _count_users(db: Database, username: str) -> int:
    async with db.session() as session:
        return len((await session.scalars(select(User.id).where(User.username == username))).all())


async def _invitation(db: Database, org: Org, token: str, *, expired: bool = False) -> int:
    now = utcnow()
    async with db.transaction() as session:
        invitation_id: int = (
            await session.execute(
                insert(Invitation).returning(Invitation.id),
                [
                    {
                        "organization_id": org.id,
                        "email": f"{token}@invited.example.org",
                        "email_normalized": f"{token}@invited.example.org",
                        "name": "Invited Person",
                        "kind": "OFFICE_STAFF",
                        "token_hash": hash_token(token),
                        "invited_by_id": next(iter(org.users.values())),
                        "created_at": now - timedelta(days=20),
                        "expires_at": now + timedelta(days=-1 if expired else 1),
                        "status": "PENDING",
                        "resent_count": 0,
                    }
                ],
            )
        ).scalar_one()
    return invitation_id


async def test_an_invitee_registers_into_an_access_request(api: Api, db: Database) -> None:
    """R2 then R3: the invitation is used and the admin sees the request to approve."""
    org = await make_org(db)
    invitation_id = await _invitation(db, org, "reg-invite-token-1")
    answer = await register(api, username="reg-invitee", invitationToken="reg-invite-token-1")
    registered = answer["data"]["registerUser"]
    assert registered["accessRequestId"] is not None, answer
    async with db.session() as session:
        invitation = await session.get(Invitation, invitation_id)
        request = await session.get(Membership, int(registered["accessRequestId"]))
    assert invitation is not None and invitation.status == "ACCEPTED"
    assert invitation.accepted_by_id == int(registered["userId"])
    assert request is not None and (request.organization_id, request.status) == (
        org.id,
        "REQUESTED",
    )
    admin = org.user("ACCOUNT_ADMIN")
    pending = await api.query(PENDING, as_user=admin, variables={"id": str(org.id)})
    [node] = [e["node"] for e in pending["data"]["organization"]["accessRequests"]["edges"]]
    assert (node["id"], node["user"]["username"]) == (registered["accessRequestId"], "reg-invitee")
    # Used once: the same link registers nobody else.
    again = await register(api, username="reg-invitee-2", invitationToken="reg-invite-token-1")
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("expired", "refusal"), [(False, "NOT_FOUND"), (True, "CONFLICT")])
async def test_a_bad_invitation_registers_nobody(
    api: Api, db: Database, expired: bool, refusal: str
) -> None:
    username = f"reg-bad-invitation-{expired}".lower()
    token = "reg-expired-token" if expired else "reg-unknown-token"
    if expired:
        await _invitation(db, await make_org(db), token, expired=True)
    answer = await register(api, username=username, invitationToken=token)
    assert answer["errors"][0]["extensions"]["code"] == refusal
    assert await _count_users(db, username) == 0  # all or nothing


async def test_registration_is_logged(api: Api, db: Database) -> None:
    response = await call(api, REGISTER, {"input": new_user("reg-logged")})
    user_id = response.json()["data"]["registerUser"]["userId"]
    assert await events(db, response) == [("register", "allow", user_id)]


# ---- R13: unlocking ----------------------------------------------------------------------------


@pytest.fixture
async def unlock_org(db: Database) -> Org:
    return await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 2})


@pytest.mark.parametrize(
    ("actor", "in_org", "outcome"),
    [
        ("ACCOUNT_ADMIN", True, None),
        ("OFFICE_MANAGER", True, "FORBIDDEN"),
        ("STAFF", True, "FORBIDDEN"),
        ("ACCOUNT_ADMIN", False, "FORBIDDEN"),  # an admin names the organization
        ("helpdesk", False, None),  # PAYER_SUPPORT: anywhere
        ("helpdesk", True, None),
        ("auditor", False, "FORBIDDEN"),
        ("secofficer", False, "FORBIDDEN"),
        ("canyonadmin", True, "FORBIDDEN"),  # an admin elsewhere has no role here
        (None, True, "UNAUTHENTICATED"),
    ],
)
async def test_who_may_unlock_an_account(
    api: Api, db: Database, unlock_org: Org, actor: str | None, in_org: bool, outcome: str | None
) -> None:
    target = unlock_org.user("STAFF", 2)
    target_id = unlock_org.users[target]
    await set_user(db, target_id, status="LOCKED", failed_logins=5)
    username = (
        unlock_org.user(actor) if actor in {"ACCOUNT_ADMIN", "OFFICE_MANAGER", "STAFF"} else actor
    )
    variables = {"user": str(target_id), "org": str(unlock_org.id) if in_org else None}
    answer = await api.query(UNLOCK, as_user=username, variables=variables)
    row = await user_row(db, target_id)
    if outcome is None:
        assert answer["data"]["unlockUser"]["status"] == "ACTIVE", answer
        assert (row.status, row.failed_logins) == ("ACTIVE", 0)
    else:
        assert answer["errors"][0]["extensions"]["code"] == outcome
        assert row.status == "LOCKED"


async def test_an_admin_unlocks_only_their_members(
    api: Api, db: Database, unlock_org: Org, world: World
) -> None:
    """V1: someone not an active member is NOT_FOUND, like an id that does not exist."""
    outsider = await make_account(db, status="LOCKED")
    admin = unlock_org.user("ACCOUNT_ADMIN")
    for user_id in (str(outsider.id), "999999999"):
        answer = await api.query(
            UNLOCK, as_user=admin, variables={"user": user_id, "org": str(unlock_org.id)}
        )
        assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await user_row(db, outsider.id)).status == "LOCKED"


async def test_a_colleague_of_several_organizations_is_unlocked_by_the_help_desk(
    api: Api, db: Database, unlock_org: Org
) -> None:
    """An admin of one of the user's organizations could otherwise unlock again and again
    and let someone guess the password without limit."""
    other = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    target = unlock_org.users[unlock_org.user("STAFF", 2)]
    async with db.transaction() as session:
        await session.execute(
            insert(Membership),
            [
                {
                    "user_id": target,
                    "organization_id": other.id,
                    "status": "ACTIVE",
                    "employment": "EMPLOYEE",
                }
            ],
        )
    await set_user(db, target, status="LOCKED", failed_logins=5)
    admin = unlock_org.user("ACCOUNT_ADMIN")
    refused = await api.query(
        UNLOCK, as_user=admin, variables={"user": str(target), "org": str(unlock_org.id)}
    )
    error = refused["errors"][0]["extensions"]
    assert (error["code"], error["rule"]) == ("FORBIDDEN", "R13")
    assert (await user_row(db, target)).status == "LOCKED"
    helped = await api.query(UNLOCK, as_user="helpdesk", variables={"user": str(target)})
    assert helped["data"]["unlockUser"]["status"] == "ACTIVE"


async def test_unlocking_an_unlocked_account_is_a_conflict(
    api: Api, db: Database, unlock_org: Org
) -> None:
    target = unlock_org.users[unlock_org.user("STAFF")]
    answer = await api.query(UNLOCK, as_user="helpdesk", variables={"user": str(target)})
    error = answer["errors"][0]["extensions"]
    assert (error["code"], error["rule"]) == ("CONFLICT", "R13")


async def test_an_unlocked_user_signs_in_again_and_it_is_logged(
    api: Api, db: Database, unlock_org: Org
) -> None:
    account = await make_account(db)
    for _ in range(5):
        await login_error(api, account.username, "wrong password 123")
    unlocked = await api.post(UNLOCK, as_user="helpdesk", variables={"user": str(account.id)})
    assert await events(db, unlocked) == [("unlock", "allow", str(account.id))]
    await login(api, account.username)


# ---- R13: nobody can read a password or a secret ------------------------------------------------


def test_no_field_returns_a_password_or_a_secret(app: Starlette) -> None:
    schema: GraphQLSchema = app.state.runtime.schema._schema
    exposed = [
        f"{name}.{field}"
        for name, graphql_type in schema.type_map.items()
        # A session's tokens go to whoever signed in; a new second-factor secret to its owner,
        # this once (R14); a partner client's secret to its agency's admin, this once (R11).
        # Nothing else returns a secret.
        if isinstance(graphql_type, GraphQLObjectType)
        and name
        not in {"Mutation", "LoginResult", "SecondFactorEnrollment", "PartnerClientCredentials"}
        for field in graphql_type.fields
        if any(word in field.lower() for word in ("password", "hash", "secret", "token"))
    ]
    assert exposed == ["PartnerClient.secretRotatedAt"]  # a date, not a secret


# ---- V6: an unauthenticated caller ---------------------------------------------------------------

SCALAR_LITERALS = {
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "DateTime": '"2024-01-01T00:00:00+00:00"',
}


def _literal(graphql_type: GraphQLInputType) -> str:
    """A valid literal of ``graphql_type`` (required input fields only)."""
    if isinstance(graphql_type, GraphQLNonNull):
        return _literal(graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return "[]"
    if isinstance(graphql_type, GraphQLEnumType):
        return str(next(iter(graphql_type.values)))
    if isinstance(graphql_type, GraphQLInputObjectType):
        required = [
            f"{name}: {_literal(field.type)}"
            for name, field in graphql_type.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        ]
        return "{" + ", ".join(required) + "}"
    return SCALAR_LITERALS.get(get_named_type(graphql_type).name, '"1"')


def root_field_queries(schema: GraphQLSchema) -> dict[tuple[str, str], str]:
    """One document per root field, with made-up required arguments."""
    queries = {}
    for root, keyword in ((schema.query_type, "query"), (schema.mutation_type, "mutation")):
        assert root is not None
        for name, field in root.fields.items():
            arguments = ", ".join(
                f"{arg}: {_literal(a.type)}"
                for arg, a in field.args.items()
                if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
            )
            call_text = f"{name}({arguments})" if arguments else name
            selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
            queries[(root.name, name)] = f"{keyword} {{ {call_text}{selection} }}"
    return queries


async def test_anonymous_callers_may_only_register_sign_in_recover_and_activate(
    api: Api, app: Starlette
) -> None:
    """V6, over every root field of the schema."""
    queries = root_field_queries(app.state.runtime.schema._schema)
    assert set(queries) >= ANONYMOUS_FIELDS
    for (root, field), query in sorted(queries.items()):
        answer = await body(api, query)
        refusals = [
            e
            for e in answer.get("errors", [])
            if e.get("path") == [field] and "decisionId" in e.get("extensions", {})
        ]
        if (root, field) in ANONYMOUS_FIELDS:
            assert refusals == [], (field, answer)
        else:
            assert [e["extensions"]["code"] for e in refusals] == ["UNAUTHENTICATED"], (
                field,
                answer,
            )
