"""Casbin policy compiled into per-role decision tables.

Casbin is the source of truth, but ``enforce`` costs up to milliseconds per call, so it is
never on the request path. At start-up (and on reload) the enforcer is asked once per
(role, ``Type.field``, action); at request time a decision is a dictionary lookup.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

import casbin

from gateway.catalog import HEALTH_PLAN_ROLES, ORGANIZATION_ROLES
from gateway.settings import Settings

# Pseudo-roles the gateway adds from the request itself, not from the database.
AUTHENTICATED = "AUTHENTICATED"  # every signed-in caller
ANONYMOUS = "ANONYMOUS"  # a caller without a valid token
SELF = "SELF"  # the caller looking at their own user or membership
# R14: signed in with an expired password; held instead of every other role.
PASSWORD_EXPIRED = "PASSWORD_EXPIRED"  # noqa: S105 - a role name, not a secret
# R14: holds a role that requires a second factor and has not enabled one; held instead of
# every other role (PASSWORD_EXPIRED comes first when both apply).
SECOND_FACTOR_ENROLLMENT = "SECOND_FACTOR_ENROLLMENT"
# SPEC 1, R11: a partner billing system (OAuth2 client credentials) instead of AUTHENTICATED.
PARTNER_CLIENT = "PARTNER_CLIENT"
PSEUDO_ROLES = frozenset(
    {AUTHENTICATED, ANONYMOUS, SELF, PASSWORD_EXPIRED, SECOND_FACTOR_ENROLLMENT, PARTNER_CLIENT}
)
ALL_ROLES = ORGANIZATION_ROLES | HEALTH_PLAN_ROLES | PSEUDO_ROLES

READ, READ_MASKED, WRITE, LOGIN = "read", "read_masked", "write", "login"
# Row scope (V1, V4, V5): a role with "reach_all" on a list reaches all of its rows, not only
# those of its own organizations or assigned providers. Only these lists take the action.
REACH_ALL = "reach_all"
REMEMBERED = 4096  # callers whose decisions a process keeps (PolicyTable.remembered)
T = TypeVar("T")
REACH_FIELDS = frozenset(
    {
        ("Query", "organizations"),  # V1: every organization (and, by id, Query.organization)
        ("Query", "user"),  # V1: any user by id, not only members of rosters the caller reads
        ("User", "memberships"),  # V5: a user's memberships in every organization
        ("Organization", "providers"),  # V4: every provider, not only the assigned ones
    }
)
# A1: mutations that open, renew or end a session are logged with action "login".
SESSION_MUTATIONS = frozenset({"login", "refreshToken", "logout", "activateAccount"})
ORG_DOMAIN, PLAN_DOMAIN = "org/*", "plan"


class Decision(IntEnum):
    DENY = 0
    MASK = 1
    ALLOW = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision and the policy line that made it (None: default deny)."""

    decision: Decision
    rule: str | None
    action: str = READ

    @property
    def allowed(self) -> bool:
        return self.decision is not Decision.DENY


DEFAULT_DENY = Verdict(Decision.DENY, None)


def load_enforcer(model: Path, policy: Path) -> casbin.Enforcer:
    return casbin.Enforcer(str(model), str(policy))


def _domain(role: str) -> str:
    return PLAN_DOMAIN if role in HEALTH_PLAN_ROLES else ORG_DOMAIN


def _ask(enforcer: casbin.Enforcer, role: str, obj: str, act: str) -> tuple[bool, str | None]:
    """Whether the enforcer allows it, and the policy line that matched (kept to explain it)."""
    allowed, rule = enforcer.enforce_ex(role, _domain(role), obj, act)
    return bool(allowed), ", ".join(rule) if rule else None


def field_actions(fields: Iterable[tuple[str, str, bool]]) -> list[tuple[str, str, str]]:
    """(type, field, action) the policy is asked about: mutations write (sessions: login), the
    rest is read."""
    return [(t, f, _action(t, f)) for t, f, _ in fields]


def _action(type_name: str, field: str) -> str:
    if type_name != "Mutation":
        return READ
    return LOGIN if field in SESSION_MUTATIONS else WRITE


class PolicyTable:
    """Decisions per role, and memoized unions for the role sets callers actually hold."""

    def __init__(self, enforcer: casbin.Enforcer, objects: Iterable[tuple[str, str, str]]) -> None:
        """``objects``: (type name, field name, action) for every operation of the schema."""
        objects = list(objects)
        self._by_role: dict[str, dict[tuple[str, str], Verdict]] = {}
        # A refusal names the action that was refused (a mutation's is "write").
        self._refusals = {(t, f): Verdict(Decision.DENY, None, a) for t, f, a in objects}
        named = _objects_named_per_subject(enforcer)
        for role in ALL_ROLES:
            candidates = _candidates(enforcer, named, role)
            table: dict[tuple[str, str], Verdict] = {}
            for type_name, field, action in objects:
                if f"{type_name}.{field}" not in candidates:
                    continue
                verdict = _compile_one(enforcer, role, type_name, field, action)
                if verdict.allowed:
                    table[(type_name, field)] = verdict
            self._by_role[role] = table
        self._reach = {
            role: frozenset(
                (t, f)
                for t, f in REACH_FIELDS
                if _ask(enforcer, role, f"{t}.{f}", REACH_ALL)[0]
            )
            for role in ALL_ROLES
        }
        self._combined: dict[tuple[frozenset[str], str, str], Verdict] = {}
        self._remembered: OrderedDict[Hashable, Any] = OrderedDict()

    def remembered(self, key: Hashable, make: Callable[[], T]) -> T:
        """What was remembered under ``key`` (made by ``make`` the first time): answers that
        depend on nothing but this policy and ``key``, kept for the most recent keys."""
        kept = self._remembered
        found = kept.get(key)
        if found is None:
            found = kept[key] = make()
            if len(kept) > REMEMBERED:
                kept.popitem(last=False)
        else:
            kept.move_to_end(key)
        return cast(T, found)

    def decide(self, roles: frozenset[str], type_name: str, field: str) -> Verdict:
        """The most permissive verdict of any of ``roles`` (a union of privileges). When
        several roles give it, the rule named is always the same one: an organization's or
        the health plan's role before a pseudo-role (an admin reading their own membership
        reads it as the admin), then by name."""
        key = (roles, type_name, field)
        verdict = self._combined.get(key)
        if verdict is None:
            refusal = self._refusals.get((type_name, field), DEFAULT_DENY)
            verdict = max(
                (
                    self._by_role[r].get((type_name, field), refusal)
                    for r in sorted(roles, key=_rule_order)
                ),
                key=lambda v: v.decision,
                default=refusal,
            )
            self._combined[key] = verdict
        return verdict

    def roles_allowed(self, type_name: str, field: str) -> frozenset[str]:
        return frozenset(r for r, t in self._by_role.items() if (type_name, field) in t)

    def reaches_all(self, roles: frozenset[str], type_name: str, field: str) -> bool:
        """Whether any of ``roles`` reaches every row of the list ``Type.field`` (V1, V4, V5)."""
        return any((type_name, field) in self._reach[r] for r in roles)


def _rule_order(role: str) -> tuple[bool, str]:
    return role in PSEUDO_ROLES, role


def compile_policy(settings: Settings, fields: Iterable[tuple[str, str, bool]]) -> PolicyTable:
    """The policy files compiled for the schema's (type, field, non-null?) ``fields``."""
    objects = tuple(field_actions(fields))
    digest = hashlib.sha256(
        settings.policy_model.read_bytes() + settings.policy_file.read_bytes()
    ).hexdigest()
    return _compiled(str(settings.policy_model), str(settings.policy_file), digest, objects)


@lru_cache(maxsize=4)
def _compiled(
    model: str, policy: str, digest: str, objects: tuple[tuple[str, str, str], ...]
) -> PolicyTable:
    """Compiling asks Casbin a few hundred questions; a process does it once per policy."""
    return PolicyTable(load_enforcer(Path(model), Path(policy)), objects)


def _candidates(
    enforcer: casbin.Enforcer, named: dict[str, set[str]], role: str
) -> set[str]:
    """Objects a line of ``role`` or its groups names: only these can match (r.obj == p.obj);
    asking Casbin about the rest would only ever answer "deny"."""
    return set().union(*(named.get(s, set()) for s in _groups_of(enforcer, role)))


def _objects_named_per_subject(enforcer: casbin.Enforcer) -> dict[str, set[str]]:
    named: dict[str, set[str]] = {}
    for subject, obj, *_ in enforcer.get_policy():
        named.setdefault(subject, set()).add(obj)
    return named


def _groups_of(enforcer: casbin.Enforcer, role: str) -> set[str]:
    """The role and every group it belongs to through ``g2``, transitively."""
    links = enforcer.get_named_grouping_policy("g2")
    found, frontier = {role}, [role]
    while frontier:
        current = frontier.pop()
        for member, group in links:
            if member == current and group not in found:
                found.add(group)
                frontier.append(group)
    return found


def _compile_one(
    enforcer: casbin.Enforcer, role: str, type_name: str, field: str, action: str
) -> Verdict:
    obj = f"{type_name}.{field}"
    allowed, rule = _ask(enforcer, role, obj, action)
    if allowed:
        return Verdict(Decision.ALLOW, rule, action)
    if action == READ:
        allowed, rule = _ask(enforcer, role, obj, READ_MASKED)
        if allowed:
            return Verdict(Decision.MASK, rule, READ_MASKED)
    return Verdict(Decision.DENY, None, action)
