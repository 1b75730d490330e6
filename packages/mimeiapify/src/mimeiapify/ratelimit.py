"""Process-wide request pacing, one schedule per rate-limit key.

Airtable allows 5 requests per second per base and answers a burst with a 429
and a 30-second penalty. Every client in the process (sync or async, any
thread, any event loop) takes a :class:`Ticket` here before each request, so
many clients on one base share one budget and never need sleeps of their own.

The rule that makes a 429 impossible from this process: a request may leave
only once the request ``limit`` places before it has *finished* at least
``window`` seconds ago. The server stamped that earlier request at some
moment before its answer came back, and stamps this one after it leaves, so
the two are at least ``window`` apart on the server's clock too, however late
either side ran (a loaded machine, a slow network). On loopback this costs
nothing measurable; on a slow link it trades a little throughput for never
drawing the penalty.

Everything here is arithmetic under a lock; callers sleep (``time.sleep`` or
``asyncio.sleep``) outside it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# how often to look again while the request we depend on is still in flight
POLL_SECONDS = 0.01
# a request still "in flight" after this long was abandoned without a word
STALE_SECONDS = 300.0


@dataclass(eq=False)
class Ticket:
    """One request's place in a schedule."""

    planned: float
    after: Ticket | None  # the request `limit` places earlier, until we have left
    finished_at: float | None = None


@dataclass
class SlidingWindowSchedule:
    """At most ``limit`` requests in any ``window`` seconds, on the server's clock."""

    limit: int = 5
    window: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _tickets: deque[Ticket] = field(default_factory=deque, repr=False)
    _blocked_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> Ticket:
        """Queue a request; its first estimate of when it may leave is ``planned``."""
        with self._lock:
            now = self.clock()
            after = self._tickets[-self.limit] if len(self._tickets) >= self.limit else None
            planned = max(now, self._blocked_until)
            if after is not None:
                planned = max(planned, after.planned + self.window)
            ticket = Ticket(planned, after)
            self._tickets.append(ticket)
            while len(self._tickets) > self.limit:
                self._tickets.popleft()
            return ticket

    def wait(self, ticket: Ticket) -> float:
        """Seconds to sleep before sending; 0 means send now (and the ticket is spent)."""
        with self._lock:
            now = self.clock()
            ready = max(ticket.planned, self._blocked_until)
            after = ticket.after
            if after is not None:
                if after.finished_at is not None:
                    ready = max(ready, after.finished_at + self.window)
                elif now - after.planned < STALE_SECONDS:
                    return max(ready - now, POLL_SECONDS)
            if ready > now:
                return ready - now
            ticket.after = None  # sent: the chain behind us can be collected
            return 0.0

    def finish(self, ticket: Ticket) -> None:
        """The request was answered, failed, or was abandoned."""
        with self._lock:
            if ticket.finished_at is None:
                ticket.finished_at = self.clock()
            ticket.after = None

    def penalize(self, seconds: float) -> None:
        """The server said 429: nobody sends on this key for ``seconds``."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)


class RateLimiterRegistry:
    """One :class:`SlidingWindowSchedule` per key and limit, created on first use.

    Clients that agree on the limit share a schedule; a client configured with
    another limit for the same key gets its own (rather than resetting theirs).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schedules: dict[tuple[str, int, float], SlidingWindowSchedule] = {}

    def schedule(self, key: str, limit: int, window: float) -> SlidingWindowSchedule:
        with self._lock:
            found = self._schedules.get((key, limit, window))
            if found is None:
                found = SlidingWindowSchedule(limit=limit, window=window)
                self._schedules[(key, limit, window)] = found
            return found


#: The registry every Airtable client of this process uses.
AIRTABLE_LIMITS = RateLimiterRegistry()
