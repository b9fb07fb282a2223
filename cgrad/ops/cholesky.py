"""Cholesky factor and triangular solve, batched, with PyTorch's derivatives: what
cgrad.distributions' MultivariateNormal needs until cgrad.linalg has them (the merge should
make linalg.cholesky and linalg.solve_triangular of these)."""
import numpy as np

from ..autograd.function import Op


def solve_triangular(a, b, upper):
    """x = a^-1 b for triangular a (..., n, n) and b (..., n, k), batch dims broadcast:
    LAPACK's trtrs by SciPy, matrix by matrix"""
    from scipy.linalg import solve_triangular as trtrs
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + b.shape[-2:], np.result_type(a, b))
    for i in np.ndindex(*batch):
        out[i] = trtrs(a[i], b[i], lower=not upper, check_finite=False)
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
