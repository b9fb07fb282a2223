# The same kernels as optim.pyx, built with AVX-512 (setup.py adds the flags to every *_avx512
# module): 16 floats a vector, the same IEEE operations (no FMA contraction), so the same bits
# (_div_by's FMA gives the division's bits).
# cython_backend picks this module when NumPy reports AVX-512 (Skylake-X set) on the CPU.
include "optim.pyx"
