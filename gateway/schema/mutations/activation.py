"""Master-account activation mutations (R1, seed 004).

``activateAccount`` and ``requestActivationCode`` are open to callers without a token (V6):
the holder of a pending account cannot sign in until they activate. No field returns a code.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.authz import scoped
from gateway.context import Info
from gateway.models import ActivationCode, Organization
from gateway.resolvers import activation as resolve
from gateway.schema.mutations.accounts import LoginResult


@scoped()  # of no organization: the caller's own account
@strawberry.type(description="R1: an activation letter on its way to the correspondence address")
class PendingActivation:
    organization_id: strawberry.ID
    organization_name: str
    code_expires_at: datetime = strawberry.field(description="The mailed code works until then")

    @classmethod
    def of(cls, code: ActivationCode, organization: Organization) -> PendingActivation:
        return cls(
            organization_id=strawberry.ID(str(organization.id)),
            organization_name=organization.name,
            code_expires_at=code.expires_at,
        )


@strawberry.type
class ActivationMutations:
    @strawberry.mutation(
        description="R1: become the master account holder (ACCOUNT_ADMIN) of an organization "
        "awaiting activation, named by its provider ID and one of its tax IDs. A code is mailed "
        "to its correspondence address; your role there counts once you activate."
    )
    async def request_master_account(
        self, info: Info, provider_id: str, tin: str
    ) -> PendingActivation | None:
        code, organization = await resolve.request_master_account(info.context, provider_id, tin)
        return PendingActivation.of(code, organization)

    @strawberry.mutation(
        description="R1: activate with the code from the letter, entered exactly as printed, "
        "within 15 days (a setting); the organization becomes ACTIVE and you are signed in. "
        "Checked like login: wrong passwords count towards the lockout, and an enabled second "
        "factor needs its code (R14)."
    )
    async def activate_account(
        self,
        info: Info,
        username: str,
        password: str,
        code: str,
        totp_code: str | None = None,
    ) -> LoginResult | None:
        issued = await resolve.activate_account(info.context, username, password, code, totp_code)
        return LoginResult.of(issued)

    @strawberry.mutation(
        description="R1: mail a new code to the organization's correspondence address once the "
        "master account holder's code has expired or too many wrong codes were entered. Always "
        "true: it never tells whether a letter went out."
    )
    async def request_activation_code(self, info: Info, username: str) -> bool | None:
        return await resolve.request_activation_code(info.context, username)

    @strawberry.mutation(
        description="R1, R13: the help desk mails the master account holder a new code; the "
        "earlier one stops working."
    )
    async def reissue_activation_code(
        self, info: Info, organization_id: strawberry.ID
    ) -> PendingActivation | None:
        code, organization = await resolve.reissue_activation_code(info.context, organization_id)
        return PendingActivation.of(code, organization)

    @strawberry.mutation(
        description="R1: the help desk frees an organization awaiting activation from its "
        "master account holder (not the rightful one, or gone); its code stops, and the next "
        "first user registers anew."
    )
    async def release_master_account(
        self, info: Info, organization_id: strawberry.ID
    ) -> bool | None:
        return await resolve.release_master_account(info.context, organization_id)
