"""What one access-log entry holds, and the bytes its chain hash covers (A1, A3).

An ``Entry`` is the part of an entry that does not vary by object: where it was decided
(organization), what (type, field, action), the outcome and the policy line or rule. The
enforcement point makes one per (object scope, type, field) and request; account events make
one per event. The bytes each contributes to its entries' hashes are prepared once here.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REQUEST_COLUMNS = (
    "first_seq", "entry_count", "request_id", "first_index", "at", "user_id", "username",
    "operation", "client_address",
)  # fmt: skip
# The entry's columns; those from "organization_id" to "rule" come from its Entry.
ENTRY_COLUMNS = (
    "seq", "request_seq", "object_id", "executions", "organization_id", "object_type", "field",
    "action", "decision", "rule", "hash",
)  # fmt: skip
ALLOW, DENY = "allow", "deny"
# Text the log cannot store or hash as it is: control characters (NUL is refused by
# PostgreSQL; the unit separator delimits hashed columns) and unpaired surrogates (no UTF-8).
UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


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
    """The columns an entry shares with every other entry of the same decision."""

    organization_id: int | None
    object_type: str
    field: str
    action: str
    decision: str  # ALLOW or DENY
    rule: str | None
    tail: bytes  # this entry's share of each hashed message
    columns: tuple[Any, ...]  # organization_id .. rule, in ENTRY_COLUMNS order

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
        columns = (organization_id, object_type, field, action, decision, rule)
        tail = tail_bytes(*columns)
        return cls(organization_id, object_type, field, action, decision, rule, tail, columns)


def tail_bytes(
    organization_id: int | None,
    object_type: str,
    field_name: str,
    action: str,
    decision: str,
    rule: str | None,
) -> bytes:
    """Entry columns that do not vary by object: numbers and schema or policy names, none of
    which can contain the separator, so a plain join is unambiguous."""
    org = "" if organization_id is None else str(organization_id)
    return "\x1f".join((org, object_type, field_name, action, decision, rule or "")).encode()


def entry_bytes(seq: int, executions: int, object_id: str | None, tail: bytes) -> bytes:
    return b"%d\x1f%d\x1f%s\x1f" % (seq, executions, (object_id or "").encode()) + tail


def header_bytes(request: tuple[Any, ...]) -> bytes:
    """A request's columns (``REQUEST_COLUMNS`` order), part of each of its entries' hashes.

    JSON, because some of them (operation name, client address) are client-chosen text."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in request]
    return json.dumps(values, separators=(",", ":")).encode() + b"\x1e"


def chain_hash(key: bytes, previous: bytes, header: bytes, entry: bytes) -> bytes:
    """HMAC-SHA256 of an entry (with its request's columns) chained to the previous digest."""
    return hmac.digest(key, previous + header + entry, "sha256")
