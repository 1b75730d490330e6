"""The gRPC services: validate, authorise, call the store, translate errors.

Each RPC goes through :meth:`_Base._call`, which maps our exceptions to gRPC
status codes, counts it and times it; the methods themselves only move fields
between protobuf messages and the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from redis.exceptions import RedisError

from flowmesh import __version__
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server import validation as v
from flowmesh.server.auth import Authenticator, PermissionDenied, Unauthenticated
from flowmesh.server.metrics import Metrics
from flowmesh.server.store.base import (
    Conflict,
    NotFound,
    Resource,
    RetryPolicy,
    Store,
    StoredJob,
    StoredMessage,
    StreamConfig,
    queue_topic,
    stream_topic,
)

log = logging.getLogger("flowmesh.server")
T = TypeVar("T")

DEFAULT_VISIBILITY_MS = 30_000
DEFAULT_READ_MESSAGES = 10
DEFAULT_SUBSCRIBE_BATCH = 500
DEFAULT_LIST_KEYS = 1000
MAX_LIST_KEYS = 10_000
# A subscriber or long poll re-reads the store this often even without a
# wake-up, so a lost notification (e.g. a Redis pub/sub reconnect) delays
# delivery, never stops it. Writes wake waiters directly; this is the fallback.
SAFETY_RECHECK_S = 2.0
_CHECKED_RESOURCES = 4096


class _Base:
    recheck_seconds = SAFETY_RECHECK_S

    def __init__(
        self, store: Store, auth: Authenticator, limits: v.Limits, metrics: Metrics
    ) -> None:
        self.store = store
        self.auth = auth
        self.limits = limits
        self.metrics = metrics
        self._checked: dict[tuple[str, str, str], Resource] = {}

    def _resource(self, ref: Any, field: str, context: grpc.aio.ServicerContext) -> Resource:
        # Clients name the same few resources over and over: keep the checked ones.
        key = (ref.tenant, ref.namespace, ref.name)
        res = self._checked.get(key)
        if res is None:
            res = v.resource(ref, field)
            if len(self._checked) >= _CHECKED_RESOURCES:
                self._checked.clear()
            self._checked[key] = res
        if not self.auth.open:
            self.auth.check(self.auth.tenants_for(_authorization(context)), res.tenant)
        return res

    async def _call(
        self, method: str, context: grpc.aio.ServicerContext, body: Callable[[], Awaitable[T]]
    ) -> T:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await body()
        except Exception as exc:
            code, detail = _status(method, exc)
        finally:
            self.metrics.observe(method, code.name, time.perf_counter() - start)
        await context.abort(code, detail)
        raise AssertionError("abort returned")  # context.abort always raises


async def _each(
    method: str, items: list[Awaitable[T] | Exception]
) -> tuple[list[T | None], list[pb.ItemStatus]]:
    """Run a batch's items concurrently (so one store commit can cover them all);
    each item's result, or its status when it failed."""

    async def one(item: Awaitable[T] | Exception) -> T:
        if isinstance(item, Exception):
            raise item
        return await item

    outcomes = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    results: list[T | None] = []
    statuses: list[pb.ItemStatus] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            code, detail = _status(method, outcome)
            results.append(None)
            statuses.append(pb.ItemStatus(code=code.value[0], message=detail))
        else:
            results.append(outcome)
            statuses.append(pb.ItemStatus())
    return results, statuses


def _status(method: str, exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an exception raised while serving ``method``."""
    if isinstance(exc, v.InvalidArgument | Conflict):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, Unauthenticated):
        return grpc.StatusCode.UNAUTHENTICATED, str(exc)
    if isinstance(exc, PermissionDenied):
        return grpc.StatusCode.PERMISSION_DENIED, str(exc)
    if isinstance(exc, RedisError | OSError):
        log.warning("store unavailable", extra={"method": method, "error": repr(exc)})
        return grpc.StatusCode.UNAVAILABLE, f"store unavailable: {type(exc).__name__}"
    log.exception("internal error", extra={"method": method}, exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error"


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


def _message(m: StoredMessage) -> pb.StreamMessage:
    return pb.StreamMessage(
        partition=m.partition,
        offset=m.offset,
        payload=m.payload,
        headers=m.headers,
        timestamp_ms=m.timestamp_ms,
    )


def _job(j: StoredJob) -> pb.Job:
    return pb.Job(
        id=j.id,
        seq=j.seq,
        payload=j.payload,
        headers=j.headers,
        attempts=j.attempts,
        enqueued_at_ms=j.enqueued_at_ms,
        visible_at_ms=j.visible_at_ms,
        original_queue=j.original_queue,
        failed_at_ms=j.failed_at_ms,
        last_error=j.last_error,
    )


def _policy(p: RetryPolicy) -> pb.RetryPolicy:
    return pb.RetryPolicy(
        max_attempts=p.max_attempts,
        initial_backoff_ms=p.initial_backoff_ms,
        max_backoff_ms=p.max_backoff_ms,
        backoff_multiplier=p.backoff_multiplier,
        jitter=p.jitter,
    )


class HealthService(pb_grpc.HealthServicer, _Base):
    async def Check(
        self, request: pb.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> pb.HealthCheckResponse:
        return pb.HealthCheckResponse(healthy=True, version=__version__)

    async def Ready(
        self, request: pb.ReadinessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReadinessResponse:
        try:
            await asyncio.wait_for(self.store.ping(), timeout=2.0)
        except Exception as exc:
            return pb.ReadinessResponse(ready=False, store=self.store.kind, detail=repr(exc))
        return pb.ReadinessResponse(ready=True, store=self.store.kind)


class StreamService(pb_grpc.StreamServicer, _Base):
    async def Write(
        self, request: pb.WriteRequest, context: grpc.aio.ServicerContext
    ) -> pb.WriteResponse:
        async def body() -> pb.WriteResponse:
            stream = self._resource(request.stream, "stream", context)
            if not request.events:
                raise v.InvalidArgument("events", "must hold at least one event")
            v.in_range(len(request.events), "events", 1, v.MAX_WRITE_EVENTS)
            partition = (
                v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
                if request.HasField("partition")
                else None
            )
            events = []
            for i, e in enumerate(request.events):
                v.payload(e.payload, f"events[{i}].payload", self.limits)
                events.append((e.payload, v.headers(dict(e.headers), f"events[{i}].headers")))
            placed = await self.store.append(stream, events, partition)
            return pb.WriteResponse(
                offsets=[o for _, o in placed], partitions=[p for p, _ in placed]
            )

        return await self._call("stream.write", context, body)

    async def Read(
        self, request: pb.ReadRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReadResponse:
        async def body() -> pb.ReadResponse:
            stream = self._resource(request.stream, "stream", context)
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            offset = v.in_range(request.offset, "offset", 0, 2**62)
            limit = request.max_messages or DEFAULT_READ_MESSAGES
            v.in_range(limit, "max_messages", 1, v.MAX_READ_MESSAGES)
            msgs = await self.store.read(stream, partition, offset, limit)
            return pb.ReadResponse(messages=[_message(m) for m in msgs])

        return await self._call("stream.read", context, body)

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeResponse]:
        async def start() -> tuple[Resource, int, int, int]:
            stream = self._resource(request.stream, "stream", context)
            v.name(request.consumer_group, "consumer_group")
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            v.in_range(request.start_offset, "start_offset", -2, 2**62)
            batch = request.max_batch or DEFAULT_SUBSCRIBE_BATCH
            v.in_range(batch, "max_batch", 1, v.MAX_READ_MESSAGES)
            if request.start_offset >= 0:
                position = request.start_offset
            elif request.start_offset == -2:
                position = await self._or_default(self.store.latest_offset(stream, partition)) + 1
            else:
                committed = self.store.committed_offset(stream, request.consumer_group, partition)
                position = await self._or_default(committed) + 1
            return stream, partition, position, batch

        stream, partition, position, batch = await self._call("stream.subscribe", context, start)
        topic = stream_topic(stream, partition)
        notifier = self.store.notifier
        while True:
            wake = notifier.watch(topic)
            try:
                try:
                    msgs = await self.store.read(stream, partition, position, batch)
                except NotFound:
                    msgs = []
                except (RedisError, OSError) as exc:
                    # The client resumes from its last message once the store is back.
                    log.warning("store unavailable", extra={"method": "stream.subscribe",
                                                            "error": repr(exc)})  # fmt: skip
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "store unavailable")
                if msgs:
                    position = msgs[-1].offset + 1
                    self.metrics.delivered("stream", len(msgs))
                    yield pb.SubscribeResponse(messages=[_message(m) for m in msgs])
                    continue
                await notifier.wait(wake, self.recheck_seconds)
            finally:
                notifier.unwatch(topic, wake)

    @staticmethod
    async def _or_default(lookup: Awaitable[int]) -> int:
        try:
            return await lookup
        except NotFound:
            return -1

    async def CommitOffset(
        self, request: pb.CommitOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CommitOffsetResponse:
        async def body() -> pb.CommitOffsetResponse:
            stream = self._resource(request.stream, "stream", context)
            v.name(request.consumer_group, "consumer_group")
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            offset = v.in_range(request.offset, "offset", -1, 2**62)
            await self.store.commit_offset(stream, request.consumer_group, partition, offset)
            return pb.CommitOffsetResponse()

        return await self._call("stream.commit_offset", context, body)

    async def GetOffset(
        self, request: pb.GetOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOffsetResponse:
        async def body() -> pb.GetOffsetResponse:
            stream = self._resource(request.stream, "stream", context)
            v.name(request.consumer_group, "consumer_group")
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            offset = await self.store.committed_offset(stream, request.consumer_group, partition)
            return pb.GetOffsetResponse(offset=offset)

        return await self._call("stream.get_offset", context, body)

    async def GetLatestOffset(
        self, request: pb.GetLatestOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLatestOffsetResponse:
        async def body() -> pb.GetLatestOffsetResponse:
            stream = self._resource(request.stream, "stream", context)
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            return pb.GetLatestOffsetResponse(
                offset=await self.store.latest_offset(stream, partition)
            )

        return await self._call("stream.get_latest_offset", context, body)

    async def GetConsumerGroupState(
        self, request: pb.GetConsumerGroupStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConsumerGroupState:
        async def body() -> pb.ConsumerGroupState:
            stream = self._resource(request.stream, "stream", context)
            group = v.name(request.consumer_group, "consumer_group")
            partition = v.in_range(request.partition, "partition", 0, v.MAX_PARTITIONS - 1)
            latest = await self.store.latest_offset(stream, partition)
            committed = await self.store.committed_offset(stream, group, partition)
            lag = max(0, latest - committed)
            self.metrics.stream_lag(stream, group, partition, lag)
            return pb.ConsumerGroupState(
                consumer_group=group,
                partition=partition,
                committed_offset=committed,
                latest_offset=latest,
                lag=lag,
            )

        return await self._call("stream.get_consumer_group_state", context, body)

    async def ConfigureStream(
        self, request: pb.ConfigureStreamRequest, context: grpc.aio.ServicerContext
    ) -> pb.StreamConfig:
        async def body() -> pb.StreamConfig:
            stream = self._resource(request.stream, "stream", context)
            config = StreamConfig(
                partitions=v.in_range(request.partitions or 1, "partitions", 1, v.MAX_PARTITIONS),
                retention_max_messages=v.in_range(
                    request.retention_max_messages, "retention_max_messages", 0, 2**62
                ),
                retention_max_age_ms=v.in_range(
                    request.retention_max_age_ms, "retention_max_age_ms", 0, 2**62
                ),
            )
            saved = await self.store.configure_stream(stream, config)
            return pb.StreamConfig(
                partitions=saved.partitions,
                retention_max_messages=saved.retention_max_messages,
                retention_max_age_ms=saved.retention_max_age_ms,
            )

        return await self._call("stream.configure", context, body)


class QueueService(pb_grpc.QueueServicer, _Base):
    dedup_window_ms = 300_000

    async def _enqueue(self, queue: Resource, request: pb.EnqueueRequest) -> pb.EnqueueResponse:
        v.payload(request.payload, "payload", self.limits)
        headers = v.headers(dict(request.headers), "headers")
        delay = v.in_range(request.delay_ms, "delay", 0, v.MAX_DELAY_MS)
        dedup = v.dedup_id(request.dedup_id)
        done = await self.store.enqueue(
            queue, request.payload, headers, delay, dedup, self.dedup_window_ms
        )
        return pb.EnqueueResponse(job_id=done.job_id, seq=done.seq, duplicate=done.duplicate)

    async def Enqueue(
        self, request: pb.EnqueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnqueueResponse:
        async def body() -> pb.EnqueueResponse:
            return await self._enqueue(self._resource(request.queue, "queue", context), request)

        return await self._call("queue.enqueue", context, body)

    async def EnqueueBatch(
        self, request: pb.EnqueueBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnqueueBatchResponse:
        async def body() -> pb.EnqueueBatchResponse:
            queue = self._resource(request.queue, "queue", context)
            v.in_range(len(request.jobs), "jobs", 1, v.MAX_BATCH_JOBS)
            items: list[Awaitable[pb.EnqueueResponse] | Exception] = [
                v.InvalidArgument(f"jobs[{i}].queue", "must be unset (the batch names the queue)")
                if job.HasField("queue")
                else self._enqueue(queue, job)
                for i, job in enumerate(request.jobs)
            ]
            results, statuses = await _each("queue.enqueue", items)
            return pb.EnqueueBatchResponse(
                jobs=[r or pb.EnqueueResponse() for r in results], statuses=statuses
            )

        return await self._call("queue.enqueue_batch", context, body)

    async def _receive(
        self,
        queue: Resource,
        max_jobs: int,
        visibility_ms: int,
        long_poll_ms: int,
    ) -> list[StoredJob]:
        """Reserve now, or wait (up to the long poll) for a job to arrive or fall due."""
        deadline = time.monotonic() + long_poll_ms / 1000
        topic = queue_topic(queue)
        notifier = self.store.notifier
        while True:
            wake = notifier.watch(topic)
            try:
                got = await self.store.reserve(queue, max_jobs, visibility_ms)
                if got.jobs:
                    self.metrics.delivered("queue", len(got.jobs))
                    return got.jobs
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                wait = min(remaining, self.recheck_seconds)
                if got.next_due_ms is not None:
                    wait = min(wait, max(0.0, got.next_due_ms / 1000 - time.time()) + 0.001)
                await notifier.wait(wake, wait)
            finally:
                notifier.unwatch(topic, wake)

    def _visibility(self, value: int) -> int:
        return v.in_range(
            value or DEFAULT_VISIBILITY_MS, "visibility_timeout", 1, v.MAX_VISIBILITY_MS
        )

    async def Reserve(
        self, request: pb.ReserveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReserveResponse:
        async def body() -> pb.ReserveResponse:
            queue = self._resource(request.queue, "queue", context)
            visibility = self._visibility(request.visibility_timeout_ms)
            poll = v.in_range(
                request.long_poll_timeout_ms, "long_poll_timeout", 0, v.MAX_LONG_POLL_MS
            )
            jobs = await self._receive(queue, 1, visibility, poll)
            return pb.ReserveResponse(job=_job(jobs[0])) if jobs else pb.ReserveResponse()

        return await self._call("queue.reserve", context, body)

    async def Receive(
        self, request: pb.ReceiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReceiveResponse:
        async def body() -> pb.ReceiveResponse:
            queue = self._resource(request.queue, "queue", context)
            max_jobs = v.in_range(request.max_jobs or 1, "max_jobs", 1, v.MAX_RECEIVE_JOBS)
            visibility = self._visibility(request.visibility_timeout_ms)
            poll = v.in_range(
                request.long_poll_timeout_ms, "long_poll_timeout", 0, v.MAX_LONG_POLL_MS
            )
            jobs = await self._receive(queue, max_jobs, visibility, poll)
            return pb.ReceiveResponse(jobs=[_job(j) for j in jobs])

        return await self._call("queue.receive", context, body)

    async def Ack(
        self, request: pb.AckRequest, context: grpc.aio.ServicerContext
    ) -> pb.AckResponse:
        async def body() -> pb.AckResponse:
            queue = self._resource(request.queue, "queue", context)
            await self.store.ack(queue, v.job_id(request.job_id))
            return pb.AckResponse()

        return await self._call("queue.ack", context, body)

    async def AckBatch(
        self, request: pb.AckBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.AckBatchResponse:
        async def body() -> pb.AckBatchResponse:
            queue = self._resource(request.queue, "queue", context)
            v.in_range(len(request.job_ids), "job_ids", 1, v.MAX_BATCH_JOBS)
            items: list[Awaitable[None] | Exception] = []
            for i, job_id in enumerate(request.job_ids):
                try:
                    items.append(self.store.ack(queue, v.job_id(job_id, f"job_ids[{i}]")))
                except v.InvalidArgument as exc:
                    items.append(exc)
            _, statuses = await _each("queue.ack", items)
            return pb.AckBatchResponse(statuses=statuses)

        return await self._call("queue.ack_batch", context, body)

    async def Nack(
        self, request: pb.NackRequest, context: grpc.aio.ServicerContext
    ) -> pb.NackResponse:
        async def body() -> pb.NackResponse:
            queue = self._resource(request.queue, "queue", context)
            delay = (
                v.in_range(request.delay_ms, "delay", 0, v.MAX_DELAY_MS)
                if request.HasField("delay_ms")
                else None
            )
            if len(request.error) > 4096:
                raise v.InvalidArgument("error", "is over the limit of 4096 characters")
            dead = await self.store.nack(queue, v.job_id(request.job_id), delay, request.error)
            return pb.NackResponse(dead_lettered=dead)

        return await self._call("queue.nack", context, body)

    async def GetStats(
        self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueueStats:
        async def body() -> pb.QueueStats:
            queue = self._resource(request.queue, "queue", context)
            s = await self.store.queue_stats(queue)
            self.metrics.queue_depth(queue, s)
            return pb.QueueStats(
                pending_jobs=s.pending_jobs,
                delayed_jobs=s.delayed_jobs,
                in_flight_jobs=s.in_flight_jobs,
                dlq_jobs=s.dlq_jobs,
                completed_jobs=s.completed_jobs,
                failed_jobs=s.failed_jobs,
                oldest_pending_age_ms=s.oldest_pending_age_ms,
            )

        return await self._call("queue.get_stats", context, body)

    async def SetRetryPolicy(
        self, request: pb.SetRetryPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetryPolicy:
        async def body() -> pb.RetryPolicy:
            queue = self._resource(request.queue, "queue", context)
            p = request.policy
            initial = v.in_range(p.initial_backoff_ms, "policy.initial_backoff", 0, v.MAX_DELAY_MS)
            policy = RetryPolicy(
                max_attempts=v.in_range(p.max_attempts, "policy.max_attempts", 1, v.MAX_ATTEMPTS),
                initial_backoff_ms=initial,
                max_backoff_ms=v.in_range(
                    p.max_backoff_ms, "policy.max_backoff", initial, v.MAX_DELAY_MS
                ),
                backoff_multiplier=_float_range(
                    p.backoff_multiplier, "policy.backoff_multiplier", 1.0, 100.0
                ),
                jitter=_float_range(p.jitter, "policy.jitter", 0.0, 1.0),
            )
            return _policy(await self.store.set_retry_policy(queue, policy))

        return await self._call("queue.set_retry_policy", context, body)

    async def GetRetryPolicy(
        self, request: pb.GetRetryPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetryPolicy:
        async def body() -> pb.RetryPolicy:
            queue = self._resource(request.queue, "queue", context)
            return _policy(await self.store.retry_policy(queue))

        return await self._call("queue.get_retry_policy", context, body)

    async def ListDLQJobs(
        self, request: pb.ListDLQJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDLQJobsResponse:
        async def body() -> pb.ListDLQJobsResponse:
            queue = self._resource(request.queue, "queue", context)
            limit = v.in_range(request.limit or 100, "limit", 1, 1000)
            jobs = await self.store.list_dlq(queue, limit)
            return pb.ListDLQJobsResponse(jobs=[_job(j) for j in jobs])

        return await self._call("queue.list_dlq", context, body)

    async def ReplayDLQJob(
        self, request: pb.ReplayDLQJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnqueueResponse:
        async def body() -> pb.EnqueueResponse:
            queue = self._resource(request.queue, "queue", context)
            done = await self.store.replay_dlq(queue, v.job_id(request.job_id))
            return pb.EnqueueResponse(job_id=done.job_id, seq=done.seq)

        return await self._call("queue.replay_dlq", context, body)


def _float_range(value: float, field: str, low: float, high: float) -> float:
    if not low <= value <= high:
        raise v.InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


class KVService(pb_grpc.KVServicer, _Base):
    async def Set(
        self, request: pb.SetRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetResponse:
        async def body() -> pb.SetResponse:
            store = self._resource(request.store, "store", context)
            key = v.kv_key(request.key)
            v.payload(request.value, "value", self.limits)
            ttl = v.in_range(request.ttl_ms, "ttl", 0, 2**62)
            await self.store.kv_set(store, key, request.value, ttl)
            return pb.SetResponse()

        return await self._call("kv.set", context, body)

    async def Get(
        self, request: pb.GetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetResponse:
        async def body() -> pb.GetResponse:
            store = self._resource(request.store, "store", context)
            key = v.kv_key(request.key)
            value = await self.store.kv_get(store, key)
            if value is None:
                raise NotFound(f"key {key!r} does not exist in store {store.path!r}")
            return pb.GetResponse(value=value)

        return await self._call("kv.get", context, body)

    async def Delete(
        self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteResponse:
        async def body() -> pb.DeleteResponse:
            store = self._resource(request.store, "store", context)
            deleted = await self.store.kv_delete(store, v.kv_key(request.key))
            return pb.DeleteResponse(deleted=deleted)

        return await self._call("kv.delete", context, body)

    async def Exists(
        self, request: pb.ExistsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExistsResponse:
        async def body() -> pb.ExistsResponse:
            store = self._resource(request.store, "store", context)
            key = v.kv_key(request.key)
            try:
                value = await self.store.kv_get(store, key)
            except NotFound:
                value = None
            return pb.ExistsResponse(exists=value is not None)

        return await self._call("kv.exists", context, body)

    async def ListKeys(
        self, request: pb.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKeysResponse:
        async def body() -> pb.ListKeysResponse:
            store = self._resource(request.store, "store", context)
            prefix = v.prefix(request.prefix)
            limit = v.in_range(request.limit or DEFAULT_LIST_KEYS, "limit", 1, MAX_LIST_KEYS)
            after = v.prefix(request.page_token, "page_token")
            page = await self.store.kv_list(store, prefix, limit, after)
            return pb.ListKeysResponse(keys=page.keys, next_page_token=page.next_after or "")

        return await self._call("kv.list_keys", context, body)


def add_services(
    server: grpc.aio.Server,
    store: Store,
    auth: Authenticator,
    limits: v.Limits,
    metrics: Metrics,
    dedup_window_ms: int = 300_000,
    recheck_seconds: float = SAFETY_RECHECK_S,
) -> None:
    args = (store, auth, limits, metrics)
    queues = QueueService(*args)
    queues.dedup_window_ms = dedup_window_ms
    queues.recheck_seconds = recheck_seconds
    streams = StreamService(*args)
    streams.recheck_seconds = recheck_seconds
    pb_grpc.add_HealthServicer_to_server(HealthService(*args), server)
    pb_grpc.add_StreamServicer_to_server(streams, server)
    pb_grpc.add_QueueServicer_to_server(queues, server)
    pb_grpc.add_KVServicer_to_server(KVService(*args), server)
