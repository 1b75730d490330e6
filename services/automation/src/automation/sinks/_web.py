"""Shared bits of the sinks' web pages and process lifecycle."""

from __future__ import annotations

import asyncio
import html
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette


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


class _Server(uvicorn.Server):
    # uvicorn re-raises SIGTERM after a graceful stop, which makes the process exit
    # with -15; the sinks handle the signal themselves and exit 0.
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def web_server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server that stops gracefully (exit 0) on SIGTERM or SIGINT."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, setattr, server, "should_exit", True)
    return server
