"""A4: searching the access log (`accessLog`, `gateway audit export`): who read a user's email,
what a user did on a day; admins get their organization's entries, the security officer all of
them; searching is logged too, and nothing in the API changes the log (A6)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, get_named_type
from sqlalchemy import func, select
from starlette.applications import Starlette

from gateway.audit import AuditTrail, Entry
from gateway.cli import main
from gateway.data.db import Database
from gateway.data.pagination import encode_cursor
from gateway.models import (
    AccessLogEntry,
    AccessLogRequest,
    utcnow,
)
from gateway.schema import build_schema
from gateway.settings import Settings, get_settings
from tests.support import JSON, Api, World, codes, refusal_code, role_table
from tests.support.database import counting
from tests.support.factories import add_membership, make_org
from tests.support.readme import walkthrough_steps

SUNRISE = "Sunrise Family Practice"
DESERT = "Desert Spine Chiropractic"

LOG = """
query Log($org: ID, $user: ID, $type: String, $id: ID, $field: String,
          $since: DateTime!, $until: DateTime, $first: Int, $after: String) {
  accessLog(organizationId: $org, userId: $user, objectType: $type, objectId: $id,
            field: $field, since: $since, until: $until, first: $first, after: $after) {
    edges { cursor node {
      decisionId at userId username organizationId operation clientAddress
      objectType objectId objects { id organizationId } field action decision rule executions
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
READ_EMAIL = "query($id: ID!) { user(id: $id) { email } }"


def iso(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.isoformat()
    return datetime.combine(moment, time(), UTC).isoformat()


async def search(api: Api, as_user: str | None, **variables: Any) -> JSON:
    variables.setdefault("since", iso(utcnow() - timedelta(minutes=10)))
    return await api.query(LOG, as_user=as_user, variables=variables)


async def nodes(api: Api, as_user: str, **variables: Any) -> list[JSON]:
    """Every matching entry, newest first, paging through with ``after``."""
    found: list[JSON] = []
    after = None
    while True:
        body = await search(api, as_user, first=100, after=after, **variables)
        assert "errors" not in body, body["errors"]
        page = body["data"]["accessLog"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def decision_ids(db: Database, **where: Any) -> list[str]:
    """Decision ids of the entries whose request has these columns, newest first."""
    request = AccessLogRequest
    async with db.session() as session:
        rows = await session.execute(
            select(AccessLogEntry.seq, request.request_id, request.first_index, request.first_seq)
            .join(request, request.first_seq == AccessLogEntry.request_seq)
            .where(*(getattr(request, column) == value for column, value in where.items()))
            .order_by(AccessLogEntry.seq.desc())
        )
        return [f"{r.request_id}:{r.first_index + r.seq - r.first_seq}" for r in rows]


async def request_times(db: Database, request_ids: list[str]) -> dict[str, datetime]:
    async with db.session() as session:
        rows = await session.execute(
            select(AccessLogRequest.request_id, AccessLogRequest.at).where(
                AccessLogRequest.request_id.in_(request_ids)
            )
        )
        return {request_id: at for request_id, at in rows}


# ---- "who read user U's email in the last 30 days" -------------------------------------------


async def test_who_read_a_users_email_security_officer_everything_admins_their_org(
    api: Api, db: Database
) -> None:
    home = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    second, stranger = await make_org(db), await make_org(db)
    subject = home.user("STAFF")
    subject_id = str(home.users[subject])
    await add_membership(db, home.users[subject], second, "STAFF")  # V5: seen by two offices
    readers = {
        home.user("ACCOUNT_ADMIN"): READ_EMAIL,
        home.user("OFFICE_MANAGER"): READ_EMAIL,
        subject: "{ me { email } }",
        second.user("ACCOUNT_ADMIN"): READ_EMAIL,
        "helpdesk": READ_EMAIL,
        "auditor": READ_EMAIL,  # masked (V3)
        stranger.user("ACCOUNT_ADMIN"): READ_EMAIL,  # NOT_FOUND: never reaches the email (V1)
    }
    for reader, query in readers.items():
        await api.query(query, as_user=reader, variables={"id": subject_id})

    question = {"type": "User", "id": subject_id, "field": "email"}
    since = iso(utcnow() - timedelta(days=30))
    everything = await nodes(api, "secofficer", since=since, **question)
    home_only = await nodes(
        api, home.user("ACCOUNT_ADMIN"), org=str(home.id), since=since, **question
    )
    second_only = await nodes(
        api, second.user("ACCOUNT_ADMIN"), org=str(second.id), since=since, **question
    )

    def who(found: list[JSON]) -> set[tuple[str, str | None, str]]:
        assert all(n["decision"] == "allow" and n["objectId"] == subject_id for n in found)
        return {(n["username"], n["organizationId"], n["action"]) for n in found}

    in_home = {
        (home.user("ACCOUNT_ADMIN"), str(home.id), "read"),
        (home.user("OFFICE_MANAGER"), str(home.id), "read"),
    }
    in_second = {(second.user("ACCOUNT_ADMIN"), str(second.id), "read")}
    outside_offices = {
        (subject, None, "read"),
        ("helpdesk", None, "read"),
        ("auditor", None, "read_masked"),
    }
    assert who(everything) == in_home | in_second | outside_offices
    assert who(home_only) == in_home
    assert who(second_only) == in_second


async def test_a_read_is_filed_under_the_organization_whose_role_allowed_it(
    api: Api, db: Database
) -> None:
    """A1, A4: staff in one office and admin in another, reading a member of both: only the
    admin role allows the email, so the entry is the admin office's, not the lower id's."""
    staff_side = await make_org(db, members={"STAFF": 1})
    admin_side = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    reader = admin_side.user("ACCOUNT_ADMIN")
    await add_membership(db, admin_side.users[reader], staff_side, "STAFF")
    subject = staff_side.user("STAFF")
    await add_membership(db, staff_side.users[subject], admin_side, "STAFF")
    subject_id = str(staff_side.users[subject])
    body = await api.query(READ_EMAIL, as_user=reader, variables={"id": subject_id})
    assert body["data"]["user"]["email"], body
    question = {"type": "User", "id": subject_id, "field": "email"}
    found = await nodes(api, "secofficer", **question)
    assert {(n["username"], n["organizationId"]) for n in found} == {(reader, str(admin_side.id))}


async def test_the_security_officers_searches_are_not_shown_to_admins(
    api: Api, world: World
) -> None:
    """A6: an admin must not learn that the security officer is looking into them."""
    admin_id = world.user("admin")
    looked = await search(api, "secofficer", org=world.org(SUNRISE), user=admin_id)
    assert "errors" not in looked, looked
    seen_by_admin = await nodes(api, "admin", org=world.org(SUNRISE), type="Query")
    assert "secofficer" not in {n["username"] for n in seen_by_admin}
    own = await nodes(api, "secofficer", type="Query", field="accessLog")
    assert {n["organizationId"] for n in own if n["username"] == "secofficer"} == {None}


# ---- "everything user X did on day D" -------------------------------------------------------


async def append_entry(app: Starlette, user: str, user_id: int, at: datetime) -> str:
    """An entry of another day, appended by the gateway's own writer (the chain stays intact)."""
    trail = AuditTrail(
        request_id=f"other-day-{at.timestamp()}", at=at, user_id=user_id, username=user,
        client_address="198.51.100.1",
    )  # fmt: skip
    entry = Entry.of(
        organization_id=None, object_type="Query", field="me", action="read", allowed=False,
        rule=None,
    )  # fmt: skip
    trail.record(entry, None)
    assert await app.state.runtime.access_log.flush(trail)
    return trail.decision_id(0)


async def test_everything_a_user_did_on_a_day_and_nothing_else(
    api: Api, app: Starlette, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    actor, other = org.user("STAFF"), org.user("ACCOUNT_ADMIN")
    actor_id = org.users[actor]
    made = []
    for query in (
        "{ me { username email } }",
        "{ roles { code } }",
        "{ organizations { edges { node { name } } } }",
    ):
        made.append((await api.post(query, as_user=actor)).headers["x-request-id"])
        await api.post(query, as_user=other)  # interleaved: another user, the same minutes
    times = await request_times(db, made)
    day = times[made[0]].date()
    midnight = datetime.combine(day, time(), UTC)
    at_midnight = await append_entry(app, actor, actor_id, midnight)
    await append_entry(app, actor, actor_id, midnight - timedelta(microseconds=1))
    await append_entry(app, actor, actor_id, midnight + timedelta(days=1))

    on_the_day = {request_id for request_id, at in times.items() if at.date() == day}
    expected = {at_midnight} | {
        decision
        for decision in await decision_ids(db, user_id=actor_id)
        if decision.partition(":")[0] in on_the_day
    }
    window = {"user": str(actor_id), "since": iso(day), "until": iso(day + timedelta(days=1))}
    found = await nodes(api, "secofficer", **window)
    assert {n["decisionId"] for n in found} == expected
    assert {(n["username"], n["userId"]) for n in found} == {(actor, str(actor_id))}
    assert {n["clientAddress"] for n in found} == {"203.0.113.7", "198.51.100.1"}
    in_org = await nodes(api, other, org=str(org.id), **window)
    assert {n["decisionId"] for n in in_org} == {
        n["decisionId"] for n in found if n["organizationId"] == str(org.id)
    }
    assert in_org and len(in_org) < len(found)  # `me` and the catalogs belong to no office


# ---- who may search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "allowed"), role_table("secofficer").items(), ids=lambda v: str(v)
)
async def test_who_may_search_the_whole_log(api: Api, caller: str | None, allowed: bool) -> None:
    body = await search(api, caller, first=1)
    if allowed:
        assert "errors" not in body and body["data"]["accessLog"] is not None
    else:
        assert body["data"]["accessLog"] is None
        assert codes(body) == [refusal_code(caller)]


@pytest.mark.parametrize(
    ("caller", "allowed"), role_table("admin", "secofficer").items(), ids=lambda v: str(v)
)
async def test_who_may_search_sunrises_log(
    api: Api, world: World, caller: str | None, allowed: bool
) -> None:
    body = await search(api, caller, org=world.org(SUNRISE), first=1)
    if allowed:
        assert "errors" not in body and body["data"]["accessLog"] is not None
    else:
        assert body["data"]["accessLog"] is None
        assert codes(body) == [refusal_code(caller)]


@pytest.mark.parametrize(
    ("caller", "org"),
    [
        ("chiroadmin", SUNRISE),  # an admin of another organization
        ("admin", DESERT),  # admin of Sunrise, only staff at Desert Spine
    ],
)
async def test_an_admin_cannot_search_another_organizations_log(
    api: Api, world: World, caller: str, org: str
) -> None:
    body = await search(api, caller, org=world.org(org))
    assert body["data"]["accessLog"] is None
    assert codes(body) == ["FORBIDDEN"]


async def test_an_admin_gets_only_their_organizations_entries(api: Api, world: World) -> None:
    await api.query("{ me { username } }", as_user="chiroadmin")
    await api.query(f'{{ organization(id: "{world.org(SUNRISE)}") {{ name }} }}', as_user="office")
    found = await nodes(api, "admin", org=world.org(SUNRISE))
    assert found and {n["organizationId"] for n in found} == {world.org(SUNRISE)}
    assert "office" in {n["username"] for n in found}


# ---- pagination and bad input -----------------------------------------------------------------


async def test_paging_through_gives_every_entry_once_newest_first(
    api: Api, db: Database, settings: Settings
) -> None:
    org = await make_org(db, members={"STAFF": 1})
    user = org.user("STAFF")
    for query in (
        "{ me { username email phone } }",
        "{ roles { code name } }",
        "{ etools { code } }",
    ):
        await api.query(query, as_user=user)
    expected = await decision_ids(db, user_id=org.users[user])
    assert len(expected) > 7
    seen: list[JSON] = []
    after = None
    while True:
        body = await search(api, "secofficer", user=str(org.users[user]), first=3, after=after)
        page = body["data"]["accessLog"]
        assert len(page["edges"]) <= 3
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["decisionId"] for n in seen] == expected
    assert [n["at"] for n in seen] == sorted((n["at"] for n in seen), reverse=True)
    # Cursors hold entry numbers beyond an INTEGER id: a cursor past the end starts at the top.
    beyond = await search(
        api, "secofficer", user=str(org.users[user]), first=100, after=encode_cursor(2**40)
    )
    assert [e["node"]["decisionId"] for e in beyond["data"]["accessLog"]["edges"]] == expected


async def test_page_size_is_capped(api: Api, settings: Settings) -> None:
    largest = await search(api, "secofficer", first=settings.page_size_max)
    assert "errors" not in largest
    body = await search(api, "secofficer", first=settings.page_size_max + 1)
    assert body["data"]["accessLog"] is None and codes(body) == ["BAD_USER_INPUT"]


NOW = datetime(2025, 6, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "variables",
    [
        {"since": iso(NOW), "until": iso(NOW - timedelta(seconds=1))},  # until before since
        {"since": iso(NOW - timedelta(days=367)), "until": iso(NOW)},  # window too long
        {"since": iso(utcnow() - timedelta(days=367))},  # ... up to now
        {"after": "not-a-cursor"},
        {"after": encode_cursor(2**63)},  # beyond any entry number
        {"user": "abc"},
        {"org": "1e3"},
        {"id": "x" * 65},
        {"first": -1},
        {"since": "0001-01-01T00:00:00+05:00"},  # before anything UTC can hold
    ],
    ids=lambda v: next(iter(v.keys())) + ":" + str(next(iter(v.values())))[:24],
)
async def test_bad_input_is_refused(api: Api, variables: dict[str, Any]) -> None:
    body = await search(api, "secofficer", **variables)
    assert body["data"]["accessLog"] is None
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_a_window_of_exactly_the_maximum_is_fine(api: Api, settings: Settings) -> None:
    days = settings.access_log_window_max_days
    body = await search(api, "secofficer", since=iso(NOW - timedelta(days=days)), until=iso(NOW))
    assert "errors" not in body


async def test_times_without_an_offset_are_utc(api: Api, world: World, db: Database) -> None:
    response = await api.post("{ me { username } }", as_user="drsmith")
    request_id = response.headers["x-request-id"]
    at = (await request_times(db, [request_id]))[request_id]
    window = {"user": world.user("drsmith"), "until": iso(at + timedelta(seconds=1))}
    for since, found in ((at, True), (at + timedelta(microseconds=1), False)):
        naive = since.astimezone(UTC).replace(tzinfo=None).isoformat()
        entries = await nodes(api, "secofficer", since=naive, **window)
        assert (f"{request_id}:0" in {n["decisionId"] for n in entries}) is found


# ---- the log of reading the log, and no way to change it (A6) ----------------------------------


async def test_reading_the_log_leaves_its_own_entries(api: Api, world: World, db: Database) -> None:
    response = await api.post(
        LOG,
        as_user="admin",
        variables={"org": world.org(SUNRISE), "since": iso(utcnow() - timedelta(hours=1))},
    )
    request_id = response.headers["x-request-id"]
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AccessLogEntry.object_type, AccessLogEntry.field)
                .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
                .where(AccessLogRequest.request_id == request_id)
            )
        ).all()
    read = {(t, f) for t, f in rows}
    assert {
        ("Query", "accessLog"),
        ("AccessDecision", "rule"),
        ("AccessDecision", "username"),
    } <= read
    # The office's admin and the security officer both see that the admin searched the log.
    for searcher, org in (("secofficer", None), ("admin", world.org(SUNRISE))):
        found = await nodes(api, searcher, org=org, type="Query", field="accessLog")
        assert f"{request_id}:0" in {n["decisionId"] for n in found}


def reachable_types(root: GraphQLNamedType) -> Iterator[str]:
    """Names of the object types a field's result can lead to."""
    seen: set[str] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        if current.name in seen or not isinstance(current, GraphQLObjectType):
            continue
        seen.add(current.name)
        yield current.name
        pending += [get_named_type(field.type) for field in current.fields.values()]


def test_no_mutation_changes_or_deletes_log_entries(settings: Settings) -> None:
    """A6: no mutation names the log, and none returns anything that leads to an entry."""
    mutation = build_schema(settings)._schema.mutation_type
    assert mutation is not None
    for name, field in mutation.fields.items():
        assert not any(word in name.lower() for word in ("accesslog", "audit", "logentry")), name
        assert "AccessDecision" not in set(reachable_types(get_named_type(field.type))), name


# ---- cost ---------------------------------------------------------------------------------------


async def test_statement_count_does_not_grow_with_the_page(api: Api, app: Starlette) -> None:
    await api.query(
        "{ organizations(first: 20) { edges { node { id name members(first: 20) { edges { node {"
        " id roles { code } user { id name email } } } } } } } }",
        as_user="auditor",
    )
    counts = []
    for first in (5, 50):
        with counting(app) as statements:
            body = await search(
                api, "secofficer", first=first, since=iso(utcnow() - timedelta(days=1))
            )
        assert len(body["data"]["accessLog"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1]


# ---- JSON lines (gateway audit export) ----------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "test-audit-key")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def export(capsys: pytest.CaptureFixture[str], *options: str) -> list[JSON]:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "export", *options]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def test_export_without_options_prints_the_whole_log(
    api: Api, db: Database, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await api.query("{ me { username } }", as_user="office")
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(AccessLogEntry))
    lines = await export(capsys)
    assert [line["seq"] for line in lines] == list(range(1, (total or 0) + 1))


async def test_export_answers_the_same_questions_as_json_lines(
    api: Api, db: Database, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    subject, admin = org.user("STAFF"), org.user("ACCOUNT_ADMIN")
    subject_id = str(org.users[subject])
    await api.query(READ_EMAIL, as_user=admin, variables={"id": subject_id})
    await api.query("{ me { email } }", as_user=subject)
    since = iso(utcnow() - timedelta(days=30))
    email = ("--object-type", "User", "--object-id", subject_id, "--field", "email")
    readers = await export(capsys, "--since", since, *email)
    assert {(line["username"], line["organization_id"]) for line in readers} == {
        (admin, org.id),
        (subject, None),
    }
    in_org = await export(capsys, "--organization", str(org.id), *email)
    assert [line["username"] for line in in_org] == [admin]
    day = await export(capsys, "--user", subject_id, "--since", since, "--until", iso(utcnow()))
    assert [line["decision_id"] for line in day] == list(
        reversed(await decision_ids(db, user_id=org.users[subject]))
    )
    assert {line["username"] for line in day} == {subject}


async def test_export_refuses_a_window_that_ends_before_it_starts(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--since", "2025-06-02", "--until", "2025-06-01"]) == 2
    assert "--until is before --since" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "export", "--user", "abc"])


# ---- the README's examples ----------------------------------------------------------------------


async def test_readme_access_log_examples_work_as_written(api: Api) -> None:
    steps = walkthrough_steps("Querying the access log")
    assert [who for who, _ in steps] == ["secofficer", "secofficer", "admin"]
    since = iso(utcnow() - timedelta(days=30))
    for who, query in steps:
        body = await api.query(query, as_user=who, variables={"since": since})
        assert "errors" not in body, (query, body)
        assert body["data"]["accessLog"] is not None
