"""Physiology on CUDA: the scalar equations of ``kernels/physiology.py`` transpiled by CuPy's JIT,
and the per-tick driver that advances every twin's vital signs in place on CuPy arrays.

Pattern: per-element kernel, one CUDA thread per twin, the twin of the numba kernel
(``kernels.numba.physiology.step_physiology``): same arguments (the columns as four tuples,
``(state, inputs, params, accumulators)``, in the order of their declaration), same loop body
(``kernels.physiology.step_twin``), CuPy arrays instead of numpy ones.

One statement of the equations: ``cupyx.jit.rawkernel`` reads a Python function's source and
emits CUDA C++. ``_device_functions`` rebinds every function of ``kernels/physiology.py`` (the same
code object, hence the same source) to a namespace in which the functions it calls are CuPy device
functions and ``math`` is ``DEVICE_MATH``: CuPy's JIT knows CuPy's ufuncs, not ``math``. What the
JIT takes (CuPy 13-14, ``cupyx/jit/_compile.py``; checked on the CPU by
``tests/test_physiology_cupy.py``): ``if`` on a bool, ``for`` over ``range`` of a run-time
integer, tuple returns and unpacking (``cuda::std::tuple``), ``min``/``max``, calls of device
functions, explicit casts such as ``float(x)``. What it does not: ``math.*`` (hence
``DEVICE_MATH``), default and ``*args`` arguments, and keyword arguments to device functions,
which it drops without a word: ``_step_kernel`` calls ``step_twin`` positionally, and
``kernels/physiology.py`` keeps to positional calls.

One statement of the arguments: a global kernel takes each column as its own parameter, and the
JIT reads those parameters from the kernel's source. ``step_kernel`` therefore writes that source
from ``step_twin``'s signature (one parameter per column, same names, same order) and the columns'
roles and dtypes, and registers it with ``linecache``, where ``inspect`` (hence the JIT) finds it.

Typing: the kernels use the JIT's ``"numpy"`` mode, where a Python float literal is a double
(the default ``"cuda"`` mode makes it a float). Parameters and inputs stored as float32 are widened
to double as they are loaded: numba widens each of them at its first operation, which always meets
a double (module note of ``kernels/physiology.py``), so the arithmetic is the same double
arithmetic. It is not bit for bit the CPU's: CUDA's double ``exp`` and ``cos`` are within 1 and
2 ulp of the exact result (CUDA C++ Programming Guide, "Mathematical Functions", double
precision), glibc's within 1, and NVRTC contracts ``a * b + c`` into fused multiply-adds
(``--fmad=true``, CuPy's default). Each tick's state therefore differs from numba's by a few ulp;
the relaxations contract such differences, and ``tests/test_physiology_cupy.py`` bounds them
over simulated hours.

Memory traffic of one tick, per twin: reads 15 state + 2 accumulators x 8 B, 5 float32 and
9 float64 inputs (6 of them the scenario effects) + 1 bool, 13 float32 parameters = 120 + 16 +
93 + 52 = 281 B; writes 15 state + 2 accumulators x 8 B = 136 B; 417 B in all. On an H100
(HBM3, ~3.35 TB/s) that bounds a tick of 100k twins (41.7 MB) at ~12 us; the RK4 substeps (up to
10 per 10 min tick, four rate evaluations each) add compute, so long ticks are arithmetic-bound
rather than memory-bound.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import math
import types
import warnings
from typing import Any

import cupy
from cupyx import jit

from synthtwin.kernels import physiology

__all__ = ["DEVICE_MATH", "JIT_MODE", "THREADS_PER_BLOCK", "step_kernel", "step_physiology"]

THREADS_PER_BLOCK = 128
"""CUDA threads per block of ``_step_kernel``: each thread holds ~100 doubles of RK4 state."""

JIT_MODE = "numpy"
"""CuPy JIT typing rules: Python float literals are doubles, as in Python and numba."""


def _rawkernel(func: types.FunctionType, *, device: bool) -> Any:
    """``cupyx.jit.rawkernel(mode=JIT_MODE, device=device)(func)``, without its FutureWarning
    ("experimental") on every one of the dozen functions."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "cupyx.jit.rawkernel is experimental", FutureWarning)
        return jit.rawkernel(mode=JIT_MODE, device=device)(func)


def _ceil(x: float) -> int:
    """``math.ceil`` on the device: the smallest integer >= ``x``, as a 64-bit integer.

    ``cupy.ceil`` returns a double; ``range`` needs an integer, which ``math.ceil`` gives in
    Python and numba.
    """
    return int(cupy.ceil(x))


DEVICE_MATH = types.SimpleNamespace(
    exp=cupy.exp,
    cos=cupy.cos,
    log=cupy.log,
    sqrt=cupy.sqrt,
    ceil=_rawkernel(_ceil, device=True),
    pi=math.pi,
)
"""What ``kernels/physiology.py`` uses of ``math``, as CuPy's JIT can call it on the device."""


def _device_functions() -> dict[str, Any]:
    """Every function of ``kernels/physiology.py`` as a CuPy device function, by name.

    Each is a new function object over the original's code (so the JIT reads the original
    source) whose globals are a copy of the module's namespace with ``math`` replaced by
    ``DEVICE_MATH`` and each function by its device twin.
    """
    namespace = dict(vars(physiology))
    namespace["math"] = DEVICE_MATH
    for name, func in inspect.getmembers(physiology, inspect.isfunction):
        if func.__module__ == physiology.__name__:
            rebound = types.FunctionType(func.__code__, namespace, func.__name__)
            namespace[name] = _rawkernel(rebound, device=True)
    return namespace


_step_twin = _device_functions()["step_twin"]


def _kernel_source(state: int, accumulators: int, widened: tuple[bool, ...]) -> str:
    """Python source of ``_step_kernel``: thread ``n`` advances twin ``n`` by one tick.

    Its parameters are ``dt_s``, ``clock_mid_h`` and ``step_twin``'s columns; it passes element
    ``n`` of each column to ``step_twin`` (``float(...)``, i.e. widened to double, where
    ``widened``) and stores the returns into the first ``state`` and the last ``accumulators``
    columns.
    """
    names = tuple(inspect.signature(physiology.step_twin).parameters)[2:]
    written = names[:state] + names[len(names) - accumulators :]
    row = [
        f"float({name}[n])" if wide else f"{name}[n]"
        for name, wide in zip(names, widened, strict=True)
    ]
    return (
        f"def _step_kernel(dt_s, clock_mid_h, {', '.join(names)}):\n"
        "    n = jit.grid(1)\n"
        f"    if n < {names[0]}.size:\n"
        f"        ({', '.join(f'{name}[n]' for name in written)},) = _step_twin(\n"
        f"            dt_s, clock_mid_h, {', '.join(row)}\n"
        "        )\n"
    )


@functools.cache
def step_kernel(state: int, accumulators: int, widened: tuple[bool, ...]) -> Any:
    """The global CUDA kernel for ``state`` state and ``accumulators`` accumulator columns, each
    column's float32-ness in ``widened`` (one flag per ``step_twin`` column); its ``_func`` is
    its Python function, for transpiling alone. Launch arguments: ``dt_s``, ``clock_mid_h``,
    then the ``(N,)`` columns in ``step_twin``'s order."""
    source = _kernel_source(state, accumulators, widened)
    filename = f"<physiology step kernel {state} {accumulators} {widened}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {"jit": jit, "_step_twin": _step_twin}
    exec(compile(source, filename, "exec"), namespace)
    return _rawkernel(namespace["_step_kernel"], device=False)


def step_physiology(
    dt_s: float,
    clock_h: float,
    state: tuple[cupy.ndarray, ...],
    inputs: tuple[cupy.ndarray, ...],
    params: tuple[cupy.ndarray, ...],
    accumulators: tuple[cupy.ndarray, ...],
) -> None:
    """Advance the physiology of N twins by one tick of ``dt_s`` simulated seconds, in place, on
    the current CUDA device and stream (asynchronous, like any CuPy launch).

    Same arguments, dtypes and units as ``kernels.numba.physiology.step_physiology``, every array
    a C-contiguous ``(N,)`` CuPy array: state and accumulators ``(N,) float64``; exertion inputs
    ``(N,) float32`` and ``asleep`` ``(N,) bool``; parameters ``(N,) float32`` or ``float64``. The
    kernel is transpiled and compiled on the first call for each set of dtypes (CuPy caches it on
    disk), then launched once per call.
    """
    columns = (*state, *inputs, *params, *accumulators)
    n = columns[0].size
    if n == 0:
        return
    widened = tuple(column.dtype == cupy.float32 for column in columns)
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    clock_mid_h = physiology.tick_midpoint_h(float(clock_h), float(dt_s))
    kernel = step_kernel(len(state), len(accumulators), widened)
    kernel((blocks,), (THREADS_PER_BLOCK,), (float(dt_s), clock_mid_h, *columns))
