"""The async client: ``FlowMesh`` with its ``stream``, ``queue`` and ``kv`` parts.

One gRPC channel (grpc.aio) per client. gRPC re-dials a dropped connection by
itself; calls wait for it (``wait_for_ready``) up to their timeout, reads are
retried on ``UNAVAILABLE``, and a subscription resumes after the last message
it delivered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar

import grpc

from flowmesh._coalesce import Coalescer
from flowmesh.errors import (
    FlowMeshConnectionError,
    FlowMeshInvalidArgumentError,
    from_rpc_error,
    from_status,
)
from flowmesh.models import ConsumerGroupState, Event, Job, Message, QueueStats, RetryPolicy
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc

T = TypeVar("T")
QueueKey = tuple[str, str, str]
Duration = timedelta | float | int

DEFAULT_TIMEOUT = 30.0
MAX_BATCH_JOBS = 100  # the server's cap on one EnqueueBatch / AckBatch
READ_RETRIES = 3
SUBSCRIBE_RECONNECTS = 20
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


def _ms(value: Duration | None, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise FlowMeshInvalidArgumentError(
            f"{field}: must be a timedelta or seconds, got {type(value).__name__}"
        )
    if seconds < 0:
        raise FlowMeshInvalidArgumentError(f"{field}: must not be negative")
    return round(seconds * 1000)


def _bytes(value: object, field: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise FlowMeshInvalidArgumentError(f"{field}: must be bytes, got {type(value).__name__}")


def _ref(tenant: str, namespace: str, name: str) -> pb.ResourceRef:
    for field, value in (("tenant", tenant), ("namespace", namespace), ("name", name)):
        if not isinstance(value, str):
            raise FlowMeshInvalidArgumentError(f"{field}: must be str, got {type(value).__name__}")
    return pb.ResourceRef(tenant=tenant, namespace=namespace, name=name)


def _message(m: pb.StreamMessage) -> Message:
    return Message.model_construct(
        partition=m.partition,
        offset=m.offset,
        payload=m.payload,
        headers=dict(m.headers),
        timestamp_ms=m.timestamp_ms,
    )


def _job(j: pb.Job) -> Job:
    return Job.model_construct(
        id=j.id,
        seq=j.seq,
        payload=j.payload,
        headers=dict(j.headers),
        attempts=j.attempts,
        enqueued_at_ms=j.enqueued_at_ms,
        visible_at_ms=j.visible_at_ms,
        original_queue=j.original_queue,
        failed_at_ms=j.failed_at_ms,
        last_error=j.last_error,
    )


def _policy(p: pb.RetryPolicy) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=p.max_attempts,
        initial_backoff=timedelta(milliseconds=p.initial_backoff_ms),
        max_backoff=timedelta(milliseconds=p.max_backoff_ms),
        backoff_multiplier=p.backoff_multiplier,
        jitter=p.jitter,
    )


class _Part:
    """Shared plumbing of the stream, queue and KV clients."""

    def __init__(self, client: FlowMesh) -> None:
        self._client = client

    async def _call(
        self,
        rpc: Callable[..., Awaitable[T]],
        request: Any,
        *,
        idempotent: bool = False,
        extra_timeout: float = 0.0,
    ) -> T:
        attempts = READ_RETRIES if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return await rpc(
                    request,
                    metadata=self._client._metadata,
                    timeout=self._client.timeout + extra_timeout,
                    wait_for_ready=True,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts:
                    raise from_rpc_error(exc) from None
                await asyncio.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
        raise AssertionError("unreachable")


class StreamClient(_Part):
    """Append-only partitioned streams with consumer groups."""

    @property
    def _stub(self) -> pb_grpc.StreamStub:
        return self._client._stubs().stream

    async def write(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        events: Sequence[Event],
        partition: int | None = None,
    ) -> list[int]:
        """Append events (to ``partition``, or by each event's ``key`` header); their offsets."""
        request = pb.WriteRequest(
            stream=_ref(tenant, namespace, stream),
            events=[pb.Event(payload=e.payload, headers=e.headers) for e in events],
        )
        if partition is not None:
            request.partition = partition
        response = await self._call(self._stub.Write, request)
        return list(response.offsets)

    async def read(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        partition: int = 0,
        offset: int = 0,
        max_messages: int = 10,
    ) -> list[Message]:
        """Up to ``max_messages`` messages from ``offset`` on (oldest retained if trimmed)."""
        request = pb.ReadRequest(
            stream=_ref(tenant, namespace, stream),
            partition=partition,
            offset=offset,
            max_messages=max_messages,
        )
        response = await self._call(self._stub.Read, request, idempotent=True)
        return [_message(m) for m in response.messages]

    async def subscribe(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        consumer_group: str,
        partition: int = 0,
        start_offset: int = -1,
        max_batch: int = 500,
    ) -> AsyncIterator[Message]:
        """Yield messages as they are written, forever.

        ``start_offset``: -2 only new messages, -1 after the group's committed
        offset (from the beginning when none), N from offset N. Committing is
        up to the caller (:meth:`commit_offset`). After a dropped connection
        the subscription resumes right after the last message yielded.
        """
        position = start_offset
        reconnects = 0
        while True:
            call = self._stub.Subscribe(
                pb.SubscribeRequest(
                    stream=_ref(tenant, namespace, stream),
                    consumer_group=consumer_group,
                    partition=partition,
                    start_offset=position,
                    max_batch=max_batch,
                ),
                metadata=self._client._metadata,
                wait_for_ready=True,
            )
            try:
                async for frame in call:
                    reconnects = 0
                    for m in frame.messages:
                        position = m.offset + 1
                        yield _message(m)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or reconnects >= SUBSCRIBE_RECONNECTS:
                    raise from_rpc_error(exc) from None
                reconnects += 1
                await asyncio.sleep(min(2.0, 0.05 * 2**reconnects) * random.uniform(0.5, 1.5))  # noqa: S311
            finally:
                call.cancel()

    async def commit_offset(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        consumer_group: str,
        partition: int,
        offset: int,
    ) -> None:
        """Record that the group has processed ``offset`` (and everything before it)."""
        await self._call(
            self._stub.CommitOffset,
            pb.CommitOffsetRequest(
                stream=_ref(tenant, namespace, stream),
                consumer_group=consumer_group,
                partition=partition,
                offset=offset,
            ),
            idempotent=True,
        )

    async def get_offset(
        self, tenant: str, namespace: str, stream: str, consumer_group: str, partition: int = 0
    ) -> int:
        """The group's committed offset (-1 when it has committed none)."""
        response = await self._call(
            self._stub.GetOffset,
            pb.GetOffsetRequest(
                stream=_ref(tenant, namespace, stream),
                consumer_group=consumer_group,
                partition=partition,
            ),
            idempotent=True,
        )
        return int(response.offset)

    async def get_latest_offset(
        self, tenant: str, namespace: str, stream: str, partition: int = 0
    ) -> int:
        """Offset of the newest message in the partition (-1 when it is empty)."""
        response = await self._call(
            self._stub.GetLatestOffset,
            pb.GetLatestOffsetRequest(stream=_ref(tenant, namespace, stream), partition=partition),
            idempotent=True,
        )
        return int(response.offset)

    async def get_consumer_group_state(
        self, tenant: str, namespace: str, stream: str, consumer_group: str, partition: int = 0
    ) -> ConsumerGroupState:
        r = await self._call(
            self._stub.GetConsumerGroupState,
            pb.GetConsumerGroupStateRequest(
                stream=_ref(tenant, namespace, stream),
                consumer_group=consumer_group,
                partition=partition,
            ),
            idempotent=True,
        )
        return ConsumerGroupState(
            consumer_group=r.consumer_group,
            partition=r.partition,
            committed_offset=r.committed_offset,
            latest_offset=r.latest_offset,
            lag=r.lag,
        )

    async def configure(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        partitions: int = 1,
        retention_max_messages: int = 0,
        retention_max_age: Duration | None = None,
    ) -> None:
        """Set the partition count (it can only grow) and retention (0 / None: keep all)."""
        await self._call(
            self._stub.ConfigureStream,
            pb.ConfigureStreamRequest(
                stream=_ref(tenant, namespace, stream),
                partitions=partitions,
                retention_max_messages=retention_max_messages,
                retention_max_age_ms=_ms(retention_max_age, "retention_max_age"),
            ),
            idempotent=True,
        )


class QueueClient(_Part):
    """Job queues with visibility timeouts, retries and a dead-letter queue.

    Enqueues (and acks) to one queue that overlap in time share a round trip:
    while one is in flight, the next ones wait and leave together as one batch
    request. Each call still returns only when its own job is stored (or
    acked), with its own result or error.
    """

    def __init__(self, client: FlowMesh) -> None:
        super().__init__(client)
        self._enqueues = Coalescer(self._enqueue_one, self._enqueue_many, MAX_BATCH_JOBS)
        self._acks = Coalescer(self._ack_one, self._ack_many, MAX_BATCH_JOBS)

    @property
    def _stub(self) -> pb_grpc.QueueStub:
        return self._client._stubs().queue

    async def enqueue(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        payload: bytes,
        delay: Duration | None = None,
        headers: dict[str, str] | None = None,
        dedup_id: str | None = None,
    ) -> tuple[str, int]:
        """Add a job; returns (job id, sequence number).

        With ``dedup_id``, enqueueing the same id again within the server's
        deduplication window returns the first job instead of adding one.
        """
        _ref(tenant, namespace, queue)  # argument checks before anything is queued
        job = pb.EnqueueRequest(
            payload=_bytes(payload, "payload"),
            headers=headers or {},
            delay_ms=_ms(delay, "delay"),
            dedup_id=dedup_id or "",
        )
        response = await self._enqueues.submit((tenant, namespace, queue), job)
        return response.job_id, int(response.seq)

    async def _enqueue_one(self, key: QueueKey, job: pb.EnqueueRequest) -> pb.EnqueueResponse:
        job.queue.CopyFrom(_ref(*key))
        return await self._call(self._stub.Enqueue, job)

    async def _enqueue_many(
        self, key: QueueKey, jobs: list[pb.EnqueueRequest]
    ) -> list[pb.EnqueueResponse | Exception]:
        response = await self._call(
            self._stub.EnqueueBatch, pb.EnqueueBatchRequest(queue=_ref(*key), jobs=jobs)
        )
        return [
            from_status(status.code, status.message) if status.code else result
            for result, status in zip(response.jobs, response.statuses, strict=True)
        ]

    async def reserve(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        visibility_timeout: Duration | None = None,
        long_poll_timeout: Duration | None = None,
    ) -> Job | None:
        """Take one job (hidden from others for ``visibility_timeout``), or None.

        With ``long_poll_timeout`` the server waits up to that long (20 s at
        most) and answers as soon as a job arrives.
        """
        poll = _ms(long_poll_timeout, "long_poll_timeout")
        response = await self._call(
            self._stub.Reserve,
            pb.ReserveRequest(
                queue=_ref(tenant, namespace, queue),
                visibility_timeout_ms=_ms(visibility_timeout, "visibility_timeout"),
                long_poll_timeout_ms=poll,
            ),
            extra_timeout=poll / 1000,
        )
        return _job(response.job) if response.HasField("job") else None

    async def receive(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        max_jobs: int = 1,
        visibility_timeout: Duration | None = None,
        long_poll_timeout: Duration | None = None,
    ) -> list[Job]:
        """Take up to ``max_jobs`` jobs (at most 100) in one call."""
        poll = _ms(long_poll_timeout, "long_poll_timeout")
        response = await self._call(
            self._stub.Receive,
            pb.ReceiveRequest(
                queue=_ref(tenant, namespace, queue),
                max_jobs=max_jobs,
                visibility_timeout_ms=_ms(visibility_timeout, "visibility_timeout"),
                long_poll_timeout_ms=poll,
            ),
            extra_timeout=poll / 1000,
        )
        return [_job(j) for j in response.jobs]

    async def ack(self, tenant: str, namespace: str, queue: str, job_id: str) -> None:
        """Mark a reserved job done; it will not be delivered again."""
        _ref(tenant, namespace, queue)
        if not isinstance(job_id, str):
            raise FlowMeshInvalidArgumentError(f"job_id: must be str, got {type(job_id).__name__}")
        await self._acks.submit((tenant, namespace, queue), job_id)

    async def _ack_one(self, key: QueueKey, job_id: str) -> None:
        await self._call(self._stub.Ack, pb.AckRequest(queue=_ref(*key), job_id=job_id))

    async def _ack_many(self, key: QueueKey, job_ids: list[str]) -> list[Exception | None]:
        response = await self._call(
            self._stub.AckBatch, pb.AckBatchRequest(queue=_ref(*key), job_ids=job_ids)
        )
        return [
            from_status(status.code, status.message) if status.code else None
            for status in response.statuses
        ]

    async def nack(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        job_id: str,
        delay: Duration | None = None,
        error: str = "",
    ) -> bool:
        """Give a reserved job back: retried after ``delay`` (default: the retry policy's
        backoff), or dead-lettered when it was its last attempt (then returns True)."""
        request = pb.NackRequest(queue=_ref(tenant, namespace, queue), job_id=job_id, error=error)
        if delay is not None:
            request.delay_ms = _ms(delay, "delay")
        response = await self._call(self._stub.Nack, request)
        return bool(response.dead_lettered)

    async def get_stats(self, tenant: str, namespace: str, queue: str) -> QueueStats:
        r = await self._call(
            self._stub.GetStats,
            pb.GetStatsRequest(queue=_ref(tenant, namespace, queue)),
            idempotent=True,
        )
        return QueueStats(
            pending_jobs=r.pending_jobs,
            delayed_jobs=r.delayed_jobs,
            in_flight_jobs=r.in_flight_jobs,
            dlq_jobs=r.dlq_jobs,
            completed_jobs=r.completed_jobs,
            failed_jobs=r.failed_jobs,
            oldest_pending_age_ms=r.oldest_pending_age_ms,
        )

    async def set_retry_policy(
        self, tenant: str, namespace: str, queue: str, policy: RetryPolicy
    ) -> RetryPolicy:
        response = await self._call(
            self._stub.SetRetryPolicy,
            pb.SetRetryPolicyRequest(
                queue=_ref(tenant, namespace, queue),
                policy=pb.RetryPolicy(
                    max_attempts=policy.max_attempts,
                    initial_backoff_ms=_ms(policy.initial_backoff, "initial_backoff"),
                    max_backoff_ms=_ms(policy.max_backoff, "max_backoff"),
                    backoff_multiplier=policy.backoff_multiplier,
                    jitter=policy.jitter,
                ),
            ),
            idempotent=True,
        )
        return _policy(response)

    async def get_retry_policy(self, tenant: str, namespace: str, queue: str) -> RetryPolicy:
        response = await self._call(
            self._stub.GetRetryPolicy,
            pb.GetRetryPolicyRequest(queue=_ref(tenant, namespace, queue)),
            idempotent=True,
        )
        return _policy(response)

    async def list_dlq_jobs(
        self, tenant: str, namespace: str, queue: str, limit: int = 100
    ) -> list[Job]:
        """Dead-lettered jobs, oldest failure first, with their failure metadata."""
        response = await self._call(
            self._stub.ListDLQJobs,
            pb.ListDLQJobsRequest(queue=_ref(tenant, namespace, queue), limit=limit),
            idempotent=True,
        )
        return [_job(j) for j in response.jobs]

    async def replay_dlq_job(
        self, tenant: str, namespace: str, queue: str, job_id: str
    ) -> tuple[str, int]:
        """Move a dead-lettered job back onto its queue as a new job (attempts reset)."""
        response = await self._call(
            self._stub.ReplayDLQJob,
            pb.ReplayDLQJobRequest(queue=_ref(tenant, namespace, queue), job_id=job_id),
        )
        return response.job_id, int(response.seq)


class KVClient(_Part):
    """Key-value stores with per-key TTL."""

    @property
    def _stub(self) -> pb_grpc.KVStub:
        return self._client._stubs().kv

    async def set(
        self,
        tenant: str,
        namespace: str,
        store: str,
        key: str,
        value: bytes,
        ttl: Duration | None = None,
    ) -> None:
        """Store ``value`` under ``key``; with ``ttl`` it disappears after that long."""
        await self._call(
            self._stub.Set,
            pb.SetRequest(
                store=_ref(tenant, namespace, store),
                key=key,
                value=_bytes(value, "value"),
                ttl_ms=_ms(ttl, "ttl"),
            ),
            idempotent=True,
        )

    async def get(self, tenant: str, namespace: str, store: str, key: str) -> bytes:
        """The value; raises :class:`FlowMeshNotFoundError` for a missing or expired key."""
        response = await self._call(
            self._stub.Get,
            pb.GetRequest(store=_ref(tenant, namespace, store), key=key),
            idempotent=True,
        )
        return bytes(response.value)

    async def delete(self, tenant: str, namespace: str, store: str, key: str) -> bool:
        """Remove the key; True when it existed."""
        response = await self._call(
            self._stub.Delete,
            pb.DeleteRequest(store=_ref(tenant, namespace, store), key=key),
            idempotent=True,
        )
        return bool(response.deleted)

    async def exists(self, tenant: str, namespace: str, store: str, key: str) -> bool:
        response = await self._call(
            self._stub.Exists,
            pb.ExistsRequest(store=_ref(tenant, namespace, store), key=key),
            idempotent=True,
        )
        return bool(response.exists)

    async def iter_keys(
        self, tenant: str, namespace: str, store: str, prefix: str = "", page_size: int = 1000
    ) -> AsyncIterator[str]:
        """Every live key starting with ``prefix``, in order, fetched a page at a time."""
        token = ""
        while True:
            response = await self._call(
                self._stub.ListKeys,
                pb.ListKeysRequest(
                    store=_ref(tenant, namespace, store),
                    prefix=prefix,
                    limit=page_size,
                    page_token=token,
                ),
                idempotent=True,
            )
            for key in response.keys:
                yield key
            if not response.next_page_token:
                return
            token = response.next_page_token

    async def list_keys(
        self, tenant: str, namespace: str, store: str, prefix: str = ""
    ) -> list[str]:
        """Every live key starting with ``prefix`` (all pages; see :meth:`iter_keys`)."""
        return [key async for key in self.iter_keys(tenant, namespace, store, prefix)]


class _Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.health = pb_grpc.HealthStub(channel)
        self.stream = pb_grpc.StreamStub(channel)
        self.queue = pb_grpc.QueueStub(channel)
        self.kv = pb_grpc.KVStub(channel)


class FlowMesh:
    """A connection to a FlowMesh server.

    ::

        async with FlowMesh(endpoint="localhost:50051", auth_token="...") as client:
            await client.kv.set("tenant", "ns", "store", "key", b"value")
    """

    def __init__(
        self,
        endpoint: str = "localhost:50051",
        auth_token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 10.0,
        tls: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._tls = tls
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {auth_token}"),) if auth_token else ()
        )
        self._channel: grpc.aio.Channel | None = None
        self._stub_set: _Stubs | None = None
        self.stream = StreamClient(self)
        self.queue = QueueClient(self)
        self.kv = KVClient(self)

    def _stubs(self) -> _Stubs:
        if self._stub_set is None:
            raise FlowMeshConnectionError(
                "not connected: call `await client.connect()` or use `async with FlowMesh(...)`"
            )
        return self._stub_set

    async def connect(self) -> None:
        """Open the channel and wait until the server answers (or raise FlowMeshConnectionError)."""
        if self._channel is not None:
            return
        if self._tls:
            channel = grpc.aio.secure_channel(
                self.endpoint, grpc.ssl_channel_credentials(), options=_CHANNEL_OPTIONS
            )
        else:
            channel = grpc.aio.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS)
        try:
            await asyncio.wait_for(channel.channel_ready(), self.connect_timeout)
        except TimeoutError:
            await channel.close()
            raise FlowMeshConnectionError(
                f"FlowMesh server at {self.endpoint} did not answer within "
                f"{self.connect_timeout:g}s"
            ) from None
        self._channel = channel
        self._stub_set = _Stubs(channel)

    async def close(self) -> None:
        channel, self._channel, self._stub_set = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> FlowMesh:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def health_check(self) -> bool:
        """True when the server process answers (no token needed)."""
        try:
            response = await self._stubs().health.Check(
                pb.HealthCheckRequest(), timeout=self.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return bool(response.healthy)

    async def readiness_check(self) -> bool:
        """True when the server and its store are ready to serve."""
        try:
            response = await self._stubs().health.Ready(
                pb.ReadinessRequest(), timeout=self.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return bool(response.ready)
