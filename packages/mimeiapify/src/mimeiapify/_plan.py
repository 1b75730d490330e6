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
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from common_core.retry import RetryPolicy

__all__ = ["CONNECTOR_RETRY", "RetryPolicy"]  # the rest is internal to the connectors

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
    # a multipart/form-data body instead of JSON: text fields and files
    form: tuple[tuple[str, str], ...] = ()
    files: tuple[FilePart, ...] = ()
    # stream a 2xx body into this file instead of memory (refusing more than
    # ``max_bytes``); the response's ``body`` is then empty
    save_to: str | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart body: its bytes, or a path the driver opens on every attempt."""

    name: str
    filename: str
    content_type: str
    data: bytes | None = None
    path: str | None = None


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


# The connectors' defaults for the platform's one retry policy: five attempts
# with backoff up to 8 s, and a 429 (which Airtable answers without
# Retry-After) waits 30 s on a budget of its own.
CONNECTOR_RETRY = RetryPolicy(
    max_attempts=5,
    base_delay=0.5,
    max_delay=8.0,
    rate_limit_penalty=30.0,
    max_rate_limit_retries=3,
)


class OutcomeUnknown(Exception):
    """Internal marker: a non-idempotent request failed after it may have been sent."""

    def __init__(self, reply: HttpResponse | TransportFailure) -> None:
        super().__init__(reply)
        self.reply = reply


class Pacing(Protocol):
    """A rate-limit schedule (see :class:`mimeiapify.ratelimit.SlidingWindowSchedule`)."""

    def take(self) -> Any: ...

    def wait(self, ticket: Any) -> float: ...

    def finish(self, ticket: Any) -> None: ...

    def penalize(self, seconds: float) -> None: ...


def _paced_send(request: HttpRequest, pacing: Pacing | None) -> Plan[Reply]:
    """Wait for our turn on the schedule, send, and tell the schedule we are done."""
    if pacing is None:
        return (yield request)
    ticket = pacing.take()
    try:
        while (wait := pacing.wait(ticket)) > 0:
            yield Sleep(wait)
        return (yield request)
    finally:
        # also when the caller gave up (task cancelled, plan closed) mid-wait
        pacing.finish(ticket)


def exchange(
    request: HttpRequest, policy: RetryPolicy, *, pacing: Pacing | None = None
) -> Plan[HttpResponse | TransportFailure]:
    """Send ``request`` with the retry policy; return the final reply.

    With ``pacing`` every attempt waits for its turn on that schedule, and a
    429 holds the whole schedule for the penalty (every client of the same
    base waits it out); without it a 429 just sleeps the penalty.

    The decisions are :class:`common_core.retry.RetryPolicy`'s, the platform's
    one policy: a non-idempotent request (``idempotent=False`` and no
    ``Idempotency-Key`` header) is re-sent only when the earlier attempt surely
    did not reach the server (connection refused, or a 429 rejection); a 5xx or
    a dropped connection raises :class:`OutcomeUnknown` instead.
    """
    retrying = policy.start(request.method, request.headers, idempotent=request.idempotent)
    while True:
        reply = yield from _paced_send(request, pacing)
        if isinstance(reply, HttpResponse):
            decision = retrying.after_response(reply.status, reply.headers)
        elif isinstance(reply, TransportFailure):
            decision = retrying.after_transport_error(maybe_sent=reply.maybe_sent)
        else:
            raise TypeError(f"a driver answered a request with {reply!r}")
        if decision.outcome_unknown:
            raise OutcomeUnknown(reply)
        if not decision.retry:
            return reply
        if decision.rate_limited and pacing is not None:
            pacing.penalize(decision.delay)
        else:
            yield Sleep(decision.delay)


@dataclass(frozen=True)
class ApiErrors:
    """How one connector names its failures (see :func:`call_json`)."""

    api_name: str
    from_response: Callable[[HttpResponse], Exception]
    outcome_unknown: Callable[..., Exception]  # (message, *, payload, status)
    connection: Callable[[str], Exception]
    server: Callable[..., Exception]  # (message, *, status)


def call_json(
    request: HttpRequest,
    policy: RetryPolicy,
    errors: ApiErrors,
    *,
    pacing: Pacing | None = None,
) -> Plan[Any]:
    """:func:`exchange`, then the JSON body of a 2xx answer or the connector's typed error."""
    try:
        reply = yield from exchange(request, policy, pacing=pacing)
    except OutcomeUnknown as unknown:
        failed = unknown.reply
        status = failed.status if isinstance(failed, HttpResponse) else None
        why = f"HTTP {status}" if isinstance(failed, HttpResponse) else repr(failed.error)
        raise errors.outcome_unknown(
            f"{request.method} {request.url} may or may not have been applied ({why}); "
            "it was not re-sent to avoid duplicates",
            payload=request.json,
            status=status,
        ) from None
    if not isinstance(reply, HttpResponse):
        raise errors.connection(
            f"could not reach {errors.api_name} at {request.url}: {reply.error!r}"
        ) from reply.error
    if reply.status >= 300:
        raise errors.from_response(reply)
    try:
        return reply.json()
    except ValueError as exc:
        raise errors.server(
            f"{errors.api_name} answered with a body that is not JSON", status=reply.status
        ) from exc
