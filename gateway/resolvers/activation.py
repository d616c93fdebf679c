"""Master-account activation mutations (R1): codes are made and hashed before the transaction,
passwords and codes are checked outside it, and each outcome commits with its log entries."""

from __future__ import annotations

from datetime import datetime

from gateway import account_events as events
from gateway.catalog import UserStatus
from gateway.context import Context
from gateway.domain import activation, credentials, sessions
from gateway.domain.credentials import Account
from gateway.domain.sessions import IssuedSession
from gateway.domain.sign_in import SIGN_IN_FAILED
from gateway.errors import BadUserInput, Conflict, GatewayError, Unauthenticated
from gateway.ids import parse_id
from gateway.models import ActivationCode, Organization, utcnow
from gateway.rate_limits import Limit
from gateway.resolvers.accounts import _limited, _record, _signed_in_as

NO_PENDING = "R1: no activation is pending for this account"


async def request_master_account(
    context: Context, provider_id: str, tin: str
) -> tuple[ActivationCode, Organization]:
    """R1 for someone already registered: they become the pending organization's holder."""
    user_id = context.signed_in_user_id()
    code = await activation.prepare_code()
    async with context.write_transaction() as session:
        issued = await activation.claim_master_account(
            session,
            user_id=user_id,
            provider_id=provider_id,
            tin=tin,
            code=code,
            settings=context.settings,
            now=utcnow(),
        )
        _record(context, (events.MASTER_ACCOUNT_CLAIMED,), user_id, issued.organization_id)
        organization = await session.get(Organization, issued.organization_id)
    assert organization is not None  # locked and read in this transaction
    return issued, organization


async def activate_account(
    context: Context, username: str, password: str, code: str
) -> IssuedSession:
    """R1: the right password and the mailed code activate the organization and sign in."""
    account = await _verified_account(context, username, password)
    async with context.db.session() as session:
        open_code = await activation.open_code_of(session, account.id)
    if open_code is None:
        _refuse(context, account.id, None, "no activation pending")
        raise BadUserInput(NO_PENDING, rule="R1", reason="NO_ACTIVATION_PENDING")
    now = utcnow()
    async with context.db.transaction() as session:  # counted before the code is checked
        claimed = await activation.claim_attempt(session, open_code, context.settings, now)
    matched = await activation.code_matches(open_code, code)
    if not claimed or not matched:
        error = _code_refusal(open_code, claimed, context.settings.activation_max_attempts, now)
        _refuse(context, account.id, open_code.organization_id, error.message)
        raise error
    async with context.write_transaction() as session:
        user = await activation.activate(session, open_code=open_code, user_id=account.id, now=now)
        issued = None
        if user is not None:
            issued = await sessions.open_session(session, user, context.settings, now)
            _record(context, (events.ACTIVATED,), user.id, open_code.organization_id)
            _signed_in_as(context, user)
    if issued is None:  # a concurrent activation used the code first
        _refuse(context, account.id, open_code.organization_id, "code already used")
        raise Conflict("R1: this code was already used", rule="R1", reason="CODE_USED")
    return issued


async def request_activation_code(context: Context, username: str, password: str) -> bool:
    """R1: the holder asks for a new code once theirs has expired or is spent."""
    account = await _verified_account(context, username, password)
    code = await activation.prepare_code()
    async with context.write_transaction() as session:
        issued = await activation.renew_on_request(
            session, user_id=account.id, code=code, settings=context.settings, now=utcnow()
        )
        _record(context, (events.ACTIVATION_CODE_ISSUED,), account.id, issued.organization_id)
    return True


async def reissue_activation_code(
    context: Context, raw_org_id: str
) -> tuple[ActivationCode, Organization]:
    """R1, R13: the help desk mails the holder a new code."""
    org_id = parse_id(raw_org_id, "Organization")
    actor_id = context.signed_in_user_id()
    code = await activation.prepare_code()
    async with context.write_transaction() as session:
        issued = await activation.reissue(
            session,
            org_id=org_id,
            actor_id=actor_id,
            code=code,
            settings=context.settings,
            now=utcnow(),
        )
        _record(context, (events.ACTIVATION_CODE_ISSUED,), issued.user_id, org_id)
        organization = await session.get(Organization, org_id)
    assert organization is not None  # locked and read in this transaction
    return issued, organization


async def _verified_account(context: Context, username: str, password: str) -> Account:
    """The account whose password this is; a wrong guess counts towards its lockout (R14)."""
    address = context.access_log.client_address
    await _limited(
        context, (Limit.ACTIVATION_PER_ADDRESS, address), (Limit.LOGIN_PER_ACCOUNT, username)
    )
    async with context.db.session() as session:
        account = await credentials.find_account(session, username=username)
    claimed = True
    active = account is not None and account.status is UserStatus.ACTIVE
    if active and account is not None:
        async with context.db.transaction() as session:
            claimed = await credentials.claim_attempt(session, account.id, context.settings)
    verified = await credentials.password_matches(account, password) and claimed
    if account is not None and verified:
        return account
    user_id = None if account is None else account.id
    if active and user_id is not None:
        async with context.write_transaction() as session:
            if await credentials.lock_if_exhausted(session, user_id, context.settings):
                _record(context, (events.LOCKED_OUT,), user_id)
    _refuse(context, user_id, None, "wrong username or password")
    raise Unauthenticated(SIGN_IN_FAILED, reason="SIGN_IN_FAILED")


def _refuse(context: Context, user_id: int | None, org_id: int | None, why: str) -> None:
    """Logged with the request's other entries, which are written before the answer (A2)."""
    events.record(
        context.access_log, events.ACTIVATION_REFUSED, user_id, organization_id=org_id, detail=why
    )


def _code_refusal(
    open_code: activation.OpenCode, claimed: bool, max_attempts: int, now: datetime
) -> GatewayError:
    """Why the code was refused: the caller proved their password, so they may know."""
    if open_code.expires_at <= now:
        return BadUserInput(
            "R1: the activation code has expired: ask for a new one (requestActivationCode) or "
            "ask the help desk",
            rule="R1",
            reason="CODE_EXPIRED",
        )
    if not claimed:
        return BadUserInput(
            "R1: too many wrong codes: ask for a new one (requestActivationCode)",
            rule="R1",
            reason="CODE_SPENT",
        )
    left = max(0, max_attempts - open_code.failed_attempts - 1)
    return BadUserInput(
        f"R1: the code does not match; enter it exactly as printed ({left} attempt(s) left)",
        rule="R1",
        reason="CODE_MISMATCH",
        attemptsLeft=left,
    )
