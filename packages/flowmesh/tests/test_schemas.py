"""The schema registry on both stores: versions per tenant, attaching to streams
and queues, every write checked, bad input refused whole and named."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from flowmesh import (
    Event,
    FlowMesh,
    FlowMeshAlreadyExistsError,
    FlowMeshFailedPreconditionError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
)
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration

ORDER_V1 = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
ORDER_V2 = {
    "type": "object",
    "required": ["id", "items"],
    "properties": {
        "id": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["qty"],
                "properties": {"qty": {"type": "integer", "minimum": 1}},
            },
        },
    },
}


def order(i: int, qty: Any = 1) -> bytes:
    return json.dumps({"id": f"o{i}", "items": [{"qty": 1}, {"qty": qty}]}).encode()


@pytest.fixture
def tenant(ns: str) -> str:
    """A tenant of its own: schemas are per tenant."""
    return f"t{ns[3:]}"


async def test_versions_register_list_and_get(client: FlowMesh, tenant: str, refused: Any):
    assert await client.schemas.register(tenant, "order", ORDER_V1, version=1) == 1
    assert await client.schemas.register(tenant, "order", json.dumps(ORDER_V2)) == 2  # next free
    assert await client.schemas.register(tenant, "refund", b'{"type": "object"}', 5) == 5
    latest = await client.schemas.get(tenant, "order")
    assert (latest.id, latest.version, json.loads(latest.definition)) == ("order", 2, ORDER_V2)
    assert (await client.schemas.get(tenant, "order", 1)).definition == json.dumps(
        ORDER_V1, separators=(",", ":")
    ).encode()
    assert latest.created_at is not None
    listed = await client.schemas.list_schemas(tenant)
    assert [(s.id, s.version) for s in listed] == [("order", 1), ("order", 2), ("refund", 5)]
    assert [s.version for s in await client.schemas.list_schemas(tenant, "order")] == [1, 2]
    assert await client.schemas.list_schemas(f"{tenant}x") == []  # another tenant's registry

    with pytest.raises(FlowMeshAlreadyExistsError, match="version: 1 of schema 'order'"):
        await client.schemas.register(tenant, "order", ORDER_V1, version=1)
    with pytest.raises(FlowMeshNotFoundError, match=r"schema_id: schema 'order' \(version 9\)"):
        await client.schemas.get(tenant, "order", 9)
    with pytest.raises(FlowMeshNotFoundError, match="schema_id: schema 'nope'"):
        await client.schemas.get(tenant, "nope")


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (b"", "definition: is required"),
        (b"{not json", "definition: is not JSON"),
        (b"[1, 2]", "definition: must be a JSON object, got list"),
        (b'{"type": "objectx"}', "definition: is not a valid JSON Schema at $.type: "),
        (b'{"minimum": "five"}', "definition: is not a valid JSON Schema at $.minimum: "),
        (
            b'{"$ref": "http://127.0.0.1:1/evil.json"}',
            "definition: is not a valid JSON Schema at $: ",
        ),
    ],
)
async def test_invalid_schema_documents_are_refused(
    client: FlowMesh, tenant: str, definition: bytes, problem: str, refused: Any
):
    with refused("schemas.register", problem):
        await client.schemas.register(tenant, "bad", definition, version=1)
    assert await client.schemas.list_schemas(tenant) == []


async def test_bad_names_and_types_are_refused(
    client: FlowMesh, tenant: str, ns: str, refused: Any
):
    with refused("schemas.register", "schema_type: must be 'jsonschema', got 'avro'"):
        await client.schemas.register(tenant, "s", ORDER_V1, schema_type="avro")
    with refused("schemas.register", "schema_id: must be 1-128 characters"):
        await client.schemas.register(tenant, "no spaces", ORDER_V1)
    with refused("schemas.register", "tenant: is required"):
        await client.schemas.register("", "s", ORDER_V1)
    with refused("schemas.delete", "version: must be between 1 and"):
        await client.schemas.delete(tenant, "s", 0)
    await client.schemas.register(tenant, "s", ORDER_V1)
    with refused("schemas.attach", "resource_path.resource_type: must be 'stream' or 'queue'"):
        await client.schemas.attach(tenant, ns, "cache", "s", resource_type="kv")  # type: ignore[arg-type]
    with pytest.raises(
        FlowMeshNotFoundError, match=r"schemas\.attach failed: schema_id: schema 'x'"
    ):
        await client.schemas.attach(tenant, ns, "orders", "x")


async def test_writes_are_checked_and_stamped_with_the_version(
    client: FlowMesh, tenant: str, ns: str, refused: Any
):
    await client.stream.write(tenant, ns, "orders", [Event(payload=b"before any schema")])
    await client.schemas.register(tenant, "order", ORDER_V1)
    await client.schemas.register(tenant, "order", ORDER_V2)
    assert await client.schemas.attach(tenant, ns, "orders", "order") == 2  # 0: the latest
    assert await client.stream.write(tenant, ns, "orders", [Event(payload=order(1))]) == [1]

    # One bad event refuses the whole batch, naming its index and the JSON path.
    batch = [Event(payload=order(2)), Event(payload=order(3)), Event(payload=order(4, qty=0))]
    with refused("stream.write", "events[2].payload: $.items[1].qty: 0 is less than the minimum"):
        await client.stream.write(tenant, ns, "orders", batch)
    with refused("stream.write", "events[0].payload: is not JSON"):
        await client.stream.write(tenant, ns, "orders", [Event(payload=b"{oops")])
    with refused("stream.write", "events[0].payload: is not JSON (NaN is not a JSON value)"):
        await client.stream.write(tenant, ns, "orders", [Event(payload=b'{"id": NaN}')])
    with refused("stream.write", 'events[0].payload: $: "items" is a required property'):
        await client.stream.write(tenant, ns, "orders", [Event(payload=b'{"id": "x"}')])
    assert await client.stream.get_latest_offset(tenant, ns, "orders") == 1  # nothing half-written

    assert await client.schemas.attach(tenant, ns, "orders", "order", 1) == 1
    assert await client.stream.write(tenant, ns, "orders", [Event(payload=b'{"id": "x"}')]) == [2]
    stored = await client.stream.read(tenant, ns, "orders", max_messages=10)
    assert [m.schema_version for m in stored] == [0, 2, 1]

    await client.schemas.detach(tenant, ns, "orders")
    assert await client.stream.write(tenant, ns, "orders", [Event(payload=b"free again")]) == [3]
    [last] = await client.stream.read(tenant, ns, "orders", offset=3)
    assert last.schema_version == 0


async def test_enqueues_are_checked_too(client: FlowMesh, tenant: str, ns: str, refused: Any):
    await client.schemas.register(tenant, "job", ORDER_V1, version=3)
    assert await client.schemas.attach(tenant, ns, "work", "job", 3, resource_type="queue") == 3
    await client.queue.enqueue(tenant, ns, "work", b'{"id": "ok"}')
    with refused("queue.enqueue", 'payload: $.id: 7 is not of type "string"'):
        await client.queue.enqueue(tenant, ns, "work", b'{"id": 7}')
    stats = await client.queue.get_stats(tenant, ns, "work")
    assert (stats.total_jobs, stats.pending_jobs) == (1, 1)


async def test_a_version_in_use_cannot_be_deleted(client: FlowMesh, tenant: str, ns: str):
    await client.schemas.register(tenant, "order", ORDER_V1, version=1)
    await client.schemas.register(tenant, "order", ORDER_V2, version=2)
    await client.schemas.attach(tenant, ns, "orders", "order", 1)
    await client.schemas.attach(tenant, ns, "jobs", "order", 1, resource_type="queue")
    with pytest.raises(FlowMeshFailedPreconditionError) as busy:
        await client.schemas.delete(tenant, "order", 1)
    assert busy.value.details == (
        f"version: 1 of schema 'order' is in use by queue '{tenant}/{ns}/jobs', "
        f"stream '{tenant}/{ns}/orders'; attach another version first"
    )
    await client.schemas.attach(tenant, ns, "orders", "order", 2)  # moves off version 1
    await client.schemas.detach(tenant, ns, "jobs", resource_type="queue")
    await client.schemas.delete(tenant, "order", 1)
    assert [s.version for s in await client.schemas.list_schemas(tenant, "order")] == [2]
    with pytest.raises(FlowMeshFailedPreconditionError):
        await client.schemas.delete(tenant, "order", 2)
    with pytest.raises(FlowMeshNotFoundError):
        await client.schemas.delete(tenant, "order", 1)
    # A deleted version's number can be registered again, as a new document.
    assert await client.schemas.register(tenant, "order", {"type": "object"}, version=1) == 1


async def test_servers_sharing_redis_check_against_the_newest_attachment(
    redis_url: str, redis_prefix: str, serve_cmd: Callable[..., list[str]], ns: str
):
    store = f"{redis_url}?prefix={redis_prefix}schemas{ns}:"
    ports = free_port(), free_port()
    with run_server(serve_cmd(ports[0], store)), run_server(serve_cmd(ports[1], store)):
        async with FlowMesh(f"127.0.0.1:{ports[0]}") as a, FlowMesh(f"127.0.0.1:{ports[1]}") as b:
            await b.stream.write("acme", ns, "s", [Event(payload=b"unchecked")])  # b: no schema
            await a.schemas.register("acme", "only-ids", ORDER_V1)
            await a.schemas.attach("acme", ns, "s", "only-ids")
            with pytest.raises(FlowMeshInvalidArgumentError, match=r"events\[0\]\.payload"):
                await b.stream.write("acme", ns, "s", [Event(payload=b"not json")])
            assert await b.stream.write("acme", ns, "s", [Event(payload=b'{"id": "1"}')]) == [1]
