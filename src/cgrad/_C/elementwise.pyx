"""Unary elementwise kernels: forward where one pass beats NumPy, and every backward formula
fused with the accumulation into the gradient buffer (one pass, no temporaries).

Callers pass C-contiguous 1-D views of equal length and one dtype. float32 exp and tanh are
our own vectorised ones (_vmath.pxd, vtanh_f32), inside the sigmoid, silu, elu, tanh, gelu
and mish passes, and so are float32 expm1, log1p, erf, log2, log10, exp2, atan, asin, acos,
sinh, cosh, atanh, asinh, acosh, tan, erfc and erfinv (float32 only); float64 exp and tanh
stay NumPy's: the adapter calls np.exp / np.tanh between two passes here, since a C loop
over libm is many times slower.
Scalar parameters arrive as C doubles and are rounded once to the array's dtype, as
NumPy rounds a Python number.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport (INFINITY, NAN, acos, acosh, asin, asinh, atan, atanh, copysignf, cosh, erf,
                        erfc, exp, exp2, expm1, fabs, fabsf, log1p, log2, log10, sinh, sqrt, sqrtf,
                        tan, tanf, tanh)
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel
from cgrad._C._recurrent cimport lstm_rows, lstm_rows_backward
from cgrad._C._vmath cimport (CGRAD_TAN_LIMIT, cgrad_acosf, cgrad_acoshf, cgrad_asinf,
                              cgrad_asinhf, cgrad_atanf, cgrad_atanhf, cgrad_coshf, cgrad_erfcf,
                              cgrad_erfinvf, cgrad_exp2f, cgrad_expf_nonpos_2p24,
                              cgrad_expf_normal, cgrad_expm1f, cgrad_fmaf, cgrad_log1pf,
                              cgrad_log2f, cgrad_log10f, cgrad_min_bits, cgrad_sinhf, cgrad_tanf,
                              neg_abs, vexp, vexp_nonpos, vexpm1_nonpos, vlog, vlog_sigmoid,
                              vlog_sigmoid_from, vsigmoid, vsigmoid_from, vtanh, vtanh_f32_exp,
                              vtanh_f32_from)

link_thread_count()

ctypedef struct UExp:
    char tag
ctypedef struct ULog:
    char tag
ctypedef struct USqrt:
    char tag
ctypedef struct UTanh:
    char tag
ctypedef struct USigmoid:
    char tag
ctypedef struct URelu:
    char tag
ctypedef struct ULeaky:
    char tag
ctypedef struct UAbs:
    char tag
ctypedef struct UClamp:
    char tag
ctypedef struct UHardtanh:
    char tag
ctypedef struct USilu:
    char tag
ctypedef struct UElu:
    char tag
ctypedef struct UHardswish:
    char tag
ctypedef struct UHardsigmoid:
    char tag
ctypedef struct USoftplus:
    char tag
ctypedef struct USoftplusUnit:
    char tag
ctypedef struct ULogSigmoid:
    char tag
ctypedef struct UGeluErf:
    char tag
ctypedef struct UGeluErfExp:
    char tag
ctypedef struct UGeluTanh:
    char tag
ctypedef struct UGeluTanhInPass:
    char tag
ctypedef struct UPowInt:
    char tag
ctypedef struct UPowInt2:
    char tag
ctypedef struct UPowInt3:
    char tag
ctypedef struct UExpm1:
    char tag
ctypedef struct ULog1p:
    char tag
ctypedef struct UErf:
    char tag
ctypedef struct UMish:
    char tag
ctypedef struct ULog2:
    char tag
ctypedef struct ULog10:
    char tag
ctypedef struct UExp2:
    char tag
ctypedef struct UAtan:
    char tag
ctypedef struct UAsin:
    char tag
ctypedef struct UAcos:
    char tag
ctypedef struct USinh:
    char tag
ctypedef struct UCosh:
    char tag
ctypedef struct UAtanh:
    char tag
ctypedef struct UAsinh:
    char tag
ctypedef struct UAcosh:
    char tag
ctypedef struct UTan:
    char tag
ctypedef struct UErfc:
    char tag
ctypedef struct USign:
    char tag
ctypedef struct UErfinv:
    char tag

# compile-time op: each gets its own loop (vectorised where the formula allows)
ctypedef fused unop:
    UExp
    ULog
    USqrt
    UTanh
    USigmoid
    URelu
    ULeaky
    UAbs
    UClamp
    UHardtanh
    USilu
    UElu
    UHardswish
    UHardsigmoid
    USoftplus
    USoftplusUnit
    ULogSigmoid
    UGeluErf
    UGeluErfExp
    UGeluTanh
    UGeluTanhInPass
    UPowInt
    UPowInt2
    UPowInt3
    UExpm1
    ULog1p
    UErf
    UMish
    ULog2
    ULog10
    UExp2
    UAtan
    UAsin
    UAcos
    USinh
    UCosh
    UAtanh
    UAsinh
    UAcosh
    UTan
    UErfc
    USign
    UErfinv

cpdef enum:
    EXP = 0
    LOG = 1
    SQRT = 2
    TANH = 3
    SIGMOID = 4
    RELU = 5
    LEAKY_RELU = 6
    ABS = 7
    CLAMP = 8
    GELU_ERF = 9
    GELU_TANH = 10
    POW_INT = 11
    HARDTANH = 12          # backward only (its forward is CLAMP's)
    SILU = 13
    ELU = 14               # elu and selu: p0 = alpha scale, p1 = scale (input scale 1)
    SOFTPLUS = 15          # p0 = beta, p1 = threshold
    LOG_SIGMOID = 16
    HARDSWISH = 17
    HARDSIGMOID = 18       # backward: p0 = the dtype's 1/6 as PyTorch rounds it (float32's)
    EXPM1 = 19             # backward from the output
    LOG1P = 20
    ERF = 21
    MISH = 22
    LOG2 = 23
    LOG10 = 24
    EXP2 = 25              # backward from the output
    ATAN = 26
    ASIN = 27
    ACOS = 28
    SINH = 29
    COSH = 30
    ATANH = 31
    ASINH = 32
    ACOSH = 33
    TAN = 34               # backward from the output
    ERFC = 35
    SIGN = 36              # forward only (its derivative is 0; see unary_backward_)
    ERFINV = 37            # forward only, float32 only (the backward is exp's: ops/special.py)

# forward-only passes around NumPy's SIMD exp/tanh
cpdef enum:
    NEG_ABS = 100          # out = -|x|                      (then e = np.exp(out))
    SIGMOID_FROM_EXP = 101 # out = 1/(1+e) or e/(1+e)         (e = exp(-|x|), in aux)
    GELU_TANH_INNER = 102  # out = k * (x + c*x*x*x)         (then t = np.tanh(out))
    GELU_TANH_OUTER = 103  # out = 0.5 * x * (1 + t)           (t in aux)
    NEG_HALF_SQUARE = 104  # out = -0.5 * x * x               (then np.exp: gelu's pdf)

# C macros, not module globals: a global would be reloaded every iteration (a store to out
# might alias it), which stops the loop from vectorising
cdef extern from *:
    """
    #define CGRAD_SQRT_2_OVER_PI 0.7978845608028654
    #define CGRAD_INV_SQRT_2 0.7071067811865475
    #define CGRAD_INV_SQRT_2PI 0.3989422804014327
    #define CGRAD_GELU_C 0.044715
    #define CGRAD_TWO_M24 5.9604644775390625e-08
    #define CGRAD_TWO_OVER_SQRT_PI 1.1283791670955126
    #define CGRAD_LN2 0.6931471805599453
    #define CGRAD_LN10 2.3025850929940456
    """
    const double SQRT_2_OVER_PI "CGRAD_SQRT_2_OVER_PI"
    const double INV_SQRT_2 "CGRAD_INV_SQRT_2"
    const double INV_SQRT_2PI "CGRAD_INV_SQRT_2PI"
    const double GELU_C "CGRAD_GELU_C"
    const double TWO_M24 "CGRAD_TWO_M24"    # 2**-24
    const double TWO_OVER_SQRT_PI "CGRAD_TWO_OVER_SQRT_PI"
    const double LN2 "CGRAD_LN2"
    const double LN10 "CGRAD_LN10"


cdef enum:
    BLOCK = 16384      # elements per parallel block


cdef inline float _erf_nonneg_f32(float x) noexcept nogil:
    """erf(x) for float32 0 <= x <= 4 as a rational function (Eigen's generic_fast_erf_float:
    within a few ulp of the true value, and vectorisable, unlike glibc's erff at ~20 ns a call).
    Both polynomials in u = x*x by Estrin's scheme: independent multiply-adds, 3 deep where
    Horner's were 6 and 4 (one dependent chain, likely what kept Zen 1, which runs each 256-bit
    operation as two halves, from overlapping iterations: gelu's forward at 10^6 2.5-2.6 ->
    2.2-2.4 ns an element)."""
    cdef float u = x * x
    cdef float u2 = u * u
    cdef float u4 = u2 * u2
    cdef float p01 = cgrad_fmaf(u, <float> -2.95459980854025e-03, <float> -1.60960333262415e-02)
    cdef float p23 = cgrad_fmaf(u, <float> -5.69250639462346e-05, <float> -7.34990630326855e-04)
    cdef float p45 = cgrad_fmaf(u, <float> 2.77068142495902e-08, <float> -2.10102402082508e-06)
    cdef float p46 = cgrad_fmaf(u2, <float> -2.72614225801306e-10, p45)
    cdef float p = x * cgrad_fmaf(u4, p46, cgrad_fmaf(u2, p23, p01))
    cdef float q01 = cgrad_fmaf(u, <float> -7.37332916720468e-03, <float> -1.42647390514189e-02)
    cdef float q23 = cgrad_fmaf(u, <float> -2.13374055278905e-04, <float> -1.68282697438203e-03)
    cdef float q = cgrad_fmaf(u4, <float> -1.45660718464996e-05, cgrad_fmaf(u2, q23, q01))
    return p / q


cdef inline floating _one_plus_erf(floating x) noexcept nogil:
    """1 + erf(x), never below 0 (a negative one would give gelu(x) the wrong sign). float32:
    erf(|x|) from |x| clamped to 4 (erf(4) is 1 in float32), held at 1 (the rational function
    overshoots it by an ulp or two for |x| in [3.6, 4]), then x's sign: both clamps integer
    mins of the bits (cgrad_min_bits), and the sign a bit operation, where a float clamp on
    each side took three compares and five blends on the multiply pipes that bound gelu. A
    NaN x gives a finite value here: gelu's product with x keeps the NaN."""
    cdef floating zero = 0, r
    if floating is float:
        r = cgrad_min_bits(_erf_nonneg_f32(cgrad_min_bits(fabsf(x), 4)), 1)
        return 1 + copysignf(r, x)
    else:
        r = 1 + erf(x)
        return zero if r < zero else r


cdef inline float _erf_f32(float x) noexcept nogil:
    """erf for float32, within 1 ulp (every float32 swept; SciPy's and PyTorch's are too,
    where gelu's rational function above is up to 7 ulp off), in two pieces, both computed
    and one selected (vectorisable):
    - |x| < 1: a + a R(a*a) with a = |x|, R(u) = erf(a)/a - 1 of degree 7 in u (our fit on
      [0, 1]: 3e-11; R stays in [-0.16, 0.13], so its rounding is a fraction of an ulp);
    - 1 <= |x| < 3.93: 1 - e**(-a*a) E(a - 2.465), E of degree 11 fitted to erfcx(a) =
      e**(a*a) erfc(a) on [1, 3.93] (relative error 2.3e-8, times erfc <= 0.16); from 3.93
      erf rounds to 1.
    Estrin's scheme in both polynomials. The clamp to 3.93 is a float min written so that
    NaN passes it (minps keeps its second operand), and NaN takes the second piece: NaN stays
    NaN. The sign is x's, so erf(-0) = -0; a tiny or subnormal x gives a + a R(0)."""
    cdef float a = fabsf(x), u = x * x, one = 1, end = <float> 3.93
    cdef float u2 = u * u
    cdef float r = cgrad_fmaf(
        cgrad_fmaf(cgrad_fmaf(<float> -9.680102761e-06, u, <float> 1.127053274e-04), u2,
                   cgrad_fmaf(<float> -8.484709836e-04, u, <float> 5.221074768e-03)), u2 * u2,
        cgrad_fmaf(cgrad_fmaf(<float> -2.686544578e-02, u, <float> 1.128378275e-01), u2,
                   cgrad_fmaf(<float> -3.761263848e-01, u, <float> 1.283791671e-01)))
    cdef float small = cgrad_fmaf(a, r, a)
    cdef float c = end if end < a else a
    cdef float v = c - <float> 2.465, v2, v4
    v2 = v * v
    v4 = v2 * v2
    cdef float e = cgrad_fmaf(
        cgrad_fmaf(cgrad_fmaf(<float> -4.345217009e-07, v, <float> 1.807104768e-06), v2,
                   cgrad_fmaf(<float> -4.323802523e-06, v, <float> 1.577747212e-05)), v4 * v4,
        cgrad_fmaf(
            cgrad_fmaf(cgrad_fmaf(<float> -6.377254507e-05, v, <float> 2.277976509e-04), v2,
                       cgrad_fmaf(<float> -7.794149270e-04, v, <float> 2.598478109e-03)), v4,
            cgrad_fmaf(cgrad_fmaf(<float> -8.356099338e-03, v, <float> 2.579677870e-02), v2,
                       cgrad_fmaf(<float> -7.612284673e-02, v, <float> 2.134394123e-01))))
    cdef float large = cgrad_fmaf(-cgrad_expf_normal(-(c * c)), e, one)
    large = one if a >= end else large
    return copysignf(small if a < one else large, x)


cdef inline floating _tanh_softplus_parts(floating x, floating e, floating* den) noexcept nogil:
    """tanh(ln(1 + e**x)), mish's factor, as num / den (num returned, den in *den) from
    e = e**-|x| <= 1 (no overflow): with z = e**x, tanh(ln(1 + z)) = z (z + 2) / (z (z + 2) +
    2); for x >= 0 divided through by z*z, (1 + 2e) / (1 + 2e + 2e*e). No cancellation on
    either side; a NaN x takes the second side (NaN)."""
    cdef floating one = 1, two = 2, zero = 0
    cdef floating num_pos = two * e + one, num_neg = e * (e + two)
    cdef bint pos = x >= zero
    den[0] = (num_pos + two * e * e) if pos else (num_neg + two)
    return num_pos if pos else num_neg


cdef inline float _mish_f32_from(float x, float e24) noexcept nogil:
    """float32 mish (see _f) from e24 = e**-|x| 2**24"""
    cdef float den, zero = 0
    cdef float r = _tanh_softplus_parts(x, e24 * <float> TWO_M24, &den)
    r = x * (r / den)
    e24 = e24 if x >= <float> -104 else zero
    return (x * e24) * <float> TWO_M24 if x < -20 else r


cdef inline float _gelu_exp_f32(float x) noexcept nogil:
    """e = exp(-x*x/2) * 2**24, which _gelu_grad_f32_from takes"""
    return cgrad_expf_nonpos_2p24(<float> -0.5 * (x * x))


cdef inline float _gelu_grad_f32_from(float x, float e) noexcept nogil:
    """Phi(x) + x phi(x), gelu's derivative, for float32 from one exp (e, _gelu_exp_f32) and
    no division: with e = exp(-x*x/2), phi(x) = e / sqrt(2 pi) and Phi(-|x|) = erfc(|x| /
    sqrt 2) / 2 = e H(|x|), where H(a) = erfcx(a / sqrt 2) / 2 is smooth: a degree-11
    polynomial on [0, 4 sqrt 2] (a minimax fit of e H: Phi within 2e-8 before rounding; past
    the end, e < 1e-7 and H stays H(4 sqrt 2)). It replaces erf's rational function and its
    division (the forward's erf, computed again): backward at 10^6, one thread, 4.1 -> 3.2 ns
    an element on Zen 1, and Phi(x) below 0 no longer cancels in 1 + erf(z).
    e comes times 2**24: its last product is folded into H's coefficients and 1/sqrt(2 pi)
    (powers of two: exact). NaN stays NaN; x = +-inf gives x * 0, NaN, as PyTorch."""
    cdef float one = 1, end = 32                 # a stops at 4 sqrt 2: a*a at 32
    cdef float xx = x * x
    cdef float a = fabsf(x)
    cdef float a2 = cgrad_min_bits(xx, end)      # integer mins: see _one_plus_erf
    a = cgrad_min_bits(a, <float> (4 / INV_SQRT_2))
    cdef float a4 = a2 * a2
    cdef float a8 = a4 * a4
    # H(a) * 2**-24 by Estrin's scheme: pairs, then a**2, a**4, a**8 (4 multiply-adds deep)
    cdef float p01 = cgrad_fmaf(a, <float> (-0.3989405930042267 * TWO_M24),
                                 <float> (0.4999999701976776 * TWO_M24))
    cdef float p23 = cgrad_fmaf(a, <float> (-0.13280580937862396 * TWO_M24),
                                 <float> (0.24997258186340332 * TWO_M24))
    cdef float p45 = cgrad_fmaf(a, <float> (-0.025471866130828857 * TWO_M24),
                                 <float> (0.06192397326231003 * TWO_M24))
    cdef float p67 = cgrad_fmaf(a, <float> (-0.002590109594166279 * TWO_M24),
                                 <float> (0.00900388602167368 * TWO_M24))
    cdef float p89 = cgrad_fmaf(a, <float> (-8.477221126668155e-05 * TWO_M24),
                                 <float> (0.0005636588903144002 * TWO_M24))
    cdef float pab = cgrad_fmaf(a, <float> (-3.155494994189212e-07 * TWO_M24),
                                 <float> (7.708914381510112e-06 * TWO_M24))
    cdef float p03 = cgrad_fmaf(a2, p23, p01)
    cdef float p47 = cgrad_fmaf(a2, p67, p45)
    cdef float p8b = cgrad_fmaf(a2, pab, p89)
    cdef float h = e * cgrad_fmaf(a8, p8b, cgrad_fmaf(a4, p47, p03))     # Phi(-|x|)
    cdef float cdf = h if x < 0 else one - h
    return cgrad_fmaf(x, e * <float> (INV_SQRT_2PI * TWO_M24), cdf)


cdef inline floating _relu6(floating x) noexcept nogil:
    """min(max(x, 0), 6) in NumPy's order: NaN stays NaN"""
    cdef floating zero = 0, six = 6
    x = zero if x < zero else x
    return six if x > six else x


cdef inline floating _exp_max(floating x) noexcept nogil:
    """the largest x whose e**x is finite in x's dtype"""
    if floating is float:
        return <floating> 88.72283172607422
    else:
        return <floating> 709.782712893384


cdef inline floating _softplus(unop* t, floating x, floating beta,
                              floating threshold) noexcept nogil:
    """PyTorch's softplus, x where beta x > threshold, else ln(1 + e**(beta x)) / beta: here
    as max(z, 0) + ln(1 + e**-|z|) = -log_sigmoid(-z), z = beta x, which never rounds 1 + e
    (USoftplusUnit: beta 1, no product or division). Where e**z overflows the dtype,
    NumPy's and PyTorch's ln(1 + e**z) is inf, and so is this (a threshold above ~88.7)."""
    return _softplus_from(t, x, _softplus_exp(t, x, beta), beta, threshold)


cdef inline floating _softplus_exp(unop* t, floating x, floating beta) noexcept nogil:
    """_softplus's e**-|z|, z = beta x"""
    return vexp_nonpos(neg_abs(x if unop is USoftplusUnit else x * beta))


cdef inline floating _softplus_from(unop* t, floating x, floating e, floating beta,
                                    floating threshold) noexcept nogil:
    """_softplus from its e (_softplus_exp)"""
    cdef floating z = x if unop is USoftplusUnit else x * beta
    cdef floating r = <floating> 0 - vlog_sigmoid_from(-z, e)    # (0 - 0 is +0: never -0.)
    r = <floating> INFINITY if z > _exp_max(z) else r
    if unop is USoftplus:
        r = r / beta
    return x if z > threshold else r


cdef inline floating _ipow(floating x, int c) noexcept nogil:
    """x**c for an integer 0 <= c <= 8 by repeated products (x*x*...)"""
    cdef floating one = 1, x2
    if c == 0:
        return one
    elif c == 1:
        return x
    elif c == 2:
        return x * x
    elif c == 3:
        return x * x * x
    x2 = x * x
    if c == 4:
        return x2 * x2
    elif c == 5:
        return x2 * x2 * x
    elif c == 6:
        return x2 * x2 * x2
    elif c == 7:
        return x2 * x2 * x2 * x
    return (x2 * x2) * (x2 * x2)


cdef inline floating _gelu_tanh_inner(floating x) noexcept nogil:
    """sqrt(2/pi) (x + 0.044715 x**3), the tanh gelu's argument of tanh"""
    return <floating> SQRT_2_OVER_PI * (x + <floating> GELU_C * x * x * x)


cdef inline float _exp_first(unop* t, float x, float p0) noexcept nogil:
    """the exp that a float32 op's forward (or backward from x) starts with, for the ops
    whose loops take these first, 256 at a time (_fwd_block_exp_first, _bwd_block): e**-|x|
    for the sigmoid's, silu's and log_sigmoid's, e**-|z| for softplus's z (_softplus_exp),
    e**-|x| 2**24 for mish's, e**(-2|v|) for tanh's of v (vtanh_f32_exp), e**(-x*x/2) 2**24
    for the erf gelu's gradient (_gelu_exp_f32). (erf's, in one of its two pieces, was no
    faster split off.)"""
    if unop is UTanh:
        return vtanh_f32_exp(x)
    elif unop is UGeluTanh or unop is UGeluTanhInPass:
        return vtanh_f32_exp(_gelu_tanh_inner(x))
    elif unop is UGeluErfExp:
        return _gelu_exp_f32(x)
    elif unop is UMish:
        return cgrad_expf_nonpos_2p24(neg_abs(x))
    elif unop is USoftplus or unop is USoftplusUnit:
        return _softplus_exp(t, x, p0)
    elif unop is USigmoid or unop is USilu or unop is ULogSigmoid:
        return vexp_nonpos(neg_abs(x))
    else:
        return x                                 # (no other op takes its exp first)


cdef inline float _f_from_exp(unop* t, float x, float e, float p0, float p1) noexcept nogil:
    """a float32 forward of _exp_first's ops from that exp e: _f's value"""
    cdef float half = 0.5, one = 1
    if unop is UTanh:
        return vtanh_f32_from(x, e)
    elif unop is USigmoid:
        return vsigmoid_from(x, e)
    elif unop is USilu:
        return x * vsigmoid_from(x, e)
    elif unop is ULogSigmoid:
        return vlog_sigmoid_from(x, e)
    elif unop is USoftplus or unop is USoftplusUnit:
        return _softplus_from(t, x, e, p0, p1)
    elif unop is UMish:
        return _mish_f32_from(x, e)
    elif unop is UGeluTanh:
        return half * x * (one + vtanh_f32_from(_gelu_tanh_inner(x), e))
    else:
        return x                                 # (no other op takes its exp first)


cdef inline floating _d(unop* t, floating s, floating g, floating aux, floating p0,
                        floating p1, int flags) noexcept nogil:
    """g * f'(.), from s (the saved input x or output y, as NumpyKernels uses) in NumPy's
    operation order; aux is tanh(inner) for the tanh gelu, exp(-x*x/2) for the erf gelu, and
    for the float32 ops that start with an exp (silu, the gelus, mish) that exp (_exp_first)"""
    cdef floating zero = 0, one = 1, half = 0.5, two = 2
    cdef floating k, c, three, cdf, pdf, d, den, inv_den, sech2
    if unop is UExp:
        return g * s
    elif unop is ULog:
        return g / s
    elif unop is USqrt:
        return g / (s + s)
    elif unop is UTanh:
        return g * (one - s * s)
    elif unop is USigmoid:
        return g * (one - s) * s                # PyTorch's order
    elif unop is USilu:
        # PyTorch's silu_backward, g d (1 + x (1 - d)), with the sigmoid d of x as _f's
        d = vsigmoid_from(s, aux) if floating is float else vsigmoid(s)
        return g * d * (one + s * (one - d))
    elif unop is UElu:
        # g scale above 0 and at NaN, else (g alpha scale) e**x, from the saved input (at NaN
        # PyTorch's float32 and scalar loops give g scale, its float64 vectorised one NaN);
        # the exp's argument is 0 on the side not taken, so that it stays bounded
        return (g * p0) * vexp_nonpos(s if s <= zero else zero) if s <= zero else g * p1
    elif unop is USoftplus or unop is USoftplusUnit:
        # PyTorch's softplus_backward: z = e**(beta x); g where beta x > threshold, else
        # g z / (z + 1) (NaN where z overflows, as there)
        k = s if unop is USoftplusUnit else s * p0
        d = vexp(k)
        return g if k > p1 else g * d / (d + one)
    elif unop is ULogSigmoid:
        # PyTorch's log_sigmoid_backward: g (1 - e/(1 + e)) below 0, else g e/(1 + e), with
        # e = e**-|x|
        d = vexp_nonpos(neg_abs(s))
        d = d / (one + d)
        return g * (one - d if s < zero else d)
    elif unop is UHardswish:
        # PyTorch's hardswish_backward: 0 up to -3, g from 3, g (x / 3 + 1/2) between (NaN:
        # NaN, by the last)
        three = 3                    # typed: a literal 3 would make s / 3 a double division
        return zero if s <= -three else (g if s >= three else g * (s / three + half))
    elif unop is UHardsigmoid:
        # g / 6 strictly inside (-3, 3), else 0 (NaN too); p0 = 1/6 as PyTorch rounds it
        return g * p0 if ((s > -3) & (s < 3)) else zero
    elif unop is URelu:
        return zero if s <= zero else g         # a NaN output passes g on, as in PyTorch
    elif unop is ULeaky:
        return g if s > zero else g * p0
    elif unop is UAbs:
        # g * sign(s), sign(NaN) = 0 as PyTorch's sgn; one select per test keeps the loop
        # vectorisable
        d = (one if s > zero else zero) - (one if s < zero else zero)
        return g * d
    elif unop is UClamp:
        # p0 / p1 are -inf / +inf for a missing bound; NaN fails both tests (0, as NumPy)
        return g if (s >= p0 and s <= p1) else zero
    elif unop is UHardtanh:
        # PyTorch's hardtanh_backward (its vectorised loop): g strictly inside the bounds,
        # where clamp keeps g on them too; 0 at NaN. `&`, not `and`, whose branch would keep
        # the loop scalar
        return g if ((s > p0) & (s < p1)) else zero
    elif unop is UGeluErf:
        cdf = half * _one_plus_erf(s * <floating> INV_SQRT_2)
        pdf = aux * <floating> INV_SQRT_2PI
        return g * (cdf + s * pdf)
    elif unop is UGeluErfExp:
        # the same, with exp(-x*x/2) computed here rather than passed in (float32: in the
        # block's first pass, as aux)
        if floating is float:
            return g * _gelu_grad_f32_from(s, aux)
        else:
            cdf = half * _one_plus_erf(s * <floating> INV_SQRT_2)
            pdf = vexp_nonpos(<floating> -0.5 * s * s) * <floating> INV_SQRT_2PI
            return g * (cdf + s * pdf)
    elif unop is UGeluTanh or unop is UGeluTanhInPass:
        k = <floating> SQRT_2_OVER_PI
        c = <floating> GELU_C
        three = 3
        if unop is UGeluTanhInPass and floating is float:
            # the same, with tanh(inner) computed here rather than passed in (its exp in the
            # block's first pass, as aux)
            aux = vtanh_f32_from(_gelu_tanh_inner(s), aux)
        d = half * (one + aux) + half * s * (one - aux * aux) * k * (one + three * c * s * s)
        return g * d
    elif unop is UPowInt2:
        return g * (p0 * s)
    elif unop is UPowInt3:
        return g * (p0 * (s * s))
    elif unop is UExpm1:
        return g * (s + one)                    # from the output: e**x = y + 1
    elif unop is ULog1p:
        return g / (s + one)
    elif unop is UErf:
        # g 2/sqrt(pi) e**(-x*x), NumPy's order (float32 the kernels' exp)
        return g * (<floating> TWO_OVER_SQRT_PI * vexp_nonpos(-(s * s)))
    elif unop is ULog2:
        return g / (s * <floating> LN2)         # PyTorch's and NumPy's order, ln 2 rounded
    elif unop is ULog10:
        return g / (s * <floating> LN10)        # (PyTorch's ln 10, a bit below math.log(10))
    elif unop is UExp2:
        return g * s * <floating> LN2           # from the output
    elif unop is UAtan:
        return g / (s * s + one)
    elif unop is UAsin or unop is UAcos:
        # g rsqrt(1 - x*x) (acos: negated) in NumPy's order: 1 / sqrt, then the product
        d = one / (sqrtf(one - s * s) if floating is float else sqrt(one - s * s))
        return g * (d if unop is UAsin else -d)
    elif unop is USinh:
        return g * (cgrad_coshf(s) if floating is float else cosh(s))
    elif unop is UCosh:
        return g * (cgrad_sinhf(s) if floating is float else sinh(s))
    elif unop is UAtanh:
        return g / (one - s * s)
    elif unop is UTan:
        return g * (one + s * s)                # from the output
    elif unop is UErfc:
        # -g 2/sqrt(pi) e**(-x*x), erf's negated (NumPy's order, float32 the kernels' exp)
        return g * (<floating> -TWO_OVER_SQRT_PI * vexp_nonpos(-(s * s)))
    elif unop is UAsinh or unop is UAcosh:
        # g rsqrt(x*x + 1) (acosh: x*x - 1) in NumPy's order: 1 / sqrt, then the product
        d = s * s + one if unop is UAsinh else s * s - one
        return g * (one / (sqrtf(d) if floating is float else sqrt(d)))
    elif unop is UMish:
        # PyTorch's mish_backward, g (t + x sigmoid(x) (1 - t*t)), t = tanh(softplus(x)) =
        # num / den, all from one e = e**-|x|. 1 - t*t as (den - num)(den + num) / den**2,
        # den - num being 2 e*e or 2: no cancellation as t nears 1 (1 - t*t lost all but a
        # few bits there: PyTorch's derivative is 1e-6 off near x = 8)
        # (float32: e**-|x| 2**24 from the block's first pass, as aux)
        d = aux * <floating> TWO_M24 if floating is float else vexp_nonpos(neg_abs(s))
        k = _tanh_softplus_parts(s, d, &den)            # t = k / den
        inv_den = one / den
        sech2 = ((two * d * d if s >= zero else two) * (den + k)) * inv_den * inv_den
        d = (one if s >= zero else d) / (one + d)       # sigmoid(x)
        return g * (k * inv_den + s * d * sech2)
    else:
        # g * (c * x**(c-1)) for an integer c >= 1 (NumPy: power(x, c - 1))
        return g * (p0 * _ipow(s, flags - 1))


cdef inline floating _f(unop* t, floating x, floating p0, floating p1,
                        int flags) noexcept nogil:
    """f(x) for the forwards done here in one pass"""
    cdef floating zero = 0, one = 1, half = 0.5, r
    if unop is URelu:
        return zero if x < zero else x
    elif unop is UExp:
        return vexp(x)
    elif unop is ULog:
        return vlog(x)
    elif unop is UExpm1:
        return cgrad_expm1f(x) if floating is float else expm1(x)
    elif unop is ULog1p:
        return cgrad_log1pf(x) if floating is float else log1p(x)
    elif unop is UErf:
        return _erf_f32(x) if floating is float else erf(x)
    elif unop is ULog2:
        return cgrad_log2f(x) if floating is float else log2(x)
    elif unop is ULog10:
        return cgrad_log10f(x) if floating is float else log10(x)
    elif unop is UExp2:
        return cgrad_exp2f(x) if floating is float else exp2(x)
    elif unop is UAtan:
        return cgrad_atanf(x) if floating is float else atan(x)
    elif unop is UAsin:
        return cgrad_asinf(x) if floating is float else asin(x)
    elif unop is UAcos:
        return cgrad_acosf(x) if floating is float else acos(x)
    elif unop is USinh:
        return cgrad_sinhf(x) if floating is float else sinh(x)
    elif unop is UCosh:
        return cgrad_coshf(x) if floating is float else cosh(x)
    elif unop is UAtanh:
        return cgrad_atanhf(x) if floating is float else atanh(x)
    elif unop is UAsinh:
        return cgrad_asinhf(x) if floating is float else asinh(x)
    elif unop is UAcosh:
        return cgrad_acoshf(x) if floating is float else acosh(x)
    elif unop is UTan:
        return cgrad_tanf(x) if floating is float else tan(x)       # (float: see _tan_block)
    elif unop is UErfc:
        return cgrad_erfcf(x) if floating is float else erfc(x)
    elif unop is USign:
        # PyTorch's (x > 0) - (x < 0): 0 at NaN and at -0
        return (one if x > zero else zero) - (one if x < zero else zero)
    elif unop is UErfinv:
        return cgrad_erfinvf(x) if floating is float else NAN       # (unary_ refuses float64)
    elif unop is UMish:
        # x tanh(softplus(x)); float64 libm's, as NumPy's form. Below -20 tanh(softplus(x))
        # is e**x to float32's precision, and x e**x is taken from e**x 2**24 (normal down to
        # -103.9) and scaled once: e**x itself turns subnormal from -87.3 and loses bits (45
        # ulp off at -91, 18% at -95, where the product is still normal or nearly). Below
        # -104, where that exp is clamped, x * 0 (-0; the rounded value is at most 48
        # subnormal steps from it, down to 0 by -107.4)
        if floating is float:
            return _mish_f32_from(x, cgrad_expf_nonpos_2p24(neg_abs(x)))
        else:
            return x * tanh(log1p(exp(x)))
    elif unop is USigmoid:
        return vsigmoid(x)
    elif unop is USilu:
        return x * vsigmoid(x)
    elif unop is USoftplus or unop is USoftplusUnit:
        return _softplus(t, x, p0, p1)
    elif unop is UHardswish:
        return x * _relu6(x + <floating> 3) / <floating> 6
    elif unop is UHardsigmoid:
        return _relu6(x + <floating> 3) / <floating> 6
    elif unop is ULogSigmoid:
        return vlog_sigmoid(x)
    elif unop is UElu:
        return vexpm1_nonpos(x if x <= zero else zero) * p0 if x <= zero else x * p1
    elif unop is UTanh:
        return vtanh(x)
    elif unop is UGeluTanh:
        return half * x * (one + vtanh(_gelu_tanh_inner(x)))
    elif unop is ULeaky:
        return x if x > zero else x * p0
    elif unop is UClamp:
        # NumPy's maximum then minimum (-inf / +inf for a missing bound): NaN stays NaN
        r = p0 if x < p0 else x
        return p1 if r > p1 else r
    elif unop is UGeluErf:
        return half * x * _one_plus_erf(x * <floating> INV_SQRT_2)
    elif unop is UPowInt:
        return _ipow(x, flags)
    elif unop is UPowInt2:
        return x * x
    elif unop is UPowInt3:
        return x * x * x
    else:
        return x


cdef void _bwd_block(unop* t, const floating* s, const floating* aux, const floating* g,
                     bint g_one, floating* out, bint add, floating p0, floating p1, int flags,
                     Py_ssize_t n) noexcept nogil:
    cdef float exps[256]
    cdef Py_ssize_t i, j, m
    if floating is float and (unop is USilu or unop is UGeluErfExp or unop is UGeluTanhInPass
                              or unop is UMish):
        # the exps first, 256 at a time (see _fwd_block_exp_first), then _d takes them
        for j in range(0, n, 256):
            m = min(<Py_ssize_t> 256, n - j)
            for i in range(m):
                exps[i] = _exp_first(t, s[j + i], p0)
            _bwd_loop(t, s + j, exps, g if g_one else g + j, g_one, out + j, add, p0, p1,
                      flags, m)
        return
    _bwd_loop(t, s, aux, g, g_one, out, add, p0, p1, flags, n)


cdef void _bwd_loop(unop* t, const floating* s, const floating* aux, const floating* g,
                    bint g_one, floating* out, bint add, floating p0, floating p1, int flags,
                    Py_ssize_t n) noexcept nogil:
    # parameters by value: the compiler keeps them in registers and vectorises the loop
    cdef Py_ssize_t i
    cdef floating g0 = g[0]
    if unop is UPowInt:
        # one loop per exponent, so that each is a plain vectorised product
        if flags == 2:
            _bwd_loop(<UPowInt2*> NULL, s, aux, g, g_one, out, add, p0, p1, flags, n)
            return
        elif flags == 3:
            _bwd_loop(<UPowInt3*> NULL, s, aux, g, g_one, out, add, p0, p1, flags, n)
            return
    if g_one and add:
        for i in range(n):
            out[i] += _d(t, s[i], g0, aux[i], p0, p1, flags)
    elif g_one:
        for i in range(n):
            out[i] = _d(t, s[i], g0, aux[i], p0, p1, flags)
    elif add:
        for i in range(n):
            out[i] += _d(t, s[i], g[i], aux[i], p0, p1, flags)
    else:
        for i in range(n):
            out[i] = _d(t, s[i], g[i], aux[i], p0, p1, flags)


cdef void _bwd(unop* t, const floating* s, const floating* aux, const floating* g, bint g_one,
               floating* out, bint add, floating p0, floating p1, int flags, bint has_aux,
               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t b, i, nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _bwd_block(t, s + i, aux + i if has_aux else s + i, g if g_one else g + i, g_one,
                       out + i, add, p0, p1, flags, min(<Py_ssize_t> BLOCK, n - i))
    else:
        for b in range(nb):
            i = b * BLOCK
            _bwd_block(t, s + i, aux + i if has_aux else s + i, g if g_one else g + i, g_one,
                       out + i, add, p0, p1, flags, min(<Py_ssize_t> BLOCK, n - i))


cdef void _tan_block(const float* x, float* out, Py_ssize_t n) noexcept nogil:
    """float32 tan over x[0:n], 256 elements at a time: each chunk copied (out may be x), the
    vectorised pass (cgrad_tanf), and where some |x| is past its reduction's limit (rare:
    over 5e5), glibc's tanf for those"""
    cdef float buf[256]
    cdef Py_ssize_t i, j, m
    cdef int far
    for j in range(0, n, 256):
        m = min(<Py_ssize_t> 256, n - j)
        far = 0
        for i in range(m):
            buf[i] = x[j + i]
        for i in range(m):
            out[j + i] = cgrad_tanf(buf[i])
            far |= fabsf(buf[i]) > CGRAD_TAN_LIMIT
        if far:
            for i in range(m):
                if fabsf(buf[i]) > CGRAD_TAN_LIMIT:
                    out[j + i] = tanf(buf[i])


cdef void _fwd_block_exp_first(unop* t, const float* x, float* out, float p0, float p1,
                               Py_ssize_t n) noexcept nogil:
    """float32 f(x) over x[0:n] for an op that starts with an exp (_exp_first), 256 elements
    at a time: their exps into a buffer first (1 KB: it stays in L1), then the rest. In one
    loop, each vector's chain of dependent operations (~60 cycles for tanh's) left the CPU's
    schedulers too few vectors to keep its pipes busy: tanh at 10^6, one thread, AVX2 on a
    Zen 3, 0.74 -> 0.64 ns an element. out may be x (each element is read before it is written)."""
    cdef float exps[256]
    cdef Py_ssize_t i, j, m
    for j in range(0, n, 256):
        m = min(<Py_ssize_t> 256, n - j)
        for i in range(m):
            exps[i] = _exp_first(t, x[j + i], p0)
        for i in range(m):
            out[j + i] = _f_from_exp(t, x[j + i], exps[i], p0, p1)


cdef void _fwd_block(unop* t, const floating* x, floating* out, floating p0, floating p1,
                     int flags, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if unop is UTan and floating is float:
        _tan_block(x, out, n)
        return
    if floating is float and (unop is UTanh or unop is USigmoid or unop is USilu
                              or unop is UGeluTanh or unop is ULogSigmoid or unop is USoftplus
                              or unop is USoftplusUnit or unop is UMish):
        _fwd_block_exp_first(t, x, out, p0, p1, n)
        return
    if unop is UPowInt:
        if flags == 2:
            _fwd_block(<UPowInt2*> NULL, x, out, p0, p1, flags, n)
            return
        elif flags == 3:
            _fwd_block(<UPowInt3*> NULL, x, out, p0, p1, flags, n)
            return
    for i in range(n):
        out[i] = _f(t, x[i], p0, p1, flags)


cdef void _fwd(unop* t, const floating* x, floating* out, floating p0, floating p1, int flags,
               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t b, i, nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _fwd_block(t, x + i, out + i, p0, p1, flags, min(<Py_ssize_t> BLOCK, n - i))
    else:
        for b in range(nb):
            i = b * BLOCK
            _fwd_block(t, x + i, out + i, p0, p1, flags, min(<Py_ssize_t> BLOCK, n - i))


cdef int _check(Py_ssize_t n, Py_ssize_t m, str name) except -1:
    if m != n:
        raise ValueError(f"{name} has {m} elements, expected {n}")
    return 0


def unary_backward_(int op, const floating[::1] s, const floating[::1] g, floating[::1] out,
                    bint add, double p0=0, double p1=0, int flags=0, const floating[::1] aux=None):
    """out (+)= g * f'(.) computed from s (the saved input or output): one pass. g has s's
    length, or one element that every element takes (the gradient of a sum or mean, which
    reaches the op broadcast). aux is tanh(inner) for GELU_TANH (see GELU_TANH_INNER),
    exp(-x*x/2) for GELU_ERF, if given (float64 needs it; float32 computes it in the pass
    without), unused otherwise."""
    cdef Py_ssize_t n = s.shape[0]
    cdef bint g_one = g.shape[0] == 1
    if not g_one:
        _check(n, g.shape[0], "g")
    _check(n, out.shape[0], "out")
    if (op == GELU_TANH or op == GELU_ERF) and floating is double:
        if aux is None:
            raise ValueError("float64 GELU_TANH needs aux = tanh(inner), float64 GELU_ERF "
                             "aux = exp(-x*x/2)")
    if aux is not None:
        _check(n, aux.shape[0], "aux")
    if op == POW_INT and not (1 <= p0 <= 64 and p0 == <int> p0):
        raise ValueError(f"POW_INT takes an integer exponent in [1, 64], got {p0}")
    if op < EXP or op >= SIGN:                  # (SIGN and ERFINV: forward only)
        raise ValueError(f"unary_backward_ has no op {op}")
    if n == 0:
        return
    cdef floating q0 = <floating> p0, q1 = <floating> p1
    cdef int fl = <int> p0 if op == POW_INT else flags
    cdef const floating* sp = &s[0]
    cdef const floating* gp = &g[0]
    cdef bint has_aux = aux is not None and (op == GELU_TANH or op == GELU_ERF)
    cdef const floating* ap = &aux[0] if has_aux else sp
    cdef floating* op_ = &out[0]
    with nogil:
        if op == EXP:
            _bwd(<UExp*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LOG:
            _bwd(<ULog*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SQRT:
            _bwd(<USqrt*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == TANH:
            _bwd(<UTanh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SIGMOID:
            _bwd(<USigmoid*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == RELU:
            _bwd(<URelu*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LEAKY_RELU:
            _bwd(<ULeaky*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ABS:
            _bwd(<UAbs*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == CLAMP:
            _bwd(<UClamp*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == HARDTANH:
            _bwd(<UHardtanh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SILU:
            _bwd(<USilu*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ELU:
            _bwd(<UElu*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SOFTPLUS and q0 == 1:
            _bwd(<USoftplusUnit*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SOFTPLUS:
            _bwd(<USoftplus*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LOG_SIGMOID:
            _bwd(<ULogSigmoid*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == HARDSWISH:
            _bwd(<UHardswish*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == HARDSIGMOID:
            _bwd(<UHardsigmoid*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == GELU_ERF and has_aux:
            _bwd(<UGeluErf*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == GELU_ERF:
            _bwd(<UGeluErfExp*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == GELU_TANH and has_aux:
            _bwd(<UGeluTanh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == GELU_TANH:
            _bwd(<UGeluTanhInPass*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == EXPM1:
            _bwd(<UExpm1*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LOG1P:
            _bwd(<ULog1p*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ERF:
            _bwd(<UErf*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == MISH:
            _bwd(<UMish*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LOG2:
            _bwd(<ULog2*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == LOG10:
            _bwd(<ULog10*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == EXP2:
            _bwd(<UExp2*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ATAN:
            _bwd(<UAtan*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ASIN:
            _bwd(<UAsin*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ACOS:
            _bwd(<UAcos*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == SINH:
            _bwd(<USinh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == COSH:
            _bwd(<UCosh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ATANH:
            _bwd(<UAtanh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ASINH:
            _bwd(<UAsinh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ACOSH:
            _bwd(<UAcosh*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == TAN:
            _bwd(<UTan*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        elif op == ERFC:
            _bwd(<UErfc*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)
        else:
            _bwd(<UPowInt*> NULL, sp, ap, gp, g_one, op_, add, q0, q1, fl, has_aux, n)


cdef void _pre_post(int op, const floating* x, const floating* aux, floating* out,
                    Py_ssize_t n) noexcept nogil:
    """The passes around np.exp / np.tanh (see the NEG_ABS... enum)."""
    cdef Py_ssize_t i
    cdef floating one = 1, half = 0.5
    if op == NEG_ABS:
        if parallel(n):
            for i in prange(n, schedule="static", num_threads=cgrad_threads()):
                out[i] = -fabsf(x[i]) if floating is float else -fabs(x[i])
        else:
            for i in range(n):
                out[i] = -fabsf(x[i]) if floating is float else -fabs(x[i])
    elif op == SIGMOID_FROM_EXP:
        # sigmoid(x) from e = exp(-|x|) <= 1 (vsigmoid_from)
        if parallel(n):
            for i in prange(n, schedule="static", num_threads=cgrad_threads()):
                out[i] = vsigmoid_from(x[i], aux[i])
        else:
            for i in range(n):
                out[i] = vsigmoid_from(x[i], aux[i])
    elif op == NEG_HALF_SQUARE:
        if parallel(n):
            for i in prange(n, schedule="static", num_threads=cgrad_threads()):
                out[i] = <floating> -0.5 * x[i] * x[i]
        else:
            for i in range(n):
                out[i] = <floating> -0.5 * x[i] * x[i]
    elif op == GELU_TANH_INNER:
        if parallel(n):
            for i in prange(n, schedule="static", num_threads=cgrad_threads()):
                out[i] = _gelu_tanh_inner(x[i])
        else:
            for i in range(n):
                out[i] = _gelu_tanh_inner(x[i])
    else:
        if parallel(n):
            for i in prange(n, schedule="static", num_threads=cgrad_threads()):
                out[i] = half * x[i] * (one + aux[i])
        else:
            for i in range(n):
                out[i] = half * x[i] * (one + aux[i])


def unary_(int op, const floating[::1] x, floating[::1] out, double p0=0, double p1=0,
           int flags=0, const floating[::1] aux=None):
    """out = f(x) in one pass (EXP, LOG, RELU, LEAKY_RELU, CLAMP, GELU_ERF, POW_INT, SIGMOID,
    SILU, ELU, TANH, GELU_TANH, SOFTPLUS, LOG_SIGMOID, HARDSWISH, HARDSIGMOID, EXPM1, LOG1P,
    ERF, MISH, LOG2, LOG10, EXP2, ATAN, ASIN, ACOS, SINH, COSH, ATANH, ASINH, ACOSH, TAN,
    ERFC: vectorised for float32, a libm call per element for float64; SIGN; ERFINV, float32
    only: libm has no erfinv), or
    one of the passes around NumPy's exp/tanh for float64 (NEG_ABS, SIGMOID_FROM_EXP,
    GELU_TANH_INNER/OUTER).
    out may be x itself (each element is read before it is written)."""
    cdef Py_ssize_t n = x.shape[0]
    _check(n, out.shape[0], "out")
    if op == SIGMOID_FROM_EXP or op == GELU_TANH_OUTER:
        if aux is None:
            raise ValueError("this pass needs aux")
        _check(n, aux.shape[0], "aux")
    elif op not in (EXP, LOG, RELU, LEAKY_RELU, CLAMP, GELU_ERF, POW_INT, NEG_ABS, GELU_TANH_INNER,
                    NEG_HALF_SQUARE, SIGMOID, SILU, ELU, TANH, GELU_TANH, SOFTPLUS,
                    LOG_SIGMOID, HARDSWISH, HARDSIGMOID, EXPM1, LOG1P, ERF, MISH, LOG2,
                    LOG10, EXP2, ATAN, ASIN, ACOS, SINH, COSH, ATANH, ASINH, ACOSH, TAN,
                    ERFC, SIGN, ERFINV):
        raise ValueError(f"unary_ has no forward for op {op}")
    if op == ERFINV and floating is double:
        raise TypeError("ERFINV takes float32 only, got float64 (float64: SciPy's erfinv)")
    if op == POW_INT and not (0 <= p0 <= 64 and p0 == <int> p0):
        raise ValueError(f"POW_INT takes an integer exponent in [0, 64], got {p0}")
    if n == 0:
        return
    cdef floating q0 = <floating> p0, q1 = <floating> p1
    cdef int fl = <int> p0 if op == POW_INT else flags
    cdef const floating* xp = &x[0]
    cdef const floating* ap = &aux[0] if aux is not None else xp
    cdef floating* op_ = &out[0]
    with nogil:
        if op == EXP:
            _fwd(<UExp*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LOG:
            _fwd(<ULog*> NULL, xp, op_, q0, q1, fl, n)
        elif op == RELU:
            _fwd(<URelu*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LEAKY_RELU:
            _fwd(<ULeaky*> NULL, xp, op_, q0, q1, fl, n)
        elif op == CLAMP:
            _fwd(<UClamp*> NULL, xp, op_, q0, q1, fl, n)
        elif op == GELU_ERF:
            _fwd(<UGeluErf*> NULL, xp, op_, q0, q1, fl, n)
        elif op == POW_INT:
            _fwd(<UPowInt*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SIGMOID:
            _fwd(<USigmoid*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SILU:
            _fwd(<USilu*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ELU:
            _fwd(<UElu*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SOFTPLUS and q0 == 1:
            _fwd(<USoftplusUnit*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SOFTPLUS:
            _fwd(<USoftplus*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LOG_SIGMOID:
            _fwd(<ULogSigmoid*> NULL, xp, op_, q0, q1, fl, n)
        elif op == HARDSWISH:
            _fwd(<UHardswish*> NULL, xp, op_, q0, q1, fl, n)
        elif op == HARDSIGMOID:
            _fwd(<UHardsigmoid*> NULL, xp, op_, q0, q1, fl, n)
        elif op == TANH:
            _fwd(<UTanh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == GELU_TANH:
            _fwd(<UGeluTanh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == EXPM1:
            _fwd(<UExpm1*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LOG1P:
            _fwd(<ULog1p*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ERF:
            _fwd(<UErf*> NULL, xp, op_, q0, q1, fl, n)
        elif op == MISH:
            _fwd(<UMish*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LOG2:
            _fwd(<ULog2*> NULL, xp, op_, q0, q1, fl, n)
        elif op == LOG10:
            _fwd(<ULog10*> NULL, xp, op_, q0, q1, fl, n)
        elif op == EXP2:
            _fwd(<UExp2*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ATAN:
            _fwd(<UAtan*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ASIN:
            _fwd(<UAsin*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ACOS:
            _fwd(<UAcos*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SINH:
            _fwd(<USinh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == COSH:
            _fwd(<UCosh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ATANH:
            _fwd(<UAtanh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ASINH:
            _fwd(<UAsinh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ACOSH:
            _fwd(<UAcosh*> NULL, xp, op_, q0, q1, fl, n)
        elif op == TAN:
            _fwd(<UTan*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ERFC:
            _fwd(<UErfc*> NULL, xp, op_, q0, q1, fl, n)
        elif op == SIGN:
            _fwd(<USign*> NULL, xp, op_, q0, q1, fl, n)
        elif op == ERFINV:
            _fwd(<UErfinv*> NULL, xp, op_, q0, q1, fl, n)
        else:
            _pre_post(op, xp, ap, op_, n)


# ---- an LSTM step's gates ---------------------------------------------------------------------
cdef int _check_rows(Py_ssize_t[8] shape, Py_ssize_t rows, Py_ssize_t cols,
                     str name) except -1:
    if shape[0] != rows or shape[1] != cols:
        raise ValueError(f"{name} has shape ({shape[0]}, {shape[1]}), expected ({rows}, {cols})")
    return 0


def lstm_cell_(const floating[:, ::1] gates, const floating[:, ::1] c, floating[:, ::1] act,
               floating[:, ::1] c_out, floating[:, ::1] tanh_c, floating[:, ::1] h_out):
    """One LSTM step from its gates' pre-activations (N, 4H: i, f, g, o) and c (N, H), in
    one pass over each row (_recurrent.pxd's lstm_rows: the kernels' sigmoid and tanh,
    PyTorch's order). act may be gates itself."""
    cdef Py_ssize_t rows = c.shape[0], hidden = c.shape[1]
    _check_rows(gates.shape, rows, 4 * hidden, "gates")
    _check_rows(act.shape, rows, 4 * hidden, "act")
    _check_rows(c_out.shape, rows, hidden, "c_out")
    _check_rows(tanh_c.shape, rows, hidden, "tanh_c")
    _check_rows(h_out.shape, rows, hidden, "h_out")
    if rows and hidden:
        with nogil:
            lstm_rows(&gates[0, 0], &c[0, 0], &act[0, 0], &c_out[0, 0], &tanh_c[0, 0],
                      &h_out[0, 0], rows, hidden)


def lstm_cell_backward_(const floating[:, ::1] act, const floating[:, ::1] c,
                        const floating[:, ::1] tanh_c, const floating[:, ::1] dh,
                        const floating[:, ::1] dc, floating[:, ::1] d_gates,
                        floating[:, ::1] dc_prev):
    """lstm_cell_'s backward from what it saved (act, its input c, tanh_c) and the gradients
    of h_out (dh) and c_out (dc): the gates' pre-activation gradients d_gates (N, 4H) and
    c's, dc_prev; one pass over each row (_recurrent.pxd's lstm_rows_backward)."""
    cdef Py_ssize_t rows = c.shape[0], hidden = c.shape[1]
    _check_rows(act.shape, rows, 4 * hidden, "act")
    _check_rows(d_gates.shape, rows, 4 * hidden, "d_gates")
    _check_rows(tanh_c.shape, rows, hidden, "tanh_c")
    _check_rows(dh.shape, rows, hidden, "dh")
    _check_rows(dc.shape, rows, hidden, "dc")
    _check_rows(dc_prev.shape, rows, hidden, "dc_prev")
    if rows and hidden:
        with nogil:
            lstm_rows_backward(&act[0, 0], &c[0, 0], &tanh_c[0, 0], &dh[0, 0], &dc[0, 0],
                               &d_gates[0, 0], &dc_prev[0, 0], rows, hidden)
