"""set_num_threads / get_num_threads: one number for the OpenMP kernels and for BLAS."""
import os
import warnings

_num_threads = [None]
_forked_child = [False]


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
    if _forked_child[0] and n > 1:
        warnings.warn("cgrad runs one thread in a forked child process: GNU OpenMP's thread "
                      "pool does not survive fork()", RuntimeWarning, stacklevel=2)
        n = 1
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


def _after_fork_in_child():
    # GNU OpenMP is not fork-safe: a child that enters a parallel region with the parent's
    # (now missing) worker threads hangs. One thread needs no pool.
    _forked_child[0] = True
    omp = _omp()
    if omp is not None:
        omp.set_num_threads(1)
    _num_threads[0] = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
