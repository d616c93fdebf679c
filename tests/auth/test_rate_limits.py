"""Sign-in and password recovery are rate-limited per account and per client address, so
neither many requests nor many aliased mutations in one request can brute-force them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from limits.aio.storage import MemoryStorage, RedisStorage

from gateway.auth.rate_limits import Limit, Limiter, hit
from gateway.data.db import Database
from gateway.errors import RateLimited
from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.support import JSON, World
from tests.support.accounts import LOGIN, PASSWORD, Account, code, events, make_account

WRONG = "wrong password 123"
REQUEST = "mutation Forgot($l: String!) { requestPasswordRecovery(usernameOrEmail: $l) }"
RECOVER = (
    "mutation Recover($t: String!, $n: String!) { recoverPassword(token: $t, newPassword: $n) }"
)
REDIS_URL = "redis://127.0.0.1:6379/0"

_addresses = itertools.count(1)


def new_address() -> str:
    """An address no other test signs in from."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@dataclass
class Gateway:
    """An app with tight limits; each post names the client address it comes from."""

    client: httpx.AsyncClient
    db: Database

    async def post(self, query: str, variables: JSON, address: str) -> httpx.Response:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"X-Forwarded-For": address},
        )
        assert response.status_code == 200, response.text
        return response

    async def login(self, username: str, password: str, address: str) -> JSON:
        answer: JSON = (await self.post(LOGIN, {"u": username, "p": password}, address)).json()
        return answer

    async def account(self) -> Account:
        return await make_account(self.db)


def tight(settings: Settings, **limits: Any) -> Settings:
    return settings.model_copy(
        update={
            "trust_forwarded_for": True,  # so each test picks its own client address
            "max_failed_logins": 100,  # R14's lockout must not answer before the rate limit
            "login_limit_per_account": "3/15 minutes",
            "login_limit_per_address": "5/minute",
            "recovery_limit_per_address": "2/hour",
            "activation_limit_per_address": "2/hour",
            "registration_limit_per_address": "2/hour",
            **limits,
        }
    )


@pytest.fixture
async def gateway(settings: Settings, world: World) -> AsyncIterator[Gateway]:
    app = create_app(tight(settings))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://tight.test") as client:
            yield Gateway(client, app.state.runtime.db)
    finally:
        await app.state.runtime.db.dispose()


async def test_an_account_is_refused_past_its_limit_from_any_address(gateway: Gateway) -> None:
    account = await gateway.account()
    for _ in range(3):
        assert code(await gateway.login(account.username, WRONG, new_address())) == (
            "UNAUTHENTICATED"
        )
    refused = await gateway.login(account.username, PASSWORD, new_address())
    assert refused["data"] == {"login": None}
    assert code(refused) == "RATE_LIMITED"
    assert refused["errors"][0]["extensions"]["retryAfterSeconds"] > 0


async def test_an_address_is_refused_past_its_limit_whatever_the_usernames(
    gateway: Gateway,
) -> None:
    address = new_address()
    for n in range(5):
        assert code(await gateway.login(f"nobody-{uuid.uuid4()}-{n}", WRONG, address)) == (
            "UNAUTHENTICATED"
        )
    account = await gateway.account()
    assert code(await gateway.login(account.username, PASSWORD, address)) == "RATE_LIMITED"
    # The account itself was not counted: from another address it signs in.
    assert code(await gateway.login(account.username, PASSWORD, new_address())) is None


async def test_aliased_sign_ins_in_one_request_each_count(settings: Settings, world: World) -> None:
    app = create_app(
        tight(
            settings,
            login_limit_per_account="10/15 minutes",
            login_limit_per_address="100/minute",
        )
    )
    account = await make_account(app.state.runtime.db)
    aliases = " ".join(
        f'a{i}: login(username: "{account.username}", password: "{WRONG}") {{ accessToken }}'
        for i in range(11)
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://tight.test") as client:
            response = await client.post(
                "/graphql",
                json={"query": f"mutation {{ {aliases} }}"},
                headers={"X-Forwarded-For": new_address()},
            )
            db = app.state.runtime.db
            logged = await events(db, response)
    finally:
        await app.state.runtime.db.dispose()
    codes = {e["path"][0]: e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {**{f"a{i}": "UNAUTHENTICATED" for i in range(10)}, "a10": "RATE_LIMITED"}
    assert logged.count(("rateLimit", "deny", None)) == 1  # A1: the refusal is logged


async def test_a_limited_account_and_address_leave_others_alone(gateway: Gateway) -> None:
    limited, other = await gateway.account(), await gateway.account()
    address = new_address()
    for _ in range(3):
        await gateway.login(limited.username, WRONG, address)
    assert code(await gateway.login(limited.username, PASSWORD, address)) == "RATE_LIMITED"
    assert code(await gateway.login(other.username, PASSWORD, new_address())) is None


async def test_a_rate_limited_sign_in_is_logged(gateway: Gateway) -> None:
    account = await gateway.account()
    for _ in range(3):
        await gateway.login(account.username, WRONG, new_address())
    response = await gateway.post(LOGIN, {"u": account.username, "p": PASSWORD}, new_address())
    assert code(response.json()) == "RATE_LIMITED"
    assert await events(gateway.db, response) == [("rateLimit", "deny", None)]


async def test_recovery_requests_and_links_share_an_address_limit(gateway: Gateway) -> None:
    account = await gateway.account()
    address = new_address()
    ask = await gateway.post(REQUEST, {"l": account.username}, address)
    assert ask.json() == {"data": {"requestPasswordRecovery": True}}
    bad_link = await gateway.post(RECOVER, {"t": "not-a-link", "n": "x" * 20}, address)
    assert code(bad_link.json()) == "BAD_USER_INPUT"
    for query, variables in ((REQUEST, {"l": account.username}), (RECOVER, {"t": "x", "n": "y"})):
        refused = (await gateway.post(query, variables, address)).json()
        assert code(refused) == "RATE_LIMITED"
    # Another address still may.
    other = await gateway.post(REQUEST, {"l": account.username}, new_address())
    assert other.json() == {"data": {"requestPasswordRecovery": True}}


ACTIVATE = """mutation Activate($u: String!, $p: String!, $c: String!) {
  activateAccount(username: $u, password: $p, code: $c) { accessToken } }"""
NEW_CODE = "mutation Code($u: String!) { requestActivationCode(username: $u) }"
REGISTER = """mutation Register($i: RegisterUserInput!) { registerUser(input: $i) { userId } }"""


async def test_activation_attempts_share_an_address_limit(gateway: Gateway) -> None:
    """R1: no number of requests can guess a code, or a password through activating."""
    account = await gateway.account()
    address = new_address()
    first = await gateway.post(ACTIVATE, {"u": account.username, "p": WRONG, "c": "X"}, address)
    assert code(first.json()) == "UNAUTHENTICATED"
    second = await gateway.post(NEW_CODE, {"u": account.username}, address)
    assert second.json() == {"data": {"requestActivationCode": True}}
    for query, variables in (
        (NEW_CODE, {"u": account.username}),
        (ACTIVATE, {"u": account.username, "p": PASSWORD, "c": "X"}),
    ):
        refused = (await gateway.post(query, variables, address)).json()
        assert code(refused) == "RATE_LIMITED", refused


async def test_registrations_are_limited_per_address(gateway: Gateway) -> None:
    address = new_address()

    def new_user(n: int) -> JSON:
        username = f"ratelimited{uuid.uuid4().hex[:8]}{n}"
        email = f"{username}@rate.example.org"
        return {"i": {"username": username, "email": email, "name": "R", "password": PASSWORD}}

    for n in range(2):
        answer = (await gateway.post(REGISTER, new_user(n), address)).json()
        assert "errors" not in answer, answer
    refused = (await gateway.post(REGISTER, new_user(3), address)).json()
    assert code(refused) == "RATE_LIMITED"
    other = (await gateway.post(REGISTER, new_user(4), new_address())).json()
    assert "errors" not in other, other


async def test_memory_is_the_default_store(settings: Settings) -> None:
    runtime = Runtime.create(settings.model_copy(update={"redis_url": None}))
    try:
        assert isinstance(runtime.limiter.strategy.storage, MemoryStorage)
    finally:
        await runtime.db.dispose()


async def test_redis_counts_are_shared_by_every_process(settings: Settings) -> None:
    prefix = f"gateway-test-{uuid.uuid4()}"
    redis = tight(settings, redis_url=REDIS_URL, rate_limit_key_prefix=prefix)
    runtime = Runtime.create(redis)
    other_process = Limiter.create(redis)
    storage = runtime.limiter.strategy.storage
    assert isinstance(storage, RedisStorage)
    try:
        for limiter in (runtime.limiter, other_process, runtime.limiter):
            await hit(limiter, Limit.LOGIN_PER_ACCOUNT, "someone")
        with pytest.raises(RateLimited):
            await hit(other_process, Limit.LOGIN_PER_ACCOUNT, "someone")
        await hit(other_process, Limit.LOGIN_PER_ACCOUNT, "someone-else")
        # The counts live in Redis, under this run's prefix (reset deletes only those keys).
        assert await storage.reset() == 2
    finally:
        await storage.reset()
        await runtime.db.dispose()
        runtime.limiter.close()
        other_process.close()
