"""Shape ops, indexing, cat/stack: views where PyTorch makes views, with their backward."""
import numpy as np

from ..autograd.function import Op
from .._memory import zeros


def viewed(x, shape):
    """x reshaped without copying, or PyTorch's RuntimeError when its strides don't allow it."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (at least one "
            f"dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
            f"(input shape {list(x.shape)}, requested {list(shape)})") from None


class View(Op):
    """y = x viewed as shape   ->   dx = g reshaped back"""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return viewed(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class ReshapeCopy(Op):
    """y = a copy of x in the new shape (x's strides allow no view)"""
    grad_fn_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.reshape(x, shape).copy()

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Transpose(Op):
    """y = x with dims d0 and d1 swapped   ->   dx = g swapped back"""
    is_view = True

    @staticmethod
    def forward(ctx, x, d0, d1):
        ctx.d0, ctx.d1 = d0, d1
        return np.swapaxes(x, d0, d1)

    @staticmethod
    def backward(ctx, g):
        return np.swapaxes(g, ctx.d0, ctx.d1), None, None


class T(Transpose):
    grad_fn_name = "TBackward0"


class Permute(Op):
    """y = x with dims permuted   ->   dx = g with the inverse permutation"""
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, np.argsort(ctx.dims)), None


class Expand(Op):
    """y = x broadcast to shape (a read-only view)   ->   dx = g summed back (by the engine)"""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None


class Squeeze(Op):
    """y = x without the given size-1 dims   ->   dx = g reshaped back"""
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.shape = x.shape
        return np.squeeze(x, axis=dims)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Unsqueeze(Op):
    """y = x with a size-1 dim inserted   ->   dx = g reshaped back"""
    is_view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.shape = x.shape
        return np.expand_dims(x, dim)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Clone(Op):
    """y = a copy of x   ->   dx = g"""
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g,


class Contiguous(Clone):
    grad_fn_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x):
        return np.ascontiguousarray(x)


class ToDtype(Op):
    """y = x cast to a dtype   ->   dx = g cast back (by the engine)"""
    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None


class BasicIndex(Op):
    """y = x[ints, slices, None, ...] (a view)   ->   dx = zeros with g written at the key"""
    grad_fn_name = "SliceBackward0"
    is_view = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        gx = zeros(ctx.shape, g.dtype)
        gx[ctx.key] = g
        return gx, None


class Select(BasicIndex):
    grad_fn_name = "SelectBackward0"


class AdvancedIndex(Op):
    """y = x[integer or boolean index arrays] (a copy)   ->   dx = g scatter-added at the key,
    so repeated indices add up"""
    grad_fn_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        gx = zeros(ctx.shape, g.dtype)
        np.add.at(gx, ctx.key, g)
        return gx, None


class IndexPut(Op):
    """y = x with y[key] = v   ->   dx = g with zeros at the key, dv = g[key]"""
    grad_fn_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, key, v):
        if isinstance(v, np.ndarray) and v.dtype != x.dtype:
            v = v.astype(x.dtype)
        y = x.copy()
        y[key] = v
        ctx.key = key
        return y

    @staticmethod
    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.key] = 0
        if ctx.needs_input_grad[2]:
            gv = g[ctx.key]
        return gx, None, gv


class Cat(Op):
    """y = cat(xs, dim)   ->   each dx is its slice of g"""
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        bounds = np.cumsum(ctx.sizes)[:-1]
        return (None,) + tuple(np.split(g, bounds, axis=ctx.dim))


class Stack(Op):
    """y = stack(xs, dim)   ->   each dx is its index of g along dim"""
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(np.moveaxis(g, ctx.dim, 0))
