"""Webhook fan-out (ours vs a bare httpx loop) and email into the local SMTP sink.

Ours: each event is stored as a message (its own transaction, as the API does),
then delivery loops claim due deliveries from PostgreSQL, sign them (Standard
Webhooks), send them through the SSRF-guarded client, and record every attempt.
Anchor: a bare ``httpx.AsyncClient`` loop POSTing the same JSON with the same
concurrency, no storage, no signing. Both hit the same receiver process, which
measures event-to-receipt latency from a timestamp inside each payload.

Run: ``uv run python bench/delivery_throughput.py`` (10,000 deliveries) or
``--quick`` (2,000). Needs PostgreSQL (DATABASE_URL, default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from _harness import line, percentile, ratio

from automation.db import Database
from automation.models import Tenant
from automation.notifications.smtp import Email, SmtpEmailSender, SmtpSettings
from automation.settings import async_database_url
from automation.webhooks.config import WebhookSettings
from automation.webhooks.delivery import Dispatcher, create_message
from automation.webhooks.models import WebhookEndpoint
from automation.webhooks.sender import WebhookSender
from automation.webhooks.signing import generate_secret
from automation.webhooks.testing import scratch_database
from mimeia.testing import free_port, run_server

HERE = Path(__file__).resolve()


# -- the receiver (runs in its own process) --------------------------------------


def serve_receiver(port: int) -> None:
    """A minimal ASGI receiver: 204 for every POST, latency kept per path."""
    import uvicorn

    latencies: dict[str, list[float]] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        if scope["method"] == "GET":
            payload = json.dumps(latencies.get(scope["path"].removeprefix("/stats"), [])).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": payload})
            return
        now = time.time()
        doc = json.loads(body)
        started = doc["data"]["t0"] if "data" in doc else doc["t0"]
        latencies.setdefault(scope["path"], []).append(now - started)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                            access_log=False, lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.02)
        print(f"receiver listening on http://127.0.0.1:{port}", flush=True)
        await task

    asyncio.run(run())


# -- the two ways of sending ------------------------------------------------------


async def bounded(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await job(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def anchor(url: str, count: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:

        async def post(i: int) -> None:
            response = await client.post(url, json={"t0": time.time(), "i": i})
            response.raise_for_status()

        started = time.perf_counter()
        await bounded(count, concurrency, post)
        return time.perf_counter() - started


async def ours(db_url: str, url: str, count: int, concurrency: int) -> float:
    database = Database(async_database_url(db_url), pool_size=20, max_overflow=10)
    settings = WebhookSettings(allowed_hosts="127.0.0.1/32", max_connections=concurrency)
    async with database.session() as session:
        session.add(Tenant(id="bench", name="bench"))
        session.add(WebhookEndpoint(tenant_id="bench", url=url, secret=generate_secret(),
                                    event_types=["bench.*"]))  # fmt: skip
        await session.commit()
    produced = 0
    delivered = 0

    async def produce(i: int) -> None:
        nonlocal produced
        async with database.session() as session:
            await create_message(session, "bench", "bench.event", {"t0": time.time(), "i": i})
        produced += 1

    async with WebhookSender(settings.address_policy(), max_connections=concurrency) as sender:
        dispatcher = Dispatcher(database, sender, settings, concurrency=concurrency)

        async def deliver_loop() -> None:
            nonlocal delivered
            while delivered < count:
                outcomes = await dispatcher.run_due(limit=concurrency)
                delivered += sum(1 for o in outcomes if o.status == "succeeded")
                if not outcomes:
                    await asyncio.sleep(0.002)

        started = time.perf_counter()
        await asyncio.gather(bounded(count, 8, produce), deliver_loop(), deliver_loop())
        elapsed = time.perf_counter() - started
    await database.dispose()
    return elapsed


async def email_rates(count: int, concurrency: int) -> tuple[float, float]:
    smtp_port, web_port = free_port(), free_port()
    argv = ["python", "-m", "automation.sinks.smtp", "--port", str(smtp_port),
            "--web-port", str(web_port)]  # fmt: skip
    with run_server(argv):
        sender = SmtpEmailSender(SmtpSettings(host="127.0.0.1", port=smtp_port, start_tls=False))

        async def ours_one(i: int) -> None:
            await sender.send(Email(to=["user@example.com"], subject=f"bench {i}",
                                    text="hello", html="<p>hello</p>"))  # fmt: skip

        async def bare_one(i: int) -> None:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@b.dev", "user@example.com", f"bench {i}"
            msg.set_content("hello")
            msg.add_alternative("<p>hello</p>", subtype="html")
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=smtp_port, start_tls=False)

        t = time.perf_counter()
        await bounded(count, concurrency, ours_one)
        ours_rate = count / (time.perf_counter() - t)
        t = time.perf_counter()
        await bounded(count, concurrency, bare_one)
        bare_rate = count / (time.perf_counter() - t)
    return ours_rate, bare_rate


def latencies(base: str, path: str) -> list[float]:
    return list(httpx.get(f"{base}/stats{path}", timeout=30).json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 deliveries, 200 emails")
    parser.add_argument("--deliveries", type=int, default=None)
    parser.add_argument("--emails", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return
    count = args.deliveries or (2_000 if args.quick else 10_000)
    emails = args.emails or (200 if args.quick else 1_000)
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        run_server(["python", str(HERE), "--receiver", str(port)]),
        scratch_database(server) as db_url,
    ):
        anchor_s = asyncio.run(anchor(f"{base}/anchor", count, args.concurrency))
        ours_s = asyncio.run(ours(db_url, f"{base}/ours", count, args.concurrency))
        ours_lat, anchor_lat = latencies(base, "/ours"), latencies(base, "/anchor")
        assert len(ours_lat) == count and len(anchor_lat) == count, "lost deliveries"
        ours_mail, bare_mail = asyncio.run(email_rates(emails, 10))
    print(f"webhook deliveries: {count}, concurrency {args.concurrency}")
    line("anchor httpx loop deliveries/s", count / anchor_s, "/s")
    line("ours (store, claim, sign, send, record)", count / ours_s, "/s")
    for label, samples in (("anchor", anchor_lat), ("ours", ours_lat)):
        ms = [s * 1000 for s in samples]
        print(f"{label} event->receipt latency: p50={percentile(ms, 50):.1f}ms "
              f"p99={percentile(ms, 99):.1f}ms", flush=True)  # fmt: skip
    line("email ours (SmtpEmailSender) msgs/s", ours_mail, "/s")
    line("email bare aiosmtplib msgs/s", bare_mail, "/s")
    ratio("webhook fan-out time", ours_s, anchor_s, higher_is_better=False, target="<= 3")


if __name__ == "__main__":
    main()
