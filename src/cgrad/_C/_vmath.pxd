# Transcendentals written so that GCC vectorises the loops that call them: plain arithmetic and
# selects, forced inline (a call, even to an inline function, stops a loop from vectorising).
from cython cimport floating
from libc.math cimport exp, fabs, fabsf

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #if defined(__GNUC__)
    #define CGRAD_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #define CGRAD_ALWAYS_INLINE static __forceinline
    #endif
    /* a * b + c rounded once where the target has a fused multiply-add instruction (the AVX2
       and AVX-512 builds, which take -mfma, and aarch64): the polynomials below are chains of
       them, and one instruction in place of two cuts gelu's and sigmoid's time by a sixth to
       a quarter. The baseline x86-64 build rounds twice (fmaf would be a libm call there, ~1.5
       ns each), so its exp and erf may differ from the wide builds' in the last bit. */
    #if defined(__FP_FAST_FMAF) || defined(FP_FAST_FMAF)
    #define CGRAD_HAS_FMA 1
    #define CGRAD_FMAF(a, b, c) fmaf(a, b, c)
    #else
    #define CGRAD_HAS_FMA 0
    #define CGRAD_FMAF(a, b, c) ((a) * (b) + (c))
    #endif
    /* e**a for float32 and a <= 0 (Cephes; every caller's argument is one: x - max,
       -|x|, -x*x/2, a log-probability): n = round(a log2 e) by the 1.5 * 2**23 trick (adds,
       which vectorise at any width; a float-to-int floor did not at AVX2), r = a - n ln 2 in
       two parts, e**r by a degree-6 polynomial, times 2**n as 2**(n + 24), exact, then
       2**-24, the one rounding, so that subnormal results round correctly. Within 1 ulp of
       the rounded value; NaN stays NaN, a below -104 gives 0. No upper clamp (a above 88.7
       would overflow the exponent bits): it is never taken for a <= 0, and its compare and
       select took ~13% of the sigmoid's time. n + 24 comes from the sum's bits, n being
       bits(t) - bits(magic): no float-to-int conversion. (The same bits, for every a <= 0
       and NaN, as the former two halves 2**(n/2) * 2**(n - n/2), 15% faster.) */
    CGRAD_ALWAYS_INLINE float cgrad_expf_nonpos(float a) {
        const float lo = -104.0f, magic = 12582912.0f;
        float x = a < lo ? lo : a;
        float t = CGRAD_FMAF(x, 1.44269504088896341f, magic);
        float fn = t - magic;
        float r = CGRAD_FMAF(fn, -0.693359375f, x);
        r = CGRAD_FMAF(fn, 2.12194440e-4f, r);
        float p = CGRAD_FMAF(1.9875691500e-4f, r, 1.3981999507e-3f);
        p = CGRAD_FMAF(p, r, 8.3334519073e-3f);
        p = CGRAD_FMAF(p, r, 4.1665795894e-2f);
        p = CGRAD_FMAF(p, r, 1.6666665459e-1f);
        p = CGRAD_FMAF(p, r, 5.0000001201e-1f);
        p = CGRAD_FMAF(p * r, r, r) + 1.0f;
        union { float f; int32_t i; } bits, scale;
        bits.f = t;
        scale.i = (int32_t) ((uint32_t) (bits.i - 0x4B400000 + 151) << 23);    /* 2**(n + 24) */
        return p * scale.f * 5.9604644775390625e-8f;                            /* * 2**-24 */
    }
    """
    float cgrad_expf_nonpos(float a) noexcept nogil
    float cgrad_fmaf "CGRAD_FMAF"(float a, float b, float c) noexcept nogil


cdef inline floating vexp_nonpos(floating x) noexcept nogil:
    """e**x for x <= 0 (or NaN): cgrad_expf_nonpos for float32; libm for float64 (not
    vectorised: the adapter uses np.exp for float64 arrays)"""
    if floating is float:
        return cgrad_expf_nonpos(x)
    else:
        return exp(x)


cdef inline floating neg_abs(floating x) noexcept nogil:
    """-|x| as a sign-bit operation (a compare and a select cost more in the sigmoid)"""
    if floating is float:
        return -fabsf(x)
    else:
        return -fabs(x)

# Row max and row sums as explicit 16-lane vector operations (GCC/Clang vector extensions: one
# AVX-512 register per 16 floats, two AVX2 or four SSE2 ones). Written as loops over lanes, GCC
# kept the max scalar, and it unrolled a sum's tail into scalar stores that the vector fold
# then reloaded (a store-forwarding stall on every row: most of a 10-class row's time).
# The last n % 16 elements load as one block, masked at AVX-512 and AVX2 (lanes past the end
# are never read), padded with x[0] for the max and 0 for sums.
# Max: a lane keeps its value when x is NaN or not larger (x[0] starts every lane), as
# `x > m ? x : m`; the max is exact, so lanes and fold order change no bits.
# Sums: lane j adds the elements i = j mod 16 in order, the lanes fold in a fixed tree
# (j + 8, then + 4, + 2, + 1), so every ISA gives the same bits. A padding 0 changes no lane
# (a lane starts at +0, so it is never -0).
cdef extern from *:
    """
    #include <string.h>
    #if defined(__GNUC__)
    #if defined(__AVX512F__) || defined(__AVX2__)
    #include <immintrin.h>
    #endif
    typedef float cgrad_v16sf __attribute__((vector_size(64)));
    typedef int cgrad_v16si __attribute__((vector_size(64)));
    typedef double cgrad_v16df __attribute__((vector_size(128)));

    /* a 16-lane vector from its two halves (a register each at AVX2 float / AVX-512 double) */
    #define CGRAD_JOIN(T, lo, hi) __extension__ ({                                   \\
        T v_;                                                                      \\
        memcpy(&v_, &(lo), sizeof(v_) / 2);                                        \\
        memcpy((char*) &v_ + sizeof(v_) / 2, &(hi), sizeof(v_) / 2);              \\
        v_; })
    /* x[0:n] (0 <= n < 16), the other lanes pad: lane by lane where no mask load exists */
    #define CGRAD_TAIL_LANES(T, x, n, pad) __extension__ ({                          \\
        T v_;                                                                      \\
        for (int j = 0; j < 16; j++) v_[j] = j < (n) ? (x)[j] : (pad);            \\
        v_; })
    /* x[0:n] (0 <= n < 16), the other lanes pad */
    CGRAD_ALWAYS_INLINE cgrad_v16sf cgrad_tailf(const float* x, Py_ssize_t n, float pad) {
    #if defined(__AVX512F__)
        return (cgrad_v16sf) _mm512_mask_loadu_ps(_mm512_set1_ps(pad),
                                                  (__mmask16) ((1u << n) - 1u), x);
    #elif defined(__AVX2__)
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int) n), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int) n - 8), lane);
        __m256 p = _mm256_set1_ps(pad);
        __m256 lo = _mm256_blendv_ps(p, _mm256_maskload_ps(x, m0), _mm256_castsi256_ps(m0));
        __m256 hi = _mm256_blendv_ps(p, _mm256_maskload_ps(x + 8, m1), _mm256_castsi256_ps(m1));
        return CGRAD_JOIN(cgrad_v16sf, lo, hi);
    #else
        return CGRAD_TAIL_LANES(cgrad_v16sf, x, n, pad);
    #endif
    }
    CGRAD_ALWAYS_INLINE cgrad_v16df cgrad_tail(const double* x, Py_ssize_t n, double pad) {
    #if defined(__AVX512F__)
        __m512d p = _mm512_set1_pd(pad);
        unsigned m = (1u << n) - 1u;
        __m512d lo = _mm512_mask_loadu_pd(p, (__mmask8) (m & 0xffu), x);
        __m512d hi = _mm512_mask_loadu_pd(p, (__mmask8) (m >> 8), x + 8);
        return CGRAD_JOIN(cgrad_v16df, lo, hi);
    #else
        return CGRAD_TAIL_LANES(cgrad_v16df, x, n, pad);
    #endif
    }

    /* The fold of 16 lanes: lane j + 8 into j, then + 4, + 2, + 1, in registers (through
       memory, every level stalled on store forwarding) */
    #if defined(__has_builtin)
    #if __has_builtin(__builtin_shufflevector)
    #define CGRAD_SHUFFLE 1
    #endif
    #endif
    #ifdef CGRAD_SHUFFLE
    #define CGRAD_FOLD(acc, op, sop, out) do {                                         \\
        __typeof__(__builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7)) a8 =         \\
            op(__builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7),                  \\
               __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15));           \\
        __typeof__(__builtin_shufflevector(a8, a8, 0, 1, 2, 3)) a4 =                       \\
            op(__builtin_shufflevector(a8, a8, 0, 1, 2, 3),                                \\
               __builtin_shufflevector(a8, a8, 4, 5, 6, 7));                               \\
        __typeof__(__builtin_shufflevector(a4, a4, 0, 1)) a2 =                             \\
            op(__builtin_shufflevector(a4, a4, 0, 1), __builtin_shufflevector(a4, a4, 2, 3)); \\
        out = sop(a2[0], a2[1]);                                                       \\
    } while (0)
    #else
    #define CGRAD_FOLD(acc, op, sop, out) do {                                         \\
        __typeof__(acc[0]) lanes_[16];                                                 \\
        memcpy(lanes_, &acc, sizeof(acc));                                             \\
        for (int w = 8; w >= 1; w /= 2)                                                \\
            for (int j = 0; j < w; j++) lanes_[j] = sop(lanes_[j], lanes_[j + w]);     \\
        out = lanes_[0];                                                               \\
    } while (0)
    #endif
    #define CGRAD_ADD(a, b) ((a) + (b))
    #define CGRAD_MAX1(a, b) ((b) > (a) ? (b) : (a))
    /* b > a ? b : a per lane, for any vector type (a lane of a stays when b is NaN) */
    #define CGRAD_MAX(a, b) __extension__ ({                                          \\
        __typeof__((b) > (a)) gt_ = (b) > (a);                                         \\
        (__typeof__(a)) (((__typeof__(gt_)) (b) & gt_) | ((__typeof__(gt_)) (a) & ~gt_)); })

    #define CGRAD_SEL(c, a, b) \\
        ((cgrad_v16sf) (((cgrad_v16si) (a) & (c)) | ((cgrad_v16si) (b) & ~(c))))

    /* CGRAD_FMAF on 16 lanes: one rounding where the scalar one rounds once, so the bits match */
    #define CGRAD_HALF(v, k) __extension__ ({                                          \\
        __m256 h_;                                                                 \\
        memcpy(&h_, (const char*) &(v) + (k) * sizeof(h_), sizeof(h_));             \\
        h_; })
    CGRAD_ALWAYS_INLINE cgrad_v16sf cgrad_vfmaf(cgrad_v16sf a, cgrad_v16sf b, cgrad_v16sf c) {
    #if CGRAD_HAS_FMA && defined(__AVX512F__)
        return (cgrad_v16sf) _mm512_fmadd_ps((__m512) a, (__m512) b, (__m512) c);
    #elif CGRAD_HAS_FMA && defined(__FMA__)
        __m256 lo = _mm256_fmadd_ps(CGRAD_HALF(a, 0), CGRAD_HALF(b, 0), CGRAD_HALF(c, 0));
        __m256 hi = _mm256_fmadd_ps(CGRAD_HALF(a, 1), CGRAD_HALF(b, 1), CGRAD_HALF(c, 1));
        return CGRAD_JOIN(cgrad_v16sf, lo, hi);
    #elif CGRAD_HAS_FMA
        cgrad_v16sf r;
        for (int j = 0; j < 16; j++) r[j] = fmaf(a[j], b[j], c[j]);
        return r;
    #else
        return a * b + c;
    #endif
    }
    /* cgrad_expf_nonpos on 16 lanes: the same operations in the same order, so the same
       bits (a <= 0: x - max) */
    CGRAD_ALWAYS_INLINE cgrad_v16sf cgrad_vexpf_nonpos(cgrad_v16sf a) {
        const cgrad_v16sf zero = {0}, lo = zero - 104.0f;
        const float magic = 12582912.0f;
        cgrad_v16sf x = CGRAD_SEL(a < lo, lo, a);
        cgrad_v16sf t = cgrad_vfmaf(x, zero + 1.44269504088896341f, zero + magic);
        cgrad_v16sf fn = t - magic;
        cgrad_v16sf r = cgrad_vfmaf(fn, zero - 0.693359375f, x);
        r = cgrad_vfmaf(fn, zero + 2.12194440e-4f, r);
        cgrad_v16sf p = cgrad_vfmaf(zero + 1.9875691500e-4f, r, zero + 1.3981999507e-3f);
        p = cgrad_vfmaf(p, r, zero + 8.3334519073e-3f);
        p = cgrad_vfmaf(p, r, zero + 4.1665795894e-2f);
        p = cgrad_vfmaf(p, r, zero + 1.6666665459e-1f);
        p = cgrad_vfmaf(p, r, zero + 5.0000001201e-1f);
        p = cgrad_vfmaf(p * r, r, r) + 1.0f;
        typedef unsigned cgrad_v16su __attribute__((vector_size(64)));
        cgrad_v16su scale = ((cgrad_v16su) t - 0x4B400000u + 151u) << 23;      /* 2**(n + 24) */
        return p * (cgrad_v16sf) scale * 5.9604644775390625e-8f;                /* * 2**-24 */
    }
    /* out[i] = exp(x[i] - m) for i < n, and their sum as cgrad_row_sumf(out) adds it: one pass,
       the sum in registers (reading out back after masked stores stalled: they do not
       forward to loads) */
    CGRAD_ALWAYS_INLINE float cgrad_exp_sumf(const float* x, float m, float* out, Py_ssize_t n) {
        cgrad_v16sf acc = {0}, v;
        Py_ssize_t i = 0;
        for (; i + 16 <= n; i += 16) {
            memcpy(&v, x + i, sizeof(v));
            v = cgrad_vexpf_nonpos(v - m);
            memcpy(out + i, &v, sizeof(v));
            acc = acc + v;
        }
        if (i < n) {
            const cgrad_v16si lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
            cgrad_v16si keep = lane < (int) (n - i);
            v = cgrad_vexpf_nonpos(cgrad_tailf(x + i, n - i, 0) - m);
            v = (cgrad_v16sf) ((cgrad_v16si) v & keep);
    #if defined(__AVX512F__)
            _mm512_mask_storeu_ps(out + i, (__mmask16) ((1u << (n - i)) - 1u), (__m512) v);
    #else
            for (int j = 0; j < n - i; j++) out[i + j] = v[j];
    #endif
            acc = acc + v;
        }
        float total;
        CGRAD_FOLD(acc, CGRAD_ADD, CGRAD_ADD, total);
        return total;
    }
    #define CGRAD_VMAX(T, TAIL, x, n, out) do {                                      \\
        T acc, v;                                                                  \\
        for (int j = 0; j < 16; j++) acc[j] = x[0];                                \\
        Py_ssize_t i = 0;                                                          \\
        for (; i + 16 <= n; i += 16) {                                             \\
            memcpy(&v, x + i, sizeof(v));                                          \\
            acc = CGRAD_MAX(acc, v);                                               \\
        }                                                                          \\
        if (i < n) acc = CGRAD_MAX(acc, TAIL(x + i, n - i, x[0]));                 \\
        CGRAD_FOLD(acc, CGRAD_MAX, CGRAD_MAX1, out);                                   \\
    } while (0)
    #define CGRAD_VSUM(T, S, TAIL, x, y, n, dot, out) do {                           \\
        T acc = {0}, v, w;                                                         \\
        Py_ssize_t i = 0;                                                          \\
        for (; i + 16 <= n; i += 16) {                                             \\
            memcpy(&v, x + i, sizeof(v));                                          \\
            if (dot) { memcpy(&w, y + i, sizeof(w)); v = v * w; }                  \\
            acc = acc + v;                                                         \\
        }                                                                          \\
        if (i < n) {                                                               \\
            v = TAIL(x + i, n - i, 0);                                             \\
            if (dot) v = v * TAIL(y + i, n - i, 0);                                \\
            acc = acc + v;                                                         \\
        }                                                                          \\
        CGRAD_FOLD(acc, CGRAD_ADD, CGRAD_ADD, out);                                \\
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_maxf(const float* x, Py_ssize_t n) {
        float out; CGRAD_VMAX(cgrad_v16sf, cgrad_tailf, x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_max(const double* x, Py_ssize_t n) {
        double out; CGRAD_VMAX(cgrad_v16df, cgrad_tail, x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n,
                                             int dot) {
        float out; CGRAD_VSUM(cgrad_v16sf, float, cgrad_tailf, x, y, n, dot, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_sum(const double* x, const double* y, Py_ssize_t n,
                                             int dot) {
        double out; CGRAD_VSUM(cgrad_v16df, double, cgrad_tail, x, y, n, dot, out); return out;
    }
    #else
    #define CGRAD_SMAX(x, n, out) do {                                                \\
        out = x[0];                                                                \\
        for (Py_ssize_t i = 1; i < n; i++) out = x[i] > out ? x[i] : out;          \\
    } while (0)
    #define CGRAD_SSUM(S, x, y, n, dot, out) do {                                     \\
        S lanes[16] = {0};                                                         \\
        for (Py_ssize_t i = 0; i < n; i++) lanes[i % 16] += dot ? x[i] * y[i] : x[i];\\
        for (int w_ = 8; w_ >= 1; w_ /= 2)                                         \\
            for (int j = 0; j < w_; j++) lanes[j] = lanes[j] + lanes[j + w_];      \\
        out = lanes[0];                                                            \\
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_maxf(const float* x, Py_ssize_t n) {
        float out; CGRAD_SMAX(x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n,
                                             int dot);
    CGRAD_ALWAYS_INLINE float cgrad_exp_sumf(const float* x, float m, float* out, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) out[i] = cgrad_expf_nonpos(x[i] - m);
        return cgrad_row_sumf(out, out, n, 0);
    }

    CGRAD_ALWAYS_INLINE double cgrad_row_max(const double* x, Py_ssize_t n) {
        double out; CGRAD_SMAX(x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n,
                                             int dot) {
        float out; CGRAD_SSUM(float, x, y, n, dot, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_sum(const double* x, const double* y, Py_ssize_t n,
                                             int dot) {
        double out; CGRAD_SSUM(double, x, y, n, dot, out); return out;
    }
    #endif
    """
    float cgrad_row_maxf(const float* x, Py_ssize_t n) noexcept nogil
    double cgrad_row_max(const double* x, Py_ssize_t n) noexcept nogil
    float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n, int dot) noexcept nogil
    double cgrad_row_sum(const double* x, const double* y, Py_ssize_t n, int dot) noexcept nogil
    float cgrad_exp_sumf(const float* x, float m, float* out, Py_ssize_t n) noexcept nogil
