"""The objects an access-log entry covers: finding entries by them, and showing a part (A4).

An entry holds ``[id, organization id]`` pairs. ``has_object`` matches an entry holding one
object with an id, an organization or both: containment (``objects @> '[["U", X]]'``) on
PostgreSQL, which its GIN index answers, and json_each on SQLite. An entry may cover objects
of several organizations; ``shown`` is the part of it a search confined to some of them shows
(an admin sees the objects filed under their organization, never the others').
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Boolean, ColumnElement, false, null, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Null
from sqlalchemy.sql.expression import FunctionElement

from gateway.audit.entries import FiledObject
from gateway.models import AccessLogEntry

T = TypeVar("T")


class _HasObject(FunctionElement[bool]):
    """``has_object(objects, pattern, id, organization)``: ``pattern`` is the wanted object as
    JSON containment (PostgreSQL), ``id`` and ``organization`` the same parts one by one,
    null when not wanted (SQLite)."""

    type = Boolean()
    name = "has_object"
    inherit_cache = True


def has_object(object_id: str | None, organization_id: int | None) -> ColumnElement[bool]:
    """The entry covers object ``object_id`` filed under ``organization_id`` (None: any id,
    any organization): one object holding both, not one object each."""
    wanted = [part for part in (object_id, organization_id) if part is not None]
    return _HasObject(
        AccessLogEntry.objects,
        json.dumps([wanted]),
        null() if object_id is None else object_id,
        null() if organization_id is None else organization_id,
    )


@compiles(_HasObject, "postgresql")
def _contained(element: _HasObject, compiler: SQLCompiler, **kw: Any) -> str:
    """``objects @> '[["U", X]]'``: containment of a constant, which the GIN index answers
    (and the planner can estimate)."""
    objects, pattern, *_ = element.clauses
    return f"{compiler.process(objects, **kw)} @> CAST({compiler.process(pattern, **kw)} AS JSONB)"


@compiles(_HasObject)
def _each_held(element: _HasObject, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite: the objects read with json_each (its JSON text has no index)."""
    objects, _, *parts = element.clauses
    tests = " AND ".join(
        f"json_extract(held.value, '$[{place}]') = {compiler.process(part, **kw)}"
        for place, part in enumerate(parts)
        if not isinstance(part, Null)
    )
    held = compiler.process(objects, **kw)
    # Only compiled clauses and bind markers go into the text, never a value.
    return f"EXISTS (SELECT 1 FROM json_each({held}) AS held WHERE {tests})"  # noqa: S608


def filed_under_any(org_ids: frozenset[int]) -> ColumnElement[bool]:
    """The entry has an object filed under one of ``org_ids``."""
    if not org_ids:
        return false()
    return or_(*(has_object(None, org_id) for org_id in sorted(org_ids)))


@dataclass(frozen=True, slots=True)
class Shown:
    """What a search shows of an entry: its objects filed under the organizations searched
    (all of them when the search is not confined), and the one object and organization the
    entry is about, if it is about one."""

    objects: tuple[FiledObject, ...]
    whole: bool  # every object of the entry is shown
    object_id: str | None
    organization_id: int | None


def shown(
    entry: AccessLogEntry, *, within: frozenset[int] | None = None, object_id: str | None = None
) -> Shown:
    """The part of ``entry`` filed under ``within`` (None: all of it). Its object: the one
    searched for (``object_id``), else its only one; its organization: that object's, else
    the one every object shown is filed under."""
    every: list[FiledObject] = [(oid, org) for oid, org in entry.objects]
    objects = tuple(o for o in every if within is None or o[1] in within)
    matched = next((o for o in objects if object_id is not None and o[0] == object_id), None)
    return Shown(
        objects=objects,
        whole=len(objects) == len(every),
        object_id=matched[0] if matched else _only({oid for oid, _ in objects}),
        organization_id=matched[1] if matched else _only({org for _, org in objects}),
    )


def _only(values: set[T]) -> T | None:
    return next(iter(values)) if len(values) == 1 else None
