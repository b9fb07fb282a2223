"""The special functions of cgrad.special (lgamma, digamma, erfinv, xlogy, ...): one class per
differentiable op, forward and backward side by side, with SciPy's ufuncs for the values on
both backends (they run off the training hot path, as ops.elementwise's _NumpyUnary), but
for erfc, erfinv, log2, log10 and exp2, which the backends' kernels compute (float32
compiled).
The derivatives are PyTorch's (derivatives.yaml), so edge values (0, 1, inf) match too.
Below them, the other elementwise ops of Tensor's methods (trunc, frac, log2, the in-place
comparisons, div's rounding modes, hypot, copysign, fmod, fmax, logaddexp, ...).
Where PyTorch's own kernel is an approximation, SciPy's value is kept: its float64 trigamma
(polygamma(1, x), digamma's derivative) is good to ~1e-10 relative, and its polygamma(n, inf)
is NaN for n >= 2 where the limit is 0."""
import math

import numpy as np

from .. import _dtype, backends as B
from .._warn import quiet
from .._dtype import require_float, result_type, torch_name
from ..autograd.function import Op, constant, renamed
from ..backends.numpy_backend import LN10
from .elementwise import (Clamp, ClampTensor, FillTensor, MaskedFill, MulNumber, Sign, Sub,
                          _NumpyUnary, _Stepwise, _Unary, _float, _same_float, divides_by_zero,
                          in_float32, promote, promote_float, scalar_operand)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _scipy():
    from scipy import special           # imported on first use (~0.2 s)
    return special


class _XY(_NumpyUnary):
    """_NumpyUnary whose derivative reads the input and the output: derivative(x, y, g)"""
    @classmethod
    def forward(cls, ctx, x):
        x = _float(x)
        y = _same_float(cls.fn(x), x)
        ctx.save_for_backward(x, y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        return cls.derivative(x, y, g),

    @classmethod
    def graph_backward(cls, ctx, g):
        x, y = ctx.saved_for_graph()
        return cls.graph_derivative(x, y, g),


# ---- gamma family ---------------------------------------------------------------------------
class Lgamma(_NumpyUnary):
    """y = ln|Gamma(x)|   ->   dx = g digamma(x)"""
    @staticmethod
    def fn(x):
        y = _scipy().gammaln(x)
        return np.where(x == -np.inf, np.inf, y)       # PyTorch's lgamma(-inf) is +inf

    @staticmethod
    def derivative(x, g):
        return g * _same_float(_scipy().digamma(x), x)

    @staticmethod
    def graph_derivative(x, g):
        return g * Digamma.apply(x)


class Digamma(_NumpyUnary):
    """y = psi(x) = d/dx ln Gamma(x)   ->   dx = g polygamma(1, x)"""
    @staticmethod
    def fn(x):
        return _scipy().digamma(x)

    @staticmethod
    def derivative(x, g):
        return g * _polygamma(1, x)

    @staticmethod
    def graph_derivative(x, g):
        return g * Polygamma.apply(x, 1)


def _polygamma(n, x):
    if n == 1 and x.dtype.itemsize <= 4:
        return _same_float(_trigamma(x), x)
    return _same_float(_scipy().polygamma(n, x), x)


def _trigamma(x):
    """polygamma(1, x) for float32 (and float16) x, PyTorch's series in float64: x < 1/2
    reflected (pi^2 / sin^2(pi x) - trigamma(1 - x)), six steps of the recurrence
    trigamma(x) = 1/x^2 + trigamma(x + 1), then the asymptotic series at x >= 6.5 (relative
    error under 1e-9, a sixtieth of float32's ulp). SciPy's polygamma sums Hurwitz's zeta,
    ~400 ns an element (digamma's backward at 10^5: 40 ms, now ~6 ms of NumPy passes). The
    poles (0, -1, ...) give inf, as SciPy's (PyTorch's float32 sin(pi x) is not 0 there: a
    finite 1e15); -inf NaN, as PyTorch's."""
    x = x.astype(np.float64)
    pole = (x <= 0) & (x == np.floor(x)) & (x > -np.inf)
    reflect = x < 0.5
    total = np.zeros_like(x)
    if reflect.any():
        total = np.where(reflect, -(math.pi ** 2) / np.sin(math.pi * x) ** 2, 0.0)
        x = np.where(reflect, 1 - x, x)
    for _ in range(6):
        total += 1 / (x * x)
        x = x + 1
    inv2 = 1 / (x * x)
    total += (1 + 1 / (2 * x) + inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42)))) / x
    return np.where(pole, np.inf, np.where(reflect, -total, total))


class Polygamma(Op):
    """y = polygamma(n, x), the n-th derivative of digamma   ->   dx = g polygamma(n + 1, x)"""
    @staticmethod
    def forward(ctx, x, n):
        x = _float(x)
        ctx.n = n
        ctx.save_for_backward(x)
        return _polygamma(n, x) if n else _same_float(_scipy().digamma(x), x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _polygamma(ctx.n + 1, x), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        return g * Polygamma.apply(x, ctx.n + 1), None


def _mvlgamma_shifts(p, dtype):
    return np.arange(-p * 0.5 + 0.5, 0.5, 0.5).astype(dtype)       # -(p-1)/2, ..., 0


class Mvlgamma(Op):
    """y = sum_j lgamma(x - j/2), j < p, + p(p-1)/4 ln(pi)   ->   dx = g sum_j digamma(x - j/2)
    (PyTorch's order: j from p-1 down to 0)"""
    @staticmethod
    def forward(ctx, x, p):
        x = _float(x)
        ctx.p = p
        ctx.save_for_backward(x)
        y = _same_float(_scipy().gammaln(x[..., None] + _mvlgamma_shifts(p, x.dtype)), x)
        return y.sum(-1) + x.dtype.type(p * (p - 1) * math.log(math.pi) / 4)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        args = x[..., None] + _mvlgamma_shifts(ctx.p, x.dtype)
        return g * _same_float(_scipy().digamma(args), args).sum(-1), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        shifts = constant(_mvlgamma_shifts(ctx.p, x._data.dtype))
        return g * Digamma.apply(x.unsqueeze(-1) + shifts).sum(-1), None


class Gammainc(Op):
    """y = P(a, x), the regularised lower incomplete gamma function
    ->   dx = g x^(a-1) e^-x / Gamma(a); no derivative in a (as PyTorch)"""
    grad_fn_name = "IgammaBackward0"
    sign = 1
    ufunc, kernel = "gammainc", "igamma_cpu"

    @classmethod
    def forward(cls, ctx, a, x):
        if np.result_type(a, x).kind in "biu":       # PyTorch has float loops only
            refuse(cls.kernel, np.result_type(a, x))
        a, x = _float_pair(a, x)
        ctx.save_for_backward(a, x)
        return _same_float(getattr(_scipy(), cls.ufunc)(a, x), x)

    @classmethod
    def backward(cls, ctx, g):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{cls.grad_fn_name[:-9].lower()}: "
                                      "input' is not implemented.")
        a, x = ctx.saved_tensors
        d = np.exp((a - 1) * np.log(x) - x - _same_float(_scipy().gammaln(a), a))
        return None, g * d if cls.sign > 0 else -g * d

    @classmethod
    def graph_backward(cls, ctx, g):
        if ctx.needs_input_grad[0]:
            return NotImplemented                # (the first order raises PyTorch's error)
        a, x = ctx.saved_for_graph()
        d = ((a - 1) * x.log() - x - Lgamma.apply(a)).exp()
        return None, g * d if cls.sign > 0 else -g * d


class Gammaincc(Gammainc):
    """y = Q(a, x) = 1 - P(a, x)   ->   dx = -g x^(a-1) e^-x / Gamma(a)"""
    grad_fn_name = "IgammacBackward0"
    sign = -1
    ufunc, kernel = "gammaincc", "igammac_cpu"


# ---- error function family ------------------------------------------------------------------
# (erfinv's, log_ndtr's and ndtri's derivatives take e**(.) by the backends' exp: NumPy's
# float32 one is glibc's scalar exp where it has no AVX-512 loop, ~4.5 ns an element against
# ~0.6 compiled; erfc has kernels of its own)
class Erfc(_Unary):
    """y = 1 - erf(x)   ->   dx = -g 2/sqrt(pi) e^(-x^2)"""
    kernel, saves = "erfc", "input"

    @staticmethod
    def graph_derivative(x, g):
        # PyTorch's formula and graph: -2 / sqrt(pi) * exp(-x**2) * g
        return MulNumber.apply((-x.pow(2)).exp(), -2 / math.sqrt(math.pi)) * g


class Erfinv(_NumpyUnary):
    """y = erf^-1(x)   ->   dx = g sqrt(pi)/2 e^(y^2), from the saved output"""
    saves = "output"

    @staticmethod
    def fn(x):
        return B.kernels.erfinv(x)

    @staticmethod
    def derivative(y, g):
        return g * (y.dtype.type(0.5 * _SQRT_PI) * B.kernels.exp(y * y))

    @staticmethod
    def graph_derivative(y, g):
        return g * ((0.5 * _SQRT_PI) * (y * y).exp())


class Erfcx(_XY):
    """y = e^(x^2) erfc(x)   ->   dx = g (2 x y - 2/sqrt(pi))"""
    grad_fn_name = "SpecialErfcxBackward0"

    @staticmethod
    def fn(x):
        return _scipy().erfcx(x)

    @staticmethod
    def derivative(x, y, g):
        return g * (2 * x * y - x.dtype.type(2 / _SQRT_PI))

    @staticmethod
    def graph_derivative(x, y, g):
        return g * (2 * x * y - 2 / _SQRT_PI)


class LogNdtr(_XY):
    """y = ln Phi(x)   ->   dx = g / sqrt(2 pi) e^-(y + x^2/2)"""
    grad_fn_name = "SpecialLogNdtrBackward0"

    @staticmethod
    def fn(x):
        return _scipy().log_ndtr(x)

    @staticmethod
    def derivative(x, y, g):
        return g / x.dtype.type(_SQRT_2PI) * B.kernels.exp(-(y + x * x / 2))

    @staticmethod
    def graph_derivative(x, y, g):
        return g / _SQRT_2PI * (-(y + x * x / 2)).exp()


class Ndtri(_NumpyUnary):
    """y = Phi^-1(x)   ->   dx = g sqrt(2 pi) e^(y^2 / 2), from the saved output"""
    grad_fn_name = "SpecialNdtriBackward0"
    saves = "output"

    @staticmethod
    def fn(x):
        return _scipy().ndtri(x)

    @staticmethod
    def derivative(y, g):
        return g * y.dtype.type(_SQRT_2PI) * B.kernels.exp(y * y / 2)

    @staticmethod
    def graph_derivative(y, g):
        return g * _SQRT_2PI * (y * y / 2).exp()


# ---- Bessel functions -----------------------------------------------------------------------
class I0(_NumpyUnary):
    """y = I0(x)   ->   dx = g I1(x)"""
    @staticmethod
    def fn(x):
        return _scipy().i0(x)

    @staticmethod
    def derivative(x, g):
        return g * _same_float(_scipy().i1(x), x)

    @staticmethod
    def graph_derivative(x, g):
        return g * I1.apply(x)


class I0e(_XY):
    """y = e^-|x| I0(x)   ->   dx = g (i1e(x) - sgn(x) y)"""
    grad_fn_name = "SpecialI0EBackward0"

    @staticmethod
    def fn(x):
        return _scipy().i0e(x)

    @staticmethod
    def derivative(x, y, g):
        return g * (_same_float(_scipy().i1e(x), x) - np.sign(x) * y)

    @staticmethod
    def graph_derivative(x, y, g):
        return g * (I1e.apply(x) - x.sign() * y)


def _at_tiny(x, derivative):
    """derivative(x) where |x| > eps, 0.5 elsewhere: I1'(0) = I1e'(0) = 1/2, which the formula
    gives as NaN (PyTorch's i1_backward)"""
    eps = np.finfo(x.dtype).eps
    big = np.abs(x) > eps
    safe = np.where(big, x, x.dtype.type(eps))
    return np.where(big, derivative(safe), x.dtype.type(0.5))


def _graph_at_tiny(x, derivative):
    """_at_tiny in Tensor ops: derivative(safe x) where |x| > eps, 1/2 elsewhere"""
    from .._functions import where
    eps = float(np.finfo(x._data.dtype).eps)
    big = constant(np.abs(x._data) > eps)
    return where(big, derivative(where(big, x, eps)), 0.5)


class I1(_XY):
    """y = I1(x)   ->   dx = g (I0(x) - y / x), 1/2 at x = 0"""
    grad_fn_name = "SpecialI1Backward0"

    @staticmethod
    def fn(x):
        return _scipy().i1(x)

    @staticmethod
    def derivative(x, y, g):
        return g * _at_tiny(x, lambda s: _same_float(_scipy().i0(s), s) - y / s)

    @staticmethod
    def graph_derivative(x, y, g):
        return g * _graph_at_tiny(x, lambda s: I0.apply(s) - y / s)


class I1e(_XY):
    """y = e^-|x| I1(x)   ->   dx = g (i0e(x) - y (sgn(x) + 1/x)), 1/2 at x = 0"""
    grad_fn_name = "SpecialI1EBackward0"

    @staticmethod
    def fn(x):
        return _scipy().i1e(x)

    @staticmethod
    def derivative(x, y, g):
        return g * _at_tiny(x, lambda s: _same_float(_scipy().i0e(s), s)
                            - y * (np.sign(s) + 1 / s))

    @staticmethod
    def graph_derivative(x, y, g):
        return g * _graph_at_tiny(x, lambda s: I0e.apply(s) - y * (s.sign() + 1 / s))


# ---- the rest -------------------------------------------------------------------------------
class Sinc(_NumpyUnary):
    """y = sin(pi x) / (pi x), 1 at 0   ->   dx = g (pi x cos(pi x) - sin(pi x)) / (pi x^2),
    0 at x = 0"""
    fn = staticmethod(quiet(np.sinc))
    in_float32 = True

    @staticmethod
    def derivative(x, g):
        px = x.dtype.type(math.pi) * x
        d = (px * np.cos(px) - np.sin(px)) / (px * x)
        return np.where(x == 0, x.dtype.type(0), g * d)

    @staticmethod
    def graph_derivative(x, g):
        px = math.pi * x
        d = (px * px.cos() - px.sin()) / (px * x)
        return MaskedFill.apply(g * d, x._data == 0, 0)


class Entr(_NumpyUnary):
    """y = -x ln x (0 at 0, -inf for x < 0)   ->   dx = -g (1 + ln x)"""
    grad_fn_name = "SpecialEntrBackward0"

    @staticmethod
    def fn(x):
        return _scipy().entr(x)

    @staticmethod
    def derivative(x, g):
        return g * -(1 + np.log(x))

    @staticmethod
    def graph_derivative(x, g):
        return g * -(1 + x.log())


class Exp2(_Unary):
    """y = 2^x   ->   dx = g y ln 2, from the saved output"""
    kernel = "exp2"

    @staticmethod
    def graph_derivative(y, g):
        return MulNumber.apply(g * y, math.log(2))


class Logit(Op):
    """y = ln(x / (1 - x)), x first clamped to [eps, 1 - eps] when eps is given
    ->   dx = g / (x (1 - x)); 0 outside [eps, 1 - eps] (eps given), NaN outside [0, 1]
    (none given), g * inf at 0 and 1 (PyTorch's logit_backward)"""
    @staticmethod
    def forward(ctx, x, eps=None):
        x = _float(x)
        ctx.eps = eps
        ctx.save_for_backward(x)
        if eps is not None:               # PyTorch's clamp, also where eps > 0.5 (lo > hi)
            lo, hi = x.dtype.type(eps), x.dtype.type(1 - eps)
            x = np.where(x < lo, lo, np.where(x > hi, hi, x))
        return np.log(x / (1 - x))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        one = x.dtype.type(1)
        eps = ctx.eps
        d = np.where((x == 0) | (x == one), g * np.inf, g / (x * (one - x)))
        if eps is None:
            outside, fill = (x < 0) | (x > one), np.nan
        else:
            outside, fill = (x < x.dtype.type(eps)) | (x > x.dtype.type(1 - eps)), 0
        return np.where(outside, x.dtype.type(fill), d), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        xd, eps = x._data, ctx.eps
        d = g / (x * (1 - x))                    # g * inf at 0 and 1, as backward
        if eps is None:
            return MaskedFill.apply(d, (xd < 0) | (xd > 1), math.nan), None
        return MaskedFill.apply(d, (xd < eps) | (xd > 1 - eps), 0), None


# ---- binary ---------------------------------------------------------------------------------
def _float_pair(a, b):
    """a and b as arrays of PyTorch's result dtype, the default float for integers"""
    dt = result_type(a, b)
    if dt.kind != "f":
        dt = _dtype.DEFAULT.np
    return np.asarray(a, dt), np.asarray(b, dt)


class Xlogy(Op):
    """y = x ln(z), 0 where x = 0 (unless z is NaN)
    ->   dx = g ln(z), 0 where x = 0 and z <= 0; dz = g x / z"""
    log = staticmethod(np.log)
    shift = 0

    @classmethod
    def forward(cls, ctx, x, z):
        x, z = _float_pair(x, z)
        ctx.save_for_backward(x, z)
        y = np.where(x == 0, x.dtype.type(0), x * cls.log(z))
        return np.where(np.isnan(z), z, y)

    @classmethod
    def backward(cls, ctx, g):
        x, z = ctx.saved_tensors
        gx = gz = None
        if ctx.needs_input_grad[0]:
            gx = np.where(g == 0, g, g * cls.log(z))           # xlogy(g, z)
            gx = np.where(np.isnan(z), z, gx)
            gx = np.where((x == 0) & (z <= -cls.shift), g.dtype.type(0), gx)
        if ctx.needs_input_grad[1]:
            gz = g * x / (z + cls.shift) if cls.shift else g * x / z
        return gx, gz

    @classmethod
    def graph_backward(cls, ctx, g):
        x, z = ctx.saved_for_graph()
        gx = gz = None
        if ctx.needs_input_grad[0]:
            gx = (Xlog1py if cls.shift else Xlogy).apply(g, z)
            gx = MaskedFill.apply(gx, (x._data == 0) & (z._data <= -cls.shift), 0)
        if ctx.needs_input_grad[1]:
            gz = g * x / (z + cls.shift)
        return gx, gz


class Xlog1py(Xlogy):
    """y = x ln(1 + z), 0 where x = 0 (unless z is NaN)
    ->   dx = g ln(1 + z), 0 where x = 0 and z <= -1; dz = g x / (z + 1)"""
    grad_fn_name = "SpecialXlog1PyBackward0"
    log = staticmethod(np.log1p)
    shift = 1


class Zeta(Op):
    """y = sum_k (k + q)^-x, Hurwitz's zeta   ->   dq = -g x zeta(x + 1, q); no derivative in
    x (as PyTorch)"""
    grad_fn_name = "SpecialZetaBackward0"

    @staticmethod
    def forward(ctx, x, q):
        x, q = _float_pair(x, q)
        ctx.save_for_backward(x, q)
        return _same_float(_scipy().zeta(x, q), x)

    @staticmethod
    def backward(ctx, g):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = ctx.saved_tensors
        return None, g * -x * _same_float(_scipy().zeta(x + 1, q), x)

    @staticmethod
    def graph_backward(ctx, g):
        if ctx.needs_input_grad[0]:
            return NotImplemented                # (the first order raises PyTorch's error)
        x, q = ctx.saved_for_graph()
        return None, g * -x * Zeta.apply(x + 1, q)


def scalar_variants(op, self_scalar, other_scalar):
    """op's classes for a Python number as its first or second operand: PyTorch's Scalar
    overloads name their grad_fn ...Backward1 and ...Backward2"""
    return (renamed(op.__name__ + "SelfScalar", op, self_scalar, "a Python number as input"),
            renamed(op.__name__ + "OtherScalar", op, other_scalar, "a Python number as other"))


XlogySelfScalar, XlogyOtherScalar = scalar_variants(Xlogy, "XlogyBackward1", "XlogyBackward2")
Xlog1pySelfScalar, Xlog1pyOtherScalar = scalar_variants(
    Xlog1py, "SpecialXlog1PyBackward1", "SpecialXlog1PyBackward2")
ZetaSelfScalar, ZetaOtherScalar = scalar_variants(
    Zeta, "SpecialZetaBackward1", "SpecialZetaBackward2")


# ---- sampling -------------------------------------------------------------------------------
class StandardGamma(Op):
    """x ~ Gamma(alpha, 1), drawn from the NumPy generator rng   ->   dalpha = g dx/dalpha by
    implicit reparameterisation: -(dF/dalpha) / f at x, F the CDF (gammainc) and f the density.
    dF/dalpha is a central difference of SciPy's gammainc in float64 (PyTorch uses series
    approximations; the two agree to ~1e-7)."""
    @staticmethod
    def forward(ctx, alpha, rng):
        a = np.asarray(alpha, np.float64)
        x = rng.standard_gamma(a)
        x = np.maximum(x, np.finfo(alpha.dtype).tiny).astype(alpha.dtype)   # never 0
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        sp = _scipy()
        a, xx = alpha.astype(np.float64), x.astype(np.float64)
        h = 1e-5 * np.maximum(a, 1)
        d_cdf = (sp.gammainc(a + h, xx) - sp.gammainc(a - h, xx)) / (2 * h)
        log_pdf = (a - 1) * np.log(xx) - xx - sp.gammaln(a)
        return (g * (-d_cdf * np.exp(-log_pdf)).astype(alpha.dtype)), None


# ---- the other elementwise ops of Tensor's methods ----------------------------------------
def refuse(kernel, dtype):
    """PyTorch's NotImplementedError for a kernel that has no loop for dtype"""
    raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_name(dtype)}\'')


class Trunc(_Stepwise):
    """y = x rounded toward zero   ->   dx = 0"""
    fn, kernel = np.trunc, "trunc_vml_cpu"


class Frac(Op):
    """y = x - trunc(x), the sign of x   ->   dx = g"""
    @staticmethod
    def forward(ctx, x):
        require_float(x.dtype, "frac_cpu")
        return x - np.trunc(x)

    @staticmethod
    def backward(ctx, g):
        return g,

    graph_backward = backward


class Log2(_Unary):
    """y = log2 x   ->   dx = g / (x ln 2)"""
    kernel, saves = "log2", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g / MulNumber.apply(x, math.log(2))


class Log10(_Unary):
    """y = log10 x   ->   dx = g / (x ln 10)"""
    kernel, saves = "log10", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g / MulNumber.apply(x, LN10)


Sgn = renamed("Sgn", Sign, "SgnBackward0", "sgn(x): sign(x) of a real tensor")
RsubTensor = renamed("RsubTensor", Sub, "RsubBackward0", "rsub(x, other): other - alpha x")
RsubNumber = renamed("RsubNumber", Sub, "RsubBackward1", "rsub(x, number): number - alpha x")
FillTensorOut = renamed("FillTensorOut", FillTensor, "FillBackward1", "fill(x, a 0-d tensor)")


class Compared(Op):
    """y = ufunc(x, other) (a comparison, 0 or 1 in x's dtype): x.eq_(other) and its kin   ->
    zero gradients, as PyTorch's EqBackward0 ... (not none)"""
    grad_fn_name = "EqBackward0"

    @staticmethod
    def forward(ctx, x, other, ufunc):
        ctx.shapes = x.shape, np.shape(other)
        return np.asarray(ufunc(*promote(x, other)))

    @staticmethod
    def backward(ctx, g):
        shape_x, shape_o = ctx.shapes
        return np.zeros(shape_x, g.dtype), np.zeros(shape_o, g.dtype), None

    @staticmethod
    def graph_backward(ctx, g):
        return tuple(constant(a) for a in Compared.backward(ctx, g._data)[:2]) + (None,)


# each comparison's node, named as PyTorch's: Backward0 beside a number, 1 beside a tensor
COMPARED = {(name, tensor): renamed(f"{name.capitalize()}Compared", Compared,
                                    f"{name.capitalize()}Backward{int(tensor)}",
                                    f"x.{name}_(other)")
            for name in ("eq", "ne", "lt", "le", "gt", "ge") for tensor in (False, True)}


class _ZeroGradient(Op):
    """A piecewise-constant op of two operands: zero gradients for both (not none), as
    PyTorch's"""
    @staticmethod
    def backward(ctx, g):
        zero = np.zeros_like(g)
        return zero, zero, None

    @staticmethod
    def graph_backward(ctx, g):
        zero = constant(np.zeros_like(g._data))
        return zero, zero, None


class DivRounded(_ZeroGradient):
    """y = a / b rounded toward zero (mode "trunc") or down ("floor"), in the promoted dtype
    (integers divide as integers)   ->   zero gradients"""
    grad_fn_name = "DivBackward2"
    edge_order = (0, 1)         # a number operand too: PyTorch wraps it (a None edge)

    @staticmethod
    def forward(ctx, a, b, mode):
        a, b = promote(a, scalar_operand(a, b))
        kind = np.result_type(a, b).kind
        if kind == "b":
            raise NotImplementedError(f'"div_{mode}_cpu" not implemented for \'Bool\'')
        if kind in "iu":
            if divides_by_zero(a, b):
                raise RuntimeError("ZeroDivisionError")
            q = np.floor_divide(a, b)
            if mode == "trunc":          # one up where the floor went below a negative quotient
                q = q + ((np.remainder(a, b) != 0) & ((np.less(a, 0)) != (np.less(b, 0))))
            return np.asarray(q, np.result_type(a, b))
        return np.asarray(in_float32(_truncated_division if mode == "trunc" else
                                     np.floor_divide, a, b))


def _truncated_division(a, b):
    return np.trunc(np.divide(a, b))


class NanToNum(Op):
    """y = x with NaN, +inf and -inf replaced (by default: 0 and the dtype's largest and
    smallest finite values)   ->   dx = g where x is finite, 0 elsewhere (g times the mask,
    as PyTorch's)"""
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if x.dtype.kind != "f":
            return x.copy()
        ctx.finite = np.isfinite(x)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.finite, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return g * constant(ctx.finite.astype(g._data.dtype)), None, None, None


class Tril(Op):
    """y = x with the elements above diagonal `diagonal` of its last two dims zeroed   ->
    dx = g likewise"""
    keep = staticmethod(np.tril)

    @classmethod
    def forward(cls, ctx, x, diagonal):
        ctx.diagonal = diagonal
        return cls.keep(x, diagonal)

    @classmethod
    def backward(cls, ctx, g):
        return cls.keep(g, ctx.diagonal), None

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls.apply(g, ctx.diagonal), None


class Triu(Tril):
    """y = x with the elements below diagonal `diagonal` zeroed   ->   dx = g likewise"""
    keep = staticmethod(np.triu)


# clamp_min / clamp_max named as PyTorch's: ClampMinBackward0 beside a number, 1 a tensor
CLAMP_ONE_SIDED = {(side, op): renamed(f"Clamp{side.capitalize()}{op.__name__[5:]}", op,
                                       f"Clamp{side.capitalize()}Backward"
                                       f"{int(op is ClampTensor)}", f"clamp_{side}(x, bound)")
                   for side in ("min", "max") for op in (Clamp, ClampTensor)}
PolygammaInPlace = renamed("PolygammaInPlace", Polygamma, "PolygammaBackward1", "polygamma_(n)")


class _Scaled(Op):
    """y = x * c (integer inputs give the default float)   ->   dx = g c"""
    c = None

    @classmethod
    def forward(cls, ctx, x):
        x = x if x.dtype.kind == "f" else x.astype(np.float32)
        return B.kernels.mul(x, cls.c)          # (float16: c unrounded, as PyTorch's mul)

    @classmethod
    def backward(cls, ctx, g):
        return g * g.dtype.type(cls.c),

    @classmethod
    def graph_backward(cls, ctx, g):
        return g * cls.c,


class Deg2Rad(_Scaled):
    c = math.pi / 180


class Rad2Deg(_Scaled):
    c = 180 / math.pi


# ---- more binary math -------------------------------------------------------------------------
class _Binary(Op):
    """y = fn(a, b) on the promoted operands (floats where to_float; b or a may be a Python
    number); dtypes of the kinds in `refused` raise PyTorch's NotImplementedError for kernel
    ->   (da, db) = derivative(a, b, y, g, need_a, need_b), operators and NumPy on arrays;
    graph_derivative the same in Tensor ops (create_graph), where given"""
    to_float = True
    refused = "b"
    kernel = None
    fn = derivative = graph_derivative = None

    @classmethod
    def forward(cls, ctx, a, b):
        a, b = (promote_float if cls.to_float else promote)(a, b)
        dtype = np.result_type(a, b)
        if dtype.kind in cls.refused:
            refuse(cls.kernel, dtype)
        y = np.asarray(cls.fn(a, b), dtype)
        ctx.save_for_backward(a, b, y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        a, b, y = ctx.saved_tensors
        return cls.derivative(a, b, y, g, *ctx.needs_input_grad)

    @classmethod
    def graph_backward(cls, ctx, g):
        if cls.graph_derivative is None:
            return NotImplemented            # the first order, behind a delayed error
        a, b, y = ctx.saved_for_graph()
        return cls.graph_derivative(a, b, y, g, *ctx.needs_input_grad)


class Hypot(_Binary):
    """y = sqrt(a^2 + b^2)   ->   da = g a / y, db = g b / y"""
    refused, kernel = "biu", "hypot_cpu"
    to_float = False
    fn = staticmethod(np.hypot)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        return (g * a / y if need_a else None), (g * b / y if need_b else None)

    graph_derivative = derivative           # operators only: the same on Tensors


class Copysign(_Binary):
    """y = |a| with the sign of b   ->   da = g y / a (0 where a == 0), db = 0"""
    refused = ""
    fn = staticmethod(np.copysign)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        ga = gb = None
        if need_a:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * np.where(a == 0, y.dtype.type(0), y / a)
        if need_b:
            gb = np.zeros_like(g)
        return ga, gb

    @staticmethod
    def graph_derivative(a, b, y, g, need_a, need_b):
        # y / a through the saved output, as PyTorch's copysign_tensor_self_backward
        ga = g * MaskedFill.apply(y / a, np.broadcast_to(a._data == 0, y.shape), 0) \
            if need_a else None
        return ga, (constant(np.zeros_like(g._data)) if need_b else None)


CopysignNumber = renamed("CopysignNumber", Copysign, "CopysignBackward1", "copysign(t, number)")


class Fmod(_Binary):
    """y = a - trunc(a / b) b, the sign of a (C's fmod; integers stay integers)   ->   da = g,
    db = -g trunc(a / b)"""
    grad_fn_name = "FmodBackward1"
    to_float, kernel = False, "fmod_cpu"

    @staticmethod
    def fn(a, b):
        if divides_by_zero(a, b, "iu"):
            raise RuntimeError("ZeroDivisionError")
        return np.fmod(a, b)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        return (g if need_a else None), (-g * np.trunc(a / b) if need_b else None)

    @staticmethod
    def graph_derivative(a, b, y, g, need_a, need_b):
        return (g if need_a else None), \
            (-g * DivRounded.apply(a, b, "trunc") if need_b else None)


FmodNumber = renamed("FmodNumber", Fmod, "FmodBackward0", "fmod(t, number)")


class Fmax(_Binary):
    """y = max(a, b), NaN only where both are   ->   g to a where a >= b or b is NaN, else
    to b (PyTorch's rule)"""
    to_float, refused = False, ""
    fn = staticmethod(np.fmax)
    prefer = staticmethod(np.greater_equal)

    @classmethod
    def derivative(cls, a, b, y, g, need_a, need_b):
        to_a = cls.prefer(a, b) | np.isnan(b)
        zero = g.dtype.type(0)
        return (np.where(to_a, g, zero) if need_a else None,
                np.where(to_a, zero, g) if need_b else None)

    @classmethod
    def graph_derivative(cls, a, b, y, g, need_a, need_b):
        to_a = np.broadcast_to(cls.prefer(a._data, b._data) | np.isnan(b._data), g.shape)
        return (MaskedFill.apply(g, ~to_a, 0) if need_a else None,
                MaskedFill.apply(g, to_a, 0) if need_b else None)


class Fmin(Fmax):
    """y = min(a, b), NaN only where both are   ->   g to a where a <= b or b is NaN"""
    fn = staticmethod(np.fmin)
    prefer = staticmethod(np.less_equal)


class Logaddexp(_Binary):
    """y = ln(e**a + e**b)   ->   da = g / (1 + e**(b - a)), db = g / (1 + e**(a - b))"""
    to_float, refused, kernel = False, "biu", "logaddexp_cpu"
    fn = staticmethod(np.logaddexp)
    base = math.e

    @classmethod
    def derivative(cls, a, b, y, g, need_a, need_b):
        base = a.dtype.type(cls.base)
        with np.errstate(over="ignore", invalid="ignore"):
            return (g / (1 + base ** (b - a)) if need_a else None,
                    g / (1 + base ** (a - b)) if need_b else None)

    @classmethod
    def graph_derivative(cls, a, b, y, g, need_a, need_b):
        power = (lambda t: t.exp()) if cls.base == math.e else Exp2.apply
        return (g / (1 + power(b - a)) if need_a else None,
                g / (1 + power(a - b)) if need_b else None)


class Logaddexp2(Logaddexp):
    """y = log2(2**a + 2**b)   ->   da = g / (1 + 2**(b - a)), db = g / (1 + 2**(a - b))"""
    kernel = "logaddexp2_cpu"
    fn = staticmethod(np.logaddexp2)
    base = 2


class Ldexp(_Binary):
    """y = a 2**b   ->   da = g 2**b, db = g a ln2 2**b"""
    refused = ""

    @staticmethod
    def fn(a, b):
        return a * np.exp2(b)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        p = np.exp2(b)
        return (g * p if need_a else None), (g * a * math.log(2) * p if need_b else None)

    @staticmethod
    def graph_derivative(a, b, y, g, need_a, need_b):
        p = Exp2.apply(b if b.is_floating_point() else b.to(g.dtype))   # (Exp2: int -> float32)
        return (g * p if need_a else None), (g * a * math.log(2) * p if need_b else None)


class Nextafter(_Binary):
    """y = the next float after a toward b   ->   da = g where a != b (0 where y = a = b),
    db = 0 (PyTorch's)"""
    to_float, refused, kernel = False, "biu", "nextafter_cpu"
    fn = staticmethod(np.nextafter)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        return np.where(a == b, g.dtype.type(0), g), np.zeros_like(g)

    @staticmethod
    def graph_derivative(a, b, y, g, need_a, need_b):
        return (MaskedFill.apply(g, np.broadcast_to(a._data == b._data, g.shape), 0),
                constant(np.zeros_like(g._data)))


def heaviside(x, values):
    """0 where x < 0, 1 where x > 0, values where x == 0 (x and values of one dtype)"""
    return np.where(x == 0, values, x > 0).astype(np.result_type(x, values))


def shifted(a, s, left):
    """a << s or a >> s (promoted integers) as PyTorch's kernels: a shift past the width (or
    negative) gives 0 to the left, the sign to the right"""
    bits = np.dtype(np.result_type(a, s)).itemsize * 8
    inside = (np.asarray(s) >= 0) & (np.asarray(s) < bits)
    clipped = np.clip(s, 0, bits - 1).astype(np.result_type(a, s))
    dtype = np.result_type(a, s)
    if left:
        return np.where(inside, np.left_shift(a, clipped), 0).astype(dtype)
    beyond = np.right_shift(a, bits - 1) if dtype.kind == "i" else 0
    return np.where(inside, np.right_shift(a, clipped), beyond).astype(dtype)


class NoDerivative(Op):
    """y = a result computed without autograd from x, which requires grad: a node whose
    backward raises, as PyTorch's for ops it defines no derivative for (unique's)"""
    @staticmethod
    def forward(ctx, x, aten, result):
        ctx.aten = aten
        return result

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError(f"the derivative for '{ctx.aten}' is not implemented.")

    graph_backward = backward


# the nodes named as PyTorch's, and the aten op each one's message names
UNDIFFERENTIABLE = {"Unique2Backward0": "_unique2", "UniqueDimBackward0": "unique_dim",
                    "UniqueConsecutiveBackward0": "unique_consecutive", "GeqrfBackward0": "geqrf",
                    "EmbeddingRenormBackward0": "embedding_renorm"}
Undifferentiable = {name: renamed(name[:-len("Backward0")], NoDerivative, name,
                                  "a result without a derivative") for name in UNDIFFERENTIABLE}
