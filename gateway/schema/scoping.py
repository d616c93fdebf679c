"""Mix-ins for types that belong to no organization (catalogs, pagination structure).

The enforcement point reads ``node_scope`` (and ``id``) off every object it sees; giving these
types class-level values keeps that a plain attribute read.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.authz.scope import ROOT_SCOPE, NodeScope


class Unscoped:
    """Readable the same way in every organization (e.g. the role catalog)."""

    node_scope: ClassVar[NodeScope] = ROOT_SCOPE


class Structure(Unscoped):
    """Connections, edges and page info: structure, not data about anyone."""

    id: ClassVar[None] = None
