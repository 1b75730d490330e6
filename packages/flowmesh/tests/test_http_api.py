"""The HTTP API (the FlowMesh project's /api/v1 paths and JSON bodies) against a
real server on both stores, next to gRPC calls on the same server: one core."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowmesh import Event, FlowMesh, RetryPolicy
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
T = "acme"


def store_url(kind: str, directory: Path, redis_url: str, redis_prefix: str) -> str:
    """A fresh store of ``kind`` (a file under ``directory``, or a Redis prefix)."""
    if kind == "sqlite":
        return f"sqlite:///{directory}/flowmesh.db"
    sep = "&" if "?" in redis_url else "?"
    return f"{redis_url}{sep}prefix={redis_prefix}fm{uuid.uuid4().hex[:6]}:"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def http_server(
    store_kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_prefix: str,
    serve_cmd: Callable[..., list[str]],
) -> Iterator[tuple[str, str]]:
    """(gRPC endpoint, HTTP base URL) of an open server with the HTTP API."""
    url = store_url(store_kind, tmp_path_factory.mktemp(f"http-{store_kind}"), redis_url,
                         redis_prefix)  # fmt: skip
    port, http_port = free_port(), free_port()
    argv = serve_cmd(port, url, "--http-addr", f"127.0.0.1:{http_port}")
    with run_server(argv) as proc:
        assert f"HTTP API at http://127.0.0.1:{http_port}" in proc.log
        yield f"127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"


@pytest.fixture
async def http(http_server: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_server[1], timeout=10) as c:
        yield c


@pytest.fixture
async def grpc_client(http_server: tuple[str, str]) -> AsyncIterator[FlowMesh]:
    async with FlowMesh(http_server[0]) as c:
        yield c


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", body
    return body


def refused(response: httpx.Response, code: int, message_start: str) -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["status"] == "error" and body["code"] == code
    assert body["message"].startswith(message_start), body["message"]


async def test_health_ready_and_openapi_list_every_route(http: httpx.AsyncClient):
    assert ok_status(await http.get("/health")) == "ok"
    ready = (await http.get("/ready")).json()
    assert ready["ready"] is True and ready["store"] in ("sqlite", "redis")
    doc = (await http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/streams/{tenant}/{namespace}/{name}/events",
                 "/api/v1/queues/{tenant}/{namespace}/{name}/dlq/jobs/{job_id}/replay",
                 "/api/v1/kv/{tenant}/{namespace}/{name}/keys/{key}",
                 "/api/v1/schemas/{schema_id}/{version}",
                 "/api/v1/replay/sessions/{session_id}/start",
                 "/api/v1/streams", "/api/v1/queues", "/api/v1/kv"):  # fmt: skip
        assert path in doc["paths"], path
    assert "head" in doc["paths"]["/api/v1/kv/{tenant}/{namespace}/{name}/keys/{key}"]
    refused(await http.get("/api/v1/nothing"), 404, "no route GET /api/v1/nothing")
    assert "flowmesh_requests_total" in (await http.get("/metrics")).text


def ok_status(response: httpx.Response) -> str:
    assert response.status_code == 200
    message: str = response.json()["status"]["message"]
    return message


async def test_streams_over_http_and_grpc_are_one(
    http: httpx.AsyncClient, grpc_client: FlowMesh, ns: str
):
    base = f"/api/v1/streams/{T}/{ns}/orders"
    events = [{"payload": b64(b"one"), "headers": {"event_type": "a"}}, {"payload": b64(b"two")}]
    written = ok(await http.post(base + "/events", json={"events": events}))
    assert written["offsets"] == [0, 1]
    await grpc_client.stream.write(T, ns, "orders", [Event(payload=b"three")])
    got = ok(await http.get(base + "/messages", params={"offset": 0, "max_messages": 10}))
    assert [base64.b64decode(m["payload"]) for m in got["messages"]] == [b"one", b"two", b"three"]
    first = got["messages"][0]
    assert first["resource_path"] == f"{T}/{ns}/stream/orders" and first["headers"] == {
        "event_type": "a"}  # fmt: skip
    assert first["created_at"] > 1_600_000_000 * 10**9  # unix nanoseconds
    via_grpc = await grpc_client.stream.read(T, ns, "orders", offset=0)
    assert [m.id for m in via_grpc] == [m["id"] for m in got["messages"]]
    assert ok(await http.get(base + "/offsets/latest"))["offset"] == 2
    stats = ok(await http.get(base + "/stats"))["stats"]
    assert stats["latest_offset"] == 2 and stats["messages"] == 3

    # consumer groups
    ok(await http.post(base + "/consumer-groups/billing/offsets", json={"offset": 0}))
    assert ok(await http.get(base + "/consumer-groups/billing/offsets"))["offset"] == 0
    assert await grpc_client.stream.get_offset(T, ns, "orders", "billing") == 0
    state = ok(await http.get(base + "/consumer-groups/billing/state"))["state"]
    assert (state["committed_offset"], state["latest_offset"], state["lag"]) == (0, 2, 2)
    groups = ok(await http.get(base + "/consumer-groups"))["consumer_groups"]
    assert [(g["group"], g["lag"]) for g in groups] == [("billing", 2)]

    # bad input names the field; nothing of the batch is written
    refused(await http.post(base + "/events", json={"events": [{"payload": b64(b"ok")},
            {"payload": "%%%"}]}), 400, "events[1].payload: is not valid base64")  # fmt: skip
    refused(await http.post(base + "/events", content=b"{nope"), 400, "body: is not JSON")
    refused(await http.get(f"/api/v1/streams/{T}/{ns}/missing/offsets/latest"), 404, "stream")
    refused(await http.get(f"/api/v1/streams/{T}/-bad/orders/messages"), 400,
            "resource_path.namespace:")  # fmt: skip
    assert ok(await http.get(base + "/offsets/latest"))["offset"] == 2


async def test_queues_retry_policy_and_dlq_over_http(
    http: httpx.AsyncClient, grpc_client: FlowMesh, ns: str
):
    base = f"/api/v1/queues/{T}/{ns}/jobs"
    done = ok(await http.post(base + "/jobs", json={"payload": b64(b"j1"),
                                                    "headers": {"priority": "high"}}))  # fmt: skip
    assert done["seq"] == 1 and done["job_id"]
    job = ok(await http.post(base + "/reserve", json={"visibility_timeout_seconds": 30}))["job"]
    assert job["id"] == done["job_id"] and base64.b64decode(job["payload"]) == b"j1"
    assert job["reserve_until"] > job["visible_at"] and job["attempts"] == 1
    assert ok(await http.post(base + "/reserve", json={}))["job"] is None
    ok(await http.post(f"{base}/jobs/{job['id']}/ack"))
    ok(await http.post(f"{base}/jobs/{job['id']}/ack"))  # a retried ack is applied once
    refused(await http.post(f"{base}/jobs/no-such-job/ack"), 404, "job")

    policy = {"max_attempts": 1, "initial_backoff_seconds": 1, "max_backoff_seconds": 2,
              "backoff_multiplier": 2.0, "backoff_strategy": "fixed"}  # fmt: skip
    saved = ok(await http.put(base + "/retry-policy", json=policy))["policy"]
    assert saved["backoff_strategy"] == "fixed" and saved["max_attempts"] == 1
    got = await grpc_client.queue.get_retry_policy(T, ns, "jobs")
    assert isinstance(got, RetryPolicy) and got.backoff_strategy == "fixed"
    assert ok(await http.get(base + "/retry-policy"))["policy"]["max_backoff_seconds"] == 2
    refused(await http.put(base + "/retry-policy", json={**policy, "backoff_strategy": "wild"}),
            400, "policy.backoff_strategy:")  # fmt: skip

    # a job enqueued over gRPC fails its only attempt over HTTP and is dead-lettered
    await grpc_client.queue.enqueue(T, ns, "jobs", b"j2")
    jobs = ok(await http.post(base + "/receive", json={"max_jobs": 5}))["jobs"]
    assert [base64.b64decode(j["payload"]) for j in jobs] == [b"j2"]
    nacked = ok(await http.post(f"{base}/jobs/{jobs[0]['id']}/nack", json={"error": "boom"}))
    assert nacked["dead_lettered"] is True
    dead = ok(await http.get(base + "/dlq/jobs"))["jobs"]
    assert [(j["id"], j["last_error"]) for j in dead] == [(jobs[0]["id"], "boom")]
    again = ok(await http.post(f"{base}/dlq/jobs/{dead[0]['id']}/replay"))
    assert again["seq"] == 3
    stats = ok(await http.get(base + "/stats"))["stats"]
    assert (stats["total_jobs"], stats["completed_jobs"], stats["failed_jobs"],
            stats["pending_jobs"]) == (3, 1, 1, 1)  # fmt: skip

    jobs3 = [{"payload": b64(b"a")}, {"payload": "!!"}, {"payload": b64(b"b"), "dedup_id": "d"}]
    batch = ok(await http.post(base + "/jobs", json={"jobs": jobs3}))
    assert [r["status"] for r in batch["results"]] == ["success", "error", "success"]
    assert batch["results"][1]["message"].startswith("jobs[1].payload: is not valid base64")


async def test_kv_with_head_and_listings_with_stats(
    http: httpx.AsyncClient, grpc_client: FlowMesh, ns: str
):
    base = f"/api/v1/kv/{T}/{ns}/cache/keys"
    ok(await http.put(base + "/user:1", json={"value": b64(b"v1"), "ttl_seconds": 3600}))
    ok(await http.put(base + "/a/b", json={"value": b64(b"slash")}))
    await grpc_client.kv.set(T, ns, "cache", "user:2", b"v2")
    assert base64.b64decode(ok(await http.get(base + "/user:2"))["value"]) == b"v2"
    assert await grpc_client.kv.get(T, ns, "cache", "a/b") == b"slash"
    assert (await http.head(base + "/user:1")).status_code == 200
    assert (await http.head(base + "/nope")).status_code == 404
    keys = ok(await http.get(base, params={"prefix": "user:"}))["keys"]
    assert keys == ["user:1", "user:2"]
    assert ok(await http.delete(base + "/user:1"))["deleted"] is True
    refused(await http.get(base + "/user:1"), 404, "key 'user:1' does not exist")
    refused(await http.put(base + "/k", json={"ttl_seconds": 5}), 400, "value: is required")

    # listings: HTTP and the SDK's list calls, filtered to this namespace
    await grpc_client.stream.write(T, ns, "s1", [Event(payload=b"x")] * 3)
    await grpc_client.queue.enqueue(T, ns, "q1", b"x")
    streams = ok(await http.get("/api/v1/streams", params={"tenant": T, "namespace": ns}))
    assert [(s["name"], s["messages"], s["latest_offsets"]) for s in streams["streams"]] == [
        ("s1", 3, [2])]  # fmt: skip
    queues = ok(await http.get("/api/v1/queues", params={"namespace": ns}))["queues"]
    assert [(q["name"], q["stats"]["pending_jobs"]) for q in queues] == [("q1", 1)]
    stores = ok(await http.get("/api/v1/kv", params={"namespace": ns}))["stores"]
    assert [(s["name"], s["keys"]) for s in stores] == [("cache", 2)]
    sdk_streams = await grpc_client.streams.list(T, ns)
    assert [(s.name, s.messages, s.partitions) for s in sdk_streams] == [("s1", 3, 1)]
    sdk_queues = await grpc_client.queues.list(namespace=ns)
    assert [(q.name, q.stats.total_jobs) for q in sdk_queues] == [("q1", 1)]
    sdk_stores = await grpc_client.kv.list_stores(T, ns)
    assert [(s.tenant, s.name, s.keys) for s in sdk_stores] == [(T, "cache", 2)]
    # a page at a time over HTTP too: page_size and the previous page's token
    await grpc_client.stream.write(T, ns, "s2", [Event(payload=b"x")])
    first = ok(await http.get("/api/v1/streams", params={"namespace": ns, "page_size": 1}))
    assert [s["name"] for s in first["streams"]] == ["s1"] and first["next_page_token"]
    rest = ok(await http.get("/api/v1/streams", params={
        "namespace": ns, "page_size": 1, "page_token": first["next_page_token"]}))  # fmt: skip
    assert ([s["name"] for s in rest["streams"]], rest["next_page_token"]) == (["s2"], "")
    refused(await http.get("/api/v1/queues", params={"page_token": "%%"}), 400, "page_token: ")
    refused(await http.get("/api/v1/kv", params={"page_size": 5000}), 400, "page_size: ")


async def test_schemas_and_replay_over_http(
    http: httpx.AsyncClient, grpc_client: FlowMesh, ns: str
):
    schema_id = f"order-{ns}"
    definition = '{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}'
    reg = ok(await http.post("/api/v1/schemas", json={
        "tenant": T, "schema_id": schema_id, "schema_type": "jsonschema", "version": 1,
        "definition": definition}))  # fmt: skip
    assert reg["version"] == 1
    got = ok(await http.get(f"/api/v1/schemas/{schema_id}/v1", params={"tenant": T}))["schema"]
    assert got["definition"] == definition and got["version"] == 1
    listed = ok(await http.get("/api/v1/schemas", params={"tenant": T, "schema_id": schema_id}))
    assert [s["version"] for s in listed["schemas"]] == [1]
    refused(await http.get(f"/api/v1/schemas/nope-{ns}/v1", params={"tenant": T}), 404,
            f"schema_id: schema 'nope-{ns}'")  # fmt: skip
    refused(await http.post("/api/v1/schemas", json={"tenant": T, "schema_id": "x",
            "definition": "{\"type\": 12}"}), 400, "definition")  # fmt: skip
    refused(await http.put(f"/api/v1/streams/{T}/{ns}/checked/schema",
            json={"schema_id": f"nope-{ns}"}), 404, "schema_id:")  # fmt: skip

    base = f"/api/v1/streams/{T}/{ns}/checked"
    ok(await http.put(base + "/schema", json={"schema_id": schema_id, "version": 1}))
    good, bad = b64(b'{"id": "a"}'), b64(b'{"id": 7}')
    refused(await http.post(base + "/events", json={"events": [{"payload": good},
            {"payload": bad}]}), 400, "events[1].payload")  # fmt: skip
    written = ok(await http.post(base + "/events", json={"events": [{"payload": good}] * 4}))
    assert written["offsets"] == [0, 1, 2, 3]
    messages = ok(await http.get(base + "/messages", params={"offset": 0}))["messages"]
    assert {m["schema_version"] for m in messages} == {1}
    refused(await http.delete(f"/api/v1/schemas/{schema_id}/v1", params={"tenant": T}), 409,
            "")  # in use  # fmt: skip

    session = ok(await http.post("/api/v1/replay/sessions", params={"stream": f"{T}/{ns}/checked"},
                 json={"start_offset": 1, "end_offset": 2,
                       "sandbox_consumer_group": "_replay_http"}))["session"]  # fmt: skip
    assert (session["status"], session["start_offset"], session["end_offset"]) == (
        "created", 1, 2)  # fmt: skip
    sid = session["session_id"]
    refused(await http.post("/api/v1/replay/sessions", params={"stream": f"{T}/{ns}/checked"},
            json={"start_offset": 9, "sandbox_consumer_group": "_replay_x"}), 400,
            "start_offset: 9 is past the last offset")  # fmt: skip
    ok(await http.post(f"/api/v1/replay/sessions/{sid}/start"))
    delivered = [m.offset async for m in grpc_client.stream.subscribe(T, ns, "checked",
                                                                       "_replay_http")]  # fmt: skip
    assert delivered == [1, 2]
    done = ok(await http.get(f"/api/v1/replay/sessions/{sid}"))["session"]
    assert done["status"] == "completed" and done["progress"]["messages_replayed"] == 2
    listed_sessions = ok(await http.get("/api/v1/replay/sessions",
                                        params={"stream": f"{T}/{ns}/checked"}))  # fmt: skip
    assert [s["session_id"] for s in listed_sessions["sessions"]] == [sid]
    refused(await http.post(f"/api/v1/replay/sessions/{sid}/pause"), 409, "")
    ok(await http.delete(f"/api/v1/replay/sessions/{sid}"))
    refused(await http.get(f"/api/v1/replay/sessions/{sid}"), 404, "session_id:")


async def test_http_addr_in_use_is_a_clear_error(tmp_path: Path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "flowmesh", "serve", "--grpc-addr", f"127.0.0.1:{free_port()}",
             "--http-addr", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert proc.returncode == 2
    assert "Address already in use" in proc.stderr or "address" in proc.stderr.lower()


async def test_server_flags_come_from_flowmesh_variables(tmp_path: Path):
    grpc_port, http_port = free_port(), free_port()
    env = {"FLOWMESH_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
           "FLOWMESH_HTTP_ADDR": f"127.0.0.1:{http_port}",
           "FLOWMESH_DATA_DIR": str(tmp_path / "data"),
           "FLOWMESH_LOG_LEVEL": "warning"}  # fmt: skip
    with run_server(["python", "-m", "flowmesh", "serve"], env=env) as proc:
        assert f"listening on 127.0.0.1:{grpc_port}" in proc.log
        async with httpx.AsyncClient(timeout=10) as http:
            ready = (await http.get(f"http://127.0.0.1:{http_port}/ready")).json()
        assert ready["ready"] is True and ready["store"] == "sqlite"
        assert (tmp_path / "data" / "flowmesh.db").exists()
