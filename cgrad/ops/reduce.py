"""Reductions and the softmax family: forward and backward side by side."""
import math

import numpy as np

from .. import backends as B
from ..backends._stdsort import std_nth_element
from ..autograd.function import Op, constant, renamed
from .._dtype import from_numpy_dtype, require_float, torch_name
from .._memory import zeros
from .elementwise import DependsOn, MaskedFill, Sign, _float
from .shape import Cat


def broadcast(g, shape):
    """g broadcast to shape, as a read-only view. A one-element g becomes a zero-stride view
    directly: np.broadcast_to costs ~4 us, which is most of a small backward."""
    if g.size == 1:                       # an array, or a NumPy scalar (read-only already)
        view = np.ndarray(shape, g.dtype, g, 0, (0,) * len(shape))
        if view.flags.writeable:
            view.flags.writeable = False
        return view
    return np.broadcast_to(g, shape)


def expand_reduced(g, shape, dims, keepdim):
    """g of a reduction over dims, broadcast back (as a read-only view) to the input shape."""
    if not keepdim and dims is not None:
        g = np.expand_dims(g, dims)
    return broadcast(g, shape)


def kept_shape(shape, dims):
    """shape with the reduced dims (None: all) as 1s: a reduction's result with keepdim"""
    return tuple(1 if dims is None or d in dims else n for d, n in enumerate(shape))


def expand_reduced_tensor(g, shape, dims, keepdim):
    """expand_reduced for a Tensor g, recorded (create_graph)"""
    if not keepdim:
        for d in sorted(range(len(shape)) if dims is None else dims):
            g = g.unsqueeze(d)
    return g.expand(shape)


def divided(g, n):
    """Tensor g / n, NaN where n is 0 (PyTorch's 0 / 0; a mean over nothing), recorded"""
    return g / n if n else g * float("nan")


def _count(shape, dims):
    if dims is None:
        return math.prod(shape)
    return math.prod([shape[d] for d in dims])


def _widened(x):
    """float16 as float32 for a reduction's arithmetic (PyTorch accumulates it so: summed in
    float16, a var came out NaN and a norm inf)"""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def row_major(y):
    """a reduction's result laid out row-major, as PyTorch allocates it (NumPy keeps a
    transposed input's order, and .view of x.t().sum(0) then raised)"""
    return y if y.flags.c_contiguous else np.ascontiguousarray(y)


class Sum(Op):
    """y = sum(x, dims)   ->   dx = g broadcast back"""
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        y = B.kernels.sum(x, dims, keepdim)
        if x.dtype.kind in "biu":
            y = np.asarray(y, dtype=np.int64)          # integer sums are int64, as in PyTorch
        return row_major(np.asarray(y))

    @staticmethod
    def backward(ctx, g):
        return expand_reduced(g, ctx.shape, ctx.dims, ctx.keepdim), None, None

    @staticmethod
    def graph_backward(ctx, g):
        return expand_reduced_tensor(g, ctx.shape, ctx.dims, ctx.keepdim), None, None


class SumAll(Sum):
    grad_fn_name = "SumBackward0"


class SumDim(Sum):
    grad_fn_name = "SumBackward1"


class Nansum(Sum):
    """y = sum(x, dims) of the elements that are not NaN   ->   dx = g broadcast back, times 0
    at NaN (PyTorch's nansum_backward: an inf or NaN g there gives NaN)"""
    grad_fn_name = "NansumBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.present = ~np.isnan(x)
        return Sum.forward(ctx, np.where(ctx.present, x, x.dtype.type(0)), dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        return Sum.backward(ctx, g)[0] * ctx.present, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return Sum.graph_backward(ctx, g)[0] * constant(ctx.present), None, None


def require_mean_dtype(dtype):
    if dtype.kind != "f":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {torch_name(dtype)}")


class Mean(Op):
    """y = mean(x, dims)   ->   dx = g / n broadcast back"""
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        require_mean_dtype(x.dtype)
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return row_major(np.asarray(B.kernels.mean(x, dims, keepdim)))

    @staticmethod
    def backward(ctx, g):
        n = _count(ctx.shape, ctx.dims)
        if not n:
            scaled = g * g.dtype.type(np.nan)
        elif g.dtype == np.float16:
            # in float32, rounded once, as PyTorch's opmath (n as float16 is inf past 65504)
            scaled = (g.astype(np.float32) / n).astype(np.float16)
        else:
            # n rounds to g's dtype; a 0-d g divides as a NumPy scalar: the ufunc's bits,
            # ~2 us sooner
            scaled = (g[()] if g.ndim == 0 else g) / n
        return expand_reduced(scaled, ctx.shape, ctx.dims, ctx.keepdim), None, None

    @staticmethod
    def graph_backward(ctx, g):
        n = _count(ctx.shape, ctx.dims)
        return expand_reduced_tensor(divided(g, n), ctx.shape, ctx.dims,
                                     ctx.keepdim), None, None


class MeanAll(Mean):
    grad_fn_name = "MeanBackward0"


class MeanDim(Mean):
    grad_fn_name = "MeanBackward1"


def _extreme_all(name, reduce):
    def forward(ctx, x):
        if x.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        y = np.asarray(reduce(x), dtype=x.dtype)
        ctx.save_for_backward(x, y)
        return y
    return staticmethod(forward)


class MaxAll(Op):
    """y = max(x)   ->   g shared evenly by the elements equal to y"""
    grad_fn_name = "MaxBackward1"
    forward = _extreme_all("max", np.max)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        mask = (x == y) | (np.isnan(x) & np.isnan(y))
        return (np.where(mask, g / g.dtype.type(mask.sum()), g.dtype.type(0)),)

    @staticmethod
    def graph_backward(ctx, g):
        # each element's share, from the array backward of a g of 1: constant in x
        return g * constant(MaxAll.backward(ctx, np.ones((), g._data.dtype))[0]),


class MinAll(MaxAll):
    grad_fn_name = "MinBackward1"
    forward = _extreme_all("min", np.min)


def first_max_last_nan(x, axis):
    """PyTorch's max pooling pick: the first maximum along axis, or its last NaN"""
    return B.kernels.first_max_last_nan(x, axis)


class MaxDim(Op):
    """(values, indices) = max(x, dim)   ->   g goes to each row's index (pick(x, axis) gives
    it: argmax, argmin, median_index, ...)"""
    grad_fn_name = "MaxBackward0"
    name = "max"                         # the op PyTorch's messages name
    multi_output = True

    @classmethod
    def forward(cls, ctx, x, dim, keepdim, pick):
        if not x.ndim:                   # a 0-d tensor: over its one element, 0-d results
            x, keepdim = x.reshape(1), False
        if x.shape[dim] == 0:
            raise IndexError(f"{cls.name}(): Expected reduction dim {dim} to have non-zero "
                             "size.")
        idx = np.expand_dims(pick(x, axis=dim), dim)
        values = B.kernels.gather(x, dim, idx)
        ctx.idx, ctx.dim, ctx.shape = idx, dim, x.shape
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g):
        # (each row's one index: added into zeros, g lands as put there, but a -0.0 as +0.0)
        return B.kernels.scatter_add_(zeros(ctx.shape, g.dtype), ctx.dim, ctx.idx,
                                      g.reshape(ctx.idx.shape)), None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        # g selected at each row's index (as backward's scatter: a NaN g stays in its row's
        # one element, where a product with a one-hot would spread it)
        others = MaxDim.backward(ctx, np.ones(g.shape, g._data.dtype))[0] == 0
        return g.reshape(ctx.idx.shape).expand(ctx.shape).masked_fill(constant(others), 0), \
            None, None, None


class MinDim(MaxDim):
    grad_fn_name = "MinBackward0"
    name = "min"


def median_index(x, axis):
    """each row's lower median's index along axis, as PyTorch's median(dim): the
    ((n - 1) // 2)-th in a stable ascending order (ties in index order); where a row has NaN,
    its first NaN"""
    n = x.shape[axis]
    idx = np.take(np.argsort(x, axis=axis, kind="stable"), (n - 1) // 2, axis=axis)
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        idx = np.where(nan.any(axis), nan.argmax(axis), idx)
    return idx


def nanmedian_index(x, axis):
    """each row's lower median of its non-NaN values, its index along axis (as median_index;
    a stable ascending order puts NaN last). An all-NaN row gives the index PyTorch's
    std::nth_element leaves first among elements that all compare equal."""
    present = np.sum(~np.isnan(x), axis=axis, keepdims=True) if x.dtype.kind == "f" else \
        np.full((1,) * x.ndim, x.shape[axis])
    order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take_along_axis(order, np.maximum(present - 1, 0) // 2, axis).squeeze(axis)
    empty = present.squeeze(axis) == 0
    return np.where(empty, _nth_element_first(x.shape[axis]), idx) if empty.any() else idx


def _nth_element_first(n):
    """the position that libstdc++'s std::nth_element(first, first, first + n) moves to first
    when all n elements compare equal (an all-NaN row)"""
    return std_nth_element([0] * n, 0, lambda a, b: False)[0] if n else 0


def kth_index(x, axis, k):
    """each row's k-th smallest element's index along axis (NaN counts as the largest), the
    one PyTorch's kthvalue picks: where the k-th value ties with others, its quickselect
    decides which, so those rows run it"""
    rows = np.moveaxis(x, axis, -1)
    shape, n = rows.shape[:-1], rows.shape[-1]
    rows = rows.reshape(-1, n)
    idx = np.argsort(rows, axis=-1, kind="stable")[:, k - 1]
    kth = rows[np.arange(len(rows)), idx][:, None]
    same = (rows == kth) | (np.isnan(rows) & np.isnan(kth)) if x.dtype.kind == "f" else \
        rows == kth
    for r in np.flatnonzero(same.sum(-1) > 1):
        idx[r] = _quick_select(rows[r].tolist(), k - 1)
    return idx.reshape(shape)


def _quick_select(values, k):
    """the original position that PyTorch's quick_select_template (median-of-three pivot,
    Sedgewick's partition; NaN the largest) leaves at position k of values"""
    def gt(a, b):
        return (a != a and b == b) or a > b

    idx = list(range(len(values)))

    def swap(i, j):
        values[i], values[j] = values[j], values[i]
        idx[i], idx[j] = idx[j], idx[i]
    lo, hi = 0, len(values) - 1
    while hi > lo + 1:
        swap((lo + hi) >> 1, lo + 1)
        for i, j in ((lo + 1, hi), (lo, hi), (lo + 1, lo)):
            if gt(values[i], values[j]):
                swap(i, j)
        i, j, pivot = lo + 1, hi, values[lo]
        while True:
            i += 1
            while gt(pivot, values[i]):
                i += 1
            j -= 1
            while gt(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    if hi == lo + 1 and gt(values[lo], values[hi]):
        swap(lo, hi)
    return idx[k]


def mode_index(x, axis):
    """each row's mode's index along axis, the one PyTorch's mode picks: it sorts each row's
    (value, index) pairs by value (std::sort with a plain <, the kernels' sort_order "less"),
    takes the first of the longest runs of equal values (so the smallest value among the most
    frequent; NaN equals nothing) and that run's last pair"""
    rows = np.moveaxis(x, axis, -1)
    shape, n = rows.shape[:-1], rows.shape[-1]
    rows = rows.reshape(-1, n)
    order = B.kernels.sort_order(rows, "less")
    ordered = np.take_along_axis(rows, order, -1)
    ends = np.ones(rows.shape, bool)                 # where a run of equal values ends
    ends[:, :-1] = ordered[:, 1:] != ordered[:, :-1]
    position = np.arange(n)
    starts = np.zeros(rows.shape, np.int64)          # each run's first position, carried on
    starts[:, 1:] = np.where(ends[:, :-1], position[1:], 0)
    run = np.where(ends, position - np.maximum.accumulate(starts, axis=-1) + 1, 0)
    last = np.argmax(run, axis=-1)                   # (the first longest)
    return np.take_along_axis(order, last[:, None], -1).reshape(shape)


class ModeDim(MaxDim):
    grad_fn_name = "ModeBackward0"
    name = "mode"


class KthvalueDim(MaxDim):
    grad_fn_name = "KthvalueBackward0"
    name = "kthvalue"


class MedianDim(MaxDim):
    grad_fn_name = "MedianBackward1"
    name = "median"


class NanmedianDim(MedianDim):
    grad_fn_name = "NanmedianBackward1"


class MedianAll(MaxAll):
    """y = the lower median of all elements (NaN where any is NaN)   ->   g shared evenly by the
    elements equal to y, as MaxAll's"""
    grad_fn_name = "MedianBackward0"
    pick = staticmethod(median_index)

    @classmethod
    def forward(cls, ctx, x):
        flat = x.reshape(-1)
        y = np.asarray(flat[cls.pick(flat, 0)] if flat.size else np.nan).astype(x.dtype)
        ctx.save_for_backward(x, y)
        return y


class NanmedianAll(MedianAll):
    """y = the lower median of the elements that are not NaN (NaN where all are)"""
    grad_fn_name = "NanmedianBackward0"
    pick = staticmethod(nanmedian_index)


class AMax(Op):
    """y = amax(x, dims)   ->   g shared evenly by the elements equal to their y (max(x, dim)
    gives it to one index instead)"""
    grad_fn_name = "AmaxBackward0"
    name = "amax"

    @staticmethod
    def reduce(x, dims, keepdim):
        return B.kernels.amax(x, dims, keepdim)

    @classmethod
    def forward(cls, ctx, x, dims, keepdim):
        for d in dims:
            if x.shape[d] == 0:
                raise IndexError(f"{cls.name}(): Expected reduction dim {d} to have non-zero "
                                 "size.")
        y = np.asarray(cls.reduce(x, dims, keepdim), dtype=x.dtype)
        ctx.save_for_backward(x, y)
        ctx.dims, ctx.keepdim = dims, keepdim
        return y

    @staticmethod
    def _mask_and_count(ctx, dtype, always=False):
        """the elements equal to their maximum, and how many per row; count is None (unless
        always) where each row has one and no maximum is NaN (whose row has none), as g then
        needs no sharing. Counting along dims is NumPy's slowest pass here ((64, 128, 32)
        over 2: 200-260 us, the rest of the backward ~120), the whole count ~10"""
        x, y = ctx.saved_tensors
        mask = x == expand_reduced(y, x.shape, ctx.dims, ctx.keepdim)
        if not always and np.count_nonzero(mask) == y.size and not (
                y.dtype.kind == "f" and np.isnan(y).any()):
            return mask, None
        return mask, np.sum(mask, axis=ctx.dims, keepdims=True, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        mask, count = AMax._mask_and_count(ctx, g.dtype)
        share = expand_reduced(g, mask.shape, ctx.dims, ctx.keepdim)
        if count is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                share = share / count
        # a product, not a where: a NaN row (no element equals its max) gets g / 0 * 0, NaN
        # throughout, as in PyTorch
        return share * mask, None, None

    @staticmethod
    def graph_backward(ctx, g):
        # PyTorch's graph: g viewed with the reduced dims kept, / count, * mask (broadcast
        # both), so the bits match where maxima tie
        mask, count = AMax._mask_and_count(ctx, g._data.dtype, always=True)
        share = g if ctx.keepdim else g.view(kept_shape(mask.shape, ctx.dims))
        return share / constant(count) * constant(mask.astype(g._data.dtype)), None, None


class AMin(AMax):
    grad_fn_name = "AminBackward0"
    name = "amin"

    @staticmethod
    def reduce(x, dims, keepdim):
        return B.kernels.amin(x, dims, keepdim)


def require_moments_dtype(dtype):
    """PyTorch's error for var/std of integers or bools (checked before the dims)"""
    if dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")


class Var(Op):
    """y = sum((x - mean)^2) / (n - correction)   ->   dx = g * 2 (x - mean) / (n - c)"""
    @staticmethod
    def forward(ctx, x, dims, correction, keepdim):
        y, centered = Var.centered_var(ctx, x, dims, correction, keepdim)
        # centered spares the backward a pass; x is what PyTorch saves (an in-place change of
        # it raises) and what the recorded backward differentiates through
        ctx.save_for_backward(centered, x)
        return y

    @staticmethod
    def centered_var(ctx, x, dims, correction, keepdim):
        """(var, x - mean), and the reduction's parameters into ctx"""
        require_moments_dtype(x.dtype)
        n = _count(x.shape, dims)
        work = _widened(x)
        # sums in float64: NumPy adds along a strided axis one element after another, so a
        # float32 var over 300000 rows was off by 1e-4 (PyTorch's: 6e-8)
        # (np.add.reduce / n is np.mean's sum and division, without its module's warnings)
        mean = ((np.add.reduce(work, axis=dims, keepdims=True, dtype=np.float64) / n).astype(
            work.dtype) if x.size else np.zeros_like(work))
        centered = work - mean
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.sum(centered * centered, axis=dims, keepdims=keepdim,
                       dtype=np.float64) / np.float64(max(n - correction, 0))
        # the backward divides by n - correction unclamped, as PyTorch's (a gradient of 0, not
        # nan, where the correction exceeds n)
        ctx.dof, ctx.dims, ctx.keepdim = n - correction, dims, keepdim
        return row_major(np.asarray(y, dtype=x.dtype)), centered

    @staticmethod
    def graph_centered(ctx):
        """(x - mean) in Tensor ops, and x's shape (create_graph)"""
        x, = ctx.saved_for_graph(1)
        dims = tuple(range(x.dim())) if ctx.dims is None else ctx.dims
        return x - x.mean(dims, keepdim=True), x.shape

    @staticmethod
    def backward(ctx, g):
        centered, _ = ctx.saved_tensors
        g = expand_reduced(g, centered.shape, ctx.dims, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * centered * g.dtype.type(2.0 / ctx.dof if ctx.dof else np.inf), \
                None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        centered, shape = Var.graph_centered(ctx)
        scale = 2.0 / ctx.dof if ctx.dof else float("inf")
        return expand_reduced_tensor(g, shape, ctx.dims, ctx.keepdim) * centered * scale, \
            None, None, None


class Std(Op):
    """y = sqrt(var)   ->   dx = g * (x - mean) / ((n - c) * y)"""
    @staticmethod
    def forward(ctx, x, dims, correction, keepdim):
        var, centered = Var.centered_var(ctx, x, dims, correction, keepdim)
        y = np.asarray(np.sqrt(var))             # an array, also 0-d: the output itself
        ctx.save_for_backward(centered, x, y)    # y: the output, version-checked
        return y

    @staticmethod
    def backward(ctx, g):
        centered, _, y = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = g / (y * y.dtype.type(ctx.dof))
        # a zero deviation has a zero gradient, as in PyTorch (not 0 / 0)
        scale = np.where(y == 0, scale.dtype.type(0), scale)
        return expand_reduced(scale, centered.shape, ctx.dims, ctx.keepdim) * centered, \
            None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        centered, shape = Var.graph_centered(ctx)
        y, = ctx.saved_for_graph(2)
        zero = constant(y._data == 0)    # 0 where the deviation is 0, as backward
        scale = (g / (y * ctx.dof)).masked_fill(zero, 0)
        return expand_reduced_tensor(scale, shape, ctx.dims, ctx.keepdim) * centered, \
            None, None, None


def require_norm_dtype(dtype):
    """PyTorch's error for the vector norm of integers or bools (checked before the dims)"""
    if dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {torch_name(dtype)}")


class Norm(Op):
    """y = (sum |x|^p)^(1/p)   ->   dx = g * x |x|^(p-2) / y^(p-1) (0 where y == 0)"""
    grad_fn_name = "LinalgVectorNormBackward0"
    p0_zeros = False      # p = 0 (a count) gives no gradient; PyTorch's cdist and pdist, zeros

    @staticmethod
    def forward(ctx, x, p, dims, keepdim, *of):
        """of: for a distance op's norm of differences (distance_norm), the tensors they are of,
        its node's edges"""
        require_norm_dtype(x.dtype)
        if (p < 0 or np.isinf(p)) and not x.size:   # a max, min or 1/0 over nothing: refused
            name = f"linalg.vector_norm cannot compute the {p:g} norm on"
            if dims is None:
                raise RuntimeError(f"{name} an empty tensor because the operation does not "
                                   "have an identity")
            for d in dims:
                if not x.shape[d]:            # (PyTorch's message, its missing space too)
                    raise RuntimeError(f"{name} the dimension {d}because this dimension is "
                                       "empty and the operation does not have an identity")
        w = _widened(x)
        if p == 2:
            y = np.sqrt(B.kernels.sum(w * w, dims, keepdim))
        else:
            a = np.abs(w)
            if p == np.inf:
                y = B.kernels.amax(a, dims, keepdim)
            elif p == -np.inf:                                # the smallest |x|
                y = B.kernels.amin(a, dims, keepdim)
            elif p == 0:                                      # the count of nonzeros
                y = np.sum(a != 0, axis=dims, keepdims=keepdim)
            elif p == 1:
                y = np.sum(a, axis=dims, keepdims=keepdim)
            else:
                y = np.sum(a ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
        y = row_major(np.asarray(y, dtype=x.dtype))
        ctx.save_for_backward(x, y)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        p = ctx.p
        yb = expand_reduced(y, x.shape, ctx.dims, ctx.keepdim)
        gb = expand_reduced(g, x.shape, ctx.dims, ctx.keepdim)
        zero = x.dtype.type(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:                    # none at all (vector_norm's), or zeros (cdist's)
                return (np.zeros_like(x) if ctx.op.p0_zeros else None), None, None, None
            elif p == 2:                  # PyTorch's x (g / y), 0 where y is: one full pass
                scale = np.where(y == 0, zero, g / y)
                return x * expand_reduced(scale, x.shape, ctx.dims, ctx.keepdim), None, None, \
                    None
            elif p == 1:
                d = Sign.forward(None, x)         # PyTorch's sgn: 0 at NaN
            elif np.isinf(p):
                return Norm._inf_grad(ctx, x, yb, gb), None, None, None
            elif p < 1:                   # PyTorch's forms: no 0 * inf where an x is 0
                scaled = np.where(x == 0, zero, np.sign(x) * np.abs(x) ** (p - 1))
                d = scaled * yb ** (1 - p)
            else:
                a = np.abs(x)
                scaled = np.sign(x) * a ** (p - 1) if p < 2 else x * a ** (p - 2)
                d = scaled * np.where(yb == 0, zero, 1 / yb ** (p - 1))
        return (gb * d).astype(x.dtype, copy=False), None, None, None

    @staticmethod
    def _inf_grad(ctx, x, yb, gb):
        """the inf (-inf) norm's gradient as PyTorch's: (g / count) * mask * sign(x), mask the
        elements whose |x| is the max (min) or NaN; x and yb arrays, gb an array or a Tensor
        (recorded: the rest is constant in x)"""
        mask = np.asarray((np.abs(x) == yb) | np.isnan(x))
        count = expand_reduced(np.asarray(np.sum(mask, axis=ctx.dims, keepdims=ctx.keepdim)),
                               x.shape, ctx.dims, ctx.keepdim).astype(x.dtype)
        return (gb / count) * mask * Sign.forward(None, x)

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        p = ctx.p
        if p == 0:           # zeros recorded in x (a second derivative: zeros too)
            zeros = x.masked_fill(constant(np.ones((), np.bool_)), 0) if ctx.op.p0_zeros \
                else None
            return zeros, None, None, None
        gb = expand_reduced_tensor(g, x.shape, ctx.dims, ctx.keepdim)
        if np.isinf(p):            # sign(x) in it: recorded in x with a zero derivative
            yb = expand_reduced(y._data, x.shape, ctx.dims, ctx.keepdim)
            return DependsOn.apply(Norm._inf_grad(ctx, x._data, yb, gb), x), None, None, None
        yb = expand_reduced_tensor(y, x.shape, ctx.dims, ctx.keepdim)
        zero = constant(yb._data == 0)     # PyTorch's: 0 where the norm is 0
        if p == 2:                 # PyTorch's association: a zero row's 0/0 stays in that row
            d = gb * (x / yb).masked_fill(zero, 0)
        elif p == 1:
            d = x.sign() * gb
        elif p < 1:
            scaled = (x.sign() * x.abs() ** (p - 1)).masked_fill(
                constant(x._data == 0), 0)
            d = scaled * gb * yb ** (1 - p)
        else:
            scaled = x.sign() * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
            # divided by 1 where the norm is 0, then masked: no 0 * inf further back
            d = scaled * (gb / yb.masked_fill(zero, 1) ** (p - 1)).masked_fill(zero, 0)
        return d, None, None, None


def distance_norm(name, grad_fn_name, doc, inputs, **attrs):
    """Norm of the differences of `inputs` tensors, printed as PyTorch's distance op: its node's
    edges are to those tensors, given after keepdim (the gradient flows through the
    differences; a post hook gets and replaces theirs)"""
    return renamed(name, Norm, grad_fn_name, doc, edge_order=tuple(range(4, 4 + inputs)),
                   hook_edges=(0,), **attrs)


# torch.dist(a, b, p) is the norm of a - b, its node named as PyTorch's
DistNorm = distance_norm("DistNorm", "DistBackward0", "the p-norm of a - b (torch.dist)", 2)


class Prod(Op):
    """y = prod(x, dim)   ->   dx = g * (product of the other elements), exact with zeros"""
    @staticmethod
    def forward(ctx, x, dim, keepdim):
        saved = x
        if dim is not None and not x.ndim:   # a 0-d tensor: over its one element, 0-d result
            x, keepdim = x.reshape(1), False
        ctx.dim, ctx.keepdim = dim, keepdim
        dtype = x.dtype if x.dtype.kind == "f" else np.int64     # bool and ints: int64
        # the ufunc's own reduce: np.prod would warn of an overflow from NumPy's module
        y = np.asarray(np.multiply.reduce(x, axis=dim, keepdims=keepdim, dtype=dtype),
                       dtype=dtype)
        ctx.save_for_backward(saved, y)     # y as PyTorch saves it: changing it in place raises
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        dim = ctx.dim
        if dim is not None and not x.ndim:
            x = x.reshape(1)
        if not (x == 0).any():               # PyTorch's form where no factor is 0 (its bits,
            dims = None if dim is None else (dim,)          # and its NaN where one is inf)
            return (expand_reduced(g, x.shape, dims, ctx.keepdim)
                    * (expand_reduced(y, x.shape, dims, ctx.keepdim) / x)), None, None
        flat = x.reshape(-1) if dim is None else x
        axis = 0 if dim is None else dim
        ones = np.ones_like(np.take(flat, [0], axis=axis)) if flat.shape[axis] else None
        if ones is None:
            return np.zeros_like(x), None, None
        left = np.multiply.accumulate(np.concatenate([ones, flat], axis=axis), axis=axis)
        left = np.take(left, range(flat.shape[axis]), axis=axis)
        right = np.flip(np.multiply.accumulate(
            np.concatenate([ones, np.flip(flat, axis)], axis=axis), axis=axis), axis)
        right = np.take(right, range(1, flat.shape[axis] + 1), axis=axis)
        others = (left * right).reshape(x.shape)
        gb = expand_reduced(g, x.shape, None if dim is None else (dim,), ctx.keepdim)
        return gb * others, None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        if not x.dim():
            return g, None, None                 # the product of one element is that element
        dims = None if ctx.dim is None else (ctx.dim,)
        gb = expand_reduced_tensor(g, x.shape, dims, ctx.keepdim)
        if not (x._data == 0).any():              # PyTorch's form where no factor is 0
            return gb * (expand_reduced_tensor(y, x.shape, dims, ctx.keepdim) / x), None, None
        dim = ctx.dim
        flat, axis = (x.reshape(-1), 0) if dim is None else (x, dim)
        others = _exclusive_products(flat, axis) * _exclusive_products(
            flat.flip(axis), axis).flip(axis)
        return gb * others.reshape(x.shape), None, None


def _exclusive_products(t, axis):
    """Tensor t's exclusive prefix products along axis (1, t0, t0 t1, ...), recorded: a
    log-depth scan of multiplies (each place times the place k before it, k = 1, 2, 4, ...),
    exact where a factor is 0, so differentiable again there"""
    n = t.shape[axis]

    def part(a, start, stop):
        return a[(slice(None),) * axis + (slice(start, stop),)]

    def ones(k):
        return constant(np.ones(t.shape[:axis] + (k,) + t.shape[axis + 1:], t._data.dtype))
    if n == 1:                # no factor before the one place: a constant, as PyTorch's
        return ones(1)
    p = Cat.apply(axis, ones(1), part(t, 0, n - 1))
    k = 1
    while k < n:
        p = p * Cat.apply(axis, ones(k), part(p, 0, n - k))
        k *= 2
    return p


class ProdAll(Prod):
    grad_fn_name = "ProdBackward0"


class ProdDim(Prod):
    grad_fn_name = "ProdBackward1"


def scan(ufunc, x, axis, dtype=None):
    """np.cumsum or np.cumprod as PyTorch's CPU kernels run them: float32 accumulated in
    float64 and float16 in float32 (its acc_type), so long scans keep PyTorch's bits; integers
    and bools give int64; a 0-d x is scanned as its one element"""
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.int64)
    acc = np.float64 if dtype == np.float32 else np.float32 if dtype == np.float16 else dtype
    if acc != dtype and x.dtype != dtype:
        x = x.astype(dtype)              # x in dtype first (int64 to float16: inf), as PyTorch
    y = ufunc(x.reshape(1) if not x.ndim else x, axis=axis if x.ndim else 0, dtype=acc)
    return np.ascontiguousarray(y, dtype).reshape(x.shape)      # C order: torch's


def _scanned_by_backend(x, dtype=None):
    """whether a scan of x runs as the backends' running_sum: a float array of at least one
    dim, kept in its dtype"""
    return (type(x) is np.ndarray and x.ndim and x.dtype in (np.float32, np.float64)
            and (dtype is None or dtype == x.dtype))


def reversed_cumsum(g, d):
    """sum of g from each place to the end along d (an array, or a Tensor: recorded)"""
    if isinstance(g, np.ndarray):
        if _scanned_by_backend(g):
            return B.kernels.running_sum(g, d, reverse=True)
        return np.flip(scan(np.cumsum, np.flip(g, d), d), d)
    return g.flip(d).cumsum(d).flip(d)


class Cumsum(Op):
    """y_i = x_0 + ... + x_i along dim   ->   dx = the reversed cumsum of g along dim"""
    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim, ctx.input_dtype = dim, x.dtype
        if _scanned_by_backend(x, dtype):
            return B.kernels.running_sum(x, dim)
        y = scan(np.cumsum, x, dim, dtype)
        if y.dtype.kind == "f" and x.ndim:
            y += 0.0                     # PyTorch's sums start from +0.: never a -0. (a 0-d
        return y                         # x is copied)

    @staticmethod
    def backward(ctx, g):
        g = _in_input_dtype(ctx, g)
        if g.ndim == 0 or g.shape[ctx.dim] == 1:
            return g, None, None
        return reversed_cumsum(g, ctx.dim), None, None

    graph_backward = backward             # reversed_cumsum records on a Tensor


def _in_input_dtype(ctx, g):
    """g (an array, or a Tensor under create_graph) in the scan's input dtype, as PyTorch's
    cumsum and cumprod backward cast it first where dtype= made the output narrower or wider"""
    if isinstance(g, np.ndarray):
        return g if g.dtype == ctx.input_dtype else g.astype(ctx.input_dtype)
    return g if g._data.dtype == ctx.input_dtype else g.to(from_numpy_dtype(ctx.input_dtype))


class Cumprod(Op):
    """y_i = x_0 ... x_i along dim   ->   dx_k = sum over i >= k of g_i times the product of
    x_0..x_i but x_k; exact where x has zeros. Per slice along dim, with z its first zero:
    before z, dx_k = (reversed cumsum of g y)_k / x_k (PyTorch's form; no zero divides);
    at z, dx_z = (x_0..x_{z-1}) * sum over i >= z of g_i x_{z+1}..x_i; after z, 0 (each
    product holds x_z = 0 besides x_k)"""
    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim, ctx.input_dtype = dim, x.dtype
        y = scan(np.multiply.accumulate, x, dim, dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def _masks(x, d):
        """alive: no zero up to here along d; started: no zero before here; first: the
        first zero"""
        alive = np.logical_and.accumulate(x != 0, axis=d)
        started = np.concatenate([np.ones_like(alive.take([0], d)),
                                  alive.take(range(alive.shape[d] - 1), d)], axis=d)
        return alive, started, started & ~alive

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.dim
        g = _in_input_dtype(ctx, g)
        if not x.ndim or x.shape[d] <= 1:      # y = x
            return g, None, None
        alive, started, first = Cumprod._masks(x, d)
        one, zero = x.dtype.type(1), x.dtype.type(0)
        dx = np.where(alive, reversed_cumsum(g * y, d) / np.where(alive, x, one), zero)
        if first.any():
            before = np.multiply.reduce(np.where(alive, x, one), axis=d, keepdims=True)
            after = np.multiply.accumulate(np.where(started, one, x), axis=d)
            dx = np.where(first, before * np.sum(np.where(alive, zero, g * after), axis=d,
                                                 keepdims=True), dx)
        return dx, None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        d = ctx.dim
        g = _in_input_dtype(ctx, g)
        if x.numel() <= 1 or x.shape[d] == 1:
            return g, None, None
        if not (x._data == 0).any():
            return reversed_cumsum(g * y, d) / x, None, None
        # with zeros, PyTorch's O(n^2) form, whose own derivative is cumprod's second one (the
        # masks above give the right values but no dependence on the zeros): dx_k = sum over
        # i >= k of g_i times x_0..x_i without x_k
        from .._functions import cat, stack
        n = x.shape[d]
        parts = []
        for k in range(n):
            # the products of x_0..x_i without x_k, for i = k .. n-1
            until = x.narrow(d, 0, k).prod(d, keepdim=True) if k else \
                constant(np.ones(x.shape[:d] + (1,) + x.shape[d + 1:], x._data.dtype))
            omitted = until if k == n - 1 else \
                cat([until, until * x.narrow(d, k + 1, n - k - 1).cumprod(d)], d)
            parts.append((g.narrow(d, k, n - k) * omitted).sum(d))
        return stack(parts, d), None, None


class LogSumExp(Op):
    """y = m + ln(sum(e**(x - m))), m = max(x) over dims (0 where infinite), as PyTorch
    computes it   ->   dx = g e**(x - y)"""
    grad_fn_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        x = _float(x)
        if x.size:
            m = B.kernels.amax(x, dims, True)
            m[np.isinf(m)] = 0
            # (the backends' sub and exp: the compiled ones broadcast m in one pass, and
            # NumPy's float32 exp is glibc's scalar one where it has no AVX-512 loop)
            e = B.kernels.exp(B.kernels.sub(x, m))
            y = B.kernels.log(B.kernels.sum(e, dims, keepdim))
            y = np.asarray(y + (m if keepdim else m.reshape(y.shape)))
        else:                                   # an empty sum: log(0) = -inf
            y = np.log(np.sum(np.exp(x), axis=dims, keepdims=keepdim))
        ctx.save_for_backward(x, y)
        ctx.dims, ctx.keepdim = dims, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        kept = kept_shape(x.shape, ctx.dims)
        # g e**(x - y), PyTorch's formula, with y and g broadcast by the backends' kernels
        return B.kernels.mul(g.reshape(kept), B.kernels.exp(B.kernels.sub(x, y.reshape(kept)))), \
            None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        y = expand_reduced_tensor(y, x.shape, ctx.dims, ctx.keepdim)
        return expand_reduced_tensor(g, x.shape, ctx.dims, ctx.keepdim) * (x - y).exp(), \
            None, None


class Softmax(Op):
    """y = softmax(x, dim)   ->   dx = y * (g - sum(g * y, dim)), from the saved output"""
    kernel = "softmax"

    @classmethod
    def forward(cls, ctx, x, dim):
        last = "lastdim_" if dim == x.ndim - 1 or not x.ndim else ""
        require_float(x.dtype, f"{cls.kernel}_{last}kernel_impl")
        if not x.ndim:               # the kernels need dim 0: a 0-d x as one element
            return cls.forward(ctx, x.reshape(1), dim).reshape(())
        # a fresh C-contiguous result, as PyTorch's (a transposed x's layout would stop .view)
        y = np.ascontiguousarray(getattr(B.kernels, cls.kernel)(x, dim))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @classmethod
    def backward(cls, ctx, g):
        y, = ctx.saved_tensors
        kernel = getattr(B.kernels, cls.kernel + "_backward")
        if g.ndim != y.ndim:                  # a 0-d x, run as one element
            return kernel(y, g.reshape(1), ctx.dim).reshape(()), None
        return kernel(y, g, ctx.dim), None

    @staticmethod
    def graph_backward(ctx, g):
        y, = ctx.saved_for_graph()
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Softmax):
    """y = log_softmax(x, dim)   ->   dx = g - exp(y) * sum(g, dim), from the saved output"""
    kernel = "log_softmax"

    @staticmethod
    def graph_backward(ctx, g):
        y, = ctx.saved_for_graph()
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None


# ---- running extremes and log-sum-exp (cummax, cummin, logcumsumexp) -------------------------
def running_extreme(x, axis, better):
    """(values, indices) of the running max (better=np.greater_equal) or min along axis, as
    PyTorch's scan: a tie or NaN takes the later index, and NaN stays once met"""
    x = np.moveaxis(x, axis, 0)
    values, indices = np.empty_like(x), np.empty(x.shape, np.int64)
    if x.shape[0]:
        best, at = x[0].copy(), np.zeros(x.shape[1:], np.int64)
        for i in range(x.shape[0]):
            take = better(x[i], best)
            if x.dtype.kind == "f":       # a NaN always takes (a later NaN too), else not past one
                take = np.isnan(x[i]) | take & ~np.isnan(best)
            best, at = np.where(take, x[i], best), np.where(take, i, at)
            values[i], indices[i] = best, at
    return np.moveaxis(values, 0, axis), np.moveaxis(indices, 0, axis)


class Cummax(Op):
    """(values, indices) = the running max along dim   ->   g added at the indices"""
    multi_output = True
    better = staticmethod(np.greater_equal)

    @classmethod
    def forward(cls, ctx, x, dim):
        flat = x.reshape(1) if not x.ndim else x
        values, indices = running_extreme(flat, dim, cls.better)
        ctx.indices, ctx.dim, ctx.shape = indices, dim, flat.shape
        return row_major(values).reshape(x.shape), row_major(indices).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        gx = zeros(ctx.shape, g.dtype)
        if gx.size:
            B.kernels.scatter_add_(gx, ctx.dim, ctx.indices, g.reshape(ctx.indices.shape))
        return gx.reshape(g.shape), None

    @staticmethod
    def graph_backward(ctx, g):
        g1 = g.reshape(ctx.shape)
        return g1.new_zeros(ctx.shape).scatter_add(ctx.dim, constant(ctx.indices), g1).reshape(
            g.shape), None


class Cummin(Cummax):
    better = staticmethod(np.less_equal)


def _reversed_logcumsumexp(a, d):
    """log(sum from each place to the end of e**a) along d"""
    return np.flip(np.logaddexp.accumulate(np.flip(a, d), axis=d), d)


class Logcumsumexp(Op):
    """y_i = ln(e**x_0 + ... + e**x_i) along dim   ->   dx_k = sum over i >= k of g_i
    e**(x_k - y_i), summed in logs for g's positive and negative parts apart (PyTorch's form)"""
    @staticmethod
    def forward(ctx, x, dim):
        require_float(x.dtype, "logcumsumexp_out_cpu")
        flat = x.reshape(1) if not x.ndim else x
        acc = {2: np.float32, 4: np.float64}.get(x.dtype.itemsize, x.dtype)   # its acc_type
        y = (row_major(np.logaddexp.accumulate(flat, axis=dim, dtype=acc)).reshape(x.shape)
             .astype(x.dtype, copy=False) if flat.size else x.copy())
        if x.ndim:
            y += 0.0                     # its first element too is log(e**x_0): never -0.
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not x.size:
            return g, None
        shape, d = x.shape, ctx.dim
        x, y, g = (a.reshape(1) if not a.ndim else a for a in (x, y, g))
        with np.errstate(divide="ignore", invalid="ignore"):
            parts = [np.exp(_reversed_logcumsumexp(np.where(g * s > 0, np.log(g * s), -np.inf)
                                                   - y, d) + x) for s in (1, -1)]
        return (parts[0] - parts[1]).reshape(shape), None

    @staticmethod
    def graph_backward(ctx, g):
        # PyTorch's logcumsumexp_backward: the same sums in logs, with the lowest float for
        # log(0) (-inf would make nan gradients)
        x, y = ctx.saved_for_graph()
        if not g.ndim or not g.numel():
            return g, None
        d, lowest = ctx.dim, float(np.finfo(g._data.dtype).min)
        n = x.shape[d]
        if g.requires_grad and not g._data.any() and g.numel() * n <= 1 << 24:
            # differentiated in g at g = 0 (jvp by the double-backward trick), where the logs
            # below have no derivative: the form linear in g, dx_k = sum over i >= k of
            # g_i e**(x_k - y_i), by an n x n matrix of those weights (all <= 1) along dim
            xs, ys, gs = (t.movedim(d, -1) for t in (x, y, g))
            earlier = constant(np.triu(np.ones((n, n), dtype=bool), 1))    # [i, k]: i < k
            logw = (xs.unsqueeze(-2) - ys.unsqueeze(-1)).masked_fill(earlier, -math.inf)
            return (gs.unsqueeze(-1) * logw.exp()).sum(-2).movedim(-1, d), None
        log_abs = g.abs().log()

        def part(where):
            logs = MaskedFill.apply(log_abs, ~where, lowest) - y
            return (Logcumsumexp.apply(logs.flip(d), d).flip(d) + x).exp()
        return part(g._data > 0) - part(g._data < 0), None


# ---- segment_reduce ------------------------------------------------------------------------

class SegmentReduce(Op):
    """y[b, j] = reduce(initial, x[b, offsets[b, j]:offsets[b, j + 1]]) along one axis, per
    batch row b (the dims before it); empty segments give initial, else reduce's identity (NaN
    for mean)   ->   PyTorch's _segment_reduce_backward: sum g, mean g / length, max/min g
    where x equals y (or is NaN), divided among ties where positive, prod g y / x (the other
    elements' product where x is 0 or NaN)"""
    grad_fn_name = "SegmentReduceBackward0"
    UFUNCS = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum,
              "prod": np.multiply}
    IDENTITIES = {"sum": 0.0, "mean": 0.0, "max": -np.inf, "min": np.inf, "prod": 1.0}

    @staticmethod
    def forward(ctx, x, reduce, offsets, axis, initial):
        batch, size, inner = x.shape[:axis], x.shape[axis], x.shape[axis + 1:]
        rows = x.reshape((math.prod(batch), size, math.prod(inner)))
        offsets = offsets.reshape((rows.shape[0], offsets.shape[-1])).astype(np.int64)
        count = offsets.shape[1] - 1
        # each element's output row (b * count + segment), -1 outside every segment
        position = np.arange(size)
        segment = np.stack([np.searchsorted(o, position, side="right") - 1 for o in offsets])
        inside = (position >= offsets[:, :1]) & (position < offsets[:, -1:])
        target = np.where(inside, segment + np.arange(rows.shape[0])[:, None] * count, -1)
        target = target.reshape(-1)
        lengths = np.diff(offsets, axis=1).reshape(rows.shape[0] * count, 1)
        start = SegmentReduce.IDENTITIES[reduce] if initial is None else initial
        y = np.full((lengths.shape[0], rows.shape[2]), start, x.dtype)
        kept = target >= 0
        flat = rows.reshape(rows.shape[0] * size, rows.shape[2])
        SegmentReduce.UFUNCS[reduce].at(y, target[kept], flat[kept])
        if reduce == "mean":
            empty = np.nan if initial is None else initial
            with np.errstate(all="ignore"):
                y = np.where(lengths > 0, y / lengths.astype(x.dtype), empty).astype(x.dtype)
        ctx.reduce, ctx.initial, ctx.x_shape = reduce, initial, x.shape
        ctx.target, ctx.lengths = target, lengths
        ctx.save_for_backward(x, y)
        return y.reshape(batch + (count,) + inner)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        g = g.reshape(y.shape)
        target, kept = ctx.target, ctx.target >= 0
        into = target[kept]
        flat = x.reshape(target.shape[0], y.shape[1])
        gx = np.zeros(flat.shape, g.dtype)
        reduce = ctx.reduce
        if reduce == "sum":
            gx[kept] = g[into]
        elif reduce == "mean":
            gx[kept] = g[into] / ctx.lengths[into].astype(g.dtype)
        elif reduce in ("max", "min"):
            values = flat[kept]
            hit = np.isnan(values) | (values == y[into])
            part = np.where(hit, g[into], 0).astype(g.dtype)
            ties = np.zeros(y.shape, np.int64)
            np.add.at(ties, into, hit)
            shared = ties[into]
            divide = (shared >= 2) & (part > 0)      # (PyTorch's kernel divides only those)
            part[divide] /= shared[divide]
            gx[kept] = part
        else:
            values = flat[kept]
            with np.errstate(all="ignore"):
                part = (g[into] * y[into] / values).astype(g.dtype)
            zero, nan = values == 0, np.isnan(values)
            if (zero | nan).any():        # there y / x fails: the product of the others
                start = 1.0 if ctx.initial is None else ctx.initial
                plain = np.ones(y.shape, values.dtype)          # of each segment's other
                np.multiply.at(plain, into, np.where(zero | nan, 1, values))    # elements
                zeros, nans = np.zeros(y.shape, np.int64), np.zeros(y.shape, np.int64)
                np.add.at(zeros, into, zero)
                np.add.at(nans, into, nan)
                others = np.where(zeros[into] > zero, 0, plain[into] * start)
                others = np.where(nans[into] > nan, np.nan, others)
                part = np.where(zero | nan, g[into] * others, part).astype(g.dtype)
            gx[kept] = part
        return gx.reshape(ctx.x_shape), None, None, None, None
