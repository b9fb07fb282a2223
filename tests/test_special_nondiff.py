"""cgrad.special's functions that PyTorch gives no derivative (Bessel, Airy, the orthogonal
polynomials) against torch.special: values in float32 and float64 over their branches (edges,
n < 0, non-integer, NaN and large n), result dtypes with integer and mixed inputs, Python
numbers as either operand, broadcasting, out=, errors, and results outside autograd."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.special  # noqa: F401  (cgrad.special loads lazily)
from cgrad.ops.special_nondiff import POLYNOMIALS, UNARY
from test_more_ops import INF, NAN, same_error

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# the branch points of PyTorch's kernels (5 for J and Y, -2.09 / 2.09 / 8.32 / 103.892 for Ai,
# 1/2 for the spherical j0), zeros, infinities, NaN and random values
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-6, 1e-30, 2.0, -2.0, 4.999, 5.0, -5.0, 5.001,
         7.0, 2.09, -2.09, -2.1, 8.32, 8.33, 30.0, 100.0, 103.0, 104.0, 700.0, 1e4, 1e10,
         INF, -INF, NAN]
TOL = {np.float64: dict(rtol=1e-13, atol=1e-300), np.float32: dict(rtol=2e-6, atol=1e-7)}


def _unary_inputs():
    rng = np.random.default_rng(0)
    return np.concatenate([EDGES, rng.uniform(-12, 12, 60), rng.uniform(-1.5, 1.5, 30)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
def test_unary_values(backend, name, dtype):
    x = _unary_inputs().astype(dtype)
    ours = getattr(cgrad.special, name)(cgrad.tensor(x))
    theirs = getattr(torch.special, name)(torch.from_numpy(x))
    assert ours.dtype == getattr(cgrad, str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), equal_nan=True, **TOL[dtype])


# n: negative, 0, 1, the closed-form thresholds (4, 6, 8), non-integer (truncated), large,
# NaN and inf (PyTorch's int64 cast makes them negative: 0), past Hermite's limits (128, 512)
DEGREES = [-1.0, -0.5, 0.0, 1.0, 2.0, 2.9, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 20.0,
           50.0, 129.0, 200.0, 513.0, NAN, INF, -INF, 1e20]


def _polynomial_grid():
    # no NaN x: for several of these PyTorch returns an uninitialised variable there
    x = np.concatenate([[e for e in EDGES if not math.isnan(e) and abs(e) < 1e5],
                        [0.25, 0.75, 1.5, -1.5, 1e-3, 3.0],
                        np.random.default_rng(1).uniform(-1.2, 1.2, 20)])
    return np.meshgrid(x, DEGREES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values(backend, name, dtype):
    x, n = _polynomial_grid()
    ours = getattr(cgrad.special, name)(cgrad.tensor(x.astype(dtype)),
                                        cgrad.tensor(n.astype(dtype))).numpy()
    theirs = getattr(torch.special, name)(torch.from_numpy(x.astype(dtype)),
                                          torch.from_numpy(n.astype(dtype))).numpy()
    assert ours.dtype == theirs.dtype == dtype
    # float32 recurrences are PyTorch's to the bit (fused multiply-adds as its build's;
    # float64's fuse through long double, so rarely an ulp off, which 500 steps add up); the
    # closed forms cos(n acos x) & co. may be an ulp from libm's, which n scales
    scale = np.maximum(np.nan_to_num(n, nan=1.0, posinf=1.0, neginf=1.0), 1.0)
    eps = np.finfo(dtype).eps
    same = (ours == theirs) | np.isnan(ours) & np.isnan(theirs)
    close = np.abs(ours - theirs) <= 64 * eps * (np.abs(theirs) + scale)
    assert (same | close).all(), (x[~(same | close)], n[~(same | close)])


@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "hermite_polynomial_h",
                                  "laguerre_polynomial_l", "shifted_chebyshev_polynomial_v"])
def test_polynomial_dtypes_and_numbers(backend, name):
    """PyTorch's type promotion (0-dim tensors and numbers are weaker), integers -> float32"""
    def run(m):
        f = getattr(m.special, name)
        i64, f32 = m.tensor([2, 3]), m.tensor([0.2, 0.3])
        f64 = m.tensor([0.2, -0.3], dtype=m.float64)
        cases = [f(i64, i64), f(f32, i64), f(f32, f64), f(f64, m.tensor([2.0, 3.0])),
                 f(f32, 3), f(f32, 3.7), f(2, i64), f(0.2, i64), f(0.2, f64.abs() * 10),
                 f(m.tensor([True, False]), i64), f(f32, m.tensor(3.0, dtype=m.float64)),
                 f(i64, m.tensor(3.0, dtype=m.float64)), f(m.tensor(0.2, dtype=m.float64), f32),
                 f(f32, True), f(m.tensor([[0.5], [0.2]]), m.tensor([1.0, 2.0, 3.0])),
                 f(m.tensor(0.5), m.tensor(4))]
        return [(str(c.dtype).split(".")[-1], tuple(c.shape), c.tolist()) for c in cases]
    for (d1, s1, v1), (d2, s2, v2) in zip(run(cgrad), run(torch)):
        assert (d1, s1) == (d2, s2)
        np.testing.assert_allclose(v1, v2, rtol=1e-6)


def test_integer_input_of_unary(backend):
    for name in ("bessel_j0", "modified_bessel_k1", "airy_ai"):
        for values in ([1, 2], [True, False]):
            ours = getattr(cgrad.special, name)(cgrad.tensor(values))
            theirs = getattr(torch.special, name)(torch.tensor(values))
            assert str(ours.dtype) == str(theirs.dtype).replace("torch", "cgrad")
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-6)


@pytest.mark.parametrize("name", ["bessel_y1", "legendre_polynomial_p"])
def test_no_derivative(backend, name):
    """PyTorch declares these outputs non-differentiable: a result that does not require grad,
    and backward through it fails as for any such tensor"""
    def run(m):
        x = m.tensor([0.5, 1.5], requires_grad=True)
        f = getattr(m.special, name)
        y = f(x) if name.startswith("bessel") else f(x, m.tensor([2.0, 3.0],
                                                                requires_grad=True))
        assert not y.requires_grad and y.grad_fn is None
        y.sum().backward()
    same_error(run, message=True)


def test_out_argument(backend):
    for m in (cgrad, torch):
        out = m.empty(3)
        res = m.special.bessel_j0(m.tensor([0.5, 1.0, 7.0]), out=out)
        assert res is out
        out2 = m.zeros(2, requires_grad=True)      # allowed: no graph to break
        m.special.chebyshev_polynomial_u(m.tensor([0.5, 2.0], requires_grad=True), 3, out=out2)
        assert out2.tolist() == pytest.approx([-1.0, 56.0])
    np.testing.assert_allclose(out.numpy(), torch.special.bessel_j0(
        torch.tensor([0.5, 1.0, 7.0])).numpy(), rtol=1e-6)
    same_error(lambda m: m.special.chebyshev_polynomial_t(
        m.ones(2), m.ones(2), out=m.empty(2, dtype=m.int64)), message=True)


def test_errors(backend):
    same_error(lambda m: m.special.bessel_j0(1.0), message=True)
    same_error(lambda m: m.special.chebyshev_polynomial_t(0.2, 3), message=True)
    same_error(lambda m: m.special.hermite_polynomial_he(m.ones(2), "a"), message=True)
    same_error(lambda m: m.special.laguerre_polynomial_l(m.ones(2), m.ones(3)), message=True)


def test_keywords(backend):
    x = cgrad.tensor([0.3])
    assert cgrad.special.legendre_polynomial_p(x=x, n=2).tolist() == pytest.approx(
        torch.special.legendre_polynomial_p(x=torch.tensor([0.3]), n=2).tolist())
    assert cgrad.special.bessel_j1(input=x).item() == pytest.approx(
        torch.special.bessel_j1(input=torch.tensor([0.3])).item())


def test_half_is_not_implemented(backend):
    """PyTorch's CPU kernels of these take float32 and float64 only"""
    half = np.array([0.5], np.float16)
    for name in ("bessel_j0", "airy_ai", "scaled_modified_bessel_k1"):
        same_error(lambda m: getattr(m.special, name)(m.tensor(half)), message=True)
    for name in ("chebyshev_polynomial_t", "hermite_polynomial_he", "legendre_polynomial_p"):
        same_error(lambda m: getattr(m.special, name)(m.tensor(half), 3), message=True)
        same_error(lambda m: getattr(m.special, name)(0.5, m.tensor(half)), message=True)


def test_empty_and_zero_dim(backend):
    for shape in [(0,), (2, 0), ()]:
        x = np.full(shape, 0.3)
        for name, args in [("bessel_y0", ()), ("laguerre_polynomial_l", (4,)),
                           ("chebyshev_polynomial_u", (10,))]:
            ours = getattr(cgrad.special, name)(cgrad.tensor(x), *args)
            theirs = getattr(torch.special, name)(torch.tensor(x), *args)
            assert tuple(ours.shape) == tuple(theirs.shape)
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-14)
