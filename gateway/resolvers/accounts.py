"""Identity mutations: check and hash outside the transaction, then one transaction that also
writes the request's access-log entries, account events included (A1).

argon2 runs in worker threads before any write, so no lock waits for it. A refused sign-in,
refresh or password change still commits what it must (the failure count, a lockout, a revoked
session) together with its log entries, and only then answers with the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AccountEvent, events
from gateway.auth import Limit, hash_password, rate_limits
from gateway.catalog import UserStatus
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import (
    accounts,
    activation,
    activation_codes,
    credentials,
    password_changes,
    second_factor,
    sessions,
    sign_in,
)
from gateway.domain.sessions import IssuedSession
from gateway.errors import BadUserInput, GatewayError, RateLimited, Unauthenticated
from gateway.models import ActivationCode, Membership, User, utcnow

REFRESH_REFUSED = "The refresh token is unknown, expired or revoked: sign in again"


@dataclass(frozen=True, slots=True)
class MasterAccount:
    """R1: registering as the first user of a pending organization, named by both parts."""

    provider_id: str
    tin: str


def log_events(
    context: Context,
    happened: Sequence[AccountEvent],
    user_id: int | None,
    organization_id: int | None = None,
) -> None:
    """Record account events about user ``user_id`` in the request's audit trail (A1)."""
    for event in happened:
        context.audit.record_event(event, user_id, organization_id)


async def rate_limited(context: Context, *limits: tuple[Limit, str | None]) -> None:
    """Count this attempt against each limit before anything is checked or hashed; a refused
    one is logged (A1) and answered RATE_LIMITED."""
    try:
        for limit, key in limits:
            await rate_limits.hit(context.limiter, limit, key)
    except RateLimited:
        log_events(context, (events.RATE_LIMITED,), None)
        raise


async def register_user(
    context: Context,
    *,
    username: str,
    email: str,
    name: str,
    password: str,
    invitation_token: str | None,
    master_account: MasterAccount | None = None,
) -> tuple[User, Membership | None, ActivationCode | None]:
    """The new user, their access request (with an invitation) and, for the first user of a
    pending organization, the activation code mailed to it (R1)."""
    await rate_limited(context, (Limit.REGISTRATION_PER_ADDRESS, context.audit.client_address))
    account = accounts.checked_account(
        username=username, email=email, name=name, password=password, settings=context.settings
    )
    if master_account is not None and invitation_token is not None:
        raise BadUserInput(
            "register either with an invitation or as a master account holder, not both",
            argument="input.masterAccount",
        )
    password_hash = await asyncio.to_thread(hash_password, account.password)
    code = None if master_account is None else await activation_codes.prepare_code()
    async with context.write_transaction() as session:
        now = utcnow()
        registered = await accounts.register(
            session,
            account=account,
            password_hash=password_hash,
            invitation_token=invitation_token,
            now=now,
            status=UserStatus.ACTIVE if code is None else UserStatus.PENDING_ACTIVATION,
        )
        user_id = registered.user.id
        issued = None
        if master_account is not None and code is not None:
            issued = await claim_master_account(context, session, user_id, master_account, code)
        log_events(context, (events.REGISTERED,), user_id)
        if issued is not None:
            org_id = issued.organization_id
            log_events(context, (events.MASTER_ACCOUNT_CLAIMED,), user_id, org_id)
    return registered.user, registered.access_request, issued


async def claim_master_account(
    context: Context,
    session: AsyncSession,
    user_id: int,
    master_account: MasterAccount,
    code: activation_codes.NewCode,
) -> ActivationCode:
    """R1 within the caller's transaction; a refusal is logged (the user may not exist after
    the rollback, so the entry names nobody)."""
    try:
        return await activation.claim_master_account(
            session,
            user_id=user_id,
            provider_id=master_account.provider_id,
            tin=master_account.tin,
            code=code,
            settings=context.settings,
            now=utcnow(),
        )
    except GatewayError:
        log_events(context, (events.MASTER_ACCOUNT_REFUSED,), None)
        raise


async def login(
    context: Context, username: str, password: str, totp_code: str | None = None
) -> IssuedSession:
    attempt = await sign_in_attempt(context, username, password, totp_code)
    return await conclude_sign_in(context, attempt)


async def sign_in_attempt(
    context: Context,
    username: str,
    password: str,
    totp_code: str | None,
    per_address: Limit = Limit.LOGIN_PER_ADDRESS,
) -> sign_in.Attempt:
    """Everything a sign-in checks before its transaction: rate limits, one of the account's
    attempts claimed (R14), the second factor's code and the password (argon2)."""
    address = context.audit.client_address
    await rate_limited(context, (per_address, address), (Limit.LOGIN_PER_ACCOUNT, username))
    async with context.db.session() as session:
        account = await credentials.find_account(session, username=username)
    claimed = True
    # R14: counted before the password is checked. An account without a password (a partner
    # client's service account) never signs in, so failures must not lock it (and its tokens).
    # The count commits with its own entry (A1): with the log unwritable, nothing counts.
    if account is not None and account.password_hash is not None:
        counted = context.audit.aside("attempt")
        async with context.write_transaction(counted) as session:
            claimed = await credentials.claim_attempt(session, account.id, context.settings)
            if claimed:
                counted.record_event(events.ATTEMPT_COUNTED, account.id)
    code = second_factor.check_code(account, totp_code, context.settings, utcnow())  # R14
    return replace(await sign_in.attempt(account, password), claimed=claimed, code=code)


async def conclude_sign_in(context: Context, attempt: sign_in.Attempt) -> IssuedSession:
    """Commit the attempt's outcome with its log entries; then answer with a session or why not."""
    async with context.write_transaction() as session:
        outcome = await sign_in.conclude(session, attempt, context.settings, utcnow())
        log_events(context, outcome.events, outcome.user_id, outcome.organization_id)
        if outcome.user is not None:
            context.audit.signed_in_as(outcome.user.id, outcome.user.username)
    if outcome.issued is None:
        raise outcome.refusal()
    return outcome.issued


async def refresh_token(context: Context, token: str) -> IssuedSession:
    async with context.write_transaction() as session:
        refreshed = await sessions.refresh(
            session, token=token, settings=context.settings, now=utcnow()
        )
        log_events(context, (refreshed.event,), refreshed.user_id)
    if refreshed.issued is None:
        raise Unauthenticated(REFRESH_REFUSED, rule="R14")
    return refreshed.issued


async def logout(context: Context) -> bool:
    user_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        await sessions.revoke_all(session, user_id)
        log_events(context, (events.SIGNED_OUT,), user_id)
    return True


async def change_password(context: Context, current: str, new: str) -> IssuedSession:
    user_id = context.signed_in_user_id()
    async with context.db.session() as session:
        account = await credentials.find_account(session, user_id=user_id)
    assert account is not None  # the caller was loaded from it this request
    new_hash = None
    if await credentials.password_matches(account, current):
        password_changes.check_new_password(account, current, new, context.settings)
        new_hash = await asyncio.to_thread(hash_password, new)
    async with context.write_transaction() as session:
        change = await password_changes.change_password(
            session, account=account, new_hash=new_hash, settings=context.settings, now=utcnow()
        )
        log_events(context, change.events, user_id)
    if change.issued is None:
        raise change.refusal()
    return change.issued


async def request_password_recovery(context: Context, login: str) -> bool:
    """R13: the same answer whether or not the account exists."""
    await rate_limited(context, (Limit.RECOVERY_PER_ADDRESS, context.audit.client_address))
    async with context.write_transaction() as session:
        user_id = await password_changes.request_recovery(
            session, login=login, settings=context.settings, now=utcnow()
        )
        found = events.RECOVERY_REQUESTED if user_id else events.RECOVERY_NO_ACCOUNT
        log_events(context, (found,), user_id)
    return True


async def recover_password(context: Context, token: str, new: str) -> bool:
    await rate_limited(context, (Limit.RECOVERY_PER_ADDRESS, context.audit.client_address))
    async with context.db.session() as session:
        account = await password_changes.recovering_account(session, token=token, now=utcnow())
    if account is None:
        log_events(context, (events.RECOVERY_REFUSED,), None)
        raise password_changes.bad_link()
    password_changes.check_new_password(account, None, new, context.settings)
    new_hash = await asyncio.to_thread(hash_password, new)
    async with context.write_transaction() as session:
        user_id = await password_changes.recover_password(
            session, token=token, new_hash=new_hash, now=utcnow()
        )
        recovered = events.PASSWORD_RECOVERED if user_id else events.RECOVERY_REFUSED
        log_events(context, (recovered,), user_id or account.id)
    if user_id is None:
        raise password_changes.bad_link()
    return True


async def unlock_user(
    context: Context, raw_user_id: str, raw_org_id: str | None
) -> tuple[User, int | None]:
    """The unlocked user, and the organization they were unlocked in (if one was named)."""
    org_id = None if raw_org_id is None else parse_id(raw_org_id, "Organization")
    user_id = parse_id(raw_user_id, "User")
    async with context.write_transaction() as session:
        user = await accounts.unlock_user(
            session,
            anywhere=context.authz.allows("Mutation", "unlockUser"),
            org_id=org_id,
            user_id=user_id,
            max_failed_logins=context.settings.max_failed_logins,
        )
        log_events(context, (events.UNLOCKED,), user.id, org_id)
    return user, org_id
