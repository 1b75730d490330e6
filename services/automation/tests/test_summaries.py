"""The dashboard summaries (executions, webhooks, notifications) on PostgreSQL: exact
counts over every workflow of a tenant, nothing of another tenant, `since` validated."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from automation.models import Tenant, Workflow, WorkflowExecution
from automation.notifications.models import Notification
from automation.runtime import Runtime
from automation.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

STATUSES = ["succeeded", "failed", "running", "waiting", "pending", "cancelled"]


def _id() -> str:
    return str(uuid.uuid4())


async def _seed_executions(
    runtime: Runtime, tenant: str, workflows: int, per_workflow: int, now: datetime
) -> Counter[str]:
    """``workflows`` workflows with ``per_workflow`` recent executions each (and 3 old
    ones each); the recent ones' expected counts by status."""
    expected: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    for w in range(workflows):
        wid = _id()
        flows.append({"id": wid, "tenant_id": tenant, "name": f"flow {w}", "steps": [],
                      "trigger_config": {}, "created_at": now})  # fmt: skip
        for i in range(per_workflow + 3):
            old = i >= per_workflow
            status = STATUSES[(w + i) % len(STATUSES)]
            created = now - (timedelta(hours=3) if old else timedelta(seconds=i))
            rows.append({"id": _id(), "tenant_id": tenant, "workflow_id": wid, "status": status,
                         "input": {}, "context": {}, "definition": [], "created_at": created,
                         "error": f"boom {w}/{i}" if status == "failed" else None})  # fmt: skip
            if not old:
                expected[status] += 1
    async with runtime.database.session() as session:
        session.add(Tenant(id=tenant))
        await session.flush()
        await session.execute(insert(Workflow), flows)
        await session.execute(insert(WorkflowExecution), rows)
        await session.commit()
    return expected


async def test_execution_summary_counts_every_workflow_exactly(
    client: httpx.AsyncClient, runtime: Runtime, internal_headers: Callable[[str], dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    tenant, other = f"t-{uuid.uuid4().hex[:10]}", f"t-{uuid.uuid4().hex[:10]}"
    expected = await _seed_executions(runtime, tenant, workflows=24, per_workflow=45, now=now)
    assert sum(expected.values()) == 1080
    # another tenant's recent executions, same statuses: none of them may count for `tenant`
    await _seed_executions(runtime, other, workflows=3, per_workflow=40, now=now)

    since = (now - timedelta(hours=1)).isoformat()
    answer = await client.get("/api/v1/executions/summary", params={"since": since},
                              headers=internal_headers(tenant))  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["by_status"] == dict(expected)
    assert body["total"] == 1080
    failures = body["latest_failures"]
    assert len(failures) == 5 and all(f["error"].startswith("boom") for f in failures)
    assert [f["created_at"] for f in failures] == sorted(
        (f["created_at"] for f in failures), reverse=True
    )
    assert all(f["workflow_name"].startswith("flow ") for f in failures)

    # a window that also takes in the old executions (3 per workflow)
    wide = await client.get("/api/v1/executions/summary",
                            params={"since": (now - timedelta(days=1)).isoformat()},
                            headers=internal_headers(tenant))  # fmt: skip
    assert wide.json()["total"] == 1080 + 24 * 3
    # without `since`: the last hour
    default = await client.get("/api/v1/executions/summary", headers=internal_headers(tenant))
    assert default.json()["total"] == 1080
    theirs = await client.get("/api/v1/executions/summary", headers=internal_headers(other))
    assert theirs.json()["total"] == 120


async def test_bad_since_is_a_422_naming_the_field(
    client: httpx.AsyncClient, internal_headers: Callable[[str], dict[str, str]]
) -> None:
    headers = internal_headers(f"t-{uuid.uuid4().hex[:10]}")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for path in ("/executions/summary", "/webhooks/summary", "/notifications/summary"):
        for bad in ("yesterday", "2026-13-45T00:00:00", future):
            answer = await client.get(f"/api/v1{path}", params={"since": bad}, headers=headers)
            assert answer.status_code == 422, (path, bad, answer.text)
            assert [p["field"] for p in answer.json()["problems"]] == ["query.since"]
        empty = await client.get(f"/api/v1{path}", headers=headers)
        assert empty.status_code == 200 and empty.json()["by_status" if "webhooks" not in path
                                                         else "deliveries"] == {}  # fmt: skip


async def test_webhook_and_notification_summaries(
    client: httpx.AsyncClient, runtime: Runtime, internal_headers: Callable[[str], dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    tenant, other = f"t-{uuid.uuid4().hex[:10]}", f"t-{uuid.uuid4().hex[:10]}"

    def endpoint(owner: str, **extra: Any) -> WebhookEndpoint:
        return WebhookEndpoint(id=_id(), tenant_id=owner, url="https://example.com/hook",
                               secret="whsec_" + "A" * 32, **extra)  # fmt: skip

    async with runtime.database.session() as session:
        session.add_all([Tenant(id=tenant), Tenant(id=other)])
        await session.flush()
        ok, failing = endpoint(tenant), endpoint(tenant, failing_since=now)
        off = endpoint(tenant, enabled=False, failing_since=now)
        theirs = endpoint(other, failing_since=now)
        session.add_all([ok, failing, off, theirs])
        await session.flush()
        states = [("succeeded", 1), ("failed", 5), ("pending", 2), ("pending", 0),
                  ("pending", 0), ("failed", 5)]  # fmt: skip
        for owner, target in ((tenant, failing), (other, theirs)):
            for i, (status, attempts) in enumerate(states):
                message = WebhookMessage(tenant_id=owner, event_type="order.created")
                session.add(message)
                await session.flush()
                created = now - timedelta(hours=5) if i == 5 else now
                session.add(WebhookDelivery(tenant_id=owner, message_id=message.id,
                                            endpoint_id=target.id, status=status,
                                            attempts=attempts, created_at=created))  # fmt: skip
            for status in ("sent", "sent", "failed", "retrying", "queued"):
                session.add(Notification(tenant_id=owner, channel="email", recipient="a@b.c",
                                         status=status, created_at=now))  # fmt: skip
        await session.commit()

    hooks = (await client.get("/api/v1/webhooks/summary", headers=internal_headers(tenant))).json()
    assert {k: hooks[k] for k in ("endpoints", "endpoints_failing", "endpoints_disabled")} == {
        "endpoints": 3, "endpoints_failing": 1, "endpoints_disabled": 1,
    }  # fmt: skip
    assert hooks["deliveries"] == {"succeeded": 1, "failed": 1, "pending": 3}
    assert hooks["deliveries_failing"] == 2  # the failed one and the pending retry
    notes = await client.get("/api/v1/notifications/summary", headers=internal_headers(tenant))
    assert notes.json()["by_status"] == {"sent": 2, "failed": 1, "retrying": 1, "queued": 1}
    assert notes.json()["total"] == 5
