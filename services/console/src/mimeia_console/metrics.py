"""Samples the services' Prometheus metrics and turns them into small series.

The console scrapes each ``/metrics`` every ``CONSOLE_METRICS_INTERVAL_SECONDS``
and keeps the last hour in memory (a bounded ring); charts are rates, ratios
and histogram quantiles of the increase between consecutive samples. A target
may need a bearer token (the automation service's ``METRICS_TOKEN``); it is
sent in the Authorization header and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
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


def _le(labels: str) -> float | None:
    """The ``le`` bound of a histogram bucket's labels, None when there is none."""
    for pair in labels.split(","):
        if pair.startswith("le="):
            return float(pair[3:])
    return None


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The ``q`` quantile of cumulative ``(le, count)`` buckets (sorted by le), interpolated
    linearly inside the bucket it falls in; the last finite bound when it falls in +Inf."""
    if not buckets or buckets[-1][1] <= 0:
        return 0.0
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


class Sampler:
    def __init__(
        self,
        http: httpx.AsyncClient,
        targets: dict[str, str],
        interval: float,
        tokens: Mapping[str, str | None] | None = None,
    ) -> None:
        self._http = http
        self.targets = {k: v for k, v in targets.items() if v}
        self.interval = interval
        keep = max(2, int(KEEP_SECONDS / interval) + 1)
        self.samples: dict[str, deque[Sample]] = {k: deque(maxlen=keep) for k in self.targets}
        # why the last scrape of a target failed ("HTTP 401", "ConnectError"), for the page
        self.problems: dict[str, str] = {}
        self._headers = {
            name: {"Authorization": f"Bearer {token}"}
            for name, token in (tokens or {}).items()
            if token
        }
        self._task: asyncio.Task[None] | None = None

    async def sample_once(self) -> None:
        for name, url in self.targets.items():
            try:
                response = await self._http.get(url, headers=self._headers.get(name), timeout=2.0)
                response.raise_for_status()
                values = flatten(response.text)
            except httpx.HTTPStatusError as exc:
                self.problems[name] = f"HTTP {exc.response.status_code}"
                log.debug("metrics of %s not sampled: %s", name, self.problems[name])
                continue
            except (httpx.HTTPError, ValueError) as exc:
                self.problems[name] = type(exc).__name__
                log.debug("metrics of %s not sampled: %s", name, self.problems[name])
                continue
            self.problems.pop(name, None)
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
        den_where: Callable[[str], bool] = lambda _: True,
    ) -> list[tuple[float, float]]:
        """Increase of ``num`` over increase of ``den`` between samples (latency, error share)."""
        points = []
        ring = list(self.samples.get(target, ()))
        for a, b in pairwise(ring):
            d_den = total(b.values, den, den_where) - total(a.values, den, den_where)
            d_num = total(b.values, num, num_where) - total(a.values, num, num_where)
            points.append((b.at, (d_num / d_den * scale) if d_den > 0 else 0.0))
        return points

    def histogram_quantile(
        self,
        target: str,
        histogram: str,
        q: float,
        scale: float = 1.0,
        where: Callable[[str], bool] = lambda _: True,
    ) -> list[tuple[float, float]]:
        """The ``q`` quantile of the observations a histogram gained between samples
        (0 when it gained none), summed over the label sets ``where`` keeps."""
        points = []
        ring = list(self.samples.get(target, ()))
        prefix = histogram + "_bucket{"
        for a, b in pairwise(ring):
            gained: dict[float, float] = {}
            for key, value in b.values.items():
                if not key.startswith(prefix):
                    continue
                labels = key[len(prefix) : -1]
                bound = _le(labels)
                if bound is None or not where(labels):
                    continue
                delta = max(0.0, value - a.values.get(key, 0.0))
                gained[bound] = gained.get(bound, 0.0) + delta
            points.append((b.at, quantile(q, sorted(gained.items())) * scale))
        return points

    def gauge(
        self, target: str, name: str, where: Callable[[str], bool] = lambda _: True
    ) -> list[tuple[float, float]]:
        return [(s.at, total(s.values, name, where)) for s in self.samples.get(target, ())]
