"""F.ctc_loss / nn.CTCLoss against torch's: losses, gradients (NaN where torch's are),
reductions, zero_infinity, blank, padded and concatenated targets, unbatched input, errors;
a few training steps of a small model; on both backends."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
from test_nn_layers import _raises_like_torch  # noqa: E402

CASES = [
    dict(T=6, N=3, C=5, S=3, il=[6, 6, 6], tl=[3, 2, 0]),
    dict(T=6, N=3, C=5, S=3, il=[6, 5, 4], tl=[3, 2, 0], reduction="mean"),
    dict(T=8, N=2, C=4, S=3, il=[8, 7], tl=[3, 3], blank=2, reduction="sum"),
    dict(T=6, N=3, C=5, S=3, il=[2, 5, 4], tl=[3, 2, 0]),                  # impossible: inf
    dict(T=6, N=3, C=5, S=3, il=[2, 5, 4], tl=[3, 2, 0], zero_infinity=True),
    dict(T=6, N=3, C=5, S=3, il=[2, 5, 4], tl=[3, 2, 0], zero_infinity=True, reduction="mean"),
    dict(T=6, N=3, C=5, S=3, il=[0, 5, 4], tl=[0, 2, 0]),                  # no frames
    dict(T=6, N=3, C=5, S=3, il=[6, 6, 6], tl=[3, 2, 1], concat=True),
    dict(T=10, N=4, C=3, S=5, il=[10, 9, 8, 10], tl=[5, 4, 2, 3]),
    dict(T=7, N=2, C=4, S=4, il=[7, 7], tl=[4, 4], repeats=True),          # l l: a blank between
    dict(T=6, N=3, C=5, S=3, il=[6, 6, 6], tl=[3, 2, 0], raw=True),        # not log_softmax
    dict(T=5, N=1, C=4, S=2, il=[5], tl=[2], unbatched=True),
    dict(T=5, N=1, C=4, S=2, il=[5], tl=[2], unbatched=True, reduction="mean"),
    dict(T=5, N=2, C=4, S=0, il=[5, 3], tl=[0, 0]),                        # every target empty
    dict(T=5, N=2, C=4, S=1, il=[5, 3], tl=[0, 0], concat=True, reduction="mean"),
]


def _inputs(rng, T, N, C, S, il, tl, blank=0, concat=False, raw=False, repeats=False,
            dtype=np.float32, **_):
    x = rng.standard_normal((T, N, C)).astype(dtype)
    if not raw:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    targets = rng.integers(0, C, (N, S))
    targets = np.where(targets == blank, (blank + 1) % C, targets)
    if repeats:
        targets[:, 1] = targets[:, 0]
    if concat:
        targets = np.concatenate([targets[i, :tl[i]] for i in range(N)])
    return x, targets


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_ctc_loss_equals_torch(case, dtype, backend):
    spec = CASES[case]
    rng = np.random.default_rng(case)
    x, targets = _inputs(rng, dtype=dtype, **spec)
    reduction = spec.get("reduction", "none")
    g = (rng.standard_normal(spec["N"]) if reduction == "none" and not spec.get("unbatched")
         else np.array(1.5)).astype(dtype)
    results = []
    for lib in (cgrad, torch):
        xl = lib.tensor(x[:, 0] if spec.get("unbatched") else x, requires_grad=True)
        tg = lib.tensor(targets[0] if spec.get("unbatched") else targets)
        if spec.get("unbatched"):
            il, tl = lib.tensor(spec["il"][0]), lib.tensor(spec["tl"][0])
        elif case % 2:
            il, tl = tuple(spec["il"]), tuple(spec["tl"])
        else:
            il, tl = lib.tensor(spec["il"]), lib.tensor(spec["tl"])
        loss = lib.nn.CTCLoss(blank=spec.get("blank", 0), reduction=reduction,
                              zero_infinity=spec.get("zero_infinity", False))(xl, tg, il, tl)
        loss.backward(lib.tensor(g.reshape(tuple(loss.shape))))
        results.append((loss.detach().numpy(), xl.grad.numpy(), type(loss.grad_fn).__name__))
    (lc, gc, nc), (lt, gt, nt) = results
    assert nc == nt and lc.shape == lt.shape
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(lc, lt, **tol)
    np.testing.assert_allclose(gc, gt, **tol)          # NaN where torch's gradient is NaN


def test_ctc_errors_equal_torch():
    rng = np.random.default_rng(0)
    x, targets = _inputs(rng, T=6, N=3, C=5, S=3, il=[6] * 3, tl=[3, 2, 0])
    for call in (
            "F.ctc_loss(x, t, lib.tensor([7, 5, 4]), tl)",
            "F.ctc_loss(x, t, il, lib.tensor([4, 2, 0]))",
            "F.ctc_loss(x, t, lib.tensor([6, 5]), tl)",
            "F.ctc_loss(x, t, il, lib.tensor([3, 2]))",
            "F.ctc_loss(x, t, lib.tensor([6, -1, 4]), tl)",
            "F.ctc_loss(x, t, il, lib.tensor([3, -1, 0]))",
            "F.ctc_loss(x, t, il.float(), tl)",
            "F.ctc_loss(x, t[None], il, tl)",
            "F.ctc_loss(x, t[:2], il, tl)",
            "F.ctc_loss(x[None], t, il, tl)",
            "F.ctc_loss(x[:, 0, 0], t, il, tl)",
            "F.ctc_loss(x, t, il, tl, blank=5)",
            "F.ctc_loss(x, t, il, tl, blank=-1)",
            "F.ctc_loss(x, t, il, tl, reduction='avg')",
            "F.ctc_loss(x.long(), t, il, tl)",
            "F.ctc_loss(x[:0], t, lib.tensor([0, 0, 0]), tl)",
            "F.ctc_loss(x, lib.tensor([1, 2, 3]), il, tl)"):
        def run(lib):
            return eval(call, {"F": lib.nn.functional, "lib": lib, "x": lib.tensor(x),
                               "t": lib.tensor(targets), "il": lib.tensor([6, 6, 6]),
                               "tl": lib.tensor([3, 2, 0])})
        _raises_like_torch(lambda: run(cgrad), lambda: run(torch))
    with pytest.raises(TypeError, match="both Tensors or both tuples"):
        cgrad.nn.functional.ctc_loss(cgrad.tensor(x), cgrad.tensor(targets), (6, 6, 6),
                                     cgrad.tensor([3, 2, 0]))
    # a label outside [0, C): torch reads past its rows, cgrad refuses
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        cgrad.nn.functional.ctc_loss(cgrad.tensor(x), cgrad.full((3, 3), 7), (6, 6, 6), (3, 2, 0))
    assert repr(cgrad.nn.CTCLoss()) == repr(torch.nn.CTCLoss())


def test_ctc_training_steps_equal_torch(backend):
    """a linear layer over frame features, log_softmax, CTC: 4 Adam steps as torch's"""
    rng = np.random.default_rng(3)
    feats = rng.standard_normal((12, 4, 6)).astype(np.float32)
    targets = rng.integers(1, 5, (4, 4))
    w, b = (rng.standard_normal((5, 6)) * 0.3).astype(np.float32), np.zeros(5, np.float32)
    params = []
    for lib in (cgrad, torch):
        layer = lib.nn.Linear(6, 5)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(w))
            layer.bias.copy_(lib.tensor(b))
        opt = lib.optim.Adam(layer.parameters(), lr=0.05)
        ctc = lib.nn.CTCLoss()
        losses = []
        for _ in range(4):
            opt.zero_grad()
            lp = layer(lib.tensor(feats)).log_softmax(2)
            loss = ctc(lp, lib.tensor(targets), (12, 11, 10, 12), (4, 3, 4, 2))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        params.append((losses, layer.weight.detach().numpy(), layer.bias.detach().numpy()))
    np.testing.assert_allclose(params[0][0], params[1][0], rtol=1e-5)
    for c, t in zip(params[0][1:], params[1][1:]):
        np.testing.assert_allclose(c, t, rtol=1e-4, atol=1e-5)


def test_ctc_second_derivative_refused_as_torch():
    x = cgrad.randn(5, 2, 4).log_softmax(2).detach().requires_grad_()
    loss = cgrad.nn.functional.ctc_loss(x, cgrad.tensor([[1, 2], [3, 3]]), (5, 5), (2, 2))
    (g,) = cgrad.autograd.grad(loss, x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()
