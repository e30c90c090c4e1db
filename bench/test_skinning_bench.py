"""Skinning 64 twins of a 6890-vertex SMPL-format body: smplx against our numba and Warp kernels.

The body is SynthTwin's synthesized model (``engine.synth.body_model.write_smpl_folder``, LOD 0,
neutral): SMPL's 6890 vertices and 24 joints, at most 4 skinning influences per vertex and local
pose correctives (~4 non-zero features per vertex), so the 4-influence, local-corrective path
computes exactly what smplx computes (``test_paths_agree_with_smplx``).

Group ``skinning-64x6890`` (one call = 64 twins, all on the CPU):

- ``smplx``: ``SMPL.forward`` (torch float32, no grad);
- ``*_per_call``: our full path, nothing cached across calls: shape blend, rest joints, Rodrigues,
  forward kinematics, pose correctives, skinning (numba; Warp on the CPU);
- ``*_cached``: the engine's path, shaped vertices and rest joints cached while betas hold;
- ``numba_dense_per_call``: the form a real SMPL file needs (dense correctives, all 24 weights);
- ``body_model_*``: the public ``BodyModel.forward`` (numpy in, fresh numpy arrays out, inputs
  checked), with the same betas every call (``_same_betas``: shape cached) or alternating between
  two sets (``_new_betas``: shape blended every call), side by side with ``smplx``.

Group ``fk-64``: Rodrigues and the joint chain alone. ``extra_info`` holds ``speedup_vs_smplx``
(smplx's best time over ours, measured in the same session) and ``ms_per_twin``.

GPU roofline (what a twin-vertex must move through DRAM; model data is shared by the batch and
read once per launch while L2, 50 MB on an H100, holds it):

- outputs: the posed vertex, 3 float32 = 12 B written;
- per-call path as two kernels: ``blend_shapes`` writes the shaped vertex (12 B), ``skin`` reads
  it (12 B) and writes the result (12 B): 36 B; cached path: 24 B (read shaped, write posed);
- model bytes per vertex: template 12, shapedirs 10 x 12 = 120, 4 influences 4 x (4 + 4) = 32,
  local corrective rows ~4 x (4 + 12) + 4 = 68: ~232 B, i.e. ~3.6 B per twin-vertex at B = 64;
- per twin (shared by its V vertices): 24 transforms x 48 B, 207 features x 4 B, ~2 KB: ~0.
- So ~40 B per twin-vertex per call (per-call path), ~26 B (cached), 12 B for a fused kernel.
  64 x 6890 = 441k twin-vertices x 40 B = 17.6 MB: ~5 us at 3.35 TB/s, below the launch overhead
  of five launches, hence graph capture (``WarpSkinner(record=True)``). At B = 4096: 1.13 GB per
  call, ~0.34 ms, ~80 G twin-vertices/s. Compute: ~100 FMA per twin-vertex, far from the bound.
- Real SMPL's dense correctives read 207 x 12 B = 2.5 KB per twin-vertex from L2 (the 17 MB
  ``posedirs`` stay resident): that form is bound by L2 bandwidth, not DRAM.

Run: ``pytest bench/test_skinning_bench.py --benchmark-enable``. With benchmarks disabled (the
project default) every test runs its function once, as a smoke test.
"""

from __future__ import annotations

import functools
import itertools
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import pytest
import smplx
import torch
import warp as wp
from smplx.lbs import batch_rigid_transform, batch_rodrigues

from synthtwin.engine.synth.body_model import write_smpl_folder
from synthtwin.kernels.numba import skinning as nb
from synthtwin.kernels.numba.skinning import NumbaSkinner, SkinningModel
from synthtwin.kernels.smpl import BodyModel, BodyOutput
from synthtwin.kernels.warp import skinning as wk
from synthtwin.kernels.warp.skinning import WarpSkinner

BATCH = 64
GROUP = "skinning-64x6890"
FK_GROUP = "fk-64"
SEED = 2026
POSE_SD_RAD = 0.4
TRANSL_SD_M = 5.0
SMPLX_ROUNDS = 15  # for the reference time behind speedup_vs_smplx
TOL_M = 1e-5


@pytest.fixture(scope="module")
def smpl_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_smpl_folder(folder)
    return folder


@pytest.fixture(scope="module")
def arrays(smpl_folder) -> dict[str, np.ndarray]:
    return pickle.loads((smpl_folder / "smpl" / "SMPL_NEUTRAL.pkl").read_bytes())


@pytest.fixture(scope="module")
def smpl(smpl_folder) -> smplx.SMPL:
    return smplx.create(str(smpl_folder), model_type="smpl", gender="neutral")


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``betas (B, 10)``, axis-angle ``pose (B, 24, 3)`` (rad), ``transl (B, 3)`` (m), float32."""
    rng = np.random.default_rng(SEED)
    return (
        rng.normal(0.0, 1.0, (BATCH, 10)).astype(np.float32),
        rng.normal(0.0, POSE_SD_RAD, (BATCH, 24, 3)).astype(np.float32),
        rng.normal(0.0, TRANSL_SD_M, (BATCH, 3)).astype(np.float32),
    )


def model(arrays: dict[str, np.ndarray], **options) -> SkinningModel:
    keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")
    return SkinningModel.from_arrays(
        *(arrays[k] for k in keys), arrays["kintree_table"][0], **options
    )


def local_model(arrays: dict[str, np.ndarray]) -> SkinningModel:
    return model(arrays, correctives="local", max_influences=4)


def smplx_forward(smpl: smplx.SMPL, inputs) -> Callable[[], smplx.utils.SMPLOutput]:
    betas, pose, transl = (torch.from_numpy(a) for a in inputs)

    def forward():
        with torch.no_grad():
            return smpl(
                betas=betas,
                global_orient=pose[:, 0],
                body_pose=pose[:, 1:].reshape(BATCH, -1),
                transl=transl,
            )

    return forward


def best_seconds(fn: Callable[[], object], rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.fixture(scope="module")
def smplx_seconds(smpl, inputs) -> Callable[[], float]:
    """smplx's best time for the batch, measured on first use (benchmarks enabled only)."""
    return functools.cache(lambda: best_seconds(smplx_forward(smpl, inputs), SMPLX_ROUNDS))


def record(benchmark, reference_s: Callable[[], float] | None) -> None:
    """Threads, and our best time against the reference's once the benchmark has run."""
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    benchmark.extra_info["numba_threads"] = numba.get_num_threads()
    if benchmark.disabled or benchmark.stats is None:
        return
    best_s = benchmark.stats.stats.min
    benchmark.extra_info["ms_per_twin"] = 1e3 * best_s / BATCH
    if reference_s is not None:
        benchmark.extra_info["speedup_vs_smplx"] = reference_s() / best_s


def run_forward(benchmark, skinner, inputs, reference_s: Callable[[], float]) -> None:
    skinner.forward(*inputs)  # compiled or loaded from cache; threads started; shape cached
    benchmark(skinner.forward, *inputs)
    record(benchmark, reference_s)


def test_smplx(benchmark, smpl, inputs) -> None:
    benchmark.group = GROUP
    forward = smplx_forward(smpl, inputs)
    forward()
    benchmark(forward)
    record(benchmark, None)


def test_numba_per_call(benchmark, arrays, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    skinner = NumbaSkinner(local_model(arrays), BATCH, cache_shape=False)
    run_forward(benchmark, skinner, inputs, smplx_seconds)


def test_warp_cpu_per_call(benchmark, arrays, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    skinner = WarpSkinner(local_model(arrays), BATCH, "cpu", cache_shape=False, record=True)
    run_forward(benchmark, skinner, inputs, smplx_seconds)


def test_numba_cached(benchmark, arrays, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    skinner = NumbaSkinner(local_model(arrays), BATCH, cache_shape=True)
    run_forward(benchmark, skinner, inputs, smplx_seconds)


def test_warp_cpu_cached(benchmark, arrays, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    skinner = WarpSkinner(local_model(arrays), BATCH, "cpu", cache_shape=True, record=True)
    run_forward(benchmark, skinner, inputs, smplx_seconds)


def test_numba_dense_per_call(benchmark, arrays, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    skinner = NumbaSkinner(model(arrays), BATCH, cache_shape=False)
    run_forward(benchmark, skinner, inputs, smplx_seconds)


@pytest.fixture(scope="module")
def body(smpl_folder) -> BodyModel:
    return BodyModel.load(smpl_folder / "smpl" / "SMPL_NEUTRAL.pkl")


def body_forward(body: BodyModel, *calls) -> Callable[[], BodyOutput]:
    """``BodyModel.forward`` of each call's ``(betas, pose, transl)`` in turn, one per run."""
    arguments = [
        (betas, pose[:, 1:].reshape(BATCH, -1), pose[:, 0], transl) for betas, pose, transl in calls
    ]
    turns = itertools.cycle(arguments)

    def forward() -> BodyOutput:
        return body.forward(*next(turns))

    return forward


def test_body_model_same_betas(benchmark, body, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    forward = body_forward(body, inputs)
    forward()
    benchmark(forward)
    record(benchmark, smplx_seconds)


def test_body_model_new_betas(benchmark, body, inputs, smplx_seconds) -> None:
    benchmark.group = GROUP
    betas, pose, transl = inputs
    forward = body_forward(body, inputs, (betas[::-1].copy(), pose, transl))
    forward()
    benchmark(forward)
    record(benchmark, smplx_seconds)


def test_paths_agree_with_smplx(arrays, smpl, body, inputs) -> None:
    """Every timed path computes smplx's vertices and (first 24) joints on this model."""
    want = smplx_forward(smpl, inputs)()
    public = body_forward(body, inputs)()
    assert np.abs(public.vertices - want.vertices.numpy()).max() < TOL_M
    assert np.abs(public.joints - want.joints.numpy()[:, :24]).max() < TOL_M
    for skinner in (
        NumbaSkinner(local_model(arrays), BATCH, cache_shape=False),
        NumbaSkinner(model(arrays), BATCH),
        WarpSkinner(local_model(arrays), BATCH, "cpu", cache_shape=False, record=True),
    ):
        out = skinner.forward(*inputs)
        vertices, joints = (
            a.numpy() if isinstance(a, wp.array) else a for a in (out.vertices, out.joints)
        )
        assert np.abs(vertices - want.vertices.numpy()).max() < TOL_M
        assert np.abs(joints - want.joints.numpy()[:, :24]).max() < TOL_M


@pytest.fixture(scope="module")
def fk_inputs(arrays, inputs) -> dict[str, np.ndarray]:
    """The batch's pose, rest joints ``(B, J, 3)`` and transl, float32."""
    betas, pose, transl = inputs
    m = model(arrays)
    rest = m.joint_template + np.einsum("jcl,bl->bjc", m.joint_shapedirs, betas)
    return {"pose": pose, "rest": rest.astype(np.float32), "transl": transl, "parents": m.parents}


@pytest.fixture(scope="module")
def fk_smplx_seconds(fk_inputs) -> Callable[[], float]:
    """smplx's best time for the batch's kinematics, measured on first use."""
    return functools.cache(lambda: best_seconds(smplx_fk(fk_inputs), SMPLX_ROUNDS))


def smplx_fk(fk_inputs) -> Callable[[], object]:
    pose, rest = torch.from_numpy(fk_inputs["pose"]), torch.from_numpy(fk_inputs["rest"])
    parents = torch.from_numpy(fk_inputs["parents"].astype(np.int64))

    def fk():
        with torch.no_grad():
            rotations = batch_rodrigues(pose.reshape(-1, 3)).reshape(BATCH, -1, 3, 3)
            return batch_rigid_transform(rotations, rest, parents)

    return fk


def test_fk_smplx(benchmark, fk_inputs) -> None:
    benchmark.group = FK_GROUP
    benchmark(smplx_fk(fk_inputs))
    record(benchmark, None)


def test_fk_numba(benchmark, fk_inputs, fk_smplx_seconds) -> None:
    benchmark.group = FK_GROUP
    joints = len(fk_inputs["parents"])
    rotations = np.zeros((joints, 3, 3, BATCH), np.float32)
    rest_t = np.ascontiguousarray(fk_inputs["rest"].transpose(1, 2, 0))
    transl_t = np.ascontiguousarray(fk_inputs["transl"].T)
    transforms = np.zeros((joints, 12, BATCH), np.float32)
    posed = np.zeros((joints, 3, BATCH), np.float32)
    feature = np.zeros((9 * (joints - 1), BATCH), np.float32)

    def fk():
        nb.rodrigues(fk_inputs["pose"], rotations)
        nb.forward_kinematics(
            rotations, rest_t, fk_inputs["parents"], transl_t, transforms, posed, feature
        )

    fk()
    benchmark(fk)
    record(benchmark, fk_smplx_seconds)


def test_fk_warp_cpu(benchmark, fk_inputs, fk_smplx_seconds) -> None:
    benchmark.group = FK_GROUP
    joints = len(fk_inputs["parents"])
    axis_angle = wp.array(fk_inputs["pose"], dtype=wp.vec3)
    rotations = wp.zeros((BATCH, joints), dtype=wp.mat33)
    fk_in = [
        rotations,
        wp.array(fk_inputs["rest"], dtype=wp.vec3),
        wp.array(fk_inputs["parents"], dtype=wp.int32),
        wp.array(fk_inputs["transl"], dtype=wp.vec3),
    ]
    fk_out = [
        wp.zeros((BATCH, joints), dtype=wk.mat34),
        wp.zeros((BATCH, joints), dtype=wp.vec3),
        wp.zeros((BATCH, 9 * (joints - 1)), dtype=wp.float32),
    ]

    def fk():
        wp.launch(wk.rodrigues, (BATCH, joints), inputs=[axis_angle], outputs=[rotations])
        wp.launch(wk.forward_kinematics, BATCH, inputs=fk_in, outputs=fk_out)

    fk()
    benchmark(fk)
    record(benchmark, fk_smplx_seconds)
