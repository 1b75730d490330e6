"""Assemble and run a server: settings -> store -> operations -> gRPC services -> signals."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc

from flowmesh._tracing import server_interceptors
from flowmesh.server.auth import Authenticator, parse_tokens
from flowmesh.server.defaults import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STORE, TOKENS_ENV
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


def load_tokens(tokens_file: str | None) -> dict[str, frozenset[str]]:
    """Tokens from ``--tokens-file`` if given, else from ``FLOWMESH_TOKENS``."""
    if tokens_file:
        return parse_tokens(Path(tokens_file).read_text(), source=tokens_file)
    return parse_tokens(os.environ.get(TOKENS_ENV, ""), source=TOKENS_ENV)


def open_store(url: str, redis_prefix: str = "") -> Store:
    """``sqlite:///relative.db``, ``sqlite:////abs.db`` or ``redis://host:port/db[?prefix=p]``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from flowmesh.server.store.sqlite import SqliteStore

        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"--store: sqlite URL needs a path, like {DEFAULT_STORE}")
        return SqliteStore(path)
    if parts.scheme in {"redis", "rediss"}:
        from flowmesh.server.store.redis import RedisStore

        query = parse_qs(parts.query)
        prefix = redis_prefix or query.get("prefix", [""])[0]
        clean = parts._replace(query="").geturl()
        return RedisStore(clean, prefix=prefix)
    raise ValueError(f"--store: unsupported scheme {parts.scheme!r} (use sqlite:/// or redis://)")


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
    auth = Authenticator(settings.tokens)
    metrics = Metrics()
    server = grpc.aio.server(
        interceptors=server_interceptors(),
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ],
    )
    limits = Limits(settings.max_payload_bytes, settings.max_response_bytes)
    ctx = OpsContext(store, limits, metrics, settings.dedup_window_ms, settings.recheck_seconds)
    add_services(server, Operations.build(ctx), auth, metrics)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        await store.close()
        raise OSError(f"cannot listen on {settings.host}:{settings.port}")
    await server.start()
    if settings.metrics_port is not None:
        metrics.serve_http(settings.host, settings.metrics_port)
    if auth.open:
        log.warning("no tokens configured: server is OPEN, any client may access any tenant")
        print(
            f"WARNING: FlowMesh is running OPEN (no tokens from --tokens-file or {TOKENS_ENV}); "
            "any client can read and write every tenant",
            file=sys.stderr,
            flush=True,
        )
    log.info("server started", extra={"store": store.kind, "port": port})
    print(f"listening on {settings.host}:{port}", flush=True)
    if bound is not None:
        bound.append(port)
    if ready is not None:
        ready.set()

    await stop.wait()
    log.info("stopping")
    await server.stop(grace=1.0)
    await store.close()
    log.info("stopped")


def run_server(settings: ServerSettings) -> None:
    asyncio.run(serve(settings))
