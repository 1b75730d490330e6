"""`mimeia up`'s way of running the service: API plus an in-process worker on the
embedded defaults (SQLite data, SQLite-file broker, no Redis)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from mimeia import discover_services
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_registered_for_mimeia_up() -> None:
    [spec] = [s for s in discover_services() if s.name == "automation"]
    assert spec.default_port == 8090
    argv = spec.argv({"automation": __import__("mimeia").Address("127.0.0.1", 8123)}, "/tmp/s")
    assert argv[-5:] == ["--host", "127.0.0.1", "--port", "8123", "--with-worker"]


def test_embedded_service_runs_workflows_with_retries_and_delays(tmp_path, recorder) -> None:
    port = free_port()
    env = {"DATABASE_URL": "", "REDIS_URL": "", "CELERY_BROKER_URL": "", "ENV": "development",
           "INTERNAL_API_KEY": "embedded-key-0123456789", "HTTP_STEP_ALLOWED_HOSTS": "127.0.0.1",
           "SCHEDULER_INTERVAL_SECONDS": "0.5"}  # fmt: skip
    argv = ["python", "-m", "automation", "--state-dir", str(tmp_path), "serve", "--host",
            "127.0.0.1", "--port", str(port), "--with-worker"]  # fmt: skip
    headers = {"X-Internal-API-Key": "embedded-key-0123456789", "X-Tenant-ID": "local"}
    flaky = f"/flaky/{uuid.uuid4().hex}/1"
    with run_server(argv, env=env, timeout=90) as server:
        base = f"http://127.0.0.1:{port}"
        detailed = httpx.get(f"{base}/health/detailed", timeout=10).json()
        assert detailed["checks"]["database"]["dialect"] == "sqlite"
        assert detailed["checks"]["broker"]["status"] == "healthy", detailed
        assert detailed["checks"]["broker"]["transport"] == "sqla+sqlite"
        workflow = httpx.post(f"{base}/api/v1/workflows", headers=headers, timeout=10, json={
            "name": "embedded",
            "steps": [
                {"id": "call", "type": "http_request", "config": {"url": recorder.url(flaky)},
                 "retry": {"max_attempts": 3, "delay_seconds": 0.2}},
                {"id": "pause", "type": "delay", "config": {"seconds": 1}},
                {"id": "done", "type": "data_transform",
                 "config": {"output": "{{ steps.call.output.body.call }}"}},
            ]}).json()  # fmt: skip
        run = httpx.post(f"{base}/api/v1/workflows/{workflow['id']}/execute", headers=headers,
                         timeout=10).json()  # fmt: skip
        deadline = time.monotonic() + 40
        body: dict = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{base}/api/v1/workflows/executions/{run['id']}", headers=headers,
                             timeout=10).json()  # fmt: skip
            if body["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert body["status"] == "succeeded", body
        assert body["steps"][0]["attempts"] == 2 and body["steps"][2]["output"] == 2
        assert (tmp_path / "automation.db").exists() and (tmp_path / "broker.db").exists()
    assert server.process.returncode == 0, server.log[-2000:]
