"""A1, A4: an entry is one disclosure of a request (a field decided one way) holding the objects
it covered, each filed under the organization the caller acted in; a request's entries do not
grow with the objects it returns, and the log still says which field of which record each
caller was given or refused."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import text

from gateway.cli import main
from gateway.data.db import Database
from gateway.models import utcnow
from gateway.settings import Settings, get_settings
from tests.support import JSON, Api
from tests.support.accounts import Logged, logged, logged_request
from tests.support.database import tampering
from tests.support.factories import Org, add_membership, make_org

MEMBERS_PAGE = """query Members($id: ID!, $first: Int!) { organization(id: $id) {
  id name members(first: $first) { edges { node {
    id status roles { code name } user { id name email } } } } } }"""
LIST = """query List { organizations(first: 20) { edges { node { id name
  members(first: 20) { edges { node { id roles { code } user { id name email } } } } } } } }"""
EXPLAIN = """query($id: String!) { accessDecision(decisionId: $id) {
  objectId organizationId executions objects { id organizationId } } }"""
SEARCH = """query($org: ID, $user: ID, $type: String, $id: ID, $field: String, $since: DateTime!) {
  accessLog(organizationId: $org, userId: $user, objectType: $type, objectId: $id,
            field: $field, since: $since, first: 100) {
    edges { node { decisionId username objectType field decision objectId organizationId
                   executions objects { id organizationId } } } } }"""


def kinds(entries: list[Logged]) -> Counter[tuple[str, str, str, str, str | None]]:
    """How many entries the request wrote for each (type, field, action, decision, rule)."""
    return Counter((e.object_type, e.field, e.action, e.decision, e.rule) for e in entries)


def ids_of(
    entries: list[Logged], object_type: str, field: str
) -> list[tuple[str | None, int | None]]:
    """The objects of the request's entries for ``Type.field``, every decision's."""
    return [
        o for e in entries if (e.object_type, e.field) == (object_type, field) for o in e.objects
    ]


async def search(api: Api, as_user: str, **variables: str) -> list[JSON]:
    since = (utcnow() - timedelta(minutes=10)).isoformat()
    body = await api.query(SEARCH, as_user=as_user, variables={"since": since, **variables})
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["accessLog"]["edges"]]


# ---- one entry per disclosure ----------------------------------------------------------------


async def test_a_page_of_members_is_one_entry_per_field_holding_every_member(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 49})
    admin = org.user("ACCOUNT_ADMIN")
    response = await api.post(
        MEMBERS_PAGE, as_user=admin, variables={"id": str(org.id), "first": 50}
    )
    edges = response.json()["data"]["organization"]["members"]["edges"]
    assert len(edges) == 50
    entries = await logged(db, response)
    assert set(kinds(entries).values()) == {1}  # one entry per (type, field, decision, rule)
    assert len(entries) < 25
    members = {(node["id"], org.id) for node in (e["node"] for e in edges)}
    users = {(node["user"]["id"], org.id) for node in (e["node"] for e in edges)}
    for field in ("id", "status", "roles", "user"):
        assert Counter(ids_of(entries, "Membership", field)) == Counter(members), field
    for field in ("id", "name", "email"):
        assert Counter(ids_of(entries, "User", field)) == Counter(users), field
    [emails] = [e for e in entries if (e.object_type, e.field) == ("User", "email")]
    assert (emails.decision, emails.executions, len(emails.objects)) == ("allow", 50, 50)
    assert [object_id for object_id, _ in emails.objects] == [
        node["user"]["id"] for node in (e["node"] for e in edges)
    ]  # in the order they were read


async def test_a_list_of_organizations_and_members_writes_a_few_dozen_entries(
    api: Api, db: Database
) -> None:
    """20 organizations of 20 members, all administered by one user: ~1,900 executions."""
    first = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 19})
    admin = first.user("ACCOUNT_ADMIN")
    orgs = [first]
    for _ in range(19):
        org = await make_org(db, members={"STAFF": 19})
        await add_membership(db, first.users[admin], org, "ACCOUNT_ADMIN")
        orgs.append(org)
    response = await api.post(LIST, as_user=admin)
    body = response.json()
    assert "errors" not in body, body
    listed = body["data"]["organizations"]["edges"]
    assert {int(edge["node"]["id"]) for edge in listed} == {org.id for org in orgs}
    entries = await logged(db, response)
    assert len(entries) < 40
    assert sum(e.executions for e in entries) > 1800
    emails = ids_of(entries, "User", "email")
    assert len(emails) == len(set(emails)) == 400  # each member once, filed in their office
    assert {org for _, org in emails} == {org.id for org in orgs}


async def test_the_same_object_read_twice_is_one_object_of_two_executions(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    subject = str(org.users[org.user("STAFF")])
    response = await api.post(
        "query($id: ID!) { a: user(id: $id) { email } b: user(id: $id) { email again: email } }",
        as_user=org.user("ACCOUNT_ADMIN"),
        variables={"id": subject},
    )
    assert "errors" not in response.json()
    entries = {(e.object_type, e.field): e for e in await logged(db, response)}
    lookups, emails = entries[("Query", "user")], entries[("User", "email")]
    assert (lookups.objects, lookups.executions) == ([(subject, None)], 2)
    assert (emails.objects, emails.executions) == ([(subject, org.id)], 3)


# ---- a refused root field moves its execution to the refusal -----------------------------------


async def test_a_lookup_answered_not_found_moves_to_a_refusal_with_its_id(
    api: Api, db: Database
) -> None:
    org = await make_org(db)
    admin, missing = org.user("ACCOUNT_ADMIN"), "999999999"
    response = await api.post(
        "query($id: ID!, $missing: ID!) {"
        " found: organization(id: $id) { name } lost: organization(id: $missing) { name } }",
        as_user=admin,
        variables={"id": str(org.id), "missing": missing},
    )
    body = response.json()
    assert body["data"] == {"found": {"name": body["data"]["found"]["name"]}, "lost": None}
    lookups = [
        e
        for e in await logged(db, response)
        if (e.object_type, e.field) == ("Query", "organization")
    ]
    assert [(e.decision, e.objects, e.executions) for e in lookups] == [
        ("allow", [(str(org.id), None)], 1),
        ("deny", [(missing, None)], 1),
    ]
    assert lookups[1].rule.startswith("NOT_FOUND: ")
    found = await search(api, "secofficer", type="Query", field="organization", id=missing)
    assert [(n["decision"], n["objectId"], n["username"]) for n in found] == [
        ("deny", missing, admin)
    ]


async def test_two_lookups_refused_alike_keep_their_ids(api: Api, db: Database) -> None:
    org = await make_org(db)
    response = await api.post(
        '{ a: organization(id: "999999991") { name } b: organization(id: "999999992") { name } }',
        as_user=org.user("ACCOUNT_ADMIN"),
    )
    lookups = [e for e in await logged(db, response) if e.field == "organization"]
    assert {e.decision for e in lookups} == {"deny"}
    assert sorted(o for e in lookups for o in e.objects) == [
        ("999999991", None),
        ("999999992", None),
    ]
    assert sum(e.executions for e in lookups) == 2


# ---- searching inside entries (A4) -------------------------------------------------------------


@dataclass(frozen=True)
class TwoOffices:
    """Offices X and Y, and the request in which a reader administering both read every
    member's email."""

    x: Org
    y: Org
    reader: str
    request_id: str


@pytest.fixture
async def offices(api: Api, db: Database) -> TwoOffices:
    """Offices X and Y, each with an admin of its own and two staff; a second admin of X also
    administers Y and reads every member's email of both in one request."""
    x = await make_org(db, members={"ACCOUNT_ADMIN": 2, "STAFF": 2})
    y = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 2})
    reader = x.user("ACCOUNT_ADMIN", 2)
    await add_membership(db, x.users[reader], y, "ACCOUNT_ADMIN")
    document = (
        "query($x: ID!, $y: ID!) {"
        " x: organization(id: $x) { members { edges { node { user { email } } } } }"
        " y: organization(id: $y) { members { edges { node { user { email } } } } } }"
    )
    response = await api.post(document, as_user=reader, variables={"x": str(x.id), "y": str(y.id)})
    assert "errors" not in response.json()
    return TwoOffices(x, y, reader, response.headers["x-request-id"])


async def emails_entry(db: Database, request_id: str) -> Logged:
    entries = await logged_request(db, request_id)
    [entry] = [e for e in entries if (e.object_type, e.field) == ("User", "email")]
    return entry


async def test_one_entry_covers_both_offices_each_object_filed_in_its_own(
    db: Database, offices: TwoOffices
) -> None:
    x, y, request_id = offices.x, offices.y, offices.request_id
    entry = await emails_entry(db, request_id)
    filed = Counter(org for _, org in entry.objects)
    assert filed == {x.id: 4, y.id: 4}  # the reader, a member of both, in each
    assert entry.executions == 8


async def test_an_admin_searching_sees_only_their_offices_objects(
    api: Api, db: Database, offices: TwoOffices
) -> None:
    x, y, request_id = offices.x, offices.y, offices.request_id
    entry = await emails_entry(db, request_id)
    question = {"user": str(x.users[offices.reader]), "type": "User", "field": "email"}
    for office in (x, y):
        admin = office.user("ACCOUNT_ADMIN")
        [node] = [
            n
            for n in await search(api, admin, org=str(office.id), **question)
            if n["decisionId"].startswith(f"{request_id}:")
        ]
        assert {o["organizationId"] for o in node["objects"]} == {str(office.id)}
        assert [o["id"] for o in node["objects"]] == [
            object_id for object_id, org in entry.objects if org == office.id
        ]
        assert (node["organizationId"], node["objectId"]) == (str(office.id), None)
        assert node["executions"] is None  # it also stands for the other office's reads
    [whole] = [
        n
        for n in await search(api, "secofficer", **question)
        if n["decisionId"].startswith(f"{request_id}:")
    ]
    assert len(whole["objects"]) == whole["executions"] == 8
    assert whole["organizationId"] is None  # filed in two offices


async def test_an_admin_does_not_find_another_offices_object_in_a_shared_entry(
    api: Api, db: Database, offices: TwoOffices
) -> None:
    """The object and the organization must be one object's: X's admin searching for a Y
    member finds nothing, though the entry holding that member also holds X's members."""
    x, y, request_id = offices.x, offices.y, offices.request_id
    y_member = str(y.users[y.user("STAFF")])
    question = {"type": "User", "field": "email", "id": y_member}
    mine = await search(api, x.user("ACCOUNT_ADMIN"), org=str(x.id), **question)
    assert [n for n in mine if n["decisionId"].startswith(f"{request_id}:")] == []
    [found] = [
        n
        for n in await search(api, "secofficer", **question)
        if n["decisionId"].startswith(f"{request_id}:")
    ]
    assert (found["objectId"], found["organizationId"]) == (y_member, str(y.id))
    assert len(found["objects"]) == 8  # the whole entry, for the security officer


async def test_an_admin_explaining_a_decision_sees_only_their_offices_objects(
    api: Api, db: Database, offices: TwoOffices
) -> None:
    x, request_id = offices.x, offices.request_id
    entry = await emails_entry(db, request_id)
    decision_id = f"{request_id}:{entry.first_index + entry.seq - entry.first_seq}"
    mine = await api.query(EXPLAIN, as_user=x.user("ACCOUNT_ADMIN"), variables={"id": decision_id})
    explained = mine["data"]["accessDecision"]
    assert {o["organizationId"] for o in explained["objects"]} == {str(x.id)}
    assert (explained["organizationId"], explained["executions"]) == (str(x.id), None)
    everything = await api.query(EXPLAIN, as_user="secofficer", variables={"id": decision_id})
    assert len(everything["data"]["accessDecision"]["objects"]) == 8
    elsewhere = await make_org(db)
    theirs = await api.query(
        EXPLAIN, as_user=elsewhere.user("ACCOUNT_ADMIN"), variables={"id": decision_id}
    )
    assert theirs["data"]["accessDecision"] is None  # nothing of it is filed in their office


async def test_the_export_prints_every_object_of_an_entry(
    db: Database,
    settings: Settings,
    offices: TwoOffices,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    y, request_id = offices.y, offices.request_id
    entry = await emails_entry(db, request_id)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "test-audit-key")
    get_settings.cache_clear()
    y_member = str(y.users[y.user("STAFF")])
    options = ["--object-type", "User", "--field", "email", "--object-id", y_member]
    try:
        capsys.readouterr()
        assert (
            await asyncio.to_thread(
                main, ["audit", "export", "--organization", str(y.id), *options]
            )
            == 0
        )
    finally:
        get_settings.cache_clear()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [line] = [line for line in lines if line["request_id"] == request_id]
    assert line["objects"] == [{"id": i, "organization_id": o} for i, o in entry.objects]
    assert (line["object_id"], line["organization_id"]) == (y_member, y.id)
    assert line["executions"] == 8


# ---- tampering with an object (A3) -------------------------------------------------------------


@pytest.mark.parametrize(("place", "forged"), [(0, "999999"), (1, 999999)])
async def test_verify_finds_an_object_or_organization_changed_in_an_entry(
    db: Database,
    settings: Settings,
    offices: TwoOffices,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    place: int,
    forged: str | int,
) -> None:
    request_id = offices.request_id
    entry = await emails_entry(db, request_id)
    objects = [list(o) for o in entry.objects]
    objects[3][place] = forged
    update = "UPDATE access_log SET objects = :o WHERE seq = :s"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "test-audit-key")
    get_settings.cache_clear()
    async with tampering(db) as connection:
        await connection.execute(text(update), {"o": json.dumps(objects), "s": entry.seq})
    try:
        failed = await asyncio.to_thread(main, ["audit", "verify"])
    finally:
        async with tampering(db) as connection:
            original = json.dumps([list(o) for o in entry.objects])
            await connection.execute(text(update), {"o": original, "s": entry.seq})
    try:
        assert failed == 1
        assert f"access log entry {entry.seq}: changed" in capsys.readouterr().err
        assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    finally:
        get_settings.cache_clear()
