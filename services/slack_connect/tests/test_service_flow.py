"""The full flow over real processes: admin -> Paragon emulator -> incoming routes ->
allowlist filter -> mesh receiver -> FlowMesh streams."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from flowmesh import FlowMesh, FlowMeshNotFoundError
from mimeia.testing import free_port, run_server
from mimeia.testing.mesh import run_receiver
from slack_connect.auth import INCOMING_SECRET_HEADER, org_incoming_secret

pytestmark = pytest.mark.integration

INCOMING_SECRET = "incoming-secret-for-tests-0123456789"
ALLOWED = ["C0567MFSJH2", "C056AV2JDLK"]


def read_stream(endpoint: str, org: str, model: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with FlowMesh(endpoint=endpoint) as client:
            try:
                page = await client.stream.read(org, "slack", model, offset=0, max_messages=10_000)
            except FlowMeshNotFoundError:
                return []
            return [json.loads(m.payload) for m in page]

    return asyncio.run(read())


def new_org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def incoming(org: str) -> dict[str, str]:
    return {INCOMING_SECRET_HEADER: org_incoming_secret(INCOMING_SECRET, org)}


def fetch_channels_and_users(stack: Any, org: str) -> None:
    answer = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", headers=stack.admin(),
                        json={"what": ["channels", "users"]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    runs = stack.wait_for_runs(org, 2)
    assert all(r["status"] == "succeeded" for r in runs), runs


def test_full_flow_only_allowlisted_messages_reach_flowmesh(stack: Any) -> None:
    org = new_org()
    fetch_channels_and_users(stack, org)
    listing = httpx.get(f"{stack.service_url}/v1/orgs/{org}/channels", headers=stack.admin())
    assert [c["id"] for c in listing.json()["channels"]] == sorted(
        ["C0567MFSJH2", "C056AV2JDLK", "C05T41DMUTE", "G0PRIV4TE1", "C0ARCHIVED1"]
    )

    allow = httpx.put(f"{stack.service_url}/v1/orgs/{org}/allowlist", headers=stack.admin(),
                      json={"channel_ids": ALLOWED})  # fmt: skip
    assert allow.status_code == 200, allow.text
    assert allow.json()["paragon_meta"]["allowListedChannels"] == ALLOWED

    sync = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", headers=stack.admin(), json={})
    assert sync.status_code == 200, sync.text
    runs = stack.wait_for_runs(org, 3)
    assert all(r["status"] == "succeeded" for r in runs), runs
    messages_run = next(r for r in runs if r["kind"] == "messages")
    assert messages_run["params"]["oldest"] == "0"
    assert messages_run["params"]["include_all_metadata"] is True

    stored = read_stream(stack.flowmesh_endpoint, org, "message")
    assert {m["channel_id"] for m in stored} == set(ALLOWED)
    assert not [m for m in stored if "SECRET" in m["text"]]
    general = [m for m in stored if m["channel_id"] == "C0567MFSJH2"]
    assert len(general) == 10  # 8 in history + 2 replies
    replies = [m for m in general if m["parent_ts"] == "1700000020.000100"]
    assert {m["ts"] for m in replies} == {"1700000100.000100", "1700000140.000100",
                                          "1700000150.000100"}  # fmt: skip
    # Within a batch a thread's parent comes before its replies.
    order = [m["ts"] for m in general]
    assert order.index("1700000020.000100") < order.index("1700000100.000100")
    welcome = next(m for m in general if m["ts"] == "1700000000.000100")
    assert welcome["plain_text"].startswith("Welcome @josé! Read the handbook")
    assert len({(m["channel_id"], m["ts"]) for m in stored}) == len(stored)

    users = read_stream(stack.flowmesh_endpoint, org, "user")
    assert {u["user_id"] for u in users if u["kind"] == "org"} >= {"U0DELETED", "U0BOTUSER1"}
    assert [u["user_id"] for u in users if u["kind"] == "connection"] == [org]
    channels = read_stream(stack.flowmesh_endpoint, org, "allowed_channel")
    assert sorted(c["channel_id"] for c in channels) == ALLOWED

    status = httpx.get(f"{stack.service_url}/v1/orgs/{org}/status", headers=stack.admin()).json()
    assert status["connection"]["credential_status"] == "VALID"
    assert status["dropped_not_allowlisted"] == {"C05T41DMUTE": 2, "G0PRIV4TE1": 1}
    assert status["channels"]["C0567MFSJH2"]["cursor"] == "1700000160.000100"
    assert status["channels"]["C0567MFSJH2"]["next_oldest"] == "1700000130.000100"
    assert status["channels"]["C0567MFSJH2"]["counts"]["sent"] == 10

    # A second sync starts at cursor - overlap: the overlap is deduplicated, nothing resent.
    again = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", headers=stack.admin(), json={})
    assert again.status_code == 200
    runs = stack.wait_for_runs(org, 4)
    latest_run = [r for r in runs if r["kind"] == "messages"][-1]
    assert latest_run["params"]["channels"]["C0567MFSJH2"] == "1700000130.000100"
    assert len(read_stream(stack.flowmesh_endpoint, org, "message")) == len(stored)
    status = httpx.get(f"{stack.service_url}/v1/orgs/{org}/status", headers=stack.admin()).json()
    assert status["channels"]["C0567MFSJH2"]["counts"]["duplicates"] >= 2


def test_incoming_messages_dedup_and_new_messages(stack: Any) -> None:
    org = new_org()
    fetch_channels_and_users(stack, org)
    httpx.put(f"{stack.service_url}/v1/orgs/{org}/allowlist", headers=stack.admin(),
              json={"channel_ids": ["C056AV2JDLK"]}).raise_for_status()  # fmt: skip
    body = {"channel": "C056AV2JDLK", "messages": [
        {"type": "message", "ts": "1800000000.000001", "user": "U0BPQUNTA", "text": "one"},
        {"type": "message", "ts": "1800000000.000001", "user": "U0BPQUNTA", "text": "one"},
        {"type": "message", "ts": "1800000001.000001", "user": "U0BPQUNTA", "text": "two",
         "channel": "C05T41DMUTE"},
    ]}  # fmt: skip
    url = f"{stack.service_url}/v1/orgs/{org}/incoming/messages"
    first = httpx.post(url, json=body, headers=incoming(org)).json()
    assert (first["sent"], first["duplicates"], first["dropped_not_allowlisted"]) == (1, 1, 1)
    second = httpx.post(url, json=body, headers=incoming(org)).json()
    assert (second["sent"], second["duplicates"]) == (0, 2)
    stored = read_stream(stack.flowmesh_endpoint, org, "message")
    assert [m["text"] for m in stored] == ["one"]


def test_incoming_routes_require_the_orgs_own_secret(stack: Any) -> None:
    org, other = new_org(), new_org()
    body = {"ok": True, "channels": []}
    url = f"{stack.service_url}/v1/orgs/{org}/incoming/channels"
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={INCOMING_SECRET_HEADER: "x"}).status_code == 401
    assert httpx.post(url, json=body, headers=incoming(other)).status_code == 401
    assert httpx.post(url, json=body, headers=incoming(org)).status_code == 200


def test_incoming_routes_accept_a_signed_token(stack: Any) -> None:
    org, other = new_org(), new_org()
    url = f"{stack.service_url}/v1/orgs/{org}/incoming/channels"
    body = {"ok": True, "channels": []}
    now = int(time.time())

    def bearer(claims: dict[str, Any], key_org: str = org) -> dict[str, str]:
        key = org_incoming_secret(INCOMING_SECRET, key_org)
        return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}

    good = {"sub": org, "iat": now, "exp": now + 300}
    assert httpx.post(url, json=body, headers=bearer(good)).status_code == 200
    for claims, key_org in [
        ({"sub": org, "iat": now - 7200, "exp": now - 3600}, org),  # expired
        ({"sub": org, "iat": now, "exp": now + 86400}, org),  # lives too long
        ({"sub": other, "iat": now, "exp": now + 300}, org),  # another org's subject
        (good, other),  # signed with another org's secret
        ({"sub": org, "exp": now + 300}, org),  # no iat
    ]:
        assert httpx.post(url, json=body, headers=bearer(claims, key_org)).status_code == 401


@pytest.mark.parametrize(
    ("route", "content", "status"),
    [
        ("messages", b"{not json", 422),
        (
            "messages",
            json.dumps({"channel": "C0567MFSJH2", "messages": [{"ts": "x"}]}).encode(),
            422,
        ),
        ("messages", json.dumps({"channel": "bad", "messages": []}).encode(), 422),
        ("users", json.dumps({"members": "nope"}).encode(), 422),
        ("channels", b"", 422),
        ("channels", b" " * 1_000_001, 413),
    ],
)
def test_incoming_bad_bodies(stack: Any, route: str, content: bytes, status: int) -> None:
    org = new_org()
    headers = {**incoming(org), "Content-Type": "application/json"}
    url = f"{stack.service_url}/v1/orgs/{org}/incoming/{route}"
    response = httpx.post(url, content=content, headers=headers)
    assert response.status_code == status, response.text


def test_admin_routes_are_guarded_and_validated(stack: Any) -> None:
    org = new_org()
    base = f"{stack.service_url}/v1/orgs/{org}"
    assert httpx.get(f"{base}/status").status_code == 401
    assert httpx.get(f"{base}/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad_id = httpx.put(
        f"{base}/allowlist", headers=stack.admin(), json={"channel_ids": ["#general"]}
    )
    assert bad_id.status_code == 422 and "channel_ids" in bad_id.text
    unknown = httpx.put(f"{base}/allowlist", headers=stack.admin(),
                        json={"channel_ids": ["C0567MFSJH2"]})  # fmt: skip
    assert unknown.status_code == 422 and "unknown channels" in unknown.text
    bad_latest = httpx.post(f"{base}/sync", headers=stack.admin(), json={"latest": "tomorrow"})
    assert bad_latest.status_code == 422 and "latest" in bad_latest.text
    bad_what = httpx.post(f"{base}/sync", headers=stack.admin(), json={"what": ["files"]})
    assert bad_what.status_code == 422
    empty = httpx.post(f"{base}/sync", headers=stack.admin(), json={"what": ["messages"]})
    assert empty.status_code == 409 and "allowlist is empty" in empty.text
    bad_org = httpx.get(f"{stack.service_url}/v1/orgs/a..b/status", headers=stack.admin())
    assert bad_org.status_code == 400


def test_invalid_credential_is_reported_and_blocks_sync(stack: Any) -> None:
    org = new_org()
    httpx.put(f"{stack.emulator_url}/_emulator/users/{org}",
              json={"credential_status": "INVALID"}).raise_for_status()  # fmt: skip
    sync = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", headers=stack.admin(),
                      json={"what": ["channels"]})  # fmt: skip
    assert sync.status_code == 409
    assert sync.json()["credential_status"] == "INVALID"
    status = httpx.get(f"{stack.service_url}/v1/orgs/{org}/status", headers=stack.admin()).json()
    assert status["connection"]["credential_status"] == "INVALID"


def test_small_pages_still_deliver_everything_once(stack: Any) -> None:
    org = new_org()
    fetch_channels_and_users(stack, org)
    httpx.put(f"{stack.service_url}/v1/orgs/{org}/allowlist", headers=stack.admin(),
              json={"channel_ids": ["C0567MFSJH2"]}).raise_for_status()  # fmt: skip
    sync = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", headers=stack.admin(),
                      json={"limit": 2})  # fmt: skip
    assert sync.status_code == 200
    run = next(r for r in stack.wait_for_runs(org, 3) if r["kind"] == "messages")
    assert run["params"]["limit"] == 2
    stored = read_stream(stack.flowmesh_endpoint, org, "message")
    assert len(stored) == 10
    assert len({m["ts"] for m in stored}) == 10


def test_cursor_never_moves_back(stack: Any) -> None:
    org = new_org()
    fetch_channels_and_users(stack, org)
    httpx.put(f"{stack.service_url}/v1/orgs/{org}/allowlist", headers=stack.admin(),
              json={"channel_ids": ["C056AV2JDLK"]}).raise_for_status()  # fmt: skip
    url = f"{stack.service_url}/v1/orgs/{org}/incoming/messages"

    def post(ts: str) -> None:
        body = {"channel": "C056AV2JDLK", "messages": [{"ts": ts, "user": "U1", "text": ts}]}
        httpx.post(url, json=body, headers=incoming(org)).raise_for_status()

    post("1800000500.000000")
    post("1800000100.000000")  # a late, older message: stored, cursor stays
    status = httpx.get(f"{stack.service_url}/v1/orgs/{org}/status", headers=stack.admin()).json()
    assert status["channels"]["C056AV2JDLK"]["cursor"] == "1800000500.000000"
    texts = [m["text"] for m in read_stream(stack.flowmesh_endpoint, org, "message")]
    assert texts == ["1800000500.000000", "1800000100.000000"]


def test_mesh_outage_loses_nothing_and_duplicates_nothing(stack: Any) -> None:
    """While the mesh is down the service answers 503 and forgets the claimed
    (channel, ts) pairs, so the workflow's retry delivers them once the mesh is back."""
    org = new_org()
    fetch_channels_and_users(stack, org)
    httpx.put(f"{stack.service_url}/v1/orgs/{org}/allowlist", headers=stack.admin(),
              json={"channel_ids": ["C056AV2JDLK"]}).raise_for_status()  # fmt: skip
    mesh_port, service_port = free_port(), free_port()
    env = {**stack.service_env, "SLACK_CONNECT_MESH_URL": f"http://127.0.0.1:{mesh_port}"}
    body = {"channel": "C056AV2JDLK", "messages": [
        {"ts": "1900000000.000001", "user": "U1", "text": "kept through an outage"},
        {"ts": "1900000001.000001", "user": "U1", "text": "me too"},
    ]}  # fmt: skip
    argv = ["python", "-m", "slack_connect.cli", "serve", "--port", str(service_port)]
    with run_server(argv, env=env):
        url = f"http://127.0.0.1:{service_port}/v1/orgs/{org}/incoming/messages"
        down = httpx.post(url, json=body, headers=incoming(org), timeout=60)
        assert down.status_code == 503
        with run_receiver(stack.flowmesh_endpoint, port=mesh_port):
            back = httpx.post(url, json=body, headers=incoming(org), timeout=60)
            assert back.status_code == 200
            assert (back.json()["sent"], back.json()["duplicates"]) == (2, 0)
            again = httpx.post(url, json=body, headers=incoming(org), timeout=60)
            assert (again.json()["sent"], again.json()["duplicates"]) == (0, 2)
    texts = [m["text"] for m in read_stream(stack.flowmesh_endpoint, org, "message")]
    assert texts == ["kept through an outage", "me too"]
