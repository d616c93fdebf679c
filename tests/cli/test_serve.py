"""``gateway serve``: whose address the access log names is the gateway's setting to decide."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.models import AccessLogRequest
from gateway.settings import Settings
from tests.support import World
from tests.support.server import serving


@pytest.fixture(scope="module")
def served(
    settings: Settings, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``gateway serve`` on a free port, told not to trust X-Forwarded-For."""
    env = {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_AUDIT_KEY": settings.audit_key or "",
        "GATEWAY_TRUST_FORWARDED_FOR": "false",
    }
    with serving(env, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


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
