"""Settings, migrations, health, auth and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest
from sqlalchemy import inspect

from automation import migrate
from automation.auth import create_token
from automation.db import create_engine
from automation.settings import ConfigurationError, Settings
from mimeia.testing import free_port, run_server

TABLES = {
    "tenants",
    "workflows",
    "workflow_executions",
    "step_runs",
    "events",
    "automation_rules",
    "rule_executions",
}


def test_production_without_secrets_refuses_in_one_line(tmp_path) -> None:
    with pytest.raises(ConfigurationError) as err:
        Settings(env="production", state_dir=tmp_path)
    assert "INTERNAL_API_KEY" in str(err.value) and "JWT_SECRET_KEY" in str(err.value)
    proc = subprocess.run(
        [sys.executable, "-m", "automation", "serve", "--port", "1"],
        env={"ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ENV=production needs" in lines[0]


async def _tables(url: str) -> set[str]:
    engine = create_engine(migrate.async_database_url(url))
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_same_migrations_on_sqlite_up_down_up(sqlite_url: str) -> None:
    import asyncio

    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    assert await _tables(sqlite_url) >= TABLES
    await asyncio.to_thread(migrate.downgrade, sqlite_url, "base")
    assert not (TABLES & await _tables(sqlite_url))
    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    assert await _tables(sqlite_url) >= TABLES


async def test_migrations_on_postgres(migrated_postgres: str) -> None:
    assert await _tables(migrated_postgres) >= TABLES


async def test_health_routes_are_public_and_check_for_real(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json()["status"] == "healthy"
    assert (await client.get("/live")).json() == {"status": "alive"}
    assert (await client.get("/ready")).json() == {"status": "ready"}
    detailed = await client.get("/health/detailed")
    body = detailed.json()
    assert detailed.status_code == 200, body
    assert body["checks"]["database"]["dialect"] == "postgresql"
    assert body["checks"]["redis"]["status"] == "healthy"
    assert body["checks"]["broker"]["transport"] == "redis"
    info = (await client.get("/info")).json()
    assert {"http_request", "data_transform", "condition", "delay"} <= set(info["step_types"])


async def test_detailed_health_reports_a_dead_redis(settings: Settings) -> None:
    from automation.app import create_app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    broken = settings.model_copy(update={"redis_url": dead, "celery_broker_url": dead})
    app = create_app(broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/health/detailed")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"]["status"] == "unhealthy"
    assert body["checks"]["broker"]["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "healthy"


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/health", headers={"X-Request-ID": "bad id with spaces\n"})
    assert made.headers["x-request-id"] != "bad id with spaces\n"
    assert len(made.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        ({}, 401, "Bearer token or X-Internal-API-Key"),
        ({"X-Internal-API-Key": "wrong", "X-Tenant-ID": "a"}, 401, "X-Internal-API-Key"),
        ({"X-Internal-API-Key": "test-internal-key-0123456789"}, 401, "X-Tenant-ID"),
        (
            {"X-Internal-API-Key": "test-internal-key-0123456789", "X-Tenant-ID": "../x"},
            401,
            "X-Tenant-ID",
        ),
        ({"Authorization": "Basic abc"}, 401, "Bearer"),
        ({"Authorization": "Bearer not.a.jwt"}, 401, "token: not valid"),
    ],
)
async def test_bad_credentials_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, says: str
) -> None:
    response = await client.get("/api/v1/workflows", headers=headers)
    assert response.status_code == status
    assert says in response.json()["detail"]


async def test_tokens_expired_forged_or_lacking_scope(
    client: httpx.AsyncClient, bearer, jwt_secret: str
) -> None:
    expired = await client.get("/api/v1/workflows", headers=bearer("acme", expires_in=-10))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    forged = create_token("another-secret-entirely-0123456789", "u", "acme", ["*"])
    response = await client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    read_only = bearer("acme", ["workflows:read"])
    assert (await client.get("/api/v1/workflows", headers=read_only)).status_code == 200
    denied = await client.post("/api/v1/workflows", headers=read_only, json={})
    assert denied.status_code == 403 and "workflows:write" in denied.json()["detail"]
    no_tenant = create_token(jwt_secret, "u", "", ["*"])
    response = await client.get(
        "/api/v1/workflows", headers={"Authorization": f"Bearer {no_tenant}"}
    )
    assert response.status_code == 401 and "tenant" in response.json()["detail"]


async def test_internal_key_acts_for_the_named_tenant(
    client: httpx.AsyncClient, internal_headers
) -> None:
    response = await client.get("/api/v1/workflows", headers=internal_headers("svc-tenant"))
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_serve_prints_listening_and_stops_on_sigterm(service_env: dict[str, str]) -> None:
    port = free_port()
    with run_server(
        ["python", "-m", "automation", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=service_env,
        timeout=60,
    ) as server:
        assert server.ready_line == f"listening on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    assert server.process.returncode == 0


def test_each_message_lands_in_exactly_one_queue(settings, redis_url, redis_prefix) -> None:
    import redis

    from automation.celery_app import QUEUES, TASK_PROCESS_EVENT, create_celery, send

    prefix = f"{redis_prefix}routing-{uuid.uuid4().hex[:6]}:"
    app = create_celery(settings.model_copy(update={"celery_key_prefix": prefix}))
    send(app, TASK_PROCESS_EVENT, "event-1", queue="automation")
    send(app, "automation.run_execution", "execution-1", queue="critical")
    client = redis.Redis.from_url(redis_url)
    lengths = {q: client.llen(f"{prefix}{q}") for q in QUEUES}
    client.close()
    app.close()
    assert lengths == {
        "critical": 1,
        "workflow": 0,
        "automation": 1,
        "notification": 0,
        "webhook": 0,
    }


async def test_production_hides_the_docs(settings) -> None:
    from automation.app import create_app

    production = settings.model_copy(update={"env": "production"})
    app = create_app(production)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:  # fmt: skip
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
        assert (await client.get("/health")).status_code == 200


def test_beat_and_migrate_commands(service_env: dict[str, str], tmp_path) -> None:
    migrated = subprocess.run(
        [sys.executable, "-m", "automation", "migrate"],
        env={**__import__("os").environ, **service_env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert migrated.returncode == 0 and "database at revision head" in migrated.stdout
    env = {**service_env, "STATE_DIR": str(tmp_path)}
    with run_server(["python", "-m", "automation", "beat", "-l", "INFO"], env=env,
                    ready_text="beat: Starting", timeout=60) as beat:  # fmt: skip
        assert "beat: Starting" in beat.ready_line
        # The scheduler opens its schedule file once it runs; wait for it.
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob("celerybeat-schedule*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(tmp_path.glob("celerybeat-schedule*")), beat.log[-2000:]


def test_celery_monitoring_events_follow_the_setting() -> None:
    from automation.celery_app import create_celery

    quiet = create_celery(Settings(celery_broker_url="redis://127.0.0.1:6379/0"))
    assert quiet.conf.worker_send_task_events is False
    assert quiet.conf.task_send_sent_event is False
    loud = create_celery(
        Settings(celery_broker_url="redis://127.0.0.1:6379/0", celery_task_events=True)
    )
    assert loud.conf.worker_send_task_events is True and loud.conf.task_send_sent_event is True
