"""``/api/v1/replay/sessions``: create (``?stream=tenant/namespace/name``), list,
get, start, pause, resume, stop, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument
from flowmesh.server.http_api.common import NS_PER_MS, body, endpoint, integer, ops_of, success
from flowmesh.server.store.records import ReplayRecord, Resource


def _ns(ms: int) -> int:
    return ms * NS_PER_MS if ms else 0


def session_json(r: ReplayRecord) -> dict[str, Any]:
    return {
        "session_id": r.session_id,
        "stream": r.resource.typed_path("stream"),
        "partition": r.partition,
        "start_offset": r.start_offset,
        "end_offset": r.end_offset,
        "start_timestamp": _ns(r.start_time_ms),
        "end_timestamp": _ns(r.end_time_ms),
        "sandbox_consumer_group": r.sandbox_group,
        "status": r.status,
        "max_messages_per_second": r.max_rate,
        "progress": {
            "current_offset": r.cursor,
            "messages_replayed": r.replayed,
            "errors": r.errors,
            "started_at": _ns(r.started_at_ms),
            "paused_at": _ns(r.paused_at_ms),
            "completed_at": _ns(r.completed_at_ms),
        },
        "created_at": _ns(r.created_at_ms),
        "updated_at": _ns(r.updated_at_ms),
    }


def _stream(text: str | None) -> Resource | None:
    """``tenant/namespace/name`` (or the typed ``tenant/namespace/stream/name``)."""
    if not text:
        return None
    parts = text.split("/")
    if len(parts) == 4:
        parts = [parts[0], parts[1], parts[3]] if parts[2] == "stream" else []
    if len(parts) != 3:
        raise InvalidArgument("stream", f"must be tenant/namespace/name, got {text!r}")
    return v.resource(parts[0], parts[1], "stream", parts[2], ("stream",), "stream")


@endpoint("replay.create")
async def create(request: Request, caller: Caller) -> dict[str, Any]:
    stream = _stream(request.query_params.get("stream"))
    data = await body(request)
    if stream is None:
        stream = _stream(data.get("stream"))
    if stream is None:
        raise InvalidArgument("stream", "is required (?stream=tenant/namespace/name)")
    start_ns = integer(data.get("start_timestamp"), "start_timestamp")
    group = data.get("sandbox_consumer_group", "")
    if not isinstance(group, str):
        raise InvalidArgument("sandbox_consumer_group", "must be a string")
    record = await ops_of(request).replay.create(
        caller, stream, group,
        partition=integer(data.get("partition"), "partition"),
        start_offset=integer(data.get("start_offset"), "start_offset", -1 if start_ns else 0),
        start_time_ns=start_ns,
        end_offset=integer(data.get("end_offset"), "end_offset", -1),
        end_time_ns=integer(data.get("end_timestamp"), "end_timestamp"),
        max_rate=integer(data.get("max_messages_per_second"), "max_messages_per_second"),
    )  # fmt: skip
    return success(session=session_json(record))


@endpoint("replay.list")
async def list_sessions(request: Request, caller: Caller) -> dict[str, Any]:
    stream = _stream(request.query_params.get("stream"))
    found = await ops_of(request).replay.list_sessions(caller, stream)
    return success(sessions=[session_json(r) for r in found])


@endpoint("replay.get")
async def get_session(request: Request, caller: Caller) -> dict[str, Any]:
    record = await ops_of(request).replay.get(caller, request.path_params["session_id"])
    return success(session=session_json(record))


@endpoint("replay.delete")
async def delete_session(request: Request, caller: Caller) -> dict[str, Any]:
    await ops_of(request).replay.delete(caller, request.path_params["session_id"])
    return success(message="replay session deleted successfully")


def _move(verb: str, past: str) -> Callable[[Request], Awaitable[Any]]:
    @endpoint(f"replay.{verb}")
    async def move(request: Request, caller: Caller) -> dict[str, Any]:
        action = getattr(ops_of(request).replay, verb)
        record: ReplayRecord = await action(caller, request.path_params["session_id"])
        return success(message=f"replay {past} successfully", session=session_json(record))

    return move


SESSION = "/api/v1/replay/sessions/{session_id}"
ROUTES = [
    Route("/api/v1/replay/sessions", create, methods=["POST"]),
    Route("/api/v1/replay/sessions", list_sessions, methods=["GET"]),
    Route(SESSION, get_session, methods=["GET"]),
    Route(SESSION, delete_session, methods=["DELETE"]),
    Route(SESSION + "/start", _move("start", "started"), methods=["POST"]),
    Route(SESSION + "/pause", _move("pause", "paused"), methods=["POST"]),
    Route(SESSION + "/resume", _move("resume", "resumed"), methods=["POST"]),
    Route(SESSION + "/stop", _move("stop", "stopped"), methods=["POST"]),
]
