"""A1-A3 for reads: every resolver execution recorded, in one durable batch, hash-chained."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text

from gateway.audit import verify_chain
from gateway.cli import main
from gateway.data.db import Database
from gateway.settings import Settings, get_settings
from tests.support import Api, World, errors_at
from tests.support.accounts import logged_request
from tests.support.database import access_log_unwritable, tampering

SUNRISE = "Sunrise Family Practice"


async def test_each_field_resolution_is_recorded_with_who_what_and_why(
    api: Api, world: World, db: Database
) -> None:
    response = await api.post(
        "query OfficeRoster($id: ID!) { organization(id: $id) { name taxIds { tin } } }",
        variables={"id": world.org(SUNRISE)},
        as_user="office",
        operation="OfficeRoster",
    )
    entries = await logged_request(db, response.headers["x-request-id"])
    by_field = {(e.object_type, e.field): e for e in entries}
    assert set(by_field) == {
        ("Query", "organization"),
        ("Organization", "name"),
        ("Organization", "taxIds"),
        ("TaxId", "tin"),
    }
    name = by_field[("Organization", "name")]
    assert name.user_id == world.users["office"] and name.username == "office"
    assert name.objects == [(world.org(SUNRISE), world.orgs[SUNRISE])]
    assert (name.operation, name.client_address) == ("OfficeRoster", "203.0.113.7")
    assert (name.action, name.decision) == ("read", "allow")
    assert name.rule == "org_identity, Organization.name, read, allow"
    tins = by_field[("TaxId", "tin")]  # one entry holding each tax ID resolved
    assert len(tins.objects) == tins.executions == 2
    assert {org for _, org in tins.objects} == {world.orgs[SUNRISE]}


async def test_denied_field_error_carries_a_decision_id_the_log_holds(
    api: Api, world: World, db: Database
) -> None:
    body = await api.query(
        f'{{ organization(id: "{world.org(SUNRISE)}") {{ name eftAccount {{ bankName }} }} }}',
        as_user="office",
    )
    assert body["data"]["organization"]["name"] == SUNRISE  # the rest is still returned (V2)
    (error,) = errors_at(body, ["organization", "eftAccount"])
    decision_id = error["extensions"]["decisionId"]
    request_id, _, index = decision_id.partition(":")
    entry = (await logged_request(db, request_id))[int(index)]
    assert (entry.object_type, entry.field, entry.decision) == (
        "Organization",
        "eftAccount",
        "deny",
    )
    assert entry.rule is None  # default deny: no line allowed it


async def test_masked_read_is_recorded_as_read_masked(api: Api, world: World, db: Database) -> None:
    response = await api.post(
        f'{{ organization(id: "{world.org(SUNRISE)}") {{ eftAccount {{ accountNumber }} }} }}',
        as_user="auditor",
    )
    assert response.json()["data"]["organization"]["eftAccount"]["accountNumber"] == "********6789"
    entries = await logged_request(db, response.headers["x-request-id"])
    (masked,) = [e for e in entries if e.field == "accountNumber"]
    assert (masked.action, masked.decision) == ("read_masked", "allow")


async def test_unauthenticated_attempts_are_recorded_too(api: Api, db: Database) -> None:
    response = await api.post("{ me { id } }", as_user=None)
    (entry,) = await logged_request(db, response.headers["x-request-id"])
    assert (entry.user_id, entry.field, entry.decision) == (None, "me", "deny")


# ---- tampering ------------------------------------------------------------------------------


async def some_entry(db: Database, offset: int = 0) -> dict[str, Any]:
    """An entry's columns as raw SQL takes them back (its objects as JSON text)."""
    async with db.engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    text("SELECT * FROM access_log ORDER BY seq LIMIT 1 OFFSET :o"), {"o": offset}
                )
            )
            .mappings()
            .one()
        )
    objects = row["objects"]  # PostgreSQL's driver decodes JSONB; SQLite keeps the text
    return {**row, "objects": objects if isinstance(objects, str) else json.dumps(objects)}


async def test_intact_log_verifies(api: Api, db: Database, settings: Settings) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    report = await verify_chain(db, settings.chain_key)
    checked, problem = report.checked, report.problem
    assert problem is None and checked > 0


async def test_verify_finds_a_changed_entry(api: Api, db: Database, settings: Settings) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    victim = await some_entry(db, offset=3)
    changed = "deny" if victim["decision"] == "allow" else "allow"
    update = "UPDATE access_log SET decision = :d WHERE seq = :s"
    async with tampering(db) as connection:
        await connection.execute(text(update), {"d": changed, "s": victim["seq"]})
    try:
        problem = (await verify_chain(db, settings.chain_key)).problem
        assert problem is not None and problem.seq == victim["seq"]
        assert "changed" in problem.what
    finally:
        async with tampering(db) as connection:
            await connection.execute(text(update), {"d": victim["decision"], "s": victim["seq"]})
    assert (await verify_chain(db, settings.chain_key)).problem is None


async def test_verify_finds_a_changed_request_record(
    api: Api, db: Database, settings: Settings
) -> None:
    """Who, when and from where are stored once per request; changing them breaks its entries."""
    response = await api.post("{ roles { code } }", as_user="admin")
    (first, *_) = await logged_request(db, response.headers["x-request-id"])
    update = "UPDATE access_log_requests SET username = :u WHERE first_seq = :s"
    async with tampering(db) as connection:
        await connection.execute(text(update), {"u": "someone-else", "s": first.first_seq})
    try:
        problem = (await verify_chain(db, settings.chain_key)).problem
        assert problem is not None and problem.seq == first.first_seq
    finally:
        async with tampering(db) as connection:
            await connection.execute(text(update), {"u": "admin", "s": first.first_seq})
    assert (await verify_chain(db, settings.chain_key)).problem is None


async def test_verify_finds_a_removed_entry(api: Api, db: Database, settings: Settings) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    victim = await some_entry(db, offset=2)
    async with tampering(db) as connection:
        await connection.execute(
            text("DELETE FROM access_log WHERE seq = :s"), {"s": victim["seq"]}
        )
    try:
        problem = (await verify_chain(db, settings.chain_key)).problem
        assert problem is not None and problem.seq == victim["seq"]
        assert "missing" in problem.what
    finally:
        async with tampering(db) as connection:
            await connection.execute(
                text(
                    f"INSERT INTO access_log ({', '.join(victim)}) "
                    f"VALUES ({', '.join(':' + c for c in victim)})"
                ),
                victim,
            )
    assert (await verify_chain(db, settings.chain_key)).problem is None


async def test_verify_finds_reordered_entries(api: Api, db: Database, settings: Settings) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    first, second = await some_entry(db, offset=5), await some_entry(db, offset=6)
    swap = "UPDATE access_log SET seq = :to WHERE seq = :from"
    async with tampering(db) as connection:  # swap the two entries' places in the chain
        await connection.execute(text(swap), {"from": first["seq"], "to": -1})
        await connection.execute(text(swap), {"from": second["seq"], "to": first["seq"]})
        await connection.execute(text(swap), {"from": -1, "to": second["seq"]})
    try:
        problem = (await verify_chain(db, settings.chain_key)).problem
        assert problem is not None and problem.seq == first["seq"]
    finally:
        async with tampering(db) as connection:
            await connection.execute(text(swap), {"from": first["seq"], "to": -1})
            await connection.execute(text(swap), {"from": second["seq"], "to": first["seq"]})
            await connection.execute(text(swap), {"from": -1, "to": second["seq"]})
    assert (await verify_chain(db, settings.chain_key)).problem is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET decision = 'allow'",
        "DELETE FROM access_log",
        "UPDATE access_log_requests SET username = 'x'",
        "DELETE FROM access_log_requests",
    ],
)
async def test_database_refuses_to_change_or_delete_entries(db: Database, statement: str) -> None:
    with pytest.raises(Exception, match="append-only"):
        async with db.engine.begin() as connection:
            await connection.execute(text(statement))


async def test_request_fails_without_data_when_the_log_cannot_be_written(
    api: Api, world: World, db: Database
) -> None:
    async with access_log_unwritable(db):
        response = await api.post(
            f'{{ organization(id: "{world.org(SUNRISE)}") {{ name taxIds {{ tin }} }} }}',
            as_user="admin",
        )
    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAVAILABLE"]
    assert "111111111" not in response.text


EXPLAIN = """query($id: String!) { accessDecision(decisionId: $id) {
    objectType field decision rule username } }"""


async def _denied_decision_of_office(api: Api, world: World) -> str:
    body = await api.query(
        "query($id: ID!) { organization(id: $id) { eftAccount { bankName } } }",
        as_user="office",
        variables={"id": world.org(SUNRISE)},
    )
    (error,) = errors_at(body, ["organization", "eftAccount"])
    decision_id: str = error["extensions"]["decisionId"]
    return decision_id


@pytest.mark.parametrize("explainer", ["admin", "secofficer"])
async def test_admin_and_security_officer_can_ask_why(
    api: Api, world: World, explainer: str
) -> None:
    decision_id = await _denied_decision_of_office(api, world)
    body = await api.query(EXPLAIN, as_user=explainer, variables={"id": decision_id})
    assert body["data"]["accessDecision"] == {
        "objectType": "Organization",
        "field": "eftAccount",
        "decision": "deny",
        "rule": None,
        "username": "office",
    }


@pytest.mark.parametrize("asker", ["office", "frontdesk", "chiroadmin", "auditor"])
async def test_nobody_else_learns_the_policy(api: Api, world: World, asker: str) -> None:
    decision_id = await _denied_decision_of_office(api, world)
    body = await api.query(EXPLAIN, as_user=asker, variables={"id": decision_id})
    assert body["data"]["accessDecision"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_repeated_executions_share_an_entry_and_are_counted(
    api: Api, world: World, db: Database
) -> None:
    """`Role.code` runs twice per role (an alias): one entry holding each role once, counting
    every execution."""
    response = await api.post(
        "query($id: ID!) { organization(id: $id) { members { edges { node {"
        " roles { code again: code } } } } } }",
        as_user="admin",
        variables={"id": world.org(SUNRISE)},
    )
    edges = response.json()["data"]["organization"]["members"]["edges"]
    codes = [r["code"] for e in edges for r in e["node"]["roles"]]
    [entry] = [
        e for e in await logged_request(db, response.headers["x-request-id"]) if e.field == "code"
    ]
    assert sorted(str(object_id) for object_id, _ in entry.objects) == sorted(set(codes))
    assert entry.executions == 2 * len(codes)


async def test_audit_verify_command_fails_and_names_the_entry(
    api: Api,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    victim = await some_entry(db, offset=1)
    update = "UPDATE access_log SET objects = :o WHERE seq = :s"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "test-audit-key")
    get_settings.cache_clear()
    async with tampering(db) as connection:
        await connection.execute(text(update), {"o": '[["999999",null]]', "s": victim["seq"]})
    try:
        failed = await asyncio.to_thread(main, ["audit", "verify"])
    finally:
        async with tampering(db) as connection:
            await connection.execute(text(update), {"o": victim["objects"], "s": victim["seq"]})
        get_settings.cache_clear()
    assert failed == 1
    assert f"access log entry {victim['seq']}: changed" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0


async def test_verify_checks_a_recorded_anchor(api: Api, db: Database, settings: Settings) -> None:
    await api.query("{ roles { code } }", as_user="admin")
    earlier = await verify_chain(db, settings.chain_key)
    assert earlier.problem is None
    await api.query("{ roles { code } }", as_user="admin")
    later = await verify_chain(db, settings.chain_key, anchor=earlier.anchor)
    assert later.problem is None and later.head_seq > earlier.head_seq
    forged = f"{earlier.head_seq}:{'00' * 32}"
    problem = (await verify_chain(db, settings.chain_key, anchor=forged)).problem
    assert problem is not None and problem.seq == earlier.head_seq


async def test_verify_during_traffic_raises_no_false_alarm(
    api: Api, db: Database, settings: Settings
) -> None:
    async def traffic() -> None:
        for _ in range(12):
            await api.query("{ roles { code } etools { code } }", as_user="admin")

    async def verify_repeatedly() -> list[object]:
        return [(await verify_chain(db, settings.chain_key)).problem for _ in range(4)]

    _, problems = await asyncio.gather(traffic(), verify_repeatedly())
    assert problems == [None] * 4


async def test_database_refuses_to_empty_the_log_wholesale(db: Database) -> None:
    statement = (
        "DELETE FROM access_log_requests"
        if db.is_sqlite
        else "TRUNCATE access_log, access_log_requests"
    )
    with pytest.raises(Exception, match="append-only"):
        async with db.engine.begin() as connection:
            await connection.execute(text(statement))
