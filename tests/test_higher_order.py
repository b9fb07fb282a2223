"""create_graph=True: gradients that are themselves differentiable (second derivatives,
Hessian-vector products, gradient penalties, a PINN's u_xx), against PyTorch."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _both(build, *arrays):
    """build(lib, *leaves) -> list of tensors, run on cgrad and torch with the same leaves"""
    out = []
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        out.append([None if r is None else np.asarray((r.detach() + 0).numpy(), np.float64)
                    for r in build(lib, *leaves)])            # (+ 0: torch's ZeroTensors)
    return out


def _assert_match(build, *arrays, rtol=1e-10):
    got, want = _both(build, *arrays)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-12)


# PyTorch's binary_cross_entropy double backward adds 1e-12 to x and 1 - x (cgrad
# differentiates the first derivative exactly): 6e-10 apart here
RTOL = {"bce": 1e-8}


RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 2.0, (3, 4))

UNARY = {
    "cube": lambda lib, x: x ** 3,
    "pow_half": lambda lib, x: x ** 0.5,
    "exp": lambda lib, x: x.exp(),
    "log": lambda lib, x: x.log(),
    "sqrt": lambda lib, x: x.sqrt(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: x.cos(),
    "relu_mul": lambda lib, x: (x - 1).relu() * x,
    "abs_mul": lambda lib, x: (x - 1).abs() * x,
    "div": lambda lib, x: x / (x + 1),
    "neg_sub": lambda lib, x: 2 - (-x) * x - x,
    "mean_dim": lambda lib, x: x.mean(1, keepdim=True) * x,
    "sum_dim": lambda lib, x: x.sum(0) * x,
    "reshape_t": lambda lib, x: (x.reshape(4, 3).t() * x).transpose(0, 1),
    "index": lambda lib, x: x[:, 1] * x[0].sum(),
    "matmul": lambda lib, x: x @ (x.t() * x.sum(1)),
    "linear": lambda lib, x: lib.nn.functional.linear(x, x[:2] * 2, x[1, :2]) ** 2,
    "softmax": lambda lib, x: x.softmax(1) * x,
    "log_softmax": lambda lib, x: x.log_softmax(0) * x,
    "cat": lambda lib, x: lib.cat([x * x, x.sin()], 1) * lib.cat([x, x], 1),
    "stack": lambda lib, x: lib.stack([x * x, x.exp()], 1).sum(1) * x,
    "where": lambda lib, x: lib.where(x > 1, x * x, x.tanh() * x),
    "masked_fill": lambda lib, x: (x * x).masked_fill(x > 1.5, 0.5) * x,
    "clamp": lambda lib, x: (x * x).clamp(0.5, 2.0) * x,
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x - 1, 0.1) * x,
    "norm2": lambda lib, x: x.norm(2, dim=1) * x.sum(1),
    "norm1": lambda lib, x: x.norm(1) * x,
    "norm3": lambda lib, x: x.norm(3, dim=0, keepdim=True) * x,
    "prod_all": lambda lib, x: x.prod() * x,
    "prod_dim": lambda lib, x: (x - 1).prod(1, keepdim=True) * x,
    "remainder": lambda lib, x: (x * x) % (x + 0.7) * x + (x * 3) % 1.3,
    "norm_inf": lambda lib, x: (x * x).norm(float("inf"), dim=1) * x.sum(1),
    "norm_minus_inf": lambda lib, x: (x - 1).norm(float("-inf")) * x,
    "softplus": lambda lib, x: lib.nn.functional.softplus(x * 3 - 4, beta=2, threshold=3) * x,
    "elu": lambda lib, x: lib.nn.functional.elu(x - 1.2, 0.7) * x,
    "logsigmoid": lambda lib, x: lib.nn.functional.logsigmoid(x - 1) * x,
    "gelu": lambda lib, x: lib.nn.functional.gelu(x - 1) * x,
    "gelu_tanh": lambda lib, x: lib.nn.functional.gelu(x - 1, approximate="tanh") * x,
    "silu": lambda lib, x: lib.nn.functional.silu(x - 1) * x,
    "erf": lambda lib, x: (x - 1).erf() * x,
    "var": lambda lib, x: x.var(1) * x.sum(1),
    "var_all": lambda lib, x: x.var() * x,
    "std": lambda lib, x: x.std(0, keepdim=True) * x,
    "std_uncorrected": lambda lib, x: x.std(1, correction=0) * x.sum(1),
    "layer_norm": lambda lib, x: (x - x.mean(-1, keepdim=True)) / (
        x.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt() * x,
    "rdiv": lambda lib, x: 3 / x + 1 / (x * x),
    "reciprocal": lambda lib, x: x.reciprocal() * x.sum(),
    "rsqrt": lambda lib, x: x.rsqrt() * x,
    "log1p": lambda lib, x: x.log1p() * x,
    "expm1": lambda lib, x: x.expm1() * x,
    "pow_tensor": lambda lib, x: x ** (x * 0.5) * x,
    "rpow": lambda lib, x: 2.5 ** x * x,
    "maximum": lambda lib, x: lib.maximum(x * x, x.exp() - 1) * x,
    "minimum": lambda lib, x: lib.minimum(x, x.t().reshape(3, 4)) * x,
    "max_all": lambda lib, x: x.max() * x,
    "max_dim": lambda lib, x: x.max(1).values * x.sum(1),
    "min_dim_keepdim": lambda lib, x: x.min(0, keepdim=True).values * x,
    "amax": lambda lib, x: x.amax((0, 1)) * x,
    "logsumexp": lambda lib, x: x.logsumexp(1) * x.sum(1),
    "cumsum": lambda lib, x: (x * x).cumsum(1) * x,
    "flip": lambda lib, x: (x * x).flip(0) * x,
    "repeat": lambda lib, x: ((x * x).repeat(2, 1) * x.repeat(2, 1)).sum(0),
    "to_dtype": lambda lib, x: (x * x).float().double() * x,
    "addmm": lambda lib, x: lib.addmm(x, x, x.t() @ x, beta=0.5, alpha=2.0) * x,
    "l1_loss": lambda lib, x: lib.nn.functional.l1_loss(x * x, x.exp() - 1) * x,
    "bce": lambda lib, x: lib.nn.functional.binary_cross_entropy(
        (x - 1).sigmoid(), (x * 0.3).sigmoid(), weight=lib.arange(4, dtype=lib.float64)) * x,
    "bce_logits": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x * x - 2, (x - 1).sigmoid(), reduction="sum",
        pos_weight=lib.tensor([1.0, 2.0, 0.5, 3.0], dtype=lib.float64)) * x,
    "soft_ce": lambda lib, x: lib.nn.functional.cross_entropy(x * x, (x * 2).softmax(1)) * x,
    "soft_ce_smooth": lambda lib, x: lib.nn.functional.cross_entropy(
        x.t() * 3, x.t().softmax(1).detach(), label_smoothing=0.2, reduction="sum") * x,
    "mse_loss": lambda lib, x: lib.nn.functional.mse_loss(x * x, x.exp()) * x,
    "mse_loss_sum": lambda lib, x: lib.nn.functional.mse_loss(x.t(), x.t() ** 3,
                                                              reduction="sum") * x,
}


@pytest.mark.parametrize("name", list(UNARY))
def test_second_derivatives_match_torch(backend, name):
    f = UNARY[name]

    def build(lib, x):
        y = f(lib, x)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        h, = lib.autograd.grad((g * g).sum(), x)      # d/dx of |grad|^2: through g's graph
        return [y, g, h]
    _assert_match(build, X, rtol=RTOL.get(name, 1e-10))


def test_hessian_vector_product(backend):
    v = RNG.standard_normal(4)

    def build(lib, w, x):
        loss = ((x @ w).tanh() ** 2).mean()
        g, = lib.autograd.grad(loss, w, create_graph=True)
        hv, = lib.autograd.grad(g, w, grad_outputs=lib.tensor(v, dtype=lib.float64))
        return [g, hv]
    _assert_match(build, RNG.standard_normal(4), RNG.standard_normal((5, 4)))


def test_pinn_u_xx_through_an_mlp(backend):
    """u(x) by Linear-Tanh-Linear; u_x and u_xx by autograd.grad, then a loss on u_xx
    trained by a plain backward into the weights"""
    w1, b1, w2, b2 = (RNG.standard_normal(s) for s in ((8, 1), (8,), (1, 8), (1,)))
    xs = np.linspace(-1, 1, 6).reshape(-1, 1)

    def build(lib, W1, B1, W2, B2):
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        u = lib.nn.functional.linear(lib.nn.functional.linear(x, W1, B1).tanh(), W2, B2)
        ones = lib.ones_like(u)
        u_x, = lib.autograd.grad(u, x, ones, create_graph=True)
        u_xx, = lib.autograd.grad(u_x, x, ones, create_graph=True)
        loss = ((u_xx + (np.pi ** 2) * u) ** 2).mean()
        loss.backward()
        return [u_x, u_xx, loss, W1.grad, B1.grad, W2.grad, B2.grad]
    _assert_match(build, w1, b1, w2, b2)


def test_gradient_penalty_with_nn_modules(backend):
    for lib in (cgrad, torch):
        lib.manual_seed(0)
    x = RNG.standard_normal((4, 3))
    results = []
    for lib in (cgrad, torch):
        net = lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.Sigmoid(), lib.nn.Linear(5, 1))
        net = net.double()
        with lib.no_grad():
            for i, p in enumerate(net.parameters()):
                p.copy_(lib.tensor(np.cos(np.arange(p.numel()) + i).reshape(p.shape)))
        xt = lib.tensor(x, requires_grad=True)
        out = net(xt)
        g, = lib.autograd.grad(out.sum(), xt, create_graph=True)
        penalty = ((g * g).sum(1) - 1) ** 2
        penalty.mean().backward()
        results.append([None if p.grad is None else p.grad.numpy().copy()
                        for p in net.parameters()] + [g.detach().numpy()])
    assert results[0][3] is None and results[1][3] is None    # the last bias: not in g
    for a, b in zip(*results):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_backward_create_graph_keeps_grad_differentiable(backend):
    """x.grad after backward(create_graph=True) has a graph; a second backward through it
    adds into .grad out of place, as in PyTorch"""
    def build(lib, x):
        (x ** 3).sum().backward(create_graph=True)
        g1 = x.grad
        assert g1.requires_grad and g1.grad_fn is not None
        first = g1.detach().clone()
        g1.sum().backward()
        return [first, x.grad]
    _assert_match(build, X)


def test_grad_outputs_with_their_own_graph(backend):
    def build(lib, x, v):
        g, = lib.autograd.grad(x.sin(), x, grad_outputs=v * 2, create_graph=True)
        return [g] + list(lib.autograd.grad(g.sum(), [x, v]))
    _assert_match(build, X, RNG.standard_normal((3, 4)))


def test_broadcast_operands_sum_back(backend):
    def build(lib, w, b, x):
        y = ((w * x + b) ** 2).mean()
        gw, gb = lib.autograd.grad(y, [w, b], create_graph=True)
        return [gw, gb] + list(lib.autograd.grad((gw * gb).sum(), [w, b, x]))
    _assert_match(build, np.array(0.7), np.array([0.1, -0.2, 0.3, 0.4]), X)


def test_clamp_with_tensor_bounds(backend):
    """each of x, lo and hi gets g where it is the result (hi where the bounds cross), and
    their second derivatives go through the ops around the clamp"""
    def build(lib, x, lo, hi):
        y = (lib.clamp(x * x, lo * lo, hi.exp()) ** 2).sum()
        g = lib.autograd.grad(y, (x, lo, hi), create_graph=True)
        s = (g[0] ** 2).sum() + (g[1] ** 3).sum() + (g[2] * hi).sum()
        return list(g) + list(lib.autograd.grad(s, (x, lo, hi)))
    _assert_match(build, np.array([-2., -0.5, 0.5, 2., 1.0, 1.2]),
                  np.array([-1., -1., 0.6, 0., 1.0, 1.3]), np.array([1., 1., 1., 0.2, 0.0, -1.]))


def test_inf_norm_shares_ties_and_nan_rows_as_torch(backend):
    """the inf norm's gradient: ties share g; a row with a NaN gives 0 (PyTorch's sign of NaN),
    a zero row 0; also the L1 norm's at a NaN"""
    x0 = np.array([[1., -3., 3., 0.5], [2., np.nan, -1., 0.], [0., 0., 0., 0.]])

    def build(lib, x):
        w = lib.tensor([1., 2., 3.], dtype=lib.float64)
        out = []
        for p in (float("inf"), float("-inf"), 1.0):
            y = x.norm(p, dim=1)
            g, = lib.autograd.grad((y * w).sum(), x, create_graph=True)
            out += [y, g, lib.autograd.grad(((g + 1) * x).sum(), x)[0]]
        return out
    got, want = _both(build, x0)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_prod_with_zero_factors_to_third_order(backend):
    """prod's recorded backward: PyTorch's result / x without zeros; with zeros, exclusive
    products from both sides, so one, two or all zeros in a row still differentiate"""
    x0 = np.array([[1.5, -2., 0.5, 3.], [0.7, 0., 1.2, -0.4], [0., 2., 0., 1.1],
                   [0., 0., 0., 0.]])

    def build(lib, x):
        out = []
        for y in (x.prod(), x.prod(1), x.prod(0, keepdim=True)):
            w = lib.arange(1, y.numel() + 1, dtype=lib.float64).reshape(tuple(y.shape))
            g, = lib.autograd.grad((y * w).sum(), x, create_graph=True)
            h, = lib.autograd.grad((g * g * x).sum(), x, create_graph=True)
            out += [y, g, h, lib.autograd.grad((h * h).sum(), x)[0]]
        return out
    _assert_match(build, x0)


def test_mixed_dtype_inputs_differentiate_through_the_promotion(backend):
    """float32 op float64: the float32 input's cast is recorded on its edge, so second
    derivatives reach both, each in its own dtype, as in PyTorch"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(X, dtype=lib.float32, requires_grad=True)
        w = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = (x * w).sum() + (x / w).sum() + (w ** x).sum() + lib.maximum(x, w * 0.9).sum()
        gx, gw = lib.autograd.grad(y, [x, w], create_graph=True)
        hx, hw = lib.autograd.grad((gx * gx).sum() + (gw ** 3).sum(), [x, w])
        out.append([gx, gw, hx, hw])
    for a, b in zip(*out):
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)


def test_a_captured_node_whose_backward_nothing_needs_is_not_run(backend):
    """grad(h * h, h) stops at h: the op under h never runs"""
    class Refuses(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("ran")
    x = cgrad.tensor(X, requires_grad=True)
    h = Refuses.apply(x)
    g, = cgrad.autograd.grad(h * h, h, create_graph=True)
    np.testing.assert_allclose(g.item(), 2 * h.item(), rtol=1e-12)


def test_first_order_results_unchanged_by_create_graph(backend):
    x = cgrad.tensor(X, requires_grad=True)
    plain, = cgrad.autograd.grad((x.tanh() * x).sum(), x)
    graph, = cgrad.autograd.grad((x.tanh() * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(graph.detach().numpy(), plain.numpy(), rtol=1e-6)
    assert graph.requires_grad and not plain.requires_grad


CE_CASES = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(weight=True),
            dict(label_smoothing=0.2), dict(weight=True, label_smoothing=0.1, reduction="none"),
            dict(ignore_index=1)]


@pytest.mark.parametrize("loss,kw", [("cross_entropy", kw) for kw in CE_CASES]
                         + [("nll_loss", kw) for kw in CE_CASES if "label_smoothing" not in kw],
                         ids=str)
def test_class_losses_second_derivatives(backend, kw, loss):
    _assert_class_loss_derivatives_match(kw, loss, (6, 4))



@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 4, 3, 1), (1, 4, 2, 3, 1)], ids=str)
@pytest.mark.parametrize("loss,kw", [("cross_entropy", kw) for kw in CE_CASES]
                         + [("nll_loss", kw) for kw in CE_CASES if "label_smoothing" not in kw],
                         ids=str)
def test_class_losses_second_derivatives_per_position(backend, kw, loss, shape):
    """(N, C, d1, ...) logits (a loss per position, the classes along dim 1): the recorded
    backward of the (N, C, L) layout the kernels take"""
    _assert_class_loss_derivatives_match(kw, loss, shape)


def _assert_class_loss_derivatives_match(kw, loss, shape):
    """a class loss's first and second derivatives through the recorded backward, as
    PyTorch's, for logits of shape (N, 4, ...) with one ignored row (position)"""
    positions = (shape[0],) + shape[2:]
    t0 = RNG.integers(0, 4, positions)
    t0.flat[2] = kw.get("ignore_index", -100)
    w0 = RNG.uniform(0.5, 2, 4)

    def build(lib, x):
        k = dict(kw)
        if k.get("weight"):
            k["weight"] = lib.tensor(w0, dtype=lib.float64)
        F = lib.nn.functional
        logits = x * x
        out = (F.cross_entropy(logits, lib.tensor(t0), **k) if loss == "cross_entropy"
               else F.nll_loss(logits.log_softmax(1), lib.tensor(t0), **k))
        if out.dim():
            assert tuple(out.shape) == positions
            out = (out * lib.arange(t0.size, dtype=lib.float64).reshape(positions)).sum()
        g, = lib.autograd.grad(out, x, create_graph=True)
        return [g, lib.autograd.grad((g * g).sum(), x)[0]]
    _assert_match(build, RNG.standard_normal(shape))

def test_cross_entropy_float32_through_the_fused_kernel(backend):
    """64 x 10 float32 logits: the compiled forward saves the rows' softmax, not the
    log-probabilities; the recorded backward takes the probabilities from either"""
    x0 = RNG.standard_normal((64, 10)).astype(np.float32)
    t0 = RNG.integers(0, 10, 64)
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        g, = lib.autograd.grad(lib.nn.functional.cross_entropy(x * 3, lib.tensor(t0)), x,
                               create_graph=True)
        res.append([g.detach().numpy(), lib.autograd.grad((g * g).sum(), x)[0].numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_maml_inner_step_with_linear_layers(backend):
    """One MAML step: an inner SGD step on the support loss with create_graph, then the query
    loss of the adapted weights backpropagated into the original ones"""
    w1, b1, w2, b2 = (RNG.standard_normal(s) * 0.5 for s in ((6, 3), (6,), (4, 6), (4,)))
    xs, xq = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    ys, yq = RNG.integers(0, 4, 5), RNG.integers(0, 4, 5)

    def build(lib, *params):
        F = lib.nn.functional

        def net(x, p):
            return F.linear(F.linear(x, p[0], p[1]).relu(), p[2], p[3])
        support = F.cross_entropy(net(lib.tensor(xs), params), lib.tensor(ys))
        grads = lib.autograd.grad(support, params, create_graph=True)
        adapted = [p - 0.4 * g for p, g in zip(params, grads)]
        query = F.cross_entropy(net(lib.tensor(xq), adapted), lib.tensor(yq))
        query.backward()
        return [support, query] + [p.grad for p in params]
    _assert_match(build, w1, b1, w2, b2)


def test_third_derivatives_through_nodes_made_after_the_fact(backend):
    """1 / x and cross_entropy's softmax are differentiated through nodes made at the first
    create_graph pass; a third derivative goes through them again"""
    t0 = RNG.integers(0, 4, 3)

    def build(lib, x):
        y = (1 / x).sum() + lib.nn.functional.cross_entropy(x * x, lib.tensor(t0))
        g, = lib.autograd.grad(y, x, create_graph=True)
        h, = lib.autograd.grad((g * g).sum(), x, create_graph=True)
        return [g, h, lib.autograd.grad((h * x).sum(), x)[0]]
    _assert_match(build, X)


def test_an_in_place_change_of_a_saved_output_still_raises(backend):
    """the saved output comes back as a Tensor sharing the output's version counter"""
    x = cgrad.tensor([0.7, 1.2, 0.4], dtype=cgrad.float64, requires_grad=True)
    w = cgrad.tensor([2.0, 3.0, 4.0], dtype=cgrad.float64, requires_grad=True)
    y = x.exp()
    g, = cgrad.autograd.grad((y * w).sum(), x, create_graph=True)
    with cgrad.no_grad():
        y.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        cgrad.autograd.grad(g.sum(), w)


@pytest.mark.parametrize("f", [
    lambda lib, x: lib.nn.functional.relu(x - 1),
    lambda lib, x: lib.nn.functional.leaky_relu(x - 1, 0.2),
    lambda lib, x: (x * 1).clamp(0.8, 1.5),
    lambda lib, x: x ** 1,
    lambda lib, x: (x - 1).abs(),
], ids=["relu", "leaky_relu", "clamp", "pow1", "abs"])
def test_piecewise_linear_second_derivatives_are_zeros_not_missing(backend, f):
    """their gradient depends on x through a mask only: where PyTorch keeps it in the graph
    (relu, leaky_relu, x ** 1, abs; not clamp), differentiating it again gives zeros"""
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(X, requires_grad=True)
        g, = lib.autograd.grad(f(lib, x).sum(), x, create_graph=True)
        res = [g.detach().numpy(), g.requires_grad]
        if g.requires_grad:
            h, = lib.autograd.grad((g * g).sum(), x, create_graph=True)
            res.append((h + 0).detach().numpy())        # (torch may give a ZeroTensor)
        results.append(res)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] == results[1][1]
    if results[0][1]:
        np.testing.assert_array_equal(results[0][2], results[1][2])
        assert not results[0][2].any()


def test_pow0_gradient_is_a_constant_zero(backend):
    for lib in (cgrad, torch):
        x = lib.tensor(X, requires_grad=True)
        g, = lib.autograd.grad((x ** 0).sum(), x, create_graph=True)
        assert not g.requires_grad and not g.detach().numpy().any()


def test_gradient_penalty_with_a_relu_critic_fills_every_grad(backend):
    """WGAN-GP: every critic parameter gets a .grad (zeros where the penalty does not reach
    it), as in PyTorch, so that an optimizer treats them alike"""
    w1, b1, w2 = RNG.standard_normal((5, 3)), RNG.standard_normal(5), RNG.standard_normal((1, 5))
    x0 = RNG.standard_normal((4, 3))
    res = []
    for lib in (cgrad, torch):
        W1, B1, W2 = (lib.tensor(a, requires_grad=True) for a in (w1, b1, w2))
        x = lib.tensor(x0, requires_grad=True)
        out = lib.nn.functional.linear(lib.nn.functional.linear(x, W1, B1).relu(), W2)
        g, = lib.autograd.grad(out.sum(), x, create_graph=True)
        ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
        res.append([None if p.grad is None else p.grad.numpy() for p in (W1, B1, W2)])
    for a, b in zip(*res):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3])
def test_norm_with_zero_elements_and_a_zero_row(backend, p):
    """PyTorch's forms: no 0 * inf where an element or a whole row is 0 (p < 2 gave NaN at a
    zero element in the first derivative, and the second derivative NaN at a zero row)"""
    def build(lib, x):
        g, = lib.autograd.grad(x.norm(p, dim=1).sum(), x, create_graph=True)
        return [g] + ([lib.autograd.grad((g * g).sum(), x)[0]] if g.requires_grad else [])
    _assert_match(build, np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0], [0.3, -0.4, 1.2]]))


def test_norm_p0_counts_nonzeros_without_a_gradient(backend):
    x = cgrad.tensor([[0.0, 1.0, -2.0]], requires_grad=True)
    y = x.norm(0, dim=1)
    assert y.tolist() == [2.0]
    y.sum().backward()
    assert x.grad is None


def test_hooks_retain_grad_and_inputs_under_create_graph(backend):
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        x.register_hook(lambda g: g * 2)                  # leaf hooks run before a capture
        g_plain, = lib.autograd.grad((x * x).sum(), x)
        g_graph, = lib.autograd.grad((x * x).sum(), x, create_graph=True)
        y = x * x
        y.retain_grad()                                   # .grad keeps its graph
        (y ** 2).sum().backward(create_graph=True)
        assert y.grad.requires_grad
        z = x * 3
        (z * z).sum().backward(inputs=[z])                # a non-leaf input gets its .grad
        out.append([g_plain, g_graph, y.grad, z.grad])
    for a, b in zip(*out):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy())
    x = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="shape"):
        (x ** 2).sum().backward(create_graph=True)
    x = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="dtype"):
        (x ** 2).sum().backward(create_graph=True)


def test_retain_graph_false_frees_and_anomaly_mode_checks(backend):
    x = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp().sum()
    g, = cgrad.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="second time"):
        cgrad.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):     # g's graph holds exp's node
        cgrad.autograd.grad(g.sum(), x)                         # (PyTorch raises too)
    with cgrad.autograd.detect_anomaly():
        x = cgrad.tensor([0.0, 1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="SqrtBackward0"):
            cgrad.autograd.grad((x.sqrt() * 0).sum(), x, create_graph=True)


def test_grad_outputs_of_another_dtype_and_empty_batches(backend):
    x = cgrad.tensor([1.0, 2.0], dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(x * 2, x, grad_outputs=cgrad.ones(2, dtype=cgrad.float32),
                             create_graph=True)
    assert g.dtype == cgrad.float64
    lin = cgrad.nn.Linear(3, 2).double()
    e = cgrad.zeros(0, 3, dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(lin(e).sum(), e, create_graph=True)
    assert g.shape == (0, 3)


def test_custom_functions_with_differentiable_backwards(backend):
    """a Function whose backward is written in differentiable ops gets higher derivatives, its
    saved outputs differentiated through its own node, as in PyTorch"""
    out = []
    for lib in (cgrad, torch):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * 3 * x ** 2

        class MyExp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                y, = ctx.saved_tensors
                return g * y
        x = lib.tensor(X, requires_grad=True)
        res = []
        for f in (Cube, MyExp):
            g, = lib.autograd.grad((f.apply(x) * x).sum(), x, create_graph=True)
            res += [g, lib.autograd.grad((g * g).sum(), x)[0]]
        out.append(res)
    for a, b in zip(*out):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10)

    class Once(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @cgrad.autograd.once_differentiable
        def backward(ctx, g):
            return g * 2
    x = cgrad.tensor(X, requires_grad=True)
    g, = cgrad.autograd.grad(Once.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), np.full(X.shape, 2.0))
    assert not g.requires_grad        # as PyTorch: the incoming gradient needs no graph
    with pytest.raises(RuntimeError, match="does not require grad"):
        cgrad.autograd.grad(g.sum(), x)
    v = cgrad.ones(*X.shape, dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(Once.apply(x), x, grad_outputs=v, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), np.full(X.shape, 2.0))   # the error
    with pytest.raises(RuntimeError, match="not have been used"):   # waits, off the paths
        cgrad.autograd.grad(g.sum(), x)                              # to the inputs, as
    with pytest.raises(RuntimeError, match="once_differentiable"):   # PyTorch's
        g.sum().backward()


def test_custom_function_with_two_differentiable_outputs(backend):
    """each output's gradient reaches the user's backward, which is recorded: second
    derivatives through both outputs, and through one while the other gets zeros"""
    def build(lib, x, w):
        class SinCos(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x, w)
                return (x * w).sin(), (x * w).cos()

            @staticmethod
            def backward(ctx, gs, gc):
                x, w = ctx.saved_tensors
                d = gs * (x * w).cos() - gc * (x * w).sin()
                return d * w, (d * x).sum(0)
        s, c = SinCos.apply(x, w)
        gx, gw = lib.autograd.grad((s * s * 2 + c * x).sum(), (x, w), create_graph=True)
        hx, hw = lib.autograd.grad((gx ** 2).sum() + (gw * w).sum(), (x, w))
        _, c = SinCos.apply(x, w)
        g1, = lib.autograd.grad((c ** 3).sum(), x, create_graph=True)
        return [gx, gw, hx, hw, g1, lib.autograd.grad(g1.sum(), x)[0]]
    _assert_match(build, np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]]),
                  np.array([1.5, -0.5, 0.8]))


X_INPLACE, V_INPLACE = RNG.standard_normal((3, 4)), RNG.standard_normal(4)


def _set_basic(lib, x, v):
    y = x * 1.5
    y[1] = v * v
    return (y ** 3).sum()


def _set_advanced(lib, x, v):
    y = x * 3
    y[[0, 2], [1, 3]] = v[:2] * x[1, :2]
    return (y * y * x).sum()


def _set_mask(lib, x, v):
    y = x.sin()
    y[x > 0.3] = 0.5 * x[x > 0.3] ** 2
    return (y ** 2 * v).sum()


def _inplace_on_views(lib, x, v):
    y = x * 2
    row, col = y[2], y[:, 1]
    row.mul_(v)                                   # col, an older view, is regenerated
    return (y.sin() * y).sum() + (col ** 2).sum()


def _inplace_on_transposed_view(lib, x, v):
    y = x + 0
    y.t()[1].add_(v[:3] * v[1])
    return (y.exp() * x).sum()


def _copy_and_fill(lib, x, v):
    z = x * 2
    z2 = z * 1
    z2[0].copy_(v * v)
    w = x * 3
    w[:, 2].fill_(1.5)
    return (z2 * z2).sum() + (w * x).sum() + (z ** 3).sum()


@pytest.mark.parametrize("program", [_set_basic, _set_advanced, _set_mask, _inplace_on_views,
                                     _inplace_on_transposed_view, _copy_and_fill],
                         ids=lambda f: f.__name__)
def test_in_place_ops_in_the_graph_to_third_order(backend, program):
    """index assignment (IndexPut), in-place ops on views (CopySlices, regenerated views),
    copy_ and fill_: recorded like every other op"""
    def build(lib, x, v):
        out = program(lib, x, v)
        gx, gv = lib.autograd.grad(out, (x, v), create_graph=True)
        hx, hv = lib.autograd.grad((gx * gx).sum() + (gv ** 3).sum(), (x, v),
                                   create_graph=True)
        return [out, gx, gv, hx, hv] + list(lib.autograd.grad((hx * x).sum() + hv.sum() ** 2,
                                                              (x, v)))
    _assert_match(build, X_INPLACE, V_INPLACE, rtol=1e-9)


def test_custom_function_with_a_non_differentiable_second_output(backend):
    out = []
    for lib in (cgrad, torch):
        class SquareAndArgmax(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                idx = x.argmax()
                ctx.mark_non_differentiable(idx)
                ctx.save_for_backward(x)
                return x * x, idx

            @staticmethod
            def backward(ctx, g, g_idx):
                x, = ctx.saved_tensors
                assert g_idx is not None            # materialized, as the first order does
                return g * 2 * x
        x = lib.tensor(X, requires_grad=True)
        y, _ = SquareAndArgmax.apply(x)
        g, = lib.autograd.grad((y * x).sum(), x, create_graph=True)
        out.append([g, lib.autograd.grad((g * g).sum(), x)[0]])
    for a, b in zip(*out):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10)


def test_review_cases_norm_zero_rows_ignored_targets_and_addmm(backend):
    """a zero row of norm(2) gave NaN to every row's second derivative; an all-ignored batch
    a NaN gradient; an inf g on an ignored row NaN; norm(-inf) was wrong; addmm with only
    the bias requiring grad crashed on the Cython backend"""
    def zero_row(lib, x):
        g, = lib.autograd.grad(x.norm(dim=1).sum() ** 2, x, create_graph=True)
        return [g, lib.autograd.grad(g.sum(), x)[0][:1]]           # torch: NaN on the zero row
    _assert_match(zero_row, np.array([[1.0, 2.0], [0.0, 0.0]]))

    def ignored(lib, x):
        F = lib.nn.functional
        all_ignored = lib.tensor([-100, -100])
        g1, = lib.autograd.grad(F.cross_entropy(x, all_ignored), x, create_graph=True)
        g2, = lib.autograd.grad(F.nll_loss(x.log_softmax(1), all_ignored), x, create_graph=True)
        inf_row = lib.tensor([float("inf"), 1.0], dtype=lib.float64)
        g3, = lib.autograd.grad((F.cross_entropy(x, lib.tensor([-100, 1]), reduction="none")
                                 * inf_row).sum(), x, create_graph=True)
        return [g1, g2, g3]
    _assert_match(ignored, RNG.standard_normal((2, 3)))

    def neg_inf(lib, x):
        y = x.norm(p=float("-inf"), dim=1)
        return [y, lib.autograd.grad(y.sum(), x)[0]]
    _assert_match(neg_inf, np.array([[0.5, -2, 1.5], [3, 0.25, -1], [0.25, 1, -0.25]]))

    b = cgrad.tensor(np.ones(2), requires_grad=True)
    cgrad.addmm(b, cgrad.ones(3, 4, dtype=cgrad.float64),
                cgrad.ones(4, 2, dtype=cgrad.float64)).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])


def test_nll_loss_on_the_input_itself_keeps_the_graph(backend):
    """nll_loss straight on x (no log_softmax): its gradient is constant in x, and PyTorch
    keeps x in its graph (zero second derivatives), on a leaf and on a non-leaf"""
    for make in (lambda x: x, lambda x: x * 2):
        res = []
        for lib in (cgrad, torch):
            x = lib.tensor(X, requires_grad=True)
            g, = lib.autograd.grad(lib.nn.functional.nll_loss(make(x), lib.tensor([0, 3, 1])),
                                   x, create_graph=True)
            res.append([g.requires_grad, g.detach().numpy(),
                        (lib.autograd.grad((g * g).sum(), x)[0] + 0).numpy()])
        assert res[0][0] and res[1][0]
        np.testing.assert_array_equal(res[0][1], res[1][1])
        np.testing.assert_array_equal(res[0][2], res[1][2])


def test_leaf_hooks_run_once_with_inputs_and_freed_graphs_raise(backend):
    for create_graph in (False, True):
        res = []
        for lib in (cgrad, torch):
            x = lib.tensor([1.0, 2.0], requires_grad=True)
            x.register_hook(lambda g: g * 2)
            (x * x).sum().backward(inputs=[x], create_graph=create_graph)
            res.append(x.grad.detach().numpy())
        np.testing.assert_array_equal(res[0], res[1])
    x = cgrad.tensor(X, requires_grad=True)
    y = cgrad.where(x > 1, x * x, x).sum()
    cgrad.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="second time"):
        cgrad.autograd.grad(y, x, create_graph=True)


def test_recorded_gradients_are_not_cast_needlessly(backend):
    """the walk casts a gradient only where its dtype differs from the input's (a comparison
    of cgrad's dtype with NumPy's had cast every edge)"""
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    g, = cgrad.autograd.grad((x * x).sum(), x, create_graph=True)
    names, stack = [], [g.grad_fn]
    while stack:
        node = stack.pop()
        names.append(node.name())
        stack += [p for p, _ in node.next_functions if p is not None]
    assert "ToCopyBackward0" not in names
    assert g.grad_fn.name() == "AddBackward0"


IDX = np.array([2, 0, 2])
MASK = X > 1.2


@pytest.mark.parametrize("f", [
    lambda lib, x: x[lib.tensor(IDX)] * x[0],
    lambda lib, x: x[lib.tensor(IDX), 1:3] ** 2,
    lambda lib, x: x[0, lib.tensor([3, 1, 3])] * x[1, :3],
    lambda lib, x: (x * x)[lib.tensor(MASK)].exp(),
    lambda lib, x: x.gather(1, lib.tensor([[0, 3], [1, 1], [2, 0]])) * x[:, :2],
    lambda lib, x: x.sort(1).values * x,
    lambda lib, x: x.topk(2, dim=0).values ** 3,
], ids=["rows", "rows_slice", "int_and_index", "bool_mask", "gather", "sort", "topk"])
def test_advanced_indexing_and_gather_second_derivatives(backend, f):
    """their gradient scatter-adds (repeated indices add up), recorded as IndexAdd, whose own
    gradient is the indexing again"""
    def build(lib, x):
        y = f(lib, x)
        g, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        h, = lib.autograd.grad((g * g).sum(), x, create_graph=True)
        return [y, g, h, lib.autograd.grad((h * x).sum(), x)[0]]
    _assert_match(build, X)


# ---- found by a create_graph fuzz against PyTorch -------------------------------------------
def test_inf_norm_of_a_0d_tensor(backend):
    _assert_match(lambda lib, x: [x.norm(float("inf")), *lib.autograd.grad(
        x.norm(float("-inf")) ** 2, x, create_graph=True)], np.array(-0.34))


def test_piecewise_constant_gradients_stay_recorded_as_in_torch(backend):
    """the inf norm's gradient (sign of x in it) and remainder's gradient for b (floor(a / b))
    are recorded with a zero derivative: differentiating them again gives zeros, not an error"""
    def build(lib, x, a, b):
        g, = lib.autograd.grad(x.norm(float("inf")), x, create_graph=True)
        gb, = lib.autograd.grad(lib.remainder(a, b), b, create_graph=True)
        assert g.requires_grad and gb.requires_grad
        return [g, gb, *lib.autograd.grad(g.sin().sum() + gb.sin(), [x, b])]
    _assert_match(build, np.array([-0.2, 1.18]), np.array(0.52), np.array(-0.69))


def test_custom_function_saving_one_of_several_outputs(backend):
    """a saved output differentiates through its own output's edge, as PyTorch unpacks it"""
    def build(lib, x, w):
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                b = x.exp()
                ctx.save_for_backward(x, w, b)             # b is an output
                return x * w, b

            @staticmethod
            def backward(ctx, ga, gb):
                x, w, b = ctx.saved_tensors
                return ga * w + gb * b, ga * x
        a, b = Two.apply(x, w)
        g, = lib.autograd.grad((a * b).sum(), x, create_graph=True)
        return [g, *lib.autograd.grad((g * g).sum(), [x, w])]
    _assert_match(build, np.array([1.3, -0.4]), np.array([0.5, 2.0]))


def test_fill_with_a_tensor_that_requires_grad(backend):
    def build(lib, v):
        c = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
        c.fill_(v)
        assert c.requires_grad and c.grad_fn.name() == "FillBackward3"
        g, = lib.autograd.grad((c * c * v).sum(), v, create_graph=True)
        return [c, g, *lib.autograd.grad(g * g, v)]
    _assert_match(build, np.array(-0.12))
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        cgrad.ones(3).fill_(cgrad.ones(2, requires_grad=True))


def test_maximum_keeps_a_nan_gradient_out_of_the_losing_side(backend):
    """a share of 0 masks g (PyTorch's masked_fill), in the recorded backward too"""
    def build(lib, x0, x1):
        w = lib.tensor([float("nan"), 1.0, 2.0], dtype=lib.float64)
        y = (lib.maximum(x0, x1) * w).sum() + (lib.minimum(x0, x1) ** 2).sum()
        g = lib.autograd.grad(y, [x0, x1], create_graph=True)
        return [*g, *lib.autograd.grad(sum((t[1:] ** 2).sum() for t in g), [x0, x1])]
    _assert_match(build, np.array([-0.7, 0.5, 0.3]), np.array([-0.2, 0.1, 0.3]))


def test_forward_mode_jacobian_blocks_take_the_outputs_dtype(backend):
    out = []
    for lib in (cgrad, torch):
        F = lib.autograd.functional
        x32, w64 = lib.tensor([0.5, -1.0]), lib.tensor([1.5, 2.0], dtype=lib.float64)
        J = F.jacobian(lambda a, b: (a * b, a.sin()), (x32, w64), strategy="forward-mode",
                       vectorize=True)
        H = F.hessian(lambda a, b: (a * b).sum(), (x32, w64), vectorize=True,
                      outer_jacobian_strategy="forward-mode")
        out.append([[str(j.dtype).split(".")[1] for j in row] for row in J + H])
    assert out[0] == out[1]


@pytest.mark.parametrize("key", ["...", ":", "0:1", "mask", "0:1, 0:1"])
def test_writing_a_whole_view_leaves_the_base_gradient_outside_the_graph(backend, key):
    """y[...] = c is a fill_ of a view covering y in PyTorch: y's gradient is zeros that no
    later grad reaches (None with allow_unused); a mask or a partial view stays connected"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[2.3, 0.5]], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([[0.3], [0.7]], dtype=lib.float64, requires_grad=True)
        y = x * x
        index = {"...": (Ellipsis,), ":": (slice(None),), "0:1": (slice(0, 1),),
                 "mask": (lib.tensor([[True, True]]),), "0:1, 0:1": (slice(0, 1),) * 2}[key]
        y[index] = 0.55
        gx, gw = lib.autograd.grad((y @ w * 1.4).sum(), [x, w], create_graph=True)
        h = lib.autograd.grad((gx * 0.7).sum() + (gw * 0.2).sum(), [x, w], allow_unused=True)
        out.append([None if t is None else t.tolist() for t in (gx, gw, *h)])
    got, want = out
    assert [g is None for g in got] == [w is None for w in want]
    for g, w in zip(got, want):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-12)
