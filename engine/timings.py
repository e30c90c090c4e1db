"""Rolling per-system timings: p50 and p99 over the most recent samples, readable at any time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RollingTimings", "TimingSummary"]


@dataclass(frozen=True)
class TimingSummary:
    """Durations of one timed section over its recent window, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class RollingTimings:
    """A ring buffer of durations per named section (window samples each).

    Recording is O(1) and allocation-free; summaries sort a copy of the window.
    """

    def __init__(self, window: int = 1024) -> None:
        self._window = window
        self._samples: dict[str, np.ndarray] = {}
        self._counts: dict[str, int] = {}

    def record(self, name: str, seconds: float) -> None:
        ring = self._samples.get(name)
        if ring is None:
            ring = self._samples[name] = np.zeros(self._window)
            self._counts[name] = 0
        ring[self._counts[name] % self._window] = seconds
        self._counts[name] += 1

    def summary(self) -> dict[str, TimingSummary]:
        """Summary of every section recorded so far, in recording order."""
        out = {}
        for name, ring in self._samples.items():
            count = self._counts[name]
            ms = np.sort(ring[: min(count, self._window)]) * 1e3
            p50, p99 = _percentile(ms, 0.50), _percentile(ms, 0.99)
            out[name] = TimingSummary(count, float(ms.mean()), p50, p99, float(ms[-1]))
        return out


def _percentile(ascending: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``(n,)`` sorted samples, interpolated linearly between the two
    nearest as ``np.percentile`` does by default (which costs ten times more: the stats op
    summarizes every system up to ten times a second, inside a tick)."""
    position = q * (ascending.size - 1)
    low = int(position)
    high = min(low + 1, ascending.size - 1)
    return float(ascending[low] + (ascending[high] - ascending[low]) * (position - low))
