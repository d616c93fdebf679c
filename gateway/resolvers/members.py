"""Member-access mutations: parse, open the mutation's transaction, call the domain."""

from __future__ import annotations

from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import members
from gateway.models import Membership


async def update_member_access(
    context: Context, raw_org_id: str, raw_membership_id: str, access: members.MemberAccess
) -> Membership:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await members.update_member_access(
            session,
            actor_roles=context.authz.roles_in(org_id),
            org_id=org_id,
            membership_id=parse_id(raw_membership_id, "Membership"),
            access=access,
        )


async def remove_member(context: Context, raw_org_id: str, raw_membership_id: str) -> Membership:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await members.remove_member(
            session,
            actor_roles=context.authz.roles_in(org_id),
            org_id=org_id,
            membership_id=parse_id(raw_membership_id, "Membership"),
        )
