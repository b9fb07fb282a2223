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
        "huber_loss_weighted": lambda: F.huber_loss(r(3), lib.randn(3), weight=lib.rand(3)),
        "pdist": lambda: lib.pdist(r(3, 2), p=1),
        "cdist": lambda: lib.cdist(r(2, 3), r(4, 3)),
        "cdist_batched_broadcast": lambda: lib.cdist(r(2, 2, 3), lib.randn(4, 3), p=3),
        "dist": lambda: lib.dist(lib.randn(3), r(3)),
        "bilinear": lambda: F.bilinear(r(2, 3), r(2, 4), r(5, 3, 4), r(5)),
        "bilinear_3d_no_bias": lambda: F.bilinear(r(2, 2, 3), r(2, 2, 4), r(5, 3, 4)),
        "triplet_margin_loss_swap": lambda: F.triplet_margin_loss(r(2, 3), r(2, 3), r(2, 3),
                                                                  swap=True),
        "triplet_margin_with_distance_loss": lambda: F.triplet_margin_with_distance_loss(
            r(2, 3), r(2, 3), r(2, 3)),
        "rrelu_training": lambda: F.rrelu(r(3), training=True),
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
        "prelu_one_weight": lambda: F.prelu(r(3, 2), r(1)),
        "prelu_per_channel": lambda: F.prelu(r(3, 2, 4), r(2)),
        "prelu_input_constant": lambda: F.prelu(lib.randn(3, 2, 4), r(2)),
        "prelu_weight_constant": lambda: F.prelu(r(3, 2, 4), lib.randn(2)),
        "prelu_1d": lambda: F.prelu(r(5), r(1)),
        "prelu_0d_weight": lambda: F.prelu(r(5), lib.randn((), requires_grad=True)),
        "prelu_0d": lambda: F.prelu(lib.randn((), requires_grad=True),
                                    lib.randn((), requires_grad=True)),
        "prelu_0d_input": lambda: F.prelu(lib.randn((), requires_grad=True), r(1)),
        "prelu_module": lambda: lib.nn.PReLU(2)(r(3, 2)),
        "pairwise_distance": lambda: F.pairwise_distance(r(2, 3), lib.randn(2, 3)),
        "pairwise_distance_both": lambda: F.pairwise_distance(r(2, 3), r(3), p=1, keepdim=True),
        # compositions recorded as PyTorch's one node
        "baddbmm": lambda: lib.baddbmm(r(2, 3, 5), r(2, 3, 4), r(2, 4, 5)),
        "addbmm": lambda: lib.addbmm(r(3, 5), r(2, 3, 4), r(2, 4, 5)),
        "addmv": lambda: lib.addmv(r(3), r(3, 4), r(4)),
        "addr": lambda: lib.addr(r(3, 2), r(3), r(2)),
        "addcmul": lambda: lib.addcmul(r(3), r(3), r(3), value=0.5),
        "addcdiv_input_constant": lambda: lib.addcdiv(lib.randn(3), r(3), lib.rand(3) + 1),
        "lerp_number": lambda: lib.lerp(r(3), r(3), 0.7),
        "lerp_tensor": lambda: lib.lerp(r(3), r(3), lib.rand(3, requires_grad=True)),
        "glu": lambda: F.glu(r(2, 4)),
        "roll_flat": lambda: r(3, 2).roll(1),
        "roll_dims": lambda: r(3, 2).roll((1, 1), (0, 1)),
        "tile": lambda: r(2, 3).tile(2),
        "normalize": lambda: F.normalize(r(2, 3)),
        "bce_with_logits_pos_weight": lambda: F.binary_cross_entropy_with_logits(
            r(3), lib.rand(3), pos_weight=lib.rand(3)),
        "embedding_bag": lambda: F.embedding_bag(lib.tensor([1, 2, 3]), r(5, 2),
                                                 lib.tensor([0, 2])),
        "margin_ranking_loss": lambda: F.margin_ranking_loss(r(3), r(3),
                                                             lib.tensor([1., -1., 1.])),
        "number_over_tensor": lambda: 1 / (r(3) + 2),
        "reshape_copy": lambda: r(2, 3).t().reshape(6),
        "masked_fill_tensor": lambda: r(3).masked_fill(lib.tensor([True, False, True]),
                                                       lib.tensor(2., requires_grad=True)),
        "unsafe_chunk": lambda: r(4, 2).unsafe_chunk(2)[1],
        "unsafe_split_sizes": lambda: r(5).unsafe_split_with_sizes([2, 3])[0],
        "unsafe_split": lambda: r(5).unsafe_split(2)[2],
        "chunk": lambda: r(4, 2).chunk(2)[1],
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
    assert seen == [1]                  # (the composition's gradient: see below)
    for got, want in [(x.grad, tx.grad), (conv.weight.grad, ref.weight.grad),
                      (conv.bias.grad, ref.bias.grad)]:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def _hooked_layers(lib, case):
    """the gradients of a layer whose node's post hook doubles the gradients it is handed
    (nn.Module.register_backward_hook rides on that node), and of each of its inputs"""
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    arrays = {"conv2d": [(2, 3, 5, 5), (4, 3, 3, 3), (4,)],
              "batch_norm": [(4, 3, 2), (3,), (3,)], "layer_norm": [(3, 4), (4,), (4,)],
              "group_norm": [(2, 4, 3), (4,), (4,)],
              "max_pool2d": [(1, 2, 4, 4)], "interpolate": [(1, 2, 3)], "pad": [(2, 3)],
              "prelu": [(2, 3, 4), (3,)], "smooth_l1_loss": [(3, 4), (3, 4)]}[case]
    inputs = [lib.tensor(rng.standard_normal(shape), requires_grad=True) for shape in arrays]
    layer = {"conv2d": lambda x, w, b: F.conv2d(x, w, b, padding=1),
             "batch_norm": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             "layer_norm": lambda x, w, b: F.layer_norm(x, (4,), w, b),
             "group_norm": lambda x, w, b: F.group_norm(x, 2, w, b),
             "max_pool2d": lambda x: F.max_pool2d(x, 2),
             "interpolate": lambda x: F.interpolate(x, scale_factor=2, mode="linear"),
             "pad": lambda x: F.pad(x, (1, 2)), "prelu": F.prelu,
             "smooth_l1_loss": lambda x, y: F.smooth_l1_loss(x, y, reduction="none")}[case]
    out = layer(*inputs)
    out.grad_fn.register_hook(
        lambda grad_inputs, grad_outputs: tuple(None if g is None else g * 2
                                                for g in grad_inputs))
    (out * out).sum().backward()
    return [t.grad.numpy() for t in inputs]


@pytest.mark.parametrize("case", ["conv2d", "batch_norm", "layer_norm", "group_norm",
                                  "max_pool2d", "interpolate", "pad", "prelu",
                                  "smooth_l1_loss"])
def test_post_hooks_on_a_layers_node_change_its_gradients(backend, case):
    """a post hook on a composed layer's node gets the gradient of the composition (the
    only gradient that node has: its edges to the inputs carry none), so what the hook
    returns reaches every input, as PyTorch's fused node's hook does"""
    for got, want in zip(_hooked_layers(cgrad, case), _hooked_layers(torch, case)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _linear_and_class_losses(lib):
    F = lib.nn.functional

    def r(*shape):
        return lib.randn(*shape, requires_grad=True)

    cases = {
        "linear_2d": lambda: F.linear(r(2, 4), r(3, 4), r(3)),
        "linear_2d_no_bias": lambda: F.linear(r(2, 4), r(3, 4)),
        "linear_1d": lambda: F.linear(r(4), r(3, 4), r(3)),
        "linear_1d_no_bias": lambda: F.linear(r(4), r(3, 4)),
        "linear_3d": lambda: F.linear(r(5, 2, 4), r(3, 4), r(3)),
        "linear_3d_no_bias": lambda: F.linear(r(5, 2, 4), r(3, 4)),
        "linear_input_constant": lambda: F.linear(lib.randn(2, 4), r(3, 4), r(3)),
        "linear_3d_input_constant": lambda: F.linear(lib.randn(5, 2, 4), r(3, 4), r(3)),
        "linear_weight_constant": lambda: F.linear(r(2, 4), lib.randn(3, 4), r(3)),
        "linear_2d_broadcast_bias": lambda: F.linear(r(2, 4), r(3, 4), r(1, 3)),
        "linear_2d_0d_bias": lambda: F.linear(r(2, 4), r(3, 4), lib.randn((), requires_grad=True)),
        "mlp_loss": lambda: F.mse_loss(lib.nn.Linear(3, 2)(lib.relu(lib.nn.Linear(4, 3)(
            lib.randn(5, 4)))), lib.randn(5, 2)),
    }
    for reduction in ("mean", "sum", "none"):
        cases[f"l1_loss_{reduction}"] = lambda red=reduction: F.l1_loss(r(3), lib.randn(3),
                                                                        reduction=red)
        cases[f"l1_loss_both_{reduction}"] = lambda red=reduction: F.l1_loss(r(3), r(3),
                                                                             reduction=red)
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 2, 2), (2, 3, 2, 2, 2)]:
        def target(shape=shape):
            return lib.tensor(1) if len(shape) == 1 else lib.randint(0, 3, (shape[0],
                                                                           *shape[2:]))
        for reduction in ("mean", "none"):
            cases[f"cross_entropy_{len(shape)}d_{reduction}"] = \
                lambda s=shape, red=reduction, t=target: F.cross_entropy(r(*s), t(),
                                                                         reduction=red)
            cases[f"nll_loss_{len(shape)}d_{reduction}"] = \
                lambda s=shape, red=reduction, t=target: F.nll_loss(r(*s), t(), reduction=red)
    return cases


@pytest.mark.parametrize("loss", ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4))])
def test_broadcast_losses_expand_only_the_smaller_operand(backend, loss, shapes):
    """a pointwise loss broadcasts as PyTorch's broadcast_tensors: an operand of the common
    shape is itself (its edge goes to it), only the other one is expanded"""
    graphs = []
    for lib in (cgrad, torch):
        x, y = (lib.ones(shape, requires_grad=True) for shape in shapes)
        with pytest.warns(UserWarning, match="target size"):
            out = getattr(lib.nn.functional, loss)(x, y)
        graphs.append(_graph(out, 4))
        a, b = lib.broadcast_tensors(x, y)
        graphs.append((a is x, b is y))
    assert graphs[:2] == graphs[2:]


@pytest.mark.parametrize("case", sorted(_linear_and_class_losses(cgrad)))
def test_fused_ops_show_pytorchs_graph(backend, case):
    """F.linear (one kernel here) shows PyTorch's addmm / mm with the weight's TBackward0 and
    the views of an input that is not 2-D; cross_entropy shows its LogSoftmaxBackward0, and
    both class losses PyTorch's node and result shape for every input rank; l1_loss its
    abs of a difference"""
    cgrad.manual_seed(0)
    torch.manual_seed(0)
    got = _linear_and_class_losses(cgrad)[case]()
    want = _linear_and_class_losses(torch)[case]()
    assert _graph(got, 4) == _graph(want, 4)
    assert tuple(got.shape) == tuple(want.shape)


def test_shown_nodes_walk_as_pytorchs_and_refuse_hooks(backend):
    w = cgrad.randn(3, 4, requires_grad=True)
    y = cgrad.nn.functional.linear(cgrad.randn(2, 4), w, cgrad.randn(3, requires_grad=True))
    t = y.grad_fn.next_functions[2][0]
    assert t is y.grad_fn.next_functions[2][0]            # one node, however often walked
    assert type(t).__name__ == "TBackward0" and t.name() == "TBackward0"
    assert repr(t).startswith("<TBackward0 object at 0x")
    assert isinstance(t, cgrad.autograd.graph.Node)
    assert t.next_functions[0][0].variable is w
    t.metadata["seen"] = True
    assert t.metadata == {"seen": True}
    for register in (t.register_hook, t.register_prehook):
        with pytest.raises(RuntimeError, match="TBackward0 is not a node cgrad runs"):
            register(lambda *args: None)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 2, 2)])
def test_class_losses_given_their_own_shape_keep_their_gradients(backend, shape):
    """reduction="none" of a 1-D or 4-D input comes out of the loss's node in its final
    shape, as PyTorch's: the gradient of a weighted sum of it is PyTorch's"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, 3, (shape[0], *shape[2:])) if len(shape) > 1 else np.array(1)
    grads = []
    for lib in (cgrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        for loss in (lib.nn.functional.cross_entropy, lib.nn.functional.nll_loss):
            out = loss(xt, lib.tensor(t), reduction="none")
            (out * lib.arange(out.numel(), dtype=lib.float32).reshape(out.shape)).sum().backward()
        grads.append(xt.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((4,), (4, 3)), ((0, 4), (4,)),
                                    ((3, 0), (0,))])
def test_matrix_vector_products_as_pytorch(backend, shapes):
    """a 2-D @ 1-D product is PyTorch's MvBackward0 (1-D @ 2-D: its in-place squeeze of an
    mm): the graph, the values and the gradients of both operands, in float32 and float64,
    with a transposed matrix"""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal(shapes[0][::-1]).astype(dtype).T     # (non-contiguous)
        b = rng.standard_normal(shapes[1]).astype(dtype)
        results = []
        for lib in (cgrad, torch):
            x = lib.tensor(a, requires_grad=True)
            y = lib.tensor(b, requires_grad=True)
            out = x @ y
            (out * lib.arange(out.numel(), dtype=out.dtype)).sum().backward()
            results.append((_graph(out, 2), out.detach().numpy(), x.grad.numpy(),
                            y.grad.numpy()))
        assert results[0][0] == results[1][0]
        for got, want in zip(results[0][1:], results[1][1:]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", [((3,), (3, 4)), ((3,), (2, 3, 4)), ((3, 4), (4,))])
def test_vector_products_are_new_tensors_not_views(backend, shapes):
    """1-D @ N-D squeezes its mm's result in place and 2-D @ 1-D is mv, as in PyTorch: the
    product is no view (an in-place op on one made in no_grad mode records), at PyTorch's
    version (but 1-D @ 3-D: PyTorch's reshapes a bmm's result instead, at version 0)"""
    results = []
    for lib in (cgrad, torch):
        a, b = (lib.ones(shape) for shape in shapes)
        with lib.no_grad():
            out = a @ b
        version = out._version if b.ndim < 3 else None
        w = lib.ones(out.shape, requires_grad=True)
        out.mul_(w).sum().backward()
        results.append((out._base is None, version, w.grad.tolist()))
    assert results[0] == results[1]


def test_mv_differentiates_twice(backend):
    a = cgrad.randn(3, 4, dtype=cgrad.float64, requires_grad=True)
    v = cgrad.randn(4, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradgradcheck(cgrad.mv, (a, v))


@pytest.mark.parametrize("key", [(slice(1, None), slice(None, None, 2)), (1, slice(2, None)),
                                 (None, 1), (Ellipsis, 1), (slice(None), None, 0), 1,
                                 (slice(None),), (1, 2), (slice(0, 2), None, slice(1, 3)),
                                 (Ellipsis,), (-1, None, slice(None, None, -1))],
                         ids=str)
def test_basic_indexing_shows_pytorchs_chain_of_views(backend, key):
    """x[key] is one view here; its node shows the views PyTorch's indexing applies one dim
    at a time (x[1:, ::2]: two SliceBackward0), and the gradient is unchanged"""
    grads = []
    graphs = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.arange(20.0).reshape(4, 5), requires_grad=True)
        try:
            y = x[key]
        except (IndexError, ValueError) as e:          # (a negative step: both refuse)
            graphs.append(type(e).__name__)
            continue
        graphs.append(_graph(y, 5))
        (y * y).sum().backward()
        grads.append(x.grad.numpy())
    assert graphs[0] == graphs[1]
    for got in grads[1:]:
        np.testing.assert_array_equal(grads[0], got)



def _written(lib, write):
    """x (a non-leaf) after write(x, a leaf that requires grad)"""
    x = lib.randn(3, 2, requires_grad=True) * 1
    write(x, lib.randn(2, requires_grad=True))
    return x


_WRITES = {
    "setitem_number": lambda x, v: x.__setitem__(0, 5.0),
    "setitem_tensor": lambda x, v: x.__setitem__(0, v),
    "setitem_all_number": lambda x, v: x.__setitem__(slice(None), 5.0),
    "setitem_all_tensor": lambda x, v: x.__setitem__(slice(None), v * x.new_ones(3, 1)),
    "setitem_index_number": lambda x, v: x.__setitem__(x.new_tensor([0, 2]).long(), 5.0),
    "setitem_index_tensor": lambda x, v: x.__setitem__(x.new_tensor([0, 2]).long(), v),
    "view_mul_number": lambda x, v: x[1:].mul_(2),
    "view_add_tensor": lambda x, v: x[0].add_(v),
    "view_relu": lambda x, v: x[:, 0].relu_(),
    "view_copy": lambda x, v: x[1].copy_(v),
    "view_addcmul": lambda x, v: x[2].addcmul_(v, v),
    "addcdiv_in_place": lambda x, v: x.addcdiv_(v, v.exp()),
    "copy_whole": lambda x, v: x.copy_(v),
}


@pytest.mark.parametrize("write", sorted(_WRITES))
def test_writes_show_pytorchs_nodes(backend, write):
    """x[key] = v and in-place ops on a view of x: x's node as PyTorch's (CopySlices holding
    the view's op: edges to x before and to that op's other inputs; None for a number)"""
    cgrad.manual_seed(0)
    torch.manual_seed(0)
    got, want = (_written(lib, _WRITES[write]) for lib in (cgrad, torch))
    assert _graph(got, 2) == _graph(want, 2)
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    assert repr(got).split("grad_fn=")[1] == repr(want).split("grad_fn=")[1]



@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "RNNCell"])
def test_recurrent_cells_show_pytorchs_graph(backend, cell):
    """the cells' gates are PyTorch's unsafe chunks (UnsafeSplitBackward0), to depth 5"""
    graphs = []
    for lib in (cgrad, torch):
        lib.manual_seed(0)
        out = getattr(lib.nn, cell)(3, 2)(lib.randn(4, 3))
        graphs.append([_graph(o, 5) for o in (out if isinstance(out, tuple) else (out,))])
    assert graphs[0] == graphs[1]


def _in_place(lib, body):
    """body(a, y, m) on a = x * 1 (x, y (3, 4), m (4, 4): leaves that require grad); returns
    a, its version, and the leaves' gradients of (a ** 2).sum() (a zero gradient where the
    op writes over a's old values)"""
    rng = np.random.default_rng(0)
    x, y = (lib.tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True) for _ in range(2))
    m = lib.tensor(rng.uniform(0.5, 1.5, (4, 4)), requires_grad=True)
    a = x * 1
    body(lib, a, y, m)
    a.pow(2).sum().backward()
    grads = [None if t.grad is None else np.round(t.grad.numpy(), 6).tolist() for t in (x, y, m)]
    return _graph(a, 3), a._version, grads


_IN_PLACE = {      # in-place ops that cgrad computes out of place, or draws
    "lerp_number": lambda lib, a, y, m: a.lerp_(y, 0.3),
    "lerp_tensor": lambda lib, a, y, m: a.lerp_(y, y * 0.5),
    "addmm_": lambda lib, a, y, m: a.addmm_(y, m, beta=0.5),
    "addmv_": lambda lib, a, y, m: a[0].addmv_(m, y[1]),
    "addr_": lambda lib, a, y, m: a.addr_(y[:, 0], m[0]),
    "baddbmm_": lambda lib, a, y, m: a.unsqueeze(0).baddbmm_(y.unsqueeze(0), m.unsqueeze(0)),
    "addbmm_": lambda lib, a, y, m: a.addbmm_(y.unsqueeze(0), m.unsqueeze(0)),
    "renorm_": lambda lib, a, y, m: a.renorm_(2, 0, 1.0),
    "put_": lambda lib, a, y, m: a.put_(lib.tensor([0, 5]), y[0, :2]),
    "put_accumulate": lambda lib, a, y, m: a.put_(lib.tensor([0, 5]), y[0, :2], True),
    "index_copy_": lambda lib, a, y, m: a.index_copy_(0, lib.tensor([0, 2]), y[:2]),
    "uniform_": lambda lib, a, y, m: a.uniform_(),
    "normal_": lambda lib, a, y, m: a.normal_(),
    "view_normal_": lambda lib, a, y, m: a[1:].normal_(),
    "bernoulli_number": lambda lib, a, y, m: a.bernoulli_(0.5),
    "bernoulli_tensor": lambda lib, a, y, m: a.bernoulli_(y.detach() / 2),
    "bernoulli_tensor_grad": lambda lib, a, y, m: a.bernoulli_(y / 2),
    "random_": lambda lib, a, y, m: a.random_(),
    "random_to": lambda lib, a, y, m: a.random_(5),
    "random_from_to": lambda lib, a, y, m: a.random_(2, 5),
    "exponential_": lambda lib, a, y, m: a.exponential_(),
    "geometric_": lambda lib, a, y, m: a.geometric_(0.5),
    "log_normal_": lambda lib, a, y, m: a.log_normal_(),
    "cauchy_": lambda lib, a, y, m: a.cauchy_(),
}


@pytest.mark.parametrize("case", sorted(_IN_PLACE))
def test_in_place_ops_show_pytorchs_node(backend, case):
    """x.addmm_(...) and the like print PyTorch's node of the in-place op (not a copy's
    CopyBackwards) with its edges; random fills on a tensor in a graph are recorded (a zero
    gradient for the old values, and for bernoulli_'s p), not refused as on a leaf"""
    got, want = (_in_place(lib, _IN_PLACE[case]) for lib in (cgrad, torch))
    assert got[:2] == want[:2]
    if case.startswith(("lerp", "add", "baddbmm", "renorm", "put", "index_copy")):
        assert got[2] == want[2]
    else:                                        # the draws differ; the zeros do not
        assert [g is None for g in got[2]] == [g is None for g in want[2]]
        assert got[2][0] == want[2][0] and got[2][2:] == want[2][2:]


@pytest.mark.parametrize("fill", ["uniform_", "normal_", "bernoulli_", "random_",
                                  "exponential_"])
def test_random_fills_refuse_a_leaf_and_run_without_grad(backend, fill):
    x = cgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(x, fill)()
    with cgrad.no_grad():
        getattr(x, fill)()
    assert x.grad_fn is None and x._version == 1


@pytest.mark.parametrize("case", ["renorm", "put", "put_accumulate", "index_copy"])
def test_composed_ops_show_pytorchs_node(backend, case):
    calls = {"renorm": lambda lib, a, y: a.renorm(2, 0, 1.0),
             "put": lambda lib, a, y: a.put(lib.tensor([0, 5]), y[0, :2]),
             "put_accumulate": lambda lib, a, y: a.put(lib.tensor([0, 5]), y[0, :2], True),
             "index_copy": lambda lib, a, y: a.index_copy(0, lib.tensor([0, 2]), y[:2])}
    got, want = (_in_place(lib, lambda lib, a, y, m: a.copy_(calls[case](lib, a * 1, y)))
                 for lib in (cgrad, torch))
    assert got == want
    out = [calls[case](lib, lib.ones(3, 4, requires_grad=True) * 1,
                       lib.ones(3, 4, requires_grad=True)) for lib in (cgrad, torch)]
    assert _graph(out[0], 3) == _graph(out[1], 3)


@pytest.mark.parametrize("q,dim", [(0.5, 1), (0.3, None), ("vector", None), ("vector", 0)])
def test_quantile_result_is_no_view(backend, q, dim):
    """PyTorch's quantile ends in place (lerp_, unsqueeze_, transpose_, squeeze_): its result
    is no view of anything, at PyTorch's version, with PyTorch's graph"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[1., 5., 2.], [3., 0., 4.]], requires_grad=True)
        qq = lib.tensor([0.25, 0.5]) if q == "vector" else q
        r = lib.quantile(x, qq, dim=dim)
        out.append((r._base is None, r._version, _graph(r, 4), r.tolist()))
    assert out[0] == out[1]
    assert out[0][0]


_MORE_GRAPHS = {
    "clamp_min_tensor": lambda lib, x, y: x.clamp(min=y),
    "clamp_max_tensor": lambda lib, x, y: x.clamp(max=y),
    "div_floor_number": lambda lib, x, y: x.div(2, rounding_mode="floor"),
    "number_div_trunc": lambda lib, x, y: lib.div(2, x, rounding_mode="trunc"),
    "cosine_embedding": lambda lib, x, y: lib.nn.functional.cosine_embedding_loss(
        x, y, lib.tensor([1., -1., 1.]), margin=0.1),
    "rrelu_training_in_place": lambda lib, x, y: lib.nn.functional.rrelu_(x * 1, training=True),
    "rrelu_training": lambda lib, x, y: lib.nn.functional.rrelu(x - 1, training=True),
    "sum_dtype": lambda lib, x, y: x.sum(dtype=lib.float64),
    "sum_dim_dtype": lambda lib, x, y: x.sum(1, dtype=lib.float64),
    "take": lambda lib, x, y: x.take(lib.tensor([0, 5, 5])),
    "take_transposed": lambda lib, x, y: x.t().take(lib.tensor([0, 5, -1])),
    "masked_select": lambda lib, x, y: x.masked_select(x > 1),
    "masked_select_broadcast": lambda lib, x, y: x[0].masked_select(y > 1),
    "kl_div": lambda lib, x, y: lib.nn.functional.kl_div(x.log_softmax(1), y.softmax(1),
                                                          reduction="batchmean"),
    "aminmax_min": lambda lib, x, y: x.aminmax(dim=1)[0],
    "aminmax_max": lambda lib, x, y: x.aminmax().max,
    "tensordot": lambda lib, x, y: lib.tensordot(x, y, dims=([1], [1])),
}


@pytest.mark.parametrize("key", ["t4x3x1", "cols", "permuted", "rows_step", "contiguous",
                                 "copy", "expanded", "flatten"])
def test_reshape_names_its_view_as_pytorch(backend, key):
    """reshape of a non-contiguous tensor that a view can hold is PyTorch's _reshape_alias
    (ReshapeAliasBackward0); of a contiguous one a ViewBackward0; else a copy"""
    calls = {"t4x3x1": lambda x: x.t().reshape(4, 3, 1),
             "cols": lambda x: x[:, :2].reshape(3, 2, 1),
             "permuted": lambda x: x.permute(1, 0).reshape(2, 2, 3),
             "rows_step": lambda x: x[::2].reshape(2, 2, 2),
             "contiguous": lambda x: x.reshape(12),
             "copy": lambda x: x[:, :2].reshape(6),
             "expanded": lambda x: x.expand(2, 3, 4).reshape(6, 4),
             "flatten": lambda x: x.t().flatten()}
    got, want = (calls[key](lib.ones(3, 4, requires_grad=True)) for lib in (cgrad, torch))
    assert (got.grad_fn.name(), got._base is None) == (want.grad_fn.name(), want._base is None)
    got.sum().backward()


@pytest.mark.parametrize("case", sorted(_MORE_GRAPHS))
def test_more_graphs_as_pytorchs(backend, case):
    """a missing clamp bound or a number operand keeps PyTorch's None edge; the losses and
    rrelu_ in training show the nodes PyTorch's C++ records (SubBackward1 for x - a number,
    RreluWithNoiseBackward1 in place)"""
    graphs = []
    for lib in (cgrad, torch):
        rng = np.random.default_rng(1)
        x, y = (lib.tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True) for _ in range(2))
        out = _MORE_GRAPHS[case](lib, x, y)
        graphs.append(_graph(out, 5))
        out.sum().backward()
    assert graphs[0] == graphs[1]
