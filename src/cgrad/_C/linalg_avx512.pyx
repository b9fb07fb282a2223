# The same kernels as linalg.pyx, built with AVX-512 (setup.py adds the flags to every *_avx512
# module): see linalg_avx2.pyx.
include "linalg.pyx"
