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

Everything is vectorised over the twins that must decide this tick; no per-twin Python runs.
"""

from __future__ import annotations

import numpy as np

from components.activity import Activity, PlaceKind, activity_table
from components.behavior import NEEDS
from engine.schedule import Phase, System, Tick
from engine.synth.town import Town
from engine.world import World
from kernels import travel
from kernels.numba.physiology import sleep_thresholds

__all__ = ["BehaviorSystem"]

A = Activity
HUNGER, HYGIENE, HOUSEHOLD, SHOPPING, SOCIAL, FITNESS, CARING = range(len(NEEDS))
S_PER_H = 3600.0
S_PER_DAY = 86_400.0
PREP_BEFORE_WORK_S = 50 * 60.0
"""Time from the alarm to leaving home (ATUS: grooming and breakfast on workdays)."""
WORK_BLOCK_MAX_S = 4.5 * S_PER_H
"""A shift is split at most every 4.5 h, so meal breaks happen at work."""
MAX_SLEEP_S = 13 * S_PER_H
MIN_SLEEP_S = 3 * S_PER_H
WORKNIGHT_BED_MARGIN = 0.07
"""How far below the upper threshold of S a twin goes to bed when an alarm is due within 10 h."""
DURATION_SIGMA = 0.35
"""Log-normal spread of activity durations around the catalogue medians."""
CHOICE_NOISE = 0.45
"""Scale of the Gumbel noise of the logit choice (utility units)."""
WAKE_HYGIENE_BOOST = 0.8
OBLIGATION_UTILITY = 10.0
BREAK_HUNGER = 0.8
"""Hunger at which a twin takes a meal break from work or class."""
OFF = -np.inf

CHOOSABLE = tuple(a for a in Activity if a != A.TRAVEL)


class BehaviorSystem(System):
    """Decides activities, starts trips and tracks sleep and obligations (see module docstring)."""

    phase = Phase.BEHAVIOR
    reads = (
        "sleep_pressure",
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
        "position_m",
        "home_place",
        "work_place",
        "shop_place",
        "restaurant_place",
        "gym_place",
        "park_place",
        "friend_place",
    )
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

    # -- the tick ----------------------------------------------------------------------------

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        self._grow_needs(tick)
        upper, lower = self._thresholds(tick.hour_of_day)
        asleep = w["activity"] == A.SLEEP
        slept_s = tick.t_s - w["activity_start_s"]
        woke = asleep & (w["sleep_pressure"] <= lower) & (slept_s >= MIN_SLEEP_S)
        due = (w["activity_end_s"] <= tick.t_s) | woke
        rows = np.flatnonzero(due)
        if rows.size == 0:
            return
        was_asleep = asleep[rows]
        w["needs"][rows[was_asleep], HYGIENE] += WAKE_HYGIENE_BOOST
        travelling = w["activity"][rows] == A.TRAVEL
        self._start(rows[travelling], w["next_activity"][rows[travelling]], tick)
        choosers = rows[~travelling]
        if choosers.size:
            choice = self._choose(choosers, tick, upper[choosers])
            self._go(choosers, choice, tick)

    def _thresholds(self, hour: float) -> tuple[np.ndarray, np.ndarray]:
        phase = self.world["circadian_phase_h"]
        upper = np.empty(len(phase), dtype=np.float64)
        lower = np.empty(len(phase), dtype=np.float64)
        sleep_thresholds(hour, phase, upper, lower)
        return upper, lower

    def _grow_needs(self, tick: Tick) -> None:
        w = self.world
        asleep = (w["activity"] == A.SLEEP)[:, None]
        rates = self._need_rates()
        w["needs"] += (tick.dt_s / S_PER_H) * np.where(asleep, 0.25 * rates, rates)
        np.minimum(w["needs"], 1.5, out=w["needs"])

    def _need_rates(self) -> np.ndarray:
        """``(N, 7) float32`` growth of each need per awake hour.

        Household work: women and people out of work do more (ATUS 2023: women 2.3 h, men 1.6 h a
        day; not employed > employed); caring only with children at home.
        """
        w = self.world
        female = w["sex"] == 0
        rates = np.empty((w.n, len(NEEDS)), dtype=np.float32)
        rates[:, HUNGER] = 1 / 4.8
        rates[:, HYGIENE] = 1 / 22
        rates[:, HOUSEHOLD] = (
            0.055
            * (1 + 0.45 * female)
            * (1 + 0.6 * ~w["employed"])
            * (1 + 0.08 * w["household_size"])
        )
        rates[:, SHOPPING] = 1 / 36 * (1 + 0.2 * female)
        rates[:, SOCIAL] = 0.032 * np.exp(0.35 * w["extraversion"])
        rates[:, FITNESS] = 0.09 * w["exercise_habit"]
        rates[:, CARING] = 0.22 * np.minimum(w["n_children"], 3)
        return rates

    # -- choosing ----------------------------------------------------------------------------

    def _choose(self, rows: np.ndarray, tick: Tick, upper: np.ndarray) -> np.ndarray:
        """``(M,) uint8`` the activity each of ``rows`` starts next (multinomial logit)."""
        w = self.world
        hour = tick.hour_of_day
        weekend = tick.weekday >= 5
        needs = w["needs"][rows]
        u = np.full((rows.size, len(Activity)), OFF, dtype=np.float64)
        alarm_s = self._next_alarm_s(rows, tick)
        bed_margin = np.where(alarm_s - tick.t_s < 10 * S_PER_H, WORKNIGHT_BED_MARGIN, 0.0)
        sleepy = w["sleep_pressure"][rows] >= upper - bed_margin
        at_work, at_school = self._obligations(rows, tick)
        obligation = at_work | at_school
        u[:, A.SLEEP] = np.where(sleepy & ~obligation, 20.0, OFF)
        hungry = needs[:, HUNGER] >= 0.55
        meal_time = (6 <= hour < 9.5) or (11.5 <= hour < 14) or (17.5 <= hour < 21)
        u[:, A.EAT] = np.where(hungry, 2.5 + 3 * needs[:, HUNGER] + meal_time, OFF)
        out_ok = hungry & ~obligation & ((11.5 <= hour < 14) or (18 <= hour < 21.5))
        u[:, A.EAT_OUT] = np.where(
            out_ok, u[:, A.EAT] - 1.6 + 0.3 * w["extraversion"][rows] + 0.6 * weekend, OFF
        )
        u[:, A.PERSONAL_CARE] = 0.5 + 3.5 * needs[:, HYGIENE]
        u[:, A.HOUSEHOLD] = 0.3 + 2.4 * needs[:, HOUSEHOLD]
        open_hours = 8 <= hour < 21
        u[:, A.SHOPPING] = np.where(open_hours, 0.2 + 2.4 * needs[:, SHOPPING], OFF)
        u[:, A.CARING] = np.where(w["n_children"][rows] > 0, 0.5 + 2.6 * needs[:, CARING], OFF)
        evening = hour >= 18 or hour < 1
        u[:, A.SOCIALIZE] = np.where(
            hour >= 8 or hour < 1, 0.2 + 2.3 * needs[:, SOCIAL] + 0.4 * (weekend or evening), OFF
        )
        exercise = np.where(5.5 <= hour < 21, 0.2 + 2.6 * needs[:, FITNESS], OFF)
        u[:, A.EXERCISE_GYM] = exercise
        u[:, A.EXERCISE_PARK] = exercise - 0.1
        u[:, A.TV] = 1.1 + 0.6 * evening
        u[:, A.LEISURE] = 1.0 + 0.15 * w["openness"][rows]
        u[obligation] = OFF
        u[at_work, A.WORK] = OBLIGATION_UTILITY
        u[at_school, A.SCHOOL] = OBLIGATION_UTILITY
        u[obligation & (needs[:, HUNGER] >= BREAK_HUNGER), A.EAT] = OBLIGATION_UTILITY + 2
        noise = self.world.rng.gumbel(0.0, CHOICE_NOISE, size=u.shape)
        return np.argmax(u + noise, axis=1).astype(np.uint8)

    def _commitments(self, rows: np.ndarray) -> tuple[tuple[str, np.ndarray], ...]:
        """The work and class timetables of ``rows`` as (prefix, mask of twins who have it)."""
        w = self.world
        return (("work", w["employed"][rows]), ("school", w["student"][rows]))

    def _obligations(self, rows: np.ndarray, tick: Tick) -> tuple[np.ndarray, np.ndarray]:
        """``(M,) bool`` inside a work shift, and inside a class, with >= 15 min left now."""
        ends = [
            np.where(has, self._window_end_s(rows, prefix, tick), -np.inf) - tick.t_s >= 15 * 60
            for prefix, has in self._commitments(rows)
        ]
        at_work, at_school = ends
        return at_work, at_school & ~at_work

    def _window_end_s(self, rows: np.ndarray, prefix: str, tick: Tick) -> np.ndarray:
        """``(M,)`` sim time the current ``prefix`` ("work"/"school") window ends, or ``-inf``.

        A window belongs to the day it starts on; a night shift runs past midnight into the next.
        """
        w = self.world
        start_h, hours = w[f"{prefix}_start_h"][rows], w[f"{prefix}_hours"][rows]
        days = w[f"{prefix}_days"][rows].astype(np.int64)
        midnight = tick.t_s - tick.hour_of_day * S_PER_H
        end = np.full(rows.size, -np.inf)
        for back in (1, 0):
            works = (days >> ((tick.weekday - back) % 7)) & 1 == 1
            start = midnight - back * S_PER_DAY + start_h * S_PER_H
            finish = start + hours * S_PER_H
            inside = works & (hours > 0) & (start <= tick.t_s) & (tick.t_s < finish)
            end = np.where(inside, finish, end)
        return end

    def _next_alarm_s(self, rows: np.ndarray, tick: Tick) -> np.ndarray:
        """``(M,)`` sim time to get up for the next shift or class after now, or ``inf``."""
        w = self.world
        midnight = tick.t_s - tick.hour_of_day * S_PER_H
        alarm = np.full(rows.size, np.inf)
        for prefix, has in self._commitments(rows):
            start_h, hours = w[f"{prefix}_start_h"][rows], w[f"{prefix}_hours"][rows]
            days = w[f"{prefix}_days"][rows].astype(np.int64)
            place = w[f"{prefix}_place"][rows]
            commute = self._trip_s(rows, w["home_place"][rows], place)
            for ahead in (1, 0):
                works = (days >> ((tick.weekday + ahead) % 7)) & 1 == 1
                start = midnight + ahead * S_PER_DAY + start_h * S_PER_H
                upcoming = has & works & (hours > 0) & (start > tick.t_s)
                wake = start - commute - PREP_BEFORE_WORK_S
                alarm = np.where(upcoming, np.minimum(alarm, wake), alarm)
        return alarm

    # -- starting activities and trips -------------------------------------------------------

    def _go(self, rows: np.ndarray, act: np.ndarray, tick: Tick) -> None:
        """Start ``act`` where the twin is, or a trip to where ``act`` happens."""
        w = self.world
        dest = self._destination(rows, act)
        here = dest == w["place"][rows]
        self._start(rows[here], act[here], tick)
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

    def _start(self, rows: np.ndarray, act: np.ndarray, tick: Tick) -> None:
        """Begin ``act`` now for ``rows`` at their current place, and satisfy its need."""
        if rows.size == 0:
            return
        w = self.world
        w["activity"][rows] = act
        w["activity_start_s"][rows] = tick.t_s
        w["activity_end_s"][rows] = tick.t_s + self._duration_s(rows, act, tick)
        self._satisfy(rows, act)

    def _duration_s(self, rows: np.ndarray, act: np.ndarray, tick: Tick) -> np.ndarray:
        median_s = self.table.median_min[act].astype(np.float64) * 60.0
        sampled = median_s * np.exp(self.world.rng.normal(0.0, DURATION_SIGMA, size=rows.size))
        for act_code, prefix in ((A.WORK, "work"), (A.SCHOOL, "school")):
            working = act == act_code
            if working.any():
                left = self._window_end_s(rows[working], prefix, tick) - tick.t_s
                sampled[working] = np.clip(left, 0.0, WORK_BLOCK_MAX_S)
        sleeping = act == A.SLEEP
        if sleeping.any():
            alarm = self._next_alarm_s(rows[sleeping], tick) - tick.t_s
            sampled[sleeping] = np.clip(alarm, MIN_SLEEP_S / 2, MAX_SLEEP_S)
        return sampled

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
