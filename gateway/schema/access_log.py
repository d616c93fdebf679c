"""Access-log types: why a decision was made (V2)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.caller import NodeScope


@strawberry.type(description="One recorded decision and the policy line that made it")
class AccessDecision:
    decision_id: str
    at: datetime | None
    username: str | None
    organization_id: strawberry.ID | None
    object_type: str | None
    object_id: str | None
    field: str | None
    action: str | None
    decision: str | None
    rule: str | None = strawberry.field(description="The matched policy line; null: default deny")
    node_scope: strawberry.Private[NodeScope]

    @classmethod
    def from_row(
        cls, row: models.AccessLogEntry, request: models.AccessLogRequest
    ) -> AccessDecision:
        org = row.organization_id
        return cls(
            decision_id=f"{request.request_id}:{request.first_index + row.seq - request.first_seq}",
            at=request.at,
            username=request.username,
            organization_id=None if org is None else strawberry.ID(str(org)),
            object_type=row.object_type,
            object_id=row.object_id,
            field=row.field,
            action=row.action,
            decision=row.decision,
            rule=row.rule,
            node_scope=NodeScope(() if org is None else (org,)),
        )
