"""Production mode: bearer tokens from an external OpenID Connect provider, checked on its JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from gateway.data.db import Database
from gateway.http.app import create_app
from gateway.models import User
from gateway.settings import Settings
from tests.support import World
from tests.support.accounts import ME
from tests.support.factories import make_user

AUDIENCE = "provider-portal-gateway"
ISSUER = "https://idp.example.test/"


class Jwks:
    """A tiny JWKS endpoint on 127.0.0.1 that counts how often it is fetched."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                payload = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def publish(self, kid: str, key: rsa.RSAPrivateKey) -> None:
        entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.keys.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def key(jwks: Jwks) -> rsa.RSAPrivateKey:
    private = new_key()
    jwks.publish("key-1", private)
    return private


def oidc_settings(settings: Settings, jwks: Jwks, refresh_seconds: int) -> Settings:
    return settings.model_copy(
        update={
            "jwks_url": jwks.url,
            "jwt_audience": AUDIENCE,
            "jwt_issuer": ISSUER,
            "jwt_secret": None,
            "jwks_refresh_seconds": refresh_seconds,
        }
    )


async def oidc_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client
    await app.state.runtime.db.dispose()


@pytest.fixture
async def client(
    settings: Settings, world: World, jwks: Jwks, key: rsa.RSAPrivateKey
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in oidc_client(oidc_settings(settings, jwks, refresh_seconds=0)):
        yield client


def claims(username: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "sub": username,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    return values | changes


def signed(key: rsa.RSAPrivateKey, username: str, kid: str = "key-1", **changes: Any) -> str:
    return jwt.encode(claims(username, **changes), key, algorithm="RS256", headers={"kid": kid})


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
    """Algorithm confusion: HS256 keyed with the RSA public key's PEM (PyJWT refuses to sign
    it, so the token is assembled by hand)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = {
        k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims(username).items()
    }
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(_public_pem(key), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


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
    async for client in oidc_client(oidc_settings(settings, jwks, refresh_seconds=3600)):
        assert signed_in(await me(client, signed(key, username))) == username
        before = jwks.fetches
        for number in range(5):
            assert refused(await me(client, signed(key, username, kid=f"forged-{number}")))
        assert jwks.fetches == before  # R14: no fetch amplification within the interval
