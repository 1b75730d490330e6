"""Workflows end to end: the API, a real Celery worker process, PostgreSQL, Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def http_step(step_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "http_request",
        "config": {"url": url, "method": "POST", "json": extra.pop("json", {"from": step_id})},
        **extra,
    }


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], steps: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    body = {"name": fields.pop("name", "wf"), "steps": steps, **fields}
    response = await client.post("/api/v1/workflows", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def execute(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    workflow_id: str,
    input_data: dict[str, Any] | None = None,
    priority: str = "normal",
) -> str:
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        json={"input_data": input_data or {}, "priority": priority},
        headers=auth,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_seed_shaped_workflow_runs_and_keeps_history(
    client, auth, worker, recorder, wait_execution
) -> None:
    key = uuid.uuid4().hex
    workflow = await create(client, auth, name="Data Processing Workflow",
                            description="Process uploaded data files", trigger_type="manual",
                            steps=[
        {"id": "validate", "type": "data_transform",
         "config": {"require": ["file.name"],
                    "output": {"name": "{{ file.name | upper }}", "rows": "{{ file.rows }}"}}},
        {"id": "notify", "type": "http_request",
         "config": {"url": recorder.url(f"/ok/{key}"), "method": "POST",
                    "json": {"file": "{{ steps.validate.output.name }}",
                             "rows": "{{ steps.validate.output.rows }}",
                             "email": "{{ user.email }}"}}},
    ])  # fmt: skip
    listed = (await client.get("/api/v1/workflows", headers=auth)).json()
    assert [w["id"] for w in listed["items"]] == [workflow["id"]]
    execution_id = await execute(
        client,
        auth,
        workflow["id"],
        {"file": {"name": "a.csv", "rows": 3}, "user": {"email": "ana@example.com"}},
        "high",
    )
    done = await wait_execution(client, auth, execution_id)
    assert done["status"] == "succeeded", done
    validate, notify = done["steps"]
    assert validate["output"] == {"name": "A.CSV", "rows": 3}
    assert notify["status"] == "succeeded" and notify["attempts"] == 1
    assert notify["output"]["status_code"] == 200
    assert recorder.hits[f"/ok/{key}"][0]["body"] == {
        "file": "A.CSV",
        "rows": 3,
        "email": "ana@example.com",
    }
    assert done["priority"] == "high" and done["started_at"] and done["finished_at"]
    assert notify["duration_ms"] is not None and notify["input"]["url"].endswith(key)
    history = (
        await client.get(f"/api/v1/workflows/{workflow['id']}/executions", headers=auth)
    ).json()
    assert history["total"] == 1 and history["items"][0]["status"] == "succeeded"


async def test_invalid_definition_lists_every_problem(client, auth) -> None:
    response = await client.post("/api/v1/workflows", headers=auth, json={
        "name": "broken",
        "trigger_type": "schedule", "trigger_config": {"cron": "every tuesday"},
        "steps": [
            {"id": "a", "type": "teleport"},
            {"id": "b", "type": "data_transform", "config": {"output": "{{ input.x "},
             "depends_on": ["c"]},
            {"id": "c", "type": "data_transform", "config": {"output": 1}, "depends_on": ["b"]},
            {"id": "d", "type": "http_request", "config": {"url": "ftp://x"},
             "depends_on": ["ghost"]},
            {"id": "a", "type": "delay", "config": {}},
        ],
    })  # fmt: skip
    assert response.status_code == 422
    problems = response.json()["detail"]["problems"]
    text = "\n".join(problems)
    for needle in ["trigger_config.cron", "steps[0].type: unknown step type 'teleport'",
                   "steps[1].config.output: template syntax error",
                   "steps[3].depends_on: unknown step 'ghost'", "steps[3].config.url",
                   "steps[4].id: duplicate", "steps[4].config: give exactly one",
                   "dependency cycle"]:  # fmt: skip
        assert needle in text, (needle, problems)


@pytest.mark.parametrize("body", [
    {}, {"name": "", "steps": []}, {"name": "x", "steps": [{"id": "1bad", "type": "delay"}]},
    {"name": "x" * 500, "steps": [{"id": "a", "type": "delay", "config": {"seconds": 1}}]},
    {"name": "x", "steps": "nope"}, {"name": "x", "steps": [{"id": "a"}], "extra": 1},
])  # fmt: skip
async def test_malformed_bodies_get_422_naming_fields(client, auth, body) -> None:
    response = await client.post("/api/v1/workflows", headers=auth, json=body)
    assert response.status_code == 422
    assert all(p["field"] for p in response.json()["problems"])


async def test_not_json_at_all(client, auth) -> None:
    response = await client.post("/api/v1/workflows", headers={**auth, "content-type":
                                 "application/json"}, content=b"{not json")  # fmt: skip
    assert response.status_code == 422


async def test_missing_variable_fails_the_step_clearly(
    client, auth, worker, recorder, wait_execution
) -> None:
    workflow = await create(client, auth, [
        {"id": "greet", "type": "data_transform", "config": {"output": "Hi {{ user.name }}"}},
    ])  # fmt: skip
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"], {}))
    assert done["status"] == "failed"
    assert "'user' is undefined" in done["steps"][0]["error"]
    assert "greet" in done["error"]


async def test_retries_with_backoff_then_success(
    client, auth, worker, recorder, wait_execution
) -> None:
    path = f"/flaky/{uuid.uuid4().hex}/2"
    workflow = await create(client, auth, [
        http_step("call", recorder.url(path),
                  retry={"max_attempts": 3, "delay_seconds": 0.2, "backoff": "exponential"}),
    ])  # fmt: skip
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    assert done["status"] == "succeeded", done
    assert done["steps"][0]["attempts"] == 3 and recorder.count(path) == 3
    stamps = [h["at"] for h in recorder.hits[path]]
    assert stamps[1] - stamps[0] >= 0.1 and stamps[2] - stamps[1] >= 0.2


async def test_timeout_and_continue_on_fail(client, auth, worker, recorder, wait_execution) -> None:
    after = f"/ok/{uuid.uuid4().hex}"
    workflow = await create(client, auth, [
        http_step("slow", recorder.url("/sleep/3"), timeout_seconds=0.3, continue_on_fail=True),
        http_step("after", recorder.url(after)),
    ])  # fmt: skip
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    assert done["status"] == "succeeded", done
    slow, then = done["steps"]
    assert slow["status"] == "failed" and "timed out after 0.3s" in slow["error"]
    assert then["status"] == "succeeded" and recorder.count(after) == 1


async def test_parallel_group_fans_out_and_joins(
    client, auth, worker, recorder, wait_execution
) -> None:
    tag = uuid.uuid4().hex
    workflow = await create(client, auth, [
        {"id": "start", "type": "data_transform", "config": {"output": {"n": 1}}},
        http_step("left", recorder.url(f"/sleep/0.6?{tag}l"), depends_on=["start"]),
        http_step("right", recorder.url(f"/sleep/0.6?{tag}r"), depends_on=["start"]),
        {"id": "join", "type": "data_transform", "depends_on": ["left", "right"],
         "config": {"output": ["{{ steps.left.output.body.slept }}",
                               "{{ steps.right.output.body.slept }}"]}},
    ])  # fmt: skip
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    assert done["status"] == "succeeded", done
    steps = {s["step_id"]: s for s in done["steps"]}
    assert steps["join"]["output"] == [0.6, 0.6]
    # Both branches were in flight at once: each started before the other finished.
    assert steps["left"]["started_at"] < steps["right"]["finished_at"]
    assert steps["right"]["started_at"] < steps["left"]["finished_at"]


async def test_condition_skips_the_branch_not_taken(
    client, auth, worker, recorder, wait_execution
) -> None:
    big, small = f"/ok/{uuid.uuid4().hex}", f"/ok/{uuid.uuid4().hex}"
    workflow = await create(client, auth, [
        {"id": "check", "type": "condition",
         "config": {"expression": "input.amount > 100", "then": ["big"], "else": ["small"]}},
        http_step("big", recorder.url(big), depends_on=["check"]),
        http_step("small", recorder.url(small), depends_on=["check"]),
        {"id": "after_small", "type": "data_transform", "depends_on": ["small"],
         "config": {"output": 1}},
        {"id": "join", "type": "data_transform", "depends_on": ["big", "small"],
         "config": {"output": "done"}},
    ])  # fmt: skip
    done = await wait_execution(
        client, auth, await execute(client, auth, workflow["id"], {"amount": 250})
    )
    statuses = {s["step_id"]: s["status"] for s in done["steps"]}
    assert statuses == {
        "check": "succeeded",
        "big": "succeeded",
        "small": "skipped",
        "after_small": "skipped",
        "join": "succeeded",
    }
    assert recorder.count(big) == 1 and recorder.count(small) == 0


async def test_delay_waits_in_the_database_not_in_a_worker(
    client, auth, worker, recorder, wait_execution
) -> None:
    workflow = await create(client, auth, [
        {"id": "wait", "type": "delay", "config": {"seconds": 1.5}},
        {"id": "after", "type": "data_transform", "config": {"output": "late"}},
    ])  # fmt: skip
    slow = await execute(client, auth, workflow["id"])
    waiting = await wait_execution(client, auth, slow, ("waiting",), timeout=10)
    assert waiting["steps"][0]["status"] == "waiting" and waiting["resume_at"]
    # While it waits, other work still runs on the same worker.
    quick = await create(client, auth, [{"id": "x", "type": "data_transform",
                                         "config": {"output": 1}}])  # fmt: skip
    other = await wait_execution(client, auth, await execute(client, auth, quick["id"]))
    assert other["status"] == "succeeded"
    assert (await client.get(f"/api/v1/workflows/executions/{slow}", headers=auth)).json()[
        "status"
    ] == "waiting"
    done = await wait_execution(client, auth, slow)
    assert done["status"] == "succeeded" and done["steps"][1]["output"] == "late"


async def test_cancel_a_waiting_execution(client, auth, worker, wait_execution) -> None:
    workflow = await create(client, auth, [
        {"id": "wait", "type": "delay", "config": {"seconds": 600}},
        {"id": "never", "type": "data_transform", "config": {"output": 1}},
    ])  # fmt: skip
    execution_id = await execute(client, auth, workflow["id"])
    await wait_execution(client, auth, execution_id, ("waiting",), timeout=10)
    response = await client.post(
        f"/api/v1/workflows/executions/{execution_id}/cancel", headers=auth
    )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/workflows/executions/{execution_id}/cancel", headers=auth)
    assert again.status_code == 409
    final = (await client.get(f"/api/v1/workflows/executions/{execution_id}", headers=auth)).json()
    assert [s["status"] for s in final["steps"]] == ["cancelled", "cancelled"]


async def test_rerun_from_the_failed_step(client, auth, worker, recorder, wait_execution) -> None:
    gate = uuid.uuid4().hex
    first = f"/ok/{uuid.uuid4().hex}"
    workflow = await create(client, auth, [
        http_step("first", recorder.url(first)),
        http_step("gated", recorder.url(f"/gate/{gate}")),
        {"id": "last", "type": "data_transform",
         "config": {"output": "{{ steps.gated.output.status_code }}"}},
    ])  # fmt: skip
    execution_id = await execute(client, auth, workflow["id"])
    failed = await wait_execution(client, auth, execution_id)
    assert failed["status"] == "failed" and "HTTP 503" in failed["error"]
    not_yet = await client.post(f"/api/v1/workflows/executions/{execution_id}/cancel", headers=auth)
    assert not_yet.status_code == 409
    recorder.gates.add(gate)
    response = await client.post(f"/api/v1/workflows/executions/{execution_id}/rerun", headers=auth)
    assert response.status_code == 202
    done = await wait_execution(client, auth, execution_id)
    assert done["status"] == "succeeded" and done["run_count"] == 1
    assert recorder.count(first) == 1  # the finished step did not run again
    assert done["steps"][2]["output"] == 200


async def test_inbound_webhook_trigger_with_secret(client, auth, worker, wait_execution) -> None:
    workflow = await create(client, auth, [
        {"id": "echo", "type": "data_transform", "config": {"output": "{{ order.id }}"}},
    ], trigger_type="webhook")  # fmt: skip
    url = httpx.URL(workflow["webhook_url"])
    wrong = await client.post(url.path[:-5] + "xxxxx", json={"order": {"id": 7}})
    assert wrong.status_code == 404
    unknown = await client.post(f"/api/v1/hooks/workflows/{uuid.uuid4()}/abc", json={})
    assert unknown.status_code == 404
    response = await client.post(url.path, json={"order": {"id": 7}})
    assert response.status_code == 202
    done = await wait_execution(client, auth, response.json()["id"])
    assert done["trigger"] == "webhook" and done["steps"][0]["output"] == 7


async def test_cron_workflow_is_started_by_beat(
    client, auth, worker, runtime, wait_execution
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from automation.db import utcnow
    from automation.models import Workflow

    workflow = await create(client, auth, [
        {"id": "tick", "type": "data_transform", "config": {"output": "{{ scheduled_at }}"}},
    ], trigger_type="schedule",
       trigger_config={"cron": "0 0 1 1 *", "timezone": "UTC"})  # fmt: skip
    assert workflow["next_run_at"]
    # Pretend the first of January has come.
    async with runtime.database.session() as session:
        await session.execute(
            update(Workflow)
            .where(Workflow.id == workflow["id"])
            .values(next_run_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    for _ in range(100):
        history = (
            await client.get(f"/api/v1/workflows/{workflow['id']}/executions", headers=auth)
        ).json()
        if history["total"]:
            break
        await __import__("asyncio").sleep(0.1)
    assert history["total"] == 1 and history["items"][0]["trigger"] == "schedule"
    done = await wait_execution(client, auth, history["items"][0]["id"])
    assert done["status"] == "succeeded"
    again = (await client.get(f"/api/v1/workflows/{workflow['id']}", headers=auth)).json()
    assert again["next_run_at"] > workflow["next_run_at"] or again["next_run_at"][:4] > "2000"


async def test_http_step_refuses_private_addresses_unless_allowed(
        client, auth, worker, wait_execution) -> None:  # fmt: skip
    workflow = await create(client, auth, [
        http_step("meta", "http://169.254.169.254/latest/meta-data"),
    ])  # fmt: skip
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    assert done["status"] == "failed" and "link-local" in done["steps"][0]["error"]


async def test_update_and_delete(client, auth) -> None:
    workflow = await create(client, auth, [{"id": "a", "type": "delay", "config": {"seconds": 1}}])
    patched = await client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        headers=auth,
        json={"name": "renamed", "enabled": False},
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    bad = await client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        headers=auth,
        json={"steps": [{"id": "a", "type": "nope"}]},
    )
    assert bad.status_code == 422
    disabled = await client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=auth)
    assert disabled.status_code == 409
    assert (
        await client.delete(f"/api/v1/workflows/{workflow['id']}", headers=auth)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/workflows/{workflow['id']}", headers=auth)
    ).status_code == 404


async def test_request_id_follows_the_work_into_the_worker(
    client, auth, worker, runtime, wait_execution
) -> None:
    from sqlalchemy import select

    from automation.models import Event, WorkflowExecution

    workflow = await create(client, auth, [{"id": "a", "type": "data_transform",
                                            "config": {"output": 1}}])  # fmt: skip
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    response = await client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers={
        **auth, "X-Request-ID": request_id})  # fmt: skip
    assert response.headers["x-request-id"] == request_id
    await wait_execution(client, auth, response.json()["id"])
    async with runtime.database.session() as session:
        execution = await session.get(WorkflowExecution, response.json()["id"])
        assert execution is not None and execution.request_id == request_id
        event = (await session.execute(select(Event).where(
            Event.type == "workflow.completed",
            Event.data["execution_id"].as_string() == execution.id))).scalar_one()  # fmt: skip
        assert event.request_id == request_id
    lines = [line for line in worker.output if request_id in line]
    assert any('"request_id": "' + request_id in line for line in lines), worker.log[-3000:]


async def test_unreachable_server_and_wrong_types(client, auth, worker, wait_execution) -> None:
    from mimeia.testing import free_port

    dead = f"http://127.0.0.1:{free_port()}/nothing"
    workflow = await create(client, auth, [http_step("call", dead, timeout_seconds=5)])
    done = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    assert done["status"] == "failed"
    assert "request to 127.0.0.1 failed" in done["steps"][0]["error"]
    for body in [{"input_data": [1, 2]}, {"priority": "urgent"}, {"input_data": "x"},
                 {"unknown": 1}]:  # fmt: skip
        response = await client.post(
            f"/api/v1/workflows/{workflow['id']}/execute", headers=auth, json=body
        )
        assert response.status_code == 422, body
        assert response.json()["problems"][0]["field"]
    missing = await client.post(f"/api/v1/workflows/{uuid.uuid4()}/execute", headers=auth)
    assert missing.status_code == 404


async def test_completion_events_wake_only_listening_rules(
    client, auth, internal_headers, recorder, worker, runtime, wait_execution
) -> None:
    from sqlalchemy import select

    from automation.models import Event, RuleExecution

    async def completion_event(execution_id: str) -> tuple[Event, list[RuleExecution]]:
        for _ in range(200):
            async with runtime.database.session() as session:
                event = (await session.execute(select(Event).where(
                    Event.type == "workflow.completed",
                    Event.data["execution_id"].as_string() == execution_id,
                ))).scalar_one()  # fmt: skip
                records = (await session.execute(select(RuleExecution).where(
                    RuleExecution.event_id == event.id))).scalars().all()  # fmt: skip
            if event.status == "processed" and all(r.finished_at for r in records):
                return event, list(records)
            await asyncio.sleep(0.05)
        raise AssertionError(f"event of {execution_id} never processed")

    tag = uuid.uuid4().hex
    workflow = await create(client, auth, [{"id": "a", "type": "data_transform",
                                            "config": {"output": 1}}])  # fmt: skip
    # Another tenant listening for every completion must not count for ours.
    other = internal_headers(f"t-{uuid.uuid4().hex[:10]}")
    response = await client.post("/api/v1/automation/rules", headers=other, json={
        "name": "elsewhere", "trigger": {"type": "event", "event_type": "workflow.*"},
        "actions": [{"type": "http_request", "url": recorder.url(f"/other/{tag}")}]})  # fmt: skip
    assert response.status_code == 201, response.text

    quiet = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    event, records = await completion_event(quiet["id"])
    assert event.processed_at is not None and records == []

    response = await client.post("/api/v1/automation/rules", headers=auth, json={
        "name": "on completion", "trigger": {"type": "event", "event_type": "workflow.*"},
        "conditions": [{"field": "workflow_id", "operator": "equals", "value": workflow["id"]}],
        "actions": [{"type": "http_request", "url": recorder.url(f"/done/{tag}")}]})  # fmt: skip
    assert response.status_code == 201, response.text
    rule = response.json()
    heard = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    _, records = await completion_event(heard["id"])
    assert [(r.rule_id, r.matched, r.status) for r in records] == [(rule["id"], True, "succeeded")]
    assert recorder.count(f"/done/{tag}") == 1

    disabled = await client.patch(f"/api/v1/automation/rules/{rule['id']}", headers=auth,
                                  json={"enabled": False})  # fmt: skip
    assert disabled.status_code == 200, disabled.text
    again = await wait_execution(client, auth, await execute(client, auth, workflow["id"]))
    _, records = await completion_event(again["id"])
    assert records == [] and recorder.count(f"/done/{tag}") == 1
    assert recorder.count(f"/other/{tag}") == 0
