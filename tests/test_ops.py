"""Every differentiable op: gradients against finite differences (float64 gradcheck) on both
backends, the two backends against each other, and PyTorch as an oracle where importable."""
import numpy as np
import pytest

import cgrad
from cgrad.autograd import gradcheck

# name -> (function of tensors, input shapes, domain) ; domain "pos" keeps inputs > 0
OPS = {
    "add": (lambda a, b: a + b, [(3, 4), (3, 4)], None),
    "add_broadcast": (lambda a, b: a + b, [(3, 4), (4,)], None),
    "add_alpha": (lambda a, b: a.add(b, alpha=2.5), [(3, 4), (1, 4)], None),
    "sub_broadcast": (lambda a, b: a - b, [(2, 1, 4), (3, 1)], None),
    "rsub": (lambda a: 2 - a, [(5,)], None),
    "mul": (lambda a, b: a * b, [(3, 4), (3, 4)], None),
    "mul_broadcast": (lambda a, b: a * b, [(2, 3, 4), (3, 1)], None),
    "mul_scalar": (lambda a: a * 3.5, [(4,)], None),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)], "pos"),
    "div_broadcast": (lambda a, b: a / b, [(3, 4), (4,)], "pos"),
    "rdiv": (lambda a: 1 / a, [(5,)], "pos"),
    "pow_scalar": (lambda a: a ** 3, [(5,)], None),
    "pow_half": (lambda a: a ** 0.5, [(5,)], "pos"),
    "pow_tensor": (lambda a, b: a ** b, [(3, 4), (3, 4)], "pos"),
    "rpow": (lambda a: 2 ** a, [(5,)], None),
    "neg": (lambda a: -a, [(3, 2)], None),
    "exp": (lambda a: a.exp(), [(3, 4)], None),
    "log": (lambda a: a.log(), [(3, 4)], "pos"),
    "sqrt": (lambda a: a.sqrt(), [(3, 4)], "pos"),
    "tanh": (lambda a: a.tanh(), [(3, 4)], None),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)], None),
    "relu": (lambda a: a.relu(), [(3, 4)], None),
    "abs": (lambda a: a.abs(), [(3, 4)], None),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), [(3, 4)], None),
    "clamp_min": (lambda a: a.clamp(min=0.1), [(3, 4)], None),
    "maximum": (lambda a, b: cgrad.maximum(a, b), [(3, 4), (4,)], None),
    "minimum": (lambda a, b: cgrad.minimum(a, b), [(3, 4), (3, 4)], None),
    "where": (lambda a, b: cgrad.where(a > 0, a, b), [(3, 4), (3, 4)], None),
    "sum": (lambda a: a.sum(), [(3, 4)], None),
    "sum_dim": (lambda a: a.sum(1), [(3, 4)], None),
    "sum_dims_keepdim": (lambda a: a.sum((0, 2), keepdim=True), [(2, 3, 4)], None),
    "mean": (lambda a: a.mean(), [(3, 4)], None),
    "mean_dim": (lambda a: a.mean(-1, keepdim=True), [(3, 4)], None),
    "max": (lambda a: a.max(), [(3, 4)], None),
    "max_dim": (lambda a: a.max(1).values, [(3, 4)], None),
    "min_dim_keepdim": (lambda a: a.min(0, keepdim=True)[0], [(3, 4)], None),
    "amax": (lambda a: a.amax(1), [(3, 4)], None),
    "var": (lambda a: a.var(), [(3, 4)], None),
    "var_dim": (lambda a: a.var(1, unbiased=False), [(3, 4)], None),
    "std_dim": (lambda a: a.std(0, keepdim=True), [(3, 4)], None),
    "norm": (lambda a: a.norm(), [(3, 4)], None),
    "norm_p1_dim": (lambda a: a.norm(p=1, dim=1), [(3, 4)], None),
    "norm_p3": (lambda a: a.norm(p=3), [(3, 4)], None),
    "prod": (lambda a: a.prod(), [(2, 3)], None),
    "prod_dim": (lambda a: a.prod(1), [(3, 4)], None),
    "softmax": (lambda a: a.softmax(1), [(3, 4)], None),
    "softmax_dim0": (lambda a: a.softmax(0), [(3, 4)], None),
    "log_softmax": (lambda a: a.log_softmax(-1), [(3, 4)], None),
    "matmul_2d": (lambda a, b: a @ b, [(3, 4), (4, 5)], None),
    "matmul_1d_1d": (lambda a, b: a @ b, [(4,), (4,)], None),
    "matmul_1d_2d": (lambda a, b: a @ b, [(4,), (4, 5)], None),
    "matmul_2d_1d": (lambda a, b: a @ b, [(3, 4), (4,)], None),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)], None),
    "matmul_broadcast": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], None),
    "matmul_batch_broadcast": (lambda a, b: cgrad.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)], None),
    "mm": (lambda a, b: cgrad.mm(a, b), [(3, 4), (4, 2)], None),
    "view": (lambda a: a.view(4, 3) * 1, [(3, 4)], None),
    "reshape_noncontig": (lambda a: a.t().reshape(-1), [(3, 4)], None),
    "flatten": (lambda a: a.flatten(1), [(2, 3, 4)], None),
    "transpose": (lambda a: a.transpose(0, 2), [(2, 3, 4)], None),
    "permute": (lambda a: a.permute(2, 0, 1), [(2, 3, 4)], None),
    "t": (lambda a: a.t(), [(3, 4)], None),
    "expand": (lambda a: a.expand(3, 4) * 1, [(1, 4)], None),
    "squeeze": (lambda a: a.squeeze(), [(3, 1, 4)], None),
    "unsqueeze": (lambda a: a.unsqueeze(1), [(3, 4)], None),
    "index_int": (lambda a: a[1], [(3, 4)], None),
    "index_slice": (lambda a: a[::2, 1:], [(3, 4)], None),
    "index_none_ellipsis": (lambda a: a[None, ..., 0], [(3, 4)], None),
    "index_int_tensor_dup": (lambda a: a[cgrad.tensor([0, 2, 0, 0])], [(3, 4)], None),
    "index_bool_mask": (lambda a: a[a > 0], [(3, 4)], None),
    "index_2_arrays": (lambda a: a[cgrad.tensor([0, 1, 1]), cgrad.tensor([3, 0, 3])],
                       [(3, 4)], None),
    "cat": (lambda a, b: cgrad.cat([a, b], 1), [(3, 4), (3, 2)], None),
    "stack": (lambda a, b: cgrad.stack([a, b], -1), [(3, 4), (3, 4)], None),
    "clone": (lambda a: a.clone(), [(3,)], None),
    "contiguous": (lambda a: a.t().contiguous(), [(3, 4)], None),
    "to_float32": (lambda a: a.float().double(), [(3,)], None),
    "chain": (lambda a, b: ((a * b).tanh() + a.exp() / (b * b + 1)).sum(0), [(3, 4), (3, 4)],
              None),
}


def _inputs(shapes, domain, dtype, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        x = rng.standard_normal(s)
        if domain == "pos":
            x = np.abs(x) + 0.5
        out.append(cgrad.tensor(x, dtype=dtype, requires_grad=True))
    return out


def _to_torch(xs, torch):
    return [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck(name, backend):
    fn, shapes, domain = OPS[name]
    # a round trip through float32 is only float32-accurate
    eps, atol = (1e-2, 1e-4) if name == "to_float32" else (1e-6, 1e-6)
    assert gradcheck(fn, _inputs(shapes, domain, cgrad.float64), eps=eps, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(OPS))
def test_backends_agree(name):
    if cgrad.backends.CythonKernels is None:
        pytest.skip("compiled kernels not built")
    fn, shapes, domain = OPS[name]
    results = {}
    for b in ("numpy", "cython"):
        cgrad.set_backend(b)
        try:
            xs = _inputs(shapes, domain, cgrad.float32)
            y = fn(*xs)
            y.backward(cgrad.ones_like(y))
            results[b] = [y.detach().numpy()] + [x.grad.numpy() for x in xs]
        finally:
            cgrad.set_backend("cython")
    for a, c in zip(results["numpy"], results["cython"]):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_torch(name, backend):
    torch = pytest.importorskip("torch")
    torch_fns = dict(TORCH_OVERRIDES)
    fn, shapes, domain = OPS[name]
    tfn = torch_fns.get(name, fn)
    xs = _inputs(shapes, domain, cgrad.float32)
    ts = _to_torch(xs, torch)
    y, ty = fn(*xs), tfn(*ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert y.dtype.name == str(ty.dtype).split(".")[1]
    y.backward(cgrad.ones_like(y))
    ty.backward(torch.ones_like(ty))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def _torch_ops():
    import torch
    return {
        "maximum": lambda a, b: torch.maximum(a, b),
        "minimum": lambda a, b: torch.minimum(a, b),
        "where": lambda a, b: torch.where(a > 0, a, b),
        "matmul_batch_broadcast": lambda a, b: torch.matmul(a, b),
        "mm": lambda a, b: torch.mm(a, b),
        "index_int_tensor_dup": lambda a: a[torch.tensor([0, 2, 0, 0])],
        "index_2_arrays": lambda a: a[torch.tensor([0, 1, 1]), torch.tensor([3, 0, 3])],
        "cat": lambda a, b: torch.cat([a, b], 1),
        "stack": lambda a, b: torch.stack([a, b], -1),
    }


try:
    TORCH_OVERRIDES = _torch_ops()
except ImportError:
    TORCH_OVERRIDES = {}


def test_grad_fn_names():
    x = cgrad.tensor([1., 2.], requires_grad=True)
    names = {
        "AddBackward0": x + 1, "MulBackward0": x * 2, "SubBackward0": x - x,
        "RsubBackward1": 1 - x, "DivBackward0": x / 2, "PowBackward0": x ** 2,
        "PowBackward1": x ** x, "NegBackward0": -x, "ExpBackward0": x.exp(),
        "SumBackward0": x.sum(), "SumBackward1": x.sum(0), "MeanBackward0": x.mean(),
        "MeanBackward1": x.mean(0), "ViewBackward0": x.view(2, 1),
        "MmBackward0": x.view(1, 2) @ x.view(2, 1), "DotBackward0": x @ x,
        "SelectBackward0": x[0], "SliceBackward0": x[1:], "IndexBackward0": x[cgrad.tensor([0])],
        "ReluBackward0": x.relu(), "TanhBackward0": x.tanh(), "SigmoidBackward0": x.sigmoid(),
        "SoftmaxBackward0": x.softmax(0), "LogSoftmaxBackward0": x.log_softmax(0),
        "MaxBackward1": x.max(), "UnsqueezeBackward0": x.unsqueeze(0),
        "CatBackward0": cgrad.cat([x, x]), "StackBackward0": cgrad.stack([x, x]),
        "CloneBackward0": x.clone(), "ExpandBackward0": x.expand(2, 2),
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name
        assert f"grad_fn=<{name}>" in repr(t)


def test_integer_and_bool_promotion_like_torch():
    torch = pytest.importorskip("torch")
    samples = [([1, 2], "int64"), ([1., 2.], "float32"), ([True, False], "bool")]
    scalars = [2, 2.5, True]
    for data, _ in samples:
        for s in scalars:
            for op in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b):
                c = op(cgrad.tensor(data), s)
                t = op(torch.tensor(data), s)
                assert c.dtype.name == str(t.dtype).split(".")[1], (data, s)
                np.testing.assert_allclose(c.numpy(), t.numpy())
    f32 = cgrad.ones(3)
    assert (f32 + cgrad.ones(3, dtype=cgrad.float64)).dtype == cgrad.float64
    assert (f32 + cgrad.tensor(2., dtype=cgrad.float64)).dtype == cgrad.float32  # 0-dim: weaker
    assert (cgrad.tensor([1, 2]) + cgrad.tensor([0.5], dtype=cgrad.float32)).dtype == cgrad.float32


# ---- edge cases a differential fuzz against PyTorch found --------------------------------------
def test_scalars_keep_the_tensor_dtype(backend):
    """alpha, NumPy scalars: a float32 tensor stays float32 (NumPy alone promotes to float64)"""
    x = cgrad.ones(3)
    for y in (x.add(2.0, alpha=2), cgrad.sub(x, 2.0, alpha=0.5),
              cgrad.tensor([1, 2]).add(2.5, alpha=2), x * np.float64(2), np.float64(2) * x,
              x / np.float64(3), x - np.float32(1)):
        assert y.dtype == cgrad.float32
    np.testing.assert_array_equal(x.add(2.0, alpha=2).numpy(), [5, 5, 5])
    np.testing.assert_array_equal(x.clone().mul_(np.float32(2)).numpy(), [2, 2, 2])
    np.testing.assert_array_equal(x.clone().add_(np.int64(2)).numpy(), [3, 3, 3])
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        cgrad.tensor([1, 2]).add(2, alpha=2.0)


def test_functions_take_a_number_first():
    t, i = cgrad.tensor([1., 2.]), cgrad.tensor([1, 2])
    np.testing.assert_array_equal(cgrad.sub(2, t, alpha=2).numpy(), [0, -2])
    np.testing.assert_array_equal(cgrad.pow(2, t).numpy(), [2, 4])
    assert cgrad.add(2, i).dtype == cgrad.int64 and cgrad.add(2.5, i).dtype == cgrad.float32


def test_std_of_constant_rows_has_zero_gradient(backend):
    x = cgrad.tensor([[2., 2., 2.], [1., 2., 3.]], requires_grad=True)
    x.std(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [-0.5, 0, 0.5]])
    one = cgrad.tensor([5.], requires_grad=True)
    one.std(correction=0).backward()
    assert one.grad.item() == 0


def test_reductions_with_dim_on_0d_tensors(backend):
    x = cgrad.tensor(3., requires_grad=True)
    m, p = x.max(dim=0), x.prod(dim=0, keepdim=True)
    assert m.values.shape == () and m.indices.item() == 0 and p.shape == ()
    (m.values + x.amax(dim=-1) + p + x.min(0).values).backward()
    assert x.grad.item() == 4


def test_argmax_of_an_empty_tensor():
    assert cgrad.zeros(0, 5).argmax(dim=1).shape == (0,)
    assert cgrad.zeros(0, 5).argmin(dim=1, keepdim=True).shape == (0, 1)
    with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
        cgrad.zeros(0, 2, 3).argmax(dim=0)
    with pytest.raises(IndexError):
        cgrad.zeros(0, 5).argmax()


@pytest.mark.parametrize("shape", [(5, 0, 4), (0, 3, 4), (5, 3, 0)])
def test_linear_with_a_zero_size_dim(backend, shape):
    fan_in, fan_out, rows = shape
    layer = cgrad.nn.Linear(fan_in, fan_out)
    x = cgrad.ones(rows, fan_in, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad.shape == (fan_out, fan_in) and x.grad.shape == (rows, fan_in)
    np.testing.assert_array_equal(layer.bias.grad.numpy(), np.full(fan_out, rows, np.float32))


def test_linear_broadcasts_a_bias_of_another_shape(backend):
    F = cgrad.nn.functional
    x = cgrad.arange(15.).reshape(3, 5)
    for shape, want in (((1,), [[864.]]), ((1, 4), [[216.] * 4]),
                        ((3, 4), [[22.] * 4, [72.] * 4, [122.] * 4])):
        b = cgrad.ones(*shape, requires_grad=True)
        F.linear(x, cgrad.ones(4, 5), b).pow(2).sum().backward()
        np.testing.assert_allclose(b.grad.numpy().reshape(-1), np.ravel(want))
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(4\) must match the "
                                           r"existing size \(6\)"):    # (PyTorch's addmm's)
        F.linear(cgrad.ones(3, 5), cgrad.ones(4, 5), cgrad.ones(6))


def test_integer_powers_like_torch():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        cgrad.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        cgrad.tensor([2, 3]).pow_(-1)
    got = cgrad.tensor([0, 1, -1, -1, 2, -2, 5]) ** cgrad.tensor([-1, -3, -1, -2, -1, -1, 0])
    np.testing.assert_array_equal(got.numpy(), [0, 1, -1, 1, 0, 0, 1])     # PyTorch's values
    np.testing.assert_array_equal((2 ** cgrad.tensor([-1, 2])).numpy(), [0, 4])
    assert (cgrad.tensor([2, 3]) ** -1.5).dtype == cgrad.float32


@pytest.mark.parametrize("n", [4, 40000])         # NumPy's path, and the compiled kernels'
def test_gradients_at_nan_follow_pytorch(backend, n):
    """maximum / minimum pass all of g to both sides at a NaN, relu passes g on at a NaN,
    abs gives 0 there (sign(NaN) = 0), as PyTorch does"""
    nan = float("nan")
    reps = n // 4
    a = cgrad.tensor([nan, 1., nan, 2.] * reps, requires_grad=True)
    b = cgrad.tensor([1., nan, nan, 2.] * reps, requires_grad=True)
    for fn in (cgrad.maximum, cgrad.minimum):
        a.grad = b.grad = None
        fn(a, b).sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), [1, 1, 1, 0.5] * reps)
        np.testing.assert_array_equal(b.grad.numpy(), [1, 1, 1, 0.5] * reps)
    x = cgrad.tensor([nan, 1., -2., 0.] * reps, requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 0, 0] * reps)
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, -1, 0] * reps)


def test_linear_with_only_the_bias_trained(backend):
    """A frozen weight and an input without grad: backward saves neither, and the bias still
    gets its gradient (the compiled path crashed on this; big enough to take it)"""
    cgrad.manual_seed(0)
    layer = cgrad.nn.Linear(256, 512)
    layer.weight.requires_grad_(False)
    x = cgrad.randn(512, 256)
    y = layer(x)
    y.pow(2).sum().backward()
    want = 2 * y.detach().numpy().astype(np.float64).sum(0)
    np.testing.assert_allclose(layer.bias.grad.numpy(), want, rtol=1e-4, atol=1e-3)
    assert layer.weight.grad is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_alpha_addcmul_and_addcdiv_round_as_pytorchs_loops(backend, dtype):
    """add/sub with alpha and addcmul round once, as PyTorch's vectorised fma (a + alpha b
    rounded twice differed in ~20% of float32 elements), addcdiv as its (value t1) / t2 +
    self; both below and above the compiled kernels' sizes, and in place"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for n in (2000, 70000):
        a, b, c = (rng.standard_normal(n).astype(dtype) for _ in range(3))
        for v in (1 / 3, -0.01):
            T, C = (lambda x: torch.from_numpy(x)), (lambda x: cgrad.from_numpy(x))
            pairs = [(torch.add(T(a), T(b), alpha=v), cgrad.add(C(a), C(b), alpha=v)),
                     (T(a).sub(T(b), alpha=v), C(a).sub(C(b), alpha=v)),
                     (T(a.copy()).add_(T(b), alpha=v), C(a.copy()).add_(C(b), alpha=v)),
                     (torch.addcmul(T(a), T(b), T(c), value=v),
                      cgrad.addcmul(C(a), C(b), C(c), value=v)),
                     (torch.addcdiv(T(a), T(b), T(c), value=v),
                      cgrad.addcdiv(C(a), C(b), C(c), value=v))]
            for expected, got in pairs:
                differ = int((expected.numpy() != got.numpy()).sum())
                # float64's fma goes through long double: a true fma's bits but for ~1 in 1000
                assert differ <= (n // 500 if dtype == "float64" else 0)
    x = cgrad.tensor([1.0367525815963745])
    assert cgrad.add(x, x, alpha=1 / 3).item() == 1.3823367357254028    # (twice rounded:
                                                                        # 1.3823368549346924)


def test_addcmul_and_addcdiv_gradients_keep_pytorchs_formulas(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    a, b, c = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 1)) + 3
    grads = []
    for lib in (torch, cgrad):
        A, B_, C_ = (lib.tensor(x, requires_grad=True) for x in (a, b, c))
        y = lib.addcmul(A, B_, C_, value=0.3) + A.addcdiv(B_, C_, value=-0.7) * 2
        assert y.grad_fn.next_functions[0][0].name() == "AddcmulBackward0"
        y.sum().backward()
        grads.append([t.grad.numpy() for t in (A, B_, C_)])
    for expected, got in zip(*grads):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_lerp_rounds_as_pytorchs_fused_forms(backend, dtype):
    """lerp's two forms each one fused multiply-add, as PyTorch's vectorised loop (twice
    rounded, ~25% of float32 elements were an ulp off): scalar and tensor weights, below and
    above the compiled kernel's size; float64 through long double"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for n in (2000, 70000):
        a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        wt = (rng.random(n) * 1.4 - 0.2).astype(dtype)
        for w in (0.3, 0.7, -0.2, wt):
            tw, cw = (torch.from_numpy(w), cgrad.from_numpy(w)) if isinstance(w, np.ndarray) \
                else (w, w)
            expected = torch.lerp(torch.from_numpy(a), torch.from_numpy(b), tw).numpy()
            got = cgrad.lerp(cgrad.from_numpy(a), cgrad.from_numpy(b), cw).numpy()
            assert int((expected != got).sum()) <= (n // 500 if dtype == "float64" else 0)
