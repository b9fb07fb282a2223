"""torch.backends.openmp: whether cgrad's compiled kernels were built with OpenMP"""
from .._threads import _omp


def is_available():
    omp = _omp()
    return omp is not None and bool(omp.has_openmp())
