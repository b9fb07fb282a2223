"""cgrad.linalg and the top-level matrix functions against PyTorch: values, gradients (first
and second order), batched inputs, named results, grad_fn names and errors."""
import warnings
import zlib

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """LAPACK on these small matrices ran 30-1000x slower on two threads on the shared test
    machine (BLAS and OpenMP pools spinning against each other): PyTorch and cgrad (its BLAS
    too) on one thread here"""
    before = torch.get_num_threads(), cgrad.get_num_threads()
    torch.set_num_threads(1)
    cgrad.set_num_threads(1)
    yield
    torch.set_num_threads(before[0])
    cgrad.set_num_threads(before[1])


RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _inputs_of_this_test(request):
    """RNG reseeded from the test's id: each test draws the same inputs in any order (under
    pytest-xdist a float32 gradient check met an ill-conditioned draw in some orders only)"""
    seed = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
    RNG.bit_generator.state = seed.bit_generator.state


TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _well(shape, rng=RNG):
    """a well-conditioned square matrix (batch): random plus a diagonal shift"""
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def _spd(shape, rng=RNG):
    """a symmetric positive-definite matrix (batch)"""
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(shape, rng=RNG):
    """a symmetric matrix (batch) with well-separated eigenvalues"""
    a = rng.standard_normal(shape)
    q, _ = np.linalg.qr(a)
    w = np.arange(1, shape[-1] + 1) * 1.5 - 2.2
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def _column_signs(lib, V):
    """+-1 per column making its largest-magnitude entry positive: eigen- and singular
    vectors compared up to sign (recorded with a zero derivative)"""
    idx = V.detach().abs().argmax(-2, keepdim=True)
    return lib.sign(V.detach().gather(-2, idx))


def _run(lib, build, arrays, dtype, weights, order):
    """build(lib, *leaves) -> outputs; the loss sum(w * out); its gradients (and, order 2,
    the gradients of |gradient|^2) as NumPy arrays"""
    leaves = [lib.tensor(a, dtype=getattr(lib, np.dtype(dtype).name), requires_grad=True)
              for a in arrays]
    outs = build(lib, *leaves)
    outs = outs if isinstance(outs, (tuple, list)) else [outs]
    values = [o.detach().numpy().astype(np.float64) for o in outs]
    result = {"values": values}
    if order == 0:
        return result
    loss = sum((o * lib.tensor(w, dtype=o.dtype)).sum() for o, w in zip(outs, weights)
               if o.dtype.is_floating_point and o.requires_grad)
    if not isinstance(loss, lib.Tensor):                 # nothing differentiable
        return result
    grads = lib.autograd.grad(loss, leaves, create_graph=order > 1, allow_unused=True)
    result["grads"] = [None if g is None else g.detach().numpy().astype(np.float64)
                       for g in grads]
    if order > 1:
        total = sum((g * g).sum() for g in grads if g is not None)
        second = lib.autograd.grad(total, leaves, allow_unused=True)
        result["second"] = [None if g is None else g.numpy() for g in second]
    return result


def assert_matches(build, *arrays, dtype=np.float64, order=1, tol=None):
    """values and gradients of build on cgrad match PyTorch's"""
    tol = tol or TOL[dtype]
    probe = build(torch, *[torch.tensor(a, dtype=getattr(torch, np.dtype(dtype).name))
                           for a in arrays])
    probe = probe if isinstance(probe, (tuple, list)) else [probe]
    weights = [RNG.standard_normal(tuple(p.shape)) for p in probe]
    got = _run(cgrad, build, arrays, dtype, weights, order)
    want = _run(torch, build, arrays, dtype, weights, order)
    for key in want:
        assert len(got[key]) == len(want[key])
        for g, w in zip(got[key], want[key]):
            assert (g is None) == (w is None), key
            if w is not None:
                assert g.shape == w.shape, key
                np.testing.assert_allclose(g, w, err_msg=key, **tol)


DTYPES = [np.float32, np.float64]
BATCHES = [(), (2,), (2, 3)]


# ---- values and gradients against PyTorch ----------------------------------------------------

SQUARE = {                               # build(lib, A) for a well-conditioned square A
    "det": lambda lib, A: lib.linalg.det(A),
    "det_top": lambda lib, A: lib.det(A) * A.det(),
    "slogdet": lambda lib, A: list(lib.linalg.slogdet(A)),
    "logdet": lambda lib, A: lib.logdet(A @ A.mT),
    "inv": lambda lib, A: lib.linalg.inv(A),
    "inverse": lambda lib, A: lib.inverse(A) + A.inverse(),
    "inv_ex": lambda lib, A: lib.linalg.inv_ex(A).inverse,
    "matrix_exp": lambda lib, A: lib.linalg.matrix_exp(A / 3),
    "matrix_power": lambda lib, A: [lib.linalg.matrix_power(A / 3, k) for k in (-2, 0, 1, 2, 3,
                                                                               5, 6)],
    "pinv": lambda lib, A: lib.linalg.pinv(A),
    "pinverse": lambda lib, A: A.pinverse(),
    "svdvals": lambda lib, A: lib.linalg.svdvals(A),
    "matrix_norms": lambda lib, A: [lib.linalg.matrix_norm(A, o) for o in (
        "fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf"))],
    "norm": lambda lib, A: [lib.linalg.norm(A), lib.linalg.norm(A, "nuc", dim=(-1, -2)),
                            lib.linalg.norm(A, 2, dim=(-2, -1), keepdim=True),
                            lib.linalg.norm(A, 3, dim=-1), lib.linalg.norm(A, dim=(-2, -1))],
    "diagonal": lambda lib, A: lib.linalg.diagonal(A, offset=1) * 2,
}


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SQUARE))
def test_square_functions_match_torch(backend, name, dtype, batch):
    assert_matches(SQUARE[name], _well(batch + (3, 3)), dtype=dtype)


DECOMPOSITIONS = {                        # build(lib, A) -> sign-independent outputs
    "cholesky": (_spd, lambda lib, A: lib.linalg.cholesky(A)),
    "cholesky_upper": (_spd, lambda lib, A: lib.linalg.cholesky(A, upper=True)),
    "cholesky_ex": (_spd, lambda lib, A: lib.linalg.cholesky_ex(A).L),
    "cholesky_top": (_spd, lambda lib, A: lib.cholesky(A) + A.cholesky(upper=True).mT),
    "eigh": (_sym, lambda lib, A: (lambda L, V: [L, V * _column_signs(lib, V)])(
        *lib.linalg.eigh(A))),
    "eigh_upper": (_sym, lambda lib, A: (lambda L, V: [L, V * _column_signs(lib, V)])(
        *lib.linalg.eigh(A.triu(), UPLO="U"))),
    "eigvalsh": (_sym, lambda lib, A: lib.linalg.eigvalsh(A)),
    "eigh_values_only": (_sym, lambda lib, A: lib.linalg.eigh(A).eigenvalues),
    "svd": (_well, lambda lib, A: (lambda U, S, Vh: (lambda s: [U * s, S, Vh * s.mT])(
        _column_signs(lib, U)))(*lib.linalg.svd(A))),
    "svd_vectors_only": (_well, lambda lib, A: (lambda U, S, Vh: (lambda s: [U * s])(
        _column_signs(lib, U)))(*lib.linalg.svd(A))),
    "torch_svd": (_well, lambda lib, A: (lambda U, S, V: (lambda s: [U * s, S, V * s])(
        _column_signs(lib, U)))(*lib.svd(A))),
    "qr": (_well, lambda lib, A: list(lib.linalg.qr(A))),
    "pinv_hermitian": (_sym, lambda lib, A: lib.linalg.pinv(A, hermitian=True)),
    "matrix_rank": (_sym, lambda lib, A: lib.linalg.matrix_rank(A).double()),
    "lu": (_well, lambda lib, A: list(lib.linalg.lu(A))),
    "lu_factor": (_well, lambda lib, A: (lambda LU, piv: [LU, piv.double()])(
        *lib.linalg.lu_factor(A))),
}


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(DECOMPOSITIONS))
def test_decompositions_match_torch(backend, name, dtype, batch):
    make, build = DECOMPOSITIONS[name]
    assert_matches(build, make(batch + (4, 4)), dtype=dtype)


RECTANGULAR = {
    "svd_tall": lambda lib, A: (lambda U, S, Vh: (lambda s: [U * s, S, Vh * s.mT])(
        _column_signs(lib, U)))(*lib.linalg.svd(A, full_matrices=False)),
    "svd_full": lambda lib, A: (lambda U, S, Vh: (lambda k: (lambda s: [
        U[..., :k] * s, S, Vh[..., :k, :] * s.mT])(_column_signs(lib, U[..., :k])))(S.shape[-1]))(
        *lib.linalg.svd(A)),
    "svdvals": lambda lib, A: lib.linalg.svdvals(A),
    "qr": lambda lib, A: list(lib.linalg.qr(A)),
    "pinv": lambda lib, A: lib.linalg.pinv(A),
    "pinv_atol": lambda lib, A: lib.linalg.pinv(A, atol=1e-3, rtol=1e-4),
    "nuc": lambda lib, A: lib.linalg.matrix_norm(A, "nuc"),
    "matrix_norm_2": lambda lib, A: lib.linalg.matrix_norm(A, 2, dim=(0, -1), keepdim=True),
    "lu": lambda lib, A: list(lib.linalg.lu(A)),
    "lu_factor": lambda lib, A: lib.linalg.lu_factor(A).LU,
}


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 5, 3)])
@pytest.mark.parametrize("name", list(RECTANGULAR))
def test_rectangular_functions_match_torch(backend, name, shape):
    if name == "matrix_norm_2" and len(shape) < 3:
        shape = (2,) + shape
    assert_matches(RECTANGULAR[name], RNG.standard_normal(shape))


def test_qr_complete_and_r_modes(backend):
    A = RNG.standard_normal((4, 3))
    assert_matches(lambda lib, A: list(lib.linalg.qr(A, mode="complete")), A, order=0)
    assert_matches(lambda lib, A: list(lib.linalg.qr(A.mT, mode="complete")), A)
    got, want = cgrad.linalg.qr(cgrad.tensor(A), mode="r"), torch.linalg.qr(torch.tensor(A),
                                                                             mode="r")
    assert got.Q.shape == want.Q.shape == (0,)
    np.testing.assert_allclose(got.R.numpy(), want.R.numpy(), rtol=1e-12)


SOLVERS = {                          # build(lib, A, B): A well conditioned (n x n), B (n x 2)
    "solve": lambda lib, A, B: lib.linalg.solve(A, B),
    "solve_vector": lambda lib, A, B: lib.linalg.solve(A, B[..., 0]),
    "solve_right": lambda lib, A, B: lib.linalg.solve(A, B.mT, left=False),
    "solve_triangular": lambda lib, A, B: lib.linalg.solve_triangular(A.triu(), B, upper=True),
    "solve_triangular_lower_right": lambda lib, A, B: lib.linalg.solve_triangular(
        A.tril(), B.mT, upper=False, left=False),
    "solve_triangular_unit": lambda lib, A, B: lib.linalg.solve_triangular(
        A, B, upper=False, unitriangular=True),
    "lstsq": lambda lib, A, B: lib.linalg.lstsq(A, B).solution,
    "lstsq_tall_gelsd": lambda lib, A, B: (lambda T: list(lib.linalg.lstsq(
        T, T.sin()[..., :2], driver="gelsd"))[:2])(lib.cat([A, B], -1).mT),
    "lstsq_tall_gels": lambda lib, A, B: (lambda T: list(lib.linalg.lstsq(
        T, T.sin()[..., 0], driver="gels"))[:2])(lib.cat([A, B], -1).mT),
    "lstsq_vector": lambda lib, A, B: lib.linalg.lstsq(A, B[..., 0]).solution,
    "cholesky_solve": lambda lib, A, B: lib.cholesky_solve(
        B, lib.linalg.cholesky(A @ A.mT)),
    "cholesky_solve_upper": lambda lib, A, B: B.cholesky_solve(A.triu(), upper=True),
    "cholesky_inverse": lambda lib, A, B: lib.cholesky_inverse(A.tril()) + (
        A.triu()).cholesky_inverse(upper=True),
    "cross": lambda lib, A, B: lib.linalg.cross(A, A.mT),
    "cross_top": lambda lib, A, B: [lib.cross(A, B.repeat_interleave(2, -1)[..., :3], dim=-2),
                                    A.cross(A.flip(-1), dim=0 if A.ndim == 2 else 1)],
    "multi_dot": lambda lib, A, B: [lib.linalg.multi_dot([A, B]),
                                    lib.linalg.multi_dot([A[0], A, B]),
                                    lib.linalg.multi_dot([B.mT, A, A, B[:, 0]]),
                                    lib.linalg.multi_dot([A, B, B.mT, A, A[:, :1]])],
    "vecdot": lambda lib, A, B: lib.linalg.vecdot(A, A.mT, dim=0),
    "kron": lambda lib, A, B: [lib.kron(A, B), A.kron(B[0])],
    "tensordot": lambda lib, A, B: [lib.tensordot(A, B, 1), lib.tensordot(A, A, 2),
                                    lib.tensordot(A, B, ([0], [0])),
                                    lib.tensordot(A, B, dims=([1, 0], [0, 1]))
                                    if B.shape[1] == 3 else A.sum()],
    "inner": lambda lib, A, B: [lib.inner(A, A), B.mT.inner(A), lib.inner(A[0], A[1]),
                                lib.inner(A[0, 0], B)],
    "vdot": lambda lib, A, B: lib.vdot(A[0], A[1]) + A[2].vdot(A[0]),
    "cdist": lambda lib, A, B: [lib.cdist(A, A[:2] + 1, p=p) for p in (2, 1, 3, 0.5,
                                                                        float("inf"))],
    "cdist_mm": lambda lib, A, B: lib.cdist(A, B.mT @ A, compute_mode="use_mm_for_euclid_dist"),
    "pdist": lambda lib, A, B: [lib.pdist(A, p) for p in (2, 1, 3)],
    "lu_solve": lambda lib, A, B: (lambda LU, piv: [
        lib.linalg.lu_solve(LU, piv, B), lib.linalg.lu_solve(LU, piv, B * 2, adjoint=True),
        lib.linalg.lu_solve(LU, piv, B.mT, left=False),
        lib.linalg.lu_solve(LU, piv, B.mT.cos(), left=False, adjoint=True)])(
        *lib.linalg.lu_factor(A)),
}

NOT_BATCHED = {"multi_dot", "kron", "tensordot", "inner", "vdot", "pdist", "cross_top",
               "cdist_mm", "cholesky_solve_upper", "vecdot"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, batch", [(name, batch) for name in SOLVERS for batch in
                                         ([()] if name in NOT_BATCHED else [(), (2,)])])
def test_solvers_and_products_match_torch(backend, name, dtype, batch):
    n = 3
    A = _well(batch + (n, n))
    B = RNG.standard_normal(batch + (n, 2))
    assert_matches(SOLVERS[name], A, B, dtype=dtype)


def test_solve_broadcasts_batch_dims(backend):
    A = _well((2, 1, 3, 3))
    B = RNG.standard_normal((4, 3, 2))
    assert_matches(lambda lib, A, B: lib.linalg.solve(A, B), A, B)
    assert_matches(lambda lib, A, B: lib.linalg.solve(A, B[0, :, 0]), A, B)
    assert_matches(lambda lib, A, B: lib.linalg.solve_triangular(A.triu(), B, upper=True), A, B)
    assert_matches(lambda lib, A, B: lib.cdist(A, B.mT), A, B)


def test_cdist_large_uses_the_matrix_product_as_torch(backend):
    x1, x2 = RNG.standard_normal((30, 4)), RNG.standard_normal((7, 4))
    for dtype in DTYPES:
        assert_matches(lambda lib, a, b: lib.cdist(a, b), x1, x2, dtype=dtype)
    assert_matches(lambda lib, a, b: [lib.cdist(a, b, p=1), lib.pdist(b)], x1, x2)
    x2[3] = x2[5] = x1[1]                                   # zero distances: gradient 0 there
    assert_matches(lambda lib, a, b: [lib.cdist(a[:9], b, p=p) for p in (2, 1, 3)] + [
        lib.pdist(b), lib.pdist(b, 3)], x1, x2)
    assert cgrad.cdist(cgrad.tensor(x1, requires_grad=True), cgrad.tensor(x2)).grad_fn.name() \
        == torch.cdist(torch.tensor(x1, requires_grad=True), torch.tensor(x2)).grad_fn.name()


def test_distances_of_order_0_have_zero_gradients_as_torch(backend):
    """cdist and pdist with p=0 (counts of differing coordinates): zeros as PyTorch's
    gradient, where vector_norm's p=0 has none; F.pdist is torch.pdist"""
    x1, x2 = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3))
    x2[1] = x1[0]
    assert_matches(lambda lib, a, b: [lib.cdist(a, b, p=0), lib.pdist(a, 0),
                                      lib.nn.functional.pdist(b, 0)], x1, x2)
    assert cgrad.nn.functional.pdist is cgrad.pdist


def test_tensor_norm_takes_a_dtype_as_torch(backend):
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    assert_matches(lambda lib, x: [x.norm(2, None, False, lib.float64),
                                   lib.norm(x, p="fro", dim=1, dtype=lib.float64),
                                   x.norm(p=3, dim=0, keepdim=True, dtype=lib.float64)],
                   x, dtype=np.float32)
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError, match="dtype should be floating point"):
            lib.tensor(x).norm(dtype=lib.int64)


def test_vector_norm_orders_and_dims(backend):
    x = RNG.standard_normal((3, 4, 2))
    for ord_ in (2, 1, 3, 0.5, float("inf"), float("-inf"), 0, -1):
        assert_matches(lambda lib, x: [lib.linalg.vector_norm(x, ord_),
                                       lib.linalg.vector_norm(x, ord_, dim=1),
                                       lib.linalg.vector_norm(x, ord_, dim=(0, 2), keepdim=True),
                                       lib.linalg.norm(x[0], ord_, dim=0)], x)
    assert_matches(lambda lib, x: lib.linalg.vector_norm(x, dtype=lib.float64), x,
                   dtype=np.float32)
    assert_matches(lambda lib, x: [lib.norm(x[0], "nuc"), x[1].norm("fro"), x.norm(dim=1)], x)


# ---- second derivatives and gradcheck --------------------------------------------------------

SECOND = {
    "det": (_well, lambda lib, A: lib.linalg.det(A)),
    "det_singular": (lambda s: np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]) + 0 * _well(s),
                     lambda lib, A: lib.linalg.det(A)),
    "slogdet": (_well, lambda lib, A: lib.linalg.slogdet(A).logabsdet),
    "inv": (_well, lambda lib, A: lib.linalg.inv(A)),
    "solve": (_well, lambda lib, A: lib.linalg.solve(A, A[..., :2] * A[..., :1])),
    "solve_triangular": (_well, lambda lib, A: lib.linalg.solve_triangular(
        A.triu(), A.sin(), upper=True)),
    "norms": (_well, lambda lib, A: [lib.linalg.norm(A), lib.linalg.vector_norm(A, 3, dim=-1),
                                     lib.linalg.matrix_norm(A, 1)]),
    "nuc": (_well, lambda lib, A: lib.linalg.matrix_norm(A, "nuc")),
    "cholesky": (_spd, lambda lib, A: lib.linalg.cholesky(A)),
    "eigh": (_sym, lambda lib, A: (lambda L, V: [L, V * V * L.unsqueeze(-2)])(
        *lib.linalg.eigh(A))),
    "svd": (_well, lambda lib, A: (lambda U, S, Vh: [S, U * U * S.unsqueeze(-2),
                                                     Vh * Vh * S.unsqueeze(-1)])(
        *lib.linalg.svd(A))),
    "qr": (_well, lambda lib, A: list(lib.linalg.qr(A))),
    "matrix_exp": (_well, lambda lib, A: lib.linalg.matrix_exp(A / 4)),
    "pinv": (_well, lambda lib, A: lib.linalg.pinv(A)),
    "cross": (_well, lambda lib, A: lib.linalg.cross(A, A * A)),
    "lu": (_well, lambda lib, A: list(lib.linalg.lu(A))[1:]),
    "lu_solve": (_well, lambda lib, A: (lambda LU, piv: [
        lib.linalg.lu_solve(LU, piv, A.sin()),
        lib.linalg.lu_solve(LU, piv, A.cos(), left=False, adjoint=True)])(
        *lib.linalg.lu_factor(A))),
}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives_match_torch(backend, name):
    make, build = SECOND[name]
    assert_matches(build, make((2, 3, 3)) if name != "det_singular" else make((3, 3)),
                   order=2, tol=dict(rtol=1e-7, atol=1e-9))


def test_det_gradient_at_singular_matrices_as_torch(backend):
    """first order: 0 where det == 0 exactly (PyTorch's LU path); recorded: the adjugate. (A
    zero row: an exact zero pivot in any LU; torch's MKL on an Intel AVX-512 host leaves
    -6.7e-16 where a row is twice another)"""
    A = np.stack([np.array([[1.0, 2, 3], [0, 0, 0], [1, 0, 1]]), _well((3, 3))])
    assert_matches(lambda lib, A: lib.linalg.det(A), A)
    assert_matches(lambda lib, A: lib.linalg.det(A), A, order=2, tol=dict(rtol=1e-7, atol=1e-9))


@pytest.mark.parametrize("name", ["det", "inv", "solve", "cholesky", "eigh", "svd", "qr",
                                  "matrix_exp", "pinv", "lstsq", "cholesky_solve", "cross"])
def test_gradcheck_float64(backend, name):
    fns = {
        "det": lambda A: cgrad.linalg.det(A),
        "inv": lambda A: cgrad.linalg.inv(A),
        "solve": lambda A: cgrad.linalg.solve(A, A[..., 1:, :] * 2, left=False),
        "cholesky": lambda A: cgrad.linalg.cholesky(A @ A.mT),
        "eigh": lambda A: (lambda L, V: (L, V * V))(*cgrad.linalg.eigh(A + A.mT)),
        "svd": lambda A: (lambda U, S, Vh: (S, U @ Vh))(*cgrad.linalg.svd(A)),
        "qr": lambda A: tuple(cgrad.linalg.qr(A)),
        "matrix_exp": lambda A: cgrad.linalg.matrix_exp(A),
        "pinv": lambda A: cgrad.linalg.pinv(A[..., :2]),
        "lstsq": lambda A: cgrad.linalg.lstsq(A[..., :2], A[..., 2:]).solution,
        "cholesky_solve": lambda A: cgrad.cholesky_solve(A[..., :1], A.tril()),
        "cross": lambda A: cgrad.linalg.cross(A, A.flip(-1)),
    }
    A = cgrad.tensor(_well((2, 3, 3)) / 3, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradcheck(fns[name], (A,))


# ---- results, names, errors ------------------------------------------------------------------

def test_named_results_and_grad_fn_names_as_torch(backend):
    A = _well((3, 3))
    S = _spd((3, 3))
    calls = {
        "det": lambda lib, A, S: lib.linalg.det(A),
        "slogdet": lambda lib, A, S: lib.linalg.slogdet(A),
        "torch_slogdet": lambda lib, A, S: lib.slogdet(A),
        "logdet": lambda lib, A, S: lib.logdet(S),
        "inv": lambda lib, A, S: lib.linalg.inv(A),
        "inv_ex": lambda lib, A, S: lib.linalg.inv_ex(A),
        "solve": lambda lib, A, S: lib.linalg.solve(A, S),
        "solve_triangular": lambda lib, A, S: lib.linalg.solve_triangular(A, S, upper=True),
        "cholesky": lambda lib, A, S: lib.linalg.cholesky(S),
        "cholesky_ex": lambda lib, A, S: lib.linalg.cholesky_ex(S),
        "torch_cholesky": lambda lib, A, S: lib.cholesky(S),
        "qr": lambda lib, A, S: lib.linalg.qr(A),
        "eigh": lambda lib, A, S: lib.linalg.eigh(S),
        "eigvalsh": lambda lib, A, S: lib.linalg.eigvalsh(S),
        "svd": lambda lib, A, S: lib.linalg.svd(A),
        "torch_svd": lambda lib, A, S: lib.svd(A),
        "svdvals": lambda lib, A, S: lib.linalg.svdvals(A),
        "pinv": lambda lib, A, S: lib.linalg.pinv(A),
        "lstsq": lambda lib, A, S: lib.linalg.lstsq(A, S),
        "matrix_exp": lambda lib, A, S: lib.linalg.matrix_exp(A),
        "matrix_power": lambda lib, A, S: [lib.linalg.matrix_power(A, k) for k in (-1, 1, 2)],
        "cross": lambda lib, A, S: lib.linalg.cross(A, S),
        "norms": lambda lib, A, S: [lib.linalg.norm(A), lib.linalg.matrix_norm(A, "nuc"),
                                    lib.linalg.matrix_norm(A, 2), lib.linalg.matrix_norm(A, -1),
                                    lib.linalg.vector_norm(A, 0)],
        "multi_dot": lambda lib, A, S: lib.linalg.multi_dot([A, S, A]),
        "vecdot": lambda lib, A, S: lib.linalg.vecdot(A, S),
        "diagonal": lambda lib, A, S: lib.linalg.diagonal(A),
        "cholesky_solve": lambda lib, A, S: lib.cholesky_solve(A, S),
        "cholesky_inverse": lambda lib, A, S: lib.cholesky_inverse(S),
        "vdot": lambda lib, A, S: lib.vdot(A[0], S[0]),
        "cdist": lambda lib, A, S: lib.cdist(A, S),
        "pdist": lambda lib, A, S: lib.pdist(A),
        "lu_factor": lambda lib, A, S: lib.linalg.lu_factor(A),
        "lu_factor_ex": lambda lib, A, S: lib.linalg.lu_factor_ex(A),
        "lu": lambda lib, A, S: lib.linalg.lu(A),
        "lu_solve": lambda lib, A, S: lib.linalg.lu_solve(*lib.linalg.lu_factor(A), S),
    }

    def describe(lib, out):
        if isinstance(out, (tuple, list)):
            fields = getattr(type(out), "__match_args__", None)
            return (type(out).__name__, fields, [describe(lib, o) for o in out])
        return None if out.grad_fn is None else out.grad_fn.name()

    for name, call in calls.items():
        results = []
        for lib in (cgrad, torch):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a, s = (lib.tensor(x, requires_grad=True) for x in (A, S))
                results.append(describe(lib, call(lib, a, s)))
        assert results[0] == results[1], name
    r = cgrad.linalg.slogdet(cgrad.tensor(A))
    assert repr(r).startswith("cgrad.return_types.linalg_slogdet(\nsign=tensor(")


def _error(call):
    """(exception class name, message) of call, or None"""
    try:
        call()
    except Exception as e:                      # noqa: BLE001  (compared with PyTorch's)
        name = "LinAlgError" if isinstance(e, (torch.linalg.LinAlgError,
                                               cgrad.linalg.LinAlgError)) else type(e).__name__
        return name, str(e).split("\n")[0]
    return None


SINGULAR = np.array([[1.0, 2, 3], [2, 4, 6], [1, 1, 1]])
ERRORS = {
    "inv_singular": lambda lib: lib.linalg.inv(lib.tensor(SINGULAR)),
    "inv_batch_singular": lambda lib: lib.linalg.inv(lib.tensor(np.stack([np.eye(3), SINGULAR]))),
    "inverse_singular": lambda lib: lib.inverse(lib.tensor(SINGULAR)),
    "matrix_power_singular": lambda lib: lib.linalg.matrix_power(lib.tensor(SINGULAR), -2),
    "solve_singular": lambda lib: lib.linalg.solve(lib.tensor(SINGULAR), lib.ones(3,
                                                                                 dtype=lib.double)),
    "solve_batch_singular": lambda lib: lib.linalg.solve(
        lib.tensor(np.stack([np.eye(3), SINGULAR])), lib.ones(3, 1, dtype=lib.double)),
    "cholesky_not_pd": lambda lib: lib.linalg.cholesky(lib.tensor(-np.eye(3))),
    "cholesky_batch_not_pd": lambda lib: lib.linalg.cholesky(
        lib.tensor(np.stack([np.eye(3), np.diag([1.0, 1, -1])]))),
    "cholesky_not_square": lambda lib: lib.linalg.cholesky(lib.ones(2, 3)),
    "inv_not_square": lambda lib: lib.linalg.inv(lib.ones(2, 3)),
    "det_not_square": lambda lib: lib.linalg.det(lib.ones(4, 2, 3)),
    "det_1d": lambda lib: lib.linalg.det(lib.ones(3)),
    "inv_int": lambda lib: lib.linalg.inv(lib.ones(3, 3, dtype=lib.long)),
    "det_int": lambda lib: lib.linalg.det(lib.ones(3, 3, dtype=lib.long)),
    "det_half": lambda lib: lib.linalg.det(lib.ones(3, 3, dtype=lib.half)),
    "inv_half": lambda lib: lib.linalg.inv(lib.ones(3, 3, dtype=lib.half)),
    "eigh_int": lambda lib: lib.linalg.eigh(lib.ones(3, 3, dtype=lib.long)),
    "eigh_uplo": lambda lib: lib.linalg.eigh(lib.eye(3), UPLO="X"),
    "svd_int": lambda lib: lib.linalg.svd(lib.ones(3, 2, dtype=lib.long)),
    "qr_mode": lambda lib: lib.linalg.qr(lib.eye(3), mode="bad"),
    "pinv_int": lambda lib: lib.linalg.pinv(lib.ones(3, 3, dtype=lib.long)),
    "solve_shapes": lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(4, 2)),
    "solve_vector_right": lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(3), left=False),
    "solve_dtypes": lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(3, dtype=lib.double)),
    "solve_int": lambda lib: lib.linalg.solve(lib.ones(3, 3, dtype=lib.long),
                                              lib.ones(3, 3, dtype=lib.long)),
    "solve_triangular_1d": lambda lib: lib.linalg.solve_triangular(lib.eye(3), lib.ones(3),
                                                                   upper=True),
    "lstsq_rows": lambda lib: lib.linalg.lstsq(lib.eye(3), lib.ones(4, 2)),
    "lstsq_dtypes": lambda lib: lib.linalg.lstsq(lib.eye(3), lib.ones(3, 2, dtype=lib.double)),
    "matrix_power_not_square": lambda lib: lib.linalg.matrix_power(lib.ones(2, 3), 2),
    "cross_length": lambda lib: lib.linalg.cross(lib.ones(4), lib.ones(4)),
    "multi_dot_one": lambda lib: lib.linalg.multi_dot([lib.ones(3)]),
    "multi_dot_shapes": lambda lib: lib.linalg.multi_dot([lib.ones(3, 2), lib.ones(3, 2)]),
    "norm_3d": lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), 2),
    "matrix_norm_1d": lambda lib: lib.linalg.matrix_norm(lib.ones(3)),
    "matrix_norm_order": lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), 3),
    "matrix_norm_bad": lambda lib: lib.linalg.norm(lib.ones(3, 3), "bad"),
    "vector_norm_str": lambda lib: lib.linalg.vector_norm(lib.ones(3), "fro"),
    "vector_norm_int": lambda lib: lib.linalg.vector_norm(lib.ones(3, dtype=lib.long)),
    "matrix_rank_1d": lambda lib: lib.linalg.matrix_rank(lib.ones(3)),
    "cdist_columns": lambda lib: lib.cdist(lib.ones(3, 2), lib.ones(3, 4)),
    "pdist_3d": lambda lib: lib.pdist(lib.ones(2, 3, 4)),
    "vdot_2d": lambda lib: lib.vdot(lib.ones(2, 2), lib.ones(2)),
    "lu_factor_singular": lambda lib: lib.linalg.lu_factor(lib.tensor(SINGULAR)),
    "lu_factor_batch_singular": lambda lib: lib.linalg.lu_factor(
        lib.tensor(np.stack([np.eye(3), SINGULAR]))),
    "lu_no_pivot": lambda lib: lib.linalg.lu(lib.eye(3), pivot=False),
    "lu_1d": lambda lib: lib.linalg.lu(lib.ones(3)),
    "lu_factor_int": lambda lib: lib.linalg.lu_factor(lib.ones(3, 3, dtype=lib.long)),
    "lu_solve_1d": lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(3)), lib.ones(3)),
    "lu_solve_shapes": lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(3)),
                                                       lib.ones(4, 2)),
    "svd_driver": lambda lib: lib.linalg.svd(lib.eye(3), driver="gesvd"),
    "qr_r_backward": lambda lib: lib.linalg.qr(lib.ones(3, 2, requires_grad=True) + lib.eye(3, 2),
                                               mode="r").R.sum().backward(),
    "qr_complete_backward": lambda lib: lib.linalg.qr(lib.eye(3, 2, requires_grad=True) * 2,
                                                      mode="complete").Q.sum().backward(),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(backend, name):
    want = _error(lambda: ERRORS[name](torch))
    assert want is not None
    assert _error(lambda: ERRORS[name](cgrad)) == want


def _outcome(call):
    """call()'s results as (dtype, shape, values), or its error"""
    error = _error(call)
    if error is not None:
        return error
    r = call()
    return [(str(t.dtype).split(".")[-1], tuple(t.shape), t.tolist())
            for t in (r if isinstance(r, tuple) else (r,))]


EMPTY_CALLS = {
    "lu_factor": lambda lib, A: lib.linalg.lu_factor(A),
    "lu_factor_ex": lambda lib, A: lib.linalg.lu_factor_ex(A),
    "lu": lambda lib, A: lib.linalg.lu(A),
    "cholesky": lambda lib, A: lib.linalg.cholesky(A),
    "cholesky_ex": lambda lib, A: lib.linalg.cholesky_ex(A, upper=True),
    "cholesky_deprecated": lambda lib, A: lib.cholesky(A),
    "eigh": lambda lib, A: lib.linalg.eigh(A),
    "eigvalsh": lambda lib, A: lib.linalg.eigvalsh(A),
}


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.parametrize("name", list(EMPTY_CALLS))
def test_empty_integer_inputs_as_torch(backend, name):
    # PyTorch returns an empty input's result before the kernel that refuses integers and
    # bool (linalg.cholesky checks the dtype first; the deprecated cholesky returns first)
    for shape in [(0, 0), (2, 0, 0), (0, 3, 3), (3, 0), (0, 2), (0,), (3, 3), (2, 3)]:
        for dtype in ("int64", "int32", "bool", "uint8", "float64"):
            def call(lib):
                return EMPTY_CALLS[name](lib, lib.zeros(shape, dtype=getattr(lib, dtype)))
            assert _outcome(lambda: call(cgrad)) == _outcome(lambda: call(torch)), (shape, dtype)


def test_ex_variants_report_info_without_raising(backend):
    for lib in (cgrad, torch):
        A = lib.tensor(np.stack([np.eye(3), SINGULAR]))
        assert lib.linalg.inv_ex(A).info.tolist() == [0, 3]
        assert lib.linalg.inv_ex(A).info.dtype == lib.int32
        S = lib.tensor(np.stack([np.eye(3), np.diag([1.0, -1, 1])]))
        assert lib.linalg.cholesky_ex(S).info.tolist() == [0, 2]
        with pytest.raises(lib.linalg.LinAlgError):
            lib.linalg.cholesky_ex(S, check_errors=True)
        ex = lib.linalg.lu_factor_ex(A)
        assert ex.info.tolist() == [0, 3] and ex.pivots.tolist() == [[1, 2, 3], [2, 3, 3]]
        # (a zero row: torch's det through MKL on an Intel AVX-512 host gives SINGULAR -3.3e-16)
        Z = lib.tensor(np.stack([np.eye(3), np.array([[1.0, 2, 3], [0, 0, 0], [1, 1, 1]])]))
        assert lib.linalg.det(Z).tolist()[1] == 0
        sign, logabsdet = lib.linalg.slogdet(Z)
        assert sign.tolist() == [1, 0] and logabsdet.tolist()[1] == float("-inf")
    assert issubclass(cgrad.linalg.LinAlgError, RuntimeError)


def test_lstsq_fields_as_torch(backend):
    A, B = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((2, 5, 2))
    for driver in (None, "gels", "gelsy", "gelsd", "gelss"):
        got = cgrad.linalg.lstsq(cgrad.tensor(A), cgrad.tensor(B), driver=driver)
        want = torch.linalg.lstsq(torch.tensor(A), torch.tensor(B), driver=driver)
        assert type(got).__match_args__ == type(want).__match_args__
        for g, w in zip(got, want):
            assert g.shape == w.shape and str(g.dtype)[6:] == str(w.dtype)[6:], driver
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-9, atol=1e-12)


def test_matrix_rank_and_tolerances_as_torch(backend):
    A = RNG.standard_normal((3, 5, 2)) @ RNG.standard_normal((3, 2, 4))     # rank 2
    A[1, 0] *= 1e-3
    for kwargs in ({}, {"hermitian": True}, {"atol": 1.0}, {"rtol": 0.1}, {"atol": 0.5,
                                                                          "rtol": 0.01}):
        sq = A[..., :4, :] @ A[..., :4, :].mT if kwargs.get("hermitian") else A
        got = cgrad.linalg.matrix_rank(cgrad.tensor(sq), **kwargs)
        want = torch.linalg.matrix_rank(torch.tensor(sq), **kwargs)
        assert got.tolist() == want.tolist() and got.dtype == cgrad.int64
        if not kwargs.get("hermitian"):
            np.testing.assert_allclose(cgrad.linalg.pinv(cgrad.tensor(A), **kwargs).numpy(),
                                       torch.linalg.pinv(torch.tensor(A), **kwargs).numpy(),
                                       rtol=1e-9, atol=1e-12)


def test_out_arguments_write_into_the_given_tensor(backend):
    A = _well((2, 3, 3))
    for lib in (cgrad, torch):
        results = []
        for call in (lambda o: lib.linalg.inv(lib.tensor(A), out=o),
                     lambda o: lib.linalg.det(lib.tensor(A), out=o),
                     lambda o: lib.linalg.matrix_norm(lib.tensor(A), "nuc", out=o)):
            out = lib.empty(0, dtype=lib.float64)
            assert call(out) is out
            results.append(out.numpy())
        if lib is cgrad:
            got = results
    for g, w in zip(got, results):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def _empty_grad(lib, f, shape):
    """f's value on an empty float64 input, and the input's gradient (None if not there)"""
    x = lib.zeros(shape, dtype=lib.float64, requires_grad=True)
    y = f(lib, x)
    if y.requires_grad:
        y.sum().backward()
    return [y] if x.grad is None else [y, x.grad]


A222, A322, A211, B23, B32 = (_well((2, 2, 2)), _well((3, 2, 2)), _well((2, 1, 1)),
                              RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2)))
FUZZ_GAPS = {
    "lstsq, B a matrix with A's ndim - 1 dims": lambda lib: lib.linalg.lstsq(
        lib.tensor(A222), lib.tensor(B23))[0],
    "lstsq, B a batch of vectors": lambda lib: lib.linalg.lstsq(
        lib.tensor(A322), lib.tensor(B32))[0],
    **{f"lstsq {driver}, B without columns": (lambda lib, driver=driver: lib.linalg.lstsq(
        lib.tensor(A211), lib.zeros(2, 1, 0, dtype=lib.float64), driver=driver))
       for driver in ("gelsy", "gels")},
    **{f"lstsq {driver}, no matrices": (lambda lib, driver=driver: lib.linalg.lstsq(
        lib.zeros(2, 3, 2, 0), lib.zeros(2, 3, 2, 0), driver=driver))
       for driver in ("gelsy", "gelsd", "gels")},
    "lstsq, 0 by 0": lambda lib: lib.linalg.lstsq(lib.zeros(0, 0), lib.zeros(0, 2)),
    "lu_factor, no matrices": lambda lib: lib.linalg.lu_factor(lib.zeros(0, 3, 3)),
    "lu_factor, 0 by 0": lambda lib: lib.linalg.lu_factor_ex(lib.zeros(2, 0, 0)),
    "lu, 0 rows": lambda lib: lib.linalg.lu(lib.zeros(2, 3, 0, 1)),
    "lu_solve, no matrices": lambda lib: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(lib.zeros(2, 0, 0)), lib.zeros(3, 2, 0, 2)),
    "solve left=False, B a vector": lambda lib: lib.linalg.solve(
        lib.ones(1, 1, 1, dtype=lib.float64), lib.ones(1, dtype=lib.float64), left=False),
    "solve left=False, B a batch of vectors": lambda lib: lib.linalg.solve(
        lib.ones(2, 1, 1, dtype=lib.float64), lib.ones(2, 1, dtype=lib.float64), left=False),
    **{f"lu_solve, LU {a} and B {b}": (lambda lib, a=a, b=b, s=s: lib.linalg.lu_solve(
        lib.eye(2, dtype=getattr(lib, a)), lib.tensor([1, 2], dtype=lib.int32),
        lib.ones(s, dtype=getattr(lib, b)))) for a, b, s in [
        ("float64", "float32", (2,)), ("float32", "float64", (2, 4)), ("int64", "float32", (2, 1)),
        ("int64", "int64", (2, 1)), ("float64", "float64", (2,))]},
    **{f"{f} of {a}, dtype {b}": (lambda lib, f=f, a=a, b=b: getattr(lib.linalg, f)(
        lib.ones(2, 2, dtype=getattr(lib, a)), dtype=getattr(lib, b))) for f in
       ("vector_norm", "matrix_norm", "norm") for a, b in
       [("int64", "float64"), ("float32", "int64"), ("float64", "float32"),
        ("float32", "float64")]},
    **{f"solve_triangular, A {a} {sa}, B {b} {sb}": (
        lambda lib, a=a, sa=sa, b=b, sb=sb: lib.linalg.solve_triangular(
            lib.eye(sa[-1], dtype=getattr(lib, a)).expand(sa), lib.ones(sb, dtype=getattr(lib, b)),
            upper=True)) for a, sa, b, sb in [
        ("int64", (2, 4, 4), "float32", (2, 4)), ("float32", (4, 4), "int64", (2, 4)),
        ("float32", (4, 4), "int64", (4, 2)), ("float64", (4, 4), "bool", (4, 2)),
        ("int64", (4, 4), "float32", (4, 2))]},
    "pinv hermitian, 0 by 0": lambda lib: lib.linalg.pinv(lib.zeros(2, 0, 0), hermitian=True),
    **{f"matrix_norm {o}, empty": (lambda lib, o=o: _empty_grad(
        lib, lambda lib, x: lib.linalg.matrix_norm(x, o), (2, 4, 0))) for o in
       (2, 1, float("inf"), "nuc", "fro")},
    "linalg.norm 2 over 2 dims, empty": lambda lib: lib.linalg.norm(lib.zeros(0, 3), 2, (0, 1)),
    **{f"vector_norm {o}, empty": (lambda lib, o=o, d=d: lib.linalg.vector_norm(
        lib.zeros(3, 0), o, d)) for o in (-1, -0.5, float("-inf"), 0) for d in (None, 1)},
    **{f"{name} gradient, empty": (lambda lib, f=f, s=s: _empty_grad(lib, f, s))
       for name, f in (("det", lambda lib, x: lib.linalg.det(x)),
                       ("logabsdet", lambda lib, x: lib.linalg.slogdet(x)[1]))
       for s in ((0, 3, 3), (2, 0, 0))},
    **{f"tensordot over a 0 size, {sa} {sb} {d}": (lambda lib, sa=sa, sb=sb, d=d: _empty_grad(
        lib, lambda lib, x: lib.tensordot(x, lib.ones(sb, dtype=lib.float64), d), sa))
       for sa, sb, d in [((4, 0), (3, 0), ([-1], [-1])), ((2, 0, 3), (0, 3), 2),
                         ((2, 0), (0, 5), 1), ((0, 2), (0, 4), ([0], [0]))]},
    "inner over a 0 size": lambda lib: _empty_grad(
        lib, lambda lib, x: lib.inner(x, lib.ones(3, 0, dtype=lib.float64)), (4, 0)),
}


@pytest.mark.parametrize("name", list(FUZZ_GAPS))
def test_gaps_a_fuzz_found_match_torch(backend, name):
    """lstsq took B of A's ndim - 1 dims for vectors whatever its shape, and called LAPACK
    for B without columns; empty batches crashed the LAPACK loops; pinv(hermitian=True) and
    the 2/1/inf matrix norms of empty matrices raised; vector norms of negative order over
    nothing gave inf, not PyTorch's error; det's gradient of no matrices was None; solve with
    left=False took vectors for B; lu_solve checked B's shape before the dtypes; the norms
    with a dtype took integer inputs, integer dtypes and narrowing; solve_triangular checked
    the dtypes before the shapes and refused an integer B (PyTorch converts it); tensordot
    and inner over a contracted size of 0 raised (a reshape to -1 of nothing)"""
    from test_fuzz_parity_gaps import _outcome
    got, want = (_outcome(FUZZ_GAPS[name], lib) for lib in (cgrad, torch))
    if isinstance(want, tuple) or isinstance(got, tuple):      # an error: its class, message
        assert got == want
        return
    assert [(d, s) for d, s, _ in got] == [(d, s) for d, s, _ in want]
    for (_, _, g), (_, _, w) in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-9,
                                   atol=1e-12)
