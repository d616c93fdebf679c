"""What a gateway process holds for its lifetime: settings, database, schema, policy, log writer."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

import strawberry
from starlette.requests import HTTPConnection

from gateway.audit import AccessLogWriter, BatchLimits, BatchMetrics
from gateway.auth import Authenticator, Limiter
from gateway.authz import PolicyTable, compile_policy
from gateway.data import Database, Timeouts
from gateway.reads import CompiledReads
from gateway.schema import build_schema, schema_fields
from gateway.settings import Settings

logger = logging.getLogger("gateway")
MAX_ADDRESS_LENGTH = 64  # the access log's column


@dataclass
class Runtime:
    settings: Settings
    db: Database
    schema: strawberry.Schema
    policy: PolicyTable
    authenticator: Authenticator
    access_log: AccessLogWriter
    limiter: Limiter  # sign-in and recovery rate limits, shared by this process's requests
    reads: CompiledReads  # read plans, compiled once per document (gateway.reads)

    @classmethod
    def create(cls, settings: Settings, *, log_metrics: BatchMetrics | None = None) -> Runtime:
        """``log_metrics``: where the access log's group commit reports (the app's /metrics)."""
        db = Database(settings.database_url, timeouts=Timeouts.of(settings))
        limits = BatchLimits(
            requests=settings.access_log_batch_requests,
            entries=settings.access_log_batch_entries,
        )
        schema = build_schema(settings)
        return cls(
            settings=settings,
            db=db,
            schema=schema,
            policy=compile_policy(settings, schema_fields(schema)),
            authenticator=Authenticator(settings, db),
            access_log=AccessLogWriter(db, settings.chain_key, limits, log_metrics),
            limiter=Limiter.create(settings),
            reads=CompiledReads(schema._schema, settings, postgresql=not db.is_sqlite),
        )

    def reload_policy(self) -> None:
        """Recompile the policy files (SIGHUP); requests already running keep their table."""
        try:
            self.policy = compile_policy(self.settings, schema_fields(self.schema))
        except Exception:  # a broken file must not take the running gateway down
            logger.exception("policy reload failed; keeping the previous policy")
            return
        logger.info("policy reloaded from %s", self.settings.policy_file)

    def client_address(self, request: HTTPConnection) -> str | None:
        """The peer's address; behind a trusted proxy (GATEWAY_TRUST_FORWARDED_FOR) the last
        X-Forwarded-For hop, the one that proxy appended, if it is an IP address (earlier hops
        are the client's to invent)."""
        peer = request.client.host if request.client else None
        if not self.settings.trust_forwarded_for:
            return peer
        hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
        return _ip_address(hops[-1]) or peer

    def log_failure(self, message: str, request_id: str) -> None:
        logger.exception("%s (request %s)", message, request_id)


def _ip_address(text: str) -> str | None:
    """``text`` as an IP address in its usual spelling, or None if it is not one."""
    try:
        address = str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
    return address if len(address) <= MAX_ADDRESS_LENGTH else None  # an IPv6 zone may be long
