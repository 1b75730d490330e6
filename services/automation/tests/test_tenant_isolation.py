"""One tenant can never list, read, run or change another tenant's resources:
through the API, and below it (actions started by a rule)."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def other() -> dict[str, str]:
    return {"X-Internal-API-Key": "test-internal-key-0123456789",
            "X-Tenant-ID": f"intruder-{uuid.uuid4().hex[:8]}"}  # fmt: skip


async def test_workflows_and_executions_are_invisible_to_other_tenants(
    client, auth, other, bearer, tenant, worker, wait_execution
) -> None:
    workflow = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "private", "steps": [{"id": "a", "type": "data_transform",
                                      "config": {"output": "secret"}}]})).json()  # fmt: skip
    wid = workflow["id"]
    run = await client.post(f"/api/v1/workflows/{wid}/execute", headers=auth)
    eid = run.json()["id"]
    await wait_execution(client, auth, eid)

    assert (await client.get("/api/v1/workflows", headers=other)).json()["total"] == 0
    for method, path in [
        ("GET", f"/api/v1/workflows/{wid}"),
        ("PATCH", f"/api/v1/workflows/{wid}"),
        ("DELETE", f"/api/v1/workflows/{wid}"),
        ("POST", f"/api/v1/workflows/{wid}/execute"),
        ("GET", f"/api/v1/workflows/{wid}/executions"),
        ("GET", f"/api/v1/workflows/executions/{eid}"),
        ("POST", f"/api/v1/workflows/executions/{eid}/cancel"),
        ("POST", f"/api/v1/workflows/executions/{eid}/rerun"),
    ]:
        response = await client.request(method, path, headers=other,
                                         json={} if method != "GET" else None)  # fmt: skip
        assert response.status_code == 404, (method, path, response.text)
    # A user token for another tenant is no different from its service key.
    token_other = bearer(f"x-{uuid.uuid4().hex[:6]}")
    assert (await client.get(f"/api/v1/workflows/{wid}", headers=token_other)).status_code == 404
    # The owner still sees everything unchanged.
    mine = (await client.get(f"/api/v1/workflows/{wid}", headers=bearer(tenant))).json()
    assert mine["name"] == "private" and mine["version"] == 1


async def test_rules_and_events_are_invisible_to_other_tenants(client, auth, other, worker) -> None:
    rule = (
        await client.post(
            "/api/v1/automation/rules",
            headers=auth,
            json={
                "name": "mine",
                "trigger": {"type": "event", "event_type": "x.*"},
                "actions": [{"type": "http_request", "url": "https://example.com/"}],
            },
        )
    ).json()
    event = (
        await client.post(
            "/api/v1/events", headers=auth, json={"event_type": "y.z", "data": {"pii": 1}}
        )
    ).json()
    assert (await client.get("/api/v1/automation/rules", headers=other)).json()["total"] == 0
    assert (await client.get("/api/v1/events", headers=other)).json()["total"] == 0
    for method, path in [
        ("GET", f"/api/v1/automation/rules/{rule['id']}"),
        ("PATCH", f"/api/v1/automation/rules/{rule['id']}"),
        ("DELETE", f"/api/v1/automation/rules/{rule['id']}"),
        ("GET", f"/api/v1/automation/rules/{rule['id']}/executions"),
        ("GET", f"/api/v1/events/{event['id']}"),
    ]:
        response = await client.request(method, path, headers=other,
                                         json={} if method != "GET" else None)  # fmt: skip
        assert response.status_code == 404, (method, path, response.text)


async def test_events_of_one_tenant_never_fire_another_tenants_rules(
    client, auth, other, worker, recorder
) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    await client.post("/api/v1/automation/rules", headers=auth, json={
        "name": "victim", "trigger": {"type": "event", "event_type": "*"},
        "actions": [{"type": "http_request", "url": recorder.url(path)}]})  # fmt: skip
    sent = (
        await client.post(
            "/api/v1/events", headers=other, json={"event_type": "anything", "data": {}}
        )
    ).json()
    import asyncio

    for _ in range(200):
        body = (await client.get(f"/api/v1/events/{sent['id']}", headers=other)).json()
        if body["status"] == "processed":
            break
        await asyncio.sleep(0.05)
    assert body["status"] == "processed" and body["rule_executions"] == []
    assert recorder.count(path) == 0


async def test_a_rule_cannot_start_another_tenants_workflow(client, auth, other, worker) -> None:
    victim = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "victim", "steps": [{"id": "a", "type": "data_transform",
                                     "config": {"output": 1}}]})).json()  # fmt: skip
    await client.post("/api/v1/automation/rules", headers=other, json={
        "name": "hijack", "trigger": {"type": "event", "event_type": "go"},
        "actions": [{"type": "run_workflow", "workflow_id": victim["id"]}]})  # fmt: skip
    sent = (await client.post("/api/v1/events", headers=other,
                              json={"event_type": "go"})).json()  # fmt: skip
    import asyncio

    for _ in range(200):
        body = (await client.get(f"/api/v1/events/{sent['id']}", headers=other)).json()
        if body["status"] == "processed":
            break
        await asyncio.sleep(0.05)
    [execution] = body["rule_executions"]
    assert execution["status"] == "failed"
    assert "not found" in execution["action_results"][0]["error"]
    runs = (await client.get(f"/api/v1/workflows/{victim['id']}/executions", headers=auth)).json()
    assert runs["total"] == 0


async def test_webhook_tokens_do_not_cross_workflows(client, auth) -> None:
    a = (
        await client.post(
            "/api/v1/workflows",
            headers=auth,
            json={
                "name": "a",
                "trigger_type": "webhook",
                "steps": [{"id": "x", "type": "data_transform", "config": {"output": 1}}],
            },
        )
    ).json()
    b = (
        await client.post(
            "/api/v1/workflows",
            headers=auth,
            json={
                "name": "b",
                "trigger_type": "webhook",
                "steps": [{"id": "x", "type": "data_transform", "config": {"output": 1}}],
            },
        )
    ).json()
    token_a = a["webhook_url"].rsplit("/", 1)[1]
    response = await client.post(f"/api/v1/hooks/workflows/{b['id']}/{token_a}", json={})
    assert response.status_code == 404


async def test_a_tenant_id_with_a_trailing_newline_is_refused(client, bearer, tenant) -> None:
    """Issue 14.13: with ``$`` "tenantA\\n" passed as a tenant of its own."""
    for claimed in (f"{tenant}\n", f"{tenant}\r\n", f"\n{tenant}"):
        answer = await client.get("/api/v1/workflows", headers=bearer(claimed))
        assert answer.status_code == 401, claimed
        assert "token claim 'tenant'" in answer.json()["detail"]
    assert (await client.get("/api/v1/workflows", headers=bearer(tenant))).status_code == 200


@pytest.mark.parametrize(
    ("check", "value"),
    [
        ("event filter", "user.*\n"),
        ("header", "X-Team\n"),
        ("sms", "+573001234567\n"),
        ("template", "welcome\n"),
        ("email", "a@example.com\n"),
    ],
)
def test_validators_refuse_a_trailing_newline(check: str, value: str) -> None:
    """Issue 14.13: every anchored validator checks the whole string."""
    from automation.notifications.schemas import EMAIL, TEMPLATE_NAME
    from automation.notifications.sms import E164
    from automation.webhooks.schemas import EVENT_FILTER, HEADER_NAME

    pattern = {"event filter": EVENT_FILTER, "header": HEADER_NAME, "sms": E164,
               "template": TEMPLATE_NAME, "email": EMAIL}[check]  # fmt: skip
    assert pattern.match(value.strip())
    assert not pattern.match(value)
