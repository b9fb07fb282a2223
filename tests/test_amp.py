"""cgrad.amp against torch.amp on the CPU: GradScaler's scales, growth tracker, skipped steps
and parameters at every step of a training run (one that overflows first), its errors, state
dicts and pickling; autocast's state, warnings and errors; the deprecated cuda/cpu aliases."""
import pickle
import threading
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

LIBS = (cgrad, torch)


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 16), lib.nn.Tanh(), lib.nn.Linear(16, 3))


def _models(seed=0, make=_mlp):
    """the same model in cgrad and torch, with the same random float32 weights"""
    rng = np.random.default_rng(seed)
    models = {lib: make(lib) for lib in LIBS}
    with torch.no_grad(), cgrad.no_grad():
        for pc, pt in zip(models[cgrad].parameters(), models[torch].parameters()):
            a = (rng.standard_normal(tuple(pt.shape)) * 0.5).astype(np.float32)
            pc.copy_(cgrad.tensor(a))
            pt.copy_(torch.tensor(a))
    return models


def _data(n=16, seed=1, target_scale=30.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((8, 4)).astype(np.float32),
             (rng.standard_normal((8, 3)) * target_scale).astype(np.float32)) for _ in range(n)]


def _loss(lib, model, x, y):
    # a summed loss of large targets: at a scale near float32's maximum the gradients overflow
    return lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y), reduction="sum")


def _params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def _assert_params_close(c, t, rtol=1e-5, atol=1e-6):
    for a, b in zip(c, t):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _outcome(fn):
    """(exception class name, message) of fn(), or None if it returned"""
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    return None


def _recorded(fn):
    """fn()'s result and its warnings as (category name, message)"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [(w.category.__name__, str(w.message)) for w in caught]


# ---- GradScaler: training runs ----------------------------------------------------------------
def _amp_run(lib, model, make_opt, data, clip=None, **scaler_args):
    opt = make_opt(lib, model)
    scaler = lib.amp.GradScaler("cpu", **scaler_args)
    trace = []
    for x, y in data:
        opt.zero_grad()
        scaler.scale(_loss(lib, model, x, y)).backward()
        if clip is not None:            # PyTorch's documented pattern: clip unscaled gradients
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), scaler._get_growth_tracker(), _params(model)))
    return trace


OPTIMIZERS = {
    "sgd_momentum": lambda lib, m: lib.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9),
    "adam": lambda lib, m: lib.optim.Adam(m.parameters(), lr=1e-2),
}


@pytest.mark.parametrize("clip", [None, 5.0])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_overflowing_start_backs_off_then_trains_as_torch(opt, clip, backend):
    """init_scale near float32's maximum: the first gradients are inf (steps skipped, the
    scale halves), then training runs; scale, growth tracker and parameters match torch's at
    every step, with and without unscale_ + clip_grad_norm_"""
    models, data = _models(), _data()
    start = _params(models[cgrad])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy's overflow in a reduction
        traces = {lib: _amp_run(lib, models[lib], OPTIMIZERS[opt], data, clip,
                                init_scale=1.7e38, growth_interval=3) for lib in LIBS}
    scales = [s for s, _, _ in traces[torch]]
    assert scales[0] < 1.7e38 and scales[1] < scales[0]            # backed off, skipping
    assert any(b > a for a, b in zip(scales, scales[1:]))          # and grew again later
    _assert_params_close(traces[torch][0][2], start, rtol=0, atol=0)   # first step skipped
    for (cs, ct, cp), (ts, tt, tp) in zip(traces[cgrad], traces[torch]):
        assert cs == ts and ct == tt
        _assert_params_close(cp, tp)
    assert not np.array_equal(traces[cgrad][-1][2][0], start[0])     # it did train


def test_power_of_two_scaling_equals_plain_training(backend):
    """a use_amp script: with no overflow, scaling by 2**16 and unscaling are exact, so the
    parameters are plain training's to the bit; enabled=False is plain training too"""
    data = _data(n=6, target_scale=1.0)
    runs = {}
    for use_amp in (None, True, False):
        model = _models()[cgrad]
        opt = cgrad.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        scaler = cgrad.amp.GradScaler("cpu", enabled=bool(use_amp))
        for x, y in data:
            opt.zero_grad()
            with cgrad.autocast("cpu", enabled=False):
                loss = _loss(cgrad, model, x, y)
            if use_amp is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
        runs[use_amp] = _params(model)
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    for a, b, c in zip(runs[None], runs[True], runs[False]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_scale_update_rule_equals_torch():
    """_amp_update_scale_: backoff on inf/NaN (tracker reset), growth after growth_interval
    clean steps, products rounded to float32; odd factors make the rounding show"""
    pattern = [0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 0, 0]      # 1: an inf grad, 2: a NaN
    traces = {}
    for lib in LIBS:
        p = lib.zeros(3, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=3.0, growth_factor=1.3,
                                    backoff_factor=0.7, growth_interval=2)
        trace = []
        for bad in pattern:
            scaler.scale(p.sum())
            p.grad = lib.tensor([1.0, [0.0, float("inf"), float("nan")][bad], 2.0])
            ret = scaler.step(opt)
            grad = p.grad.numpy().copy()
            scaler.update()
            trace.append((ret, scaler.get_scale(), scaler._get_growth_tracker(), grad,
                          p.detach().numpy().copy()))
        traces[lib] = trace
    for (*c, c_grad, c_p), (*t, t_grad, t_p) in zip(traces[cgrad], traces[torch]):
        assert c == t
        np.testing.assert_array_equal(c_grad, t_grad)       # unscaled: the same bits (NaN too)
        np.testing.assert_allclose(c_p, t_p, rtol=1e-6)     # SGD's own rounding may differ
    assert len({s for _, s, _, _, _ in traces[torch]}) > 5


def test_growth_stops_at_float32_max():
    """growth that would reach inf leaves the scale (and resets the tracker), as torch"""
    traces = {}
    for lib in LIBS:
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.0)
        scaler = lib.amp.GradScaler("cpu", init_scale=2.0**126, growth_interval=1)
        trace = []
        for _ in range(3):
            opt.zero_grad()
            (scaler.scale(p.sum()) * 2.0**-100).backward()
            scaler.step(opt)
            scaler.update()
            trace.append((scaler.get_scale(), scaler._get_growth_tracker()))
        traces[lib] = trace
    assert traces[cgrad] == traces[torch]
    assert traces[torch][-1][0] == 2.0**127


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unscale_is_torchs_to_the_bit(dtype):
    """grads times float32(1 / double(scale)), in the grad's own dtype; found_inf per
    optimizer; step returns optimizer.step's value"""
    rng = np.random.default_rng(3)
    g = (rng.standard_normal(50) * 1e3).astype(dtype)
    out = {}
    for lib in LIBS:
        p = lib.zeros(50, dtype=getattr(lib, dtype), requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.5)
        scaler = lib.amp.GradScaler("cpu", init_scale=3.0)
        scaler.scale(lib.ones(()))
        p.grad = lib.tensor(g.copy())
        scaler.unscale_(opt)
        unscaled = p.grad.numpy().copy()
        ret = scaler.step(opt)
        out[lib] = unscaled, p.detach().numpy().copy(), ret, [
            float(v) for v in scaler._found_inf_per_device(opt).values()]
    np.testing.assert_array_equal(out[cgrad][0], out[torch][0])
    np.testing.assert_array_equal(out[cgrad][1], out[torch][1])
    assert out[cgrad][2:] == out[torch][2:] == (None, [0.0])
    assert out[cgrad][0].dtype == np.dtype(dtype)


def test_scale_of_nested_outputs_and_dtypes():
    for lib in LIBS:
        scaler = lib.amp.GradScaler("cpu", init_scale=4.0)
        out = scaler.scale([lib.ones(2), (lib.ones(1, dtype=lib.float64), [lib.ones(())])])
        assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
        assert out[0].tolist() == [4.0, 4.0] and out[1][1][0].item() == 4.0
        assert out[1][0].dtype == lib.float64                  # the 0-d float32 scale
        assert list(scaler.scale(iter([lib.ones(1)])))[0].item() == 4.0
    assert _outcome(lambda: cgrad.amp.GradScaler("cpu").scale(3)) == \
        _outcome(lambda: torch.amp.GradScaler("cpu").scale(3)) == \
        ("ValueError", "outputs must be a Tensor or an iterable of Tensors")


def test_two_losses_two_optimizers_as_torch(backend):
    """PyTorch's multiple models / losses / optimizers example: retain_graph, unscale_ of one
    optimizer only, one step each, one update; each optimizer skips on its own infs"""
    models = {lib: _models(seed=s) for s, lib in ((0, "a"), (1, "b"))}
    data = _data(n=10)
    traces = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for lib in LIBS:
            m0, m1 = models["a"][lib], models["b"][lib]
            opt0 = lib.optim.SGD(m0.parameters(), lr=1e-3)
            opt1 = lib.optim.Adam(m1.parameters(), lr=1e-2)
            scaler = lib.amp.GradScaler("cpu", init_scale=2.0**125, growth_interval=2)
            trace = []
            for x, y in data:
                opt0.zero_grad()
                opt1.zero_grad()
                out0, out1 = m0(lib.tensor(x)), m1(lib.tensor(x) * 10)
                loss0 = ((out0 + out1) * 0.5 - lib.tensor(y)).pow(2).sum()
                loss1 = (out0 * 0.3 - out1 - lib.tensor(y)).pow(2).mean()
                scaler.scale(loss0).backward(retain_graph=True)
                scaler.scale(loss1).backward()
                scaler.unscale_(opt0)
                scaler.step(opt0)
                scaler.step(opt1)
                infs = [float(sum(scaler._found_inf_per_device(o).values())) for o in (opt0, opt1)]
                scaler.update()
                trace.append((scaler.get_scale(), scaler._get_growth_tracker(), infs,
                              _params(m0) + _params(m1)))
            traces[lib] = trace
    assert {tuple(infs) for _, _, infs, _ in traces[torch]} >= {(0.0, 1.0), (0.0, 0.0)}
    for (cs, ct, ci, cp), (ts, tt, ti, tp) in zip(traces[cgrad], traces[torch]):
        assert (cs, ct, ci) == (ts, tt, ti)
        _assert_params_close(cp, tp)


def test_optimizer_that_unscales_itself_as_torch():
    """an optimizer with _step_supports_amp_scaling: step() gets grad_scale and found_inf as
    attributes and skips by itself; one whose step() names grad_scaler gets the scaler as
    that keyword instead, with torch's FutureWarning"""
    def run(lib):
        seen = []

        class SelfUnscaling(lib.optim.SGD):
            _step_supports_amp_scaling = True

            def step(self, closure=None):
                seen.append((self.grad_scale.item(), float(self.found_inf)))
                if not self.found_inf:
                    with lib.no_grad():
                        for p in self.param_groups[0]["params"]:
                            p.sub_(p.grad / self.grad_scale * self.param_groups[0]["lr"])
                return "stepped"

        class TakesScaler(SelfUnscaling):
            def step(self, closure=None, grad_scaler=None):
                seen.append(grad_scaler.get_scale())
                return "stepped"

        p = lib.ones(2, requires_grad=True)
        scaler = lib.amp.GradScaler("cpu", init_scale=8.0)
        for opt_class, factor in ((SelfUnscaling, 1.0), (SelfUnscaling, float("inf")),
                                  (SelfUnscaling, 3.0), (TakesScaler, 1.0)):
            opt = opt_class([p], lr=0.5)
            opt.zero_grad()
            scaler.scale(p.sum() * factor).backward()
            ret, caught = _recorded(lambda: scaler.step(opt))
            seen.append((ret, caught, hasattr(opt, "grad_scale"), hasattr(opt, "found_inf"),
                         _outcome(scaler.update), scaler.get_scale()))
        return seen, p.tolist()
    got = run(cgrad)
    assert got == run(torch)
    assert got[0][-1][1][0][0] == "FutureWarning"


# ---- GradScaler: state, pickling, errors -------------------------------------------------------
def _trained_scaler(lib, steps=4, **kwargs):
    p = lib.ones(2, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", growth_interval=3, **kwargs)
    for i in range(steps):
        opt.zero_grad()
        scaler.scale(p.sum() * (float("inf") if i == 1 else 1.0)).backward()
        scaler.step(opt)
        scaler.update()
    return scaler, p, opt


def test_state_dict_round_trip_and_pickle():
    states = {lib: _trained_scaler(lib, init_scale=1024.0)[0].state_dict() for lib in LIBS}
    assert states[cgrad] == states[torch]
    assert states[cgrad] == {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                             "growth_interval": 3, "_growth_tracker": 2}
    for lib in LIBS:
        fresh = lib.amp.GradScaler("cpu", init_scale=7.0, growth_factor=3.0)
        fresh.load_state_dict(states[lib])                  # before its lazy tensors exist
        assert fresh.state_dict() == states[torch] and fresh.get_scale() == 512.0
        used, _, _ = _trained_scaler(lib, steps=1)
        used.load_state_dict(states[lib])                   # into existing tensors
        assert used.state_dict() == states[torch]
        clone = pickle.loads(pickle.dumps(_trained_scaler(lib, init_scale=1024.0)[0]))
        assert clone.state_dict() == states[torch] and clone._scale is None
        p = lib.ones(1, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        clone.scale(p.sum()).backward()
        clone.step(opt)
        clone.update()
        assert clone.get_scale() == 1024.0 and clone._get_growth_tracker() == 0
        disabled = lib.amp.GradScaler("cpu", enabled=False)
        disabled.load_state_dict(states[lib])               # a no-op
        assert disabled.state_dict() == {} and disabled.get_scale() == 1.0
        assert pickle.loads(pickle.dumps(disabled)).is_enabled() is False


def test_getters_and_setters_as_torch():
    def probe(lib):
        s = lib.amp.GradScaler("cpu", init_scale=8.0, growth_factor=3.0, backoff_factor=0.25,
                               growth_interval=5)
        got = [s.get_scale(), s.get_growth_factor(), s.get_backoff_factor(),
               s.get_growth_interval(), s._get_growth_tracker(), s.is_enabled()]
        s.set_growth_factor(4.0)
        s.set_backoff_factor(0.125)
        s.set_growth_interval(7)
        s.scale(lib.ones(()))
        s.update(new_scale=lib.tensor(6.0))
        got.append(s.state_dict())
        s.update(2.5)
        got.append(s.get_scale())
        off = lib.amp.GradScaler("cpu", enabled=False)
        got += [off.get_scale(), off._get_growth_tracker(), off.is_enabled(), off.state_dict()]
        return got
    assert probe(cgrad) == probe(torch)


def _error_cases(lib):
    def scaler(**kwargs):
        return lib.amp.GradScaler("cpu", **kwargs)

    def ready(init_scale=16.0):
        """a scaler after scale(loss).backward(), and its optimizer"""
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        s = scaler(init_scale=init_scale)
        s.scale(p.sum()).backward()
        return s, opt, p

    def twice(first, second):
        s, opt, _ = ready()
        getattr(s, first)(opt)
        getattr(s, second)(opt)

    def no_grads():
        s, _, _ = ready()
        s.step(lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1))

    def update_without_step():
        s, _, _ = ready()
        s.update()

    def new_scale(value):
        s, _, _ = ready()
        s.update(new_scale=value)

    def pickle_mid_iteration():
        s, opt, _ = ready()
        s.unscale_(opt)
        pickle.dumps(s)

    def fp16_grads():
        p = lib.zeros(2, dtype=lib.float16, requires_grad=True)
        p.grad = lib.ones(2, dtype=lib.float16)
        s = scaler()
        s.scale(lib.ones(()))
        s.unscale_(lib.optim.SGD([p], lr=0.1))

    return {
        "growth_factor": lambda: scaler(growth_factor=1.0),
        "backoff_factor": lambda: scaler(backoff_factor=1.0),
        "step_before_scale": lambda: scaler().step(lib.optim.SGD([lib.ones(1)], lr=0.1)),
        "unscale_before_scale": lambda: scaler().unscale_(lib.optim.SGD([lib.ones(1)], lr=0.1)),
        "update_before_scale": lambda: scaler().update(),
        "unscale_twice": lambda: twice("unscale_", "unscale_"),
        "unscale_after_step": lambda: twice("step", "unscale_"),
        "step_twice": lambda: twice("step", "step"),
        "closure": lambda: ready()[0].step(ready()[1], closure=lambda: 0.0),
        "no_grads": no_grads,
        "update_without_step": update_without_step,
        "new_scale_two_elements": lambda: new_scale(lib.ones(2)),
        "new_scale_requires_grad": lambda: new_scale(lib.ones(1, requires_grad=True)),
        "load_empty": lambda: scaler().load_state_dict({}),
        "load_missing_key": lambda: scaler().load_state_dict({"scale": 2.0}),
        "pickle_mid_iteration": pickle_mid_iteration,
        "fp16_grads": fp16_grads,
    }


@pytest.mark.parametrize("case", sorted(_error_cases(cgrad)))
def test_errors_as_torch(case):
    got = _outcome(_error_cases(cgrad)[case])
    assert got is not None and got == _outcome(_error_cases(torch)[case])


def test_disabled_scaler_is_a_pass_through():
    for lib in LIBS:
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.5)
        scaler = lib.amp.GradScaler("cpu", enabled=False)
        loss = p.sum()
        assert scaler.scale(loss) is loss
        loss.backward()
        scaler.unscale_(opt)
        assert scaler.step(opt, closure=lambda: 3.0) == 3.0      # closures pass through too
        scaler.update()
        assert p.tolist() == [0.5, 0.5] and p.grad.tolist() == [1.0, 1.0]


def test_cuda_scaler_disables_itself_as_torch_without_cuda():
    got = {lib: _recorded(lambda: lib.amp.GradScaler()) for lib in LIBS}
    assert got[cgrad][1] == got[torch][1] == [
        ("UserWarning", "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                        "Disabling.")]
    assert not got[cgrad][0].is_enabled() and got[cgrad][0]._device == "cuda"
    assert _recorded(lambda: cgrad.amp.GradScaler("cuda", enabled=False))[1] == []


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_deprecated_scaler_aliases_as_torch(device):
    got = {lib: _recorded(lambda: getattr(lib, device).amp.GradScaler(init_scale=8.0))
           for lib in LIBS}
    assert got[cgrad][1] == got[torch][1]
    assert got[cgrad][1][0][0] == "FutureWarning"
    for lib in LIBS:
        s = got[lib][0]
        assert (s.is_enabled(), s.get_scale(), s._device, type(s).__name__) == \
            (device == "cpu", 8.0 if device == "cpu" else 1.0, device, "GradScaler")
        assert isinstance(s, lib.amp.GradScaler)


# ---- autocast ----------------------------------------------------------------------------------
def _state(lib):
    return (lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda"),
            lib.is_autocast_enabled(), str(lib.get_autocast_dtype("cuda")).split(".")[-1])


def test_autocast_cpu_warns_once_and_computes_as_without():
    model, x = _models()[cgrad], cgrad.tensor(_data(n=1)[0][0])
    plain = model(x)
    region, caught = _recorded(lambda: cgrad.autocast("cpu"))
    assert len(caught) == 1 and caught[0][0] == "UserWarning"
    assert "own dtypes" in caught[0][1] and "cgrad" in caught[0][1]
    with region:
        inside = model(x)
        assert _state(cgrad) == (True, False, False, "float16")
    assert inside.dtype == plain.dtype == cgrad.float32
    np.testing.assert_array_equal(inside.detach().numpy(), plain.detach().numpy())
    assert _state(cgrad) == (False, False, False, "float16")


def test_autocast_state_as_torch():
    """nesting (enabled=False inside), dtype=float16, restore on exceptions, the decorator,
    the cache flag, and a new thread starting disabled; same answers as torch"""
    def probe(lib):
        seen = [_state(lib)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outer = lib.autocast("cpu", dtype=lib.float16, cache_enabled=False)
            with outer as entered:
                seen += [entered is outer, _state(lib), lib.is_autocast_cache_enabled(),
                         str(lib.get_autocast_dtype("cpu"))[-7:]]
                with lib.autocast(device_type="cpu", enabled=False):
                    seen.append(_state(lib))
                thread_state = []
                t = threading.Thread(target=lambda: thread_state.append(_state(lib)))
                t.start()
                t.join()
                seen += thread_state
                seen.append(_state(lib))
            seen += [_state(lib), lib.is_autocast_cache_enabled()]
            try:
                with lib.amp.autocast("cpu", lib.float16):
                    raise KeyError("inside")
            except KeyError:
                seen.append(_state(lib))

            @lib.autocast("cpu", dtype=lib.float16)
            def forward(a):
                """the docstring"""
                return _state(lib), a
            seen += [forward(5), forward.__name__, forward.__doc__, _state(lib)]
        return seen
    assert probe(cgrad) == probe(torch)


@pytest.mark.parametrize("kind", ["cuda", "cuda_disabled", "float32", "float64", "cpu_disabled"])
def test_autocast_disabling_warnings_as_torch(kind):
    args = {"cuda": ("cuda",), "cuda_disabled": ("cuda", None, False),
            "float32": ("cpu", "float32"), "float64": ("cpu", "float64"),
            "cpu_disabled": ("cpu", None, False)}[kind]

    def make(lib):
        a = list(args)
        if len(a) > 1 and a[1] is not None:
            a[1] = getattr(lib, a[1])
        region = lib.autocast(*a)
        with region:
            return region._enabled, _state(lib)
    got = {lib: _recorded(lambda: make(lib)) for lib in LIBS}
    assert got[cgrad][0] == got[torch][0]
    assert got[cgrad][0][0] is False
    if kind.startswith("float"):      # torch names bfloat16 too, which cgrad lacks
        (_, c_msg), = got[cgrad][1]
        (_, t_msg), = got[torch][1]
        assert c_msg == t_msg.replace("torch.bfloat16, torch.float16", "cgrad.float16")
    else:
        assert got[cgrad][1] == got[torch][1]
        assert len(got[cgrad][1]) == (kind == "cuda")


def test_autocast_errors_as_torch():
    cases = {
        "device_type_none": lambda lib: lib.autocast(None),
        "device_type_int": lambda lib: lib.autocast(0),
        "no_autocast_device": lambda lib: lib.autocast("hip"),
        "decorating_a_non_callable": lambda lib: lib.autocast("cpu", enabled=False)(3),
        "dtype_not_a_dtype": lambda lib: lib.autocast("cpu", "float16").__enter__(),
        "is_enabled_of_none": lambda lib: lib.is_autocast_enabled(None),
        "set_enabled_not_bool": lambda lib: lib.set_autocast_enabled("cpu", 1),
        "custom_fwd_device_type": lambda lib: lib.amp.custom_fwd(device_type=None),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, case in cases.items():
            got = _outcome(lambda: case(cgrad))
            assert got is not None and got == _outcome(lambda: case(torch)), name
    assert cgrad.is_autocast_enabled("cpu") is False


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_deprecated_autocast_aliases_as_torch(device):
    def make(lib):
        region = getattr(lib, device).amp.autocast(dtype=lib.float16)
        with region:
            return region._enabled, region.device, _state(lib)
    got = {lib: _recorded(lambda: make(lib)) for lib in LIBS}
    assert got[cgrad][0] == got[torch][0]
    future = [w for w in got[cgrad][1] if w[0] == "FutureWarning"]
    assert future == [w for w in got[torch][1] if w[0] == "FutureWarning"] and len(future) == 1
    if device == "cuda":
        assert got[cgrad][1] == got[torch][1]
    else:   # torch's CPU autocast is real; cgrad's warns that it computes in the own dtypes
        assert [w[0] for w in got[cgrad][1]] == ["FutureWarning", "UserWarning"]


def test_deprecated_state_functions():
    with cgrad.autocast("cpu", enabled=False):
        for name in ("is_autocast_cpu_enabled", "get_autocast_cpu_dtype",
                     "get_autocast_gpu_dtype"):
            got = {lib: _recorded(getattr(lib, name)) for lib in LIBS}
            assert str(got[cgrad][0])[-5:] == str(got[torch][0])[-5:] or name.endswith(
                "cpu_dtype")              # torch's CPU default is bfloat16; cgrad's float16
            (c_cat, c_msg), = got[cgrad][1]
            (t_cat, t_msg), = got[torch][1]
            assert c_cat == t_cat == "DeprecationWarning"
            assert t_msg.startswith(c_msg)          # torch adds where in C++ it was raised
    assert cgrad.get_autocast_dtype("cpu") is cgrad.float16


@pytest.mark.parametrize("cast", [False, True])
def test_custom_fwd_bwd_as_torch(cast):
    """a custom Function under autocast: with cast_inputs, forward gets float32 inputs and
    runs (and backward too) with autocast off; without, both see it on"""
    def run(lib):
        seen = []

        class Square(lib.autograd.Function):
            @staticmethod
            @lib.amp.custom_fwd(device_type="cpu", cast_inputs=lib.float32 if cast else None)
            def forward(ctx, x):
                seen.append(("fwd", lib.is_autocast_enabled("cpu"), str(x.dtype)[-7:]))
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @lib.amp.custom_bwd(device_type="cpu")
            def backward(ctx, g):
                seen.append(("bwd", lib.is_autocast_enabled("cpu")))
                x, = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autocast("cpu", dtype=lib.float16):
                y = Square.apply(x)
            y.sum().backward()
        return seen, x.grad.tolist()
    assert run(cgrad) == run(torch)


def test_amp_surface():
    assert cgrad.amp.autocast is cgrad.autocast
    assert cgrad.amp.is_autocast_available("cpu") and cgrad.amp.is_autocast_available("cuda")
    assert not cgrad.amp.is_autocast_available("hip")
    assert set(torch.amp.__all__) <= set(dir(cgrad.amp))
