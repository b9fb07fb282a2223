"""PyTorch's randomized low-rank decompositions (torch.svd_lowrank, torch.pca_lowrank): the
algorithms of Halko, Martinsson and Tropp (2009) as PyTorch writes them, in cgrad's ops, so
gradients flow through them. Dense matrices only (cgrad has no sparse ones)."""
from . import linalg
from .creation import randn


def get_approximate_basis(A, q, niter=2, M=None):
    """Q with q orthonormal columns such that Q Q^H (A - M) approximates A - M (M None: 0):
    Algorithm 4.4, a random range finder with niter subspace iterations"""
    niter = 2 if niter is None else niter
    R = randn(A.shape[-1], q, dtype=A.dtype)
    X = A @ R
    if M is not None:
        X = X - M @ R
    Q = linalg.qr(X).Q
    for _ in range(niter):
        X = A.mH @ Q
        if M is not None:
            X = X - M.mH @ Q
        Q = linalg.qr(X).Q
        X = A @ Q
        if M is not None:
            X = X - M @ Q
        Q = linalg.qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) with A - M ~ U diag(S) V^H, of q columns (a slightly overestimated rank of
    A); M broadcast to A's shape, None for 0. Algorithm 5.1: randomized, so set the seed for
    repeatable results."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:
        A = A.mH
        if M is not None:
            M = M.mH
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = Q.mH @ A
    if M is not None:
        B = B - Q.mH @ M
    U, S, Vh = linalg.svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mH
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V): svd_lowrank of A with its columns centred (center), of q = min(6, m, n)
    components by default; V's columns are the principal directions, S**2 / (m - 1) the
    variances along them"""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - A.mean(dim=-2, keepdim=True), q, niter=niter)
