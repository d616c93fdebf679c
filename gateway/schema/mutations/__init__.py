"""The mutation root, merged from one type per domain."""

from __future__ import annotations

from strawberry.tools import merge_types

from gateway.schema.mutations.access_requests import AccessRequestMutations
from gateway.schema.mutations.accounts import AccountMutations
from gateway.schema.mutations.agencies import AgencyMutations
from gateway.schema.mutations.eft import EftMutations
from gateway.schema.mutations.invitations import InvitationMutations
from gateway.schema.mutations.members import MemberMutations
from gateway.schema.mutations.reviews import ReviewMutations
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
        ReviewMutations,
        AccountMutations,
    ),
)
