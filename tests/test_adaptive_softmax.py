"""nn.AdaptiveLogSoftmaxWithLoss against torch's with the same weights: outputs, losses,
gradients, log_prob, predict, a few training steps, unbatched input and errors."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
from test_nn_layers import _raises_like_torch  # noqa: E402


def _twins(rng, in_features=16, n_classes=20, cutoffs=(4, 10), div_value=2.0, head_bias=True,
           dtype=np.float32):
    mods = {cgrad: cgrad.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs,
                                                       div_value, head_bias),
            torch: torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs,
                                                       div_value, head_bias)}
    assert [n for n, _ in mods[cgrad].named_parameters()] == \
        [n for n, _ in mods[torch].named_parameters()]
    if dtype == np.float64:
        mods[cgrad].double()
        mods[torch].double()
    with cgrad.no_grad(), torch.no_grad():
        for pc, pt in zip(mods[cgrad].parameters(), mods[torch].parameters()):
            a = (rng.standard_normal(tuple(pt.shape)) * 0.5).astype(dtype)
            pc.copy_(cgrad.tensor(a))
            pt.copy_(torch.tensor(a))
    return mods


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("targets", [[0, 3, 5, 12, 19, 9, 2], [1, 2, 3], [15, 11, 10], [7]])
def test_forward_backward_log_prob_predict_equal_torch(targets, dtype, backend):
    rng = np.random.default_rng(len(targets))
    mods = _twins(rng, dtype=dtype)
    x = rng.standard_normal((len(targets), 16)).astype(dtype)
    results = {}
    for lib, m in mods.items():
        xl = lib.tensor(x, requires_grad=True)
        out, loss = m(xl, lib.tensor(targets))
        loss.backward()
        results[lib] = ([out, loss, xl.grad] + [p.grad for p in m.parameters()]
                        + [m.log_prob(lib.tensor(x)), m.predict(lib.tensor(x))])
    for c, t in zip(results[cgrad], results[torch]):
        if t is None:
            assert c is None
            continue
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **_tol(dtype))


def test_training_and_unbatched_equal_torch(backend):
    rng = np.random.default_rng(0)
    mods = _twins(rng, in_features=8, n_classes=12, cutoffs=[3, 6, 9], div_value=2.0,
                  head_bias=False)
    x = rng.standard_normal((10, 8)).astype(np.float32)
    y = rng.integers(0, 12, 10)
    losses = {}
    for lib, m in mods.items():
        opt = lib.optim.SGD(m.parameters(), lr=0.5)
        seen = []
        for _ in range(4):
            opt.zero_grad()
            loss = m(lib.tensor(x), lib.tensor(y)).loss
            loss.backward()
            opt.step()
            seen.append(loss.item())
        one = m(lib.tensor(x[0]), lib.tensor(int(y[0])))
        seen += [one.output.item(), one.loss.item()]
        losses[lib] = seen
    np.testing.assert_allclose(losses[cgrad], losses[torch], rtol=1e-5)
    assert repr(mods[cgrad]) == repr(mods[torch]).replace("torch.", "cgrad.")


def test_errors_equal_torch():
    for call in ("nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3])",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [0, 3])",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10])",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 3])",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(4, 8), lib.tensor([1, 2]))",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 2, 8), "
                 "lib.tensor([1, 2]))",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 8), lib.tensor(1))",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 8), "
                 "lib.tensor([[1, 2]]))",
                 "nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 8), lib.tensor([1, 12]))"):
        _raises_like_torch(lambda: eval(call, {"nn": cgrad.nn, "lib": cgrad}),
                           lambda: eval(call, {"nn": torch.nn, "lib": torch}))
