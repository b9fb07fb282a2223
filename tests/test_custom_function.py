"""Custom autograd.Function as in PyTorch: saved-tensor version checks, several outputs, the
checks on what backward returns, freed graphs, mark_dirty and mark_non_differentiable."""
import gc
import weakref

import numpy as np
import pytest

import cgrad
from cgrad import autograd


def exp_fn(T):
    class MyExp(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)                  # its own output
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y
    return MyExp


def two_fn(T, materialize=True):
    class Two(T.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.set_materialize_grads(materialize)
            return a * 2, a + 1

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.seen = (g1, g2)
            return (g1 * 2 if g1 is not None else 0) + (g2 if g2 is not None else 0)
    return Two


def one_grad_fn(T, grads):
    """forward x * 2 (x and any extra arguments), backward returning grads(g)."""
    class MyFn(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, *rest):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return grads(T, g)
    return MyFn


def test_inplace_change_of_a_saved_output_raises(backend):
    x = cgrad.tensor([0.0, 1.0], requires_grad=True)
    y = exp_fn(cgrad).apply(x)
    assert y.grad_fn.saved_tensors[0] is not y             # an alias: no y <-> node cycle
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*MyExpBackward"
                                           ".*version 1; expected version 0"):
        y.sum().backward()


def test_inplace_change_of_a_saved_input_raises_and_an_unchanged_one_does_not(backend):
    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * g * x
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    Square.apply(h).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    y = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_is_freed_with_the_graph(backend):
    gc.disable()                                    # freed by reference counting alone
    try:
        x = cgrad.randn(5, requires_grad=True)
        y = exp_fn(cgrad).apply(x)
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None
    finally:
        gc.enable()


def test_several_outputs_match_pytorch(backend):
    torch = pytest.importorskip("torch")
    results = []
    for T in (torch, cgrad):
        a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        p, q = out = two_fn(T).apply(a)
        assert type(out) is tuple and p.grad_fn.name() == q.grad_fn.name() == "TwoBackward"
        p.retain_grad()
        q.register_hook(lambda g: g * 10)
        (p.sum() + (q * 3).sum()).backward()
        results.append((a.grad.tolist(), p.grad.tolist()))
        a.grad = None
        p, q = two_fn(T).apply(a)
        p.sum().backward()                           # q unused: its gradient is zeros
        assert p.grad_fn.seen[1].tolist() == [0.0, 0.0, 0.0]
        results.append(a.grad.tolist())
    assert results[:2] == results[2:] == [([32.0] * 3, [1.0] * 3), [2.0] * 3]


def test_several_outputs_without_materialized_grads_get_none(backend):
    a = cgrad.ones(3, requires_grad=True)
    p, q = two_fn(cgrad, materialize=False).apply(a)
    q.sum().backward()
    g1, g2 = q.grad_fn.seen
    assert g1 is None and g2.tolist() == [1.0, 1.0, 1.0]
    assert a.grad.tolist() == [1.0, 1.0, 1.0]


def test_several_outputs_backward_twice_with_retain_graph(backend):
    a = cgrad.ones(2, requires_grad=True)
    p, q = two_fn(cgrad).apply(a)
    loss = p.sum() + q.sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert a.grad.tolist() == [6.0, 6.0]
    p, q = two_fn(cgrad).apply(a)
    g, = autograd.grad(q.sum(), [a])
    assert g.tolist() == [1.0, 1.0]


def test_non_tensor_and_non_differentiable_outputs(backend):
    class Mixed(autograd.Function):
        @staticmethod
        def forward(ctx, a):
            mask = (a > 0).float()
            ctx.mark_non_differentiable(mask)
            return a * 2, mask, 3, None, a.long()

        @staticmethod
        def backward(ctx, g, g_mask, g3, g_none, g_long):
            ctx.seen = (g_mask, g3, g_none, g_long)
            return g * 2
    a = cgrad.tensor([-1.0, 2.0], requires_grad=True)
    y, mask, three, none, ints = Mixed.apply(a)
    assert (three, none) == (3, None)
    assert not mask.requires_grad and mask.grad_fn is None and not ints.requires_grad
    y.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]
    g_mask, g3, g_none, g_long = y.grad_fn.seen
    assert g_mask.tolist() == [0.0, 0.0] and g3 is None and g_none is None
    assert g_long.tolist() == [0, 0]


def test_trailing_none_gradients_are_allowed(backend):
    x = cgrad.ones(3, requires_grad=True)
    one_grad_fn(cgrad, lambda T, g: (g * 2, None, None)).apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("grads, extra, message", [
    (lambda T, g: (g, g), (), r"incorrect number of gradients \(expected 1, got 2\)"),
    (lambda T, g: g, (3,), r"incorrect number of gradients \(expected 2, got 1\)"),
    (lambda T, g: (g, g), (3,), "different than None at position 2, but the corresponding "
                                "forward input was not a Variable"),
    (lambda T, g: 1.0, (), r"expected Variable or None \(got float\)"),
    (lambda T, g: T.ones(5), (), r"invalid gradient at index 0 - got \[5\] but expected shape "
                                 r"compatible with \[3\]"),
    (lambda T, g: T.tensor(2.0), (), r"invalid gradient at index 0 - got \[\] but expected"),
])
def test_bad_gradients_raise_pytorchs_runtime_error(backend, grads, extra, message):
    torch = pytest.importorskip("torch")
    for T in (torch, cgrad):
        x = T.ones(3, requires_grad=True)
        y = one_grad_fn(T, grads).apply(x, *extra).sum()
        with pytest.raises(RuntimeError, match=message):
            y.backward()


def test_gradients_that_broadcast_are_summed_and_cast(backend):
    x = cgrad.ones(3, requires_grad=True)
    one_grad_fn(cgrad, lambda T, g: T.ones(2, 3, dtype=T.float64)).apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and x.grad.dtype == cgrad.float32
    w = cgrad.ones(3)                                  # needs no gradient: what it gets is unused
    x.grad = None
    one_grad_fn(cgrad, lambda T, g: (g, T.ones(7))).apply(x, w).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_second_backward_through_freed_saved_tensors_raises(backend):
    class Saved(autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return g * 2
    a = cgrad.ones(3, requires_grad=True)
    y = Saved.apply(a).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert a.grad.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="already been freed"):
        y.grad_fn.next_functions[0][0].saved_tensors
    b = cgrad.ones(3, requires_grad=True)              # nothing saved: may run again
    z = one_grad_fn(cgrad, lambda T, g: g).apply(b).sum()
    z.backward()
    z.backward()
    assert b.grad.tolist() == [2.0, 2.0, 2.0]


class AddOne(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_mark_dirty_matches_pytorch(backend):
    torch = pytest.importorskip("torch")
    seen = []
    for T, Fn in ((torch, None), (cgrad, AddOne)):
        if Fn is None:
            Fn = type("AddOne", (torch.autograd.Function,), {
                "forward": AddOne.forward, "backward": AddOne.backward})
        a = T.ones(3, requires_grad=True)
        b = a * 2
        before = b.grad_fn
        c = Fn.apply(b)
        assert c is b and b.grad_fn.name() == "AddOneBackward"
        assert b.grad_fn.next_functions[0][0] is before
        c.sum().backward()
        seen.append((b.tolist(), b._version, a.grad.tolist()))
        plain = T.ones(3)
        assert Fn.apply(plain) is plain and not plain.requires_grad
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            Fn.apply(T.ones(3, requires_grad=True))
    assert seen[0] == seen[1] == ([3.0] * 3, 2, [6.0] * 3)


def test_mark_dirty_breaks_an_earlier_ops_saved_input_and_must_be_returned(backend):
    a = cgrad.ones(3, requires_grad=True)
    b = a * 1
    d = b * b                                       # saves b
    AddOne.apply(b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        d.sum().backward()

    class NotReturned(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 2
    with pytest.raises(RuntimeError, match="marked as dirty .* not returned as output"):
        NotReturned.apply(a * 1)


def test_an_input_returned_unmarked_is_a_new_tensor_with_this_node(backend):
    class Id(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3
    x = cgrad.ones(2, requires_grad=True)
    y = Id.apply(x)
    assert y is not x and x.grad_fn is None and y.grad_fn.name() == "IdBackward"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_ctx_needs_input_grad_saved_tensors_and_non_tensor_args(backend):
    class Scale(autograd.Function):
        @staticmethod
        def forward(ctx, x, k, w, z=None):
            ctx.k = k
            ctx.save_for_backward(w, None)
            ctx.needs = ctx.needs_input_grad
            return x * k * w

        @staticmethod
        def backward(ctx, g):
            w, none = ctx.saved_tensors
            assert none is None
            return g * ctx.k * w, None, None, None
    x = cgrad.ones(2, requires_grad=True)
    w = cgrad.tensor([2.0, 3.0])
    y = Scale.apply(x, 5, w, None)
    assert y.grad_fn.needs == (True, False, False, False)
    y.sum().backward()
    assert x.grad.tolist() == [10.0, 15.0]
    with cgrad.no_grad():
        assert not Scale.apply(x, 5, w).requires_grad
    with pytest.raises(TypeError, match="can only save variables, but argument 0 is of type int"):
        autograd.function.FunctionCtx().save_for_backward(3)


def _setup_context_fns(T):
    """PyTorch 2's form: forward without ctx, setup_context(ctx, inputs, output) after it"""
    class Cube(T.autograd.Function):
        @staticmethod
        def forward(x, scale=2.0):
            return x ** 3 * scale, 3 * x ** 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.scale = scale
            ctx.save_for_backward(x, output[1])
            ctx.mark_non_differentiable(output[1])

        @staticmethod
        def backward(ctx, g, g_dx):
            x, dx = ctx.saved_tensors            # (dx: a saved output, unused but checked)
            return g * 3 * x * x * ctx.scale, None

    class Scale(T.autograd.Function):          # an input modified in place, marked dirty
        @staticmethod
        def forward(x, k):
            return x.mul_(k)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.mark_dirty(inputs[0])
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None
    return Cube, Scale


def _setup_context_run(T):
    Cube, Scale = _setup_context_fns(T)
    x = T.tensor([1.0, -2.0, 0.5], requires_grad=True)
    out = []
    for kwargs in ({}, {"scale": 0.5}):
        y, dx = Cube.apply(x, **kwargs)
        g, = T.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        out += [y.tolist(), dx.tolist(), dx.requires_grad, g.tolist(), x.grad.tolist()]
        x.grad = None
    z = x * 1
    w = Scale.apply(z, 3.0)
    w.sum().backward()
    out += [w is z, type(w.grad_fn).__name__, x.grad.tolist()]
    return out


def test_setup_context_form_matches_pytorch(backend):
    torch = pytest.importorskip("torch")
    assert _setup_context_run(cgrad) == _setup_context_run(torch)


def _vjp_run(T):
    class Double(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):                         # PyTorch's alias of backward
            return g * 2

    class Both(Double):
        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = T.ones(2, requires_grad=True)
    Double.apply(x).sum().backward()
    with pytest.raises(RuntimeError) as info:
        Both.apply(x).sum().backward()
    return x.grad.tolist(), str(info.value)


def test_vjp_is_backwards_alias_as_in_pytorch(backend):
    torch = pytest.importorskip("torch")
    assert _vjp_run(cgrad) == _vjp_run(torch)
