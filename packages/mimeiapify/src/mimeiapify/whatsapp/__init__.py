"""The WhatsApp Cloud API connector: :mod:`.protocol` (the I/O-free core),
:mod:`.messages` (request bodies, checked), :mod:`.models` (typed results),
:mod:`.webhook` (handshake, signature, parsing, FastAPI dependency),
:mod:`.sync_client` (:class:`WhatsApp`) and :mod:`.async_client` (:class:`WhatsAppAsync`,
also at ``mimeiapify.whatsapp_async``). The clients load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimeiapify.whatsapp.async_client import WhatsAppAsync
    from mimeiapify.whatsapp.messages import body_parameters
    from mimeiapify.whatsapp.models import (
        InboundMessage,
        MediaInfo,
        SentMessage,
        StatusUpdate,
        WebhookBatch,
    )
    from mimeiapify.whatsapp.protocol import WhatsAppProtocol, WhatsAppRetryPolicy
    from mimeiapify.whatsapp.sync_client import WhatsApp
    from mimeiapify.whatsapp.webhook import WhatsAppWebhook

_LAZY = {
    "WhatsApp": "mimeiapify.whatsapp.sync_client",
    "WhatsAppAsync": "mimeiapify.whatsapp.async_client",
    "WhatsAppProtocol": "mimeiapify.whatsapp.protocol",
    "WhatsAppRetryPolicy": "mimeiapify.whatsapp.protocol",
    "WhatsAppWebhook": "mimeiapify.whatsapp.webhook",
    "body_parameters": "mimeiapify.whatsapp.messages",
    "InboundMessage": "mimeiapify.whatsapp.models",
    "MediaInfo": "mimeiapify.whatsapp.models",
    "SentMessage": "mimeiapify.whatsapp.models",
    "StatusUpdate": "mimeiapify.whatsapp.models",
    "WebhookBatch": "mimeiapify.whatsapp.models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mimeiapify.whatsapp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "InboundMessage",
    "MediaInfo",
    "SentMessage",
    "StatusUpdate",
    "WebhookBatch",
    "WhatsApp",
    "WhatsAppAsync",
    "WhatsAppProtocol",
    "WhatsAppRetryPolicy",
    "WhatsAppWebhook",
    "body_parameters",
]
