"""set_num_threads / get_num_threads: one number for the OpenMP kernels and for BLAS."""
import os

_num_threads = [None]


def _omp():
    try:
        from ._C import _threads
        return _threads
    except ImportError:
        return None


def set_num_threads(n):
    """Use n threads in cgrad's OpenMP kernels and in BLAS (through threadpoolctl)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    omp = _omp()
    if omp is not None:
        omp.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n, user_api="blas")
    except ImportError:   # pragma: no cover - threadpoolctl is a dependency
        pass
    _num_threads[0] = n


def get_num_threads():
    """The number of threads the kernels use."""
    if _num_threads[0] is not None:
        return _num_threads[0]
    omp = _omp()
    return omp.get_max_threads() if omp is not None else (os.cpu_count() or 1)
