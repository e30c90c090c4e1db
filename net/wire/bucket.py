"""A token bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved.

The server meters each ROUTER peer with one (``net.limits.PeerBuckets``); a request client paces
itself with one (``net.wire.dealer``'s ``pace``), so that it never sends faster than the server
answers. Pattern: token bucket (leaky bucket as a meter). Clocks are passed in (``now_s``,
monotonic seconds), so tests need no sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved; starts full.

    Attributes:
        tokens: tokens now (as of ``at_s``).
        at_s: monotonic time of the last update, s.
    """

    rate_per_s: float
    burst: float
    tokens: float = math.nan
    at_s: float = math.nan

    def __post_init__(self) -> None:
        if math.isnan(self.tokens):
            self.tokens = self.burst

    def level(self, now_s: float) -> float:
        """The tokens at ``now_s`` (refilled since the last update)."""
        if not math.isnan(self.at_s):
            self.tokens = min(self.burst, self.tokens + (now_s - self.at_s) * self.rate_per_s)
        self.at_s = now_s
        return self.tokens

    def take(self, now_s: float, n: float = 1.0) -> float:
        """Spend ``n`` tokens if there are; returns 0.0, or the seconds until there would be
        (nothing is spent then)."""
        have = self.level(now_s)
        if have >= n:
            self.tokens = have - n
            return 0.0
        return (n - have) / self.rate_per_s
