"""The per-request context every resolver reads as ``strawberry.Info[Context]``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.chain import AccessLogBuffer, AccessLogWriter, FieldDecision
from gateway.auth.rate_limits import Limiter
from gateway.authz.policy import DEFAULT_DENY, PolicyTable, Verdict
from gateway.authz.scope import ROOT_SCOPE, Caller, NodeScope
from gateway.catalog import RoleCode
from gateway.data.db import Database
from gateway.errors import Unauthenticated
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.data.loaders import Loaders


INTROSPECTION = FieldDecision(DEFAULT_DENY, "__introspection", "", None, recorded=False)


@dataclass(slots=True)
class Context:
    """Caller, scope, loaders and audit buffer of one request; never shared between requests."""

    db: Database
    log_writer: AccessLogWriter
    settings: Settings
    policy: PolicyTable
    caller: Caller
    loaders: Loaders
    access_log: AccessLogBuffer
    request_id: str
    statements: list[int] = field(default_factory=lambda: [0])  # SQL statements run so far
    available: bool = True  # False: the caller could not be loaded, so nothing is answered
    limiter: Limiter | None = None  # the runtime's; None: this process's in-memory one
    # The enforcement point's memo: (object scope, type, field) -> decision, per request.
    fields: dict[tuple[NodeScope, str, str], FieldDecision] = field(default_factory=dict)
    _verdicts: dict[tuple[NodeScope, str, str], Verdict] = field(default_factory=dict)
    _roles: dict[NodeScope, frozenset[str]] = field(default_factory=dict)
    _orgs_allowing: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict)

    def decide(self, scope: NodeScope, type_name: str, field_name: str) -> Verdict:
        """The caller's verdict on ``Type.field`` of an object seen through ``scope``."""
        key = (scope, type_name, field_name)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self.policy.decide(self.roles_for(scope), type_name, field_name)
            self._verdicts[key] = verdict
        return verdict

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncSession]:
        """One mutation's transaction (all or nothing).

        What the access log recorded so far, this mutation's own decision included, is written
        inside it, so a change and its record commit together. If the change is refused or
        fails, the entries stay buffered and are written when the request ends."""
        async with self.db.transaction() as session:
            yield session
            await self.log_writer.append_within(session, self.access_log)
        self.access_log.mark_written()

    def decide_field(self, key: tuple[NodeScope, str, str]) -> FieldDecision:
        """Decide a field the first time this request meets it (then ``fields`` answers)."""
        scope, type_name, field_name = key
        verdict = self.decide(scope, type_name, field_name)
        decided = FieldDecision.of(
            verdict, type_name, field_name, self._acting_in(scope, type_name, field_name)
        )
        if type_name.startswith("__") or field_name.startswith("__"):
            decided = INTROSPECTION
        self.fields[key] = decided
        return decided

    def _acting_in(self, scope: NodeScope, type_name: str, field_name: str) -> int | None:
        """The organization the caller acts in for the log (A1, A4): the first of the object's
        organizations whose roles alone allow it (an admin here and staff there, reading a
        shared member's email, acts as the admin), else the first where they hold a role (an
        agency admin reading a grant acts in the agency). Without a role in any of them the
        health plan reads through the object's first organization - except the security
        officer, whose investigations are filed under none, out of reach of the admins they
        may concern (A6)."""
        held = [org_id for org_id in scope.org_ids if org_id in self.caller.org_roles]
        for org_id in held:
            if self.decide(NodeScope((org_id,)), type_name, field_name).allowed:
                return org_id
        if held:
            return held[0]
        if RoleCode.SECURITY_OFFICER in self.caller.plan_roles:
            return None
        return scope.org_ids[0] if scope.org_ids else None

    def signed_in_user_id(self) -> int:
        """The caller's user id; the enforcement point lets only signed-in callers reach a
        mutation that needs one, so this refusal is a second line, not the first."""
        if self.caller.user_id is None:
            raise Unauthenticated("Authentication required")
        return self.caller.user_id

    def decide_root(self, type_name: str, field_name: str) -> Verdict:
        """The verdict from roles that hold everywhere (health-plan roles), no organization."""
        return self.decide(ROOT_SCOPE, type_name, field_name)

    def roles_for(self, scope: NodeScope) -> frozenset[str]:
        roles = self._roles.get(scope)
        if roles is None:
            roles = self._roles[scope] = self.caller.roles_for(scope)
        return roles

    def orgs_allowing(self, type_name: str, field_name: str) -> frozenset[int]:
        """The caller's organizations in which the policy lets them read ``Type.field``."""
        key = (type_name, field_name)
        org_ids = self._orgs_allowing.get(key)
        if org_ids is None:
            org_ids = self._orgs_allowing[key] = frozenset(
                org_id
                for org_id in self.caller.org_roles
                if self.decide(NodeScope((org_id,)), type_name, field_name).allowed
            )
        return org_ids

    def roster_org_ids(self) -> frozenset[int]:
        """Organizations whose member list the caller may read (V3, V5)."""
        return self.orgs_allowing("Organization", "members")
