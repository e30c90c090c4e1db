"""Health: a day closes at the end of its last tick, inside the schedule; today so far."""

import numpy as np

from synthtwin.components.activity import CATEGORIES

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
