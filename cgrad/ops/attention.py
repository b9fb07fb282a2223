"""Scaled dot-product attention as one op: the scores, their softmax and the product with the
values stay arrays (no graph of intermediate nodes), and a query whose keys are all masked
gets zeros, as PyTorch's SDPA gives, where a composed softmax would give NaN."""
import numpy as np

from .. import backends as B
from ..autograd.function import Op, constant, renamed


class ScaledDotProductAttention(Op):
    """y = (P * keep) @ v, P = softmax(q @ k^T * scale + bias) along the keys (0 on a row
    of -inf scores), keep the dropout mask (0 or 1 / (1 - p), or None)
    ->  dv = (P * keep)^T @ g, dS = P * (dP - sum(dP * P)) with dP = (g @ v^T) * keep,
        dq = dS @ k * scale, dk = dS^T @ q * scale, dbias = dS
    q (..., L, E), k (..., S, E), v (..., S, Ev), bias broadcast to (..., L, S); the batch
    dims broadcast (the engine sums a broadcast gradient back)."""
    grad_fn_name = "ScaledDotProductFlashAttentionForCpuBackward0"
    returns_fresh = True

    @staticmethod
    def forward(ctx, q, k, v, bias, keep, scale):
        kernels = B.kernels
        s = kernels.matmul(q, np.swapaxes(k, -1, -2))
        s *= s.dtype.type(scale)
        if bias is not None:
            s += bias            # (in place: the caller checked bias broadcasts to s's shape)
        p = kernels.softmax(s, -1)
        dead = _dead_rows(s, bias)
        if dead is not None:
            p = np.where(dead, p.dtype.type(0), p)
        pk = p if keep is None else p * keep
        ctx.save_for_backward(q, k, v, bias, keep, p)     # (inputs at their own slots)
        ctx.scale = scale
        return kernels.matmul(pk, v)

    @staticmethod
    def backward(ctx, g):
        q, k, v, _, keep, p = ctx.saved_tensors
        need_q, need_k, need_v, need_bias = ctx.needs_input_grad[:4]
        kernels = B.kernels
        pk = p if keep is None else p * keep
        gv = kernels.matmul(np.swapaxes(pk, -1, -2), g) if need_v else None
        if not (need_q or need_k or need_bias):
            return None, None, gv, None, None, None
        dp = kernels.matmul(g, np.swapaxes(v, -1, -2))
        if keep is not None:
            dp *= keep
        ds = kernels.softmax_backward(p, dp, -1)
        scale = ds.dtype.type(ctx.scale)
        gq = kernels.matmul(ds, k) * scale if need_q else None
        gk = kernels.matmul(np.swapaxes(ds, -1, -2), q) * scale if need_k else None
        return gq, gk, gv, (ds if need_bias else None), None, None

    @staticmethod
    def graph_backward(ctx, g):
        """backward's formulas in Tensor ops, P recomputed from q and k in the graph (a row
        with every key masked is filled before the softmax too, so no NaN reaches q or k)"""
        q, k, v, bias, keep = ctx.saved_for_graph(0, 1, 2, 3, 4)
        s = (q @ k.transpose(-1, -2)) * ctx.scale
        if bias is not None:
            s = s + bias
        dead = _dead_rows(s._data, bias)
        if dead is not None:
            s = s.masked_fill(constant(dead), 0)
        p = s.softmax(-1)
        if dead is not None:
            p = p.masked_fill(constant(dead), 0)
        pk = p if keep is None else p * keep
        dp = g @ v.transpose(-1, -2)
        if keep is not None:
            dp = dp * keep
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        need_q, need_k, need_v, need_bias = ctx.needs_input_grad[:4]
        return (ds @ k * ctx.scale if need_q else None,
                ds.transpose(-1, -2) @ q * ctx.scale if need_k else None,
                pk.transpose(-1, -2) @ g if need_v else None,
                ds if need_bias else None, None, None)


def _dead_rows(s, bias):
    """where every key of a query is masked (its scores all -inf): None if nowhere"""
    if bias is None or not s.shape[-1]:
        return None
    dead = np.all(s == -np.inf, axis=-1, keepdims=True)
    return dead if dead.any() else None


# named as PyTorch's graph of the same call ends: its math path (dropout, a mask that
# requires grad, inputs of other than 4 dims) ends in a matmul
AttentionMath = renamed("AttentionMath", ScaledDotProductAttention, "UnsafeViewBackward0",
                        "PyTorch's math path of 3 or 5+ dims")
AttentionMath2d = renamed("AttentionMath2d", ScaledDotProductAttention, "MmBackward0",
                          "PyTorch's math path of 2-D inputs")


def attention_op(ndim, flash):
    """The attention op whose grad_fn prints as PyTorch's for inputs of ndim dims, flash
    where PyTorch takes its CPU flash kernel"""
    if ndim == 2:
        return AttentionMath2d
    return ScaledDotProductAttention if ndim == 4 and flash else AttentionMath
