"""Who is calling and what they may reach: identity plus row scope, loaded per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from gateway.authz.policy import (
    ANONYMOUS,
    AUTHENTICATED,
    PARTNER_CLIENT,
    PASSWORD_EXPIRED,
    SECOND_FACTOR_ENROLLMENT,
    SELF,
)
from gateway.catalog import RoleCode

# V4: these roles see every provider of the organization; the others only their assignments.
ALL_PROVIDERS_ROLES = frozenset({RoleCode.ACCOUNT_ADMIN, RoleCode.OFFICE_MANAGER})


class NodeScope(NamedTuple):
    """The organizations an object is seen through, and whether it is the caller's own.

    Every object the schema returns carries one; the enforcement point turns it into the
    caller's roles for that object. (A tuple: it is hashed for every field resolved.)
    """

    org_ids: tuple[int, ...] = ()
    is_self: bool = False


ROOT_SCOPE = NodeScope()


@dataclass(slots=True)
class Caller:
    """The signed-in user (or nobody) with their roles per organization.

    ``org_roles`` holds roles of ACTIVE memberships, plus ``AGENCY_USER`` in each client
    organization whose ACTIVE grant the caller is assigned to (R11).
    ``provider_scope`` maps an organization to the provider ids the caller may see there
    (``None``: all of them, V4).
    """

    user_id: int | None = None
    username: str | None = None
    plan_roles: frozenset[str] = frozenset()
    org_roles: dict[int, frozenset[str]] = field(default_factory=dict)
    provider_scope: dict[int, frozenset[int] | None] = field(default_factory=dict)
    # R14: signed in with an expired password; may only change it or sign out (the policy
    # grants the PASSWORD_EXPIRED role nothing else, and the caller holds no other role).
    password_expired: bool = False
    # R14: holds a role that requires a second factor (settings.totp_required_roles) without
    # one enabled; may only enrol or sign out (the SECOND_FACTOR_ENROLLMENT role, nothing else).
    must_enroll_second_factor: bool = False
    # SPEC 1, R11: a partner billing system's service account holds PARTNER_CLIENT instead of
    # AUTHENTICATED: it reads what its agency's grants show, and calls no mutation.
    partner_client: bool = False
    _base_roles: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.password_expired:
            self._base_roles = frozenset({PASSWORD_EXPIRED})
            return
        if self.must_enroll_second_factor:
            self._base_roles = frozenset({SECOND_FACTOR_ENROLLMENT})
            return
        base = {AUTHENTICATED} if self.user_id is not None else {ANONYMOUS}
        if self.partner_client:
            base = {PARTNER_CLIENT}
        self._base_roles = frozenset(base | self.plan_roles)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def sees_every_organization(self) -> bool:
        """V1: a health-plan role reaches every account."""
        return bool(self.plan_roles)

    def visible_org_ids(self) -> frozenset[int] | None:
        """Organizations the caller can see (V1); ``None`` means all."""
        return None if self.sees_every_organization else frozenset(self.org_roles)

    def roles_for(self, scope: NodeScope) -> frozenset[str]:
        if self.password_expired or self.must_enroll_second_factor:
            return self._base_roles
        roles = set(self._base_roles)
        for org_id in scope.org_ids:
            roles |= self.org_roles.get(org_id, frozenset())
        if scope.is_self:
            roles.add(SELF)
        return frozenset(roles)

    def providers_in(self, org_id: int) -> frozenset[int] | None:
        """V4: provider ids visible in ``org_id``; ``None`` means all."""
        if (
            self.sees_every_organization
            or self.org_roles.get(org_id, frozenset()) & ALL_PROVIDERS_ROLES
        ):
            return None
        return self.provider_scope.get(org_id, frozenset())

    def scope(self, org_ids: tuple[int, ...], owner_id: int | None = None) -> NodeScope:
        return NodeScope(org_ids, owner_id is not None and owner_id == self.user_id)


ANONYMOUS_CALLER = Caller()
