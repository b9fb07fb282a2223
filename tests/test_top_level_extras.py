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
