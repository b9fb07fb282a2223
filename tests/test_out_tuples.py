"""out= for the functions returning several tensors (linalg's factorizations, torch.lu, svd,
slogdet, ...): written into the given tensors and returned as PyTorch's <name>_out tuple, with
PyTorch's errors for a wrong out (the element's type, naming out's argument position, checked
before the count)."""
import warnings

import numpy as np
import pytest

import cgrad
from test_more_ops import same_error

torch = pytest.importorskip("torch")

A = np.random.default_rng(0).standard_normal((3, 3))
S = A @ A.T + 3 * np.eye(3)


def _calls(m):
    a, s = m.tensor(A), m.tensor(S)
    f64, i32, i64 = m.float64, m.int32, m.int64

    def empty(*dtypes):
        return tuple(m.empty(0, dtype=d) for d in dtypes)
    return {
        "slogdet": lambda: m.linalg.slogdet(a, out=empty(f64, f64)),
        "slogdet_top": lambda: m.slogdet(a, out=empty(f64, f64)),
        "inv_ex": lambda: m.linalg.inv_ex(a, out=empty(f64, i32)),
        "lstsq": lambda: m.linalg.lstsq(a, s, out=empty(f64, f64, i64, f64)),
        "cholesky_ex": lambda: m.linalg.cholesky_ex(s, out=empty(f64, i32)),
        "qr": lambda: m.linalg.qr(a, out=empty(f64, f64)),
        "qr_top": lambda: m.qr(a, out=empty(f64, f64)),
        "lu_factor": lambda: m.linalg.lu_factor(a, out=empty(f64, i32)),
        "lu_factor_ex": lambda: m.linalg.lu_factor_ex(a, out=empty(f64, i32, i32)),
        "lu": lambda: m.linalg.lu(a, out=empty(f64, f64, f64)),
        "lu_top": lambda: m.lu(a, out=list(empty(f64, i32))),
        "lu_top_infos": lambda: m.lu(a, get_infos=True, out=empty(f64, i32, i32)),
        "ldl_factor": lambda: m.linalg.ldl_factor(s, out=empty(f64, i32)),
        "ldl_factor_ex": lambda: m.linalg.ldl_factor_ex(s, out=empty(f64, i32, i32)),
        "eigvals_of_eigh": lambda: m.linalg.eigh(s, out=empty(f64, f64))[:1],
        "svd_values": lambda: m.linalg.svd(a, out=empty(f64, f64, f64))[1:2],
        "svd_top_values": lambda: m.svd(a, out=empty(f64, f64, f64))[1:2],
        "geqrf": lambda: m.geqrf(a, out=empty(f64, f64)),
        "lu_unpack": lambda: m.lu_unpack(*m.linalg.lu_factor(a), out=empty(f64, f64, f64)),
        "triangular_solve": lambda: m.triangular_solve(s, a.triu(), out=empty(f64, f64)),
        "solve_ex": lambda: m.linalg.solve_ex(a, s, out=empty(f64, i32)),
    }


@pytest.mark.parametrize("name", list(_calls(cgrad)))
def test_tuple_out_values_and_type_as_torch(name):
    got = []
    for m in (cgrad, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")           # (torch.qr, torch.lu: deprecated)
            result = _calls(m)[name]()
        got.append((type(result).__name__, [r.detach().numpy() for r in result]))
    (ours, a), (theirs, b) = got
    assert ours == theirs
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


def test_the_outs_are_the_tensors_given():
    outs = (cgrad.empty(0, dtype=cgrad.float64), cgrad.empty(0, dtype=cgrad.float64))
    result = cgrad.linalg.eigh(cgrad.tensor(S), out=outs)
    assert result[0] is outs[0] and result[1] is outs[1]
    assert result.eigenvalues.shape == (3,)
    listed = [cgrad.empty(0, dtype=cgrad.float64), cgrad.empty(0, dtype=cgrad.int32)]
    assert cgrad.lu(cgrad.tensor(A), out=listed) is listed


@pytest.mark.parametrize("call", [
    lambda m: m.max(m.ones(3, 4), 0, out=(np.zeros(3), m.empty(0))),
    lambda m: m.topk(m.ones(3, 4), 2, out=(m.empty(0), [1])),
    lambda m: m.cummax(m.ones(3, 4), 0, out=(np.zeros(3),) * 5),       # type before count
    lambda m: m.sort(m.ones(3, 4), out=(m.empty(0),)),
    lambda m: m.linalg.eigh(m.eye(3), out=(m.empty(0), m.empty(0), m.empty(0))),
    lambda m: m.linalg.slogdet(m.eye(3), out=(m.empty(0), 5)),
    lambda m: m.linalg.solve_ex(m.eye(3), m.eye(3), out=m.empty(0)),
    lambda m: m.exp(np.zeros(3)),
])
def test_wrong_outs_raise_torchs_errors(call):
    with pytest.raises(TypeError):
        call(torch)
    same_error(call, message=True)
