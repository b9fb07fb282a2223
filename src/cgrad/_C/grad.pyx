"""Gradient buffers: accumulate into .grad and zero it in place, never allocating.
Callers pass C-contiguous 1-D views of equal length and one dtype."""
from cython cimport floating
from cython.parallel cimport prange
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel

link_thread_count()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* From 8 MiB (past most L2s and a share of L3) zeros go out with non-temporal stores:
       they skip the read each ordinary store makes of its cache line first and never fill
       the cache with lines that would be written back anyway. 10^7 floats on an AVX2 EPYC:
       memset 5.1 ms (glibc kept ordinary stores), streamed 1.6-1.9 ms. Below, memset: the buffer
       is likely in cache and about to be read by the next accumulation. */
    #define CGRAD_STREAM_BYTES ((size_t) 8 << 20)
    static void cgrad_zero_bytes(void* p, size_t nbytes) {
    #if defined(__SSE2__)
        if (nbytes >= CGRAD_STREAM_BYTES) {
            char* c = (char*) p;
            size_t head = (size_t) (-(uintptr_t) c) & 15u, whole, i;    /* to a 16-byte line */
            __m128i z = _mm_setzero_si128();
            memset(c, 0, head);
            c += head;
            nbytes -= head;
            whole = nbytes & ~(size_t) 63;
            for (i = 0; i < whole; i += 64) {
                _mm_stream_si128((__m128i*) (c + i), z);
                _mm_stream_si128((__m128i*) (c + i + 16), z);
                _mm_stream_si128((__m128i*) (c + i + 32), z);
                _mm_stream_si128((__m128i*) (c + i + 48), z);
            }
            _mm_sfence();          /* the streamed zeros are seen before anything after */
            memset(c + whole, 0, nbytes - whole);
            return;
        }
    #endif
        memset(p, 0, nbytes);
    }
    """
    void cgrad_zero_bytes(void* p, size_t nbytes) noexcept nogil


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
    """a[:] = 0 (all-zero bytes are +0.0 in IEEE 754; streamed from 8 MiB)"""
    cdef Py_ssize_t n = a.shape[0]
    if n == 0:
        return
    with nogil:
        cgrad_zero_bytes(&a[0], n * sizeof(floating))
