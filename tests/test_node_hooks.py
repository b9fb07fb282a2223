"""Hooks on graph nodes (grad_fn.register_prehook / register_hook, and the same on a leaf's
AccumulateGrad node), their handles and grad_fn.metadata: the same calls, order, values and
errors as PyTorch's."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _order_log(lib):
    """which hook ran with what, for one backward through y = x * 2, z = y * 3, and for a
    leaf as the root"""
    log = []
    x = lib.ones(2, requires_grad=True)
    y = x * 2
    z = y * 3
    y.grad_fn.register_prehook(lambda go: log.append(("node pre", go[0].tolist())) or
                               (go[0] + 1,))
    y.register_hook(lambda g: log.append(("tensor", g.tolist())) or g * 10)
    y.retain_grad()
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append(("acc pre", go[0].tolist(), x.grad)) or
                         (go[0] * 2,))
    x.register_hook(lambda g: log.append(("leaf", g.tolist())) or g + 1)
    x.register_post_accumulate_grad_hook(lambda p: log.append(("post acc", p.grad.tolist())))
    acc.register_hook(lambda gi, go: log.append(("acc post", gi, go[0].tolist(),
                                                 x.grad.tolist())))
    y.grad_fn.register_hook(lambda gi, go: log.append(
        ("node post", [None if g is None else g.tolist() for g in gi], go[0].tolist())))
    z.sum().backward()
    log.append(("grads", y.grad.tolist(), x.grad.tolist()))
    x.grad = None
    x.backward(lib.ones(2))
    log.append(("root leaf", x.grad.tolist()))
    # autograd.grad adds into no .grad: a leaf's node hooks do not run, its tensor hooks do
    log.append(("grad", lib.autograd.grad((x * 2).sum(), x)[0].tolist()))
    return log


def test_hooks_run_in_torchs_order_with_torchs_values(backend):
    assert _order_log(cgrad) == _order_log(torch)


def _replaced(lib, create_graph):
    """x.grad and w.grad where a post hook scales grad_inputs, a pre hook grad_outputs and a
    leaf's node pre hook its gradient; broadcast inputs, so grad_inputs take input shapes"""
    x = lib.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    w = lib.tensor([[0.5, -1.0, 2.0, 3.0]], requires_grad=True)
    w.grad = lib.ones(1, 4)           # accumulated into: the in-place fast path must not skip
    shapes = []
    y = x * w

    def post(gi, go):
        shapes.append([tuple(g.shape) for g in gi] + [tuple(go[0].shape)])
        return gi[0] * 10, gi[1]
    y.grad_fn.register_hook(post)
    y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
    w.view_as(w).grad_fn.next_functions[0][0].register_prehook(lambda go: (go[0] * -1,))
    (y * y).sum().backward(create_graph=create_graph)
    out = [x.grad.detach().tolist(), w.grad.detach().tolist(), shapes]
    if create_graph:                  # the hooked gradients keep their graph
        x.grad.sum().backward()
        out.append(w.grad.detach().tolist())
    return out


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
@pytest.mark.parametrize("create_graph", [False, True])
def test_hooks_replace_gradients_as_in_torch(backend, create_graph):
    ours, theirs = _replaced(cgrad, create_graph), _replaced(torch, create_graph)
    assert ours[2] == theirs[2]
    for a, b in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    if create_graph:
        np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6)


def _removed(lib):
    calls = []
    x = lib.ones(3, requires_grad=True)
    acc = (x * 1).grad_fn.next_functions[0][0]
    y = x * 2
    h1 = y.grad_fn.register_hook(lambda gi, go: calls.append("post"))
    h2 = y.grad_fn.register_prehook(lambda go: calls.append("pre"))
    h3 = acc.register_prehook(lambda go: calls.append("acc pre"))
    with acc.register_hook(lambda gi, go: calls.append("acc post")):
        y.sum().backward(retain_graph=True)
    for h in (h1, h2, h3):
        h.remove()
        h.remove()                    # a second remove does nothing
    y.sum().backward()

    def once(gi, go):                 # a hook may remove itself as it runs
        calls.append("once")
        handle.remove()
    z = x * 3
    handle = z.grad_fn.register_hook(once)
    z.grad_fn.register_hook(lambda gi, go: calls.append("after once"))
    z.sum().backward(retain_graph=True)
    z.sum().backward()
    return calls, x.grad.tolist()


def test_handles_remove_hooks_as_in_torch(backend):
    assert _removed(cgrad) == _removed(torch)


def _error(lib, case):
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(3, requires_grad=True)
    y = x * w
    if case == "post count":
        y.grad_fn.register_hook(lambda gi, go: (gi[0],))
    elif case == "pre count":
        y.grad_fn.register_prehook(lambda go: (go[0], go[0]))
    elif case == "post size":
        y.grad_fn.register_hook(lambda gi, go: (gi[0][:2], gi[1]))
    elif case == "acc post count":
        x.view_as(x).grad_fn.next_functions[0][0].register_hook(lambda gi, go: go)
    with pytest.raises(Exception) as info:
        y.sum().backward()
    return info.type, str(info.value)


@pytest.mark.parametrize("case", ["post count", "pre count", "post size", "acc post count"])
def test_bad_hook_results_raise_as_in_torch(backend, case):
    assert _error(cgrad, case) == _error(torch, case)


def test_metadata_is_a_dict_kept_on_the_node(backend):
    x = cgrad.ones(2, requires_grad=True)
    y = x * 2
    y.grad_fn.metadata["name"] = "doubled"
    assert y.grad_fn.metadata == {"name": "doubled"}
    acc = y.grad_fn.next_functions[0][0]
    acc.metadata["leaf"] = True
    assert (x * 3).grad_fn.next_functions[0][0].metadata == {"leaf": True}   # one node a leaf
    assert torch.ones(1, requires_grad=True).mul(2).grad_fn.metadata == {}


def _module_backward_hook(lib):
    """nn.Module.register_backward_hook (the deprecated one) rides on the output's node"""
    seen = []

    class Scale(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.ones(3))

        def forward(self, x):
            return x * self.w

    m = Scale()
    m.register_backward_hook(lambda m, gi, go: seen.append(
        [tuple(g.shape) for g in gi] + [tuple(go[0].shape)]) or (gi[0] * 2, gi[1]))
    x = lib.ones(4, 3, requires_grad=True)
    m(x).sum().backward()
    return seen, x.grad.tolist(), m.w.grad.tolist()


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
def test_module_backward_hook_sees_the_nodes_gradients(backend):
    assert _module_backward_hook(cgrad) == _module_backward_hook(torch)


def _saved(lib):
    """grad_fn._saved_<name> as PyTorch's autograd notes show it: an input is that Tensor, the
    output a new Tensor with its values, a Python number a 0-d Tensor, None where unsaved"""
    x = lib.tensor([0.5, 1.5, 2.0], requires_grad=True)
    c = lib.tensor([2.0, -1.0, 4.0])
    a = lib.ones(2, 3, requires_grad=True)
    b = lib.ones(3, 4, requires_grad=True)
    out = []
    y = x * c
    out.append(("mul", y.grad_fn._saved_self is None, y.grad_fn._saved_other.tolist()))
    y = x * 2
    out.append(("mul by 2", y.grad_fn._saved_other.item(), y.grad_fn._saved_other.dim()))
    y = x.pow(3)
    out.append(("pow", y.grad_fn._saved_self is x, y.grad_fn._saved_exponent))
    y = x.exp()
    out.append(("exp", y.grad_fn._saved_result is y, y.grad_fn._saved_result.tolist() ==
                y.tolist()))
    for name in ("tanh", "sigmoid", "relu", "log", "sin", "sqrt", "abs"):
        node = getattr(x, name)().grad_fn
        out.append((name, [n for n in dir(node) if n.startswith("_saved_")]))
    y = x / c
    out.append(("div", y.grad_fn._saved_self, y.grad_fn._saved_other.tolist()))
    y = a @ b
    out.append(("mm", y.grad_fn._saved_self is a, y.grad_fn._saved_mat2 is b))
    y = x.exp()
    y.sum().backward()
    for name in ("_saved_result", "_saved_nothing"):
        with pytest.raises(Exception) as info:
            getattr(y.grad_fn, name)
        out.append((name, info.type, str(info.value)[:40]))
    return out


def test_saved_values_read_as_in_torch(backend):
    assert _saved(cgrad) == _saved(torch)


def _raw_saved(lib):
    """grad_fn._raw_saved_<name>.register_hooks(pack, unpack): pack at once, unpack at every
    read; the errors PyTorch raises; backward (and double backward) see the unpacked value"""
    log = []
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def pack(t):
        log.append(("pack", t.tolist()))
        return t.detach() * 1

    def unpack(p):
        log.append("unpack")
        return p

    def error(fn):
        with pytest.raises(Exception) as info:
            fn()
        log.append((info.type, str(info.value)))

    y = x.pow(2)
    y.grad_fn._raw_saved_self.register_hooks(pack, unpack)
    error(lambda: y.grad_fn._raw_saved_self.register_hooks(pack, unpack))
    log.append(y.grad_fn._saved_self.tolist())
    y.sum().backward()
    log.append(x.grad.tolist())
    error(lambda: y.grad_fn._raw_saved_self.register_hooks(pack, unpack))
    error(lambda: (x * lib.ones(3)).grad_fn._raw_saved_self.register_hooks(pack, unpack))
    y = x.exp()
    y.grad_fn._raw_saved_result.register_hooks(lambda t: 1, lambda p: 5)
    error(lambda: y.grad_fn._saved_result)
    x.grad = None
    y = x * x
    y.grad_fn._raw_saved_self.register_hooks(lambda t: t * 10, lambda p: p)
    y.sum().backward()
    log.append(x.grad.tolist())
    x.grad = None
    y = x.pow(3)
    y.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda p: p)
    g, = lib.autograd.grad(y.sum(), x, create_graph=True)
    g.sum().backward()
    log.append((g.tolist(), x.grad.tolist()))
    log.append([n for n in dir(y.grad_fn) if n.startswith(("_saved_", "_raw_saved_"))])
    return log


def test_raw_saved_tensor_hooks_as_in_torch(backend):
    assert _raw_saved(cgrad) == _raw_saved(torch)


def _function_hooks(lib):
    """node hooks on a custom Function's node: edges for its Tensor arguments only; with
    several outputs, one node for all (grad_outputs holds each output's, None for one that
    got none), hooks registered through any output's grad_fn; under create_graph too"""
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, c):
            ctx.k = k
            return x * k * c

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None, None

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    def fmt(ts):
        return [None if t is None else t.tolist() for t in ts]

    log = []
    x = lib.ones(2, requires_grad=True)
    y = Scale.apply(x, 5.0, lib.ones(2))
    log.append(len(y.grad_fn.next_functions))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", fmt(gi), fmt(go))) or
                            (gi[0] * 2,) + tuple(gi[1:]))
    y.sum().backward()
    log.append(x.grad.tolist())
    x.grad = None
    a, b = Two.apply(x)
    a.grad_fn.metadata["k"] = 1
    log.append(b.grad_fn.metadata)
    a.grad_fn.register_prehook(lambda go: log.append(("pre", fmt(go))) or (go[0] * 10, go[1]))
    b.grad_fn.register_hook(lambda gi, go: log.append(("two post", fmt(gi), fmt(go))))
    a.register_hook(lambda g: log.append(("a", g.tolist())))
    (a.sum() + 2 * b.sum()).backward()
    log.append(x.grad.tolist())
    x.grad = None
    a, b = Two.apply(x)
    a.grad_fn.register_hook(lambda gi, go: log.append(("one used", fmt(gi), fmt(go))))
    a.sum().backward()
    log.append(x.grad.tolist())
    a, b = Two.apply(x)
    a.grad_fn.register_hook(lambda gi, go: log.append(("recorded", fmt(gi), fmt(go))) or
                            (gi[0] * 3,))
    g, = lib.autograd.grad((a * a).sum() + b.sum(), x, create_graph=True)
    log.append((g.tolist(), g.requires_grad))
    return log


def test_function_node_hooks_as_in_torch(backend):
    assert _function_hooks(cgrad) == _function_hooks(torch)
