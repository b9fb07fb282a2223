# The same kernels as linalg.pyx, built with AVX2 (setup.py adds the flag to every *_avx2
# module): the convolutions' window copies run wider; the products are the BLAS's, the sums
# the same IEEE additions (no FMA contraction), so the same bits, except a float32
# convolution's weight gradient where a group has at most 8 outputs: _narrow.pxd's tiles
# (multiply-adds) in place of BLAS's product, its sums rounded in their own order.
# cgrad._threads.load_linalg picks the widest build the CPU runs (cython_backend.isa_levels).
include "linalg.pyx"
