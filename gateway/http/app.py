"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.http import graphiql
from gateway.http.body import BodyLimit
from gateway.http.metrics import ACCESS_LOG_BATCHES
from gateway.http.oauth import token_endpoint
from gateway.http.request_log import RequestLog
from gateway.http.tracing import install_tracing
from gateway.http.view import GatewayGraphQL
from gateway.runtime import Runtime
from gateway.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Starlette:
    runtime = Runtime.create(settings or get_settings(), log_metrics=ACCESS_LOG_BATCHES)
    graphql = GatewayGraphQL(runtime)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        """Ready while the access log can be appended to: no answer leaves without it (A2)."""
        if not await runtime.access_log.can_append():
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        with suppress(NotImplementedError, RuntimeError):  # no signals on this platform/thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, runtime.reload_policy)
        tune_garbage_collector(runtime.settings.gc_threshold)
        yield
        # The server runs this once every request has been answered (uvicorn: after SIGTERM,
        # within `gateway serve`'s grace period), so no access-log append loses its database:
        # the batch being written (a cancelled request's included) finishes first.
        await runtime.access_log.close()
        await runtime.db.dispose()
        runtime.limiter.close()
        if application.state.tracing is not None:
            application.state.tracing.close()

    routes: list[BaseRoute] = [
        Route(
            "/graphql",
            BodyLimit(graphql, max_bytes=runtime.settings.max_body_bytes),
            methods=["GET", "POST"],
        ),
        Route("/oauth/token", token_endpoint(runtime), methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    if runtime.settings.is_development:  # GraphiQL's page and assets; production has neither
        routes.append(graphiql.assets())
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(RequestLog)
    app.state.tracing = install_tracing(app, runtime.db, runtime.settings)  # outermost
    app.state.runtime = runtime
    return app


def tune_garbage_collector(threshold: int) -> None:
    """Once started: freeze what start-up made (schema, policy, modules) out of the collector's
    scans, and collect the youngest generation less often. A request makes tens of thousands
    of short-lived objects; at Python's default threshold the collector scans every few
    hundred of them, which cost a quarter to a half of a request's CPU."""
    if threshold:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, *gc.get_threshold()[1:])
