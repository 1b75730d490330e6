"""What a receiver's answer means for the message, free of I/O.

Only 2xx counts as delivered. Redirects are failures (we never follow them:
a redirect could point a signed payload somewhere the owner never approved).
410 Gone means the receiver asks us to stop: the endpoint is disabled.
429 and 503 may carry Retry-After, which stretches the next wait.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from common_core.retry import parse_retry_after as shared_parse_retry_after


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE_ENDPOINT = "disable_endpoint"


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    retry_after: float | None = None
    reason: str = ""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unusable.

    The parsing is the platform's one (:func:`common_core.retry.parse_retry_after`).
    """
    if value is None:
        return None
    return shared_parse_retry_after({"Retry-After": value}, now)


def classify_status(
    status_code: int, retry_after: str | None = None, *, now: datetime | None = None
) -> Classification:
    """Turn an HTTP status (and its Retry-After header) into what happens next."""
    if 200 <= status_code < 300:
        return Classification(Verdict.DELIVERED)
    if status_code == 410:
        return Classification(Verdict.DISABLE_ENDPOINT, reason="receiver answered 410 Gone")
    if status_code in (429, 503):
        return Classification(
            Verdict.RETRY,
            retry_after=parse_retry_after(retry_after, now=now),
            reason=f"receiver answered {status_code}",
        )
    if 300 <= status_code < 400:
        return Classification(
            Verdict.RETRY, reason=f"receiver answered redirect {status_code} (not followed)"
        )
    return Classification(Verdict.RETRY, reason=f"receiver answered {status_code}")


def classify_error(error: str) -> Classification:
    """A transport failure (timeout, refused connection, SSRF refusal) is retried."""
    return Classification(Verdict.RETRY, reason=error)
