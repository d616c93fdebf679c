"""The fixture world, loaded once per test session into SQLite or PostgreSQL.

``GATEWAY_DATABASE_URL`` picks the database (the README's test command runs the suite once
with each); without it the suite uses a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette

from gateway.data.db import Database, is_sqlite
from gateway.http.app import create_app
from gateway.migrate import upgrade
from gateway.models import Organization, Provider, User
from gateway.seeding import seed_file
from gateway.settings import Environment, Settings
from tests.support import Api, World

WORLD_FILE = Path(__file__).parent / "fixtures" / "world.yaml"

# Cheap argon2id for the suite's hundreds of hashes (production refuses these values).
os.environ.setdefault("GATEWAY_PASSWORD_HASH_TIME_COST", "1")
os.environ.setdefault("GATEWAY_PASSWORD_HASH_MEMORY_KIB", "1024")
# The suite signs in hundreds of times from one address; tests/auth/test_rate_limits.py sets
# tight ones.
os.environ.setdefault("GATEWAY_LOGIN_LIMIT_PER_ACCOUNT", "100000/minute")
os.environ.setdefault("GATEWAY_LOGIN_LIMIT_PER_ADDRESS", "100000/minute")
os.environ.setdefault("GATEWAY_RECOVERY_LIMIT_PER_ADDRESS", "100000/minute")
os.environ.setdefault("GATEWAY_ACTIVATION_LIMIT_PER_ADDRESS", "100000/minute")
os.environ.setdefault("GATEWAY_REGISTRATION_LIMIT_PER_ADDRESS", "100000/minute")
os.environ.setdefault("GATEWAY_OAUTH_LIMIT_PER_CLIENT", "100000/minute")
os.environ.setdefault("GATEWAY_OAUTH_LIMIT_PER_ADDRESS", "100000/minute")


def database_url(tmp_dir: Path) -> str:
    return os.environ.get("GATEWAY_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_dir}/gateway.db"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url(tmp_path_factory.mktemp("db")),
        env=Environment.DEVELOPMENT,
        audit_key="test-audit-key",
    )


async def reset_database(url: str) -> None:
    """Start from an empty schema (PostgreSQL keeps what earlier runs left)."""
    if is_sqlite(url):
        return
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Iterator[Settings]:
    asyncio.run(reset_database(settings.database_url))
    upgrade(settings)
    yield settings


@pytest.fixture(scope="session")
async def world(migrated: Settings) -> World:
    await seed_file(migrated, WORLD_FILE)
    db = Database(migrated.database_url)
    try:
        async with db.session() as session:
            orgs = dict((await session.execute(select(Organization.name, Organization.id))).all())
            users = dict((await session.execute(select(User.username, User.id))).all())
            providers = dict((await session.execute(select(Provider.npi, Provider.id))).all())
        if not db.is_sqlite:
            await analyze(db)
    finally:
        await db.dispose()
    return World(orgs=orgs, users=users, providers=providers)


async def analyze(db: Database) -> None:
    """Give PostgreSQL's planner statistics, as autovacuum would in production (CI's server runs
    without it): never analyzed, its guesses make the caller's statement cross-join every
    organization once the suite has made a few hundred, and concurrent requests time out."""
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


@pytest.fixture
async def db(settings: Settings, world: World) -> AsyncIterator[Database]:
    """A connection pool of the test's own, to arrange and inspect the database directly."""
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings, world: World) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    yield application
    await application.state.runtime.db.dispose()


@pytest.fixture(scope="session")
async def api(app: Starlette, settings: Settings) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield Api(client, settings)
