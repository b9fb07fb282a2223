"""Reductions, scans and searches cgrad lacked: aminmax, cummax/cummin, logcumsumexp,
var_mean/std_mean, diff, histc, bincount, unique/unique_consecutive, isin, searchsorted,
bucketize, argwhere: values, dtypes, gradients and errors against PyTorch, on both backends."""
import numpy as np
import pytest

import cgrad
from test_more_ops import INF, NAN, compare, same_error, values
from test_more_ops_parity import second_derivatives

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TIES = np.array([[1.0, 3.0, 3.0, NAN, 5.0, 2.0], [4.0, -1.0, 4.0, 0.0, -INF, 7.0],
                 [2.0, 2.0, 2.0, 1.0, 1.0, 3.0]])


def _pair(fn):
    """fn's two results as one tensor each for compare: values first, then indices"""
    return lambda m, t: fn(m, t)[0], lambda m, t: fn(m, t)[1]


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cummax_cummin(backend, name, dim):
    for dtype in (np.float32, np.float64):
        for part in _pair(lambda m, t: getattr(m, name)(t, dim)):
            compare(part, TIES.astype(dtype), layout="transposed")
        compare(lambda m, t: getattr(t, name)(dim=dim).values,
                values(dtype, [], shape=(3, 6)), layout="strided")
        # a later NaN takes its index (cgrad kept the first NaN's), gradients go there
        nans = np.array([[3.0, NAN, 1.0, NAN, 7.0], [NAN, NAN, -INF, 2.0, NAN]], dtype)
        for part in _pair(lambda m, t: getattr(m, name)(t, -1)):
            compare(part, nans)
    for x in (np.array([[3, 1, 1, 2], [0, 0, 5, -2]]), np.array([[True, False], [False, True]])):
        for part in _pair(lambda m, t: getattr(t, name)(min(dim, 1))):
            compare(part, x, grad=False)
    for part in _pair(lambda m, t: getattr(t, name)(0)):
        compare(part, np.array(2.5))
        compare(part, np.zeros((0, 3)))
    second_derivatives(lambda m, t: getattr(t, name)(1).values * t, values(np.float64, [],
                                                                          shape=(3, 5)))
    for m in (cgrad, torch):
        r = getattr(m, name)(m.tensor(TIES), 1)
        assert r.values is r[0] and r.indices is r[1]
        assert repr(r).split("(")[0].endswith(f"return_types.{name}")
    same_error(lambda m: getattr(m, name)(m.ones(2, 3), 2))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp(backend, dim):
    x = values(np.float64, [1000.0, 999.0, -1000.0, -INF, 0.0], -3, 3, shape=(3, 5))
    for dtype, tol in ((np.float32, dict(rtol=1e-4, atol=1e-5)),     # (float32 gradients:
                       (np.float64, None)):                            # summed in logs)
        compare(lambda m, t: m.logcumsumexp(t, dim), x.astype(dtype), layout="transposed",
                tol=tol)
        compare(lambda m, t: t.logcumsumexp(dim), x.astype(dtype), layout="strided", tol=tol)
    compare(lambda m, t: t.logcumsumexp(0), np.array(1.5))
    compare(lambda m, t: t.logcumsumexp(0), np.zeros((0, 2)))
    assert cgrad.autograd.gradcheck(lambda t: t.logcumsumexp(dim), (cgrad.tensor(
        values(np.float64, [], shape=(3, 4)), requires_grad=True),))
    same_error(lambda m: m.tensor([1, 2]).logcumsumexp(0), message=True)


@pytest.mark.parametrize("kw", [{}, {"dim": 0}, {"dim": 1, "keepdim": True},
                                {"keepdim": True}])
def test_aminmax(backend, kw):
    x = values(np.float64, [5.0, 5.0, -1.0, INF], shape=(3, 4))
    for part in _pair(lambda m, t: m.aminmax(t, **kw)):
        compare(part, x, names=False)            # (PyTorch's node: AminmaxBackward0)
    for part in _pair(lambda m, t: t.aminmax(**kw)):
        compare(part, np.array([[3, -1, 2], [7, 0, 1]]), grad=False)
    compare(lambda m, t: t.aminmax().max, np.array([True, False]), grad=False)
    for m in (cgrad, torch):
        r = m.aminmax(m.tensor(x), dim=0)
        assert r.min is r[0] and r.max is r[1]
    same_error(lambda m: m.tensor([]).aminmax(), message=True)
    same_error(lambda m: m.ones(0, 3).aminmax(dim=0), message=True)


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": (0, 1), "keepdim": True},
                                {"dim": 0, "correction": 0}, {"dim": 1, "unbiased": False}])
def test_var_mean_std_mean(backend, name, kw):
    x = values(np.float64, [], shape=(3, 4))
    for k in (0, 1):
        compare(lambda m, t: getattr(m, name)(t, **kw)[k], x, names=False)


DIFFS = [dict(), dict(n=2), dict(n=0), dict(dim=0), dict(n=5), dict(n=3, dim=0),
         dict(prepend=True), dict(append=True, n=2), dict(prepend=True, append=True, dim=0)]


@pytest.mark.parametrize("kw", DIFFS)
def test_diff(backend, kw):
    x = values(np.float64, [INF], shape=(3, 4))
    d = kw.get("dim", -1)
    side = (3, 1) if d == -1 else (1, 4)
    extra = [values(np.float64, [], shape=side, seed=k) for k in (1, 2)
             if kw.get(("prepend", "append")[k - 1])]
    keys = [k for k in ("prepend", "append") if kw.get(k)]
    args = {k: v for k, v in kw.items() if k not in keys}

    def fn(m, t, *ts):
        return m.diff(t, **args, **dict(zip(keys, ts)))
    compare(fn, x, *extra)
    compare(lambda m, t, *ts: t.diff(**args, **dict(zip(keys, ts))), x, *extra,
            layout="transposed")
    compare(lambda m, t: t.diff(**args), np.array([[1, 4, 9, 16], [2, 0, 0, 5]]), grad=False)
    compare(lambda m, t: t.diff(**args), np.array([[True, False, False], [True, True, False]]),
            grad=False)


def test_diff_errors(backend):
    compare(lambda m, t: t.diff(prepend=m.tensor([[0.5]]), append=m.tensor([[2.0]])),
            values(np.float64, [], shape=(1, 4)))
    same_error(lambda m: m.tensor(1.0).diff(), message=True)
    same_error(lambda m: m.ones(3).diff(n=-1), message=True)
    same_error(lambda m: m.ones(2, 3).diff(dim=2))


HISTC = [dict(bins=4, min=0, max=3), dict(bins=4), dict(bins=7, min=-1, max=1.5),
         dict(bins=1), dict(bins=100)]


@pytest.mark.parametrize("kw", HISTC)
def test_histc(backend, kw):
    x = values(np.float64, [1.0, 2.0, 1.0, 4.0, 0.0, 3.0, -1.0, 1.5], -1, 4)
    for dtype in (np.float32, np.float64):
        compare(lambda m, t: m.histc(t, **kw), x.astype(dtype), grad=False)
        compare(lambda m, t: t.histc(**kw), x.astype(dtype), layout="transposed", grad=False)
    compare(lambda m, t: t.histc(4), np.array([1.0, 1.0]), grad=False)      # one value
    compare(lambda m, t: t.histc(4), np.zeros(0), grad=False)


def test_histc_errors(backend):
    same_error(lambda m: m.tensor([1, 2]).histc(4), message=True)
    same_error(lambda m: m.tensor([1.0, 2.0]).histc(4, min=3, max=1), message=True)
    same_error(lambda m: m.tensor([1.0, 2.0]).histc(0), message=True)
    same_error(lambda m: m.tensor([1.0, INF]).histc(2), message=True)
    same_error(lambda m: m.tensor([1.0, NAN]).histc(2), message=True)


def test_bincount(backend):
    x = np.array([3, 1, 1, 0, 5, 1])
    compare(lambda m, t: m.bincount(t), x, grad=False)
    compare(lambda m, t: t.bincount(minlength=9), x.astype(np.int32), grad=False)
    compare(lambda m, t: t.bincount(minlength=3), np.zeros(0, np.int64), grad=False)
    for w in (np.linspace(0, 1, 6).astype(np.float32), np.arange(6.0), np.arange(6)):
        compare(lambda m, t, u: m.bincount(t, u), x, w, grad=False)
    for bad in (lambda m: m.bincount(m.tensor([-1])), lambda m: m.bincount(m.ones(2, 2).long()),
                lambda m: m.bincount(m.ones(2)), lambda m: m.bincount(m.tensor([1]), minlength=-1),
                lambda m: m.bincount(m.tensor([1, 2]), m.ones(3))):
        same_error(bad, message=True)


UNIQUE_INPUTS = [np.array([3, 1, 2, 1, 3, 3]), np.array([[2.0, NAN, 1.0], [NAN, 2.0, -0.5]]),
                 np.array([True, False, True]), np.array(7), np.array([[1, 2], [1, 2], [0, 5]]),
                 np.zeros((0, 2), np.int64)]


@pytest.mark.parametrize("k", range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize("name", ["unique", "unique_consecutive"])
def test_unique(backend, name, k):
    x = UNIQUE_INPUTS[k]
    dims = [None] + ([0, 1, -1] if x.ndim == 2 and x.dtype.kind == "i" and x.size else [])
    for dim in dims:
        for inverse in (False, True):
            for counts in (False, True):
                def fn(m, t, i=None):
                    out = getattr(m, name)(t, return_inverse=inverse, return_counts=counts,
                                           dim=dim)
                    return out if i is None else out[i]
                n = 1 + inverse + counts
                for i in ([None] if n == 1 else range(n)):
                    compare(lambda m, t: fn(m, t, i), x, grad=False)
    compare(lambda m, t: getattr(t, name)(), x, grad=False)


def test_unique_has_no_derivative(backend):
    for name in ("unique", "unique_consecutive"):
        for m in (cgrad, torch):
            y = getattr(m, name)(m.tensor([1.0, 2.0, 2.0], requires_grad=True))
            assert y.requires_grad
        same_error(lambda m: getattr(m, name)(m.tensor([1.0, 2.0], requires_grad=True)).sum()
                   .backward(), message=name == "unique")
    same_error(lambda m: m.unique(m.ones(2, 3), dim=2))


def test_isin(backend):
    a, b = np.array([[1, 2], [3, 4]]), np.array([2, 3, 9])
    for invert in (False, True):
        compare(lambda m, x, y: m.isin(x, y, invert=invert), a, b, grad=False)
        compare(lambda m, x, y: m.isin(x, y, invert=invert), a.astype(np.float32), b,
                grad=False)
        compare(lambda m, x: m.isin(x, 2, invert=invert), a, grad=False)
        compare(lambda m, y: m.isin(3, y, invert=invert), b, grad=False)
    compare(lambda m, x, y: m.isin(x, y), np.array([NAN, 1.0]), np.array([NAN, 1.0]), grad=False)


SEARCHES = [dict(), dict(right=True), dict(side="right"), dict(side="left"),
            dict(out_int32=True), dict(right=False, side="right")]


@pytest.mark.parametrize("kw", SEARCHES)
def test_searchsorted_and_bucketize(backend, kw):
    seq = np.array([1, 3, 3, 5, 7])
    vals = np.array([[3, 6], [9, 0], [1, 7]])
    compare(lambda m, s, v: m.searchsorted(s, v, **kw), seq, vals, grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, **kw), seq.astype(np.float64), vals,
            grad=False)
    compare(lambda m, s: m.searchsorted(s, 5, **kw), seq, grad=False)
    rows = np.array([[1, 3, 5, 7], [2, 4, 6, 8], [0, 0, 1, 1]])
    compare(lambda m, s, v: m.searchsorted(s, v, **kw), rows, vals, grad=False)
    sorter = np.array([1, 3, 0, 2])
    compare(lambda m, s, v, o: m.searchsorted(s, v, sorter=o, **kw),
            np.array([5, 1, 7, 3]), vals, sorter, grad=False)
    if "side" not in kw:
        compare(lambda m, v, b: m.bucketize(v, b, **kw), vals, seq, grad=False)
        compare(lambda m, b: m.bucketize(3, b, **kw), seq, grad=False)


def test_search_errors_and_argwhere(backend):
    same_error(lambda m: m.searchsorted(m.ones(2, 4), m.ones(1, 2)), message=True)
    same_error(lambda m: m.searchsorted(m.ones(4), m.ones(2), side="x"), message=True)
    same_error(lambda m: m.searchsorted(m.ones(4), m.ones(2), right=True, side="left"),
               message=True)
    same_error(lambda m: m.bucketize(m.ones(2), m.ones(2, 3)), message=True)
    for x in (np.array([[0, 1], [2, 0]]), np.array(3.0), np.array(0), np.zeros((2, 0))):
        compare(lambda m, t: m.argwhere(t), x, grad=False)
        compare(lambda m, t: t.argwhere(), x, grad=False)
        for m in (cgrad, torch):
            assert [a.tolist() for a in m.tensor(x).nonzero(as_tuple=True)] == \
                [a.tolist() for a in torch.tensor(x).nonzero(as_tuple=True)]
    compare(lambda m, t: m.count_nonzero(t, dim=(0, 1)), np.array([[0, 1], [2, 0]]),
            grad=False)
