"""A gateway process's lifetime: policy reload, and several processes sharing one log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.audit import verify_chain
from gateway.authz.policy import Decision
from gateway.data.db import Database
from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.support import Api, World

POLICY = Path(__file__).resolve().parents[2] / "authz" / "policy.csv"
STAFF = frozenset({"STAFF", "AUTHENTICATED"})


def test_reload_picks_up_a_changed_policy(tmp_path: Path, settings: Settings) -> None:
    policy = tmp_path / "policy.csv"
    policy.write_text(POLICY.read_text())
    runtime = Runtime.create(settings.model_copy(update={"policy_file": policy}))
    assert runtime.policy.decide(STAFF, "Organization", "taxIds").decision is Decision.DENY
    policy.write_text(POLICY.read_text() + "\np, STAFF, Organization.taxIds, read, allow\n")
    runtime.reload_policy()
    assert runtime.policy.decide(STAFF, "Organization", "taxIds").decision is Decision.ALLOW


def test_a_broken_policy_file_keeps_the_running_policy(tmp_path: Path, settings: Settings) -> None:
    policy = tmp_path / "policy.csv"
    policy.write_text(POLICY.read_text())
    runtime = Runtime.create(settings.model_copy(update={"policy_file": policy}))
    before = runtime.policy
    policy.unlink()
    runtime.reload_policy()
    assert runtime.policy is before


@pytest.fixture
async def second_process(settings: Settings, world: World) -> AsyncIterator[Api]:
    """Another gateway on the same database: its own engine and group-commit writer."""
    other: Starlette = create_app(settings)
    transport = httpx.ASGITransport(app=other, client=("198.51.100.9", 41000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway-2.test") as client:
        yield Api(client, settings)
    await other.state.runtime.db.dispose()


async def test_two_gateways_appending_at_once_keep_one_unbroken_chain(
    api: Api, second_process: Api, world: World, settings: Settings
) -> None:
    query = "query($id: ID!) { organization(id: $id) { name members { totalCount } } }"
    variables = {"id": world.org("Sunrise Family Practice")}
    bodies = await asyncio.gather(*(
        gateway.query(query, as_user="admin", variables=variables)
        for _ in range(10)
        for gateway in (api, second_process)
    ))  # fmt: skip
    assert all(body["data"]["organization"]["members"]["totalCount"] == 6 for body in bodies)
    db = Database(settings.database_url)
    try:
        report = await verify_chain(db, settings.chain_key)
        checked, problem = report.checked, report.problem
    finally:
        await db.dispose()
    assert problem is None and checked > 0
