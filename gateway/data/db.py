"""The database: one async engine per process, short sessions, a per-request statement count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.jsoncodec import loads

if TYPE_CHECKING:
    from gateway.settings import Settings

# Counts the SQL statements a request runs (bench, /metrics, the N+1 tests).
statement_count: ContextVar[list[int] | None] = ContextVar("statement_count", default=None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a serving gateway waits on its database, in seconds: past these a request
    answers 503 and ``/readyz`` says not ready, instead of hanging with the database."""

    connect: float  # PostgreSQL: opening a connection
    statement: float  # PostgreSQL: one statement, lock waits included
    lock: float  # PostgreSQL: a row or table lock; SQLite: the database's write lock
    pool: float  # a free connection of the pool

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(
            connect=settings.database_connect_timeout_seconds,
            statement=settings.database_statement_timeout_seconds,
            lock=settings.database_lock_timeout_seconds,
            pool=settings.database_pool_timeout_seconds,
        )


def create_engine(url: str, timeouts: Timeouts | None = None) -> AsyncEngine:
    """Create the engine; SQLite gets foreign keys, WAL and a busy timeout. Without
    ``timeouts`` (commands, migrations) work waits as long as it takes."""
    if is_sqlite(url):
        busy = timeouts.lock if timeouts else 30
        # A broken connection is replaced before use: pinging costs no network round trip.
        engine = create_async_engine(
            url,
            connect_args={"timeout": busy},
            pool_pre_ping=True,
            json_deserializer=loads,
            **_pool(timeouts),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        # No pre-ping: asyncpg's costs three round trips on every loader batch. A connection
        # the server ended is replaced at checkout instead, and one that fails in use is
        # discarded with every connection pooled before it (SQLAlchemy's disconnect handling).
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_recycle=1800,
            json_deserializer=loads,
            connect_args=_postgresql_timeouts(timeouts) if timeouts else {},
            **_pool(timeouts),
        )
        event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


def _pool(timeouts: Timeouts | None) -> dict[str, Any]:
    return {"pool_timeout": timeouts.pool} if timeouts else {}


def _postgresql_timeouts(timeouts: Timeouts) -> dict[str, Any]:
    """asyncpg's arguments: the server cancels a statement or a lock wait past its limit;
    the client gives up a second later, when the network itself has stalled."""
    return {
        "timeout": timeouts.connect,
        "command_timeout": timeouts.statement + 1,
        "server_settings": {
            "statement_timeout": _milliseconds(timeouts.statement),
            "lock_timeout": _milliseconds(timeouts.lock),
        },
    }


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))  # 0 would mean "no limit"


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection whose server ended it (its backend terminated, the database
    restarted) is replaced before use: asyncpg already knows, at no round trip."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(
        "PRAGMA synchronous=FULL"
    )  # A2: a committed access-log batch survives power loss
    cursor.close()


def _count_statement(*_args: Any) -> None:
    counter = statement_count.get()
    if counter is not None:
        counter[0] += 1


class Database:
    """The engine and its session factory, created once at start-up."""

    def __init__(self, url: str, *, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.engine = create_engine(url, timeouts)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = is_sqlite(url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A short read session: loaders open one per batch since siblings run concurrently."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def json_reader(self) -> AsyncIterator[JsonReader]:
        """One pooled connection for a compiled read's statements (one per root field)."""
        async with self.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            yield JsonReader(raw, self.is_sqlite)

    async def dispose(self) -> None:
        await self.engine.dispose()


class JsonReader:
    """Runs statements that each return one JSON value (a compiled read's answers) on the
    driver's own connection: no transaction is begun or rolled back around a statement that
    sees one snapshot of the database by itself."""

    def __init__(self, raw: Any, is_sqlite: bool) -> None:
        self._raw = raw
        self._is_sqlite = is_sqlite

    async def fetch(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        """The statement's value, decoded; None when it found no row."""
        counter = statement_count.get()
        if counter is not None:
            counter[0] += 1
        if self._is_sqlite:
            async with self._raw.execute(sql, parameters) as cursor:
                row = await cursor.fetchone()
            value = None if row is None else row[0]
        else:  # SQLAlchemy's asyncpg connections decode JSON already
            value = await self._raw.fetchval(sql, *parameters)
        return loads(value) if isinstance(value, str | bytes) else value
