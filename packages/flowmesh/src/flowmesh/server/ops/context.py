"""What every group of operations shares: the store, the limits, the metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flowmesh.server.feed import ChangeFeed, Notice, topic
from flowmesh.server.metrics import Metrics
from flowmesh.server.store.base import Store
from flowmesh.server.validation import Limits

# A subscriber or long poll re-reads the store this often even without a
# wake-up, so a lost notification (e.g. a Redis pub/sub reconnect) delays
# delivery, never stops it. Writes wake waiters directly; this is the fallback.
SAFETY_RECHECK_S = 2.0


@dataclass
class OpsContext:
    store: Store
    limits: Limits = field(default_factory=Limits)
    metrics: Metrics = field(default_factory=Metrics)
    dedup_window_ms: int = 300_000
    recheck_seconds: float = SAFETY_RECHECK_S
    feed: ChangeFeed = field(default_factory=ChangeFeed)

    def changed(self, kind: str, path: str, notice: Notice) -> None:
        """Tell live views that a stream, queue or KV store changed."""
        name = topic(kind, path)
        if self.feed.watched(name):
            self.feed.publish(name, notice)


def now_ms() -> int:
    return int(time.time() * 1000)


def ns_to_ms(nanos: int) -> int:
    """The millisecond ``nanos`` falls in. Times are stored to the millisecond, so a
    start time selects from its whole millisecond on: a message written just after
    it, in the same millisecond, is never missed."""
    return nanos // 1_000_000
