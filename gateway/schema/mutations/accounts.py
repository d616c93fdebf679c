"""Identity mutations: registration, sign-in, sessions, passwords, unlocking (R2, R13, R14, V6).

Anonymous callers may call ``registerUser``, ``login``, ``refreshToken``,
``requestPasswordRecovery`` and ``recoverPassword``, and nothing else (V6). No field anywhere
returns a password, a password hash or a recovery link (R13).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.authz import scoped
from gateway.context import Info
from gateway.domain.sessions import IssuedSession
from gateway.resolvers import accounts as resolve
from gateway.resolvers.accounts import MasterAccount
from gateway.schema.users import User


@strawberry.input(description="A new account: username and email unique across the portal")
class RegisterUserInput:
    username: str
    email: str
    name: str
    password: str = strawberry.field(
        description="At least 12 characters (a setting), not a common password, not "
        "containing the username or email address (R14)"
    )
    invitation_token: str | None = strawberry.field(
        default=None,
        description="The token of an invitation's link (R2): also asks for access to the "
        "inviting organization",
    )
    master_account: MasterAccountInput | None = strawberry.field(
        default=None,
        description="R1: the first user of an organization awaiting activation; the account "
        "stays PENDING_ACTIVATION until activateAccount with the code mailed to the "
        "organization's correspondence address",
    )


@strawberry.input(
    description="R1: register as the first user (master account holder) of an organization "
    "awaiting activation, named by its provider ID and one of its tax IDs"
)
class MasterAccountInput:
    provider_id: str
    tin: str


@scoped()  # of no organization: the caller's own account
@strawberry.type(description="A registered account")
class Registration:
    user_id: strawberry.ID
    username: str
    access_request_id: strawberry.ID | None = strawberry.field(
        description="With an invitation: the REQUESTED membership in the inviting organization, "
        "which its admins or office managers approve (R3)"
    )
    activation_code_expires_at: datetime | None = strawberry.field(
        description="As a master account holder (R1): until when the mailed code is valid"
    )


@scoped()  # of no organization: the caller's own account
@strawberry.type(description="A signed-in session's tokens (R14)")
class LoginResult:
    access_token: str = strawberry.field(
        description="Send as `Authorization: Bearer <token>`; expires after the idle limit "
        "(15 minutes by default)"
    )
    refresh_token: str = strawberry.field(
        description="Trade it for new tokens with refreshToken before the session goes idle; "
        "usable once"
    )
    expires_at: datetime = strawberry.field(description="When the access token expires")
    must_change_password: bool = strawberry.field(
        description="R14: the password has expired; the access token allows only "
        "changePassword and logout"
    )
    must_enroll_second_factor: bool = strawberry.field(
        description="R14: the user's roles require a second factor they have not enabled; the "
        "access token allows only beginSecondFactorEnrollment, confirmSecondFactor and logout "
        "(once the password is changed, if it also expired)"
    )

    @classmethod
    def of(cls, issued: IssuedSession) -> LoginResult:
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=issued.expires_at,
            must_change_password=issued.must_change_password,
            must_enroll_second_factor=issued.must_enroll_second_factor,
        )


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Register an account (anyone). A taken username or email gets one CONFLICT "
        "that says neither which nor whose."
    )
    async def register_user(self, info: Info, input: RegisterUserInput) -> Registration | None:
        master = input.master_account
        holder = None if master is None else MasterAccount(master.provider_id, master.tin)
        user, request, code = await resolve.register_user(
            info.context,
            username=input.username,
            email=input.email,
            name=input.name,
            password=input.password,
            invitation_token=input.invitation_token,
            master_account=holder,
        )
        return Registration(
            user_id=strawberry.ID(str(user.id)),
            username=user.username,
            access_request_id=None if request is None else strawberry.ID(str(request.id)),
            activation_code_expires_at=None if code is None else code.expires_at,
        )

    @strawberry.mutation(
        description="Sign in. An unknown username and a wrong password get the same answer; "
        "5 failures (a setting) lock the account (R14). With a second factor enabled, the right "
        "password without totpCode answers UNAUTHENTICATED with reason SECOND_FACTOR_REQUIRED; a "
        "wrong or already used code counts as a failed sign-in."
    )
    async def login(
        self, info: Info, username: str, password: str, totp_code: str | None = None
    ) -> LoginResult | None:
        issued = await resolve.login(info.context, username, password, totp_code)
        return LoginResult.of(issued)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; the old one stops working. Using a "
        "refresh token twice revokes every session of its user (R14)."
    )
    async def refresh_token(self, info: Info, token: str) -> LoginResult | None:
        return LoginResult.of(await resolve.refresh_token(info.context, token))

    @strawberry.mutation(description="Sign out everywhere: every token of the caller stops.")
    async def logout(self, info: Info) -> bool | None:
        return await resolve.logout(info.context)

    @strawberry.mutation(
        description="Change the caller's password (R14); earlier tokens stop, new ones are "
        "returned. A wrong current password counts as a failed sign-in."
    )
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> LoginResult | None:
        issued = await resolve.change_password(info.context, current_password, new_password)
        return LoginResult.of(issued)

    @strawberry.mutation(
        description="Email a single-use password-recovery link to the account with this "
        "username or email address (R13). Always true: it never tells whether one exists."
    )
    async def request_password_recovery(self, info: Info, username_or_email: str) -> bool | None:
        return await resolve.request_password_recovery(info.context, username_or_email)

    @strawberry.mutation(
        description="Set a new password with a recovery link's token (R13); earlier tokens "
        "stop. A locked account stays locked."
    )
    async def recover_password(self, info: Info, token: str, new_password: str) -> bool | None:
        return await resolve.recover_password(info.context, token, new_password)

    @strawberry.mutation(
        description="Unlock a locked account (R13): an organization's admins unlock its "
        "members (give organizationId); the help desk unlocks anyone (organizationId optional)."
    )
    async def unlock_user(
        self, info: Info, user_id: strawberry.ID, organization_id: strawberry.ID | None = None
    ) -> User | None:
        row, org_id = await resolve.unlock_user(info.context, user_id, organization_id)
        org_ids = () if org_id is None else (org_id,)
        return User.from_row(row, seen_in=org_ids)
