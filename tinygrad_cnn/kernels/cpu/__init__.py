"""The CPU's @njit kernels, serial loops the backend's threads run on parts of the work.

  nchw.py, nhwc.py   pooling (and the notes' im2col/col2im) on NCHW memory, and its twin on
                     channels-last memory
  conv.py            patch rows/columns and the fused convolution kernels
  conv_wgrad.py      the convolution's weight-gradient kernels
  gemm.py            register-tiled matrix products the fused conv kernels are built on
  elementwise.py     ReLU forward and backward
  norm.py            batch normalisation's sums and affine maps
  conv_vector.py, conv_image_tiles.py, vector_tile.py
                     the LLVM vector tiles' convolutions (every ISA: isa.py sizes them)
  isa.py             the instruction set numba compiles for
  optim.py           the Adam step in one pass
  special.py         erf
Each is checked against its NumPy twin in kernels/reference.py (optim.py against the NumPy
form in backends/cpu/optim.py).
"""
