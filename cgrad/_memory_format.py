"""torch.memory_format: how a tensor's elements are laid out in memory. cgrad lays them out as
asked (a NumPy array with those strides); every op computes the same values whatever the
layout."""
import math

import numpy as np


class memory_format:
    """contiguous_format (row-major), channels_last (N, H, W, C in memory for an N, C, H, W
    tensor), channels_last_3d (N, D, H, W, C), preserve_format (keep the input's)"""
    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"cgrad.{self._name}"

    def __reduce__(self):
        return self._name                       # pickled as the module's object of that name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
legacy_contiguous_format = contiguous_format          # (PyTorch's alias)

# the dims in memory order (the last varies fastest), for the formats of a given rank
_ORDERS = {channels_last: (4, (0, 2, 3, 1)), channels_last_3d: (5, (0, 2, 3, 4, 1))}


def dims_order(fmt, ndim):
    """the dims of an ndim tensor in fmt's memory order (PyTorch's rank error for a channels
    format of another rank)"""
    if fmt in _ORDERS:
        rank, order = _ORDERS[fmt]
        if ndim != rank:
            raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")
        return order
    if fmt is not None and not isinstance(fmt, memory_format):
        raise TypeError(f"memory_format must be cgrad.memory_format, not {type(fmt).__name__}")
    return tuple(range(ndim))


def laid_out(flat, shape, fmt):
    """the 1-D array flat (numel elements) seen as shape in fmt's layout: a view, with
    PyTorch's strides (a size-1 dim's too)"""
    strides, step = [0] * len(shape), flat.itemsize
    for d in reversed(dims_order(fmt, len(shape))):
        strides[d] = step
        step *= max(shape[d], 1)
    return np.ndarray(shape, flat.dtype, flat, 0, strides)


def is_contiguous_as(a, fmt):
    """PyTorch's check: strides those of fmt's layout, size-1 dims' strides ignored"""
    if fmt in _ORDERS:
        rank, order = _ORDERS[fmt]
        if a.ndim != rank:
            return False
    else:
        return bool(a.flags.c_contiguous)
    expected = 1
    for d in reversed(order):
        n = a.shape[d]
        if n != 1:
            if a.strides[d] != expected * a.itemsize:
                return False
            expected *= n
    return True


def suggested(a):
    """PyTorch's suggest_memory_format: a channels format where a's strides are ordered as
    its layout (dense or not), else contiguous_format"""
    if a.ndim in (4, 5) and not (a.flags.c_contiguous and 1 not in a.shape and a.size):
        fmt = channels_last if a.ndim == 4 else channels_last_3d
        if _strides_like(a.shape, a.strides, (1, *range(a.ndim - 1, 1, -1), 0)):
            return fmt
    return contiguous_format


def _strides_like(shape, strides, dims):
    """PyTorch's is_channels_last_strides_2d/3d test: strides not decreasing over dims (C, the
    spatial dims innermost first, N), ambiguous cases (trivial C, N111) row-major"""
    if strides[1] == 0:
        return False
    least = 0
    for d in dims:
        if shape[d] == 0 or strides[d] < least:
            return False
        if d == 0 and least == strides[1]:
            return False
        least = strides[d] * (shape[d] if shape[d] > 1 else 1)
    return True


def is_dense(a):
    """PyTorch's is_non_overlapping_and_dense: a's elements fill a block of a.size elements,
    each once, in some order of its dims (the strides of size-1 dims do not count; an empty
    a is, as PyTorch counts it contiguous)"""
    if a.size == 0:
        return True
    expected = a.itemsize
    for stride, n in sorted((s, n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride != expected:
            return False
        expected *= n
    return True


def dense_strided(shape, strides, dtype):
    """a new array of shape with these strides (in elements, describing a dense block)"""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    return np.ndarray(shape, dtype, np.empty(size, dtype), 0,
                      [s * dtype.itemsize for s in strides])


def with_strides_of(out, like):
    """out, a new row-major array of like's shape, given like's own strides where like is
    C-contiguous: they can differ only in size-1 dims (and empty ones), whose strides
    PyTorch's preserve_format copy keeps and NumPy's makes canonical. A view of out (the
    same addresses), or out itself."""
    if like.size and 1 not in like.shape:
        return out
    strides = like.strides if out.itemsize == like.itemsize else \
        tuple(s // like.itemsize * out.itemsize for s in like.strides)
    return out if out.strides == strides else np.ndarray(like.shape, out.dtype, out, 0,
                                                         strides)


def preserved_strides(a):
    """the strides (in elements) PyTorch gives a preserve_format copy of a (empty_like, clone,
    a cast): a's own where a is dense, else dense ones in a's order of dims"""
    strides = [s // a.itemsize for s in a.strides]
    return strides if is_dense(a) else infer_dense_strides(a.shape, strides)


def infer_dense_strides(shape, strides):
    """PyTorch's infer_dense_strides: the dims sorted by stride as TensorIterator sorts them
    (an insertion sort from the innermost; a zero stride or a tie of sizes keeps the order),
    then dense strides in that order"""
    ndim = len(shape)

    def should_swap(d0, d1):
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if shape[d0] > shape[d1] else 0

    perm = _innermost_first(ndim, should_swap)
    out, step = [0] * ndim, 1
    for d in perm:
        out[d] = step
        if shape[d] > 1:
            step *= shape[d]
    return out


def _innermost_first(ndim, should_swap):
    """the dims from the innermost out, as PyTorch's TensorIterator sorts them: an insertion
    sort from the last dim, should_swap(d0, d1) > 0 moving d1 before d0, 0 (ambiguous)
    leaving them"""
    perm = list(reversed(range(ndim)))
    for i in range(1, ndim):
        dim1 = i
        for dim0 in reversed(range(i)):
            order = should_swap(perm[dim0], perm[dim1])
            if order > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif order < 0:
                break
    return perm


def laid_like(values, like, fmt=preserve_format, dtype=None):
    """a copy of values (an array shaped as like) in fmt's layout, cast to dtype if given;
    preserve_format keeps like's layout, as PyTorch (preserved_strides)"""
    dtype = values.dtype if dtype is None else dtype
    if fmt is None or fmt is preserve_format:
        if like.flags.c_contiguous:
            return with_strides_of(np.array(values, dtype, order="C", copy=True), like)
        out = dense_strided(like.shape, preserved_strides(like), dtype)
        np.copyto(out, values, casting="unsafe")
        return out
    if fmt is contiguous_format:
        return np.array(values, dtype, order="C", copy=True)
    out = laid_out(np.empty(values.size, dtype), values.shape, fmt)
    np.copyto(out, values, casting="unsafe")
    return out


def laid_as_first(out, first):
    """out (an op's result) laid out as first, the op's first operand, as PyTorch's
    TensorIterator lays it out: a copy where first is a full-shaped array not in row-major
    order and out is laid out otherwise (NumPy's order 'K' picks row-major where its operands
    disagree: x_channels_last + x_contiguous)"""
    if (type(first) is not np.ndarray or first.flags.c_contiguous or first.shape != out.shape
            or _element_strides(first) == _element_strides(out)):
        return out
    laid = np.empty_like(first, dtype=out.dtype)
    laid[...] = out
    return laid


def _element_strides(a):
    return tuple(s // a.itemsize for s in a.strides)


def copy_as(a, fmt):
    """a copy of array a in fmt's layout (preserve_format: a's own, see laid_like)"""
    return laid_like(a, a, fmt)


def dim_order(t, ambiguity_check=False):
    """PyTorch's Tensor.dim_order: t's dims from the outermost to the innermost in memory
    (its algorithm: an insertion sort by stride, ties and size-1 dims as it leaves them)"""
    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list)
            and all(isinstance(f, memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                        "formats.")
    shape, strides = t.shape, t.stride()
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    ambiguous = 1 in shape or any(a == b for a, b in zip(strides, strides[1:]))
    if ambiguity_check is not False and ambiguous \
            and sum(t.is_contiguous(memory_format=f) for f in formats) != 1:
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact "
                           "one of the given memory formats.")
    ndim = len(shape)
    contiguous, last = t.is_contiguous(), t.is_contiguous(memory_format=channels_last)
    if ndim <= 1 or (contiguous and not last):
        return tuple(range(ndim))
    if last and not contiguous:
        return (0, *range(2, ndim), 1)

    def at_least(a, b):
        return b == 0 or (a != 0 and (a >= b or a % b == 0))

    def should_swap(a, b):
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if at_least(shape[b], shape[a]) else 1
        return -1 if at_least(sb, sa) else 1

    perm = _innermost_first(ndim, should_swap)  # sorted back to front, reversed on return
    if ambiguity_check and any(should_swap(perm[i], perm[i + 1]) != -1
                                            for i in range(ndim - 1)):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(reversed(perm))
