"""Telling a database that cannot answer now (503, try again) from a request or code that is
wrong (an answer, or an internal error)."""

from __future__ import annotations

import sqlite3

import asyncpg
import sqlalchemy.exc

# PostgreSQL SQLSTATEs of an unavailable database: connection exceptions (08), insufficient
# resources (53), operator intervention: a statement timeout, a shutdown (57), and a lock not
# obtained within lock_timeout (55P03).
UNAVAILABLE_SQLSTATES = ("08", "53", "57", "55P03")
# SQLite primary result codes of an unavailable database file: busy or locked past the busy
# timeout, I/O errors, a full disk, a file that cannot be opened.
UNAVAILABLE_SQLITE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
ALWAYS_UNAVAILABLE = (
    sqlalchemy.exc.InterfaceError,  # the connection broke under the driver
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection in time
    ConnectionError,
    TimeoutError,
)


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` says the database could not be used, not that the statement was wrong:
    raised through SQLAlchemy, or by the driver itself (a compiled read's statements)."""
    if isinstance(error, ALWAYS_UNAVAILABLE):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if error is None:
        return False
    if isinstance(error, asyncpg.InterfaceError):  # the connection is gone, or not usable
        return True
    cause = error.__cause__
    sqlstate = getattr(error, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in UNAVAILABLE_SQLITE_CODES
