"""Typed errors of the connectors.

Every error raised by a client names what went wrong: the HTTP status and the
remote error's type and message when the server answered, the bad argument
when the input was refused before any request was sent.
"""

from __future__ import annotations

from typing import Any


class MimeiapifyError(Exception):
    """Base of every error raised by the connectors."""


class ApiError(MimeiapifyError):
    """The remote API (or the client's own input check) refused the operation."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        field: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.field = field
        self.body = body

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error_type:
            parts.append(self.error_type)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConnectorConnectionError(MimeiapifyError):
    """No HTTP response could be had (refused, reset, timed out) after the retries."""


class OutcomeUnknownError(ConnectorConnectionError):
    """A write that must not be repeated failed in a way that hides whether it happened.

    The request was sent, but the connection dropped or the server answered
    5xx; re-sending could create the records twice, so the client stops and
    hands the payload back in ``payload`` for the caller to reconcile (for
    example by looking the records up, or by using an upsert next time).
    """

    def __init__(self, message: str, *, payload: Any, status: int | None = None) -> None:
        super().__init__(message)
        self.payload = payload
        self.status = status


# ---------------------------------------------------------------- Airtable


class AirtableError(ApiError):
    """An Airtable API error."""


class AirtableValidationError(AirtableError, ValueError):
    """Bad input: refused by the client before sending, or a 400/422 from Airtable."""


class AirtableAuthError(AirtableError):
    """401 or 403: missing, invalid or under-privileged token."""


class AirtableNotFoundError(AirtableError):
    """404: the base, table, record or route does not exist (or is not visible)."""


class AirtableRateLimitError(AirtableError):
    """429 after the configured number of penalty waits."""


class AirtableServerError(AirtableError):
    """5xx from Airtable after the retries."""


class AirtableConnectionError(AirtableError, ConnectorConnectionError):
    """Airtable could not be reached after the retries."""


class AirtableOutcomeUnknownError(OutcomeUnknownError, AirtableError):
    """A create may or may not have been applied; see :class:`OutcomeUnknownError`."""

    def __init__(self, message: str, *, payload: Any, status: int | None = None) -> None:
        AirtableError.__init__(self, message, status=status, body=payload)
        self.payload = payload


# ---------------------------------------------------------------- Wompi


class WompiError(ApiError):
    """A Wompi API error."""


class WompiConfigurationError(WompiError, ValueError):
    """The client was built with keys or settings that cannot work together."""


class WompiValidationError(WompiError, ValueError):
    """Bad input: refused by the client before sending, or a 422 from Wompi."""


class WompiAuthError(WompiError):
    """401 or 403: the key is missing, wrong, or of the wrong kind for this endpoint."""


class WompiNotFoundError(WompiError):
    """404: no such transaction, merchant or payment link."""


class WompiServerError(WompiError):
    """5xx (or an unexpected status) from Wompi after the retries."""


class WompiConnectionError(WompiError, ConnectorConnectionError):
    """Wompi could not be reached after the retries."""


class WompiOutcomeUnknownError(OutcomeUnknownError, WompiError):
    """A transaction or payment link may or may not have been created."""

    def __init__(self, message: str, *, payload: Any, status: int | None = None) -> None:
        WompiError.__init__(self, message, status=status, body=payload)
        self.payload = payload


class WompiSignatureError(WompiError):
    """A webhook event whose checksum does not match (or that cannot be checked)."""
