"""Behaviour: a needs-and-utility model that decides what each twin does next.

Each twin carries needs (``components.behavior.NEEDS``) that grow with time at rates set by its
personality, household and employment, and obligations (its work or class schedule). When its
current activity ends, a twin scores every activity (utility = weight x urgency of the need it
meets, plus obligations and time-of-day terms, plus Gumbel noise, i.e. a multinomial-logit choice
as in The Sims' utility AI and in activity-based travel demand models, Bowman & Ben-Akiva 2001)
and starts the best one; if it happens elsewhere, a trip comes first and counts as travel.

Sleep follows the two-process model (Borbely 1982; Daan, Beersma & Borbely 1984): a twin goes to
bed when sleep pressure S reaches the circadian upper threshold (earlier before a working day) and
wakes when S falls to the lower threshold, or at its alarm before work.

Scenarios (``systems.scenario``) act through three columns: ``scenario_exercise_factor`` scales
the growth of the need for exercise (so exercise episodes come that much more or less often),
``scenario_lie_in`` lowers the sleep pressure at which a sleeper gets up (an ill twin sleeps
longer) and ``scenario_sleep_cap_h`` wakes a sleeper after that many hours (a short night).

Everything is vectorised over the twins that must decide this tick; no per-twin Python runs.

On a tick divisor (``[sim.every] behavior = N``) the system runs once a window of N ticks, with
the window's first tick's time: an activity that ended is replaced at the first window that
starts after its end, so its successor starts at most N - 1 ticks late and the record keeps the
old activity at most 2 (N - 1) ticks longer (at 30 Hz and N = 3: 0.13 s a change); needs grow
over the whole window. Measured: docs/architecture.md, "Cost at 100k twins".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.components.activity import Activity, activity_table
from synthtwin.components.behavior import NEEDS
from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels import travel
from synthtwin.kernels.numba.behavior import grow_needs
from synthtwin.kernels.numba.physiology import sleep_thresholds
from synthtwin.kernels.physiology import PROCESS_C_AMPLITUDE, SLEEP_LOWER_THRESHOLD_MEAN

__all__ = ["BehaviorSystem"]

A = Activity
HUNGER, HYGIENE, HOUSEHOLD, SHOPPING, SOCIAL, FITNESS, CARING = range(len(NEEDS))
S_PER_H = 3600.0
S_PER_DAY = 86_400.0
PREP_BEFORE_LEAVING_S = 60 * 60.0
"""Alarm to leaving home on a working day: grooming and breakfast (ATUS 2023 workday mornings)."""
WORK_BLOCK_MAX_S = 4.5 * S_PER_H
"""A shift is split at most every 4.5 h, so meal breaks happen at work."""
MIN_LEFT_IN_WINDOW_S = 15 * 60.0
MAX_SLEEP_S = 13 * S_PER_H
MIN_SLEEP_S = 3 * S_PER_H
WORKNIGHT_BED_MARGIN = 0.07
"""How far below the upper threshold of S a twin goes to bed when its alarm is due within 10 h."""
IN_BED_MARGIN = 0.04
"""Margin of S below the upper threshold at which a twin goes to bed (sleep latency) and below the
lower one at which it gets up; ATUS counts time in bed trying to sleep as sleeping."""
LIE_IN_MARGIN = 0.07
"""Extra margin below the lower threshold before getting up on a morning without an alarm."""
WAKE_S_MAX = SLEEP_LOWER_THRESHOLD_MEAN + PROCESS_C_AMPLITUDE - IN_BED_MARGIN
"""The highest S at which a sleeper gets up (the lower threshold at its circadian peak)."""
DURATION_SIGMA = 0.35
"""Log-normal spread of activity durations around the catalogue medians."""
CHOICE_NOISE = 0.3
"""Scale of the Gumbel noise of the logit choice (utility units)."""
WAKE_HYGIENE_BOOST = 0.8
OBLIGATION_UTILITY = 10.0
SLEEP_UTILITY = 20.0
HUNGRY = 0.6
"""Hunger at which eating becomes a choice (about 3.5 h after a meal)."""
BREAK_HUNGER = 0.8
"""Hunger at which a twin takes a meal break from work or class."""
OFF = -np.inf
NEED_CAP = 1.5
"""The most a need grows to."""

MEAL_HOURS = ((6.0, 9.5), (11.5, 14.0), (17.5, 21.0))
"""Local hours of breakfast, lunch and dinner, when eating gets a bonus (ATUS eating peaks)."""
RESTAURANT_HOURS = ((11.5, 14.0), (18.0, 21.5))
SHOP_HOURS = ((8.0, 21.0),)
VISITING_HOURS = ((8.0, 25.0),)
"""Hours one visits friends; 25 is 1 am the next day."""
EVENING_HOURS = ((18.0, 25.0),)
EXERCISE_HOURS = ((5.5, 21.0),)


@dataclass(frozen=True)
class Commitments:
    """Work and class timetables of M twins at one tick.

    Attributes:
        at_work, at_school: ``(M,) bool`` it is time to be at (or travel to) work / class now.
        work_end_s, school_end_s: ``(M,)`` end of the current or next window, sim seconds.
        leave_s: ``(M,)`` next time the twin must leave home for a window not begun, or ``inf``.
    """

    at_work: np.ndarray
    at_school: np.ndarray
    work_end_s: np.ndarray
    school_end_s: np.ndarray
    leave_s: np.ndarray

    @property
    def busy(self) -> np.ndarray:
        return self.at_work | self.at_school


class BehaviorSystem(System):
    """Decides activities, starts trips and tracks sleep and obligations (see module docstring)."""

    phase = Phase.BEHAVIOR
    reads = (
        "circadian_phase_h",
        "work_start_h",
        "work_hours",
        "work_days",
        "school_start_h",
        "school_hours",
        "school_days",
        "school_place",
        "employed",
        "student",
        "n_children",
        "household_size",
        "exercise_habit",
        "extraversion",
        "openness",
        "sex",
        "has_car",
        "bikes",
        "home_place",
        "work_place",
        "shop_place",
        "restaurant_place",
        "gym_place",
        "park_place",
        "friend_place",
        "scenario_exercise_factor",
        "scenario_sleep_cap_h",
        "scenario_lie_in",
    )
    reads_previous = ("sleep_pressure", "position_m")
    writes = (
        "activity",
        "next_activity",
        "activity_start_s",
        "activity_end_s",
        "place",
        "needs",
        "trip_from_m",
        "trip_to_m",
        "trip_mode",
    )

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.town = world.resource(Town)
        self.table = activity_table()
        self._rates_version = -1
        self._rates = np.zeros((0, len(NEEDS)), dtype=np.float32)
        self._fitness_rate = np.zeros(0, dtype=np.float32)

    def warmup(self) -> None:
        self._thresholds(np.zeros(0, dtype=np.int64), 0.0)
        grow_needs(self._rates, np.zeros(0, dtype=bool), 0.0, 0.0, NEED_CAP, self._rates)

    # -- the tick ----------------------------------------------------------------------------

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        asleep = w["activity"] == A.SLEEP
        self._grow_needs(tick, asleep)
        sleepers = np.flatnonzero(asleep)
        woke = self._rested(sleepers, tick)
        rows = np.union1d(np.flatnonzero(w["activity_end_s"] <= tick.t_s), woke)
        if rows.size == 0:
            return
        w["needs"][rows[asleep[rows]], HYGIENE] += WAKE_HYGIENE_BOOST
        travelling = w["activity"][rows] == A.TRAVEL
        self._start(rows[travelling], w["next_activity"][rows[travelling]], tick)
        choosers = rows[~travelling]
        if choosers.size:
            plans = self._commitments(choosers, tick)
            upper, _ = self._thresholds(choosers, tick.hour_of_day)
            choice = self._choose(choosers, tick, upper, plans)
            self._go(choosers, choice, tick, plans)

    def _thresholds(self, rows: np.ndarray, hour: float) -> tuple[np.ndarray, np.ndarray]:
        """``(M,)`` upper and lower thresholds of sleep pressure S for ``rows`` now."""
        phase = np.ascontiguousarray(self.world["circadian_phase_h"][rows])
        upper = np.empty(rows.size, dtype=np.float64)
        lower = np.empty(rows.size, dtype=np.float64)
        sleep_thresholds(hour, phase, upper, lower)
        return upper, lower

    def _rested(self, sleepers: np.ndarray, tick: Tick) -> np.ndarray:
        """The rows of ``sleepers`` who get up now: S below the lower threshold (lower still on a
        morning without an alarm, and by ``scenario_lie_in``), after at least ``MIN_SLEEP_S``
        in bed; or after ``scenario_sleep_cap_h`` hours in bed (a short night).

        The thresholds are computed only for sleepers whose S is at most ``WAKE_S_MAX`` (no
        lower threshold is higher), which leaves the answer unchanged."""
        w = self.world
        slept_s = tick.t_s - w["activity_start_s"][sleepers]
        cap_s = w["scenario_sleep_cap_h"][sleepers] * S_PER_H
        cut_short = sleepers[(cap_s > 0) & (slept_s >= cap_s)]
        sleepers = sleepers[
            (w["sleep_pressure"][sleepers] <= WAKE_S_MAX) & (slept_s >= MIN_SLEEP_S)
        ]
        _, lower = self._thresholds(sleepers, tick.hour_of_day)
        free_morning = w["activity_end_s"][sleepers] - tick.t_s > 2 * S_PER_H
        get_up = lower - IN_BED_MARGIN - LIE_IN_MARGIN * free_morning
        get_up -= w["scenario_lie_in"][sleepers]
        rested = sleepers[w["sleep_pressure"][sleepers] <= get_up]
        return np.union1d(rested, cut_short) if cut_short.size else rested

    def _grow_needs(self, tick: Tick, asleep: np.ndarray) -> None:
        """Needs grow at their rates (exercise's times ``scenario_exercise_factor``), a quarter
        as fast asleep, up to ``NEED_CAP``."""
        w = self.world
        if self._rates_version != w.columns.version:
            self._rates = self._need_rates()
            self._fitness_rate = self._rates[:, FITNESS].copy()
            self._rates_version = w.columns.version
        np.multiply(self._fitness_rate, w["scenario_exercise_factor"], out=self._rates[:, FITNESS])
        awake_h, asleep_h = tick.dt_s / S_PER_H, 0.25 * tick.dt_s / S_PER_H
        grow_needs(self._rates, asleep, awake_h, asleep_h, NEED_CAP, w["needs"])

    def _need_rates(self) -> np.ndarray:
        """``(N, 7) float32`` growth of each need per awake hour.

        Household work: women and people out of work do more (ATUS 2023: women 2.3 h, men 1.6 h a
        day; not employed > employed); caring only with children at home.
        """
        w = self.world
        female = w["sex"] == 0
        rates = np.empty((w.n, len(NEEDS)), dtype=np.float32)
        kids = np.minimum(w["n_children"], 3).astype(np.float32)
        rates[:, HUNGER] = 1 / 7
        rates[:, HYGIENE] = 1 / 30
        rates[:, HOUSEHOLD] = (
            0.09
            * (1 + 0.45 * female)
            * (1 + 0.6 * ~w["employed"])
            * (1 + 0.08 * w["household_size"])
        )
        rates[:, SHOPPING] = 1 / 24 * (1 + 0.2 * female)
        rates[:, SOCIAL] = 0.008 * np.exp(0.35 * w["extraversion"])
        rates[:, FITNESS] = 0.022 * w["exercise_habit"]
        rates[:, CARING] = np.where(kids > 0, 0.075 * (1 + 0.3 * (kids - 1)), 0.0)
        return rates

    # -- choosing ----------------------------------------------------------------------------

    def _choose(
        self, rows: np.ndarray, tick: Tick, upper: np.ndarray, plans: Commitments
    ) -> np.ndarray:
        """``(M,) uint8`` the activity each of ``rows`` starts next (multinomial logit)."""
        w = self.world
        hour = tick.hour_of_day
        weekend = tick.weekday >= 5
        needs = w["needs"][rows]
        u = np.full((rows.size, len(Activity)), OFF, dtype=np.float64)
        alarm_soon = plans.leave_s - PREP_BEFORE_LEAVING_S - tick.t_s < 10 * S_PER_H
        bed_margin = IN_BED_MARGIN + np.where(alarm_soon, WORKNIGHT_BED_MARGIN, 0.0)
        sleepy = w["sleep_pressure"][rows] >= upper - bed_margin
        u[:, A.SLEEP] = np.where(sleepy, SLEEP_UTILITY, OFF)
        hungry = needs[:, HUNGER] >= HUNGRY
        meal_time = _within(hour, MEAL_HOURS)
        u[:, A.EAT] = np.where(hungry, 2.0 + 3 * needs[:, HUNGER] + meal_time, OFF)
        out_ok = hungry & _within(hour, RESTAURANT_HOURS)
        u[:, A.EAT_OUT] = np.where(
            out_ok, u[:, A.EAT] - 1.6 + 0.3 * w["extraversion"][rows] + 0.6 * weekend, OFF
        )
        u[:, A.PERSONAL_CARE] = 4.0 * needs[:, HYGIENE] - 0.8
        u[:, A.HOUSEHOLD] = 2.6 * needs[:, HOUSEHOLD] - 0.3
        open_hours = _within(hour, SHOP_HOURS)
        u[:, A.SHOPPING] = np.where(open_hours, 2.6 * needs[:, SHOPPING] - 0.3, OFF)
        u[:, A.CARING] = np.where(w["n_children"][rows] > 0, 2.6 * needs[:, CARING], OFF)
        evening = _within(hour, EVENING_HOURS)
        social = 2.6 * needs[:, SOCIAL] - 0.4 + 0.4 * (weekend or evening)
        u[:, A.SOCIALIZE] = np.where(_within(hour, VISITING_HOURS), social, OFF)
        exercise = np.where(_within(hour, EXERCISE_HOURS), 2.8 * needs[:, FITNESS] - 0.4, OFF)
        u[:, A.EXERCISE_GYM] = exercise
        u[:, A.EXERCISE_PARK] = exercise - 0.1
        u[:, A.TV] = 1.1 + 0.6 * evening
        u[:, A.LEISURE] = 1.0 + 0.15 * w["openness"][rows]
        busy = plans.busy
        u[busy] = OFF
        u[plans.at_work, A.WORK] = OBLIGATION_UTILITY
        u[plans.at_school, A.SCHOOL] = OBLIGATION_UTILITY
        u[busy & (needs[:, HUNGER] >= BREAK_HUNGER), A.EAT] = OBLIGATION_UTILITY + 2
        noise = self.world.rng.gumbel(0.0, CHOICE_NOISE, size=u.shape)
        return np.argmax(u + noise, axis=1).astype(np.uint8)

    def _commitments(self, rows: np.ndarray, tick: Tick) -> Commitments:
        """Where ``rows`` stand against their work and class timetables now."""
        w = self.world
        home = w["home_place"][rows]
        out = {}
        leave = np.full(rows.size, np.inf)
        for prefix, has in (("work", w["employed"][rows]), ("school", w["student"][rows])):
            start, end = self._next_window(rows, prefix, has, tick)
            depart = start - self._trip_s(rows, home, w[f"{prefix}_place"][rows])
            out[prefix] = (depart <= tick.t_s) & (end - tick.t_s >= MIN_LEFT_IN_WINDOW_S)
            out[f"{prefix}_end"] = end
            leave = np.minimum(leave, np.where(depart > tick.t_s, depart, np.inf))
        return Commitments(
            at_work=out["work"],
            at_school=out["school"] & ~out["work"],
            work_end_s=out["work_end"],
            school_end_s=out["school_end"],
            leave_s=leave,
        )

    def _next_window(
        self, rows: np.ndarray, prefix: str, has: np.ndarray, tick: Tick
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(M,)`` start and end (sim s) of the earliest ``prefix`` window not yet over.

        Windows start on their own day (bit ``weekday`` of ``<prefix>_days``); a night shift runs
        past midnight into the next day. Twins without one get ``inf``.
        """
        w = self.world
        start_h, hours = w[f"{prefix}_start_h"][rows], w[f"{prefix}_hours"][rows]
        days = w[f"{prefix}_days"][rows].astype(np.int64)
        midnight = tick.t_s - tick.hour_of_day * S_PER_H
        first_start = np.full(rows.size, np.inf)
        first_end = np.full(rows.size, np.inf)
        for offset in (1, 0, -1):
            on_day = (days >> ((tick.weekday + offset) % 7)) & 1 == 1
            start = midnight + offset * S_PER_DAY + start_h * S_PER_H
            end = start + hours * S_PER_H
            valid = has & on_day & (hours > 0) & (end > tick.t_s)
            first_start = np.where(valid, start, first_start)
            first_end = np.where(valid, end, first_end)
        return first_start, first_end

    # -- starting activities and trips -------------------------------------------------------

    def _go(self, rows: np.ndarray, act: np.ndarray, tick: Tick, plans: Commitments) -> None:
        """Start ``act`` where the twin is, or a trip to where ``act`` happens."""
        w = self.world
        dest = self._destination(rows, act)
        here = dest == w["place"][rows]
        self._start(rows[here], act[here], tick, _subset(plans, here))
        away = rows[~here]
        if away.size == 0:
            return
        frm = w["position_m"][away]
        to = self.town.xy_m[dest[~here]]
        dist = travel.l1_distance_m(frm, to)
        mode = travel.choose_mode(dist, w["has_car"][away], w["bikes"][away])
        w["activity"][away] = A.TRAVEL
        w["next_activity"][away] = act[~here]
        w["activity_start_s"][away] = tick.t_s
        w["activity_end_s"][away] = tick.t_s + travel.trip_time_s(dist, mode)
        w["place"][away] = dest[~here]
        w["trip_from_m"][away] = frm
        w["trip_to_m"][away] = to
        w["trip_mode"][away] = mode

    def _destination(self, rows: np.ndarray, act: np.ndarray) -> np.ndarray:
        """``(M,) uint32`` the place where each ``act`` happens for each twin."""
        w = self.world
        kind = self.table.place[act]
        column_of_kind = {
            PlaceKind.HOME: "home_place",
            PlaceKind.WORKPLACE: "work_place",
            PlaceKind.SCHOOL: "school_place",
            PlaceKind.SHOP: "shop_place",
            PlaceKind.RESTAURANT: "restaurant_place",
            PlaceKind.GYM: "gym_place",
            PlaceKind.PARK: "park_place",
        }
        dest = np.empty(rows.size, dtype=np.uint32)
        for place_kind, column in column_of_kind.items():
            match = kind == place_kind
            dest[match] = w[column][rows[match]]
        visiting = act == A.SOCIALIZE
        dest[visiting] = w["friend_place"][rows[visiting]]
        here = w["place"][rows]
        at_work = (here == w["work_place"][rows]) | (here == w["school_place"][rows])
        eat_at_work = (act == A.EAT) & at_work & (here != w["home_place"][rows])
        dest[eat_at_work] = w["place"][rows[eat_at_work]]
        return dest

    def _start(
        self, rows: np.ndarray, act: np.ndarray, tick: Tick, plans: Commitments | None = None
    ) -> None:
        """Begin ``act`` now for ``rows`` at their current place, and satisfy its need."""
        if rows.size == 0:
            return
        w = self.world
        plans = plans if plans is not None else self._commitments(rows, tick)
        w["activity"][rows] = act
        w["activity_start_s"][rows] = tick.t_s
        w["activity_end_s"][rows] = tick.t_s + self._duration_s(act, tick, plans)
        self._satisfy(rows, act)

    def _duration_s(self, act: np.ndarray, tick: Tick, plans: Commitments) -> np.ndarray:
        """``(M,)`` seconds ``act`` lasts: sampled, cut short when it is time to leave for work
        or class; a shift block lasts until its end (at most 4.5 h); sleep until the alarm."""
        median_s = self.table.median_min[act].astype(np.float64) * 60.0
        sampled = median_s * np.exp(self.world.rng.normal(0.0, DURATION_SIGMA, size=act.size))
        until_leave = plans.leave_s - tick.t_s
        duration = np.minimum(sampled, np.maximum(until_leave, 60.0))
        working = act == A.WORK
        duration[working] = np.clip(plans.work_end_s[working] - tick.t_s, 0.0, WORK_BLOCK_MAX_S)
        studying = act == A.SCHOOL
        duration[studying] = np.clip(plans.school_end_s[studying] - tick.t_s, 0.0, WORK_BLOCK_MAX_S)
        sleeping = act == A.SLEEP
        alarm = until_leave[sleeping] - PREP_BEFORE_LEAVING_S
        duration[sleeping] = np.clip(alarm, MIN_SLEEP_S / 2, MAX_SLEEP_S)
        return duration

    def _satisfy(self, rows: np.ndarray, act: np.ndarray) -> None:
        needs = self.world["needs"]
        for need, acts in (
            (HUNGER, (A.EAT, A.EAT_OUT)),
            (HYGIENE, (A.PERSONAL_CARE,)),
            (HOUSEHOLD, (A.HOUSEHOLD,)),
            (SHOPPING, (A.SHOPPING,)),
            (SOCIAL, (A.SOCIALIZE, A.EAT_OUT)),
            (FITNESS, (A.EXERCISE_GYM, A.EXERCISE_PARK)),
            (CARING, (A.CARING,)),
        ):
            needs[rows[np.isin(act, acts)], need] = 0.0

    def _trip_s(self, rows: np.ndarray, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
        w = self.world
        dist = travel.l1_distance_m(self.town.xy_m[frm], self.town.xy_m[to])
        mode = travel.choose_mode(dist, w["has_car"][rows], w["bikes"][rows])
        return travel.trip_time_s(dist, mode)


def _subset(plans: Commitments, mask: np.ndarray) -> Commitments:
    return Commitments(*(getattr(plans, f)[mask] for f in Commitments.__dataclass_fields__))


def _within(hour: float, windows: tuple[tuple[float, float], ...]) -> bool:
    """Whether local ``hour`` (0..24) falls in one of ``windows`` (end past 24 = after midnight)."""
    return any(lo <= h < hi for lo, hi in windows for h in (hour, hour + 24.0))
