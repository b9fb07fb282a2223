"""Elementwise math beyond elementwise.py's: trunc/frac, exp2/log2/log10, the in-place
comparisons, ... One class per differentiable op, forward and backward side by side. They run
off the training hot path, so NumPy's (and SciPy's) ufuncs serve both backends."""
import math

import numpy as np

from .._dtype import require_float, torch_name
from ..autograd.function import Op, constant, renamed
from .elementwise import (Clamp, ClampTensor, Fill, FillTensor, MaskedFill, _NumpyUnary,
                          _Stepwise, Sign, Sub, promote, promote_float)


def _scipy():
    from scipy import special            # imported on first use (~0.2 s)
    return special


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


class Exp2(_NumpyUnary):
    """y = 2**x   ->   dx = g y ln 2, from the saved output"""
    fn, saves = np.exp2, "output"

    @staticmethod
    def derivative(y, g):
        return g * (y * math.log(2))

    graph_derivative = derivative         # operators only: the same on Tensors


class Log2(_NumpyUnary):
    """y = log2 x   ->   dx = g / (x ln 2)"""
    fn = np.log2

    @staticmethod
    def derivative(x, g):
        return g / (x * math.log(2))

    graph_derivative = derivative


class Log10(_NumpyUnary):
    """y = log10 x   ->   dx = g / (x ln 10)"""
    fn = np.log10

    @staticmethod
    def derivative(x, g):
        return g / (x * math.log(10))

    graph_derivative = derivative


Sgn = renamed("Sgn", Sign, "SgnBackward0", "sgn(x): sign(x) of a real tensor")
Zero = renamed("Zero", Fill, "ZeroBackward0", "x.zero_()")
RsubTensor = renamed("RsubTensor", Sub, "RsubBackward0", "rsub(x, other): other - alpha x")
RsubNumber = renamed("RsubNumber", Sub, "RsubBackward1", "rsub(x, number): number - alpha x")
FillInPlace = renamed("FillInPlace", Fill, "FillBackward2", "x.fill_(number)")
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

    @staticmethod
    def forward(ctx, a, b, mode):
        a, b = promote(a, b)
        kind = np.result_type(a, b).kind
        if kind == "b":
            raise NotImplementedError(f'"div_{mode}_cpu" not implemented for \'Bool\'')
        if kind in "iu":
            if np.any(np.equal(b, 0)):
                raise RuntimeError("ZeroDivisionError")
            q = np.floor_divide(a, b)
            if mode == "trunc":          # one up where the floor went below a negative quotient
                q = q + ((np.remainder(a, b) != 0) & ((np.less(a, 0)) != (np.less(b, 0))))
            return np.asarray(q, np.result_type(a, b))
        if mode == "trunc":
            return np.asarray(np.trunc(np.divide(a, b)))
        return np.asarray(np.floor_divide(a, b))


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


# ---- special functions (integer and bool inputs give the default float, as in PyTorch) -----
class Erfc(_NumpyUnary):
    """y = 1 - erf x   ->   dx = -g 2/sqrt(pi) e**(-x^2)"""
    @staticmethod
    def fn(x):
        return _scipy().erfc(x)

    @staticmethod
    def derivative(x, g):
        return g * (x.dtype.type(-2 / math.sqrt(math.pi)) * np.exp(-(x * x)))

    @staticmethod
    def graph_derivative(x, g):
        return g * ((-2 / math.sqrt(math.pi)) * (-(x * x)).exp())


class Erfinv(_NumpyUnary):
    """y = erf^-1(x)   ->   dx = g sqrt(pi)/2 e**(y^2), from the saved output"""
    saves = "output"

    @staticmethod
    def fn(x):
        return _scipy().erfinv(x)

    @staticmethod
    def derivative(y, g):
        return g * (y.dtype.type(math.sqrt(math.pi) / 2) * np.exp(y * y))

    @staticmethod
    def graph_derivative(y, g):
        return g * ((math.sqrt(math.pi) / 2) * (y * y).exp())


def _digamma(x):
    """PyTorch's digamma: -inf at 0, +inf at -0 (SciPy gives NaN or -inf at both)"""
    y = _scipy().psi(x)
    zero = x == 0
    if zero.any():
        y = np.where(zero, np.copysign(np.asarray(np.inf, x.dtype), -x), y)
    return y


class Lgamma(_NumpyUnary):
    """y = ln |Gamma(x)|   ->   dx = g digamma(x)"""
    @staticmethod
    def fn(x):
        return _scipy().gammaln(x)

    @staticmethod
    def derivative(x, g):
        return g * _digamma(x).astype(x.dtype, copy=False)

    @staticmethod
    def graph_derivative(x, g):
        return g * x.digamma()


class Digamma(_NumpyUnary):
    """y = Gamma'(x) / Gamma(x)   ->   dx = g polygamma(1, x)"""
    fn = staticmethod(_digamma)

    @staticmethod
    def derivative(x, g):
        return g * _scipy().polygamma(1, x).astype(x.dtype, copy=False)

    @staticmethod
    def graph_derivative(x, g):
        return g * x.polygamma(1)


class Polygamma(Op):
    """y = the n-th derivative of digamma   ->   dx = g polygamma(n + 1, x)"""
    @staticmethod
    def forward(ctx, x, n):
        x = x if x.dtype.kind == "f" else x.astype(np.float32)
        ctx.save_for_backward(x)
        ctx.n = n
        return (_digamma(x) if n == 0 else _scipy().polygamma(n, x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _scipy().polygamma(ctx.n + 1, x).astype(x.dtype, copy=False), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        return g * x.polygamma(ctx.n + 1), None


PolygammaInPlace = renamed("PolygammaInPlace", Polygamma, "PolygammaBackward1", "polygamma_(n)")


class I0(_NumpyUnary):
    """y = the modified Bessel function I0(x)   ->   dx = g I1(x)"""
    @staticmethod
    def fn(x):
        return _scipy().i0(x)

    @staticmethod
    def derivative(x, g):
        return g * _scipy().i1(x).astype(x.dtype, copy=False)


class Sinc(_NumpyUnary):
    """y = sin(pi x) / (pi x), 1 at 0   ->   dx = g (pi x cos(pi x) - sin(pi x)) / (pi x^2),
    0 at 0 (PyTorch's form)"""
    fn = np.sinc

    @staticmethod
    def derivative(x, g):
        px = x * x.dtype.type(math.pi)
        d = (px * np.cos(px) - np.sin(px)) / (px * x)
        return g * np.where(x == 0, x.dtype.type(0), d)

    @staticmethod
    def graph_derivative(x, g):
        px = x * math.pi
        return g * MaskedFill.apply((px * px.cos() - px.sin()) / (px * x), x._data == 0, 0)


class Logit(Op):
    """y = ln(z / (1 - z)), z = x clamped to [eps, 1 - eps] where eps is given   ->   dx = g
    / (x (1 - x)); outside [eps, 1 - eps] 0, outside [0, 1] without eps NaN (PyTorch's)"""
    @staticmethod
    def forward(ctx, x, eps):
        x = x if x.dtype.kind == "f" else x.astype(np.float32)
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else np.clip(x, eps, 1 - eps)
        return np.log(z / (1 - z))

    @staticmethod
    def _outside(x, eps):
        """where the gradient is not g / (x (1 - x)), and what it is there"""
        if eps is None:
            return (x < 0) | (x > 1), np.nan
        return (x < eps) | (x > 1 - eps), 0

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        outside, value = Logit._outside(x, ctx.eps)
        return np.where(outside, x.dtype.type(value), g / (x * (1 - x))), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        outside, value = Logit._outside(x._data, ctx.eps)
        return MaskedFill.apply(g / (x * (1 - x)), outside, value), None


class _Scaled(Op):
    """y = x * c (integer inputs give the default float)   ->   dx = g c"""
    c = None

    @classmethod
    def forward(cls, ctx, x):
        x = x if x.dtype.kind == "f" else x.astype(np.float32)
        return x * x.dtype.type(cls.c)

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


# ---- binary ---------------------------------------------------------------------------------
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


def _xlogy(x, y):
    """x ln y, 0 where x is 0 (unless y is NaN)"""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where((x == 0) & ~np.isnan(y), out.dtype.type(0), out)


class Xlogy(_Binary):
    """y = a ln b, 0 where a is 0 (b not NaN)   ->   da = xlogy(g, b), 0 where a == 0 and
    b <= 0; db = g a / b"""
    refused = ""
    fn = staticmethod(_xlogy)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        ga = gb = None
        if need_a:
            ga = np.where((a == 0) & (b <= 0), g.dtype.type(0), _xlogy(g, b))
        if need_b:
            gb = g * a / b
        return ga, gb

    @staticmethod
    def graph_derivative(a, b, y, g, need_a, need_b):
        ga = gb = None
        if need_a:
            arrays = [t._data if hasattr(t, "_data") else t for t in (a, b)]
            zero = np.broadcast_to((arrays[0] == 0) & (arrays[1] <= 0), g.shape)
            ga = MaskedFill.apply(Xlogy.apply(g, b), zero, 0)
        if need_b:
            gb = g * a / b
        return ga, gb


XlogyNumberFirst = renamed("XlogyNumberFirst", Xlogy, "XlogyBackward1", "xlogy(number, t)")
XlogyNumber = renamed("XlogyNumber", Xlogy, "XlogyBackward2", "xlogy(t, number)")


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


CopysignNumber = renamed("CopysignNumber", Copysign, "CopysignBackward1", "copysign(t, number)")


class Fmod(_Binary):
    """y = a - trunc(a / b) b, the sign of a (C's fmod; integers stay integers)   ->   da = g,
    db = -g trunc(a / b)"""
    grad_fn_name = "FmodBackward1"
    to_float, kernel = False, "fmod_cpu"

    @staticmethod
    def fn(a, b):
        if np.result_type(a, b).kind in "iu" and np.any(np.equal(b, 0)):
            raise RuntimeError("ZeroDivisionError")
        return np.fmod(a, b)

    @staticmethod
    def derivative(a, b, y, g, need_a, need_b):
        return (g if need_a else None), (-g * np.trunc(a / b) if need_b else None)


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
                    "UniqueConsecutiveBackward0": "unique_consecutive"}
Undifferentiable = {name: renamed(name[:-len("Backward0")], NoDerivative, name,
                                  "a result without a derivative") for name in UNDIFFERENTIABLE}
