"""Elementwise ops: forward and backward side by side, one class per differentiable op."""
import math

import numpy as np

from .. import _dtype, backends as B
from .._dtype import require_float, result_type
from ..backends.numpy_backend import HARDSIGMOID_SLOPE
from .._memory_format import laid_as_first
from ..autograd.function import Op, constant, output_after_the_fact, renamed, shown


def divides_by_zero(a, b, kinds="iub"):
    """whether an integer a / b (// or %) has a zero divisor: PyTorch's ZeroDivisionError
    (where an element is computed: an empty result raises nothing)"""
    if np.result_type(a, b).kind not in kinds or not np.any(np.equal(b, 0)):
        return False
    try:
        return np.broadcast(a, b).size > 0
    except ValueError:                  # shapes that do not broadcast: the op's error follows
        return False


def promote(a, b):
    """Cast the array operands to PyTorch's result dtype; Python scalars stay (NumPy treats
    them as weak, so float32 * 2.5 stays float32)."""
    if type(a) is np.ndarray:            # fast paths: the common cases need no promotion
        if type(b) is np.ndarray:
            if a.dtype is b.dtype:
                return a, b
        elif (type(b) is float or type(b) is int) and a.dtype.kind == "f":
            return a, b                  # a Python number takes a float array's dtype
    dt = result_type(a, b)
    if isinstance(a, np.ndarray) and a.dtype != dt:
        a = a.astype(dt)
    elif type(a) is int and dt.kind in "iu":
        a = wrapped_int(a, dt)
    if isinstance(b, np.ndarray) and b.dtype != dt:
        b = b.astype(dt)
    elif type(b) is int and dt.kind in "iu":
        b = wrapped_int(b, dt)
    return a, b


def scalar_operand(a, b):
    """b as PyTorch's float16 mul and div kernels read a second operand that is a 0-d tensor
    of another dtype (a CPU scalar): its value unrounded, as a Python number, which the NumPy
    kernels take in float32 (_opmath), where promoting would round it to float16 first
    (x_half * tensor(0.1) multiplies by 0.1 in float32 there, by 0.09998 here)"""
    if (type(b) is np.ndarray and not b.ndim and type(a) is np.ndarray and a.ndim
            and a.dtype == np.float16 and b.dtype != np.float16 and b.dtype.kind in "iuf"):
        return b.item()
    return b


def in_float32(ufunc, a, b):
    """ufunc(a, b) of promoted operands, a float16 result computed in float32 and rounded
    once, as PyTorch's division kernels round theirs (trunc(a / b): a quotient rounded to
    float16 first can reach the next integer)"""
    if np.result_type(a, b) != np.float16:
        return ufunc(a, b)
    # (a number b is read whole, as the kernels' CPU scalar; a number a, as a float16 tensor)
    a = a.astype(np.float32) if isinstance(a, np.ndarray) else np.float32(np.float16(a))
    b = b.astype(np.float32) if isinstance(b, np.ndarray) else np.float32(b)
    return np.asarray(ufunc(a, b)).astype(np.float16)


def wrapped_int(v, dtype):
    """A Python int as an integer dtype holds it, wrapping around as PyTorch's cast does
    (uint8 + -1 subtracts 1; NumPy raises OverflowError for an out-of-range Python int);
    one from 2**63 to 2**64 is read as PyTorch reads it, a uint64 wrapped into int64"""
    info = np.iinfo(dtype)
    if info.min <= v <= info.max:
        return v
    if v >= 2 ** 63:
        v -= 2 ** 64
    return int(np.array(v, np.int64).astype(dtype))


def promote_float(a, b):
    """Like promote, but integer results become the default float (true division)."""
    dt = result_type(a, b)
    if dt.kind != "f":
        dt = _dtype.DEFAULT.np
    if isinstance(a, np.ndarray) and a.dtype != dt:
        a = a.astype(dt)
    if isinstance(b, np.ndarray) and b.dtype != dt:
        b = b.astype(dt)
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        a = np.asarray(a, dt)
    return a, b


def _scaled(a, b, alpha):
    """alpha * b for add/sub (a and b promoted): a Python number stays one (NumPy would make
    it a float64 scalar, which then promotes a float32 tensor). Bool operands stay bool, as
    in PyTorch: True + 2 * True is True."""
    dtype = np.result_type(a, b)
    kind = dtype.kind
    if isinstance(alpha, float) and kind in "biu":
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if kind == "b":
        return np.logical_and(b, bool(alpha))
    if isinstance(alpha, bool):
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if kind in "iu":            # PyTorch's conversion to the dtype: -1 wraps into a uint8
        from ..tensor import _fill_value
        alpha = _fill_value(alpha, dtype)
        if type(b) is not np.ndarray:        # a number: in the dtype, so the product wraps
            b = np.array(b).astype(dtype)
    if type(b) is np.ndarray:
        return B.kernels.mul(b, alpha)
    return b * alpha


def _fused_alpha(a, b, alpha):
    """whether a + alpha * b takes one rounding (B.kernels.fma), as PyTorch's vectorised loop:
    float tensors a and b, alpha a number (other forms keep _scaled's product, then the add)"""
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind == "f"
            and not isinstance(alpha, bool) and isinstance(alpha, (int, float)))


# ---- binary ---------------------------------------------------------------------------------
class Add(Op):
    """y = a + alpha * b   ->   da = g, db = alpha * g"""
    edge_order = (0, 1)     # a number operand too: PyTorch wraps it (a None edge)
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        a, b = promote(a, b)
        if alpha != 1 or type(alpha) is not int:       # (1.0 and True are checked too)
            ctx.alpha = alpha
            if _fused_alpha(a, b, alpha):
                return B.kernels.fma(alpha, b, a)
            b = _scaled(a, b, alpha)
        return B.kernels.add(a, b)

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.__dict__.get("alpha", 1)
        return g, (g if alpha == 1 else B.kernels.mul(g, alpha)), None

    @staticmethod
    def graph_backward(ctx, g):
        alpha = ctx.__dict__.get("alpha", 1)
        return g, (g if alpha == 1 else g * alpha), None


_BOOL = np.dtype(np.bool_)


def _is_bool(x):
    return x.dtype is _BOOL if type(x) is np.ndarray else type(x) is bool


def _refuse_bool_sub(a, b):
    """PyTorch's RuntimeError for - with a bool operand (NumPy would give a TypeError, or
    subtract True as 1). Called where either operand may be bool (checked inline: this
    costs a call per op)."""
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


class Sub(Op):
    """y = a - alpha * b   ->   da = g, db = -alpha * g"""
    edge_order = (0, 1)     # a number operand too: PyTorch wraps it (a None edge)
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if ((a.dtype is _BOOL if type(a) is np.ndarray else type(a) is bool)
                or (b.dtype is _BOOL if type(b) is np.ndarray else type(b) is bool)):
            _refuse_bool_sub(a, b)
        a, b = promote(a, b)
        if alpha != 1 or type(alpha) is not int:       # (1.0 and True are checked too)
            if type(alpha) is int and alpha == -2**63:     # PyTorch negates alpha as an
                return Add.forward(ctx, a, b, alpha)        # int64: this one stays itself
            ctx.alpha = alpha
            if _fused_alpha(a, b, alpha):
                return B.kernels.fma(-alpha, b, a)
            if type(alpha) is int and np.result_type(a, b).kind in "iu":
                # PyTorch converts -alpha to the dtype: int8's a - 128 b is a + (-128) b
                return B.kernels.add(a, _scaled(a, b, -alpha))
            b = _scaled(a, b, alpha)
        return B.kernels.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.__dict__.get("alpha", 1)
        gb = None
        if ctx.needs_input_grad[1]:
            shape = ctx.input_meta[1][0]
            # a broadcast b: reduce first, then negate the small sum (exact either way)
            gb = B.kernels.neg(g if shape == g.shape else B.kernels.sum_to_shape(g, shape))
            if alpha != 1:
                gb = B.kernels.mul(gb, alpha)
        return g, gb, None

    @staticmethod
    def graph_backward(ctx, g):
        alpha = ctx.__dict__.get("alpha", 1)
        return g, -g if alpha == 1 else g * -alpha, None


class RSub(Op):
    """y = c - a (c a Python number)   ->   da = -g"""
    grad_fn_name = "RsubBackward1"

    @staticmethod
    def forward(ctx, a, c):
        if a.dtype is _BOOL or type(c) is bool:
            _refuse_bool_sub(c, a)
        a, c = promote(a, c)
        return B.kernels.sub(c, a)

    @staticmethod
    def backward(ctx, g):
        return B.kernels.neg(g), None

    @staticmethod
    def graph_backward(ctx, g):
        return -g, None


class Mul(Op):
    """y = a * b   ->   da = g * b, db = g * a (both in one pass)"""
    edge_order = (0, 1)     # a number operand too: PyTorch wraps it (a None edge)
    saved_names = ("self", "other")
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        x, y = promote(a, scalar_operand(a, b))
        need_a, need_b = ctx.needs_input_grad[:2]
        if need_b:               # g * a: a is the second operand there, a CPU scalar read whole
            unrounded = scalar_operand(b, a)
            a = x if unrounded is a else unrounded
        ctx.save_for_backward(a if need_b else None, y if need_a else None)  # only what's used
        return B.kernels.mul(x, y)

    @staticmethod
    def backward(ctx, g, acc):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return B.kernels.mul_backward(a, b, g, need_a, need_b, acc[0], acc[1])

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved_for_graph()
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Lerp(Op):
    """y = x + w (end - x), w a number (B.kernels.lerp: PyTorch's two forms)   ->   dx =
    g (1 - w), dend = g w (1 - w in double, as PyTorch's Scalar arithmetic)"""
    grad_fn_name = "LerpBackward0"
    returns_fresh = True

    @staticmethod
    def forward(ctx, x, end, w):
        ctx.w = w
        return B.kernels.lerp(x, end, w)

    @staticmethod
    def backward(ctx, g):
        need_x, need_end = ctx.needs_input_grad[:2]
        return (B.kernels.mul(g, 1 - ctx.w) if need_x else None,
                B.kernels.mul(g, ctx.w) if need_end else None, None)

    @staticmethod
    def graph_backward(ctx, g):
        need_x, need_end = ctx.needs_input_grad[:2]
        return (g * (1 - ctx.w) if need_x else None, g * ctx.w if need_end else None, None)


class Div(Op):
    """y = a / b   ->   da = g / b, db = -g * a / b**2"""
    edge_order = (0, 1)     # a number operand too: PyTorch wraps it (a None edge)
    saved_names = ("self", "other")
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote_float(a, scalar_operand(a, b))
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return B.kernels.div(a, b)

    @staticmethod
    def backward(ctx, g, acc):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return B.kernels.div_backward(a, b, g, need_a, need_b, acc[0], acc[1])

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved_for_graph()
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * ((a / b) / b) if need_b else None)


class RDiv(Op):
    """y = c / a (c a Python number), computed as PyTorch does: r = 1 / a, y = r * c (its
    bits: 3 / a differs from (1 / a) * 3 in the last bit for ~30% of float32 a)   ->
    da = -(g c) r**2, from the saved r (a itself may change in place afterwards)"""
    grad_fn_name = "MulBackward0"
    # PyTorch's graph: reciprocal(a) * c, c wrapped as a tensor (a None edge)
    shown_edges = staticmethod(lambda node, edges: (shown("ReciprocalBackward0", edges[0]),
                                                    None))

    @staticmethod
    def forward(ctx, a, c):
        a, c = promote_float(a, c)
        r = B.kernels.div(a.dtype.type(1), a)
        ctx.save_for_backward(r)
        ctx.c = c
        return r.copy() if c == 1 else B.kernels.mul(r, c)   # never the saved r itself

    @staticmethod
    def backward(ctx, g):
        r, = ctx.saved_tensors
        gc = g if ctx.c == 1 else B.kernels.mul(g, ctx.c)
        return B.kernels.mul(B.kernels.neg(gc), B.kernels.mul(r, r)), None

    @staticmethod
    def graph_backward(ctx, g):
        r, = ctx.saved_tensors               # 1 / a: a Reciprocal's output on a's edge
        r = output_after_the_fact(Reciprocal, ctx.parents[0], ctx.input_meta[0], r)
        return -(g * ctx.c) * (r * r), None


def _int_pow(a, b):
    """a ** b, with b an integer array that may be negative: PyTorch's integer power, 1 / a^|b|
    truncated (1 for a = 1, -1 or 1 for a = -1, else 0), where NumPy refuses"""
    negative = b < 0
    y = B.kernels.pow(a, np.where(negative, 0, b).astype(b.dtype, copy=False))
    one, zero = np.ones((), y.dtype), np.zeros((), y.dtype)
    inverse = np.where(a == -1, np.where(b % 2 == 0, one, -one), np.where(a == 1, one, zero))
    return np.where(negative, inverse, y).astype(y.dtype, copy=False)


def _pow_arrays(a, b):
    """a ** b for promoted operands (one may be a 0-d array)"""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and (b < 0).any():
        return _int_pow(a, b)
    return B.kernels.pow(a, b)


class PowScalar(Op):
    """y = x ** c (c a Python number)   ->   dx = g * c * x**(c-1)"""
    saved_names, saved_values = ("self",), {"exponent": "c"}
    grad_fn_name = "PowBackward0"
    accumulates = True

    @staticmethod
    def forward(ctx, x, c):
        negative = isinstance(c, int) and c < 0         # before promote wraps it for uint8
        x, c = promote(x, c)
        if x.dtype.kind in "iu" and negative:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        ctx.save_for_backward(x)
        ctx.c = c
        return B.kernels.pow_scalar(x, c)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.pow_scalar_backward(x, ctx.c, g, acc[0]), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        c = ctx.c
        if c == 0:                       # zeros, not in the graph, as PyTorch's
            return constant(np.zeros(x.shape, x._data.dtype)), None
        # PyTorch's pow_backward, g (c x**(c - 1)) (c = 1: x ** 0, whose derivative is 0)
        return g * MulNumber.apply(x ** (c - 1), c), None


class Pow(Op):
    """y = a ** b   ->   da = g * b * a**(b-1), db = g * y * ln(a)"""
    saved_names = ("self", "exponent", "result")
    grad_fn_name = "PowBackward1"
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        y = _pow_arrays(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g, acc):
        a, b, y = ctx.saved_tensors
        return B.kernels.pow_backward(a, b, y, g, *ctx.needs_input_grad, *acc)

    @staticmethod
    def graph_backward(ctx, g):
        at, bt, yt = ctx.saved_for_graph()
        a, b = at._data, bt._data
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:                                       # 0 where b == 0, as backward
            ga = (g * bt * at ** (bt - 1)).masked_fill(constant(b == 0), 0)
        if need_b:              # 0 where a == 0 and b >= 0; g outside the mask, as PyTorch's
            with np.errstate(divide="ignore"):          # (a NaN g stays NaN there)
                gb = g * (yt * at.log()).masked_fill(constant((a == 0) & (b >= 0)), 0)
        return ga, gb


class RPow(Op):
    """y = c ** a (c a Python number)   ->   da = g * y * ln(c)"""
    grad_fn_name = "PowBackward2"

    @staticmethod
    def forward(ctx, a, c):
        a, c = promote(a, c)
        c = np.asarray(c, dtype=a.dtype)
        y = _pow_arrays(c, a)
        ctx.save_for_backward(a, y)
        ctx.c = c
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved_tensors
        return B.kernels.pow_backward(ctx.c, a, y, g, False, True)[1], None

    @staticmethod
    def graph_backward(ctx, g):
        at, yt = ctx.saved_for_graph()
        c = ctx.c
        if c == 0:                                        # 0 where a >= 0, as backward
            return g * (yt * float("-inf")).masked_fill(constant(at._data >= 0), 0), None
        return g * (yt * float(np.log(c))), None


def _weighted(ctx, g, backward):
    """g times each input's share of it (the array backward's of a g of ones: 1, 0 or a half
    at a tie), in Tensor ops: maximum and minimum under create_graph"""
    a, b = ctx.saved_tensors
    ones = np.ones(g.shape, g._data.dtype)
    wa, wb = backward(a, b, ones, *ctx.needs_input_grad)
    # a share of 0 masks g out (PyTorch's masked_fill: a NaN in g stays out of it)
    return tuple(None if w is None else MaskedFill.apply(g * constant(w), w == 0, 0)
                 for w in (wa, wb))


class Maximum(Op):
    """y = max(a, b)   ->   g to the larger, halves on ties"""
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return B.kernels.maximum(a, b)

    @staticmethod
    def backward(ctx, g, acc):
        a, b = ctx.saved_tensors
        return B.kernels.maximum_backward(a, b, g, *ctx.needs_input_grad, *acc)

    @staticmethod
    def graph_backward(ctx, g):
        return _weighted(ctx, g, B.kernels.maximum_backward)


class Minimum(Op):
    """y = min(a, b)   ->   g to the smaller, halves on ties"""
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return B.kernels.minimum(a, b)

    @staticmethod
    def backward(ctx, g, acc):
        a, b = ctx.saved_tensors
        return B.kernels.minimum_backward(a, b, g, *ctx.needs_input_grad, *acc)

    @staticmethod
    def graph_backward(ctx, g):
        return _weighted(ctx, g, B.kernels.minimum_backward)


class Where(Op):
    """y = cond ? a : b   ->   da = g where cond, db = g elsewhere"""
    edge_order = (1, 2)             # the two values', a number's too (not the condition)
    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = promote(a, b)
        ctx.cond = cond
        y = laid_as_first(np.where(cond, a, b), cond)
        if type(a) is np.ndarray or type(b) is np.ndarray:
            return y                         # promote made the arrays the result's dtype
        return y.astype(result_type(a, b))   # where(c, 1.0, 0.0) is float32, not NumPy's 64

    @staticmethod
    def backward(ctx, g):
        zero = g.dtype.type(0)
        _, need_a, need_b = ctx.needs_input_grad
        return (None, np.where(ctx.cond, g, zero) if need_a else None,
                np.where(ctx.cond, zero, g) if need_b else None)

    @staticmethod
    def graph_backward(ctx, g):
        _, need_a, need_b = ctx.needs_input_grad
        return (None, MaskedFill.apply(g, ~ctx.cond, 0) if need_a else None,
                MaskedFill.apply(g, ctx.cond, 0) if need_b else None)


# ---- unary ----------------------------------------------------------------------------------
class Neg(Op):
    """y = -x   ->   dx = -g"""
    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return B.kernels.neg(x)

    @staticmethod
    def backward(ctx, g):
        return B.kernels.neg(g),

    @staticmethod
    def graph_backward(ctx, g):
        return -g,


class _ByDerivative:
    """graph_backward from the subclass's graph_derivative(s, g): g * f'(x) in Tensor ops, s
    the saved input or output (create_graph)"""
    graph_derivative = None

    @classmethod
    def graph_backward(cls, ctx, g):
        derivative = cls.graph_derivative
        if derivative is None:
            return NotImplemented            # the first order, behind a delayed error
        s, = ctx.saved_for_graph()
        return derivative(s, g),


class _Unary(_ByDerivative, Op):
    """y = f(x) by the backend kernel named `kernel`; backward by `<kernel>_backward` from the
    saved output (saves="output") or input (saves="input"), added into acc in one pass.
    Integer inputs become the default float when float_only, as in PyTorch; a bool input
    raises bool_refused(), where PyTorch refuses one."""
    accumulates = True
    kernel = None
    saves = "output"
    float_only = True
    bool_refused = None

    @classmethod
    def forward(cls, ctx, x):
        if cls.float_only:
            x = _float(x)
        elif x.dtype.kind == "b" and cls.bool_refused is not None:
            raise cls.bool_refused()
        y = getattr(B.kernels, cls.kernel)(x)
        if y.dtype != x.dtype:                # (no call on the hot path)
            y = _same_float(y, x)
        ctx.save_for_backward(y if cls.saves == "output" else x)
        return y

    @classmethod
    def backward(cls, ctx, g, acc):
        s, = ctx.saved_tensors
        return getattr(B.kernels, cls.kernel + "_backward")(s, g, acc[0]),


class Exp(_Unary):
    """y = e**x   ->   dx = g * y, from the saved output"""
    kernel = "exp"

    @staticmethod
    def graph_derivative(y, g):
        return g * y


class Log(_Unary):
    """y = ln x   ->   dx = g / x"""
    kernel, saves = "log", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g / x


class Sqrt(_Unary):
    """y = sqrt(x)   ->   dx = g / (2 y), from the saved output (inf at 0, as in PyTorch)"""
    kernel = "sqrt"

    @staticmethod
    def graph_derivative(y, g):
        return g / (2 * y)


class Tanh(_Unary):
    """y = tanh(x)   ->   dx = g * (1 - y*y), from the saved output"""
    kernel = "tanh"

    @staticmethod
    def graph_derivative(y, g):
        return g * (1 - y * y)


class Sigmoid(_Unary):
    """y = 1 / (1 + e**-x)   ->   dx = g * (1 - y) * y, from the saved output"""
    kernel = "sigmoid"

    @staticmethod
    def graph_derivative(y, g):
        return g * (1 - y) * y


class Relu(_Unary):
    """y = max(x, 0)   ->   dx = g where y > 0, from the saved output"""
    kernel, float_only = "relu", False

    @staticmethod
    def graph_derivative(y, g):
        # 0 where y <= 0 (a NaN output passes g on, as backward)
        return DependsOn.apply(MaskedFill.apply(g, y._data <= 0, 0), y)

    @staticmethod
    def bool_refused():
        return RuntimeError("Boolean inputs not supported for relu")


class _NumpyUnary(_ByDerivative, Op):
    """y = fn(x) by NumPy (integer and bool inputs become the default float, as in PyTorch)
    ->   dx = derivative(s, g), s the saved input (saves="input") or output ("output").
    _Unary's twin for the ops no backend has a kernel for (sin, cos, atan, ...): they run
    off the training hot path, so NumPy's ufuncs serve both backends. (erfinv's fn is the
    backends' forward kernel; its derivative is exp's.)"""
    fn = None
    saves = "input"
    in_float32 = False        # float16's formula computed in float32, as PyTorch's (rsqrt, sinc)

    @classmethod
    def forward(cls, ctx, x):
        x = _float(x)
        y = _same_float(cls.fn(x.astype(np.float32) if cls.in_float32 and x.dtype == np.float16
                               else x), x)
        ctx.save_for_backward(y if cls.saves == "output" else x)
        return y

    @classmethod
    def backward(cls, ctx, g):
        s, = ctx.saved_tensors
        return cls.derivative(s, g),


class Sin(_NumpyUnary):
    """y = sin x   ->   dx = g cos x"""
    fn = np.sin

    @staticmethod
    def derivative(x, g):
        return g * np.cos(x)

    @staticmethod
    def graph_derivative(x, g):
        return g * x.cos()


class Cos(_NumpyUnary):
    """y = cos x   ->   dx = g (-sin x)"""
    fn = np.cos

    @staticmethod
    def derivative(x, g):
        return g * -np.sin(x)

    @staticmethod
    def graph_derivative(x, g):
        return g * -x.sin()


class Tan(_Unary):
    """y = tan x   ->   dx = g (1 + y^2), from the saved output (PyTorch's form)"""
    kernel = "tan"

    @staticmethod
    def graph_derivative(y, g):
        return g * AddNumber.apply(y.pow(2), 1)


# the inverse trig and hyperbolic derivatives as PyTorch writes them, by rsqrt (the backends'
# asin_backward, acos_backward, asinh_backward and acosh_backward): inf at the edge of the
# domain, NaN outside it. Their recorded forms are PyTorch's formulas, node for node.
class Asin(_Unary):
    """y = asin x   ->   dx = g / sqrt(1 - x^2)"""
    kernel, saves = "asin", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * (1 - x * x).rsqrt()


class Acos(_Unary):
    """y = acos x   ->   dx = -g / sqrt(1 - x^2)"""
    kernel, saves = "acos", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * -(1 - x * x).rsqrt()


class Atan(_Unary):
    """y = atan x   ->   dx = g / (x^2 + 1)"""
    kernel, saves = "atan", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g / (x * x + 1)


class Sinh(_Unary):
    """y = sinh x   ->   dx = g cosh x"""
    kernel, saves = "sinh", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * x.cosh()


class Cosh(_Unary):
    """y = cosh x   ->   dx = g sinh x"""
    kernel, saves = "cosh", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * x.sinh()


class Asinh(_Unary):
    """y = asinh x   ->   dx = g / sqrt(x^2 + 1)"""
    kernel, saves = "asinh", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * AddNumber.apply(x.pow(2), 1).rsqrt()


class Acosh(_Unary):
    """y = acosh x   ->   dx = g / sqrt(x^2 - 1)"""
    kernel, saves = "acosh", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g * SubNumber.apply(x * x, 1).rsqrt()


class Atanh(_Unary):
    """y = atanh x   ->   dx = g / (1 - x^2)"""
    kernel, saves = "atanh", "input"

    @staticmethod
    def graph_derivative(x, g):
        return MulNumber.apply(g, 1) / Sub.apply(1, x.pow(2))


def _underived_in_place(op):
    """op's in-place twin as PyTorch records it for asinh_, acosh_ and atanh_: a node named
    <Op>Backward1 whose backward raises (PyTorch defines no derivative for them)"""
    def refuse(ctx, g, *acc):
        raise NotImplementedError(f"the derivative for 'inplace version of "
                                  f"{op.__name__.lower()}' is not implemented.")
    return type(op.__name__ + "Inplace", (op,), {
        "grad_fn_name": op.__name__ + "Backward1", "__module__": op.__module__,
        "backward": staticmethod(refuse), "graph_backward": staticmethod(refuse)})


AsinhInplace, AcoshInplace, AtanhInplace = map(_underived_in_place, (Asinh, Acosh, Atanh))


class Atan2(Op):
    """y = atan2(a, b), the angle of the point (b, a)   ->   da = g b / (a^2 + b^2),
    db = -g a / (a^2 + b^2) (PyTorch's form; the engine sums each back to its input's shape)"""
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote_float(a, b)
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        recip = 1 / (a * a + b * b)
        return Atan2._grads(ctx, g, a, b, np.where(np.isinf(recip), recip.dtype.type(0), recip))

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved_for_graph()
        recip = 1 / (a * a + b * b)
        return Atan2._grads(ctx, g, a, b, MaskedFill.apply(recip, np.isinf(recip._data), 0))

    @staticmethod
    def _grads(ctx, g, a, b, recip):
        """recip = 1 / (a^2 + b^2), 0 where that is inf (a = b = 0: PyTorch's gradient 0
        there); operators only, the same on arrays and Tensors"""
        need_a, need_b = ctx.needs_input_grad
        return (g * b * recip if need_a else None), (g * -a * recip if need_b else None)


class Silu(_Unary):
    """y = x sigmoid(x)   ->   dx = g s (1 + x (1 - s)), s = sigmoid(x) (PyTorch's form)"""
    kernel, saves = "silu", "input"

    @staticmethod
    def graph_derivative(x, g):
        s = x.sigmoid()
        return g * s * (1 + x * (1 - s))


class Erf(_Unary):
    """y = erf x   ->   dx = g 2/sqrt(pi) e**(-x^2)"""
    kernel, saves = "erf", "input"

    @staticmethod
    def graph_derivative(x, g):
        # PyTorch's formula and graph: 2 / sqrt(pi) * exp(-x**2) * g
        return MulNumber.apply((-x.pow(2)).exp(), 2 / math.sqrt(math.pi)) * g


class Rsqrt(_NumpyUnary):
    """y = 1 / sqrt(x)   ->   dx = -0.5 g y^3, from the saved output"""
    saves = "output"
    in_float32 = True         # (float16: one rounding, not the sqrt's and the division's)

    @staticmethod
    def fn(x):
        return x.dtype.type(1) / np.sqrt(x)

    @staticmethod
    def derivative(y, g):
        return -0.5 * g * (y * y * y)

    graph_derivative = derivative         # operators only: the same on Tensors


class Log1p(_Unary):
    """y = ln(1 + x)   ->   dx = g / (x + 1)"""
    grad_fn_name = "Log1PBackward0"
    kernel, saves = "log1p", "input"

    @staticmethod
    def graph_derivative(x, g):
        return g / (x + 1)


class Expm1(_Unary):
    """y = e**x - 1   ->   dx = g (y + 1), from the saved output"""
    kernel = "expm1"

    @staticmethod
    def graph_derivative(y, g):
        return g * (y + 1)


class Reciprocal(_NumpyUnary):
    """y = 1 / x   ->   dx = -g y^2, from the saved output"""
    saves = "output"

    @staticmethod
    def fn(x):
        return x.dtype.type(1) / x

    @staticmethod
    def derivative(y, g):
        return -g * (y * y)

    graph_derivative = derivative         # operators only: the same on Tensors


class _Stepwise(Op):
    """A piecewise-constant y = fn(x) (integer inputs keep their dtype)   ->   dx = 0, a zero
    gradient as in PyTorch (not none)"""
    kernel = None                       # PyTorch's kernel name, for its error on bool

    @classmethod
    def forward(cls, ctx, x):
        if x.dtype.kind == "b":
            require_float(x.dtype, cls.kernel)
        return cls.fn(x) if x.dtype.kind == "f" else x.copy()

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g),

    @staticmethod
    def graph_backward(ctx, g):
        return constant(np.zeros(g.shape, g._data.dtype)),


class DependsOn(Op):
    """y = a, recorded as a function of b too, with a zero derivative: a gradient that a mask
    of b picked (relu's, leaky_relu's, nll_loss's) stays differentiable in b, giving zeros,
    as PyTorch's threshold_backward does (create_graph)"""
    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return a.view()

    @staticmethod
    def backward(ctx, g):
        return g, np.zeros(ctx.shape_b, g.dtype)

    @staticmethod
    def graph_backward(ctx, g):
        return g, constant(np.zeros(ctx.shape_b, g._data.dtype))


class Floor(_Stepwise):
    fn, kernel = np.floor, "floor_vml_cpu"


class Ceil(_Stepwise):
    fn, kernel = np.ceil, "ceil_vml_cpu"


class Round(_Stepwise):
    """y = x rounded half to even (decimals: to that many digits)   ->   dx = 0"""
    fn, kernel = np.rint, "round_vml_cpu"

    @classmethod
    def forward(cls, ctx, x, decimals=0):
        if decimals:
            require_float(x.dtype, "round_cpu")
            return np.round(x, decimals)
        return super().forward(ctx, x)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None


class RoundDecimals(Round):
    grad_fn_name = "RoundBackward1"


class Sign(_Stepwise):
    """y = -1, 0 or 1 (0 for NaN and -0.0, as PyTorch's (x > 0) - (x < 0); bool stays bool)
    ->   dx = 0"""
    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "b":
            return x.copy()
        return B.kernels.sign(x)


class Angle(_Stepwise):
    """y = pi where x < 0, NaN where x is, else 0 (a real number's argument; integers give
    floats)   ->   dx = 0, as PyTorch's for real inputs"""
    @staticmethod
    def forward(ctx, x):
        x = _float(x)
        return np.where(np.isnan(x), x, np.where(x < 0, x.dtype.type(math.pi), x.dtype.type(0)))


class Remainder(Op):
    """y = a mod b, with the sign of b (Python's %)   ->   da = g, db = -g floor(a / b)"""
    grad_fn_name = "RemainderBackward1"
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if divides_by_zero(a, b):
            raise RuntimeError("ZeroDivisionError")      # NumPy gives 0 (PyTorch's message)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        r = np.asarray(np.remainder(a, b))
        if r.dtype.kind == "f":         # PyTorch's zero has the dividend's sign (NumPy's the
            r = np.asarray(np.where(r == 0, np.copysign(r, a), r))   # divisor's)
        return r

    @staticmethod
    def _quotient(ctx):
        """floor(a / b), piecewise constant, for b's gradient (None if b needs none)"""
        if not ctx.needs_input_grad[1]:
            return None
        a, b = ctx.saved_tensors
        if not isinstance(a, np.ndarray):               # number % tensor, as PyTorch
            raise RuntimeError("derivative for aten::remainder is not implemented")
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        q = Remainder._quotient(ctx)
        return g, (None if q is None else -g * q)

    @staticmethod
    def graph_backward(ctx, g):
        q = Remainder._quotient(ctx)
        if q is None:
            return g, None
        gb = -g * constant(q)
        for t in ctx.saved_for_graph():      # floor(a / b) recorded with a zero derivative
            gb = DependsOn.apply(gb, t)
        return g, gb


class RemainderScalar(Remainder):
    grad_fn_name = "RemainderBackward0"


class LeakyRelu(Op):
    """y = x if x > 0 else slope * x   ->   dx = g or slope * g"""
    accumulates = True

    @staticmethod
    def forward(ctx, x, slope):
        require_float(x.dtype, "leaky_relu_cpu")
        ctx.save_for_backward(x)
        ctx.slope = slope
        return B.kernels.leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.leaky_relu_backward(x, g, ctx.slope, acc[0]), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        return DependsOn.apply(g.where(constant(x._data > 0), g * ctx.slope),
                               x), None


class LeakyReluInplace(LeakyRelu):
    """leaky_relu_: the same from the saved output (y > 0 where x > 0), as PyTorch's, so that a
    later in-place change of the output raises at backward"""
    grad_fn_name = "LeakyReluBackward1"

    @staticmethod
    def forward(ctx, x, slope):
        y = LeakyRelu.forward(ctx, x, slope)
        ctx.save_for_backward(y)                 # the output instead of the input
        return y

    @staticmethod
    def backward(ctx, g, acc):
        LeakyReluInplace._refuse(ctx)
        return LeakyRelu.backward(ctx, g, acc)

    @staticmethod
    def graph_backward(ctx, g):
        LeakyReluInplace._refuse(ctx)
        return LeakyRelu.graph_backward(ctx, g)

    @staticmethod
    def _refuse(ctx):
        _refuse_negative_slope(ctx.slope, "leakyReLu", " File an issue at https://github.com/"
                               "pytorch/pytorch if you do require supporting in-place leakRelu "
                               "backward calculation with negative slope")


def _refuse_negative_slope(slope, name, more=""):
    if slope < 0:          # the output's sign no longer tells where x > 0
        raise RuntimeError(f"In-place {name} backward calculation is triggered with a negative "
                           "slope which is not supported. This is caused by calling in-place "
                           "forward function with a negative slope, please call out-of-place "
                           "version instead." + more)


class Gelu(Op):
    """y = x * Phi(x)   ->   dx = g * (Phi(x) + x * phi(x))"""
    accumulates = True

    @staticmethod
    def forward(ctx, x, approximate):
        require_float(x.dtype, "GeluKernelImpl")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return B.kernels.gelu(x, approximate)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.gelu_backward(x, g, ctx.approximate, acc[0]), None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        if ctx.approximate == "tanh":
            k, c = math.sqrt(2 / math.pi), 0.044715
            t = (k * (x + c * x * x * x)).tanh()
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x)
        else:
            cdf = 0.5 * (1 + (x * (1 / math.sqrt(2))).erf())
            d = cdf + x * ((-0.5 * x * x).exp() * (1 / math.sqrt(2 * math.pi)))
        return g * d, None


class Softplus(Op):
    """y = ln(1 + e**(beta x)) / beta, or x where beta x > threshold   ->   dx = g z / (z + 1)
    with z = e**(beta x), or g where beta x > threshold (PyTorch's formulas)"""
    accumulates = True

    @staticmethod
    def forward(ctx, x, beta, threshold):
        require_float(x.dtype, "softplus_cpu")
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return B.kernels.softplus(x, beta, threshold)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.softplus_backward(x, g, ctx.beta, ctx.threshold, acc[0]), None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        bx = x * ctx.beta
        above = constant(bx._data > ctx.threshold)
        return g.where(above, g * bx.sigmoid()), None, None


class Elu(Op):
    """y = scale x if x > 0 else alpha scale (e**(input_scale x) - 1)   ->   dx = g scale, or
    g input_scale alpha scale e**(input_scale x): PyTorch's elu kernel, which selu (its alpha
    and scale) and celu (input_scale = 1 / alpha) run too"""
    accumulates = True

    @staticmethod
    def forward(ctx, x, alpha, scale=1.0, input_scale=1.0):
        require_float(x.dtype, "elu_cpu")
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        return B.kernels.elu(x, alpha, scale, input_scale)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.elu_backward(x, g, ctx.alpha, ctx.scale, ctx.input_scale,
                                      acc[0]), None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        a, s, i = ctx.alpha, ctx.scale, ctx.input_scale
        below = constant(x._data <= 0)
        return (g * (i * a * s) * (x * i).exp()).where(below, g * s), None, None, None


class EluInplace(Elu):
    """elu_: the same from the saved output (dx = g input_scale (y + alpha scale) where
    y <= 0), as PyTorch's"""
    grad_fn_name = "EluBackward1"
    accumulates = False

    @staticmethod
    def forward(ctx, x, alpha, scale=1.0, input_scale=1.0):
        y = Elu.forward(ctx, x, alpha, scale, input_scale)
        ctx.save_for_backward(y)                 # the output instead of the input
        return y

    @staticmethod
    def backward(ctx, g):
        _refuse_negative_slope(ctx.alpha, "elu")
        y, = ctx.saved_tensors
        a, s, i = ctx.alpha, ctx.scale, ctx.input_scale
        return np.where(y <= 0, g * i * (y + a * s), g * s), None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        _refuse_negative_slope(ctx.alpha, "elu")
        y, = ctx.saved_for_graph()
        a, s, i = ctx.alpha, ctx.scale, ctx.input_scale
        return (g * i * (y + a * s)).where(constant(y._data <= 0), g * s), None, None, None


def _celu_backward_scale(ctx, alpha):
    """celu's backward input scale: PyTorch's derivative takes 1 / alpha.toFloat(), alpha
    rounded to float32 first (its forward, 1 / alpha in double)"""
    ctx.input_scale = 1.0 / float(np.float32(alpha))


class Celu(Elu):
    grad_fn_name = "CeluBackward0"

    @staticmethod
    def forward(ctx, x, alpha, scale=1.0, input_scale=1.0):
        y = Elu.forward(ctx, x, alpha, scale, input_scale)
        _celu_backward_scale(ctx, alpha)
        return y


class CeluInplace(EluInplace):
    grad_fn_name = "CeluBackward1"

    @staticmethod
    def forward(ctx, x, alpha, scale=1.0, input_scale=1.0):
        y = EluInplace.forward(ctx, x, alpha, scale, input_scale)
        _celu_backward_scale(ctx, alpha)
        return y


class LogSigmoid(Op):
    """y = ln sigmoid(x) = min(x, 0) - ln(1 + e**-|x|)   ->   dx = g (1 - s) for x < 0 and
    g s otherwise, s = z / (1 + z), z = e**-|x| (PyTorch's stable forms)"""
    accumulates = True

    @staticmethod
    def forward(ctx, x):
        require_float(x.dtype, "log_sigmoid_cpu")
        ctx.save_for_backward(x)
        return B.kernels.log_sigmoid(x)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.log_sigmoid_backward(x, g, acc[0]),

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        return g * (-x).sigmoid(),


class Abs(_Unary):
    """y = |x|   ->   dx = g * sign(x)"""
    kernel, saves, float_only = "abs", "input", False

    @staticmethod
    def graph_derivative(x, g):
        return g * x.sign()

    @staticmethod
    def bool_refused():
        return NotImplementedError('"abs_cpu" not implemented for \'Bool\'')


class Clamp(Op):
    """y = min(max(x, lo), hi)   ->   dx = g where lo <= x <= hi"""
    grad_fn_name = "ClampBackward1"
    accumulates = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        if isinstance(lo, float) or isinstance(hi, float):
            x = _float(x)
        elif x.dtype == np.bool_:             # int bounds make a bool tensor int64
            x = x.astype(np.int64)
        else:
            lo, hi = (b if b is None or x.dtype.kind not in "iu" else wrapped_int(b, x.dtype)
                      for b in (lo, hi))
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return B.kernels.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.clamp_backward(x, g, ctx.lo, ctx.hi, acc[0]), None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        a = x._data
        outside = np.zeros(a.shape, bool)         # NaN is outside, as in backward
        if ctx.lo is not None:
            outside |= ~(a >= ctx.lo)
        if ctx.hi is not None:
            outside |= ~(a <= ctx.hi)
        return MaskedFill.apply(g, outside, 0), None, None      # PyTorch's: no x in it


class ClampTensor(Op):
    """y = min(max(x, lo), hi) with tensor bounds (either may be None)   ->   PyTorch's rule:
    dx = g where lo <= x <= hi, dlo = g where x < lo (and lo < hi), dhi = g where x > hi (or
    hi < lo); each side whole at a tie, not halves as maximum/minimum's gradients"""
    grad_fn_name = "ClampBackward0"
    edge_order = (0, 1, 2)      # a missing bound too: PyTorch's node has its None edge

    @staticmethod
    def forward(ctx, x, lo, hi):
        dtype = result_type(*(a for a in (x, lo, hi) if a is not None))
        x, lo, hi = (None if a is None else a.astype(dtype, copy=False) for a in (x, lo, hi))
        ctx.save_for_backward(x, lo, hi)
        y = x if lo is None else np.maximum(x, lo)
        return y if hi is None else np.minimum(y, hi)

    @staticmethod
    def _masks(ctx, x, lo, hi):
        """where each gradient is g (x, lo, hi): boolean arrays, None for an unneeded one"""
        keep = True
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = keep & (x <= hi)
        below = above = None
        if lo is not None and ctx.needs_input_grad[1]:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
        if hi is not None and ctx.needs_input_grad[2]:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
        return keep, below, above

    @staticmethod
    def backward(ctx, g):
        zero = g.dtype.type(0)
        return tuple(None if m is None else np.where(m, g, zero)
                     for m in ClampTensor._masks(ctx, *ctx.saved_tensors))

    @staticmethod
    def graph_backward(ctx, g):
        saved = ctx.saved_for_graph()
        arrays = [None if t is None else t._data for t in saved]
        return tuple(None if m is None else MaskedFill.apply(g, ~np.asarray(m), 0)
                     for m in ClampTensor._masks(ctx, *arrays))


class Undifferentiated(Op):
    """y = a result computed without autograd (x // y, x //= y, x &= m) where an input
    requires grad: PyTorch records a node whose backward raises, so does cgrad"""
    grad_fn_name = "NotImplemented"

    @staticmethod
    def forward(ctx, x, other, name, result):
        ctx.aten_name = name
        return result

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"derivative for aten::{ctx.aten_name} is not implemented")

    graph_backward = backward

    @staticmethod
    def over(result, a, b, name):
        """result (a Tensor), behind such a node where grad mode would record a or b"""
        from ..autograd.grad_mode import state
        if state.enabled and any(getattr(t, "requires_grad", False) for t in (a, b)):
            return Undifferentiated.apply(a, b, name, result._data)
        return result


# ---- fills (used by in-place methods) -----------------------------------------------------
class Fill(Op):
    """y = value everywhere   ->   dx = 0 (a zero gradient, not none: the leaves behind x
    still get a .grad of zeros, as in PyTorch)"""
    grad_fn_name = "FillBackward0"

    @staticmethod
    def forward(ctx, x, value):
        return np.full_like(x, value)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None

    @staticmethod
    def graph_backward(ctx, g):
        return constant(np.zeros_like(g._data)), None


class Copy(Op):
    """y = src broadcast into x's shape and dtype   ->   dx = 0, dsrc = g (summed back by the
    engine)"""
    grad_fn_name = "torch::autograd::CopyBackwards"

    @staticmethod
    def forward(ctx, x, src):
        return np.broadcast_to(src, x.shape).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), g

    @staticmethod
    def graph_backward(ctx, g):
        return constant(np.zeros_like(g._data)), g


class BernoulliFill(Op):
    """x.bernoulli_(p) for a Tensor p, recorded: y = the draws (an array, no edge)   ->
    dx = 0, dp = 0 (PyTorch's BernoulliBackward1 gives p a zero gradient)"""
    grad_fn_name = "BernoulliBackward1"
    edge_order = (0, 1)

    @staticmethod
    def forward(ctx, x, p, values):
        return np.asarray(values, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), np.zeros_like(g), None

    @staticmethod
    def graph_backward(ctx, g):
        return constant(np.zeros_like(g._data)), constant(np.zeros_like(g._data)), None


# x.uniform_(), x.normal_(), ... on a tensor in a graph: a Fill with the drawn values (an
# array, no edge), printed as PyTorch's UniformBackward0 and the like
RANDOM_FILLS = {name: renamed(name.replace("Backward", "Fill"), Fill, name,
                              f"x's in-place draws, recorded as PyTorch's {name}")
                for name in ("UniformBackward0", "NormalBackward0", "BernoulliBackward2",
                             "ExponentialBackward0", "GeometricBackward0", "LogNormalBackward0",
                             "CauchyBackward0", "RandomBackward0", "RandomBackward1",
                             "RandomBackward2")}


class FillTensor(Copy):
    """y = a 0-d tensor's value everywhere   ->   dx = 0, dvalue = g summed (by the engine)"""
    grad_fn_name = "FillBackward3"


def held_op_edges(node, edges):
    """shown_edges of a node that holds an op applied to its first input (CopySlices; an
    in-place op computed out of place, then copied in): PyTorch's node has that op's edges,
    the first input's, then the op's (the second input's node) past its own first"""
    first, held = edges[:2]
    return (first,) if held is None else (first, *(n for n, _ in held.next_functions[1:]))


# the in-place ops made of these, named as PyTorch's
Zero = renamed("Zero", Fill, "ZeroBackward0", "x.zero_()")
FillNumber = renamed("FillNumber", Fill, "FillBackward2", "x.fill_(a number)")
FillConstant = renamed("FillConstant", Fill, "FillBackward3", "x.fill_(a 0-d tensor, no grad)")
# In-place ops computed out of place, then copied in (x.addcmul_(t1, t2) is
# x.copy_(x.addcmul(t1, t2))): each printed as PyTorch's node of the in-place op, with its edges
COPIED_IN = {name: renamed(name.replace("Backward", "InPlace"), Copy, name,
                           f"an in-place op's result copied in, printed as PyTorch's {name}",
                           shown_edges=staticmethod(held_op_edges))
             for name in ("AddcmulBackward0", "AddcdivBackward0", "LerpBackward0",
                          "LerpBackward1", "AddmmBackward0", "AddmvBackward0", "AddrBackward0",
                          "BaddbmmBackward0", "AddbmmBackward0", "RenormBackward0",
                          "PutBackward0", "RreluWithNoiseBackward1")}


class MaskedFill(Op):
    """y = value where mask, else x   ->   dx = g where not mask"""
    non_edges = (1,)                # the mask's
    grad_fn_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x, mask, value):
        if mask.dtype != np.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        ctx.mask = mask
        y = np.where(mask, np.asarray(value, dtype=x.dtype), x)
        return y if y.flags.c_contiguous else np.ascontiguousarray(y)   # (which makes 0-d 1-d)

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.mask, g.dtype.type(0), g), None, None

    @staticmethod
    def graph_backward(ctx, g):
        return MaskedFill.apply(g, ctx.mask, 0), None, None


class MaskedFillTensor(MaskedFill):
    """masked_fill with a 0-d Tensor value   ->   dx = g where not mask, dvalue = the sum of g
    where mask"""
    grad_fn_name = "MaskedFillBackward1"

    @staticmethod
    def backward(ctx, g):
        zero = g.dtype.type(0)
        gv = np.where(ctx.mask, g, zero).sum() if ctx.needs_input_grad[2] else None
        return np.where(ctx.mask, zero, g), None, gv

    @staticmethod
    def graph_backward(ctx, g):
        return (MaskedFill.apply(g, ctx.mask, 0), None,
                MaskedFill.apply(g, ~ctx.mask, 0).sum() if ctx.needs_input_grad[2] else None)


def _same_float(y, x):
    """y in x's float dtype: SciPy's expit and erf have no float16 loop (they gave float64)"""
    return y.astype(x.dtype) if y.dtype != x.dtype and x.dtype.kind == "f" else y


def _float(x):
    """Integer inputs of exp, log, ... give the default float, as in PyTorch."""
    return x if x.dtype.kind == "f" else x.astype(_dtype.DEFAULT.np)


# ---- more activations: hardtanh, hardswish, hardsigmoid, mish, threshold, shrinks -----------
class Hardtanh(Op):
    """y = min(max(x, lo), hi)   ->   dx = g strictly inside (lo, hi) (clamp's includes the
    bounds), 0 elsewhere and at NaN; PyTorch's hardtanh_backward, which relu6 uses too (its
    vectorised loop: the scalar one, which takes the last few elements, passes g at NaN)"""
    accumulates = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        if x.dtype.kind == "b":
            raise RuntimeError("Bool inputs not supported for hardtanh")
        if x.dtype.kind in "iu":               # PyTorch casts the bounds to the integer dtype
            lo, hi = int(lo), int(hi)
            if x.dtype == np.uint8 and (lo < 0 or hi < 0):
                raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return B.kernels.clamp(x, lo, hi)

    @staticmethod
    def _outside(ctx, x):
        return ~((x > ctx.lo) & (x < ctx.hi))          # NaN too, as the backward kernels

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.hardtanh_backward(x, g, ctx.lo, ctx.hi, acc[0]), None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        return DependsOn.apply(MaskedFill.apply(g, Hardtanh._outside(ctx, x._data), 0), x), \
            None, None


class Hardswish(Op):
    """y = x min(max(x + 3, 0), 6) / 6   ->   dx = 0 for x <= -3, g for x >= 3, else
    g (x / 3 + 1/2)"""
    accumulates = True

    @staticmethod
    def forward(ctx, x):
        require_float(x.dtype, "hardswish_cpu")
        ctx.save_for_backward(x)
        return B.kernels.hardswish(x)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.hardswish_backward(x, g, acc[0]),

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        a = x._data
        ramp = constant((a > -3) & (a < 3))
        return (g * (x / 3 + 0.5)).where(ramp, MaskedFill.apply(g, a <= -3, 0)),


class Hardsigmoid(Op):
    """y = min(max(x + 3, 0), 6) / 6   ->   dx = g / 6 for -3 < x < 3, else 0"""
    accumulates = True

    @staticmethod
    def forward(ctx, x):
        require_float(x.dtype, "hardsigmoid_cpu")
        ctx.save_for_backward(x)
        return B.kernels.hardsigmoid(x)

    @staticmethod
    def _outside(x):
        return ~((x > -3) & (x < 3))

    @staticmethod
    def _sixth(g):
        return g.dtype.type(HARDSIGMOID_SLOPE)

    @staticmethod
    def backward(ctx, g, acc):
        x, = ctx.saved_tensors
        return B.kernels.hardsigmoid_backward(x, g, acc[0]),

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        sixth = Hardsigmoid._sixth(g._data)
        return DependsOn.apply(MaskedFill.apply(g * sixth, Hardsigmoid._outside(x._data), 0), x),


class Mish(_Unary):
    """y = x tanh(softplus(x))   ->   dx = g (t + x sigmoid(x) (1 - t*t)), t = tanh(softplus(x))
    (PyTorch's kernels: no softplus threshold)"""
    kernel, saves, float_only = "mish", "input", False

    @classmethod
    def forward(cls, ctx, x):
        require_float(x.dtype, "mish_cpu")
        return super().forward(ctx, x)

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()
        t = x.exp().log1p().tanh()
        return g * (t + x * x.sigmoid() * (1 - t * t)),


class Threshold(Op):
    """y = value where x <= threshold, else x   ->   dx = g where x > threshold (or NaN), else
    0. Subclasses change where the output is cut (`cut`) and what it is (`outputs`)."""
    @staticmethod
    def cut(x, threshold):
        return x <= threshold

    @staticmethod
    def outputs(x, cut, threshold, value):
        return np.where(cut, np.asarray(value).astype(x.dtype), x)

    @classmethod
    def forward(cls, ctx, x, threshold, value):
        require_float(x.dtype, "threshold_cpu", also="iu")
        ctx.save_for_backward(x)
        ctx.cut = cls.cut(x, threshold)
        return cls.outputs(x, ctx.cut, threshold, value)

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.cut, g.dtype.type(0), g), None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph()        # a zero second derivative, as PyTorch's
        return DependsOn.apply(MaskedFill.apply(g, ctx.cut, 0), x), None, None


class ThresholdInplace(Threshold):
    grad_fn_name = "ThresholdBackward1"


class Hardshrink(Threshold):
    """y = 0 where -lambd <= x <= lambd, else x   ->   dx = g outside [-lambd, lambd]"""
    @staticmethod
    def cut(x, lambd):
        return (x >= -lambd) & (x <= lambd)

    @staticmethod
    def outputs(x, cut, lambd, value):
        return np.where(cut, x.dtype.type(0), x)


class Softshrink(Hardshrink):
    """y = x - lambd above lambd, x + lambd below -lambd, else 0 (NaN stays)   ->   dx = g
    outside [-lambd, lambd]"""
    @staticmethod
    def outputs(x, cut, lambd, value):
        return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x * 0))


# x + a number, x - a number and x * a number where PyTorch's C++ computes them (add.Scalar
# etc.: one edge, AddBackward1): the margins of margin losses, the "* M_LN2" of derivative
# formulas, ndtr's (1 + erf(x / sqrt 2)) * 0.5
AddNumber = renamed("AddNumber", Add, "AddBackward1", "x + a number, as PyTorch's C++ adds",
                    edge_order=(0,))
SubNumber = renamed("SubNumber", Sub, "SubBackward1", "x - a number, as PyTorch's C++ "
                    "subtracts", edge_order=(0,))


class MulNumber(Mul):
    """x * a number, as PyTorch's C++ multiplies; its recorded backward is one too"""
    grad_fn_name = "MulBackward1"
    edge_order = (0,)

    @staticmethod
    def graph_backward(ctx, g):
        _, number = ctx.saved_for_graph()
        return MulNumber.apply(g, number), None
