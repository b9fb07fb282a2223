# OpenMP for the kernels, or serial stubs where the compiler has none, so every kernel builds
# either way.
from cpython.pycapsule cimport PyCapsule_Import

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    static inline void omp_set_num_threads(int n) { (void)n; }
    #endif
    /* The process-wide thread count, owned by cgrad._C._threads and reached through a
       capsule: omp_set_num_threads alone sets only the calling thread's count, so a kernel
       run from another Python thread would ignore set_num_threads. */
    static int *cgrad_nthreads_ptr = 0;
    static inline int cgrad_threads(void) {
        int n = cgrad_nthreads_ptr ? *cgrad_nthreads_ptr : 0;
        return n > 0 ? n : omp_get_max_threads();
    }
    """
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    void omp_set_num_threads(int n) noexcept nogil
    int* cgrad_nthreads_ptr
    int cgrad_threads() noexcept nogil

# Below this many elements a kernel runs on one thread: waking the second core costs more than
# it saves. Measured on the 2-core development machine (notes in kernels.md, "Threads"), with
# the threshold built at 1: an elementwise pass (accumulate_, tanh backward) breaks even with
# two threads at 8,000-16,000 float32 elements (16384: 3.4 us on one thread, 2.7-3.6 on two)
# and gains 1.5-1.9x from 32768 up. 32768 keeps a margin for a machine whose other core is
# busy, where every parallel region waits for a scheduler slice.
cdef enum:
    MIN_PARALLEL = 32768


cdef inline int link_thread_count() except -1:
    """Point this module at the shared thread count (call once at module import)."""
    global cgrad_nthreads_ptr
    import cgrad._C._threads           # PyCapsule_Import reads it as an attribute
    cgrad_nthreads_ptr = <int*> PyCapsule_Import(b"cgrad._C._threads.nthreads", 0)
    return 0


cdef inline bint parallel(Py_ssize_t work) noexcept nogil:
    """Whether a kernel with this many elements runs its blocks in an OpenMP region; below
    MIN_PARALLEL (or at one thread) they run in a plain loop instead, as the same blocks, so
    the same bits. (`prange(use_threads_if=False)` still enters a one-thread region: ~0.3 us
    of libgomp team set-up per call, most of a small kernel's time.)"""
    return work >= MIN_PARALLEL and cgrad_threads() > 1
