"""The Redis store's schema registry and replay sessions (mixed into RedisStore).

A tenant's schemas share one hash tag, the replay sessions another; a
resource's attachment lives with the resource. Attaching touches two slots,
so it goes in an order that can only err towards refusing a delete: the
version first records its new user, then the resource switches, then the old
version forgets it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from flowmesh.server.errors import AlreadyExists, FailedPrecondition, NotFound
from flowmesh.server.store.records import (
    ReplayRecord,
    Resource,
    SchemaRecord,
    replay_topic,
    token_schema_id,
    token_version,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from flowmesh.server.notify import Notifier


def _schema_doc(record: SchemaRecord) -> str:
    return json.dumps({
        "type": record.schema_type,
        "definition": base64.b64encode(record.definition).decode(),
        "created_at": record.created_at_ms,
        "fingerprint": record.fingerprint,
    }, separators=(",", ":"))  # fmt: skip


def _schema(tenant: str, schema_id: str, version: int, doc: bytes | str) -> SchemaRecord:
    data = json.loads(doc)
    return SchemaRecord(tenant, schema_id, version, data["type"],
                        base64.b64decode(data["definition"]), int(data["created_at"]),
                        data["fingerprint"])  # fmt: skip


def _group_field(stream: Resource, group: str) -> str:
    return f"{stream.path} {group}"


class RedisMetaMixin:
    if TYPE_CHECKING:
        prefix: str
        channel: str
        notifier: Notifier
        _redis: aioredis.Redis
        _DEFAULT_POLICY_ARGS: tuple[Any, ...]

        def _base(self, kind: str, res: Resource) -> str: ...
        async def _run(self, script: str, base: str, first_key: str, *args: Any) -> Any: ...

    # -- schemas
    def _schema_base(self, tenant: str) -> str:
        return f"{self.prefix}{{fm:schema:{tenant}}}:"

    async def schema_register(self, record: SchemaRecord, next_version: bool) -> SchemaRecord:
        version = int(
            await self._run(
                "SCHEMA_REGISTER",
                self._schema_base(record.tenant),
                "ids",
                record.schema_id,
                0 if next_version else record.version,
                _schema_doc(record),
            )
        )
        if version < 0:
            raise AlreadyExists(
                f"version: {record.version} of schema {record.schema_id!r} already exists"
            )
        return dataclasses.replace(record, version=version)

    async def schema_get(self, tenant: str, schema_id: str, version: int) -> SchemaRecord | None:
        key = f"{self._schema_base(tenant)}v:{schema_id}"
        if version > 0:
            doc: Any = await self._redis.hget(key, str(version))
            return _schema(tenant, schema_id, version, doc) if doc is not None else None
        versions = await self._versions(tenant, schema_id)
        return versions[-1] if versions else None

    async def _versions(self, tenant: str, schema_id: str) -> list[SchemaRecord]:
        key = f"{self._schema_base(tenant)}v:{schema_id}"
        docs: Any = await self._redis.hgetall(key)
        found = [_schema(tenant, schema_id, int(v), d) for v, d in docs.items()]
        return sorted(found, key=lambda r: r.version)

    async def schema_list(self, tenant: str, schema_id: str) -> list[SchemaRecord]:
        if schema_id:
            return await self._versions(tenant, schema_id)
        ids: Any = await self._redis.smembers(self._schema_base(tenant) + "ids")
        out: list[SchemaRecord] = []
        for sid in sorted(i.decode() for i in ids):
            out.extend(await self._versions(tenant, sid))
        return out

    async def schema_delete(self, tenant: str, schema_id: str, version: int) -> None:
        out = await self._run("SCHEMA_DELETE", self._schema_base(tenant), "ids", schema_id, version)
        if int(out[0]) == 0:
            raise NotFound(f"schema_id: schema {schema_id!r} version {version} does not exist")
        if int(out[0]) < 0:
            users = ", ".join(sorted(_user_name(u) for u in out[1:]))
            raise FailedPrecondition(
                f"version: {version} of schema {schema_id!r} is in use by {users}; "
                "attach another version first"
            )

    async def schema_attach(
        self, kind: str, resource: Resource, record: SchemaRecord | None
    ) -> None:
        base = self._base("s" if kind == "stream" else "q", resource)
        if record is not None:
            used = await self._run(
                "SCHEMA_USE", self._schema_base(record.tenant), "ids", record.schema_id,
                record.version, record.fingerprint, base, 1,
            )  # fmt: skip
            if not int(used):
                raise NotFound(
                    f"schema_id: schema {record.schema_id!r} version {record.version} "
                    "does not exist"
                )
        token = record.token if record is not None else ""
        previous = await self._run(
            "RESOURCE_SET_SCHEMA", base, "cfg" if kind == "stream" else "meta", kind, token,
            *self._DEFAULT_POLICY_ARGS,
        )  # fmt: skip
        old = previous.decode() if isinstance(previous, bytes) else str(previous or "")
        if old and old != token:
            await self._run(
                "SCHEMA_USE", self._schema_base(resource.tenant), "ids", token_schema_id(old),
                token_version(old), "", base, 0,
            )  # fmt: skip

    async def schema_attachment(self, kind: str, resource: Resource) -> str:
        base = self._base("s" if kind == "stream" else "q", resource)
        holder = base + ("cfg" if kind == "stream" else "meta")
        token: Any = await self._redis.hget(holder, "schema")
        return token.decode() if token is not None else ""

    # -- replay sessions
    @property
    def _replay_base(self) -> str:
        return f"{self.prefix}{{fm:replay}}:"

    async def replay_create(self, record: ReplayRecord) -> None:
        created = await self._run(
            "REPLAY_CREATE", self._replay_base, "doc", record.session_id,
            _group_field(record.resource, record.sandbox_group), record.to_json(),
            record.revision,
        )  # fmt: skip
        if not int(created):
            raise AlreadyExists(
                f"sandbox_consumer_group: {record.sandbox_group!r} is already used by a "
                f"replay session of stream {record.resource.path!r}"
            )

    async def replay_get(self, session_id: str) -> ReplayRecord | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._replay_base + "doc", session_id)
            pipe.hget(self._replay_base + "rev", session_id)
            doc, rev = await pipe.execute()
        return _session(doc, rev) if doc is not None else None

    async def replay_list(self) -> list[ReplayRecord]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._replay_base + "doc")
            pipe.hgetall(self._replay_base + "rev")
            docs, revs = await pipe.execute()
        return sorted(
            (_session(doc, revs.get(sid, b"0")) for sid, doc in docs.items()),
            key=lambda r: r.session_id,
        )

    async def replay_find(self, stream: Resource, group: str) -> ReplayRecord | None:
        sid: Any = await self._redis.hget(self._replay_base + "grp", _group_field(stream, group))
        return await self.replay_get(sid.decode()) if sid is not None else None

    async def replay_update(self, record: ReplayRecord) -> bool:
        expected = record.revision
        record.revision = expected + 1
        saved = await self._run(
            "REPLAY_UPDATE", self._replay_base, "doc", record.session_id, expected,
            record.to_json(), self.channel, replay_topic(record.session_id),
        )  # fmt: skip
        if not int(saved):
            record.revision = expected
            return False
        self.notifier.notify(replay_topic(record.session_id))
        return True

    async def replay_delete(self, session_id: str) -> bool:
        record = await self.replay_get(session_id)
        if record is None:
            return False
        deleted = await self._run(
            "REPLAY_DELETE", self._replay_base, "doc", session_id,
            _group_field(record.resource, record.sandbox_group), self.channel,
            replay_topic(session_id),
        )  # fmt: skip
        if int(deleted):
            self.notifier.notify(replay_topic(session_id))
        return bool(int(deleted))


def _session(doc: bytes, revision: bytes | str) -> ReplayRecord:
    record = ReplayRecord.from_json(doc)
    record.revision = int(revision)
    return record


def _user_name(base: bytes | str) -> str:
    """'<prefix>{fm:s:acme/ns/orders}:' -> "stream 'acme/ns/orders'"."""
    text = base.decode() if isinstance(base, bytes) else base
    tag = text[text.index("{") + 1 : text.rindex("}")]
    _, kind, path = tag.split(":", 2)
    return f"{'stream' if kind == 's' else 'queue'} {path!r}"
