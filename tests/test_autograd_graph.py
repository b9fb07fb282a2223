"""autograd.graph's register_multi_grad_hook ("all" and "any") and get_gradient_edge /
GradientEdge as inputs of autograd.grad and backward, against torch.autograd.graph."""
import re

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _leaves(lib):
    g = torch.Generator().manual_seed(0)
    vals = [torch.rand(2, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    return [lib.tensor(v.numpy(), requires_grad=True) if lib is cgrad else
            v.clone().requires_grad_() for v in vals]


def _as_np(g):
    return None if g is None else g.detach().numpy().copy()    # (later sums may add into g)


def _multi_hook_log(lib, create_graph):
    """the calls of an "all" hook over a, b, c = a * b, d = a * b, e = x * 2 (x outside of
    the graph) through several backward calls, as (which grads, their values)"""
    a, b, x = _leaves(lib)
    c, d, e = a * b, a * b, x * 2
    log = []

    def fn(grads):
        log.append([_as_np(g) for g in grads])
    handle = lib.autograd.graph.register_multi_grad_hook((a, b, c, d, e), fn)
    (c * c).sum().backward(retain_graph=True, create_graph=create_graph)
    (c * c).sum().backward(inputs=(a,), retain_graph=True, create_graph=create_graph)
    (c + e).sum().backward(retain_graph=True, create_graph=create_graph)
    # autograd.grad cannot tell whether a leaf's hook will run: PyTorch refuses
    with pytest.raises(RuntimeError) as err:
        lib.autograd.grad((c * 3).sum(), (b,), retain_graph=True, create_graph=create_graph)
    log.append(str(err.value))
    handle.remove()
    (c + e).sum().backward(retain_graph=True, create_graph=create_graph)
    # over non-leaves only, autograd.grad calls it too
    lib.autograd.graph.register_multi_grad_hook((c, d, e), fn)
    lib.autograd.grad((c + d).sum(), (c, a), retain_graph=True, create_graph=create_graph)
    lib.autograd.grad((c * 2).sum(), (a,), retain_graph=True, create_graph=create_graph)
    return log


def _same_log(c_log, t_log):
    assert len(c_log) == len(t_log)
    for c_call, t_call in zip(c_log, t_log):
        if isinstance(t_call, str):
            assert c_call == t_call
            continue
        assert [g is None for g in c_call] == [g is None for g in t_call]
        for cg, tg in zip(c_call, t_call):
            if tg is not None:
                np.testing.assert_allclose(cg, tg, rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_multi_grad_hook_all(backend, create_graph):
    c_log, t_log = _multi_hook_log(cgrad, create_graph), _multi_hook_log(torch, create_graph)
    assert len(t_log) == 6
    _same_log(c_log, t_log)


def _any_hook_log(lib):
    a, b, x = _leaves(lib)
    c = a * b
    log = []
    handle = lib.autograd.graph.register_multi_grad_hook(
        (a, c, x.detach()), lambda g: log.append(_as_np(g)), mode="any")
    (c * c).sum().backward(retain_graph=True)       # c's gradient comes first
    (a * 5).sum().backward(retain_graph=True)       # only a's
    lib.autograd.grad((c * 2).sum(), a, retain_graph=True)
    handle.remove()
    (c * c).sum().backward()
    return log


def test_multi_grad_hook_any(backend):
    c_log, t_log = _any_hook_log(cgrad), _any_hook_log(torch)
    assert len(t_log) == 3
    for c, t in zip(c_log, t_log):
        np.testing.assert_allclose(c, t, rtol=1e-12)


def test_multi_grad_hook_all_within_a_reentrant_backward():
    """a hook's counts are per backward walk: one running inside another's hook keeps
    its own"""
    for lib in (cgrad, torch):
        a, b, _ = _leaves(lib)
        log = []
        lib.autograd.graph.register_multi_grad_hook(
            (a, b), lambda grads: log.append([g is not None for g in grads]))
        y = (a * b).sum()

        def inner(g):
            with lib.enable_grad():
                (a * 2 + b).sum().backward()
        y.register_hook(inner)
        y.backward()
        assert log == [[True, True], [True, True]]


def test_multi_grad_hook_mode_error():
    for lib in (cgrad, torch):
        a, _, _ = _leaves(lib)
        with pytest.raises(ValueError, match=re.escape(
                "Expects mode to be one of ('all', 'any') but got each")):
            lib.autograd.graph.register_multi_grad_hook((a,), print, mode="each")


def _edge_grads(lib, create_graph):
    a, b, x = _leaves(lib)
    get = lib.autograd.graph.get_gradient_edge
    c = a * b
    d = c.exp()
    out = []
    out += lib.autograd.grad(d.sum(), get(c), retain_graph=True, create_graph=create_graph)
    out += lib.autograd.grad(d.sum(), [a, get(a), get(b)], retain_graph=True,
                             create_graph=create_graph)
    out += lib.autograd.grad(d.sum(), [get(x)], allow_unused=True, retain_graph=True)
    d.sum().backward(inputs=[get(a)], retain_graph=True, create_graph=create_graph)
    d.sum().backward(inputs=[get(c), b], retain_graph=True, create_graph=create_graph)
    out += [a.grad, b.grad, x.grad]
    return out


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_edge_as_inputs(backend, create_graph):
    c_out, t_out = _edge_grads(cgrad, create_graph), _edge_grads(torch, create_graph)
    assert [g is None for g in c_out] == [g is None for g in t_out]
    for c, t in zip(c_out, t_out):
        if t is not None:
            assert (c.grad_fn is None) == (t.grad_fn is None)
            np.testing.assert_allclose(_as_np(c), _as_np(t), rtol=1e-12)


def test_gradient_edge_fields_and_errors():
    for lib in (cgrad, torch):
        graph = lib.autograd.graph
        a, b, x = _leaves(lib)
        c = a * b
        edge = graph.get_gradient_edge(c)
        assert graph.GradientEdge._fields == ("node", "output_nr", "ownership_token")
        assert edge.node is c.grad_fn and edge.output_nr == 0 and edge.ownership_token is None
        assert isinstance(edge, tuple) and edge == (c.grad_fn, 0, None)
        assert re.fullmatch(r"GradientEdge\(node=<MulBackward0 object at 0x[0-9a-f]+>, "
                            r"output_nr=0, ownership_token=None\)", repr(edge))
        leaf_edge = graph.get_gradient_edge(a)
        assert type(leaf_edge.node).__name__ == "AccumulateGrad" and leaf_edge.node.variable is a
        assert graph.get_gradient_edge(a).node is leaf_edge.node
        parts = (a * 1).split(1)
        assert [graph.get_gradient_edge(p).output_nr for p in parts] == [0, 1]
        with pytest.raises(AttributeError):
            edge.node = None
        with pytest.raises(RuntimeError, match="^It is not possible to get the gradient edge "
                           "for a Tensor that does not require gradients$"):
            graph.get_gradient_edge(x.detach())
        # only an unused edge has no shape to make zeros of
        used = lib.autograd.grad(c.exp().sum(), [edge, a], materialize_grads=True)
        assert used[0].shape == c.shape
        for create_graph in (False, True):
            with pytest.raises(RuntimeError, match="^materialize_grads cannot be used when the "
                               "given input is a GradientEdge$"):
                lib.autograd.grad(c.exp().sum(), [edge, graph.get_gradient_edge(x)],
                                  materialize_grads=True, create_graph=create_graph)
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            lib.autograd.grad(c.sum(), [graph.get_gradient_edge(x)])


def _mutation_cases(lib):
    """gradients through tensors changed in place after they were saved, under
    allow_mutation_on_saved_tensors"""
    out = []
    amst = lib.autograd.graph.allow_mutation_on_saved_tensors
    with amst() as ctx:
        assert type(ctx).__name__ == "_AllowMutationOnSavedContext"
        a = lib.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
        b = a.clone()
        loss = (b ** 2).sum()
        b.sin_()                                  # saved by pow: backward reads the old b
        loss.backward()
        out.append(a.grad)
    with amst():
        a = lib.tensor([0.3, 1.2], requires_grad=True)
        y = a.exp()
        y.mul_(2)                                 # exp's saved output changed
        y.sum().backward()
        out.append(a.grad)
    with amst():
        a = lib.tensor([1.5, -2.0], requires_grad=True)
        b = a * 1
        v = b[0:1]
        s = (v * v).sum()
        b.add_(1)                                 # through the base of a saved view
        s.backward()
        out.append(a.grad)
    with amst():                                  # nothing changed: second order works
        x = lib.tensor([0.7, -0.4], requires_grad=True)
        g, = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
        out += [g, *lib.autograd.grad(g.sum(), x)]
    return out


def test_allow_mutation_on_saved_tensors(backend):
    c_out, t_out = _mutation_cases(cgrad), _mutation_cases(torch)
    for c, t in zip(c_out, t_out):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-6)
    for lib in (cgrad, torch):
        amst = lib.autograd.graph.allow_mutation_on_saved_tensors
        with amst():
            a = lib.ones(2, requires_grad=True)
            loss = (a.clone() ** 2).sum()
        with pytest.raises(AssertionError, match=re.escape(
                "Trying to backward outside of the 'allow_mutation_on_saved_tensors' "
                "contextin which the graph was originally recorded.")):
            loss.backward()
        with pytest.raises(RuntimeError, match="^allow_mutation_on_saved_tensors contexts "
                           "cannot be nested$"):
            with amst():
                with amst():
                    pass
        b = a.clone()                             # outside of it, the usual error again
        loss = (b ** 2).sum()
        b.sin_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
