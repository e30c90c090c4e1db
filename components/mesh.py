"""Meshes on request: the sparse component that asks for a twin's skinned mesh, and the resource
the skinning system fills (``synthtwin.systems.skinning``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MeshBatch", "MeshRequest", "Meshes"]


@dataclass(frozen=True)
class MeshRequest:
    """Sparse component: this twin is wanted as a mesh at level of detail ``lod`` (0 or 1)."""

    lod: int = 1


@dataclass(frozen=True)
class MeshBatch:
    """Skinned twins of one level of detail.

    Attributes:
        ids: ``(M,) uint32``; vertices: ``(M, V, 3) float32`` body frame, metres;
        position_m: ``(M, 2) float32`` map position; heading_rad: ``(M,) float32``.
    """

    ids: np.ndarray
    vertices: np.ndarray
    position_m: np.ndarray
    heading_rad: np.ndarray


@dataclass
class Meshes:
    """Resource: the latest mesh batch per level of detail."""

    by_lod: dict[int, MeshBatch] = field(default_factory=dict)
