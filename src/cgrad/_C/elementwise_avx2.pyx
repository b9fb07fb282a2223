# The same kernels as elementwise.pyx, built with AVX2 (setup.py adds the flag to every *_avx2 module):
# wider vectors, the same IEEE operations (no FMA contraction), so the same bits, but in float32
# exp and erf, whose polynomials fuse their multiply-adds (_vmath.pxd's CGRAD_FMAF; within 4
# ulp). cython_backend picks this module when NumPy reports AVX2 and FMA on the running CPU.
include "elementwise.pyx"
