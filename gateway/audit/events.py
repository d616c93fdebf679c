"""Account events in the access log (A1): sign-ins, lockouts, sessions, passwords, refused tokens.

Every event is declared once below; ``event.entry(...)`` is what the request's ``AuditTrail``
records: an entry of type ``Account`` next to the enforcement point's entry for the mutation
itself, so it is written (and hash-chained) with the request's other entries. The
entry names the user by id (the request's own columns add when, who and from which address);
the field is the event, the decision says whether it succeeded and the rule says why. An entry
never holds a password, a token or what was typed as a username.
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.audit.entries import Entry

EVENT_TYPE = "Account"
LOGIN, WRITE = "login", "write"  # A1: sessions are "login"; account changes "write"
ALLOW, DENY = True, False


class AccountEvent(NamedTuple):
    field: str
    action: str
    allowed: bool
    rule: str

    def entry(self, organization_id: int | None = None, detail: str | None = None) -> Entry:
        """This event as an access-log entry, filed under ``organization_id``; ``detail``
        (never a secret) is appended to the rule."""
        rule = self.rule if detail is None else f"{self.rule}: {detail}"
        return Entry.of(
            organization_id=organization_id,
            object_type=EVENT_TYPE,
            field=self.field,
            action=self.action,
            allowed=self.allowed,
            rule=rule,
        )


SIGNED_IN = AccountEvent("signIn", LOGIN, ALLOW, "R14: password verified")
SIGNED_IN_PASSWORD_EXPIRED = AccountEvent(
    "signIn", LOGIN, ALLOW, "R14: password verified but expired: only changePassword and logout"
)
SIGN_IN_FAILED = AccountEvent("signIn", LOGIN, DENY, "R14: unknown username or wrong password")
ATTEMPT_COUNTED = AccountEvent(
    "signInAttempt", LOGIN, ALLOW, "R14: an attempt counted towards the lockout, before checking"
)
SIGN_IN_LOCKED = AccountEvent("signIn", LOGIN, DENY, "R14: the account is locked")
LOCKED_OUT = AccountEvent("lockout", LOGIN, DENY, "R14: too many failed sign-ins locked it")
SESSION_REFRESHED = AccountEvent("refresh", LOGIN, ALLOW, "R14: refresh token rotated")
REFRESH_REFUSED = AccountEvent(
    "refresh", LOGIN, DENY, "R14: refresh token unknown, expired or revoked"
)
REFRESH_REUSED = AccountEvent(
    "refresh", LOGIN, DENY, "R14: a rotated refresh token came back: every session revoked"
)
SIGNED_OUT = AccountEvent("signOut", LOGIN, ALLOW, "R14: every token of the user revoked")
TOKEN_REFUSED = AccountEvent("token", LOGIN, DENY, "A1: bearer token refused")
REGISTERED = AccountEvent("register", WRITE, ALLOW, "registered")
PASSWORD_CHANGED = AccountEvent(
    "passwordChange", WRITE, ALLOW, "R14: password changed; earlier tokens revoked"
)
PASSWORD_CHANGE_REFUSED = AccountEvent(
    "passwordChange", WRITE, DENY, "R14: the current password was wrong"
)
RECOVERY_REQUESTED = AccountEvent("recoveryRequest", WRITE, ALLOW, "R13: recovery link sent")
RECOVERY_NO_ACCOUNT = AccountEvent(
    "recoveryRequest", WRITE, DENY, "R13: no account to recover (answered as if sent)"
)
PASSWORD_RECOVERED = AccountEvent(
    "recovery", WRITE, ALLOW, "R13: password set from a recovery link; earlier tokens revoked"
)
RECOVERY_REFUSED = AccountEvent("recovery", WRITE, DENY, "R13: link unknown, used or expired")
RATE_LIMITED = AccountEvent(
    "rateLimit", LOGIN, DENY, "too many sign-in or recovery attempts: refused unchecked"
)
UNLOCKED = AccountEvent("unlock", WRITE, ALLOW, "R13: account unlocked")
# R1: master accounts and their activation codes (the code itself is never logged).
MASTER_ACCOUNT_CLAIMED = AccountEvent(
    "masterAccount", WRITE, ALLOW, "R1: first user of the organization: activation letter mailed"
)
ACTIVATION_CODE_ISSUED = AccountEvent(
    "activationCode", WRITE, ALLOW, "R1: a new activation code mailed; the earlier one stops"
)
ACTIVATED = AccountEvent(
    "activation", LOGIN, ALLOW, "R1: activation code accepted: the organization is ACTIVE"
)
ACTIVATION_NOT_PENDING = AccountEvent("activation", LOGIN, DENY, "R1: no activation pending")
ACTIVATION_CODE_EXPIRED = AccountEvent("activation", LOGIN, DENY, "R1: the code has expired")
ACTIVATION_CODE_SPENT = AccountEvent(
    "activation", LOGIN, DENY, "R1: the code is spent (too many wrong codes)"
)
ACTIVATION_CODE_MISMATCH = AccountEvent("activation", LOGIN, DENY, "R1: the code does not match")
CODE_ATTEMPT_COUNTED = AccountEvent(
    "activationAttempt", LOGIN, ALLOW, "R1: one of the code's attempts taken, before checking"
)
ACTIVATION_CODE_USED = AccountEvent(
    "activation", LOGIN, DENY, "R1: the code was used or replaced meanwhile"
)
ACTIVATION_CODE_NOT_DUE = AccountEvent(
    "activationCode",
    WRITE,
    DENY,
    "R1: no new code: none pending, or the current one still works (answered as if sent)",
)
MASTER_ACCOUNT_REFUSED = AccountEvent(
    "masterAccount", WRITE, DENY, "R1: no organization awaiting activation matched, or refused"
)
MASTER_ACCOUNT_RELEASED = AccountEvent(
    "masterAccount", WRITE, ALLOW, "R1: the help desk released the pending holder; code stopped"
)
SIGN_IN_NOT_ACTIVATED = AccountEvent(
    "signIn", LOGIN, DENY, "R1: password verified but the account awaits its activation code"
)

# R14: the second factor (TOTP); neither its secret nor a code is ever logged.
SIGNED_IN_WITH_SECOND_FACTOR = AccountEvent(
    "signIn", LOGIN, ALLOW, "R14: password and second-factor code verified"
)
SIGNED_IN_MUST_ENROL = AccountEvent(
    "signIn",
    LOGIN,
    ALLOW,
    "R14: password verified; the caller's roles require a second factor: only enrolment and "
    "logout until it is enabled",
)
SECOND_FACTOR_REQUIRED = AccountEvent(
    "signIn", LOGIN, DENY, "R14: password verified but no second-factor code was given"
)
SECOND_FACTOR_WRONG = AccountEvent(
    "signIn", LOGIN, DENY, "R14: password verified but the second-factor code was wrong or used"
)
ENROLMENT_BEGUN = AccountEvent(
    "secondFactorEnrolment", WRITE, ALLOW, "R14: a new second-factor secret awaits confirmation"
)
ENROLMENT_REFUSED = AccountEvent(
    "secondFactorEnrolment",
    WRITE,
    DENY,
    "R14: a second factor is already enabled; only the help desk resets it",
)
SECOND_FACTOR_CONFIRMED = AccountEvent(
    "secondFactorConfirm", WRITE, ALLOW, "R14: second factor enabled"
)
CONFIRMATION_REFUSED = AccountEvent(
    "secondFactorConfirm", WRITE, DENY, "R14: wrong code, or no enrolment pending"
)
SECOND_FACTOR_RESET = AccountEvent(
    "secondFactorReset", WRITE, ALLOW, "R14: second factor cleared by the help desk; tokens revoked"
)

# SPEC 1, R11: partner billing systems (OAuth2 client credentials at /oauth/token). The entry
# names the client's service account; never a secret, nor a client_id that names no client.
PARTNER_CLIENT_CREATED = AccountEvent("partnerClient", WRITE, ALLOW, "R11: partner client created")
PARTNER_SECRET_ROTATED = AccountEvent(
    "partnerClientSecret", WRITE, ALLOW, "R11: partner client secret rotated; its tokens revoked"
)
PARTNER_CLIENT_REVOKED = AccountEvent(
    "partnerClient", WRITE, ALLOW, "R11: partner client revoked; its tokens stop at once"
)
PARTNER_TOKEN_ISSUED = AccountEvent(
    "clientCredentials", LOGIN, ALLOW, "R11: partner client authenticated: access token issued"
)
PARTNER_TOKEN_REFUSED = AccountEvent(
    "clientCredentials", LOGIN, DENY, "R11: partner token request refused"
)
PARTNER_TOKEN_RATE_LIMITED = AccountEvent(
    "clientCredentials", LOGIN, DENY, "too many token requests: refused unchecked"
)
