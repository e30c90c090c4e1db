"""Skinning: meshes for the twins that someone needs as meshes, and only for them.

A viewer (or a tool) attaches a ``MeshRequest`` sparse component to a twin; each tick this system
poses those twins from their animation state (``synthtwin.kernels.clips.ClipLibrary``), shapes
them with their own betas, and skins them with the body model of their sex at the requested level
of detail (``synthtwin.kernels.smpl.BodyModel``), which the application supplies. Meshes are in
the body's own SMPL frame (y up, metres, root at the origin); ``Meshes`` keeps each twin's map
position and heading beside them for the renderer. Crowds without a request cost nothing here.

Pattern: one skinner per body model, its kind picked by the backend (like the physiology kernel):

- CPU: ``NumbaBodySkinner``, the body model's own numba kernels (``BodyModel.forward``);
- CUDA: ``WarpBodySkinner``, Warp's kernels (``kernels.warp.skinning.WarpSkinner``) on Warp's
  device ``"cuda"``. It keeps the model's arrays on the device and its batch arrays sized for the
  most twins requested so far (``WarpSkinner.reserve``, doubling), so a tick with no more
  requests than before allocates nothing on the device: it copies poses and shapes in, launches,
  and copies the vertices out. ``warmup`` compiles (or loads) the kernels before the first tick.

Both compute smplx's ``lbs`` (``tests/test_skinning_kernels.py``); ``warp_device="cpu"`` runs the
Warp path on the CPU, which is how ``tests/test_skinning_system.py`` checks it against the numba
path without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synthtwin.components.mesh import MeshBatch, Meshes, MeshRequest
from synthtwin.engine.backend import Backend
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.smpl import BodyModel

__all__ = [
    "BodySource",
    "NumbaBodySkinner",
    "SkinningSystem",
    "WarpBodySkinner",
    "warp_device_for",
]

SEXES = ("female", "male")

BodySource = Callable[[str, int], BodyModel]
"""Gives the body model of a sex ("female", "male") at a level of detail (0, 1)."""


def warp_device_for(backend: Backend) -> str | None:
    """The Warp device that skins on ``backend``: ``"cuda"`` on CUDA; None (numba) on the CPU."""
    return "cuda" if backend.name == "cuda" else None


class NumbaBodySkinner:
    """Skins with the body model's numba kernels, on the CPU (``BodyModel.forward``)."""

    def __init__(self, body: BodyModel) -> None:
        self.body = body

    def skin(self, betas: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """``(B, V, 3) float32`` vertices (m), root at the origin, of the shapes ``betas``
        ``(B, NB)`` in the axis-angle poses ``pose`` ``(B, J, 3)`` (rad, root first)."""
        b = len(betas)
        origin = np.zeros((b, 3))
        return self.body.forward(betas, pose[:, 1:].reshape(b, -1), pose[:, 0], origin).vertices


class WarpBodySkinner:
    """Skins with Warp's kernels on a Warp device (``"cuda"``, ``"cpu"``): one ``WarpSkinner``,
    its arrays allocated here and grown only when a batch outgrows them."""

    def __init__(self, body: BodyModel, device: str) -> None:
        from synthtwin.kernels.warp.skinning import WarpSkinner  # Warp only on this path

        # The very arrays the body's numba skinner reads.
        self._skinner = WarpSkinner(body.skinning_model, batch_size=1, device=device)

    def skin(self, betas: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """``(B, V, 3) float32`` vertices, as ``NumbaBodySkinner.skin`` (same arguments)."""
        b = len(betas)
        num_betas = self._skinner.model.num_betas
        padded = np.zeros((b, num_betas), np.float32)  # (B, NB): absent betas are 0, as smplx
        padded[:, : betas.shape[1]] = betas
        self._skinner.reserve(b)
        out = self._skinner.forward(padded, pose, np.zeros((b, 3), np.float32))
        return out.vertices.numpy()  # a device-to-host copy on CUDA, a view on the CPU


class SkinningSystem(System):
    """Poses, shapes and skins the twins carrying a ``MeshRequest``.

    Args:
        world: the world, whose backend picks the skinner.
        bodies: the body models.
        every: run every this many ticks.
        warp_device: skin with Warp on this device (``"cuda"``, ``"cpu"``); None: the backend's
            (``warp_device_for(world.backend)``: Warp on CUDA, numba on the CPU).
    """

    phase = Phase.SKINNING
    reads = ("clip", "previous_clip", "clip_phase", "clip_blend", "betas", "sex", "position_m",
             "heading_rad")  # fmt: skip
    writes = ()

    def __init__(
        self, world: World, bodies: BodySource, every: int = 1, *, warp_device: str | None = None
    ) -> None:
        super().__init__(every)
        self.world = world
        self.bodies = bodies
        self.warp_device = warp_device or warp_device_for(world.backend)
        self._skinners: dict[tuple[str, int], NumbaBodySkinner | WarpBodySkinner] = {}

    def run(self, tick: Tick) -> None:
        requests = self.world.query_sparse(MeshRequest)
        meshes = self.world.resource(Meshes)
        meshes.by_lod = {}
        for lod in sorted({request.lod for _, request in requests}):
            ids = np.array(sorted(t for t, r in requests if r.lod == lod), dtype=np.uint32)
            meshes.by_lod[lod] = self._skin(ids, lod)

    def warmup(self) -> None:
        """On the Warp path, compile (or load) the Warp kernels for the device before the first
        tick; the numba path's kernels load on their first call."""
        if self.warp_device is not None:
            import warp as wp

            from synthtwin.kernels.warp import skinning

            wp.load_module(skinning, device=self.warp_device)

    def _skin(self, ids: np.ndarray, lod: int) -> MeshBatch:
        w = self.world
        rows = w.rows_of(ids)
        library = w.resource(ClipLibrary)
        quat = library.poses(
            w["clip"][rows], w["previous_clip"][rows], w["clip_phase"][rows], w["clip_blend"][rows]
        )
        pose = quat_to_axis_angle(quat)  # (M, J, 3) rad
        sex = w["sex"][rows]
        vertices = None
        for code, name in enumerate(SEXES):
            mine = sex == code
            if not mine.any():
                continue
            skinned = self.skinner(name, lod).skin(w["betas"][rows[mine]], pose[mine])
            if vertices is None:
                vertices = np.empty((len(rows), skinned.shape[1], 3), dtype=np.float32)
            vertices[mine] = skinned
        return MeshBatch(ids, vertices, w["position_m"][rows].copy(), w["heading_rad"][rows].copy())

    def skinner(self, sex: str, lod: int) -> NumbaBodySkinner | WarpBodySkinner:
        """The skinner of the body model of ``sex`` at ``lod``, made on first use."""
        key = (sex, lod)
        if key not in self._skinners:
            body = self.bodies(sex, lod)
            self._skinners[key] = (
                NumbaBodySkinner(body)
                if self.warp_device is None
                else WarpBodySkinner(body, self.warp_device)
            )
        return self._skinners[key]
