"""The models and the migrations describe one schema: a database migrated to head is what
``gateway/models`` declares, so a model changed without a migration (or the other way round)
fails here rather than in production."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from gateway.data.db import Database
from gateway.models import Base

# Declared for PostgreSQL only (GIN over JSONB); SQLite searches the objects with json_each.
POSTGRESQL_ONLY = {("add_index", "ix_access_log_objects")}


def differences(connection: Connection) -> list[tuple[str, str]]:
    found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [(diff[0], getattr(diff[1], "name", str(diff[1]))) for diff in found]


# SQLite cannot reflect the expression index on lower(username): Alembic says so and skips it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
async def test_the_migrated_schema_is_what_the_models_declare(db: Database) -> None:
    async with db.engine.connect() as connection:
        found = await connection.run_sync(differences)
    expected = POSTGRESQL_ONLY if db.is_sqlite else set()
    assert set(found) == expected
