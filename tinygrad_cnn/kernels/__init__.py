"""Array kernels: reference.py is the NumPy spec, cpu.py the @njit twins."""
