"""Who is calling: the signed-in user (or nobody) and what the database says they hold."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Caller:
    """Loaded per request, never taken from the token (R8: a removal takes effect at once).

    ``org_roles`` holds roles of ACTIVE memberships in ACTIVE organizations, plus
    ``AGENCY_USER`` in each client organization whose ACTIVE grant the caller is assigned to
    (R11). ``assigned_providers`` maps an organization to the provider ids the caller is
    assigned to there (``None``: a grant that covers all of them). What these allow is the
    policy's to say (gateway.authz).
    """

    user_id: int | None = None
    username: str | None = None
    plan_roles: frozenset[str] = frozenset()
    org_roles: dict[int, frozenset[str]] = field(default_factory=dict)
    assigned_providers: dict[int, frozenset[int] | None] = field(default_factory=dict)
    # R14: signed in with an expired password: may only change it or sign out.
    password_expired: bool = False
    # R14: holds a role that requires a second factor (settings.totp_required_roles) without
    # one enabled: may only enrol or sign out.
    must_enroll_second_factor: bool = False
    # SPEC 1, R11: a partner billing system's service account: it reads what its agency's
    # grants show, and calls no mutation.
    partner_client: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_restricted(self) -> bool:
        """R14: the session allows nothing but fixing the password or the second factor."""
        return self.password_expired or self.must_enroll_second_factor


ANONYMOUS_CALLER = Caller()
