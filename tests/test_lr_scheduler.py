"""Learning-rate schedulers: the documented closed forms, torch's values exactly, state dicts,
and PyTorch's warnings and errors."""
import io
import math
import warnings

import pytest

import cgrad
from cgrad import optim
from cgrad.optim import lr_scheduler as S

SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "CosineAnnealingLR-no-min": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda epoch: 1 / (epoch + 1)),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 0.5 ** e, lambda e: e + 1]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95 if e < 10 else 1.02),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=6),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                              total_iters=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=8, power=2.0),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=12)],
        milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.3, total_iters=10), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=3, gamma=0.5)], milestones=[4, 10]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9)]),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.3], step_size_up=4,
                                        step_size_down=3),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                    mode="triangular2"),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=5,
                                                  mode="exp_range", gamma=0.95),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2,
                                                 scale_fn=lambda x: 1 / (x + 1),
                                                 scale_mode="iterations"),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5),
    "CosineAnnealingWarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=30),
    "OneCycleLR-linear": lambda m, o: m.OneCycleLR(o, max_lr=0.5, epochs=6, steps_per_epoch=6,
                                                   pct_start=0.25, anneal_strategy="linear",
                                                   div_factor=10.0, final_div_factor=100.0),
    "OneCycleLR-three-phase": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=31,
                                                        three_phase=True, base_momentum=0.8,
                                                        max_momentum=[0.9, 0.99]),
}


def _optimizer(lib):
    return lib.optim.SGD([{"params": [lib.zeros(2, requires_grad=True)]},
                          {"params": [lib.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)


def _schedule(lib, make, epochs=30, metrics=None):
    opt = _optimizer(lib)
    sched = make(lib.optim.lr_scheduler, opt)
    lrs = [tuple(sched.get_last_lr())]
    for epoch in range(epochs):
        opt.step()
        sched.step(metrics[epoch]) if metrics else sched.step()
        lrs.append(tuple(sched.get_last_lr()))
        assert lrs[-1] == tuple(g["lr"] for g in opt.param_groups)
    return lrs


@pytest.mark.parametrize("name", SCHEDULERS)
def test_equals_torch_exactly(name):
    torch = pytest.importorskip("torch")
    assert _schedule(cgrad, SCHEDULERS[name]) == _schedule(torch, SCHEDULERS[name])


def _closed_form(name, base, epoch):
    if name == "StepLR":
        return base * 0.5 ** (epoch // 3)
    if name == "MultiStepLR":
        return base * 0.3 ** sum(m <= epoch for m in [2, 5, 5, 9])
    if name == "ExponentialLR":
        return base * 0.9 ** epoch
    if name == "CosineAnnealingLR":
        return 0.01 + (base - 0.01) * (1 + math.cos(math.pi * epoch / 7)) / 2
    if name == "CosineAnnealingLR-no-min":
        return base * (1 + math.cos(math.pi * epoch / 10)) / 2
    if name == "LambdaLR":
        return base / (epoch + 1)
    if name == "ConstantLR":
        return base * (0.5 if epoch < 4 else 1.0)
    if name == "LinearLR":
        return base * (0.25 + 0.75 * min(epoch, 6) / 6)
    if name == "LinearLR-decay":
        return base * (1.0 - 0.9 * min(epoch, 10) / 10)
    if name == "PolynomialLR":
        return base * (1 - min(epoch, 8) / 8) ** 2
    if name == "ChainedScheduler":
        return base * (0.5 if epoch < 3 else 1.0) * 0.9 ** epoch
    if name == "CosineAnnealingWarmRestarts":
        return base * (1 + math.cos(math.pi * (epoch % 5) / 5)) / 2
    return None


CLOSED_FORMS = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                "CosineAnnealingLR-no-min", "LambdaLR", "ConstantLR", "LinearLR",
                "LinearLR-decay", "PolynomialLR", "ChainedScheduler",
                "CosineAnnealingWarmRestarts"]


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_follows_the_documented_formula(name):
    lrs = _schedule(cgrad, SCHEDULERS[name])
    for epoch, (lr0, lr1) in enumerate(lrs):
        assert lr0 == pytest.approx(_closed_form(name, 0.1, epoch), rel=1e-9, abs=1e-12)
        assert lr1 == pytest.approx(_closed_form(name, 0.5, epoch), rel=1e-9, abs=1e-12)


def test_lambda_per_group():
    lrs = _schedule(cgrad, SCHEDULERS["LambdaLR-per-group"], epochs=3)
    assert lrs == [(0.1, 0.5), (0.05, 1.0), (0.025, 1.5), (0.0125, 2.0)]


def test_step_with_epoch_uses_closed_form():
    opt = _optimizer(cgrad)
    sched = S.StepLR(opt, step_size=2, gamma=0.1)
    opt.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(5)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.01, 0.5 * 0.01])


PLATEAU = [1.0, 0.9, 0.95, 0.96, 0.97, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.5, 0.6, 0.7, 0.8]
PLATEAU_CASES = [
    dict(patience=2, cooldown=1, factor=0.5),
    dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs", min_lr=[0.02, 0.3]),
    dict(patience=0, factor=0.1, min_lr=0.001, eps=1e-3),
]


@pytest.mark.parametrize("kw", PLATEAU_CASES)
def test_reduce_on_plateau_equals_torch(kw):
    torch = pytest.importorskip("torch")
    make = lambda m, o: m.ReduceLROnPlateau(o, **kw)          # noqa: E731
    assert _schedule(cgrad, make, len(PLATEAU), PLATEAU) == \
        _schedule(torch, make, len(PLATEAU), PLATEAU)


def test_reduce_on_plateau_rule():
    opt = _optimizer(cgrad)
    sched = S.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for metric in [1.0, 1.0, 1.0]:                  # best, then 2 bad epochs: patience kept
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == 0.1
    sched.step(cgrad.tensor(1.0))                   # a 3rd bad epoch: reduce
    assert sched.get_last_lr() == [0.05, 0.25]
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown!"):
        S.ReduceLROnPlateau(opt, mode="foo")


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dict_round_trip_through_save(name):
    """Resume a schedule from a checkpoint: the same lrs as never stopping."""
    make = SCHEDULERS[name]
    whole = _schedule(cgrad, make, epochs=12)
    opt = _optimizer(cgrad)
    sched = make(S, opt)
    for _ in range(5):
        opt.step()
        sched.step()
    buf = io.BytesIO()
    cgrad.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, buf)
    buf.seek(0)
    state = cgrad.load(buf)
    opt2 = _optimizer(cgrad)
    sched2 = make(S, opt2)
    opt2.load_state_dict(state["optim"])
    sched2.load_state_dict(state["sched"])
    lrs = [tuple(sched2.get_last_lr())]
    for _ in range(7):
        opt2.step()
        sched2.step()
        lrs.append(tuple(sched2.get_last_lr()))
    assert lrs == whole[5:]


def test_state_dict_contents():
    opt = _optimizer(cgrad)
    sched = S.MultiStepLR(opt, [3, 6])
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 0 and sd["base_lrs"] == [0.1, 0.5]
    lam = S.LambdaLR(opt, lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]


def test_reduce_on_plateau_state_dict():
    opt = _optimizer(cgrad)
    sched = S.ReduceLROnPlateau(opt, patience=1)
    sched.step(1.0)
    sched.step(2.0)
    sched2 = S.ReduceLROnPlateau(_optimizer(cgrad), patience=1)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.best == 1.0 and sched2.num_bad_epochs == 1


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer(cgrad)
    sched = S.StepLR(opt, 1)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before "
                                         "`optimizer.step\\(\\)`"):
        sched.step()
    opt = _optimizer(cgrad)
    sched = S.StepLR(opt, 1)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_scheduler_errors():
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        S.StepLR(3, 1)
    opt = _optimizer(cgrad)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
        S.StepLR(opt, 1, last_epoch=4)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(opt, [lambda e: 1])


def test_get_lr_outside_step_warns():
    sched = S.ExponentialLR(_optimizer(cgrad), 0.5)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_scheduler_drives_training_lr():
    p = cgrad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = cgrad.tensor([1.0])
        opt.step()
        sched.step()
    assert p.item() == pytest.approx(1 - (1 + 0.5 + 0.25))


def _momenta(lib, opt_name, make, steps):
    """(lr, momentum or beta1) of each group after each of `steps` steps."""
    params = [{"params": [lib.zeros(2, requires_grad=True)]},
              {"params": [lib.zeros(1, requires_grad=True)], "lr": 0.5}]
    if opt_name == "SGD":
        opt, key = lib.optim.SGD(params, lr=0.1, momentum=0.9), "momentum"
    else:
        opt, key = lib.optim.Adam(params, lr=0.1, betas=(0.9, 0.99)), "betas"
    sched = make(lib.optim.lr_scheduler, opt)
    out = []
    for _ in range(steps):
        out.append([(g["lr"], g[key]) for g in opt.param_groups])
        opt.step()
        sched.step()
    return out


MOMENTUM_CASES = {
    "CyclicLR": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=2,
                                        base_momentum=[0.7, 0.75], max_momentum=0.95),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                  mode="exp_range", gamma=0.9),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=20),
    "OneCycleLR-three-phase-linear": lambda m, o: m.OneCycleLR(
        o, max_lr=[1.0, 0.3], total_steps=20, three_phase=True, anneal_strategy="linear"),
}


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", MOMENTUM_CASES)
def test_cycle_momentum_equals_torch(name, opt_name):
    """CyclicLR and OneCycleLR cycle SGD's momentum or Adam's beta1 opposite to the lr."""
    torch = pytest.importorskip("torch")
    ours = _momenta(cgrad, opt_name, MOMENTUM_CASES[name], 20)
    assert ours == _momenta(torch, opt_name, MOMENTUM_CASES[name], 20)
    first = ours[0][0][1]
    assert (first[0] if opt_name == "Adam" else first) == pytest.approx(
        0.9 if name.startswith("CyclicLR-") else 0.95)
    if opt_name == "Adam":
        assert all(m[1] == 0.99 for step in ours for _, m in step)     # beta2 untouched


def test_cycle_momentum_off_leaves_momentum():
    torch = pytest.importorskip("torch")
    make = lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10,  # noqa: E731
                                     cycle_momentum=False)
    ours = _momenta(cgrad, "SGD", make, 10)
    assert ours == _momenta(torch, "SGD", make, 10)
    assert {m for step in ours for _, m in step} == {0.9}


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_equal_torch(T_mult):
    """step(epoch + i / iters) inside the batch loop, as PyTorch's docs show."""
    torch = pytest.importorskip("torch")

    def run(lib):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult,
                                                                   eta_min=0.001)
        lrs = []
        for epoch in range(12):
            for i in range(5):
                opt.step()
                sched.step(epoch + i / 5)
                lrs.append((sched.last_epoch, sched.T_i, tuple(sched.get_last_lr())))
        sched.step(3.5)         # going back: closed form again
        return lrs + [(sched.last_epoch, sched.T_i, tuple(sched.get_last_lr()))]

    ours = run(cgrad)
    assert ours == run(torch)
    assert ours[0][2] == (0.1, 0.5)                  # epoch 0: the initial lrs
    assert ours[5][2] == pytest.approx((0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi / 2)) / 2,
                                        0.001 + (0.5 - 0.001) * (1 + math.cos(math.pi / 2)) / 2))


@pytest.mark.parametrize("name", ["ConstantLR", "LinearLR", "PolynomialLR", "MultiplicativeLR"])
def test_step_with_epoch_equals_torch(name):
    """step(epoch): the closed form where PyTorch has one, else get_lr() at that epoch."""
    torch = pytest.importorskip("torch")

    def run(lib):
        opt = _optimizer(lib)
        sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in [1, 2, 5, 3, 9, 4]:
                opt.step()
                sched.step(epoch)
                out.append(tuple(sched.get_last_lr()))
        return out

    assert run(cgrad) == run(torch)


def test_sequential_and_chained_state_dicts_hold_each_scheduler():
    opt = _optimizer(cgrad)
    seq = SCHEDULERS["SequentialLR"](S, opt)
    sd = seq.state_dict()
    assert sd["_milestones"] == [5] and len(sd["_schedulers"]) == 2
    assert sd["_schedulers"][0]["start_factor"] == 0.1 and sd["_schedulers"][1]["T_max"] == 12
    chained = SCHEDULERS["ChainedScheduler"](S, _optimizer(cgrad))
    assert [s["last_epoch"] for s in chained.state_dict()["_schedulers"]] == [0, 0]


class _Halving:
    """A callable object: CyclicLR saves its __dict__ (a function it would drop)."""

    def __init__(self):
        self.base = 2.0

    def __call__(self, x):
        return 1 / self.base ** (x - 1)


def test_cyclic_state_dict_keeps_callable_objects():
    fn = _Halving()
    sched = S.CyclicLR(_optimizer(cgrad), 0.01, 0.1, scale_fn=fn)
    sd = sched.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 2.0} and "_scale_fn_ref" not in sd
    fn.base = 5.0
    sched.load_state_dict(sd)
    assert fn.base == 2.0
    lam = S.CyclicLR(_optimizer(cgrad), 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert lam.state_dict()["_scale_fn_custom"] is None
    tri = S.CyclicLR(_optimizer(cgrad), 0.01, 0.1, mode="exp_range", gamma=0.5)
    tri.load_state_dict(tri.state_dict())
    assert tri.scale_fn(3) == 0.125 and tri.scale_mode == "iterations"


def test_new_schedulers_warn_like_the_others():
    opt = _optimizer(cgrad)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        S.LinearLR(_optimizer(cgrad)).get_lr()


def test_one_cycle_runs_out_of_steps():
    opt = _optimizer(cgrad)
    sched = S.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=2)
    for _ in range(3):
        opt.step()
        sched.step()
    assert sched.get_last_lr() == pytest.approx([1.0 / 25 / 1e4] * 2)   # step total_steps - 1
    sched.step()                # one more is allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 5 times. The specified number of total "
                                         "steps is 4"):
        sched.step()


def test_new_scheduler_errors():
    opt = _optimizer(cgrad)
    cases = [
        (lambda: S.OneCycleLR(opt, max_lr=1.0), ValueError,
         r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
        (lambda: S.OneCycleLR(opt, 1.0, total_steps=0), ValueError,
         "Expected positive integer total_steps, but got 0"),
        (lambda: S.OneCycleLR(opt, 1.0, epochs=2, steps_per_epoch=1.5), ValueError,
         "Expected positive integer steps_per_epoch, but got 1.5"),
        (lambda: S.OneCycleLR(opt, 1.0, 10, pct_start=1), ValueError,
         "Expected float between 0 and 1 pct_start, but got 1"),
        (lambda: S.OneCycleLR(opt, 1.0, 10, anneal_strategy="exp"), ValueError,
         "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
        (lambda: S.OneCycleLR(opt, [1.0], 10), ValueError,
         "max_lr must have the same length as optimizer.param_groups. max_lr has 1 values, "
         "param_groups has 2."),
        (lambda: S.CyclicLR(cgrad.optim.Adagrad([cgrad.zeros(1, requires_grad=True)]), 0.1, 1),
         ValueError, "optimizer must support momentum or beta1 with `cycle_momentum`"),
        (lambda: S.CyclicLR(opt, 0.1, 1.0, mode="square"), ValueError,
         "mode is invalid and scale_fn is None"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError,
         "Expected positive integer T_0, but got 0"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5), ValueError,
         "Expected integer T_mult >= 1, but got 1.5"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 2).step(-1), ValueError,
         "Expected non-negative epoch, but got -1"),
        (lambda: S.ConstantLR(opt, factor=2), ValueError,
         "Constant multiplicative factor expected to be between 0 and 1."),
        (lambda: S.LinearLR(opt, start_factor=0), ValueError,
         "Starting multiplicative factor expected to be greater than 0"),
        (lambda: S.LinearLR(opt, end_factor=1.5), ValueError,
         "Ending multiplicative factor expected to be between 0 and 1."),
        (lambda: S.MultiplicativeLR(opt, 0.9), TypeError,
         "lr_lambda should be a function, but got float"),
        (lambda: S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[]),
         ValueError, "Sequential Schedulers expects number of schedulers provided to be one more "
                     "than the number of milestone points, but got number of schedulers 2 and "
                     "the number of milestones to be equal to 0"),
        (lambda: S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[]), ValueError,
         "SequentialLR does not support `ReduceLROnPlateau` scheduler"),
        (lambda: S.SequentialLR(opt, [S.StepLR(_optimizer(cgrad), 2)], milestones=[]),
         ValueError, "SequentialLR expects all schedulers to belong to the same optimizer, but "
                     "got scheduler StepLR at index 0"),
        (lambda: S.ChainedScheduler([]), ValueError,
         "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler."),
        (lambda: S.ChainedScheduler([3], optimizer=opt), TypeError,
         "ChainedScheduler at index 0 should have `optimizer` as its attribute."),
    ]
    for make, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            make()


def test_one_cycle_trains_with_adam():
    """A training loop: the lr OneCycleLR sets is the one Adam's update uses."""
    p = cgrad.tensor([1.0], requires_grad=True)
    opt = optim.Adam([p], lr=1.0)
    sched = S.OneCycleLR(opt, max_lr=0.4, total_steps=5, pct_start=0.4)
    lrs, values = [], [p.item()]
    for _ in range(3):
        p.grad = cgrad.tensor([1.0])
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        values.append(p.item())
    assert lrs[0] == pytest.approx(0.4 / 25) and lrs[1] == pytest.approx(0.4)
    # Adam's first step moves by ~lr whatever the gradient's size
    assert values[0] - values[1] == pytest.approx(lrs[0], abs=1e-6)     # float32 parameter



RESUMABLE = {     # built with last_epoch=k on an optimizer that ran k steps of the same schedule
    "OneCycleLR": lambda m, o, k: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=30,
                                               last_epoch=k),
    "CyclicLR": lambda m, o, k: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.3], step_size_up=4,
                                           step_size_down=3, last_epoch=k),
    "LinearLR": lambda m, o, k: m.LinearLR(o, start_factor=0.25, total_iters=6, last_epoch=k),
    "PolynomialLR": lambda m, o, k: m.PolynomialLR(o, total_iters=8, power=2.0, last_epoch=k),
    "CosineAnnealingWarmRestarts-mult": lambda m, o, k: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001, last_epoch=k),
    "MultiplicativeLR": lambda m, o, k: m.MultiplicativeLR(o, lambda e: 0.95, last_epoch=k),
}


@pytest.mark.parametrize("name", RESUMABLE)
def test_resume_with_last_epoch_equals_torch(name):
    """A scheduler rebuilt with last_epoch continues as PyTorch's does."""
    torch = pytest.importorskip("torch")

    def run(lib):
        opt = _optimizer(lib)
        sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
        for _ in range(6):
            opt.step()
            sched.step()
        sched = RESUMABLE[name](lib.optim.lr_scheduler, opt, sched.last_epoch)
        lrs = [tuple(sched.get_last_lr())]
        for _ in range(8):
            opt.step()
            sched.step()
            lrs.append(tuple(sched.get_last_lr()))
        return lrs

    assert run(cgrad) == run(torch)
