"""CuPy kernels: physiology on CUDA, from the same scalar equations as the numba kernels."""
