"""The schema registry and the check every write and enqueue goes through.

JSON Schema documents are registered per tenant with versions; a stream or
queue may have one version attached. Writes to it are parsed with orjson and
checked with jsonschema-rs (the faster of the two validators in
bench/flowmesh_throughput.py) before anything is stored, and the store
refuses the write when the resource meanwhile got another attachment
(:class:`SchemaChanged`), so a server never stores a payload checked against a
stale schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import jsonschema_rs
import orjson

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument, NotFound, SchemaChanged
from flowmesh.server.ops.context import OpsContext, now_ms
from flowmesh.server.store.records import Resource, SchemaRecord, token_version

T = TypeVar("T")
SCHEMA_TYPES = ("jsonschema",)
MAX_DEFINITION_BYTES = 256 * 1024
MAX_VERSION = 2**31 - 1
_CACHED = 4096
_ATTEMPTS = 3  # writes retried after the attachment changed under them


@dataclass(frozen=True, slots=True)
class Checker:
    """The schema a resource's writes are checked against ("" token: none)."""

    token: str
    schema_id: str = ""
    version: int = 0
    validator: Any = None

    def check(self, payloads: Sequence[bytes], field: Callable[[int], str]) -> None:
        """Raise InvalidArgument naming the first failing payload's field and JSON path."""
        if self.validator is None:
            return
        for i, payload in enumerate(payloads):
            try:
                doc = parse_json(payload)
            except ValueError as exc:
                raise InvalidArgument(field(i), f"is not JSON ({exc})") from None
            if self.validator.is_valid(doc):
                continue
            error = next(iter(self.validator.iter_errors(doc)))
            raise InvalidArgument(
                field(i),
                f"{json_path(error.instance_path)}: {error.message} "
                f"(schema {self.schema_id!r} version {self.version})",
            )


NO_SCHEMA = Checker("")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def parse_json(payload: bytes) -> Any:
    """orjson parses several times faster than json, which matters at every write;
    json (without NaN or Infinity) gets the last word on what orjson refuses."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload, parse_constant=_not_json)


def json_path(parts: Sequence[str | int]) -> str:
    """jsonschema-rs's instance path as a JSONPath: ``$.items[0].qty``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _no_fetch(uri: str) -> Any:
    # A schema may only reference itself: fetching URLs a tenant names would let
    # it make the server call anywhere.
    raise ValueError(f"$ref to {uri} is not allowed (only references inside the document)")


def compile_definition(definition: bytes, field: str = "definition") -> Any:
    """Parse and compile a JSON Schema document; InvalidArgument naming what is wrong."""
    if not definition:
        raise InvalidArgument(field, "is required")
    if len(definition) > MAX_DEFINITION_BYTES:
        raise InvalidArgument(field, f"is over the limit of {MAX_DEFINITION_BYTES} bytes")
    try:
        doc = json.loads(definition)
    except ValueError as exc:
        raise InvalidArgument(field, f"is not JSON ({exc})") from None
    if not isinstance(doc, dict | bool):
        raise InvalidArgument(field, f"must be a JSON object, got {type(doc).__name__}")
    try:
        jsonschema_rs.meta.validate(doc)
        return jsonschema_rs.validator_for(doc, retriever=_no_fetch)
    except jsonschema_rs.ValidationError as exc:
        where = json_path(exc.instance_path)
        problem = exc.message.split("\n", 1)[0]
        raise InvalidArgument(field, f"is not a valid JSON Schema at {where}: {problem}") from None
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        raise InvalidArgument(field, f"is not a valid JSON Schema: {exc}") from None


class SchemaOps:
    def __init__(self, ctx: OpsContext) -> None:
        self.ctx = ctx
        self._checkers: dict[tuple[str, str], Checker] = {}
        self._validators: dict[str, Any] = {}

    # -- registry
    async def register(
        self, caller: Caller, tenant: str, schema_id: str, schema_type: str, version: int,
        definition: bytes,
    ) -> SchemaRecord:  # fmt: skip
        v.name(tenant, "tenant")
        caller.check(tenant, permission="admin", field="")
        v.name(schema_id, "schema_id")
        if schema_type not in SCHEMA_TYPES:
            raise InvalidArgument(
                "schema_type", f"must be 'jsonschema', got {schema_type!r}" if schema_type
                else "is required ('jsonschema')",
            )  # fmt: skip
        v.in_range(version, "version", 0, MAX_VERSION)
        compile_definition(definition)
        record = SchemaRecord(tenant, schema_id, version, schema_type, bytes(definition),
                              now_ms(), os.urandom(6).hex())  # fmt: skip
        return await self.ctx.store.schema_register(record, next_version=version == 0)

    async def get(self, caller: Caller, tenant: str, schema_id: str, version: int) -> SchemaRecord:
        v.name(tenant, "tenant")
        caller.check(tenant, permission="admin", field="")
        v.name(schema_id, "schema_id")
        v.in_range(version, "version", 0, MAX_VERSION)
        return await self._existing(tenant, schema_id, version)

    async def _existing(self, tenant: str, schema_id: str, version: int) -> SchemaRecord:
        record = await self.ctx.store.schema_get(tenant, schema_id, version)
        if record is None:
            which = f"version {version}" if version else "any version"
            raise NotFound(f"schema_id: schema {schema_id!r} ({which}) does not exist "
                           f"for tenant {tenant!r}")  # fmt: skip
        return record

    async def list_versions(
        self, caller: Caller, tenant: str, schema_id: str = ""
    ) -> list[SchemaRecord]:
        v.name(tenant, "tenant")
        caller.check(tenant, permission="admin", field="")
        if schema_id:
            v.name(schema_id, "schema_id")
        return await self.ctx.store.schema_list(tenant, schema_id)

    async def delete(self, caller: Caller, tenant: str, schema_id: str, version: int) -> None:
        v.name(tenant, "tenant")
        caller.check(tenant, permission="admin", field="")
        v.name(schema_id, "schema_id")
        v.in_range(version, "version", 1, MAX_VERSION)
        await self.ctx.store.schema_delete(tenant, schema_id, version)
        self._validators.clear()

    async def attach(
        self, caller: Caller, kind: str, resource: Resource, schema_id: str, version: int,
        detach: bool = False,
    ) -> int:  # fmt: skip
        """Attach a version (0: the latest now) to a stream or queue, or detach;
        the version attached (0 after detach)."""
        caller.allow(resource, "admin")
        if detach:
            if schema_id:
                raise InvalidArgument("schema_id", "must be empty when detaching")
            await self.ctx.store.schema_attach(kind, resource, None)
            self._checkers.pop((kind, resource.path), None)
            return 0
        v.name(schema_id, "schema_id")
        v.in_range(version, "version", 0, MAX_VERSION)
        record = await self._existing(resource.tenant, schema_id, version)
        await self.ctx.store.schema_attach(kind, resource, record)
        self._checkers.pop((kind, resource.path), None)
        return record.version

    # -- checking writes
    async def checker(self, kind: str, resource: Resource, refresh: bool = False) -> Checker:
        key = (kind, resource.path)
        found = None if refresh else self._checkers.get(key)
        if found is None:
            token = await self.ctx.store.schema_attachment(kind, resource)
            found = await self._checker_for(resource.tenant, token)
            if len(self._checkers) >= _CACHED:
                self._checkers.clear()
            self._checkers[key] = found
        return found

    async def _checker_for(self, tenant: str, token: str) -> Checker:
        if not token:
            return NO_SCHEMA
        schema_id, version = token.rsplit("@", 1)[0], token_version(token)
        validator = self._validators.get(token)
        if validator is None:
            record = await self._existing(tenant, schema_id, version)
            validator = compile_definition(record.definition)
            if len(self._validators) >= _CACHED:
                self._validators.clear()
            self._validators[token] = validator
        return Checker(token, schema_id, version, validator)

    async def checked_write(
        self,
        kind: str,
        resource: Resource,
        payloads: Sequence[bytes],
        field: Callable[[int], str],
        write: Callable[[str], Awaitable[T]],
    ) -> T:
        """Check ``payloads`` against the resource's schema, then ``write(token)``;
        when the store says the attachment changed meanwhile, look again and retry."""
        checker = await self.checker(kind, resource)
        for attempt in range(_ATTEMPTS):
            checker.check(payloads, field)
            try:
                return await write(checker.token)
            except SchemaChanged:
                if attempt == _ATTEMPTS - 1:
                    raise
                checker = await self.checker(kind, resource, refresh=True)
        raise AssertionError("unreachable")
