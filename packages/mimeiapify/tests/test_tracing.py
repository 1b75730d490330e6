"""The connectors' transports (requests for sync clients, aiohttp for async ones) send
each request in a client span and carry its ``traceparent``; the httpx transports of
mimeia_telemetry (mesh client, Paragon client) do the same. Real servers, tracing on in
a child process configured by ``OTEL_*`` only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import aiohttp, httpx, requests
    from mimeia_telemetry import tracing
    from mimeia_telemetry.httpx import async_transport, sync_transport
    from mimeiapify._drivers import _send_async, _send_sync
    from mimeiapify._plan import HttpRequest, HttpResponse

    assert tracing.configure_tracing("connectors")
    url = sys.argv[1]
    parent = {"traceparent": "00-" + sys.argv[2] + "-00f067aa0ba902b7-01"}
    async def main() -> None:
        with tracing.span("caller", parent=parent):
            reply = _send_sync(requests.Session(), HttpRequest("GET", url + "/requests"), 5)
            assert isinstance(reply, HttpResponse) and reply.status == 200, reply
            async with aiohttp.ClientSession() as session:
                reply = await _send_async(session, HttpRequest("POST", url + "/aiohttp"), 5)
                assert isinstance(reply, HttpResponse) and reply.status == 200, reply
            with httpx.Client(transport=sync_transport(), timeout=5) as client:
                assert client.get(url + "/httpx-sync").status_code == 200
            async with httpx.AsyncClient(transport=async_transport(), timeout=5) as client:
                assert (await client.get(url + "/httpx-async?key=secret")).status_code == 200

    asyncio.run(main())
    """
)


@pytest.fixture
def echo() -> Iterator[tuple[str, dict[str, str]]]:
    seen: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            seen[self.path.split("?")[0]] = self.headers.get("traceparent", "")
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _reply

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_every_transport_carries_the_callers_trace(echo: tuple[str, dict[str, str]]) -> None:
    url, seen = echo
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, url, trace_id], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(seen) == {"/requests", "/aiohttp", "/httpx-sync", "/httpx-async"}
    spans = {}
    for chunk in done.stdout.split("\n}\n"):
        if chunk.strip():
            span = json.loads(chunk + "\n}")
            spans[span["context"]["span_id"][2:]] = span
    for path, header in seen.items():
        _, got_trace, got_parent, _ = header.split("-")
        assert got_trace == trace_id, path
        client = spans[got_parent]  # the receiver's parent is the client span itself
        assert client["kind"] == "SpanKind.CLIENT" and client["attributes"]["url.full"].endswith(
            path
        )
        assert "secret" not in client["attributes"]["url.full"]  # query strings stay out
