"""The losses PyTorch has beside MSE, L1, cross entropy and BCE (KLDiv, HingeEmbedding,
MarginRanking, CosineEmbedding, PoissonNLL, GaussianNLL, SoftMargin, MultiLabelSoftMargin,
MultiMargin, MultiLabelMargin, TripletMargin, TripletMarginWithDistance), against PyTorch:
values and gradients (of targets too, where PyTorch has them) for every reduction, second
derivatives, modules' reprs and defaults, and PyTorch's errors."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, TOL, _close, _raises_like_torch  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]


def _libs(lib):
    return {"lib": lib, "F": F if lib is cgrad else torch.nn.functional,
            "nn": nn if lib is cgrad else torch.nn}


def _array(spec, dtype, rng):
    """an input from its spec: (kind, shape or values); kinds: "x" normal, "p" uniform in
    (0, 1), "s" +-1 (and 0 with "s0"), "i" int64 values given, "c" positive counts"""
    kind, arg = spec
    if kind == "i":
        return np.array(arg, np.int64)
    if kind == "x":
        return rng.standard_normal(arg).astype(dtype)
    if kind == "p":
        return rng.uniform(0.05, 1, arg).astype(dtype)
    if kind == "c":
        return rng.integers(0, 6, arg).astype(dtype)
    signs = rng.choice([-1.0, 1.0] if kind == "s" else [-1.0, 0.0, 1.0], arg)
    return signs.astype(dtype)


def _compare(call, specs, dtype, seed=0):
    """call (using a, b, c, d and lib, F, nn) in both libraries on the same inputs: values,
    then the gradients of each float input after the same backward"""
    rng = np.random.default_rng(seed)
    arrays = [_array(s, dtype, rng) for s in specs]
    td = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    ts = [torch.tensor(a, dtype=td.get(a.dtype, torch.int64), requires_grad=a.dtype.kind == "f")
          for a in arrays]
    cs = [cgrad.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    names = "abcd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # kl_div's "mean" warns in both
        c_out = eval(call, {**_libs(cgrad), **dict(zip(names, cs))})
        t_out = eval(call, {**_libs(torch), **dict(zip(names, ts))})
    assert str(c_out.dtype) == str(t_out.dtype).replace("torch", "cgrad")
    _close(c_out, t_out, dtype)
    g = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    c_out.backward(cgrad.tensor(g))
    t_out.backward(torch.tensor(g))
    for c, t in zip(cs, ts):
        if t.requires_grad and t.grad is not None:
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), equal_nan=True,
                                       **TOL[dtype])
        elif t.requires_grad:
            assert c.grad is None or not c.grad.numpy().any()
    return c_out


X, P, S = ("x", (5, 4)), ("p", (5, 4)), ("s", (5, 4))
LOSSES = [
    ("F.kl_div(a, b, reduction=r)", [X, P]),
    ("F.kl_div(a, b, reduction=r, log_target=True)", [X, X]),
    ("F.kl_div(a, b * (b > 0.5), reduction=r)", [X, P]),          # targets of 0
    ("F.kl_div(a, b[0], reduction=r)", [X, P]),
    ("F.hinge_embedding_loss(a, b, reduction=r)", [X, ("s0", (5, 4))]),
    ("F.hinge_embedding_loss(a, b, margin=0.3, reduction=r)", [X, S]),
    ("F.hinge_embedding_loss(a, b, reduction=r)", [X, ("i", [1, -1, 1, -1])]),
    ("F.margin_ranking_loss(a, b, c, reduction=r)", [("x", 7), ("x", 7), ("s", 7)]),
    ("F.margin_ranking_loss(a, b, c, margin=0.5, reduction=r)", [X, X, S]),
    ("F.margin_ranking_loss(a, a.detach(), c, reduction=r)", [X, X, S]),   # ties: no gradient
    ("F.cosine_embedding_loss(a, b, c, reduction=r)", [X, X, ("s0", 5)]),
    ("F.cosine_embedding_loss(a, b, c, margin=-0.2, reduction=r)", [X, X, ("i", [1, -1] * 2 +
                                                                            [1])]),
    ("F.cosine_embedding_loss(a[0], b[0], c, reduction=r)", [X, X, ("i", -1)]),
    ("F.poisson_nll_loss(a, b, reduction=r)", [X, ("c", (5, 4))]),
    ("F.poisson_nll_loss(a.exp(), b, log_input=False, reduction=r)", [X, ("c", (5, 4))]),
    ("F.poisson_nll_loss(a, b, full=True, eps=1e-3, reduction=r)", [X, ("c", (5, 4))]),
    ("F.gaussian_nll_loss(a, b, c, reduction=r)", [X, X, P]),
    ("F.gaussian_nll_loss(a, b, c, full=True, eps=0.2, reduction=r)", [X, X, P]),
    ("F.gaussian_nll_loss(a, b, c, reduction=r)", [X, X, ("p", 5)]),
    ("F.gaussian_nll_loss(a, b, c, reduction=r)", [X, X, ("p", (5, 1))]),
    ("F.gaussian_nll_loss(a, b, 0.5, reduction=r)", [X, X]),
    ("F.soft_margin_loss(a, b.detach(), reduction=r)", [X, S]),
    ("F.soft_margin_loss(a * 30, b.detach(), reduction=r)", [X, S]),
    ("F.multilabel_soft_margin_loss(a, b, reduction=r)", [X, ("c", (5, 4))]),
    ("F.multilabel_soft_margin_loss(a, b, weight=c, reduction=r)", [X, P, ("p", 4)]),
    ("F.multi_margin_loss(a, b, reduction=r)", [X, ("i", [1, 0, 3, 3, 2])]),
    ("F.multi_margin_loss(a, b, p=2, margin=0.7, reduction=r)", [X, ("i", [1, 0, 3, 3, 2])]),
    ("F.multi_margin_loss(a, b, weight=c.detach(), reduction=r)",
     [X, ("i", [1, 0, 3, 3, 2]), ("p", 4)]),
    ("F.multi_margin_loss(a[0], b, reduction=r)", [X, ("i", 2)]),
    ("F.multi_margin_loss(a[0], b, reduction=r)", [X, ("i", [2])]),
    ("F.multilabel_margin_loss(a, b, reduction=r)",
     [X, ("i", [[3, 0, -1, 1], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, 3], [1, -1, -1, -1]])]),
    ("F.multilabel_margin_loss(a[1], b, reduction=r)", [X, ("i", [3, 1, -1, 0])]),
    ("F.triplet_margin_loss(a, b, c, reduction=r)", [X, X, X]),
    ("F.triplet_margin_loss(a, b, c, margin=3.0, p=1, swap=True, reduction=r)", [X, X, X]),
    ("F.triplet_margin_loss(a[0], b[0], c[0], eps=0.1, p=3, reduction=r)", [X, X, X]),
    ("F.triplet_margin_with_distance_loss(a, b, c, reduction=r)", [X, X, X]),
    ("F.triplet_margin_with_distance_loss(a, b, c, margin=2.0, swap=True, reduction=r, "
     "distance_function=lambda u, v: 1 - F.cosine_similarity(u, v))", [X, X, X]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("call, specs", LOSSES)
def test_losses_match_torch(backend, dtype, reduction, call, specs):
    _compare(call.replace("reduction=r", f"reduction={reduction!r}"), specs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div_batchmean_and_its_mean_warning(backend, dtype):
    _compare("F.kl_div(a, b, reduction='batchmean')", [X, P], dtype)
    _compare("F.kl_div(a[0, 0], b[0, 0], reduction='batchmean')", [X, P], dtype)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(cgrad.zeros(2, 3), cgrad.ones(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(cgrad.zeros(2, 3), cgrad.ones(2, 3), reduction="sum")


@pytest.mark.parametrize("call, specs", [
    ("F.kl_div(a, b, reduction='batchmean')", [X, P]),
    ("F.kl_div(a, b, reduction='sum', log_target=True)", [X, X]),
    ("F.hinge_embedding_loss(a, b)", [X, S]),
    ("F.cosine_embedding_loss(a, b, c, margin=-0.5)", [X, X, ("s", 5)]),
    ("F.poisson_nll_loss(a, b, full=True)", [X, ("c", (5, 4))]),
    ("F.gaussian_nll_loss(a, b, c, full=True)", [X, X, P]),
    ("F.soft_margin_loss(a, b.detach())", [X, S]),
    ("F.multilabel_soft_margin_loss(a, b)", [X, P]),
    ("F.triplet_margin_loss(a, b, c, swap=True)", [X, X, X])])
def test_losses_second_derivatives_match_torch(backend, call, specs):
    rng = np.random.default_rng(3)
    arrays = [_array(s, np.float64, rng) for s in specs]
    grads = []
    for lib in (cgrad, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = eval(call, {**_libs(lib), **dict(zip("abcd", xs))})
        first = lib.autograd.grad(out * out, xs, create_graph=True, allow_unused=True)
        second = lib.autograd.grad(sum((g ** 2).sum() for g in first if g is not None), xs,
                                   allow_unused=True)
        grads.append(first + second)
    for c, t in zip(*grads):              # (None for a target used only in comparisons)
        assert (c is None) == (t is None)
        if t is not None:
            _close(c, t)


@pytest.mark.parametrize("call", [
    "F.kl_div(x, y, reduction='bad')", "F.kl_div(x.long(), y)", "F.kl_div(x, y.long())",
    "F.margin_ranking_loss(x, y, lib.ones(4))", "F.margin_ranking_loss(x, y, y, reduction='x')",
    "F.cosine_embedding_loss(x, y, lib.ones(3, 1))",
    "F.cosine_embedding_loss(x, y, lib.ones(()))",
    "F.cosine_embedding_loss(x[0], y[0], lib.ones(1))",
    "F.cosine_embedding_loss(x, y[0], lib.ones(3))",
    "F.gaussian_nll_loss(x, y, lib.ones(4))", "F.gaussian_nll_loss(x, y, -1.0)",
    "F.gaussian_nll_loss(x, y, -lib.ones(3, 4))", "F.gaussian_nll_loss(x, y, lib.ones(2, 4))",
    "F.gaussian_nll_loss(x, y, lib.ones(3, 4), reduction='bad')",
    "F.multilabel_soft_margin_loss(x, y, reduction='bad')",
    "F.multi_margin_loss(x, lib.tensor([1, 0]))",
    "F.multi_margin_loss(x, lib.tensor([[1, 0, 3]]))", "F.multi_margin_loss(x, lib.tensor(1))",
    "F.multi_margin_loss(x[0], lib.tensor([1, 2]))",
    "F.multi_margin_loss(lib.tensor(1.0), lib.tensor([0, 0]))",
    "F.multi_margin_loss(x, lib.tensor([1, 0, 4]))",
    "F.multi_margin_loss(x, lib.tensor([1, 0, -1]))", "F.multi_margin_loss(x, t, p=3)",
    "F.multi_margin_loss(x, t, weight=lib.ones(3))",
    "F.multi_margin_loss(x, t, weight=lib.ones(2, 2))", "F.multi_margin_loss(x, t.int())",
    "F.multi_margin_loss(x, t.float())", "F.multi_margin_loss(x.long(), t)",
    "F.multi_margin_loss(lib.ones(3, 0), t)", "F.multi_margin_loss(lib.ones(3, 4, 2), t)",
    "F.multi_margin_loss(x, t, weight=lib.ones(4, dtype=lib.float64))",
    "F.multilabel_margin_loss(x, lib.tensor([[3, 0, -1, 1], [0, 1, 2, 4], [-1, 0, 0, 0]]))",
    "F.multilabel_margin_loss(x, lib.tensor([[3, 0, -2, 1], [0, 1, 2, 3], [-1, 0, 0, 0]]))",
    "F.multilabel_margin_loss(x, lib.zeros(3, 3, dtype=lib.int64))",
    "F.multilabel_margin_loss(x, lib.zeros(3, 4))",
    "F.multilabel_margin_loss(x, lib.zeros(3, 4, dtype=lib.int32))",
    "F.multilabel_margin_loss(x[0], lib.zeros(3, dtype=lib.int64))",
    "F.multilabel_margin_loss(lib.tensor(1.0), lib.tensor([0, 0]))",
    "F.multilabel_margin_loss(x.long(), lib.zeros(3, 4, dtype=lib.int64))",
    "F.multilabel_margin_loss(lib.ones(2, 3, 4), lib.zeros(2, 3, 4, dtype=lib.int64))",
    "F.triplet_margin_loss(x, y, y[0])", "F.triplet_margin_loss(x, y, y, margin=0)",
    "F.triplet_margin_with_distance_loss(x, y, y[0])",
    "F.triplet_margin_with_distance_loss(x, y, y, margin=-1)",
    "F.triplet_margin_with_distance_loss(x, y, y, reduction='bad')",
    "F.soft_margin_loss(x, y.requires_grad_())", "nn.MultiMarginLoss(p=3)",
    "nn.MultiMarginLoss(weight=lib.ones(2, 2))",
    "F.multi_margin_loss(x, t, weight=lib.ones(4, requires_grad=True))",
    "nn.TripletMarginLoss(margin=0)", "nn.TripletMarginWithDistanceLoss(margin=-2)",
    "F.huber_loss(x, y, reduction='bad')", "nn.HuberLoss('bad', 0.5)(x, y)",   # (it reduced)
    "F.multilabel_soft_margin_loss(x[0, 0], y[0, 0])", "x[0, 0].size(-1)"])    # (0-d)
def test_loss_errors_match_torch(call):
    def run(lib):
        rng = np.random.default_rng(0)
        env = {**_libs(lib), "x": lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float32),
               "y": lib.tensor(rng.uniform(size=(3, 4)), dtype=lib.float32),
               "t": lib.tensor([1, 0, 3])}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return eval(call, env)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("call", [
    "F.cross_entropy(x, lib.rand(3, 4), ignore_index=1)",      # probabilities: no ignore_index
    "F.cross_entropy(x, t.expand(4, 3).t().contiguous())",      # same shape, int: not probs
    "F.cross_entropy(x, t.int().expand(4, 3).t())",
    "F.cross_entropy(x, lib.rand(4))", "F.nll_loss(x, lib.rand(4))",   # batch before dtype
    "F.cross_entropy(x, lib.rand(3, 2))", "F.nll_loss(x, lib.rand(3, 2))",   # dims before dtype
    "F.nll_loss(x, t.int().expand(4, 3).t())",
    "F.cross_entropy(x, lib.tensor(1))", "F.nll_loss(x, lib.tensor(1))",     # 0-d: batch 0
    "F.cross_entropy(x[0], lib.rand(2))", "F.nll_loss(x[0], lib.rand(2))",  # 1-d: dtype first
    "F.cross_entropy(x[0], t.expand(2, 3))",
    "F.cross_entropy(lib.tensor(1.0), lib.tensor(0))",
    "F.cross_entropy(lib.tensor(1.0), lib.tensor(0.0))",
    "F.cross_entropy(lib.tensor(1.0), t)"])
def test_class_target_errors_match_torch(call):
    """cross_entropy and nll_loss check a target's shape before its dtype, as PyTorch"""
    def run(lib):
        env = {**_libs(lib), "x": lib.ones(3, 4), "t": lib.tensor([1, 0, 3])}
        return eval(call, env)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("call", [
    "F.binary_cross_entropy(x / 2, y, weight=lib.ones(2, 3, 4), reduction='none')",  # grows
    "F.binary_cross_entropy(x / 2, y, weight=lib.ones(3))",
    "F.binary_cross_entropy(x / 2, y, weight=lib.ones(4, 1))",
    "lib.broadcast_shapes([2], [3])", "lib.broadcast_shapes(2, (3,))",
    "lib.broadcast_shapes(lib.Size([2]), lib.Size([3]))",
    "F.binary_cross_entropy_with_logits(x, y, weight=lib.ones(2, 3, 4), reduction='none')",
    "F.binary_cross_entropy_with_logits(x, y, pos_weight=lib.ones(2, 3, 4))",
    "F.binary_cross_entropy_with_logits(x, y, pos_weight=lib.ones(5))",
    "F.binary_cross_entropy_with_logits(x, y, weight=lib.ones(5), pos_weight=lib.ones(6))",
    "F.binary_cross_entropy_with_logits(x, y, weight=lib.ones(5))",
    "F.soft_margin_loss(x, lib.ones(2, 3, 4), reduction='none')",
    "F.soft_margin_loss(x, lib.ones(2, 1))"])
def test_bce_weight_broadcasts_to_target_as_torch(call):
    """a loss keeps its input's shape: a weight, pos_weight or (soft margin) target that
    would broadcast it to a larger shape is refused, not used"""
    def run(lib):
        env = {**_libs(lib), "x": lib.ones(3, 4), "y": lib.ones(3, 4)}
        return eval(call, env)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_large_as_torch(backend, dtype, reduction):
    """binary cross-entropy with logits above the kernels' size threshold (float32 sum and
    mean: the loss and its total in one compiled pass, the logits' gradient in another),
    logits with +-inf and past where e**-|x| underflows, soft targets: the loss and both
    gradients, a second backward accumulating"""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((300, 200)) * 8).astype(dtype)
    x.reshape(-1)[:6] = [np.inf, -np.inf, 120.0, -120.0, 0.0, -0.0]
    y = rng.uniform(0, 1, x.shape).astype(dtype)
    y.reshape(-1)[:6] = [1, 0, 0, 1, 1, 0]
    grads = []
    for lib in (cgrad, torch):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        for _ in range(2):
            loss = lib.nn.functional.binary_cross_entropy_with_logits(a, b, reduction=reduction)
            (loss.sum() if reduction == "none" else loss).backward()
        grads.append((loss, a.grad, b.grad))
    for c, t in zip(*grads):
        _close(c, t, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("call", ["F.smooth_l1_loss(a, b, reduction=r, beta=0.3)",
                                  "F.huber_loss(a, b, reduction=r, delta=0.3)",
                                  "nn.SmoothL1Loss(reduction=r)(a, b)",
                                  "nn.HuberLoss(reduction=r, delta=2.0)(a, b)"])
def test_smooth_l1_and_huber_large_as_torch(backend, dtype, reduction, call):
    """smooth L1 and Huber above the kernels' size threshold (float32 and float64 sums and
    means: one compiled pass for the loss, one for each gradient), differences on beta and
    across it: the loss, both gradients over two backwards, and PyTorch's node"""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((300, 200)).astype(dtype)
    y = rng.standard_normal(x.shape).astype(dtype)
    y.reshape(-1)[:3] = x.reshape(-1)[:3] - dtype(0.3) * np.array([1, -1, 0.5], dtype)
    outs = []
    for lib in (cgrad, torch):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        for _ in range(2):
            loss = eval(call, {**_libs(lib), "a": a, "b": b, "r": reduction})
            (loss.sum() if reduction == "none" else loss).backward()
        outs.append((loss, a.grad, b.grad))
    for c, t in zip(*outs):
        _close(c, t, dtype)
    assert outs[0][0].grad_fn.name() == outs[1][0].grad_fn.name()


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_soft_margin_loss_keeps_the_input_dtype_as_torch(backend, dtypes):
    """PyTorch builds the loss in place in input's dtype, whatever target's"""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3)), np.sign(rng.standard_normal((2, 3)))
    out = []
    for lib in (cgrad, torch):
        a = lib.tensor(x, dtype=getattr(lib, dtypes[0]), requires_grad=True)
        loss = lib.nn.functional.soft_margin_loss(a, lib.tensor(y, dtype=getattr(lib, dtypes[1])))
        loss.backward()
        out.append((str(loss.dtype).split(".")[1], loss.item(), a.grad.numpy()))
    assert out[0][0] == out[1][0]
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-6)


def test_empty_batches_and_scalar_inputs_match_torch(backend):
    """(PyTorch leaves an empty batch's loss uninitialised: only its shape is compared)"""
    for call in ["F.multi_margin_loss(lib.ones(0, 4), lib.ones(0, dtype=lib.int64))",
                 "F.multilabel_margin_loss(lib.ones(0, 4), lib.zeros(0, 4, dtype=lib.int64))",
                 "F.multilabel_margin_loss(lib.tensor(1.0), lib.tensor(0))",
                 "F.multilabel_margin_loss(lib.tensor(1.0), lib.tensor(-1))",
                 "F.multi_margin_loss(lib.tensor(2.0), lib.tensor(0), reduction='none')"]:
        c, t = eval(call, _libs(cgrad)), eval(call, _libs(torch))
        assert c.shape == t.shape
        if "ones(0" not in call:
            np.testing.assert_allclose(c.numpy(), t.numpy())


LOSS_MODULES = [
    ("nn.KLDivLoss()", 2), ("nn.KLDivLoss(reduction='batchmean', log_target=True)", 2),
    ("nn.HingeEmbeddingLoss()", 2), ("nn.HingeEmbeddingLoss(0.5, reduction='sum')", 2),
    ("nn.MarginRankingLoss()", 3), ("nn.MarginRankingLoss(0.2)", 3),
    ("nn.CosineEmbeddingLoss()", 3), ("nn.CosineEmbeddingLoss(0.1, reduction='none')", 3),
    ("nn.PoissonNLLLoss()", 2), ("nn.PoissonNLLLoss(False, True, eps=0.1)", 2),
    ("nn.GaussianNLLLoss()", 3), ("nn.GaussianNLLLoss(full=True, eps=0.5)", 3),
    ("nn.SoftMarginLoss()", 2), ("nn.MultiLabelSoftMarginLoss()", 2),
    ("nn.MultiLabelSoftMarginLoss(lib.ones(4), reduction='sum')", 2),
    ("nn.MultiMarginLoss()", 2), ("nn.MultiMarginLoss(2, 0.5, lib.ones(4))", 2),
    ("nn.MultiLabelMarginLoss()", 2), ("nn.TripletMarginLoss()", 3),
    ("nn.TripletMarginLoss(2.0, 1.0, 0.1, True)", 3), ("nn.TripletMarginWithDistanceLoss()", 3),
    ("nn.TripletMarginWithDistanceLoss(margin=2.0, swap=True)", 3),
    ("nn.SmoothL1Loss(beta=0.5)", 2), ("nn.HuberLoss(delta=2.0)", 2),
    ("nn.KLDivLoss(size_average=False)", 2)]


@pytest.mark.parametrize("make, n_inputs", LOSS_MODULES)
def test_loss_modules_match_torch(backend, make, n_inputs):
    """repr, options (reduction from the legacy flags too) and output on their usual inputs"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, t = eval(make, _libs(cgrad)), eval(make, _libs(torch))
    assert repr(c) == repr(t)
    for name in ("reduction", "margin", "p", "eps", "swap", "full", "log_input", "log_target"):
        assert getattr(c, name, None) == getattr(t, name, None), name
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    inputs = {"MultiMargin": [x, np.array([1, 0, 3])],
              "MultiLabelMargin": [x, np.array([[3, -1, 0, 0], [0, 1, 2, 3], [1, 2, -1, 0]])],
              "CosineEmbedding": [x, x[::-1].copy(), np.array([1.0, -1.0, 1.0], np.float32)],
              "GaussianNLL": [x, x * 0.5, np.abs(x)]}
    arrays = next((v for k, v in inputs.items() if k in make),
                  [x, np.abs(x[::-1]).copy(), x * 2][:n_inputs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_out = c(*[cgrad.tensor(a) for a in arrays])
        t_out = t(*[torch.tensor(a) for a in arrays])
    _close(c_out, t_out, np.float32)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("shapes", [((), (1, 3)), ((3,), (2, 3)), ((2, 1), (3,))])
def test_pointwise_losses_expand_first_as_torch(backend, name, shapes):
    """PyTorch expands input and target first: its size warning (smooth_l1 and huber gave
    none), and a 0-d float64 input with a float32 target gives float64 (cgrad gave float32;
    PyTorch's huber backward refuses the mix)"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.linspace(-1, 1, int(np.prod(shapes[0]))).reshape(shapes[0]),
                       dtype=lib.float64, requires_grad=True)
        t = lib.tensor(np.linspace(0.3, 2, int(np.prod(shapes[1]))).reshape(shapes[1]),
                       dtype=lib.float64 if name == "huber_loss" else lib.float32)
        with pytest.warns(UserWarning, match="Using a target size"):
            y = getattr(lib.nn.functional, name)(x, t, reduction="none")
        y.sum().backward()
        out.append((str(y.dtype).split(".")[-1], tuple(y.shape), y.detach().numpy(),
                    x.grad.numpy()))
    assert out[0][:2] == out[1][:2]
    for c, t in zip(out[0][2:], out[1][2:]):
        np.testing.assert_allclose(c, t, rtol=1e-7)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_huber_loss_has_the_inputs_dtype_as_torch(backend, dtypes, reduction):
    """PyTorch computes in the promoted dtype into a loss of the input's dtype (cgrad gave
    float64 for a float32 input and a float64 target); forward only: PyTorch's backward
    refuses the mix"""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(50).astype(d) * 2 for d in dtypes)
    out = [getattr(lib.nn.functional, "huber_loss")(lib.tensor(a), lib.tensor(b), delta=0.7,
                                                    reduction=reduction) for lib in (cgrad, torch)]
    assert str(out[0].dtype).split(".")[-1] == str(out[1].dtype).split(".")[-1] == dtypes[0]
    np.testing.assert_array_equal(out[0].numpy(), out[1].numpy())


@pytest.mark.parametrize("shapes", [((3, 3), (2,)), ((0, 1), (2, 1)), ((2, 1, 3), (2, 1, 2))])
def test_hinge_embedding_loss_broadcast_error_as_torch(shapes):
    """PyTorch's broadcast error, target first (cgrad's named where()'s shapes)"""
    errors = []
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError) as e:
            lib.nn.functional.hinge_embedding_loss(lib.ones(shapes[0]), lib.ones(shapes[1]))
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def test_overflow_to_inf_is_silent_as_torch(backend):
    """gradients that overflow float32 (a diverging step, or GradScaler's huge first scale)
    become inf without NumPy's RuntimeWarnings, as PyTorch's: the sums inside run where
    cgrad's warning filter applies"""
    lin = cgrad.nn.Linear(4, 3)
    with warnings.catch_warnings(record=True) as caught:     # (cgrad's own filter kept)
        warnings.simplefilter("always", RuntimeWarning)
        warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) "
                                r"encountered", RuntimeWarning, r"cgrad\.")
        out = lin(cgrad.ones(5, 4))
        out.backward(cgrad.full(out.shape, 3e38))           # the bias gradient sums 5 rows
        y = cgrad.ones(4, requires_grad=True)
        y.log_softmax(0).backward(cgrad.full((4,), 3e38))   # sums g
        y.softmax(0).backward(cgrad.full((4,), 3.4e38) * cgrad.tensor([1.0, 1.0, 1.0, -1.0]))
        loss = cgrad.nn.functional.cross_entropy(cgrad.full((2, 3), 3e38), cgrad.tensor([0, 1]),
                                                 reduction="sum")
    assert [str(w.message) for w in caught] == []
    assert np.isinf(lin.bias.grad.numpy()).all() and np.isfinite(loss.item())


def _grad_fn_cases(lib):
    """name -> (output, its input leaf): the losses and interpolate modes cgrad composes,
    whose output's node PyTorch names after its fused kernel (or, for the margin losses it
    composes too, after their last op)"""
    F_ = _libs(lib)["F"]
    rng = np.random.default_rng(4)

    def leaf(*shape):
        return lib.tensor(rng.standard_normal(shape), requires_grad=True)
    x, x2, img = leaf(4, 5), leaf(4, 5), leaf(1, 2, 3, 4)
    y, sign = lib.tensor([1.0, -1, 1, -1]), lib.tensor(np.sign(rng.standard_normal((4, 5))))
    cases = {}
    for r in REDUCTIONS:
        cases.update({
            f"smooth_l1 {r}": (F_.smooth_l1_loss(x, x2, reduction=r, beta=0.5), x),
            f"smooth_l1 beta=0 {r}": (F_.smooth_l1_loss(x, x2, reduction=r, beta=0.0), x),
            f"huber {r}": (F_.huber_loss(x, x2, reduction=r), x),
            f"margin_ranking {r}": (F_.margin_ranking_loss(x[:, 0], x2[:, 0], y, reduction=r),
                                    x),
            f"hinge_embedding {r}": (F_.hinge_embedding_loss(x, sign, reduction=r), x),
            f"multi_margin {r}": (F_.multi_margin_loss(x, lib.tensor([0, 2, 4, 1]),
                                                       reduction=r), x),
            f"multi_margin 1-d {r}": (F_.multi_margin_loss(x[0], lib.tensor(3), p=2,
                                                           reduction=r), x),
            f"multilabel_margin {r}": (F_.multilabel_margin_loss(
                x, lib.tensor([[0, 2, -1, 0, 0]] * 4), reduction=r), x),
            f"soft_margin {r}": (F_.soft_margin_loss(x, sign, reduction=r), x),
            f"triplet_margin {r}": (F_.triplet_margin_loss(x, x2, x * 2, reduction=r), x),
        })
    for mode, inp in [("nearest", img[0]), ("nearest", img), ("nearest-exact", img),
                      ("nearest", img[..., None]), ("nearest-exact", img[0]),
                      ("linear", img[0]), ("bilinear", img), ("trilinear", img[..., None])]:
        for ac in ([None] if mode.startswith("nearest") else [False, True]):
            cases[f"{mode} {inp.ndim}-d {ac}"] = (
                F_.interpolate(inp, scale_factor=2, mode=mode, align_corners=ac), img)
    cases["bilinear size"] = (F_.interpolate(img, size=(5, 7), mode="bilinear"), img)
    cases["UpsamplingBilinear2d"] = (_libs(lib)["nn"].UpsamplingBilinear2d(scale_factor=2)(img),
                                     img)
    return cases


def test_grad_fn_names_of_composed_losses_and_interpolate_as_torch(backend):
    ours, theirs = _grad_fn_cases(cgrad), _grad_fn_cases(torch)
    for name, (out, leaf) in ours.items():
        want, want_leaf = theirs[name]
        assert type(out.grad_fn).__name__ == type(want.grad_fn).__name__, name
        assert out.grad_fn.name() == want.grad_fn.name(), name
        np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=name)
        g = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
        got, = cgrad.autograd.grad(out, leaf, cgrad.tensor(g))
        expected, = torch.autograd.grad(want, want_leaf, torch.tensor(g))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2), (2, 3, 2, 2), (2, 3, 1, 1, 2)])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("case", ["weight requires grad", "weight size", "integer input"])
def test_class_loss_errors_name_pytorchs_kernel_for_the_rank(shape, loss, case):
    """above 2-D PyTorch's class losses run nll_loss2d (and a log_softmax not over the last
    dim): their errors name those kernels"""
    def run(lib):
        x = lib.zeros(shape, dtype=lib.int64 if case == "integer input" else lib.float32)
        weight = {"weight requires grad": lib.ones(3, requires_grad=True),
                  "weight size": lib.ones(4)}.get(case)
        t = lib.zeros((shape[0], *shape[2:]), dtype=lib.int64)
        getattr(lib.nn.functional, loss)(x, t, weight=weight)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("loss", ["l1_loss", "mse_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_pointwise_losses_as_pytorch(backend, loss, reduction):
    """weight= of l1_loss and mse_loss: PyTorch's "mean" divides the weighted sum by the
    weights' sum (cgrad took the mean of the weighted losses: another number); huber_loss's by
    the element count. The weight is differentiated, and one of another size than the input
    raises PyTorch's ValueError."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    w, g = rng.random((2, 3)) + 0.1, rng.standard_normal((2, 3))
    results = []
    for m in (cgrad, torch):
        xt, wt = m.tensor(x, requires_grad=True), m.tensor(w, requires_grad=True)
        out = getattr(m.nn.functional, loss)(xt, m.tensor(y), reduction=reduction, weight=wt)
        out.backward(m.tensor(g) if reduction == "none" else None)
        results.append([out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()])
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            getattr(m.nn.functional, loss)(xt, m.tensor(y), weight=m.ones(3))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("changed", ["input", "target"])
def test_l1_loss_allows_its_inputs_to_change_after_the_forward(backend, changed):
    """PyTorch's l1_loss saves |x - y|'s difference, not x and y: changing either in place
    before the backward is allowed, and the gradient is the forward's"""
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (cgrad, torch):
        x = lib.tensor([1., -2., 3.], requires_grad=True)
        y = lib.tensor([0.5, -2.5, 3.5])
        h = x * 2
        loss = lib.nn.functional.l1_loss(h, y)
        with lib.no_grad():
            (h if changed == "input" else y).add_(10)
        loss.backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]
