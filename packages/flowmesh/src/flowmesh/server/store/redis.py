"""The shared store: several FlowMesh servers over one Redis (or Redis Cluster).

Every state change is one Lua script (atomic). A resource's keys share a hash
tag, ``<prefix>{fm:<kind>:<tenant>/<namespace>/<name>}:...``, so they live in
one cluster slot. Writes PUBLISH a wake-up on ``<prefix>fm:notify``; each
server relays those to its local waiters (subscribers, long polls). Stream
writes also wake local subscribers directly, for latency.

Scripts and KV reads go over one pipelined connection (``resp``): concurrent
RPCs share it and its round trips; each script is still atomic on its own.

Stream partitions are lists of ``<ts>[ <schema version>]\\n<headers json>\\n<payload>``
with the offset of the first element in ``base`` and a time index per
partition (a sorted set of the first offset written at each new time); queues
keep waiting, in-flight and dead-lettered job ids in sorted sets scored by
time; KV values are plain keys with a native TTL, indexed by a sorted set for
prefix listing. Schemas and replay sessions: :mod:`.redis_meta`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError, ResponseError

from flowmesh.server.notify import Notifier
from flowmesh.server.retry import backoff_schedule
from flowmesh.server.store import redis_scripts as lua
from flowmesh.server.store.base import (
    Conflict,
    DLQCursor,
    Enqueued,
    KeyPage,
    NotFound,
    Producer,
    QueueStats,
    Reserved,
    Resource,
    RetryPolicy,
    SchemaChanged,
    Store,
    StoredJob,
    StoredMessage,
    StreamConfig,
    queue_topic,
    stream_topic,
)
from flowmesh.server.store.redis_admin import RedisAdminMixin
from flowmesh.server.store.redis_cluster import ClusterRouter
from flowmesh.server.store.redis_meta import RedisMetaMixin
from flowmesh.server.store.resp import PipelinedConnection

log = logging.getLogger("flowmesh.server.redis")

# Scripts that change nothing: on a cluster they need no replica confirmation.
_READ_ONLY = frozenset({"STREAM_READ", "STREAM_SEEK", "STREAM_OFFSETS", "KV_LIST",
                        "QUEUE_LIST_DLQ"})  # fmt: skip

_DEFAULT_POLICY = RetryPolicy()
_DEFAULT_POLICY_ARGS = (
    _DEFAULT_POLICY.max_attempts,
    _DEFAULT_POLICY.initial_backoff_ms,
    _DEFAULT_POLICY.max_backoff_ms,
    _DEFAULT_POLICY.backoff_multiplier,
    _DEFAULT_POLICY.jitter,
    _DEFAULT_POLICY.backoff_strategy,
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pack(payload: bytes, headers: dict[str, str]) -> bytes:
    """The body of a stored message; the append script puts its time (and schema
    version) line in front."""
    head = json.dumps(headers, separators=(",", ":")) if headers else "{}"
    return b"%s\n%s" % (head.encode(), payload)


def _unpack(partition: int, offset: int, raw: bytes) -> StoredMessage:
    stamp, head, payload = raw.split(b"\n", 2)
    ts, _, version = stamp.partition(b" ")
    headers = json.loads(head) if head != b"{}" else {}
    return StoredMessage(partition, offset, payload, headers, int(ts), int(version or 0))


def _headers(raw: bytes | str) -> dict[str, str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return json.loads(text) if text not in ("{}", "") else {}


def _script_error(exc: ResponseError) -> Exception | None:
    """The error a script raised on purpose (see redis_scripts), or None."""
    text = str(exc)
    if text.startswith("FLOWMESH_SCHEMA"):
        return SchemaChanged(text.split(" ", 1)[1].split()[0] if " " in text.strip() else "")
    if "FLOWMESH " not in text:
        return None
    message = text.split("FLOWMESH ", 1)[1]
    return Conflict(message.split(":", 1)[0], message)


class RedisStore(RedisAdminMixin, RedisMetaMixin, Store):
    kind = "redis"
    _DEFAULT_POLICY_ARGS = _DEFAULT_POLICY_ARGS

    def __init__(
        self, url: str, prefix: str = "", *, cluster: bool = False, replicas: int = 1
    ) -> None:
        """``url``: ``redis://host:port/db``; with ``cluster``, any node of a Redis
        Cluster (``replicas``: how many replicas confirm each write, see
        :mod:`.redis_cluster`)."""
        if "{" in prefix or "}" in prefix:
            raise ValueError("redis prefix: must not contain '{' or '}' (they pick the slot)")
        self.url = url
        self.prefix = prefix
        self.notifier = Notifier()
        self.channel = f"{prefix}fm:notify"
        self._router: ClusterRouter | None = None
        self._redis: Any
        if cluster:
            parts = urlsplit(url)
            self._redis = RedisCluster.from_url(
                url, socket_timeout=10, socket_connect_timeout=5, max_connections=256
            )
            self._router = ClusterRouter(
                [(parts.hostname or "127.0.0.1", parts.port or 6379)],
                username=parts.username,
                password=parts.password,
                replicas=replicas,
            )
        else:
            self._redis = aioredis.Redis.from_url(
                url,
                socket_timeout=10,
                socket_connect_timeout=5,
                health_check_interval=30,
                max_connections=256,
            )
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in vars(lua).items()
            if name.isupper() and not name.startswith("_")
        }
        self._listener: asyncio.Task[None] | None = None
        self._fast = None if cluster else _pipelined(self._redis)

    # -- lifecycle
    async def open(self) -> None:
        await self._redis.ping()
        if self._router is not None:
            await self._router.refresh()
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(subscribed))
        await asyncio.wait_for(subscribed.wait(), 10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._fast is not None:
            self._fast.close()
        if self._router is not None:
            self._router.close()
        await self._redis.aclose()

    async def ping(self) -> None:
        await self._redis.ping()

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Relay other servers' write notifications to local waiters; reconnect on failure."""
        delay = 0.1
        rounds = 0
        while True:
            source = self._redis
            if self._router is not None:
                # A cluster delivers a PUBLISH to every node: listen on any one, and
                # on the next one after losing it.
                nodes = self._router.nodes
                host, port = nodes[rounds % len(nodes)]
                source = aioredis.Redis(host=host, port=port, socket_connect_timeout=2)
            rounds += 1
            pubsub = source.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                subscribed.set()
                delay = 0.1
                while True:
                    msg = await pubsub.get_message(timeout=30)
                    if msg is not None and msg["type"] == "message":
                        topic = msg["data"].decode()
                        # A job is for one worker; a stream message for every subscriber.
                        self.notifier.notify(topic, 1 if topic.startswith("q:") else None)
            except (RedisError, OSError) as exc:
                log.warning("notification channel lost, reconnecting", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                if source is not self._redis:
                    with contextlib.suppress(Exception):
                        await source.aclose()

    # -- keys
    def _base(self, kind: str, res: Resource) -> str:
        return f"{self.prefix}{{fm:{kind}:{res.path}}}:"

    async def _command(self, *args: Any) -> Any:
        if self._router is not None:
            return await self._router.execute(args[1], *args)
        if self._fast is not None:
            return await self._fast.execute(*args)
        return await self._redis.execute_command(*args)

    async def _run(self, script: str, base: str, first_key: str, *args: Any) -> Any:
        lua_script = self._scripts[script]
        try:
            if self._router is not None:
                return await self._run_routed(script, base + first_key, base, args)
            try:
                return await self._command(
                    "EVALSHA", lua_script.sha, 1, base + first_key, base, *args
                )
            except NoScriptError:  # not loaded yet (or flushed): the script loads and runs it
                return await lua_script(keys=[base + first_key], args=[base, *args])
        except ResponseError as exc:
            mapped = _script_error(exc)
            if mapped is not None:
                raise mapped from None
            raise

    async def _run_routed(self, script: str, key: str, base: str, args: tuple[Any, ...]) -> Any:
        assert self._router is not None
        lua_script = self._scripts[script]
        write = script not in _READ_ONLY
        try:
            return await self._router.execute(
                key, "EVALSHA", lua_script.sha, 1, key, base, *args, write=write
            )
        except NoScriptError:  # not on that node yet: EVAL loads it there
            return await self._router.execute(
                key, "EVAL", lua_script.script, 1, key, base, *args, write=write
            )

    # -- streams
    async def configure_stream(self, stream: Resource, config: StreamConfig) -> StreamConfig:
        base = self._base("s", stream)
        await self._run(
            "STREAM_CONFIGURE",
            base,
            "cfg",
            config.partitions,
            config.retention_max_messages,
            config.retention_max_age_ms,
        )
        return config

    async def append(
        self,
        stream: Resource,
        events: list[tuple[bytes, dict[str, str]]],
        partition: int | None,
        schema_token: str = "",
        producer: Producer | None = None,
    ) -> list[tuple[int, int]]:
        base = self._base("s", stream)
        args: list[Any] = [_now_ms(), -1 if partition is None else partition, self.channel,
                           stream_topic(stream, 0)[:-1], schema_token,
                           *_producer_args(producer)]  # fmt: skip
        for payload, headers in events:
            key = headers.get("key")
            args.append(zlib.crc32(key.encode()) if key is not None else -1)
            args.append(_pack(payload, headers))
        flat = await self._run("STREAM_APPEND", base, "cfg", *args)
        placed = [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]
        for p in {p for p, _ in placed}:
            self.notifier.notify(stream_topic(stream, p))
        return placed

    async def read(
        self, stream: Resource, partition: int, offset: int, limit: int, max_bytes: int
    ) -> list[StoredMessage]:
        base = self._base("s", stream)
        out = await self._run("STREAM_READ", base, "cfg", partition, offset, limit, max_bytes)
        first = int(out[0])
        if first < 0:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return [_unpack(partition, first + i, raw) for i, raw in enumerate(out[1:])]

    async def seek_time(self, stream: Resource, partition: int, timestamp_ms: int) -> int:
        found = int(
            await self._run("STREAM_SEEK", self._base("s", stream), "cfg", partition, timestamp_ms)
        )
        if found < 0:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return found

    async def _offsets(self, stream: Resource, partition: int, group: str) -> tuple[int, int]:
        out = await self._run("STREAM_OFFSETS", self._base("s", stream), "cfg", partition, group)
        if int(out[0]) == -2:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return int(out[0]), int(out[1])

    async def latest_offset(self, stream: Resource, partition: int) -> int:
        return (await self._offsets(stream, partition, ""))[0]

    async def commit_offset(
        self, stream: Resource, group: str, partition: int, offset: int
    ) -> None:
        base = self._base("s", stream)
        await self._run("STREAM_COMMIT", base, "cfg", f"{group}:{partition}", offset)

    async def committed_offset(self, stream: Resource, group: str, partition: int) -> int:
        return (await self._offsets(stream, partition, f"{group}:{partition}"))[1]

    # -- queues
    async def enqueue(
        self,
        queue: Resource,
        payload: bytes,
        headers: dict[str, str],
        delay_ms: int,
        dedup_id: str,
        dedup_window_ms: int,
        schema_token: str = "",
        producer: Producer | None = None,
    ) -> Enqueued:
        base = self._base("q", queue)
        out = await self._run(
            "QUEUE_ENQUEUE",
            base,
            "meta",
            _now_ms(),
            delay_ms,
            dedup_id,
            dedup_window_ms,
            os.urandom(8).hex(),
            json.dumps(headers, separators=(",", ":")) if headers else "{}",
            payload,
            self.channel,
            queue_topic(queue),
            schema_token,
            *_DEFAULT_POLICY_ARGS,
            *_producer_args(producer),
        )
        return Enqueued(out[0].decode(), int(out[1]), bool(out[2]))

    async def reserve(self, queue: Resource, max_jobs: int, visibility_ms: int) -> Reserved:
        base = self._base("q", queue)
        now = _now_ms()
        out = await self._run("QUEUE_RESERVE", base, "meta", now, max_jobs, visibility_ms)
        head = int(out[0])
        if head == -2:
            return Reserved([])
        jobs = [
            StoredJob(
                out[i].decode(),
                int(out[i + 1]),
                out[i + 5],
                _headers(out[i + 4]),
                int(out[i + 2]),
                int(out[i + 3]),
                int(float(out[i + 6])),
                now + visibility_ms,
            )
            for i in range(1, len(out), 7)
        ]
        return Reserved(jobs, head if head >= 0 else None)

    async def ack(self, queue: Resource, job_id: str, window_ms: int = 300_000) -> None:
        base = self._base("q", queue)
        result = int(await self._run("QUEUE_ACK", base, "meta", job_id, window_ms))
        if result == -2:
            raise NotFound(f"queue {queue.path!r} does not exist")
        if result == 0:
            raise NotFound(f"job {job_id!r} is not in flight on queue {queue.path!r}")

    async def nack(self, queue: Resource, job_id: str, delay_ms: int | None, error: str) -> bool:
        base = self._base("q", queue)
        policy = await self.retry_policy(queue)
        result = int(
            await self._run(
                "QUEUE_NACK",
                base,
                "meta",
                job_id,
                _now_ms(),
                -1 if delay_ms is None else delay_ms,
                error,
                self.channel,
                queue_topic(queue),
                *backoff_schedule(policy),
            )
        )
        if result == -2:
            raise NotFound(f"queue {queue.path!r} does not exist")
        if result == -1:
            raise NotFound(f"job {job_id!r} is not in flight on queue {queue.path!r}")
        return result == 1

    async def queue_stats(self, queue: Resource) -> QueueStats:
        base = self._base("q", queue)
        now = _now_ms()
        out = [int(x) for x in await self._run("QUEUE_STATS", base, "meta", now)]
        if out[0] == -2:
            raise NotFound(f"queue {queue.path!r} does not exist")
        oldest = now - out[6] if out[6] >= 0 else 0
        return QueueStats(out[0], out[1], out[2], out[3], out[4], out[5], max(0, oldest), out[7])

    async def set_retry_policy(self, queue: Resource, policy: RetryPolicy) -> RetryPolicy:
        await self._run(
            "QUEUE_SET_POLICY",
            self._base("q", queue),
            "meta",
            policy.max_attempts,
            policy.initial_backoff_ms,
            policy.max_backoff_ms,
            policy.backoff_multiplier,
            policy.jitter,
            policy.backoff_strategy,
        )
        return policy

    async def retry_policy(self, queue: Resource) -> RetryPolicy:
        values: list[Any] = await self._redis.hmget(
            self._base("q", queue) + "meta",
            [
                "max_attempts",
                "initial_backoff_ms",
                "max_backoff_ms",
                "backoff_multiplier",
                "jitter",
                "backoff_strategy",
            ],
        )
        if values[0] is None:
            raise NotFound(f"queue {queue.path!r} does not exist")
        n = [v or b"0" for v in values[:5]]
        strategy = (values[5] or b"exponential").decode()
        return RetryPolicy(int(n[0]), int(n[1]), int(n[2]), float(n[3]), float(n[4]), strategy)

    async def list_dlq(
        self, queue: Resource, limit: int, after: DLQCursor | None = None
    ) -> list[StoredJob]:
        since = (after.failed_at_ms, after.job_id) if after else ("", "")
        out = await self._run("QUEUE_LIST_DLQ", self._base("q", queue), "meta", limit, *since)
        if out and out[0] == -2:
            raise NotFound(f"queue {queue.path!r} does not exist")
        jobs = []
        for i in range(0, len(out), 3):
            meta = json.loads(out[i + 1])
            jobs.append(
                StoredJob(
                    out[i].decode(),
                    int(meta["seq"]),
                    out[i + 2],
                    _headers(meta["hdr"]),
                    int(meta["att"]),
                    int(meta["enq"]),
                    0,
                    original_queue=queue.path,
                    failed_at_ms=int(meta["fail"]),
                    last_error=meta["err"],
                )
            )
        return jobs

    async def replay_dlq(self, queue: Resource, job_id: str) -> Enqueued:
        out = await self._run(
            "QUEUE_REPLAY",
            self._base("q", queue),
            "meta",
            job_id,
            _now_ms(),
            os.urandom(8).hex(),
            self.channel,
            queue_topic(queue),
        )
        if out[0] == -2:
            raise NotFound(f"queue {queue.path!r} does not exist")
        if out[0] == -1:
            raise NotFound(f"job {job_id!r} is not in the dead-letter queue of {queue.path!r}")
        return Enqueued(out[0].decode(), int(out[1]))

    # -- KV
    async def kv_set(self, store: Resource, key: str, value: bytes, ttl_ms: int) -> None:
        await self._run("KV_SET", self._base("kv", store), "meta", key, value, max(0, ttl_ms))

    async def kv_get(self, store: Resource, key: str) -> bytes | None:
        # A missing store and a missing key both read as "no value" here.
        value: Any = await self._command("GET", f"{self._base('kv', store)}v:{key}")
        return bytes(value) if value is not None else None

    async def kv_delete(self, store: Resource, key: str) -> bool:
        return bool(await self._run("KV_DELETE", self._base("kv", store), "meta", key))

    async def kv_list(self, store: Resource, prefix: str, limit: int, after: str) -> KeyPage:
        base = self._base("kv", store)
        if after and after >= prefix:
            start = b"(" + after.encode()
        else:
            start = b"[" + prefix.encode() if prefix else b"-"
        out = await self._run("KV_LIST", base, "meta", start, _lex_stop(prefix), limit)
        if out and out[0] == -2:
            raise NotFound(f"kv store {store.path!r} does not exist")
        keys = [k.decode() for k in out[:limit]]
        return KeyPage(keys, keys[-1] if len(out) > limit else None)


def _producer_args(producer: Producer | None) -> tuple[str, int]:
    return ("", 0) if producer is None else (producer.key, producer.window_ms)


def _pipelined(client: aioredis.Redis) -> PipelinedConnection | None:
    """The pipelined connection for a plain TCP Redis; None (stay on redis-py) for TLS
    or a unix socket."""
    pool = client.connection_pool
    if pool.connection_class is not aioredis.Connection:
        return None
    kw = pool.connection_kwargs
    return PipelinedConnection(
        kw.get("host", "localhost"),
        int(kw.get("port", 6379)),
        int(kw.get("db", 0) or 0),
        kw.get("username"),
        kw.get("password"),
        connect_timeout=5.0,
        timeout=10.0,
    )


def _lex_stop(prefix: str) -> bytes:
    """Upper bound of keys starting with ``prefix`` (0xff never occurs in UTF-8)."""
    return b"[" + prefix.encode() + b"\xff" if prefix else b"+"
