# The same kernels as linalg.pyx, built with AVX2 (setup.py adds the flag to every *_avx2
# module): the convolutions' window copies run wider; the products are the BLAS's, the sums
# the same IEEE additions (no FMA contraction), so the same bits, except float32
# convolutions of few outputs (a group's weight gradient of at most 8, a forward of one group
# and at most 16): _narrow.pxd's tiles (multiply-adds) in place of BLAS's products, their
# sums rounded in their own order.
# cgrad._threads.load_linalg picks the widest build the CPU runs (cython_backend.isa_levels).
include "linalg.pyx"
