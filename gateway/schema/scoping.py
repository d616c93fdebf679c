"""Mix-ins for types that belong to no organization (catalogs, pagination structure).

The enforcement point reads each object's declared scope (and ``id``); these declare theirs
once for every type built on them.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.authz import scoped


@scoped()
class Unscoped:
    """Readable the same way in every organization (e.g. the role catalog)."""


class Structure(Unscoped):
    """Connections, edges and page info: structure, not data about anyone."""

    id: ClassVar[None] = None
