"""mimeiapify: Airtable, Wompi and WhatsApp connectors (sync and async) and the symphony_ai
runtime.

>>> from mimeiapify import Airtable
>>> from mimeiapify.airtable_async import AirtableAsync
>>> from mimeiapify.wompi_async import WompiAsync
>>> from mimeiapify.whatsapp_async import WhatsAppAsync

The clients are imported on first use, so ``import mimeiapify.testing.services``
(what ``mimeia up`` does to find the emulators) does not load aiohttp or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mimeiapify.errors import (
    AirtableAuthError,
    AirtableConnectionError,
    AirtableError,
    AirtableNotFoundError,
    AirtableOutcomeUnknownError,
    AirtableRateLimitError,
    AirtableServerError,
    AirtableValidationError,
    MimeiapifyError,
    WhatsAppAuthError,
    WhatsAppBusinessError,
    WhatsAppConnectionError,
    WhatsAppError,
    WhatsAppNotFoundError,
    WhatsAppOutcomeUnknownError,
    WhatsAppRateLimitError,
    WhatsAppRecipientError,
    WhatsAppReengagementError,
    WhatsAppServerError,
    WhatsAppSignatureError,
    WhatsAppTemplateError,
    WhatsAppValidationError,
    WompiAuthError,
    WompiConfigurationError,
    WompiConnectionError,
    WompiError,
    WompiNotFoundError,
    WompiOutcomeUnknownError,
    WompiServerError,
    WompiSignatureError,
    WompiValidationError,
)
from mimeiapify.formula import Field, Formula, match

if TYPE_CHECKING:
    from mimeiapify._plan import CONNECTOR_RETRY, RetryPolicy
    from mimeiapify.airtable.async_client import AirtableAsync
    from mimeiapify.airtable.sync_client import Airtable
    from mimeiapify.symphony_ai.globals import GlobalSymphony, GlobalSymphonyConfig
    from mimeiapify.whatsapp.async_client import WhatsAppAsync
    from mimeiapify.whatsapp.sync_client import WhatsApp
    from mimeiapify.wompi.async_client import WompiAsync
    from mimeiapify.wompi.sync_client import Wompi

_LAZY = {
    "CONNECTOR_RETRY": "mimeiapify._plan",
    "Airtable": "mimeiapify.airtable.sync_client",
    "AirtableAsync": "mimeiapify.airtable.async_client",
    "GlobalSymphony": "mimeiapify.symphony_ai.globals",
    "GlobalSymphonyConfig": "mimeiapify.symphony_ai.globals",
    "RetryPolicy": "mimeiapify._plan",
    "WhatsApp": "mimeiapify.whatsapp.sync_client",
    "WhatsAppAsync": "mimeiapify.whatsapp.async_client",
    "Wompi": "mimeiapify.wompi.sync_client",
    "WompiAsync": "mimeiapify.wompi.async_client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mimeiapify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CONNECTOR_RETRY",
    "Airtable",
    "AirtableAsync",
    "AirtableAuthError",
    "AirtableConnectionError",
    "AirtableError",
    "AirtableNotFoundError",
    "AirtableOutcomeUnknownError",
    "AirtableRateLimitError",
    "AirtableServerError",
    "AirtableValidationError",
    "Field",
    "Formula",
    "GlobalSymphony",
    "GlobalSymphonyConfig",
    "MimeiapifyError",
    "RetryPolicy",
    "WhatsApp",
    "WhatsAppAsync",
    "WhatsAppAuthError",
    "WhatsAppBusinessError",
    "WhatsAppConnectionError",
    "WhatsAppError",
    "WhatsAppNotFoundError",
    "WhatsAppOutcomeUnknownError",
    "WhatsAppRateLimitError",
    "WhatsAppRecipientError",
    "WhatsAppReengagementError",
    "WhatsAppServerError",
    "WhatsAppSignatureError",
    "WhatsAppTemplateError",
    "WhatsAppValidationError",
    "Wompi",
    "WompiAsync",
    "WompiAuthError",
    "WompiConfigurationError",
    "WompiConnectionError",
    "WompiError",
    "WompiNotFoundError",
    "WompiOutcomeUnknownError",
    "WompiServerError",
    "WompiSignatureError",
    "WompiValidationError",
    "match",
]
__version__ = "1.5.0"
