"""The EFT-account mutation: parse, open the mutation's transaction, call the domain."""

from __future__ import annotations

from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import eft
from gateway.models import EftAccount


async def update_eft_account(
    context: Context, raw_org_id: str, details: eft.EftDetails
) -> EftAccount:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.write_transaction() as session:
        return await eft.update_eft_account(session, org_id=org_id, details=details)
