"""Traces (OpenTelemetry) of each HTTP request and the SQL it runs; off unless configured.

On when ``GATEWAY_OTEL_EXPORTER`` names an exporter, or OTel's standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set: then spans go over OTLP,
configured by OTel's own ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables. Needs
the ``[otel]`` extra. Off, nothing of OpenTelemetry is imported or installed in the app.
Spans carry SQL text with its placeholders (never the values bound to them) and the URL path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from gateway.data import Database
from gateway.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

SERVICE_NAME = "provider-portal-gateway"
OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@dataclass
class Tracing:
    """The app's tracer provider; ``close`` (at shutdown) exports what is left."""

    provider: TracerProvider

    def close(self) -> None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        self.provider.shutdown()


def exporter_name(settings: Settings) -> str | None:
    if settings.otel_exporter:
        return settings.otel_exporter
    return "otlp" if any(os.environ.get(name) for name in OTLP_ENDPOINTS) else None


def install_tracing(app: Starlette, db: Database, settings: Settings) -> Tracing | None:
    """Trace ``app`` (as its outermost middleware) and ``db``'s engine, if configured."""
    name = exporter_name(settings)
    if name is None:
        return None
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        raise RuntimeError(
            "tracing needs the otel extra: pip install 'provider-portal-gateway[otel]'"
        ) from missing
    # OTEL_SERVICE_NAME, when set, names the service; attributes given here would win over it.
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
    # Its declared range ends before SQLAlchemy 2.1, whose engine events it uses unchanged
    # (tests/http/test_tracing.py sees the spans): without skipping the check it does nothing.
    SQLAlchemyInstrumentor().instrument(
        engine=db.engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    return Tracing(provider)


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
