"""Queue operations: enqueue (alone or batched), receive with long poll, ack,
nack, retry policy, dead-letter queue, statistics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from flowmesh.server import paging
from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import ServiceError
from flowmesh.server.ops.context import OpsContext
from flowmesh.server.ops.schemas import SchemaOps
from flowmesh.server.store.records import (
    BACKOFF_STRATEGIES,
    DLQCursor,
    Enqueued,
    Producer,
    QueueStats,
    Resource,
    RetryPolicy,
    StoredJob,
    queue_topic,
)

T = TypeVar("T")

DEFAULT_VISIBILITY_MS = 30_000
DEFAULT_DLQ_LIST = 100
MAX_DLQ_LIST = 1000
MAX_ERROR_CHARS = 4096


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job to enqueue, as a transport decoded it (durations in ms)."""

    payload: bytes
    headers: Mapping[str, str]
    delay_ms: int = 0
    dedup_id: str = ""
    producer_id: str = ""  # the idempotent producer: a repeat within the window
    producer_seq: int = 0  # returns the first attempt's job


class QueueOps:
    def __init__(self, ctx: OpsContext, schemas: SchemaOps) -> None:
        self.ctx = ctx
        self.schemas = schemas

    async def enqueue(self, caller: Caller, queue: Resource, job: NewJob) -> Enqueued:
        caller.allow(queue, "queue:write")
        return await self._enqueue(queue, job, "")

    async def enqueue_batch(
        self, caller: Caller, queue: Resource, jobs: Sequence[NewJob | ServiceError]
    ) -> list[Enqueued | ServiceError]:
        """Each job handled as if alone (concurrently, so one store commit can cover
        them all); each one's result or error. An item may arrive as the error a
        transport found decoding it."""
        caller.allow(queue, "queue:write")
        v.in_range(len(jobs), "jobs", 1, v.MAX_BATCH_JOBS)
        return await _each(
            [j if isinstance(j, ServiceError) else self._enqueue(queue, j, f"jobs[{i}].")
             for i, j in enumerate(jobs)]
        )  # fmt: skip

    async def _enqueue(self, queue: Resource, job: NewJob, at: str) -> Enqueued:
        v.payload(job.payload, f"{at}payload", self.ctx.limits)
        headers = v.headers(dict(job.headers), f"{at}headers")
        delay = v.duration_ms(job.delay_ms, f"{at}delay", 0, v.MAX_DELAY_MS)
        dedup = v.dedup_id(job.dedup_id, f"{at}dedup_id")
        producer = None
        if v.producer_id(job.producer_id, job.producer_seq, f"{at}producer_id"):
            producer = Producer(job.producer_id, job.producer_seq, self.ctx.dedup_window_ms)
        done = await self.schemas.checked_write(
            "queue",
            queue,
            [job.payload],
            lambda _: f"{at}payload",
            lambda token: self.ctx.store.enqueue(
                queue,
                job.payload,
                headers,
                delay,
                dedup,
                self.ctx.dedup_window_ms,
                token,
                producer,
            ),
        )
        self.ctx.changed("queue", queue.path, {"event": "enqueued"})
        return done

    async def receive(
        self,
        caller: Caller,
        queue: Resource,
        max_jobs: int = 1,
        visibility_ms: int = 0,
        long_poll_ms: int = 0,
    ) -> list[StoredJob]:
        """Reserve up to ``max_jobs`` now, or wait (up to the long poll) for a job
        to arrive or fall due. ``visibility_ms`` 0 means 30 s."""
        caller.allow(queue, "queue:read")
        max_jobs = v.in_range(max_jobs or 1, "max_jobs", 1, v.MAX_RECEIVE_JOBS)
        visibility = v.duration_ms(visibility_ms or DEFAULT_VISIBILITY_MS, "visibility_timeout",
                                   1, v.MAX_VISIBILITY_MS)  # fmt: skip
        poll = v.duration_ms(long_poll_ms, "long_poll_timeout", 0, v.MAX_LONG_POLL_MS)
        deadline = time.monotonic() + poll / 1000
        topic = queue_topic(queue)
        notifier = self.ctx.store.notifier
        while True:
            wake = notifier.watch(topic)
            try:
                got = await self.ctx.store.reserve(queue, max_jobs, visibility)
                if got.jobs:
                    self.ctx.metrics.delivered("queue", len(got.jobs))
                    self.ctx.changed("queue", queue.path, {"event": "reserved"})
                    return got.jobs
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                wait = min(remaining, self.ctx.recheck_seconds)
                if got.next_due_ms is not None:
                    wait = min(wait, max(0.0, got.next_due_ms / 1000 - time.time()) + 0.001)
                await notifier.wait(wake, wait)
            finally:
                notifier.unwatch(topic, wake)

    async def ack(self, caller: Caller, queue: Resource, job_id: str) -> None:
        caller.allow(queue, "queue:read")
        await self.ctx.store.ack(queue, v.job_id(job_id), self.ctx.dedup_window_ms)
        self.ctx.changed("queue", queue.path, {"event": "acked"})

    async def ack_batch(
        self, caller: Caller, queue: Resource, job_ids: Sequence[str]
    ) -> list[ServiceError | None]:
        caller.allow(queue, "queue:read")
        v.in_range(len(job_ids), "job_ids", 1, v.MAX_BATCH_JOBS)
        items: list[Awaitable[None] | ServiceError] = []
        for i, job_id in enumerate(job_ids):
            try:
                items.append(self.ctx.store.ack(queue, v.job_id(job_id, f"job_ids[{i}]"),
                                                self.ctx.dedup_window_ms))  # fmt: skip
            except v.InvalidArgument as exc:
                items.append(exc)
        outcomes = await _each(items)
        self.ctx.changed("queue", queue.path, {"event": "acked"})
        return outcomes

    async def nack(
        self, caller: Caller, queue: Resource, job_id: str, delay_ms: int | None, error: str = ""
    ) -> bool:
        """Give a job back: retried after ``delay_ms`` (None: the policy's backoff)
        or dead-lettered after its last attempt (True)."""
        caller.allow(queue, "queue:read")
        if delay_ms is not None:
            v.duration_ms(delay_ms, "delay", 0, v.MAX_DELAY_MS)
        if len(error) > MAX_ERROR_CHARS:
            raise v.InvalidArgument("error", f"is over the limit of {MAX_ERROR_CHARS} characters")
        dead = await self.ctx.store.nack(queue, v.job_id(job_id), delay_ms, error)
        self.ctx.changed("queue", queue.path, {"event": "nacked"})
        return dead

    async def stats(self, caller: Caller, queue: Resource) -> QueueStats:
        caller.allow(queue, "queue:read")
        stats = await self.ctx.store.queue_stats(queue)
        self.ctx.metrics.queue_depth(queue, stats)
        return stats

    async def set_retry_policy(
        self, caller: Caller, queue: Resource, policy: RetryPolicy
    ) -> RetryPolicy:
        caller.allow(queue, "queue:write")
        v.in_range(policy.max_attempts, "policy.max_attempts", 0, v.MAX_ATTEMPTS)
        v.duration_ms(policy.initial_backoff_ms, "policy.initial_backoff", 0, v.MAX_DELAY_MS)
        v.duration_ms(policy.max_backoff_ms, "policy.max_backoff", policy.initial_backoff_ms,
                      v.MAX_DELAY_MS)  # fmt: skip
        _float_range(policy.backoff_multiplier, "policy.backoff_multiplier", 1.0, 100.0)
        _float_range(policy.jitter, "policy.jitter", 0.0, 1.0)
        if policy.backoff_strategy not in BACKOFF_STRATEGIES:
            raise v.InvalidArgument(
                "policy.backoff_strategy",
                f"must be one of {', '.join(BACKOFF_STRATEGIES)}, got {policy.backoff_strategy!r}",
            )
        return await self.ctx.store.set_retry_policy(queue, policy)

    async def retry_policy(self, caller: Caller, queue: Resource) -> RetryPolicy:
        caller.allow(queue, "queue:read")
        return await self.ctx.store.retry_policy(queue)

    async def list_dlq(self, caller: Caller, queue: Resource, limit: int = 0) -> list[StoredJob]:
        caller.allow(queue, "queue:read")
        limit = v.in_range(limit or DEFAULT_DLQ_LIST, "max_jobs", 1, MAX_DLQ_LIST)
        return await self.ctx.store.list_dlq(queue, limit)

    async def list_dlq_page(
        self, caller: Caller, queue: Resource, limit: int = 0, page_token: str = ""
    ) -> tuple[list[StoredJob], str]:
        """One page of ``limit`` dead-lettered jobs (0: the default 100) after
        ``page_token``, and the next page's token ("" on the last page)."""
        caller.allow(queue, "queue:read")
        limit = v.in_range(limit or DEFAULT_DLQ_LIST, "max_jobs", 1, MAX_DLQ_LIST)
        after = paging.dlq_after(page_token)
        jobs = await self.ctx.store.list_dlq(queue, limit + 1, after)
        if len(jobs) <= limit:
            return jobs, ""
        last = jobs[limit - 1]
        return jobs[:limit], paging.dlq_token(DLQCursor(last.failed_at_ms, last.seq, last.id))

    async def replay_dlq(self, caller: Caller, queue: Resource, job_id: str) -> Enqueued:
        caller.allow(queue, "queue:write")
        again = await self.ctx.store.replay_dlq(queue, v.job_id(job_id))
        self.ctx.changed("queue", queue.path, {"event": "enqueued"})
        return again


def _float_range(value: float, field: str, low: float, high: float) -> float:
    if not low <= value <= high:
        raise v.InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


async def _each(items: Sequence[Awaitable[T] | ServiceError]) -> list[T | ServiceError]:
    """Run a batch's items concurrently; each one's result, or its deliberate error
    (anything else fails the whole batch)."""

    async def one(item: Awaitable[T] | ServiceError) -> T:
        if isinstance(item, ServiceError):
            raise item
        return await item

    outcomes = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    out: list[T | ServiceError] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, ServiceError):
            raise outcome
        out.append(outcome)
    return out
