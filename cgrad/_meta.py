"""The meta device: tensors with a shape and a dtype and no values, as PyTorch's
(`module.to("meta")` keeps a model's structure without its memory, e.g. as the skeleton that
torch.func.functional_call fills with stacked parameters).

A meta tensor's storage is a MetaArray: a broadcast zero of its shape (no memory), which
views (reshape, transpose, indexing) keep. cgrad has no meta kernels: NumPy computing with a
MetaArray raises NotImplementedError, where PyTorch would give another meta tensor."""
import numpy as np

from ._device import device

META = device("meta")

# the NumPy functions that read only shapes and strides: a meta tensor's views use them
_SHAPE_ONLY = {np.broadcast_to, np.reshape, np.transpose, np.moveaxis, np.swapaxes, np.squeeze,
               np.expand_dims, np.shape, np.ndim, np.size, np.result_type, np.ravel,
               np.broadcast_arrays, np.atleast_1d, np.atleast_2d, np.atleast_3d}


class MetaArray(np.ndarray):
    """A meta tensor's storage: shape and dtype, computing with it raises"""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise no_values(f"{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        if func in _SHAPE_ONLY:
            return super().__array_function__(func, types, args, kwargs)
        raise no_values(func.__name__)


def empty(shape, dtype):
    """A MetaArray of shape and dtype (no memory)"""
    return np.broadcast_to(np.zeros((), dtype).view(MetaArray), tuple(shape), subok=True)


def contiguous_strides(shape):
    """the strides PyTorch gives a new meta tensor of shape (row-major; a meta tensor's own
    storage, a broadcast zero, has none to read them from)"""
    strides, step = [], 1
    for n in reversed(shape):
        strides.insert(0, step)
        step *= max(n, 1)
    return tuple(strides)


def no_values(what):
    return NotImplementedError(f"cgrad has no meta kernels: {what} cannot compute on a tensor "
                               "on the meta device (a shape and a dtype, no data)")


def is_meta_device(where):
    return where is not None and not isinstance(where, int) and device(where).type == "meta"
