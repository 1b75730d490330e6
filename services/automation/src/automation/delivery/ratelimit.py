"""Rate limits for deliveries (per webhook endpoint, per notification channel and
recipient), on the `limits` library: Redis in production, memory when embedded."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.limits import RateLimitItemPerSecond
from limits.storage import storage_from_string


class RateLimitExceeded(Exception):
    """A limit is used up; ``retry_after`` says how many seconds until it has room."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.what = what
        self.retry_after = retry_after
        super().__init__(f"rate limit for {what} reached; retry in {retry_after:.0f}s")


def parse_limit(text: str, field: str) -> RateLimitItem | None:
    """``"100/minute"`` -> a limit; empty -> no limit; otherwise ValueError naming ``field``."""
    if not text.strip():
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{field}: not a rate limit like '100/minute': {text!r}") from exc


class DeliveryLimiter:
    """Counts deliveries in moving windows under one key prefix."""

    def __init__(self, storage_url: str = "async+memory://", *, prefix: str = "delivery") -> None:
        # redis-py (already a dependency) rather than the library's default coredis
        options = {"implementation": "redispy"} if storage_url.startswith("async+redis") else {}
        storage = storage_from_string(storage_url, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"rate limit storage {storage_url!r} is not an async+ storage")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._prefix = prefix

    async def take(self, limit: RateLimitItem | None, *key: str) -> float | None:
        """Count one delivery; None when allowed, else seconds until there is room."""
        if limit is None:
            return None
        if await self._limiter.hit(limit, self._prefix, *key):
            return None
        stats = await self._limiter.get_window_stats(limit, self._prefix, *key)
        return max(0.05, stats.reset_time - time.time())

    async def check(self, limit: RateLimitItem | None, what: str, *key: str) -> None:
        wait = await self.take(limit, *key)
        if wait is not None:
            raise RateLimitExceeded(what, wait)

    async def per_second(self, amount: int | None, *key: str) -> float | None:
        """For a per-second limit stored as a number (a webhook endpoint's ``rate_limit``)."""
        return None if not amount else await self.take(RateLimitItemPerSecond(amount), *key)
