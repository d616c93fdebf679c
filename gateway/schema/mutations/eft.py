"""The EFT-account mutation: the financial manager's alone (SPEC 2, V3)."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.domain.eft import EftDetails
from gateway.resolvers import eft as resolve
from gateway.schema.organizations import EftAccount


@strawberry.input(description="A new EFT account; the account number is typed twice")
class EftAccountInput:
    bank_name: str
    routing_number: str = strawberry.field(description="9 digits with a valid ABA check digit")
    account_number: str = strawberry.field(description="4 to 17 digits")
    account_number_confirmation: str

    def to_details(self) -> EftDetails:
        return EftDetails(
            bank_name=self.bank_name,
            routing_number=self.routing_number,
            account_number=self.account_number,
            account_number_confirmation=self.account_number_confirmation,
        )


@strawberry.type
class EftMutations:
    @strawberry.mutation(
        description="Create or replace the organization's EFT account. Financial managers only."
    )
    async def update_eft_account(
        self, info: Info, organization_id: strawberry.ID, input: EftAccountInput
    ) -> EftAccount | None:
        row = await resolve.update_eft_account(info.context, organization_id, input.to_details())
        return EftAccount.from_row(row)  # shown as Organization.eftAccount shows it
