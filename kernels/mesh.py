"""Mesh topology: the triangles of closed tubes, the parts the synthesized body is made of.

Glossary: R rings, N vertices a ring, F faces.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tube_faces"]


def tube_faces(rings: int, around: int, outward: bool) -> np.ndarray:
    """``(2 R N, 3) int64`` triangles of a closed tube with poles, local vertex indices."""
    k = np.arange(around)
    k1 = (k + 1) % around
    ring = 1 + np.arange(rings - 1)[:, None] * around
    a, b, c, d = ring + k, ring + around + k, ring + around + k1, ring + k1
    sides = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], 1).reshape(-1, 3)
    end = 1 + rings * around
    last = 1 + (rings - 1) * around
    start_cap = np.stack([np.zeros(around, np.int64), 1 + k, 1 + k1], -1)
    end_cap = np.stack([np.full(around, end), last + k1, last + k], -1)
    faces = np.vstack([start_cap, sides, end_cap])
    return faces if outward else faces[:, ::-1]
