"""The committed generated code matches what flowmesh.proto generates today."""

from __future__ import annotations

from pathlib import Path

from flowmesh.proto import generate


def test_generated_code_is_fresh(tmp_path: Path):
    fresh = generate.generate(tmp_path)
    for path in fresh:
        committed = generate.PROTO_DIR / path.name
        assert committed.exists(), f"{committed.name} is missing: regenerate it"
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed.name} is stale: run `python -m flowmesh.proto.generate` and commit it"
        )


def test_proto_declares_the_v1_package_and_services():
    text = generate.PROTO_FILE.read_text()
    assert "package flowmesh.v1;" in text
    for service in ("Health", "Stream", "Queue", "KV"):
        assert f"service {service} {{" in text
