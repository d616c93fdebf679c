"""The README's examples work as written: the seed file, the walkthroughs, the access-log
queries with the dates its commands print, its command lines and the production settings."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import shlex
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gateway.cli import parser
from gateway.data.db import Database
from gateway.http.app import create_app
from gateway.migrate import upgrade
from gateway.models import OutboxMessage
from gateway.seeding import seed_demo, seed_file
from gateway.settings import Settings, settings_problems
from tests.support import Api
from tests.support.readme import (
    README,
    date_commands,
    gateway_arguments,
    graphql_operation,
    run_date,
    section,
    shell_lines,
    walkthrough_steps,
)


def test_readme_seed_example_loads(tmp_path: Path) -> None:
    section = README.read_text().split("## Seed files", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    path = tmp_path / "example.yaml"
    path.write_text(match.group(1))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/readme.db")
    upgrade(settings)
    summary = asyncio.run(seed_file(settings, path))
    assert "2 organizations" in summary and "1 payer role" in summary


async def test_readme_administration_walkthrough_works_as_written(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    await asyncio.to_thread(upgrade, settings)
    await seed_demo(settings)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    filled: dict[str, str] = {}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            api = Api(client, settings)
            steps = walkthrough_steps()
            assert [who for who, _ in steps] == [
                "office",
                "anonymous",
                "newcomer",  # the aside: a user who registered on their own asks to join
                "admin",
                "admin",
                "admin",
                "admin",
            ]
            results = []
            for who, query in steps:
                for placeholder, value in filled.items():
                    query = query.replace(placeholder, value)
                body = await api.query(query, as_user=None if who == "anonymous" else who)
                assert "errors" not in body, (query, body)
                results.append(body["data"])
                if "inviteUser" in body["data"]:
                    filled["PASTE-TOKEN-FROM-EMAIL"] = await _invitation_token(settings)
                if "registerUser" in body["data"]:
                    filled["PASTE-REQUEST-ID"] = body["data"]["registerUser"]["accessRequestId"]
    finally:
        await app.state.runtime.db.dispose()
    assert results[2]["requestAccess"]["status"] == "REQUESTED"
    requests = results[3]["organization"]["accessRequests"]["edges"]
    assert {e["node"]["user"]["name"] for e in requests} == {"Pat Newhire", "Nora Newcomer"}
    approved = results[4]["approveAccessRequest"]
    assert approved["providers"] == [{"name": "Dr. Ada Smith"}]
    assert results[5]["updateMemberAccess"]["etools"] == [
        {"code": "AUTHORIZATION_MANAGER"},
        {"code": "ONLINE_SERVICES"},
    ]
    assert results[6]["removeMember"] == {"status": "REMOVED"}


async def _invitation_token(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            bodies = await session.scalars(select(OutboxMessage.body))
            links = [m.group(1) for b in bodies if (m := re.search(r"invitation=([\w%-]+)", b))]
    finally:
        await db.dispose()
    (token,) = links
    return unquote(token)


async def test_readme_master_account_activation_works_as_written(tmp_path: Path) -> None:
    """R1 on the demo world: register for Mesa Pediatrics, read the letter, activate."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    await asyncio.to_thread(upgrade, settings)
    await seed_demo(settings)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
            api = Api(client, settings)
            (_, register), (_, activate) = walkthrough_steps("A new organization's master account")
            registered = await api.query(register, as_user=None)
            assert "errors" not in registered, registered
            code = await _activation_code(settings)
            activated = await api.query(
                activate.replace("PASTE-CODE-FROM-LETTER", code), as_user=None
            )
            assert "errors" not in activated, activated
            token = activated["data"]["activateAccount"]["accessToken"]
            me = await client.post(
                "/graphql",
                json={"query": "{ me { username } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert me.json()["data"] == {"me": {"username": "mesaadmin"}}
    finally:
        await app.state.runtime.db.dispose()


async def _activation_code(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            bodies = await session.scalars(
                select(OutboxMessage.body).where(OutboxMessage.kind == "ACTIVATION_LETTER")
            )
            (letter,) = bodies.all()
    finally:
        await db.dispose()
    match = re.search(r"^    ([A-Z0-9]{12})$", letter, re.MULTILINE)
    assert match is not None
    return match.group(1)


async def test_readme_help_desk_lookup_works_as_written(tmp_path: Path) -> None:
    """The help desk finds Dr. Ada Smith by her surname, and the organization to act in."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    await asyncio.to_thread(upgrade, settings)
    await seed_demo(settings)
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo.test"
        ) as client:
            [(who, lookup)] = walkthrough_steps("Looking up a user (help desk)")
            body = await Api(client, settings).query(lookup, as_user=who)
    finally:
        await app.state.runtime.db.dispose()
    assert "errors" not in body, body
    found = body["data"]["users"]
    assert found["totalCount"] == 1 and not found["pageInfo"]["hasNextPage"]
    [node] = [edge["node"] for edge in found["edges"]]
    assert (node["username"], node["name"], node["email"]) == (
        "drsmith",
        "Ada Smith",
        "drsmith@sunrise.example.org",
    )
    assert [m["organization"]["name"] for m in node["memberships"]] == ["Sunrise Family Practice"]


async def test_readme_access_log_queries_find_what_was_read_with_the_dates_shown(
    tmp_path: Path,
) -> None:
    """The dates the README's commands print make windows the gateway accepts, and they find
    the reads of the Dashboard query the reader ran as ``admin``."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    await asyncio.to_thread(upgrade, settings)
    await seed_demo(settings)
    thirty_days_ago, yesterday, tomorrow, *_ = (
        run_date(command) for command in date_commands(section("Querying the access log"))
    )
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo.test"
        ) as client:
            api = Api(client, settings)
            # Some of it is FORBIDDEN to admin (that is its point); the rest is read and logged.
            dashboard = await api.query(graphql_operation("Dashboard"), as_user="admin")
            assert dashboard["data"]["me"]["username"] == "admin"
            asked = {
                ("WhoReadEmail", "secofficer"): {"since": thirty_days_ago},
                ("DaysOfUser", "secofficer"): {"since": yesterday, "until": tomorrow},
                ("WhoReadEmailAtSunrise", "admin"): {"since": thirty_days_ago},
            }
            for (name, who), variables in asked.items():
                body = await api.query(graphql_operation(name), as_user=who, variables=variables)
                assert "errors" not in body, (name, body)
                assert body["data"]["accessLog"]["edges"], name
    finally:
        await app.state.runtime.db.dispose()


def test_every_gateway_command_line_shown_parses() -> None:
    """``.venv/bin/gateway ...`` and ``scripts/demo ...`` lines, parsed by the real parser
    (an unknown command or option exits)."""
    shown = [args for line in shell_lines() if (args := gateway_arguments(line)) is not None]
    assert ["serve", "--demo", "--port", "8001"] in shown
    assert len(shown) >= 7
    for arguments in shown:
        parser().parse_args(arguments)


def test_no_shell_line_calls_gateway_from_the_path() -> None:
    """The README calls ``.venv/bin/gateway``: a bare ``gateway`` is not on a new user's PATH."""
    for line in shell_lines():
        words = shlex.split(line.replace("$(", "$( "), comments=True)
        assert "gateway" not in words and "$(gateway" not in line, line


def test_scripts_demo_takes_the_options_of_gateway_serve() -> None:
    script = README.parent / "scripts" / "demo"
    assert script.read_text().strip().splitlines()[-1] == 'exec .venv/bin/gateway serve --demo "$@"'


@pytest.mark.parametrize("command", sorted(set(date_commands())))
def test_every_date_command_shown_prints_a_time(command: str) -> None:
    printed = run_date(command)
    assert datetime.fromisoformat(printed), printed


def test_the_production_settings_shown_are_all_it_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    text = section("In production")
    exported = dict(
        word.split("=", 1)
        for line in shell_lines(text)
        if line.startswith("export ")
        for word in shlex.split(line, comments=True)[1:]
    )
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    Settings()  # starts with exactly these
    checked = set(re.findall(r"GATEWAY_[A-Z_]+", inspect.getsource(Settings._production_problems)))
    assert checked <= set(re.findall(r"GATEWAY_[A-Z_]+", text))  # every one named there
    for name in sorted(checked & exported.keys()):
        monkeypatch.delenv(name)
        with pytest.raises(ValidationError) as refused:
            Settings()
        assert any(name in problem for problem in settings_problems(refused.value)), name
        monkeypatch.setenv(name, exported[name])
