"""The charts against a real automation service (PostgreSQL, METRICS_TOKEN set) and a
real FlowMesh server: the sampler sends the metrics token, and each of the four areas
(API, executions, deliveries, FlowMesh) charts throughput, latency and failure share as
rates of what happened between samples, not running totals."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from automation.db import Database
from automation.models import Tenant, Workflow, WorkflowExecution
from automation.notifications.models import Notification
from automation.settings import async_database_url
from automation.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookMessage
from automation.webhooks.testing import scratch_database
from flowmesh import FlowMesh
from flowmesh.exceptions import FlowMeshNotFoundError
from flowmesh.types import Event
from mimeia.testing import free_port, run_server
from mimeia_console.app import create_app
from mimeia_console.metrics import Sampler, quantile
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

KEY = "charts-internal-key-0123456789"
METRICS_TOKEN = "charts-metrics-token-0123456789"


@pytest.fixture(scope="module")
def services(
    postgres_url: str, redis_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The automation API (token-guarded /metrics, no cache) and FlowMesh with metrics,
    on a database of its own (rows it counts are its own; secrets others sealed are not)."""
    with scratch_database(postgres_url) as database_url:
        yield from _services(database_url, redis_url, redis_prefix, tmp_path_factory)


def _services(
    postgres_url: str, redis_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    port, fm_port, fm_metrics = free_port(), free_port(), free_port()
    env = {
        "ENV": "test",
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_KEY_PREFIX": f"{redis_prefix}charts:",
        "INTERNAL_API_KEY": KEY,
        "JWT_SECRET_KEY": "charts-jwt-secret-0123456789abcdef",
        "STATE_DIR": str(tmp_path_factory.mktemp("charts-state")),
        "METRICS_TOKEN": METRICS_TOKEN,
        "METRICS_CACHE_SECONDS": "0",
    }
    store = tmp_path_factory.mktemp("charts-fm") / "flowmesh.db"
    with (
        run_server(
            [
                "python",
                "-m",
                "automation",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-migrate",
            ],
            env=env,
        ),
        run_server(
            [
                "python",
                "-m",
                "flowmesh",
                "serve",
                "--port",
                str(fm_port),
                "--store",
                f"sqlite:///{store}",
                "--metrics-port",
                str(fm_metrics),
            ]
        ),
    ):
        yield {
            "automation": f"http://127.0.0.1:{port}",
            "database": postgres_url,
            "flowmesh": f"127.0.0.1:{fm_port}",
            "flowmesh_metrics": f"http://127.0.0.1:{fm_metrics}/metrics",
        }


async def seed(database: Database, tenant: str, failed: int, succeeded: int) -> None:
    """Executions that ran 2 s each; on the first call also the tenant and workflow."""
    now = datetime.now(UTC)
    async with database.session() as session:
        if await session.get(Tenant, tenant) is None:
            session.add(Tenant(id=tenant))
            session.add(Workflow(id=f"{tenant}-wf", tenant_id=tenant, name="charts"))
            await session.flush()
        for status in ["failed"] * failed + ["succeeded"] * succeeded:
            session.add(
                WorkflowExecution(
                    tenant_id=tenant,
                    workflow_id=f"{tenant}-wf",
                    status=status,
                    started_at=now - timedelta(seconds=2),
                    finished_at=now,
                )
            )
        await session.commit()


async def deliveries(database: Database, tenant: str) -> None:
    """Three webhook attempts (two delivered in 0.1 s, one to retry after 0.4 s) and three
    notifications (two sent one second after queueing, one failed)."""
    now = datetime.now(UTC)
    endpoint = str(uuid.uuid4())
    async with database.session() as session:
        # the endpoint's secret column is sealed by the service; the attempts never read it
        await session.execute(
            text(
                "INSERT INTO webhook_endpoints (id, tenant_id, name, description, url, "
                "event_types, secret, previous_secrets, headers, enabled, "
                "consecutive_failures, created_at, updated_at) VALUES (:id, :t, '', '', "
                "'http://127.0.0.1:9/', '[]', 'unused', '[]', '{}', true, 0, :now, :now)"
            ),
            {"id": endpoint, "t": tenant, "now": now},
        )
        message = WebhookMessage(tenant_id=tenant, event_type="order.paid", payload={})
        session.add(message)
        await session.flush()
        delivery = WebhookDelivery(tenant_id=tenant, message_id=message.id, endpoint_id=endpoint)
        session.add(delivery)
        await session.flush()
        for n, (verdict, ms) in enumerate(
            [("delivered", 100.0), ("delivered", 100.0), ("retry", 400.0)], 1
        ):
            session.add(
                WebhookAttempt(
                    tenant_id=tenant,
                    delivery_id=delivery.id,
                    message_id=message.id,
                    endpoint_id=endpoint,
                    attempt_number=n,
                    duration_ms=ms,
                    verdict=verdict,
                )
            )
        for status in ("sent", "sent", "failed"):
            session.add(
                Notification(
                    tenant_id=tenant,
                    channel="email",
                    recipient="a@example.com",
                    status=status,
                    created_at=now - timedelta(seconds=1),
                    sent_at=now if status == "sent" else None,
                )
            )
        await session.commit()


def test_a_quantile_is_interpolated_inside_its_bucket() -> None:
    buckets = [(0.1, 50.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert quantile(0.95, buckets) == pytest.approx(0.46)  # 45 of the 50 between 0.1 and 0.5
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.99, [(0.1, 1.0), (float("inf"), 2.0)]) == 0.1  # in +Inf: the last bound
    assert quantile(0.95, [(0.1, 0.0), (float("inf"), 0.0)]) == 0.0  # nothing observed


def last(points: list[tuple[float, float]]) -> float:
    return points[-1][1]


async def test_token_guarded_metrics_are_sampled_and_charted_as_rates(
    services: dict[str, str], tmp_path: Path
) -> None:
    url = services["automation"] + "/metrics"
    async with httpx.AsyncClient() as http:
        refused = Sampler(http, {"automation": url}, interval=10)
        await refused.sample_once()
        assert not refused.samples["automation"]
        assert refused.problems == {"automation": "HTTP 401"}

    (tmp_path / "internal_api_key").write_text("k3y")
    settings = ConsoleSettings(
        loopback_key_file=tmp_path / "internal_api_key",
        automation_url=services["automation"],
        automation_metrics_token=METRICS_TOKEN,
        flowmesh_url=services["flowmesh"],
        flowmesh_metrics_url=services["flowmesh_metrics"],
    )
    app = create_app(settings)
    sampler: Sampler = app.state.console.sampler
    database = Database(async_database_url(services["database"]))
    tenant = f"charts-{uuid.uuid4().hex[:8]}"
    headers = {"X-Internal-API-Key": KEY, "X-Tenant-ID": tenant}
    try:
        await seed(database, tenant, failed=3, succeeded=0)  # before the first sample
        await sampler.sample_once()
        assert sampler.problems == {}

        # between the first and second sample: API calls, 5 executions (1 failed),
        # deliveries, FlowMesh writes and reads (one a miss)
        async with httpx.AsyncClient(base_url=services["automation"]) as api:
            for _ in range(5):
                assert (await api.get("/api/v1/workflows", headers=headers)).status_code == 200
        await seed(database, tenant, failed=1, succeeded=4)
        await deliveries(database, tenant)
        async with FlowMesh(endpoint=services["flowmesh"], timeout=5) as fm:
            await fm.stream.configure(tenant, "ops", "orders", partitions=1)
            await fm.stream.write(tenant, "ops", "orders", [Event(payload=b"x")] * 2)
            await fm.kv.set(tenant, "ops", "settings", "k", b"v")
            assert await fm.kv.get(tenant, "ops", "settings", "k") == b"v"
            with pytest.raises(FlowMeshNotFoundError):
                await fm.kv.get(tenant, "ops", "settings", "missing")
        await asyncio.sleep(0.2)
        await sampler.sample_once()
        await asyncio.sleep(0.2)
        await sampler.sample_once()  # nothing new: every rate drops back to 0
    finally:
        await database.dispose()

    a = "automation"
    ring = list(sampler.samples[a])
    dt = ring[1].at - ring[0].at
    final = lambda labels: any(f"status={s}" in labels for s in ("succeeded", "failed"))  # noqa: E731
    failed = lambda labels: "status=failed" in labels  # noqa: E731
    executions = sampler.rate(a, "automation_workflow_executions", final)
    # 5 finished since the first sample (the 3 failed before it are not counted again)
    assert executions[0][1] == pytest.approx(5 / dt)
    assert last(executions) == 0.0
    share = sampler.ratio(
        a,
        "automation_workflow_executions",
        "automation_workflow_executions",
        100,
        num_where=failed,
        den_where=final,
    )
    assert share[0][1] == pytest.approx(20.0)  # 1 of 5, not 4 of 8
    mean = sampler.ratio(
        a,
        "automation_workflow_execution_seconds",
        "automation_workflow_executions",
        num_where=final,
        den_where=final,
    )
    assert mean[0][1] == pytest.approx(2.0, abs=0.01)
    p95 = sampler.histogram_quantile(a, "automation_http_request_duration_seconds", 0.95)
    assert 0 < p95[0][1] <= 5.0  # the p95 of the calls since the sample before
    attempts = sampler.rate(a, "automation_webhook_attempts")
    assert attempts[0][1] == pytest.approx(3 / dt)
    attempt_ms = sampler.ratio(
        a, "automation_webhook_attempt_seconds", "automation_webhook_attempts", 1000
    )
    assert attempt_ms[0][1] == pytest.approx(200.0)
    sent = lambda labels: "status=sent" in labels  # noqa: E731
    queued_to_sent = sampler.ratio(
        a,
        "automation_notification_seconds",
        "automation_notifications",
        num_where=sent,
        den_where=sent,
    )
    assert queued_to_sent[0][1] == pytest.approx(1.0, abs=0.01)
    assert sampler.rate(a, "automation_http_requests_total")[0][1] >= 5 / dt

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)), base_url="http://console"
    ) as console:
        page = (await console.get("/charts")).text
    sections = dict(re.findall(r"<h2>([^<]+)</h2>(.*?)(?=<h2>|$)", page, re.S))
    assert set(sections) == {"Automation API", "Workflow executions", "Deliveries", "FlowMesh"}
    expected = {
        "Automation API": ("API requests", "API mean latency", "API p95 latency", "API errors"),
        "Workflow executions": (
            "Executions finished per second",
            "Executions finished: mean",
            "Executions finished: share failed",
        ),
        "Deliveries": (
            "Webhook attempts per second",
            "Webhook attempts: mean time",
            "Webhook attempts: share failed",
            "Notifications per second",
            "Notifications: mean time",
            "Notifications: share failed",
        ),
        "FlowMesh": (
            "FlowMesh writes",
            "FlowMesh writes p95 latency",
            "FlowMesh writes failed",
            "FlowMesh reads",
            "FlowMesh reads p95 latency",
            "FlowMesh reads failed",
        ),
    }
    for name, body in sections.items():
        charts = re.findall(r'<figure class="chart">(.*?)</figure>', body, re.S)
        assert charts and all("<polyline" in c for c in charts), (name, body)  # all drawn
        for label in expected[name]:
            assert f"<figcaption>{label}" in body, (name, label)
    executions = sections["Workflow executions"]
    # the failure share peaked at 20 % (1 of 5 finished) and is back to 0: not a total
    assert re.search(r"share failed: <b>0</b> % <span class=\"muted\">\(max 20\)", executions)
    assert re.search(
        r"attempts: share failed: <b>0</b> % <span class=\"muted\">\(max 33.3\)",
        sections["Deliveries"],
    )
    mesh = sections["FlowMesh"]
    assert re.search(r"FlowMesh writes: <b>0</b> /s <span class=\"muted\">\(max [1-9]", mesh)
    assert re.search(r"FlowMesh reads failed: <b>0</b> % <span class=\"muted\">\(max 50", mesh)
    await app.state.console.fm.close()
