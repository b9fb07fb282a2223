"""The Cython backend: compiled kernels where they pay, the NumPy reference elsewhere.

Each override takes the layouts its kernel handles (C-contiguous, aligned, native float32 or
float64, one dtype, the broadcast patterns below; the unary kernels any layout, read in memory
order or copied once; the matrix products rows and batches some elements apart) and hands
anything else (other strided views, mixed dtypes, integers, other broadcasts) to the NumPy
implementation it inherits, so every input gets the right answer. Inputs below a size
threshold also go to NumPy, where its AVX-512 ufuncs and lower per-call cost win: `min_size`
(unary, BLAS), `min_size_fused` (unary ops NumPy takes in several passes), `min_size_binary`,
`min_size_reduce`, `min_size_sum_cols` (sums over one run of axes, or all but one); the fused
row kernels run up to `exp_limit`. Each is a crossover measured on one thread, noted where it
is set; tests set them so that every size is compiled.

Broadcasting: a binary op's operands are collapsed onto O planes of an R x C grid where each
is FULL, ROW (depends on the column only: a bias), COL (on the row only) or SCALAR on a plane,
with a plane of its own for each o or one plane read for all; shapes that need more go to
NumPy. Binary backward kernels return each input's gradient
already reduced to that input's shape (the engine's sum_to_shape is then a no-op), added into
the `acc` buffer when one of that shape and dtype is given.
"""
import importlib
import math
import os
import types

import numpy as np

from .. import _threads
from .cpu import cpu_has_avx2, cpu_has_avx512
from .numpy_backend import (HARDSIGMOID_SLOPE, NumpyKernels, _into, broadcast_axes,
                            check_linear_backward, conv_output_size, dense_in_memory_order)


class _OnFirstUse:
    """A compiled module loaded when first used: cgrad._C.linalg loads a BLAS (and, without
    scipy-openblas32, imports scipy's), which `import cgrad` should not pay for."""

    def __init__(self, load):
        self._load = load

    def __getattr__(self, attr):
        module = self._load()
        self.__dict__.update(vars(module))        # later lookups are plain attribute reads
        return getattr(module, attr)


_linalg = _OnFirstUse(_threads.load_linalg)


def isa_levels():
    """The builds to try, widest first: AVX-512 and AVX2 where the CPU runs them and the
    environment allows (CGRAD_NO_AVX512=1 stops at AVX2, CGRAD_NO_AVX2=1 at the baseline).
    The bounds-checked build (CGRAD_CYTHON_DEBUG=1) has the baseline only: twins beside it
    are a release build's leftovers (pip builds in the tree), without its checks."""
    from cgrad._C._threads import debug_build
    if debug_build():
        return [""]
    levels = []
    if os.environ.get("CGRAD_NO_AVX2", "0") == "0" and cpu_has_avx2():
        if os.environ.get("CGRAD_NO_AVX512", "0") == "0" and cpu_has_avx512():
            levels.append("_avx512")
        levels.append("_avx2")
    return levels + [""]


def _kernels(name):
    """cgrad._C.<name> in its widest build the CPU runs: the same operations, the same bits
    (but float32 exp and erf, fused multiply-adds in both wide builds), two or four times the
    vector width."""
    for suffix in isa_levels():
        try:
            return importlib.import_module(f"cgrad._C.{name}{suffix}")
        except ImportError:          # built on a machine without the twins
            if not suffix:
                raise
    raise AssertionError("unreachable")


def _builds(module):
    """{float32: ..., float64: ...}: module's fused-type functions as their float and double
    builds, to be called by the arrays' dtype. A fused function called as itself inspects
    every argument to pick its build, on every call: 0.15 us for two arrays, 1.1 us for
    cross_entropy_backward_'s fourteen arguments, most of a small call's cost."""
    fused = {name: f for name, f in vars(module).items() if hasattr(f, "__signatures__")}
    return {dtype: types.SimpleNamespace(**{name: f.__signatures__[build]
                                            for name, f in fused.items()})
            for dtype, build in ((_F32, "float"), (_F64, "double"))}


_F32, _F64, _I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
_grad = _kernels("grad")
_bn = _kernels("binary")
_ew = _kernels("elementwise")
_optim = _kernels("optim")
_rd = _kernels("reduce")
_grad_for, _bn_for, _ew_for, _optim_for, _rd_for = map(_builds, (_grad, _bn, _ew, _optim, _rd))
_sorting = _kernels("sorting")
from cgrad._C import small as _small     # (one build: its time is the call, not the loop)
_SORT_COMPARE = {"ascending": 0, "descending": 1, "less": 2}


def _sort_keys(rows):
    """rows as keys that compare alike: float64 (exact for every float) or int64"""
    return np.ascontiguousarray(rows, np.float64 if rows.dtype.kind == "f" else np.int64)

_NONE = {d: np.empty(0, d) for d in (_F32, _F64)}   # "no weight" for the row kernels
_FLOATS = (_F32, _F64)
_ndarray = np.ndarray
_FULL, _ROW, _COL, _SCALAR = _bn.FULL, _bn.ROW, _bn.COL, _bn.SCALAR
_ADD, _SUB, _MUL, _DIV, _MAX, _MIN = _bn.ADD, _bn.SUB, _bn.MUL, _bn.DIV, _bn.MAXIMUM, _bn.MINIMUM


def _float(dtype):
    """dtype is native float32 or float64 (identity first: dtype == is slow)"""
    return dtype is _F32 or dtype is _F64 or dtype in _FLOATS


def _of_dtype(a, dtype):
    """whether a is an ndarray of dtype (which _dense makes readable by the kernels)"""
    return type(a) is _ndarray and (a.dtype is dtype or a.dtype == dtype)


def _usable(a, dtype):
    """Whether the compiled kernels may read a directly: a C-contiguous, aligned ndarray of
    dtype (a native float32/float64). (_of_dtype's test written out: this runs several
    times in every op, and a call costs ~0.05 us.)"""
    if type(a) is not _ndarray or not (a.dtype is dtype or a.dtype == dtype):
        return False
    flags = a.flags
    return flags.c_contiguous and flags.aligned


def _in_memory_order(a, dtype):
    """(b, axes): b = a.transpose(axes) C-contiguous and aligned, for an elementwise kernel to
    run over a in memory order (axes None: a itself). Where no order of the axes makes it so
    (gaps, negative strides, unaligned), a is copied first in its own axis order, NumPy's
    order="K" (a broadcast: in C order): one pass, where NumPy's forms of the unary ops take
    several. A result made as b and transposed back (`_restored`) has a's layout
    (channels_last stays so), as NumPy's and PyTorch's elementwise results do."""
    for _ in range(2):
        if _usable(a, dtype):
            return a, None
        view = _memory_order_view(a, dtype)
        if view is not None:
            return view
        a = a.copy(order="C" if _repeated_axes(a) else "K")
    raise AssertionError("a K-order copy is dense")


def _repeated_axes(a):
    """the axes along which a repeats one value (stride 0, more than one element): a
    broadcast's. A length-1 axis's zero stride (v[:, None]'s) repeats nothing."""
    return {i for i, (n, st) in enumerate(zip(a.shape, a.strides)) if st == 0 and n > 1}


def _memory_order_view(a, dtype):
    """(a.transpose(axes), axes) where that view is C-contiguous and aligned (a permutation
    of a dense array: a transpose, a channels_last layout), else None"""
    if a.ndim > 1:
        axes = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
        b = a.transpose(axes)
        if _usable(b, dtype):
            return b, axes
    return None


def _restored(b, axes):
    """b's axes back in the order _in_memory_order took them from"""
    return b if axes is None else b.transpose(np.argsort(axes))


def _in_order(x, passes):
    """passes(x_flat, out_flat) run over x in memory order into a fresh array, returned in
    x's layout (see _in_memory_order)"""
    x, axes = _in_memory_order(x, x.dtype)
    out = np.empty(x.shape, x.dtype)
    passes(x.reshape(-1), out.reshape(-1))
    return _restored(out, axes)


def _dense(a, dtype):
    """a, or a C-contiguous copy where the kernels cannot read a (see _in_memory_order)"""
    return a if _usable(a, dtype) else a.copy(order="C")


def _broadcast(s1, s2):
    """np.broadcast_shapes for two shapes (a tenth of its cost); ValueError if they do not."""
    if s1 == s2:
        return s1
    n1, n2 = len(s1), len(s2)
    if n1 < n2:
        s1, s2, n1, n2 = s2, s1, n2, n1
    out = list(s1)
    for i in range(n2):
        a, b = s1[n1 - n2 + i], s2[i]
        if a != b:
            if a == 1:
                out[n1 - n2 + i] = b
            elif b != 1:
                raise ValueError(f"shapes {s1} and {s2} do not broadcast")
    return tuple(out)


def _transposed(a, dtype):
    """a with its last two axes swapped, as a C-contiguous (B, N, M) view, if a is such a view
    of a row-major array of dtype (x.t(), x.transpose(-1, -2)); else None"""
    if a.ndim < 2 or a.shape[-1] < 2 or a.shape[-2] < 2:
        return None
    t = a.swapaxes(-1, -2)
    return t.reshape(-1, *t.shape[-2:]) if _usable(t, dtype) else None


def _repeated(a, dtype):
    """Whether a is one value of dtype repeated (every stride 0: a sum's or mean's gradient
    broadcast to its input), which a kernel reads as one element"""
    return (type(a) is _ndarray and (a.dtype is dtype or a.dtype == dtype) and a.size > 1
            and not any(a.strides) and a.flags.aligned)


def _writable(a, dtype):
    return _usable(a, dtype) and a.flags.writeable


def flat_same_layout(*arrays):
    """1-D views of arrays if all are C-contiguous, aligned, with one shape and one float
    dtype; else None (the caller falls back to NumPy)."""
    first = arrays[0]
    if type(first) is not _ndarray or not _float(first.dtype):
        return None
    dtype, shape = first.dtype, first.shape
    for a in arrays:
        if not _usable(a, dtype) or a.shape != shape:
            return None
    return [a.reshape(-1) for a in arrays]


def _writable_flat(out, *inputs):
    """flat_same_layout for an output buffer too, which must also be writeable."""
    if type(out) is not _ndarray or not out.flags.writeable:
        return None
    return flat_same_layout(out, *inputs)


def _sum_of_repeats(x, axes, repeated):
    """x, a broadcast repeating along the axes `repeated`, summed over axes with kept dims:
    its distinct part summed over the axes it varies along (in float64), times the repeats
    along the others, rounded once; then repeated along the kept broadcast axes. Exact but
    for that rounding, with no copy of x: the compiled sums' float32 partials added 70000
    equal terms 15 ulp off, NumPy's pairwise sum of the view took 4x the kernels' time."""
    base = x[tuple(slice(0, 1) if i in repeated else slice(None) for i in range(x.ndim))]
    varying = axes - repeated
    total = (np.add.reduce(base, axis=tuple(sorted(varying)), keepdims=True, dtype=np.float64)
             if varying else base.astype(np.float64))        # (a sum's g: every axis repeats)
    total *= math.prod(x.shape[i] for i in axes & repeated)
    out = np.empty(tuple(1 if i in axes else n for i, n in enumerate(x.shape)), x.dtype)
    np.copyto(out, total, casting="same_kind")       # rounded once, repeated (np.broadcast_to
    return out                                       # and a copy: 4 us)


def _axes_of(x, dim):
    """a reduction's dim (None: all; a tuple of ints, negative from the end) as a set of
    x's axes, or None where it is not one (NumPy's errors then)"""
    if not x.ndim:
        return set()
    try:
        return {int(a) % x.ndim for a in (range(x.ndim) if dim is None else dim)}
    except (TypeError, ValueError):
        return None


def _operand(x, dtype, out_size):
    """x as an array the kernels read: itself, a C-contiguous copy of a broadcast operand that
    is a view (b[:, :1], at most half of the out_size elements: the copy is the cheap pass),
    or a Python number as a 1-element array of dtype (NumPy treats Python numbers as weak:
    float32 * 2.5 stays float32); None if none of these."""
    if type(x) is _ndarray:
        if _usable(x, dtype):
            return x
        return np.ascontiguousarray(x) if x.dtype == dtype and 2 * x.size <= out_size else None
    if type(x) is float or type(x) is int:
        try:
            return np.array([x], dtype)
        except OverflowError:          # an int too large for the dtype: NumPy decides
            return None
    return None


def _small_output(a, b, least):
    """whether a op b has fewer than `least` elements (or does not broadcast: NumPy's error),
    found before the layout's checks (5 us, where (16, 256) + (256,) takes NumPy 2.3). Where
    one shape ends the other (a bias row), the output is the longer one (0.3 us against 1.2)."""
    sa = a.shape if type(a) is _ndarray else np.shape(a)
    sb = b.shape if type(b) is _ndarray else np.shape(b)
    if len(sa) < len(sb):
        sa, sb = sb, sa
    if sa[len(sa) - len(sb):] == sb:
        return math.prod(sa) < least
    try:
        return math.prod(_broadcast(sa, sb)) < least
    except ValueError:
        return True


def _binary_method(op, fallback, small_op=None):
    """CythonKernels' a op b: a small call goes to _small's kernel (small_op, where the layout
    is one it takes) or NumPy's (fallback) at once, in the method itself (one Python frame
    fewer: ~0.1 us of a 1.4 us call on 100 elements)."""
    def method(self, a, b):
        na, nb, least = (a.size if type(a) is _ndarray else 1), (
            b.size if type(b) is _ndarray else 1), self.min_size_binary
        if na * nb < least or (na < least and nb < least and _small_output(a, b, least)):
            if small_op is not None:
                out = _small.binary(small_op, a, b)
                if out is not None:
                    return out
            return fallback(self, a, b)
        return self._binary(op, a, b, fallback)
    method.__name__ = method.__qualname__ = fallback.__name__
    method.__doc__ = fallback.__doc__
    return method


# the ops (forward, backward) whose NumPy form takes several passes or a libm call per element
_FUSED_BACKWARD = frozenset((_ew.RELU, _ew.LEAKY_RELU, _ew.ABS, _ew.CLAMP, _ew.HARDTANH,
                             _ew.GELU_ERF, _ew.GELU_TANH, _ew.POW_INT, _ew.SILU, _ew.ELU,
                             _ew.SOFTPLUS, _ew.LOG_SIGMOID, _ew.HARDSWISH, _ew.HARDSIGMOID,
                             _ew.EXPM1, _ew.LOG1P, _ew.ERF, _ew.MISH, _ew.LOG2, _ew.LOG10,
                             _ew.EXP2, _ew.ATAN, _ew.ASIN, _ew.ACOS, _ew.SINH, _ew.COSH,
                             _ew.ATANH, _ew.ASINH, _ew.ACOSH, _ew.TAN, _ew.ERFC))
_FUSED_FORWARD = _FUSED_BACKWARD | {_ew.SIGMOID, _ew.GELU_TANH_INNER, _ew.NEG_HALF_SQUARE,
                                    _ew.SIGN, _ew.ERFINV}


def _unary_backward_method(op, fallback, float32_only=None):
    """CythonKernels' backward of a one-kernel unary op, from its saved s: a small call goes
    to NumPy's (fallback) at once, before a closure is made for the layouts the kernel does
    not take. float32_only (how the kernel computes) sends float64 to NumPy's too: a float64
    kernel would call libm per element, where NumPy's loops are SIMD."""
    def method(self, s, g, acc=None):
        if (type(s) is not _ndarray or s.size < self._least(op, _FUSED_BACKWARD)
                or (float32_only is not None and s.dtype != _F32)):
            return fallback(self, s, g, acc)
        return self._unary_backward(op, lambda: fallback(self, s, g, acc), s, g, acc)
    method.__name__ = method.__qualname__ = fallback.__name__
    method.__doc__ = fallback.__doc__ if float32_only is None else \
        f"{fallback.__doc__}: float32 in one pass ({float32_only})"
    return method


def _float32_unary_method(op, fallback, why):
    """CythonKernels' forward of a unary op whose float32 kernel beats NumPy's ufunc (`why`
    says by how much); float64, other dtypes and layouts the kernel does not take go to
    NumPy's (fallback)."""
    def method(self, x):
        if type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(op, x)
            if out is not None:
                return out
        return fallback(self, x)
    method.__name__ = method.__qualname__ = fallback.__name__
    method.__doc__ = f"{fallback.__doc__}: float32 in one vectorised pass ({why})"
    return method


def _along_rows(a, dim, idx):
    """(a, idx) as the (L, V, K) and (L, N, K) blocks of the gather and scatter kernels (idx
    as int64, copied if it must be), where idx indexes a's axis dim and has a's length on
    every other axis; None otherwise (a not a float array: NumPy's)"""
    if not (type(a) is _ndarray and _float(a.dtype) and type(idx) is _ndarray
            and idx.dtype.kind == "i" and idx.ndim == a.ndim > dim
            and idx.shape[:dim] == a.shape[:dim] and idx.shape[dim + 1:] == a.shape[dim + 1:]):
        return None
    lead, inner = math.prod(a.shape[:dim]), math.prod(a.shape[dim + 1:])
    return (a.reshape(lead, a.shape[dim], inner),
            np.ascontiguousarray(idx, np.int64).reshape(lead, idx.shape[dim], inner))


def _loss_total(total, x, reduction):
    """a loss kernel's sum over x's elements as the 0-d result of the reduction"""
    if reduction == "mean":
        total = total / x.size if x.size else float("nan")          # (PyTorch's empty mean)
    return np.asarray(total, dtype=x.dtype)


class CythonKernels(NumpyKernels):
    name = "cython"
    # Unary ops: NumPy's exp, log, sqrt and tanh (and the one or two products of their
    # backwards) are SIMD loops that a compiled call catches up with at 4K-16K elements; where
    # NumPy's form takes several passes (np.where, temporaries) or a libm call per element (the
    # rest, `_FUSED_FORWARD` / `_FUSED_BACKWARD`), the one compiled pass wins from 256-1024
    # elements (float32 sigmoid 2x NumPy's at 1024, gelu 5x, relu 2x; float64 sigmoid and silu
    # at parity at 512-1024; one thread, Zen 4).
    min_size = 8192
    min_size_fused = 512

    # ---- gradient buffers --------------------------------------------------------------
    def accumulate_(self, acc, g):
        if acc.size >= self.min_size and _float(acc.dtype) and _writable(acc, acc.dtype):
            if g.shape == acc.shape and _usable(g, acc.dtype):
                _grad_for[acc.dtype].accumulate_(acc.reshape(-1), g.reshape(-1))
                return acc
            gt = _transposed(g, acc.dtype) if g.shape == acc.shape else None
            if gt is not None:                     # (a transposed view's gradient)
                _grad_for[acc.dtype].transpose_into_(gt, acc.reshape(gt.shape[0], *g.shape[-2:]),
                                                     True)
                return acc
            if g.dtype == acc.dtype and ((g.size == 1 and g.ndim <= acc.ndim) or (
                    g.shape == acc.shape and not any(g.strides))):   # (a sum's g, expanded)
                _grad_for[acc.dtype].accumulate_scalar_(acc.reshape(-1), g[(0,) * g.ndim])
                return acc
            if (g.shape == acc.shape and type(g) is _ndarray and g.dtype == acc.dtype
                    and 0 in g.strides and self._accumulate_broadcast(acc, g)):
                return acc
        return NumpyKernels.accumulate_(self, acc, g)

    def _accumulate_broadcast(self, acc, g):
        """acc += g for a g broadcast from fewer elements (a sum's gradient, expanded back):
        the add kernel's pass, with g's one plane of values read as its mode says; whether it
        applied"""
        compact = g[tuple(slice(0, 1) if s == 0 else slice(None) for s in g.strides)]
        layout = self._binary_layout(acc, compact, None, 0)
        if layout is None:
            return False
        dtype, x, xm, y, ym, _, grid = layout
        _bn_for[dtype].binary_(_ADD, x, xm, y, ym, acc.reshape(-1), *grid)
        return True

    def index_add_(self, out, dim, idx, src):
        """one compiled pass, each element's additions in order of i (np.add.at's bits),
        column chunks in parallel; src copied once where the kernel cannot read it (a sum's
        gradient reaches embedding broadcast: np.add.at took 3.5 ms of 10^4 x 128's step)"""
        if (type(out) is _ndarray and _float(out.dtype) and _writable(out, out.dtype)
                and _of_dtype(src, out.dtype) and type(idx) is _ndarray and idx.ndim == 1
                and idx.dtype.kind == "i"
                and src.shape == out.shape[:dim] + (idx.size,) + out.shape[dim + 1:]):
            lead, inner = math.prod(out.shape[:dim]), math.prod(out.shape[dim + 1:])
            _grad_for[out.dtype].index_add_(out.reshape(lead, out.shape[dim], inner),
                                            np.ascontiguousarray(idx, np.int64),
                                            _dense(src, out.dtype).reshape(lead, idx.size, inner))
            return out
        return super().index_add_(out, dim, idx, src)

    def scatter_add_(self, out, dim, idx, src):
        """one compiled pass where the index spans out's other axes (as gather's backward
        has it), each element's additions in order of i (np.add.at's bits)"""
        rows = _along_rows(out, dim, idx)
        if rows is not None and _writable(out, out.dtype) and src.shape == idx.shape and \
                _of_dtype(src, out.dtype):
            _grad_for[out.dtype].scatter_add_(rows[0], rows[1],
                                              _dense(src, out.dtype).reshape(rows[1].shape))
            return out
        return super().scatter_add_(out, dim, idx, src)

    def gather(self, x, dim, idx):
        """one compiled pass where the index spans x's other axes, rows in parallel"""
        rows = _along_rows(x, dim, idx)
        if rows is None or not _usable(x, x.dtype):
            return super().gather(x, dim, idx)
        out = np.empty(idx.shape, x.dtype)
        _grad_for[x.dtype].gather_(rows[0], rows[1], out.reshape(rows[1].shape))
        return out

    def _conv_arrays(self, x, w, b, stride, pad, dilation, dense_x=True):
        """(x, w as rows, b, the output's spatial size) made readable by the 2-D (or 1-D, as
        a height of 1) convolution kernels, or None where they do not apply: other dims or
        dtypes (x None unless dense_x: only its shape is read)"""
        if not (type(x) is _ndarray and type(w) is _ndarray and x.ndim == 4 and w.ndim == 4
                and _float(x.dtype) and w.dtype == x.dtype
                and (b is None or (type(b) is _ndarray and b.dtype == x.dtype))):
            return None
        size = tuple(conv_output_size(s, k, d, p, st) for s, k, d, p, st in
                     zip(x.shape[2:], w.shape[2:], dilation, pad, stride))
        if max(stride + dilation + (pad[0][0], pad[1][0], math.prod(size))) >= 2**31:
            return None                 # (the kernels' ints, gemm's among them)
        return (_dense(x, x.dtype) if dense_x else None,
                _dense(w, x.dtype).reshape(w.shape[0], math.prod(w.shape[1:])),
                None if b is None else _dense(b, x.dtype), size)

    def conv(self, x, w, b, stride, pad, dilation, groups):
        """a few small images (or a band of a large one's output rows) at a time: their
        windows (im2col) into a buffer that stays in cache, a product per group straight into
        the output onto the bias; chunks in parallel"""
        arrays = self._conv_arrays(x, w, b, stride, pad, dilation)
        if arrays is None:
            return super().conv(x, w, b, stride, pad, dilation, groups)
        x, w_rows, b, size = arrays
        out = np.empty((x.shape[0], w.shape[0], *size), x.dtype)
        _linalg.conv2d_(x, w_rows, b, out, *w.shape[2:], pad[0][0], pad[1][0], *dilation,
                        *stride, groups)
        return out

    def conv_backward(self, x, w, g, stride, pad, dilation, groups, need_x=True, need_w=True,
                      need_b=True):
        """in the forward's chunks (their windows taken again), the weight's gradient summed
        over them in fixed runs, runs in parallel"""
        arrays = self._conv_arrays(x, w, None, stride, pad, dilation, dense_x=need_w)
        if arrays is None or type(g) is not _ndarray or g.dtype != x.dtype:
            return super().conv_backward(x, w, g, stride, pad, dilation, groups, need_x,
                                         need_w, need_b)
        x_read, w_rows, _, _ = arrays
        dx = np.empty(x.shape, x.dtype) if need_x else None
        dw = np.empty(w_rows.shape, x.dtype) if need_w else None
        if need_x or need_w:
            _linalg.conv2d_backward_(w_rows, _dense(g, g.dtype), x_read, dx, dw, 0.0,
                                     *w.shape[2:], pad[0][0], pad[1][0], *dilation, *stride,
                                     groups)
        db = self.sum(g, (0, 2, 3)) if need_b else None
        return dx, None if dw is None else dw.reshape(w.shape), db

    def take_windows(self, x, kernel, dilation, stride, out):
        """2-D windows of a float image in one compiled pass over each plane, planes in
        parallel"""
        if len(kernel) == 2 and type(x) is _ndarray and _float(x.dtype) and _usable(x, x.dtype):
            n, c = x.shape[:2]
            cols = np.empty((n, c, *kernel, *out), x.dtype)
            _grad_for[x.dtype].take_windows_2d_(x.reshape(n * c, *x.shape[2:]),
                                                cols.reshape(n * c, *kernel, *out),
                                                *dilation, *stride)
            return cols
        return super().take_windows(x, kernel, dilation, stride, out)

    def add_windows(self, out, cols, dilation, stride):
        """2-D windows in one compiled pass over each plane (NumPy's took a strided pass per
        kernel position), planes in parallel"""
        if (cols.ndim == 6 and type(out) is _ndarray and _float(out.dtype)
                and _writable(out, out.dtype) and _usable(cols, out.dtype)):
            n, c = out.shape[:2]
            _grad_for[out.dtype].add_windows_2d_(out.reshape(n * c, *out.shape[2:]),
                                                 cols.reshape(n * c, *cols.shape[2:]),
                                                 *dilation, *stride)
            return out
        return super().add_windows(out, cols, dilation, stride)

    def max_pool(self, x, kernel, dilation, pad, stride, low):
        """1-D and 2-D windows of float planes in one compiled pass, each window read where it
        lies (no copy of the windows), planes in parallel"""
        if not (len(kernel) <= 2 and type(x) is _ndarray and _float(x.dtype) and x.size
                and low == -np.inf):
            return super().max_pool(x, kernel, dilation, pad, stride, low)
        planes, ones = x.shape[0], (1,) * (2 - len(kernel))      # (1-D: a plane of one row)
        sizes = ones + x.shape[1:]
        out = [conv_output_size(s, k, d, p, st) for s, k, d, p, st in
               zip(sizes, ones + kernel, ones + dilation, ((0, 0),) * len(ones) + pad,
                   ones + stride)]
        values = np.empty((planes, *out), x.dtype)
        idx = np.empty((planes, *out), np.int64)
        _grad_for[x.dtype].max_pool2d_(_dense(x, x.dtype).reshape(planes, *sizes), values, idx,
                                       *(ones + kernel), *((0,) * len(ones)),
                                       *(p for p, _ in pad), *(ones + dilation), *(ones + stride))
        return values.reshape(planes, -1), idx.reshape(planes, -1)

    def amax(self, x, dim=None, keepdim=False):
        out = self._extreme(x, dim, keepdim, False)
        return out if out is not None else super().amax(x, dim, keepdim)

    def amin(self, x, dim=None, keepdim=False):
        out = self._extreme(x, dim, keepdim, True)
        return out if out is not None else super().amin(x, dim, keepdim)

    def _extreme(self, x, dim, keepdim, lowest):
        """amax / amin over one run of adjacent axes in one compiled pass (NumPy's reduction
        along a short last or a middle axis runs an element at a time: (64, 256, 64) over
        the last axis took 970 us, over the middle 490; this ~60); None for other layouts"""
        if not (type(x) is _ndarray and x.size >= self.min_size and _float(x.dtype)
                and _usable(x, x.dtype)):
            return None
        axes = _axes_of(x, dim)
        if axes is None:
            return None
        axes = sorted(axes)
        if not axes or axes[-1] - axes[0] + 1 != len(axes):
            return None                        # no axis, or axes with kept ones between
        i, j = axes[0], axes[-1] + 1
        A, K, L = math.prod(x.shape[:i]), math.prod(x.shape[i:j]), math.prod(x.shape[j:])
        if not K:
            return None                        # NumPy's error
        kept = x.shape[:i] + ((1,) * len(axes) if keepdim else ()) + x.shape[j:]
        out = np.empty(kept, x.dtype)
        _rd_for[x.dtype].extreme_(x.reshape(A, K, L), out.reshape(A, L), lowest)
        return out

    def first_max_last_nan(self, x, axis):
        """one compiled pass for a float array (vectorised across the other axes' positions)"""
        if not (type(x) is _ndarray and x.size >= self.min_size and _float(x.dtype)
                and _usable(x, x.dtype) and x.ndim and x.shape[axis]):
            return super().first_max_last_nan(x, axis)
        axis %= x.ndim
        lead, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
        best = np.empty((lead, inner), x.dtype)
        idx = np.empty((lead, inner), np.int64)
        _rd_for[x.dtype].first_max_last_nan_(x.reshape(lead, x.shape[axis], inner), best, idx)
        return idx.reshape(x.shape[:axis] + x.shape[axis + 1:])

    def running_sum(self, x, axis=-1, reverse=False):
        """one compiled pass in double at every size (x copied once where the kernels cannot
        read it): along the last axis a row at a time, four rows side by side (each running
        sum waits on its own adds: 4 x 32 took NumPy's float64 copy, cumsum and cast 7.9 us,
        this 1.6); along another axis, vectorised across the positions after it"""
        if not (type(x) is _ndarray and x.ndim and x.size and _float(x.dtype)):
            return super().running_sum(x, axis, reverse)           # (empty: nothing to scan)
        x, axis = _dense(x, x.dtype), axis % x.ndim
        out = np.empty(x.shape, x.dtype)
        A, K = math.prod(x.shape[:axis]), x.shape[axis]
        L = x.size // (A * K)
        if L == 1:
            _rd_for[x.dtype].cumsum_rows_(x.reshape(A, K), out.reshape(A, K), reverse)
        else:
            _rd_for[x.dtype].cumsum_cols_(x.reshape(A, K, L), out.reshape(A, K, L), reverse)
        return out

    def as_contiguous(self, x):
        """a row-major copy of x; a transposed one (its last two axes swapped) in tiles"""
        gt = _transposed(x, x.dtype) if (type(x) is _ndarray and x.size >= self.min_size
                                         and _float(x.dtype)) else None
        if gt is None:
            return NumpyKernels.as_contiguous(self, x)
        out = np.empty(x.shape, x.dtype)
        _grad_for[x.dtype].transpose_into_(gt, out.reshape(gt.shape[0], *x.shape[-2:]), False)
        return out

    def zero_(self, a):
        if a.size >= self.min_size and _float(a.dtype) and _writable(a, a.dtype):
            _grad_for[a.dtype].zero_(a.reshape(-1))
            return a
        return NumpyKernels.zero_(self, a)

    # ---- binary elementwise ----------------------------------------------------------
    def _binary_layout(self, a, b, shape, least):
        """(dtype, x, xm, y, ym, shape, grid) for the compiled binary kernels, grid = (R, C, O,
        x_outer, y_outer) as they take it (see binary.pyx's grid), or None (fewer than `least`
        elements also give None)."""
        ta, tb = type(a) is _ndarray, type(b) is _ndarray
        if ta:
            dtype = a.dtype
            if tb and not (b.dtype is dtype or b.dtype == dtype):
                return None
        elif tb:
            dtype = b.dtype
        else:
            return None
        if not _float(dtype):
            return None
        # small calls first, before any other check: no output is larger than the product
        # of the operands' sizes, and below `least` NumPy's own loop is the faster one
        if (a.size if ta else 1) * (b.size if tb else 1) < least:
            return None
        if ta and tb and a.shape == b.shape and (shape is None or shape == a.shape):
            n = a.size
            if n < least or not (_usable(a, dtype) and _usable(b, dtype)):
                return None
            return (dtype, a.reshape(-1), _FULL, b.reshape(-1), _FULL, a.shape,
                    (1, n, 1, True, True))
        try:
            full = _broadcast(np.shape(a), np.shape(b))
        except ValueError:
            if shape is None:
                return None                      # NumPy raises its own message
            full = None
        if shape is None:
            shape = full
        elif full != shape:
            return None              # (a g the operands broadcast to: NumPy's, then reduced)
        size = math.prod(shape)
        x, y = _operand(a, dtype, size), _operand(b, dtype, size)
        if x is None or y is None:
            return None
        grid = _bn.grid(shape, [x if ta else x.reshape(()), y if tb else y.reshape(())])
        if grid is None:
            return None
        O, R, C, (xm, ym), (xo, yo) = grid
        if O * R * C < least:
            return None
        return dtype, x.reshape(-1), xm, y.reshape(-1), ym, shape, (R, C, O, xo, yo)

    # a op b is one NumPy ufunc pass (AVX-512 here), and the fused backward two: compiled,
    # they reach parity near 32768 elements on one thread (the fixed cost of the layout
    # checks and six buffer views is ~4 us) and gain the second thread from there.
    min_size_binary = 32768

    def _binary(self, op, a, b, fallback):
        layout = self._binary_layout(a, b, None, self.min_size_binary)
        if layout is None:
            return fallback(self, a, b)
        dtype, x, xm, y, ym, shape, grid = layout
        out = np.empty(shape, dtype)
        _bn_for[dtype].binary_(op, x, xm, y, ym, out.reshape(-1), *grid)
        return out

    add = _binary_method(_ADD, NumpyKernels.add, _small.ADD)
    sub = _binary_method(_SUB, NumpyKernels.sub, _small.SUB)
    mul = _binary_method(_MUL, NumpyKernels.mul, _small.MUL)
    div = _binary_method(_DIV, NumpyKernels.div, _small.DIV)
    maximum = _binary_method(_MAX, NumpyKernels.maximum)
    minimum = _binary_method(_MIN, NumpyKernels.minimum)

    def _binary_backward(self, op, a, b, g, need_a, need_b, acc_a, acc_b):
        """Both input gradients in one pass over g, each reduced to its input's shape and
        added into acc_a / acc_b when given; None if the layout is not one the kernel takes."""
        least = self.min_size_binary
        if type(g) is not _ndarray or g.size < least:
            return None
        layout = self._binary_layout(a, b, g.shape, least)
        if layout is None:
            return None
        dtype, x, xm, y, ym, _, grid = layout
        R, C, O, xo, yo = grid
        if not _usable(g, dtype):
            # a broadcast g (a sum's, expanded) or a strided one: one copy, then the fused
            # pass, where NumPy's form takes three or four ((256, 256) / (256,): 172 -> 69 us)
            if g.dtype != dtype or g.size > self.max_copy_sum:
                return None
            g = g.copy(order="C")
        if (need_a and type(a) is not _ndarray) or (need_b and type(b) is not _ndarray):
            return None
        if O > 1 and ((need_a and xm == _FULL and not xo) or (need_b and ym == _FULL and not yo)):
            return None                 # (a whole plane summed over planes: NumPy's)

        def target(need, acc, operand):
            """(the kernel's gradient buffer, whether the kernel adds into it)"""
            if not need:
                return None, False
            if acc is not None and acc.shape == operand.shape and _writable(acc, dtype):
                return acc, True
            return np.empty(operand.shape, dtype), False

        (ga, add_a), (gb, add_b) = target(need_a, acc_a, a), target(need_b, acc_b, b)
        unused = None if need_a and need_b else np.empty(1, dtype)   # g may be read-only
        _bn_for[dtype].binary_backward_(op, x, xm, y, ym, g.reshape(-1),
                                        unused if ga is None else ga.reshape(-1),
                                        unused if gb is None else gb.reshape(-1),
                                        need_a, need_b, add_a, add_b, *grid)
        return ga, gb

    def _binary_backward_or(self, op, fallback, a, b, g, need_a, need_b, acc_a, acc_b):
        if type(g) is _ndarray and g.size < self.min_size_binary:    # small: NumPy at once
            return fallback(self, a, b, g, need_a, need_b, acc_a, acc_b)
        r = self._binary_backward(op, a, b, g, need_a, need_b, acc_a, acc_b)
        return r if r is not None else fallback(self, a, b, g, need_a, need_b, acc_a, acc_b)

    def mul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        if (acc_a is None and acc_b is None and type(g) is _ndarray
                and g.size < self.min_size_binary):      # small: _small's products, else NumPy
            ga = _small.binary(_small.MUL, g, b) if need_a else None
            gb = _small.binary(_small.MUL, g, a) if need_b else None
            if (ga is not None or not need_a) and (gb is not None or not need_b):
                return ga, gb
        return self._binary_backward_or(_MUL, NumpyKernels.mul_backward, a, b, g, need_a,
                                        need_b, acc_a, acc_b)

    def div_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        return self._binary_backward_or(_DIV, NumpyKernels.div_backward, a, b, g, need_a,
                                        need_b, acc_a, acc_b)

    def maximum_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        return self._binary_backward_or(_MAX, NumpyKernels.maximum_backward, a, b, g, need_a,
                                        need_b, acc_a, acc_b)

    def minimum_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        return self._binary_backward_or(_MIN, NumpyKernels.minimum_backward, a, b, g, need_a,
                                        need_b, acc_a, acc_b)

    # NumPy's AVX-512 pairwise sums beat the grid reduction on one thread (1.4-2.5x at
    # 10^4-10^6); compiled, the sums gain the second thread, so they start at 2^20 elements.
    # But NumPy's sum over the leading axes is slow when few columns stay (2^16 elements down
    # to 10 columns: 110 against the grid's 56 us; 2^20: 1346 against 399 us; to 100: a tie
    # at 2^16, 182 against 102 us at 2^20): those start at 2^16.
    min_size_reduce = 1 << 20
    min_size_reduce_narrow = 1 << 16
    narrow_columns = 128
    # A sum over one run of axes not the last (A, K, L, K summed: the leading axes of a bias
    # gradient, or a middle run) is the column kernel's from 2^12 elements: NumPy adds such an
    # axis a row at a time, slower at every size ((256, 16) over 0: 7.5 us against 0.7;
    # (1024, 64) 19 against 3.4; (4096, 256) 119 against 59; (500000, 2) 7130 against 54;
    # one thread, Zen 4), and in float32 its error grows with the rows.
    min_size_sum_cols = 1 << 12

    def _grid_sum(self, size, kept, leading):
        """Whether a sum of `size` elements down to `kept` (over the leading axes only, if
        `leading`) goes to the grid kernel."""
        return size >= self.min_size_reduce or (
            leading and size >= self.min_size_reduce_narrow and kept <= self.narrow_columns)

    def sum_to_shape(self, g, shape):
        """g summed down to shape in one pass (the add kernel's backward with one side)."""
        if shape.count(1) == len(shape) and type(g) is _ndarray and len(shape) <= g.ndim:
            total = self._sum_all(g)          # to one element: PyTorch's order (sum_to's)
            if total is not None:
                return total.reshape(shape) if shape else total
        if type(g) is _ndarray and len(shape) <= g.ndim and g.size >= self.min_size_sum_cols:
            axes = broadcast_axes(g.shape, shape)   # as sum's: the column, outer, row and
            s = self._reduced(g, axes) if axes else None    # grid kernels by the axes' layout
            if s is not None:          # ((64, 128, 32) to (128, 1): 257 us by NumPy, 55 here)
                return s.reshape(shape)
        return NumpyKernels.sum_to_shape(self, g, shape)

    # ---- unary elementwise -------------------------------------------------------------
    def _least(self, op, fused):
        """the size from which op's compiled pass beats NumPy's (see min_size)"""
        return self.min_size_fused if op in fused else self.min_size

    def _unary_backward(self, op, fallback, s, g, acc, p0=0.0, p1=0.0, flags=0, aux=None):
        """out (+)= g * f'(.) from the saved s in one pass (s and g copied once where the
        kernel cannot read them: strided, broadcast, unaligned); fallback() for small sizes,
        other dtypes and shapes."""
        if type(s) is _ndarray and s.size >= self._least(op, _FUSED_BACKWARD):
            dtype = s.dtype
            if (_float(dtype) and type(g) is _ndarray and s.shape == g.shape
                    and (g.dtype is dtype or g.dtype == dtype)):
                add = acc is not None and acc.shape == s.shape and _writable(acc, dtype)
                if aux is None and _usable(s, dtype) and _usable(g, dtype) and (
                        add or acc is None):          # the common case in a few lines
                    out = acc if add else np.empty(s.shape, dtype)
                    _ew_for[dtype].unary_backward_(op, s.reshape(-1), g.reshape(-1),
                                                   out.reshape(-1), add, p0, p1, flags, None)
                    return out
                if add:                        # the kernel's order: acc's, else s's
                    s, axes = _dense(s, dtype), None
                else:
                    s, axes = _in_memory_order(s, dtype)
                if axes is not None:
                    g = g.transpose(axes)
                    aux = None if aux is None else aux.transpose(axes)
                if not _repeated(g, dtype):
                    g = _dense(g, dtype)
                out = acc if add else np.empty(s.shape, dtype)
                gf = g.reshape(-1)
                _ew_for[dtype].unary_backward_(op, s.reshape(-1), gf if gf.strides[0] else gf[:1],
                                               out.reshape(-1), add, p0, p1, flags,
                                               None if aux is None else
                                               _dense(aux, dtype).reshape(-1))
                return _restored(out, axes)
        return fallback()

    def _unary(self, op, x, p0=0.0, p1=0.0, flags=0, least=None):
        """f(x) in one compiled pass (x copied once where the kernel cannot read it), or None
        for sizes below op's threshold (or least) and dtypes the kernels do not take."""
        if least is None:
            least = self._least(op, _FUSED_FORWARD)
        if type(x) is _ndarray and x.size >= least and _float(x.dtype):
            kernels = _ew_for[x.dtype]
            f = x.flags
            if f.c_contiguous and f.aligned:     # the common case in a line (1.3 -> 0.7 us)
                out = np.empty(x.shape, x.dtype)
                kernels.unary_(op, x.reshape(-1), out.reshape(-1), p0, p1, flags)
                return out
            return _in_order(x, lambda xf, of: kernels.unary_(op, xf, of, p0, p1, flags))
        return None

    # NumPy's float32 exp and log are glibc's scalar functions where NumPy has no AVX-512 loop
    exp = _float32_unary_method(_ew.EXP, NumpyKernels.exp, "within an ulp; ~2.4 ns an element "
                                "at 10^6 on Zen 1, np.exp ~4.5")
    exp_backward = _unary_backward_method(_ew.EXP, NumpyKernels.exp_backward)
    log = _float32_unary_method(_ew.LOG, NumpyKernels.log, "within an ulp; ~2.8 ns an element "
                                "at 10^6 on Zen 1, np.log ~5.4")
    log_backward = _unary_backward_method(_ew.LOG, NumpyKernels.log_backward)
    sqrt_backward = _unary_backward_method(_ew.SQRT, NumpyKernels.sqrt_backward)
    # NumPy's float32 expm1, log1p and SciPy's erf are a libm call per element (~15-20 ns)
    expm1 = _float32_unary_method(_ew.EXPM1, NumpyKernels.expm1, "within an ulp")
    expm1_backward = _unary_backward_method(_ew.EXPM1, NumpyKernels.expm1_backward)
    log1p = _float32_unary_method(_ew.LOG1P, NumpyKernels.log1p, "within an ulp")
    log1p_backward = _unary_backward_method(_ew.LOG1P, NumpyKernels.log1p_backward)
    erf = _float32_unary_method(_ew.ERF, NumpyKernels.erf, "in two pieces, within an ulp")
    erf_backward = _unary_backward_method(_ew.ERF, NumpyKernels.erf_backward,
                                          float32_only="the kernels' exp")
    # SciPy's float32 erfc: ~20 ns an element; here one double formula, within an ulp
    erfc = _float32_unary_method(_ew.ERFC, NumpyKernels.erfc, "within an ulp")
    erfc_backward = _unary_backward_method(_ew.ERFC, NumpyKernels.erfc_backward,
                                           float32_only="the kernels' exp")
    # SciPy's float32 erfinv: ~23 ns an element; here a double formula, ~3.4 at AVX2
    erfinv = _float32_unary_method(_ew.ERFINV, NumpyKernels.erfinv, "within an ulp")
    # NumPy's mish: three libm passes (exp, log1p, tanh); here one exp and one division
    mish = _float32_unary_method(_ew.MISH, NumpyKernels.mish, "within 4 ulp")
    mish_backward = _unary_backward_method(_ew.MISH, NumpyKernels.mish_backward,
                                           float32_only="one exp")
    # NumPy's float32 log2, log10, exp2, arctan, arcsin, arccos, sinh, cosh, arctanh, arcsinh,
    # arccosh and tan are glibc's, a call per element (4-30 ns; the NumPy backend's take
    # float64's, on an AVX-512 host NumPy's float32 SIMD loops being up to 3 ulp off). Their
    # backwards here are NumPy's operations in one pass (the same bits, either dtype); sinh's
    # and cosh's take each other's kernel (within an ulp)
    log2 = _float32_unary_method(_ew.LOG2, NumpyKernels.log2, "within an ulp")
    log2_backward = _unary_backward_method(_ew.LOG2, NumpyKernels.log2_backward)
    log10 = _float32_unary_method(_ew.LOG10, NumpyKernels.log10, "within an ulp")
    log10_backward = _unary_backward_method(_ew.LOG10, NumpyKernels.log10_backward)
    exp2 = _float32_unary_method(_ew.EXP2, NumpyKernels.exp2, "within an ulp")
    exp2_backward = _unary_backward_method(_ew.EXP2, NumpyKernels.exp2_backward)
    atan = _float32_unary_method(_ew.ATAN, NumpyKernels.atan, "within an ulp")
    atan_backward = _unary_backward_method(_ew.ATAN, NumpyKernels.atan_backward)
    asin = _float32_unary_method(_ew.ASIN, NumpyKernels.asin, "within an ulp")
    asin_backward = _unary_backward_method(_ew.ASIN, NumpyKernels.asin_backward)
    acos = _float32_unary_method(_ew.ACOS, NumpyKernels.acos, "within an ulp")
    acos_backward = _unary_backward_method(_ew.ACOS, NumpyKernels.acos_backward)
    sinh = _float32_unary_method(_ew.SINH, NumpyKernels.sinh, "within an ulp")
    sinh_backward = _unary_backward_method(_ew.SINH, NumpyKernels.sinh_backward)
    cosh = _float32_unary_method(_ew.COSH, NumpyKernels.cosh, "within an ulp")
    cosh_backward = _unary_backward_method(_ew.COSH, NumpyKernels.cosh_backward)
    atanh = _float32_unary_method(_ew.ATANH, NumpyKernels.atanh, "within an ulp")
    atanh_backward = _unary_backward_method(_ew.ATANH, NumpyKernels.atanh_backward)
    asinh = _float32_unary_method(_ew.ASINH, NumpyKernels.asinh, "within an ulp")
    asinh_backward = _unary_backward_method(_ew.ASINH, NumpyKernels.asinh_backward)
    acosh = _float32_unary_method(_ew.ACOSH, NumpyKernels.acosh, "within an ulp")
    acosh_backward = _unary_backward_method(_ew.ACOSH, NumpyKernels.acosh_backward)
    tan = _float32_unary_method(_ew.TAN, NumpyKernels.tan, "within an ulp")
    tan_backward = _unary_backward_method(_ew.TAN, NumpyKernels.tan_backward)

    def sign(self, x):
        """floats in one compiled pass (NumPy's form takes four); integers NumPy's"""
        out = self._unary(_ew.SIGN, x)
        return out if out is not None else super().sign(x)

    def tanh(self, x):
        """float32: one vectorised pass at every size (within an ulp, as PyTorch's; NumPy's
        own runs glibc's tanhf, ~7 ns an element, where it has no AVX-512, and its AVX-512
        loop is an ulp off in a third of the values and gives 0.99999994 for x in [9.01, 10),
        where tanh rounds to 1: a saturated unit's gradient was 1.2e-7, PyTorch's 0);
        float64: NumPy's tanh, on slices of a big array in parallel at two or more threads"""
        if type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(_ew.TANH, x, least=1)
            if out is not None:
                return out
        out = _sliced_ufunc(np.tanh, x)
        return out if out is not None else super().tanh(x)

    tanh_backward = _unary_backward_method(_ew.TANH, NumpyKernels.tanh_backward)

    def sigmoid(self, x):
        """e = exp(-|x|), then 1/(1+e) or e/(1+e) (no overflow): one pass for float32, around
        NumPy's SIMD exp for float64"""
        if type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(_ew.SIGMOID, x)
            if out is not None:
                return out
        if type(x) is _ndarray and x.size >= self.min_size_fused and _float(x.dtype):
            kernels = _ew_for[x.dtype]

            def passes(xf, of):
                kernels.unary_(_ew.NEG_ABS, xf, of)
                np.exp(of, out=of)
                kernels.unary_(_ew.SIGMOID_FROM_EXP, xf, of, aux=of)
            return _in_order(x, passes)
        return super().sigmoid(x)

    sigmoid_backward = _unary_backward_method(_ew.SIGMOID, NumpyKernels.sigmoid_backward)

    def silu(self, x):
        """float32: x sigmoid(x) in one pass (the sigmoid as `sigmoid`'s); float64: NumPy's"""
        out = self._unary(_ew.SILU, x) if type(x) is _ndarray and x.dtype == _F32 else None
        return out if out is not None else super().silu(x)

    silu_backward = _unary_backward_method(
        _ew.SILU, NumpyKernels.silu_backward,
        float32_only="one pass from x, its sigmoid computed again there")

    def relu(self, x):
        out = self._unary(_ew.RELU, x)
        return out if out is not None else super().relu(x)

    relu_backward = _unary_backward_method(_ew.RELU, NumpyKernels.relu_backward)

    def leaky_relu(self, x, slope):
        out = self._unary(_ew.LEAKY_RELU, x, _as_dtype(slope, x))
        return out if out is not None else super().leaky_relu(x, slope)

    def leaky_relu_backward(self, x, g, slope, acc=None):
        if type(x) is not _ndarray or x.size < self.min_size_fused:     # small: NumPy's
            return NumpyKernels.leaky_relu_backward(self, x, g, slope, acc)
        return self._unary_backward(_ew.LEAKY_RELU, lambda: super(
            CythonKernels, self).leaky_relu_backward(x, g, slope, acc), x, g, acc,
            _as_dtype(slope, x))

    def gelu(self, x, approximate="none"):
        if approximate != "tanh":
            out = self._unary(_ew.GELU_ERF, x)
        elif type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(_ew.GELU_TANH, x)          # one pass, with the kernels' tanh
        elif type(x) is _ndarray and x.size >= self.min_size_fused and _float(x.dtype):
            kernels = _ew_for[x.dtype]

            def passes(xf, of):
                kernels.unary_(_ew.GELU_TANH_INNER, xf, of)     # k * (x + c x^3)
                np.tanh(of, out=of)                              # NumPy's SIMD tanh
                kernels.unary_(_ew.GELU_TANH_OUTER, xf, of, aux=of)
            return _in_order(x, passes)
        else:
            out = None
        return out if out is not None else super().gelu(x, approximate)

    def gelu_backward(self, x, g, approximate="none", acc=None):
        def fallback():
            return super(CythonKernels, self).gelu_backward(x, g, approximate, acc)
        # float32: all of it in one pass, with the kernels' own exp and tanh; float64: the
        # transcendental part by NumPy's SIMD exp / tanh, the rest in one fused pass
        erf_form = approximate != "tanh"
        if type(x) is _ndarray and x.dtype == _F32 and g.shape == x.shape:
            return self._unary_backward(_ew.GELU_ERF if erf_form else _ew.GELU_TANH, fallback,
                                        x, g, acc)
        t = self._unary(_ew.NEG_HALF_SQUARE if erf_form else _ew.GELU_TANH_INNER, x)
        if t is None or g.shape != x.shape:
            return fallback()
        (np.exp if erf_form else np.tanh)(t, out=t)
        return self._unary_backward(_ew.GELU_ERF if erf_form else _ew.GELU_TANH, fallback, x,
                                    g, acc, aux=t)

    abs_backward = _unary_backward_method(_ew.ABS, NumpyKernels.abs_backward)

    def clamp(self, x, lo, hi):
        bounds = _bounds(x, lo, hi)
        out = None if bounds is None else self._unary(_ew.CLAMP, x, *bounds)
        return out if out is not None else super().clamp(x, lo, hi)

    def clamp_backward(self, x, g, lo, hi, acc=None):
        def fallback():
            return super(CythonKernels, self).clamp_backward(x, g, lo, hi, acc)
        bounds = _bounds(x, lo, hi)
        if bounds is None:
            return fallback()
        return self._unary_backward(_ew.CLAMP, fallback, x, g, acc, *bounds)

    def elu(self, x, alpha, scale=1.0, input_scale=1.0):
        """float32 elu and selu (input_scale 1) in one pass, e**x - 1 by the kernels' own
        expm1 (NumPy's float32 expm1 is a libm call per element); celu and float64: NumPy's"""
        out = None
        if input_scale == 1 and type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(_ew.ELU, x, _as_dtype(alpha * scale, x), _as_dtype(scale, x))
        return out if out is not None else super().elu(x, alpha, scale, input_scale)

    def elu_backward(self, x, g, alpha, scale=1.0, input_scale=1.0, acc=None):
        def fallback():
            return super(CythonKernels, self).elu_backward(x, g, alpha, scale, input_scale, acc)
        if input_scale == 1 and type(x) is _ndarray and x.dtype == _F32:
            return self._unary_backward(_ew.ELU, fallback, x, g, acc,
                                        _as_dtype(alpha * scale, x), _as_dtype(scale, x))
        return fallback()

    def _pair_flat(self, x, y):
        """x and y as 1-D views for the pointwise-loss kernels, or None (other layouts, small)"""
        if (type(x) is _ndarray and x.size >= self.min_size and _float(x.dtype)
                and x.shape == getattr(y, "shape", None) and _usable(x, x.dtype)
                and _usable(y, x.dtype)):
            return x.reshape(-1), y.reshape(-1)
        return None

    def mse_loss(self, x, y, reduction):
        """the sum or mean in one pass (fixed-block partials: any thread count, same bits)"""
        flat = None if reduction == "none" else self._pair_flat(x, y)
        if flat is None:
            return super().mse_loss(x, y, reduction)
        return _loss_total(_rd_for[x.dtype].sq_diff_sum_(*flat), x, reduction)

    def mse_loss_backward(self, x, y, g, scale, need_x=True, need_y=True, acc_x=None,
                          acc_y=None):
        """one pass for each gradient wanted, added into its buffer, where g is one number"""
        flat = self._pair_flat(x, y)
        if flat is None or type(g) is not _ndarray or g.shape != () or g.dtype != x.dtype:
            return super().mse_loss_backward(x, y, g, scale, need_x, need_y, acc_x, acc_y)
        grads = []
        for need, acc, sign in ((need_x, acc_x, 1.0), (need_y, acc_y, -1.0)):
            if not need:
                grads.append(None)
                continue
            add = acc is not None and acc.shape == x.shape and _writable(acc, x.dtype)
            out = acc if add else np.empty(x.shape, x.dtype)
            _rd_for[x.dtype].sq_diff_backward_(*flat, out.reshape(-1), scale, sign * float(g),
                                               add)
            grads.append(out)
        return tuple(grads)

    def binary_cross_entropy_with_logits(self, x, y, weight=None, pos_weight=None,
                                         reduction="none"):
        """float32 sum or mean without weights in one pass (the loss and its sum: fixed-block
        partials, any thread count, same bits); the rest NumPy's"""
        flat = None
        if reduction != "none" and weight is None and pos_weight is None and x.dtype == _F32:
            flat = self._pair_flat(x, y)
        if flat is None:
            return super().binary_cross_entropy_with_logits(x, y, weight, pos_weight,
                                                            reduction)
        return _loss_total(_rd_for[x.dtype].bce_logits_sum_(*flat), x, reduction)

    def binary_cross_entropy_with_logits_backward(self, x, y, g, weight=None, pos_weight=None,
                                                  need_x=True, need_y=False):
        """x's gradient in one pass for float32 without weights, where g is one number
        repeated (a sum's or a mean's); the rest NumPy's"""
        flat = None
        if (need_x and weight is None and pos_weight is None and x.dtype == _F32
                and _repeated(g, _F32) and g.shape == x.shape):
            flat = self._pair_flat(x, y)
        if flat is None:
            return super().binary_cross_entropy_with_logits_backward(
                x, y, g, weight, pos_weight, need_x, need_y)
        gx = np.empty(x.shape, x.dtype)
        _rd_for[x.dtype].bce_logits_backward_(*flat, gx.reshape(-1), g.item(0), False)
        gy = None
        if need_y:
            gy = super().binary_cross_entropy_with_logits_backward(x, y, g, None, None, False,
                                                                   True)[1]
        return gx, gy

    def hardswish(self, x):
        out = self._unary(_ew.HARDSWISH, x)
        return out if out is not None else super().hardswish(x)

    hardswish_backward = _unary_backward_method(_ew.HARDSWISH, NumpyKernels.hardswish_backward)

    def hardsigmoid(self, x):
        out = self._unary(_ew.HARDSIGMOID, x)
        return out if out is not None else super().hardsigmoid(x)

    def hardsigmoid_backward(self, x, g, acc=None):
        def fallback():
            return super(CythonKernels, self).hardsigmoid_backward(x, g, acc)
        return self._unary_backward(_ew.HARDSIGMOID, fallback, x, g, acc,
                                    float(HARDSIGMOID_SLOPE))

    def smooth_l1_loss(self, x, y, beta, reduction, huber=False):
        """the sum or mean in one pass (fixed-block partials: any thread count, same bits)"""
        flat = None if reduction == "none" or not beta > 0 else self._pair_flat(x, y)
        if flat is None:
            return super().smooth_l1_loss(x, y, beta, reduction, huber)
        return _loss_total(_rd_for[x.dtype].smooth_l1_sum_(*flat, beta, huber), x, reduction)

    def smooth_l1_loss_backward(self, x, y, g, beta, huber=False, need_x=True, need_y=True):
        """one pass for each gradient wanted, where g is one number repeated (a sum's or a
        mean's)"""
        flat = self._pair_flat(x, y) if beta > 0 and _repeated(g, x.dtype) else None
        if flat is None or g.shape != x.shape:
            return super().smooth_l1_loss_backward(x, y, g, beta, huber, need_x, need_y)
        grads = []
        for need, sign in ((need_x, 1.0), (need_y, -1.0)):
            out = np.empty(x.shape, x.dtype) if need else None
            if need:
                _rd_for[x.dtype].smooth_l1_backward_(*flat, out.reshape(-1), beta,
                                                     sign * g.item(0), huber, False)
            grads.append(out)
        return tuple(grads)

    def fma(self, x, y, z):
        """one pass for a number x and float arrays y and z of one layout (NumPy's widens
        through four)"""
        flat = None if isinstance(x, np.ndarray) else flat_same_layout(y, z)
        if flat is None:
            return super().fma(x, y, z)
        out = np.empty(y.shape, y.dtype)
        _bn_for[y.dtype].fma_(float(x), *flat, out.reshape(-1))
        return out

    def lerp(self, x, end, w):
        """one pass for a float x and end of one layout and a number w (NumPy's takes three)"""
        flat = None if isinstance(w, np.ndarray) else flat_same_layout(x, end)
        if flat is None:
            return super().lerp(x, end, w)
        out = np.empty(x.shape, x.dtype)
        _bn_for[x.dtype].lerp_(*flat, w, out.reshape(-1))
        return out

    def softplus(self, x, beta, threshold):
        """float32 in one pass (NumPy's log1p and exp are glibc calls per element); float64
        NumPy's"""
        if type(x) is _ndarray and x.dtype == _F32:
            out = self._unary(_ew.SOFTPLUS, x, float(beta), float(threshold))
            if out is not None:
                return out
        return super().softplus(x, beta, threshold)

    def softplus_backward(self, x, g, beta, threshold, acc=None):
        def fallback():
            return super(CythonKernels, self).softplus_backward(x, g, beta, threshold, acc)
        if type(x) is _ndarray and x.dtype == _F32:
            return self._unary_backward(_ew.SOFTPLUS, fallback, x, g, acc, float(beta),
                                        float(threshold))
        return fallback()

    log_sigmoid = _float32_unary_method(_ew.LOG_SIGMOID, NumpyKernels.log_sigmoid,
                                        "NumPy's log1p is a glibc call per element")

    log_sigmoid_backward = _unary_backward_method(
        _ew.LOG_SIGMOID, NumpyKernels.log_sigmoid_backward, float32_only="one pass from x")

    def hardtanh_backward(self, x, g, lo, hi, acc=None):
        def fallback():
            return super(CythonKernels, self).hardtanh_backward(x, g, lo, hi, acc)
        bounds = _bounds(x, lo, hi)
        if bounds is None or type(x) is not _ndarray or x.size < self.min_size_fused:
            return fallback()
        return self._unary_backward(_ew.HARDTANH, fallback, x, g, acc, *bounds)

    def pow_scalar(self, x, c):
        """x ** c by repeated products for integer c in [0, 8] (NumPy's pow is a libm-grade
        power, within an ulp of these); other exponents go to NumPy"""
        if c == 2 and type(x) is _ndarray:
            out = _small.binary(_small.MUL, x, x)        # small: NumPy's x * x in one call
            if out is not None:
                return out
        least = self.min_size if c == 2 else self.min_size_fused   # (x * x: one NumPy ufunc)
        if x.size >= least and _small_int(c, 0):
            out = self._unary(_ew.POW_INT, x, float(c))
            if out is not None:
                return out
        return NumpyKernels.pow_scalar(self, x, c)

    def pow_scalar_backward(self, x, c, g, acc=None):
        if c == 2 and acc is None and type(x) is _ndarray and x.size < self.min_size:
            d = _small.mul_scaled(g, x, 2.0)          # x ** 2: NumPy's g * (x * 2) in one call
            if d is not None:
                return d
        if type(x) is not _ndarray or x.size < (self.min_size if c == 2    # small: NumPy's
                                                 else self.min_size_fused):
            return NumpyKernels.pow_scalar_backward(self, x, c, g, acc)

        def fallback():
            return super(CythonKernels, self).pow_scalar_backward(x, c, g, acc)
        if _small_int(c, 1):
            return self._unary_backward(_ew.POW_INT, fallback, x, g, acc, float(c))
        return fallback()

    # ---- linear resize ---------------------------------------------------------------------
    @staticmethod
    def _resize_arrays(x, axis, i0, i1, w0, w1):
        """x as (outer, size, inner), C-contiguous, and the taps as the kernels take them;
        None for other dtypes"""
        if not (type(x) is _ndarray and _float(x.dtype) and 0 <= axis < x.ndim
                and w0.dtype == x.dtype and w1.dtype == x.dtype):
            return None
        x = _dense(x, x.dtype)
        outer, size = math.prod(x.shape[:axis]), x.shape[axis]
        taps = [np.ascontiguousarray(a, dtype) for a, dtype in
                ((i0, np.int64), (i1, np.int64), (w0, x.dtype), (w1, x.dtype))]
        return x.reshape(outer, size, -1 if x.size else math.prod(x.shape[axis + 1:])), taps

    def resize_linear(self, x, axis, i0, i1, w0, w1):
        """one compiled pass (NumPy's: two takes, two products and a sum)"""
        arrays = self._resize_arrays(x, axis, i0, i1, w0, w1)
        if arrays is None:
            return super().resize_linear(x, axis, i0, i1, w0, w1)
        flat, taps = arrays
        out = np.empty(x.shape[:axis] + (len(taps[0]),) + x.shape[axis + 1:], x.dtype)
        _grad_for[x.dtype].resize_linear_(flat, *taps,
                                          out.reshape(flat.shape[0], len(taps[0]), flat.shape[2]))
        return out

    def resize_linear_backward(self, g, axis, size, i0, i1, w0, w1):
        """one compiled pass, the reference's sums bit for bit (its two index_add_ took a
        np.add.at each)"""
        arrays = self._resize_arrays(g, axis, i0, i1, w0, w1)
        if arrays is None:
            return super().resize_linear_backward(g, axis, size, i0, i1, w0, w1)
        flat, taps = arrays
        shape = g.shape[:axis] + (size,) + g.shape[axis + 1:]
        dx, scratch = np.zeros(shape, g.dtype), np.zeros(shape, g.dtype)
        grid = (flat.shape[0], size, flat.shape[2])
        _grad_for[g.dtype].resize_linear_backward_(flat, *taps, dx.reshape(grid),
                                                   scratch.reshape(grid))
        return dx

    # ---- recurrent cells -------------------------------------------------------------------
    def _lstm_arrays(self, *arrays):
        """the float32 2-D arrays an LSTM step kernel reads, C-contiguous (copied once where
        not), or None: float64 goes to NumPy's SIMD loops (the kernel's tanh would be libm's,
        a call per element)"""
        if all(type(a) is _ndarray and a.dtype == _F32 and a.ndim == 2 for a in arrays):
            return [_dense(a, _F32) for a in arrays]
        return None

    def lstm_cell(self, gates, c):
        """float32: one compiled pass a row (the kernels' sigmoid and tanh); act overwrites
        gates where it may"""
        arrays = self._lstm_arrays(gates, c)
        if arrays is None or gates.shape != (c.shape[0], 4 * c.shape[1]):
            return super().lstm_cell(gates, c)
        gates, c = arrays
        act = gates if gates.flags.writeable else np.empty_like(gates)
        c_out, tanh_c, h = (np.empty_like(c) for _ in range(3))
        _ew_for[_F32].lstm_cell_(gates, c, act, c_out, tanh_c, h)
        return act, c_out, tanh_c, h

    def lstm_cell_backward(self, act, c, tanh_c, dh, dc):
        """float32: one compiled pass a row"""
        arrays = self._lstm_arrays(act, c, tanh_c, dh, dc)
        if arrays is None or act.shape != (c.shape[0], 4 * c.shape[1]) or not (
                c.shape == tanh_c.shape == dh.shape == dc.shape):
            return super().lstm_cell_backward(act, c, tanh_c, dh, dc)
        d_gates, dc_prev = np.empty_like(arrays[0]), np.empty_like(arrays[1])
        _ew_for[_F32].lstm_cell_backward_(*arrays, d_gates, dc_prev)
        return d_gates, dc_prev

    def _sequence_arrays(self, *arrays):
        """float32 arrays of a compiled sequence kernel (None passes), C-contiguous (copied
        once where not), or None where one is not float32 or the sequence is empty"""
        if not all(a is None or (type(a) is _ndarray and a.dtype == _F32 and a.size)
                   for a in arrays):
            return None
        return [None if a is None else _dense(a, _F32) for a in arrays]

    def _sequence_inputs(self, x_w, h0, w_hh, b_hh, *states):
        """x_w (L, N, G), h0 (N, H) and states of its shape, w_hh (G, H), b_hh (G,) or None,
        as _sequence_arrays gives them, with w_hh transposed (H, G) and C-contiguous; or None
        where the shapes are not those (the reference then computes, or names them)"""
        if (getattr(x_w, "ndim", 0) != 3 or getattr(h0, "ndim", 0) != 2
                or getattr(w_hh, "shape", None) != (x_w.shape[2], h0.shape[1])
                or (b_hh is not None and getattr(b_hh, "ndim", 0) != 1)):
            return None
        arrays = self._sequence_arrays(x_w, h0, w_hh, b_hh, *states)
        if arrays is not None:
            arrays[2] = np.ascontiguousarray(arrays[2].T)
        return arrays

    def lstm_sequence(self, x_w, h0, c0, w_hh, b_hh, reverse):
        """float32: every step in one compiled call (linalg.lstm_sequence_: each step's
        product through BLAS, then its cell, no Python between)"""
        arrays = self._sequence_inputs(x_w, h0, w_hh, b_hh, c0)
        if arrays is None:
            return super().lstm_sequence(x_w, h0, c0, w_hh, b_hh, reverse)
        x_w, h0, w_t, b_hh, c0 = arrays
        steps, (batch, hidden) = x_w.shape[0], h0.shape
        out = np.empty((steps + 1, batch, hidden), _F32)
        h_before, c_before, tanh_c = (np.empty((steps, batch, hidden), _F32) for _ in range(3))
        act = np.empty(x_w.shape, _F32)
        _linalg.lstm_sequence_(x_w, h0, c0, w_t, b_hh, reverse, out, h_before, act, c_before,
                               tanh_c)
        return out, h_before, act, c_before, tanh_c

    def lstm_sequence_backward(self, g, act, c_before, tanh_c, w_hh, reverse):
        """float32: every step back in one compiled call (linalg.lstm_sequence_backward_)"""
        arrays = self._sequence_arrays(g, act, c_before, tanh_c, w_hh)
        if arrays is None or g.ndim != 3 or act.ndim != 3:
            return super().lstm_sequence_backward(g, act, c_before, tanh_c, w_hh, reverse)
        g, act, c_before, tanh_c, w_hh = arrays
        d_gates = np.empty(act.shape, _F32)
        dh, dc = (np.empty(g.shape[1:], _F32) for _ in range(2))
        _linalg.lstm_sequence_backward_(g, act, c_before, tanh_c, w_hh, reverse, d_gates, dh, dc)
        return d_gates, dh, dc

    def gru_sequence(self, x_w, h0, w_hh, b_hh, reverse):
        """float32: every step in one compiled call (linalg.gru_sequence_)"""
        arrays = self._sequence_inputs(x_w, h0, w_hh, b_hh)
        if arrays is None:
            return super().gru_sequence(x_w, h0, w_hh, b_hh, reverse)
        x_w, h0, w_t, b_hh = arrays
        steps, (batch, hidden) = x_w.shape[0], h0.shape
        out, h_before, n, h_n = (np.empty((steps, batch, hidden), _F32) for _ in range(4))
        rz = np.empty((steps, batch, 2 * hidden), _F32)
        _linalg.gru_sequence_(x_w, h0, w_t, b_hh, reverse, out, h_before, rz, n, h_n)
        return out, h_before, rz, n, h_n

    def gru_sequence_backward(self, g, h_before, rz, n, h_n, w_hh, reverse):
        """float32: every step back in one compiled call (linalg.gru_sequence_backward_)"""
        arrays = self._sequence_arrays(g, h_before, rz, n, h_n, w_hh)
        if arrays is None or g.ndim != 3:
            return super().gru_sequence_backward(g, h_before, rz, n, h_n, w_hh, reverse)
        g, h_before, rz, n, h_n, w_hh = arrays
        d_x = np.empty(g.shape[:2] + (3 * g.shape[2],), _F32)
        d_h, dh = np.empty_like(d_x), np.empty(g.shape[1:], _F32)
        _linalg.gru_sequence_backward_(g, h_before, rz, n, h_n, w_hh, reverse, d_x, d_h, dh)
        return d_x, d_h, dh

    def rnn_sequence(self, x_w, h0, w_hh, b_hh, reverse, relu):
        """float32: every step in one compiled call (linalg.rnn_sequence_)"""
        arrays = self._sequence_inputs(x_w, h0, w_hh, b_hh)
        if arrays is None:
            return super().rnn_sequence(x_w, h0, w_hh, b_hh, reverse, relu)
        x_w, h0, w_t, b_hh = arrays
        out, h_before = (np.empty(x_w.shape, _F32) for _ in range(2))
        _linalg.rnn_sequence_(x_w, h0, w_t, b_hh, reverse, relu, out, h_before)
        return out, h_before

    def rnn_sequence_backward(self, g, out, w_hh, reverse, relu):
        """float32: every step back in one compiled call (linalg.rnn_sequence_backward_)"""
        arrays = self._sequence_arrays(g, out, w_hh)
        if arrays is None or g.ndim != 3:
            return super().rnn_sequence_backward(g, out, w_hh, reverse, relu)
        g, out, w_hh = arrays
        d_x, dh = np.empty(g.shape, _F32), np.empty(g.shape[1:], _F32)
        _linalg.rnn_sequence_backward_(g, out, w_hh, reverse, relu, d_x, dh)
        return d_x, dh

    # ---- reductions and the softmax family -------------------------------------------------
    # Blocks of more than exp_limit elements go to NumPy: at baseline SSE2 the kernels' exp
    # (1.6 ns an element) loses to NumPy's AVX-512 np.exp (0.45) once the exps, not the calls,
    # hold the time. The AVX2 build's exp (0.7 ns; AVX-512: 0.47) keeps the fused kernels ahead
    # at every size measured (cross-entropy 1024 x 1000: 2.0 vs 3.1 ms at AVX2).
    exp_limit = (1 << 13) if _rd.__name__ == "cgrad._C.reduce" else (1 << 62)

    def _rows(self, x, dim):
        """(R, C) when x reduces over its last dim as a C-contiguous float block, else None."""
        if type(x) is not _ndarray or x.ndim == 0 or not _float(x.dtype):
            return None
        if type(dim) is not int or dim % x.ndim != x.ndim - 1 or not _usable(x, x.dtype):
            return None
        C = x.shape[-1]
        if C == 0 or x.size > self.exp_limit:        # one fused call beats NumPy's six
            return None
        return x.size // C, C

    def softmax(self, x, dim):
        out = self._softmax(x, dim, False)
        return out if out is not None else super().softmax(x, dim)

    def log_softmax(self, x, dim):
        out = self._softmax(x, dim, True)
        return out if out is not None else super().log_softmax(x, dim)

    def _cols(self, x, dim):
        """(A, K, L) when x reduces over a dim before its last as a C-contiguous float block
        (K = x.shape[dim]), else None"""
        if (type(x) is not _ndarray or x.ndim < 2 or not _float(x.dtype) or type(dim) is not int
                or not -x.ndim <= dim < x.ndim - 1 or dim == -1 or x.size > self.exp_limit
                or x.size < self.min_size or not _usable(x, x.dtype)):
            return None
        dim %= x.ndim
        return math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1:])

    def _softmax(self, x, dim, log_):
        """(log_)softmax over rows in one compiled call, or along a middle axis (vectorised
        across the positions after it), or None for other layouts"""
        rc = self._rows(x, dim)
        if rc is None:
            akl = self._cols(x, dim)
            if akl is None:
                return None
            out = np.empty(x.shape, x.dtype)
            _rd_for[x.dtype].softmax_cols_(x.reshape(akl), out.reshape(akl), log_)
            return out
        out = np.empty(x.shape, x.dtype)
        _rd_for[x.dtype].softmax_(x.reshape(-1), out.reshape(-1), *rc, log_)
        return out

    def _softmax_backward(self, y, g, dim, log_, fallback):
        if type(g) is not _ndarray or g.shape != y.shape or g.dtype != y.dtype:
            return fallback(y, g, dim)
        # a broadcast or strided g (a .sum()'s gradient: every stride 0) is copied once for a
        # kernel: one pass, where NumPy's form takes four ((4096, 8) log_softmax: 208 us
        # against ~60)
        rc = self._rows(y, dim)
        akl = self._cols(y, dim) if rc is None else None
        if rc is None and akl is None:
            return fallback(y, g, dim)
        g, out = _dense(g, y.dtype), np.empty(y.shape, y.dtype)
        if rc is None:
            _rd_for[y.dtype].softmax_cols_backward_(y.reshape(akl), g.reshape(akl),
                                                    out.reshape(akl), log_)
        else:
            _rd_for[y.dtype].softmax_backward_(y.reshape(-1), g.reshape(-1), out.reshape(-1), *rc,
                                               log_)
        return out

    def softmax_backward(self, y, g, dim):
        return self._softmax_backward(y, g, dim, False, super().softmax_backward)

    def log_softmax_backward(self, y, g, dim):
        return self._softmax_backward(y, g, dim, True, super().log_softmax_backward)

    def _norm_flat(self, x, ndim, *params):
        """x (of ndim dims: (R, K) rows, (N, C, S) channels) and the norm's other arrays as its
        kernels take them (flat, C-contiguous, copied once if not; a missing one empty), or
        None for other dtypes and empty x"""
        if type(x) is not _ndarray or x.ndim != ndim or not _float(x.dtype) or not x.size:
            return None
        dtype = x.dtype
        if any(p is not None and (type(p) is not _ndarray or p.dtype != dtype) for p in params):
            return None
        return [np.ascontiguousarray(a, dtype).reshape(-1)
                for a in (x, *(_NONE[dtype] if p is None else p for p in params))]

    def group_norm(self, x, weight, bias, groups, spatial, eps):
        """each row in three passes that stay in cache (mean, variance, result), rows in
        parallel"""
        flat = self._norm_flat(x, 2, weight, bias)
        if flat is None:
            return super().group_norm(x, weight, bias, groups, spatial, eps)
        (R, K), dtype = x.shape, x.dtype
        y, mean, rstd = np.empty((R, K), dtype), np.empty(R, dtype), np.empty(R, dtype)
        _rd_for[dtype].group_norm_(*flat, y.reshape(-1), mean, rstd, R, K, groups, spatial, eps)
        return y, mean, rstd

    def group_norm_backward(self, x, g, weight, mean, rstd, groups, spatial, need_x=True,
                            need_weight=True, need_bias=True):
        """dx row by row in two passes; the weight and bias sums in fixed blocks of rows"""
        flat = self._norm_flat(x, 2, g, weight, mean, rstd)
        if flat is None or g.shape != x.shape:
            return super().group_norm_backward(x, g, weight, mean, rstd, groups, spatial,
                                               need_x, need_weight, need_bias)
        (R, K), dtype = x.shape, x.dtype
        channels = groups * (K // spatial)
        need_weight = need_weight and weight is not None
        dx = np.empty((R, K) if need_x else 0, dtype)
        dw, db = (np.empty(channels if need else 0, dtype) for need in (need_weight, need_bias))
        _rd_for[dtype].group_norm_backward_(*flat, dx.reshape(-1), dw, db, R, K, groups,
                                            spatial)
        return dx if need_x else None, dw if need_weight else None, db if need_bias else None

    def batch_norm_stats(self, x):
        """two passes (the mean, then the squared deviations), in double"""
        flat = self._norm_flat(x, 3)
        if flat is None:
            return super().batch_norm_stats(x)
        mean, var = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
        _rd_for[x.dtype].batch_norm_stats_(*flat, mean, var, *x.shape)
        return mean, var

    def batch_norm(self, x, mean, rstd, weight, bias):
        flat = self._norm_flat(x, 3, mean, rstd, weight, bias)
        if flat is None:
            return super().batch_norm(x, mean, rstd, weight, bias)
        y = np.empty(x.shape, x.dtype)
        _rd_for[x.dtype].batch_norm_(*flat, y.reshape(-1), *x.shape)
        return y

    def batch_norm_backward(self, x, g, mean, rstd, weight, training, need_x=True,
                            need_weight=True, need_bias=True):
        """the channel sums in one pass over x and g, dx in another"""
        flat = self._norm_flat(x, 3, mean, rstd, weight)
        if flat is None or getattr(g, "shape", None) != x.shape or g.dtype != x.dtype:
            return super().batch_norm_backward(x, g, mean, rstd, weight, training, need_x,
                                               need_weight, need_bias)
        x_flat, mean, rstd, w = flat
        dtype, C = x.dtype, x.shape[1]
        need_weight = need_weight and weight is not None
        dx = np.empty(x.shape if need_x else 0, dtype)
        dw, db = (np.empty(C if need else 0, dtype) for need in (need_weight, need_bias))
        _rd_for[dtype].batch_norm_backward_(x_flat, np.ascontiguousarray(g).reshape(-1), mean,
                                            rstd, w, dx.reshape(-1), dw, db, *x.shape, training)
        return dx if need_x else None, dw if need_weight else None, db if need_bias else None

    def _ce_takes(self, logits, target, weight):
        """Whether the fused cross-entropy kernels take these: _nll_takes' arrays of at most
        exp_limit elements and at least one class."""
        return (self._nll_takes(logits, target, weight) and 0 < logits.shape[1]
                and logits.size <= self.exp_limit)

    def cross_entropy_forward(self, logits, target, weight=None, ignore_index=-100,
                              label_smoothing=0.0):
        """One fused pass per row (or, for (N, C, L) logits, vectorised across the positions).
        The softmax is saved (as _Softmax) rather than the log-probabilities, without label
        smoothing and for (N, C, L) logits: backward then needs no exp."""
        probs = not label_smoothing > 0 or logits.ndim == 3
        if not self._ce_takes(logits, target, weight):
            return super().cross_entropy_forward(logits, target, weight, ignore_index,
                                                 label_smoothing)
        dtype = logits.dtype
        e = np.empty(logits.shape, dtype)
        losses = np.empty(target.size, dtype)       # (the kernels take 1-D arrays)
        scale = np.empty(target.size if probs else 0, dtype)
        weight = _NONE[dtype] if weight is None else weight
        if logits.ndim == 3:
            total, denominator = _rd_for[dtype].cross_entropy_cols_(
                logits, target.reshape(-1), weight, ignore_index, e, scale, losses,
                label_smoothing, _weight_sum(weight, logits.shape[1], label_smoothing))
        else:
            total, denominator = _rd_for[dtype].cross_entropy_(
                logits.reshape(-1), target, weight, ignore_index, label_smoothing,
                e.reshape(-1), losses, *logits.shape, probs, scale)
        return (losses.reshape(target.shape), _Softmax(e, scale) if probs else e, total,
                denominator)

    def cross_entropy_probs(self, saved):
        return saved.p if type(saved) is _Softmax else super().cross_entropy_probs(saved)

    def cross_entropy_backward(self, saved, target, g_rows, weight=None, ignore_index=-100,
                               label_smoothing=0.0, acc=None):
        probs = type(saved) is _Softmax         # this backend's forward took these rows,
        rows = saved.e if probs else saved      # target and weight: no need to check again
        if not (probs or (self._ce_takes(rows, target, weight) and rows.ndim == 2)):
            return super().cross_entropy_backward(saved, target, g_rows, weight, ignore_index,
                                                  label_smoothing, acc)
        if g_rows.ndim == 0 and g_rows.dtype == rows.dtype:     # one g for every row
            g_all, g_each = float(g_rows), _NONE[rows.dtype]
        else:                                   # one g each, any layout
            g_all = 0.0
            g_each = (np.ascontiguousarray(g_rows, rows.dtype)
                      if probs and type(g_rows) is _ndarray else g_rows)
            if not (type(g_each) is _ndarray and g_each.shape == target.shape
                    and _usable(g_each, rows.dtype)):
                if probs:               # NumPy's backward reads log-probabilities
                    with np.errstate(divide="ignore"):
                        rows = np.log(saved.p)
                return super().cross_entropy_backward(rows, target, g_rows, weight,
                                                      ignore_index, label_smoothing, acc)
        add = acc is not None and acc.shape == rows.shape and _writable(acc, rows.dtype)
        out = acc if add else np.empty(rows.shape, rows.dtype)
        weight = _NONE[rows.dtype] if weight is None else weight
        w_sum = _weight_sum(weight, rows.shape[1], label_smoothing)
        if rows.ndim == 3:
            _rd_for[rows.dtype].cross_entropy_cols_backward_(
                rows, target.reshape(-1), g_each.reshape(-1), weight, ignore_index,
                saved.scale, out, add, g_all, label_smoothing, w_sum)
        else:
            _rd_for[rows.dtype].cross_entropy_backward_(
                rows.reshape(-1), target, g_each, weight, ignore_index, label_smoothing, w_sum,
                out.reshape(-1), *rows.shape, probs, add, g_all,
                saved.scale if probs else None)
        return out if add or acc is None else _into(acc, out)

    def _nll_takes(self, log_probs, target, weight):
        """Whether the compiled nll_loss kernels take these: C-contiguous float log_probs
        (N, C), or (N, C, L) with target (N, L), int64 targets, weight None or (C,) of the
        log_probs' dtype"""
        return (type(log_probs) is _ndarray and 2 <= log_probs.ndim <= 3
                and _float(log_probs.dtype) and _usable(log_probs, log_probs.dtype)
                and _usable(target, _I64)
                and target.shape == log_probs.shape[:1] + log_probs.shape[2:]
                and (weight is None or (_usable(weight, log_probs.dtype)
                                        and weight.shape == log_probs.shape[1:2])))

    def nll_loss_forward(self, log_probs, target, weight=None, ignore_index=-100):
        """One compiled gather (and the checks, sum and denominator with it)"""
        if not self._nll_takes(log_probs, target, weight):
            return super().nll_loss_forward(log_probs, target, weight, ignore_index)
        dtype = log_probs.dtype
        losses = np.empty(target.size, dtype)
        total, denominator = _rd_for[dtype].nll_loss_(
            log_probs.reshape(-1), target.reshape(-1), _NONE[dtype] if weight is None else weight,
            ignore_index, losses, *_acl(log_probs))
        return losses.reshape(target.shape), total, denominator

    def nll_loss_backward(self, target, g_rows, n_classes, weight=None, ignore_index=-100):
        if type(g_rows) is not _ndarray:
            return super().nll_loss_backward(target, g_rows, n_classes, weight, ignore_index)
        dtype = g_rows.dtype
        shape = target.shape[:1] + (n_classes,) + target.shape[1:]
        g_all = g_rows.ndim == 0 and _float(dtype)
        if not (_float(dtype) and _usable(target, _I64)
                and 1 <= target.ndim <= 2 and (g_all or (g_rows.shape == target.shape
                                                         and _usable(g_rows, dtype)))
                and (weight is None or (_usable(weight, dtype) and weight.shape == (n_classes,)))):
            return super().nll_loss_backward(target, g_rows, n_classes, weight, ignore_index)
        out = np.empty(shape, dtype)
        _rd_for[dtype].nll_loss_backward_(
            out.reshape(-1), target.reshape(-1), _NONE[dtype] if g_all else g_rows.reshape(-1),
            _NONE[dtype] if weight is None else weight, ignore_index, *_acl(out),
            float(g_rows) if g_all else 0.0)
        return out

    def soft_cross_entropy_forward(self, logits, probs):
        if not (self._ce_takes(logits, np.empty(len(logits), np.int64), None)
                and type(probs) is _ndarray and probs.shape == logits.shape
                and _usable(probs, logits.dtype)):
            return super().soft_cross_entropy_forward(logits, probs)
        n, c = logits.shape
        log_probs = np.empty((n, c), logits.dtype)
        losses = np.empty(n, logits.dtype)
        _rd_for[logits.dtype].soft_cross_entropy_(logits.reshape(-1), probs.reshape(-1),
                                                  log_probs.reshape(-1), losses, n, c)
        return losses, log_probs

    def soft_cross_entropy_backward(self, log_probs, probs, g_rows):
        if not (self._ce_takes(log_probs, np.empty(len(log_probs), np.int64), None)
                and type(probs) is _ndarray and probs.shape == log_probs.shape
                and _usable(probs, log_probs.dtype) and type(g_rows) is _ndarray
                and g_rows.shape == log_probs.shape[:1] and _usable(g_rows, log_probs.dtype)):
            return super().soft_cross_entropy_backward(log_probs, probs, g_rows)
        n, c = log_probs.shape
        out = np.empty((n, c), log_probs.dtype)
        _rd_for[log_probs.dtype].soft_cross_entropy_backward_(
            log_probs.reshape(-1), probs.reshape(-1), g_rows, out.reshape(-1), n, c)
        return out

    def _reduced(self, x, dim):
        """x summed over dim (a tuple of axes or None) with kept dims, in one pass: over
        every element or every row (the trailing axes) by the sum kernels, over one run of
        axes or all but one by the column and outer ones, else by the grid kernel; a
        broadcast x as its distinct part times its repeats, a transposed one in memory order;
        None when none applies."""
        if type(x) is not _ndarray or x.size < self.min_size_sum_cols or not _float(x.dtype):
            return None
        axes = _axes_of(x, dim)
        if axes is None or (len(axes) == x.ndim and x.size < self.min_size_sum_all):
            return None                          # (a small whole sum that is not dense)
        if not _usable(x, x.dtype):
            repeated = _repeated_axes(x)
            if repeated:                         # a broadcast (a sum's gradient): no copy
                return _sum_of_repeats(x, axes, repeated)
            view = _memory_order_view(x, x.dtype)
            if view is not None:                 # a transpose: summed in memory order (a
                b, order = view                  # copy of 2048^2 took 65 ms)
                s = self._reduced(b, tuple(j for j, i in enumerate(order) if i in axes))
                return None if s is None else np.ascontiguousarray(_restored(s, order))
            if x.size > self.max_copy_sum:       # (NumPy sums it where it is)
                return None
            x = _dense(x, x.dtype)               # gaps: one copy, then the kernels
        if len(axes) == x.ndim:
            return self._sum_all(x).reshape((1,) * x.ndim)
        rows = x.ndim - len(axes)            # the leading axes kept, every one after summed
        if axes == set(range(rows, x.ndim)) and rows:   # (from 2^12, as the columns: NumPy
            # adds short rows one call each, 3-6x this pass's time: (4096, 8) 92 against 23 us)
            out = np.empty(x.shape[:rows] + (1,) * len(axes), x.dtype)
            lead = math.prod(x.shape[:rows])
            _rd_for[x.dtype].sum_rows_(x.reshape(lead, math.prod(x.shape[rows:])),
                                       out.reshape(-1))
            return out
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        first, last = (min(axes), max(axes) + 1) if axes else (0, 0)
        if axes and last - first == len(axes) and last < x.ndim:   # one run of axes, not last
            # (the column kernel: see min_size_sum_cols)
            A, L = math.prod(x.shape[:first]), math.prod(x.shape[last:])
            out = np.empty(shape, x.dtype)
            K = math.prod(x.shape[first:last])
            _rd_for[x.dtype].sum_cols_(x.reshape(A, K, L), out.reshape(A, L))
            return out
        kept = [i for i in range(x.ndim) if i not in axes]
        if kept and kept[0] > 0 and kept[-1] < x.ndim - 1 and kept[-1] - kept[0] == len(kept) - 1:
            # every axis but one middle run (a convolution's bias gradient: all but C), each
            # (a, c) row summed as a row sum, in double: NumPy's took 3.4x PyTorch's time
            out = np.empty(shape, x.dtype)
            first, last = kept[0], kept[-1] + 1
            _rd_for[x.dtype].sum_outer_(x.reshape(math.prod(x.shape[:first]),
                                                  math.prod(x.shape[first:last]),
                                                  math.prod(x.shape[last:])), out.reshape(-1))
            return out
        if not self._grid_sum(x.size, math.prod(shape), _over_leading(x.shape, shape)):
            return None
        target = np.empty(shape, x.dtype)
        r = self._binary_backward(_bn.ADD, target, x, x, True, False, None, None)
        return None if r is None else r[0]

    # the largest strided input the sums copy for the kernels
    max_copy_sum = 1 << 24

    # a sum of every element of an array that is not dense (broadcast, strided): from here,
    # the compiled passes (the dense ones take PyTorch's order at any size)
    min_size_sum_all = 1 << 16

    def _sum_all(self, x, mean=False):
        """x's sum (or with mean, its mean) over every element in PyTorch's order
        (reduce.torch_sum: one thread's cascade, its top-level blocks in parallel, the same
        bits at any thread count) as a 0-d array, or None (not a dense float array)"""
        if type(x) is not _ndarray or not _float(x.dtype):
            return None
        if x.flags.c_contiguous:
            return _rd.torch_sum(x, mean)
        flat = dense_in_memory_order(x)
        return None if flat is None else _rd.torch_sum(flat, mean)

    def sum(self, x, dim=None, keepdim=False):
        """sum over dim in one pass (fixed-block partials: any thread count, same bits); over
        everything, PyTorch's order"""
        if type(x) is _ndarray and (dim is None or len(dim) == x.ndim):
            s = self._sum_all(x)
            if s is not None:
                return s.reshape((1,) * x.ndim) if keepdim else s
        if type(x) is not _ndarray or x.size < self.min_size_sum_cols:
            return NumpyKernels.sum(self, x, dim, keepdim)          # small: NumPy at once
        s = self._reduced(x, dim)
        if s is None:
            return super().sum(x, dim, keepdim)
        return s if keepdim else s.reshape(_drop(x.shape, dim))

    def sort_order(self, rows, compare, stable=False):
        """std::sort itself (cgrad._C.sorting) on the rows as float64 or int64 keys, which
        compare as the rows do; stable sorts and uint64 (past int64) go to NumPy"""
        if stable or rows.dtype.kind not in "fiub" or rows.dtype == np.uint64:
            return super().sort_order(rows, compare, stable)
        return _sorting.sort_order(_sort_keys(rows), _SORT_COMPARE[compare])

    def topk_order(self, rows, k, largest, sorted=True):
        """std::partial_sort or std::nth_element itself, as PyTorch's topk calls them"""
        if not k or rows.dtype.kind not in "fiu" or rows.dtype == np.uint64:
            return super().topk_order(rows, k, largest, sorted)
        return _sorting.sort_order(_sort_keys(rows), 1 if largest else 0, k, sorted)

    def mean(self, x, dim=None, keepdim=False):
        """sum / n, as PyTorch's mean (over everything, its sum's order)"""
        if type(x) is _ndarray and (dim is None or len(dim) == x.ndim):
            s = self._sum_all(x, True)
            if s is not None:
                return s.reshape((1,) * x.ndim) if keepdim else s
        if type(x) is not _ndarray or x.size < self.min_size_sum_cols:
            return NumpyKernels.mean(self, x, dim, keepdim)         # small: NumPy at once
        s = self._reduced(x, dim)
        if s is None:
            return super().mean(x, dim, keepdim)
        n = x.size // max(1, s.size)
        s /= x.dtype.type(n)
        return s if keepdim else s.reshape(_drop(x.shape, dim))

    # ---- linear algebra: forward and backward by one BLAS -------------------------------
    # The forward products go through the same gemm as the backward ones (scipy-openblas32's),
    # not NumPy's: each OpenBLAS build keeps its own pool of spinning threads, and with two
    # threads the two pools took turns starving each other (MLP step 4 ms -> 90 ms).
    # m n k up to this: NumPy's matmul, whose per-call cost is lower; its OpenBLAS runs such
    # products on one thread, so its pool never wakes
    max_flops_numpy = 1 << 18

    def matmul(self, a, b):
        """a @ b by gemm for 2-D and batched float operands (batch dims broadcast, or one
        side 2-D); vectors go to NumPy."""
        if _small_product(a, b, self.max_flops_numpy):
            return NumpyKernels.matmul(self, a, b)       # before any other check
        if (type(a) is _ndarray and type(b) is _ndarray and a.ndim >= 2 and b.ndim >= 2
                and _float(a.dtype) and b.dtype == a.dtype):
            (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
            ba, bb = a.shape[:-2], b.shape[:-2]
            if ba and bb and ba != bb and k == k2:   # (else NumPy's message, on a and b)
                try:
                    ba = bb = np.broadcast_shapes(ba, bb)
                except ValueError:
                    return super().matmul(a, b)          # NumPy's message
                a, b = _to_batch(a, ba), _to_batch(b, ba)
            nb = math.prod(ba or bb)
            if (k == k2 and (ba == bb or not ba or not bb) and 0 not in (m, n, k, nb)
                    and max(m, n, k) < 2**31
                    and not _numpy_product(m, n, k, self.max_flops_numpy, nb)):
                A, Bm = _blas_mat(a), _blas_mat(b)
                out = np.empty((ba or bb) + (m, n), a.dtype)
                if ba and not bb and not A[1] and nb * m < 2**31 and A[3] == m * A[2]:
                    # b shared: the batches stacked as one (B m) x k matrix, one gemm
                    _linalg.gemm_(False, Bm[1], nb * m, n, k, A[0], A[2], Bm[0], Bm[2], 0.0,
                                  out.reshape(-1), n)
                else:
                    _linalg.gemm_(A[1], Bm[1], m, n, k, A[0], A[2], Bm[0], Bm[2], 0.0,
                                  out.reshape(-1), n, nb, A[3] if ba else 0,
                                  Bm[3] if bb else 0, m * n)
                return out
        return super().matmul(a, b)

    def linear(self, x, w, b=None):
        """x @ w^T + b by one gemm: the bias is copied into the output rows first and the
        product added onto it (beta = 1), so no second pass adds it."""
        if type(x) is _ndarray and type(w) is _ndarray and w.ndim == 2:
            out_f, in_f = w.shape
            if x.size * out_f <= self.max_flops_numpy and not (
                    out_f == 1 and in_f > 4096 and _one_long_dot(x.size // in_f, 1, in_f)):
                return NumpyKernels.linear(self, x, w, b)   # small (m n k): NumPy, first
        if (type(x) is _ndarray and type(w) is _ndarray and x.ndim >= 1 and w.ndim == 2
                and _float(x.dtype) and w.dtype == x.dtype and x.shape[-1] == w.shape[1]
                and (b is None or (type(b) is _ndarray and b.dtype == x.dtype
                                   and b.shape == w.shape[:1]))):
            out_f, in_f = w.shape
            rows = x.size // in_f if in_f else 0
            if (0 not in (rows, out_f, in_f) and max(rows, out_f, in_f) < 2**31
                    and (rows * out_f * in_f > self.max_flops_numpy
                         or _one_long_dot(rows, out_f, in_f))):
                X, W = _blas_mat(x.reshape(rows, in_f)), _blas_mat(w)
                out = np.empty(x.shape[:-1] + (out_f,), x.dtype)
                flat = out.reshape(-1)
                if b is not None:
                    np.copyto(out, b)
                _linalg.gemm_(X[1], not W[1], rows, out_f, in_f, X[0], X[2], W[0], W[2],
                              0.0 if b is None else 1.0, flat, out_f)
                return out
        return super().linear(x, w, b)

    def _grad_buffer(self, acc, shape, dtype):
        """(buffer, beta): acc itself with beta 1 when it can take the sum, else a new one."""
        if acc is not None and acc.shape == shape and _writable(acc, dtype):
            return acc, 1.0
        return np.empty(shape, dtype), 0.0

    def matmul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g @ b^T, a^T @ g) by gemm, added into acc when given: a 2-D side's gradient
        summed over the other's batches in the gemm, one whose batch dims broadcast returned
        whole for the engine to sum. a may be None when need_b is false, b when need_a is
        false (the op saves only what backward reads)."""
        if type(a) is _ndarray and type(b) is _ndarray and a.ndim >= 2 and b.ndim >= 2 and (
                a.shape[-1] != b.shape[-2] or np.shape(g)[-2:] != (a.shape[-2], b.shape[-1])):
            raise ValueError(f"matmul_backward: a {a.shape} @ b {b.shape} cannot give a "
                             f"gradient of shape {np.shape(g)}")
        r = None if _small_backward(a, b, self.max_flops_numpy) else self._matmul_backward(
            a, b, g, need_a, need_b, acc_a, acc_b)
        return r if r is not None else super().matmul_backward(a, b, g, need_a, need_b, acc_a,
                                                                acc_b)

    def _matmul_backward(self, a, b, g, need_a, need_b, acc_a, acc_b):
        if type(g) is not _ndarray or not _float(g.dtype) or g.ndim < 2:
            return None
        dtype, batch = g.dtype, g.shape[:-2]
        for x, needed in ((a, need_b), (b, need_a)):
            if needed and not (type(x) is _ndarray and x.dtype == dtype and x.ndim >= 2):
                return None
        # An operand whose batch dims broadcast is made whole (a copy), and so is the gradient:
        # the engine sums it back. The side not saved (None) takes g's batch dims likewise.
        if a is not None and a.shape[:-2] not in ((), batch):
            a = _to_batch(a, batch)
        if b is not None and b.shape[:-2] not in ((), batch):
            b = _to_batch(b, batch)
        a_shape = a.shape if a is not None else batch + (g.shape[-2], b.shape[-2])
        b_shape = b.shape if b is not None else batch + (a.shape[-1], g.shape[-1])
        (m, k), (k2, n) = a_shape[-2:], b_shape[-2:]
        ba, bb = a_shape[:-2], b_shape[:-2]
        if k != k2 or not (ba == bb or not ba or not bb) or g.shape != (ba or bb) + (m, n):
            return None
        if 0 in (m, n, k) or max(m, n, k) >= 2**31:
            return None                      # NumPy fills the empty products
        nb = math.prod(ba or bb)
        if (_numpy_product(m, k, n, self.max_flops_numpy, nb)
                and _numpy_product(k, n, m, self.max_flops_numpy, nb)):
            return None           # as in matmul: NumPy's OpenBLAS runs these on one thread
        G = _blas_mat(g)
        sg = G[3]
        ga = gb = None
        # both products' arguments first, then the two gemms back to back: Python run between
        # or after them finds the caches filled with their operands (~3x as slow as warm)
        products = []
        if need_a:
            Bm = _blas_mat(b)
            sb = Bm[3] if bb else 0
            ga, beta = self._grad_buffer(acc_a, a_shape, dtype)
            if ba and not bb and not G[1] and nb * m < 2**31 and sg == m * G[2]:
                # b shared: all batches at once, (B m x n) @ (n x k)
                products.append((False, not Bm[1], nb * m, k, n, G[0], G[2], Bm[0], Bm[2], beta,
                                 ga.reshape(-1), k))
            else:                            # per batch; b batched, a not: summed into ga
                products.append((G[1], not Bm[1], m, k, n, G[0], G[2], Bm[0], Bm[2], beta,
                                 ga.reshape(-1), k, nb, sg, sb, m * k if ba else 0))
        if need_b:
            A = _blas_mat(a)
            sa = A[3] if ba else 0
            gb, beta = self._grad_buffer(acc_b, b_shape, dtype)
            if (ba and not bb and not A[1] and not G[1] and nb * m < 2**31
                    and sa == m * A[2] and sg == m * G[2]):
                # sum over batches of a_i^T g_i = (B m x k)^T @ (B m x n): one gemm
                products.append((True, False, k, n, nb * m, A[0], A[2], G[0], G[2], beta,
                                 gb.reshape(-1), n))
            else:
                products.append((not A[1], G[1], k, n, m, A[0], A[2], G[0], G[2], beta,
                                 gb.reshape(-1), n, nb, sa, sg, k * n if bb else 0))
        for args in products:
            _linalg.gemm_(*args)
        return ga, gb

    def linear_backward(self, x, w, g, need_x=True, need_w=True, need_b=True,
                        acc_x=None, acc_w=None, acc_b=None):
        """(g @ w, g^T @ x, column sums of g) with x and g as 2-D row blocks: two gemms
        straight into the buffers and one pass for the bias. x may be None when need_w is
        false, w when need_x is false (the op saves only what backward reads)."""
        inner = w if need_x else x           # its last dim is the products' third
        if (type(g) is _ndarray and type(inner) is _ndarray and inner.ndim and g.ndim
                and _numpy_product(g.size // max(g.shape[-1], 1), inner.shape[-1],
                                   g.shape[-1], self.max_flops_numpy)
                and _numpy_product(g.shape[-1], inner.shape[-1], g.size // max(g.shape[-1], 1),
                                   self.max_flops_numpy)):   # small, as in linear: NumPy's
            return NumpyKernels.linear_backward(self, x, w, g, need_x, need_w, need_b, acc_x,
                                                acc_w, acc_b)
        check_linear_backward(x, w, g)
        if not self._linear_takes(x, w, g, need_x, need_w):
            return super().linear_backward(x, w, g, need_x, need_w, need_b, acc_x, acc_w,
                                           acc_b)
        dtype, out_f = g.dtype, g.shape[-1]
        # (neither x nor w is saved when only the bias needs its gradient)
        in_f = w.shape[1] if need_x else x.shape[-1] if need_w else 0
        g2 = g.reshape(-1, out_f)
        rows = g2.shape[0]
        G = _blas_mat(g2)
        gx = gw = gb = None
        if need_x:
            W = _blas_mat(w)
            gx, beta = self._grad_buffer(acc_x, g.shape[:-1] + (in_f,), dtype)
            _linalg.gemm_(G[1], W[1], rows, in_f, out_f, G[0], G[2], W[0], W[2], beta,
                          gx.reshape(-1), in_f)
        if need_w:
            X = _blas_mat(x.reshape(-1, in_f))
            gw, beta = self._grad_buffer(acc_w, (out_f, in_f), dtype)
            _linalg.gemm_(not G[1], X[1], out_f, in_f, rows, G[0], G[2], X[0], X[2], beta,
                          gw.reshape(-1), in_f)
        if need_b:
            g2c = g2 if _usable(g2, dtype) else np.ascontiguousarray(g2)   # (G[0]: gaps)
            add = acc_b is not None and acc_b.shape == (out_f,) and _writable(acc_b, dtype)
            target = acc_b if add else np.empty(out_f, dtype)
            if g2c.size >= self.min_size_sum_cols:
                _rd_for[dtype].sum_cols_(g2c.reshape(1, rows, out_f), target.reshape(1, out_f),
                                         add)
                gb = target if add or acc_b is None else _into(acc_b, target)
            else:
                gb = _into(acc_b, g2c.sum(axis=0))
        return gx, gw, gb

    def _linear_takes(self, x, w, g, need_x, need_w):
        """Whether linear_backward's gemm path applies (else NumPy's)."""
        if type(g) is not _ndarray or not _float(g.dtype) or g.ndim < 1:
            return False
        if 0 in g.shape or g.size >= 2**31:
            return False
        if need_x and not (type(w) is _ndarray and w.dtype == g.dtype and w.ndim == 2
                           and w.shape[0] == g.shape[-1] and 0 not in w.shape
                           and w.size < 2**31):
            return False
        if need_w and not (type(x) is _ndarray and x.dtype == g.dtype
                           and x.shape[:-1] == g.shape[:-1] and x.ndim >= 1
                           and 0 not in x.shape and x.size < 2**31):
            return False
        return True

    # ---- optimizers: one fused pass per parameter ------------------------------------------
    # A parameter whose arrays the kernel cannot take (non-contiguous, read-only, mixed
    # dtypes) goes through the NumPy step alone, as a one-element list; so does an Adam or
    # Adagrad step with a float32 lr (a Tensor lr's), whose step size the compiled kernels
    # would compute in double.
    # plain SGD of one-element float32 parameters takes NumPy's Python-float path (1.9 us
    # against the fused call's 3.6); from 2 elements (or in float64) NumPy's single-rounding
    # p + (-lr) g (_fma) costs more than the call (6.4 us against 3.6 at 2, 20 against 6 at
    # 1024)
    def sgd_step_(self, params, grads, momentum_buffers, *, lr, momentum, dampening,
                  weight_decay, nesterov, maximize):
        if momentum == 0 and weight_decay == 0:
            for p in params:
                if type(p) is not _ndarray or p.size != 1 or p.dtype != _F32:
                    break
            else:
                return NumpyKernels.sgd_step_(self, params, grads, momentum_buffers, lr=lr,
                                              momentum=0, dampening=dampening, weight_decay=0,
                                              nesterov=nesterov, maximize=maximize)
        for i, (p, g) in enumerate(zip(params, grads)):
            buf = momentum_buffers[i] if momentum != 0 else None
            if _fusable(p, g, buf):
                first = momentum != 0 and buf is None
                if first:
                    buf = momentum_buffers[i] = np.empty(p.shape, p.dtype)
                pf = p.reshape(-1)
                _optim_for[p.dtype].sgd_(pf, g.reshape(-1),
                                         pf[:1] if buf is None else buf.reshape(-1), lr,
                                         weight_decay, momentum, dampening, nesterov, maximize,
                                         first)
            else:
                one = [buf]
                super().sgd_step_([p], [g], one, lr=lr, momentum=momentum,
                                  dampening=dampening, weight_decay=weight_decay,
                                  nesterov=nesterov, maximize=maximize)
                if momentum != 0:
                    momentum_buffers[i] = one[0]

    def adam_step_(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr,
                   beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v = exp_avgs[i], exp_avg_sqs[i]
            vmax = max_exp_avg_sqs[i] if amsgrad else None
            if _fusable(p, g, m, v, vmax) and m is not None and v is not None and (
                    vmax is not None or not amsgrad) and isinstance(lr, float) and type(
                    beta1) is float:                   # (Tensor betas: NumPy's scalars)
                pf = p.reshape(-1)
                _optim_for[p.dtype].adam_(
                    pf, g.reshape(-1), m.reshape(-1), v.reshape(-1),
                    pf[:1] if vmax is None else vmax.reshape(-1), lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled_weight_decay, steps[i])
            else:
                super().adam_step_([p], [g], [m], [v], [vmax], [steps[i]], lr=lr, beta1=beta1,
                                   beta2=beta2, eps=eps, weight_decay=weight_decay,
                                   amsgrad=amsgrad, maximize=maximize,
                                   decoupled_weight_decay=decoupled_weight_decay)

    def rmsprop_step_(self, params, grads, square_avgs, momentum_buffers, grad_avgs, *, lr,
                      alpha, eps, weight_decay, momentum, centered, maximize):
        for i, (p, g) in enumerate(zip(params, grads)):
            sq = square_avgs[i]
            buf = momentum_buffers[i] if momentum > 0 else None
            avg = grad_avgs[i] if centered else None
            if (_fusable(p, g, sq, buf, avg) and sq is not None
                    and (buf is not None or not momentum > 0)
                    and (avg is not None or not centered)
                    and not (centered and alpha == 0)):     # (NumPy's fused multiply-add)
                pf = p.reshape(-1)
                _optim_for[p.dtype].rmsprop_(pf, g.reshape(-1), sq.reshape(-1),
                                             pf[:1] if buf is None else buf.reshape(-1),
                                             pf[:1] if avg is None else avg.reshape(-1), lr,
                                             alpha, eps, weight_decay, momentum, centered,
                                             maximize)
            else:
                super().rmsprop_step_([p], [g], [sq], [buf], [avg], lr=lr, alpha=alpha,
                                      eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize)

    def adagrad_step_(self, params, grads, state_sums, steps, *, lr, lr_decay, weight_decay,
                      eps, maximize):
        for i, (p, g) in enumerate(zip(params, grads)):
            s = state_sums[i]
            if _fusable(p, g, s) and s is not None and isinstance(lr, float):
                _optim_for[p.dtype].adagrad_(p.reshape(-1), g.reshape(-1), s.reshape(-1), lr,
                                             lr_decay, weight_decay, eps, maximize, steps[i])
            else:
                super().adagrad_step_([p], [g], [s], [steps[i]], lr=lr, lr_decay=lr_decay,
                                      weight_decay=weight_decay, eps=eps, maximize=maximize)


def _over_leading(full, shape):
    """Whether summing an array of shape `full` down to `shape` (as many dims, or fewer) sums
    over leading axes only: shape, less its leading 1s, is full's trailing dims (a column sum),
    and something is summed."""
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    kept = tuple(shape[i:])
    return 0 < len(kept) < len(full) and kept == tuple(full[len(full) - len(kept):])


def _drop(shape, dim):
    """shape without the reduced dims (all of them for dim None)"""
    if dim is None:
        return ()
    axes = {int(a) % len(shape) for a in dim}
    return tuple(n for i, n in enumerate(shape) if i not in axes)


_ufunc_pool = [None, 0]     # the pool and its worker count


def _sliced_ufunc(ufunc, x, least=1 << 21):
    """ufunc(x) cut into one slice per thread (the pool's threads and the caller) when
    set_num_threads is above one and x has `least` elements or more, else None. NumPy's ufunc
    loops release the GIL and compute each element alone, so the bits are those of one call.
    Waking a pool thread costs ~50-100 us here: tanh at 10^6 gained nothing, at 10^7 it went
    from 4.1 to 2.4 ms."""
    threads = _threads.get_num_threads()
    if (threads < 2 or type(x) is not _ndarray or x.size < least or not _float(x.dtype)
            or not x.flags.c_contiguous):
        return None
    pool, workers = _ufunc_pool
    if workers < threads - 1:
        from concurrent.futures import ThreadPoolExecutor
        if pool is not None:
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(threads - 1, "cgrad-ufunc")
        _ufunc_pool[:] = pool, threads - 1
    out = np.empty(x.shape, x.dtype)
    xf, of = x.reshape(-1), out.reshape(-1)
    step = (xf.size // threads + 63) // 64 * 64          # slices start at whole 64s
    cuts = list(range(0, xf.size, step)) + [xf.size]
    jobs = [pool.submit(ufunc, xf[lo:hi], out=of[lo:hi])
            for lo, hi in zip(cuts[1:-1], cuts[2:])]
    ufunc(xf[:cuts[1]], out=of[:cuts[1]])
    for job in jobs:
        job.result()
    return out


def _weight_sum(weight, n_classes, label_smoothing):
    """what the cross-entropy kernels take as the class weights' sum (C without weights;
    only label smoothing reads it)"""
    return float(weight.sum()) if weight.size and label_smoothing > 0 else float(n_classes)


def _acl(x):
    """(A, C, L) of an (N, C) (L = 1) or (N, C, L) array, as the class-loss kernels take it"""
    return x.shape if x.ndim == 3 else x.shape + (1,)


class _Softmax:
    """What the fused cross-entropy forward saves for its backward: the softmax as e = exp(x -
    max) (N, C) or (N, C, L), and scale = 1 / the sums over the classes, flat (N L). Only
    this backend reads it (the op calls the backward of the backend that ran the forward)."""
    __slots__ = ("e", "scale")

    def __init__(self, e, scale):
        self.e, self.scale = e, scale

    @property
    def p(self):
        """the softmax itself"""
        e = self.e
        return e * self.scale.reshape(e.shape[:1] + (1,) + e.shape[2:])


def _to_batch(x, batch):
    """x's matrices broadcast to the batch dims `batch` (a read-only view)."""
    return np.broadcast_to(x, batch + x.shape[-2:])


def _blas_mat(x):
    """(flat, trans, ld, step): x's last two dims as row-major matrices for gemm, read where
    they are (trans: x is the transpose of such a stack): rows ld elements apart, matrix i at
    flat[i * step] (one stride over x's leading dims; 0 for a broadcast batch). So a view of
    every few columns (attention's heads of a (L, N, E) projection) or a broadcast is not
    copied; anything else is, once. gemm_ only reads through these."""
    if x.flags.aligned:
        for trans in (False, True):
            read = _strided_rows(np.swapaxes(x, -1, -2) if trans else x)
            if read is not None:
                return read[0], trans, read[1], read[2]
    x = np.ascontiguousarray(x)
    return x.reshape(-1), False, max(1, x.shape[-1]), x.shape[-2] * x.shape[-1]


def _strided_rows(v):
    """(flat, ld, step) for v's matrices (rows of contiguous elements ld apart, one batch
    stride step), or None"""
    rows, cols = v.shape[-2:]
    if v.flags.c_contiguous:
        return v.reshape(-1), max(1, cols), rows * cols
    item, strides = v.itemsize, v.strides
    if min(strides) < 0 or any(s % item for s in strides) or (cols > 1 and strides[-1] != item):
        return None
    ld = strides[-2] // item if rows > 1 else max(1, cols)
    if ld < cols:
        return None
    step = None                             # the batch dims merged into one stride
    for size, stride in zip(reversed(v.shape[:-2]), reversed(strides[:-2])):
        if size == 1:
            continue
        if step is None:
            step, extent = stride // item, size
        elif stride // item != step * extent:
            return None
        else:
            extent *= size
    step = step if step is not None else rows * ld
    span = sum((n - 1) * s for n, s in zip(v.shape, strides)) // item + 1
    flat = np.lib.stride_tricks.as_strided(v, (span,), (item,), writeable=False)
    return flat, ld, step


def _numpy_product(m, n, k, most, batch=1):
    """Whether NumPy's matmul takes `batch` products of m x k @ k x n: at most `most` m n k
    in all (~1-2 us less per call than the gemm path's checks), but neither one output
    element from a long k (NumPy hands that to BLAS's dot, whose threads split k: 1 and 2
    threads would differ) nor outer products (k = 1) of 2^12 elements or more (NumPy's own
    loop: 26 us for 128 x 128, 370 for 512 x 512; the kernels' 7 and 50)."""
    return (batch * m * n * k <= most and not _one_long_dot(m, n, k)
            and not (k == 1 and batch * m * n >= 1 << 12))


def _small_product(a, b, most):
    """Whether a @ b is a 2-D product for NumPy (_numpy_product)"""
    return (type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2
            and _numpy_product(a.shape[0], b.shape[1], a.shape[1], most))


def _small_backward(a, b, most):
    """Whether both gradient products of a 2-D a @ b (m x k @ k x n) are for NumPy: g @ b^T
    (m x k, over n) and a^T @ g (k x n, over m)"""
    if not (type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2):
        return False
    (m, k), n = a.shape, b.shape[1]
    return _numpy_product(m, k, n, most) and _numpy_product(k, n, m, most)


def _one_long_dot(m, n, k):
    return m == 1 and n == 1 and k > 4096


def _fusable(p, g, *state):
    """Whether one parameter's arrays suit the fused kernels: p and its state writeable,
    everything C-contiguous, aligned, of p's shape and float dtype (None state entries are
    skipped: the caller checks which it needs)."""
    if type(p) is not _ndarray or not _float(p.dtype) or not _writable(p, p.dtype):
        return False
    if not _usable(g, p.dtype) or g.shape != p.shape:
        return False
    for a in state:
        if a is not None and not (_writable(a, p.dtype) and a.shape == p.shape):
            return False
    return True


def _as_dtype(value, x):
    """A Python number rounded to x's dtype, as a double (exact), like NumPy's weak scalars."""
    try:
        return float(x.dtype.type(value)) if _float(x.dtype) else 0.0
    except (OverflowError, TypeError, ValueError):
        return float("nan")


def _bounds(x, lo, hi):
    """(lo, hi) for the clamp kernel (-inf / +inf for a missing one), or None when a bound is
    not a Python number or both are missing."""
    if lo is None and hi is None:
        return None
    for v in (lo, hi):
        if v is not None and (type(v) not in (int, float) or v != v):
            return None                      # (a NaN bound: NumPy's clamp, all NaN)
    return (-np.inf if lo is None else _as_dtype(lo, x), np.inf if hi is None else
            _as_dtype(hi, x))


def _small_int(c, least):
    return type(c) in (int, float) and c == int(c) and least <= c <= 8
