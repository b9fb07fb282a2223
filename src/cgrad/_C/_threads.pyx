"""The OpenMP thread count that every cgrad kernel module shares: a process-wide number (read
through a capsule by each module's prange), and the calling thread's OpenMP setting."""
from cpython.pycapsule cimport PyCapsule_New
from cython.parallel cimport prange
from cgrad._C._parallel cimport (cgrad_nthreads_ptr, cgrad_threads, omp_get_max_threads,
                                 omp_get_thread_num, omp_set_num_threads)

cdef int _nthreads = 0          # 0: OpenMP's default (OMP_NUM_THREADS or the core count)

cdef extern from *:
    """
    #ifndef CGRAD_DEBUG_BUILD
    #define CGRAD_DEBUG_BUILD 0
    #endif
    """
    const int CGRAD_DEBUG_BUILD

nthreads = PyCapsule_New(<void*> &_nthreads, b"cgrad._C._threads.nthreads", NULL)
cgrad_nthreads_ptr = &_nthreads


def set_num_threads(int n):
    """Every kernel module's parallel loops use n threads, from any calling thread."""
    global _nthreads
    if n < 1:
        raise ValueError(f"the thread count must be positive, got {n}")
    _nthreads = n
    omp_set_num_threads(n)


def get_max_threads():
    return _nthreads if _nthreads > 0 else omp_get_max_threads()


def team_size():
    """How many threads a kernel's parallel loop gets when run from the calling thread."""
    cdef int i, most = 0
    cdef int seen[64]
    for i in range(64):
        seen[i] = 0
    for i in prange(64, nogil=True, schedule="static", num_threads=cgrad_threads()):
        seen[i] = omp_get_thread_num() + 1
    for i in range(64):
        most = max(most, seen[i])
    return most


cdef extern from *:
    """
    #ifdef _OPENMP
    static int cgrad_openmp_built(void) { return 1; }
    #else
    static int cgrad_openmp_built(void) { return 0; }
    #endif
    """
    int cgrad_openmp_built()


def has_openmp():
    """Whether the extension was built with OpenMP."""
    return bool(cgrad_openmp_built())


def debug_build():
    """Whether this is the bounds-checked build (CGRAD_CYTHON_DEBUG=1: baseline kernels only,
    no AVX2 / AVX-512 twins)"""
    return bool(CGRAD_DEBUG_BUILD)
