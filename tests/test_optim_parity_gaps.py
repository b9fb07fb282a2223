"""Differences from torch.optim that a side-by-side run found, each compared with torch: Rprop
on a 0-d parameter, Adam/AdamW betas given as Tensors, SGD's lr checks, the fused / foreach /
differentiable refusals, integer parameters, and CyclicLR's and LRScheduler's wording and
attributes."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _params(lib, dtype, shapes):
    rng = np.random.default_rng(3)
    return [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def _run(lib, make, dtype, shapes, steps=6):
    """params after `steps` steps of make(lib, params) on fixed gradients (some zero, so that
    Rprop meets all three sign cases), and the optimizer"""
    params = _params(lib, dtype, shapes)
    opt = make(lib, params)
    for step in range(steps):
        rng = np.random.default_rng(50 + step)
        for p in params:
            g = rng.standard_normal(tuple(p.shape)).astype(dtype)
            if step == 2:
                g[...] = 0
            p.grad = lib.tensor(g)
        opt.step()
    return params, opt


def _assert_runs_equal(make, dtype, shapes):
    (ours, opt), (theirs, topt) = (_run(lib, make, dtype, shapes) for lib in (cgrad, torch))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
        for key, value in topt.state[q].items():
            np.testing.assert_allclose(opt.state[p][key].numpy(), value.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("maximize", [False, True])
def test_rprop_updates_a_zero_dim_parameter_as_torch(backend, dtype, maximize):
    # NumPy's sign of a 0-d array is a scalar, which the masked assignments could not write
    _assert_runs_equal(lambda lib, ps: lib.optim.Rprop(ps, lr=0.05, maximize=maximize),
                       dtype, [(), (3,)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rprop_with_a_nan_or_inf_gradient_as_torch(backend, dtype, bad):
    # PyTorch's sign of NaN is 0 (NumPy's is NaN): the step size keeps its value there and
    # the parameter does not move, where cgrad made both NaN
    runs = []
    for lib in (cgrad, torch):
        p = lib.tensor(np.array([0.5, -0.5, 1.0], dtype), requires_grad=True)
        opt = lib.optim.Rprop([p], lr=0.01)
        for g in ([1, 2, -1], [bad, -1, -1], [1, bad, 1], [2, 1, -1]):
            p.grad = lib.tensor(np.array(g, dtype))
            opt.step()
        runs.append([p.detach().numpy(), opt.state[p]["step_size"].numpy(),
                     opt.state[p]["prev"].numpy()])
    for ours, theirs in zip(*runs):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_betas_as_tensors_as_torch(backend, name, amsgrad):
    def make(lib, ps):
        return getattr(lib.optim, name)(ps, lr=0.02, amsgrad=amsgrad, weight_decay=0.1,
                                        betas=(lib.tensor([0.8]), lib.tensor(0.95)))
    _assert_runs_equal(make, np.float32, [(3, 2), (4,)])
    # kept as 0-d tensors in the group, as PyTorch squeezes them
    betas = make(cgrad, _params(cgrad, np.float32, [(2,)])).param_groups[0]["betas"]
    assert [(type(b), b.shape) for b in betas] == [(cgrad.Tensor, ())] * 2


def _error(lib, fn):
    with pytest.raises(Exception) as info:
        fn(lib)
    return info.type, str(info.value)


@pytest.mark.parametrize("case", [
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(lib.tensor([0.9, 0.8]),
                                                                         lib.tensor(0.9))),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(lib.tensor(0.9), 0.9)),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], foreach=True,
                               betas=(lib.tensor(0.9), lib.tensor(0.9))),
    lambda lib: lib.optim.AdamW([lib.ones(2, requires_grad=True)], lr=lib.tensor(0.1),
                                foreach=True),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=lib.tensor([0.1, 0.2])),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], fused=True, foreach=True),
    lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], fused=True, differentiable=True),
    lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], fused=True, foreach=True),
    lambda lib: lib.optim.AdamW([lib.ones(2, requires_grad=True)], fused=True,
                                differentiable=True),
    lambda lib: lib.optim.Adagrad([lib.ones(2, requires_grad=True)], fused=True, foreach=True),
    lambda lib: lib.optim.Adagrad([], fused=True, foreach=True),     # the empty list first
])
def test_argument_errors_as_torch(case):
    ours, theirs = _error(cgrad, case), _error(torch, case)
    assert ours[0] is theirs[0]
    if "ambiguous" not in theirs[1]:
        assert ours[1] == theirs[1]


def test_sgd_takes_a_nan_lr_as_torch():
    # SGD tests lr < 0 (NaN passes); the other optimizers test not 0 <= lr (NaN refused)
    for lib in (cgrad, torch):
        lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=float("nan"))
        with pytest.raises(ValueError, match="Invalid learning rate: nan"):
            lib.optim.Adam([lib.ones(1, requires_grad=True)], lr=float("nan"))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop",
                                  "Adagrad", "Adadelta", "ASGD", "Rprop", "Adafactor"])
def test_integer_parameters_are_refused_at_step_as_torch(backend, name):
    # SGD and Rprop used to leave them unchanged silently (NumPy cast the update to 0), the
    # others raised NumPy's UFuncTypeError (a TypeError); PyTorch raises RuntimeError
    # (NotImplementedError for some), Adafactor a TypeError
    raised = []
    for lib in (cgrad, torch):
        p = lib.tensor([1, 2], dtype=lib.int64)
        opt = getattr(lib.optim, name)([p], lr=0.1)
        p.grad = lib.tensor([1, 1], dtype=lib.int64)
        with pytest.raises((RuntimeError, TypeError)) as info:
            opt.step()
        raised.append(info.type)
        assert p.tolist() == [1, 2]
    assert issubclass(raised[1], RuntimeError) == issubclass(raised[0], RuntimeError)


def test_cyclic_lr_keeps_momenta_only_when_it_cycles_them():
    keys = []
    for lib in (cgrad, torch):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
        sched = lib.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)
        keys.append(sorted(k for k in sched.state_dict() if k != "_scale_fn_ref"))
    assert keys[0] == keys[1]
    assert "base_momentums" not in keys[0]


def test_scheduler_messages_as_torch():
    messages = []
    for lib in (cgrad, torch):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        with pytest.raises(KeyError) as info:
            lib.optim.lr_scheduler.StepLR(opt, 2, last_epoch=3)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2)
        opt.step = lambda: None                        # replaced after the scheduler wrapped it
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt.step()
            sched.step()
        messages.append((str(info.value), [str(w.message) for w in caught]))
    assert messages[0] == messages[1]


OLD_KEYS = ("foreach", "maximize", "differentiable", "capturable", "fused",
            "decoupled_weight_decay", "nesterov", "amsgrad", "centered")


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)), ("AdamW", dict()),
    ("Adamax", dict()), ("NAdam", dict()), ("RAdam", dict()), ("RMSprop", dict(momentum=0.5)),
    ("Adagrad", dict()), ("Adadelta", dict()), ("ASGD", dict(t0=1)), ("Rprop", dict())])
def test_loads_an_older_pytorch_state_dict_as_torch(backend, name, kw):
    # older PyTorch saved "step" (and NAdam's mu_product, ASGD's eta and mu) as numbers and
    # had fewer group keys: __setstate__ makes float32 Tensors of them and fills the keys in
    def run(lib):
        params = _params(lib, np.float32, [(2, 3), (3,)])
        opt = getattr(lib.optim, name)(params, lr=0.01, **kw)
        for step in range(2):
            for p in params:
                p.grad = lib.full_like(p, 0.5 - step)
            opt.step()
        saved = opt.state_dict()
        old = {"state": {i: {k: v.item() if v.ndim == 0 else v for k, v in s.items()}
                         for i, s in saved["state"].items()},
               "param_groups": [{k: v for k, v in g.items() if k not in OLD_KEYS}
                                for g in saved["param_groups"]]}
        opt.load_state_dict(old)
        kinds = [sorted(k for k, v in opt.state[p].items() if isinstance(v, lib.Tensor))
                 for p in params]
        for p in params:
            p.grad = lib.full_like(p, 0.25)
        opt.step()
        return params, sorted(opt.param_groups[0]), kinds, opt.defaults.get("differentiable")
    (ours, *rest), (theirs, *trest) = run(cgrad), run(torch)
    assert rest == trest
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=12),
    lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2),
    lambda L, o: L.ReduceLROnPlateau(o, patience=0),
    lambda L, o: L.StepLR(o, step_size=2),
    lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, total_iters=2), L.ExponentialLR(o, 0.9)],
                                milestones=[3]),
    lambda L, o: L.ChainedScheduler([L.ConstantLR(o, total_iters=2), L.ExponentialLR(o, 0.9)]),
], ids=["OneCycleLR", "CyclicLR", "ReduceLROnPlateau", "StepLR", "SequentialLR", "Chained"])
def test_a_tensor_lr_is_rewritten_in_place_as_torch(make):
    # PyTorch fills a Tensor lr in place (fill_), and get_last_lr / base_lrs hold clones;
    # OneCycleLR, CyclicLR, ReduceLROnPlateau and SequentialLR replaced it with a float
    runs = []
    for lib in (cgrad, torch):
        p = lib.ones(2, requires_grad=True)
        lr = lib.tensor(0.05)
        opt = lib.optim.Adam([p], lr=lr)
        sched = make(lib.optim.lr_scheduler, opt)
        seen = []
        for _ in range(7):
            p.grad = lib.ones(2)
            opt.step()
            if isinstance(sched, lib.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(1.0)
            else:
                sched.step()
            last = sched.get_last_lr()[0]
            assert opt.param_groups[0]["lr"] is lr and isinstance(last, lib.Tensor)
            assert last is not lr
            seen.append(last.item())
        runs.append((seen, p.detach().numpy()))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-6)


def test_swalr_keeps_a_tensor_lr_as_torch():
    runs = []
    for lib in (cgrad, torch):
        lr = lib.tensor(0.05)
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=lr)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=3)
        for _ in range(5):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] is lr
        runs.append(lr.item())
    assert runs[0] == pytest.approx(runs[1], rel=1e-6)


CAPTURABLE = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adadelta", "ASGD", "Rprop"]


@pytest.mark.parametrize("name", CAPTURABLE)
def test_capturable_is_refused_on_the_cpu_as_torch(backend, name):
    # a CUDA-graph option: PyTorch's CPU step makes the state, then asserts (cgrad ignored it)
    results = []
    for lib in (cgrad, torch):
        p = lib.ones(3, requires_grad=True)
        opt = getattr(lib.optim, name)([p], capturable=True)
        p.grad = lib.ones(3)
        with pytest.raises(AssertionError) as info:
            opt.step()
        state = opt.state[p]
        results.append((str(info.value), list(state), float(state["step"]), p.tolist()))
    assert results[0] == results[1]


def test_fused_adam_ignores_capturable_as_torch(backend):
    _assert_runs_equal(lambda lib, ps: lib.optim.Adam(ps, lr=0.01, fused=True, capturable=True),
                       np.float32, [(2, 2)])


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Rprop"])
def test_differentiable_is_refused_rather_than_ignored(name):
    # PyTorch runs a differentiable step under autograd: an in-place update of a leaf that
    # requires grad raises; cgrad records no graph of its updates, so it refuses the rest
    for lib in (cgrad, torch):
        p = lib.ones(2, requires_grad=True)
        opt = getattr(lib.optim, name)([p], lr=0.1, differentiable=True)
        p.grad = lib.ones(2)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation"):
            opt.step()
    w = cgrad.ones(2, requires_grad=True)
    p = w * 2
    p.retain_grad()
    opt = getattr(cgrad.optim, name)([p], lr=0.1, differentiable=True)
    p.grad = cgrad.ones(2)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        opt.step()


@pytest.mark.parametrize("name,kw", [
    ("Adam", dict(amsgrad=True)), ("AdamW", dict(weight_decay=0.3)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)), ("RAdam", dict()),
    ("Adamax", dict()), ("Adagrad", dict(lr_decay=0.1)), ("ASGD", dict(lambd=0.1, t0=2)),
    ("Adafactor", dict(lr=0.5, weight_decay=0.1)), ("SGD", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True))])
def test_a_tensor_lr_rounds_as_torch_on_float64_parameters(backend, name, kw):
    # PyTorch computes lr / bias_correction (and eta, 1 - lr * weight_decay, ...) on the
    # float32 lr Tensor, so in float32; cgrad computed them in double, 1e-8 apart
    def make(lib, ps):
        return getattr(lib.optim, name)(ps, **dict(kw, lr=lib.tensor(kw.get("lr", 0.01))))
    (ours, opt), (theirs, topt) = (_run(lib, make, np.float64, [(3, 4), (5,)], steps=8)
                                   for lib in (cgrad, torch))
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-14,
                                   atol=1e-15)
        for key, value in topt.state[q].items():
            np.testing.assert_allclose(opt.state[p][key].numpy(), value.numpy(), rtol=1e-14)
