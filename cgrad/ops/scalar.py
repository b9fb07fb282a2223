"""The 0-d case of + - * / and x**2, on Python floats.

Scalar programs (the tutorials, micrograd-style graphs) pay per op what NumPy costs around a
one-element array: a ufunc on 0-d arrays takes ~0.3 us, returns a NumPy scalar that must be
wrapped again, and an in-place add of one element takes ~0.8 us. Here the arithmetic runs on
Python floats and each result is rounded once to the dtype, which is bit for bit NumPy's
float32/float64 result: a double holds the exact product of two float32, and rounding a
double sum, difference, product or quotient of two float32 to float32 gives the float32 result
(53 >= 2*24 + 2 bits). Operands must be 0-d float32/float64 arrays of one dtype, or Python
numbers already rounded to it (`number`); `Op.apply_scalar` records these ops (returning None
for operands they do not take: the caller then runs the generic op). Each class is its generic
op's 0-d twin: same grad_fn name, same saved arrays, same gradients; none saves its output,
each forward returns a 0-d array and only writes to its ctx (the no-grad ctx is shared).
"""
import numpy as np

from . import elementwise as E

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_EXACT_INT = 2 ** 24                     # ints up to here are exact in float32
_rounded = {}                            # Python float -> its float32 value (bounded cache)


def number(c, dtype):
    """A Python number as the float NumPy would use with a 0-d array of dtype (NumPy and
    PyTorch round it to the tensor's dtype first), or None if that takes the generic path."""
    t = type(c)
    if t is float:
        if dtype is FLOATS[1]:
            return c
        r = _rounded.get(c)
        if r is None:
            if len(_rounded) > 1024:
                _rounded.clear()
            r = _rounded[c] = float(np.float32(c)) if abs(c) < 3.4e38 else None
        return r
    if t is int and -_EXACT_INT <= c <= _EXACT_INT:
        return float(c)
    return None


_new = np.array          # _new(value, dtype): a 0-d array


class Add(E.Add):
    grad_fn_name = "AddBackward0"
    accumulates = False

    @staticmethod
    def forward(ctx, a, b):
        return _new(float(a) + float(b), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(E.Sub):
    grad_fn_name = "SubBackward0"
    accumulates = False

    @staticmethod
    def forward(ctx, a, b):
        return _new(float(a) - float(b), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g, (_new(-float(g), g.dtype) if ctx.needs_input_grad[1] else None)


class RSub(E.RSub):
    """y = c - a"""
    grad_fn_name = "RsubBackward1"
    accumulates = False

    @staticmethod
    def forward(ctx, a, c):
        return _new(float(c) - float(a), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return _new(-float(g), g.dtype), None


class Mul(E.Mul):
    grad_fn_name = "MulBackward0"
    accumulates = False      # (a 0-d gradient: no buffer to add into, only the engine's checks)

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)  # as Mul does
        return _new(float(a) * float(b), a.dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        gf, dt = float(g), g.dtype
        return (_new(gf * float(b), dt) if need_a else None,
                _new(gf * float(a), dt) if need_b else None)


class Div(E.Div):
    grad_fn_name = "DivBackward0"          # backward: Div's, on the saved 0-d arrays

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)   # as Div does
        bf = float(b)
        if bf == 0.0:                          # Python raises; NumPy gives inf or nan
            return np.asarray(np.true_divide(a, np.asarray(b, a.dtype)))
        return _new(float(a) / bf, a.dtype)


class RDiv(E.RDiv):
    """y = c / a (c a Python number) as (1 / a) * c, each rounded, as RDiv computes it"""
    grad_fn_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, c):
        af = float(a)
        if af == 0.0:                          # Python raises; NumPy gives inf or nan
            r = np.asarray(np.true_divide(a.dtype.type(1), a))
        else:
            r = _new(1.0 / af, a.dtype)
        ctx.save_for_backward(r)
        ctx.c = c
        return _new(float(r) * c, a.dtype)          # a new array: r is saved

    @staticmethod
    def backward(ctx, g):
        r, = ctx.saved_tensors
        dt, rf = g.dtype, float(r)
        gc = float(g) if ctx.c == 1 else float(_new(float(g) * ctx.c, dt))
        return _new(-gc * float(_new(rf * rf, dt)), dt), None


class Square(E.PowScalar):
    """y = x ** 2   ->   dx = g * 2 * x"""
    grad_fn_name = "PowBackward0"
    returns_fresh = True
    accumulates = False      # (as Mul)

    @staticmethod
    def forward(ctx, x, c):
        ctx.save_for_backward(x)
        ctx.c = c
        xf = float(x)
        return _new(xf * xf, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        two_x = np.array(2.0 * float(x), g.dtype)          # NumPy's c * x**(c-1), rounded
        return _new(float(g) * float(two_x), g.dtype), None
