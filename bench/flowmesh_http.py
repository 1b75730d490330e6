"""FlowMesh HTTP API: stream writes of 100-event batches, next to gRPC, both stores.

One command: ``uv run python bench/flowmesh_http.py [--batches N]``. It starts
one FlowMesh server per store (a SQLite file in a temp dir; the local Redis
under a random key prefix, deleted afterwards) with ``--http-addr``, then, in
rounds that alternate the two edges:

- HTTP: ``POST /api/v1/streams/{tenant}/{namespace}/{name}/events`` with 100
  base64 events of 100 bytes of JSON each (the FlowMesh project's body),
  from 8 concurrent keep-alive connections of a minimal HTTP/1.1 client (a
  load generator in the manner of wrk, so the figure is the server's and not
  a Python client library's);
- gRPC (the anchor, the same server and store): ``client.stream.write`` of the
  same 100 events from 8 concurrent callers.

Each figure is the median of the rounds in events/s. Target: HTTP >= 10,000
events/s on both stores. The last line is ``ratio:``, HTTP over gRPC on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from _harness import line, ratio

from flowmesh import Event, FlowMesh
from mimeia.testing import free_port, run_server

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
BATCH = 100
CONCURRENCY = 8
ROUNDS = 3
TARGET = 10_000.0


def payloads() -> list[bytes]:
    out = []
    for i in range(BATCH):
        doc = json.dumps({"id": f"evt-{i:06d}", "amount": i, "currency": "EUR", "note": "x"})
        out.append(doc.encode().ljust(100, b" "))
    return out


@contextmanager
def server(store_url: str) -> Iterator[tuple[str, str]]:
    port, http_port = free_port(), free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--grpc-addr", f"127.0.0.1:{port}",
            "--http-addr", f"127.0.0.1:{http_port}", "--store", store_url,
            "--log-level", "warning"]  # fmt: skip
    with run_server(argv):
        yield f"127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a body, read the status and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def events_per_second(batches: int, send: Callable[[], Awaitable[None]]) -> float:
    todo = iter(range(batches))

    async def worker() -> None:
        for _ in todo:
            await send()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return batches * BATCH / (time.perf_counter() - began)


async def suite(grpc_endpoint: str, http_base: str, batches: int) -> dict[str, float]:
    raw = payloads()
    body = json.dumps({"events": [{"payload": base64.b64encode(p).decode()} for p in raw]}).encode()
    events = [Event(payload=p) for p in raw]
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    path = f"/api/v1/streams/acme/{ns}/http/events"
    idle = asyncio.Queue[Connection]()
    for _ in range(CONCURRENCY):
        idle.put_nowait(await Connection.open(http_base))
    async with FlowMesh(grpc_endpoint) as client:

        async def over_http() -> None:
            conn = await idle.get()
            try:
                status, answer = await asyncio.wait_for(conn.post(path, body), 30)
            finally:
                idle.put_nowait(conn)
            if status != 200:
                raise RuntimeError(f"HTTP write failed: {status} {answer[:200]!r}")

        async def over_grpc() -> None:
            await client.stream.write("acme", ns, "grpc", events)

        # warm up both edges (connections, resource creation, caches)
        await events_per_second(CONCURRENCY * 2, over_http)
        await events_per_second(CONCURRENCY * 2, over_grpc)
        http_rates, grpc_rates = [], []
        for _ in range(ROUNDS):
            http_rates.append(await events_per_second(batches, over_http))
            grpc_rates.append(await events_per_second(batches, over_grpc))
        written = await client.stream.get_latest_offset("acme", ns, "http") + 1
        expected = (CONCURRENCY * 2 + ROUNDS * batches) * BATCH
        if written != expected:
            raise RuntimeError(f"HTTP stream holds {written} events, expected {expected}")
    while not idle.empty():
        idle.get_nowait().close()
    return {"http": statistics.median(http_rates), "grpc": statistics.median(grpc_rates)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches per round and edge")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        server(f"sqlite:///{Path(tmp) / 'bench.db'}") as (
            grpc_ep,
            http_base,
        ),
    ):
        results["sqlite"] = asyncio.run(suite(grpc_ep, http_base, args.batches))
    prefix = f"benchhttp{uuid.uuid4().hex[:8]}:"
    try:
        with server(f"{REDIS_URL}?prefix={prefix}") as (grpc_ep, http_base):
            results["redis"] = asyncio.run(suite(grpc_ep, http_base, args.batches))
    finally:
        r = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])
    ok = True
    for store, found in results.items():
        line(f"http write 100-event batches ({store})", found["http"], "events/s")
        line(f"grpc write 100-event batches ({store})", found["grpc"], "events/s")
        ok = ok and found["http"] >= TARGET
    print(f"target http >= {TARGET:,.0f} events/s on both stores: {'met' if ok else 'MISSED'}",
          flush=True)  # fmt: skip
    ratio("http/grpc stream write (sqlite)", results["sqlite"]["http"], results["sqlite"]["grpc"],
          target=">= 10,000 events/s over HTTP")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
