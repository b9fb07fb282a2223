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
