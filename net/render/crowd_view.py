"""What the renderer draws of a crowd: each twin's place, heading and animation state.

The caller builds it from the fields of the same names of ``net.wire.clone.Crowd``. Glossary: N
twins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.components.pose import CLIPS

__all__ = ["ACTIVITY_CODES", "CrowdView"]

ACTIVITY_CODES = 16
"""Activity codes are below this (one palette colour each)."""


@dataclass(frozen=True)
class CrowdView:
    """N twins as the renderer sees them; construction converts dtypes and validates.

    Attributes:
        ids: ``(N,) int64`` twin ids.
        pos_m: ``(N, 2) float64`` position on the ground (x east, y north).
        heading_rad: ``(N,) float32`` facing direction, 0 = east, counter-clockwise.
        activity: ``(N,) uint8`` activity code, < 16.
        clip: ``(N,) uint8`` animation clip, an index into ``components.pose.CLIPS``.
        phase: ``(N,) float32`` position in the clip's loop, [0, 1].
    """

    ids: np.ndarray
    pos_m: np.ndarray
    heading_rad: np.ndarray
    activity: np.ndarray
    clip: np.ndarray
    phase: np.ndarray

    def __post_init__(self) -> None:
        convert = {
            "ids": np.int64,
            "pos_m": np.float64,
            "heading_rad": np.float32,
            "activity": np.uint8,
            "clip": np.uint8,
            "phase": np.float32,
        }
        for name, dtype in convert.items():
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype))
        count = len(self.ids)
        if self.ids.shape != (count,) or self.pos_m.shape != (count, 2):
            raise ValueError(
                f"ids must be (N,) and pos_m (N, 2), got {self.ids.shape} and {self.pos_m.shape}"
            )
        for name in ("heading_rad", "activity", "clip", "phase"):
            shape = getattr(self, name).shape
            if shape != (count,):
                raise ValueError(f"{name} must have shape ({count},), got {shape}")
        if not (np.isfinite(self.pos_m).all() and np.isfinite(self.heading_rad).all()):
            raise ValueError("pos_m and heading_rad must be finite")
        if not np.isfinite(self.phase).all():
            raise ValueError("phase must be finite")
        if count and int(self.activity.max()) >= ACTIVITY_CODES:
            raise ValueError(f"activity codes must be < {ACTIVITY_CODES}")
        if count and int(self.clip.max()) >= len(CLIPS):
            raise ValueError(f"clip codes must be < {len(CLIPS)} (components.pose.CLIPS)")

    def __len__(self) -> int:
        return len(self.ids)

    def position_of(self, twin_id: int) -> np.ndarray | None:
        """``(2,)`` where the twin is, metres; None if this view does not hold it."""
        rows = np.flatnonzero(self.ids == twin_id)
        return self.pos_m[rows[0]] if rows.size else None

    @classmethod
    def empty(cls) -> CrowdView:
        """No twins."""
        return cls(
            np.zeros(0), np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
        )
