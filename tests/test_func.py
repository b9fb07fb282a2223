"""cgrad.func (torch.func): grad, vjp, jvp, jacrev/jacfwd, hessian, vmap, functional_call and
stack_module_state, against torch.func on the same inputs, on both backends."""
import copy

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
import torch.func  # noqa: E402  (after the skip)
from test_nn_layers import _raises_like_torch as _raises_like  # noqa: E402


def _pair(rng, *shape):
    a = rng.standard_normal(shape).astype(np.float32)
    return cgrad.tensor(a), torch.tensor(a)


def _close(c, t, rtol=1e-5, atol=1e-6):
    """c (cgrad) equals t (torch) in shape and values, through the same pytree"""
    if isinstance(t, torch.Tensor):
        assert isinstance(c, cgrad.Tensor)
        assert tuple(c.shape) == tuple(t.shape)
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    elif isinstance(t, dict):
        assert list(c) == list(t)
        for k in t:
            _close(c[k], t[k], rtol, atol)
    elif isinstance(t, (tuple, list)):
        assert type(c) is type(t) and len(c) == len(t)
        for a, b in zip(c, t):
            _close(a, b, rtol, atol)
    else:
        assert c == t


def _both(make):
    """make(lib) run with cgrad and with torch"""
    return make(cgrad), make(torch)


def test_grad_transforms_equal_torch(backend, rng):
    xc, xt = _pair(rng, 5)
    yc, yt = _pair(rng, 5)
    for f_of in (lambda lib: lambda x: (x.sin() * x).sum(),
                 lambda lib: lambda x: (x ** 3).sum()):
        _close(cgrad.func.grad(f_of(cgrad))(xc), torch.func.grad(f_of(torch))(xt))
    f = lambda x, y: (x * y.exp()).sum()            # noqa: E731
    for argnums in (0, 1, -1, (0, 1)):
        _close(cgrad.func.grad(f, argnums=argnums)(xc, yc),
               torch.func.grad(f, argnums=argnums)(xt, yt))
    both = [lib.func.grad_and_value(lambda x: ((x * 2).sum(), x.cos()), has_aux=True)(x)
            for lib, x in ((cgrad, xc), (torch, xt))]
    _close(*both)
    # a dict of tensors (a pytree), an unused input (zeros), and grad of grad
    d = lambda lib, x, y: {"a": x, "b": y}          # noqa: E731
    g = lambda p: (p["a"] * p["a"]).sum()           # noqa: E731
    _close(cgrad.func.grad(g)(d(cgrad, xc, yc)), torch.func.grad(g)(d(torch, xt, yt)))
    inner = lambda lib: lambda x: lib.func.grad(lambda y: y.sin().sum())(x).sum()  # noqa: E731
    _close(cgrad.func.grad(inner(cgrad))(xc), torch.func.grad(inner(torch))(xt))


def test_grad_of_an_input_that_requires_grad_stays_in_its_graph(backend, rng):
    xc, xt = _pair(rng, 4)
    results = []
    for lib, x in ((cgrad, xc), (torch, xt)):
        x = x.clone().requires_grad_()
        g = lib.func.grad(lambda v: (v ** 3).sum())(x)
        assert g.requires_grad
        g.sum().backward()
        results.append(x.grad)
    _close(*results)
    plain = cgrad.func.grad(lambda v: (v ** 3).sum())(xc)
    assert not plain.requires_grad and plain.grad_fn is None


def test_vjp_jvp_jacobians_hessian_equal_torch(backend, rng):
    xc, xt = _pair(rng, 4)
    vc, vt = _pair(rng, 4)
    f = lambda x: x.sin() * x                       # noqa: E731
    (oc, fc), (ot, ft) = cgrad.func.vjp(f, xc), torch.func.vjp(f, xt)
    _close(oc, ot)
    _close(fc(vc), ft(vt))
    _close(cgrad.func.jvp(f, (xc,), (vc,)), torch.func.jvp(f, (xt,), (vt,)))
    two = lambda x, y: (x * y, (x + y).sum())       # noqa: E731
    _close(cgrad.func.jvp(two, (xc, vc), (vc, xc)), torch.func.jvp(two, (xt, vt), (vt, xt)))
    for name in ("jacrev", "jacfwd"):
        _close(getattr(cgrad.func, name)(f)(xc), getattr(torch.func, name)(f)(xt))
        _close(getattr(cgrad.func, name)(two, argnums=(0, 1))(xc, vc),
               getattr(torch.func, name)(two, argnums=(0, 1))(xt, vt))
    cube = lambda x: (x ** 3 * x.roll(1)).sum()     # noqa: E731
    _close(cgrad.func.hessian(cube)(xc), torch.func.hessian(cube)(xt), rtol=1e-4)
    mat_c, mat_t = _pair(rng, 3, 4)
    _close(cgrad.func.vmap(cgrad.func.jacrev(f))(mat_c),
           torch.func.vmap(torch.func.jacrev(f))(mat_t))


def _model(lib, rng):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(), lib.nn.Linear(16, 4))
    return model


def _same_weights(model_c, model_t, rng):
    with torch.no_grad(), cgrad.no_grad():
        for pc, pt in zip(model_c.parameters(), model_t.parameters()):
            a = (rng.standard_normal(tuple(pt.shape)) * 0.3).astype(np.float32)
            pc.copy_(cgrad.tensor(a))
            pt.copy_(torch.tensor(a))


def test_per_sample_gradients_tutorial(backend, rng):
    """PyTorch's per-sample-gradients tutorial: vmap(grad(loss of functional_call))"""
    models = {lib: _model(lib, rng) for lib in (cgrad, torch)}
    _same_weights(models[cgrad], models[torch], rng)
    data = rng.standard_normal((6, 8)).astype(np.float32)
    targets = rng.integers(0, 4, 6)
    results = []
    for lib, model in models.items():
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def compute_loss(params, buffers, sample, target, lib=lib, model=model):
            prediction = lib.func.functional_call(model, (params, buffers),
                                                  (sample.unsqueeze(0),))
            return lib.nn.functional.cross_entropy(prediction, target.unsqueeze(0))
        per_sample = lib.func.vmap(lib.func.grad(compute_loss), in_dims=(None, None, 0, 0))
        results.append(per_sample(params, buffers, lib.tensor(data), lib.tensor(targets)))
    _close(*results)
    # each row is the gradient of that sample's loss alone
    model = models[cgrad]
    model.zero_grad()
    cgrad.nn.functional.cross_entropy(model(cgrad.tensor(data[2:3])),
                                      cgrad.tensor(targets[2:3])).backward()
    np.testing.assert_allclose(results[0]["0.weight"][2].numpy(), model[0].weight.grad.numpy(),
                               rtol=1e-5, atol=1e-7)


def test_model_ensembling_tutorial(backend, rng):
    """stack_module_state, then vmap over the stacked parameters with functional_call"""
    outs = []
    data = rng.standard_normal((5, 8)).astype(np.float32)
    weights = np.random.default_rng(1)
    for lib in (cgrad, torch):
        models = [_model(lib, rng) for _ in range(3)]
        for m in models:
            with lib.no_grad():
                for p in m.parameters():
                    p.copy_(lib.tensor((weights.standard_normal(tuple(p.shape)) * 0.3)
                                       .astype(np.float32)))
        weights = np.random.default_rng(1)
        params, buffers = lib.func.stack_module_state(models)
        assert all(p.requires_grad and p.is_leaf for p in params.values())
        base = copy.deepcopy(models[0])

        def fmodel(params, buffers, x, base=base, lib=lib):
            return lib.func.functional_call(base, (params, buffers), (x,))
        out = lib.func.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, lib.tensor(data))
        out.sum().backward()
        outs.append((out, params["0.weight"].grad))
    _close(*outs)


def test_vmap_dims_and_outputs_equal_torch(backend, rng):
    ac, at = _pair(rng, 3, 4)
    bc, bt = _pair(rng, 4, 3)
    cases = [
        (lambda lib: lib.func.vmap(lambda a: a * 2, out_dims=1), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lambda a: a.sum(), in_dims=1), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lambda a, b: a * b.sum(), in_dims=(0, 1)), (ac, bc), (at, bt)),
        (lambda lib: lib.func.vmap(lambda a, s: a * s, in_dims=(0, None)), (ac, 2.0), (at, 2.0)),
        (lambda lib: lib.func.vmap(lambda a: (a * 2, a.sum()), out_dims=(1, 0)), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lambda a: {"x": a, "y": a.max()}), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lambda a: (a, lib.ones(2)), out_dims=(0, None)), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lib.func.vmap(lambda a: a.exp())), (ac,), (at,)),
        (lambda lib: lib.func.vmap(lambda d: d["p"] * d["q"]),
         ({"p": ac, "q": ac},), ({"p": at, "q": at},)),
        (lambda lib: lib.func.vmap(lambda a: a + 1), (ac[:0],), (at[:0],)),
        (lambda lib: lib.func.vmap(lambda a: a.sum(), out_dims=0), (ac[:0],), (at[:0],)),
    ]
    for make, args_c, args_t in cases:
        _close(make(cgrad)(*args_c), make(torch)(*args_t))


def test_vmap_output_is_differentiable(backend, rng):
    xc, xt = _pair(rng, 3, 4)
    grads = []
    for lib, x in ((cgrad, xc), (torch, xt)):
        x = x.clone().requires_grad_()
        lib.func.vmap(lambda r: (r.sin() * r).sum())(x).pow(2).sum().backward()
        grads.append(x.grad)
    _close(*grads)


def test_vmap_randomness_modes():
    x = cgrad.zeros(4, 3)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        cgrad.func.vmap(lambda a: a + cgrad.rand(3))(x)
    cgrad.rand(1)                                   # drawing works again after the error
    same = cgrad.func.vmap(lambda a: a + cgrad.rand(3), randomness="same")(x)
    assert all(cgrad.equal(same[0], row) for row in same)
    different = cgrad.func.vmap(lambda a: a + cgrad.rand(3), randomness="different")(x)
    assert not cgrad.equal(different[0], different[1])
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        cgrad.func.vmap(lambda a: a, randomness="sometimes")


def test_errors_are_torch_s(rng):
    xc, xt = _pair(rng, 3)
    for make in (
            lambda lib, x: lib.func.grad(lambda v: v * 2)(x),
            lambda lib, x: lib.func.grad(lambda v: 3)(x),
            lambda lib, x: lib.func.grad(lambda v, w: (v * w).sum(), argnums=2)(x, x),
            lambda lib, x: lib.func.grad(lambda v: v.sum())(3.0),
            lambda lib, x: lib.func.grad(lambda v: v.sum(), has_aux=True)(x),
            lambda lib, x: lib.func.vmap(lambda a, b: a + b)(x.reshape(3, 1), x[:2].reshape(2, 1)),
            lambda lib, x: lib.func.vmap(lambda a: a + 1, in_dims=None)(x),
            lambda lib, x: lib.func.vmap(lambda a: a + 1, in_dims=1)(x),
            lambda lib, x: lib.func.vmap(lambda a: 3)(x),
            lambda lib, x: lib.func.vmap(lambda a: a * 2, out_dims=None)(x.reshape(3, 1)),
            lambda lib, x: lib.func.vmap(lambda a, s: a * s, in_dims=(0, 0))(x, 2.0),
            lambda lib, x: lib.func.jvp(lambda v: v.sin(), x, x),
            lambda lib, x: lib.func.jvp(lambda v: v.sin(), (x,), (x[:2],)),
            lambda lib, x: lib.func.vjp(lambda v: v.sin(), x)[1](x[:2]),
    ):
        _raises_like(lambda: make(cgrad, xc), lambda: make(torch, xt))


def test_functional_call_equals_torch(backend, rng):
    lin = {lib: lib.nn.Linear(3, 2) for lib in (cgrad, torch)}
    w, b = rng.standard_normal((2, 3)).astype(np.float32), np.ones(2, np.float32)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    outs = []
    for lib, m in lin.items():
        before = m.weight.detach().clone()
        out = lib.func.functional_call(m, {"weight": lib.tensor(w), "bias": lib.tensor(b)},
                                       lib.tensor(x))
        assert lib.equal(m.weight, before) and isinstance(m.weight, lib.nn.Parameter)
        outs.append(out)
    _close(*outs)
    np.testing.assert_allclose(outs[0].numpy(), x @ w.T + b, rtol=1e-6)
    # strict keys, repeated and tied keys: torch's errors
    for make in (
            lambda lib, m: lib.func.functional_call(m, {"weight": lib.ones(2, 3),
                                                        "foo": lib.ones(1)}, lib.ones(1, 3),
                                                    strict=True),
            lambda lib, m: lib.func.functional_call(m, {"weight": lib.ones(2, 3)},
                                                    lib.ones(1, 3), strict=True),
            lambda lib, m: lib.func.functional_call(m, ({"weight": lib.ones(2, 3)},
                                                        {"weight": lib.ones(2, 3)}),
                                                    lib.ones(1, 3))):
        _raises_like(lambda: make(cgrad, lin[cgrad]), lambda: make(torch, lin[torch]))

    class Tied:
        @staticmethod
        def build(lib):
            class M(lib.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = lib.nn.Linear(2, 2)
                    self.b = self.a

                def forward(self, x):
                    return self.b(self.a(x))
            return M()
    tied = {lib: Tied.build(lib) for lib in (cgrad, torch)}
    for kwargs in ({}, {"tie_weights": False}):
        outs = [lib.func.functional_call(m, {"a.weight": lib.eye(2) * 2, "a.bias": lib.ones(2)},
                                         lib.ones(1, 2), **kwargs)
                for lib, m in tied.items()]
        _close(*outs)
    _raises_like(
        lambda: cgrad.func.functional_call(tied[cgrad], {"a.weight": cgrad.eye(2),
                                                         "b.weight": cgrad.eye(2) * 2},
                                           cgrad.ones(1, 2)),
        lambda: torch.func.functional_call(tied[torch], {"a.weight": torch.eye(2),
                                                         "b.weight": torch.eye(2) * 2},
                                           torch.ones(1, 2)))


def test_functional_call_updates_the_given_buffers(backend, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    stats = []
    for lib in (cgrad, torch):
        bn = lib.nn.BatchNorm1d(3)
        running = lib.zeros(3)
        lib.func.functional_call(bn, {"running_mean": running}, lib.tensor(x))
        assert lib.equal(bn.running_mean, lib.zeros(3))     # the module's own: untouched
        stats.append(running)
    _close(*stats)


def test_stateless_functional_call_warns():
    m = cgrad.nn.Linear(2, 2)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        out = cgrad.nn.utils.stateless.functional_call(m, {"bias": cgrad.zeros(2)},
                                                       cgrad.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), m.weight.detach().numpy().sum(1)[None],
                               rtol=1e-6)
    with pytest.raises(RuntimeError, match="Expected at least one model, got 0"):
        cgrad.func.stack_module_state([])
