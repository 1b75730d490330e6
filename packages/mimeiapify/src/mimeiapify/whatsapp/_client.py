"""What both WhatsApp clients share besides the transport: attributes and the webhook helpers
(one implementation each, in :mod:`mimeiapify.whatsapp.webhook`)."""

from __future__ import annotations

from typing import Any

from mimeiapify.whatsapp import webhook
from mimeiapify.whatsapp.models import WebhookBatch
from mimeiapify.whatsapp.protocol import WhatsAppProtocol


class ClientAttributes:
    protocol: WhatsAppProtocol

    @property
    def phone_number_id(self) -> str:
        return self.protocol.phone_number_id

    @property
    def api_url(self) -> str:
        return self.protocol.api_url

    @property
    def api_version(self) -> str:
        return self.protocol.api_version

    @staticmethod
    def verify_subscription(
        mode: str | None, token: str | None, challenge: str | None, verify_token: str
    ) -> str | None:
        """The ``hub.challenge`` to echo for the right verify token, else ``None``."""
        return webhook.verify_subscription(mode, token, challenge, verify_token)

    @staticmethod
    def verify_signature(raw_body: bytes, x_hub_signature_256: str | None, app_secret: str) -> bool:
        """``X-Hub-Signature-256`` check of the raw body, in constant time."""
        return webhook.verify_signature(raw_body, x_hub_signature_256, app_secret)

    @staticmethod
    def parse_webhook(payload: Any) -> WebhookBatch:
        """Typed inbound messages and statuses of a webhook payload (dict, str or bytes)."""
        return webhook.parse_webhook(payload)
