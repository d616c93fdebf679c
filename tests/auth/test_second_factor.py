"""R14 second factor: enrolment, sign-in with a TOTP code that works once, the restricted
session of roles that require one, the help desk's reset, and what the access log keeps (A1).

Codes are computed here with pyotp from the secret the API returned. A test uses the codes of
the step it started in and the next one: the gateway accepts both until the clock has moved on
by two steps (a minute), which no test waits for.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import insert, update

from gateway.auth.second_factor import decrypt
from gateway.authz.enforcement import MUST_CHANGE, MUST_ENROLL
from gateway.data.db import Database
from gateway.domain.second_factor import CODE_REQUIRED
from gateway.domain.sign_in import ACCOUNT_LOCKED, SIGN_IN_FAILED
from gateway.http.app import create_app
from gateway.models import Membership, MembershipRole, Organization
from gateway.settings import Settings
from tests.support import JSON, Api, World, app_client, refusal_code, role_table
from tests.support.accounts import (
    LOGOUT,
    ME,
    NEW_PASSWORD,
    PASSWORD,
    Account,
    body,
    call,
    events,
    logged,
    make_account,
    password_hash,
    set_user,
    signed_in_as,
    user_row,
)
from tests.support.factories import Org, make_org
from tests.support.oidc import new_key, oidc_settings, serving_jwks, signed

LOGIN = """
mutation SignIn($u: String!, $p: String!, $c: String) {
  login(username: $u, password: $p, totpCode: $c) {
    accessToken refreshToken mustChangePassword mustEnrollSecondFactor
  }
}"""
BEGIN = "mutation Begin { beginSecondFactorEnrollment { secret provisioningUri } }"
CONFIRM = "mutation Confirm($c: String!) { confirmSecondFactor(code: $c) }"
RESET = "mutation Reset($u: ID!) { resetSecondFactor(userId: $u) }"
REQUIRED_ROLES = frozenset({"ACCOUNT_ADMIN", "FINANCIAL_MANAGER"})


@dataclass(frozen=True)
class Codes:
    """The codes of one secret around the step a test started in."""

    secret: str
    step: int

    @classmethod
    def of(cls, secret: str) -> Codes:
        return cls(secret, pyotp.TOTP(secret).timecode(datetime.now(UTC)))

    def at(self, offset: int) -> str:
        return pyotp.TOTP(self.secret).generate_otp(self.step + offset)

    @property
    def now(self) -> str:
        return self.at(0)

    @property
    def next(self) -> str:
        return self.at(1)

    def wrong(self) -> str:
        """Six digits that are no code of any step near now."""
        near = {self.at(offset) for offset in range(-3, 4)}
        return next(c for c in (f"{n:06}" for n in range(1, 1000, 37)) if c not in near)


@dataclass(frozen=True)
class Enrolled:
    account: Account
    codes: Codes
    token: str  # the access token of the session that enrolled


def error_of(answer: JSON) -> JSON:
    [error] = answer["errors"]
    result: JSON = error
    return result


def code_of(answer: JSON) -> str:
    return str(error_of(answer)["extensions"]["code"])


async def sign_in(
    api: Api, username: str, code: str | None = None, password: str = PASSWORD
) -> JSON:
    """The whole answer to a login."""
    return await body(api, LOGIN, {"u": username, "p": password, "c": code})


async def session(api: Api, username: str, code: str | None = None) -> JSON:
    """The LoginResult of a login that must succeed."""
    answer = await sign_in(api, username, code)
    assert "errors" not in answer, answer
    result: JSON = answer["data"]["login"]
    return result


async def enrol(api: Api, token: str) -> tuple[Codes, str]:
    """Begin and confirm with this step's code: the codes and the provisioning URI."""
    begun = await body(api, BEGIN, token=token)
    assert "errors" not in begun, begun
    enrollment = begun["data"]["beginSecondFactorEnrollment"]
    codes = Codes.of(enrollment["secret"])
    confirmed = await body(api, CONFIRM, {"c": codes.now}, token=token)
    assert confirmed == {"data": {"confirmSecondFactor": True}}, confirmed
    return codes, str(enrollment["provisioningUri"])


async def enrolled(api: Api, db: Database) -> Enrolled:
    """A user of no organization with a second factor enabled (this step's code used)."""
    account = await make_account(db)
    token = (await session(api, account.username))["accessToken"]
    codes, _ = await enrol(api, token)
    return Enrolled(account, codes, token)


# ---- enrolment --------------------------------------------------------------------------------


async def test_enrolling_then_signing_in_with_a_code(api: Api, db: Database) -> None:
    account = await make_account(db)
    token = (await session(api, account.username))["accessToken"]
    codes, uri = await enrol(api, token)
    assert uri.startswith("otpauth://totp/Provider%20Portal:" + account.username)
    assert f"secret={codes.secret}" in uri and "issuer=Provider%20Portal" in uri
    assert (await user_row(db, account.id)).totp_enabled_at is not None
    result = await session(api, account.username, codes.next)
    assert (result["mustChangePassword"], result["mustEnrollSecondFactor"]) == (False, False)
    assert await signed_in_as(api, result["accessToken"]) == account.username
    row = await user_row(db, account.id)
    assert (row.totp_last_step, row.failed_logins) == (codes.step + 1, 0)


async def test_the_secret_is_stored_encrypted(api: Api, db: Database, settings: Settings) -> None:
    user = await enrolled(api, db)
    stored = (await user_row(db, user.account.id)).totp_secret
    assert stored is not None and user.codes.secret not in stored
    assert decrypt(stored, settings) == user.codes.secret
    other_key = settings.model_copy(update={"totp_key": "some other key"})
    assert decrypt(stored, other_key) is None


async def test_beginning_again_replaces_the_pending_secret(api: Api, db: Database) -> None:
    account = await make_account(db)
    token = (await session(api, account.username))["accessToken"]
    begun = [await body(api, BEGIN, token=token) for _ in range(2)]
    old, new = (Codes.of(b["data"]["beginSecondFactorEnrollment"]["secret"]) for b in begun)
    assert old.secret != new.secret
    if old.now != new.now:  # two secrets share a code about once in a million
        assert code_of(await body(api, CONFIRM, {"c": old.now}, token=token)) == "BAD_USER_INPUT"
    confirmed = await body(api, CONFIRM, {"c": new.now}, token=token)
    assert confirmed == {"data": {"confirmSecondFactor": True}}


async def test_a_wrong_confirmation_code_enables_nothing(api: Api, db: Database) -> None:
    account = await make_account(db)
    token = (await session(api, account.username))["accessToken"]
    begun = await body(api, BEGIN, token=token)
    codes = Codes.of(begun["data"]["beginSecondFactorEnrollment"]["secret"])
    refused = await body(api, CONFIRM, {"c": codes.wrong()}, token=token)
    assert refused["data"] == {"confirmSecondFactor": None}
    error = error_of(refused)
    assert (error["extensions"]["code"], error["extensions"]["argument"]) == (
        "BAD_USER_INPUT",
        "code",
    )
    row = await user_row(db, account.id)
    assert row.totp_enabled_at is None and row.totp_secret is not None
    # A pending secret is not asked for at sign-in.
    assert (await session(api, account.username))["mustEnrollSecondFactor"] is False


async def test_confirming_without_a_pending_enrolment_is_a_conflict(api: Api, db: Database) -> None:
    account = await make_account(db)
    token = (await session(api, account.username))["accessToken"]
    assert code_of(await body(api, CONFIRM, {"c": "123456"}, token=token)) == "CONFLICT"


async def test_an_enabled_factor_cannot_be_replaced_by_its_holder(api: Api, db: Database) -> None:
    """R14: someone holding a stolen session could otherwise move the factor to their phone."""
    user = await enrolled(api, db)
    before = (await user_row(db, user.account.id)).totp_secret
    for query, variables in ((BEGIN, {}), (CONFIRM, {"c": user.codes.next})):
        answer = await body(api, query, variables, token=user.token)
        assert code_of(answer) == "CONFLICT", answer
        assert error_of(answer)["extensions"]["rule"] == "R14"
    row = await user_row(db, user.account.id)
    assert row.totp_secret == before and row.totp_enabled_at is not None


# ---- signing in with the code -----------------------------------------------------------------


async def test_a_missing_code_is_asked_for_only_after_the_right_password(
    api: Api, db: Database
) -> None:
    user = await enrolled(api, db)
    username = user.account.username
    wrong_password = error_of(await sign_in(api, username, password="wrong password 123"))
    assert (wrong_password["message"], wrong_password["extensions"]["reason"]) == (
        SIGN_IN_FAILED,
        "SIGN_IN_FAILED",
    )
    missing = await sign_in(api, username)
    assert missing["data"] == {"login": None}
    error = error_of(missing)
    assert error["message"] == CODE_REQUIRED
    assert error["extensions"] == {
        "code": "UNAUTHENTICATED",
        "rule": "R14",
        "reason": "SECOND_FACTOR_REQUIRED",
    }
    # The attempt is not refunded: both count until a full success resets them.
    assert (await user_row(db, user.account.id)).failed_logins == 2
    await session(api, username, user.codes.next)
    assert (await user_row(db, user.account.id)).failed_logins == 0


async def test_wrong_codes_count_as_failed_sign_ins_and_lock_after_five(
    api: Api, db: Database
) -> None:
    user = await enrolled(api, db)
    username, wrong = user.account.username, user.codes.wrong()
    wrong_password = error_of(await sign_in(api, username, password="wrong password 123"))
    for _ in range(3):
        wrong_code = error_of(await sign_in(api, username, wrong))
        assert (wrong_code["message"], wrong_code["extensions"]) == (
            wrong_password["message"],
            wrong_password["extensions"],
        )
    assert (await user_row(db, user.account.id)).status == "ACTIVE"
    fifth = await call(api, LOGIN, {"u": username, "p": PASSWORD, "c": wrong})
    assert error_of(fifth.json())["message"] == SIGN_IN_FAILED
    assert ("lockout", "deny", str(user.account.id)) in await events(db, fifth)
    row = await user_row(db, user.account.id)
    assert (row.status, row.failed_logins, row.token_version) == ("LOCKED", 5, 1)
    assert await signed_in_as(api, user.token) is None  # the lockout revoked it
    assert error_of(await sign_in(api, username, user.codes.next))["message"] == ACCOUNT_LOCKED


@pytest.mark.parametrize("typed", ["\u0661\u0662\u0663\u0664\u0665\u0666", "12345", "12a456", ""])
async def test_a_malformed_code_is_a_wrong_code(api: Api, db: Database, typed: str) -> None:
    """Digits of other scripts, short codes and letters are answered like any wrong code (and
    logged), never with a server error."""
    user = await enrolled(api, db)
    answer = await call(api, LOGIN, {"u": user.account.username, "p": PASSWORD, "c": typed})
    error = error_of(answer.json())
    expected = "SECOND_FACTOR_REQUIRED" if typed == "" else "SIGN_IN_FAILED"
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
        "UNAUTHENTICATED",
        expected,
    )
    assert await events(db, answer)
    newcomer = await make_account(db)
    token = (await session(api, newcomer.username))["accessToken"]
    assert "errors" not in await body(api, BEGIN, token=token)
    confirm = await body(api, CONFIRM, {"c": typed}, token=token)
    assert code_of(confirm) == "BAD_USER_INPUT"


async def test_a_code_works_once(api: Api, db: Database) -> None:
    user = await enrolled(api, db)
    username = user.account.username
    await session(api, username, user.codes.next)
    for used in (user.codes.next, user.codes.now):  # the same code, and an older one
        assert error_of(await sign_in(api, username, used))["message"] == SIGN_IN_FAILED
    assert (await user_row(db, user.account.id)).failed_logins == 2


@pytest.mark.parametrize("attempt", range(3))
async def test_two_sign_ins_with_one_code_at_once_only_one_wins(
    api: Api, db: Database, attempt: int
) -> None:
    user = await enrolled(api, db)
    answers = await asyncio.gather(
        *(sign_in(api, user.account.username, user.codes.next) for _ in range(2))
    )
    won = [a for a in answers if "errors" not in a]
    lost = [error_of(a)["message"] for a in answers if "errors" in a]
    assert (len(won), lost) == (1, [SIGN_IN_FAILED])


async def test_a_code_is_ignored_without_a_second_factor(api: Api, db: Database) -> None:
    account = await make_account(db)
    assert (await session(api, account.username, "123456"))["mustEnrollSecondFactor"] is False


# ---- the help desk's reset --------------------------------------------------------------------


@pytest.mark.parametrize(("caller", "allowed"), role_table("helpdesk").items())
async def test_only_the_help_desk_resets_a_second_factor(
    api: Api, db: Database, caller: str | None, allowed: bool
) -> None:
    user = await enrolled(api, db)
    answer = await api.query(RESET, as_user=caller, variables={"u": str(user.account.id)})
    row = await user_row(db, user.account.id)
    if not allowed:
        assert code_of(answer) == refusal_code(caller)
        assert row.totp_enabled_at is not None and row.totp_secret is not None
        return
    assert answer == {"data": {"resetSecondFactor": True}}
    assert (row.totp_secret, row.totp_enabled_at, row.totp_last_step) == (None, None, None)
    # Sessions opened with the lost device end; the next sign-in needs no code, and the user
    # may enrol a new device.
    assert row.token_version == 1
    assert await signed_in_as(api, user.token) is None
    token = (await session(api, user.account.username))["accessToken"]
    await enrol(api, token)


async def test_resetting_an_unknown_user_is_not_found(api: Api) -> None:
    answer = await api.query(RESET, as_user="helpdesk", variables={"u": "987654321"})
    assert code_of(answer) == "NOT_FOUND"


# ---- the access log (A1) ----------------------------------------------------------------------


async def test_second_factor_events_are_logged_without_the_secret_or_a_code(
    api: Api, db: Database
) -> None:
    account = await make_account(db)
    user_id = str(account.id)
    token = (await session(api, account.username))["accessToken"]
    begun = await call(api, BEGIN, token=token)
    enrollment = begun.json()["data"]["beginSecondFactorEnrollment"]
    codes = Codes.of(enrollment["secret"])
    sign = {"u": account.username, "p": PASSWORD}
    responses = [
        begun,
        await call(api, CONFIRM, {"c": codes.wrong()}, token=token),
        await call(api, CONFIRM, {"c": codes.now}, token=token),
        await call(api, BEGIN, token=token),
        await call(api, LOGIN, sign),
        await call(api, LOGIN, {**sign, "c": codes.wrong()}),
        await call(api, LOGIN, {**sign, "c": codes.next}),
        await call(api, LOGIN, {**sign, "c": codes.next}),
        await api.post(RESET, as_user="helpdesk", variables={"u": user_id}),
    ]
    expected = [
        ("secondFactorEnrolment", "allow", "awaits confirmation"),
        ("secondFactorConfirm", "deny", "wrong code"),
        ("secondFactorConfirm", "allow", "enabled"),
        ("secondFactorEnrolment", "deny", "already enabled"),
        ("signIn", "deny", "no second-factor code"),
        ("signIn", "deny", "wrong or used"),
        ("signIn", "allow", "code verified"),
        ("signIn", "deny", "wrong or used"),
        ("secondFactorReset", "allow", "help desk"),
    ]
    secrets = [codes.secret, enrollment["provisioningUri"], codes.now, codes.next, codes.wrong()]
    for response, (field, decision, rule) in zip(responses, expected, strict=True):
        entries = await logged(db, response)
        [event] = [e for e in entries if e.object_type == "Account"]
        assert (event.field, event.decision, event.object_id) == (field, decision, user_id)
        assert rule in event.rule
        for entry in entries:
            text = " ".join(v for v in entry.values() if isinstance(v, str))
            found = [s for s in secrets if re.search(rf"\b{re.escape(s)}\b", text)]
            assert found == [], (entry.field, found)


# ---- required by setting (GATEWAY_TOTP_REQUIRED_ROLES) -----------------------------------------

ORGANIZATION = "query Org($id: ID!) { organization(id: $id) { name } }"
CHANGE_PASSWORD = """
mutation Change($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n) {
    accessToken mustChangePassword mustEnrollSecondFactor
  }
}"""


@pytest.fixture(scope="module")
async def required(settings: Settings, world: World) -> AsyncIterator[Api]:
    """The gateway with GATEWAY_TOTP_REQUIRED_ROLES=ACCOUNT_ADMIN,FINANCIAL_MANAGER."""
    strict = settings.model_copy(update={"totp_required_roles": REQUIRED_ROLES})
    app = create_app(strict)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://strict.test") as client:
            yield Api(client, strict)
    finally:
        await app.state.runtime.db.dispose()


@dataclass(frozen=True)
class Member:
    org: Org
    username: str
    user_id: int


async def member(db: Database, role: str) -> Member:
    """The one member of a new organization, holding ``role``, with a password."""
    org = await make_org(db, members={role: 1}, providers=0)
    username = org.user(role)
    user_id = org.users[username]
    await set_user(
        db, user_id, password_hash=password_hash(), password_changed_at=datetime.now(UTC)
    )
    return Member(org, username, user_id)


def assert_must_enroll(answer: JSON) -> None:
    error = error_of(answer)
    assert (error["extensions"]["code"], error["message"]) == ("FORBIDDEN", MUST_ENROLL), answer
    assert error["extensions"]["rule"] == "R14"


@pytest.mark.parametrize(
    ("role", "restricted"),
    [
        ("ACCOUNT_ADMIN", True),
        ("FINANCIAL_MANAGER", True),
        ("OFFICE_MANAGER", False),
        ("STAFF", False),
    ],
)
async def test_roles_that_require_a_second_factor_get_a_restricted_session(
    required: Api, db: Database, role: str, restricted: bool
) -> None:
    person = await member(db, role)
    result = await session(required, person.username)
    assert result["mustEnrollSecondFactor"] is restricted
    answer = await body(required, ME, token=result["accessToken"])
    if restricted:
        assert_must_enroll(answer)
    else:
        assert answer["data"]["me"]["username"] == person.username


async def test_a_restricted_session_may_only_enrol_then_is_full(
    required: Api, db: Database
) -> None:
    person = await member(db, "ACCOUNT_ADMIN")
    org = {"id": str(person.org.id)}
    token = (await session(required, person.username))["accessToken"]
    refused: list[tuple[str, dict[str, Any]]] = [
        (ME, {}),
        (ORGANIZATION, org),
        ("query Roles { roles { code } }", {}),
        ('mutation { requestAccess(providerId: "P", tin: "123456789") { id } }', {}),
        (CHANGE_PASSWORD, {"c": PASSWORD, "n": NEW_PASSWORD}),
        (RESET, {"u": str(person.user_id)}),
    ]
    for query, variables in refused:
        assert_must_enroll(await body(required, query, variables, token=token))
    codes, _ = await enrol(required, token)
    # Decided per request: the session that enrolled is a full one from its next request.
    named = (await body(required, ORGANIZATION, org, token=token))["data"]["organization"]
    assert named["name"].startswith("Factory Org")
    missing = error_of(await sign_in(required, person.username))
    assert missing["extensions"]["reason"] == "SECOND_FACTOR_REQUIRED"
    full = await session(required, person.username, codes.next)
    assert full["mustEnrollSecondFactor"] is False
    assert await signed_in_as(required, full["accessToken"]) == person.username


async def test_a_restricted_session_may_sign_out(required: Api, db: Database) -> None:
    person = await member(db, "FINANCIAL_MANAGER")
    token = (await session(required, person.username))["accessToken"]
    assert await body(required, LOGOUT, token=token) == {"data": {"logout": True}}
    assert (await user_row(db, person.user_id)).token_version == 1


async def test_a_role_granted_later_restricts_the_next_request(required: Api, db: Database) -> None:
    person = await member(db, "OFFICE_MANAGER")
    token = (await session(required, person.username))["accessToken"]
    assert await signed_in_as(required, token) == person.username
    async with db.transaction() as transaction:
        await transaction.execute(
            insert(MembershipRole).values(
                membership_id=person.org.members[person.username], role="ACCOUNT_ADMIN"
            )
        )
    assert_must_enroll(await body(required, ME, token=token))


@pytest.mark.parametrize(
    ("membership", "organization", "restricted"),
    [("ACTIVE", "ACTIVE", True), ("REMOVED", "ACTIVE", False), ("ACTIVE", "SUSPENDED", False)],
)
async def test_only_active_memberships_of_active_organizations_require_it(
    required: Api, db: Database, membership: str, organization: str, restricted: bool
) -> None:
    person = await member(db, "ACCOUNT_ADMIN")
    async with db.transaction() as transaction:
        await transaction.execute(
            update(Membership).where(Membership.user_id == person.user_id).values(status=membership)
        )
        await transaction.execute(
            update(Organization).where(Organization.id == person.org.id).values(status=organization)
        )
    answer = await required.query(ME, as_user=person.username)
    if restricted:
        assert_must_enroll(answer)
    else:
        assert answer["data"]["me"]["username"] == person.username


async def test_an_expired_password_is_changed_before_enrolling(required: Api, db: Database) -> None:
    person = await member(db, "ACCOUNT_ADMIN")
    await set_user(db, person.user_id, password_changed_at=datetime.now(UTC) - timedelta(days=46))
    result = await session(required, person.username)
    assert (result["mustChangePassword"], result["mustEnrollSecondFactor"]) == (True, True)
    error = error_of(await body(required, BEGIN, token=result["accessToken"]))
    assert (error["extensions"]["code"], error["message"]) == ("FORBIDDEN", MUST_CHANGE)
    variables = {"c": PASSWORD, "n": NEW_PASSWORD}
    changed = (await body(required, CHANGE_PASSWORD, variables, token=result["accessToken"]))[
        "data"
    ]["changePassword"]
    assert (changed["mustChangePassword"], changed["mustEnrollSecondFactor"]) == (False, True)
    assert_must_enroll(await body(required, ME, token=changed["accessToken"]))
    await enrol(required, changed["accessToken"])


async def test_an_external_providers_token_is_not_restricted(
    settings: Settings, world: World, db: Database
) -> None:
    """The gateway asks for its own second factor only on the tokens it issues; an external
    provider's sign-in runs that provider's factors."""
    person = await member(db, "ACCOUNT_ADMIN")
    with serving_jwks() as jwks:
        key = new_key()
        jwks.publish("key-1", key)
        external = oidc_settings(settings, jwks, refresh_seconds=0)
        required = external.model_copy(update={"totp_required_roles": REQUIRED_ROLES})
        async with app_client(required) as client:
            response = await client.post(
                "/graphql",
                json={"query": ME},
                headers={"Authorization": f"Bearer {signed(key, person.username)}"},
            )
    assert response.json()["data"]["me"]["username"] == person.username
