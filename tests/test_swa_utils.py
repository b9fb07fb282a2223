"""optim.swa_utils (AveragedModel, SWALR, update_bn, the SWA / EMA averaging functions)
against torch's: the same training run gives the same averaged weights, BatchNorm statistics
and learning rates, on both backends."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _model(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU(),
                             lib.nn.Linear(8, 2))


def _same_start(models, rng):
    with torch.no_grad(), cgrad.no_grad():
        for pc, pt in zip(models[cgrad].parameters(), models[torch].parameters()):
            a = (rng.standard_normal(tuple(pt.shape)) * 0.5).astype(np.float32)
            pc.copy_(cgrad.tensor(a))
            pt.copy_(torch.tensor(a))


def _assert_close(c, t, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(c.detach().numpy(), np.float64),
                               np.asarray(t.detach().numpy(), np.float64), rtol=rtol, atol=atol)


def _batches(rng, n=6):
    return [(rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 2, 5))
            for _ in range(n)]


def _averaging(kind):
    """AveragedModel keyword arguments for kind, made with lib's own functions"""
    return {
        "swa": lambda lib: {},
        "ema": lambda lib: {"multi_avg_fn": lib.optim.swa_utils.get_ema_multi_avg_fn(0.9)},
        "ema_single": lambda lib: {"avg_fn": lib.optim.swa_utils.get_ema_avg_fn(0.8)},
        "ema_buffers": lambda lib: {"multi_avg_fn": lib.optim.swa_utils.get_ema_multi_avg_fn(0.9),
                                    "use_buffers": True},
        "swa_multi": lambda lib: {"multi_avg_fn": lib.optim.swa_utils.get_swa_multi_avg_fn()},
    }[kind]


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_single", "ema_buffers", "swa_multi"])
def test_swa_training_run_equals_torch(kind, backend):
    """PyTorch's SWA recipe: train, switch to SWALR, average each epoch, update_bn, evaluate"""
    rng = np.random.default_rng(0)
    models = {lib: _model(lib) for lib in (cgrad, torch)}
    _same_start(models, rng)
    data = _batches(rng)
    results = {}
    for lib, model in models.items():
        swa_model = lib.optim.swa_utils.AveragedModel(model, **_averaging(kind)(lib))
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
        swa_sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
        lrs = []
        for epoch in range(7):
            for x, y in data:
                opt.zero_grad()
                lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y)).backward()
                opt.step()
            if epoch >= 3:
                swa_model.update_parameters(model)
                swa_sched.step()
            else:
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        loader = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
        lib.optim.swa_utils.update_bn(loader, swa_model)
        swa_model.eval()
        results[lib] = (swa_model, swa_model(lib.tensor(data[0][0])), lrs)
    (c_model, c_out, c_lrs), (t_model, t_out, t_lrs) = results[cgrad], results[torch]
    np.testing.assert_allclose(c_lrs, t_lrs, rtol=1e-12)
    assert int(c_model.n_averaged) == int(t_model.n_averaged) == 4
    assert list(c_model.state_dict()) == list(t_model.state_dict())
    for (name, c), t in zip(c_model.state_dict().items(), t_model.state_dict().values()):
        _assert_close(c, t, rtol=1e-4, atol=1e-5)
    _assert_close(c_out, t_out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 3])
def test_swalr_learning_rates_equal_torch(strategy, anneal_epochs):
    lrs = {}
    for lib in (cgrad, torch):
        p = lib.nn.Parameter(lib.zeros(2))
        opt = lib.optim.SGD([{"params": [p]}, {"params": [lib.nn.Parameter(lib.zeros(1))],
                                                 "lr": 0.3}], lr=1.0)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=[0.1, 0.2], anneal_epochs=anneal_epochs,
                                          anneal_strategy=strategy)
        seen = []
        for _ in range(6):
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr())
        state = sched.state_dict()
        assert "anneal_func" not in state and "optimizer" not in state
        lrs[lib] = seen
    np.testing.assert_allclose(lrs[cgrad], lrs[torch], rtol=1e-12)


def test_errors_equal_torch():
    for make in (
            lambda lib: lib.optim.swa_utils.SWALR(
                lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=1), 0.1,
                anneal_strategy="step"),
            lambda lib: lib.optim.swa_utils.SWALR(
                lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=1), 0.1, anneal_epochs=-1),
            lambda lib: lib.optim.swa_utils.get_ema_avg_fn(1.5),
            lambda lib: lib.optim.swa_utils.AveragedModel(
                lib.nn.Linear(1, 1), avg_fn=lambda *a: a[0], multi_avg_fn=lambda *a: None)):
        with pytest.raises(Exception) as t_err:
            make(torch)
        with pytest.raises(type(t_err.value)) as c_err:
            make(cgrad)
        assert str(c_err.value) == str(t_err.value)


def test_swalr_state_dict_round_trip():
    p = cgrad.nn.Parameter(cgrad.zeros(1))
    opt = cgrad.optim.SGD([p], lr=1.0)
    sched = cgrad.optim.swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=4,
                                        anneal_strategy="linear")
    opt.step()
    sched.step()
    other = cgrad.optim.swa_utils.SWALR(cgrad.optim.SGD([p], lr=1.0), swa_lr=0.5)
    other.load_state_dict(sched.state_dict())
    assert other.anneal_func is other._linear_anneal and other.anneal_epochs == 4


def test_update_bn_without_batchnorm_changes_nothing():
    model = cgrad.nn.Linear(2, 2).train(False)
    cgrad.optim.swa_utils.update_bn([cgrad.ones(3, 2)], model)
    assert not model.training
