"""Scaled dot-product attention as one op: the scores, their softmax and the product with the
values stay arrays (no graph of intermediate nodes), and a query whose keys are all masked
gets zeros, as PyTorch's SDPA gives, where a composed softmax would give NaN."""
import numpy as np

from .. import backends as B
from ..autograd.function import Op, renamed


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
        if bias is not None and s.shape[-1]:
            dead = np.all(s == -np.inf, axis=-1, keepdims=True)    # every key masked
            if dead.any():
                p = np.where(dead, p.dtype.type(0), p)
        pk = p if keep is None else p * keep
        ctx.save_for_backward(q, k, v, p, keep)
        ctx.scale = scale
        return kernels.matmul(pk, v)

    @staticmethod
    def backward(ctx, g):
        q, k, v, p, keep = ctx.saved_tensors
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
