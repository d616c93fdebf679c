"""A compiled read the database cannot answer in time is answered as the resolvers answer it:
503 UNAVAILABLE with no data, and the root fields it ran are in the access log (A1, A2).

Its statements run on the driver's own connection, so the driver's errors themselves must be
told apart: a database that cannot answer now from a statement that is wrong."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
import pytest

from gateway.data import Database, database_unavailable, is_sqlite
from gateway.settings import Settings
from tests.support import Api, World, app_client, codes
from tests.support.accounts import logged
from tests.support.database import held
from tests.support.reads import compiled_reads_count

HANG_GUARD_SECONDS = 20  # not a timing assertion: without timeouts the request would wait
SUNRISE = "Sunrise Family Practice"
# taxIds reads a table the caller's own statement never touches: only the read waits.
QUERY = "query Faulty($id: ID!) { organization(id: $id) { name taxIds { tin } } roles { code } }"


def _sqlite_busy(tmp_path: Path) -> sqlite3.Error:
    """SQLite's own error for a database another connection holds."""
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0)
    try:
        waiter.execute("SELECT * FROM t")
    except sqlite3.Error as busy:
        return busy
    finally:
        waiter.close()
        holder.close()
    raise AssertionError("the read was not refused")


def _sqlite_missing_table() -> sqlite3.Error:
    try:
        sqlite3.connect(":memory:").execute("SELECT * FROM missing")
    except sqlite3.Error as wrong:
        return wrong
    raise AssertionError("the statement was not refused")


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (asyncpg.exceptions.LockNotAvailableError("lock timeout"), True),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection lost"), True),
        (asyncpg.exceptions.CannotConnectNowError("shutting down"), True),
        (asyncpg.exceptions.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.UndefinedTableError("no such relation"), False),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        ("sqlite busy", True),
        ("sqlite missing table", False),
        (ValueError("not the database's"), False),
    ],
    ids=repr,
)
def test_the_drivers_own_errors_are_told_apart(
    error: BaseException | str, unavailable: bool, tmp_path: Path
) -> None:
    if error == "sqlite busy":
        error = _sqlite_busy(tmp_path)
    elif error == "sqlite missing table":
        error = _sqlite_missing_table()
    assert isinstance(error, BaseException)
    assert database_unavailable(error) is unavailable


def tax_ids_held(db: Database) -> AbstractAsyncContextManager[None]:
    """Another connection holds the tax IDs' table until the block ends: on PostgreSQL an
    exclusive lock that readers wait for; on SQLite the database's write lock."""
    if is_sqlite(db.url):
        return held(db, "UPDATE tax_ids SET tin = tin")
    return held(db, "LOCK TABLE tax_ids IN ACCESS EXCLUSIVE MODE")


async def test_a_compiled_read_the_database_cannot_answer_in_time_is_unavailable_and_logged(
    settings: Settings, world: World, db: Database
) -> None:
    impatient = settings.model_copy(update={"database_lock_timeout_seconds": 0.5})
    async with app_client(impatient) as client:
        api = Api(client, settings)
        compiled_before = await compiled_reads_count(api)  # the process's count
        async with tax_ids_held(db):
            response = await asyncio.wait_for(
                api.post(QUERY, as_user="admin", variables={"id": world.org(SUNRISE)}),
                HANG_GUARD_SECONDS,
            )
        assert await compiled_reads_count(api) == compiled_before + 1
    roots = {
        (e.entry.field, e.entry.decision, len(e.entry.objects))
        for e in await logged(db, response)
        if e.entry.object_type == "Query"
    }
    assert (response.status_code, codes(response.json())) == (503, ["UNAVAILABLE"])
    assert response.json()["data"] is None
    if is_sqlite(db.url):
        # A read does not wait for SQLite's writer, but the log's append does, and gives up:
        # then nothing leaves and nothing was written (A2).
        assert roots == set()
        assert "access log" in response.json()["errors"][0]["message"]
    else:
        assert roots == {("organization", "allow", 1), ("roles", "allow", 1)}
        assert "database" in response.json()["errors"][0]["message"]
