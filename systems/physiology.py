"""Physiology: turns each twin's activity into exertion and integrates its vitals over the tick.

The equations live in ``kernels/physiology.py`` (one statement, cited there) and run compiled by
numba over all twins in one launch (``kernels.numba.physiology.step_physiology``). This system only
maps activities to intensity, stepping cadence and meals, and hands whole columns to the kernel.

Meals: a meal's carbohydrate enters the gut when the meal starts. US adults eat about 220 g
(women) to 280 g (men) of carbohydrate a day over ~3 meals plus snacks (NHANES "What We Eat in
America" 2017-2018), so a meal at home carries 60 g (women) or 75 g (men) and a restaurant meal
30 % more.
"""

from __future__ import annotations

import numpy as np

from components.activity import Activity, activity_table
from engine.schedule import Phase, System, Tick
from engine.world import World
from kernels import travel
from kernels.numba.physiology import (
    ACCUMULATOR_COLUMNS,
    INPUT_COLUMNS,
    PARAM_COLUMNS,
    STATE_COLUMNS,
    step_physiology,
)

__all__ = ["PhysiologySystem"]

MEAL_CARBS_G = np.array([60.0, 75.0], dtype=np.float32)
"""(2,) carbohydrate of a home meal by sex (0 female, 1 male), grams."""
RESTAURANT_FACTOR = 1.3


class PhysiologySystem(System):
    """Exertion from activity, then one kernel launch that integrates every twin's vitals."""

    phase = Phase.PHYSIOLOGY
    reads = (
        "activity",
        "activity_start_s",
        "trip_mode",
        "work_mets",
        "work_steps_per_min",
        "sex",
        *PARAM_COLUMNS,
    )
    writes = ("mets", "cadence_spm", "carbs_g", *STATE_COLUMNS, *ACCUMULATOR_COLUMNS)

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.table = activity_table()
        self._asleep = np.zeros(0, dtype=np.bool_)

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        self._exertion(tick)
        if self._asleep.shape != (w.n,):
            self._asleep = np.empty(w.n, dtype=np.bool_)
        np.equal(w["activity"], Activity.SLEEP, out=self._asleep)
        arrays = {name: w[name] for name in (*STATE_COLUMNS, *PARAM_COLUMNS, *ACCUMULATOR_COLUMNS)}
        arrays.update(mets=w["mets"], cadence_spm=w["cadence_spm"], carbs_g=w["carbs_g"])
        arrays["asleep"] = self._asleep
        names = (*STATE_COLUMNS, *INPUT_COLUMNS, *PARAM_COLUMNS, *ACCUMULATOR_COLUMNS)
        step_physiology(tick.dt_s, tick.hour_of_day, *(arrays[name] for name in names))

    def warmup(self) -> None:
        w = self.world
        names = (*STATE_COLUMNS, *INPUT_COLUMNS, *PARAM_COLUMNS, *ACCUMULATOR_COLUMNS)
        empty = {name: w.columns[name][:0] for name in names if name != "asleep"}
        empty["asleep"] = np.zeros(0, dtype=np.bool_)
        step_physiology(1.0, 0.0, *(empty[name] for name in names))

    def _exertion(self, tick: Tick) -> None:
        """Fill ``mets``, ``cadence_spm`` and ``carbs_g`` from each twin's activity."""
        w = self.world
        act = w["activity"]
        mets, cadence = w["mets"], w["cadence_spm"]
        np.take(self.table.mets, act, out=mets)
        np.take(self.table.cadence_spm, act, out=cadence)
        working = act == Activity.WORK
        mets[working] = w["work_mets"][working]
        cadence[working] = w["work_steps_per_min"][working]
        moving = act == Activity.TRAVEL
        mode = w["trip_mode"][moving]
        mets[moving] = travel.MODE_METS[mode]
        cadence[moving] = travel.MODE_CADENCE_SPM[mode]
        carbs = w["carbs_g"]
        carbs[:] = 0.0
        eating = (act == Activity.EAT) | (act == Activity.EAT_OUT)
        started = eating & (w["activity_start_s"] >= tick.t_s)
        carbs[started] = MEAL_CARBS_G[w["sex"][started]]
        carbs[started & (act == Activity.EAT_OUT)] *= RESTAURANT_FACTOR
