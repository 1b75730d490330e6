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


# ---------------------------------------------------------------- WhatsApp


class WhatsAppError(ApiError):
    """A WhatsApp Cloud API (Graph API) error; keeps every field of Meta's error body.

    ``code``, ``error_subcode``, ``details`` (``error_data.details``) and
    ``fbtrace_id`` are Meta's; ``hint`` says what to do about it, when we know.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        field: str | None = None,
        body: Any = None,
        code: int | None = None,
        error_subcode: int | None = None,
        details: str | None = None,
        fbtrace_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, error_type=error_type, field=field, body=body)
        self.code = code
        self.error_subcode = error_subcode
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        if self.code is not None:
            text = f"{text} (code {self.code})"
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        if self.hint:
            text = f"{text}. {self.hint}"
        return text


class WhatsAppValidationError(WhatsAppError, ValueError):
    """Bad input: refused by the client before sending (``field`` names it), or Meta's code 100."""


class WhatsAppAuthError(WhatsAppError):
    """The access token is missing, expired or lacks permission (codes 190, 10, 200...)."""


class WhatsAppNotFoundError(WhatsAppError):
    """The phone number id or media id does not exist or is not visible to this token."""


class WhatsAppRateLimitError(WhatsAppError):
    """A throughput limit (130429, pair limit 131056, 80007, 4) still hit after the retries."""


class WhatsAppBusinessError(WhatsAppError):
    """Meta refused the message for a business reason; retrying the same request will not help."""


class WhatsAppReengagementError(WhatsAppBusinessError):
    """131047: more than 24 hours since the user last wrote; only a template can reach them."""


class WhatsAppTemplateError(WhatsAppBusinessError):
    """132xxx: the template does not exist in that language, or its parameters do not match."""


class WhatsAppRecipientError(WhatsAppBusinessError):
    """131026 and friends: the recipient cannot receive this message."""


class WhatsAppServerError(WhatsAppError):
    """5xx (or an unexpected answer) from the Graph API after the retries."""


class WhatsAppConnectionError(WhatsAppError, ConnectorConnectionError):
    """The Graph API could not be reached after the retries."""


class WhatsAppOutcomeUnknownError(OutcomeUnknownError, WhatsAppError):
    """A message may or may not have been sent (5xx or a dropped connection after sending).

    Sends are never repeated blindly: the user could get the message twice.
    """

    def __init__(self, message: str, *, payload: Any, status: int | None = None) -> None:
        WhatsAppError.__init__(self, message, status=status, body=payload)
        self.payload = payload


class WhatsAppSignatureError(WhatsAppError):
    """A webhook whose ``X-Hub-Signature-256`` does not match (or a body that cannot be read)."""
