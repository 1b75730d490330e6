"""Everything the console asks FlowMesh, in one place (through the SDK).

The server lists its streams, queues and KV stores a page at a time (a page
token, see :meth:`FlowMeshReads.names_page`), and so do the console's pages: no
page asks for more than it shows. (The console's configured names are kept for
the settings page; the lists come from the server.)
A stream's consumer groups come from the server's ListConsumerGroups; a server
without it (UNIMPLEMENTED) gets the configured group names asked one by one.
Every call is scoped to the signed-in tenant.

Whose token a call carries is the request's :data:`ACCESS` (the session
middleware sets it from the signed-in user, see ``auth.flowmesh_access``): every
token shares the one gRPC channel and is sent with its calls. Reads need
``may_read``; actions (write, DLQ replay, replay sessions) need ``may_act``, so
the console's own token never acts for a user who gave none. Outside a request
(the health check, tests) calls read with the console's token and never act.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flowmesh import FlowMesh
from flowmesh.exceptions import (
    FlowMeshAlreadyExistsError,
    FlowMeshAuthError,
    FlowMeshError,
    FlowMeshFailedPreconditionError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    FlowMeshPermissionDeniedError,
)
from flowmesh.types import Event, Job, Message, QueueStats, ReplaySession, Schema
from mimeia_console.clients.access import Access
from mimeia_console.clients.http import ServiceError

T = TypeVar("T")
RECENT_PAGE = 20
KV_PAGE = 50
MAX_PARTITIONS = 64
MAX_LISTED = 50  # resources per kind the home page reads details of
MAX_PAGE_TOKEN = 1024  # characters of a page token taken from a URL
MAX_GROUPS = 200  # consumer-group states (group x partition) a stream page shows
MAX_TOKEN_CLIENTS = 256  # users' token clients kept (they share the one channel)
# FlowMesh's refusals as the console's HTTP statuses (anything else: 0, a failure)
_STATUS: tuple[tuple[type[FlowMeshError], int], ...] = (
    (FlowMeshNotFoundError, 404),
    (FlowMeshAuthError, 401),
    (FlowMeshPermissionDeniedError, 403),
    (FlowMeshInvalidArgumentError, 400),
    (FlowMeshAlreadyExistsError, 409),
    (FlowMeshFailedPreconditionError, 409),
)


ACCESS: ContextVar[Access | None] = ContextVar("console_flowmesh_access", default=None)


@dataclass
class GroupLag:
    group: str
    partition: int
    committed: int
    latest: int
    lag: int


@dataclass
class StreamInfo:
    namespace: str
    name: str
    latest: list[int]  # latest offset per partition (-1: empty)
    groups: list[GroupLag] = field(default_factory=list)

    @property
    def total_messages(self) -> int:
        return sum(o + 1 for o in self.latest if o >= 0)

    @property
    def lag(self) -> int:
        return sum(g.lag for g in self.groups)


@dataclass
class QueueInfo:
    namespace: str
    name: str
    stats: QueueStats


@dataclass
class ShownMessage:
    """A stream message as the page shows it (payload decoded, JSON pretty-printed)."""

    offset: int
    partition: int
    created_at: datetime | None
    headers: dict[str, str]
    text: str
    is_json: bool
    size: int

    @classmethod
    def of(cls, message: Message) -> ShownMessage:
        text, is_json = render_payload(message.payload)
        return cls(
            message.offset,
            message.partition,
            message.created_at,
            dict(message.headers),
            text,
            is_json,
            len(message.payload),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "partition": self.partition,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "headers": self.headers,
            "text": self.text,
            "is_json": self.is_json,
            "size": self.size,
        }


def render_payload(payload: bytes, limit: int = 20_000) -> tuple[str, bool]:
    """Pretty JSON when the payload is JSON, else its text (cut at ``limit`` characters)."""
    try:
        text = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
        is_json = True
    except ValueError:
        text, is_json = payload.decode("utf-8", errors="replace"), False
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(payload)} bytes in all)"
    return text, is_json


class FlowMeshReads:
    def __init__(
        self,
        endpoint: str,
        token: str | None,
        timeout: float,
        streams: list[tuple[str, str]],
        queues: list[tuple[str, str]],
        kv_stores: list[tuple[str, str]],
        groups: list[str],
    ) -> None:
        self._client = FlowMesh(
            endpoint=endpoint, auth_token=token, timeout=timeout, connect_timeout=min(timeout, 3.0)
        )
        self._connect_lock = asyncio.Lock()
        self._token = token  # the console's own: reads outside a request
        self._by_token: OrderedDict[str, FlowMesh] = OrderedDict()
        self.endpoint = endpoint
        self.timeout = timeout
        self.known_streams = list(streams)
        self.known_queues = list(queues)
        self.known_kv = list(kv_stores)
        self.groups = list(groups)
        self._partitions: dict[tuple[str, str, str], int] = {}  # from the server's listings

    async def close(self) -> None:
        await self._client.close()

    def _client_for(self, token: str | None) -> FlowMesh:
        """The client that sends ``token`` (None: none), one per token, all sharing
        the console's channel."""
        if token == self._token:
            return self._client
        key = "" if token is None else hashlib.sha256(token.encode()).hexdigest()
        client = self._by_token.get(key)
        if client is None:
            client = self._by_token[key] = self._client.with_token(token)
            while len(self._by_token) > MAX_TOKEN_CLIENTS:
                self._by_token.popitem(last=False)
        else:
            self._by_token.move_to_end(key)
        return client

    def _current(self, what: str, act: str | None) -> FlowMesh:
        """The client for this request's access; refused when it may not do this."""
        access = ACCESS.get()
        if access is None:  # the console itself, outside any request
            if act is not None:
                raise ServiceError("flowmesh", 403, f"{act}: only for a signed-in user")
            return self._client
        refusal = access.refusal("a FlowMesh token", what, act)
        if refusal is not None:
            raise ServiceError("flowmesh", 403, refusal)
        return self._client_for(access.token)

    async def _run(
        self, what: str, fn: Callable[[FlowMesh], Awaitable[T]], act: str | None = None
    ) -> T:
        """One FlowMesh call with this request's token; ``act``: what an action does
        (in the words of "sign in with a FlowMesh token to ...")."""
        client = self._current(what, act)
        try:
            async with self._connect_lock:
                await self._client.connect()
            return await asyncio.wait_for(fn(client), self.timeout + 1)
        except FlowMeshError as exc:
            status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 0)
            raise ServiceError("flowmesh", status, f"{what}: {exc}") from None
        except TimeoutError:
            raise ServiceError("flowmesh", 0, f"{what}: did not answer in time") from None

    async def check_token(self, token: str, tenant: str) -> None:
        """Refuse (ServiceError, FlowMesh's words) a token FlowMesh does not know or
        that may not use ``tenant``. A listing: it needs no particular permission."""
        client = self._client_for(token)
        try:
            async with self._connect_lock:
                await self._client.connect()
            await asyncio.wait_for(client.streams.list_page(tenant, page_size=1), self.timeout + 1)
        except FlowMeshError as exc:
            status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 0)
            raise ServiceError("flowmesh", status, str(exc)) from None
        except TimeoutError:
            raise ServiceError("flowmesh", 0, "did not answer in time") from None

    async def healthy(self) -> bool:
        """Whether the server is ready (no token needed: the console's own client)."""
        try:
            async with self._connect_lock:
                await self._client.connect()
            return await asyncio.wait_for(self._client.readiness_check(), self.timeout + 1)
        except FlowMeshError as exc:
            raise ServiceError("flowmesh", 0, f"health: {exc}") from None
        except TimeoutError:
            raise ServiceError("flowmesh", 0, "health: did not answer in time") from None

    # -- what exists ---------------------------------------------------------

    async def names_page(
        self, kind: str, tenant: str, page_token: str, limit: int
    ) -> tuple[list[tuple[str, str]], str]:
        """One page of the tenant's streams, queues or KV stores (``kind``: stream,
        queue, kv) in path order from ``page_token`` ("" for the first), and the next
        page's token ("" on the last page). One listing call, whichever page."""
        part = {"stream": "streams", "queue": "queues", "kv": "kv"}[kind]
        method = "list_stores_page" if kind == "kv" else "list_page"
        page = await self._run(
            f"{part}.{method}",
            lambda c: getattr(getattr(c, part), method)(tenant, "", limit, page_token),
        )
        items = getattr(page, {"stream": "streams", "queue": "queues", "kv": "stores"}[kind])
        out = []
        for item in items[:limit]:
            out.append((item.namespace, item.name))
            if kind == "stream" and len(self._partitions) < 10_000:
                self._partitions[(tenant, item.namespace, item.name)] = item.partitions
        return out, str(page.next_page_token)

    async def stream_names(self, tenant: str) -> list[tuple[str, str]]:
        return (await self.names_page("stream", tenant, "", MAX_LISTED))[0]

    async def queue_names(self, tenant: str) -> list[tuple[str, str]]:
        return (await self.names_page("queue", tenant, "", MAX_LISTED))[0]

    async def kv_names(self, tenant: str) -> list[tuple[str, str]]:
        return (await self.names_page("kv", tenant, "", MAX_LISTED))[0]

    # -- streams -------------------------------------------------------------

    async def stream_info(self, tenant: str, namespace: str, name: str) -> StreamInfo:
        known = self._partitions.get((tenant, namespace, name))

        async def read(c: FlowMesh) -> StreamInfo:
            latest = [await c.stream.get_latest_offset(tenant, namespace, name, 0)]
            if known is not None:  # the server's listing said how many
                for partition in range(1, min(known, MAX_PARTITIONS)):
                    latest.append(
                        await c.stream.get_latest_offset(tenant, namespace, name, partition)
                    )
                return StreamInfo(namespace, name, latest, await groups(c, len(latest)))
            # else: partitions are numbered from 0; the first one missing ends the count
            for partition in range(1, MAX_PARTITIONS):
                try:
                    latest.append(
                        await c.stream.get_latest_offset(tenant, namespace, name, partition)
                    )
                except FlowMeshError:
                    break
                if latest[-1] < 0:
                    latest.pop()
                    break
            return StreamInfo(namespace, name, latest, await groups(c, len(latest)))

        async def groups(c: FlowMesh, partitions: int) -> list[GroupLag]:
            try:
                listed = await c.stream.list_consumer_groups(tenant, namespace, name)
            except FlowMeshError as exc:
                if getattr(exc.code, "name", "") != "UNIMPLEMENTED":
                    raise
            else:
                return [
                    GroupLag(s.group, s.partition, s.committed_offset, s.latest_offset, s.lag)
                    for s in listed[:MAX_GROUPS]
                ]
            # an older server: ask for each configured group
            found = []
            for group in self.groups:
                for partition in range(partitions):
                    state = await c.stream.get_consumer_group_state(
                        tenant, namespace, name, group, partition
                    )
                    if state.committed_offset >= 0:
                        found.append(
                            GroupLag(
                                group,
                                partition,
                                state.committed_offset,
                                state.latest_offset,
                                state.lag,
                            )
                        )
            return found

        return await self._run(f"stream {namespace}/{name}", read)

    async def recent(
        self, tenant: str, namespace: str, name: str, partition: int, before: int | None
    ) -> tuple[list[ShownMessage], int]:
        """Up to a page of messages ending just before ``before`` (None: the newest),
        newest first, and the partition's latest offset."""

        async def read(c: FlowMesh) -> tuple[list[ShownMessage], int]:
            latest = await c.stream.get_latest_offset(tenant, namespace, name, partition)
            end = latest if before is None else min(before - 1, latest)
            if end < 0:
                return [], latest
            start = max(0, end - RECENT_PAGE + 1)
            messages = await c.stream.read(
                tenant, namespace, name, partition, start, end - start + 1
            )
            shown = [ShownMessage.of(m) for m in messages if m.offset <= end]
            return list(reversed(shown)), latest

        return await self._run(f"read {namespace}/{name}", read)

    async def after(
        self, tenant: str, namespace: str, name: str, partition: int, offset: int
    ) -> list[ShownMessage]:
        """Messages from ``offset`` on (the live tail's next batch)."""
        messages = await self._run(
            f"read {namespace}/{name}",
            lambda c: c.stream.read(tenant, namespace, name, partition, offset, 100),
        )
        return [ShownMessage.of(m) for m in messages]

    async def latest(self, tenant: str, namespace: str, name: str, partition: int) -> int:
        return await self._run(
            f"stream {namespace}/{name}",
            lambda c: c.stream.get_latest_offset(tenant, namespace, name, partition),
        )

    async def write(
        self, tenant: str, namespace: str, name: str, payload: bytes, headers: dict[str, str]
    ) -> int:
        offsets = await self._run(
            f"write {namespace}/{name}",
            lambda c: c.stream.write(
                tenant, namespace, name, [Event(payload=payload, headers=headers)]
            ),
            act="write to streams",
        )
        return offsets[0]

    # -- queues --------------------------------------------------------------

    async def queue_stats(self, tenant: str, namespace: str, name: str) -> QueueStats:
        return await self._run(
            f"queue {namespace}/{name}", lambda c: c.queue.get_stats(tenant, namespace, name)
        )

    async def dlq(self, tenant: str, namespace: str, name: str, limit: int = 50) -> list[Job]:
        return await self._run(
            f"queue {namespace}/{name} DLQ",
            lambda c: c.queue.list_dlq_jobs(tenant, namespace, name, limit),
        )

    async def dlq_page(
        self, tenant: str, namespace: str, name: str, page_token: str, limit: int
    ) -> tuple[list[Job], str]:
        """A page of dead jobs (oldest failure first) from ``page_token`` ("" for the
        first) and the next page's token ("" on the last page): one ListDLQJobs
        call, whichever page (the server resumes from the token)."""
        page = await self._run(
            f"queue {namespace}/{name} DLQ",
            lambda c: c.queue.list_dlq_jobs_page(tenant, namespace, name, limit, page_token),
        )
        return page.jobs[:limit], page.next_page_token

    async def replay_dlq(self, tenant: str, namespace: str, name: str, job_id: str) -> str:
        job, _seq = await self._run(
            f"replay DLQ job {job_id}",
            lambda c: c.queue.replay_dlq_job(tenant, namespace, name, job_id),
            act="replay DLQ jobs",
        )
        return job

    # -- KV ------------------------------------------------------------------

    async def kv_page(
        self, tenant: str, namespace: str, store: str, prefix: str, page_token: str
    ) -> tuple[list[str], str]:
        """A page of keys starting with ``prefix`` from ``page_token`` (the previous
        page's; "" for the first), and the next page's token ("" on the last page).
        One server call, whichever page: the server resumes from the token."""
        page = await self._run(
            f"kv {namespace}/{store}",
            lambda c: c.kv.list_keys_page(tenant, namespace, store, prefix, KV_PAGE, page_token),
        )
        return page.keys[:KV_PAGE], page.next_page_token

    async def kv_get(self, tenant: str, namespace: str, store: str, key: str) -> bytes:
        return await self._run(
            f"kv {namespace}/{store} {key!r}", lambda c: c.kv.get(tenant, namespace, store, key)
        )

    # -- schemas and replay --------------------------------------------------

    async def schemas(self, tenant: str) -> list[Schema]:
        return await self._run("schemas", lambda c: c.schemas.list_schemas(tenant))

    async def replay_sessions(self, tenant: str) -> list[ReplaySession]:
        sessions = await self._run("replay sessions", lambda c: c.replay.list_sessions())
        # an open server lists every tenant's sessions: show only this tenant's
        return [s for s in sessions if s.stream.split("/", 1)[0] == tenant]

    async def replay_sessions_page(
        self, tenant: str, offset: int, limit: int
    ) -> tuple[list[ReplaySession], int]:
        """One page of the tenant's replay sessions (only its own) and how many."""
        sessions = await self.replay_sessions(tenant)
        return sessions[offset : offset + limit], len(sessions)

    async def replay_session(self, tenant: str, session_id: str) -> ReplaySession:
        session = await self._run("replay session", lambda c: c.replay.get(session_id))
        if session.stream.split("/", 1)[0] != tenant:
            raise ServiceError("flowmesh", 404, f"replay session {session_id!r}: not found")
        return session

    async def replay_control(self, tenant: str, session_id: str, action: str) -> None:
        controls = {
            "start": "start",
            "pause": "pause",
            "resume": "resume",
            "stop": "stop",
            "delete": "delete",
        }
        if action not in controls:
            raise ServiceError("flowmesh", 400, f"action: {action!r} is not a replay control")
        self._current("replay", f"{action} replay sessions")  # may this user act at all
        await self.replay_session(tenant, session_id)  # the tenant's own, or refused
        await self._run(
            f"replay {action}",
            lambda c: getattr(c.replay, controls[action])(session_id),
            act=f"{action} replay sessions",
        )

    async def replay_create(
        self, tenant: str, namespace: str, name: str, group: str, start: int, end: int | None
    ) -> ReplaySession:
        return await self._run(
            "replay create",
            lambda c: c.replay.create(
                tenant, namespace, name, group, start_offset=start, end_offset=end
            ),
            act="create replay sessions",
        )
