"""Reads of the access log: explaining a decision (V2)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true

from gateway.context import Context
from gateway.errors import NotFound
from gateway.models import AccessLogEntry


def _explainable(context: Context) -> ColumnElement[bool]:
    """The security officer sees every entry; others only their organizations' (A4, V2)."""
    if context.decide_root("AccessDecision", "rule").allowed:
        return true()
    return AccessLogEntry.organization_id.in_(context.orgs_allowing("AccessDecision", "rule"))


async def decision(context: Context, decision_id: str) -> AccessLogEntry:
    async with context.db.session() as session:
        entry = await session.scalar(
            select(AccessLogEntry).where(
                AccessLogEntry.decision_id == decision_id, _explainable(context)
            )
        )
    if entry is None:
        raise NotFound("Decision not found")
    return entry
