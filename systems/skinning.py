"""Skinning: meshes for the twins that someone needs as meshes, and only for them.

A viewer (or a tool) attaches a ``MeshRequest`` sparse component to a twin; each tick this system
poses those twins from their animation state (``synthtwin.kernels.clips.ClipLibrary``), shapes
them with their own betas, and skins them with the body model of their sex at the requested level
of detail (``synthtwin.kernels.smpl.BodyModel``, numba kernels), which the application supplies.
Meshes are in the body's own SMPL frame (y up, metres, root at the origin); ``Meshes`` keeps each
twin's map position and heading beside them for the renderer. Crowds without a request cost
nothing here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthtwin.components.mesh import MeshBatch, Meshes, MeshRequest
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.smpl import BodyModel

__all__ = ["BodySource", "SkinningSystem"]

SEXES = ("female", "male")

BodySource = Callable[[str, int], BodyModel]
"""Gives the body model of a sex ("female", "male") at a level of detail (0, 1)."""


class SkinningSystem(System):
    """Poses, shapes and skins the twins carrying a ``MeshRequest``."""

    phase = Phase.SKINNING
    reads = ("clip", "previous_clip", "clip_phase", "clip_blend", "betas", "sex", "position_m",
             "heading_rad")  # fmt: skip
    writes = ()

    def __init__(self, world: World, bodies: BodySource, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.bodies = bodies
        self._models: dict[tuple[str, int], BodyModel] = {}

    def run(self, tick: Tick) -> None:
        requests = self.world.query_sparse(MeshRequest)
        meshes = self.world.resource(Meshes)
        meshes.by_lod = {}
        for lod in sorted({request.lod for _, request in requests}):
            ids = np.array(sorted(t for t, r in requests if r.lod == lod), dtype=np.uint32)
            meshes.by_lod[lod] = self._skin(ids, lod)

    def _skin(self, ids: np.ndarray, lod: int) -> MeshBatch:
        w = self.world
        rows = w.rows_of(ids)
        library = w.resource(ClipLibrary)
        quat = library.poses(
            w["clip"][rows], w["previous_clip"][rows], w["clip_phase"][rows], w["clip_blend"][rows]
        )
        pose = quat_to_axis_angle(quat).reshape(len(rows), -1)
        vertices = None
        for code, sex in enumerate(SEXES):
            mine = w["sex"][rows] == code
            if not mine.any():
                continue
            model = self._model(sex, lod)
            out = model.forward(
                w["betas"][rows[mine]], pose[mine, 3:], pose[mine, :3], np.zeros((mine.sum(), 3))
            )
            if vertices is None:
                vertices = np.empty((len(rows), model.num_vertices, 3), dtype=np.float32)
            vertices[mine] = out.vertices
        return MeshBatch(ids, vertices, w["position_m"][rows].copy(), w["heading_rad"][rows].copy())

    def _model(self, sex: str, lod: int) -> BodyModel:
        key = (sex, lod)
        if key not in self._models:
            self._models[key] = self.bodies(sex, lod)
        return self._models[key]
