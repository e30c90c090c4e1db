"""Recording: the rows of the health record (``engine.health_store``), copied off each tick.

Runs in the HEALTH phase after the health system, so a day closed by this tick is already in the
``HealthRecord``. Each run hands its rows to a ``sink`` (``RecordQueue.offer`` when serving: it
never waits and drops a full queue's rows; ``RecordQueue.put`` headless) as ``RecordBatch``es of
plain numpy copies, and the writer thread stores them. What it records:

- ``vitals``: every twin's vital signs (``VITAL_COLUMNS``) and activity at the tick that reaches
  each multiple of ``minute_s`` simulated seconds after midnight, stamped with that instant (a
  tick longer than ``minute_s`` gives one sample, at the last instant it reaches);
- ``episodes``: a twin's activity episode once it ends: the activity, its place, its start and
  its end (the start of the next, or the tick's end for a removed twin);
- ``daily``: each day the health system closed (``systems.health.DAILY_FIELDS``);
- ``twins``: a twin's profile (age, sex, employment, conditions) when it first appears.

Nothing of it is checkpointed: a resumed world starts recording from its restored state (the
episode under way at the checkpoint ends with the start the checkpoint kept).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.engine.record_queue import RecordBatch
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.systems.health import HealthRecord

__all__ = ["PROFILE_COLUMNS", "RecordingSystem"]

PROFILE_COLUMNS = ("age_y", "sex", "employment", "hypertension", "diabetes")
"""The columns of a twin's row in ``twins``."""
US_PER_S = 1_000_000


class RecordingSystem(System):
    """Copies what the record needs at each tick into ``sink`` (module docstring).

    Args:
        world: the world.
        sink: takes one batch (returns whether it was kept; the system does not care).
        minute_s: simulated seconds between two vitals samples.
    """

    phase = Phase.HEALTH
    reads = ("activity", "activity_start_s", "place", *VITAL_COLUMNS, *PROFILE_COLUMNS)

    def __init__(
        self,
        world: World,
        sink: Callable[[RecordBatch], object],
        minute_s: float = 60.0,
        every: int = 1,
    ) -> None:
        super().__init__(every)
        self.world = world
        self.sink = sink
        self.minute_s = minute_s
        self.midnight = np.datetime64(world.clock.start.date(), "us")
        """Midnight of the start date; every time of the record is an offset from it."""
        self._days_sent = 0
        self._last_sample = -1
        self._ids: np.ndarray | None = None
        self._start_s = self._activity = self._place = np.zeros(0)

    def warmup(self) -> None:
        """Start from the world as built or restored: its closed days are not sent again, and
        sampling resumes at the next instant after its clock."""
        clock = self.world.clock
        self.midnight = np.datetime64(clock.start.date(), "us")
        self._days_sent = self.world.resource(HealthRecord).closed
        self._last_sample = self._sample_index(clock.elapsed_s)
        self._ids = None

    def run(self, tick: Tick) -> None:
        end_s = tick.t_s + tick.dt_s
        self._episodes(end_s)
        sample = self._sample_index(end_s)
        if sample > self._last_sample:
            self._last_sample = sample
            self._vitals(sample)
        record = self.world.resource(HealthRecord)
        for day in record.since(self._days_sent):
            self.sink(RecordBatch("daily", day))
        self._days_sent = record.closed

    def _sample_index(self, elapsed_s: float) -> int:
        """How many whole ``minute_s`` have passed between the start date's midnight and
        ``elapsed_s``."""
        return int((self.world.clock.start_of_day_s + elapsed_s) // self.minute_s)

    def _time(self, since_start_s: np.ndarray | float) -> np.ndarray:
        """``datetime64[us]`` of simulated seconds since the clock's start."""
        offset_s = np.asarray(since_start_s) + self.world.clock.start_of_day_s
        return self.midnight + np.rint(offset_s * US_PER_S).astype("timedelta64[us]")

    def _vitals(self, sample: int) -> None:
        w = self.world
        when = self.midnight + np.timedelta64(round(sample * self.minute_s * US_PER_S), "us")
        columns = {
            "twin_id": w.ids.copy(),
            "t": np.full(w.n, when),
            **{name: w[name].astype(np.float32) for name in VITAL_COLUMNS},
            "activity": w["activity"].copy(),
        }
        self.sink(RecordBatch("vitals", columns))

    def _episodes(self, end_s: float) -> None:
        """Send the episodes that ended this tick; follow the ones under way."""
        w = self.world
        ids = w.ids
        if self._ids is None or len(ids) != len(self._ids) or not np.array_equal(ids, self._ids):
            self._follow(ids, end_s)
        start_s = w["activity_start_s"]
        ended = np.flatnonzero(start_s != self._start_s)
        if ended.size:
            self._send_episodes(ended, start_s[ended])
            self._start_s[ended] = start_s[ended]
            self._activity[ended] = w["activity"][ended]
            self._place[ended] = w["place"][ended]

    def _follow(self, ids: np.ndarray, end_s: float) -> None:
        """The twins changed (first run, spawn, despawn): end the removed twins' episodes at
        ``end_s``, send the new twins' profiles, and align the followed state with the rows."""
        w = self.world
        old = self._ids if self._ids is not None else np.zeros(0, ids.dtype)
        gone = np.flatnonzero(~np.isin(old, ids))
        if gone.size:
            self._send_episodes(gone, np.full(gone.size, end_s), old)
        kept = np.zeros(len(ids), bool)
        previous = np.zeros(len(ids), np.intp)
        if len(old):
            order = np.argsort(old)
            previous = order[np.searchsorted(old[order], ids).clip(max=len(old) - 1)]
            kept = old[previous] == ids
        followed = []
        for mine, name in ((self._start_s, "activity_start_s"), (self._activity, "activity"),
                           (self._place, "place")):  # fmt: skip
            now = w[name].copy()
            now[kept] = mine[previous[kept]]
            followed.append(now)
        self._start_s, self._activity, self._place = followed
        new = ~kept
        if new.any():
            profile = {"twin_id": ids[new].copy()}
            profile.update({name: w[name][new].copy() for name in PROFILE_COLUMNS})
            self.sink(RecordBatch("twins", profile))
        self._ids = ids.copy()

    def _send_episodes(
        self, rows: np.ndarray, end_s: np.ndarray, ids: np.ndarray | None = None
    ) -> None:
        """The followed episodes of ``rows`` (of ``ids``, default the world's), ending at
        ``end_s`` (elapsed simulated seconds)."""
        ids = self.world.ids if ids is None else ids
        columns = {
            "twin_id": ids[rows].copy(),
            "start": self._time(self._start_s[rows]),
            "end": self._time(end_s),
            "activity": self._activity[rows].copy(),
            "place": self._place[rows].copy(),
        }
        self.sink(RecordBatch("episodes", columns))
