"""Backend: the compute device of the kernels, and device copies of the columns they need.

``--device auto|cpu|cuda``:

- ``cpu``: every system runs on the CPU (numba kernels over numpy columns).
- ``cuda``: the physiology kernel runs on an NVIDIA GPU in CuPy
  (``kernels.cupy.physiology``, the same equations as the numba kernel) and the skinning system
  on Warp's CUDA device (``kernels.warp.skinning``); every other system still runs on the CPU.
- ``auto``: ``cuda`` when a GPU is visible (CuPy imports, NVRTC loads, a device answers), else
  ``cpu``.

The World's columns are numpy arrays on the host on every backend: behaviour, health,
replication and the network read them each tick. A system whose kernel runs on the GPU stages its
columns through ``DeviceColumns`` (Pattern: staging buffers): copy in, launch, copy back, each
tick. Keeping the physiology state resident on the GPU would save those copies only once every
system that reads vitals runs there too; until then the copies (289 bytes per twin and tick, see
``kernels/cupy/physiology.py``) are the price of the GPU kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "DEVICES",
    "Backend",
    "BackendError",
    "DeviceColumns",
    "cuda_unavailable_reason",
    "select_backend",
]

DEVICES = ("auto", "cpu", "cuda")
"""The values of ``--device``."""

CUDA_INSTALL_HINT = "pip install -e '.[cuda]' (CuPy for CUDA 12 and NVRTC; needs an NVIDIA driver)"


class BackendError(RuntimeError):
    """The requested device cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Backend:
    """A compute device: its name (``"cpu"`` or ``"cuda"``) and the array module of arrays on
    it (``numpy`` or ``cupy``). Columns stay numpy arrays on the host either way."""

    name: str
    xp: ModuleType


def cuda_unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can.

    Checks that CuPy imports, that NVRTC (CuPy's run-time compiler) loads, and that the CUDA
    runtime sees at least one device. Never raises.
    """
    try:
        import cupy
    except ImportError:
        return f"CuPy is not installed; {CUDA_INSTALL_HINT}"
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # noqa: BLE001 - any failure to load NVRTC means no kernels
        return f"NVRTC, CuPy's CUDA compiler, does not load ({error}); {CUDA_INSTALL_HINT}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as error:
        return f"no CUDA GPU is visible ({error})"
    if count == 0:
        return "no CUDA GPU is visible (the CUDA runtime reports 0 devices)"
    return None


def select_backend(device: str) -> Backend:
    """The backend for ``--device``: ``cpu``; ``cuda`` (or a ``BackendError`` that says what to
    do); ``auto``: ``cuda`` when ``cuda_unavailable_reason()`` finds nothing wrong, else ``cpu``.
    """
    if device not in DEVICES:
        raise BackendError(f"device {device!r}: expected 'auto', 'cpu' or 'cuda'")
    if device == "cpu":
        return Backend("cpu", np)
    reason = cuda_unavailable_reason()
    if reason is None:
        import cupy

        return Backend("cuda", cupy)
    if device == "auto":
        return Backend("cpu", np)
    raise BackendError(
        f"device 'cuda': {reason}. Run with --device cpu (or auto, which falls back to the CPU), "
        "or on a machine with an NVIDIA GPU"
    )


class DeviceColumns:
    """Device copies of named host columns, for a kernel that runs on a GPU backend.

    Pattern: staging buffers. Each name gets one ``(capacity,)`` device buffer of its column's
    dtype, allocated on first use and reallocated (doubled) only when the live rows outgrow it;
    ``upload`` copies the live rows in before a launch and ``download`` copies results back
    after it. Copies run on CuPy's current stream; ``download`` waits for them.

    Args:
        xp: the array module of the device (``cupy``).
    """

    def __init__(self, xp: ModuleType) -> None:
        self.xp = xp
        self._buffers: dict[str, Any] = {}

    def upload(self, columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Copy each ``(N,)`` host column to the device; returns the ``(N,)`` device views."""
        views = {}
        for name, host in columns.items():
            view = self._buffer(name, host)[: host.shape[0]]
            view.set(host)
            views[name] = view
        return views

    def download(self, columns: Mapping[str, np.ndarray]) -> None:
        """Copy the device copy of each named ``(N,)`` host column back into it, in place."""
        for name, host in columns.items():
            self._buffers[name][: host.shape[0]].get(out=host)

    def _buffer(self, name: str, host: np.ndarray) -> Any:
        """The device buffer of ``name``, with room for ``host``'s rows and its dtype."""
        buffer = self._buffers.get(name)
        rows = host.shape[0]
        if buffer is None or buffer.dtype != host.dtype or buffer.shape[0] < rows:
            capacity = max(rows, 2 * buffer.shape[0] if buffer is not None else 1)
            buffer = self.xp.empty(capacity, dtype=host.dtype)
            self._buffers[name] = buffer
        return buffer
