"""Group commit: the entries of every request waiting at once go to the log in one transaction.

A transaction per request would make every request wait its turn for the chain's head lock and
pay its own commit. Instead one writer per process takes every request waiting at that moment
(up to ``BatchLimits``), appends them under one head lock and one commit, and only then releases
each of them (A2). Requests arriving meanwhile wait for the next batch. Nothing waits to gather
a batch: a request arriving at an idle writer is written at once, and batches grow only while
the database is busy with the one before.

The writer is a task started by the first request that finds it idle; it ends when nobody is
waiting, so there is nothing to start or stop with the application (``close`` lets it finish).
A batch runs in the context of its oldest request: its SQL is traced, and counted
(``statement_count``), as that request's, so a lone request's append is still its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.audit.trail import AuditTrail

logger = logging.getLogger("gateway")


def _ignore(_: float) -> None:
    pass


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """How much one batch may hold (settings ``access_log_batch_*``): a burst is written in
    several transactions, not one huge one. A request with more entries than ``entries`` is
    written in a batch of its own."""

    requests: int
    entries: int


@dataclass(frozen=True, slots=True)
class BatchMetrics:
    """Where the writer reports (Prometheus, in ``gateway.http.metrics``); nowhere by default."""

    batch_requests: Callable[[float], None] = _ignore  # observed once per batch
    waiting: Callable[[float], None] = _ignore  # +1 when a request starts waiting, -1 when done


@dataclass(frozen=True, slots=True)
class _Waiting:
    trail: AuditTrail
    written: asyncio.Future[bool]
    context: contextvars.Context  # the request's (its trace, its statement count)


class GroupCommit:
    """Writes the trails handed to ``write`` in batches, one batch at a time."""

    def __init__(
        self,
        write: Callable[[list[AuditTrail]], Awaitable[None]],
        limits: BatchLimits,
        metrics: BatchMetrics,
    ) -> None:
        self._write = write  # all of a batch in one transaction, or raises and writes nothing
        self._limits = limits
        self._metrics = metrics
        self._queue: deque[_Waiting] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def write(self, trail: AuditTrail) -> bool:
        """True once ``trail``'s batch has committed; False if it could not (then no request
        of the batch may answer with data). A request that stops waiting (its client left) is
        written all the same: what it did happened (A1), and the others' batch goes on."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(trail, loop.create_future(), contextvars.copy_context())
        self._queue.append(waiting)
        self._metrics.waiting(1)
        try:
            if self._writer is None or self._writer.done():
                # Of no request: each batch runs in its oldest request's context instead.
                self._writer = loop.create_task(self._drain(), context=contextvars.Context())
            return await waiting.written
        finally:
            self._metrics.waiting(-1)

    async def close(self) -> None:
        """Let the batch being written, and those waiting, finish (at shutdown)."""
        if self._writer is not None:
            await self._writer

    async def _drain(self) -> None:
        """Batch after batch, until nobody waits."""
        batch: list[_Waiting] = []
        try:
            while self._queue:
                batch = self._next_batch()
                trails = [waiting.trail for waiting in batch]
                written = await asyncio.create_task(self._commit(trails), context=batch[0].context)
                _release(batch, written)
        finally:  # everyone released, unless cancelled (the loop closing): then refused
            _release([*batch, *self._queue], written=False)
            self._queue.clear()

    def _next_batch(self) -> list[_Waiting]:
        """The oldest waiting requests, in order, within the limits (at least one)."""
        batch = [self._queue.popleft()]
        entries = batch[0].trail.entry_count
        while self._queue and len(batch) < self._limits.requests:
            entries += self._queue[0].trail.entry_count
            if entries > self._limits.entries:
                break
            batch.append(self._queue.popleft())
        return batch

    async def _commit(self, trails: list[AuditTrail]) -> bool:
        self._metrics.batch_requests(len(trails))
        try:
            await self._write(trails)
        except Exception:  # A2: the whole batch is refused; the next one tries again
            ids = ", ".join(trail.request_id for trail in trails)
            logger.exception("access log append failed (requests %s)", ids)
            return False
        return True


def _release(batch: list[_Waiting], written: bool) -> None:
    for waiting in batch:
        if not waiting.written.done():  # done: its request stopped waiting
            waiting.written.set_result(written)
