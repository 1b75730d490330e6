"""A client built from the published contract alone talks to `flowmesh serve`.

The client's message classes come from ``data/flowmesh-v1-wire.json`` (the
flowmesh.v1 contract as data) through dynamic descriptors, not from our
generated code, so these tests see exactly what any published client sees:
published fields and units only (seconds, unix nanoseconds), one message per
Subscribe frame, a Status in every response and gRPC status codes on failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

pytestmark = pytest.mark.integration

CONTRACT = json.loads((Path(__file__).parent / "data" / "flowmesh-v1-wire.json").read_text())
PACKAGE = CONTRACT["package"]
_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
}
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


def contract_pool() -> descriptor_pool.DescriptorPool:
    """The contract's messages and services as a descriptor pool."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="contract.proto", package=PACKAGE, syntax="proto3"
    )
    for name, fields in CONTRACT["messages"].items():
        msg = fdp.message_type.add(name=name)
        for spec in fields:
            field = msg.field.add(name=spec["name"], number=spec["number"])
            kind: str = spec["type"]
            field.label = _REPEATED if spec.get("repeated") else _OPTIONAL
            if kind.startswith("map<"):
                key, value = kind[4:-1].split(",")
                entry = msg.nested_type.add(
                    name="".join(p.title() for p in spec["name"].split("_")) + "Entry"
                )
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=_SCALARS[key], label=_OPTIONAL)
                entry.field.add(name="value", number=2, type=_SCALARS[value], label=_OPTIONAL)
                field.type, field.label = _MESSAGE, _REPEATED
                field.type_name = f".{PACKAGE}.{name}.{entry.name}"
            elif kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type, field.type_name = _MESSAGE, f".{PACKAGE}.{kind}"
    for service, rpcs in CONTRACT["services"].items():
        svc = fdp.service.add(name=service)
        for rpc in rpcs:
            svc.method.add(
                name=rpc["rpc"],
                input_type=f".{PACKAGE}.{rpc['request']}",
                output_type=f".{PACKAGE}.{rpc['response']}",
                server_streaming=rpc["server_streaming"],
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return pool


POOL = contract_pool()
RPCS = {(s, r["rpc"]): r for s, rpcs in CONTRACT["services"].items() for r in rpcs}


def message_class(name: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


class WireClient:
    """Calls by service and RPC name with keyword fields, like any generated stub."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel

    def _method(self, service: str, rpc: str) -> tuple[str, Any, Any]:
        spec = RPCS[(service, rpc)]
        return (
            f"/{PACKAGE}.{service}/{rpc}",
            message_class(spec["request"]),
            message_class(spec["response"]),
        )

    async def call(self, service: str, rpc: str, **fields: Any) -> Any:
        path, request, response = self._method(service, rpc)
        call = self.channel.unary_unary(
            path,
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        return await call(request(**fields), timeout=30)

    def stream(self, service: str, rpc: str, **fields: Any) -> Any:
        path, request, response = self._method(service, rpc)
        call = self.channel.unary_stream(
            path,
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        return call(request(**fields), timeout=60)


def rp(tenant: str, ns: str, kind: str, name: str) -> dict[str, str]:
    return {"tenant": tenant, "namespace": ns, "resource_type": kind, "name": name}


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


@pytest.fixture
async def wire(server: str) -> AsyncIterator[WireClient]:
    async with grpc.aio.insecure_channel(server) as channel:
        await channel.channel_ready()
        yield WireClient(channel)


T = "acme"


async def test_health_and_readiness(wire: WireClient):
    health = await wire.call("HealthService", "HealthCheck")
    assert health.status.code == 0
    ready = await wire.call("HealthService", "ReadinessCheck")
    assert (ready.status.code, ready.ready) == (0, True)


async def test_write_read_subscribe_commit(wire: WireClient, ns: str):
    stream = rp(T, ns, "stream", "orders")
    before = time.time_ns()
    written = await wire.call(
        "StreamService",
        "WriteEvents",
        resource_path=stream,
        events=[{"payload": b'{"n": %d}' % i, "headers": {"i": str(i)}} for i in range(3)],
    )
    assert written.status.code == 0 and list(written.offsets) == [0, 1, 2]

    read = await wire.call(
        "StreamService", "ReadStream", resource_path=stream, offset=1, max_messages=10
    )
    assert read.status.code == 0
    assert [(m.offset, m.payload, dict(m.headers)) for m in read.messages] == [
        (1, b'{"n": 1}', {"i": "1"}),
        (2, b'{"n": 2}', {"i": "2"}),
    ]
    first = read.messages[0]
    assert first.resource_path == f"{T}/{ns}/stream/orders" and first.partition == 0
    assert before - 5_000_000 <= first.created_at <= time.time_ns()  # unix nanoseconds
    assert first.id and first.id != read.messages[1].id and first.schema_version == 0

    # Subscribe: one message per frame, from the committed offset.
    await wire.call(
        "StreamService",
        "CommitOffset",
        resource_path=stream,
        consumer_group="billing",
        partition=0,
        offset=0,
    )
    got = await wire.call(
        "StreamService", "GetOffset", resource_path=stream, consumer_group="billing"
    )
    assert (got.status.code, got.offset) == (0, 0)
    frames = wire.stream(
        "StreamService",
        "Subscribe",
        resource_path=stream,
        consumer_group="billing",
        start_offset=-1,
    )
    seen = []
    async for frame in frames:
        assert frame.status.code == 0 and frame.HasField("message")
        seen.append(frame.message.offset)
        if len(seen) == 2:
            break
    frames.cancel()
    assert seen == [1, 2]
    state = await wire.call(
        "StreamService", "GetConsumerGroupState", resource_path=stream, consumer_group="billing"
    )
    s = state.state
    assert (s.stream, s.group, s.committed_offset, s.latest_offset, s.lag) == (
        f"{T}/{ns}/stream/orders",
        "billing",
        0,
        2,
        2,
    )
    latest = await wire.call("StreamService", "GetLatestOffset", resource_path=stream)
    assert latest.offset == 2

    # -2: only new messages, pushed as they are written.
    live = wire.stream(
        "StreamService", "Subscribe", resource_path=stream, consumer_group="live", start_offset=-2
    )
    task = asyncio.ensure_future(live.read())
    await asyncio.sleep(0.3)
    await wire.call(
        "StreamService", "WriteEvents", resource_path=stream, events=[{"payload": b"new"}]
    )
    frame = await asyncio.wait_for(task, 10)
    live.cancel()
    assert (frame.message.offset, frame.message.payload) == (3, b"new")


async def test_queue_reserve_visibility_expiry_ack(wire: WireClient, ns: str):
    queue = rp(T, ns, "queue", "jobs")
    done = await wire.call(
        "QueueService", "Enqueue", resource_path=queue, payload=b"work", headers={"p": "high"}
    )
    assert done.status.code == 0 and done.job_id and done.seq == 1
    first = await wire.call(
        "QueueService", "Reserve", resource_path=queue, visibility_timeout_seconds=1
    )
    job = first.job
    assert (job.id, job.payload, dict(job.headers), job.attempts) == (
        done.job_id,
        b"work",
        {"p": "high"},
        1,
    )
    assert job.resource_path == f"{T}/{ns}/queue/jobs"
    # Seconds in, nanoseconds out: the reservation ends a second after it began.
    assert 900_000_000 <= job.reserve_until - time.time_ns() <= 1_100_000_000
    empty = await wire.call("QueueService", "Reserve", resource_path=queue)
    assert empty.status.code == 0 and not empty.HasField("job")
    await asyncio.sleep(1.2)  # the visibility timeout ran out: deliverable again
    again = await wire.call(
        "QueueService",
        "Reserve",
        resource_path=queue,
        visibility_timeout_seconds=30,
        long_poll_timeout_seconds=2,
    )
    assert (again.job.id, again.job.attempts) == (done.job_id, 2)
    acked = await wire.call("QueueService", "ACK", resource_path=queue, job_id=again.job.id)
    assert acked.status.code == 0
    stats = (await wire.call("QueueService", "GetQueueStats", resource_path=queue)).stats
    assert (stats.total_jobs, stats.pending_jobs, stats.in_flight_jobs, stats.completed_jobs) == (
        1,
        0,
        0,
        1,
    )
    # A repeated ACK (a retry whose answer was lost) succeeds; the job is gone.
    repeated = await wire.call("QueueService", "ACK", resource_path=queue, job_id=again.job.id)
    assert repeated.status.code == 0
    err = await rpc_error(
        wire.call("QueueService", "NACK", resource_path=queue, job_id=again.job.id)
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND

    # Retry policy in seconds, as published; NACK with delay 0 uses its backoff.
    policy = {
        "max_attempts": 2,
        "initial_backoff_seconds": 5,
        "max_backoff_seconds": 60,
        "backoff_multiplier": 2.0,
        "backoff_strategy": "fixed",
    }
    await wire.call("QueueService", "SetRetryPolicy", resource_path=queue, policy=policy)
    got = (await wire.call("QueueService", "GetRetryPolicy", resource_path=queue)).policy
    assert (
        got.max_attempts,
        got.initial_backoff_seconds,
        got.max_backoff_seconds,
        got.backoff_strategy,
    ) == (2, 5, 60, "fixed")
    await wire.call("QueueService", "Enqueue", resource_path=queue, payload=b"flaky")
    job = (await wire.call("QueueService", "Reserve", resource_path=queue)).job
    await wire.call("QueueService", "NACK", resource_path=queue, job_id=job.id)
    stats = (await wire.call("QueueService", "GetQueueStats", resource_path=queue)).stats
    assert (stats.pending_jobs, stats.in_flight_jobs) == (0, 0)  # waiting out its 5 s backoff
    received = await wire.call("QueueService", "Receive", resource_path=queue, max_jobs=10)
    assert list(received.jobs) == []


async def test_kv_ttl_and_listing(wire: WireClient, ns: str):
    store = rp(T, ns, "kv", "cache")
    await wire.call("KVService", "Set", resource_path=store, key="short", value=b"x", ttl_seconds=1)
    await wire.call("KVService", "Set", resource_path=store, key="long", value=b"y")
    got = await wire.call("KVService", "Get", resource_path=store, key="short")
    assert (got.status.code, got.value) == (0, b"x")
    listed = await wire.call("KVService", "ListKeys", resource_path=store)
    assert list(listed.keys) == ["long", "short"]  # every key, no paging asked for
    await asyncio.sleep(1.2)
    gone = await wire.call("KVService", "Exists", resource_path=store, key="short")
    assert (gone.status.code, gone.exists) == (0, False)
    err = await rpc_error(wire.call("KVService", "Get", resource_path=store, key="short"))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "short" in (err.details() or "")
    deleted = await wire.call("KVService", "Delete", resource_path=store, key="long")
    assert deleted.status.code == 0
    assert list((await wire.call("KVService", "ListKeys", resource_path=store)).keys) == []


async def test_schemas_validate_writes(wire: WireClient, ns: str):
    tenant = f"t{ns[3:]}"
    definition = json.dumps(
        {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    ).encode()
    reg = await wire.call(
        "SchemaService",
        "RegisterSchema",
        tenant=tenant,
        schema_id="order",
        schema_type="jsonschema",
        version=1,
        definition=definition,
    )
    assert reg.status.code == 0
    got = await wire.call("SchemaService", "GetSchema", tenant=tenant, schema_id="order")
    assert (got.schema.id, got.schema.version, got.schema.type) == ("order", 1, "jsonschema")
    assert got.schema.created_at > 1_600_000_000 * 10**9
    listed = await wire.call("SchemaService", "ListSchemas", tenant=tenant)
    assert [(s.id, s.version) for s in listed.schemas] == [("order", 1)]

    stream = rp(tenant, ns, "stream", "orders")
    attached = await wire.call(
        "SchemaService", "SetResourceSchema", resource_path=stream, schema_id="order", version=0
    )
    assert attached.status.code == 0
    ok = await wire.call(
        "StreamService", "WriteEvents", resource_path=stream, events=[{"payload": b'{"id": "a"}'}]
    )
    assert ok.status.code == 0
    err = await rpc_error(
        wire.call(
            "StreamService",
            "WriteEvents",
            resource_path=stream,
            events=[{"payload": b'{"id": "b"}'}, {"payload": b'{"id": 7}'}],
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.details() or "").startswith("events[1].payload: $.id: ")
    read = await wire.call("StreamService", "ReadStream", resource_path=stream, max_messages=10)
    assert [(m.payload, m.schema_version) for m in read.messages] == [(b'{"id": "a"}', 1)]

    busy = await rpc_error(
        wire.call("SchemaService", "DeleteSchema", tenant=tenant, schema_id="order", version=1)
    )
    assert busy.code() == grpc.StatusCode.FAILED_PRECONDITION
    unknown = await rpc_error(
        wire.call(
            "SchemaService", "SetResourceSchema", resource_path=stream, schema_id="nope", version=0
        )
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


async def test_replay_delivers_a_range_to_the_sandbox_group(wire: WireClient, ns: str):
    stream = rp(T, ns, "stream", "audit")
    await wire.call(
        "StreamService",
        "WriteEvents",
        resource_path=stream,
        events=[{"payload": b"e%d" % i} for i in range(6)],
    )
    created = await wire.call(
        "ReplayService",
        "CreateReplaySession",
        resource_path=stream,
        start_offset=1,
        end_offset=4,
        sandbox_consumer_group="_replay_debug",
    )
    session = created.session
    assert created.status.code == 0 and session.status == "created"
    assert (session.stream, session.start_offset, session.end_offset) == (
        f"{T}/{ns}/stream/audit",
        1,
        4,
    )
    started = await wire.call("ReplayService", "StartReplay", session_id=session.session_id)
    assert started.status.code == 0
    frames = wire.stream(
        "StreamService",
        "Subscribe",
        resource_path=stream,
        consumer_group="_replay_debug",
        start_offset=-1,
    )
    delivered = [f.message.payload async for f in frames]  # ends when the range is delivered
    assert delivered == [b"e1", b"e2", b"e3", b"e4"]
    done = (
        await wire.call("ReplayService", "GetReplaySession", session_id=session.session_id)
    ).session
    assert done.status == "completed"
    assert (
        done.progress.current_offset,
        done.progress.messages_replayed,
        done.progress.errors,
    ) == (5, 4, 0)
    assert done.progress.completed_at >= done.progress.started_at > 0
    listed = await wire.call("ReplayService", "ListReplaySessions", resource_path=stream)
    assert [s.session_id for s in listed.sessions] == [session.session_id]
    await wire.call("ReplayService", "DeleteReplaySession", session_id=session.session_id)
    missing = await rpc_error(
        wire.call("ReplayService", "GetReplaySession", session_id=session.session_id)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


async def test_failures_carry_status_codes_naming_the_field(wire: WireClient, ns: str):
    wrong = await rpc_error(
        wire.call(
            "StreamService",
            "WriteEvents",
            resource_path=rp(T, ns, "queue", "s"),
            events=[{"payload": b"x"}],
        )
    )
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (wrong.details() or "").startswith("resource_path.resource_type: must be 'stream'")
    missing = await rpc_error(
        wire.call("StreamService", "ReadStream", resource_path=rp(T, ns, "stream", "none"))
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    frames = wire.stream(
        "StreamService",
        "Subscribe",
        resource_path=rp(T, ns, "stream", "s"),
        consumer_group="g",
        start_offset=-7,
    )
    first = await frames.read()  # the failure comes as a frame with its status first
    assert first.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert first.status.message.startswith("start_offset: ")
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await frames.read()
    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
