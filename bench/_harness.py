"""Small shared pieces for benchmarks: timing, percentiles, the final ratio line."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Stopwatch:
    seconds: float = 0.0
    _start: float = field(default=0.0, repr=False)

    @contextmanager
    def running(self) -> Iterator[Stopwatch]:
        self._start = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds += time.perf_counter() - self._start


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary_ms(samples: Sequence[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (f"p50={percentile(ms, 50):.3f}ms p99={percentile(ms, 99):.3f}ms "
            f"mean={statistics.fmean(ms):.3f}ms n={len(ms)}")  # fmt: skip


def line(label: str, value: float, unit: str) -> None:
    print(f"{label:<40} {value:>14,.1f} {unit}", flush=True)


def ratio(label: str, ours: float, anchor: float, higher_is_better: bool = True,
          target: str = "") -> None:  # fmt: skip
    """Print the benchmark's last line: ours relative to the anchor."""
    value = ours / anchor if anchor else float("inf")
    direction = (
        "ours/anchor, higher is better" if higher_is_better else "ours/anchor, lower is better"
    )
    extra = f" target {target}" if target else ""
    print(f"ratio: {label} {value:.3f} ({direction}){extra}", flush=True)
