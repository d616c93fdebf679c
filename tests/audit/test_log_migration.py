"""Migration 0002: a log written one entry per object becomes entries holding their one object,
and its chain still verifies (A3) and is searched by object and organization (A4).

Each test migrates a SQLite database of its own (the session's database is already at head).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from gateway.audit import (
    AccessLogWriter,
    AuditTrail,
    BatchLimits,
    Entry,
    LogFilter,
    search,
    verify_chain,
)
from gateway.audit.entries import chain_hash, header_bytes, per_object_bytes
from gateway.data.db import Database
from gateway.migrate import downgrade, upgrade
from gateway.models.base import UTCDateTime
from gateway.settings import Settings
from tests.support.database import tampering

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
# (organization id, type, object id, field, action, decision, rule, executions), as 0001 kept them
PER_OBJECT = [
    (3, "User", "42", "email", "read", "allow", "org_reader, User.email, read, allow", 1),
    (None, "Query", None, "me", "read", "deny", None, 2),
    (5, "User", "42", "email", "read", "allow", "org_reader, User.email, read, allow", 1),
]
REQUEST_COLUMNS = (
    "first_seq", "entry_count", "request_id", "first_index", "at", "user_id", "username",
    "operation", "client_address",
)  # fmt: skip
COLUMNS_0001 = (
    "seq", "request_seq", "organization_id", "object_type", "object_id", "field", "action",
    "decision", "rule", "executions", "hash",
)  # fmt: skip
REQUESTS = sa.table(
    "access_log_requests",
    *(sa.column(c, UTCDateTime()) if c == "at" else sa.column(c) for c in REQUEST_COLUMNS),
)
ENTRIES_0001 = sa.table("access_log", *(sa.column(c) for c in COLUMNS_0001))
HEAD = sa.table("access_log_head", sa.column("id"), sa.column("seq"), sa.column("hash"))


@pytest.fixture
async def at_0001(tmp_path: Path) -> AsyncIterator[Settings]:
    """A database at revision 0001 holding one request of ``PER_OBJECT`` entries, chained the
    way 0001's gateway wrote them."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/log.db", audit_key="k")
    await asyncio.to_thread(upgrade, settings, "0001")
    db = Database(settings.database_url)
    try:
        await write_per_object(db, settings.chain_key)
    finally:
        await db.dispose()
    yield settings


async def write_per_object(db: Database, key: bytes) -> None:
    request = (1, len(PER_OBJECT), "before-0002", 0, AT, 7, "ada", "Old", "198.51.100.9")
    header, digest, rows = header_bytes(request), bytes(32), []
    for seq, logged in enumerate(PER_OBJECT, start=1):
        org, object_type, object_id, field, action, decision, rule, executions = logged
        body = per_object_bytes(
            seq, executions, object_id, org, (object_type, field, action, decision, rule)
        )
        digest = chain_hash(key, digest, header, body)
        values = (seq, 1, org, object_type, object_id, field, action, decision, rule)
        rows.append(dict(zip(COLUMNS_0001, (*values, executions, digest), strict=True)))
    async with db.transaction() as session:
        await session.execute(
            sa.insert(REQUESTS), [dict(zip(REQUEST_COLUMNS, request, strict=True))]
        )
        await session.execute(sa.insert(ENTRIES_0001), rows)
        await session.execute(sa.update(HEAD).values(seq=len(rows), hash=digest))


async def found(db: Database, log_filter: LogFilter) -> list[int]:
    async with db.session() as session:
        rows = await search(session, log_filter=log_filter, before_seq=None, limit=10)
    return sorted(entry.seq for entry, _ in rows)


async def append_one(db: Database, key: bytes) -> None:
    """A request of today's gateway: entries by disclosure, on the migrated chain."""
    trail = AuditTrail(
        request_id="after-0002", at=AT, user_id=7, username="ada", client_address=None
    )
    entry = Entry.of(
        organization_id=3, object_type="User", field="email", action="read", allowed=True,
        rule="org_reader, User.email, read, allow",
    )  # fmt: skip
    for object_id in ("42", "43", "42"):
        trail.record(entry, object_id)
    assert await AccessLogWriter(db, key, BatchLimits(requests=1, entries=100)).flush(trail)


async def test_entries_written_per_object_still_verify_and_are_found(at_0001: Settings) -> None:
    await asyncio.to_thread(upgrade, at_0001)
    db = Database(at_0001.database_url)
    try:
        report = await verify_chain(db, at_0001.chain_key)
        assert (report.problem, report.checked) == (None, 3)
        async with db.session() as session:
            objects = (await session.execute(text("SELECT objects FROM access_log"))).scalars()
            assert [str(o).replace(" ", "") for o in objects] == [
                '[["42",3]]',
                "[[null,null]]",
                '[["42",5]]',
            ]
        email = LogFilter(object_type="User", field="email", object_id="42")
        assert await found(db, email) == [1, 3]
        assert await found(db, LogFilter(organization_id=5)) == [3]
        assert await found(db, LogFilter(organization_id=3, object_id="42")) == [1]
        await append_one(db, at_0001.chain_key)
        report = await verify_chain(db, at_0001.chain_key)
        assert (report.problem, report.checked) == (None, 4)
        assert await found(db, email) == [1, 3, 4]
    finally:
        await db.dispose()


@pytest.mark.parametrize("forged", ['[["43",3]]', '[["42",4]]', '[["42",3],["43",3]]'])
async def test_a_migrated_entry_changed_breaks_the_chain(at_0001: Settings, forged: str) -> None:
    await asyncio.to_thread(upgrade, at_0001)
    db = Database(at_0001.database_url)
    try:
        async with tampering(db) as connection:
            await connection.execute(
                text("UPDATE access_log SET objects = :o WHERE seq = 1"), {"o": forged}
            )
        problem = (await verify_chain(db, at_0001.chain_key)).problem
        assert problem is not None and (problem.seq, problem.what) == (1, "changed or out of order")
    finally:
        await db.dispose()


async def test_the_log_stays_append_only_through_the_migration(at_0001: Settings) -> None:
    await asyncio.to_thread(upgrade, at_0001)
    db = Database(at_0001.database_url)
    try:
        for statement in ("UPDATE access_log SET decision = 'allow'", "DELETE FROM access_log"):
            with pytest.raises(Exception, match="append-only"):
                async with db.engine.begin() as connection:
                    await connection.execute(text(statement))
    finally:
        await db.dispose()


async def test_downgrade_restores_one_object_per_entry_until_entries_hold_several(
    at_0001: Settings,
) -> None:
    await asyncio.to_thread(upgrade, at_0001)
    await asyncio.to_thread(downgrade, at_0001, "0001")
    db = Database(at_0001.database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                text("SELECT organization_id, object_id FROM access_log ORDER BY seq")
            )
            assert [tuple(row) for row in rows] == [(3, "42"), (None, None), (5, "42")]
        await asyncio.to_thread(upgrade, at_0001)
        assert (await verify_chain(db, at_0001.chain_key)).problem is None
        await append_one(db, at_0001.chain_key)
    finally:
        await db.dispose()
    with pytest.raises(RuntimeError, match="written by disclosure"):
        await asyncio.to_thread(downgrade, at_0001, "0001")
