"""The Cython backend: compiled kernels where they pay, the NumPy reference elsewhere.

Each override handles the layouts its kernel takes (C-contiguous, same shape, float32 or
float64) and hands anything else (broadcast, strided, mixed dtypes, integers) to the NumPy
implementation it inherits, so every input gets the right answer.
"""
import numpy as np

from .._C import elementwise as _ew
from .._C import grad as _grad
from .numpy_backend import NumpyKernels

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def flat_same_layout(*arrays):
    """1-D views of arrays if all are C-contiguous with one shape and one float dtype; else
    None (the caller falls back to NumPy)."""
    first = arrays[0]
    if first.dtype not in _FLOATS:
        return None
    for a in arrays:
        if (type(a) is not np.ndarray or a.shape != first.shape or a.dtype != first.dtype
                or not a.flags.c_contiguous):
            return None
    return [a.reshape(-1) for a in arrays]


def _writable_flat(out, *inputs):
    """flat_same_layout for an output buffer too, which must also be writeable."""
    if not out.flags.writeable:
        return None
    return flat_same_layout(out, *inputs)


class CythonKernels(NumpyKernels):
    name = "cython"

    # ---- gradient buffers --------------------------------------------------------------
    def accumulate_(self, acc, g):
        if acc.flags.writeable and acc.flags.c_contiguous and acc.dtype in _FLOATS:
            if g.dtype == acc.dtype and g.shape == acc.shape and g.flags.c_contiguous:
                _grad.accumulate_(acc.reshape(-1), g.reshape(-1))
                return acc
            if g.size == 1 and g.ndim <= acc.ndim:
                _grad.accumulate_scalar_(acc.reshape(-1), acc.dtype.type(g.reshape(())))
                return acc
        return super().accumulate_(acc, g)

    def zero_(self, a):
        if a.flags.c_contiguous and a.flags.writeable and a.dtype in _FLOATS:
            _grad.zero_(a.reshape(-1))
            return a
        return super().zero_(a)

    # ---- elementwise -------------------------------------------------------------------
    def _unary_backward(self, kernel, fallback, y, g, acc):
        add = acc is not None and acc.shape == g.shape
        out = acc if add else np.empty_like(y, order="C")
        flat = _writable_flat(out, y, g)
        if flat is None:
            return fallback(y, g, acc)
        kernel(flat[1], flat[2], flat[0], add)
        return out

    def tanh_backward(self, y, g, acc=None):
        return self._unary_backward(_ew.tanh_backward_, super().tanh_backward, y, g, acc)

    def sigmoid_backward(self, y, g, acc=None):
        return self._unary_backward(_ew.sigmoid_backward_, super().sigmoid_backward, y, g, acc)

    def relu_backward(self, y, g, acc=None):
        return self._unary_backward(_ew.relu_backward_, super().relu_backward, y, g, acc)

    def relu(self, x):
        out = np.empty_like(x, order="C")
        flat = flat_same_layout(x, out)
        if flat is None:
            return super().relu(x)
        _ew.relu_(flat[0], flat[1])
        return out

    def mul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return super().mul_backward(a, b, g, need_a, need_b, acc_a, acc_b)
        add_a = acc_a is not None and acc_a.shape == g.shape
        add_b = acc_b is not None and acc_b.shape == g.shape
        ga = acc_a if add_a else np.empty_like(g, order="C")
        gb = acc_b if add_b else np.empty_like(g, order="C")
        flat = flat_same_layout(a, b, g, ga, gb)
        if flat is None or not (ga.flags.writeable and gb.flags.writeable):
            return super().mul_backward(a, b, g, need_a, need_b, acc_a, acc_b)
        _ew.mul_backward_(*flat, need_a, need_b, add_a, add_b)
        return (ga if need_a else None), (gb if need_b else None)
