"""WhatsApp in the automation service: per-tenant settings (sealed), Meta's webhook
(handshake, signature, events recorded once), the whatsapp step's checks, and the whole
loop under real processes (emulator -> event -> rule -> workflow -> template reply)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
USER = "573001234567"
PNID = "106540352242922"


def _secrets() -> dict[str, str]:
    return {
        "phone_number_id": PNID,
        "access_token": f"EAAG{uuid.uuid4().hex}",
        "app_secret": uuid.uuid4().hex,
        "verify_token": uuid.uuid4().hex,
    }


def _payload(
    *, messages: list[Any] | None = None, statuses: list[Any] | None = None, pnid: str = PNID
) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
    }
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body).encode()


def _signed(raw: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture
async def configured(client, auth, tenant) -> dict[str, str]:
    values = _secrets()
    put = await client.put("/api/v1/integrations/whatsapp/settings", headers=auth, json=values)
    assert put.status_code == 204, put.text
    return values


async def _events(client, auth, event_type: str) -> list[dict[str, Any]]:
    listed = await client.get("/api/v1/events", headers=auth, params={"event_type": event_type})
    return listed.json()["items"]  # type: ignore[no-any-return]


async def test_settings_are_validated_and_secrets_never_shown(client, auth) -> None:
    for wrong in ("12ab", "1234", "12345\n", "1" * 41):
        bad = {**_secrets(), "phone_number_id": wrong}
        answer = await client.put("/api/v1/integrations/whatsapp/settings", headers=auth, json=bad)
        assert answer.status_code == 422 and "phone_number_id" in answer.text, wrong
    values = _secrets()
    await client.put("/api/v1/integrations/whatsapp/settings", headers=auth, json=values)
    shown = (await client.get("/api/v1/integrations/whatsapp/settings", headers=auth)).json()
    assert shown["settings"] == {"phone_number_id": PNID}
    assert shown["secrets_set"] == ["access_token", "app_secret", "verify_token"]
    assert values["access_token"] not in json.dumps(shown)


async def test_handshake_answers_the_challenge_only_for_the_verify_token(
    client, tenant, configured
) -> None:
    url = f"/api/v1/integrations/whatsapp/{tenant}/webhook"
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": configured["verify_token"],
        "hub.challenge": "1158201444",
    }
    answer = await client.get(url, params=good)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert (await client.get(url, params={**good, "hub.verify_token": "nope"})).status_code == 403
    unknown = f"/api/v1/integrations/whatsapp/t-{uuid.uuid4().hex[:10]}/webhook"
    assert (await client.get(unknown, params=good)).status_code == 403


async def test_webhook_events_are_signed_and_recorded_once(
    client, auth, tenant, configured
) -> None:
    url = f"/api/v1/integrations/whatsapp/{tenant}/webhook"
    message = {
        "from": USER,
        "id": "wamid.IN1",
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": "hola"},
    }
    raw = _payload(messages=[message])
    assert (await client.post(url, content=raw, headers=_signed(raw, "wrong"))).status_code == 403
    assert (await client.post(url, content=raw)).status_code == 403
    huge = b" " * (1024 * 1024 + 1)
    assert (
        await client.post(url, content=huge, headers=_signed(huge, configured["app_secret"]))
    ).status_code == 413
    answers = [
        await client.post(url, content=raw, headers=_signed(raw, configured["app_secret"]))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicates"] for a in answers] == [0, 1, 1]
    [event] = await _events(client, auth, "whatsapp.message.received")
    assert event["data"]["text"] == "hola" and event["data"]["from"] == USER
    assert event["data"]["profile_name"] == "Ana" and event["source"] == "whatsapp"

    statuses = [
        {"id": "wamid.OUT", "status": s, "timestamp": "1749416390", "recipient_id": USER}
        for s in ("sent", "delivered")
    ]
    raw = _payload(statuses=statuses)
    for _ in range(2):
        await client.post(url, content=raw, headers=_signed(raw, configured["app_secret"]))
    found = await _events(client, auth, "whatsapp.message.status")
    assert sorted(e["data"]["status"] for e in found) == ["delivered", "sent"]

    other = _payload(messages=[{**message, "id": "wamid.OTHER"}], pnid="999999999")
    answer = await client.post(url, content=other, headers=_signed(other, configured["app_secret"]))
    assert answer.json()["events"] == []  # another number's traffic is not this tenant's


async def test_step_config_is_checked_naming_the_field(client, auth) -> None:
    cases = [
        ({"kind": "text", "to": "+57 300 123", "body": "hi"}, "config.to"),
        ({"kind": "text", "to": USER, "body": ""}, "config.body"),
        ({"kind": "text", "to": USER, "body": "x" * 4097}, "config.body"),
        (
            {"kind": "media", "to": USER, "media_kind": "gif", "link": "https://x.co/a"},
            "config.media_kind",
        ),
        (
            {"kind": "template", "to": USER, "template": "t", "language": "es", "parameters": [""]},
            "config.parameters",
        ),
        ({"kind": "fax", "to": USER}, "config.kind"),
    ]
    for config, field in cases:
        answer = await client.post(
            "/api/v1/workflows",
            headers=auth,
            json={"name": "bad", "steps": [{"id": "s", "type": "whatsapp", "config": config}]},
        )
        assert answer.status_code == 422, (config, answer.text)
        assert field in answer.text, (field, answer.text)


async def test_an_unconfigured_tenant_cannot_send(client, auth, worker, wait_execution) -> None:
    workflow = (
        await client.post(
            "/api/v1/workflows",
            headers=auth,
            json={
                "name": "no creds",
                "steps": [
                    {
                        "id": "s",
                        "type": "whatsapp",
                        "config": {"kind": "text", "to": USER, "body": "hola"},
                    }
                ],
            },
        )
    ).json()
    run = (await client.post(f"/api/v1/workflows/{workflow['id']}/execute", headers=auth)).json()
    done = await wait_execution(client, auth, run["id"])
    assert done["status"] == "failed"
    assert "not configured for this tenant" in json.dumps(done)


def _wait(fetch: Any, done: Any, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.2)


@pytest.mark.slow
def test_hola_fires_a_rule_whose_workflow_replies_with_a_delivered_template(
    tmp_path: Path,
) -> None:
    wa_port, port = free_port(), free_port()
    tenant, key = "local", "embedded-key-0123456789"
    headers = {"X-Internal-API-Key": key, "X-Tenant-ID": tenant}
    env = {
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "ENV": "development",
        "INTERNAL_API_KEY": key,
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
        "WHATSAPP_API_URL": f"http://127.0.0.1:{wa_port}",
    }
    emulator = [
        "python",
        "-m",
        "mimeiapify.testing.whatsapp",
        "--host",
        "127.0.0.1",
        "--port",
        str(wa_port),
        "--deliver-seconds",
        "0.2",
    ]
    service = [
        "python",
        "-m",
        "automation",
        "--state-dir",
        str(tmp_path),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--with-worker",
    ]
    with run_server(emulator), run_server(service, env=env, timeout=90) as server:
        wa, api = f"http://127.0.0.1:{wa_port}", f"http://127.0.0.1:{port}"
        number = httpx.post(f"{wa}/_emulator/numbers", json={}, timeout=10).json()
        httpx.post(
            f"{wa}/_emulator/numbers/{number['phone_number_id']}/templates",
            timeout=10,
            json={
                "name": "order_reply",
                "language": "es",
                "body": "Hola {{1}}, ya vimos tu mensaje",
            },
        ).raise_for_status()
        put = httpx.put(
            f"{api}/api/v1/integrations/whatsapp/settings",
            headers=headers,
            json={
                key: number[key]
                for key in ("phone_number_id", "access_token", "app_secret", "verify_token")
            },
            timeout=10,
        )
        assert put.status_code == 204, put.text
        hook = f"{api}/api/v1/integrations/whatsapp/{tenant}/webhook"
        patched = httpx.patch(
            f"{wa}/_emulator/numbers/{number['phone_number_id']}",
            timeout=15,
            json={"callback_url": hook},
        )  # the handshake runs against us
        assert patched.status_code == 200, patched.text

        workflow = httpx.post(
            f"{api}/api/v1/workflows",
            headers=headers,
            timeout=10,
            json={
                "name": "reply to hola",
                "steps": [
                    {
                        "id": "reply",
                        "type": "whatsapp",
                        "config": {
                            "kind": "template",
                            "to": "{{ input.from }}",
                            "template": "order_reply",
                            "language": "es",
                            "parameters": ["{{ input.profile_name }}"],
                        },
                    }
                ],
            },
        ).json()
        rule = httpx.post(
            f"{api}/api/v1/automation/rules",
            headers=headers,
            timeout=10,
            json={
                "name": "hola",
                "trigger": {"type": "event", "event_type": "whatsapp.message.received"},
                "conditions": [
                    {"type": "field_check", "field": "text", "operator": "equals", "value": "hola"}
                ],
                "actions": [{"type": "run_workflow", "workflow_id": workflow["id"]}],
            },
        )
        assert rule.status_code == 201, rule.text

        inbound = httpx.post(
            f"{wa}/_emulator/inbound",
            timeout=15,
            json={
                "phone_number_id": number["phone_number_id"],
                "from": USER,
                "name": "Ana",
                "text": "hola",
                "deliveries": 2,
            },
        ).json()  # Meta redelivers; recorded once
        assert inbound["deliveries"] == [200, 200]

        def replies() -> list[dict[str, Any]]:
            sent = httpx.get(f"{wa}/_emulator/messages", timeout=10).json()["data"]
            return [s for s in sent if s["type"] == "template"]

        [reply] = _wait(replies, lambda found: found and found[0]["status"] == "delivered")
        assert reply["to"] == USER and reply["history"] == ["sent", "delivered"]
        assert reply["body"]["template"]["components"] == [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}
        ]
        received = httpx.get(
            f"{api}/api/v1/events",
            headers=headers,
            timeout=10,
            params={"event_type": "whatsapp.message.received"},
        ).json()
        assert received["total"] == 1
        statuses = _wait(
            lambda: httpx.get(
                f"{api}/api/v1/events",
                headers=headers,
                timeout=10,
                params={"event_type": "whatsapp.message.status"},
            ).json(),
            lambda found: found["total"] >= 2,
        )
        assert {e["data"]["status"] for e in statuses["items"]} == {"sent", "delivered"}
    assert server.process.returncode == 0, server.log[-2000:]
