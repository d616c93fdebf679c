"""The member-list export (R12) as the API returns it."""

from __future__ import annotations

import strawberry

from gateway.authz import scoped
from gateway.catalog import MembershipStatus
from gateway.context import Info
from gateway.domain import export
from gateway.resolvers import export as resolve


@scoped(organizations=("organization_id",))
@strawberry.type(description="The member list as CSV, ready to save under ``filename``")
class MemberExport:
    filename: str | None
    content_type: str | None
    csv: str | None
    row_count: int | None = strawberry.field(description="Members listed (header not counted)")
    organization_id: strawberry.Private[int]

    @classmethod
    def of(cls, result: export.MemberExport) -> MemberExport:
        return cls(
            filename=result.filename,
            content_type=result.content_type,
            csv=result.csv,
            row_count=result.row_count,
            organization_id=result.organization_id,
        )


async def export_members(
    info: Info, organization_id: strawberry.ID, status: list[MembershipStatus] | None
) -> MemberExport:
    """R12: the default is the active members, as ``Organization.members`` lists them."""
    statuses = sorted(set(status or [MembershipStatus.ACTIVE]))
    result = await resolve.export_members(info.context, organization_id, statuses)
    return MemberExport.of(result)
