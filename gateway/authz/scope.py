"""Object scope: which organizations' roles apply to an object, declared once per type.

Every Strawberry type the schema returns states how its organizations are found, with
``@scoped(...)``; the enforcement point derives each object's ``NodeScope`` from that and the
caller. A type without a declaration fails ``gateway policy check`` and is refused at run time
(fail closed). No resolver builds a scope by hand.

    @scoped(organizations=("row.organization_id",), owner="row.user_id")
    @strawberry.type
    class Membership: ...

``organizations`` names attributes holding an organization id (or a tuple of them: the
organizations an object was reached through); ``owner`` names the user id whose own object it
is (the caller then also holds ``SELF``). ``@scoped()`` declares an object of no organization:
only roles that hold everywhere (health-plan and pseudo-roles) decide it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")
SCOPE_ATTRIBUTE = "__gateway_scope__"
KEPT_SCOPE = "_gateway_node_scope"  # an object's scope, once worked out


class NodeScope(NamedTuple):
    """The organizations an object is seen through, and whether it is the caller's own.

    (A tuple: it is hashed for every field resolved.)"""

    org_ids: tuple[int, ...] = ()
    is_self: bool = False


ROOT_SCOPE = NodeScope()
# An object whose type declares no scope: every field of it is refused (fail closed). No
# organization has the id -1, so this never equals a declared scope.
UNDECLARED = NodeScope((-1,))


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """How one type's objects find their organizations and owner."""

    organizations: tuple[Callable[[Any], Any], ...] = ()
    owner: Callable[[Any], int | None] | None = None

    def scope_of(self, obj: object, user_id: int | None) -> NodeScope:
        """The object's scope, worked out at its first field and kept on it for the rest
        (an object lives within one request, so one caller)."""
        if not self.organizations and self.owner is None:
            return ROOT_SCOPE
        kept: NodeScope | None = obj.__dict__.get(KEPT_SCOPE)
        if kept is None:
            kept = obj.__dict__[KEPT_SCOPE] = self._work_out(obj, user_id)
        return kept

    def organizations_of(self, obj: object) -> tuple[int, ...]:
        return self._work_out(obj, None).org_ids

    def _work_out(self, obj: object, user_id: int | None) -> NodeScope:
        org_ids: tuple[int, ...] = ()
        for get in self.organizations:
            value = get(obj)
            org_ids += value if isinstance(value, tuple) else (value,)
        own = self.owner is not None and user_id is not None and self.owner(obj) == user_id
        return NodeScope(org_ids, own)


def scoped(
    *, organizations: tuple[str, ...] = (), owner: str | None = None
) -> Callable[[type[T]], type[T]]:
    """Declare how objects of the decorated type find their organizations (see module)."""
    rule = ScopeRule(
        tuple(attrgetter(path) for path in organizations),
        None if owner is None else attrgetter(owner),
    )

    def declare(cls: type[T]) -> type[T]:
        setattr(cls, SCOPE_ATTRIBUTE, rule)
        return cls

    return declare


def declared_rule(cls: type) -> ScopeRule | None:
    """The type's declaration (inherited from a base class too), or None."""
    rule = getattr(cls, SCOPE_ATTRIBUTE, None)
    return rule if isinstance(rule, ScopeRule) else None


def declares_scope(cls: type) -> bool:
    """Whether the type declares its scope (a compiled read of one that does not is left to
    the resolvers, which refuse its every field)."""
    return declared_rule(cls) is not None


def organizations_of(obj: object) -> tuple[int, ...]:
    """The organizations ``obj`` is seen through: what an object reached from it inherits
    (a user reached through a membership is seen in the membership's organization)."""
    rule = declared_rule(type(obj))
    return () if rule is None else rule.organizations_of(obj)
