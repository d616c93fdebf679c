"""A username names one account in any case, as its unique index (on lower(username)) says:
sign-in, lockout, the per-account limit and recovery find it however it is typed (R13, R14)."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.data.db import Database
from gateway.models import OutboxMessage
from gateway.settings import Settings
from tests.support import Api, World, app_client
from tests.support.accounts import (
    LOGIN,
    PASSWORD,
    Account,
    body,
    code,
    login,
    login_error,
    make_account,
    signed_in_as,
    user_row,
)

WRONG = "not the password at all"
RECOVERY = "mutation Forgot($l: String!) { requestPasswordRecovery(usernameOrEmail: $l) }"


def spellings(account: Account) -> list[str]:
    """The username as people type it: "ID1-PERSON", "Id1-Person", ..."""
    name = account.username
    return [name.upper(), name.title(), name.capitalize(), name.swapcase().title(), name]


async def test_a_username_signs_in_whatever_its_case(api: Api, db: Database) -> None:
    account = await make_account(db)
    result = await login(api, account.username.upper())
    # The token names the stored username: a bearer token's subject is matched exactly.
    assert await signed_in_as(api, result["accessToken"]) == account.username


async def test_failures_in_any_case_count_toward_one_lockout(api: Api, db: Database) -> None:
    account = await make_account(db)
    for name in spellings(account):
        await login_error(api, name, WRONG)
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins) == ("LOCKED", 5)


async def test_the_per_account_limit_counts_every_case_alike(
    settings: Settings, world: World, db: Database
) -> None:
    tight = settings.model_copy(
        update={"login_limit_per_account": "3/15 minutes", "max_failed_logins": 100}
    )
    account = await make_account(db)
    names = spellings(account)
    async with app_client(tight) as client:
        answers = [
            (await client.post("/graphql", json={"query": LOGIN, "variables": variables})).json()
            for variables in [{"u": name, "p": WRONG} for name in names[:3]]
            + [{"u": names[3], "p": PASSWORD}]
        ]
    assert [code(answer) for answer in answers] == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]


async def test_recovery_finds_the_username_whatever_its_case(api: Api, db: Database) -> None:
    account = await make_account(db)
    answer = await body(api, RECOVERY, {"l": account.username.upper()})
    assert answer == {"data": {"requestPasswordRecovery": True}}
    async with db.session() as session:
        mailed = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.recipient == account.email, OutboxMessage.kind == "RECOVERY")
        )
    assert mailed == 1
