"""What one access-log entry holds, and the bytes its chain hash covers (A1, A3).

An entry is one disclosure of a request: one (type, field, action, decision, rule), with the
objects its executions covered, each filed under the organization the caller acted in for it.
An ``Entry`` is what the enforcement point decides once per (object scope, type, field) and
request, and account events once per event: the entry's columns and the organization its
objects are filed under. The bytes each contributes to its entry's hash are prepared once here.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.jsoncodec import ascii_dumps

REQUEST_COLUMNS = (
    "first_seq", "entry_count", "request_id", "first_index", "at", "user_id", "username",
    "operation", "client_address",
)  # fmt: skip
# The entry's columns; those from "object_type" to "rule" come from its Entry.
ENTRY_COLUMNS = (
    "seq", "request_seq", "objects", "executions", "object_type", "field", "action", "decision",
    "rule", "hash",
)  # fmt: skip
ALLOW, DENY = "allow", "deny"
# Text the log cannot store or hash as it is: control characters (NUL is refused by
# PostgreSQL; the unit separator delimits the hashed columns of entries written one per
# object) and unpaired surrogates (no UTF-8).
UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# An object an entry covers: its id (None: the execution named none) and the organization it
# is filed under (None: none).
FiledObject = tuple[str | None, int | None]


def storable(text: str | None, limit: int) -> str | None:
    """Client-chosen text (an operation name, an id, a username) as the log stores and hashes
    it: what it cannot hold is written as a ``\\uXXXX`` escape, and it is cut to the column."""
    if text is None:
        return None
    if UNSTORABLE.search(text):
        text = UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return text[:limit]


@dataclass(frozen=True, slots=True, eq=False)  # memoized per request: identity is equality
class Entry:
    """What one execution records: its entry's columns, and the organization the object it
    ran on is filed under (each object of an entry keeps its own)."""

    organization_id: int | None
    object_type: str
    field: str
    action: str
    decision: str  # ALLOW or DENY
    rule: str | None
    # This entry's share of its hashed message; equal tails are one entry of the request.
    tail: bytes
    columns: tuple[Any, ...]  # object_type .. rule, in ENTRY_COLUMNS order

    @classmethod
    def of(
        cls,
        *,
        organization_id: int | None,
        object_type: str,
        field: str,
        action: str,
        allowed: bool,
        rule: str | None,
    ) -> Entry:
        decision = ALLOW if allowed else DENY
        columns = (object_type, field, action, decision, rule)
        tail = tail_bytes(*columns)
        return cls(organization_id, object_type, field, action, decision, rule, tail, columns)


def canonical_json(value: Any) -> bytes:
    """One spelling per value (compact, ASCII): what the chain hashes of client text."""
    return ascii_dumps(value)


def tail_bytes(
    object_type: str, field_name: str, action: str, decision: str, rule: str | None
) -> bytes:
    """An entry's columns that do not vary by object, as the end of the JSON array
    ``entry_bytes`` hashes (the rule may hold client text: JSON keeps it unambiguous)."""
    return canonical_json([object_type, field_name, action, decision, rule])[1:-1]


def objects_json(objects: list[FiledObject] | list[list[Any]]) -> bytes:
    """An entry's objects, ``[[id, organization id], ...]`` in first-seen order, as stored
    (SQLite keeps this text) and hashed."""
    return canonical_json(objects)


def entry_bytes(seq: int, executions: int, objects: bytes, tail: bytes) -> bytes:
    """An entry as the JSON array ``[seq, executions, objects, type, field, action, decision,
    rule]``: canonical, and (starting with "[") never the bytes of an entry written one per
    object, which start with its number."""
    return b"[%d,%d,%b,%b]" % (seq, executions, objects, tail)


def per_object_bytes(
    seq: int,
    executions: int,
    object_id: str | None,
    organization_id: int | None,
    columns: tuple[str, str, str, str, str | None],
) -> bytes:
    """An entry written one per object (before migration 0002) as it was hashed: its columns
    joined by the unit separator, which none of them could contain."""
    org = "" if organization_id is None else str(organization_id)
    object_type, field_name, action, decision, rule = columns
    joined = (org, object_type, field_name, action, decision, rule or "")
    return (
        b"%d\x1f%d\x1f%s\x1f" % (seq, executions, (object_id or "").encode())
        + "\x1f".join(joined).encode()
    )


def header_bytes(request: tuple[Any, ...]) -> bytes:
    """A request's columns (``REQUEST_COLUMNS`` order), part of each of its entries' hashes.

    JSON, because some of them (operation name, client address) are client-chosen text."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in request]
    return ascii_dumps(values) + b"\x1e"


def chain_hash(key: bytes, previous: bytes, header: bytes, entry: bytes) -> bytes:
    """HMAC-SHA256 of an entry (with its request's columns) chained to the previous digest."""
    return hmac.digest(key, previous + header + entry, "sha256")
