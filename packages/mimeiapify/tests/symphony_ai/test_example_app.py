"""The example FastAPI app, run as a real server process and driven over HTTP.

Includes the isolation test: 200 concurrent requests for different users, each
running Agency-Swarm tools in the thread pool; every tool must see its own
request's shared state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from mimeia.testing import free_port, run_server
from mimeiapify.symphony_ai.redis import ALIASES


@pytest.fixture(scope="module")
def app_url(redis_url: str, redis_prefix: str) -> Iterator[str]:
    port = free_port()
    db = int(urlsplit(redis_url).path.strip("/") or 0)
    env = {
        "SYMPHONY_REDIS_URL": redis_url,
        # every alias in the harness's database, whose keys it deletes at the end
        "SYMPHONY_REDIS_DBS": json.dumps({alias: db for alias in ALIASES}),
        "SYMPHONY_KEY_PREFIX": f"{redis_prefix}app{uuid.uuid4().hex[:6]}:",
        "SYMPHONY_WORKERS_TOOL": "16",
    }
    argv = ["python", "-m", "mimeiapify.symphony_ai.example_app", "--port", str(port)]
    with run_server(argv, env=env, timeout=60) as server:
        yield f"http://127.0.0.1:{port}"
    assert "Traceback" not in server.log, server.log


def who(tenant: str, user: str) -> dict[str, str]:
    return {"X-Tenant-ID": tenant, "X-User-ID": user}


async def test_two_hundred_concurrent_users_never_see_each_other(app_url: str) -> None:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=app_url, timeout=60, limits=limits) as client:

        async def one(i: int) -> None:
            tenant, user = f"tenant{i % 7}", f"user{i}"
            reply = await client.post(
                "/chat", json={"message": f"msg-{i}"}, headers=who(tenant, user)
            )
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["user_id"] == user
            assert body["turns"] == 1
            assert body["state_seen_by_tool"] == {"last_message": f"msg-{i}", "turns": 1}

        await asyncio.gather(*(one(i) for i in range(200)))
        for i in (0, 57, 199):
            state = await client.get(
                "/state/conversation", headers=who(f"tenant{i % 7}", f"user{i}")
            )
            assert state.json() == {"last_message": f"msg-{i}", "turns": 1}


async def test_replies_stream_to_the_right_user_and_reminders_fire(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as client:
        events: list[dict[str, object]] = []
        other_events: list[dict[str, object]] = []

        async def listen(
            headers: dict[str, str], into: list[dict[str, object]], until: str
        ) -> None:
            async with client.stream("GET", "/events", headers=headers) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith(": subscribed"):
                        subscribed.set()
                    if line.startswith("data: "):
                        into.append(json.loads(line[6:]))
                        if into[-1]["type"] == until:
                            return

        subscribed = asyncio.Event()
        listener = asyncio.create_task(listen(who("acme", "ana"), events, "reminder"))
        await asyncio.wait_for(subscribed.wait(), 10)
        subscribed.clear()
        other = asyncio.create_task(listen(who("acme", "bob"), other_events, "done"))
        await asyncio.wait_for(subscribed.wait(), 10)

        chat = await client.post(
            "/chat", json={"message": "hello there"}, headers=who("acme", "ana")
        )
        assert chat.json()["chunks"] == 4
        armed = await client.post(
            "/reminders", json={"text": "call back", "in_seconds": 1}, headers=who("acme", "ana")
        )
        assert armed.status_code == 201
        await asyncio.wait_for(listener, 15)
        chunks = [{"type": "chunk", "text": w} for w in ("you", "said", "hello", "there")]
        assert events == [*chunks, {"type": "done"}, {"type": "reminder", "text": "call back"}]
        assert not other_events  # bob's stream got nothing of ana's
        other.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await other


async def test_bad_requests_are_refused_clearly(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url, timeout=10) as client:
        no_identity = await client.post("/chat", json={"message": "x"})
        assert no_identity.status_code == 400 and "no shared state" in no_identity.text
        bad_tenant = await client.post("/chat", json={"message": "x"}, headers=who("t", "x" * 5000))
        assert bad_tenant.status_code == 400 and "user_id" in bad_tenant.text
        empty = await client.post("/chat", json={"message": ""}, headers=who("t", "u"))
        assert empty.status_code == 422
        malformed = await client.post(
            "/chat",
            content=b"{not json",
            headers={**who("t", "u"), "content-type": "application/json"},
        )
        assert malformed.status_code == 422
        bad_delay = await client.post(
            "/reminders", json={"text": "x", "in_seconds": 0}, headers=who("t", "u")
        )
        assert bad_delay.status_code == 422 and "in_seconds" in bad_delay.text


async def test_metrics_and_health(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url, timeout=10) as client:
        assert (await client.get("/healthz")).json() == {"redis": True}
        await client.post("/chat", json={"message": "m"}, headers=who("t", "metrics"))
        text = (await client.get("/metrics")).text
        assert 'symphony_pool_queue_length{pool="tool"}' in text
        assert "symphony_loop_lag_seconds" in text
        assert 'symphony_redis_call_seconds_count{command="PIPELINE"}' in text
        assert 'symphony_redis_call_seconds_count{command="HGETALL"}' in text
