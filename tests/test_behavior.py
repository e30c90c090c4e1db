"""Behaviour and locomotion: activities, categories, trips, timetables, spawn and despawn."""

import numpy as np
import pytest

from synthtwin.components.activity import ACTIVITIES, CATEGORIES, Activity
from synthtwin.components.town import Town
from synthtwin.engine.world import UnknownTwinError
from synthtwin.kernels import travel
from synthtwin.kernels.numba.behavior import grow_needs
from synthtwin.kernels.numba.locomotion import move_along_grid
from synthtwin.systems.behavior import (
    IN_BED_MARGIN,
    LIE_IN_MARGIN,
    MIN_SLEEP_S,
    NEED_CAP,
    S_PER_H,
    BehaviorSystem,
)


def test_every_activity_maps_to_one_of_the_twelve_atus_categories():
    assert CATEGORIES == (
        "sleep",
        "personal_care",
        "eating",
        "household",
        "work",
        "education",
        "shopping",
        "caring",
        "leisure",
        "socializing",
        "exercise",
        "travel",
    )
    assert set(ACTIVITIES) == set(Activity)
    used = {CATEGORIES[spec.category] for spec in ACTIVITIES.values()}
    assert used == set(CATEGORIES)


def test_a_trip_takes_distance_over_mode_speed_and_counts_as_travel(make_simulation):
    sim = make_simulation(twins=200, seed=2)
    w, town = sim.world, sim.world.resource(Town)
    seen = 0
    for _ in range(12 * 60):
        sim.loop.step()
        starting = np.flatnonzero(
            (w["activity"] == Activity.TRAVEL) & (w["activity_start_s"] == w.clock.elapsed_s - 60)
        )
        for row in starting[:3]:
            dist = np.abs(w["trip_to_m"][row] - w["trip_from_m"][row]).sum()
            mode = w["trip_mode"][row]
            expected = dist / travel.SPEED_MPS[mode] + travel.OVERHEAD_S[mode]
            duration = w["activity_end_s"][row] - w["activity_start_s"][row]
            assert duration == pytest.approx(expected, rel=1e-4)
            np.testing.assert_allclose(w["trip_to_m"][row], town.xy_m[w["place"][row]])
            seen += 1
    assert seen > 20


def test_walking_trips_are_short_and_driving_ones_long():
    dist = np.array([300.0, 900.0, 3000.0, 3000.0, 20000.0], dtype=np.float32)
    has_car = np.array([True, True, True, False, True])
    bikes = np.array([False, False, True, False, False])
    mode = travel.choose_mode(dist, has_car, bikes)
    assert mode.tolist() == [travel.WALK, travel.WALK, travel.BIKE, travel.BUS, travel.CAR]
    assert travel.trip_time_s(np.float32(1340.0), np.uint8(travel.WALK)) == pytest.approx(1000.0)


def test_grid_path_moves_along_x_then_y_with_matching_heading():
    frm = np.zeros((3, 2), dtype=np.float32)
    to = np.array([[100.0, 50.0], [-100.0, -50.0], [9.0, 9.0]], dtype=np.float32)
    start, end = np.zeros(3), np.full(3, 10.0)
    position = np.zeros((3, 2), dtype=np.float32)
    heading, speed = np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.float32)
    move_along_grid(np.array([0]), 5.0, start, end, frm, to, position, heading, speed)
    move_along_grid(np.array([1]), 9.0, start, end, frm, to, position, heading, speed)
    np.testing.assert_allclose(position, [[75.0, 0.0], [-100.0, -35.0], [0.0, 0.0]])
    np.testing.assert_allclose(heading, [0.0, -np.pi / 2, 0.0], atol=1e-6)
    np.testing.assert_allclose(speed, [15.0, 15.0, 0.0])


def test_twins_sleep_at_night_and_most_employed_are_at_work_on_weekday_mornings(make_simulation):
    sim = make_simulation(twins=300, seed=4)
    w = sim.world
    sim.loop.run_ticks(24 * 60 + 3 * 60)
    assert (w["activity"] == Activity.SLEEP).mean() > 0.8
    sim.loop.run_ticks(8 * 60)
    day_shift = w["employed"] & (w["work_start_h"] >= 6) & (w["work_start_h"] <= 9.5)
    day_shift &= (w["work_days"] >> 1) & 1 == 1
    at_work = (w["activity"] == Activity.WORK) | (w["activity"] == Activity.EAT)
    assert at_work[day_shift].mean() > 0.75


def test_spawned_twins_join_the_running_world_and_despawned_ones_leave(make_simulation):
    sim = make_simulation(twins=100, seed=6)
    sim.loop.run_ticks(600)
    new = sim.spawn(10)
    assert new.tolist() == list(range(101, 111))
    gone = [5, 50, 100]
    sim.despawn(gone)
    assert sim.world.n == 107
    sim.loop.run_ticks(1440 - 600)
    day = sim.record.columns()
    assert set(day["twin_id"].tolist()) == set(sim.world.ids.tolist())
    rows = np.isin(day["twin_id"], new)
    covered = sum(day[f"min_{c}"][rows] for c in CATEGORIES)
    np.testing.assert_allclose(covered, 1440 - 600)
    assert (sim.world["activity_end_s"][sim.world.rows_of(new)] > 0).all()
    with pytest.raises(UnknownTwinError, match="no twin with id 5"):
        sim.despawn([5])
    with pytest.raises(ValueError, match="spawn count 0 is out of range"):
        sim.spawn(0)


def test_needs_grow_as_numpy_computes_them_bit_for_bit():
    rng = np.random.default_rng(3)
    rates = rng.uniform(0.0, 0.2, (5_000, 7)).astype(np.float32)
    needs = rng.uniform(0.0, 1.6, (5_000, 7)).astype(np.float32)
    asleep = rng.random(5_000) < 0.4
    awake_h, asleep_h = 2.0 / S_PER_H, 0.25 * 2.0 / S_PER_H
    expected = needs.copy()
    growth = np.empty_like(rates)
    np.multiply(rates, np.where(asleep, asleep_h, awake_h)[:, None], out=growth)
    expected += growth
    np.minimum(expected, NEED_CAP, out=expected)
    grow_needs(rates, asleep, awake_h, asleep_h, NEED_CAP, needs)
    np.testing.assert_array_equal(needs, expected, strict=True)
    assert (needs == NEED_CAP).any() and (needs < NEED_CAP).any()


def test_skipping_sleepers_who_cannot_wake_yet_changes_no_answer(make_simulation):
    """``_rested`` skips sleepers whose S is above any lower threshold; every tick of a night
    and a morning, it names the same twins as the thresholds of every sleeper do."""
    sim = make_simulation(twins=300, seed=5)
    behaviour = next(s for s in sim.schedule.systems if isinstance(s, BehaviorSystem))
    rested, woken = behaviour._rested, []

    def checked(sleepers: np.ndarray, tick) -> np.ndarray:
        w = behaviour.world
        _, lower = behaviour._thresholds(sleepers, tick.hour_of_day)
        free_morning = w["activity_end_s"][sleepers] - tick.t_s > 2 * S_PER_H
        get_up = lower - IN_BED_MARGIN - LIE_IN_MARGIN * free_morning
        slept_s = tick.t_s - w["activity_start_s"][sleepers]
        every = sleepers[(w["sleep_pressure"][sleepers] <= get_up) & (slept_s >= MIN_SLEEP_S)]
        got = rested(sleepers, tick)
        np.testing.assert_array_equal(got, every)
        woken.extend(got.tolist())
        return got

    behaviour._rested = checked
    sim.loop.run_ticks(12 * 60)
    assert len(woken) > 20
