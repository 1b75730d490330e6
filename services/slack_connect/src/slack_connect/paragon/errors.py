"""Typed errors of the Paragon client."""

from __future__ import annotations

__all__ = [
    "ParagonAuthError",
    "ParagonCredentialInvalid",
    "ParagonError",
    "ParagonNotFound",
    "ParagonOutcomeUnknown",
    "ParagonRateLimited",
    "ParagonServerError",
    "ParagonUnavailable",
]


class ParagonError(Exception):
    """A Paragon call failed; ``status`` is the HTTP status (``None`` if no answer)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "",
                 attempts: int = 1) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.attempts = attempts


class ParagonAuthError(ParagonError):
    """401/403: the user token was refused (bad signature, expired, wrong audience)."""


class ParagonNotFound(ParagonError):
    """404: unknown project, workflow or integration path."""


class ParagonRateLimited(ParagonError):
    """429 that outlasted every retry."""


class ParagonServerError(ParagonError):
    """5xx that outlasted every retry."""


class ParagonUnavailable(ParagonError):
    """No answer: connection refused, DNS failure or timeout, after every retry."""


class ParagonOutcomeUnknown(ParagonUnavailable):
    """A non-idempotent call (a ``POST``) got no answer after it may have arrived.

    It was not re-sent, so a Slack message is never posted twice; whether the
    first attempt was applied is unknown.
    """


class ParagonCredentialInvalid(ParagonError):
    """The user's connection to the integration exists but its credential is not VALID."""

    def __init__(self, integration: str, credential_status: str) -> None:
        super().__init__(
            f"{integration} credential status is {credential_status}; the user must reconnect"
        )
        self.integration = integration
        self.credential_status = credential_status
