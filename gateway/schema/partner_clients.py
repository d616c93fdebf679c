"""Partner billing systems' OAuth2 clients, as their agency's admins see them (SPEC 1, R11)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import models
from gateway.authz import scoped
from gateway.domain.partner_clients import Credentials


@scoped(organizations=("agency_id",))
@strawberry.type(
    description="A billing agency's software calling the gateway with OAuth2 client credentials "
    "(POST /oauth/token); it sees what the agency's ACTIVE grants show (SPEC 1, R11)"
)
class PartnerClient:
    client_id: str | None = strawberry.field(description="The public client_id")
    name: str | None
    created_at: datetime | None
    secret_rotated_at: datetime | None
    last_used_at: datetime | None = strawberry.field(description="When it last got a token")
    revoked_at: datetime | None
    id: strawberry.Private[str]  # the access log's object id: the client_id
    agency_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.PartnerClient) -> PartnerClient:
        return cls(
            client_id=row.client_id,
            name=row.name,
            created_at=row.created_at,
            secret_rotated_at=row.secret_rotated_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            id=row.client_id,
            agency_id=row.agency_id,
        )


@scoped(organizations=("agency_id",))
@strawberry.type(description="A partner client and its secret: the only time it is shown")
class PartnerClientCredentials:
    client: PartnerClient | None
    client_secret: str | None = strawberry.field(
        description="Send it with the client_id to POST /oauth/token; only its digest is kept, "
        "so a lost secret is rotated, never shown again"
    )
    id: strawberry.Private[str]
    agency_id: strawberry.Private[int]

    @classmethod
    def of(cls, credentials: Credentials) -> PartnerClientCredentials:
        client = PartnerClient.from_row(credentials.client)
        return cls(
            client=client, client_secret=credentials.secret, id=client.id,
            agency_id=client.agency_id,
        )  # fmt: skip
