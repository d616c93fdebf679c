"""The per-request context every resolver reads as ``strawberry.Info[Context]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.access_log import AccessLogBuffer
from gateway.authorization import PolicyTable, Verdict
from gateway.caller import Caller, NodeScope
from gateway.db import Database
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.loaders import Loaders


@dataclass(slots=True)
class Context:
    """Caller, scope, loaders and audit buffer of one request; never shared between requests."""

    db: Database
    settings: Settings
    policy: PolicyTable
    caller: Caller
    loaders: Loaders
    access_log: AccessLogBuffer
    request_id: str
    _verdicts: dict[tuple[NodeScope, str, str], Verdict] = field(default_factory=dict)
    _roles: dict[NodeScope, frozenset[str]] = field(default_factory=dict)
    _roster_org_ids: frozenset[int] | None = None

    def decide(self, scope: NodeScope, type_name: str, field_name: str) -> Verdict:
        """The caller's verdict on ``Type.field`` of an object seen through ``scope``."""
        key = (scope, type_name, field_name)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self.policy.decide(self.roles_for(scope), type_name, field_name)
            self._verdicts[key] = verdict
        return verdict

    def roles_for(self, scope: NodeScope) -> frozenset[str]:
        roles = self._roles.get(scope)
        if roles is None:
            roles = self._roles[scope] = self.caller.roles_for(scope)
        return roles

    def roster_org_ids(self) -> frozenset[int]:
        """Organizations whose member list the policy lets the caller read (V3, V5)."""
        if self._roster_org_ids is None:
            self._roster_org_ids = frozenset(
                org_id
                for org_id in self.caller.org_roles
                if self.decide(NodeScope((org_id,)), "Organization", "members").allowed
            )
        return self._roster_org_ids
