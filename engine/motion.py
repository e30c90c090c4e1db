"""The clip library: every twin's pose, made from its animation state (clip, phase, blend).

Crowds carry only their animation state; a full pose (24 joint rotations) is made on demand, for
the twins someone needs as skeletons or meshes, by sampling the twin's clip at its phase and
slerping from the clip it is fading out of (``kernels.animation``). Clips are SynthTwin's
synthesized ones (``engine.synth.motion``) unless the user supplies AMASS/SynBody files with the
same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from components.pose import CLIPS
from engine.synth.motion import Clip, load_clip, synth_clip
from kernels.animation import axis_angle_to_quat, blend_poses, sample_clip

__all__ = ["ClipLibrary", "default_library"]


@dataclass
class ClipLibrary:
    """The clips of :data:`components.pose.CLIPS`, as quaternions, with their strides.

    Attributes:
        clips: one :class:`Clip` per name, in ``CLIPS`` order.
        quats: per clip, ``(T, 24, 4) float32`` joint rotations (w, x, y, z).
        stride_m: ``(C,) float32`` metres the root advances per loop (0 for postures).
        period_s: ``(C,) float32`` seconds one loop lasts at the clip's frame rate.
    """

    clips: list[Clip]
    quats: list[np.ndarray]
    stride_m: np.ndarray
    period_s: np.ndarray

    @classmethod
    def synthesized(cls, folder: Path | None = None) -> ClipLibrary:
        """SynthTwin's clips; a ``folder`` of ``<clip>.npz`` files replaces those it holds."""
        clips = []
        for name in CLIPS:
            path = Path(folder) / f"{name}.npz" if folder is not None else None
            clips.append(
                load_clip(path) if path is not None and path.is_file() else synth_clip(name)
            )
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
        current = self._sample(clip, phase)
        fading = blend < 1.0
        if fading.any():
            before = self._sample(previous[fading], phase[fading])
            current[fading] = blend_poses(before, current[fading], blend[fading])
        return current

    def root_height_m(self, clip: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``(N,) float32`` the clip's vertical root offset (SMPL ``trans`` y) at ``phase``."""
        height = np.empty(len(clip), dtype=np.float32)
        for code in np.unique(clip):
            rows = clip == code
            trans = self.clips[code].trans
            frame = np.minimum((phase[rows] * len(trans)).astype(np.int64), len(trans) - 1)
            height[rows] = trans[frame, 1]
        return height

    def _sample(self, clip: np.ndarray, phase: np.ndarray) -> np.ndarray:
        out = np.empty((len(clip), 24, 4), dtype=np.float32)
        for code in np.unique(clip):
            rows = clip == code
            out[rows] = sample_clip(self.quats[code], phase[rows])
        return out


def _stride(clip: Clip) -> float:
    """Metres the root advances over one loop of ``clip``: from the first frame to the frame
    after the last (the last frame plus its own step)."""
    trans = clip.trans.astype(np.float64)
    return float(np.linalg.norm(2 * trans[-1] - trans[-2] - trans[0]))


@cache
def default_library() -> ClipLibrary:
    """The synthesized clips, built once per process (about 0.7 s)."""
    return ClipLibrary.synthesized()
