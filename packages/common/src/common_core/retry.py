"""Retry decisions shared by every HTTP client of the platform (no I/O here).

:class:`RetryPolicy` says whether an answer is worth retrying and how long to
wait: exponential backoff with full jitter, or the server's ``Retry-After``
when it sent one (seconds or an HTTP date), capped at ``max_delay``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait according to ``Retry-After`` (``None`` when absent or unreadable)."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: transport errors, 408, 425, 429 and 5xx are retried."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    retry_statuses: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def should_retry(self, status: int | None, attempt: int) -> bool:
        """``status=None`` means no answer arrived (a transport error)."""
        if attempt >= self.max_attempts:
            return False
        return status is None or status in self.retry_statuses

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security

    def delay_for(self, attempt: int, headers: Mapping[str, str]) -> float:
        return self.delay(attempt, parse_retry_after(headers))
