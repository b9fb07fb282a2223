"""Loss ops: forward and backward side by side.

Each op computes per-element (or per-row) losses with a backend kernel and reduces them;
backward turns the incoming gradient and the reduction into per-element (per-row) weights
and hands them to the kernel's backward. Reductions: "none", "sum", "mean".
"""
import math

import numpy as np

from .. import backends as B
from ..backends.numpy_backend import BCE_EPSILON
from ..autograd.function import Op, constant, input_stand_in, output_after_the_fact, shown
from .elementwise import DependsOn, LogSigmoid
from .reduce import LogSoftmax, Softmax, broadcast, divided


def reduce(losses, reduction, denominator=None, total=None):
    """losses unreduced, summed, or summed and divided (by their count unless a denominator,
    e.g. the sum of the class weights, is given). total: their sum, if a kernel made it."""
    if reduction == "none":
        return losses
    if reduction == "mean" and denominator is None:
        return np.asarray(B.kernels.mean(losses, None, False), dtype=losses.dtype)
    if total is None:
        total = B.kernels.sum(losses, None, False)
    total = np.array(total, losses.dtype)
    if reduction == "sum":
        return total
    # nothing counted (all ignored or weighted 0): NaN, as PyTorch's 0 / 0, also where label
    # smoothing's term made the total nonzero (PyTorch divides each term by the 0)
    return quotient(total, denominator)


def quotient(a, b):
    """a / b for a 0-d array a and a number b, b rounded to a's dtype first, as NumPy divides
    them (float16: to float32, as PyTorch's opmath: b as float16 is inf past 65504); NaN
    where b is 0 (nothing to average over). In Python floats (NumPy scalars' math costs ~1 us
    an operation): the float64 quotient of two float32 (or float16) numbers, rounded to
    their dtype, is theirs."""
    b = float(np.array(b, np.float32 if a.dtype == np.float16 else a.dtype))
    return np.array(float(a) / b if b else np.nan, a.dtype)


def over_count(d, n):
    """d / n, n rounded to d's dtype first (PyTorch's grad_input.div_(numel) after a loss
    kernel; float16 divides in float32, as its opmath)"""
    if d.dtype == np.float16:
        return (d.astype(np.float32) / np.float32(n)).astype(np.float16)
    return np.divide(d, np.array(n, d.dtype), out=d if d.flags.writeable else None)


def spread(g, shape, reduction, denominator=None):
    """The gradient of each unreduced loss: g itself ("none"), g repeated ("sum"), or g over
    the denominator repeated ("mean"). A read-only broadcast view where repeated."""
    if reduction == "none":
        return g
    if reduction == "mean":
        g = quotient(g, denominator if denominator is not None else math.prod(shape))
    return broadcast(g, shape) if shape else g


def graph_spread(g, n, reduction):
    """spread() for a Tensor g over n losses, left to broadcast (create_graph)"""
    return divided(g, n) if reduction == "mean" else g


def _weighted_inputs(ctx, g):
    """x, y and each element's g times its weight, for a binary cross-entropy's recorded
    backward"""
    x, y = ctx.saved_for_graph()
    gs = graph_spread(g, x.numel(), ctx.reduction)
    return x, y, gs if ctx.weight is None else gs * constant(ctx.weight)


def graph_rows(g, reduction, denominator):
    """spread() for a Tensor g (create_graph): each row's loss gradient, as a column"""
    return g.reshape(-1, 1) if reduction == "none" else graph_spread(g, denominator, reduction)


def _class_rows(g, target, ignore_index, reduction, denominator):
    """graph_rows for the class losses, a "none" g shaped (N, 1) or, for a target (N, L),
    (N, 1, L): a batch whose targets are all ignored gets g * 0 (its rows are masked out, and
    a NaN here would reach g's own graph)"""
    if reduction == "mean" and not denominator and (target == ignore_index).all():
        return g * 0.0
    if reduction == "none":
        return g.reshape(target.shape[:1] + (1,) + target.shape[1:])
    return graph_rows(g, reduction, denominator)


def _as_given(out, source, reduction, viewed=True):
    """a class loss over rows, shaped as PyTorch's node gives it for the input as given
    (source: that input, where the caller laid it out as rows): a "none" loss of a 1-D or 4-D
    input is its own result (0-d, (N, H, W)), as is every rank's where not viewed (label
    smoothing's sum); other ranks' are viewed after the node"""
    if reduction == "none" and source is not None:
        return out.reshape(() if source.ndim == 1 else source.shape[:1] + source.shape[2:]
                           if source.ndim == 4 or not viewed else (-1,))
    return out


def _shown_class_loss(log_softmax):
    """shown_edges of a class loss: PyTorch's graph from its node to the input as given (the
    source argument, else the rows): that input, log_softmax'ed for cross_entropy, viewed
    as 4-D first where its rank is 3 or above 4 (nll_loss2d's input)"""
    def shown_edges(node, edges):
        source = node.parents[-1]
        if source is None:
            source, rank = edges[0], 2
        else:
            rank = len(node.input_meta[-1][0])
        if log_softmax:
            source = shown("LogSoftmaxBackward0", source)
        return (shown("ViewBackward0", source) if rank == 3 or rank > 4 else source,)
    return staticmethod(shown_edges)


def _target_weights(target, n_classes, weight, ignore_index, dtype):
    """(N, C) ((N, C, L) for a target (N, L)): w[t_n] at (n, t_n), 0 elsewhere and on
    ignored rows (nll_loss's gradient per unit g, negated)"""
    ones = np.ones(target.shape, dtype)
    return -B.kernels.nll_loss_backward(target, ones, n_classes, weight, ignore_index)


class MseLoss(Op):
    """loss = reduce((x - y)^2)   ->   dx = 2 (x - y) g', dy = -dx (g' = g spread by the
    reduction). Saves x and y, as PyTorch (an in-place change of either then raises), and
    takes x - y again in backward."""
    edge_order = (0, 1)             # next_functions as PyTorch's: input, target (no reduction)
    accumulates = True

    @staticmethod
    def forward(ctx, x, y, reduction):
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return B.kernels.mse_loss(x, y, reduction)

    @staticmethod
    def _scale(reduction, size):
        n = size if reduction == "mean" else 1
        return 2.0 / n if n else float("nan")

    @staticmethod
    def backward(ctx, g, acc):
        x, y = ctx.saved_tensors
        # PyTorch's order: (2 / n) (x - y), then times g
        need_x, need_y = ctx.needs_input_grad[:2]
        return B.kernels.mse_loss_backward(x, y, g, MseLoss._scale(ctx.reduction, x.size),
                                           need_x, need_y, acc[0], acc[1]) + (None,)

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        d = x - y
        gx = d * MseLoss._scale(ctx.reduction, d.numel()) * g
        need_x, need_y = ctx.needs_input_grad[:2]
        return (gx if need_x else None), (-gx if need_y else None), None


class SmoothL1Loss(Op):
    """loss = reduce(d*d*(0.5/beta) where |d| < beta, else |d| - 0.5 beta), d = x - y   ->
    dx = g' (-1 from -beta down, 1 from beta up, d / beta between), dy = -dx: PyTorch's
    smooth_l1_loss and its backward (g' = g spread by the reduction)"""
    edge_order = (0, 1)             # next_functions as PyTorch's: input, target
    huber = False

    @classmethod
    def forward(cls, ctx, x, y, reduction, beta):
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.beta = reduction, beta
        return B.kernels.smooth_l1_loss(x, y, beta, reduction, cls.huber)

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[:2]
        return B.kernels.smooth_l1_loss_backward(
            x, y, spread(g, x.shape, ctx.reduction), ctx.beta, cls.huber, need_x,
            need_y) + (None, None)

    @classmethod
    def graph_backward(cls, ctx, g):
        x, y = ctx.saved_for_graph()
        d = x - y
        gs = graph_spread(g, d.numel(), ctx.reduction)
        beta = ctx.beta
        inside = d * gs if cls.huber else d * gs / beta
        edge = gs * beta if cls.huber else gs
        between = constant(~((d._data <= -beta) | (d._data >= beta)))   # (NaN: between)
        gx = inside.where(between, edge * d.sign())
        need_x, need_y = ctx.needs_input_grad[:2]
        return (gx if need_x else None), (-gx if need_y else None), None, None


class HuberLoss(SmoothL1Loss):
    """loss = reduce(d*d*0.5 where |d| < delta, else (|d| - 0.5 delta) delta)   ->   dx = g'
    (-delta, delta, or d), dy = -dx (beta is delta here)"""
    huber = True


class L1Loss(Op):
    """loss = reduce(|x - y|)   ->   dx = sign(x - y) g', dy = -dx"""
    grad_fn_name = "MeanBackward0"
    # PyTorch's graph: the reduction of abs of x - y
    shown_edges = staticmethod(lambda node, edges: (shown("AbsBackward0",
                                                          shown("SubBackward0", *edges)),))

    @staticmethod
    def forward(ctx, x, y, reduction):
        # PyTorch's abs saves d, not x and y: x or y may change in place before the backward.
        # x and y are saved too, for the recorded backward (create_graph) alone.
        ctx.d = d = B.kernels.sub(x, y)
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return reduce(B.kernels.abs(d), reduction)

    @staticmethod
    def backward(ctx, g):
        d = ctx.d
        gx = B.kernels.abs_backward(d, spread(g, d.shape, ctx.reduction))
        need_x, need_y = ctx.needs_input_grad[:2]
        return (gx if need_x else None), (B.kernels.neg(gx) if need_y else None), None

    @staticmethod
    def graph_backward(ctx, g):
        x, y = ctx.saved_for_graph()
        d = x - y
        gx = d.sign() * graph_spread(g, d.numel(), ctx.reduction)
        need_x, need_y = ctx.needs_input_grad[:2]
        return (gx if need_x else None), (-gx if need_y else None), None


class L1LossSum(L1Loss):
    grad_fn_name = "SumBackward0"


class L1LossNone(L1Loss):
    grad_fn_name = "AbsBackward0"
    shown_edges = staticmethod(lambda node, edges: (shown("SubBackward0", *edges),))


def _contiguous(*arrays):
    """The class-loss kernels take C-contiguous arrays (None passes through)."""
    return [a if a is None else np.ascontiguousarray(a) for a in arrays]


def _class_arrays(x, target, weight):
    """x, target and weight as the class-loss kernels take them: C-contiguous (copied only
    where one is not)"""
    if x.flags.c_contiguous and target.flags.c_contiguous and weight is None:
        return x, target, weight
    return _contiguous(x, target, weight)


def _class_g(g, target, reduction, denominator):
    """each row's (position's) loss gradient as the class-loss kernels take it: a "none"
    g shaped as the target, else one 0-d g for every row (nothing to broadcast)"""
    if reduction == "none":
        return np.ascontiguousarray(g).reshape(target.shape)
    return spread(g, (), reduction, denominator)


class CrossEntropy(Op):
    """loss_n = -sum_c a_nc log_softmax(x)_nc, a_n = (1 - eps) w[t_n] onehot(t_n) + eps/C w
    ->   dx_n = g'_n (sum(a_n) softmax(x_n) - a_n)        (x (N, C), t (N,) class indices;
    or x (N, C, L), t (N, L): a loss per position, the classes along dim 1)"""
    edge_order = (0,)               # PyTorch's node: an edge to the input only
    grad_fn_name = "NllLossBackward0"
    accumulates = True          # dx may be added straight into x's gradient buffer

    shown_edges = _shown_class_loss(log_softmax=True)

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction, source=None):
        """source: the input as given, where it is not x itself (its rank names the node)"""
        x, target, weight = _class_arrays(x, target, weight)
        # saved: what this backend's backward reads (log-probabilities, or the softmax). The
        # kernel also checks the targets and sums the losses and the mean's denominator.
        ctx.kernels = B.kernels
        losses, saved, total, denominator = ctx.kernels.cross_entropy_forward(
            x, target, weight, ignore_index, label_smoothing)
        ctx.save_for_backward(saved)
        ctx.args = (target, weight, ignore_index, label_smoothing, reduction, denominator)
        # (label smoothing's node is PyTorch's sum of two terms, each of the target's shape)
        return _as_given(reduce(losses, reduction, denominator, total), source, reduction,
                         viewed=not label_smoothing > 0)

    @staticmethod
    def backward(ctx, g, acc):
        saved, = ctx.saved_tensors
        target, weight, ignore_index, label_smoothing, reduction, denominator = ctx.args
        g_rows = _class_g(g, target, reduction, denominator)
        dx = ctx.kernels.cross_entropy_backward(saved, target, g_rows, weight, ignore_index,
                                                label_smoothing, acc[0])
        return dx, None, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        """dx_n = g'_n (sum(a_n) p_n - a_n) in Tensor ops, p = softmax(x) a Tensor on x's edge
        (PyTorch's cross_entropy is log_softmax, then nll_loss)"""
        saved, = ctx.saved_tensors
        target, weight, ignore_index, eps, reduction, denominator = ctx.args
        shape, dtype = ctx.input_meta[0]
        c = shape[1]
        a = _target_weights(target, c, weight, ignore_index, dtype) * dtype.type(1 - eps)
        if eps > 0:
            valid = (target != ignore_index)[:, None]
            w = weight if weight is not None else np.ones(c, dtype)
            a = a + np.where(valid, w.reshape((c,) + (1,) * (len(shape) - 2))
                             * dtype.type(eps / c), dtype.type(0))
        p = output_after_the_fact(Softmax, ctx.parents[0], ctx.input_meta[0],
                                  ctx.kernels.cross_entropy_probs(saved), dim=1)
        a = constant(a)
        rows = _class_rows(g, target, ignore_index, reduction, denominator)
        dx = (p * a.sum(1, keepdim=True) - a) * rows
        # ignored rows selected out, not multiplied by 0 (an inf g there stays out, as in
        # backward)
        ignored = constant((target == ignore_index)[:, None])
        return dx.masked_fill(ignored, 0), None, None, None, None, None, None


class CrossEntropy2d(CrossEntropy):
    """CrossEntropy of an input of rank 3 or more, as PyTorch names its node"""
    grad_fn_name = "NllLoss2DBackward0"


class CrossEntropySmoothed(CrossEntropy):
    grad_fn_name = "AddBackward0"          # PyTorch's is a sum of the nll and smoothing terms
    shown_edges = None                     # (and its graph has another dozen nodes)


class SoftCrossEntropy(Op):
    """loss_n = -sum_c p_nc log_softmax(x)_nc   ->   dx_n = g'_n (sum(p_n) softmax(x_n) - p_n),
    dp_n = -g'_n log_softmax(x_n)   (p: class probabilities, label smoothing and class
    weights already folded in by the caller; "mean" divides by N)"""
    grad_fn_name = "DivBackward1"

    @staticmethod
    def forward(ctx, x, probs, reduction):
        x, probs = _contiguous(x, probs)
        losses, log_probs = B.kernels.soft_cross_entropy_forward(x, probs)
        ctx.save_for_backward(log_probs, probs)
        ctx.reduction = reduction
        return reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        log_probs, probs = ctx.saved_tensors
        g_rows = np.ascontiguousarray(spread(g, log_probs.shape[:1], ctx.reduction))
        need_x, need_p = ctx.needs_input_grad[:2]
        dx = B.kernels.soft_cross_entropy_backward(log_probs, probs, g_rows) if need_x else None
        dp = B.kernels.mul(B.kernels.neg(log_probs), g_rows[:, None]) if need_p else None
        return dx, dp, None

    @staticmethod
    def graph_backward(ctx, g):
        log_probs, _ = ctx.saved_tensors          # as a LogSoftmax's output on x's edge
        logp = output_after_the_fact(LogSoftmax, ctx.parents[0], ctx.input_meta[0], log_probs,
                                     dim=1)
        q, = ctx.saved_for_graph(1)
        rows = graph_rows(g, ctx.reduction, log_probs.shape[0])
        need_x, need_p = ctx.needs_input_grad[:2]
        return ((logp.exp() * q.sum(1, keepdim=True) - q) * rows if need_x else None,
                -logp * rows if need_p else None, None)


class SoftCrossEntropySum(SoftCrossEntropy):
    grad_fn_name = "NegBackward0"


class NllLoss(Op):
    """loss_n = -w[t_n] x[n, t_n]   ->   dx[n, t_n] = -w[t_n] g'_n, 0 elsewhere"""
    edge_order = (0,)               # PyTorch's node: an edge to the input only
    returns_fresh = True
    shown_edges = _shown_class_loss(log_softmax=False)

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, source=None):
        """source: the input as given, where it is not x itself (its rank names the node)"""
        x, target, weight = _class_arrays(x, target, weight)
        ctx.save_for_backward(x)          # unread, as PyTorch saves it: an in-place change raises
        # the kernel also checks the targets and sums the losses and the mean's denominator
        losses, total, denominator = B.kernels.nll_loss_forward(x, target, weight, ignore_index)
        ctx.args = (target, weight, ignore_index, reduction, x.shape[1], denominator)
        return _as_given(reduce(losses, reduction, denominator, total), source, reduction)

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                 # the version check
        target, weight, ignore_index, reduction, n_classes, denominator = ctx.args
        g_rows = _class_g(g, target, reduction, denominator)
        dx = B.kernels.nll_loss_backward(target, g_rows, n_classes, weight, ignore_index)
        return dx, None, None, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        ctx.saved_tensors                 # the version check
        target, weight, ignore_index, reduction, n_classes, denominator = ctx.args
        a = _target_weights(target, n_classes, weight, ignore_index, ctx.input_meta[0][1])
        dx = -constant(a) * _class_rows(g, target, ignore_index, reduction, denominator)
        # only the targets' entries, selected (an inf g elsewhere stays out, as in backward)
        dx = dx.masked_fill(constant(a == 0), 0)
        # PyTorch's depends on x too, with a zero derivative: it keeps the graph
        return (DependsOn.apply(dx, input_stand_in(ctx, 0)), None, None, None, None, None)


class NllLoss2d(NllLoss):
    """NllLoss of an input of rank 3 or more, as PyTorch names its node"""
    grad_fn_name = "NllLoss2DBackward0"


class BinaryCrossEntropy(Op):
    """loss = -w (y log x + (1 - y) log(1 - x)), each log clamped at -100   ->   dx = g' w
    (x - y) / max(x (1 - x), 1e-12f), dy = -logit(x) g' w (unclamped: +-inf at 0 and 1, as
    PyTorch's binary_cross_entropy_target_backward)"""
    @staticmethod
    def forward(ctx, x, y, weight, reduction):
        if x.size and not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError("all elements of input should be between 0 and 1")
        ctx.save_for_backward(x, y)
        ctx.weight, ctx.reduction = weight, reduction
        return reduce(B.kernels.binary_cross_entropy(x, y, weight), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[:2]
        # PyTorch's order: the gradients from the undivided g, then over the count ("mean")
        mean = ctx.reduction == "mean"
        gx, gy = B.kernels.binary_cross_entropy_backward(
            x, y, spread(g, x.shape, "sum" if mean else ctx.reduction), ctx.weight, need_x,
            need_y)
        if mean:
            gx, gy = (None if d is None else over_count(d, x.size) for d in (gx, gy))
        return gx, gy, None, None

    @staticmethod
    def graph_backward(ctx, g):
        # backward's order: from the undivided g, times the weight, then over the count
        x, y = ctx.saved_for_graph()
        need_x, need_y = ctx.needs_input_grad[:2]
        w = None if ctx.weight is None else constant(ctx.weight)
        gx = g * (x - y) / ((1 - x) * x).clamp(min=BCE_EPSILON) if need_x else None
        gy = -x.logit() * g if need_y else None             # (PyTorch's: unclamped)
        gx, gy = (None if d is None else d if w is None else d * w for d in (gx, gy))
        if ctx.reduction == "mean":
            gx, gy = (None if d is None else divided(d, x.numel()) for d in (gx, gy))
        return gx, gy, None, None


class BinaryCrossEntropyWithLogits(Op):
    """loss = w ((1 - y) x - l log_sigmoid(x)), l = 1 + (pos_weight - 1) y   ->
    dx = g' w ((1 + p y - y) sigmoid(x) - p y), dy = g' w (log_sigmoid(-x) - p log_sigmoid(x)),
    or -x g' w without p (PyTorch's forms)"""
    edge_order = (0, 1)             # PyTorch's node: input, target (weights take no gradient)

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        ctx.save_for_backward(x, y)
        ctx.weight, ctx.pos_weight, ctx.reduction = weight, pos_weight, reduction
        return B.kernels.binary_cross_entropy_with_logits(x, y, weight, pos_weight, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[:2]
        gx, gy = B.kernels.binary_cross_entropy_with_logits_backward(
            x, y, spread(g, x.shape, ctx.reduction), ctx.weight, ctx.pos_weight, need_x, need_y)
        return gx, gy, None, None, None

    @staticmethod
    def graph_backward(ctx, g):
        x, y, gs = _weighted_inputs(ctx, g)
        need_x, need_y = ctx.needs_input_grad[:2]
        p = None if ctx.pos_weight is None else constant(ctx.pos_weight)
        gx = gy = None
        if need_x:
            s = x.sigmoid()
            gx = (s - y if p is None else (p * y + 1 - y) * s - p * y) * gs
        if need_y:
            gy = (-x if p is None else LogSigmoid.apply(-x) - p * LogSigmoid.apply(x)) * gs
        return gx, gy, None, None, None


# ---- connectionist temporal classification -------------------------------------------------
def _ctc_extended(targets, target_lengths, blank):
    """the targets with a blank before, between and after their labels (N, 2 S + 1), and
    which positions may skip back two (a label unlike the one two before; never a blank)"""
    n, s_max = targets.shape
    # at least one label slot (unused where a target is empty), so the recursions always
    # have positions 0 and 1 to start from, also when every target is empty
    ext = np.full((n, 2 * max(s_max, 1) + 1), blank, dtype=np.int64)
    ext[:, 1:2 * s_max:2] = targets
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = ext[:, 2:] != ext[:, :-2]
    valid = np.arange(ext.shape[1]) < (2 * target_lengths + 1)[:, None]
    return ext, skip & valid, valid


def _log_add3(a1, a2, a3):
    """log(e^a1 + e^a2 + e^a3) in PyTorch's CTC kernel's order (shifted by the largest; by 0
    where all are -inf)"""
    m = np.maximum(np.maximum(a1, a2), a3)
    m = np.where(m == -np.inf, m.dtype.type(0), m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.exp(a1 - m) + np.exp(a2 - m) + np.exp(a3 - m)) + m


class CtcLoss(Op):
    """-log p(target | log_probs), the sum over every alignment of the target with blanks
    and repeats (Graves et al. 2006), by the forward (alpha) recursion in log space; backward
    by the beta recursion, in PyTorch's form: exp(lp) - exp(log(sum alpha beta) + nll - lp)
    (the gradient through a log_softmax that made log_probs)."""

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        t_max, n, _ = log_probs.shape
        ext, skip, valid = _ctc_extended(targets, target_lengths, blank)
        neg_inf = log_probs.dtype.type(-np.inf)
        # log_probs of each extended label: (T, N, 2 S + 1)
        lp_ext = np.take_along_axis(log_probs, np.broadcast_to(ext, (t_max,) + ext.shape),
                                    axis=2)
        alpha = np.full(lp_ext.shape, neg_inf)
        if t_max:
            alpha[0, :, 0] = lp_ext[0, :, 0]
            has_label = target_lengths > 0
            alpha[0, has_label, 1] = lp_ext[0, has_label, 1]
        for t in range(1, t_max):
            prev = alpha[t - 1]
            a2 = np.concatenate([np.full((n, 1), neg_inf), prev[:, :-1]], axis=1)
            a3 = np.concatenate([np.full((n, 2), neg_inf), prev[:, :-2]], axis=1)
            alpha[t] = np.where(valid, _log_add3(prev, a2, np.where(skip, a3, neg_inf))
                                + lp_ext[t], neg_inf)
        rows = np.arange(n)
        last = np.maximum(input_lengths - 1, 0)
        l1 = alpha[last, rows, 2 * target_lengths]
        l2 = np.where(target_lengths > 0, alpha[last, rows, np.maximum(2 * target_lengths - 1,
                                                                      0)], neg_inf)
        nll = -_log_add3(l1, l2, neg_inf)
        # no frames: the empty target has probability 1, any other 0
        nll = np.where(input_lengths == 0, np.where(target_lengths == 0, -0.0, np.inf),
                       nll).astype(log_probs.dtype)
        ctx.save_for_backward(log_probs)
        ctx.args = (ext, skip, valid, lp_ext, alpha, input_lengths, target_lengths, nll,
                    zero_infinity)
        return nll

    @staticmethod
    def backward(ctx, g):
        log_probs, = ctx.saved_tensors
        ext, skip, valid, lp_ext, alpha, input_lengths, target_lengths, nll, zero_infinity = \
            ctx.args
        t_max, n, c = log_probs.shape
        neg_inf = log_probs.dtype.type(-np.inf)
        rows = np.arange(n)
        beta = np.full(alpha.shape, neg_inf)
        last = input_lengths - 1
        for t in range(t_max - 1, -1, -1):
            if t + 1 < t_max:
                nxt = beta[t + 1]
                b2 = np.concatenate([nxt[:, 1:], np.full((n, 1), neg_inf)], axis=1)
                b3 = np.concatenate([nxt[:, 2:], np.full((n, 2), neg_inf)], axis=1)
                skip_ahead = np.concatenate([skip[:, 2:], np.zeros((n, 2), bool)], axis=1)
                step = np.where(valid, _log_add3(nxt, b2, np.where(skip_ahead, b3, neg_inf))
                                + lp_ext[t], neg_inf)
                beta[t] = np.where((t < last)[:, None], step, neg_inf)
            ends = rows[last == t]                  # the last frame of these sequences
            end = 2 * target_lengths[ends]
            beta[t, ends, end] = lp_ext[t, ends, end]
            labelled = ends[target_lengths[ends] > 0]
            beta[t, labelled, end[target_lengths[ends] > 0] - 1] = \
                lp_ext[t, labelled, 2 * target_lengths[labelled] - 1]
        # log of the summed alpha beta of each (frame, sequence, class), adding the extended
        # positions from the last down, as PyTorch's kernel does
        ab = np.where(valid, alpha + beta, neg_inf)
        lcab = np.full(log_probs.shape, neg_inf)
        for s in range(ab.shape[2] - 1, -1, -1):
            cls = ext[:, s]
            current = lcab[:, rows, cls]
            lcab[:, rows, cls] = np.where(current == neg_inf, ab[:, :, s],
                                          _log_add3(current, ab[:, :, s], neg_inf))
        with np.errstate(over="ignore", invalid="ignore"):
            grad = (np.exp(log_probs) - np.exp(lcab + nll[None, :, None] - log_probs)) \
                * np.asarray(g, log_probs.dtype)[None, :, None]
        used = np.arange(t_max)[:, None] < input_lengths[None, :]     # (T, N): real frames
        if zero_infinity:                   # an impossible alignment passes nothing back
            used = used & ~np.isposinf(nll)[None, :]
        return (np.where(used[:, :, None], grad, 0).astype(log_probs.dtype), None, None, None,
                None, None)
