"""Synthesized motion clips, one loop per clip name, in the AMASS / SynBody ``.npz`` layout.

SynthTwin ships no motion capture, so it synthesizes one seamless loop for every name in
:data:`components.pose.CLIPS` from published joint kinematics; :func:`load_clip` reads a user's
real AMASS / SynBody file into the same :class:`Clip` instead.

Pattern: a *Fourier-series pose generator*. Each joint angle of a clip is a truncated Fourier
series in the loop phase (a few harmonics), so the loop is seamless by construction (phase 1 is
phase 0 again) and smooth at any phase. Gait curves are published key values (degrees at percent
of the gait cycle) interpolated by a periodic spline and truncated to :data:`HARMONICS` harmonics;
postures are constants plus slow waves (breathing, weight shift, hand motion). The root
translation is not authored but *solved* (:func:`solve_root`): it moves so that each foot in
contact rolls on the floor without slipping (on its heel, ball or toe tip, whichever is lowest)
and rests on y = 0, so a gait clip's stride, and its speed at a given cadence, follow from its
joint angles and the body's skeleton (:func:`stride_length_m`).

Sources of the joint curves:

- walk: Winter 2009, "Biomechanics and Motor Control of Human Movement", 4th ed., normal-cadence
  gait, and Perry & Burnfield 2010, "Gait Analysis: Normal and Pathological Function", 2nd ed.:
  hip +30 / -10 deg, knee 0-60 deg with the swing peak near 72 % of the cycle, ankle +10 / -20 deg,
  pelvis rotation and obliquity ~ +-4 deg; arm swing (Murray et al. 1967, "Walking patterns in
  healthy old men") ~ +-20 deg at the shoulder with 10-30 deg of elbow flexion.
- run: Novacheck 1998, "The biomechanics of running", Gait & Posture 7: 77-95 (jogging, toe-off
  at ~39 % of the cycle): hip +47 / -10 deg, knee 20-40 deg in stance and ~95 deg in swing,
  ankle +20 / -20 deg, elbows near 90 deg.
- cycle: Bini, Hume & Croft 2011, "Effects of bicycle saddle height on knee injury risk and cycling
  performance", Sports Med 41: 463-476, and Ericson et al. 1988, Scand J Rehabil Med 20: 29-36:
  knee 35-110 deg, hip ~45-90 deg, ankle ~20 deg of range, trunk leaning forward.
- postures: sitting and driving after Reed et al. 2000, "Comfortable driving postures", SAE
  2000-01-2180 (hip ~100 deg and knee ~125 deg included angles); squats (exercise) to thighs near
  horizontal after Schoenfeld 2010, J Strength Cond Res 24: 3497-3506.

Angle channels (degrees, anatomical): ``flex`` (sagittal: hip/shoulder flexion, knee/elbow
flexion, ankle and toe dorsiflexion, trunk forward bend), ``abd`` (frontal: limb abduction away
from the midline, collar elevation), ``side`` (midline lateral bend to the body's left), ``twist``
(midline axial turn to the left). :data:`CHANNEL_AXES` maps them to SMPL's frame (x to the body's
left, y up, z forward) for the left side and the midline; the right side is its mirror image (x
kept, y and z negated). A joint's rotation is ``Rx Ry Rz`` (z applied first) of its SMPL-frame
angles. SMPL's zero pose is the T-pose, so the shoulders' ``abd`` is measured from the arm at the
side (:data:`CHANNEL_ZERO_DEG`).

Layout written by :func:`write_clips` (AMASS's SMPL keys): ``poses (T, 72) float32`` axis-angle
(radians; global orientation then SMPL's 23 body joints), ``trans (T, 3) float32`` metres (y up,
facing +z, feet on y = 0), ``betas (10,) float32`` zeros, ``mocap_framerate`` float64,
``gender`` "neutral". Frame ``k`` is phase ``k / T``; the frame after the last is frame 0 again,
with ``trans`` advanced by the clip's stride along +z.

Glossary: T frames, M phase samples, J = 24 joints, H harmonics, C contacts (feet).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from synthtwin.components.body import NUM_BETAS
from synthtwin.components.pose import CLIPS
from synthtwin.engine.synth.body_model import (
    _npz_bytes,
    body_design,
    build_model,
    data_root,
    ensure_folder,
)
from synthtwin.kernels.clips import Clip, ClipLibrary, clip_arrays
from synthtwin.kernels.smpl import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = [
    "CHANNEL_AXES",
    "CLIP_FRAMERATE_HZ",
    "HARMONICS",
    "IDLE_FRAMES",
    "ClipSpec",
    "FixedRoot",
    "FootContact",
    "RootMotion",
    "clip_pose",
    "clip_spec",
    "clip_specs",
    "forward_kinematics",
    "root_motion",
    "sole_positions",
    "solve_root",
    "stride_length_m",
    "synth_library",
    "clip_files",
    "synth_clip_dir",
    "synth_clip",
    "write_clips",
]

CLIP_FRAMERATE_HZ = 30.0
HARMONICS = 6
"""Harmonics of every joint-angle series: enough for published gait curves, smooth to look at."""
ROOT_HARMONICS = 12
"""Harmonics of the solved root velocity."""
ROOT_SMOOTHING = 1e-7
"""Ridge weight of harmonic ``k`` of the root velocity is ``ROOT_SMOOTHING * k**4``: it fixes the
root through flight phases (no foot on the ground) and damps the fit's ringing."""
SOLVER_SAMPLES = 360
"""Phase samples M that the root solver fits over."""
SPLINE_SAMPLES = 256
"""Phase samples of the periodic spline through key values, before the Fourier truncation."""
CONTACT_RAMP = 0.04
"""Phase over which a foot's contact weight rises from 0 to 1 (and falls back)."""
IDLE_FRAMES = 120
"""Frames of the postural loops: 4 s at 30 Hz, the loop period of ``systems.animation``."""
"""AMASS's SMPL-H files say ``mocap_framerate``; its SMPL-X files ``mocap_frame_rate``."""
BED_HEIGHT_M = 0.55
PELVIS_DEPTH_M = 0.10
"""Height of the pelvis joint above the mattress when lying on the back (the flesh behind it)."""
PEDAL_LOW_M = 0.12
"""Height of the ball of the foot over the ground at the pedal's bottom dead centre."""
BIKE_DEVELOPMENT_M = 3.4
"""Distance a bike rolls per crank turn: a 42/26 gear on a 2.1 m wheel (~15 km/h at 75 rpm)."""

Curve = np.ndarray
"""``(H + 1,) complex128`` Fourier coefficients ``c_k`` of an angle (degrees) over the phase
``p``: ``angle(p) = Re sum_k c_k exp(2 pi i k p)``."""
Pose = dict[tuple[str, str], Curve]
"""``(joint name, channel) -> Curve``."""

CHANNEL_AXES = {
    # joint kind: channel -> (SMPL axis 0/1/2 = x/y/z, sign) for the left side and the midline
    "trunk": {"flex": (0, 1.0), "side": (2, -1.0), "twist": (1, 1.0)},
    "hip": {"flex": (0, -1.0), "abd": (2, 1.0)},
    "knee": {"flex": (0, 1.0)},
    "ankle": {"flex": (0, -1.0)},
    "foot": {"flex": (0, -1.0)},
    "collar": {"abd": (2, 1.0)},
    "shoulder": {"flex": (0, -1.0), "abd": (2, 1.0)},
    "elbow": {"flex": (1, -1.0)},
    "wrist": {"flex": (2, -1.0)},
}
CHANNEL_ZERO_DEG = {("shoulder", "abd"): -90.0}
"""SMPL angle at anatomical zero where SMPL's T-pose differs (the arm hangs at the side)."""
PELVIC_TILT_DEG = 10.0
"""Anterior pelvic tilt of gait-lab pelvis frames (Perry & Burnfield 2010: ~10 deg) relative to
SMPL's rest pelvis: gait hip angles are measured from it, so walk and run tilt the SMPL pelvis by
it and the spine takes it back."""
SPINE = ("spine1", "spine2", "spine3")
TRUNK_JOINTS = ("pelvis", *SPINE, "neck", "head")
MIRROR = np.array([1.0, -1.0, -1.0])
"""Axis-angle of a right joint is its left twin's times this (mirror image in x)."""


def joint_kind(joint: str) -> str:
    """The :data:`CHANNEL_AXES` kind of a joint name (``"left_knee"`` -> ``"knee"``)."""
    return "trunk" if joint in TRUNK_JOINTS else joint.split("_", 1)[1]


# ----------------------------------------------------------------------------------------------
# Fourier curves


def constant(value_deg: float) -> Curve:
    """A constant angle."""
    curve = np.zeros(HARMONICS + 1, dtype=np.complex128)
    curve[0] = value_deg
    return curve


def wave(mean_deg: float, amplitude_deg: float, cycles: int = 1, peak_pct: float = 0.0) -> Curve:
    """``mean + amplitude cos(2 pi cycles (p - peak))``: ``cycles`` (1..H) per loop, the first
    peak at ``peak_pct`` percent of the loop."""
    curve = constant(mean_deg)
    curve[cycles] = amplitude_deg * np.exp(-2j * np.pi * cycles * peak_pct / 100)
    return curve


def keyframes(pct: Sequence[float], deg: Sequence[float]) -> Curve:
    """The curve through key values ``deg`` at ``pct`` percent of the loop, Fourier-truncated.

    ``pct`` increases from 0 and stays below 100. A periodic cubic spline through the keys is
    sampled and its first :data:`HARMONICS` harmonics kept, which rounds the corners off.
    """
    knots = np.append(np.asarray(pct, dtype=np.float64), 100.0) / 100
    spline = CubicSpline(knots, np.append(deg, deg[0]), bc_type="periodic")
    spectrum = np.fft.rfft(spline(np.arange(SPLINE_SAMPLES) / SPLINE_SAMPLES))
    curve = spectrum[: HARMONICS + 1] / SPLINE_SAMPLES
    curve[1:] *= 2
    return curve


def half_cycle_later(curve: Curve) -> Curve:
    """The curve delayed by half a loop: the other leg of a gait (``c_k exp(-i pi k)``)."""
    return curve * (-1.0) ** np.arange(HARMONICS + 1)


def evaluate(curves: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Angles ``(M, ...)`` of Fourier curves ``(..., H + 1)`` at phases ``(M,)``."""
    basis = np.exp(2j * np.pi * np.outer(phase, np.arange(curves.shape[-1])))  # (M, H + 1)
    # (M, H + 1) x (..., H + 1) -> (M, ...)
    return np.real(np.einsum("mk,...k->m...", basis, curves))


# ----------------------------------------------------------------------------------------------
# Clip specifications


@dataclass(frozen=True)
class FootContact:
    """The root moves so that each foot in contact rolls on the floor without slipping.

    Attributes:
        windows: ``((start, end), (start, end))``: the phase intervals (fractions of the loop,
            ``end`` may pass 1) in which the left and the right foot touch the floor; None: both
            always do.
    """

    windows: tuple[tuple[float, float], tuple[float, float]] | None = None


@dataclass(frozen=True)
class FixedRoot:
    """A root that only advances: the lowest of ``joints`` over the loop sits at ``height_m``,
    and the root moves ``advance_m`` along +z per loop."""

    joints: tuple[str, ...]
    height_m: float
    advance_m: float = 0.0


@dataclass(frozen=True)
class ClipSpec:
    """How a clip is synthesized.

    Attributes:
        name: a :data:`components.pose.CLIPS` name.
        num_frames: T frames of the loop at :data:`CLIP_FRAMERATE_HZ`.
        pose: ``(joint, channel) -> Curve`` degrees; joints absent stay at SMPL's zero.
        root: how the root translation is solved.
    """

    name: str
    num_frames: int
    pose: Pose
    root: FootContact | FixedRoot

    @property
    def period_s(self) -> float:
        return self.num_frames / CLIP_FRAMERATE_HZ


def gait_leg(curves: dict[tuple[str, str], Curve]) -> Pose:
    """A left-side pose and its right twin half a cycle later: ``("hip", "flex")`` keys become
    ``("left_hip", "flex")`` and ``("right_hip", "flex")``."""
    pose = {}
    for (joint, channel), curve in curves.items():
        pose[(f"left_{joint}", channel)] = curve
        pose[(f"right_{joint}", channel)] = half_cycle_later(curve)
    return pose


def both_sides(curves: dict[tuple[str, str], Curve]) -> Pose:
    """The same curves on both sides (a symmetric posture)."""
    return {
        (f"{side}_{joint}", ch): c
        for side in ("left", "right")
        for (joint, ch), c in curves.items()
    }


def spread(joints: Sequence[str], channel: str, total: Curve) -> Pose:
    """A channel's ``total`` angle shared evenly by a chain of joints (the spine's three)."""
    return {(joint, channel): total / len(joints) for joint in joints}


def breathing(pose: Pose, depth_deg: float = 0.8) -> Pose:
    """``pose`` breathing once a loop (15 breaths/min over 4 s): the chest extends and the
    collars rise by ``depth_deg``, added to what the pose holds."""
    waves = {
        ("spine3", "flex"): wave(0.0, -depth_deg, peak_pct=30),
        **both_sides({("collar", "abd"): wave(0.0, depth_deg, peak_pct=30)}),
    }
    return pose | {key: pose.get(key, 0.0) + curve for key, curve in waves.items()}


def seated(trunk_flex_deg: float, shoulder_flex_deg: float, elbow_flex_deg: float) -> Pose:
    """Sitting on a chair, thighs level and shanks vertical, with the arms forward, breathing."""
    pelvis_deg, hip_deg, knee_deg = -5.0, 85.0, 90.0  # pelvis tipped back; ankle keeps feet flat
    pose = {
        ("pelvis", "flex"): constant(pelvis_deg),
        **spread(SPINE, "flex", constant(trunk_flex_deg)),
        **both_sides(
            {
                ("hip", "flex"): constant(hip_deg),
                ("knee", "flex"): constant(knee_deg),
                ("ankle", "flex"): constant(pelvis_deg - hip_deg + knee_deg),
                ("shoulder", "flex"): constant(shoulder_flex_deg),
                ("shoulder", "abd"): constant(12.0),
                ("elbow", "flex"): constant(elbow_flex_deg),
            }
        ),
    }
    return breathing(pose)


WALK_KEYS = {
    # left leg, percent of the gait cycle from heel strike (toe-off at 62 %) -> degrees
    ("hip", "flex"): ((0, 10, 20, 30, 40, 50, 56, 62, 70, 80, 87, 94),
                      (30, 27, 19, 10, 1, -8, -10, -4, 12, 25, 31, 31)),
    ("knee", "flex"): ((0, 6, 15, 25, 35, 42, 50, 56, 62, 67, 72, 78, 86, 94),
                       (3, 12, 18, 12, 6, 5, 9, 20, 38, 54, 61, 59, 41, 9)),
    ("ankle", "flex"): ((0, 6, 15, 30, 45, 52, 58, 63, 70, 78, 86, 94),
                        (0, -6, 2, 7, 10, 5, -8, -18, -8, 3, 6, 3)),
    ("foot", "flex"): ((0, 40, 55, 62, 70, 80),
                       (0, 5, 22, 28, 6, 0)),
}  # fmt: skip
"""Walking: Winter 2009 (normal cadence) and Perry & Burnfield 2010, sagittal plane."""
RUN_KEYS = {
    # left leg, percent of the running cycle from foot strike (toe-off at 39 %) -> degrees
    ("hip", "flex"): ((0, 10, 20, 30, 39, 45, 55, 65, 75, 85, 93),
                      (35, 29, 18, 5, -8, -7, 8, 28, 44, 47, 42)),
    ("knee", "flex"): ((0, 8, 15, 25, 39, 50, 62, 70, 78, 88, 95),
                       (20, 33, 40, 32, 18, 45, 82, 96, 90, 55, 28)),
    ("ankle", "flex"): ((0, 10, 18, 30, 39, 45, 55, 70, 85, 95),
                        (2, 15, 20, 8, -18, -20, -8, 2, 5, 3)),
    ("foot", "flex"): ((0, 25, 38, 45, 55),
                       (0, 5, 28, 12, 0)),
}  # fmt: skip
"""Jogging: Novacheck 1998, sagittal plane."""
EAT_KEYS = {
    # the right hand to the mouth and back, percent of the loop -> degrees
    ("right_shoulder", "flex"): ((0, 25, 40, 55, 70), (35, 36, 55, 42, 35)),
    ("right_elbow", "flex"): ((0, 25, 40, 55, 70), (85, 90, 132, 100, 85)),
    ("neck", "flex"): ((0, 30, 40, 55), (8, 8, 14, 8)),
}  # fmt: skip


def key_curves(keys: dict[tuple[str, str], tuple[Sequence[float], Sequence[float]]]) -> Pose:
    """:func:`keyframes` of every ``(percents, degrees)`` table entry."""
    return {joint_channel: keyframes(*table) for joint_channel, table in keys.items()}


def walk_spec() -> ClipSpec:
    """Walking, one gait cycle from left heel strike (:data:`WALK_KEYS`), arms swinging with the
    opposite leg, pelvis and thorax counter-rotating; 34 frames (106 steps/min)."""
    leg = key_curves(WALK_KEYS) | {
        ("hip", "abd"): wave(0.0, -4.0, peak_pct=15),  # keeps the leg level under the pelvis
        ("shoulder", "flex"): wave(2.0, 18.0, peak_pct=50),
        ("shoulder", "abd"): constant(10.0),
        ("elbow", "flex"): wave(20.0, 8.0, peak_pct=50),
    }
    trunk = {
        ("pelvis", "flex"): wave(PELVIC_TILT_DEG, 1.5, cycles=2, peak_pct=40),
        **spread(SPINE, "flex", constant(-PELVIC_TILT_DEG)),  # the trunk stays upright
        ("pelvis", "side"): wave(0.0, -4.0, peak_pct=15),  # the swing side drops
        ("pelvis", "twist"): wave(0.0, 4.0, peak_pct=50),  # the swing hip leads
        **spread(SPINE, "twist", wave(0.0, -7.5, peak_pct=50)),
        **spread(SPINE, "side", wave(0.0, 4.0, peak_pct=15)),  # the thorax stays upright
        ("neck", "twist"): wave(0.0, 3.5, peak_pct=50),  # the head looks ahead
    }
    contact = FootContact(windows=((0.0, 0.62), (0.5, 1.12)))
    return ClipSpec("walk", 34, gait_leg(leg) | trunk, contact)


def run_spec() -> ClipSpec:
    """Jogging, one cycle from left foot strike (:data:`RUN_KEYS`), elbows bent near 90 deg,
    trunk leaning ~10 deg; 22 frames (164 steps/min)."""
    leg = key_curves(RUN_KEYS) | {
        ("hip", "abd"): wave(0.0, -4.0, peak_pct=15),
        ("shoulder", "flex"): wave(-5.0, 30.0, peak_pct=50),
        ("shoulder", "abd"): constant(12.0),
        ("elbow", "flex"): wave(85.0, 15.0, peak_pct=50),
    }
    trunk = {
        ("pelvis", "flex"): wave(PELVIC_TILT_DEG + 4, 2.0, cycles=2, peak_pct=40),
        ("pelvis", "side"): wave(0.0, -4.0, peak_pct=15),
        ("pelvis", "twist"): wave(0.0, 6.0, peak_pct=50),
        **spread(SPINE, "flex", constant(6.0 - PELVIC_TILT_DEG)),
        **spread(SPINE, "twist", wave(0.0, -10.5, peak_pct=50)),
        **spread(SPINE, "side", wave(0.0, 4.0, peak_pct=15)),
        ("neck", "flex"): constant(-6.0),
        ("neck", "twist"): wave(0.0, 4.5, peak_pct=50),
    }
    contact = FootContact(windows=((0.0, 0.39), (0.5, 0.89)))
    return ClipSpec("run", 22, gait_leg(leg) | trunk, contact)


def cycle_spec() -> ClipSpec:
    """Seated pedalling, one crank turn from the left pedal at top dead centre, 75 rpm
    (Bini et al. 2011; Ericson et al. 1988), the trunk leaning ~35 deg forward."""
    leg = {
        ("hip", "flex"): wave(67.0, 22.0, peak_pct=-3),
        ("knee", "flex"): wave(72.0, 37.0, peak_pct=-2),
        ("ankle", "flex"): wave(-10.0, 8.0, peak_pct=25),
        ("shoulder", "flex"): constant(50.0),
        ("shoulder", "abd"): constant(15.0),
        ("elbow", "flex"): constant(25.0),
    }
    trunk = {
        ("pelvis", "flex"): constant(20.0),
        ("pelvis", "side"): wave(0.0, 1.5, peak_pct=25),
        **spread(SPINE, "flex", constant(15.0)),
        ("neck", "flex"): constant(-15.0),
        ("head", "flex"): constant(-10.0),
    }
    root = FixedRoot(("left_foot", "right_foot"), PEDAL_LOW_M, BIKE_DEVELOPMENT_M)
    return ClipSpec("cycle", 24, gait_leg(leg) | trunk, root)


def stand_spec() -> ClipSpec:
    """Quiet standing: breathing, a slow side-to-side weight shift, a glance around."""
    sway = wave(0.0, 1.5, peak_pct=25)  # both legs lean the same way: the pelvis sways
    pose = {
        ("left_hip", "abd"): sway,
        ("right_hip", "abd"): -sway,
        ("head", "twist"): wave(0.0, 4.0, peak_pct=60),
        **both_sides(
            {
                ("knee", "flex"): constant(3.0),
                ("hip", "flex"): constant(3.0),
                ("shoulder", "abd"): constant(8.0),
                ("elbow", "flex"): constant(10.0),
            }
        ),
    }
    return ClipSpec("stand", IDLE_FRAMES, breathing(pose), FootContact())


def sit_spec() -> ClipSpec:
    """Sitting on a chair, hands on the thighs, looking around."""
    pose = seated(6.0, 30.0, 50.0) | {("head", "twist"): wave(0.0, 8.0, peak_pct=30)}
    return ClipSpec("sit", IDLE_FRAMES, pose, FootContact())


def eat_spec() -> ClipSpec:
    """Seated at a table, forearms on it; the right hand brings food to the mouth once a loop."""
    bite = key_curves(EAT_KEYS)
    return ClipSpec("eat", IDLE_FRAMES, seated(10.0, 35.0, 85.0) | bite, FootContact())


def desk_work_spec() -> ClipSpec:
    """Seated typing: forearms forward, wrists tapping, eyes on a screen."""
    typing = {
        ("left_wrist", "flex"): wave(-15.0, 3.0, cycles=6),
        ("right_wrist", "flex"): wave(-15.0, 3.0, cycles=6, peak_pct=8),
        ("neck", "flex"): constant(8.0),
        ("head", "flex"): constant(5.0),
        ("head", "twist"): wave(0.0, 3.0, peak_pct=70),
    }
    return ClipSpec("desk_work", IDLE_FRAMES, seated(10.0, 30.0, 95.0) | typing, FootContact())


def drive_spec() -> ClipSpec:
    """Driving: reclined seat, hands on the wheel steering a little, eyes scanning (Reed 2000)."""
    pelvis_deg, hip_deg, knee_deg = -20.0, 80.0, 55.0
    pose = {
        ("pelvis", "flex"): constant(pelvis_deg),
        **spread(SPINE, "flex", constant(6.0)),
        ("neck", "flex"): constant(12.0),
        ("head", "twist"): wave(0.0, 10.0, peak_pct=70),
        ("left_shoulder", "flex"): wave(45.0, 3.0),
        ("right_shoulder", "flex"): wave(45.0, 3.0, peak_pct=50),
        **both_sides(
            {
                ("hip", "flex"): constant(hip_deg),
                ("knee", "flex"): constant(knee_deg),
                ("ankle", "flex"): constant(-10.0),
                ("shoulder", "abd"): constant(15.0),
                ("elbow", "flex"): constant(60.0),
            }
        ),
    }
    return ClipSpec("drive", IDLE_FRAMES, breathing(pose), FootContact())


def squat(depth_deg: float) -> Curve:
    """An angle going 0 -> ``depth_deg`` -> 0 twice a loop (two squats, bottoms at 25 and 75 %)."""
    return wave(depth_deg / 2, depth_deg / 2, cycles=2, peak_pct=25)


def exercise_spec() -> ClipSpec:
    """Body-weight squats, two a loop, to thighs near level, arms reaching forward."""
    pelvis_deg, hip_deg, knee_deg = 30.0, 110.0, 100.0
    pose = {
        ("pelvis", "flex"): squat(pelvis_deg),
        **spread(SPINE, "flex", squat(12.0)),
        ("neck", "flex"): squat(-15.0),
        **both_sides(
            {
                ("hip", "flex"): squat(hip_deg),
                ("knee", "flex"): squat(knee_deg),
                ("ankle", "flex"): squat(pelvis_deg - hip_deg + knee_deg),  # feet stay flat
                ("shoulder", "flex"): squat(80.0),
                ("shoulder", "abd"): constant(8.0),
                ("elbow", "flex"): constant(10.0),
            }
        ),
    }
    return ClipSpec("exercise", IDLE_FRAMES, pose, FootContact())


def lie_spec() -> ClipSpec:
    """Lying on the back on a bed, head on a pillow, breathing slowly."""
    pose = {
        ("pelvis", "flex"): constant(-90.0),
        ("head", "flex"): constant(15.0),
        **both_sides(
            {
                ("knee", "flex"): constant(5.0),
                ("ankle", "flex"): constant(-25.0),
                ("shoulder", "abd"): constant(10.0),
                ("elbow", "flex"): constant(10.0),
            }
        ),
    }
    root = FixedRoot(("pelvis",), BED_HEIGHT_M + PELVIS_DEPTH_M)
    return ClipSpec("lie", IDLE_FRAMES, breathing(pose, depth_deg=1.0), root)


SPEC_BUILDERS = (
    stand_spec,
    walk_spec,
    run_spec,
    sit_spec,
    lie_spec,
    cycle_spec,
    eat_spec,
    desk_work_spec,
    exercise_spec,
    drive_spec,
)


@cache
def clip_specs() -> dict[str, ClipSpec]:
    """Every synthesized clip's spec by name, in :data:`components.pose.CLIPS` order."""
    return {spec.name: spec for spec in (build() for build in SPEC_BUILDERS)}


def clip_spec(name: str) -> ClipSpec:
    """The spec of a clip name, or a ValueError listing the names."""
    specs = clip_specs()
    if name not in specs:
        raise ValueError(f"unknown clip {name!r}; clips are {', '.join(specs)}")
    return specs[name]


# ----------------------------------------------------------------------------------------------
# Poses and the root


def smpl_angles_rad(pose: Pose) -> np.ndarray:
    """``(J, 3, H + 1)`` Fourier curves of each joint's SMPL-frame x, y, z angles (radians)."""
    curves = np.zeros((NUM_JOINTS, 3, HARMONICS + 1), dtype=np.complex128)
    for (joint, channel), curve in pose.items():
        kind = joint_kind(joint)
        axis, sign = CHANNEL_AXES[kind][channel]
        mirror = MIRROR[axis] if joint.startswith("right_") else 1.0
        zero = constant(CHANNEL_ZERO_DEG.get((kind, channel), 0.0))
        curves[JOINT_NAMES.index(joint), axis] += mirror * sign * (curve + zero)
    return curves * (np.pi / 180)


def axis_angles(spec: ClipSpec, phase: np.ndarray) -> np.ndarray:
    """``(M, J, 3) float64`` axis-angle (radians) of a clip's joints at phases ``(M,)``."""
    angles = evaluate(smpl_angles_rad(spec.pose), phase)  # (M, J, 3) x, y, z angles
    # intrinsic "XYZ" is the matrix Rx Ry Rz: z applied first
    rotvecs = Rotation.from_euler("XYZ", angles.reshape(-1, 3)).as_rotvec()
    return rotvecs.reshape(angles.shape)


def clip_pose(name: str, phase: np.ndarray) -> np.ndarray:
    """``(M, J, 3) float64`` axis-angle (radians) of a synthesized clip at phases ``(M,)``."""
    return axis_angles(clip_spec(name), np.asarray(phase, dtype=np.float64))


@cache
def rest_joints() -> np.ndarray:
    """``(J, 3)`` rest joints (metres) of the synthesized neutral body at mean shape."""
    model = build_model("neutral")
    # (J, V) x (V, 3) -> (J, 3)
    return model["J_regressor"] @ model["v_template"]


def forward_kinematics(rotvecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose :func:`rest_joints` by axis-angle ``(M, J, 3)`` down SMPL's chain, parents first.

    Returns:
        ``positions (M, J, 3)`` metres (zero root translation) and ``rotations (M, J, 3, 3)``,
        each joint's world rotation.
    """
    local = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(*rotvecs.shape, 3)
    rest = rest_joints()
    rotations, positions = [local[:, 0]], [np.broadcast_to(rest[0], (len(rotvecs), 3))]
    for joint in range(1, NUM_JOINTS):
        parent = PARENTS[joint]
        # (M, 3, 3) x (3,) -> (M, 3): the bone, turned by the parent's world rotation
        positions.append(positions[parent] + rotations[parent] @ (rest[joint] - rest[parent]))
        # (M, 3, 3) x (M, 3, 3) -> (M, 3, 3)
        rotations.append(rotations[parent] @ local[:, joint])
    return np.stack(positions, axis=1), np.stack(rotations, axis=1)


@cache
def sole_points() -> tuple[np.ndarray, np.ndarray]:
    """Where a foot touches the floor: ``joints (S,)`` the joint each point rides on and
    ``offsets (S, 3)`` metres from that joint at rest, for S = 6 points (left then right heel,
    ball, toe tip, on the sole at y = 0; the toe tip rides on the toes' ``*_foot`` joint)."""
    marks = body_design("neutral").landmarks
    rest = rest_joints()
    joints, offsets = [], []
    for side in ("left", "right"):
        ankle, toes = JOINT_NAMES.index(f"{side}_ankle"), JOINT_NAMES.index(f"{side}_foot")
        for joint, z_key in ((ankle, "heel_z"), (ankle, "ball_z"), (toes, "toe_z")):
            joints.append(joint)
            offsets.append(np.array([rest[ankle, 0], 0.0, marks[z_key]]) - rest[joint])
    return np.array(joints), np.array(offsets)


def sole_positions(positions: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """``(M, 2, 3, 3)``: the heel, ball and toe tip of the left and right sole (metres), from
    :func:`forward_kinematics` ``positions (M, J, 3)`` and ``rotations (M, J, 3, 3)``."""
    joints, offsets = sole_points()
    # (M, S, 3, 3) x (S, 3) -> (M, S, 3): each offset turned with its joint
    points = positions[:, joints] + np.einsum("msij,sj->msi", rotations[:, joints], offsets)
    return points.reshape(len(positions), 2, 3, 3)


def contact_weights(contact: FootContact, phase: np.ndarray) -> np.ndarray:
    """``(M, 2)`` contact weight in [0, 1] of the left and right foot at phases ``(M,)``.

    Inside a window the weight ramps up and down over :data:`CONTACT_RAMP` (raised cosine);
    ``windows=None`` is full contact throughout.
    """
    if contact.windows is None:
        return np.ones((len(phase), 2))
    start, end = np.array(contact.windows).T  # (2,) each
    since = np.mod(phase[:, None] - start, 1.0)  # (M, 2) phase since the window opened
    ramp = np.clip(np.minimum(since, end - start - since) / CONTACT_RAMP, 0.0, 1.0)
    return np.where(since < end - start, 0.5 - 0.5 * np.cos(np.pi * ramp), 0.0)


def rocker_contacts(soles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The point each foot rolls on: its lowest sole point (heel, ball or toe tip).

    Args:
        soles: ``(M, 2, 3, 3)`` sole points over ``M`` evenly spaced phases (zero root
            translation; the root moves every point alike, so the lowest stays the lowest).

    Returns:
        ``heights (M, 2)`` metres of the rocker points and ``velocities (M, 2, 3)`` in metres per
        loop: the rocker point's own velocity (a rolling foot's contact point is still), by
        central differences around the loop.
    """
    num = len(soles)
    lowest = np.argmin(soles[..., 1], axis=2)[..., None, None]  # (M, 2, 1, 1)
    velocity = (np.roll(soles, -1, axis=0) - np.roll(soles, 1, axis=0)) * (num / 2)
    heights = np.take_along_axis(soles[..., 1], lowest[..., 0], axis=2)[..., 0]
    return heights, np.take_along_axis(velocity, lowest, axis=2)[:, :, 0]


def fourier_basis(phase: np.ndarray) -> np.ndarray:
    """``(M, 2 H + 1)``: ``1, cos 2 pi k p, sin 2 pi k p`` for ``k = 1..ROOT_HARMONICS``."""
    arg = 2 * np.pi * np.outer(phase, np.arange(1, ROOT_HARMONICS + 1))  # (M, H)
    return np.hstack([np.ones((len(phase), 1)), np.cos(arg), np.sin(arg)])


def integrated_basis(phase: np.ndarray) -> np.ndarray:
    """``(M, 2 H + 1)``: :func:`fourier_basis` integrated over the phase (the waves zero-mean)."""
    k_2pi = 2 * np.pi * np.arange(1, ROOT_HARMONICS + 1)  # (H,)
    arg = np.outer(phase, k_2pi)  # (M, H)
    return np.hstack([phase[:, None], np.sin(arg) / k_2pi, -np.cos(arg) / k_2pi])


def planted_velocity(velocities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fourier coefficients ``(2 H + 1, 3)`` of the root velocity (metres per loop) that keeps
    the contacts still.

    Args:
        velocities: ``(M, C, 3)`` contact point velocities (metres per loop) at zero root
            translation, at ``M`` evenly spaced phases of the loop.
        weights: ``(M, C)`` contact weights in [0, 1].

    The velocity is fitted by weighted least squares to minus the weighted mean velocity of the
    contacts, so that a contact in full contact is still; only along z may it have a mean (the
    root comes back to its height and side every loop). A ridge of ``ROOT_SMOOTHING k^4`` on
    harmonic ``k`` carries the fit through flight phases, where no contact holds.
    """
    num = len(velocities)
    total = weights.sum(axis=1)  # (M,)
    # (M, C) . (M, C, 3) -> (M, 3): minus the mean contact velocity, where any contact holds
    target = -np.einsum("mc,mcd->md", weights, velocities) / np.maximum(total, 1e-9)[:, None]
    basis = fourier_basis(np.arange(num) / num)  # (M, 2 H + 1)
    fit_weight = np.minimum(total, 1.0)[:, None]  # (M, 1)
    k4 = np.arange(1, ROOT_HARMONICS + 1, dtype=np.float64) ** 4
    ridge = np.diag(np.concatenate([[0.0], k4, k4])) * (num * ROOT_SMOOTHING)
    # (2 H + 1, M) x (M, 2 H + 1) -> (2 H + 1, 2 H + 1): the normal equations
    normal = basis.T @ (fit_weight * basis) + ridge
    rhs = basis.T @ (fit_weight * target)  # (2 H + 1, 3)
    velocity = np.zeros_like(rhs)
    velocity[1:, :2] = np.linalg.solve(normal[1:, 1:], rhs[1:, :2])  # x, y return each loop
    velocity[:, 2] = np.linalg.solve(normal, rhs[:, 2])  # z may advance
    return velocity


@dataclass(frozen=True)
class RootMotion:
    """A clip's root translation: ``offset_m + integrated_basis(p) @ velocity`` (metres).

    Attributes:
        velocity: ``(2 H + 1, 3)`` Fourier coefficients of the velocity in metres per loop; row 0
            is the advance per loop (the stride along z for a gait).
        offset_m: ``(3,)`` metres.
    """

    velocity: np.ndarray
    offset_m: np.ndarray

    def at(self, phase: np.ndarray) -> np.ndarray:
        """``(M, 3)`` translation (metres) at phases ``(M,)`` (unwrapped: phase 1 is a loop on)."""
        # (M, 2 H + 1) x (2 H + 1, 3) -> (M, 3)
        return self.offset_m + integrated_basis(phase) @ self.velocity


def solve_root(spec: ClipSpec) -> RootMotion:
    """The root translation of a clip: feet rolling without slipping and resting on y = 0
    (:class:`FootContact`), or a fixed height with a constant advance (:class:`FixedRoot`)."""
    phase = np.arange(SOLVER_SAMPLES) / SOLVER_SAMPLES
    positions, rotations = forward_kinematics(axis_angles(spec, phase))
    if isinstance(spec.root, FixedRoot):
        index = [JOINT_NAMES.index(name) for name in spec.root.joints]
        velocity = np.zeros((2 * ROOT_HARMONICS + 1, 3))
        velocity[0, 2] = spec.root.advance_m
        lift_m = spec.root.height_m - positions[:, index, 1].min()
        return RootMotion(velocity, np.array([0.0, lift_m, 0.0]))
    heights, velocities = rocker_contacts(sole_positions(positions, rotations))
    weights = contact_weights(spec.root, phase)  # (M, 2)
    root = RootMotion(planted_velocity(velocities, weights), np.zeros(3))
    contact_y = heights + root.at(phase)[:, 1:2]  # (M, 2)
    lift_m = -np.sum(weights * contact_y) / np.sum(weights)  # the soles rest on y = 0
    return RootMotion(root.velocity, np.array([0.0, lift_m, 0.0]))


@cache
def root_motion(name: str) -> RootMotion:
    """The solved :class:`RootMotion` of a synthesized clip (cached)."""
    return solve_root(clip_spec(name))


def stride_length_m(name: str) -> float:
    """Metres the root advances along +z per loop of a clip: the stride (two steps) of walk and
    run, the bike's development per crank turn for cycle, 0 for the postures.

    Walk and run strides follow from their joint angles and the neutral body's leg lengths, as
    the distance that keeps the stance foot planted; the nominal speed is
    ``stride_length_m / period`` (:attr:`Clip.period_s`).
    """
    return float(root_motion(name).velocity[0, 2])


# ----------------------------------------------------------------------------------------------
# Clips: synthesized, written, loaded


def synth_clip(name: str) -> Clip:
    """The synthesized clip of a :data:`components.pose.CLIPS` name."""
    spec = clip_spec(name)
    phase = np.arange(spec.num_frames) / spec.num_frames
    return Clip(
        name=name,
        poses=axis_angles(spec, phase).astype(np.float32),
        trans=root_motion(name).at(phase).astype(np.float32),
        framerate_hz=CLIP_FRAMERATE_HZ,
        betas=np.zeros(NUM_BETAS, dtype=np.float32),
        gender="neutral",
    )


def clip_files(library: ClipLibrary) -> dict[str, bytes]:
    """``{"<name>.npz": bytes}`` of every clip of ``library`` in the AMASS layout; the bytes
    depend only on the clips (fixed zip timestamps)."""
    return {f"{clip.name}.npz": _npz_bytes(clip_arrays(clip)) for clip in library.clips}


def write_clips(folder: Path) -> list[Path]:
    """Write ``<name>.npz`` for every synthesized clip into ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in clip_files(synth_library()).items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


@cache
def synth_library() -> ClipLibrary:
    """The synthesized clips of :data:`synthtwin.components.pose.CLIPS`, built once per process
    (about 0.7 s)."""
    return ClipLibrary.from_clips([synth_clip(name) for name in CLIPS])


def synth_clip_dir(data_dir: Path | None = None) -> Path:
    """The clips of :func:`synth_library` as ``<clip>.npz`` files, for processes that read them
    with ``ClipLibrary.load`` instead of synthesizing them: ``<data>/clips/<digest>``, named by a
    digest of the files' bytes (so changed clips never reuse stale files), written on first use
    (atomically, as the body models: ``ensure_folder``)."""
    digest = hashlib.sha256()
    for name, data in clip_files(synth_library()).items():
        digest.update(name.encode() + data)
    folder = data_root(data_dir) / "clips" / digest.hexdigest()[:16]
    return ensure_folder(folder, write_clips)
