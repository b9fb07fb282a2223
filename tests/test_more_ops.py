"""The ops added with sin/cos/.../cumsum/logsumexp/addmm, their in-place variants,
inference_mode, set_printoptions, and softplus/elu/logsigmoid/normalize/cosine_similarity
and ParameterList: values, gradients, dtypes, grad_fn names and error classes against
PyTorch, on both backends, in float32 and float64, with non-contiguous inputs."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.nn  # noqa: F401  (cgrad.nn loads lazily; the tests reach it as m.nn)

torch = pytest.importorskip("torch")
# inf and nan inputs: NumPy's warnings, which `import cgrad` silences outside pytest
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=2e-6, atol=1e-6),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12)}
INF, NAN = math.inf, math.nan


# ---- helpers --------------------------------------------------------------------------------
def _base(a, layout):
    """The leaf's array for a layout: view(leaf) gives back the values of a"""
    if layout == "transposed" and a.ndim:
        return np.ascontiguousarray(a.transpose(*reversed(range(a.ndim))))
    if layout == "strided" and a.ndim:
        base = np.full(a.shape[:-1] + (2 * a.shape[-1],), 0.25, a.dtype)
        base[..., ::2] = a
        return base
    return a


def _view(t, layout):
    """A non-contiguous view of the leaf t (the identity for "contiguous" and 0-d)"""
    if layout == "transposed" and t.ndim:
        return t.permute(*reversed(range(t.ndim)))
    if layout == "strided" and t.ndim:
        return t[..., ::2]
    return t


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def run(m, fn, arrays, layout, grad):
    """fn(m, *inputs) on library m; backward of sum(out * w) with a fixed w. Returns the
    output's values, dtype name, grad_fn name and the leaves' gradients."""
    leaves = [m.tensor(_base(a, layout), requires_grad=grad and a.dtype.kind == "f")
              for a in arrays]
    out = fn(m, *[_view(t, layout) for t in leaves])
    grads = None
    name = out.grad_fn.name() if out.grad_fn is not None else None
    if out.requires_grad:
        w = np.random.default_rng(1).uniform(0.5, 1.5, tuple(out.shape))
        (out * m.tensor(w.astype(out.detach().numpy().dtype))).sum().backward()
        grads = [None if t.grad is None else t.grad.numpy() for t in leaves]
    return out.detach().numpy(), _dtype_name(out), name, grads


def compare(fn, *arrays, layout="contiguous", grad=True, names=True, tol=None):
    """fn on cgrad and torch: the same values, dtype, grad_fn name and gradients"""
    ours = run(cgrad, fn, arrays, layout, grad)
    theirs = run(torch, fn, arrays, layout, grad)
    assert ours[1] == theirs[1]
    out_dtype = ours[0].dtype
    kw = tol or TOL.get(out_dtype, dict(rtol=0, atol=0))
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True, **kw)
    assert ours[0].shape == theirs[0].shape
    if names:
        assert ours[2] == theirs[2]
    assert (ours[3] is None) == (theirs[3] is None)
    if ours[3] is not None:
        for a, b in zip(ours[3], theirs[3]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, equal_nan=True, **(tol or TOL[a.dtype]))
    return ours


def same_error(fn, message=False):
    """fn(m) raises the same exception class for cgrad as for torch (and the same message)"""
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(cgrad)
    assert type(ours.value) is type(theirs.value), (ours.value, theirs.value)
    if message:
        assert str(ours.value) == str(theirs.value)


def values(dtype, edges, low=-2.0, high=2.0, shape=(3, 4), seed=0):
    """Random values in [low, high) with the edge values first"""
    a = np.random.default_rng(seed).uniform(low, high, math.prod(shape))
    a[:len(edges)] = edges
    return a.reshape(shape).astype(dtype)


LAYOUTS = ["contiguous", "transposed", "strided"]

# ---- 1. unary ops ---------------------------------------------------------------------------
UNARY = {  # name: (edge values, low, high)
    "sin": ([0.0, -0.0, -3.0, INF], -4, 4),
    "cos": ([0.0, -0.0, -3.0, -INF], -4, 4),
    "sign": ([0.0, -0.0, -3.0, INF, -INF, NAN], -2, 2),
    "rsqrt": ([0.0, -1.0, INF, 1e-30], 0.1, 4),
    "log1p": ([0.0, -1.0, -2.0, INF, -0.5, 1e-8], -0.9, 3),
    "expm1": ([0.0, -INF, INF, 1e-8, -20.0], -3, 3),
    "reciprocal": ([0.0, -0.0, INF, -INF, -2.0], -3, 3),
    "floor": ([0.5, -0.5, 1.5, -2.5, INF, 0.0], -3, 3),
    "ceil": ([0.5, -0.5, 1.5, -2.5, -INF, 0.0], -3, 3),
    "round": ([0.5, -0.5, 1.5, 2.5, -2.5, INF], -3, 3),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(backend, name, dtype, layout):
    edges, low, high = UNARY[name]
    x = values(dtype, edges, low, high)
    compare(lambda m, t: getattr(m, name)(t), x, layout=layout)
    compare(lambda m, t: getattr(t, name)(), x, layout=layout)


@pytest.mark.parametrize("decimals", [1, 2, -1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_decimals(backend, dtype, decimals):
    x = values(dtype, [1.25, 2.35, -1.55, 1234.5678, 1255.0, 0.0], -50, 50)
    compare(lambda m, t: t.round(decimals=decimals), x, layout="transposed")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_integer_and_bool_inputs(backend, name):
    """float-only ops give float32 for integers (as exp does); floor/ceil/round/sign keep
    the integer dtype; bool: what PyTorch does (sign keeps it, floor raises, sin floats)"""
    x = np.array([[-3, 0, 2], [5, -1, 7]], dtype=np.int64)
    compare(lambda m, t: getattr(t, name)(), x, grad=False, names=False,
            tol=dict(rtol=2e-6, atol=1e-6))
    b = np.array([True, False])
    try:
        getattr(torch.tensor(b), name)()
    except Exception:
        same_error(lambda m: getattr(m.tensor(b), name)())
    else:
        compare(lambda m, t: getattr(t, name)(), b, grad=False, names=False)


def test_unary_errors(backend):
    same_error(lambda m: m.tensor([12, 15]).round(decimals=-1))   # integer round(decimals)
    same_error(lambda m: m.sin(m.tensor([1.0], requires_grad=True), 2))


# ---- cumsum, flip, repeat, logsumexp --------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(backend, dim, dtype, layout):
    x = values(dtype, [INF, 0.0, -1.0], shape=(3, 5))
    compare(lambda m, t: t.cumsum(dim), x, layout=layout)
    compare(lambda m, t: m.cumsum(t, dim=dim), x, layout=layout)


def test_cumsum_dtypes_and_edges(backend):
    long = np.random.default_rng(0).uniform(0, 1, 10000).astype(np.float32)
    compare(lambda m, t: t.cumsum(0), long)       # float32 accumulated as PyTorch does
    compare(lambda m, t: t.cumsum(0, dtype=m.float64), values(np.float32, []))
    compare(lambda m, t: t.cumsum(-1), np.array(2.5))                 # 0-d
    compare(lambda m, t: t.cumsum(1), np.array([[1, 2], [3, 4]], dtype=np.int32), grad=False)
    compare(lambda m, t: t.cumsum(0), np.array([True, False, True]), grad=False)
    compare(lambda m, t: t.cumsum(0), np.zeros((0, 3)))
    same_error(lambda m: m.ones(2, 3).cumsum(2))
    same_error(lambda m: m.tensor(3.0).cumsum(1))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims", [(0,), (1,), (0, 1), (-1,), ()])
def test_flip(backend, dims, dtype, layout):
    x = values(dtype, [INF, -0.0])
    compare(lambda m, t: t.flip(*dims) if dims else t.flip(dims), x, layout=layout)
    compare(lambda m, t: m.flip(t, dims), x, layout=layout)


def test_flip_copies_and_errors(backend):
    for m in (cgrad, torch):
        x = m.arange(6.0).reshape(2, 3)
        y = x.flip(1)
        y[0, 0] = 100.0                               # a copy: x is unchanged
        assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    compare(lambda m, t: t.flip(0), np.array(1.5))
    same_error(lambda m: m.ones(2, 3).flip(0, 0))
    same_error(lambda m: m.ones(2, 3).flip(2))
    same_error(lambda m: m.ones(2, 3).flip())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [(2, 3), (2, 1, 3), (1, 1), (0, 2), (3, 2, 2, 1)])
def test_repeat(backend, sizes, dtype, layout):
    compare(lambda m, t: t.repeat(*sizes), values(dtype, [INF]), layout=layout)
    compare(lambda m, t: t.repeat(sizes), values(dtype, [INF]), layout=layout)


def test_repeat_shapes_and_errors(backend):
    compare(lambda m, t: t.repeat(2, 3), np.array([1.0, -2.0]))
    compare(lambda m, t: t.repeat(4), np.array(3.0))
    compare(lambda m, t: t.repeat(2, 2), np.array([[1, 2]]), grad=False)
    same_error(lambda m: m.ones(2, 3).repeat(2))
    same_error(lambda m: m.ones(2, 3).repeat(2, -1))
    same_error(lambda m: m.ones(2, 3).repeat())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 1)])
def test_logsumexp(backend, dim, keepdim, dtype, layout):
    x = values(dtype, [1000.0, 999.0, -1000.0], -3, 3)   # overflows unless stabilised
    compare(lambda m, t: t.logsumexp(dim, keepdim), x, layout=layout)
    compare(lambda m, t: m.logsumexp(t, dim, keepdim=keepdim), x, layout=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, 2, (0, 2)])
def test_logsumexp_at_size(backend, dim, layout):
    """float32 at sizes the compiled backend's sub, exp and mul take (x - m and x - y
    broadcast in one pass each, the kernels' exp, g times it broadcast), with -inf values
    (a whole row of them along the last dim: NaN gradients there, as PyTorch's) and large
    ones: PyTorch's values and gradients to float rounding"""
    x = values(np.float32, [-INF] * 40 + [1000.0, 999.0], -6, 6, shape=(40, 36, 30))
    compare(lambda m, t: t.logsumexp(dim), x, layout=layout,
            tol=dict(rtol=2e-6, atol=2e-6))


def test_logsumexp_edges_and_errors(backend):
    rows = np.array([[-INF, -INF], [INF, 1.0], [INF, -INF], [0.0, -INF]])
    compare(lambda m, t: t.logsumexp(1), rows)
    compare(lambda m, t: t.logsumexp(0), np.array(2.0))
    compare(lambda m, t: t.logsumexp(0), np.zeros((0, 3)))
    compare(lambda m, t: t.logsumexp(1), np.zeros((0, 3)))
    compare(lambda m, t: t.logsumexp(0), np.array([1, 2, 3]), grad=False,
            tol=dict(rtol=2e-6, atol=1e-6))                      # integers: float32
    same_error(lambda m: m.ones(2, 3).logsumexp(2))
    same_error(lambda m: m.ones(2, 3).logsumexp())


# ---- outer, addmm ---------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_outer(backend, dtype, layout):
    a = values(dtype, [0.0, INF], shape=(4,))
    b = values(dtype, [-1.0], shape=(3,), seed=1)
    compare(lambda m, x, y: m.outer(x, y), a, b, layout=layout)
    compare(lambda m, x, y: x.outer(y), a, b, layout=layout)
    compare(lambda m, x, y: m.ger(x, y), a, b, layout=layout)


def test_outer_dtypes_and_errors(backend):
    a32, b64 = values(np.float32, [], shape=(3,)), values(np.float64, [], shape=(2,))
    compare(lambda m, x, y: m.outer(x, y), a32, b64)
    compare(lambda m, x, y: m.outer(x, y), np.array([1, 2]), a32)
    same_error(lambda m: m.outer(m.ones(2, 2), m.ones(2)))
    same_error(lambda m: m.outer(m.ones(2), m.ones(2, 3)))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias_shape", [(3, 2), (2,), (1, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, 0)])
def test_addmm(backend, beta, alpha, bias_shape, dtype, layout):
    c = values(dtype, [NAN] if beta == 0 else [], shape=bias_shape)  # beta 0: NaN ignored
    m1 = values(dtype, [0.0], shape=(3, 4), seed=1)
    m2 = values(dtype, [], shape=(4, 2), seed=2)
    compare(lambda m, c, a, b: m.addmm(c, a, b, beta=beta, alpha=alpha), c, m1, m2,
            layout=layout)
    compare(lambda m, c, a, b: c.addmm(a, b, beta=beta, alpha=alpha), c, m1, m2,
            layout=layout)


def test_addmm_errors(backend):
    same_error(lambda m: m.addmm(m.ones(2), m.ones(2, 3), m.ones(4, 2)))
    same_error(lambda m: m.addmm(m.ones(3), m.ones(2, 3), m.ones(3, 2)))
    same_error(lambda m: m.addmm(m.ones(2), m.ones(3), m.ones(3, 2)))
    same_error(lambda m: m.addmm(m.ones(2), m.ones(2, 3), m.ones(3)))
    same_error(lambda m: m.addmm(m.ones(2, dtype=m.float64), m.ones(2, 3), m.ones(3, 2)))
    same_error(lambda m: m.addmm(m.ones(2), m.ones(2, 3, dtype=m.float64), m.ones(3, 2)))


# ---- narrow, movedim (views), type_as, remainder, where ------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,start,length", [(0, 1, 2), (1, -3, 2), (-1, 0, 0), (1, 4, 0),
                                              (0, -1, 1)])
def test_narrow(backend, dim, start, length, dtype, layout):
    compare(lambda m, t: t.narrow(dim, start, length), values(dtype, [INF]), layout=layout)
    compare(lambda m, t: m.narrow(t, dim, start, length), values(dtype, []), layout=layout)


def test_narrow_is_a_view_and_errors(backend):
    for m in (cgrad, torch):
        x = m.arange(6.0).reshape(2, 3)
        v = x.narrow(1, m.tensor(1), 2)
        v[0, 0] = 100.0
        assert x.tolist() == [[0, 100, 2], [3, 4, 5]]
        assert x._version == v._version == 1
    same_error(lambda m: m.ones(3).narrow(0, 2, 2))
    same_error(lambda m: m.ones(3).narrow(0, 4, 0))
    same_error(lambda m: m.ones(3).narrow(0, -4, 1))
    same_error(lambda m: m.ones(3).narrow(0, 1, -1))
    same_error(lambda m: m.ones(3).narrow(1, 0, 1))
    same_error(lambda m: m.ones(()).narrow(0, 0, 1))


MOVES = [(0, -1), (-1, 0), ((0, 1), (-1, 0)), ((2, 0), (0, 2)), ([0, 1, 2], [0, 1, 2])]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src,dst", MOVES)
def test_movedim(backend, src, dst, dtype, layout):
    x = values(dtype, [INF], shape=(2, 3, 4))
    compare(lambda m, t: t.movedim(src, dst), x, layout=layout)
    compare(lambda m, t: m.moveaxis(t, src, dst), x, layout=layout)


def test_movedim_is_a_view_and_errors(backend):
    for m in (cgrad, torch):
        x = m.zeros(2, 3, 4)
        v = x.movedim(0, -1)
        assert tuple(v.shape) == (3, 4, 2)
        v[1, 2, 0] = 7.0
        assert x[0, 1, 2].item() == 7.0
    same_error(lambda m: m.ones(2, 3).movedim((0, 0), (1, 0)))
    same_error(lambda m: m.ones(2, 3).movedim((0, 1), (1,)))
    same_error(lambda m: m.ones(2, 3).movedim((0, 1), (1, 1)))
    same_error(lambda m: m.ones(2, 3).movedim(2, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_type_as(backend, dtype):
    x = values(dtype, [0.5])
    compare(lambda m, t: t.type_as(m.ones(1, dtype=m.float64)), x)
    compare(lambda m, t: t.type_as(m.ones(1, dtype=m.float32)), x)
    compare(lambda m, t: t.type_as(m.ones(1, dtype=m.int64)), x)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_remainder(backend, dtype, layout):
    a = values(dtype, [5.0, -5.0, 0.0, INF, 3.0, -0.0], -10, 10)
    b = values(dtype, [3.0, 3.0, -2.0, 2.0, 0.0, -1.5], -4, 4, seed=3)
    compare(lambda m, x, y: x % y, a, b, layout=layout)
    compare(lambda m, x, y: x.remainder(y), a, b, layout=layout)
    compare(lambda m, x, y: m.remainder(x, y), a, b, layout=layout)
    compare(lambda m, x: x % 0.7, a, layout=layout)
    compare(lambda m, x: x % -2.5, a, layout=layout)
    compare(lambda m, x: x % values(dtype, [], shape=(4,)).tolist()[0], a, layout=layout)


def test_remainder_numbers_integers_and_errors(backend):
    b = np.array([3.0, -3.0, 0.5])
    compare(lambda m, x: 5 % x, b, grad=False, names=False)
    compare(lambda m, x: m.remainder(5, x), b, grad=False, names=False)
    compare(lambda m, x: m.remainder(x, 0.0), b, names=False)
    compare(lambda m, x, y: x % y, np.array([5, -5, 7]), np.array([3, 3, -2]), grad=False)
    same_error(lambda m: m.tensor([5, -5]) % 0)
    same_error(lambda m: m.ones(2) % m.ones(3))
    same_error(lambda m: (5 % m.tensor([2.0], requires_grad=True)).sum().backward())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_method(backend, dtype, layout):
    x, y = values(dtype, [INF]), values(dtype, [NAN], seed=2)

    def fn(m, a, b):
        return a.where(a > 0, b)
    compare(fn, x, y, layout=layout)
    compare(lambda m, a: a.where(a < 0, 0.0), x, layout=layout)
    same_error(lambda m: m.ones(2).where(m.ones(3) > 0, m.ones(2)))


# ---- 2. in-place variants -------------------------------------------------------------------
INPLACE = {"exp_": -2, "log_": 0.1, "sqrt_": 0.1, "sigmoid_": -4, "tanh_": -3, "abs_": -3,
           "sin_": -4, "cos_": -4}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace(backend, name, dtype):
    x = values(dtype, [0.0] if INPLACE[name] < 0 else [1.0], INPLACE[name], 3)

    def on_nonleaf(m, t):
        y = t * 1
        out = getattr(y, name)()
        assert out is y and y._version == 1
        return y

    def on_view(m, t):
        y = t * 1
        getattr(y[1:], name)()                  # through the base's CopySlices node
        return y

    def twice(m, t):
        y = t * 2
        getattr(getattr(y, name)(), name)()
        return y

    for fn in (on_nonleaf, on_view):
        compare(fn, x, layout="contiguous")
    if name in ("log_", "abs_", "sin_", "cos_"):     # the others save their output, which
        compare(twice, x)                             # PyTorch then refuses (cgrad doesn't)
    compare(on_nonleaf, x, layout="transposed")
    compare(lambda m, t: getattr(m, name)(t * 1), x)          # top-level cgrad.exp_(t)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_errors_and_no_grad(backend, name):
    same_error(lambda m: getattr(m.ones(3, requires_grad=True), name)())        # a leaf

    def saved_then_modified(m):
        y = m.ones(3, requires_grad=True) * 2
        z = y * y                               # saves y
        getattr(y, name)()
        z.sum().backward()
    same_error(saved_then_modified)
    if name != "abs_":
        same_error(lambda m: getattr(m.tensor([1, 2]), name)())      # float into int64
    x = np.array([0.5, 1.5, 2.5])
    results = []
    for m in (cgrad, torch):
        leaf = m.tensor(x, requires_grad=True)
        with m.no_grad():
            getattr(leaf, name)()
        results.append((leaf.detach().numpy().copy(), leaf._version))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] == results[1][1]


# ---- 3. inference_mode, set_printoptions ----------------------------------------------------
def test_inference_mode():
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.inference_mode():
        assert not cgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert cgrad.is_grad_enabled() and (x * 2).requires_grad

    @cgrad.inference_mode()
    def f(t):
        return t * 2

    @cgrad.inference_mode
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f" and g.__name__ == "g"
    with cgrad.inference_mode(False):
        assert (x * 2).requires_grad
    with cgrad.no_grad():
        with cgrad.inference_mode(mode=False):            # PyTorch's: grad mode on inside
            assert cgrad.is_grad_enabled()
        assert not cgrad.is_grad_enabled()
    assert cgrad.is_grad_enabled()


PRINT_OPTIONS = [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False),
                 dict(precision=6, sci_mode=True), dict(profile="short"), dict(threshold=5),
                 dict(edgeitems=1, threshold=5), dict(linewidth=40), dict(profile="full")]
PRINTED = [[1.0, -2.5, 0.333333], [1e-5, 1.0, 123456.0], [1.0, 2.0, 3.0], [0.0, 0.0],
           [[1.5, 2.25], [-3.125, 4.0]], list(range(12)), [INF, -1.0, NAN]]


@pytest.mark.parametrize("options", PRINT_OPTIONS, ids=str)
def test_set_printoptions(options):
    try:
        for m in (cgrad, torch):
            m.set_printoptions(**options)
        for data in PRINTED:
            for dtype in ("float32", "float64"):
                ours = repr(cgrad.tensor(data, dtype=getattr(cgrad, dtype)))
                theirs = repr(torch.tensor(data, dtype=getattr(torch, dtype)))
                assert ours == theirs.replace("torch.", "cgrad.")
        assert cgrad.get_printoptions() == torch._tensor_str.get_printoptions()
    finally:
        for m in (cgrad, torch):
            m.set_printoptions(profile="default", sci_mode=None)
    assert repr(cgrad.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"


# ---- 4. nn.functional and modules -----------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 1.0), (0.5, 3.0)])
def test_softplus(backend, beta, threshold, dtype, layout):
    x = values(dtype, [0.0, 30.0, -100.0, 0.5, 10.0, -INF], -4, 4)
    compare(lambda m, t: m.nn.functional.softplus(t, beta, threshold), x, layout=layout)
    compare(lambda m, t: m.nn.Softplus(beta=beta, threshold=threshold)(t), x, layout=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu(backend, alpha, dtype, layout):
    x = values(dtype, [0.0, -0.0, -50.0, INF, -INF, 1e-8], -4, 4)
    compare(lambda m, t: m.nn.functional.elu(t, alpha), x, layout=layout)
    compare(lambda m, t: m.nn.ELU(alpha)(t), x, layout=layout)
    compare(lambda m, t: m.nn.functional.elu(t * 1, alpha, inplace=True), x, layout=layout,
            names=False)                          # PyTorch's in-place node: EluBackward1


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsigmoid(backend, dtype, layout):
    x = values(dtype, [0.0, 100.0, -100.0, INF, -INF, -1e-8], -6, 6)
    compare(lambda m, t: m.nn.functional.logsigmoid(t), x, layout=layout)
    compare(lambda m, t: m.nn.LogSigmoid()(t), x, layout=layout)


def test_activation_errors_and_reprs(backend):
    for fn in ("softplus", "elu", "logsigmoid"):
        same_error(lambda m: getattr(m.nn.functional, fn)(m.tensor([1, 2])))
    for make in (lambda m: m.nn.Softplus(), lambda m: m.nn.Softplus(2, 10),
                 lambda m: m.nn.ELU(), lambda m: m.nn.ELU(0.5, True),
                 lambda m: m.nn.LogSigmoid()):
        assert repr(make(cgrad)) == repr(make(torch))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,dim", [(2.0, 1), (2.0, 0), (1.0, -1), (3.0, 1)])
def test_normalize(backend, p, dim, dtype, layout):
    x = values(dtype, [], shape=(3, 4))
    x[1] = 0.0                                   # a zero row: the eps clamp
    compare(lambda m, t: m.nn.functional.normalize(t, p=p, dim=dim), x, layout=layout,
            names=False)
    compare(lambda m, t: m.nn.functional.normalize(t, p=p, dim=dim, eps=0.5), x,
            layout=layout, names=False)


def test_normalize_errors(backend):
    same_error(lambda m: m.nn.functional.normalize(m.ones(3)))            # dim 1 of 1-D
    same_error(lambda m: m.nn.functional.normalize(m.tensor([1, 2]), dim=0))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,dim", [(((4, 3), (4, 3)), 1), (((4, 3), (4, 3)), 0),
                                        (((4, 1), (4, 3)), 1), (((1, 3), (4, 3)), 1),
                                        (((2, 4, 3), (4, 3)), -1)])
def test_cosine_similarity(backend, shapes, dim, dtype, layout):
    a = values(dtype, [], shape=shapes[0])
    b = values(dtype, [], shape=shapes[1], seed=5)
    a.reshape(-1)[:shapes[0][-1]] = 0.0          # a zero vector: the eps clamp
    compare(lambda m, x, y: m.nn.functional.cosine_similarity(x, y, dim), a, b,
            layout=layout)
    compare(lambda m, x, y: m.nn.functional.cosine_similarity(x, y, dim=dim, eps=0.5), a, b,
            layout=layout)


def test_cosine_similarity_dtypes_and_errors(backend):
    a = values(np.float32, [], shape=(4, 3))
    b = values(np.float64, [], shape=(4, 3), seed=1)
    compare(lambda m, x, y: m.nn.functional.cosine_similarity(x, y), a, b)
    compare(lambda m, x, y: m.nn.functional.cosine_similarity(x, y), np.ones((4, 3), int), a,
            tol=dict(rtol=2e-6, atol=1e-6))
    compare(lambda m, x, y: m.nn.functional.cosine_similarity(x, y, dim=0), a[0], b[0])
    same_error(lambda m: m.nn.functional.cosine_similarity(m.tensor([[1, 2]]),
                                                           m.tensor([[1, 2]])))
    same_error(lambda m: m.nn.functional.cosine_similarity(m.ones(2, 3), m.ones(2, 4)))
    same_error(lambda m: m.nn.functional.cosine_similarity(m.ones(3), m.ones(3)))


def test_parameter_list():
    def build(m):
        pl = m.nn.ParameterList([m.nn.Parameter(m.ones(2)), m.ones(3)])
        assert pl.append(m.nn.Parameter(m.zeros(2, 2, dtype=m.float64))) is pl
        pl += [m.full((1,), 2.0)]
        pl.extend([m.nn.Parameter(m.ones(4))])
        return pl

    ours, theirs = build(cgrad), build(torch)
    assert len(ours) == len(theirs) == 5
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2", "3", "4"]
    assert all(isinstance(p, cgrad.nn.Parameter) for p in ours)     # Tensors became Parameters
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]
    assert [p.requires_grad for p in ours.parameters()] == [True] * 5
    assert ours[-1] is ours[4] and ours[1] is list(ours.parameters())[1]
    assert [tuple(p.shape) for p in ours[1:3]] == [(3,), (2, 2)]
    assert repr(ours) == repr(theirs).replace("torch.", "cgrad.")
    assert repr(ours[1:3]) == repr(theirs[1:3]).replace("torch.", "cgrad.")
    replacement = cgrad.nn.Parameter(cgrad.zeros(3))
    ours[1] = replacement
    assert ours[1] is replacement and list(ours.parameters())[1] is replacement
    with pytest.raises(IndexError):
        ours[5]
    with pytest.raises(IndexError):
        theirs[5]

    class Net(cgrad.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = cgrad.nn.ParameterList([cgrad.ones(2), cgrad.ones(2)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x.sum()

    net = Net()
    assert list(net.state_dict()) == ["ws.0", "ws.1"]
    net(cgrad.tensor([1.0, 2.0])).backward()
    assert [p.grad.tolist() for p in net.parameters()] == [[1.0, 2.0], [1.0, 2.0]]
    other = Net()
    other.load_state_dict({"ws.0": cgrad.full((2,), 3.0), "ws.1": cgrad.zeros(2)})
    assert other.ws[0].tolist() == [3.0, 3.0]
