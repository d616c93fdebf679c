"""R14 sign-in: one answer for unknown user and wrong password, lockout, expired passwords; A1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters

from gateway.authz.enforcement import MUST_CHANGE
from gateway.data.db import Database
from gateway.domain.sign_in import ACCOUNT_LOCKED, SIGN_IN_FAILED
from gateway.models import utcnow
from tests.support import Api
from tests.support.accounts import (
    CHANGE,
    LOGIN,
    LOGOUT,
    ME,
    NEW_PASSWORD,
    PASSWORD,
    body,
    call,
    events,
    logged,
    login,
    login_error,
    make_account,
    password_hash,
    set_user,
    signed_in_as,
    user_row,
)

WRONG = "not the password at all"


async def test_signing_in_returns_tokens_that_work(api: Api, db: Database) -> None:
    account = await make_account(db)
    await set_user(db, account.id, failed_logins=3)
    before = utcnow()
    result = await login(api, account.username)
    assert result["mustChangePassword"] is False
    assert await signed_in_as(api, result["accessToken"]) == account.username
    row = await user_row(db, account.id)
    assert row.failed_logins == 0  # R14: a success resets the count
    assert row.last_login_at is not None and row.last_login_at >= before


async def test_unknown_user_and_wrong_password_get_the_same_answer(api: Api, db: Database) -> None:
    account = await make_account(db)
    wrong = await login_error(api, account.username, "not the password at all")
    unknown = await login_error(api, "nobody-by-this-name", "not the password at all")
    for error in (wrong, unknown):
        del error["locations"]
    assert wrong == unknown
    assert wrong["message"] == SIGN_IN_FAILED
    assert wrong["extensions"]["code"] == "UNAUTHENTICATED"


@dataclass
class Argon2Work:
    """What the one argon2id hasher was asked to do: the hashes it verified, how many it made."""

    verified: list[str] = field(default_factory=list)
    hashed: int = 0

    def clear(self) -> None:
        self.verified.clear()
        self.hashed = 0


@pytest.fixture
def argon2_work(monkeypatch: pytest.MonkeyPatch) -> Argon2Work:
    """A spy on the real hasher: it records each call and still calls through, so every
    verification is the real one (run in the gateway's worker threads)."""
    work = Argon2Work()
    real_verify, real_hash = PasswordHasher.verify, PasswordHasher.hash

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        work.verified.append(hash.decode() if isinstance(hash, bytes) else hash)
        return real_verify(self, hash, password)

    def hash_(self: PasswordHasher, password: str | bytes, *args: Any, **kwargs: Any) -> str:
        work.hashed += 1
        return real_hash(self, password, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    monkeypatch.setattr(PasswordHasher, "hash", hash_)
    return work


async def test_unknown_user_costs_a_password_verification_too(
    api: Api, db: Database, argon2_work: Argon2Work
) -> None:
    """Timing does not tell an unknown username: it costs exactly the argon2 work of a wrong
    password, one verification at the same parameters, against a dummy hash. Counted, not
    timed (timing belongs in bench/)."""
    account = await make_account(db)
    stored = (await user_row(db, account.id)).password_hash
    assert stored is not None
    await login_error(api, "warm-up-unknown", WRONG)  # the dummy hash is made on first use
    argon2_work.clear()
    await login_error(api, account.username, WRONG)
    wrong = (list(argon2_work.verified), argon2_work.hashed)
    argon2_work.clear()
    await login_error(api, "nobody-by-this-name", WRONG)
    unknown = (list(argon2_work.verified), argon2_work.hashed)
    assert wrong == ([stored], 0)
    [dummy], hashed = unknown
    assert hashed == 0
    assert dummy != stored  # not the account's hash: a dummy one ...
    assert extract_parameters(dummy) == extract_parameters(stored)  # ... that costs the same


# Failed sign-ins that must cost what a wrong password costs: (status of the account, or None for
# no such username; whether it has a password; the password tried).
REFUSED_SIGN_INS = {
    "wrong password": ("ACTIVE", True, WRONG),
    "unknown username": (None, False, WRONG),
    "account without a password": ("ACTIVE", False, WRONG),
    "locked, right password": ("LOCKED", True, PASSWORD),
    "deactivated, right password": ("DEACTIVATED", True, PASSWORD),
    "invited, right password": ("INVITED", True, PASSWORD),
}


@pytest.mark.parametrize(
    ("status", "has_password", "tried"),
    REFUSED_SIGN_INS.values(),
    ids=REFUSED_SIGN_INS.keys(),
)
async def test_every_refused_sign_in_costs_one_verification_at_the_stored_cost(
    api: Api,
    db: Database,
    argon2_work: Argon2Work,
    status: str | None,
    has_password: bool,
    tried: str,
) -> None:
    if status is None:
        username = "nobody-by-this-name"
    else:
        account = await make_account(db, status=status, password=PASSWORD if has_password else None)
        username = account.username
    await login_error(api, "warm-up-unknown", WRONG)  # the dummy hash is made on first use
    argon2_work.clear()
    await login_error(api, username, tried)
    [verified] = argon2_work.verified
    assert argon2_work.hashed == 0
    assert extract_parameters(verified) == extract_parameters(password_hash())


async def test_five_failures_lock_the_account(api: Api, db: Database) -> None:
    account = await make_account(db)
    earlier = await login(api, account.username)
    for _ in range(4):
        assert (await login_error(api, account.username, "wrong password 123"))[
            "message"
        ] == SIGN_IN_FAILED
    assert (await user_row(db, account.id)).status == "ACTIVE"
    response = await call(api, LOGIN, {"u": account.username, "p": "wrong password 123"})
    assert ("lockout", "deny", str(account.id)) in await events(db, response)
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins, row.token_version) == ("LOCKED", 5, 1)
    # R14: the lockout revokes tokens issued before it.
    assert await signed_in_as(api, earlier["accessToken"]) is None


async def test_a_locked_account_says_so_without_judging_the_password(
    api: Api, db: Database
) -> None:
    account = await make_account(db, status="LOCKED")
    right = await login_error(api, account.username, PASSWORD)
    wrong = await login_error(api, account.username, "wrong password 123")
    for error in (right, wrong):
        del error["locations"]
    assert right == wrong
    assert right["message"] == ACCOUNT_LOCKED
    assert right["extensions"]["reason"] == "ACCOUNT_LOCKED"
    assert (await user_row(db, account.id)).failed_logins == 0  # locked: nothing more counts


async def test_a_success_restarts_the_count(api: Api, db: Database) -> None:
    account = await make_account(db)
    for _ in range(4):
        await login_error(api, account.username, "wrong password 123")
    await login(api, account.username)
    for _ in range(4):
        await login_error(api, account.username, "wrong password 123")
    assert (await user_row(db, account.id)).status == "ACTIVE"


@pytest.mark.parametrize("attempt", range(3))
async def test_concurrent_failures_all_count(api: Api, db: Database, attempt: int) -> None:
    account = await make_account(db)
    failures = await asyncio.gather(
        *(login_error(api, account.username, f"wrong password {i}") for i in range(5))
    )
    assert {f["extensions"]["code"] for f in failures} == {"UNAUTHENTICATED"}
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins) == ("LOCKED", 5)


@pytest.mark.parametrize("status", ["DEACTIVATED", "INVITED"])
async def test_only_active_accounts_sign_in(api: Api, db: Database, status: str) -> None:
    account = await make_account(db, status=status)
    error = await login_error(api, account.username, PASSWORD)
    assert error["message"] == SIGN_IN_FAILED


async def test_an_expired_password_allows_only_changing_it_or_signing_out(
    api: Api, db: Database
) -> None:
    account = await make_account(db, password_age=timedelta(days=46))
    result = await login(api, account.username)
    assert result["mustChangePassword"] is True
    restricted = result["accessToken"]
    for query in (
        ME,
        "query Roles { roles { code } }",
        'mutation { requestAccess(providerId: "P", tin: "123456789") { id } }',
    ):
        answer = await body(api, query, token=restricted)
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", answer
        assert error["message"] == MUST_CHANGE and error["extensions"]["rule"] == "R14"
    changed = (await body(api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=restricted))[
        "data"
    ]["changePassword"]
    assert changed["mustChangePassword"] is False
    assert await signed_in_as(api, changed["accessToken"]) == account.username
    assert await signed_in_as(api, restricted) is None  # the change revoked it


async def test_an_expired_password_may_sign_out(api: Api, db: Database) -> None:
    account = await make_account(db, password_age=timedelta(days=46))
    restricted = (await login(api, account.username))["accessToken"]
    assert (await body(api, LOGOUT, token=restricted))["data"] == {"logout": True}


async def test_a_password_younger_than_45_days_is_not_expired(api: Api, db: Database) -> None:
    account = await make_account(db, password_age=timedelta(days=44))
    assert (await login(api, account.username))["mustChangePassword"] is False


async def test_sign_ins_are_logged_with_the_address_and_no_secret(api: Api, db: Database) -> None:
    account = await make_account(db)
    ok = await call(api, LOGIN, {"u": account.username, "p": PASSWORD})
    failed = await call(api, LOGIN, {"u": account.username, "p": "wrong password 123"})
    token = ok.json()["data"]["login"]
    entries = await logged(db, ok)
    login_entry = next(e for e in entries if (e.object_type, e.field) == ("Mutation", "login"))
    assert (login_entry.action, login_entry.decision) == ("login", "allow")
    assert login_entry.client_address == "203.0.113.7"
    # A1: the successful request is the user's.
    assert (login_entry.user_id, login_entry.username) == (account.id, account.username)
    assert await events(db, ok) == [("signIn", "allow", str(account.id))]
    assert await events(db, failed) == [("signIn", "deny", str(account.id))]
    secrets = (PASSWORD, "wrong password 123", token["accessToken"], token["refreshToken"])
    for entry in entries + await logged(db, failed):
        text = " ".join(str(v) for v in entry.values())
        assert not any(s in text for s in secrets)


async def test_attempts_sent_at_once_cannot_test_more_passwords_than_the_limit(
    api: Api, db: Database
) -> None:
    """R14 under concurrency: every attempt takes one of the five before its password is
    checked, so a burst of guesses judges at most five and the rest only learn "locked"."""
    account = await make_account(db)
    guesses = [f"wrong guess number {i}" for i in range(12)]
    answers = await asyncio.gather(
        *(body(api, LOGIN, {"u": account.username, "p": guess}) for guess in guesses)
    )
    judged = [a for a in answers if a.get("errors") and a["errors"][0]["message"] == SIGN_IN_FAILED]
    assert len(judged) <= 5
    locked = [a for a in answers if a.get("errors") and a["errors"][0]["message"] == ACCOUNT_LOCKED]
    assert len(locked) == len(guesses) - len(judged)
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins) == ("LOCKED", 5)
    # The right password, now, only learns that the account is locked.
    assert (await login_error(api, account.username, PASSWORD))["message"] == ACCOUNT_LOCKED
