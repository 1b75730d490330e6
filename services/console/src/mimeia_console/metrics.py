"""Samples the services' Prometheus metrics and turns them into small series.

The console scrapes each ``/metrics`` every ``CONSOLE_METRICS_INTERVAL_SECONDS``
and keeps the last hour in memory (a bounded ring); charts are rates and
ratios between consecutive samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import httpx
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)
KEEP_SECONDS = 3600


@dataclass(frozen=True)
class Sample:
    at: float
    values: dict[str, float]  # "name{label=value,...}" -> value


def flatten(text: str) -> dict[str, float]:
    """Prometheus text -> {"name{k=v,...}": value} (labels sorted)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = float(s.value)
    return out


def total(
    values: dict[str, float], name: str, where: Callable[[str], bool] = lambda _: True
) -> float:
    """The sum of every series of ``name`` whose labels pass ``where``."""
    prefix = name + "{"
    return sum(v for k, v in values.items() if k.startswith(prefix) and where(k[len(prefix) : -1]))


class Sampler:
    def __init__(self, http: httpx.AsyncClient, targets: dict[str, str], interval: float) -> None:
        self._http = http
        self.targets = {k: v for k, v in targets.items() if v}
        self.interval = interval
        keep = max(2, int(KEEP_SECONDS / interval) + 1)
        self.samples: dict[str, deque[Sample]] = {k: deque(maxlen=keep) for k in self.targets}
        self._task: asyncio.Task[None] | None = None

    async def sample_once(self) -> None:
        for name, url in self.targets.items():
            try:
                response = await self._http.get(url, timeout=2.0)
                response.raise_for_status()
                values = flatten(response.text)
            except (httpx.HTTPError, ValueError) as exc:
                log.debug("metrics of %s not sampled: %s", name, type(exc).__name__)
                continue
            self.samples[name].append(Sample(time.time(), values))

    async def _loop(self) -> None:
        while True:
            await self.sample_once()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None and self.targets:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def rate(
        self, target: str, name: str, where: Callable[[str], bool] = lambda _: True
    ) -> list[tuple[float, float]]:
        """Per-second increase of a counter between consecutive samples."""
        points = []
        ring = list(self.samples.get(target, ()))
        for a, b in pairwise(ring):
            dt = b.at - a.at
            if dt > 0:
                delta = total(b.values, name, where) - total(a.values, name, where)
                points.append((b.at, max(0.0, delta) / dt))  # a restart resets counters
        return points

    def ratio(
        self,
        target: str,
        num: str,
        den: str,
        scale: float = 1.0,
        num_where: Callable[[str], bool] = lambda _: True,
    ) -> list[tuple[float, float]]:
        """Increase of ``num`` over increase of ``den`` between samples (latency, error share)."""
        points = []
        ring = list(self.samples.get(target, ()))
        for a, b in pairwise(ring):
            d_den = total(b.values, den) - total(a.values, den)
            d_num = total(b.values, num, num_where) - total(a.values, num, num_where)
            points.append((b.at, (d_num / d_den * scale) if d_den > 0 else 0.0))
        return points

    def gauge(
        self, target: str, name: str, where: Callable[[str], bool] = lambda _: True
    ) -> list[tuple[float, float]]:
        return [(s.at, total(s.values, name, where)) for s in self.samples.get(target, ())]
