"""Retried writes are stored once (the idempotent producer) and acks may be repeated,
on both stores: the same request sent twice, as a client whose first attempt's
answer was lost sends it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from flowmesh import Event, FlowMesh, FlowMeshInvalidArgumentError, FlowMeshNotFoundError
from flowmesh.proto import flowmesh_pb2 as pb

pytestmark = pytest.mark.integration
T = "acme"


def _path(ns: str, kind: str, name: str) -> pb.ResourcePath:
    return pb.ResourcePath(tenant=T, namespace=ns, resource_type=kind, name=name)


async def test_a_repeated_write_batch_returns_the_first_offsets_and_stores_nothing(
    client: FlowMesh, ns: str
):
    stub = client._stubs().stream
    request = pb.WriteEventsRequest(
        resource_path=_path(ns, "stream", "s"),
        events=[pb.Event(payload=b"a"), pb.Event(payload=b"b")],
        producer_id="p-1",
        producer_seq=7,
    )
    first = await stub.WriteEvents(request)
    again = await stub.WriteEvents(request)
    assert list(first.offsets) == list(again.offsets) == [0, 1]
    # Another sequence number (or another producer) is another write.
    request.producer_seq = 8
    assert list((await stub.WriteEvents(request)).offsets) == [2, 3]
    request.producer_id, request.producer_seq = "p-2", 7
    assert list((await stub.WriteEvents(request)).offsets) == [4, 5]
    stored = await client.stream.read(T, ns, "s", offset=0, max_messages=100)
    assert [m.payload for m in stored] == [b"a", b"b"] * 3


async def test_a_repeated_enqueue_returns_the_first_job_alone_and_in_batches(
    client: FlowMesh, ns: str
):
    stub = client._stubs().queue
    job = pb.EnqueueRequest(
        resource_path=_path(ns, "queue", "q"), payload=b"x", producer_id="p", producer_seq=1
    )
    first = await stub.Enqueue(job)
    again = await stub.Enqueue(job)
    assert (again.job_id, again.seq, again.duplicate) == (first.job_id, first.seq, False)
    batch = pb.EnqueueBatchRequest(
        resource_path=_path(ns, "queue", "q"),
        jobs=[pb.EnqueueRequest(payload=b"%d" % i, producer_id="p", producer_seq=i)
              for i in (1, 2, 3)],
    )  # fmt: skip
    results = (await stub.EnqueueBatch(batch)).results
    retried = (await stub.EnqueueBatch(batch)).results
    assert results[0].job_id == first.job_id  # seq 1 was enqueued alone before
    assert [r.job_id for r in results] == [r.job_id for r in retried]
    stats = await client.queue.get_stats(T, ns, "q")
    assert stats.total_jobs == 3


async def test_the_sdk_numbers_every_write_and_enqueue(client: FlowMesh, ns: str):
    before = client._next_seq()
    offsets = await client.stream.write(T, ns, "s", [Event(payload=b"1")])
    await asyncio.gather(*(client.queue.enqueue(T, ns, "q", b"%d" % i) for i in range(5)))
    # one number for the write batch, one per enqueue (batched on the wire or not)
    assert client._next_seq() == before + 1 + 5 + 1
    assert offsets == [0]
    assert (await client.queue.get_stats(T, ns, "q")).total_jobs == 5


async def test_acking_an_acked_job_succeeds_and_it_is_never_delivered_again(
    client: FlowMesh, ns: str
):
    await client.queue.enqueue(T, ns, "q", b"x")
    job = await client.queue.reserve(T, ns, "q")
    assert job is not None
    await client.queue.ack(T, ns, "q", job.id)
    await client.queue.ack(T, ns, "q", job.id)  # a retry whose first answer was lost
    stub = client._stubs().queue
    batch = await stub.AckBatch(
        pb.AckBatchRequest(resource_path=_path(ns, "queue", "q"), job_ids=[job.id, job.id])
    )
    assert [s.code for s in batch.results] == [0, 0]
    assert await client.queue.reserve(T, ns, "q") is None
    stats = await client.queue.get_stats(T, ns, "q")
    assert stats.completed_jobs == 1
    with pytest.raises(FlowMeshNotFoundError, match="is not in flight"):
        await client.queue.ack(T, ns, "q", "0" * 24)  # never delivered: still an error


async def test_bad_producer_fields_are_refused_naming_the_field(client: FlowMesh, ns: str):
    stream = client._stubs().stream
    queue = client._stubs().queue
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream.WriteEvents(pb.WriteEventsRequest(
            resource_path=_path(ns, "stream", "s"), events=[pb.Event(payload=b"a")],
            producer_id="has space", producer_seq=1))  # fmt: skip
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("producer_id: must be 1-64 characters")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream.WriteEvents(pb.WriteEventsRequest(
            resource_path=_path(ns, "stream", "s"), events=[pb.Event(payload=b"a")],
            producer_seq=3))  # fmt: skip
    assert err.value.details().startswith("producer_seq: is set without producer_id")
    batch = await queue.EnqueueBatch(pb.EnqueueBatchRequest(
        resource_path=_path(ns, "queue", "q"),
        jobs=[pb.EnqueueRequest(payload=b"ok"),
              pb.EnqueueRequest(payload=b"bad", producer_id="p", producer_seq=-1)]))  # fmt: skip
    assert batch.results[0].status.code == 0
    assert batch.results[1].status.message.startswith("jobs[1].producer_seq: must be >= 0")
    with pytest.raises(FlowMeshNotFoundError):  # nothing was written by the refused calls
        await client.stream.get_latest_offset(T, ns, "s")


def test_a_negative_retry_budget_is_refused_naming_it() -> None:
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"^retry_budget: must be >= 0"):
        FlowMesh(retry_budget=-1)
    assert FlowMesh(retry_budget=0).retry_budget == 0.0
    one, other = FlowMesh(), FlowMesh()
    assert one.producer_id != other.producer_id  # every client is its own producer
