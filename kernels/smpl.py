"""The SMPL body model: its file format, loading and forward pass (smplx's ``SMPL``).

``BodyModel.load(path)`` reads an SMPL ``.npz`` or ``.pkl`` file (including the official ones
that hold chumpy objects, read without chumpy); ``model.forward(betas, body_pose, global_orient,
transl)`` returns a :class:`BodyOutput`. SynthTwin's own synthesized model, in the same format,
comes from ``synthtwin.engine.synth.body_model.synth_body``.

The math (smplx's ``lbs``: shape blend, joint regression, Rodrigues, pose features and
correctives, rigid transforms down the chain, linear blend skinning) runs in the numba kernels of
``synthtwin.kernels.numba.skinning`` (float32), which are tested against smplx itself.

Glossary: B batch, V vertices, F faces, J = 24 joints, NB shape coefficients, P = 207 pose
features (the 23 non-root rotation matrices minus identity, row-major).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from synthtwin.kernels.numba.skinning import (
    NumbaSkinner,
    SkinnedBatch,
    SkinningModel,
    blend_shapes,
    forward_kinematics,
    rodrigues,
)

__all__ = [
    "GENDERS",
    "NUM_BETAS",
    "JOINT_NAMES",
    "MODEL_KEYS",
    "NUM_JOINTS",
    "NUM_POSE_FEATURES",
    "PARENTS",
    "BodyModel",
    "BodyModelFileError",
    "BodyOutput",
    "load_smpl_arrays",
]

JOINT_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
    dtype=np.int64,
)
"""SMPL's kintree: the parent of each joint, -1 for the root; parents come before children."""
NUM_JOINTS = len(JOINT_NAMES)
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)
GENDERS = ("female", "male", "neutral")
NUM_BETAS = 10
"""Shape coefficients of smplx's default shape space."""
MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
"""Exactly the keys smplx's SMPL reads."""

SPARSE_POSEDIRS_BELOW = 0.25
"""Keep ``posedirs`` as a sparse matrix when fewer than this share of its entries are nonzero."""
POSE_WIDTH = 3 * (NUM_JOINTS - 1)
"""Axis-angle numbers of ``body_pose``: 23 non-root joints."""


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


@dataclass(frozen=True)
class BodyOutput:
    """Posed bodies.

    Attributes:
        vertices: ``(B, V, 3) float32`` metres.
        joints: ``(B, 24, 3) float32`` metres, SMPL's joint order (:data:`JOINT_NAMES`).
    """

    vertices: np.ndarray
    joints: np.ndarray


def _batch(name: str, value: np.ndarray, widths: range, label: str) -> np.ndarray:
    """``value`` as a finite float64 ``(B, k)`` array with ``k`` in ``widths``, or a clear
    ValueError."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] not in widths:
        raise ValueError(f"{name} must have shape (B, {label}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got NaN or infinity")
    return array


class BodyModel:
    """An SMPL body model: load it, then :meth:`forward` batches of shapes and poses.

    The forward pass is the numba skinning kernel (``synthtwin.kernels.numba.skinning``): shape
    blend, forward kinematics, pose correctives (sparse when the model's are local) and linear blend
    skinning over each vertex's non-zero weights, the math of smplx's ``lbs``; it matches smplx to
    ~1e-6 m. The kernel writes straight into the returned arrays (no copy); a batch size's shaped
    vertices are cached while its betas repeat.

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
        local = np.count_nonzero(self.posedirs) < SPARSE_POSEDIRS_BELOW * self.posedirs.size
        # Each vertex's non-zero weights only (exact): SMPL's have at most 4 of 24.
        widest = max(1, int(np.count_nonzero(self.weights, axis=1).max()))
        self._skinning = SkinningModel.from_arrays(
            self.v_template, self.shapedirs, self.posedirs, self.J_regressor, self.weights,
            self.parents, correctives="local" if local else "dense", max_influences=widest,
        )  # fmt: skip
        self._skinners: dict[int, NumbaSkinner] = {}

    @classmethod
    def load(cls, path: Path | str) -> BodyModel:
        """A body model from an SMPL ``.npz`` or ``.pkl`` file (see :func:`load_smpl_arrays`).

        SynthTwin's own synthesized model comes from
        ``synthtwin.engine.synth.body_model.synth_body``, which generates its files on first use.
        """
        return cls(load_smpl_arrays(Path(path)), source=str(path))

    @property
    def skinning_model(self) -> SkinningModel:
        """The model's arrays as the skinning kernels take them (numba's and Warp's)."""
        return self._skinning

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
        batch = len(betas)
        pose = np.empty((batch, NUM_JOINTS, 3), dtype=np.float32)  # (B, J, 3) root first
        pose[:, 0] = global_orient
        pose[:, 1:] = body_pose.reshape(batch, NUM_JOINTS - 1, 3)
        full_betas = np.zeros((batch, self.num_betas), dtype=np.float32)
        full_betas[:, : betas.shape[1]] = betas
        out = SkinnedBatch(  # fresh arrays the kernel writes into: the caller owns them
            vertices=np.empty((batch, self.num_vertices, 3), dtype=np.float32),
            joints=np.empty((batch, NUM_JOINTS, 3), dtype=np.float32),
        )
        self._skinner(batch).forward(full_betas, pose, transl.astype(np.float32), out)
        return BodyOutput(out.vertices, out.joints)

    def joint_transforms(self, pose: np.ndarray, betas: np.ndarray | None = None) -> np.ndarray:
        """``(B, 24, 3, 4) float32``: each joint's rest-to-posed rigid transform, smplx's ``A``.

        Linear blend skinning without pose correctives is then ``vertex = sum_k w_k A_k [v, 1]``
        for a rest vertex ``v`` of the shaped body: the matrices a renderer skins with on the GPU.
        Forward kinematics is the skinning kernel's (``synthtwin.kernels.numba.skinning``).

        Args:
            pose: ``(B, 24, 3)`` axis-angle (radians), global orientation first.
            betas: ``(B, NB)`` shape coefficients, ``1 <= NB <= num_betas``; None: the template.
        """
        pose = np.asarray(pose, dtype=np.float32)
        if pose.ndim != 3 or pose.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"pose must have shape (B, {NUM_JOINTS}, 3), got {pose.shape}")
        if not np.isfinite(pose).all():
            raise ValueError("pose must be finite, got NaN or infinity")
        batch = len(pose)
        betas_t = np.zeros((self.num_betas, batch), dtype=np.float32)  # (NB, B) twin-last
        if betas is not None:
            betas = _batch("betas", betas, range(1, self.num_betas + 1), f"1..{self.num_betas}")
            if len(betas) != batch:
                raise ValueError(f"betas has {len(betas)} rows, pose has {batch}")
            betas_t[: betas.shape[1]] = betas.T
        model = self._skinning
        f32 = np.float32
        rotations = np.empty((NUM_JOINTS, 3, 3, batch), f32)
        rodrigues(pose, rotations)
        rest_joints = np.empty((NUM_JOINTS, 3, batch), f32)
        blend_shapes(model.joint_template, model.joint_shapedirs, betas_t, rest_joints)
        transforms = np.empty((NUM_JOINTS, 12, batch), f32)
        forward_kinematics(
            rotations,
            rest_joints,
            model.parents,
            np.zeros((3, batch), f32),
            transforms,
            np.empty((NUM_JOINTS, 3, batch), f32),
            np.empty((model.num_pose_features, batch), f32),
        )
        return np.ascontiguousarray(transforms.transpose(2, 0, 1)).reshape(batch, NUM_JOINTS, 3, 4)

    def _skinner(self, batch: int) -> NumbaSkinner:
        """The numba skinner of one batch size (arrays allocated once, shape cached by betas)."""
        skinner = self._skinners.get(batch)
        if skinner is None:
            skinner = self._skinners[batch] = NumbaSkinner(self._skinning, batch)
        return skinner
