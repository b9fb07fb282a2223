"""PyTorch's behaviour where a differential fuzz against it found cgrad's differing: casts,
hooks, fills of non-leaves, reductions over (), dtype inference, parameter order, 1 / x,
and the small API (format, %, randint, bare @no_grad) and error classes."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F


def test_casts_to_integers_and_bools_leave_the_graph(backend):
    x = cgrad.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad and not x.to(cgrad.bool).requires_grad
    assert x.long().grad_fn is None
    (x * x.long()).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0]                 # not [2, 4]: no gradient via long()
    assert x.double().requires_grad                      # float casts stay differentiable


def test_retain_grad_sees_what_later_hooks_made(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)
    y.sum().backward()
    assert y.grad.tolist() == [100.0, 100.0] and x.grad.tolist() == [200.0, 200.0]


def test_fills_and_copies_of_non_leaves_give_zero_gradients(backend):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.zero_()
    y.sum().backward()
    assert x.grad is not None and x.grad.tolist() == [0.0, 0.0]
    a, src = cgrad.tensor([1.0, 2.0], requires_grad=True), cgrad.ones(2, requires_grad=True)
    b = a * 1
    b.copy_(src)
    (b * 2).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and src.grad.tolist() == [2.0, 2.0]
    c = cgrad.tensor([1.0, 2.0], requires_grad=True)
    d = c + 0
    d.fill_(5.0)
    d.sum().backward()
    assert c.grad.tolist() == [0.0, 0.0]


def test_reductions_over_an_empty_dim_list(backend):
    x = cgrad.arange(6.0).reshape(2, 3)
    assert x.sum(()).item() == 15.0 and x.mean([]).item() == 2.5
    assert x.sum((), keepdim=True).shape == (1, 1)
    assert x.var(()).item() == pytest.approx(3.5) and x.std(dim=()).item() == pytest.approx(
        math.sqrt(3.5))
    assert x.norm(dim=()).item() == pytest.approx(math.sqrt(55))
    mask = x > 0
    assert mask.all(()).tolist() == mask.tolist() and mask.any([]).shape == (2, 3)  # no dims
    assert mask.all().item() is False


def test_dtype_inference_like_pytorch(backend):
    c = cgrad.tensor([True, False])
    assert cgrad.where(c, 1.0, 0.0).dtype == cgrad.float32
    assert cgrad.where(c, 1, 0).dtype == cgrad.int64
    assert cgrad.tensor(np.float64(2.5)).dtype == cgrad.float64
    assert cgrad.tensor([np.float64(1.5), 2.0]).dtype == cgrad.float64
    assert cgrad.tensor(np.float32(1.5)).dtype == cgrad.float32
    assert cgrad.tensor(np.int32(3)).dtype == cgrad.int32
    assert cgrad.tensor([1.5, 2.0]).dtype == cgrad.float32
    assert cgrad.arange(cgrad.tensor(3)).dtype == cgrad.int64
    assert cgrad.arange(cgrad.tensor(3)).tolist() == [0, 1, 2]


def test_reassigned_parameters_and_modules_keep_their_place():
    m = nn.Linear(3, 2)
    m.weight = nn.Parameter(cgrad.ones(2, 3))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert list(m.state_dict()) == ["weight", "bias"]
    s = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    s[1].weight = s[0].weight                             # tied weights
    assert list(s.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    s[0] = nn.ReLU()
    assert [type(c).__name__ for c in s] == ["ReLU", "Linear"]


def test_reciprocal_is_computed_as_pytorch_does(backend, rng):
    """c / x is (1 / x) * c, whose bits differ from c / x for ~30% of float32 x; its gradient
    comes from the saved 1 / x, so x may change in place after"""
    x = rng.standard_normal(50000).astype(np.float32)
    g = rng.standard_normal(50000).astype(np.float32)
    for c in (1, 3, -2.5):
        t = cgrad.tensor(x, requires_grad=True)
        y = c / t
        r = np.float32(1) / x
        expected = r if c == 1 else r * np.float32(c)
        np.testing.assert_array_equal(y.detach().numpy(), expected)
        y.backward(cgrad.tensor(g))
        gc = g if c == 1 else g * np.float32(c)
        np.testing.assert_array_equal(t.grad.numpy(), -gc * (r * r))
        assert y.grad_fn.name() == "MulBackward0"
    for v in (3.0, 0.0, -0.0):                            # the 0-d twin: the same numbers
        s = cgrad.tensor(v, requires_grad=True)
        y = 3 / s
        y.backward()
        with np.errstate(divide="ignore"):
            r = np.float32(1) / np.float32(v)                   # float32 steps throughout
        assert y.item() == r * np.float32(3) and s.grad.item() == -np.float32(3) * (r * r)
    y = cgrad.tensor([1.0, 2.0], requires_grad=True)
    w = y * 1
    z = 1 / w
    w.add_(1)                                   # fine: 1 / w saved 1 / w, not w
    z.sum().backward()
    assert y.grad.tolist() == [-1.0, -0.25]


def test_reciprocal_matches_pytorch_bits(backend, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(20000).astype(np.float32)
    for c in (1, 3, 0.7):
        np.testing.assert_array_equal((c / cgrad.tensor(x)).numpy(),
                                      (c / torch.tensor(x)).numpy())


def test_small_api_from_tutorials(backend):
    loss = cgrad.tensor(1.23456)
    assert f"{loss:.2f}" == "1.23" and f"{loss}" == str(loss.item())      # as PyTorch
    assert f"{cgrad.ones(2)}" == str(cgrad.ones(2))
    with pytest.raises(TypeError):
        f"{cgrad.ones(1):.2f}"
    assert (7 % cgrad.tensor([2, -3])).tolist() == [1, -2]
    assert (5.5 % cgrad.tensor([2.0, -2.0])).tolist() == [1.5, -0.5]
    cgrad.manual_seed(0)
    r = cgrad.randint(3, (2, 2))
    assert r.shape == (2, 2) and r.dtype == cgrad.int64 and 0 <= r.min().item() <= r.max(
        ).item() < 3

    @cgrad.no_grad
    def doubled(a):
        return a * 2

    @cgrad.enable_grad
    def tripled(a):
        return a * 3

    x = cgrad.ones(2, requires_grad=True)
    assert not doubled(x).requires_grad
    with cgrad.no_grad():
        assert tripled(x).requires_grad
    assert (cgrad.ones(2) == None) is False and (cgrad.ones(2) != None) is True  # noqa: E711


def test_pytorch_error_classes(backend):
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[4\] cannot "
                                           r"be broadcast to indexing result of shape \[5\]"):
        cgrad.zeros(4, 5)[1] = cgrad.ones(4)
    with pytest.raises(RuntimeError, match="must match the size"):
        cgrad.allclose(cgrad.ones(2), cgrad.ones(3))
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        cgrad.allclose(cgrad.ones(2), cgrad.ones(2, dtype=cgrad.float64))
    with pytest.raises(ValueError, match="non-empty list"):
        cgrad.cat([])
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        cgrad.stack([])
    with pytest.raises(ValueError, match="only one element tensors"):
        float(cgrad.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(1\)"):
        F.cross_entropy(cgrad.ones(3, 4), cgrad.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match="batch_size"):
        F.nll_loss(cgrad.ones(3, 4, 2), cgrad.tensor([[0, 1, 1], [0, 0, 0]]))
    with pytest.raises(ValueError, match="step must be greater than zero"):
        cgrad.arange(4.0)[::-1]
    for fn in (lambda: cgrad.tensor([1]) // 0, lambda: cgrad.tensor([1, 2]) % 0,
               lambda: 3 // cgrad.tensor([0])):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn()
    assert (cgrad.tensor([1.0]) // 0).item() == math.inf         # floats: inf, as PyTorch
    for args in ((1, 0), (0, 1, -1)):
        with pytest.raises(RuntimeError, match="inconsistent with step sign"):
            cgrad.arange(*args)
    assert cgrad.arange(0, 0).shape == (0,) and cgrad.arange(3, 0, -1).tolist() == [3, 2, 1]
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.cross_entropy(cgrad.ones(3, 4), cgrad.tensor([1, 2, 3]),
                        weight=cgrad.ones(4, dtype=cgrad.float64))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Long"):
        F.nll_loss(cgrad.ones(2, 3), cgrad.tensor([0, 1]), weight=cgrad.tensor([1, 2, 3]))


def test_cross_entropy_edge_denominators(backend):
    x = cgrad.tensor([[1.0, 2, 3], [0, 1, 0]])
    loss = F.cross_entropy(x, cgrad.tensor([1, -100]), weight=cgrad.tensor([1.0, 0.0, 2.0]),
                           label_smoothing=0.3)
    assert math.isnan(loss.item())          # nothing counted: PyTorch's 0 / 0, not inf
    empty = cgrad.zeros(3, 0, requires_grad=True)
    assert math.isnan(F.cross_entropy(empty, cgrad.zeros(3, 0)).item())
    for reduction in ("sum", "none"):
        out = F.cross_entropy(empty, cgrad.zeros(3, 0), reduction=reduction)
        assert not out.detach().numpy().any()    # sums over no classes: 0, not garbage


def test_names_reprs_and_sizes_like_pytorch(backend):
    x, m = cgrad.ones(2, 1, 3, requires_grad=True), cgrad.ones(2, 3, requires_grad=True)
    v = cgrad.ones(3, requires_grad=True)
    names = [x.squeeze().grad_fn.name(), x.squeeze(1).grad_fn.name(),
             x.squeeze((1,)).grad_fn.name(), m.T.grad_fn.name(), m.t().grad_fn.name(),
             v.t().grad_fn.name(), m.chunk(2, 1)[0].grad_fn.name(),
             m.split(1)[0].grad_fn.name(), m.unbind()[0].grad_fn.name()]
    assert names == ["SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2",
                     "PermuteBackward0", "TBackward0", "TBackward0", "SplitBackward0",
                     "SplitBackward0", "UnbindBackward0"]
    sum(p.sum() for p in m.chunk(2, 1) + m.unbind()).backward()
    assert m.grad.tolist() == [[2.0] * 3] * 2                  # still one gradient each
    assert repr(cgrad.zeros(0, dtype=cgrad.int64)) == "tensor([], dtype=cgrad.int64)"
    assert repr(cgrad.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(cgrad.tensor([1, 2])) == "tensor([1, 2])"
    shape = cgrad.ones(2, 3, 4).shape
    assert type(shape[1:]) is cgrad.Size and shape[1:] == (3, 4) and shape[0] == 2
    for make in (cgrad.zeros, cgrad.ones, cgrad.empty):
        with pytest.raises(TypeError):
            make()
    assert cgrad.zeros(()).shape == ()


def test_clamp_like_pytorch(backend):
    x = cgrad.tensor([-1.5, 0.0, 0.7, 2.0] * 4096)       # the compiled kernel's sizes
    assert np.isnan(x.clamp(min=float("nan")).numpy()).all()
    assert np.isnan(x.clamp(-1.0, float("nan")).numpy()).all()
    with pytest.raises(RuntimeError, match="without overflow"):
        x.clamp(-1e40, 1e40)
    assert x.clamp(-math.inf, math.inf).tolist() == x.tolist()
    # tensor bounds: each side gets all of g at a tie (maximum/minimum would give halves)
    v = cgrad.tensor([-1.5, -0.5, 0.0, 1.0, 2.0], requires_grad=True)
    lo = cgrad.full((5,), -0.5, requires_grad=True)
    hi = cgrad.full((5,), 1.0, requires_grad=True)
    y = v.clamp(lo, hi)
    assert y.tolist() == [-0.5, -0.5, 0.0, 1.0, 1.0] and y.grad_fn.name() == "ClampBackward0"
    y.sum().backward()
    assert v.grad.tolist() == [0, 1, 1, 1, 0]
    assert lo.grad.tolist() == [1, 0, 0, 0, 0] and hi.grad.tolist() == [0, 0, 0, 0, 1]
    w = cgrad.tensor([0.0, 5.0], requires_grad=True)
    b = cgrad.tensor(2.0, requires_grad=True)                 # broadcast bound, min > max
    z = w.clamp(min=b, max=cgrad.tensor(1.0))
    assert z.tolist() == [1.0, 1.0]
    z.sum().backward()
    assert w.grad.tolist() == [0.0, 0.0] and b.grad.item() == 0.0
    for clamp in (w.clamp, w.detach().clone().clamp_):       # PyTorch refuses a mix of kinds
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            clamp(min=b, max=1.0)


def test_clamp_tensor_bounds_match_pytorch(backend, rng):
    torch = pytest.importorskip("torch")
    x0 = rng.integers(-3, 4, (6, 5)).astype(np.float64)        # many ties
    lo0, hi0 = rng.integers(-2, 1, (5,)).astype(np.float64), rng.integers(-1, 3, (6, 1)) * 1.0
    out = []
    for lib in (torch, cgrad):
        x, lo, hi = (lib.tensor(a, requires_grad=True) for a in (x0, lo0, hi0))
        x.clamp(lo, hi).pow(2).sum().backward()
        out.append([t.grad.numpy() for t in (x, lo, hi)])
    for got, want in zip(out[1], out[0]):
        np.testing.assert_array_equal(got, want)


def test_division_gradient_in_pytorch_order(backend):
    a = cgrad.tensor([1e20, 0.0, math.inf] * 12000)            # compiled sizes too
    b = cgrad.tensor([1e20, 1e-40, 1e30] * 12000, requires_grad=True)
    (a / b).sum().backward()
    first = b.grad[:3].tolist()
    assert first[0] == pytest.approx(-1e-20, rel=1e-6)        # not -0 (1e20 / 1e40 underflows)
    assert first[1:] == [-0.0, -math.inf]                     # not NaN (0 * inf, inf / inf)


def test_float32_var_over_long_leading_dims(backend, rng):
    x = rng.standard_normal((300000, 4)) * 3 + 10
    got = cgrad.tensor(x.astype(np.float32)).var(0).numpy()
    want = x.astype(np.float32).astype(np.float64).var(0, ddof=1)
    np.testing.assert_allclose(got, want, rtol=1e-6)           # summed one by one: 1e-4


def test_float16_reductions_accumulate_in_float32(backend, rng):
    x = cgrad.tensor(rng.standard_normal((3000, 8)).astype(np.float16) + 1.5)
    x64 = x.numpy().astype(np.float64)
    assert np.isfinite(x.var().item()) and x.var().dtype == cgrad.float16
    assert x.norm().item() == pytest.approx(np.linalg.norm(x64), rel=1e-3)
    np.testing.assert_allclose(x.sum(0).numpy().astype(np.float64), x64.sum(0), rtol=2e-3)


def test_class_targets_long_or_byte(backend):
    x = cgrad.ones(2, 3)
    assert F.cross_entropy(x, cgrad.tensor([0, 1], dtype=cgrad.uint8)).item() == pytest.approx(
        math.log(3))
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but "
                                               "got Int"):
            loss(x, cgrad.tensor([0, 1], dtype=cgrad.int32))


def test_review_findings(backend):
    """cases a review of the parity changes found (each checked against PyTorch)"""
    x = cgrad.arange(3.0)
    x[1].add_(5)                                   # an element is a 0-d view: writes through
    assert x.tolist() == [0.0, 6.0, 2.0]
    w = cgrad.ones(3, requires_grad=True)
    y = w * 2
    first, (a, b, c) = y[0], y.unbind()
    with pytest.raises(RuntimeError, match="returns multiple views"):
        a.add_(1)
    y.mul_(3)                                      # elements and unbind outputs held: fine
    (first + y.sum()).backward()
    assert w.grad.tolist() == [12.0, 6.0, 6.0]
    for data, want in ((2.0, -0.25), ([2.0, 4.0], [-0.25, -0.0625])):
        s = cgrad.tensor(data, requires_grad=True)
        r = 1 / s                                  # its output is not its saved 1 / s
        r.add_(5)
        r.sum().backward()
        assert s.grad.tolist() == want
    v = cgrad.arange(4.0)
    v[2, True] = 7                                 # ints take every dim before the array
    assert v.tolist() == [0.0, 1.0, 7.0, 3.0]
    assert x.amax().grad_fn is None and cgrad.ones(2, requires_grad=True).amax(
        ).grad_fn.name() == "AmaxBackward0"
    with pytest.raises(RuntimeError, match="Autograd not support dtype: Long"):
        cgrad.ones(2, requires_grad=True).sum(dtype=cgrad.int64)
    with pytest.raises(ValueError):
        int(cgrad.tensor([1.0, 2.0]))
    assert f"{cgrad.tensor(3.5)}" == "3.5"
    with pytest.raises(TypeError):
        cgrad.tensor([0, 1, 2]).clamp(min=0.5, max=cgrad.tensor([1, 1, 1]))
    assert cgrad.tensor([0.0, 5.0]).clamp(min=cgrad.tensor(2.0),
                                          max=cgrad.tensor(1.0)).tolist() == [1, 1]


def test_mark_dirty_regenerates_the_base_views(backend):
    class Mul3(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            t.mul_(3)
            ctx.mark_dirty(t)
            return t

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    view = y[:1]
    Mul3.apply(y)
    view.sum().backward()
    assert x.grad.tolist() == [6.0, 0.0]


def test_dots_and_empty_means(backend, recwarn):
    a = cgrad.arange(10.0)
    assert (a @ a).item() == 285.0 and cgrad.dot(a, a).item() == 285.0
    big = cgrad.ones(10000, dtype=cgrad.float64)
    assert (big @ big).item() == 10000.0 and (big @ big).shape == ()
    assert math.isnan(cgrad.zeros(0).mean().item())
    assert not [w for w in recwarn if "empty slice" in str(w.message)]


def test_tutorial_script_findings(backend):
    """what running tutorial-style scripts under both libraries found"""
    assert cgrad.tensor([0.1], dtype=cgrad.float64).item() == 0.1       # not via float32
    assert cgrad.as_tensor([1e-9], dtype=cgrad.float64).item() == 1e-9
    with pytest.raises(TypeError):
        cgrad.tensor(["a"], dtype=cgrad.float32)
    x = cgrad.arange(6.0).reshape(2, 3)
    assert x[range(2), [0, 2]].tolist() == [0.0, 5.0]                   # range as an index
    y, z = cgrad.empty(2, 2), cgrad.empty(1)
    assert cgrad.matmul(x, x.T, out=y) is y and y.tolist() == [[5.0, 14.0], [14.0, 50.0]]
    assert cgrad.mul(x, 2, out=z) is z and z.shape == (2, 3)            # resized, as torch
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic"):
        cgrad.mul(cgrad.ones(2, requires_grad=True), 2, out=cgrad.empty(2))
    assert cgrad.rand_like(x).shape == x.shape and cgrad.randn_like(x).dtype == x.dtype
    dev = cgrad.device("cuda" if cgrad.cuda.is_available() else "cpu")
    assert dev == "cpu" and repr(dev) == "device(type='cpu')" and x.to(dev) is x
    assert x.device == dev and str(x.device) == "cpu" and cgrad.cuda.device_count() == 0
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        x.to(cgrad.device("cuda", 0))                   # (PyTorch's CPU build's class)
    assert repr(x.max(1)).startswith("cgrad.return_types.max(\nvalues=tensor([2., 5.]),")
    assert type(x.min(1)).__name__ == "min" and x.min(1).values.tolist() == [0.0, 3.0]
    logits = cgrad.ones(1, 3, requires_grad=True)
    none = F.cross_entropy(logits, cgrad.tensor([0]), reduction="none")
    assert none.grad_fn.name() == "NllLossBackward0"
    h = nn.Linear(3, 2)(nn.ReLU()(logits))
    assert [type(f).__name__ if f is not None else None
            for f, _ in h.grad_fn.next_functions][0] == "AccumulateGrad"  # bias first
    assert h.grad_fn.next_functions[1][0].name() == "ReluBackward0"
    cgrad.set_default_dtype(cgrad.float64)
    try:
        assert cgrad.tensor([0.1]).dtype == cgrad.float64 and cgrad.ones(2).dtype == cgrad.float64
    finally:
        cgrad.set_default_dtype(cgrad.float32)
    assert cgrad.tensor([0.1]).dtype == cgrad.float32
    with pytest.raises(TypeError):
        cgrad.set_default_dtype(cgrad.int64)


def test_mse_loss_saves_its_inputs_like_pytorch(backend):
    """mse_loss saves input and target: an in-place change of either before backward raises,
    as in PyTorch (a derived copy used to hide it); gradients are unchanged otherwise"""
    x = cgrad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    h = x * 1
    t = cgrad.tensor([0.5, 0.5, 0.5])
    loss = F.mse_loss(h, t)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    loss = F.mse_loss(x * 1, t, reduction="sum")
    t.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    F.mse_loss(x * 1, cgrad.tensor([0.0, 1.0, 1.0])).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / 3, 2 / 3, 2.0], rtol=1e-6)
    x.grad = None
    h = x * 1
    loss = F.l1_loss(h, t)       # not l1_loss: PyTorch's abs saves the difference alone
    h.mul_(2)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3], rtol=1e-6)  # (x - t: 0 1 3)


def test_grad_fn_classes_are_named_as_pytorch(backend):
    """type(y.grad_fn).__name__, as code that dispatches on node types reads it"""
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).exp().sum()
    names = [type(y.grad_fn).__name__]
    node = y.grad_fn
    while node.next_functions:
        node = node.next_functions[0][0]
        names.append(type(node).__name__)
    assert names == ["SumBackward0", "ExpBackward0", "MulBackward0", "AccumulateGrad"]

    class Twice(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    z = Twice.apply(x)
    assert type(z.grad_fn).__name__ == "TwiceBackward"

    class Pair(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2, t * 3

        @staticmethod
        def backward(ctx, a, b):
            return a * 2 + b * 3
    assert [type(o.grad_fn).__name__ for o in Pair.apply(x)] == ["PairBackward"] * 2
    assert isinstance(z.grad_fn, cgrad.autograd.function.FunctionCtx)
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_and_std_save_their_input_like_pytorch(backend, name):
    x = cgrad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    h = x * 1
    y = getattr(h, name)()
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_std_saves_its_output_like_pytorch(backend):
    x = cgrad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = x.std()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_nll_loss_saves_its_input_like_pytorch(backend):
    x = cgrad.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True)
    h = x * 1
    loss = F.nll_loss(h, cgrad.tensor([0, 1, 2]))
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        cgrad.autograd.grad(loss, x, create_graph=True)


OVERLAPS = {
    "slice_into_shifted_slice": lambda lib, y: y.__setitem__(slice(2, 6), y[0:4]),
    "slice_into_itself": lambda lib, y: y.__setitem__(slice(0, 4), y[0:4]),
    "slice_into_disjoint_slice": lambda lib, y: y.__setitem__(slice(4, 6), y[0:2]),
    "copy_shifted_view": lambda lib, y: y[1:].copy_(y[:-1]),
    "copy_transposed_self": lambda lib, y: y.view(2, 2, 2).copy_(y.view(2, 2, 2).transpose(0, 2)),
    "copy_flipped_copy": lambda lib, y: y.copy_(y.flip(0)),
    "add_shifted_view": lambda lib, y: y[1:].add_(y[:-1]),
    "add_transposed_view": lambda lib, y: y.view(2, 2, 2)[0].add_(y.view(2, 2, 2)[0].t()),
    "add_strided_views": lambda lib, y: y[::2].add_(y[1::2]),     # not dense: not checked
    "mul_itself": lambda lib, y: y.mul_(y),
    "index_put_overlapping": lambda lib, y: y.__setitem__(lib.tensor([1, 2]), y[0:2]),
    "index_put_disjoint_part": lambda lib, y: y.__setitem__(lib.tensor([4, 5]), y[0:2]),
    "mask_put_part": lambda lib, y: y.__setitem__(y > 5, y[0:2]),
    "row_into_other_row": lambda lib, y: y.view(2, 4).__setitem__(0, y.view(2, 4)[1]),
    "column_into_other_column": lambda lib, y: y.view(2, 4).__setitem__(
        (slice(None), 0), y.view(2, 4)[:, 1]),
}


@pytest.mark.parametrize("name", list(OVERLAPS))
def test_in_place_writes_from_overlapping_memory_like_pytorch(backend, name):
    """PyTorch refuses an in-place op whose input shares some but not all of the memory it
    writes (dense tensors; an index_put any shared memory): the same RuntimeError, and the
    same values where it goes ahead"""
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cgrad, torch):
        y = lib.arange(8.)
        try:
            OVERLAPS[name](lib, y)
            out.append(y.tolist())
        except RuntimeError as e:
            assert "refer to a single memory location" in str(e)
            out.append("raised")
    assert out[0] == out[1]


def _exp_twice(lib, y):
    y.exp_()
    y.exp_()


def _sigmoid_then_mul(lib, y):
    y.sigmoid_()
    y.mul_(2)


def _exp_on_view_then_base(lib, y):
    y[1:].exp_()
    y[0].mul_(2)


def _exp_then_used(lib, y):
    y.exp_()
    return y * 2


@pytest.mark.parametrize("program", [_exp_twice, _sigmoid_then_mul, _exp_on_view_then_base,
                                     _exp_then_used], ids=lambda f: f.__name__)
def test_an_in_place_op_that_saved_its_output_notices_later_changes(backend, program):
    """y.exp_() saves y itself, as PyTorch's in-place nodes do: a later in-place change of y
    (or of a view of its storage) makes backward raise; otherwise the gradient is PyTorch's"""
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([0.5, 1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x * 1
        z = program(lib, y)
        try:
            (y if z is None else z).sum().backward()
            out.append(x.grad.tolist())
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            out.append("raised")
    assert out[0] == out[1]


def test_memory_introspection_like_pytorch(backend):
    """data_ptr, storage_offset, nbytes and itemsize: what code checking for shared memory
    (`a.data_ptr() == b.data_ptr()`) reads"""
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cgrad, torch):
        x = lib.arange(12.).reshape(3, 4)
        v = x[1:, 2:]
        out.append([v.storage_offset(), x.t().storage_offset(), x[2].storage_offset(),
                    v.data_ptr() - x.data_ptr(), x.data.data_ptr() == x.data_ptr(),
                    x.detach().data_ptr() == x.data_ptr(), x.clone().data_ptr() == x.data_ptr(),
                    x.nbytes, v.nbytes, x.itemsize, x.double().itemsize])
    assert out[0] == out[1]


# ---- found by a training-loop fuzz against PyTorch ------------------------------------------
def _both_libs():
    torch = pytest.importorskip("torch")
    return cgrad, torch


def _assert_same(a, b, rtol=1e-6):
    """nested lists, strings and numbers: strings equal, numbers to float rounding"""
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _assert_same(x, y, rtol)
    elif isinstance(a, str) or isinstance(b, str):
        assert a == b
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_adagrad_state_as_pytorch_creates_it(backend):
    """the constructor's initial_accumulator_value for every state (a group's own is not
    read); parameters added later get their state at their first step with a gradient"""
    out = []
    for lib in _both_libs():
        w = lib.tensor([1.0, -2.0], requires_grad=True)
        b = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
        opt = lib.optim.Adagrad([{"params": [w], "initial_accumulator_value": 5.0}], lr=0.1,
                                initial_accumulator_value=0.5)
        opt.add_param_group({"params": [b]})
        keys = sorted(opt.state_dict()["state"])
        (w * w).sum().backward()
        opt.step()
        keys2 = sorted(opt.state_dict()["state"])
        (b * b).sum().backward()
        opt.step()
        out.append([keys, keys2, sorted(opt.state_dict()["state"]), w.tolist(), b.tolist(),
                    opt.state[b]["sum"].tolist()])
    _assert_same(out[0], out[1])


def test_param_groups_with_and_without_names_refused_as_pytorch(backend):
    for lib in _both_libs():
        a, b = lib.ones(2, requires_grad=True), lib.ones(3, requires_grad=True)
        opt = lib.optim.SGD([("a", a)], lr=0.1)
        with pytest.raises(ValueError, match="should be with/without names. cannot add param "
                                             "group without names"):
            opt.add_param_group({"params": [b]})
        with pytest.raises(ValueError, match="with/without names"):
            lib.optim.Adam([{"params": [("a", a)]}, {"params": [b]}], lr=0.1)


@pytest.mark.parametrize("name", ["LambdaLR", "CosineAnnealingLR"])
def test_a_scheduler_made_before_add_param_group_raises_as_pytorch(backend, name):
    """PyTorch zips base_lrs with the groups strictly: a group added after the scheduler was
    made is refused at the step that reads base_lrs, not left unscheduled"""
    messages = []
    for lib in _both_libs():
        opt = lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1)
        sched = (lib.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e) if name == "LambdaLR"
                 else lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1))
        opt.add_param_group({"params": [lib.ones(3, requires_grad=True)], "lr": 1.0})
        with pytest.raises(ValueError) as e:
            for _ in range(2):
                opt.step()
                sched.step()
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_bce_with_logits_takes_the_targets_dtype_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        x = lib.tensor([[0.5, -1.0], [2.0, 0.1]], dtype=lib.float64, requires_grad=True)
        for t_dtype in (lib.float32, lib.float64):
            loss = lib.nn.BCEWithLogitsLoss()(x, lib.tensor([[1.0, 0.0], [0.3, 0.7]],
                                                            dtype=t_dtype))
            loss.backward()
            out.append((str(loss.dtype).split(".")[1], str(x.grad.dtype).split(".")[1],
                        round(loss.item(), 6)))
    assert out[:2] == out[2:]


@pytest.mark.parametrize("smoothing", [-0.1, float("nan"), 1.5])
def test_cross_entropy_label_smoothing_checked_as_pytorch(backend, smoothing):
    """PyTorch refuses only label_smoothing > 1; below 0 (or NaN) smooths nothing"""
    out = []
    for lib in _both_libs():
        x = lib.tensor([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]])
        for t in (lib.tensor([2, 0]), lib.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])):
            try:
                out.append(round(lib.nn.functional.cross_entropy(
                    x, t, label_smoothing=smoothing).item(), 6))
            except RuntimeError as e:
                out.append(str(e))
    assert out[:2] == out[2:]


@pytest.mark.parametrize("program", [
    lambda F, h: F.relu(F.leaky_relu(h, 0.2, inplace=True), inplace=True),
    lambda F, h: F.leaky_relu(h, 0.2, inplace=True) * 2,
    lambda F, h: F.leaky_relu(h, -0.2, inplace=True) * 2,
    lambda F, h: F.elu(h, 0.7, inplace=True) * 2,
    lambda F, h: F.elu(h, -0.7, inplace=True) * 2,
    lambda F, h: F.elu(h, 0.7, inplace=True).mul_(2),
    lambda F, h: F.silu(h, inplace=True) * h,
], ids=["leaky_then_relu", "leaky", "leaky_negative_slope", "elu", "elu_negative_alpha",
        "elu_then_mul_", "silu"])
def test_in_place_activations_save_and_check_as_pytorch(backend, program):
    """leaky_relu_ and elu_ save their output (a later in-place change raises at backward, a
    negative slope raises there too); silu(inplace=True) writes its input"""
    out = []
    for lib in _both_libs():
        x = lib.tensor([[-1.0, 2.0, -3.0, 0.5]], dtype=lib.float64, requires_grad=True)
        h = x * 1.0
        try:
            y = program(lib.nn.functional, h)
            g, = lib.autograd.grad(y.sum(), x, create_graph=True)
            gg, = lib.autograd.grad((g * g * x).sum(), x)
            out.append([y.tolist(), h.tolist(), g.tolist(), gg.tolist(),
                        type(h.grad_fn).__name__])
        except RuntimeError as e:
            out.append(str(e)[:60])
    _assert_same(out[0], out[1], rtol=1e-12)


def test_clamp_in_place_with_tensor_bounds_differentiates_them(backend):
    """y.clamp_(lo, hi) with tensor bounds: lo and hi get their gradients (they got none)"""
    out = []
    for lib in _both_libs():
        x = lib.tensor([0.3, -1.0, 2.0, 0.7], dtype=lib.float64, requires_grad=True)
        lo = lib.tensor([0.5, -2.0, -2.0, 0.9], dtype=lib.float64, requires_grad=True)
        hi = lib.tensor([1.0, 1.0, 1.5, 0.8], dtype=lib.float64, requires_grad=True)
        y = x * 1
        y.clamp_(lo, hi)
        g = lib.autograd.grad((y * y).sum(), [x, lo, hi], create_graph=True)
        h = lib.autograd.grad(sum((t * t).sum() for t in g), [x, lo, hi])
        out.append([y.grad_fn.name(), y.tolist()] + [t.tolist() for t in g + h])
    _assert_same(out[0], out[1], rtol=1e-12)


def test_saved_tensors_modified_in_place_raise_as_pytorch(backend):
    """prod saves its output; an op that cast an input (float32 * float64) checks that input's
    version, as PyTorch saves the input itself"""
    def prod_output_changed(lib):
        x = lib.tensor([1.5, -1.0, -0.5], dtype=lib.float64, requires_grad=True)
        y = (x * 2).prod()
        y.mul_(3)
        return y, x

    def cast_input_changed(lib):
        x = lib.tensor([0.5, 1.3], requires_grad=True)
        a = x * 1
        y = a * lib.tensor([0.7, 0.2], dtype=lib.float64, requires_grad=True)
        a.add_(1)
        return y, x
    for program in (prod_output_changed, cast_input_changed):
        for lib in _both_libs():
            y, x = program(lib)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                lib.autograd.grad(y.sum(), x)


@pytest.mark.parametrize("name", ["view_operand_too_big", "operand_too_big", "copy_into_0d",
                                  "index_put_double_into_float", "mask_put_double_rows",
                                  "index_put_long_into_float"])
def test_in_place_errors_as_pytorch(backend, name):
    def run(lib):
        x = lib.ones(1, 2, 3, dtype=lib.float64, requires_grad=True)
        y = x * 2
        f32 = lib.ones(3)
        if name == "view_operand_too_big":
            y[:, :, 0:2].mul_(lib.ones(1, 2, 3, dtype=lib.float64))
        elif name == "operand_too_big":
            f32.mul_(lib.ones(2, 3))
        elif name == "copy_into_0d":
            y[0, 0, -1].copy_(lib.ones(1, dtype=lib.float64))
        elif name == "index_put_double_into_float":
            f32[lib.tensor([2, 0])] = lib.tensor([1.0, 2.0], dtype=lib.float64)
        elif name == "mask_put_double_rows":
            f32[lib.tensor([True, False, True])] = lib.tensor([1.0, 2.0], dtype=lib.float64)
        else:
            f32[lib.tensor([2, 0])] = lib.tensor([1, 2])
    messages = []
    for lib in _both_libs():
        with pytest.raises(RuntimeError) as e:
            run(lib)
        messages.append(str(e.value)[:50])
    assert messages[0] == messages[1]
    f32 = cgrad.ones(3)                 # what PyTorch lets through: a copy, a masked fill
    f32[0:2] = cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)
    f32[f32 > 1] = cgrad.tensor(5.0, dtype=cgrad.float64)
    assert f32.tolist() == [1.0, 5.0, 1.0]


def test_remainder_zero_takes_the_dividends_sign_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        a = lib.tensor([2.4, -2.4, 0.0, -0.0, 3.6, -3.6], dtype=lib.float64)
        b = lib.tensor([1.2, 1.2, -1.2, 1.2, -1.2, -1.2], dtype=lib.float64)
        out.append([(1 / lib.remainder(a, b)).tolist(), (1 / (a % 1.2)).tolist()])
    assert out[0] == out[1]


@pytest.mark.parametrize("name", ["mask_one_element_other_dtype", "mask_value_is_self",
                                  "mask_value_one_by_one", "view_of_the_same_elements",
                                  "index_value_is_self"])
def test_index_assignment_from_itself_or_one_element_as_pytorch(backend, name):
    """one boolean mask with a one-element value is PyTorch's masked_fill (any dtype, no
    overlap check); the same elements seen through a size-1 dim alike are not an overlap"""
    def run(lib):
        y = lib.tensor([1.0, 2.0, 3.0])
        if name == "mask_one_element_other_dtype":
            y[y > 1] = lib.tensor([5.0], dtype=lib.float64)
        elif name == "mask_value_is_self":
            y = lib.tensor([1.5])
            y[lib.tensor([True])] = y
        elif name == "mask_value_one_by_one":
            y[y > 1] = lib.tensor([[4.0]])
        elif name == "view_of_the_same_elements":
            v = lib.tensor([[2.3]], dtype=lib.float64)
            y = v[-1]
            y[..., None, :] = v
        else:
            y[lib.tensor([0, 1, 2])] = y
        return y.tolist()
    out = []
    for lib in _both_libs():
        try:
            out.append(run(lib))
        except RuntimeError as e:
            out.append(str(e)[:40])
    assert out[0] == out[1]


def test_inf_norm_over_nothing_refused_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        for shape, p, kw in [((0, 3), float("inf"), {}), ((0, 3), float("-inf"), dict(dim=0)),
                             ((2, 0), float("inf"), dict(dim=(0, 1))),
                             ((2, 0), float("inf"), dict(dim=0)),
                             ((0, 3), float("-inf"), dict(dim=1))]:
            try:
                out.append(lib.zeros(*shape).norm(p, **kw).tolist())
            except RuntimeError as e:
                out.append(str(e))
    assert out[:5] == out[5:]


@pytest.mark.parametrize("name", ["base_divided", "view_filled", "row_set", "view_added"])
def test_views_of_a_tensor_outside_the_graph_join_it_with_their_base(backend, name):
    """a view taken before an in-place op with a differentiable operand brings its base into
    the graph: the view is regenerated (it kept no gradient), and an in-place op on the view
    itself records the base (it raised)"""
    out = []
    for lib in _both_libs():
        w = lib.tensor(-1.3, dtype=lib.float64, requires_grad=True)
        c = lib.tensor([[0.5, 1.0, 2.0], [3.0, 4.0, 5.0]], dtype=lib.float64).exp()
        v = c[:, 1:3]
        if name == "base_divided":
            c.div_(w)
        elif name == "view_filled":
            c[1:].fill_(w)
        elif name == "row_set":
            c[0] = w * 2
        else:
            v.add_(w)
        g, = lib.autograd.grad((v * v).sum() + (c * 3).sum(), w, create_graph=True)
        out.append([v.requires_grad, c.requires_grad, g.item(),
                    lib.autograd.grad(g, w)[0].item()])
    _assert_same(out[0], out[1], rtol=1e-12)


# ---- found by a module / data / creation fuzz against PyTorch -------------------------------
def _dtype_name(t):
    return str(t.dtype).split(".")[1]


def test_tensor_infers_dtypes_from_numpy_elements_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        out.append([_dtype_name(lib.tensor(d)) for d in (
            [np.array([1.5]), np.array([2.5])], [[np.float64(1.5)], [2.0]],
            [np.int32(1), np.int32(2)], [np.array([1], np.int32)], [np.float16(1.0)],
            [np.float16(1.0), 2.0], [np.float16(1.0), 2], [1.5, np.int32(2)], [True, 2],
            [np.uint8(1), np.int8(2)], [], [[1, 2], [3, 4]], [0.1, 0.2])])
    assert out[0] == out[1]


def test_tensor_refuses_values_its_dtype_cannot_hold_as_pytorch(backend):
    cases = [(float("nan"), "int64"), ([1e40], "int64"), (float("inf"), "int64"),
             ([300], "uint8"), (-1, "uint8"), (2.7, "int64"), ([-2.7], "int64"),
             (2 ** 64, "float64"), (1e40, "float32"), (1.5, "bool"), (1 + 2j, "float32")]
    out = []
    for lib in _both_libs():
        for value, name in cases:
            try:
                out.append(lib.tensor(value, dtype=getattr(lib, name)).tolist())
            except (RuntimeError, TypeError) as e:
                out.append(type(e).__name__)
    assert out[:len(cases)] == out[len(cases):]


def test_random_fills_and_full_refuse_as_pytorch(backend):
    for lib in _both_libs():
        for call in (lambda: lib.randn(2, dtype=lib.int64), lambda: lib.rand(2, dtype=lib.int64),
                     lambda: lib.nn.init.uniform_(lib.zeros(2, dtype=lib.int64)),
                     lambda: lib.nn.init.normal_(lib.zeros(2, dtype=lib.int64))):
            with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
                call()
        with pytest.raises(TypeError, match="must be tuple of ints, not int"):
            lib.full(2, 1.0)
        assert type(lib.ones(2, 3).shape + (1,)) is type(lib.ones(1).shape)
        assert type((1,) + lib.ones(2).shape) is type(lib.ones(1).shape)


def test_grad_fn_names_of_indexing_linear_and_flatten_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        names = []
        w, b = lib.ones(4, 3, requires_grad=True), lib.ones(4, requires_grad=True)
        for x in (lib.ones(3), lib.ones(2, 3), lib.ones(5, 2, 3)):
            names += [lib.nn.functional.linear(x, w, b).grad_fn.name(),
                      lib.nn.functional.linear(x, w).grad_fn.name()]
        x = lib.ones(3, 4, requires_grad=True) * 1
        for key in [0, (0, 1), (slice(1, None), 0), (0, slice(None)), (Ellipsis, 0), None,
                    (slice(None), None), (slice(None), slice(None)), Ellipsis, slice(1, 2),
                    (slice(None), slice(0, 2)), (slice(0, 3), slice(0, 4)), (None, 0)]:
            names.append(x[key].grad_fn.name())
        v = lib.ones(3, requires_grad=True)
        names += [v.flatten() is v, x.flatten(1, 1) is x, lib.nn.Flatten()(x) is x]
        out.append(names)
    assert out[0] == out[1]


def test_clip_grad_norm_promotes_and_refuses_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        a = lib.ones(3, requires_grad=True)
        b = lib.ones(2, dtype=lib.float64, requires_grad=True)
        a.grad, b.grad = lib.full((3,), 2.0), lib.full((2,), 3.0, dtype=lib.float64)
        norm = lib.nn.utils.clip_grad_norm_([a, b], 1.0)
        out.append([_dtype_name(norm), round(norm.item(), 6), a.grad.tolist()])
        e = lib.zeros(0, requires_grad=True)
        e.grad = lib.zeros(0)
        with pytest.raises(RuntimeError, match="cannot compute the infinity norm on an empty"):
            lib.nn.utils.clip_grad_norm_([e], 1.0, norm_type=float("inf"))
    _assert_same(out[0], out[1])


def test_dataloader_batches_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        D = lib.utils.data
        strings = next(iter(D.DataLoader([(1.0, "a"), (2.0, "b")], batch_size=2)))
        converted = list(D.DataLoader([np.float64(1.5), (np.int32(3), 1.0)], batch_size=None))
        ds = D.TensorDataset(lib.ones(4, 2, requires_grad=True))
        fn = next(iter(D.DataLoader(ds, batch_size=2)))[0].grad_fn.name()
        out.append([type(strings[1]).__name__, strings[1], type(converted[0]).__name__,
                    _dtype_name(converted[0]), _dtype_name(converted[1][0]), fn])
    assert out[0] == out[1]


def test_module_containers_and_state_dicts_as_pytorch(backend):
    out = []
    for lib in _both_libs():
        nn = lib.nn
        s = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh())
        popped = s.pop(1)
        both = s + nn.Sequential(nn.Sigmoid())
        twice = nn.Sequential(nn.ReLU()) * 2
        s += nn.Sequential(nn.ReLU())
        ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
        ml_popped = ml.pop(0)
        joined = ml + [nn.Sigmoid()]
        with pytest.raises(ValueError, match="only objects of Sequential class"):
            s + nn.ReLU()
        m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        sd = dict(m.state_dict())
        sd.update({"0.extra": lib.ones(1), "foo": lib.ones(1), "1.weight": lib.ones(1)})
        keys = m.load_state_dict(sd, strict=False)
        m[0].weight.grad = lib.ones(2, 2)
        grad = m[0].weight.grad
        m.double()
        out.append([type(popped).__name__, len(s), len(both), len(twice),
                    twice[0] is twice[1], type(ml_popped).__name__, len(joined),
                    list(keys.unexpected_keys), m[0].weight.grad is grad,
                    _dtype_name(grad)])
    assert out[0] == out[1]
