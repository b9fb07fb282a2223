"""The activations PyTorch has beside ReLU and friends (ReLU6, Hardtanh, SELU, CELU, Mish,
Softsign, Hardswish, Hardsigmoid, PReLU, GLU, Softmin, Threshold, Softshrink, Hardshrink,
Tanhshrink, Softmax2d, RReLU), against PyTorch: values, gradients and second derivatives,
in-place forms, modules' reprs and defaults, and PyTorch's errors."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, TOL, _cg, _close, _raises_like_torch  # noqa: E402

# the points where the piecewise activations change formula (-3, -1, 0, 0.5, 1, 3, 6), and
# around them
SPECIAL = [-7.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 2.9, -2.9, 5.9, 6.1, 0.4, -0.6, 1e-3]


def _libs(lib):
    return {"lib": lib, "F": F if lib is cgrad else torch.nn.functional,
            "nn": nn if lib is cgrad else torch.nn}


def _input(dtype, shape=(3, 4, 6), special=True, seed=0):
    x = np.random.default_rng(seed).uniform(-8, 8, shape).astype(dtype)
    if special:
        flat = x.reshape(-1)
        flat[:len(SPECIAL)] = SPECIAL
    return x


def _pair(arrays, dtype):
    """the arrays as float (grad-requiring) tensors of cgrad and torch"""
    td = torch.float32 if dtype == np.float32 else torch.float64
    ts = [torch.tensor(a, dtype=td, requires_grad=True) for a in arrays]
    return [_cg(t) for t in ts], ts


def _compare(call, arrays, dtype, grad_fn=None):
    """call (using x, w and lib, F, nn) in both libraries: values, the gradients of every
    input after one backward, the grad_fn name (if given); returns the outputs"""
    cs, ts = _pair(arrays, dtype)
    names = ["x", "w"]
    c_out = eval(call, {**_libs(cgrad), **dict(zip(names, cs))})
    t_out = eval(call, {**_libs(torch), **dict(zip(names, ts))})
    assert str(c_out.dtype) == str(t_out.dtype).replace("torch", "cgrad")
    _close(c_out, t_out, dtype)
    g = np.random.default_rng(1).standard_normal(tuple(t_out.shape)).astype(dtype)
    c_out.backward(cgrad.tensor(g))
    t_out.backward(torch.tensor(g))
    for c, t in zip(cs, ts):
        _close(c.grad, t.grad, dtype)
    if grad_fn is not None:
        assert c_out.grad_fn.name() == t_out.grad_fn.name() == grad_fn
    return c_out, t_out


def _second(call, arrays):
    """the gradients of sum(out^3), made with create_graph, then the gradients of their
    summed squares, in float64"""
    cs, ts = _pair(arrays, np.float64)
    names = ["x", "w"]
    outs = []
    for lib, xs in ((cgrad, cs), (torch, ts)):
        out = eval(call, {**_libs(lib), **dict(zip(names, xs))})
        grads = lib.autograd.grad((out ** 3).sum(), xs, create_graph=True)
        outs.append((grads, lib.autograd.grad(sum((g ** 2).sum() for g in grads), xs)))
    (c_grads, c_grads2), (t_grads, t_grads2) = outs
    for c, t in zip(c_grads + c_grads2, t_grads + t_grads2):
        _close(c, t)


# (call, grad_fn of PyTorch's that cgrad shares, or None)
ACTIVATIONS = [
    ("F.relu6(x)", "HardtanhBackward0"),
    ("F.hardtanh(x)", "HardtanhBackward0"),
    ("F.hardtanh(x, -2.9, 0.5)", "HardtanhBackward0"),
    ("F.selu(x)", "EluBackward0"),
    ("F.celu(x)", "CeluBackward0"),
    ("F.celu(x, 2.0)", "CeluBackward0"),
    ("F.celu(x, -0.5)", "CeluBackward0"),
    ("F.elu(x, 0.7)", "EluBackward0"),
    ("F.mish(x)", "MishBackward0"),
    ("F.softsign(x)", "DivBackward0"),
    ("F.hardswish(x)", "HardswishBackward0"),
    ("F.hardsigmoid(x)", "HardsigmoidBackward0"),
    ("F.glu(x)", None),
    ("F.glu(x[:, :2], 1)", None),
    ("F.softmin(x, 1)", None),
    ("F.threshold(x, 0.5, -20.0)", "ThresholdBackward0"),
    ("F.threshold(x, -1.0, 3)", "ThresholdBackward0"),
    ("F.softshrink(x)", "SoftshrinkBackward0"),
    ("F.softshrink(x, 1.0)", "SoftshrinkBackward0"),
    ("F.softshrink(x, 0.0)", "SoftshrinkBackward0"),
    ("F.hardshrink(x)", "HardshrinkBackward0"),
    ("F.hardshrink(x, 1.0)", "HardshrinkBackward0"),
    ("x.hardshrink(3.0)", "HardshrinkBackward0"),
    ("lib.hardshrink(x, -1.0)", "HardshrinkBackward0"),
    ("F.tanhshrink(x)", "SubBackward0"),
    ("F.rrelu(x)", None),
    ("F.rrelu(x, 0.2, 0.5)", None),
    ("lib.selu(x)", "EluBackward0"),
    ("lib.celu(x, 1.5)", "CeluBackward0"),
    ("lib.threshold(x, 1.0, 2.0)", "ThresholdBackward0"),
    ("lib.rrelu(x, 0.1, 0.3)", None),
    ("nn.Softmax2d()(x)", None),
    ("nn.Softmax2d()(x[None])", None),
    ("nn.Softmin(0)(x)", None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call, grad_fn", ACTIVATIONS)
def test_activations_match_torch(backend, dtype, call, grad_fn):
    _compare(call, [_input(dtype)], dtype, grad_fn)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mish_large_matches_torch(backend, dtype):
    """Above the kernels' size threshold (float32: one compiled pass from one exp, forward and
    backward): PyTorch's values and gradients, with its far tails (x * 0 at -200, x at 100,
    NaN at -inf) and two backwards accumulating"""
    x = _input(dtype, shape=(200, 300)) * 4
    x.reshape(-1)[-7:] = [np.nan, np.inf, -np.inf, -200.0, 100.0, -90.0, -0.0]
    cs, ts = _pair([x], dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    outs = _twice("F.mish(x)", cs, ts, g, dtype)
    _close(cs[0].grad, ts[0].grad, dtype)
    ours, theirs = outs[0].detach().numpy(), outs[1].detach().numpy()
    np.testing.assert_array_equal(np.signbit(ours[~np.isnan(ours)]),      # -0 at -200
                                  np.signbit(theirs[~np.isnan(theirs)]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", ["F.relu6(x)", "F.hardtanh(x)", "F.hardtanh(x, -2.9, 0.5)"])
def test_hardtanh_large_accumulates_as_torch(backend, dtype, call):
    """Above the kernels' size threshold (the compiled backward, which adds into .grad): the
    bounds themselves and NaN, two backwards accumulating. 0 on a bound, and 0 at NaN as
    PyTorch's vectorised loop gives; its scalar loop passes g there, and which loop takes an
    element is PyTorch's choice (elu's NaN changed with it within one run of the suite), so
    the NaN points are checked apart."""
    x = _input(dtype, shape=(200, 300))
    x.reshape(-1)[-3:] = np.nan
    cs, ts = _pair([x], dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    for _ in range(2):
        for lib, xs in ((cgrad, cs), (torch, ts)):
            eval(call, {**_libs(lib), "x": xs[0]}).backward(lib.tensor(g))
    got, want = cs[0].grad.numpy(), ts[0].grad.detach().numpy().copy()
    np.testing.assert_array_equal(got.reshape(-1)[-3:], 0)
    want.reshape(-1)[-3:] = 0
    np.testing.assert_array_equal(got, want)


def _twice(call, cs, ts, g, dtype):
    """call on cgrad's x (cs) and torch's (ts), each backward from g, twice (the gradients
    accumulating), the outputs compared each time; returns the last outputs"""
    for _ in range(2):
        outs = [eval(call, {**_libs(lib), "x": xs[0]}) for lib, xs in ((cgrad, cs), (torch, ts))]
        outs[0].backward(cgrad.tensor(g))
        outs[1].backward(torch.tensor(g))
        _close(*outs, dtype)
    return outs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", ["F.elu(x)", "F.elu(x, 0.7)", "F.selu(x)", "F.celu(x, 2.0)"])
def test_elu_large_accumulates_as_torch(backend, dtype, call):
    """elu and selu above the kernels' size threshold (float32: the compiled forward with the
    kernels' expm1 and the one-pass backward adding into .grad; celu: NumPy's), with +-0,
    +-inf, NaN and x past where e**x - 1 rounds to -1, two backwards accumulating. At NaN
    cgrad's gradient is g scale, as PyTorch's scalar loop gives; its vectorised loops give
    that or NaN (float64; float32 too in some runs of the suite), so that one is checked
    apart."""
    x = _input(dtype, shape=(200, 300)) * 4
    x.reshape(-1)[-7:] = [np.inf, -np.inf, np.nan, 100.0, -100.0, -0.0, 0.0]
    cs, ts = _pair([x], dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    outs = _twice(call, cs, ts, g, dtype)
    got, want = cs[0].grad.numpy().reshape(-1), ts[0].grad.numpy().reshape(-1).copy()
    scale = 1.0507009873554805 if "selu" in call else 1.0
    np.testing.assert_allclose(got[-5], 2 * g.reshape(-1)[-5] * scale, **TOL[dtype])   # at NaN
    want[-5] = got[-5]
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_array_equal(np.signbit(outs[0].detach().numpy()),
                                  np.signbit(outs[1].detach().numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_large_accumulates_as_torch(backend, dtype):
    """silu above the kernels' size threshold (float32: the compiled forward and the one-pass
    backward that adds into .grad), with +-inf, NaN and |x| past where the sigmoid rounds
    to 0 or 1, two backwards accumulating"""
    x = _input(dtype, shape=(200, 300)) * 3
    x.reshape(-1)[-6:] = [np.inf, -np.inf, np.nan, 100.0, -100.0, -0.0]
    cs, ts = _pair([x], dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    for _ in range(2):
        outs = [F.silu(cs[0]), torch.nn.functional.silu(ts[0])]
        outs[0].backward(cgrad.tensor(g))
        outs[1].backward(torch.tensor(g))
        _close(*outs, dtype)
    _close(cs[0].grad, ts[0].grad, dtype)
    assert outs[0].grad_fn.name() == outs[1].grad_fn.name() == "SiluBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", ["F.softplus(x)", "F.softplus(x, 2.0, 3.0)",
                                  "F.softplus(x, 0.5, 100.0)", "F.logsigmoid(x)"])
def test_softplus_and_logsigmoid_large_accumulate_as_torch(backend, dtype, call):
    """softplus and log-sigmoid above the kernels' size threshold (float32: one compiled pass
    each way, the backward adding into .grad), with +-inf, NaN, +-0 and |x| where e**x
    rounds to 0 or overflows, two backwards accumulating; then .sum().backward(), whose g
    reaches the op as one repeated value"""
    x = _input(dtype, shape=(200, 300)) * 6
    x.reshape(-1)[-8:] = [np.inf, -np.inf, np.nan, 100.0, -100.0, -0.0, 0.0, 3.0]
    cs, ts = _pair([x], dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    outs = _twice(call, cs, ts, g, dtype)
    _close(cs[0].grad, ts[0].grad, dtype)
    assert outs[0].grad_fn.name() == outs[1].grad_fn.name()
    for lib, xs in ((cgrad, cs), (torch, ts)):
        xs[0].grad = None
        eval(call, {**_libs(lib), "x": xs[0]}).sum().backward()
    _close(cs[0].grad, ts[0].grad, dtype)


@pytest.mark.parametrize("call", [c for c, _ in ACTIVATIONS if "softmin" not in c.lower()
                                  and "Softmax2d" not in c and "hardsigmoid" not in c]
                         + ["F.prelu(x, w)"])
def test_activations_second_derivatives_match_torch(backend, call):
    """(PyTorch's zero second derivatives of the piecewise-linear ones included; PyTorch has
    none for hardsigmoid, cgrad's is zero)"""
    arrays = [_input(np.float64, special=False)]
    if "prelu" in call:
        arrays.append(np.array([0.3, -0.2, 1.5, 0.0]))
    _second(call, arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, weight", [((3, 4, 5), [0.3, -0.2, 1.5, 0.0]), ((3, 4), [0.1]),
                                           ((5,), [0.25]), ((), [-2.0]), ((2, 4, 2, 3), 0.7),
                                           ((6, 4), [0.1, 0.2, 0.3, 0.4])])
def test_prelu_matches_torch(backend, dtype, shape, weight):
    x = _input(dtype, shape, special=False)
    _compare("F.prelu(x, w)", [x, np.array(weight, dtype)], dtype)
    _compare("x.prelu(w) * 2", [x, np.array(weight, dtype)], dtype)
    _compare("lib.prelu(x, w)", [x, np.array(weight, dtype)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", [
    "F.relu6(x.clone(), inplace=True)", "F.hardtanh_(x.clone(), -2.0, 2.0)",
    "F.selu(x.clone(), inplace=True)", "lib.selu_(x.clone())", "F.celu_(x.clone(), 2.0)",
    "lib.celu_(x.clone(), 0.5)", "F.elu_(x.clone(), 0.5)", "F.leaky_relu_(x.clone(), 0.2)",
    "F.mish(x.clone(), inplace=True)", "F.hardswish(x.clone(), inplace=True)",
    "F.hardsigmoid(x.clone(), inplace=True)", "F.threshold_(x.clone(), 0.5, 2.0)",
    "lib.threshold_(x.clone(), 0.5, 2.0)", "F.threshold(x.clone(), 0.5, 2.0, inplace=True)",
    "F.rrelu(x.clone(), inplace=True)", "F.rrelu_(x.clone(), 0.2, 0.4)",
    "F.silu(x.clone(), inplace=True)"])
def test_inplace_activations_match_torch(backend, dtype, call):
    c_out, t_out = _compare(call, [_input(dtype, (4, 6), special=False)], dtype)
    if "rrelu" not in call:                        # (PyTorch's RreluWithNoiseBackward1)
        assert c_out.grad_fn.name() == t_out.grad_fn.name()


def test_inplace_activation_writes_its_input(backend):
    x = cgrad.tensor([-4.0, -1.0, 2.0, 7.0])
    for fn in (F.relu6, F.hardswish, F.mish, F.selu):
        y = x.clone()
        out = fn(y, inplace=True)
        assert out is y
        np.testing.assert_allclose(y.numpy(), fn(x).numpy())


def test_integer_inputs_as_torch():
    """hardtanh, relu6 and threshold keep integers (the bounds cast to them); the others
    refuse them with PyTorch's NotImplementedError, softsign and tanhshrink give floats"""
    i = [-5, 1, 2, 8]
    for call in ["F.hardtanh(lib.tensor(i))", "F.relu6(lib.tensor(i))",
                 "F.hardtanh(lib.tensor(i), -1.5, 2.5)", "F.threshold(lib.tensor(i), 1, 20)",
                 "F.threshold(lib.tensor(i), 1.5, 2.5)", "F.softsign(lib.tensor(i))",
                 "F.tanhshrink(lib.tensor(i))"]:
        c = eval(call, {**_libs(cgrad), "i": i})
        t = eval(call, {**_libs(torch), "i": i})
        assert str(c.dtype) == str(t.dtype).replace("torch", "cgrad")
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("call", [
    "F.selu(lib.tensor([1, 2]))", "F.celu(lib.tensor([1, 2]))", "F.mish(lib.tensor([1, 2]))",
    "F.hardswish(lib.tensor([1, 2]))", "F.hardsigmoid(lib.tensor([1, 2]))",
    "F.glu(lib.tensor([1, 2]))", "F.softshrink(lib.tensor([1, 2]))",
    "F.hardshrink(lib.tensor([1, 2]))", "F.rrelu(lib.tensor([1, 2]))",
    "F.softshrink(lib.ones(3), -1.0)", "F.softshrink(lib.ones(3, dtype=lib.float64), -0.5)",
    "F.celu(lib.ones(3), 0.0)", "F.rrelu(lib.ones(3), 0.5, 0.1, True)",
    "F.rrelu(lib.ones(3), 0.5, 0.1)", "F.hardtanh(lib.ones(3), 2.0, 1.0)",
    "F.glu(lib.ones(3, 4), 2)", "F.glu(lib.tensor(1.0))", "F.glu(lib.ones(3, 5))",
    "F.glu(lib.ones(3, 4), 0)", "F.prelu(lib.ones(2, 3), lib.ones(2))",
    "F.prelu(lib.ones(2, 3), lib.ones(1, 3))", "F.prelu(lib.ones(3), lib.ones(3))",
    "F.prelu(lib.ones(2, 3), lib.ones(3, dtype=lib.float64))",
    "F.prelu(lib.tensor([1, 2]), lib.ones(1))", "nn.Softmax2d()(lib.ones(2, 3))",
    "nn.Softmax2d()(lib.ones(1, 2, 3, 4, 5))", "nn.Hardtanh(1.0, 1.0)",
    "F.hardtanh(lib.tensor([True, False]))", "F.threshold(lib.tensor([True]), 0, 1)",
    "nn.Hardtanh(2, 1)", "F.prelu(lib.tensor(1.0), lib.ones(2))"])     # (0-d: its own error)
def test_activation_errors_match_torch(call):
    _raises_like_torch(lambda: eval(call, _libs(cgrad)), lambda: eval(call, _libs(torch)))


MODULES = ["nn.ReLU6()", "nn.ReLU6(True)", "nn.Hardtanh()", "nn.Hardtanh(-2, 3, True)",
           "nn.SELU()", "nn.SELU(inplace=True)", "nn.CELU()", "nn.CELU(2.0, True)", "nn.Mish()",
           "nn.Mish(True)", "nn.Softsign()", "nn.Hardswish()", "nn.Hardswish(True)",
           "nn.Hardsigmoid(True)", "nn.SiLU()", "nn.SiLU(True)", "nn.PReLU()",
           "nn.PReLU(4, 0.1)", "nn.GLU()", "nn.GLU(1)", "nn.Softmin(1)", "nn.Softmin()",
           "nn.Threshold(0.1, 20)", "nn.Threshold(1, 2.5, True)", "nn.Softshrink()",
           "nn.Softshrink(0.3)", "nn.Hardshrink()", "nn.Hardshrink(1)", "nn.Tanhshrink()",
           "nn.LogSigmoid()", "nn.Softmax2d()", "nn.RReLU()", "nn.RReLU(0.1, 0.3, True)",
           "nn.ELU(0.5, True)", "nn.Softplus(2, 10)"]


@pytest.mark.parametrize("make", MODULES)
def test_activation_modules_match_torch(backend, make):
    """repr, parameters and the eval-mode output (in place where asked: on a copy)"""
    c, t = eval(make, _libs(cgrad)), eval(make, _libs(torch))
    assert repr(c) == repr(t)
    assert [(n, p.shape) for n, p in c.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    for cp, tp in zip(c.parameters(), t.parameters()):
        _close(cp, tp)
    c.eval(), t.eval()
    x = _input(np.float32, (2, 4, 6), special=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # softmin's implicit dim
        c_out, t_out = c(cgrad.tensor(x)), t(torch.tensor(x))
    _close(c_out, t_out, np.float32)


def test_prelu_module_learns_its_slopes_as_torch(backend):
    c, t = nn.PReLU(3, dtype=cgrad.float64), torch.nn.PReLU(3, dtype=torch.float64)
    x = _input(np.float64, (5, 3, 2), special=False)
    c_out, t_out = c(cgrad.tensor(x)), t(torch.tensor(x))
    (c_out ** 2).sum().backward()
    (t_out ** 2).sum().backward()
    _close(c.weight.grad, t.weight.grad)
    assert c.weight.dtype == cgrad.float64 and c_out.dtype == cgrad.float64


def test_rrelu_training_draws_slopes_in_bounds_and_backward_uses_them(backend):
    cgrad.manual_seed(0)
    lower, upper = 0.1, 0.4
    x = cgrad.tensor(np.r_[np.full(20000, -2.0), np.linspace(0.5, 3, 100)], requires_grad=True)
    m = nn.RReLU(lower, upper)
    assert m.training
    y = m(x)
    y.backward(cgrad.ones_like(y))
    slopes = y.detach().numpy()[:20000] / -2.0
    assert lower <= slopes.min() and slopes.max() <= upper
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.005                     # U(0.1, 0.4)
    assert abs(slopes.std() - (upper - lower) / np.sqrt(12)) < 0.005
    assert len(np.unique(slopes)) > 19000                            # one slope per element
    np.testing.assert_allclose(x.grad.numpy()[:20000], slopes, rtol=1e-6)    # its own slope
    np.testing.assert_array_equal(y.detach().numpy()[20000:], x.detach().numpy()[20000:])
    np.testing.assert_array_equal(x.grad.numpy()[20000:], 1)
    z = m(x)                                                          # new slopes each call
    assert not np.array_equal(z.detach().numpy(), y.detach().numpy())
    m.eval()                                 # eval mode: the mean slope, as torch
    np.testing.assert_allclose(m(x).detach().numpy()[:3], [-0.5] * 3, rtol=1e-6)


def test_celu_gradient_takes_pytorchs_float32_alpha():
    """PyTorch's celu forward scales by 1 / alpha in double, its derivative by 1 /
    alpha.toFloat(): the float64 gradient at alpha=1.3 was ~1e-8 relative off"""
    torch = pytest.importorskip("torch")
    x = np.linspace(-3, 1, 9)
    for inplace in (False, True):
        out = []
        for lib in (torch, cgrad):
            t = lib.tensor(x, requires_grad=True)
            y = lib.nn.functional.celu(t * 1, alpha=1.3, inplace=inplace)
            y.sum().backward()
            out.append((y.detach().numpy(), t.grad.numpy()))
        for got, expected in zip(*out):           # (exp itself may be an ulp apart)
            np.testing.assert_allclose(got, expected, rtol=1e-14)
