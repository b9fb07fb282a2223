"""cgrad.func.linearize and replace_all_batch_norm_modules_, against torch.func, on both
backends."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
import torch.func  # noqa: E402  (after the skip)
from test_func import _close, _pair  # noqa: E402
from test_nn_layers import _raises_like_torch as _raises_like  # noqa: E402

FUNCS = {
    "sin-times": lambda lib: (lambda x, y: x.sin() * y),
    "tree-out": lambda lib: (lambda x, y: {"a": (x * y).exp(), "b": [(x ** 2).sum(), y.tanh()]}),
    "matmul": lambda lib: (lambda x, y: (x.reshape(3, 1) @ y.reshape(1, 3)).softmax(-1)),
    "unused-input": lambda lib: (lambda x, y: x.cos()),
    "constant-output": lambda lib: (lambda x, y: (lib.ones(2), x * 3)),
}


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_linearize_matches_torch(backend, name, requires_grad):
    rng = np.random.default_rng(0)
    (cx, tx), (cy, ty) = _pair(rng, 3), _pair(rng, 3)
    cx.requires_grad_(requires_grad)
    tx.requires_grad_(requires_grad)
    c_out, c_fn = cgrad.func.linearize(FUNCS[name](cgrad), cx, cy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # (PyTorch's const folding warns on constants)
        t_out, t_fn = torch.func.linearize(FUNCS[name](torch), tx, ty)
    _close(c_out, t_out)
    for seed in (1, 2):                   # one linear map, any number of tangents
        (cu, tu), (cv, tv) = _pair(rng, 3), _pair(rng, 3)
        c_jvp, t_jvp = c_fn(cu, cv), t_fn(tu, tv)
        _close(c_jvp, t_jvp)
        _close(cgrad.func.jvp(FUNCS[name](cgrad), (cx, cy), (cu, cv))[1], t_jvp)   # = jvp
    if name == "sin-times":
        assert c_jvp.requires_grad == t_jvp.requires_grad == requires_grad
        if requires_grad:
            # the map depends on x: cgrad's graph leads back to x (PyTorch's stops at a
            # constant it folded, so its x.grad stays None): d/dx sum(cos(x) u y + sin(x) v)
            c_jvp.sum().backward()
            (tx.cos() * tu * ty + tx.sin() * tv).sum().backward()
            _close(cx.grad, tx.grad)


def test_linearize_tangent_errors():
    rng = np.random.default_rng(1)
    (cx, tx), (cy, ty) = _pair(rng, 3), _pair(rng, 3)
    _, c_fn = cgrad.func.linearize(lambda x, y: x * y, cx, cy)
    _, t_fn = torch.func.linearize(lambda x, y: x * y, tx, ty)
    cases = ["(lib.ones(3),)", "(lib.ones(2), lib.ones(3))",
             "(lib.ones(3), lib.ones(3, dtype=lib.float64))", "([lib.ones(3)], lib.ones(3))",
             "((lib.ones(3), lib.ones(3)), lib.ones(3))"]
    for case in cases:
        _raises_like(lambda: c_fn(*eval(case, {"lib": cgrad})),
                     lambda: t_fn(*eval(case, {"lib": torch})))


def test_replace_all_batch_norm_modules_(backend):
    def build(lib):
        lib.manual_seed(0)
        root = lib.nn.BatchNorm1d(3)
        root.inner = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.BatchNorm1d(3, momentum=None),
                                       lib.nn.BatchNorm1d(3, track_running_stats=False),
                                       lib.nn.InstanceNorm1d(3, track_running_stats=True))
        return root
    c, t = build(cgrad), build(torch)
    c.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})
    assert cgrad.func.replace_all_batch_norm_modules_(c) is c
    torch.func.replace_all_batch_norm_modules_(t)
    assert repr(c) == repr(t) and list(c.state_dict()) == list(t.state_dict())
    for cm, tm in zip(c.modules(), t.modules()):
        for name in ("running_mean", "running_var", "num_batches_tracked",
                     "track_running_stats"):
            assert (getattr(cm, name, "-") is None) == (getattr(tm, name, "-") is None), name
    # in eval mode they now normalise by the batch, as PyTorch's
    c.eval()
    t.eval()
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    _close(c.inner[:3](cgrad.tensor(x.numpy())), t.inner[:3](x))
    _close(c(cgrad.tensor(x.numpy())), t(x))
