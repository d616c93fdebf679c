"""Whose address the access log names: the peer's, or behind a trusted proxy the last
X-Forwarded-For hop, and only if it is an IP address."""

from __future__ import annotations

import pytest

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.settings import Settings
from tests.support import World, app_client
from tests.support.accounts import logged

PEER = "203.0.113.7"
ME = {"query": "{ me { username } }"}


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        (["6.6.6.6"], "6.6.6.6"),
        (["10.0.0.1, 6.6.6.6"], "6.6.6.6"),  # the last hop is the one our proxy appended
        (["10.0.0.1", "6.6.6.6"], "6.6.6.6"),  # ... also when it appended a header line
        (["2001:DB8:0::1"], "2001:db8::1"),
        (["6.6.6.6, " + "7" * 65], PEER),  # longer than the log's column: it used to be 503
        (["6.6.6.6, unknown"], PEER),
        (["6.6.6.6 ,"], PEER),
    ],
)
async def test_a_trusted_forwarded_for_is_logged_only_when_it_is_an_address(
    settings: Settings, world: World, db: Database, forwarded_for: list[str], expected: str
) -> None:
    trusting = settings.model_copy(update={"trust_forwarded_for": True})
    headers = [("Authorization", f"Bearer {mint_token(settings, 'admin')}")]
    headers += [("X-Forwarded-For", value) for value in forwarded_for]
    async with app_client(trusting, address=PEER) as client:
        response = await client.post("/graphql", json=ME, headers=headers)
    assert response.status_code == 200, response.text
    assert {entry.client_address for entry in await logged(db, response)} == {expected}


async def test_forwarded_for_is_ignored_unless_trusted(
    settings: Settings, world: World, db: Database
) -> None:
    headers = {
        "Authorization": f"Bearer {mint_token(settings, 'admin')}",
        "X-Forwarded-For": "6.6.6.6",
    }
    async with app_client(settings, address=PEER) as client:
        response = await client.post("/graphql", json=ME, headers=headers)
    assert {entry.client_address for entry in await logged(db, response)} == {PEER}
