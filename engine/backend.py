"""Backend: where dense columns live and which array module the systems use.

``cpu`` keeps columns in numpy arrays and runs numba kernels. The CUDA kernels of the life systems
arrive with the GPU work (issue #3): until then ``auto`` resolves to ``cpu`` and ``cuda`` fails
with a message that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = ["Backend", "BackendError", "select_backend"]


class BackendError(RuntimeError):
    """The requested device cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Backend:
    """A compute device: its name and its array module (numpy here)."""

    name: str
    xp: ModuleType


def select_backend(device: str) -> Backend:
    """``auto`` and ``cpu`` give the CPU backend; ``cuda`` fails loudly until its kernels exist."""
    if device in ("auto", "cpu"):
        return Backend("cpu", np)
    if device == "cuda":
        raise BackendError(
            "device 'cuda': the CUDA backend of the life systems is not part of this build yet; "
            "run with --device cpu (or auto)"
        )
    raise BackendError(f"device {device!r}: expected 'auto', 'cpu' or 'cuda'")
