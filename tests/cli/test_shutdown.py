"""``gateway serve`` stops gracefully: on SIGTERM it stops accepting, answers the request in
flight and writes its access-log entries, then disposes the database and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.models import AccessLogRequest
from gateway.settings import Settings
from tests.support import World
from tests.support.database import log_head_locked
from tests.support.server import free_port, start, wait_until_up

HANG_GUARD_SECONDS = 60  # not a timing assertion: each step normally takes a fraction of a second
PRODUCTION = {
    "GATEWAY_ENV": "production",
    "GATEWAY_JWT_SECRET": "a-production-secret-of-32-bytes-at-least",
    "GATEWAY_TOTP_KEY": "a-production-totp-key-for-the-shutdown-test",
    "GATEWAY_PORTAL_URL": "https://portal.example.org",
    "GATEWAY_PASSWORD_HASH_TIME_COST": "2",
    "GATEWAY_PASSWORD_HASH_MEMORY_KIB": "19456",
    # The request waits for the test's lock on the access log instead of answering 503.
    "GATEWAY_DATABASE_LOCK_TIMEOUT_SECONDS": str(HANG_GUARD_SECONDS),
    "GATEWAY_DATABASE_STATEMENT_TIMEOUT_SECONDS": str(HANG_GUARD_SECONDS),
    "GATEWAY_SHUTDOWN_GRACE_SECONDS": str(HANG_GUARD_SECONDS),
}


def serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **PRODUCTION,
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_AUDIT_KEY": settings.audit_key or "",
    }
    return start(env, port, log)


async def pause(what: str, deadline: float) -> None:
    """One poll's pause, unless the hang guard is past: then ``what`` went wrong."""
    assert time.monotonic() < deadline, f"hang guard: {what}"
    await asyncio.sleep(0.05)


async def in_flight(url: str) -> float:
    """Requests the gateway is answering, this one (``/metrics``) included."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        metrics = (await client.get("/metrics")).text
    [line] = [m for m in metrics.splitlines() if m.startswith("gateway_http_requests_in_flight ")]
    return float(line.split()[1])


def accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


async def batches_of(db: Database, request_id: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(AccessLogRequest.request_id == request_id)
        )
    return int(count or 0)


async def test_sigterm_finishes_the_request_in_flight_and_its_log_then_exits_0(
    settings: Settings, world: World, db: Database, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    process = serve(settings, port, log)
    try:
        wait_until_up(url, process)
        secret = {"jwt_secret": PRODUCTION["GATEWAY_JWT_SECRET"]}
        token = mint_token(settings.model_copy(update=secret), "admin")
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        async with httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_SECONDS) as client:
            async with log_head_locked(db):  # the request's access-log append waits for it
                request = asyncio.create_task(
                    client.post(
                        "/graphql",
                        json={"query": "query Mine { me { username } }"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                )
                while await in_flight(url) < 2:  # ours and the /metrics request asking
                    await pause("the request never reached the gateway", deadline)
                process.send_signal(signal.SIGTERM)
                while accepting(port):
                    await pause("the gateway kept accepting after SIGTERM", deadline)
                assert not request.done()
                assert process.poll() is None  # waiting for the request
            response = await request  # the lock is released: the append goes through
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"me": {"username": "admin"}}}
        assert process.wait(timeout=HANG_GUARD_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    request_id = response.headers["x-request-id"]
    assert await batches_of(db, request_id) >= 1  # its access-log batch
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    [logged] = [line for line in lines if line.get("request_id") == request_id]
    assert (logged["status"], logged["username"], logged["operation"]) == (200, "admin", "Mine")
