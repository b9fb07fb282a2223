"""gather, sort, argsort, topk, isnan/isinf/isfinite, logical_not, smooth_l1/huber losses:
values, gradients and errors against PyTorch (skipped without it), on both backends."""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F

torch = pytest.importorskip("torch")


def _both(fn, *arrays):
    """fn(lib, *tensors) for PyTorch and cgrad: (values, gradients of sum(out * w)) each"""
    results = []
    for lib in (torch, cgrad):
        ts = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(lib, *ts)
        out = out[0] if isinstance(out, tuple) else out
        w = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))
        (out * lib.tensor(w, dtype=out.dtype)).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts
                                                 if t.requires_grad])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(backend, dim, rng):
    x = rng.standard_normal((4, 5))
    idx = rng.integers(0, x.shape[dim], (4, 5) if dim == -1 else (3, 5) if dim == 0
                       else (4, 7))                       # repeats: gradients add up
    _both(lambda lib, t: t.gather(dim, lib.tensor(idx)), x)
    _both(lambda lib, t: lib.gather(t, dim, lib.tensor(idx)), x)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort_topk(backend, descending, rng):
    x = rng.integers(-3, 4, (5, 6)).astype(np.float64)     # ties
    x[1, 2] = np.nan
    for dim in (0, 1):
        _both(lambda lib, t: t.sort(dim, descending=descending), x)
        got = cgrad.tensor(x).sort(dim=dim, descending=descending, stable=True).indices.numpy()
        want = torch.tensor(x).sort(dim=dim, descending=descending, stable=True).indices.numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(cgrad.tensor(x).argsort(dim, descending).numpy(),
                                      torch.tensor(x).argsort(dim=dim, descending=descending, stable=True)
                                      .numpy())
    y = rng.standard_normal((4, 9))
    for largest in (True, False):
        _both(lambda lib, t: t.topk(3, dim=1, largest=largest), y)
        np.testing.assert_array_equal(cgrad.tensor(y).topk(3, largest=largest).indices.numpy(),
                                      torch.tensor(y).topk(3, largest=largest).indices.numpy())
    with pytest.raises(RuntimeError):
        cgrad.tensor(y).topk(10)
    assert repr(cgrad.tensor([2.0, 1.0]).sort()).startswith("cgrad.return_types.sort(")


SORT_INPUTS = {   # rows past 16 elements: PyTorch's std::sort leaves their ties unordered
    "float32_nan_inf": lambda rng: np.where(
        rng.random((4, 45)) < 0.2, np.nan,
        np.where(rng.random((4, 45)) < 0.1, np.inf, rng.integers(-3, 3, (4, 45)))
    ).astype(np.float32),
    "float64_signed_zeros": lambda rng: np.where(rng.random((5, 40)) < 0.4, -0.0,
                                                 rng.integers(0, 3, (5, 40))).astype(np.float64),
    "float16": lambda rng: rng.integers(0, 5, (3, 70)).astype(np.float16),
    "int64": lambda rng: rng.integers(0, 9, (3, 300)),
    "int32": lambda rng: rng.integers(-5, 5, (2, 33)).astype(np.int32),
    "bool": lambda rng: rng.random((3, 50)) < 0.5,
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("inputs", sorted(SORT_INPUTS))
def test_sort_ties_in_pytorchs_order(backend, inputs, descending, rng):
    """indices (and values: -0.0 and 0.0 tie) as PyTorch's unstable sort leaves them, on
    each dim, and its stable sort's"""
    x = SORT_INPUTS[inputs](rng)
    for dim in (0, 1, -1):
        for stable in (False, True):
            got = cgrad.from_numpy(x.copy()).sort(dim, descending, stable=stable)
            want = torch.from_numpy(x.copy()).sort(dim=dim, descending=descending, stable=stable)
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
            np.testing.assert_array_equal(np.signbit(got.values.numpy()),
                                          np.signbit(want.values.numpy()))
        np.testing.assert_array_equal(
            cgrad.from_numpy(x.copy()).argsort(dim, descending).numpy(),
            torch.from_numpy(x.copy()).argsort(dim=dim, descending=descending).numpy())
    if x.dtype.kind == "f":
        _both(lambda lib, t: t.sort(1, descending=descending), x.astype(np.float64))


@pytest.mark.parametrize("sorted_", [True, False])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("inputs", ["float32_nan_inf", "float64_signed_zeros", "int64", "int32"])
def test_topk_ties_in_pytorchs_order(backend, inputs, largest, sorted_, rng):
    """indices as PyTorch's topk leaves them among ties and NaN, sorted or not (its
    std::partial_sort where k * 64 <= n, else std::nth_element), on each dim"""
    x = SORT_INPUTS[inputs](rng)
    for dim in (0, 1):
        n = x.shape[dim]
        for k in sorted({0, 1, 2, n // 64, n // 3, n - 1, n}):
            got = cgrad.from_numpy(x.copy()).topk(k, dim, largest, sorted_)
            want = torch.from_numpy(x.copy()).topk(k, dim, largest, sorted_)
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    if x.dtype.kind == "f":
        _both(lambda lib, t: t.topk(5, 1, largest, sorted_), x.astype(np.float64))


def test_sort_topk_grad_fn_names_and_edges(backend):
    for lib in (cgrad, torch):
        x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
        s = lib.tensor(3.0, requires_grad=True)
        names = [x.sort().values.grad_fn.name(), x.topk(2).values.grad_fn.name(),
                 s.sort().values.grad_fn.name(), s.topk(1).values.grad_fn.name()]
        assert names == ["SortBackward0", "TopkBackward0"] * 2
    for fn in (lambda m: m.tensor(3.0).topk(0), lambda m: m.zeros(2, 0).topk(0),
               lambda m: m.zeros(0, 3).topk(2), lambda m: m.zeros(2, 0).sort(),
               lambda m: m.zeros(0, 3).sort(0), lambda m: m.tensor(3.0).sort(),
               lambda m: m.tensor([1, 2]).topk(1, sorted=False)):
        got, want = fn(cgrad), fn(torch)
        for a, b in zip(got, want):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_sort_one_dim_integers_radix(backend, rng):
    """a 1-D integer sort of 32768 elements or more is PyTorch's radix sort: stable"""
    for n in (32767, 32768):
        x = rng.integers(0, 50, n)
        for descending in (False, True):
            np.testing.assert_array_equal(
                cgrad.from_numpy(x).sort(descending=descending).indices.numpy(),
                torch.from_numpy(x).sort(descending=descending).indices.numpy())


def test_quantile_gradient_at_ties_past_16_elements(backend, rng):
    """quantile sorts as PyTorch does, so its gradient lands on PyTorch's element among ties
    (and NaN's on its NaN)"""
    x = rng.integers(-3, 3, (3, 41)).astype(np.float64)
    for q in (0.0, 0.3, 0.5, 1.0):
        _both(lambda lib, t: t.quantile(q, dim=1), x)
        _both(lambda lib, t: t.nanquantile(q, dim=1), np.where(rng.random(x.shape) < 0.2,
                                                               np.nan, x))
    y = x.copy()
    y[0, [3, 20]] = np.nan
    _both(lambda lib, t: t.quantile(0.5, dim=1), y)


def test_gather_errors(backend):
    x = cgrad.ones(3, 4)
    for idx, error in ((cgrad.tensor([[0, 1]], dtype=cgrad.int16), "int32/int64"),
                       (cgrad.tensor([[0, -1]]), "out of bounds"),
                       (cgrad.tensor([0, 1]), "same number of dimensions"),
                       (cgrad.tensor([[0, 4]]), "out of bounds")):
        with pytest.raises(RuntimeError, match=error):
            x.gather(1, idx)


def test_float_tests_and_logical_not(backend):
    x = cgrad.tensor([1.0, float("nan"), float("inf"), -float("inf")])
    assert x.isnan().tolist() == [False, True, False, False]
    assert x.isinf().tolist() == [False, False, True, True]
    assert cgrad.isfinite(x).tolist() == [True, False, False, False]
    assert x.isnan().logical_not().tolist() == [True, False, True, True]
    assert cgrad.tensor([0, 2]).logical_not().tolist() == [True, False]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1_and_huber(backend, reduction, rng):
    a, b = rng.standard_normal(20) * 2, rng.standard_normal(20)
    for beta in (1.0, 0.5, 0.0):
        _both(lambda lib, s, t: lib.nn.functional.smooth_l1_loss(s, t, reduction=reduction,
                                                                 beta=beta), a, b)
    for delta in (1.0, 2.5):
        _both(lambda lib, s, t: lib.nn.functional.huber_loss(s, t, reduction=reduction,
                                                             delta=delta), a, b)
    _both(lambda lib, s, t: lib.nn.SmoothL1Loss(reduction=reduction, beta=0.7)(s, t), a, b)
    _both(lambda lib, s, t: lib.nn.HuberLoss(reduction=reduction, delta=0.7)(s, t), a, b)
    with pytest.raises(RuntimeError):
        F.huber_loss(cgrad.ones(2), cgrad.ones(2), delta=0)
    assert isinstance(nn.HuberLoss(), nn.Module)


def test_msort_and_lerp_and_quantile_at_infinities(backend):
    """msort is sort's values along dim 0; lerp computes from end where |weight| >= 0.5, as
    PyTorch's (so quantile's inf - inf is NaN where PyTorch's is)"""
    x = np.array([[3.0, -1.0], [np.nan, 2.0], [0.5, 0.5]])
    _both(lambda lib, t: lib.msort(t), x)
    _both(lambda lib, t: t.msort(), x)
    inf = np.inf
    for values, q in (([-inf, 0.0, 1.0], 0.25), ([0.0, 1.0, inf], 0.9), ([0.0, inf, 1.0], 0.4)):
        for interpolation in ("linear", "midpoint"):
            got = cgrad.tensor(values).quantile(q, interpolation=interpolation).item()
            want = torch.tensor(values).quantile(q, interpolation=interpolation).item()
            np.testing.assert_equal(got, want)
    np.testing.assert_equal(cgrad.tensor([0.0, 1.0, inf, np.nan]).nanquantile(0.9).item(),
                            torch.tensor([0.0, 1.0, inf, np.nan]).nanquantile(0.9).item())
    a, b, w = np.array([1.0, -2.0, 3.0]), np.array([4.0, 0.5, -1.0]), np.array([0.2, 0.7, -0.6])
    for weight in (0.3, 0.8, -0.7):
        _both(lambda lib, s, e: lib.lerp(s, e, weight), a, b)
    _both(lambda lib, s, e, u: lib.lerp(s, e, u), a, b, w)


def test_sort_and_topk_along_a_middle_dim_are_row_major(backend):
    """sort/argsort/topk along a dim other than the last gave results with that dim
    innermost in memory, so .view(-1) of them raised where PyTorch's views fine"""
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.random.default_rng(5).standard_normal((2, 3, 4)))
        rs = [*x.sort(1), *x.topk(2, 1), x.argsort(0, descending=True), x.msort()]
        results.append([(r.stride(), r.view(-1).tolist()) for r in rs])
    assert results[0] == results[1]


def test_reductions_of_a_transposed_tensor_are_row_major(backend):
    """sum/mean/var/std/norm over a dim of a permuted tensor kept NumPy's order of the input
    (strides (1, 2) for a (2, 4) result), so .view of them raised where PyTorch's row-major
    result views fine"""
    results = []
    for lib in (cgrad, torch):
        x = lib.arange(24.0).reshape(4, 3, 2).permute(2, 1, 0)
        rs = [x.sum(1), x.sum(1, keepdim=True), x.mean(0), x.var(1), x.std(1), x.norm(dim=1),
              lib.std_mean(x, 1)[0], x.long().sum(2), x.mean((0, 2))]
        results.append([(r.stride(), np.round(r.view(-1).double().numpy(), 9).tolist())
                        for r in rs])
    assert results[0] == results[1]


def test_scans_and_norms_of_a_transposed_tensor_are_row_major(backend):
    """cummax/cummin, logcumsumexp, and layer_norm/batch_norm without a graph kept NumPy's
    order of a transposed input, so .view(-1) of them raised where PyTorch's views fine"""
    results = []
    for lib in (cgrad, torch):
        x = lib.arange(12.0).reshape(3, 4).t()
        x4 = lib.arange(120.0).reshape(2, 3, 4, 5).permute(0, 1, 3, 2)
        F_ = lib.nn.functional
        rs = [*x.cummax(0), *x.cummin(1), x.logcumsumexp(0), F_.layer_norm(x, (3,)),
              F_.batch_norm(x4, lib.zeros(3), lib.ones(3))]
        results.append([(r.stride(), np.round(r.view(-1).double().numpy(), 5).tolist())
                        for r in rs])
    assert results[0] == results[1]
