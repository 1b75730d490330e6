from __future__ import annotations

import json

from standardwebhooks import Webhook

from automation.webhooks import (
    AddressPolicy,
    OutgoingWebhook,
    Verdict,
    WebhookSender,
    generate_secret,
)
from automation.webhooks.testing import Receiver, Reply
from mimeia.testing import free_port

LOOPBACK = AddressPolicy.from_setting("127.0.0.0/8")
BODY = json.dumps({"event_type": "workflow.completed", "payload": {"id": "123"}}).encode()


async def test_delivery_is_verified_by_the_reference_library(receiver: Receiver) -> None:
    secret = generate_secret()
    hook = OutgoingWebhook(receiver.url(), "msg_abc", BODY, [secret], {"x-team": "blue"})
    async with WebhookSender(LOOPBACK) as sender:
        result = await sender.send(hook)
    assert result.delivered
    assert result.classification.verdict is Verdict.DELIVERED
    assert result.response_snippet == "ok"
    (got,) = receiver.received
    assert Webhook(secret).verify(got.body, got.headers) == json.loads(BODY)
    assert got.headers["x-team"] == "blue"
    assert got.headers["content-type"] == "application/json"


async def test_every_retry_carries_the_same_webhook_id(receiver: Receiver) -> None:
    secret = generate_secret()
    receiver.replies += [Reply(500), Reply(502), Reply(200)]
    hook = OutgoingWebhook(receiver.url(), "msg_same", BODY, [secret])
    verdicts = []
    async with WebhookSender(LOOPBACK) as sender:
        for _ in range(3):
            verdicts.append((await sender.send(hook)).classification.verdict)
    assert verdicts == [Verdict.RETRY, Verdict.RETRY, Verdict.DELIVERED]
    assert {r.headers["webhook-id"] for r in receiver.received} == {"msg_same"}
    for got in receiver.received:
        Webhook(secret).verify(got.body, got.headers)


async def test_custom_headers_cannot_replace_the_signature(receiver: Receiver) -> None:
    secret = generate_secret()
    forged = {"webhook-signature": "v1,forged", "Webhook-Id": "evil", "content-type": "text/x"}
    async with WebhookSender(LOOPBACK) as sender:
        await sender.send(OutgoingWebhook(receiver.url(), "msg_h", BODY, [secret], forged))
    (got,) = receiver.received
    assert got.headers["webhook-id"] == "msg_h"
    assert got.headers["content-type"] == "application/json"
    Webhook(secret).verify(got.body, got.headers)


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.replies.append(Reply(302, {"location": receiver.url("/elsewhere")}))
    async with WebhookSender(LOOPBACK) as sender:
        result = await sender.send(OutgoingWebhook(receiver.url(), "m", BODY, [generate_secret()]))
    assert result.status_code == 302
    assert result.classification.verdict is Verdict.RETRY
    assert [r.path for r in receiver.received] == ["/hook"]


async def test_gone_disables_and_retry_after_is_read(receiver: Receiver) -> None:
    receiver.replies += [Reply(410), Reply(429, {"retry-after": "42"}), Reply(503)]
    hook = OutgoingWebhook(receiver.url(), "m", BODY, [generate_secret()])
    async with WebhookSender(LOOPBACK) as sender:
        gone = await sender.send(hook)
        limited = await sender.send(hook)
        unavailable = await sender.send(hook)
    assert gone.classification.verdict is Verdict.DISABLE_ENDPOINT
    assert limited.classification.retry_after == 42
    assert unavailable.classification.verdict is Verdict.RETRY
    assert unavailable.classification.retry_after is None


async def test_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.replies.append(Reply(200, delay=1.5))
    async with WebhookSender(LOOPBACK, timeout=0.3) as sender:
        result = await sender.send(OutgoingWebhook(receiver.url(), "m", BODY, [generate_secret()]))
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("timed out")
    assert 250 < result.duration_ms < 1400


async def test_large_response_is_cut_to_a_snippet(receiver: Receiver) -> None:
    receiver.replies.append(Reply(500, body=b"E" * 100_000))
    async with WebhookSender(LOOPBACK) as sender:
        result = await sender.send(OutgoingWebhook(receiver.url(), "m", BODY, [generate_secret()]))
    assert result.status_code == 500
    assert result.response_snippet == "E" * 1024


async def test_unreachable_receiver_is_a_retryable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    async with WebhookSender(LOOPBACK, timeout=2) as sender:
        result = await sender.send(OutgoingWebhook(url, "m", BODY, [generate_secret()]))
    assert result.status_code is None
    assert result.classification.verdict is Verdict.RETRY
    assert result.error is not None and "ConnectError" in result.error
