"""Traces: configured, a request and the SQL it runs are spans of one trace; off (the default),
nothing of OpenTelemetry is in the app, nor imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette

from gateway.auth.tokens import mint_token
from gateway.http import create_app
from gateway.http.tracing import OTLP_ENDPOINTS, exporter_name
from gateway.settings import Settings
from tests.support import World

OTEL_VARIABLES = (*OTLP_ENDPOINTS, "OTEL_SERVICE_NAME")


@pytest.fixture
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def traced(
    settings: Settings, world: World, no_otel_environment: None
) -> AsyncIterator[tuple[Starlette, InMemorySpanExporter]]:
    """An app tracing to the console, and to memory for the test to read."""
    app = create_app(settings.model_copy(update={"otel_exporter": "console"}))
    memory = InMemorySpanExporter()
    app.state.tracing.provider.add_span_processor(SimpleSpanProcessor(memory))
    try:
        yield app, memory
    finally:
        app.state.tracing.close()
        await app.state.runtime.db.dispose()


async def test_a_request_and_its_sql_are_spans_of_one_trace(
    traced: tuple[Starlette, InMemorySpanExporter], settings: Settings
) -> None:
    app, memory = traced
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": "query Mine { me { username } }"},
            headers={"Authorization": f"Bearer {mint_token(settings, 'admin')}"},
        )
    assert response.status_code == 200, response.text
    spans = memory.get_finished_spans()
    [server] = [span for span in spans if span.kind is SpanKind.SERVER]
    sql = [span for span in spans if span.kind is SpanKind.CLIENT and _statement(span)]
    assert server.name == "POST /graphql"
    assert server.resource.attributes["service.name"] == "provider-portal-gateway"
    assert sql, [span.name for span in spans]
    assert {span.context.trace_id for span in sql} == {server.context.trace_id}
    assert any("access_log" in _statement(span) for span in sql)  # the append, traced too


def _statement(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement") or attributes.get("db.query.text") or "")


def test_tracing_is_off_unless_configured(settings: Settings, no_otel_environment: None) -> None:
    app = create_app(settings)
    assert app.state.tracing is None
    assert not [m for m in app.user_middleware if "opentelemetry" in repr(m.cls)]
    engine = app.state.runtime.db.engine.sync_engine
    listeners = list(engine.dispatch.before_cursor_execute)
    assert not [fn for fn in listeners if "opentelemetry" in getattr(fn, "__module__", "")]


def test_off_the_app_does_not_even_import_opentelemetry(settings: Settings) -> None:
    program = (
        "import sys; from gateway.http import create_app; from gateway.settings import Settings; "
        f"create_app(Settings(database_url={settings.database_url!r})); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    env = {k: v for k, v in os.environ.items() if k not in OTEL_VARIABLES}
    env.pop("GATEWAY_OTEL_EXPORTER", None)
    printed = subprocess.run(  # noqa: S603 - our own interpreter and a fixed program
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert printed.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("configured", "environment", "expected"),
    [
        (None, {}, None),
        ("console", {}, "console"),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
    ],
)
def test_an_exporter_is_named_or_otels_endpoint_is_set(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    no_otel_environment: None,
    configured: str | None,
    environment: dict[str, str],
    expected: str | None,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert exporter_name(settings.model_copy(update={"otel_exporter": configured})) == expected
