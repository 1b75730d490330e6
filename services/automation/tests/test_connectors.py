"""The airtable step (mimeiapify's AirtableAsync against its emulator) and inbound
Wompi events (mimeiapify's Wompi verification)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _create_base(api_url: str) -> str:
    response = httpx.post(f"{api_url}/meta/bases", headers={"Authorization": "Bearer pat_x"},
                          json={"name": "crm", "workspaceId": "wspTestWorkspace01", "tables": [
                              {"name": "Leads", "fields": [
                                  {"name": "Email", "type": "email"},
                                  {"name": "Score", "type": "number",
                                   "options": {"precision": 0}}]}]}, timeout=10)  # fmt: skip
    response.raise_for_status()
    return str(response.json()["id"])


async def _allow_airtable(client, auth, *base_ids: str) -> None:
    body = {"api_key": "pat_tenant_own_key", "base_ids": list(base_ids)}
    put = await client.put("/api/v1/integrations/airtable/settings", headers=auth, json=body)
    assert put.status_code == 204, put.text


async def test_airtable_step_writes_and_reads_records(
    client, auth, worker, airtable_api_url, wait_execution
) -> None:
    base_id = _create_base(airtable_api_url)
    await _allow_airtable(client, auth, base_id)
    workflow = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "crm sync",
        "steps": [
            {"id": "save", "type": "airtable",
             "config": {"base_id": base_id, "table": "Leads", "operation": "upsert",
                        "merge_on": ["Email"],
                        "records": [{"fields": {"Email": "{{ lead.email }}",
                                                "Score": "{{ lead.score }}"}}]}},
            {"id": "read", "type": "airtable",
             "config": {"base_id": base_id, "table": "Leads", "operation": "list",
                        "formula": "{Score} > 10"}},
        ],
    })).json()  # fmt: skip
    for score in (5, 42):  # the second run updates the same record (upsert on Email)
        run = await client.post(
            f"/api/v1/workflows/{workflow['id']}/execute",
            headers=auth,
            json={"input_data": {"lead": {"email": "a@b.co", "score": score}}},
        )
        done = await wait_execution(client, auth, run.json()["id"])
        assert done["status"] == "succeeded", done
    records = done["steps"][1]["output"]["records"]
    assert [r["fields"] for r in records] == [{"Email": "a@b.co", "Score": 42}]


async def test_airtable_step_reports_connector_errors(client, auth, worker, wait_execution) -> None:
    await _allow_airtable(client, auth, "appDoesNotExist01")
    workflow = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "missing base",
        "steps": [{"id": "get", "type": "airtable",
                   "config": {"base_id": "appDoesNotExist01", "table": "X", "operation": "get",
                              "record_id": "recNope"}}],
    })).json()  # fmt: skip
    run = await client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=auth)
    done = await wait_execution(client, auth, run.json()["id"])
    assert done["status"] == "failed" and "airtable get on 'X' failed" in done["steps"][0]["error"]


async def test_flowmesh_publish_step_writes_under_the_tenant(
    client, auth, tenant, worker, flowmesh_endpoint, wait_execution
) -> None:
    from flowmesh import FlowMesh, FlowMeshNotFoundError

    stream = f"orders-{uuid.uuid4().hex[:6]}"
    workflow = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "publish",
        "steps": [
            {"id": "emit", "type": "flowmesh_publish",
             "config": {"namespace": "automation", "name": stream,
                        "payload": {"order": "{{ order.id }}"}, "headers": {"kind": "paid"}}},
            {"id": "job", "type": "flowmesh_publish",
             "config": {"kind": "queue", "namespace": "automation", "name": stream,
                        "payload": "ship {{ order.id }}"}},
        ],
    })).json()  # fmt: skip
    run = await client.post(
        f"/api/v1/workflows/{workflow['id']}/execute",
        headers=auth,
        json={"input_data": {"order": {"id": 77}}},
    )
    done = await wait_execution(client, auth, run.json()["id"])
    assert done["status"] == "succeeded", done
    assert done["steps"][0]["output"] == {"offsets": [0]}
    async with FlowMesh(endpoint=flowmesh_endpoint) as mesh:
        [message] = await mesh.stream.read(tenant, "automation", stream)
        assert json.loads(message.payload) == {"order": 77}
        assert message.headers["kind"] == "paid"
        stats = await mesh.queue.get_stats(tenant, "automation", stream)
        assert stats.pending_jobs == 1
        # Nothing landed under another tenant's name.
        with pytest.raises(FlowMeshNotFoundError):
            await mesh.stream.read("someone-else", "automation", stream)


def wompi_event(secret: str, status: str = "APPROVED") -> dict[str, Any]:
    transaction = {"id": f"1234-{uuid.uuid4().hex[:6]}", "status": status,
                   "amount_in_cents": 4490000, "reference": "order-77"}  # fmt: skip
    timestamp = int(time.time())
    properties = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]
    values = "".join(str(transaction[p.split(".")[1]]) for p in properties)
    checksum = hashlib.sha256(f"{values}{timestamp}{secret}".encode()).hexdigest()
    return {"event": "transaction.updated", "data": {"transaction": transaction},
            "environment": "test", "signature": {"properties": properties, "checksum": checksum},
            "timestamp": timestamp, "sent_at": "2026-11-22T02:00:00.000Z"}  # fmt: skip


async def test_wompi_events_are_verified_and_reach_rules(
    client, auth, tenant, worker, recorder
) -> None:
    secret = f"test_events_{uuid.uuid4().hex}"
    url = f"/api/v1/integrations/wompi/{tenant}/events"
    unknown = await client.post(url, json=wompi_event(secret))
    assert unknown.status_code == 400  # no secret configured yet: as a bad checksum
    assert (
        await client.put(
            "/api/v1/integrations/wompi/settings", headers=auth, json={"events_secret": secret}
        )
    ).status_code == 204
    path = f"/ok/{uuid.uuid4().hex}"
    await client.post("/api/v1/automation/rules", headers=auth, json={
        "name": "paid", "trigger": {"type": "event", "event_type": "wompi.transaction.*"},
        "conditions": [{"field": "transaction.status", "operator": "equals", "value": "APPROVED"}],
        "actions": [{"type": "http_request", "url": recorder.url(path), "method": "POST",
                     "json": {"ref": "{{ transaction.reference }}"}}]})  # fmt: skip

    forged = wompi_event("not-the-secret")
    assert (await client.post(url, json=forged)).status_code == 400
    tampered = wompi_event(secret)
    tampered["data"]["transaction"]["amount_in_cents"] = 1
    assert (await client.post(url, json=tampered)).status_code == 400
    garbage = await client.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert garbage.status_code == 400
    assert (
        await client.post(
            f"/api/v1/integrations/wompi/{uuid.uuid4().hex}/events", json=wompi_event(secret)
        )
    ).status_code == 400

    accepted = await client.post(url, json=wompi_event(secret))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["event_type"] == "wompi.transaction.updated"
    deadline = time.monotonic() + 20
    while recorder.count(path) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert recorder.hits[path][0]["body"] == {"ref": "order-77"}
    stored = (
        await client.get(f"/api/v1/events/{accepted.json()['event_id']}", headers=auth)
    ).json()
    assert stored["source"] == "wompi" and stored["data"]["transaction"]["status"] == "APPROVED"
