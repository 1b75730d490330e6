"""Process-wide request pacing, one schedule per rate-limit key.

Airtable allows 5 requests per second per base and answers a burst with a 429
and a 30-second penalty. Every client in the process (sync or async, any
thread, any event loop) books its send time here before each request, so
many clients on one base share one budget and never need sleeps of their own.

Booking is plain arithmetic under a lock; the caller sleeps (``time.sleep``
or ``asyncio.sleep``) outside it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SlidingWindowSchedule:
    """At most ``limit`` sends in any ``window`` seconds, booked in advance.

    ``window`` is a little over one second by default so that requests booked
    exactly 200 ms apart still arrive inside the server's one-second window
    when one of them is delayed on the way.
    """

    limit: int = 5
    window: float = 1.05
    clock: Callable[[], float] = time.monotonic
    _sends: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self) -> float:
        """Book the next free send time; return how long to wait until it."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._blocked_until)
            if len(self._sends) >= self.limit:
                slot = max(slot, self._sends[-self.limit] + self.window)
            self._sends.append(slot)
            while len(self._sends) > self.limit:
                self._sends.popleft()
            return slot - now

    def penalize(self, seconds: float) -> None:
        """The server said 429: nobody sends on this key for ``seconds``."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)


class RateLimiterRegistry:
    """One :class:`SlidingWindowSchedule` per key, created on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schedules: dict[str, SlidingWindowSchedule] = {}

    def schedule(self, key: str, limit: int, window: float) -> SlidingWindowSchedule:
        with self._lock:
            found = self._schedules.get(key)
            if found is None or (found.limit, found.window) != (limit, window):
                found = SlidingWindowSchedule(limit=limit, window=window)
                self._schedules[key] = found
            return found


#: The registry every Airtable client of this process uses.
AIRTABLE_LIMITS = RateLimiterRegistry()
