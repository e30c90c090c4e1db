"""Physiology: turns each twin's activity into exertion and integrates its vitals over the tick.

The equations live in ``kernels/physiology.py`` (one statement, cited there) and run over all twins
in one launch: compiled by numba on the CPU backend (``kernels.numba.physiology``), transpiled by
CuPy on the CUDA backend (``kernels.cupy.physiology``). This system only maps activities to
intensity, stepping cadence and meals, and hands whole columns to the kernel: the columns its
declaration names (``components.physiology.PHYSIOLOGY_KERNEL_ARGS``), grouped by role, in its
order. On CUDA the columns stay on the host, where every other system reads them: each tick
copies the kernel's columns to the GPU and the columns it writes back
(``engine.backend.DeviceColumns``).

Today's condition: at a day's first tick (and whenever twins are spawned or removed) every
twin's resting-HR and blood-pressure offsets and activity factor for the day are drawn
(``kernels.physiology.day_variation``, counter-based on its ``variation_key`` and the day); the
kernel reads the offsets and the activity factor scales the stepping cadence. Scenarios
(``systems.scenario``) add their effects: the kernel reads ``SCENARIO_KERNEL``, and
``scenario_step_factor`` scales the cadence too.

Spread pass (``[sim] physiology_window_s``, W, 0.1 s by default; ``engine.spread``): with
ticks shorter than W (realtime: 1/30 s) each tick steps one block of the twins, each twin over
the simulated seconds since its own last step (``physiology_done_s``), so the pass costs a 1/B
share of a whole one a tick (B = floor(W / dt_s): 3 at 30 Hz). Every equation of the kernel
holds over any step up to 600 s (``relax`` and ``ou_step`` are closed forms; the minimal model
takes RK4 substeps), so a twin stepped over W follows the same laws as one stepped every tick,
with its inputs (activity, exertion, sleep) held over the window: a change of activity reaches
the vitals (and ``mets``, ``cadence_spm``, set at the step) up to W late, and the vitals
published, recorded or told are up to W old. At the tick that reaches midnight every twin is
brought to the day's end, so steps and energy close whole. Headless ticks (longer than W) step
every twin.

Meals: a meal's carbohydrate enters the gut at the start of the twin's first step that sees the
meal under way (up to W early); a meal that starts and ends between two steps (shorter than W:
activities last 60 s or more, so never at the default W) is missed. US adults eat about 220 g
(women) to 280 g (men) of carbohydrate a day over ~3 meals plus snacks (NHANES "What We Eat in
America" 2017-2018), so a meal at home carries 60 g (women) or 75 g (men) and a restaurant meal
30 % more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np

from synthtwin.components.activity import Activity, activity_table
from synthtwin.components.physiology import ASLEEP, EXERTION, PHYSIOLOGY_KERNEL_ARGS
from synthtwin.components.scenario import SCENARIO_KERNEL
from synthtwin.engine.backend import Backend, DeviceColumns
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.spread import SpreadPass, Window
from synthtwin.engine.world import World
from synthtwin.kernels import physiology, travel
from synthtwin.kernels.numba import physiology as cpu_physiology

__all__ = ["PhysiologySystem", "physiology_kernel"]

EXERTED = ("mets", "cadence_spm", "carbs_g")
"""The kernel's inputs this system sets from each twin's activity before its step."""
MEAL_CARBS_G = np.array([60.0, 75.0], dtype=np.float32)
"""(2,) carbohydrate of a home meal by sex (0 female, 1 male), grams."""
RESTAURANT_FACTOR = 1.3
CONDITION_COLUMNS = (
    "rhr_offset_bpm", "bp_offset_mmhg", "activity_factor", "hr_noise_cv", "sbp_noise_mmhg"
)  # fmt: skip
"""The columns ``kernels.numba.physiology.day_variation`` writes, in its order."""


def physiology_kernel(backend: Backend) -> Callable[..., None]:
    """``step_physiology`` of the backend's device: numba's on the CPU, CuPy's on CUDA (imported
    only then: CuPy is an optional dependency)."""
    if backend.name == "cuda":
        from synthtwin.kernels.cupy import physiology as cuda_physiology

        return cuda_physiology.step_physiology
    return cpu_physiology.step_physiology


class PhysiologySystem(System):
    """Exertion from activity, then one kernel launch per window of the spread pass that
    integrates its twins' vitals (every twin when W <= dt)."""

    phase = Phase.PHYSIOLOGY
    reads = (
        "activity",
        "activity_start_s",
        "trip_mode",
        "work_mets",
        "work_steps_per_min",
        "sex",
        "age_y",
        *(column.name for column in PHYSIOLOGY_KERNEL_ARGS.params),
        *(column.name for column in SCENARIO_KERNEL),
        "scenario_step_factor",
    )
    writes = (*EXERTION.names, *PHYSIOLOGY_KERNEL_ARGS.written)

    def __init__(self, world: World, every: int = 1, window_s: float = 0.0) -> None:
        super().__init__(every)
        self.world = world
        self.spread = SpreadPass(window_s, "physiology_done_s", "physiology")
        self.table = activity_table()
        self._step = physiology_kernel(world.backend)
        self._device = DeviceColumns(world.backend.xp) if world.backend.name == "cuda" else None
        self.day_index = world.clock.day_index
        """The day whose steps and energy the accumulators hold, in days since the start date."""
        self._condition_day: int | None = None
        """The day of the condition columns (None: none yet): every twin's are recomputed when
        it changes, else only new twins' (``variation_key`` 0)."""

    def run(self, tick: Tick) -> None:
        w = self.world
        if tick.day_index != self.day_index:
            self._start_day(tick.day_index)
        windows = self.spread.plan(w, tick, whole=tick.end_day_index != tick.day_index)
        if w.n == 0:
            return
        self._condition(tick.day_index)
        for window in windows:
            self._step_window(window)

    def settle(self, rows: np.ndarray) -> None:
        """Bring ``rows`` (``(K,)`` int) up to the last run's end from their own times done,
        before they leave the world whole (a shard handoff): the world they join steps them from
        its next tick."""
        for window in self.spread.settle(self.world, rows):
            self._step_window(window)

    def _step_window(self, window: Window) -> None:
        """Step ``window``'s twins from its start to its end in one launch, their exertion set
        from their activity first: every twin or a block in place, other rows gathered and
        scattered back."""
        w, rows = self.world, window.rows
        kernel_columns = PHYSIOLOGY_KERNEL_ARGS.columns
        columns = {c.name: w[c.name][rows] for c in kernel_columns if c is not ASLEEP}
        activity = w["activity"][rows]
        columns[ASLEEP.name] = activity == Activity.SLEEP
        self._exertion(rows, window.start_s, activity, columns)
        self._launch(window.dt_s, w.clock.hour_at(window.start_s), columns)
        if not isinstance(rows, slice):
            for name in (*PHYSIOLOGY_KERNEL_ARGS.written, *EXERTED):
                w[name][rows] = columns[name]

    def warmup(self) -> None:
        """Compile (or load) the kernels on one scratch twin of the declared dtypes: no column is
        touched."""
        columns = {c.name: np.ones(1, c.dtype) for c in PHYSIOLOGY_KERNEL_ARGS.columns}
        self._launch(1.0, 0.0, columns)
        dtypes = {column.name: column.dtype for column in EXERTION.columns}
        condition = tuple(np.zeros(1, dtypes[name]) for name in CONDITION_COLUMNS)
        cpu_physiology.day_variation(0, 0, 0, np.zeros(1), np.zeros(1, np.float32), *condition)

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

    def _condition(self, day_index: int) -> None:
        """The condition for the day ``day_index`` days after the start date (offsets, activity
        factor and wander amplitudes: ``CONDITION_COLUMNS``, a pure function of the twin's key,
        age and the day) of every twin when the day changes, else of the new twins only (no
        ``variation_key`` yet: spawned; twins handed in from a shard bring theirs), after
        giving them their key."""
        w = self.world
        new = w["variation_key"] == 0.0
        if self._condition_day != day_index:
            rows: slice | np.ndarray = slice(None)
        elif new.any():
            rows = np.flatnonzero(new)
        else:
            return
        self._give_keys(new)
        day = w.clock.start.date() + timedelta(days=day_index)
        outputs = [w[name][rows] for name in CONDITION_COLUMNS]
        cpu_physiology.day_variation(
            day_index, day.timetuple().tm_yday - 1, day.weekday(), w["variation_key"][rows],
            w["age_y"][rows], *outputs,
        )  # fmt: skip
        if not isinstance(rows, slice):
            for name, values in zip(CONDITION_COLUMNS, outputs, strict=True):
                w[name][rows] = values
        self._condition_day = day_index

    def _give_keys(self, new: np.ndarray) -> None:
        """``variation_key`` of the twins without one (``new``, ``(N,) bool``: key 0): a mix of
        the world's seed and the twin's id, so a twin's random draws depend on the seed, its id
        and the counter only. Kept keys (a restored checkpoint's) are left alone."""
        w = self.world
        if not new.any():
            return
        seed = int(w.rng.bit_generator.seed_seq.entropy) & physiology.BITS31
        ids = w.ids[new].astype(np.int64)
        w["variation_key"][new] = physiology.mix31(
            (physiology.mix31(seed) + ids) & physiology.BITS31
        )

    def state_dict(self) -> dict:
        return {**super().state_dict(), "day_index": self.day_index, **self.spread.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.day_index = int(state.get("day_index", self.world.clock.day_index))
        self.spread.load_state_dict(state)

    def _exertion(
        self, rows: slice | np.ndarray, start_s: float, act: np.ndarray, out: dict[str, np.ndarray]
    ) -> None:
        """Fill ``out``'s ``mets`` and ``cadence_spm`` (scaled by today's ``activity_factor`` and
        the scenarios' ``scenario_step_factor``) from the activities ``act`` of ``rows``, and its
        ``carbs_g`` with the meals they started since ``start_s`` (their window's start)."""
        w = self.world
        mets, cadence, carbs = out["mets"], out["cadence_spm"], out["carbs_g"]
        np.take(self.table.mets, act, out=mets)
        np.take(self.table.cadence_spm, act, out=cadence)
        working = act == Activity.WORK
        mets[working] = w["work_mets"][rows][working]
        cadence[working] = w["work_steps_per_min"][rows][working]
        moving = act == Activity.TRAVEL
        mode = w["trip_mode"][rows][moving]
        mets[moving] = travel.MODE_METS[mode]
        cadence[moving] = travel.MODE_CADENCE_SPM[mode]
        cadence *= w["activity_factor"][rows]
        cadence *= w["scenario_step_factor"][rows]
        carbs[:] = 0.0
        eating = (act == Activity.EAT) | (act == Activity.EAT_OUT)
        started = eating & (w["activity_start_s"][rows] >= start_s)
        carbs[started] = MEAL_CARBS_G[w["sex"][rows][started]]
        carbs[started & (act == Activity.EAT_OUT)] *= RESTAURANT_FACTOR
