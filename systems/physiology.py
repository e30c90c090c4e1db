"""Physiology: turns each twin's activity into exertion and integrates its vitals over the tick.

The equations live in ``kernels/physiology.py`` (one statement, cited there) and run over all twins
in one launch: compiled by numba on the CPU backend (``kernels.numba.physiology``), transpiled by
CuPy on the CUDA backend (``kernels.cupy.physiology``). This system only maps activities to
intensity, stepping cadence and meals, and hands whole columns to the kernel: the columns its
declaration names (``components.physiology.PHYSIOLOGY_KERNEL_ARGS``), grouped by role, in its
order. On CUDA the columns stay on the host, where every other system reads them: each tick
copies the kernel's columns to the GPU and the columns it writes back
(``engine.backend.DeviceColumns``).

Meals: a meal's carbohydrate enters the gut when the meal starts. US adults eat about 220 g
(women) to 280 g (men) of carbohydrate a day over ~3 meals plus snacks (NHANES "What We Eat in
America" 2017-2018), so a meal at home carries 60 g (women) or 75 g (men) and a restaurant meal
30 % more.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthtwin.components.activity import Activity, activity_table
from synthtwin.components.physiology import ASLEEP, EXERTION, PHYSIOLOGY_KERNEL_ARGS
from synthtwin.engine.backend import Backend, DeviceColumns
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels import travel
from synthtwin.kernels.numba import physiology as cpu_physiology

__all__ = ["PhysiologySystem", "physiology_kernel"]

MEAL_CARBS_G = np.array([60.0, 75.0], dtype=np.float32)
"""(2,) carbohydrate of a home meal by sex (0 female, 1 male), grams."""
RESTAURANT_FACTOR = 1.3


def physiology_kernel(backend: Backend) -> Callable[..., None]:
    """``step_physiology`` of the backend's device: numba's on the CPU, CuPy's on CUDA (imported
    only then: CuPy is an optional dependency)."""
    if backend.name == "cuda":
        from synthtwin.kernels.cupy import physiology as cuda_physiology

        return cuda_physiology.step_physiology
    return cpu_physiology.step_physiology


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
        *(column.name for column in PHYSIOLOGY_KERNEL_ARGS.params),
    )
    writes = (*EXERTION.names, *PHYSIOLOGY_KERNEL_ARGS.written)

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.table = activity_table()
        self._asleep = np.zeros(0, dtype=np.bool_)
        self._step = physiology_kernel(world.backend)
        self._device = DeviceColumns(world.backend.xp) if world.backend.name == "cuda" else None
        self.day_index = world.clock.day_index
        """The day whose steps and energy the accumulators hold, in days since the start date."""

    def run(self, tick: Tick) -> None:
        w = self.world
        if tick.day_index != self.day_index:
            self._start_day(tick.day_index)
        if w.n == 0:
            return
        self._exertion(tick)
        if self._asleep.shape != (w.n,):
            self._asleep = np.empty(w.n, dtype=np.bool_)
        np.equal(w["activity"], Activity.SLEEP, out=self._asleep)
        columns = {c.name: w[c.name] for c in PHYSIOLOGY_KERNEL_ARGS.columns if c is not ASLEEP}
        columns[ASLEEP.name] = self._asleep
        self._launch(tick.dt_s, tick.hour_of_day, columns)

    def warmup(self) -> None:
        """Compile (or load) the kernel on one scratch twin of the declared dtypes: no column is
        touched."""
        columns = {c.name: np.ones(1, c.dtype) for c in PHYSIOLOGY_KERNEL_ARGS.columns}
        self._launch(1.0, 0.0, columns)

    def _launch(self, dt_s: float, clock_h: float, columns: dict[str, np.ndarray]) -> None:
        """One kernel launch over ``columns`` (``(N,)`` host arrays by name), on the backend's
        device."""
        if self._device is None:
            self._step(dt_s, clock_h, *PHYSIOLOGY_KERNEL_ARGS.by_role(columns))
            return
        device = self._device.upload(columns)
        self._step(dt_s, clock_h, *PHYSIOLOGY_KERNEL_ARGS.by_role(device))
        self._device.download({name: columns[name] for name in PHYSIOLOGY_KERNEL_ARGS.written})

    def _start_day(self, day_index: int) -> None:
        """Steps and energy are today's: they restart at a day's first tick (the health system
        closed the day before at its last tick)."""
        for column in PHYSIOLOGY_KERNEL_ARGS.accumulators:
            self.world[column.name][...] = 0.0
        self.day_index = day_index

    def state_dict(self) -> dict:
        return {**super().state_dict(), "day_index": self.day_index}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.day_index = int(state.get("day_index", self.world.clock.day_index))

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
