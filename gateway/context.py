"""The per-request context every resolver reads as ``strawberry.Info[Context]``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import AccessLogWriter, AuditTrail
from gateway.auth import Caller, Limiter
from gateway.authz import Decisions
from gateway.data import Database, Loaders, RowScope
from gateway.errors import Unauthenticated
from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class Context:
    """Caller, decisions, loaders and audit trail of one request; never shared between
    requests. Built once, complete, by the GraphQL view (gateway.http)."""

    settings: Settings
    db: Database
    caller: Caller
    authz: Decisions  # the policy's answers for this caller (the enforcement point's memo)
    rows: RowScope  # which rows this caller's reads reach (V1, V4, V5)
    loaders: Loaders
    audit: AuditTrail  # what this request did (A1)
    audit_writer: AccessLogWriter
    limiter: Limiter  # sign-in and recovery rate limits, shared by the process
    request_id: str
    statements: list[int]  # SQL statements run so far (bench, /metrics, the N+1 tests)
    available: bool = True  # False: the caller could not be loaded, so nothing is answered

    @asynccontextmanager
    async def write_transaction(
        self, trail: AuditTrail | None = None
    ) -> AsyncIterator[AsyncSession]:
        """One mutation's transaction (all or nothing), in which what the access log recorded
        so far, this mutation's own decision included, is written too: a change and its
        record commit together (A2). ``trail``: an aside of the request's (AuditTrail.aside)
        instead."""
        async with self.audit_writer.transaction(trail or self.audit) as session:
            yield session

    def signed_in_user_id(self) -> int:
        """The caller's user id; the enforcement point lets only signed-in callers reach a
        mutation that needs one, so this refusal is a second line, not the first."""
        if self.caller.user_id is None:
            raise Unauthenticated("Authentication required")
        return self.caller.user_id


Info = strawberry.Info[Context, None]
