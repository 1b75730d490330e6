from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel

from common_mesh import (
    AsyncMeshEngine,
    Batcher,
    MeshDeliveryError,
    MeshEngine,
    MeshModelError,
    MeshNameError,
    MeshSessionThreadError,
    RetryPolicy,
)
from mimeia.testing import free_port

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


class Row(BaseModel):
    id: int
    name: str


def test_batcher_cuts_by_count() -> None:
    batcher = Batcher(max_models=3, max_bytes=1 << 20)
    closed = [b for i in range(7) if (b := batcher.add(Row(id=i, name="x"))) is not None]
    last = batcher.flush()
    assert last is not None
    assert [b.count for b in [*closed, last]] == [3, 3, 1]
    assert batcher.flush() is None
    lines = gzip.decompress(closed[0].body).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2]
    assert len({b.batch_id for b in [*closed, last]}) == 3


def test_batcher_cuts_by_bytes_and_never_exceeds() -> None:
    batcher = Batcher(max_models=10_000, max_bytes=1000)
    batches = [b for i in range(500) if (b := batcher.add({"id": i, "pad": "y" * 40}))]
    assert batches
    assert all(b.raw_bytes <= 1000 for b in batches)
    assert all(len(gzip.decompress(b.body)) == b.raw_bytes for b in batches)


def test_batcher_rejects_bad_models_and_settings() -> None:
    batcher = Batcher(max_bytes=100)
    with pytest.raises(MeshModelError, match=r"model #0: .*more than max_bytes"):
        batcher.add({"blob": "z" * 200})
    with pytest.raises(MeshModelError, match="model #1: expected a pydantic model"):
        batcher.add(42)
    with pytest.raises(MeshModelError, match="not JSON serializable"):
        batcher.add({"x": object()})
    with pytest.raises(ValueError, match="max_models"):
        Batcher(max_models=0)
    with pytest.raises(ValueError, match="max_bytes"):
        Batcher(max_bytes=10**9)


@pytest.mark.parametrize(
    ("org", "module", "model", "field"),
    [
        ("", "m", "x", "org"),
        ("a/b", "m", "x", "org"),
        ("org", "..", "x", "module"),
        ("org", "m", "x" * 200, "model"),
        ("org", "m", 5, "model"),
    ],
)
def test_session_names_are_checked(org: str, module: str, model: str, field: str) -> None:
    engine = MeshEngine(base_url="http://127.0.0.1:1")
    with pytest.raises(MeshNameError) as info:
        engine.create_session(org, module, model)
    assert info.value.field == field


def test_engine_rejects_bad_base_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        MeshEngine(base_url="ftp://mesh")


@pytest.mark.integration
def test_retries_429_and_503_then_stores_each_batch_once(scripted_peer: Any) -> None:
    scripted_peer.script = [(429, {"Retry-After": "0"}), (503, {})]
    with MeshEngine(base_url=scripted_peer.url, max_models=10, retry=FAST) as engine:
        session = engine.create_session("acme", "crm", "contacts")
        summary = session.send_all_models(Row(id=i, name=f"n{i}") for i in range(25))
    assert summary.models == 25
    assert summary.batches == 3
    assert summary.retries == 2
    assert [r["id"] for r in scripted_peer.records()] == list(range(25))
    assert scripted_peer.requests[0][0] == "/v1/streams/acme/crm/contacts/batches"


@pytest.mark.integration
def test_retry_after_is_honoured(scripted_peer: Any) -> None:
    scripted_peer.script = [(429, {"Retry-After": "0.3"})]
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=5)
    started = time.perf_counter()
    with MeshEngine(base_url=scripted_peer.url, retry=policy) as engine:
        engine.create_session("o", "m", "x").send_models(Row(id=1, name="a"))
    assert time.perf_counter() - started >= 0.3


@pytest.mark.integration
def test_a_batch_is_resent_after_a_read_timeout_under_the_same_id(scripted_peer: Any) -> None:
    # The batch POST is idempotent by its X-Mesh-Batch-Id (the receiver stores an id
    # once), so the shared policy resends it although the first may have been applied.
    scripted_peer.script = [(200, {"x-test-stall": "1.0"})]
    with MeshEngine(base_url=scripted_peer.url, retry=FAST, timeout=0.3) as engine:
        summary = engine.create_session("o", "m", "x").send_models(Row(id=1, name="a"))
    ids = [headers["x-mesh-batch-id"] for _, headers, _ in scripted_peer.requests]
    assert summary.retries == 1 and len(ids) == 2 and ids[0] == ids[1]


@pytest.mark.integration
def test_client_error_is_not_retried_and_is_typed(scripted_peer: Any) -> None:
    scripted_peer.script = [(200, {}), (400, {}), (200, {})]
    with MeshEngine(base_url=scripted_peer.url, max_models=2, retry=FAST) as engine:
        session = engine.create_session("o", "m", "x")
        with pytest.raises(MeshDeliveryError) as info:
            session.send_all_models(Row(id=i, name="a") for i in range(6))
    assert info.value.status == 400
    assert info.value.detail == "scripted 400"
    assert info.value.attempts == 1
    assert info.value.sent_models == 2


@pytest.mark.integration
def test_gives_up_after_max_attempts(scripted_peer: Any) -> None:
    scripted_peer.script = [(503, {})] * 10
    engine = MeshEngine(base_url=scripted_peer.url, retry=FAST)
    with engine, pytest.raises(MeshDeliveryError) as info:
        engine.create_session("o", "m", "x").send_models(Row(id=1, name="a"))
    assert info.value.attempts == 4
    assert info.value.status == 503


def test_unreachable_mesh_raises_after_retries() -> None:
    engine = MeshEngine(base_url=f"http://127.0.0.1:{free_port()}", retry=FAST, timeout=2)
    with engine, pytest.raises(MeshDeliveryError, match="unreachable") as info:
        engine.create_session("o", "m", "x").send_models(Row(id=1, name="a"))
    assert info.value.status is None
    assert info.value.attempts == 4


@pytest.mark.integration
def test_session_belongs_to_its_thread(scripted_peer: Any) -> None:
    errors: list[BaseException] = []
    with MeshEngine(base_url=scripted_peer.url) as engine:
        session = engine.create_session("o", "m", "x")

        def use_elsewhere() -> None:
            try:
                session.send_models(Row(id=1, name="a"))
            except MeshSessionThreadError as exc:
                errors.append(exc)

        worker = threading.Thread(target=use_elsewhere)
        worker.start()
        worker.join()
    assert len(errors) == 1


@pytest.mark.integration
def test_engine_is_reusable_after_close(scripted_peer: Any) -> None:
    engine = MeshEngine(base_url=scripted_peer.url)
    with engine:
        engine.create_session("o", "m", "x").send_models(Row(id=1, name="a"))
    with engine:
        engine.create_session("o", "m", "x").send_models(Row(id=2, name="b"))
    assert [r["id"] for r in scripted_peer.records()] == [1, 2]


@pytest.mark.integration
async def test_async_session_sends_async_iterables_with_retries(
    scripted_peer: Any,
) -> None:
    scripted_peer.script = [(502, {})]

    async def rows():  # type: ignore[no-untyped-def]
        for i in range(12):
            yield Row(id=i, name="a")

    async with AsyncMeshEngine(base_url=scripted_peer.url, max_models=5, retry=FAST) as engine:
        summary = await engine.create_session("o", "m", "x").send_all_models(rows())
    assert (summary.models, summary.batches, summary.retries) == (12, 3, 1)
    assert [r["id"] for r in scripted_peer.records()] == list(range(12))
    assert summary.compression_ratio > 0


@pytest.mark.integration
def test_shared_engine_is_one_per_base_url(scripted_peer: Any) -> None:
    first = MeshEngine.shared(scripted_peer.url)
    assert MeshEngine.shared(scripted_peer.url + "/") is first
    assert MeshEngine.shared("http://127.0.0.1:1") is not first
    seen: list[int] = []

    def send(i: int) -> None:
        session = MeshEngine.shared(scripted_peer.url).create_session("o", "m", "x")
        seen.append(session.send_models(Row(id=i, name="t")).models)

    workers = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    MeshEngine.close_shared()
    assert seen == [1, 1, 1, 1]
    assert sorted(r["id"] for r in scripted_peer.records()) == [0, 1, 2, 3]
    assert MeshEngine.shared(scripted_peer.url) is not first
    MeshEngine.close_shared()
