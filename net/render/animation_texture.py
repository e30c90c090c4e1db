"""Baked skinning matrices: every clip's joint transforms at every key frame, for skinning.

Pattern: *baked animation* (GPU Gems 3, ch. 2, "Animated Crowd Rendering"), sampled on the CPU:
at start, forward kinematics runs once per clip frame (``BodyModel.joint_transforms``, the
project's numba FK); each frame :func:`body_matrices` blends every drawn twin's two nearest baked
frames and places them at the twin's position and heading, one ``(J, 3, 4)`` set per body (about
0.4 ms of numpy for a hundred bodies), and the vertex shader skins the shared body mesh with four
matrices (12 texel fetches) a vertex and no frame blending (on llvmpipe the vertex shader runs on
the CPU too, once per vertex of every body: blending there cost 24 fetches a vertex).

Layout: ``matrices[clip_row[c] + k]`` holds frame ``k`` of clip ``c`` (``clip_frames[c]`` frames,
as stored in the clip: frame ``k`` at phase ``k / T``, the loop closing back to frame 0, as
``kernels.animation.sample_clip`` reads them): the 24 joints' 3 x 4 matrices. Each matrix
carries the clip's vertical root offset (SMPL ``trans`` y: sitting lowers the pelvis); the
forward root motion is the twin's own.
Glossary: R baked frames (all clips), J = 24 joints, C clips, B drawn bodies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.smpl import BodyModel

__all__ = ["AnimationTexture", "bake", "body_matrices"]


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

    def sample(self, clip: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``(B, J, 3, 4) float32``: clips ``(B,)`` at phases ``(B,)``, each blended linearly
        between its two nearest baked frames."""
        clip = np.asarray(clip, np.int64)
        frames = self.clip_frames[clip]
        position = np.mod(np.asarray(phase, np.float64), 1.0) * frames
        first = np.minimum(np.floor(position).astype(np.int64), frames - 1)
        weight = (position - first).astype(np.float32)[:, None, None, None]
        row = self.clip_row[clip]
        before = self.matrices[row + first]
        after = self.matrices[row + (first + 1) % frames]
        return before + weight * (after - before)


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


def body_matrices(
    texture: AnimationTexture,
    clip: np.ndarray,
    phase: np.ndarray,
    heading_rad: np.ndarray,
    offset_m: np.ndarray,
) -> np.ndarray:
    """``(B, J, 3, 4) float32``: each body's joint matrices from its rest mesh (SMPL frame) to
    the world (x east, y north, z up, metres from ``offset_m``'s origin), at clips ``(B,)`` and
    phases ``(B,)``, facing ``heading_rad (B,)`` (0 = east, counter-clockwise), standing at
    ``offset_m (B, 2)``.

    SMPL's axes (x the body's left, y up, z forward) go to the world with the body facing its
    heading: forward -> (cos h, sin h, 0), left -> (-sin h, cos h, 0), up -> (0, 0, 1).
    """
    posed = texture.sample(clip, phase)  # (B, J, 3, 4)
    cos, sin = np.cos(heading_rad), np.sin(heading_rad)
    placing = np.zeros((len(cos), 3, 3), np.float32)  # (B, 3, 3) SMPL -> world rotation
    placing[:, 0, 0], placing[:, 0, 2] = -sin, cos
    placing[:, 1, 0], placing[:, 1, 2] = cos, sin
    placing[:, 2, 1] = 1.0
    # (B, 3, 3) @ (B, J, 3, 4) -> (B, J, 3, 4)
    world = np.einsum("bwr,bjrc->bjwc", placing, posed)
    world[:, :, :2, 3] += np.asarray(offset_m, np.float32)[:, None, :]
    return world
