"""Reading by time (the time index) and reading large events: a response is
bounded by bytes as well as count, and says where the next read continues."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from flowmesh import Event, FlowMesh
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.validation import DEFAULT_RESPONSE_BYTES

pytestmark = pytest.mark.integration
T = "acme"
MIB = 1024 * 1024


async def test_read_and_subscribe_from_a_time(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", [Event(payload=b"old%d" % i) for i in range(3)])
    await asyncio.sleep(0.05)
    since = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await client.stream.write(T, ns, "s", [Event(payload=b"new%d" % i) for i in range(2)])
    got = await client.stream.read(T, ns, "s", start_time=since, max_messages=10)
    assert [(m.offset, m.payload) for m in got] == [(3, b"new0"), (4, b"new1")]
    # Times are kept to the millisecond: a start time selects from its millisecond on.
    since_ms = since.replace(microsecond=since.microsecond // 1000 * 1000)
    assert all(m.created_at is not None and m.created_at >= since_ms for m in got)
    assert await client.stream.read(T, ns, "s", start_time=since + timedelta(hours=1)) == []
    early = await client.stream.read(T, ns, "s", start_time=since - timedelta(days=1))
    assert early[0].offset == 0

    async for msg in client.stream.subscribe(T, ns, "s", "g", start_time=since):
        assert msg.offset == 3
        break


async def test_large_events_come_back_in_byte_bounded_pages(client: FlowMesh, server: str, ns: str):
    blob = b"x" * MIB  # the largest payload the server takes
    for start in range(0, 70, 7):  # 70 MiB: more than one gRPC message may carry
        await client.stream.write(
            T, ns, "big", [Event(payload=blob, headers={"n": str(start + k)}) for k in range(7)]
        )
    per_page = DEFAULT_RESPONSE_BYTES // (MIB + 64)
    async with grpc.aio.insecure_channel(server) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        ref = pb.ResourcePath(tenant=T, namespace=ns, resource_type="stream", name="big")
        page = await stub.ReadStream(pb.ReadStreamRequest(resource_path=ref, max_messages=10_000))
        assert page.status.code == 0
        assert [m.offset for m in page.messages] == list(range(per_page))
        assert page.next_offset == per_page and page.ByteSize() <= DEFAULT_RESPONSE_BYTES
        # A caller may ask for less; the first message always comes.
        small = await stub.ReadStream(
            pb.ReadStreamRequest(resource_path=ref, offset=5, max_messages=100, max_bytes=1)
        )
        assert [m.offset for m in small.messages] == [5] and small.next_offset == 6

        frames = stub.Subscribe(
            pb.SubscribeRequest(
                resource_path=ref, consumer_group="g", start_offset=0, max_batch=500
            )
        )
        offsets: list[int] = []
        async for frame in frames:
            assert 1 <= len(frame.messages) <= per_page
            assert frame.ByteSize() <= DEFAULT_RESPONSE_BYTES
            offsets.extend(m.offset for m in frame.messages)
            if offsets[-1] == 69:
                break
        frames.cancel()
        assert offsets == list(range(70))

    # The SDK's read gets the same page; the caller reads on from its last offset.
    got = await client.stream.read(T, ns, "big", offset=60, max_messages=10_000)
    assert [int(m.headers["n"]) for m in got] == list(range(60, 60 + per_page))
    # Drop the 70 MiB again (retention), so the shared Redis does not keep it.
    await client.stream.configure(T, ns, "big", retention_max_messages=1)
    await client.stream.write(T, ns, "big", [Event(payload=b"last")])
