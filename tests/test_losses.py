"""Losses: values and gradients against PyTorch for every option, gradcheck in float64, the
cross-entropy kernels' contract, and PyTorch's errors."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from cgrad.backends.numpy_backend import NumpyKernels

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


def _pair(arr, requires_grad=False):
    """The same data as a cgrad tensor and a torch tensor."""
    import torch
    return (cgrad.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _compare(ours, theirs, dtype):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **TOL[dtype])


def _check_against_torch(fn_ours, fn_torch, inputs, dtype, grad_of=(0,)):
    """Run the loss in both libraries on the same arrays; compare the value and the
    gradients of the inputs listed in grad_of (backward of a random cotangent)."""
    import torch
    ours = [cgrad.tensor(a, requires_grad=i in grad_of) if a.dtype.kind == "f" else
            cgrad.tensor(a) for i, a in enumerate(inputs)]
    theirs = [torch.tensor(a, requires_grad=i in grad_of) if a.dtype.kind == "f" else
              torch.tensor(a) for i, a in enumerate(inputs)]
    lo, lt = fn_ours(*ours), fn_torch(*theirs)
    _compare(lo, lt, dtype)
    seed = np.random.default_rng(7).standard_normal(tuple(lt.shape)).astype(dtype)
    lo.backward(cgrad.tensor(seed))
    lt.backward(torch.tensor(seed))
    for i in grad_of:
        _compare(ours[i].grad, theirs[i].grad, dtype)
    return lo


# ---- cross entropy with class indices --------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3, 4), (3, 5, 70)], ids=str)
def test_cross_entropy_class_indices_matches_torch(backend, dtype, reduction, weighted,
                                                   smoothing, ignore, shape):
    """(N, C) rows, and (N, C, d1, ...): a loss per position"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype) * 3
    t = rng.integers(0, 5, shape[:1] + shape[2:])
    if ignore:
        t.flat[[1, 4]] = 2
    w = rng.uniform(0.5, 2.0, 5).astype(dtype)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=2 if ignore else -100)
    _check_against_torch(
        lambda a, b, c: F.cross_entropy(a, b, weight=c if weighted else None, **kw),
        lambda a, b, c: torch.nn.functional.cross_entropy(a, b, weight=c if weighted else None,
                                                          **kw),
        [x, t, w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_extreme_logits_are_finite_and_match_torch(backend, dtype, reduction):
    torch = pytest.importorskip("torch")
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    t = np.array([1, 2, 0])
    loss = _check_against_torch(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                                lambda a, b: torch.nn.functional.cross_entropy(
                                    a, b, reduction=reduction), [x, t], dtype)
    assert np.isfinite(loss.detach().numpy()).all()
    # and with label smoothing, which reads every log-probability
    _check_against_torch(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
        lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction,
                                                       label_smoothing=0.1), [x, t], dtype)


def test_cross_entropy_extreme_logits_without_torch(backend):
    x = cgrad.tensor([[1e4, -1e4], [-1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(x, cgrad.tensor([1, 1]))
    assert abs(loss.item() - 1e4) < 1          # row 0 is off by 2e4, row 1 exact: mean 1e4
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5], [0, 0]], atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_class_index(backend, reduction):
    torch = pytest.importorskip("torch")
    x = np.array([0.3, -1.2, 2.0, 0.1], dtype=np.float32)
    _check_against_torch(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                         lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction),
                         [x, np.array(2)], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_k_dimensional(backend, dtype, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3, 2)).astype(dtype)
    t = rng.integers(0, 4, (2, 3, 2))
    w = rng.uniform(0.5, 2, 4).astype(dtype)
    _check_against_torch(
        lambda a, b, c: F.cross_entropy(a, b, weight=c, reduction=reduction),
        lambda a, b, c: torch.nn.functional.cross_entropy(a, b, weight=c, reduction=reduction),
        [x, t, w], dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_k_dimensional_empty_batch(backend, reduction):
    """(0, C, H, W) logits: PyTorch's empty losses ("none"), 0 ("sum") or NaN ("mean")"""
    torch = pytest.importorskip("torch")
    for lib, f in ((cgrad, F), (torch, torch.nn.functional)):
        x = lib.zeros(0, 3, 4, 4, requires_grad=True)
        t = lib.zeros(0, 4, 4, dtype=lib.long)
        for loss in (f.cross_entropy(x, t, reduction=reduction),
                     f.nll_loss(f.log_softmax(x, 1), t, reduction=reduction)):
            assert tuple(loss.shape) == ((0, 4, 4) if reduction == "none" else ())
            if reduction != "none":
                value = loss.item()
                assert (np.isnan(value) if reduction == "mean" else value == 0)


# ---- cross entropy with class probabilities --------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities_matches_torch(backend, dtype, reduction, weighted,
                                                   smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)).astype(dtype)
    p = rng.dirichlet(np.ones(3), 4).astype(dtype)
    w = rng.uniform(0.5, 2.0, 3).astype(dtype)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    _check_against_torch(
        lambda a, b, c: F.cross_entropy(a, b, weight=c if weighted else None, **kw),
        lambda a, b, c: torch.nn.functional.cross_entropy(a, b, weight=c if weighted else None,
                                                          **kw),
        [x, p, w], dtype, grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_probability_target(backend, reduction):
    """The tutorial's case: 1-D logits and target tensor([1., 2.]) (not a distribution)."""
    torch = pytest.importorskip("torch")
    x = np.array([0.4, -0.7], dtype=np.float32)
    loss = _check_against_torch(
        lambda a, b: nn.CrossEntropyLoss(reduction=reduction)(a, b),
        lambda a, b: torch.nn.CrossEntropyLoss(reduction=reduction)(a, b),
        [x, np.array([1.0, 2.0], dtype=np.float32)], np.float32)
    assert loss.shape == ()


def test_cross_entropy_probabilities_k_dimensional(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    p = rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1).copy()
    for reduction in REDUCTIONS:
        _check_against_torch(
            lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=0.1),
            lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction,
                                                           label_smoothing=0.1),
            [x, p], np.float64, grad_of=(0, 1))


def test_cross_entropy_formula_without_torch(backend):
    """-log softmax(x)[t], averaged; the gradient is softmax - onehot over N."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
    t = np.array([2, 0])
    xt = cgrad.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, cgrad.tensor(t))
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert np.isclose(loss.item(), -(logp[0, 2] + logp[1, 0]) / 2)
    loss.backward()
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(xt.grad.numpy(), (np.exp(logp) - onehot) / 2, atol=1e-12)
    assert loss.grad_fn.name() == "NllLossBackward0"


# ---- nll_loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(backend, dtype, reduction, weighted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 4)).astype(dtype)
    t = np.array([0, 3, -100, 1, 3])
    w = rng.uniform(0.5, 2.0, 4).astype(dtype)
    for x_k, t_k in ((x, t), (rng.standard_normal((2, 4, 3, 5)).astype(dtype),   # per position
                              np.where(rng.random((2, 3, 5)) < 0.2, -100,
                                       rng.integers(0, 4, (2, 3, 5))))):
        _check_against_torch(
            lambda a, b, c: F.nll_loss(a, b, weight=c if weighted else None,
                                       reduction=reduction),
            lambda a, b, c: torch.nn.functional.nll_loss(a, b, weight=c if weighted else None,
                                                         reduction=reduction),
            [x_k, t_k, w], dtype)
    _check_against_torch(
        lambda a, b: nn.NLLLoss(reduction=reduction)(a, b),
        lambda a, b: torch.nn.NLLLoss(reduction=reduction)(a, b),
        [x[0], np.array(3)], dtype)


def test_nll_of_log_softmax_equals_cross_entropy(backend):
    rng = np.random.default_rng(5)
    x = cgrad.tensor(rng.standard_normal((7, 3)))
    t = cgrad.tensor(rng.integers(0, 3, 7))
    assert np.isclose(F.nll_loss(F.log_softmax(x, dim=1), t).item(),
                      F.cross_entropy(x, t).item(), rtol=1e-12)


# ---- regression losses ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(backend, dtype, reduction, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3)).astype(dtype)
    y = rng.standard_normal((4, 3)).astype(dtype)
    _check_against_torch(lambda a, b: getattr(F, name)(a, b, reduction=reduction),
                         lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction),
                         [x, y], dtype, grad_of=(0, 1))


def test_mse_loss_broadcasts_with_pytorchs_warning(backend):
    torch = pytest.importorskip("torch")
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    y = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    with pytest.warns(UserWarning, match="Using a target size .* that is different to the input"):
        _check_against_torch(F.mse_loss, torch.nn.functional.mse_loss, [x, y], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_large_accumulates_as_torch(backend, dtype, reduction):
    """Above the kernels' size threshold (the one-pass sum and the backward that adds into
    .grad): both gradients, over two backwards, against PyTorch"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal((300, 200)).astype(dtype) for _ in range(2))
    (cx, tx), (cy, ty) = _pair(x, True), _pair(y, True)
    for _ in range(2):
        lo = F.mse_loss(cx, cy, reduction=reduction)
        lt = torch.nn.functional.mse_loss(tx, ty, reduction=reduction)
        _compare(lo, lt, dtype)
        lo.backward()
        lt.backward()
    _compare(cx.grad, tx.grad, dtype)
    _compare(cy.grad, ty.grad, dtype)
    assert lo.grad_fn.name() == "MseLossBackward0"


def test_mse_and_l1_modules_without_torch(backend):
    x = cgrad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = cgrad.tensor([1.5, 2.0, 1.0])
    loss = nn.MSELoss()(x, y)
    assert np.isclose(loss.item(), (0.25 + 0 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([-0.5, 0, 3]) / 3, rtol=1e-6)
    assert loss.grad_fn.name() == "MseLossBackward0"
    assert np.isclose(nn.L1Loss(reduction="sum")(x, y).item(), 3.5)


# ---- binary cross entropy ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(backend, dtype, reduction, weighted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.uniform(0.02, 0.98, (4, 3)).astype(dtype)
    y = rng.uniform(0, 1, (4, 3)).astype(dtype)
    w = rng.uniform(0.5, 2.0, (3,)).astype(dtype)
    _check_against_torch(
        lambda a, b, c: F.binary_cross_entropy(a, b, weight=c if weighted else None,
                                               reduction=reduction),
        lambda a, b, c: torch.nn.functional.binary_cross_entropy(
            a, b, weight=c if weighted else None, reduction=reduction),
        [x, y, w], dtype, grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_at_size_matches_torch(backend, reduction):
    """float32 at a size the compiled backend's log and log1p take (NumPy's are glibc's
    scalar calls there), with the clamped ends 0 and 1 and target gradients too"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(18)
    x = rng.uniform(0.001, 0.999, (300, 110)).astype(np.float32)
    x[0, :3] = [0.0, 1.0, 1e-30]
    y = rng.uniform(0, 1, x.shape).astype(np.float32)
    _check_against_torch(
        lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction=reduction),
        [x, y], np.float32, grad_of=(0, 1))


def test_bce_clamps_log_at_minus_100_like_torch(backend):
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0], dtype=np.float32)
    ours = F.binary_cross_entropy(cgrad.tensor(x), cgrad.tensor(y), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y),
                                                      reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(backend, dtype, reduction, weighted, pos_weighted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((4, 3)) * 4).astype(dtype)
    x[0, 0], x[1, 1] = 1e4, -1e4                    # no overflow at extreme logits
    y = rng.uniform(0, 1, (4, 3)).astype(dtype)
    w = rng.uniform(0.5, 2.0, (4, 1)).astype(dtype)
    pw = rng.uniform(0.5, 3.0, (3,)).astype(dtype)
    loss = _check_against_torch(
        lambda a, b, c, d: F.binary_cross_entropy_with_logits(
            a, b, weight=c if weighted else None, pos_weight=d if pos_weighted else None,
            reduction=reduction),
        lambda a, b, c, d: torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, weight=c if weighted else None, pos_weight=d if pos_weighted else None,
            reduction=reduction),
        [x, y, w, pw], dtype, grad_of=(0, 1))
    assert np.isfinite(loss.detach().numpy()).all()


def test_bce_modules_without_torch(backend):
    x = cgrad.tensor([0.0, 2.0], requires_grad=True)
    y = cgrad.tensor([1.0, 0.0])
    loss = nn.BCEWithLogitsLoss(pos_weight=cgrad.tensor([3.0, 3.0]))(x, y)
    sig = 1 / (1 + np.exp(-np.array([0.0, 2.0])))
    expected = (-3 * np.log(sig[0]) - np.log(1 - sig[1])) / 2
    assert np.isclose(loss.item(), expected, rtol=1e-6)
    p = cgrad.tensor([0.25, 0.5], requires_grad=True)
    bce = nn.BCELoss()(p, y)
    assert np.isclose(bce.item(), -(np.log(0.25) + np.log(0.5)) / 2, rtol=1e-6)


# ---- gradcheck (float64) ----------------------------------------------------------------------
def _f64(shape, seed, requires_grad=True, low=None, high=None):
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, high, shape) if low is not None else rng.standard_normal(shape)
    return cgrad.tensor(a, dtype=cgrad.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_losses(backend, reduction):
    gc = cgrad.autograd.gradcheck
    x = _f64((4, 3), 0)
    t = cgrad.tensor([0, 2, 1, 2])
    w = cgrad.tensor([0.5, 2.0, 1.5], dtype=cgrad.float64)
    assert gc(lambda a: F.cross_entropy(a, t, reduction=reduction), (x,))
    assert gc(lambda a: F.cross_entropy(a, t, weight=w, ignore_index=1, label_smoothing=0.2,
                                        reduction=reduction), (x,))
    probs = _f64((4, 3), 1, low=0.0, high=1.0)
    assert gc(lambda a, p: F.cross_entropy(a, p, weight=w, label_smoothing=0.1,
                                           reduction=reduction), (x, probs))
    assert gc(lambda a: F.nll_loss(a, t, weight=w, reduction=reduction), (x,))
    y = _f64((4, 3), 2)
    assert gc(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, y))
    assert gc(lambda a, b: F.l1_loss(a, b, reduction=reduction), (x, y))
    p = _f64((4, 3), 3, low=0.1, high=0.9)
    q = _f64((4, 3), 4, low=0.0, high=1.0)
    assert gc(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), (p, q))
    pw = cgrad.tensor([0.5, 2.0, 3.0], dtype=cgrad.float64)
    assert gc(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw,
                                                              reduction=reduction), (x, q))


def test_gradcheck_cross_entropy_unbatched_and_k_dim(backend):
    gc = cgrad.autograd.gradcheck
    assert gc(lambda a: F.cross_entropy(a, cgrad.tensor(1)), (_f64((3,), 5),))
    assert gc(lambda a: F.cross_entropy(a, cgrad.tensor([[1, 0], [2, 2]])), (_f64((2, 3, 2), 6),))


# ---- the kernels' contract (what the Cython versions implement) --------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_kernels_contract(dtype):
    k = NumpyKernels()
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((5, 4)).astype(dtype)
    target = np.array([0, 3, -100, 1, 2], dtype=np.int64)
    w = rng.uniform(0.5, 2, 4).astype(dtype)
    g = rng.standard_normal(5).astype(dtype)
    before = logits.copy()
    losses, log_probs, total, denominator = k.cross_entropy_forward(logits, target, w, -100,
                                                                    0.25)
    np.testing.assert_array_equal(logits, before)              # input never written
    assert losses.shape == (5,) and losses.dtype == dtype and log_probs.dtype == dtype
    assert losses[2] == 0                                      # ignored row
    assert total == float(losses.sum())
    assert np.isclose(denominator, w[[0, 3, 1, 2]].sum(dtype=np.float64), rtol=1e-12)
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        k.cross_entropy_forward(logits, np.array([0, 3, -100, 4, 2]), w)
    ref_logp = logits.astype(np.float64) - np.log(np.exp(logits.astype(np.float64)).sum(1,
                                                                                 keepdims=True))
    expected = 0.75 * w[1] * -ref_logp[3, 1] + 0.25 / 4 * -(w * ref_logp[3]).sum()
    assert np.isclose(losses[3], expected, rtol=1e-5)
    d = k.cross_entropy_backward(log_probs, target, g, w, -100, 0.25)
    assert d.shape == (5, 4) and d.dtype == dtype
    np.testing.assert_array_equal(d[2], 0)
    a = 0.75 * w[1] * np.eye(4)[1] + 0.25 / 4 * w
    np.testing.assert_allclose(d[3], g[3] * (a.sum() * np.exp(ref_logp[3]) - a), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(                             # a 0-d g: the same g every row
        k.cross_entropy_backward(log_probs, target, np.asarray(g[3]), w, -100, 0.25),
        k.cross_entropy_backward(log_probs, target, np.full(5, g[3]), w, -100, 0.25))
    probs = rng.uniform(0, 2, (5, 4)).astype(dtype)            # rows need not sum to 1
    losses, log_probs = k.soft_cross_entropy_forward(logits, probs)
    np.testing.assert_allclose(losses, -(probs * ref_logp).sum(1), rtol=1e-5)
    d = k.soft_cross_entropy_backward(log_probs, probs, g)
    np.testing.assert_allclose(
        d, g[:, None] * (probs.sum(1, keepdims=True) * np.exp(ref_logp) - probs), rtol=1e-4,
        atol=1e-6)


def test_active_backend_cross_entropy_kernels_match_numpy(backend):
    k, ref = cgrad.backends.kernels, NumpyKernels()
    rng = np.random.default_rng(11)
    for dtype in DTYPES:
        logits = (rng.standard_normal((9, 7)) * 5).astype(dtype)
        w = rng.uniform(0.5, 2, 7).astype(dtype)
        g = rng.standard_normal(9).astype(dtype)
        for args in [(None, -100, 0.0), (w, -100, 0.1), (None, 2, 0.3), (w, 0, 0.0)]:
            target = rng.integers(0, 7, 9)
            target[3] = args[1]                                # one ignored row
            lo, lpo, to, do = k.cross_entropy_forward(logits, target, *args)
            lr, lpr, tr, dr = ref.cross_entropy_forward(logits, target, *args)
            np.testing.assert_allclose(lo, lr, **TOL[dtype])
            np.testing.assert_allclose(to, tr, rtol=TOL[dtype]["rtol"], atol=1e-5)
            assert np.isclose(do, dr, rtol=1e-12)
            np.testing.assert_allclose(k.cross_entropy_backward(lpo, target, g, *args),
                                       ref.cross_entropy_backward(lpr, target, g, *args),
                                       **TOL[dtype])


def test_cross_entropy_without_classes_all_ignored(backend):
    """C == 0 with every target ignored: no loss terms, PyTorch's NaN mean and 0 sum."""
    x = cgrad.zeros(3, 0, requires_grad=True)
    t = cgrad.tensor([-100, -100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())
    loss = F.cross_entropy(x, t, reduction="sum")
    assert loss.item() == 0
    loss.backward()
    assert x.grad.shape == (3, 0)


# ---- errors -----------------------------------------------------------------------------------
def test_loss_errors_match_pytorch():
    x = cgrad.randn(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)\."):
        F.cross_entropy(x, cgrad.tensor([0, 1]))
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(x, cgrad.tensor([0, 1, 5]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds."):
        F.nll_loss(x, cgrad.tensor([0, -1, 2]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got "
                                           "Float"):
        F.cross_entropy(x, cgrad.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cross_entropy(x, cgrad.zeros(3, 3, dtype=cgrad.int64))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 "
                                           "classes or no classes"):
        F.cross_entropy(x, cgrad.tensor([0, 1, 2]), weight=cgrad.ones(3))
    for loss in (F.cross_entropy, F.nll_loss):   # 4 weights in 2 dims: PyTorch refuses them
        for weight in (cgrad.ones(1, 4), cgrad.ones(4, 1)):
            with pytest.raises(RuntimeError, match=r"classes or no classes but got weight "
                                                   r"tensor of shape: \[\d, \d\]"):
                loss(x, cgrad.tensor([0, 1, 2]), weight=weight)
    with pytest.raises(RuntimeError, match=r"^cross_entropy: weight tensor .* shape: \[1, 4\]"):
        F.cross_entropy(x, x.softmax(1).detach(), weight=cgrad.ones(1, 4))
    images = cgrad.zeros(2, 4, 3, 3)            # (its nll_loss2d takes them)
    assert F.cross_entropy(images, cgrad.zeros(2, 3, 3, dtype=cgrad.int64),
                           weight=cgrad.ones(1, 4)).item() == pytest.approx(np.log(4))
    with pytest.raises(NotImplementedError, match="\"log_softmax_lastdim_kernel_impl\" not "
                                                  "implemented for 'Long'"):
        F.cross_entropy(cgrad.tensor([1, 0, 2]), x)           # the arguments swapped
    with pytest.raises(ValueError, match="For 1D input, 1D target must have size 1"):
        F.cross_entropy(x[0], cgrad.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x, cgrad.rand(3, 4))
    with pytest.raises(ValueError, match="is different to the input size"):
        F.binary_cross_entropy(x.sigmoid(), cgrad.rand(3))
    with pytest.raises(ValueError, match=r"Target size \(cgrad.Size\(\[3\]\)\) must be the same "
                                         r"as input size \(cgrad.Size\(\[3, 4\]\)\)"):
        F.binary_cross_entropy_with_logits(x, cgrad.rand(3))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(x, x.detach(), reduction="foo")
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.mse_loss(x, cgrad.rand(3))


def test_loss_grad_fn_names_match_pytorch():
    x = cgrad.randn(3, 4, requires_grad=True)
    t = cgrad.tensor([0, 1, 2])
    p = cgrad.rand(3, 4)
    assert F.cross_entropy(x, t).grad_fn.name() == "NllLossBackward0"
    assert F.cross_entropy(x, t, label_smoothing=0.1).grad_fn.name() == "AddBackward0"
    assert F.cross_entropy(x, p).grad_fn.name() == "DivBackward1"
    assert F.cross_entropy(x, p, reduction="sum").grad_fn.name() == "NegBackward0"
    assert F.nll_loss(x, t).grad_fn.name() == "NllLossBackward0"
    assert F.binary_cross_entropy(x.sigmoid(), p).grad_fn.name() == \
        "BinaryCrossEntropyBackward0"
    assert F.binary_cross_entropy_with_logits(x, p).grad_fn.name() == \
        "BinaryCrossEntropyWithLogitsBackward0"


def test_legacy_size_average_and_reduce(backend):
    x, y = cgrad.tensor([1.0, 3.0]), cgrad.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert F.mse_loss(x, y, size_average=False).item() == 10.0
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, y, reduce=False).shape == (2,)


def test_cross_entropy_backward_after_a_backend_switch():
    """The op calls the backward of the backend that ran its forward: each saves its own kind
    of array (the Cython kernels the softmax, NumPy the log-probabilities)."""
    if "cython" not in cgrad.backends.available():
        pytest.skip("cython backend not built")
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((64, 300)).astype(np.float32)
    t_np = rng.integers(0, 300, 64)
    grads = {}
    previous = cgrad.get_backend()
    try:
        for first, second in (("cython", "numpy"), ("numpy", "cython"), ("numpy", "numpy")):
            cgrad.set_backend(first)
            x = cgrad.tensor(x_np, requires_grad=True)
            loss = cgrad.nn.functional.cross_entropy(x, cgrad.tensor(t_np))
            cgrad.set_backend(second)
            loss.backward()
            grads[first, second] = x.grad.numpy()
    finally:
        cgrad.set_backend(previous)
    for g in grads.values():
        np.testing.assert_allclose(g, grads["numpy", "numpy"], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 2, 2), (2, 3, 2, 1, 2)], ids=str)
def test_cross_entropy_per_position_nodes_and_target_dtypes_as_torch(backend, shape):
    """(N, C, d1, ...) logits: a "none" loss with label smoothing is PyTorch's sum node itself
    at every rank (not viewed after it); byte targets raise there as PyTorch's nll_loss2d"""
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    for lib in (cgrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        t = lib.zeros((shape[0],) + shape[2:], dtype=lib.long)
        loss = lib.nn.functional.cross_entropy(x, t, label_smoothing=0.1, reduction="none")
        assert (type(loss.grad_fn).__name__, tuple(loss.shape)) == (
            "AddBackward0", (shape[0],) + shape[2:])
        for f in (lib.nn.functional.cross_entropy, lib.nn.functional.nll_loss):
            with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):
                f(x, t.to(lib.uint8))
    rows, byte = cgrad.tensor(x0.reshape(shape[0], shape[1], -1)[:, :, 0]), cgrad.zeros(
        shape[0], dtype=cgrad.uint8)
    for reduction in ("none", "sum"):                 # (only the mean gathers the weights)
        got, want = (F.cross_entropy(rows, t, weight=cgrad.ones(shape[1]), label_smoothing=0.1,
                                     reduction=reduction) for t in (byte, byte.long()))
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    with pytest.raises(RuntimeError, match=r"gather\(\): Expected dtype int32/int64"):
        F.cross_entropy(cgrad.tensor(x0.reshape(shape[0], shape[1], -1)[:, :, 0]),
                        cgrad.zeros(shape[0], dtype=cgrad.uint8),
                        weight=cgrad.ones(shape[1]), label_smoothing=0.1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_float16_backward(backend, reduction):
    """float16 logits (no compiled kernel: NumPy's) through forward and backward, as PyTorch's
    to float16 rounding"""
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float16)
    t0 = np.array([0, 4, 2, 2, 1, -100])
    got = []
    for lib in (cgrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(t0), reduction=reduction)
        loss.sum().backward()
        assert loss.dtype == lib.float16 and x.grad.dtype == lib.float16
        got.append((loss.detach().float().numpy(), x.grad.float().numpy()))
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=5e-3, atol=5e-3)


def test_elementwise_mean_is_the_deprecated_name_of_mean():
    x, t = cgrad.tensor([1.0, 2.0, 4.0]), cgrad.zeros(3)
    with pytest.warns(UserWarning, match="reduction='elementwise_mean' is deprecated"):
        y = cgrad.nn.functional.mse_loss(x, t, reduction="elementwise_mean")
    assert y.item() == 7.0
    with pytest.warns(UserWarning, match="elementwise_mean"):
        assert cgrad.nn.MSELoss(reduction="elementwise_mean")(x, t).item() == 7.0


def test_rms_norm_of_another_weight_dtype_keeps_the_inputs():
    """PyTorch's composite rms_norm: the result cast back to the input's dtype, with its
    warning (it was float64 for a float32 input)"""
    x, w = cgrad.randn(2, 3), cgrad.randn(3, dtype=cgrad.float64)
    with pytest.warns(UserWarning, match="Mismatch dtype between input and weight: input "
                                         "dtype = float, weight dtype = double"):
        y = cgrad.nn.functional.rms_norm(x, (3,), w)
    assert y.dtype == cgrad.float32
