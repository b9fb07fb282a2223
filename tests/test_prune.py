"""nn.utils.prune against torch.nn.utils.prune: the same masks, parameter and buffer names,
state dicts, hooks, forward values and gradients after pruning, on both backends."""
import numpy as np
import pytest

import cgrad
from cgrad.nn.utils import prune

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as torch_prune  # noqa: E402  (after the skip)
from test_nn_layers import _raises_like_torch  # noqa: E402

PRUNE = {cgrad: prune, torch: torch_prune}


def _net(lib, rng):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                            lib.nn.Linear(4 * 4 * 4, 6), lib.nn.ReLU(), lib.nn.Linear(6, 3))
    return net


def _twins(rng):
    nets = {lib: _net(lib, rng) for lib in (cgrad, torch)}
    with cgrad.no_grad(), torch.no_grad():
        for pc, pt in zip(nets[cgrad].parameters(), nets[torch].parameters()):
            a = (rng.standard_normal(tuple(pt.shape)) * 0.5).astype(np.float32)
            pc.copy_(cgrad.tensor(a))
            pt.copy_(torch.tensor(a))
    return nets


def _same_state(nets):
    c, t = nets[cgrad].state_dict(), nets[torch].state_dict()
    assert list(c) == list(t)
    for k in t:
        np.testing.assert_allclose(c[k].numpy(), t[k].numpy(), rtol=1e-5, atol=1e-5, err_msg=k)
    names = {lib: ([n for n, _ in net.named_parameters()], [n for n, _ in net.named_buffers()])
             for lib, net in nets.items()}
    assert names[cgrad] == names[torch]


def _same_forward_backward(nets, rng):
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    outs = {}
    for lib, net in nets.items():
        net.zero_grad()
        out = net(lib.tensor(x))
        out.pow(2).sum().backward()
        outs[lib] = (out, [p.grad for p in net.parameters()])
    # float32 rounding relative to the outputs' scale (up to ~20 after the SGD step, where an
    # output near 0.1 comes out of cancellation; the libraries' BLAS differ by CPU)
    out_t = outs[torch][0].detach().numpy()
    np.testing.assert_allclose(outs[cgrad][0].detach().numpy(), out_t, rtol=1e-5,
                               atol=1e-5 * max(1.0, float(np.abs(out_t).max())))
    for gc, gt in zip(outs[cgrad][1], outs[torch][1]):
        # float32 rounding, relative to the gradient's scale: after the SGD step it reaches
        # 1e4 and an element of 1e2 may be off by 1e-2 in either library (vs float64: ~1e-6
        # of the scale for cgrad, ~1e-7 for torch, whose sums take other orders)
        np.testing.assert_allclose(gc.numpy(), gt.numpy(), rtol=1e-4,
                                   atol=1e-4 * max(1.0, float(np.abs(gt.numpy()).max())))


PRUNINGS = [
    lambda p, net: p.l1_unstructured(net[0], "weight", amount=0.3),
    lambda p, net: p.l1_unstructured(net[3], "bias", amount=2),
    lambda p, net: p.ln_structured(net[0], "weight", amount=0.5, n=2, dim=0),
    lambda p, net: p.ln_structured(net[3], "weight", amount=2, n=1, dim=1),
    lambda p, net: p.ln_structured(net[3], "weight", amount=0.5, n=float("inf"), dim=-1),
    lambda p, net: p.identity(net[5], "weight"),
    lambda p, net: p.custom_from_mask(net[5], "bias", mask=net[5].bias.detach() > 0),
    # pruning the same tensor again: a PruningContainer narrows the mask
    lambda p, net: (p.l1_unstructured(net[3], "weight", amount=0.2),
                    p.ln_structured(net[3], "weight", amount=1, n=2, dim=0),
                    p.l1_unstructured(net[3], "weight", amount=5)),
    lambda p, net: p.global_unstructured([(net[0], "weight"), (net[3], "weight"),
                                          (net[5], "bias")], pruning_method=p.L1Unstructured,
                                         amount=0.25),
    lambda p, net: (p.l1_unstructured(net[0], "weight", amount=0.5),
                    p.global_unstructured([(net[0], "weight"), (net[3], "weight")],
                                          pruning_method=p.L1Unstructured, amount=30)),
    lambda p, net: p.l1_unstructured(net[3], "weight", amount=0.4,
                                     importance_scores=net[3].weight.detach() * -1),
]


@pytest.mark.parametrize("case", range(len(PRUNINGS)))
def test_pruning_equals_torch(case, backend):
    rng = np.random.default_rng(case)
    nets = _twins(rng)
    for lib, net in nets.items():
        PRUNINGS[case](PRUNE[lib], net)
        assert PRUNE[lib].is_pruned(net)
    _same_state(nets)
    _same_forward_backward(nets, rng)
    # one SGD step moves the _orig parameters; the pruned entries stay zero in the forward
    for lib, net in nets.items():
        lib.optim.SGD(net.parameters(), lr=0.1).step()
    _same_state(nets)
    _same_forward_backward(nets, rng)
    for lib, net in nets.items():                   # remove() makes it permanent
        for module in net.modules():
            for name in ("weight", "bias"):
                if hasattr(module, name + "_orig"):
                    PRUNE[lib].remove(module, name)
        assert not PRUNE[lib].is_pruned(net)
    _same_state(nets)
    _same_forward_backward(nets, rng)


def test_container_and_hooks_as_torch():
    rng = np.random.default_rng(0)
    nets = _twins(rng)
    seen = {}
    for lib, net in nets.items():
        p = PRUNE[lib]
        p.l1_unstructured(net[3], "weight", amount=0.2)
        p.ln_structured(net[3], "weight", amount=1, n=2, dim=0)
        hooks = [h for h in net[3]._forward_pre_hooks.values()
                 if isinstance(h, p.BasePruningMethod)]
        assert len(hooks) == 1
        seen[lib] = (type(hooks[0]).__name__, [type(m).__name__ for m in hooks[0]],
                     len(hooks[0]), hooks[0]._tensor_name)
        # prune() of the method: the tensor times its mask, without touching a module
        t = lib.tensor(np.arange(-3.0, 3.0, dtype=np.float32))
        seen[lib] += (p.L1Unstructured(amount=2).prune(t).tolist(),)
    assert seen[cgrad] == seen[torch]


def test_random_pruning_counts_and_channels(backend):
    cgrad.manual_seed(0)
    lin = cgrad.nn.Linear(10, 8)
    prune.random_unstructured(lin, "weight", amount=0.3)
    assert int((lin.weight_mask == 0).sum()) == 24
    assert cgrad.equal(lin.weight, lin.weight_orig * lin.weight_mask)
    conv = cgrad.nn.Conv2d(3, 6, 3)
    prune.random_structured(conv, "weight", amount=2, dim=0)
    kept = conv.weight_mask.sum(dim=(1, 2, 3))
    assert sorted(kept.tolist()) == [0.0] * 2 + [27.0] * 4


def test_errors_equal_torch():
    for make in (
            lambda lib, p: p.l1_unstructured(lib.nn.Linear(2, 2), "weight", amount=5),
            lambda lib, p: p.l1_unstructured(lib.nn.Linear(2, 2), "weight", amount=1.5),
            lambda lib, p: p.l1_unstructured(lib.nn.Linear(2, 2), "weight", amount=-1),
            lambda lib, p: p.l1_unstructured(lib.nn.Linear(2, 2), "weight", amount="a"),
            lambda lib, p: p.ln_structured(lib.nn.Linear(2, 2), "bias", amount=1, n=2, dim=0),
            lambda lib, p: p.ln_structured(lib.nn.Linear(2, 2), "weight", amount=1, n=2, dim=2),
            lambda lib, p: p.remove(lib.nn.Linear(2, 2), "weight"),
            lambda lib, p: p.global_unstructured([(lib.nn.Linear(2, 2), "weight")],
                                                 pruning_method=p.RandomStructured, amount=1),
            lambda lib, p: p.global_unstructured(5, pruning_method=p.L1Unstructured, amount=1)):
        _raises_like_torch(lambda: make(cgrad, prune), lambda: make(torch, torch_prune))
    names = []                          # a failed pruning leaves the parameters (re-registered)
    for lib in (cgrad, torch):
        lin = lib.nn.Linear(2, 2)
        with pytest.raises(ValueError):
            PRUNE[lib].l1_unstructured(lin, "weight", amount=5)
        names.append([n for n, _ in lin.named_parameters()] + list(lin.state_dict()))
    assert names[0] == names[1] and "weight_orig" not in names[0]
