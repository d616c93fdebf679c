"""Partner clients (SPEC 1, R11): parse, open the mutation's transaction, call the domain;
and the agency's list of clients."""

from __future__ import annotations

from gateway.audit import AccountEvent, events
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import partner_clients
from gateway.domain.partner_clients import Credentials
from gateway.models import PartnerClient, utcnow


def _record(context: Context, event: AccountEvent, client: PartnerClient) -> None:
    """A1: which client (its service account) the agency's admin changed."""
    context.audit.record_event(event, client.service_user_id, client.agency_id)


async def create_partner_client(context: Context, raw_org_id: str, name: str) -> Credentials:
    org_id = parse_id(raw_org_id, "Organization")
    user_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        created = await partner_clients.create(
            session, agency_id=org_id, name=name, created_by_id=user_id, now=utcnow()
        )
        _record(context, events.PARTNER_CLIENT_CREATED, created.client)
    return created


async def rotate_partner_client_secret(
    context: Context, raw_org_id: str, client_id: str
) -> Credentials:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        rotated = await partner_clients.rotate_secret(
            session, agency_id=org_id, client_id=client_id, now=utcnow()
        )
        _record(context, events.PARTNER_SECRET_ROTATED, rotated.client)
    return rotated


async def revoke_partner_client(context: Context, raw_org_id: str, client_id: str) -> PartnerClient:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        client = await partner_clients.revoke(
            session, agency_id=org_id, client_id=client_id, now=utcnow()
        )
        _record(context, events.PARTNER_CLIENT_REVOKED, client)
    return client


async def of_agency(context: Context, agency_id: int) -> list[PartnerClient]:
    """The agency's clients (the enforcement point decided who may read them there)."""
    result: list[PartnerClient] = await context.loaders.partner_clients.load(agency_id)
    return result
