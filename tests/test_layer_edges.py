"""A layer composed of several ops prints PyTorch's graph: its output's node (the fused node
PyTorch records) lists the layer's inputs as next_functions, in PyTorch's order, with None
for an input that is absent or does not require grad, rather than the composition's last op.
Checked against torch; the gradients themselves are tested with each layer."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _cases(lib):
    F = lib.nn.functional

    def r(*shape):
        return lib.randn(*shape, requires_grad=True)

    def indices(n):
        pool = F.max_pool2d if n == 2 else F.max_pool3d
        return pool(lib.randn(1, 2, *(4,) * n), 2, return_indices=True)[1]

    return {
        "conv2d": lambda: F.conv2d(r(1, 2, 5, 5), r(3, 2, 3, 3), r(3)),
        "conv2d_no_bias": lambda: F.conv2d(r(1, 2, 5, 5), r(3, 2, 3, 3)),
        "conv2d_input_constant": lambda: F.conv2d(lib.randn(1, 2, 5, 5), r(3, 2, 3, 3), r(3)),
        "conv2d_weight_constant": lambda: F.conv2d(r(1, 2, 5, 5), lib.randn(3, 2, 3, 3), r(3)),
        "conv2d_unbatched": lambda: F.conv2d(r(2, 5, 5), r(3, 2, 3, 3), r(3)),
        "conv1d": lambda: F.conv1d(r(1, 2, 5), r(3, 2, 3), r(3)),
        "conv3d": lambda: F.conv3d(r(1, 2, 4, 4, 4), r(3, 2, 3, 3, 3), r(3)),
        "conv_transpose2d": lambda: F.conv_transpose2d(r(1, 2, 5, 5), r(2, 3, 3, 3), r(3)),
        "conv_tbc": lambda: lib.conv_tbc(r(5, 1, 2), r(3, 2, 3), r(3)),
        "batch_norm_train": lambda: F.batch_norm(r(3, 2, 4), lib.zeros(2), lib.ones(2), r(2),
                                                 r(2), training=True),
        "batch_norm_eval": lambda: F.batch_norm(r(3, 2, 4), lib.zeros(2), lib.ones(2), r(2),
                                                r(2), training=False),
        "batch_norm_no_affine": lambda: F.batch_norm(r(3, 2, 4), None, None, training=True),
        "layer_norm": lambda: F.layer_norm(r(3, 4), (4,), r(4), r(4)),
        "layer_norm_no_affine": lambda: F.layer_norm(r(3, 4), (4,)),
        "group_norm": lambda: F.group_norm(r(3, 4, 2), 2, r(4), r(4)),
        "group_norm_no_affine": lambda: F.group_norm(r(3, 4, 2), 2),
        "instance_norm": lambda: F.instance_norm(r(1, 2, 4, 4), weight=r(2), bias=r(2)),
        "pad": lambda: F.pad(r(2, 3), (1, 1)),
        "unfold": lambda: F.unfold(r(1, 2, 4, 4), 2),
        "max_pool2d": lambda: F.max_pool2d(r(1, 2, 4, 4), 2),
        "max_pool3d": lambda: F.max_pool3d(r(1, 2, 4, 4, 4), 2),
        "avg_pool2d": lambda: F.avg_pool2d(r(1, 2, 4, 4), 2),
        "avg_pool3d": lambda: F.avg_pool3d(r(1, 2, 4, 4, 4), 2),
        "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(r(1, 2, 4, 4), 2),
        "adaptive_avg_pool3d": lambda: F.adaptive_avg_pool3d(r(1, 2, 4, 4, 4), 2),
        "adaptive_max_pool2d": lambda: F.adaptive_max_pool2d(r(1, 2, 4, 4), 2),
        "adaptive_max_pool3d": lambda: F.adaptive_max_pool3d(r(1, 2, 4, 4, 4), 2),
        "max_unpool2d": lambda: F.max_unpool2d(r(1, 2, 2, 2), indices(2), 2),
        "max_unpool3d": lambda: F.max_unpool3d(r(1, 2, 2, 2, 2), indices(3), 2),
        "fractional_max_pool2d": lambda: F.fractional_max_pool2d(r(1, 2, 8, 8), 2,
                                                                 output_size=4),
        "fractional_max_pool3d": lambda: F.fractional_max_pool3d(r(1, 2, 8, 8, 8), 2,
                                                                 output_size=4),
        "pixel_shuffle": lambda: F.pixel_shuffle(r(1, 4, 2, 2), 2),
        "pixel_unshuffle": lambda: F.pixel_unshuffle(r(1, 1, 4, 4), 2),
        "smooth_l1_loss": lambda: F.smooth_l1_loss(r(3), lib.randn(3)),
        "smooth_l1_loss_both": lambda: F.smooth_l1_loss(r(3), r(3), reduction="none"),
        "huber_loss": lambda: F.huber_loss(r(3), lib.randn(3)),
        "soft_margin_loss": lambda: F.soft_margin_loss(r(3), lib.randn(3).sign()),
        "multi_margin_loss": lambda: F.multi_margin_loss(r(2, 3), lib.tensor([0, 2])),
        "multilabel_margin_loss": lambda: F.multilabel_margin_loss(
            r(2, 3), lib.tensor([[0, -1, 1], [2, -1, 0]])),
        "upsample_nearest2d": lambda: F.interpolate(r(1, 2, 4, 4), scale_factor=2),
        "upsample_nearest_exact1d": lambda: F.interpolate(r(1, 2, 4), scale_factor=2,
                                                          mode="nearest-exact"),
        "upsample_linear1d": lambda: F.interpolate(r(1, 2, 4), scale_factor=2, mode="linear"),
        "upsample_bilinear2d": lambda: F.interpolate(r(1, 2, 4, 4), scale_factor=2,
                                                     mode="bilinear"),
        "upsample_trilinear3d": lambda: F.interpolate(r(1, 2, 4, 4, 4), scale_factor=2,
                                                      mode="trilinear"),
        "permute_copy": lambda: lib.permute_copy(r(4, 3), (1, 0)),
        "unbind_copy": lambda: lib.unbind_copy(r(2, 3))[1],
        "conv2d_module_after_relu": lambda: lib.nn.Conv2d(2, 3, 3)(lib.relu(r(1, 2, 5, 5))),
    }


def _graph(out, depth=2):
    """(name, next_functions' graphs) down to depth (None for a missing edge)"""
    fn = out.grad_fn if hasattr(out, "grad_fn") else out
    if fn is None:
        return None
    if depth == 0:
        return fn.name()
    return fn.name(), tuple(_graph(f, depth - 1) for f, _ in fn.next_functions)


@pytest.mark.parametrize("case", sorted(_cases(cgrad)))
def test_composed_layers_show_pytorchs_edges(backend, case):
    cgrad.manual_seed(0)
    torch.manual_seed(0)
    assert _graph(_cases(cgrad)[case]()) == _graph(_cases(torch)[case]())


def test_layer_edges_carry_no_gradient_of_their_own(backend):
    """the shown edges lead to the inputs the composition reaches anyway: gradients are
    counted once, and a node hook on the layer's node still runs"""
    cgrad.manual_seed(0)
    x = cgrad.randn(1, 2, 5, 5, requires_grad=True)
    conv = cgrad.nn.Conv2d(2, 3, 3)
    ref = torch.nn.Conv2d(2, 3, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(conv.weight.detach().numpy()))
        ref.bias.copy_(torch.from_numpy(conv.bias.detach().numpy()))
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_()
    seen = []
    out = conv(x)
    out.grad_fn.register_hook(lambda grad_inputs, grad_outputs: seen.append(len(grad_inputs)))
    (out * out).sum().backward()
    (ref(tx) ** 2).sum().backward()
    assert seen == [3]
    for got, want in [(x.grad, tx.grad), (conv.weight.grad, ref.weight.grad),
                      (conv.bias.grad, ref.bias.grad)]:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
