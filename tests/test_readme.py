"""The README's examples work as written: the seed file and the administration walkthrough."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import unquote

import httpx
from sqlalchemy import select

from gateway.data.db import Database
from gateway.http.app import create_app
from gateway.migrate import upgrade
from gateway.models import OutboxMessage
from gateway.seeding import seed_demo, seed_file
from gateway.settings import Settings
from tests.support import Api
from tests.support.readme import README, walkthrough_steps


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
    approved = results[3]["approveAccessRequest"]
    assert approved["providers"] == [{"name": "Dr. Ada Smith"}]
    assert results[4]["updateMemberAccess"]["etools"] == [
        {"code": "AUTHORIZATION_MANAGER"},
        {"code": "ONLINE_SERVICES"},
    ]
    assert results[5]["removeMember"] == {"status": "REMOVED"}


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
