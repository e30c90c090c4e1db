"""Skinning system: meshes only for twins with a MeshRequest, shaped and posed as their state;
numba on the CPU backend, Warp on CUDA (its code checked on Warp's CPU device here, on the GPU
where there is one)."""

import numpy as np
import pytest
import warp as wp

from synthtwin.components.mesh import Meshes, MeshRequest
from synthtwin.engine.backend import Backend, cuda_unavailable_reason
from synthtwin.engine.schedule import Tick
from synthtwin.engine.synth.body_model import DATA_ENV_VAR, synth_body
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.systems.skinning import (
    NumbaBodySkinner,
    SkinningSystem,
    WarpBodySkinner,
    warp_device_for,
)

WARP_TOL_M = 1e-5
"""Warp and numba skin in float32 with different summation orders (both match smplx to 1e-5 m,
``tests/test_skinning_kernels.py``)."""


def _cuda_reason() -> str | None:
    reason = cuda_unavailable_reason()
    if reason is None and wp.get_cuda_device_count() == 0:
        reason = "Warp sees no CUDA device"
    return reason


CUDA_REASON = _cuda_reason()
needs_cuda = pytest.mark.skipif(CUDA_REASON is not None, reason=f"needs a CUDA GPU: {CUDA_REASON}")


@pytest.fixture
def sim(make_simulation, tmp_path_factory, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path_factory.getbasetemp() / "data"))
    sim = make_simulation(twins=40, seed=3)
    sim.loop.run_ticks(8 * 60)
    return sim


def test_only_requested_twins_are_skinned_at_their_level_of_detail(sim):
    w = sim.world
    w.add_sparse(3, MeshRequest(lod=1))
    w.add_sparse(9, MeshRequest(lod=1))
    w.add_sparse(5, MeshRequest(lod=0))
    sim.loop.step()
    meshes = w.resource(Meshes).by_lod
    assert sorted(meshes) == [0, 1]
    assert meshes[1].ids.tolist() == [3, 9] and meshes[1].vertices.shape == (2, 876, 3)
    assert meshes[0].ids.tolist() == [5] and meshes[0].vertices.shape == (1, 6890, 3)
    w.remove_sparse(5, MeshRequest)
    sim.loop.step()
    assert sorted(w.resource(Meshes).by_lod) == [1]


def test_a_mesh_is_the_twins_own_shape_in_its_current_pose(sim):
    w = sim.world
    w.add_sparse(4, MeshRequest(lod=1))
    sim.loop.step()
    batch = w.resource(Meshes).by_lod[1]
    row = w.row_of(4)
    quat = w.resource(ClipLibrary).poses(
        w["clip"][[row]], w["previous_clip"][[row]], w["clip_phase"][[row]],
        w["clip_blend"][[row]],
    )  # fmt: skip
    pose = quat_to_axis_angle(quat).reshape(1, -1)
    sex = ("female", "male")[int(w["sex"][row])]
    model = synth_body(sex, lod=1)
    expected = model.forward(w["betas"][[row]], pose[:, 3:], pose[:, :3], np.zeros((1, 3)))
    np.testing.assert_allclose(batch.vertices[0], expected.vertices[0], atol=1e-5)
    np.testing.assert_allclose(batch.position_m[0], w["position_m"][row])


def test_a_despawned_twin_leaves_no_mesh(sim):
    w = sim.world
    w.add_sparse(6, MeshRequest(lod=1))
    w.add_sparse(7, MeshRequest(lod=1))
    sim.despawn([6])
    sim.loop.step()
    assert w.resource(Meshes).by_lod[1].ids.tolist() == [7]


def _skin_with(system, world, tick: Tick) -> dict[int, np.ndarray]:
    """Vertices by level of detail after one run of ``system``."""
    system.run(tick)
    return {lod: batch.vertices.copy() for lod, batch in world.resource(Meshes).by_lod.items()}


def _request(world, count: int, lod: int) -> None:
    """Mesh requests, replacing any, for the first ``count`` twins of each sex."""
    for twin_id, _ in world.query_sparse(MeshRequest):
        world.remove_sparse(twin_id, MeshRequest)
    for code in (0, 1):
        for row in np.flatnonzero(world["sex"] == code)[:count]:
            world.add_sparse(int(world.ids[row]), MeshRequest(lod=lod))


def test_the_warp_path_skins_as_the_numba_path(sim):
    """The CUDA path's code on Warp's CPU device: batches that grow its arrays, then shrink
    within them, at both levels of detail and for both sexes."""
    w = sim.world
    numba = SkinningSystem(w, synth_body)
    warp = SkinningSystem(w, synth_body, warp_device="cpu")
    warp.warmup()
    tick = Tick(index=0, dt_s=60.0, t_s=0.0, hour_of_day=8.0, weekday=0, day_index=0,
                end_day_index=0)  # fmt: skip
    for count, lod in ((1, 1), (5, 1), (2, 1), (2, 0)):
        _request(w, count, lod)
        want = _skin_with(numba, w, tick)
        got = _skin_with(warp, w, tick)
        assert got.keys() == want.keys() == {lod}
        assert got[lod].shape == (2 * count, 876 if lod else 6890, 3)
        np.testing.assert_allclose(got[lod], want[lod], atol=WARP_TOL_M)
    assert isinstance(warp.skinner("female", 0), WarpBodySkinner)
    assert isinstance(numba.skinner("female", 0), NumbaBodySkinner)


def test_the_backend_picks_the_skinner(sim):
    assert SkinningSystem(sim.world, synth_body).warp_device is None
    assert warp_device_for(Backend("cuda", np)) == "cuda"


@needs_cuda
def test_the_cuda_backend_skins_with_warp_on_the_gpu(make_simulation, tmp_path_factory,
                                                       monkeypatch):  # fmt: skip
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path_factory.getbasetemp() / "data"))
    sim = make_simulation(twins=40, seed=3, device="cuda")
    sim.loop.run_ticks(8 * 60)
    (system,) = (s for s in sim.schedule.systems if isinstance(s, SkinningSystem))
    assert system.warp_device == "cuda"
    w = sim.world
    _request(w, 3, 0)
    sim.loop.step()
    batch = w.resource(Meshes).by_lod[0]
    rows = w.rows_of(batch.ids)
    quat = w.resource(ClipLibrary).poses(
        w["clip"][rows], w["previous_clip"][rows], w["clip_phase"][rows], w["clip_blend"][rows]
    )
    pose = quat_to_axis_angle(quat)
    for code, sex in enumerate(("female", "male")):
        mine = w["sex"][rows] == code
        want = NumbaBodySkinner(synth_body(sex, lod=0)).skin(w["betas"][rows[mine]], pose[mine])
        np.testing.assert_allclose(batch.vertices[mine], want, atol=WARP_TOL_M)
