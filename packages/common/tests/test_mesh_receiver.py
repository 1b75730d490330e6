from __future__ import annotations

import asyncio
import gzip
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from common_mesh import AsyncMeshEngine, MeshDeliveryError, MeshEngine, RetryPolicy
from flowmesh import FlowMesh, FlowMeshNotFoundError
from mimeia.testing import free_port
from mimeia.testing.mesh import run_receiver

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[1] / "README.md"


class MyDataModel(BaseModel):
    id: int
    name: str
    value: float


def read_stream(endpoint: str, org: str, module: str, model: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with FlowMesh(endpoint=endpoint) as client:
            out: list[dict[str, Any]] = []
            offset = 0
            while True:
                try:
                    page = await client.stream.read(org, module, model, offset=offset,
                                                    max_messages=1000)  # fmt: skip
                except FlowMeshNotFoundError:
                    return out  # nothing was ever written there
                if not page:
                    return out
                out.extend(json.loads(m.payload) for m in page)
                offset = page[-1].offset + 1

    return asyncio.run(read())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_seed_examples_run_unchanged(mesh_stack: Any) -> None:
    """The README's examples (the seed's two and the async one), only the host swapped."""
    org = unique("seed")
    blocks = [b for b in readme_blocks() if "http://data-mesh:8675" in b]
    assert len(blocks) == 3
    source_data = [MyDataModel(id=i, name=f"n{i}", value=i / 2) for i in range(5)]
    names = {"my_models": source_data, "source_data": source_data, "MyDataModel": MyDataModel}
    for block in blocks:
        code = block.replace("http://data-mesh:8675", mesh_stack.receiver_url)
        exec(code.replace('"org"', f'"{org}"'), dict(names))
    stored = read_stream(mesh_stack.flowmesh_endpoint, org, "mod", "mdl")
    assert [r["id"] for r in stored] == [0, 1, 2, 3, 4] * 3


def test_generator_streams_in_batches_to_flowmesh(mesh_stack: Any) -> None:
    org = unique("acme")

    def rows():  # type: ignore[no-untyped-def]
        for i in range(2500):
            yield MyDataModel(id=i, name="x" * (i % 7), value=i)

    with MeshEngine(base_url=mesh_stack.receiver_url, max_models=1000) as engine:
        summary = engine.create_session(org, "crm", "contacts").send_all_models(rows())
    assert (summary.models, summary.batches, summary.duplicate_batches) == (2500, 3, 0)
    assert summary.compressed_bytes < summary.raw_bytes
    stored = read_stream(mesh_stack.flowmesh_endpoint, org, "crm", "contacts")
    assert [r["id"] for r in stored] == list(range(2500))


async def test_async_engine_to_flowmesh(mesh_stack: Any) -> None:
    org = unique("async")

    async def rows():  # type: ignore[no-untyped-def]
        for i in range(300):
            yield {"id": i}

    async with AsyncMeshEngine(base_url=mesh_stack.receiver_url, max_models=100) as engine:
        summary = await engine.create_session(org, "m", "x").send_all_models(rows())
    assert summary.batches == 3
    stored = await asyncio.to_thread(read_stream, mesh_stack.flowmesh_endpoint, org, "m", "x")
    assert [r["id"] for r in stored] == list(range(300))


def post_batch(
    url: str, org: str, body: bytes, batch_id: str, timeout: str = "5", **headers: str
) -> httpx.Response:
    all_headers = {"X-Mesh-Batch-Id": batch_id, "Content-Type": "application/x-ndjson", **headers}
    return httpx.post(f"{url}/v1/streams/{org}/m/x/batches", content=body, headers=all_headers,
                      timeout=float(timeout))  # fmt: skip


def test_retried_batch_is_stored_once(mesh_stack: Any) -> None:
    org = unique("dup")
    body = gzip.compress(b'{"id": 1}\n{"id": 2}\n')
    batch_id = uuid.uuid4().hex
    first = post_batch(mesh_stack.receiver_url, org, body, batch_id, **{"Content-Encoding": "gzip"})
    again = post_batch(mesh_stack.receiver_url, org, body, batch_id, **{"Content-Encoding": "gzip"})
    assert first.json() == {"batch_id": batch_id, "accepted": 2, "duplicate": False}
    assert again.json() == {"batch_id": batch_id, "accepted": 0, "duplicate": True}
    # The same id from another org is that org's own batch, not a duplicate.
    other = post_batch(mesh_stack.receiver_url, unique("other"), body, batch_id,
                       **{"Content-Encoding": "gzip"})  # fmt: skip
    assert other.json()["duplicate"] is False
    assert [r["id"] for r in read_stream(mesh_stack.flowmesh_endpoint, org, "m", "x")] == [1, 2]


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b'{"id": 1}\n', {"X-Mesh-Batch-Id": "not-hex"}, 400, "X-Mesh-Batch-Id"),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "body"),
        (gzip.compress(b'{"id": 1}\n')[:-6], {"Content-Encoding": "gzip"}, 400, "body"),
        (b'{"id": 1}\n{oops\n', {}, 400, "body"),
        (b"[1, 2]\n", {}, 400, "body"),
        (b"", {}, 400, "body"),
        (b'{"id": 1}\n', {"Content-Encoding": "br"}, 415, "Content-Encoding"),
        (b'{"id": 1}\n', {"X-Mesh-Batch-Count": "3"}, 400, "X-Mesh-Batch-Count"),
        (gzip.compress(b" " * (17 * 1024 * 1024)), {"Content-Encoding": "gzip"}, 413, "body"),
    ],
)
def test_bad_batches_are_rejected_naming_the_part(
    mesh_stack: Any, body: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    org = unique("bad")
    all_headers = {"X-Mesh-Batch-Id": uuid.uuid4().hex, **headers}
    response = httpx.post(f"{mesh_stack.receiver_url}/v1/streams/{org}/m/x/batches",
                          content=body, headers=all_headers)  # fmt: skip
    assert response.status_code == status
    assert response.json()["field"] == field
    assert read_stream(mesh_stack.flowmesh_endpoint, org, "m", "x") == []


@pytest.mark.parametrize("org", ["..", "a b", "x" * 129, "-lead"])
def test_bad_stream_names_are_rejected(mesh_stack: Any, org: str) -> None:
    response = post_batch(mesh_stack.receiver_url, org, b'{"id": 1}\n', uuid.uuid4().hex)
    assert response.status_code in (400, 404)


def test_flowmesh_down_answers_503_and_client_gives_up(tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    with run_receiver(down, None, "--flowmesh-connect-timeout", "0.5") as url:
        direct = post_batch(url, "org", b'{"id": 1}\n', uuid.uuid4().hex, timeout="10")
        assert direct.status_code == 503
        assert direct.json()["field"] == "sink"
        engine = MeshEngine(base_url=url, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
        with engine, pytest.raises(MeshDeliveryError) as info:
            engine.create_session("org", "m", "x").send_models(MyDataModel(id=1, name="a", value=1))
    assert info.value.status == 503
    assert info.value.attempts == 2


def test_receiver_token_is_required_when_configured(flowmesh_endpoint: str) -> None:
    with run_receiver(flowmesh_endpoint, env={"MESH_TOKEN": "s3cret-token"}) as url:
        refused = post_batch(url, "org", b'{"id": 1}\n', uuid.uuid4().hex,
                             Authorization="Bearer wrong")  # fmt: skip
        assert refused.status_code == 401
        with MeshEngine(base_url=url, token="s3cret-token") as engine:
            summary = engine.create_session(unique("tok"), "m", "x").send_models({"id": 1})
    assert summary.models == 1


def test_readme_common_core_example_runs() -> None:
    block = next(b for b in readme_blocks() if "from common_core.strings" in b)
    exec(block, {})
