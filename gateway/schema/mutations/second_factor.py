"""Second-factor mutations (R14): a signed-in user enrols an authenticator app; the help desk
resets a lost one. Signing in with the code is ``login(totpCode:)``."""

from __future__ import annotations

import strawberry

from gateway.authz import scoped
from gateway.context import Info
from gateway.domain.second_factor import Enrollment
from gateway.resolvers import second_factor as resolve


@scoped()  # of no organization: the caller's own account
@strawberry.type(
    description="R14: a new second-factor secret, shown this once; confirm it with a code "
    "(confirmSecondFactor) before it is used at sign-in"
)
class SecondFactorEnrollment:
    secret: str = strawberry.field(
        description="The base32 secret, to type into an authenticator app"
    )
    provisioning_uri: str = strawberry.field(
        description="The same secret as an otpauth:// URI (show it as a QR code)"
    )

    @classmethod
    def of(cls, enrollment: Enrollment) -> SecondFactorEnrollment:
        return cls(
            secret=enrollment.secret,
            provisioning_uri=enrollment.provisioning_uri,
        )


@strawberry.type
class SecondFactorMutations:
    @strawberry.mutation(
        description="Begin enrolling a second factor (TOTP) for the caller: a new secret, "
        "replacing one not yet confirmed. CONFLICT once a factor is enabled (the help desk "
        "resets a lost one)."
    )
    async def begin_second_factor_enrollment(self, info: Info) -> SecondFactorEnrollment | None:
        return SecondFactorEnrollment.of(await resolve.begin_enrollment(info.context))

    @strawberry.mutation(
        description="Enable the pending second factor with a current code of its secret; "
        "from then on login needs totpCode. A wrong code is BAD_USER_INPUT."
    )
    async def confirm_second_factor(self, info: Info, code: str) -> bool | None:
        return await resolve.confirm(info.context, code)

    @strawberry.mutation(
        description="The help desk clears a user's second factor (a lost device) and ends "
        "every session of theirs; they enrol again after signing in."
    )
    async def reset_second_factor(self, info: Info, user_id: strawberry.ID) -> bool | None:
        return await resolve.reset(info.context, user_id)
