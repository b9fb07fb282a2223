"""The NumPy backend: the reference implementation of cgrad's kernel interface.

Every kernel here is plainly right and written as the math reads; the Cython backend
overrides the hot ones and is tested against these. Conventions:
- `<op>` returns a new array; `<op>_backward` returns the input gradient(s), or adds into
  `acc` (an existing gradient buffer of the input's shape) and returns acc; `<op>_` works in
  place.
- Binary kernels take operands already promoted to one dtype (a Python scalar may stand for
  either); gradients may come back broadcast, the engine sums them to each input's shape.
"""
import functools
import inspect
import itertools
import math

import numpy as np

from ._stdsort import std_sort, std_topk
from .._memory import zeros
from .._memory_format import laid_like


# NumPy's sum of float arrays without its Python wrapper: the same pairwise sum, but an
# overflow warns from cgrad's frame, which cgrad's warning filter silences (as PyTorch gives
# inf silently); ndarray.sum / np.sum warn from NumPy's own modules. (Floats only: for
# small integers and bools np.sum widens the dtype, np.add.reduce does not. Its axis
# defaults to 0: axis=None sums a whole array.)
_fsum = np.add.reduce


def _rsqrt(v):
    """1 / sqrt(v); float16 computed in float32 and rounded once, as PyTorch's"""
    if v.dtype == np.float16:
        return (1 / np.sqrt(v.astype(np.float32))).astype(np.float16)
    return 1 / np.sqrt(v)


def _half_by_float(method, *args):
    """method on float16 arrays (the leading args) computed in float32 and rounded once: the
    softmax family, whose float16 sums stop at 2048 (a row of 4096 ones summed 2048), where
    PyTorch accumulates half in float"""
    arrays = [a.astype(np.float32) for a in args if isinstance(a, np.ndarray)]
    rest = [a for a in args if not isinstance(a, np.ndarray)]
    return method(*arrays, *rest).astype(np.float16)


def _half_in_float(kernel):
    """kernel as PyTorch's CPU kernels run float16: its float16 arrays in float32, the result
    rounded once to float16 (then added into `acc`, when given). For the kernels PyTorch has
    one loop for (activations and their backward); NumPy's formulas round each step."""
    signature = inspect.signature(kernel)

    @functools.wraps(kernel)
    def in_float(self, x, *args, **kwargs):
        if x.dtype != np.float16:
            return kernel(self, x, *args, **kwargs)
        bound = signature.bind(self, x, *args, **kwargs)
        acc = bound.arguments.pop("acc", None)
        for name, value in bound.arguments.items():
            if type(value) is np.ndarray and value.dtype == np.float16:
                bound.arguments[name] = value.astype(np.float32)
        return _into(acc, kernel(*bound.args, **bound.kwargs).astype(np.float16))
    return in_float


def _rounded_once(ufunc, x):
    """ufunc(x), a float32 x's in float64 rounded once: correctly rounded but where the double
    rounding meets a tie (~never), as PyTorch's float kernels nearly always are. NumPy's own
    float32 loops are glibc's on most hosts, but on an AVX-512 host its SIMD code: there its
    tan, arcsin and log10 were up to 3 ulp off, its exp2(127.) an ulp high."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if x.dtype == np.float32:          # (NumPy's float64 loop, cast back in its buffers)
            return ufunc(x, out=np.empty_like(x), dtype=np.float64)
        return ufunc(x)


# ---- PyTorch's order for the sum of every element (cgrad._C.reduce.torch_sum's) -------------
CASCADE_VECTOR = 32          # bytes of the vectors PyTorch's CPU sum kernel adds
CASCADE_LEVELS = 4


def _sequential(rows):
    """rows[:, 0] + rows[:, 1] + ... in order, lane by lane (NumPy reduces an outer axis so),
    for an (R, k, lanes) array: (R, lanes), zeros where k is 0"""
    return np.add.reduce(rows, axis=1) if rows.shape[1] else \
        np.zeros((rows.shape[0], rows.shape[2]), rows.dtype)


def _chunk_sums(rows, step):
    """(R, k, lanes) -> the sequential sums of its complete chunks of step along k, and what
    is past them"""
    R, k, lanes = rows.shape
    full = k // step
    return _sequential(rows[:, :full * step].reshape(R * full, step, lanes)).reshape(
        R, full, lanes), rows[:, full * step:]


def _cascade(rows, power):
    """multi_row_sum of each of R stacks of rows (an (R, S, lanes) array): its four levels of
    partial sums, each 2**power of the level below, combined as it ends (acc0 + acc1, + acc2,
    + acc3): (R, lanes)"""
    step = 1 << power
    if rows.shape[1] < step:                              # no whole chunk: level 0 alone
        return _sequential(rows)
    chunks, past = _chunk_sums(rows, step)
    total = _sequential(past)                             # level 0: rows past the last chunk
    for level in range(1, CASCADE_LEVELS):
        if level < CASCADE_LEVELS - 1:
            chunks, past = _chunk_sums(chunks, step)
        else:
            past = chunks                                 # level 3 keeps all of level 2
        total = total + _sequential(past)
    return total


def torch_sums(x):
    """The sum of each row of a C-contiguous (R, n) float32/float64 array in PyTorch's CPU
    order: vectors of 32 bytes, four to a row, the rows in a cascade, then the leftover
    vectors, the four partials, the scalar tail and the lanes (cgrad._C.reduce.torch_sum's
    bits): (R,). In few NumPy calls: a tensor's loss is summed so every step."""
    t = x.dtype.type
    R, n = x.shape
    w = CASCADE_VECTOR // x.itemsize
    if n < w:
        w = 1
    vectors = n // w
    rows = vectors // 4
    power = max(4, (1 if rows <= 2 else (rows - 1).bit_length()) // CASCADE_LEVELS)
    acc = _cascade(x[:, :rows * 4 * w].reshape(R, rows, 4 * w), power).reshape(R, 4, w)
    # the first partial, the leftover vectors, the other three partials: in that order
    partial = _sequential(np.concatenate(
        (acc[:, :1], x[:, rows * 4 * w:vectors * w].reshape(R, -1, w), acc[:, 1:]), axis=1))
    # the scalar tail, then the lanes, one by one from 0 (accumulate adds in order)
    tail = np.concatenate((x[:, vectors * w:], partial), axis=1)
    return t(0) + np.add.accumulate(tail, axis=1)[:, -1]


def torch_sum(flat):
    """torch_sums of a 1-D array: a 0-d array"""
    return np.array(torch_sums(flat.reshape(1, -1))[0])


def dense_in_memory_order(x):
    """x's elements as a C-contiguous 1-D view in memory order (x dense: C- or F-contiguous,
    or a permutation of such), else None"""
    if x.flags.c_contiguous:
        return x.reshape(-1)
    if 0 in x.strides and any(n > 1 and st == 0 for n, st in zip(x.shape, x.strides)):
        return None                           # broadcast (a mean's gradient): at once
    order = sorted(range(x.ndim), key=lambda i: -abs(x.strides[i]))
    flat = x.transpose(order)
    return flat.reshape(-1) if flat.flags.c_contiguous else None


def _torch_trailing_sum(x, dim, keepdim):
    """PyTorch's sums of a C-contiguous float32/float64 x over its trailing axes dim (each
    row summed as torch_sums sums it), or None where dim is not a run of trailing axes"""
    if (type(x) is not np.ndarray or x.dtype.char not in "fd" or not dim or x.size == 0
            or not x.flags.c_contiguous or sorted(dim) != list(range(x.ndim - len(dim), x.ndim))
            or len(dim) == x.ndim):
        return None
    lead = x.shape[:x.ndim - len(dim)]
    sums = torch_sums(x.reshape(math.prod(lead), -1)).reshape(lead)
    return sums.reshape(lead + (1,) * len(dim)) if keepdim else sums


def _torch_sum_all(x):
    """torch_sum of every element of a dense float32/float64 x, else None"""
    if type(x) is not np.ndarray or x.dtype.char not in "fd":
        return None
    flat = dense_in_memory_order(x)
    return None if flat is None else torch_sum(flat)


def mean_of_sum(total, n):
    """sums / n in place, n rounded to their dtype (PyTorch's mean: sum, then div_(n)); 0 / 0
    is NaN (only then the errstate, which costs ~2 us: a loss's mean is taken every step)"""
    if n:
        return np.true_divide(total, total.dtype.type(n), out=total)
    with np.errstate(invalid="ignore"):
        return np.true_divide(total, total.dtype.type(n), out=total)


def _special():
    """scipy.special, imported on first use: importing it costs ~0.2 s, most of `import cgrad`."""
    from scipy import special
    return special

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
LN10 = 2.3025850929940456                 # PyTorch's ln 10 (derivatives.yaml), not math.log(10)


HARDSIGMOID_SLOPE = np.float32(1 / 6)    # PyTorch's float constant, in double too
BCE_EPSILON = float(np.float32(1e-12))   # binary_cross_entropy's gradient clamp: PyTorch's
                                         # float EPSILON, in double too (9.99999996e-13)


def along_key(index, dim):
    """index (ndim >= 1) as a full NumPy key: index along dim, the positions themselves on
    the other axes (PyTorch's gather and scatter)"""
    key = list(np.ix_(*[np.arange(n) for n in index.shape]))
    key[dim] = index
    return tuple(key)


def broadcast_axes(full, shape):
    """the axes of `full` that broadcasting `shape` to it adds (leading) or stretches (size 1
    in shape): those a gradient sums over, down to shape"""
    lead = len(full) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and full[lead + i] != 1)


def _for_blas(x):
    """x, or a C-contiguous copy where it is broadcast (a sum's or mean's gradient): NumPy's
    matmul hands no zero stride to BLAS, and its own loop took 0.7 ms for the gradients of
    (1, 512) @ (512, 512), the copy ~1 us. (A size-1 axis's zero stride, v[:, None]'s, is
    contiguous: kept.)"""
    if type(x) is np.ndarray and 0 in x.strides and not x.flags.c_contiguous:
        return np.ascontiguousarray(x)
    return x


def _into(acc, d):
    """d, or acc += d (returning acc) when an accumulation buffer of the same shape is given;
    a 0-d acc also takes a broadcast d, summed first (what the engine would do with it)."""
    if acc is None:
        return d
    if acc.shape != d.shape:
        if acc.ndim == 0 and d.dtype.kind == "f":    # a 0-d input's gradient: the engine's
            acc[()] = float(acc) + np.add.reduce(d, axis=None).item()   # sum, then += (exact)
            return acc
        return d
    if acc.ndim == 0:                  # exact on Python floats; NumPy's in-place add of one
        acc[()] = float(acc) + float(d)  # element costs ~0.8 us
        return acc
    return np.add(acc, d, out=acc)


def check_linear_backward(x, w, g):
    """ValueError naming the shapes unless g can be the gradient of x @ w^T (x or w may be
    None: what the op did not save)"""
    if x is None or w is None:
        return
    xs = x.shape if type(x) is np.ndarray else np.shape(x)   # (np.shape: ~0.2 us a call)
    ws = w.shape if type(w) is np.ndarray else np.shape(w)
    gs = g.shape if type(g) is np.ndarray else np.shape(g)
    if len(ws) == 2 and len(xs) >= 1 and (xs[-1] != ws[1] or gs != xs[:-1] + ws[:1]):
        raise ValueError(f"linear_backward: x {xs}, weight {ws} cannot give a gradient of "
                         f"shape {gs}")


def _scalar(value, like):
    """A Python number as a 0-d array of like's dtype, so float32 math stays float32."""
    return like.dtype.type(value)


def _class_targets(target, ignore_index, n_classes):
    """(the targets not ignored, the targets with 0 where ignored) of class-index targets, or
    PyTorch's IndexError for one neither ignore_index nor in [0, n_classes)"""
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(target[bad][0])} is out of bounds.")
    return valid, np.where(valid, target, 0)


def _class_denominator(valid, target, weight):
    """what a class loss's mean divides by: the summed weights of the targets not ignored
    (their count without weight), as PyTorch's nll_loss"""
    return float(valid.sum() if weight is None else weight[target[valid]].sum(dtype=np.float64))


def _at_class(a, index):
    """a[n, index[n], ...]: each row's (each position's) entry at its class, along axis 1"""
    return np.take_along_axis(a, index[:, None], axis=1)[:, 0]


def _add_at_class(a, index, values):
    """a[n, index[n], ...] += values[n, ...], in place (one class per row or position)"""
    np.put_along_axis(a, index[:, None], _at_class(a, index)[:, None] + values[:, None], axis=1)


def _per_class(weight, ndim):
    """a (C,) weight shaped to broadcast along axis 1 of an ndim-dim (N, C, ...) array"""
    return weight.reshape((-1,) + (1,) * (ndim - 2))


def _power(x, c):
    """x ** c for a float array and a Python number, as PyTorch computes it: x*x for 2, x*x*x
    for 3, 1 / (x*x) for -2, sqrt for 0.5 and 1 / sqrt for -0.5 (so (-0.) ** 0.5 is -0. and
    (-inf) ** -0.5 is nan, where C's pow gives +0. and 0.; glibc's pow of a negative base is
    also ~60 ns an element). float16 takes C's pow but for 2, as PyTorch's half kernel."""
    if c == 2:
        return np.multiply(x, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if x.dtype != np.float16:
            if c == 3:
                return x * x * x
            if c == -2:
                return np.reciprocal(x * x)
            if c == 0.5:
                return np.sqrt(x)
            if c == -0.5:
                return np.reciprocal(np.sqrt(x))
        return np.power(x, _scalar(c, x))


def _opmath(ufunc, a, b):
    """ufunc(a, b) (* or /). A float16 array with a Python number is computed in float32, the
    number unrounded, and rounded once to float16, as PyTorch's mul and div kernels take the
    number (NumPy rounds it to float16 first: x * 1.1 multiplied by 1.0996). PyTorch's add
    and sub do round it first."""
    number, array = (b, a) if type(b) is float or type(b) is int else (a, b)
    if (type(number) is float or type(number) is int) and type(array) is np.ndarray and \
            array.dtype == np.float16:
        return ufunc(a, b, dtype=np.float32).astype(np.float16)
    return ufunc(a, b)


def _clamped(fn, x, bound):
    """fn(x, bound) for np.maximum or np.minimum. Where x ties with a number bound (-0. and
    0.) x stays, as in PyTorch's kernel (NumPy's pick varies with the dtype and the order);
    an array bound gives itself there, as PyTorch's"""
    if isinstance(bound, np.ndarray):
        return fn(x, bound)
    y = fn(x, _scalar(bound, x))
    if bound == 0 and x.dtype.kind == "f":
        y = np.where(x == 0, x, y)
    return y


# std::sort's comparisons of keys in sort_order: PyTorch's KeyValueCompAsc / KeyValueCompDesc
# (NaN the largest) and mode's plain <, which NaN breaks
_SORT_LESS = {
    "ascending": lambda a, b: (a == a and b != b) or a < b,
    "descending": lambda a, b: (a != a and b == b) or a > b,
    "less": lambda a, b: a < b,
}


def _stable_order(rows, descending):
    """each row's stable ascending or descending order, NaN the largest (so first when
    descending: +inf and NaN must not tie)"""
    if not descending:
        return np.argsort(rows, axis=-1, kind="stable")
    if rows.dtype.kind != "f":
        return np.argsort(~rows, axis=-1, kind="stable")   # ~: decreasing, and never overflows
    nan = np.isnan(rows)
    return np.lexsort((-np.where(nan, 0, rows), ~nan), axis=-1)


def _ties_and_nan(rows, order):
    """per row (order: a sorted order of it): whether two of its values tie, whether one is
    NaN"""
    ordered = np.take_along_axis(rows, order, -1)
    tied = (ordered[:, 1:] == ordered[:, :-1]).any(-1)
    nan = np.isnan(rows).any(-1) if rows.dtype.kind == "f" else np.zeros_like(tied)
    return tied, nan


class NumpyKernels:
    name = "numpy"

    # ---- gradient buffers --------------------------------------------------------------
    def accumulate_(self, acc, g):
        """acc += g in place (g broadcast to acc's shape); returns acc."""
        if acc.ndim == 0 and acc.dtype.kind == "f":
            acc[()] = float(acc) + float(g)         # exact, and 10x cheaper than NumPy's here
            return acc
        np.add(acc, g, out=acc, casting="unsafe")
        return acc

    def index_add_(self, out, dim, idx, src):
        """out[..., idx[i], ...] += src[..., i, ...] along dim, in place (repeated indices add
        up, in order of i; negative ones count from the end); returns out. idx: 1-D integers;
        src: out's shape with idx.size at dim."""
        np.add.at(out, (slice(None),) * dim + (idx,), src)
        return out

    def scatter_add_(self, out, dim, idx, src):
        """out[..., idx[..., i, ...], ...] += src[..., i, ...] along dim, in place: PyTorch's
        scatter_add_ with src of the index's shape (repeated indices add up, in order of i;
        negative ones count from the end); returns out"""
        np.add.at(out, along_key(idx, dim), src)
        return out

    def gather(self, x, dim, idx):
        """x[..., idx[..., i, ...], ...] along dim: PyTorch's gather (idx, of x's ndim >= 1,
        no longer than x on the other axes; negative indices count from the end)"""
        return x[along_key(idx, dim)]

    def amax(self, x, dim=None, keepdim=False):
        """the largest element over dim (a tuple of axes; None: all), NaN where one is NaN"""
        return np.asarray(np.max(x, axis=dim, keepdims=keepdim))

    def amin(self, x, dim=None, keepdim=False):
        """the smallest element over dim, as amax"""
        return np.asarray(np.min(x, axis=dim, keepdims=keepdim))

    def first_max_last_nan(self, x, axis):
        """the index along axis of x's first maximum, or of its last NaN where there is one
        (PyTorch's max pooling pick)"""
        idx = np.argmax(x, axis=axis)
        nan = np.isnan(x) if x.dtype.kind == "f" else None
        if nan is not None and nan.any():
            last_nan = x.shape[axis] - 1 - np.argmax(np.flip(nan, axis), axis=axis)
            idx = np.where(nan.any(axis), last_nan, idx)
        return idx

    def running_sum(self, x, axis=-1, reverse=False):
        """the running sums along x's axis (a float array of at least one dim), from its end
        if reverse: in float64, as PyTorch's acc_type for float32, from +0 (never a -0), then
        rounded; C-contiguous"""
        a = np.flip(x, axis) if reverse else x
        y = np.cumsum(a, axis=axis, dtype=np.float64)
        y += 0.0
        y = y.astype(x.dtype, copy=False)                  # (float64: no second copy)
        return np.ascontiguousarray(np.flip(y, axis) if reverse else y)

    def as_contiguous(self, x):
        """a row-major copy of x (at least 1-D, as np.ascontiguousarray)"""
        return np.ascontiguousarray(x)

    def zero_(self, a):
        """a[...] = 0 in place; returns a."""
        a.fill(0)
        return a

    def sum_to_shape(self, g, shape):
        """Sum g over the leading and size-1 dims that broadcasting added, down to shape
        (down to one element: PyTorch's order, as its sum_to's sum over every dim)."""
        if shape.count(1) == len(shape) and len(shape) <= np.ndim(g):
            total = _torch_sum_all(g)
            if total is not None:
                return total.reshape(shape)
        if not shape:                    # down to a scalar: one reduction over everything
            return np.add.reduce(g, axis=None, keepdims=True).reshape(())
        axes = broadcast_axes(g.shape, shape)
        out = np.add.reduce(g, axis=axes, keepdims=True) if axes else g   # g.sum's own step
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
        return _opmath(np.multiply, a, b)

    def div(self, a, b):
        """a / b (true division)"""
        return _opmath(np.true_divide, a, b)

    def pow(self, a, b):
        """a ** b"""
        return np.power(a, b)

    def maximum(self, a, b):
        """max(a, b), NaN if either is NaN"""
        return np.maximum(a, b)

    def minimum(self, a, b):
        """min(a, b), NaN if either is NaN"""
        return np.minimum(a, b)

    def fma(self, x, y, z):
        """x * y + z rounded once to the arrays' dtype (numbers as that dtype holds them), as
        PyTorch's vectorised loops take add's and sub's alpha (fmadd): see _fma"""
        dtype = np.result_type(*[v for v in (x, y, z) if isinstance(v, np.ndarray)])
        return _fma(*(np.asarray(v, dtype) for v in (x, y, z)))

    def lerp(self, x, end, w):
        """x interpolated towards end at w (a number or an array), broadcast: PyTorch's two
        forms, each one fused multiply-add (fma): x + w (end - x) where |w| < 0.5, else end -
        (end - x)(1 - w) (float16 in float32, as PyTorch's opmath)"""
        result = x.dtype
        x, end = _opmath_of(x), _opmath_of(end)
        dt = x.dtype
        w = np.asarray(_opmath_of(w) if isinstance(w, np.ndarray) else w, dt)
        diff = end - x
        small = np.abs(w) < 0.5                  # (NaN is not: the second form, as PyTorch)
        near = self.fma(w, diff, x) if small.any() else None
        far = None if small.all() else self.fma(-diff, np.asarray(1, dt) - w, end)
        out = near if far is None else far if near is None else np.where(small, near, far)
        return np.broadcast_to(out, np.broadcast_shapes(x.shape, end.shape, w.shape)).astype(
            result)

    def neg(self, x):
        """-x"""
        return np.negative(x)

    def mul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g * b, g * a)"""
        ga = _into(acc_a, _opmath(np.multiply, g, b)) if need_a else None
        gb = _into(acc_b, _opmath(np.multiply, g, a)) if need_b else None
        return ga, gb

    def div_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g / b, -g * ((a / b) / b)): PyTorch's order (a / b**2 overflows or underflows
        where a / b / b does not: 1e20 / 1e20**2 in float32)"""
        ga = _into(acc_a, _opmath(np.true_divide, g, b)) if need_a else None
        if need_b:
            quotient = _opmath(np.true_divide, _opmath(np.true_divide, a, b), b)
            gb = _into(acc_b, np.negative(g) * quotient)
        else:
            gb = None
        return ga, gb

    def pow_backward(self, a, b, out, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g * b * a**(b-1), g * a**b * log(a)); the exponent gradient is 0 where a == 0 and
        b >= 0, as in PyTorch, whose g * where(.., 0, ..) keeps a NaN g there (a second
        derivative at a zero base reaches it: 0 * log(0))"""
        ga = gb = None
        if need_a:
            ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False)
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = (g * np.where((a == 0) & (b >= 0), 0, out * np.log(a))).astype(g.dtype,
                                                                                      copy=False)
        return (None if ga is None else _into(acc_a, ga)), (None if gb is None else
                                                            _into(acc_b, gb))

    def maximum_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """g goes to the larger input; ties split it in halves, and a NaN on either side
        passes all of g to both (PyTorch's rule)"""
        half = g * _scalar(0.5, g)
        ga = np.where(a == b, half, np.where(a < b, 0, g)).astype(g.dtype) if need_a else None
        gb = np.where(a == b, half, np.where(b < a, 0, g)).astype(g.dtype) if need_b else None
        return (None if ga is None else _into(acc_a, ga)), (None if gb is None else
                                                            _into(acc_b, gb))

    def minimum_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """g goes to the smaller input; ties split it in halves, and a NaN on either side
        passes all of g to both (PyTorch's rule)"""
        half = g * _scalar(0.5, g)
        ga = np.where(a == b, half, np.where(a > b, 0, g)).astype(g.dtype) if need_a else None
        gb = np.where(a == b, half, np.where(b > a, 0, g)).astype(g.dtype) if need_b else None
        return (None if ga is None else _into(acc_a, ga)), (None if gb is None else
                                                            _into(acc_b, gb))

    # ---- unary elementwise -------------------------------------------------------------------
    def exp(self, x):
        """e**x (float32 rounded once, as tanh and log)"""
        return _rounded_once(np.exp, x)

    def exp_backward(self, y, g, acc=None):
        """g * y, from the saved output"""
        return _into(acc, g * y)

    def log(self, x):
        """ln x (float32 rounded once: NumPy's AVX-512 float32 log was up to 3 ulp off, its exp
        2)"""
        return _rounded_once(np.log, x)

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
        """tanh(x) (float32 rounded once: NumPy's own AVX-512 float32 tanh is an ulp off in a
        third of the values and reaches 1 only from 10, where tanh rounds to 1 from 9.01, so a
        saturated unit's gradient was 1.2e-7 where PyTorch's is 0)"""
        return _rounded_once(np.tanh, x)

    @_half_in_float
    def tanh_backward(self, y, g, acc=None):
        """g * (1 - y*y), from the saved output"""
        return _into(acc, g * (1 - y * y))

    def expm1(self, x):
        """e**x - 1, without cancellation for small x"""
        return _rounded_once(np.expm1, x)

    def expm1_backward(self, y, g, acc=None):
        """g * (y + 1), from the saved output"""
        return _into(acc, g * (y + 1))

    def log1p(self, x):
        """ln(1 + x), without cancellation for small x"""
        return _rounded_once(np.log1p, x)

    def log1p_backward(self, x, g, acc=None):
        """g / (x + 1)"""
        return _into(acc, g / (x + 1))

    def erf(self, x):
        """the error function (SciPy's; float16 gives float32, which the op rounds back)"""
        return _special().erf(x)

    def erf_backward(self, x, g, acc=None):
        """g 2/sqrt(pi) e**(-x*x) (float16: the constant's product in float32, rounded once,
        as PyTorch's opmath)"""
        return _into(acc, g * _opmath(np.multiply, np.exp(-(x * x)), TWO_OVER_SQRT_PI))

    def erfc(self, x):
        """1 - erf(x), without cancellation (SciPy's; float16 gives float32, which the op
        rounds back)"""
        return _special().erfc(x)

    def erfinv(self, x):
        """erf's inverse: SciPy's, with x's sign (its erfinv(-0.) is +0.). float16 and
        float32 in float64, rounded once: SciPy's float32 erfinv is up to 3 ulp off, where the
        compiled kernel is within an ulp, so that the two backends, and the sizes below and
        above the kernel's threshold, agree to an ulp."""
        if x.dtype.kind == "f" and x.dtype.itemsize < 8:
            return np.copysign(_special().erfinv(x.astype(np.float64)), x).astype(x.dtype)
        return np.copysign(_special().erfinv(x), x)

    def erfc_backward(self, x, g, acc=None):
        """-g 2/sqrt(pi) e**(-x*x), erf's negated"""
        return _into(acc, g * _opmath(np.multiply, np.exp(-(x * x)), -TWO_OVER_SQRT_PI))

    @_half_in_float
    def mish(self, x):
        """x tanh(ln(1 + e**x)), PyTorch's form (no softplus threshold)"""
        return x * np.tanh(np.log1p(np.exp(x)))

    @_half_in_float
    def mish_backward(self, x, g, acc=None):
        """g (t + x sigmoid(x) (1 - t*t)), t = tanh(ln(1 + e**x)): PyTorch's mish_backward"""
        t = np.tanh(np.log1p(np.exp(x)))
        s = 1 / (1 + np.exp(-x))
        return _into(acc, g * (t + x * s * (1 - t * t)))

    def log2(self, x):
        """log2 x"""
        return _rounded_once(np.log2, x)

    def log2_backward(self, x, g, acc=None):
        """g / (x ln 2), PyTorch's order"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g / _opmath(np.multiply, x, math.log(2)))

    def log10(self, x):
        """log10 x"""
        return _rounded_once(np.log10, x)

    def log10_backward(self, x, g, acc=None):
        """g / (x ln 10), PyTorch's order and constant (derivatives.yaml's 2.3025850929940456,
        a bit below math.log(10): float64 gradients differ by 1-4 ulp otherwise)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g / _opmath(np.multiply, x, LN10))

    def exp2(self, x):
        """2**x"""
        return _rounded_once(np.exp2, x)

    def exp2_backward(self, y, g, acc=None):
        """g y ln 2, from the saved output"""
        return _into(acc, _opmath(np.multiply, g * y, math.log(2)))

    def atan(self, x):
        """atan x"""
        return _rounded_once(np.arctan, x)

    def atan_backward(self, x, g, acc=None):
        """g / (x*x + 1)"""
        return _into(acc, g / (x * x + 1))

    def asin(self, x):
        """asin x"""
        return _rounded_once(np.arcsin, x)

    def asin_backward(self, x, g, acc=None):
        """g / sqrt(1 - x*x): 1 / sqrt, then the product, as Rsqrt"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g * _rsqrt(1 - x * x))

    def acos(self, x):
        """acos x"""
        return _rounded_once(np.arccos, x)

    def acos_backward(self, x, g, acc=None):
        """-g / sqrt(1 - x*x), asin's negated"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g * -_rsqrt(1 - x * x))

    def sinh(self, x):
        """sinh x"""
        return _rounded_once(np.sinh, x)

    def sinh_backward(self, x, g, acc=None):
        """g cosh x"""
        return _into(acc, g * np.cosh(x))

    def cosh(self, x):
        """cosh x"""
        return _rounded_once(np.cosh, x)

    def cosh_backward(self, x, g, acc=None):
        """g sinh x"""
        return _into(acc, g * np.sinh(x))

    def tan(self, x):
        """tan x"""
        return _rounded_once(np.tan, x)

    def tan_backward(self, y, g, acc=None):
        """g (1 + y*y), from the saved output (PyTorch's form)"""
        return _into(acc, g * (1 + y * y))

    def atanh(self, x):
        """atanh x"""
        return _rounded_once(np.arctanh, x)

    def atanh_backward(self, x, g, acc=None):
        """g / (1 - x*x)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g / (1 - x * x))

    def asinh(self, x):
        """asinh x"""
        return _rounded_once(np.arcsinh, x)

    def asinh_backward(self, x, g, acc=None):
        """g / sqrt(x*x + 1): 1 / sqrt, then the product, as Rsqrt"""
        return _into(acc, g * _rsqrt(x * x + 1))

    def acosh(self, x):
        """acosh x"""
        return _rounded_once(np.arccosh, x)

    def acosh_backward(self, x, g, acc=None):
        """g / sqrt(x*x - 1): 1 / sqrt, then the product, as Rsqrt"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _into(acc, g * _rsqrt(x * x - 1))

    def sign(self, x):
        """-1, 0 or 1 of a float or integer array, as PyTorch's (x > 0) - (x < 0): 0 at NaN and
        at -0"""
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)

    def sigmoid(self, x):
        """1 / (1 + e**-x), without overflow for large |x|"""
        return _special().expit(x)

    def sigmoid_backward(self, y, g, acc=None):
        """g (1 - y) y, from the saved output, in PyTorch's order (float16: each step rounded,
        as its half kernel)"""
        return _into(acc, g * (1 - y) * y)

    @_half_in_float
    def silu(self, x):
        """x sigmoid(x)"""
        return x * self.sigmoid(x)

    @_half_in_float
    def silu_backward(self, x, g, acc=None):
        """g s (1 + x (1 - s)), s = sigmoid(x), from the saved input (PyTorch's form)"""
        s = self.sigmoid(x)
        return _into(acc, g * s * (1 + x * (1 - s)))

    def relu(self, x):
        """max(x, 0) (NaN stays NaN)"""
        return np.where(x < 0, _scalar(0, x), x) if x.dtype.kind == "f" else np.maximum(x, 0)

    def relu_backward(self, y, g, acc=None):
        """0 where y <= 0 (relu'(0) = 0), else g (a NaN passes g on, as in PyTorch), from the
        saved output"""
        return _into(acc, np.where(y <= 0, _scalar(0, g), g))

    @_half_in_float
    def leaky_relu(self, x, slope):
        """x if x > 0 else slope * x"""
        return np.where(x > 0, x, x * _scalar(slope, x))

    @_half_in_float
    def leaky_relu_backward(self, x, g, slope, acc=None):
        """g if x > 0 else slope * g"""
        return _into(acc, np.where(x > 0, g, g * _scalar(slope, g)))

    @_half_in_float
    def gelu(self, x, approximate="none"):
        """x * Phi(x); with approximate='tanh', PyTorch's tanh formula"""
        if approximate == "tanh":
            inner = _scalar(SQRT_2_OVER_PI, x) * (x + _scalar(0.044715, x) * x * x * x)
            return _scalar(0.5, x) * x * (1 + np.tanh(inner))
        return (_scalar(0.5, x) * x * (1 + _special().erf(x * _scalar(INV_SQRT_2, x)))).astype(
            x.dtype, copy=False)

    @_half_in_float
    def gelu_backward(self, x, g, approximate="none", acc=None):
        """g * d/dx gelu(x)"""
        if approximate == "tanh":
            k, c = _scalar(SQRT_2_OVER_PI, x), _scalar(0.044715, x)
            t = np.tanh(k * (x + c * x * x * x))
            d = _scalar(0.5, x) * (1 + t) + _scalar(0.5, x) * x * (1 - t * t) * k * (
                1 + 3 * c * x * x)
        else:
            cdf = _scalar(0.5, x) * (1 + _special().erf(x * _scalar(INV_SQRT_2, x)))
            pdf = np.exp(_scalar(-0.5, x) * x * x) * _scalar(1 / math.sqrt(2 * math.pi), x)
            d = cdf + x * pdf
        return _into(acc, (g * d).astype(g.dtype, copy=False))

    def abs(self, x):
        """|x|"""
        return np.abs(x)

    def abs_backward(self, x, g, acc=None):
        """g * sign(x) (abs'(0) = 0, and sign(NaN) = 0 as PyTorch's sgn)"""
        sign = np.sign(x)
        return _into(acc, g * np.where(sign == sign, sign, _scalar(0, sign)))

    def clamp(self, x, lo, hi):
        """min(max(x, lo), hi); either bound may be None"""
        if lo is not None:
            x = _clamped(np.maximum, x, lo)
        if hi is not None:
            x = _clamped(np.minimum, x, hi)
        return x

    def clamp_backward(self, x, g, lo, hi, acc=None):
        """g where lo <= x <= hi (bounds inclusive, as in PyTorch), else 0"""
        keep = np.ones(x.shape, dtype=bool)
        if lo is not None:
            keep &= x >= lo
        if hi is not None:
            keep &= x <= hi
        return _into(acc, np.where(keep, g, _scalar(0, g)))

    @_half_in_float
    def elu(self, x, alpha, scale=1.0, input_scale=1.0):
        """scale x above 0, else alpha scale (e**(input_scale x) - 1): PyTorch's elu kernel,
        which selu (its alpha and scale) and celu (input_scale 1 / alpha) run too"""
        return np.where(x <= 0, np.expm1(x * input_scale) * (alpha * scale), x * scale)

    @_half_in_float
    def elu_backward(self, x, g, alpha, scale=1.0, input_scale=1.0, acc=None):
        """g scale above 0 (and at NaN), else g input_scale alpha scale e**(input_scale x),
        from the saved input"""
        i = input_scale
        return _into(acc, np.where(x <= 0, g * (i * alpha * scale) * np.exp(x * i), g * scale))

    @_half_in_float
    def hardswish(self, x):
        """x min(max(x + 3, 0), 6) / 6"""
        return x * np.minimum(np.maximum(x + 3, 0), 6) / 6

    @_half_in_float
    def hardswish_backward(self, x, g, acc=None):
        """0 up to -3, g from 3, g (x / 3 + 1/2) between (PyTorch's), from the saved input"""
        return _into(acc, np.where(x <= -3, g.dtype.type(0),
                                   np.where(x >= 3, g, g * (x / 3 + 0.5))))

    @_half_in_float
    def hardsigmoid(self, x):
        """min(max(x + 3, 0), 6) / 6"""
        return np.minimum(np.maximum(x + 3, 0), 6) / 6

    @_half_in_float
    def hardsigmoid_backward(self, x, g, acc=None):
        """g / 6 strictly inside (-3, 3), else 0 (NaN too), with PyTorch's float 1/6 in
        double too, from the saved input"""
        inside = (x > -3) & (x < 3)
        return _into(acc, np.where(inside, g * g.dtype.type(HARDSIGMOID_SLOPE), g.dtype.type(0)))

    @_half_in_float
    def softplus(self, x, beta, threshold):
        """x where beta x > threshold, else ln(1 + e**(beta x)) / beta (PyTorch's formula: inf
        where e**(beta x) overflows)"""
        bx = x * beta
        with np.errstate(over="ignore"):
            return np.where(bx > threshold, x, np.log1p(np.exp(bx)) / beta)

    @_half_in_float
    def softplus_backward(self, x, g, beta, threshold, acc=None):
        """g where beta x > threshold, else g z / (z + 1) with z = e**(beta x), from the saved
        input (PyTorch's formula: NaN where z overflows)"""
        bx = x * beta
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.exp(bx)
            return _into(acc, np.where(bx > threshold, g, g * z / (z + 1)))

    @_half_in_float
    def log_sigmoid(self, x):
        """ln sigmoid(x) = min(x, 0) - ln(1 + e**-|x|): no overflow for any x"""
        return np.minimum(x, _scalar(0, x)) - np.log1p(np.exp(-np.abs(x)))

    def log_sigmoid_backward(self, x, g, acc=None):
        """g (1 - s) below 0, else g s, with s = z / (1 + z) and z = e**-|x| (PyTorch's
        stable form), from the saved input (float16: z rounded to it, then the rest in
        float32 and rounded once, as PyTorch's half kernel)"""
        z = np.exp(-np.abs(x))
        if x.dtype == np.float16:
            z = z.astype(np.float32)
            s = z / (1 + z)
            return _into(acc, (g.astype(np.float32) * np.where(x < 0, 1 - s, s)).astype(
                np.float16))
        s = z / (1 + z)
        return _into(acc, g * np.where(x < 0, 1 - s, s))

    def mse_loss(self, x, y, reduction):
        """(x - y)**2, or its sum or mean as a 0-d array of the dtype (x, y of one shape)"""
        d = self.sub(x, y)
        return self._reduced_losses(self.mul(d, d), reduction)

    def _reduced_losses(self, losses, reduction):
        """pointwise losses as they are ("none"), or their sum or mean as a 0-d array of
        their dtype"""
        if reduction == "none":
            return losses
        return np.asarray((self.mean if reduction == "mean" else self.sum)(losses, None, False),
                          dtype=losses.dtype)

    def mse_loss_backward(self, x, y, g, scale, need_x=True, need_y=True, acc_x=None,
                          acc_y=None):
        """((x - y) * scale) * g for x (PyTorch's order; scale 2/n for a mean, else 2) and its
        negation for y, each added into its acc if given"""
        d = self.sub(x, y)
        gx = self.mul(self.mul(d, d.dtype.type(scale)), g)
        return (_into(acc_x, gx) if need_x else None,
                _into(acc_y, self.neg(gx)) if need_y else None)

    def smooth_l1_loss(self, x, y, beta, reduction, huber=False):
        """d = x - y: d*d*(0.5/beta) where |d| < beta, else |d| - 0.5 beta (huber, beta its
        delta: d*d*0.5, else (|d| - 0.5 delta) delta); unreduced, or its sum or mean as a 0-d
        array of the dtype (x, y of one shape and float dtype)"""
        d = x - y
        a = np.abs(d)
        if huber:
            loss = np.where(a < beta, d * d * 0.5, (a - 0.5 * beta) * beta)
        else:
            loss = np.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
        return self._reduced_losses(loss, reduction)

    def smooth_l1_loss_backward(self, x, y, g, beta, huber=False, need_x=True, need_y=True):
        """PyTorch's gradients for d = x - y and g spread over the losses: -g from -beta down,
        g from beta up, d g / beta between (huber: -g delta, g delta, d g); y's the negation"""
        d = x - y
        with np.errstate(invalid="ignore"):
            if huber:
                gx = np.where(d <= -beta, -(g * beta), np.where(d >= beta, g * beta, d * g))
            else:
                gx = np.where(d <= -beta, -g, np.where(d >= beta, g, d * g / beta))
        gx = np.asarray(gx, d.dtype)
        return (gx if need_x else None), (-gx if need_y else None)

    def hardtanh_backward(self, x, g, lo, hi, acc=None):
        """g strictly between lo and hi, else 0 (NaN too): PyTorch's hardtanh_backward, which
        relu6 uses too (clamp_backward keeps g on the bounds)"""
        return _into(acc, np.where((x > lo) & (x < hi), g, _scalar(0, g)))

    def pow_scalar(self, x, c):
        """x ** c for a Python number c"""
        return _power(x, c) if x.dtype.kind == "f" else np.power(x, c)

    def pow_scalar_backward(self, x, c, g, acc=None):
        """g * c * x**(c-1); 0 for c == 0"""
        if c == 0:
            return _into(acc, np.zeros_like(g))
        if c == 2:                       # the same numbers (x**1 is x, x + x is x * 2 exactly),
            return _into(acc, g * (x + x))   # without two pows or a Python number (~1 us)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = g * (_scalar(c, x) * _power(x, c - 1))
        return _into(acc, d)

    # ---- reductions --------------------------------------------------------------------------
    def sum(self, x, dim=None, keepdim=False):
        """sum over dim (a tuple of axes, or None for all: PyTorch's order where x is dense)"""
        whole = dim is None or len(dim) == np.ndim(x)
        total = _torch_sum_all(x) if whole else _torch_trailing_sum(x, dim, keepdim)
        if total is not None:
            return total.reshape((1,) * x.ndim) if whole and keepdim else total
        if x.dtype.kind == "f":
            if x.dtype == np.float16:            # summed in float32, as PyTorch does
                return np.add.reduce(x, axis=dim, keepdims=keepdim, dtype=np.float32).astype(
                    np.float16)
            return np.add.reduce(x, axis=dim, keepdims=keepdim)   # np.sum's step, less ~1 us
        return np.sum(x, axis=dim, keepdims=keepdim)

    # ---- sorting -----------------------------------------------------------------------
    def sort_order(self, rows, compare, stable=False):
        """each row of the 2-D rows in the order PyTorch's CPU sort leaves it: libstdc++'s
        std::sort (unstable) comparing as compare says ("ascending", "descending", or "less"
        for mode), or a stable sort. A stable argsort gives it where a row's order is unique
        (no ties, no NaN) or std::sort's is stable (16 elements or fewer: an insertion sort,
        but where NaN breaks "less"); the other rows replay std::sort in Python (slow: the
        Cython backend calls std::sort itself)."""
        order = _stable_order(rows, compare == "descending")
        if stable or rows.shape[-1] < 2:
            return order
        tied, nan = _ties_and_nan(rows, order)
        replay = (tied | nan) & (rows.shape[-1] > 16) if compare != "less" else \
            (tied & (rows.shape[-1] > 16)) | nan
        for r in np.flatnonzero(replay):
            order[r] = std_sort(rows[r].tolist(), _SORT_LESS[compare])
        return order

    def topk_order(self, rows, k, largest, sorted=True):
        """the positions of each row's k largest (smallest) as PyTorch's topk leaves them
        (std::partial_sort, or std::nth_element then std::sort: see _stdsort.std_topk). Rows
        without ties or NaN take the head of a stable sort where the result is sorted; the
        rest (and every unsorted result of nth_element) replay it."""
        compare = "descending" if largest else "ascending"
        full = _stable_order(rows, largest)
        order, n = full[:, :k], rows.shape[-1]
        if k == 0 or n < 2:
            return order
        tied, nan = _ties_and_nan(rows, full)
        replay = tied | nan | (not sorted and k * 64 > n)
        for r in np.flatnonzero(replay):
            order[r] = std_topk(rows[r].tolist(), k, _SORT_LESS[compare], sorted)
        return order

    def mean(self, x, dim=None, keepdim=False):
        """mean over dim (a tuple of axes, or None for all: PyTorch's sum, then / n)"""
        n = x.size if dim is None else math.prod([x.shape[d] for d in dim])
        whole = dim is None or len(dim) == np.ndim(x)
        total = _torch_sum_all(x) if whole else _torch_trailing_sum(x, dim, keepdim)
        if total is not None:
            total = mean_of_sum(total, n)
            return total.reshape((1,) * x.ndim) if whole and keepdim else total
        if x.dtype.char == "f" or x.dtype.char == "d":
            # np.mean's own steps (sum, then divide by the count in the dtype), without its
            # ~4 us of wrappers (and its "Mean of empty slice" warning: 0 / 0 is NaN). A sum
            # over everything without keepdim is a NumPy scalar, whose own division gives the
            # ufunc's bits ~2 us sooner.
            if n:
                return np.add.reduce(x, axis=dim, keepdims=keepdim) / n
            with np.errstate(invalid="ignore"):
                return np.true_divide(np.add.reduce(x, axis=dim, keepdims=keepdim),
                                      x.dtype.type(0))
        with np.errstate(invalid="ignore", divide="ignore"):     # float16: summed in float32
            return np.mean(x, axis=dim, keepdims=keepdim)

    def softmax(self, x, dim):
        """exp(x - max) / sum(exp(x - max)) along dim (NaN where a row holds inf or NaN, as in
        PyTorch, without NumPy's warning); float16 in float32, as the rest of the family"""
        if x.dtype == np.float16:
            return _half_by_float(self.softmax, x, dim)
        with np.errstate(invalid="ignore"):
            shifted = x - self.amax(x, (dim,), True) if x.size else x
            e = np.exp(shifted)
            return e / _fsum(e, axis=dim, keepdims=True)

    def softmax_backward(self, y, g, dim):
        """y * (g - sum(g * y, dim)), from the saved output"""
        if y.dtype == np.float16:
            return _half_by_float(self.softmax_backward, y, g, dim)
        return y * (g - _fsum(g * y, axis=dim, keepdims=True))

    def log_softmax(self, x, dim):
        """x - max - log(sum(exp(x - max))) along dim: no overflow at any logit"""
        if x.dtype == np.float16:
            return _half_by_float(self.log_softmax, x, dim)
        if not x.size:
            return x.copy()
        shifted = x - self.amax(x, (dim,), True)
        return shifted - np.log(_fsum(np.exp(shifted), axis=dim, keepdims=True))

    def log_softmax_backward(self, y, g, dim):
        """g - exp(y) * sum(g, dim), from the saved output"""
        if y.dtype == np.float16:
            return _half_by_float(self.log_softmax_backward, y, g, dim)
        return g - np.exp(y) * _fsum(g, axis=dim, keepdims=True)

    # ---- windows (im2col, col2im) and convolutions ---------------------------------------------
    def unfold(self, x, kernel, dilation, pad, stride, pad_value=0):
        """x (N, C, *S) -> columns (N, C * prod(kernel), L): each window of x (padded with
        pad_value; pad is a (before, after) pair per spatial dim) as a column, in PyTorch's
        im2col layout (F.unfold)"""
        if any(map(any, pad)):
            x = np.pad(x, ((0, 0), (0, 0)) + tuple(pad), constant_values=pad_value)
        n, c = x.shape[:2]
        out = [conv_output_size(s, k, d, (0, 0), st)
               for s, k, d, st in zip(x.shape[2:], kernel, dilation, stride)]
        # the windows as (N, C, *kernel, *out): its inner runs are rows of the output
        # positions, long ones (a (N, *out, C, *kernel) order copied runs of kw)
        cols = self.take_windows(x, kernel, dilation, stride, out)
        return cols.reshape(n, c * math.prod(kernel), math.prod(out))

    def max_pool(self, x, kernel, dilation, pad, stride, low):
        """each window's pick over planes x (P, *S) (pad: a (before, after) pair per spatial
        dim, filled with low, which never wins): the first maximum or the last NaN, as
        PyTorch's max pools; where the maximum is low, the window's first element inside x.
        Returns the values (P, L) and their flat indices in prod(S) (P, L): -1 for a window
        with no element inside x (a dilated one can fall in the padding: its value is low)"""
        planes, sizes = x.shape[0], x.shape[1:]
        cols = self.unfold(x.reshape(planes, 1, *sizes), kernel, dilation, pad, stride, low)
        at = self.first_max_last_nan(cols, 1)                       # (P, L): in each window
        outside = None
        if any(map(any, pad)):                  # (low ties with the padding: take the input's)
            inside = self.unfold(np.ones((1, 1, *sizes), bool), kernel, dilation, pad, stride,
                                 False)
            lowest = np.take_along_axis(cols, at[:, None], 1)[:, 0] == low
            at = np.where(lowest, np.argmax(inside, axis=1), at)
            outside = ~inside.any(axis=1)
        values = np.take_along_axis(cols, at[:, None], 1)[:, 0]
        out = [conv_output_size(s, k, d, p, st)
               for s, k, d, p, st in zip(sizes, kernel, dilation, pad, stride)]
        offsets = np.unravel_index(at, kernel)                     # each pick in its window
        windows = np.unravel_index(np.arange(math.prod(out)), out)         # and its window
        flat = 0
        for w, a, st, (p, _), d, s in zip(windows, offsets, stride, pad, dilation, sizes):
            flat = flat * s + (w * st - p + a * d)
        flat = np.asarray(flat, np.int64).reshape(at.shape)
        return values, flat if outside is None else np.where(outside, -1, flat)

    def fold(self, cols, size, kernel, dilation, pad, stride):
        """columns (N, C * prod(kernel), L) -> (N, C, *size): each column's values added back
        at its window's positions, the padding cropped (col2im, F.fold), the adjoint of
        unfold"""
        padded = [s + a + b for s, (a, b) in zip(size, pad)]
        out_size = [conv_output_size(s, k, d, (0, 0), st)
                    for s, k, d, st in zip(padded, kernel, dilation, stride)]
        n = cols.shape[0]
        cols = cols.reshape(n, cols.shape[1] // math.prod(kernel), *kernel, *out_size)
        out = self.add_windows(zeros((n, cols.shape[1], *padded), cols.dtype), cols, dilation,
                               stride)
        return out[(slice(None), slice(None)) + tuple(slice(a, a + s)
                                                      for s, (a, _) in zip(size, pad))]

    def conv(self, x, w, b, stride, pad, dilation, groups):
        """the cross-correlation of x (N, C, *S) with w (O, C / groups, *kernel), plus b (O,)
        where not None; pad a (before, after) pair per spatial dim: x's windows as columns
        (im2col) and the weight as a matrix per group times them"""
        n, out_channels, kernel = x.shape[0], w.shape[0], w.shape[2:]
        size = w.shape[1] * math.prod(kernel)            # (sizes spelled out, not -1: a
        cols = self.unfold(x, kernel, dilation, pad, stride)   # zero-size array has none)
        out = [conv_output_size(s, k, d, p, st)
               for s, k, d, p, st in zip(x.shape[2:], kernel, dilation, pad, stride)]
        y = self.matmul(w.reshape(groups, out_channels // groups, size),
                        cols.reshape(n, groups, size, math.prod(out)))
        y = y.reshape(n, out_channels, *out)
        if b is not None:
            y += b.reshape(-1, *(1,) * len(out))
        return y

    def conv_backward(self, x, w, g, stride, pad, dilation, groups, need_x=True, need_w=True,
                      need_b=True):
        """(dx, dw, db) of conv(x, w, b, ...) given g, its output's gradient: dw the sum over
        the images of g times their windows^T per group, dx the windows' gradient w^T g
        folded back (col2im), db g summed over all but its channels"""
        n, out_channels, kernel = x.shape[0], w.shape[0], w.shape[2:]
        size, length = w.shape[1] * math.prod(kernel), math.prod(g.shape[2:])
        g4 = g.reshape(n, groups, out_channels // groups, length)
        dx = dw = db = None
        if need_w:
            cols = self.unfold(x, kernel, dilation, pad, stride)
            cols4 = cols.reshape(n, groups, size, length)
            # (G, O/G, N L) @ (G, N L, C/G K): every image's product summed by the one gemm
            dw = self.matmul(g4.transpose(1, 2, 0, 3).reshape(groups, out_channels // groups,
                                                              n * length),
                             cols4.transpose(1, 0, 3, 2).reshape(groups, n * length, size))
            dw = dw.reshape(w.shape)
        if need_x:
            w3 = w.reshape(groups, out_channels // groups, size)
            cols = self.matmul(np.swapaxes(w3, -1, -2), g4)               # (N, G, C/G K, L)
            dx = self.fold(cols.reshape(n, groups * size, length), x.shape[2:], kernel,
                           dilation, pad, stride)
        if need_b:
            db = _fsum(g, axis=(0, *range(2, g.ndim)))
        return dx, dw, db

    def conv_transpose(self, x, w, b, stride, pad, dilation, groups, output_padding):
        """the adjoint of conv in its input, plus b: x (N, C_in, *S) and w (C_in, C_out /
        groups, *kernel) give (N, C_out, *size), output_padding rows past the windows' reach
        at the end of each spatial dim"""
        crop, extra, reach = _transposed_geometry(x.shape[2:], w.shape[2:], stride, pad,
                                                  dilation, output_padding)
        shape = (x.shape[0], w.shape[1] * groups)
        if min(reach) < 0:
            out = np.zeros(shape + tuple(r + e for r, e in zip(reach, extra)), x.dtype)
        else:   # (conv_backward reads only the input's shape for the input's gradient)
            out = self.conv_backward(np.broadcast_to(np.zeros((), x.dtype), shape + reach), w,
                                     x, stride, crop, dilation, groups, True, False, False)[0]
            if any(extra):
                out = np.pad(out, ((0, 0), (0, 0)) + tuple((0, e) for e in extra))
        if b is not None:
            out += b.reshape(-1, *(1,) * len(extra))
        return out

    def conv_transpose_backward(self, x, w, g, stride, pad, dilation, groups, output_padding,
                                need_x=True, need_w=True, need_b=True):
        """(dx, dw, db) of conv_transpose(x, w, b, ...) given g: dx the convolution of g with
        w, dw that convolution's weight gradient given x, db g summed over all but its
        channels"""
        crop, extra, reach = _transposed_geometry(x.shape[2:], w.shape[2:], stride, pad,
                                                  dilation, output_padding)
        if min(reach) < 0:                    # no window reached the output: zeros
            dx = np.zeros(x.shape, x.dtype) if need_x else None
            dw = np.zeros(w.shape, w.dtype) if need_w else None
        else:
            g_read = g[(slice(None), slice(None)) + tuple(slice(0, r) for r in reach)]
            dx = self.conv(g_read, w, None, stride, crop, dilation, groups) if need_x else None
            dw = (self.conv_backward(g_read, w, x, stride, crop, dilation, groups, False, True,
                                     False)[1] if need_w else None)
        db = _fsum(g, axis=(0, *range(2, g.ndim))) if need_b else None
        return dx, dw, db

    def take_windows(self, x, kernel, dilation, stride, out):
        """x (N, C, *S)'s windows as a new (N, C, *kernel, *out) array: element (n, c, *at, *o)
        is the one kernel position `at` of window `o` reads (im2col)"""
        return np.ascontiguousarray(windows_view(x, out, kernel, dilation, stride))

    def add_windows(self, out, cols, dilation, stride):
        """out (N, C, *padded) += cols (N, C, *kernel, *windows): each window's values added at
        the positions it covers (the dilation and stride per spatial dim apart), one kernel
        position at a time in order (col2im's sums where windows overlap); returns out"""
        k = (cols.ndim - 2) // 2
        kernel, windows = cols.shape[2:2 + k], cols.shape[2 + k:]
        if all(st >= d * (kk - 1) + 1 for st, kk, d in zip(stride, kernel, dilation)):
            # windows that do not overlap (pooling's): one add into their view
            view = windows_view(out, windows, kernel, dilation, stride, writeable=True)
            np.add(view, cols, out=view)
            return out
        for at in itertools.product(*map(range, kernel)):
            covered = tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                            for i, o, d, s in zip(at, windows, dilation, stride))
            out[(slice(None), slice(None)) + covered] += cols[(slice(None), slice(None)) + at]
        return out

    # ---- linear resize (F.interpolate's linear modes, one axis at a time) ----------------------
    def resize_linear(self, x, axis, i0, i1, w0, w1):
        """x resized along axis: out[..., j, ...] = x[..., i0[j], ...] w0[j] + x[..., i1[j],
        ...] w1[j] (the indices int64, the weights in x's dtype)"""
        shape = (-1,) + (1,) * (x.ndim - 1 - axis)
        return (np.take(x, i0, axis) * w0.reshape(shape)
                + np.take(x, i1, axis) * w1.reshape(shape))

    def resize_linear_backward(self, g, axis, size, i0, i1, w0, w1):
        """resize_linear's input gradient for an axis of size: the g w0 of each output added
        at i0, plus the g w1 added at i1 (each in output order)"""
        shape = (-1,) + (1,) * (g.ndim - 1 - axis)
        dx0, dx1 = (self.index_add_(np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:],
                                             g.dtype), axis, i, g * w.reshape(shape))
                    for i, w in ((i0, w0), (i1, w1)))
        return np.add(dx0, dx1, out=dx0)

    # ---- recurrent cells ---------------------------------------------------------------------
    def lstm_cell(self, gates, c):
        """One LSTM step from its gates' pre-activations (N, 4H: i, f, g, o) and c (N, H):
        (act, c', tanh c', h'), act = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o); c' = f c +
        i g, h' = o tanh(c'), PyTorch's order. gates may be overwritten."""
        hidden = c.shape[1]
        act = self.sigmoid(gates)
        act[:, 2 * hidden:3 * hidden] = self.tanh(gates[:, 2 * hidden:3 * hidden])
        i, f, g, o = (act[:, j * hidden:(j + 1) * hidden] for j in range(4))
        c_out = f * c + i * g
        tanh_c = self.tanh(c_out)
        return act, c_out, tanh_c, o * tanh_c

    def lstm_cell_backward(self, act, c, tanh_c, dh, dc):
        """lstm_cell's backward from act, its input c and tanh c', given the gradients of h'
        (dh) and c' (dc): (the gates' pre-activation gradients (N, 4H), c's). With dc_t = dc
        + dh o (1 - tanh_c^2): d_i = dc_t g i (1 - i), d_f = dc_t c f (1 - f), d_g = dc_t i
        (1 - g^2), d_o = dh tanh_c o (1 - o), dc_prev = dc_t f."""
        hidden = c.shape[1]
        i, f, g, o = (act[:, j * hidden:(j + 1) * hidden] for j in range(4))
        dc_t = dc + (dh * o) * (1 - tanh_c * tanh_c)
        d_gates = np.concatenate([(dc_t * g) * (i * (1 - i)), (dc_t * c) * (f * (1 - f)),
                                  (dc_t * i) * (1 - g * g), (dh * tanh_c) * (o * (1 - o))],
                                 axis=1)
        return d_gates, dc_t * f

    def lstm_sequence(self, x_w, h0, c0, w_hh, b_hh, reverse):
        """An LSTM layer-direction over a sequence, from the last step back where reverse:
        x_w (L, N, 4H) the input's products with weight_ih (bias_ih added), h0 and c0 (N, H),
        w_hh (4H, H), b_hh (4H,) or None. Each step: gates = (h w_hh^T + b_hh) + x_w[t] (as
        F.linear rounds the product and bias), then lstm_cell. Returns out (L + 1, N, H: each
        step's h, then the last c) and, by time, what the backward reads: h_before and
        c_before (each step's h and c inputs), act and tanh_c."""
        steps, batch, hidden = x_w.shape[0], h0.shape[0], h0.shape[1]
        out = np.empty((steps + 1, batch, hidden), x_w.dtype)
        h_before, c_before, tanh_c = (np.empty((steps, batch, hidden), x_w.dtype)
                                      for _ in range(3))
        act = np.empty(x_w.shape, x_w.dtype)
        w_t = np.ascontiguousarray(w_hh.T)      # OpenBLAS's h w^T runs ~1.5x slower at 32 x 128
        h, c = h0, c0
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h_before[t], c_before[t] = h, c
            gates = self.matmul(h, w_t)
            if b_hh is not None:
                gates += b_hh
            gates += x_w[t]
            act[t], c, tanh_c[t], h = self.lstm_cell(gates, c)
            out[t] = h
        out[steps] = c
        return out, h_before, act, c_before, tanh_c

    def lstm_sequence_backward(self, g, act, c_before, tanh_c, w_hh, reverse):
        """lstm_sequence's backward (backpropagation through time) given g (L + 1, N, H), the
        gradient of its out: from the last step back (the first where reverse), each step's
        lstm_cell_backward with dh + g[t] and dc, then dh = d_gates[t] w_hh. Returns d_gates
        (L, N, 4H) by time, and h0's and c0's gradients (dh from 0, dc from g[L])."""
        steps = act.shape[0]
        d_gates = np.empty(act.shape, act.dtype)
        dh = np.zeros(g.shape[1:], act.dtype)
        dc = np.array(g[steps], act.dtype)
        for t in range(steps) if reverse else range(steps - 1, -1, -1):
            d_gates[t], dc = self.lstm_cell_backward(act[t], c_before[t], tanh_c[t], dh + g[t],
                                                     dc)
            dh = self.matmul(d_gates[t], w_hh)
        return d_gates, dh, dc

    def gru_sequence(self, x_w, h0, w_hh, b_hh, reverse):
        """A GRU layer-direction over a sequence, from the last step back where reverse: x_w
        (L, N, 3H: r, z, n) the input's products with weight_ih (bias_ih added), h0 (N, H),
        w_hh (3H, H), b_hh (3H,) or None. Each step, with hw = h w_hh^T + b_hh: rz =
        sigmoid(hw + x_w[t]) over r and z, h_n = hw's n, n = tanh(x_w[t]'s n + h_n r), h =
        (h - n) z + n (PyTorch's CPU cell). Returns out (L, N, H: each step's h) and, by
        time, h_before (each step's h input), rz, n and h_n."""
        steps, batch, hidden = x_w.shape[0], h0.shape[0], h0.shape[1]
        out, h_before, n, h_n = (np.empty((steps, batch, hidden), x_w.dtype) for _ in range(4))
        rz = np.empty((steps, batch, 2 * hidden), x_w.dtype)
        w_t = np.ascontiguousarray(w_hh.T)
        h = h0
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h_before[t] = h
            hw = self.matmul(h, w_t)
            if b_hh is not None:
                hw += b_hh
            h_n[t] = hw[:, 2 * hidden:]
            rz[t] = self.sigmoid(hw[:, :2 * hidden] + x_w[t, :, :2 * hidden])
            n[t] = self.tanh(x_w[t, :, 2 * hidden:] + h_n[t] * rz[t, :, :hidden])
            h = out[t] = (h - n[t]) * rz[t, :, hidden:] + n[t]
        return out, h_before, rz, n, h_n

    def gru_sequence_backward(self, g, h_before, rz, n, h_n, w_hh, reverse):
        """gru_sequence's backward given g (L, N, H), its out's gradient: from the last step
        back (the first where reverse), with dh_t = dh + g[t] and d_n = tanh'(n) (dh_t - dh_t
        z): the gates' gradients for the input, d_x (L, N, 3H: sigmoid'(r) d_n h_n,
        sigmoid'(z) dh_t (h - n), d_n) and for w_hh, d_h (n's: d_n r), then dh = dh_t z +
        d_h[t] w_hh. Returns d_x, d_h and h0's gradient."""
        steps, hidden = g.shape[0], g.shape[2]
        d_x = np.empty(g.shape[:2] + (3 * hidden,), g.dtype)
        d_h = np.empty_like(d_x)
        dh = np.zeros(g.shape[1:], g.dtype)
        for t in range(steps) if reverse else range(steps - 1, -1, -1):
            dh_t = dh + g[t]
            r, z = rz[t, :, :hidden], rz[t, :, hidden:]
            d_n = self.tanh_backward(n[t], dh_t - dh_t * z)
            d_x[t, :, :hidden] = d_h[t, :, :hidden] = self.sigmoid_backward(r, d_n * h_n[t])
            d_x[t, :, hidden:2 * hidden] = d_h[t, :, hidden:2 * hidden] = \
                self.sigmoid_backward(z, dh_t * (h_before[t] - n[t]))
            d_x[t, :, 2 * hidden:] = d_n
            d_h[t, :, 2 * hidden:] = d_n * r
            dh = dh_t * z + self.matmul(d_h[t], w_hh)
        return d_x, d_h, dh

    def rnn_sequence(self, x_w, h0, w_hh, b_hh, reverse, relu):
        """An Elman RNN layer-direction (tanh, or relu) over a sequence, from the last step
        back where reverse: each step h = act((h w_hh^T + b_hh) + x_w[t]). Returns out (L, N,
        H: each step's h) and h_before (each step's h input)."""
        out, h_before = (np.empty(x_w.shape, x_w.dtype) for _ in range(2))
        w_t = np.ascontiguousarray(w_hh.T)
        act = self.relu if relu else self.tanh
        h = h0
        for t in range(x_w.shape[0] - 1, -1, -1) if reverse else range(x_w.shape[0]):
            h_before[t] = h
            pre = self.matmul(h, w_t)
            if b_hh is not None:
                pre += b_hh
            pre += x_w[t]
            h = out[t] = act(pre)
        return out, h_before

    def rnn_sequence_backward(self, g, out, w_hh, reverse, relu):
        """rnn_sequence's backward given g, its out's gradient: from the last step back (the
        first where reverse), d_x[t] = act'(out[t]) (dh + g[t]), dh = d_x[t] w_hh. Returns
        d_x (L, N, H) and h0's gradient."""
        d_x = np.empty(g.shape, g.dtype)
        dh = np.zeros(g.shape[1:], g.dtype)
        act_backward = self.relu_backward if relu else self.tanh_backward
        for t in range(g.shape[0]) if reverse else range(g.shape[0] - 1, -1, -1):
            d_x[t] = act_backward(out[t], dh + g[t])
            dh = self.matmul(d_x[t], w_hh)
        return d_x, dh

    # ---- normalisation -----------------------------------------------------------------------
    # Rows of x (R, K), each normalised over its K elements. The weight and bias are per channel:
    # row r holds group r % groups of its sample, K // spatial channels of spatial elements each
    # (group_norm); layer_norm is groups = spatial = 1, a channel per element.
    def group_norm(self, x, weight, bias, groups, spatial, eps):
        """y = (x - mean) * rstd * weight + bias (None: no weight, no bias), mean and the biased
        variance var over each row, rstd = 1 / sqrt(var + eps). Returns y (row-major) and each
        row's mean and rstd (float16: computed in float32, as PyTorch's CPU kernels do)."""
        x32 = np.ascontiguousarray(_opmath_of(x))
        mean = self.mean(x32, (1,), True)
        centered = x32 - mean
        var = self.mean(centered * centered, (1,), True)
        rstd = x32.dtype.type(1) / np.sqrt(var + eps)
        y = _per_channel(centered * rstd, weight, groups, spatial, np.multiply)
        y = _per_channel(y, bias, groups, spatial, np.add)
        return y.astype(x.dtype, copy=False), mean.reshape(-1), rstd.reshape(-1)

    def group_norm_backward(self, x, g, weight, mean, rstd, groups, spatial, need_x=True,
                            need_weight=True, need_bias=True):
        """(dx, dweight, dbias) of group_norm (None where not needed): with xhat the normalised
        x and u = g * weight, dx = rstd (u - mean(u) - xhat mean(u xhat)) over each row;
        dweight and dbias sum g xhat and g over the rows and spatial positions per channel"""
        x32, g32 = _opmath_of(x), _opmath_of(g).astype(_opmath_of(x).dtype, copy=False)
        xhat = (x32 - mean[:, None]) * rstd[:, None]
        dx = dw = db = None
        if need_x:
            u = _per_channel(g32, weight, groups, spatial, np.multiply)
            dx = rstd[:, None] * (u - self.mean(u, (1,), True)
                                  - xhat * self.mean(u * xhat, (1,), True))
            dx = dx.astype(x.dtype, copy=False)
        if need_weight and weight is not None:
            dw = _channel_sums(g32 * xhat, groups, spatial).astype(weight.dtype, copy=False)
        if need_bias:
            db = _channel_sums(g32, groups, spatial).astype(x.dtype, copy=False)
        return dx, dw, db

    # Batch normalisation: the channels of x (N, C, S), each over its N S elements x[:, c, :].
    def batch_norm_stats(self, x):
        """each channel's mean and biased variance (float16: in float32)"""
        x32 = _opmath_of(x)
        mean = self.mean(x32, (0, 2), True)
        centered = x32 - mean
        return mean.reshape(-1), self.mean(centered * centered, (0, 2), False)

    def batch_norm(self, x, mean, rstd, weight, bias):
        """y = (x - mean) * rstd * weight + bias per channel (None: no weight, no bias), the
        statistics given (the batch's in training, the running ones in evaluation); row-major,
        in x's dtype"""
        y = (_opmath_of(x) - mean[:, None]) * rstd[:, None]
        if weight is not None:
            y = y * weight[:, None]
        if bias is not None:
            y = y + bias[:, None]
        return np.ascontiguousarray(y, x.dtype)

    def batch_norm_backward(self, x, g, mean, rstd, weight, training, need_x=True,
                            need_weight=True, need_bias=True):
        """(dx, dweight, dbias) of batch_norm (None where not needed): with xhat the normalised
        x and k = weight rstd, dweight and dbias sum g xhat and g per channel; dx = k (g -
        mean(g) - xhat mean(g xhat)) in training (the statistics depend on x), g k in
        evaluation"""
        x32, g32 = _opmath_of(x), _opmath_of(g).astype(_opmath_of(x).dtype, copy=False)
        xhat = (x32 - mean[:, None]) * rstd[:, None]
        sum_g, sum_gx = _fsum(g32, axis=(0, 2)), _fsum(g32 * xhat, axis=(0, 2))
        dx = None
        if need_x:
            k = rstd if weight is None else weight * rstd
            count = x.shape[0] * x.shape[2]
            dx = (k[:, None] * (g32 - (sum_g / count)[:, None] - xhat * (sum_gx / count)[:, None])
                  if training else g32 * k[:, None])
            dx = dx.astype(x.dtype, copy=False)
        return (dx, sum_gx.astype(x.dtype, copy=False) if need_weight and weight is not None
                else None, sum_g.astype(x.dtype, copy=False) if need_bias else None)

    # ---- linear algebra ----------------------------------------------------------------------
    def matmul(self, a, b):
        """a @ b (NumPy's matmul rules: 1-D, 2-D and batched)"""
        return np.matmul(a, b)

    def matmul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
        """(g @ b^T, a^T @ g) for a, b of 2 or more dims (batch dims broadcast; the engine sums
        a broadcast gradient back)"""
        g = _for_blas(g)
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
        check_linear_backward(x, w, g)
        rows = math.prod(g.shape[:-1])              # not -1: a zero-size g has no inferred dim
        g = _for_blas(g)
        g2 = g.reshape(rows, g.shape[-1])
        gx = _into(acc_x, np.matmul(g, w)) if need_x else None
        gw = _into(acc_w, g2.T @ x.reshape(rows, x.shape[-1])) if need_w else None
        gb = _into(acc_b, _fsum(g2, axis=0)) if need_b else None
        return gx, gw, gb

    # ---- losses ------------------------------------------------------------------------------
    def cross_entropy_forward(self, logits, target, weight=None, ignore_index=-100,
                              label_smoothing=0.0):
        """Per-row cross entropy from class indices: (losses, shaped as target, log_probs
        (logits' shape), total, denominator).

        loss_n = (1 - eps) * w[t_n] * -log_probs[n, t_n] + eps / C * sum_c w_c * -log_probs[n, c]
        (PyTorch's label smoothing; w = 1 without weight), and 0 where t_n == ignore_index.
        logits (N, C), or (N, C, L) with the classes along axis 1 and target (N, L) (a
        segmentation's logits, one loss per position); float32/64, never written. target
        int64 (an entry neither ignore_index nor in [0, C) raises IndexError); weight (C,) of
        logits' dtype or None; all C-contiguous (the ops make them so).
        The second result is what this backend's cross_entropy_backward reads (another backend
        may save something else: the op calls the backward of the backend that ran forward).
        total is the sum of the losses (a float, of logits' precision) and denominator (a
        float) what a mean divides it by: the summed weights of the targets not ignored (their
        count without weight), as PyTorch's nll_loss.
        """
        c = logits.shape[1]
        valid, safe = _class_targets(target, ignore_index, c)
        log_probs = self.log_softmax(logits, 1)
        if c == 0:                      # every target was ignored (any other raised)
            return np.zeros(target.shape, logits.dtype), log_probs, 0.0, 0.0
        nll = -_at_class(log_probs, safe)
        if weight is not None:
            nll = nll * weight[safe]
        if label_smoothing > 0:
            smooth = -_fsum(log_probs * _per_class(weight, log_probs.ndim)
                            if weight is not None else log_probs, axis=1)
            nll = (_scalar(1 - label_smoothing, nll) * nll
                   + _scalar(label_smoothing / c, nll) * smooth)
        losses = np.where(valid, nll, _scalar(0, nll))
        return (losses, log_probs, float(_fsum(losses, axis=None)),
                _class_denominator(valid, target, weight))

    def cross_entropy_probs(self, log_probs):
        """The rows' softmax, from what cross_entropy_forward saved"""
        return np.exp(log_probs)

    def cross_entropy_backward(self, log_probs, target, g_rows, weight=None, ignore_index=-100,
                               label_smoothing=0.0, acc=None):
        """d(sum_n g_rows[n] * loss_n)/d(logits), logits' shape, for the losses of
        cross_entropy_forward: with a_n = (1 - eps) * w[t_n] * onehot(t_n) + eps / C * w,
        dlogits_n = g_rows[n] * (sum(a_n) * softmax_n - a_n), and 0 for ignored rows.
        log_probs from the forward; g_rows of its dtype shaped as target, C-contiguous, or a
        NumPy scalar of its dtype (or 0-d array): one g for every row. Returns a new array, or
        acc with the gradient added when acc is given.
        """
        c = log_probs.shape[1]
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        g = np.where(valid, g_rows, _scalar(0, g_rows))
        w_t = weight[safe] if weight is not None else _scalar(1, g)
        picked = _scalar(1 - label_smoothing, g) * w_t * g          # mass on each target
        total = picked
        if label_smoothing > 0:
            w_sum = weight.sum() if weight is not None else _scalar(c, g)
            total = picked + _scalar(label_smoothing / c, g) * w_sum * g
        d = np.exp(log_probs) * total[:, None]
        if c:
            _add_at_class(d, safe, -picked)
        if label_smoothing > 0:
            spread = _scalar(label_smoothing / c, g) * g[:, None]
            d -= spread * _per_class(weight, d.ndim) if weight is not None else spread
        return _into(acc, d)

    def soft_cross_entropy_forward(self, logits, probs):
        """Per-row cross entropy from class probabilities: (losses (N,), log_probs (N, C)),
        loss_n = -sum_c probs[n, c] * log_probs[n, c].
        logits, probs (N, C) of one float dtype. probs rows need not sum to 1: the op folds
        label smoothing and class weights into them.
        """
        log_probs = self.log_softmax(logits, 1)
        return -_fsum(probs * log_probs, axis=1), log_probs

    def soft_cross_entropy_backward(self, log_probs, probs, g_rows):
        """d(sum_n g_rows[n] * loss_n)/d(logits) = g_rows[n] * (sum(probs_n) * softmax_n -
        probs_n), (N, C); a new array."""
        total = _fsum(probs, axis=1) * g_rows
        return np.exp(log_probs) * total[:, None] - probs * g_rows[:, None]

    def nll_loss_forward(self, log_probs, target, weight=None, ignore_index=-100):
        """Per-row negative log likelihood: (losses, shaped as target; total; denominator),
        loss_n = -w[t_n] * log_probs[n, t_n], 0 where t_n == ignore_index; total and
        denominator as cross_entropy_forward's. log_probs (N, C) with target (N,), or
        (N, C, L) with target (N, L); target int64 (an entry neither ignore_index nor in
        [0, C) raises IndexError); weight (C,) of log_probs' dtype or None."""
        valid, safe = _class_targets(target, ignore_index, log_probs.shape[1])
        if log_probs.shape[1] == 0:     # every target was ignored (any other raised)
            return np.zeros(target.shape, log_probs.dtype), 0.0, 0.0
        loss = -_at_class(log_probs, safe)
        if weight is not None:
            loss = loss * weight[safe]
        losses = np.where(valid, loss, _scalar(0, loss))
        return losses, float(_fsum(losses, axis=None)), _class_denominator(valid, target, weight)

    def nll_loss_backward(self, target, g_rows, n_classes, weight=None, ignore_index=-100):
        """d(sum_n g_rows[n] * loss_n)/d(log_probs), (N, C) ((N, C, L) for a target (N, L)):
        -w[t_n] * g_rows[n] at (n, t_n), 0 elsewhere and on ignored rows. g_rows shaped as
        target, or a 0-d array: one g for every row."""
        d = zeros(target.shape[:1] + (n_classes,) + target.shape[1:], g_rows.dtype)
        if not n_classes:                           # (np.zeros: fresh pages each call)
            return d                                # (every target was ignored)
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        g = np.where(valid, g_rows, _scalar(0, g_rows))
        if weight is not None:
            g = g * weight[safe]
        # (+0 on an ignored row, as PyTorch's: -g would write -0.)
        np.put_along_axis(d, safe[:, None], np.where(valid, -g, _scalar(0, g))[:, None], axis=1)
        return d

    def binary_cross_entropy(self, x, y, weight=None):
        """Elementwise -w * (y * log x + (1 - y) * log(1 - x)), each log clamped at -100 as in
        PyTorch. x, y of one shape and float dtype; weight broadcastable or None. (The logs
        by self's log and log1p: the compiled backend's, where NumPy's float32 ones are
        glibc's scalar calls.)"""
        with np.errstate(divide="ignore"):
            log_x = np.maximum(self.log(x), _scalar(-100, x))
            log_1mx = np.maximum(self.log1p(-x), _scalar(-100, x))
        loss = (y - 1) * log_1mx - y * log_x
        return loss if weight is None else loss * weight

    def binary_cross_entropy_backward(self, x, y, g, weight=None, need_x=True, need_y=False):
        """(g * (x - y) / max(x (1 - x), 1e-12f) * w,  -logit(x) * g * w)"""
        gx = gy = None
        if need_x:
            gx = g * (x - y) / np.maximum((1 - x) * x, _scalar(BCE_EPSILON, x))
            if weight is not None:
                gx = gx * weight
        if need_y:              # PyTorch's -logit(x) g: unclamped, so +-inf at 0 and 1
            with np.errstate(divide="ignore", invalid="ignore"):
                gy = -self.log(x / (1 - x)) * g
            if weight is not None:
                gy = gy * weight
        return gx, gy

    def binary_cross_entropy_with_logits(self, x, y, weight=None, pos_weight=None,
                                         reduction="none"):
        """Elementwise w * ((1 - y) x - l * log_sigmoid(x)), l = 1 + (pos_weight - 1) y: stable
        for any logit. Unreduced, or its sum or mean as a 0-d array of the dtype."""
        log_sig = self.log_sigmoid(x)
        if pos_weight is not None:
            log_sig = log_sig * ((pos_weight - 1) * y + 1)
        loss = (1 - y) * x - log_sig
        if weight is not None:
            loss = loss * weight
        return self._reduced_losses(loss, reduction)

    def binary_cross_entropy_with_logits_backward(self, x, y, g, weight=None, pos_weight=None,
                                                  need_x=True, need_y=False):
        """(g * w * ((1 + p y - y) sigmoid(x) - p y),  g * w * (log_sigmoid(-x) -
        p log_sigmoid(x))), p = pos_weight: PyTorch's; without p, the target's is -x g w"""
        gx = gy = None
        if need_x:
            s = _special().expit(x)
            if pos_weight is None:
                gx = (s - y) * g
            else:
                t = pos_weight * y
                gx = ((t + 1 - y) * s - t) * g
            if weight is not None:
                gx = gx * weight
        if need_y:
            if pos_weight is None:
                gy = -x * g
            else:
                gy = (self.log_sigmoid(-x) - pos_weight * self.log_sigmoid(x)) * g
            if weight is not None:
                gy = gy * weight
        return gx, gy

    # ---- optimizers: one call per parameter group, params updated in place -----------------
    # Each is PyTorch's single-tensor implementation, line for line and in its order. The
    # lists are parallel: entry i of every list has param i's shape and float dtype (arrays
    # may be non-contiguous if a user made them so). Params and state arrays are updated in
    # place; grads are never written. Hyperparameters are Python numbers, but lr may be a
    # NumPy float32 scalar (a Tensor lr's): the scalar arithmetic on it then rounds in float32,
    # as PyTorch's on the lr Tensor.
    def sgd_step_(self, params, grads, momentum_buffers, *, lr, momentum, dampening,
                  weight_decay, nesterov, maximize):
        """d = g (+ weight_decay p); buf = momentum buf + (1 - dampening) d (buf = d at the
        first step); d = d + momentum buf if nesterov else buf; p -= lr d.
        momentum_buffers: arrays or None; with momentum != 0 a None entry is created here (a
        new C-contiguous copy of d) and stored into the list, as PyTorch does; with
        momentum == 0 the list is not read."""
        for i, (p, g) in enumerate(zip(params, grads)):
            if (p.size == 1 and momentum == 0 and weight_decay == 0 and g.dtype is p.dtype
                    and p.dtype.char == "f"):
                # one float32 element in Python floats, where NumPy's ops cost ~3 us: the
                # product exact in double, the sum rounded there and then to float32 (_fma)
                d = -g.item() if maximize else g.item()
                p.flat[0] = p.item() + float(np.float32(-lr)) * d
                continue
            d = _decayed_grad(p, g, weight_decay, maximize)
            if momentum != 0:
                buf = momentum_buffers[i]
                if buf is None:              # a copy, never g itself; laid out as d (clone)
                    buf = np.array(d, dtype=p.dtype, order="C") if d.flags.c_contiguous \
                        else laid_like(d, d, dtype=p.dtype)
                    momentum_buffers[i] = buf
                else:           # buf.mul_(momentum).add_(d, alpha=1 - dampening)
                    buf *= _scalar(momentum, p)
                    _add_(buf, d, 1 - dampening)
                d = _fma(_scalar(momentum, p), buf, d) if nesterov else buf
            _add_(p, d, -lr)

    def adam_step_(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr,
                   beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
        """m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g g; p -= lr / (1 - beta1^t) *
        m / (sqrt(v) / sqrt(1 - beta2^t) + eps), v replaced by max(v_max, v) with amsgrad.
        Weight decay adds weight_decay p to g, or (decoupled, AdamW) scales p by
        1 - lr weight_decay first. steps: the step number t of each param (an int, already
        counted for this step). max_exp_avg_sqs entries are None unless amsgrad."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize,
                              lr if decoupled_weight_decay else None)
            m, v = exp_avgs[i], exp_avg_sqs[i]
            _adam_moments_(m, v, g, beta1, beta2)
            step = steps[i]
            if isinstance(beta1, np.generic):      # Tensor betas: their dtype, torch's ops
                bias_correction1 = 1 - _tensor_power(beta1, step)
                bias_correction2 = 1 - _tensor_power(beta2, step)
                # a float over a Tensor is PyTorch's reciprocal, then the product
                step_size = lr / bias_correction1 if isinstance(lr, np.generic) else \
                    1 / bias_correction1 * lr
                bias_correction2_sqrt = np.sqrt(bias_correction2)      # its pow(x, 0.5)
            else:
                step_size = lr / (1 - beta1 ** step)
                bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            if amsgrad:
                np.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
                v = max_exp_avg_sqs[i]
            denom = np.sqrt(v) / _scalar(bias_correction2_sqrt, p) + _scalar(eps, p)
            p += (_scalar(-step_size, p) * m) / denom        # addcdiv_'s order

    def rmsprop_step_(self, params, grads, square_avgs, momentum_buffers, grad_avgs, *, lr,
                      alpha, eps, weight_decay, momentum, centered, maximize):
        """s = alpha s + (1 - alpha) g g; avg = sqrt(s - a a) with a = lerp(a, g, 1 - alpha)
        if centered, else sqrt(s); avg += eps; buf = momentum buf + g / avg and p -= lr buf,
        or p -= lr g / avg without momentum. momentum_buffers / grad_avgs entries are None
        when unused."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize)
            s = square_avgs[i]
            s *= _scalar(alpha, s)
            _addcmul_(s, g, g, 1 - alpha)
            if centered:
                a = grad_avgs[i]
                _lerp_(a, g, 1 - alpha)
                avg = np.sqrt(_fma(-a, a, s))                # s.addcmul(a, a, value=-1)
            else:
                avg = np.sqrt(s)
            avg += _scalar(eps, avg)
            if momentum > 0:
                buf = momentum_buffers[i]
                buf *= _scalar(momentum, buf)
                buf += g / avg
                _add_(p, buf, -lr)
            else:
                p += (_scalar(-lr, p) * g) / avg             # addcdiv_'s order

    def adagrad_step_(self, params, grads, state_sums, steps, *, lr, lr_decay, weight_decay,
                      eps, maximize):
        """clr = lr / (1 + (t - 1) lr_decay); s += g g; p -= clr g / (sqrt(s) + eps).
        steps: the step number t of each param, already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize)
            clr = lr / (1 + (steps[i] - 1) * lr_decay)
            s = state_sums[i]
            _addcmul_(s, g, g, 1)
            std = np.sqrt(s) + _scalar(eps, s)
            p += (_scalar(-clr, p) * g) / std               # addcdiv_'s order


    def nadam_step_(self, params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, *, lr,
                    beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay,
                    maximize):
        """mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2); mu_product *= mu_t (a 0-d state
        array, in its own dtype); m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g g;
        d = sqrt(v / (1 - beta2^t)) + eps; p += -lr (1 - mu_t) / (1 - mu_product) g / d
        + -lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / d. Weight decay as in adam_step_.
        steps: the step number t of each param, already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            step = steps[i]
            bias_correction2 = 1 - beta2 ** step
            g = _decayed_grad(p, g, weight_decay, maximize,
                              lr if decoupled_weight_decay else None)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_products[i] *= _scalar(mu, mu_products[i])
            mu_product = float(mu_products[i])
            m, v = exp_avgs[i], exp_avg_sqs[i]
            _adam_moments_(m, v, g, beta1, beta2)
            denom = np.sqrt(v / _scalar(bias_correction2, v))
            denom += _scalar(eps, denom)
            # two addcdivs: p + (value g) / denom, the product first as PyTorch's CPU kernel
            p += _scalar(-lr * (1.0 - mu) / (1.0 - mu_product), p) * g / denom
            p += _scalar((-lr * mu_next) / (1.0 - mu_product * mu_next), p) * m / denom

    def radam_step_(self, params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2,
                    eps, weight_decay, decoupled_weight_decay, maximize):
        """m, v as in adam_step_; rho_inf = 2 / (1 - beta2) - 1, rho_t = rho_inf - 2 t beta2^t /
        (1 - beta2^t); p -= m / (1 - beta1^t) lr, times sqrt(1 - beta2^t) / (sqrt(v) + eps)
        and the rectification sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)
        (rho_inf - 2) rho_t)) when rho_t > 5. steps: already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            step = steps[i]
            g = _decayed_grad(p, g, weight_decay, maximize,
                              lr if decoupled_weight_decay else None)
            m, v = exp_avgs[i], exp_avg_sqs[i]
            _adam_moments_(m, v, g, beta1, beta2)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            update = m / _scalar(bias_correction1, m) * _scalar(lr, m)
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                denom = np.sqrt(v)
                denom += _scalar(eps, denom)
                # PyTorch's `number / tensor` is tensor.reciprocal() * number
                update *= np.reciprocal(denom) * _scalar(bias_correction2 ** 0.5, v)
                update *= _scalar(rect, update)
            p -= update

    def adamax_step_(self, params, grads, exp_avgs, exp_infs, steps, *, lr, beta1, beta2, eps,
                     weight_decay, maximize):
        """g (+ weight_decay p); m = lerp(m, g, 1 - beta1); u = max(beta2 u, |g| + eps);
        p += (-lr / (1 - beta1^t)) m / u. steps: already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize)
            m, u = exp_avgs[i], exp_infs[i]
            _lerp_(m, g, 1 - beta1)
            u *= _scalar(beta2, u)
            norm = np.abs(g)
            norm += _scalar(eps, norm)
            np.maximum(u, norm, out=u)
            clr = lr / (1 - beta1 ** steps[i])
            p += _scalar(-clr, p) * m / u

    def adafactor_step_(self, params, grads, row_vars, col_vars, variances, steps, *, lr,
                        beta2_decay, eps1, eps2, d, weight_decay, maximize):
        """Adafactor (PyTorch's single-tensor order): a matrix's second moment kept as its
        row and column means of g^2 (their outer product / the rows' mean estimates it), a
        vector's in full; the step rho_t = min(lr, 1/sqrt(t)) scaled by the parameter's RMS
        (at least eps2), the update clipped to an RMS of d. steps: already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, 0, maximize)
            floor = np.finfo(p.dtype).eps if eps1 is None else eps1
            t = float(steps[i])
            one_minus_beta2 = t ** beta2_decay
            rho = min(lr, 1 / t ** 0.5)
            alpha = max(eps2, float(np.sqrt(_fsum(p * p, axis=None))) / p.size ** 0.5) * rho
            if weight_decay != 0:
                p *= _scalar(1 - lr * weight_decay, p)
            if g.ndim > 1:
                row, col = row_vars[i], col_vars[i]
                _lerp_(row, _fsum(g * g, axis=-1, keepdims=True) / _scalar(g.shape[-1], g),
                       one_minus_beta2)
                _lerp_(col, _fsum(g * g, axis=-2, keepdims=True) / _scalar(g.shape[-2], g),
                       one_minus_beta2)
                estimate = np.matmul(row, col)
                estimate /= np.maximum(row.mean(axis=-2, keepdims=True), _scalar(floor, row))
            else:
                _lerp_(variances[i], g * g, one_minus_beta2)
                estimate = variances[i].copy()
            update = 1 / np.sqrt(np.maximum(estimate, _scalar(floor * floor, estimate)))
            update *= g
            denom = max(1.0, float(np.sqrt(_fsum(update * update, axis=None)))
                        / (update.size ** 0.5 * d))
            p += _scalar(-alpha / denom, p) * update

    def adadelta_step_(self, params, grads, square_avgs, acc_deltas, *, lr, rho, eps,
                       weight_decay, maximize):
        """g (+ weight_decay p); s = rho s + (1 - rho) g g; delta = sqrt(a + eps) /
        sqrt(s + eps) g; a = rho a + (1 - rho) delta delta; p -= lr delta."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize)
            s, a = square_avgs[i], acc_deltas[i]
            s *= _scalar(rho, s)
            _addcmul_(s, g, g, 1 - rho)
            std = np.sqrt(s + _scalar(eps, s))
            delta = np.sqrt(a + _scalar(eps, a))
            delta /= std
            delta *= g
            a *= _scalar(rho, a)
            _addcmul_(a, delta, delta, 1 - rho)
            _add_(p, delta, -lr)

    def asgd_step_(self, params, grads, axs, etas, mus, steps, *, lr, lambd, alpha, t0,
                   weight_decay, maximize):
        """g (+ weight_decay p); p = p (1 - lambd eta) - eta g; ax += (p - ax) mu, or ax = p
        while mu is 1; then eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0).
        etas, mus: 0-d state arrays, read and rewritten here (with float32 values, as
        PyTorch's); steps: already counted."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, weight_decay, maximize)
            eta = float(etas[i])
            p *= _scalar(1 - lambd * eta, p)
            _add_(p, g, -eta)
            mu = float(mus[i])
            if mu != 1:
                axs[i] += (p - axs[i]) * _scalar(mu, p)
            else:
                axs[i][...] = p
            # PyTorch copies in torch.as_tensor(number): float32 values, even into float64
            # states (as load_state_dict makes them for float64 params)
            step = steps[i]
            etas[i][...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
            mus[i][...] = np.float32(1 / max(1, step - t0))

    def rprop_step_(self, params, grads, prevs, step_sizes, *, etaminus, etaplus,
                    step_size_min, step_size_max, maximize):
        """f = etaplus where g prev > 0, etaminus where < 0, 1 where 0; step_size = clamp(
        step_size f, min, max); g = 0 where f is etaminus; p -= sign(g) step_size; prev = g."""
        for i, (p, g) in enumerate(zip(params, grads)):
            g = _decayed_grad(p, g, 0, maximize)
            prev, step_size = prevs[i], step_sizes[i]
            sign = _sign(g * prev)
            sign[sign > 0] = etaplus         # masks, as PyTorch
            sign[sign < 0] = etaminus
            sign[sign == 0] = 1
            step_size *= sign
            np.clip(step_size, _scalar(step_size_min, step_size),
                    _scalar(step_size_max, step_size), out=step_size)
            g = np.array(g, dtype=p.dtype)           # a copy: grads are never written
            g[sign == _scalar(etaminus, sign)] = 0
            p -= _sign(g) * step_size
            prev[...] = g


def _sign(x):
    """PyTorch's sign, (x > 0) - (x < 0): 0 for NaN (NumPy's gives NaN), an array even when x
    is 0-d"""
    return np.asarray(np.subtract(x > 0, x < 0, dtype=x.dtype))


def _fma(x, y, z):
    """x y + z rounded once (a fused multiply-add, as PyTorch's CPU kernels compute add's
    alpha, addcmul, lerp and the optimizers' updates), x, y, z arrays or NumPy scalars of x's
    dtype: float32 through float64 (the product exact), float16 through it to float32 first
    (PyTorch's half kernels compute in float32), float64 by Dekker's exact product and Knuth's
    exact sum (_dekker: a true fma's bits but where that sum's own rounding meets a tie,
    ~never)"""
    if x.dtype != np.float64:
        r = x.astype(np.float64) * y + z
        return (r.astype(np.float32) if x.dtype.itemsize < 4 else r).astype(x.dtype)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        p, r = _dekker(x, y, z)
        # (inf, NaN or a split past 2**996: the plain sum, fma's but past 2**996)
        r = np.where(np.isfinite(r), r, p + z)
        # a product below 2**-969 leaves Dekker's error term inexact (subnormal). Beside a z
        # of 2**-915 or more it is below half of z's ulp (r = z, right); with a z that small
        # too, the same sum of x 2**600, y and z 2**600 (exact scalings), scaled back: exact
        # where the result is normal; a subnormal result, rarer still, as exact fractions
        tiny = (np.abs(p) < 2.0 ** -969) & (np.abs(z) < 2.0 ** -915) & (x != 0) & (y != 0)
        if not tiny.any():
            return r
        scaled = _dekker(np.asarray(x) * 2.0 ** 600, y, np.asarray(z) * 2.0 ** 600)[1] \
            * 2.0 ** -600
        r = np.array(np.where(tiny, scaled, r))
        sub = tiny & (np.abs(r) < 2.0 ** -1022)
        if sub.any():
            from fractions import Fraction
            xs, ys, zs, _ = np.broadcast_arrays(x, y, z, r)
            flat = r.reshape(-1)
            for i in np.flatnonzero(np.broadcast_to(sub, r.shape)):
                flat[i] = float(Fraction(float(xs.flat[i])) * Fraction(float(ys.flat[i]))
                                + Fraction(float(zs.flat[i])))
        return r


def _dekker(x, y, z):
    """(x y rounded, x y + z rounded once): Dekker's exact product p + e, Knuth's exact sum
    t + its error, their sum rounded once (float64, no overflow or subnormal product)"""
    p = x * y
    split = 134217729.0                              # 2^27 + 1: halves of 26 bits
    xh = split * x - (split * x - x)
    yh = split * y - (split * y - y)
    xl, yl = x - xh, y - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl            # p + e = x y exactly
    t = p + z
    pz = t - z
    return p, t + (((p - pz) + (z - (t - pz))) + e)


def _decayed_grad(p, g, weight_decay, maximize, decoupled_lr=None):
    """The gradient an optimizer's update reads: -g under maximize, plus weight_decay p; or,
    given decoupled_lr (AdamW's decay: the lr, None otherwise), g itself after p is scaled by
    1 - lr weight_decay in place."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_lr is not None:                # (an lr of 0 is still decoupled)
            p *= _scalar(1 - decoupled_lr * weight_decay, p)
        else:
            g = _fma(_scalar(weight_decay, p), p, g)   # g.add(p, alpha=weight_decay)
    return g


def _tensor_power(base, exponent):
    """base ** exponent for a NumPy scalar base as PyTorch's pow of a 0-d Tensor: base cubed in
    its dtype for 3, else the double pow rounded to it (NumPy's float32 pow differed from
    it in 0.3% of 75,000 (beta, step) pairs, from step 3)"""
    if exponent == 3:
        return base * base * base
    return base.dtype.type(math.pow(float(base), exponent))


def _adam_moments_(m, v, g, beta1, beta2):
    """Adam's moments in place: m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g g. A
    NumPy scalar beta (a Tensor's) rounds as PyTorch's Tensor: beta1 moved to m's dtype first,
    1 - beta2 in its own."""
    _lerp_(m, g, 1 - (m.dtype.type(beta1) if isinstance(beta1, np.generic) else beta1))
    v *= _scalar(beta2, v)
    _addcmul_(v, g, g, 1 - beta2)


def _addcmul_(a, b, c, value):
    """a += value b c in place, as PyTorch's addcmul_: (value b) c + a rounded once"""
    np.copyto(a, _fma(_scalar(value, a) * b, c, a))


def _add_(a, b, alpha):
    """a += alpha b in place, as PyTorch's add_ with alpha: rounded once"""
    np.copyto(a, _fma(_scalar(alpha, a), b, a))


def _lerp_(a, b, w):
    """a = lerp(a, b, w) in place, PyTorch's formula: a + w (b - a) for |w| < 0.5, else
    b - (b - a)(1 - w) (so w = 1 gives exactly b), each one fused multiply-add, with 1 - w
    computed in a's dtype, as its kernel."""
    w = _scalar(w, a)
    if abs(w) < 0.5:
        np.copyto(a, _fma(w, b - a, a))
    else:
        np.copyto(a, _fma(a - b, _scalar(1, a) - w, b))


def _opmath_of(x):
    """x in the dtype PyTorch's CPU norms compute it in: float16 (and any narrower float) in
    float32, others as they are"""
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


def _per_channel(rows, param, groups, spatial, op):
    """op(rows, param) with param (None: rows as they are) spread over the rows of group_norm:
    channel (r % groups) * (K // spatial) + k // spatial at element k of row r"""
    if param is None:
        return rows
    R, K = rows.shape
    per_row = param.reshape(groups, K // spatial, 1).astype(rows.dtype, copy=False)
    out = op(rows.reshape(R // groups, groups, K // spatial, spatial), per_row)
    return out.reshape(R, K)


def _channel_sums(rows, groups, spatial):
    """per channel, the sum of rows' elements (R, K) over the rows and spatial positions of
    that channel (group_norm's layout): a flat array of groups * (K // spatial)"""
    R, K = rows.shape
    return _fsum(rows.reshape(R // groups, groups, K // spatial, spatial), axis=(0, 3)).reshape(-1)


def _transposed_geometry(sizes, kernel, stride, pad, dilation, output_padding):
    """(crop, extra, reach) of a transposed convolution of an input of spatial sizes: the
    pads (before, after) of the convolution it is the adjoint of, the output padding taken
    from `after`; the zero rows added past the windows' reach where the output padding
    exceeds it; and that reach, the output's size less extra. A negative reach: every
    window lands before the output's start (PyTorch's output is the bias alone)."""
    crop = tuple((p[0], max(p[1] - op, 0)) for p, op in zip(pad, output_padding))
    extra = tuple(max(op - p[1], 0) for p, op in zip(pad, output_padding))
    reach = tuple((s - 1) * st - sum(p) + d * (k - 1) + 1
                  for s, st, p, d, k in zip(sizes, stride, crop, dilation, kernel))
    return crop, extra, reach


def conv_output_size(size, kernel, dilation, pad, stride):
    """the number of windows along one dim, pad = (before, after)"""
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def windows_view(x, out, kernel, dilation, stride, writeable=False):
    """the view (N, C, *kernel, *out) of x (N, C, *S): element (n, c, *at, *o) is the one
    kernel position `at` of window `o` reads"""
    sn, sc, *spatial = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (*x.shape[:2], *kernel, *out),
        (sn, sc, *[s * d for s, d in zip(spatial, dilation)],
         *[s * st for s, st in zip(spatial, stride)]), writeable=writeable,
        subok=True)                              # (a meta x's windows stay meta)
