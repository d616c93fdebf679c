"""One request's decisions: the caller's verdict per (object scope, type, field), made once.

The enforcement point asks ``field`` for every resolved field; the rest asks ``allows`` (is
the caller allowed this in that organization?) and ``row_scope`` (which rows their reads
reach). Every answer comes from the compiled policy and the caller's roles, memoized for the
request, so nothing else in the gateway decides who may do what.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields

from gateway.audit import Entry
from gateway.auth import Caller
from gateway.authz.policy import (
    ANONYMOUS,
    AUTHENTICATED,
    DEFAULT_DENY,
    PARTNER_CLIENT,
    PASSWORD_EXPIRED,
    SECOND_FACTOR_ENROLLMENT,
    SELF,
    Decision,
    PolicyTable,
    Verdict,
)
from gateway.authz.scope import ROOT_SCOPE, UNDECLARED, NodeScope
from gateway.data import RowScope
from gateway.errors import Forbidden

FieldKey = tuple[NodeScope, str, str]  # (object scope, type name, field name)


@dataclass(frozen=True, slots=True, eq=False)  # memoized per request: identity is equality
class FieldDecision:
    """What the enforcement point decided for one (object scope, type, field) in a request,
    and the access-log entry each execution of it records."""

    verdict: Verdict
    type_name: str
    field: str
    entry: Entry
    recorded: bool = True  # schema introspection is not data and is not logged

    @property
    def decision(self) -> Decision:
        return self.verdict.decision


INTROSPECTION = FieldDecision(
    DEFAULT_DENY,
    "__introspection",
    "",
    Entry.of(
        organization_id=None, object_type="", field="", action="", allowed=False, rule=None
    ),
    recorded=False,
)


@dataclass(slots=True)
class _Memo:
    """The policy's answers for one caller as loaded (the same user with the same roles,
    assignments and sign-in state): they depend on nothing else, so every request of that
    caller shares them. A change of roles is another caller: the next request decides anew."""

    fields: dict[FieldKey, FieldDecision] = field(default_factory=dict)
    verdicts: dict[FieldKey, Verdict] = field(default_factory=dict)
    roles: dict[NodeScope, frozenset[str]] = field(default_factory=dict)
    orgs_allowing: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict)


@dataclass(slots=True)
class Decisions:
    """The policy's answers for one request's caller, each made once (see ``_Memo``)."""

    policy: PolicyTable
    caller: Caller
    fields: dict[FieldKey, FieldDecision] = field(init=False)
    _verdicts: dict[FieldKey, Verdict] = field(init=False)
    _roles: dict[NodeScope, frozenset[str]] = field(init=False)
    _orgs_allowing: dict[tuple[str, str], frozenset[int]] = field(init=False)
    _base_roles: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        memo = self.policy.remembered(_fingerprint(self.caller), _Memo)
        self.fields, self._verdicts = memo.fields, memo.verdicts
        self._roles, self._orgs_allowing = memo.roles, memo.orgs_allowing
        self._base_roles = _base_roles(self.caller)

    def field(self, key: FieldKey) -> FieldDecision:
        """The decision on a field, made the first time this request meets it."""
        decided = self.fields.get(key)
        if decided is None:
            decided = self.fields[key] = self._decide_field(*key)
        return decided

    def decide(self, scope: NodeScope, type_name: str, field_name: str) -> Verdict:
        """The caller's verdict on ``Type.field`` of an object seen through ``scope``."""
        key = (scope, type_name, field_name)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self.policy.decide(self.roles_for(scope), type_name, field_name)
            self._verdicts[key] = verdict
        return verdict

    def allows(self, type_name: str, field_name: str, org_id: int | None = None) -> bool:
        """Whether the caller may ``Type.field`` in organization ``org_id`` (None: with the
        roles that hold everywhere, i.e. anywhere)."""
        scope = ROOT_SCOPE if org_id is None else NodeScope((org_id,))
        return self.decide(scope, type_name, field_name).allowed

    def require(self, type_name: str, field_name: str, org_id: int | None) -> None:
        """Refuse (FORBIDDEN) unless ``allows``: a second line behind the enforcement point,
        for a field whose organization is only known once its arguments are read."""
        if not self.allows(type_name, field_name, org_id):
            raise Forbidden(f"Not allowed to read {type_name}.{field_name}")

    def roles_in(self, org_id: int | None) -> frozenset[str]:
        """The caller's roles in organization ``org_id``, for a domain rule that depends on
        them (R6: only admins touch admins and office managers)."""
        return self.roles_for(ROOT_SCOPE if org_id is None else NodeScope((org_id,)))

    def roles_for(self, scope: NodeScope) -> frozenset[str]:
        roles = self._roles.get(scope)
        if roles is None:
            roles = self._roles[scope] = self._roles_for(scope)
        return roles

    def orgs_allowing(self, type_name: str, field_name: str) -> frozenset[int]:
        """The caller's organizations in which the policy lets them ``Type.field``."""
        key = (type_name, field_name)
        org_ids = self._orgs_allowing.get(key)
        if org_ids is None:
            org_ids = self._orgs_allowing[key] = frozenset(
                org_id
                for org_id in self.caller.org_roles
                if self.allows(type_name, field_name, org_id)
            )
        return org_ids

    def reach(self, type_name: str, field_name: str) -> frozenset[int] | None:
        """Organizations where the caller may ``Type.field``: None when they may anywhere."""
        if self.allows(type_name, field_name):
            return None
        return self.orgs_allowing(type_name, field_name)

    def row_scope(self) -> RowScope:
        """Which rows the caller's reads reach (V1, V4, V5), as data for the SQL."""
        caller = self.caller
        roster = self.orgs_allowing("Organization", "members")  # V3: whose members they see
        held = frozenset(caller.org_roles)
        return RowScope(
            user_id=caller.user_id,
            held=held,
            organizations=self._reached("Query", "organizations", held),
            users_in=self._reached("Query", "user", roster),
            memberships_in=self._reached("User", "memberships", roster),
            every_provider_in=self._reached(
                "Organization", "providers", self._reaching_all("Organization", "providers")
            ),
            assigned_providers=caller.assigned_providers,
        )

    def _reached(
        self, type_name: str, field_name: str, own: frozenset[int]
    ) -> frozenset[int] | None:
        """None if a role that holds everywhere reaches every row of the list, else ``own``."""
        if self.policy.reaches_all(self.roles_for(ROOT_SCOPE), type_name, field_name):
            return None
        return own

    def _reaching_all(self, type_name: str, field_name: str) -> frozenset[int]:
        return frozenset(
            org_id
            for org_id in self.caller.org_roles
            if self.policy.reaches_all(self.roles_for(NodeScope((org_id,))), type_name, field_name)
        )

    def _decide_field(self, scope: NodeScope, type_name: str, field_name: str) -> FieldDecision:
        if type_name.startswith("__") or field_name.startswith("__"):
            return INTROSPECTION
        verdict = self.decide(scope, type_name, field_name)
        if scope == UNDECLARED:  # fail closed: nobody may read an object of undeclared scope
            refused = f"{type_name} declares no object scope"
            verdict = Verdict(Decision.DENY, refused, verdict.action)
        entry = Entry.of(
            organization_id=self._acting_in(scope, type_name, field_name),
            object_type=type_name,
            field=field_name,
            action=verdict.action,
            allowed=verdict.allowed,
            rule=verdict.rule,
        )
        return FieldDecision(verdict, type_name, field_name, entry)

    def _acting_in(self, scope: NodeScope, type_name: str, field_name: str) -> int | None:
        """The organization the caller acts in for the log (A1, A4): the first of the object's
        organizations whose roles alone allow it (an admin here and staff there, reading a
        shared member's email, acts as the admin), else the first where they hold a role (an
        agency admin reading a grant acts in the agency). Without a role in any of them the
        health plan reads through the object's first organization - except whoever may
        search the whole log (the security officer): their investigations are filed under
        none, out of reach of the admins they may concern (A6)."""
        held = [org_id for org_id in scope.org_ids if org_id in self.caller.org_roles]
        for org_id in held:
            if self.allows(type_name, field_name, org_id):
                return org_id
        if held:
            return held[0]
        if self.allows("Query", "accessLog"):
            return None
        return scope.org_ids[0] if scope.org_ids else None

    def _roles_for(self, scope: NodeScope) -> frozenset[str]:
        if self.caller.is_restricted:
            return self._base_roles
        roles = set(self._base_roles)
        for org_id in scope.org_ids:
            roles |= self.caller.org_roles.get(org_id, frozenset())
        if scope.is_self:
            roles.add(SELF)
        return frozenset(roles)


def _fingerprint(caller: Caller) -> Hashable:
    """Everything the caller was loaded with (a decision may depend on any of it)."""
    values = (getattr(caller, each.name) for each in dataclass_fields(caller))
    return (_Memo, *(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in values))


def _base_roles(caller: Caller) -> frozenset[str]:
    """The roles a caller holds everywhere: a pseudo-role for how they signed in (R14: an
    expired password or a missing second factor instead of every other role) and their
    health-plan roles."""
    if caller.password_expired:
        return frozenset({PASSWORD_EXPIRED})
    if caller.must_enroll_second_factor:
        return frozenset({SECOND_FACTOR_ENROLLMENT})
    if caller.partner_client:
        base = PARTNER_CLIENT
    else:
        base = AUTHENTICATED if caller.is_authenticated else ANONYMOUS
    return frozenset({base}) | caller.plan_roles
