"""Shape ops, indexing, cat/stack: views where PyTorch makes views, with their backward."""
import math

import numpy as np

from .. import _meta, backends as B
from ..autograd.function import Op, constant, renamed, shown
from .elementwise import MaskedFill, Where, held_op_edges
from .._memory import zeros
from .._memory_format import (contiguous_format, copy_as, laid_like, suggested,
                             with_strides_of)
from ..backends.numpy_backend import along_key
from ..storage import byte_view, strided_view



def _flat(a, k=2):
    """a with its batch dims (all but the last k) as one; reshape(-1, ...) fails when empty"""
    return a.reshape((math.prod(a.shape[:-k]),) + a.shape[-k:])

def viewed(x, shape):
    """x reshaped without copying, or PyTorch's RuntimeError when its strides don't allow it."""
    try:
        return x.reshape(shape, copy=False)
    except ValueError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (at least one "
            f"dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
            f"(input shape {list(x.shape)}, requested {list(shape)})") from None


def reshaped(g, shape):
    """g in shape: a view where g's strides allow one, else a row-major copy by the backend
    (a transposed gradient: NumPy's own copy of a 2048 x 2048 one took 23 ms, the backend's
    tiled transpose 4)"""
    try:
        return np.reshape(g, shape, copy=False)
    except ValueError:
        return B.kernels.as_contiguous(g).reshape(shape)


class View(Op):
    """y = x viewed as shape   ->   dx = g reshaped back"""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return viewed(x, shape)

    @staticmethod
    def backward(ctx, g):
        return reshaped(g, ctx.shape), None

    @staticmethod
    def graph_backward(ctx, g):
        return g.reshape(ctx.shape), None


class ReshapeAlias(View):
    """x.reshape(shape) as a view of a non-contiguous x: PyTorch's _reshape_alias"""
    grad_fn_name = "ReshapeAliasBackward0"


class ReshapeCopy(Op):
    """y = a copy of x in the new shape (x's strides allow no view)"""
    grad_fn_name = "UnsafeViewBackward0"
    # PyTorch's: clone, then view the clone
    shown_edges = staticmethod(lambda node, edges: (shown("CloneBackward0", edges[0]),))

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        # the backend's row-major copy (a transposed view in tiles), then its view in shape
        return B.kernels.as_contiguous(x).reshape(shape)

    backward = View.backward
    graph_backward = View.graph_backward


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

    @staticmethod
    def graph_backward(ctx, g):
        return g.transpose(ctx.d0, ctx.d1), None, None


TransposeInPlace = renamed("TransposeInPlace", Transpose, "TransposeBackward1",
                           "transpose(d0, d1) where PyTorch's graph has transpose_ (RNN's, GRU's)")


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

    @staticmethod
    def graph_backward(ctx, g):
        return g.permute([int(d) for d in np.argsort(ctx.dims)]), None


class Expand(Op):
    """y = x broadcast to shape (a read-only view)   ->   dx = g summed back (by the engine)"""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape, subok=True)          # (a meta x stays meta)

    @staticmethod
    def backward(ctx, g):
        return g, None

    graph_backward = backward


class Flip(Op):
    """y = x reversed along dims (a copy, as in PyTorch)   ->   dx = g reversed back"""
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.dims), None

    @staticmethod
    def graph_backward(ctx, g):
        return g.flip(ctx.dims), None


class Repeat(Op):
    """y = x tiled sizes[i] times along dim i (x's shape padded with leading 1s)   ->   dx =
    g summed over the copies"""
    @staticmethod
    def forward(ctx, x, sizes):
        ctx.shape, ctx.sizes = x.shape, sizes
        return np.tile(x, sizes)

    @staticmethod
    def backward(ctx, g):
        sizes, shape = ctx.sizes, ctx.shape
        padded = (1,) * (len(sizes) - len(shape)) + shape
        split = [n for pair in zip(sizes, padded) for n in pair]     # (r0, s0, r1, s1, ...)
        return g.reshape(split).sum(tuple(range(0, len(split), 2))).reshape(shape), None

    graph_backward = backward           # reshape and sum read the same on a Tensor


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

    graph_backward = backward


class Unsqueeze(Op):
    """y = x with a size-1 dim inserted   ->   dx = g reshaped back (recorded: squeezed, as
    PyTorch's SqueezeBackward1)"""
    is_view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.shape, ctx.dim = x.shape, dim
        return np.expand_dims(x, dim)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None

    @staticmethod
    def graph_backward(ctx, g):
        return g.squeeze(ctx.dim), None


class Clone(Op):
    """y = a copy of x (a C-contiguous x's: with its strides, as PyTorch keeps a size-1 dim's)
    ->   dx = g (a meta x's copy: another meta array, no memory)"""
    @staticmethod
    def forward(ctx, x):
        if type(x) is _meta.MetaArray:
            return _meta.empty(x.shape, x.dtype)
        return with_strides_of(x.copy(), x) if x.flags.c_contiguous else x.copy()

    @staticmethod
    def backward(ctx, g):
        return g,

    graph_backward = backward


class Contiguous(Clone):
    grad_fn_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x):
        if type(x) is _meta.MetaArray:
            return _meta.empty(x.shape, x.dtype)
        return B.kernels.as_contiguous(x)


class CloneAs(Clone):
    """y = a copy of x laid out in a memory format (channels_last, ...)   ->   dx = g"""
    grad_fn_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x, fmt):
        if type(x) is _meta.MetaArray:
            return _meta.empty(x.shape, x.dtype)
        return copy_as(x, fmt)

    @staticmethod
    def backward(ctx, g):
        return g, None

    graph_backward = backward


ToMemoryFormat = renamed("ToMemoryFormat", CloneAs, "ToCopyBackward0",
                         "x.to(memory_format=...): a copy laid out in that format")


def cast(x, dtype):
    """x.astype(dtype) laid out as PyTorch's preserve_format: x's strides where x is dense,
    else dense ones in its order of dims (NumPy's order 'K' gave an expand column-major
    strides, and .view then refused it)"""
    if x.flags.c_contiguous:
        return with_strides_of(x.astype(dtype), x)
    if type(x) is _meta.MetaArray:
        return _meta.empty(x.shape, dtype)
    return laid_like(x, x, dtype=dtype)


class ToDtype(Op):
    """y = x cast to a dtype   ->   dx = g cast back (by the engine)"""
    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        return cast(x, dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None

    graph_backward = backward           # the engine casts g back to x's dtype


class ToMeta(Op):
    """y = x on the meta device, in a dtype (a shape, no values)   ->   no gradient: a meta
    gradient has no values to give x"""
    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        return _meta.empty(x.shape, dtype)

    @staticmethod
    def backward(ctx, g):
        raise _meta.no_values("the backward of x.to('meta')")


class BasicIndex(Op):
    """y = x[ints, slices, None, ...] (a view)   ->   dx = zeros with g written at the key"""
    grad_fn_name = "SliceBackward0"
    is_view = True
    gradient = None          # the _Placed op that puts g back at the key (set below)

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return view_at(x, key)

    # the parts of x (x[t] in a loop, unbind, chunk) add their g into one buffer: placing each
    # in zeros of x's shape and summing those cost O(parts * x.size)
    accumulates = True
    returns_fresh = True

    @classmethod
    def backward(cls, ctx, g, acc):
        if acc[0] is None:
            return cls.placed_backward(ctx, g)
        B.kernels.accumulate_(view_at(acc[0], ctx.key), g)
        return acc[0], None

    @classmethod
    def placed_backward(cls, ctx, g):
        return cls.gradient.place(g, ctx.shape, ctx.key), None

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls.gradient.apply(g, ctx.shape, ctx.key), None

    @staticmethod
    def shown_edges(node, edges):
        """PyTorch's chain of views for the key (x[1:, ::2]: two slices), the last this node"""
        edge, key = edges[0], node.__dict__.get("key")
        chain = index_chain(key, node.shape) if key is not None else None
        for name in (chain or ())[:-1]:
            edge = shown(name, edge)
        return (edge,)


def scattered(x, shape, key):
    """zeros of shape with x written at a basic key"""
    y = zeros(shape, x.dtype)
    y[key] = x
    return y


class _Placed(Op):
    """y = zeros of shape with x placed at key: an indexing op's gradient, recorded for
    create_graph   ->   dx = g[key], the indexing op again"""
    place = take = indexing = None      # (x, shape, key) -> y; (g, key) -> g[key]; its op

    @classmethod
    def forward(cls, ctx, x, shape, key):
        ctx.key = key
        return cls.place(x, shape, key)

    @classmethod
    def backward(cls, ctx, g):
        return cls.take(g, ctx.key), None, None

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls.indexing.apply(g, ctx.key), None, None


def view_at(a, key):
    """a[key] for a basic key, always a view: an int for each dim gives NumPy a scalar (a
    copy), so x[1].add_(5) would not reach x"""
    v = a[key]
    if type(v) is not np.ndarray:
        v = a[(key if type(key) is tuple else (key,)) + (Ellipsis,)]
    return v


class SliceScatter(_Placed):
    """x written at a basic key (BasicIndex's gradient)"""
    place, take, indexing = staticmethod(scattered), staticmethod(view_at), BasicIndex


BasicIndex.gradient = SliceScatter


# basic indexing named by the last view op PyTorch's indexing applies (see basic_index_op)
Select = renamed("Select", BasicIndex, "SelectBackward0", "x[int]")
Unsqueezed = renamed("Unsqueezed", BasicIndex, "UnsqueezeBackward0", "x[None]")
Alias = renamed("Alias", BasicIndex, "AliasBackward0", "x[...], x[:]")


def whole_slice(k, n):
    """whether PyTorch's indexing skips slice k of a dim of size n as the whole dim: a start
    of 0 as given (a negative one that clamps to 0 still slices), a step of 1 and a stop at
    or past the end"""
    return k.start in (None, 0) and k.step in (None, 1) and k.indices(n)[1] == n


def index_chain(key, shape):
    """The grad_fn names of the view ops PyTorch's indexing applies for a basic key, in order:
    an int selects, None unsqueezes, a slice short of its whole dim slices; whole slices and
    Ellipsis add nothing. None if the key indexes more dims than shape has."""
    items = key if type(key) is tuple else (key,)
    consuming = sum(1 for k in items if k is not None and k is not Ellipsis)
    if consuming > len(shape):
        return None
    names, d = [], 0
    for k in items:
        if k is Ellipsis:
            d += len(shape) - consuming
        elif k is None:
            names.append("UnsqueezeBackward0")
        elif isinstance(k, slice):
            if not whole_slice(k, shape[d]):
                names.append("SliceBackward0")
            d += 1
        else:
            names.append("SelectBackward0")
            d += 1
    return names


_LAST_VIEW_OP = {"SelectBackward0": Select, "UnsqueezeBackward0": Unsqueezed,
                 "SliceBackward0": BasicIndex}


def basic_index_op(key, shape):
    """The BasicIndex op named as the last view op PyTorch's indexing applies for this key
    (AliasBackward0 where it applies none)"""
    chain = index_chain(key, shape)
    if chain is None:
        return BasicIndex                      # (which raises NumPy's IndexError)
    return _LAST_VIEW_OP[chain[-1]] if chain else Alias


def memory_owner(a):
    """The array that owns a's memory (a itself if it owns it): the base of every view"""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class Region:
    """Where a view's elements sit in its base's memory: an element offset, a shape and byte
    strides, and the base's layout (order: its axes from the outermost in memory in, None for
    C order). region(a) gives the same view of an array a of the base's shape laid out as the
    base (any other is copied so first): how in-place ops on views are differentiated."""
    __slots__ = ("offset", "shape", "strides", "order")

    def __init__(self, offset, shape, strides, order=None):
        self.offset, self.shape, self.strides, self.order = offset, shape, strides, order

    @classmethod
    def of(cls, view, base, any_layout=False):
        """view's region in base, or None where base is not C-contiguous (any_layout: not a
        permutation of a C-contiguous block) or view is not in it"""
        order = None
        if not base.flags.c_contiguous:
            order = _memory_order(base) if any_layout else None
            if order is None:
                return None
        if view.dtype != base.dtype:
            return None
        size = view.dtype.itemsize
        start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        low = start + sum(min(0, s * (n - 1)) for s, n in zip(view.strides, view.shape))
        high = start + sum(max(0, s * (n - 1)) for s, n in zip(view.strides, view.shape))
        if start % size or (view.size and (low < 0 or high + size > base.nbytes)):
            return None
        return cls(start // size, view.shape, view.strides, order)

    def _memory(self, a):
        """a's elements in the base's memory order, as a C-contiguous array (a itself, or a
        transpose of it, where a is laid out as the base)"""
        return np.ascontiguousarray(a if self.order is None else np.transpose(a, self.order))

    def __call__(self, a):
        m = self._memory(a)
        return np.ndarray(self.shape, m.dtype, m, self.offset * m.dtype.itemsize, self.strides)

    def _from_memory(self, m):
        """the C-contiguous m (in the base's memory order) as an array of the base's shape"""
        return m if self.order is None else np.transpose(m, np.argsort(self.order))

    def laid_out(self, a):
        """a copy of a laid out as the base, so that region(copy) is a view into it"""
        return self._from_memory(np.array(self._memory(a), order="C", copy=True))

    def zeros(self, shape, dtype):
        """zeros of shape laid out as the base"""
        order = self.order or range(len(shape))
        return self._from_memory(zeros(tuple(shape[i] for i in order), dtype))

    def mask(self, like):
        """a boolean array of the shape of `like` (laid out as the base), True at the region"""
        m = self.zeros(like.shape, like.dtype)    # the base's itemsize: the strides are bytes
        self(m)[...] = 1
        return m != 0


def _memory_order(a):
    """the axes of a from the outermost in memory in, where a is a permutation of a
    C-contiguous block (a transpose, an F-ordered result), else None"""
    order = tuple(int(i) for i in np.argsort([-s for s in a.strides], kind="stable"))
    return order if np.transpose(a, order).flags.c_contiguous else None


class CopySlices(Op):
    """The base after an in-place op on one of its views wrote `result` into the view's
    region (the caller writes it; forward returns the base's array)   ->   d(base before) =
    g with the region zeroed, d(result) = g at the region"""
    grad_fn_name = "torch::autograd::CopySlices"
    shown_edges = staticmethod(held_op_edges)         # (the in-place op that made result)

    @staticmethod
    def forward(ctx, base, result, region):
        ctx.region = region
        return base

    @staticmethod
    def backward(ctx, g):
        g_base = ctx.region.laid_out(g)
        ctx.region(g_base)[...] = 0
        return g_base, ctx.region(g).copy(), None

    @staticmethod
    def graph_backward(ctx, g):
        return (MaskedFill.apply(g, ctx.region.mask(g._data), 0), ViewOf.apply(g, ctx.region),
                None)


class ViewOf(Op):
    """A view regenerated from its base's new node after an in-place op   ->   d base =
    zeros with g at the view's region"""
    grad_fn_name = "AsStridedBackward0"
    gradient = None          # RegionPlaced (set below)

    @staticmethod
    def forward(ctx, base, region):
        ctx.shape, ctx.key = base.shape, region
        return region(base)

    backward = BasicIndex.__dict__["placed_backward"]     # g placed back by cls.gradient
    graph_backward = BasicIndex.__dict__["graph_backward"]


def region_placed(x, shape, region):
    """zeros of shape with x written at region"""
    y = region.zeros(shape, x.dtype)
    region(y)[...] = x
    return y


class RegionPlaced(_Placed):
    """x written at a region (ViewOf's gradient)"""
    place, take, indexing = staticmethod(region_placed), staticmethod(
        lambda g, region: region(g).copy()), ViewOf


ViewOf.gradient = RegionPlaced


class SplitKey:
    """An index whose ints sit beside index arrays. PyTorch selects the ints first, then
    applies the arrays to the dims left; NumPy broadcasts the ints with the arrays instead
    (x[0, :, [0, 2, 1]] would come out transposed). So the key is applied in two steps: the
    basic one (ints, slices, None; a view, so writes go through), then the advanced one."""
    __slots__ = ("basic", "advanced")

    def __init__(self, items):
        basic, advanced = [], []
        for k in items:
            if isinstance(k, np.ndarray):                 # index arrays: the second step's
                basic += [slice(None)] * (k.ndim if k.dtype.kind == "b" else 1)
                advanced.append(k)
            elif isinstance(k, bool):                      # a new dim, as an index array
                advanced.append(k)
            elif k is None or isinstance(k, slice):        # applied (or added) by the first
                basic.append(k)
                advanced.append(slice(None))
            elif k is Ellipsis:
                basic.append(k)
                advanced.append(k)
            else:                                          # an int: gone after the first
                basic.append(k)
        self.basic, self.advanced = tuple(basic), tuple(advanced)


def at(a, key):
    """a[key], PyTorch's meaning of key (see SplitKey)"""
    if type(key) is SplitKey:
        return view_at(a, key.basic)[key.advanced]
    return a[key]


def put(a, key, v):
    """a[key] = v in place, PyTorch's meaning of key; PyTorch's RuntimeError for a v that
    does not broadcast to the indexed shape"""
    try:
        if type(key) is SplitKey:
            view_at(a, key.basic)[key.advanced] = v
        else:
            a[key] = v
    except (ValueError, TypeError):   # (TypeError: NumPy's for a 2-d value under a mask)
        raise _value_mismatch(a, key, v) from None


def _value_mismatch(a, key, v):
    return RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be "
                        f"broadcast to indexing result of shape {list(at(a, key).shape)}")


class AdvancedIndex(Op):
    """y = x[integer or boolean index arrays] (a copy)   ->   dx = g scatter-added at the key,
    so repeated indices add up"""
    grad_fn_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        y = at(x, key)
        # NumPy lays the indexed dims out first (x[:, idx] came out column-major); PyTorch's
        # result of a row-major x is row-major, so x[:, idx].view(-1) works
        return y.copy() if x.flags.c_contiguous and not y.flags.c_contiguous else y

    backward = BasicIndex.__dict__["placed_backward"]     # g placed back by cls.gradient
    graph_backward = BasicIndex.__dict__["graph_backward"]


def scatter_added(g, shape, key):
    """zeros of shape with g added at an advanced key (repeated indices add up)"""
    gx = zeros(shape, g.dtype)
    dim = _one_axis(key, len(shape))
    if dim is not None:                  # one axis by one integer array: the kernels' index_add_
        idx = key[dim] if type(key) is tuple else key
        B.kernels.index_add_(gx, dim, idx.reshape(-1),
                             g.reshape(shape[:dim] + (idx.size,) + shape[dim + 1:]))
    elif type(key) is SplitKey:
        np.add.at(view_at(gx, key.basic), key.advanced, g)      # adds into gx
    else:
        np.add.at(gx, key, g)
    return gx


def _one_axis(key, ndim):
    """The axis d where key is an integer array indexing axis d alone (x[idx],
    x[:, :, idx], index_select's (slice(None),) * d + (idx,)), else None"""
    if type(key) is not tuple:
        key = (key,)
    if not key:
        return None
    d = len(key) - 1
    idx = key[-1]
    if (type(idx) is np.ndarray and idx.dtype.kind == "i" and d < ndim
            and all(type(k) is slice and k == slice(None) for k in key[:-1])):
        return d
    return None


class IndexAdd(_Placed):
    """x added at an advanced key, repeats adding up (the gradient of indexing and gather)"""
    place, take, indexing = staticmethod(scatter_added), staticmethod(at), AdvancedIndex


AdvancedIndex.gradient = IndexAdd
IndexSelect = renamed("IndexSelect", AdvancedIndex, "IndexSelectBackward0",
                      "index_select(dim, index): x[:, ..., index]")
PackPaddedSequence = renamed("PackPaddedSequence", AdvancedIndex, "PackPaddedSequenceBackward0",
                             "pack_padded_sequence's data: x[step index, batch index] (or the "
                             "reverse, batch first), every real step of every sequence")


def has_index_arrays(key):
    """whether key holds index arrays (integer or boolean), not only ints, slices, None,
    Ellipsis and Python bools"""
    items = key if type(key) is tuple else (key,)
    return type(key) is SplitKey or any(isinstance(k, np.ndarray) for k in items)


def _lead_ones(a, ndim):
    """a with leading size-1 dims up to ndim (a value like v of shape (1, 2) put into two
    elements: its gradient, g at the key, has only the indexed dims)"""
    return a.reshape((1,) * (ndim - a.ndim) + a.shape) if a.ndim < ndim else a


class IndexPut(Op):
    """y = x with y[key] = v   ->   dx = g with zeros at the key, dv = g[key]"""
    grad_fn_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, key, v):
        if isinstance(v, np.ndarray) and v.dtype != x.dtype:
            v = v.astype(x.dtype)
        y = x.copy()
        put(y, key, v)
        ctx.key = key
        ctx.value_ndim = np.ndim(v)     # may exceed the indexed dims by leading 1s
        return y

    @staticmethod
    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            put(gx, ctx.key, 0)
        if ctx.needs_input_grad[2]:
            gv = _lead_ones(at(g, ctx.key), ctx.value_ndim)
        return gx, None, gv

    @staticmethod
    def graph_backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            mask = np.zeros(g.shape, bool)
            put(mask, ctx.key, True)
            if mask.all() and not has_index_arrays(ctx.key):
                # PyTorch writes a view that covers x by fill_ / copy_, whose gradient for x
                # is a zeros tensor outside the graph (a later grad of it gives None)
                gx = constant(np.zeros_like(g._data))
            else:
                gx = MaskedFill.apply(g, mask, 0)
        if ctx.needs_input_grad[2]:
            gv = AdvancedIndex.apply(g, ctx.key)      # g[key] by any key; its gradient adds
            if gv.ndim < ctx.value_ndim:
                gv = gv.reshape(_lead_ones(gv._data, ctx.value_ndim).shape)
        return gx, None, gv


# x[key] = v as PyTorch records it: a view of x first where the key makes one (an int, None,
# a slice short of the whole dim), then a copy into that view (CopySlices on x); else the
# write itself: index_put_ (index arrays), fill_ (a 0-d value) or copy_ into all of x
def index_span(k):
    """how many of a tensor's dims one item of an index consumes (a mask: its dims; None,
    Ellipsis and a Python bool: none)"""
    if k is None or k is Ellipsis or isinstance(k, bool):
        return 0
    return k.ndim if isinstance(k, np.ndarray) and k.dtype.kind == "b" else 1


def checked_index(items, shape):
    """The items of an index (as Tensor's _index_key parses them) checked as PyTorch checks
    them against a tensor of shape, with its IndexErrors (NumPy's name axes and count dims
    otherwise: an int's dim is its position in the key, an index array's its place among the
    index arrays). Returns the items; where the result is empty, with the index arrays
    brought in range (PyTorch checks no element of an empty result, NumPy each)."""
    ndim, spans = len(shape), [index_span(k) for k in items]
    if sum(spans) > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(k is Ellipsis for k in items) > 1:
        return items                              # (NumPy's error; PyTorch takes several)
    d, indexed, arrays = 0, [], []       # indexed: the shape the index arrays then index
    for i, (k, span) in enumerate(zip(items, spans)):
        if k is Ellipsis:
            span = ndim - sum(spans)
        elif k is None:
            indexed.append(1)
        elif isinstance(k, bool) or (isinstance(k, np.ndarray) and k.dtype == np.bool_
                                     and not k.ndim):
            arrays.append((i, len(indexed), np.zeros(int(k), np.int64)))  # a new dim's index
            indexed.append(1)
        elif isinstance(k, slice):
            indexed.append(len(range(*k.indices(shape[d]))))
        elif isinstance(k, np.ndarray):
            arrays.append((i, len(indexed), k))
            indexed += shape[d:d + span]
        elif not -shape[d] <= k < shape[d]:      # an int: selected before any array applies
            raise IndexError(f"index {k} is out of bounds for dimension {i} with size {shape[d]}")
        if k is Ellipsis:
            indexed += shape[d:d + span]
        d += span
    indexed += shape[d:]
    if not arrays:
        return items
    for _, at, k in arrays:
        if k.dtype == np.bool_ and k.ndim:
            for j, (m, n) in enumerate(zip(k.shape, indexed[at:at + k.ndim])):
                if m != n:
                    raise IndexError(f"The shape of the mask {list(k.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor {indexed} at "
                                     f"index {at + j}")
    # one index tensor per indexed dim (a mask: its nonzero positions, one per its dims)
    tensors = []                                   # (item position, indexed dim, shape)
    for i, at, k in arrays:
        if k.dtype == np.bool_ and k.ndim:
            tensors += [(i, at + j, (int(np.count_nonzero(k)),)) for j in range(k.ndim)]
        else:
            tensors.append((i, at, k.shape))
    try:
        common = (tensors[0][2] if len(tensors) == 1 else       # (np.broadcast_shapes: ~1 us)
                  np.broadcast_shapes(*(s for _, _, s in tensors)))
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         "with shapes " + ", ".join(str(list(s)) for _, _, s in tensors)) from None
    if math.prod(common) and not all(indexed[at] for _, at, _ in tensors):
        raise IndexError("index is out of bounds for dimension with size 0")
    ints = [(o, i, indexed[at]) for o, (i, at, _) in enumerate(tensors)
            if isinstance(items[i], np.ndarray) and items[i].dtype != np.bool_ and items[i].size]
    bad = [(o, i, n) for o, i, n in ints if not -n <= items[i].min() <= items[i].max() < n]
    if not bad:
        return items
    dims = {at for _, at, _ in tensors}
    items = list(items)
    if not (math.prod(common) and all(n for j, n in enumerate(indexed) if j not in dims)):
        for _, i, _ in bad:                      # an empty result: any index in range will do
            items[i] = np.zeros_like(items[i])
        return items
    # PyTorch's kernel checks the result's elements in order, each one's indices in order
    out = [((items[i] < -n) | (items[i] >= n), o, i, n) for o, i, n in bad]
    first = min(int(np.argmax(np.broadcast_to(b, common))) for b, _, _, _ in out)
    for b, o, i, n in out:
        if np.broadcast_to(b, common).flat[first]:
            v = int(np.broadcast_to(items[i], common).flat[first])
            raise IndexError(f"index {v} is out of bounds for dimension {o} with size {n}")
    return items


# x[key] = v, named as PyTorch's by key (setitem_op); the edges: x, v (None for a number)
CopySlicesPut = renamed("CopySlicesPut", IndexPut, "torch::autograd::CopySlices",
                        "x[key] = v, key a view", edge_order=(0, 2))
FillPut = renamed("FillPut", IndexPut, "FillBackward3", "x[:] = a 0-d v", edge_order=(0, 2))
CopyPut = renamed("CopyPut", IndexPut, "torch::autograd::CopyBackwards", "x[:] = v",
                  edge_order=(0, 2))
IndexPutSet = renamed("IndexPutSet", IndexPut, "IndexPutBackward0", "x[index arrays] = v",
                      edge_order=(0, 2))


def setitem_op(key, shape, value):
    """the IndexPut op named as PyTorch's x[key] = value (key as _index_key makes it)"""
    if type(key) is SplitKey:               # (ints beside index arrays)
        return CopySlicesPut
    items = key if type(key) is tuple else (key,)
    e = next((i for i, k in enumerate(items) if k is Ellipsis), None)
    front, back = (items, ()) if e is None else (items[:e], items[e + 1:])
    spans = [index_span(k) for k in items]
    back_spans = spans[len(items) - len(back):]
    dims = list(np.cumsum([0] + spans[:len(front)])[:-1]) + \
        list(len(shape) - sum(back_spans) + np.cumsum([0] + back_spans)[:-1])
    arrays = False
    for k, d in zip(front + back, dims):
        if isinstance(k, np.ndarray):
            arrays = True
        elif not isinstance(k, slice) or not whole_slice(k, shape[d]):
            return CopySlicesPut             # an int, None, a bool or a partial slice
    if arrays:
        return IndexPutSet
    return FillPut if np.ndim(value._data if hasattr(value, "_data") else value) == 0 \
        else CopyPut


class Cat(Op):
    """y = cat(xs, dim)   ->   each dx is its slice of g"""
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        out = np.concatenate(xs, axis=dim)
        # PyTorch's layout: the inputs' memory format where they all suggest the same one
        formats = {suggested(x) for x in xs}
        fmt = formats.pop() if len(formats) == 1 else contiguous_format
        return np.ascontiguousarray(out) if fmt is contiguous_format else copy_as(out, fmt)

    @staticmethod
    def backward(ctx, g):
        bounds = np.cumsum(ctx.sizes)[:-1]
        return (None,) + tuple(np.split(g, bounds, axis=ctx.dim))

    @staticmethod
    def graph_backward(ctx, g):
        starts = np.cumsum([0] + ctx.sizes[:-1])
        return (None,) + tuple(g.narrow(ctx.dim, int(s), n) for s, n in zip(starts, ctx.sizes))


class Stack(Op):
    """y = stack(xs, dim)   ->   each dx is its index of g along dim"""
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return np.ascontiguousarray(np.stack(xs, axis=dim))          # C order, as PyTorch

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(np.moveaxis(g, ctx.dim, 0))

    @staticmethod
    def graph_backward(ctx, g):
        return (None,) + tuple(g.movedim(ctx.dim, 0))


# PyTorch's grad_fn names for the same views made by other methods
class SqueezeDim(Squeeze):
    grad_fn_name = "SqueezeBackward1"


class SqueezeDims(Squeeze):
    grad_fn_name = "SqueezeBackward2"


SqueezeInPlace = renamed("SqueezeInPlace", SqueezeDim, "SqueezeBackward4",
                         "squeeze(dim) where PyTorch's graph has squeeze_(dim) (quantile's)")


class TVector(View):
    grad_fn_name = "TBackward0"         # t() of a 0-d or 1-d tensor


# the view ops in place (t_, squeeze_, unsqueeze_: self takes the view), named as PyTorch's
TInPlace = renamed("TInPlace", T, "TBackward1", "t_()")
SqueezeAllInPlace = renamed("SqueezeAllInPlace", Squeeze, "SqueezeBackward3", "squeeze_()")
UnsqueezeInPlace = renamed("UnsqueezeInPlace", Unsqueeze, "UnsqueezeBackward1", "unsqueeze_(d)")


class SplitPart(BasicIndex):
    grad_fn_name = "SplitBackward0"     # chunk and split (the node's output_nr: which part)


SplitWithSizesPart = renamed("SplitWithSizesPart", SplitPart, "SplitWithSizesBackward0",
                             "split(sizes)")
# unsafe_split / unsafe_chunk: the same views, whose in-place changes PyTorch does not refuse
UnsafeSplitPart = renamed("UnsafeSplitPart", SplitPart, "UnsafeSplitBackward0",
                          "unsafe_split(size), unsafe_chunk")
UnsafeSplitWithSizesPart = renamed("UnsafeSplitWithSizesPart", SplitPart,
                                   "UnsafeSplitWithSizesBackward0", "unsafe_split(sizes)")


class UnbindPart(Select):
    grad_fn_name = "UnbindBackward0"


MULTI_VIEW = ("is the output of a function that returns multiple views. Such functions do not "
              "allow the output views to be modified inplace. You should replace the inplace "
              "operation by an out-of-place one.")


def multi_view_part(node):
    """'Output k of Split' for a part of split/chunk/unbind (node its grad_fn), or None"""
    op = getattr(node, "op", None)
    if op is SplitPart or op is SplitWithSizesPart:
        return f"Output {node.output_nr} of {op.grad_fn_name[:-len('Backward0')]}"
    if op is UnbindPart:
        return f"Output {node.key[-1]} of Unbind"
    if op is InvalidView:
        return node.part
    return None


class InvalidView(ViewOf):
    """A part of split/chunk/unbind whose base (or another part) changed in place: PyTorch
    refuses to differentiate through it, as the op cannot regenerate one of several views.
    (PyTorch raises as soon as grad mode uses the part; here its backward raises.)"""
    grad_fn_name = "Invalid"

    @staticmethod
    def forward(ctx, base, region, part):
        ctx.part = part
        return ViewOf.forward(ctx, base, region)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"{ctx.part} is a view and its base or another view of its base has "
                           f"been modified inplace. This view {MULTI_VIEW}")

    graph_backward = backward


def _along(index, dim):
    """index as a full NumPy key: index along dim, the positions themselves elsewhere (a 0-d
    index, of a 0-d tensor, picks its one element)"""
    return along_key(index, dim) if index.ndim else ()


def _one_dim(a):
    """a 0-d array as a 1-element 1-d view of it: PyTorch's gather and scatter size a 0-d
    tensor (self, index or src) as [1]"""
    return a.reshape(1) if not a.ndim else a


class Gather(Op):
    """y[..., i, ...] = x[..., index[..., i, ...], ...] along dim   ->   dx = g scatter-added
    at the index (repeated indices add up)"""
    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, _one_dim(index)  # (a 1-d x, 0-d index)
        if not x.ndim:                       # a 0-d x: each index (all 0) picks its element
            return np.full(index.shape, x)
        return B.kernels.gather(x, dim, ctx.index).reshape(index.shape)

    @staticmethod
    def backward(ctx, g):
        if not ctx.shape:
            return np.asarray(g.sum(), g.dtype), None, None
        gx = zeros(ctx.shape, g.dtype)
        B.kernels.scatter_add_(gx, ctx.dim, ctx.index, g.reshape(ctx.index.shape))
        return gx, None, None

    @staticmethod
    def graph_backward(ctx, g):
        if not ctx.shape:
            return g.sum(), None, None
        key = _along(ctx.index, ctx.dim)
        if g.shape != ctx.index.shape:                # (a 0-d index's 0-d g)
            g = g.reshape(ctx.index.shape)
        return IndexAdd.apply(g, ctx.shape, key), None, None


class SortValues(Gather):
    """sort's values: x gathered at each row's order"""
    grad_fn_name = "SortBackward0"


class TopkValues(SortValues):
    grad_fn_name = "TopkBackward0"


def diagonal_view(a, key):
    """np.diagonal(a, offset, dim1, dim2) for key = (offset, dim1, dim2): the diagonal as the
    last dim, a view that is writable where a is (NumPy marks it read-only; PyTorch's
    diagonal is a view that in-place ops write through)"""
    v = np.diagonal(a, *key)
    if a.flags.writeable:
        v.flags.writeable = True
    return v


class Diagonal(Op):
    """y = x's diagonal at key = (offset, dim1, dim2), as its last dim (a view)   ->   dx =
    zeros with g on that diagonal"""
    is_view = True
    gradient = None          # DiagonalPlaced (set below)

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return diagonal_view(x, key)

    backward = BasicIndex.__dict__["placed_backward"]     # g placed back by cls.gradient
    graph_backward = BasicIndex.__dict__["graph_backward"]


def diagonal_placed(x, shape, key):
    """zeros of shape with x's last dim on the diagonal at key (its other dims on the dims
    of shape that are not key's)"""
    y = zeros(shape, x.dtype)
    diagonal_view(y, key)[...] = x
    return y


class DiagonalPlaced(_Placed):
    """x put on a diagonal of zeros (Diagonal's gradient, and diag_embed)"""
    grad_fn_name = "DiagonalBackwardBackward0"
    place, take, indexing = staticmethod(diagonal_placed), staticmethod(diagonal_view), Diagonal


Diagonal.gradient = DiagonalPlaced
DiagEmbed = renamed("DiagEmbed", DiagonalPlaced, "DiagEmbedBackward0", "diag_embed(x)")


class DiagonalCopy(Diagonal):
    """diag of a matrix: its diagonal as a copy (PyTorch's diagonal_copy), not a view"""
    grad_fn_name = "DiagonalBackward0_copy"
    is_view = False

    @staticmethod
    def forward(ctx, x, key):
        return Diagonal.forward(ctx, x, key).copy()


class Trace(Op):
    """y = the sum of a matrix's diagonal (integers sum to int64)   ->   dx = zeros with g
    on the diagonal"""
    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "b":
            raise NotImplementedError("\"trace\" not implemented for 'Bool'")
        ctx.shape = x.shape
        with np.errstate(all="ignore"):             # np.trace warns from its own module
            return np.asarray(np.trace(x, dtype=None if x.dtype.kind == "f" else np.int64))

    @staticmethod
    def backward(ctx, g):
        n = min(ctx.shape)
        return diagonal_placed(np.broadcast_to(g, (n,)), ctx.shape, (0, 0, 1)),

    @staticmethod
    def graph_backward(ctx, g):
        return DiagonalPlaced.apply(g.expand(min(ctx.shape)), ctx.shape, (0, 0, 1)),


def _src_gradient(node, g_src, src_shape):
    """The gathered gradient of a scatter's src, refused as PyTorch's engine refuses it where
    src is larger than the index (its gradient has the index's shape)"""
    try:
        np.broadcast_to(np.empty(src_shape, bool), g_src.shape)
    except ValueError:
        raise RuntimeError(f"Function {node} returned an invalid gradient at index 1 - got "
                           f"{list(g_src.shape)} but expected shape compatible with "
                           f"{list(src_shape)}") from None
    return g_src


class Scatter(Op):
    """y = x with y[..., index[i], ...] = src[i] along dim (src's leading part of the index's
    shape, or a number)   ->   dx = g with zeros where written, dsrc = g gathered at index"""
    @classmethod
    def forward(cls, ctx, x, dim, index, src):
        # a 0-d x or index works as a 1-element 1-d one (the key then indexes a 1-d view)
        ctx.dim, ctx.index, ctx.key = dim, index, _along(_one_dim(index), dim)
        ctx.src_shape = np.shape(src)
        y = x.copy()
        read = tuple(slice(0, n) for n in _one_dim(index).shape)
        cls._write(_one_dim(y), ctx.key, src[read] if np.ndim(src) else src)
        return y

    @staticmethod
    def _write(y, key, values):
        y[key] = values

    @classmethod
    def backward(cls, ctx, g):
        return cls._grads(ctx, g, False)

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls._grads(ctx, g, True)

    @classmethod
    def _grads(cls, ctx, g, recorded):
        """the gradients as arrays, or (recorded) in Tensor ops for create_graph"""
        gx = g_src = None
        if ctx.needs_input_grad[0]:
            gx = cls._x_gradient(ctx, g, recorded)
        if ctx.needs_input_grad[3]:
            gathered = Gather.apply(g, ctx.dim, ctx.index) if recorded else \
                _one_dim(g)[ctx.key].reshape(ctx.index.shape)
            g_src = _src_gradient(cls.grad_fn_name, gathered, ctx.src_shape)
        return gx, None, None, g_src

    @staticmethod
    def _x_gradient(ctx, g, recorded):
        """g with zeros where written: x's values there reach nothing"""
        if recorded:
            written = np.zeros(g.shape, bool)
            _one_dim(written)[ctx.key] = True
            return MaskedFill.apply(g, written, 0)
        gx = g.copy()
        _one_dim(gx)[ctx.key] = 0
        return gx


ScatterValue = renamed("ScatterValue", Scatter, "ScatterBackward1", "scatter(dim, index, value)")


class ScatterAdd(Scatter):
    """y = x with src[i] added at y[..., index[i], ...] along dim (repeats add up)   ->   dx =
    g, dsrc = g gathered at index"""
    _write = staticmethod(np.add.at)

    @staticmethod
    def _x_gradient(ctx, g, recorded):
        return g


class IndexAddAlong(Op):
    """y = x with alpha * source[..., i, ...] added at x[..., index[i], ...] along dim (repeats
    add up)   ->   dx = g, dsource = alpha * g index_selected at index"""
    grad_fn_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, source, alpha):
        # (a 0-d x: its one element, the index being [0])
        ctx.key, ctx.alpha = (slice(None),) * dim + (index,) if x.ndim else (), alpha
        ctx.source_shape = source.shape
        y = x.copy()
        if y.size:                          # (an empty x: PyTorch adds nothing, anywhere)
            source = source if alpha == 1 else source * alpha
            if x.ndim:
                B.kernels.index_add_(y, dim, index, source)
            else:
                np.add.at(y, ctx.key, source)
        return y

    @staticmethod
    def backward(ctx, g):
        g_source = None
        if ctx.needs_input_grad[3]:
            g_source = (g[ctx.key] if ctx.alpha == 1 else g[ctx.key] * ctx.alpha) if g.size \
                else zeros(ctx.source_shape, g.dtype)
        return g, None, None, g_source, None

    @staticmethod
    def graph_backward(ctx, g):
        g_source = None
        if ctx.needs_input_grad[3]:
            g_source = IndexSelect.apply(g, ctx.key)
            g_source = g_source if ctx.alpha == 1 else g_source * ctx.alpha
        return g, None, None, g_source, None


# ---- more indexing: unfold, take, the *_scatter ops, index_put/index_fill/index_copy ----------
def unfolded(x, dim, size, step):
    """the windows of size elements every step along dim, as a new last dim: a view that
    shares x's memory (writable where x is)"""
    if not x.ndim:
        return x.reshape(1)
    n = (x.shape[dim] - size) // step + 1
    shape = x.shape[:dim] + (n,) + x.shape[dim + 1:] + (size,)
    strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] + \
        (x.strides[dim],)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable,
                                           subok=True)          # (a meta x's stay meta)


def unfold_added(x, shape, dim, size, step):
    """zeros of shape with the windows x (unfolded's) added back where they overlap"""
    y = zeros(shape, x.dtype)
    windows = unfolded(y, dim, size, step)
    for j in range(windows.shape[-1]):         # one offset at a time: no overlaps within
        windows[..., j] += x.reshape(windows.shape)[..., j]
    return y


class Unfold(Op):
    """y = x's windows of size elements every step along dim, as a new last dim (a view)
    ->   dx = g's windows added back where they overlap"""
    is_view = True

    @staticmethod
    def forward(ctx, x, dim, size, step):
        ctx.shape, ctx.args = x.shape, (dim, size, step)
        return unfolded(x, dim, size, step)

    @staticmethod
    def backward(ctx, g):
        return unfold_added(g, ctx.shape, *ctx.args), None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return UnfoldBackward.apply(g, ctx.shape, *ctx.args), None, None, None


class UnfoldBackward(Op):
    """y = zeros of shape with x's windows (unfold's along dim) added back where they overlap
    (Unfold's gradient, recorded for create_graph)   ->   dx = g unfolded again"""
    grad_fn_name = "UnfoldBackwardBackward0"

    @staticmethod
    def forward(ctx, x, shape, dim, size, step):
        ctx.args = dim, size, step
        return unfold_added(x, shape, dim, size, step)

    @staticmethod
    def backward(ctx, g):
        return unfolded(g, *ctx.args).copy(), None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return Unfold.apply(g, *ctx.args), None, None, None, None


class Take(AdvancedIndex):
    """y = x.flatten()[index]   ->   dx = g scatter-added at index, in x's shape (PyTorch's
    node takes x as given: no view of it in the graph)"""
    grad_fn_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, x, index):
        ctx.input_shape = x.shape
        return AdvancedIndex.forward(ctx, x.reshape(-1), index)

    @classmethod
    def backward(cls, ctx, g):
        return cls.gradient.place(g, ctx.shape, ctx.key).reshape(ctx.input_shape), None

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls.gradient.apply(g, ctx.shape, ctx.key).reshape(ctx.input_shape), None


class MaskedSelect(AdvancedIndex):
    """y = x[mask] with x broadcast to the mask's shape   ->   dx = g placed at the mask,
    summed back to x's shape by the engine (PyTorch's node takes x as given: no expand)"""
    grad_fn_name = "MaskedSelectBackward0"

    @staticmethod
    def forward(ctx, x, mask):
        return AdvancedIndex.forward(ctx, np.broadcast_to(x, mask.shape), mask)


class NarrowCopy(BasicIndex):
    """narrow_copy: x's slice as a copy, not a view"""
    grad_fn_name = "NarrowCopyBackward0"
    is_view = False

    @staticmethod
    def forward(ctx, x, key):
        return BasicIndex.forward(ctx, x, key).copy()


IndexFill = renamed("IndexFill", IndexPut, "IndexFillBackward0", "index_fill(dim, i, number)")
IndexFillTensor = renamed("IndexFillTensor", IndexPut, "IndexFillBackward1",
                          "index_fill(dim, i, a 0-d tensor)")
IndexCopy = renamed("IndexCopy", IndexPut, "IndexCopyBackward0", "index_copy(dim, i, source)")
SelectScatter = renamed("SelectScatter", IndexPut, "SelectScatterBackward0",
                        "select_scatter: src written at x.select(dim, i)")
SliceScattered = renamed("SliceScattered", IndexPut, "SliceScatterBackward0",
                         "slice_scatter: src written at a slice of x")


class IndexPutAccumulate(Op):
    """y = x with v added at an index key (repeats add up)   ->   dx = g, dv = g[key]"""
    grad_fn_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, key, v):
        y = x.copy()
        try:
            np.add.at(y, key, np.asarray(v, x.dtype))
        except ValueError:
            raise _value_mismatch(y, key, v) from None
        ctx.key = key
        ctx.value_ndim = np.ndim(v)     # may exceed the indexed dims by leading 1s
        return y

    @staticmethod
    def backward(ctx, g):
        return g, None, (at(g, ctx.key) if ctx.needs_input_grad[2] else None)

    @staticmethod
    def graph_backward(ctx, g):
        gv = None
        if ctx.needs_input_grad[2]:
            gv = AdvancedIndex.apply(g, ctx.key)      # g[key] by any key; its gradient adds
            if gv.ndim < ctx.value_ndim:
                gv = gv.reshape(_lead_ones(gv._data, ctx.value_ndim).shape)
        return g, None, gv


class DiagonalScatter(Op):
    """y = x with src written on its diagonal at key = (offset, dim1, dim2)   ->   dx = g with
    zeros there, dsrc = g's diagonal"""
    @staticmethod
    def forward(ctx, x, src, key):
        y = x.copy()
        diagonal_view(y, key)[...] = src
        ctx.key = key
        return y

    @staticmethod
    def backward(ctx, g):
        gx = g.copy()
        diagonal_view(gx, ctx.key)[...] = 0
        return gx, diagonal_view(g, ctx.key).copy(), None

    @staticmethod
    def graph_backward(ctx, g):
        # PyTorch's: g.diagonal_scatter(zeros_like(src)) and g.diagonal()
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = DiagonalScatter.apply(g, constant(zeros(diagonal_view(g._data, ctx.key).shape,
                                                         g._data.dtype)), ctx.key)
        if ctx.needs_input_grad[1]:
            gs = Diagonal.apply(g, ctx.key)
        return gx, gs, None


class MaskedScatter(Op):
    """y = x with source's first elements (in order) written where mask   ->   dx = g where not
    mask, dsource = g where mask, in source's first elements (zeros after)"""
    @staticmethod
    def forward(ctx, x, mask, source):
        mask = np.broadcast_to(mask, x.shape)
        n = int(mask.sum())
        if source.size < n:
            raise RuntimeError("masked_scatter: expected source to have at least "
                               f"{n} elements, but got {source.size}")
        y = x.copy()
        y[mask] = source.reshape(-1)[:n]
        ctx.mask, ctx.source_shape = mask, source.shape
        return y

    @staticmethod
    def backward(ctx, g):
        mask = ctx.mask
        gs = zeros(ctx.source_shape, g.dtype).reshape(-1)
        gs[:int(mask.sum())] = g[mask]
        return np.where(mask, g.dtype.type(0), g), None, gs.reshape(ctx.source_shape)

    @staticmethod
    def graph_backward(ctx, g):
        # PyTorch's masked_scatter_backward: g[mask], then zeros up to source's size
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = MaskedFill.apply(g, ctx.mask, 0)
        if ctx.needs_input_grad[2]:
            gs = AdvancedIndex.apply(g, ctx.mask)
            rest = int(np.prod(ctx.source_shape)) - gs.shape[0]
            if rest:
                gs = Cat.apply(0, gs, constant(zeros((rest,), g._data.dtype)))
            gs = gs.reshape(ctx.source_shape)
        return gx, None, gs


class Rot90(Op):
    """y = x rotated k quarter turns in the plane of dims (from the first toward the second)
    ->   dx = g rotated back"""
    @staticmethod
    def forward(ctx, x, k, dims):
        ctx.k, ctx.dims = k, dims
        return np.ascontiguousarray(np.rot90(x, k, dims))

    @staticmethod
    def backward(ctx, g):
        return np.rot90(g, -ctx.k, ctx.dims), None, None

    @staticmethod
    def graph_backward(ctx, g):
        return Rot90.apply(g, -ctx.k, ctx.dims), None, None


def check_broadcast(sa, sb):
    """PyTorch's RuntimeError unless shapes sa and sb broadcast (it names the last dim that
    differs)"""
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            raise RuntimeError(f"The size of tensor a ({pa[i]}) must match the size of tensor b "
                               f"({pb[i]}) at non-singleton dimension {i}")


_REDUCE_AT = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
              "amin": np.minimum}


def scatter_reduced(x, dim, index, src, reduce, include_self):
    """x with src reduced into it at index along dim (PyTorch's scatter_reduce forward), and
    the count of values at each place (for "mean")"""
    index = _one_dim(index)                   # (0-d x, index and src work as 1-d ones)
    key = _along(index, dim)
    y = x.copy()
    src = _one_dim(src)[tuple(slice(0, n) for n in index.shape)]
    shape, y = y.shape, _one_dim(y)
    if not include_self:                      # the written places start from the identity
        if reduce in ("amax", "amin"):
            big = np.inf if x.dtype.kind == "f" else (np.iinfo(x.dtype).max if x.dtype.kind in
                                                     "iu" else True)
            y[key] = -big if reduce == "amax" and x.dtype.kind != "b" else \
                (False if reduce == "amax" else big)
        else:
            y[key] = 1 if reduce == "prod" else 0
    _REDUCE_AT[reduce].at(y, key, src)
    count = None
    if reduce == "mean":
        count = np.ones(y.shape, np.int64) if include_self else np.zeros(y.shape, np.int64)
        np.add.at(count, key, 1)
        count = np.maximum(count, 1)
        if y.dtype.kind == "f":
            count = count.astype(y.dtype)      # (an int64 count made float32 results float64)
        y = y / count if y.dtype.kind == "f" else np.floor_divide(y, count).astype(y.dtype)
        count = count.reshape(shape)
    return y.reshape(shape), count


class Refused(Op):
    """y = value (a gradient computed on arrays), recorded on the inputs it came from, where
    PyTorch refuses the derivative: reaching the node raises RuntimeError(message), as
    PyTorch's DelayedError node (named Error)"""
    grad_fn_name = "Error"

    @staticmethod
    def forward(ctx, value, message, *inputs):
        ctx.message = message
        return value

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(ctx.message)

    graph_backward = backward


REPEATED_ZEROS = ("scatter_reduce(): Double backward is unsupported for src when >1 zeros in "
                  "src are scattered to the same position in self")


class ScatterReduce(Op):
    """y = x with src reduced at index along dim (sum, prod, mean, amax, amin; x's own values
    taking part where include_self)   ->   PyTorch's gradients: amax/amin split g evenly
    among the tied values, prod by exclusive products (a single zero exact), and nothing to
    x's written places where not include_self. As PyTorch's, the prod/amax/amin formulas
    compare all of a src larger than the index with values of the index's shape: they
    broadcast (src's unread places get gradients too) or raise its broadcast error."""
    @staticmethod
    def forward(ctx, x, dim, index, src, reduce, include_self):
        y, count = scatter_reduced(x, dim, index, src, reduce, include_self)
        ctx.args = dim, index, reduce, include_self
        ctx.count, ctx.src_shape = count, src.shape
        ctx.save_for_backward(x, src, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, src, y = ctx.saved_tensors
        dim, index, reduce, include_self = ctx.args
        count = ctx.count
        # 0-d as 1-d: PyTorch sizes a 0-d tensor as [1] here, and NumPy's 0-d math gives
        # scalars, which take no keys
        gx, gs = ScatterReduce._grads(_one_dim(g), _one_dim(x), _one_dim(src), _one_dim(y), dim,
                                      _one_dim(index), reduce, include_self,
                                      None if count is None else _one_dim(count))
        gs = gs.reshape(ScatterReduce._src_grad_shape(reduce, index.shape, src.shape))
        return (gx.reshape(g.shape), None, None, _src_gradient(ctx.name(), gs, ctx.src_shape),
                None, None)

    @staticmethod
    def _src_grad_shape(reduce, index_shape, src_shape):
        """PyTorch's src gradient gathers at the index (sum, mean), or broadcasts src with
        values of the index's shape (prod, amax, amin)"""
        return index_shape if reduce in ("sum", "mean") else \
            np.broadcast_shapes(index_shape, src_shape)

    @staticmethod
    def _grads(g, x, src, y, dim, index, reduce, include_self, count):
        key = _along(index, dim)
        read = tuple(slice(0, n) for n in index.shape)         # src's places the forward read
        if reduce == "sum":
            gx, gs = g, g[key]
        elif reduce == "mean":
            gx = g / count
            gs = gx[key]
        elif reduce == "prod":
            masked_x = np.where(x == 0, x.dtype.type(1), x)
            gx = g * scatter_reduced(masked_x, dim, index, src, "prod", include_self)[0] / \
                masked_x
            zero = src == 0
            zeros_at = np.zeros(x.shape, np.int64)
            np.add.at(zeros_at, key, zero[read])
            check_broadcast(src.shape, index.shape)
            single = zero & (zeros_at[key] == 1)
            masked_src = scatter_reduced(x, dim, index, np.where(single, src.dtype.type(1), src),
                                         "prod", include_self)[0]
            gs = np.where(single, (g * masked_src)[key],
                          (g * y)[key] / np.where(zero, src.dtype.type(1), src))
        else:
            value = y[key]
            check_broadcast(src.shape, value.shape)
            x_is, s_is = (x == y).astype(g.dtype), (src == value).astype(g.dtype)
            n = x_is.copy()
            np.add.at(n, key, s_is[read])
            spread = g / n
            gx, gs = x_is * spread, s_is * spread[key]
        if not include_self:
            gx = gx.copy()
            gx[key] = 0
        return gx, gs

    @staticmethod
    def graph_backward(ctx, g):
        # backward's formulas in Tensor ops (PyTorch's scatter_reduce_backward); the masks
        # of ties, zeros and written places are constants
        x, src, y = ctx.saved_for_graph()
        dim, index, reduce, include_self = ctx.args
        shape, src_shape = g.shape, src.shape  # (0-d tensors work as 1-d ones, as in forward)
        g, x, src, y = (t.reshape(1) if not t.ndim else t for t in (g, x, src, y))
        index_shape, index = index.shape, _one_dim(index)
        key = _along(index, dim)
        read = tuple(slice(0, n) for n in index.shape)
        s = src._data
        if reduce == "sum":
            gx, gs = g, Gather.apply(g, dim, index)
        elif reduce == "mean":
            gx = g / constant(_one_dim(ctx.count))
            gs = Gather.apply(gx, dim, index)
        elif reduce == "prod":
            masked_x = MaskedFill.apply(x, x._data == 0, 1)
            gx = g * ScatterReduce.apply(masked_x, dim, index, src, "prod", include_self) / \
                masked_x
            zero = s == 0
            zeros_at = np.zeros(x.shape, np.int64)
            np.add.at(zeros_at, key, zero[read])
            check_broadcast(s.shape, index.shape)
            if (zeros_at > 1).any():      # PyTorch's first order, and its delayed error
                gs = Refused.apply(ScatterReduce.backward(ctx, g._data)[3], REPEATED_ZEROS,
                                   g, src, x)
            else:
                single = zero & (zeros_at[key] == 1)
                masked_src = ScatterReduce.apply(x, dim, index, MaskedFill.apply(src, single, 1),
                                                 "prod", include_self)
                gs = Where.apply(single, Gather.apply(g * masked_src, dim, index),
                                 Gather.apply(g * y, dim, index) / MaskedFill.apply(src, zero, 1))
        else:
            check_broadcast(s.shape, index.shape)
            x_is, s_is = x._data == y._data, s == y._data[key]
            n = x_is.astype(g._data.dtype)
            np.add.at(n, key, s_is[read])
            spread = g / constant(n)
            gx = constant(x_is.astype(n.dtype)) * spread
            gs = constant(s_is.astype(n.dtype)) * Gather.apply(spread, dim, index)
        if not include_self:
            written = np.zeros(x.shape, bool)
            written[key] = True
            gx = MaskedFill.apply(gx, written, 0)
        gs_shape = ScatterReduce._src_grad_shape(reduce, index_shape, src_shape)
        gx, gs = (t if t.shape == want else t.reshape(want) for t, want in ((gx, shape),
                                                                          (gs, gs_shape)))
        return gx, None, None, _src_gradient(ctx.name(), gs, ctx.src_shape), None, None


# ---- as_strided: a view of a tensor's storage in any geometry ---------------------------------
def storage_of(x):
    """(the flat 1-D array of x's dtype over the memory x lives in, x's first element's offset
    in it)"""
    flat, offset = byte_view(x)
    item = x.itemsize
    if offset % item:
        raise NotImplementedError("cgrad addresses a tensor's storage in elements of its dtype "
                                  "only where its first element is a whole number of them "
                                  "from the storage's start (this tensor's is not)")
    return flat[:flat.size - flat.size % item].view(x.dtype), offset // item


def _flat_indices(shape, strides, offset):
    """the storage index of each element of a (shape, strides, offset) geometry"""
    idx = np.full(shape, offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, strides)):
        idx += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - d - 1))
    return idx


class AsStrided(Op):
    """y = the elements of x's storage at offset + sum(i_k stride_k)   ->   PyTorch's
    as_strided_backward: g added (overlaps sum) into a zero storage, which x's geometry reads,
    divided by how many of x's elements share each place where x's geometry overlaps"""
    is_view = True

    @staticmethod
    def forward(ctx, x, size, stride, offset):
        storage, x_offset = storage_of(x)
        offset = x_offset if offset is None else offset
        if any(s < 0 for s in stride):
            raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, "
                               f"got strides: {list(stride)}")
        view = strided_view(storage, x.dtype, offset, size, stride)
        ctx.geometry = (x.shape, tuple(s // x.itemsize for s in x.strides), x_offset,
                        size, stride, offset)
        return view

    @staticmethod
    def backward(ctx, g):
        x_shape, x_strides, x_offset, size, stride, offset = ctx.geometry
        out_idx = _flat_indices(size, stride, offset).ravel()
        in_idx = _flat_indices(x_shape, x_strides, x_offset).ravel()
        n = int(max(out_idx.max(initial=-1), in_idx.max(initial=-1))) + 1
        buf = np.zeros(n, g.dtype)
        np.add.at(buf, out_idx, g.ravel())
        count = np.bincount(in_idx, minlength=n)
        if (count > 1).any():                      # x's own elements overlap (expanded x)
            buf = np.divide(buf, count, out=np.zeros_like(buf), where=count > 0)
        return buf[in_idx].reshape(x_shape), None, None, None


AsStridedInPlace = renamed("AsStridedInPlace", AsStrided, "AsStridedBackward1",
                           "x.as_strided_(size, stride, offset): AsStrided, in place")
