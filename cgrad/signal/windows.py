"""cgrad.signal.windows: PyTorch's torch.signal.windows, written as PyTorch writes them (with
tensor ops from linspace), so the values are its values and requires_grad=True gives a window
with a grad_fn, as there.

(cgrad.hann_window and the other older *_window functions compute with ATen's own formulas,
in another order of float operations, so the two families differ in the last bits, in PyTorch
too: they share the dtype and layout defaults here, not the arithmetic.)"""
import math
from collections.abc import Iterable

from .. import _dtype, creation
from .._legacy import strided

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _checked(name, M, dtype, layout):
    """the dtype (the default one if None), after PyTorch's common argument checks"""
    dtype = _dtype.DEFAULT if dtype is None else dtype
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (_dtype.float32, _dtype.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _trivial(M, dtype, requires_grad):
    """the window of length 0 or 1 (empty, or [1.]), else None"""
    if M == 0:
        return creation.empty((0,), dtype=dtype, requires_grad=requires_grad)
    if M == 1:
        return creation.ones((1,), dtype=dtype, requires_grad=requires_grad)
    return None


def _grid(start, end, M, dtype, requires_grad):
    return creation.linspace(start=start, end=end, steps=M, dtype=dtype,
                             requires_grad=requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,
                requires_grad=False):
    """w[n] = exp(-|n - c| / tau), c = the window's centre unless given (periodic only)"""
    dtype = _checked("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _trivial(M, dtype, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    constant = 1 / tau
    k = _grid(-center * constant, (-center + (M - 1)) * constant, M, dtype, requires_grad)
    return (-k.abs()).exp()


def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """w[n] = sin(pi (n + 1/2) / M)"""
    dtype = _checked("cosine", M, dtype, layout)
    if M == 0:
        return _trivial(M, dtype, requires_grad)
    start = 0.5
    constant = math.pi / (M + 1 if not sym and M > 1 else M)
    k = _grid(start * constant, (start + (M - 1)) * constant, M, dtype, requires_grad)
    return k.sin()


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None,
             requires_grad=False):
    """w[n] = exp(-(n - (M - 1)/2)^2 / (2 std^2))"""
    dtype = _checked("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _trivial(M, dtype, requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    constant = 1 / (std * math.sqrt(2))
    k = _grid(start * constant, (start + (M - 1)) * constant, M, dtype, requires_grad)
    return (-(k ** 2)).exp()


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None,
           requires_grad=False):
    """w[n] = I0(beta sqrt(1 - (2n/(M - 1) - 1)^2)) / I0(beta)"""
    dtype = _checked("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _trivial(M, dtype, requires_grad)
    # beta in the window's dtype, as PyTorch computes it (no NaN at the ends in float32)
    beta = creation.tensor(beta, dtype=dtype)
    start = -beta
    constant = 2.0 * beta / (M if not sym else M - 1)
    end = beta.minimum(start + (M - 1) * constant)
    k = _grid(start, end, M, dtype, requires_grad)
    return (beta * beta - k.pow(2)).sqrt().i0() / beta.i0()


def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """the general Hamming window with alpha = 0.54"""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """the general Hamming window with alpha = 0.5"""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """the general cosine window with a = [0.42, 0.5, 0.08]"""
    dtype = _checked("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """w[n] = 1 - |2n/(M - 1) - 1|"""
    dtype = _checked("bartlett", M, dtype, layout)
    if M <= 1:
        return _trivial(M, dtype, requires_grad)
    start = -1
    constant = 2 / (M if not sym else M - 1)
    k = _grid(start, start + (M - 1) * constant, M, dtype, requires_grad)
    return 1 - k.abs()


def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None,
                   requires_grad=False):
    """w[n] = sum_i (-1)^i a[i] cos(2 pi i n / (M - 1))"""
    dtype = _checked("general_cosine", M, dtype, layout)
    if M <= 1:
        return _trivial(M, dtype, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    constant = 2 * math.pi / (M if not sym else M - 1)
    k = _grid(0, (M - 1) * constant, M, dtype, requires_grad)
    a_i = creation.tensor([(-1) ** i * w for i, w in enumerate(a)], dtype=dtype,
                          requires_grad=requires_grad)
    i = creation.arange(a_i.shape[0], dtype=a_i.dtype, requires_grad=a_i.requires_grad)
    return (a_i.unsqueeze(-1) * (i.unsqueeze(-1) * k).cos()).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None,
                    requires_grad=False):
    """the general cosine window with a = [alpha, 1 - alpha]"""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """the minimum 4-term Blackman-Harris window (Nuttall's): a general cosine window"""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
