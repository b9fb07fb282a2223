"""Differences found by running cgrad's functional autograd APIs side by side with PyTorch's:
torch.func transforms, torch.autograd.functional, autograd.grad, forward_ad under no_grad,
gradcheck, saved-tensor hooks and checkpoint under create_graph. Each test runs the same code
on cgrad and torch and compares values, or the exception class and message."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
import torch.func  # noqa: E402  (after the skip)
import torch.utils.checkpoint  # noqa: E402
from test_nn_layers import _raises_like_torch as _raises_like  # noqa: E402

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)
T3 = RNG.standard_normal((3, 3)).astype(np.float32)
U3 = RNG.standard_normal((3, 3)).astype(np.float32)


def _close(c, t, rtol=1e-5, atol=1e-6):
    """c (cgrad) equals t (torch) through the same nesting; None where torch has None"""
    if t is None:
        assert c is None
    elif isinstance(t, torch.Tensor):
        assert isinstance(c, cgrad.Tensor) and tuple(c.shape) == tuple(t.shape)
        assert c.requires_grad == t.requires_grad
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    else:
        assert type(c) is type(t) and len(c) == len(t)
        for a, b in zip(c, t):
            _close(a, b, rtol, atol)


def _both(case):
    """case(lib) for cgrad and for torch"""
    return case(cgrad), case(torch)


# ---- torch.func --------------------------------------------------------------------------------
def test_output_independent_of_the_differentiated_inputs_gives_zeros(backend):
    _close(*_both(lambda lib: lib.func.grad(lambda x, y: x.sum(), argnums=1)(
        lib.tensor(A), lib.tensor(B))))
    _close(*_both(lambda lib: lib.func.jacrev(lambda x, y: x * 2, argnums=1)(
        lib.tensor(B), lib.tensor(B))))

    def vjp(lib):
        _, fn = lib.func.vjp(lambda x: lib.ones(3), lib.tensor(B))
        return fn(lib.ones(3))
    _close(*_both(vjp))


def test_transforms_check_their_arguments_as_torch(backend):
    cases = [
        lambda lib: lib.func.grad(lambda x: ((x ** 2).sum(), 3), has_aux=True)(lib.tensor(B)),
        lambda lib: lib.func.vjp(lambda x: (x, {"a": None}), lib.tensor(B), has_aux=True),
        lambda lib: lib.func.grad(lambda x, y: (x * y).sum(), argnums=(0, -2))(
            lib.tensor(B), lib.tensor(B)),
        lambda lib: lib.func.vjp(lambda x: (x > 0).long(), lib.tensor(B)),
        lambda lib: lib.func.jacrev(lambda x: x > 0)(lib.tensor(B)),
        lambda lib: lib.func.jacrev(lambda x: x, chunk_size=0),
        lambda lib: lib.vmap(lambda x: x, chunk_size=-1),
        lambda lib: lib.func.jacfwd(lambda x: x * lib.rand(4))(lib.tensor(B)),
        lambda lib: lib.func.jvp(lambda x: x, (lib.tensor([1, 2]),), (lib.tensor([1.0, 2.0]),)),
        lambda lib: lib.func.jvp(lambda x: x, (lib.tensor(B),), (lib.tensor([1, 2, 3, 4]),)),
        lambda lib: lib.func.jvp(lambda: lib.ones(2), (), ()),
        lambda lib: lib.func.jvp(lambda x: 3.0, (lib.tensor(B),), (lib.tensor(B),)),
        lambda lib: lib.func.jvp(lambda x: x, (lib.tensor(B),), (2.0,)),
        lambda lib: lib.func.jvp(lambda x: (), (lib.tensor(B),), (lib.tensor(B),)),
        lambda lib: lib.func.jvp(lambda x, y: x, (lib.tensor(B), lib.tensor(B)),
                                 (lib.tensor(B),)),
    ]
    for case in cases:
        _raises_like(lambda: case(cgrad), lambda: case(torch))


def test_jacfwd_randomness_same_and_different_allow_random_ops(backend):
    for randomness in ("same", "different"):
        c, t = _both(lambda lib: lib.func.jacfwd(lambda x: x * lib.rand(4),
                                                 randomness=randomness)(lib.tensor(B)))
        assert c.shape == t.shape


def _net(lib):
    net = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Tanh(), lib.nn.Linear(3, 1))
    with lib.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(lib.tensor(np.sin(np.arange(p.numel()) + i).reshape(p.shape)
                               .astype(np.float32)))
    return net


@pytest.mark.parametrize("transform", ["grad", "vjp", "jacrev", "jvp", "hessian", "vmap_grad"])
def test_results_keep_the_graph_of_parameters_func_closes_over(backend, transform):
    """a gradient penalty by torch.func: the transform's result, differentiated by backward,
    reaches the module's parameters (cgrad detached it)"""
    def case(lib):
        net, x = _net(lib), lib.tensor(A)
        if transform == "grad":
            out = lib.func.grad(lambda x: net(x).sum())(x)
        elif transform == "vjp":
            out = lib.func.vjp(net, x)[1](lib.ones(3, 1))[0]
        elif transform == "jacrev":
            out = lib.func.jacrev(lambda x: net(x).squeeze(-1))(x)
        elif transform == "jvp":
            out = lib.func.jvp(net, (x,), (lib.ones(3, 4),))[1]
        elif transform == "hessian":
            out = lib.func.hessian(lambda x: net(x).sum())(x[0])
        else:
            out = lib.vmap(lib.func.grad(lambda x: net(x).sum()))(x)
        (out ** 2).sum().backward()
        return [out] + [p.grad for p in net.parameters()]
    _close(*_both(case), rtol=1e-4, atol=1e-5)


def test_results_stay_detached_without_such_a_parameter_or_under_no_grad(backend):
    def case(lib):
        net, x = _net(lib), lib.tensor(A)
        g = lib.func.grad(lambda x: (x.sin() * 2).sum())(x)
        with lib.no_grad():
            h = lib.func.grad(lambda x: net(x).sum())(x)
        return g, h
    _close(*_both(case))


def test_transforms_under_no_grad_of_an_input_that_requires_grad(backend):
    """a transform ignores an outer no_grad (cgrad's leaf, a view of the input made there,
    was not recorded: 'does not require grad')"""
    def case(lib):
        x = lib.tensor(B, requires_grad=True)
        f = lambda x: (x ** 3).sum()                     # noqa: E731
        with lib.no_grad():
            return (lib.func.grad(f)(x), lib.func.jacrev(lambda x: x.sin())(x),
                    lib.func.vjp(lambda x: x ** 3, x)[1](lib.ones(4)),
                    lib.func.jvp(lambda x: x ** 3, (x,), (lib.ones(4),)),
                    lib.func.hessian(f)(x))
    _close(*_both(case))


# ---- autograd.grad / backward, autograd.functional ---------------------------------------------
def test_fewer_grad_outputs_than_outputs_raise(backend):
    def grad(lib):
        x = lib.tensor(B, requires_grad=True)
        return lib.autograd.grad([(x * 2).sum(), x.sum()], x, [lib.tensor(1.0)])

    def backward(lib):
        x = lib.tensor(B, requires_grad=True)
        lib.autograd.backward([(x * 2).sum(), x.sum()], [lib.tensor(1.0)])
    for call in (grad, backward):
        _raises_like(lambda: call(cgrad), lambda: call(torch))


def test_functional_refuses_lists_and_forward_mode_nests_lists(backend):
    fn = lambda x, y: ((x @ y).exp(), x.sum() * y)          # noqa: E731
    for call in (lambda lib: lib.autograd.functional.vjp(fn, [lib.tensor(A), lib.tensor(B)]),
                 lambda lib: lib.autograd.functional.jacobian(lambda x: x * 2, [lib.tensor(B)])):
        _raises_like(lambda: call(cgrad), lambda: call(torch))
    for f, inputs in ((fn, (A, B)), (lambda x: (x * 2, x * 3), B), (lambda x, y: x * y, (B, B)),
                      (lambda x: x.sin(), B)):
        def jac(lib, f=f, inputs=inputs):
            args = (tuple(lib.tensor(a) for a in inputs) if isinstance(inputs, tuple)
                    else lib.tensor(inputs))
            return lib.autograd.functional.jacobian(f, args, vectorize=True,
                                                    strategy="forward-mode")
        _close(*_both(jac))


# ---- gradcheck ---------------------------------------------------------------------------------
def test_gradcheck_needs_an_input_requiring_grad(backend):
    call = lambda lib: lib.autograd.gradcheck(                            # noqa: E731
        lambda x: x.sin(), (lib.tensor(B.astype(np.float64)),))
    _raises_like(lambda: call(cgrad), lambda: call(torch))


def test_gradcheck_of_outputs_that_require_no_grad(backend):
    """their finite differences must be zero: x.detach() * 2 fails, a constant passes"""
    x = lambda lib: lib.tensor(B.astype(np.float64), requires_grad=True)  # noqa: E731
    failing = lambda lib, **kw: lib.autograd.gradcheck(                    # noqa: E731
        lambda x: x.detach() * 2, (x(lib),), **kw)
    with pytest.raises(RuntimeError) as t_err:
        failing(torch)
    assert type(t_err.value).__name__ == "GradcheckError"
    with pytest.raises(cgrad.autograd.GradcheckError, match=str(t_err.value)):
        failing(cgrad)
    assert failing(cgrad, raise_exception=False) is failing(torch, raise_exception=False) is False
    for lib in (cgrad, torch):
        assert lib.autograd.gradcheck(lambda x: x.detach() * 0, (x(lib),)) is True


# ---- saved tensors hooks and checkpoint under create_graph -------------------------------------
def test_double_backward_through_saved_tensors_hooks(backend):
    def case(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 1, lambda t: t):
            y = (x.pow(3) * x.sin()).exp().sum()
        g, = lib.autograd.grad(y, x, create_graph=True)
        return g, lib.autograd.grad(g.sum(), x)
    _close(*_both(case), rtol=1e-4)


def test_double_backward_through_a_non_reentrant_checkpoint(backend):
    def case(lib):
        x = lib.tensor(A, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(lambda a: a.pow(3).tanh(), x, use_reentrant=False)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        return g, lib.autograd.grad(g.sum(), x)
    _close(*_both(case), rtol=1e-4, atol=1e-5)


# ---- forward AD under no_grad ------------------------------------------------------------------
def _lin(lib):
    m = lib.nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3).astype(np.float32) / 10))
        m.bias.fill_(0.3)
    return m


NO_GRAD_CASES = {
    "sin": lambda lib, d: d.sin(),
    "matmul": lambda lib, d: d @ d.t(),
    "softmax": lambda lib, d: d.softmax(-1),
    "layer_norm": lambda lib, d: lib.nn.functional.layer_norm(d, (3,)),
    "0-d ops": lambda lib, d: d.sum() * 2 + d.mean() / d[0, 0],
    "in place": lambda lib, d: d.clone().mul_(2).sin_(),
    "into a plain tensor": lambda lib, d: lib.ones(3, 3).mul_(d).add_(1),
    "setitem": lambda lib, d: _setitem(lib.zeros(3, 3), 0, d[1]),
    "det (a Function)": lambda lib, d: lib.linalg.det(d),
    "module": lambda lib, d: _lin(lib)(d).relu(),
    "cross_entropy": lambda lib, d: lib.nn.functional.cross_entropy(d, lib.tensor([0, 1, 2])),
}


def _setitem(t, key, value):
    t[key] = value
    return t


@pytest.mark.parametrize("name", list(NO_GRAD_CASES))
def test_forward_ad_tangents_under_no_grad(backend, name):
    """PyTorch's forward mode runs under no_grad (cgrad gave no tangent); the results
    require no grad"""
    def case(lib):
        ad = lib.autograd.forward_ad
        with ad.dual_level():
            d = ad.make_dual(lib.tensor(T3), lib.tensor(U3))
            with lib.no_grad():
                y = NO_GRAD_CASES[name](lib, d)
            primal, tangent = ad.unpack_dual(y)
            z = ad.unpack_dual(y * 3).tangent          # and on, outside no_grad
            return primal, tangent, z, y.requires_grad
    c, t = _both(case)
    _close(c[:3], t[:3], rtol=1e-4, atol=1e-5)
    assert c[3] is t[3] is False


def test_forward_ad_no_grad_tangents_end_with_the_level(backend):
    def case(lib):
        ad = lib.autograd.forward_ad
        with ad.dual_level():
            d = ad.make_dual(lib.tensor(T3), lib.tensor(U3))
            with lib.no_grad():
                y = d.exp()
        with ad.dual_level():
            return ad.unpack_dual(y * 2).tangent, ad.unpack_dual(y).tangent
    _close(*_both(case))


def test_forward_ad_unpack_dual_of_a_non_tensor(backend):
    def case(lib):
        ad = lib.autograd.forward_ad
        assert ad.unpack_dual(3.0) == (3.0, None)           # no level: as it is
        with ad.dual_level():
            ad.unpack_dual(3.0)
    _raises_like(lambda: case(cgrad), lambda: case(torch))


# ---- jvp by the double-backward trick where a backward formula has no derivative at g = 0 ------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp_jvp(backend, dim):
    """its backward works in logs of |g|, flat at g = 0, where the double-backward trick
    differentiates it: func.jvp gave NaN"""
    x = np.array([[1.0, 5.0, -3.0, 2.0], [0.5, 0.0, 0.0, -1.0]])
    t = RNG.standard_normal(x.shape)

    def case(lib):
        f = lambda x: x.logcumsumexp(dim)               # noqa: E731
        jvp = lib.func.jvp(f, (lib.tensor(x),), (lib.tensor(t),))[1]
        ad = lib.autograd.forward_ad
        with ad.dual_level():
            fwd = ad.unpack_dual(f(ad.make_dual(lib.tensor(x), lib.tensor(t)))).tangent
        # (PyTorch's hvp takes the same trick and gives NaN: its vhp, equal for a Hessian)
        product = lib.autograd.functional.hvp if lib is cgrad else lib.autograd.functional.vhp
        return jvp, fwd, product(lambda x: f(x).exp().sum(), lib.tensor(x), lib.tensor(t))[1]
    _close(*_both(case), rtol=1e-6, atol=1e-8)
    x64 = cgrad.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert cgrad.autograd.gradgradcheck(lambda x: x.logcumsumexp(dim), (x64,))
