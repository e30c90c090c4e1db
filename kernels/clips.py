"""Motion clips: the AMASS / SynBody ``.npz`` layout, and the library every pose is sampled from.

A :class:`Clip` is one looped motion on SMPL's 24 joints; :func:`load_clip` reads a user's real
AMASS / SynBody file (or one that ``synthtwin.engine.synth.motion.write_clips`` wrote) and
:func:`clip_arrays` is the layout it writes. Crowds carry only their animation state; a full pose
(24 joint rotations) is made on demand, for the twins someone needs as skeletons or meshes, by
:class:`ClipLibrary`: sampling the twin's clip at its phase and slerping from the clip it is
fading out of (the math of :mod:`synthtwin.kernels.animation`, compiled in
:mod:`synthtwin.kernels.numba.poses`).

Glossary: T frames, J = 24 joints, N twins, C clips.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthtwin.kernels.animation import axis_angle_to_quat
from synthtwin.kernels.numba.poses import pack_frames, sample_poses
from synthtwin.kernels.smpl import GENDERS, NUM_BETAS, NUM_JOINTS

__all__ = ["Clip", "ClipFileError", "ClipLibrary", "clip_arrays", "load_clip"]

POSE_WIDTH = 3 * NUM_JOINTS
SMPLH_BODY_WIDTH = 66
"""Axis-angle numbers of the root and SMPL-H / SMPL-X's 21 body joints (SMPL joints 0-21)."""
POSE_WIDTHS = {72: "SMPL", 156: "SMPL-H", 165: "SMPL-X"}
FRAMERATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
MAX_FRAMERATE_HZ = 1000.0


class ClipFileError(ValueError):
    """A motion clip file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Clip:
    """A looped motion clip on SMPL's 24 joints.

    Attributes:
        name: the clip's name (the file's stem when loaded).
        poses: ``(T, J, 3) float32`` axis-angle (radians), global orientation first.
        trans: ``(T, 3) float32`` root translation (metres).
        framerate_hz: frames per second.
        betas: ``(B,) float32`` shape coefficients of the body it was recorded on.
        gender: "female", "male" or "neutral".
    """

    name: str
    poses: np.ndarray
    trans: np.ndarray
    framerate_hz: float
    betas: np.ndarray
    gender: str

    @property
    def num_frames(self) -> int:
        return len(self.poses)

    @property
    def period_s(self) -> float:
        """Seconds of one loop (the frame after the last is the first again)."""
        return self.num_frames / self.framerate_hz


def clip_arrays(clip: Clip) -> dict[str, np.ndarray]:
    """A clip in the AMASS ``.npz`` layout (the module docstring lists the keys)."""
    return {
        "poses": clip.poses.reshape(clip.num_frames, POSE_WIDTH),
        "trans": clip.trans,
        "betas": clip.betas,
        "mocap_framerate": np.array(clip.framerate_hz, dtype=np.float64),
        "gender": np.array(clip.gender),
    }


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, refusing pickled objects."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ClipFileError(f"{path}: cannot read it as an .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ClipFileError(f"{path}: expected an .npz archive of named arrays, got one array")
    with archive:
        try:
            return {key: archive[key] for key in archive.files}
        except ValueError as error:
            raise ClipFileError(f"{path}: an entry holds Python objects: {error}") from error


def _require(path: Path, arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    """The array of the first of ``keys`` present, or a :class:`ClipFileError` naming them."""
    for key in keys:
        if key in arrays:
            return arrays[key]
    wanted = " or ".join(repr(k) for k in keys)
    raise ClipFileError(f"{path}: missing key {wanted} (found {', '.join(sorted(arrays))})")


def _finite(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float32, or a :class:`ClipFileError` if it holds NaN or infinity."""
    if not np.issubdtype(array.dtype, np.number):
        raise ClipFileError(f"{path}: key {key!r} must be numeric, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ClipFileError(f"{path}: key {key!r} holds NaN or infinite values")
    return array.astype(np.float32)


def _smpl_poses(path: Path, poses: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` SMPL axis-angle from ``(T, 72)`` SMPL, ``(T, 156)`` SMPL-H or ``(T, 165)``
    SMPL-X poses: of the latter two, the root and 21 body joints (the first 66 numbers, SMPL
    joints 0-21); SMPL's two hand joints are set to zero, the fingers (and jaw, eyes) dropped."""
    if poses.ndim != 2 or poses.shape[1] not in POSE_WIDTHS or len(poses) < 2:
        widths = ", ".join(f"{w} ({model})" for w, model in POSE_WIDTHS.items())
        raise ClipFileError(
            f"{path}: key 'poses' has shape {poses.shape}, expected (T, W) with T >= 2 frames "
            f"and W one of {widths}"
        )
    body = np.zeros((len(poses), POSE_WIDTH), dtype=np.float32)
    width = POSE_WIDTH if poses.shape[1] == POSE_WIDTH else SMPLH_BODY_WIDTH
    body[:, :width] = poses[:, :width]
    return body.reshape(len(poses), NUM_JOINTS, 3)


def _framerate_hz(path: Path, value: np.ndarray) -> float:
    """The frame rate as a float in (0, :data:`MAX_FRAMERATE_HZ`] Hz, or a ClipFileError."""
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise ClipFileError(f"{path}: the frame rate must be one number, got {value!r}")
    rate = float(value.reshape(()))
    if not 0 < rate <= MAX_FRAMERATE_HZ:
        raise ClipFileError(
            f"{path}: frame rate {rate} Hz is out of range, expected 0 < rate <= "
            f"{MAX_FRAMERATE_HZ:g}"
        )
    return rate


def _gender(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """The file's gender (a str or bytes scalar), "neutral" when absent, one of GENDERS."""
    if "gender" not in arrays:
        return "neutral"
    value = arrays["gender"]
    if value.size != 1:
        raise ClipFileError(f"{path}: key 'gender' must be one string, got shape {value.shape}")
    item = value.reshape(()).item()
    gender = item.decode() if isinstance(item, bytes) else str(item)
    if gender not in GENDERS:
        raise ClipFileError(f"{path}: gender {gender!r} is not one of {', '.join(GENDERS)}")
    return gender


def load_clip(path: Path | str) -> Clip:
    """Read an AMASS / SynBody ``.npz`` motion file (or one :func:`write_clips` wrote).

    Keys: ``poses (T, 72 | 156 | 165)`` (SMPL, SMPL-H or SMPL-X axis-angle, see
    :func:`_smpl_poses` for what is kept), ``trans (T, 3)`` metres, ``mocap_framerate`` (or
    ``mocap_frame_rate``) in Hz; optional ``betas (B,)`` (zeros(10) when absent) and ``gender``
    ("neutral" when absent). Other keys are ignored. Coordinates are taken as they are: AMASS's
    world is z-up, SynthTwin's y-up.

    Raises:
        FileNotFoundError: no such file.
        ClipFileError: not an ``.npz``, a missing key, a wrong shape, fewer than 2 frames, a
            frame rate outside (0, 1000] Hz, NaN or infinite values, an unknown gender; the
            message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion clip file not found: {path}")
    arrays = _read_archive(path)
    poses = _smpl_poses(path, _finite(path, "poses", _require(path, arrays, ("poses",))))
    trans = _finite(path, "trans", _require(path, arrays, ("trans",)))
    if trans.shape != (len(poses), 3):
        raise ClipFileError(
            f"{path}: key 'trans' has shape {trans.shape}, expected ({len(poses)}, 3) to match "
            "'poses'"
        )
    betas = _finite(path, "betas", arrays.get("betas", np.zeros(NUM_BETAS)))
    if betas.ndim != 1:
        raise ClipFileError(f"{path}: key 'betas' has shape {betas.shape}, expected (B,)")
    return Clip(
        name=path.stem,
        poses=poses,
        trans=trans,
        framerate_hz=_framerate_hz(path, _require(path, arrays, FRAMERATE_KEYS)),
        betas=betas,
        gender=_gender(path, arrays),
    )


@dataclass
class ClipLibrary:
    """Clips by code (``synthtwin.components.pose.CLIPS``), as quaternions, with their strides.

    Attributes:
        clips: one :class:`Clip` per name, in ``CLIPS`` order.
        quats: per clip, ``(T, 24, 4) float32`` joint rotations (w, x, y, z).
        stride_m: ``(C,) float32`` metres the root advances per loop (0 for postures).
        period_s: ``(C,) float32`` seconds one loop lasts at the clip's frame rate.
        frames, start, count: every clip's quaternions in one ``(F, 24, 4) float32`` array, clip
            ``c`` at rows ``start[c] : start[c] + count[c]`` (``kernels.numba.poses``).
        root_height: ``(F,) float32`` each of those frames' vertical root offset (``trans`` y).
    """

    clips: list[Clip]
    quats: list[np.ndarray]
    stride_m: np.ndarray
    period_s: np.ndarray
    frames: np.ndarray = field(init=False)
    start: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)
    root_height: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.frames, self.start, self.count = pack_frames(self.quats)
        self.root_height = np.concatenate([c.trans[:, 1] for c in self.clips]).astype(np.float32)

    @classmethod
    def load(cls, folder: Path | str, names: tuple[str, ...]) -> ClipLibrary:
        """The clips ``<folder>/<name>.npz`` of ``names``, in that order (:func:`load_clip`)."""
        return cls.from_clips([load_clip(Path(folder) / f"{name}.npz") for name in names])

    @classmethod
    def from_clips(cls, clips: list[Clip]) -> ClipLibrary:
        """The library of ``clips``, in the order of their codes."""
        quats = [axis_angle_to_quat(c.poses).astype(np.float32) for c in clips]
        strides = np.array([_stride(c) for c in clips], dtype=np.float32)
        periods = np.array([len(c.poses) / c.framerate_hz for c in clips], dtype=np.float32)
        return cls(clips, quats, strides, periods)

    def poses(
        self, clip: np.ndarray, previous: np.ndarray, phase: np.ndarray, blend: np.ndarray
    ) -> np.ndarray:
        """``(N, 24, 4) float32`` joint rotations of N twins from their animation state.

        Args:
            clip, previous: ``(N,) uint8`` clip now and clip being faded out.
            phase: ``(N,)`` position in the loop, 0..1. blend: ``(N,)`` weight of ``clip``.
        """
        return sample_poses(self.frames, self.start, self.count, clip, previous, phase, blend)

    def root_height_m(self, clip: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``(N,) float32`` the clip's vertical root offset (SMPL ``trans`` y) at ``phase``
        (the frame at or before it)."""
        count = self.count[clip]
        frame = np.minimum((np.asarray(phase) * count).astype(np.int64), count - 1)
        return self.root_height[self.start[clip] + frame]


def _stride(clip: Clip) -> float:
    """Metres the root advances over one loop of ``clip``: from the first frame to the frame
    after the last (the last frame plus its own step)."""
    trans = clip.trans.astype(np.float64)
    return float(np.linalg.norm(2 * trans[-1] - trans[-2] - trans[0]))
