"""mimeiapify: Airtable and Wompi connectors (sync and async) and the symphony_ai runtime.

>>> from mimeiapify import Airtable
>>> from mimeiapify.airtable_async import AirtableAsync
>>> from mimeiapify.wompi_async import WompiAsync

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
    from mimeiapify._plan import RetryPolicy
    from mimeiapify.airtable import Airtable
    from mimeiapify.airtable_async import AirtableAsync
    from mimeiapify.wompi import Wompi
    from mimeiapify.wompi_async import WompiAsync

_LAZY = {
    "Airtable": "mimeiapify.airtable",
    "AirtableAsync": "mimeiapify.airtable_async",
    "RetryPolicy": "mimeiapify._plan",
    "Wompi": "mimeiapify.wompi",
    "WompiAsync": "mimeiapify.wompi_async",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mimeiapify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
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
    "MimeiapifyError",
    "RetryPolicy",
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
