"""Small top-level functions of PyTorch's: the SymInt-aware helpers on plain numbers, the
in-place and feature forms of dropout, the low-level RNN cell functions, and the deprecated
nn.NLLLoss2d / nn.Container, each against torch on both backends."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _outcome(call, lib):
    try:
        r = call(lib)
    except Exception as e:                 # noqa: BLE001 (the class is what is compared)
        return type(e).__name__
    return type(r).__name__, r


@pytest.mark.parametrize("call", [
    lambda L: L.sym_int(3.7), lambda L: L.sym_int(-3.7), lambda L: L.sym_float(3),
    lambda L: L.sym_max(2, 3.5), lambda L: L.sym_max(2, 3), lambda L: L.sym_min(2, 3.5),
    lambda L: L.sym_min(np.int64(2), 3), lambda L: L.sym_max("a", 3), lambda L: L.sym_not(0),
    lambda L: L.sym_sqrt(4), lambda L: L.sym_ite(True, 1, 2), lambda L: L.sym_ite(1, 1, 2),
    lambda L: L.sym_ite(False, 1, 2.0), lambda L: L.sym_sum([1, 2.5]), lambda L: L.sym_sum(1, 2),
])
def test_sym_helpers_match_torch(call):
    assert _outcome(call, cgrad) == _outcome(call, torch)


def test_dropout_forms_match_torch(backend):
    for name in ("dropout_", "alpha_dropout_", "feature_alpha_dropout_", "feature_dropout",
                 "feature_dropout_"):
        for p, train in ((0.0, True), (0.5, False), (1.0, True)):
            got, want = (getattr(L, name)(L.ones(2, 3, 4), p, train) for L in (cgrad, torch))
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=name)
    x = cgrad.ones(8, 50, 4)
    y = cgrad.feature_dropout(x, 0.5, True)
    per_channel = y.numpy().reshape(8, 50, 4)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()   # whole channels dropped
    assert 0 < (per_channel == 0).mean() < 1
    z = cgrad.ones(3)
    assert cgrad.dropout_(z, 1.0, True) is z and z.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name, chunks", [("lstm_cell", 4), ("gru_cell", 3),
                                          ("rnn_tanh_cell", 1), ("rnn_relu_cell", 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_functions_match_torch(backend, name, chunks, bias):
    rng = np.random.default_rng(chunks)
    x, h, c = (rng.standard_normal(s) for s in ((3, 4), (3, 5), (3, 5)))
    weights = [rng.standard_normal(s) for s in ((5 * chunks, 4), (5 * chunks, 5))]
    if bias:
        weights += [rng.standard_normal(5 * chunks) for _ in range(2)]
    outs = []
    for L in (cgrad, torch):
        xs = L.tensor(x, requires_grad=True)
        state = (L.tensor(h), L.tensor(c)) if name == "lstm_cell" else L.tensor(h)
        ws = [L.tensor(w, requires_grad=True) for w in weights]
        out = getattr(L, name)(xs, state, *ws)
        out = out if isinstance(out, tuple) else (out,)
        sum((o * o).sum() for o in out).backward()
        outs.append([o.detach().numpy() for o in out] + [xs.grad.numpy()]
                    + [w.grad.numpy() for w in ws])
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for L in (cgrad, torch):
        with pytest.raises(RuntimeError, match="inconsistent input_size"):
            getattr(L, name)(L.ones(3, 2), (L.ones(3, 5),) * 2 if name == "lstm_cell"
                             else L.ones(3, 5), *(L.tensor(w) for w in weights))


def test_deprecated_nn_classes_warn_and_work(backend):
    for L in (cgrad, torch):
        with pytest.warns(FutureWarning, match="NLLLoss2d"):
            loss = L.nn.NLLLoss2d(ignore_index=1)
        assert isinstance(loss, L.nn.NLLLoss) and loss.ignore_index == 1
        with pytest.warns(FutureWarning, match="Container"):
            box = L.nn.Container(a=L.nn.ReLU())
        assert isinstance(box.a, L.nn.ReLU)
    assert cgrad.GradScaler is cgrad.amp.GradScaler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logits = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
        target = np.random.default_rng(1).integers(0, 3, (4, 2, 2))
        got, want = (L.nn.NLLLoss2d()(L.tensor(logits).log_softmax(1), L.tensor(target))
                     for L in (cgrad, torch))
    assert abs(got.item() - want.item()) < 1e-12


def _tensor_extras(L):
    out = []

    class Sub(L.Tensor):
        pass
    x = L.tensor([1.0, -2.0], requires_grad=True)
    y = (x * 2).as_subclass(Sub)
    out.append((type(y).__name__, type(y.grad_fn).__name__, y.requires_grad))
    y.sum().backward()
    out.append(x.grad.tolist())
    z = x.detach().as_subclass(Sub)
    z[0] = 5                                       # an alias: x changes too
    out.append(x.tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = L.arange(6.)
        r = a.resize(2, 3)
        out.append((r.tolist(), r.data_ptr() == a.data_ptr()))
        out.append(tuple(a.resize_as(L.zeros(3, 2)).shape))
        out.append(_outcome(lambda _: a.resize(4), L))
    out.append(L.nonzero_static(L.tensor([0, 1, 0, 2]), size=3).tolist())
    out.append(L.nonzero_static(L.tensor([[0, 1], [3, 0]]), size=1, fill_value=9).tolist())
    out.append(L.tensor([0, 1, 0, 2]).nonzero_static(size=4).tolist())
    out.append(L.nonzero_static(L.tensor(0), size=2).tolist())
    out.append(L.as_strided_scatter(L.zeros(3, 3), L.ones(2), (2,), (4,)).tolist())
    src = L.ones(2, requires_grad=True)
    o = L.as_strided_scatter(L.zeros(3, 3), src, (2,), (4,), 1)
    (o * L.arange(9.).reshape(3, 3)).sum().backward()
    out.append((o.tolist(), src.grad.tolist()))
    return out


def test_tensor_extras_match_torch(backend):
    """as_subclass, the deprecated resize / resize_as, nonzero_static, as_strided_scatter"""
    assert _tensor_extras(cgrad) == _tensor_extras(torch)


def test_as_strided_scatter_gradient_of_the_input(backend):
    """d out / d input is 1 off the written positions, 0 on them (gradcheck; PyTorch 2.13's
    backward puts the gradient on the written positions instead and fails gradcheck)"""
    x = cgrad.zeros(3, 3, dtype=cgrad.float64, requires_grad=True)
    src = cgrad.ones(2, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradcheck(
        lambda a, b: cgrad.as_strided_scatter(a, b, (2,), (4,), 1), (x, src))


def _histogramdd_outcomes(L):
    out = []
    x = L.tensor([[0., 1.], [1., 0.], [2., 0.], [2., 2.]])
    edges = [L.tensor([0., 1., 2.], dtype=L.float64), L.tensor([0., 2.], dtype=L.float64)]
    for args, kw in [
            ((x,), dict(bins=[3, 3])), ((x,), dict(bins=3)), ((x[:, 0],), dict(bins=3)),
            ((x,), dict(bins=[3])), ((x,), dict(bins=[2, 3], range=[0., 2., 0., 1.])),
            ((x,), dict(bins=[3, 3], range=[0., 2.])),
            ((x.double(),), dict(bins=edges)), ((x,), dict(bins=edges)),
            ((x.double(),), dict(bins=[edges[0], 3])), ((x,), dict(bins=[3, edges[0]])),
            ((x.long(),), dict(bins=2)), ((L.zeros(0, 2),), dict(bins=2)),
            ((x,), dict(bins=[2, 2], weight=L.ones(3))),
            ((x,), dict(bins=[2, 2], weight=L.tensor([1., 2., 3., 4.]))),
            ((x,), dict(bins=[2, 2], density=True)), ((x,), dict(bins=0)),
            ((x,), dict(bins=2, range=[1., 0., 0., 1.])),
            ((L.tensor([[0., float("inf")]]),), dict(bins=2)), ((L.zeros(2, 3, 2),), dict(bins=2)),
            ((L.tensor(np.random.default_rng(0).standard_normal((50, 3))),),
             dict(bins=[4, 3, 2], density=True))]:
        try:
            r = L.histogramdd(*args, **kw)
            out.append((np.round(r.hist.numpy(), 6).tolist(),
                        [np.round(e.numpy(), 6).tolist() for e in r.bin_edges],
                        str(r.hist.dtype).split(".")[1]))
        except Exception as e:             # noqa: BLE001 (class and message compared)
            out.append((type(e).__name__, str(e).replace("torch.", "")))
    return out


def test_histogramdd_matches_torch(backend):
    assert _histogramdd_outcomes(cgrad) == _histogramdd_outcomes(torch)


def test_empty_permuted_matches_torch(backend):
    for L in (cgrad, torch):
        e = L.empty_permuted((2, 3, 5, 7), (0, 2, 3, 1), dtype=L.float64, requires_grad=True)
        assert (e.stride(), e.dtype == L.float64, e.requires_grad) == ((105, 1, 21, 3), True, True)
    for bad in ((0, 0), (0,), (0, 2)):
        got, want = (_outcome(lambda L: L.empty_permuted((2, 3), bad), L) for L in (cgrad, torch))
        assert got == want


def test_binomial_draws(backend):
    cgrad.manual_seed(0)
    draws = cgrad.binomial(cgrad.full((40000,), 20.0), cgrad.full((40000,), 0.3)).numpy()
    assert draws.dtype == np.float32 and (draws == np.round(draws)).all()
    assert abs(draws.mean() - 6.0) < 0.05 and abs(draws.var() - 4.2) < 0.15
    # broadcast; prob clipped to [0, 1] and count taken down to whole trials, as PyTorch's
    assert cgrad.binomial(cgrad.tensor([10.0, 3.0]), cgrad.tensor([1.5])).tolist() == [10.0, 3.0]
    assert cgrad.binomial(cgrad.tensor([10.7]), cgrad.tensor([1.0])).tolist() == [10.0]
    assert cgrad.binomial(cgrad.tensor([9.0]), cgrad.tensor([-0.5])).tolist() == [0.0]
    for L in (cgrad, torch):
        with pytest.raises(RuntimeError, match="Found dtype Float but expected Double"):
            L.binomial(L.tensor([10.0], dtype=L.float64), L.tensor([0.5]))


def _factory_options(L):
    r = []
    o = L.empty(0)
    r.append((L.arange(5, out=o) is o, o.tolist(), str(o.dtype)))       # out's dtype
    o = L.empty(3, dtype=L.int64)
    r.append((L.zeros(2, 2, out=o) is o, str(o.dtype), tuple(o.shape)))
    o = L.empty(0, dtype=L.float64)
    L.linspace(0, 1, 3, out=o)
    r.append((o.tolist(), str(o.dtype)))
    for make in (lambda: L.eye(2, out=L.empty(0)), lambda: L.full((2,), 3.0, out=L.empty(0)),
                 lambda: L.zeros(2, out=L.empty(2), dtype=L.float64),
                 lambda: L.zeros(2, pin_memory=True), lambda: L.ones(2, layout=L.strided),
                 lambda: L.zeros_like(L.ones(2), layout=L.strided, pin_memory=False),
                 lambda: L.randn_like(L.ones(2), generator=L.Generator().manual_seed(0)).shape,
                 lambda: L.tril_indices(3, 3, layout=L.strided),
                 lambda: L.randint_like(L.ones(2), 3, pin_memory=False).shape):
        try:
            v = make()
            r.append(v.tolist() if isinstance(v, L.Tensor) else tuple(v))
        except RuntimeError as e:
            r.append(("RuntimeError", str(e)))
    return [str(v).replace(L.__name__, "lib") for v in r]


def test_factory_options_match_torch(backend):
    """layout=strided, pin_memory=False and out= on the factory functions, as PyTorch's"""
    assert _factory_options(cgrad) == _factory_options(torch)


def test_float_of_a_tensor_requiring_grad_warns_once(backend, monkeypatch):
    """PyTorch 2.13 warns (once a process) that float() of such a tensor leaves the graph"""
    import sys
    monkeypatch.setattr(sys.modules["cgrad.tensor"], "_float_warned", [False])
    x = cgrad.tensor(2.5, requires_grad=True)
    with pytest.warns(UserWarning, match="requires_grad=True to a scalar"):
        assert float(x) == 2.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(x * 2) == 5.0 and float(x.detach()) == 2.5


@pytest.mark.parametrize("args", [({"a": 1}, "W"), ("X", {"a": 1})])
def test_linear_of_a_non_tensor_is_a_type_error(backend, args):
    for L in (cgrad, torch):
        a, b = (L.ones(2, 2) if v in ("X", "W") else v for v in args)
        with pytest.raises(TypeError, match="must be Tensor, not dict"):
            L.nn.functional.linear(a, b)


def _lowrank_outcomes(L):
    """what svd_lowrank / pca_lowrank give that does not depend on the random draws"""
    rng = np.random.default_rng(0)
    A = L.tensor(rng.standard_normal((50, 3)) @ rng.standard_normal((3, 40))
                 + 1e-6 * rng.standard_normal((50, 40)))
    L.manual_seed(0)
    out = []
    for X, kw in ((A, dict(q=5)), (A.mT, dict(q=5)), (A, dict(q=5, niter=0)),
                  (A, dict(q=5, M=L.tensor(rng.standard_normal((1, 40)))))):
        U, S, V = L.svd_lowrank(X, **kw)
        target = X - kw["M"] if "M" in kw else X
        out.append((tuple(U.shape), tuple(S.shape), tuple(V.shape),
                    np.round(S.numpy()[:3], 4).tolist() if "M" not in kw else None,
                    float(((U * S) @ V.mT - target).abs().max()) < 1e-4 if "M" not in kw
                    else None))
    U, S, V = L.pca_lowrank(A, q=4)
    centred = A - A.mean(0, keepdim=True)
    out.append((np.round(S.numpy()[:3], 4).tolist(),
                float(((U * S) @ V.mT - centred).abs().max()) < 1e-4))
    for bad in (dict(q=60), dict(q=-1), dict(niter=-1)):
        out.append(_outcome(lambda L_: L_.pca_lowrank(A, **bad), L))
    x = L.tensor(A.numpy(), requires_grad=True)
    L.svd_lowrank(x, q=3)[1].sum().backward()
    out.append(tuple(x.grad.shape))
    return out


def test_lowrank_decompositions_match_torch(backend):
    """randomized, so compared by what the draws do not change: shapes, the leading singular
    values, the reconstruction of a rank-3 matrix, the errors"""
    assert _lowrank_outcomes(cgrad) == _lowrank_outcomes(torch)
