"""``gateway serve``: whose address the access log names is the gateway's setting to decide."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.models import AccessLogRequest
from gateway.settings import Settings
from tests.support import World

STARTUP_GUARD_SECONDS = 60  # a hang guard: the server is normally up in two or three


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "gateway serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("gateway serve did not answer /healthz")


@pytest.fixture(scope="module")
def served(
    settings: Settings, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``gateway serve`` on a free port, told not to trust X-Forwarded-For."""
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_AUDIT_KEY": settings.audit_key or "",
        "GATEWAY_TRUST_FORWARDED_FOR": "false",
    }
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    with (tmp_path_factory.mktemp("serve") / "serve.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


async def logged_address(db: Database, response: httpx.Response) -> str | None:
    async with db.session() as session:
        address: str | None = await session.scalar(
            select(AccessLogRequest.client_address).where(
                AccessLogRequest.request_id == response.headers["x-request-id"]
            )
        )
    return address


# A spoofed address, and one longer than the log's column (it used to answer 503).
@pytest.mark.parametrize("forwarded_for", ["6.6.6.6", "6" * 65])
async def test_an_untrusted_forwarded_for_from_localhost_is_not_logged(
    served: str, settings: Settings, db: Database, forwarded_for: str
) -> None:
    headers = {
        "Authorization": f"Bearer {mint_token(settings, 'admin')}",
        "X-Forwarded-For": forwarded_for,
    }
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": "{ me { username } }"}, headers=headers
        )
    assert response.status_code == 200, response.text
    assert await logged_address(db, response) == "127.0.0.1"
