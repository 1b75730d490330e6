"""The SDK's module layout and types as FlowMesh's own Python SDK has them
(flowmesh.client, .exceptions, .types, .utils), next to our richer fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import grpc
import pydantic
import pytest

from flowmesh import RetryPolicy as TopLevelRetryPolicy
from flowmesh.client import FlowMesh
from flowmesh.exceptions import (
    FlowMeshAuthError,
    FlowMeshConnectionError,
    FlowMeshError,
    FlowMeshFailedPreconditionError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    FlowMeshPermissionDeniedError,
    error_for_status,
    handle_grpc_error,
)
from flowmesh.types import ConsumerGroupState, Event, Job, Message, QueueStats, RetryPolicy
from flowmesh.utils import build_resource_path, nanos_to_timestamp, timestamp_to_nanos


def test_client_keeps_endpoint_and_token_and_builds_metadata():
    anonymous = FlowMesh(endpoint="localhost:6000")
    assert (anonymous.endpoint, anonymous.auth_token) == ("localhost:6000", None)
    assert anonymous._get_metadata() is None
    signed = FlowMesh(endpoint="localhost:6000", auth_token="s3cret")
    assert signed.auth_token == "s3cret"
    assert signed._get_metadata() == [("authorization", "Bearer s3cret")]


async def test_entering_a_client_for_an_impossible_endpoint_fails_as_a_connection_error():
    client = FlowMesh(endpoint="localhost:99999")
    with pytest.raises(FlowMeshConnectionError, match="port 99999 is out of range"):
        async with client:
            pass


def test_errors_carry_message_code_and_details():
    error = FlowMeshError("it broke", code=3, details="more")
    assert (str(error), error.message, error.code, error.details) == (
        "it broke",
        "it broke",
        3,
        "more",
    )
    for cls in (
        FlowMeshAuthError,
        FlowMeshConnectionError,
        FlowMeshNotFoundError,
        FlowMeshPermissionDeniedError,
        FlowMeshInvalidArgumentError,
    ):
        assert issubclass(cls, FlowMeshError)
    assert str(FlowMeshAuthError("bad token")) == "bad token"


class _RpcFailure(Exception):
    """Anything with code() and details(), as grpc's errors have."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, FlowMeshNotFoundError),
        (grpc.StatusCode.UNAUTHENTICATED, FlowMeshAuthError),
        (grpc.StatusCode.PERMISSION_DENIED, FlowMeshPermissionDeniedError),
        (grpc.StatusCode.UNAVAILABLE, FlowMeshConnectionError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, FlowMeshConnectionError),
        (grpc.StatusCode.INVALID_ARGUMENT, FlowMeshInvalidArgumentError),
        (grpc.StatusCode.FAILED_PRECONDITION, FlowMeshFailedPreconditionError),
        (grpc.StatusCode.INTERNAL, FlowMeshError),
    ],
)
def test_grpc_failures_become_typed_errors_naming_the_operation(
    code: grpc.StatusCode, cls: type[FlowMeshError]
):
    error = handle_grpc_error(_RpcFailure(code, "stream 'x' does not exist"), "read")
    assert type(error) is cls
    assert str(error) == "read failed: stream 'x' does not exist"
    assert (error.code, error.details) == (code, "stream 'x' does not exist")
    same = error_for_status(code.value[0], "stream 'x' does not exist", "read")
    assert (type(same), str(same)) == (cls, str(error))


def test_message_and_job_have_the_published_fields():
    now = datetime.now(UTC)
    message = Message(
        id="m1",
        resource_path="t/n/stream/s",
        partition=2,
        offset=7,
        payload=b"p",
        headers={"k": "v"},
        created_at=now,
        schema_version=3,
    )
    assert (message.id, message.offset, message.schema_version) == ("m1", 7, 3)
    assert message.timestamp == now and message.timestamp_ms == round(now.timestamp() * 1000)
    job = Job(
        id="j1",
        resource_path="t/n/queue/q",
        seq=5,
        payload=b"p",
        created_at=now,
        visible_at=now,
        reserve_until=now + timedelta(seconds=30),
        attempts=2,
    )
    assert (job.seq, job.attempts, job.reserve_until - job.visible_at) == (
        5,
        2,
        timedelta(seconds=30),
    )
    assert job.enqueued_at == now and job.failed_at is None and job.last_error == ""
    event = Event(payload=b"x", headers={"key": "a"})
    assert (event.payload, event.headers) == (b"x", {"key": "a"})
    with pytest.raises(pydantic.ValidationError):
        Event(payload=123)  # type: ignore[arg-type]


def test_queue_stats_and_group_state_have_the_published_fields():
    stats = QueueStats(
        total_jobs=9,
        pending_jobs=2,
        in_flight_jobs=1,
        completed_jobs=5,
        failed_jobs=1,
        oldest_job_age_seconds=4,
        oldest_pending_age_ms=4200,
    )
    assert (stats.total_jobs, stats.oldest_job_age_seconds) == (9, 4)
    assert stats.oldest_pending_age == timedelta(milliseconds=4200)
    state = ConsumerGroupState(
        stream="t/n/stream/s",
        group="billing",
        partition=0,
        committed_offset=3,
        latest_offset=9,
        lag=6,
    )
    assert (state.stream, state.group, state.consumer_group, state.lag) == (
        "t/n/stream/s",
        "billing",
        "billing",
        6,
    )


def test_retry_policy_takes_published_seconds_and_strategies():
    published = RetryPolicy(
        max_attempts=4,
        initial_backoff_seconds=2,
        max_backoff_seconds=90,
        backoff_multiplier=3.0,
        backoff_strategy="linear",
    )
    assert published == RetryPolicy(
        max_attempts=4,
        initial_backoff=timedelta(seconds=2),
        max_backoff=timedelta(seconds=90),
        backoff_multiplier=3.0,
        backoff_strategy="linear",
    )
    assert (published.initial_backoff_seconds, published.max_backoff_seconds) == (2.0, 90.0)
    assert RetryPolicy().backoff_strategy == "exponential" and RetryPolicy().jitter == 0.2
    assert RetryPolicy(max_attempts=0).max_attempts == 0  # unlimited
    with pytest.raises(pydantic.ValidationError, match="backoff_strategy"):
        RetryPolicy(backoff_strategy="random")  # type: ignore[arg-type]
    assert TopLevelRetryPolicy is RetryPolicy


def test_resource_paths_and_nanosecond_times():
    assert build_resource_path("t", "n", "queue", "q") == {
        "tenant": "t",
        "namespace": "n",
        "resource_type": "queue",
        "name": "q",
    }
    new_year = datetime(2024, 1, 1, tzinfo=UTC)
    assert timestamp_to_nanos(new_year) == 1_704_067_200_000_000_000
    assert nanos_to_timestamp(1_704_067_200_000_000_000, UTC) == new_year
    plus_two = timezone(timedelta(hours=2))
    assert nanos_to_timestamp(1_704_067_200_000_000_000, plus_two).hour == 2
    # Naive datetimes are local time both ways, like datetime.timestamp().
    local = datetime.now().replace(microsecond=123456)
    assert nanos_to_timestamp(timestamp_to_nanos(local)) == local
    assert timestamp_to_nanos(local) == round(local.timestamp() * 1e6) * 1000
