"""Cheap requests stay cheap (issue 9, items 6 and 7): a body or a document over a limit is
refused before anything validates or runs it, whoever sends it.

No test measures time: ``HANG_GUARD`` only turns a request that never ends into a failure.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from gateway.http.app import create_app
from gateway.settings import Settings
from tests.support import JSON, Api, app_client, codes

HANG_GUARD = 60.0  # seconds: generous; a refusal takes milliseconds, the unfixed bomb minutes


def fragment_bomb(top: int) -> str:
    """About 1 KB: F0 selects ``me``, each fragment up to F{top} spreads the one before twice."""
    fragments = [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, top + 1)]
    return " ".join(
        [f"query Q {{ ...F{top} }}", "fragment F0 on Query { me { username } }", *fragments]
    )


async def test_a_fragment_bomb_from_anyone_is_refused_before_it_is_walked(api: Api) -> None:
    bomb = fragment_bomb(21)  # as the issue sent it
    response = await asyncio.wait_for(api.post(bomb, as_user=None), HANG_GUARD)
    body = response.json()
    assert (response.status_code, body["data"], codes(body)) == (200, None, ["QUERY_TOO_COMPLEX"])


def tokens(n: int) -> str:
    """n tokens: three of a query and n - 3 comments (the parser counts those too)."""
    return "{ __typename }" + "\n#" * (n - 3)


def operations(n: int) -> str:
    return " ".join(f"query Q{i} {{ __typename }}" for i in range(n))


def aliases(n: int) -> str:
    return "{ " + "".join(f"a{i}: __typename " for i in range(n)) + "}"


def directives(n: int) -> str:
    return "{ " + "__typename @include(if: true) " * n + "}"


def fields(n: int) -> str:
    return "{ " + "__typename " * n + "}"


# From User back to User: ``me { memberships { organization { ... node { user { ...``
TURN = ("memberships", "organization", "members", "edges", "node", "user")


def nested(depth: int) -> str:
    """``me`` and depth - 1 selection sets below it."""
    path = ["me", *(TURN[i % len(TURN)] for i in range(depth - 1))]
    return "{ " + _path(path, "__typename") + " }"


def nested_through_fragments(depth: int) -> str:
    """The same depth, a fragment on User at every turn of the path."""
    turns, rest = divmod(depth - 1, len(TURN))
    fragments = [f"fragment U{i} on User {{ {_path(TURN, f'...U{i + 1}')} }}" for i in range(turns)]
    fragments.append(f"fragment U{turns} on User {{ {_path(TURN[:rest], '__typename')} }}")
    return "\n".join(["{ me { ...U0 } }", *fragments])


def _path(path: Sequence[str], leaf: str) -> str:
    return "".join(f"{field} {{ " for field in path) + leaf + " }" * len(path)


@dataclass(frozen=True)
class Limit:
    setting: str
    document: Callable[[int], str]  # a document asking for exactly n of what is limited
    operation: str | None = None


LIMITS = {
    "tokens": Limit("max_query_tokens", tokens),
    "operations": Limit("max_operations", operations, operation="Q0"),
    "aliases": Limit("max_aliases", aliases),
    "directives": Limit("max_directives", directives),
    "cost": Limit("max_query_cost", fields),
    "depth": Limit("max_query_depth", nested),
    "depth through fragments": Limit("max_query_depth", nested_through_fragments),
}


@pytest.mark.parametrize("name", LIMITS)
async def test_a_document_at_a_limit_is_answered_and_one_past_it_refused(
    api: Api, settings: Settings, name: str
) -> None:
    limit = LIMITS[name]
    allowed: int = getattr(settings, limit.setting)
    at_limit = await _answer(api, limit.document(allowed), limit.operation)
    past_limit = await _answer(api, limit.document(allowed + 1), limit.operation)
    assert "QUERY_TOO_COMPLEX" not in codes(at_limit)
    assert (past_limit["data"], codes(past_limit)) == (None, ["QUERY_TOO_COMPLEX"])


async def _answer(api: Api, document: str, operation: str | None = None) -> JSON:
    response = await asyncio.wait_for(
        api.post(document, as_user=None, operation=operation), HANG_GUARD
    )
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


# -- the body ------------------------------------------------------------------------------------

LIMIT_BYTES = 2048


def json_body(size: int) -> bytes:
    """A valid GraphQL request body of exactly ``size`` bytes (a comment pads it)."""
    head, tail = b'{"query": "{ __typename } #', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@asynccontextmanager
async def small_bodies(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings.model_copy(update={"max_body_bytes": LIMIT_BYTES})) as client:
        yield client


async def test_a_body_at_the_limit_is_answered(settings: Settings) -> None:
    async with small_bodies(settings) as client:
        response = await client.post("/graphql", content=json_body(LIMIT_BYTES), headers=JSON_TYPE)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_declared_length_past_the_limit_is_refused_413(settings: Settings) -> None:
    async with small_bodies(settings) as client:
        response = await client.post(
            "/graphql", content=json_body(LIMIT_BYTES + 1), headers=JSON_TYPE
        )
    assert response.status_code == 413
    assert codes(response.json()) == ["QUERY_TOO_COMPLEX"]


async def test_a_chunked_body_is_refused_413_as_soon_as_it_passes_the_limit(
    settings: Settings,
) -> None:
    chunk, sent = 512, []

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: 10 MB, chunk by chunk
        yield b'{"query": "{ __typename } #'
        for _ in range(10 * 2**20 // chunk):
            sent.append(chunk)
            yield b"x" * chunk
        yield b'"}'

    async with small_bodies(settings) as client:
        response = await asyncio.wait_for(
            client.post("/graphql", content=chunked(), headers=JSON_TYPE), HANG_GUARD
        )
    assert response.status_code == 413
    assert codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert sum(sent) <= LIMIT_BYTES + chunk  # the rest was never read


JSON_TYPE = {"content-type": "application/json"}


# -- a bomb does not take the process down -------------------------------------------------------


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a thread and event loop of its own, as in production: a
    request that blocks that loop blocks every other request to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings),
        lifespan="on",
        log_level="warning",
        loop="asyncio",
        http="h11",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(HANG_GUARD)
    listener.close()


async def test_healthz_answers_while_a_fragment_bomb_is_refused(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=HANG_GUARD) as client:
        await _until_up(client)
        bomb = client.post("/graphql", json={"query": fragment_bomb(25)})
        polls = [client.get("/healthz") for _ in range(20)]
        answers = await asyncio.wait_for(asyncio.gather(bomb, *polls), HANG_GUARD)
    refused, *health = answers
    assert codes(refused.json()) == ["QUERY_TOO_COMPLEX"]
    assert [r.status_code for r in health] == [200] * len(polls)


async def _until_up(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        try:
            await client.get("/healthz")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
