"""The activity catalogue: what a twin can be doing, its time-use category and its intensity.

Every activity maps to exactly one major category of the American Time Use Survey (ATUS, BLS
lexicon): the twelve ``CATEGORIES`` below. Intensities are metabolic equivalents from the 2011
Compendium of Physical Activities (Ainsworth et al., Med Sci Sports Exerc 43:1575); incidental
stepping cadences are averages over the activity (Tudor-Locke et al. 2011, "How many steps/day are
enough?", and Tudor-Locke & Bassett 2004 for daily totals), not walking cadences.

This is plain data: behaviour, physiology and the health record all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from synthtwin.components.town import PlaceKind

__all__ = [
    "ACTIVITIES",
    "ACTIVITY_NAMES",
    "CATEGORIES",
    "Activity",
    "ActivitySpec",
    "activity_table",
]

CATEGORIES: tuple[str, ...] = (
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


class Activity(IntEnum):
    SLEEP = 0
    PERSONAL_CARE = 1
    EAT = 2
    EAT_OUT = 3
    HOUSEHOLD = 4
    WORK = 5
    SCHOOL = 6
    SHOPPING = 7
    CARING = 8
    TV = 9
    LEISURE = 10
    SOCIALIZE = 11
    EXERCISE_GYM = 12
    EXERCISE_PARK = 13
    TRAVEL = 14


ACTIVITY_NAMES: tuple[str, ...] = tuple(a.name.lower() for a in Activity)
"""Activity names by code, as the wire (``meta.activities``) and the REST API spell them."""


@dataclass(frozen=True)
class ActivitySpec:
    """One activity.

    Attributes:
        category: index into ``CATEGORIES``.
        mets: intensity in METs (Compendium 2011 code in ``source``); WORK uses the twin's own.
        cadence_spm: average steps per minute over the activity.
        place: where it happens; HOME for SOCIALIZE means a friend's home.
        median_min: median duration in minutes when nothing else ends it.
        source: Compendium code(s) behind ``mets``.
    """

    category: int
    mets: float
    cadence_spm: float
    place: PlaceKind
    median_min: float
    source: str


def _spec(cat: str, mets: float, spm: float, place: PlaceKind, median_min: float, src: str):
    return ActivitySpec(CATEGORIES.index(cat), mets, spm, place, median_min, src)


H = PlaceKind
ACTIVITIES: dict[Activity, ActivitySpec] = {
    Activity.SLEEP: _spec("sleep", 0.95, 0.0, H.HOME, 480, "07030 sleeping"),
    Activity.PERSONAL_CARE: _spec("personal_care", 2.0, 10, H.HOME, 30, "13040 grooming, 13030"),
    Activity.EAT: _spec("eating", 1.5, 1, H.HOME, 22, "13030 eating, sitting"),
    Activity.EAT_OUT: _spec("eating", 1.5, 2, H.RESTAURANT, 45, "13030 eating, sitting"),
    Activity.HOUSEHOLD: _spec("household", 2.5, 10, H.HOME, 40, "05046 cooking, 05021 cleaning"),
    Activity.WORK: _spec("work", 1.5, 6, H.WORKPLACE, 480, "11580 office work (twin-specific)"),
    Activity.SCHOOL: _spec("education", 1.8, 4, H.SCHOOL, 180, "09060 sitting in class"),
    Activity.SHOPPING: _spec("shopping", 2.3, 30, H.SHOP, 35, "05060 shopping, general"),
    Activity.CARING: _spec("caring", 2.5, 12, H.HOME, 45, "05183 child care, light effort"),
    Activity.TV: _spec("leisure", 1.3, 1, H.HOME, 75, "07020 sitting, watching TV"),
    Activity.LEISURE: _spec("leisure", 1.3, 3, H.HOME, 60, "07021 sitting quietly, reading"),
    Activity.SOCIALIZE: _spec("socializing", 1.5, 5, H.HOME, 90, "09050 talking, sitting"),
    Activity.EXERCISE_GYM: _spec("exercise", 5.5, 30, H.GYM, 60, "02050 resistance, 02010 cycling"),
    Activity.EXERCISE_PARK: _spec("exercise", 4.5, 115, H.PARK, 40, "17200 brisk walk, 12020 jog"),
    Activity.TRAVEL: _spec("travel", 1.3, 0, H.HOME, 20, "16010 riding in a car; by mode"),
}


@dataclass(frozen=True)
class ActivityTable:
    """The catalogue as arrays indexed by activity code, for vectorised lookups.

    Attributes (all ``(A,)``): category int8, mets float32, cadence_spm float32, place int8,
    median_min float32.
    """

    category: np.ndarray
    mets: np.ndarray
    cadence_spm: np.ndarray
    place: np.ndarray
    median_min: np.ndarray


def activity_table() -> ActivityTable:
    specs = [ACTIVITIES[a] for a in Activity]
    return ActivityTable(
        category=np.array([s.category for s in specs], dtype=np.int8),
        mets=np.array([s.mets for s in specs], dtype=np.float32),
        cadence_spm=np.array([s.cadence_spm for s in specs], dtype=np.float32),
        place=np.array([s.place for s in specs], dtype=np.int8),
        median_min=np.array([s.median_min for s in specs], dtype=np.float32),
    )
