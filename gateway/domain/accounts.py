"""Accounts: registering a user, and unlocking a locked one (R2, R13, R14).

Usernames and emails are unique across the system (emails case-insensitively, and ``name+tag@x``
is its own address: seed 003); a taken one gets one answer that does not say which of the two
was taken nor whose account it is.

Registering with an invitation's token (R2) uses the invitation and asks for access to the
inviting organization: the new user's membership there starts ``REQUESTED``, so it shows in
the organization's ``accessRequests`` and an admin or office manager approves it with roles,
eTools and providers (R3) - the invitee is not handed access nobody chose yet (seed 001).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import check_password
from gateway.catalog import Employment, MembershipStatus, UserStatus
from gateway.domain.credentials import locked_out, username_is
from gateway.domain.invitations import (
    EMAIL_PATTERN,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    accept_invitation,
    normalize_email,
)
from gateway.domain.rules import conflict, refused
from gateway.errors import BadUserInput, Conflict, GatewayError, NotFound
from gateway.models import Membership, User
from gateway.settings import Settings

# Like seed files' usernames, but at least three characters when registering.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,63}")
TAKEN = (
    "That username or email address is already registered: choose another username, or "
    "recover the password of your existing account"
)


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A registration after its input checks."""

    username: str
    email: str
    name: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Registered:
    user: User
    access_request: Membership | None  # with an invitation: the REQUESTED membership


def checked_account(
    *, username: str, email: str, name: str, password: str, settings: Settings
) -> NewAccount:
    """The registration as it will be stored; BAD_USER_INPUT naming the first bad part."""
    username, email, name = username.strip(), email.strip(), name.strip()
    if not USERNAME_PATTERN.fullmatch(username):
        raise BadUserInput(
            "a username is 3-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            argument="input.username",
        )
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        raise BadUserInput(f"{email!r} is not an email address", argument="input.email")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadUserInput(
            f"`name` must be 1 to {MAX_NAME_LENGTH} characters", argument="input.name"
        )
    check_password(  # R14
        password, min_length=settings.password_min_length, username=username, email=email
    )
    return NewAccount(username, email, name, password)


async def register(
    session: AsyncSession,
    *,
    account: NewAccount,
    password_hash: str,
    invitation_token: str | None,
    now: datetime,
    status: UserStatus = UserStatus.ACTIVE,
) -> Registered:
    """Create the user (and, with an invitation, their access request). A master account
    holder starts PENDING_ACTIVATION (R1)."""
    user = User(
        username=account.username,
        email=account.email,
        email_normalized=normalize_email(account.email),
        name=account.name,
        status=status,
        password_hash=password_hash,
        password_changed_at=now,
        failed_logins=0,
        token_version=0,
        created_at=now,
    )
    session.add(user)
    try:
        await session.flush()  # the unique constraints decide a race between two registrations
    except IntegrityError:
        raise Conflict(TAKEN) from None
    if await _username_taken(session, account.username, user.id):
        raise Conflict(TAKEN)
    if invitation_token is None:
        return Registered(user, None)
    return Registered(user, await _request_access(session, invitation_token, user.id, now))


async def _username_taken(session: AsyncSession, username: str, own_id: int) -> bool:
    """Usernames compare case-insensitively, like seed files' ("Alice" is "alice")."""
    other = await session.scalar(
        select(User.id).where(username_is(username), User.id != own_id).limit(1)
    )
    return other is not None


async def _request_access(
    session: AsyncSession, token: str, user_id: int, now: datetime
) -> Membership:
    """R2: use the invitation; the invitee asks for access to the inviting organization."""
    invitation = await accept_invitation(session, token=token, user_id=user_id, now=now)
    request = Membership(
        user_id=user_id,
        organization_id=invitation.organization_id,
        status=MembershipStatus.REQUESTED,
        employment=Employment.EMPLOYEE,  # the approver may say otherwise (R3, R4)
        created_at=now,
    )
    session.add(request)
    await session.flush()
    return request


async def unlock_user(
    session: AsyncSession,
    *,
    anywhere: bool,
    org_id: int | None,
    user_id: int,
    max_failed_logins: int,
) -> User:
    """R13: whoever the policy lets unlock ``anywhere`` (the help desk) unlocks anyone; an
    organization's admins (allowed in ``org_id``) unlock its members."""
    if not anywhere and org_id is None:
        raise refused("R13", "name the organization whose member you unlock")
    visible = _visible(user_id, None if anywhere else org_id)
    if not anywhere and await _works_elsewhere(session, user_id, org_id):
        # An admin of one of several organizations could otherwise unlock a colleague's
        # account again and again and guess its password without limit.
        raise refused("R13", "this account is unlocked by the health plan's help desk")
    unlocked = await session.scalar(
        update(User)
        .where(User.id == user_id, locked_out(max_failed_logins), visible)
        .values(
            # R1: a holder awaiting activation stays so; only LOCKED becomes ACTIVE.
            status=case(
                (User.status == UserStatus.LOCKED, UserStatus.ACTIVE.value), else_=User.status
            ),
            failed_logins=0,
        )
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if unlocked is None:
        raise await _not_unlocked(session, user_id, visible)
    user = await session.get(User, user_id, populate_existing=True)
    assert user is not None  # just updated
    return user


async def _works_elsewhere(session: AsyncSession, user_id: int, org_id: int | None) -> bool:
    """Whether the user is also an active member of an organization other than ``org_id``."""
    other = await session.scalar(
        select(Membership.id)
        .where(
            Membership.user_id == user_id,
            Membership.organization_id != org_id,
            Membership.status == MembershipStatus.ACTIVE,
            _visible(user_id, org_id),
        )
        .limit(1)
    )
    return other is not None


def _visible(user_id: int, org_id: int | None) -> ColumnElement[bool]:
    """Anyone (``org_id`` None), or an ACTIVE member of ``org_id`` (V1: others are NOT_FOUND)."""
    if org_id is None:
        return User.id == user_id
    return exists().where(
        Membership.user_id == user_id,
        Membership.organization_id == org_id,
        Membership.status == MembershipStatus.ACTIVE,
    )


async def _not_unlocked(
    session: AsyncSession, user_id: int, visible: ColumnElement[bool]
) -> GatewayError:
    found = await session.scalar(select(User.id).where(User.id == user_id, visible))
    if found is None:
        return NotFound("User not found")
    return conflict("R13", "the account is not locked")
