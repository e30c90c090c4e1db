"""A synthetic town: homes, workplaces, schools, shops, restaurants, gyms and parks on a 2-D map.

The map is in metres with the town centre at (0, 0). Homes spread over a disk of radius
``radius_m``; half the jobs sit in a central business district, the rest spread with the homes,
as in the monocentric city model (Alonso 1964) that US metro job densities roughly follow. Amenity
counts scale with the population (about one shop per 150 residents, one restaurant per 120, one
gym per 600, one park per 500: orders of magnitude of US County Business Patterns per capita).

Twins pick their workplace with a gravity model (probability falling with distance, scale 8 km),
which gives mean commutes near the ACS 2022 mean of ~26 minutes, and shops, restaurants, gyms and
parks near home (nearest of a few random candidates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.activity import PlaceKind

__all__ = ["Town", "assign_places", "build_town"]

PER_CAPITA = {
    PlaceKind.SHOP: 1 / 150,
    PlaceKind.RESTAURANT: 1 / 120,
    PlaceKind.GYM: 1 / 600,
    PlaceKind.PARK: 1 / 500,
}
WORKERS_PER_WORKPLACE = 25
STUDENTS_PER_SCHOOL = 400
COMMUTE_SCALE_M = 8000.0


@dataclass
class Town:
    """The places of the town.

    Attributes:
        kind: ``(P,) int8`` PlaceKind of each place.
        xy_m: ``(P, 2) float32`` position of each place in metres.
        radius_m: radius of the residential disk.
    """

    kind: np.ndarray
    xy_m: np.ndarray
    radius_m: float

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        return {"kind": self.kind, "xy_m": self.xy_m}, {"radius_m": self.radius_m}

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        self.kind, self.xy_m, self.radius_m = arrays["kind"], arrays["xy_m"], scalars["radius_m"]

    def of_kind(self, kind: PlaceKind) -> np.ndarray:
        """``(K,) int64`` indices of the places of one kind."""
        return np.flatnonzero(self.kind == kind)


def _disk(rng: np.random.Generator, n: int, radius_m: float) -> np.ndarray:
    r = radius_m * np.sqrt(rng.random(n))
    angle = rng.random(n) * 2 * np.pi
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).astype(np.float32)


def build_town(
    rng: np.random.Generator,
    households: int,
    workers: int,
    students: int,
    residents: int,
    radius_m: float = 12_000.0,
) -> Town:
    """Lay out a town for the given numbers of households, workers, students and residents."""
    counts = {
        PlaceKind.HOME: households,
        PlaceKind.WORKPLACE: max(1, workers // WORKERS_PER_WORKPLACE),
        PlaceKind.SCHOOL: max(1, students // STUDENTS_PER_SCHOOL),
        **{k: max(1, round(residents * rate)) for k, rate in PER_CAPITA.items()},
    }
    kinds, points = [], []
    for kind, count in counts.items():
        xy = _disk(rng, count, radius_m)
        if kind in (PlaceKind.WORKPLACE, PlaceKind.SCHOOL):
            central = rng.random(count) < 0.5
            xy[central] = _disk(rng, int(central.sum()), 0.2 * radius_m)
        kinds.append(np.full(count, kind, dtype=np.int8))
        points.append(xy)
    return Town(np.concatenate(kinds), np.concatenate(points), radius_m)


def _nearest_of_sample(
    rng: np.random.Generator, origin: np.ndarray, candidates: np.ndarray, xy: np.ndarray, k: int
) -> np.ndarray:
    """For each ``(M, 2)`` origin, the nearest (L1) of ``k`` random candidate places."""
    picks = candidates[rng.integers(0, len(candidates), size=(len(origin), k))]
    dist = np.abs(xy[picks] - origin[:, None, :]).sum(axis=2)
    return picks[np.arange(len(origin)), dist.argmin(axis=1)]


def _gravity_choice(
    rng: np.random.Generator, origin: np.ndarray, candidates: np.ndarray, xy: np.ndarray, k: int
) -> np.ndarray:
    """For each origin, one of ``k`` random candidates drawn with weight exp(-distance / 8 km)."""
    picks = candidates[rng.integers(0, len(candidates), size=(len(origin), k))]
    dist = np.abs(xy[picks] - origin[:, None, :]).sum(axis=2)
    weight = np.exp(-dist / COMMUTE_SCALE_M)
    cumulative = np.cumsum(weight, axis=1)
    u = rng.random(len(origin))[:, None] * cumulative[:, -1:]
    return picks[np.arange(len(origin)), (cumulative < u).sum(axis=1)]


def assign_places(rng: np.random.Generator, town: Town, home: np.ndarray) -> dict[str, np.ndarray]:
    """Each twin's workplace or school and nearby amenities, given its home.

    Args:
        home: ``(N,)`` home place of each twin (members of a household share one).

    Returns:
        ``{"home_place": (N,) uint32, "work_place": ..., "friend_place": ...}`` place indices.
    """
    homes = town.of_kind(PlaceKind.HOME)
    origin = town.xy_m[home]
    places = {
        "home_place": home,
        "work_place": _gravity_choice(rng, origin, town.of_kind(PlaceKind.WORKPLACE), town.xy_m, 8),
        "school_place": _gravity_choice(rng, origin, town.of_kind(PlaceKind.SCHOOL), town.xy_m, 4),
        "shop_place": _nearest_of_sample(rng, origin, town.of_kind(PlaceKind.SHOP), town.xy_m, 4),
        "restaurant_place": _nearest_of_sample(
            rng, origin, town.of_kind(PlaceKind.RESTAURANT), town.xy_m, 3
        ),
        "gym_place": _nearest_of_sample(rng, origin, town.of_kind(PlaceKind.GYM), town.xy_m, 3),
        "park_place": _nearest_of_sample(rng, origin, town.of_kind(PlaceKind.PARK), town.xy_m, 3),
        "friend_place": _gravity_choice(rng, origin, homes, town.xy_m, 6),
    }
    return {name: idx.astype(np.uint32) for name, idx in places.items()}
