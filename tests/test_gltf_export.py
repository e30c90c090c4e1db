"""``twin export-assets`` (engine.app.gltf_export): every exported ``.glb`` passes the Khronos
glTF validator (npm ``gltf-validator``, run with node), and a body skinned the glTF way (joint
world matrix x inverse bind matrix, linear blend, in numpy from the file's own bytes) at a clip's
frame is SMPL's body at that pose (``BodyModel.forward``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib as gl
import pytest

from synthtwin.engine.app.cli import main
from synthtwin.engine.app.gltf_export import asset_filename, body_glb, export_assets
from synthtwin.engine.synth.body_model import GENDERS, LODS, synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.kernels.smpl import JOINT_NAMES, PARENTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "js"
VALIDATE_S = 60
"""Longest validator run, wall seconds."""
CORRECTIVE_M = 0.012
"""Bound on the vertex offset SMPL's pose correctives (not in glTF) add: 9.5 mm at most over
every 5th frame of every clip, female, male (LOD 0) and neutral (LOD 1), metres."""

needs_validator = pytest.mark.skipif(
    shutil.which("node") is None or not (PACKAGE / "node_modules" / "gltf-validator").is_dir(),
    reason="needs node and `npm ci --prefix clients/js` (bash .ci/setup --test does both)",
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("glb")
    return [asset.path for asset in export_assets(out)]


def validate(*files: Path) -> tuple[int, list[dict]]:
    """The validator's exit status and one report per file."""
    done = subprocess.run(
        ["node", "scripts/validate-gltf.mjs", *map(str, files)],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=VALIDATE_S,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


@needs_validator
def test_every_exported_glb_passes_the_khronos_validator(exported):
    assert sorted(p.name for p in exported) == sorted(
        asset_filename(g, lod) for g in GENDERS for lod in LODS
    )
    status, reports = validate(*exported)
    for report in reports:
        print(
            f"{Path(report['file']).name}: {report['errors']} errors, "
            f"{report['warnings']} warnings",
            [m["code"] for m in report["messages"]],
        )
    assert status == 0 and len(reports) == len(exported)
    assert all(report["errors"] == report["warnings"] == 0 for report in reports), reports


@needs_validator
def test_the_validator_catches_a_broken_file(tmp_path):
    """The harness can fail: a POSITION bound that lies is an error the validator names."""
    gltf = body_glb(synth_body("neutral", 1), synth_library())
    position = gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION]
    position.max = [value + 1.0 for value in position.max]
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"".join(gltf.save_to_bytes()))
    status, [report] = validate(broken)
    assert status == 1 and report["errors"] >= 1
    assert "ACCESSOR_MAX_MISMATCH" in {m["code"] for m in report["messages"]}


def accessor(gltf: gl.GLTF2, index: int) -> np.ndarray:
    """An accessor's data from the file's binary chunk, ``(count, components)``."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {
        gl.FLOAT: np.float32,
        gl.UNSIGNED_BYTE: np.uint8,
        gl.UNSIGNED_SHORT: np.uint16,
        gl.UNSIGNED_INT: np.uint32,
    }[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    start = view.byteOffset + (acc.byteOffset or 0)
    data = np.frombuffer(gltf.binary_blob(), dtype, acc.count * width, start)
    return data.reshape(acc.count, width)


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation of a unit quaternion (x, y, z, w), glTF's order."""
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def gltf_skin(gltf: gl.GLTF2, animation: str, key: int) -> tuple[np.ndarray, np.ndarray]:
    """The body of a glTF file at one key of an animation, skinned as glTF 2.0 section 3.7.3
    says: ``(V, 3)`` vertices and ``(J, 3)`` joint positions, metres."""
    nodes = [
        dict(t=np.array(n.translation or [0.0] * 3), r=np.array(n.rotation or [0, 0, 0, 1.0]))
        for n in gltf.nodes
    ]
    anim = next(a for a in gltf.animations if a.name == animation)
    for channel in anim.channels:
        values = accessor(gltf, anim.samplers[channel.sampler].output)[key]
        nodes[channel.target.node]["t" if channel.target.path == "translation" else "r"] = values
    parent = {child: i for i, n in enumerate(gltf.nodes) for child in n.children}
    world: dict[int, np.ndarray] = {}
    skin = gltf.skins[0]
    for node in skin.joints:  # parents come first (SMPL's order)
        local = np.eye(4)
        local[:3, :3], local[:3, 3] = quat_matrix(nodes[node]["r"]), nodes[node]["t"]
        world[node] = world[parent[node]] @ local if node in parent else local
    inverse_bind = accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_matrix = np.stack([world[n] for n in skin.joints]) @ inverse_bind  # (J, 4, 4)
    attributes = gltf.meshes[0].primitives[0].attributes
    rest = accessor(gltf, attributes.POSITION).astype(np.float64)
    joints = accessor(gltf, attributes.JOINTS_0).astype(np.int64)  # (V, 4)
    weights = accessor(gltf, attributes.WEIGHTS_0).astype(np.float64)  # (V, 4)
    homogeneous = np.concatenate([rest, np.ones((len(rest), 1))], axis=1)  # (V, 4)
    # (V, 4 influences, 4, 4) @ (V, 1, 4, 1) -> (V, 4, 4, 1): each influence's posed vertex
    posed = (joint_matrix[joints] @ homogeneous[:, None, :, None])[..., :3, 0]
    vertices = np.einsum("vk,vkc->vc", weights, posed)
    return vertices, np.stack([world[n][:3, 3] for n in skin.joints])


@pytest.mark.parametrize(
    ("gender", "lod", "clip", "frame"),
    [("female", 0, "walk", 7), ("neutral", 1, "sit", 40), ("male", 0, "run", 3)],
)
def test_the_glb_skinned_the_gltf_way_is_smpls_body_at_the_clips_frame(gender, lod, clip, frame):
    model, library = synth_body(gender, lod), synth_library()
    gltf = gl.GLTF2.load_from_bytes(b"".join(body_glb(model, library).save_to_bytes()))
    vertices, joints = gltf_skin(gltf, clip, frame)
    source = next(c for c in library.clips if c.name == clip)
    pose, trans = source.poses[frame].astype(np.float64), source.trans[frame].astype(np.float64)
    body = model.forward(np.zeros((1, 10)), pose[1:].reshape(1, -1), pose[:1], trans[None])
    np.testing.assert_allclose(joints, body.joints[0], atol=2e-5)
    # SMPL without its pose correctives is linear blend skinning by the kernel's own transforms
    transforms = model.joint_transforms(pose[None].astype(np.float32))[0]  # (J, 3, 4)
    rest = np.concatenate([model.v_template, np.ones((model.num_vertices, 1))], axis=1)
    blended = np.einsum("vj,jrc->vrc", model.weights, transforms)  # (V, 3, 4)
    lbs = np.einsum("vrc,vc->vr", blended, rest) + trans
    np.testing.assert_allclose(vertices, lbs, atol=2e-5)
    offset = np.linalg.norm(vertices - body.vertices[0], axis=1)
    assert offset.max() < CORRECTIVE_M, f"the correctives moved a vertex {offset.max():.4f} m"


def test_the_skeleton_is_smpls_joint_order_and_parents_and_each_clip_loops():
    model, library = synth_body("neutral", 1), synth_library()
    gltf = body_glb(model, library)
    skin = gltf.skins[0]
    assert [gltf.nodes[n].name for n in skin.joints] == list(JOINT_NAMES)
    parent = {child: i for i, n in enumerate(gltf.nodes) for child in n.children}
    parents = [skin.joints.index(parent[n]) if n in parent else -1 for n in skin.joints]
    assert parents == list(PARENTS)
    assert [a.name for a in gltf.animations] == [c.name for c in library.clips]
    gltf = gl.GLTF2.load_from_bytes(b"".join(gltf.save_to_bytes()))
    for anim, clip in zip(gltf.animations, library.clips, strict=True):
        times = accessor(gltf, anim.samplers[0].input)[:, 0]
        np.testing.assert_allclose(times[-1], clip.period_s, rtol=1e-6)
        assert len(times) == clip.num_frames + 1 and np.all(np.diff(times) > 0)
        assert len(anim.channels) == len(JOINT_NAMES) + 1
        for channel in anim.channels[: len(JOINT_NAMES)]:
            keys = accessor(gltf, anim.samplers[channel.sampler].output)
            assert abs(abs(np.dot(keys[0], keys[-1])) - 1) < 1e-6, "the loop closes"


def test_twin_export_assets_writes_every_body(tmp_path, capsys):
    assert main(["export-assets", str(tmp_path / "assets")]) == 0
    out = capsys.readouterr().out
    for gender in GENDERS:
        for lod in LODS:
            path = tmp_path / "assets" / asset_filename(gender, lod)
            assert path.read_bytes()[:4] == b"glTF" and str(path) in out


def test_an_output_path_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("a file, not a folder")
    assert main(["export-assets", str(target)]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and "Traceback" not in err
    assert target.read_text() == "a file, not a folder"
