"""Zero-copy interchange of arrays between Warp, numpy, torch and CuPy: the same memory, not a copy.

Arrays cross libraries through DLPack (``torch.from_dlpack``, ``wp.from_dlpack``,
``np.from_dlpack``, ``cupy.from_dlpack``), the buffer protocol (``wp.array(..., copy=False)``,
``.numpy()``, ``torch.from_numpy``) and, on CUDA, ``__cuda_array_interface__``
(``cupy.asarray``). Each test checks that both sides share one data pointer and that a write
through one is seen by the other. The CPU tests run everywhere; the CUDA ones need a GPU (and,
for torch, a CUDA build of torch).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import warp as wp

from synthtwin.engine.backend import cuda_unavailable_reason

GPU_REASON = cuda_unavailable_reason()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"needs a CUDA GPU: {GPU_REASON}")

VERTICES = 5


@pytest.fixture(scope="module", autouse=True)
def _warp() -> None:
    wp.init()


def _host_vertices() -> np.ndarray:
    """``(V, 3) float32`` positions, distinct values."""
    return np.arange(VERTICES * 3, dtype=np.float32).reshape(VERTICES, 3)


def test_numpy_and_warp_cpu_share_memory_both_ways() -> None:
    host = _host_vertices()
    vertices = wp.array(host, dtype=wp.vec3, device="cpu", copy=False)  # (V,) vec3
    assert vertices.ptr == host.ctypes.data
    view = vertices.numpy()  # (V, 3) float32
    assert view.ctypes.data == vertices.ptr and view.shape == (VERTICES, 3)
    assert np.from_dlpack(vertices).ctypes.data == vertices.ptr
    view[1, 2] = -1.0
    assert host[1, 2] == -1.0


def test_warp_cpu_and_torch_share_memory_through_dlpack() -> None:
    vertices = wp.array(_host_vertices(), dtype=wp.vec3, device="cpu")
    tensor = torch.from_dlpack(vertices)  # (V, 3) float32
    assert tensor.data_ptr() == vertices.ptr
    assert tensor.shape == (VERTICES, 3) and tensor.dtype == torch.float32
    back = wp.from_dlpack(tensor)
    assert back.ptr == vertices.ptr
    tensor[2, 0] = 99.0
    assert vertices.numpy()[2, 0] == 99.0


def test_numpy_and_torch_share_memory() -> None:
    host = _host_vertices()
    tensor = torch.from_numpy(host)
    assert tensor.data_ptr() == host.ctypes.data
    assert tensor.numpy().ctypes.data == host.ctypes.data


@needs_gpu
def test_warp_cuda_and_cupy_share_memory_both_ways() -> None:
    import cupy

    vertices = wp.array(_host_vertices(), dtype=wp.vec3, device="cuda:0")
    through_dlpack = cupy.from_dlpack(vertices)  # (V, 3) float32
    through_interface = cupy.asarray(vertices)  # __cuda_array_interface__
    assert through_dlpack.data.ptr == through_interface.data.ptr == vertices.ptr
    back = wp.from_dlpack(through_dlpack)
    assert back.ptr == vertices.ptr
    through_dlpack[3, 1] = 7.0
    assert vertices.numpy()[3, 1] == 7.0


@needs_gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA build of torch")
def test_cupy_and_torch_cuda_share_memory() -> None:
    import cupy

    positions = cupy.arange(VERTICES * 3, dtype=cupy.float32).reshape(VERTICES, 3)
    tensor = torch.from_dlpack(positions)
    assert tensor.data_ptr() == positions.data.ptr
    assert cupy.from_dlpack(tensor).data.ptr == positions.data.ptr
