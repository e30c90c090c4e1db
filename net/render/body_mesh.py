"""The crowd's body mesh as the GPU draws it: rest vertices, normals and four skinning influences.

The low-poly body (``BodyModel.load(lod=1)``, neutral template, SMPL frame: y up, facing +z) in
the vertex layout of the skinning shader: each vertex keeps its four largest skinning weights
(renormalised), the usual budget of GPU linear blend skinning; the synthesized model has at most
four non-zero weights per vertex, so nothing is lost. Glossary: V vertices, F faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.body import BodyModel

__all__ = ["INFLUENCES", "BodyMesh"]

INFLUENCES = 4
"""Skinning influences per vertex."""


@dataclass(frozen=True)
class BodyMesh:
    """A skinnable mesh.

    Attributes:
        positions: ``(V, 3) float32`` rest positions (m).
        normals: ``(V, 3) float32`` unit rest normals, area-weighted over the faces.
        joints: ``(V, 4) float32`` joint indices of the influences (whole numbers).
        weights: ``(V, 4) float32`` their weights, summing to 1.
        faces: ``(F, 3) uint32`` triangles.
    """

    positions: np.ndarray
    normals: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    faces: np.ndarray

    @classmethod
    def from_body(cls, body: BodyModel) -> BodyMesh:
        """The template mesh of ``body`` with its top-4 skinning influences."""
        positions = body.v_template.astype(np.float64)
        faces = body.faces
        corners = positions[faces]  # (F, 3, 3)
        # (F, 3) face normals, length twice the face's area
        face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals = np.zeros_like(positions)
        for corner in range(3):
            np.add.at(normals, faces[:, corner], face_normals)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        joints = np.argsort(-body.weights, axis=1, kind="stable")[:, :INFLUENCES]
        weights = np.take_along_axis(body.weights, joints, axis=1)
        weights /= weights.sum(axis=1, keepdims=True)
        return cls(
            positions=positions.astype(np.float32),
            normals=normals.astype(np.float32),
            joints=joints.astype(np.float32),
            weights=weights.astype(np.float32),
            faces=faces.astype(np.uint32),
        )

    @property
    def vertex_records(self) -> np.ndarray:
        """``(V, 14) float32``: position, normal, joints, weights per vertex (the GPU buffer)."""
        return np.concatenate([self.positions, self.normals, self.joints, self.weights], axis=1)

    @property
    def height_m(self) -> float:
        """The rest mesh's height (m)."""
        return float(np.ptp(self.positions[:, 1]))
