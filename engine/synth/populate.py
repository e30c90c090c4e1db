"""Populating a world: a Population becomes spawned twins with homes, places and a starting state.

New twins start at home, at rest (vitals at their resting values, glucose and insulin at basal),
asleep if it is night, with needs part-way grown and sleep pressure set by the hours they have
been awake (Borbely process S), and decide what to do on their first tick.
"""

from __future__ import annotations

import numpy as np

from synthtwin.components.activity import Activity
from synthtwin.components.behavior import NEEDS
from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.synth.population import Population
from synthtwin.engine.synth.town import assign_places
from synthtwin.engine.world import World
from synthtwin.kernels.physiology import PROCESS_S_RISE_TAU_H

__all__ = ["spawn_population"]

NIGHT_START_H = 23.0
NIGHT_END_H = 7.0
S_AFTER_WAKING = 0.1
S_WHILE_ASLEEP = 0.5


def spawn_population(
    world: World, population: Population, rng: np.random.Generator, new_homes: bool
) -> np.ndarray:
    """Spawn every member of ``population`` into ``world``.

    Args:
        new_homes: households get the town's homes in order (a fresh world); otherwise each new
            household moves into a random existing home (spawning at run time).

    Returns:
        ``(N,) uint32`` the new twins' ids.
    """
    town = world.resource(Town)
    values = {k: v for k, v in population.columns.items() if k in world.columns}
    n = population.n
    homes = town.of_kind(PlaceKind.HOME)
    household = np.unique(population.columns["household_id"], return_inverse=True)[1]
    if new_homes:
        home_of_household = homes[np.arange(household.max(initial=0) + 1) % len(homes)]
    else:
        home_of_household = homes[rng.integers(0, len(homes), size=household.max(initial=0) + 1)]
    places = assign_places(rng, town, home_of_household[household])
    values.update(places)
    values.update(_starting_state(world, population, places["home_place"], town, rng))
    return world.spawn(values, n)


def _starting_state(
    world: World, population: Population, home: np.ndarray, town: Town, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n, hour, now = population.n, world.clock.hour_of_day, world.clock.elapsed_s
    cols = population.columns
    night = hour >= NIGHT_START_H or hour < NIGHT_END_H
    awake_h = (hour - NIGHT_END_H) % 24
    pressure = (
        S_WHILE_ASLEEP
        if night
        else 1 - (1 - S_AFTER_WAKING) * np.exp(-awake_h / PROCESS_S_RISE_TAU_H)
    )
    return {
        "activity": np.full(n, Activity.SLEEP if night else Activity.LEISURE, dtype=np.uint8),
        "activity_start_s": np.full(n, now - 3600.0),
        "activity_end_s": np.full(n, now + (NIGHT_END_H - hour) % 24 * 3600.0 * night),
        "place": home,
        "position_m": town.xy_m[home],
        "needs": rng.uniform(0.0, 0.6, size=(n, len(NEEDS))).astype(np.float32),
        "sleep_pressure": np.full(n, pressure),
        "hr_bpm": cols["rhr_bpm"],
        "sbp_mmhg": cols["sbp_rest_mmhg"],
        "dbp_mmhg": cols["dbp_rest_mmhg"],
        "rr_brpm": cols["rr_rest_brpm"],
        "spo2_pct": cols["spo2_rest_pct"],
        "glucose_mgdl": cols["glucose_basal_mgdl"],
        "insulin_uu_ml": cols["insulin_basal_uu_ml"],
    }
