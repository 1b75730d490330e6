"""Queues on both stores: delay, dedup, visibility, long poll, retries, DLQ, stats."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from flowmesh import (
    FlowMesh,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    RetryPolicy,
)

pytestmark = pytest.mark.integration
T = "acme"
NO_BACKOFF = RetryPolicy(max_attempts=3, initial_backoff=timedelta(0), max_backoff=timedelta(0))


async def test_fifo_with_headers_and_increasing_seq(client: FlowMesh, ns: str):
    ids = [
        await client.queue.enqueue(T, ns, "q", b"j%d" % i, headers={"n": str(i)}) for i in range(5)
    ]
    assert [seq for _, seq in ids] == [1, 2, 3, 4, 5]
    for i in range(5):
        job = await client.queue.reserve(T, ns, "q")
        assert job is not None
        assert (job.id, job.payload, job.headers, job.attempts) == (
            ids[i][0],
            b"j%d" % i,
            {"n": str(i)},
            1,
        )
        await client.queue.ack(T, ns, "q", job.id)
    assert await client.queue.reserve(T, ns, "q") is None
    stats = await client.queue.get_stats(T, ns, "q")
    assert (stats.pending_jobs, stats.in_flight_jobs, stats.completed_jobs) == (0, 0, 5)


async def test_delay_holds_a_job_back(client: FlowMesh, ns: str):
    await client.queue.enqueue(T, ns, "q", b"later", delay=timedelta(seconds=1.5))
    assert await client.queue.reserve(T, ns, "q") is None
    stats = await client.queue.get_stats(T, ns, "q")
    assert (stats.pending_jobs, stats.delayed_jobs) == (0, 1)
    # A long poll wakes when the delayed job falls due.
    job = await client.queue.reserve(T, ns, "q", long_poll_timeout=timedelta(seconds=5))
    assert job is not None and job.payload == b"later"


async def test_dedup_returns_the_first_job_within_the_window(client: FlowMesh, ns: str):
    first = await client.queue.enqueue(T, ns, "q", b"a", dedup_id="order-1")
    again = await client.queue.enqueue(T, ns, "q", b"b", dedup_id="order-1")
    other = await client.queue.enqueue(T, ns, "q", b"c", dedup_id="order-2")
    assert again == first and other != first
    assert (await client.queue.get_stats(T, ns, "q")).pending_jobs == 2
    await asyncio.sleep(2.2)  # the test servers keep dedup ids for 2 s
    after = await client.queue.enqueue(T, ns, "q", b"d", dedup_id="order-1")
    assert after[0] != first[0]


async def test_expired_visibility_makes_a_job_deliverable_again(client: FlowMesh, ns: str):
    job_id, _ = await client.queue.enqueue(T, ns, "q", b"x")
    first = await client.queue.reserve(T, ns, "q", visibility_timeout=timedelta(seconds=1.5))
    assert first is not None and first.attempts == 1
    assert await client.queue.reserve(T, ns, "q") is None
    assert (await client.queue.get_stats(T, ns, "q")).in_flight_jobs == 1
    await asyncio.sleep(1.7)
    second = await client.queue.reserve(T, ns, "q")
    assert second is not None and second.id == job_id and second.attempts == 2


async def test_long_poll_wakes_at_once_and_times_out_empty(client: FlowMesh, ns: str):
    began = time.monotonic()
    assert await client.queue.reserve(T, ns, "q", long_poll_timeout=0.4) is None
    assert time.monotonic() - began >= 0.35

    waiter = asyncio.create_task(client.queue.reserve(T, ns, "q", long_poll_timeout=20))
    await asyncio.sleep(0.3)
    began = time.monotonic()
    await client.queue.enqueue(T, ns, "q", b"wake")
    job = await asyncio.wait_for(waiter, 25)
    assert job is not None and job.payload == b"wake"
    # Woken by the enqueue: the test server re-checks only every 60 s, and the
    # long poll would have run 20 s.
    assert time.monotonic() - began < 15


async def test_batch_receive_up_to_100(client: FlowMesh, ns: str):
    for i in range(120):
        await client.queue.enqueue(T, ns, "q", b"%d" % i)
    jobs = await client.queue.receive(T, ns, "q", max_jobs=100)
    assert [j.payload for j in jobs] == [b"%d" % i for i in range(100)]
    rest = await client.queue.receive(T, ns, "q", max_jobs=100)
    assert len(rest) == 20
    with pytest.raises(FlowMeshInvalidArgumentError, match="max_jobs"):
        await client.queue.receive(T, ns, "q", max_jobs=101)


async def test_nack_retries_with_delay_then_backoff_then_dead_letters(client: FlowMesh, ns: str):
    await client.queue.set_retry_policy(
        T, ns, "q",
        RetryPolicy(max_attempts=3, initial_backoff=timedelta(seconds=1),
                    max_backoff=timedelta(seconds=3), backoff_multiplier=2.0, jitter=0.0),
    )  # fmt: skip
    job_id, _ = await client.queue.enqueue(T, ns, "q", b"flaky", headers={"h": "1"})
    job = await client.queue.reserve(T, ns, "q")
    assert job is not None
    assert await client.queue.nack(T, ns, "q", job.id, delay=0) is False
    job = await client.queue.reserve(T, ns, "q")
    assert job is not None and job.attempts == 2
    # No delay given: the policy's backoff after attempt 2 is 2 s.
    assert await client.queue.nack(T, ns, "q", job.id, error="boom") is False
    assert await client.queue.reserve(T, ns, "q") is None
    assert (await client.queue.get_stats(T, ns, "q")).delayed_jobs == 1
    job = await client.queue.reserve(T, ns, "q", long_poll_timeout=6)
    assert job is not None and job.attempts == 3
    assert await client.queue.nack(T, ns, "q", job.id, error="still broken") is True
    assert await client.queue.reserve(T, ns, "q") is None

    [dead] = await client.queue.list_dlq_jobs(T, ns, "q")
    assert (dead.id, dead.payload, dead.headers, dead.attempts) == (job_id, b"flaky", {"h": "1"}, 3)
    assert dead.original_queue == f"{T}/{ns}/q" and dead.last_error == "still broken"
    assert dead.failed_at is not None
    stats = await client.queue.get_stats(T, ns, "q")
    assert (stats.dlq_jobs, stats.failed_jobs, stats.pending_jobs) == (1, 1, 0)

    new_id, seq = await client.queue.replay_dlq_job(T, ns, "q", job_id)
    assert new_id != job_id and seq == 2
    assert await client.queue.list_dlq_jobs(T, ns, "q") == []
    again = await client.queue.reserve(T, ns, "q")
    assert again is not None and again.payload == b"flaky" and again.attempts == 1
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.replay_dlq_job(T, ns, "q", job_id)


async def test_retry_policy_round_trip_and_validation(client: FlowMesh, ns: str):
    policy = RetryPolicy(
        max_attempts=7,
        initial_backoff=timedelta(seconds=2),
        max_backoff=timedelta(minutes=5),
        backoff_multiplier=3.0,
        jitter=0.5,
    )
    assert await client.queue.set_retry_policy(T, ns, "q", policy) == policy
    assert await client.queue.get_retry_policy(T, ns, "q") == policy
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"policy.max_backoff"):
        await client.queue.set_retry_policy(
            T,
            ns,
            "q",
            RetryPolicy(initial_backoff=timedelta(seconds=10), max_backoff=timedelta(seconds=1)),
        )
    # Defaults for a queue that never set one.
    await client.queue.enqueue(T, ns, "fresh", b"x")
    assert await client.queue.get_retry_policy(T, ns, "fresh") == RetryPolicy()


async def test_ack_and_nack_need_an_in_flight_job(client: FlowMesh, ns: str):
    job_id, _ = await client.queue.enqueue(T, ns, "q", b"x")
    with pytest.raises(FlowMeshNotFoundError, match="not in flight"):
        await client.queue.ack(T, ns, "q", job_id)
    job = await client.queue.reserve(T, ns, "q")
    assert job is not None
    await client.queue.ack(T, ns, "q", job.id)
    await client.queue.ack(T, ns, "q", job.id)  # a repeated ack succeeds (test_idempotence)
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.nack(T, ns, "q", job.id)  # acked jobs are gone
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.nack(T, ns, "q", "0" * 32)
    await asyncio.sleep(2.1)  # past the server's 2 s window an ack is forgotten
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.ack(T, ns, "q", job.id)


async def test_unknown_queues(client: FlowMesh, ns: str):
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.get_stats(T, ns, "missing")
    with pytest.raises(FlowMeshNotFoundError):
        await client.queue.list_dlq_jobs(T, ns, "missing")
    # Workers may start before producers: reserving from nothing is just empty.
    assert await client.queue.reserve(T, ns, "missing") is None


async def test_oldest_pending_age(client: FlowMesh, ns: str):
    await client.queue.enqueue(T, ns, "q", b"old")
    await asyncio.sleep(0.25)
    stats = await client.queue.get_stats(T, ns, "q")
    assert stats.oldest_pending_age_ms >= 200
    assert stats.oldest_pending_age >= timedelta(milliseconds=200)


async def test_concurrent_workers_never_share_a_job(client: FlowMesh, server: str, ns: str):
    total = 200
    for i in range(total):
        await client.queue.enqueue(T, ns, "q", b"%d" % i)
    seen: list[bytes] = []

    async def worker() -> None:
        async with FlowMesh(endpoint=server) as c:
            while True:
                jobs = await c.queue.receive(T, ns, "q", max_jobs=7)
                if not jobs:
                    return
                for job in jobs:
                    seen.append(job.payload)
                    await c.queue.ack(T, ns, "q", job.id)

    await asyncio.gather(*(worker() for _ in range(6)))
    assert sorted(seen) == sorted(b"%d" % i for i in range(total))
    assert (await client.queue.get_stats(T, ns, "q")).completed_jobs == total
