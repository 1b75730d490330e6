from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from automation.webhooks import (
    InvalidWebhookSecret,
    WebhookSignatureError,
    canonical_secret,
    generate_secret,
    sign,
    sign_headers,
    verify,
)

BODY = b'{"event_type":"workflow.completed","payload":{"workflow_id":"123"}}'


def test_signature_matches_the_reference_library() -> None:
    secret = generate_secret()
    ts = 1_700_000_000
    ours = sign("msg_1", ts, BODY, [secret])
    theirs = Webhook(secret).sign("msg_1", datetime.fromtimestamp(ts, UTC), BODY.decode())
    assert ours == theirs


def test_reference_library_verifies_fresh_headers() -> None:
    secret = generate_secret()
    headers = sign_headers("msg_2", BODY, [secret]).as_dict()
    assert Webhook(secret).verify(BODY, headers) == {
        "event_type": "workflow.completed",
        "payload": {"workflow_id": "123"},
    }


def test_rotation_carries_one_signature_per_secret() -> None:
    old, new = generate_secret(), generate_secret()
    headers = sign_headers("msg_3", BODY, [new, old]).as_dict()
    assert len(headers["webhook-signature"].split(" ")) == 2
    # receivers still on the old secret and those already on the new one both accept
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_plain_user_secret_becomes_a_whsec_the_library_accepts() -> None:
    secret = canonical_secret("webhook_secret_key")
    assert secret == "whsec_" + base64.b64encode(b"webhook_secret_key").decode()
    headers = sign_headers("msg_4", BODY, [secret]).as_dict()
    Webhook(secret).verify(BODY, headers)
    assert canonical_secret(secret) == secret


@pytest.mark.parametrize(
    "bad",
    ["", "short", "whsec_", "whsec_!!!not-base64!!!", "whsec_" + base64.b64encode(b"x").decode(),
     "x" * 129, "whsec_" + base64.b64encode(b"x" * 200).decode()],
)  # fmt: skip
def test_bad_secrets_are_refused(bad: str) -> None:
    with pytest.raises(InvalidWebhookSecret):
        canonical_secret(bad)


def test_wrong_type_secret_is_refused() -> None:
    with pytest.raises(InvalidWebhookSecret):
        canonical_secret(12345)  # type: ignore[arg-type]


def test_signing_needs_a_secret() -> None:
    with pytest.raises(InvalidWebhookSecret):
        sign("msg", 1, BODY, [])


def test_our_verify_accepts_good_and_rejects_tampering() -> None:
    secret = generate_secret()
    headers = sign_headers("msg_5", BODY, [secret]).as_dict()
    assert verify(BODY, headers, [secret]) == "msg_5"
    with pytest.raises(WebhookSignatureError):
        verify(BODY + b" ", headers, [secret])
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {**headers, "webhook-id": "msg_other"}, [secret])
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {**headers, "webhook-signature": "v1,@@@"}, [secret])
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {"webhook-id": "x"}, [secret])
    with pytest.raises(WebhookSignatureError):
        verify(BODY, {**headers, "webhook-timestamp": "soon"}, [secret])


def test_our_verify_rejects_stale_timestamps() -> None:
    secret = generate_secret()
    old = int(time.time()) - 3600
    headers = sign_headers("msg_6", BODY, [secret], timestamp=old).as_dict()
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify(BODY, headers, [secret])
    assert verify(BODY, headers, [secret], now=old + 10) == "msg_6"
