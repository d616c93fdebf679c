"""Production mode: bearer tokens from an external OpenID Connect provider, checked on its JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from gateway.data.db import Database
from gateway.models import User
from gateway.settings import Settings
from tests.support import World, app_client
from tests.support.accounts import ME
from tests.support.factories import make_user
from tests.support.oidc import (
    Jwks,
    claims,
    hs256,
    new_key,
    oidc_settings,
    serving_jwks,
    signed,
)

OIDC_ADDRESS = "203.0.113.9"


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    with serving_jwks() as server:
        yield server


@pytest.fixture(scope="module")
def key(jwks: Jwks) -> rsa.RSAPrivateKey:
    private = new_key()
    jwks.publish("key-1", private)
    return private


@pytest.fixture
async def client(
    settings: Settings, world: World, jwks: Jwks, key: rsa.RSAPrivateKey
) -> AsyncIterator[httpx.AsyncClient]:
    oidc = oidc_settings(settings, jwks, refresh_seconds=0)
    async with app_client(oidc, OIDC_ADDRESS) as client:
        yield client


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def signed_in(answer: dict[str, Any]) -> str | None:
    user = (answer.get("data") or {}).get("me")
    return None if user is None else str(user["username"])


def refused(answer: dict[str, Any]) -> bool:
    errors = answer.get("errors") or []
    return signed_in(answer) is None and errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_valid_provider_token_signs_in(
    client: httpx.AsyncClient, key: rsa.RSAPrivateKey, db: Database
) -> None:
    username, _ = await make_user(db)
    assert signed_in(await me(client, signed(key, username))) == username


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256_with_public_key(key: rsa.RSAPrivateKey, username: str) -> str:
    """Algorithm confusion: HS256 keyed with the RSA public key's PEM."""
    return hs256(claims(username), _public_pem(key), kid="key-1")


ATTACKS: dict[str, Callable[[rsa.RSAPrivateKey, str], str]] = {
    "alg none": lambda key, user: jwt.encode(
        claims(user), "", algorithm="none", headers={"kid": "key-1"}
    ),
    "HS256 keyed with the public key": _hs256_with_public_key,
    "expired": lambda key, user: signed(key, user, exp=datetime.now(UTC) - timedelta(minutes=2)),
    "not yet valid": lambda key, user: signed(
        key, user, nbf=datetime.now(UTC) + timedelta(minutes=2)
    ),
    "wrong audience": lambda key, user: signed(key, user, aud="another-service"),
    "wrong issuer": lambda key, user: signed(key, user, iss="https://evil.example.test/"),
    "unknown kid": lambda key, user: signed(key, user, kid="key-unknown"),
    "signed by a key the provider never published": lambda key, user: signed(new_key(), user),
}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_forged_or_misdirected_tokens_are_refused(
    client: httpx.AsyncClient, key: rsa.RSAPrivateKey, db: Database, attack: str
) -> None:
    username, _ = await make_user(db)
    assert refused(await me(client, ATTACKS[attack](key, username)))


async def test_a_longer_subject_is_not_cut_down_to_a_local_username(
    client: httpx.AsyncClient, key: rsa.RSAPrivateKey, db: Database
) -> None:
    """A provider name of more than 64 characters is refused, not truncated into the name of
    whichever local user its first 64 characters spell."""
    _, user_id = await make_user(db)
    longest = f"u{user_id}-".ljust(64, "x")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(username=longest))
    assert signed_in(await me(client, signed(key, longest))) == longest
    assert refused(await me(client, signed(key, longest + "-someone-else")))


async def test_a_locked_user_is_refused_even_with_a_valid_token(
    client: httpx.AsyncClient, key: rsa.RSAPrivateKey, db: Database
) -> None:
    username, user_id = await make_user(db)
    token = signed(key, username)
    assert signed_in(await me(client, token)) == username
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(status="LOCKED"))
    assert refused(await me(client, token))  # R8: status is read on every request


async def test_a_key_the_provider_adds_later_is_fetched_on_first_use(
    client: httpx.AsyncClient, jwks: Jwks, key: rsa.RSAPrivateKey, db: Database
) -> None:
    username, _ = await make_user(db)
    rotated = new_key()
    assert refused(await me(client, signed(rotated, username, kid="key-2")))
    jwks.publish("key-2", rotated)
    assert signed_in(await me(client, signed(rotated, username, kid="key-2"))) == username


async def test_unknown_kids_refetch_the_key_set_at_most_once_per_interval(
    settings: Settings, world: World, jwks: Jwks, key: rsa.RSAPrivateKey, db: Database
) -> None:
    username, _ = await make_user(db)
    refreshing = oidc_settings(settings, jwks, refresh_seconds=3600)
    async with app_client(refreshing, OIDC_ADDRESS) as client:
        assert signed_in(await me(client, signed(key, username))) == username
        before = jwks.fetches
        for number in range(5):
            assert refused(await me(client, signed(key, username, kid=f"forged-{number}")))
        assert jwks.fetches == before  # R14: no fetch amplification within the interval
