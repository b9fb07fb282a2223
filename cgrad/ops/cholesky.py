"""Cholesky factor and triangular solve, batched, with PyTorch's derivatives: what
cgrad.distributions' MultivariateNormal needs until cgrad.linalg has them (the merge should
make linalg.cholesky and linalg.solve_triangular of these)."""
import numpy as np

from ..autograd.function import Op


def solve_triangular(a, b, upper):
    """x = a^-1 b for triangular a (..., n, n) and b (..., n, k), batch dims broadcast: row
    by row substitution, each row one product over the whole batch (no per-matrix LAPACK
    call: small matrices in big batches are the distributions' case)"""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    n = a.shape[-1]
    out = np.empty(batch + b.shape[-2:], np.result_type(a, b))
    for i in (range(n - 1, -1, -1) if upper else range(n)):
        done = slice(i + 1, n) if upper else slice(0, i)
        r = b[..., i, :] - (a[..., i:i + 1, done] @ out[..., done, :])[..., 0, :]
        out[..., i, :] = r / a[..., i, i, None]
    return out


def _mh(x):
    return np.swapaxes(x, -1, -2)


class SolveTriangular(Op):
    """X = A^-1 B, A lower (or upper) triangular   ->   dB = A^-T G, dA = -dB X^T, kept to
    A's triangle (PyTorch's linalg_solve_triangular_backward, left=True)"""
    grad_fn_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, a, b, upper):
        x = solve_triangular(a, b, upper)
        ctx.upper = upper
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = solve_triangular(_mh(a), g, not ctx.upper)
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -gb @ _mh(x)
            ga = np.triu(ga) if ctx.upper else np.tril(ga)
        return ga, gb if ctx.needs_input_grad[1] else None, None

    @staticmethod
    def graph_backward(ctx, g):
        a, x = ctx.saved_for_graph()
        gb = SolveTriangular.apply(a.mT, g, not ctx.upper)
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -gb.matmul(x.mT)
            ga = ga.triu() if ctx.upper else ga.tril()
        return ga, gb if ctx.needs_input_grad[1] else None, None


def _not_positive_definite(a):
    """PyTorch's error for the first matrix of a batch whose factorization fails, naming the
    order of its first leading minor that is not positive-definite"""
    flat = a.reshape((-1,) + a.shape[-2:])
    for i, m in enumerate(flat):
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                where = f"(Batch element {i}): " if a.ndim > 2 else ""
                return RuntimeError(
                    f"linalg.cholesky: {where}The factorization could not be completed because "
                    f"the input is not positive-definite (the leading minor of order {k} is not "
                    "positive-definite).")
    return RuntimeError("linalg.cholesky: The factorization could not be completed")


class Cholesky(Op):
    """L = cholesky(A), A = L L^T, from A's lower triangle
    ->   dA = L^-T Phi(L^T dL) L^-1, Phi taking the lower triangle with its off-diagonal part
    mirrored and halved (PyTorch's cholesky_backward)"""
    grad_fn_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, a):
        n = a.shape[-1]
        if a.ndim < 2 or a.shape[-2] != n:
            raise RuntimeError("linalg.cholesky: A must be batches of square matrices, but "
                               f"they are {a.shape[-2] if a.ndim > 1 else 1} by {n} matrices")
        try:
            lo = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise _not_positive_definite(a) from None
        ctx.save_for_backward(lo)
        return lo

    @staticmethod
    def backward(ctx, g):
        lo, = ctx.saved_tensors
        ga = np.tril(_mh(lo) @ g)
        ga = 0.5 * (ga + _mh(np.tril(ga, -1)))
        ga = solve_triangular(_mh(lo), ga, upper=True)               # L^-T ga
        return _mh(solve_triangular(_mh(lo), _mh(ga), upper=True)),  # ga L^-1

    @staticmethod
    def graph_backward(ctx, g):
        lo, = ctx.saved_for_graph()
        ga = lo.mT.matmul(g).tril()
        ga = 0.5 * (ga + ga.tril(-1).mT)
        ga = SolveTriangular.apply(lo.mT, ga, True)
        return SolveTriangular.apply(lo.mT, ga.mT, True).mT,


class CholeskyInverse(Op):
    """P = (L L^T)^-1 from the lower Cholesky factor L   ->   dL = -P (G + G^T) P L, the
    derivative in every entry of L (PyTorch's cholesky_inverse_backward: no triangle kept)"""
    @staticmethod
    def forward(ctx, lo):
        eye = np.broadcast_to(np.eye(lo.shape[-1], dtype=lo.dtype), lo.shape)
        lo_inv = solve_triangular(lo, eye, upper=False)
        p = _mh(lo_inv) @ lo_inv
        ctx.save_for_backward(lo, p)
        return p

    @staticmethod
    def backward(ctx, g):
        lo, p = ctx.saved_tensors
        return -(p @ (g + _mh(g)) @ p) @ lo,

    @staticmethod
    def graph_backward(ctx, g):
        lo, p = ctx.saved_for_graph()
        return -p.matmul(g + g.mT).matmul(p).matmul(lo),
