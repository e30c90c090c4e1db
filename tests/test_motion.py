"""Motion clips: the quaternion kernels, the synthesized clips (seamless loops, published gait
ranges, planted feet) and the AMASS loader with its exact errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from synthtwin.components.pose import CLIPS
from synthtwin.engine.synth.body_model import JOINT_NAMES, synth_body
from synthtwin.engine.synth.motion import (
    CLIP_FRAMERATE_HZ,
    IDLE_FRAMES,
    clip_pose,
    root_motion,
    stride_length_m,
    synth_clip,
    synth_library,
    write_clips,
)
from synthtwin.kernels.animation import (
    axis_angle_to_quat,
    blend_poses,
    quat_to_axis_angle,
    sample_clip,
    slerp,
)
from synthtwin.kernels.clips import Clip, ClipFileError, clip_arrays, load_clip
from synthtwin.kernels.smpl import BodyModel

J = JOINT_NAMES.index
RNG = np.random.default_rng(5)
GAIT_STANCE_MIDDLE = {"walk": (0.15, 0.45), "run": (0.08, 0.30)}
"""Middle of the left foot's stance (fractions of the cycle): walk toe-off 62 %, run 39 %."""
FOOT_SLIDE_MAX_M = 0.02
FLOOR_SINK_MAX_M = 0.01


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {path.stem: path for path in write_clips(folder)}


@pytest.fixture(scope="module")
def clips(clip_files) -> dict[str, Clip]:
    return {name: load_clip(path) for name, path in clip_files.items()}


@pytest.fixture(scope="module")
def body(tmp_path_factory) -> BodyModel:
    return synth_body(data_dir=tmp_path_factory.mktemp("data"))


def posed(body: BodyModel, clip: Clip, frames: np.ndarray):
    """The body's output at some frames of a clip, placed by its ``trans``."""
    poses = clip.poses[frames].reshape(len(frames), -1)
    betas = np.zeros((len(frames), 10))
    return body.forward(betas, poses[:, 3:], poses[:, :3], clip.trans[frames])


def random_quats(shape: tuple[int, ...]) -> np.ndarray:
    quats = RNG.normal(size=(*shape, 4))
    return quats / np.linalg.norm(quats, axis=-1, keepdims=True)


def rotation_angle_deg(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Angle (degrees) of the rotation taking ``q0`` to ``q1``, sign of ``q`` ignored."""
    dot = np.clip(np.abs(np.sum(q0 * q1, axis=-1)), 0.0, 1.0)
    return np.degrees(2 * np.arccos(dot))


def euler_x_deg(clip: Clip, joint: str) -> np.ndarray:
    """``(T,)`` the joint's sagittal angle: its x angle in SMPL's intrinsic XYZ order."""
    return np.degrees(Rotation.from_rotvec(clip.poses[:, J(joint)]).as_euler("XYZ")[:, 0])


# ----------------------------------------------------------------------------------------------
# Kernels


def test_axis_angle_quat_round_trip_matches_scipy():
    axis_angle = RNG.normal(size=(50, 24, 3))
    axis_angle *= (RNG.uniform(0, np.pi - 1e-3, size=(50, 24, 1))) / np.linalg.norm(
        axis_angle, axis=-1, keepdims=True
    )
    quats = axis_angle_to_quat(axis_angle)
    assert quats.shape == (50, 24, 4)
    xyzw = Rotation.from_rotvec(axis_angle.reshape(-1, 3)).as_quat().reshape(50, 24, 4)
    np.testing.assert_allclose(quats, np.roll(xyzw, 1, axis=-1), atol=1e-12)
    np.testing.assert_allclose(quat_to_axis_angle(quats), axis_angle, atol=1e-9)
    np.testing.assert_allclose(quat_to_axis_angle(-quats), axis_angle, atol=1e-9)


def test_zero_and_tiny_rotations_are_exact():
    assert axis_angle_to_quat(np.zeros(3)).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert quat_to_axis_angle(np.array([1.0, 0.0, 0.0, 0.0])).tolist() == [0.0, 0.0, 0.0]
    tiny = np.array([1e-9, -2e-9, 3e-9])
    np.testing.assert_allclose(quat_to_axis_angle(axis_angle_to_quat(tiny)), tiny, rtol=1e-6)
    float32 = axis_angle_to_quat(np.zeros((2, 3), dtype=np.float32))
    assert float32.dtype == np.float32


def test_slerp_endpoints_and_midpoint():
    q0, q1 = random_quats((100,)), random_quats((100,))
    np.testing.assert_array_equal(slerp(q0, q1, 0.0), q0)
    assert np.all(rotation_angle_deg(slerp(q0, q1, 1.0), q1) < 1e-5)
    mid = slerp(q0, q1, 0.5)
    np.testing.assert_allclose(np.linalg.norm(mid, axis=-1), 1.0, atol=1e-12)
    half = rotation_angle_deg(q0, q1) / 2
    np.testing.assert_allclose(rotation_angle_deg(q0, mid), half, atol=1e-5)
    np.testing.assert_allclose(rotation_angle_deg(mid, q1), half, atol=1e-5)
    for t in (0.25, 0.7):
        expected = [
            Slerp([0, 1], Rotation.from_quat(np.roll([a, b], -1, axis=-1)))(t).as_quat()
            for a, b in zip(q0[:5], q1[:5], strict=True)
        ]
        ours = slerp(q0[:5], q1[:5], t)
        assert np.all(rotation_angle_deg(ours, np.roll(expected, 1, axis=-1)) < 1e-5)


def test_slerp_takes_the_shorter_path():
    q0 = np.array([1.0, 0.0, 0.0, 0.0])
    q1 = -axis_angle_to_quat(np.array([0.0, 0.0, np.radians(170.0)]))  # q1 on the far hemisphere
    mid = quat_to_axis_angle(slerp(q0, q1, 0.5))
    np.testing.assert_allclose(mid, [0.0, 0.0, np.radians(85.0)], atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 0.5), slerp(q0, -q1, 0.5), atol=1e-15)


def test_slerp_of_equal_quaternions_and_broadcast_weights():
    q = random_quats((8, 24))
    np.testing.assert_allclose(slerp(q, q, np.linspace(0, 1, 8)[:, None]), q, atol=1e-15)
    assert slerp(q, random_quats((8, 24)), np.full((8, 1), 0.3)).shape == (8, 24, 4)


def test_sample_clip_hits_frames_and_slerps_between():
    quats = random_quats((10, 24)).astype(np.float32)
    at_frames = sample_clip(quats, np.arange(10) / 10)
    np.testing.assert_allclose(at_frames, quats, atol=1e-6)
    np.testing.assert_array_equal(sample_clip(quats, np.array([0.0, 1.0, 2.0])), quats[[0, 0, 0]])
    between = sample_clip(quats, np.array([0.25 / 10, 9.5 / 10]))
    np.testing.assert_allclose(between[0], slerp(quats[0], quats[1], np.float32(0.25)), atol=1e-6)
    np.testing.assert_allclose(between[1], slerp(quats[9], quats[0], np.float32(0.5)), atol=1e-6)
    assert between.dtype == np.float32


def test_blend_poses_weights_zero_and_one_return_the_inputs():
    previous, current = random_quats((6, 24)), random_quats((6, 24))
    weight = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.5])
    blended = blend_poses(previous, current, weight)
    np.testing.assert_array_equal(blended[[0, 2]], previous[[0, 2]])
    assert np.all(rotation_angle_deg(blended[[1, 3]], current[[1, 3]]) < 1e-5)
    np.testing.assert_allclose(blended[4:], slerp(previous[4:], current[4:], 0.5), atol=1e-15)


# ----------------------------------------------------------------------------------------------
# Synthesized clips


def test_every_clip_is_written_once_and_loads(clip_files, clips, tmp_path):
    assert list(clip_files) == list(CLIPS)
    for name, clip in clips.items():
        assert clip.name == name
        assert clip.poses.shape == (clip.num_frames, 24, 3) and clip.poses.dtype == np.float32
        assert clip.trans.shape == (clip.num_frames, 3) and clip.trans.dtype == np.float32
        assert clip.framerate_hz == CLIP_FRAMERATE_HZ and clip.gender == "neutral"
        np.testing.assert_array_equal(clip.betas, np.zeros(10, dtype=np.float32))
        np.testing.assert_array_equal(clip.poses, synth_clip(name).poses)
    with np.load(clip_files["walk"]) as archive:
        assert sorted(archive.files) == ["betas", "gender", "mocap_framerate", "poses", "trans"]
        assert archive["poses"].shape == (clips["walk"].num_frames, 72)
    again = write_clips(tmp_path)
    assert [path.read_bytes() for path in again] == [p.read_bytes() for p in clip_files.values()]


def test_postural_loops_share_one_idle_period(clips):
    for name in ("stand", "sit", "lie", "eat", "desk_work", "exercise", "drive"):
        assert clips[name].num_frames == IDLE_FRAMES
        assert stride_length_m(name) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", CLIPS)
def test_loops_are_seamless(name, clips):
    ends = axis_angle_to_quat(clip_pose(name, np.array([0.0, 1.0])))  # (2, J, 4)
    assert np.all(rotation_angle_deg(ends[0], ends[1]) < 1.0)
    quats = axis_angle_to_quat(clips[name].poses)
    steps = rotation_angle_deg(quats, np.roll(quats, -1, axis=0))  # (T, J), last: the wrap
    assert np.all(steps[-1] <= 1.5 * steps[:-1].max(axis=0) + 1e-3)
    root = root_motion(name)
    advance = root.at(np.array([1.0]))[0] - root.at(np.array([0.0]))[0]
    np.testing.assert_allclose(advance, [0.0, 0.0, stride_length_m(name)], atol=1e-9)


def test_walk_angles_are_in_published_ranges(clips):
    """Winter 2009 / Perry & Burnfield 2010: hip +30 / -10, knee peak ~60 in swing, ankle
    +10 / -20 (degrees); shoulder swing about +-20."""
    walk = clips["walk"]
    swing = np.arange(walk.num_frames) / walk.num_frames >= 0.62
    knee = euler_x_deg(walk, "left_knee")
    assert 55 <= knee[swing].max() <= 70 and knee.min() < 8
    hip = -euler_x_deg(walk, "left_hip")
    assert 25 <= hip.max() <= 35 and -15 <= hip.min() <= -5
    ankle = -euler_x_deg(walk, "left_ankle")  # dorsiflexion
    assert 5 <= ankle.max() <= 15 and -25 <= ankle.min() <= -12
    shoulder = -euler_x_deg(walk, "left_shoulder")
    assert 15 <= shoulder.max() <= 25 and -25 <= shoulder.min() <= -10


def test_run_and_cycle_angles_are_in_published_ranges(clips):
    """Novacheck 1998: running knee ~90-100 in swing, hip to ~45; Bini et al. 2011: pedalling
    knee ~35-110, hip ~45-90."""
    run, cycle = clips["run"], clips["cycle"]
    swing = np.arange(run.num_frames) / run.num_frames >= 0.39
    assert euler_x_deg(run, "left_knee")[swing].max() > 80
    assert 40 <= (-euler_x_deg(run, "left_hip")).max() <= 55
    knee = euler_x_deg(cycle, "left_knee")
    assert 30 <= knee.min() <= 40 and 100 <= knee.max() <= 115
    hip = -euler_x_deg(cycle, "left_hip")
    assert 40 <= hip.min() <= 50 and 80 <= hip.max() <= 95


def test_anatomy_bends_the_right_way(body, clips):
    walk = posed(body, clips["walk"], np.array([0])).joints[0]
    assert walk[J("left_ankle"), 2] > walk[J("pelvis"), 2] > walk[J("right_ankle"), 2]
    assert walk[J("right_wrist"), 2] > walk[J("left_wrist"), 2]  # the arm opposite swings ahead
    sit = posed(body, clips["sit"], np.array([0])).joints[0]
    assert sit[J("left_knee"), 2] - sit[J("left_hip"), 2] > 0.3  # thighs forward, level
    assert abs(sit[J("left_knee"), 1] - sit[J("left_hip"), 1]) < 0.05
    assert sit[J("left_wrist"), 2] > sit[J("left_elbow"), 2]  # forearms forward
    lie = posed(body, clips["lie"], np.array([0])).joints[0]
    assert abs(lie[J("head"), 1] - lie[J("pelvis"), 1]) < 0.15  # lying flat
    assert lie[J("head"), 2] < lie[J("pelvis"), 2] - 0.4


@pytest.mark.parametrize("name", ["walk", "run"])
def test_stance_foot_does_not_slide(name, body, clips):
    clip = clips[name]
    phase = np.arange(clip.num_frames) / clip.num_frames
    start, end = GAIT_STANCE_MIDDLE[name]
    for side, shift in (("left", 0.0), ("right", 0.5)):
        frames = np.flatnonzero((phase >= start + shift) & (phase <= end + shift))
        ball = posed(body, clip, frames).joints[:, J(f"{side}_foot")]
        assert len(frames) >= 4
        assert np.linalg.norm(ball - ball[0], axis=1).max() < FOOT_SLIDE_MAX_M


def test_gait_strides_and_nominal_speeds():
    """Nominal speeds at the clips' cadences: walking ~1.1-1.4 m/s at ~105 steps/min (Perry &
    Burnfield 2010); jogging faster; the bike clip rolls its gear development per crank turn."""
    walk_speed = stride_length_m("walk") / synth_clip("walk").period_s
    run_speed = stride_length_m("run") / synth_clip("run").period_s
    assert 1.2 <= stride_length_m("walk") <= 1.6 and 1.0 <= walk_speed <= 1.5
    assert stride_length_m("run") > stride_length_m("walk") and 2.0 <= run_speed <= 3.5
    assert stride_length_m("cycle") == pytest.approx(3.4)


def test_feet_stay_on_the_floor(body, clips):
    for name, clip in clips.items():
        frames = np.arange(0, clip.num_frames, 1 if name in ("walk", "run") else 8)
        lowest_m = posed(body, clip, frames).vertices[..., 1].min()
        assert lowest_m > -FLOOR_SINK_MAX_M, name
        if name not in ("lie", "cycle", "run"):
            assert lowest_m < 0.012, name  # something touches the floor


# ----------------------------------------------------------------------------------------------
# Loader


def save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def amass_arrays(num_frames: int = 5, width: int = 156) -> dict[str, np.ndarray]:
    return {
        "poses": RNG.normal(scale=0.3, size=(num_frames, width)),
        "trans": RNG.normal(size=(num_frames, 3)),
        "betas": RNG.normal(size=16),
        "mocap_framerate": np.array(120.0),
        "gender": np.array("female"),
    }


def test_smplh_file_keeps_the_body_and_zeroes_the_hands(tmp_path):
    arrays = amass_arrays(width=156)
    clip = load_clip(save(tmp_path / "dance.npz", **arrays))
    assert clip.name == "dance" and clip.gender == "female" and clip.framerate_hz == 120.0
    flat = clip.poses.reshape(5, 72)
    np.testing.assert_allclose(flat[:, :66], arrays["poses"][:, :66], rtol=1e-6)
    assert np.all(flat[:, 66:] == 0)
    assert clip.betas.shape == (16,) and clip.trans.dtype == np.float32


def test_smplx_layout_and_optional_keys(tmp_path):
    arrays = amass_arrays(width=165)
    arrays["mocap_frame_rate"] = arrays.pop("mocap_framerate")
    del arrays["betas"], arrays["gender"]
    clip = load_clip(save(tmp_path / "x.npz", **arrays))
    assert clip.gender == "neutral" and clip.betas.shape == (10,)
    np.testing.assert_allclose(clip.poses.reshape(5, 72)[:, :66], arrays["poses"][:, :66], 1e-6)


def test_round_trip_of_a_synthesized_clip(tmp_path):
    walk = synth_clip("walk")
    clip = load_clip(save(tmp_path / "walk.npz", **clip_arrays(walk)))
    np.testing.assert_array_equal(clip.poses, walk.poses)
    np.testing.assert_array_equal(clip.trans, walk.trans)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError) as error:
        load_clip(path)
    assert str(error.value) == f"motion clip file not found: {path}"


def bad_file_message(tmp_path: Path, **changes) -> tuple[Path, str]:
    """Load a clip file with ``changes`` (None deletes a key); the ClipFileError message."""
    arrays = amass_arrays()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ClipFileError) as error:
        load_clip(path)
    return path, str(error.value)


def test_missing_keys(tmp_path):
    path, message = bad_file_message(tmp_path, trans=None)
    assert message == f"{path}: missing key 'trans' (found betas, gender, mocap_framerate, poses)"
    path, message = bad_file_message(tmp_path, mocap_framerate=None)
    assert message == (
        f"{path}: missing key 'mocap_framerate' or 'mocap_frame_rate' (found betas, gender, "
        "poses, trans)"
    )


def test_wrong_shapes(tmp_path):
    expected = (
        "expected (T, W) with T >= 2 frames and W one of 72 (SMPL), 156 (SMPL-H), 165 (SMPL-X)"
    )
    path, message = bad_file_message(tmp_path, poses=np.zeros((5, 70)))
    assert message == f"{path}: key 'poses' has shape (5, 70), {expected}"
    path, message = bad_file_message(tmp_path, poses=np.zeros((1, 72)), trans=np.zeros((1, 3)))
    assert message == f"{path}: key 'poses' has shape (1, 72), {expected}"
    path, message = bad_file_message(tmp_path, trans=np.zeros((4, 3)))
    assert message == f"{path}: key 'trans' has shape (4, 3), expected (5, 3) to match 'poses'"
    path, message = bad_file_message(tmp_path, betas=np.zeros((2, 5)))
    assert message == f"{path}: key 'betas' has shape (2, 5), expected (B,)"


@pytest.mark.parametrize("rate", [0.0, -30.0, 1000.5, np.nan])
def test_bad_frame_rates(tmp_path, rate):
    path, message = bad_file_message(tmp_path, mocap_framerate=np.array(rate))
    assert message == (f"{path}: frame rate {rate} Hz is out of range, expected 0 < rate <= 1000")


def test_non_finite_values_and_unknown_gender(tmp_path):
    poses = amass_arrays()["poses"]
    poses[2, 7] = np.nan
    path, message = bad_file_message(tmp_path, poses=poses)
    assert message == f"{path}: key 'poses' holds NaN or infinite values"
    path, message = bad_file_message(tmp_path, trans=np.full((5, 3), np.inf))
    assert message == f"{path}: key 'trans' holds NaN or infinite values"
    path, message = bad_file_message(tmp_path, gender=np.array("robot"))
    assert message == f"{path}: gender 'robot' is not one of female, male, neutral"


def test_not_an_npz_archive(tmp_path):
    path = tmp_path / "clip.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ClipFileError, match="cannot read it as an .npz archive"):
        load_clip(path)
    path = tmp_path / "poses.npy"
    np.save(path, np.zeros((5, 72)))
    with pytest.raises(ClipFileError) as error:
        load_clip(path)
    assert str(error.value) == f"{path}: expected an .npz archive of named arrays, got one array"


def test_frame_rate_must_be_one_number(tmp_path):
    path, message = bad_file_message(tmp_path, mocap_framerate=np.array([30.0, 60.0]))
    assert message.startswith(f"{path}: the frame rate must be one number, got ")


def test_the_clip_library_knows_each_loop_and_stride():
    library = synth_library()
    assert library.period_s[CLIPS.index("stand")] == pytest.approx(IDLE_FRAMES / CLIP_FRAMERATE_HZ)
    for name in ("walk", "run"):
        assert library.stride_m[CLIPS.index(name)] == pytest.approx(stride_length_m(name), rel=2e-2)
    assert library.stride_m[CLIPS.index("sit")] == pytest.approx(0.0, abs=1e-3)


def test_library_poses_follow_clip_phase_and_cross_fade():
    library = synth_library()
    walk, sit = CLIPS.index("walk"), CLIPS.index("sit")
    phase = np.array([0.25, 0.25, 0.25])
    clip = np.array([walk, walk, walk], dtype=np.uint8)
    previous = np.array([sit, sit, sit], dtype=np.uint8)
    poses = library.poses(clip, previous, phase, np.array([1.0, 0.0, 0.5]))
    expected_walk = sample_clip(library.quats[walk], phase[:1])[0]
    expected_sit = sample_clip(library.quats[sit], phase[:1])[0]
    assert np.all(rotation_angle_deg(poses[0], expected_walk) < 0.1)
    assert np.all(rotation_angle_deg(poses[1], expected_sit) < 0.1)
    halfway = slerp(expected_sit, expected_walk, np.full(24, 0.5))
    assert np.all(rotation_angle_deg(poses[2], halfway) < 0.1)
