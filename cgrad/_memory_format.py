"""torch.memory_format: how a tensor's elements are laid out in memory. cgrad lays them out as
asked (a NumPy array with those strides); every op computes the same values whatever the
layout."""
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
    """the 1-D array flat (numel elements) seen as shape in fmt's layout: a view"""
    order = dims_order(fmt, len(shape))
    return flat.reshape([shape[d] for d in order]).transpose(np.argsort(order))


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
    """the format preserve_format keeps: a channels one where a is laid out so (and not
    plainly contiguous), else contiguous_format"""
    if not a.flags.c_contiguous:
        for fmt in _ORDERS:
            if is_contiguous_as(a, fmt):
                return fmt
    return contiguous_format


def copy_as(a, fmt):
    """a copy of array a in fmt's layout (preserve_format: a's suggested one)"""
    if fmt is None or fmt is preserve_format:
        fmt = suggested(a)
    if fmt is contiguous_format:
        return np.array(a, order="C", copy=True)
    out = laid_out(np.empty(a.size, a.dtype), a.shape, fmt)
    np.copyto(out, a)
    return out


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

    perm = list(reversed(range(ndim)))          # sorted back to front, reversed on return
    for i in range(1, ndim):
        dim1 = i
        for dim0 in reversed(range(i)):
            order = should_swap(perm[dim0], perm[dim1])
            if order > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif order < 0:
                break
    if ambiguity_check and any(should_swap(perm[i], perm[i + 1]) != -1
                                            for i in range(ndim - 1)):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(reversed(perm))
