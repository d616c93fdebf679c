"""Reads of organizations and what hangs off them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, select, true

from gateway.catalog import OrganizationKind
from gateway.context import Context
from gateway.data import PageKey, PageRequest, parse_id
from gateway.errors import NotFound
from gateway.models import AgencyGrant, EftAccount, Membership, Organization, Provider, TaxId


def visible(context: Context) -> ColumnElement[bool]:
    """V1 as SQL: the organizations this caller can see at all."""
    org_ids = context.rows.organizations
    return true() if org_ids is None else Organization.id.in_(org_ids)


async def organization(context: Context, raw_id: str) -> Organization:
    org_id = parse_id(raw_id, "Organization")
    async with context.db.session() as session:
        row = await session.scalar(
            select(Organization).where(Organization.id == org_id, visible(context))
        )
    if row is None:
        raise NotFound("Organization not found")
    return row


async def organizations(context: Context, page: PageRequest) -> Sequence[Organization]:
    statement = select(Organization).where(visible(context))
    return await _page(context, statement, page)


async def billing_agencies(context: Context, page: PageRequest) -> Sequence[Organization]:
    """Registered agencies an office may invite (R11): their names only, so no row scope."""
    statement = select(Organization).where(Organization.kind == OrganizationKind.BILLING_AGENCY)
    return await _page(context, statement, page)


async def _page(
    context: Context, statement: Select[Organization], page: PageRequest
) -> Sequence[Organization]:
    if page.after is not None:
        statement = statement.where(Organization.id > page.after)
    statement = statement.order_by(Organization.id).limit(page.first + 1)
    async with context.db.session() as session:
        return (await session.scalars(statement)).all()


async def tax_ids(context: Context, org_id: int) -> list[TaxId]:
    result: list[TaxId] = await context.loaders.tax_ids.load(org_id)
    return result


async def eft_account(context: Context, org_id: int) -> EftAccount | None:
    result: EftAccount | None = await context.loaders.eft_account.load(org_id)
    return result


async def providers(context: Context, org_id: int, page: PageRequest) -> list[Provider]:
    result: list[Provider] = await context.loaders.provider_page.load(
        PageKey(org_id, page.first, page.after)
    )
    return result


async def members(
    context: Context, org_id: int, page: PageRequest, statuses: tuple[str, ...]
) -> tuple[list[Membership], int]:
    rows = await context.loaders.member_page.load(PageKey(org_id, page.first, page.after, statuses))
    count = await context.loaders.member_count.load((org_id, statuses))
    return rows, count


async def agency_grants(context: Context, org_id: int) -> list[AgencyGrant]:
    result: list[AgencyGrant] = await context.loaders.grants_of_client.load(org_id)
    return result


async def client_grants(context: Context, agency_id: int) -> list[AgencyGrant]:
    result: list[AgencyGrant] = await context.loaders.grants_of_agency.load(agency_id)
    return result


async def admin_count(context: Context, org_id: int) -> int:
    result: int = await context.loaders.admin_count.load(org_id)
    return result
