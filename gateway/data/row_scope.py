"""Row scope: which rows one caller's reads reach, applied as SQL by the loaders and reads.

The policy decides it (gateway.authz builds one per request); this is only its data, so a row
the caller may not see is never fetched and a forbidden id answers like a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RowScope:
    """Each set names organizations; ``None`` means every organization."""

    user_id: int | None = None
    held: frozenset[int] = frozenset()  # organizations the caller holds a role in
    organizations: frozenset[int] | None = frozenset()  # V1: organizations the caller sees
    users_in: frozenset[int] | None = frozenset()  # V1: whose members it looks up by id
    memberships_in: frozenset[int] | None = frozenset()  # V5: where it sees others' memberships
    every_provider_in: frozenset[int] | None = frozenset()  # V4: where it sees every provider
    # V4 elsewhere: the providers it is assigned to, per organization (None: all of them).
    assigned_providers: Mapping[int, frozenset[int] | None] = field(default_factory=dict)

    def providers_in(self, org_id: int) -> frozenset[int] | None:
        """V4: provider ids the caller sees in ``org_id``; ``None`` means all."""
        if self.every_provider_in is None or org_id in self.every_provider_in:
            return None
        return self.assigned_providers.get(org_id, frozenset())
