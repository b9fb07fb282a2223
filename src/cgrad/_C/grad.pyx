"""Gradient buffers: accumulate into .grad and zero it in place, never allocating.
Callers pass C-contiguous 1-D views of equal length and one dtype."""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel

link_thread_count()


def accumulate_(floating[::1] acc, const floating[::1] g):
    """acc += g"""
    cdef Py_ssize_t i, n = acc.shape[0]
    if n == 0:
        return
    if parallel(n):
        for i in prange(n, nogil=True, schedule="static", num_threads=cgrad_threads()):
            acc[i] += g[i]
    else:
        with nogil:
            for i in range(n):
                acc[i] += g[i]


def accumulate_scalar_(floating[::1] acc, floating g):
    """acc += g for one scalar g (a broadcast 0-d or size-1 gradient)"""
    cdef Py_ssize_t i, n = acc.shape[0]
    if parallel(n):
        for i in prange(n, nogil=True, schedule="static", num_threads=cgrad_threads()):
            acc[i] += g
    else:
        with nogil:
            for i in range(n):
                acc[i] += g


def zero_(floating[::1] a):
    """a[:] = 0 (memset: all-zero bytes are +0.0 in IEEE 754)"""
    cdef Py_ssize_t n = a.shape[0]
    if n == 0:
        return
    with nogil:
        memset(&a[0], 0, n * sizeof(floating))
