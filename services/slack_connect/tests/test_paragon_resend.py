"""The Paragon client never posts a Slack message twice (issue 16, one retry policy).

A real local HTTP server that sleeps past the client's read timeout stands in
for a slow Paragon: the POST may have been applied, so it is not re-sent; a
GET through the same server is. A connection that was never made (nothing
listening yet) is retried, and the message is posted once the server is up.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from common_core.retry import RetryPolicy
from mimeia.testing import free_port
from slack_connect.paragon import (
    ParagonClient,
    ParagonOutcomeUnknown,
    ParagonUnavailable,
    UserTokenSigner,
)

pytestmark = pytest.mark.integration

PROJECT_ID = "2f1c7f3e-6f00-4c6b-9d0a-5a2b1c9e0f11"
RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@dataclass
class Peer:
    port: int
    delay: float = 0.0
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _serve(peer: Peer) -> Iterator[ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with peer.lock:
                peer.seen.append((self.command, body.decode()))
            time.sleep(peer.delay)
            payload = json.dumps({"output": {"ok": True, "ts": "1700000000.000100"}}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", peer.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slow_peer() -> Iterator[Peer]:
    peer = Peer(free_port(), delay=1.5)
    yield from (peer for _ in _serve(peer))


def _client(keys: Any, url: str, timeout: float) -> ParagonClient:
    signer = UserTokenSigner(keys.private_pem, audience="paragon-test")
    return ParagonClient(
        PROJECT_ID, signer, api_base=url, trigger_base=url, retry=RETRY, timeout=timeout
    )


MESSAGE = {"channel": "C0123", "text": "deploy finished"}


async def test_a_post_that_timed_out_reading_is_not_sent_again(keys: Any, slow_peer: Peer) -> None:
    async with _client(keys, slow_peer.url, timeout=0.4) as client:
        with pytest.raises(ParagonOutcomeUnknown, match="not re-sent") as info:
            await client.proxy("org-1", "slack", "POST", "chat.postMessage", json_body=MESSAGE)
    await asyncio.sleep(0.2)
    posts = [body for method, body in slow_peer.seen if method == "POST"]
    assert len(posts) == 1 and json.loads(posts[0]) == MESSAGE
    assert info.value.attempts == 1 and info.value.status is None


async def test_a_get_that_timed_out_reading_is_retried(keys: Any, slow_peer: Peer) -> None:
    async with _client(keys, slow_peer.url, timeout=0.4) as client:
        with pytest.raises(ParagonUnavailable) as info:
            await client.proxy("org-1", "slack", "GET", "conversations.list")
    assert not isinstance(info.value, ParagonOutcomeUnknown)
    assert info.value.attempts == RETRY.max_attempts
    assert [m for m, _ in slow_peer.seen] == ["GET"] * RETRY.max_attempts


async def test_a_post_whose_connection_was_refused_is_retried_and_lands_once(
    keys: Any,
) -> None:
    peer = Peer(free_port())
    patient = RetryPolicy(max_attempts=400, base_delay=0.02, max_delay=0.02)
    signer = UserTokenSigner(keys.private_pem, audience="paragon-test")
    client = ParagonClient(
        PROJECT_ID, signer, api_base=peer.url, trigger_base=peer.url, retry=patient, timeout=5
    )
    serving = _serve(peer)

    async def start_later() -> None:
        await asyncio.sleep(0.3)  # the first attempts find nothing listening
        next(serving)

    starter = asyncio.create_task(start_later())
    began = time.monotonic()
    try:
        async with client:
            answer = await client.proxy(
                "org-1", "slack", "POST", "chat.postMessage", json_body=MESSAGE
            )
        await starter
        assert time.monotonic() - began >= 0.3  # it kept trying while nothing listened
        assert answer == {"ok": True, "ts": "1700000000.000100"}
        assert [m for m, _ in peer.seen] == ["POST"]
    finally:
        serving.close()
