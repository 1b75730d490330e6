"""What every sync-state backend offers, and the rules they share.

A backend supplies storage primitives; the sync rules built on them (where the
next sync starts, which cursor wins, how long dedup entries matter, how the
status report looks) live here once, so Redis and SQLite cannot drift apart.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

__all__ = ["RawKind", "SyncStore", "check_raw_kind", "ts_key", "ts_score"]

RawKind = Literal["channels", "users"]
_RAW_KINDS: frozenset[str] = frozenset(get_args(RawKind))


def ts_key(ts: str) -> Decimal:
    """A Slack ``ts`` (``"1700000000.000100"``) as a number that sorts exactly."""
    try:
        return Decimal(ts)
    except InvalidOperation:
        raise ValueError(f"ts: not a Slack timestamp: {ts!r}") from None


def ts_score(ts: str) -> float:
    """A ``ts`` as the float the dedup window is ordered and pruned by."""
    return float(ts_key(ts))


def check_raw_kind(kind: str) -> str:
    if kind not in _RAW_KINDS:
        raise ValueError(f"kind: expected one of {sorted(_RAW_KINDS)}, got {kind!r}")
    return kind


class SyncStore(ABC):
    """Per-org sync state: raw channels and users, the allowlist, per-channel
    ``ts`` cursors, the dedup window of seen ``(channel, ts)`` pairs, counters
    and counts of dropped messages.

    Guarantees every backend keeps, also between replicas sharing the store:
    a ``ts`` is returned by :meth:`claim_new` exactly once until released or
    pruned, a cursor never moves back, and counters add up.
    """

    def __init__(self, overlap_seconds: float) -> None:
        self.overlap = Decimal(str(overlap_seconds))
        self.clock: Callable[[], float] = time.time  # when a sync wrote a channel

    # -- shared rules ----------------------------------------------------

    def oldest_for(self, cursor: str | None) -> str:
        """Where the next sync of a channel starts: the cursor minus the overlap."""
        if cursor is None:
            return "0"
        start = max(ts_key(cursor) - self.overlap, Decimal(0))
        return f"{start:.6f}"

    @staticmethod
    def is_newer(candidate: str, current: str | None) -> bool:
        """Whether ``candidate`` should replace the stored cursor ``current``."""
        return current is None or ts_key(current) < ts_key(candidate)

    def dedup_floor(self, cursor: str) -> float:
        """Seen ``ts`` below this can no longer come back in a sync window.

        Dedup only matters inside the overlap window; keep a wide margin.
        """
        return float(ts_key(cursor) - 4 * self.overlap - 1)

    async def advance(
        self, org: str, channel: str, newest: str | None, counts: dict[str, int]
    ) -> None:
        """Add to the channel's counters, move its cursor forward (never back) and
        note when this sync wrote the channel (``last_synced_at`` in :meth:`status`)."""
        if newest is not None:
            ts_key(newest)  # refuse a malformed ts before anything is written
        await self._add_counts(org, channel, {k: v for k, v in counts.items() if v})
        await self._mark_synced(org, channel, self.clock())
        if newest is None:
            return
        cursor = await self._raise_cursor(org, channel, newest)
        await self._forget_seen_below(org, channel, self.dedup_floor(cursor))

    async def status(self, org: str) -> dict[str, Any]:
        cursors = await self.cursors(org)
        allow = await self.allowlist(org)
        dropped = await self.dropped(org)
        synced = await self.synced_at(org)
        channels: dict[str, Any] = {}
        for channel in sorted(allow | set(cursors)):
            at = synced.get(channel)
            channels[channel] = {
                "allowlisted": channel in allow,
                "cursor": cursors.get(channel),
                "last_synced_at": (
                    None if at is None else datetime.fromtimestamp(at, UTC).isoformat()
                ),
                "next_oldest": self.oldest_for(cursors.get(channel)),
                "counts": await self.counts(org, channel),
            }
        return {
            "channels": channels,
            "dropped_not_allowlisted": dropped,
            "dropped_total": sum(dropped.values()),
        }

    # -- backend primitives ----------------------------------------------

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def put_raw(self, org: str, kind: str, items: dict[str, str]) -> None:
        """Store channels or users (id -> Slack JSON), replacing same ids."""

    @abstractmethod
    async def get_raw(self, org: str, kind: str) -> dict[str, str]: ...

    async def raw_page(
        self, org: str, kind: str, offset: int, limit: int
    ) -> tuple[list[tuple[str, str]], int]:
        """Channels or users ``offset`` to ``offset + limit`` in id order, and how many
        there are (stores override this to read only the page)."""
        items = sorted((await self.get_raw(org, kind)).items())
        return items[offset : offset + limit], len(items)

    @abstractmethod
    async def set_allowlist(self, org: str, channel_ids: Iterable[str]) -> None:
        """Replace the allowlist as a whole."""

    @abstractmethod
    async def allowlist(self, org: str) -> set[str]: ...

    @abstractmethod
    async def cursors(self, org: str) -> dict[str, str]: ...

    @abstractmethod
    async def claim_new(self, org: str, channel: str, ts_values: list[str]) -> list[str]:
        """Record ``ts_values`` as seen; return those not seen before (in input order)."""

    @abstractmethod
    async def release(self, org: str, channel: str, ts_values: list[str]) -> None:
        """Forget ``ts_values`` (their delivery failed, so a retry must not be a duplicate)."""

    @abstractmethod
    async def count_dropped(self, org: str, channel: str, dropped: int) -> None: ...

    @abstractmethod
    async def dropped(self, org: str) -> dict[str, int]: ...

    @abstractmethod
    async def counts(self, org: str, channel: str) -> dict[str, int]: ...

    @abstractmethod
    async def _add_counts(self, org: str, channel: str, counts: dict[str, int]) -> None: ...

    @abstractmethod
    async def _raise_cursor(self, org: str, channel: str, newest: str) -> str:
        """Atomically set the cursor to ``newest`` if :meth:`is_newer`; return the cursor."""

    @abstractmethod
    async def synced_at(self, org: str) -> dict[str, float]:
        """When a sync last wrote each channel (Unix seconds)."""

    @abstractmethod
    async def _mark_synced(self, org: str, channel: str, at: float) -> None:
        """Record that a sync wrote ``channel`` at ``at`` (the later time wins)."""

    @abstractmethod
    async def _forget_seen_below(self, org: str, channel: str, floor: float) -> None: ...
