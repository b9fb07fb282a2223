"""Optimizers: several steps against the update formulas of PyTorch's documentation and
against torch.optim itself, on both backends; the Optimizer base (groups, zero_grad,
closures, skipping), state dicts and resuming bit for bit."""
import io
import math

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.optim as optim

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.8), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, maximize=True, eps=1e-3)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.7, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3,
                     eps=1e-4, maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
STEPS = 7


def _grads(dtype, step, shapes):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _start(dtype, shapes=((3, 4), (5,))):
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _run(lib, opt_cls, kw, dtype, steps=STEPS):
    """Parameters after `steps` updates with fixed gradients."""
    params = [lib.tensor(a, requires_grad=True) for a in _start(dtype)]
    opt = opt_cls(params, **kw)
    for step in range(steps):
        for p, g in zip(params, _grads(dtype, step, [tuple(p.shape) for p in params])):
            p.grad = lib.tensor(g)
        opt.step()
    return [p.detach().numpy().copy() for p in params]


# ---- the documented update rules, written out plainly in float64 --------------------------------
def _reference(name, kw, p, grads_per_step):
    """PyTorch's documented algorithm for one parameter."""
    lr = kw["lr"]
    wd = kw.get("weight_decay", 0.0 if name != "AdamW" else 1e-2)
    maximize = kw.get("maximize", False)
    p = p.astype(np.float64)
    state = {}
    for t, g in enumerate(grads_per_step, start=1):
        g = -g if maximize else g.copy()
        if name == "SGD":
            mom, damp = kw.get("momentum", 0), kw.get("dampening", 0)
            g = g + wd * p
            if mom:
                b = g if t == 1 else mom * state["b"] + (1 - damp) * g
                state["b"] = b
                g = g + mom * b if kw.get("nesterov") else b
            p = p - lr * g
        elif name in ("Adam", "AdamW"):
            b1, b2 = kw.get("betas", (0.9, 0.999))
            eps = kw.get("eps", 1e-8)
            if name == "AdamW":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            m = b1 * state.get("m", 0) + (1 - b1) * g
            v = b2 * state.get("v", 0) + (1 - b2) * g * g
            state["m"], state["v"] = m, v
            m_hat = m / (1 - b1 ** t)
            if kw.get("amsgrad"):
                state["vmax"] = np.maximum(state.get("vmax", 0), v)
                v = state["vmax"]
            v_hat = v / (1 - b2 ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        elif name == "RMSprop":
            alpha, eps = kw.get("alpha", 0.99), kw.get("eps", 1e-8)
            mom = kw.get("momentum", 0)
            g = g + wd * p
            v = alpha * state.get("v", 0) + (1 - alpha) * g * g
            state["v"] = v
            v_tilde = v
            if kw.get("centered"):
                ga = alpha * state.get("ga", 0) + (1 - alpha) * g
                state["ga"] = ga
                v_tilde = v - ga * ga
            if mom > 0:
                b = mom * state.get("b", 0) + g / (np.sqrt(v_tilde) + eps)
                state["b"] = b
                p = p - lr * b
            else:
                p = p - lr * g / (np.sqrt(v_tilde) + eps)
        elif name == "Adagrad":
            eps = kw.get("eps", 1e-10)
            gamma = lr / (1 + (t - 1) * kw.get("lr_decay", 0))
            g = g + wd * p
            s = state.get("s", kw.get("initial_accumulator_value", 0)) + g * g
            state["s"] = s
            p = p - gamma * g / (np.sqrt(s) + eps)
    return p


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_documented_update_rule(backend, name, kw):
    ours = _run(cgrad, getattr(optim, name), kw, np.float64)
    shapes = [a.shape for a in _start(np.float64)]
    for i, start in enumerate(_start(np.float64)):
        grads = [_grads(np.float64, s, shapes)[i] for s in range(STEPS)]
        np.testing.assert_allclose(ours[i], _reference(name, kw, start, grads), rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_torch(backend, name, kw, dtype):
    torch = pytest.importorskip("torch")
    ours = _run(cgrad, getattr(optim, name), kw, dtype)
    theirs = _run(torch, getattr(torch.optim, name), kw, dtype)
    # the same operations in the same order: equal up to float rounding (torch's kernels may
    # fuse a multiply-add)
    tol = dict(rtol=2e-6, atol=2e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_layout_and_repr_match_torch(name, kw):
    torch = pytest.importorskip("torch")

    def build(lib):
        params = [lib.tensor(a, requires_grad=True) for a in _start(np.float32)]
        opt = getattr(lib.optim, name)(params, **kw)
        for p in params:
            p.grad = lib.ones_like(p)
        opt.step()
        return opt
    ours, theirs = build(cgrad), build(torch)
    so, st = ours.state_dict(), theirs.state_dict()
    assert so["param_groups"] == st["param_groups"]
    assert so["state"].keys() == st["state"].keys()
    for k in st["state"]:
        assert so["state"][k].keys() == st["state"][k].keys()
        for key, value in st["state"][k].items():
            assert so["state"][k][key].shape == tuple(value.shape)
    assert repr(ours) == repr(theirs)


# ---- the kernels' contract --------------------------------------------------------------------
def test_kernels_never_write_grads(backend):
    k = cgrad.backends.kernels
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        p = [rng.standard_normal((4, 3)).astype(dtype)]
        g = [rng.standard_normal((4, 3)).astype(dtype)]
        g0, p0 = g[0].copy(), p[0].copy()
        bufs = [None]
        k.sgd_step_(p, g, bufs, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.1,
                    nesterov=True, maximize=True)
        assert isinstance(bufs[0], np.ndarray) and bufs[0] is not g[0]      # filled in place
        d = -g0 + dtype(0.1) * p0
        np.testing.assert_allclose(bufs[0], d, rtol=1e-6)                   # first buf = d
        np.testing.assert_allclose(p[0], p0 - dtype(0.1) * (d + dtype(0.9) * d), rtol=1e-5)
        k.adam_step_(p, g, [np.zeros_like(p[0])], [np.zeros_like(p[0])], [np.zeros_like(p[0])],
                     [1], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1,
                     amsgrad=True, maximize=True, decoupled_weight_decay=False)
        k.rmsprop_step_(p, g, [np.zeros_like(p[0])], [np.zeros_like(p[0])],
                        [np.zeros_like(p[0])], lr=0.1, alpha=0.9, eps=1e-8, weight_decay=0.1,
                        momentum=0.9, centered=True, maximize=True)
        k.adagrad_step_(p, g, [np.zeros_like(p[0])], [1], lr=0.1, lr_decay=0.1,
                        weight_decay=0.1, eps=1e-10, maximize=True)
        np.testing.assert_array_equal(g[0], g0)


def test_active_backend_optimizer_kernels_match_numpy(backend):
    """Whatever kernels are active give NumPy's results to float rounding."""
    ref = cgrad.backends.numpy_backend.NumpyKernels()
    k = cgrad.backends.kernels
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64):
        tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=0)
        shapes = [(7, 5), (3,), (0,)]

        def fresh():
            r = np.random.default_rng(5)
            return [r.standard_normal(s).astype(dtype) for s in shapes]
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        runs = []
        for kern in (k, ref):
            def zeros():
                return [np.zeros(s, dtype) for s in shapes]
            p, m, v, vmax, ga, mb, acc = fresh(), zeros(), zeros(), zeros(), zeros(), zeros(), \
                zeros()
            sq = [np.full(s, 2.0, dtype) for s in shapes]
            bufs = [None] * 3
            for t in (1, 2, 3):
                kern.sgd_step_(p, grads, bufs, lr=0.1, momentum=0.9, dampening=0.1,
                               weight_decay=0.01, nesterov=t == 2, maximize=False)
                kern.adam_step_(p, grads, m, v, vmax, [t] * 3, lr=0.01, beta1=0.9, beta2=0.999,
                                eps=1e-8, weight_decay=0.01, amsgrad=True, maximize=t == 3,
                                decoupled_weight_decay=t != 2)
                kern.rmsprop_step_(p, grads, sq, mb, ga, lr=0.01, alpha=0.9, eps=1e-8,
                                   weight_decay=0.1, momentum=0.5, centered=True,
                                   maximize=False)
                kern.adagrad_step_(p, grads, acc, [t] * 3, lr=0.1, lr_decay=0.01,
                                   weight_decay=0.1, eps=1e-10, maximize=t == 1)
            runs.append(p + m + v + vmax + sq + ga + mb + acc + bufs)
        for a, b in zip(*runs):
            assert np.isfinite(a).all()
            np.testing.assert_allclose(a, b, **tol)


# ---- Optimizer base ---------------------------------------------------------------------------
def test_parameters_without_grad_are_skipped(backend):
    a = cgrad.ones(2, requires_grad=True)
    b = cgrad.ones(2, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cgrad.ones(2)
    opt.step()
    assert any(x is b for x in opt.param_groups[0]["params"]) and b not in opt.state
    assert (b.detach().numpy() == 1).all() and (a.detach().numpy() < 1).all()
    assert opt.state[a]["step"].item() == 1


def test_zero_grad(backend):
    p = cgrad.ones(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and not g.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_runs_under_grad_mode(backend):
    w = cgrad.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss
    with cgrad.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 1.0


def test_param_groups_and_add_param_group(backend):
    a, b = cgrad.ones(1, requires_grad=True), cgrad.ones(1, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = cgrad.ones(1), cgrad.ones(1)
    opt.step()
    assert np.isclose(a.item(), 0.9) and np.isclose(b.item(), 0.5)
    c = cgrad.ones(1, requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [a]})
    named = optim.SGD([("w", cgrad.ones(1, requires_grad=True))], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w"]


def test_adagrad_creates_state_up_front_and_for_added_groups_at_their_first_step():
    p = cgrad.ones(2, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.5)
    assert opt.state[p]["sum"].numpy().tolist() == [0.5, 0.5]
    q = cgrad.ones(1, requires_grad=True)
    opt.add_param_group({"params": [q]})
    assert q not in opt.state                      # PyTorch's: not until q steps
    q.grad = cgrad.ones(1)
    opt.step()
    assert opt.state[q]["step"].item() == 1 and opt.state[q]["sum"].item() == 1.5


def test_argument_errors_match_pytorch():
    p = [cgrad.ones(1, requires_grad=True)]
    cases = [
        (lambda: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
        (lambda: optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero "
                                              "dampening"),
        (lambda: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
        (lambda: optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
        (lambda: optim.AdamW(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda: optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
        (lambda: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
        (lambda: optim.Adagrad(p, initial_accumulator_value=-1),
         "Invalid initial_accumulator_value value: -1"),
        (lambda: optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
        (lambda: optim.SGD([(cgrad.ones(1, requires_grad=True) * 2)], lr=0.1),
         "can't optimize a non-leaf Tensor"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError) as info:
            make()
        assert str(info.value) == message
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an "
                                        "iterable of Tensors or dicts"):
        optim.SGD(cgrad.ones(1, requires_grad=True), lr=0.1)


def test_argument_errors_are_torchs():
    torch = pytest.importorskip("torch")
    for kw in [dict(lr=-1), dict(momentum=-0.5), dict(nesterov=True, momentum=0.0)]:
        messages = []
        for lib in (cgrad, torch):
            with pytest.raises(ValueError) as info:
                lib.optim.SGD([lib.ones(1, requires_grad=True)], **kw)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


# ---- state dicts and resuming -----------------------------------------------------------------
def _model():
    cgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _train(model, opt, steps, start):
    rng = np.random.default_rng(start)
    for _ in range(steps):
        x = cgrad.tensor(rng.standard_normal((6, 4)).astype(np.float32))
        t = cgrad.tensor(rng.integers(0, 3, 6))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), t).backward()
        opt.step()


def check_resumed_run_equals_uninterrupted_run(name, kw):
    """3 + 3 steps of optimizer name(**kw) give the same bits as 3 steps, a save / load of the
    model and optimizer into fresh ones, and 3 more (test_optim_more calls it too)"""
    whole = _model()
    opt = getattr(optim, name)(whole.parameters(), **kw)
    _train(whole, opt, 3, start=0)
    _train(whole, opt, 3, start=1)

    first = _model()
    opt1 = getattr(optim, name)(first.parameters(), **kw)
    _train(first, opt1, 3, start=0)
    buf = io.BytesIO()
    cgrad.save({"model": first.state_dict(), "optim": opt1.state_dict()}, buf)
    buf.seek(0)
    checkpoint = cgrad.load(buf)

    resumed = _model()
    with cgrad.no_grad():
        for p in resumed.parameters():
            p.mul_(0)                                  # prove the load replaces everything
    resumed.load_state_dict(checkpoint["model"])
    opt2 = getattr(optim, name)(resumed.parameters(), lr=123.0)
    opt2.load_state_dict(checkpoint["optim"])
    assert opt2.param_groups[0] == dict(opt.param_groups[0], params=opt2.param_groups[0]["params"])
    _train(resumed, opt2, 3, start=1)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_resumed_run_equals_uninterrupted_run(backend, name, kw):
    check_resumed_run_equals_uninterrupted_run(name, kw)


def test_load_state_dict_casts_or_aliases_as_pytorch():
    p = cgrad.ones(3, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = cgrad.ones(3)
    opt.step()
    sd = opt.state_dict()
    q = cgrad.ones(3, dtype=cgrad.float64, requires_grad=True)
    opt2 = optim.Adam([q])
    opt2.load_state_dict(sd)
    assert opt2.state[q]["exp_avg"].dtype == cgrad.float64
    assert opt2.state[q]["step"].dtype == cgrad.float32          # step is not cast
    assert opt2.state[q]["exp_avg"]._data is not sd["state"][0]["exp_avg"]._data
    same = cgrad.ones(3, requires_grad=True)        # the same dtype: PyTorch's .to() aliases
    opt3 = optim.Adam([same])
    opt3.load_state_dict(sd)
    assert opt3.state[same]["exp_avg"] is sd["state"][0]["exp_avg"] is opt.state[p]["exp_avg"]
    assert opt3.state[same]["step"] is sd["state"][0]["step"]
    with pytest.raises(ValueError, match="loaded state dict has a different number of "
                                         "parameter groups"):
        opt2.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt2.load_state_dict({"state": {}, "param_groups": [dict(sd["param_groups"][0],
                                                                 params=[0, 1])]})


def test_load_state_dict_keeps_a_custom_optimizers_int_step():
    """Only PyTorch's own optimizers turn a number "step" into a float32 tensor when loaded
    (each its __setstate__); a user's Optimizer subclass gets its int back, and so the same
    bias correction (a float32 step gave 0.849973977, PyTorch's int 0.849974990)"""
    class BiasCorrected(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        @cgrad.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    state["step"] = state.get("step", 0) + 1
                    p.add_(p.grad, alpha=-group["lr"] / (1 - 0.999 ** state["step"]))

    p = cgrad.tensor([1.0], requires_grad=True)
    first = BiasCorrected([p])
    p.grad = cgrad.tensor([1e-3])
    first.step()
    resumed = BiasCorrected([p])
    resumed.load_state_dict(first.state_dict())
    assert type(resumed.state[p]["step"]) is int and resumed.state[p]["step"] == 1
    resumed.step()
    assert resumed.state[p]["step"] == 2
    assert p.item() == np.float32(1 - 1e-4 / (1 - 0.999) - 1e-4 / (1 - 0.999 ** 2))
    adam = optim.Adam([p])                  # PyTorch's own: its saved number becomes a tensor
    adam.load_state_dict({"state": {0: {"step": 3, "exp_avg": cgrad.zeros(1),
                                        "exp_avg_sq": cgrad.zeros(1)}},
                          "param_groups": [dict(adam.state_dict()["param_groups"][0])]})
    assert isinstance(adam.state[p]["step"], cgrad.Tensor)
    assert adam.state[p]["step"].dtype == cgrad.float32


def test_training_lowers_the_loss(backend):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    x = cgrad.randn(32, 4)
    t = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0] and math.isfinite(losses[-1])


def test_step_bumps_the_parameter_version():
    p = cgrad.ones(2, requires_grad=True)
    y = (p * p).sum()
    p.grad = cgrad.ones(2)
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_one_element_sgd_step_gives_numpys_bits():
    """the NumPy backend's Python-float path for one-element parameters (plain SGD) rounds as
    its array ops do (p + (-lr) g rounded once, PyTorch's add_ with alpha), in float32 and
    float64, over magnitudes from 1e-8 to 1e8"""
    from cgrad.backends.numpy_backend import NumpyKernels, _fma, _scalar
    kernels = NumpyKernels()
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        for maximize in (False, True):
            for _ in range(1000):
                p = np.array([rng.standard_normal() * 10.0 ** rng.integers(-8, 8)], dt)
                g = np.array([rng.standard_normal() * 10.0 ** rng.integers(-8, 8)], dt)
                lr = float(10 ** rng.uniform(-5, 0))
                expected = _fma(_scalar(-lr, p), -g if maximize else g, p)
                kernels.sgd_step_([p], [g], [None], lr=lr, momentum=0, dampening=0,
                                  weight_decay=0, nesterov=False, maximize=maximize)
                assert np.array_equal(p, expected)


@pytest.mark.parametrize("name, kw, after_double", [
    ("SGD", dict(lr=0.1, momentum=0.9), None), ("Adam", {}, "float"), ("AdamW", {}, "float"),
    ("Adam", dict(amsgrad=True), "float"), ("RMSprop", dict(centered=True), "float"),
    ("RMSprop", {}, None), ("Adagrad", {}, None), ("Adamax", {}, "float"),
    ("NAdam", {}, "float"), ("RAdam", {}, "float"), ("Adadelta", {}, None), ("Rprop", {}, None),
    ("ASGD", {}, None)])
def test_state_that_does_not_fit_the_parameter_raises_as_pytorch(name, kw, after_double):
    """state loaded for a parameter of another shape: PyTorch's kernels' size error (not
    NumPy's ValueError); model.double() after a step: the Adam family's lerp refuses the
    float32 state (PyTorch's message), the others step on in the state's dtype, as PyTorch"""
    def stepped_linear():
        model = nn.Linear(2, 1)
        opt = getattr(optim, name)(model.parameters(), **kw)
        model(cgrad.ones(1, 2)).sum().backward()
        opt.step()
        opt.zero_grad()
        return model, opt

    model, opt = stepped_linear()
    p = cgrad.ones(3, requires_grad=True)
    other = getattr(optim, name)([p], **kw)
    saved = opt.state_dict()
    other.load_state_dict({"state": {0: saved["state"][0]},
                           "param_groups": [dict(saved["param_groups"][0], params=[0])]})
    p.grad = cgrad.ones(3)
    a, b = ("3", "2") if name == "Rprop" else ("2", "3")
    with pytest.raises(RuntimeError, match=rf"^The size of tensor a \({a}\) must match the size "
                                           rf"of tensor b \({b}\) at non-singleton dimension 1$"):
        other.step()
    if name not in ("ASGD", "Rprop"):       # (PyTorch's ASGD steps on, its Rprop IndexErrors)
        q = cgrad.ones(2, requires_grad=True)     # state (1, 2), broadcast over q: q's update
        wider = getattr(optim, name)([q], **kw)   # in place fails
        wider.load_state_dict({"state": {0: saved["state"][0]},
                               "param_groups": [dict(saved["param_groups"][0], params=[0])]})
        q.grad = cgrad.ones(2)
        with pytest.raises(RuntimeError, match=r"^output with shape \[2\] doesn't match the "
                                               r"broadcast shape \[1, 2\]$"):
            wider.step()
    model, opt = stepped_linear()
    model.double()
    model(cgrad.ones(1, 2, dtype=cgrad.float64)).sum().backward()
    if after_double:
        with pytest.raises(RuntimeError, match="^expected dtype float for `end` but got dtype "
                                               "double$"):
            opt.step()
    else:
        before = model.weight.detach().clone()
        opt.step()
        assert not cgrad.equal(model.weight, before)
        assert all(v.dtype == cgrad.float32 for k, v in opt.state[model.weight].items()
                   if isinstance(v, cgrad.Tensor) and k != "step")


def test_scalar_state_takes_a_float64_default_dtype():
    """state["step"] (and NAdam's mu_product, ASGD's eta and mu) is float64 where that is the
    default dtype, as PyTorch's _get_scalar_dtype, made or loaded; float32 otherwise"""
    before = cgrad.get_default_dtype()
    try:
        for default in (cgrad.float64, cgrad.float32):
            cgrad.set_default_dtype(default)
            p = cgrad.ones(2, dtype=cgrad.float32, requires_grad=True)
            p.grad = cgrad.ones(2, dtype=cgrad.float32)
            for name, keys in [("Adam", ["step"]), ("NAdam", ["step", "mu_product"]),
                               ("ASGD", ["step", "eta", "mu"])]:
                opt = getattr(optim, name)([p])
                opt.step()
                assert [opt.state[p][k].dtype for k in keys] == [default] * len(keys)
                assert opt.state[p]["exp_avg" if name != "ASGD" else "ax"].dtype == \
                    cgrad.float32
            saved = opt.state_dict()
            saved["state"][0]["step"] = 3
            loaded = optim.ASGD([p])
            loaded.load_state_dict(saved)
            assert loaded.state[p]["step"].dtype == default
    finally:
        cgrad.set_default_dtype(before)
