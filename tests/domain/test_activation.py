"""R1: the first user of a pending organization is its master account holder and activates it
with the code mailed to its correspondence address (seed 004); A1 for every step."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from gateway.auth.second_factor import encrypt
from gateway.data.db import Database
from gateway.domain.activation_codes import CODE_ALPHABET, CODE_LENGTH
from gateway.domain.sign_in import NOT_ACTIVATED, SIGN_IN_FAILED
from gateway.models import ActivationCode, Organization, OutboxMessage, User, utcnow
from gateway.settings import Settings
from tests.support import JSON, Api, World, role_table
from tests.support.accounts import (
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
from tests.support.factories import Org, make_org

REGISTER = """mutation Register($input: RegisterUserInput!) {
  registerUser(input: $input) { userId username accessRequestId activationCodeExpiresAt } }"""
ACTIVATE = """mutation Activate($u: String!, $p: String!, $c: String!, $t: String) {
  activateAccount(username: $u, password: $p, code: $c, totpCode: $t) {
    accessToken mustChangePassword } }"""
RELEASE = "mutation Release($org: ID!) { releaseMasterAccount(organizationId: $org) }"
UNLOCK = "mutation Unlock($u: ID!) { unlockUser(userId: $u) { status } }"
NEW_CODE = "mutation NewCode($u: String!) { requestActivationCode(username: $u) }"
CLAIM = """mutation Claim($p: String!, $t: String!) {
  requestMasterAccount(providerId: $p, tin: $t) {
    organizationId organizationName codeExpiresAt } }"""
REISSUE = """mutation Reissue($org: ID!) {
  reissueActivationCode(organizationId: $org) { organizationId codeExpiresAt } }"""
MEMBERS = """query Members($id: ID!) { organization(id: $id) { status
  members { edges { node { roles { code } user { username } } } } } }"""
CODE = re.compile(rf"^    ([{CODE_ALPHABET}]{{{CODE_LENGTH}}})$", re.MULTILINE)

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Pending:
    """An organization awaiting its master account, and how to name it (R1)."""

    org: Org
    tin: str

    @property
    def pair(self) -> JSON:
        return {"providerId": self.org.provider_id, "tin": self.tin}


async def pending_org(db: Database) -> Pending:
    tin = f"77{next(_numbers):07d}"
    org = await make_org(db, members={}, tins=(tin,), status="PENDING_ACTIVATION")
    return Pending(org, tin)


def person(n: int | None = None) -> JSON:
    username = f"holder{n or next(_numbers)}"
    return {
        "username": username,
        "email": f"{username}@activation.example.org",
        "name": f"Holder {username}",
        "password": PASSWORD,
    }


async def register_holder(api: Api, pending: Pending, who: JSON | None = None) -> JSON:
    fields = {**(who or person()), "masterAccount": pending.pair}
    return await body(api, REGISTER, {"input": fields})


async def holder(api: Api, pending: Pending) -> str:
    """Register a master account holder for ``pending``; their username."""
    answer = await register_holder(api, pending)
    assert "errors" not in answer, answer
    return str(answer["data"]["registerUser"]["username"])


async def letters(db: Database, org_id: int) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.organization_id == org_id, OutboxMessage.kind == "ACTIVATION_LETTER"
            )
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def mailed_code(db: Database, org_id: int) -> str:
    """The code printed in the organization's latest activation letter."""
    match = CODE.search((await letters(db, org_id))[-1].body)
    assert match is not None
    return match.group(1)


async def activate(
    api: Api, username: str, code: str, password: str = PASSWORD, totp: str | None = None
) -> JSON:
    return await body(api, ACTIVATE, {"u": username, "p": password, "c": code, "t": totp})


async def ask_for_a_code(api: Api, username: str) -> None:
    """R1: the answer is always the same; only the outbox shows whether a letter went."""
    answer = await body(api, NEW_CODE, {"u": username})
    assert answer == {"data": {"requestActivationCode": True}}, answer


def refusal(answer: JSON) -> tuple[str, str | None]:
    [error] = answer["errors"]
    return error["extensions"]["code"], error["extensions"].get("reason")


async def org_status(db: Database, org_id: int) -> str:
    async with db.session() as session:
        status = await session.scalar(select(Organization.status).where(Organization.id == org_id))
    return str(status)


async def age_codes(db: Database, org_id: int, days: int) -> None:
    """Move the organization's codes ``days`` into the past."""
    async with db.transaction() as session:
        codes = await session.scalars(
            select(ActivationCode).where(ActivationCode.organization_id == org_id)
        )
        for code in codes:
            code.issued_at -= timedelta(days=days)
            code.expires_at -= timedelta(days=days)


# ---- registering as the master account holder -------------------------------------------------


async def test_the_first_user_gets_a_letter_and_waits_for_activation(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    before = utcnow()
    answer = await register_holder(api, pending)
    assert "errors" not in answer, answer
    registered = answer["data"]["registerUser"]
    expires = datetime.fromisoformat(registered["activationCodeExpiresAt"])
    assert timedelta(days=15) <= expires - before <= timedelta(days=15, minutes=1)
    assert (await user_row(db, int(registered["userId"]))).status == "PENDING_ACTIVATION"
    assert await org_status(db, pending.org.id) == "PENDING_ACTIVATION"
    [letter] = await letters(db, pending.org.id)
    # R1 (seed 004): by post to the correspondence address, never by email.
    assert (letter.channel, letter.status) == ("LETTER", "PENDING")
    async with db.session() as session:
        org = await session.get(Organization, pending.org.id)
    assert org is not None and org.address_line1
    assert letter.recipient.splitlines() == [
        org.name,
        "Attn: master account holder",  # nothing a stranger typed
        org.address_line1,
        "Phoenix, AZ 85001",
    ]


async def test_the_code_is_stored_only_as_a_slow_hash(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    async with db.session() as session:
        [stored] = (
            await session.scalars(
                select(ActivationCode.code_hash).where(
                    ActivationCode.organization_id == pending.org.id
                )
            )
        ).all()
    assert stored.startswith("$argon2id$") and code not in stored


@pytest.mark.parametrize("wrong", ["tin", "provider", "active"])
async def test_a_wrong_pair_reveals_nothing_and_registers_nobody(
    api: Api, db: Database, world: World, wrong: str
) -> None:
    pending = await pending_org(db)
    pair = dict(pending.pair)
    if wrong == "tin":
        pair["tin"] = "999999999"
    elif wrong == "provider":
        pair["providerId"] = "NO-SUCH-ID"
    else:  # an ACTIVE organization's true pair: it has its master account already
        pair = {"providerId": "P-100001", "tin": "860000101"}
    who = person()
    answer = await body(api, REGISTER, {"input": {**who, "masterAccount": pair}})
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND" and error["extensions"]["rule"] == "R1"
    assert "provider ID and tax ID" in error["message"]
    async with db.session() as session:  # all or nothing: the account was not created
        assert await session.scalar(select(User.id).where(User.username == who["username"])) is None
    assert await letters(db, pending.org.id) == []


async def test_an_organization_has_one_master_account_holder(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    await holder(api, pending)
    second = await register_holder(api, pending)
    assert refusal(second) == ("CONFLICT", None)
    assert second["errors"][0]["extensions"]["rule"] == "R1"
    assert len(await letters(db, pending.org.id)) == 1


async def test_two_first_users_at_once_make_one_holder(api: Api, db: Database) -> None:
    """R1 under concurrency: the organization's row lock lets one of them be first."""
    pending = await pending_org(db)
    answers = await asyncio.gather(*(register_holder(api, pending) for _ in range(4)))
    winners = [a for a in answers if "errors" not in a]
    assert len(winners) == 1, answers
    assert {refusal(a)[0] for a in answers if a not in winners} == {"CONFLICT"}
    assert len(await letters(db, pending.org.id)) == 1


async def test_without_a_correspondence_address_no_letter_can_go(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    async with db.transaction() as session:
        await session.execute(
            update(Organization).where(Organization.id == pending.org.id).values(address_line1=None)
        )
    answer = await register_holder(api, pending)
    assert refusal(answer) == ("CONFLICT", None)
    assert "correspondence address" in answer["errors"][0]["message"]


async def test_an_invitation_and_a_master_account_do_not_mix(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    fields = {**person(), "masterAccount": pending.pair, "invitationToken": "x" * 43}
    answer = await body(api, REGISTER, {"input": fields})
    assert refusal(answer) == ("BAD_USER_INPUT", None)


# ---- until activation, nothing else -------------------------------------------------------------


async def test_the_holder_cannot_sign_in_before_activating(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    error = await login_error(api, username, PASSWORD)
    assert error["message"] == NOT_ACTIVATED
    assert error["extensions"]["reason"] == "ACTIVATION_REQUIRED"
    # Only the right password learns that: a wrong one gets the usual answer.
    wrong = await login_error(api, username, "not the password at all")
    assert wrong["message"] == SIGN_IN_FAILED


async def test_a_registered_user_claiming_an_organization_holds_nothing_there_yet(
    api: Api, db: Database
) -> None:
    """R1: a role in an organization awaiting activation counts for nothing."""
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    claimed = await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    assert claimed["data"]["requestMasterAccount"]["organizationId"] == str(pending.org.id)
    seen = await body(api, MEMBERS, {"id": str(pending.org.id)}, token=token)
    assert seen["data"] == {"organization": None}
    assert refusal(seen)[0] == "NOT_FOUND"
    invite = await body(
        api,
        """mutation I($org: ID!) { inviteUser(organizationId: $org, input: {name: "N",
        email: "n@activation.example.org", emailConfirmation: "n@activation.example.org",
        kind: OFFICE_STAFF}) { id } }""",
        {"org": str(pending.org.id)},
        token=token,
    )
    assert refusal(invite)[0] == "FORBIDDEN"


# ---- activating ---------------------------------------------------------------------------------


async def test_the_exact_code_activates_the_organization_and_signs_in(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    answer = await activate(api, username, await mailed_code(db, pending.org.id))
    assert "errors" not in answer, answer
    token = answer["data"]["activateAccount"]["accessToken"]
    assert await signed_in_as(api, token) == username
    assert await org_status(db, pending.org.id) == "ACTIVE"
    roster = (await body(api, MEMBERS, {"id": str(pending.org.id)}, token=token))["data"]
    [member] = roster["organization"]["members"]["edges"]
    assert member["node"] == {"roles": [{"code": "ACCOUNT_ADMIN"}], "user": {"username": username}}
    assert (await login(api, username))["accessToken"]  # the account is ACTIVE now


async def test_a_code_works_once(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    assert "errors" not in await activate(api, username, code)
    again = await activate(api, username, code)
    assert refusal(again) == ("BAD_USER_INPUT", "NO_ACTIVATION_PENDING")


async def test_two_activations_with_one_code_at_once_use_it_once(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    answers = await asyncio.gather(*(activate(api, username, code) for _ in range(3)))
    assert len([a for a in answers if "errors" not in a]) == 1, answers
    async with db.session() as session:
        used = await session.scalar(
            select(ActivationCode.used_at).where(ActivationCode.organization_id == pending.org.id)
        )
    assert used is not None


@pytest.mark.parametrize("typed", ["lower", "spaced", "short"])
async def test_the_code_must_match_exactly(api: Api, db: Database, typed: str) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    attempt = {"lower": code.lower(), "spaced": f" {code} ", "short": code[:-1]}[typed]
    answer = await activate(api, username, attempt)
    assert refusal(answer) == ("BAD_USER_INPUT", "CODE_MISMATCH")
    assert answer["errors"][0]["extensions"]["attemptsLeft"] == 4
    assert await org_status(db, pending.org.id) == "PENDING_ACTIVATION"


async def test_a_wrong_password_activates_nothing(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    answer = await activate(api, username, code, password="not the password at all")
    assert refusal(answer) == ("UNAUTHENTICATED", "SIGN_IN_FAILED")
    assert await org_status(db, pending.org.id) == "PENDING_ACTIVATION"
    assert "errors" not in await activate(api, username, code)  # the code was not spent


async def test_five_wrong_codes_spend_the_code(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    for _ in range(3):
        assert refusal(await activate(api, username, "WRONGCODE234"))[1] == "CODE_MISMATCH"
    # Four at once (within the five sign-in attempts): only two codes are left to judge, each
    # claimed before it is checked.
    wrong = await asyncio.gather(*(activate(api, username, "WRONGCODE234") for _ in range(4)))
    assert sorted(refusal(a)[1] or "" for a in wrong) == ["CODE_MISMATCH"] * 2 + ["CODE_SPENT"] * 2
    assert refusal(await activate(api, username, code)) == ("BAD_USER_INPUT", "CODE_SPENT")
    # R1: a spent code is replaced on request; the new letter's code works.
    await ask_for_a_code(api, username)
    assert len(await letters(db, pending.org.id)) == 2
    assert "errors" not in await activate(api, username, await mailed_code(db, pending.org.id))


async def test_a_code_expires_after_fifteen_days(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    code = await mailed_code(db, pending.org.id)
    await age_codes(db, pending.org.id, days=15)
    assert refusal(await activate(api, username, code)) == ("BAD_USER_INPUT", "CODE_EXPIRED")
    assert await org_status(db, pending.org.id) == "PENDING_ACTIVATION"


async def test_a_code_younger_than_fifteen_days_still_works(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    await age_codes(db, pending.org.id, days=14)
    assert "errors" not in await activate(api, username, await mailed_code(db, pending.org.id))


async def test_an_expired_code_is_replaced_on_request(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    old = await mailed_code(db, pending.org.id)
    await age_codes(db, pending.org.id, days=16)
    await ask_for_a_code(api, username)
    assert len(await letters(db, pending.org.id)) == 2
    new = await mailed_code(db, pending.org.id)
    assert new != old
    assert refusal(await activate(api, username, old))[1] == "CODE_MISMATCH"
    assert "errors" not in await activate(api, username, new)


@pytest.mark.parametrize("who", ["valid code", "no activation", "unknown"])
async def test_a_new_letter_goes_only_when_the_code_is_unusable(
    api: Api, db: Database, who: str
) -> None:
    """Asked for by username alone, so the answer (always true) must tell nothing, and a
    stranger cannot make letters pile up: a working code is not replaced."""
    pending = await pending_org(db)
    username = await holder(api, pending)
    name = {"valid code": username, "no activation": "admin", "unknown": "nobody-by-this-name"}
    await ask_for_a_code(api, name[who])
    assert len(await letters(db, pending.org.id)) == 1


async def test_an_active_user_activates_the_organization_they_claimed(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    answer = await activate(api, account.username, await mailed_code(db, pending.org.id))
    assert "errors" not in answer, answer
    new_token = answer["data"]["activateAccount"]["accessToken"]
    roster = await body(api, MEMBERS, {"id": str(pending.org.id)}, token=new_token)
    assert roster["data"]["organization"]["status"] == "ACTIVE"


async def test_wrong_passwords_while_activating_count_towards_the_lockout(
    api: Api, db: Database
) -> None:
    """R14: activating is no way around the five attempts of an ACTIVE account."""
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    for i in range(5):
        await activate(api, account.username, "WRONGCODE234", password=f"wrong password {i}")
    assert (await user_row(db, account.id)).status == "LOCKED"


async def test_a_pending_holder_is_locked_out_too_and_unlocked_back_to_pending(
    api: Api, db: Database
) -> None:
    """R14 for accounts awaiting activation: without the lockout, "ACTIVATION_REQUIRED" would
    confirm a guessed password as often as anyone cares to guess."""
    pending = await pending_org(db)
    username = await holder(api, pending)
    user_id = await _user_id(db, username)
    for i in range(5):
        await activate(api, username, "WRONGCODE234", password=f"wrong password {i}")
    row = await user_row(db, user_id)  # still awaiting activation, with no attempt left
    assert (row.status, row.failed_logins) == ("PENDING_ACTIVATION", 6)
    assert (await login_error(api, username, PASSWORD))["extensions"]["reason"] == "ACCOUNT_LOCKED"
    code = await mailed_code(db, pending.org.id)
    assert refusal(await activate(api, username, code))[1] == "ACCOUNT_LOCKED"
    unlocked = await api.query(UNLOCK, as_user="helpdesk", variables={"u": str(user_id)})
    assert unlocked["data"] == {"unlockUser": {"status": "PENDING_ACTIVATION"}}, unlocked
    assert "errors" not in await activate(api, username, code)


async def test_a_registered_user_who_claimed_an_organization_is_unlocked_to_active(
    api: Api, db: Database
) -> None:
    """Unlocking or releasing never turns someone's established account into one awaiting
    activation, whatever their sign-in history (an OIDC user never used login)."""
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    await set_user(db, account.id, last_login_at=None)
    for i in range(5):
        await login_error(api, account.username, f"wrong password {i}")
    assert (await user_row(db, account.id)).status == "LOCKED"
    await api.query(RELEASE, as_user="helpdesk", variables={"org": str(pending.org.id)})
    assert (await user_row(db, account.id)).status == "LOCKED"  # not deactivated
    unlocked = await api.query(UNLOCK, as_user="helpdesk", variables={"u": str(account.id)})
    assert unlocked["data"] == {"unlockUser": {"status": "ACTIVE"}}, unlocked


async def test_the_right_password_with_wrong_codes_does_not_lock_the_account(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    for _ in range(7):
        await activate(api, account.username, "WRONGCODE234")
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins) == ("ACTIVE", 0)


async def test_activating_cannot_lock_an_account_without_a_password(api: Api, db: Database) -> None:
    """A partner client's service account has no password: failures must not stop it."""
    account = await make_account(db, password=None)
    for _ in range(6):
        answer = await activate(api, account.username, "WRONGCODE234")
        assert refusal(answer) == ("UNAUTHENTICATED", "SIGN_IN_FAILED")
    row = await user_row(db, account.id)
    assert (row.status, row.failed_logins, row.token_version) == ("ACTIVE", 0, 0)


async def test_activating_asks_for_an_enabled_second_factor(
    api: Api, db: Database, settings: Settings
) -> None:
    """R14: the letter and the password are not enough for someone who enrolled."""
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    secret = pyotp.random_base32()
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == account.id)
            .values(totp_secret=encrypt(secret, settings), totp_enabled_at=utcnow())
        )
    code = await mailed_code(db, pending.org.id)
    missing = await activate(api, account.username, code)
    assert refusal(missing) == ("UNAUTHENTICATED", "SECOND_FACTOR_REQUIRED")
    wrong = await activate(api, account.username, code, totp="000000")
    assert refusal(wrong)[0] == "UNAUTHENTICATED"
    assert await org_status(db, pending.org.id) == "PENDING_ACTIVATION"
    async with db.session() as session:  # without the second factor no code attempt is used
        used = await session.scalar(
            select(ActivationCode.failed_attempts).where(
                ActivationCode.organization_id == pending.org.id
            )
        )
    assert used == 0
    answer = await activate(api, account.username, code, totp=pyotp.TOTP(secret).now())
    assert "errors" not in answer, answer
    assert await org_status(db, pending.org.id) == "ACTIVE"


async def test_a_holder_awaiting_activation_may_recover_the_password(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    answer = await body(
        api,
        "mutation R($l: String!) { requestPasswordRecovery(usernameOrEmail: $l) }",
        {"l": username},
    )
    assert answer == {"data": {"requestPasswordRecovery": True}}
    async with db.session() as session:
        sent = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.kind == "RECOVERY",
                OutboxMessage.recipient == f"{username}@activation.example.org",
            )
        )
    assert sent is not None


# ---- the help desk re-issues and releases ------------------------------------------------------


@pytest.mark.parametrize(("caller", "allowed"), role_table("helpdesk").items())
async def test_only_the_help_desk_reissues_a_code(
    api: Api, db: Database, caller: str | None, allowed: bool
) -> None:
    pending = await pending_org(db)
    await holder(api, pending)
    answer = await api.query(REISSUE, as_user=caller, variables={"org": str(pending.org.id)})
    if allowed:
        assert "errors" not in answer, answer
        assert len(await letters(db, pending.org.id)) == 2
    else:
        assert refusal(answer)[0] == ("UNAUTHENTICATED" if caller is None else "FORBIDDEN")
        assert len(await letters(db, pending.org.id)) == 1


async def test_a_reissued_code_replaces_the_letter_before(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    username = await holder(api, pending)
    old = await mailed_code(db, pending.org.id)
    answer = await api.query(REISSUE, as_user="helpdesk", variables={"org": str(pending.org.id)})
    assert "errors" not in answer, answer
    new = await mailed_code(db, pending.org.id)
    assert refusal(await activate(api, username, old))[1] == "CODE_MISMATCH"
    assert "errors" not in await activate(api, username, new)


@pytest.mark.parametrize("state", ["active", "no holder"])
async def test_nothing_to_reissue(api: Api, db: Database, world: World, state: str) -> None:
    org_id = world.org("Sunrise Family Practice")
    if state == "no holder":
        org_id = str((await pending_org(db)).org.id)
    answer = await api.query(REISSUE, as_user="helpdesk", variables={"org": org_id})
    assert refusal(answer) == ("CONFLICT", None)


@pytest.mark.parametrize(("caller", "allowed"), role_table("helpdesk").items())
async def test_only_the_help_desk_releases_a_pending_holder(
    api: Api, db: Database, caller: str | None, allowed: bool
) -> None:
    pending = await pending_org(db)
    await holder(api, pending)
    answer = await api.query(RELEASE, as_user=caller, variables={"org": str(pending.org.id)})
    if allowed:
        assert answer == {"data": {"releaseMasterAccount": True}}, answer
    else:
        assert refusal(answer)[0] == ("UNAUTHENTICATED" if caller is None else "FORBIDDEN")
        assert refusal(await register_holder(api, pending))[0] == "CONFLICT"


async def test_a_released_organization_is_claimed_anew(api: Api, db: Database) -> None:
    """R1: someone who should not be the holder (or who left) no longer blocks activation."""
    pending = await pending_org(db)
    squatter = await holder(api, pending)
    squatter_code = await mailed_code(db, pending.org.id)
    await api.query(RELEASE, as_user="helpdesk", variables={"org": str(pending.org.id)})
    assert (await user_row(db, await _user_id(db, squatter))).status == "DEACTIVATED"
    assert refusal(await activate(api, squatter, squatter_code))[0] == "UNAUTHENTICATED"
    rightful = await holder(api, pending)
    assert "errors" not in await activate(api, rightful, await mailed_code(db, pending.org.id))
    assert await org_status(db, pending.org.id) == "ACTIVE"


async def test_releasing_keeps_an_account_that_was_registered_before(
    api: Api, db: Database
) -> None:
    pending = await pending_org(db)
    account = await make_account(db)
    token = (await login(api, account.username))["accessToken"]
    await body(api, CLAIM, {"p": pending.org.provider_id, "t": pending.tin}, token=token)
    await api.query(RELEASE, as_user="helpdesk", variables={"org": str(pending.org.id)})
    assert (await user_row(db, account.id)).status == "ACTIVE"
    assert await signed_in_as(api, token) == account.username


@pytest.mark.parametrize("state", ["active", "no holder"])
async def test_nothing_to_release(api: Api, db: Database, world: World, state: str) -> None:
    org_id = world.org("Sunrise Family Practice")
    if state == "no holder":
        org_id = str((await pending_org(db)).org.id)
    answer = await api.query(RELEASE, as_user="helpdesk", variables={"org": org_id})
    assert refusal(answer) == ("CONFLICT", None)


# ---- A1: every step in the access log, never the code -------------------------------------------


async def test_activation_is_logged_without_the_code(api: Api, db: Database) -> None:
    pending = await pending_org(db)
    who = person()
    registered = await call(api, REGISTER, {"input": {**who, "masterAccount": pending.pair}})
    user_id = registered.json()["data"]["registerUser"]["userId"]
    code = await mailed_code(db, pending.org.id)
    wrong = await call(api, ACTIVATE, {"u": who["username"], "p": PASSWORD, "c": "WRONGCODE234"})
    right = await call(api, ACTIVATE, {"u": who["username"], "p": PASSWORD, "c": code})
    assert await events(db, registered) == [
        ("register", "allow", user_id),
        ("masterAccount", "allow", user_id),
    ]
    assert await events(db, wrong) == [("activation", "deny", user_id)]
    assert await events(db, right) == [
        ("activation", "allow", user_id),
        ("signIn", "allow", user_id),
    ]
    entries = [e for r in (registered, wrong, right) for e in await logged(db, r)]
    activation = next(e for e in await logged(db, right) if e.field == "activation")
    assert activation.organization_id == pending.org.id
    assert activation.client_address == "203.0.113.7"
    assert (activation.user_id, activation.username) == (int(user_id), who["username"])
    for entry in entries:
        text = " ".join(str(v) for v in entry.values())
        assert code not in text and PASSWORD not in text and "WRONGCODE234" not in text


async def test_a_refused_claim_logs_no_registration(api: Api, db: Database) -> None:
    """A1: the registration was rolled back, so the log must not say it happened."""
    pending = await pending_org(db)
    fields = {**person(), "masterAccount": {**pending.pair, "tin": "999999999"}}
    refused = await call(api, REGISTER, {"input": fields})
    assert await events(db, refused) == [("masterAccount", "deny", None)]


async def _user_id(db: Database, username: str) -> int:
    async with db.session() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
    assert user_id is not None
    return user_id
