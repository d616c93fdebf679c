"""V1-V6 as tables: every caller of the fixture world against every guarded field.

Outcomes: A allowed in clear, M masked, F FORBIDDEN (null + error), N the organization is
invisible (NOT_FOUND), U UNAUTHENTICATED.
"""

from __future__ import annotations

import re

import pytest

from tests.support import JSON, Api, World, dig, errors_at

SUNRISE = "Sunrise Family Practice"
CALLERS = (
    "admin",
    "office",
    "finance",
    "drsmith",
    "nurse",
    "frontdesk",
    "biller",
    "agencyadmin",
    "chiroadmin",
    "auditor",
    "helpdesk",
    "secofficer",
    "leaver",
    None,
)

# field selection on Sunrise -> outcome per caller, in CALLERS order.
ORGANIZATION_FIELDS: dict[str, str] = {
    "name": "AAAAAAANNAAANU",
    "kind": "AAAAAAANNAAANU",
    "providerId": "AAAAAAANNAAANU",
    "correspondenceAddress { city }": "AAFAAAANNAAFNU",
    "taxIds { tin }": "AAAFFFANNAFFNU",
    "eftAccount { bankName }": "FFAFFFFNNAFFNU",
    "members { totalCount }": "AAFFFFFNNAAFNU",
    "agencyGrants { status }": "AAFFFFFNNAAFNU",
    "hasSingleAdmin": "AAFFFFFNNAAFNU",
    "providers { edges { cursor } }": "AAFAAAANNAAFNU",
}

MASKED = re.compile(r"^(\*+\d{4}|\w\*\*\*@[\w.]+|\*\*\*-\*\*\*-\d{4})$")


def _cases(table: dict[str, str]) -> list[tuple[str, str | None, str]]:
    return [
        (selection, caller, outcomes[i])
        for selection, outcomes in table.items()
        for i, caller in enumerate(CALLERS)
    ]


def outcome_of(body: JSON, path: list[str | int], org_path: list[str | int]) -> str:
    """Classify what the caller got at ``path`` inside the organization at ``org_path``."""
    if dig(body["data"], org_path) is None:
        (error,) = errors_at(body, org_path)
        return {"NOT_FOUND": "N", "UNAUTHENTICATED": "U"}[error["extensions"]["code"]]
    value = dig(body["data"], path)
    if value is None:
        (error,) = errors_at(body, path)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["extensions"]["decisionId"]
        return "F"
    return "M" if isinstance(value, str) and MASKED.match(value) else "A"


@pytest.mark.parametrize(("selection", "caller", "expected"), _cases(ORGANIZATION_FIELDS))
async def test_organization_field_visibility(
    api: Api, world: World, selection: str, caller: str | None, expected: str
) -> None:
    query = f'query {{ organization(id: "{world.org(SUNRISE)}") {{ id {selection} }} }}'
    body = await api.query(query, as_user=caller)
    field = selection.split(" ")[0]
    assert outcome_of(body, ["organization", field], ["organization"]) == expected


# Fields below an object the caller can reach; callers who cannot reach it are covered above.
NESTED: list[tuple[str, list[str | int], dict[str, str]]] = [
    (
        "eftAccount { accountNumber routingNumber }",
        ["organization", "eftAccount", "accountNumber"],
        {"finance": "A", "auditor": "M"},
    ),
    (
        "providers { edges { node { npi deaNumber } } }",
        ["organization", "providers", "edges", 0, "node", "deaNumber"],
        {
            "admin": "A",
            "office": "A",
            "drsmith": "A",
            "nurse": "A",
            "frontdesk": "F",
            "biller": "F",
            "auditor": "A",
            "helpdesk": "F",
        },
    ),
    (
        "members(first: 1) { edges { node { user { email phone } } } }",
        ["organization", "members", "edges", 0, "node", "user", "email"],
        {"admin": "A", "office": "A", "auditor": "M", "helpdesk": "A"},
    ),
    (
        "members(first: 1) { edges { node { user { email phone } } } }",
        ["organization", "members", "edges", 0, "node", "user", "phone"],
        {"admin": "A", "office": "A", "auditor": "M", "helpdesk": "A"},
    ),
    (
        "members(first: 1) { edges { node { roles { code } etools { code } providers { npi } } } }",
        ["organization", "members", "edges", 0, "node", "roles"],
        {"admin": "A", "office": "A", "auditor": "A", "helpdesk": "A"},
    ),
]


@pytest.mark.parametrize(
    ("selection", "path", "caller", "expected"),
    [(sel, path, caller, out) for sel, path, table in NESTED for caller, out in table.items()],
)
async def test_nested_field_visibility(
    api: Api, world: World, selection: str, path: list[str | int], caller: str, expected: str
) -> None:
    query = f'query {{ organization(id: "{world.org(SUNRISE)}") {{ id {selection} }} }}'
    body = await api.query(query, as_user=caller)
    assert outcome_of(body, path, ["organization"]) == expected


def test_every_caller_appears_in_every_row() -> None:
    assert all(len(row) == len(CALLERS) for row in ORGANIZATION_FIELDS.values())


# V4: which of Sunrise's providers each caller sees.
PROVIDER_SCOPE = {
    "admin": ["1000000001", "1000000002"],
    "office": ["1000000001", "1000000002"],
    "drsmith": ["1000000001"],
    "nurse": ["1000000001"],
    "frontdesk": ["1000000002"],
    "biller": ["1000000001"],  # the grant is limited to Dr. Smith
    "auditor": ["1000000001", "1000000002"],
    "helpdesk": ["1000000001", "1000000002"],
}


@pytest.mark.parametrize(("caller", "npis"), PROVIDER_SCOPE.items())
async def test_assigned_providers_only(
    api: Api, world: World, caller: str, npis: list[str]
) -> None:
    query = "query($id: ID!) { organization(id: $id) { providers { edges { node { npi } } } } }"
    body = await api.query(query, as_user=caller, variables={"id": world.org(SUNRISE)})
    edges = body["data"]["organization"]["providers"]["edges"]
    assert [e["node"]["npi"] for e in edges] == npis


# ---- The help desk's lookup (Query.users): who may search, and what a found user shows ---------

# Who may run the search at all (outcomes as above; nobody else enumerates users).
USER_SEARCH: dict[str | None, str] = {
    "admin": "F",
    "office": "F",
    "finance": "F",
    "drsmith": "F",
    "nurse": "F",
    "frontdesk": "F",
    "biller": "F",
    "agencyadmin": "F",
    "chiroadmin": "F",
    "auditor": "A",
    "helpdesk": "A",
    "secofficer": "F",
    "leaver": "F",
    None: "U",
}
SEARCH = 'query { users(search: "Nina Nurse") { %s } }'
FOUND: list[str | int] = ["users", "edges", 0, "node"]
# Each field of the connection and of the user it finds, for the callers who may search.
FOUND_USER_FIELDS: list[tuple[str, list[str | int], dict[str, str]]] = [
    ("totalCount", ["users", "totalCount"], {"auditor": "A", "helpdesk": "A"}),
    (
        "pageInfo { hasNextPage }",
        ["users", "pageInfo", "hasNextPage"],
        {"auditor": "A", "helpdesk": "A"},
    ),
    (
        "pageInfo { endCursor }",
        ["users", "pageInfo", "endCursor"],
        {"auditor": "A", "helpdesk": "A"},
    ),
    ("edges { cursor }", ["users", "edges", 0, "cursor"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { id } }", [*FOUND, "id"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { username } }", [*FOUND, "username"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { name } }", [*FOUND, "name"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { email } }", [*FOUND, "email"], {"auditor": "M", "helpdesk": "A"}),
    ("edges { node { phone } }", [*FOUND, "phone"], {"auditor": "M", "helpdesk": "A"}),
    ("edges { node { status } }", [*FOUND, "status"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { lastLoginAt } }", [*FOUND, "lastLoginAt"], {"auditor": "A", "helpdesk": "A"}),
    ("edges { node { createdAt } }", [*FOUND, "createdAt"], {"auditor": "A", "helpdesk": "A"}),
    (
        "edges { node { memberships { roles { code } organization { name } } } }",
        [*FOUND, "memberships", 0, "organization", "name"],
        {"auditor": "A", "helpdesk": "A"},
    ),
]


def search_outcome(body: JSON, path: list[str | int]) -> str:
    """Classify what the caller got at ``path`` of the search (a refusal of the root itself
    included)."""
    errors = errors_at(body, path)
    if errors:
        (error,) = errors
        code = error["extensions"]["code"]
        assert code == "UNAUTHENTICATED" or error["extensions"]["decisionId"]
        return {"FORBIDDEN": "F", "UNAUTHENTICATED": "U"}[code]
    value = dig(body["data"], path)
    return "M" if isinstance(value, str) and MASKED.match(value) else "A"


@pytest.mark.parametrize(("caller", "expected"), USER_SEARCH.items(), ids=str)
async def test_who_may_search_users(api: Api, caller: str | None, expected: str) -> None:
    body = await api.query(SEARCH % "totalCount", as_user=caller)
    assert search_outcome(body, ["users"]) == expected


@pytest.mark.parametrize(
    ("selection", "path", "caller", "expected"),
    [
        (s, path, caller, out)
        for s, path, table in FOUND_USER_FIELDS
        for caller, out in table.items()
    ],
)
async def test_found_user_field_visibility(
    api: Api, selection: str, path: list[str | int], caller: str, expected: str
) -> None:
    body = await api.query(SEARCH % f"{selection} edges {{ node {{ username }} }}", as_user=caller)
    assert dig(body["data"], [*FOUND, "username"]) == "nurse", body
    assert search_outcome(body, path) == expected


def test_the_search_table_names_every_caller() -> None:
    assert tuple(USER_SEARCH) == CALLERS
    allowed = {caller for caller, outcome in USER_SEARCH.items() if outcome == "A"}
    assert all(table.keys() == allowed for _, _, table in FOUND_USER_FIELDS)
