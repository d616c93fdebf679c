"""One request's access-log entries, kept in memory until they are written (A1, A2).

The trail sits on the hot path (one ``record`` per resolved field), so recording is two
dictionary operations: find the request's entry for the execution's decision (by its ``Entry``
tail) and count the object in it. A page of 50 members is then one entry per field and
decision holding 50 objects, not 50 entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit.entries import (
    Entry,
    FiledObject,
    chain_hash,
    entry_bytes,
    header_bytes,
    objects_json,
    storable,
)
from gateway.audit.events import AccountEvent


@dataclass(slots=True)
class Disclosure:
    """One entry of a request: the columns of the ``Entry`` that opened it, and each object
    (id and organization, in first-seen order) with how many executions covered it."""

    entry: Entry
    index: int  # in the request: a decision id names it
    objects: dict[FiledObject, int]

    @property
    def executions(self) -> int:
        return sum(self.objects.values())


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
    # One entry per (type, field, action, decision, rule): the entries' tails are their keys.
    _rows: list[Disclosure] = field(default_factory=list)
    _index: dict[bytes, Disclosure] = field(default_factory=dict)
    _flushed: int = 0
    changes_committed: bool = False  # a transaction of this request committed (a change)
    _asides: int = 0

    def record(self, entry: Entry, object_id: str | None) -> int:
        """Count one execution of ``entry`` on ``object_id``; return the index of its entry in
        this request (a decision id names it)."""
        disclosure = self._index.get(entry.tail)
        if disclosure is None:
            disclosure = self._open(entry)
        objects, key = disclosure.objects, (object_id, entry.organization_id)
        objects[key] = objects.get(key, 0) + 1
        return disclosure.index

    def record_each(self, entry: Entry, filed: Mapping[FiledObject, int]) -> int:
        """Count executions of ``entry`` on objects decided alike, each filed under the
        entry's organization (``filed``: (object id, organization) -> executions)."""
        disclosure = self._index.get(entry.tail)
        if disclosure is None:
            disclosure = self._open(entry)
        counted = disclosure.objects
        if not counted:
            counted.update(filed)
            return disclosure.index
        for key, times in filed.items():
            counted[key] = counted.get(key, 0) + times
        return disclosure.index

    def _open(self, entry: Entry) -> Disclosure:
        disclosure = Disclosure(entry, self._flushed + len(self._rows), {})
        self._rows.append(disclosure)
        self._index[entry.tail] = disclosure
        return disclosure

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

    def amend(self, index: int, entry: Entry, object_id: str | None) -> None:
        """The execution on ``object_id`` counted in the entry at ``index`` ended otherwise
        than it was decided (a rule refused it, or its input was refused): it is counted in
        ``entry`` instead, object and all (A1: the log says what really happened). Already
        written, the outcome is added beside it."""
        position = index - self._flushed
        if not 0 <= position < len(self._rows):
            self.record(entry, object_id)
            return
        decided = self._rows[position]
        key = (object_id, entry.organization_id)  # the outcome is filed where the decision was
        count = decided.objects.get(key, 0)
        if count > 1:  # other executions on the object kept the decision
            decided.objects[key] = count - 1
        elif count == 1:
            del decided.objects[key]
        if decided.objects or count == 0:
            self.record(entry, object_id)
            return
        # It was the entry's only execution: the outcome takes its place (later entries'
        # indexes may already be given out), beside any entry the outcome already has.
        outcome = self._rows[position] = Disclosure(entry, index, {key: 1})
        if self._index.get(decided.entry.tail) is decided:
            del self._index[decided.entry.tail]
        self._index.setdefault(entry.tail, outcome)

    def decision_id(self, index: int) -> str:
        return f"{self.request_id}:{index}"

    def signed_in_as(self, user_id: int, username: str) -> None:
        """From here on the request is this user's: a sign-in says who signed in (A1)."""
        self.user_id, self.username = user_id, username

    def mark_written(self) -> None:
        """The recorded entries are durable: start the request's next batch."""
        self._flushed += len(self._rows)
        self._rows.clear()
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
        digest, records = previous, []
        for seq, disclosure in enumerate(self._rows, start=first_seq):
            objects, executions = objects_json(list(disclosure.objects)), disclosure.executions
            body = entry_bytes(seq, executions, objects, disclosure.entry.tail)
            digest = chain_hash(key, digest, header, body)
            records.append(
                (seq, first_seq, objects.decode(), executions, *disclosure.entry.columns, digest)
            )
        return records
