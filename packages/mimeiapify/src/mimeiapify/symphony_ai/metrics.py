"""Optional Prometheus metrics: pool queues, event-loop lag, Redis call latency.

Enabled with ``GlobalSymphonyConfig(enable_metrics=True)`` (needs the
``metrics`` extra, ``prometheus-client``). Metrics live in their own registry,
exposed as ``GlobalSymphony.get().metrics.registry``; ``render()`` gives the
text format for a ``/metrics`` endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from mimeiapify.symphony_ai.redis.redis_client import RedisClient

if TYPE_CHECKING:
    from mimeiapify.symphony_ai.globals import GlobalSymphony

_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class SymphonyMetrics:
    """Gauges and histograms for one GlobalSymphony instance."""

    def __init__(self, symphony: GlobalSymphony, lag_interval: float = 0.5) -> None:
        self.registry = CollectorRegistry()
        self.lag_interval = lag_interval
        self.pool_queue = Gauge(
            "symphony_pool_queue_length",
            "Jobs waiting for a worker thread",
            ["pool"],
            registry=self.registry,
        )
        self.pool_in_flight = Gauge(
            "symphony_pool_in_flight", "Jobs queued or running", ["pool"], registry=self.registry
        )
        self.loop_lag = Gauge(
            "symphony_loop_lag_seconds",
            "How late the event loop woke up from a timed sleep",
            registry=self.registry,
        )
        self.redis_latency = Histogram(
            "symphony_redis_call_seconds",
            "Latency of Redis commands and pipelines",
            ["command"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        for name in ("user", "tool", "agent"):
            pool = getattr(symphony, f"pool_{name}")
            self.pool_queue.labels(name).set_function(pool.queue_length)
            self.pool_in_flight.labels(name).set_function(pool.in_flight)
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, symphony: GlobalSymphony) -> SymphonyMetrics:
        metrics = cls(symphony)
        RedisClient.observer = metrics.observe_redis
        metrics._task = asyncio.get_running_loop().create_task(
            metrics._probe_lag(), name="symphony-loop-lag"
        )
        return metrics

    def observe_redis(self, command: str, seconds: float) -> None:
        self.redis_latency.labels(command).observe(seconds)

    async def _probe_lag(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.lag_interval)
            self.loop_lag.set(max(0.0, time.perf_counter() - started - self.lag_interval))

    async def stop(self) -> None:
        if RedisClient.observer == self.observe_redis:
            RedisClient.observer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def render(self) -> bytes:
        """The Prometheus text exposition of these metrics."""
        return generate_latest(self.registry)


def sample(metrics: SymphonyMetrics, name: str, **labels: Any) -> float | None:
    """One sample's value (for tests and health checks)."""
    value = metrics.registry.get_sample_value(name, labels or None)
    return None if value is None else float(value)
