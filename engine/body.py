"""The body of a twin: an SMPL-format body model, loaded and posed in numpy.

``BodyModel.load()`` gives SynthTwin's synthesized model (:mod:`engine.synth.body_model`),
generated on first use into a cache folder; ``BodyModel.load(path)`` reads a user's real SMPL
file instead (``.npz``, or ``.pkl`` including the official ones that hold chumpy objects).
``model.forward(betas, body_pose, global_orient, transl)`` returns a :class:`BodyOutput`.

The cache folder is ``<data>/body/<SYNTH_MODEL_VERSION>/`` where ``<data>`` is the environment
variable ``SYNTHTWIN_DATA`` if set, else ``data`` under the current directory (or the
``data_dir`` argument). It holds ``smpl/SMPL_<GENDER>[_LOD1].{pkl,npz}`` and ``vertex_ids.json``,
so ``smplx.create(folder, model_type="smpl")`` loads the same model. It is written once,
atomically (into a staging folder, then renamed), so concurrent first uses are safe.

Pattern: smplx's ``lbs`` as a pipeline of pure functions, one per math step, each with its shapes,
so that a Warp or numba kernel can replace any step behind :meth:`BodyModel.forward`:
:func:`blend_shapes` -> :func:`vertices2joints` -> :func:`batch_rodrigues` ->
:func:`pose_features` -> :func:`pose_offsets` -> :func:`batch_rigid_transform` ->
:func:`skin_vertices`. Arithmetic is float64; outputs are float32.

Glossary: B batch, V vertices, F faces, J = 24 joints, NB shape coefficients, P = 207 pose
features (the 23 non-root rotation matrices minus identity, row-major).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from engine.synth.body_model import (
    GENDERS,
    JOINT_NAMES,
    LODS,
    MODEL_KEYS,
    NUM_POSE_FEATURES,
    SYNTH_MODEL_VERSION,
    model_filename,
    write_smpl_folder,
)

__all__ = [
    "DATA_ENV_VAR",
    "BodyModel",
    "BodyModelFileError",
    "BodyOutput",
    "batch_rigid_transform",
    "batch_rodrigues",
    "blend_shapes",
    "ensure_synth_models",
    "flat_posedirs",
    "lbs",
    "load_smpl_arrays",
    "pose_features",
    "pose_offsets",
    "skin_vertices",
    "synth_model_dir",
    "vertices2joints",
]

DATA_ENV_VAR = "SYNTHTWIN_DATA"
SPARSE_POSEDIRS_BELOW = 0.25
"""Keep ``posedirs`` as a sparse matrix when fewer than this share of its entries are nonzero."""
PosedirsMatrix = np.ndarray | scipy.sparse.csr_matrix
NUM_JOINTS = len(JOINT_NAMES)
POSE_WIDTH = 3 * (NUM_JOINTS - 1)
"""Axis-angle numbers of ``body_pose``: 23 non-root joints."""

# ----------------------------------------------------------------------------------------------
# The math: smplx.lbs, step by step


def blend_shapes(betas: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """Shape displacements ``(B, V, 3)`` from ``betas (B, NB)`` and ``shapedirs (V, 3, NB)``."""
    flat = np.ascontiguousarray(shapedirs.reshape(-1, shapedirs.shape[-1]).T)  # BLAS-friendly
    # (B, NB) x (NB, V * 3) -> (B, V * 3)
    return (betas @ flat).reshape(len(betas), -1, 3)


def vertices2joints(J_regressor: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Joints ``(B, J, 3)`` regressed from ``vertices (B, V, 3)`` by ``J_regressor (J, V)``."""
    # (J, V) x (B, V, 3) -> (B, J, 3)
    return J_regressor @ vertices


def batch_rodrigues(rot_vecs: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(N, 3, 3)`` from axis-angle vectors ``(N, 3)`` (radians).

    As smplx: the angle is ``|v + 1e-8|``, so a zero vector gives the identity.
    """
    angle = np.linalg.norm(rot_vecs + 1e-8, axis=1, keepdims=True)
    rx, ry, rz = np.split(rot_vecs / angle, 3, axis=1)
    zeros = np.zeros_like(rx)
    skew = np.hstack([zeros, -rz, ry, rz, zeros, -rx, -ry, rx, zeros]).reshape(-1, 3, 3)
    sin, cos = np.sin(angle)[:, :, None], np.cos(angle)[:, :, None]
    # (N, 3, 3) x (N, 3, 3) -> (N, 3, 3)
    return np.eye(3) + sin * skew + (1 - cos) * (skew @ skew)


def pose_features(rot_mats: np.ndarray) -> np.ndarray:
    """SMPL's pose features ``(B, 9 (J - 1))``: non-root rotations ``(B, J, 3, 3)`` minus I."""
    return (rot_mats[:, 1:] - np.eye(3)).reshape(len(rot_mats), -1)


def pose_offsets(features: np.ndarray, posedirs_flat: PosedirsMatrix) -> np.ndarray:
    """Pose corrective displacements ``(B, V, 3)``.

    ``features (B, P)``; ``posedirs_flat (P, V * 3)``, smplx's layout of ``posedirs (V, 3, P)``,
    dense or (for local correctives such as the synthesized model's) scipy CSR.
    """
    # (B, P) x (P, V * 3) -> (B, V * 3)
    return (features @ posedirs_flat).reshape(len(features), -1, 3)


def batch_rigid_transform(
    rot_mats: np.ndarray, joints: np.ndarray, parents: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pose the skeleton down the kinematic chain.

    Args:
        rot_mats: ``(B, J, 3, 3)`` local rotations (joint 0 is the global orientation).
        joints: ``(B, J, 3)`` rest joint positions (metres).
        parents: ``(J,)`` parent of each joint, -1 for the root, parents first.

    Returns:
        ``posed_joints (B, J, 3)`` and ``rel_transforms (B, J, 4, 4)``: each joint's world
        transform with its rest position removed, the matrix that moves a rest vertex with it.
    """
    rel_joints = joints.copy()
    rel_joints[:, 1:] -= joints[:, parents[1:]]
    local = np.zeros(rot_mats.shape[:2] + (4, 4))
    local[..., :3, :3], local[..., :3, 3], local[..., 3, 3] = rot_mats, rel_joints, 1.0
    chain = [local[:, 0]]
    for j in range(1, len(parents)):
        # (B, 4, 4) x (B, 4, 4) -> (B, 4, 4)
        chain.append(chain[parents[j]] @ local[:, j])
    world = np.stack(chain, axis=1)
    posed_joints = world[..., :3, 3]
    rel = world.copy()
    # (B, J, 3, 3) x (B, J, 3, 1) -> (B, J, 3): the rest joint carried by the rotation
    rel[..., :3, 3] -= (world[..., :3, :3] @ joints[..., None])[..., 0]
    return posed_joints, rel


def skin_vertices(
    weights: np.ndarray, rel_transforms: np.ndarray, v_posed: np.ndarray
) -> np.ndarray:
    """Linear blend skinning: vertices ``(B, V, 3)``.

    ``weights (V, J)``, ``rel_transforms (B, J, 4, 4)``, ``v_posed (B, V, 3)`` (rest pose with
    shape and pose correctives).
    """
    batch, joints = rel_transforms.shape[:2]
    top = rel_transforms[:, :, :3, :].reshape(batch, joints, 12).transpose(0, 2, 1)
    # (B * 12, J) x (J, V) -> (B, 3, 4, V): blended top 3 rows of the 4x4 transforms, one GEMM
    weights_t = np.ascontiguousarray(weights.T)  # a strided operand slows the GEMM ~5x
    blended = (top.reshape(batch * 12, joints) @ weights_t).reshape(batch, 3, 4, -1)
    x, y, z = (v_posed[:, None, :, i] for i in range(3))  # (B, 1, V) each
    # (B, 3, 4, V) . (x, y, z, 1) -> (B, 3, V), the homogeneous product written out
    skinned = blended[:, :, 0] * x + blended[:, :, 1] * y + blended[:, :, 2] * z + blended[:, :, 3]
    return skinned.transpose(0, 2, 1)


def lbs(
    betas: np.ndarray,
    pose: np.ndarray,
    v_template: np.ndarray,
    shapedirs: np.ndarray,
    posedirs_flat: PosedirsMatrix,
    J_regressor: np.ndarray,
    parents: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """smplx's ``lbs``: shaped, corrected, skinned vertices ``(B, V, 3)``, joints ``(B, J, 3)``.

    ``betas (B, NB)``, ``pose (B, J * 3)`` axis-angle with the global orientation first;
    ``v_template (V, 3)``, ``shapedirs (V, 3, NB')`` (the first NB are used), ``posedirs_flat``
    from :func:`flat_posedirs`, ``J_regressor (J, V)``, ``parents (J,)``, ``weights (V, J)``.
    """
    v_shaped = v_template + blend_shapes(betas, shapedirs[:, :, : betas.shape[1]])
    joints = vertices2joints(J_regressor, v_shaped)
    rot_mats = batch_rodrigues(pose.reshape(-1, 3)).reshape(len(pose), -1, 3, 3)
    v_posed = v_shaped + pose_offsets(pose_features(rot_mats), posedirs_flat)
    posed_joints, rel_transforms = batch_rigid_transform(rot_mats, joints, parents)
    return skin_vertices(weights, rel_transforms, v_posed), posed_joints


# ----------------------------------------------------------------------------------------------
# Model files


class BodyModelFileError(ValueError):
    """A body model file that cannot be used; the message names the file and the key."""


class _ChumpyStub:
    """Stands in for a chumpy object while unpickling: keeps its state and imports nothing.

    A plain ``chumpy.Ch`` pickles its array as ``state["x"]``; chumpy expressions (sums,
    products...) have no array to take.
    """

    def __setstate__(self, state: object) -> None:
        self.state = state

    def array(self) -> np.ndarray | None:
        """The wrapped array, or None for a chumpy expression."""
        state = getattr(self, "state", None)
        x = state.get("x") if isinstance(state, dict) else None
        return np.asarray(x) if isinstance(x, np.ndarray) else None


class _SparseStub:
    """Stands in for a pickled scipy.sparse CSC/CSR matrix of any scipy version."""

    matrix_type: type = scipy.sparse.csc_matrix

    def __setstate__(self, state: dict) -> None:
        self.state = state

    def dense(self) -> np.ndarray:
        """The matrix as a dense array, rebuilt from its index arrays."""
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        return self.matrix_type((s["data"], s["indices"], s["indptr"]), shape=shape).toarray()


_PICKLE_ALLOWED = {
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    *((module, name) for module in ("__builtin__", "builtins") for name in ("object", "set")),
    ("_codecs", "encode"),
}
_NUMPY_ALLOWED = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}


class _SmplUnpickler(pickle.Unpickler):
    """Unpickles SMPL files without chumpy, refusing any class outside numpy and sparse arrays."""

    def find_class(self, module: str, name: str) -> type:
        if module.split(".")[0] == "chumpy":
            return type(name, (_ChumpyStub,), {})
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return type(name, (_SparseStub,), {"matrix_type": getattr(scipy.sparse, name)})
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) in _PICKLE_ALLOWED or (
            module.startswith("numpy") and name in _NUMPY_ALLOWED
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a body model file")


def _unpickle(path: Path) -> dict:
    """The dict of an SMPL ``.pkl`` (Python 2 pickles need latin1), chumpy arrays stubbed."""
    with path.open("rb") as file:
        try:
            data = _SmplUnpickler(file, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, AttributeError) as error:
            raise BodyModelFileError(f"{path}: cannot read the pickle: {error}") from error
    if not isinstance(data, dict):
        raise BodyModelFileError(f"{path}: expected a dict of arrays, got {type(data).__name__}")
    return data


def _to_array(value: object, path: Path, key: str) -> np.ndarray:
    """A model entry as a plain array: sparse matrices densified, chumpy arrays unwrapped."""
    if isinstance(value, _SparseStub):
        return value.dense()
    if isinstance(value, _ChumpyStub):
        array = value.array()
        if array is None:
            raise BodyModelFileError(
                f"{path}: key {key!r} is a chumpy expression ({type(value).__name__}) that cannot "
                "be evaluated without chumpy; convert the file with SMPL-X's tools/clean_ch.py "
                "or supply the model as .npz"
            )
        return array
    return np.asarray(value)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The model keys of an ``.npz`` that are present, refusing pickled objects."""
    with np.load(path, allow_pickle=False) as archive:
        try:
            return {k: archive[k] for k in MODEL_KEYS if k in archive.files}
        except ValueError as error:
            raise BodyModelFileError(f"{path}: an entry holds Python objects: {error}") from error


def _check_shapes(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Raise :class:`BodyModelFileError` unless the arrays form an SMPL model."""
    num_vertices = arrays["v_template"].shape[0]
    expected = {
        "v_template": (num_vertices, 3),
        "shapedirs": (num_vertices, 3, None),
        "posedirs": (num_vertices, 3, NUM_POSE_FEATURES),
        "J_regressor": (NUM_JOINTS, num_vertices),
        "weights": (num_vertices, NUM_JOINTS),
        "kintree_table": (2, NUM_JOINTS),
        "f": (None, 3),
    }
    for key, shape in expected.items():
        actual = arrays[key].shape
        if len(actual) != len(shape) or any(
            e not in (None, a) for e, a in zip(shape, actual, strict=True)
        ):
            wanted = "(" + ", ".join("*" if e is None else str(e) for e in shape) + ")"
            raise BodyModelFileError(f"{path}: key {key!r} has shape {actual}, expected {wanted}")


def load_smpl_arrays(path: Path) -> dict[str, np.ndarray]:
    """The :data:`MODEL_KEYS` arrays of an SMPL ``.npz`` or ``.pkl`` file, checked.

    Raises:
        FileNotFoundError: no such file.
        BodyModelFileError: unknown suffix, unreadable pickle, a missing key, a chumpy expression,
            or an array of the wrong shape; the message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SMPL model file not found: {path}")
    if path.suffix == ".npz":
        raw = _read_npz(path)
    elif path.suffix == ".pkl":
        raw = _unpickle(path)
    else:
        raise BodyModelFileError(
            f"{path}: unsupported model file type {path.suffix!r}; use .npz or .pkl"
        )
    for key in MODEL_KEYS:
        if key not in raw:
            raise BodyModelFileError(
                f"{path}: missing key {key!r} (an SMPL model needs {', '.join(MODEL_KEYS)})"
            )
    arrays = {key: _to_array(raw[key], path, key) for key in MODEL_KEYS}
    _check_shapes(arrays, path)
    return arrays


def synth_model_dir(data_dir: Path | None = None) -> Path:
    """Cache folder of the synthesized models: ``<data>/body/<SYNTH_MODEL_VERSION>``.

    ``<data>`` is ``data_dir`` if given, else ``$SYNTHTWIN_DATA``, else ``./data``.
    """
    root = Path(data_dir) if data_dir is not None else Path(os.environ.get(DATA_ENV_VAR) or "data")
    return root / "body" / SYNTH_MODEL_VERSION


def ensure_synth_models(folder: Path) -> Path:
    """Generate the synthesized model files into ``folder`` unless they are there; returns it.

    Written into a staging folder beside it and renamed into place, so a reader never sees a
    half-written folder and a concurrent generator that loses the race discards its copy.
    """
    folder = Path(folder)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write_smpl_folder(staging)
        os.rename(staging, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------------------------
# The public model


@dataclass(frozen=True)
class BodyOutput:
    """Posed bodies.

    Attributes:
        vertices: ``(B, V, 3) float32`` metres.
        joints: ``(B, 24, 3) float32`` metres, SMPL's joint order (:data:`JOINT_NAMES`).
    """

    vertices: np.ndarray
    joints: np.ndarray


def flat_posedirs(posedirs: np.ndarray) -> PosedirsMatrix:
    """``(P, V * 3)``: smplx's layout of ``posedirs (V, 3, P)``, sparse CSR if mostly zeros.

    The same product either way; the synthesized model's local correctives are ~2 % nonzero.
    """
    flat = np.ascontiguousarray(posedirs.reshape(-1, posedirs.shape[-1]).T)
    if np.count_nonzero(flat) < SPARSE_POSEDIRS_BELOW * flat.size:
        return scipy.sparse.csr_matrix(flat)
    return flat


def _batch(name: str, value: np.ndarray, widths: range, label: str) -> np.ndarray:
    """``value`` as a float64 ``(B, k)`` array with ``k`` in ``widths``, or a clear ValueError."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] not in widths:
        raise ValueError(f"{name} must have shape (B, {label}), got {array.shape}")
    return array


class BodyModel:
    """An SMPL body model in numpy: load it, then :meth:`forward` batches of shapes and poses.

    Attributes (the raw SMPL arrays, float64 unless stated): ``v_template (V, 3)``,
    ``shapedirs (V, 3, NB)``, ``posedirs (V, 3, 207)``, ``J_regressor (J, V)``,
    ``weights (V, J)``, ``kintree_table (2, J) int64``, ``faces (F, 3) int64``, ``parents (J,)
    int64`` (-1 for the root), ``joint_names``, ``source`` (where it was loaded from).
    """

    def __init__(self, arrays: dict[str, np.ndarray], source: str = "<arrays>") -> None:
        self.source = source
        self.v_template = np.asarray(arrays["v_template"], dtype=np.float64)
        self.shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)
        self.posedirs = np.asarray(arrays["posedirs"], dtype=np.float64)
        self.J_regressor = np.asarray(arrays["J_regressor"], dtype=np.float64)
        self.weights = np.asarray(arrays["weights"], dtype=np.float64)
        self.kintree_table = np.asarray(arrays["kintree_table"]).astype(np.int64)
        self.faces = np.asarray(arrays["f"]).astype(np.int64)
        self.parents = self.kintree_table[0].copy()
        self.parents[0] = -1
        self.joint_names = JOINT_NAMES
        self._posedirs_flat = flat_posedirs(self.posedirs)

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        gender: str = "neutral",
        device: str = "cpu",
        lod: int = 0,
        data_dir: Path | None = None,
    ) -> BodyModel:
        """Load a body model.

        Args:
            path: None for SynthTwin's synthesized model (generated into :func:`synth_model_dir`
                on first use), or a real SMPL ``.npz`` / ``.pkl`` file.
            gender: "neutral", "female" or "male" (the synthesized model only).
            device: "cpu"; the numpy backend runs nowhere else.
            lod: 0 for the full mesh (6890 vertices), 1 for the low-poly crowd mesh (the
                synthesized model only).
            data_dir: overrides ``$SYNTHTWIN_DATA`` / ``./data`` as the cache root.
        """
        if device != "cpu":
            raise ValueError(
                f"device {device!r} is not supported: the numpy body model runs on 'cpu'"
            )
        gender = gender.lower()
        if gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
        if lod not in LODS:
            raise ValueError(f"lod must be one of {LODS}, got {lod!r}")
        if path is None:
            folder = ensure_synth_models(synth_model_dir(data_dir))
            path = folder / "smpl" / model_filename(gender, lod, "npz")
        elif lod != 0:
            raise ValueError(
                "lod applies to the synthesized model; a user's SMPL file has one mesh"
            )
        return cls(load_smpl_arrays(Path(path)), source=str(path))

    @property
    def num_vertices(self) -> int:
        return len(self.v_template)

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[-1]

    def forward(
        self,
        betas: np.ndarray,
        body_pose: np.ndarray,
        global_orient: np.ndarray,
        transl: np.ndarray,
    ) -> BodyOutput:
        """Shape and pose a batch of bodies, as smplx's ``SMPL.forward``.

        Args:
            betas: ``(B, NB)`` shape coefficients, ``1 <= NB <= num_betas`` (10 here).
            body_pose: ``(B, 69)`` axis-angle (radians) of the 23 non-root joints.
            global_orient: ``(B, 3)`` axis-angle of the root.
            transl: ``(B, 3)`` metres added to every vertex and joint.
        """
        betas = _batch("betas", betas, range(1, self.num_betas + 1), f"1..{self.num_betas}")
        body_pose = _batch("body_pose", body_pose, range(POSE_WIDTH, POSE_WIDTH + 1), "69")
        global_orient = _batch("global_orient", global_orient, range(3, 4), "3")
        transl = _batch("transl", transl, range(3, 4), "3")
        sizes = {len(betas), len(body_pose), len(global_orient), len(transl)}
        if len(sizes) != 1:
            raise ValueError(
                "betas, body_pose, global_orient and transl must share the batch size B, got "
                f"{len(betas)}, {len(body_pose)}, {len(global_orient)}, {len(transl)}"
            )
        pose = np.hstack([global_orient, body_pose])
        vertices, joints = lbs(
            betas,
            pose,
            self.v_template,
            self.shapedirs,
            self._posedirs_flat,
            self.J_regressor,
            self.parents,
            self.weights,
        )
        offset = transl[:, None, :]
        return BodyOutput(
            (vertices + offset).astype(np.float32), (joints + offset).astype(np.float32)
        )
