"""The member-list export (R12): a read, in one short session."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.catalog import MembershipStatus
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import export


async def export_members(
    context: Context, raw_org_id: str, statuses: Sequence[MembershipStatus]
) -> export.MemberExport:
    org_id = parse_id(raw_org_id, "Organization")
    async with context.db.session() as session:
        return await export.export_members(session, org_id=org_id, statuses=statuses)
