"""The hooks on every module (nn.modules.module.register_module_*_hook): the same calls, in
the same order, with the same arguments as PyTorch's, on both backends."""
import subprocess
import sys
import textwrap
import warnings

import pytest

import cgrad

torch = pytest.importorskip("torch")


def _log_of_a_step(L):
    log = []
    M = L.nn.modules.module
    net = L.nn.Sequential(L.nn.Linear(2, 3), L.nn.ReLU(), L.nn.Linear(3, 1))
    with L.no_grad():
        for p in net.parameters():
            p.fill_(0.5)
    handles = [
        M.register_module_forward_pre_hook(lambda m, a: log.append(("pre", type(m).__name__))),
        M.register_module_forward_hook(
            lambda m, a, o: log.append(("fwd", type(m).__name__, tuple(o.shape)))),
        M.register_module_forward_hook(
            lambda m, a, k, o: log.append(("fwd kwargs", type(m).__name__, sorted(k))),
            with_kwargs=True),
        M.register_module_full_backward_pre_hook(
            lambda m, go: log.append(("bwd pre", type(m).__name__, [tuple(g.shape) for g in go]))),
        M.register_module_full_backward_hook(
            lambda m, gi, go: log.append(("bwd", type(m).__name__,
                                          [None if g is None else tuple(g.shape) for g in gi])))]
    net[0].register_forward_hook(lambda m, a, o: log.append(("own", type(m).__name__)))
    x = L.ones(4, 2, requires_grad=True)
    net(x).sum().backward()
    for handle in handles:
        handle.remove()
    net(x)
    log.append(("after remove", len(log)))
    doubling = M.register_module_forward_hook(lambda m, a, o: o * 2)
    log.append(("replaced", net[0](L.ones(1, 2)).tolist()))
    doubling.remove()

    class Failing(L.nn.Module):
        def forward(self, x):
            raise ValueError("forward fails")
    always = M.register_module_forward_hook(lambda m, a, o: log.append(("always", o)),
                                            always_call=True)
    with pytest.raises(ValueError):
        Failing()(x)
    always.remove()
    return log


def _log_of_registrations(L):
    log = []
    M = L.nn.modules.module
    handles = [
        M.register_module_parameter_registration_hook(
            lambda m, n, p: log.append(("param", n, tuple(p.shape)))),
        M.register_module_buffer_registration_hook(lambda m, n, b: log.append(("buffer", n))),
        M.register_module_module_registration_hook(
            lambda m, n, s: log.append(("module", n, type(s).__name__)))]
    net = L.nn.Sequential(L.nn.Linear(1, 2), L.nn.BatchNorm1d(2))
    net.extra = L.nn.Tanh()
    for handle in handles:
        handle.remove()
    plus_one = M.register_module_buffer_registration_hook(
        lambda m, n, b: b + 1 if n == "running_mean" else None)
    log.append(("replaced", L.nn.BatchNorm1d(2).running_mean.tolist()))
    plus_one.remove()
    return log


@pytest.mark.parametrize("logged", [_log_of_a_step, _log_of_registrations])
def test_global_hooks_match_torch(backend, logged):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert logged(cgrad) == logged(torch)


def test_global_hooks_cost_nothing_once_removed(backend):
    handle = cgrad.nn.modules.module.register_module_forward_hook(lambda m, a, o: None)
    handle.remove()
    assert not cgrad.nn.module._global_forward_hooks     # __call__ takes the plain path again


def test_global_non_full_backward_hooks_match_torch():
    """register_module_backward_hook, and the refusal to mix kinds: in fresh processes, since
    the kind a process chose first stays (in PyTorch too)"""
    script = textwrap.dedent("""
        import sys, warnings
        warnings.simplefilter("ignore")
        import {lib} as L
        log = []
        M = L.nn.modules.module
        net = L.nn.Sequential(L.nn.Linear(2, 3), L.nn.ReLU(), L.nn.Linear(3, 1))
        hook = M.register_module_backward_hook(
            lambda m, gi, go: log.append((type(m).__name__, len(gi), len(go))))
        net(L.ones(4, 2, requires_grad=True)).sum().backward()
        hook.remove()
        try:
            M.register_module_full_backward_hook(lambda *a: None)
        except RuntimeError as e:
            log.append(str(e))
        print(log)
    """)
    out = [subprocess.run([sys.executable, "-c", script.format(lib=lib)], capture_output=True,
                          text=True, timeout=120, check=True).stdout for lib in ("cgrad", "torch")]
    assert out[0] == out[1] and "Cannot use both" in out[0]
