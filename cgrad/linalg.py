"""cgrad.linalg: PyTorch's torch.linalg for float32/float64 tensors, batch dims leading.

The decompositions and solvers are the ops of cgrad/ops/matrix.py (LAPACK through NumPy and
SciPy forward, PyTorch's gradient formulas backward); the norms, multi_dot, vecdot and
matrix_power are composed from other ops, as PyTorch composes them, so their gradients (and
grad_fn names) are those ops'. Complex dtypes, and so eig/eigvals, are not there: cgrad has
no complex tensors.
"""
import numbers

import numpy as np

from ._dtype import require_float, to_numpy_dtype, torch_name
from ._functions import _into_out, cat
from ._functions import matmul  # noqa: F401  (torch.linalg.matmul is torch.matmul)
from .ops import matrix as M
from .ops import reduce as R
from .ops.matrix import LinAlgError  # noqa: F401  (torch.linalg.LinAlgError)
from .ops.elementwise import Undifferentiated
from .tensor import Tensor, _check_broadcast, _dim, _dims, _return_type

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh",
           "eigvalsh", "householder_product", "inv", "inv_ex", "lstsq", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve",
           "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv",
           "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
           "cond", "solve_ex", "tensorinv", "tensorsolve", "vander", "matmul", "ldl_factor",
           "ldl_factor_ex", "ldl_solve"]

SlogdetResult = _return_type("linalg_slogdet", ("sign", "logabsdet"))
InvExResult = _return_type("linalg_inv_ex", ("inverse", "info"))
CholeskyExResult = _return_type("linalg_cholesky_ex", ("L", "info"))
QrResult = _return_type("linalg_qr", ("Q", "R"))
EighResult = _return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
SvdResult = _return_type("linalg_svd", ("U", "S", "Vh"))
LstsqResult = _return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
LuFactorResult = _return_type("linalg_lu_factor", ("LU", "pivots"))
LuFactorExResult = _return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
LuResult = _return_type("linalg_lu", ("P", "L", "U"))
SolveExResult = _return_type("linalg_solve_ex", ("result", "info"))
LdlFactorResult = _return_type("linalg_ldl_factor", ("LD", "pivots"))
LdlFactorExResult = _return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _matrix(name, A, square=True, kernel=None, checks_float=True, empty_ok=False):
    """A checked as PyTorch checks a linalg input, in its order: at least 2-d, square, then
    float32/float64. A dtype it lacks: with checks_float, RuntimeError for integers and bool;
    then NotImplementedError naming PyTorch's CPU `kernel` (unless empty_ok and A is empty),
    or with none, its low-precision RuntimeError"""
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    m, n = A.shape[-2:]
    if square and m != n:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {m} by "
                           f"{n} matrices")
    _floating(name, A._data.dtype, kernel, checks_float, empty_ok and A._data.size == 0)


def _floating(name, dt, kernel=None, checks_float=True, empty=False):
    """empty: the input has no elements and PyTorch returns before its kernel, the only
    check of integers and bool (float16 still raises: NumPy's LAPACK has none)"""
    if dt in _FLOATS:
        return
    if checks_float and dt.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_name(dt)}")
    if kernel is None:
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {torch_name(dt)}")
    if not empty or dt.kind == "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_name(dt)}\'')


def _batch(name, *shapes):
    """the broadcast of the batch shapes, or PyTorch's RuntimeError"""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        _check_broadcast(*shapes[:2])


# ---- determinants and inverses ------------------------------------------------------------

def det(A, *, out=None):
    """det(A) of each matrix"""
    _matrix("linalg.det", A, kernel="lu_cpu")
    return _into_out(M.Det.apply(A), out)


def slogdet(A, *, out=None):
    """(sign, log|det A|) of each matrix: the sign 0 and -inf where A is singular"""
    _matrix("linalg.slogdet", A)
    return _into_out(SlogdetResult(*M.Slogdet.apply(A)), out)


def inv(A, *, out=None):
    """A^-1; a singular matrix raises LinAlgError naming its first zero pivot"""
    _matrix("linalg.inv", A)
    return _into_out(M.Inv.apply(A, True)[0], out)


def inv_ex(A, *, check_errors=False, out=None):
    """(A^-1, info): info > 0 (LAPACK's getrf's) where A is singular, unless check_errors"""
    _matrix("linalg.inv", A)
    return _into_out(InvExResult(*M.Inv.apply(A, check_errors)), out)


# ---- solvers -------------------------------------------------------------------------------

def _same_dtype(name, A, B, a="A", b="B"):
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{name}: Expected {a} and {b} to have the same dtype, but found {a} "
                           f"of type {torch_name(A._data.dtype)} and {b} of type "
                           f"{torch_name(B._data.dtype)} instead")


def _is_vector_rhs(A, B):
    """PyTorch's linalg_solve_is_vector_rhs: B is a vector, or a batch of them"""
    return B.ndim == 1 or (A.ndim - 1 == B.ndim and B.shape == A.shape[:-1])


def solve(A, B, *, left=True, out=None):
    """X with A X = B (left) or X A = B; B a matrix, a vector, or a batch of either"""
    _matrix("linalg.solve", A, kernel="lu_cpu")
    _same_dtype("linalg.solve", A, B)
    vector = _is_vector_rhs(A, B)
    rows, cols = (B.shape[-1], 1) if vector else B.shape[-2:]
    n = A.shape[-1]
    if (rows if left else cols) != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    if vector and not left:                  # (1 by 1 matrices: a vector B is refused too)
        raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not "
                           "supported for left=False. In this case linalg.solve is equivalent "
                           "to B / A.squeeze(-1)")
    _batch("linalg.solve", A.shape[:-2], B.shape[:-1] if vector else B.shape[:-2])
    return _into_out(M.solve(A, B, left, vector, "torch.linalg.solve"), out)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (left) or X A = B for triangular A (only its upper or lower triangle
    read; unitriangular: its diagonal taken as ones)"""
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    n = A.shape[-1] if A.ndim else 0
    rows, cols = B.shape[-2:]
    if A.ndim >= 2 and A.shape[-2] == n and (rows if left else cols) != n:   # (before dtypes)
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{rows}x{cols})")
    _matrix("linalg.solve_triangular", A, kernel="triangular_solve_cpu", checks_float=False)
    _batch("linalg.solve_triangular", A.shape[:-2], B.shape[:-2])
    if B._data.dtype != A._data.dtype:          # PyTorch computes in A's dtype
        B = B.to(A.dtype)
    return _into_out(M.SolveTriangular.apply(A, B, bool(upper), bool(left),
                                             bool(unitriangular)), out)


def lstsq(A, B, rcond=None, *, driver=None, out=None):
    """(solution, residuals, rank, singular_values) of min |A X - B|_F per matrix, as
    PyTorch's CPU drivers fill them: rank for all but 'gels', singular values for
    'gelsd'/'gelss', residuals where m > n and (but for 'gels') every A has full rank, not
    with the default 'gelsy'"""
    name = "torch.linalg.lstsq"
    if driver is None:
        driver = "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           "gelss)")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{name}: Expected input and other to have the same dtype, but got "
                           f"input's dtype {torch_name(A._data.dtype)} and other's dtype "
                           f"{torch_name(B._data.dtype)}")
    if A._data.dtype not in _FLOATS:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if not 0 <= A.ndim - B.ndim <= 1:
        raise RuntimeError(f"{name}: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    # (PyTorch's test: a batch of vectors only if B's shape is A's without the last dim)
    vector = B.ndim == 1 or A.ndim - 1 == B.ndim and B.shape == A.shape[:-1]
    if A.shape[-2] != B.shape[-1 if vector else -2]:
        raise RuntimeError(f"{name}: input.size(-2) should match other.size("
                           f"{-1 if vector else -2})")
    _batch(name, A.shape[:-2], B.shape[:-1] if vector else B.shape[:-2])
    if rcond is None:
        rcond = float(np.finfo(A._data.dtype).eps) * max(A.shape[-2:])
    return _into_out(LstsqResult(*M.Lstsq.apply(A, B, rcond, driver, vector)), out)


# ---- decompositions ------------------------------------------------------------------------

def cholesky(A, *, upper=False, out=None):
    """L (lower, A = L L^T) or U = L^T (upper) of a symmetric positive-definite A; else
    LinAlgError naming the first leading minor that is not positive-definite"""
    _matrix("linalg.cholesky", A, kernel="cholesky_cpu")
    return _into_out(M.Cholesky.apply(A, bool(upper), True, "linalg.cholesky")[0], out)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): info > 0 (LAPACK's potrf's) where A is not positive-definite"""
    _matrix("linalg.cholesky", A, kernel="cholesky_cpu")
    return _into_out(CholeskyExResult(*M.Cholesky.apply(A, bool(upper), check_errors,
                                                         "linalg.cholesky")), out)


def qr(A, mode="reduced", *, out=None):
    """(Q, R), A = Q R; mode 'reduced', 'complete' or 'r' (Q empty, not differentiable)"""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    _matrix("linalg.qr", A, square=False, kernel="geqrf_cpu")
    return _into_out(QrResult(*M.Qr.apply(A, mode)), out)


def _lu_input(name, A, pivot):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A.shape)} instead")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    _floating(name, A._data.dtype, "lu_cpu", False, A._data.size == 0)


def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots): L below the diagonal (its unit diagonal implied) and U on and above it
    in one matrix, with LAPACK's 1-based row swaps; a zero on U's diagonal raises"""
    _lu_input("torch.lu_factor", A, pivot)
    return _into_out(LuFactorResult(*M.LuFactor.apply(A, True)[:2]), out)


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info): info > 0 where U has a zero on its diagonal"""
    _lu_input("torch.lu_factor", A, pivot)
    return _into_out(LuFactorExResult(*M.LuFactor.apply(A, check_errors)), out)


def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U (L unit lower m x k, U upper k x n, k = min(m, n))"""
    _lu_input("linalg.lu", A, pivot)
    return _into_out(LuResult(*M.Lu.apply(A)), out)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (adjoint: A^T X = B; left=False: X A = B, X A^T = B) from lu_factor's
    (LU, pivots)"""
    _floating("torch.linalg.lu_solve", LU._data.dtype)      # (PyTorch's first checks)
    _same_dtype("linalg.lu_solve", LU, B, "LU", "B")
    if B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    _matrix("linalg.lu_solve", LU, kernel="lu_cpu", checks_float=False)
    n = LU.shape[-1]
    rows, cols = B.shape[-2:]
    if (rows if left else cols) != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    _batch("linalg.lu_solve", LU.shape[:-2], B.shape[:-2])
    return _into_out(M.LuSolve.apply(LU, pivots, B, bool(left), bool(adjoint)), out)


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """(LD, pivots, info): the Bunch-Kaufman factorization A = P L D L^T P^T of a symmetric A
    read from its lower triangle (LAPACK's sytrf; hermitian is the same for real A): L below
    LD's diagonal, D's 1 x 1 and 2 x 2 blocks on and beside it, pivots 1-based (negative
    where a 2 x 2 block starts), info > 0 where D is singular. PyTorch defines no derivative:
    LD's grad_fn raises in backward."""
    return _into_out(LdlFactorExResult(*_ldl_factor("torch.linalg.ldl_factor_ex", A,
                                                    check_errors)), out)


def ldl_factor(A, *, hermitian=False, out=None):
    """(LD, pivots) of ldl_factor_ex; a singular D raises PyTorch's RuntimeError"""
    return _into_out(LdlFactorResult(*_ldl_factor("torch.linalg.ldl_factor", A, True)[:2]), out)


def _ldl_factor(name, A, check_errors):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_ldl_factor(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    _matrix("torch.linalg.ldl_factor_ex", A, kernel="ldl_factor_kernel_cpu", empty_ok=True)
    ld, piv, info = M.sytrf(A._data)
    bad = np.flatnonzero(info)
    if check_errors and bad.size:               # (an internal assert in PyTorch, no batch index)
        raise RuntimeError(f"{name}: Unknown error code: {info.reshape(-1)[bad[0]]}.")
    LD = Undifferentiated.over(Tensor._make(ld), A, None, "linalg_ldl_factor_ex")
    return LD, Tensor._make(piv), Tensor._make(info)


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B from ldl_factor's (LD, pivots) (LAPACK's sytrs), batch dims broadcast;
    PyTorch defines no derivative"""
    from ._matfuncs import _check_solve_operands
    name = "torch.linalg.ldl_solve"
    _matrix(name, LD, kernel="ldl_solve_kernel_cpu")
    if B.ndim < 2 and B._data.dtype == LD._data.dtype:     # (PyTorch reads B.size(-2))
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got "
                         "-2)")
    _check_solve_operands(name, B, LD)
    if pivots.shape != LD.shape[:-1]:
        raise RuntimeError(f"{name}: Expected LD.shape[:-1] and pivots.shape to be the same, but "
                           f"got pivots with shape {list(pivots.shape)} instead")
    if pivots._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: Expected pivots to be integers. Got "
                           f"{torch_name(pivots._data.dtype)}")
    _batch(name, B.shape[:-2], LD.shape[:-2])
    piv = pivots._data.astype(np.int32)
    if piv.size and np.abs(piv).min() < 1:
        raise RuntimeError("Pivots given to ldl_solve must all satisfy |pivot| >= 1. Did you "
                           "properly pass the result of ldl_factor?")
    if piv.size and np.abs(piv).max() > LD.shape[-2]:
        raise RuntimeError("Pivots given to ldl_solve must all satisfy |pivot| <= LD.size(-2). "
                           "Did you properly pass the result of ldl_factor?")
    X = Tensor._make(M.sytrs(LD._data, piv, B._data))
    return _into_out(Undifferentiated.over(X, LD, B, "linalg_ldl_solve"), out)


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric A, read from its lower
    (UPLO='L') or upper triangle"""
    _uplo(UPLO)
    _matrix("linalg.eigh", A, kernel="linalg_eigh_cpu", checks_float=False, empty_ok=True)
    return _into_out(EighResult(*M.Eigh.apply(A, UPLO)), out)


def _needs_grad(A):
    from .autograd.grad_mode import is_grad_enabled
    return A.requires_grad and is_grad_enabled()


def eigvalsh(A, UPLO="L", *, out=None):
    """the eigenvalues of eigh (the vectors computed too where A needs a gradient: its
    backward reads them, as PyTorch's)"""
    _uplo(UPLO)
    _matrix("linalg.eigh", A, kernel="linalg_eigh_cpu", checks_float=False, empty_ok=True)
    if _needs_grad(A):
        return _into_out(M.Eigh.apply(A, UPLO)[0], out)
    w = M.eigh_array(A._data, UPLO, False).astype(A._data.dtype, copy=False)  # (empty ints)
    return _into_out(Tensor._make(w), out)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh), A = U diag(S) Vh, S descending"""
    _matrix("linalg.svd", A, square=False, kernel="linalg_svd_cpu")
    _no_driver(driver)
    return _into_out(SvdResult(*M.Svd.apply(A, bool(full_matrices))), out)


def _no_driver(driver):
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")


def svdvals(A, *, driver=None, out=None):
    """the singular values, descending (U and Vh computed too where A needs a gradient)"""
    _matrix("linalg.svd", A, square=False, kernel="linalg_svd_cpu")
    _no_driver(driver)
    if _needs_grad(A):
        return _into_out(M.Svd.apply(A, False)[1], out)
    return _into_out(Tensor._make(M.svd_array(A._data, compute_uv=False)), out)


def pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None, out=None):
    """the pseudo-inverse: singular values at or below max(atol, rtol * the largest) count as 0
    (rtol by default eps * max(m, n), or 0 where atol > 0 is given; rcond: rtol's old name)"""
    if rcond is not None:
        rtol = rcond
    if not isinstance(A, Tensor) or A.ndim < 2 or A._data.dtype not in _FLOATS:
        shape = list(A.shape) if isinstance(A, Tensor) else []
        dt = torch_name(A._data.dtype) if isinstance(A, Tensor) else type(A).__name__
        raise RuntimeError(f"linalg.pinv({dt}{{{shape}}}): expected a tensor with 2 or more "
                           "dimensions of float, double, cfloat or cdouble types")
    if hermitian:                            # checked by eigh, as PyTorch's
        _matrix("linalg.eigh", A)
    return _into_out(M.pinv(A, atol, rtol, bool(hermitian)), out)


def matrix_exp(A):
    """exp(A) = sum of A^k / k! of each matrix"""
    _matrix("linalg.matrix_exp", A)
    return M.MatrixExp.apply(A)


def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i column i of A below
    the diagonal with a 1 on it (LAPACK's orgqr; composed from Tensor ops, so differentiable)"""
    name = "torch.linalg.householder_product"
    if A.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    m, n = A.shape[-2:]
    if m < n:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if n < tau.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if A.ndim - tau.ndim != 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {tau.ndim} and input.ndim is equal to {A.ndim}")
    if tau.shape[:-1] != A.shape[:-2]:
        raise RuntimeError(f"{name}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"{name}: tau dtype {torch_name(tau._data.dtype)} does not match "
                           f"input dtype {torch_name(A._data.dtype)}")
    _floating(name, A._data.dtype)
    from .creation import eye
    identity = eye(m, n, dtype=A.dtype)
    V = A.tril(-1) + identity                         # the reflectors' vectors, unit diagonal
    Q = identity.expand(*A.shape)
    if tau.shape[-1] == 0:       # no reflector: I, still a function of A (zero gradients)
        Q = A.masked_fill(A == A, 0.0) + Q
    return _into_out(reflected(V, tau, Q, False), out)


def reflected(V, tau, C, transpose):
    """Q C = H_1 ... H_k C (transpose: Q^T C = H_k ... H_1 C), H_i = I - tau_i v_i v_i^T with
    v_i column i of V: one reflector at a time, so Q is never formed"""
    k = tau.shape[-1]
    for i in (range(k) if transpose else reversed(range(k))):
        v = V[..., :, i]
        C = C - tau[..., i, None, None] * v[..., :, None] * (v[..., None, :] @ C)
    return C


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    """the number of singular values above max(atol, rtol * the largest) (as pinv's), int64"""
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.matrix_rank: The input tensor input must have at least "
                           "2 dimensions.")
    if A._data.dtype not in _FLOATS:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:                      # PyTorch's old name for atol (with rtol 0)
        atol, rtol = tol, 0.0
    a = A._data
    if hermitian:                            # checked as eigh's input, as PyTorch's
        _matrix("linalg.eigh", A)
    s = np.abs(M.eigh_array(a, vectors=False)) if hermitian else M.svd_array(a, compute_uv=False)
    atol_a, rtol_a = M.tolerances(A, atol, rtol)
    top = s.max(-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)
    tol_a = np.maximum(atol_a[..., None], rtol_a[..., None] * top)
    return _into_out(Tensor._make(np.asarray((s > tol_a).sum(-1), np.int64)), out)


def matrix_power(A, n, *, out=None):
    """A^n by repeated squaring, as PyTorch's (n < 0: of inv(A); n = 0: the identity, with a
    zero gradient; n = 1: a copy, n = -1: inv(A))"""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        _matrix("linalg.matrix_power", A)
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"matrix_power(): argument 'n' (position 2) must be int, not "
                        f"{type(n).__name__}")
    if n == 0:
        from .creation import eye
        return _into_out(A.clone().copy_(eye(A.shape[-1], dtype=A.dtype).expand_as(A)), out)
    if n == 1:
        return _into_out(A.clone(), out)
    if n < 0:
        A, n = inv(A), -n
    if n == 1:
        return _into_out(A, out)
    if n == 2:
        return _into_out(A @ A, out)
    if n == 3:
        return _into_out((A @ A) @ A, out)
    z = result = None
    while n > 0:                            # the bits of n from the lowest
        bit, n = n % 2, n // 2
        z = A if z is None else z @ z
        if bit:
            result = z if result is None else result @ z
    return _into_out(result, out)


# ---- norms ---------------------------------------------------------------------------------

def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """(sum |x|^ord)^(1/ord) over dim (all by default); ord inf/-inf: max/min |x|, 0: the
    count of nonzeros"""
    if not isinstance(ord, numbers.Number) or isinstance(ord, bool):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    if dtype is not None:
        x = x.to(_norm_dtype("linalg.vector_norm", x, dtype))
    R.require_norm_dtype(x._data.dtype)                   # (checked before the dims)
    return _into_out(R.Norm.apply(x, float(ord), _dims(dim, x.ndim), bool(keepdim)), out)


def _norm_dtype(name, x, dtype):
    """a norm's dtype argument, checked as PyTorch's: a float input, a float dtype, and no
    narrowing (float64 to float32)"""
    dt = to_numpy_dtype(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_name(x._data.dtype)}")
    if dt.kind != "f":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{torch_name(dt)}")
    if dt.itemsize < x._data.dtype.itemsize:
        raise RuntimeError(f"{name}: the dtype of the input ({torch_name(x._data.dtype)}) "
                           f"should be convertible without narrowing to the specified dtype "
                           f"({torch_name(dt)})")
    return dtype


def _backshift(d0, d1, ndim):
    """the permutation moving dims d0, d1 to the end, the others in order"""
    return [d for d in range(ndim) if d not in (d0, d1)] + [d0, d1]


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """'fro' (the vector 2-norm), 'nuc' (the sum of singular values), 2/-2 (the largest and
    smallest singular value), 1/-1 (max/min column abs sum), inf/-inf (of the row sums)"""
    name = "linalg.matrix_norm"
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"{name}: Order {ord} not supported.")
    elif abs(ord) not in (1, 2, np.inf):
        raise RuntimeError(f"{name}: Order {ord:g} not supported.")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        _norm_dtype(name, A, dtype)
    elif A._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_name(A._data.dtype)}")
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = _dim(dim[0], A.ndim), _dim(dim[1], A.ndim)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype, out=out)
    if ord == "nuc" or abs(ord) == 2:
        x = A if dtype is None else A.to(dtype)
        perm = _backshift(d0, d1, A.ndim)
        s = svdvals(x.permute(*perm))
        result = s.sum(-1, keepdim) if ord == "nuc" else (
            _largest(s, -1, keepdim) if ord > 0 else s.amin(-1, keepdim))
        if keepdim:
            result = result.unsqueeze(-1).permute(*np.argsort(perm).tolist())
        return _into_out(result, out)
    if abs(ord) == np.inf:                  # the 1-norm of the transpose
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    sums = vector_norm(A, 1, d0, keepdim, dtype=dtype)
    return _into_out(_largest(sums, d1, keepdim) if ord > 0 else sums.amin(d1, keepdim), out)


def _largest(x, dim, keepdim):
    """the amax of the norms x over dim; 0 over nothing (PyTorch's, without a gradient)"""
    return x.amax(dim, keepdim) if x.shape[dim] else x.detach().sum(dim, keepdim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """vector_norm, or matrix_norm where ord is given and dim has two dims (or is None for a
    2-d A); ord None: the 2-norm of the flattened A (over dim if given)"""
    if dim is not None:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
    elif ord is not None and A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str) or (ord is not None and (
            (dim is not None and len(dims) == 2) or (dim is None and A.ndim == 2))):
        return matrix_norm(A, ord, (0, 1) if dim is None else dims, keepdim, dtype=dtype,
                           out=out)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


# ---- products ------------------------------------------------------------------------------

def cross(input, other, *, dim=-1, out=None):
    """the cross product of 3-vectors along dim (batch dims broadcast)"""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = _dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    _batch("linalg.cross", input.shape, other.shape)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"expected scalar type {torch_name(input._data.dtype)} but found "
                           f"{torch_name(other._data.dtype)}")
    require_float(input._data.dtype, "cross", also="iu")
    return _into_out(M.Cross.apply(input, other, d), out)


def multi_dot(tensors, *, out=None):
    """the product of the matrices in the cheapest order (the first may be a row vector, the
    last a column vector: PyTorch's, NumPy's matrix-chain order)"""
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got "
                           f"{first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    out_shape = first.shape[:-1] + last.shape[1:]
    mats = [first.unsqueeze(0) if first.ndim == 1 else first] + tensors[1:-1] + [
        last.unsqueeze(-1) if last.ndim == 1 else last]
    for i, t in enumerate(mats):
        if t._data.dtype != mats[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor "
                               f"0 is {torch_name(mats[0]._data.dtype)} and tensor {i} is "
                               f"{torch_name(t._data.dtype)}")
        if i and mats[i - 1].shape[-1] != t.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                               f"{list(tensors[i - 1].shape)} and {list(tensors[i].shape)} "
                               "cannot be multiplied")
    if n == 2:
        result = mats[0] @ mats[1]
    elif n == 3:
        a, b, c, d = mats[0].shape[0], mats[1].shape[0], mats[2].shape[0], mats[2].shape[1]
        if (a * c) * (b + d) > (b * d) * (a + c):
            result = mats[0] @ (mats[1] @ mats[2])
        else:
            result = (mats[0] @ mats[1]) @ mats[2]
    else:
        result = _chain(mats, _chain_order(mats), 0, n - 1)
    return _into_out(result.view(*out_shape), out)


def _chain_order(mats):
    """split[i][j]: where the cheapest product of mats[i..j] splits (the first of the least
    costs, as PyTorch's and NumPy's matrix-chain order)"""
    n = len(mats)
    p = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def vecdot(x, y, *, dim=-1, out=None):
    """sum of x * y along dim (batch dims broadcast)"""
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {torch_name(x._data.dtype)} and y of type "
                           f"{torch_name(y._data.dtype)} instead.")
    return _into_out((x * y).sum(dim), out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """the diagonal of each matrix (a view)"""
    return A.diagonal(offset, dim1, dim2)


# ---- more of torch.linalg: condition numbers, solve_ex, tensor inverses, Vandermonde -----------

_COND_ORDS = (None, 2, -2, "fro", "nuc", float("inf"), -float("inf"), 1, -1)


def cond(A, p=None, *, out=None):
    """A's condition number in the p-norm: s_max / s_min of its singular values (p None or
    2; -2 their inverse ratio), else norm(A) norm(A^-1), inf where A is singular"""
    if p not in _COND_ORDS:
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if p in (None, 2, -2):
        _matrix("linalg.cond", A, square=False)
        if A.numel() == 0:
            return _into_out(A.new_zeros(A.shape[:-2]), out)
        s = svdvals(A)
        high, low = s[..., 0], s[..., -1]
        return _into_out(low / high if p == -2 else high / low, out)
    _matrix(f"linalg.cond(ord={p if isinstance(p, str) or abs(p) == float('inf') else int(p)})",
            A)
    if A.numel() == 0:
        return _into_out(A.new_zeros(A.shape[:-2]), out)
    inverse, info = inv_ex(A)
    result = matrix_norm(A, p) * matrix_norm(inverse, p)
    return _into_out(result.masked_fill(info > 0, float("inf")), out)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(X, info): solve's X, and info > 0 (LAPACK's getrf's) where A is singular; then X is
    what the LU solve gives (inf / NaN) instead of an error, unless check_errors"""
    _matrix("linalg.solve_ex", A, kernel="lu_cpu")
    LU, pivots, info = lu_factor_ex(A)
    if check_errors or not bool((info > 0).any()):
        return _into_out(SolveExResult(solve(A, B, left=left), info), out)
    vector = _is_vector_rhs(A, B)
    X = lu_solve(LU, pivots, B.unsqueeze(-1) if vector else B, left=left)
    return _into_out(SolveExResult(X.squeeze(-1) if vector else X, info), out)


def tensorinv(A, ind=2, *, out=None):
    """the inverse of A read as a prod(shape[:ind]) x prod(shape[ind:]) matrix, shaped
    shape[ind:] + shape[:ind]"""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = A.shape[:ind], A.shape[ind:]
    n_rows, n_cols = int(np.prod(rows)), int(np.prod(cols))
    if n_cols != n_rows:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {n_cols} != {n_rows}")
    return _into_out(inv(A.reshape(n_rows, n_cols)).reshape(*cols, *rows), out)


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B (A's dims given in dims moved to its end first)"""
    if dims is not None:
        dims = [_dim(d, A.ndim) for d in dims]
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = A.shape[B.ndim:]
    n_result, n_other = int(np.prod(result_shape)), int(np.prod(A.shape[:B.ndim]))
    if n_result != n_other:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape["
                           f"other.ndim:]) == prod(self.shape[:other.ndim]), but got {n_result} "
                           f"!= {n_other}")
    X = solve(A.reshape(n_other, n_result), B.reshape(n_other))
    return _into_out(X.reshape(result_shape), out)


def vander(x, *, N=None):
    """x's increasing powers x^0 ... x^(N-1) along a new last dim (N: x's last size), the
    powers by a running product, as PyTorch's"""
    if x._data.dtype.kind not in "fiu" or x._data.dtype == np.float16:
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer "
                           f"tensors, but got {torch_name(x._data.dtype)}")
    x = x.unsqueeze(-1) if x.ndim == 0 else x
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return cat([powers.new_ones(*x.shape, 1), powers], -1)
