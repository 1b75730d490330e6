"""The connectors' plan retries by the platform's one policy (common_core.retry).

The plan is sans-I/O, so it is driven here step by step: each test feeds the
replies a transport would and reads which step the plan takes next.
"""

from __future__ import annotations

import dataclasses

import pytest

from common_core.retry import RetryPolicy
from mimeiapify import CONNECTOR_RETRY
from mimeiapify._plan import (
    HttpRequest,
    HttpResponse,
    OutcomeUnknown,
    Sleep,
    TransportFailure,
    exchange,
)

FAST = dataclasses.replace(CONNECTOR_RETRY, base_delay=0.0, max_delay=0.0)
READ_TIMEOUT = TransportFailure(TimeoutError("read"), maybe_sent=True)
REFUSED = TransportFailure(ConnectionRefusedError(), maybe_sent=False)
OK = HttpResponse(200, {}, b"{}")


def test_connectors_use_the_shared_policy() -> None:
    assert isinstance(CONNECTOR_RETRY, RetryPolicy)
    assert CONNECTOR_RETRY.rate_limit_penalty == 30.0


def test_a_create_is_not_resent_after_a_read_timeout() -> None:
    create = HttpRequest("POST", "https://api.example/v0/app/tbl", json={"a": 1}, idempotent=False)
    plan = exchange(create, FAST)
    assert plan.send(None) is create
    with pytest.raises(OutcomeUnknown):
        plan.send(READ_TIMEOUT)


def test_a_create_is_resent_when_it_never_left() -> None:
    create = HttpRequest("POST", "https://api.example/v0/app/tbl", idempotent=False)
    plan = exchange(create, FAST)
    plan.send(None)
    assert isinstance(plan.send(REFUSED), Sleep)
    assert plan.send(None) is create
    with pytest.raises(StopIteration) as done:
        plan.send(OK)
    assert done.value.value is OK


def test_an_idempotency_key_makes_a_create_safe_to_resend() -> None:
    create = HttpRequest("POST", "https://api.example/v1/transactions",
                         headers={"Idempotency-Key": "ref-42"}, idempotent=False)  # fmt: skip
    plan = exchange(create, FAST)
    plan.send(None)
    assert isinstance(plan.send(READ_TIMEOUT), Sleep)
    assert plan.send(None) is create
    assert isinstance(plan.send(HttpResponse(503, {}, b"")), Sleep)
    assert plan.send(None) is create


def test_a_429_waits_retry_after_when_the_server_sends_one() -> None:
    read = HttpRequest("GET", "https://api.example/v0/app/tbl")
    plan = exchange(read, FAST)
    plan.send(None)
    assert plan.send(HttpResponse(429, {"Retry-After": "2"}, b"")) == Sleep(2.0)
    assert plan.send(None) is read
    assert plan.send(HttpResponse(429, {}, b"")) == Sleep(30.0)  # the penalty otherwise
