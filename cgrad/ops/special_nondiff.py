"""The functions of torch.special that have no derivative in PyTorch (their results never
require grad): the Bessel functions J0, J1, Y0, Y1, I0, I1, K0, K1 (and scaled K0, K1), the
spherical j0, Airy's Ai, and the orthogonal polynomials. Plain array functions: x is a float
array, the polynomials' n an array of x's dtype.

J0, J1, Y0 and Y1 are evaluated as PyTorch's kernel does (Cephes' coefficients, but each
rational's denominator without Cephes' implied leading 1, which moves values by up to ~1e-7
relative near x = 5), so SciPy's j0 & co., which are Cephes' own, would not give PyTorch's
numbers. The others are SciPy's where SciPy gives PyTorch's values, and the polynomials are
PyTorch's recurrences and closed forms, branch for branch, in x's dtype.

Where PyTorch's x86 build fuses a * b + c into one rounding, so does _fma here, and libm's
float32 functions are taken as float64's rounded (_libm): float32 results are then PyTorch's
bit for bit nearly everywhere, and the recurrences' overflow gives its infinities."""
import math

import numpy as np


def _scipy():
    from scipy import special           # imported on first use (~0.2 s)
    return special


def _fma(a, b, c):
    """a * b + c rounded once, as the fused multiply-add PyTorch's x86 build compiles a * b + c
    into: float32 through float64 (exact), float64 through long double (80-bit on x86: right
    but for the rare double rounding; where long double is double, unfused)"""
    dt = np.result_type(a, b)
    wide = np.float64 if dt == np.float32 else np.longdouble
    return (np.asarray(a, wide) * np.asarray(b, wide) + np.asarray(c, dt).astype(wide)) \
        .astype(dt)


def _libm(fn, x):
    """fn(x) in x's dtype, a float32 x through float64: PyTorch calls libm's acosf, cosf, ...,
    which are (nearly) correctly rounded, where NumPy's own float32 loops may be an ulp off"""
    x = np.asarray(x)
    return fn(x.astype(np.float64)).astype(x.dtype) if x.dtype == np.float32 else fn(x)


def _poly(coefs, z):
    """c0 z^k + ... + ck by Horner's rule from 0, fused, as PyTorch's loops (so an inf z gives
    NaN); the coefficients in z's dtype"""
    acc = np.zeros_like(z)
    for c in coefs:
        acc = _fma(acc, z, c)
    return acc


# ---- Bessel functions of the first and second kind, orders 0 and 1 -------------------------
_PQ0 = dict(
    PP=(7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e+00,
        5.44725003058768775090e+00, 8.74716500199817011941e+00, 5.30324038235394892183e+00,
        9.99999999999999997821e-01),
    PQ=(9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e+00,
        5.47097740330417105182e+00, 8.76190883237069594232e+00, 5.30605288235394617618e+00,
        1.00000000000000000218e+00),
    QP=(-1.13663838898469149931e-02, -1.28252718670509318512e+00, -1.95539544257735972385e+01,
        -9.32060152123768231369e+01, -1.77681167980488050595e+02, -1.47077505154951170175e+02,
        -5.14105326766599330220e+01, -6.05014350600728481186e+00),
    QQ=(6.43178256118178023184e+01, 8.56430025976980587198e+02, 3.88240183605401609683e+03,
        7.24046774195652478189e+03, 5.93072701187316984827e+03, 2.06209331660327847417e+03,
        2.42005740240291393179e+02))
_PQ1 = dict(
    PP=(7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e+00,
        5.11207951146807644818e+00, 8.42404590141772420927e+00, 5.21451598682361504063e+00,
        1.00000000000000000254e+00),
    PQ=(5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e+00,
        5.07386386128601488557e+00, 8.39985554327604159757e+00, 5.20982848682361821619e+00,
        9.99999999999999997461e-01),
    QP=(5.10862594750176621635e-02, 4.98213872951233449420e+00, 7.58238284132545283818e+01,
        3.66779609360150777800e+02, 7.10856304998926107277e+02, 5.97489612400613639965e+02,
        2.11688757100572135698e+02, 2.52070205858023719784e+01),
    QQ=(7.42373277035675149943e+01, 1.05644886038262816351e+03, 4.98641058337653607651e+03,
        9.56231892404756170795e+03, 7.99704160447350683650e+03, 2.82619278517639096600e+03,
        3.36093607810698293419e+02))
_J0_RP = (-4.79443220978201773821e+09, 1.95617491946556577543e+12, -2.49248344360967716204e+14,
          9.70862251047306323952e+15)
_J0_RQ = (4.99563147152651017219e+02, 1.73785401676374683123e+05, 4.84409658339962045305e+07,
          1.11855537045356834862e+10, 2.11277520115489217587e+12, 3.10518229857422583814e+14,
          3.18121955943204943306e+16, 1.71086294081043136091e+18)
_J1_RP = (-8.99971225705559398224e+08, 4.52228297998194034323e+11, -7.27494245221818276015e+13,
          3.68295732863852883286e+15)
_J1_RQ = (6.20836478118054335476e+02, 2.56987256757748830383e+05, 8.35146791431949253037e+07,
          2.21511595479792499675e+10, 4.74914122079991414898e+12, 7.84369607876235854894e+14,
          8.95222336184627338078e+16, 5.32278620332680085395e+18)
_Y0_YP = (1.55924367855235737965e+04, -1.46639295903971606143e+07, 5.43526477051876500413e+09,
          -9.82136065717911466409e+11, 8.75906394395366999549e+13, -3.46628303384729719441e+15,
          4.42733268572569800351e+16, -1.84950800436986690637e+16)
_Y0_YQ = (1.04128353664259848412e+03, 6.26107330137134956842e+05, 2.68919633393814121987e+08,
          8.64002487103935000337e+10, 2.02979612750105546709e+13, 3.17157752842975028269e+15,
          2.50596256172653059228e+17)
_Y1_YP = (1.26320474790178026440e+09, -6.47355876379160291031e+11, 1.14509511541823727583e+14,
          -8.12770255501325109621e+15, 2.02439475713594898196e+17, -7.78877196265950026825e+17)
_Y1_YQ = (5.94301592346128195359e+02, 2.35564092943068577943e+05, 7.34811944459721705660e+07,
          1.87601316108706159478e+10, 3.88231277496238566008e+12, 6.20557727146953693363e+14,
          6.87141087355300489866e+16, 3.97270608116560655612e+18)
_SQ2OPI = 0.797884560802865355879892119868763737     # sqrt(2 / pi)
_TWOOPI = 0.636619772367581343075535053490057448     # 2 / pi


def _asymptotic(x, coefs, z, shift, second):
    """the large-x form, x > 5: (P cos(x - shift) -+ 5/x Q sin(x - shift)) sqrt(2/pi) / sqrt x
    for J (second=False), with sin and cos swapped and + for Y"""
    p = _poly(coefs["PP"], z) / _poly(coefs["PQ"], z)
    q = 5.0 / x * (_poly(coefs["QP"], z) / _poly(coefs["QQ"], z))
    w = x - shift
    sin, cos = _libm(np.sin, w), _libm(np.cos, w)
    v = _fma(p, sin, q * cos) if second else _fma(p, cos, -(q * sin))
    return v * _SQ2OPI / np.sqrt(x)


def bessel_j0(x):
    x = np.where(x < 0, -x, x)
    xx = x * x
    small = (xx - 5.78318596294678452118e+00) * (xx - 3.04712623436620863991e+01) \
        * _poly(_J0_RP, xx) / _poly(_J0_RQ, xx)
    big = _asymptotic(x, _PQ0, 25.0 / xx, 0.785398163397448309615660845819875721, False)
    return np.where(x < 0.00001, 1.0 - xx / 4.0, np.where(x <= 5.0, small, big))


def bessel_j1(x):
    negative = x < 0                                        # J1 is odd
    x = np.where(negative, -x, x)
    xx = x * x
    small = _poly(_J1_RP, xx) / _poly(_J1_RQ, xx) * x * (xx - 1.46819706421238932572e+01) \
        * (xx - 4.92184563216946036703e+01)
    big = _asymptotic(x, _PQ1, 5.0 / x * (5.0 / x), 2.356194490192344928846982537459627163,
                      False)
    y = np.where(x <= 5.0, small, big)
    return np.where(negative, -y, y)


def bessel_y0(x):
    xx = x * x
    small = _fma(_TWOOPI * _libm(np.log, x), bessel_j0(x), _poly(_Y0_YP, xx) / _poly(_Y0_YQ, xx))
    big = _asymptotic(x, _PQ0, 25.0 / xx, 0.785398163397448309615660845819875721, True)
    return np.where(x <= 5.0, np.where(x == 0, -np.inf, np.where(x < 0, np.nan, small)), big)


def bessel_y1(x):
    xx = x * x
    small = _fma(x, _poly(_Y1_YP, xx) / _poly(_Y1_YQ, xx),
                 _TWOOPI * _fma(bessel_j1(x), _libm(np.log, x), -(1.0 / x)))
    big = _asymptotic(x, _PQ1, 5.0 / x * (5.0 / x), 2.356194490192344928846982537459627163,
                      True)
    return np.where(x <= 5.0, np.where(x == 0, -np.inf, np.where(x < 0, np.nan, small)), big)


# ---- the others, by SciPy (PyTorch's values, its float32 ones to float32 rounding) -----------
def modified_bessel_i0(x):
    return _scipy().i0(x)


def modified_bessel_i1(x):
    return _scipy().i1(x)


def modified_bessel_k0(x):
    return _scipy().k0(x)


def modified_bessel_k1(x):
    return _scipy().k1(x)


def scaled_modified_bessel_k0(x):
    return _scipy().k0e(x)


def scaled_modified_bessel_k1(x):
    return _scipy().k1e(x)


_AIRY_AFN = (-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
             -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
             -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08)
_AIRY_AFD = (1.33560420706553243746e+01, 3.26825032795224613948e+01, 2.67367040941499554804e+01,
             9.18707402907259625840e+00, 1.47529146771666414581e+00, 1.15687173795188044134e-01,
             4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07)
_AIRY_AGN = (1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e+00,
             9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
             5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
             8.11789239554389293311e-08, 3.41551784765923618484e-10)
_AIRY_AGD = (9.30892908077441974853e+00, 1.98352928718312140417e+01, 1.55646628932864612953e+01,
             5.47686069422975497931e+00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
             4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
             4.91834570062930015649e-09)


def airy_ai(x):
    """Ai(x): below x = -2.09 PyTorch's asymptotic form (Cephes' coefficients without the
    implied leading 1, as in J0), elsewhere SciPy's Ai, which is PyTorch's there; NaN at +-inf
    and 0 beyond x = 103.892, as PyTorch (SciPy's is NaN from ~1e10)"""
    zeta = -2.0 * x * np.sqrt(-x) / 3.0
    z = 1.0 / zeta
    zz = z * z
    t = zeta + 0.25 * x.dtype.type(math.pi)
    f = 1.0 + zz * _poly(_AIRY_AFN, zz) / _poly(_AIRY_AFD, zz)
    g = z * _poly(_AIRY_AGN, zz) / _poly(_AIRY_AGD, zz)
    negative = 0.564189583547756286948 / np.sqrt(np.sqrt(-x)) \
        * _fma(_libm(np.sin, t), f, -(_libm(np.cos, t) * g))
    ai = _scipy().airy(x)[0]
    return np.where(np.isinf(x), np.nan, np.where(x > 103.892, 0.0, np.where(
        x < -2.09, negative, ai))).astype(x.dtype)


def spherical_bessel_j0(x):
    """sin(x) / x, by its Taylor series below |x| = 1/2 (PyTorch's), 0 at +-inf"""
    one, xx = x.dtype.type(1.0), x * x
    series = one / x.dtype.type(6227020800.0)
    for d in (-39916800.0, 362880.0, -5040.0, 120.0, -6.0):
        series = one / x.dtype.type(d) + xx * series
    series = one + xx * series
    return np.where(np.isinf(x), 0.0, np.where(np.abs(x) < 0.5, series, _libm(np.sin, x) / x)) \
        .astype(x.dtype)


# ---- orthogonal polynomials: PyTorch's branches, then its recurrence ------------------------
def degree(n):
    """n (x's float dtype) as PyTorch's int64 cast: truncated; NaN, +-inf and values out of
    int64's range become the most negative int64 on x86 (and Hermite's -1): a degree < 0"""
    ok = np.isfinite(n) & (np.abs(n) < 2.0 ** 63)
    return np.where(ok, np.trunc(np.where(ok, n, 0)), -1).astype(np.int64)


class _Cases:
    """out[...] filled case by case in PyTorch's order: the first case an element meets wins"""
    def __init__(self, x, n):
        self.x, self.n = np.broadcast_arrays(x, degree(n))
        self.out = np.zeros(self.x.shape, x.dtype)
        self.todo = np.ones(self.x.shape, bool)

    def case(self, cond, value):
        hit = self.todo & cond
        self.out[hit] = np.broadcast_to(value, self.out.shape)[hit]
        self.todo &= ~cond

    def recurrence(self, p, q, k0, last, step, nan_stops=True):
        """the rest: for k = k0 .. last, r = step(k, x, p, q); p, q = q, r (stopping at a NaN q
        if nan_stops), then q, which is PyTorch's r. (A NaN start leaves q: PyTorch reads an
        uninitialised r there.)"""
        idx = np.flatnonzero(self.todo)
        x = self.x.reshape(-1)[idx]
        p, q = (np.broadcast_to(np.asarray(v, x.dtype), self.x.shape).reshape(-1)[idx]
                for v in (p, q))              # (fancy indexing copies)
        last = np.broadcast_to(last, self.x.shape).reshape(-1)[idx]
        live = np.arange(idx.size)
        k = k0
        while True:
            keep = last[live] >= k
            if nan_stops:
                keep &= ~np.isnan(q[live])
            live = live[keep]
            if not live.size:
                break
            r = step(k, x[live], p[live], q[live])
            p[live] = q[live]
            q[live] = r
            k += 1
        self.out.reshape(-1)[idx] = q     # out is a fresh contiguous array: reshape is a view
        return self.out


def _with_ends(c, first, second):
    """n < 0 -> 0, n == 0 -> 1, n == 1 -> first: PyTorch's cases before its recurrence"""
    c.case(c.n == 0, 1.0)
    c.case(c.n == 1, first)
    return c.recurrence(1.0, first, 2, c.n, lambda k, x, p, q: _fma(second(x), q, -p))


def _at_pm_one(c, y, when_one, when_minus_one):
    """PyTorch's exact values at y = 1 and y = -1 (y = x, or 2x - 1 for the shifted ones)"""
    c.case(y == 1.0, when_one)
    c.case(y == -1.0, when_minus_one)


def chebyshev_polynomial_t(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    _at_pm_one(c, x, 1.0, np.where(n % 2 == 0, 1.0, -1.0))
    c.case((n > 6) & (np.abs(x) < 1.0), _libm(np.cos, n.astype(x.dtype) * _libm(np.arccos, x)))
    return _with_ends(c, x, lambda x: x + x)


def _u_closed(n, y):
    """sin((n+1) t) / sin t, t = acos y, or its limit (n+1) cos((n+1) t) / y where sin t = 0"""
    t = _libm(np.arccos, y)
    m = (n + 1).astype(y.dtype)
    sin_t = _libm(np.sin, t)
    return np.where(sin_t != 0.0, _libm(np.sin, m * t) / sin_t, m * _libm(np.cos, m * t) / y)


def chebyshev_polynomial_u(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    _at_pm_one(c, x, n + 1, np.where(n % 2 == 0, n + 1, -(n + 1)))
    c.case((n > 8) & (np.abs(x) < 1.0), _u_closed(n, x))
    return _with_ends(c, x + x, lambda x: x + x)


def _v_closed(n, y):
    """cos((n + 1/2) t) / cos(t/2), t = acos y, or +-(2n+1) where sin(t/2) = 1"""
    t = _libm(np.arccos, y)
    return np.where(_libm(np.sin, t / 2.0) != 1.0,
                    _libm(np.cos, (n.astype(y.dtype) + 0.5) * t) / _libm(np.cos, t / 2.0),
                    np.where(n % 2 == 0, n + n + 1, -(n + n + 1)))


def _w_closed(n, y, x_positive):
    """sin((n + 1/2) t) / sin(t/2), t = acos y, or its limits where cos(t/2) = 1"""
    t = _libm(np.arccos, y)
    return np.where(_libm(np.cos, t / 2.0) != 1.0,
                    _libm(np.sin, (n.astype(y.dtype) + 0.5) * t) / _libm(np.sin, t / 2.0),
                    np.where(x_positive, n + n + 1, np.where(n % 2 == 0, 1.0, -1.0)))


def chebyshev_polynomial_v(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    _at_pm_one(c, x, 1.0, np.where(n % 2 == 0, n + n + 1, -(n + n + 1)))
    c.case((n > 8) & (np.abs(x) < 1.0), _v_closed(n, x))
    return _with_ends(c, x + x - 1.0, lambda x: x + x)


def chebyshev_polynomial_w(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    _at_pm_one(c, x, n + n + 1, np.where(n % 2 == 0, 1.0, -1.0))
    c.case((n > 8) & (np.abs(x) < 1.0), _w_closed(n, x, x > 0.0))
    return _with_ends(c, x + x + 1.0, lambda x: x + x)


# the shifted ones are the above at y = 2x - 1, which PyTorch writes out as x + x - 1 each time
def _shifted(x):
    return x + x - 1.0


def shifted_chebyshev_polynomial_t(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    y = _shifted(x)
    c.case(n < 0, 0.0)
    c.case(x == 1.0, 1.0)
    c.case(x == 0.0, np.where(n % 2 == 0, 1.0, -1.0))
    c.case((n > 6) & (np.abs(y) < 1.0), _libm(np.cos, n.astype(x.dtype) * _libm(np.arccos, y)))
    return _with_ends(c, y, lambda x: _shifted(x) + _shifted(x))


def shifted_chebyshev_polynomial_u(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    y = _shifted(x)
    c.case(n < 0, 0.0)
    c.case(x == 1.0, n + 1)
    c.case(x == 0.0, np.where(n % 2 == 0, n + 1, -(n + 1)))
    c.case((n > 6) & (np.abs(y) < 1.0), _u_closed(n, y))
    return _with_ends(c, y + y, lambda x: _shifted(x) + _shifted(x))


def shifted_chebyshev_polynomial_v(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    y = _shifted(x)
    c.case(n < 0, 0.0)
    c.case(x == 1.0, 1.0)
    c.case(x == 0.0, np.where(n % 2 == 0, n + n + 1, -(n + n + 1)))
    c.case((n > 6) & (np.abs(y) < 1.0), _v_closed(n, y))
    return _with_ends(c, y + y - 1.0, lambda x: _shifted(x) + _shifted(x))


def shifted_chebyshev_polynomial_w(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    y = _shifted(x)
    c.case(n < 0, 0.0)
    c.case(x == 1.0, n + n + 1)
    c.case(x == 0.0, np.where(n % 2 == 0, 1.0, -1.0))
    c.case((n > 4) & (np.abs(y) < 1.0), _w_closed(n, y, False))   # (no x > 0 case here)
    return _with_ends(c, y + y + 1.0, lambda x: _shifted(x) + _shifted(x))


def _hermite_limit(x):
    """PyTorch's degree past which its Hermite polynomials are NaN"""
    return 128 if x.dtype == np.float32 else 512


def hermite_polynomial_h(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    c.case(n == 0, 1.0)
    c.case(n == 1, x + x)
    c.case(n > _hermite_limit(x), np.nan)
    # PyTorch's k runs 2, 4, .. < 2n: here k = 1 .. n-1 and its k is 2k
    return c.recurrence(1.0, x + x, 1, n - 1,
                        lambda k, x, p, q: _fma(x + x, q, -((2 * k) * p)), nan_stops=False)


def hermite_polynomial_he(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    c.case(n == 0, 1.0)
    c.case(n == 1, x)
    c.case(n > _hermite_limit(x), np.nan)
    return c.recurrence(1.0, x, 1, n - 1, lambda k, x, p, q: _fma(x, q, -(k * p)),
                        nan_stops=False)


def laguerre_polynomial_l(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    c.case(np.abs(x) == 0.0, 1.0)
    c.case(n == 0, 1.0)
    c.case(n == 1, 1.0 - x)
    return c.recurrence(1.0, 1.0 - x, 1, n - 1,
                        lambda k, x, p, q: _fma((k + k) + (1.0 - x), q, -(k * p)) / (k + 1))


def legendre_polynomial_p(x, n):
    c = _Cases(x, n)
    x, n = c.x, c.n
    c.case(n < 0, 0.0)
    _at_pm_one(c, x, 1.0, np.where(n % 2 == 0, 1.0, -1.0))
    c.case(n == 0, 1.0)
    c.case(n == 1, x)
    return c.recurrence(1.0, x, 1, n - 1,
                        lambda k, x, p, q: _fma((k + k + 1) * x, q, -(k * p)) / (k + 1))


UNARY = ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
         "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
         "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0",
         "airy_ai")
POLYNOMIALS = ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p")
