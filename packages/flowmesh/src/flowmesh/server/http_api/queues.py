"""``/api/v1/queues``: list, enqueue, reserve/receive, ack/nack, stats, retry
policy, dead-letter queue, schema."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from flowmesh._tracing import stamp_headers
from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument, ServiceError
from flowmesh.server.http_api.common import (
    NS_PER_MS,
    b64,
    body,
    enc,
    endpoint,
    integer,
    number,
    ops_of,
    path_dict,
    path_resource,
    query_int,
    seconds_to_ms,
    string_map,
    success,
)
from flowmesh.server.http_api.streams import attach_schema
from flowmesh.server.ops import NewJob, QueueInfo
from flowmesh.server.store.records import QueueStats, Resource, RetryPolicy, StoredJob
from mimeia_telemetry import tracing

BASE = "/api/v1/queues/{tenant}/{namespace}/{name}"


def _ns(ms: int) -> int:
    return ms * NS_PER_MS if ms else 0


def job_json(queue: Resource, j: StoredJob) -> dict[str, Any]:
    return {
        "id": j.id,
        "resource_path": queue.typed_path("queue"),
        "seq": j.seq,
        "payload": enc(j.payload),
        "headers": j.headers,
        "created_at": _ns(j.enqueued_at_ms),
        "visible_at": _ns(j.visible_at_ms),
        "reserve_until": _ns(j.reserve_until_ms),
        "attempts": j.attempts,
        "original_queue": j.original_queue,
        "failed_at": _ns(j.failed_at_ms),
        "last_error": j.last_error,
    }


def stats_json(s: QueueStats) -> dict[str, int]:
    return {
        "total_jobs": s.total_jobs,
        "pending_jobs": s.pending_jobs,
        "in_flight_jobs": s.in_flight_jobs,
        "completed_jobs": s.completed_jobs,
        "failed_jobs": s.failed_jobs,
        "oldest_job_age_seconds": s.oldest_pending_age_ms // 1000,
        "delayed_jobs": s.delayed_jobs,
        "dlq_jobs": s.dlq_jobs,
        "oldest_job_age_ms": s.oldest_pending_age_ms,
    }


def queue_json(info: QueueInfo) -> dict[str, Any]:
    return {**path_dict(info.resource, "queue"), "stats": stats_json(info.stats)}


def policy_json(p: RetryPolicy) -> dict[str, Any]:
    return {
        "max_attempts": p.max_attempts,
        "initial_backoff_seconds": p.initial_backoff_ms // 1000,
        "max_backoff_seconds": p.max_backoff_ms // 1000,
        "backoff_multiplier": p.backoff_multiplier,
        "backoff_strategy": p.backoff_strategy,
        "initial_backoff_ms": p.initial_backoff_ms,
        "max_backoff_ms": p.max_backoff_ms,
        "jitter": p.jitter,
    }


def _new_job(data: Any, at: str) -> NewJob:
    if not isinstance(data, dict):
        raise InvalidArgument(at.rstrip(".") or "body", "must be an object")
    dedup = data.get("dedup_id", "")
    if not isinstance(dedup, str):
        raise InvalidArgument(f"{at}dedup_id", "must be a string")
    return NewJob(
        payload=b64(data.get("payload"), f"{at}payload"),
        headers=string_map(data.get("headers"), f"{at}headers"),
        delay_ms=seconds_to_ms(data, "delay_seconds") if "delay_ms" not in data
        else integer(data["delay_ms"], f"{at}delay_ms"),
        dedup_id=dedup,
    )  # fmt: skip


@endpoint("queue.list")
async def list_queues(request: Request, caller: Caller) -> dict[str, Any]:
    q = request.query_params
    page = await ops_of(request).listing.queues_page(
        caller, q.get("tenant", ""), q.get("namespace", ""),
        query_int(request, "page_size"), q.get("page_token", ""),
    )  # fmt: skip
    return success(queues=[queue_json(i) for i in page.items],
                   next_page_token=page.next_page_token)  # fmt: skip


@endpoint("queue.enqueue")
async def enqueue(request: Request, caller: Caller) -> dict[str, Any]:
    """One job (``payload``, ``delay_seconds``, ``headers``), or several as
    ``{"jobs": [...]}`` (each with its own result)."""
    queue = path_resource(request, "queue")
    data = await body(request)
    ops = ops_of(request).queues
    if "jobs" in data:
        items = data["jobs"]
        if not isinstance(items, list):
            raise InvalidArgument("jobs", "must be a list of job objects")
        decoded: list[NewJob | ServiceError] = []
        for i, item in enumerate(items):
            try:
                decoded.append(_new_job(item, f"jobs[{i}]."))
            except InvalidArgument as exc:
                decoded.append(exc)
        # the worker continues this request's trace (a caller's header wins)
        if tracing.tracing_enabled():
            stamp_headers([j.headers for j in decoded if isinstance(j, NewJob)])
        results = await ops.enqueue_batch(caller, queue, decoded)
        return success(results=[
            {"status": "error", "message": r.message} if isinstance(r, ServiceError)
            else {"status": "success", "job_id": r.job_id, "seq": r.seq,
                  "duplicate": r.duplicate}
            for r in results
        ])  # fmt: skip
    job = _new_job(data, "")
    if tracing.tracing_enabled():
        stamp_headers([job.headers])
    done = await ops.enqueue(caller, queue, job)
    return success(job_id=done.job_id, seq=done.seq, duplicate=done.duplicate)


async def _receive(request: Request, caller: Caller, many: bool) -> list[StoredJob]:
    data = await body(request, required=False)
    return await ops_of(request).queues.receive(
        caller, path_resource(request, "queue"),
        integer(data.get("max_jobs"), "max_jobs", 1) if many else 1,
        seconds_to_ms(data, "visibility_timeout_seconds"),
        seconds_to_ms(data, "long_poll_timeout_seconds"),
    )  # fmt: skip


@endpoint("queue.reserve")
async def reserve(request: Request, caller: Caller) -> dict[str, Any]:
    jobs = await _receive(request, caller, many=False)
    queue = path_resource(request, "queue")
    return success(job=job_json(queue, jobs[0]) if jobs else None)


@endpoint("queue.receive")
async def receive(request: Request, caller: Caller) -> dict[str, Any]:
    jobs = await _receive(request, caller, many=True)
    queue = path_resource(request, "queue")
    return success(jobs=[job_json(queue, j) for j in jobs])


@endpoint("queue.ack")
async def ack(request: Request, caller: Caller) -> dict[str, Any]:
    await ops_of(request).queues.ack(
        caller, path_resource(request, "queue"), request.path_params["job_id"]
    )
    return success(message="job acknowledged successfully")


@endpoint("queue.nack")
async def nack(request: Request, caller: Caller) -> dict[str, Any]:
    """``delay_seconds`` omitted or 0: the retry policy's backoff."""
    data = await body(request, required=False)
    delay = seconds_to_ms(data, "delay_seconds")
    error = data.get("error", "")
    if not isinstance(error, str):
        raise InvalidArgument("error", "must be a string")
    dead = await ops_of(request).queues.nack(
        caller, path_resource(request, "queue"), request.path_params["job_id"],
        delay or None, error,
    )  # fmt: skip
    return success(message="job NACKed successfully", dead_lettered=dead)


@endpoint("queue.stats")
async def stats(request: Request, caller: Caller) -> dict[str, Any]:
    s = await ops_of(request).queues.stats(caller, path_resource(request, "queue"))
    return success(stats=stats_json(s))


@endpoint("queue.set_retry_policy")
async def set_retry_policy(request: Request, caller: Caller) -> dict[str, Any]:
    data = await body(request)
    default = RetryPolicy()
    policy = RetryPolicy(
        max_attempts=integer(data.get("max_attempts"), "max_attempts", default.max_attempts),
        initial_backoff_ms=seconds_to_ms(data, "initial_backoff_seconds",
                                         default.initial_backoff_ms),
        max_backoff_ms=seconds_to_ms(data, "max_backoff_seconds", default.max_backoff_ms),
        backoff_multiplier=number(data.get("backoff_multiplier"), "backoff_multiplier",
                                  default.backoff_multiplier) or default.backoff_multiplier,
        jitter=number(data.get("jitter"), "jitter", default.jitter),
        backoff_strategy=str(data.get("backoff_strategy") or default.backoff_strategy),
    )  # fmt: skip
    saved = await ops_of(request).queues.set_retry_policy(
        caller, path_resource(request, "queue"), policy
    )
    return success(message="retry policy set successfully", policy=policy_json(saved))


@endpoint("queue.get_retry_policy")
async def get_retry_policy(request: Request, caller: Caller) -> dict[str, Any]:
    policy = await ops_of(request).queues.retry_policy(caller, path_resource(request, "queue"))
    return success(policy=policy_json(policy))


@endpoint("queue.list_dlq")
async def list_dlq(request: Request, caller: Caller) -> dict[str, Any]:
    queue = path_resource(request, "queue")
    jobs, token = await ops_of(request).queues.list_dlq_page(
        caller, queue, query_int(request, "max_jobs"), request.query_params.get("page_token", "")
    )
    return success(jobs=[job_json(queue, j) for j in jobs], next_page_token=token)


@endpoint("queue.replay_dlq")
async def replay_dlq(request: Request, caller: Caller) -> dict[str, Any]:
    done = await ops_of(request).queues.replay_dlq(
        caller, path_resource(request, "queue"), request.path_params["job_id"]
    )
    return success(job_id=done.job_id, seq=done.seq)


@endpoint("queue.set_schema")
async def set_schema(request: Request, caller: Caller) -> dict[str, Any]:
    return await attach_schema(request, caller, "queue")


ROUTES = [
    Route("/api/v1/queues", list_queues, methods=["GET"]),
    Route(BASE + "/jobs", enqueue, methods=["POST"]),
    Route(BASE + "/reserve", reserve, methods=["POST"]),
    Route(BASE + "/receive", receive, methods=["POST"]),
    Route(BASE + "/jobs/{job_id}/ack", ack, methods=["POST"]),
    Route(BASE + "/jobs/{job_id}/nack", nack, methods=["POST"]),
    Route(BASE + "/stats", stats, methods=["GET"]),
    Route(BASE + "/retry-policy", set_retry_policy, methods=["PUT"]),
    Route(BASE + "/retry-policy", get_retry_policy, methods=["GET"]),
    Route(BASE + "/dlq/jobs", list_dlq, methods=["GET"]),
    Route(BASE + "/dlq/jobs/{job_id}/replay", replay_dlq, methods=["POST"]),
    Route(BASE + "/schema", set_schema, methods=["PUT"]),
]
