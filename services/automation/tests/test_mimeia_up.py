"""The automation service exactly as `mimeia up` starts it (the registered specs, the
supervisor's own start/stop): SQLite data and broker, in-process worker, and email,
SMS and webhooks actually delivered to the local sinks and a receiver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from automation.db import check_sqlite_version
from automation.webhooks.testing import Receiver, Reply
from mimeia.services import discover_services, order_by_dependencies
from mimeia.supervisor import Running, start_all, stop_all
from mimeia.testing import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "mimeia-up-key-0123456789"
HEADERS = {"X-Internal-API-Key": KEY, "X-Tenant-ID": "local"}
NAMES = ("automation", "smtp-sink", "sms-sink")


def _poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got):
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.2)


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    ports = {name: free_port() for name in NAMES} | {"smtp-web": free_port()}
    for name in NAMES:
        monkeypatch.setenv(f"MIMEIA_{name.upper().replace('-', '_')}_PORT", str(ports[name]))
    monkeypatch.setenv("MIMEIA_SMTP_SINK_WEB_PORT", str(ports["smtp-web"]))
    # the embedded defaults, as on a developer machine with nothing configured
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        monkeypatch.setenv(name, "")
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_USE_TLS", "SMS_PROVIDERS", "TWILIO_BASE_URL",
                 "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENV", "development")
    monkeypatch.setenv("INTERNAL_API_KEY", KEY)
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "0,1")
    monkeypatch.setenv("WEBHOOK_RETRY_JITTER", "0")
    monkeypatch.setenv("SCHEDULER_INTERVAL_SECONDS", "0.5")
    specs = order_by_dependencies([s for s in discover_services() if s.name in NAMES])
    assert [s.name for s in specs][-1] == "automation"  # the sinks come up first
    running: list[Running] = start_all(specs, tmp_path)
    try:
        yield ports
    finally:
        exits = stop_all(running)
    assert all(code == 0 for _, code in exits), exits
    assert (tmp_path / "automation" / "automation.db").exists()


def test_email_sms_and_webhook_reach_the_sinks_under_mimeia_up(stack: dict[str, int]) -> None:
    api = httpx.Client(base_url=f"http://127.0.0.1:{stack['automation']}", headers=HEADERS,
                       timeout=10)  # fmt: skip
    health = api.get("/health/detailed").json()["checks"]
    assert health["database"]["dialect"] == "sqlite" and health["broker"]["status"] == "healthy"

    email = {"to": ["ana@example.com"], "subject": "Hello {{ name }}", "body": "Hi {{ name }}",
             "template_data": {"name": "Ana"}}  # fmt: skip
    sms = {"to": ["+573001234567"], "message": "Code {{ code }}", "template_data": {"code": 42}}
    sent: dict[str, str] = {}
    for channel, body in (("email", email), ("sms", sms)):
        response = api.post(f"/api/v1/notifications/{channel}", json=body)
        assert response.status_code == 202, response.text
        sent[channel] = response.json()["notifications"][0]["id"]
    for channel, notification_id in sent.items():
        got = _poll(lambda i=notification_id: api.get(f"/api/v1/notifications/{i}").json(),
                    lambda n: n["status"] in ("sent", "failed"))  # fmt: skip
        assert got["status"] == "sent", got
        sent[channel] = got["provider_message_id"]

    inbox = httpx.get(f"http://127.0.0.1:{stack['smtp-web']}/api/messages", timeout=5).json()
    (mail,) = [m for m in inbox["messages"] if m["message_id"] == sent["email"]]
    assert mail["subject"] == "Hello Ana" and mail["rcpt_to"] == ["ana@example.com"]
    texts = httpx.get(f"http://127.0.0.1:{stack['sms-sink']}/api/messages", timeout=5).json()
    (text,) = [m for m in texts["messages"] if m["sid"] == sent["sms"]]
    assert text["to"] == "+573001234567" and text["body"] == "Code 42"

    # webhook claim/deliver/record on SQLite, including one retry after a 500
    receiver = Receiver()
    receiver.start()
    try:
        receiver.replies.append(Reply(500))
        endpoint = api.post("/api/v1/webhooks/endpoints",
                            json={"url": receiver.url(), "events": ["order.*"]}).json()  # fmt: skip
        queued = api.post("/api/v1/webhooks/deliver",
                          json={"event_type": "order.paid", "payload": {"id": 7}})  # fmt: skip
        assert queued.status_code == 202, queued.text
        message_id = queued.json()["message_id"]
        message = _poll(
            lambda: api.get(f"/api/v1/webhooks/messages/{message_id}").json(),
            lambda m: m["deliveries"][0]["status"] in ("succeeded", "failed"),
        )
        assert message["deliveries"][0]["status"] == "succeeded", message
        assert len(receiver.received) == 2
        last = receiver.received[-1]
        assert Webhook(endpoint["secret"]).verify(last.body, last.headers)["data"] == {"id": 7}
        attempts = api.get(f"/api/v1/webhooks/messages/{message_id}/attempts").json()
        assert sorted(a["status_code"] for a in attempts) == [200, 500], attempts
    finally:
        receiver.stop()


def test_sqlite_too_old_for_returning_is_refused_by_name() -> None:
    check_sqlite_version()  # the library this interpreter links is new enough
    with pytest.raises(RuntimeError, match=r"DATABASE_URL: SQLite 3\.34\.1 is too old"):
        check_sqlite_version((3, 34, 1))
