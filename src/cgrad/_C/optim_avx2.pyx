# The same kernels as optim.pyx, built with AVX2 (setup.py adds the flag to every *_avx2 module):
# wider vectors, the same IEEE operations (no FMA contraction), so the same bits: its one FMA
# use, _div_by, gives the division's bits. cython_backend picks this module when NumPy reports
# AVX2 and FMA on the running CPU.
include "optim.pyx"
