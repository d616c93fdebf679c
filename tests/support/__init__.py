"""Helpers the tests share: calling the real ASGI app as a given user, and reading its answers.

Beside it: ``factories`` (organizations and users of a test's own), ``accounts`` (accounts with
passwords, raw tokens, their log entries), ``database`` (reading and breaking the database
directly), ``oidc`` (an external OpenID Connect provider) and ``readme`` (the README's examples).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.auth.tokens import mint_token
from gateway.http.app import create_app
from gateway.settings import Settings

JSON = dict[str, Any]


@dataclass(frozen=True)
class World:
    """Database ids of the fixture world, by name."""

    orgs: dict[str, int]
    users: dict[str, int]
    providers: dict[str, int]

    def org(self, name: str) -> str:
        return str(self.orgs[name])

    def user(self, username: str) -> str:
        return str(self.users[username])


@dataclass
class Api:
    """Posts GraphQL to the app, signed in as whoever the test names."""

    client: httpx.AsyncClient
    settings: Settings

    def headers(self, username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        return {"Authorization": f"Bearer {mint_token(self.settings, username)}"}

    async def post(
        self,
        query: str,
        *,
        as_user: str | None,
        variables: JSON | None = None,
        operation: str | None = None,
    ) -> httpx.Response:
        payload: JSON = {"query": query, "variables": variables or {}}
        if operation:
            payload["operationName"] = operation
        return await self.client.post("/graphql", json=payload, headers=self.headers(as_user))

    async def query(
        self,
        query: str,
        *,
        as_user: str | None,
        variables: JSON | None = None,
        operation: str | None = None,
    ) -> JSON:
        response = await self.post(query, as_user=as_user, variables=variables, operation=operation)
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        return body


def errors_at(body: JSON, path: list[str | int]) -> list[JSON]:
    return [e for e in body.get("errors", []) if e.get("path") == path]


def dig(data: Any, path: list[str | int]) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


# Every caller of the fixture world (tests/fixtures/world.yaml); None is a caller without a token.
FIXTURE_CALLERS: tuple[str | None, ...] = (
    "admin", "office", "finance", "drsmith", "nurse", "frontdesk", "biller", "agencyadmin",
    "chiroadmin", "auditor", "helpdesk", "secofficer", "leaver", None,
)  # fmt: skip


def role_table(*allowed: str) -> dict[str | None, bool]:
    """Every fixture-world caller, and whether the policy lets them through (a role table)."""
    return {caller: caller in allowed for caller in FIXTURE_CALLERS}


def refusal_code(caller: str | None) -> str:
    """What a caller the policy refuses gets: no token is UNAUTHENTICATED, else FORBIDDEN."""
    return "UNAUTHENTICATED" if caller is None else "FORBIDDEN"


def error_of(body: JSON) -> tuple[str, str | None]:
    """The code and rule of the answer's one error."""
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("rule")


def codes(body: JSON) -> list[str]:
    """The codes of the answer's errors, in order."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@asynccontextmanager
async def app_client(
    settings: Settings, address: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway app of its own with ``settings``, called from ``address``; disposed after."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await app.state.runtime.db.dispose()
