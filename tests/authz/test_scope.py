"""Object scope is declared once per type, and who reaches which rows is the policy's to say."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gateway.authz import check_policy
from gateway.authz.scope import SCOPE_ATTRIBUTE
from gateway.data import Database
from gateway.http import create_app
from gateway.models import AccessLogEntry, AccessLogRequest
from gateway.schema import build_schema, object_types, schema_fields
from gateway.schema.organizations import Organization
from gateway.settings import Settings
from tests.support import Api, World

POLICY = Path(__file__).resolve().parents[2] / "authz" / "policy.csv"
SUNRISE = "Sunrise Family Practice"
ORG_NAME = "query($id: ID!) { organization(id: $id) { name } }"
PROVIDERS = "query($id: ID!) { organization(id: $id) { providers { edges { node { npi } } } } }"


class Stray:
    """A type someone added without saying how its objects find their organizations."""


def test_every_type_of_the_schema_declares_its_scope(settings: Settings) -> None:
    schema = build_schema(settings)
    assert check_policy(settings, schema_fields(schema), object_types(schema)) == []


def test_a_type_without_a_scope_declaration_fails_the_policy_check(settings: Settings) -> None:
    schema = build_schema(settings)
    types = {**object_types(schema), "Stray": Stray}
    assert check_policy(settings, schema_fields(schema), types) == [
        "Stray: declares no object scope (gateway.authz.scoped)"
    ]


@pytest.mark.parametrize("caller", ["admin", "auditor", "secofficer"])
async def test_an_object_of_undeclared_scope_is_refused_to_everyone(
    api: Api, world: World, db: Database, monkeypatch: pytest.MonkeyPatch, caller: str
) -> None:
    """Fail closed: a declaration that goes missing hides the object's fields from its own
    admin and from the health plan's roles alike, and the log says why."""
    monkeypatch.delattr(Organization, SCOPE_ATTRIBUTE)
    body = await api.query(ORG_NAME, as_user=caller, variables={"id": world.org(SUNRISE)})
    assert body["data"] == {"organization": {"name": None}}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    request_id = body["errors"][0]["extensions"]["decisionId"].partition(":")[0]
    async with db.session() as session:
        rules = await session.scalars(
            select(AccessLogEntry.rule)
            .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
            .where(
                AccessLogRequest.request_id == request_id,
                AccessLogEntry.object_type == "Organization",
            )
        )
        assert set(rules) == {"Organization declares no object scope"}


def test_reach_all_is_refused_on_a_field_without_row_scope(
    tmp_path: Path, settings: Settings
) -> None:
    policy = tmp_path / "policy.csv"
    policy.write_text(POLICY.read_text() + "\np, STAFF, Organization.name, reach_all, allow\n")
    checked = settings.model_copy(update={"policy_file": policy})
    schema = build_schema(checked)
    problems = check_policy(checked, schema_fields(schema), object_types(schema))
    assert problems == [
        "policy line STAFF, Organization.name, reach_all, allow: Organization.name has no row "
        "scope to reach"
    ]


async def _providers_seen(settings: Settings, username: str, org_id: str) -> set[str]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            body = await Api(client, settings).query(
                PROVIDERS, as_user=username, variables={"id": org_id}
            )
    finally:
        await app.state.runtime.db.dispose()
    edges = body["data"]["organization"]["providers"]["edges"]
    return {edge["node"]["npi"] for edge in edges}


async def test_which_providers_a_role_sees_is_the_policys_to_say(
    tmp_path: Path, settings: Settings, world: World
) -> None:
    """V4 is a policy line: without it the office manager sees only their assignments."""
    org_id = world.org(SUNRISE)
    assert await _providers_seen(settings, "office", org_id) == {"1000000001", "1000000002"}
    policy = tmp_path / "policy.csv"
    line = "p, OFFICE_MANAGER, Organization.providers, reach_all, allow\n"
    assert line in POLICY.read_text()
    policy.write_text(POLICY.read_text().replace(line, ""))
    narrowed = settings.model_copy(update={"policy_file": policy})
    assert await _providers_seen(narrowed, "office", org_id) == set()  # none assigned
