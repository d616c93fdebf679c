"""Reads of the access log: explaining a decision (V2)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true

from gateway.context import Context
from gateway.errors import NotFound
from gateway.models import AccessLogEntry, AccessLogRequest


def _explainable(context: Context) -> ColumnElement[bool]:
    """The security officer sees every entry; admins only their organizations' (A4, V2)."""
    if context.decide_root("AccessDecision", "rule").allowed:
        return true()
    return AccessLogEntry.organization_id.in_(context.orgs_allowing("AccessDecision", "rule"))


async def decision(context: Context, decision_id: str) -> tuple[AccessLogEntry, AccessLogRequest]:
    """The entry a ``decisionId`` (request id and entry index) names."""
    request_id, _, raw_index = decision_id.partition(":")
    if not raw_index.isdigit() or len(raw_index) > 9:
        raise NotFound("Decision not found")
    index = int(raw_index)
    batch = AccessLogRequest
    async with context.db.session() as session:
        row = (
            await session.execute(
                select(AccessLogEntry, batch)
                .join(batch, batch.first_seq == AccessLogEntry.request_seq)
                .where(
                    batch.request_id == request_id,
                    batch.first_index <= index,
                    batch.first_index + batch.entry_count > index,
                    AccessLogEntry.seq == batch.first_seq + index - batch.first_index,
                    _explainable(context),
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFound("Decision not found")
    return row[0], row[1]
