"""Optimizer hooks as torch.optim's: step pre/post hooks (per optimizer and global), state-dict
and load-state-dict hooks, their handles and order, and the profiler ranges of step and
zero_grad; the same program run on cgrad and on torch gives the same calls and values."""
import copy
import importlib

import numpy as np
import pytest

import cgrad
import cgrad.optim.optimizer

torch = pytest.importorskip("torch")
import torch.optim.optimizer  # noqa: E402  (after the skip)


def _setup(lib, kind="SGD"):
    w = lib.tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    opt = getattr(lib.optim, kind)([w], lr=0.1)
    return w, opt


def _loss(lib, w):
    return (w * w).sum()


def _hooked_run(lib):
    """Every hook kind registered, a few steps taken; the log of calls and the final values"""
    log = []
    w, opt = _setup(lib)
    M = importlib.import_module(lib.__name__ + ".optim.optimizer")
    handles = [
        M.register_optimizer_step_pre_hook(
            lambda o, a, k: log.append(("global pre", type(o).__name__, len(a), a[0] is o,
                                        sorted(k)))),
        M.register_optimizer_step_post_hook(lambda o, a, k: log.append(("global post",))),
        opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", sorted(k)))),
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", sorted(k)))),
    ]

    def closure():
        opt.zero_grad()
        loss = _loss(lib, w)
        loss.backward()
        return loss
    try:
        losses = [opt.step(closure).item() for _ in range(2)]
        opt.step(closure=closure)
        # a pre hook may replace the arguments
        handles.append(opt.register_step_pre_hook(lambda o, a, k: ((a[0],), {"closure": closure})))
        losses.append(opt.step().item())
        handles.pop().remove()
        handles[2].remove()
        with opt.register_step_post_hook(lambda o, a, k: log.append(("scoped",))):
            opt.step(closure)
        opt.step(closure)
    finally:
        for h in handles[:2]:
            h.remove()
    opt.step(closure)
    return log, losses, w.detach().numpy().copy()


def test_step_hooks_as_torch(backend):
    c_log, c_losses, c_w = _hooked_run(cgrad)
    t_log, t_losses, t_w = _hooked_run(torch)
    assert c_log == t_log
    np.testing.assert_allclose(c_losses, t_losses, rtol=1e-6)
    np.testing.assert_allclose(c_w, t_w, rtol=1e-6)
    assert not cgrad.optim.optimizer._global_optimizer_pre_hooks


def test_step_pre_hook_bad_result():
    for lib in (cgrad, torch):
        w, opt = _setup(lib)
        w.grad = lib.ones(3)
        opt.register_step_pre_hook(lambda o, a, k: 5)
        with pytest.raises(RuntimeError, match=r"must return None or a tuple of "
                                               r"\(new_args, new_kwargs\), but got 5\."):
            opt.step()
    assert cgrad.optim.SGD.step.hooked


def test_own_step_is_hooked_once():
    class Halve(cgrad.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.data.mul_(0.5)

    w = cgrad.ones(2, requires_grad=True)
    opts = [Halve([w]), Halve([w])]
    calls = []
    opts[1].register_step_post_hook(lambda o, a, k: calls.append(o))
    for o in opts:
        o.step()
    assert calls == [opts[1]] and w.tolist() == [0.25, 0.25]
    assert Halve.step.__wrapped__.__qualname__.endswith("Halve.step")
    assert not hasattr(Halve.step.__wrapped__, "hooked")       # wrapped once


def _state_dict_run(lib):
    log = []
    w, opt = _setup(lib, "Adam")
    w.grad = lib.ones(3)
    opt.step()
    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre"))
    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre first"), prepend=True)

    def post(o, sd):
        log.append("sd post")
        sd["extra"] = 1
        return sd
    opt.register_state_dict_post_hook(post)
    sd = opt.state_dict()
    assert sd["extra"] == 1

    w2, opt2 = _setup(lib, "Adam")

    def load_pre(o, sd):
        log.append(("load pre", sorted(sd)))
        sd = dict(sd)
        sd["param_groups"] = [dict(g, lr=0.25) for g in sd["param_groups"]]
        return sd
    opt2.register_load_state_dict_pre_hook(load_pre)
    opt2.register_load_state_dict_post_hook(lambda o: log.append(("load post",
                                                                   o.param_groups[0]["lr"])))
    opt2.load_state_dict(sd)
    return log, opt.param_groups[0]["lr"], opt2.param_groups[0]["lr"]


def test_state_dict_hooks_as_torch():
    assert _state_dict_run(cgrad) == _state_dict_run(torch)


def test_copies_keep_working():
    for lib in (cgrad, torch):
        w, opt = _setup(lib)
        calls = []
        opt.register_step_pre_hook(lambda o, a, k: calls.append(1))
        clone = copy.deepcopy(opt)
        clone.param_groups[0]["params"][0].grad = lib.ones(3)
        clone.step()
        clone.register_step_post_hook(lambda o, a, k: calls.append(2))
        clone.step()
        if lib is cgrad:
            cgrad_calls = calls
    assert cgrad_calls == calls


def test_profiler_ranges_as_torch(backend):
    def keys(lib):
        w, opt = _setup(lib, "Adam")
        with lib.profiler.profile() as prof:
            opt.zero_grad()
            _loss(lib, w).backward()
            opt.step()
        return {e.key for e in prof.key_averages()}
    wanted = {"Optimizer.step#Adam.step", "Optimizer.zero_grad#Adam.zero_grad"}
    assert wanted <= keys(cgrad) and wanted <= keys(torch)
