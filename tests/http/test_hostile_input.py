"""Whatever a client sends, the gateway answers it as a client mistake (never 5xx) and every
request that ran anything has its access-log entries (A1, A2): a property, tried on random
bodies, documents and variables."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.auth import mint_token
from gateway.data import Database
from gateway.http import create_app
from gateway.models import AccessLogEntry, AccessLogRequest
from gateway.settings import Settings
from tests.support import World

# Text as clients send it, unpaired surrogates and control characters included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
# Pieces of GraphQL, so that random documents often parse and sometimes run.
PIECES = (
    "query", "mutation", "Q", "{", "}", "(", ")", ":", "$v", "$v: ID", "$v: String", "!", "...F",
    "fragment F on Query", "me", "username", "email", "organizations(first: 2)",
    'organization(id: "1")', "organization(id: $v)", "user(id: $v)", "edges", "node", "name",
    "id", "roles", "code", "__typename", "__schema", "types", "@include(if: true)",
    "@skip(if: $v)", "a:", 'login(username: $v, password: "x")', "accessToken",
    "logout", 'accessLog(since: "2026-01-01T00:00:00Z", objectType: $v)', "cursor", '"\\ud800"',
)  # fmt: skip
# Whole documents that run, given variables of any shape and content.
RUNNABLE = (
    "query($v: ID!) { organization(id: $v) { name taxIds { tin } } }",
    "query($v: ID!) { user(id: $v) { name email memberships { organization { name } } } }",
    "query($v: String!) { users(search: $v) { totalCount edges { node { username email } } } }",
    'query($v: String) { accessLog(objectType: $v, since: "2026-01-01T00:00:00Z") '
    "{ edges { node { decisionId } } } }",
    "query Q($v: Int) { organizations(first: $v) { edges { node { name providers { totalCount "
    "} } } } me { username } }",
    "query($v: String) { organizations(after: $v) { edges { cursor } } roles { code } }",
    "mutation($v: ID!) { removeMember(organizationId: $v, membershipId: $v) { id } }",
    "mutation($v: ID!) { revokeInvitation(organizationId: $v, invitationId: $v) { id } }",
)  # fmt: skip
DOCUMENTS = (
    st.sampled_from(RUNNABLE)
    | st.lists(st.sampled_from(PIECES), max_size=24).map(" ".join)
    | ANY_TEXT
)
EXAMPLES = examples(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run: a red CI means a real regression
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Read-only callers of the fixture world, and nobody: random writes must not change it.
CALLERS = st.sampled_from([None, "auditor", "frontdesk", "biller", "secofficer"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A request body: a GraphQL request with random parts, any JSON, or any bytes."""
    kind = draw(st.sampled_from(["request", "request", "request", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=120))
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    shape = draw(st.sampled_from(["runnable", "runnable", "runnable", "pieces", "anything"]))
    if shape == "runnable":  # mostly documents that run, with variables of any content
        request: dict[str, Any] = {"query": draw(st.sampled_from(RUNNABLE))}
        request["variables"] = {"v": draw(ANY_TEXT | st.integers() | JSON_VALUES)}
    else:
        request = {"query": draw(DOCUMENTS if shape == "pieces" else JSON_VALUES)}
        if draw(st.booleans()):
            request["variables"] = draw(st.dictionaries(st.just("v"), JSON_VALUES) | JSON_VALUES)
    if draw(st.integers(0, 5)) == 0:
        request["operationName"] = draw(ANY_TEXT | JSON_VALUES)
    return json.dumps(request).encode()


async def entries_of(db: Database, request_id: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AccessLogEntry)
            .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
            .where(AccessLogRequest.request_id == request_id)
        )
    return int(count or 0)


def ran_something(body: Any) -> bool:
    """Some field resolved (data), or the enforcement point decided one (a decision id)."""
    if not isinstance(body, dict):
        return False
    decided = any("decisionId" in (e.get("extensions") or {}) for e in body.get("errors") or [])
    return bool(body.get("data")) or decided


@contextmanager
def gateway(settings: Settings) -> Iterator[tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]]:
    """The app on an event loop of this test's own (hypothesis drives examples synchronously)."""
    loop = asyncio.new_event_loop()
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.99", 40000))
    client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
    try:
        yield loop, client
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.runtime.db.dispose())
        loop.close()


def test_no_client_mistake_is_a_server_error_and_nothing_runs_unlogged(
    settings: Settings, world: World
) -> None:
    tokens = {None: None} | {
        name: mint_token(settings, name)
        for name in ("auditor", "frontdesk", "biller", "secofficer")
    }
    with gateway(settings) as (loop, client):
        db = Database(settings.database_url)

        @EXAMPLES
        @given(
            body=bodies(), caller=CALLERS, content_type=st.sampled_from(["json"] * 9 + ["other"])
        )
        def send(body: bytes, caller: str | None, content_type: str) -> None:
            headers = {
                "content-type": "application/json" if content_type == "json" else "text/plain"
            }
            if tokens[caller]:
                headers["authorization"] = f"Bearer {tokens[caller]}"
            response = loop.run_until_complete(
                client.post("/graphql", content=body, headers=headers)
            )
            assert response.status_code < 500, (response.status_code, response.text, body)
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if ran_something(answer):
                request_id = response.headers["x-request-id"]
                assert loop.run_until_complete(entries_of(db, request_id)) > 0, (answer, body)

        try:
            send()
        finally:
            loop.run_until_complete(db.dispose())
