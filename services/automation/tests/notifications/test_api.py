"""The notification API, the sending loop and the action type, against PostgreSQL,
the SMTP sink and the SMS sink."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from automation.celery_app import celery_app, configure_celery
from automation.notifications.actions import NOTIFICATION_ACTION
from automation.notifications.config import NotificationSettings
from automation.notifications.delivery import NotificationDispatcher
from automation.registry import ActionContext, ActionError, registry
from automation.runtime import Runtime
from automation.settings import Settings
from automation.sinks.sms import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from mimeia.testing import free_port

WELCOME = {
    "name": "welcome_email",
    "channel": "email",
    "subject": "Welcome to {{ app_name }}, {{ user_name }}!",
    "body": "Hi {{ user_name }}, welcome to {{ app_name }}.",
    "html_body": "<p>Hi <b>{{ user_name }}</b></p>",
}
VERIFICATION = {"name": "verification_sms", "channel": "sms", "body": "Code: {{ code }}"}
SEED_EMAIL = {
    "to": ["user@example.com"],
    "subject": "Welcome!",
    "body": "Welcome to our platform!",
    "template_id": "welcome_email",
    "template_data": {"user_name": "John Doe", "app_name": "PyAirtable"},
}
SEED_SMS = {
    "to": ["+1234567890"],
    "message": "Your verification code is 123456",
    "template_id": "verification_sms",
}


@pytest.fixture
def notification_env(
    monkeypatch: pytest.MonkeyPatch, smtp_sink: Any, sms_sink_url: str
) -> NotificationSettings:
    env = {
        "SMTP_HOST": smtp_sink.host, "SMTP_PORT": str(smtp_sink.port), "SMTP_USE_TLS": "false",
        "SMTP_FROM": "robot@mimeia.dev", "SMS_PROVIDERS": "twilio,console",
        "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_BASE_URL": sms_sink_url,
        "NOTIFICATION_RETRY_JITTER": "0",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return NotificationSettings()


class Clock:
    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped


async def _templates(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for template in (WELCOME, VERIFICATION):
        response = await client.post("/api/v1/notifications/templates", json=template, headers=auth)
        assert response.status_code == 201, response.text


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 202, response.text
    return [n["id"] for n in response.json()["notifications"]]


async def test_seed_email_arrives_at_the_smtp_sink(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime,
    notification_env: NotificationSettings, smtp_sink: Any,
) -> None:  # fmt: skip
    await _templates(client, auth)
    response = await client.post("/api/v1/notifications/email", json=SEED_EMAIL, headers=auth)
    ids = _ids(response)
    assert response.json()["status"] == "queued"
    dispatcher = NotificationDispatcher(runtime.database, notification_env)
    assert await dispatcher.run_due(ids=ids) == ["sent"]
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    assert got["status"] == "sent" and got["provider"] == "smtp" and got["attempts"] == 1
    mail = httpx.get(f"{smtp_sink.web_url}/api/messages", timeout=5).json()["messages"]
    arrived = next(m for m in mail if m["message_id"] == got["provider_message_id"])
    # inline subject and body override the template's; the html body comes from it
    assert arrived["subject"] == "Welcome!"
    assert arrived["text"].strip() == "Welcome to our platform!"
    assert arrived["html"].strip() == "<p>Hi <b>John Doe</b></p>"
    assert arrived["rcpt_to"] == ["user@example.com"]


async def test_template_only_email_with_attachment(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime,
    notification_env: NotificationSettings, smtp_sink: Any,
) -> None:  # fmt: skip
    await _templates(client, auth)
    body = {"to": "a@example.com", "template_id": "welcome_email",
            "template_data": {"user_name": "<Ana>", "app_name": "Mimeia"},
            "attachments": [{"filename": "hello.txt",
                             "content_base64": base64.b64encode(b"hello").decode()}]}  # fmt: skip
    ids = _ids(await client.post("/api/v1/notifications/email", json=body, headers=auth))
    await NotificationDispatcher(runtime.database, notification_env).run_due(ids=ids)
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    mail = httpx.get(f"{smtp_sink.web_url}/api/messages", timeout=5).json()["messages"]
    arrived = next(m for m in mail if m["message_id"] == got["provider_message_id"])
    assert arrived["subject"] == "Welcome to Mimeia, <Ana>!"
    assert "&lt;Ana&gt;" in arrived["html"]
    assert arrived["attachments"][0]["filename"] == "hello.txt"


async def test_seed_sms_arrives_at_the_sms_sink(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime,
    notification_env: NotificationSettings, sms_sink_url: str,
) -> None:  # fmt: skip
    await _templates(client, auth)
    ids = _ids(await client.post("/api/v1/notifications/sms", json=SEED_SMS, headers=auth))
    assert await NotificationDispatcher(runtime.database, notification_env).run_due(ids=ids) == [
        "sent"
    ]
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    assert got["provider"] == "twilio" and got["provider_message_id"].startswith("SM")
    listed = httpx.get(f"{sms_sink_url}/api/messages", timeout=5).json()["messages"]
    arrived = next(m for m in listed if m["sid"] == got["provider_message_id"])
    assert arrived["body"] == "Your verification code is 123456"


async def test_failures_retry_with_backoff_then_send(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime,
    notification_env: NotificationSettings,
) -> None:  # fmt: skip
    body = {"to": ["b@example.com"], "subject": "s", "body": "t"}
    ids = _ids(await client.post("/api/v1/notifications/email", headers=auth, json=body))
    clock = Clock()
    down = NotificationSettings(smtp_port=free_port(), smtp_use_tls=False, smtp_timeout=2)
    failing = NotificationDispatcher(runtime.database, down, clock=clock)
    assert await failing.run_due(ids=ids) == ["retrying"]
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    assert got["status"] == "retrying" and "connect" in got["last_error"].lower()
    due = datetime.fromisoformat(got["next_attempt_at"])
    assert (due - clock()).total_seconds() == pytest.approx(30, abs=2)
    assert await failing.run_due(ids=ids) == []  # not due yet
    clock.skipped = timedelta(seconds=31)
    working = NotificationDispatcher(runtime.database, notification_env, clock=clock)
    assert await working.run_due(ids=ids) == ["sent"]
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    assert got["attempts"] == 2 and got["last_error"] is None


async def test_permanent_failure_is_not_retried(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime,
    notification_env: NotificationSettings,
) -> None:  # fmt: skip
    # Twilio's magic number for an unsubscribed recipient
    body = {"to": ["+15005550004"], "message": "hola"}
    ids = _ids(await client.post("/api/v1/notifications/sms", json=body, headers=auth))
    assert await NotificationDispatcher(runtime.database, notification_env).run_due(ids=ids) == [
        "failed"
    ]
    got = (await client.get(f"/api/v1/notifications/{ids[0]}", headers=auth)).json()
    assert "unsubscribed" in got["last_error"]


async def test_templates_are_validated_on_save(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    bad = {"name": "broken", "subject": "{{ unclosed", "body": "{% if %}"}
    response = await client.post("/api/v1/notifications/templates", json=bad, headers=auth)
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["detail"]["problems"]}
    assert fields == {"subject", "body"}
    await _templates(client, auth)
    duplicate = await client.post("/api/v1/notifications/templates", json=WELCOME, headers=auth)
    assert duplicate.status_code == 409
    got = (await client.get("/api/v1/notifications/templates/welcome_email", headers=auth)).json()
    assert got["variables"] == ["app_name", "user_name"]
    change = {"body": "Hola {{ user.first_name }}"}
    patched = await client.patch(
        "/api/v1/notifications/templates/welcome_email", json=change, headers=auth
    )
    assert patched.json()["variables"] == ["app_name", "user", "user_name"]
    preview = await client.post("/api/v1/notifications/templates/welcome_email/preview",
                                json={"template_data": {"user_name": "A", "app_name": "B",
                                                        "user": {"first_name": "Ana"}}},
                                headers=auth)  # fmt: skip
    assert preview.json()["body"] == "Hola Ana"


async def test_missing_variable_fails_the_send_and_stores_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], notification_env: NotificationSettings
) -> None:
    await _templates(client, auth)
    body = {"to": ["a@example.com"], "template_id": "welcome_email",
            "template_data": {"user_name": "Ana"}}  # fmt: skip
    response = await client.post("/api/v1/notifications/email", json=body, headers=auth)
    assert response.status_code == 422
    assert "app_name" in response.text and "subject" in response.text
    assert (await client.get("/api/v1/notifications", headers=auth)).json() == []


async def test_idempotency_and_recipient_rate_limit(
    client: httpx.AsyncClient, auth: dict[str, str], notification_env: NotificationSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NOTIFICATION_RATE_LIMIT_PER_RECIPIENT", "2/hour")
    body = {"to": ["+573001112233"], "message": "hola"}
    headers = {**auth, "Idempotency-Key": "otp-1"}
    first = await client.post("/api/v1/notifications/sms", json=body, headers=headers)
    again = await client.post("/api/v1/notifications/sms", json=body, headers=headers)
    assert _ids(first) == _ids(again) and again.json()["duplicate"] is True
    limited = await client.post("/api/v1/notifications/sms", json=body, headers=auth)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert len((await client.get("/api/v1/notifications", headers=auth)).json()) == 1


async def test_tenant_isolation(
    client: httpx.AsyncClient, auth: dict[str, str],
    internal_headers: Callable[[str], dict[str, str]], notification_env: NotificationSettings,
) -> None:  # fmt: skip
    await _templates(client, auth)
    ids = _ids(await client.post("/api/v1/notifications/email", json=SEED_EMAIL, headers=auth))
    other = internal_headers("tenant-other-notify")
    assert (await client.get(f"/api/v1/notifications/{ids[0]}", headers=other)).status_code == 404
    path = "/api/v1/notifications/templates/welcome_email"
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.delete(path, headers=other)).status_code == 404
    refused = await client.post("/api/v1/notifications/email", json=SEED_EMAIL, headers=other)
    assert refused.status_code == 422 and "template_id" in refused.text
    assert (await client.get("/api/v1/notifications", headers=other)).json() == []


async def test_a_notification_shows_the_message_as_rendered_to_its_tenant_only(
    client: httpx.AsyncClient, auth: dict[str, str],
    internal_headers: Callable[[str], dict[str, str]], notification_env: NotificationSettings,
) -> None:  # fmt: skip
    await _templates(client, auth)
    data = {"user_name": "Ada <script>", "app_name": "Mimeia"}
    mail = {"to": ["ada@example.com"], "template_id": "welcome_email", "template_data": data}
    [eid] = _ids(await client.post("/api/v1/notifications/email", json=mail, headers=auth))
    sms = {"to": ["+1234567890"], "template_id": "verification_sms",
           "template_data": {"code": "424242"}}  # fmt: skip
    [sid] = _ids(await client.post("/api/v1/notifications/sms", json=sms, headers=auth))
    detail = (await client.get(f"/api/v1/notifications/{eid}", headers=auth)).json()
    assert detail["subject"] == "Welcome to Mimeia, Ada <script>!"
    assert detail["body"] == "Hi Ada <script>, welcome to Mimeia."
    assert detail["html_body"] == "<p>Hi <b>Ada &lt;script&gt;</b></p>"  # autoescaped
    text = (await client.get(f"/api/v1/notifications/{sid}", headers=auth)).json()
    assert (text["body"], text["html_body"]) == ("Code: 424242", None)
    # lists stay lean; another tenant sees nothing
    listed = (await client.get("/api/v1/notifications", headers=auth)).json()
    assert listed and all("body" not in n for n in listed)
    other = internal_headers("tenant-other-rendered")
    assert (await client.get(f"/api/v1/notifications/{eid}", headers=other)).status_code == 404


@pytest.mark.parametrize(
    "path, body, field",
    [("email", {"to": [], "body": "x"}, "to"),
     ("email", {"to": ["not-an-email"], "body": "x"}, "to"),
     ("email", {"to": ["a@example.com"]}, "body"),
     ("email", {"to": ["a@example.com"], "body": "x", "attachments": [
         {"filename": "f", "content_base64": "@@@"}]}, "attachments"),
     ("email", {"to": ["a@example.com"], "template_id": "nope"}, "template_id"),
     ("email", {"to": ["a@example.com"], "template_id": "verification_sms"}, "template_id"),
     ("email", {"to": "a@example.com", "body": 5}, "body"),
     ("sms", {"to": ["12345"], "message": "x"}, "to"),
     ("sms", {"to": ["+1234567890"], "message": "x" * 1601}, "message"),
     ("sms", {"to": ["+1234567890"], "message": "x", "priority": "urgent"}, "priority"),
     ("sms", {"to": ["+1234567890"], "message": "{{ secret.__class__ }}",
              "template_data": {"secret": "x"}}, "body")],
)  # fmt: skip
async def test_bad_sends_name_the_field(
    client: httpx.AsyncClient, auth: dict[str, str], notification_env: NotificationSettings,
    path: str, body: dict[str, object], field: str,
) -> None:  # fmt: skip
    await _templates(client, auth)
    response = await client.post(f"/api/v1/notifications/{path}", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await client.get("/api/v1/notifications", headers=auth)).json() == []


async def test_notification_action_renders_from_the_event(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, runtime: Runtime,
    settings: Settings, notification_env: NotificationSettings, smtp_sink: Any,
) -> None:  # fmt: skip
    await _templates(client, auth)
    configure_celery(celery_app, settings)
    assert registry.get("notification") is NOTIFICATION_ACTION
    # the seed's rule action, with the engine having rendered "to" from the event
    config = {"type": "notification", "notification_type": "email",
              "template": "welcome_email", "to": "ana@example.com"}  # fmt: skip
    assert NOTIFICATION_ACTION.problems(config) == []
    ctx = ActionContext(tenant_id=tenant, settings=settings, database=runtime.database,
                        source="rule", run_id="run-1", step_id="action-0",
                        scope={"user": {"email": "ana@example.com"}, "user_name": "Ana",
                               "app_name": "Mimeia"})  # fmt: skip
    out = await NOTIFICATION_ACTION.run(ctx, config)
    again = await NOTIFICATION_ACTION.run(ctx, config)  # a re-run does not send twice
    assert out == again
    assert await NotificationDispatcher(runtime.database, notification_env).run_due(
        ids=out["notification_ids"]
    ) == ["sent"]
    assert NOTIFICATION_ACTION.problems({"to": "x"}) != []
    with pytest.raises(ActionError, match="app_name"):
        bad_ctx = ActionContext(tenant_id=tenant, settings=settings, database=runtime.database,
                                source="rule", run_id="run-2", step_id="action-0",
                                scope={"user_name": "Ana"})  # fmt: skip
        await NOTIFICATION_ACTION.run(bad_ctx, config)
