"""QueueService: published RPCs plus EnqueueBatch and AckBatch, over QueueOps."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.errors import InvalidArgument, ServiceError
from flowmesh.server.grpc_api.base import millis, nanos, ok, status_message
from flowmesh.server.grpc_api.listing import QueueListing, queue_stats_pb
from flowmesh.server.ops import NewJob
from flowmesh.server.store.records import Enqueued, Resource, RetryPolicy, StoredJob

_QUEUE = ("queue",)


def job(queue: Resource, j: StoredJob) -> pb.Job:
    return pb.Job(
        id=j.id,
        resource_path=queue.typed_path("queue"),
        seq=j.seq,
        payload=j.payload,
        headers=j.headers,
        created_at=nanos(j.enqueued_at_ms),
        visible_at=nanos(j.visible_at_ms),
        reserve_until=nanos(j.reserve_until_ms),
        attempts=j.attempts,
        original_queue=j.original_queue,
        failed_at=nanos(j.failed_at_ms),
        last_error=j.last_error,
    )


def policy_message(p: RetryPolicy) -> pb.RetryPolicy:
    return pb.RetryPolicy(
        max_attempts=p.max_attempts,
        initial_backoff_seconds=p.initial_backoff_ms // 1000,
        max_backoff_seconds=p.max_backoff_ms // 1000,
        backoff_multiplier=p.backoff_multiplier,
        backoff_strategy=p.backoff_strategy,
        initial_backoff_ms=p.initial_backoff_ms,
        max_backoff_ms=p.max_backoff_ms,
        jitter=p.jitter,
    )


def new_job(request: pb.EnqueueRequest) -> NewJob:
    return NewJob(request.payload, request.headers, millis(request, "delay_ms", "delay_seconds"),
                  request.dedup_id, request.producer_id, request.producer_seq)  # fmt: skip


def enqueued(done: Enqueued) -> pb.EnqueueResponse:
    return pb.EnqueueResponse(status=ok(), job_id=done.job_id, seq=done.seq,
                              duplicate=done.duplicate)  # fmt: skip


class QueueService(QueueListing, pb_grpc.QueueServiceServicer):
    async def Enqueue(
        self, request: pb.EnqueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnqueueResponse:
        async def body() -> pb.EnqueueResponse:
            queue = self.resource(request, *_QUEUE)
            return enqueued(await self.ops.queues.enqueue(self.caller(context), queue,
                                                          new_job(request)))  # fmt: skip

        return await self.call("queue.enqueue", context, body)

    async def EnqueueBatch(
        self, request: pb.EnqueueBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnqueueBatchResponse:
        async def body() -> pb.EnqueueBatchResponse:
            queue = self.resource(request, *_QUEUE)
            jobs: list[NewJob | ServiceError] = [
                InvalidArgument(f"jobs[{i}].resource_path", "must be unset (the batch names it)")
                if j.HasField("resource_path") else new_job(j)
                for i, j in enumerate(request.jobs)
            ]  # fmt: skip
            results = await self.ops.queues.enqueue_batch(self.caller(context), queue, jobs)
            return pb.EnqueueBatchResponse(
                status=ok(),
                results=[
                    pb.EnqueueResponse(status=status_message(r, "queue.enqueue"))
                    if isinstance(r, ServiceError) else enqueued(r)
                    for r in results
                ],
            )  # fmt: skip

        return await self.call("queue.enqueue_batch", context, body)

    async def Reserve(
        self, request: pb.ReserveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReserveResponse:
        async def body() -> pb.ReserveResponse:
            queue = self.resource(request, *_QUEUE)
            jobs = await self.ops.queues.receive(
                self.caller(context), queue, 1,
                millis(request, "visibility_timeout_ms", "visibility_timeout_seconds"),
                millis(request, "long_poll_timeout_ms", "long_poll_timeout_seconds"),
            )  # fmt: skip
            if not jobs:
                return pb.ReserveResponse(status=ok("no jobs available"))
            return pb.ReserveResponse(status=ok(), job=job(queue, jobs[0]))

        return await self.call("queue.reserve", context, body)

    async def Receive(
        self, request: pb.ReceiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReceiveResponse:
        async def body() -> pb.ReceiveResponse:
            queue = self.resource(request, *_QUEUE)
            jobs = await self.ops.queues.receive(
                self.caller(context), queue, request.max_jobs,
                millis(request, "visibility_timeout_ms", "visibility_timeout_seconds"),
                millis(request, "long_poll_timeout_ms", "long_poll_timeout_seconds"),
            )  # fmt: skip
            return pb.ReceiveResponse(status=ok(), jobs=[job(queue, j) for j in jobs])

        return await self.call("queue.receive", context, body)

    async def ACK(
        self, request: pb.ACKRequest, context: grpc.aio.ServicerContext
    ) -> pb.ACKResponse:
        async def body() -> pb.ACKResponse:
            queue = self.resource(request, *_QUEUE)
            await self.ops.queues.ack(self.caller(context), queue, request.job_id)
            return pb.ACKResponse(status=ok())

        return await self.call("queue.ack", context, body)

    async def AckBatch(
        self, request: pb.AckBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.AckBatchResponse:
        async def body() -> pb.AckBatchResponse:
            queue = self.resource(request, *_QUEUE)
            results = await self.ops.queues.ack_batch(self.caller(context), queue,
                                                      list(request.job_ids))  # fmt: skip
            return pb.AckBatchResponse(
                status=ok(),
                results=[ok() if r is None else status_message(r, "queue.ack") for r in results],
            )

        return await self.call("queue.ack_batch", context, body)

    async def NACK(
        self, request: pb.NACKRequest, context: grpc.aio.ServicerContext
    ) -> pb.NACKResponse:
        async def body() -> pb.NACKResponse:
            queue = self.resource(request, *_QUEUE)
            if request.HasField("delay_ms"):
                delay: int | None = request.delay_ms
            else:  # published: 0 means "the retry policy decides"
                delay = request.delay_seconds * 1000 if request.delay_seconds else None
            dead = await self.ops.queues.nack(self.caller(context), queue, request.job_id,
                                              delay, request.error)  # fmt: skip
            return pb.NACKResponse(status=ok(), dead_lettered=dead)

        return await self.call("queue.nack", context, body)

    async def GetQueueStats(
        self, request: pb.GetQueueStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatsResponse:
        async def body() -> pb.GetQueueStatsResponse:
            s = await self.ops.queues.stats(self.caller(context), self.resource(request, *_QUEUE))
            return pb.GetQueueStatsResponse(status=ok(), stats=queue_stats_pb(s))

        return await self.call("queue.get_stats", context, body)

    async def SetRetryPolicy(
        self, request: pb.SetRetryPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetRetryPolicyResponse:
        async def body() -> pb.SetRetryPolicyResponse:
            queue = self.resource(request, *_QUEUE)
            p = request.policy
            default = RetryPolicy()
            policy = RetryPolicy(
                max_attempts=p.max_attempts,
                initial_backoff_ms=millis(p, "initial_backoff_ms", "initial_backoff_seconds"),
                max_backoff_ms=millis(p, "max_backoff_ms", "max_backoff_seconds"),
                # Published clients may leave the multiplier unset (0) with a
                # strategy that does not use it.
                backoff_multiplier=p.backoff_multiplier or default.backoff_multiplier,
                jitter=p.jitter if p.HasField("jitter") else default.jitter,
                backoff_strategy=p.backoff_strategy or default.backoff_strategy,
            )
            saved = await self.ops.queues.set_retry_policy(self.caller(context), queue, policy)
            return pb.SetRetryPolicyResponse(status=ok(), policy=policy_message(saved))

        return await self.call("queue.set_retry_policy", context, body)

    async def GetRetryPolicy(
        self, request: pb.GetRetryPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRetryPolicyResponse:
        async def body() -> pb.GetRetryPolicyResponse:
            queue = self.resource(request, *_QUEUE)
            policy = await self.ops.queues.retry_policy(self.caller(context), queue)
            return pb.GetRetryPolicyResponse(status=ok(), policy=policy_message(policy))

        return await self.call("queue.get_retry_policy", context, body)

    async def ListDLQJobs(
        self, request: pb.ListDLQJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDLQJobsResponse:
        async def body() -> pb.ListDLQJobsResponse:
            queue = self.resource(request, *_QUEUE)
            jobs, token = await self.ops.queues.list_dlq_page(
                self.caller(context), queue, request.max_jobs, request.page_token
            )
            return pb.ListDLQJobsResponse(
                status=ok(), jobs=[job(queue, j) for j in jobs], next_page_token=token
            )

        return await self.call("queue.list_dlq", context, body)

    async def ReplayDLQJob(
        self, request: pb.ReplayDLQJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReplayDLQJobResponse:
        async def body() -> pb.ReplayDLQJobResponse:
            queue = self.resource(request, *_QUEUE)
            done = await self.ops.queues.replay_dlq(self.caller(context), queue, request.job_id)
            return pb.ReplayDLQJobResponse(status=ok(), job_id=done.job_id, seq=done.seq)

        return await self.call("queue.replay_dlq", context, body)
