"""Needs that grow with time (the behaviour system's needs-and-utility model), in one pass."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["grow_needs"]


@njit(cache=True, nogil=True)
def grow_needs(
    rates: np.ndarray,
    asleep: np.ndarray,
    awake_h: float,
    asleep_h: float,
    cap: float,
    needs: np.ndarray,
) -> None:
    """Grow N twins' needs over a tick, in place: ``needs += rates x hours``, at most ``cap``.

    Args:
        rates: ``(N, K) float32`` growth of each need per awake hour.
        asleep: ``(N,) bool`` twins asleep, whose needs grow over ``asleep_h`` hours instead.
        awake_h, asleep_h: hours of growth this tick, awake and asleep.
        cap: the most a need reaches.
        needs: ``(N, K) float32`` written. Each growth is rounded to float32 before it is added,
            as numpy's ``multiply(out=float32)`` then ``+=`` did, so the result is bit for bit.
    """
    top = np.float32(cap)
    for n in range(needs.shape[0]):
        hours = asleep_h if asleep[n] else awake_h
        for k in range(needs.shape[1]):
            needs[n, k] = min(needs[n, k] + np.float32(rates[n, k] * hours), top)
