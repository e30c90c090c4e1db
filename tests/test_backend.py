"""Device selection (``--device auto|cpu|cuda``) and the CLI's answer when CUDA cannot run."""

from __future__ import annotations

import numpy as np
import pytest

from synthtwin.engine.app.cli import EXIT_USAGE, main
from synthtwin.engine.backend import BackendError, cuda_unavailable_reason, select_backend

GPU_REASON = cuda_unavailable_reason()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"needs a CUDA GPU: {GPU_REASON}")
needs_no_gpu = pytest.mark.skipif(GPU_REASON is None, reason="a CUDA GPU is visible here")


def test_cpu_is_numpy() -> None:
    backend = select_backend("cpu")
    assert (backend.name, backend.xp) == ("cpu", np)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(BackendError, match="device 'tpu': expected 'auto', 'cpu' or 'cuda'"):
        select_backend("tpu")


@needs_no_gpu
def test_auto_falls_back_to_the_cpu_without_a_gpu() -> None:
    assert select_backend("auto").name == "cpu"


@needs_no_gpu
def test_cuda_without_a_gpu_says_why_and_what_to_do() -> None:
    with pytest.raises(BackendError) as error:
        select_backend("cuda")
    message = str(error.value)
    assert message.startswith(f"device 'cuda': {GPU_REASON}. Run with --device cpu")
    assert "or on a machine with an NVIDIA GPU" in message


@needs_no_gpu
def test_simulate_on_cuda_without_a_gpu_exits_with_the_message(capsys, tmp_path) -> None:
    status = main(["simulate", "--twins", "2", "--days", "1", "--out", str(tmp_path),
                   "--device", "cuda", "--quiet"])  # fmt: skip
    assert status == EXIT_USAGE
    assert f"twin simulate: error: device 'cuda': {GPU_REASON}" in capsys.readouterr().err


@needs_gpu
def test_auto_picks_cuda_when_a_gpu_is_visible() -> None:
    import cupy

    backend = select_backend("auto")
    assert (backend.name, backend.xp) == ("cuda", cupy)


@needs_gpu
def test_device_columns_copy_in_and_back_and_grow() -> None:
    import cupy

    from synthtwin.engine.backend import DeviceColumns

    staging = DeviceColumns(cupy)
    host = {"a": np.arange(3, dtype=np.float64), "b": np.array([True, False, True])}
    device = staging.upload(host)
    assert isinstance(device["a"], cupy.ndarray) and device["b"].dtype == np.bool_
    device["a"] *= 2.0
    staging.download({"a": host["a"]})
    np.testing.assert_array_equal(host["a"], [0.0, 2.0, 4.0])
    grown = staging.upload({"a": np.arange(7, dtype=np.float64)})
    np.testing.assert_array_equal(grown["a"].get(), np.arange(7))
