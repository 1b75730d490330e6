"""Shared bits of the sinks' web pages and process lifecycle."""

from __future__ import annotations

import asyncio
import html
import signal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104  (names, not a bind)


def page(title: str, headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A small self-refreshing HTML table; every cell is escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<meta http-equiv='refresh' content='5'>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top;white-space:pre-wrap}table{border-collapse:collapse}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{len(rows)} message(s)</p>"
        f"<table><tr>{head}</tr>{body}</table></body></html>"
    )


def host_name(header: str) -> str:
    """The name in a Host header, without its port, lower-cased (IPv6 keeps brackets)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end > 0 else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheckMiddleware:
    """Answer 400 unless the Host header names this machine (or an allowed name).

    The sinks hold development mail and SMS and have no login: without this, a web
    page on any site could rebind its DNS name to 127.0.0.1 and read or delete them
    from the developer's browser (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = LOOPBACK_NAMES | {host_name(name) for name in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = next((v for k, v in scope["headers"] if k == b"host"), b"")
            if host_name(header.decode("latin-1")) not in self.allowed:
                body = b"Host not allowed: the sinks answer only to localhost names\n"
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode())]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> list[str]:
    """Names the sink answers to besides loopback: the address it binds (unless
    a wildcard) and the ``--allow-host`` names."""
    own = [] if bind_host.strip().lower() in _WILDCARDS else [
        f"[{bind_host}]" if ":" in bind_host and not bind_host.startswith("[") else bind_host
    ]  # fmt: skip
    return [*own, *extra]


class _Server(uvicorn.Server):
    # uvicorn re-raises SIGTERM after a graceful stop, which makes the process exit
    # with -15; the sinks handle the signal themselves and exit 0.
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def web_server(
    app: Starlette, host: str, port: int, allow_hosts: Iterable[str] = ()
) -> uvicorn.Server:
    """A uvicorn server that stops gracefully (exit 0) on SIGTERM or SIGINT and
    answers only requests whose Host is loopback, its own address or ``allow_hosts``."""
    guarded = HostCheckMiddleware(app, allowed_hosts(host, allow_hosts))
    config = uvicorn.Config(guarded, host=host, port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, setattr, server, "should_exit", True)
    return server
