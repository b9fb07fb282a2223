"""NAdam, RAdam, Adamax, Adadelta, ASGD, Rprop and LBFGS against torch.optim: parameters and
state after several steps (float32 and float64, both backends), parameter groups, skipped and
zero-size parameters, state dicts (layout, resuming, loading PyTorch's) and argument errors."""
import io

import numpy as np
import pytest

import cgrad
import cgrad.optim as optim

torch = pytest.importorskip("torch")
from test_optim import check_resumed_run_equals_uninterrupted_run  # noqa: E402

CASES = [
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                   eps=1e-3)),
    ("RAdam", dict(lr=0.01)),      # rho_t > 5 only from step 6: both branches
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1)),   # rho_t <= 5 throughout
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.05, betas=(0.7, 0.8), weight_decay=0.1, eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=3, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
SHAPES = ((3, 4), (5,), (0,))
STEPS = 8


def _tol(dtype):
    # the same operations in the same order; PyTorch's CPU kernels fuse some multiply-adds
    return dict(rtol=2e-6, atol=2e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)


def _grads(dtype, step, shapes):
    rng = np.random.default_rng(100 + step)
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if step == 3:                    # zeros: Rprop's "no sign" branch
        grads[0][0] = 0
    return grads


def _params(lib, dtype, shapes=SHAPES):
    rng = np.random.default_rng(1)
    return [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def _steps(lib, opt, params, dtype, steps, first=0):
    for step in range(first, first + steps):
        for p, g in zip(params, _grads(dtype, step, [tuple(p.shape) for p in params])):
            p.grad = lib.tensor(g)
        opt.step()


def _numpy(x):
    """A state value as NumPy (tensors) or as itself."""
    return x.detach().numpy() if isinstance(x, (cgrad.Tensor, torch.Tensor)) else x


def _assert_states_close(ours, theirs, tol):
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = _numpy(ours[key]), _numpy(theirs[key])
        if isinstance(b, list):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                if y is None:
                    assert x is None
                else:
                    np.testing.assert_allclose(_numpy(x), _numpy(y), **tol)
        elif isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, key
            np.testing.assert_allclose(a, b, **tol)
        else:
            assert a == pytest.approx(b, rel=tol["rtol"]), key


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_torch(backend, name, kw, dtype):
    runs = []
    for lib in (cgrad, torch):
        params = _params(lib, dtype)
        opt = getattr(lib.optim, name)(params, **kw)
        _steps(lib, opt, params, dtype, STEPS)
        runs.append((params, opt))
    (ours, opt), (theirs, topt) = runs
    for p, q in zip(ours, theirs):
        assert p.dtype == getattr(cgrad, str(q.dtype).split(".")[1])
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **_tol(dtype))
    for p, q in zip(ours, theirs):                  # every state tensor too (dtypes as well)
        _assert_states_close(opt.state[p], topt.state[q], _tol(dtype))


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_layout_and_repr_match_torch(name, kw):
    kw = dict(kw, foreach=False, differentiable=False)      # accepted, and kept in the groups
    if name != "Adadelta" and name != "Adamax":
        kw["capturable"] = False

    def build(lib):
        params = _params(lib, np.float32)
        opt = getattr(lib.optim, name)(params, **kw)
        for p in params:
            p.grad = lib.ones_like(p)
        opt.step()
        return opt
    ours, theirs = build(cgrad).state_dict(), build(torch).state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert list(ours["state"]) == list(theirs["state"])
    for k in theirs["state"]:
        assert list(ours["state"][k]) == list(theirs["state"][k])      # same keys, same order
        for key, value in theirs["state"][k].items():
            mine = ours["state"][k][key]
            assert isinstance(mine, cgrad.Tensor)
            assert mine.shape == tuple(value.shape) and str(mine.dtype)[6:] == str(value.dtype)[6:]
    assert repr(build(cgrad)) == repr(build(torch))


def test_param_groups_with_different_options(backend):
    groups = [("NAdam", dict(lr=0.02, momentum_decay=0.01), dict(decoupled_weight_decay=True,
                                                               weight_decay=0.1)),
              ("RAdam", dict(lr=0.01), dict(lr=0.05, betas=(0.5, 0.6), maximize=True)),
              ("Adamax", dict(lr=0.01), dict(weight_decay=0.2, eps=1e-2)),
              ("Adadelta", dict(rho=0.8), dict(lr=0.3, weight_decay=0.1)),
              ("ASGD", dict(lr=0.05), dict(lambd=0.1, t0=2, alpha=0.5)),
              ("Rprop", dict(lr=0.02), dict(etas=(0.2, 2.0), step_sizes=(1e-2, 0.1)))]
    for dtype in (np.float32, np.float64):
        for name, defaults, second in groups:
            runs = []
            for lib in (cgrad, torch):
                a, b, c = _params(lib, dtype)
                opt = getattr(lib.optim, name)([{"params": [a, c]}, dict(second, params=[b])],
                                               **defaults)
                _steps(lib, opt, [a, b, c], dtype, STEPS)
                runs.append((a, b))
            assert all(opt.param_groups[1][k] == v for k, v in second.items())
            for p, q in zip(*runs):
                np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(),
                                           **_tol(dtype))
            # the second group's options changed b: one group of defaults moves it elsewhere
            params = _params(cgrad, dtype)
            _steps(cgrad, getattr(optim, name)(params, **defaults), params, dtype, STEPS)
            np.testing.assert_array_equal(params[0].detach().numpy(),
                                          runs[0][0].detach().numpy())
            assert not np.allclose(params[1].detach().numpy(), runs[0][1].detach().numpy())


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_parameters_without_grad_are_skipped(backend, name, kw):
    a, b, empty = _params(cgrad, np.float64)
    start = b.detach().numpy().copy()
    opt = getattr(optim, name)([a, b, empty], **kw)
    for step in range(3):
        a.grad = cgrad.tensor(_grads(np.float64, step, [(3, 4)])[0])
        empty.grad = cgrad.zeros(0, dtype=cgrad.float64)
        opt.step()
    assert b not in opt.state and (b.detach().numpy() == start).all()
    assert opt.state[a]["step"].item() == 3 and opt.state[empty]["step"].item() == 3
    assert all(v.shape == (0,) for v in opt.state[empty].values() if v.ndim)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_resumed_run_equals_uninterrupted_run(backend, name, kw):
    check_resumed_run_equals_uninterrupted_run(name, kw)


def _to_cgrad(value):
    """A PyTorch state value with its tensors as cgrad tensors."""
    if isinstance(value, torch.Tensor):
        return cgrad.tensor(value.numpy())
    if isinstance(value, dict):
        return {k: _to_cgrad(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cgrad(v) for v in value]
    return value


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_load_state_dict_saved_by_torch(name, kw):
    """Three steps in PyTorch, its state dict loaded into ours and into a new PyTorch optimizer
    (both cast the float32 0-d states but "step" to the parameters' float64), three more steps
    in each."""
    dtype = np.float64
    theirs = _params(torch, dtype)
    topt = getattr(torch.optim, name)(theirs, **kw)
    _steps(torch, topt, theirs, dtype, 3)
    ours = [cgrad.tensor(p.detach().numpy(), requires_grad=True) for p in theirs]
    opt = getattr(optim, name)(ours, lr=0.123)
    opt.load_state_dict(_to_cgrad(topt.state_dict()))
    saved = topt.state_dict()
    topt = getattr(torch.optim, name)(theirs, lr=0.123)
    topt.load_state_dict(saved)
    _steps(torch, topt, theirs, dtype, 3, first=3)
    _steps(cgrad, opt, ours, dtype, 3, first=3)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **_tol(dtype))
        _assert_states_close(opt.state[p], topt.state[q], _tol(dtype))


def test_tensor_lr_equals_float_lr(backend):
    for name, kw in CASES:
        lr = kw.get("lr", 1.0)
        results = []
        # (a float32 Tensor lr rounds its arithmetic in float32, as PyTorch's: see
        # test_optim_parity_gaps.test_a_tensor_lr_rounds_as_torch_on_float64_parameters)
        for rate in (lr, cgrad.tensor(lr, dtype=cgrad.float64)):
            params = _params(cgrad, np.float64)
            opt = getattr(optim, name)(params, **dict(kw, lr=rate))
            _steps(cgrad, opt, params, np.float64, 3)
            results.append(params[0].detach().numpy())
        np.testing.assert_array_equal(results[0], results[1])


def test_step_returns_the_closures_loss_and_bumps_the_version(backend):
    for name, kw in CASES:
        w = cgrad.tensor([2.0, -1.0], requires_grad=True)
        y = (w * w).sum()
        opt = getattr(optim, name)([w], **kw)

        def closure():
            opt.zero_grad()
            loss = (w ** 2).sum()
            loss.backward()
            return loss
        with cgrad.no_grad():
            assert opt.step(closure).item() == 5.0
        assert not np.array_equal(w.detach().numpy(), [2.0, -1.0])
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


ERRORS = [
    ("NAdam", dict(lr=-1.0)), ("NAdam", dict(eps=-1e-8)), ("NAdam", dict(betas=(1.0, 0.9))),
    ("NAdam", dict(betas=(0.9, -0.1))), ("NAdam", dict(weight_decay=-1)),
    ("NAdam", dict(momentum_decay=-0.1)),
    ("RAdam", dict(lr=-0.5)), ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(eps=-1)),
    ("RAdam", dict(weight_decay=-0.1)),
    ("Adamax", dict(lr=-1)), ("Adamax", dict(betas=(-0.1, 0.9))), ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(weight_decay=-2)),
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1)), ("Adadelta", dict(weight_decay=-1)),
    ("ASGD", dict(lr=-0.01)), ("ASGD", dict(weight_decay=-0.1)),
    ("Rprop", dict(lr=-1.0)), ("Rprop", dict(etas=(1.0, 1.2))), ("Rprop", dict(etas=(0.5, 1.0))),
    ("Rprop", dict(etas=(0.0, 2.0))),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kw", ERRORS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ERRORS)])
def test_argument_errors_are_torchs(name, kw):
    messages = []
    for lib in (cgrad, torch):
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, name)([lib.ones(1, requires_grad=True)], **kw)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("Invalid")


def test_other_errors_are_torchs():
    def messages(make, error=ValueError):
        found = []
        for lib in (cgrad, torch):
            with pytest.raises(error) as info:
                make(lib)
            found.append(str(info.value))
        assert found[0] == found[1]
        return found[0]
    for name in ("NAdam", "RAdam", "Adamax", "Adadelta", "ASGD", "Rprop", "LBFGS", "Adam", "AdamW",
                 "RMSprop", "Adagrad"):
        assert messages(lambda lib: getattr(lib.optim, name)(
            [lib.ones(1, requires_grad=True)], lr=lib.tensor([0.1, 0.2]))) == \
            "Tensor lr must be 1-element"
        assert messages(lambda lib: getattr(lib.optim, name)([])) == \
            "optimizer got an empty parameter list"
    assert messages(lambda lib: lib.optim.LBFGS(
        [{"params": [lib.ones(1, requires_grad=True)]},
         {"params": [lib.ones(1, requires_grad=True)], "lr": 0.1}])) == \
        "LBFGS doesn't support per-parameter options (parameter groups)"

    def unknown_line_search(lib):
        a = lib.ones(1, requires_grad=True)
        opt = lib.optim.LBFGS([a], line_search_fn="backtracking")

        def closure():
            opt.zero_grad()
            loss = (a * a).sum()
            loss.backward()
            return loss
        opt.step(closure)
    assert messages(unknown_line_search, RuntimeError) == "only 'strong_wolfe' is supported"


def test_new_kernels_never_write_grads(backend):
    k = cgrad.backends.kernels
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        p = [rng.standard_normal((4, 3)).astype(dtype)]
        g = [rng.standard_normal((4, 3)).astype(dtype)]
        g0 = g[0].copy()

        def z():
            return [np.zeros_like(p[0])]
        k.nadam_step_(p, g, z(), z(), [np.ones((), np.float32)], [1], lr=0.1, beta1=0.9,
                      beta2=0.99, eps=1e-8, weight_decay=0.1, momentum_decay=4e-3,
                      decoupled_weight_decay=False, maximize=True)
        k.radam_step_(p, g, z(), z(), [7], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8,
                      weight_decay=0.1, decoupled_weight_decay=False, maximize=True)
        k.adamax_step_(p, g, z(), z(), [1], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8,
                       weight_decay=0.1, maximize=True)
        k.adadelta_step_(p, g, z(), z(), lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.1,
                         maximize=True)
        k.asgd_step_(p, g, z(), [np.array(0.1, np.float32)], [np.ones((), np.float32)], [1],
                     lr=0.1, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.1, maximize=True)
        k.rprop_step_(p, g, [-g0.copy()], [np.full_like(p[0], 0.1)], etaminus=0.5,
                      etaplus=1.2, step_size_min=1e-6, step_size_max=50, maximize=False)
        np.testing.assert_array_equal(g[0], g0)
        assert p[0].dtype == dtype and np.isfinite(p[0]).all()


# ---- LBFGS ------------------------------------------------------------------------------------
def _rosenbrock(lib, dtype):
    x = lib.tensor(np.array([-1.5, 2.0, 0.5, -0.3], dtype=dtype), requires_grad=True)

    def loss():
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    return [x], loss


def _least_squares(lib, dtype):
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.standard_normal((20, 5)).astype(dtype))
    b = lib.tensor(rng.standard_normal(20).astype(dtype))
    w = lib.tensor(np.zeros(5, dtype), requires_grad=True)
    c = lib.tensor(np.zeros(1, dtype), requires_grad=True)
    unused = lib.tensor(np.ones(2, dtype), requires_grad=True)    # never gets a gradient

    def loss():
        return ((a @ w + c - b) ** 2).mean()
    return [w, c, unused], loss


def _lbfgs(lib, problem, dtype, kw, steps=3, values=None, state=None):
    """`steps` LBFGS steps on problem (from the given parameter values and optimizer state, if
    any): the parameters, the optimizer and the losses step() returned."""
    params, f = problem(lib, dtype)
    if values is not None:
        with lib.no_grad():
            for p, v in zip(params, values):
                p.copy_(lib.tensor(v))
    opt = lib.optim.LBFGS(params, **kw)
    if state is not None:
        opt.load_state_dict(state)

    def closure():
        opt.zero_grad()
        loss = f()
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(steps)]
    return params, opt, losses


# float32 only where the runs stay clear of the rounding noise at the optimum, where a
# tolerance test flips on the last bit of a dot product (Rosenbrock's default run stops an
# iteration apart in float32 against torch's MKL on an Intel AVX-512 host)
LBFGS_CASES = [
    (_rosenbrock, dict(), (np.float64,)),
    (_rosenbrock, dict(lr=0.5, max_iter=5, history_size=3), (np.float32, np.float64)),
    (_rosenbrock, dict(line_search_fn="strong_wolfe"), (np.float64,)),
    (_rosenbrock, dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7, lr=0.8),
     (np.float64,)),
    (_rosenbrock, dict(max_iter=30, max_eval=12, tolerance_change=1e-5), (np.float64,)),
    (_least_squares, dict(), (np.float64,)),
    (_least_squares, dict(max_iter=2), (np.float32, np.float64)),
    (_least_squares, dict(lr=0.5, max_iter=5, history_size=3), (np.float64,)),
    (_least_squares, dict(line_search_fn="strong_wolfe"), (np.float64,)),
    (_least_squares, dict(line_search_fn="strong_wolfe", max_iter=2), (np.float32, np.float64)),
    (_least_squares, dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7, lr=0.8),
     (np.float64,)),
    (_least_squares, dict(tolerance_grad=1e-3), (np.float64,)),
]


@pytest.mark.parametrize("problem,kw,dtypes", LBFGS_CASES,
                         ids=[f"{p.__name__}-{i}" for i, (p, _, _) in enumerate(LBFGS_CASES)])
def test_lbfgs_matches_torch(backend, problem, kw, dtypes):
    for dtype in dtypes:
        (ours, opt, losses), (theirs, topt, tlosses) = (_lbfgs(lib, problem, dtype, kw)
                                                        for lib in (cgrad, torch))
        tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(losses, tlosses, **tol)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
        state, tstate = opt.state[ours[0]], topt.state[theirs[0]]
        assert state["func_evals"] == tstate["func_evals"] and state["n_iter"] == tstate["n_iter"]
        assert list(state) == list(tstate)
        if dtype == np.float64:      # float32's history holds noise once converged
            _assert_states_close(state, tstate, tol)
        assert all(p not in opt.state for p in ours[1:])          # one state, under params[0]


def test_lbfgs_converges_and_stops_at_tolerance_grad(backend):
    kw = dict(line_search_fn="strong_wolfe", max_iter=100)
    params, opt, losses = _lbfgs(cgrad, _rosenbrock, np.float64, kw, steps=2)
    assert losses[1] < 1e-2 * losses[0]     # near a minimum (4-D Rosenbrock's local one, 3.70)
    np.testing.assert_allclose(losses, _lbfgs(torch, _rosenbrock, np.float64, kw, steps=2)[2],
                               rtol=1e-9, atol=1e-12)
    evals = opt.state[params[0]]["func_evals"]

    def closure():                   # at the optimum: one evaluation, no iteration
        opt.zero_grad()
        loss = (params[0] - params[0].detach()).pow(2).sum()
        loss.backward()
        return loss
    before = params[0].detach().numpy().copy()
    assert opt.step(closure).item() == 0.0
    assert opt.state[params[0]]["func_evals"] == evals + 1
    np.testing.assert_array_equal(params[0].detach().numpy(), before)


def test_lbfgs_state_dict_round_trip_and_torch_state(backend):
    kw = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4)
    whole, _, whole_losses = _lbfgs(cgrad, _least_squares, np.float64, kw, steps=4)
    first, opt1, _ = _lbfgs(cgrad, _least_squares, np.float64, kw, steps=2)
    buf = io.BytesIO()
    cgrad.save(opt1.state_dict(), buf)
    buf.seek(0)
    saved = cgrad.load(buf)
    assert [type(v).__name__ for v in saved["state"][0]["ro"]] == ["Tensor"] * 3
    values = [p.detach().numpy() for p in first]
    resumed, _, losses = _lbfgs(cgrad, _least_squares, np.float64, kw, steps=2, values=values,
                                state=saved)
    assert losses == whole_losses[2:]
    for p, q in zip(resumed, whole):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    # PyTorch's state dict, loaded into ours, continues as PyTorch does
    theirs, topt, _ = _lbfgs(torch, _least_squares, np.float64, kw, steps=2)
    values = [p.detach().numpy() for p in theirs]
    ours, opt, losses = _lbfgs(cgrad, _least_squares, np.float64, kw, steps=2, values=values,
                               state=_to_cgrad(topt.state_dict()))
    theirs, topt, tlosses = _lbfgs(torch, _least_squares, np.float64, kw, steps=2,
                                   values=values, state=topt.state_dict())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9, atol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)
    assert opt.state[ours[0]]["n_iter"] == topt.state[theirs[0]]["n_iter"]


@pytest.mark.parametrize("name,kw", [
    ("AdamW", dict(weight_decay=0.5)),
    ("NAdam", dict(weight_decay=0.5, decoupled_weight_decay=True)),
    ("RAdam", dict(weight_decay=0.5, decoupled_weight_decay=True))])
def test_decoupled_weight_decay_at_a_zero_lr_as_torch(backend, name, kw):
    """a warm-up from lr 0: decoupled decay scales p by 1 - 0 * wd and leaves g alone (the
    NumPy kernels once took an lr of 0 for 'not decoupled' and added wd p into the moments)"""
    dtype = np.float64
    results = []
    for lib in (cgrad, torch):
        params = _params(lib, dtype)
        opt = getattr(lib.optim, name)(params, lr=0.1, **kw)
        sched = lib.optim.lr_scheduler.LambdaLR(opt, lambda e: e / 2)    # lr 0, 0.05, 0.1, ...
        for step in range(4):
            for p, g in zip(params, _grads(dtype, step, [tuple(p.shape) for p in params])):
                p.grad = lib.tensor(g)
            opt.step()
            sched.step()
        results.append([p.detach().numpy().copy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **_tol(dtype))


ADAFACTOR = [dict(), dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5),
             dict(lr=0.02, weight_decay=0.1, maximize=True), dict(lr=0.5, d=1.0)]
ADAFACTOR_SHAPES = ((3, 4), (5,), (2, 3, 4), (1, 6))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", ADAFACTOR, ids=range(len(ADAFACTOR)))
def test_adafactor_matches_torch(backend, kw, dtype):
    runs = []
    for lib in (cgrad, torch):
        params = _params(lib, dtype, ADAFACTOR_SHAPES)
        opt = lib.optim.Adafactor(params, **kw)
        _steps(lib, opt, params, dtype, STEPS)
        runs.append((params, opt))
    (ours, opt), (theirs, topt) = runs
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
        _assert_states_close(opt.state[p], topt.state[q], tol)
    assert repr(opt) == repr(topt)
    # torch's state dict loads and the run goes on as torch's
    again = _params(cgrad, dtype, ADAFACTOR_SHAPES)
    with cgrad.no_grad():
        for p, q in zip(again, theirs):
            p.copy_(cgrad.tensor(q.detach().numpy()))
    resumed = cgrad.optim.Adafactor(again, **kw)
    resumed.load_state_dict(_to_cgrad(topt.state_dict()))
    _steps(cgrad, resumed, again, dtype, 3, first=STEPS)
    _steps(torch, topt, theirs, dtype, 3, first=STEPS)
    for p, q in zip(again, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)


def test_adafactor_errors_match_torch():
    p = [cgrad.zeros(2, requires_grad=True)]
    q = [torch.zeros(2, requires_grad=True)]
    for kw in (dict(lr=-1), dict(beta2_decay=0.5), dict(eps=(-1, 1e-3)), dict(eps=(None, -1)),
               dict(d=0.5), dict(weight_decay=-1)):
        with pytest.raises(ValueError) as t_err:
            torch.optim.Adafactor(q, **kw)
        with pytest.raises(ValueError, match=str(t_err.value).replace("(", r"\(").replace(
                ")", r"\)")):
            cgrad.optim.Adafactor(p, **kw)
