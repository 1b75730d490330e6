"""The sans-I/O contract shared by every connector.

A connector operation is written once as a *plan*: a generator that yields
steps (:class:`HttpRequest`, :class:`Sleep`, :class:`Emit`) and receives the
outcome of each request (:class:`HttpResponse` or :class:`TransportFailure`).
The plan decides everything (URLs, bodies, pagination, batching, retries,
rate-limit waits); the sync and async drivers in :mod:`mimeiapify._drivers`
only move bytes and sleep.
"""

from __future__ import annotations

import json as _json
import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # False for a request that must not be sent twice when its outcome is unknown
    # (a plain create): a retry could duplicate what the first attempt wrote.
    idempotent: bool = True


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return {}
        return _json.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None


@dataclass(frozen=True)
class TransportFailure:
    """The request got no HTTP response.

    ``maybe_sent`` is False only when the connection was never established,
    so the server cannot have seen the request.
    """

    error: BaseException
    maybe_sent: bool


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """A value handed to the caller mid-plan (one page of an iterator)."""

    value: Any


Step = HttpRequest | Sleep | Emit
Reply = HttpResponse | TransportFailure | None
Plan = Generator[Step, Reply, T]


@dataclass(frozen=True)
class RetryPolicy:
    """How a connector retries.

    ``rate_limit_penalty`` is how long to wait after a 429 before trying again
    (Airtable documents 30 seconds). Server errors (5xx) and connection errors
    back off exponentially with full jitter, capped at ``backoff_cap``.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    rate_limit_penalty: float = 30.0
    max_rate_limit_retries: int = 3

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        # jitter spreads retries of many clients; not a security use of randomness
        return random.uniform(0, ceiling)  # noqa: S311


class OutcomeUnknown(Exception):
    """Internal marker: a non-idempotent request failed after it may have been sent."""

    def __init__(self, reply: HttpResponse | TransportFailure) -> None:
        super().__init__(reply)
        self.reply = reply


def exchange(
    request: HttpRequest,
    policy: RetryPolicy,
    *,
    before_send: Callable[[], float] | None = None,
    on_rate_limited: Callable[[float], None] | None = None,
) -> Plan[HttpResponse | TransportFailure]:
    """Send ``request`` with the retry policy; return the final reply.

    ``before_send`` returns how long to wait before this attempt (a rate
    limiter's booking). ``on_rate_limited`` hears of a 429 with the penalty,
    so every client of the same rate-limit key can wait it out.

    A non-idempotent request is re-sent only when the earlier attempt surely
    did not reach the server (connection refused, or a 429 rejection); a 5xx or
    a dropped connection raises :class:`OutcomeUnknown` instead.
    """
    failures = 0
    rate_limited = 0
    while True:
        if before_send is not None:
            wait = before_send()
            if wait > 0:
                yield Sleep(wait)
        reply = yield request
        if isinstance(reply, HttpResponse):
            if reply.status == 429 and rate_limited < policy.max_rate_limit_retries:
                rate_limited += 1
                if on_rate_limited is not None:
                    on_rate_limited(policy.rate_limit_penalty)
                else:
                    yield Sleep(policy.rate_limit_penalty)
                continue
            if reply.status >= 500:
                if not request.idempotent:
                    raise OutcomeUnknown(reply)
                if failures < policy.max_retries:
                    yield Sleep(policy.backoff(failures))
                    failures += 1
                    continue
            return reply
        if isinstance(reply, TransportFailure):
            if reply.maybe_sent and not request.idempotent:
                raise OutcomeUnknown(reply)
            if failures < policy.max_retries:
                yield Sleep(policy.backoff(failures))
                failures += 1
                continue
            return reply
        raise TypeError(f"a driver answered a request with {reply!r}")
