"""The webhook API and the delivery loop against PostgreSQL and a loopback receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from automation.celery_app import celery_app, configure_celery
from automation.delivery.ratelimit import DeliveryLimiter
from automation.delivery.retry import RetrySchedule
from automation.models import Event
from automation.registry import ActionContext, ActionError, registry
from automation.runtime import Runtime
from automation.settings import Settings
from automation.webhooks.actions import WEBHOOK_ACTION
from automation.webhooks.config import WebhookSettings
from automation.webhooks.delivery import Dispatcher
from automation.webhooks.models import WebhookDelivery
from automation.webhooks.sender import WebhookSender
from automation.webhooks.tasks import emit_disabled_event
from automation.webhooks.testing import Receiver, Reply

SEED_DELIVER = {
    "event_type": "workflow.completed",
    "payload": {"workflow_id": "123", "status": "completed"},
}


class Clock:
    """Real time plus a skip the test controls (rows the API writes use real time)."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    @property
    def now(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, when: datetime) -> None:
        self.skipped += max(timedelta(0), when - self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hook_settings(monkeypatch: pytest.MonkeyPatch) -> WebhookSettings:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8")
    monkeypatch.setenv("WEBHOOK_RETRY_JITTER", "0")
    return WebhookSettings()


@pytest.fixture
async def dispatcher(
    runtime: Runtime, hook_settings: WebhookSettings, clock: Clock
) -> AsyncIterator[Dispatcher]:
    limiter = DeliveryLimiter()
    async with WebhookSender(hook_settings.address_policy(), timeout=3) as sender:

        async def gate(endpoint):  # type: ignore[no-untyped-def]
            return await limiter.per_second(endpoint.rate_limit, endpoint.id)

        yield Dispatcher(
            runtime.database, sender, hook_settings, clock=clock, rate_gate=gate,
            on_endpoint_disabled=emit_disabled_event(runtime.database, runtime.send),
        )  # fmt: skip


async def _endpoint(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, **extra: object
) -> dict[str, object]:
    body = {"name": "External System Webhook", "url": receiver.url(),
            "events": ["workflow.completed", "notification.sent"],
            "secret": "webhook_secret_key", **extra}  # fmt: skip
    response = await client.post("/api/v1/webhooks/endpoints", json=body, headers=auth)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_seed_examples_deliver_a_verifiable_webhook(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    assert str(endpoint["secret"]).startswith("whsec_")
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["endpoints"] == 1
    outcomes = await dispatcher.run_due(message_id=sent.json()["message_id"])
    assert [o.status for o in outcomes] == ["succeeded"]
    (got,) = receiver.received
    body = Webhook(str(endpoint["secret"])).verify(got.body, got.headers)
    assert body["type"] == "workflow.completed"
    assert body["data"] == SEED_DELIVER["payload"]
    assert got.headers["webhook-id"] == sent.json()["message_id"]

    attempts = await client.get(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}/attempts", headers=auth
    )
    assert [(a["status_code"], a["verdict"]) for a in attempts.json()] == [(200, "delivered")]
    message = await client.get(f"/api/v1/webhooks/messages/{sent.json()['message_id']}",
                               headers=auth)  # fmt: skip
    assert message.json()["deliveries"][0]["status"] == "succeeded"


async def test_event_filters_match_exact_and_wildcards(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
    hook_settings: WebhookSettings,
) -> None:  # fmt: skip
    await _endpoint(client, auth, receiver, events=["workflow.*"])
    await _endpoint(client, auth, receiver, events=["*"])
    await _endpoint(client, auth, receiver, events=["user.created"])
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    assert sent.json()["endpoints"] == 2


async def test_idempotency_key_does_not_send_twice(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher,
) -> None:  # fmt: skip
    await _endpoint(client, auth, receiver)
    headers = {**auth, "Idempotency-Key": "order-42"}
    first = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=headers)
    again = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=headers)
    assert first.json()["message_id"] == again.json()["message_id"]
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    await dispatcher.run_due(tenant_id=tenant)
    await dispatcher.run_due(tenant_id=tenant)
    assert len(receiver.received) == 1


async def test_retries_follow_the_schedule_with_the_same_id(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
    hook_settings: WebhookSettings, runtime: Runtime, clock: Clock,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    receiver.replies += [Reply(500), Reply(503, {"retry-after": "120"}), Reply(302), Reply(200)]
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    message_id = sent.json()["message_id"]
    waits: list[float] = []
    async with WebhookSender(hook_settings.address_policy(), timeout=3) as sender:
        # the first wait is 60 s, not the default 5 s: the clock is real time plus a skip,
        # and a loaded machine can spend 5 real seconds between two run_due calls
        schedule = RetrySchedule((0, 60, 300, 1800, 7200), jitter=0)
        dispatcher = Dispatcher(runtime.database, sender, hook_settings, clock=clock,
                                schedule=schedule)  # fmt: skip
        for _ in range(4):
            (outcome,) = await dispatcher.run_due(message_id=message_id)
            # nothing is due before the scheduled time
            assert await dispatcher.run_due(message_id=message_id) == []
            if outcome.next_attempt_at is None:
                break
            waits.append(round((outcome.next_attempt_at - clock.now).total_seconds()))
            clock.advance_to(outcome.next_attempt_at)
    # 60 s after the 500; the 503's Retry-After (120 s) is shorter than the 300 s step
    assert waits == [60, 300, 1800]
    assert outcome.status == "succeeded"
    assert clock.skipped.total_seconds() == pytest.approx(2160, abs=2)
    assert {r.headers["webhook-id"] for r in receiver.received} == {message_id}
    for got in receiver.received:
        Webhook(str(endpoint["secret"])).verify(got.body, got.headers)


async def test_retry_after_longer_than_the_step_is_honoured(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher, clock: Clock,
) -> None:  # fmt: skip
    await _endpoint(client, auth, receiver)
    receiver.replies.append(Reply(429, {"retry-after": "90"}))
    await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    (outcome,) = await dispatcher.run_due(tenant_id=tenant)
    assert outcome.next_attempt_at is not None
    assert (outcome.next_attempt_at - clock.now).total_seconds() == pytest.approx(90, abs=2)


async def test_exhausted_schedule_fails_and_replay_sends_again(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, runtime: Runtime, clock: Clock,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    receiver.replies += [Reply(500), Reply(500)]
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    async with WebhookSender(hook_settings.address_policy(), timeout=3) as sender:
        dispatcher = Dispatcher(runtime.database, sender, hook_settings, clock=clock,
                                schedule=RetrySchedule(delays=(0, 1), jitter=0))  # fmt: skip
        await dispatcher.run_due(tenant_id=tenant)
        clock.advance_to(clock.now + timedelta(seconds=1))
        (last,) = await dispatcher.run_due(tenant_id=tenant)
        assert last.status == "failed"
        failed = await client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}/messages",
                                  params={"status": "failed"}, headers=auth)  # fmt: skip
        assert [d["message_id"] for d in failed.json()] == [sent.json()["message_id"]]

        replay = await client.post(
            f"/api/v1/webhooks/endpoints/{endpoint['id']}/replay",
            json={"since": (clock.now - timedelta(hours=1)).isoformat()}, headers=auth,
        )  # fmt: skip
        assert replay.json()["replayed"] == 1
        (again,) = await dispatcher.run_due(tenant_id=tenant)
        assert again.status == "succeeded"
        one = await client.post(
            f"/api/v1/webhooks/endpoints/{endpoint['id']}/messages/{sent.json()['message_id']}/replay",
            headers=auth,
        )  # fmt: skip
        assert one.status_code == 202
        (third,) = await dispatcher.run_due(tenant_id=tenant)
        assert third.status == "succeeded"
    assert len(receiver.received) == 4


async def test_gone_disables_the_endpoint_with_an_event(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher, runtime: Runtime,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    receiver.replies.append(Reply(410))
    await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    (outcome,) = await dispatcher.run_due(tenant_id=tenant)
    assert outcome.endpoint_disabled and outcome.status == "failed"
    got = (await client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=auth)).json()
    assert got["enabled"] is False and "410" in got["disabled_reason"]
    async with runtime.database.session() as session:
        events = list(await session.scalars(select(Event).where(Event.tenant_id == tenant)))
    assert [(e.type, e.data["endpoint_id"]) for e in events] == [
        ("webhook.endpoint.disabled", endpoint["id"])
    ]
    # disabled endpoints get no new messages until enabled again
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    assert sent.json()["endpoints"] == 0
    enabled = await client.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/enable",
                                headers=auth)  # fmt: skip
    assert enabled.json()["enabled"] is True


async def test_endpoint_failing_past_the_limit_is_disabled(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime, clock: Clock,
) -> None:  # fmt: skip
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8")
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_SECONDS", "3600")
    settings = WebhookSettings()
    endpoint = await _endpoint(client, auth, receiver)
    receiver.replies += [Reply(500)] * 5
    await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    disabled: list[str] = []

    async def record(tenant_id: str, ep: object, reason: str) -> None:
        disabled.append(reason)

    async with WebhookSender(settings.address_policy(), timeout=3) as sender:
        dispatcher = Dispatcher(runtime.database, sender, settings, clock=clock,
                                schedule=RetrySchedule(delays=(0, 1800, 1800, 1800), jitter=0),
                                on_endpoint_disabled=record)  # fmt: skip
        statuses = []
        while True:
            outcomes = await dispatcher.run_due(tenant_id=tenant)
            if not outcomes:
                break
            statuses.append(outcomes[0].status)
            if outcomes[0].next_attempt_at is None:
                break
            clock.advance_to(outcomes[0].next_attempt_at)
    # failing since t=0: at t=1800 still enabled, at t=3600 the limit is reached
    assert statuses == ["pending", "pending", "failed"]
    assert len(disabled) == 1 and "failing without a success" in disabled[0]
    got = (await client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=auth)).json()
    assert got["enabled"] is False


async def test_rate_limit_postpones_without_spending_attempts(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher, runtime: Runtime,
) -> None:  # fmt: skip
    await _endpoint(client, auth, receiver, rate_limit=1)
    for _ in range(3):
        await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    outcomes = await dispatcher.run_due(tenant_id=tenant)
    assert sorted(o.status for o in outcomes) == ["pending", "pending", "succeeded"]
    async with runtime.database.session() as session:
        rows = list(
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant)
            )
        )
    postponed = [r for r in rows if r.status == "pending"]
    assert postponed and all(r.attempts == 0 for r in postponed)
    assert len(receiver.received) == 1


async def test_secret_rotation_signs_with_both_secrets(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    rotated = await client.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/secret/rotate",
                                json={"overlap_seconds": 600}, headers=auth)  # fmt: skip
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert (
        new_secret != endpoint["secret"] and len(rotated.json()["previous_secrets_expire_at"]) == 1
    )
    await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
    await dispatcher.run_due(tenant_id=tenant)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(got.body, got.headers)
    Webhook(str(endpoint["secret"])).verify(got.body, got.headers)


async def test_crud_and_tenant_isolation(
    client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
    hook_settings: WebhookSettings, internal_headers: Callable[[str], dict[str, str]],
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver, headers={"X-Team": "blue"})
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    assert "secret" not in (await client.get(path, headers=auth)).json()
    patched = await client.patch(path, json={"name": "renamed", "events": ["user.*"]}, headers=auth)
    assert patched.json()["name"] == "renamed" and patched.json()["events"] == ["user.*"]
    assert (await client.post(path + "/disable", headers=auth)).json()["enabled"] is False

    other = internal_headers("tenant-other-xyz")
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.patch(path, json={"name": "x"}, headers=other)).status_code == 404
    assert (await client.delete(path, headers=other)).status_code == 404
    assert (await client.get(path + "/secret", headers=other)).status_code == 404
    assert (await client.get("/api/v1/webhooks/endpoints", headers=other)).json() == []
    sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=other)
    assert sent.json()["endpoints"] == 0
    msg = await client.get(f"/api/v1/webhooks/messages/{sent.json()['message_id']}", headers=auth)
    assert msg.status_code == 404

    assert (await client.delete(path, headers=auth)).status_code == 204
    assert (await client.get(path, headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [({"url": "http://10.0.0.5/hook"}, "url"), ({"url": "http://169.254.169.254/latest"}, "url"),
     ({"url": "http://localhost:9/x"}, "url"), ({"url": "ftp://example.com/x"}, "url"),
     ({"url": "https://example.com/x", "secret": "short"}, "secret"),
     ({"url": "https://example.com/x", "events": ["bad event!"]}, "events"),
     ({"url": "https://example.com/x", "headers": {"webhook-signature": "x"}}, "headers"),
     ({"url": "https://example.com/x", "rate_limit": 0}, "rate_limit"),
     ({"url": 42}, "url"), ({}, "url"), ({"url": "https://example.com", "nope": 1}, "nope")],
)  # fmt: skip
async def test_bad_endpoints_are_refused_naming_the_field(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, object], field: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("WEBHOOK_ALLOWED_HOSTS", raising=False)
    response = await client.post("/api/v1/webhooks/endpoints", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert field in response.text
    listed = await client.get("/api/v1/webhooks/endpoints", headers=auth)
    assert listed.json() == []


async def test_bad_deliveries_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_PAYLOAD_BYTES", "2048")
    cases = [
        ({"payload": {}}, "event_type"),
        ({"event_type": "", "payload": {}}, "event_type"),
        ({"event_type": "a b", "payload": {}}, "event_type"),
        ({"event_type": "x", "payload": []}, "payload"),
        ({"event_type": "x", "payload": {"blob": "x" * 5000}}, "payload"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/webhooks/deliver", json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text
    json_headers = {**auth, "content-type": "application/json"}
    malformed = await client.post(
        "/api/v1/webhooks/deliver", content=b"{not json", headers=json_headers
    )
    assert malformed.status_code == 422
    unauthenticated = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER)
    assert unauthenticated.status_code == 401


async def test_webhook_action_delivers_once_per_step(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, dispatcher: Dispatcher, runtime: Runtime, settings: Settings,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    configure_celery(celery_app, settings)
    assert registry.get("webhook") is WEBHOOK_ACTION
    assert WEBHOOK_ACTION.problems({"payload": []}) == [
        "config.event_type: required (a string)",
        "config.payload: must be an object",
    ]
    ctx = ActionContext(tenant_id=tenant, settings=settings, database=runtime.database,
                        source="workflow", run_id="exec-1", step_id="notify",
                        scope={"input": {"order": 9}})  # fmt: skip
    config = {"event_type": "workflow.completed", "payload": {"order": 9}}
    first = await WEBHOOK_ACTION.run(ctx, config)
    again = await WEBHOOK_ACTION.run(ctx, config)  # the engine re-running the step
    assert first == again and first["endpoints"] == 1
    await dispatcher.run_due(tenant_id=tenant)
    (got,) = receiver.received
    assert Webhook(str(endpoint["secret"])).verify(got.body, got.headers)["data"] == {"order": 9}
    with pytest.raises(ActionError, match="event_type"):
        await WEBHOOK_ACTION.run(ctx, {"event_type": "bad type!"})


async def test_breaker_opens_probes_once_per_interval_and_drains_in_order(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, receiver: Receiver,
    hook_settings: WebhookSettings, runtime: Runtime, clock: Clock,
) -> None:  # fmt: skip
    endpoint = await _endpoint(client, auth, receiver)
    policy = hook_settings.breaker()
    receiver.replies += [Reply(503)] * (policy.threshold + 1)  # down, then one failed probe
    drained: list[str] = []

    async def on_drain(endpoint_id: str) -> None:
        drained.append(endpoint_id)

    async def post() -> str:
        sent = await client.post("/api/v1/webhooks/deliver", json=SEED_DELIVER, headers=auth)
        return str(sent.json()["message_id"])

    def ids_received() -> list[str]:
        return [r.headers["webhook-id"] for r in receiver.received]

    async with WebhookSender(hook_settings.address_policy(), timeout=3) as sender:
        dispatcher = Dispatcher(runtime.database, sender, hook_settings, clock=clock,
                                on_drain=on_drain)  # fmt: skip
        ids = [await post() for _ in range(policy.threshold)]
        assert len(await dispatcher.run_due(tenant_id=tenant)) == policy.threshold
        # the circuit is open: new messages wait in the database, nothing is sent
        ids += [await post() for _ in range(5)]
        assert await dispatcher.run_due(tenant_id=tenant) == []
        assert len(receiver.received) == policy.threshold

        # one probe per interval: the oldest due delivery; the others stay as they were
        clock.advance_to(clock.now + timedelta(seconds=policy.probe_seconds))
        outcomes = await dispatcher.run_due(tenant_id=tenant)
        assert [o.status for o in outcomes if o.result is not None] == ["pending"]
        assert ids_received()[-1] == ids[policy.threshold]
        assert await dispatcher.run_due(tenant_id=tenant) == []
        assert not drained

        # the receiver is back: the next probe closes the circuit and the backlog is due
        clock.advance_to(clock.now + timedelta(seconds=policy.probe_seconds))
        probes = [o for o in await dispatcher.run_due(tenant_id=tenant) if o.result is not None]
        assert [o.status for o in probes] == ["succeeded"]
        assert drained == [endpoint["id"]]
        async with runtime.database.session() as session:
            rows = await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant)
            )
            deliveries = {d.message_id: d.id for d in rows}
        # the backlog is attempted oldest message first (three at a time here)
        batches = []
        while got := await dispatcher.run_due(endpoint_id=str(endpoint["id"]), limit=3):
            assert {o.status for o in got} == {"succeeded"}
            batches.append({o.delivery_id for o in got})
    probe_id = ids[policy.threshold + 1]
    backlog = [deliveries[m] for m in ids if m != probe_id]
    assert batches == [set(backlog[i : i + 3]) for i in range(0, len(backlog), 3)]
    assert sorted(set(ids_received())) == sorted(ids)
    # one key per delivery, the same on every attempt
    assert {(r.headers["webhook-id"], r.headers["idempotency-key"]) for r in receiver.received} == {
        (m, deliveries[m]) for m in ids
    }
