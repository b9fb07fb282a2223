# The same kernels as elementwise.pyx, built with AVX-512 (setup.py adds the flags to every *_avx512
# module): 16 floats a vector, the same IEEE operations (no FMA contraction), so the same bits,
# but in float32 exp and erf, which fuse their multiply-adds as the AVX2 build does.
# cython_backend picks this module when NumPy reports AVX-512 (Skylake-X set) on the CPU.
include "elementwise.pyx"
