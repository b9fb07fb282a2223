"""Matrix products: forward and backward side by side."""
import math

import numpy as np

from .. import backends as B
from .._dtype import require_same_matmul_dtype
from ..autograd.function import Op, renamed, shown
from ..backends.numpy_backend import _for_blas
from .elementwise import Mul, promote


class MatMul(Op):
    """y = a @ b (2-D or batched)   ->   da = g @ b^T, db = a^T @ g, added straight into existing
    gradient buffers where the engine has them"""
    grad_fn_name = "MmBackward0"
    saved_names = ("self", "mat2")
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        need_a, need_b = ctx.needs_input_grad[:2]
        ctx.save_for_backward(a if need_b else None, b if need_a else None)  # only what's used
        return B.kernels.matmul(a, b)

    @staticmethod
    def backward(ctx, g, acc):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return B.kernels.matmul_backward(a, b, g, need_a, need_b, acc[0], acc[1])

    @staticmethod
    def graph_backward(ctx, g):
        a, b = ctx.saved_for_graph()
        need_a, need_b = ctx.needs_input_grad
        return (g @ b.transpose(-1, -2) if need_a else None,
                a.transpose(-1, -2) @ g if need_b else None)


class BatchedMatMul(MatMul):
    grad_fn_name = "BmmBackward0"


class Mv(Op):
    """y = a @ v (a 2-D, v 1-D)   ->   da = outer(g, v), dv = a^T @ g"""
    saved_names = ("self", "vec")

    @staticmethod
    def forward(ctx, a, v):
        a, v = promote(a, v)
        need_a, need_v = ctx.needs_input_grad[:2]
        ctx.save_for_backward(a if need_v else None, v if need_a else None)
        return B.kernels.matmul(a, v[:, None])[:, 0]

    @staticmethod
    def backward(ctx, g):
        a, v = ctx.saved_tensors
        need_a, need_v = ctx.needs_input_grad
        g = _for_blas(g)                 # (a sum's broadcast g: NumPy's matmul loops over it)
        return (B.kernels.matmul(g[:, None], v[None, :]) if need_a else None,
                B.kernels.matmul(g[None, :], a)[0] if need_v else None)

    @staticmethod
    def graph_backward(ctx, g):
        a, v = ctx.saved_for_graph()
        need_a, need_v = ctx.needs_input_grad
        return (g.unsqueeze(1) * v if need_a else None, g @ a if need_v else None)


class Dot(Op):
    """y = a . b (1-D)   ->   da = g * b, db = g * a"""
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        if a.dtype.kind == "f" and a.size > 4096:
            # a long sum: as a 1 x 1 product (the compiled gemm's bits for any thread count),
            # not BLAS's dot, whose threads cut the sum (1 and 2 threads would differ)
            return B.kernels.matmul(a[None], b[:, None]).reshape(())
        return np.asarray(np.dot(a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)

    graph_backward = Mul.__dict__["graph_backward"]          # the same products, recorded


class Linear(Op):
    """y = x @ w^T + b   ->   dx = g @ w, dw = g^T @ x, db = sum of g over rows (one kernel)"""
    grad_fn_name = "AddmmBackward0"
    edge_order = (2, 0, 1)          # next_functions as PyTorch's addmm: bias, input, weight
    accumulates = True
    returns_fresh = True

    @staticmethod
    def forward(ctx, x, w, b):
        if x.shape[-1] != w.shape[1]:
            rows = int(np.prod(x.shape[:-1]))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} "
                               f"and {w.shape[1]}x{w.shape[0]})")
        if b is not None and b.shape != w.shape[:1]:      # F.linear adds any other bias
            raise RuntimeError(f"bias of shape {list(b.shape)} does not match the weight's "
                               f"{w.shape[0]} outputs")
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            require_same_matmul_dtype(x.dtype, w.dtype)
            if b is not None:
                require_same_matmul_dtype(b.dtype, w.dtype)
        if x.dtype.kind == "b":
            raise NotImplementedError('"addmm_impl_cpu_" not implemented for \'Bool\'')
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(x if need_w else None, w if need_x else None)
        return B.kernels.linear(x, w, b)

    @staticmethod
    def backward(ctx, g, acc):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return B.kernels.linear_backward(x, w, g, need_x, need_w, need_b, *acc)

    @staticmethod
    def graph_backward(ctx, g):
        x, w = ctx.saved_for_graph()
        need_x, need_w, need_b = ctx.needs_input_grad
        n = math.prod(g.shape[:-1])                      # any leading dims, as one batch
        rows = g.reshape(n, g.shape[-1])
        return (g @ w if need_x else None,
                rows.t() @ x.reshape(n, x.shape[-1]) if need_w else None,
                rows.sum(0) if need_b else None)


    @staticmethod
    def shown_edges(node, edges):
        """PyTorch's F.linear: addmm(bias, input, weight.t())"""
        b, x, w = edges
        return b, x, shown("TBackward0", w)


# Linear named as PyTorch's graph of F.linear ends, by input rank and bias; next_functions
# as the rest of that graph (the input flattened to rows, the weight transposed)
LinearMm = renamed("LinearMm", Linear, "MmBackward0", "2-D input, no bias")
LinearMm.edge_order = (0, 1)                           # mm's: input, weight (no bias)
LinearMm.shown_edges = staticmethod(lambda node, edges: (edges[0], shown("TBackward0", edges[1])))
LinearView = renamed("LinearView", Linear, "ViewBackward0", "1-D or N-D input with a bias")
LinearView.shown_edges = staticmethod(lambda node, edges: (shown(
    "AddmmBackward0", edges[0], shown("ViewBackward0", edges[1]),
    shown("TBackward0", edges[2])),))
LinearSqueeze = renamed("LinearSqueeze", Linear, "SqueezeBackward4", "1-D input, no bias")
LinearSqueeze.shown_edges = staticmethod(lambda node, edges: (shown(
    "MmBackward0", shown("UnsqueezeBackward0", edges[1]), shown("TBackward0", edges[2])),))
LinearUnsafeView = renamed("LinearUnsafeView", Linear, "UnsafeViewBackward0",
                           "N-D input, no bias")
LinearUnsafeView.shown_edges = staticmethod(lambda node, edges: (shown(
    "MmBackward0", shown("ViewBackward0", edges[1]), shown("TBackward0", edges[2])),))


def linear_op(input_ndim, has_bias):
    """The Linear op whose grad_fn prints as PyTorch's for this input and bias"""
    if input_ndim == 2:
        return Linear if has_bias else LinearMm
    if has_bias:
        return LinearView
    return LinearSqueeze if input_ndim == 1 else LinearUnsafeView


class Addmm(Op):
    """y = beta c + alpha (m1 @ m2) (beta = 0: c ignored, NaNs too)   ->   dc = beta g,
    dm1 = alpha g @ m2^T, dm2 = alpha m1^T @ g"""
    @staticmethod
    def forward(ctx, c, m1, m2, beta, alpha):
        if m1.dtype.kind == "b":
            raise NotImplementedError('"addmm_impl_cpu_" not implemented for \'Bool\'')
        need_m1, need_m2 = ctx.needs_input_grad[1:3]
        ctx.save_for_backward(m1 if need_m2 else None, m2 if need_m1 else None)
        ctx.beta, ctx.alpha = beta, alpha
        y = B.kernels.matmul(m1, m2)
        if alpha != 1:
            y = y * alpha
        if beta == 0:
            return y
        return y + (c if beta == 1 else c * beta)

    @staticmethod
    def backward(ctx, g):
        m1, m2 = ctx.saved_tensors
        need_c, need_m1, need_m2 = ctx.needs_input_grad[:3]
        gc = (g if ctx.beta == 1 else g * ctx.beta) if need_c else None
        gm1 = gm2 = None
        if need_m1 or need_m2:
            gm1, gm2 = B.kernels.matmul_backward(m1, m2, g, need_m1, need_m2)
        if ctx.alpha != 1:
            gm1 = None if gm1 is None else gm1 * ctx.alpha
            gm2 = None if gm2 is None else gm2 * ctx.alpha
        return gc, gm1, gm2, None, None

    @staticmethod
    def graph_backward(ctx, g):
        m1, m2 = ctx.saved_for_graph()
        need_c, need_m1, need_m2 = ctx.needs_input_grad[:3]
        ga = g * ctx.alpha
        return (g * ctx.beta if need_c else None, ga @ m2.t() if need_m1 else None,
                m1.t() @ ga if need_m2 else None, None, None)
