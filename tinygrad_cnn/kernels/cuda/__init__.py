"""@cuda.jit kernels, one module per job; backends/cuda/ sizes and launches them."""
