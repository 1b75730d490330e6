"""Overlapping enqueues and acks share round trips (EnqueueBatch / AckBatch),
and each caller still gets its own result or error, on both stores."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from flowmesh import FlowMesh, FlowMeshInvalidArgumentError, FlowMeshNotFoundError
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration
T = "acme"


async def test_overlapping_enqueues_and_acks_each_get_their_own_result(client: FlowMesh, ns: str):
    done = await asyncio.gather(
        *(client.queue.enqueue(T, ns, "q", b"job-%d" % i, headers={"i": str(i)}) for i in range(60))
    )
    assert sorted(seq for _, seq in done) == list(range(1, 61))
    assert len({job_id for job_id, _ in done}) == 60

    jobs = await client.queue.receive(T, ns, "q", max_jobs=100)
    assert sorted(j.payload for j in jobs) == sorted(b"job-%d" % i for i in range(60))
    assert all(j.headers == {"i": j.payload.decode()[4:]} for j in jobs)
    # one unknown id among the acks fails alone
    outcomes = await asyncio.gather(
        *(client.queue.ack(T, ns, "q", j.id) for j in jobs),
        client.queue.ack(T, ns, "q", "0" * 32),
        return_exceptions=True,
    )
    assert outcomes[:-1] == [None] * 60
    assert isinstance(outcomes[-1], FlowMeshNotFoundError)
    assert "0" * 32 in str(outcomes[-1])
    stats = await client.queue.get_stats(T, ns, "q")
    assert (stats.pending_jobs, stats.in_flight_jobs, stats.completed_jobs) == (0, 0, 60)
    assert await client.queue.reserve(T, ns, "q") is None


async def test_overlapping_enqueues_with_one_dedup_id_make_one_job(client: FlowMesh, ns: str):
    done = await asyncio.gather(
        client.queue.enqueue(T, ns, "q", b"first"),
        *(client.queue.enqueue(T, ns, "q", b"same", dedup_id="d1") for _ in range(5)),
    )
    assert len({job_id for job_id, _ in done[1:]}) == 1
    stats = await client.queue.get_stats(T, ns, "q")
    assert stats.pending_jobs == 2


async def test_a_bad_job_in_a_batch_fails_alone(client: FlowMesh, ns: str):
    big = b"x" * (1024 * 1024 + 1)
    outcomes = await asyncio.gather(
        client.queue.enqueue(T, ns, "q", b"ok-0"),
        client.queue.enqueue(T, ns, "q", big),
        client.queue.enqueue(T, ns, "q", b"ok-1", headers={"": "empty key"}),
        client.queue.enqueue(T, ns, "q", b"ok-2"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], FlowMeshInvalidArgumentError)
    assert "payload" in str(outcomes[1])
    assert isinstance(outcomes[2], FlowMeshInvalidArgumentError)
    assert "headers" in str(outcomes[2])
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[3], BaseException)
    jobs = await client.queue.receive(T, ns, "q", max_jobs=10)
    assert sorted(j.payload for j in jobs) == [b"ok-0", b"ok-2"]


async def test_batch_rpcs_check_their_items_and_caps(server: str, ns: str):
    ref = pb.ResourcePath(tenant=T, namespace=ns, resource_type="queue", name="q")
    async with grpc.aio.insecure_channel(server) as channel:
        stub = pb_grpc.QueueServiceStub(channel)
        out = await stub.EnqueueBatch(
            pb.EnqueueBatchRequest(
                resource_path=ref,
                jobs=[
                    pb.EnqueueRequest(payload=b"a"),
                    pb.EnqueueRequest(resource_path=ref, payload=b"b"),
                ],
            )
        )
        assert out.status.code == 0
        assert out.results[0].status.code == 0 and out.results[0].seq == 1
        assert out.results[1].status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "jobs[1].resource_path" in out.results[1].status.message

        acked = await stub.AckBatch(
            pb.AckBatchRequest(resource_path=ref, job_ids=["", "x" * 65, "f" * 32])
        )
        assert [s.code for s in acked.results] == [
            grpc.StatusCode.INVALID_ARGUMENT.value[0],
            grpc.StatusCode.INVALID_ARGUMENT.value[0],
            grpc.StatusCode.NOT_FOUND.value[0],
        ]
        assert "job_ids[0]" in acked.results[0].message

        for call, request, field in (
            (stub.EnqueueBatch, pb.EnqueueBatchRequest(resource_path=ref), "jobs"),
            (stub.AckBatch, pb.AckBatchRequest(resource_path=ref, job_ids=["a"] * 101), "job_ids"),
            (stub.AckBatch, pb.AckBatchRequest(job_ids=["a"]), "resource_path"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(request)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (err.value.details() or "")
