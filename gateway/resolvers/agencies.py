"""Agency grants (R11): parse, open the mutation's transaction, call the domain; and reads."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.context import Context
from gateway.data import parse_id, parse_input_ids
from gateway.domain import agencies
from gateway.models import AgencyGrant, Provider, User


async def invite_billing_agency(
    context: Context, raw_org_id: str, raw_agency_id: str, raw_provider_ids: Sequence[str] | None
) -> AgencyGrant:
    org_id = parse_id(raw_org_id, "Organization")
    agency_id = parse_id(raw_agency_id, "Billing agency")
    provider_ids = (
        None if raw_provider_ids is None else parse_input_ids(raw_provider_ids, "providerIds")
    )
    async with context.write_transaction() as session:
        return await agencies.invite_agency(
            session, org_id=org_id, agency_id=agency_id, provider_ids=provider_ids
        )


async def respond_to_agency_invitation(
    context: Context, raw_org_id: str, raw_grant_id: str, accept: bool
) -> AgencyGrant:
    org_id = parse_id(raw_org_id, "Organization")
    grant_id = parse_id(raw_grant_id, "Agency grant")
    async with context.write_transaction() as session:
        return await agencies.respond_to_invitation(
            session, org_id=org_id, grant_id=grant_id, accept=accept
        )


async def assign_agency_staff(
    context: Context, raw_org_id: str, raw_grant_id: str, raw_user_ids: Sequence[str]
) -> AgencyGrant:
    org_id = parse_id(raw_org_id, "Organization")
    grant_id = parse_id(raw_grant_id, "Agency grant")
    user_ids = parse_input_ids(raw_user_ids, "userIds")
    async with context.write_transaction() as session:
        return await agencies.assign_staff(
            session, org_id=org_id, grant_id=grant_id, user_ids=user_ids
        )


async def revoke_agency_grant(context: Context, raw_org_id: str, raw_grant_id: str) -> AgencyGrant:
    org_id = parse_id(raw_org_id, "Organization")
    grant_id = parse_id(raw_grant_id, "Agency grant")
    async with context.write_transaction() as session:
        return await agencies.revoke_grant(session, org_id=org_id, grant_id=grant_id)


async def grant_providers(context: Context, grant_id: int) -> list[Provider]:
    """The providers a grant is limited to; empty means all of the organization's."""
    result: list[Provider] = await context.loaders.grant_providers.load(grant_id)
    return result


async def grant_staff(context: Context, grant_id: int) -> list[User]:
    result: list[User] = await context.loaders.grant_staff.load(grant_id)
    return result
