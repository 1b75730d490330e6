"""Run an ASGI app the platform's way: bind first, then say ``listening on``.

The socket is bound and listening before the ready line is printed, so a
supervisor (``mimeia up``, a test) that waits for the line can connect at
once. uvicorn handles SIGTERM/SIGINT with a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["bind_socket", "serve_asgi"]


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_asgi(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM; print ``listening on http://HOST:PORT`` when ready."""
    import uvicorn

    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    url = f"http://{host}:{bound_port}"
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False)
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag
            await asyncio.sleep(0.01)
        if server.started:
            (on_ready or _announce)(url)
        await serving

    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then restores the handlers
    # it found and re-raises the signal. With Python's defaults that ends the
    # process "killed by SIGTERM"; with these it ends with exit status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        asyncio.run(run())
    finally:
        sock.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _announce(url: str) -> None:
    print(f"listening on {url}", flush=True)
