"""The synthesized SMPL-format body model and the numpy body API: smplx parity, anatomy, shape
space, locality of the pose correctives, LODs, files and errors."""

from __future__ import annotations

import json
import pickle
import sys
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from synthtwin.engine.synth import body_model as bm
from synthtwin.engine.synth.body_model import DATA_ENV_VAR, synth_body, synth_model_dir
from synthtwin.engine.synth.population import LN_BMI_SIGMA, STATURE_MEAN_CM, STATURE_SD_CM, Sex
from synthtwin.kernels import smpl
from synthtwin.kernels.smpl import BodyModel, BodyModelFileError, load_smpl_arrays

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
SEXES = {"female": Sex.FEMALE, "male": Sex.MALE}


@pytest.fixture(scope="module")
def smpl_root(tmp_path_factory) -> Path:
    """A folder holding ``smpl/`` with every synthesized file, written once for the module."""
    root = tmp_path_factory.mktemp("body")
    bm.write_smpl_folder(root)
    return root


@pytest.fixture(scope="module")
def models(smpl_root) -> dict[tuple[str, int], BodyModel]:
    """BodyModel per (gender, lod), loaded from the written ``.npz`` files."""
    return {
        (g, lod): BodyModel.load(smpl_root / "smpl" / bm.model_filename(g, lod, "npz"))
        for g in smpl.GENDERS
        for lod in bm.LODS
    }


def rest(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """Vertices ``(B, V, 3)`` of shaped bodies at zero pose."""
    batch = len(betas)
    zeros = np.zeros((batch, 3))
    return model.forward(betas, np.zeros((batch, 69)), zeros, zeros).vertices.astype(np.float64)


def one_beta(index: int, values: list[float]) -> np.ndarray:
    betas = np.zeros((len(values), 10))
    betas[:, index] = values
    return betas


def height(vertices: np.ndarray) -> np.ndarray:
    return vertices[..., 1].max(-1) - vertices[..., 1].min(-1)


# ---------------------------------------------------------------------------------------------
# Structure


def test_skeleton_is_smpls():
    assert len(smpl.JOINT_NAMES) == 24 and smpl.JOINT_NAMES[15] == "head"
    assert smpl.PARENTS.tolist() == SMPL_PARENTS
    arrays = bm.build_model("neutral", 1)
    assert arrays["kintree_table"].tolist() == [SMPL_PARENTS, list(range(24))]
    assert set(arrays) == set(smpl.MODEL_KEYS)


@pytest.mark.parametrize("lod", bm.LODS)
def test_mesh_counts_and_closed_parts(models, lod):
    model = models["neutral", lod]
    faces = model.faces
    if lod == 0:
        assert model.num_vertices == 6890
    else:
        assert 500 <= model.num_vertices <= 1000
    assert faces.min() == 0 and faces.max() == model.num_vertices - 1
    edges = Counter(
        map(tuple, np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]))
    )
    assert max(edges.values()) == 1, "an edge is used twice in the same direction"
    assert all((b, a) in edges for a, b in edges), "an edge has no opposite: a part is open"
    for name, span in bm.part_slices(lod).items():
        own = faces[(faces >= span.start).all(1) & (faces < span.stop).all(1)]
        count = span.stop - span.start
        assert len(own) == 2 * count - 4, f"{name} is not a closed sphere-like surface"
        assert bm.mesh_volume(model.v_template, own) > 0, f"{name} faces point inward"


def test_generation_is_deterministic(smpl_root, tmp_path):
    bm.write_smpl_folder(tmp_path)
    for path in sorted((smpl_root / "smpl").iterdir()):
        assert path.read_bytes() == (tmp_path / "smpl" / path.name).read_bytes(), path.name


def test_pickles_are_plain_numpy_with_exactly_smplx_keys(smpl_root):
    for gender in smpl.GENDERS:
        with (smpl_root / "smpl" / bm.model_filename(gender, 0, "pkl")).open("rb") as file:
            data = pickle.load(file)
        assert set(data) == set(smpl.MODEL_KEYS)
        assert all(type(v) is np.ndarray for v in data.values())


# ---------------------------------------------------------------------------------------------
# smplx parity


def smplx_vertices_joints(layer, betas, body_pose, global_orient, transl):
    import torch

    with torch.no_grad():
        out = layer(
            betas=torch.tensor(betas, dtype=torch.float32),
            body_pose=torch.tensor(body_pose, dtype=torch.float32),
            global_orient=torch.tensor(global_orient, dtype=torch.float32),
            transl=torch.tensor(transl, dtype=torch.float32),
        )
    return out.vertices.numpy(), out.joints.numpy()[:, :24]


def assert_parity(layer, model, rng, batches=3, batch=8):
    for _ in range(batches):
        betas = rng.normal(0.0, 1.0, (batch, 10))
        body_pose = rng.normal(0.0, 0.3, (batch, 69))
        global_orient = rng.normal(0.0, 0.3, (batch, 3))
        transl = rng.normal(0.0, 1.0, (batch, 3))
        ours = model.forward(betas, body_pose, global_orient, transl)
        vertices, joints = smplx_vertices_joints(layer, betas, body_pose, global_orient, transl)
        assert np.abs(ours.vertices - vertices).max() <= 1e-5
        assert np.abs(ours.joints - joints).max() <= 1e-5


@pytest.mark.parametrize("gender", smpl.GENDERS)
def test_forward_matches_smplx(smpl_root, models, gender):
    smplx = pytest.importorskip("smplx")
    layer = smplx.create(str(smpl_root), model_type="smpl", gender=gender, num_betas=10)
    assert_parity(layer, models[gender, 0], np.random.default_rng(1))


def test_low_poly_lod_matches_smplx_with_its_vertex_ids(smpl_root, models):
    smplx = pytest.importorskip("smplx")
    path = smpl_root / "smpl" / bm.model_filename("male", 1, "npz")
    ids = json.loads((smpl_root / "smpl" / "vertex_ids.json").read_text())["lod1"]
    layer = smplx.SMPL(
        model_path=str(path),
        data_struct=smplx.utils.Struct(**dict(np.load(path))),
        vertex_ids=ids,
    )
    assert_parity(layer, models["male", 1], np.random.default_rng(2), batches=2)


def test_forward_skins_each_vertex_with_its_non_zero_weights_only(models):
    model = models["neutral", 0]
    skinning = model.skinning_model
    assert skinning.influence_joint.shape == (model.num_vertices, 4)  # at most 4 of 24 non-zero
    rows = np.arange(model.num_vertices)[:, None]
    rebuilt = np.zeros((model.num_vertices, 24), np.float32)  # (V, J) from (V, 4)
    np.add.at(rebuilt, (rows, skinning.influence_joint), skinning.influence_weight)
    np.testing.assert_array_equal(rebuilt, model.weights.astype(np.float32))


def test_forward_returns_arrays_the_caller_owns(models):
    model = models["neutral", 1]
    rng = np.random.default_rng(4)
    calls = [
        (rng.normal(0.0, 1.0, (3, 10)), rng.normal(0.0, 0.3, (3, 69)), np.zeros((3, 3)))
        for _ in range(2)
    ]
    first = model.forward(*calls[0], np.zeros((3, 3)))
    kept = first.vertices.copy(), first.joints.copy()
    second = model.forward(*calls[1], np.ones((3, 3)))
    assert not np.shares_memory(first.vertices, second.vertices)
    np.testing.assert_array_equal(first.vertices, kept[0])
    np.testing.assert_array_equal(first.joints, kept[1])


# ---------------------------------------------------------------------------------------------
# Anatomy


def test_zero_pose_and_betas_give_the_template(models):
    model = models["female", 0]
    out = model.forward(np.zeros((2, 10)), np.zeros((2, 69)), np.zeros((2, 3)), np.zeros((2, 3)))
    assert np.abs(out.vertices - model.v_template).max() < 1e-6
    assert np.abs(out.joints - model.J_regressor @ model.v_template).max() < 1e-6


def winding_numbers(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding number ``(P,)`` of closed meshes around points (1 inside one part)."""
    tri = vertices[faces][None] - points[:, None, None, :]  # (P, F, 3, 3)
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    dots = np.einsum("pfi,pfi->pf", a, b) * lc + np.einsum("pfi,pfi->pf", b, c) * la
    dots += np.einsum("pfi,pfi->pf", c, a) * lb
    return np.arctan2(det, la * lb * lc + dots).sum(-1) / (2 * np.pi)


@pytest.mark.parametrize("gender", ["female", "male"])
def test_joints_sit_inside_the_body_where_they_belong(models, gender):
    model = models[gender, 0]
    assert np.allclose(model.J_regressor.sum(1), 1.0) and model.J_regressor.min() >= 0
    joints = dict(zip(smpl.JOINT_NAMES, model.J_regressor @ model.v_template, strict=True))
    points = np.array(list(joints.values()))
    assert (winding_numbers(points, model.v_template, model.faces) > 0.5).all()
    y = {name: p[1] for name, p in joints.items()}
    for side in ("left", "right"):
        assert y[f"{side}_ankle"] < y[f"{side}_knee"] < y[f"{side}_hip"] < y["pelvis"]
        assert y[f"{side}_foot"] < y[f"{side}_ankle"] and joints[f"{side}_foot"][2] > 0.05
        reach = [abs(joints[f"{side}_{j}"][0]) for j in ("collar", "shoulder", "elbow", "wrist")]
        assert reach == sorted(reach) and abs(joints[f"{side}_hand"][0]) > reach[-1]
    assert y["pelvis"] < y["spine1"] < y["spine2"] < y["spine3"] < y["neck"] < y["head"]
    assert joints["left_hip"][0] > 0 > joints["right_hip"][0], "the body's left is +x"
    hand = model.v_template[:, 0].argmax()
    assert abs(model.v_template[hand, 0] - joints["left_hand"][0]) < 0.15, "hands end the arms"


def test_faces_forward_in_t_pose_with_feet_on_the_floor(models):
    vertices = models["male", 0].v_template
    assert vertices[:, 1].min() == pytest.approx(0.0, abs=1e-9)
    head = bm.part_slices(0)["head"]
    nose = vertices[bm.vertex_ids(0)["nose"]]
    assert nose[2] > vertices[head, 2].mean() + 0.05, "the face is at +z"
    span = vertices[:, 0].max() - vertices[:, 0].min()
    assert 0.95 < span / height(vertices) < 1.15, "arm span close to the height (T-pose)"


@pytest.mark.parametrize("lod", bm.LODS)
def test_skinning_weights_are_smooth_partitions_of_unity(models, lod):
    weights = models["neutral", lod].weights
    assert weights.min() >= 0 and np.allclose(weights.sum(1), 1.0)
    assert ((weights > 0).sum(1) <= 4).all()
    slices = bm.part_slices(lod)
    head_joints = {smpl.JOINT_NAMES.index(j) for j in ("spine3", "neck", "head")}
    assert set(np.flatnonzero(weights[slices["head"]].sum(0))) <= head_joints
    knee = smpl.JOINT_NAMES.index("left_knee")
    assert weights[slices["right_leg"], knee].max() == 0


def test_weights_blend_across_the_elbow(models):
    model = models["male", 0]
    elbow, shoulder = smpl.JOINT_NAMES.index("left_elbow"), smpl.JOINT_NAMES.index("left_shoulder")
    arm = bm.part_slices(0)["left_arm"]
    x = model.v_template[arm, 0] - (model.J_regressor @ model.v_template)[elbow, 0]
    forearm_share = model.weights[arm, elbow]
    assert forearm_share[np.abs(x) < 0.005].mean() == pytest.approx(0.5, abs=0.15)
    assert forearm_share[(x > 0.05) & (x < 0.15)].min() > 0.85
    assert model.weights[arm, shoulder][(x < -0.05) & (x > -0.15)].min() > 0.85


# ---------------------------------------------------------------------------------------------
# Pose correctives


def test_posedirs_are_local(models):
    model = models["female", 0]
    support = bm.pose_feature_vertices(model.posedirs)
    joints = model.J_regressor @ model.v_template
    height_m = height(model.v_template)
    slices = bm.part_slices(0)
    for k, index in enumerate(support, start=1):
        name = smpl.JOINT_NAMES[k]
        radius = bm.CORRECTIVES[name.split("_")[-1]][0] * height_m
        assert len(index) > 0, name
        assert np.linalg.norm(model.v_template[index] - joints[k], axis=1).max() < radius
    knee = set(support[smpl.JOINT_NAMES.index("left_knee") - 1])
    for part in ("head", "torso", "right_leg", "left_arm", "left_foot"):
        assert not knee & set(range(slices[part].start, slices[part].stop)), part
    assert sum(len(s) for s in support) < 0.1 * 23 * model.num_vertices, "sparse"


def test_posedirs_bulge_a_bent_knee_and_vanish_at_rest(models):
    model = models["male", 0]
    k = smpl.JOINT_NAMES.index("left_knee")
    bend = np.zeros((1, 23, 3, 3))
    bend[0, :] = np.eye(3)
    angle = 1.5
    bend[0, k - 1] = [
        [1, 0, 0],
        [0, np.cos(angle), -np.sin(angle)],
        [0, np.sin(angle), np.cos(angle)],
    ]
    features = (bend - np.eye(3)).reshape(1, -1)
    offsets = np.einsum("p,vcp->vc", features[0], model.posedirs)
    support = bm.pose_feature_vertices(model.posedirs)[k - 1]
    assert np.abs(np.delete(offsets, support, axis=0)).max() == 0
    assert 0.003 < np.linalg.norm(offsets, axis=1).max() < 0.03, "a bulge of a few mm to cm"
    assert np.abs(np.einsum("vcp,p->vc", model.posedirs, np.zeros(207))).max() == 0


# ---------------------------------------------------------------------------------------------
# Shape space


@pytest.mark.parametrize("gender", ["female", "male"])
def test_stature_direction_adds_sds_of_height(models, gender):
    sex = SEXES[gender]
    z = [-2.5, -1.0, 0.0, 1.0, 2.0]
    for lod in bm.LODS:
        heights_cm = height(rest(models[gender, lod], one_beta(0, z))) * 100
        expected = STATURE_MEAN_CM[sex] + np.array(z) * STATURE_SD_CM[sex]
        assert np.abs(heights_cm - expected).max() < 1.0


def test_neutral_height_is_the_mixture_mean(models):
    assert height(models["neutral", 0].v_template) * 100 == pytest.approx(168.5, abs=1.0)


def body_volume(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    return bm.mesh_volume(rest(model, betas), model.faces)


@pytest.mark.parametrize("gender", ["female", "male"])
def test_girth_grows_with_betas1_at_the_bmi_rate(models, gender):
    model = models[gender, 0]
    z = [-2.0, -1.0, 0.0, 1.0, 2.0]
    volumes = body_volume(model, one_beta(1, z))
    assert (np.diff(volumes) > 0).all()
    rate = (volumes[3] - volumes[1]) / (2 * volumes[2])
    assert rate == pytest.approx(LN_BMI_SIGMA[SEXES[gender]], rel=0.02)
    vertices = rest(model, one_beta(1, z))
    waist_y = (model.J_regressor @ model.v_template)[smpl.JOINT_NAMES.index("spine1"), 1]
    waist = np.abs(vertices[:, :, 1] - waist_y) < 0.02
    widths = [np.ptp(v[w, 2]) for v, w in zip(vertices, waist, strict=True)]
    assert (np.diff(widths) > 0).all()
    assert np.ptp(height(vertices)) < 1e-6, "girth leaves the height alone"


def test_stature_keeps_bmi_and_proportions_keep_stature(models):
    model = models["male", 0]
    volumes = body_volume(model, one_beta(0, [-2.0, 0.0, 2.0]))
    heights = height(rest(model, one_beta(0, [-2.0, 0.0, 2.0])))
    bmi_proxy = volumes / heights**2
    assert np.ptp(bmi_proxy) / bmi_proxy[1] < 0.01
    base = rest(model, np.zeros((1, 10)))[0]
    for index in range(2, 10):
        moved = rest(model, one_beta(index, [2.0]))[0]
        assert height(moved) == pytest.approx(height(base), abs=1e-3), index
        assert np.abs(moved - base).max() > 0.005, f"betas[{index}] visibly changes the body"


def test_shape_directions_are_smooth(models):
    model = models["neutral", 0]
    faces = model.faces
    for index in range(10):
        direction = model.shapedirs[:, :, index]
        jump = np.linalg.norm(direction[faces] - direction[faces[:, [1, 2, 0]]], axis=-1).max()
        edge = np.linalg.norm(
            model.v_template[faces] - model.v_template[faces[:, [1, 2, 0]]], axis=-1
        )
        assert jump < 0.5 * edge.max() + 0.005, index


# ---------------------------------------------------------------------------------------------
# Levels of detail


def test_low_poly_lod_has_the_same_joints_and_height(models):
    rng = np.random.default_rng(3)
    betas = rng.normal(0.0, 1.0, (4, 10))
    body_pose = rng.normal(0.0, 0.3, (4, 69))
    zeros = np.zeros((4, 3))
    for gender in smpl.GENDERS:
        full = models[gender, 0].forward(betas, body_pose, zeros, zeros)
        low = models[gender, 1].forward(betas, body_pose, zeros, zeros)
        assert np.abs(full.joints - low.joints).max() < 0.01
        assert (
            np.abs(
                height(rest(models[gender, 0], betas)) - height(rest(models[gender, 1], betas))
            ).max()
            < 0.01
        )


def test_vertex_ids_point_at_the_right_places(smpl_root, models):
    ids = json.loads((smpl_root / "smpl" / "vertex_ids.json").read_text())
    for lod in bm.LODS:
        vertices = models["female", lod].v_template
        v = {k: vertices[i] for k, i in ids[f"lod{lod}"].items()}
        assert len(v) == 21 and v["nose"][2] > v["leye"][2] > v["lear"][2]
        assert v["leye"][0] > 0 > v["reye"][0] and v["lear"][0] > v["leye"][0]
        assert v["LHeel"][2] < v["LBigToe"][2] and v["LHeel"][1] < 0.01
        assert abs(v["LBigToe"][0]) < abs(v["LSmallToe"][0])
        assert v["lmiddle"][0] == vertices[:, 0].max() and v["rmiddle"][0] == vertices[:, 0].min()
        assert v["lthumb"][2] > v["lpinky"][2]


# ---------------------------------------------------------------------------------------------
# Loading real files, the cache and errors


def test_load_generates_the_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "env"))
    assert synth_model_dir() == tmp_path / "env" / "body" / bm.SYNTH_MODEL_VERSION
    model = synth_body("male", lod=1, data_dir=tmp_path)
    folder = synth_model_dir(tmp_path)
    assert model.source == str(folder / "smpl" / "SMPL_MALE_LOD1.npz")
    stamp = (folder / "smpl" / "SMPL_MALE.npz").stat().st_mtime_ns
    assert synth_body("MALE", data_dir=tmp_path).num_vertices == 6890
    assert (folder / "smpl" / "SMPL_MALE.npz").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [bm.SYNTH_MODEL_VERSION], "no staging left"


def test_npz_with_the_keys_loads(tmp_path):
    arrays = bm.build_model("neutral", 1)
    path = tmp_path / "user.npz"
    np.savez(path, **arrays, extra=np.zeros(3))
    model = BodyModel.load(path)
    assert model.num_vertices == len(arrays["v_template"]) and model.parents[0] == -1


def test_missing_file_and_missing_key_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="SMPL model file not found: .*nope.npz"):
        BodyModel.load(tmp_path / "nope.npz")
    arrays = bm.build_model("neutral", 1)
    del arrays["weights"]
    path = tmp_path / "partial.npz"
    np.savez(path, **arrays)
    with pytest.raises(BodyModelFileError, match=r"partial\.npz: missing key 'weights'"):
        load_smpl_arrays(path)
    arrays = bm.build_model("neutral", 1)
    arrays["posedirs"] = arrays["posedirs"][:, :, :200]
    np.savez(path, **arrays)
    with pytest.raises(BodyModelFileError, match=r"key 'posedirs' has shape .*expected"):
        load_smpl_arrays(path)
    with pytest.raises(BodyModelFileError, match="unsupported model file type '.obj'"):
        (tmp_path / "mesh.obj").write_text("v 0 0 0\n")
        load_smpl_arrays(tmp_path / "mesh.obj")


@pytest.fixture
def fake_chumpy(monkeypatch):
    """A stand-in ``chumpy`` package, installed only while pickles are written."""
    package, module, ops = (types.ModuleType(n) for n in ("chumpy", "chumpy.ch", "chumpy.ch_ops"))

    class Ch:  # pickles like chumpy.Ch: its state dict holds the array under "x"
        def __init__(self, x):
            self.x = np.asarray(x, dtype=np.float64)
            self._dirty_vars = set()

    class add:  # noqa: N801  a chumpy expression: no array of its own
        def __init__(self, a, b):
            self.a, self.b = a, b

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    add.__module__, add.__qualname__ = "chumpy.ch_ops", "add"
    module.Ch, ops.add = Ch, add
    for name, mod in (("chumpy", package), ("chumpy.ch", module), ("chumpy.ch_ops", ops)):
        monkeypatch.setitem(sys.modules, name, mod)
    return Ch, add


def official_style_pickle(path: Path, replace: dict) -> None:
    """A Python-2-protocol SMPL pickle with a sparse J_regressor and extra official keys."""
    arrays = bm.build_model("female", 1)
    arrays["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    arrays["kintree_table"] = arrays["kintree_table"].astype(np.uint32)
    arrays |= {"bs_style": "lbs", "weights_prior": arrays["weights"]} | replace
    path.write_bytes(pickle.dumps(arrays, protocol=2))


def test_pickle_with_chumpy_arrays_loads_without_chumpy(tmp_path, fake_chumpy, monkeypatch):
    ch, _ = fake_chumpy
    expected = bm.build_model("female", 1)
    path = tmp_path / "SMPL_FEMALE.pkl"
    official_style_pickle(
        path, {"shapedirs": ch(expected["shapedirs"]), "J": ch(np.zeros((24, 3)))}
    )
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    model = BodyModel.load(path)
    assert np.array_equal(model.shapedirs, expected["shapedirs"])
    assert np.array_equal(model.J_regressor, expected["J_regressor"])
    assert model.parents.tolist() == SMPL_PARENTS


def test_pickle_with_a_chumpy_expression_fails_with_the_conversion_hint(tmp_path, fake_chumpy):
    ch, add = fake_chumpy
    expected = bm.build_model("female", 1)
    path = tmp_path / "SMPL_FEMALE.pkl"
    official_style_pickle(path, {"shapedirs": add(ch(expected["shapedirs"]), ch(0.0))})
    with pytest.raises(
        BodyModelFileError, match=r"key 'shapedirs' is a chumpy expression .*clean_ch\.py"
    ):
        load_smpl_arrays(path)


def test_pickle_refuses_foreign_classes(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Path("x")}))
    with pytest.raises(BodyModelFileError, match="refusing to load pathlib"):
        load_smpl_arrays(path)


def test_forward_validates_shapes(models):
    model = models["neutral", 1]
    ok = {
        "betas": np.zeros((2, 10)),
        "body_pose": np.zeros((2, 69)),
        "global_orient": np.zeros((2, 3)),
        "transl": np.zeros((2, 3)),
    }
    assert model.forward(**ok).vertices.dtype == np.float32
    assert model.forward(**(ok | {"betas": np.zeros((2, 2))})).joints.shape == (2, 24, 3)
    for key, bad in (
        ("body_pose", np.zeros((2, 72))),
        ("betas", np.zeros((2, 11))),
        ("transl", np.zeros(3)),
    ):
        with pytest.raises(ValueError, match=f"{key} must have shape"):
            model.forward(**(ok | {key: bad}))
    with pytest.raises(ValueError, match="share the batch size"):
        model.forward(**(ok | {"transl": np.zeros((3, 3))}))
    for key in ok:
        bad = ok[key].copy()
        bad[1, 0] = np.nan
        with pytest.raises(ValueError, match=f"{key} must be finite"):
            model.forward(**(ok | {key: bad}))
    with pytest.raises(ValueError, match="pose must be finite"):
        model.joint_transforms(np.full((1, 24, 3), np.inf))
    with pytest.raises(ValueError, match="gender must be one of"):
        synth_body("other")
    with pytest.raises(ValueError, match="lod must be one of"):
        synth_body(lod=7)
