"""The I/O-free parts: retry backoff, token parsing, partition choice, validation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowmesh.server.auth import Authenticator, PermissionDenied, Unauthenticated, parse_tokens
from flowmesh.server.retry import backoff_ms, backoff_schedule, is_last_attempt
from flowmesh.server.store.base import RetryPolicy, partition_for
from flowmesh.server.validation import InvalidArgument, name


def test_backoff_grows_and_caps_without_jitter():
    policy = RetryPolicy(max_attempts=6, initial_backoff_ms=100, max_backoff_ms=1000,
                         backoff_multiplier=3.0, jitter=0.0)  # fmt: skip
    assert backoff_schedule(policy) == [100, 300, 900, 1000, 1000, 1000]
    assert not is_last_attempt(policy, 5) and is_last_attempt(policy, 6)


@given(attempt=st.integers(1, 50), jitter=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_jittered_backoff_stays_within_bounds(attempt: int, jitter: float, seed: int):
    policy = RetryPolicy(max_attempts=50, initial_backoff_ms=200, max_backoff_ms=30_000,
                         backoff_multiplier=2.0, jitter=jitter)  # fmt: skip
    base = min(30_000, 200 * 2 ** (attempt - 1))
    got = backoff_ms(policy, attempt, random.Random(seed))
    assert base * (1 - jitter) - 1 <= got <= min(30_000, base * (1 + jitter))


def test_jitter_spreads_retries():
    policy = RetryPolicy(initial_backoff_ms=1000, jitter=0.5)
    rng = random.Random(7)
    assert len({backoff_ms(policy, 1, rng) for _ in range(50)}) > 30


def test_token_config_parsing_and_checks():
    tokens = parse_tokens("token1=tenantA,tenantB;token2=tenantC\n# comment\nroot = *")
    assert tokens == {"token1": frozenset({"tenantA", "tenantB"}),
                      "token2": frozenset({"tenantC"}), "root": frozenset({"*"})}  # fmt: skip
    auth = Authenticator(tokens)
    allowed = auth.tenants_for("Bearer token1")
    auth.check(allowed, "tenantB")
    with pytest.raises(PermissionDenied):
        auth.check(allowed, "tenantC")
    auth.check(auth.tenants_for("bearer root"), "anyone")
    for header in (None, "", "token1", "Basic token1", "Bearer ", "Bearer token3"):
        with pytest.raises(Unauthenticated):
            auth.tenants_for(header)
    for bad in ("token-without-tenants=", "=tenant", "plain"):
        with pytest.raises(ValueError, match="expected token=tenant"):
            parse_tokens(bad)
    assert Authenticator({}).tenants_for(None) is None  # open mode


def test_error_message_does_not_echo_the_token():
    with pytest.raises(ValueError) as info:
        parse_tokens("supersecretvalue")
    assert "supersecretvalue" not in str(info.value)


@given(key=st.text(min_size=1, max_size=40), partitions=st.integers(1, 64))
def test_partition_for_is_stable_and_in_range(key: str, partitions: int):
    p = partition_for({"key": key}, partitions)
    assert 0 <= p < partitions and p == partition_for({"key": key}, partitions)


def test_partition_without_key_is_zero():
    assert partition_for({}, 8) == 0


@pytest.mark.parametrize("value", ["a", "A-b_c.d", "9" * 128])
def test_names_accepted(value: str):
    assert name(value, "f") == value


@pytest.mark.parametrize("value", ["", "-a", ".a", "a b", "a/b", "a:b", "é", "a" * 129, "a\n"])
def test_names_rejected_with_the_field(value: str):
    with pytest.raises(InvalidArgument, match=r"^queue\.name: "):
        name(value, "queue.name")
