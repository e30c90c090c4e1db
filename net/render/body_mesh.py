"""The crowd's body meshes as the GPU draws them: rest vertices, normals and four skinning
influences, at two levels of detail.

The low-poly body (the synthesized LOD 1, neutral template, SMPL frame: y up, facing +z) in
the vertex layout of the skinning shader: each vertex keeps its four largest skinning weights
(renormalised), the usual budget of GPU linear blend skinning; the synthesized model has at most
four non-zero weights per vertex, so nothing is lost.

:func:`coarse` is the mid-distance level: the synthesized body is eight closed tubes (rings of
vertices between two poles, each a connected part of the mesh), and the coarse mesh keeps
every other vertex of every other ring (the last ring too) of each tube, with their skinning
weights, re-triangulated: 504 triangles instead of 1,720. On llvmpipe a body's cost is mostly per
triangle (set-up and binning), and a body under ``culling.BODY_DETAIL_HEIGHT_PX`` tall shows no
difference. Glossary: V vertices, F faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from synthtwin.kernels.mesh import tube_faces
from synthtwin.kernels.smpl import BodyModel

__all__ = ["INFLUENCES", "BodyMesh", "coarse"]

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
        faces: ``(F, 3) uint32`` triangles, counter-clockwise seen from outside.
    """

    positions: np.ndarray
    normals: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    faces: np.ndarray

    @classmethod
    def from_body(cls, body: BodyModel) -> BodyMesh:
        """The template mesh of ``body`` with its top-4 skinning influences."""
        return cls.from_arrays(body.v_template, body.faces, body.weights)

    @classmethod
    def from_arrays(cls, positions: np.ndarray, faces: np.ndarray, weights: np.ndarray) -> BodyMesh:
        """A mesh of rest ``positions (V, 3)``, ``faces (F, 3)`` and skinning ``weights (V, J)``."""
        positions = np.asarray(positions, np.float64)
        corners = positions[faces]  # (F, 3, 3)
        # (F, 3) face normals, length twice the face's area
        face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals = np.zeros_like(positions)
        for corner in range(3):
            np.add.at(normals, faces[:, corner], face_normals)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        joints = np.argsort(-weights, axis=1, kind="stable")[:, :INFLUENCES]
        top = np.take_along_axis(weights, joints, axis=1)
        top /= top.sum(axis=1, keepdims=True)
        return cls(
            positions=positions.astype(np.float32),
            normals=normals.astype(np.float32),
            joints=joints.astype(np.float32),
            weights=top.astype(np.float32),
            faces=np.asarray(faces).astype(np.uint32),
        )

    @property
    def vertex_records(self) -> np.ndarray:
        """``(V, 14) float32``: position, normal, joints, weights per vertex (the GPU buffer)."""
        return np.concatenate([self.positions, self.normals, self.joints, self.weights], axis=1)

    @property
    def height_m(self) -> float:
        """The rest mesh's height (m)."""
        return float(np.ptp(self.positions[:, 1]))


def coarse(body: BodyModel) -> BodyMesh | None:
    """The coarse level of the synthesized low-poly body (see the module docstring), or None
    when ``body`` is not made of its tubes (a real SMPL model)."""
    slices = _parts(body.faces, body.num_vertices)
    if slices is None:
        return None
    template = np.asarray(body.v_template, np.float64)
    keep, faces, start = [], [], 0
    for part in slices:
        around = int((body.faces == part.start).any(axis=1).sum())  # the start pole's fan
        rings = (part.stop - part.start - 2) // around
        if around % 2 or rings * around + 2 != part.stop - part.start:
            return None
        ring_rows = sorted({*range(0, rings, 2), rings - 1})
        ring_vertices = part.start + 1 + np.add.outer(np.multiply(ring_rows, around),
                                                      np.arange(0, around, 2))  # fmt: skip
        kept = np.concatenate([[part.start], ring_vertices.ravel(), [part.stop - 1]])
        local = tube_faces(len(ring_rows), around // 2, outward=True)
        if _signed_volume(template[kept], local) < 0:
            local = local[:, ::-1]
        keep.append(kept)
        faces.append(local + start)
        start += len(kept)
    kept = np.concatenate(keep)
    return BodyMesh.from_arrays(template[kept], np.vstack(faces), np.asarray(body.weights)[kept])


def _parts(faces: np.ndarray, num_vertices: int) -> list[slice] | None:
    """Vertex ranges of the mesh's connected parts, by first vertex, or None when a part's
    vertices are not one contiguous range."""
    # (3 F,) edges a-b, b-c, c-a of every face
    graph = coo_matrix(
        (np.ones(faces.size), (faces.ravel(), np.roll(faces, 1, axis=1).ravel())),
        shape=(num_vertices, num_vertices),
    )
    count, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    parts = []
    for k in range(count):
        rows = order[bounds[k] : bounds[k + 1]]
        if rows[-1] - rows[0] + 1 != len(rows):
            return None
        parts.append(slice(int(rows[0]), int(rows[-1]) + 1))
    return sorted(parts, key=lambda part: part.start)


def _signed_volume(positions: np.ndarray, faces: np.ndarray) -> float:
    """Volume (m^3) a closed mesh encloses, positive when its faces wind counter-clockwise seen
    from outside (divergence theorem)."""
    corners = positions[faces]  # (F, 3, 3)
    return float(np.einsum("fi,fi->", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])) / 6)
