"""One request's access-log entries, kept in memory until they are written (A1, A2).

The trail sits on the hot path (one ``record`` per resolved field), so it keeps a reference to
the request's memoized ``Entry`` plus the object id, and counts repeats instead of adding rows.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit.entries import Entry, header_bytes, storable
from gateway.audit.events import AccountEvent


@dataclass(slots=True)
class AuditTrail:
    """What one request did. ``record`` is how anything enters the access log.

    A read request is written once, before its response. A mutation writes what was recorded
    so far inside its own transaction (so the change and its record commit together) and the
    rest at the end; ``_flushed`` counts the entries already written, so decision ids (request
    id and entry index) stay unique across the request's batches.
    """

    request_id: str
    at: datetime
    user_id: int | None
    username: str | None
    client_address: str | None
    operation: str | None = None
    # One row per distinct (entry, object id); ``executions`` counts repeats.
    _rows: list[tuple[Entry, str | None]] = field(default_factory=list)
    _executions: list[int] = field(default_factory=list)
    _index: dict[tuple[Entry, str | None], int] = field(default_factory=dict)
    _flushed: int = 0
    changes_committed: bool = False  # a transaction of this request committed (a change)
    _asides: int = 0

    def record(self, entry: Entry, object_id: str | None) -> int:
        """Count one execution of ``entry`` on ``object_id``; return its index in this request
        (a decision id names it)."""
        key = (entry, object_id)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self._rows)
            self._rows.append(key)
            self._executions.append(1)
        else:
            self._executions[index] += 1
        return self._flushed + index

    def aside(self, name: str) -> AuditTrail:
        """A trail of this request for entries that must commit with a change made before the
        request's own entries can be (an attempt counted before its password is checked): the
        request's client and operation, nobody signed in, a request id of its own."""
        self._asides += 1
        return AuditTrail(
            request_id=f"{self.request_id}-{name}-{self._asides}",
            at=self.at,
            user_id=None,
            username=None,
            client_address=self.client_address,
            operation=self.operation,
        )

    @property
    def entry_count(self) -> int:
        """Entries recorded and not yet written."""
        return len(self._rows)

    def record_event(
        self,
        event: AccountEvent,
        user_id: int | None,
        organization_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Record an account event about user ``user_id`` (the entry's object)."""
        self.record(event.entry(organization_id, detail), None if user_id is None else str(user_id))

    def amend(self, index: int, entry: Entry) -> None:
        """The execution recorded at ``index`` ended otherwise than it was decided (a rule
        refused it, or its input was refused): it is recorded as ``entry`` instead (A1: the
        log says what really happened). Already written, the outcome is added beside it."""
        position = index - self._flushed
        if not 0 <= position < len(self._rows):
            self.record(entry, None)
            return
        decided, object_id = self._rows[position]
        if self._executions[position] > 1:  # other executions kept the decision
            self._executions[position] -= 1
            self.record(entry, object_id)
            return
        self._index.pop((decided, object_id), None)
        self._rows[position] = (entry, object_id)
        self._index.setdefault((entry, object_id), position)

    def decision_id(self, index: int) -> str:
        return f"{self.request_id}:{index}"

    def signed_in_as(self, user_id: int, username: str) -> None:
        """From here on the request is this user's: a sign-in says who signed in (A1)."""
        self.user_id, self.username = user_id, username

    def mark_written(self) -> None:
        """The recorded entries are durable: start the request's next batch."""
        self._flushed += len(self._rows)
        self._rows.clear()
        self._executions.clear()
        self._index.clear()

    def request_row(self, first_seq: int) -> tuple[Any, ...]:
        """The request's own row, in ``REQUEST_COLUMNS`` order."""
        return (
            first_seq, len(self._rows), self.request_id, self._flushed, self.at, self.user_id,
            storable(self.username, 64), storable(self.operation, 200),
            storable(self.client_address, 64),
        )  # fmt: skip

    def chained(
        self, key: bytes, request: tuple[Any, ...], previous: bytes
    ) -> list[tuple[Any, ...]]:
        """The entries, in ``ENTRY_COLUMNS`` order, each hashed onto the one before."""
        header, first_seq = header_bytes(request), request[0]
        digest, records, hmac_digest = previous, [], hmac.digest
        for seq, (entry, object_id), executions in zip(
            range(first_seq, first_seq + len(self._rows)), self._rows, self._executions, strict=True
        ):
            # chain_hash(entry_bytes(...)) written out: this loop runs once per entry.
            oid = object_id.encode() if object_id else b""
            message = b"%b%b%d\x1f%d\x1f%b\x1f%b" % (
                digest,
                header,
                seq,
                executions,
                oid,
                entry.tail,
            )
            digest = hmac_digest(key, message, "sha256")
            records.append((seq, first_seq, object_id, executions, *entry.columns, digest))
        return records
