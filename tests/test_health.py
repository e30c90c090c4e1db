"""Health: a day closes at the end of its last tick, inside the schedule; today so far."""

import numpy as np
import pytest

from synthtwin.components.activity import CATEGORIES, Activity
from synthtwin.systems.health import DAILY_FIELDS, HealthRecord

TICKS_PER_DAY = 1440


def test_a_day_closes_at_the_end_of_its_last_tick_and_the_next_starts_from_zero(make_simulation):
    sim = make_simulation(twins=60, seed=5)
    sim.loop.run_ticks(TICKS_PER_DAY - 1)
    assert sim.record.batches == []
    sim.loop.step()
    (day,) = sim.record.batches
    assert set(day["day"].tolist()) == {np.datetime64("2026-03-02", "D").item()}
    minutes = sum(day[f"min_{c}"].astype(np.float64) for c in CATEGORIES)
    np.testing.assert_allclose(minutes, TICKS_PER_DAY)
    np.testing.assert_array_equal(day["steps"], np.rint(sim.world["steps"]))
    assert day["steps"].mean() > 1000

    sim.loop.step()
    today = sim.today(np.arange(sim.world.n))
    assert set(today["day"].tolist()) == {np.datetime64("2026-03-03", "D").item()}
    np.testing.assert_allclose(sum(today[f"min_{c}"] for c in CATEGORIES), 1.0)
    assert (today["steps"] <= 200).all(), "steps restart with the day: one minute's at most"
    assert len(sim.record.batches) == 1


def test_a_day_that_closes_mid_bout_without_an_ended_bout_is_credited_its_sleep(make_simulation):
    """The issue's sleep_hours = 0 after hours of sleep: a night worker who stays up after a
    last shift and goes to bed in the afternoon has no bout ended that day. The bout so far is
    credited to the closing day and its remainder to the next one."""
    sim = make_simulation(twins=20, seed=5)
    sim.loop.run_ticks(TICKS_PER_DAY - 1)
    w = sim.world
    now_s = w.clock.elapsed_s
    bout_s = 7 * 3600.0
    w["activity"][0] = Activity.SLEEP
    w["activity_start_s"][0] = now_s - bout_s
    w["activity_end_s"][0] = now_s + 3 * 3600.0
    w["sleep_pressure"][0] = 0.9
    w["day_main_sleep_s"][0] = 0.0
    w["sleep_bout_s"][0] = bout_s
    sim.loop.step()
    (day,) = sim.record.batches
    tick_s = 60.0
    efficiency = 0.95 - 0.002 * max(float(w["age_y"][0]) - 20.0, 0.0)
    assert day["sleep_hours"][0] == pytest.approx((bout_s + tick_s) * max(efficiency, 0.8) / 3600)
    assert w["sleep_bout_s"][0] == 0.0
    sim.loop.step()
    assert w["activity"][0] == Activity.SLEEP
    assert w["sleep_bout_s"][0] == tick_s
    with_sleep = day["min_sleep"] > 0
    assert (day["sleep_hours"][with_sleep] > 0).all()


def test_released_days_leave_the_record_and_still_count_as_closed():
    def day(name: str) -> dict[str, np.ndarray]:
        return {n: np.full(2, np.datetime64(name, "D")) if n == "day" else np.zeros(2)
                for n in DAILY_FIELDS}  # fmt: skip

    record = HealthRecord([day("2026-03-02"), day("2026-03-03")])
    assert record.release({np.datetime64("2026-03-03", "D")}) == 1
    record.append(day("2026-03-04"))
    assert (record.closed, record.released) == (3, 1)
    assert [b["day"][0] for b in record.since(2)] == [np.datetime64("2026-03-04", "D")]
    assert len(record.since(0)) == 2  # every held day
    arrays, scalars = record.state_dict()
    back = HealthRecord()
    back.load_state_dict(arrays, scalars)
    assert (back.closed, len(back.batches)) == (3, 2)
    assert record.release() == 2 and record.state_dict()[1] == {"released": 3}
    with pytest.raises(ValueError, match="released"):
        back.load_state_dict(arrays, {"released": -1})
