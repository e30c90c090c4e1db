"""A synthetic town: homes, workplaces, schools, shops, restaurants, gyms and parks on a 2-D map.

The map is in metres with the town centre at (0, 0). The twins are a sample of a larger town: the
town keeps the workplaces and amenities of ``town_population`` residents (250,000 by default), so
distances and travel times stay realistic whether 100 or 100,000 twins live in it. Homes (one per
household) spread over a disk of radius ``radius_m``; half the jobs and schools sit in a central
district, the rest spread with the homes, as in the monocentric city model (Alonso 1964). Amenity
counts per resident are of the order of US County Business Patterns 2021 establishment counts
(about one retail store per 250 residents, one restaurant per 500, one fitness centre per 3,000)
and park counts per resident of mid-size US cities (Trust for Public Land ParkScore 2023).

Twins pick their workplace with a gravity model (probability falling with distance, scale 8 km),
which gives mean commutes of the order of the ACS 2022 mean (26 minutes), and shops, restaurants,
gyms and parks among the few nearest their home.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from synthtwin.components.town import PlaceKind, Town

__all__ = ["assign_places", "build_town"]

PER_RESIDENT = {
    PlaceKind.WORKPLACE: 0.6 / 25,
    PlaceKind.SCHOOL: 0.07 / 1500,
    PlaceKind.SHOP: 1 / 250,
    PlaceKind.RESTAURANT: 1 / 500,
    PlaceKind.GYM: 1 / 3000,
    PlaceKind.PARK: 1 / 1500,
}
"""Places per resident: 60 % employed in workplaces of ~25, 7 % students in schools of ~1,500."""
CENTRAL_SHARE = {PlaceKind.WORKPLACE: 0.5, PlaceKind.SCHOOL: 0.5, PlaceKind.RESTAURANT: 0.3}
COMMUTE_SCALE_M = 8000.0
NEAREST_CHOICES = 8


def _disk(rng: np.random.Generator, n: int, radius_m: float) -> np.ndarray:
    r = radius_m * np.sqrt(rng.random(n))
    angle = rng.random(n) * 2 * np.pi
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).astype(np.float32)


def build_town(
    rng: np.random.Generator,
    households: int,
    town_population: int = 250_000,
    radius_m: float = 12_000.0,
) -> Town:
    """Lay out the homes of ``households`` households and the places of ``town_population``."""
    counts = {PlaceKind.HOME: households}
    counts.update({k: max(1, round(town_population * r)) for k, r in PER_RESIDENT.items()})
    kinds, points = [], []
    for kind, count in counts.items():
        xy = _disk(rng, count, radius_m)
        central = rng.random(count) < CENTRAL_SHARE.get(kind, 0.0)
        xy[central] = _disk(rng, int(central.sum()), 0.2 * radius_m)
        kinds.append(np.full(count, kind, dtype=np.int8))
        points.append(xy)
    return Town(np.concatenate(kinds), np.concatenate(points), radius_m)


def _near_home(
    rng: np.random.Generator, origin: np.ndarray, candidates: np.ndarray, xy: np.ndarray
) -> np.ndarray:
    """For each ``(M, 2)`` origin, one of the few candidate places nearest it (street distance)."""
    k = min(NEAREST_CHOICES, len(candidates))
    _, nearest = cKDTree(xy[candidates]).query(origin, k=k, p=1)
    nearest = nearest.reshape(len(origin), k)
    return candidates[nearest[np.arange(len(origin)), rng.integers(0, k, size=len(origin))]]


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
        **{
            f"{kind.name.lower()}_place": _near_home(rng, origin, town.of_kind(kind), town.xy_m)
            for kind in (PlaceKind.SHOP, PlaceKind.RESTAURANT, PlaceKind.GYM, PlaceKind.PARK)
        },
        "friend_place": _gravity_choice(rng, origin, homes, town.xy_m, 6),
    }
    return {name: idx.astype(np.uint32) for name, idx in places.items()}
