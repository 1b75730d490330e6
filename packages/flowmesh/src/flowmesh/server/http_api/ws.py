"""``/ws``: live views over a WebSocket, for writes from gRPC and HTTP alike.

The client sends ``{"type": "subscribe", "payload": {"topics": [...]}}`` (and
``unsubscribe``); each topic is checked against its token like a call, then
answered ``{"type": "subscribed", "topic": T}`` or ``{"type": "error",
"topic": T, "payload": {"message", "code"}}``. Topics and what they push:

* ``stream.tail.<tenant>/<namespace>/<name>[/<partition>]``: ``stream.message``,
  every message written from now on (read from the store, so writes through
  any server sharing it);
* ``stream.stats.<path>``: ``stream.stats`` now and after writes;
* ``queue.stats.<path>``: ``queue.stats`` now and after enqueues, deliveries,
  acks and nacks;
* ``kv.update.<path>``: ``kv.update`` ``{"op": "set"|"delete", "key"}``;
* ``replay.session.<session id>``: ``replay.session`` with its progress, now
  and on every change (``status`` "deleted" at the end).

Stats and KV notices come from this server's own writes; statistics are sent
at most every ``STATS_INTERVAL`` seconds per topic. The token goes in the
``authorization`` header or, for browsers, ``?token=``. When it is revoked or
expires the socket closes with code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from flowmesh.server import validation as v
from flowmesh.server.auth import Authenticator, Caller
from flowmesh.server.errors import InvalidArgument, NotFound
from flowmesh.server.feed import Notice, topic
from flowmesh.server.http_api.common import HTTP_STATUS, error_of
from flowmesh.server.http_api.queues import stats_json
from flowmesh.server.http_api.replay import session_json
from flowmesh.server.http_api.streams import message_json, stream_json
from flowmesh.server.ops import Operations
from flowmesh.server.store.records import Resource, replay_topic

log = logging.getLogger("flowmesh.server")

STATS_INTERVAL = 0.25
TAIL_GROUP = "ws-tail"
MAX_TOPICS = 256
CLOSE_UNAUTHENTICATED = 4401


def _resource(text: str, kind: str, field: str) -> tuple[Resource, int | None]:
    parts = text.split("/")
    partition: int | None = None
    if kind == "stream" and len(parts) == 4 and parts[3].isdigit():
        partition = int(parts.pop())
    if len(parts) != 3:
        raise InvalidArgument(field, f"must end in tenant/namespace/name, got {text!r}")
    return v.resource(parts[0], parts[1], kind, parts[2], (kind,), field), partition


class Connection:
    def __init__(self, ws: WebSocket, ops: Operations, caller: Caller) -> None:
        self.ws = ws
        self.ops = ops
        self.caller = caller
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, kind: str, name: str, payload: Any) -> None:
        data = orjson.dumps({"type": kind, "topic": name, "payload": payload})
        async with self._send_lock:
            await self.ws.send_text(data.decode())

    async def error(self, name: str, exc: Exception) -> None:
        kind, message = error_of(exc, "ws")
        await self.send("error", name, {"message": message, "code": HTTP_STATUS.get(kind, 500)})

    # -- topics
    def subscribe(self, name: str) -> None:
        if name in self.tasks:
            return
        if len(self.tasks) >= MAX_TOPICS:
            raise InvalidArgument("topics", f"at most {MAX_TOPICS} per connection")
        self.tasks[name] = asyncio.create_task(self._run(name))

    def unsubscribe(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()

    async def _run(self, name: str) -> None:
        try:
            await self._topic(name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.tasks.pop(name, None)
            with contextlib.suppress(Exception):
                await self.error(name, exc)

    async def _topic(self, name: str) -> None:
        kind, _, rest = name.partition(".")
        sub, _, target = rest.partition(".")
        if kind == "stream" and sub == "tail":
            await self._tail(name, target)
        elif kind == "stream" and sub == "stats":
            stream, _ = _resource(target, "stream", "topic")

            async def stream_stats() -> Any:
                return stream_json(await self.ops.listing.stream(self.caller, stream))

            await self._stats(name, "stream.stats", topic("stream", stream.path), stream_stats)
        elif kind == "queue" and sub == "stats":
            queue, _ = _resource(target, "queue", "topic")

            async def queue_stats() -> Any:
                return {"resource_path": queue.typed_path("queue"),
                        **stats_json(await self.ops.queues.stats(self.caller, queue))}  # fmt: skip

            await self._stats(name, "queue.stats", topic("queue", queue.path), queue_stats)
        elif kind == "kv" and sub == "update":
            await self._kv(name, target)
        elif kind == "replay" and sub == "session":
            await self._replay(name, target)
        else:
            raise InvalidArgument("topic", f"unknown topic {name!r} (stream.tail., stream.stats., "
                                  "queue.stats., kv.update., replay.session.)")  # fmt: skip

    async def _tail(self, name: str, target: str) -> None:
        stream, partition = _resource(target, "stream", "topic")
        self.caller.allow(stream, "stream:read")
        await self.send("subscribed", name, {})
        batches = self.ops.streams.subscribe(self.caller, stream, TAIL_GROUP, partition or 0, -2)
        async for batch in batches:
            for m in batch:
                await self.send("stream.message", name, message_json(stream, m))

    async def _stats(
        self, name: str, kind: str, feed_topic: str, fetch: Callable[[], Awaitable[Any]]
    ) -> None:
        notices: asyncio.Queue[Notice] = asyncio.Queue(maxsize=64)
        feed = self.ops.ctx.feed
        feed.watch(feed_topic, notices)
        try:
            try:
                first = await fetch()
            except NotFound:
                first = None
            await self.send("subscribed", name, {})
            if first is not None:
                await self.send(kind, name, first)
            while True:
                await notices.get()
                await asyncio.sleep(STATS_INTERVAL)  # let a burst of writes settle
                while not notices.empty():
                    notices.get_nowait()
                await self.send(kind, name, await fetch())
        finally:
            feed.unwatch(feed_topic, notices)

    async def _kv(self, name: str, target: str) -> None:
        store, _ = _resource(target, "kv", "topic")
        self.caller.allow(store, "kv:read")
        notices: asyncio.Queue[Notice] = asyncio.Queue(maxsize=1024)
        feed = self.ops.ctx.feed
        feed.watch(topic("kv", store.path), notices)
        try:
            await self.send("subscribed", name, {})
            while True:
                notice = await notices.get()
                await self.send("kv.update", name, {"resource_path": store.typed_path("kv"),
                                                    **notice})  # fmt: skip
        finally:
            feed.unwatch(topic("kv", store.path), notices)

    async def _replay(self, name: str, session_id: str) -> None:
        ops = self.ops
        record = await ops.replay.get(self.caller, session_id)
        await self.send("subscribed", name, {})
        await self.send("replay.session", name, session_json(record))
        notifier = ops.ctx.store.notifier
        seen = record.revision
        while True:
            wake = notifier.watch(replay_topic(session_id))
            try:
                try:
                    record = await ops.replay.get(self.caller, session_id)
                except NotFound:
                    await self.send("replay.session", name,
                                    {"session_id": session_id, "status": "deleted"})  # fmt: skip
                    return
                if record.revision != seen:
                    seen = record.revision
                    await self.send("replay.session", name, session_json(record))
                await notifier.wait(wake, ops.ctx.recheck_seconds)
            finally:
                notifier.unwatch(replay_topic(session_id), wake)

    # -- the socket
    async def serve(self) -> None:
        ended = self.caller.ended
        guard = asyncio.create_task(ended.wait()) if ended is not None else None
        reader = asyncio.create_task(self._read())
        try:
            waiting = {reader} | ({guard} if guard else set())
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if guard in done:
                with contextlib.suppress(Exception):
                    await self.send("error", "", {"message": "authorization: token "
                                    f"{self.caller.token_id} was revoked or expired",
                                    "code": 401})  # fmt: skip
                    await self.ws.close(CLOSE_UNAUTHENTICATED)
        finally:
            for task in [reader, guard, *self.tasks.values()]:
                if task is not None:
                    task.cancel()
            self.tasks.clear()

    async def _read(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                raw = await self.ws.receive_text()
                try:
                    message = orjson.loads(raw)
                    kind = message.get("type") if isinstance(message, dict) else None
                    payload = message.get("payload") or {} if isinstance(message, dict) else {}
                    topics = payload.get("topics") if isinstance(payload, dict) else None
                    if kind not in ("subscribe", "unsubscribe") or not isinstance(topics, list):
                        raise InvalidArgument(
                            "type", "send {\"type\": \"subscribe\"|\"unsubscribe\", "
                            "\"payload\": {\"topics\": [...]}}"
                        )  # fmt: skip
                    for name in topics:
                        if not isinstance(name, str):
                            raise InvalidArgument("topics", "must be strings")
                        if kind == "subscribe":
                            self.subscribe(name)
                        else:
                            self.unsubscribe(name)
                except (orjson.JSONDecodeError, InvalidArgument) as exc:
                    await self.error("", exc if isinstance(exc, InvalidArgument)
                                     else InvalidArgument("message", "is not JSON"))  # fmt: skip


async def websocket_endpoint(ws: WebSocket) -> None:
    auth: Authenticator = ws.app.state.auth
    header = ws.headers.get("authorization")
    token = ws.query_params.get("token")
    await ws.accept()
    try:
        caller = auth.caller(header or (f"Bearer {token}" if token else None))
    except Exception as exc:
        kind, message = error_of(exc, "ws")
        await ws.send_text(orjson.dumps({"type": "error", "topic": "", "payload": {
            "message": message, "code": HTTP_STATUS.get(kind, 500)}}).decode())  # fmt: skip
        await ws.close(CLOSE_UNAUTHENTICATED)
        return
    await Connection(ws, ws.app.state.ops, caller).serve()
