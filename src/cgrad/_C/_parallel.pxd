# OpenMP for the kernels, or serial stubs where the compiler has none, so every kernel builds
# either way.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    static inline void omp_set_num_threads(int n) { (void)n; }
    #endif
    """
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    void omp_set_num_threads(int n) noexcept nogil

# Below this many elements a kernel runs on one thread: waking the second core costs more than
# it saves (measured by benchmarks/bench_threshold.py; see README "Threads").
cdef enum:
    MIN_PARALLEL = 32768
