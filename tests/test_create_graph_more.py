"""create_graph=True through unfold, scatter_reduce, masked_scatter, diagonal_scatter,
index_put(accumulate=True), logcumsumexp, copysign, fmod, fmax/fmin, logaddexp(2) and ldexp:
their recorded backwards give PyTorch's second derivatives (grad of grad, Hessian-vector
products, derivatives in the incoming gradient), at inputs away from non-differentiable
points."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
A = RNG.uniform(0.5, 2.0, (3, 4)) * np.where(RNG.random((3, 4)) < 0.5, -1, 1)
B = RNG.uniform(0.3, 1.7, (3, 4)) * np.where(RNG.random((3, 4)) < 0.5, -1, 1)
SRC = RNG.uniform(0.5, 2.0, (3, 5))
INDEX = np.array([[0, 2, 2, 3, 0], [1, 1, 3, 0, 2], [3, 3, 3, 1, 0]])
MASK = RNG.random((3, 4)) < 0.5
ROWS = np.array([0, 2, 0, 4])


def _scatter_reduce(reduce, include_self, src=SRC):
    def f(lib, x, s):
        return x.scatter_reduce(1, lib.tensor(INDEX), s, reduce, include_self=include_self)
    return f, (A, src)


def _index(lib, a):
    return lib.tensor(a)


# name -> (f(lib, *leaves) -> y, the leaves' values)
CASES = {
    "unfold": (lambda lib, x: x.unfold(0, 3, 2) ** 2, (RNG.standard_normal(8),)),
    "unfold_2d": (lambda lib, x: x.unfold(1, 2, 1) ** 3, (A,)),
    "unfold_0d": (lambda lib, x: x.unfold(0, 1, 1) ** 3, (np.array(1.3),)),
    **{f"scatter_reduce_{r}_{inc}": _scatter_reduce(r, inc)
       for r in ("sum", "mean", "prod", "amax", "amin") for inc in (True, False)},
    "scatter_reduce_prod_one_zero": _scatter_reduce("prod", True, SRC * (np.arange(15) != 6)
                                                    .reshape(3, 5)),
    **{f"scatter_reduce_{r}_src_larger": (   # src's unread places broadcast against the index
        lambda lib, x, s, r=r: x.scatter_reduce(1, lib.tensor(INDEX[:, :1]), s, r), (A, SRC))
       for r in ("prod", "amax", "amin")},
    "masked_scatter": (lambda lib, x, s: x.masked_scatter(lib.tensor(MASK), s),
                       (A, RNG.standard_normal(15))),
    "masked_scatter_2d_source": (lambda lib, x, s: x.masked_scatter(lib.tensor(MASK[0]), s),
                                 (A, RNG.standard_normal((4, 4)))),
    "diagonal_scatter": (lambda lib, x, s: x.diagonal_scatter(s), (A, RNG.standard_normal(3))),
    "diagonal_scatter_offset": (lambda lib, x, s: x.diagonal_scatter(s, -1, 1, 0),
                                (A, RNG.standard_normal(3))),
    "index_put_accumulate": (lambda lib, x, v: x.index_put((_index(lib, ROWS),), v, True),
                             (RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3)))),
    "index_put_accumulate_broadcast": (
        lambda lib, x, v: x.index_put((_index(lib, ROWS), _index(lib, ROWS[::-1] % 3)), v, True),
        (RNG.standard_normal((5, 3)), RNG.standard_normal((1,)))),
    "logcumsumexp": (lambda lib, x: x.logcumsumexp(1), (A * 3,)),
    "logcumsumexp_dim0": (lambda lib, x: x.logcumsumexp(0), (A,)),
    "copysign": (lambda lib, a, b: a.copysign(b), (A, B)),
    "copysign_number": (lambda lib, a: a.copysign(-2.0), (A,)),
    "fmod": (lambda lib, a, b: a.fmod(b), (A * 2.3, B)),
    "fmod_number": (lambda lib, a: a.fmod(0.7), (A,)),
    "fmax": (lambda lib, a, b: a.fmax(b), (A, B)),
    "fmin": (lambda lib, a, b: a.fmin(b), (A, B)),
    "fmax_nan": (lambda lib, a, b: a.fmax(b), (A, np.where(MASK, np.nan, B))),   # -> a there
    "fmin_broadcast": (lambda lib, a, b: a.fmin(b), (A, B[1])),
    "logaddexp": (lambda lib, a, b: a.logaddexp(b), (A, B)),
    "logaddexp2": (lambda lib, a, b: a.logaddexp2(b), (A, B)),
    "ldexp": (lambda lib, a, b: a.ldexp(b), (A, B)),
    "ldexp_int": (lambda lib, a: a.ldexp(lib.tensor(INDEX[:, :4])), (A,)),
    # the in-place forms, on a non-leaf
    "scatter_reduce_prod_inplace": (lambda lib, x, s: (x * 1).scatter_reduce_(
        1, lib.tensor(INDEX), s, "prod", include_self=False), (A, SRC)),
    "masked_scatter_inplace": (lambda lib, x, s: (x * 1).masked_scatter_(lib.tensor(MASK), s),
                               (A, RNG.standard_normal(15))),
    "index_put_accumulate_inplace": (
        lambda lib, x, v: (x * 1).index_put_((_index(lib, ROWS),), v, True),
        (RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3)))),
    "copysign_inplace": (lambda lib, a, b: (a * 1).copysign_(b), (A, B)),
    "fmod_inplace": (lambda lib, a, b: (a * 1).fmod_(b), (A * 2.3, B)),
    "ldexp_inplace": (lambda lib, a, b: (a * 1).ldexp_(b), (A, B)),
}
# the ops whose own second derivative is 0 (piecewise linear in the inputs): squared, so the
# grad of grad goes through their recorded backward with a non-constant incoming gradient
SQUARED = ("scatter_reduce_sum", "scatter_reduce_mean", "scatter_reduce_am", "masked_scatter",
           "diagonal_scatter", "index_put", "copysign", "fmod", "fmax", "fmin")


def _f(name):
    f, values = CASES[name]
    if name.startswith(SQUARED):
        return (lambda lib, *xs: f(lib, *xs) ** 2), values
    return f, values


def _run(lib, name):
    """y = f(leaves) and w (a leaf too): the gradients of (y w).sum() under create_graph, the
    plain ones, then the grad of the gradients' sum and a Hessian-vector product, over the
    leaves and w"""
    f, values = _f(name)
    leaves = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
    y = f(lib, *leaves)
    w = lib.tensor(np.cos(np.arange(y.numel()) + 0.5).reshape(tuple(y.shape)),
                   requires_grad=True)
    plain = lib.autograd.grad((y * w).sum(), leaves, retain_graph=True)
    grads = lib.autograd.grad((y * w).sum(), leaves, create_graph=True)
    everything = leaves + [w]
    vs = [lib.tensor(np.sin(np.arange(g.numel()) * 1.7 + 0.3).reshape(tuple(g.shape)))
          for g in grads]
    gg = lib.autograd.grad(sum(g.sum() for g in grads), everything, retain_graph=True,
                           allow_unused=True)
    hvp = lib.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), everything,
                            allow_unused=True)
    arrays = [np.asarray((t.detach() + 0).numpy()) for t in (y, *grads)]     # (+ 0: torch's
    arrays += [np.zeros(t.shape) if r is None else np.asarray((r + 0).numpy())   # ZeroTensors)
               for r, t in zip(gg + hvp, everything * 2)]
    return arrays, [p.numpy() for p in plain], [g.detach().numpy() for g in grads]


@pytest.mark.parametrize("name", list(CASES))
def test_second_derivatives_match_torch(backend, name):
    got, plain, first = _run(cgrad, name)
    want, _, _ = _run(torch, name)
    for p, g in zip(plain, first):                 # create_graph changes no first-order value
        np.testing.assert_allclose(g, p, rtol=1e-13, atol=1e-15)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


# (PyTorch's gradient of a src larger than the index is no derivative: see the cases)
@pytest.mark.parametrize("name", [n for n in CASES if n != "unfold_0d" and "src_larger" not in n])
def test_gradgradcheck(name):
    f, values = _f(name)
    leaves = [cgrad.tensor(v, dtype=cgrad.float64, requires_grad=True) for v in values]
    assert cgrad.autograd.gradgradcheck(lambda *xs: f(cgrad, *xs), leaves)


def test_grad_fn_names_of_the_recorded_backwards():
    """the first-order gradients' nodes as PyTorch names them"""
    for name, want in (("unfold", "UnfoldBackwardBackward0"),
                       ("diagonal_scatter", "DiagonalScatterBackward0"),
                       ("logcumsumexp", "SubBackward0")):
        f, values = CASES[name]
        names = []
        for lib in (cgrad, torch):
            x = lib.tensor(values[0], dtype=lib.float64, requires_grad=True)
            args = [x] + [lib.tensor(v, dtype=lib.float64) for v in values[1:]]
            y = f(lib, *args)
            v = lib.ones_like(y).requires_grad_()
            g, = lib.autograd.grad(y, x, v, create_graph=True)
            names.append(type(g.grad_fn).__name__)
        assert names == [want, want], name


def test_prod_with_repeated_zeros_refuses_the_src_double_backward():
    """two zeros of src reduced into one place: PyTorch gives the first order, x's second
    derivatives, and a delayed RuntimeError for src's"""
    src = SRC.copy()
    src[0, 1] = src[0, 2] = 0              # both go to x[0, 2]
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(A, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        y = x.scatter_reduce(1, lib.tensor(INDEX), s, "prod")
        gx, gs = lib.autograd.grad(y.sum(), (x, s), create_graph=True)
        results.append([gx.detach().numpy(), gs.detach().numpy()] +
                       [r.numpy() for r in lib.autograd.grad(gx.sum(), (x, s))])
        assert type(gs.grad_fn).__name__ == "Error"
        with pytest.raises(RuntimeError, match=r"Double backward is unsupported for src when "
                                               r">1 zeros in src are scattered"):
            lib.autograd.grad(gs.sum(), s)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _graph(node, depth=8):
    """node's recorded graph as PyTorch prints it: names, every edge (None for an input that
    needs no gradient), to depth"""
    if node is None:
        return "None"
    name = type(node).__name__.replace("torch::autograd::", "")
    if depth == 0:
        return name
    edges = [_graph(child, depth - 1) for child, _ in node.next_functions]
    return name + ("(" + ", ".join(edges) + ")" if edges else "")


GRAPH_CASES = {
    "exp2": lambda m, t: m.exp2(t), "log2": lambda m, t: m.log2(t),
    "log10": lambda m, t: m.log10(t), "ndtr": lambda m, t: m.special.ndtr(t),
    "erf": lambda m, t: m.erf(t), "erfc": lambda m, t: m.erfc(t), "tan": lambda m, t: m.tan(t),
    "atanh": lambda m, t: m.atanh(t), "asinh": lambda m, t: m.asinh(t),
    "acosh": lambda m, t: m.acosh(t + 1), "pow2": lambda m, t: t.pow(2),
    "pow3": lambda m, t: t.pow(3), "pow2.5": lambda m, t: t.pow(2.5),
    "amax": lambda m, t: t.amax(1), "amin": lambda m, t: t.amin(1, keepdim=True),
    "amax_all": lambda m, t: t.amax(),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(GRAPH_CASES))
def test_recorded_derivatives_are_pytorchs_graphs(backend, name, dtype):
    """create_graph records PyTorch's derivative formulas node for node (a number times a
    tensor in C++ is MulBackward1 with one edge, 1 - x**2 SubBackward0 with a None edge,
    amax's g / count * mask with or without ties), with its values, first and second order"""
    x = np.array([[0.3, 0.5, 0.5], [0.7, 0.2, 0.9]], dtype=dtype)       # (ties for amax)
    got = []
    for lib in (cgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        y = GRAPH_CASES[name](lib, t)
        v = lib.ones(tuple(y.shape), dtype=getattr(lib, dtype), requires_grad=True)
        g, = lib.autograd.grad(y, t, v, create_graph=True)
        second = lib.autograd.grad((g * g).sum(), v)[0]
        got.append((_graph(g.grad_fn), y.detach().numpy(), g.detach().numpy(), second.numpy()))
    assert got[0][0] == got[1][0]
    # (float32: our exp, exp2, log2, tan, ... and PyTorch's are each within an ulp)
    tol = dict(rtol=3e-7, atol=0) if dtype == "float32" else dict(rtol=1e-15, atol=0)
    for ours, theirs in zip(got[0][1:], got[1][1:]):
        np.testing.assert_allclose(ours, theirs, **tol)


def test_float64_ndtr_takes_pytorchs_constant(backend):
    """ndtr = (1 + erf(x M_SQRT1_2)) / 2 with C's M_SQRT1_2 (1 / math.sqrt(2) is an ulp
    below; a quarter of the values and most gradients then differed from PyTorch's)"""
    x = np.linspace(0.05, 3, 4000)
    got = []
    for lib in (cgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.special.ndtr(t)
        y.sum().backward()
        got.append((y.detach().numpy(), t.grad.numpy()))
    (y, g), (ty, tg) = got
    # (cgrad's float64 erf is SciPy's, PyTorch's its own: a few values an ulp apart)
    assert np.mean(y != ty) < 0.15 and np.mean(g != tg) < 0.02
    np.testing.assert_allclose(y, ty, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g, tg, rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_amax_recorded_backward_divides_ties_as_pytorch(backend, dtype):
    """g / count * mask, PyTorch's order: g * (1 / 3) would be an ulp off for many g"""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (200, 6)).astype(dtype)          # ties of 1-6 in every row
    x[5, 2] = np.nan                                          # a NaN row: NaN gradients
    gv = rng.standard_normal(200).astype(dtype)
    got = []
    for lib in (cgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        g = lib.tensor(gv, requires_grad=True)
        gx, = lib.autograd.grad(t.amax(1), t, g, create_graph=True)
        gg, = lib.autograd.grad((gx * gx).nan_to_num().sum(), g)
        got.append((_graph(gx.grad_fn), gx.detach().numpy().tobytes(), gg.numpy().tobytes()))
    assert got[0] == got[1]
