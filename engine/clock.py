"""SimClock: simulated local time with a calendar.

Simulation time advances only in whole ticks of ``dt_s`` simulated seconds, so two runs with the
same ticks read the same clock. The calendar (date, weekday, hour of day) is what behaviour keys
on: workdays differ from weekends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = ["SimClock"]

SECONDS_PER_DAY = 86_400.0


@dataclass
class SimClock:
    """Simulated local wall time.

    Attributes:
        start: local time at elapsed_s = 0 (naive datetime; the twin's own local time zone).
        elapsed_s: simulated seconds since ``start``.
    """

    start: datetime
    elapsed_s: float = 0.0

    def advance(self, dt_s: float) -> None:
        """Move time forward by ``dt_s`` simulated seconds."""
        self.elapsed_s += dt_s

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed_s)

    @property
    def start_of_day_s(self) -> float:
        """Seconds after midnight of the start date at which the simulation started."""
        return self.start.hour * 3600.0 + self.start.minute * 60.0 + self.start.second

    @property
    def day_index(self) -> int:
        """Whole days since the start date's midnight (0 on the start date)."""
        return self.day_index_at(self.elapsed_s)

    def day_index_at(self, elapsed_s: float) -> int:
        """Whole days since the start date's midnight at ``elapsed_s`` simulated seconds."""
        return int((self.start_of_day_s + elapsed_s) // SECONDS_PER_DAY)

    @property
    def date(self) -> date:
        return self.start.date() + timedelta(days=self.day_index)

    @property
    def weekday(self) -> int:
        """0 = Monday ... 6 = Sunday."""
        return self.date.weekday()

    @property
    def hour_of_day(self) -> float:
        """Local hour in [0, 24)."""
        return self.hour_at(self.elapsed_s)

    def hour_at(self, elapsed_s: float) -> float:
        """Local hour in [0, 24) at ``elapsed_s`` simulated seconds."""
        return ((self.start_of_day_s + elapsed_s) % SECONDS_PER_DAY) / 3600.0

    @property
    def seconds_of_day(self) -> float:
        """Local seconds after midnight in [0, 86400)."""
        return (self.start_of_day_s + self.elapsed_s) % SECONDS_PER_DAY
