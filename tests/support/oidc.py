"""An external OpenID Connect provider for the tests: a JWKS endpoint on 127.0.0.1, its keys, the
gateway's settings beside it, and tokens signed (or forged) for it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.settings import Settings

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


@contextmanager
def serving_jwks() -> Iterator[Jwks]:
    """A JWKS endpoint answering in a thread of its own until the block ends."""
    jwks = Jwks()
    thread = threading.Thread(target=jwks.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks
    finally:
        jwks.server.shutdown()
        jwks.server.server_close()


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


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


def claims(username: str, **changes: Any) -> dict[str, Any]:
    """The claims of a token the provider issues to ``username``, valid for five minutes."""
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


def hs256(claims: dict[str, Any], key: bytes, **headers: str) -> str:
    """HS256 with an arbitrary key, e.g. an RSA public key's PEM for algorithm confusion (PyJWT
    refuses a PEM as an HMAC key, so the token is assembled by hand)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"
