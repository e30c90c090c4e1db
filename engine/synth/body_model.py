"""A synthesized SMPL-format body model: a human mesh on SMPL's 24-joint skeleton, as smplx files.

SynthTwin cannot ship the licensed SMPL model, so it builds its own in the same format: a T-posed
human (y up, metres, feet on y = 0, facing +z, the body's left at +x) made of eight closed parts
(torso, head with neck, two arms with hands, two legs, two feet), each a *tube* of superellipse
rings around a bone axis, on SMPL's joint tree with SMPL's joint names and order.

Pattern: a *linear parametric generator*. A :class:`Design` (skeleton landmarks and per-station
flesh, in metres) becomes *stations* along each part's axis, Catmull-Rom interpolation places
*rings* between them, and rings become vertices. Every vertex is linear in the design numbers, so a
shape direction is exactly ``mesh(design + delta) - mesh(design)`` and ``shapedirs`` carry no
linearisation error. Each joint is the centroid of the ring at its station, so ``J_regressor``
(uniform weights over that ring) recovers the designed skeleton for every shape.

Shape space (``betas``, the convention of :mod:`engine.synth.population`):

- ``betas[0]`` stature z-score within sex: lengths scale by ``SD / H`` and breadths and flesh by
  half that, so the height (max y - min y at zero pose) is ``H + z * SD`` exactly and the body
  volume grows as height squared (constant BMI). ``H, SD`` = 161.7, 7.0 cm (female), 175.4, 7.5 cm
  (male); neutral is the 50/50 mixture of the two (168.55 cm, SD 9.98 cm).
- ``betas[1]`` girth z-score ((ln BMI - mu) / sigma): flesh widens, most at the belly and thighs,
  least at head, hands and feet; scaled so that the body volume grows by ``sigma`` of ln BMI per
  unit (to first order).
- ``betas[2:]`` proportions, stature-neutral, one unit about one adult SD of that proportion:
  2 leg length vs torso, 3 shoulder width, 4 hip width, 5 arm length, 6 head size, 7 chest depth,
  8 waist, 9 limb bulk.

Pose correctives (``posedirs``) are LOCAL: the 9 features of joint k (``9 (k - 1) .. 9 k - 1``,
SMPL's order: rotation matrix minus identity, row-major) move only the vertices of the parts that
joint k skins (:data:`PART_BONES`) lying within :data:`CORRECTIVES` ``radius`` of joint k at rest;
every other entry is exactly 0. :func:`pose_feature_vertices` lists them. The corrective is a
bulge of the flesh on the inner side of the bend plus a small outward push that offsets LBS's
volume loss, both growing as the joint rotates.

Glossary: V vertices, F faces, J = 24 joints, S stations of a part, R rings, N vertices a ring.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from synthtwin.components.body import NUM_BETAS
from synthtwin.engine.synth.population import LN_BMI_SIGMA, STATURE_MEAN_CM, STATURE_SD_CM, Sex
from synthtwin.kernels.mesh import tube_faces
from synthtwin.kernels.smpl import (
    GENDERS,
    JOINT_NAMES,
    NUM_JOINTS,
    NUM_POSE_FEATURES,
    PARENTS,
    BodyModel,
)

__all__ = [
    "CORRECTIVES",
    "DATA_ENV_VAR",
    "GENDERS",
    "LODS",
    "PART_BONES",
    "SYNTH_MODEL_VERSION",
    "Design",
    "body_design",
    "build_model",
    "data_root",
    "ensure_folder",
    "ensure_synth_models",
    "mesh_volume",
    "model_filename",
    "part_slices",
    "pose_feature_vertices",
    "stature_stats_m",
    "synth_body",
    "synth_model_dir",
    "vertex_ids",
    "write_smpl_folder",
]

SYNTH_MODEL_VERSION = "synth-v1"
"""Bumped whenever the generated numbers change; names the cache folder."""

LODS = (0, 1)
CM_PER_M = 100.0

# ----------------------------------------------------------------------------------------------
# Design: landmarks and flesh, as fractions of stature H per sex


@dataclass(frozen=True)
class Design:
    """The numbers a body is made of; every vertex is linear in them.

    Attributes:
        landmarks: name -> metres: heights (``*_y``), breadths (``*_x``), segment lengths
            (``upper_arm``...) and foot positions along z (``*_z``); ``crown_y`` is the height.
        flesh: part -> ``(S, 5) float64`` metres per station: ``a+, a-`` (half-widths along the
            part's ``u`` axis, positive and negative side), ``b+, b-`` (along ``w``) and ``dw``
            (offset of the station centre along ``w``).
    """

    landmarks: dict[str, float]
    flesh: dict[str, np.ndarray]


def design_axpy(scale: float, delta: Design, base: Design) -> Design:
    """``base + scale * delta``, field by field."""
    landmarks = {k: base.landmarks[k] + scale * delta.landmarks.get(k, 0.0) for k in base.landmarks}
    flesh = {k: base.flesh[k] + scale * delta.flesh[k] for k in base.flesh}
    return Design(landmarks, flesh)


LANDMARK_FRACTIONS = {
    # name: (female, male) fraction of stature; after Drillis & Contini 1966 / Winter 2009
    # segment proportions, with SMPL-like joint placement on the spine.
    "ankle_y": (0.045, 0.045),
    "knee_y": (0.283, 0.285),
    "hip_y": (0.500, 0.505),
    "pelvis_y": (0.532, 0.535),
    "spine1_y": (0.592, 0.595),
    "spine2_y": (0.660, 0.665),
    "spine3_y": (0.718, 0.725),
    "collar_y": (0.786, 0.792),
    "shoulder_y": (0.808, 0.815),
    "neck_y": (0.838, 0.842),
    "head_y": (0.890, 0.893),
    "crown_y": (1.0, 1.0),
    "hip_x": (0.053, 0.048),
    "collar_x": (0.037, 0.040),
    "shoulder_x": (0.094, 0.102),
    "upper_arm": (0.166, 0.170),
    "forearm": (0.140, 0.145),
    "palm": (0.052, 0.055),
    "fingers": (0.052, 0.053),
    "heel_z": (-0.037, -0.038),
    "ball_z": (0.068, 0.070),
    "toe_z": (0.110, 0.114),
}
BREADTHS = ("hip_x", "collar_x", "shoulder_x")
"""Landmarks that scale like flesh (half as fast as lengths) with stature."""


def _torso(rows: list[tuple[float, float, float]]) -> np.ndarray:
    """``(S, 5)`` flesh of a left-right symmetric part from rows ``(a, b+, b-)``."""
    return np.array([(a, a, bp, bm, 0.0) for a, bp, bm in rows])


TORSO_FLESH = (
    # (female, male) (S, 5) fractions of stature: a+, a-, b+, b-, dw.
    _torso(
        [
            (0.020, 0.020, 0.020),
            (0.068, 0.045, 0.058),
            (0.102, 0.064, 0.086),
            (0.115, 0.068, 0.094),
            (0.110, 0.072, 0.084),
            (0.104, 0.076, 0.068),
            (0.099, 0.082, 0.062),
            (0.097, 0.080, 0.062),
            (0.096, 0.082, 0.062),
            (0.098, 0.094, 0.062),
            (0.098, 0.090, 0.064),
            (0.094, 0.070, 0.064),
            (0.090, 0.056, 0.058),
            (0.076, 0.044, 0.048),
            (0.052, 0.033, 0.037),
            (0.020, 0.015, 0.015),
        ]
    ),
    _torso(
        [
            (0.020, 0.020, 0.020),
            (0.060, 0.040, 0.050),
            (0.090, 0.058, 0.075),
            (0.100, 0.062, 0.083),
            (0.098, 0.064, 0.075),
            (0.098, 0.070, 0.064),
            (0.100, 0.080, 0.062),
            (0.099, 0.078, 0.062),
            (0.098, 0.074, 0.064),
            (0.098, 0.072, 0.066),
            (0.099, 0.072, 0.068),
            (0.100, 0.068, 0.068),
            (0.097, 0.058, 0.062),
            (0.082, 0.046, 0.052),
            (0.055, 0.034, 0.040),
            (0.020, 0.015, 0.015),
        ]
    ),
)
MALE_LIMB_FLESH = {
    # Shared by both sexes, scaled by FEMALE_LIMB_FACTOR for women.
    "head": np.array(
        [
            (0.020, 0.020, 0.020, 0.020, -0.006),
            (0.034, 0.034, 0.034, 0.034, -0.006),
            (0.033, 0.033, 0.034, 0.034, -0.006),
            (0.031, 0.031, 0.032, 0.032, -0.002),
            (0.040, 0.040, 0.046, 0.036, 0.004),
            (0.045, 0.045, 0.052, 0.046, 0.006),
            (0.047, 0.047, 0.054, 0.056, 0.004),
            (0.045, 0.045, 0.050, 0.055, 0.002),
            (0.036, 0.036, 0.038, 0.044, 0.002),
            (0.019, 0.019, 0.020, 0.024, 0.002),
            (0.000, 0.000, 0.000, 0.000, 0.002),
        ]
    ),
    "left_arm": np.array(  # u = front (+z), w = up (+y)
        [
            (0.020, 0.020, 0.020, 0.020, 0.0),
            (0.030, 0.030, 0.030, 0.030, 0.0),
            (0.036, 0.036, 0.038, 0.038, 0.0),
            (0.042, 0.042, 0.044, 0.040, 0.0),
            (0.040, 0.040, 0.041, 0.036, 0.0),
            (0.033, 0.033, 0.030, 0.030, 0.0),
            (0.026, 0.026, 0.025, 0.025, 0.0),
            (0.028, 0.028, 0.026, 0.026, 0.0),
            (0.023, 0.023, 0.020, 0.020, 0.0),
            (0.019, 0.019, 0.011, 0.011, 0.0),
            (0.025, 0.025, 0.012, 0.012, 0.0),
            (0.025, 0.025, 0.010, 0.010, 0.0),
            (0.022, 0.022, 0.008, 0.008, 0.0),
            (0.016, 0.016, 0.006, 0.006, 0.0),
            (0.006, 0.006, 0.003, 0.003, 0.0),
        ]
    ),
    "left_leg": np.array(  # u = lateral (+x), w = front (+z)
        [
            (0.020, 0.020, 0.020, 0.020, 0.0),
            (0.046, 0.046, 0.048, 0.048, 0.0),
            (0.054, 0.054, 0.056, 0.056, 0.0),
            (0.055, 0.055, 0.056, 0.058, 0.0),
            (0.047, 0.047, 0.049, 0.046, 0.0),
            (0.036, 0.036, 0.038, 0.034, 0.0),
            (0.033, 0.033, 0.034, 0.034, 0.0),
            (0.032, 0.032, 0.030, 0.040, 0.0),
            (0.033, 0.033, 0.029, 0.042, 0.0),
            (0.025, 0.025, 0.024, 0.027, 0.0),
            (0.021, 0.021, 0.022, 0.022, 0.0),
            (0.021, 0.021, 0.022, 0.022, 0.0),
            (0.010, 0.010, 0.010, 0.010, 0.0),
        ]
    ),
    "left_foot": np.array(  # u = lateral (+x), w = up (+y); dw is set to b- (sole on y = 0)
        [
            (0.012, 0.012, 0.014, 0.016, 0.0),
            (0.018, 0.018, 0.016, 0.016, 0.0),
            (0.021, 0.021, 0.022, 0.020, 0.0),
            (0.023, 0.023, 0.022, 0.021, 0.0),
            (0.027, 0.027, 0.015, 0.016, 0.0),
            (0.029, 0.029, 0.011, 0.011, 0.0),
            (0.027, 0.027, 0.009, 0.009, 0.0),
            (0.020, 0.020, 0.007, 0.007, 0.0),
            (0.010, 0.010, 0.005, 0.005, 0.0),
        ]
    ),
}
FEMALE_LIMB_FACTOR = {"head": 1.03, "left_arm": 0.96, "left_leg": 1.07, "left_foot": 0.97}
"""Women's flesh relative to men's, both as fractions of their own stature."""


def stature_stats_m(gender: str) -> tuple[float, float]:
    """Mean and SD of adult stature in metres; neutral is the 50/50 mixture of the two sexes."""
    mean = {s: STATURE_MEAN_CM[s] / CM_PER_M for s in Sex}
    sd = {s: STATURE_SD_CM[s] / CM_PER_M for s in Sex}
    if gender != "neutral":
        sex = Sex.MALE if gender == "male" else Sex.FEMALE
        return mean[sex], sd[sex]
    mix_mean = (mean[Sex.FEMALE] + mean[Sex.MALE]) / 2
    mix_var = sum(sd[s] ** 2 + (mean[s] - mix_mean) ** 2 for s in Sex) / 2
    return mix_mean, float(np.sqrt(mix_var))


def ln_bmi_sigma(gender: str) -> float:
    """SD of ln BMI within sex (population.py's lognormal fit); neutral averages the two."""
    if gender == "neutral":
        return (LN_BMI_SIGMA[Sex.FEMALE] + LN_BMI_SIGMA[Sex.MALE]) / 2
    return LN_BMI_SIGMA[Sex.MALE if gender == "male" else Sex.FEMALE]


def _fractions(gender: str) -> Design:
    """The design of a body of unit height: landmarks and flesh as fractions of stature."""
    weights = {"female": (1.0, 0.0), "male": (0.0, 1.0), "neutral": (0.5, 0.5)}[gender]
    landmarks = {k: weights[0] * f + weights[1] * m for k, (f, m) in LANDMARK_FRACTIONS.items()}
    flesh = {"torso": weights[0] * TORSO_FLESH[0] + weights[1] * TORSO_FLESH[1]}
    for part, male in MALE_LIMB_FLESH.items():
        flesh[part] = (weights[0] * FEMALE_LIMB_FACTOR[part] + weights[1]) * male
    return Design(landmarks, flesh)


def body_design(gender: str) -> Design:
    """The template design of a sex at its mean stature and mean BMI (metres)."""
    height_m = stature_stats_m(gender)[0]
    unit = _fractions(gender)
    return Design(
        {k: v * height_m for k, v in unit.landmarks.items()},
        {k: v * height_m for k, v in unit.flesh.items()},
    )


# ----------------------------------------------------------------------------------------------
# Parts: stations along a fixed frame

Lerp = tuple[str, str, float]
"""``(a, b, t)``: the coordinate ``(1 - t) * landmark a + t * landmark b``; "zero" reads 0."""


def at(a: str, b: str = "zero", t: float = 0.0) -> Lerp:
    """A station coordinate between two landmarks (``at("hip_y")`` is the hip height)."""
    return (a, b, t)


ZERO = at("zero")
X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)


@dataclass(frozen=True)
class PartSpec:
    """A closed tube: stations along a fixed frame, poles at the first and last station.

    Attributes:
        name: part name; a ``right_*`` part is the mirror image (x -> -x) of its ``left_*`` part.
        axis, u, w: ``(3,)`` world unit vectors: along the tube, and the two cross-section axes.
        stations: per station ``(x, y, z, exponent, girth)``: the axis point (three lerps), the
            superellipse exponent (2 = ellipse, larger is boxier) and the girth weight (how much
            the station's flesh grows with betas[1], relative to the body average).
        joints: joint name -> station index; the joint is the centroid of that station's ring.
        sole: the centre sits ``b-`` above the floor (the foot), so its bottom stays on y = 0.
    """

    name: str
    axis: np.ndarray
    u: np.ndarray
    w: np.ndarray
    stations: tuple[tuple[Lerp, Lerp, Lerp, float, float], ...]
    joints: dict[str, int]
    sole: bool = False


def _y_stations(x: Lerp, rows: list[tuple[Lerp, float, float]]) -> tuple:
    """Stations of a vertical part at constant x and z = 0 from rows ``(y, exponent, girth)``."""
    return tuple((x, y, ZERO, e, g) for y, e, g in rows)


TORSO = PartSpec(
    "torso",
    Y_AXIS,
    X_AXIS,
    Z_AXIS,
    _y_stations(
        ZERO,
        [
            (at("knee_y", "hip_y", 0.80), 2.2, 1.0),
            (at("knee_y", "hip_y", 0.86), 2.2, 1.0),
            (at("knee_y", "hip_y", 0.94), 2.4, 1.1),
            (at("hip_y"), 2.5, 1.1),
            (at("pelvis_y"), 2.5, 1.2),
            (at("pelvis_y", "spine1_y", 0.5), 2.4, 1.4),
            (at("spine1_y"), 2.3, 1.5),
            (at("spine1_y", "spine2_y", 0.5), 2.3, 1.5),
            (at("spine2_y"), 2.4, 1.3),
            (at("spine2_y", "spine3_y", 0.5), 2.5, 1.1),
            (at("spine3_y"), 2.5, 1.0),
            (at("spine3_y", "collar_y", 0.6), 2.5, 0.9),
            (at("collar_y", "shoulder_y", 0.5), 2.4, 0.8),
            (at("shoulder_y", "neck_y", 0.3), 2.3, 0.7),
            (at("shoulder_y", "neck_y", 0.65), 2.2, 0.6),
            (at("shoulder_y", "neck_y", 0.9), 2.0, 0.6),
        ],
    ),
    {"pelvis": 4, "spine1": 6, "spine2": 8, "spine3": 10},
)
HEAD = PartSpec(
    "head",
    Y_AXIS,
    X_AXIS,
    Z_AXIS,
    _y_stations(
        ZERO,
        [
            (at("spine3_y", "neck_y", 0.55), 2.0, 0.6),
            (at("spine3_y", "neck_y", 0.75), 2.0, 0.6),
            (at("neck_y"), 2.0, 0.6),
            (at("neck_y", "head_y", 0.55), 2.0, 0.5),
            (at("head_y"), 2.2, 0.3),
            (at("head_y", "crown_y", 0.12), 2.2, 0.2),
            (at("head_y", "crown_y", 0.40), 2.2, 0.1),
            (at("head_y", "crown_y", 0.65), 2.1, 0.1),
            (at("head_y", "crown_y", 0.85), 2.0, 0.1),
            (at("head_y", "crown_y", 0.96), 2.0, 0.1),
            (at("crown_y"), 2.0, 0.1),
        ],
    ),
    {"neck": 2, "head": 4},
)
LEFT_ARM = PartSpec(
    "left_arm",
    X_AXIS,
    Z_AXIS,
    Y_AXIS,
    (
        (at("collar_x", t=0.25), at("collar_y"), ZERO, 2.0, 0.8),
        (at("collar_x"), at("collar_y"), ZERO, 2.0, 0.8),
        (at("collar_x", "shoulder_x", 0.5), at("collar_y", "shoulder_y", 0.5), ZERO, 2.0, 0.8),
        (at("shoulder_x"), at("shoulder_y"), ZERO, 2.0, 0.9),
        (at("shoulder_x", "elbow_x", 0.15), at("shoulder_y"), ZERO, 2.0, 1.0),
        (at("shoulder_x", "elbow_x", 0.5), at("shoulder_y"), ZERO, 2.0, 1.0),
        (at("elbow_x"), at("shoulder_y"), ZERO, 2.0, 0.6),
        (at("elbow_x", "wrist_x", 0.25), at("shoulder_y"), ZERO, 2.0, 0.5),
        (at("elbow_x", "wrist_x", 0.6), at("shoulder_y"), ZERO, 2.0, 0.4),
        (at("wrist_x"), at("shoulder_y"), ZERO, 2.4, 0.15),
        (at("wrist_x", "hand_x", 0.45), at("shoulder_y"), ZERO, 3.0, 0.15),
        (at("hand_x"), at("shoulder_y"), ZERO, 3.0, 0.15),
        (at("hand_x", "tip_x", 0.5), at("shoulder_y"), ZERO, 3.0, 0.1),
        (at("hand_x", "tip_x", 0.85), at("shoulder_y"), ZERO, 2.5, 0.1),
        (at("tip_x"), at("shoulder_y"), ZERO, 2.0, 0.1),
    ),
    {"left_collar": 1, "left_shoulder": 3, "left_elbow": 6, "left_wrist": 9, "left_hand": 11},
)
LEFT_LEG = PartSpec(
    "left_leg",
    -Y_AXIS,
    X_AXIS,
    Z_AXIS,
    _y_stations(
        at("hip_x"),
        [
            (at("hip_y", "pelvis_y", 1.1), 2.0, 1.0),
            (at("hip_y", "pelvis_y", 0.6), 2.0, 1.1),
            (at("hip_y"), 2.0, 1.2),
            (at("knee_y", "hip_y", 0.82), 2.0, 1.3),
            (at("knee_y", "hip_y", 0.5), 2.0, 1.2),
            (at("knee_y", "hip_y", 0.17), 2.0, 0.8),
            (at("knee_y"), 2.1, 0.6),
            (at("ankle_y", "knee_y", 0.85), 2.0, 0.7),
            (at("ankle_y", "knee_y", 0.70), 2.0, 0.7),
            (at("ankle_y", "knee_y", 0.35), 2.0, 0.4),
            (at("ankle_y", "knee_y", 0.12), 2.0, 0.2),
            (at("ankle_y"), 2.0, 0.2),
            (at("ankle_y", t=0.4), 2.0, 0.2),
        ],
    ),
    {"left_hip": 2, "left_knee": 6, "left_ankle": 11},
)
LEFT_FOOT = PartSpec(
    "left_foot",
    Z_AXIS,
    X_AXIS,
    Y_AXIS,
    tuple(
        (at("hip_x"), ZERO, z, 2.6, 0.0)
        for z in (
            at("heel_z"),
            at("heel_z", t=0.88),
            at("heel_z", t=0.55),
            ZERO,
            at("ball_z", t=0.5),
            at("ball_z"),
            at("ball_z", "toe_z", 0.5),
            at("ball_z", "toe_z", 0.85),
            at("toe_z"),
        )
    ),
    {"left_foot": 5},
    sole=True,
)


def _mirror(spec: PartSpec) -> PartSpec:
    """The right-side twin of a left part: same stations, joints renamed (mirroring is in x)."""
    joints = {name.replace("left_", "right_"): i for name, i in spec.joints.items()}
    return PartSpec(
        spec.name.replace("left_", "right_"),
        spec.axis,
        spec.u,
        spec.w,
        spec.stations,
        joints,
        spec.sole,
    )


PARTS = (
    TORSO,
    HEAD,
    LEFT_ARM,
    _mirror(LEFT_ARM),
    LEFT_LEG,
    _mirror(LEFT_LEG),
    LEFT_FOOT,
    _mirror(LEFT_FOOT),
)
"""Vertex order of the mesh: part by part, in this order."""


def _source(spec: PartSpec) -> str:
    """The part whose flesh and geometry a part uses (``right_*`` mirrors ``left_*``)."""
    return spec.name.replace("right_", "left_")


def _is_mirrored(spec: PartSpec) -> bool:
    return spec.name.startswith("right_")


# ----------------------------------------------------------------------------------------------
# Stations -> rings -> vertices and faces

RESOLUTIONS = {
    # lod: part -> (N vertices a ring, R rings). LOD 0 has SMPL's 6890 vertices:
    # 42*33 + 32*21 + 2*20*52 + 2*24*45 + 2*16*18 + 8 parts * 2 poles = 6890.
    0: {"torso": (42, 33), "head": (32, 21), "arm": (20, 52), "leg": (24, 45), "foot": (16, 18)},
    1: {"torso": (16, 12), "head": (12, 9), "arm": (8, 14), "leg": (10, 12), "foot": (8, 6)},
}


@dataclass(frozen=True)
class RingLayout:
    """Where a part's rings sit.

    Attributes:
        u: ``(R,) float64`` station coordinate of each ring (station i is at u = i).
        around: N, the vertices of each ring.
    """

    u: np.ndarray
    around: int


def landmark_values(landmarks: dict[str, float]) -> dict[str, float]:
    """Landmarks plus the derived arm positions along x (all linear in the landmarks)."""
    values = dict(landmarks, zero=0.0)
    values["elbow_x"] = values["shoulder_x"] + values["upper_arm"]
    values["wrist_x"] = values["elbow_x"] + values["forearm"]
    values["hand_x"] = values["wrist_x"] + values["palm"]
    values["tip_x"] = values["hand_x"] + values["fingers"]
    return values


def station_geometry(spec: PartSpec, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(S, 3)`` and radii ``(S, 4)`` [a+, a-, b+, b-] (metres) of a left/centre part."""
    values = landmark_values(design.landmarks)
    lerp = [[(1 - t) * values[a] + t * values[b] for a, b, t in st[:3]] for st in spec.stations]
    flesh = design.flesh[_source(spec)]
    radii = flesh[:, :4]
    dw = radii[:, 3] if spec.sole else flesh[:, 4]
    centres = np.asarray(lerp) + dw[:, None] * spec.w
    return centres, radii


def catmull_rom_matrix(u: np.ndarray, num_stations: int) -> np.ndarray:
    """``(R, S)`` weights: ring values = matrix @ station values, uniform Catmull-Rom in u.

    The curve passes through every station (rows at integer u are one-hot); the phantom points
    beyond the ends are linear extrapolations ``2 P0 - P1``.
    """
    seg = np.clip(np.floor(u).astype(np.int64), 0, num_stations - 2)
    t = (u - seg)[:, None]
    basis = 0.5 * np.hstack(
        [-(t**3) + 2 * t**2 - t, 3 * t**3 - 5 * t**2 + 2, -3 * t**3 + 4 * t**2 + t, t**3 - t**2]
    )
    extended = np.zeros((len(u), num_stations + 2))
    rows = np.arange(len(u))[:, None]
    np.add.at(extended, (rows, seg[:, None] + np.arange(4)), basis)
    matrix = extended[:, 1:-1].copy()
    matrix[:, :2] += extended[:, :1] * [2.0, -1.0]
    matrix[:, -2:] += extended[:, -1:] * [-1.0, 2.0]
    return matrix


def _signed_power(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``sign(x) |x| ** (2 / exponent)``: the superellipse profile."""
    return np.sign(x) * np.abs(x) ** (2.0 / exponent)


def ring_vertices(
    spec: PartSpec, centres: np.ndarray, radii: np.ndarray, layout: RingLayout
) -> np.ndarray:
    """``(2 + R N, 3)`` vertices of a left/centre part: start pole, rings (ring-major), end pole.

    Ring vertex k sits at angle ``theta = 2 pi k / N`` from ``+w`` towards ``+u``.
    """
    matrix = catmull_rom_matrix(layout.u, len(spec.stations))
    exponent = matrix @ np.array([st[3] for st in spec.stations])
    # (R, S) @ (S, 3) -> (R, 3) ring centres; (R, S) @ (S, 4) -> (R, 4) ring radii
    ring_c, ring_r = matrix @ centres, matrix @ radii
    theta = 2 * np.pi * np.arange(layout.around) / layout.around
    sin, cos = np.sin(theta)[None, :], np.cos(theta)[None, :]
    along_u = np.where(sin >= 0, ring_r[:, :1], ring_r[:, 1:2]) * _signed_power(
        sin, exponent[:, None]
    )
    along_w = np.where(cos >= 0, ring_r[:, 2:3], ring_r[:, 3:4]) * _signed_power(
        cos, exponent[:, None]
    )
    rings = ring_c[:, None, :] + along_u[..., None] * spec.u + along_w[..., None] * spec.w
    return np.vstack([centres[:1], rings.reshape(-1, 3), centres[-1:]])


def _faces_outward(spec: PartSpec) -> bool:
    """Whether :func:`tube_faces`' winding points out of this part (mirroring flips it).

    Triangle (a, b, c) has normal ``axis x u`` at the ring's front (+w), which is outward when
    ``(axis x u) . w > 0``.
    """
    right_handed = float(np.cross(spec.axis, spec.u) @ spec.w) > 0
    return right_handed != _is_mirrored(spec)


def _kind(spec: PartSpec) -> str:
    """Resolution class of a part: torso, head, arm, leg or foot."""
    return spec.name.split("_")[-1]


@cache
def ring_layouts(lod: int) -> dict[str, RingLayout]:
    """Ring positions per part for a level of detail, the same for every sex and shape.

    Rings are spread evenly along the neutral body's profile length (axis travel and radius
    change, so rounded ends get more rings), then the nearest ring snaps onto each joint station.
    """
    design = body_design("neutral")
    layouts = {}
    for spec in PARTS:
        around, rings = RESOLUTIONS[lod][_kind(spec)]
        centres, radii = station_geometry(spec, design)
        profile = np.hstack([centres, radii.mean(axis=1, keepdims=True)])
        length = np.concatenate(
            [[0.0], np.cumsum(np.linalg.norm(np.diff(profile, axis=0), axis=1))]
        )
        u = np.interp(
            length[-1] * np.arange(1, rings + 1) / (rings + 1), length, np.arange(len(length))
        )
        for station in spec.joints.values():
            u[np.argmin(np.abs(u - station))] = station
        if np.any(np.diff(u) <= 0) or not set(spec.joints.values()) <= set(u):
            raise ValueError(f"LOD {lod}: too few rings for the joints of {spec.name}")
        layouts[spec.name] = RingLayout(u, around)
    return layouts


def part_slices(lod: int) -> dict[str, slice]:
    """Vertex range of each part in the mesh of a level of detail."""
    slices, start = {}, 0
    for spec in PARTS:
        layout = ring_layouts(lod)[spec.name]
        size = 2 + len(layout.u) * layout.around
        slices[spec.name] = slice(start, start + size)
        start += size
    return slices


def mesh_vertices(design: Design, lod: int) -> np.ndarray:
    """``(V, 3) float64`` vertices (metres) of a design at a level of detail."""
    parts = []
    for spec in PARTS:
        centres, radii = station_geometry(spec, design)
        vertices = ring_vertices(spec, centres, radii, ring_layouts(lod)[spec.name])
        parts.append(vertices * [-1.0, 1.0, 1.0] if _is_mirrored(spec) else vertices)
    return np.vstack(parts)


def mesh_faces(lod: int) -> np.ndarray:
    """``(F, 3) int64`` triangles, counter-clockwise seen from outside, every part closed."""
    slices = part_slices(lod)
    faces = []
    for spec in PARTS:
        layout = ring_layouts(lod)[spec.name]
        local = tube_faces(len(layout.u), layout.around, _faces_outward(spec))
        faces.append(local + slices[spec.name].start)
    return np.vstack(faces)


def mesh_volume(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Enclosed volume (m^3) of closed meshes ``(..., V, 3)`` by the divergence theorem.

    Overlapping parts count twice; the body's volume this way is a proxy for its mass.
    """
    tri = vertices[..., faces, :]  # (..., F, 3 corners, 3)
    return (
        np.einsum("...fi,...fi->...", tri[..., 0, :], np.cross(tri[..., 1, :], tri[..., 2, :])) / 6
    )


# ----------------------------------------------------------------------------------------------
# Joints and skinning


def joint_regressor(lod: int) -> np.ndarray:
    """``(J, V) float64``: each joint is the mean of the ring at its station (rows sum to 1)."""
    slices = part_slices(lod)
    regressor = np.zeros((NUM_JOINTS, slices[PARTS[-1].name].stop))
    for spec in PARTS:
        layout = ring_layouts(lod)[spec.name]
        for name, station in spec.joints.items():
            ring = int(np.flatnonzero(layout.u == station)[0])
            first = slices[spec.name].start + 1 + ring * layout.around
            regressor[JOINT_NAMES.index(name), first : first + layout.around] = 1 / layout.around
    return regressor


def _bone_ends(joints: np.ndarray, vertices: np.ndarray, lod: int) -> np.ndarray:
    """``(J, 3)`` far end of each joint's bone: its chain child, or a tip (crown, fingertip, toe).

    Pelvis and spine3 (several children) point up their spine; tips are the parts' end poles.
    """
    slices = part_slices(lod)
    tips = {"head": "head", "left_hand": "left_arm", "right_hand": "right_arm"}
    tips |= {"left_foot": "left_foot", "right_foot": "right_foot"}
    ends = np.empty_like(joints)
    for j, name in enumerate(JOINT_NAMES):
        if name in tips:
            ends[j] = vertices[slices[tips[name]].stop - 1]
        else:
            child = {"pelvis": "spine1", "spine3": "neck"}.get(name)
            ends[j] = joints[JOINT_NAMES.index(child) if child else list(PARENTS).index(j)]
    return ends


PART_BONES = {
    # part: (bone joint, capsule radius as a fraction of stature) candidates for its skinning
    # weights, and the blend width (fraction of stature). Right parts mirror left ones.
    "torso": (
        (
            ("pelvis", 0.085),
            ("spine1", 0.085),
            ("spine2", 0.085),
            ("spine3", 0.085),
            ("neck", 0.03),
            ("left_hip", 0.045),
            ("right_hip", 0.045),
            ("left_collar", 0.04),
            ("right_collar", 0.04),
        ),
        0.025,
    ),
    "head": ((("spine3", 0.06), ("neck", 0.03), ("head", 0.045)), 0.012),
    "left_arm": (
        (
            ("spine3", 0.05),
            ("left_collar", 0.035),
            ("left_shoulder", 0.025),
            ("left_elbow", 0.025),
            ("left_wrist", 0.025),
            ("left_hand", 0.02),
        ),
        0.012,
    ),
    "left_leg": (
        (("pelvis", 0.03), ("left_hip", 0.04), ("left_knee", 0.04), ("left_ankle", 0.04)),
        0.015,
    ),
    "left_foot": ((("left_ankle", 0.03), ("left_foot", 0.02)), 0.010),
}
MAX_INFLUENCES = 4
MIN_WEIGHT = 0.01
"""Weights below this (after keeping the 4 largest) are dropped and the rest renormalised."""


def part_bones(part: str) -> tuple[tuple[tuple[str, float], ...], float]:
    """The skinning candidates and blend width of a part (mirrored for ``right_*`` parts)."""
    bones, blend = PART_BONES[part.replace("right_", "left_")]
    if not part.startswith("right_"):
        return bones, blend
    return tuple((name.replace("left_", "right_"), r) for name, r in bones), blend


def segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``(P,)`` distances (metres) from points ``(P, 3)`` to the segment ``start -> end``."""
    bone = end - start
    t = np.clip((points - start) @ bone / max(float(bone @ bone), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - start - t[:, None] * bone, axis=1)


def _keep_largest(weights: np.ndarray) -> np.ndarray:
    """Rows ``(P, J)`` with only the 4 largest entries above MIN_WEIGHT kept, summing to 1."""
    weights = weights / weights.sum(axis=1, keepdims=True)
    rank = np.argsort(-weights, axis=1, kind="stable")
    keep = np.zeros_like(weights, dtype=bool)
    np.put_along_axis(keep, rank[:, :MAX_INFLUENCES], True, axis=1)
    weights = np.where(keep & (weights >= MIN_WEIGHT), weights, 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def skinning_weights(
    vertices: np.ndarray, joints: np.ndarray, lod: int, height_m: float
) -> np.ndarray:
    """``(V, J) float64`` LBS weights from distances to bone capsules, smooth, <= 4 per vertex.

    Each part is skinned by its :data:`PART_BONES`: with ``e_j`` the distance to bone j's capsule
    surface, ``w_j = exp(-((e_j - min_j e_j) / blend)^2)``, so a vertex equidistant from two bones
    (the ring at an elbow) splits evenly and the share fades over the blend width.
    """
    ends = _bone_ends(joints, vertices, lod)
    weights = np.zeros((len(vertices), NUM_JOINTS))
    for name, part in part_slices(lod).items():
        bones, blend = part_bones(name)
        index = [JOINT_NAMES.index(j) for j, _ in bones]
        surface = np.stack(
            [
                segment_distance(vertices[part], joints[j], ends[j]) - r * height_m
                for j, (_, r) in zip(index, bones, strict=True)
            ],
            axis=1,
        )
        excess = (surface - surface.min(axis=1, keepdims=True)) / (blend * height_m)
        weights[part.start : part.stop, index] = np.exp(-(excess**2))
    return _keep_largest(weights)


# ----------------------------------------------------------------------------------------------
# Pose correctives


CORRECTIVES = {
    # joint (both sides for left_/right_ names): (support radius, bulge, volume push), fractions
    # of stature. See the module docstring for the sparsity they imply.
    "hip": (0.07, 0.006, 0.004),
    "knee": (0.055, 0.007, 0.004),
    "ankle": (0.035, 0.003, 0.002),
    "foot": (0.025, 0.002, 0.001),
    "spine1": (0.08, 0.006, 0.002),
    "spine2": (0.08, 0.006, 0.002),
    "spine3": (0.08, 0.006, 0.002),
    "neck": (0.04, 0.003, 0.002),
    "collar": (0.05, 0.003, 0.002),
    "head": (0.035, 0.002, 0.001),
    "shoulder": (0.055, 0.005, 0.004),
    "elbow": (0.045, 0.005, 0.003),
    "wrist": (0.03, 0.003, 0.002),
    "hand": (0.025, 0.002, 0.001),
}


def corrective_support(
    vertices: np.ndarray, joints: np.ndarray, lod: int, height_m: float
) -> list[np.ndarray]:
    """Per non-root joint k (J - 1 entries), the vertices its pose features may move.

    Those of the parts that joint k skins, within its support radius of the joint at rest.
    """
    support = []
    for k, name in enumerate(JOINT_NAMES[1:], start=1):
        radius = CORRECTIVES[name.split("_")[-1]][0] * height_m
        near = np.linalg.norm(vertices - joints[k], axis=1) < radius
        mask = np.zeros(len(vertices), dtype=bool)
        for part, span in part_slices(lod).items():
            if name in {j for j, _ in part_bones(part)[0]}:
                mask[span] = near[span]
        support.append(np.flatnonzero(mask))
    return support


def pose_correctives(
    vertices: np.ndarray, joints: np.ndarray, lod: int, height_m: float
) -> np.ndarray:
    """``(V, 3, 207) float64`` local pose blend shapes on SMPL's features ``R_k - I``.

    For joint k with bone direction b, a supported vertex at rest offset r from the joint, unit
    normal n (r minus its component along b) and falloff ``phi = (1 - |r|^2 / radius^2)^2``::

        offset = phi * (bulge * (n . (R - I) b) * n + volume * (1 - cos angle) * n)

    with ``1 - cos angle = -trace(R - I) / 2``: the side the child bone swings towards bulges
    out, the other side thins, and the whole ring pushes out against LBS volume loss. Both
    terms are linear in ``R - I``, as SMPL's posedirs must be.
    """
    ends = _bone_ends(joints, vertices, lod)
    posedirs = np.zeros((len(vertices), 3, NUM_POSE_FEATURES))
    support = corrective_support(vertices, joints, lod, height_m)
    for k, index in enumerate(support, start=1):
        radius, bulge, volume = (c * height_m for c in CORRECTIVES[JOINT_NAMES[k].split("_")[-1]])
        bone = (ends[k] - joints[k]) / np.linalg.norm(ends[k] - joints[k])
        rel = vertices[index] - joints[k]
        perp = rel - (rel @ bone)[:, None] * bone
        normal = perp / np.maximum(np.linalg.norm(perp, axis=1, keepdims=True), 1e-9)
        falloff = (1 - (np.linalg.norm(rel, axis=1) / radius) ** 2) ** 2
        # (P, 3 i, 3 j): coefficient of feature (R - I)[i, j] on the offset's length along n
        along_n = bulge * normal[:, :, None] * bone[None, None, :] - 0.5 * volume * np.eye(3)
        coeff = falloff[:, None, None, None] * normal[:, :, None, None] * along_n[:, None]
        posedirs[index, :, 9 * (k - 1) : 9 * k] = coeff.reshape(len(index), 3, 9)
    return posedirs


def pose_feature_vertices(posedirs: np.ndarray) -> list[np.ndarray]:
    """Per non-root joint k, the vertices that its 9 pose features move (nonzero posedirs rows).

    ``posedirs (V, 3, 207)``; entry ``k - 1`` of the result is a sorted ``(P_k,) int64`` array.
    """
    moved = np.abs(posedirs).reshape(len(posedirs), 3, NUM_JOINTS - 1, 9).max(axis=(1, 3)) > 0
    return [np.flatnonzero(moved[:, k]) for k in range(NUM_JOINTS - 1)]


# ----------------------------------------------------------------------------------------------
# Shape directions


def _zero_like(design: Design) -> Design:
    """A design delta that changes nothing."""
    return Design(dict.fromkeys(design.landmarks, 0.0), {k: 0 * v for k, v in design.flesh.items()})


def stature_direction(design: Design, sd_m: float) -> Design:
    """betas[0]: lengths grow by ``sd_m / H``, breadths and flesh by half that (constant BMI)."""
    rate = sd_m / design.landmarks["crown_y"]
    landmarks = {k: v * rate * (0.5 if k in BREADTHS else 1.0) for k, v in design.landmarks.items()}
    return Design(landmarks, {k: v * rate / 2 for k, v in design.flesh.items()})


def _girth_shape(design: Design) -> Design:
    """Flesh radii scaled by each station's girth weight (uncalibrated betas[1])."""
    delta = _zero_like(design)
    for spec in PARTS:
        if spec.name in design.flesh:
            weight = np.array([st[4] for st in spec.stations])[:, None]
            delta.flesh[spec.name][:, :4] = weight * design.flesh[spec.name][:, :4]
    return delta


def body_volume(design: Design) -> float:
    """Summed volume (m^3) of the parts of the full mesh of a design (a mass proxy)."""
    return float(mesh_volume(mesh_vertices(design, 0), mesh_faces(0)))


def girth_direction(design: Design, sigma_ln_bmi: float) -> Design:
    """betas[1]: flesh widens so that ``d ln(volume) / d beta = sigma_ln_bmi`` at the template.

    At fixed height the mass is proportional to the volume, so one unit is one SD of ln BMI.
    The volume is quadratic in the design, so the central difference is its exact derivative.
    """
    shape = _girth_shape(design)
    rate = (
        body_volume(design_axpy(1.0, shape, design)) - body_volume(design_axpy(-1.0, shape, design))
    ) / 2
    scale = sigma_ln_bmi * body_volume(design) / rate
    return Design(shape.landmarks, {k: scale * v for k, v in shape.flesh.items()})


def _torso_ramp(values: dict[int, float]) -> np.ndarray:
    """``(S, 1)`` factors per torso station, zero except at the given stations."""
    out = np.zeros((len(TORSO.stations), 1))
    for i, v in values.items():
        out[i] = v
    return out


def leg_length_direction(design: Design) -> Design:
    """betas[2]: the hips rise by 1.2 % of stature, the legs stretch and the torso shortens."""
    delta, lm = _zero_like(design), design.landmarks
    rise = 0.012 * lm["crown_y"]
    for name in ("ankle_y", "knee_y", "hip_y"):
        delta.landmarks[name] = rise * lm[name] / lm["hip_y"]
    for name in ("pelvis_y", "spine1_y", "spine2_y", "spine3_y", "collar_y", "shoulder_y"):
        delta.landmarks[name] = rise * (lm["neck_y"] - lm[name]) / (lm["neck_y"] - lm["hip_y"])
    return delta


def shoulder_width_direction(design: Design) -> Design:
    """betas[3]: shoulder joints 0.6 % of stature further out, the upper torso broader."""
    delta, height = _zero_like(design), design.landmarks["crown_y"]
    delta.landmarks["shoulder_x"] = 0.006 * height
    delta.landmarks["collar_x"] = 0.003 * height
    ramp = _torso_ramp({9: 0.3, 10: 0.6, 11: 1.0, 12: 1.0, 13: 0.6, 14: 0.3})
    delta.flesh["torso"][:, :2] = 0.006 * height * ramp
    return delta


def hip_width_direction(design: Design) -> Design:
    """betas[4]: hip joints 0.4 % of stature further out, the pelvis region broader."""
    delta, height = _zero_like(design), design.landmarks["crown_y"]
    delta.landmarks["hip_x"] = 0.004 * height
    ramp = _torso_ramp({1: 0.5, 2: 0.8, 3: 1.0, 4: 0.8, 5: 0.4})
    delta.flesh["torso"][:, :2] = 0.008 * height * ramp
    return delta


def arm_length_direction(design: Design) -> Design:
    """betas[5]: upper arm, forearm, palm and fingers 3 % longer."""
    delta = _zero_like(design)
    for name in ("upper_arm", "forearm", "palm", "fingers"):
        delta.landmarks[name] = 0.03 * design.landmarks[name]
    return delta


def head_size_direction(design: Design) -> Design:
    """betas[6]: the head 4 % larger in every direction; the crown stays, the neck shortens."""
    delta, lm = _zero_like(design), design.landmarks
    delta.landmarks["head_y"] = -0.04 * (lm["crown_y"] - lm["head_y"])
    delta.flesh["head"][4:, :4] = 0.04 * design.flesh["head"][4:, :4]
    return delta


def chest_direction(design: Design) -> Design:
    """betas[7]: the chest (bust) 0.8 % of stature deeper in front."""
    delta = _zero_like(design)
    ramp = _torso_ramp({8: 0.3, 9: 1.0, 10: 1.0, 11: 0.5})
    delta.flesh["torso"][:, 2:3] = 0.008 * design.landmarks["crown_y"] * ramp
    return delta


def waist_direction(design: Design) -> Design:
    """betas[8]: the waist 0.8 % of stature wider and deeper (waist-to-hip ratio)."""
    delta = _zero_like(design)
    ramp = _torso_ramp({5: 0.5, 6: 1.0, 7: 1.0, 8: 0.5})
    delta.flesh["torso"][:, :4] = 0.008 * design.landmarks["crown_y"] * ramp
    return delta


def limb_bulk_direction(design: Design) -> Design:
    """betas[9]: upper arms, forearms, thighs and calves 6 % thicker."""
    delta = _zero_like(design)
    delta.flesh["left_arm"][2:9, :4] = 0.06 * design.flesh["left_arm"][2:9, :4]
    delta.flesh["left_leg"][1:11, :4] = 0.06 * design.flesh["left_leg"][1:11, :4]
    return delta


def shape_directions(gender: str) -> list[Design]:
    """The 10 design deltas of betas[0..9] for a sex (see the module docstring)."""
    design = body_design(gender)
    return [
        stature_direction(design, stature_stats_m(gender)[1]),
        girth_direction(design, ln_bmi_sigma(gender)),
        leg_length_direction(design),
        shoulder_width_direction(design),
        hip_width_direction(design),
        arm_length_direction(design),
        head_size_direction(design),
        chest_direction(design),
        waist_direction(design),
        limb_bulk_direction(design),
    ]


# ----------------------------------------------------------------------------------------------
# The model and its files


def build_model(gender: str, lod: int = 0) -> dict[str, np.ndarray]:
    """The SMPL arrays of a sex and level of detail, with exactly :data:`MODEL_KEYS`.

    ``v_template (V, 3)``, ``shapedirs (V, 3, 10)``, ``posedirs (V, 3, 207)``, ``J_regressor
    (24, V)``, ``weights (V, 24)`` float64; ``kintree_table (2, 24)``, ``f (F, 3)`` int64.
    """
    design = body_design(gender)
    height_m = design.landmarks["crown_y"]
    template = mesh_vertices(design, lod)
    regressor = joint_regressor(lod)
    joints = regressor @ template
    shapedirs = np.stack(
        [
            mesh_vertices(design_axpy(1.0, d, design), lod) - template
            for d in shape_directions(gender)
        ],
        axis=-1,
    )
    assert shapedirs.shape[-1] == NUM_BETAS
    return {
        "v_template": template,
        "shapedirs": shapedirs,
        "posedirs": pose_correctives(template, joints, lod, height_m),
        "J_regressor": regressor,
        "weights": skinning_weights(template, joints, lod, height_m),
        "kintree_table": np.stack([PARENTS, np.arange(NUM_JOINTS)]),
        "f": mesh_faces(lod),
    }


LANDMARK_VERTICES = {
    # smplx's extra-joint name: (part, station coordinate u, angle from +w towards +u in radians;
    # None = the part's end pole).
    "nose": ("head", 5.6, 0.0),
    "reye": ("head", 6.0, -0.38),
    "leye": ("head", 6.0, 0.38),
    "rear": ("head", 6.0, -np.pi / 2),
    "lear": ("head", 6.0, np.pi / 2),
    "LBigToe": ("left_foot", 7.0, -np.pi / 2),
    "LSmallToe": ("left_foot", 7.0, np.pi / 2),
    "LHeel": ("left_foot", 1.0, np.pi),
    "RBigToe": ("right_foot", 7.0, -np.pi / 2),
    "RSmallToe": ("right_foot", 7.0, np.pi / 2),
    "RHeel": ("right_foot", 1.0, np.pi),
    **{
        f"{side[0]}{finger}": (f"{side}_arm", u, angle)
        for side in ("left", "right")
        for finger, u, angle in (
            ("thumb", 11.0, np.pi / 2),
            ("index", 13.0, 1.1),
            ("middle", 14.0, None),
            ("ring", 13.0, -1.1),
            ("pinky", 12.5, -np.pi / 2),
        )
    },
}


def vertex_ids(lod: int) -> dict[str, int]:
    """smplx's ``vertex_ids`` for this mesh: the 21 extra keypoints (nose, eyes, ears, toes,
    heels, fingertips) as vertex indices; smplx needs them for a mesh other than SMPL's.

    Mirroring keeps local vertex order, so a right landmark uses its left twin's local index.
    """
    slices = part_slices(lod)
    ids = {}
    for key, (part, u, angle) in LANDMARK_VERTICES.items():
        layout = ring_layouts(lod)[part]
        if angle is None:
            ids[key] = slices[part].stop - 1
            continue
        ring = int(np.argmin(np.abs(layout.u - u)))
        k = round(angle / (2 * np.pi) * layout.around) % layout.around
        ids[key] = slices[part].start + 1 + ring * layout.around + k
    return ids


def model_filename(gender: str, lod: int, suffix: str) -> str:
    """``SMPL_<GENDER>[_LOD<n>].<suffix>``: smplx's name for LOD 0, with a LOD tag otherwise."""
    tag = "" if lod == 0 else f"_LOD{lod}"
    return f"SMPL_{gender.upper()}{tag}.{suffix}"


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive with fixed timestamps (np.savez stamps the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def write_smpl_folder(folder: Path) -> None:
    """Write the synthesized models where ``smplx.create(folder, model_type="smpl")`` finds them.

    Files under ``folder/smpl/``: ``SMPL_{FEMALE,MALE,NEUTRAL}.pkl`` (plain numpy pickles with
    exactly :data:`MODEL_KEYS`) and ``.npz`` copies; the low-poly ``SMPL_<GENDER>_LOD1.pkl`` and
    ``.npz``; ``vertex_ids.json`` (``{"lod0": {...}, "lod1": {...}}``, smplx's ``vertex_ids``
    argument, needed for LOD 1). The bytes depend only on :data:`SYNTH_MODEL_VERSION` (for a
    given numpy build: BLAS may round the last bit differently elsewhere).
    """
    smpl = Path(folder) / "smpl"
    smpl.mkdir(parents=True, exist_ok=True)
    for gender in GENDERS:
        for lod in LODS:
            arrays = build_model(gender, lod)
            (smpl / model_filename(gender, lod, "pkl")).write_bytes(
                pickle.dumps(arrays, protocol=4)
            )
            (smpl / model_filename(gender, lod, "npz")).write_bytes(_npz_bytes(arrays))
    ids = {f"lod{lod}": vertex_ids(lod) for lod in LODS}
    (smpl / "vertex_ids.json").write_text(json.dumps(ids, indent=1, sort_keys=True) + "\n")


DATA_ENV_VAR = "SYNTHTWIN_DATA"
"""Environment variable naming the data folder that holds the body cache."""


def data_root(data_dir: Path | None = None) -> Path:
    """The data folder: ``data_dir`` if given, else ``$SYNTHTWIN_DATA``, else ``./data``."""
    return Path(data_dir) if data_dir is not None else Path(os.environ.get(DATA_ENV_VAR) or "data")


def synth_model_dir(data_dir: Path | None = None) -> Path:
    """Cache folder of the synthesized models: ``<data>/body/<SYNTH_MODEL_VERSION>``."""
    return data_root(data_dir) / "body" / SYNTH_MODEL_VERSION


def ensure_folder(folder: Path, write: Callable[[Path], object]) -> Path:
    """``folder``, first made by ``write(folder)`` unless it is there.

    Written into a staging folder beside it and renamed into place, so a reader never sees a
    half-written folder and a concurrent generator that loses the race discards its copy.
    """
    folder = Path(folder)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write(staging)
        os.rename(staging, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def ensure_synth_models(folder: Path) -> Path:
    """The synthesized model files in ``folder``, generated unless they are there."""
    return ensure_folder(folder, write_smpl_folder)


def synth_body(gender: str = "neutral", lod: int = 0, data_dir: Path | None = None) -> BodyModel:
    """SynthTwin's synthesized body model, generated into :func:`synth_model_dir` on first use.

    Args:
        gender: "neutral", "female" or "male".
        lod: 0 for the full mesh (6890 vertices), 1 for the low-poly crowd mesh.
        data_dir: overrides ``$SYNTHTWIN_DATA`` / ``./data`` as the cache root.
    """
    gender = gender.lower()
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    if lod not in LODS:
        raise ValueError(f"lod must be one of {LODS}, got {lod!r}")
    folder = ensure_synth_models(synth_model_dir(data_dir))
    return BodyModel.load(folder / "smpl" / model_filename(gender, lod, "npz"))
