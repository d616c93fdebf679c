"""Data access: the engine and its sessions, per-request loaders, pagination and ids."""

from gateway.data.db import Database, Timeouts, create_engine, is_sqlite, statement_count
from gateway.data.faults import database_unavailable
from gateway.data.ids import as_id, parse_id, parse_input_ids
from gateway.data.loaders import Loaders, PageKey
from gateway.data.pagination import MAX_SEQ, PageRequest, encode_cursor
from gateway.data.row_scope import RowScope

__all__ = [
    "MAX_SEQ",
    "Database",
    "Loaders",
    "PageKey",
    "PageRequest",
    "RowScope",
    "Timeouts",
    "as_id",
    "create_engine",
    "database_unavailable",
    "encode_cursor",
    "is_sqlite",
    "parse_id",
    "parse_input_ids",
    "statement_count",
]
