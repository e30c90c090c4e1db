"""``twin export-assets``: the synthesized bodies and clips as glTF 2.0 binary files (``.glb``).

One file per sex and level of detail, ``smpl_<sex>_lod<k>.glb``, each holding:

- the body mesh at its template shape (betas 0): ``POSITION``, ``NORMAL``, ``JOINTS_0`` and
  ``WEIGHTS_0`` (SMPL's skin weights, at most 4 influences a vertex, normalized);
- the skeleton: SMPL's 24 joints as nodes named after ``kernels.smpl.JOINT_NAMES``, nested by
  ``PARENTS`` (docs/protocol.md section 14), each at its rest offset from its parent, and a skin
  whose ``inverseBindMatrices`` undo the rest joint positions (the rest pose is SMPL's T-pose);
- every clip of the library as one animation named after it (``components.pose.CLIPS``, in
  the order of their codes): a
  rotation channel per joint (quaternions) and the pelvis translation (the rest pelvis plus the
  clip's root translation, SMPL ``trans``), keyed at the clip's frame rate, with one key more
  that closes the loop (the first pose again, the root advanced by one stride).

Frames: SMPL's body frame is y up, z forward, x to the body's left, right-handed, metres, which
is glTF's own (glTF 2.0 section 3.4: +Y up, +Z forward, -X right), so nothing is converted.
Skinning a glTF viewer does (joint matrix = joint world matrix x inverse bind matrix, linear
blend) is SMPL's linear blend skinning without the pose correctives (smplx ``lbs``).

The container is written with pygltflib; the files pass the Khronos glTF validator
(``tests/test_gltf_export.py``). Glossary: V vertices, F faces, J = 24 joints, T frames.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygltflib as gl

from synthtwin.engine.synth.body_model import GENDERS, LODS, synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.kernels.clips import Clip, ClipLibrary
from synthtwin.kernels.smpl import JOINT_NAMES, BodyModel

__all__ = ["ExportedAsset", "asset_filename", "body_glb", "export_assets", "register"]

MAX_INFLUENCES = 4
"""Joint influences a vertex carries (``JOINTS_0`` / ``WEIGHTS_0``: one VEC4 each)."""
ALIGN_BYTES = 4
"""glTF 2.0 section 3.6.2.4: buffer views and accessors aligned to their component size."""
GENERATOR = "SynthTwin twin export-assets (pygltflib)"
COMPONENT_TYPES = {
    np.dtype(np.float32): gl.FLOAT,
    np.dtype(np.uint8): gl.UNSIGNED_BYTE,
    np.dtype(np.uint16): gl.UNSIGNED_SHORT,
    np.dtype(np.uint32): gl.UNSIGNED_INT,
}
"""glTF accessor component types of the numpy dtypes written."""
LINEAR = "LINEAR"
"""Animation interpolation: slerp for rotations, linear for the root (glTF 2.0 section 3.11)."""
SKIN_RGBA = [0.8, 0.62, 0.52, 1.0]
"""The body's one material: a plain skin tone, linear RGBA."""


@dataclass(frozen=True)
class ExportedAsset:
    """One written file: its path, what it holds, its size in bytes."""

    path: Path
    gender: str
    lod: int
    num_vertices: int
    num_animations: int
    size_bytes: int


def asset_filename(gender: str, lod: int) -> str:
    """``smpl_<gender>_lod<lod>.glb``."""
    return f"smpl_{gender}_lod{lod}.glb"


class _Blob:
    """The binary buffer and its views and accessors, appended one array at a time."""

    def __init__(self, gltf: gl.GLTF2) -> None:
        self.gltf = gltf
        self.data = bytearray()

    def add(
        self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False
    ) -> int:
        """Append ``array`` (rows of one element each) as a view and accessor; its index.

        Args:
            array: ``(count, ...)`` float32, uint8, uint16 or uint32, C order.
            kind: the accessor type: ``SCALAR``, ``VEC3``, ``VEC4``, ``MAT4``.
            target: the buffer view's target (vertex attributes, indices) or None.
            bounds: write ``min`` and ``max`` (POSITION and animation inputs need them).
        """
        raw = np.ascontiguousarray(array).tobytes()
        self.data += b"\0" * (-len(self.data) % ALIGN_BYTES)
        self.gltf.bufferViews.append(
            gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw), target=target)
        )
        self.data += raw
        rows = array.reshape(len(array), -1)
        self.gltf.accessors.append(
            gl.Accessor(
                bufferView=len(self.gltf.bufferViews) - 1,
                componentType=COMPONENT_TYPES[array.dtype],
                count=len(array),
                type=kind,
                min=rows.min(axis=0).tolist() if bounds else None,
                max=rows.max(axis=0).tolist() if bounds else None,
            )
        )
        return len(self.gltf.accessors) - 1

    def finish(self) -> None:
        self.data += b"\0" * (-len(self.data) % ALIGN_BYTES)
        self.gltf.buffers.append(gl.Buffer(byteLength=len(self.data)))
        self.gltf.set_binary_blob(bytes(self.data))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V, 3) float32`` unit normals: the area-weighted sum of each vertex's face normals.

    Args:
        vertices: ``(V, 3)`` metres. faces: ``(F, 3)`` vertex indices, counter-clockwise outward.
    """
    corners = vertices[faces]  # (F, 3 corners, 3)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.where(length > 0, length, 1.0)).astype(np.float32)


def skin_influences(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vertex's 4 largest skin weights, renormalized: ``(V, 4) uint8`` joint indices and
    ``(V, 4) float32`` weights summing to 1 (unused slots: joint 0, weight 0).

    Args:
        weights: ``(V, J)`` the model's skin weights (SMPL: at most 4 non-zero a vertex).
    """
    order = np.argsort(-weights, axis=1, kind="stable")[:, :MAX_INFLUENCES]  # (V, 4)
    chosen = np.take_along_axis(weights, order, axis=1)
    chosen = chosen / chosen.sum(axis=1, keepdims=True)
    joints = np.where(chosen > 0, order, 0).astype(np.uint8)
    return joints, chosen.astype(np.float32)


def rest_joints(model: BodyModel) -> np.ndarray:
    """``(J, 3) float64`` the template's joints (betas 0), metres: ``J_regressor @ v_template``."""
    return model.J_regressor @ model.v_template  # (J, V) @ (V, 3)


def _mesh(gltf: gl.GLTF2, blob: _Blob, model: BodyModel) -> None:
    vertices = model.v_template.astype(np.float32)
    index_type = np.uint16 if len(vertices) <= np.iinfo(np.uint16).max else np.uint32
    joints, weights = skin_influences(model.weights)
    attributes = gl.Attributes(
        POSITION=blob.add(vertices, gl.VEC3, gl.ARRAY_BUFFER, bounds=True),
        NORMAL=blob.add(vertex_normals(model.v_template, model.faces), gl.VEC3, gl.ARRAY_BUFFER),
        JOINTS_0=blob.add(joints, gl.VEC4, gl.ARRAY_BUFFER),
        WEIGHTS_0=blob.add(weights, gl.VEC4, gl.ARRAY_BUFFER),
    )
    faces = model.faces.reshape(-1).astype(index_type)  # (3 F,)
    indices = blob.add(faces, gl.SCALAR, gl.ELEMENT_ARRAY_BUFFER)
    look = gl.PbrMetallicRoughness(
        baseColorFactor=SKIN_RGBA, metallicFactor=0.0, roughnessFactor=0.8
    )
    gltf.materials.append(gl.Material(name="skin", pbrMetallicRoughness=look))
    primitive = gl.Primitive(attributes=attributes, indices=indices, material=0, mode=gl.TRIANGLES)
    gltf.meshes.append(gl.Mesh(name="body", primitives=[primitive]))


def _skeleton(gltf: gl.GLTF2, blob: _Blob, model: BodyModel) -> list[int]:
    """Joint nodes (first node index = joint 0) and the skin; the joint node indices."""
    joints = rest_joints(model)
    first = len(gltf.nodes)
    for j, name in enumerate(JOINT_NAMES):
        parent = model.parents[j]
        offset = joints[j] - (joints[parent] if parent >= 0 else 0.0)
        gltf.nodes.append(gl.Node(name=name, translation=offset.astype(np.float32).tolist()))
        if parent >= 0:
            gltf.nodes[first + parent].children.append(first + j)
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))  # (J, 4, 4)
    inverse_bind[:, :3, 3] = -joints
    # glTF matrices are column-major: write each transposed
    ibm = blob.add(np.ascontiguousarray(inverse_bind.transpose(0, 2, 1)), gl.MAT4)
    nodes = list(range(first, first + len(joints)))
    gltf.skins.append(gl.Skin(name="smpl", inverseBindMatrices=ibm, joints=nodes, skeleton=first))
    return nodes


def loop_keys(clip: Clip, quats: np.ndarray, pelvis_m: np.ndarray) -> tuple[np.ndarray, ...]:
    """A clip's keys, one loop closed by a key more: times ``(T + 1,) float32`` seconds,
    rotations ``(T + 1, J, 4) float32`` (x, y, z, w as glTF orders them; each joint's keys in
    one hemisphere so interpolation takes the short way), pelvis translations ``(T + 1, 3)
    float32`` metres (rest pelvis + ``trans``; the last key advanced by the clip's stride).

    Args:
        clip: the clip (its ``trans`` and frame rate).
        quats: ``(T, J, 4)`` its rotations (w, x, y, z). pelvis_m: ``(3,)`` the rest pelvis.
    """
    frames = clip.num_frames
    times = (np.arange(frames + 1) / clip.framerate_hz).astype(np.float32)
    rotations = np.concatenate([quats, quats[:1]])[..., [1, 2, 3, 0]].astype(np.float64)
    for t in range(1, frames + 1):  # (J,) dot with the previous key
        flip = np.einsum("jk,jk->j", rotations[t], rotations[t - 1]) < 0
        rotations[t, flip] *= -1
    rotations /= np.linalg.norm(rotations, axis=-1, keepdims=True)
    trans = clip.trans.astype(np.float64)
    stride = 2 * trans[-1] - trans[-2] - trans[0] if frames > 1 else np.zeros(3)
    stride[1] = 0.0  # one loop advances along the ground only
    root = np.concatenate([trans, (trans[0] + stride)[None]]) + pelvis_m
    return times, rotations.astype(np.float32), root.astype(np.float32)


def _animation(gltf: gl.GLTF2, blob: _Blob, nodes: list[int], keys: tuple, name: str) -> None:
    times, rotations, root = keys
    samplers, channels = [], []
    time_accessor = blob.add(times, gl.SCALAR, bounds=True)
    tracks = [(j, "rotation", rotations[:, j], gl.VEC4) for j in range(len(nodes))]
    tracks.append((0, "translation", root, gl.VEC3))
    for joint, path, values, kind in tracks:
        output = blob.add(np.ascontiguousarray(values), kind)
        target = gl.AnimationChannelTarget(node=nodes[joint], path=path)
        samplers.append(
            gl.AnimationSampler(input=time_accessor, output=output, interpolation=LINEAR)
        )
        channels.append(gl.AnimationChannel(sampler=len(samplers) - 1, target=target))
    gltf.animations.append(gl.Animation(name=name, samplers=samplers, channels=channels))


def body_glb(model: BodyModel, library: ClipLibrary) -> gl.GLTF2:
    """One body with its skeleton and every clip of ``library`` as an animation.

    Scene: a node ``body`` holding the skinned mesh and the skeleton's root ``pelvis`` beside it.

    Args:
        model: the body (its template shape is the mesh).
        library: the clips, in the order of their codes (each animation is named after its clip).
    """
    gltf = gl.GLTF2(asset=gl.Asset(version="2.0", generator=GENERATOR))
    blob = _Blob(gltf)
    _mesh(gltf, blob, model)
    nodes = _skeleton(gltf, blob, model)
    gltf.nodes.append(gl.Node(name="body", mesh=0, skin=0))
    pelvis_m = rest_joints(model)[0]
    for clip, quats in zip(library.clips, library.quats, strict=True):
        _animation(gltf, blob, nodes, loop_keys(clip, quats, pelvis_m), clip.name)
    gltf.scenes.append(gl.Scene(name="smpl", nodes=[len(gltf.nodes) - 1, nodes[0]]))
    gltf.scene = 0
    blob.finish()
    return gltf


def export_assets(
    out_dir: Path,
    genders: tuple[str, ...] = GENDERS,
    lods: tuple[int, ...] = LODS,
    data_dir: Path | None = None,
) -> list[ExportedAsset]:
    """Write ``smpl_<gender>_lod<k>.glb`` for each gender and LOD into ``out_dir`` (made if
    missing; files there of the same names are replaced).

    Args:
        out_dir: the folder to write. genders, lods: which bodies (default: all).
        data_dir: the data folder holding the synthesized body cache (None: ``$SYNTHTWIN_DATA``,
            else ``./data``).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is not a folder; name a folder to write the .glb files into")
    out_dir.mkdir(parents=True, exist_ok=True)
    library = synth_library()
    written = []
    for gender in genders:
        for lod in lods:
            model = synth_body(gender, lod, data_dir)
            path = out_dir / asset_filename(gender, lod)
            glb = b"".join(body_glb(model, library).save_to_bytes())
            _write_atomic(path, glb)
            written.append(
                ExportedAsset(path, gender, lod, model.num_vertices, len(library.clips), len(glb))
            )
    return written


def _write_atomic(path: Path, data: bytes) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_bytes(data)
    staging.replace(path)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``twin export-assets OUT_DIR`` to the ``twin`` command line."""
    parser = commands.add_parser(
        "export-assets",
        help="write the body meshes (per sex and LOD, skinned) and every clip as glTF 2.0 .glb",
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to write into")
    parser.add_argument("--data", type=Path, default=None, help="data folder (body cache)")


def _run(args: argparse.Namespace) -> int:
    for asset in export_assets(args.out_dir, data_dir=args.data):
        print(
            f"{asset.path}: {asset.gender} LOD {asset.lod}, {asset.num_vertices} vertices, "
            f"{asset.num_animations} clips, {asset.size_bytes / 1024:.0f} KiB"
        )
    return 0


COMMANDS = {"export-assets": _run}
