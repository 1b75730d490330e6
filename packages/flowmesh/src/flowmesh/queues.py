"""``client.queue``: job queues with visibility timeouts, retries and a
dead-letter queue."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from flowmesh import _convert as cv
from flowmesh._coalesce import Coalescer
from flowmesh._part import Part, every_page
from flowmesh.exceptions import FlowMeshInvalidArgumentError, error_for_status
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.types import DLQPage, Job, QueueInfo, QueuePage, QueueStats, RetryPolicy

if TYPE_CHECKING:
    from flowmesh.client import FlowMesh

QueueKey = tuple[str, str, str]
MAX_BATCH_JOBS = 100  # the server's cap on one EnqueueBatch / AckBatch


class QueueClient(Part):
    """Enqueues (and acks) to one queue that overlap in time share a round trip:
    while one is in flight, the next ones wait and leave together as one batch
    request. Each call still returns only when its own job is stored (or
    acked), with its own result or error.
    """

    def __init__(self, client: FlowMesh) -> None:
        super().__init__(client)
        self._enqueues = Coalescer(self._enqueue_one, self._enqueue_many, MAX_BATCH_JOBS)
        self._acks = Coalescer(self._ack_one, self._ack_many, MAX_BATCH_JOBS)

    @property
    def _stub(self) -> pb_grpc.QueueServiceStub:
        return self._client._stubs().queue

    async def enqueue(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        payload: bytes,
        delay: cv.Duration | None = None,
        headers: dict[str, str] | None = None,
        dedup_id: str | None = None,
    ) -> tuple[str, int]:
        """Add a job; returns (job id, sequence number).

        With ``dedup_id``, enqueueing the same id again within the server's
        deduplication window returns the first job instead of adding one.
        """
        cv.path(tenant, namespace, "queue", queue)  # argument checks before anything is queued
        job = pb.EnqueueRequest(
            payload=cv.as_bytes(payload, "payload"),
            headers=headers or {},
            dedup_id=dedup_id or "",
            producer_id=self._client.producer_id,
            producer_seq=self._client._next_seq(),
        )
        cv.set_duration(job, "delay_seconds", "delay_ms", delay, "delay")
        response = await self._enqueues.submit((tenant, namespace, queue), job)
        return response.job_id, int(response.seq)

    async def _enqueue_one(self, key: QueueKey, job: pb.EnqueueRequest) -> pb.EnqueueResponse:
        job.resource_path.CopyFrom(cv.path(key[0], key[1], "queue", key[2]))
        return await self._call(self._stub.Enqueue, job, "queue.enqueue", idempotent=True)

    async def _enqueue_many(
        self, key: QueueKey, jobs: list[pb.EnqueueRequest]
    ) -> list[pb.EnqueueResponse | Exception]:
        request = pb.EnqueueBatchRequest(
            resource_path=cv.path(key[0], key[1], "queue", key[2]), jobs=jobs
        )
        response = await self._call(
            self._stub.EnqueueBatch, request, "queue.enqueue", idempotent=True
        )
        return [
            error_for_status(r.status.code, r.status.message, "queue.enqueue")
            if r.status.code else r
            for r in response.results
        ]  # fmt: skip

    async def reserve(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        visibility_timeout: cv.Duration | None = None,
        long_poll_timeout: cv.Duration | None = None,
    ) -> Job | None:
        """Take one job (hidden from others for ``visibility_timeout``, default 30 s),
        or None. With ``long_poll_timeout`` the server waits up to that long (20 s
        at most) and answers as soon as a job arrives."""
        request = pb.ReserveRequest(resource_path=cv.path(tenant, namespace, "queue", queue))
        cv.set_duration(request, "visibility_timeout_seconds", "visibility_timeout_ms",
                        visibility_timeout, "visibility_timeout")  # fmt: skip
        poll = cv.set_duration(request, "long_poll_timeout_seconds", "long_poll_timeout_ms",
                               long_poll_timeout, "long_poll_timeout")  # fmt: skip
        response = await self._call(
            self._stub.Reserve, request, "queue.reserve", idempotent=True,
            extra_timeout=poll / 1000,
        )  # fmt: skip
        return cv.job(response.job) if response.HasField("job") else None

    async def receive(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        max_jobs: int = 1,
        visibility_timeout: cv.Duration | None = None,
        long_poll_timeout: cv.Duration | None = None,
    ) -> list[Job]:
        """Take up to ``max_jobs`` jobs (at most 100) in one call."""
        request = pb.ReceiveRequest(
            resource_path=cv.path(tenant, namespace, "queue", queue), max_jobs=max_jobs
        )
        cv.set_duration(request, "visibility_timeout_seconds", "visibility_timeout_ms",
                        visibility_timeout, "visibility_timeout")  # fmt: skip
        poll = cv.set_duration(request, "long_poll_timeout_seconds", "long_poll_timeout_ms",
                               long_poll_timeout, "long_poll_timeout")  # fmt: skip
        response = await self._call(
            self._stub.Receive, request, "queue.receive", idempotent=True,
            extra_timeout=poll / 1000,
        )  # fmt: skip
        return [cv.job(j) for j in response.jobs]

    async def ack(self, tenant: str, namespace: str, queue: str, job_id: str) -> None:
        """Mark a reserved job done; it will not be delivered again. Acking a job
        that is already acked succeeds (the server remembers acks for its dedup
        window), so a retried ack is safe."""
        cv.path(tenant, namespace, "queue", queue)
        if not isinstance(job_id, str):
            raise FlowMeshInvalidArgumentError(f"job_id: must be str, got {type(job_id).__name__}")
        await self._acks.submit((tenant, namespace, queue), job_id)

    async def _ack_one(self, key: QueueKey, job_id: str) -> None:
        request = pb.ACKRequest(resource_path=cv.path(key[0], key[1], "queue", key[2]),
                                job_id=job_id)  # fmt: skip
        await self._call(self._stub.ACK, request, "queue.ack", idempotent=True)

    async def _ack_many(self, key: QueueKey, job_ids: list[str]) -> list[Exception | None]:
        request = pb.AckBatchRequest(
            resource_path=cv.path(key[0], key[1], "queue", key[2]), job_ids=job_ids
        )
        response = await self._call(self._stub.AckBatch, request, "queue.ack", idempotent=True)
        return [
            error_for_status(s.code, s.message, "queue.ack") if s.code else None
            for s in response.results
        ]

    async def nack(
        self,
        tenant: str,
        namespace: str,
        queue: str,
        job_id: str,
        delay: cv.Duration | None = None,
        error: str = "",
    ) -> bool:
        """Give a reserved job back: retried after ``delay`` (default: the retry policy's
        backoff), or dead-lettered when it was its last attempt (then returns True)."""
        request = pb.NACKRequest(
            resource_path=cv.path(tenant, namespace, "queue", queue), job_id=job_id, error=error
        )
        cv.set_duration(request, "delay_seconds", "delay_ms", delay, "delay")
        # A retry that finds the job no longer in flight means the lost attempt
        # was applied (the job is waiting again, or dead-lettered).
        response = await self._call(
            self._stub.NACK, request, "queue.nack", idempotent=True, if_gone=pb.NACKResponse
        )
        return bool(response.dead_lettered)

    async def get_stats(self, tenant: str, namespace: str, queue: str) -> QueueStats:
        request = pb.GetQueueStatsRequest(resource_path=cv.path(tenant, namespace, "queue", queue))
        response = await self._call(
            self._stub.GetQueueStats, request, "queue.get_stats", idempotent=True
        )
        return cv.stats(response.stats)

    async def set_retry_policy(
        self, tenant: str, namespace: str, queue: str, policy: RetryPolicy
    ) -> RetryPolicy:
        """Set the queue's retry policy; the policy as the server stored it."""
        request = pb.SetRetryPolicyRequest(
            resource_path=cv.path(tenant, namespace, "queue", queue), policy=cv.policy_out(policy)
        )
        response = await self._call(
            self._stub.SetRetryPolicy, request, "queue.set_retry_policy", idempotent=True
        )
        return cv.policy_in(response.policy) if response.HasField("policy") else policy

    async def get_retry_policy(self, tenant: str, namespace: str, queue: str) -> RetryPolicy:
        request = pb.GetRetryPolicyRequest(resource_path=cv.path(tenant, namespace, "queue", queue))
        response = await self._call(
            self._stub.GetRetryPolicy, request, "queue.get_retry_policy", idempotent=True
        )
        return cv.policy_in(response.policy)

    async def list_dlq_jobs(
        self, tenant: str, namespace: str, queue: str, limit: int = 100
    ) -> list[Job]:
        """The first ``limit`` dead-lettered jobs, oldest failure first, with their
        failure metadata (see :meth:`list_dlq_jobs_page` for the rest)."""
        return (await self.list_dlq_jobs_page(tenant, namespace, queue, limit)).jobs

    async def list_dlq_jobs_page(
        self, tenant: str, namespace: str, queue: str, page_size: int = 100, page_token: str = ""
    ) -> DLQPage:
        """One page (at most ``page_size``, up to 1000) of dead-lettered jobs,
        oldest failure first, from where ``page_token`` (a previous page's
        ``next_page_token``) left off. The token is an extension of this server."""
        request = pb.ListDLQJobsRequest(
            resource_path=cv.path(tenant, namespace, "queue", queue),
            max_jobs=page_size,
            page_token=page_token,
        )
        response = await self._call(
            self._stub.ListDLQJobs, request, "queue.list_dlq_jobs", idempotent=True
        )
        return DLQPage(
            jobs=[cv.job(j) for j in response.jobs], next_page_token=response.next_page_token
        )

    async def replay_dlq_job(
        self, tenant: str, namespace: str, queue: str, job_id: str
    ) -> tuple[str, int]:
        """Move a dead-lettered job back onto its queue as a new job (attempts reset)."""
        request = pb.ReplayDLQJobRequest(
            resource_path=cv.path(tenant, namespace, "queue", queue), job_id=job_id
        )
        response = await self._call(self._stub.ReplayDLQJob, request, "queue.replay_dlq_job")
        return response.job_id, int(response.seq)

    async def list_page(
        self, tenant: str = "", namespace: str = "", page_size: int = 100, page_token: str = ""
    ) -> QueuePage:
        """One page (at most ``page_size``, up to 1000) of the queues this token
        may read (of ``tenant``/``namespace`` when given), by path, with their
        statistics, from where ``page_token`` left off. An extension of this server."""
        request = pb.ListQueuesRequest(
            filter=cv.filter_of(tenant, namespace), page_size=page_size, page_token=page_token
        )
        response = await self._call(self._stub.ListQueues, request, "queue.list", idempotent=True)
        return QueuePage(
            queues=[cv.queue_info(i) for i in response.queues],
            next_page_token=response.next_page_token,
        )

    async def list(
        self, tenant: str = "", namespace: str = "", page_size: int = 1000
    ) -> builtins.list[QueueInfo]:
        """Every queue this token may read (all pages; see :meth:`list_page`)."""
        return await every_page(
            lambda token: self.list_page(tenant, namespace, page_size, token),
            lambda page: page.queues,
        )
