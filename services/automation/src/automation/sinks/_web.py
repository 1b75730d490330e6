"""Shared bits of the sinks' web pages and process lifecycle."""

from __future__ import annotations

import asyncio
import html
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104  (names, not a bind)


def console_link(console_path: str) -> str:
    """Where the platform console shows the same inbox (with previews), as a paragraph."""
    if not console_path:
        return ""
    port = os.environ.get("MIMEIA_CONSOLE_PORT", "8000")
    url = html.escape(f"http://127.0.0.1:{port}{console_path}")
    return (f"<p>The platform console (<code>mimeia up</code>) shows this inbox with "
            f"previews and search: <a href='{url}'>{url}</a></p>")  # fmt: skip


def page(
    title: str, headings: Sequence[str], rows: Sequence[Sequence[str]], console_path: str = ""
) -> str:
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
        f"</head><body><h1>{html.escape(title)}</h1>{console_link(console_path)}"
        f"<p>{len(rows)} message(s)</p>"
        f"<table><tr>{head}</tr>{body}</table></body></html>"
    )


MAX_PAGE = 200
PAGE_PARAMS = ("limit", "offset")


class BadParam(ValueError):
    """A query parameter the API refuses; the message names it."""


def bad_param(exc: BadParam) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def page_params(request: Request, default: int = 50) -> tuple[int, int]:
    """``limit`` (1-200) and ``offset`` (0 or more) of a list request."""
    values = []
    for name, low, high, fallback in (("limit", 1, MAX_PAGE, default),
                                      ("offset", 0, 10**9, 0)):  # fmt: skip
        raw = request.query_params.get(name, "")
        if raw == "":
            values.append(fallback)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise BadParam(f"{name}: must be a whole number") from None
        if not low <= value <= high:
            raise BadParam(f"{name}: must be between {low} and {high}")
        values.append(value)
    return values[0], values[1]


def paged(
    request: Request, items: Sequence[dict[str, object]], keys: Iterable[str]
) -> JSONResponse:
    """One page of ``items`` (newest first), each cut down to ``keys``, with the total."""
    try:
        limit, offset = page_params(request)
    except BadParam as exc:
        return bad_param(exc)
    wanted = tuple(keys)
    page = [{k: m.get(k) for k in wanted} for m in items[offset : offset + limit]]
    return JSONResponse({"total": len(items), "offset": offset, "limit": limit, "messages": page})


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
