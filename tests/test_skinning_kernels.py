"""The skinning kernels against smplx's own ``smplx.lbs`` (torch, float64), numba and Warp (CPU).

Models are random but well formed, in SMPL's format (smplx's keys, SMPL's 24-joint tree): a
*dense* one (every vertex weighted to all 24 joints, every corrective non-zero, as in real SMPL
files) and a *local* one (at most 3 joints per vertex, correctives only on those joints'
features). Outputs are float32; they must agree with float64 smplx within ``TOL_M``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import warp as wp
from smplx.lbs import batch_rigid_transform, batch_rodrigues, lbs

from synthtwin.kernels.numba import skinning as nb
from synthtwin.kernels.numba.skinning import (
    NumbaSkinner,
    SkinningModel,
    corrective_rows,
    influences,
)
from synthtwin.kernels.warp import skinning as wk
from synthtwin.kernels.warp.skinning import WarpSkinner

SMPL_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
)
NUM_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)
NUM_VERTICES = 600
BATCH = 6
TOL_M = 1e-5
BONE_SD_M = 0.12
VERTEX_SPREAD_M = 0.05
SHAPEDIRS_SD_M = 0.01
POSEDIRS_SD_M = 0.01
POSE_SD_RAD = 0.5
TRANSL_SD_M = 2.0
BACKENDS = ("numba", "warp")


def random_smpl_arrays(num_vertices: int, seed: int, *, local: bool) -> dict[str, np.ndarray]:
    """A random SMPL-format model: smplx's keys, float64, SMPL's kintree.

    Joints hang off their parents by ~``BONE_SD_M``; each vertex sits ~``VERTEX_SPREAD_M`` from
    its own joint, which regresses it. ``local``: a vertex is weighted to its joint, that joint's
    parent and one random joint (<= 3 influences), and its correctives read only those joints'
    features; otherwise every weight and corrective is non-zero.
    """
    rng = np.random.default_rng(seed)
    joints = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        joints[j] = joints[SMPL_PARENTS[j]] + rng.normal(0.0, BONE_SD_M, 3)
    owner = np.sort(rng.integers(0, NUM_JOINTS, num_vertices))
    owner[:NUM_JOINTS] = np.arange(NUM_JOINTS)  # every joint owns a vertex
    rows = np.arange(num_vertices)
    if local:
        weights = np.zeros((num_vertices, NUM_JOINTS))
        weights[rows, owner] += rng.uniform(0.5, 1.0, num_vertices)
        weights[rows, np.maximum(SMPL_PARENTS[owner], 0)] += rng.uniform(0.0, 0.5, num_vertices)
        other = rng.integers(0, NUM_JOINTS, num_vertices)
        weights[rows, other] += rng.uniform(0.0, 0.3, num_vertices)
    else:
        weights = rng.uniform(0.05, 1.0, (num_vertices, NUM_JOINTS)) ** 4
    weights /= weights.sum(axis=1, keepdims=True)
    regressor = np.zeros((NUM_JOINTS, num_vertices))
    regressor[owner, rows] = rng.uniform(0.1, 1.0, num_vertices)
    regressor /= regressor.sum(axis=1, keepdims=True)
    posedirs = rng.normal(0.0, POSEDIRS_SD_M, (num_vertices, 3, NUM_POSE_FEATURES))
    if local:
        feature_joint = 1 + np.arange(NUM_POSE_FEATURES) // 9
        posedirs *= (weights[:, feature_joint] > 0)[:, None, :]
    kintree = np.stack([SMPL_PARENTS, np.arange(NUM_JOINTS)])
    return {
        "v_template": joints[owner] + rng.normal(0.0, VERTEX_SPREAD_M, (num_vertices, 3)),
        "shapedirs": rng.normal(0.0, SHAPEDIRS_SD_M, (num_vertices, 3, NUM_BETAS)),
        "posedirs": posedirs,
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, num_vertices, (2 * num_vertices, 3)),
    }


def skinning_model(arrays: dict[str, np.ndarray], **options) -> SkinningModel:
    keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")
    return SkinningModel.from_arrays(
        *(arrays[k] for k in keys), arrays["kintree_table"][0], **options
    )


def random_inputs(seed: int, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``betas (B, NB)``, axis-angle ``pose (B, J, 3)`` (rad; twin 0 at zero pose), ``transl
    (B, 3)`` (m), float64."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(0.0, POSE_SD_RAD, (batch, NUM_JOINTS, 3))
    pose[0] = 0.0
    return (
        rng.normal(0.0, 1.0, (batch, NUM_BETAS)),
        pose,
        rng.normal(0.0, TRANSL_SD_M, (batch, 3)),
    )


def smplx_reference(arrays, betas, pose, transl) -> tuple[np.ndarray, np.ndarray]:
    """smplx's ``lbs`` in float64, plus ``transl``: vertices ``(B, V, 3)``, joints ``(B, J, 3)``.

    ``pose`` is axis-angle ``(B, J, 3)`` or rotation matrices ``(B, J, 3, 3)``.
    """

    def t(a):
        return torch.as_tensor(np.asarray(a), dtype=torch.float64)

    axis_angle = pose.ndim == 3
    vertices, joints = lbs(
        t(betas),
        t(pose).reshape(len(pose), -1) if axis_angle else t(pose),
        t(arrays["v_template"]),
        t(arrays["shapedirs"]),
        t(arrays["posedirs"].reshape(-1, NUM_POSE_FEATURES).T),  # (P, V * 3), as smplx holds it
        t(arrays["J_regressor"]),
        torch.as_tensor(SMPL_PARENTS),
        t(arrays["weights"]),
        pose2rot=axis_angle,
    )
    return vertices.numpy() + transl[:, None], joints.numpy() + transl[:, None]


def make_skinner(backend: str, model: SkinningModel, batch: int = BATCH, **options):
    if backend == "numba":
        return NumbaSkinner(model, batch, **options)
    return WarpSkinner(model, batch, "cpu", **options)


def as_numpy(a) -> np.ndarray:
    return a.numpy() if isinstance(a, wp.array) else a


def run(skinner, betas, pose, transl) -> tuple[np.ndarray, np.ndarray]:
    out = skinner.forward(betas, pose, transl)
    return as_numpy(out.vertices).copy(), as_numpy(out.joints).copy()


def assert_close(got: np.ndarray, want: np.ndarray, tol: float = TOL_M) -> None:
    assert got.shape == want.shape
    assert np.abs(got - want).max() < tol


def assert_same_outputs(skinner, other, inputs, tol: float = TOL_M) -> None:
    """Both skinners give the same vertices and joints for ``inputs``."""
    for got, want in zip(run(skinner, *inputs), run(other, *inputs), strict=True):
        assert_close(got, want, tol)


@pytest.fixture(scope="module")
def dense_arrays() -> dict[str, np.ndarray]:
    return random_smpl_arrays(NUM_VERTICES, seed=1, local=False)


@pytest.fixture(scope="module")
def local_arrays() -> dict[str, np.ndarray]:
    return random_smpl_arrays(NUM_VERTICES, seed=2, local=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("arrays_name", "options"),
    [
        ("dense_arrays", {}),
        ("local_arrays", {"correctives": "local", "max_influences": 4}),
    ],
    ids=["dense", "local-4-influences"],
)
def test_matches_smplx(backend, arrays_name, options, request):
    arrays = request.getfixturevalue(arrays_name)
    skinner = make_skinner(backend, skinning_model(arrays, **options), cache_shape=False)
    betas, pose, transl = random_inputs(seed=10)
    vertices, joints = run(skinner, betas, pose, transl)
    want_vertices, want_joints = smplx_reference(arrays, betas, pose, transl)
    assert_close(vertices, want_vertices)
    assert_close(joints, want_joints)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_matrix_pose_matches_smplx(backend, dense_arrays):
    betas, axis_angle, transl = random_inputs(seed=11)
    pose = batch_rodrigues(torch.as_tensor(axis_angle.reshape(-1, 3))).numpy()
    pose = pose.reshape(BATCH, NUM_JOINTS, 3, 3)
    skinner = make_skinner(backend, skinning_model(dense_arrays))
    vertices, joints = run(skinner, betas, pose, transl)
    want_vertices, want_joints = smplx_reference(dense_arrays, betas, pose, transl)
    assert_close(vertices, want_vertices)
    assert_close(joints, want_joints)


def test_warp_matches_numba(dense_arrays):
    model = skinning_model(dense_arrays)
    assert_same_outputs(
        make_skinner("warp", model), make_skinner("numba", model), random_inputs(seed=12)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_local_correctives_match_dense(backend, local_arrays):
    dense = skinning_model(local_arrays, correctives="dense")
    local = skinning_model(local_arrays, correctives="local")
    rows = corrective_rows(local.posedirs, drop_zeros=True)
    assert rows.start[-1] < NUM_VERTICES * NUM_POSE_FEATURES / 4  # the rows are short
    local_skinner, dense_skinner = make_skinner(backend, local), make_skinner(backend, dense)
    assert_same_outputs(local_skinner, dense_skinner, random_inputs(seed=13), tol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_four_influences_match_all_where_a_vertex_has_at_most_four(backend, local_arrays):
    assert np.count_nonzero(local_arrays["weights"], axis=1).max() <= 4
    four = skinning_model(local_arrays, max_influences=4)
    every = skinning_model(local_arrays)
    assert four.influence_joint.shape == (NUM_VERTICES, 4)
    four_skinner, every_skinner = make_skinner(backend, four), make_skinner(backend, every)
    assert_same_outputs(four_skinner, every_skinner, random_inputs(seed=14), tol=1e-6)


def test_influences_keep_the_largest_weights_renormalised():
    weights = np.array([[0.1, 0.4, 0.05, 0.2, 0.25], [0.0, 0.0, 1.0, 0.0, 0.0]])
    joint, weight = influences(weights, 2)
    np.testing.assert_array_equal(joint, [[1, 4], [2, 0]])
    np.testing.assert_allclose(weight, [[0.4 / 0.65, 0.25 / 0.65], [1.0, 0.0]], rtol=1e-6)
    joint, weight = influences(weights, None)
    np.testing.assert_array_equal(joint, np.tile(np.arange(5), (2, 1)))
    np.testing.assert_array_equal(weight, weights.astype(np.float32))


def numba_forward_kinematics(rotations, rest_joints, transl):
    """``kernels.numba.skinning.forward_kinematics`` in natural layouts: ``A (B, J, 3, 4)``,
    joints ``(B, J, 3)``, pose feature ``(B, P)``."""
    b = len(rotations)
    f32 = np.float32
    transforms = np.zeros((NUM_JOINTS, 12, b), f32)
    joints = np.zeros((NUM_JOINTS, 3, b), f32)
    feature = np.zeros((NUM_POSE_FEATURES, b), f32)
    nb.forward_kinematics(
        np.ascontiguousarray(rotations.transpose(1, 2, 3, 0), f32),
        np.ascontiguousarray(rest_joints.transpose(1, 2, 0), f32),
        SMPL_PARENTS.astype(np.int32),
        np.ascontiguousarray(transl.T, f32),
        transforms,
        joints,
        feature,
    )
    return transforms.transpose(2, 0, 1).reshape(b, -1, 3, 4), joints.transpose(2, 0, 1), feature.T


def warp_forward_kinematics(rotations, rest_joints, transl):
    """``kernels.warp.skinning.forward_kinematics`` on the CPU, same returns as above."""
    b = len(rotations)
    transforms = wp.zeros((b, NUM_JOINTS), dtype=wk.mat34)
    joints = wp.zeros((b, NUM_JOINTS), dtype=wp.vec3)
    feature = wp.zeros((b, NUM_POSE_FEATURES), dtype=wp.float32)
    inputs = [
        wp.array(rotations.astype(np.float32), dtype=wp.mat33),
        wp.array(rest_joints.astype(np.float32), dtype=wp.vec3),
        wp.array(SMPL_PARENTS, dtype=wp.int32),
        wp.array(transl.astype(np.float32), dtype=wp.vec3),
    ]
    wp.launch(wk.forward_kinematics, b, inputs=inputs, outputs=[transforms, joints, feature])
    return transforms.numpy(), joints.numpy(), feature.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_kinematics_matches_smplx(backend):
    rng = np.random.default_rng(15)
    rotations = batch_rodrigues(torch.as_tensor(rng.normal(0.0, POSE_SD_RAD, (BATCH * 24, 3))))
    rotations = rotations.numpy().reshape(BATCH, NUM_JOINTS, 3, 3)
    rest_joints = rng.normal(0.0, 0.5, (BATCH, NUM_JOINTS, 3))
    transl = rng.normal(0.0, TRANSL_SD_M, (BATCH, 3))
    fk = numba_forward_kinematics if backend == "numba" else warp_forward_kinematics
    transforms, joints, feature = fk(rotations, rest_joints, transl)
    want_joints, want_a = batch_rigid_transform(
        torch.as_tensor(rotations), torch.as_tensor(rest_joints), torch.as_tensor(SMPL_PARENTS)
    )
    assert_close(joints, want_joints.numpy() + transl[:, None])
    assert_close(transforms, want_a.numpy()[:, :, :3, :])
    want_feature = (rotations[:, 1:] - np.eye(3)).reshape(BATCH, -1)
    assert_close(feature, want_feature)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_pose_gives_the_shaped_template(backend, dense_arrays):
    betas, _, _ = random_inputs(seed=16)
    zero = np.zeros((BATCH, NUM_JOINTS, 3))
    vertices, joints = run(
        make_skinner(backend, skinning_model(dense_arrays)), betas, zero, np.zeros((BATCH, 3))
    )
    # (V, 3, NB) @ (B, NB) -> (B, V, 3)
    shaped = dense_arrays["v_template"] + np.einsum("vcl,bl->bvc", dense_arrays["shapedirs"], betas)
    assert_close(vertices, shaped)
    assert_close(joints, np.einsum("jv,bvc->bjc", dense_arrays["J_regressor"], shaped))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_shape_follows_betas(backend, local_arrays):
    skinner = make_skinner(
        backend, skinning_model(local_arrays, correctives="local"), cache_shape=True
    )
    betas, pose, transl = random_inputs(seed=17)
    other_betas, other_pose, _ = random_inputs(seed=18)
    calls = [(betas, pose), (betas, other_pose), (betas, pose), (other_betas, other_pose)]
    calls += [(other_betas, pose), (other_betas, other_pose), (betas, pose)]
    for call in calls:  # new betas, cached on their second call, kept, then new again
        got = run(skinner, *call, transl)
        want = smplx_reference(local_arrays, *call, transl)
        assert_close(got[0], want[0])
        assert_close(got[1], want[1])


@pytest.mark.parametrize("cache_shape", [False, True])
def test_recorded_launches_replay_new_inputs(dense_arrays, cache_shape):
    model = skinning_model(dense_arrays)
    recorded = WarpSkinner(model, BATCH, "cpu", cache_shape=cache_shape, record=True)
    live = WarpSkinner(model, BATCH, "cpu", cache_shape=cache_shape)
    betas, pose, transl = random_inputs(seed=19)
    other_betas, other_pose, other_transl = random_inputs(seed=20)
    matrices = batch_rodrigues(torch.as_tensor(other_pose.reshape(-1, 3))).numpy()
    matrices = matrices.reshape(BATCH, NUM_JOINTS, 3, 3)
    calls = [
        (betas, pose, transl),
        (betas, other_pose, other_transl),
        (other_betas, pose, transl),
        (other_betas, matrices, transl),
        (betas, pose, transl),
    ]
    for call in calls:
        assert_same_outputs(recorded, live, call, tol=1e-12)


def test_batches_below_the_reserved_size_skin_only_their_twins(dense_arrays):
    """A skinner with room for more twins skins a smaller batch as a skinner of its size does;
    a larger batch is refused until ``reserve`` makes room (doubling)."""
    model = skinning_model(dense_arrays)
    roomy = WarpSkinner(model, BATCH + 3, "cpu", record=True)
    betas, pose, transl = random_inputs(seed=22)
    exact = run(WarpSkinner(model, BATCH, "cpu"), betas, pose, transl)
    for got, want in zip(run(roomy, betas, pose, transl), exact, strict=True):
        assert_close(got, want, tol=1e-12)
    big = random_inputs(seed=23, batch=2 * BATCH + 7)
    with pytest.raises(ValueError, match=r"a batch of 19 twins: this skinner has room for 9"):
        roomy.forward(*big)
    roomy.reserve(len(big[0]))
    assert roomy.batch_size == 19
    roomy.reserve(BATCH)
    assert roomy.batch_size == 19
    for got, want in zip(run(roomy, *big), smplx_reference(dense_arrays, *big), strict=True):
        assert_close(got, want)
    roomy.reserve(20)
    assert roomy.batch_size == 38


BAD_MODELS = [
    ("shapedirs", lambda a: a["shapedirs"][:-1], r"shapedirs: expected shape \(600, 3, \*\)"),
    ("posedirs", lambda a: a["posedirs"][:, :, :-9], r"posedirs: expected shape \(600, 3, 207\)"),
    ("J_regressor", lambda a: a["J_regressor"].T, r"J_regressor: expected shape \(24, 600\)"),
    ("weights", lambda a: a["weights"][:, :23], r"weights: expected shape \(600, 24\)"),
    ("parents", lambda a: np.r_[-1, 2, SMPL_PARENTS[2:]], r"joint 1 has parent 2, not before it"),
]


@pytest.mark.parametrize(("key", "corrupt", "message"), BAD_MODELS, ids=[b[0] for b in BAD_MODELS])
def test_model_shapes_are_validated(dense_arrays, key, corrupt, message):
    arrays = dict(dense_arrays)
    if key == "parents":
        arrays["kintree_table"] = np.stack([corrupt(arrays), np.arange(NUM_JOINTS)])
    else:
        arrays[key] = corrupt(arrays)
    with pytest.raises(ValueError, match=message):
        skinning_model(arrays)
    with pytest.raises(ValueError, match="correctives must be 'dense' or 'local'"):
        skinning_model(dense_arrays, correctives="sparse")


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_shapes_are_validated(backend, dense_arrays):
    skinner = make_skinner(backend, skinning_model(dense_arrays))
    betas, pose, transl = random_inputs(seed=21)
    bad_calls = [
        ((betas[:, :9], pose, transl), r"betas: expected shape \(6, 10\), got \(6, 9\)"),
        ((betas, pose[:, :23], transl), r"pose: expected shape \(6, 24, 3\) or \(6, 24, 3, 3\)"),
        ((betas, pose, transl[:5]), r"transl: expected shape \(6, 3\), got \(5, 3\)"),
    ]
    for call, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            skinner.forward(*call)


def test_numba_writes_into_given_outputs_and_checks_them(dense_arrays):
    skinner = make_skinner("numba", skinning_model(dense_arrays))
    inputs = random_inputs(seed=24)
    want = run(skinner, *inputs)
    out = nb.SkinnedBatch(
        vertices=np.full((BATCH, NUM_VERTICES, 3), np.nan, np.float32),
        joints=np.full((BATCH, NUM_JOINTS, 3), np.nan, np.float32),
    )
    assert skinner.forward(*inputs, out) is out
    np.testing.assert_array_equal(out.vertices, want[0])
    np.testing.assert_array_equal(out.joints, want[1])
    bad_outputs = [
        ("vertices", np.zeros((BATCH, NUM_VERTICES - 1, 3), np.float32)),
        ("vertices", np.zeros((BATCH, NUM_VERTICES, 3), np.float64)),
        ("joints", np.zeros((BATCH, 3, NUM_JOINTS), np.float32).transpose(0, 2, 1)),
    ]
    for name, bad in bad_outputs:
        arrays = {"vertices": out.vertices, "joints": out.joints} | {name: bad}
        with pytest.raises(ValueError, match=f"out.{name}: expected a writeable C-contiguous"):
            skinner.forward(*inputs, nb.SkinnedBatch(**arrays))


def test_kernels_compile_for_cuda(tmp_path):
    """The same source builds for an H100 (sm_90) with Warp's NVRTC, no GPU needed."""
    built = wp.compile_aot_module(wk, arch=90, module_dir=tmp_path)
    assert [path.suffix for path in built] == [".cubin"]
    source = next(tmp_path.glob("*.cu")).read_text()
    assert source.count("_cuda_kernel_forward(") == 5  # 2 skin overloads + 3 kernels
