"""Changing a password, and recovering it by email (R13, R14).

Every new password meets the policy (``gateway.auth.passwords``), restarts its 45 days and bumps the
user's token version, so tokens issued before stop working. A recovery link is single use,
expires after ``password_recovery_ttl_minutes`` and is stored only as a digest; asking for one
gets the same answer whether or not the account exists. Recovery sets a password but does not
unlock a locked account: unlocking is for the help desk and the organization's admins (R13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import outbox
from gateway.audit import AccountEvent
from gateway.audit import events as events
from gateway.auth import check_password
from gateway.catalog import UserStatus
from gateway.domain.credentials import (
    Account,
    count_failure,
    digest,
    find_account,
    find_by_login,
    new_secret,
)
from gateway.domain.portal_links import RECOVER_PASSWORD, portal_link
from gateway.domain.rules import violation
from gateway.domain.sessions import IssuedSession, open_session
from gateway.errors import BadUserInput, GatewayError
from gateway.models import PartnerClient, PasswordRecovery, User
from gateway.settings import Settings

# Accounts that may recover a password (a locked one stays locked: R13).
RECOVERABLE = (UserStatus.ACTIVE, UserStatus.LOCKED, UserStatus.PENDING_ACTIVATION)
WRONG_CURRENT = "R14: the current password is wrong"
BAD_LINK = "R13: this recovery link is unknown, used or expired; ask for a new one"


@dataclass(frozen=True, slots=True)
class PasswordChange:
    user_id: int
    events: tuple[AccountEvent, ...]
    issued: IssuedSession | None

    def refusal(self) -> GatewayError:
        return BadUserInput(WRONG_CURRENT, rule="R14", argument="currentPassword")


def check_new_password(account: Account, current: str | None, new: str, settings: Settings) -> None:
    """R14: the policy, and (when changing) a password other than the current one."""
    check_password(
        new, min_length=settings.password_min_length, username=account.username, email=account.email
    )
    if current is not None and new == current:
        raise violation("R14", "the new password must differ from the current one")


async def change_password(
    session: AsyncSession,
    *,
    account: Account,
    new_hash: str | None,
    settings: Settings,
    now: datetime,
) -> PasswordChange:
    """Store ``new_hash`` (the current password verified); ``None``: it was wrong, which counts
    as a failed sign-in (R14), so a stolen session cannot guess the password forever."""
    if new_hash is None:
        locked = await count_failure(session, account.id, settings)
        failed = (events.PASSWORD_CHANGE_REFUSED,) + ((events.LOCKED_OUT,) if locked else ())
        return PasswordChange(account.id, failed, None)
    user = await set_password(
        session, account.id, new_hash, now, expected_hash=account.password_hash
    )
    if user is None:  # changed by someone else since it was verified
        return PasswordChange(account.id, (events.PASSWORD_CHANGE_REFUSED,), None)
    issued = await open_session(session, user, settings, now)
    return PasswordChange(account.id, (events.PASSWORD_CHANGED,), issued)


async def set_password(
    session: AsyncSession,
    user_id: int,
    new_hash: str,
    now: datetime,
    *,
    expected_hash: str | None = None,
) -> User | None:
    """R14: a new hash, its age restarted, every earlier token revoked; None if the user is not
    in a state that allows it (or their hash is no longer ``expected_hash``)."""
    conditions = [User.id == user_id]
    values: dict[str, object] = {
        "password_hash": new_hash,
        "password_changed_at": now,
        "token_version": User.token_version + 1,
    }
    if expected_hash is None:
        conditions.append(User.status.in_(RECOVERABLE))
    else:
        conditions += [User.status == UserStatus.ACTIVE, User.password_hash == expected_hash]
        values["failed_logins"] = 0  # the current password was just proven
    updated = await session.scalar(
        update(User)
        .where(*conditions)
        .values(**values)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return None if updated is None else await session.get(User, updated, populate_existing=True)


async def request_recovery(
    session: AsyncSession, *, login: str, settings: Settings, now: datetime
) -> int | None:
    """R13: email a recovery link to the account ``login`` names; the user id, or None when
    there is no such account (the caller answers the same either way)."""
    account = await find_by_login(session, login)
    if account is None or account.status not in RECOVERABLE:
        return None
    if await _is_partner_client(session, account.id):  # a machine's account has no password
        return None
    # Only the newest link works.
    await session.execute(
        update(PasswordRecovery)
        .where(PasswordRecovery.user_id == account.id, PasswordRecovery.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token, token_hash = new_secret()
    ttl = timedelta(minutes=settings.password_recovery_ttl_minutes)
    session.add(
        PasswordRecovery(
            user_id=account.id, token_hash=token_hash, created_at=now, expires_at=now + ttl
        )
    )
    await session.flush()
    await _send(session, account, token, settings, now + ttl)
    return account.id


async def _is_partner_client(session: AsyncSession, user_id: int) -> bool:
    found = await session.scalar(
        select(PartnerClient.id).where(PartnerClient.service_user_id == user_id)
    )
    return found is not None


async def recovering_account(session: AsyncSession, *, token: str, now: datetime) -> Account | None:
    """Whose password a usable recovery link would set (to check the new one against)."""
    user_id = await session.scalar(
        select(PasswordRecovery.user_id).where(
            PasswordRecovery.token_hash == digest(token),
            PasswordRecovery.used_at.is_(None),
            PasswordRecovery.expires_at > now,
        )
    )
    if user_id is None:
        return None
    account = await find_account(session, user_id=user_id)
    return account if account is not None and account.status in RECOVERABLE else None


async def recover_password(
    session: AsyncSession, *, token: str, new_hash: str, now: datetime
) -> int | None:
    """R13: use the link once (claimed in one conditional statement) and set the password; the
    user id, or None if the link was used, expired or its account closed meanwhile."""
    user_id = await session.scalar(
        update(PasswordRecovery)
        .where(
            PasswordRecovery.token_hash == digest(token),
            PasswordRecovery.used_at.is_(None),
            PasswordRecovery.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordRecovery.user_id)
        .execution_options(synchronize_session=False)
    )
    if user_id is None or await set_password(session, user_id, new_hash, now) is None:
        return None
    return user_id


def bad_link() -> GatewayError:
    return BadUserInput(BAD_LINK, rule="R13", argument="token")


async def _send(
    session: AsyncSession, account: Account, token: str, settings: Settings, expires: datetime
) -> None:
    link = portal_link(settings, RECOVER_PASSWORD, token=token)
    await outbox.enqueue(
        session,
        kind=outbox.OutboxKind.RECOVERY,
        channel=outbox.Channel.EMAIL,
        recipient=account.email,
        subject="Reset your provider portal password",
        body=(
            f"Hello,\n\nSomeone (we hope you) asked to reset the password of the provider "
            f"portal account {account.username}.\n\nChoose a new password here:\n{link}\n\n"
            f"The link works once and until {expires.strftime('%B %d, %Y at %H:%M UTC')}.\n\n"
            "If you did not ask for this, ignore this email: your password stays as it is.\n"
        ),
    )
