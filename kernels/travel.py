"""Travel: trip distance on a street grid, travel mode and door-to-door time. Pure array functions.

Distances are Manhattan (L1) distances, a street-grid approximation of network distance. Speeds are
door-to-door averages in towns, overheads (walking to the car and parking, waiting for the bus)
included separately:

- walk 1.34 m/s: comfortable gait speed of adults (Bohannon & Andrews 2011, Physiotherapy 97:182).
- bike 4.3 m/s (15.5 km/h): conventional bicycles in urban traffic (Schleinitz et al. 2017,
  Safety Science 92:290, 15.3 km/h).
- car 9.0 m/s (32 km/h) plus 3 min access/parking: urban trips with signals and congestion
  (US NHTS 2017 urban private-vehicle trips average ~20-25 mph door to door).
- bus 4.5 m/s plus 10 min access and waiting (NHTS 2017 transit trips average ~50 min).

Modes follow NHTS 2017 shares roughly: short trips on foot, bikes for a few, cars for most.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MODE_CADENCE_SPM",
    "MODE_METS",
    "SPEED_MPS",
    "choose_mode",
    "l1_distance_m",
    "trip_time_s",
]

WALK, BIKE, CAR, BUS = 0, 1, 2, 3
SPEED_MPS = np.array([1.34, 4.3, 9.0, 4.5], dtype=np.float32)
"""(4,) door-to-door speed of walk, bike, car, bus."""
OVERHEAD_S = np.array([0.0, 60.0, 180.0, 600.0], dtype=np.float32)
"""(4,) access, parking and waiting time per trip."""
MODE_METS = np.array([3.5, 6.8, 1.3, 1.3], dtype=np.float32)
"""(4,) intensity (Compendium 2011: 17200 walking 3.5, 01010 bicycling leisure 6.8, 16010 1.3)."""
MODE_CADENCE_SPM = np.array([105.0, 0.0, 8.0, 15.0], dtype=np.float32)
"""(4,) steps per minute over the trip; car and bus trips include the walk to the vehicle."""
WALK_MAX_M = 1000.0
BIKE_MAX_M = 6000.0


def l1_distance_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Street-grid distance between ``(M, 2)`` points, in metres, ``(M,) float32``."""
    return np.abs(a - b).sum(axis=-1, dtype=np.float32)


def choose_mode(dist_m: np.ndarray, has_car: np.ndarray, bikes: np.ndarray) -> np.ndarray:
    """``(M,) uint8`` travel mode for trips of ``dist_m``: walk short trips, bike if a cyclist,
    drive if the household has a car, else take the bus."""
    mode = np.where(has_car, CAR, BUS).astype(np.uint8)
    mode[(dist_m <= BIKE_MAX_M) & bikes] = BIKE
    mode[dist_m <= WALK_MAX_M] = WALK
    return mode


def trip_time_s(dist_m: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """``(M,) float32`` door-to-door seconds for trips of ``dist_m`` by ``mode``."""
    return dist_m / SPEED_MPS[mode] + OVERHEAD_S[mode]
