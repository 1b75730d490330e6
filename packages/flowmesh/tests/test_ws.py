"""The /ws live view on both stores: stream tail, stream and queue statistics,
KV changes and replay progress, for writes over gRPC and HTTP alike."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from flowmesh import Event, FlowMesh
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
T = "acme"


@pytest.fixture(scope="module")
def live(
    store_kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_prefix: str,
    serve_cmd: Callable[..., list[str]],
) -> Iterator[tuple[str, str]]:
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ws')}/fm.db"
    else:
        url = f"{redis_url}?prefix={redis_prefix}ws{uuid.uuid4().hex[:6]}:"
    port, http_port = free_port(), free_port()
    with run_server(serve_cmd(port, url, "--http-addr", f"127.0.0.1:{http_port}")):
        yield f"127.0.0.1:{port}", f"127.0.0.1:{http_port}"


async def frame(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    return data


async def subscribe(ws: ClientConnection, *topics: str) -> None:
    await ws.send(json.dumps({"type": "subscribe", "payload": {"topics": list(topics)}}))


async def until(ws: ClientConnection, kind: str, check: Callable[[dict[str, Any]], bool]) -> Any:
    """The payload of the first ``kind`` frame that passes ``check``."""
    while True:
        f = await frame(ws)
        if f["type"] == kind and check(f["payload"]):
            return f["payload"]


async def test_live_views_follow_writes_from_grpc_and_http(live: tuple[str, str], ns: str):
    grpc_endpoint, http_addr = live
    async with (
        FlowMesh(grpc_endpoint) as c,
        httpx.AsyncClient(base_url=f"http://{http_addr}", timeout=10) as http,
        connect(f"ws://{http_addr}/ws") as ws,
    ):
        await c.stream.write(T, ns, "s", [Event(payload=b"before")])
        await subscribe(ws, f"stream.tail.{T}/{ns}/s", f"stream.stats.{T}/{ns}/s",
                        f"queue.stats.{T}/{ns}/q", f"kv.update.{T}/{ns}/kv")  # fmt: skip
        subscribed = set()
        while len(subscribed) < 4:
            f = await frame(ws)
            if f["type"] == "subscribed":
                subscribed.add(f["topic"])

        # the tail pushes only what is written from now on, over either edge
        await c.stream.write(T, ns, "s", [Event(payload=b"grpc")])
        payload = base64.b64encode(b"http").decode()
        await http.post(f"/api/v1/streams/{T}/{ns}/s/events",
                        json={"events": [{"payload": payload}]})  # fmt: skip
        tail = [await until(ws, "stream.message", lambda p: True) for _ in range(2)]
        assert [(base64.b64decode(m["payload"]), m["offset"]) for m in tail] == [
            (b"grpc", 1), (b"http", 2)]  # fmt: skip
        stats = await until(ws, "stream.stats", lambda p: p["messages"] == 3)
        assert stats["latest_offsets"] == [2]

        await http.post(f"/api/v1/queues/{T}/{ns}/q/jobs", json={"payload": "eA=="})
        queued = await until(ws, "queue.stats", lambda p: p["pending_jobs"] == 1)
        assert queued["resource_path"] == f"{T}/{ns}/queue/q"
        job = await c.queue.reserve(T, ns, "q")
        assert job is not None
        await c.queue.ack(T, ns, "q", job.id)
        done = await until(ws, "queue.stats", lambda p: p["completed_jobs"] == 1)
        assert done["in_flight_jobs"] == 0

        await c.kv.set(T, ns, "kv", "k1", b"v")
        await http.delete(f"/api/v1/kv/{T}/{ns}/kv/keys/k1")
        changes = [await until(ws, "kv.update", lambda p: True) for _ in range(2)]
        assert [(ch["op"], ch["key"]) for ch in changes] == [("set", "k1"), ("delete", "k1")]

        # replay progress, through to completion
        session = await c.replay.create(T, ns, "s", "_replay_ws", start_offset=0)
        await subscribe(ws, f"replay.session.{session.session_id}")
        first = await until(ws, "replay.session", lambda p: True)
        assert first["status"] == "created"
        await c.replay.start(session.session_id)
        got = [m.offset async for m in c.stream.subscribe(T, ns, "s", "_replay_ws")]
        assert got == [0, 1, 2]
        final = await until(ws, "replay.session", lambda p: p["status"] == "completed")
        assert final["progress"]["messages_replayed"] == 3

        # a bad topic is answered with an error naming it, the socket stays open
        await subscribe(ws, "nonsense.topic", f"stream.tail.{T}/{ns}/bad name")
        errors = [await until(ws, "error", lambda p: True) for _ in range(2)]
        assert errors[0]["message"].startswith("topic: unknown topic 'nonsense.topic'")
        assert errors[1]["message"].startswith("topic.name:")
        await ws.send("not json")
        assert (await until(ws, "error", lambda p: True))["message"] == "message: is not JSON"
