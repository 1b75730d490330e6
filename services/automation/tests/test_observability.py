"""Metrics and rate limits."""

from __future__ import annotations

import httpx
import pytest

from automation.app import create_app
from automation.runtime import Runtime

pytestmark = pytest.mark.integration


async def test_metrics_cover_http_workflows_rules_and_tasks(
    client, auth, worker, wait_execution
) -> None:
    workflow = (await client.post("/api/v1/workflows", headers=auth, json={
        "name": "m", "steps": [{"id": "a", "type": "data_transform", "config": {"output": 1}}]
    })).json()  # fmt: skip
    run = await client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=auth)
    await wait_execution(client, auth, run.json()["id"])
    text = (await client.get("/metrics")).text
    assert (
        'automation_http_requests_total{method="POST",route="/api/v1/workflows",status="201"}'
        in text
    )
    assert 'automation_workflow_executions{status="succeeded"}' in text
    assert 'automation_workflow_step_runs{status="succeeded",type="data_transform"}' in text
    assert "automation_rule_executions" in text
    assert "automation_http_request_duration_seconds_bucket" in text


async def test_rate_limit_answers_429_with_retry_after(settings, redis_prefix) -> None:
    limited = settings.model_copy(
        update={"rate_limit": "3/minute", "celery_key_prefix": f"{redis_prefix}rl-test:"}
    )
    runtime = Runtime.from_settings(limited)
    app = create_app(runtime=runtime)
    headers = {"X-Internal-API-Key": "test-internal-key-0123456789", "X-Tenant-ID": "rl"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:  # fmt: skip
        codes = [(await client.get("/api/v1/workflows", headers=headers)).status_code
                 for _ in range(4)]  # fmt: skip
        assert codes == [200, 200, 200, 429]
        blocked = await client.get("/api/v1/workflows", headers=headers)
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # Health stays reachable for probes, and another client has its own budget.
        assert (await client.get("/health")).status_code == 200
        other = await client.get("/api/v1/workflows", headers={**headers, "X-Tenant-ID": "rl2"})
        assert other.status_code == 200
    await runtime.close()
