"""Retry decisions, free of I/O: the backoff before a failed job's next attempt."""

from __future__ import annotations

import random

from flowmesh.server.store.base import RetryPolicy


def backoff_ms(policy: RetryPolicy, attempts: int, rng: random.Random | None = None) -> int:
    """Delay after the ``attempts``-th delivery failed: exponential, capped, jittered."""
    exponent = max(0, attempts - 1)
    base = min(
        float(policy.max_backoff_ms),
        policy.initial_backoff_ms * policy.backoff_multiplier**exponent,
    )
    if policy.jitter > 0:
        spread = (rng or random).uniform(-policy.jitter, policy.jitter)
        base *= 1.0 + spread
    return int(max(0.0, min(float(policy.max_backoff_ms), base)))


def backoff_schedule(policy: RetryPolicy, rng: random.Random | None = None) -> list[int]:
    """Jittered backoff for each attempt 1..max_attempts (what a Lua script can index)."""
    return [backoff_ms(policy, n, rng) for n in range(1, policy.max_attempts + 1)]


def is_last_attempt(policy: RetryPolicy, attempts: int) -> bool:
    return attempts >= policy.max_attempts
