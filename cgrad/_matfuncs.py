"""PyTorch's top-level matrix functions (torch.det, torch.svd, torch.cholesky_solve, torch.kron,
torch.cdist, ...), over cgrad.linalg and its ops; the Tensor methods of the same names call
these."""
import math
import numbers
import warnings

import numpy as np

from . import linalg as LA
from ._dtype import torch_name
from ._functions import _into_out
from .autograd.function import Function, renamed
from .autograd.grad_mode import state as grad_state
from .linalg import _matrix, _return_type
from .ops import linalg as L
from .ops import matrix as M
from .ops import reduce as R
from .ops import special as SP
from .ops.matrix import pytorch_node
from .ops.shape import check_broadcast
from .tensor import Tensor, where

__all__ = ["cdist", "cholesky", "cholesky_inverse", "cholesky_solve", "cross", "det", "geqrf",
           "inner",
           "inverse", "kron", "logdet", "matrix_exp", "matrix_power", "orgqr", "pdist", "pinverse",
           "slogdet", "svd", "tensordot", "vdot", "qr", "lu", "lu_solve", "lu_unpack",
           "triangular_solve", "solve", "symeig", "eig", "lstsq", "matrix_rank", "ormqr"]

SlogdetResult = _return_type("slogdet", ("sign", "logabsdet"))
SvdResult = _return_type("svd", ("U", "S", "V"))
GeqrfResult = _return_type("geqrf", ("a", "tau"))

det = LA.det
matrix_power = LA.matrix_power
matrix_exp = LA.matrix_exp
orgqr = LA.householder_product


def geqrf(input, *, out=None):
    """(a, tau): LAPACK's geqrf, the QR decomposition as Householder reflectors (R above a's
    diagonal, the reflectors' vectors below it; householder_product(a, tau) is Q). PyTorch
    defines no derivative for it."""
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _matrix("geqrf", input, square=False, kernel="geqrf_cpu")
    h, tau = M.quiet_linalg.qr(input._data, mode="raw")     # h is a transposed, as Fortran's
    dtype = input._data.dtype
    results = [np.ascontiguousarray(np.swapaxes(h, -1, -2), dtype=dtype), tau.astype(dtype)]
    if input.requires_grad and grad_state.enabled:
        return _into_out(GeqrfResult(*(SP.Undifferentiable["GeqrfBackward0"].apply(
            input, "geqrf", r) for r in results)), out)
    return _into_out(GeqrfResult(*(Tensor._make(r) for r in results)), out)


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """Q C, Q^T C (transpose), C Q or C Q^T (left=False), C = other, Q the product of geqrf's
    Householder reflectors (input, tau) without forming it; composed from Tensor ops, so
    differentiable in all three"""
    name = "torch.ormqr"
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if other.ndim < 2:
        raise RuntimeError(f"{name}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"{name}: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.ndim == 0 or tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"{name}: tau.shape[-1] must be equal to min(other.shape[{side}], "
                           "input.shape[-1])")
    if input.ndim - tau.ndim != 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {tau.ndim} and input.ndim is equal to "
                           f"{input.ndim}")
    if other.ndim != input.ndim:
        raise RuntimeError(f"{name}: Expected other to have the same number of dimensions as "
                           f"input, but got other.ndim equal to {other.ndim} and input.ndim is "
                           f"equal to {input.ndim}")
    for label, t in (("tau", tau), ("other", other)):
        batch = t.shape[:-1] if t is tau else t.shape[:-2]
        if batch != input.shape[:-2]:
            raise RuntimeError(f"{name}: Expected batch dimensions of {label} to be equal to "
                               f"input.shape[:-2], but got {list(batch)}")
    for label, t in (("tau", tau), ("other", other)):
        if t._data.dtype != input._data.dtype:
            raise RuntimeError(f"{name}: Expected input and {label} to have the same dtype, "
                               f"but input has dtype{torch_name(input._data.dtype)} and {label} "
                               f"has dtype {torch_name(t._data.dtype)}")
    LA._floating(name, input._data.dtype, "ormqr_cpu", False)
    from .creation import eye
    m, k = input.shape[-2], tau.shape[-1]
    V = input[..., :k].tril(-1) + eye(m, k, dtype=input.dtype)   # unit diagonal, as geqrf's
    if left:
        return _into_out(LA.reflected(V, tau, other, transpose), out)
    return _into_out(LA.reflected(V, tau, other.mT, not transpose).mT, out)


def slogdet(input, *, out=None):
    return _into_out(SlogdetResult(*LA.slogdet(input)), out)


def logdet(input):
    """log(det): NaN where det < 0, -inf where it is 0"""
    _matrix("logdet", input)
    sign, logabsdet = M.Slogdet.apply(input)
    return where(sign == -1, float("nan"), logabsdet)


def inverse(input, *, out=None):
    return LA.inv(input, out=out)


def pinverse(input, rcond=1e-15):
    """linalg.pinv with rcond as the relative tolerance"""
    return LA.pinv(input, atol=0.0, rtol=rcond)


@pytorch_node("CholeskyBackward0")
class _Cholesky(M.Cholesky):
    """torch.cholesky's node (the same op as linalg.cholesky's)"""


def cholesky(input, upper=False, *, out=None):
    """linalg.cholesky (deprecated in PyTorch, still there), with its own checks: none for an
    empty input (its result is empty alike), then square, then its kernel's dtypes"""
    if input.numel():
        _matrix("cholesky", input, kernel="cholesky_cpu", checks_float=False)
    return _into_out(_Cholesky.apply(input, bool(upper), True, "cholesky")[0], out)


def _check_solve_operands(name, b, A):
    """PyTorch's checks of a solve's right-hand side b and square matrices A: one dtype, A
    square, b's rows A's size"""
    if b._data.dtype != A._data.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{torch_name(b._data.dtype)} and A of type "
                           f"{torch_name(A._data.dtype)} instead.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for {name}: each A matrix is "
                           f"{A.shape[-1]} by {A.shape[-1]} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with (L L^T) X = B (upper: (U^T U) X = B), L the Cholesky factor"""
    for name, t in (("b", B), ("A", L)):
        if t.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has {t.ndim} "
                               "dimensions instead")
        LA._floating("cholesky_solve", t._data.dtype, "cholesky_solve_cpu", False)
    _check_solve_operands("cholesky_solve", B, L)
    LA._batch("cholesky_solve", B.shape[:-2], L.shape[:-2])
    return _into_out(M.CholeskySolve.apply(B, L, bool(upper)), out)


def cholesky_inverse(L, upper=False, *, out=None):
    """(L L^T)^-1 (upper: (U^T U)^-1) from the Cholesky factor"""
    LA._floating("cholesky_inverse", L._data.dtype, "cholesky_inverse_out_cpu", False)
    _matrix("cholesky_inverse", L)
    return _into_out(M.CholeskyInverse.apply(L, bool(upper)), out)


def svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with input = U diag(S) V^T (V, not Vh: PyTorch's old svd); some=False: the
    full U and V; compute_uv=False: U and V zeros"""
    if not compute_uv:
        S = LA.svdvals(input)
        m, n = input.shape[-2:]
        zeros = [Tensor._make(np.zeros(input.shape[:-2] + (k, k), input._data.dtype))
                 for k in (m, n)]
        return _into_out(SvdResult(zeros[0], S, zeros[1]), out)
    U, S, Vh = LA.svd(input, full_matrices=not some)
    return _into_out(SvdResult(U, S, Vh.mT), out)


def cross(input, other, dim=None, *, out=None):
    """linalg.cross, where dim=None is the first dim of length 3 (deprecated in PyTorch)"""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of "
                      "linalg.cross in a future release.", UserWarning, stacklevel=2)
        check_broadcast(input.shape, other.shape)
        shape = np.broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return LA.cross(input, other, dim=dim, out=out)


def kron(input, other):
    """the Kronecker product: result[i * other.shape + j] = input[i] * other[j] per dim"""
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + input.shape)
    b = other.reshape((1,) * (nd - other.ndim) + other.shape)
    wide = a.reshape(sum(((n, 1) for n in a.shape), ()))        # a's dims with 1s between
    tall = b.reshape(sum(((1, n) for n in b.shape), ()))
    return (wide * tall).reshape(*(x * y for x, y in zip(a.shape, b.shape)))


def tensordot(a, b, dims=2, out=None):
    """the sum over a's dims dims[0] and b's dims[1] (an int n: a's last n and b's first n) of
    the product, the free dims of a then of b"""
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if isinstance(dims, Tensor):
            dims = dims.tolist()
        da, db = dims
        da = [da] if isinstance(da, numbers.Integral) else list(da)
        db = [db] if isinstance(db, numbers.Integral) else list(db)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da = [d % a.ndim for d in da]
        db = [d % b.ndim for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in "
                               f"dim {y}")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    def size(t, ds):         # spelled out, not -1: a contracted size of 0 leaves -1 ambiguous
        return math.prod(t.shape[d] for d in ds)
    left = a.permute(*free_a, *da).reshape(size(a, free_a), size(a, da))
    right = b.permute(*db, *free_b).reshape(size(b, db), size(b, free_b))
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    result = (left @ right).reshape(*shape)
    return result if out is None else _into_out(result, out)


def inner(input, other, *, out=None):
    """the sum over the last dims of the products (a product where either is 0-d)"""
    if input.ndim == 0 or other.ndim == 0:
        return _into_out(input * other, out)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]), out=out)


Vdot = renamed("Vdot", L.Dot, "VdotBackward0", "vdot of real vectors: their dot")


def vdot(input, other, *, out=None):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"vdot : expected both vectors to have same dtype, but found "
                           f"{torch_name(input._data.dtype)} and {torch_name(other._data.dtype)}")
    if input.shape[0] != other.shape[0]:
        n, k = input.shape[0], other.shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{k}] to "
                           f"have the same number of elements, but got {n} and {k} elements "
                           "respectively")
    return _into_out(Vdot.apply(input, other), out)


# the p-norms of the differences, named as PyTorch's distance ops (their gradients: the norm's,
# 0 where a distance is 0, and zeros for p = 0)
CdistNorm = R.distance_norm("CdistNorm", "CdistBackward0", "cdist's norms of differences", 2,
                            p0_zeros=True)
PdistNorm = R.distance_norm("PdistNorm", "PdistBackward0", "pdist's norms of differences", 1,
                            p0_zeros=True)


@pytorch_node("EuclideanDistBackward0")
class EuclideanDist(Function):
    """d_ij = |x1_i - x2_j| through one matrix product (|x1|^2 + |x2|^2 - 2 x1 x2^T, clamped at
    0), as PyTorch's _euclidean_dist   ->   with r = g / d (0 where d == 0),
    gx1 = x1 rowsum(r) - r x2, gx2 = x2 colsum(r) - r^T x1"""
    @staticmethod
    def forward(ctx, x1, x2):
        ctx.set_materialize_grads(False)
        a, b = x1._data, x2._data
        a_ = np.concatenate([a * -2, (a ** 2).sum(-1, keepdims=True),
                             np.ones(a.shape[:-1] + (1,), a.dtype)], -1)
        b_ = np.concatenate([b, np.ones(b.shape[:-1] + (1,), b.dtype),
                             (b ** 2).sum(-1, keepdims=True)], -1)
        d = Tensor._make(np.sqrt(np.maximum(a_ @ np.swapaxes(b_, -1, -2), 0)))
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved_tensors
        if g is None:
            return None, None
        ratio = (g / d).masked_fill(d == 0, 0)
        return (x1 * ratio.sum(-1, True) - ratio @ x2,
                x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """the p-norm distance of each row of x1 to each row of x2 (batch dims broadcast); p = 2
    through a matrix product where either has more than 25 rows (or compute_mode asks), as
    PyTorch's"""
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if x._data.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{torch_name(x._data.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = LA._batch("cdist", x1.shape[:-2], x2.shape[:-2])
    r1, r2 = x1.shape[-2], x2.shape[-2]
    inputs = (x1, x2)
    x1 = x1.expand(*batch, *x1.shape[-2:])
    x2 = x2.expand(*batch, *x2.shape[-2:])
    if p == 2 and (compute_mode == modes[1] or (compute_mode == modes[0] and
                                                 (r1 > 25 or r2 > 25))):
        return EuclideanDist.apply(x1, x2).view(*batch, r1, r2)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return CdistNorm.apply(diff, float(p), (diff.ndim - 1,), False, *inputs)


def pdist(input, p=2):
    """the p-norm distances between the rows of a 2-d input, pairs i < j in row order"""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input._data.dtype.kind != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    diff = input[Tensor._make(i)] - input[Tensor._make(j)]
    return PdistNorm.apply(diff, float(p), (1,), False, input)


# ---- PyTorch's deprecated forms (qr, lu, lu_solve, lu_unpack, triangular_solve), with its
# warnings, over cgrad.linalg; and the removed ones, raising PyTorch's errors ----------------
QrResult = _return_type("qr", ("Q", "R"))
LuWithInfoResult = _return_type("_lu_with_info", ("LU", "pivots", "info"))
LuUnpackResult = _return_type("lu_unpack", ("P", "L", "U"))
TriangularSolveResult = _return_type("triangular_solve", ("solution", "cloned_coefficient"))


def qr(input, some=True, *, out=None):
    warnings.warn("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a "
                  "future PyTorch release.\nThe boolean parameter 'some' has been replaced with "
                  "a string parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced "
                  "with\nQ, R = torch.linalg.qr(A, 'reduced' if some else 'complete')",
                  UserWarning, stacklevel=2)
    return _into_out(QrResult(*LA.qr(input, "reduced" if some else "complete")), out)


def lu(A, pivot=True, get_infos=False, out=None):
    """(LU, pivots) of linalg.lu_factor_ex, with info where get_infos (a singular U never
    raises: PyTorch's _lu_with_info ignores its check_errors)"""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                  "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.\n"
                  "LU, pivots = torch.lu(A, compute_pivots)\nshould be replaced with\nLU, "
                  "pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\nLU, pivots, info "
                  "= torch.lu(A, compute_pivots, get_infos=True)\nshould be replaced with\nLU, "
                  "pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)", UserWarning,
                  stacklevel=2)
    LU, pivots, info = LA.lu_factor_ex(A, pivot=pivot)
    result = LuWithInfoResult(LU, pivots, info) if get_infos else (LU, pivots)
    if out is None:
        return result
    if len(out) != len(result):         # (PyTorch's torch.lu: no element checks, out itself)
        raise TypeError(f"expected tuple of {len(result)} elements but got {len(out)}")
    for into, value in zip(out, result):
        into.resize_as_(value).copy_(value)
    return out


def lu_solve(b, LU_data, LU_pivots, *, out=None):
    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be "
                  "removed in a future PyTorch release.\nNote that torch.linalg.lu_solve has its "
                  "arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be replaced "
                  "with\nX = torch.linalg.lu_solve(LU, pivots, B)", UserWarning, stacklevel=2)
    return LA.lu_solve(LU_data, LU_pivots, b, out=out)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """(P, L, U) with A = P L U from lu_factor's packed (LU, pivots); what is not unpacked is
    an empty tensor"""
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           "torch.int32 dtype.\nNote: this function is intended to be used with "
                           "the output produced by torch.linalg.lu_factor")
    if LU_data.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(LU_data.shape)} instead")
    dtype = LU_data._data.dtype
    empty = Tensor._make(np.empty(0, dtype))
    L, U = M.LuUnpack.apply(LU_data) if unpack_data else (empty, empty.clone())
    P = empty.clone()
    if unpack_pivots:
        P = Tensor._make(M._permutation(LU_pivots._data - 1, LU_data.shape[-2], dtype))
    return _into_out(LuUnpackResult(P, L, U), out)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """(X, A.clone()) with A X = b (transpose: A^T X = b), A triangular"""
    warnings.warn("torch.triangular_solve is deprecated in favor of "
                  "torch.linalg.solve_triangularand will be removed in a future PyTorch "
                  "release.\ntorch.linalg.solve_triangular has its arguments reversed and does "
                  "not return a copy of one of the inputs.\nX = torch.triangular_solve(B, "
                  "A).solution\nshould be replaced with\nX = torch.linalg.solve_triangular(A, "
                  "B).", UserWarning, stacklevel=2)
    for name, t in (("b", b), ("A", A)):
        if t.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 "
                               f"dimensions, but it has {t.ndim} dimensions instead")
    _check_solve_operands("triangular_solve", b, A)
    # A^T X = b is a solve with A^T, whose triangle is the other one
    X = LA.solve_triangular(A.mT if transpose else A, b, upper=bool(upper) != bool(transpose),
                            unitriangular=unitriangular)
    return _into_out(TriangularSolveResult(X, A.clone()), out)


def _removed(name, message):
    def fn(*args, **kwargs):
        raise RuntimeError("This function was deprecated since version 1.9 and is now removed."
                           + message)
    fn.__name__ = name
    fn.__doc__ = "removed from PyTorch: raises its RuntimeError"
    return fn


solve = _removed("solve", (
    " `torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its "
    "arguments reversed and does not return the LU factorization.\n\nTo get the LU factorization "
    "see `torch.lu`, which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = "
    "torch.solve(B, A).solution should be replaced with:\nX = torch.linalg.solve(A, B)"))
symeig = _removed("symeig", (
    " The default behavior has changed from using the upper triangular portion of the matrix by "
    "default to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) "
    "should be replaced with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand"
    "\n\nL, V = torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = "
    "torch.linalg.eigh(A, UPLO='U' if upper else 'L')"))
eig = _removed("eig", (
    " `torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real "
    "tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\n"
    "L_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) "
    "should be replaced with:\nL_complex, V_complex = torch.linalg.eig(A)"))
lstsq = _removed("lstsq", (
    " `torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has "
    "reversed arguments and does not return the QR decomposition in the returned tuple "
    "(although it returns other information about the problem).\n\nTo get the QR decomposition "
    "consider using `torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the "
    "residuals of the solution in the last m - n columns of the returned value whenever m > n. "
    "In torch.linalg.lstsq, the residuals are in the field 'residuals' of the returned named "
    "tuple.\n\nThe unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size("
    "1)]\nshould be replaced with:\nX = torch.linalg.lstsq(A, B).solution"))
matrix_rank = _removed("matrix_rank", (
    "\nPlease use the `torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was "
    "renamed in `torch.linalg.matrix_rank()` to 'hermitian'."))
