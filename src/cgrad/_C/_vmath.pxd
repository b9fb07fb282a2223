# Transcendentals written so that GCC vectorises the loops that call them: plain arithmetic and
# selects, forced inline (a call, even to an inline function, stops a loop from vectorising).
from cython cimport floating
from libc.math cimport exp

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__GNUC__)
    #define CGRAD_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #define CGRAD_ALWAYS_INLINE static __forceinline
    #endif
    /* e**a for float32 (Cephes): n = round(a log2 e) by the 1.5 * 2**23 trick (adds, which
       vectorise at any width; a float-to-int floor did not at AVX2), r = a - n ln 2 in two
       parts, e**r by a degree-6 polynomial, times 2**n in two halves so that subnormal and
       overflowing results round correctly. Within 1 ulp of the rounded value; NaN stays
       NaN, a below -104 gives 0 and above 88.8 gives inf, as expf does. */
    CGRAD_ALWAYS_INLINE float cgrad_expf(float a) {
        const float lo = -104.0f, hi = 88.8f, magic = 12582912.0f;
        float x = a < lo ? lo : a;
        x = x > hi ? hi : x;
        float fn = (x * 1.44269504088896341f + magic) - magic;
        int32_t n = (int32_t) fn, n1 = n >> 1;
        float r = x - fn * 0.693359375f;
        r = r - fn * -2.12194440e-4f;
        float p = 1.9875691500e-4f * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        union { float f; int32_t i; } b1, b2;
        b1.i = (n1 + 127) << 23;
        b2.i = (n - n1 + 127) << 23;
        return p * b1.f * b2.f;
    }
    """
    float cgrad_expf(float a) noexcept nogil


cdef inline floating vexp(floating x) noexcept nogil:
    """e**x: cgrad_expf for float32; libm for float64 (not vectorised: the adapter uses np.exp
    for float64 arrays)"""
    if floating is float:
        return cgrad_expf(x)
    else:
        return exp(x)

# The row max as explicit 16-lane vector operations (GCC/Clang vector extensions: one AVX-512
# register, two AVX2 or four SSE2 ones). Written as a select per lane, GCC kept it scalar.
# A lane keeps its value when x is NaN or not larger (x[0] starts every lane), as
# `x > m ? x : m`; the max is exact, so lanes and fold order change no bits.
cdef extern from *:
    """
    #include <string.h>
    #if defined(__GNUC__)
    typedef float cgrad_v16sf __attribute__((vector_size(64)));
    typedef int cgrad_v16si __attribute__((vector_size(64)));
    typedef double cgrad_v8df __attribute__((vector_size(64)));
    typedef long long cgrad_v8di __attribute__((vector_size(64)));
    #define CGRAD_VMAX(T, TI, LANES_, x, n, out) do {                               \\
        T acc, v;                                                                  \\
        for (int j = 0; j < LANES_; j++) acc[j] = x[0];                            \\
        Py_ssize_t i = 0;                                                          \\
        for (; i + LANES_ <= n; i += LANES_) {                                     \\
            memcpy(&v, x + i, sizeof(v));                                          \\
            TI gt = (TI) (v > acc);                                                \\
            acc = (T) (((TI) v & gt) | ((TI) acc & ~gt));                           \\
        }                                                                          \\
        out = acc[0];                                                              \\
        for (int j = 1; j < LANES_; j++) out = acc[j] > out ? acc[j] : out;        \\
        for (; i < n; i++) out = x[i] > out ? x[i] : out;                          \\
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_maxf(const float* x, Py_ssize_t n) {
        float out; CGRAD_VMAX(cgrad_v16sf, cgrad_v16si, 16, x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_max(const double* x, Py_ssize_t n) {
        double out; CGRAD_VMAX(cgrad_v8df, cgrad_v8di, 8, x, n, out); return out;
    }
    #else
    CGRAD_ALWAYS_INLINE float cgrad_row_maxf(const float* x, Py_ssize_t n) {
        float out = x[0];
        for (Py_ssize_t i = 1; i < n; i++) out = x[i] > out ? x[i] : out;
        return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_max(const double* x, Py_ssize_t n) {
        double out = x[0];
        for (Py_ssize_t i = 1; i < n; i++) out = x[i] > out ? x[i] : out;
        return out;
    }
    #endif
    """
    float cgrad_row_maxf(const float* x, Py_ssize_t n) noexcept nogil
    double cgrad_row_max(const double* x, Py_ssize_t n) noexcept nogil
