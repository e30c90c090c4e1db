"""Baked skinning matrices: every clip's joint transforms at every key frame, for GPU skinning.

Pattern: *animation texture* (GPU Gems 3, ch. 2, "Animated Crowd Rendering"): at start, forward
kinematics runs once per clip frame on the CPU (``BodyModel.joint_transforms``, the project's
numba FK) and the results go into one float texture; each frame the vertex shader then fetches
the matrices of a twin's clip at its phase and skins the shared body mesh with them, so a crowd
costs one instanced draw and no per-twin CPU work beyond its instance record.

Layout: row ``clip_row[c] + k`` holds frame ``k`` of clip ``c`` (``clip_frames[c]`` frames, as
stored in the clip: frame ``k`` at phase ``k / T``, the loop closing back to frame 0, as
``kernels.animation.sample_clip`` reads them); its 72 texels are the 24 joints' 3 x 4 matrices,
row-major, one matrix row (RGBA) per texel. Each matrix carries the clip's vertical root offset
(SMPL ``trans`` y: sitting lowers the pelvis); the forward root motion is the twin's own.
Glossary: R baked frames (all clips), J = 24 joints, C clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.body import BodyModel
from engine.motion import ClipLibrary

__all__ = ["AnimationTexture", "bake"]


@dataclass(frozen=True)
class AnimationTexture:
    """The baked matrices and where each clip's rows start.

    Attributes:
        matrices: ``(R, J, 3, 4) float32``: per baked frame, each joint's rest-to-posed transform
            (SMPL body frame: y up, facing +z, metres), root offset included.
        clip_row: ``(C,) int32`` first row of each clip.
        clip_frames: ``(C,) int32`` frames of each clip.
    """

    matrices: np.ndarray
    clip_row: np.ndarray
    clip_frames: np.ndarray

    @property
    def texels(self) -> np.ndarray:
        """``(R, J * 3, 4) float32``: the texture's RGBA texels, one matrix row each."""
        rows, joints = self.matrices.shape[:2]
        return self.matrices.reshape(rows, joints * 3, 4)

    def sample(self, clip: int, phase: float) -> np.ndarray:
        """``(J, 3, 4) float32``: a clip's matrices at ``phase``, blended linearly between the two
        nearest frames as the shader does."""
        frames = int(self.clip_frames[clip])
        position = (phase % 1.0) * frames
        first = min(int(np.floor(position)), frames - 1)
        weight = np.float32(position - first)
        row = int(self.clip_row[clip])
        before = self.matrices[row + first]
        after = self.matrices[row + (first + 1) % frames]
        return (1 - weight) * before + weight * after


def bake(library: ClipLibrary, body: BodyModel) -> AnimationTexture:
    """Forward kinematics of every frame of every clip of ``library`` on ``body``'s template."""
    matrices = []
    for clip in library.clips:
        transforms = body.joint_transforms(clip.poses)  # (T, J, 3, 4)
        transforms[:, :, 1, 3] += clip.trans[:, 1, None]  # the root's vertical offset
        matrices.append(transforms)
    frames = np.array([len(m) for m in matrices], np.int32)
    rows = np.concatenate([[0], np.cumsum(frames)[:-1]]).astype(np.int32)
    return AnimationTexture(np.concatenate(matrices), rows, frames)
