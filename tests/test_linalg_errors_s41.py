"""linalg's failures as PyTorch's (checked against torch 2.13): a NaN pivot fails cholesky, a
NaN fails the SVD family with PyTorch's LinAlgError (a RuntimeError, not NumPy's ValueError),
NaN input to lstsq is PyTorch's RuntimeError"""
import math

import pytest

import cgrad as torch

nan, inf = math.nan, math.inf
CHOL = ("{}: {}The factorization could not be completed because the input is not "
        "positive-definite (the leading minor of order {} is not positive-definite).")
SVD = ("linalg.svd: {}The algorithm failed to converge because the input matrix contained "
       "non-finite values.")


def _raises(cls, message, fn, *args, **kw):
    with pytest.raises(cls) as info:
        fn(*args, **kw)
    assert str(info.value) == message
    return info.value


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_nan_pivot(upper):
    A = torch.tensor([[nan, 0], [0, 1.]])
    B = torch.tensor([[4., 1, 0], [1, nan, 0], [0, 0, 1]])
    e = _raises(torch.linalg.LinAlgError, CHOL.format("linalg.cholesky", "", 1),
                torch.linalg.cholesky, A, upper=upper)
    assert isinstance(e, RuntimeError)
    _raises(torch.linalg.LinAlgError, CHOL.format("linalg.cholesky", "", 2),
            torch.linalg.cholesky, B.double(), upper=upper)
    _raises(torch.linalg.LinAlgError, CHOL.format("cholesky", "(Batch element 1): ", 2),
            torch.cholesky, torch.stack([torch.eye(3), B]), upper=upper)
    L, info = torch.linalg.cholesky_ex(B, upper=upper)
    assert info.item() == 2
    # LAPACK stops at the NaN pivot: the columns (upper: rows) after it are still A's
    want = [[2.0, 0.0, 0.0], [0.5, nan, 0.0], [0.0, 0.0, 1.0]]
    got = (L.mT if upper else L).tolist()
    assert str(got) == str(want)
    assert torch.linalg.cholesky_ex(torch.stack([torch.eye(2), A, A.flip(0, 1)])).info.tolist() \
        == [0, 1, 2]
    # a NaN in the triangle not read is not looked at
    assert torch.linalg.cholesky(torch.tensor([[1., nan], [0, 1]])).tolist() == [[1, 0], [0, 1]]


SVD_FUNCS = [
    lambda A: torch.linalg.svd(A), lambda A: torch.linalg.svd(A, full_matrices=False),
    torch.linalg.svdvals, torch.linalg.pinv, lambda A: torch.linalg.matrix_norm(A, 2),
    lambda A: torch.linalg.matrix_norm(A, -2), lambda A: torch.linalg.matrix_norm(A, "nuc"),
    torch.linalg.matrix_rank, torch.linalg.cond, torch.svd,
    lambda A: torch.svd(A, compute_uv=False), torch.pinverse,
    lambda A: torch.linalg.svd(A.requires_grad_()),
]


@pytest.mark.parametrize("k", range(len(SVD_FUNCS)))
def test_svd_family_nan(k):
    fn = SVD_FUNCS[k]
    A = torch.tensor([[nan, 0], [0, 1.]])
    e = _raises(torch.linalg.LinAlgError, SVD.format(""), fn, A)
    assert isinstance(e, RuntimeError) and not isinstance(e, ValueError)
    _raises(torch.linalg.LinAlgError, SVD.format(""), fn, torch.tensor([[nan, 0, 1], [0, 1, 2.]]))
    batch = torch.stack([torch.eye(2)] * 3 + [A.double()]).reshape(2, 2, 2, 2)
    _raises(torch.linalg.LinAlgError, SVD.format("(Batch element 3): "), fn, batch)
    # an inf alone gives NaNs, as PyTorch's
    fn(torch.tensor([[inf, 0], [0, 1.]]))


def test_eigh_and_hermitian_errors():
    A = torch.tensor([[1., 1, 0], [1, 3, 0], [0, 0, nan]])
    with pytest.raises(torch.linalg.LinAlgError, match=r"^linalg.eigh: The algorithm failed to "
                       r"converge because the input matrix is ill-conditioned or has too many "
                       r"repeated eigenvalues \(error code: \d+\)\.$"):
        torch.linalg.eigvalsh(A)
    with pytest.raises(torch.linalg.LinAlgError, match=r"^linalg.eigh: \(Batch element 1\): "):
        torch.linalg.eigvalsh(torch.stack([torch.eye(3), A]))
    square = "linalg.eigh: A must be batches of square matrices, but they are 2 by 3 matrices"
    _raises(RuntimeError, square, torch.linalg.matrix_rank, torch.ones(2, 3), hermitian=True)
    _raises(RuntimeError, square, torch.linalg.pinv, torch.ones(2, 3), hermitian=True)


LSTSQ = ("torch.linalg.lstsq: {}Argument {} has illegal value. Most certainly there is a bug "
         "in the implementation calling the backend library.")


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss", "gels"])
def test_lstsq_nan(driver):
    A = torch.tensor([[2., 1], [1, 3]])
    An = torch.tensor([[nan, 1], [1, 3.]])
    gels = driver == "gels"
    e = _raises(RuntimeError, LSTSQ.format("", 4 + gels), torch.linalg.lstsq, An,
                torch.ones(2, 1), driver=driver)
    assert type(e) is RuntimeError
    _raises(RuntimeError, LSTSQ.format("", 6 + gels), torch.linalg.lstsq, A,
            torch.tensor([[nan], [1.]]), driver=driver)
    _raises(RuntimeError, LSTSQ.format("(Batch element 2): ", 4 + gels), torch.linalg.lstsq,
            torch.stack([A, A, An]).double(), torch.ones(3, 2, 1, dtype=torch.float64),
            driver=driver)
    Ai = torch.tensor([[inf, 1], [1, 3.]])
    if driver == "gelsd":                       # gelsd refuses any non-finite A
        _raises(RuntimeError, LSTSQ.format("", 4), torch.linalg.lstsq, Ai, torch.ones(2, 1),
                driver=driver)
    elif not gels:
        torch.linalg.lstsq(Ai, torch.ones(2, 1), driver=driver)


def test_against_torch():
    real = pytest.importorskip("torch")
    B = [[4., 1, 0], [1, nan, 0], [0, 0, 1]]
    for upper in (False, True):
        want = real.linalg.cholesky_ex(real.tensor(B), upper=upper)
        got = torch.linalg.cholesky_ex(torch.tensor(B), upper=upper)
        assert str(got.L.tolist()) == str(want.L.tolist()) and got.info.item() == want.info.item()
    A = [[[1., 0], [0, 1]], [[nan, 0], [0, 1]]]
    for name in ("svdvals", "pinv", "cond", "matrix_rank"):
        with pytest.raises(RuntimeError) as w:
            getattr(real.linalg, name)(real.tensor(A))
        with pytest.raises(torch.linalg.LinAlgError) as g:
            getattr(torch.linalg, name)(torch.tensor(A))
        assert str(g.value) == str(w.value)
