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
    return None


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if n != "LambdaLR-per-group"])
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
