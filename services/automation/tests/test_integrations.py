"""Per-tenant integration credentials (issue 14.4): the settings routes, secrets never
returned and sealed at rest, and the airtable step reaching only its tenant's bases."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.integration

SETTINGS = "/api/v1/integrations/{}/settings"


def _base(api_url: str, table: str) -> str:
    fields = [{"name": "Card", "type": "singleLineText"}]
    body = {"name": "cards", "workspaceId": "wspTestWorkspace01",
            "tables": [{"name": table, "fields": fields}]}  # fmt: skip
    response = httpx.post(
        f"{api_url}/meta/bases", headers={"Authorization": "Bearer pat_x"}, json=body, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["id"])


async def _list_workflow(client, headers, base_id: str) -> str:
    created = await client.post("/api/v1/workflows", headers=headers, json={
        "name": "peek", "steps": [{"id": "list", "type": "airtable", "config": {
            "base_id": base_id, "table": "Cards", "operation": "list"}}]})  # fmt: skip
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_tenant_cannot_reach_another_tenants_airtable_base(
    client, internal_headers, worker, airtable_api_url, wait_execution
) -> None:
    a = internal_headers(f"tenant-a-{uuid.uuid4().hex[:8]}")
    b = internal_headers(f"tenant-b-{uuid.uuid4().hex[:8]}")
    base_b, base_a = _base(airtable_api_url, "Cards"), _base(airtable_api_url, "Cards")
    httpx.post(f"{airtable_api_url}/{base_b}/Cards", headers={"Authorization": "Bearer pat_b"},
               json={"records": [{"fields": {"Card": "4111 1111 1111 1111"}}]},
               timeout=10).raise_for_status()  # fmt: skip
    for headers, base, key in ((b, base_b, "pat_tenant_b_key"), (a, base_a, "pat_tenant_a_key")):
        put = await client.put(SETTINGS.format("airtable"), headers=headers,
                               json={"api_key": key, "base_ids": [base]})  # fmt: skip
        assert put.status_code == 204, put.text

    run = await client.post(
        f"/api/v1/workflows/{await _list_workflow(client, a, base_b)}/execute", headers=a
    )
    done = await wait_execution(client, a, run.json()["id"])
    assert done["status"] == "failed"
    assert "not one of this tenant's Airtable bases" in done["steps"][0]["error"]
    assert "4111" not in str(done)

    # B reads its own base; A reads its own (empty) one
    run = await client.post(
        f"/api/v1/workflows/{await _list_workflow(client, b, base_b)}/execute", headers=b
    )
    done = await wait_execution(client, b, run.json()["id"])
    assert done["status"] == "succeeded", done
    assert done["steps"][0]["output"]["records"][0]["fields"] == {"Card": "4111 1111 1111 1111"}
    run = await client.post(
        f"/api/v1/workflows/{await _list_workflow(client, a, base_a)}/execute", headers=a
    )
    done = await wait_execution(client, a, run.json()["id"])
    assert done["status"] == "succeeded" and done["steps"][0]["output"]["records"] == []


async def test_a_tenant_without_airtable_credentials_gets_none(
    client, internal_headers, worker, wait_execution
) -> None:
    c = internal_headers(f"tenant-c-{uuid.uuid4().hex[:8]}")
    run = await client.post(
        f"/api/v1/workflows/{await _list_workflow(client, c, 'appAAAAAAAAAAAAAA')}/execute",
        headers=c,
    )
    done = await wait_execution(client, c, run.json()["id"])
    assert done["status"] == "failed"
    assert "airtable: not configured for this tenant" in done["steps"][0]["error"]


async def test_settings_routes_never_return_secrets_and_seal_them(
    client, auth, tenant, runtime
) -> None:
    url = SETTINGS.format("airtable")
    assert (await client.get(url, headers=auth)).status_code == 404
    key = f"pat_{uuid.uuid4().hex}"
    body = {"api_key": key, "base_ids": ["appBBBBBBBBBBBBBB", "appAAAAAAAAAAAAAA"]}
    assert (await client.put(url, headers=auth, json=body)).status_code == 204
    shown = await client.get(url, headers=auth)
    assert shown.status_code == 200
    assert shown.json()["settings"] == {"base_ids": ["appAAAAAAAAAAAAAA", "appBBBBBBBBBBBBBB"]}
    assert shown.json()["secrets_set"] == ["api_key"] and key not in shown.text

    async with runtime.database.session() as session:
        stored = (
            await session.execute(
                text("SELECT secrets FROM integration_credentials WHERE tenant_id = :t"),
                {"t": tenant},
            )
        ).scalar_one()
    assert stored.startswith("sb1:") and key not in stored

    # base ids change without sending the key again; the key is kept
    put = await client.put(url, headers=auth, json={"base_ids": ["appCCCCCCCCCCCCCC"]})
    assert put.status_code == 204
    assert (await client.get(url, headers=auth)).json()["settings"]["base_ids"] == [
        "appCCCCCCCCCCCCCC"
    ]

    bad = await client.put(url, headers=auth, json={"api_key": key, "base_ids": ["nope"]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "base_ids"
    extra = await client.put(url, headers=auth, json={"token": "x", "base_ids": []})
    assert extra.status_code == 422 and extra.json()["problems"][0]["field"] == "token"
    assert (await client.put(SETTINGS.format("nope"), headers=auth, json={})).status_code == 404

    assert (await client.delete(url, headers=auth)).status_code == 204
    assert (await client.get(url, headers=auth)).status_code == 404
    fresh = await client.put(url, headers=auth, json={"base_ids": ["appCCCCCCCCCCCCCC"]})
    assert fresh.status_code == 422 and fresh.json()["problems"][0]["field"] == "api_key"


async def test_settings_need_integrations_write(client, tenant, bearer) -> None:
    reader = bearer(tenant, scopes=["workflows:read"])
    url = SETTINGS.format("wompi")
    assert (await client.get(url, headers=reader)).status_code == 403
    put = await client.put(url, headers=reader, json={"events_secret": "x" * 20})
    assert put.status_code == 403
