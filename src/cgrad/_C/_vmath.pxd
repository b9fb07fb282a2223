# Transcendentals written so that GCC vectorises the loops that call them: plain arithmetic and
# selects, forced inline (a call, even to an inline function, stops a loop from vectorising).
from cython cimport floating
from libc.math cimport copysignf, exp, expm1, fabs, fabsf, log, log1p, tanh

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
    /* and for double too: optim.pyx's exact division by a constant uses both widths */
    #if CGRAD_HAS_FMA && (defined(__FP_FAST_FMA) || defined(FP_FAST_FMA))
    #define CGRAD_HAS_FMA_BOTH 1
    #else
    #define CGRAD_HAS_FMA_BOTH 0
    #endif
    /* e**a for float32 and a <= 0 (Cephes; every caller's argument is one: x - max,
       -|x|, -x*x/2, a log-probability): n = round(a log2 e) by the 1.5 * 2**23 trick (adds,
       which vectorise at any width; a float-to-int floor did not at AVX2), r = a - n ln 2 in
       two parts, e**r = 1 + r + r*r P(r) with P of degree 4 by Estrin's scheme (two pairs,
       then r**2 and r**4: 3 multiply-adds deep where Horner's were one dependent chain,
       likely what kept Zen 1 from overlapping iterations; tanh and sigmoid at 10^6 ~10%
       faster). P's coefficients are ours: a fit of e**r's relative error on |r| <= ln 2 / 2
       (iterated weighted least squares, to 3e-9, a twentieth of an ulp), where Cephes'
       degree 5 spent one more multiply-add on an error nothing sees (every float32 a still
       within 1 ulp: swept; tanh 4-6% faster at 10^6 on Zen 4). Then times 2**n as
       2**(n + 24), exact (where cgrad_expf_nonpos_2p24 stops), then 2**-24
       (cgrad_expf_nonpos), the one rounding, so that subnormal results round correctly.
       Within 1 ulp of the rounded value; NaN stays NaN, a below -104 gives 0
       (cgrad_expf_nonpos_2p24: 2**24 times that, normal for a >= -103.9). No upper clamp
       (a above 88.7 would overflow the exponent bits): it is never taken for a <= 0, and its
       compare and select took ~13% of the sigmoid's time. n + 24 comes from the sum's bits,
       n being bits(t) - bits(magic): no float-to-int conversion. (The same bits, for every
       a <= 0 and NaN, as the former two halves 2**(n/2) * 2**(n - n/2), 15% faster.) */
    /* P's coefficients, shared with the row kernels' vector copy (cgrad_vexpf_nonpos) */
    #define CGRAD_EXP_P0 4.999999403953552e-1f
    #define CGRAD_EXP_P1 1.666652113199234e-1f
    #define CGRAD_EXP_P2 4.166838899254799e-2f
    #define CGRAD_EXP_P3 8.368710055947304e-3f
    #define CGRAD_EXP_P4 1.3814613921567798e-3f
    /* 2**n as a float's bits, for a normal power (-126 <= n <= 127) */
    CGRAD_ALWAYS_INLINE float cgrad_pow2f(int32_t n) {
        union { float f; int32_t i; } u;
        u.i = (int32_t) ((uint32_t) (n + 127) << 23);
        return u.f;
    }
    /* P(r) of e**r = 1 + r + r*r P(r), for |r| <= ln 2 / 2 and r2 = r*r */
    CGRAD_ALWAYS_INLINE float cgrad_exp_poly(float r, float r2) {
        return CGRAD_FMAF(CGRAD_EXP_P4, r2 * r2,
                          CGRAD_FMAF(CGRAD_FMAF(CGRAD_EXP_P3, r, CGRAD_EXP_P2), r2,
                                     CGRAD_FMAF(CGRAD_EXP_P1, r, CGRAD_EXP_P0)));
    }
    /* e**x = (1 + r + r*r P(r)) * 2**n: returns P(r), with r, r*r and n = bits(t) -
       bits(magic) in *r, *r2, *n (the reduction and polynomial above) */
    CGRAD_ALWAYS_INLINE float cgrad_exp_parts(float x, float* r_, float* r2_, int32_t* n) {
        const float magic = 12582912.0f;
        float t = CGRAD_FMAF(x, 1.44269504088896341f, magic);
        float fn = t - magic;
        float r = CGRAD_FMAF(fn, -0.693359375f, x);
        r = CGRAD_FMAF(fn, 2.12194440e-4f, r);
        float r2 = r * r, p = cgrad_exp_poly(r, r2);
        union { float f; int32_t i; } bits;
        bits.f = t;
        *n = bits.i - 0x4B400000;
        *r_ = r;
        *r2_ = r2;
        return p;
    }
    /* e**x = (1 + q) * 2**n for the q returned (e**r - 1) and n in *n */
    CGRAD_ALWAYS_INLINE float cgrad_expm1f_reduced(float x, int32_t* n) {
        float r, r2, p = cgrad_exp_parts(x, &r, &r2, n);
        return CGRAD_FMAF(p, r2, r);
    }
    CGRAD_ALWAYS_INLINE float cgrad_expf_nonpos_2p24(float a) {
        const float lo = -104.0f;
        int32_t n;
        float p = cgrad_expm1f_reduced(a < lo ? lo : a, &n) + 1.0f;
        return p * cgrad_pow2f(n + 24);
    }
    /* e**a for float32 a in [-20, 0] (tanh's -2|x|, |x| clamped where tanh rounds to 1): the
       result stays normal, so no clamp, 2**n in one step, and the 1 + q of the polynomial
       folded into the scaling as q 2**n + 2**n (power-of-two scaling is exact: the same bits
       as rounding 1 + q, then scaling) */
    CGRAD_ALWAYS_INLINE float cgrad_expf_normal(float a) {
        int32_t n;
        float q = cgrad_expm1f_reduced(a, &n), scale = cgrad_pow2f(n);
        return CGRAD_FMAF(q, scale, scale);
    }
    /* e**a - 1 for float32 a <= 0 (elu), without cancellation: q 2**n + (2**n - 1) from the
       reduced polynomial's q = e**r - 1, rounded once; 2**n - 1 is exact for the n here, and
       n = 0 gives q itself, r being a. a is clamped to -30, where the result rounds to -1
       (2**n stays normal); NaN stays NaN. Above -2**-25 the result is a itself (the rounded
       value there), which keeps -0's sign (the reduction's sums make it +0). Within 1 ulp of
       the rounded value: every float32 a <= 0 swept. */
    CGRAD_ALWAYS_INLINE float cgrad_expm1f_nonpos(float a) {
        const float lo = -30.0f;
        int32_t n;
        float q = cgrad_expm1f_reduced(a < lo ? lo : a, &n), scale = cgrad_pow2f(n);
        q = CGRAD_FMAF(q, scale, scale - 1.0f);
        return a > -0x1p-25f ? a : q;
    }
    /* e**a - 1 for any float32 a, without cancellation: r 2**n + (2**n - 1), rounded, then
       plus r*r P(r) 2**n (1 + r + r*r P(r) being e**r); q = r + r*r P(r) rounded on its own
       first, as cgrad_expm1f_nonpos has it, left 48 of the 2**32 floats 2 ulp off (2q + 1
       near a = 0.37). 2**n comes in two halves s1 = 2**h, s2 = 2**(n - h), each normal, so
       that e**88.7 stays finite: s1 - 2**(h - n) is exact for n <= 24 (above, the -1 is
       below half an ulp), and the product by s2 exact. a is clamped to [-30, 89] (NaN kept):
       -1 and inf (from 88.7229) at the ends. |a| below 2**-25 gives a itself (the sign of -0
       kept). Within 1 ulp: every float32 a swept. */
    CGRAD_ALWAYS_INLINE float cgrad_expm1f(float a) {
        float x = -30.0f > a ? -30.0f : a, r, r2;
        int32_t n;
        float p = cgrad_exp_parts(89.0f < x ? 89.0f : x, &r, &r2, &n);
        int32_t h = n >> 1;
        float s1 = cgrad_pow2f(h), s2 = cgrad_pow2f(n - h);
        float linear = CGRAD_FMAF(r, s1, s1 - cgrad_pow2f(h - n));
        float y = CGRAD_FMAF(p * r2, s1, linear) * s2;
        return fabsf(a) < 0x1p-25f ? a : y;
    }
    /* P(f) of ln(1 + f) = f - f*f/2 + f**3 P(f), f in [sqrt(1/2) - 1, sqrt(2) - 1] and
       z = f*f: Cephes' logf polynomial, of degree 8 (Estrin's scheme) */
    CGRAD_ALWAYS_INLINE float cgrad_log_poly(float f, float z) {
        float z4 = z * z;
        float p = CGRAD_FMAF(
            CGRAD_FMAF(CGRAD_FMAF(-1.1514610310e-1f, f, 1.1676998740e-1f), z,
                       CGRAD_FMAF(-1.2420140846e-1f, f, 1.4249322787e-1f)), z4,
            CGRAD_FMAF(CGRAD_FMAF(-1.6668057665e-1f, f, 2.0000714765e-1f), z,
                       CGRAD_FMAF(-2.4999993993e-1f, f, 3.3333331174e-1f)));
        return CGRAD_FMAF(7.0376836292e-2f, z4 * z4, p);
    }
    /* ln(1 + f) + fe ln 2 + c for f as above and a small correction c: the polynomial plus
       fe ln 2 in two parts; c joins the small terms (log1p's rounding of 1 + t) */
    CGRAD_ALWAYS_INLINE float cgrad_log_reduced_plus(float f, float fe, float c) {
        float z = f * f, p = cgrad_log_poly(f, z);
        float y = CGRAD_FMAF(p * f, z, c);             /* (c = 0: p f z, and the same bits) */
        y = CGRAD_FMAF(fe, -2.12194440e-4f, y);
        y = CGRAD_FMAF(z, -0.5f, y);
        return CGRAD_FMAF(fe, 0.693359375f, f + y);
    }
    CGRAD_ALWAYS_INLINE float cgrad_log_reduced(float f, float fe) {
        return cgrad_log_reduced_plus(f, fe, 0.0f);
    }
    /* ln(1 + t) for float32 t in [0, 1] (or NaN): the e**-|x| of softplus and log-sigmoid.
       1 + t is never rounded: up to sqrt 2 - 1 the polynomial takes f = t itself, above it
       f = t/2 - 1/2 (exact there) and one ln 2, as cgrad_logf would split 1 + t. So a tiny t
       keeps its bits (ln(1 + t) = t), where ln of the rounded 1 + t gives 0. */
    CGRAD_ALWAYS_INLINE float cgrad_log1pf_unit(float t) {
        int high = t > 0.41421356f;
        return cgrad_log_reduced(high ? CGRAD_FMAF(t, 0.5f, -0.5f) : t, high ? 1.0f : 0.0f);
    }
    /* m - 1 and the exponent e (as a float) of a positive normal a = m 2**e, m in
       [sqrt(1/2), sqrt(2)), from a's bits: the split of cgrad_logf and cgrad_log1pf */
    CGRAD_ALWAYS_INLINE float cgrad_log_split(float a, float* fe) {
        union { float f; int32_t i; } u;
        u.f = a;
        int32_t e = ((u.i >> 23) & 0xff) - 126;
        u.i = (u.i & 0x007fffff) | 0x3f000000;                          /* m in [0.5, 1) */
        int low = u.f < 0.707106781186547524f;
        *fe = (float) (low ? e - 1 : e);
        return low ? u.f + u.f - 1.0f : u.f - 1.0f;
    }
    /* ln(1 + t) for any float32 t: u = 1 + t rounded, split as cgrad_logf splits it, and the
       rounding's error c = t - (u - 1) added as c / u (ln(u + c) = ln u + c/u, to first
       order; c is exact for t < 2**24, where it matters). u is never subnormal (0, or at
       least 2**-24). Selects: -inf at t = -1, NaN below, inf at inf; |t| below 2**-24 gives
       t itself (the sign of -0 kept). Within 1 ulp: every float32 t swept. NumPy's float32
       log1p is glibc's, ~15 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_log1pf(float t) {
        float u = 1.0f + t, fe;
        float f = cgrad_log_split(u, &fe);
        float r = cgrad_log_reduced_plus(f, fe, (t - (u - 1.0f)) / u);
        r = u > 0 ? r : (u == 0 ? -INFINITY : NAN);
        r = u == INFINITY ? u : r;
        return fabsf(t) < 0x1p-24f ? t : r;
    }
    /* r, a logarithm of a computed for a positive normal a, with the ends: -inf at +-0, NaN
       below 0 (and at NaN), inf at inf */
    CGRAD_ALWAYS_INLINE float cgrad_log_edges(float a, float r) {
        r = a > 0 ? r : (a == 0 ? -INFINITY : NAN);
        return a == INFINITY ? a : r;
    }
    /* ln a for float32, vectorisable (NumPy's np.log calls glibc's logf, ~5.5 ns an element,
       where it has no AVX-512 loop). Cephes' logf: a = m 2**e with m in [sqrt(1/2), sqrt(2)),
       f = m - 1, ln m = f - f*f/2 + f**3 P(f) with P of degree 8 (Estrin's scheme), plus
       e ln 2 in two parts. The exponent and m come from the bits; a subnormal a is scaled by
       2**23 first. Selects give ln(+-0) = -inf, ln(a < 0) = NaN, ln(inf) = inf, NaN. */
    CGRAD_ALWAYS_INLINE float cgrad_logf(float a) {
        int sub = a < 1.17549435e-38f;                    /* subnormal (or 0, negative, -inf) */
        float fe, f = cgrad_log_split(sub ? a * 8388608.0f : a, &fe);
        return cgrad_log_edges(a, cgrad_log_reduced(f, sub ? fe - 23.0f : fe));
    }
    /* log_b a for float32 a (b = 2 or 10): e c_e + (f + y) c_f, with a = m 2**e split as
       cgrad_logf splits it, f = m - 1, y = ln(1 + f) - f from the polynomial, c_e = log_b 2
       and c_f = log_b e. Summed in double (f + y is exact there) and rounded once: within an
       ulp (every float32 a swept, with and without FMA). In float, log10 took 2 ulp where
       it nears -1/8: its ulp is a quarter of ln's there, so y's rounding counts four times.
       NumPy's float32 log2 and log10 are glibc's, ~4 and ~7 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_log_base(float a, double c_e, double c_f) {
        int sub = a < 1.17549435e-38f;
        float fe, f = cgrad_log_split(sub ? a * 8388608.0f : a, &fe);
        float z = f * f;
        float y = CGRAD_FMAF(z, -0.5f, cgrad_log_poly(f, z) * f * z);
        double r = (double) (sub ? fe - 23.0f : fe) * c_e + ((double) f + (double) y) * c_f;
        return cgrad_log_edges(a, (float) r);
    }
    CGRAD_ALWAYS_INLINE float cgrad_log2f(float a) {
        return cgrad_log_base(a, 1.0, 1.4426950408889634074);
    }
    CGRAD_ALWAYS_INLINE float cgrad_log10f(float a) {
        return cgrad_log_base(a, 0.30102999566398119521, 0.43429448190325182765);
    }
    /* min(a, b) for b > 0 and a >= -0, as the signed-integer min of their bits: one integer
       instruction (vpminsd) where GCC makes a float clamp compares and blends, which share
       Zen 1's multiply pipes with the polynomials. A NaN a gives b (positive sign) or itself
       (negative sign; so does -0): a caller that needs NaN keeps it through another operand. */
    CGRAD_ALWAYS_INLINE float cgrad_min_bits(float a, float b) {
        union { float f; int32_t i; } ua, ub;
        ua.f = a;
        ub.f = b;
        ua.i = ua.i < ub.i ? ua.i : ub.i;
        return ua.f;
    }
    CGRAD_ALWAYS_INLINE float cgrad_expf_nonpos(float a) {
        return cgrad_expf_nonpos_2p24(a) * 5.9604644775390625e-8f;             /* * 2**-24 */
    }
    /* e**a for any float32 a: a clamped to [-104, 89] (NaN stays NaN), which keeps n in
       [-150, 129], and 2**n as two halves 2**(n >> 1) * 2**(n - (n >> 1)), each a normal
       float: p times the first is exact, the second rounds once, so that subnormal results
       round correctly and e**88.72 (n = 128) stays finite; from 88.7229 up the product is inf.
       Within 1 ulp, as cgrad_expf_nonpos; NumPy's np.exp runs ~4.5 ns an element on an
       AVX2 host (its fast loop is AVX-512's), this ~2.4 at 10^6 (Zen 1, one thread). */
    CGRAD_ALWAYS_INLINE float cgrad_expf(float a) {
        const float lo = -104.0f, hi = 89.0f;
        /* compares and blends: GCC emits no maxps / minps for a NaN-keeping clamp (tried) */
        float x = lo > a ? lo : a;
        int32_t n;
        float p = cgrad_expm1f_reduced(hi < x ? hi : x, &n) + 1.0f;
        int32_t h = n >> 1;
        return p * cgrad_pow2f(h) * cgrad_pow2f(n - h);
    }
    /* 2**a for any float32 a: a = n + r, n = round(a) by the 1.5 * 2**23 trick and r = a - n
       exact (|r| <= 1/2); 2**r = e**u with u = r ln 2 carried as u + u_lo (ln 2 in two
       parts, the product's error by a multiply-add where there is one: 0 without, still
       within an ulp) through e**'s polynomial (|u| <= ln 2 / 2, its fitted range); then
       times 2**n in two normal halves, as cgrad_expf. a is clamped to [-151, 129] (NaN
       kept): 0 and inf beyond. Within an ulp (every float32 a swept, with and without FMA).
       NumPy's float32 exp2 is glibc's, ~3.7 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_exp2f(float a) {
        const float magic = 12582912.0f, ln2_hi = 0.693147182464599609375f,
                    ln2_lo = -1.904654323148236e-9f;
        float x = -151.0f > a ? -151.0f : a;
        x = 129.0f < x ? 129.0f : x;
        float t = x + magic, r = x - (t - magic);
        float u = r * ln2_hi, u2 = u * u;
        float u_lo = CGRAD_FMAF(r, ln2_lo, CGRAD_FMAF(r, ln2_hi, -u));
        float q = CGRAD_FMAF(cgrad_exp_poly(u, u2), u2, u + u_lo) + 1.0f;
        union { float f; int32_t i; } bits;
        bits.f = t;
        int32_t n = bits.i - 0x4B400000, h = n >> 1;
        return q * cgrad_pow2f(h) * cgrad_pow2f(n - h);
    }
    /* atan for float32 (Cephes' atanf): with a = |x|, t = -1/a above tan(3 pi/8) (atan a =
       pi/2 + atan t), (a - 1)/(a + 1) above tan(pi/8) (pi/4 + atan t), else a itself, as one
       division num/den by selects; atan t = t + t z P(z), z = t*t, |t| <= tan(pi/8). In the
       middle range pi/4 + t cancels (a < 1), so t's own error counts in full there: it is
       carried as t_lo = (rem + e1 - t e2) / den from the division's remainder rem (exact with
       a multiply-add; without one, rounded, and still within an ulp) and the roundings e1,
       e2 of a - 1 and a + 1 (exact by Fast2Sum and 2Sum), 1/den being (1 - t)/2 there. pi/2
       and pi/4 in two parts. x's sign: atan(-0) = -0; NaN stays NaN;
       +-inf give +-pi/2. Within an ulp (every float32 x swept, with and without FMA; 2 ulp
       for 172k floats near a = tan(pi/8) without t_lo). NumPy's float32 arctan is glibc's,
       ~11 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_atanf(float x) {
        float a = fabsf(x);
        int big = a > 2.414213562373095f, mid = a > 0.4142135623730950f;
        float a_m1 = a - 1.0f, e1 = a - (a_m1 + 1.0f);
        float a_p1 = a + 1.0f, bb = a_p1 - a, e2 = (a - (a_p1 - bb)) + (1.0f - bb);
        float num = big ? -1.0f : (mid ? a_m1 : a);
        float den = big ? a : (mid ? a_p1 : 1.0f);
        float base = big ? 1.57079632679489661923f : (mid ? 0.78539816339744830962f : 0.0f);
        float base_lo = big ? -4.37113900018624283e-8f : (mid ? -2.18556950009312e-8f : 0.0f);
        float t = num / den, z = t * t;
        float t_lo = (CGRAD_FMAF(-t, den, num) + e1 - t * e2) * ((1.0f - t) * 0.5f);
        t_lo = (mid & !big) ? t_lo : 0.0f;
        float p = CGRAD_FMAF(CGRAD_FMAF(CGRAD_FMAF(8.05374449538e-2f, z, -1.38776856032e-1f), z,
                                        1.99777106478e-1f), z, -3.33329491539e-1f) * z;
        return copysignf(base + (t + CGRAD_FMAF(p, t, base_lo + t_lo)), x);
    }
    /* asin s = s + s z P(z) in double, for float32 a = |x| (Cephes' asinf polynomial, P of
       degree 4 in float: its term is under 5% of the result): z = a*a and s = x itself up to
       1/2 (signed, for acos), else z = (1 - a)/2 (exact) and s = sqrt(z) in double, with
       asin a = pi/2 - 2 asin s; *big tells which. |x| > 1 gives a negative z, so NaN. */
    CGRAD_ALWAYS_INLINE double cgrad_asin_reduced(float x, int* big) {
        float a = fabsf(x);
        *big = a > 0.5f;
        float z = *big ? 0.5f * (1.0f - a) : a * a;
        float p = CGRAD_FMAF(4.2163199048e-2f, z, 2.4181311049e-2f);
        p = CGRAD_FMAF(CGRAD_FMAF(CGRAD_FMAF(p, z, 4.5470025998e-2f), z, 7.4953002686e-2f), z,
                       1.6666752422e-1f) * z;
        double s = *big ? sqrt((double) z) : (double) x;
        return s + s * (double) p;
    }
    /* asin and acos for float32: from cgrad_asin_reduced, assembled in double and rounded once
       (above 1/2, pi/2 - 2 asin s in float cancels to 2 ulp, as s's own rounding counts
       twice): asin x = pi/2 - 2r above 1/2 (x's sign), acos x = 2r or pi - 2r above, pi/2 - r
       below. Within an ulp (every float32 x swept, with and without FMA); NaN outside [-1, 1]
       and at NaN; asin(-0) = -0. NumPy's float32 arcsin and arccos are glibc's, ~10 ns an
       element. */
    CGRAD_ALWAYS_INLINE float cgrad_asinf(float x) {
        int big;
        double r = cgrad_asin_reduced(x, &big);
        return copysignf((float) (big ? 1.5707963267948966 - 2.0 * r : r), x);
    }
    CGRAD_ALWAYS_INLINE float cgrad_acosf(float x) {
        int big;
        double r = cgrad_asin_reduced(x, &big);
        return (float) (big ? (x > 0 ? 2.0 * r : 3.141592653589793 - 2.0 * r)
                            : 1.5707963267948966 - r);
    }
    /* e**a as a double for float32 a in [0, 89.5] (or NaN): the float reduction and
       polynomial (cgrad_exp_parts), then (1 + q) 2**n in double, where 1 + q is exact and
       2**n always finite: sinh's and cosh's e**a, unrounded */
    CGRAD_ALWAYS_INLINE double cgrad_exp_double(float a) {
        float r, r2;
        int32_t n;
        float p = cgrad_exp_parts(a, &r, &r2, &n);          /* (before r and r2 are read) */
        float q = CGRAD_FMAF(p, r2, r);
        union { double d; int64_t i; } u;
        u.i = (int64_t) (n + 1023) << 52;
        return (1.0 + (double) q) * u.d;
    }
    /* cosh and sinh for float32: (e + 1/e)/2 and (e - 1/e)/2 in double from e = e**|x|
       (cgrad_exp_double), rounded once; |x| clamped to 89.5, where both overflow to inf (NaN
       kept). sinh below |x| = 1, where e - 1/e cancels, is Taylor's odd polynomial to x**13
       in float (the rest under 1e-12). x's sign for sinh; cosh(-0) = 1. Within an ulp
       (every float32 x swept, with and without FMA). NumPy's float32 sinh and cosh are
       glibc's, ~20-30 and ~8 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_coshf(float x) {
        float a = fabsf(x);
        double e = cgrad_exp_double(89.5f < a ? 89.5f : a);
        return (float) (0.5 * e + 0.5 / e);
    }
    CGRAD_ALWAYS_INLINE float cgrad_sinhf(float x) {
        float a = fabsf(x), z = a * a;
        double e = cgrad_exp_double(89.5f < a ? 89.5f : a);
        float big = (float) (0.5 * e - 0.5 / e);
        float p = CGRAD_FMAF(1.6059043836821613e-10f, z, 2.505210838544172e-08f);
        p = CGRAD_FMAF(CGRAD_FMAF(CGRAD_FMAF(p, z, 2.7557319223985893e-06f), z,
                                  1.984126984126984e-04f), z, 8.333333333333333e-03f);
        p = CGRAD_FMAF(p, z, 1.6666666666666666e-01f) * z;
        return copysignf(a < 1.0f ? CGRAD_FMAF(a, p, a) : big, x);
    }
    /* ln(1 + t) for a double t >= 0 up to the largest float, to better than float32's
       precision (within an ulp once rounded to float): u = 1 + t rounded in double and its
       error c = t - (u - 1) (exact below 2**52), u = u_f + u_lo with u_f = u rounded to
       float; ln u_f from cgrad_log_split's exact f and exponent and the polynomial's y =
       ln(1 + f) - f, plus (u_lo + c) / u_f (ln(1 + e) = e to first order; e is below
       2**-24). Summed in double: y's rounding is the largest error, ~2**-29 of the result.
       A NaN t gives NaN (through u_lo). */
    CGRAD_ALWAYS_INLINE double cgrad_log1p_double(double t) {
        double u = 1.0 + t, c = t - (u - 1.0);
        float uf = (float) u, fe;
        float f = cgrad_log_split(uf, &fe), z = f * f;
        float y = CGRAD_FMAF(z, -0.5f, cgrad_log_poly(f, z) * f * z);
        return (double) fe * 0.6931471805599453 + ((double) f + (double) y)
               + ((u - (double) uf) + c) / (double) uf;
    }
    /* atanh, asinh and acosh for float32, as ln(1 + t) (cgrad_log1p_double) of a t computed
       in double, where x's square and the divisions are exact or rounded far below float's
       ulp, and rounded once: atanh a = ln(1 + 2a/(1 - a)) / 2, asinh a = ln(1 + a + a*a/(1 +
       sqrt(a*a + 1))), acosh x = ln(1 + (x - 1) + sqrt((x - 1)(x + 1))) (no cancellation: the
       terms are positive; a small t keeps its bits through u_lo and c). Above 2**13, asinh and
       acosh are ln(2a) (the rest is below 2**-28, a 250th of an ulp), t = a - 1 and ln 2
       added, so that u stays a float. The ends by selects: atanh(+-1) = +-inf, NaN beyond;
       acosh below 1 NaN; inf gives inf; x's sign for atanh and asinh (atanh(-0) = -0). Within
       an ulp (every float32 x swept, with and without FMA). NumPy's float32 arctanh, arcsinh
       and arccosh are glibc's, ~20-27 ns an element. */
    CGRAD_ALWAYS_INLINE float cgrad_atanhf(float x) {
        float a = fabsf(x);
        double d = (double) a;
        float r = (float) (0.5 * cgrad_log1p_double((d + d) / (1.0 - d)));
        return copysignf(a < 1.0f ? r : (a == 1.0f ? INFINITY : NAN), x);
    }
    CGRAD_ALWAYS_INLINE float cgrad_asinhf(float x) {
        float a = fabsf(x);
        double d = (double) a, s = d * d;
        int big = a > 8192.0f;
        double t = big ? d - 1.0 : d + s / (1.0 + sqrt(s + 1.0));
        float r = (float) (cgrad_log1p_double(t) + (big ? 0.6931471805599453 : 0.0));
        return copysignf(a == INFINITY ? a : r, x);
    }
    CGRAD_ALWAYS_INLINE float cgrad_acoshf(float x) {
        double d = (double) x, m = d - 1.0;
        int big = x > 8192.0f;
        double t = big ? m : m + sqrt(m * (d + 1.0));
        float r = (float) (cgrad_log1p_double(t) + (big ? 0.6931471805599453 : 0.0));
        r = x >= 1.0f ? r : NAN;
        return x == INFINITY ? x : r;
    }
    /* tan for float32 |x| up to CGRAD_TAN_LIMIT (beyond, a caller takes libm's tanf), in
       double: n = round(x 2/pi) by the 1.5 * 2**52 trick, y = x - n pi/2 with pi/2 in two
       parts (fdlibm's __rem_pio2f: the first 25 bits, so that n times it is exact), tan y =
       y + y z P(z) for |y| <= pi/4, z = y*y, P of degree 7 (Estrin's scheme; ours, fitted
       to tan's relative error: 2**-33, where fdlibm's float kernel stops at 2**-25.5, which
       rounded ~1.3% of all floats the other way), and -1 / tan y for odd n; rounded once.
       Within an ulp (every float32 x swept, with and without FMA; below the limit 0.07% of
       the floats round the other way); NaN and +-inf give NaN, -0 -0.
       NumPy's float32 tan is glibc's, ~16 ns an element. */
    #define CGRAD_TAN_LIMIT 524288.0f
    CGRAD_ALWAYS_INLINE float cgrad_tanf(float x) {
        const double magic = 6755399441055744.0;
        double d = (double) x;
        double t = d * 0.63661977236758134308 + magic, fn = t - magic;
        double y = (d - fn * 1.57079631090164184570) - fn * 1.58932547735281966916e-08;
        union { double d; int64_t i; } bits;
        bits.d = t;
        double z = y * y, z2 = z * z, z4 = z2 * z2;
        double q0 = (0.33333331850105336 + 0.13333410368386536 * z)
                    + (0.05395466661526298 + 0.02198438871034216 * z) * z2;
        double q1 = (0.008332552159129482 + 0.004990166340632358 * z)
                    + (-0.000592953388891127 + 0.0020398628086565652 * z) * z2;
        double r = y + (y * z) * (q0 + q1 * z4);
        return (float) ((bits.i & 1) ? -1.0 / r : r);
    }
    /* a * b + c in double, one rounding where the build has FMA (see CGRAD_FMAF); without
       it two, which at double's precision changes nothing a float sees (both builds swept) */
    #if CGRAD_HAS_FMA_BOTH
    #define CGRAD_FMA_D(a, b, c) fma(a, b, c)
    #else
    #define CGRAD_FMA_D(a, b, c) ((a) * (b) + (c))
    #endif
    /* Q(r) of e**r = 1 + r + r*r Q(r) for |r| <= ln 2 / 2, degree 5 (e**r of degree 7):
       relative error 5.2e-11 (2**-34.2), ~2**-10 of float32's relative half ulp */
    #define CGRAD_EXPD_C2 0.50000000680408285
    #define CGRAD_EXPD_C3 0.16666665864594574
    #define CGRAD_EXPD_C4 0.041666293624813507
    #define CGRAD_EXPD_C5 0.0083334976685942846
    #define CGRAD_EXPD_C6 0.0013944759163470541
    #define CGRAD_EXPD_C7 0.00019790248610225712
    /* erfcx(a) = e**(a*a) erfc(a) = F(v) on [0, 10.125], v = (P a - K)/(a + K) (the image of
       (a - K)/(a + K) on [-1, 1]), F of degree 12: relative error 4.8e-11 (2**-34.3); F's
       value and slope at a = 0 are imposed, so the error vanishes to second order there
       (2**-41 below a = 2**-8): below 1 erfc(x) ~ 1 - 2x/sqrt(pi) puts long runs of x near
       one rounding midpoint (x in [2**-26, 2**-25) straddles 1 - 2**-25), and the unforced
       fit's 2**-35 left 3.6 times as many 1-ulp results */
    #define CGRAD_ERFC_K 3.0
    #define CGRAD_ERFC_P 1.5925925925925928
    #define CGRAD_ERFC_F0 0.2684044192520213
    #define CGRAD_ERFC_F1 -0.35933854190751124
    #define CGRAD_ERFC_F2 0.22261664693529137
    #define CGRAD_ERFC_F3 -0.10527303706846966
    #define CGRAD_ERFC_F4 0.036291921054964524
    #define CGRAD_ERFC_F5 -0.007940939822373665
    #define CGRAD_ERFC_F6 0.00047571806509117418
    #define CGRAD_ERFC_F7 0.00029017194583429856
    #define CGRAD_ERFC_F8 -6.5963919678950662e-05
    #define CGRAD_ERFC_F9 -1.0881546271220011e-05
    #define CGRAD_ERFC_F10 4.8115021311842532e-06
    #define CGRAD_ERFC_F11 4.9615146618942063e-07
    #define CGRAD_ERFC_F12 -2.8513714588063177e-07
    /* erfc(|x|) in double for float32 x, before rounding: e**(-a*a) F(v), a = |x|, one
       formula for the whole range (no cancellation anywhere: F and e**(-a*a) are positive,
       so the error stays relative, down to the subnormal results near a = 10). a*a is exact
       in double (24-bit a); e**(-a*a) = e**r 2**n with n = round(-a*a log2 e) by the
       1.5 * 2**52 trick and r = -a*a - n ln 2 (one constant: n ln 2's error, below 2**-47,
       is far under the fits'), and 2**n applied last by adding n << 52 to the product's
       bits: e**r F stays in [0.039, 1.42] and n >= -148, so the result is a normal double, and
       n << 52 is the sum's bits shifted, the magic's low 12 bits being 0: no int64-to-double
       conversion (none at AVX2). Above 10.125 (where erfc rounds to 0 in float32, from
       10.0542) the result is 0 by a select on the output, where a clamp of a on the input
       was 15% slower (GCC carried the clamp's select into a + K, a*a and -a*a: four blends a
       vector, not one). Beyond it r and n are garbage (infinite or NaN for a = inf), which
       the select discards; a NaN a stays NaN through it (the compare is false), and its
       n << 52 is 0 (a float NaN widened to double has 29 zero low bits, and every
       operation keeps or replaces the payload). Estrin's scheme in both polynomials (at
       AVX2 1.84 -> 1.97 ns an element with Horner's in F). Relative error at most 1.0e-10
       (2**-33.2, every 17th float32 measured against glibc's double erfc): F's and e**r's,
       plus double roundings. */
    CGRAD_ALWAYS_INLINE double cgrad_erfc_abs_double(double a) {
        const double magic = 6755399441055744.0;                            /* 1.5 * 2**52 */
        double a2 = a * a;
        double v = CGRAD_FMA_D(CGRAD_ERFC_P, a, -CGRAD_ERFC_K) / (a + CGRAD_ERFC_K);
        double v2 = v * v, v4 = v2 * v2, v8 = v4 * v4;
        double q0 = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_ERFC_F3, v, CGRAD_ERFC_F2), v2,
                                CGRAD_FMA_D(CGRAD_ERFC_F1, v, CGRAD_ERFC_F0));
        double q1 = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_ERFC_F7, v, CGRAD_ERFC_F6), v2,
                                CGRAD_FMA_D(CGRAD_ERFC_F5, v, CGRAD_ERFC_F4));
        double q2 = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_ERFC_F11, v, CGRAD_ERFC_F10), v2,
                                CGRAD_FMA_D(CGRAD_ERFC_F9, v, CGRAD_ERFC_F8));
        double f = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_ERFC_F12, v4, q2), v8,
                               CGRAD_FMA_D(q1, v4, q0));
        double t = CGRAD_FMA_D(a2, -1.4426950408889634, magic), fn = t - magic;
        double r = CGRAD_FMA_D(fn, -0.6931471805599453, -a2), r2 = r * r, r4 = r2 * r2;
        double q = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_EXPD_C7, r, CGRAD_EXPD_C6), r4,
                               CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_EXPD_C5, r, CGRAD_EXPD_C4), r2,
                                           CGRAD_FMA_D(CGRAD_EXPD_C3, r, CGRAD_EXPD_C2)));
        union { double d; uint64_t i; } e, s;
        e.d = CGRAD_FMA_D(CGRAD_FMA_D(q, r2, r), f, f);                          /* e**r F */
        s.d = t;
        e.i += s.i << 52;                                                        /* * 2**n */
        return a > 10.125 ? 0.0 : e.d;
    }
    /* erfc for float32: erfc(|x|) above (at most 1), and 2 - erfc(|x|) for x < 0 (at least
       1: no cancellation), rounded once; so the rounding of a subnormal result (x in
       [9.19, 10.05]) is the conversion's own, correct. Within 1 ulp of the correctly rounded
       value, for every float32 x (all 2**32 swept with FMA and AVX2, against glibc's double
       erfc rounded: 47117 results 1 ulp off, none more; every 17th without either, the same
       counts). erfc(-inf) = 2, erfc(inf) = 0, erfc(-0) = 1, NaN stays NaN. glibc's erfcf
       costs ~18.4 ns an element; this 1.80 at AVX2 (Zen 3, one thread, 10**5 elements),
       5.0 in the baseline build. */
    CGRAD_ALWAYS_INLINE float cgrad_erfcf(float x) {
        double dx = (double) x, e = cgrad_erfc_abs_double(fabs(dx));
        return (float) (dx < 0 ? 2.0 - e : e);
    }
    /* Q(z) of ln m = 2s + s z Q(z), s = (m - 1)/(m + 1), z = s*s, for m in [sqrt(1/2),
       sqrt(2)) (|s| <= 0.1716): degree 3, ln m's absolute error 1.0e-12 (2**-39.9) */
    #define CGRAD_LOGD_Q0 0.66666665084608823
    #define CGRAD_LOGD_Q1 0.40000434010805602
    #define CGRAD_LOGD_Q2 0.28532058522763132
    #define CGRAD_LOGD_Q3 0.23668943596757999
    /* -ln d for a double d in [2**-24, 1]: d = m 2**k with m in [sqrt(1/2), sqrt(2)) from
       the bits, with no compare: subtracting sqrt(1/2)'s bits puts k in the top 12 bits
       (two's complement; k <= 0 here), m's bits are d's less k << 52, and k as a double is
       2**52 + 2048 + k's bits (k + 2048 shifted down, or'ed into 2**52's) less 2**52 + 2048
       (no int64-to-double conversion at AVX2). ln m = 2 atanh s (m - 1 and m + 1 exact);
       absolute error ~2**-40, which is what erfinv's central piece needs (its relative error
       is G'/G times w's absolute error, G'/G at most 0.27). A division, where ln(1 + f) on
       [sqrt(1/2) - 1, sqrt(2) - 1] to 2**-40 took a polynomial of degree ~15. */
    CGRAD_ALWAYS_INLINE double cgrad_neg_log_unit(double d) {
        union { double d; uint64_t i; } u, m, e;
        u.d = d;
        uint64_t t = u.i - 0x3fe6a09e667f3bcdULL;
        m.i = u.i - (t & 0xfff0000000000000ULL);
        e.i = ((t + (2048ULL << 52)) >> 52) | 0x4330000000000000ULL;
        double k = e.d - (4503599627370496.0 + 2048.0);
        double s = (m.d - 1.0) / (m.d + 1.0), z = s * s;
        double q = CGRAD_FMA_D(CGRAD_FMA_D(CGRAD_LOGD_Q3, z, CGRAD_LOGD_Q2), z * z,
                               CGRAD_FMA_D(CGRAD_LOGD_Q1, z, CGRAD_LOGD_Q0));
        double ln_m = CGRAD_FMA_D(s * z, q, s + s);
        return CGRAD_FMA_D(k, -0.6931471805599453, -ln_m);
    }
    /* erfinv(a)/a = G(w), w = -ln(1 - a*a), in two pieces of degree 12 (Giles' split, each
       refitted in double; his float32 pieces, of degree 8, are up to 4 ulp off):
       A: w < 5.25, a polynomial in w - 2.625, relative error 2.7e-11 (2**-35.1), with
       G(0) = sqrt(pi)/2 imposed (a tiny x gives x sqrt(pi)/2, rounded correctly);
       B: w in [5.25, 16] (w is at most 23 ln 2 = 15.94 below a = 1), a polynomial in
       sqrt(w) - 3.1456, relative error 4.3e-11 (2**-34.5). */
    #define CGRAD_ERFINV_W0 5.25
    #define CGRAD_ERFINV_CC 2.625
    #define CGRAD_ERFINV_TC 3.1456439237389597
    #define CGRAD_ERFINV_A0 1.532171721569894
    #define CGRAD_ERFINV_A1 0.24553892487398071
    #define CGRAD_ERFINV_A2 -0.0046267324782019014
    #define CGRAD_ERFINV_A3 -0.0011444922248239073
    #define CGRAD_ERFINV_A4 0.00021436095478375914
    #define CGRAD_ERFINV_A5 -7.4010089384637514e-06
    #define CGRAD_ERFINV_A6 -2.9945604554865708e-06
    #define CGRAD_ERFINV_A7 4.8664532729610061e-07
    #define CGRAD_ERFINV_A8 2.2714867633037507e-09
    #define CGRAD_ERFINV_A9 -9.7539091553274162e-09
    #define CGRAD_ERFINV_A10 9.5446089423123094e-10
    #define CGRAD_ERFINV_A11 9.357791070415396e-11
    #define CGRAD_ERFINV_A12 -1.9752290688350693e-11
    #define CGRAD_ERFINV_B0 2.9790438000514041
    #define CGRAD_ERFINV_B1 1.0040030395215978
    #define CGRAD_ERFINV_B2 0.0067290644671657955
    #define CGRAD_ERFINV_B3 -0.0049982777861699284
    #define CGRAD_ERFINV_B4 0.0035423258511845688
    #define CGRAD_ERFINV_B5 -0.0023658711953530843
    #define CGRAD_ERFINV_B6 0.0012119003329270346
    #define CGRAD_ERFINV_B7 -0.00034552461267510303
    #define CGRAD_ERFINV_B8 -6.4503236588558629e-05
    #define CGRAD_ERFINV_B9 0.00013385279233433088
    #define CGRAD_ERFINV_B10 -5.9470837671089751e-05
    #define CGRAD_ERFINV_B11 -6.8890887246128461e-06
    #define CGRAD_ERFINV_B12 1.12102960705133e-05
    #define CGRAD_ERFINV_C(j) \
        double c##j = central ? CGRAD_ERFINV_A##j : CGRAD_ERFINV_B##j
    /* erfinv(a) in double for float32 a = |x| < 1, before rounding: a G(w) with
       w = -ln((1 - a)(1 + a)), the factors exact in double and their product rounded once
       (w's error from it ~2**-53, absolute); one polynomial, its coefficients and variable
       selected by piece (a select each, where evaluating both pieces and selecting the
       result was 20% slower at AVX2: 4.14 ns an element, not 3.43). Estrin's
       scheme (Horner's 6% slower). a >= 1 and NaN give garbage or NaN: the caller's
       selects replace it. */
    CGRAD_ALWAYS_INLINE double cgrad_erfinv_abs_double(double a) {
        double w = cgrad_neg_log_unit((1.0 - a) * (1.0 + a));
        int central = w < CGRAD_ERFINV_W0;
        double y = central ? w - CGRAD_ERFINV_CC : sqrt(w) - CGRAD_ERFINV_TC;
        CGRAD_ERFINV_C(0); CGRAD_ERFINV_C(1); CGRAD_ERFINV_C(2); CGRAD_ERFINV_C(3);
        CGRAD_ERFINV_C(4); CGRAD_ERFINV_C(5); CGRAD_ERFINV_C(6); CGRAD_ERFINV_C(7);
        CGRAD_ERFINV_C(8); CGRAD_ERFINV_C(9); CGRAD_ERFINV_C(10); CGRAD_ERFINV_C(11);
        CGRAD_ERFINV_C(12);
        double y2 = y * y, y4 = y2 * y2, y8 = y4 * y4;
        double q0 = CGRAD_FMA_D(CGRAD_FMA_D(c3, y, c2), y2, CGRAD_FMA_D(c1, y, c0));
        double q1 = CGRAD_FMA_D(CGRAD_FMA_D(c7, y, c6), y2, CGRAD_FMA_D(c5, y, c4));
        double q2 = CGRAD_FMA_D(CGRAD_FMA_D(c11, y, c10), y2, CGRAD_FMA_D(c9, y, c8));
        return a * CGRAD_FMA_D(CGRAD_FMA_D(c12, y4, q2), y8, CGRAD_FMA_D(q1, y4, q0));
    }
    /* erfinv for float32: erfinv(|x|) above, rounded once, with x's sign (erfinv(-0) = -0);
       selects give +-inf at x = +-1 and NaN beyond and at NaN. A tiny or subnormal x gives
       x sqrt(pi)/2 rounded correctly (G(0) is exact up to double rounding). Within 1 ulp of
       the correctly rounded value for every float32 x in [-1, 1] (swept, against a double
       erfinv that agrees with scipy.special.erfinv: all 2**32 swept with FMA and AVX2, 14986
       results 1 ulp off (7e-6 of the 2.1e9 floats in [-1, 1]), none more; every 17th without
       either, the same counts). Relative error before rounding at most 4.3e-11 (2**-34.4).
       3.43 ns an element at AVX2 (Zen 3, one thread, 10**5 elements), 9.7 in the baseline
       build (2 lanes and no blend instruction: each select is three operations); Giles'
       scalar float32 version with libm's logf (up to 4 ulp off, a quarter of the floats in
       [-1, 1] more than 1: every 257th measured) 8.6 (15.5 near +-1). */
    CGRAD_ALWAYS_INLINE float cgrad_erfinvf(float x) {
        float af = fabsf(x);
        float r = (float) cgrad_erfinv_abs_double((double) af);
        r = af < 1.0f ? r : (af == 1.0f ? INFINITY : NAN);
        return copysignf(r, x);
    }
    """
    float cgrad_expf_nonpos(float a) noexcept nogil
    float cgrad_expf(float a) noexcept nogil
    # e**a for -20 <= a <= 0 only (a normal result: no clamp, one scaling)
    float cgrad_expf_normal(float a) noexcept nogil
    float cgrad_expm1f_nonpos(float a) noexcept nogil
    # e**a * 2**24, for a caller that folds the 2**-24 into its own factors
    float cgrad_expf_nonpos_2p24(float a) noexcept nogil
    float cgrad_fmaf "CGRAD_FMAF"(float a, float b, float c) noexcept nogil
    # fused multiply-add instructions for float and double (the AVX2 and AVX-512 builds)
    bint cgrad_has_fma "CGRAD_HAS_FMA_BOTH"
    float cgrad_min_bits(float a, float b) noexcept nogil
    float cgrad_logf(float a) noexcept nogil
    float cgrad_log1pf_unit(float t) noexcept nogil
    float cgrad_log1pf(float t) noexcept nogil
    float cgrad_expm1f(float a) noexcept nogil
    float cgrad_log2f(float a) noexcept nogil
    float cgrad_log10f(float a) noexcept nogil
    float cgrad_exp2f(float a) noexcept nogil
    float cgrad_atanf(float x) noexcept nogil
    float cgrad_asinf(float x) noexcept nogil
    float cgrad_acosf(float x) noexcept nogil
    float cgrad_sinhf(float x) noexcept nogil
    float cgrad_coshf(float x) noexcept nogil
    float cgrad_atanhf(float x) noexcept nogil
    float cgrad_asinhf(float x) noexcept nogil
    float cgrad_acoshf(float x) noexcept nogil
    float cgrad_tanf(float x) noexcept nogil
    float cgrad_erfcf(float x) noexcept nogil
    float cgrad_erfinvf(float x) noexcept nogil
    const float CGRAD_TAN_LIMIT


cdef inline floating vexp_nonpos(floating x) noexcept nogil:
    """e**x for x <= 0 (or NaN): cgrad_expf_nonpos for float32; libm for float64 (not
    vectorised: the adapter uses np.exp for float64 arrays)"""
    if floating is float:
        return cgrad_expf_nonpos(x)
    else:
        return exp(x)


cdef inline floating vexp(floating x) noexcept nogil:
    """e**x: cgrad_expf for float32; libm for float64 (not vectorised)"""
    if floating is float:
        return cgrad_expf(x)
    else:
        return exp(x)


cdef inline floating vexpm1_nonpos(floating x) noexcept nogil:
    """e**x - 1 for x <= 0 (or NaN): cgrad_expm1f_nonpos for float32; libm for float64"""
    if floating is float:
        return cgrad_expm1f_nonpos(x)
    else:
        return expm1(x)


cdef inline floating vlog(floating x) noexcept nogil:
    """ln x: cgrad_logf for float32; libm for float64 (not vectorised)"""
    if floating is float:
        return cgrad_logf(x)
    else:
        return log(x)


cdef inline floating vlog1p_unit(floating t) noexcept nogil:
    """ln(1 + t) for t in [0, 1]: cgrad_log1pf_unit for float32; libm for float64"""
    if floating is float:
        return cgrad_log1pf_unit(t)
    else:
        return log1p(t)


cdef inline floating neg_abs(floating x) noexcept nogil:
    """-|x| as a sign-bit operation (a compare and a select cost more in the sigmoid)"""
    if floating is float:
        return -fabsf(x)
    else:
        return -fabs(x)

# Row max and row sums as explicit 16-lane vector operations (GCC/Clang vector extensions, in
# native-width vectors: one AVX-512 register per 16 floats, two AVX2 or four SSE2 ones).
# Written as loops over lanes, GCC kept the max scalar, and it unrolled a sum's tail into
# scalar stores that the vector fold then reloaded (a store-forwarding stall on every row: most
# of a 10-class row's time). The last n % 16 elements load as one block, masked at AVX-512 and
# AVX2 (lanes past the end are never read), padded with x[0] for the max and 0 for sums.
# Max: a lane keeps its value when x is NaN or not larger (x[0] starts every lane), as
# `x > m ? x : m`; the max is exact, so lanes and fold order change no bits.
# Sums: lane j adds the elements i = j mod 16 in order, the lanes fold in a fixed tree
# (j + 8, then + 4, + 2, + 1), so every ISA gives the same bits. A padding 0 changes no lane
# (a lane starts at +0, so it is never -0).
cdef extern from *:
    """
    #include <string.h>
    /* a row sum's term: x (dot 0), x y (1), or (x - y)**2 (2: a squared error; the vector
       tails pad both with 0) */
    #define CGRAD_TERM(x, y, dot) \\
        ((dot) == 2 ? ((x) - (y)) * ((x) - (y)) : (dot) ? (x) * (y) : (x))
    /* amax / amin's step: b where it is larger (smaller, if lowest) than a or NaN, else a; a
       NaN, once in, stays. `|`, not `||`: a short circuit's branch keeps a loop scalar. */
    #define CGRAD_EXT1(a, b, lowest) \\
        ((((lowest) ? (b) < (a) : (b) > (a)) | ((b) != (b))) ? (b) : (a))
    #define CGRAD_NANMAX1(a, b) CGRAD_EXT1(a, b, 0)
    #define CGRAD_NANMIN1(a, b) CGRAD_EXT1(a, b, 1)
    #if defined(__GNUC__)
    #if defined(__AVX512F__) || defined(__AVX2__)
    #include <immintrin.h>
    #endif
    /* The 16 lanes live in native-width vectors, CGRAD_FK of floats and CGRAD_DK of doubles
       (one and two at AVX-512, two and four at AVX2, four and eight at SSE2): GCC lowers a
       wider-than-native vector type lane by lane through the stack (a 64-byte one at AVX2
       made the row max 10x slower than NumPy's). Lane j of the 16 is lane j % W of vector
       j / W, so every ISA adds and compares the same elements in the same order. */
    #if defined(__AVX512F__)
    #define CGRAD_VBYTES 64
    #elif defined(__AVX__)
    #define CGRAD_VBYTES 32
    #else
    #define CGRAD_VBYTES 16
    #endif
    #if CGRAD_VBYTES == 64
    #define CGRAD_FW 16
    #define CGRAD_DW 8
    #elif CGRAD_VBYTES == 32
    #define CGRAD_FW 8
    #define CGRAD_DW 4
    #else
    #define CGRAD_FW 4
    #define CGRAD_DW 2
    #endif
    #define CGRAD_FK (16 / CGRAD_FW)
    #define CGRAD_DK (16 / CGRAD_DW)
    typedef float cgrad_vsf __attribute__((vector_size(CGRAD_VBYTES)));
    typedef int cgrad_vsi __attribute__((vector_size(CGRAD_VBYTES)));
    typedef unsigned cgrad_vsu __attribute__((vector_size(CGRAD_VBYTES)));
    typedef double cgrad_vdf __attribute__((vector_size(CGRAD_VBYTES)));

    /* the vector of W lanes x[0:n] (0 <= n <= W), the other lanes pad: masked at AVX-512 and
       AVX2 (lanes past the end are never read), lane by lane at SSE2 */
    CGRAD_ALWAYS_INLINE cgrad_vsf cgrad_tailf(const float* x, Py_ssize_t n, float pad) {
    #if defined(__AVX512F__)
        return (cgrad_vsf) _mm512_mask_loadu_ps(_mm512_set1_ps(pad),
                                                (__mmask16) ((1u << n) - 1u), x);
    #elif defined(__AVX2__)
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int) n),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        return (cgrad_vsf) _mm256_blendv_ps(_mm256_set1_ps(pad), _mm256_maskload_ps(x, m),
                                            _mm256_castsi256_ps(m));
    #else
        cgrad_vsf v;
        for (int j = 0; j < CGRAD_FW; j++) v[j] = j < n ? x[j] : pad;
        return v;
    #endif
    }
    CGRAD_ALWAYS_INLINE cgrad_vdf cgrad_tail(const double* x, Py_ssize_t n, double pad) {
    #if defined(__AVX512F__)
        return (cgrad_vdf) _mm512_mask_loadu_pd(_mm512_set1_pd(pad),
                                                (__mmask8) ((1u << n) - 1u), x);
    #elif defined(__AVX2__)
        __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long) n),
                                       _mm256_setr_epi64x(0, 1, 2, 3));
        return (cgrad_vdf) _mm256_blendv_pd(_mm256_set1_pd(pad), _mm256_maskload_pd(x, m),
                                            _mm256_castsi256_pd(m));
    #else
        cgrad_vdf v;
        for (int j = 0; j < CGRAD_DW; j++) v[j] = j < n ? x[j] : pad;
        return v;
    #endif
    }
    /* vector k of a block's last n < 16 elements (its lanes past n pad) */
    #define CGRAD_LANES_IN(n, k, W) \\
        ((n) - (k) * (W) < 0 ? 0 : ((n) - (k) * (W) > (W) ? (W) : (n) - (k) * (W)))
    #define CGRAD_TAIL_K(TAIL, W, x, n, k, pad) \\
        TAIL((x) + (k) * (W), CGRAD_LANES_IN(n, k, W), pad)

    #define CGRAD_ADD(a, b) ((a) + (b))
    #define CGRAD_MAX1(a, b) ((b) > (a) ? (b) : (a))
    /* b > a ? b : a per lane (a lane of a stays when b is NaN) */
    #define CGRAD_MAX(a, b) __extension__ ({                                          \\
        __typeof__((b) > (a)) gt_ = (b) > (a);                                         \\
        (__typeof__(a)) (((__typeof__(gt_)) (b) & gt_) | ((__typeof__(gt_)) (a) & ~gt_)); })
    /* The fold of the 16 lanes in the fixed tree: lane j + 8 into j, then + 4, + 2, + 1, as
       op(lane j, lane j + w): first across the K vectors (while a step spans whole vectors,
       lane j + w is the same lane of the vector w / W further on), then inside the last one
       by halves in registers (through memory, every level stalled on store forwarding) */
    #if defined(__has_builtin)
    #if __has_builtin(__builtin_shufflevector)
    #define CGRAD_SHUFFLE 1
    #endif
    #endif
    #ifdef CGRAD_SHUFFLE
    #define CGRAD_FOLD2(a, op, sop) sop((a)[0], (a)[1])
    #define CGRAD_FOLD4(a, op, sop) __extension__ ({                                 \\
        __typeof__(__builtin_shufflevector(a, a, 0, 1)) h2_ =                          \\
            op(__builtin_shufflevector(a, a, 0, 1), __builtin_shufflevector(a, a, 2, 3)); \\
        CGRAD_FOLD2(h2_, op, sop); })
    #define CGRAD_FOLD8(a, op, sop) __extension__ ({                                 \\
        __typeof__(__builtin_shufflevector(a, a, 0, 1, 2, 3)) h4_ =                    \\
            op(__builtin_shufflevector(a, a, 0, 1, 2, 3),                              \\
               __builtin_shufflevector(a, a, 4, 5, 6, 7));                             \\
        CGRAD_FOLD4(h4_, op, sop); })
    #define CGRAD_FOLD16(a, op, sop) __extension__ ({                                \\
        __typeof__(__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7)) h8_ =        \\
            op(__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7),                  \\
               __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15));           \\
        CGRAD_FOLD8(h8_, op, sop); })
    #define CGRAD_FOLD_VEC(a, W, op, sop) CGRAD_FOLD_VEC_(a, W, op, sop)
    #define CGRAD_FOLD_VEC_(a, W, op, sop) CGRAD_FOLD##W(a, op, sop)
    #else
    #define CGRAD_FOLD_VEC(a, W, op, sop) __extension__ ({                           \\
        __typeof__((a)[0]) l_[W];                                                      \\
        memcpy(l_, &(a), sizeof(l_));                                                  \\
        for (int w_ = (W) / 2; w_ >= 1; w_ /= 2)                                       \\
            for (int j_ = 0; j_ < w_; j_++) l_[j_] = sop(l_[j_], l_[j_ + w_]);         \\
        l_[0]; })
    #endif
    #define CGRAD_FOLD(acc, K, W, op, sop, out) do {                                  \\
        for (int h_ = (K) / 2; h_ >= 1; h_ /= 2)                                       \\
            for (int k_ = 0; k_ < h_; k_++) acc[k_] = op(acc[k_], acc[k_ + h_]);       \\
        out = CGRAD_FOLD_VEC(acc[0], W, op, sop);                                      \\
    } while (0)

    #define CGRAD_SEL(c, a, b) \\
        ((cgrad_vsf) (((cgrad_vsi) (a) & (c)) | ((cgrad_vsi) (b) & ~(c))))
    /* CGRAD_FMAF on a vector: one rounding where the scalar one rounds once, so the bits match */
    CGRAD_ALWAYS_INLINE cgrad_vsf cgrad_vfmaf(cgrad_vsf a, cgrad_vsf b, cgrad_vsf c) {
    #if CGRAD_HAS_FMA && defined(__AVX512F__)
        return (cgrad_vsf) _mm512_fmadd_ps((__m512) a, (__m512) b, (__m512) c);
    #elif CGRAD_HAS_FMA && defined(__FMA__) && defined(__AVX__)
        return (cgrad_vsf) _mm256_fmadd_ps((__m256) a, (__m256) b, (__m256) c);
    #elif CGRAD_HAS_FMA
        cgrad_vsf r;
        for (int j = 0; j < CGRAD_FW; j++) r[j] = fmaf(a[j], b[j], c[j]);
        return r;
    #else
        return a * b + c;
    #endif
    }
    /* cgrad_expf_nonpos on a vector: the same operations in the same order, so the same
       bits (a <= 0: x - max) */
    CGRAD_ALWAYS_INLINE cgrad_vsf cgrad_vexpf_nonpos(cgrad_vsf a) {
        const cgrad_vsf zero = {0}, lo = zero - 104.0f;
        const float magic = 12582912.0f;
        cgrad_vsf x = CGRAD_SEL(a < lo, lo, a);
        cgrad_vsf t = cgrad_vfmaf(x, zero + 1.44269504088896341f, zero + magic);
        cgrad_vsf fn = t - magic;
        cgrad_vsf r = cgrad_vfmaf(fn, zero - 0.693359375f, x);
        r = cgrad_vfmaf(fn, zero + 2.12194440e-4f, r);
        cgrad_vsf r2 = r * r, r4 = r2 * r2;
        cgrad_vsf p = cgrad_vfmaf(
            zero + CGRAD_EXP_P4, r4,
            cgrad_vfmaf(cgrad_vfmaf(zero + CGRAD_EXP_P3, r, zero + CGRAD_EXP_P2), r2,
                        cgrad_vfmaf(zero + CGRAD_EXP_P1, r, zero + CGRAD_EXP_P0)));
        p = cgrad_vfmaf(p, r2, r) + 1.0f;
        cgrad_vsu scale = ((cgrad_vsu) t - 0x4B400000u + 151u) << 23;          /* 2**(n + 24) */
        return p * (cgrad_vsf) scale * 5.9604644775390625e-8f;                /* * 2**-24 */
    }
    /* out[i] = exp(x[i] - m) for i < n, and their sum as cgrad_row_sumf(out) adds it: one pass,
       the sum in registers (reading out back after masked stores stalled: they do not
       forward to loads) */
    CGRAD_ALWAYS_INLINE float cgrad_exp_sumf(const float* x, float m, float* out, Py_ssize_t n) {
        cgrad_vsf acc[CGRAD_FK], v;
        for (int k = 0; k < CGRAD_FK; k++) acc[k] = (cgrad_vsf) {0};
        Py_ssize_t i = 0;
        for (; i + 16 <= n; i += 16) {
            for (int k = 0; k < CGRAD_FK; k++) {
                memcpy(&v, x + i + k * CGRAD_FW, sizeof(v));
                v = cgrad_vexpf_nonpos(v - m);
                memcpy(out + i + k * CGRAD_FW, &v, sizeof(v));
                acc[k] = acc[k] + v;
            }
        }
        if (i < n) {
            Py_ssize_t rest = n - i;
            for (int k = 0; k < CGRAD_FK; k++) {
                cgrad_vsi lane, keep;
                for (int j = 0; j < CGRAD_FW; j++) lane[j] = k * CGRAD_FW + j;
                keep = lane < (int) rest;
                v = cgrad_vexpf_nonpos(CGRAD_TAIL_K(cgrad_tailf, CGRAD_FW, x + i, rest, k, 0) - m);
                v = (cgrad_vsf) ((cgrad_vsi) v & keep);
    #if defined(__AVX512F__)
                _mm512_mask_storeu_ps(out + i + k * CGRAD_FW,
                                      (__mmask16) ((1u << CGRAD_LANES_IN(rest, k, CGRAD_FW)) - 1u),
                                      (__m512) v);
    #else           /* (AVX2's masked store took a 10-class row from 46 to 58 ns on an EPYC) */
                for (int j = 0; j < CGRAD_FW; j++)
                    if (k * CGRAD_FW + j < rest) out[i + k * CGRAD_FW + j] = v[j];
    #endif
                acc[k] = acc[k] + v;
            }
        }
        float total;
        CGRAD_FOLD(acc, CGRAD_FK, CGRAD_FW, CGRAD_ADD, CGRAD_ADD, total);
        return total;
    }
    /* a row's extreme under OP (a per-lane select: CGRAD_MAX, or amax's NaN-keeping
       CGRAD_NANMAX), the lanes folded by CGRAD_FOLD with SOP on the last ones. From 64
       elements a step in four independent sets of vectors: one set waited on its compares
       and blend (~8 cycles a step, 0.15 ns an element at 10^6). */
    #define CGRAD_VEXT(T, K, W, TAIL, x, n, OP, SOP, out) do {                         \\
        T acc[K], a1[K], a2[K], a3[K], v;                                         \\
        for (int k = 0; k < (K); k++)                                              \\
            for (int j = 0; j < (W); j++) acc[k][j] = x[0];                        \\
        Py_ssize_t i = 0;                                                          \\
        if (n >= 64) {                                                             \\
            for (int k = 0; k < (K); k++) a1[k] = a2[k] = a3[k] = acc[k];          \\
            for (; i + 64 <= n; i += 64)                                           \\
                for (int k = 0; k < (K); k++) {                                    \\
                    memcpy(&v, x + i + k * (W), sizeof(v));                        \\
                    acc[k] = OP(acc[k], v);                                        \\
                    memcpy(&v, x + i + 16 + k * (W), sizeof(v));                   \\
                    a1[k] = OP(a1[k], v);                                          \\
                    memcpy(&v, x + i + 32 + k * (W), sizeof(v));                   \\
                    a2[k] = OP(a2[k], v);                                          \\
                    memcpy(&v, x + i + 48 + k * (W), sizeof(v));                   \\
                    a3[k] = OP(a3[k], v);                                          \\
                }                                                                  \\
            for (int k = 0; k < (K); k++)                                          \\
                acc[k] = OP(OP(acc[k], a1[k]), OP(a2[k], a3[k]));                  \\
        }                                                                          \\
        for (; i + 16 <= n; i += 16)                                               \\
            for (int k = 0; k < (K); k++) {                                        \\
                memcpy(&v, x + i + k * (W), sizeof(v));                            \\
                acc[k] = OP(acc[k], v);                                            \\
            }                                                                      \\
        if (i < n)                                                                 \\
            for (int k = 0; k < (K); k++)                                          \\
                acc[k] = OP(acc[k], CGRAD_TAIL_K(TAIL, W, x + i, n - i, k, x[0]));   \\
        CGRAD_FOLD(acc, K, W, OP, SOP, out);                                       \\
    } while (0)
    #define CGRAD_VMAX(T, K, W, TAIL, x, n, out) \\
        CGRAD_VEXT(T, K, W, TAIL, x, n, CGRAD_MAX, CGRAD_MAX1, out)
    #define CGRAD_VSUM(T, K, W, TAIL, x, y, n, dot, out) do {                        \\
        T acc[K], v, w;                                                            \\
        for (int k = 0; k < (K); k++) acc[k] = (T) {0};                            \\
        Py_ssize_t i = 0;                                                          \\
        for (; i + 16 <= n; i += 16)                                               \\
            for (int k = 0; k < (K); k++) {                                        \\
                memcpy(&v, x + i + k * (W), sizeof(v));                            \\
                if (dot) memcpy(&w, y + i + k * (W), sizeof(w));                   \\
                v = CGRAD_TERM(v, w, dot);                                         \\
                acc[k] = acc[k] + v;                                               \\
            }                                                                      \\
        if (i < n)                                                                 \\
            for (int k = 0; k < (K); k++) {                                        \\
                v = CGRAD_TAIL_K(TAIL, W, x + i, n - i, k, 0);                     \\
                if (dot) w = CGRAD_TAIL_K(TAIL, W, y + i, n - i, k, 0);            \\
                v = CGRAD_TERM(v, w, dot);                                         \\
                acc[k] = acc[k] + v;                                               \\
            }                                                                      \\
        CGRAD_FOLD(acc, K, W, CGRAD_ADD, CGRAD_ADD, out);                          \\
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_maxf(const float* x, Py_ssize_t n) {
        float out; CGRAD_VMAX(cgrad_vsf, CGRAD_FK, CGRAD_FW, cgrad_tailf, x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_max(const double* x, Py_ssize_t n) {
        double out; CGRAD_VMAX(cgrad_vdf, CGRAD_DK, CGRAD_DW, cgrad_tail, x, n, out); return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n,
                                             int dot) {
        float out; CGRAD_VSUM(cgrad_vsf, CGRAD_FK, CGRAD_FW, cgrad_tailf, x, y, n, dot, out);
        return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_sum(const double* x, const double* y, Py_ssize_t n,
                                             int dot) {
        double out; CGRAD_VSUM(cgrad_vdf, CGRAD_DK, CGRAD_DW, cgrad_tail, x, y, n, dot, out);
        return out;
    }
    /* the sum over x[0:n] of (x - m)^2 (sq) or of (x - m) y, m one number: a row's centred
       moments. The lanes of CGRAD_VSUM in vectors, then spilled for the last n % 16 terms
       (padding lanes would add (m - m) = NaN for an infinite m) and folded in the same tree as
       CGRAD_FOLD, j + 8 into j, + 4, + 2, + 1: the same bits at every ISA. */
    #define CGRAD_VDEV(S, T, K, W, x, m, y, n, sq, out) do {                          \
        T acc[K], v, w;                                                            \
        S lanes_[16], d_;                                                          \
        for (int k = 0; k < (K); k++) acc[k] = (T) {0};                            \
        Py_ssize_t i = 0;                                                          \
        for (; i + 16 <= n; i += 16)                                               \
            for (int k = 0; k < (K); k++) {                                        \
                memcpy(&v, x + i + k * (W), sizeof(v));                            \
                v = v - (m);                                                       \
                if (sq) w = v; else memcpy(&w, y + i + k * (W), sizeof(w));        \
                acc[k] = acc[k] + v * w;                                           \
            }                                                                      \
        memcpy(lanes_, acc, sizeof(lanes_));                                       \
        for (int j = 0; i + j < n; j++) {                                          \
            d_ = x[i + j] - (m);                                                   \
            lanes_[j] = lanes_[j] + d_ * ((sq) ? d_ : y[i + j]);                   \
        }                                                                          \
        for (int w_ = 8; w_ >= 1; w_ /= 2)                                         \
            for (int j = 0; j < w_; j++) lanes_[j] = lanes_[j] + lanes_[j + w_];   \
        out = lanes_[0];                                                           \
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_devf(const float* x, float m, const float* y,
                                             Py_ssize_t n, int sq) {
        float out; CGRAD_VDEV(float, cgrad_vsf, CGRAD_FK, CGRAD_FW, x, m, y, n, sq, out);
        return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_dev(const double* x, double m, const double* y,
                                             Py_ssize_t n, int sq) {
        double out; CGRAD_VDEV(double, cgrad_vdf, CGRAD_DK, CGRAD_DW, x, m, y, n, sq, out);
        return out;
    }
    /* cgrad_row_maxf(x, n) and cgrad_row_sumf(x, x, n, 0) for a row shorter than 16 with 16
       floats readable from x (a row with others after it in its block): plain loads, then the
       lanes past n set as the masked loads set them, so the same bits. AVX2's masked load
       took most of a 10-class row's max on an EPYC (Zen). */
    #define CGRAD_SHORT_ROW(x, n, pad, acc) do {                                     \
        for (int k = 0; k < CGRAD_FK; k++) {                                         \
            cgrad_vsi lane_;                                                         \
            for (int j = 0; j < CGRAD_FW; j++) lane_[j] = k * CGRAD_FW + j;          \
            memcpy(&acc[k], (x) + k * CGRAD_FW, sizeof(acc[k]));                     \
            acc[k] = CGRAD_SEL(lane_ < (int) (n), acc[k], (pad));                    \
        }                                                                            \
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_short_row_maxf(const float* x, Py_ssize_t n) {
        const cgrad_vsf first = (cgrad_vsf) {0} + x[0];
        cgrad_vsf acc[CGRAD_FK];
        float out;
        CGRAD_SHORT_ROW(x, n, first, acc);
        for (int k = 0; k < CGRAD_FK; k++) acc[k] = CGRAD_MAX(first, acc[k]);
        CGRAD_FOLD(acc, CGRAD_FK, CGRAD_FW, CGRAD_MAX, CGRAD_MAX1, out);
        return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_short_row_sumf(const float* x, Py_ssize_t n) {
        const cgrad_vsf zero = {0};
        cgrad_vsf acc[CGRAD_FK];
        float out;
        CGRAD_SHORT_ROW(x, n, zero, acc);
        for (int k = 0; k < CGRAD_FK; k++) acc[k] = zero + acc[k];
        CGRAD_FOLD(acc, CGRAD_FK, CGRAD_FW, CGRAD_ADD, CGRAD_ADD, out);
        return out;
    }
    /* CGRAD_EXT1 per lane */
    #define CGRAD_EXT(a, b, lowest) __extension__ ({                                   \\
        __typeof__((b) > (a)) t_ = ((lowest) ? (b) < (a) : (b) > (a)) | ((b) != (b));    \\
        (__typeof__(a)) (((__typeof__(t_)) (b) & t_) | ((__typeof__(t_)) (a) & ~t_)); })
    #define CGRAD_NANMAX(a, b) CGRAD_EXT(a, b, 0)
    #define CGRAD_NANMIN(a, b) CGRAD_EXT(a, b, 1)
    /* amax (amin, if lowest) of x[0:n], n >= 1: for float (S) in cgrad_vsf (T) and double */
    #define CGRAD_ROW_EXTREME(NAME, S, T, K, W, TAIL)                                   \\
    CGRAD_ALWAYS_INLINE S NAME(const S* x, Py_ssize_t n, int lowest) {                  \\
        S out;                                                                     \\
        if (lowest)                                                                \\
            CGRAD_VEXT(T, K, W, TAIL, x, n, CGRAD_NANMIN, CGRAD_NANMIN1, out);       \\
        else                                                                       \\
            CGRAD_VEXT(T, K, W, TAIL, x, n, CGRAD_NANMAX, CGRAD_NANMAX1, out);       \\
        return out;                                                                \\
    }
    CGRAD_ROW_EXTREME(cgrad_row_extremef, float, cgrad_vsf, CGRAD_FK, CGRAD_FW, cgrad_tailf)
    CGRAD_ROW_EXTREME(cgrad_row_extreme, double, cgrad_vdf, CGRAD_DK, CGRAD_DW, cgrad_tail)
    /* out[l] = the extreme (CGRAD_EXT1) of x[k * stride + l] over k in order, for l < n:
       four vectors of positions at a time, their accumulators in registers (a loop over l
       inside one over k kept them in memory, every row waiting on the last one's stores:
       (64, 256, 64) over 256 114 us, PyTorch's 70), then a vector, then one at a time */
    #define CGRAD_COLS_STEP(T, OP, acc, J, W, r) do {                                 \
        T v_;                                                                      \
        for (int j_ = 0; j_ < (J); j_++) {                                         \
            memcpy(&v_, (r) + j_ * (W), sizeof(v_));                               \
            acc[j_] = OP(acc[j_], v_);                                             \
        }                                                                          \
    } while (0)
    #define CGRAD_COLS_RUN(T, J, W, x, out, K, stride, lowest, l) do {                \
        T acc_[J];                                                                 \
        memcpy(acc_, (x) + (l), sizeof(acc_));                                     \
        for (Py_ssize_t k_ = 1; k_ < (K); k_++) {                                  \
            if (lowest)                                                            \
                CGRAD_COLS_STEP(T, CGRAD_NANMIN, acc_, J, W, (x) + k_ * (stride) + (l)); \
            else                                                                   \
                CGRAD_COLS_STEP(T, CGRAD_NANMAX, acc_, J, W, (x) + k_ * (stride) + (l)); \
        }                                                                          \
        memcpy((out) + (l), acc_, sizeof(acc_));                                   \
    } while (0)
    #define CGRAD_COLS_EXTREME(NAME, S, T, W)                                         \
    static void NAME(const S* x, S* out, Py_ssize_t K, Py_ssize_t n, Py_ssize_t stride,   \
                     int lowest) {                                                 \
        Py_ssize_t l = 0;                                                          \
        for (; l + 4 * (W) <= n; l += 4 * (W))                                     \
            CGRAD_COLS_RUN(T, 4, W, x, out, K, stride, lowest, l);                 \
        for (; l + (W) <= n; l += (W))                                             \
            CGRAD_COLS_RUN(T, 1, W, x, out, K, stride, lowest, l);                 \
        for (; l < n; l++) {                                                       \
            S a_ = x[l];                                                           \
            for (Py_ssize_t k_ = 1; k_ < K; k_++)                                  \
                a_ = CGRAD_EXT1(a_, x[k_ * stride + l], lowest);                   \
            out[l] = a_;                                                           \
        }                                                                          \
    }
    CGRAD_COLS_EXTREME(cgrad_cols_extremef, float, cgrad_vsf, CGRAD_FW)
    CGRAD_COLS_EXTREME(cgrad_cols_extreme, double, cgrad_vdf, CGRAD_DW)
    #else
    #define CGRAD_SMAX(x, n, out) do {                                                \\
        out = x[0];                                                                \\
        for (Py_ssize_t i = 1; i < n; i++) out = x[i] > out ? x[i] : out;          \\
    } while (0)
    #define CGRAD_SSUM(S, x, y, n, dot, out) do {                                     \\
        S lanes[16] = {0};                                                         \\
        for (Py_ssize_t i = 0; i < n; i++) lanes[i % 16] += CGRAD_TERM(x[i], y[i], dot); \\
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
    #define CGRAD_SDEV(S, x, m, y, n, sq, out) do {                                  \
        S lanes[16] = {0}, d_;                                                     \
        for (Py_ssize_t i = 0; i < n; i++) {                                       \
            d_ = x[i] - (m);                                                       \
            lanes[i % 16] += d_ * ((sq) ? d_ : y[i]);                              \
        }                                                                          \
        for (int w_ = 8; w_ >= 1; w_ /= 2)                                         \
            for (int j = 0; j < w_; j++) lanes[j] = lanes[j] + lanes[j + w_];      \
        out = lanes[0];                                                            \
    } while (0)
    CGRAD_ALWAYS_INLINE float cgrad_row_devf(const float* x, float m, const float* y,
                                             Py_ssize_t n, int sq) {
        float out; CGRAD_SDEV(float, x, m, y, n, sq, out); return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_dev(const double* x, double m, const double* y,
                                             Py_ssize_t n, int sq) {
        double out; CGRAD_SDEV(double, x, m, y, n, sq, out); return out;
    }
    CGRAD_ALWAYS_INLINE float cgrad_short_row_maxf(const float* x, Py_ssize_t n) {
        return cgrad_row_maxf(x, n);
    }
    CGRAD_ALWAYS_INLINE float cgrad_short_row_sumf(const float* x, Py_ssize_t n) {
        return cgrad_row_sumf(x, x, n, 0);
    }
    CGRAD_ALWAYS_INLINE float cgrad_row_extremef(const float* x, Py_ssize_t n, int lowest) {
        float out = x[0];
        for (Py_ssize_t i = 1; i < n; i++) out = CGRAD_EXT1(out, x[i], lowest);
        return out;
    }
    CGRAD_ALWAYS_INLINE double cgrad_row_extreme(const double* x, Py_ssize_t n, int lowest) {
        double out = x[0];
        for (Py_ssize_t i = 1; i < n; i++) out = CGRAD_EXT1(out, x[i], lowest);
        return out;
    }
    #define CGRAD_COLS_EXTREME(NAME, S)                                               \
    static void NAME(const S* x, S* out, Py_ssize_t K, Py_ssize_t n, Py_ssize_t stride,   \
                     int lowest) {                                                 \
        for (Py_ssize_t l = 0; l < n; l++) out[l] = x[l];                           \
        for (Py_ssize_t k = 1; k < K; k++)                                         \
            for (Py_ssize_t l = 0; l < n; l++)                                     \
                out[l] = CGRAD_EXT1(out[l], x[k * stride + l], lowest);            \
    }
    CGRAD_COLS_EXTREME(cgrad_cols_extremef, float)
    CGRAD_COLS_EXTREME(cgrad_cols_extreme, double)
    #endif
    """
    float cgrad_row_maxf(const float* x, Py_ssize_t n) noexcept nogil
    double cgrad_row_max(const double* x, Py_ssize_t n) noexcept nogil
    float cgrad_row_sumf(const float* x, const float* y, Py_ssize_t n, int dot) noexcept nogil
    double cgrad_row_sum(const double* x, const double* y, Py_ssize_t n, int dot) noexcept nogil
    float cgrad_row_devf(const float* x, float m, const float* y, Py_ssize_t n,
                         int sq) noexcept nogil
    double cgrad_row_dev(const double* x, double m, const double* y, Py_ssize_t n,
                         int sq) noexcept nogil
    float cgrad_exp_sumf(const float* x, float m, float* out, Py_ssize_t n) noexcept nogil
    float cgrad_short_row_maxf(const float* x, Py_ssize_t n) noexcept nogil
    float cgrad_short_row_sumf(const float* x, Py_ssize_t n) noexcept nogil
    # amax / amin of x[0:n] (n >= 1), NaN where one is NaN; their one step
    float cgrad_ext1f "CGRAD_EXT1"(float a, float b, int lowest) noexcept nogil
    double cgrad_ext1 "CGRAD_EXT1"(double a, double b, int lowest) noexcept nogil
    float cgrad_row_extremef(const float* x, Py_ssize_t n, int lowest) noexcept nogil
    double cgrad_row_extreme(const double* x, Py_ssize_t n, int lowest) noexcept nogil
    # the same of each position l < n over K rows stride apart
    void cgrad_cols_extremef(const float* x, float* out, Py_ssize_t K, Py_ssize_t n,
                             Py_ssize_t stride, int lowest) noexcept nogil
    void cgrad_cols_extreme(const double* x, double* out, Py_ssize_t K, Py_ssize_t n,
                            Py_ssize_t stride, int lowest) noexcept nogil


cdef inline floating vsigmoid(floating x) noexcept nogil:
    """1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below, with e = exp(-|x|) <= 1: no overflow"""
    return vsigmoid_from(x, vexp_nonpos(neg_abs(x)))


cdef inline floating vsigmoid_from(floating x, floating r) noexcept nogil:
    """vsigmoid's last step, from its r = e**-|x| (a loop over a block may take the exps first:
    see elementwise.pyx's _fwd_block_exp_first)"""
    cdef floating zero = 0, one = 1
    return (one if x >= zero else r) / (one + r)


cdef inline floating vlog_sigmoid(floating x) noexcept nogil:
    """ln sigmoid(x) = min(x, 0) - ln(1 + e**-|x|), PyTorch's stable form: no overflow, and
    ln(1 + e) with e <= 1 never rounds 1 + e (vlog1p_unit). NaN stays NaN."""
    return vlog_sigmoid_from(x, vexp_nonpos(neg_abs(x)))


cdef inline floating vlog_sigmoid_from(floating x, floating e) noexcept nogil:
    """vlog_sigmoid from its e = e**-|x| (see vsigmoid_from)"""
    cdef floating zero = 0
    return (x if x < zero else zero) - vlog1p_unit(e)


cdef inline float vtanh_f32(float x) noexcept nogil:
    """tanh for float32, vectorisable (glibc's tanhf, which NumPy calls where it has no SIMD
    tanh, costs ~7 ns an element): for |x| >= 0.625, 1 - 2e/(1 + e) with e = exp(-2|x|) <= 1
    (no overflow; the subtraction from 1 rounds once); below, where that would cancel, Cephes'
    odd polynomial |x| + |x|^3 P(x^2). Both are computed and one is selected (a branch would
    stop the loop from vectorising); the sign is x's, so tanh(-0) = -0 and NaN stays NaN.
    Within 1 ulp of the rounded value, as NumPy's and PyTorch's (tests/test_kernels.py).
    |x| enters the exp clamped to 10, past which tanh rounds to 1, by an integer min (one
    instruction, where a float clamp is a compare and a blend): e stays normal, so its exp
    needs no clamp of its own and one scaling (cgrad_expf_normal), the same bits as the
    general one's; a NaN takes the polynomial's side of the select, which keeps it. At 10^6,
    one thread, on a Zen 4: AVX-512 0.49 -> 0.45 ns an element, AVX2 0.71 -> 0.63."""
    return vtanh_f32_from(x, vtanh_f32_exp(x))


cdef inline float vtanh_f32_exp(float x) noexcept nogil:
    """vtanh_f32's e = exp(-2|x|), |x| clamped to 10 (a loop over a block may take these
    first: see elementwise.pyx's _fwd_block_exp_first)"""
    return cgrad_expf_normal(<float> -2 * cgrad_min_bits(fabsf(x), 10))


cdef inline float vtanh_f32_from(float x, float e) noexcept nogil:
    """vtanh_f32 from its e (vtanh_f32_exp)"""
    cdef float a = fabsf(x), z = x * x, one = 1
    cdef float big = one - (e + e) / (one + e)
    cdef float p = cgrad_fmaf(z, <float> -5.70498872745e-3, <float> 2.06390887954e-2)
    p = cgrad_fmaf(p, z, <float> -5.37397155531e-2)
    p = cgrad_fmaf(p, z, <float> 1.33314422036e-1)
    p = cgrad_fmaf(p, z, <float> -3.33332819422e-1)
    cdef float small = cgrad_fmaf(p * z, a, a)
    return copysignf(big if a >= <float> 0.625 else small, x)


cdef inline floating vtanh(floating x) noexcept nogil:
    """tanh: vtanh_f32 for float32, libm's for float64"""
    if floating is float:
        return vtanh_f32(x)
    else:
        return tanh(x)
