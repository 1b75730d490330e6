"""The one retry policy of every HTTP client of the platform (no I/O here).

The connectors (mimeiapify), the mesh client (common_mesh) and the Paragon
client (slack_connect) all decide with it. A request is retried only when
resending it is safe:

* an idempotent request (``GET``, ``HEAD``, ``OPTIONS``, ``TRACE``, ``PUT``,
  ``DELETE``, or any request carrying an ``Idempotency-Key`` header, or one the
  caller declares idempotent) is retried on a transport error and on the
  retryable statuses;
* any other request (a plain ``POST``/``PATCH``) is retried only when it
  provably never reached the server: the connection was never established
  (refused, DNS failure, connect timeout) or the server rejected it unprocessed
  with ``429``. After a read timeout, a dropped connection or a 5xx it is *not*
  re-sent: the first attempt may have been applied, and the decision says so
  (``outcome_unknown``).

Waits are exponential backoff with full jitter, or the server's ``Retry-After``
(seconds or an HTTP date) capped at ``max_delay``; a 429 without
``Retry-After`` waits ``rate_limit_penalty`` when one is set.

Use: ``retrying = policy.start(method, headers)``, then after each attempt
``retrying.after_response(status, headers)`` or
``retrying.after_transport_error(maybe_sent=...)``, and sleep
``decision.delay`` while ``decision.retry``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENT_METHODS",
    "Decision",
    "RetryPolicy",
    "Retrying",
    "is_idempotent",
    "parse_retry_after",
]

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# RFC 9110 section 9.2.2: methods whose repetition has the effect of one request.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def is_idempotent(
    method: str, headers: Mapping[str, str] | None = None, *, declared: bool | None = None
) -> bool:
    """Whether sending the request twice has the effect of sending it once.

    ``declared`` overrides what the method says (a connector knows that its
    ``PATCH`` sets fields, or that a ``POST`` only reads); a non-empty
    ``Idempotency-Key`` header always makes a request safe to resend.
    """
    if (_header(headers, IDEMPOTENCY_KEY_HEADER) or "").strip():
        return True
    if declared is not None:
        return declared
    return method.upper() in IDEMPOTENT_METHODS


def parse_retry_after(
    headers: Mapping[str, str] | None, now: datetime | None = None
) -> float | None:
    """Seconds to wait according to ``Retry-After`` (``None`` when absent or unreadable)."""
    value = _header(headers, "Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is unreadable
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class Decision:
    """What to do after one attempt.

    ``retry``: send again after ``delay`` seconds. ``rate_limited``: the answer
    was a 429 (a client sharing a rate-limit schedule may turn ``delay`` into a
    pause for all its callers). ``outcome_unknown``: not retried because the
    request is not idempotent and the server may have applied it.
    """

    retry: bool
    delay: float = 0.0
    rate_limited: bool = False
    outcome_unknown: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: transport errors, 408, 425, 429, 500, 502, 503 and 504.

    ``max_attempts`` bounds the attempts of one request. A 429 counts against
    it too, unless ``max_rate_limit_retries`` gives rate limiting its own
    budget (the connectors: a rate-limited request is not a failing one).
    """

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    retry_statuses: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})
    rate_limit_penalty: float | None = None
    max_rate_limit_retries: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if self.rate_limit_penalty is not None and self.rate_limit_penalty < 0:
            raise ValueError("rate_limit_penalty must not be negative")
        if self.max_rate_limit_retries is not None and self.max_rate_limit_retries < 0:
            raise ValueError("max_rate_limit_retries must not be negative")

    def backoff(self, failures: int) -> float:
        """Full-jitter exponential wait after the ``failures``-th failed attempt (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(failures - 1, 0)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security

    def start(
        self,
        method: str,
        headers: Mapping[str, str] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> Retrying:
        """The retry state of one request (see :func:`is_idempotent` for ``idempotent``)."""
        return Retrying(self, is_idempotent(method, headers, declared=idempotent))


@dataclass
class Retrying:
    """The retry state of one request; it never touches the network itself."""

    policy: RetryPolicy
    idempotent: bool
    attempts: int = 0  # every attempt decided on so far, whatever its outcome
    failures: int = 0
    rate_limited: int = 0

    def _may_fail_again(self) -> bool:
        used = self.failures
        if self.policy.max_rate_limit_retries is None:
            used += self.rate_limited
        return used < self.policy.max_attempts

    def after_response(
        self, status: int, headers: Mapping[str, str] | None = None, *, now: datetime | None = None
    ) -> Decision:
        """Decide after an HTTP answer (a 2xx or any other final answer: no retry)."""
        policy = self.policy
        self.attempts += 1
        if status not in policy.retry_statuses:
            return Decision(retry=False)
        retry_after = parse_retry_after(headers, now)
        if status == 429:  # rejected before processing: safe whatever the method
            self.rate_limited += 1
            if policy.max_rate_limit_retries is not None:
                allowed = self.rate_limited <= policy.max_rate_limit_retries
            else:
                allowed = self.failures + self.rate_limited < policy.max_attempts
            if retry_after is not None:
                delay = min(retry_after, max(policy.max_delay, policy.rate_limit_penalty or 0.0))
            elif policy.rate_limit_penalty is not None:
                delay = policy.rate_limit_penalty
            else:
                delay = policy.backoff(self.rate_limited)
            return Decision(retry=allowed, delay=delay if allowed else 0.0, rate_limited=True)
        self.failures += 1
        if not self.idempotent:
            return Decision(retry=False, outcome_unknown=status >= 500)
        if not self._may_fail_again():
            return Decision(retry=False)
        if retry_after is not None:
            return Decision(retry=True, delay=min(retry_after, policy.max_delay))
        return Decision(retry=True, delay=policy.backoff(self.failures))

    def after_transport_error(self, *, maybe_sent: bool) -> Decision:
        """Decide after an attempt that got no answer.

        ``maybe_sent`` is False only when the connection was never established
        (refused, DNS, connect timeout), so the server cannot have seen it.
        """
        self.attempts += 1
        self.failures += 1
        if maybe_sent and not self.idempotent:
            return Decision(retry=False, outcome_unknown=True)
        if not self._may_fail_again():
            return Decision(retry=False)
        return Decision(retry=True, delay=self.policy.backoff(self.failures))
