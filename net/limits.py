"""Limits that keep any one client of the ROUTER to its share: token buckets and a time budget.

- ``TokenBucket`` (``net.wire.bucket``, where clients pace themselves with it too): a rate with a
  burst (``rate_per_s`` tokens a second, at most ``burst`` saved); ``take(n)`` spends tokens or
  says how long until there are enough.
- ``PeerBuckets``: one bucket per ROUTER peer identity, at most ``MAX_PEERS`` of them (the
  fullest, i.e. the least recently busy, are forgotten first: a forgotten peer starts full, as a
  new one does). A peer refused once is told when to retry; until then it is ``muted``: what it
  sends is dropped unanswered. A peer that sends more while muted than its rate and burst allow
  (more than it could have had in flight: it ignores the refusals) stays muted until
  ``IGNORED_WAIT_MUTE_S`` after its last request, so a flood gets no more answers (each costs the
  tick ~40 us of a loaded 2-core CPU): it costs the tick a read a message.
- ``TimeBudget``: wall time a tick may spend answering requests. A request cannot be cut short, so
  a tick that overspends carries the excess over as debt (at most ``MAX_DEBT_BUDGETS`` budgets)
  and the next ticks answer nothing until it is paid: on average, requests cost at most the
  budget per tick whatever they are.

Pattern: token bucket (leaky bucket as a meter). Clocks are passed in (``now_s``, monotonic
seconds), so tests need no sleeps.
"""

from __future__ import annotations

from synthtwin.net.wire.bucket import TokenBucket

__all__ = [
    "IGNORED_WAIT_MUTE_S",
    "MAX_DEBT_BUDGETS",
    "MAX_PEERS",
    "PeerBuckets",
    "TimeBudget",
    "TokenBucket",
]

MAX_PEERS = 4096
"""Peers whose buckets are kept; beyond it the fullest are forgotten."""
IGNORED_WAIT_MUTE_S = 1.0
"""Wall seconds a peer that ignores its refusals stays muted, from its last request (without it,
a flood faster than the rate was answered at the rate: a ``stats`` flood of 1,000 a second,
allowed 200, cost the tick ~0.5 ms a tick of answers)."""
MAX_DEBT_BUDGETS = 8
"""Most overspent time carried over, in tick budgets (so one slow request delays the answers
of at most this many ticks)."""


class PeerBuckets:
    """A ``TokenBucket`` per peer (a ROUTER identity), at most ``max_peers`` kept.

    Args:
        rate_per_s: each peer's requests a second.
        burst: each peer's burst.
        max_peers: buckets kept at once.
    """

    def __init__(self, rate_per_s: float, burst: float, max_peers: int = MAX_PEERS) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: dict[bytes, TokenBucket] = {}
        self._early: dict[bytes, TokenBucket] = {}
        """Per peer, a bucket of the same rate and burst for its requests read while muted."""
        self._muted_until_s: dict[bytes, float] = {}

    def take(self, peer: bytes, now_s: float) -> float:
        """One request of ``peer`` at ``now_s``: 0.0 if allowed, else seconds to wait (and the
        peer is ``muted`` until then)."""
        bucket = self._buckets.get(peer)
        if bucket is None:
            if len(self._buckets) >= self.max_peers:
                self._forget(now_s)
            bucket = self._buckets[peer] = TokenBucket(self.rate_per_s, self.burst)
        wait_s = bucket.take(now_s)
        if wait_s > 0:
            self._muted_until_s[peer] = now_s + wait_s
        return wait_s

    def muted(self, peer: bytes, now_s: float) -> bool:
        """Whether ``peer`` was refused and its time to retry has not come. Requests read
        meanwhile (*early*: some may have been in flight when it was refused) take from a second
        bucket of the peer's rate and burst; once that is empty the peer sends faster than its
        rate whatever it is told, and it stays muted until ``IGNORED_WAIT_MUTE_S`` after its
        last request. A client that paces itself below the rate never empties it."""
        until_s = self._muted_until_s.get(peer)
        if until_s is None:
            return False
        if now_s >= until_s:
            del self._muted_until_s[peer]
            return False
        early = self._early.get(peer)
        if early is None:
            early = self._early[peer] = TokenBucket(self.rate_per_s, self.burst)
        if early.take(now_s) > 0:
            self._muted_until_s[peer] = max(until_s, now_s + IGNORED_WAIT_MUTE_S)
        return True

    def _forget(self, now_s: float) -> None:
        """Drop the buckets that are full again (their peers are as good as new), or, if none
        is, the fuller half."""
        levels = {peer: bucket.level(now_s) for peer, bucket in self._buckets.items()}
        full = [peer for peer, level in levels.items() if level >= self.burst]
        if not full:
            ranked = sorted(levels, key=levels.__getitem__, reverse=True)
            full = ranked[: max(1, len(ranked) // 2)]
        for peer in full:
            del self._buckets[peer]
            self._early.pop(peer, None)
            self._muted_until_s.pop(peer, None)

    def __len__(self) -> int:
        return len(self._buckets)


class TimeBudget:
    """The wall time each tick may spend answering requests, with overspending carried over.

    Args:
        budget_s: seconds a tick may spend.
    """

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.debt_s = 0.0

    def allowance_s(self) -> float:
        """Seconds this tick may spend (<= 0: none; call ``spent`` anyway to pay off debt)."""
        return self.budget_s - self.debt_s

    def spent(self, seconds: float) -> None:
        """Record what this tick spent; the excess over the budget becomes debt."""
        debt = self.debt_s + seconds - self.budget_s
        self.debt_s = min(max(0.0, debt), MAX_DEBT_BUDGETS * self.budget_s)
