"""Rules and events: the API, a real worker, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from automation.db import utcnow
from automation.models import AutomationRule
from automation.rules.conditions import ConditionGroup, FieldCheck, evaluate, evaluate_all

pytestmark = pytest.mark.integration


async def submit(client: httpx.AsyncClient, auth: dict[str, str], event_type: str,
                 data: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        "/api/v1/events", headers=auth, json={"event_type": event_type, "data": data}
    )
    assert response.status_code == 202, response.text
    return await processed(client, auth, response.json()["id"])


async def processed(client: httpx.AsyncClient, auth: dict[str, str], event_id: str,
                    timeout: float = 20) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = (await client.get(f"/api/v1/events/{event_id}", headers=auth)).json()
        if body["status"] == "processed":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"event {event_id} not processed: {body}")


async def make_rule(
    client: httpx.AsyncClient, auth: dict[str, str], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/automation/rules", headers=auth, json=fields)
    assert response.status_code == 201, response.text
    return response.json()


async def test_seed_rule_with_verified_email_check(client, auth, worker, recorder) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    rule = await make_rule(client, auth,
        name="Welcome Email Automation",
        trigger={"type": "event", "event_type": "user.created"},
        conditions=[{"type": "field_check", "field": "user.email_verified",
                     "operator": "equals", "value": True}],
        actions=[{"type": "http_request", "url": recorder.url(path), "method": "POST",
                  "json": {"template": "welcome_email", "to": "{{user.email}}"}}],
    )  # fmt: skip
    yes = await submit(
        client, auth, "user.created", {"user": {"email": "ana@example.com", "email_verified": True}}
    )
    no = await submit(
        client,
        auth,
        "user.created",
        {"user": {"email": "bob@example.com", "email_verified": False}},
    )
    assert recorder.count(path) == 1
    assert recorder.hits[path][0]["body"] == {"template": "welcome_email", "to": "ana@example.com"}
    [matched] = yes["rule_executions"]
    assert matched["matched"] and matched["status"] == "succeeded"
    assert matched["condition_results"][0] == {
        "field": "user.email_verified", "operator": "equals", "expected": True,
        "actual": True, "passed": True}  # fmt: skip
    assert matched["action_results"][0]["output"]["status_code"] == 200
    [skipped] = no["rule_executions"]
    assert not skipped["matched"] and skipped["status"] == "not_matched"
    assert skipped["condition_results"][0]["passed"] is False
    history = (
        await client.get(f"/api/v1/automation/rules/{rule['id']}/executions", headers=auth)
    ).json()
    assert history["total"] == 2
    only_matched = (
        await client.get(
            f"/api/v1/automation/rules/{rule['id']}/executions",
            params={"matched": "true"},
            headers=auth,
        )
    ).json()
    assert only_matched["total"] == 1


async def test_wildcards_priority_and_stop_after_match(client, auth, worker, recorder) -> None:
    tag = uuid.uuid4().hex
    low = await make_rule(
        client,
        auth,
        name="low",
        priority=1,
        trigger={"type": "event", "event_type": "order.*"},
        actions=[{"type": "http_request", "url": recorder.url(f"/ok/{tag}low")}],
    )
    high = await make_rule(client, auth, name="high", priority=10, stop_after_match=True,
                           trigger={"type": "event", "event_type": "order.*"},
                           conditions=[{"field": "total", "operator": "greater_than",
                                        "value": 100}],
                           actions=[{"type": "http_request",
                                     "url": recorder.url(f"/ok/{tag}high")}])  # fmt: skip
    listed = (await client.get("/api/v1/automation/rules", headers=auth)).json()
    assert [r["id"] for r in listed["items"]] == [high["id"], low["id"]]
    big = await submit(client, auth, "order.paid", {"total": 500})
    assert [r["rule_id"] for r in big["rule_executions"]] == [high["id"]]  # stopped after match
    small = await submit(client, auth, "order.paid", {"total": 5})
    assert {r["rule_id"]: r["matched"] for r in small["rule_executions"]} == {
        high["id"]: False, low["id"]: True}  # fmt: skip
    other = await submit(client, auth, "orders.paid", {"total": 500})
    assert other["rule_executions"] == []
    assert recorder.count(f"/ok/{tag}high") == 1 and recorder.count(f"/ok/{tag}low") == 1


async def test_run_workflow_action_and_event_triggered_workflow(
    client, auth, worker, wait_execution
) -> None:
    workflow = (
        await client.post(
            "/api/v1/workflows",
            headers=auth,
            json={
                "name": "on signup",
                "steps": [
                    {
                        "id": "greet",
                        "type": "data_transform",
                        "config": {"output": "hi {{ user.name }}"},
                    }
                ],
            },
        )
    ).json()
    by_event = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "on any user event", "trigger_type": "event",
        "trigger_config": {"event_type": "user.*"},
        "steps": [{"id": "seen", "type": "data_transform",
                   "config": {"output": "{{ user.name }}"}}]})).json()  # fmt: skip
    await make_rule(
        client,
        auth,
        name="start it",
        trigger={"type": "event", "event_type": "user.signup"},
        actions=[{"type": "run_workflow", "workflow_id": workflow["id"]}],
    )
    event = await submit(client, auth, "user.signup", {"user": {"name": "Ana"}})
    output = event["rule_executions"][0]["action_results"][0]["output"]
    done = await wait_execution(client, auth, output["execution_id"])
    assert done["status"] == "succeeded" and done["steps"][0]["output"] == "hi Ana"
    assert done["trigger"] == "rule"
    runs = (await client.get(f"/api/v1/workflows/{by_event['id']}/executions",
                             headers=auth)).json()  # fmt: skip
    assert runs["total"] == 1
    done = await wait_execution(client, auth, runs["items"][0]["id"])
    assert done["trigger"] == "event" and done["steps"][0]["output"] == "Ana"


async def test_scheduled_rule_fires_from_the_database(
    client, auth, worker, runtime, recorder
) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    rule = await make_rule(
        client,
        auth,
        name="nightly",
        trigger={"type": "schedule", "cron": "0 3 * * *"},
        actions=[
            {
                "type": "http_request",
                "url": recorder.url(path),
                "method": "POST",
                "json": {"at": "{{ scheduled_at }}"},
            }
        ],
    )
    assert rule["next_run_at"]
    async with runtime.database.session() as session:
        await session.execute(
            update(AutomationRule)
            .where(AutomationRule.id == rule["id"])
            .values(next_run_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    deadline = time.monotonic() + 20
    while recorder.count(path) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert recorder.count(path) == 1
    executions = (
        await client.get(f"/api/v1/automation/rules/{rule['id']}/executions", headers=auth)
    ).json()
    assert executions["items"][0]["matched"] is True


async def test_invalid_rule_lists_every_problem(client, auth) -> None:
    response = await client.post("/api/v1/automation/rules", headers=auth, json={
        "name": "bad", "trigger": {"type": "schedule", "cron": "not cron"},
        "conditions": [{"field": "a", "operator": "matches", "value": "(unclosed"},
                       {"field": "b", "operator": "in", "value": 3}],
        "actions": [{"type": "fax"}, {"type": "http_request", "url": "{{ broken"}],
    })  # fmt: skip
    assert response.status_code == 422
    text = "\n".join(response.json()["detail"]["problems"])
    for needle in ["trigger.cron", "conditions[0].value: not a valid regular expression",
                   "conditions[1].value: operator 'in' needs a list",
                   "actions[0].type: unknown action type 'fax'",
                   "actions[1].url: template syntax error"]:  # fmt: skip
        assert needle in text, (needle, text)
    wrong_op = await client.post("/api/v1/automation/rules", headers=auth, json={
        "name": "bad", "trigger": {"type": "event", "event_type": "x"},
        "conditions": [{"field": "a", "operator": "roughly", "value": 1}],
        "actions": [{"type": "delay", "seconds": 1}]})  # fmt: skip
    assert wrong_op.status_code == 422


async def test_rule_update_and_delete(client, auth) -> None:
    rule = await make_rule(
        client,
        auth,
        name="r",
        trigger={"type": "event", "event_type": "a.b"},
        actions=[{"type": "http_request", "url": "https://example.com/"}],
    )
    patched = await client.patch(
        f"/api/v1/automation/rules/{rule['id']}",
        headers=auth,
        json={"priority": 5, "enabled": False},
    )
    assert patched.status_code == 200 and patched.json()["priority"] == 5
    bad = await client.patch(
        f"/api/v1/automation/rules/{rule['id']}", headers=auth, json={"actions": [{"type": "nope"}]}
    )
    assert bad.status_code == 422
    assert (
        await client.delete(f"/api/v1/automation/rules/{rule['id']}", headers=auth)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/automation/rules/{rule['id']}", headers=auth)
    ).status_code == 404


async def test_event_bad_inputs(client, auth) -> None:
    bodies = [{}, {"event_type": ""}, {"event_type": "has space"},
              {"event_type": "a", "data": []}, {"event_type": "a" * 300}]  # fmt: skip
    for body in bodies:
        assert (await client.post("/api/v1/events", headers=auth, json=body)).status_code == 422
    nul = await client.post(
        "/api/v1/events", headers=auth, json={"event_type": "a", "data": {"x": "a\u0000b"}}
    )
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]
    nul_path = await client.get("/api/v1/events/%00", headers=auth)
    assert nul_path.status_code == 422
    huge = await client.post(
        "/api/v1/events", headers=auth, json={"event_type": "big", "data": {"x": "y" * 300_000}}
    )
    assert huge.status_code == 413


DATA = {"user": {"email": "ana@example.com", "email_verified": True, "age": 30,
                 "tags": ["vip", "beta"]}, "total": 12.5, "status": "paid"}  # fmt: skip


@pytest.mark.parametrize(("field", "operator", "value", "expected"), [
    ("user.email_verified", "equals", True, True),
    ("status", "not_equals", "paid", False),
    ("user.age", "greater_than", 29, True),
    ("user.age", "greater_than_or_equal", 30, True),
    ("user.age", "less_than", 30, False),
    ("total", "less_than_or_equal", 12.5, True),
    ("user.email", "contains", "@example", True),
    ("user.tags", "contains", "vip", True),
    ("user.tags", "not_contains", "vip", False),
    ("status", "in", ["paid", "refunded"], True),
    ("status", "not_in", ["paid"], False),
    ("user.email", "exists", None, True),
    ("user.phone", "exists", None, False),
    ("user.phone", "not_exists", None, True),
    ("user.email", "matches", r"^[a-z]+@example\.com$", True),
    ("user.email", "starts_with", "ana", True),
    ("user.email", "ends_with", ".org", False),
    ("user.tags.0", "equals", "vip", True),
    ("user.age", "greater_than", "thirty", False),  # cannot compare: recorded, not raised
    ("missing.path", "equals", 1, False),
])  # fmt: skip
def test_operators(field: str, operator: str, value: Any, expected: bool) -> None:
    passed, record = evaluate(FieldCheck(field=field, operator=operator, value=value), DATA)
    assert passed is expected and record["passed"] is expected


def test_a_catastrophic_pattern_fails_its_check_in_bounded_time() -> None:
    # ^(a|aa)+$ against "aaa...ab" backtracks exponentially (days with re.search).
    check = FieldCheck(field="name", operator="matches", value=r"^(a|aa)+$")
    started = time.perf_counter()
    passed, record = evaluate(check, {"name": "a" * 60 + "b"})
    assert time.perf_counter() - started < 2
    assert passed is False and "took longer than" in record["error"]


def test_and_or_groups_record_every_check() -> None:
    either = ConditionGroup(type="group", logic="or", conditions=[
        FieldCheck(field="status", operator="equals", value="refunded"),
        FieldCheck(field="total", operator="greater_than", value=10)])  # fmt: skip
    passed, results = evaluate_all(
        [either, FieldCheck(field="user.email_verified", operator="equals", value=True)],
        "and",
        DATA,
    )
    assert passed is True
    assert [r["passed"] for r in results[0]["results"]] == [False, True]
    passed, _ = evaluate_all(
        [either, FieldCheck(field="user.age", operator="less_than", value=18)], "and", DATA
    )
    assert passed is False


async def test_an_event_whose_task_was_lost_is_processed_by_the_tick(
    client, auth, tenant, worker, runtime, recorder
) -> None:
    from automation.models import Event

    path = f"/ok/{uuid.uuid4().hex}"
    await make_rule(
        client,
        auth,
        name="late",
        trigger={"type": "event", "event_type": "lost.*"},
        actions=[{"type": "http_request", "url": recorder.url(path)}],
    )
    # Stored, but the process died before queueing it: no task was ever sent.
    async with runtime.database.session() as session:
        event = Event(
            tenant_id=tenant, type="lost.one", data={}, created_at=utcnow() - timedelta(minutes=5)
        )
        session.add(event)
        await session.commit()
    body = await processed(client, auth, event.id, timeout=30)
    assert body["rule_executions"][0]["matched"] is True
    assert recorder.count(path) == 1
