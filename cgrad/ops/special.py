"""Elementwise math beyond elementwise.py's: trunc/frac, exp2/log2/log10, the in-place
comparisons, ... One class per differentiable op, forward and backward side by side. They run
off the training hot path, so NumPy's (and SciPy's) ufuncs serve both backends."""
import math

import numpy as np

from .._dtype import require_float
from ..autograd.function import Op, constant, renamed
from .elementwise import Clamp, ClampTensor, Fill, FillTensor, _NumpyUnary, _Stepwise, Sign, promote


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
