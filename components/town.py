"""The town the twins live in: its places, by kind and position (built by
``synthtwin.engine.synth.town``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = ["PLACE_KINDS", "PlaceKind", "Town"]


class PlaceKind(IntEnum):
    HOME = 0
    WORKPLACE = 1
    SCHOOL = 2
    SHOP = 3
    RESTAURANT = 4
    GYM = 5
    PARK = 6


PLACE_KINDS: tuple[str, ...] = tuple(kind.name.lower() for kind in PlaceKind)
"""Place kind names by code, as the wire and the REST API spell them."""


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
