"""A database that cannot answer in time is 503 UNAVAILABLE with no data, not an internal
error, and what the request did is still in the access log."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from gateway.auth import mint_token
from gateway.data import Database, is_sqlite
from gateway.settings import Settings
from tests.support import World, app_client, codes
from tests.support.accounts import logged
from tests.support.database import held
from tests.support.factories import make_org

HANG_GUARD_SECONDS = 20  # not a timing assertion: without timeouts the request would wait
UPDATE = """
mutation($org: ID!, $member: ID!) {
  updateMemberAccess(organizationId: $org, membershipId: $member, input: {etools: [CARELON]}) {
    id
  }
}"""


def organization_locked(db: Database, org_id: int) -> AbstractAsyncContextManager[None]:
    """Another connection holds the organization's row (PostgreSQL) or the database's write
    lock (SQLite) until the block ends, as a long transaction elsewhere would."""
    return held(db, "UPDATE organizations SET name = name WHERE id = :id", id=org_id)


async def test_a_change_the_database_cannot_make_in_time_is_unavailable(
    settings: Settings, world: World, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    impatient = settings.model_copy(update={"database_lock_timeout_seconds": 0.5})
    headers = {"Authorization": f"Bearer {mint_token(settings, org.user('ACCOUNT_ADMIN'))}"}
    variables = {"org": str(org.id), "member": str(org.members[org.user("STAFF")])}
    body = {"query": UPDATE, "variables": variables}
    async with app_client(impatient) as client:
        async with organization_locked(db, org.id):
            refused = await asyncio.wait_for(
                client.post("/graphql", json=body, headers=headers), HANG_GUARD_SECONDS
            )
        served = await client.post("/graphql", json=body, headers=headers)
    assert (refused.status_code, codes(refused.json())) == (503, ["UNAVAILABLE"])
    assert refused.json()["data"] is None
    assert "errors" not in served.json()
    if not is_sqlite(db.url):
        # PostgreSQL waited for the organization's row alone: the log could still be written,
        # and says the change was attempted. (SQLite's one write lock held the log too.)
        entries = await logged(db, refused)
        assert [(e.object_type, e.field) for e in entries] == [("Mutation", "updateMemberAccess")]
