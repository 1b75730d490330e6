"""Delivery through a real ``automation worker`` process: the tasks the API queues,
retries picked up by the beat's sweep (never a long broker countdown), and email
reaching the SMTP sink."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from automation.webhooks.testing import Receiver, Reply
from mimeia.testing import ServerProcess, free_port, run_server


@pytest.fixture(scope="module")
def smtp_sink_ports() -> Iterator[tuple[int, int]]:
    port, web_port = free_port(), free_port()
    argv = ["python", "-m", "automation.sinks.smtp", "--port", str(port),
            "--web-port", str(web_port)]  # fmt: skip
    with run_server(argv):
        yield port, web_port


@pytest.fixture(scope="module")
def delivery_worker(
    service_env: dict[str, str], delivery_database: str, redis_prefix: str,
    smtp_sink_ports: tuple[int, int],
) -> Iterator[ServerProcess]:  # fmt: skip
    """One worker for this module, on the same database and broker prefix as ``settings``."""
    env = {
        **service_env,
        "DATABASE_URL": delivery_database,
        "CELERY_KEY_PREFIX": f"{redis_prefix}delivery-tests:",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8",
        "WEBHOOK_RETRY_SCHEDULE": "0,1,1",
        "WEBHOOK_RETRY_JITTER": "0",
        # every retry waits in the database for the sweep, none rides a countdown
        "WEBHOOK_MAX_COUNTDOWN_SECONDS": "0",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_sink_ports[0]),
        "SMTP_USE_TLS": "false",
    }
    argv = ["python", "-m", "automation", "worker", "-P", "threads", "-c", "4",
            "-n", f"delivery-{uuid.uuid4().hex[:8]}@%h", "--beat", "-l", "INFO"]  # fmt: skip
    with run_server(argv, ready_text=" ready.", env=env, timeout=90) as proc:
        yield proc


def _wait_for(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_worker_delivers_retries_from_the_database_and_sends_mail(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
    delivery_worker: ServerProcess, smtp_sink_ports: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8")
    created = await client.post(
        "/api/v1/webhooks/endpoints", headers=auth,
        json={"url": receiver.url(), "events": ["order.*"]},
    )  # fmt: skip
    secret = created.json()["secret"]
    receiver.replies.append(Reply(500))
    sent = await client.post("/api/v1/webhooks/deliver", headers=auth,
                             json={"event_type": "order.paid", "payload": {"id": 7}})  # fmt: skip
    assert sent.status_code == 202
    _wait_for(lambda: len(receiver.received) >= 2)
    first, second = receiver.received[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == sent.json()["message_id"]
    for got in (first, second):
        assert Webhook(secret).verify(got.body, got.headers)["data"] == {"id": 7}

    async def delivered() -> bool:
        message = await client.get(f"/api/v1/webhooks/messages/{sent.json()['message_id']}",
                                   headers=auth)  # fmt: skip
        return bool(message.json()["deliveries"][0]["status"] == "succeeded")

    deadline = time.monotonic() + 10
    while not await delivered():
        assert time.monotonic() < deadline, delivery_worker.log[-3000:]
        time.sleep(0.1)

    email = {"to": ["ops@example.com"], "subject": "Paid", "body": "Order {{ order }} paid",
             "template_data": {"order": 7}}  # fmt: skip
    mail = await client.post("/api/v1/notifications/email", headers=auth, json=email)
    notification_id = mail.json()["notifications"][0]["id"]
    deadline = time.monotonic() + 20
    while True:
        got = (await client.get(f"/api/v1/notifications/{notification_id}", headers=auth)).json()
        if got["status"] == "sent":
            break
        assert time.monotonic() < deadline, (got, delivery_worker.log[-3000:])
        time.sleep(0.1)
    inbox = httpx.get(f"http://127.0.0.1:{smtp_sink_ports[1]}/api/messages", timeout=5).json()
    assert any(m["message_id"] == got["provider_message_id"] and m["subject"] == "Paid"
               for m in inbox["messages"])  # fmt: skip


SEED_RULE = {
    "name": "Welcome Email Automation",
    "trigger": {"type": "event", "event_type": "user.created"},
    "conditions": [
        {"type": "field_check", "field": "user.email_verified", "operator": "equals",
         "value": True}
    ],
    "actions": [
        {"type": "notification", "notification_type": "email", "template": "welcome_email",
         "to": "{{user.email}}"}
    ],
}  # fmt: skip


async def test_seed_rule_sends_the_welcome_email(
    client: httpx.AsyncClient, auth: dict[str, str], delivery_worker: ServerProcess,
    smtp_sink_ports: tuple[int, int],
) -> None:  # fmt: skip
    template = {"name": "welcome_email", "subject": "Welcome!",
                "body": "Hi {{ user.name }}, your account {{ user.email }} is ready."}  # fmt: skip
    saved = await client.post("/api/v1/notifications/templates", json=template, headers=auth)
    assert saved.status_code == 201, saved.text
    rule = await client.post("/api/v1/automation/rules", json=SEED_RULE, headers=auth)
    assert rule.status_code == 201, rule.text
    address = f"new-{uuid.uuid4().hex[:6]}@example.com"
    for verified in (False, True):
        user = {"email": address, "name": "Ana", "email_verified": verified}
        event = {"event_type": "user.created", "data": {"user": user}}
        assert (await client.post("/api/v1/events", json=event, headers=auth)).status_code == 202

    def arrived() -> list[dict[str, object]]:
        inbox = httpx.get(f"http://127.0.0.1:{smtp_sink_ports[1]}/api/messages", timeout=5)
        return [m for m in inbox.json()["messages"] if m["rcpt_to"] == [address]]

    _wait_for(lambda: bool(arrived()), timeout=30)
    time.sleep(1)  # the unverified user's event had its chance too
    (mail,) = arrived()
    assert mail["subject"] == "Welcome!"
    assert str(mail["text"]).strip() == f"Hi Ana, your account {address} is ready."
