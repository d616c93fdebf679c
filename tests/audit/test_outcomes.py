"""A1: the log says what really happened: the operation the document ran, the outcome of a
field a rule refused, whatever text the client sent; and what the client is told when only
the last entries cannot be written (A2)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from gateway.data import Database, is_sqlite
from gateway.models import AccessLogEntry, AccessLogRequest, Invitation
from tests.support import JSON, Api
from tests.support.accounts import LOGIN, PASSWORD, Logged, logged, login, make_account
from tests.support.database import access_log_unwritable
from tests.support.factories import Org, make_org

UPDATE = """
mutation($org: ID!, $member: ID!, $input: MemberAccessInput!) {
  updateMemberAccess(organizationId: $org, membershipId: $member, input: $input) { id }
}"""
REMOVE = """
mutation($org: ID!, $member: ID!) {
  removeMember(organizationId: $org, membershipId: $member) { id status }
}"""
INVITE = """
mutation Invite($org: ID!, $email: String!) {
  inviteUser(organizationId: $org, input: {name: "Pat Newhire", email: $email,
    emailConfirmation: $email, kind: OFFICE_STAFF}) { id status expiresAt }
}"""


async def post_raw(api: Api, as_user: str | None, body: str) -> httpx.Response:
    """POST a JSON body written by hand (JSON escapes such as an unpaired surrogate)."""
    headers = {"content-type": "application/json", **api.headers(as_user)}
    return await api.client.post("/graphql", content=body.encode(), headers=headers)


def mutation_entries(entries: list[Logged]) -> list[Logged]:
    return [e for e in entries if e.object_type == "Mutation"]


# ---- 1. the operation's name ------------------------------------------------------------------


async def test_the_operation_the_document_names_is_logged_without_operation_name(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    response = await api.post(
        "query DocumentNamesIt { me { username } }", as_user=org.user("STAFF")
    )
    entries = await logged(db, response)
    assert entries and {e.operation for e in entries} == {"DocumentNamesIt"}


async def test_a_mutation_writing_its_own_entries_names_its_operation(
    api: Api, db: Database
) -> None:
    """A mutation's first batch is written inside its transaction: it is named too."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    variables = {"org": str(org.id), "member": str(org.members[org.user("STAFF")])}
    document = "mutation GrantCarelon" + UPDATE.removeprefix("\nmutation")
    for operation in (None, "GrantCarelon"):
        response = await api.post(
            document,
            as_user=org.user("ACCOUNT_ADMIN"),
            variables={**variables, "input": {"etools": ["CARELON"]}},
            operation=operation,
        )
        assert "errors" not in response.json()
        entries = await logged(db, response)
        assert {e.operation for e in entries} == {"GrantCarelon"}
        assert {e.first_index for e in entries} == {0, 1}  # two batches, both named


# ---- 2. the outcome ---------------------------------------------------------------------------


async def test_a_privilege_escalation_refused_by_r6_is_logged_as_refused(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    variables = {
        "org": str(org.id),
        "member": str(org.members[org.user("STAFF")]),
        "input": {"roles": ["ACCOUNT_ADMIN"]},
    }
    response = await api.post(UPDATE, as_user=org.user("OFFICE_MANAGER"), variables=variables)
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "rule": "R6"}
    [entry] = mutation_entries(await logged(db, response))
    assert (entry.field, entry.decision) == ("updateMemberAccess", "deny")
    assert entry.rule.startswith("FORBIDDEN: R6: ")
    assert entry.organization_id == org.id


async def test_a_cross_organization_attempt_answered_not_found_is_logged_as_refused(
    api: Api, db: Database
) -> None:
    mine, theirs = await make_org(db), await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    variables = {"org": str(mine.id), "member": str(theirs.members[theirs.user("STAFF")])}
    response = await api.post(REMOVE, as_user=mine.user("ACCOUNT_ADMIN"), variables=variables)
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    [entry] = mutation_entries(await logged(db, response))
    assert (entry.field, entry.decision) == ("removeMember", "deny")
    assert entry.rule.startswith("NOT_FOUND: ")


# ---- 3. text the client sends -----------------------------------------------------------------


async def test_an_unpaired_surrogate_beside_a_refused_mutation_loses_no_entry(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    document = (
        "mutation($org: ID!, $bad: ID!, $admin: ID!) {"
        " odd: removeMember(organizationId: $org, membershipId: $bad) { id }"
        " refused: removeMember(organizationId: $org, membershipId: $admin) { id } }"
    )
    admin_membership = org.members[org.user("ACCOUNT_ADMIN")]
    variables = f'{{"org": "{org.id}", "bad": "7\\ud800", "admin": "{admin_membership}"}}'
    response = await post_raw(
        api, org.user("STAFF"), f'{{"query": {json.dumps(document)}, "variables": {variables}}}'
    )
    assert response.status_code == 200, response.text
    codes = {e["path"][0]: e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"odd": "BAD_USER_INPUT", "refused": "FORBIDDEN"}
    entries = mutation_entries(await logged(db, response))
    assert sorted((e.object_id, e.decision) for e in entries) == [
        (str(admin_membership), "deny"),
        ("7\\ud800", "deny"),  # stored and hashed as an escape
    ]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("query($v: ID!) { organization(id: $v) { name } }", r'{"v": "1\ud800"}'),
        ("query($v: ID!) { user(id: $v) { name } }", r'{"v": "\ud800"}'),
        (
            'query($v: String) { accessLog(objectType: $v, since: "2026-01-01T00:00:00Z")'
            " { edges { cursor } } }",
            r'{"v": "\udfffUser"}',
        ),
    ],
)
async def test_unpaired_surrogates_in_arguments_are_bad_input_and_logged(
    api: Api, db: Database, document: str, variables: str
) -> None:
    body = f'{{"query": {json.dumps(document)}, "variables": {variables}}}'
    response = await post_raw(api, "secofficer", body)
    assert response.status_code == 200, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
    [entry] = [e for e in await logged(db, response) if e.object_type == "Query"]
    assert entry.decision == "deny" and entry.rule.startswith("BAD_USER_INPUT: ")


async def test_an_operation_name_longer_than_its_column_is_stored_cut(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"STAFF": 1})
    long_name = "Q" + "x" * 300
    response = await api.post(
        f"query {long_name} {{ me {{ username }} }}", as_user=org.user("STAFF")
    )
    assert response.status_code == 200
    entries = await logged(db, response)
    assert entries and {e.operation for e in entries} == {long_name[:200]}


# ---- 4. failed sign-ins -----------------------------------------------------------------------


async def test_failed_sign_ins_count_only_with_their_entries(api: Api, db: Database) -> None:
    """With the log unwritable nothing is answered, and nothing counts towards the lockout."""
    account = await make_account(db)
    async with access_log_unwritable(db):
        for _ in range(6):
            response = await api.client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"u": account.username, "p": "wrong" * 4}},
            )
            assert response.status_code == 503
    assert (await login(api, account.username, PASSWORD))["accessToken"]


async def test_each_counted_attempt_has_its_own_entry(api: Api, db: Database) -> None:
    account = await make_account(db)
    response = await api.client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": account.username, "p": "wrong" * 4}}
    )
    async with db.session() as session:
        counted = (
            await session.execute(
                select(AccessLogEntry.field, AccessLogEntry.objects, AccessLogRequest.user_id)
                .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
                .where(
                    AccessLogRequest.request_id == f"{response.headers['x-request-id']}-attempt-1"
                )
            )
        ).all()
    assert [tuple(row) for row in counted] == [("signInAttempt", [[str(account.id), None]], None)]


# ---- 5. committed, but its answer cannot be logged --------------------------------------------


@pytest.fixture
async def last_batch_unwritable(db: Database) -> AsyncIterator[None]:
    """A request's first batch can be written, its later ones cannot (a trigger refuses them):
    a mutation commits with its own entries, and the fields read after it find the log gone."""
    sqlite = is_sqlite(db.url)
    statements: tuple[Any, ...]
    if sqlite:
        statements = (
            "CREATE TRIGGER refuse_later_batches BEFORE INSERT ON access_log_requests "
            "WHEN NEW.first_index > 0 BEGIN SELECT RAISE(ABORT, 'log unavailable'); END",
        )
    else:
        statements = (
            "CREATE FUNCTION refuse_later_batches() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF NEW.first_index > 0 THEN RAISE EXCEPTION 'log unavailable'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_later_batches BEFORE INSERT ON access_log_requests "
            "FOR EACH ROW EXECUTE FUNCTION refuse_later_batches()",
        )
    async with db.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "DROP TRIGGER refuse_later_batches"
                    + ("" if sqlite else " ON access_log_requests")
                )
            )
            if not sqlite:
                await connection.execute(text("DROP FUNCTION refuse_later_batches()"))


async def invitations_to(db: Database, org: Org, email: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(
                Invitation.organization_id == org.id, Invitation.email == email
            )
        )
    return int(count or 0)


@pytest.mark.usefixtures("last_batch_unwritable")
async def test_a_committed_change_is_said_to_be_made_when_its_answer_cannot_be_logged(
    api: Api, db: Database
) -> None:
    org = await make_org(db)
    email = f"pat-{org.id}@example.org"
    response = await api.post(
        INVITE, as_user=org.user("ACCOUNT_ADMIN"), variables={"org": str(org.id), "email": email}
    )
    assert response.status_code == 503
    body: JSON = response.json()
    assert body["data"] is None  # no data without its entries (A2)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAVAILABLE", "changeCommitted": True}
    assert await invitations_to(db, org, email) == 1  # made, with its own entries
    [entry] = mutation_entries(await logged(db, response))
    assert (entry.field, entry.decision) == ("inviteUser", "allow")


@pytest.mark.usefixtures("last_batch_unwritable")
async def test_a_change_a_rule_refused_is_not_said_to_be_made(api: Api, db: Database) -> None:
    """A refused change committed nothing: it is not said to be made."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    variables = {"org": str(org.id), "member": str(org.members[org.user("ACCOUNT_ADMIN")])}
    response = await api.post(REMOVE, as_user=org.user("ACCOUNT_ADMIN"), variables=variables)
    # R7 refused the change inside its transaction: nothing committed, and its entries are
    # the request's first batch, written at the end (so the trigger lets them through).
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
