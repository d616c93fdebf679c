"""The member-list export (R12) as the API returns it."""

from __future__ import annotations

import strawberry

from gateway.authz.scope import NodeScope
from gateway.catalog import MembershipStatus
from gateway.domain import export
from gateway.resolvers import export as resolve
from gateway.schema.organizations import Info


@strawberry.type(description="The member list as CSV, ready to save under ``filename``")
class MemberExport:
    filename: str | None
    content_type: str | None
    csv: str | None
    row_count: int | None = strawberry.field(description="Members listed (header not counted)")
    node_scope: strawberry.Private[NodeScope]

    @classmethod
    def of(cls, result: export.MemberExport) -> MemberExport:
        return cls(
            filename=result.filename,
            content_type=result.content_type,
            csv=result.csv,
            row_count=result.row_count,
            node_scope=NodeScope((result.organization_id,)),
        )


async def export_members(
    info: Info, organization_id: strawberry.ID, status: list[MembershipStatus] | None
) -> MemberExport:
    """R12: the default is the active members, as ``Organization.members`` lists them."""
    statuses = sorted(set(status or [MembershipStatus.ACTIVE]))
    result = await resolve.export_members(info.context, organization_id, statuses)
    return MemberExport.of(result)
