"""The SQL a compiled read sends: JSON built by the database, in either dialect.

Every object is a JSON array (``json_build_array`` / ``json_array``), every list an ordered
aggregate of them (``json_agg`` / ``json_group_array`` over an ordered subquery), so a root
field with everything under it is one statement returning one JSON text. Parameters are
positional (``$n`` / ``?``) and collected in the order the text uses them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Binder = Callable[["Bindings"], Any]  # a parameter's value for one request


@dataclass(frozen=True, slots=True)
class Bindings:
    """What a request binds into a compiled read's parameters."""

    arguments: tuple[Any, ...]  # the operation's argument slots (gateway.reads.plan)
    rows: Any  # gateway.data.RowScope
    user_id: int | None


@dataclass(slots=True)
class Statement:
    """SQL text being written, and the binders of its parameters in order."""

    postgresql: bool
    binders: list[Binder] = field(default_factory=list)
    _aliases: int = 0

    def alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"

    def param(self, binder: Binder, cast: str = "") -> str:
        self.binders.append(binder)
        if self.postgresql:
            return f"${len(self.binders)}{cast}"
        return f"?{len(self.binders)}"  # numbered: the text need not use them in order

    def ids_param(self, binder: Binder) -> str:
        """A set of integer ids as one parameter, for ``in_ids``."""
        if self.postgresql:
            return self.param(lambda b: sorted(binder(b)), "::int[]")
        return self.param(lambda b: "[" + ",".join(map(str, sorted(binder(b)))) + "]")

    def texts_param(self, binder: Binder) -> str:
        if self.postgresql:
            return self.param(lambda b: list(binder(b)), "::text[]")
        return self.param(lambda b: _json_texts(binder(b)))

    def in_set(self, column: str, param: str) -> str:
        """``column`` is one of the set bound to ``param`` (ids_param or texts_param)."""
        if self.postgresql:
            return f"{column} = ANY({param})"
        return f"{column} IN (SELECT value FROM json_each({param}))"

    def array(self, values: list[str]) -> str:
        function = "json_build_array" if self.postgresql else "json_array"
        return f"{function}({', '.join(values)})"

    def nested(self, subquery: str) -> str:
        """A scalar subquery's JSON inside another JSON value (SQLite drops JSON's subtype at a
        subquery's edge, so the text is read as JSON again)."""
        return f"({subquery})" if self.postgresql else f"json(({subquery}))"

    def aggregate(self, value: str, rows: str, alias: str, order: str) -> str:
        """The JSON array of ``value`` over the ordered rows of subquery ``rows``."""
        if self.postgresql:
            return self.nested(
                f"SELECT coalesce(json_agg({value} ORDER BY {alias}.{order}), '[]'::json) "
                f"FROM ({rows}) {alias}"
            )
        return self.nested(f"SELECT json_group_array({value}) FROM ({rows}) {alias}")


def _json_texts(values: Any) -> str:
    return json.dumps(list(values))
