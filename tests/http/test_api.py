"""The public contract around the visibility tables: V1, V5, V6, paging, errors, endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import insert, text, update

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.models import Membership, MembershipRole, User
from gateway.settings import Environment, Settings
from tests.support import JSON, Api, World, app_client

SUNRISE, CANYON, DESERT = "Sunrise Family Practice", "Canyon Dental", "Desert Spine Chiropractic"
ORG_NAME = "query($id: ID!) { organization(id: $id) { id name } }"


async def _org_answer(api: Api, caller: str, org_id: str) -> tuple[JSON, list[tuple[str, JSON]]]:
    body = await api.query(ORG_NAME, as_user=caller, variables={"id": org_id})
    return body["data"], [(e["message"], e["extensions"]) for e in body.get("errors", [])]


@pytest.mark.parametrize(
    ("caller", "org"),
    [("biller", CANYON), ("chiroadmin", SUNRISE), ("frontdesk", DESERT), ("leaver", SUNRISE)],
)
async def test_invisible_organization_answers_like_a_missing_one(
    api: Api, world: World, caller: str, org: str
) -> None:
    invisible = await _org_answer(api, caller, world.org(org))
    missing = await _org_answer(api, caller, "987654321")
    malformed = await _org_answer(api, caller, "not-an-id")
    too_large = await _org_answer(api, caller, "99999999999")
    assert invisible == missing == malformed == too_large
    assert invisible == (
        {"organization": None},
        [("Organization not found", {"code": "NOT_FOUND"})],
    )


@pytest.mark.parametrize(
    ("caller", "names"),
    [
        ("admin", [SUNRISE, DESERT]),
        ("biller", [SUNRISE, "Summit Billing LLC"]),  # R11: only the ACTIVE grant's client
        ("frontdesk", [SUNRISE]),
        ("leaver", []),  # R8: a removed member sees nothing
    ],
)
async def test_organizations_lists_only_visible_ones(
    api: Api, caller: str, names: list[str]
) -> None:
    body = await api.query("{ organizations { edges { node { name } } } }", as_user=caller)
    assert sorted(e["node"]["name"] for e in body["data"]["organizations"]["edges"]) == sorted(
        names
    )


async def test_admin_of_other_org_sees_nothing_of_the_membership_elsewhere(
    api: Api, world: World
) -> None:
    """V5: Desert Spine's admin looks at Alice, who is also Sunrise's admin."""
    query = """query($id: ID!) { user(id: $id) { name email memberships {
        organization { name } roles { code } createdAt } } }"""
    body = await api.query(query, as_user="chiroadmin", variables={"id": world.user("admin")})
    user = body["data"]["user"]
    assert user["name"] == "Alice Admin"
    assert [m["organization"]["name"] for m in user["memberships"]] == [DESERT]
    assert SUNRISE not in str(body) and "ACCOUNT_ADMIN" not in str(body)


async def test_user_outside_the_callers_organizations_is_not_found(api: Api, world: World) -> None:
    query = "query($id: ID!) { user(id: $id) { name } }"
    body = await api.query(query, as_user="admin", variables={"id": world.user("canyonadmin")})
    assert body["data"]["user"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_staff_see_themselves_not_colleagues(api: Api, world: World) -> None:
    query = "query($id: ID!) { user(id: $id) { name } }"
    body = await api.query(query, as_user="frontdesk", variables={"id": world.user("nurse")})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    me = await api.query(
        "{ me { name email memberships { roles { code } } } }", as_user="frontdesk"
    )
    assert me["data"]["me"] == {
        "name": "Frank Desk",
        "email": "desk@sunrise.example.org",
        "memberships": [{"roles": [{"code": "STAFF"}]}],
    }


SIGNED_IN = ["admin", "frontdesk", "finance", "biller", "auditor", "secofficer", "leaver"]


@pytest.mark.parametrize("caller", SIGNED_IN)
async def test_catalogs_are_readable_by_any_signed_in_user(api: Api, caller: str) -> None:
    body = await api.query(
        "{ roles { code employeeOnly } etools { code organizationKinds } }", as_user=caller
    )
    assert "errors" not in body
    assert len(body["data"]["roles"]) == 11
    chiro = [t for t in body["data"]["etools"] if t["code"] == "CHIROPRACTIC_AUTH"]
    assert chiro == [{"code": "CHIROPRACTIC_AUTH", "organizationKinds": ["CHIROPRACTIC"]}]


@pytest.mark.parametrize(
    "query",
    [
        "{ me { id } }",
        "{ roles { code } }",
        "{ etools { code } }",
        "{ organizations { edges { cursor } } }",
        '{ organization(id: "1") { id } }',
        '{ user(id: "1") { id } }',
        "{ billingAgencies { edges { cursor } } }",
    ],
)
async def test_unauthenticated_caller_gets_unauthenticated(api: Api, query: str) -> None:
    body = await api.query(query, as_user=None)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert all(value is None for value in body["data"].values())


def _forged(secret: str, **claims: object) -> dict[str, str]:
    now = datetime.now(UTC)
    payload = {"sub": "admin", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, secret, algorithm='HS256')}"}


@pytest.mark.parametrize(
    "headers",
    [
        _forged("not-the-secret-but-long-enough-for-hmac"),
        {"Authorization": "Bearer not.a.token"},
        {"Authorization": "Basic YWRtaW46cGFzcw=="},
    ],
)
async def test_bad_tokens_are_anonymous(api: Api, headers: dict[str, str]) -> None:
    response = await api.client.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_expired_token_is_anonymous(api: Api) -> None:
    token = mint_token(api.settings, "admin", ttl=timedelta(minutes=-5))
    response = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


MEMBERS_PAGE = """query($id: ID!, $first: Int, $after: String) { organization(id: $id) {
    members(first: $first, after: $after) { totalCount edges { cursor node { user { username } } }
    pageInfo { hasNextPage endCursor } } } }"""


async def test_cursor_pagination_walks_every_member_once(api: Api, world: World) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = await api.query(
            MEMBERS_PAGE,
            as_user="admin",
            variables={"id": world.org(SUNRISE), "first": 2, "after": after},
        )
        members = body["data"]["organization"]["members"]
        seen += [e["node"]["user"]["username"] for e in members["edges"]]
        if not members["pageInfo"]["hasNextPage"]:
            break
        after = members["pageInfo"]["endCursor"]
    assert seen == ["admin", "office", "finance", "drsmith", "nurse", "frontdesk"]
    assert members["totalCount"] == 6  # the REMOVED leaver is not an active member


@pytest.mark.parametrize(
    ("first", "after"),
    [(101, None), (-1, None), (5, "bm90LWEtY3Vyc29y"), (5, "azo5OTk5OTk5OTk5OTk5OTk5OTk5OTk=")],
)
async def test_bad_page_arguments_are_bad_user_input(
    api: Api, world: World, first: int, after: str | None
) -> None:
    body = await api.query(
        MEMBERS_PAGE,
        as_user="admin",
        variables={"id": world.org(SUNRISE), "first": first, "after": after},
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_too_deep_query_is_refused_before_running(api: Api) -> None:
    nested = "memberships { organization { members { edges { node { user { " * 3
    query = "{ me { " + nested + "id" + " } } } } } }" * 3 + " } }"
    response = await api.post(query, as_user="admin")
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"QUERY_TOO_COMPLEX"}


@pytest.mark.parametrize("query", ["{ me { id ", "{ me { noSuchField } }"])
async def test_malformed_query_is_bad_user_input(api: Api, query: str) -> None:
    response = await api.post(query, as_user="admin")
    assert {e["extensions"]["code"] for e in response.json()["errors"]} == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: ID!) { organization(id: $id) { name } }", {"id": {"an": "object"}}),
        ("query($n: Int) { organizations(first: $n) { __typename } }", {"n": 2**40}),
        ("query($n: Int) { organizations(first: $n) { __typename } }", {"n": "abc"}),
        (
            "query($s: DateTime!) { accessLog(since: $s) { __typename } }",
            {"s": "2025-13-01T00:00:00Z"},
        ),
    ],
)
async def test_variables_of_the_wrong_type_are_bad_user_input(
    api: Api, query: str, variables: dict[str, object]
) -> None:
    """Refused before anything runs (no path): the request is wrong, not the server."""
    response = await api.post(query, as_user="secofficer", variables=variables)
    assert response.status_code == 200
    assert {e["extensions"]["code"] for e in response.json()["errors"]} == {"BAD_USER_INPUT"}


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ready"}
    await api.query("{ roles { code } }", as_user="admin")
    metrics = (await api.client.get("/metrics")).text
    assert "gateway_sql_statements_per_request_count" in metrics
    assert "gateway_access_log_entries_per_request_sum" in metrics


async def test_graphiql_is_served_in_development(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_removal_takes_effect_on_the_next_request(
    api: Api, world: World, settings: Settings
) -> None:
    """R8, and roles from the database on every request: the same token stops working."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            user_id = (
                await session.execute(
                    insert(User).returning(User.id),
                    [
                        {
                            "username": "temp",
                            "email": "temp@canyon.example.org",
                            "email_normalized": "temp@canyon.example.org",
                            "name": "Tem Porary",
                            "status": "ACTIVE",
                        }
                    ],
                )
            ).scalar_one()
            membership_id = (
                await session.execute(
                    insert(Membership).returning(Membership.id),
                    [
                        {
                            "user_id": user_id,
                            "organization_id": world.orgs[CANYON],
                            "status": "ACTIVE",
                            "employment": "EMPLOYEE",
                        }
                    ],
                )
            ).scalar_one()
            await session.execute(
                insert(MembershipRole), [{"membership_id": membership_id, "role": "STAFF"}]
            )
        assert (await _org_answer(api, "temp", world.org(CANYON)))[0] == {
            "organization": {"id": world.org(CANYON), "name": CANYON}
        }
        async with db.transaction() as session:
            await session.execute(
                update(Membership).where(Membership.id == membership_id).values(status="REMOVED")
            )
        data, errors = await _org_answer(api, "temp", world.org(CANYON))
        assert data == {"organization": None}
        assert errors == [("Organization not found", {"code": "NOT_FOUND"})]
    finally:
        await db.dispose()


async def test_production_hides_graphiql_and_introspection_from_anonymous(
    settings: Settings, world: World
) -> None:
    production = settings.model_copy(
        update={"env": Environment.PRODUCTION, "jwt_secret": "a-production-secret-0123456789"}
    )
    async with app_client(production) as client:
        ide = await client.get("/graphql", headers={"Accept": "text/html"})
        schema = await client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert ide.status_code == 404
    assert schema.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_client_admins_do_not_see_agency_staff_contact_data(api: Api, world: World) -> None:
    query = """query($id: ID!) { organization(id: $id) { agencyGrants {
        status agency { name } staff { email phone } } } }"""
    body = await api.query(query, as_user="admin", variables={"id": world.org(SUNRISE)})
    (grant,) = body["data"]["organization"]["agencyGrants"]
    assert grant["agency"] == {"name": "Summit Billing LLC"}
    assert grant["staff"] == [{"email": None, "phone": None}]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


async def test_no_answer_without_the_callers_roles(
    api: Api, world: World, settings: Settings
) -> None:
    """If the caller's roles cannot be read, nothing is answered: 503, UNAVAILABLE, no data."""
    db = Database(settings.database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE payer_roles RENAME TO payer_roles_away"))
        try:
            response = await api.post(
                ORG_NAME, as_user="admin", variables={"id": world.org(SUNRISE)}
            )
        finally:
            async with db.engine.begin() as connection:
                await connection.execute(text("ALTER TABLE payer_roles_away RENAME TO payer_roles"))
    finally:
        await db.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "The gateway cannot reach its database",
                "extensions": {"code": "UNAVAILABLE"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: ID!) { organization(id: $id) { id } }", {"id": "1\u0000"}),
        (
            "mutation($p: String!, $t: String!) { requestAccess(providerId: $p, tin: $t) { id } }",
            {"p": "P-1001\u0000", "t": "111111111"},
        ),
    ],
)
async def test_nul_characters_are_bad_input_on_both_databases(
    api: Api, query: str, variables: JSON
) -> None:
    body = await api.query(query, as_user="admin", variables=variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_list_of_ids_is_capped(api: Api, world: World) -> None:
    update = """mutation($org: ID!, $m: ID!, $ids: [ID!]) {
        updateMemberAccess(organizationId: $org, membershipId: $m, input: {providerIds: $ids}) {
        id } }"""
    variables = {"org": world.org(SUNRISE), "m": "1", "ids": [str(i) for i in range(1, 600)]}
    body = await api.query(update, as_user="admin", variables=variables)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "500" in error["message"]
