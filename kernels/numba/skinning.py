"""Body skinning on the CPU: shape blend, pose correctives, forward kinematics and linear blend
skinning (LBS) of an SMPL-format body model, for a batch of B twins, compiled by numba.

The math is smplx's ``smplx.lbs.lbs`` (glossary: B twins, V vertices, J joints, NB betas,
P = 9 (J - 1) pose features)::

    v_shaped = v_template + shapedirs @ betas                     (V, 3)
    rest     = J_regressor @ v_shaped                             (J, 3)
    feature  = (R_j - I) for j = 1..J-1, flattened row-major      (P,)
    v_posed  = v_shaped + posedirs @ feature                      (V, 3)
    [R_w | t_w]_j = [R_w | t_w]_parent(j) [R_j | rest_j - rest_parent(j)]   (forward kinematics)
    A_j      = [R_w | t_w - R_w rest_j]                           (J, 3, 4)
    vertex   = sum_k w_k A_k [v_posed, 1] + transl                (V, 3)

Two exact rewrites make it cheaper. The joint regressor is folded into the shape basis once
(``joint_template = J_regressor @ v_template``, ``joint_shapedirs = J_regressor @ shapedirs``), so
rest joints cost J x 3 x NB multiply-adds per twin instead of J x V x 3. And a vertex's shape and
pose blend is one sparse sum, its *blend basis*: rows of (coefficient index, 3-vector) over the
per-twin coefficient vector ``[betas (NB) | pose feature (P)]``; local correctives (exact zeros
dropped) make that row short.

Layout (pattern: twin-innermost SIMD): every per-twin intermediate is *twin-last*, ``(..., B)``,
so each innermost loop runs over twins in SIMD lanes with a vertex's model data held in cache
(numba's loops vectorise; Warp's CPU backend runs one scalar thread). Inputs (betas, pose, transl)
and outputs (vertices, joints) keep the natural ``(B, ...)`` layout.

``SkinningModel`` (plain numpy, float32/int32) is what both this backend and ``kernels.warp``
consume; ``NumbaSkinner`` allocates the intermediates once and its ``forward`` only runs kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit, prange

__all__ = [
    "BlendBasis",
    "CorrectiveRows",
    "NumbaSkinner",
    "SkinnedBatch",
    "SkinningModel",
    "blend_basis",
    "blend_shapes",
    "check_inputs",
    "corrective_rows",
    "forward_kinematics",
    "influences",
    "rodrigues",
    "skin",
]

TILE_VERTICES = 32
"""Vertices a parallel task skins: each task allocates its accumulators once and writes its
``(TILE_VERTICES, 3)`` block of each twin's output contiguously."""

SMALL_ANGLE_RAD = 1e-8
"""Below this rotation angle, Rodrigues' formula is replaced by its first order, I + [r]x."""


@dataclass(frozen=True)
class CorrectiveRows:
    """Pose correctives as compressed rows: vertex v's entries are ``start[v]:start[v + 1]``.

    Attributes:
        start: ``(V + 1,) int32`` row offsets.
        feature: ``(E,) int32`` pose-feature index of each entry, in ``[0, P)``, ascending per row.
        dirs: ``(E, 3) float32`` the entry's displacement per unit of that feature (m).
    """

    start: np.ndarray
    feature: np.ndarray
    dirs: np.ndarray


@dataclass(frozen=True)
class BlendBasis:
    """A vertex's shape and pose blend as compressed rows over ``[betas | pose feature]``.

    Row v holds first its NB shape entries (coefficients ``0..NB-1``), then its corrective entries
    (coefficients ``NB + p``). Skipping the first NB entries of a row skips the shape blend.

    Attributes:
        start: ``(V + 1,) int32`` row offsets.
        coefficient: ``(E,) int32`` index into the per-twin coefficient vector ``(NB + P,)``.
        dirs: ``(E, 3) float32`` displacement per unit coefficient (m).
    """

    start: np.ndarray
    coefficient: np.ndarray
    dirs: np.ndarray


@dataclass(frozen=True)
class SkinningModel:
    """A body model's arrays, validated, in the forms the skinning kernels read.

    Attributes:
        v_template: ``(V, 3) float32`` rest vertices (m).
        shapedirs: ``(V, 3, NB) float32`` shape displacements per beta (m).
        posedirs: ``(V, 3, P) float32`` pose-corrective displacements per pose feature (m).
        joint_template: ``(J, 3) float32`` ``J_regressor @ v_template`` (m).
        joint_shapedirs: ``(J, 3, NB) float32`` ``J_regressor @ shapedirs`` (m).
        parents: ``(J,) int32`` parent joint, ``-1`` for the root; each parent before its child.
        influence_joint: ``(V, K) int32`` joints that move each vertex.
        influence_weight: ``(V, K) float32`` their skinning weights.
        correctives: ``"dense"`` (every vertex reads all P features) or ``"local"`` (only the
            features with a non-zero displacement, as compressed rows).
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    joint_template: np.ndarray
    joint_shapedirs: np.ndarray
    parents: np.ndarray
    influence_joint: np.ndarray
    influence_weight: np.ndarray
    correctives: Literal["dense", "local"]

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return self.parents.shape[0]

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[2]

    @property
    def num_pose_features(self) -> int:
        return self.posedirs.shape[2]

    @classmethod
    def from_arrays(
        cls,
        v_template: np.ndarray,
        shapedirs: np.ndarray,
        posedirs: np.ndarray,
        j_regressor: np.ndarray,
        weights: np.ndarray,
        parents: np.ndarray,
        *,
        correctives: Literal["dense", "local"] = "dense",
        max_influences: int | None = None,
    ) -> SkinningModel:
        """Validate SMPL-format arrays (any float dtype) and convert them.

        Args:
            v_template: ``(V, 3)``.
            shapedirs: ``(V, 3, NB)``.
            posedirs: ``(V, 3, P)`` as in SMPL files, or ``(V * 3, P)``; P = 9 (J - 1).
            j_regressor: ``(J, V)``, dense or scipy.sparse.
            weights: ``(V, J)`` skinning weights, each row summing to 1.
            parents: ``(J,)`` parent of each joint (``kintree_table[0]``); the root's entry is
                ignored.
            correctives: ``"local"`` drops exactly-zero corrective entries (exact).
            max_influences: keep each vertex's largest weights, renormalised to the row's sum;
                exact where a vertex has at most that many non-zero weights, truncated where it
                has more. ``None`` keeps all J (exact).

        Raises:
            ValueError: an array's shape disagrees with the others, or a parent follows its child.
        """
        v_template = _float_array("v_template", v_template, (None, 3))
        num_vertices = v_template.shape[0]
        shapedirs = _float_array("shapedirs", shapedirs, (num_vertices, 3, None))
        parents = _parents(parents)
        num_joints = parents.shape[0]
        num_features = 9 * (num_joints - 1)
        posedirs = _posedirs(posedirs, num_vertices, num_features)
        j_regressor = _float_array("J_regressor", _dense(j_regressor), (num_joints, num_vertices))
        weights = _float_array("weights", weights, (num_vertices, num_joints))
        if correctives not in ("dense", "local"):
            raise ValueError(f"correctives must be 'dense' or 'local', got {correctives!r}")
        joint, weight = influences(weights, max_influences)
        # (J, V) @ (V, 3) and (J, V) @ (V, 3 * NB): the regressor folded into the shape basis.
        joint_shapedirs = j_regressor @ shapedirs.reshape(num_vertices, -1)
        return cls(
            v_template=v_template.astype(np.float32),
            shapedirs=shapedirs.astype(np.float32),
            posedirs=posedirs.astype(np.float32),
            joint_template=(j_regressor @ v_template).astype(np.float32),
            joint_shapedirs=joint_shapedirs.reshape(num_joints, 3, -1).astype(np.float32),
            parents=parents,
            influence_joint=joint,
            influence_weight=weight,
            correctives=correctives,
        )


@dataclass(frozen=True)
class SkinnedBatch:
    """One forward pass of B twins. The skinner reuses these buffers: copy to keep them.

    Attributes:
        vertices: ``(B, V, 3) float32`` posed vertices (m); a Warp skinner gives a ``(B, V)``
            ``wp.vec3`` array.
        joints: ``(B, J, 3) float32`` posed joints (m); Warp: ``(B, J)`` ``wp.vec3``.
    """

    vertices: np.ndarray
    joints: np.ndarray


def _dense(a) -> np.ndarray:
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _float_array(name: str, a, shape: tuple[int | None, ...]) -> np.ndarray:
    """``a`` as float64, after checking it has ``shape`` (``None``: any length)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != len(shape) or any(
        n is not None and n != m for n, m in zip(shape, a.shape, strict=True)
    ):
        want = ", ".join("*" if n is None else str(n) for n in shape)
        raise ValueError(f"{name}: expected shape ({want}), got {a.shape}")
    return a


def _parents(parents) -> np.ndarray:
    parents = np.asarray(parents).astype(np.int64).copy()
    if parents.ndim != 1 or parents.shape[0] < 2:
        raise ValueError(f"parents: expected shape (J,) with J >= 2, got {parents.shape}")
    parents[0] = -1
    child = np.arange(1, parents.shape[0])
    bad = child[(parents[1:] < 0) | (parents[1:] >= child)]
    if bad.size:
        raise ValueError(f"parents: joint {bad[0]} has parent {parents[bad[0]]}, not before it")
    return parents.astype(np.int32)


def _posedirs(posedirs, num_vertices: int, num_features: int) -> np.ndarray:
    posedirs = np.asarray(posedirs, dtype=np.float64)
    if posedirs.shape == (num_vertices * 3, num_features):
        posedirs = posedirs.reshape(num_vertices, 3, num_features)
    return _float_array("posedirs", posedirs, (num_vertices, 3, num_features))


def influences(weights: np.ndarray, max_influences: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Each vertex's skinning influences as fixed-width lists.

    Args:
        weights: ``(V, J)`` dense skinning weights.
        max_influences: K, the largest weights kept per vertex, renormalised to the row's sum;
            ``None``: all J joints in order (exact).

    Returns:
        ``(V, K) int32`` joints and ``(V, K) float32`` weights, largest first.
    """
    weights = np.asarray(weights, dtype=np.float64)
    num_vertices, num_joints = weights.shape
    if max_influences is None or max_influences >= num_joints:
        joint = np.broadcast_to(np.arange(num_joints, dtype=np.int32), weights.shape)
        return np.ascontiguousarray(joint), weights.astype(np.float32)
    if max_influences < 1:
        raise ValueError(f"max_influences must be >= 1, got {max_influences}")
    joint = np.argsort(-weights, axis=1, kind="stable")[:, :max_influences]
    kept = np.take_along_axis(weights, joint, axis=1)
    kept_sum = kept.sum(axis=1, keepdims=True)
    scale = np.divide(
        weights.sum(axis=1, keepdims=True),
        kept_sum,
        out=np.ones_like(kept_sum),
        where=kept_sum != 0,
    )
    kept *= scale
    return joint.astype(np.int32), kept.astype(np.float32)


def corrective_rows(posedirs: np.ndarray, *, drop_zeros: bool) -> CorrectiveRows:
    """Pose correctives ``(V, 3, P)`` as compressed rows, all P per vertex or only non-zero ones."""
    num_vertices, _, num_features = posedirs.shape
    keep = np.any(posedirs != 0, axis=1) if drop_zeros else np.ones((num_vertices, num_features))
    vertex, feature = np.nonzero(keep)
    start = np.zeros(num_vertices + 1, dtype=np.int32)
    np.cumsum(np.count_nonzero(keep, axis=1), out=start[1:])
    dirs = np.ascontiguousarray(posedirs[vertex, :, feature], dtype=np.float32)
    return CorrectiveRows(start=start, feature=feature.astype(np.int32), dirs=dirs)


def blend_basis(shapedirs: np.ndarray, rows: CorrectiveRows) -> BlendBasis:
    """Merge ``shapedirs (V, 3, NB)`` and corrective rows into one ``BlendBasis``."""
    num_vertices, _, num_betas = shapedirs.shape
    corrective_count = np.diff(rows.start)
    start = np.zeros(num_vertices + 1, dtype=np.int32)
    np.cumsum(corrective_count + num_betas, out=start[1:])
    coefficient = np.empty(start[-1], dtype=np.int32)
    dirs = np.empty((start[-1], 3), dtype=np.float32)
    shape_at = start[:-1, None] + np.arange(num_betas)  # (V, NB) positions of the shape entries
    coefficient[shape_at] = np.arange(num_betas)
    dirs[shape_at] = shapedirs.transpose(0, 2, 1)
    owner = np.repeat(np.arange(num_vertices), corrective_count)
    corrective_at = start[owner] + num_betas + np.arange(owner.size) - rows.start[owner]
    coefficient[corrective_at] = num_betas + rows.feature
    dirs[corrective_at] = rows.dirs
    return BlendBasis(start=start, coefficient=coefficient, dirs=dirs)


def check_inputs(model: SkinningModel, batch_size: int, betas, pose, transl) -> None:
    """Raise ``ValueError`` unless betas ``(B, NB)``, pose ``(B, J, 3)`` axis-angle or
    ``(B, J, 3, 3)`` rotation matrices, and transl ``(B, 3)`` fit ``model`` and ``batch_size``."""
    b, nb, j = batch_size, model.num_betas, model.num_joints
    if tuple(betas.shape) != (b, nb):
        raise ValueError(f"betas: expected shape ({b}, {nb}), got {tuple(betas.shape)}")
    if tuple(pose.shape) not in ((b, j, 3), (b, j, 3, 3)):
        raise ValueError(
            f"pose: expected shape ({b}, {j}, 3) or ({b}, {j}, 3, 3), got {tuple(pose.shape)}"
        )
    if tuple(transl.shape) != (b, 3):
        raise ValueError(f"transl: expected shape ({b}, 3), got {tuple(transl.shape)}")


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def blend_shapes(
    template: np.ndarray, dirs: np.ndarray, betas_t: np.ndarray, out: np.ndarray
) -> None:
    """``out[n, :, b] = template[n] + dirs[n] @ betas_t[:, b]`` for N points (vertices or joints).

    Args:
        template: ``(N, 3) float32``.
        dirs: ``(N, 3, NB) float32``.
        betas_t: ``(NB, B) float32`` betas, twin-last.
        out: ``(N, 3, B) float32`` written.
    """
    for n in prange(template.shape[0]):
        for c in range(3):
            for b in range(betas_t.shape[1]):
                out[n, c, b] = template[n, c]
            for beta in range(dirs.shape[2]):
                d = dirs[n, c, beta]
                for b in range(betas_t.shape[1]):
                    out[n, c, b] += d * betas_t[beta, b]


@njit(cache=True, fastmath=True, nogil=True)
def rodrigues(axis_angle: np.ndarray, rotations: np.ndarray) -> None:
    """Rotation matrices of axis-angle vectors (Rodrigues' formula).

    Args:
        axis_angle: ``(B, J, 3) float32`` rotation vectors (rad).
        rotations: ``(J, 3, 3, B) float32`` written, twin-last.
    """
    for j in range(axis_angle.shape[1]):
        for b in range(axis_angle.shape[0]):
            x, y, z = axis_angle[b, j, 0], axis_angle[b, j, 1], axis_angle[b, j, 2]
            angle2 = x * x + y * y + z * z
            angle = np.sqrt(angle2)
            s, c = 1.0, 0.0  # sin(t)/t and (1 - cos t)/t^2, first order below the cut
            if angle > SMALL_ANGLE_RAD:
                half_sin = np.sin(0.5 * angle)
                s = np.sin(angle) / angle
                c = 2.0 * half_sin * half_sin / angle2
            # R = I + s [r]x + c [r]x^2, with [r]x^2 = r r^T - |r|^2 I
            rotations[j, 0, 0, b] = 1.0 + c * (x * x - angle2)
            rotations[j, 0, 1, b] = -s * z + c * x * y
            rotations[j, 0, 2, b] = s * y + c * x * z
            rotations[j, 1, 0, b] = s * z + c * x * y
            rotations[j, 1, 1, b] = 1.0 + c * (y * y - angle2)
            rotations[j, 1, 2, b] = -s * x + c * y * z
            rotations[j, 2, 0, b] = -s * y + c * x * z
            rotations[j, 2, 1, b] = s * x + c * y * z
            rotations[j, 2, 2, b] = 1.0 + c * (z * z - angle2)


@njit(cache=True, fastmath=True, nogil=True)
def forward_kinematics(
    rotations: np.ndarray,
    rest_joints: np.ndarray,
    parents: np.ndarray,
    transl_t: np.ndarray,
    transforms: np.ndarray,
    joints: np.ndarray,
    pose_feature: np.ndarray,
) -> None:
    """Walk each twin's joint chain (smplx ``batch_rigid_transform``); twins in SIMD lanes.

    Args:
        rotations: ``(J, 3, 3, B) float32`` local joint rotations.
        rest_joints: ``(J, 3, B) float32`` shaped rest joints (m).
        parents: ``(J,) int32``, parent before child, ``-1`` for the root.
        transl_t: ``(3, B) float32`` root translation (m).
        transforms: ``(J, 12, B) float32`` written: smplx's ``A`` rows ``[R_w | t_w - R_w rest]``
            (row-major 3 x 4): the rest-to-posed transform of each joint, without ``transl``.
        joints: ``(J, 3, B) float32`` written: posed joints ``t_w + transl`` (m).
        pose_feature: ``(P, B) float32`` written: ``R_j - I`` of joints 1..J-1, row-major.
    """
    for j in range(parents.shape[0]):
        p = parents[j]
        for b in range(rotations.shape[3]):
            _chain_joint(j, p, b, rotations, rest_joints, transforms, joints, pose_feature)
    for j in range(parents.shape[0]):
        for c in range(3):
            joints[j, c, :] += transl_t[c, :]


@njit(inline="always", cache=True)
def _chain_joint(j, p, b, rotations, rest_joints, transforms, joints, pose_feature) -> None:
    """World transform of joint j of twin b from its parent p's (``joints`` holds ``t_w``)."""
    for r in range(3):
        if p < 0:
            t = rest_joints[j, r, b]
        else:
            t = joints[p, r, b]
            for c in range(3):
                t += transforms[p, 4 * r + c, b] * (rest_joints[j, c, b] - rest_joints[p, c, b])
        joints[j, r, b] = t
        for c in range(3):
            rw = rotations[j, r, c, b]
            if p >= 0:
                rw = 0.0
                for m in range(3):
                    rw += transforms[p, 4 * r + m, b] * rotations[j, m, c, b]
            transforms[j, 4 * r + c, b] = rw
            t -= rw * rest_joints[j, c, b]
            if j > 0:
                identity = 1.0 if r == c else 0.0
                pose_feature[9 * (j - 1) + 3 * r + c, b] = rotations[j, r, c, b] - identity
        transforms[j, 4 * r + 3, b] = t


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def skin(
    base: np.ndarray,
    first_entry: int,
    basis_start: np.ndarray,
    basis_coefficient: np.ndarray,
    basis_dirs: np.ndarray,
    coefficients: np.ndarray,
    influence_joint: np.ndarray,
    influence_weight: np.ndarray,
    transforms: np.ndarray,
    transl_t: np.ndarray,
    vertices: np.ndarray,
) -> None:
    """Blend, pose and skin every vertex of every twin; parallel over vertex tiles.

    ``vertex = sum_k w_k A_k [base + sum_e dirs_e coefficients[coefficient_e], 1] + transl``;
    influences of weight 0 (a row's padding) are skipped.

    Args:
        base: ``(V, 3, 1) float32`` the template (blend from entry 0 of each row), or
            ``(V, 3, B) float32`` cached shaped vertices (``first_entry = NB`` skips the shape).
        first_entry: basis entries skipped at the start of each row.
        basis_start, basis_coefficient, basis_dirs: the model's ``BlendBasis``.
        coefficients: ``(NB + P, B) float32`` ``[betas | pose feature]``, twin-last.
        influence_joint, influence_weight: ``(V, K)`` int32 / float32 skinning influences.
        transforms: ``(J, 12, B) float32`` from ``forward_kinematics``.
        transl_t: ``(3, B) float32`` translation (m).
        vertices: ``(B, V, 3) float32`` written (m).
    """
    num_vertices, num_twins = base.shape[0], vertices.shape[0]
    for tile in prange((num_vertices + TILE_VERTICES - 1) // TILE_VERTICES):
        posed = np.empty((3, num_twins), dtype=np.float32)
        tile_out = np.empty((TILE_VERTICES, 3, num_twins), dtype=np.float32)  # twin-last
        v0 = tile * TILE_VERTICES
        v1 = min(num_vertices, v0 + TILE_VERTICES)
        for v in range(v0, v1):
            i = v - v0  # the vertex's row in tile_out
            _load_base(v, base, posed)
            _add_basis_rows(
                basis_start[v] + first_entry,
                basis_start[v + 1],
                basis_coefficient,
                basis_dirs,
                coefficients,
                posed,
            )
            for c in range(3):
                for b in range(num_twins):
                    tile_out[i, c, b] = transl_t[c, b]
            for k in range(influence_joint.shape[1]):
                if influence_weight[v, k] != 0.0:  # padding and zero weights move nothing
                    weight, joint = influence_weight[v, k], influence_joint[v, k]
                    _add_weighted_transform(weight, joint, transforms, posed, tile_out, i)
        for b in range(num_twins):  # each twin's rows v0:v1, contiguous in vertices
            for v in range(v0, v1):
                for c in range(3):
                    vertices[b, v, c] = tile_out[v - v0, c, b]


@njit(inline="always", cache=True)
def _load_base(v, base, posed) -> None:
    """``posed[:, b] = base[v, :, b]``, or ``base[v, :, 0]`` for every twin when base is shared."""
    shared = base.shape[2] == 1
    for c in range(3):
        for b in range(posed.shape[1]):
            posed[c, b] = base[v, c, 0] if shared else base[v, c, b]


@njit(inline="always", cache=True)
def _add_basis_rows(e, end, basis_coefficient, basis_dirs, coefficients, posed) -> None:
    """``posed[:, b] += sum_e dirs[e] coefficients[coefficient[e], b]`` over entries ``e:end``.

    Four entries a pass: the (3, B) accumulator is loaded and stored once per four entries.
    Arrays are indexed, never sliced: a view costs an atomic reference count in numba.
    """
    while e + 3 < end:
        i0, i1 = basis_coefficient[e], basis_coefficient[e + 1]
        i2, i3 = basis_coefficient[e + 2], basis_coefficient[e + 3]
        x0, y0, z0 = basis_dirs[e, 0], basis_dirs[e, 1], basis_dirs[e, 2]
        x1, y1, z1 = basis_dirs[e + 1, 0], basis_dirs[e + 1, 1], basis_dirs[e + 1, 2]
        x2, y2, z2 = basis_dirs[e + 2, 0], basis_dirs[e + 2, 1], basis_dirs[e + 2, 2]
        x3, y3, z3 = basis_dirs[e + 3, 0], basis_dirs[e + 3, 1], basis_dirs[e + 3, 2]
        for b in range(posed.shape[1]):
            c0, c1 = coefficients[i0, b], coefficients[i1, b]
            c2, c3 = coefficients[i2, b], coefficients[i3, b]
            posed[0, b] += x0 * c0 + x1 * c1 + x2 * c2 + x3 * c3
            posed[1, b] += y0 * c0 + y1 * c1 + y2 * c2 + y3 * c3
            posed[2, b] += z0 * c0 + z1 * c1 + z2 * c2 + z3 * c3
        e += 4
    while e < end:
        i0 = basis_coefficient[e]
        x0, y0, z0 = basis_dirs[e, 0], basis_dirs[e, 1], basis_dirs[e, 2]
        for b in range(posed.shape[1]):
            c0 = coefficients[i0, b]
            posed[0, b] += x0 * c0
            posed[1, b] += y0 * c0
            posed[2, b] += z0 * c0
        e += 1


@njit(inline="always", cache=True)
def _add_weighted_transform(weight, j, transforms, posed, out, i) -> None:
    """``out[i, :, b] += weight * (transforms[j, :, b] as 3 x 4) @ [posed[:, b], 1]``."""
    for b in range(posed.shape[1]):
        x, y, z = posed[0, b], posed[1, b], posed[2, b]
        for r in range(3):
            a = transforms[j, 4 * r, b] * x + transforms[j, 4 * r + 1, b] * y
            out[i, r, b] += weight * (
                a + transforms[j, 4 * r + 2, b] * z + transforms[j, 4 * r + 3, b]
            )


def _checked_output(out: SkinnedBatch, like: SkinnedBatch) -> SkinnedBatch:
    """``out`` if its arrays match ``like``'s shape, dtype and C order (numba does not check
    bounds), else ``ValueError``."""
    for name in ("vertices", "joints"):
        got, want = getattr(out, name), getattr(like, name)
        if not (
            isinstance(got, np.ndarray)
            and got.shape == want.shape
            and got.dtype == want.dtype
            and got.flags.c_contiguous
            and got.flags.writeable
        ):
            raise ValueError(
                f"out.{name}: expected a writeable C-contiguous float32 array of shape {want.shape}"
            )
    return out


class NumbaSkinner:
    """Forward passes of a batch of twins on the CPU; arrays allocated once, ``forward`` runs
    kernels only.

    With ``cache_shape`` the rest joints are kept while betas are unchanged (compared exactly with
    the previous call's), and the shaped vertices are cached once the same betas come a second
    time: a call with new betas blends the shape inside the skinning pass (no cache to write and
    read back), a run of calls with the same betas skips it. Without ``cache_shape`` every call
    blends the shape.
    """

    def __init__(self, model: SkinningModel, batch_size: int, *, cache_shape: bool = True):
        self.model = model
        self.batch_size = batch_size
        self.cache_shape = cache_shape
        rows = corrective_rows(model.posedirs, drop_zeros=model.correctives == "local")
        self.basis = blend_basis(model.shapedirs, rows)
        b, v, j = batch_size, model.num_vertices, model.num_joints
        f32 = np.float32
        self._template = np.ascontiguousarray(model.v_template[:, :, None])  # (V, 3, 1)
        self._coefficients = np.zeros((model.num_betas + model.num_pose_features, b), f32)
        self._transl_t = np.zeros((3, b), f32)
        self._rotations = np.zeros((j, 3, 3, b), f32)
        self._rest_joints = np.zeros((j, 3, b), f32)
        self._transforms = np.zeros((j, 12, b), f32)
        self._joints_t = np.zeros((j, 3, b), f32)
        self._shaped = np.zeros((v, 3, b), f32) if cache_shape else None
        self._betas: np.ndarray | None = None  # betas of the rest joints
        self._shaped_holds_betas = False  # whether _shaped holds the shape of self._betas
        self.output = SkinnedBatch(
            vertices=np.zeros((b, v, 3), f32), joints=np.zeros((b, j, 3), f32)
        )

    def forward(
        self,
        betas: np.ndarray,
        pose: np.ndarray,
        transl: np.ndarray,
        out: SkinnedBatch | None = None,
    ) -> SkinnedBatch:
        """Skin the batch.

        Args:
            betas: ``(B, NB)`` shape coefficients.
            pose: ``(B, J, 3)`` axis-angle (rad) or ``(B, J, 3, 3)`` local rotation matrices.
            transl: ``(B, 3)`` root translation (m).
            out: C-contiguous float32 vertices ``(B, V, 3)`` and joints ``(B, J, 3)`` to write;
                None: ``self.output``.

        Returns:
            ``out`` or ``self.output``, overwritten.
        """
        check_inputs(self.model, self.batch_size, betas, pose, transl)
        out = self.output if out is None else _checked_output(out, self.output)
        self._load_inputs(betas, pose, transl)
        if not self.cache_shape or not np.array_equal(betas, self._betas):
            self._blend_joints(betas)
        elif not self._shaped_holds_betas:
            self._blend_vertices()
        self._pose_and_skin(out)
        return out

    def _load_inputs(self, betas: np.ndarray, pose: np.ndarray, transl: np.ndarray) -> None:
        """Betas and transl into their twin-last rows, pose into local rotations."""
        self._coefficients[: self.model.num_betas] = betas.T
        self._transl_t[:] = transl.T
        if pose.ndim == 3:
            rodrigues(np.asarray(pose, dtype=np.float32), self._rotations)
        else:
            self._rotations[:] = pose.transpose(1, 2, 3, 0)

    def _blend_joints(self, betas: np.ndarray) -> None:
        """Rest joints of these betas (loaded); the shaped vertices no longer match them."""
        model = self.model
        betas_t = self._coefficients[: model.num_betas]
        blend_shapes(model.joint_template, model.joint_shapedirs, betas_t, self._rest_joints)
        self._betas = np.array(betas)
        self._shaped_holds_betas = False

    def _blend_vertices(self) -> None:
        """The shaped vertices of the loaded betas, into the cache."""
        model = self.model
        betas_t = self._coefficients[: model.num_betas]
        blend_shapes(model.v_template, model.shapedirs, betas_t, self._shaped)
        self._shaped_holds_betas = True

    def _pose_and_skin(self, out: SkinnedBatch) -> None:
        model = self.model
        forward_kinematics(
            self._rotations,
            self._rest_joints,
            model.parents,
            self._transl_t,
            self._transforms,
            self._joints_t,
            self._coefficients[model.num_betas :],
        )
        cached = self._shaped_holds_betas
        base, first = (self._shaped, model.num_betas) if cached else (self._template, 0)
        skin(
            base,
            first,
            self.basis.start,
            self.basis.coefficient,
            self.basis.dirs,
            self._coefficients,
            model.influence_joint,
            model.influence_weight,
            self._transforms,
            self._transl_t,
            out.vertices,
        )
        out.joints[:] = self._joints_t.transpose(2, 0, 1)
