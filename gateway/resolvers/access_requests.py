"""Access-request mutations (R3): parse, open the mutation's transaction, call the domain."""

from __future__ import annotations

from gateway.catalog import Employment
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import access_requests
from gateway.domain.members import MemberAccess
from gateway.models import Membership


async def request_access(
    context: Context, provider_id: str, tin: str, employment: Employment
) -> Membership:
    user_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        return await access_requests.request_access(
            session, user_id=user_id, provider_id=provider_id, tin=tin, employment=employment
        )


async def approve(
    context: Context, raw_org_id: str, raw_request_id: str, access: MemberAccess
) -> Membership:
    org_id = parse_id(raw_org_id, "Organization")
    actor_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        return await access_requests.approve(
            session,
            actor_id=actor_id,
            actor_roles=context.authz.roles_in(org_id),
            org_id=org_id,
            request_id=parse_id(raw_request_id, "Access request"),
            access=access,
        )


async def deny(context: Context, raw_org_id: str, raw_request_id: str) -> Membership:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await access_requests.deny(
            session, org_id=org_id, request_id=parse_id(raw_request_id, "Access request")
        )
