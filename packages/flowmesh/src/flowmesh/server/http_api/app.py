"""Assemble the Starlette app and run it under uvicorn inside the server's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from flowmesh import __version__
from flowmesh.server.auth import Authenticator
from flowmesh.server.http_api import kv, queues, replay, schemas, streams
from flowmesh.server.http_api.common import JSONResponse, error_response
from flowmesh.server.http_api.openapi import document
from flowmesh.server.http_api.ws import websocket_endpoint
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations
from mimeia_telemetry import tracing
from mimeia_telemetry.asgi import TraceMiddleware

log = logging.getLogger("flowmesh.server")


async def health(request: Request) -> Response:
    """Liveness; open to everyone."""
    return JSONResponse({"status": {"code": 0, "message": "ok"}, "version": __version__})


async def ready(request: Request) -> Response:
    """Readiness: the store answers; open to everyone."""
    store = request.app.state.ops.ctx.store
    try:
        await asyncio.wait_for(store.ping(), timeout=2.0)
    except Exception as exc:
        return JSONResponse({"status": {"code": 14, "message": "not ready", "details": repr(exc)},
                             "ready": False, "store": store.kind}, 503)  # fmt: skip
    return JSONResponse({"status": {"code": 0, "message": "ready"}, "ready": True,
                         "store": store.kind})  # fmt: skip


async def prometheus(request: Request) -> Response:
    """Prometheus metrics (as ``--metrics-port`` serves them); open, like /health."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """This document."""
    return JSONResponse(request.app.state.openapi)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response("NOT_FOUND", f"no route {request.method} {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    response = error_response(
        "INVALID_ARGUMENT", f"method {request.method} is not allowed on {request.url.path}"
    )
    response.status_code = 405
    return response


def build_app(ops: Operations, auth: Authenticator, metrics: Metrics) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        *streams.ROUTES,
        *queues.ROUTES,
        *kv.ROUTES,
        *schemas.ROUTES,
        *replay.ROUTES,
        WebSocketRoute("/ws", websocket_endpoint),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.ops = ops
    app.state.auth = auth
    app.state.metrics = metrics
    app.state.openapi = document(routes)
    if tracing.tracing_enabled():
        # a server span per request continuing the caller's traceparent; with tracing
        # off the app has no tracing layer at all
        app.add_middleware(TraceMiddleware, skip=("/health", "/ready", "/metrics"))
    return app


class _Server(uvicorn.Server):
    """uvicorn inside our loop: the FlowMesh server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(
    app: Starlette, host: str, port: int
) -> tuple[_Server, asyncio.Task[Any], int]:
    """Bind (an OSError when the address is taken) and start serving: the uvicorn
    server (``should_exit = True`` stops it), its task and the bound port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
        server_header=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"HTTP server on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    return server, task, int(sock.getsockname()[1])
