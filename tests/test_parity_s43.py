"""PyTorch parity fixed in session 43: binary_cross_entropy's gradient in PyTorch's order
(the kernel on the undivided gradient, then over the count for "mean") and with its float
clamp 1e-12f; the NumPy backend's float32 exp and log rounded once."""
import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F


def _bce_grads(lib, functional, x, y, weight, reduction, upstream):
    xt = lib.tensor(x, requires_grad=True)
    yt = lib.tensor(y, requires_grad=True)
    w = None if weight is None else lib.tensor(weight)
    loss = functional.binary_cross_entropy(xt, yt, weight=w, reduction=reduction)
    loss.backward(lib.full_like(loss, upstream))
    return xt.grad.numpy(), yt.grad.numpy()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_gradient_in_pytorchs_order(backend, weighted, reduction):
    """d x = g (x - y) / max(x (1 - x), eps) [* w], and only then / numel for "mean": dividing
    g first gave a different last bit in about half of float32 values"""
    rng = np.random.default_rng(3)
    x, y, w = (rng.uniform(lo, hi, 999).astype(np.float32)
               for lo, hi in ((0.01, 0.99), (0, 1), (0.1, 2)))
    weight = w if weighted else None
    g = np.float32(0.7)
    gx, _ = _bce_grads(cgrad, F, x, y, weight, reduction, g)
    want = g * (x - y) / np.maximum((np.float32(1) - x) * x, np.float32(1e-12))
    if weighted:
        want = want * w
    if reduction == "mean":
        want = want / np.float32(x.size)
    np.testing.assert_array_equal(gx, want)
    torch = pytest.importorskip("torch")
    tx, ty = _bce_grads(torch, torch.nn.functional, x, y, weight, reduction, g)
    np.testing.assert_array_equal(gx, tx)


def test_bce_gradient_clamp_is_pytorchs_float_epsilon(backend):
    """PyTorch clamps x (1 - x) with its float constant 1e-12f, also in float64:
    1 / 9.99999996e-13, not 1 / 1e-12"""
    gx, _ = _bce_grads(cgrad, F, np.array([1e-13]), np.array([1.0]), None, "mean", 1.0)
    assert gx[0] == (1e-13 - 1) / float(np.float32(1e-12))
    assert gx[0] != (1e-13 - 1) / 1e-12


def test_bce_mean_gradient_float16_and_empty(backend):
    x = np.array([0.25, 0.5, 0.75], np.float16)
    gx, gy = _bce_grads(cgrad, F, x, np.array([0, 1, 1], np.float16), None, "mean", 1.0)
    assert gx.dtype == np.float16 and gy.dtype == np.float16
    xt = cgrad.zeros(0, requires_grad=True)
    F.binary_cross_entropy(xt, cgrad.zeros(0)).backward()
    assert xt.grad.shape == (0,)


@pytest.mark.parametrize("name", ["exp", "log", "tanh"])
def test_numpy_backend_float32_exp_log_tanh_are_rounded_once(name):
    """NumPy's own float32 exp and log on an AVX-512 host were up to 2-3 ulp off"""
    previous = cgrad.get_backend()
    cgrad.set_backend("numpy")
    try:
        xs = np.random.default_rng(1).uniform(0.001, 80, 100000).astype(np.float32)
        if name != "log":
            xs = xs - np.float32(40)
        want = getattr(np, name)(xs.astype(np.float64)).astype(np.float32)
        np.testing.assert_array_equal(getattr(cgrad, name)(cgrad.tensor(xs)).numpy(), want)
    finally:
        cgrad.set_backend(previous)


@pytest.mark.parametrize("alpha_dtype", [cgrad.float32, cgrad.float64])
def test_a_0d_tensor_alpha_or_value_is_a_number(backend, alpha_dtype):
    """PyTorch takes a 0-d tensor that needs no grad as a Number (LBFGS's step passes one):
    no part in type promotion, one rounding (x + alpha y by one multiply-add)"""
    rng = np.random.default_rng(0)
    x, y, z = (rng.standard_normal(5000).astype(np.float32) for _ in range(3))
    a = 0.013647444966318496
    alpha = cgrad.tensor(a, dtype=alpha_dtype)
    X, Y, Z = cgrad.tensor(x), cgrad.tensor(y), cgrad.tensor(z + 3)
    for got, want in ((X.add(Y, alpha=alpha), X.add(Y, alpha=alpha.item())),
                      (cgrad.sub(X, Y, alpha=alpha), X.sub(Y, alpha=alpha.item())),
                      (X.clone().add_(Y, alpha=alpha), X.clone().add_(Y, alpha=alpha.item())),
                      (X.addcmul(Y, Z, value=alpha), X.addcmul(Y, Z, value=alpha.item())),
                      (X.addcdiv(Y, Z, value=alpha), X.addcdiv(Y, Z, value=alpha.item()))):
        assert got.dtype == cgrad.float32
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    ints = cgrad.ones(3, dtype=cgrad.int64)
    assert ints.add(ints, alpha=cgrad.tensor(2)).tolist() == [3, 3, 3]


@pytest.mark.parametrize("alpha", [lambda: cgrad.tensor([0.5]),
                                   lambda: cgrad.tensor(0.5, requires_grad=True)])
def test_other_tensor_alphas_are_type_errors(alpha):
    x = cgrad.ones(3)
    with pytest.raises(TypeError, match=r"add\(\): argument 'alpha' must be Number, not Tensor"):
        x.add(x, alpha=alpha())
    with pytest.raises(TypeError, match=r"sub_\(\): argument 'alpha' must be Number, not Tensor"):
        x.sub_(x, alpha=alpha())
    with pytest.raises(TypeError, match=r"addcmul\(\): argument 'value' must be Number, not "):
        x.addcmul(x, x, value=alpha())
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
        x.add(x, alpha=cgrad.tensor(True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_recorded_gradient_has_the_same_bits(backend, reduction):
    """create_graph=True computes the gradient in the same order as the plain backward (and
    PyTorch, whose double-backward-capable path gives the bits of its first)"""
    rng = np.random.default_rng(0)
    x, y, w = (rng.uniform(lo, hi, 1000).astype(np.float32)
               for lo, hi in ((0.01, 0.99), (0, 1), (0.1, 2)))
    grads = []
    for create_graph in (False, True):
        xt = cgrad.tensor(x, requires_grad=True)
        loss = F.binary_cross_entropy(xt, cgrad.tensor(y), weight=cgrad.tensor(w),
                                      reduction=reduction)
        g, = cgrad.autograd.grad(loss.sum() if reduction == "none" else loss, [xt],
                                 create_graph=create_graph)
        grads.append(g.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
