"""The mutation root, merged from one type per domain."""

from __future__ import annotations

from strawberry.tools import merge_types

from gateway.schema.mutations.access_requests import AccessRequestMutations
from gateway.schema.mutations.accounts import AccountMutations
from gateway.schema.mutations.activation import ActivationMutations
from gateway.schema.mutations.agencies import AgencyMutations
from gateway.schema.mutations.eft import EftMutations
from gateway.schema.mutations.invitations import InvitationMutations
from gateway.schema.mutations.members import MemberMutations
from gateway.schema.mutations.partner_clients import PartnerClientMutations
from gateway.schema.mutations.reviews import ReviewMutations
from gateway.schema.mutations.second_factor import SecondFactorMutations
from gateway.schema.mutations.tax_ids import TaxIdMutations

Mutation = merge_types(
    "Mutation",
    (
        MemberMutations,
        AccessRequestMutations,
        TaxIdMutations,
        EftMutations,
        InvitationMutations,
        AgencyMutations,
        PartnerClientMutations,
        ReviewMutations,
        AccountMutations,
        SecondFactorMutations,
        ActivationMutations,
    ),
)
