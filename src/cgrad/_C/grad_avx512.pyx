# The same kernels as grad.pyx, built with AVX-512 (setup.py adds the flags to every *_avx512
# module): 16 floats a vector, the same IEEE operations (no FMA contraction), so the same bits.
# cython_backend picks this module when NumPy reports AVX-512 (Skylake-X set) on the CPU.
include "grad.pyx"
