"""The committed generated code is fresh, and flowmesh.proto is the published
flowmesh.v1 contract (tests/data/flowmesh-v1-wire.json) plus only additions:
new RPCs, new messages, and fields numbered 100 and up."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import generate

CONTRACT = json.loads((Path(__file__).parent / "data" / "flowmesh-v1-wire.json").read_text())
SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "double",
}


def test_generated_code_is_fresh(tmp_path: Path):
    fresh = generate.generate(tmp_path)
    for path in fresh:
        committed = generate.PROTO_DIR / path.name
        assert committed.exists(), f"{committed.name} is missing: regenerate it"
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed.name} is stale: run `python -m flowmesh.proto.generate` and commit it"
        )


def _type(field: FieldDescriptor) -> str:
    if field.message_type is None:
        return SCALARS[field.type]
    if field.message_type.GetOptions().map_entry:
        key, value = (field.message_type.fields_by_name[n] for n in ("key", "value"))
        return f"map<{_type(key)},{_type(value)}>"
    return str(field.message_type.name)


def test_every_published_message_and_field_is_ours_unchanged():
    assert pb.DESCRIPTOR.package == CONTRACT["package"] == "flowmesh.v1"
    assert len(CONTRACT["messages"]) == 85
    for name, fields in CONTRACT["messages"].items():
        ours = {f.number: f for f in pb.DESCRIPTOR.message_types_by_name[name].fields}
        for spec in fields:
            field = ours.pop(spec["number"])
            repeated = field.is_repeated and not (
                field.message_type is not None and field.message_type.GetOptions().map_entry
            )
            assert (field.name, _type(field), repeated) == (
                spec["name"], spec["type"], spec.get("repeated", False),
            ), f"{name}.{spec['name']}"  # fmt: skip
        assert all(number >= 100 for number in ours), f"{name}: our additions start at 100"


def test_every_published_rpc_is_ours_unchanged_and_old_services_are_gone():
    services = pb.DESCRIPTOR.services_by_name
    assert set(services) == set(CONTRACT["services"])
    for service, rpcs in CONTRACT["services"].items():
        methods = services[service].methods_by_name
        for rpc in rpcs:
            m = methods[rpc["rpc"]]
            assert (m.input_type.name, m.output_type.name, m.server_streaming) == (
                rpc["request"], rpc["response"], rpc["server_streaming"],
            )  # fmt: skip
    extra = {
        s: sorted(set(services[s].methods_by_name) - {r["rpc"] for r in rpcs})
        for s, rpcs in CONTRACT["services"].items()
    }
    assert extra == {
        "HealthService": [],
        "StreamService": ["ConfigureStream", "ListConsumerGroups", "ListStreams"],
        "QueueService": ["AckBatch", "EnqueueBatch", "ListQueues"],
        "KVService": ["ListKVStores"], "SchemaService": [],
        "ReplayService": [],
    }  # fmt: skip
