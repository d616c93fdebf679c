"""R14 sign-in: one answer for unknown user and wrong password, lockout, expired passwords; A1."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

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
    set_user,
    signed_in_as,
    user_row,
)


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


async def test_unknown_user_costs_a_password_verification_too(api: Api, db: Database) -> None:
    """Timing does not tell an unknown username: it is verified against a dummy hash."""
    account = await make_account(db)

    async def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            await login_error(api, username, "not the password at all")
            times.append(time.perf_counter() - start)
        return min(times)

    await fastest("warm-up-unknown")  # the dummy hash is made on first use
    wrong, unknown = await fastest(account.username), await fastest("nobody-by-this-name")
    assert unknown > 0.5 * wrong, (unknown, wrong)


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
