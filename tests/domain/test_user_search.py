"""The help desk's lookup (SPEC 2, R13): ``users(search:)``, for payer support and the payer
auditor only, by username, email, name or organization, paged and logged."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, update

from gateway.data import Database, encode_cursor
from gateway.models import Membership, Organization, User
from tests.support import JSON, Api, codes, refusal_code, role_table
from tests.support.accounts import Logged, logged, set_user
from tests.support.factories import add_membership, make_org

SEARCH = """query Lookup($search: String!, $first: Int, $after: String) {
  users(search: $search, first: $first, after: $after) {
    totalCount
    edges { cursor node { id username name email status } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ROOT = ("Query", "users")
EMPTY = {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
_markers = itertools.count(1)


@dataclass(frozen=True)
class People:
    """Four users each findable by one thing of theirs that holds ``marker``, and a removed
    member of the organization whose name holds it (their own name holds it reversed)."""

    marker: str
    by_username: int
    by_email: int
    by_name: int
    by_organization: int
    removed_member: int

    @property
    def found(self) -> list[str]:
        """Everyone ``marker`` finds, in id order."""
        ids = (self.by_username, self.by_email, self.by_name, self.by_organization)
        return [str(i) for i in sorted(ids)]


async def make_people(db: Database) -> People:
    marker = f"zq{next(_markers)}x"  # "zq1x" is in no other marker ("zq11x", ...)
    org = await make_org(db, members={"STAFF": 2})
    await _rename(db, org.id, f"The {marker.upper()} Clinic")
    member, leaver = org.user("STAFF", 1), org.user("STAFF", 2)
    await set_user(db, org.users[member], name="Mo Member")
    await set_user(db, org.users[leaver], name=f"Lee {marker[::-1]}")
    await _remove(db, org.members[leaver])
    return People(
        marker=marker,
        by_username=await _person(db, f"{marker}-un", "Una Name"),
        by_email=await _person(db, "emailed", "Emma Mail", email=f"E.{marker.upper()}@x.org"),
        by_name=await _person(db, "named", f"Nell {marker.title()}"),
        by_organization=org.users[member],
        removed_member=org.users[leaver],
    )


async def _person(db: Database, username: str, name: str, email: str | None = None) -> int:
    unique = f"{username}-{next(_markers)}"
    address = email or f"{unique}@people.example.org"
    async with db.transaction() as session:
        user_id: int = (
            await session.execute(
                insert(User).returning(User.id),
                [
                    {
                        "username": unique,
                        "email": address,
                        "email_normalized": address.lower(),
                        "name": name,
                        "status": "LOCKED",
                    }
                ],
            )
        ).scalar_one()
    return user_id


async def _rename(db: Database, org_id: int, name: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Organization).where(Organization.id == org_id).values(name=name)
        )


async def _remove(db: Database, membership_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Membership).where(Membership.id == membership_id).values(status="REMOVED")
        )


async def lookup(api: Api, search: str, caller: str | None = "helpdesk", **page: object) -> JSON:
    return await api.query(SEARCH, as_user=caller, variables={"search": search, **page})


def ids_of(body: JSON) -> list[str]:
    assert "errors" not in body, body["errors"]
    return [edge["node"]["id"] for edge in body["data"]["users"]["edges"]]


# ---- who may search: the help desk and the payer auditor, nobody else --------------------------


@pytest.mark.parametrize(
    ("caller", "allowed"), role_table("helpdesk", "auditor").items(), ids=lambda v: str(v)
)
async def test_only_the_help_desk_and_the_auditor_search_users(
    api: Api, caller: str | None, allowed: bool
) -> None:
    body = await lookup(api, "Nina Nurse", caller)
    if allowed:
        assert "errors" not in body, body
        assert [e["node"]["username"] for e in body["data"]["users"]["edges"]] == ["nurse"]
    else:
        assert body["data"] == {"users": None}
        assert codes(body) == [refusal_code(caller)]
        (error,) = body["errors"]
        assert error["path"] == ["users"] and error["extensions"]["decisionId"]


async def test_a_refused_caller_learns_nothing_from_the_text(api: Api) -> None:
    """Matching or not, valid or not: the same refusal (nobody else can probe for users)."""
    answers = [await lookup(api, text, "admin") for text in ("Nina Nurse", "no such one", "x")]
    assert {codes(a)[0] for a in answers} == {"FORBIDDEN"}
    assert all(a["data"] == {"users": None} for a in answers)


# ---- what it matches ---------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["helpdesk", "auditor"])
async def test_search_finds_by_username_email_name_and_organization(
    api: Api, db: Database, caller: str
) -> None:
    people = await make_people(db)
    m = people.marker
    assert ids_of(await lookup(api, f"{m}-UN", caller)) == [str(people.by_username)]
    assert ids_of(await lookup(api, f"e.{m}@x", caller)) == [str(people.by_email)]
    assert ids_of(await lookup(api, f"nell {m}", caller)) == [str(people.by_name)]
    assert ids_of(await lookup(api, f"the {m} clinic", caller)) == [str(people.by_organization)]
    assert ids_of(await lookup(api, m, caller)) == people.found


async def test_the_organization_counts_only_for_its_active_members(api: Api, db: Database) -> None:
    people = await make_people(db)
    assert str(people.removed_member) not in ids_of(await lookup(api, people.marker))
    their_name = f"Lee {people.marker[::-1]}"
    assert ids_of(await lookup(api, their_name)) == [str(people.removed_member)]


async def test_a_user_of_several_organizations_is_found_once(api: Api, db: Database) -> None:
    people = await make_people(db)
    other = await make_org(db, members={})
    await _rename(db, other.id, f"Second {people.marker} Office")
    await add_membership(db, people.by_organization, other, "STAFF")
    body = await lookup(api, people.marker)
    assert ids_of(body) == people.found
    assert body["data"]["users"]["totalCount"] == 4


@pytest.mark.parametrize("text", ["%%", "__", "%_", "\\%"])
async def test_wildcards_in_the_text_match_only_themselves(api: Api, text: str) -> None:
    assert (await lookup(api, text))["data"]["users"] == EMPTY


async def test_surrounding_blanks_are_ignored(api: Api, db: Database) -> None:
    people = await make_people(db)
    assert ids_of(await lookup(api, f"  {people.marker}-un\t")) == [str(people.by_username)]


# ---- the same shape whether or not something matched -------------------------------------------


async def test_no_match_is_an_empty_connection(api: Api) -> None:
    body = await lookup(api, "nobody is called this")
    assert body == {"data": {"users": EMPTY}}


async def test_a_match_and_no_match_answer_the_same_shape(api: Api, db: Database) -> None:
    people = await make_people(db)
    found = (await lookup(api, people.marker))["data"]["users"]
    missing = (await lookup(api, f"{people.marker}-missing"))["data"]["users"]
    assert found.keys() == missing.keys() == EMPTY.keys()
    assert found["pageInfo"].keys() == missing["pageInfo"].keys()


# ---- paging ------------------------------------------------------------------------------------


async def test_paging_through_gives_every_match_once_by_id(api: Api, db: Database) -> None:
    people = await make_people(db)
    first = (await lookup(api, people.marker, first=3))["data"]["users"]
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"] is True
    assert [e["cursor"] for e in first["edges"]] == [
        encode_cursor(int(i)) for i in people.found[:3]
    ]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    after = first["pageInfo"]["endCursor"]
    rest = (await lookup(api, people.marker, first=3, after=after))["data"]["users"]
    assert rest["totalCount"] == 4 and rest["pageInfo"]["hasNextPage"] is False
    seen = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert seen == people.found


async def test_page_size_is_capped_like_every_connection(api: Api) -> None:
    largest = api.settings.page_size_max
    assert "errors" not in await lookup(api, "nurse", first=largest)
    body = await lookup(api, "nurse", first=largest + 1)
    assert body["data"]["users"] is None and codes(body) == ["BAD_USER_INPUT"]


async def test_a_bad_cursor_is_bad_input(api: Api) -> None:
    body = await lookup(api, "nurse", after="not a cursor")
    assert body["data"]["users"] is None and codes(body) == ["BAD_USER_INPUT"]


# ---- input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "a", " b\t", "\n\n", "x" * 65, " " * 63 + "abc"])
async def test_a_blank_too_short_or_too_long_search_is_bad_input(api: Api, text: str) -> None:
    body = await lookup(api, text)
    assert body["data"] == {"users": None}
    (error,) = body["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "search",
        "minimum": 2,
        "maximum": 64,
    }


@pytest.mark.parametrize("text", ["Li", "x" * 64])
async def test_two_to_sixty_four_characters_are_searched(api: Api, text: str) -> None:
    assert "errors" not in await lookup(api, text)


async def test_text_the_log_cannot_hold_is_bad_input(api: Api) -> None:
    body = await lookup(api, "nurse\x00")
    assert body["data"] == {"users": None} and codes(body) == ["BAD_USER_INPUT"]


# ---- the access log ----------------------------------------------------------------------------


async def search_response(api: Api, search: str, caller: str) -> httpx.Response:
    variables = {"search": search}
    return await api.post(SEARCH, as_user=caller, variables=variables, operation="Lookup")


async def root_entry(db: Database, response: httpx.Response) -> Logged:
    """The request's entry of ``Query.users`` itself."""
    [root] = [e for e in await logged(db, response) if (e.object_type, e.field) == ROOT]
    return root


async def test_the_log_names_the_search_and_every_user_it_showed(api: Api, db: Database) -> None:
    people = await make_people(db)
    response = await search_response(api, people.marker, "helpdesk")
    root = await root_entry(db, response)
    assert (root.decision, root.username, root.operation) == ("allow", "helpdesk", "Lookup")
    assert root.objects == [(people.marker, None)]
    [emails] = [
        e for e in await logged(db, response) if (e.object_type, e.field) == ("User", "email")
    ]
    assert {object_id for object_id, _ in emails.objects} == set(people.found)


WHO_SEARCHED = """query($text: ID!, $since: DateTime!) {
  accessLog(objectType: "Query", field: "users", objectId: $text, since: $since) {
    edges { node { username decision objectId } }
  }
}"""


async def test_the_security_officer_finds_who_searched_for_a_text(api: Api, db: Database) -> None:
    people = await make_people(db)
    await search_response(api, people.marker, "helpdesk")
    await search_response(api, people.marker, "office")
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    variables = {"text": people.marker, "since": since}
    body = await api.query(WHO_SEARCHED, as_user="secofficer", variables=variables)
    nodes = [edge["node"] for edge in body["data"]["accessLog"]["edges"]]
    assert nodes == [
        {"username": "office", "decision": "deny", "objectId": people.marker},
        {"username": "helpdesk", "decision": "allow", "objectId": people.marker},
    ]


async def test_a_refused_search_is_logged_with_its_text(api: Api, db: Database) -> None:
    response = await search_response(api, "Nina Nurse", "frontdesk")
    root = await root_entry(db, response)
    assert (root.object_type, root.field, root.decision) == ("Query", "users", "deny")
    assert root.object_id == "Nina Nurse"


async def test_bad_input_is_logged_as_refused_with_the_reason(api: Api, db: Database) -> None:
    response = await search_response(api, "a", "helpdesk")
    root = await root_entry(db, response)
    assert (root.field, root.decision, root.object_id) == ("users", "deny", "a")
    assert root.rule is not None and root.rule.startswith("BAD_USER_INPUT: `search` must be")


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("ada\nsmith", "ada\\u000asmith"),
        ("\x1b[31mred", "\\u001b[31mred"),
        ("a\x7fb", "a\\u007fb"),
    ],
)
async def test_control_characters_are_escaped_in_the_log(
    api: Api, db: Database, text: str, stored: str
) -> None:
    response = await search_response(api, text, "helpdesk")
    assert response.json() == {"data": {"users": EMPTY}}
    root = await root_entry(db, response)
    assert root.object_id == stored
