"""The NumPy backend: the reference implementation of cgrad's kernel interface.

Every kernel here is plainly right and written as the math reads; the Cython backend
overrides the hot ones and is tested against these. Conventions:
- `<op>` returns a new array; `<op>_backward` returns the input gradient(s), or adds into
  `acc` (an existing gradient buffer of the input's shape) and returns acc; `<op>_` works in
  place.
- Binary kernels take operands already promoted to one dtype (a Python scalar may stand for
  either); gradients may come back broadcast, the engine sums them to each input's shape.
"""
import math

import numpy as np
from scipy import special

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def _into(acc, d):
    """d, or acc += d (returning acc) when an accumulation buffer of the same shape is given."""
    if acc is None or acc.shape != d.shape:
        return d
    return np.add(acc, d, out=acc)


def _scalar(value, like):
    """A Python number as a 0-d array of like's dtype, so float32 math stays float32."""
    return like.dtype.type(value)


class NumpyKernels:
    name = "numpy"

    # ---- gradient buffers --------------------------------------------------------------
    def accumulate_(self, acc, g):
        """acc += g in place (g broadcast to acc's shape); returns acc."""
        np.add(acc, g, out=acc, casting="unsafe")
        return acc

    def zero_(self, a):
        """a[...] = 0 in place; returns a."""
        a.fill(0)
        return a

    def sum_to_shape(self, g, shape):
        """Sum g over the leading and size-1 dims that broadcasting added, down to shape."""
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        out = g.sum(axis=axes, keepdims=True) if axes else g
        return out.reshape(shape)

    # ---- binary elementwise ----------------------------------------------------------------
    def add(self, a, b):
        """a + b"""
        return np.add(a, b)

    def sub(self, a, b):
        """a - b"""
        return np.subtract(a, b)

    def mul(self, a, b):
        """a * b"""
        return np.multiply(a, b)

    def div(self, a, b):
        """a / b (true division)"""
        return np.true_divide(a, b)

    def pow(self, a, b):
        """a ** b"""
        return np.power(a, b)

    def maximum(self, a, b):
        """max(a, b), NaN if either is NaN"""
        return np.maximum(a, b)

    def minimum(self, a, b):
        """min(a, b), NaN if either is NaN"""
        return np.minimum(a, b)

    def neg(self, x):
        """-x"""
        return np.negative(x)

    def mul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g * b, g * a)"""
        ga = _into(acc_a, np.multiply(g, b)) if need_a else None
        gb = _into(acc_b, np.multiply(g, a)) if need_b else None
        return ga, gb

    def div_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g / b, -g * a / b**2)"""
        ga = _into(acc_a, np.true_divide(g, b)) if need_a else None
        gb = _into(acc_b, np.negative(g) * a / (b * b)) if need_b else None
        return ga, gb

    def pow_backward(self, a, b, out, g, need_a=True, need_b=True):
        """(g * b * a**(b-1), g * a**b * log(a)); the exponent gradient is 0 where a == 0 and
        b >= 0, as in PyTorch"""
        ga = gb = None
        if need_a:
            ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False)
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = np.where((a == 0) & (b >= 0), 0, g * out * np.log(a)).astype(g.dtype,
                                                                                    copy=False)
        return ga, gb

    def maximum_backward(self, a, b, g, need_a=True, need_b=True):
        """g goes to the larger input; ties split it in halves (PyTorch's rule)"""
        half = g * _scalar(0.5, g)
        ga = np.where(a > b, g, np.where(a == b, half, 0)).astype(g.dtype) if need_a else None
        gb = np.where(b > a, g, np.where(a == b, half, 0)).astype(g.dtype) if need_b else None
        return ga, gb

    def minimum_backward(self, a, b, g, need_a=True, need_b=True):
        """g goes to the smaller input; ties split it in halves (PyTorch's rule)"""
        half = g * _scalar(0.5, g)
        ga = np.where(a < b, g, np.where(a == b, half, 0)).astype(g.dtype) if need_a else None
        gb = np.where(b < a, g, np.where(a == b, half, 0)).astype(g.dtype) if need_b else None
        return ga, gb

    # ---- unary elementwise -------------------------------------------------------------------
    def exp(self, x):
        """e**x"""
        return np.exp(x)

    def exp_backward(self, y, g, acc=None):
        """g * y, from the saved output"""
        return _into(acc, g * y)

    def log(self, x):
        """ln x"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def log_backward(self, x, g, acc=None):
        """g / x"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g / x)

    def sqrt(self, x):
        """sqrt(x)"""
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def sqrt_backward(self, y, g, acc=None):
        """g / (2 y), from the saved output (inf at 0, as in PyTorch)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g / (y + y))

    def tanh(self, x):
        """tanh(x)"""
        return np.tanh(x)

    def tanh_backward(self, y, g, acc=None):
        """g * (1 - y*y), from the saved output"""
        return _into(acc, g * (1 - y * y))

    def sigmoid(self, x):
        """1 / (1 + e**-x), without overflow for large |x|"""
        return special.expit(x)

    def sigmoid_backward(self, y, g, acc=None):
        """g * y * (1 - y), from the saved output"""
        return _into(acc, g * (y * (1 - y)))

    def relu(self, x):
        """max(x, 0) (NaN stays NaN)"""
        return np.where(x < 0, _scalar(0, x), x) if x.dtype.kind == "f" else np.maximum(x, 0)

    def relu_backward(self, y, g, acc=None):
        """g where y > 0, else 0 (relu'(0) = 0), from the saved output"""
        return _into(acc, np.where(y > 0, g, _scalar(0, g)))

    def leaky_relu(self, x, slope):
        """x if x > 0 else slope * x"""
        return np.where(x > 0, x, x * _scalar(slope, x))

    def leaky_relu_backward(self, x, g, slope, acc=None):
        """g if x > 0 else slope * g"""
        return _into(acc, np.where(x > 0, g, g * _scalar(slope, g)))

    def gelu(self, x, approximate="none"):
        """x * Phi(x); with approximate='tanh', PyTorch's tanh formula"""
        if approximate == "tanh":
            inner = _scalar(SQRT_2_OVER_PI, x) * (x + _scalar(0.044715, x) * x * x * x)
            return _scalar(0.5, x) * x * (1 + np.tanh(inner))
        return (_scalar(0.5, x) * x * (1 + special.erf(x * _scalar(INV_SQRT_2, x)))).astype(
            x.dtype, copy=False)

    def gelu_backward(self, x, g, approximate="none", acc=None):
        """g * d/dx gelu(x)"""
        if approximate == "tanh":
            k, c = _scalar(SQRT_2_OVER_PI, x), _scalar(0.044715, x)
            t = np.tanh(k * (x + c * x * x * x))
            d = _scalar(0.5, x) * (1 + t) + _scalar(0.5, x) * x * (1 - t * t) * k * (
                1 + 3 * c * x * x)
        else:
            cdf = _scalar(0.5, x) * (1 + special.erf(x * _scalar(INV_SQRT_2, x)))
            pdf = np.exp(_scalar(-0.5, x) * x * x) * _scalar(1 / math.sqrt(2 * math.pi), x)
            d = cdf + x * pdf
        return _into(acc, (g * d).astype(g.dtype, copy=False))

    def abs(self, x):
        """|x|"""
        return np.abs(x)

    def abs_backward(self, x, g, acc=None):
        """g * sign(x) (abs'(0) = 0)"""
        return _into(acc, g * np.sign(x))

    def clamp(self, x, lo, hi):
        """min(max(x, lo), hi); either bound may be None"""
        if lo is not None:
            x = np.maximum(x, _scalar(lo, x) if not isinstance(lo, np.ndarray) else lo)
        if hi is not None:
            x = np.minimum(x, _scalar(hi, x) if not isinstance(hi, np.ndarray) else hi)
        return x

    def clamp_backward(self, x, g, lo, hi, acc=None):
        """g where lo <= x <= hi (bounds inclusive, as in PyTorch), else 0"""
        keep = np.ones(x.shape, dtype=bool)
        if lo is not None:
            keep &= x >= lo
        if hi is not None:
            keep &= x <= hi
        return _into(acc, np.where(keep, g, _scalar(0, g)))

    def pow_scalar(self, x, c):
        """x ** c for a Python number c"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, _scalar(c, x)) if x.dtype.kind == "f" else np.power(x, c)

    def pow_scalar_backward(self, x, c, g, acc=None):
        """g * c * x**(c-1); 0 for c == 0"""
        if c == 0:
            return _into(acc, np.zeros_like(g))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * (_scalar(c, x) * np.power(x, _scalar(c - 1, x)))
        return _into(acc, d)

    # ---- reductions --------------------------------------------------------------------------
    def sum(self, x, dim=None, keepdim=False):
        """sum over dim (a tuple of axes, or None for all)"""
        return np.sum(x, axis=dim, keepdims=keepdim)

    def mean(self, x, dim=None, keepdim=False):
        """mean over dim (a tuple of axes, or None for all)"""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.mean(x, axis=dim, keepdims=keepdim)

    def softmax(self, x, dim):
        """exp(x - max) / sum(exp(x - max)) along dim"""
        shifted = x - np.max(x, axis=dim, keepdims=True) if x.size else x
        e = np.exp(shifted)
        return e / np.sum(e, axis=dim, keepdims=True)

    def softmax_backward(self, y, g, dim):
        """y * (g - sum(g * y, dim)), from the saved output"""
        return y * (g - np.sum(g * y, axis=dim, keepdims=True))

    def log_softmax(self, x, dim):
        """x - max - log(sum(exp(x - max))) along dim: no overflow at any logit"""
        if not x.size:
            return x.copy()
        shifted = x - np.max(x, axis=dim, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))

    def log_softmax_backward(self, y, g, dim):
        """g - exp(y) * sum(g, dim), from the saved output"""
        return g - np.exp(y) * np.sum(g, axis=dim, keepdims=True)

    # ---- linear algebra ----------------------------------------------------------------------
    def matmul(self, a, b):
        """a @ b (NumPy's matmul rules: 1-D, 2-D and batched)"""
        return np.matmul(a, b)

    def matmul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g @ b^T, a^T @ g) for a, b of 2 or more dims (batch dims broadcast; the engine sums
        a broadcast gradient back)"""
        ga = _into(acc_a, np.matmul(g, np.swapaxes(b, -1, -2))) if need_a else None
        gb = _into(acc_b, np.matmul(np.swapaxes(a, -1, -2), g)) if need_b else None
        return ga, gb

    def linear(self, x, w, b=None):
        """x @ w^T + b, for x of shape (..., in), w (out, in), b (out,)"""
        y = np.matmul(x, w.T)
        if b is not None:
            y += b
        return y

    def linear_backward(self, x, w, g, need_x=True, need_w=True, need_b=True,
                        acc_x=None, acc_w=None, acc_b=None):
        """(g @ w, g^T @ x, sum of g over rows), x and g flattened to 2-D"""
        g2 = g.reshape(-1, g.shape[-1])
        gx = _into(acc_x, np.matmul(g, w)) if need_x else None
        gw = _into(acc_w, g2.T @ x.reshape(-1, x.shape[-1])) if need_w else None
        gb = _into(acc_b, g2.sum(axis=0)) if need_b else None
        return gx, gw, gb
