"""Invitations (R2): parse, open the mutation's transaction, call the domain; and the list."""

from __future__ import annotations

from gateway.context import Context
from gateway.data import PageKey, PageRequest, parse_id
from gateway.domain import invitations
from gateway.models import Invitation


async def invite_user(
    context: Context, raw_org_id: str, request: invitations.InvitationRequest
) -> Invitation:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await invitations.invite_user(
            session,
            org_id=org_id,
            invited_by_id=context.signed_in_user_id(),
            request=request,
            settings=context.settings,
        )


async def resend_invitation(
    context: Context, raw_org_id: str, raw_invitation_id: str
) -> Invitation:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await invitations.resend_invitation(
            session,
            org_id=org_id,
            invitation_id=parse_id(raw_invitation_id, "Invitation"),
            sent_by_id=context.signed_in_user_id(),
            settings=context.settings,
        )


async def revoke_invitation(
    context: Context, raw_org_id: str, raw_invitation_id: str
) -> Invitation:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await invitations.revoke_invitation(
            session, org_id=org_id, invitation_id=parse_id(raw_invitation_id, "Invitation")
        )


async def invitations_of(
    context: Context, org_id: int, page: PageRequest
) -> tuple[list[Invitation], int]:
    """A page of the organization's invitations, and how many it has in all."""
    rows: list[Invitation] = await context.loaders.invitation_page.load(
        PageKey(org_id, page.first, page.after)
    )
    count: int = await context.loaders.invitation_count.load(org_id)
    return rows, count
