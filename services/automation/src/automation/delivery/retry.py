"""When to try a webhook message again, free of I/O and of the wall clock.

The schedule lists the wait before each attempt; the first entry (0) is the
immediate try. Jitter spreads retries of many messages apart so a recovering
receiver is not hit by all of them at the same second. ``Retry-After`` from
the receiver (429/503) replaces the scheduled wait when it is longer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_SCHEDULE_SECONDS: tuple[float, ...] = (
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
)
# A receiver may ask for a long pause, but never longer than our longest step.
_MAX_RETRY_AFTER_SECONDS = 10 * 3600


@dataclass(frozen=True)
class RetrySchedule:
    """Waits before each attempt (``delays[0]`` is the first try) and jitter.

    ``jitter`` is a fraction: a wait of 300 s with jitter 0.1 becomes 270-330 s.
    ``rand`` returns a float in [0, 1); tests pass a fixed one.
    """

    delays: tuple[float, ...] = DEFAULT_SCHEDULE_SECONDS
    jitter: float = 0.1
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.delays:
            raise ValueError("retry schedule: at least one attempt is needed")
        if any(d < 0 for d in self.delays):
            raise ValueError("retry schedule: waits cannot be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("retry schedule: jitter must be in [0, 1)")

    @classmethod
    def parse(cls, text: str, *, jitter: float = 0.1) -> RetrySchedule:
        """Read ``"0,5,300,1800"`` (seconds) as configured in the environment."""
        try:
            delays = tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise ValueError(f"retry schedule: not a list of seconds: {text!r}") from exc
        return cls(delays=delays, jitter=jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    def wait_before(self, attempt: int, *, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt number ``attempt`` (1-based); None when exhausted."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        if attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1]
        spread = base * self.jitter * (2 * self.rand() - 1)
        wait = base + spread
        if retry_after is not None:
            wait = max(wait, min(retry_after, _MAX_RETRY_AFTER_SECONDS))
        return wait

    def next_attempt_at(
        self, attempts_made: int, now: datetime, *, retry_after: float | None = None
    ) -> datetime | None:
        """When the attempt after ``attempts_made`` is due; None when no attempt is left."""
        wait = self.wait_before(attempts_made + 1, retry_after=retry_after)
        return None if wait is None else now + timedelta(seconds=wait)
