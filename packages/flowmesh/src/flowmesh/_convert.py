"""Between the SDK's values and the wire: argument checks, units, messages.

Durations go out twice: whole seconds in the published field (what any
FlowMesh server reads) and exact milliseconds in ours (what this server
prefers). Times come back as unix nanoseconds and become aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowmesh.exceptions import FlowMeshInvalidArgumentError
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.types import (
    ConsumerGroupState,
    Job,
    KVStoreInfo,
    Message,
    QueueInfo,
    QueueStats,
    ReplayProgress,
    ReplaySession,
    RetryPolicy,
    Schema,
    StreamInfo,
)
from flowmesh.utils import timestamp_to_nanos

Duration = timedelta | float | int


def millis(value: Duration | None, field: str) -> int | None:
    """A duration (timedelta or seconds) in whole milliseconds; None stays None."""
    if value is None:
        return None
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


def nanos(value: datetime | None, field: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, datetime):
        raise FlowMeshInvalidArgumentError(
            f"{field}: must be a datetime, got {type(value).__name__}"
        )
    return timestamp_to_nanos(value)


def as_bytes(value: object, field: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise FlowMeshInvalidArgumentError(f"{field}: must be bytes, got {type(value).__name__}")


def path(tenant: str, namespace: str, kind: str, name: str) -> pb.ResourcePath:
    for field, value in (("tenant", tenant), ("namespace", namespace), ("name", name)):
        if not isinstance(value, str):
            raise FlowMeshInvalidArgumentError(f"{field}: must be str, got {type(value).__name__}")
    return pb.ResourcePath(tenant=tenant, namespace=namespace, resource_type=kind, name=name)


def when(ns: int) -> datetime | None:
    if not ns:
        return None
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def message(m: pb.Message) -> Message:
    return Message.model_construct(
        id=m.id,
        resource_path=m.resource_path,
        partition=m.partition,
        offset=m.offset,
        payload=m.payload,
        headers=dict(m.headers),
        created_at=when(m.created_at),
        schema_version=m.schema_version,
    )


def job(j: pb.Job) -> Job:
    return Job.model_construct(
        id=j.id,
        resource_path=j.resource_path,
        seq=j.seq,
        payload=j.payload,
        headers=dict(j.headers),
        created_at=when(j.created_at),
        visible_at=when(j.visible_at),
        reserve_until=when(j.reserve_until),
        attempts=j.attempts,
        original_queue=j.original_queue,
        failed_at=when(j.failed_at),
        last_error=j.last_error,
    )


def stats(s: pb.QueueStats) -> QueueStats:
    return QueueStats(
        total_jobs=s.total_jobs,
        pending_jobs=s.pending_jobs,
        in_flight_jobs=s.in_flight_jobs,
        completed_jobs=s.completed_jobs,
        failed_jobs=s.failed_jobs,
        oldest_job_age_seconds=s.oldest_job_age_seconds,
        delayed_jobs=s.delayed_jobs,
        dlq_jobs=s.dlq_jobs,
        oldest_pending_age_ms=s.oldest_job_age_ms,
    )


def policy_out(p: RetryPolicy) -> pb.RetryPolicy:
    initial = millis(p.initial_backoff, "initial_backoff") or 0
    ceiling = millis(p.max_backoff, "max_backoff") or 0
    return pb.RetryPolicy(
        max_attempts=p.max_attempts,
        initial_backoff_seconds=initial // 1000,
        max_backoff_seconds=ceiling // 1000,
        backoff_multiplier=p.backoff_multiplier,
        backoff_strategy=p.backoff_strategy,
        initial_backoff_ms=initial,
        max_backoff_ms=ceiling,
        jitter=p.jitter,
    )


def policy_in(p: pb.RetryPolicy) -> RetryPolicy:
    initial = p.initial_backoff_ms if p.HasField("initial_backoff_ms") else (
        p.initial_backoff_seconds * 1000)  # fmt: skip
    ceiling = p.max_backoff_ms if p.HasField("max_backoff_ms") else p.max_backoff_seconds * 1000
    return RetryPolicy(
        max_attempts=p.max_attempts,
        initial_backoff=timedelta(milliseconds=initial),
        max_backoff=timedelta(milliseconds=ceiling),
        backoff_multiplier=p.backoff_multiplier or 2.0,
        backoff_strategy=p.backoff_strategy or "exponential",  # type: ignore[arg-type]
        jitter=p.jitter if p.HasField("jitter") else 0.0,
    )


def group_state(s: pb.ConsumerGroupState) -> ConsumerGroupState:
    return ConsumerGroupState(stream=s.stream, group=s.group, partition=s.partition,
                              committed_offset=s.committed_offset,
                              latest_offset=s.latest_offset, lag=s.lag)  # fmt: skip


def filter_of(tenant: str, namespace: str) -> pb.ListResourcesFilter:
    return pb.ListResourcesFilter(tenant=tenant, namespace=namespace)


def stream_info(i: pb.StreamInfo) -> StreamInfo:
    p, c = i.resource_path, i.config
    return StreamInfo(tenant=p.tenant, namespace=p.namespace, name=p.name,
                      partitions=c.partitions, latest_offsets=list(i.latest_offsets),
                      messages=i.messages, retention_max_messages=c.retention_max_messages,
                      retention_max_age_ms=c.retention_max_age_ms)  # fmt: skip


def queue_info(i: pb.QueueInfo) -> QueueInfo:
    p = i.resource_path
    return QueueInfo(tenant=p.tenant, namespace=p.namespace, name=p.name, stats=stats(i.stats))


def kv_store_info(i: pb.KVStoreInfo) -> KVStoreInfo:
    p = i.resource_path
    return KVStoreInfo(tenant=p.tenant, namespace=p.namespace, name=p.name, keys=i.keys)


def schema(s: pb.Schema) -> Schema:
    return Schema(id=s.id, type=s.type, version=s.version, definition=s.definition,
                  created_at=when(s.created_at))  # fmt: skip


def session(s: pb.ReplaySession) -> ReplaySession:
    p = s.progress
    return ReplaySession(
        session_id=s.session_id,
        stream=s.stream,
        partition=s.partition,
        start_offset=s.start_offset,
        end_offset=s.end_offset,
        start_timestamp=when(s.start_timestamp),
        end_timestamp=when(s.end_timestamp),
        sandbox_consumer_group=s.sandbox_consumer_group,
        status=s.status,
        progress=ReplayProgress(
            current_offset=p.current_offset,
            messages_replayed=p.messages_replayed,
            errors=p.errors,
            started_at=when(p.started_at),
            paused_at=when(p.paused_at),
            completed_at=when(p.completed_at),
        ),
        created_at=when(s.created_at),
        updated_at=when(s.updated_at),
        max_messages_per_second=s.max_messages_per_second,
    )


def set_duration(
    request: object, seconds_field: str, ms_field: str, value: Duration | None, name: str
) -> int:
    """Put a duration on a request in both units (whole seconds, exact ms); its ms
    (0 when None, which leaves both fields unset)."""
    ms = millis(value, name)
    if ms is None:
        return 0
    setattr(request, seconds_field, ms // 1000)
    setattr(request, ms_field, ms)
    return ms
