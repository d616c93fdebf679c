"""R14 tokens: forged, expired and revoked access tokens; rotating refresh tokens; A1 refusals."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select, update

from gateway.auth.tokens import mint_token
from gateway.cli import main
from gateway.data.db import Database
from gateway.models import RefreshToken
from gateway.settings import Settings, get_settings
from tests.support import JSON, Api
from tests.support.accounts import (
    CHANGE,
    LOGOUT,
    ME,
    NEW_PASSWORD,
    PASSWORD,
    REFRESH,
    Account,
    body,
    call,
    events,
    logged,
    login,
    login_error,
    make_account,
    set_user,
    signed_in_as,
)


@pytest.fixture
async def account(db: Database) -> Account:
    return await make_account(db)


def claims(username: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "sub": username,
        "ver": 0,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def forged(settings: Settings, username: str) -> dict[str, str]:
    """Tokens an attacker could build, by the refusal the log must record."""
    secret = settings.signing_secret
    return {
        "algorithm not allowed": jwt.encode(claims(username), "", algorithm="none"),
        "bad signature": jwt.encode(
            claims(username), "an-attackers-own-secret-of-32-bytes!", algorithm="HS256"
        ),
        "missing claim": jwt.encode(claims(username, ver=None), secret, algorithm="HS256"),
        "malformed claims": jwt.encode(claims(username, ver="0"), secret, algorithm="HS256"),
        "malformed": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "refusal",
    ["algorithm not allowed", "bad signature", "missing claim", "malformed claims", "malformed"],
)
async def test_forged_tokens_are_refused_and_logged(
    api: Api, db: Database, settings: Settings, account: Account, refusal: str
) -> None:
    token = forged(settings, account.username)[refusal]
    response = await call(api, ME, token=token)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    entries = await logged(db, response)
    [refused] = [e for e in entries if e.object_type == "Account"]
    assert (refused.field, refused.action, refused.decision) == ("token", "login", "deny")
    assert refused.rule == f"A1: bearer token refused: {refusal}"
    assert refused.client_address == "203.0.113.7"
    # An unverified token's subject is the attacker's to write: it is not logged as anyone.
    assert (refused.user_id, refused.username) == (None, None)
    assert token not in " ".join(str(v) for e in entries for v in e.values())


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_another_hmac_algorithm_with_the_right_key_is_refused(
    api: Api, settings: Settings, account: Account
) -> None:
    token = jwt.encode(claims(account.username), settings.signing_secret, algorithm="HS512")
    assert await signed_in_as(api, token) is None


async def test_an_expired_token_is_refused_and_logged_as_its_owners(
    api: Api, db: Database, settings: Settings, account: Account
) -> None:
    token = mint_token(settings, account.username, ttl=timedelta(minutes=-5))
    response = await call(api, ME, token=token)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    [refused] = [e for e in await logged(db, response) if e.object_type == "Account"]
    assert refused.rule == "A1: bearer token refused: expired"
    assert (refused.user_id, refused.username) == (None, account.username)


async def test_access_tokens_last_the_idle_limit(
    api: Api, settings: Settings, account: Account
) -> None:
    result = await login(api, account.username)
    decoded = jwt.decode(result["accessToken"], settings.signing_secret, algorithms=["HS256"])
    assert decoded["exp"] - decoded["iat"] == 15 * 60  # HIPAA automatic logoff (R14)
    assert decoded["sub"] == account.username and decoded["ver"] == 0
    expires = datetime.fromisoformat(result["expiresAt"])
    assert expires.timestamp() == decoded["exp"]


async def test_logout_revokes_every_token_at_once(api: Api, db: Database, account: Account) -> None:
    first, second = await login(api, account.username), await login(api, account.username)
    assert (await body(api, LOGOUT, token=first["accessToken"]))["data"] == {"logout": True}
    response = await call(api, ME, token=second["accessToken"])
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await events(db, response) == [("token", "deny", None)]
    assert (await refresh(api, second["refreshToken"]))["data"]["refreshToken"] is None


async def test_a_password_change_revokes_earlier_tokens(api: Api, account: Account) -> None:
    other_session = await login(api, account.username)
    current = await login(api, account.username)
    answer = await body(
        api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=current["accessToken"]
    )
    assert await signed_in_as(api, answer["data"]["changePassword"]["accessToken"])
    assert await signed_in_as(api, current["accessToken"]) is None
    assert await signed_in_as(api, other_session["accessToken"]) is None
    assert (await refresh(api, other_session["refreshToken"]))["data"]["refreshToken"] is None


async def test_a_lockout_revokes_earlier_tokens(api: Api, account: Account) -> None:
    session = await login(api, account.username)
    for _ in range(5):
        await login_error(api, account.username, "wrong password 123")
    assert await signed_in_as(api, session["accessToken"]) is None
    assert (await refresh(api, session["refreshToken"]))["data"]["refreshToken"] is None


@pytest.mark.parametrize("status", ["DEACTIVATED", "LOCKED"])
async def test_tokens_stop_when_the_account_is_not_active(
    api: Api, db: Database, account: Account, status: str
) -> None:
    session = await login(api, account.username)
    await set_user(db, account.id, status=status)
    assert await signed_in_as(api, session["accessToken"]) is None
    assert (await refresh(api, session["refreshToken"]))["data"]["refreshToken"] is None


async def refresh(api: Api, token: str) -> JSON:
    return await body(api, REFRESH, {"t": token})


async def test_a_refresh_token_is_rotated(api: Api, account: Account) -> None:
    first = await login(api, account.username)
    second = (await refresh(api, first["refreshToken"]))["data"]["refreshToken"]
    assert second["refreshToken"] != first["refreshToken"]
    assert await signed_in_as(api, second["accessToken"]) == account.username
    third = (await refresh(api, second["refreshToken"]))["data"]["refreshToken"]
    assert await signed_in_as(api, third["accessToken"]) == account.username


async def test_reusing_a_rotated_refresh_token_revokes_the_session(
    api: Api, db: Database, account: Account
) -> None:
    first = await login(api, account.username)
    second = (await refresh(api, first["refreshToken"]))["data"]["refreshToken"]
    reuse = await call(api, REFRESH, {"t": first["refreshToken"]})
    [error] = reuse.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert await events(db, reuse) == [("refresh", "deny", str(account.id))]
    [entry] = [e for e in await logged(db, reuse) if e.object_type == "Account"]
    assert "came back" in (entry.rule or "")
    # The thief's or the owner's copy: neither goes on.
    assert (await refresh(api, second["refreshToken"]))["data"]["refreshToken"] is None
    assert await signed_in_as(api, second["accessToken"]) is None


async def test_an_idle_session_ends(api: Api, db: Database, account: Account) -> None:
    first = await login(api, account.username)
    digest = hashlib.sha256(first["refreshToken"].encode()).hexdigest()
    async with db.transaction() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == digest)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await refresh(api, first["refreshToken"]))["data"]["refreshToken"] is None


async def test_a_session_ends_at_its_hard_limit_even_when_used(
    api: Api, db: Database, account: Account
) -> None:
    first = await login(api, account.username)
    async with db.transaction() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == account.id)
            .values(session_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await refresh(api, first["refreshToken"]))["data"]["refreshToken"] is None


async def test_refresh_tokens_are_stored_as_digests_with_idle_expiry(
    api: Api, db: Database, account: Account
) -> None:
    result = await login(api, account.username)
    async with db.session() as session:
        [row] = (
            await session.scalars(select(RefreshToken).where(RefreshToken.user_id == account.id))
        ).all()
    assert row.token_hash == hashlib.sha256(result["refreshToken"].encode()).hexdigest()
    assert row.expires_at - row.issued_at == timedelta(minutes=15)
    assert row.session_expires_at - row.issued_at == timedelta(hours=12)


async def test_an_unknown_refresh_token_is_refused(api: Api) -> None:
    answer = await refresh(api, "no-such-refresh-token")
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_refreshing_keeps_an_expired_password_restricted(api: Api, db: Database) -> None:
    account = await make_account(db, password_age=timedelta(days=50))
    first = await login(api, account.username)
    second = (await refresh(api, first["refreshToken"]))["data"]["refreshToken"]
    assert second["mustChangePassword"] is True
    assert (await body(api, ME, token=second["accessToken"]))["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"


def test_the_development_token_names_the_current_version(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    account: Account,
) -> None:
    """``gateway token`` keeps working after a sign-out: it mints at the user's new version."""
    monkeypatch.setenv("GATEWAY_ENV", "development")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("GATEWAY_JWT_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        asyncio.run(_bump(settings, account.id))
        assert main(["token", account.username]) == 0
        token = capsys.readouterr().out.strip()
        assert main(["token", "no-such-user"]) == 1
    finally:
        get_settings.cache_clear()
    assert jwt.decode(token, settings.signing_secret, algorithms=["HS256"])["ver"] == 1


async def _bump(settings: Settings, user_id: int) -> None:
    database = Database(settings.database_url)
    try:
        await set_user(database, user_id, token_version=1)
    finally:
        await database.dispose()


async def test_a_development_token_of_an_old_version_is_refused(
    api: Api, db: Database, settings: Settings, account: Account
) -> None:
    await set_user(db, account.id, token_version=3)
    assert await signed_in_as(api, mint_token(settings, account.username, version=2)) is None
    assert await signed_in_as(api, mint_token(settings, account.username, version=3))
