"""PyTorch's older spellings, still in tutorials and scripts: the typed tensor classes
(cgrad.FloatTensor([1, 2]), isinstance(x, cgrad.LongTensor), x.type(cgrad.DoubleTensor)),
cgrad.strided, and the window functions of signal processing."""
import math

import numpy as np

from . import _dtype
from .tensor import Tensor, Size


class layout:
    """a tensor's memory layout (PyTorch's torch.layout): cgrad has the strided one only"""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"cgrad.{self.name}"


strided = layout("strided")       # every cgrad tensor's layout (no sparse ones)


class _TypedTensorMeta(type):
    """isinstance(x, FloatTensor): a tensor of that dtype (PyTorch's typed classes are
    views of one Tensor class too)"""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.np

    def __repr__(cls):
        return f"<class 'cgrad.{cls.__name__}'>"


def _typed_new(cls, *args, device=None):
    """FloatTensor(2, 3) (uninitialised), FloatTensor(size), FloatTensor([1, 2]) (data),
    FloatTensor(t) (t itself, if it has this dtype) or FloatTensor(storage) (a view of it)"""
    from . import creation, storage
    if len(args) == 1 and storage.is_storage(args[0]):
        return Tensor._make(storage.elements_of(args[0], cls.dtype.np))
    if len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0]
        if t._data.dtype != cls.dtype.np:
            raise TypeError(f"expected {cls.dtype} (got {t.dtype})")
        return t
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return creation.empty(*(args or (0,)), dtype=cls.dtype)
    if len(args) == 1 and isinstance(args[0], Size):
        return creation.empty(*args[0], dtype=cls.dtype)
    if len(args) == 1:
        return creation.tensor(args[0], dtype=cls.dtype)
    raise TypeError(f"{cls.__name__}(): invalid arguments {args!r}")


_TYPED = {}
for _dt in _dtype.ALL:                          # FloatTensor, DoubleTensor, ...
    _name = f"{_dtype.torch_name(_dt.np)}Tensor"
    _TYPED[_name] = _TypedTensorMeta(_name, (), {"dtype": _dt, "__new__": _typed_new})
globals().update(_TYPED)


def typed_dtype(spec):
    """the dtype of a typed class or its name ('torch.DoubleTensor', 'cgrad.LongTensor'),
    None for anything else"""
    if isinstance(spec, _TypedTensorMeta):
        return spec.dtype
    if isinstance(spec, str):
        cls = _TYPED.get(spec.rpartition(".")[2])
        if cls is None:
            raise ValueError(f"invalid type: '{spec}'")
        return cls.dtype
    return None


# ---- windows: PyTorch's formulas, in its order of float operations -------------------------
def _window(name, window_length, periodic, dtype, build):
    from . import creation
    dtype = dtype or _dtype.DEFAULT
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    if window_length == 0:
        return creation.empty(0, dtype=dtype)
    if window_length == 1:
        return creation.ones(1, dtype=dtype)
    n = window_length + 1 if periodic else window_length
    w = build(np.arange(n, dtype=dtype.np), n)
    return Tensor._make(np.ascontiguousarray(w[:window_length]))


def _general_hamming(name, window_length, periodic, alpha, beta, dtype):
    def build(k, n):
        t = k.dtype.type
        return np.cos(k * t(2 * math.pi / (n - 1))) * t(-beta) + t(alpha)
    return _window(name, window_length, periodic, dtype, build)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False, pin_memory=False):
    return _general_hamming("hamming_window", window_length, periodic, alpha, beta,
                            dtype).requires_grad_(requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False, pin_memory=False):
    return _general_hamming("hann_window", window_length, periodic, 0.5, 0.5,
                            dtype).requires_grad_(requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    def build(k, n):
        t = k.dtype.type
        w = k * t(math.pi / (n - 1))
        return np.cos(w * t(4)) * t(0.08) - np.cos(w * t(2)) * t(0.5) + t(0.42)
    return _window("blackman_window", window_length, periodic, dtype,
                   build).requires_grad_(requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    def build(k, n):
        w = k * k.dtype.type(2 / (n - 1))
        first_half = ((n - 1) >> 1) + 1
        w[first_half:] = -w[first_half:] + k.dtype.type(2)
        return w
    return _window("bartlett_window", window_length, periodic, dtype,
                   build).requires_grad_(requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False, pin_memory=False):
    def build(k, n):
        t = k.dtype.type
        alpha = t((n - 1) / 2)
        inner = np.sqrt(np.maximum(1 - ((k - alpha) / alpha) ** 2, 0))
        return (np.i0(t(beta) * inner) / np.i0(t(beta))).astype(k.dtype)
    return _window("kaiser_window", window_length, periodic, dtype,
                   build).requires_grad_(requires_grad)
