"""Standard Webhooks signatures, free of I/O.

A message is signed as ``v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``.
While a secret is being rotated the request carries one signature per active
secret, separated by spaces, so receivers holding either secret accept it.
Secrets are ``whsec_`` followed by base64 of the key bytes. A plain secret a
user chose (``"webhook_secret_key"``) is accepted too and turned into the
``whsec_`` form of its UTF-8 bytes, so receivers can use any Standard Webhooks
library with the canonical secret the API returns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
_MIN_SECRET_BYTES = 16
_MAX_SECRET_BYTES = 128


class WebhookSignatureError(Exception):
    """A signature is missing, malformed, stale or matches no secret."""


class InvalidWebhookSecret(ValueError):
    """A secret is too short, too long or not valid ``whsec_`` base64."""


def generate_secret(num_bytes: int = 32) -> str:
    """A fresh ``whsec_`` secret with ``num_bytes`` of randomness."""
    if not _MIN_SECRET_BYTES <= num_bytes <= _MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"secret length must be {_MIN_SECRET_BYTES}..{_MAX_SECRET_BYTES} bytes"
        )
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(num_bytes)).decode()


def secret_key(secret: str) -> bytes:
    """The raw HMAC key inside a ``whsec_`` secret."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret("secret must start with 'whsec_'")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidWebhookSecret("secret is not valid base64 after 'whsec_'") from exc
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"secret must decode to {_MIN_SECRET_BYTES}..{_MAX_SECRET_BYTES} bytes"
        )
    return key


def canonical_secret(secret: str) -> str:
    """The ``whsec_`` form of a secret given by a user (checked for length)."""
    if not isinstance(secret, str) or not secret:
        raise InvalidWebhookSecret("secret must be a non-empty string")
    if secret.startswith(SECRET_PREFIX):
        secret_key(secret)
        return secret
    raw = secret.encode()
    if not _MIN_SECRET_BYTES <= len(raw) <= _MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"secret must be {_MIN_SECRET_BYTES}..{_MAX_SECRET_BYTES} bytes long"
        )
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, to_sign, hashlib.sha256).digest()


def sign(msg_id: str, timestamp: int, body: bytes, secrets_: Sequence[str]) -> str:
    """The ``webhook-signature`` header value: one ``v1,`` entry per secret."""
    if not secrets_:
        raise InvalidWebhookSecret("at least one secret is needed to sign")
    entries = []
    for secret in secrets_:
        digest = _signature(secret_key(secret), msg_id, timestamp, body)
        entries.append(f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}")
    return " ".join(entries)


@dataclass(frozen=True)
class SignedHeaders:
    """The three Standard Webhooks headers of one delivery attempt."""

    msg_id: str
    timestamp: int
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            "webhook-id": self.msg_id,
            "webhook-timestamp": str(self.timestamp),
            "webhook-signature": self.signature,
        }


def sign_headers(
    msg_id: str, body: bytes, secrets_: Sequence[str], *, timestamp: int | None = None
) -> SignedHeaders:
    """Sign ``body`` now (or at ``timestamp``); every retry re-signs with the same id."""
    ts = int(time.time()) if timestamp is None else timestamp
    return SignedHeaders(msg_id=msg_id, timestamp=ts, signature=sign(msg_id, ts, body, secrets_))


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets_: Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a received webhook; return its ``webhook-id`` or raise WebhookSignatureError."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_ts = lowered.get("webhook-timestamp")
    raw_sig = lowered.get("webhook-signature")
    if not msg_id or not raw_ts or not raw_sig:
        raise WebhookSignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise WebhookSignatureError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookSignatureError("webhook-timestamp is outside the tolerance window")
    expected = [_signature(secret_key(s), msg_id, timestamp, body) for s in secrets_]
    for entry in raw_sig.split(" "):
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # compare against every secret so timing does not reveal which one matched
        matched = False
        for digest in expected:
            matched |= hmac.compare_digest(digest, candidate)
        if matched:
            return msg_id
    raise WebhookSignatureError("no signature matches the endpoint's secrets")
