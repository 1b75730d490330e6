"""Assemble and run a server: settings -> store -> operations -> gRPC services -> signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc

from flowmesh.server.auth import Authenticator, parse_tokens
from flowmesh.server.defaults import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STORE,
    TOKENS_ENV,
    parse_addr,
)
from flowmesh.server.grpc_api import add_services
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations, OpsContext
from flowmesh.server.store.base import Store
from flowmesh.server.validation import DEFAULT_RESPONSE_BYTES, Limits

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_STORE",
    "TOKENS_ENV",
    "ServerSettings",
    "load_tokens",
    "open_store",
    "parse_addr",
    "run_server",
    "serve",
]

log = logging.getLogger("flowmesh.server")


@dataclass
class ServerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    store_url: str = DEFAULT_STORE
    tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    max_payload_bytes: int = 1024 * 1024
    max_response_bytes: int = DEFAULT_RESPONSE_BYTES
    dedup_window_ms: int = 300_000
    recheck_seconds: float = 2.0
    metrics_port: int | None = None
    redis_prefix: str = ""
    # The HTTP API and WebSocket (host, port); None: not served.
    http_addr: tuple[str, int] | None = None
    # Refuse every call without a valid token, even when no token exists yet.
    require_auth: bool = False
    auth_refresh_seconds: float = 1.0


def load_tokens(tokens_file: str | None) -> dict[str, frozenset[str]]:
    """Tokens from ``--tokens-file`` if given, else from ``FLOWMESH_TOKENS``."""
    if tokens_file:
        return parse_tokens(Path(tokens_file).read_text(), source=tokens_file)
    return parse_tokens(os.environ.get(TOKENS_ENV, ""), source=TOKENS_ENV)


def open_store(url: str, redis_prefix: str = "") -> Store:
    """``sqlite:///relative.db``, ``sqlite:////abs.db``, ``redis://host:port/db[?prefix=p]``
    or ``redis+cluster://host:port[?prefix=p&replicas=N]`` (any node of a Redis Cluster;
    each write waits for N replicas, default 1)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from flowmesh.server.store.sqlite import SqliteStore

        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"--store: sqlite URL needs a path, like {DEFAULT_STORE}")
        return SqliteStore(path)
    if parts.scheme in {"redis", "rediss", "redis+cluster"}:
        from flowmesh.server.store.redis import RedisStore

        query = parse_qs(parts.query)
        prefix = redis_prefix or query.get("prefix", [""])[0]
        if parts.scheme != "redis+cluster":
            return RedisStore(parts._replace(query="").geturl(), prefix=prefix)
        replicas = query.get("replicas", ["1"])[0]
        if not replicas.isdigit():
            raise ValueError(f"--store: replicas must be a whole number >= 0, got {replicas!r}")
        if parts.path not in ("", "/", "/0"):
            raise ValueError("--store: a Redis Cluster has only database 0")
        node = parts._replace(scheme="redis", query="", path="").geturl()
        return RedisStore(node, prefix=prefix, cluster=True, replicas=int(replicas))
    raise ValueError(
        f"--store: unsupported scheme {parts.scheme!r} "
        "(use sqlite:///, redis:// or redis+cluster://)"
    )


async def serve(
    settings: ServerSettings,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    bound: list[int] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    if stop is None:
        # Installed before anything else, so a SIGTERM at any point stops cleanly.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    store = open_store(settings.store_url, settings.redis_prefix)
    await store.open()
    auth = Authenticator(settings.tokens, store, settings.require_auth,
                         settings.auth_refresh_seconds)  # fmt: skip
    await auth.refresh()
    metrics = Metrics()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ]
    )
    limits = Limits(settings.max_payload_bytes, settings.max_response_bytes)
    ctx = OpsContext(store, limits, metrics, settings.dedup_window_ms, settings.recheck_seconds)
    ops = Operations.build(ctx)
    add_services(server, ops, auth, metrics)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        await store.close()
        raise OSError(f"cannot listen on {settings.host}:{settings.port}")
    http = None
    if settings.http_addr is not None:
        try:
            http = await _start_http(ops, auth, metrics, *settings.http_addr)
        except BaseException:
            await store.close()
            raise
    await server.start()
    refresher = asyncio.create_task(auth.run())
    if settings.metrics_port is not None:
        metrics.serve_http(settings.host, settings.metrics_port)
    if auth.open:
        log.warning("no tokens configured: server is OPEN, any client may access any tenant")
        print(
            f"WARNING: FlowMesh is running OPEN (no tokens in the store, --tokens-file or "
            f"{TOKENS_ENV}, and no --require-auth); any client can read and write every tenant",
            file=sys.stderr,
            flush=True,
        )
    log.info("server started", extra={"store": store.kind, "port": port})
    if http is not None and settings.http_addr is not None:
        print(f"HTTP API at http://{settings.http_addr[0]}:{http[2]}", flush=True)
    print(f"listening on {settings.host}:{port}", flush=True)
    if bound is not None:
        bound.append(port)
    if ready is not None:
        ready.set()

    await stop.wait()
    log.info("stopping")
    refresher.cancel()
    if http is not None:
        http[0].should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(http[1], 5)
    await server.stop(grace=1.0)
    await store.close()
    log.info("stopped")


async def _start_http(
    ops: Operations, auth: Authenticator, metrics: Metrics, host: str, port: int
) -> tuple[Any, asyncio.Task[Any], int]:
    try:
        from flowmesh.server.http_api import build_app, serve_http
    except ImportError as exc:
        raise ValueError(
            "--http-addr needs the server extra: pip install 'mimeia-flowmesh[server]' "
            f"({exc.name} is missing)"
        ) from None
    return await serve_http(build_app(ops, auth, metrics), host, port)


def run_server(settings: ServerSettings) -> None:
    asyncio.run(serve(settings))
