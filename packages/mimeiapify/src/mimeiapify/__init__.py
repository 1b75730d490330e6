"""mimeiapify: Airtable and Wompi connectors (sync and async) and the symphony_ai runtime.

>>> from mimeiapify import Airtable
>>> from mimeiapify.airtable_async import AirtableAsync
>>> from mimeiapify.wompi_async import WompiAsync
"""

from mimeiapify.airtable import Airtable
from mimeiapify.airtable_async import AirtableAsync
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
from mimeiapify.wompi import Wompi
from mimeiapify.wompi_async import WompiAsync

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
