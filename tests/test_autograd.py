"""The autograd engine: accumulation, graph freeing, hooks, version counters, grad mode."""
import gc
import threading
import weakref

import numpy as np
import pytest

import cgrad
from cgrad import autograd


def test_long_chain_backpropagates_without_recursion(backend):
    x = cgrad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_backward_accumulates_into_existing_grad_in_place(backend):
    w = cgrad.randn(5, 3, requires_grad=True)
    x = cgrad.randn(4, 5)
    (x @ w).sum().backward()
    buffer = w.grad._data
    first = buffer.copy()
    (x @ w).sum().backward()
    assert w.grad._data is buffer                      # same buffer, no reallocation
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-6)


def test_backward_twice_without_zeroing_doubles_the_gradient(backend):
    w = cgrad.tensor(4.0, requires_grad=True)
    for expected in (3.0, 6.0, 9.0):
        (w * 3.0 + 5.0).backward()
        assert w.grad.item() == expected


def test_second_backward_through_freed_graph_raises(backend):
    w = cgrad.tensor(4.0, requires_grad=True)
    y = w * w
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward(backend):
    w = cgrad.tensor(4.0, requires_grad=True)
    y = (w * w).exp().log()
    y.backward(retain_graph=True)
    y.backward()
    assert w.grad.item() == pytest.approx(16.0)


def test_graph_without_saved_values_can_backward_twice_like_torch(backend):
    a = cgrad.tensor(1.0, requires_grad=True)
    y = a + 2
    y.backward()
    y.backward()
    assert a.grad.item() == 2.0


def test_inplace_change_of_saved_tensor_is_detected(backend):
    a = cgrad.randn(3, requires_grad=True)
    b = a * 2
    c = b * b          # saves b
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_change_through_a_view_is_detected(backend):
    a = cgrad.randn(3, 4, requires_grad=True)
    b = a.exp()        # saves its output b
    with cgrad.no_grad():
        b[0].zero_()  # writes b through a view: same version counter
    with pytest.raises(RuntimeError, match="version"):
        b.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad(backend):
    w = cgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 5.0
    with cgrad.no_grad():
        w.add_(1)
        w.mul_(2)
    assert w.tolist() == [4.0, 4.0, 4.0]


def test_inplace_on_non_leaf_is_recorded(backend):
    a = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 2
    b.mul_(b * 1)          # b = (2a)^2 -> db/da = 8a  (b.mul_(b) raises in PyTorch too)
    b.add_(a, alpha=3)     # + 3a
    assert b.grad_fn.name() == "AddBackward0"
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 8 * np.array([1, 2, 3]) + 3)


def test_setitem_with_autograd(backend):
    a = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cgrad.tensor(10.0, requires_grad=True)
    b = a * 1
    b[1] = v * 2
    (b * cgrad.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 3.0]
    assert v.grad.item() == 4.0


def test_non_scalar_backward_needs_gradient(backend):
    x = cgrad.randn(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs.*\[2, 3\]"):
        y.backward()
    y.backward(cgrad.ones(2, 3))
    assert np.all(x.grad.numpy() == 2)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(cgrad.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cgrad.ones(2).sum().backward()


def test_no_grad_enable_grad_and_set_grad_enabled():
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.no_grad():
        assert not cgrad.is_grad_enabled()
        y = x * 2
        with cgrad.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    cgrad.set_grad_enabled(False)
    assert (x * 2).grad_fn is None
    cgrad.set_grad_enabled(True)
    with cgrad.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert cgrad.is_grad_enabled()

    @cgrad.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(cgrad.is_grad_enabled())
    with cgrad.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True]


def test_detach_and_requires_grad_():
    x = cgrad.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = cgrad.ones(2)
    assert y.requires_grad_() is y and y.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        cgrad.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf variables"):
        (x * 2).requires_grad_(False)


def test_retain_grad_and_non_leaf_grad(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = y * y
    z.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf "
                                         "Tensor is being accessed"):
        assert (x * 2).grad is None


def test_requires_grad_flags_of_non_leaves():
    """PyTorch's rules: a non-leaf's requires_grad = True raises (the attribute), as does
    setting False either way; requires_grad_(True) passes (it already requires grad)"""
    y = cgrad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"^you can only change requires_grad flags of leaf "
                                           r"variables\.$"):
        y.requires_grad = True
    assert y.requires_grad_(True) is y and y.requires_grad
    for turn_off in (lambda: setattr(y, "requires_grad", False), lambda: y.requires_grad_(False)):
        with pytest.raises(RuntimeError, match="use var_no_grad = var.detach()"):
            turn_off()
    leaf = cgrad.ones(2)
    leaf.requires_grad = True
    assert leaf.requires_grad and leaf.is_leaf


def test_tensor_of_tensors_as_pytorch_reads_them():
    """a Tensor inside a sequence is its one element (any shape of one element); more or
    fewer raise PyTorch's ValueError, at any depth; tensor(a_tensor) copies it whole, with
    PyTorch's warning"""
    assert cgrad.tensor([cgrad.tensor([1.0]), cgrad.ones(1, 1) * 2]).tolist() == [1.0, 2.0]
    mixed = cgrad.tensor([[cgrad.tensor(1), 2.5]])
    assert mixed.shape == (1, 2) and mixed.dtype == cgrad.float32
    for data in ([cgrad.ones(2), cgrad.ones(2)], [[cgrad.ones(2)]], [cgrad.ones(0)]):
        with pytest.raises(ValueError, match="only one element tensors can be converted to "
                                             "Python scalars"):
            cgrad.tensor(data)
    for data in ([cgrad.tensor(1.7)], [cgrad.ones(2)], [[cgrad.tensor(1.5), 2]]):
        with pytest.raises(TypeError, match="only integer tensors of a single element can be "
                                            "converted to an index"):
            cgrad.tensor(data, dtype=cgrad.int64)       # (an integral dtype: PyTorch's index)
    assert cgrad.tensor([cgrad.tensor(True), cgrad.tensor(3)], dtype=cgrad.int64).tolist() == \
        [1, 3]
    assert cgrad.tensor([cgrad.tensor(2)], dtype=cgrad.float32).tolist() == [2.0]
    with pytest.raises(RuntimeError, match="Tensor.item\\(\\) cannot be called on meta tensors"):
        cgrad.tensor([cgrad.ones(1, device="meta"), 1.0])     # (it read 0.0)
    source = cgrad.ones(2, 3, requires_grad=True)
    with pytest.warns(UserWarning, match=r"recommended to use sourceTensor\.detach\(\)"):
        copy = cgrad.tensor(source)
    assert copy.shape == (2, 3) and not copy.requires_grad
    assert not np.shares_memory(copy.numpy(), source.detach().numpy())


def test_hooks_on_leaf_and_non_leaf(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 2
    handle = y.register_hook(lambda g: g * 10)        # scales the gradient flowing through y
    y.sum().backward()
    assert seen == [[20.0, 20.0]]
    assert x.grad.tolist() == [20.0, 20.0]
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_autograd_grad_does_not_touch_dot_grad(backend):
    x = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = cgrad.tensor(2.0, requires_grad=True)
    y = (x * x * w).sum()
    gx, gw = autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), [4.0, 8.0, 12.0])
    assert gw.item() == 14.0
    assert x.grad is None and w.grad is None
    u = cgrad.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [u])
    assert autograd.grad((x * 2).sum(), [u], allow_unused=True) == (None,)
    g, = autograd.grad((x * x).sum(), [x], create_graph=True)      # recorded: 2 x
    assert g.grad_fn is not None
    np.testing.assert_allclose(autograd.grad(g.sum(), [x])[0].numpy(), [2.0, 2.0, 2.0])


def test_autograd_grad_of_intermediate(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gh, = autograd.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


class Cube(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x ** 2


def test_custom_function(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    assert autograd.gradcheck(Cube.apply, [cgrad.randn(4, dtype=cgrad.float64,
                                                       requires_grad=True)])


def test_data_and_grad_are_settable():
    w = cgrad.tensor([1.0, 2.0], requires_grad=True)
    w.data = cgrad.tensor([3.0, 4.0])
    assert w.tolist() == [3.0, 4.0] and w.requires_grad
    w.grad = cgrad.zeros(2)
    assert w.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"^attempting to assign a gradient of size '\[3\]' "
                                           r"to a tensor of size '\[2\]'\. Please ensure"):
        w.grad = cgrad.zeros(3)
    with pytest.raises(RuntimeError, match=r"^attempting to assign a gradient with dtype "
                                           r"'double' to a tensor with grad_dtype 'Float'\."):
        w.grad = cgrad.zeros(3, dtype=cgrad.float64)   # (the dtype checked first, as PyTorch)
    with pytest.raises(TypeError, match="^assigned grad expected to be a Tensor or None but got "
                                        "grad of type int$"):
        w.grad = 3
    w.grad = None
    assert w.grad is None


def test_graph_is_freed_by_reference_counting():
    gc.disable()
    try:
        x = cgrad.randn(10, requires_grad=True)
        y = (x * 2).exp()
        ref = weakref.ref(y.grad_fn)
        y.sum().backward()
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_detect_anomaly_names_the_op(backend):
    x = cgrad.tensor([0.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = (x.sqrt() * 0).sum()        # sqrt'(0) = inf, times 0 -> nan
        with pytest.raises(RuntimeError, match="SqrtBackward0"):
            y.backward()


def test_scalar_used_many_times_accumulates(backend):
    x = cgrad.tensor(2.0, requires_grad=True)
    y = x + x + x * x + x + x.exp()
    y.backward()
    assert x.grad.item() == pytest.approx(3 + 2 * 2.0 + np.exp(2.0))


def test_second_backward_keeps_plain_values_and_refuses_freed_arrays(backend):
    a = cgrad.tensor([1.0, 2.0], requires_grad=True)
    b = cgrad.tensor([3.0, 4.0], requires_grad=True)
    y = a.add(b, alpha=2).sum()
    y.backward()
    y.backward()                       # saves no array: runs again with the same alpha
    assert b.grad.tolist() == [4.0, 4.0]
    for make in (lambda: cgrad.where(a > 1, a, b).sum(),
                 lambda: a.masked_fill(a > 1, 0.0).sum(),
                 lambda: a[cgrad.tensor([0, 0])].sum()):
        y = make()
        y.backward()
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()


@pytest.mark.parametrize("form", ["grad @ w", "w @ grad", "linear(grad, w)", "maximum"])
def test_an_operand_that_is_the_grad_being_added_into(backend, form):
    """W.grad (or a view of it) as an operand of an op whose backward adds into W.grad: the
    sum goes in after the op, not while it still reads its operand (big enough for BLAS and
    the compiled kernels, where adding in place gave values up to 1e29)"""
    rng = np.random.default_rng(5)
    w0, g0 = rng.random((300, 300)), rng.random((300, 300))
    w = cgrad.tensor(w0, requires_grad=True)
    w.grad = cgrad.tensor(g0)
    F = cgrad.nn.functional
    if form == "grad @ w":
        (w.grad @ w).sum().backward()
        want = g0 + g0.sum(0)[:, None]          # d/dw sum(G @ w) = G^T 1
    elif form == "w @ grad":
        (w @ w.grad).sum().backward()
        want = g0 + g0.sum(1)[None, :]
    elif form == "linear(grad, w)":
        F.linear(w.grad, w).sum().backward()
        want = g0 + g0.sum(0)[None, :]
    else:
        cgrad.maximum(w, w.grad[:1]).mul(2).sum().backward()
        want = g0 + 2 * (w0 >= g0[:1]) - (w0 == g0[:1])
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-10, atol=1e-9)


def test_a_read_only_grad_raises_pytorchs_error():
    x = cgrad.ones(3, 3, requires_grad=True)
    x.grad = cgrad.ones(3).expand(3, 3)
    with pytest.raises(RuntimeError, match="single memory location"):
        (x * 2).sum().backward()


def _batched_and_anomaly(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = lib.tensor([0.5, -1.0], requires_grad=True)
    y = lib.stack([(x ** 2).sum() * w[0], (x * w[1]).sum()])
    out = []
    jac = lib.autograd.grad(y, (x, w), lib.eye(2), retain_graph=True, is_grads_batched=True)
    out.append([j.tolist() for j in jac])
    hess_rows, = lib.autograd.grad(x ** 3, x, lib.eye(3), create_graph=True,
                                   is_grads_batched=True)
    out.append((hess_rows.tolist(), hess_rows.requires_grad))
    with pytest.warns(FutureWarning):
        out.append(lib.autograd.grad((x * 2).sum(), x, None, None, False, False)[0].tolist())
    modes = []
    for args in ((True,), (True, False), (False,)):
        with lib.autograd.set_detect_anomaly(*args):
            modes.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
    with lib.autograd.detect_anomaly(check_nan=False):
        modes.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
    modes.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
    out.append(modes)
    return out


def test_batched_grads_and_anomaly_modes_as_torch(backend):
    torch = pytest.importorskip("torch")
    assert _batched_and_anomaly(cgrad) == _batched_and_anomaly(torch)


def _named_inputs(lib):
    m = lib.nn.Linear(2, 1)
    with lib.no_grad():
        m.weight.copy_(lib.tensor([[0.5, -1.0]]))
        m.bias.fill_(0.25)
    loss = (m(lib.ones(3, 2)) ** 2).sum()
    grads = lib.autograd.grad(loss, dict(m.named_parameters()), retain_graph=True)
    out = [type(grads).__name__, {k: v.tolist() for k, v in grads.items()}]
    lib.autograd.backward(loss, inputs={"w": m.weight}, retain_graph=True)
    out.append((m.weight.grad.tolist(), m.bias.grad))
    with pytest.warns(FutureWarning):
        lib.autograd.backward(loss, grad_variables=lib.tensor(2.0), retain_graph=True)
    out.append(m.bias.grad.tolist())
    for call in (lambda: lib.autograd.grad(loss, {}),
                 lambda: lib.autograd.backward(loss, lib.tensor(1.0), grad_variables=lib.tensor(1.0))):
        with pytest.raises(RuntimeError) as info:
            call()
        out.append(str(info.value))
    return out


def test_named_inputs_and_grad_variables_as_torch(backend):
    torch = pytest.importorskip("torch")
    assert _named_inputs(cgrad) == _named_inputs(torch)


def test_float_of_a_tensor_requiring_grad_warns_once_in_grad_mode(monkeypatch):
    """PyTorch's warning for float(x) of an x requiring grad: once a process, and not under
    no_grad (LBFGS's float(loss) there gave it, PyTorch none), where it is not used up"""
    import importlib
    import warnings
    monkeypatch.setattr(importlib.import_module("cgrad.tensor"), "_float_warned", [False])
    x = cgrad.tensor(2.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with cgrad.no_grad():
            assert float(x) == 2.0
        assert int(x) == 2
    with pytest.warns(UserWarning, match="Converting a tensor with requires_grad=True to a "
                                         "scalar may lead to unexpected behavior"):
        float(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(x * 2) == 4.0
    monkeypatch.setattr(importlib.import_module("cgrad.tensor"), "_float_warned", [False])
    with pytest.warns(UserWarning, match="Converting a tensor with requires_grad") as caught:
        cgrad.tensor([x, 1.0])                 # (a sequence reads it as float() does)
    assert caught[0].filename == __file__


def test_a_gradient_a_hook_kept_is_not_added_into_later(backend):
    """A leaf hook (or its node's pre-hook, or a multi-grad hook) that keeps the gradient it
    saw: PyTorch copies a gradient something else holds before it becomes .grad, so the kept
    one stays [3, 3] where the next backward added into it ([6, 6])"""
    w = cgrad.tensor([1.0, 2.0], requires_grad=True)
    kept = []
    w.register_hook(kept.append)
    for _ in range(2):
        (w * 3).sum().backward()
    assert [k.tolist() for k in kept] == [[3.0, 3.0], [3.0, 3.0]]
    assert w.grad.tolist() == [6.0, 6.0]
    a = cgrad.tensor([1.0, 2.0], requires_grad=True)
    b = cgrad.tensor([3.0, 4.0], requires_grad=True)
    seen = []
    autograd.graph.register_multi_grad_hook((a, b), lambda gs: seen.append(gs))
    z = (a * 2 + b * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert [[g.tolist() for g in gs] for gs in seen] == [[[2.0, 2.0], [3.0, 3.0]]] * 2
    assert (a.grad.tolist(), b.grad.tolist()) == ([4.0, 4.0], [6.0, 6.0])


def test_adding_into_grad_counts_as_an_in_place_change(backend):
    """x.grad saved by a graph, then a backward adding into it: PyTorch's version error (the
    graph read the new value: w.grad was [4, 8]), whether the sum went in after the walk or
    straight into .grad from a matmul's backward"""
    for make in (lambda x: (x ** 2).sum(),
                 lambda x: (x.reshape(1, 2) @ cgrad.ones(2, 1)).sum()):
        x = cgrad.tensor([1.0, 2.0], requires_grad=True)
        w = cgrad.tensor([1.0, 2.0], requires_grad=True)
        make(x).backward()
        before = x.grad._version
        y = (x.grad * w).sum()
        make(x).backward()
        assert x.grad._version > before
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_retain_grad_makes_a_new_grad_each_backward(backend):
    """PyTorch's retain_grad hook sets y.grad = y.grad + g: a .grad read before stays"""
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    first = y.grad
    z.backward()
    assert first.tolist() == [4.0, 8.0] and y.grad.tolist() == [8.0, 16.0]
    assert y.grad is not first


def test_data_set_to_another_size_or_an_integer_tensor(backend):
    """x.data = a tensor of another size: the next backward's sum into the old .grad raises
    PyTorch's RuntimeError (NumPy's ValueError leaked); an integer tensor is refused on a
    tensor requiring grad"""
    x = cgrad.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    x.data = cgrad.zeros(5)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of "
                                           r"tensor b \(5\) at non-singleton dimension 0"):
        (x * 2).sum().backward()
    with pytest.raises(RuntimeError, match="must be floating point or complex dtype"):
        x.data = cgrad.tensor([1, 2, 3])
    y = cgrad.ones(3)
    y.data = cgrad.tensor([1, 2, 3])                   # (not requiring grad: taken)
    assert y.dtype == cgrad.int64


def test_set_grad_enabled_takes_a_bool_only():
    for bad, name in ((0, "int"), (None, "NoneType"), (1.0, "float"),
                      (np.bool_(True), "numpy.bool"), (cgrad.tensor(True), "Tensor")):
        with pytest.raises(TypeError, match=f"must be bool, not {name}$"):
            cgrad.set_grad_enabled(bad)
    assert cgrad.is_grad_enabled()


def test_a_legacy_function_instance_raises_as_torch():
    class Double(autograd.Function):
        def forward(self, x):
            return x * 2
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        double = Double()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        double(cgrad.ones(2, requires_grad=True))


@pytest.mark.parametrize("key, view", [(0, True), ((None,), True), (slice(1, None), True),
                                       (slice(None), False), (Ellipsis, False), ([0], False)])
def test_writing_through_an_index_of_a_leaf_names_the_view(key, view):
    """x[0] = 5 on a leaf requiring grad writes a view of it in PyTorch (select, unsqueeze, a
    slice), x[:] and x[...] the leaf itself, an index array an index_put on the leaf"""
    x = cgrad.ones(3, requires_grad=True)
    message = ("a view of a leaf Variable" if view else "^a leaf Variable") + \
        " that requires grad is being used in an in-place operation"
    with pytest.raises(RuntimeError, match=message):
        x[key] = 5
    with cgrad.no_grad():
        x[key] = 5
    assert 5 in x.tolist()


def test_backward_with_create_graph_warns_once(monkeypatch):
    """PyTorch's reference-cycle warning for backward(create_graph=True), once a process"""
    monkeypatch.setattr(autograd, "_create_graph_warned", [False])
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Using backward\\(\\) with create_graph=True will "
                                         "create a reference cycle") as caught:
        (x ** 3).sum().backward(create_graph=True)
        (x ** 3).sum().backward(create_graph=True)
    assert len([w for w in caught if "reference cycle" in str(w.message)]) == 1
    assert x.grad.tolist() == [6.0, 24.0]
