"""Skinning system: meshes only for twins with a MeshRequest, shaped and posed as their state."""

import numpy as np
import pytest

from synthtwin.components.mesh import Meshes, MeshRequest
from synthtwin.engine.synth.body_model import DATA_ENV_VAR, synth_body
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary


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
