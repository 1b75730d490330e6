"""The platform's one retry policy (common_core.retry): when resending is safe, how long to wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common_core.retry import RetryPolicy, is_idempotent, parse_retry_after

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


def test_idempotency_comes_from_the_method_a_declaration_or_an_idempotency_key() -> None:
    assert is_idempotent("get") and is_idempotent("PUT") and is_idempotent("DELETE")
    assert not is_idempotent("POST") and not is_idempotent("PATCH")
    assert is_idempotent("POST", {"idempotency-key": "order-42"})
    assert not is_idempotent("POST", {"Idempotency-Key": "  "})
    assert is_idempotent("PATCH", declared=True) and not is_idempotent("GET", declared=False)
    assert is_idempotent("POST", {"Idempotency-Key": "k"}, declared=False)


def test_a_post_is_not_resent_once_it_may_have_arrived() -> None:
    read_timeout = FAST.start("POST").after_transport_error(maybe_sent=True)
    assert not read_timeout.retry and read_timeout.outcome_unknown
    server_error = FAST.start("POST").after_response(503, {"Retry-After": "0"})
    assert not server_error.retry and server_error.outcome_unknown
    # a 408 is an answer that it was not processed: no retry, but nothing unknown
    rejected = FAST.start("POST").after_response(408)
    assert not rejected.retry and not rejected.outcome_unknown


def test_a_post_that_never_left_or_was_rate_limited_or_carries_a_key_is_resent() -> None:
    refused = FAST.start("POST")
    decisions = [refused.after_transport_error(maybe_sent=False) for _ in range(3)]
    assert [d.retry for d in decisions] == [True, True, False]
    assert not any(d.outcome_unknown for d in decisions) and refused.attempts == 3
    assert FAST.start("POST").after_response(429).retry
    keyed = FAST.start("POST", {"Idempotency-Key": "msg-1"})
    assert keyed.after_transport_error(maybe_sent=True).retry
    assert keyed.after_response(502).retry
    assert not keyed.after_response(502).retry  # max_attempts=3 bounds it


def test_final_answers_are_not_retried_and_every_attempt_is_counted() -> None:
    for status in (200, 201, 400, 401, 404, 409, 422, 501):
        retrying = FAST.start("GET")
        assert not retrying.after_response(status).retry, status
        assert retrying.attempts == 1


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_capped() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"Retry-After": "Thu, 01 Jan 2026 00:00:07 GMT"}, now) == 7.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after(None) is None
    policy = RetryPolicy(max_delay=5.0)
    assert policy.start("GET").after_response(503, {"Retry-After": "3"}).delay == 3.0
    assert policy.start("GET").after_response(503, {"Retry-After": "60"}).delay == 5.0
    assert policy.start("GET").after_response(429, {"Retry-After": "1"}).delay == 1.0


def test_backoff_is_jittered_under_a_growing_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (9, 4.0)):
        assert all(0 <= policy.backoff(failures) <= ceiling for _ in range(200))


def test_a_429_shares_max_attempts_unless_it_has_its_own_budget() -> None:
    shared = RetryPolicy(max_attempts=2, base_delay=0.0).start("GET")
    assert [shared.after_response(429).retry for _ in range(2)] == [True, False]
    own = RetryPolicy(max_attempts=1, rate_limit_penalty=30.0, max_rate_limit_retries=2)
    retrying = own.start("POST")
    limited = [retrying.after_response(429) for _ in range(3)]
    assert [(d.retry, d.delay, d.rate_limited) for d in limited] == [
        (True, 30.0, True), (True, 30.0, True), (False, 0.0, True),
    ]  # fmt: skip
    assert not retrying.after_transport_error(maybe_sent=False).retry  # max_attempts=1


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="max_delay"):
        RetryPolicy(max_delay=-1)
    with pytest.raises(ValueError, match="rate_limit_penalty"):
        RetryPolicy(rate_limit_penalty=-1)
    with pytest.raises(ValueError, match="max_rate_limit_retries"):
        RetryPolicy(max_rate_limit_retries=-1)
