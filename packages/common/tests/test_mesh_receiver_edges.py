"""Issue 14.10 and 14.11: org-scoped, hashed receiver tokens; clean answers to
hostile batches (deep nesting, NaN, multi-member gzip); /v1/stats needs a token."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from common_mesh import MeshEngine
from flowmesh import FlowMesh, FlowMeshNotFoundError
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration

ACME_TOKEN = "acme-writer-" + "a" * 24
FILE_TOKEN = "file-writer-" + "b" * 24
ADMIN_TOKEN = "mesh-admin-" + "c" * 24


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def post_batch(url: str, org: str, body: bytes, batch_id: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/streams/{org}/m/x/batches", content=body, timeout=10,
                      headers={"X-Mesh-Batch-Id": batch_id, **headers})  # fmt: skip


def read_stream(endpoint: str, org: str, module: str, model: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with FlowMesh(endpoint=endpoint) as client:
            try:
                page = await client.stream.read(org, module, model, offset=0, max_messages=100)
            except FlowMeshNotFoundError:
                return []
            return [json.loads(m.payload) for m in page]

    return asyncio.run(read())


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def receiver(flowmesh_endpoint: str, env: dict[str, str], *args: str) -> Any:
    port = free_port()
    argv = ["python", "-m", "common_mesh.cli", "serve", "--host", "127.0.0.1", "--port",
            str(port), "--flowmesh", flowmesh_endpoint, *args]  # fmt: skip
    return port, run_server(argv, env=env)


@pytest.fixture(scope="module")
def scoped(flowmesh_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A receiver with org-scoped tokens from MESH_TOKENS and a tokens file."""
    tokens_file = tmp_path_factory.mktemp("mesh-tokens") / "tokens"
    tokens_file.write_text(f"# file entries\n{sha(FILE_TOKEN)}:filed\n")
    env = {"MESH_TOKENS": f"{sha(ACME_TOKEN)}:acme,acme-eu;{sha(ADMIN_TOKEN)}:*"}
    port, server = receiver(flowmesh_endpoint, env, "--tokens-file", str(tokens_file))
    with server:
        yield f"http://127.0.0.1:{port}"


def send(url: str, org: str, token: str | None, records: bytes = b'{"id": 1}\n') -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return post_batch(url, org, records, uuid.uuid4().hex, **headers).status_code


def test_a_token_writes_only_to_its_orgs(scoped: str, flowmesh_endpoint: str) -> None:
    stranger = unique("victim")
    assert send(scoped, "acme", ACME_TOKEN) == 200
    assert send(scoped, "acme-eu", ACME_TOKEN) == 200
    assert send(scoped, stranger, ACME_TOKEN) == 403
    assert send(scoped, "filed", ACME_TOKEN) == 403
    assert send(scoped, "filed", FILE_TOKEN) == 200
    assert send(scoped, stranger, FILE_TOKEN) == 403
    assert send(scoped, stranger, "not-a-token") == 401
    assert send(scoped, stranger, None) == 401
    assert read_stream(flowmesh_endpoint, stranger, "m", "x") == []
    assert send(scoped, stranger, ADMIN_TOKEN) == 200  # '*' may write anywhere
    with MeshEngine(base_url=scoped, token=ACME_TOKEN) as engine:
        summary = engine.create_session("acme", "crm", "rows").send_models({"id": 7})
    assert summary.models == 1


def test_stats_need_a_token_for_every_org(scoped: str) -> None:
    assert httpx.get(f"{scoped}/v1/stats", timeout=5).status_code == 401
    scoped_only = httpx.get(f"{scoped}/v1/stats", timeout=5,
                            headers={"Authorization": f"Bearer {ACME_TOKEN}"})  # fmt: skip
    assert scoped_only.status_code == 403
    admin = httpx.get(f"{scoped}/v1/stats", timeout=5,
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert admin.status_code == 200
    assert admin.json()["batches"] >= 0


def test_the_old_single_token_still_writes_everywhere_with_a_warning(
    flowmesh_endpoint: str,
) -> None:
    port, server = receiver(flowmesh_endpoint, {"MESH_TOKEN": "legacy-token-0123456789"})
    with server as process:
        url = f"http://127.0.0.1:{port}"
        assert send(url, unique("any"), "legacy-token-0123456789") == 200
        assert send(url, unique("any"), "wrong") == 401
        stats = httpx.get(f"{url}/v1/stats", timeout=5,
                          headers={"Authorization": "Bearer legacy-token-0123456789"})  # fmt: skip
        assert stats.status_code == 200
        time.sleep(0.2)
        assert "MESH_TOKEN is deprecated" in process.log


def test_a_malformed_tokens_entry_stops_the_receiver_naming_the_entry(
    flowmesh_endpoint: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "common_mesh.cli", "serve", "--port", str(free_port())],
        env={**os.environ, "MESH_TOKENS": f"{sha('x')}:acme;plain-token-here:acme"},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "MESH_TOKENS: entry 2" in done.stderr
    assert "plain-token-here" not in done.stderr


def test_hash_token_prints_the_entry() -> None:
    cli = [sys.executable, "-m", "common_mesh.cli", "hash-token"]
    hashed = subprocess.run([*cli, "--orgs", "acme,beta"], input=f"{ACME_TOKEN}\n",
                            capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert hashed.stdout.strip() == f"{sha(ACME_TOKEN)}:acme,beta"
    made = subprocess.run([*cli, "--generate"], capture_output=True, text=True, timeout=30,
                          check=True).stdout.split()  # fmt: skip
    assert len(made) == 2 and len(made[0]) >= 40 and made[1] == sha(made[0])


# -- 14.11: hostile batches get a clean 400, nothing is stored or silently dropped --


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"\n",
        b'{"id": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        b'{"id": NaN}\n',
        b'{"id": Infinity}\n',
        b'{"id": -Infinity}\n',
        gzip.compress(b'{"id": 1}\n') + b"trailing junk",
    ],
    ids=["deep-object", "deep-array", "nan", "infinity", "-infinity", "gzip+junk"],
)
def test_hostile_batches_are_refused_cleanly(mesh_stack: Any, body: bytes) -> None:
    org = unique("hostile")
    headers = {"Content-Encoding": "gzip"} if body.startswith(b"\x1f\x8b") else {}
    started = time.perf_counter()
    response = post_batch(mesh_stack.receiver_url, org, body, uuid.uuid4().hex, **headers)
    elapsed = time.perf_counter() - started
    print(f"\n{len(body):,} bytes: {response.status_code} in {elapsed * 1000:.0f} ms "
          f"({response.json().get('error')})")  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"
    assert elapsed < 5
    assert read_stream(mesh_stack.flowmesh_endpoint, org, "m", "x") == []


def test_every_gzip_member_is_decoded(mesh_stack: Any) -> None:
    org = unique("members")
    body = gzip.compress(b'{"id": 1}\n{"id": 2}\n') + gzip.compress(b'{"id": 3}\n')
    response = post_batch(mesh_stack.receiver_url, org, body, uuid.uuid4().hex,
                          **{"Content-Encoding": "gzip", "X-Mesh-Batch-Count": "3"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    stored = read_stream(mesh_stack.flowmesh_endpoint, org, "m", "x")
    assert [r["id"] for r in stored] == [1, 2, 3]
