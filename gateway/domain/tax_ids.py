"""Tax IDs on an organization's account (R10): only TINs registered to that organization."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.members import lock_organization
from gateway.domain.rules import conflict, violation
from gateway.errors import BadUserInput, NotFound
from gateway.models import RegisteredTin, TaxId

TIN = re.compile(r"[0-9]{9}")


async def add_tax_id(session: AsyncSession, *, org_id: int, tin: str) -> TaxId:
    """Put a registered TIN on the account."""
    check_tin(tin)
    await lock_organization(session, org_id)
    if await _on_account(session, org_id, tin):
        raise conflict("R10", "this TIN is already on the account")
    if not await _is_registered(session, org_id, tin):
        # R10: the same answer whether or not another organization has this TIN on file, so the
        # registry cannot be probed for who owns a TIN.
        raise violation("R10", "this TIN is not registered to this organization")
    row = TaxId(organization_id=org_id, tin=tin)
    session.add(row)
    await session.flush()
    return row


async def remove_tax_id(session: AsyncSession, *, org_id: int, tax_id_id: int) -> TaxId:
    """Take a TIN off the account; an account keeps at least one (SPEC 2: "one or more")."""
    await lock_organization(session, org_id)
    row = await session.get(TaxId, tax_id_id)
    if row is None or row.organization_id != org_id:
        raise NotFound("Tax ID not found")
    if await _count_on_account(session, org_id) <= 1:
        raise conflict("R10", "an account keeps at least one tax ID; add the replacement TIN first")
    await session.delete(row)
    await session.flush()
    return row


def check_tin(tin: str) -> None:
    if not TIN.fullmatch(tin):
        raise BadUserInput("`tin`: a TIN is exactly 9 digits", argument="tin")


async def _is_registered(session: AsyncSession, org_id: int, tin: str) -> bool:
    found = await session.scalar(
        select(RegisteredTin.id).where(
            RegisteredTin.organization_id == org_id, RegisteredTin.tin == tin
        )
    )
    return found is not None


async def _on_account(session: AsyncSession, org_id: int, tin: str) -> bool:
    found = await session.scalar(
        select(TaxId.id).where(TaxId.organization_id == org_id, TaxId.tin == tin)
    )
    return found is not None


async def _count_on_account(session: AsyncSession, org_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(TaxId).where(TaxId.organization_id == org_id)
    )
    return count or 0
