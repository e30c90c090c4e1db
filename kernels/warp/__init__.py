"""Warp kernels: one source for the CPU and CUDA."""

from synthtwin.kernels.warp.skinning import (
    DenseCorrectives,
    Influences,
    LocalCorrectives,
    WarpSkinner,
    blend_shapes,
    forward_kinematics,
    mat34,
    rodrigues,
    skin,
    skin_kernel,
)

__all__ = [
    "DenseCorrectives",
    "Influences",
    "LocalCorrectives",
    "WarpSkinner",
    "blend_shapes",
    "forward_kinematics",
    "mat34",
    "rodrigues",
    "skin",
    "skin_kernel",
]
