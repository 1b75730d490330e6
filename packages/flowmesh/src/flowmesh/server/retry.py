"""Retry decisions, free of I/O: the backoff before a failed job's next attempt."""

from __future__ import annotations

import random

from flowmesh.server.store.records import RetryPolicy

# Attempts a Lua script can look a backoff up for; later ones reuse the last.
SCHEDULE_CAP = 100


def base_backoff_ms(policy: RetryPolicy, attempts: int) -> float:
    """Delay after the ``attempts``-th delivery failed, before jitter: ``fixed`` keeps
    the initial backoff, ``linear`` grows it by itself each attempt, ``exponential``
    multiplies it; all are capped at ``max_backoff_ms``."""
    n = max(1, attempts)
    if policy.backoff_strategy == "fixed":
        base = float(policy.initial_backoff_ms)
    elif policy.backoff_strategy == "linear":
        base = float(policy.initial_backoff_ms) * n
    else:
        base = policy.initial_backoff_ms * policy.backoff_multiplier ** min(n - 1, 1000)
    return min(float(policy.max_backoff_ms), base)


def backoff_ms(policy: RetryPolicy, attempts: int, rng: random.Random | None = None) -> int:
    """The jittered delay (+/- ``policy.jitter``), still within the cap."""
    base = base_backoff_ms(policy, attempts)
    if policy.jitter > 0:
        spread = (rng or random).uniform(-policy.jitter, policy.jitter)
        base *= 1.0 + spread
    return int(max(0.0, min(float(policy.max_backoff_ms), base)))


def backoff_schedule(policy: RetryPolicy, rng: random.Random | None = None) -> list[int]:
    """Jittered backoff for each attempt 1..max_attempts (capped at SCHEDULE_CAP
    entries for unlimited policies): what a Lua script can index."""
    count = policy.max_attempts if policy.max_attempts > 0 else SCHEDULE_CAP
    return [backoff_ms(policy, n, rng) for n in range(1, min(count, SCHEDULE_CAP) + 1)]


def is_last_attempt(policy: RetryPolicy, attempts: int) -> bool:
    """True when a job delivered ``attempts`` times may not be tried again
    (never, for ``max_attempts == 0``: unlimited)."""
    return 0 < policy.max_attempts <= attempts
