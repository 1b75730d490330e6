"""Workflow webhook tokens at rest (issue 16): only their SHA-256 is stored, the token is
shown once (create, rotation), GET/list show a ``***`` hint; migration 0416 hashes old
plaintext rows so their URLs keep working; access logs and server spans show ``***``
for the token in the path."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from automation import migrate
from automation.app import create_app
from automation.runtime import Runtime
from automation.settings import Settings
from mimeia.testing import free_port, run_server
from mimeia_telemetry.testing import OtlpReceiver

STEPS = [{"id": "x", "type": "data_transform", "config": {"output": "{{ n }}"}}]


def _body(trigger_type: str) -> dict[str, object]:
    return {"name": trigger_type, "trigger_type": trigger_type, "steps": STEPS}


def _sha(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


async def _webhook_workflow(client: httpx.AsyncClient, auth: dict[str, str]) -> dict:
    created = await client.post("/api/v1/workflows", headers=auth, json=_body("webhook"))
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_token_is_shown_once_stored_hashed_and_rotates(client, auth, runtime, caplog) -> None:
    caplog.set_level(logging.INFO, logger="automation.access")
    workflow = await _webhook_workflow(client, auth)
    url = httpx.URL(workflow["webhook_url"])
    token = url.path.rsplit("/", 1)[1]
    assert len(token) == 43
    hint = workflow["webhook_url_hint"]
    assert hint.endswith(f"/api/v1/hooks/workflows/{workflow['id']}/***")

    path = f"/api/v1/workflows/{workflow['id']}"
    got = await client.get(path, headers=auth)
    listed = await client.get("/api/v1/workflows", headers=auth)
    patched = await client.patch(path, headers=auth, json={"name": "renamed"})
    for answer in (got, listed, patched):
        assert answer.status_code == 200 and token not in answer.text
    assert got.json()["webhook_url"] is None and got.json()["webhook_url_hint"] == hint
    assert listed.json()["items"][0]["webhook_url_hint"] == hint

    async with runtime.database.session() as session:
        stored = (await session.execute(
            text("SELECT webhook_token FROM workflows WHERE id = :i"), {"i": workflow["id"]}
        )).scalar_one()  # fmt: skip
    assert stored == _sha(token) and token not in stored

    fired = await client.post(url.path, json={"n": 1})
    assert fired.status_code == 202, fired.text
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (wrong, stored, stored.removeprefix("sha256:"), "***"):  # the hash is no token
        miss = await client.post(f"/api/v1/hooks/workflows/{workflow['id']}/{bad}", json={})
        assert miss.status_code == 404, bad
    assert (await client.get(url.path)).status_code == 405

    rotated = await client.post(path + "/webhook-token", headers=auth)
    assert rotated.status_code == 200, rotated.text
    new_path = httpx.URL(rotated.json()["webhook_url"]).path
    assert new_path != url.path and rotated.json()["webhook_url_hint"] == hint
    assert (await client.post(url.path, json={})).status_code == 404
    assert (await client.post(new_path, json={})).status_code == 202
    new_token = new_path.rsplit("/", 1)[1]
    assert new_token not in (await client.get(path, headers=auth)).text

    manual = await client.post("/api/v1/workflows", headers=auth, json=_body("manual"))
    refused = await client.post(f"/api/v1/workflows/{manual.json()['id']}/webhook-token",
                                headers=auth)  # fmt: skip
    assert refused.status_code == 409 and "trigger_type" in refused.json()["detail"]

    access = [r.getMessage() for r in caplog.records if r.name == "automation.access"]
    hook_lines = [line for line in access if "/hooks/workflows/" in line]
    assert len(hook_lines) == 8, access
    assert all(f"/api/v1/hooks/workflows/{workflow['id']}/*** " in x for x in hook_lines)
    assert not any(t in line for line in access for t in (token, new_token, wrong))


@pytest.fixture
def private_database(postgres_url: str) -> Iterator[str]:
    """A database of its own, migrated to 0410 (plaintext tokens) by the test."""
    name = f"automation_tokens_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _sql(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


@pytest.fixture
async def migrated_client(
    private_database: str, service_env: dict[str, str]
) -> AsyncIterator[tuple[str, str, str]]:
    """An old (0410) database holding a workflow whose token is plaintext, then upgraded."""
    await asyncio.to_thread(migrate.upgrade, private_database, "0410")
    tenant, workflow_id, token = "t-old", str(uuid.uuid4()), "old-plain-token-" + "x" * 27
    await _sql(private_database, "INSERT INTO tenants (id, name, created_at) "
               "VALUES ($1, $1, now())", tenant)  # fmt: skip
    await _sql(private_database,
               "INSERT INTO workflows (id, tenant_id, name, description, trigger_type, "
               "trigger_config, steps, enabled, version, webhook_token, created_at, updated_at) "
               "VALUES ($1, $2, 'old', '', 'webhook', '{}', $3, true, 1, $4, now(), now())",
               workflow_id, tenant, json.dumps(STEPS), token)  # fmt: skip
    await asyncio.to_thread(migrate.upgrade, private_database)
    yield private_database, workflow_id, token


async def test_migration_hashes_plaintext_tokens_and_old_urls_keep_working(
    migrated_client: tuple[str, str, str], service_env: dict[str, str]
) -> None:
    url, workflow_id, token = migrated_client
    [row] = await _sql(url, "SELECT webhook_token FROM workflows WHERE id = $1", workflow_id)
    assert row["webhook_token"] == _sha(token)

    env = {**service_env, "DATABASE_URL": url}
    runtime = Runtime.from_settings(Settings(**{k.lower(): v for k, v in env.items()}))  # type: ignore[arg-type]
    try:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            old = await client.post(f"/api/v1/hooks/workflows/{workflow_id}/{token}", json={})
            assert old.status_code == 202, old.text
            shown = await client.get(f"/api/v1/workflows/{workflow_id}",
                                     headers={"X-Internal-API-Key": env["INTERNAL_API_KEY"],
                                              "X-Tenant-ID": "t-old"})  # fmt: skip
            assert shown.status_code == 200 and token not in shown.text
    finally:
        await runtime.close()

    await asyncio.to_thread(migrate.upgrade, url)  # again: already hashed rows stay as they are
    [row] = await _sql(url, "SELECT webhook_token FROM workflows WHERE id = $1", workflow_id)
    assert row["webhook_token"] == _sha(token)
    # down cannot restore the token: the hash is cleared, the webhook must be re-issued
    await asyncio.to_thread(migrate.downgrade, url, "0410")
    [row] = await _sql(url, "SELECT webhook_token FROM workflows WHERE id = $1", workflow_id)
    assert row["webhook_token"] is None


def test_served_access_log_and_server_span_hide_the_token(
    service_env: dict[str, str], redis_prefix: str
) -> None:
    """The real ``automation serve`` exporting over OTLP: its JSON access log line and
    the webhook request's server span carry ``***`` where the token was."""
    receiver = OtlpReceiver()
    port = free_port()
    env = {**service_env, "CELERY_KEY_PREFIX": f"{redis_prefix}tokens-{uuid.uuid4().hex[:6]}:",
           "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}  # fmt: skip
    argv = ["python", "-m", "automation", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--no-migrate"]  # fmt: skip
    auth = {
        "X-Internal-API-Key": env["INTERNAL_API_KEY"],
        "X-Tenant-ID": f"t-{uuid.uuid4().hex[:8]}",
    }
    try:
        with (
            run_server(argv, env=env, timeout=60) as api,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
        ):
            created = http.post("/api/v1/workflows", headers=auth, json=_body("webhook"))
            hook = httpx.URL(created.json()["webhook_url"]).path
            token = hook.rsplit("/", 1)[1]
            assert http.post(hook, json={"n": 2}).status_code == 202
            redacted = hook.removesuffix(token) + "***"

            def served() -> list:
                return [s for s in receiver.spans if s.attribute("url.path") == redacted]

            deadline = time.monotonic() + 20
            while not served() and time.monotonic() < deadline:
                time.sleep(0.1)
            [span] = served()
            assert span.name == "POST /api/v1/hooks/workflows/{workflow_id}/{token}"
            assert span.attribute("http.route") == span.name.split(" ", 1)[1]
            assert all(token not in str(v) for s in receiver.spans for v in s.attributes.values())
            assert not any(token in s.name for s in receiver.spans)
            deadline = time.monotonic() + 10
            while f"POST {redacted} 202" not in api.log and time.monotonic() < deadline:
                time.sleep(0.1)
            assert f"POST {redacted} 202" in api.log, api.log[-2000:]
            assert token not in api.log
    finally:
        receiver.close()
