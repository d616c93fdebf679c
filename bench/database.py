"""The benchmark database: (re)create it, migrate it, bulk-load a world into it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from scenarios import Identities
from world import COLUMNS, DASHBOARD_ORG_ID, World

HEAD_GENESIS = (1, 0, bytes(32))  # the access_log_head row the migration inserts
SERIAL_TABLES = ("organizations", "users", "tax_ids", "providers", "memberships", "agency_grants")


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    name: str = "gateway_bench"

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database or self.name}"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.name}"


@asynccontextmanager
async def connect(db: BenchDatabase, database: str | None = None) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(db.dsn(database))
    try:
        yield connection
    finally:
        await connection.close()


async def recreate(db: BenchDatabase) -> None:
    """Drop and create the database, from the server's maintenance database."""
    async with connect(db, "postgres") as connection:
        await connection.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{db.name}"')


async def exists(db: BenchDatabase) -> bool:
    async with connect(db, "postgres") as connection:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.name)
    return found is not None


def gateway_command() -> list[str]:
    """The ``gateway`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "gateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


def gateway_env(db: BenchDatabase, **overrides: str) -> dict[str, str]:
    """This process's environment without any GATEWAY_ setting but the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=db.sqlalchemy_url, GATEWAY_ENV="development")
    env.update(overrides)
    return env


def migrate(db: BenchDatabase) -> None:
    subprocess.run([*gateway_command(), "migrate"], env=gateway_env(db), check=True)  # noqa: S603


async def load(db: BenchDatabase, world: World) -> None:
    """COPY every table in foreign-key order, move the id sequences past the copied ids."""
    async with connect(db) as connection:
        async with connection.transaction():
            for table, columns in COLUMNS.items():
                if rows := world.rows[table]:
                    await connection.copy_records_to_table(table, records=rows, columns=columns)
            for table in SERIAL_TABLES:
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        await connection.execute("ANALYZE")


async def access_log_head(db: BenchDatabase) -> tuple[int, int, bytes]:
    async with connect(db) as connection:
        row = await connection.fetchrow("SELECT id, seq, hash FROM access_log_head")
    if row is None:
        raise RuntimeError("access_log_head has no row: was the database migrated?")
    return row["id"], row["seq"], row["hash"]


async def log_bytes(db: BenchDatabase, after_seq: int, through_seq: int) -> int:
    """Bytes the access log stores for entries ``after_seq`` < seq <= ``through_seq`` and
    their requests' rows (PostgreSQL's own row sizes, indexes not counted)."""
    async with connect(db) as connection:
        entries = await connection.fetchval(
            "SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM access_log e"
            " WHERE seq > $1 AND seq <= $2", after_seq, through_seq)
        requests = await connection.fetchval(
            "SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM access_log_requests r"
            " WHERE first_seq > $1 AND first_seq <= $2", after_seq, through_seq)
    return int(entries) + int(requests)


async def identities(db: BenchDatabase) -> Identities:
    """The dashboard org's first active account admin and the payer auditor."""
    async with connect(db) as connection:
        admin = await connection.fetchval(
            "SELECT u.username FROM memberships m"
            " JOIN membership_roles r ON r.membership_id = m.id"
            " JOIN users u ON u.id = m.user_id"
            " WHERE m.organization_id = $1 AND m.status = 'ACTIVE' AND u.status = 'ACTIVE'"
            " AND r.role = 'ACCOUNT_ADMIN' ORDER BY m.id LIMIT 1",
            DASHBOARD_ORG_ID,
        )
        auditor = await connection.fetchval(
            "SELECT u.username FROM payer_roles p JOIN users u ON u.id = p.user_id"
            " WHERE p.role = 'PAYER_AUDITOR' AND u.status = 'ACTIVE' ORDER BY u.id LIMIT 1"
        )
    if admin is None or auditor is None:
        raise RuntimeError("bench database lacks the dashboard admin or the auditor; rebuild it")
    return Identities(dashboard_admin=admin, auditor=auditor)
