"""The composed layers (conv, batch_norm, the pools, layer_norm, group_norm) beyond the first
derivative, as PyTorch's fused layers: which leaves a second backward reaches (values, zeros
or nothing: x.grad None), the in-place changes their backward refuses (an input PyTorch's
layer saves, not a bias), and a jvp differentiated again (where PyTorch's own forward-AD
formulas for the norms are not, cgrad matches finite differences)."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

_LAYERS = {
    "conv": lambda F, x, w, s, b: F.conv2d(x, w, b),
    "conv_transpose": lambda F, x, w, s, b: F.conv_transpose2d(x, w, b),
    "batch_norm_eval": lambda F, x, w, s, b: F.batch_norm(
        x, s.detach() * 0, s.detach().abs() + 1, s, b, training=False),
    "batch_norm_train": lambda F, x, w, s, b: F.batch_norm(x, None, None, s, b, training=True),
    "layer_norm": lambda F, x, w, s, b: F.layer_norm(x, (4,), s[:1].expand(4) * 1, None),
    "group_norm": lambda F, x, w, s, b: F.group_norm(x, 3, s, b),
    "avg_pool": lambda F, x, w, s, b: F.avg_pool2d(x, 2),
    "max_pool": lambda F, x, w, s, b: F.max_pool2d(x, 2),
    "adaptive_avg_pool": lambda F, x, w, s, b: F.adaptive_avg_pool2d(x, 3),
}


def _second_backward(lib, layer, which):
    """y = layer(x, ...); the gradient of (y * sin(y)).sum() in x, in the weight (w or s) or
    in the bias (which: 0, 1, 2) recorded, then backpropagated alone: each leaf's .grad as
    None, "zeros" or "values" (None where the gradient needs no graph)"""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    w = lib.tensor(rng.standard_normal((3, 3, 2, 2)), requires_grad=True)
    s, b = (lib.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(2))
    y = _LAYERS[layer](lib.nn.functional, x, w, s, b)
    params = [x, w if layer.startswith("conv") else s, b]
    grads = lib.autograd.grad((y * y.detach().sin()).sum(), params, create_graph=True,
                              allow_unused=True)
    g = grads[which]
    if g is None or not g.requires_grad:
        return None
    ((g * 1.5) ** 2).sum().backward()
    return tuple(None if p.grad is None else "zeros" if not p.grad.abs().sum().item()
                 else "values" for p in params)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["input", "weight", "bias"])
@pytest.mark.parametrize("layer", sorted(_LAYERS))
def test_second_backward_reaches_the_leaves_pytorch_reaches(backend, layer, which):
    """conv's and batch_norm's gradients are linear in the input they are taken for: a second
    backward leaves that input's .grad None (zeros before: the pools' formulas give zeros)"""
    assert _second_backward(cgrad, layer, which) == _second_backward(torch, layer, which)


_CHANGED = {"conv_weight": ("conv", 1), "conv_input": ("conv", 0), "conv_bias": ("conv", 2),
            "batch_norm_input": ("batch_norm", 0), "batch_norm_weight": ("batch_norm", 1),
            "batch_norm_bias": ("batch_norm", 2), "max_pool": ("max_pool", 0),
            "avg_pool": ("avg_pool", 0), "adaptive_max_pool": ("adaptive_max_pool", 0)}


def _backward_after_change(lib, layer, which):
    """forward, then an in-place change of one input under no_grad, then backward: None if it
    ran, else the RuntimeError's message start"""
    F = lib.nn.functional
    x = lib.randn(2, 2, 4, 4, requires_grad=True)
    w = lib.randn(3, 2, 2, 2, requires_grad=True)
    s, b = lib.randn(2, requires_grad=True), lib.randn(3, requires_grad=True)
    h = x * 1
    calls = {"conv": lambda: F.conv2d(h, w, b), "max_pool": lambda: F.max_pool2d(h, 2),
             "batch_norm": lambda: F.batch_norm(h, None, None, s, b[:2], training=True),
             "avg_pool": lambda: F.avg_pool2d(h, 2),
             "adaptive_max_pool": lambda: F.adaptive_max_pool2d(h, 2)}
    y = calls[layer]().sum()
    with lib.no_grad():
        [h, w if layer == "conv" else s, b][which].add_(1)
    try:
        y.backward()
    except RuntimeError as error:
        return str(error)
    return None


@pytest.mark.parametrize("case", sorted(_CHANGED))
def test_in_place_change_of_a_saved_input_raises(backend, case):
    """an input PyTorch's layer saves (input, weight), changed in place after the forward,
    makes the backward raise; a bias (not saved) may change"""
    got, want = (_backward_after_change(lib, *_CHANGED[case]) for lib in (cgrad, torch))
    assert (got is None) == (want is None)
    if want is not None:
        assert got.startswith("one of the variables needed for gradient computation has been")


@pytest.mark.parametrize("layer", ["layer_norm", "batch_norm", "instance_norm", "group_norm"])
def test_jvp_differentiated_again_matches_finite_differences(backend, layer):
    """d/dx of a function of jvp(norm, x, t): by the recorded graphs of the recorded
    gradients, it matches central differences (PyTorch's forward-AD formulas for its native
    layer_norm and batch_norm are not differentiable again: its numbers differ there)"""
    F = cgrad.nn.functional
    norms = {"layer_norm": lambda x: F.layer_norm(x, (3,)),
             "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
             "instance_norm": lambda x: F.instance_norm(x.reshape(1, 4, 3)).reshape(4, 3),
             "group_norm": lambda x: F.group_norm(x.reshape(2, 2, 3), 2).reshape(4, 3)}
    norm = norms[layer]
    rng = np.random.default_rng(0)
    x0, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    weight = cgrad.tensor(t.sum(1, keepdims=True))

    def h(x):                                    # the jvp, by central differences, then h
        e = 1e-5
        jt = (norm(cgrad.tensor(x + e * t)) - norm(cgrad.tensor(x - e * t))) / (2 * e)
        return ((jt * weight) ** 2).sum().item()
    want = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = 1e-4
        want[i] = (h(x0 + d) - h(x0 - d)) / 2e-4
    x = cgrad.tensor(x0, requires_grad=True)
    _, tangent = cgrad.func.jvp(norm, (x,), (cgrad.tensor(t),))
    ((tangent * weight) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-4, atol=1e-3)
