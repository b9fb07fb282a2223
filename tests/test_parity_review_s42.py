"""PyTorch parity findings of the s42 review sweep (an Intel AVX-512 host): float32 tanh at
every size in the compiled kernel, and rounded once on the NumPy backend (NumPy's AVX-512 loop
saturated early), nll_loss's ignored rows +0 on the NumPy backend, softplus never -0."""
import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F


def test_float32_tanh_saturates_and_its_gradient_vanishes(backend):
    """tanh rounds to 1 from x = 9.01 in float32: the value 1 and the gradient 0 at any size,
    on both backends. NumPy's AVX-512 tanh, which the compiled backend took below 8192
    elements and the NumPy backend at every size, gave 0.99999994 there, and 1 - y*y =
    1.2e-7."""
    for n in (3, 100, 10000):
        x = cgrad.full((n,), 9.5, requires_grad=True)
        y = cgrad.tanh(x)
        y.sum().backward()
        assert (y.detach().numpy() == 1).all() and (x.grad.numpy() == 0).all(), n
    xs = np.linspace(-6, 6, 2001).astype(np.float32)
    want = np.tanh(xs.astype(np.float64))
    got = cgrad.tanh(cgrad.tensor(xs[:50])).numpy()              # (a small tensor)
    assert np.abs(got - want[:50]).max() <= np.spacing(np.float32(1)) / 2


def test_float32_tanh_is_rounded_once_on_the_numpy_backend():
    """The reference backend's float32 tanh is tanh in double rounded once (NumPy's AVX-512
    float32 loop was an ulp off in a third of the values)."""
    from cgrad.backends import get_backend, set_backend
    before = get_backend()
    set_backend("numpy")
    try:
        xs = np.random.default_rng(0).uniform(-12, 12, 100000).astype(np.float32)
        want = np.tanh(xs.astype(np.float64)).astype(np.float32)
        np.testing.assert_array_equal(cgrad.tanh(cgrad.tensor(xs)).numpy(), want)
    finally:
        set_backend(before)


def test_nll_loss_ignored_rows_are_plus_zero(backend):
    x = cgrad.tensor([[-1., -2.], [-.5, -1.5], [-.3, -.2]], requires_grad=True)
    F.nll_loss(x, cgrad.tensor([0, -100, 1]), weight=cgrad.tensor([0.5, 2.0])).backward()
    grad = x.grad.numpy()
    assert grad[1].tolist() == [0.0, 0.0] and not np.signbit(grad[1]).any()
    assert np.signbit(grad[0, 0]) and not np.signbit(grad[0, 1])


def test_softplus_is_never_minus_zero(backend):
    for n in (7, 600):                      # (600: the compiled kernel on the Cython backend)
        for beta in (1.0, 2.0):
            y = F.softplus(cgrad.full((n,), -200.0), beta=beta).numpy()
            assert (y == 0).all() and not np.signbit(y).any(), (n, beta)
