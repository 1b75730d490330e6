"""Meta's webhooks for WhatsApp: the subscription handshake, the signature, typed parsing.

* :func:`verify_subscription`: the subscription handshake
  (``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``):
  the challenge to echo, or ``None``.
* :func:`verify_signature`: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body,
  keyed with the app secret>``, compared in constant time.
* :func:`parse_webhook`: a ``whatsapp_business_account`` payload as
  :class:`~mimeiapify.whatsapp.models.WebhookBatch` (inbound messages and statuses).
* :class:`WhatsAppWebhook`: a FastAPI dependency that does the last two in one call
  (403 for a bad signature, 413 for an oversize body, 400 for a malformed one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from mimeiapify.errors import WhatsAppSignatureError
from mimeiapify.whatsapp.models import ErrorDetail, InboundMessage, StatusUpdate, WebhookBatch

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_WEBHOOK_BYTES = 1024 * 1024


def verify_subscription(
    mode: str | None, token: str | None, challenge: str | None, verify_token: str
) -> str | None:
    """The ``hub.challenge`` to answer with when ``mode`` is ``subscribe`` and ``token``
    is ours (constant-time comparison); ``None`` otherwise (answer 403)."""
    if not verify_token or mode != "subscribe" or not token or challenge is None:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge


def signature_for(raw_body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``raw_body``."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(raw_body: bytes, x_hub_signature_256: str | None, app_secret: str) -> bool:
    """True when the header is ``sha256=`` + the HMAC-SHA256 of exactly these bytes.

    Check the raw body as received, before any JSON parsing: re-serialized
    JSON differs from what Meta signed. An empty app secret verifies nothing.
    """
    if not app_secret or not isinstance(x_hub_signature_256, str):
        return False
    if not isinstance(raw_body, bytes | bytearray):
        return False
    expected = signature_for(bytes(raw_body), app_secret)
    return hmac.compare_digest(expected.encode(), x_hub_signature_256.strip().lower().encode())


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _errors(value: Any) -> tuple[ErrorDetail, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(ErrorDetail.from_api(e) for e in value if isinstance(e, Mapping))


def parse_webhook(payload: Any) -> WebhookBatch:
    """Typed inbound messages and status updates of one webhook payload.

    Raises :class:`WhatsAppSignatureError` (status 400) when the payload is not
    a WhatsApp Business Account notification. Changes of other fields
    (template status, account updates) are skipped.
    """
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except ValueError:
            raise WhatsAppSignatureError("webhook body is not JSON", status=400) from None
    if not isinstance(payload, Mapping) or payload.get("object") != "whatsapp_business_account":
        raise WhatsAppSignatureError(
            "not a WhatsApp webhook (object must be whatsapp_business_account)",
            status=400,
            field="object",
        )
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WhatsAppSignatureError("webhook has no entry list", status=400, field="entry")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    errors: list[ErrorDetail] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, Mapping) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if isinstance(value, Mapping):
                _parse_value(value, messages, statuses, errors)
    return WebhookBatch(tuple(messages), tuple(statuses), tuple(errors))


def _parse_value(
    value: Mapping[str, Any],
    messages: list[InboundMessage],
    statuses: list[StatusUpdate],
    errors: list[ErrorDetail],
) -> None:
    metadata = _obj(value.get("metadata"))
    phone_number_id = str(metadata.get("phone_number_id", ""))
    display = metadata.get("display_phone_number")
    names: dict[str, str] = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, Mapping):
            profile = contact.get("profile")
            if isinstance(profile, Mapping) and profile.get("name"):
                names[str(contact.get("wa_id"))] = str(profile["name"])
    for raw in value.get("messages") or []:
        if not isinstance(raw, Mapping) or "id" not in raw or "from" not in raw:
            continue
        kind = str(raw.get("type", "unknown"))
        context = _obj(raw.get("context"))
        sender = str(raw["from"])
        messages.append(
            InboundMessage(
                id=str(raw["id"]),
                wa_id=sender,
                type=kind,
                timestamp=_int(raw.get("timestamp")),
                phone_number_id=phone_number_id,
                display_phone_number=str(display) if display is not None else None,
                profile_name=names.get(sender),
                context_id=context.get("id"),
                content=raw.get(kind),
                errors=_errors(raw.get("errors")),
                raw=dict(raw),
            )
        )
    for raw in value.get("statuses") or []:
        if not isinstance(raw, Mapping) or "id" not in raw:
            continue
        conversation, pricing = raw.get("conversation"), raw.get("pricing")
        statuses.append(
            StatusUpdate(
                id=str(raw["id"]),
                status=str(raw.get("status", "")),
                timestamp=_int(raw.get("timestamp")),
                recipient_id=str(raw.get("recipient_id", "")),
                phone_number_id=phone_number_id,
                errors=_errors(raw.get("errors")),
                conversation=dict(conversation) if isinstance(conversation, Mapping) else None,
                pricing=dict(pricing) if isinstance(pricing, Mapping) else None,
                biz_opaque_callback_data=raw.get("biz_opaque_callback_data"),
                raw=dict(raw),
            )
        )
    errors.extend(_errors(value.get("errors")))


def verify_and_parse(
    raw_body: bytes, x_hub_signature_256: str | None, app_secret: str
) -> WebhookBatch:
    """Size, signature, then parsing; raises :class:`WhatsAppSignatureError` with the
    HTTP status to answer (413, 403 or 400)."""
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise WhatsAppSignatureError("webhook body is too large", status=413)
    if not verify_signature(raw_body, x_hub_signature_256, app_secret):
        raise WhatsAppSignatureError(
            f"{SIGNATURE_HEADER} does not match the body", status=403, field=SIGNATURE_HEADER
        )
    return parse_webhook(raw_body)


class WhatsAppWebhook:
    """A FastAPI dependency: ``batch: WebhookBatch = Depends(WhatsAppWebhook(app_secret))``.

    Reads at most :data:`MAX_WEBHOOK_BYTES` (413 beyond), checks the signature
    (403), parses (400); only a verified batch reaches the handler.
    """

    def __init__(self, app_secret: str, *, max_bytes: int = MAX_WEBHOOK_BYTES) -> None:
        if not isinstance(app_secret, str) or not app_secret:
            raise ValueError("app_secret must be a non-empty string")
        self._app_secret = app_secret
        self._max_bytes = max_bytes

    def __repr__(self) -> str:
        return "WhatsAppWebhook(app_secret=<hidden>)"

    async def __call__(self, request: Request) -> WebhookBatch:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise HTTPException(status_code=413, detail="webhook body is too large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_bytes:
                raise HTTPException(status_code=413, detail="webhook body is too large")
            chunks.append(chunk)
        try:
            return verify_and_parse(
                b"".join(chunks), request.headers.get(SIGNATURE_HEADER), self._app_secret
            )
        except WhatsAppSignatureError as exc:
            raise HTTPException(status_code=exc.status or 400, detail=exc.message) from None
