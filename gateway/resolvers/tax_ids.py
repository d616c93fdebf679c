"""Tax-ID mutations (R10): parse, open the mutation's transaction, call the domain."""

from __future__ import annotations

from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import tax_ids
from gateway.models import TaxId


async def add_tax_id(context: Context, raw_org_id: str, tin: str) -> TaxId:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await tax_ids.add_tax_id(session, org_id=org_id, tin=tin)


async def remove_tax_id(context: Context, raw_org_id: str, raw_tax_id_id: str) -> TaxId:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await tax_ids.remove_tax_id(
            session, org_id=org_id, tax_id_id=parse_id(raw_tax_id_id, "Tax ID")
        )
