"""Changing a password (R14) and recovering it by email (R13); each logged without secrets (A1)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.data.db import Database
from gateway.domain.credentials import digest
from gateway.models import OutboxMessage, PasswordRecovery, utcnow
from tests.support import JSON, Api
from tests.support.accounts import (
    CHANGE,
    NEW_PASSWORD,
    PASSWORD,
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
    user_row,
)

REQUEST = (
    """mutation Forgot($login: String!) { requestPasswordRecovery(usernameOrEmail: $login) }"""
)
RECOVER = (
    """mutation Recover($t: String!, $n: String!) { recoverPassword(token: $t, newPassword: $n) }"""
)
LINK = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")


@pytest.fixture
async def account(db: Database) -> Account:
    return await make_account(db)


async def change(api: Api, token: str, current: str, new: str) -> JSON:
    return await body(api, CHANGE, {"c": current, "n": new}, token=token)


# ---- R14: changing a password -------------------------------------------------------------------


async def test_changing_the_password_replaces_it(api: Api, db: Database, account: Account) -> None:
    token = (await login(api, account.username))["accessToken"]
    before = await user_row(db, account.id)
    answer = await change(api, token, PASSWORD, NEW_PASSWORD)
    assert "errors" not in answer, answer
    after = await user_row(db, account.id)
    assert after.password_hash != before.password_hash
    assert after.password_hash is not None and after.password_hash.startswith("$argon2id$")
    assert after.password_changed_at is not None and before.password_changed_at is not None
    assert after.password_changed_at > before.password_changed_at  # R14: 45 days from now
    await login_error(api, account.username, PASSWORD)
    await login(api, account.username, NEW_PASSWORD)


async def test_a_wrong_current_password_counts_as_a_failed_sign_in(
    api: Api, db: Database, account: Account
) -> None:
    token = (await login(api, account.username))["accessToken"]
    for attempt in range(5):
        answer = await change(api, token, "not my password", NEW_PASSWORD)
        error = answer["errors"][0]
        if attempt < 4:  # the fifth locks the account and revokes this very token
            assert (error["extensions"]["code"], error["extensions"]["rule"]) == (
                "BAD_USER_INPUT",
                "R14",
            )
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins) == ("LOCKED", 5)
    assert await signed_in_as(api, token) is None


@pytest.mark.parametrize("new", ["short", "Password2024!", PASSWORD])
async def test_the_new_password_meets_the_policy(
    api: Api, db: Database, account: Account, new: str
) -> None:
    token = (await login(api, account.username))["accessToken"]
    answer = await change(api, token, PASSWORD, new)
    error = answer["errors"][0]["extensions"]
    assert (error["code"], error["rule"]) == ("BAD_USER_INPUT", "R14")
    assert await signed_in_as(api, token) == account.username  # nothing changed


async def test_a_password_containing_the_username_is_refused(api: Api, account: Account) -> None:
    token = (await login(api, account.username))["accessToken"]
    answer = await change(api, token, PASSWORD, f"my name is {account.username.upper()}")
    assert "username" in answer["errors"][0]["message"]


async def test_password_changes_are_logged_without_secrets(
    api: Api, db: Database, account: Account
) -> None:
    token = (await login(api, account.username))["accessToken"]
    failed = await call(api, CHANGE, {"c": "not my password", "n": NEW_PASSWORD}, token=token)
    changed = await call(api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=token)
    assert await events(db, failed) == [("passwordChange", "deny", str(account.id))]
    assert await events(db, changed) == [("passwordChange", "allow", str(account.id))]
    new_tokens = changed.json()["data"]["changePassword"]
    secrets = (PASSWORD, NEW_PASSWORD, "not my password", token, new_tokens["accessToken"])
    for entry in await logged(db, failed) + await logged(db, changed):
        assert not any(s in " ".join(str(v) for v in entry.values()) for s in secrets)


# ---- R13: recovery by email ---------------------------------------------------------------------


async def recovery_emails(db: Database, account: Account) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == account.email, OutboxMessage.kind == "RECOVERY")
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def ask_recovery(api: Api, login_name: str) -> JSON:
    return await body(api, REQUEST, {"login": login_name})


async def recovery_token(api: Api, db: Database, account: Account, login_name: str) -> str:
    assert (await ask_recovery(api, login_name))["data"] == {"requestPasswordRecovery": True}
    match = LINK.search((await recovery_emails(db, account))[-1].body)
    assert match is not None
    return match.group(1)


async def test_the_answer_never_tells_whether_an_account_exists(
    api: Api, db: Database, account: Account
) -> None:
    known = await ask_recovery(api, account.username)
    unknown = await ask_recovery(api, "nobody-by-this-name")
    assert known == unknown == {"data": {"requestPasswordRecovery": True}}
    assert len(await recovery_emails(db, account)) == 1


async def test_recovery_by_email_sets_a_new_password(
    api: Api, db: Database, account: Account
) -> None:
    session = await login(api, account.username)
    token = await recovery_token(api, db, account, account.email.upper())
    async with db.session() as s:
        [stored] = (
            await s.scalars(select(PasswordRecovery).where(PasswordRecovery.user_id == account.id))
        ).all()
    assert stored.token_hash == digest(token)  # R13: only a digest is kept
    answer = await body(api, RECOVER, {"t": token, "n": NEW_PASSWORD})
    assert answer == {"data": {"recoverPassword": True}}
    await login(api, account.username, NEW_PASSWORD)
    assert await signed_in_as(api, session["accessToken"]) is None  # earlier tokens revoked


async def test_a_recovery_link_works_once(api: Api, db: Database, account: Account) -> None:
    token = await recovery_token(api, db, account, account.username)
    assert (await body(api, RECOVER, {"t": token, "n": NEW_PASSWORD}))["data"]["recoverPassword"]
    again = await body(api, RECOVER, {"t": token, "n": "yet another long passphrase"})
    error = again["errors"][0]["extensions"]
    assert (error["code"], error["rule"]) == ("BAD_USER_INPUT", "R13")
    await login(api, account.username, NEW_PASSWORD)


async def test_concurrent_uses_of_one_link_set_one_password(
    api: Api, db: Database, account: Account
) -> None:
    token = await recovery_token(api, db, account, account.username)
    answers = await asyncio.gather(
        *(body(api, RECOVER, {"t": token, "n": f"concurrent passphrase {i}"}) for i in range(3))
    )
    assert sorted("errors" in a for a in answers) == [False, True, True]


async def test_an_expired_or_superseded_link_is_refused(
    api: Api, db: Database, account: Account
) -> None:
    first = await recovery_token(api, db, account, account.username)
    second = await recovery_token(api, db, account, account.username)
    refused = await body(api, RECOVER, {"t": first, "n": NEW_PASSWORD})
    assert refused["errors"][0]["extensions"]["rule"] == "R13"
    async with db.transaction() as session:
        await session.execute(
            update(PasswordRecovery)
            .where(PasswordRecovery.token_hash == digest(second))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await body(api, RECOVER, {"t": second, "n": NEW_PASSWORD})
    assert expired["errors"][0]["extensions"]["rule"] == "R13"
    await login(api, account.username)


async def test_a_weak_new_password_keeps_the_link_usable(
    api: Api, db: Database, account: Account
) -> None:
    token = await recovery_token(api, db, account, account.username)
    weak = await body(api, RECOVER, {"t": token, "n": "Password2024!"})
    assert weak["errors"][0]["extensions"]["rule"] == "R14"
    assert (await body(api, RECOVER, {"t": token, "n": NEW_PASSWORD}))["data"]["recoverPassword"]


async def test_recovery_does_not_unlock_a_locked_account(
    api: Api, db: Database, account: Account
) -> None:
    await set_user(db, account.id, status="LOCKED")
    token = await recovery_token(api, db, account, account.username)
    assert (await body(api, RECOVER, {"t": token, "n": NEW_PASSWORD}))["data"]["recoverPassword"]
    assert (await user_row(db, account.id)).status == "LOCKED"  # R13: unlocking is the help desk's


async def test_recovery_is_logged_without_the_link(
    api: Api, db: Database, account: Account
) -> None:
    asked = await call(api, REQUEST, {"login": account.username})
    nobody = await call(api, REQUEST, {"login": "nobody-by-this-name"})
    match = LINK.search((await recovery_emails(db, account))[-1].body)
    assert match is not None
    used = await call(api, RECOVER, {"t": match.group(1), "n": NEW_PASSWORD})
    assert await events(db, asked) == [("recoveryRequest", "allow", str(account.id))]
    assert await events(db, nobody) == [("recoveryRequest", "deny", None)]
    assert await events(db, used) == [("recovery", "allow", str(account.id))]
    for entry in await logged(db, asked) + await logged(db, used):
        text = " ".join(str(v) for v in entry.values())
        assert match.group(1) not in text and NEW_PASSWORD not in text
