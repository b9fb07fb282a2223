"""The special functions and binary math of ops/special.py (erfc ... logit, xlogy, hypot,
copysign, fmod, fmax/fmin, logaddexp(2), ldexp, nextafter, heaviside, float_power, gcd/lcm,
the bitwise functions and shift operators): values, dtypes, grad_fn names, gradients, second
derivatives, in-place forms and errors against PyTorch, on both backends."""
import numpy as np
import pytest

import cgrad
from test_more_ops import INF, NAN, compare, same_error, values
from test_more_ops_parity import second_derivatives

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INTS = np.array([[3, -2, 0], [5, 1, -7]])
BOOLS = np.array([True, False, True])
LOOSE = dict(rtol=2e-5, atol=1e-6)           # SciPy's and PyTorch's series differ in the last bits

UNARY = {  # name: (edge values, low, high, arguments, recorded second derivative)
    "erfc": ([0.0, INF, -INF, NAN, 5.0], -3, 3, (), True),
    "erfinv": ([0.0, 1.0, -1.0, 1.5, 0.999], -0.95, 0.95, (), True),
    "lgamma": ([0.0, -1.0, 1.0, 2.0, -2.5, INF], 0.1, 5, (), True),
    "digamma": ([0.0, -0.0, 1.0, -2.5, INF], 0.1, 5, (), True),
    "polygamma": ([0.0, 1.0, -1.5], 0.2, 5, (2,), True),
    "i0": ([0.0, INF, -INF, 20.0, -3.0], -4, 4, (), False),
    "sinc": ([0.0, -0.0, 1.0, -2.0, INF], -3, 3, (), True),
    "logit": ([0.0, 1.0, -0.5, 1.5, NAN], 0.05, 0.95, (), True),
    "deg2rad": ([0.0, 180.0, -INF], -360, 360, (), True),
    "rad2deg": ([0.0, 3.14159, INF], -7, 7, (), True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(backend, name, dtype):
    edges, low, high, args, _ = UNARY[name]
    x = values(dtype, edges, low, high)
    tol = LOOSE if dtype == np.float32 else dict(rtol=1e-8, atol=1e-10)
    compare(lambda m, t: getattr(t, name)(*args), x, layout="transposed", tol=tol)
    fn = (lambda m, t: m.polygamma(*args, t)) if name == "polygamma" else \
        (lambda m, t: getattr(m, name)(t, *args))
    compare(fn, x, layout="strided", tol=tol)
    compare(lambda m, t: getattr(t * 1, name + "_")(*args), x, tol=tol)
    for ints in (INTS, BOOLS):                           # the default float, as PyTorch
        compare(lambda m, t: getattr(t, name)(*args), ints, grad=False, tol=LOOSE)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivatives(backend, name):
    edges, low, high, args, recorded = UNARY[name]
    x = values(np.float64, [], low, high)
    if recorded:
        second_derivatives(lambda m, t: getattr(t, name)(*args) * t, x, rtol=1e-8)
    assert cgrad.autograd.gradcheck(lambda t: getattr(t, name)(*args),
                                    (cgrad.tensor(x, requires_grad=True),))


def test_unary_arguments_and_errors(backend):
    x = values(np.float64, [0.0, 1.0, 0.05, 0.95, -1.0, 2.0], -0.5, 1.5)
    for eps in (0.1, 0.0, 0.5):
        compare(lambda m, t: t.logit(eps), x)
        compare(lambda m, t: m.logit(t * 1, eps=eps), x)
    for n in (0, 1, 3):
        compare(lambda m, t: m.polygamma(n, t), values(np.float64, [], 0.2, 4),
                tol=dict(rtol=1e-8, atol=1e-10))
    same_error(lambda m: m.ones(2).polygamma(-1), message=True)
    compare(lambda m, t: t.signbit(), values(np.float32, [0.0, -0.0, -INF, NAN]), grad=False)
    compare(lambda m, t: m.signbit(t), INTS, grad=False)
    compare(lambda m, t: t.signbit(), BOOLS, grad=False)
    same_error(lambda m: m.tensor([1, 2]).erfc_())               # float into int64


A = values(np.float64, [0.0, 0.0, 2.0, -3.0, INF, NAN, 0.0, 1.5], -4, 4)
B = values(np.float64, [0.0, -1.0, 0.0, 2.0, 1.0, 1.0, NAN, -INF], -4, 4, seed=1)

BINARY = {  # name: (takes a number for other, number first, the kinds of dtype PyTorch refuses)
    "xlogy": (True, True, ""), "copysign": (True, False, ""), "fmod": (True, False, "b"),
    "hypot": (False, False, "biu"), "fmax": (False, False, ""), "fmin": (False, False, ""),
    "logaddexp": (False, False, "biu"), "logaddexp2": (False, False, "biu"),
    "ldexp": (False, False, ""), "nextafter": (False, False, "biu"),
    "float_power": (True, True, ""),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(backend, name):
    number, number_first, refused = BINARY[name]
    a, b = (A, np.abs(B) + 0.5) if name == "float_power" else (A, B)
    if name == "ldexp":
        b = np.round(np.nan_to_num(B, nan=1.0, posinf=3, neginf=-3))
    for dtype in (np.float32, np.float64):
        for fn in (lambda m, x, y: getattr(m, name)(x, y), lambda m, x, y: getattr(x, name)(y)):
            compare(fn, a.astype(dtype), b.astype(dtype), layout="transposed")
        compare(lambda m, x, y: getattr(m, name)(x, y), a.astype(dtype),
                b[0].astype(dtype))                                  # broadcast
    if hasattr(torch.Tensor, name + "_"):
        compare(lambda m, x, y: getattr(x * 1, name + "_")(y), a, b)
    if number:
        compare(lambda m, x: getattr(x, name)(2.5), a)
        compare(lambda m, x: getattr(m, name)(x, -2), a)
    else:
        same_error(lambda m: getattr(m, name)(m.ones(2), 2), message=True)
    if number_first:
        compare(lambda m, y: getattr(m, name)(3.0, y), np.abs(b) + 0.5)
    for x, y in ((INTS, INTS[::-1] + 9), (BOOLS, BOOLS[::-1].copy()), (INTS, b.ravel()[:3].astype(np.float32))):
        kinds = np.result_type(x, y).kind if y.dtype.kind != "f" else "f"
        if kinds in refused:
            same_error(lambda m: getattr(m, name)(m.tensor(x), m.tensor(y)), message=True)
        else:
            compare(lambda m, p, q: getattr(m, name)(p, q), x, y, grad=False, tol=LOOSE)
    same_error(lambda m: getattr(m, name)(m.ones(2, 3), m.ones(3, 2)))


@pytest.mark.parametrize("name", ["xlogy", "hypot", "copysign", "fmod", "fmax", "logaddexp",
                                  "logaddexp2", "ldexp", "nextafter"])
def test_binary_gradcheck(backend, name):
    a = values(np.float64, [], 0.5, 3, shape=(3, 4))
    b = values(np.float64, [], -2, 2, shape=(4,), seed=2)
    b = np.round(b) if name == "ldexp" else np.abs(b) + 0.1 if name == "xlogy" else b
    assert cgrad.autograd.gradcheck(lambda x, y: getattr(x, name)(y),
                                    (cgrad.tensor(a, requires_grad=True),
                                     cgrad.tensor(b, requires_grad=name != "ldexp")))
    if name in ("xlogy", "hypot", "nextafter"):
        second_derivatives(lambda m, x, y: getattr(x, name)(y) * x, a, np.abs(b) + 0.1)


def test_heaviside_and_float_power_in_place(backend):
    x = values(np.float32, [0.0, -0.0, NAN, 2.0, -1.0])
    v = values(np.float32, [5.0, 6.0, 7.0, 8.0], seed=3)
    compare(lambda m, p, q: m.heaviside(p, q), x, v, grad=False)
    compare(lambda m, p, q: p.heaviside(q[0]), x, v, grad=False)
    compare(lambda m, p, q: m.heaviside(p, q), INTS, INTS[0], grad=False)
    for m in (cgrad, torch):
        out = m.heaviside(m.tensor(x, requires_grad=True), m.tensor(v))
        assert out.grad_fn.name().endswith("NotImplemented")
    same_error(lambda m: m.heaviside(m.tensor(x), m.tensor(INTS[0])), message=True)
    same_error(lambda m: m.heaviside(m.tensor(x, requires_grad=True), m.tensor(v)).sum()
               .backward(), message=True)
    compare(lambda m, p: (p * 1).float_power_(2), A)
    same_error(lambda m: m.ones(2).float_power_(2), message=True)
    compare(lambda m, p, q: m.float_power(p, q), INTS, INTS[::-1] % 3, grad=False)


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm(backend, name):
    x, y = np.array([[12, -18, 0, 7], [0, 5, 6, -4]]), np.array([8, 12, 0, -14])
    compare(lambda m, p, q: getattr(m, name)(p, q), x, y, grad=False)
    compare(lambda m, p, q: getattr(p, name)(q), x.astype(np.int32), y.astype(np.int16),
            grad=False)
    compare(lambda m, p, q: getattr(p * 1, name + "_")(q), x, y, grad=False)
    same_error(lambda m: getattr(m, name)(m.ones(2), m.ones(2)), message=True)
    same_error(lambda m: getattr(m, name)(m.tensor([True]), m.tensor([True])), message=True)
    same_error(lambda m: getattr(m, name)(m.tensor([2]), 2), message=True)


BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
           "bitwise_right_shift"]
OPERATORS = {"bitwise_and": "__and__", "bitwise_or": "__or__", "bitwise_xor": "__xor__",
             "bitwise_left_shift": "__lshift__", "bitwise_right_shift": "__rshift__"}


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise(backend, name):
    x = np.array([[5, -8, 0, 200], [1, 127, -1, 64]])
    s = np.array([1, 3, 64, -1])
    shift = "shift" in name
    for dx, ds in ((np.int64, np.int64), (np.int32, np.int64), (np.uint8, np.uint8),
                   (np.int8, np.int16)):
        compare(lambda m, p, q: getattr(m, name)(p, q), x.astype(dx), s.astype(ds), grad=False)
        compare(lambda m, p, q: getattr(p, OPERATORS[name])(q), x.astype(dx),
                s.astype(ds), grad=False)
    compare(lambda m, p: getattr(p, name)(2), x.astype(np.int32), grad=False)
    compare(lambda m, p: getattr(m, name)(3, p), x, grad=False)       # a number first
    compare(lambda m, p, q: getattr(p * 1, name + "_")(q), x, s, grad=False)
    op = {"bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^",
          "bitwise_left_shift": "<<", "bitwise_right_shift": ">>"}[name]
    for m in (cgrad, torch):
        t = m.tensor(x)
        exec(f"t {op}= 2")                                                    # x op= 2
        assert t.tolist() == getattr(torch.tensor(x), name)(2).tolist()
        assert eval(f"3 {op} m.tensor(x)").tolist() == getattr(torch, name)(3, torch.tensor(
            x)).tolist()
    b = np.array([True, False, True])
    if shift:
        same_error(lambda m: getattr(m, name)(m.tensor(b), m.tensor(b)), message=True)
        compare(lambda m, p: getattr(p, name)(1), b, grad=False)           # promoted to int64
    else:
        compare(lambda m, p, q: getattr(m, name)(p, q), b, b[::-1].copy(), grad=False)
    same_error(lambda m: getattr(m, name)(m.ones(2), m.ones(2)), message=True)
    same_error(lambda m: getattr(m.tensor([1, 2]), OPERATORS[name])(1.5), message=True)


def test_bitwise_not(backend):
    for x in (INTS, INTS.astype(np.uint8), BOOLS):
        compare(lambda m, p: m.bitwise_not(p), x, grad=False)
        compare(lambda m, p: (p * 1).bitwise_not_(), x, grad=False) if x.dtype != bool else \
            compare(lambda m, p: p.clone().bitwise_not_(), x, grad=False)
    same_error(lambda m: m.ones(2).bitwise_not(), message=True)
    same_error(lambda m: ~m.ones(2), message=True)
