"""The ops behind nn layers that composition would make wrong or slow: embedding lookup (its
gradient skips padding_idx and may be scaled by frequency), im2col / col2im (Unfold /
Fold) of any number of spatial dims, the sliding windows that the pools are composed from,
Convolution (plain and transposed) and MaxPool (each one op over those windows),
KeepsInput, which ties a composed layer's recorded input gradient
to its input as PyTorch's fused layers do, GroupNorm, LayerNorm and BatchNorm (one op
each, forward and backward by the backends' norm kernels), Resample2d, F.interpolate's separable resize
by a weight matrix per dim (bicubic, antialiased), and F.affine_grid / F.grid_sample's
AffineGridGenerator and GridSampler (a gather of weighted taps, its gradient a scatter-add)."""
import itertools
import math

import numpy as np

from .. import backends as B
from ..autograd.function import Op, constant, renamed
from .._memory import zeros
from .._memory_format import copy_as
from ..backends.numpy_backend import _fma, conv_output_size  # noqa: F401 (functional's)
from ..backends.numpy_backend import _transposed_geometry as transposed_geometry
from .shape import AdvancedIndex  # noqa: F401 (also F.pad's circular mode)


class Embedding(Op):
    """y = w[idx]   ->   dw = g rows added at idx (scaled by 1 / count where
    scale_grad_by_freq), nothing at padding_idx"""
    grad_fn_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, w, idx, padding_idx, scale_grad_by_freq):
        ctx.idx, ctx.shape = idx, w.shape
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return np.take(w, idx, axis=0)

    @staticmethod
    def row_weights(ctx, dtype):
        """each looked-up row's share of its gradient: 0 at padding_idx, 1 / count of its
        index in the batch where scale_grad_by_freq, else 1 (None where all are 1)"""
        flat = ctx.idx.reshape(-1)
        if ctx.padding_idx < 0 and not ctx.scale:
            return None
        share = np.ones(flat.shape, dtype)
        if ctx.scale:
            share /= np.bincount(flat, minlength=ctx.shape[0])[flat]
        share[flat == ctx.padding_idx] = 0
        return share[:, None]

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(-1, ctx.shape[1])
        share = Embedding.row_weights(ctx, g.dtype)
        gw = zeros(ctx.shape, g.dtype)
        B.kernels.index_add_(gw, 0, ctx.idx.reshape(-1), g if share is None else g * share)
        return gw, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        g = g.reshape(-1, ctx.shape[1])
        share = Embedding.row_weights(ctx, g._data.dtype)
        if share is not None:
            g = g * constant(share)
        gw = constant(zeros(ctx.shape, g._data.dtype))
        return gw.index_add(0, constant(ctx.idx.reshape(-1)), g), None, None, None


class EmbeddingBag(Op):
    """y[b] = the sum (times per-sample weights psw), mean or max of the rows w[idx[i]] over
    the elements i with bag[i] == b (bag[i] = -1: in no bag, e.g. padding; bags are runs of
    ascending bag numbers, some empty, which give zeros)   ->   dw = each element's g[bag]
    added at its row (times its psw, / its bag's count for mean, / its index's count in the
    batch where scale_grad_by_freq); for max, g added at the argmax row of each column;
    dpsw[i] = g[bag[i]] . w[idx[i]] (0 outside bags)"""
    grad_fn_name = "EmbeddingBagBackward0"
    edge_order = (0, 1)             # PyTorch's node: weight, per_sample_weights (None or not)

    @staticmethod
    def forward(ctx, w, psw, idx, bag, n_bags, mode, scale_grad_by_freq):
        k = np.flatnonzero(bag >= 0)                  # the elements in some bag, in order
        rows, bk = idx[k], bag[k]
        ctx.idx, ctx.bag, ctx.k, ctx.shape = idx, bag, k, w.shape
        ctx.mode, ctx.scale, ctx.argmax = mode, scale_grad_by_freq, None
        ctx.save_for_backward(w, psw)
        out = zeros((n_bags, w.shape[1]), w.dtype)
        if not k.size:
            return out
        # the first element of each non-empty bag: reduceat adds row after row, in order
        starts = np.flatnonzero(np.r_[True, bk[1:] != bk[:-1]])
        full = bk[starts]                             # the non-empty bags
        vals = np.take(w, rows, axis=0)
        if mode == "max":
            # PyTorch's running max keeps a value until a greater one comes: a NaN counts
            # only as a bag's first element (which then stays), so the others become -inf
            nan = np.isnan(vals)
            if nan.any():
                nan[starts] = False
                vals[nan] = -np.inf
            out[full] = np.maximum.reduceat(vals, starts, axis=0)
            # per column, the first element reaching its bag's max (a NaN only where first)
            hit = (vals == out[bk]) | np.isnan(vals)
            first = np.where(hit, np.arange(k.size)[:, None], k.size)
            ctx.argmax = rows[np.minimum.reduceat(first, starts, axis=0)], full
            return out
        if psw is not None:
            vals *= psw[k][:, None]
        out[full] = np.add.reduceat(vals, starts, axis=0)
        if mode == "mean":                            # PyTorch divides the sum by the count
            out[full] /= np.diff(np.r_[starts, k.size]).astype(w.dtype)[:, None]
        return out

    @staticmethod
    def backward(ctx, g):
        w, psw = ctx.saved_tensors
        k = ctx.k
        rows = ctx.idx[k]
        gw = gpsw = None
        if ctx.needs_input_grad[0]:
            gw = zeros(ctx.shape, g.dtype)
            if ctx.mode == "max":
                if ctx.argmax is not None:
                    at, full = ctx.argmax
                    np.add.at(gw, (at, np.arange(ctx.shape[1])), g[full])
            elif k.size:
                share = np.ones(k.size, g.dtype)      # each element's share of g[bag]
                if psw is not None:
                    share *= psw[k]
                if ctx.scale:                         # counted over the whole input
                    share /= np.bincount(ctx.idx, minlength=ctx.shape[0])[rows]
                if ctx.mode == "mean":
                    share /= np.bincount(ctx.bag[k])[ctx.bag[k]]
                np.add.at(gw, rows, g[ctx.bag[k]] * share[:, None])
        if ctx.needs_input_grad[1]:
            gpsw = zeros(ctx.idx.shape, g.dtype)
            if k.size:
                gpsw[k] = np.einsum("ij,ij->i", g[ctx.bag[k]], np.take(w, rows, axis=0))
        return gw, gpsw, None, None, None, None, None


class Unfold(Op):
    """x (N, C, *S) -> columns (N, C * prod(kernel), L), S of any number of spatial dims: each
    window of the input (padded with pad_value; pad is a (before, after) pair per spatial
    dim) as a column, in PyTorch's im2col layout (F.unfold), so that a convolution is the
    weight times them   ->   dx = the columns' gradient folded back (Fold)."""
    grad_fn_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, kernel, dilation, pad, stride, pad_value):
        if ctx is not None:                   # (None: called as Fold's backward)
            ctx.args = (x.shape[2:], kernel, dilation, pad, stride)
        return B.kernels.unfold(x, kernel, dilation, pad, stride, pad_value)

    @staticmethod
    def backward(ctx, g):
        return Fold.forward(None, g, *ctx.args), None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return Fold.apply(g, *ctx.args), None, None, None, None, None


class ConstantPad(Op):
    """y = a new array of shape filled with value, in memory format fmt (None: row-major),
    y[dst] = x[src] (F.pad's constant mode by `pad`; src crops where a pad is negative)
    ->   dx = g[dst] at src, zeros elsewhere: F.pad of g by -pad, as PyTorch records it"""

    @staticmethod
    def forward(ctx, x, shape, src, dst, value, fmt, pad):
        y = np.full(shape, value, x.dtype)
        if fmt is not None:
            y = copy_as(y, fmt)
        kept = x[src]
        y[dst] = kept
        ctx.x_shape, ctx.src, ctx.dst, ctx.pad = x.shape, src, dst, pad
        ctx.cropped = kept.shape != x.shape
        return y

    @staticmethod
    def backward(ctx, g):
        if not ctx.cropped:
            gx = g[ctx.dst]
        else:
            gx = np.zeros(ctx.x_shape, g.dtype)
            gx[ctx.src] = g[ctx.dst]
        return gx, None, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        from ..nn.functional import pad
        return pad(g, tuple(-p for p in ctx.pad)), None, None, None, None, None, None


class Fold(Op):
    """columns (N, C * prod(kernel), L) -> (N, C, *size): each column's values added back at
    its window's positions (the padding cropped), the adjoint of Unfold (PyTorch's col2im,
    F.fold)   ->   dcols = Unfold(g)"""
    grad_fn_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, size, kernel, dilation, pad, stride):
        if ctx is not None:                   # (None: called as Unfold's backward)
            ctx.args = (kernel, dilation, pad, stride)
        return B.kernels.fold(cols, size, kernel, dilation, pad, stride)

    @staticmethod
    def backward(ctx, g):
        return Unfold.forward(None, g, *ctx.args, 0), None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        return Unfold.apply(g, *ctx.args, 0), None, None, None, None, None


class MaxPool(Op):
    """(values, indices) = each window's pick of x (N, C, *S) as (N C, L) rows, indices flat
    in prod(S) (B.kernels.max_pool: the first maximum or the last NaN, as PyTorch's max
    pools; the padding never wins)   ->   dx = g added at each window's pick. (Its node is
    never shown: the pool's output is functional's LayerOutput, named as PyTorch's.)"""
    multi_output = True

    @staticmethod
    def forward(ctx, x, kernel, stride, dilation, pad, low):
        n, c, *sizes = x.shape
        values, idx = B.kernels.max_pool(x.reshape(n * c, *sizes), kernel, dilation, pad,
                                         stride, low)
        ctx.x_shape = x.shape
        ctx.idx, ctx.outside = idx, bool(idx.size) and idx.min() < 0
        return values, idx          # (shared: a caller handing them out copies them)

    @staticmethod
    def _picks(ctx):
        """the indices the gradient goes to, and where it goes nowhere (windows with no
        element inside x: index -1), or None"""
        if not ctx.outside:
            return ctx.idx, None
        return np.maximum(ctx.idx, 0), ctx.idx < 0

    @staticmethod
    def backward(ctx, g):
        # (added into zeros: g lands as put there, but a -0.0 as +0.0)
        idx, nowhere = MaxPool._picks(ctx)
        g = g.reshape(idx.shape) if nowhere is None else np.where(nowhere, 0, g.reshape(idx.shape))
        dx = B.kernels.scatter_add_(zeros((idx.shape[0], math.prod(ctx.x_shape[2:])), g.dtype),
                                    1, idx, g)
        return dx.reshape(ctx.x_shape), None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        # the same additions as ops, so every order of gradient comes from them
        idx, nowhere = MaxPool._picks(ctx)
        g = g.reshape(idx.shape)
        if nowhere is not None:
            g = g.masked_fill(constant(nowhere), 0)
        dx = constant(zeros((idx.shape[0], math.prod(ctx.x_shape[2:])), g._data.dtype))
        return dx.scatter_add(1, constant(idx), g).reshape(ctx.x_shape), None, None, None, \
            None, None


class Convolution(Op):
    """y = the cross-correlation of x (N, C, *S) with w (O, C / groups, *kernel), plus b
    where given (pad a (before, after) pair per spatial dim); or, given output_padding, its
    adjoint in x (the transposed convolution of x (N, C_in, *S) with w (C_in, C_out / groups,
    *kernel)). One op, as PyTorch's convolution: it saves x and w, not the windows, K times x
      ->   conv: dx = the windows' gradient w^T g folded back (col2im), dw = the sum over the
    images of g times their windows^T; transposed: dx = the convolution of g with w, dw =
    that convolution's weight gradient given x; db = g summed over all but its channels"""
    returns_fresh = True

    @staticmethod
    def forward(ctx, x, w, b, stride, pad, dilation, groups, output_padding=None):
        ctx.save_for_backward(x, w)
        ctx.args = (stride, pad, dilation, groups)
        ctx.output_padding = output_padding
        if output_padding is None:
            return B.kernels.conv(x, w, b, *ctx.args)
        return B.kernels.conv_transpose(x, w, b, *ctx.args, output_padding)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if ctx.output_padding is None:
            grads = B.kernels.conv_backward(x, w, g, *ctx.args, *needs)
        else:
            grads = B.kernels.conv_transpose_backward(x, w, g, *ctx.args, ctx.output_padding,
                                                      *needs)
        return (*grads, None, None, None, None, None)

    @staticmethod
    def graph_backward(ctx, g):
        """create_graph: the convolution composed of ops (its windows, a product) run again
        on x and w and differentiated, so every order of gradient comes from their ops"""
        from ..autograd import grad
        from ..autograd.grad_mode import enable_grad
        from ..nn.functional import _composed_conv, _composed_conv_transpose
        x, w = ctx.saved_for_graph(0, 1)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        wanted = [t for t, need in ((x, need_x), (w, need_w)) if need]
        grads = []
        if ctx.output_padding is not None and min(transposed_geometry(
                x.shape[2:], w.shape[2:], *ctx.args[:3], ctx.output_padding)[2]) < 0:
            # no window reaches the output: zeros, which depend (with derivative zero) on g
            # and on w (dx) or x (dw), as PyTorch's convolutions of them that give the zeros
            grads = [Tie.apply(Tie.apply(constant(zeros(t.shape, t._data.dtype)), other), g)
                     for t, other, need in ((x, w, need_x), (w, x, need_w)) if need]
        elif wanted:
            with enable_grad():
                if ctx.output_padding is None:
                    out = _composed_conv(x, w, None, *ctx.args)
                else:
                    stride, pad, dilation, groups = ctx.args
                    out = _composed_conv_transpose(x, w, None, stride, pad, ctx.output_padding,
                                                   groups, dilation)
            grads = list(grad(out, wanted, g, create_graph=True, allow_unused=True))
        dx = grads.pop(0) if need_x else None
        dw = grads.pop(0) if need_w else None
        db = g.sum((0, *range(2, g.ndim))) if need_b else None
        return dx, dw, db, None, None, None, None, None


class Tie(Op):
    """y = gx, a layer's recorded input gradient, tied to the layer's input x with derivative
    zero: PyTorch's backward of a fused layer (max_pool2d's, conv2d's, ...) takes that input,
    so its gradient requires grad wherever the input does, and a second backward reaches
    the input: with zeros where the layer is piecewise linear in it (the pools' formulas),
    with nothing where it is linear in it (conv's and batch_norm's double backward leave
    that gradient undefined: x.grad stays None)   ->   dgx = g, dx = 0 or none"""
    gives_zeros = True

    @staticmethod
    def forward(ctx, gx, x):
        ctx.x_meta = (x.shape, x.dtype)
        return gx.copy()

    @classmethod
    def backward(cls, ctx, g):
        return g, zeros(*ctx.x_meta) if cls.gives_zeros and ctx.needs_input_grad[1] else None

    @classmethod
    def graph_backward(cls, ctx, g):
        return g, (constant(zeros(*ctx.x_meta)) if cls.gives_zeros and ctx.needs_input_grad[1]
                   else None)


def tie(grad_fn_name, gives_zeros=True):
    """Tie, printed as the grad_fn PyTorch's gradient of that layer has"""
    return renamed("Tie" + grad_fn_name, Tie, grad_fn_name, Tie.__doc__,
                   gives_zeros=gives_zeros)


class LayerOutput(Op):
    """y = x as a new array of shape, C-contiguous or in the memory format fmt: the last step
    of a layer composed of several ops, renamed (layer_output) to print the grad_fn of
    PyTorch's fused layer   ->   dx = g reshaped back. The layer's inputs follow fmt: the node
    lists them as its next_functions (edge_order), as PyTorch's fused node does, where x's
    own node would show the composition; its gradients flow through x alone."""

    fresh = False          # x is an array the layer just made and drops: no copy
    edge_order = (3,)      # the layer's inputs (layer_output sets how many)
    hook_edges = (0,)      # (a post hook gets and replaces the gradient they all flow through)

    @classmethod
    def forward(cls, ctx, x, shape, fmt=None, *inputs):
        ctx.shape = x.shape
        y = np.reshape(x, shape)
        if fmt is not None:
            return copy_as(y, fmt)
        if not y.flags.c_contiguous or (not cls.fresh and np.may_share_memory(y, x)):
            y = y.copy()
        return y

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),) + (None,) * (len(ctx.parents) - 1)

    graph_backward = backward


def layer_output(grad_fn_name, fresh=False, edges=1, base=LayerOutput, prefix="Output"):
    """base (LayerOutput, or RefusingOutput), printed as grad_fn_name, its node showing edges
    to the layer's `edges` inputs (its arguments after the third)"""
    return renamed(prefix + grad_fn_name, base, grad_fn_name, base.__doc__, fresh=fresh,
                   edge_order=tuple(range(3, 3 + edges)))


class RefusingOutput(LayerOutput):
    """a layer's LayerOutput where PyTorch's backward refuses the gradient (an empty output of
    an adaptive pool or of max_unpool; its forward gives the empty result)   ->   RuntimeError
    with the message given (renamed per layer by functional); the layer's inputs follow it"""

    @classmethod
    def forward(cls, ctx, x, shape, message, *inputs):
        ctx.message = message
        return super().forward(ctx, x, shape)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(ctx.message)

    graph_backward = backward


def refusing_output(grad_fn_name, edges=1):
    """RefusingOutput, printed as grad_fn_name, its node showing edges to `edges` inputs"""
    return layer_output(grad_fn_name, edges=edges, base=RefusingOutput, prefix="Refusing")


class KeepsInput(Op):
    """y = x, the entry of a layer composed of several ops: its recorded backward ties the
    input's gradient to the input (tie: a renamed Tie), as PyTorch's fused layer's does
    ->   dx = g. A view of x with x's version counter: an in-place change of x after the
    forward raises at the backward where the composition saved y, as PyTorch's layer does
    where it saved x."""
    is_view = True

    @staticmethod
    def forward(ctx, x, tie):
        ctx.save_for_backward(x)
        ctx.tie = tie
        return x.view()

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors           # (checks x's version: PyTorch's layer saved x)
        return g, None

    @staticmethod
    def graph_backward(ctx, g):
        x, = ctx.saved_for_graph(0)
        return ctx.tie.apply(g, x), None


class KeepsBias(KeepsInput):
    """KeepsInput for an input PyTorch's fused layer does not save (a bias): nothing saved, so
    no version check; the tie's edge is made from the node's own"""

    @staticmethod
    def forward(ctx, x, tie):
        ctx.x_meta = (x.shape, x.dtype)
        ctx.tie = tie
        return x.view()

    @staticmethod
    def graph_backward(ctx, g):
        shape, dtype = ctx.x_meta
        stand_in = constant(np.broadcast_to(np.zeros((), dtype), shape))   # (only its meta)
        return ctx.tie.apply(g, ctx._on_edge(stand_in, ctx.parents[0])), None


class GroupNorm(Op):
    """y = (x - mean) * rstd * w + b, x seen as a grid of (rows, cols), each row normalised
    (rstd = 1 / sqrt(biased var + eps)), w and b per channel as B.kernels.group_norm lays
    them out (layer_norm: one group, a channel per element)   ->   dx = rstd (u - mean(u) -
    xhat mean(u xhat)) with u = g w and xhat the normalised x; dw = sum of g xhat, db = sum
    of g, over the rows and spatial positions of each channel. PyTorch's
    NativeGroupNormBackward0 (NativeLayerNorm: LayerNorm below), its output in the memory
    format fmt (None: row-major)."""
    grad_fn_name = "NativeGroupNormBackward0"
    saved_names = ("input", "weight")
    edge_order = (0, 1, 2)          # next_functions as PyTorch's: None for a missing w or b
    returns_fresh = True

    @classmethod
    def forward(cls, ctx, x, w, b, grid, groups, spatial, eps, fmt=None):
        cls._save(ctx, x, w, b)
        ctx.layout = grid, groups, spatial, eps
        ctx.b_shape = None if b is None else b.shape
        if not grid[1]:                 # rows of nothing: no statistics, an empty result
            ctx.stats = None
            return np.empty(x.shape, x.dtype)
        y, *ctx.stats = B.kernels.group_norm(x.reshape(grid), _flat(w), _flat(b), groups,
                                             spatial, eps)
        y = y.reshape(x.shape)
        return y if fmt is None else copy_as(y, fmt)

    @staticmethod
    def _save(ctx, x, w, b):
        ctx.save_for_backward(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors[:2]
        grid, groups, spatial, _ = ctx.layout
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if ctx.stats is None:
            dx, dw, db = (np.zeros(x.shape, x.dtype), None if w is None else np.zeros_like(w),
                          None if ctx.b_shape is None else np.zeros(ctx.b_shape, x.dtype))
        else:
            dx, dw, db = B.kernels.group_norm_backward(
                x.reshape(grid), g.reshape(grid), _flat(w), *ctx.stats, groups, spatial,
                need_x, need_w, need_b)
        return (dx.reshape(x.shape) if need_x else None, dw.reshape(w.shape) if need_w else None,
                db.reshape(ctx.b_shape) if need_b else None) + (None,) * 5

    @staticmethod
    def graph_backward(ctx, g):
        x, w = ctx.saved_for_graph(0, 1)
        (rows, cols), groups, spatial, eps = ctx.layout
        xr, gr = x.reshape(rows, cols), g.reshape(rows, cols)
        channels = cols // spatial if spatial else 0
        by_channel = (rows // groups, groups, channels, spatial)
        xhat, rstd = _graph_normalized(xr, 1, eps)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_x:
            u = gr if w is None else (gr.reshape(by_channel)
                                      * w.reshape(groups, channels, 1)).reshape(rows, cols)
            dx = (rstd * _graph_projected(u, xhat, 1)).reshape(x.shape)
        if need_w:
            dw = (gr * xhat).reshape(by_channel).sum((0, 3)).reshape(w.shape)
        if need_b:
            db = gr.reshape(by_channel).sum((0, 3)).reshape(ctx.b_shape)
        return (dx, dw, db) + (None,) * 5


class LayerNorm(GroupNorm):
    """GroupNorm over rows of the normalized_shape's elements, w and b of that shape: PyTorch's
    NativeLayerNormBackward0, which saves the bias too (an in-place change of it raises at
    the backward)"""
    grad_fn_name = "NativeLayerNormBackward0"
    saved_names = ("input", "weight", "bias")

    @staticmethod
    def _save(ctx, x, w, b):
        ctx.save_for_backward(x, w, b)


class BatchNorm(Op):
    """y = (x - mean) * rstd * w + b per channel of x seen as (N, C, S), mean and rstd given
    (the batch's in training, the running ones in evaluation)   ->   with xhat the normalised
    x and k = w rstd: dw = sum of g xhat, db = sum of g per channel; dx = k (g - mean(g) -
    xhat mean(g xhat)) in training, g k in evaluation. PyTorch's NativeBatchNormBackward0,
    its output in the memory format fmt (None: row-major)."""
    grad_fn_name = "NativeBatchNormBackward0"
    saved_names = ("input", "weight")
    edge_order = (0, 1, 2)
    returns_fresh = True

    @staticmethod
    def forward(ctx, x, w, b, mean, rstd, training, eps, fmt=None):
        ctx.save_for_backward(x, w)
        ctx.stats, ctx.training, ctx.eps = (mean, rstd), training, eps
        ctx.grid = (x.shape[0], x.shape[1], x.size // (x.shape[0] * x.shape[1]))
        y = B.kernels.batch_norm(x.reshape(ctx.grid), mean, rstd, _flat(w), _flat(b))
        y = y.reshape(x.shape)
        return y if fmt is None else copy_as(y, fmt)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = B.kernels.batch_norm_backward(
            x.reshape(ctx.grid), g.reshape(ctx.grid), *ctx.stats, _flat(w), ctx.training,
            need_x, need_w, need_b)
        return (dx.reshape(x.shape) if need_x else None, dw.reshape(w.shape) if need_w else None,
                db if need_b else None) + (None,) * 5

    @staticmethod
    def graph_backward(ctx, g):
        x, w = ctx.saved_for_graph(0, 1)
        N, C, S = ctx.grid
        x3, g3 = x.reshape(ctx.grid), g.reshape(ctx.grid)
        if ctx.training:
            xhat, rstd = _graph_normalized(x3, (0, 2), ctx.eps)
        else:
            mean, rstd = (constant(s.reshape(1, C, 1)) for s in ctx.stats)
            xhat = (x3 - mean) * rstd
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_x:
            k = rstd if w is None else rstd * w.reshape(1, C, 1)
            dx = (k * _graph_projected(g3, xhat, (0, 2)) if ctx.training
                  else g3 * k).reshape(x.shape)
        if need_w:
            dw = (g3 * xhat).sum((0, 2)).reshape(w.shape)
        if need_b:
            db = g3.sum((0, 2))
        # each ends in PyTorch's double-backward node, whose edges reach the input, the weight
        # and the bias (through it: no gradient)
        stand_in = constant(np.broadcast_to(np.zeros((), x._data.dtype), (C,)))
        return tuple(None if d is None else _BATCH_NORM_TIE.apply(d, leaf) for d, leaf in
                     ((dx, x), (dw, w), (db, ctx._on_edge(stand_in, ctx.parents[2])))) + (
            None,) * 5


_BATCH_NORM_TIE = tie("NativeBatchNormBackwardBackward0", gives_zeros=False)


def _flat(param):
    """a norm's weight or bias as the kernels take it: flat, or None"""
    return None if param is None else param.reshape(-1)


def _graph_normalized(x, dims, eps):
    """(xhat, rstd) of Tensor x over dims, recorded (create_graph): a norm's statistics taken
    again, as functions of x"""
    centered = x - x.mean(dims, keepdim=True)
    rstd = ((centered * centered).mean(dims, keepdim=True) + eps).rsqrt()
    return centered * rstd, rstd


def _graph_projected(u, xhat, dims):
    """u - mean(u) - xhat mean(u xhat) over dims, recorded: the part of u that a
    normalisation's input gradient keeps (times rstd)"""
    return u - u.mean(dims, keepdim=True) - xhat * (u * xhat).mean(dims, keepdim=True)


def _resample(x, wh, ww):
    """wh @ x @ ww^T over x's last two dims (a None weight: that dim kept), computed in the
    weights' dtype (float32 for a float16 x, as PyTorch's opmath) and returned in x's"""
    y = x
    if ww is not None:
        y = np.matmul(y, ww.T)
    if wh is not None:
        y = np.matmul(wh, y)
    if y is x:
        return x.copy()
    return y if y.dtype == x.dtype else y.astype(x.dtype)


class Resample2d(Op):
    """y = wh @ x @ ww^T: x (N, C, H, W) resized along its last two dims by the per-dim
    weights of a separable filter, wh (H', H) and ww (W', W) (None: that dim kept), the
    width first as PyTorch's kernels   ->   dx = wh^T @ g @ ww: the op is linear in x, so its
    recorded backward is the same op with the weights transposed (adjoint)"""
    adjoint = None          # set on the renamed pairs below

    @staticmethod
    def forward(ctx, x, wh, ww):
        ctx.weights = (wh, ww)
        return _resample(x, wh, ww)

    @staticmethod
    def transposed(ctx):
        return tuple(None if w is None else w.T for w in ctx.weights)

    @staticmethod
    def backward(ctx, g):
        return _resample(g, *Resample2d.transposed(ctx)), None, None

    @classmethod
    def graph_backward(cls, ctx, g):
        return cls.adjoint.apply(g, *cls.transposed(ctx)), None, None


class ResizeLinear(Op):
    """y[.., j, ..] = x[.., i0[j], ..] w0[j] + x[.., i1[j], ..] w1[j] along axis, taps = (i0,
    i1, w0, w1) (F.interpolate's linear modes, one dim at a time)   ->   dx = g w0 added at
    i0 plus g w1 added at i1. Linear in x: the recorded backward is the adjoint op, whose
    own is this one."""
    returns_fresh = True

    @staticmethod
    def forward(ctx, x, axis, taps):
        ctx.axis, ctx.size, ctx.taps = axis, x.shape[axis], taps
        return B.kernels.resize_linear(x, axis, *taps)

    @staticmethod
    def backward(ctx, g):
        return B.kernels.resize_linear_backward(g, ctx.axis, ctx.size, *ctx.taps), None, None

    @staticmethod
    def graph_backward(ctx, g):
        return ResizeLinearAdjoint.apply(g, ctx.axis, ctx.size, ctx.taps), None, None


class ResizeLinearAdjoint(Op):
    """ResizeLinear's backward as an op (for gradients of every order): y = the g w0 of each
    tap added at i0 plus g w1 added at i1, along an axis of size   ->   dg = ResizeLinear"""
    returns_fresh = True

    @staticmethod
    def forward(ctx, g, axis, size, taps):
        ctx.axis, ctx.taps = axis, taps
        return B.kernels.resize_linear_backward(g, axis, size, *taps)

    @staticmethod
    def backward(ctx, gg):
        return B.kernels.resize_linear(gg, ctx.axis, *ctx.taps), None, None, None

    @staticmethod
    def graph_backward(ctx, gg):
        return ResizeLinear.apply(gg, ctx.axis, ctx.taps), None, None, None


def _resample_pair(name):
    """the forward op printed as PyTorch's Upsample<name>Backward0, and its adjoint (the
    gradient's recorded op) as Upsample<name>BackwardBackward0"""
    doc = f"F.interpolate's {name} resize: {Resample2d.__doc__}"
    op = renamed(f"Upsample{name}", Resample2d, f"Upsample{name}Backward0", doc)
    adj = renamed(f"Upsample{name}Adjoint", Resample2d, f"Upsample{name}BackwardBackward0", doc)
    op.adjoint, adj.adjoint = adj, op
    return op


# (mode, antialias) -> op: bicubic, and the antialiased modes
RESAMPLE2D = {(mode, aa): _resample_pair(name + ("Aa" if aa else ""))
              for mode, name, aa in (("bicubic", "Bicubic2D", False),
                                     ("bilinear", "Bilinear2D", True),
                                     ("bicubic", "Bicubic2D", True),
                                     ("lanczos", "Lanczos2D", True))}


# reflect and replicate padding: the input indexed by each padded dim's source positions (one
# op; its gradient adds every copy back to its source), named as PyTorch's
PAD_INDEX = {(mode, k): renamed(f"{name}Pad{k}d", AdvancedIndex, f"{name}Pad{k}DBackward0",
                                f"F.pad(mode={mode!r}) of the last {k} dims: x indexed")
             for mode, name in (("reflect", "Reflection"), ("replicate", "Replication"))
             for k in (1, 2, 3)}
PAD_INDEX.update({("circular", k): renamed(f"CircularPad{k}d", AdvancedIndex,
                                           "torch::autograd::CopySlices",
                                           "F.pad(mode='circular'), which PyTorch writes by "
                                           "slices") for k in (1, 2, 3)})


class AffineGridGenerator(Op):
    """grid = base @ theta^T: base (P, k+1) is each output pixel's normalized coordinates
    (x first) and a 1, theta (N, k, k+1), grid (N, P, k) reshaped to (N, *spatial, k)
    ->   dtheta = g^T @ base"""

    @staticmethod
    def forward(ctx, theta, base, shape):
        ctx.base = base
        return np.matmul(base, theta.transpose(0, 2, 1)).reshape(shape)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(g.shape[0], -1, g.shape[-1])
        return np.matmul(g.transpose(0, 2, 1), ctx.base), None, None


def _reflect_clip(x, size, padding_mode, align_corners, vectorized):
    """PyTorch's compute_coordinates: a pixel coordinate x moved into [0, size - 1] by
    clipping (border) or by reflecting about the edges, then clipping (reflection; the edges
    are the outer pixels' centres with align_corners, else their outer borders), and dx'/dx
    (+-1 inside, 0 where clipped or at an edge, as PyTorch's clip_coordinates_get_grad).
    A NaN or infinite x lands where PyTorch's kernels put it: its vectorized 2-d kernel clips
    NaN to 0 (its max keeps the second operand), its scalar 3-d one to the far edge
    (std::min / std::max), and there a non-finite x outside any clipping becomes -100 (out of
    bounds: PyTorch's safe_downgrade_to_int_range)."""
    mult = np.ones_like(x)
    if padding_mode == "zeros":
        if vectorized:
            return x, mult
        return np.where(np.isfinite(x) & (np.abs(x) < 2 ** 31 - 1), x, -100).astype(x.dtype), \
            mult
    if padding_mode == "reflection":
        lo, span = (0, size - 1) if align_corners else (-0.5, size)
        if span == 0:
            return np.zeros_like(x), np.zeros_like(x)
        a = x - x.dtype.type(lo)
        neg = a < 0
        if vectorized:      # PyTorch's 2-d kernel: whole double spans off by trunc, fused
            twice = np.asarray(2 * span, x.dtype)
            flips = np.trunc(np.abs(a) / twice)
            extra = _fma(-flips, twice, np.abs(a))
            flip = extra > twice - extra
            x = np.where(flip, twice - extra, extra) + x.dtype.type(lo)
        else:               # its 3-d kernel: the parity of floor(|x| / span), cast to int
            span_ = x.dtype.type(span)
            extra = np.fmod(np.abs(a), span_)
            flips = np.floor(np.abs(a) / span_)
            # (an int cast out of range gives INT_MIN, even: as on x86)
            flip = (np.fmod(flips, 2) == 1) & (flips < 2 ** 31)
            x = np.where(flip, span_ - extra, extra) + x.dtype.type(lo)
        mult = np.where(flip ^ neg, -mult, mult)
    mult *= (x > 0) & (x < size - 1)
    if vectorized:
        return np.minimum(np.fmax(x, 0), size - 1).astype(x.dtype), mult
    return np.where(np.isnan(x), size - 1, np.clip(x, 0, size - 1)).astype(x.dtype), mult


def _unnormalize(coord, size, align_corners, fused):
    """the grid's [-1, 1] -> pixel coordinates (the corner pixels' centres with
    align_corners, else their outer borders), and the scale d(pixel)/d(coord). fused: as
    PyTorch's vectorized 2-d kernel, a multiply-add rounded once (the bits matter where a
    point lands on a pixel, a kink of the gradient: the identity affine_grid's points)."""
    if align_corners:
        scale = (size - 1) / 2
        return (coord + 1) * scale, scale
    if fused:
        return _fma(coord + 1, size / 2, -0.5), size / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _cubic_near(s, a):
    """Keys' cubic convolution kernel for |s| <= 1 (PyTorch's cubic_convolution1)"""
    return ((a + 2) * s - (a + 3)) * s * s + 1


def _cubic_far(s, a):
    """the kernel for 1 < |s| < 2 (PyTorch's cubic_convolution2)"""
    return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a


def cubic_convolution(x, a):
    """Keys' cubic convolution kernel at distances x >= 0 (0 from 2 on), in x's dtype"""
    return np.where(x < 1, _cubic_near(x, a), np.where(x < 2, _cubic_far(x, a), 0)).astype(x.dtype)


def _cubic(t, A=-0.75):
    """the 4 bicubic (A = -0.75) weights of the taps at floor - 1 .. floor + 2 for the
    fraction t, and their derivatives in t"""
    def near(s):            # |s| <= 1
        return _cubic_near(s, A), (3 * (A + 2) * s - 2 * (A + 3)) * s

    def far(s):             # 1 < |s| < 2
        return _cubic_far(s, A), (3 * A * s - 10 * A) * s + 8 * A
    (w0, d0), (w1, d1), (w2, d2), (w3, d3) = far(t + 1), near(t), near(1 - t), far(2 - t)
    return (w0, w1, w2, w3), (d0, d1, -d2, -d3)


def _grid_taps(coords, sizes, mode, padding_mode, align_corners):
    """The input pixels each grid point reads: coords is the grid's coordinate per spatial
    axis of the input (axis order, (N, P) each). Returns per tap, in PyTorch's order of
    summation, (pixel index per axis, weight, d weight / d coord per axis or None)."""
    k = len(sizes)
    if mode == "bicubic":            # the taps are padded, not the coordinate
        per_axis = []
        for c, n in zip(coords, sizes):
            u, scale = _unnormalize(c, n, align_corners, k == 2)
            lo = np.floor(u)
            w, d = _cubic(u - lo)
            per_axis.append([(_reflect_clip(lo + (j - 1), n, padding_mode, align_corners,
                                            k == 2)[0],
                              w[j], d[j] * scale) for j in range(4)])
        choices = range(4)
    else:
        per_axis = []
        for c, n in zip(coords, sizes):
            u, scale = _unnormalize(c, n, align_corners, k == 2)
            u, mult = _reflect_clip(u, n, padding_mode, align_corners, k == 2)
            if mode == "nearest":
                per_axis.append([(np.rint(u), None, None)])    # rint: half to even
                continue
            lo = np.floor(u)
            f = u - lo
            mult = mult * scale
            per_axis.append([(lo, 1 - f, -mult), (lo + 1, f, mult)])
        choices = range(len(per_axis[0]))
    taps = []
    for pick in itertools.product(choices, repeat=k):    # the first axis outermost
        parts = [per_axis[a][j] for a, j in enumerate(pick)]
        idx = [p[0] for p in parts]
        if mode == "nearest":
            taps.append((idx, None, None))
            continue
        w = parts[0][1]
        for p in parts[1:]:
            w = w * p[1]
        dw = []
        for a in range(k):
            d = parts[a][2]
            for b in range(k):
                if b != a:
                    d = d * parts[b][1]
            dw.append(d)
        taps.append((idx, w, dw))
    return taps


def _flat_index(idx, sizes):
    """pixel indices per axis (floats) -> (flat index into the spatial dims clipped to a
    real pixel, in bounds?): out-of-bounds taps read 0 (padding_mode zeros)"""
    flat, valid = 0, True
    for i, n in zip(idx, sizes):
        i = np.nan_to_num(i, nan=-1, posinf=n, neginf=-1).clip(-1, n).astype(np.int64)
        valid = valid & (i >= 0) & (i < n)
        flat = flat * n + i.clip(0, n - 1)
    return flat, valid


class GridSampler(Op):
    """y[n, c, p] = sum over taps t of w_t(grid[n, p]) * x[n, c, pixel_t(grid[n, p])]: the
    input read at each grid point, bilinear (2^k taps), nearest (1) or bicubic (16), the
    coordinates padded per padding_mode   ->   dx = g * w_t added back at each tap's pixel,
    dgrid = sum over c, t of g * x[tap] * dw_t / dgrid (0 for nearest)"""

    @staticmethod
    def taps(x, grid, mode, padding_mode, align_corners):
        n, sizes, k = x.shape[0], x.shape[2:], x.ndim - 2
        g = grid.reshape(n, math.prod(grid.shape[1:-1]), k)      # (no -1: n may be 0)
        coords = [g[..., k - 1 - a] for a in range(k)]     # the grid's x is the last axis
        return [(*_flat_index(idx, sizes), w, dw)
                for idx, w, dw in _grid_taps(coords, sizes, mode, padding_mode, align_corners)]

    @staticmethod
    def read(xf, flat, valid):
        """xf (N, C, pixels) at each point's tap (N, P): 0 where out of bounds"""
        return np.where(valid[:, None], np.take_along_axis(xf, flat[:, None], 2), 0)

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        ctx.save_for_backward(x, grid)
        ctx.args = (mode, padding_mode, align_corners)
        n, c = x.shape[:2]
        xf = x.reshape(n, c, math.prod(x.shape[2:]))
        out = None
        for flat, valid, w, _ in GridSampler.taps(x, grid, mode, padding_mode, align_corners):
            v = GridSampler.read(xf, flat, valid)
            v = v if w is None else v * w[:, None]
            out = v if out is None else out + v
        return out.astype(x.dtype, copy=False).reshape(n, c, *grid.shape[1:-1])

    @staticmethod
    def backward(ctx, g):
        x, grid = ctx.saved_tensors
        mode = ctx.args[0]
        n, c = x.shape[:2]
        k = x.ndim - 2
        s = math.prod(x.shape[2:])
        g = g.reshape(n, c, math.prod(grid.shape[1:-1]))
        taps = GridSampler.taps(x, grid, *ctx.args)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:         # one bincount over every tap's share
            base = (np.arange(n)[:, None, None] * c + np.arange(c)[:, None]) * s
            index = np.concatenate([(base + flat[:, None]).ravel() for flat, *_ in taps])
            shares = np.concatenate([
                (g * (valid if w is None else np.where(valid, w, 0))[:, None]).ravel()
                for _, valid, w, _ in taps])
            gx = np.bincount(index, shares, n * c * s).astype(x.dtype).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            ggrid = np.zeros_like(grid)
            if mode != "nearest":
                xf = x.reshape(n, c, s)
                parts = [0] * k
                for flat, valid, _, dw in taps:
                    gv = (g * GridSampler.read(xf, flat, valid)).sum(1)
                    for a in range(k):
                        parts[a] = parts[a] + gv * dw[a]
                for a in range(k):
                    ggrid[..., k - 1 - a] = parts[a].reshape(grid.shape[:-1])
        return gx, ggrid, None, None, None


GRID_SAMPLER = {4: renamed("GridSampler2D", GridSampler, "GridSampler2DBackward0",
                           GridSampler.__doc__),
                5: renamed("GridSampler3D", GridSampler, "GridSampler3DBackward0",
                           GridSampler.__doc__)}
