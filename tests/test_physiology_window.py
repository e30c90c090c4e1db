"""The physiology system's spread pass (``[sim] physiology_window_s``): every twin is stepped over
exactly the simulated time that passed, never more than W behind; every meal reaches the gut
once; days close whole; the partition survives a checkpoint and a shard handoff; and the
population's vitals keep their daily statistics."""

import numpy as np
import pytest

from synthtwin.components.activity import Activity
from synthtwin.engine.app.shard import hand_over
from synthtwin.engine.spread import Window
from synthtwin.systems import physiology as physiology_system
from synthtwin.systems.physiology import CONDITION_COLUMNS, PhysiologySystem
from tests.conftest import small_simulation

STEP_S = 60.0
WINDOW_S = 300.0  # five blocks: windows of five ticks
TICKS_PER_DAY = 1440


def _physiology(sim) -> PhysiologySystem:
    return next(s for s in sim.schedule.systems if isinstance(s, PhysiologySystem))


class SteppedTime:
    """Per twin id, the simulated seconds the physiology kernel has stepped it; and each
    carbohydrate intake (g) taken into a gut, counted at each launch."""

    def __init__(self, sim, monkeypatch) -> None:
        self.sim = sim
        self.stepped_s = np.zeros(10_000)
        self.intakes_g: list[float] = []
        system = _physiology(sim)
        step_window = system._step_window

        def counted(window: Window) -> None:
            ids = sim.world.ids[window.rows]
            self.stepped_s[ids] += window.dt_s
            step_window(window)
            carbs_g = sim.world["carbs_g"][window.rows]
            self.intakes_g += carbs_g[carbs_g > 0].tolist()

        monkeypatch.setattr(system, "_step_window", counted)


def test_every_twin_is_stepped_over_the_time_that_passed_at_most_w_behind(monkeypatch):
    """Also across spawns and despawns (which swap rows between blocks) and at midnight, where
    every twin is brought to the day's end."""
    sim = small_simulation(twins=40, seed=5, step_s=STEP_S, physiology_window_s=WINDOW_S)
    try:
        counter = SteppedTime(sim, monkeypatch)
        born = {int(i): 0.0 for i in sim.world.ids}
        for tick in range(TICKS_PER_DAY + 30):
            if tick in (100, 333):
                sim.world.despawn([int(sim.world.ids[0])])
            if tick in (333, 500):
                for twin in sim.spawn(1, seed=tick):
                    born[int(twin)] = sim.world.clock.elapsed_s
            sim.loop.step()
            now = sim.world.clock.elapsed_s
            ids = sim.world.ids
            lag = np.array([now - born[int(i)] for i in ids]) - counter.stepped_s[ids]
            assert (lag >= -1e-6).all() and (lag <= WINDOW_S + 1e-6).all(), tick
            if tick == TICKS_PER_DAY - 1:  # the tick that reaches midnight
                np.testing.assert_allclose(lag, 0.0, atol=1e-6)
        assert _physiology(sim).spread.count == int(WINDOW_S / STEP_S)
    finally:
        sim.close()


def test_a_twin_spawned_in_the_first_window_is_stepped_over_its_first_tick(monkeypatch):
    """A new twin's time done (``NOT_STEPPED``) counts as behind even while the clock is still
    within W of its start: it is stepped from its first tick, not from its block's turn."""
    sim = small_simulation(twins=40, seed=5, step_s=STEP_S, physiology_window_s=WINDOW_S)
    try:
        counter = SteppedTime(sim, monkeypatch)
        sim.loop.step()
        (twin,) = sim.spawn(1, seed=1)  # the last row: block 4, whose turn is 4 ticks away
        born_s = sim.world.clock.elapsed_s
        sim.loop.step()
        assert counter.stepped_s[twin] == STEP_S
        sim.loop.run_ticks(10)
        done_s = sim.world["physiology_done_s"][sim.world.row_of(int(twin))]
        assert counter.stepped_s[twin] == pytest.approx(done_s - born_s)
    finally:
        sim.close()


def test_new_twins_get_their_condition_and_only_they_between_days(monkeypatch):
    """A twin spawned in the tick of a despawn (the count unchanged) gets its key and today's
    condition; twins handed in (shards: the count changes every handoff) keep theirs, and the
    day's condition is not recomputed for everyone whenever the count changes."""
    sim = small_simulation(twins=30, seed=5, step_s=STEP_S, physiology_window_s=WINDOW_S)
    try:
        sim.loop.run_ticks(3)
        kept = sim.world.ids[5:].copy()
        expected = {name: sim.world[name][5:].copy() for name in CONDITION_COLUMNS}
        sim.world.despawn([int(sim.world.ids[4])])
        (twin,) = sim.spawn(1, seed=9)
        conditioned = []
        day_variation = physiology_system.cpu_physiology.day_variation
        monkeypatch.setattr(
            physiology_system.cpu_physiology, "day_variation",
            lambda *args: conditioned.append(len(args[3])) or day_variation(*args),
        )  # fmt: skip
        sim.loop.step()
        assert conditioned == [1]
        row = sim.world.row_of(int(twin))
        assert sim.world["variation_key"][row] != 0.0
        assert sim.world["hr_noise_cv"][row] > 0.0
        for name in CONDITION_COLUMNS:
            kept_now = sim.world[name][sim.world.rows_of(kept)]
            np.testing.assert_array_equal(kept_now, expected[name], err_msg=name)
        sim.loop.step()
        assert conditioned == [1]
    finally:
        sim.close()


def test_every_meal_reaches_the_gut_once(monkeypatch):
    """A meal that starts in a tick where its twin's block does not step enters the gut at the
    twin's next step: each meal whole, never twice (missed only if it ends before that step:
    shorter than W, here 300 s; activities last 60 s or more, so never at the default 0.1 s)."""
    sims = {
        w: small_simulation(twins=60, seed=8, step_s=STEP_S, physiology_window_s=w)
        for w in (0.0, WINDOW_S)
    }
    try:
        counters = {w: SteppedTime(sim, monkeypatch) for w, sim in sims.items()}
        meals = dict.fromkeys(sims, 0)
        for _ in range(TICKS_PER_DAY):
            for w, sim in sims.items():
                sim.loop.step()
                act, start_s = sim.world["activity"], sim.world["activity_start_s"]
                eating = (act == Activity.EAT) | (act == Activity.EAT_OUT)
                meals[w] += int((eating & (start_s == sim.world.clock.elapsed_s - STEP_S)).sum())
        taken_in = {w: len(counter.intakes_g) for w, counter in counters.items()}
        assert taken_in[0.0] == meals[0.0] > 100  # each meal started, once
        # never twice; over W a meal shorter than W may start and end between two steps
        assert 0.95 * meals[WINDOW_S] < taken_in[WINDOW_S] <= meals[WINDOW_S], (taken_in, meals)
        eaten = {w: sum(counter.intakes_g) for w, counter in counters.items()}
        assert eaten[0.0] > 60 * 2 * 60.0  # about three meals a twin
        meals_g = (60.0, 75.0, 78.0, 97.5)  # home and restaurant meals of women and men
        for counter in counters.values():
            taken = np.round(counter.intakes_g, 3)
            assert np.isin(taken, meals_g).mean() > 0.95, "a meal split or doubled"
        # behaviour reads sleep pressure, so the two worlds' days differ a little
        assert abs(eaten[WINDOW_S] - eaten[0.0]) < 0.1 * eaten[0.0]
    finally:
        for sim in sims.values():
            sim.close()


def test_daily_statistics_match_the_tick_by_tick_pass():
    """Each twin's vitals follow the same laws stepped over W as every tick (exact in the step),
    so the population's daily record agrees within the noise of two different draws."""
    days = {}
    for w in (0.0, WINDOW_S):
        sim = small_simulation(twins=200, seed=12, step_s=STEP_S, physiology_window_s=w)
        try:
            sim.loop.run_ticks(TICKS_PER_DAY)
            days[w] = sim.record.columns()
        finally:
            sim.close()
    exact, spread = days[0.0], days[WINDOW_S]
    for field, tolerance in (("mean_hr", 0.5), ("sbp_mean", 0.5), ("glucose_mean", 1.0),
                             ("resting_hr", 0.5), ("max_hr", 3.0)):  # fmt: skip
        a, b = np.nanmean(exact[field]), np.nanmean(spread[field])
        assert abs(a - b) < tolerance, (field, a, b)
    for field in ("steps", "energy_kcal", "sleep_hours"):
        a, b = np.mean(exact[field]), np.mean(spread[field])
        assert abs(a - b) < 0.03 * a, (field, a, b)
    sd = [np.std(day["mean_hr"]) for day in (exact, spread)]
    assert abs(sd[0] - sd[1]) < 0.1 * sd[0], sd


def test_twins_handed_over_are_stepped_to_the_last_tick_first(monkeypatch):
    """A shard handoff steps the leaving twins from their blocks' windows to the last tick's
    end: the world they join steps them from its next tick, so no time is lost or stepped
    twice."""
    sim = small_simulation(twins=30, seed=4, step_s=STEP_S, physiology_window_s=WINDOW_S)
    try:
        counter = SteppedTime(sim, monkeypatch)
        sim.loop.run_ticks(7)
        done = sim.world["physiology_done_s"]
        assert done.min() < done.max() == 7 * STEP_S
        ids = sim.world.ids[::3].copy()
        assert (counter.stepped_s[ids] < 7 * STEP_S).any()
        hand_over(sim, ids)
        np.testing.assert_allclose(counter.stepped_s[ids], 7 * STEP_S)
    finally:
        sim.close()


@pytest.mark.parametrize("window_s, blocks", [(0.1, 3), (0.0, 1), (1.0, 30)])
def test_a_realtime_tick_steps_one_block(window_s, blocks):
    """At 30 Hz and time scale 1 the default W of 0.1 s steps a third of the twins a tick."""
    sim = small_simulation(twins=90, seed=2, step_s=1 / 30, physiology_window_s=window_s)
    try:
        sim.loop.run_ticks(blocks + 1)
        assert _physiology(sim).spread.count == blocks
        done = sim.world["physiology_done_s"]
        assert np.unique(done).size == blocks  # the first tick stepped every twin
        assert (done[: 90 // blocks] == done[0]).all()
    finally:
        sim.close()
