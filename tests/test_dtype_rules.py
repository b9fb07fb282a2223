"""PyTorch's dtype rules at the edges: which ops refuse integer and bool tensors (and with which
exception), bool arithmetic, losses whose weights take no gradient, x ** +-0.5, sum/mean with
dtype=, amax/amin over several dims, bmm and mv. PyTorch is the oracle where installed."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:          # the oracle tests skip; the others assert PyTorch's known answers
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")

INTS = cgrad.tensor([[1, -2, 3], [4, 5, -6]])
BOOLS = cgrad.tensor([[True, False, True], [False, True, True]])

# op, the exception PyTorch raises for an int64 input and for a bool input (None: it computes)
FLOAT_ONLY = {
    "gelu": (lambda x: F.gelu(x), NotImplementedError, NotImplementedError),
    "leaky_relu": (lambda x: F.leaky_relu(x), NotImplementedError, NotImplementedError),
    "softmax": (lambda x: x.softmax(1), NotImplementedError, NotImplementedError),
    "softmax0": (lambda x: F.softmax(x, 0), NotImplementedError, NotImplementedError),
    "log_softmax": (lambda x: x.log_softmax(1), NotImplementedError, NotImplementedError),
    "var": (lambda x: x.var(), RuntimeError, RuntimeError),
    "std": (lambda x: x.std(1), RuntimeError, RuntimeError),
    "var, dim out of range": (lambda x: x.var(5), RuntimeError, RuntimeError),   # (dtype first)
    "std, dim out of range": (lambda x: cgrad.std(x, (0, -4)), RuntimeError, RuntimeError),
    "norm": (lambda x: x.norm(), RuntimeError, RuntimeError),
    "norm, dim out of range": (lambda x: x.norm(dim=(0, 3)), RuntimeError, RuntimeError),
    "vector_norm, dim out of range": (lambda x: cgrad.linalg.vector_norm(x, 1, 2), RuntimeError,
                                      RuntimeError),
    "mse_loss": (lambda x: F.mse_loss(x, x), NotImplementedError, NotImplementedError),
    "bce": (lambda x: F.binary_cross_entropy(x, x), NotImplementedError, NotImplementedError),
    "bce_logits": (lambda x: F.binary_cross_entropy_with_logits(x, x), NotImplementedError,
                   NotImplementedError),
    "nll_loss": (lambda x: F.nll_loss(x, cgrad.tensor([0, 2])), NotImplementedError,
                 NotImplementedError),
    "cross_entropy": (lambda x: F.cross_entropy(x, cgrad.tensor([0, 2])), NotImplementedError,
                      NotImplementedError),
    "relu": (lambda x: x.relu(), None, RuntimeError),
    "abs": (lambda x: x.abs(), None, NotImplementedError),
    "neg": (lambda x: -x, None, RuntimeError),
    "argmax": (lambda x: x.argmax(), None, RuntimeError),
    "argmin": (lambda x: x.argmin(1), None, RuntimeError),
    "matmul": (lambda x: x @ x.T, None, NotImplementedError),
    "dot": (lambda x: x[0] @ x[1], None, NotImplementedError),
    "linear": (lambda x: F.linear(x, x), None, NotImplementedError),
    "sub": (lambda x: x - x, None, RuntimeError),
    "rsub": (lambda x: 1 - x, None, RuntimeError),
    "sub_number": (lambda x: x - 1, None, RuntimeError),
    "l1_loss": (lambda x: F.l1_loss(x, x), RuntimeError, RuntimeError),
}


@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
@pytest.mark.parametrize("kind", ["int64", "bool"])
def test_integer_and_bool_inputs_raise_like_pytorch(backend, name, kind):
    op, int_error, bool_error = FLOAT_ONLY[name]
    error = int_error if kind == "int64" else bool_error
    x = INTS if kind == "int64" else BOOLS
    if error is None:
        op(x)                                     # computes, as in PyTorch
    else:
        with pytest.raises(error, match="Long|Bool|bool|floating|mean|Subtraction|Negation"):
            op(x)


@needs_torch
@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
@pytest.mark.parametrize("kind", ["int64", "bool"])
def test_integer_and_bool_errors_match_pytorch(name, kind):
    """the table above is PyTorch's: its ops raise the same classes (or compute)"""
    op, int_error, bool_error = FLOAT_ONLY[name]
    error = int_error if kind == "int64" else bool_error
    x = torch.tensor(INTS.tolist() if kind == "int64" else BOOLS.tolist())
    # the same lambda, its globals F and cgrad bound to PyTorch's
    torch_op = type(op)(op.__code__, {"F": TF, "cgrad": torch})
    if error is None:
        torch_op(x)
    else:
        with pytest.raises(error):
            torch_op(x)


def test_integer_results_where_pytorch_gives_them(backend):
    assert INTS.prod(1).tolist() == [-6, -120] and INTS.prod().dtype == cgrad.int64
    assert BOOLS.prod(1).dtype == cgrad.int64 and BOOLS.prod(1).tolist() == [0, 0]
    assert cgrad.tensor([2, 3], dtype=cgrad.int32).prod().dtype == cgrad.int64
    assert F.l1_loss(INTS, INTS * 2, reduction="sum").item() == 21   # integers stay integers
    assert F.l1_loss(INTS, INTS * 2, reduction="none").dtype == cgrad.int64
    assert F.mse_loss(INTS.float(), INTS).item() == 0.0             # one float operand: fine
    assert INTS.relu().tolist() == [[1, 0, 3], [4, 5, 0]]


def test_bool_add_with_alpha_stays_bool(backend):
    a, b = cgrad.tensor([True, False, False]), cgrad.tensor([True, True, False])
    r = a.add(b, alpha=2)
    assert r.dtype == cgrad.bool and r.tolist() == [True, True, False]
    assert a.add(True, alpha=2).tolist() == [True, True, True]
    assert a.add(b, alpha=0).tolist() == [True, False, False]
    assert a.add(cgrad.tensor([1, 1, 1]), alpha=2).tolist() == [3, 2, 2]     # int64 result
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
        cgrad.tensor([1, 2]).add(1, alpha=False)
    with pytest.raises(RuntimeError, match="two bool tensors"):
        a.sub(b, alpha=2)


def test_maximum_and_minimum_take_tensors_only(backend):
    x = cgrad.ones(3)
    with pytest.raises(TypeError, match=r"maximum\(\): argument 'other' \(position 2\) must be "
                                        r"Tensor, not float"):
        cgrad.maximum(x, 2.0)
    with pytest.raises(TypeError, match=r"minimum\(\): argument 'input' \(position 1\) must be "
                                        r"Tensor, not int"):
        cgrad.minimum(2, x)
    assert x.clamp(min=cgrad.tensor(2.0)).tolist() == [2.0, 2.0, 2.0]     # tensors still do


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "bce", "bce_logits",
                                  "bce_logits_pos"])
def test_loss_weights_that_require_grad_raise(backend, loss):
    x = cgrad.rand(3, 4, requires_grad=True)
    t, p = cgrad.tensor([0, 1, 3]), cgrad.rand(3, 4)
    w = cgrad.rand(4, requires_grad=True)
    call = {"cross_entropy": lambda: F.cross_entropy(x, t, weight=w),
            "nll_loss": lambda: F.nll_loss(x, t, weight=w),
            "bce": lambda: F.binary_cross_entropy(x, p, weight=w),
            "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, p, weight=w),
            "bce_logits_pos": lambda: F.binary_cross_entropy_with_logits(x, p, pos_weight=w)}
    with pytest.raises(RuntimeError, match="is not differentiable with respect to argument "
                                           "'(pos_)?weight'"):
        call[loss]()
    with cgrad.no_grad():
        call[loss]()                              # no graph: nothing to refuse
    w.requires_grad_(False)
    call[loss]().backward()


def test_soft_cross_entropy_weight_gets_a_gradient(backend):
    """with class-probability targets the weight is differentiable (PyTorch computes it)"""
    x = cgrad.tensor([[1.0, 2.0, 0.5], [0.1, -1.0, 2.0]], requires_grad=True)
    p = cgrad.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    w = cgrad.tensor([1.0, 2.0, 0.5], requires_grad=True)
    F.cross_entropy(x, p, weight=w).backward()
    logp = x.detach().log_softmax(1).numpy()
    expected = -(p.numpy() * logp).sum(0) / 2              # d/dw of mean_i -sum_c w_c p_ic lp_ic
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6)


def test_bce_target_dtype_must_match(backend):
    x = cgrad.rand(3)
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        F.binary_cross_entropy(x, x.double())
    with pytest.raises(RuntimeError, match="Found dtype Long but expected Float"):
        F.binary_cross_entropy(x, cgrad.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        F.binary_cross_entropy_with_logits(x, cgrad.tensor([0, 1, 1]))
    assert F.binary_cross_entropy_with_logits(x, x.double()).dtype == cgrad.float64


def test_matrix_products_do_not_promote(backend):
    a = cgrad.ones(2, 3)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: "
                                           "float != double"):
        a @ cgrad.ones(3, 2, dtype=cgrad.float64)
    with pytest.raises(RuntimeError, match="float != long int"):
        F.linear(a, cgrad.ones(4, 3, dtype=cgrad.int64))


@pytest.mark.parametrize("dtype", [cgrad.float32, cgrad.float64])
def test_pow_half_is_sqrt_and_minus_half_is_rsqrt(backend, dtype):
    """PyTorch computes x ** 0.5 as sqrt(x) and x ** -0.5 as 1 / sqrt(x), whose special
    values differ from C's pow: (-0.) ** 0.5 is -0., (-inf) ** 0.5 nan, (-0.) ** -0.5 -inf"""
    inf = math.inf
    x = cgrad.tensor([-inf, -0.0, 0.0, -1.0, 4.0, inf], dtype=dtype)
    half, minus_half = (x ** 0.5).tolist(), (x ** -0.5).tolist()
    assert math.isnan(half[0]) and math.copysign(1, half[1]) == -1 and half[2:] == [
        0.0, half[3], 2.0, inf] and math.isnan(half[3])
    assert math.isnan(minus_half[0]) and minus_half[1:3] == [-inf, inf]
    assert math.isnan(minus_half[3]) and minus_half[4:] == [0.5, 0.0]
    big = cgrad.rand(20000, dtype=dtype) + 0.5          # the compiled backend's sizes too
    np.testing.assert_array_equal((big ** 0.5).numpy(), np.sqrt(big.numpy()))
    np.testing.assert_array_equal((big ** -0.5).numpy(), 1 / np.sqrt(big.numpy()))
    big.requires_grad_()
    (big ** 1.5).sum().backward()                       # 1.5 * x ** 0.5: through sqrt
    np.testing.assert_array_equal(big.grad.numpy(),
                                  dtype.np.type(1.5) * np.sqrt(big.detach().numpy()))


@needs_torch
@pytest.mark.parametrize("dtype", [cgrad.float32, cgrad.float64])
@pytest.mark.parametrize("n", [100, 3000, 20000])          # NumPy's sizes and the kernels'
def test_pow_3_and_minus_2_are_pytorchs_products(backend, dtype, n):
    """PyTorch computes x ** 3 as x*x*x and x ** -2 as 1 / (x*x), not with C's pow (which
    rounds otherwise, and is ~60 ns an element for a negative base): the same bits here"""
    values = np.random.default_rng(n).standard_normal(n) * 3
    values[:5] = [0.0, -0.0, math.inf, -math.inf, 1e30]
    values = values.astype(dtype.np)
    for c in (3, -2, 3.0):
        ours, theirs = cgrad.tensor(values) ** c, torch.tensor(values) ** c
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_sum_and_mean_with_dtype(backend):
    x = cgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    s = x.sum(dtype=cgrad.float64)
    assert s.dtype == cgrad.float64 and s.item() == 10.0
    s.backward()
    assert x.grad.dtype == cgrad.float32 and x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert cgrad.sum(x, 1, True, dtype=cgrad.float64).shape == (2, 1)
    assert cgrad.tensor([1, 2]).sum(dtype=cgrad.float32).dtype == cgrad.float32
    m = cgrad.tensor([1, 2]).mean(dtype=cgrad.float32)
    assert m.dtype == cgrad.float32 and m.item() == 1.5
    assert x.mean(0, dtype=cgrad.float64).tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="Optional dtype must be either a floating point"):
        x.mean(dtype=cgrad.int64)


def test_amax_and_amin_over_several_dims_share_ties(backend):
    x = cgrad.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    y = x.amax(dim=1)
    assert y.tolist() == [3.0, 2.0] and y.grad_fn.name() == "AmaxBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]   # max(dim) picks one index
    x.grad = None
    x.amax(dim=(0, 1)).backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    x.grad = None
    y = x.amin(dim=(-1, 0), keepdim=True)
    assert y.shape == (1, 1) and y.item() == 0.0
    y.backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert x.amax(()).item() == 3.0 and x.amax((), keepdim=True).shape == (1, 1)
    assert cgrad.tensor([[1, 5]]).amax(1).tolist() == [5]
    assert cgrad.ones(0, 3).amax(1).shape == (0,)
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0 to have non-zero"):
        cgrad.ones(0, 3).amax(0)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.amax((1, 1))
    z = cgrad.tensor([[1.0, math.nan, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    z.amax(1).sum().backward()                 # a NaN row: NaN gradients, as PyTorch's g / 0 * 0
    # (its 0 maxima and the other row's 2 add up to one a row: the NaN sends it to the count)
    assert np.isnan(z.grad[0].numpy()).all() and z.grad[1].tolist() == [0.5, 0.5, 0.0]
    w = cgrad.tensor([[1.0, 4.0, 3.0], [2.0, -1.0, 0.0]], requires_grad=True)
    w.amax(1).backward(cgrad.tensor([2.0, -3.0]))     # one maximum a row: g itself there
    assert w.grad.tolist() == [[0.0, 2.0, 0.0], [-3.0, 0.0, 0.0]]
    w.grad = None
    w.amin((0, 1), keepdim=True).backward(cgrad.tensor([[math.inf]]))
    grad = w.grad.numpy()                      # PyTorch's product: inf * 0 is NaN off the min
    assert grad[1, 1] == math.inf and np.isnan(np.delete(grad.reshape(-1), 4)).all()


def test_bmm_and_mv(backend, rng):
    a = cgrad.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    b = cgrad.tensor(rng.standard_normal((2, 4, 5)).astype(np.float32), requires_grad=True)
    y = cgrad.bmm(a, b)
    np.testing.assert_allclose(y.detach().numpy(), a.detach().numpy() @ b.detach().numpy(),
                               rtol=1e-5)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 3, 5)) @ b.detach().numpy()
                               .transpose(0, 2, 1), rtol=1e-5)
    assert a.bmm(b).shape == (2, 3, 5)
    m = cgrad.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    v = cgrad.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    z = cgrad.mv(m, v)
    np.testing.assert_allclose(z.detach().numpy(), m.detach().numpy() @ v.detach().numpy(),
                               rtol=1e-5)
    z.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), m.detach().numpy().sum(0), rtol=1e-5)
    assert m.mv(v).shape == (3,)
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        cgrad.bmm(m, b)
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 4\] but got: \[2, 5\]"):
        cgrad.bmm(a, cgrad.ones(2, 5, 5))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        cgrad.bmm(a, b.double())
    with pytest.raises(RuntimeError, match="vector \\+ matrix @ vector expected, got 1, 2, 2"):
        cgrad.mv(m, m.T)
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(3\), mat \(3x4\), "
                                           r"vec \(5\)"):
        cgrad.mv(m, cgrad.ones(5))


def test_division_by_zero_does_not_warn(tmp_path):
    """PyTorch gives inf and nan silently; `import cgrad` ignores NumPy's warnings from its own
    modules, even under -W error (a user's NumPy code still warns)"""
    code = ("import cgrad, numpy as np\n"
            "for b in ('numpy', 'cython'):\n"
            "    cgrad.set_backend(b)\n"
            "    print((cgrad.tensor([1.0, 0.0]) / 0).tolist(),\n"
            "          (cgrad.tensor([1e30]) * 1e30).item())\n"
            "np.array([1.0]) / 0\n")                   # line 6
    # the cgrad this test imports (installed, or the checkout), not whatever the cwd holds
    where = os.path.dirname(os.path.dirname(cgrad.__file__))
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                       text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": where})
    assert r.stdout.split("\n")[:2] == ["[inf, nan] inf"] * 2, r.stderr
    assert r.returncode and 'line 6' in r.stderr and "RuntimeWarning: divide by zero" in r.stderr


@needs_torch
def test_integer_reductions_keep_an_asked_integer_dtype(backend):
    """sum/prod with dtype=int32 (or bool) give that dtype, not the int64 they sum in"""
    for m in (cgrad, torch):
        x = m.tensor([[1, 2], [3, 4]])
        b = m.tensor([True, False])
        got = [x.sum(dtype=m.int32), x.sum(0, dtype=m.int32), x.sum((0, 1), dtype=m.int32),
               x.prod(dtype=m.int32), x.prod(1, keepdim=True, dtype=m.int32),
               b.sum(dtype=m.int32), b.sum(dtype=m.bool)]
        if m is cgrad:
            mine = got
        else:
            for a, t in zip(mine, got):
                assert str(a.dtype).split(".")[1] == str(t.dtype).split(".")[1]
                assert a.tolist() == t.tolist()


@needs_torch
def test_softmax_and_nansum_take_dtype(backend):
    """Tensor.softmax/log_softmax(dim, dtype), torch.softmax(..., dtype=) and nansum/nanmean's
    dtype=: run in dtype (an integer input too), the gradient back in the input's dtype"""
    out = {}
    for m in (cgrad, torch):
        x = m.tensor([[1.0, float("nan"), 3.0], [0.5, 2.0, -1.0]], requires_grad=True)
        i = m.tensor([[1, 2, 3], [4, 5, 7]])
        got = [x.nan_to_num().softmax(1, m.float64), x.nan_to_num().log_softmax(0, dtype=m.float64),
               m.softmax(i, 1, dtype=m.float32), m.log_softmax(i, -1, dtype=m.float64),
               x.nansum(dtype=m.float64), x.nansum(1, keepdim=True, dtype=m.float64),
               i.nansum(dtype=m.int32), m.nansum(i, 1, True, dtype=m.float64),
               x.nanmean(0, dtype=m.float64)]
        w = sum((g * m.arange(g.numel(), dtype=g.dtype).reshape(g.shape)).sum()
                for g in got if g.requires_grad)
        w.backward()
        out[m] = got + [x.grad]
    for a, t in zip(out[cgrad], out[torch]):
        assert str(a.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-6)


LERP_ADDCDIV = {
    "lerp end double": lambda m, f, d, i, b: f.lerp(d, 0.5),
    "lerp end long": lambda m, f, d, i, b: f.lerp(i, 0.5),
    "lerp 0-d end double": lambda m, f, d, i, b: m.lerp(f, m.tensor(1.0, dtype=m.float64), 0.5),
    "lerp_ end double": lambda m, f, d, i, b: f.lerp_(d, 0.5),
    "lerp weight double": lambda m, f, d, i, b: f.lerp(f, d),
    "lerp_ weight float": lambda m, f, d, i, b: d.lerp_(d, f),
    "lerp 0-d weight double": lambda m, f, d, i, b: f.lerp(f, m.tensor(0.5, dtype=m.float64)),
    "lerp 0-d weight long": lambda m, f, d, i, b: f.lerp(f * 3, m.tensor(1)),
    "lerp long": lambda m, f, d, i, b: i.lerp(i, 0.5),
    "lerp bool": lambda m, f, d, i, b: b.lerp(b, 0.5),
    "lerp long weight long": lambda m, f, d, i, b: i.lerp(i, i),
    "lerp end a number": lambda m, f, d, i, b: f.lerp(2.0, 0.5),
    "addcdiv long by long": lambda m, f, d, i, b: m.addcdiv(f, i, i),
    "addcdiv bool by bool": lambda m, f, d, i, b: m.addcdiv(f, b, b),
    "addcdiv_ bool by long": lambda m, f, d, i, b: f.addcdiv_(b, i),
    "addcdiv all long": lambda m, f, d, i, b: m.addcdiv(i, i, i),
    "addcdiv float by long": lambda m, f, d, i, b: m.addcdiv(f, f, i, value=2),
    "addcdiv long by float": lambda m, f, d, i, b: m.addcdiv(i, f * 4, f),
}


@needs_torch
@pytest.mark.parametrize("name", list(LERP_ADDCDIV))
def test_lerp_and_addcdiv_refuse_dtypes_like_pytorch(backend, name):
    """lerp does not promote: end (and a dimensioned weight) must have self's dtype, and self
    must be floating; addcdiv refuses integer (and bool) tensor1 with tensor2. cgrad promoted
    and computed all of these"""
    outcomes = []
    for m in (cgrad, torch):
        f = m.tensor([1.0, 2.0])
        args = (f, f.double() * 2, f.long() * 3, f > 1)
        try:
            r = LERP_ADDCDIV[name](m, *args)
            outcomes.append((str(r.dtype).split(".")[1], r.tolist()))
        except Exception as e:                      # noqa: BLE001 (the class is compared)
            msg = "" if isinstance(e, TypeError) else str(e)   # (torch's lists overloads)
            outcomes.append((type(e).__name__, msg))
    assert outcomes[0] == outcomes[1]


BOOL_IN_PLACE = {
    "pow_ True": lambda m, b: b.pow_(True),
    "pow_ False": lambda m, b: b.pow_(False),
    "pow_ 0-d bool": lambda m, b: b.pow_(m.tensor(True)),
    "pow_ bool": lambda m, b: b.pow_(b.clone()),
    "**= bool": lambda m, b: b.__ipow__(b.clone()),
    "pow_ 2": lambda m, b: b.pow_(2),
    "remainder_ bool": lambda m, b: b.remainder_(b.clone()),
    "%= True": lambda m, b: b.__imod__(True),
    "remainder_ 2": lambda m, b: b.remainder_(2),
    "+ bool": lambda m, b: +b,
    "+ 0-d bool": lambda m, b: +m.tensor(True),
}


@needs_torch
@pytest.mark.parametrize("name", list(BOOL_IN_PLACE))
def test_bool_in_place_pow_remainder_and_plus_as_pytorch(backend, name):
    """pow_ and remainder_ of a bool tensor follow ** and %: b ** True / False stay bool, a
    bool exponent or divisor is refused (cgrad computed in int8 and failed the cast, or
    divided by zero); unary + of a bool tensor is refused as torch.positive"""
    outcomes = []
    for m in (cgrad, torch):
        try:
            r = BOOL_IN_PLACE[name](m, m.tensor([True, False]))
            outcomes.append((str(r.dtype).split(".")[1], r.tolist()))
        except Exception as e:                      # noqa: BLE001 (the class is compared)
            outcomes.append((type(e).__name__, str(e)))
    assert outcomes[0] == outcomes[1]


ADDC = {
    "int addcmul_ float": lambda m, f, i, b, d: i.addcmul_(f, f),
    "int addcdiv_ float": lambda m, f, i, b, d: i.addcdiv_(f, f),
    "bool addcmul_ int": lambda m, f, i, b, d: b.addcmul_(i, i),
    "int addcmul_ value 0.5": lambda m, f, i, b, d: i.addcmul_(i, i, value=0.5),
    "all bool": lambda m, f, i, b, d: m.addcmul(b, b, b),
    "bool addcmul_ bool": lambda m, f, i, b, d: b.addcmul_(b, b),
    "int value 0.5": lambda m, f, i, b, d: m.addcmul(i, i, i, value=0.5),
    "int value -1.7": lambda m, f, i, b, d: m.addcmul(i, i, i, value=-1.7),
    "int self, float tensors": lambda m, f, i, b, d: m.addcmul(i, f, f, value=0.5),
    "0-d double self, int tensors": lambda m, f, i, b, d: m.addcmul(d, i, i, value=0.3),
    "float self, 0-d double tensors": lambda m, f, i, b, d: m.addcmul(f, d, d, value=0.3),
    "addcdiv 0-d double by int": lambda m, f, i, b, d: m.addcdiv(d, d, i, value=0.5),
}


@needs_torch
@pytest.mark.parametrize("name", list(ADDC))
def test_addcmul_addcdiv_value_and_dtypes_as_pytorch(backend, name):
    """value takes no part in addcmul's type promotion (it is cast to the tensors' dtype, 0.5
    to 0 for integers: cgrad made 1 + 0.5 * 1 * 1 a float or rounded it), all-bool addcmul is
    refused, and addcmul_/addcdiv_ refuse a result self cannot hold (cgrad truncated it)"""
    outcomes = []
    for m in (cgrad, torch):
        args = (m.tensor([1.5, 2.0]), m.tensor([1, 2]), m.tensor([True, False]),
                m.tensor(2.0, dtype=m.float64))
        try:
            r = ADDC[name](m, *args)
            outcomes.append((str(r.dtype).split(".")[1], r.tolist()))
        except Exception as e:                      # noqa: BLE001 (the class is compared)
            outcomes.append((type(e).__name__, str(e)))
    assert outcomes[0] == outcomes[1]


@needs_torch
def test_addcmul_addcdiv_gradients_in_the_wider_dtype(backend):
    out = {}
    for m in (cgrad, torch):
        x = m.tensor([1.0, -2.0], dtype=m.float64, requires_grad=True)
        a = m.tensor([0.5, 3.0], requires_grad=True)
        c = m.tensor([2.0, -1.5], requires_grad=True)
        y = x.addcmul(a, c, value=0.3) + m.addcdiv(x, a, c, value=-2)
        (y * m.tensor([1.0, 2.0], dtype=m.float64)).sum().backward()
        out[m] = [y.dtype, y.tolist(), x.grad.tolist(), a.grad.tolist(), c.grad.tolist()]
    assert str(out[cgrad][0]).split(".")[1] == str(out[torch][0]).split(".")[1]
    for ours, theirs in zip(out[cgrad][1:], out[torch][1:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("alpha", [1.0, True, False, 1, 0.5])
def test_add_and_sub_check_an_alpha_of_one_too(backend, alpha):
    """add/sub/add_ with alpha=1.0 on integers, or alpha=True on non-bool results, are refused
    by PyTorch; cgrad skipped its alpha checks whenever alpha == 1"""
    outcomes = []
    for m in (cgrad, torch):
        i, b, f = m.tensor([1, 2]), m.tensor([True, False]), m.tensor([1.5, 2.0])
        row = []
        for call in (lambda: m.add(i, i, alpha=alpha), lambda: i.sub(i, alpha=alpha),
                     lambda: i.clone().add_(i, alpha=alpha), lambda: f.add(i, alpha=alpha),
                     lambda: f.clone().sub_(f, alpha=alpha), lambda: b.add(b, alpha=alpha),
                     lambda: i.add(2, alpha=alpha), lambda: m.add(f, b, alpha=alpha)):
            try:
                r = call()
                row.append((str(r.dtype).split(".")[1], r.tolist()))
            except Exception as e:                  # noqa: BLE001 (the class is compared)
                row.append((type(e).__name__, str(e)))
        outcomes.append(row)
    assert outcomes[0] == outcomes[1]


@needs_torch
@pytest.mark.parametrize("shape, dim", [((4096, 8), 0), ((3, 5000), 1), ((40, 30), 1)])
def test_float16_softmax_family_sums_in_float32(backend, shape, dim):
    """float16 softmax and log_softmax (forward and backward) computed in float32 and rounded
    once, as PyTorch accumulates half: float16 sums stop at 2048, which left a 4096 column's
    log_softmax at -7.6 where it is -8.3, and its gradients off by half"""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float16)
    w = rng.uniform(0.5, 2.0, shape).astype(np.float16)
    for name in ("softmax", "log_softmax"):
        outs = []
        for m in (cgrad, torch):
            x = m.tensor(a, requires_grad=True)
            y = getattr(x, name)(dim)
            (y * m.tensor(w)).sum().backward()
            outs.append((y.detach().numpy().astype(np.float64), x.grad.numpy().astype(np.float64),
                         str(y.dtype)))
        (y0, g0, d0), (y1, g1, d1) = outs
        assert d0 == "cgrad.float16" and d1 == "torch.float16"
        # within two float16 ulps of PyTorch's (the output's rounding, and the backward's from
        # the rounded output)
        np.testing.assert_allclose(y0, y1, rtol=2 ** -9, atol=1e-7)
        np.testing.assert_allclose(g0, g1, rtol=2 ** -9, atol=2 ** -9 * np.abs(g1).max())


@pytest.mark.parametrize("n", [60000, 70000])
def test_float16_mean_gradient_divides_in_float32(backend, n):
    """a float16 mean's gradient g / n is computed in float32 and rounded once, as PyTorch's
    opmath: n rounded to float16 is inf past 65504 (the gradient was 0) and 59968 at 60000"""
    torch = pytest.importorskip("torch")
    got = []
    for lib in (cgrad, torch):
        t = lib.tensor(np.full(n, 0.25, np.float16), requires_grad=True)
        t.mean().backward()
        got.append(t.grad.numpy()[:3])
    np.testing.assert_array_equal(*got)
    assert got[0][0] > 0


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_float16_erf_gradients_round_once(backend, name):
    """erf's and erfc's float16 gradients: the constant 2/sqrt(pi) times e**(-x*x) in
    float32, rounded once (rounding the constant to float16 first left 59% of erfc's an ulp
    from PyTorch's)"""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).uniform(-3, 3, 20000).astype(np.float16)
    got = []
    for lib in (cgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        getattr(lib, name)(t).backward(lib.ones(x.size, dtype=lib.float16))
        got.append(t.grad.numpy())
    np.testing.assert_array_equal(*got)


@pytest.mark.parametrize("shape", [(), (1,)])
def test_python_ints_past_int64_as_pytorch_reads_them(shape):
    """a Python int from 2**63 to 2**64 is read as a uint64 wrapped into int64, as PyTorch
    reads it (NumPy raised OverflowError); one past that is PyTorch's OverflowError, for a
    float tensor too (it gave inf)"""
    one = cgrad.ones(shape, dtype=cgrad.int64)
    assert (one + 2 ** 63).reshape(-1).tolist() == [-(2 ** 63) + 1]
    assert (one - 2 ** 63).reshape(-1).tolist() == [-(2 ** 63) + 1]
    for t in (one, one.float()):
        for big in (2 ** 64, 2 ** 200, -(2 ** 63) - 1):
            with pytest.raises(OverflowError, match="int too big to convert"):
                t * big
    assert (one.float() * 2 ** 63).reshape(-1).tolist() == [2.0 ** 63]
