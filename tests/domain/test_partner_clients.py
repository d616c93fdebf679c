"""Partner billing systems (SPEC 1, R11, V1, A1): an agency's OAuth2 clients, POST /oauth/token,
and what a client's token sees: its agency's ACTIVE grants, nothing else."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select, update

from gateway.data.db import Database
from gateway.models import Membership, Organization, PartnerClient, PasswordRecovery, User
from gateway.settings import Settings
from tests.support import FIXTURE_CALLERS, JSON, Api, World, app_client, codes, refusal_code
from tests.support.accounts import ME, Logged, logged, login_error
from tests.support.database import access_log_unwritable
from tests.support.factories import Org, make_grant, make_org
from tests.support.oidc import Jwks, hs256, new_key, oidc_settings, serving_jwks, signed

SUMMIT, SUNRISE, CANYON, DESERT = (
    "Summit Billing LLC", "Sunrise Family Practice", "Canyon Dental", "Desert Spine Chiropractic",
)  # fmt: skip
GRANTED_NPI, UNGRANTED_NPI = "1000000001", "1000000002"
ADDRESS = "203.0.113.7"  # the api fixture's client address
CLIENT_FIELDS = "clientId name createdAt secretRotatedAt lastUsedAt revokedAt"
CREATE = f"""mutation Create($org: ID!, $name: String!) {{
  createPartnerClient(organizationId: $org, name: $name) {{
    client {{ {CLIENT_FIELDS} }} clientSecret }} }}"""
ROTATE = f"""mutation Rotate($org: ID!, $client: String!) {{
  rotatePartnerClientSecret(organizationId: $org, clientId: $client) {{
    client {{ {CLIENT_FIELDS} }} clientSecret }} }}"""
REVOKE = f"""mutation Revoke($org: ID!, $client: String!) {{
  revokePartnerClient(organizationId: $org, clientId: $client) {{ {CLIENT_FIELDS} }} }}"""
CLIENTS = f"""query Clients($org: ID!) {{
  organization(id: $org) {{ partnerClients {{ {CLIENT_FIELDS} }} }} }}"""
ORGANIZATION = """query Org($id: ID!) { organization(id: $id) {
  name providers(first: 50) { edges { node { npi } } } } }"""
ORGANIZATIONS = "query Orgs { organizations(first: 50) { edges { node { name } } } }"
REVOKE_GRANT = """mutation RevokeGrant($org: ID!, $grant: ID!) {
  revokeAgencyGrant(organizationId: $org, grantId: $grant) { status } }"""


# ---- helpers --------------------------------------------------------------------------------


class Partner:
    """A partner client as its agency's admin received it."""

    def __init__(self, agency_id: int | str, admin: str, created: JSON) -> None:
        self.agency_id, self.admin = str(agency_id), admin
        self.client_id: str = created["client"]["clientId"]
        self.secret: str = created["clientSecret"]

    def basic(self, secret: str | None = None) -> dict[str, str]:
        return basic_header(self.client_id, self.secret if secret is None else secret)

    def form(self, secret: str | None = None) -> dict[str, str]:
        secret = self.secret if secret is None else secret
        return {"client_id": self.client_id, "client_secret": secret}


def basic_header(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


async def create_partner(
    api: Api, agency_id: int | str, admin: str, name: str = "Biller"
) -> Partner:
    body = await api.query(CREATE, as_user=admin, variables={"org": str(agency_id), "name": name})
    assert "errors" not in body, body
    return Partner(agency_id, admin, body["data"]["createPartnerClient"])


async def token_request(
    client: httpx.AsyncClient,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    *,
    grant: bool = True,
) -> httpx.Response:
    form = ({"grant_type": "client_credentials"} if grant else {}) | (data or {})
    return await client.post("/oauth/token", data=form, headers=headers or {})


async def token_of(client: httpx.AsyncClient, partner: Partner) -> str:
    response = await token_request(client, headers=partner.basic())
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def as_partner(
    client: httpx.AsyncClient, token: str, query: str, variables: JSON | None = None
) -> JSON:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def sees(client: httpx.AsyncClient, token: str, org_id: int | str) -> bool:
    body = await as_partner(client, token, ORGANIZATION, {"id": str(org_id)})
    if body["data"]["organization"] is None:
        assert codes(body) == ["NOT_FOUND"], body  # V1: the answer for a missing id
        return False
    return True


async def me(client: httpx.AsyncClient, token: str) -> str | None:
    body = await as_partner(client, token, ME)
    user = (body.get("data") or {}).get("me")
    return None if user is None else str(user["username"])


async def make_agency_with_client(db: Database) -> tuple[Org, Org, str]:
    """A fresh agency and client office with an ACTIVE grant covering all its providers."""
    agency = await make_org(db, kind="BILLING_AGENCY", members={"AGENCY_ADMIN": 1}, providers=0)
    office = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    grant_id = await make_grant(db, office, agency, "ACTIVE")
    return agency, office, grant_id


@pytest.fixture
async def partner(api: Api, world: World) -> Partner:
    """A client of Summit Billing: its grants are Sunrise (ACTIVE, one provider) and Canyon
    Dental (REVOKED)."""
    return await create_partner(api, world.org(SUMMIT), "agencyadmin")


# ---- managing clients -----------------------------------------------------------------------


async def test_the_agency_admin_creates_a_client_shown_its_secret_once(
    api: Api, world: World, db: Database
) -> None:
    body = await api.query(
        CREATE, as_user="agencyadmin", variables={"org": world.org(SUMMIT), "name": " Claims Bot "}
    )
    created = body["data"]["createPartnerClient"]
    client, secret = created["client"], created["clientSecret"]
    assert client["clientId"].startswith("pc-") and client["name"] == "Claims Bot"
    assert client["secretRotatedAt"] is None and client["revokedAt"] is None
    assert len(secret) >= 43  # 256 random bits, URL-safe base64
    listed = await api.query(CLIENTS, as_user="agencyadmin", variables={"org": world.org(SUMMIT)})
    clients = listed["data"]["organization"]["partnerClients"]
    assert client in clients
    assert secret not in str(listed)  # never shown again


async def test_the_secret_is_stored_as_its_digest_only_and_the_account_has_no_membership(
    partner: Partner, db: Database
) -> None:
    async with db.session() as session:
        row = await session.scalar(
            select(PartnerClient).where(PartnerClient.client_id == partner.client_id)
        )
        assert row is not None
        account = await session.get(User, row.service_user_id)
        memberships = await session.scalar(
            select(func.count()).where(Membership.user_id == row.service_user_id)
        )
    assert account is not None
    assert row.secret_hash == hashlib.sha256(partner.secret.encode()).hexdigest()
    stored = [str(getattr(row, c.key)) for c in PartnerClient.__table__.columns]
    stored += [str(getattr(account, c.key)) for c in User.__table__.columns]
    assert not any(partner.secret in value for value in stored)
    assert account.username == f"partner:{partner.client_id}"  # ':' no registration allows
    assert account.email.endswith("@partner-client.invalid")
    assert (account.password_hash, account.status, memberships) == (None, "ACTIVE", 0)


@pytest.mark.parametrize("caller", FIXTURE_CALLERS)
async def test_only_the_agencys_admin_manages_its_clients(
    api: Api, world: World, partner: Partner, caller: str | None
) -> None:
    org = world.org(SUMMIT)
    mutations = {
        "createPartnerClient": (CREATE, {"org": org, "name": "Another"}),
        "rotatePartnerClientSecret": (ROTATE, {"org": org, "client": partner.client_id}),
        "revokePartnerClient": (REVOKE, {"org": org, "client": partner.client_id}),
    }
    for name, (mutation, variables) in mutations.items():
        body = await api.query(mutation, as_user=caller, variables=variables)
        if caller == "agencyadmin":
            assert body["data"][name] is not None, body
        else:
            assert body["data"] == {name: None}
            assert codes(body) == [refusal_code(caller)]


# V1 decides who sees Summit at all; the policy who of those reads its clients.
CLIENT_READERS = {
    caller: "ok" if caller in ("agencyadmin", "auditor", "secofficer")
    else "FORBIDDEN" if caller in ("biller", "helpdesk")
    else refusal_code(caller) if caller is None
    else "NOT_FOUND"
    for caller in FIXTURE_CALLERS
}  # fmt: skip


@pytest.mark.parametrize(("caller", "expected"), CLIENT_READERS.items())
async def test_who_reads_an_agencys_clients(
    api: Api, world: World, partner: Partner, caller: str | None, expected: str
) -> None:
    body = await api.query(CLIENTS, as_user=caller, variables={"org": world.org(SUMMIT)})
    if expected == "ok":
        clients = body["data"]["organization"]["partnerClients"]
        assert partner.client_id in [c["clientId"] for c in clients]
    else:
        assert codes(body) == [expected]
        assert partner.client_id not in str(body)


async def test_clients_belong_to_billing_agencies_only(api: Api, db: Database) -> None:
    office = await make_org(db, members={"AGENCY_ADMIN": 1})  # a role out of place
    body = await api.query(
        CREATE, as_user=office.user("AGENCY_ADMIN"), variables={"org": str(office.id), "name": "X"}
    )
    assert body["data"] == {"createPartnerClient": None}
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_client_needs_a_name(api: Api, world: World, name: str) -> None:
    body = await api.query(
        CREATE, as_user="agencyadmin", variables={"org": world.org(SUMMIT), "name": name}
    )
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_another_agencys_client_is_not_found(
    api: Api, db: Database, partner: Partner
) -> None:
    other = await make_org(db, kind="BILLING_AGENCY", members={"AGENCY_ADMIN": 1}, providers=0)
    admin = other.user("AGENCY_ADMIN")
    for mutation in (ROTATE, REVOKE):
        variables = {"org": str(other.id), "client": partner.client_id}
        assert codes(await api.query(mutation, as_user=admin, variables=variables)) == ["NOT_FOUND"]


# ---- the token endpoint (RFC 6749 4.4, 5.1, 5.2) ------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_client_gets_a_bearer_token(api: Api, partner: Partner, method: str) -> None:
    if method == "client_secret_basic":
        response = await token_request(api.client, headers=partner.basic())
    else:
        response = await token_request(api.client, partner.form())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    answer = response.json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 15 * 60
    assert set(answer) == {"access_token", "token_type", "expires_in"}
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "provider-portal-gateway"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert await me(api.client, answer["access_token"]) == f"partner:{partner.client_id}"


async def test_getting_a_token_marks_the_client_used(
    api: Api, world: World, partner: Partner
) -> None:
    await token_of(api.client, partner)
    listed = await api.query(CLIENTS, as_user="agencyadmin", variables={"org": world.org(SUMMIT)})
    [mine] = [
        c
        for c in listed["data"]["organization"]["partnerClients"]
        if c["clientId"] == partner.client_id
    ]
    assert mine["lastUsedAt"] is not None


async def test_every_failed_client_authentication_gets_the_same_answer(
    api: Api, world: World, partner: Partner
) -> None:
    revoked = await create_partner(api, world.org(SUMMIT), "agencyadmin")
    await api.query(
        REVOKE,
        as_user="agencyadmin",
        variables={"org": revoked.agency_id, "client": revoked.client_id},
    )
    attempts = {
        "wrong secret": partner.basic(secret="not-" + partner.secret),
        "wrong secret in the body": None,
        "unknown client": basic_header("pc-0123456789abcdef0123456789abcdef", partner.secret),
        "revoked client": revoked.basic(),
        "no client authentication": {},
    }
    answers = []
    for name, headers in attempts.items():
        data = partner.form(secret="wrong") if headers is None else None
        response = await token_request(api.client, data, headers)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Basic")
        answers.append(response.content)
    assert answers == [answers[0]] * len(answers)
    assert b'"error":"invalid_client"' in answers[0]


MALFORMED: dict[str, tuple[int, str, dict[str, str], dict[str, str]]] = {
    # name: (status, error, extra form fields, extra headers); the client's Basic header is sent
    "unsupported grant type": (400, "unsupported_grant_type", {"grant_type": "password"}, {}),
    "no grant type": (400, "invalid_request", {"grant_type": ""}, {}),
    "both authentication methods": (400, "invalid_request", {"client_secret": "x"}, {}),
    "a scope": (400, "invalid_scope", {"scope": "claims"}, {}),
}


async def test_empty_parameters_count_as_omitted(api: Api, partner: Partner) -> None:
    """RFC 6749 3.2: a parameter without a value is treated as omitted (so Basic plus an empty
    client_secret is one authentication method), and a stray "&" is harmless."""
    response = await api.client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&client_id=&client_secret=&scope=&",
        headers={"Content-Type": "application/x-www-form-urlencoded"} | partner.basic(),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_token_requests_are_refused(api: Api, partner: Partner, case: str) -> None:
    status, error, form, headers = MALFORMED[case]
    response = await token_request(api.client, form, partner.basic() | headers)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


async def test_a_token_request_must_be_a_form(api: Api, partner: Partner) -> None:
    response = await api.client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=partner.basic()
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    repeated = await api.client.post(
        "/oauth/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers=partner.basic() | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")


# ---- what a client's token sees (R11, V1) ----------------------------------------------------


async def test_a_client_sees_its_agencys_active_grants_within_their_providers(
    api: Api, world: World, partner: Partner
) -> None:
    token = await token_of(api.client, partner)
    body = await as_partner(api.client, token, ORGANIZATION, {"id": world.org(SUNRISE)})
    providers = body["data"]["organization"]["providers"]["edges"]
    assert [edge["node"]["npi"] for edge in providers] == [GRANTED_NPI]
    for other in (CANYON, DESERT, SUMMIT):  # a REVOKED grant, no grant, its own agency
        assert not await sees(api.client, token, world.org(other))
    listed = await as_partner(api.client, token, ORGANIZATIONS)
    assert [e["node"]["name"] for e in listed["data"]["organizations"]["edges"]] == [SUNRISE]


@pytest.mark.parametrize(
    "field", ["eftAccount { accountNumber }", "members { totalCount }", "agencyGrants { id }"]
)
async def test_a_client_reads_no_more_than_an_agency_user(
    api: Api, world: World, partner: Partner, field: str
) -> None:
    token = await token_of(api.client, partner)
    query = f"query Org($id: ID!) {{ organization(id: $id) {{ name {field} }} }}"
    body = await as_partner(api.client, token, query, {"id": world.org(SUNRISE)})
    assert body["data"]["organization"]["name"] == SUNRISE
    assert codes(body) == ["FORBIDDEN"]


def partner_mutations(world: World, partner: Partner) -> dict[str, tuple[str, JSON]]:
    sunrise, summit = world.org(SUNRISE), world.org(SUMMIT)
    return {
        "createPartnerClient": (CREATE, {"org": summit, "name": "Mine"}),
        "rotatePartnerClientSecret": (ROTATE, {"org": summit, "client": partner.client_id}),
        "revokeAgencyGrant": (REVOKE_GRANT, {"org": sunrise, "grant": "1"}),
        "requestAccess": (
            'mutation { requestAccess(providerId: "P-1001", tin: "111111111") { id } }',
            {},
        ),
        "changePassword": (
            'mutation { changePassword(currentPassword: "x", newPassword: "y") { accessToken } }',
            {},
        ),
        "logout": ("mutation { logout }", {}),
    }


async def test_a_client_calls_no_mutation(api: Api, world: World, partner: Partner) -> None:
    token = await token_of(api.client, partner)
    for name, (mutation, variables) in partner_mutations(world, partner).items():
        body = await as_partner(api.client, token, mutation, variables)
        assert body["data"] == {name: None}, name
        assert codes(body) == ["FORBIDDEN"], name
    assert await me(api.client, token) is not None  # nothing above changed it


async def test_a_revoked_grant_is_gone_on_the_clients_next_request(api: Api, db: Database) -> None:
    agency, office, grant_id = await make_agency_with_client(db)
    partner = await create_partner(api, agency.id, agency.user("AGENCY_ADMIN"))
    token = await token_of(api.client, partner)
    assert await sees(api.client, token, office.id)
    revoked = await api.query(
        REVOKE_GRANT,
        as_user=office.user("ACCOUNT_ADMIN"),
        variables={"org": str(office.id), "grant": grant_id},
    )
    assert revoked["data"]["revokeAgencyGrant"] == {"status": "REVOKED"}
    assert not await sees(api.client, token, office.id)


async def test_a_suspended_client_office_is_gone_too(api: Api, db: Database) -> None:
    agency, office, _ = await make_agency_with_client(db)
    partner = await create_partner(api, agency.id, agency.user("AGENCY_ADMIN"))
    token = await token_of(api.client, partner)
    async with db.transaction() as session:
        await session.execute(
            update(Organization).where(Organization.id == office.id).values(status="SUSPENDED")
        )
    assert not await sees(api.client, token, office.id)


async def test_a_suspended_agencys_client_gets_no_token_and_its_tokens_stop(
    api: Api, db: Database
) -> None:
    """Nobody acts for a SUSPENDED agency, its software included."""
    agency, _, _ = await make_agency_with_client(db)
    partner = await create_partner(api, agency.id, agency.user("AGENCY_ADMIN"))
    token = await token_of(api.client, partner)
    async with db.transaction() as session:
        await session.execute(
            update(Organization).where(Organization.id == agency.id).values(status="SUSPENDED")
        )
    assert await me(api.client, token) is None
    refused = await token_request(api.client, headers=partner.basic())
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")


async def test_failed_sign_ins_with_its_name_cannot_lock_a_client_out(
    api: Api, partner: Partner, settings: Settings
) -> None:
    """R14's lockout is for passwords: a service account has none, so anyone who learns its
    name must not be able to stop the client by failing to sign in as it."""
    token = await token_of(api.client, partner)
    username = f"partner:{partner.client_id}"
    for _ in range(settings.max_failed_logins + 1):
        error = await login_error(api, username, "any password at all 1")
        assert error["extensions"]["reason"] == "SIGN_IN_FAILED"
    assert await me(api.client, token) == username
    assert await me(api.client, await token_of(api.client, partner)) == username


async def test_no_recovery_link_is_made_for_a_clients_account(
    api: Api, partner: Partner, db: Database
) -> None:
    """R13: a machine's account has no password to recover; anyone reading the outbox must
    not find a link that would give it one."""
    username = f"partner:{partner.client_id}"
    answer = await api.query(
        "mutation R($l: String!) { requestPasswordRecovery(usernameOrEmail: $l) }",
        as_user=None,
        variables={"l": username},
    )
    assert answer == {"data": {"requestPasswordRecovery": True}}  # the answer everyone gets
    async with db.session() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(PasswordRecovery)
            .join(User, User.id == PasswordRecovery.user_id)
            .where(User.username == username)
        )
    assert links == 0


# ---- rotation and revocation -------------------------------------------------------------------


async def test_rotating_stops_the_old_secret_and_its_tokens_at_once(
    api: Api, world: World, partner: Partner
) -> None:
    old_token = await token_of(api.client, partner)
    body = await api.query(
        ROTATE,
        as_user="agencyadmin",
        variables={"org": partner.agency_id, "client": partner.client_id},
    )
    rotated = body["data"]["rotatePartnerClientSecret"]
    assert rotated["client"]["secretRotatedAt"] is not None
    new_secret = rotated["clientSecret"]
    assert new_secret != partner.secret
    old = await token_request(api.client, headers=partner.basic())
    assert (old.status_code, old.json()["error"]) == (401, "invalid_client")
    assert await me(api.client, old_token) is None
    new_token = await token_of(api.client, Partner(partner.agency_id, partner.admin, rotated))
    assert await sees(api.client, new_token, world.org(SUNRISE))


async def test_revoking_stops_the_client_for_good(api: Api, partner: Partner) -> None:
    token = await token_of(api.client, partner)
    variables = {"org": partner.agency_id, "client": partner.client_id}
    body = await api.query(REVOKE, as_user="agencyadmin", variables=variables)
    assert body["data"]["revokePartnerClient"]["revokedAt"] is not None
    assert await me(api.client, token) is None  # on the very next request
    refused = await token_request(api.client, headers=partner.basic())
    assert refused.status_code == 401
    for mutation in (ROTATE, REVOKE):
        assert codes(await api.query(mutation, as_user="agencyadmin", variables=variables)) == [
            "CONFLICT"
        ]


async def test_tokens_issued_while_the_secret_rotates_stop_with_it(
    api: Api, partner: Partner
) -> None:
    """However a rotation and token requests interleave, no token got with the old secret
    outlives the rotation (both databases: the client's row orders them)."""
    variables = {"org": partner.agency_id, "client": partner.client_id}
    rotation, responses = await asyncio.gather(
        api.query(ROTATE, as_user="agencyadmin", variables=variables),
        asyncio.gather(*(token_request(api.client, headers=partner.basic()) for _ in range(4))),
    )
    assert rotation["data"]["rotatePartnerClientSecret"]["clientSecret"]
    tokens = [r.json()["access_token"] for r in responses if r.status_code == 200]
    assert all(r.status_code in (200, 401) for r in responses)
    if not tokens:  # the rotation won every race: one more request with the old secret
        late = await token_request(api.client, headers=partner.basic())
        assert late.status_code == 401
    for token in tokens:
        assert await me(api.client, token) is None


async def test_a_rotation_racing_a_revocation_never_revives_the_client(
    api: Api, partner: Partner
) -> None:
    variables = {"org": partner.agency_id, "client": partner.client_id}
    rotation, _ = await asyncio.gather(
        api.query(ROTATE, as_user="agencyadmin", variables=variables),
        api.query(REVOKE, as_user="agencyadmin", variables=variables),
    )
    rotated = (rotation["data"] or {}).get("rotatePartnerClientSecret")
    secret = rotated["clientSecret"] if rotated else partner.secret
    response = await token_request(api.client, headers=partner.basic(secret=secret))
    assert response.status_code == 401


# ---- the access log (A1, A2) ---------------------------------------------------------------------


def client_events(entries: list[Logged]) -> list[tuple[str, str, str, str | None]]:
    return [
        (e.field, e.action, e.decision, e.rule)
        for e in entries
        if e.object_type == "Account" and e.field == "clientCredentials"
    ]


async def test_issuance_and_refusal_are_logged_with_the_address_and_no_secret(
    api: Api, db: Database, world: World, partner: Partner
) -> None:
    issued = await token_request(api.client, partner.form())
    refused = await token_request(api.client, partner.form(secret="wrong-" + partner.secret))
    unknown = await token_request(
        api.client, headers=basic_header("pc-unknown-" + partner.secret[:8], partner.secret)
    )
    token = issued.json()["access_token"]
    entries = {name: await logged(db, r) for name, r in
               (("issued", issued), ("refused", refused), ("unknown", unknown))}  # fmt: skip
    assert client_events(entries["issued"]) == [
        ("clientCredentials", "login", "allow",
         "R11: partner client authenticated: access token issued"),
    ]  # fmt: skip
    assert client_events(entries["refused"]) == [
        ("clientCredentials", "login", "deny",
         "R11: partner token request refused: invalid_client: wrong secret"),
    ]  # fmt: skip
    assert str(client_events(entries["unknown"])[0][3]).endswith("invalid_client: unknown client")
    [issuance], [refusal], [stranger] = entries.values()
    account = f"partner:{partner.client_id}"
    assert (issuance.username, issuance.client_address) == (account, ADDRESS)
    assert issuance.organization_id == world.orgs[SUMMIT]
    assert issuance.object_id == refusal.object_id == str(issuance.user_id)
    assert (refusal.user_id, refusal.client_address) == (None, ADDRESS)
    assert (stranger.object_id, stranger.username, stranger.organization_id) == (None, None, None)
    logged_text = " ".join(str(v) for e in entries.values() for x in e for v in x.values())
    assert partner.secret not in logged_text and token not in logged_text
    assert partner.secret[:8] not in logged_text  # an unknown client_id is not logged either


async def test_no_token_leaves_when_the_log_cannot_be_written(
    api: Api, db: Database, partner: Partner
) -> None:
    async with access_log_unwritable(db):
        response = await token_request(api.client, headers=partner.basic())
    assert response.status_code == 503
    assert "access_token" not in response.text
    async with db.session() as session:
        used = await session.scalar(
            select(PartnerClient.last_used_at).where(PartnerClient.client_id == partner.client_id)
        )
    assert used is None  # the transaction that would have issued it rolled back


# ---- rate limits -----------------------------------------------------------------------------


@pytest.fixture
async def tight(settings: Settings, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose token endpoint allows 3 requests per address and 2 tokens per client."""
    limits = {"oauth_limit_per_address": "3/minute", "oauth_limit_per_client": "2/minute"}
    tight = settings.model_copy(update={"trust_forwarded_for": True, **limits})
    async with app_client(tight, ADDRESS) as client:
        yield client


def from_address(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}


async def test_token_requests_are_limited_per_address(
    tight: httpx.AsyncClient, partner: Partner, db: Database
) -> None:
    headers = partner.basic(secret="wrong") | from_address(1)
    answers = [await token_request(tight, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[3].json()["error"] == "slow_down"
    assert int(answers[3].headers["retry-after"]) >= 1
    [event] = client_events(await logged(db, answers[3]))
    assert event[2:] == (
        "deny",
        "too many token requests: refused unchecked: slow_down: oauth-address",
    )


async def test_tokens_are_limited_per_client(tight: httpx.AsyncClient, partner: Partner) -> None:
    statuses = [
        (await token_request(tight, headers=partner.basic() | from_address(n))).status_code
        for n in range(2, 5)
    ]
    assert statuses == [200, 200, 429]


# ---- beside an external OpenID Connect provider ----------------------------------------------


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[Jwks, rsa.RSAPrivateKey]]:
    with serving_jwks() as jwks:
        key = new_key()
        jwks.publish("key-1", key)
        yield jwks, key


OWN_SECRET = "the-gateways-own-secret-beside-the-idp-0123"


@pytest.fixture
async def beside_idp(
    settings: Settings, world: World, idp: tuple[Jwks, rsa.RSAPrivateKey]
) -> AsyncIterator[httpx.AsyncClient]:
    """Production-style: users' tokens from the IdP, partner tokens from the gateway."""
    external = oidc_settings(settings, idp[0], refresh_seconds=0)
    beside = external.model_copy(update={"jwt_secret": OWN_SECRET})
    async with app_client(beside, ADDRESS) as client:
        yield client


def own_claims(username: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {"iss": "provider-portal-gateway", "sub": username, "ver": 0, "iat": now}
    return claims | {"exp": now + timedelta(minutes=5)} | changes


async def test_a_partner_token_works_beside_an_external_provider(
    beside_idp: httpx.AsyncClient, world: World, partner: Partner
) -> None:
    token = await token_of(beside_idp, partner)
    assert await sees(beside_idp, token, world.org(SUNRISE))


async def test_beside_an_external_provider_people_do_not_use_the_gateways_tokens(
    beside_idp: httpx.AsyncClient,
) -> None:
    """People sign in at the provider (with its factors); a token the gateway signed for a
    person - say by its own login mutation - is refused there."""
    assert await me(beside_idp, jwt.encode(own_claims("admin"), OWN_SECRET)) is None


async def test_an_hs256_token_naming_another_issuer_is_refused(
    beside_idp: httpx.AsyncClient, api: Api, partner: Partner, world: World
) -> None:
    username = f"partner:{partner.client_id}"
    forged = jwt.encode(own_claims(username, iss="https://idp.example.test/"), OWN_SECRET)
    assert await me(beside_idp, forged) is None  # checked on the JWKS: no such key
    # Without a provider, the gateway's own path refuses a foreign issuer as well.
    dev_forged = jwt.encode(own_claims("admin", iss="elsewhere"), api.settings.signing_secret)
    assert await me(api.client, dev_forged) is None
    assert await me(api.client, jwt.encode(own_claims("admin"), api.settings.signing_secret))


async def test_an_rs256_token_claiming_the_gateway_as_issuer_is_refused(
    beside_idp: httpx.AsyncClient, idp: tuple[Jwks, rsa.RSAPrivateKey], partner: Partner
) -> None:
    _, key = idp
    claims = own_claims(f"partner:{partner.client_id}", aud="provider-portal-gateway")
    forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})
    assert await me(beside_idp, forged) is None  # HS256 only on the gateway's own path


async def test_a_providers_token_never_signs_in_as_a_service_account(
    beside_idp: httpx.AsyncClient, idp: tuple[Jwks, rsa.RSAPrivateKey], partner: Partner
) -> None:
    """A client's username is no secret: whoever the provider lets call themselves that must
    not act as the client (and a rotated secret must still stop everything)."""
    _, key = idp
    username = f"partner:{partner.client_id}"
    external = signed(key, username)
    assert await me(beside_idp, external) is None
    assert await me(beside_idp, await token_of(beside_idp, partner)) == username


@pytest.mark.parametrize(
    "forged",
    ["alg none", "HS256 keyed with the public key", "development secret", "no issuer"],
)
async def test_beside_a_provider_forged_gateway_tokens_are_refused(
    beside_idp: httpx.AsyncClient,
    idp: tuple[Jwks, rsa.RSAPrivateKey],
    partner: Partner,
    settings: Settings,
    forged: str,
) -> None:
    """Tokens claiming the gateway as issuer take the HS256 path with the gateway's own
    secret; none of these verify there (nor on the JWKS path)."""
    _, key = idp
    claims = own_claims(f"partner:{partner.client_id}")
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = {
        "alg none": lambda: jwt.encode(claims, "", algorithm="none"),
        "HS256 keyed with the public key": lambda: hs256(claims, pem),
        "development secret": lambda: jwt.encode(claims, settings.signing_secret),
        "no issuer": lambda: jwt.encode(
            {k: v for k, v in claims.items() if k != "iss"}, OWN_SECRET
        ),
    }[forged]()
    assert await me(beside_idp, token) is None


async def test_without_a_secret_of_its_own_the_gateway_issues_and_accepts_no_tokens(
    settings: Settings, world: World, idp: tuple[Jwks, rsa.RSAPrivateKey], partner: Partner
) -> None:
    external = oidc_settings(settings, idp[0], refresh_seconds=0)  # no jwt_secret
    async with app_client(external, ADDRESS) as client:
        response = await token_request(client, headers=partner.basic())
        assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
        # Not even with the well-known development secret.
        dev_token = jwt.encode(own_claims("admin"), settings.signing_secret)
        assert await me(client, dev_token) is None
