"""Invitations to register (R2): admins and office managers invite colleagues by name and email.

The invitation email (an outbox message, written in the same transaction) carries a registration
link with a random token; only the token's hash is stored. Registering with that token
(``registerUser``) calls ``accept_invitation`` and files an access request to the inviting
organization, which an admin or office manager then approves with roles and eTools (seed 001).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import outbox
from gateway.catalog import MembershipStatus
from gateway.domain.members import lock_organization
from gateway.domain.portal_links import REGISTER, portal_link
from gateway.domain.rules import conflict, violation
from gateway.errors import BadUserInput, Conflict, NotFound
from gateway.models import Invitation, Membership, Organization, User, utcnow
from gateway.settings import Settings

# One "@", no spaces, a dot in the domain: enough to catch typing mistakes (the real test is
# whether the invitee receives the email).
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200


class InvitationKind(StrEnum):
    PROVIDER = "PROVIDER"
    OFFICE_STAFF = "OFFICE_STAFF"


class InvitationStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # never stored: a PENDING invitation past its expires_at


@dataclass(frozen=True, slots=True)
class InvitationRequest:
    """What the inviter typed: the email address twice (seed 001)."""

    name: str
    email: str
    email_confirmation: str
    kind: InvitationKind


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively; ``name+tag@x`` stays its own address (seed 003)."""
    return email.strip().lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def effective_status(invitation: Invitation, now: datetime | None = None) -> InvitationStatus:
    if invitation.status == InvitationStatus.PENDING and invitation.expires_at <= (now or utcnow()):
        return InvitationStatus.EXPIRED
    return InvitationStatus(invitation.status)


async def invite_user(
    session: AsyncSession,
    *,
    org_id: int,
    invited_by_id: int,
    request: InvitationRequest,
    settings: Settings,
    now: datetime | None = None,
) -> Invitation:
    """R2: record the invitation and queue its email, both in the caller's transaction."""
    # Serializes invitations to one organization, so two inviters never both pass the checks.
    organization = await lock_organization(session, org_id)
    name, email = _checked(request)
    await _check_not_a_member(session, org_id, email)
    await _check_not_pending(session, org_id, email)
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=org_id,
        email=email,
        email_normalized=normalize_email(email),
        name=name,
        kind=request.kind,
        token_hash=hash_token(token),
        invited_by_id=invited_by_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.invitation_ttl_days),
        status=InvitationStatus.PENDING,
        resent_count=0,
    )
    session.add(invitation)
    await session.flush()
    await _send(session, organization, invitation, token, settings, sender_id=invited_by_id)
    return invitation


async def resend_invitation(
    session: AsyncSession,
    *,
    org_id: int,
    invitation_id: int,
    sent_by_id: int,
    settings: Settings,
    now: datetime | None = None,
) -> Invitation:
    """A new token and expiry, and a new email; the old link stops working."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    invitation = await _update_pending(
        session,
        org_id,
        invitation_id,
        token_hash=hash_token(token),
        expires_at=now + timedelta(days=settings.invitation_ttl_days),
        resent_count=Invitation.resent_count + 1,
    )
    organization = await session.get(Organization, org_id)
    assert organization is not None  # the invitation references it
    await _send(session, organization, invitation, token, settings, sender_id=sent_by_id)
    return invitation


async def revoke_invitation(
    session: AsyncSession, *, org_id: int, invitation_id: int
) -> Invitation:
    return await _update_pending(session, org_id, invitation_id, status=InvitationStatus.REVOKED)


async def accept_invitation(
    session: AsyncSession, *, token: str, user_id: int, now: datetime | None = None
) -> Invitation:
    """Use an invitation's token once (registration calls this); raise if it is not usable.

    An unknown, revoked or already used token is NOT_FOUND (one answer for all three); an
    expired one is CONFLICT, so the invitee knows to ask for it to be resent."""
    now = now or utcnow()
    token_hash = hash_token(token)
    accepted = await session.scalar(
        update(Invitation)
        .where(
            Invitation.token_hash == token_hash,
            Invitation.status == InvitationStatus.PENDING,
            Invitation.expires_at > now,
        )
        .values(status=InvitationStatus.ACCEPTED, accepted_by_id=user_id, accepted_at=now)
        .returning(Invitation)
        .execution_options(synchronize_session=False)
    )
    if accepted is not None:
        return accepted
    found = await session.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    if found is not None and effective_status(found, now) is InvitationStatus.EXPIRED:
        raise conflict("R2", "the invitation has expired; ask for it to be sent again")
    raise NotFound("Invitation not found")


def _checked(request: InvitationRequest) -> tuple[str, str]:
    """The name and email as they will be stored, after the input checks."""
    name, email = request.name.strip(), request.email.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadUserInput(
            f"`name` must be 1 to {MAX_NAME_LENGTH} characters", argument="input.name"
        )
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        raise BadUserInput(f"{email!r} is not an email address", argument="input.email")
    if normalize_email(request.email_confirmation) != normalize_email(email):
        # Seed 001: the inviter retypes the address to confirm it.
        raise violation("R2", "the email address and its confirmation differ")
    return name, email


async def _check_not_a_member(session: AsyncSession, org_id: int, email: str) -> None:
    member = await session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == org_id,
            Membership.status == MembershipStatus.ACTIVE,
            User.email_normalized == normalize_email(email),
        )
        .limit(1)
    )
    if member is not None:
        raise conflict("R2", f"{email} is already an active member of this organization")


async def _check_not_pending(session: AsyncSession, org_id: int, email: str) -> None:
    """At most one pending invitation per address and organization (an expired one included:
    resending renews it)."""
    pending = await session.scalar(
        select(Invitation.id).where(
            Invitation.organization_id == org_id,
            Invitation.email_normalized == normalize_email(email),
            Invitation.status == InvitationStatus.PENDING,
        )
    )
    if pending is not None:
        raise Conflict(
            f"R2: an invitation to {email} is already pending; resend it instead",
            rule="R2",
            invitationId=str(pending),
        )


async def _update_pending(
    session: AsyncSession, org_id: int, invitation_id: int, **values: Any
) -> Invitation:
    """Change a PENDING invitation in one conditional statement, so a concurrent accept, resend
    or revoke of the same invitation is never overwritten."""
    invitation = await session.scalar(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.organization_id == org_id,
            Invitation.status == InvitationStatus.PENDING,
        )
        .values(**values)
        .returning(Invitation)
        .execution_options(synchronize_session=False)
    )
    if invitation is not None:
        return invitation
    found = await session.get(Invitation, invitation_id)
    if found is None or found.organization_id != org_id:
        raise NotFound("Invitation not found")
    raise conflict("R2", f"the invitation is already {found.status.lower()}")


async def _send(
    session: AsyncSession,
    organization: Organization,
    invitation: Invitation,
    token: str,
    settings: Settings,
    *,
    sender_id: int,
) -> None:
    """The invitation email, and the sender's copy without the link (seed 001: "You will
    receive a copy of each email"; the token is for the invitee alone)."""
    sender = await session.get(User, sender_id)
    sender_name = sender.name if sender is not None else "Your organization's administrator"
    subject = f"Invitation to register for the provider portal: {organization.name}"
    await outbox.enqueue(
        session,
        kind=outbox.OutboxKind.INVITATION,
        channel=outbox.Channel.EMAIL,
        recipient=invitation.email,
        subject=subject,
        body=_invitation_text(
            organization, invitation, sender_name, portal_link(settings, REGISTER, invitation=token)
        ),
        organization_id=organization.id,
    )
    if sender is None:
        return
    withheld = f"[the registration link was sent to {invitation.email} only]"
    await outbox.enqueue(
        session,
        kind=outbox.OutboxKind.INVITATION_COPY,
        channel=outbox.Channel.EMAIL,
        recipient=sender.email,
        subject=f"Copy: {subject}",
        body=f"This is your copy of the invitation sent to {invitation.email}.\n\n"
        + _invitation_text(organization, invitation, sender_name, withheld),
        organization_id=organization.id,
    )


def _invitation_text(
    organization: Organization, invitation: Invitation, sender_name: str, link: str
) -> str:
    role = "a provider" if invitation.kind == InvitationKind.PROVIDER else "office staff"
    expires = invitation.expires_at.strftime("%B %d, %Y at %H:%M UTC")
    return (
        f"Hello {invitation.name},\n\n"
        f"{sender_name} invited you to register for the provider portal as {role} of "
        f"{organization.name}.\n\n"
        f"Create your own username and password here:\n{link}\n\n"
        f"The link works once and until {expires}. Once you have registered, {organization.name}'s "
        "administrator approves your access.\n\n"
        "If you did not expect this email, you can ignore it.\n"
    )
