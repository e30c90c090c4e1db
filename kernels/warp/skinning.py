"""Body skinning with Warp: one kernel source for the CPU and CUDA (the ``device`` argument).

The math is smplx's ``smplx.lbs.lbs``, restated in ``kernels.numba.skinning`` (glossary: B twins,
V vertices, J joints, NB betas, P = 9 (J - 1) pose features). One thread per element, natural
``(B, ...)`` layouts, in four kernels launched in order:

1. ``blend_shapes`` per (twin, point): shaped vertices ``(B, V)`` and, with the joint regressor
   folded into the shape basis, rest joints ``(B, J)``. Launched only when betas change if the
   skinner caches the shape.
2. ``rodrigues`` per (twin, joint): local rotations from axis-angle (skipped for matrix poses).
3. ``forward_kinematics`` per twin: the joint chain, smplx's ``A`` as ``mat34``, posed joints and
   the pose feature ``R_j - I``.
4. ``skin`` per (twin, vertex): ``sum_k w_k A_k [v_shaped + posedirs @ feature, 1] + transl``,
   generic over the correctives' form (``DenseCorrectives`` or ``LocalCorrectives`` rows) and
   reading fixed-width ``Influences`` (K = J, exact; or the K = 4 largest, exact where a vertex
   has at most 4 non-zero weights).

Launches are twin-major (vertex fastest): on CUDA neighbouring threads read neighbouring model
entries and write neighbouring vertices. On the CPU, Warp runs a launch on one core without SIMD
across threads (measured: ~20x slower than ``kernels.numba.skinning``, which is the CPU path); a
vertex-major order was tried there and lost on local correctives (strided writes).

The model's arrays come from ``kernels.numba.skinning.SkinningModel`` (plain numpy, shared by both
backends). No ``from __future__ import annotations`` here: Warp reads kernel annotations as types.

``WarpSkinner`` (pattern: allocate in ``__init__``, launch in ``forward``) skins batches of up
to a reserved size over only the twins each call brings, and optionally records its launches once
with ``wp.ScopedCapture`` (a CUDA graph; a command list on the CPU) and replays them. It is the
CUDA path of ``systems.skinning.SkinningSystem``.
"""

from typing import Any

import numpy as np
import warp as wp

from synthtwin.kernels.numba.skinning import (
    SkinnedBatch,
    SkinningModel,
    check_inputs,
    corrective_rows,
)

__all__ = [
    "DenseCorrectives",
    "Influences",
    "LocalCorrectives",
    "WarpSkinner",
    "blend_shapes",
    "forward_kinematics",
    "mat34",
    "rodrigues",
    "skin",
    "skin_kernel",
]

wp.set_module_options({"enable_backward": False})  # forward only: half the compile time

mat34 = wp.types.matrix(shape=(3, 4), dtype=wp.float32)
"""A rigid transform ``[R | t]``, row-major 3 x 4."""

SMALL_ANGLE_RAD = wp.constant(1.0e-8)
"""Below this rotation angle, Rodrigues' formula is replaced by its first order, I + [r]x."""


@wp.struct
class DenseCorrectives:
    """Pose correctives read in full by every vertex (real SMPL files).

    Attributes:
        dirs: ``(P, V) wp.vec3`` displacement of vertex v per unit of pose feature p (m).
    """

    dirs: wp.array2d[wp.vec3]


@wp.struct
class LocalCorrectives:
    """Pose correctives as compressed rows: vertex v's entries are ``start[v]:start[v + 1]``.

    Attributes:
        start: ``(V + 1,) int32`` row offsets.
        feature: ``(E,) int32`` pose-feature index of each entry.
        dirs: ``(E,) wp.vec3`` displacement per unit of that feature (m).
    """

    start: wp.array[wp.int32]
    feature: wp.array[wp.int32]
    dirs: wp.array[wp.vec3]


@wp.struct
class Influences:
    """Fixed-width skinning influences.

    Attributes:
        joint: ``(V, K) int32`` joints that move each vertex.
        weight: ``(V, K) float32`` their weights.
    """

    joint: wp.array2d[wp.int32]
    weight: wp.array2d[wp.float32]


@wp.func
def axis_angle_to_matrix(r: wp.vec3) -> wp.mat33:
    """Rodrigues' formula ``I + sin(t)/t [r]x + (1 - cos t)/t^2 [r]x^2``, t = |r| (rad)."""
    angle2 = wp.dot(r, r)
    angle = wp.sqrt(angle2)
    k = wp.skew(r)
    identity = wp.identity(n=3, dtype=wp.float32)
    if angle <= SMALL_ANGLE_RAD:
        return identity + k
    half_sin = wp.sin(0.5 * angle)
    return identity + (wp.sin(angle) / angle) * k + (2.0 * half_sin * half_sin / angle2) * (k @ k)


@wp.func
def rigid_transform(rotation: wp.mat33, translation: wp.vec3) -> mat34:
    """``[rotation | translation]``."""
    r = rotation
    t = translation
    return mat34(
        r[0, 0], r[0, 1], r[0, 2], t[0],
        r[1, 0], r[1, 1], r[1, 2], t[1],
        r[2, 0], r[2, 1], r[2, 2], t[2],
    )  # fmt: skip


@wp.func
def rotation_part(m: mat34) -> wp.mat33:
    """The left 3 x 3 block of ``[R | t]``."""
    return wp.mat33(
        m[0, 0], m[0, 1], m[0, 2],
        m[1, 0], m[1, 1], m[1, 2],
        m[2, 0], m[2, 1], m[2, 2],
    )  # fmt: skip


@wp.func
def write_pose_feature(pose_feature: wp.array2d[wp.float32], b: int, j: int, rotation: wp.mat33):
    """Write joint j's ``R - I``, row-major, to features ``9 (j - 1) .. 9 j - 1`` of twin b."""
    d = rotation - wp.identity(n=3, dtype=wp.float32)
    for r in range(3):
        for c in range(3):
            pose_feature[b, 9 * (j - 1) + 3 * r + c] = d[r, c]


@wp.func
def pose_offset(
    correctives: DenseCorrectives, pose_feature: wp.array2d[wp.float32], b: int, v: int
) -> wp.vec3:
    """``sum_p pose_feature[b, p] dirs[p, v]`` over all P features (m)."""
    offset = wp.vec3(0.0)
    for p in range(correctives.dirs.shape[0]):
        offset += pose_feature[b, p] * correctives.dirs[p, v]
    return offset


@wp.func
def pose_offset(  # noqa: F811 (Warp overloads functions by argument types)
    correctives: LocalCorrectives, pose_feature: wp.array2d[wp.float32], b: int, v: int
) -> wp.vec3:
    """``sum_e pose_feature[b, feature[e]] dirs[e]`` over vertex v's row (m)."""
    offset = wp.vec3(0.0)
    for e in range(correctives.start[v], correctives.start[v + 1]):
        offset += pose_feature[b, correctives.feature[e]] * correctives.dirs[e]
    return offset


@wp.func
def blended_transform(
    influences: Influences, transforms: wp.array2d[mat34], b: int, v: int
) -> mat34:
    """``sum_k weight[v, k] transforms[b, joint[v, k]]``."""
    blended = mat34(0.0)
    for k in range(influences.joint.shape[1]):
        blended += influences.weight[v, k] * transforms[b, influences.joint[v, k]]
    return blended


@wp.kernel
def blend_shapes(
    rest: wp.array[wp.vec3],
    dirs: wp.array2d[wp.vec3],
    betas: wp.array2d[wp.float32],
    out: wp.array2d[wp.vec3],
):
    """``out[b, n] = rest[n] + sum_l betas[b, l] dirs[l, n]``; launch ``dim=(B, N)``.

    Args:
        rest: ``(N,) vec3`` template points (m). (``template`` is a C++ keyword.)
        dirs: ``(NB, N) vec3`` displacement per beta (m).
        betas: ``(B, NB) float32``.
        out: ``(B, N) vec3`` written (m).
    """
    b, n = wp.tid()
    point = rest[n]
    for beta in range(dirs.shape[0]):
        point += betas[b, beta] * dirs[beta, n]
    out[b, n] = point


@wp.kernel
def rodrigues(axis_angle: wp.array2d[wp.vec3], rotations: wp.array2d[wp.mat33]):
    """Local rotation matrices ``(B, J) mat33`` from axis-angle ``(B, J) vec3`` (rad);
    launch ``dim=(B, J)``."""
    b, j = wp.tid()
    rotations[b, j] = axis_angle_to_matrix(axis_angle[b, j])


@wp.kernel
def forward_kinematics(
    rotations: wp.array2d[wp.mat33],
    rest_joints: wp.array2d[wp.vec3],
    parents: wp.array[wp.int32],
    transl: wp.array[wp.vec3],
    transforms: wp.array2d[mat34],
    joints: wp.array2d[wp.vec3],
    pose_feature: wp.array2d[wp.float32],
):
    """Walk each twin's joint chain (smplx ``batch_rigid_transform``); launch ``dim=B``.

    Args:
        rotations: ``(B, J) mat33`` local joint rotations.
        rest_joints: ``(B, J) vec3`` shaped rest joints (m).
        parents: ``(J,) int32``, parent before child, ``-1`` for the root.
        transl: ``(B,) vec3`` root translation (m).
        transforms: ``(B, J) mat34`` written: smplx's ``A = [R_w | t_w - R_w rest]``, without
            ``transl``. The world transform is ``[R_w | joints - transl]``.
        joints: ``(B, J) vec3`` written: posed joints ``t_w + transl`` (m).
        pose_feature: ``(B, P) float32`` written: ``R_j - I`` of joints 1..J-1, row-major.
    """
    b = wp.tid()
    for j in range(parents.shape[0]):
        local = rotations[b, j]
        rest = rest_joints[b, j]
        p = parents[j]
        world = local
        t = rest
        if p >= 0:
            parent = rotation_part(transforms[b, p])
            world = parent @ local
            t = joints[b, p] + parent @ (rest - rest_joints[b, p])
            write_pose_feature(pose_feature, b, j, local)  # every joint but the root (j = 0)
        joints[b, j] = t  # t_w; transl is added once the chain is done
        transforms[b, j] = rigid_transform(world, t - world @ rest)
    for j in range(parents.shape[0]):
        joints[b, j] = joints[b, j] + transl[b]


@wp.kernel
def skin(
    correctives: Any,
    influences: Influences,
    v_shaped: wp.array2d[wp.vec3],
    pose_feature: wp.array2d[wp.float32],
    transforms: wp.array2d[mat34],
    transl: wp.array[wp.vec3],
    vertices: wp.array2d[wp.vec3],
):
    """Pose and skin vertex v of twin b; launch ``dim=(B, V)``. Generic: launch the overload
    ``skin_kernel(correctives)``.

    Args:
        correctives: ``DenseCorrectives`` or ``LocalCorrectives``.
        influences: ``Influences`` with K columns.
        v_shaped: ``(B, V) vec3`` shaped vertices (m).
        pose_feature: ``(B, P) float32`` from ``forward_kinematics``.
        transforms: ``(B, J) mat34`` from ``forward_kinematics``.
        transl: ``(B,) vec3`` translation (m).
        vertices: ``(B, V) vec3`` written (m).
    """
    b, v = wp.tid()
    posed = v_shaped[b, v] + pose_offset(correctives, pose_feature, b, v)
    blended = blended_transform(influences, transforms, b, v)
    vertices[b, v] = blended @ wp.vec4(posed[0], posed[1], posed[2], 1.0) + transl[b]


_SKIN_OVERLOADS = {
    form.instance_type: wp.overload(skin, {"correctives": form})
    for form in (DenseCorrectives, LocalCorrectives)
}


def skin_kernel(correctives: "DenseCorrectives | LocalCorrectives") -> wp.Kernel:
    """The ``skin`` overload for this form of correctives."""
    return _SKIN_OVERLOADS[type(correctives)]


def _vec3_array(a: np.ndarray, device: wp.Device) -> wp.array:
    """``(..., 3)`` float32 numpy as a ``(...)`` ``vec3`` array on ``device``."""
    return wp.array(np.ascontiguousarray(a, dtype=np.float32), dtype=wp.vec3, device=device)


def _correctives(model: SkinningModel, device: wp.Device) -> "DenseCorrectives | LocalCorrectives":
    if model.correctives == "dense":
        correctives = DenseCorrectives()
        correctives.dirs = _vec3_array(model.posedirs.transpose(2, 0, 1), device)  # (P, V)
        return correctives
    rows = corrective_rows(model.posedirs, drop_zeros=True)
    correctives = LocalCorrectives()
    correctives.start = wp.array(rows.start, dtype=wp.int32, device=device)
    correctives.feature = wp.array(rows.feature, dtype=wp.int32, device=device)
    correctives.dirs = _vec3_array(rows.dirs, device)
    return correctives


def _influences(model: SkinningModel, device: wp.Device) -> Influences:
    influences = Influences()
    influences.joint = wp.array(model.influence_joint, dtype=wp.int32, device=device)
    influences.weight = wp.array(model.influence_weight, dtype=wp.float32, device=device)
    return influences


class WarpSkinner:
    """Forward passes of batches of up to ``batch_size`` twins with Warp on ``device``; arrays
    allocated once (the model's in ``__init__``, the batch's in ``reserve``), ``forward`` copies
    the inputs in and launches kernels over the batch's twins only.

    Args:
        model: the body model.
        batch_size: the most twins a call may skin; ``reserve`` raises it.
        device: a Warp device (``"cpu"``, ``"cuda"``, ``"cuda:0"``).
        cache_shape: keep shaped vertices and rest joints while betas are unchanged (compared
            exactly with the previous call's); otherwise blend the shape on every call.
        record: record each launch sequence on first use with ``wp.ScopedCapture`` and replay
            it after (graph capture on CUDA, a recorded command list on the CPU); one recording
            per batch size.
    """

    def __init__(
        self,
        model: SkinningModel,
        batch_size: int,
        device: str | wp.Device = "cpu",
        *,
        cache_shape: bool = True,
        record: bool = False,
    ):
        self.model = model
        self.device = wp.get_device(device)
        self.cache_shape = cache_shape
        self.record = record
        d = self.device
        self.v_template = _vec3_array(model.v_template, d)
        self.shapedirs = _vec3_array(model.shapedirs.transpose(2, 0, 1), d)  # (NB, V)
        self.joint_template = _vec3_array(model.joint_template, d)
        self.joint_shapedirs = _vec3_array(model.joint_shapedirs.transpose(2, 0, 1), d)
        self.parents = wp.array(model.parents, dtype=wp.int32, device=d)
        self.correctives = _correctives(model, d)
        self.influences = _influences(model, d)
        self._skin = skin_kernel(self.correctives)
        self.batch_size = 0
        self.reserve(batch_size)

    def reserve(self, batch_size: int) -> None:
        """Room for batches of ``batch_size`` twins: when that is more than now, the batch's
        arrays are allocated anew for ``max(batch_size, 2 * self.batch_size)`` twins (so a
        growing batch reallocates a logarithmic number of times), forgetting the cached shape and
        the recordings."""
        if batch_size <= self.batch_size:
            return
        self.batch_size = max(batch_size, 2 * self.batch_size)
        m, d, b = self.model, self.device, self.batch_size
        v, j = m.num_vertices, m.num_joints
        self._betas = wp.zeros((b, m.num_betas), dtype=wp.float32, device=d)
        self._axis_angle = wp.zeros((b, j), dtype=wp.vec3, device=d)
        self._transl = wp.zeros(b, dtype=wp.vec3, device=d)
        self._rotations = wp.zeros((b, j), dtype=wp.mat33, device=d)
        self._rest_joints = wp.zeros((b, j), dtype=wp.vec3, device=d)
        self._shaped = wp.zeros((b, v), dtype=wp.vec3, device=d)
        self._transforms = wp.zeros((b, j), dtype=mat34, device=d)
        self._pose_feature = wp.zeros((b, m.num_pose_features), dtype=wp.float32, device=d)
        self._vertices = wp.zeros((b, v), dtype=wp.vec3, device=d)
        self._joints = wp.zeros((b, j), dtype=wp.vec3, device=d)
        self._cached_betas: np.ndarray | None = None
        self._graphs: dict[tuple[bool, bool, int], wp.Graph] = {}

    def forward(self, betas: np.ndarray, pose: np.ndarray, transl: np.ndarray) -> SkinnedBatch:
        """Skin a batch of B <= ``batch_size`` twins.

        Args:
            betas: ``(B, NB)`` shape coefficients.
            pose: ``(B, J, 3)`` axis-angle (rad) or ``(B, J, 3, 3)`` local rotation matrices.
            transl: ``(B, 3)`` root translation (m).

        Returns:
            Views of the first B rows of the skinner's outputs, overwritten by the next call:
            vertices ``(B, V) vec3``, joints ``(B, J) vec3`` on ``self.device`` (``.numpy()``
            gives ``(B, V, 3)`` float32).
        """
        b = len(betas)
        if b > self.batch_size:
            raise ValueError(f"a batch of {b} twins: this skinner has room for {self.batch_size}")
        check_inputs(self.model, b, betas, pose, transl)
        axis_angle = pose.ndim == 3
        rotations = self._axis_angle if axis_angle else self._rotations
        rotations[:b].assign(np.asarray(pose, np.float32))
        self._transl[:b].assign(np.asarray(transl, np.float32))
        blend = not self.cache_shape or not np.array_equal(betas, self._cached_betas)
        if blend:
            self._betas[:b].assign(np.asarray(betas, np.float32))
            self._cached_betas = np.array(betas) if self.cache_shape else None
        if self.record:
            wp.capture_launch(self._graph(blend, axis_angle, b))
        else:
            self._launch(blend, axis_angle, b)
        return SkinnedBatch(vertices=self._vertices[:b], joints=self._joints[:b])

    def _graph(self, blend: bool, axis_angle: bool, b: int) -> wp.Graph:
        """The launches of ``_launch(blend, axis_angle, b)``, recorded on first use."""
        key = (blend, axis_angle, b)
        if key not in self._graphs:
            with wp.ScopedCapture(device=self.device) as capture:
                self._launch(blend, axis_angle, b)
            self._graphs[key] = capture.graph
        return self._graphs[key]

    def _launch(self, blend: bool, axis_angle: bool, b: int) -> None:
        """The kernels over the first ``b`` twins."""
        if blend:
            self._launch_shape(b)
        self._launch_pose_and_skin(axis_angle, b)

    def _launch_shape(self, b: int) -> None:
        """Rest joints ``(b, J)`` and shaped vertices ``(b, V)`` of the current betas."""
        for rest, dirs, out in (
            (self.joint_template, self.joint_shapedirs, self._rest_joints),
            (self.v_template, self.shapedirs, self._shaped),
        ):
            shape_in = [rest, dirs, self._betas]
            dim = (b, out.shape[1])
            wp.launch(blend_shapes, dim, inputs=shape_in, outputs=[out], device=self.device)

    def _launch_pose_and_skin(self, axis_angle: bool, b: int) -> None:
        """Local rotations (from axis-angle), kinematics, then skinning, of the first ``b``
        twins."""
        m, d = self.model, self.device
        if axis_angle:
            rodrigues_io = {"inputs": [self._axis_angle], "outputs": [self._rotations]}
            wp.launch(rodrigues, (b, m.num_joints), **rodrigues_io, device=d)
        fk_in = [self._rotations, self._rest_joints, self.parents, self._transl]
        fk_out = [self._transforms, self._joints, self._pose_feature]
        wp.launch(forward_kinematics, b, inputs=fk_in, outputs=fk_out, device=d)
        skin_in = [
            self.correctives,
            self.influences,
            self._shaped,
            self._pose_feature,
            self._transforms,
            self._transl,
        ]
        vertices = self._vertices
        wp.launch(self._skin, (b, m.num_vertices), inputs=skin_in, outputs=[vertices], device=d)
