"""The OpenMP thread count that every cgrad kernel module shares."""
from cgrad._C._parallel cimport omp_get_max_threads, omp_set_num_threads


def set_num_threads(int n):
    omp_set_num_threads(n)


def get_max_threads():
    return omp_get_max_threads()


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
