"""Mutations on an organization's tax IDs (R10)."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.resolvers import tax_ids as resolve
from gateway.schema.organizations import TaxId


@strawberry.type
class TaxIdMutations:
    @strawberry.mutation(
        description="Put a TIN on the account: 9 digits, registered to this organization (R10). "
        "Admins and office managers."
    )
    async def add_tax_id(
        self, info: Info, organization_id: strawberry.ID, tin: str
    ) -> TaxId | None:
        return TaxId.from_row(await resolve.add_tax_id(info.context, organization_id, tin))

    @strawberry.mutation(
        description="Take a TIN off the account; the last one stays (CONFLICT). "
        "Admins and office managers."
    )
    async def remove_tax_id(
        self, info: Info, organization_id: strawberry.ID, tax_id_id: strawberry.ID
    ) -> TaxId | None:
        return TaxId.from_row(await resolve.remove_tax_id(info.context, organization_id, tax_id_id))
