"""Organization, its address, tax IDs, EFT account and providers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import models
from gateway.authz import organizations_of, scoped
from gateway.catalog import MembershipStatus, OrganizationKind, OrganizationStatus
from gateway.context import Info
from gateway.data import PageRequest
from gateway.resolvers import invitations as resolve_invitations
from gateway.resolvers import organizations as resolve
from gateway.resolvers import partner_clients as resolve_partner_clients
from gateway.resolvers import reviews as resolve_reviews
from gateway.schema.pagination import Connection, connection

if TYPE_CHECKING:
    from gateway.schema.agencies import AgencyGrant
    from gateway.schema.invitations import Invitation
    from gateway.schema.partner_clients import PartnerClient
    from gateway.schema.reviews import AccessReview
    from gateway.schema.users import Membership

MembershipStatusEnum = strawberry.enum(MembershipStatus, name="MembershipStatus")
OrganizationStatusEnum = strawberry.enum(OrganizationStatus, name="OrganizationStatus")

def page_of(info: Info, first: int | None, after: str | None) -> PageRequest:
    settings = info.context.settings
    return PageRequest.parse(
        first, after, default=settings.page_size_default, maximum=settings.page_size_max
    )


async def member_connection(
    info: Info, org_id: int, page: PageRequest, statuses: tuple[str, ...]
) -> Connection[Membership]:
    """A page of the organization's memberships in ``statuses`` (members, access requests)."""
    from gateway.schema.users import Membership

    rows, total = await resolve.members(info.context, org_id, page, statuses)
    return connection(rows, page, Membership.from_row, total_count=total)


@scoped(organizations=("organization_id",))
@strawberry.type
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    zip: str | None
    organization_id: strawberry.Private[int]


@scoped(organizations=("organization_id",))
@strawberry.type
class TaxId:
    id: strawberry.ID
    tin: str | None
    organization_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.TaxId) -> TaxId:
        return cls(id=strawberry.ID(str(row.id)), tin=row.tin, organization_id=row.organization_id)


@scoped(organizations=("organization_id",))
@strawberry.type
class EftAccount:
    id: strawberry.ID
    bank_name: str | None
    routing_number: str | None
    account_number: str | None
    organization_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.EftAccount) -> EftAccount:
        return cls(
            id=strawberry.ID(str(row.organization_id)),
            bank_name=row.bank_name,
            routing_number=row.routing_number,
            account_number=row.account_number,
            organization_id=row.organization_id,
        )


@scoped(organizations=("seen_in",))
@strawberry.type
class Provider:
    id: strawberry.ID
    npi: str | None
    name: str | None
    specialty: str | None
    dea_number: str | None = strawberry.field(description="Clinical: prescribing registration")
    # The organizations the provider was reached through: whose roles decide what is seen.
    seen_in: strawberry.Private[tuple[int, ...]]

    @classmethod
    def from_row(cls, row: models.Provider, seen_in: tuple[int, ...]) -> Provider:
        return cls(
            id=strawberry.ID(str(row.id)),
            npi=row.npi,
            name=row.name,
            specialty=row.specialty,
            dea_number=row.dea_number,
            seen_in=seen_in,
        )


@scoped(organizations=("row.id",))
@strawberry.type
class Organization:
    id: strawberry.ID
    name: str | None
    kind: OrganizationKind | None
    provider_id: str | None = strawberry.field(description="The payer-assigned provider ID")
    npi: str | None
    status: OrganizationStatus | None
    row: strawberry.Private[models.Organization]

    @classmethod
    def from_row(cls, row: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            kind=OrganizationKind(row.kind),
            provider_id=row.provider_id,
            npi=row.npi,
            status=OrganizationStatus(row.status),
            row=row,
        )

    @strawberry.field
    def correspondence_address(self) -> Address | None:
        row = self.row
        return Address(
            line1=row.address_line1,
            line2=row.address_line2,
            city=row.address_city,
            state=row.address_state,
            zip=row.address_zip,
            organization_id=row.id,
        )

    @strawberry.field
    async def tax_ids(self, info: Info) -> list[TaxId] | None:
        rows = await resolve.tax_ids(info.context, self.row.id)
        return [TaxId.from_row(r) for r in rows]

    @strawberry.field
    async def eft_account(self, info: Info) -> EftAccount | None:
        row = await resolve.eft_account(info.context, self.row.id)
        return None if row is None else EftAccount.from_row(row)

    @strawberry.field(description="V4: only the providers assigned to the caller, unless admin")
    async def providers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Provider] | None:
        page = page_of(info, first, after)
        rows = await resolve.providers(info.context, self.row.id, page)
        return connection(rows, page, lambda r: Provider.from_row(r, organizations_of(self)))

    @strawberry.field
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[MembershipStatus] | None = None,
    ) -> Connection[Annotated[Membership, strawberry.lazy("gateway.schema.users")]] | None:
        statuses = tuple(sorted(status or [MembershipStatus.ACTIVE]))
        return await member_connection(info, self.row.id, page_of(info, first, after), statuses)

    @strawberry.field(description="R3: pending access requests (V3: admins, office managers)")
    async def access_requests(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Membership, strawberry.lazy("gateway.schema.users")]] | None:
        page = page_of(info, first, after)
        return await member_connection(info, self.row.id, page, (MembershipStatus.REQUESTED,))

    @strawberry.field(description="Billing agencies this organization invited or granted")
    async def agency_grants(
        self, info: Info
    ) -> list[Annotated[AgencyGrant, strawberry.lazy("gateway.schema.agencies")]] | None:
        from gateway.schema.agencies import AgencyGrant

        rows = await resolve.agency_grants(info.context, self.row.id)
        return [AgencyGrant.from_row(r) for r in rows]

    @strawberry.field(description="For a billing agency: the organizations that invited it")
    async def client_grants(
        self, info: Info
    ) -> list[Annotated[AgencyGrant, strawberry.lazy("gateway.schema.agencies")]] | None:
        from gateway.schema.agencies import AgencyGrant

        rows = await resolve.client_grants(info.context, self.row.id)
        return [AgencyGrant.from_row(r) for r in rows]

    @strawberry.field(
        description="For a billing agency: the OAuth2 clients of its billing software (SPEC 1, "
        "R11)"
    )
    async def partner_clients(
        self, info: Info
    ) -> list[Annotated[PartnerClient, strawberry.lazy("gateway.schema.partner_clients")]] | None:
        from gateway.schema.partner_clients import PartnerClient

        rows = await resolve_partner_clients.of_agency(info.context, self.row.id)
        return [PartnerClient.from_row(r) for r in rows]

    @strawberry.field(description="R7: true when exactly one active account administrator")
    async def has_single_admin(self, info: Info) -> bool | None:
        return await resolve.admin_count(info.context, self.row.id) == 1

    @strawberry.field(description="R2: invitations to register (V3: admins, office managers)")
    async def invitations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Invitation, strawberry.lazy("gateway.schema.invitations")]] | None:
        from gateway.schema.invitations import Invitation

        page = page_of(info, first, after)
        rows, total = await resolve_invitations.invitations_of(info.context, self.row.id, page)
        return connection(rows, page, Invitation.from_row, total_count=total)

    @strawberry.field(
        description="R12: no access review completed within the review interval, or the open "
        "review is past its deadline"
    )
    async def review_overdue(self, info: Info) -> bool | None:
        return await resolve_reviews.review_overdue(info.context, self.row)

    @strawberry.field(description="R12: when the last access review was completed")
    async def last_reviewed_at(self, info: Info) -> datetime | None:
        return await resolve_reviews.last_reviewed_at(info.context, self.row.id)

    @strawberry.field(description="R12: the open access review, if any")
    async def access_review(
        self, info: Info
    ) -> Annotated[AccessReview, strawberry.lazy("gateway.schema.reviews")] | None:
        from gateway.schema.reviews import AccessReview

        row = await resolve_reviews.open_review(info.context, self.row.id)
        return None if row is None else AccessReview.from_row(row)


@scoped(organizations=("organization_id",))
@strawberry.type
class BillingAgency:
    """A registered billing agency, as any signed-in user may see it to invite it (R11)."""

    id: strawberry.ID
    name: str | None
    provider_id: str | None
    organization_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Organization) -> BillingAgency:
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, provider_id=row.provider_id,
            organization_id=row.id,
        )
