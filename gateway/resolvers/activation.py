"""Master-account activation mutations (R1): codes are made and hashed before the transaction,
passwords and codes are checked outside it, and each outcome commits with its log entries.

Activating is signing in with one more proof: it goes through the same attempt as ``login``
(rate limits, lockout, the second factor), then the code decides.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.audit import events as events
from gateway.auth import Limit
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import activation, activation_codes, credentials
from gateway.domain.activation_codes import CodeAttempt
from gateway.domain.second_factor import CodeCheck
from gateway.domain.sessions import IssuedSession
from gateway.domain.sign_in import Attempt
from gateway.models import ActivationCode, Organization, utcnow
from gateway.resolvers.accounts import (
    MasterAccount,
    claim_master_account,
    conclude_sign_in,
    log_events,
    rate_limited,
    sign_in_attempt,
)


async def request_master_account(
    context: Context, provider_id: str, tin: str
) -> tuple[ActivationCode, Organization]:
    """R1 for someone already registered: they become the pending organization's holder."""
    await rate_limited(context, (Limit.ACTIVATION_PER_ADDRESS, context.audit.client_address))
    user_id = context.signed_in_user_id()
    code = await activation_codes.prepare_code()
    async with context.write_transaction() as session:
        claim = MasterAccount(provider_id, tin)
        issued = await claim_master_account(context, session, user_id, claim, code)
        log_events(context, (events.MASTER_ACCOUNT_CLAIMED,), user_id, issued.organization_id)
        organization = await session.get(Organization, issued.organization_id)
    assert organization is not None  # locked and read in this transaction
    return issued, organization


async def activate_account(
    context: Context, username: str, password: str, code: str, totp_code: str | None
) -> IssuedSession:
    """R1: the right password (and second factor) and the mailed code activate the
    organization and sign in."""
    attempt = await sign_in_attempt(
        context, username, password, totp_code, per_address=Limit.ACTIVATION_PER_ADDRESS
    )
    checked = await _check_code(context, attempt, code)
    return await conclude_sign_in(context, replace(attempt, activation=checked))


async def request_activation_code(context: Context, username: str) -> bool:
    """R1: a new letter once the holder's code has expired or is spent. Always true: the
    letter goes to the correspondence address, and the answer tells nobody anything."""
    await rate_limited(context, (Limit.ACTIVATION_PER_ADDRESS, context.audit.client_address))
    code = await activation_codes.prepare_code()
    async with context.write_transaction() as session:
        account = await credentials.find_account(session, username=username)
        issued = None
        if account is not None:
            issued = await activation.renew_if_due(
                session, user_id=account.id, code=code, settings=context.settings, now=utcnow()
            )
        if issued is None:
            log_events(
                context, (events.ACTIVATION_CODE_NOT_DUE,), None if account is None else account.id
            )
        else:
            org_id = issued.organization_id
            log_events(context, (events.ACTIVATION_CODE_ISSUED,), issued.user_id, org_id)
    return True


async def reissue_activation_code(
    context: Context, raw_org_id: str
) -> tuple[ActivationCode, Organization]:
    """R1, R13: the help desk mails the holder a new code."""
    org_id = parse_id(raw_org_id, "Organization")
    actor_id = context.signed_in_user_id()
    code = await activation_codes.prepare_code()
    async with context.write_transaction() as session:
        issued = await activation.reissue(
            session,
            org_id=org_id,
            actor_id=actor_id,
            code=code,
            settings=context.settings,
            now=utcnow(),
        )
        log_events(context, (events.ACTIVATION_CODE_ISSUED,), issued.user_id, org_id)
        organization = await session.get(Organization, org_id)
    assert organization is not None  # locked and read in this transaction
    return issued, organization


async def release_master_account(context: Context, raw_org_id: str) -> bool:
    """R1: the help desk frees a pending organization for its rightful first user."""
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        holder = await activation.release(session, org_id=org_id, now=utcnow())
        log_events(context, (events.MASTER_ACCOUNT_RELEASED,), holder, org_id)
    return True


async def _check_code(context: Context, attempt: Attempt, code: str) -> CodeAttempt:
    """Judge the code, taking one of its attempts first; only for the right password (and
    second factor), so nobody without them can use up the holder's attempts."""
    account = attempt.account
    second_factor_passed = attempt.code.check in (CodeCheck.NOT_ENABLED, CodeCheck.MATCHED)
    if account is None or not (attempt.verified and attempt.claimed and second_factor_passed):
        return CodeAttempt(None)
    async with context.db.session() as session:
        open_code = await activation_codes.open_code_of(session, account.id)
    if open_code is None:
        return CodeAttempt(None)
    counted = context.audit.aside("code-attempt")  # A1: counted with its own entry
    async with context.write_transaction(counted) as session:
        claimed = await activation_codes.claim_attempt(
            session, open_code, context.settings, utcnow()
        )
        if claimed:
            counted.record_event(events.CODE_ATTEMPT_COUNTED, account.id)
    return CodeAttempt(open_code, claimed, await activation_codes.code_matches(open_code, code))
