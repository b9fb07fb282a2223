"""torch.linalg's decompositions and solvers: forward by NumPy/SciPy (LAPACK) on the arrays,
backward as PyTorch's formulas (tools/autograd/derivatives.yaml, FunctionsManual.cpp), written
once, in Tensor ops.

Each op is an autograd.Function, not an Op: eigh, svd, qr, slogdet and lstsq have several
differentiable outputs, which a Function records and an Op does not. Its backward runs under
no_grad for a first derivative and is recorded under create_graph; since the formulas call
the ops of this module (solve, svd, matrix_exp...), every op has derivatives of any order.
Arguments are checked by the callers (cgrad/linalg.py); batch dims lead, as in PyTorch.
"""
import types

import numpy as np

from .._warn import quiet
from ..autograd.function import Function, _function_op, constant
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor, where
from .shape import Cat, _flat  # noqa: F401  (_flat: also used here)


class LinAlgError(RuntimeError):
    """PyTorch's torch.linalg.LinAlgError: a singular matrix, or one not positive-definite"""



def _scipy_linalg():
    """scipy.linalg (with its blas and lapack), imported on first use: ~0.15 s and ~25 MB that
    `import cgrad` should not pay"""
    import scipy.linalg
    return scipy.linalg


# np.linalg warns from its own module (past cgrad's filter) when a float32 result computed in
# float64 overflows in the cast back; PyTorch gives inf silently
quiet_linalg = types.SimpleNamespace(**{name: quiet(getattr(np.linalg, name)) for name in (
    "svd", "eigh", "eigvalsh", "solve", "det", "slogdet", "inv", "cholesky", "qr")})


def pytorch_node(name):
    """Class decorator: the Function's nodes print as PyTorch's `name` (<LinalgDetBackward0>),
    where a user's Function prints <ClsBackward>"""
    def named(cls):
        op = _function_op(cls)
        op.grad_fn_name = name
        for node_type in (op._node_type, op._output_node_type):
            node_type.__name__ = node_type.__qualname__ = name
        return cls
    return named


def _t(a, dtype):
    return Tensor._make(np.asarray(a, dtype=dtype))


def _eye(n, like):
    return constant(np.eye(n, dtype=like._data.dtype))


def _swap(a):
    return np.swapaxes(a, -1, -2)


def cat(tensors, dim):
    """Tensors of one dtype joined along dim (< 0 here), recorded"""
    return Cat.apply(dim % tensors[0].ndim, *tensors)


# ---- LAPACK's failures, found again only once NumPy raised: per matrix, so only on errors ------

def _infos(a, routine, **kw):
    """LAPACK's info of `routine` (getrf, potrf) for each matrix of a, in a's batch shape"""
    fn = _scipy_linalg().lapack.get_lapack_funcs(routine, (a,))
    flat = _flat(a)
    return np.array([fn(m, **kw)[-1] for m in flat], np.int32).reshape(a.shape[:-2])


def _raise_first(name, infos, message, error=LinAlgError):
    """LinAlgError (or error) for the first matrix whose info > 0, PyTorch's "(Batch element
    k): " before the message for batched inputs"""
    bad = np.flatnonzero(infos > 0)
    if bad.size:
        k = bad[0]
        batch = f"(Batch element {k}): " if infos.ndim else ""
        raise error(f"{name}: {batch}{message(int(infos.reshape(-1)[k]))}")


def svd_array(a, full_matrices=True, compute_uv=True):
    """np.linalg.svd, its failure PyTorch's LinAlgError (not NumPy's ValueError) naming the
    first matrix holding a NaN (gesdd fails on those; inf alone gives NaNs, as PyTorch's)"""
    try:
        return quiet_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    except np.linalg.LinAlgError:
        bad = np.isnan(a).any((-2, -1))
        if not bad.any():
            bad = ~np.isfinite(a).all((-2, -1))
        _raise_first("linalg.svd", bad.astype(np.int32), lambda i: (
            "The algorithm failed to converge because the input matrix contained non-finite "
            "values."))
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                          "matrix is ill-conditioned or has too many repeated singular "
                          "values.") from None


def eigh_array(a, UPLO="L", vectors=True):
    """np.linalg.eigh (eigvalsh), its failure PyTorch's LinAlgError naming the first matrix
    whose syevd info > 0 (NumPy's LAPACK's count, which MKL's can differ from)"""
    try:
        return quiet_linalg.eigh(a, UPLO=UPLO) if vectors else quiet_linalg.eigvalsh(a, UPLO=UPLO)
    except np.linalg.LinAlgError:
        infos = _infos(a, "syevd", compute_v=int(vectors), lower=int(UPLO == "L"))
        _raise_first("linalg.eigh", infos, lambda i: (
            "The algorithm failed to converge because the input matrix is ill-conditioned or "
            f"has too many repeated eigenvalues (error code: {i})."))
        raise LinAlgError("linalg.eigh: The algorithm failed to converge because the input "
                          "matrix is ill-conditioned or has too many repeated "
                          "eigenvalues.") from None


def _singular(name, a):
    _raise_first(name, _infos(a, "getrf"), lambda i: (
        f"The diagonal element {i} is zero, the inversion could not be completed because the "
        "input matrix is singular."))


def _lu_solve(a, b, trans):
    """A^-1 B (trans=1: A^-T B) per matrix through LU, with no error at a zero pivot: inf and
    NaN, as PyTorch's lu_solve gives"""
    lu, piv, _ = _getrf(a)
    return _getrs(lu, piv, b, trans)


def _solve_array(a, b, name=None):
    """A^-1 B, batch dims broadcast; a singular A raises PyTorch's LinAlgError naming `name`,
    or, with name None, gives inf/NaN there (a backward's solve, as PyTorch's lu_solve)"""
    try:
        return quiet_linalg.solve(a, b)
    except np.linalg.LinAlgError:
        if name is None:
            return _lu_solve(a, b, 0)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        infos = _infos(np.broadcast_to(a, batch + a.shape[-2:]), "getrf")
        _raise_first(name, infos, lambda i: "The solver failed because the input matrix is "
                                            "singular.")
        raise


# ---- the ops -------------------------------------------------------------------------------

@pytorch_node("LinalgDetBackward0")
class Det(Function):
    """d = det(A)   ->   gA = g d A^-T. PyTorch's first order gives 0 where d == 0; recorded
    (create_graph), the adjugate by SVD where |d| < 100 eps, which stays differentiable"""
    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        d = _t(quiet_linalg.det(A._data), A._data.dtype)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        if g is None:
            return None
        if not A.numel():                   # an empty gradient, as PyTorch's (not None)
            return _t(np.zeros(A.shape, A._data.dtype), A._data.dtype)
        n = A.shape[-1]
        eye = _eye(n, A)
        gd = (g * d)[..., None, None] * eye
        if not _grad_state.enabled:
            zero = (d == 0)[..., None, None]               # solves 0 = I X there
            return solve(where(zero, eye, A).mT, gd)
        small = (d.abs() < 100 * np.finfo(A._data.dtype).eps)[..., None, None]
        if not small._data.any():
            return solve(A.mT, gd)
        adjugate = _det_adjugate_grad(A, g)
        if small._data.all():
            return adjugate
        return where(small, adjugate, solve(where(small, eye, A).mT, gd))


def _det_adjugate_grad(A, g):
    """g times the adjugate's transpose, U diag(prod of the other singular values) Vh times
    det(U) det(Vh): defined where A is singular (Higham's)"""
    U, S, Vh = Svd.apply(A, False)
    alpha = Det.apply(U) * Det.apply(Vh) * g
    return (U * (alpha[..., None] * _prod_others(S)).unsqueeze(-2)) @ Vh


def _prod_others(s):
    """out[..., i] = prod of s[..., j] for j != i, exact with zeros (PyTorch's
    prod_safe_zeros_backward): exclusive products from the left and from the right"""
    ones = constant(np.ones(s.shape[:-1] + (1,), s._data.dtype))
    left = cat([ones, s[..., :-1]], -1).cumprod(-1)
    right = cat([ones, s[..., 1:].flip(-1)], -1).cumprod(-1).flip(-1)
    return left * right


@pytorch_node("LinalgSlogdetBackward0")
class Slogdet(Function):
    """(sign, log|det A|)   ->   gA = g_logabsdet A^-T (the sign's gradient is 0: real)"""
    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        sign, logabs = quiet_linalg.slogdet(A._data)
        dt = A._data.dtype
        sign, logabs = _t(sign, dt), _t(logabs, dt)       # sign too records (0 gradient)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx, gsign, glog):
        A, = ctx.saved_tensors
        if glog is None:
            return None
        return solve(A.mT, glog[..., None, None] * _eye(A.shape[-1], A))


@pytorch_node("LinalgInvExBackward0")
class Inv(Function):
    """(X = A^-1, info)   ->   gA = -X^T g X^T"""
    @staticmethod
    def forward(ctx, A, check):
        a = A._data
        ctx.set_materialize_grads(False)
        try:
            x = quiet_linalg.inv(a)
            infos = np.zeros(a.shape[:-2], np.int32)
        except np.linalg.LinAlgError:
            infos = _infos(a, "getrf")
            if check:
                _singular("linalg.inv", a)
            x = _lu_solve(a, np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape), 0)
        X = _t(x, a.dtype)
        ctx.save_for_backward(X)
        return X, Tensor._make(infos)

    @staticmethod
    def backward(ctx, g, ginfo):
        X, = ctx.saved_tensors
        if g is None:
            return None, None
        return -(X.mT @ (g @ X.mT)), None


@pytorch_node("LinalgSolveExBackward0")
class Solve(Function):
    """X = A^-1 B (left) or B A^-1 (B a vector or a batch of matrices; batch dims broadcast)
    ->   gB = A^-T g (g A^-T), gA = -gB X^T (-X^T gB). name: the op named by a singular A's
    LinAlgError; None (a backward's solve) gives inf/NaN there, as PyTorch's lu_solve"""
    @staticmethod
    def forward(ctx, A, B, left, vector, name):
        ctx.set_materialize_grads(False)
        a, b = A._data, B._data
        if vector:
            x = _solve_array(a, b[..., None], name)[..., 0]
        elif left:
            x = _solve_array(a, b, name)
        else:
            x = _swap(_solve_array(_swap(a), _swap(b), name))
        X = _t(x, a.dtype)
        ctx.left, ctx.vector = left, vector
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g, *_):
        A, X = ctx.saved_tensors
        if g is None:
            return (None,) * 5
        need_a = ctx.needs_input_grad[0]
        gB = solve(A.mT, g, ctx.left, ctx.vector)
        gA = None
        if need_a:
            if ctx.vector:
                gA = -(gB.unsqueeze(-1) * X.unsqueeze(-2))
            else:
                gA = -(gB @ X.mT) if ctx.left else -(X.mT @ gB)
        return gA, gB, None, None, None


def solve(A, B, left=True, vector=False, name=None):
    """Solve.apply (PyTorch's linalg.solve, arguments as checked by cgrad.linalg)"""
    return Solve.apply(A, B, left, vector, name)


def _broadcast_batch(a, b):
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:])


def _substitute(a, b, upper, unit, out):
    """out = a^-1 b for triangular a and b of one batch shape by forward (back) substitution,
    each row one product over the whole batch: n steps in Python however many matrices (the
    distributions' batches of small ones), where trsm takes one call per matrix"""
    n = a.shape[-1]
    for i in (range(n - 1, -1, -1) if upper else range(n)):
        done = slice(i + 1, n) if upper else slice(0, i)
        r = b[..., i, :] - (a[..., i:i + 1, done] @ out[..., done, :])[..., 0, :]
        out[..., i, :] = r if unit else r / a[..., i, i, None]


def _triangular_array(a, b, upper, unit, trans):
    """op(A)^-1 B for triangular A (trans: op(A) = A^T), batch dims broadcast, by BLAS's trsm
    matrix by matrix (SciPy's batched solve_triangular costs ~0.3 ms a call; it also raises
    at a zero on A's diagonal, where trsm gives inf/NaN as PyTorch's)"""
    a, b = _broadcast_batch(a, b)
    out = np.empty(b.shape, b.dtype)
    if not out.size:
        return out
    fa, fb, fo = _flat(a), _flat(b), _flat(out)
    if fa.shape[0] > a.shape[-1]:            # more matrices than rows: row by row instead
        with np.errstate(all="ignore"):
            _substitute(_swap(a) if trans else a, b, upper != bool(trans), unit, out)
        return out
    trsm = _scipy_linalg().blas.get_blas_funcs("trsm", (a, b))
    with np.errstate(all="ignore"):
        for k in range(fa.shape[0]):
            fo[k] = trsm(1.0, fa[k], fb[k], lower=not upper, trans_a=trans, diag=unit)
    return out


@pytorch_node("LinalgSolveTriangularBackward0")
class SolveTriangular(Function):
    """X = A^-1 B (left) or B A^-1, A upper or lower triangular (unitriangular: ones on its
    diagonal, not read)   ->   gB = A^-T g (g A^-T), gA = -gB X^T (-X^T gB) on A's triangle"""
    @staticmethod
    def forward(ctx, A, B, upper, left, unit):
        ctx.set_materialize_grads(False)
        a, b = A._data, B._data
        if left:
            x = _triangular_array(a, b, upper, unit, 0)
        else:                                   # X A = B: A^T X^T = B^T
            x = _swap(_triangular_array(a, _swap(b), upper, unit, 1))
        X = _t(x, a.dtype)
        ctx.upper, ctx.left, ctx.unit = upper, left, unit
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        if g is None:
            return (None,) * 5
        upper, left, unit = ctx.upper, ctx.left, ctx.unit
        gB = SolveTriangular.apply(A.mT, g, not upper, left, unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(gB @ X.mT) if left else -(X.mT @ gB)
            gA = gA.triu(int(unit)) if upper else gA.tril(-int(unit))
        return gA, gB, None, None, None


def _nan_pivot(a, c, infos, upper):
    """(factor, infos) as LAPACK's potrf (PyTorch's) gives them where a pivot is NaN, which
    OpenBLAS's (NumPy's, SciPy's) goes on past: info the first NaN on the diagonal (nothing
    failed before it), the factor's columns (upper: rows) from that one on a's, with the
    pivot itself on the diagonal"""
    diag = np.isnan(np.diagonal(c, 0, -2, -1))
    nan = (infos == 0) & diag.any(-1)
    if not nan.any():
        return c, infos
    k = diag.argmax(-1)[..., None, None]                   # the NaN pivot, 0-based
    i, j = np.indices(a.shape[-2:])
    done = ((i if upper else j) < k) | ((i == k) & (j == k))
    part = np.where(done, c, np.triu(a) if upper else np.tril(a))
    return (np.where(nan[..., None, None], part, c),
            np.where(nan, diag.argmax(-1) + 1, infos).astype(np.int32))


@pytorch_node("LinalgCholeskyExBackward0")
class Cholesky(Function):
    """(L, info), A = L L^T (upper: U^T U, U = L^T); only A's lower (upper) triangle is read
    ->   gA = L^-T phi(L^T gL) L^-1, phi(X) = (tril(X) + tril(X, -1)^T) / 2 (symmetric)"""
    @staticmethod
    def forward(ctx, A, upper, check, name):
        ctx.set_materialize_grads(False)
        a = A._data
        infos = np.zeros(a.shape[:-2], np.int32)
        try:                           # (torch.cholesky passes empty inputs of any shape)
            c = quiet_linalg.cholesky(a, upper=upper) if a.size else a.copy()
        except np.linalg.LinAlgError:
            infos = _infos(a, "potrf", lower=not upper)
            potrf = _scipy_linalg().lapack.get_lapack_funcs("potrf", (a,))
            flat = [potrf(m, lower=not upper, clean=True)[0] for m in _flat(a)]
            c = np.stack(flat).reshape(a.shape) if flat else a.copy()
        if a.ndim >= 2 and a.shape[-1]:
            c, infos = _nan_pivot(a, c, infos, upper)
        if check:
            _raise_first(name, infos, lambda i: (
                "The factorization could not be completed because the input is not "
                f"positive-definite (the leading minor of order {i} is not positive-definite)."))
        L = _t(c, a.dtype)
        ctx.upper = upper
        ctx.save_for_backward(L)
        return L, Tensor._make(infos)

    @staticmethod
    def backward(ctx, gL, ginfo):
        L, = ctx.saved_tensors
        if gL is None:
            return None, None, None, None
        if ctx.upper:
            L, gL = L.mT, gL.mT
        gA = (L.mT @ gL).tril()
        gA = 0.5 * (gA + gA.tril(-1).mT)
        gA = SolveTriangular.apply(L.mT, gA, True, True, False)
        gA = SolveTriangular.apply(L, gA, False, False, False)
        return gA, None, None, None


@pytorch_node("LinalgEighBackward0")
class Eigh(Function):
    """(eigenvalues L ascending, eigenvectors V) of a symmetric A (its lower or upper triangle)
    ->   gA = V (diag(gL) + skew(V^T gV) / E) V^T, E_ij = L_j - L_i (1 on the diagonal)"""
    @staticmethod
    def forward(ctx, A, uplo):
        ctx.set_materialize_grads(False)
        w, v = eigh_array(A._data, uplo)
        dt = A._data.dtype
        L, V = _t(w, dt), _t(v, dt)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        if gV is None:
            if gL is None:
                return None, None
            return (V * gL.unsqueeze(-2)) @ V.mT, None
        VhgV = V.mT @ gV
        VhgV = 0.5 * (VhgV - VhgV.mT)
        E = L.unsqueeze(-2) - L.unsqueeze(-1) + _eye(L.shape[-1], L)   # its diagonal was 0
        inner = VhgV / E
        if gL is not None:                     # skew: its diagonal is 0
            inner = inner + gL.diag_embed()
        return V @ (inner @ V.mT), None


@pytorch_node("LinalgSvdBackward0")
class Svd(Function):
    """A = U diag(S) Vh (S descending)   ->   PyTorch's svd_backward (real case): with
    E_jk = S_k^2 - S_j^2, gA = U [(skew(U^T gU) S + S skew(Vh gVh^T)) / E + diag(gS)] Vh, plus
    (I - U U^T) gU S^-1 Vh if m > n, U S^-1 gVh (I - V Vh) if m < n (full_matrices: the parts
    beyond the first min(m, n) columns get none)"""
    @staticmethod
    def forward(ctx, A, full):
        ctx.set_materialize_grads(False)
        u, s, vh = svd_array(A._data, full)
        dt = A._data.dtype
        U, S, Vh = _t(u, dt), _t(s, dt), _t(vh, dt)
        ctx.full = full
        ctx.save_for_backward(U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        if gU is None and gS is None and gVh is None:
            return None, None
        k = S.shape[-1]
        if ctx.full:
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        m, n = U.shape[-2], Vh.shape[-1]
        if gU is None and gVh is None:          # svdvals: U diag(gS) Vh
            return (U @ (gS.unsqueeze(-1) * Vh) if m >= n else (U * gS.unsqueeze(-2)) @ Vh), None
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye(k, S)
        UhgU = VhgV = None
        if gU is not None:
            UhgU = U.mT @ gU
            UhgU = UhgU - UhgU.mT
        if gVh is not None:
            VhgV = Vh @ gVh.mT
            VhgV = VhgV - VhgV.mT
        if UhgU is not None and VhgV is not None:
            gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
        elif UhgU is not None:
            gA = (UhgU / E) * S.unsqueeze(-2)
        else:
            gA = S.unsqueeze(-1) * (VhgV / E)
        if gS is not None:
            gA = gA + gS.diag_embed()
        if m > n and gU is not None:
            gA = U @ gA
            gUSinv = gU / S.unsqueeze(-2)
            gA = gA + gUSinv - U @ (U.mT @ gUSinv)
            gA = gA @ Vh
        elif m < n and gVh is not None:
            gA = gA @ Vh
            SinvgVh = gVh / S.unsqueeze(-1)
            gA = gA + SinvgVh - (SinvgVh @ Vh.mT) @ Vh
            gA = U @ gA
        else:
            gA = U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh
        return gA, None


def _qr_array(a, mode):
    if mode == "r":
        return np.zeros((0,), a.dtype), quiet_linalg.qr(a, mode="r")
    return quiet_linalg.qr(a, mode=mode)


@pytorch_node("LinalgQrBackward0")
class Qr(Function):
    """A = Q R (Householder, LAPACK's signs)   ->   PyTorch's linalg_qr_backward: m >= n,
    gA = (gQ + Q syminvadj(triu(gR R^T - Q^T gQ))) R^-T; m < n, through R's leading m x m
    block. Not differentiable for mode 'r', nor 'complete' with m > n (PyTorch's errors)"""
    @staticmethod
    def forward(ctx, A, mode):
        ctx.set_materialize_grads(False)
        q, r = _qr_array(A._data, mode)
        dt = A._data.dtype
        Q, R = _t(q, dt), _t(r, dt)
        ctx.mode = mode
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        if gQ is None and gR is None:
            return None, None
        if gQ is not None:
            gA = -(Q.mT @ gQ) if gR is None else gR @ R.mT - Q.mT @ gQ
        else:
            gA = gR @ R.mT
        if m >= n:
            gA = gA.triu()
            gA = Q @ (gA + gA.mT - gA.diagonal(0, -2, -1).diag_embed())   # diagonal once
            if gQ is not None:
                gA = gA + gQ
            return SolveTriangular.apply(R.mT, gA, False, False, False), None
        gA = -gA
        gA = Q @ (gA - gA.mT).tril()
        gA = SolveTriangular.apply(R[..., :m].mT, gA, False, False, False)
        gA = cat([gA, constant(np.zeros(gA.shape[:-1] + (n - m,), gA._data.dtype))], -1)
        if gR is not None:
            gA = gA + Q @ gR
        return gA, None


@pytorch_node("LinalgMatrixExpBackward0")
class MatrixExp(Function):
    """Y = exp(A)   ->   gA = the top-right block of exp([[A^T, g], [0, A^T]]) (Mathias)"""
    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        a = A._data
        ctx.save_for_backward(A)
        return _t(_scipy_linalg().expm(a) if a.size else a.copy(), a.dtype)

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        if g is None:
            return None
        n = A.shape[-1]
        At = A.mT
        zero = constant(np.zeros(At.shape, At._data.dtype))
        block = cat([cat([At, g], -1), cat([zero, At], -1)], -2)
        return MatrixExp.apply(block)[..., :n, n:]


@pytorch_node("LinalgPinvBackward0")
class Pinv(Function):
    """A^+ from the SVD (hermitian: the eigendecomposition), singular values at or below
    max(atol, rtol * the largest) taken as 0   ->   PyTorch's pinv_backward"""
    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        ctx.set_materialize_grads(False)
        a = A._data
        if hermitian:
            w, u = eigh_array(a)
            s = np.abs(w)
            top = s.max(-1, keepdims=True, initial=0)          # (0 for 0 by 0 matrices)
            tol = np.maximum(atol[..., None], rtol[..., None] * top)
            with np.errstate(divide="ignore"):
                sinv = np.where(s > tol, 1 / w, 0).astype(a.dtype)
            x = (u * sinv[..., None, :]) @ _swap(u)
        else:
            u, s, vh = svd_array(a, False)
            tol = np.maximum(atol[..., None], rtol[..., None] * s[..., :1])
            with np.errstate(divide="ignore"):
                sinv = np.where(s > tol, 1 / s, 0).astype(a.dtype)
            x = (_swap(vh) * sinv[..., None, :]) @ _swap(u)
        X = _t(x, a.dtype)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        if g is None:
            return None, None, None, None
        return _pinv_backward(g, X, A), None, None, None


def _pinv_backward(g, P, A):
    """PyTorch's pinv_backward(grad, pinvA, A), the smaller products first"""
    m, n = A.shape[-2], A.shape[-1]
    Ph, gh = P.mT, g.mT
    if m <= n:
        K = gh @ P
        KPh = K @ Ph
        return -(P @ K).mT + KPh - (A @ P) @ KPh + (Ph @ P) @ (gh - K @ A)
    K = P @ gh
    PhK = Ph @ K
    return -(K @ P).mT + (gh - A @ K) @ P @ Ph + PhK - PhK @ P @ A


def tolerances(A, atol, rtol):
    """PyTorch's get_atol_rtol, as float64 arrays: atol 0 and rtol eps * max(m, n) by default,
    rtol 0 where a given atol is > 0"""
    def array(t):
        return np.asarray(t._data if isinstance(t, Tensor) else t, np.float64)
    atol_a = np.zeros(()) if atol is None else array(atol)
    if rtol is not None:
        return atol_a, array(rtol)
    default = np.asarray(np.finfo(A._data.dtype).eps * max(A.shape[-2:]))
    return atol_a, (default if atol is None else np.where(atol_a > 0, 0.0, default))


def pinv(A, atol=None, rtol=None, hermitian=False):
    """Pinv.apply with PyTorch's default tolerances"""
    return Pinv.apply(A, *tolerances(A, atol, rtol), hermitian)


def _lstsq_illegal(fa, fb, driver, batch):
    """PyTorch's RuntimeError where its LAPACK (MKL) refuses a NaN in A (gelsd: any non-finite
    value; argument 4, gels's 5) or in B (argument 6, gels's 7) as an illegal value, matrix by
    matrix: OpenBLAS's prints to stderr and goes on (gelsd: a ValueError). PyTorch's message
    is an internal assert's; the part after its source location"""
    bad_a = (lambda x: ~np.isfinite(x)) if driver == "gelsd" else np.isnan
    for i, (x, y) in enumerate(zip(fa, fb)):
        arg = 0                    # (with no B columns, gelsy and gels do not look at A)
        if (y.shape[-1] or driver in ("gelsd", "gelss")) and bad_a(x).any():
            arg = 4
        elif np.isnan(y).any():
            arg = 6
        if arg:
            where = f"(Batch element {i}): " if batch else ""
            raise RuntimeError(f"torch.linalg.lstsq: {where}Argument {arg + (driver == 'gels')} "
                               "has illegal value. Most certainly there is a bug in the "
                               "implementation calling the backend library.")


@pytorch_node("LinalgLstsqBackward0")
class Lstsq(Function):
    """(solution, residuals, rank, singular_values) of min |A X - B| per matrix (LAPACK's
    gelsy/gelsd/gelss; 'gels' as gelsy, without the rank)   ->   PyTorch's
    linalg_lstsq_backward: through pinv(A) for the solution, 2 (A X - B) for the residuals"""
    @staticmethod
    def forward(ctx, A, B, rcond, driver, vector):
        ctx.set_materialize_grads(False)
        a, b = A._data, B._data
        if vector:
            b = b[..., None]
        a, b = _broadcast_batch(a, b)
        m, n = a.shape[-2:]
        batch, k = a.shape[:-2], b.shape[-1]
        fa, fb = _flat(a), _flat(b)
        x = np.empty((fa.shape[0], n, k), a.dtype)
        ranks = np.zeros(fa.shape[0], np.int64)
        svs = np.zeros((fa.shape[0], min(m, n)), a.dtype)
        _lstsq_illegal(fa, fb, driver, batch)
        lapack_driver = "gelsy" if driver == "gels" else driver
        for i in range(fa.shape[0] if k else 0):        # (no B columns: LAPACK is not called)
            x[i], _, ranks[i], sv = _scipy_linalg().lstsq(fa[i], fb[i], cond=rcond, check_finite=False,
                                              lapack_driver=lapack_driver)
            if sv is not None:
                svs[i] = sv
        x = x.reshape(batch + (n, k))
        dt = a.dtype
        residuals = np.zeros((0,), dt)
        if m > n and driver != "gelsy" and (driver == "gels" or (ranks == n).all()):
            residuals = ((a @ x - b) ** 2).sum(-2)
        X = _t(x[..., 0] if vector else x, dt)
        Res = _t(residuals, dt)
        rank = Tensor._make(ranks.reshape(batch) if driver != "gels" else np.zeros((0,), np.int64))
        sv = _t(svs.reshape(batch + (min(m, n),)) if driver in ("gelsd", "gelss")
                else np.zeros((0,), dt), dt)
        ctx.mark_non_differentiable(sv)
        ctx.vector = vector
        ctx.save_for_backward(A, B, X)
        return X, Res, rank, sv

    @staticmethod
    def backward(ctx, gX, gR, grank, gsv):
        A, B, X = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        has_r = gR is not None and gR.numel()
        if gX is None and not has_r:
            return (None,) * 5
        if ctx.vector:
            B, X = B.unsqueeze(-1), X.unsqueeze(-1)
            gX = None if gX is None else gX.unsqueeze(-1)
        gA = gB = None
        if gX is not None:
            P = pinv(A)
            if need_a:
                gA = _pinv_backward(gX @ B.mT, P, A)
            if need_b:
                gB = P.mT @ gX
        if has_r:
            r = A @ X - B
            gL = gR.unsqueeze(-2)
            if need_a:
                gA_r = 2 * (gL * r) @ X.mT
                gA = gA_r if gA is None else gA + gA_r
            if need_b:
                gB_r = -2 * gL * r
                gB = gB_r if gB is None else gB + gB_r
        if ctx.vector and gB is not None:
            gB = gB.squeeze(-1)
        return gA, gB, None, None, None


@pytorch_node("LinalgCrossBackward0")
class Cross(Function):
    """c = a x b along dim (batch dims broadcast)   ->   ga = b x g, gb = g x a"""
    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.set_materialize_grads(False)
        x, y = np.broadcast_arrays(a._data, b._data)
        ctx.dim = dim
        ctx.save_for_backward(a, b)
        return _t(quiet(np.cross)(x, y, axis=dim), np.result_type(x, y))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        if g is None:
            return None, None, None
        need_a, need_b = ctx.needs_input_grad[:2]
        return (Cross.apply(b, g, ctx.dim) if need_a else None,
                Cross.apply(g, a, ctx.dim) if need_b else None, None)


def _cholesky_solve_array(c, b, upper):
    """(L L^T)^-1 B = L^-T (L^-1 B) (upper: U^-1 (U^-T B)), by two triangular solves as
    LAPACK's potrs"""
    if upper:
        return _triangular_array(c, _triangular_array(c, b, True, False, 1), True, False, 0)
    return _triangular_array(c, _triangular_array(c, b, False, False, 0), False, False, 1)


@pytorch_node("CholeskySolveBackward0")
class CholeskySolve(Function):
    """X = (L L^T)^-1 B (upper: (U^T U)^-1 B)   ->   gB = (L L^T)^-1 g,
    gL = -(gB X^T + X gB^T) L (upper: -U (gB X^T + X gB^T))"""
    @staticmethod
    def forward(ctx, B, L, upper):
        ctx.set_materialize_grads(False)
        x = _cholesky_solve_array(L._data, B._data, upper)
        X = _t(x, x.dtype)
        ctx.upper = upper
        ctx.save_for_backward(L, X)
        return X

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        if g is None:
            return None, None, None
        gB = CholeskySolve.apply(g, L, ctx.upper)
        gL = None
        if ctx.needs_input_grad[1]:
            common = gB @ X.mT
            common = common + common.mT
            gL = -(L @ common) if ctx.upper else -(common @ L)
        return gB, gL, None


@pytorch_node("CholeskyInverseBackward0")
class CholeskyInverse(Function):
    """X = (L L^T)^-1 (upper: (U^T U)^-1)   ->   gL = -X (g + g^T) X L (upper: -U X (g+g^T) X)"""
    @staticmethod
    def forward(ctx, L, upper):
        ctx.set_materialize_grads(False)
        c = L._data
        x = _cholesky_solve_array(c, np.eye(c.shape[-1], dtype=c.dtype), upper)
        X = _t(x, c.dtype)
        ctx.upper = upper
        ctx.save_for_backward(L, X)
        return X

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        if g is None:
            return None, None
        common = X @ ((g + g.mT) @ X)
        return (-(L @ common) if ctx.upper else -(common @ L)), None


# ---- LU ------------------------------------------------------------------------------------

def _getrf(a):
    """LAPACK's getrf matrix by matrix: (LU packed, 0-based pivots, info), batch shapes kept"""
    getrf = _scipy_linalg().lapack.get_lapack_funcs("getrf", (a,))
    m, n = a.shape[-2:]
    flat = _flat(a)
    lu = np.empty(flat.shape, a.dtype)
    piv = np.zeros((flat.shape[0], min(m, n)), np.int32)
    info = np.zeros(flat.shape[0], np.int32)
    if a.size:
        for i, x in enumerate(flat):
            lu[i], piv[i], info[i] = getrf(x)
    batch = a.shape[:-2]
    return lu.reshape(a.shape), piv.reshape(batch + (min(m, n),)), info.reshape(batch)


def _permutation(piv, m, dtype):
    """P with A = P L U from LAPACK's row swaps (0-based): A's rows perm are L U"""
    perm = np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
    flat, swaps = _flat(perm, 1), _flat(piv, 1)
    for row, sw in zip(flat, swaps):
        for i, j in enumerate(sw):
            row[i], row[j] = row[j], row[i]
    return _swap(np.eye(m, dtype=dtype)[perm])


def _unpack(LU):
    """(L unit lower m x k, U upper k x n) of a packed LU, in Tensor ops (recorded)"""
    m, n = LU.shape[-2:]
    k = min(m, n)
    eye = constant(np.eye(m, k, dtype=LU._data.dtype))
    return LU[..., :k].tril(-1) + eye, LU[..., :k, :].triu()


def _lu_backward(gL, gU, P, L, U):
    """gA of A = P L U (L unit lower m x k, U upper k x n): with X = L^-1 P^T dA U^-1 on the
    leading k x k block, dL = L tril(X, -1), dU = triu(X) U, the rest of L or U solved for;
    its adjoint (the triangles of gL, gU that L and U lack drop out by themselves)"""
    m, n = L.shape[-2], U.shape[-1]
    if m == n:
        phi = (L.mT @ gL).tril(-1) + (gU @ U.mT).triu()
        gA = _solve_lu_blocks(phi, L, U)
    elif m < n:                                         # wide: U = [U1 U2], L square
        U1, U2, gU1, gU2 = U[..., :m], U[..., m:], gU[..., :m], gU[..., m:]
        phi = (L.mT @ gL - gU2 @ U2.mT).tril(-1) + (gU1 @ U1.mT).triu()
        gA = cat([_solve_lu_blocks(phi, L, U1),
                  SolveTriangular.apply(L.mT, gU2, True, True, True)], -1)
    else:                                               # tall: L = [L1; L2], U square
        L1, L2, gL1, gL2 = L[..., :n, :], L[..., n:, :], gL[..., :n, :], gL[..., n:, :]
        phi = (L1.mT @ gL1).tril(-1) + (gU @ U.mT - L2.mT @ gL2).triu()
        gA = cat([_solve_lu_blocks(phi, L1, U),
                  SolveTriangular.apply(U.mT, gL2, False, False, False)], -2)
    return P @ gA


def _solve_lu_blocks(phi, L, U):
    """L^-T phi U^-T for unit lower L and upper U (square)"""
    x = SolveTriangular.apply(L.mT, phi, True, True, True)
    return SolveTriangular.apply(U.mT, x, False, False, False)


@pytorch_node("LinalgLuFactorExBackward0")
class LuFactor(Function):
    """(LU packed, pivots 1-based int32, info) of A = P L U (partial pivoting; m x n)
    ->   the LU backward of (P, L, U) on LU's two triangles"""
    @staticmethod
    def forward(ctx, A, check):
        a = A._data
        lu, piv, info = _getrf(a)
        if check:
            _raise_first("torch.linalg.lu_factor", info, lambda i: (
                f"U[{i},{i}] is zero and using it on lu_solve would result in a division by "
                "zero. If you still want to perform the factorization, consider calling "
                "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"), RuntimeError)
        LU = _t(lu, a.dtype)
        ctx.P = _permutation(piv, a.shape[-2], a.dtype)
        ctx.save_for_backward(LU)
        return LU, Tensor._make(piv + 1), Tensor._make(info)

    @staticmethod
    def backward(ctx, gLU, gpiv, ginfo):
        LU, = ctx.saved_tensors
        k = min(LU.shape[-2:])
        L, U = _unpack(LU)
        return _lu_backward(gLU[..., :k], gLU[..., :k, :], constant(ctx.P), L, U), None


@pytorch_node("LinalgLuBackward0")
class Lu(Function):
    """(P, L, U) with A = P L U   ->   the LU backward (P has none)"""
    @staticmethod
    def forward(ctx, A):
        a = A._data
        lu, piv, _ = _getrf(a)
        m, n = a.shape[-2:]
        k = min(m, n)
        P = _t(_permutation(piv, m, a.dtype), a.dtype)
        L = _t(np.tril(lu[..., :k], -1) + np.eye(m, k, dtype=a.dtype), a.dtype)
        U = _t(np.triu(lu[..., :k, :]), a.dtype)
        ctx.mark_non_differentiable(P)
        ctx.save_for_backward(P, L, U)
        return P, L, U

    @staticmethod
    def backward(ctx, gP, gL, gU):
        P, L, U = ctx.saved_tensors
        return _lu_backward(gL, gU, P, L, U)


@pytorch_node("LuUnpackBackward0")
class LuUnpack(Function):
    """(L unit lower m x k, U upper k x n) of a packed m x n LU   ->   gLU = gL's strict lower
    triangle + gU's upper one, each in its corner"""
    @staticmethod
    def forward(ctx, LU):
        lu = LU._data
        m, n = lu.shape[-2:]
        k = min(m, n)
        ctx.shape = lu.shape
        return (_t(np.tril(lu[..., :k], -1) + np.eye(m, k, dtype=lu.dtype), lu.dtype),
                _t(np.triu(lu[..., :k, :]), lu.dtype))

    @staticmethod
    def backward(ctx, gL, gU):
        m, n = ctx.shape[-2:]
        k = min(m, n)
        parts = []
        if gL is not None:
            gL = gL.tril(-1)
            parts.append(gL if k == n else cat([gL, constant(np.zeros(
                ctx.shape[:-1] + (n - k,), gL._data.dtype))], -1))
        if gU is not None:
            gU = gU.triu()
            parts.append(gU if k == m else cat([gU, constant(np.zeros(
                ctx.shape[:-2] + (m - k, n), gU._data.dtype))], -2))
        return sum(parts[1:], parts[0]) if parts else None


def _getrs(lu, piv, b, trans):
    """op(A)^-1 B from getrf's LU and 0-based pivots (trans: op(A) = A^T), matrix by matrix,
    batch dims broadcast"""
    batch = np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])
    lu = _flat(np.broadcast_to(lu, batch + lu.shape[-2:]))
    piv = _flat(np.broadcast_to(piv, batch + piv.shape[-1:]), 1)
    out = _flat(np.broadcast_to(b, batch + b.shape[-2:])).copy()
    if out.size:
        getrs = _scipy_linalg().lapack.get_lapack_funcs("getrs", (lu, out))
        with np.errstate(all="ignore"):
            for i in range(out.shape[0]):
                out[i] = getrs(lu[i], piv[i], out[i], trans=trans)[0]
    return out.reshape(batch + b.shape[-2:])


@pytorch_node("LinalgLuSolveBackward0")
class LuSolve(Function):
    """X with A X = B, A^T X = B (adjoint), X A = B or X A^T = B (left=False), A = P L U from
    lu_factor   ->   gB = lu_solve(LU, gX, left, not adjoint); gLU: PyTorch's
    linalg_lu_solve_LU"""
    @staticmethod
    def forward(ctx, LU, pivots, B, left, adjoint):
        lu, piv, b = LU._data, pivots._data - 1, B._data
        if left:
            x = _getrs(lu, piv, b, int(adjoint))
        else:                                   # X op(A) = B: op(A)^T X^T = B^T
            x = _swap(_getrs(lu, piv, _swap(b), int(not adjoint)))
        X = _t(x, b.dtype)
        ctx.left, ctx.adjoint = left, adjoint
        ctx.P = _permutation(piv, lu.shape[-2], lu.dtype)
        ctx.save_for_backward(LU, pivots, X)
        return X

    @staticmethod
    def backward(ctx, gX):
        LU, pivots, X = ctx.saved_tensors
        left, adjoint = ctx.left, ctx.adjoint
        need_lu, _, need_b = ctx.needs_input_grad[:3]
        gB = LuSolve.apply(LU, pivots, gX, left, not adjoint) if need_b else None
        gLU = None
        if need_lu:
            L, U = _unpack(LU)
            P = constant(ctx.P)
            if left != adjoint:
                gR = SolveTriangular.apply(U.mT, -((gX if left else gX.mT) @ (
                    X.mT if left else X)), False, True, False)
                gL = SolveTriangular.apply(L.mT, gR @ U.mT, True, True, True).tril(-1)
                gLU = gL + gR.triu()
            else:
                gR = -(P.mT @ (X if left else X.mT) @ (gX.mT if left else gX) @ P)
                gR = SolveTriangular.apply(L.mT, gR, True, False, True)
                gU = SolveTriangular.apply(U.mT, L.mT @ gR, False, False, False).triu()
                gLU = gR.tril(-1) + gU
        return gLU, None, gB, None, None


# ---- LDL (Bunch-Kaufman): no derivative in PyTorch, so arrays only ----------------------------

def sytrf(a):
    """LAPACK's sytrf on each matrix's lower triangle (with the optimal workspace, as PyTorch
    asks for: the blocked algorithm): (LD, 1-based pivots as LAPACK's, negative for 2 x 2
    blocks, info), LD's strict upper triangle zeroed as PyTorch's"""
    linalg = _scipy_linalg()
    factor, workspace = linalg.lapack.get_lapack_funcs(("sytrf", "sytrf_lwork"), (a,))
    n = a.shape[-1]
    flat = _flat(a)
    ld = np.zeros(flat.shape, a.dtype)
    piv = np.zeros(flat.shape[:2], np.int32)
    info = np.zeros(flat.shape[0], np.int32)
    if a.size:
        lwork = max(int(workspace(n, lower=1)[0]), 1)
        for i, x in enumerate(flat):
            ld[i], piv[i], info[i] = factor(x, lower=1, lwork=lwork)
    batch = a.shape[:-2]
    return np.tril(ld).reshape(a.shape), piv.reshape(batch + (n,)), info.reshape(batch)


def sytrs(ld, piv, b):
    """A^-1 B per matrix from sytrf's (LD, pivots), batch dims broadcast"""
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    ld = _flat(np.broadcast_to(ld, batch + ld.shape[-2:]))
    piv = _flat(np.broadcast_to(piv, batch + piv.shape[-1:]), 1).astype(np.int32)
    out = _flat(np.broadcast_to(b, batch + b.shape[-2:])).copy()
    if out.size:
        solve = _scipy_linalg().lapack.get_lapack_funcs("sytrs", (ld, out))
        with np.errstate(all="ignore"):
            for i in range(out.shape[0]):
                out[i] = solve(ld[i], piv[i], out[i], lower=1)[0]
    return out.reshape(batch + b.shape[-2:])
