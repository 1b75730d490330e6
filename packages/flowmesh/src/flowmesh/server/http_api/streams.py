"""``/api/v1/streams``: list, write, read, offsets, consumer groups, stats, schema."""

from __future__ import annotations

from binascii import a2b_base64
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from flowmesh._tracing import stamp_headers
from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument
from flowmesh.server.http_api.common import (
    NS_PER_MS,
    b64,
    body,
    enc,
    endpoint,
    integer,
    ops_of,
    path_dict,
    path_resource,
    query_int,
    string_map,
    success,
)
from flowmesh.server.ops import GroupState, StreamInfo, message_id
from flowmesh.server.store.records import Resource, StoredMessage
from mimeia_telemetry import tracing

BASE = "/api/v1/streams/{tenant}/{namespace}/{name}"


def message_json(stream: Resource, m: StoredMessage) -> dict[str, Any]:
    return {
        "id": message_id(stream, m.partition, m.offset),
        "resource_path": stream.typed_path("stream"),
        "partition": m.partition,
        "offset": m.offset,
        "payload": enc(m.payload),
        "headers": m.headers,
        "created_at": m.timestamp_ms * NS_PER_MS,
        "schema_version": m.schema_version,
    }


def stream_json(info: StreamInfo) -> dict[str, Any]:
    return {
        **path_dict(info.resource, "stream"),
        "partitions": info.config.partitions,
        "latest_offsets": info.latest_offsets,
        "messages": info.messages,
        "retention_max_messages": info.config.retention_max_messages,
        "retention_max_age_ms": info.config.retention_max_age_ms,
    }


def group_json(s: GroupState) -> dict[str, Any]:
    return {"stream": s.stream.typed_path("stream"), "group": s.group, "partition": s.partition,
            "committed_offset": s.committed_offset, "latest_offset": s.latest_offset,
            "lag": s.lag}  # fmt: skip


def decode_events(events: list[Any]) -> list[tuple[bytes, dict[str, str]]]:
    """``[{payload: base64, headers: {...}}]`` -> (bytes, headers) pairs; the
    error names the first bad event's field."""
    try:  # the common case in one tight loop; any surprise takes the checked path
        fast = [(a2b_base64(e["payload"], strict_mode=True), e.get("headers") or {})
                for e in events]  # fmt: skip
        if all(not h or all(type(x) is str for x in h.values()) for _, h in fast):
            return fast
    except Exception:  # noqa: S110 - the checked path below names what is wrong
        pass
    decoded: list[tuple[bytes, dict[str, str]]] = []
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise InvalidArgument(f"events[{i}]", "must be an object")
        decoded.append((b64(e.get("payload"), f"events[{i}].payload"),
                        string_map(e.get("headers"), f"events[{i}].headers")))  # fmt: skip
    return decoded


@endpoint("stream.list")
async def list_streams(request: Request, caller: Caller) -> dict[str, Any]:
    q = request.query_params
    page = await ops_of(request).listing.streams_page(
        caller, q.get("tenant", ""), q.get("namespace", ""),
        query_int(request, "page_size"), q.get("page_token", ""),
    )  # fmt: skip
    return success(streams=[stream_json(i) for i in page.items],
                   next_page_token=page.next_page_token)  # fmt: skip


@endpoint("stream.write")
async def write_events(request: Request, caller: Caller) -> dict[str, Any]:
    stream = path_resource(request, "stream")
    data = await body(request)
    events = data.get("events")
    if not isinstance(events, list):
        raise InvalidArgument("events", "must be a list of {payload, headers} objects")
    partition = data.get("partition")
    decoded = decode_events(events)
    # the reader continues this request's trace (a caller's header wins)
    if tracing.tracing_enabled():
        stamp_headers([h for _, h in decoded])
    placed = await ops_of(request).streams.write(
        caller,
        stream,
        decoded,
        None if partition is None else integer(partition, "partition"),
    )
    return success(offsets=[o for _, o in placed], partitions=[p for p, _ in placed])


@endpoint("stream.read")
async def read_stream(request: Request, caller: Caller) -> dict[str, Any]:
    stream = path_resource(request, "stream")
    got = await ops_of(request).streams.read(
        caller, stream, query_int(request, "partition"), query_int(request, "offset"),
        query_int(request, "max_messages"), query_int(request, "start_time"),
        query_int(request, "max_bytes"),
    )  # fmt: skip
    return success(messages=[message_json(stream, m) for m in got.messages],
                   next_offset=got.next_offset)  # fmt: skip


@endpoint("stream.latest_offset")
async def latest_offset(request: Request, caller: Caller) -> dict[str, Any]:
    stream = path_resource(request, "stream")
    offset = await ops_of(request).streams.latest_offset(
        caller, stream, query_int(request, "partition")
    )
    return success(offset=offset)


@endpoint("stream.stats")
async def stream_stats(request: Request, caller: Caller) -> dict[str, Any]:
    info = await ops_of(request).listing.stream(caller, path_resource(request, "stream"))
    partition = query_int(request, "partition")
    latest = info.latest_offsets[partition] if partition < len(info.latest_offsets) else -1
    return success(stats={"latest_offset": latest, "partition": partition, **stream_json(info)})


@endpoint("stream.commit_offset")
async def commit_offset(request: Request, caller: Caller) -> dict[str, Any]:
    data = await body(request)
    if "offset" not in data:
        raise InvalidArgument("offset", "is required")
    await ops_of(request).streams.commit_offset(
        caller, path_resource(request, "stream"), request.path_params["group"],
        integer(data.get("partition", request.query_params.get("partition")), "partition"),
        integer(data["offset"], "offset"),
    )  # fmt: skip
    return success(message="offset committed successfully")


@endpoint("stream.get_offset")
async def get_offset(request: Request, caller: Caller) -> dict[str, Any]:
    offset = await ops_of(request).streams.committed_offset(
        caller, path_resource(request, "stream"), request.path_params["group"],
        query_int(request, "partition"),
    )  # fmt: skip
    return success(offset=offset)


@endpoint("stream.group_state")
async def group_state(request: Request, caller: Caller) -> dict[str, Any]:
    state = await ops_of(request).streams.group_state(
        caller, path_resource(request, "stream"), request.path_params["group"],
        query_int(request, "partition"),
    )  # fmt: skip
    return success(state=group_json(state))


@endpoint("stream.list_groups")
async def list_groups(request: Request, caller: Caller) -> dict[str, Any]:
    found = await ops_of(request).listing.groups(caller, path_resource(request, "stream"))
    return success(consumer_groups=[group_json(s) for s in found])


@endpoint("stream.set_schema")
async def set_schema(request: Request, caller: Caller) -> dict[str, Any]:
    return await attach_schema(request, caller, "stream")


async def attach_schema(request: Request, caller: Caller, kind: str) -> dict[str, Any]:
    """PUT .../schema ``{"schema_id", "version"}`` (version 0: the latest;
    schema_id "" detaches)."""
    data = await body(request)
    schema_id = data.get("schema_id", "")
    if not isinstance(schema_id, str):
        raise InvalidArgument("schema_id", "must be a string")
    version = await ops_of(request).schemas.attach(
        caller, kind, path_resource(request, kind), schema_id, integer(data.get("version"),
        "version"), detach=not schema_id,
    )  # fmt: skip
    return success(message="schema attached successfully" if schema_id else "schema detached",
                   version=version)  # fmt: skip


ROUTES = [
    Route("/api/v1/streams", list_streams, methods=["GET"]),
    Route(BASE + "/events", write_events, methods=["POST"]),
    Route(BASE + "/messages", read_stream, methods=["GET"]),
    Route(BASE + "/offsets/latest", latest_offset, methods=["GET"]),
    Route(BASE + "/stats", stream_stats, methods=["GET"]),
    Route(BASE + "/consumer-groups", list_groups, methods=["GET"]),
    Route(BASE + "/consumer-groups/{group}/offsets", commit_offset, methods=["POST"]),
    Route(BASE + "/consumer-groups/{group}/offsets", get_offset, methods=["GET"]),
    Route(BASE + "/consumer-groups/{group}/state", group_state, methods=["GET"]),
    Route(BASE + "/schema", set_schema, methods=["PUT"]),
]
