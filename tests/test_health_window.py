"""The health system's spread pass (``[sim] health_window_s``): each daily aggregate within its
documented bound of the tick-by-tick pass (``systems.health``), the rest of the world unchanged,
and its partition checkpointed."""

import numpy as np
import pytest

from synthtwin.components.activity import CATEGORIES
from synthtwin.engine.app.shard import hand_over
from synthtwin.systems.health import _MEANS, HealthRecord, HealthSystem
from tests.conftest import small_simulation

STEP_S = 240.0
WINDOW_S = 1200.0  # five blocks: windows of five ticks
TICKS_PER_DAY = 360
HEALTH_COLUMNS = set(HealthSystem.writes)
FLOAT32_SLACK = 1e-3  # the record's float32 columns


class DayTracker:
    """Per twin, over one day of the tick-by-tick world: each vital's total variation and largest
    one-tick change, the HR range and the activity changes (the bounds' terms)."""

    def __init__(self, world) -> None:
        self.names = [column for _, _, column in _MEANS]
        self.previous = {name: world[name].copy() for name in self.names}
        self.activity = world["activity"].copy()
        self.tv = {name: np.zeros(world.n) for name in self.names}
        self.step = {name: np.zeros(world.n) for name in self.names}
        self.hr_low = world["hr_bpm"].copy()
        self.hr_high = world["hr_bpm"].copy()
        self.changes = np.zeros(world.n)
        self.rest_s = np.zeros(world.n)

    def update(self, world) -> None:
        for name in self.names:
            change = np.abs(world[name] - self.previous[name])
            self.tv[name] += change
            self.step[name] = np.maximum(self.step[name], change)
            self.previous[name] = world[name].copy()
        self.changes += world["activity"] != self.activity
        self.activity = world["activity"].copy()
        self.hr_low = np.minimum(self.hr_low, world["hr_bpm"])
        self.hr_high = np.maximum(self.hr_high, world["hr_bpm"])


def _health(sim) -> HealthSystem:
    return next(s for s in sim.schedule.systems if isinstance(s, HealthSystem))


@pytest.fixture(scope="module")
def day_both_ways():
    """One Monday of 100 twins twice, tick by tick and spread over 1200 s windows, stepped side by
    side; the tick-by-tick world's variation tracked."""
    exact = small_simulation(twins=100, seed=3, step_s=STEP_S, health_window_s=0.0)
    spread = small_simulation(twins=100, seed=3, step_s=STEP_S, health_window_s=WINDOW_S)
    exact.loop.step()
    spread.loop.step()
    tracker = DayTracker(exact.world)
    for tick in range(1, TICKS_PER_DAY):
        if tick == TICKS_PER_DAY - 1:  # the day's rest time, before the close restarts it
            tracker.rest_s = np.minimum(exact.world["day_rest_s"], spread.world["day_rest_s"])
        exact.loop.step()
        spread.loop.step()
        tracker.update(exact.world)
    yield exact, spread, tracker
    exact.close()
    spread.close()


def test_the_spread_pass_changes_only_the_health_columns(day_both_ways):
    exact, spread, _ = day_both_ways
    assert _health(spread).spread.count == int(WINDOW_S / STEP_S)
    for name in exact.world.columns.schema:
        if name not in HEALTH_COLUMNS:
            np.testing.assert_array_equal(spread.world[name], exact.world[name], err_msg=name)


def test_each_daily_aggregate_is_within_its_bound(day_both_ways):
    exact, spread, tracker = day_both_ways
    (ref,) = exact.record.batches
    (got,) = spread.record.batches
    for name in ("twin_id", "steps", "energy_kcal"):
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    minutes = sum(got[f"min_{c}"].astype(np.float64) for c in CATEGORIES)
    np.testing.assert_allclose(minutes, 24 * 60, rtol=1e-6)
    k = tracker.changes
    for c in CATEGORIES:
        moved = np.abs(got[f"min_{c}"] - ref[f"min_{c}"])
        assert (moved <= k * WINDOW_S / 60.0 + FLOAT32_SLACK).all(), c
    assert (np.abs(got["sleep_hours"] - ref["sleep_hours"]) <= WINDOW_S / 3600 + 1e-5).all()
    covered_s = TICKS_PER_DAY * STEP_S
    for field, _, column in _MEANS:
        bound = WINDOW_S * tracker.tv[column] / covered_s
        off = np.abs(got[field].astype(np.float64) - ref[field])
        assert (off <= bound + 1e-6 * np.abs(ref[field]) + 1e-6).all(), field
        assert off.max() > 0.0, f"{field}: the spread pass should differ somewhere"
    blocks = int(WINDOW_S / STEP_S)
    for field, column in (("max_hr", "hr_bpm"), ("glucose_max", "glucose_mgdl")):
        lower = ref[field].astype(np.float64) - got[field]
        assert (lower >= 0).all() and (lower <= (blocks - 1) * tracker.step[column] + 1e-4).all()
    rested = np.isfinite(ref["resting_hr"]) & np.isfinite(got["resting_hr"])
    assert rested.mean() > 0.9
    hr_range = tracker.hr_high - tracker.hr_low
    with np.errstate(divide="ignore"):  # rest only in the last tick: no bound
        bound = (WINDOW_S * tracker.tv["hr_bpm"] + 2 * k * WINDOW_S * hr_range) / tracker.rest_s
    off = np.abs(got["resting_hr"] - ref["resting_hr"])[rested]
    assert (off <= bound[rested] + 1e-3).all()


def _done_by_block(sim) -> list[float]:
    """Each block's twins' time done (one value each: a block is stepped together)."""
    done, n, count = sim.world["health_done_s"], sim.world.n, _health(sim).spread.count
    blocks = [done[b * n // count : (b + 1) * n // count] for b in range(count)]
    assert all(block.min() == block.max() for block in blocks)
    return [float(block[0]) for block in blocks]


def test_the_turn_round_trips_and_bad_state_is_refused(make_simulation):
    sim = make_simulation(twins=30, seed=4, step_s=1.0, health_window_s=4.0)
    sim.loop.run_ticks(6)
    assert _done_by_block(sim) == [6.0, 3.0, 4.0, 5.0]
    health = _health(sim)
    state = health.state_dict()
    assert state["spread"] == {"count": 4, "next": 1, "last_end_s": 6.0}
    fresh = HealthSystem(sim.world, window_s=4.0)
    fresh.load_state_dict(state)
    assert vars(fresh.spread) == vars(health.spread)
    for bad in ({"count": 4, "next": 4, "last_end_s": 1.0}, {"count": "4", "next": 0,
                "last_end_s": 1.0}, {"count": 4, "next": 0, "last_end_s": float("nan")},
                "spread"):  # fmt: skip
        with pytest.raises(ValueError, match="health spread"):
            fresh.load_state_dict({**state, "spread": bad})


def test_spawns_and_despawns_keep_every_twins_covered_time_exact(make_simulation):
    """A despawn swap-moves the last row into another block (its window started at another
    time), and a despawn with a spawn in one tick keeps the count: each twin is still caught
    up from its own window, a new one over its whole first tick, as the tick-by-tick pass."""
    sims = [make_simulation(twins=30, seed=3, step_s=STEP_S, health_window_s=w)
            for w in (0.0, WINDOW_S)]  # fmt: skip
    for tick in range(TICKS_PER_DAY):
        for sim in sims:
            if tick in (102, 150):
                sim.world.despawn([int(sim.world.ids[0])])
            if tick in (150, 201):
                sim.spawn(1, seed=tick)
            sim.loop.step()
    exact, spread = (sim.world.resource(HealthRecord).batches[0] for sim in sims)
    assert exact["twin_id"].tolist() == spread["twin_id"].tolist()
    covered = [sum(day[f"min_{c}"].astype(float) for c in CATEGORIES) for day in (exact, spread)]
    np.testing.assert_allclose(covered[1], covered[0], atol=FLOAT32_SLACK)


def test_twins_handed_over_take_their_whole_day_so_far(make_simulation):
    """A shard handoff (``engine.app.shard.hand_over``) brings the leaving twins' aggregates up
    to the last tick from their blocks' windows: the spread pass had left up to W of it undone,
    which the world they join never adds (it starts them at its next tick); a twin is found by
    id, also after a despawn since the last tick moved the last row into block 0."""
    sim = make_simulation(twins=30, seed=4, step_s=1.0, health_window_s=4.0)
    sim.loop.run_ticks(6)
    assert _done_by_block(sim) == [6.0, 3.0, 4.0, 5.0]  # blocks 1-3 are behind
    last = int(sim.world.ids[-1])
    sim.world.despawn([int(sim.world.ids[0])])
    ids = np.union1d(sim.world.ids[::3], [last])
    before = sim.world["day_covered_s"][sim.world.rows_of(ids)].copy()
    twins = hand_over(sim, ids)
    assert (before < 6.0).any()
    np.testing.assert_allclose(twins.columns["day_covered_s"], 6.0)
    assert sim.world.n == 29 - ids.size and not np.isin(sim.world.ids, ids).any()
