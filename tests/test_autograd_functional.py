"""cgrad.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) against PyTorch's."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
A, B = RNG.standard_normal(3), RNG.standard_normal((2, 3))
V2, V3, V23 = RNG.standard_normal(2), RNG.standard_normal(3), RNG.standard_normal((2, 3))


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for el in x for y in _flat(el)]
    return [np.asarray(x.detach().numpy(), np.float64)]


def _both(call):
    """call(lib, F, x, W, T) on cgrad and torch, results flattened"""
    out = []
    for lib in (cgrad, torch):
        T = lambda a: lib.tensor(a, dtype=lib.float64)     # noqa: E731
        out.append(_flat(call(lib, lib.autograd.functional, T(A), T(B), T)))
    return out


CASES = {
    "jacobian": lambda lib, F, x, W, T: F.jacobian(lambda x: (W @ x).tanh(), x),
    "jacobian_tuple": lambda lib, F, x, W, T: F.jacobian(
        lambda x, W: ((W @ x).sin(), x.exp()), (x, W)),
    "jacobian_unused_input": lambda lib, F, x, W, T: F.jacobian(
        lambda x, W: x * 2, (x, W)),
    "jacobian_forward_mode": lambda lib, F, x, W, T: F.jacobian(
        lambda x, W: ((W @ x).sin(), x.exp()), (x, W), vectorize=True, strategy="forward-mode"),
    "jacobian_vectorize": lambda lib, F, x, W, T: F.jacobian(
        lambda x: (W @ x).tanh(), x, vectorize=True),
    "hessian": lambda lib, F, x, W, T: F.hessian(lambda x: (x.exp() * x).sum(), x),
    "hessian_forward_over_reverse": lambda lib, F, x, W, T: F.hessian(
        lambda x: (x.exp() * x).sum(), x, vectorize=True, outer_jacobian_strategy="forward-mode"),
    "hessian_tuple": lambda lib, F, x, W, T: F.hessian(
        lambda x, W: ((W @ x) ** 2).sum() + (W * W * W).sum(), (x, W)),
    "vjp": lambda lib, F, x, W, T: F.vjp(lambda x: (W @ x).tanh(), x, T(V2)),
    "vjp_tuple": lambda lib, F, x, W, T: F.vjp(lambda x, W: (W @ x).sigmoid(), (x, W), T(V2)),
    "vjp_scalar": lambda lib, F, x, W, T: F.vjp(lambda x: (x * x).sum(), x),
    "jvp": lambda lib, F, x, W, T: F.jvp(lambda x: (W @ x).tanh(), x, T(V3)),
    "jvp_tuple": lambda lib, F, x, W, T: F.jvp(lambda x, W: (W @ x, x.sin()), (x, W),
                                               (T(V3), T(V23))),
    "hvp": lambda lib, F, x, W, T: F.hvp(lambda x: ((W @ x).tanh() ** 2).sum(), x, T(V3)),
    "vhp": lambda lib, F, x, W, T: F.vhp(lambda x: ((W @ x).tanh() ** 2).sum(), x, T(V3)),
    "hvp_tuple": lambda lib, F, x, W, T: F.hvp(lambda x, W: ((W @ x).sin()).sum(), (x, W),
                                               (T(V3), T(V23))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(backend, name):
    got, want = _both(CASES[name])
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_create_graph_keeps_results_differentiable(backend):
    F = cgrad.autograd.functional
    x = cgrad.tensor(A, dtype=cgrad.float64, requires_grad=True)
    h = F.hessian(lambda x: (x ** 4).sum(), x, create_graph=True)
    assert h.requires_grad
    third, = cgrad.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(third.numpy(), 24 * A, rtol=1e-12)     # d/dx sum(12 x^2 I)
    assert not F.hessian(lambda x: (x ** 4).sum(), x).requires_grad
    assert x.grad is None                                  # the user's input is untouched


def test_errors_like_torch(backend):
    F = cgrad.autograd.functional
    x = cgrad.tensor(A)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match="invalid size"):
        F.jvp(lambda x: x * 2, x, cgrad.ones(4))
    with pytest.raises(RuntimeError, match="single element"):
        F.hessian(lambda x: x * 2, x)
    with pytest.raises(TypeError, match="Tensor or a tuple of Tensors"):
        F.jacobian(lambda x: x, [1.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda x, y: x * 2, (x, cgrad.tensor(A)), strict=True)


def test_output_shapes_and_strict_mode_like_torch(backend):
    for lib in (cgrad, torch):
        F = lib.autograd.functional
        x = lib.tensor(A)
        out, _ = F.vhp(lambda x: (x * x).sum().reshape(1), x, lib.ones(3, dtype=lib.float64))
        assert tuple(out.shape) == (1,)                       # not squeezed
        with pytest.raises(RuntimeError, match="independent of input 0. This is not allowed in "
                                               "strict mode when create_graph=True"):
            F.jacobian(lambda x: x * 2, x, create_graph=True, strict=True)
        with pytest.raises(RuntimeError, match="does not require gradients"):
            F.vjp(lambda x: lib.ones(3, dtype=lib.float64), x, lib.ones(3), strict=True)
        with pytest.raises(AssertionError, match="Expected strategy"):
            F.jacobian(lambda x: x, x, strategy="sideways")


def test_forward_mode_and_vectorize_conditions_like_torch(backend):
    """PyTorch's forward mode needs vectorize=True and refuses create_graph and strict, and
    vectorize refuses strict: the same exceptions, before func runs where PyTorch's do"""
    calls = []

    def f(x):
        calls.append(1)
        return x * 2

    for lib in (cgrad, torch):
        calls.clear()
        F = lib.autograd.functional
        x = lib.tensor(A)
        fwd = dict(strategy="forward-mode", vectorize=True)
        with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
            F.jacobian(f, x, strategy="forward-mode")
        with pytest.raises(NotImplementedError, match="`create_graph=True` and "
                                                      '`strategy="forward-mode"`'):
            F.jacobian(f, x, create_graph=True, **fwd)
        with pytest.raises(RuntimeError, match='`strict=True` and `strategy="forward-mode"`'):
            F.jacobian(f, x, strict=True, **fwd)
        with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
            F.hessian(lambda x: (x * x).sum(), x, outer_jacobian_strategy="forward-mode")
        with pytest.raises(AssertionError, match="Expected strategy"):
            F.hessian(lambda x: (x * x).sum(), x, outer_jacobian_strategy="sideways")
        assert not calls
        with pytest.raises(RuntimeError, match="`strict=True` and `vectorized=True`"):
            F.jacobian(f, x, strict=True, vectorize=True)
        jac = F.jacobian(f, x, **fwd)
        assert not jac.requires_grad
        np.testing.assert_array_equal(jac.numpy(), 2 * np.eye(3))
