"""A receiver down for 10 s, then up again, under a real worker: every one of 500
messages arrives exactly once, soon after the receiver is back (the endpoint's
circuit breaker probes it and drains the backlog instead of waiting for the
retry schedule's 5-minute slot), and while it is down the dead endpoint costs a
few probes, not a request per message."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest

from automation.app import create_app
from automation.runtime import Runtime
from automation.settings import Settings
from automation.webhooks.testing import scratch_database
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = 500
OUTAGE_SECONDS = 10.0


class FlakyReceiver:
    """A receiver that can go away (its port refuses connections) and come back on
    the same port; records when each webhook-id arrived and with which key."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, list[tuple[float, str]]] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.arrivals.setdefault(self.headers["webhook-id"], []).append(
                        (time.time(), self.headers.get("idempotency-key", ""))
                    )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler

    def up(self) -> None:
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server_class(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> int:
        with self.lock:
            return len(self.arrivals)


@pytest.fixture
def outage_env(service_env: dict[str, str], postgres_url: str,
               redis_prefix: str) -> Iterator[dict[str, str]]:  # fmt: skip
    with scratch_database(postgres_url) as url:
        yield {
            **service_env,
            "DATABASE_URL": url,
            "CELERY_KEY_PREFIX": f"{redis_prefix}outage-{uuid.uuid4().hex[:6]}:",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8",
            "SCHEDULER_INTERVAL_SECONDS": "1",
        }


@pytest.fixture
async def api(outage_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**{k.lower(): v for k, v in outage_env.items()})  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 timeout=30) as client:  # fmt: skip
        yield client
    await runtime.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.mark.timeout(240)
async def test_receiver_down_ten_seconds_every_message_arrives_once_soon_after(
    api: httpx.AsyncClient, outage_env: dict[str, str], auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8")  # the API reads it too
    receiver = FlakyReceiver()
    receiver.up()
    created = await api.post("/api/v1/webhooks/endpoints", headers=auth,
                             json={"url": f"http://127.0.0.1:{receiver.port}/hook",
                                   "events": ["order.*"]})  # fmt: skip
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    argv = ["python", "-m", "automation", "worker", "-P", "threads", "-c", "4",
            "-n", f"outage-{uuid.uuid4().hex[:6]}@%h", "--beat", "-l", "INFO"]  # fmt: skip
    posted: dict[str, float] = {}
    slots = asyncio.Semaphore(16)

    async def deliver(n: int) -> None:
        async with slots:
            body = {"event_type": "order.paid", "payload": {"n": n}}
            sent = await api.post("/api/v1/webhooks/deliver", headers=auth, json=body)
        assert sent.status_code == 202, sent.text
        posted[sent.json()["message_id"]] = time.time()

    with run_server(argv, ready_text=" ready.", env=outage_env, timeout=120) as worker:
        receiver.down()
        down_at = time.time()
        posting = asyncio.gather(*(deliver(n) for n in range(MESSAGES)))
        await asyncio.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.time()))
        receiver.up()
        up_at = time.time()
        await posting
        deadline = time.monotonic() + 90
        while receiver.delivered() < MESSAGES and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        log = worker.log
    receiver.down()

    assert receiver.delivered() == MESSAGES, (receiver.delivered(), log[-3000:])
    assert set(receiver.arrivals) == set(posted)
    twice = [m for m, got in receiver.arrivals.items() if len(got) != 1]
    assert not twice, twice[:5]
    conn = await asyncpg.connect(outage_env["DATABASE_URL"], timeout=10)
    try:
        deliveries = {r["message_id"]: r["id"] for r in await conn.fetch(
            "SELECT id, message_id FROM webhook_deliveries WHERE endpoint_id = $1",
            endpoint_id)}  # fmt: skip
        during = await conn.fetchval(
            "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1 AND "
            "created_at < to_timestamp($2)", endpoint_id, up_at)  # fmt: skip
    finally:
        await conn.close()
    # the Idempotency-Key of a delivery is the same on every attempt: the delivery id
    assert all(got[0][1] == deliveries[m] for m, got in receiver.arrivals.items())
    # a dead endpoint costs a few requests (until the circuit opens, then one probe per
    # interval), not one or two per message
    assert during < 50, during
    waits = [got[0][0] - max(up_at, posted[m]) for m, got in receiver.arrivals.items()]
    p50, p99 = statistics.median(waits), _percentile(waits, 0.99)
    print(
        f"\nFAULTS webhooks: receiver down {up_at - down_at:.1f}s, "
        f"{receiver.delivered()}/{MESSAGES} delivered, {len(twice)} twice; "
        f"{sum(1 for t in posted.values() if t < up_at)} sent while it was down; "
        f"attempts while down {during}; time to delivery after recovery "
        f"p50 {p50:.1f}s p99 {p99:.1f}s max {max(waits):.1f}s"
    )
    assert p99 < 30, (p50, p99)
