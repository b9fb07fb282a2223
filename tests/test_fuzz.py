"""Differential fuzzing: every op family, forward and backward, on both backends, against a
float64 NumPy reference, over shapes, dtypes and memory layouts made to catch a kernel that
ignores strides (the unused slots of strided inputs hold NaN) or writes outside a view.

Hypothesis is derandomized by default; CGRAD_FUZZ_EXAMPLES sets the examples per test and
CGRAD_FUZZ_SEED a seed (which turns derandomization off) for longer runs:
    CGRAD_FUZZ_EXAMPLES=2000 CGRAD_FUZZ_SEED=1 pytest tests/test_fuzz.py
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import cgrad

EXAMPLES = int(os.environ.get("CGRAD_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("CGRAD_FUZZ_SEED")


def fuzz_settings(fn):
    fn = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None,
                  suppress_health_check=list(HealthCheck))(fn)
    return seed(int(SEED))(fn) if SEED is not None else fn


BACKENDS = ["numpy"] + (["cython"] if cgrad.backends.CythonKernels is not None else [])
LAYOUTS = ["contiguous", "transposed", "stepped", "negative", "broadcast", "misaligned",
           "cgrad_view"]
def as_tensor_of(arr):
    """a tensor over arr's memory, in whatever layout arr has: cgrad.from_numpy refuses a
    negative stride, as PyTorch's does, so the negative layout comes in as cgrad's own views
    may hold one"""
    return cgrad.Tensor._make(arr)


TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


# ---- inputs with layouts ---------------------------------------------------------------------
class Laid:
    """An input array in some layout, and what must not change: its values and the NaN slots
    of the buffer it was cut from."""

    def __init__(self, array, base=None, mask=None):
        self.array = array
        self.values = np.array(array, copy=True)
        self.base, self.mask = base, mask

    def check_untouched(self):
        np.testing.assert_array_equal(self.array, self.values)       # inputs unchanged
        if self.base is not None:                                      # nothing written outside
            assert np.isnan(self.base[self.mask]).all(), "a kernel wrote outside its view"


def lay_out(values, layout, rng):
    """values (a contiguous array) in the given layout; same logical contents."""
    dt = values.dtype
    if layout in ("contiguous", "cgrad_view") or values.ndim == 0:
        return Laid(values.copy())
    if layout == "transposed":
        buf = np.ascontiguousarray(values.T)
        return Laid(buf.T)
    if layout == "misaligned":
        raw = np.zeros(values.nbytes + dt.itemsize + 1, dtype=np.uint8)
        arr = raw[1:1 + values.nbytes].view(dt).reshape(values.shape)
        arr[...] = values
        return Laid(arr)
    if layout == "broadcast":
        # a zero-stride view: broadcast a slice along the first dim
        row = values[:1] if values.shape[0] else values
        arr = np.broadcast_to(row, values.shape)
        return Laid(arr)
    # stepped / negative: cut from a NaN-filled buffer
    step = 2
    big_shape = tuple(n * step + 1 for n in values.shape)
    base = np.full(big_shape, np.nan, dtype=dt)
    if layout == "stepped":
        key = tuple(slice(1, 1 + n * step, step) for n in values.shape)
    else:
        key = tuple(slice(n * step - 1, None, -step) if n else slice(0, 0)
                    for n in values.shape)
    view = base[key]
    view[...] = values
    mask = np.ones(big_shape, dtype=bool)
    mask[key] = False
    return Laid(view, base, mask)


def to_tensor(laid, layout, requires_grad):
    t = as_tensor_of(laid.array)
    if layout == "cgrad_view" and t.ndim >= 1:
        # a view made by cgrad itself: a transposed, stepped slice of a bigger tensor
        full = as_tensor_of(np.full((2 * t.shape[0] + 1,) + tuple(t.shape[1:]), np.nan,
                                        dtype=laid.array.dtype))
        view = full[1::2]
        view.copy_(t)
        laid.base = full.numpy()
        laid.mask = np.ones(full.shape, dtype=bool)
        laid.mask[1::2] = False
        t = view
    if requires_grad:
        t = t.detach().requires_grad_() if t.is_leaf else t
    return t


@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=0, max_side=5):
    nd = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.lists(st.integers(min_side, max_side), min_size=nd, max_size=nd)))


def values_for(shape, dtype, rng, domain=None):
    v = np.asarray(rng.standard_normal(shape))
    if domain == "pos":
        v = np.abs(v) + 0.25
    return np.asarray(v, dtype=dtype)


def rows_lt(a, b, dtype):
    return TOL[dtype]


def assert_close(actual, expected, dtype, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, equal_nan=True, err_msg=what, **TOL[dtype])


def unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


def run_case(backend, arrays, layouts, dtype, fn, ref_fwd, ref_bwd, grad=True):
    """fn(*tensors) on backend vs ref_fwd(*float64 arrays); with grad, backward of
    sum(y * w) vs ref_bwd(w, *float64 arrays) (one gradient per input)."""
    cgrad.set_backend(backend)
    rng = np.random.default_rng(0)
    laid = [lay_out(a, l, rng) for a, l in zip(arrays, layouts)]
    tensors = [to_tensor(la, l, grad) for la, l in zip(laid, layouts)]
    ref_in = [la.values.astype(np.float64) for la in laid]   # a broadcast layout repeats a row
    y = fn(*tensors)
    expected = ref_fwd(*ref_in)
    assert_close(y.detach().numpy(), expected, dtype, f"forward on {backend}")
    if grad and y.numel():
        w = rng.standard_normal(y.shape)
        (y * cgrad.tensor(w, dtype=y.dtype)).sum().backward()
        for i, (t, g_ref) in enumerate(zip(tensors, ref_bwd(w, *ref_in))):
            if g_ref is None:
                continue
            got = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
            assert_close(got, g_ref, dtype, f"gradient {i} on {backend}")
    for la in laid:
        la.check_untouched()


# ---- unary --------------------------------------------------------------------------------
UNARY = {
    "exp": (lambda t: t.exp(), np.exp, lambda x: np.exp(x), None),
    "tanh": (lambda t: t.tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2, None),
    "sigmoid": (lambda t: t.sigmoid(), lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, None),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, None),
    "abs": (lambda t: t.abs(), np.abs, np.sign, None),
    "neg": (lambda t: -t, np.negative, lambda x: -np.ones_like(x), None),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, lambda x: 0.5 / np.sqrt(x), "pos"),
    "log": (lambda t: t.log(), np.log, lambda x: 1 / x, "pos"),
    "square": (lambda t: t ** 2, np.square, lambda x: 2 * x, None),
    "clamp": (lambda t: t.clamp(-0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
              lambda x: ((x >= -0.5) & (x <= 0.7)) * 1.0, None),
    "where_scaled": (lambda t: cgrad.where(t > 0, t, t * 0.01),
                     lambda x: np.where(x > 0, x, 0.01 * x),
                   lambda x: np.where(x > 0, 1.0, 0.01), None),
    "scalar_rdiv": (lambda t: 2.0 / t, lambda x: 2.0 / x, lambda x: -2.0 / x ** 2, "pos"),
    "scalar_rsub": (lambda t: 3.0 - t, lambda x: 3.0 - x, lambda x: -np.ones_like(x), None),
    "scalar_rpow": (lambda t: 2.0 ** t, lambda x: 2.0 ** x, lambda x: np.log(2) * 2.0 ** x, None),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(UNARY))
@fuzz_settings
@given(shape=shapes(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.float32, np.float64]), big=st.booleans())
def test_unary(backend, name, shape, layout, dtype, big):
    fn, ref, dref, domain = UNARY[name]
    if big:
        shape = (70_001,)        # reaches the parallel paths
    x = values_for(shape, dtype, np.random.default_rng(len(shape)), domain)
    run_case(backend, [x], [layout], dtype, fn, ref, lambda w, a: [w * dref(a)])


# ---- binary -------------------------------------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda w, a, b: (w, w), None),
    "sub": (lambda a, b: a - b, np.subtract, lambda w, a, b: (w, -w), None),
    "mul": (lambda a, b: a * b, np.multiply, lambda w, a, b: (w * b, w * a), None),
    "div": (lambda a, b: a / b, np.divide, lambda w, a, b: (w / b, -w * a / b ** 2), "pos"),
    "pow": (lambda a, b: a ** b, np.power,
            lambda w, a, b: (w * b * a ** (b - 1), w * a ** b * np.log(a)), "pos"),
    "maximum": (cgrad.maximum, np.maximum,
                lambda w, a, b: (w * ((a > b) + 0.5 * (a == b)), w * ((b > a) + 0.5 * (a == b))),
                None),
    "minimum": (cgrad.minimum, np.minimum,
                lambda w, a, b: (w * ((a < b) + 0.5 * (a == b)), w * ((b < a) + 0.5 * (a == b))),
                None),
    "where": (lambda a, b: cgrad.where(a > b, a, b), lambda a, b: np.where(a > b, a, b),
              lambda w, a, b: (w * (a > b), w * ~(a > b)), None),
}


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast: drop leading dims and set some sizes to 1."""
    full = draw(shapes(0, 4, 0, 4))
    def variant():
        lead = draw(st.integers(0, len(full)))
        return tuple(1 if draw(st.booleans()) else n for n in full[lead:])
    return (full, variant()) if draw(st.booleans()) else (variant(), full)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BINARY))
@fuzz_settings
@given(pair=broadcast_pair(), layouts=st.tuples(st.sampled_from(LAYOUTS),
                                                st.sampled_from(LAYOUTS)),
       dtypes=st.sampled_from([(np.float32, np.float32), (np.float64, np.float64),
                               (np.float32, np.float64)]), big=st.booleans())
def test_binary(backend, name, pair, layouts, dtypes, big):
    fn, ref, dref, domain = BINARY[name]
    if big:
        pair = ((300, 257), (257,))       # bias-style broadcasting past the parallel threshold
    rng = np.random.default_rng(3)
    a = values_for(pair[0], dtypes[0], rng, domain)
    b = values_for(pair[1], dtypes[1], rng, domain)
    out_dtype = np.float32 if np.float32 in dtypes else np.float64     # tolerance of the least precise

    def bwd(w, x, y):
        ga, gb = dref(w, x, y)
        return [unbroadcast(ga * np.ones(w.shape), x.shape), unbroadcast(gb * np.ones(w.shape),
                                                                      y.shape)]
    run_case(backend, [a, b], list(layouts), out_dtype, fn, ref, bwd)


@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(pair=broadcast_pair(), layout=st.sampled_from(LAYOUTS))
def test_comparisons(backend, pair, layout):
    cgrad.set_backend(backend)
    rng = np.random.default_rng(5)
    a = np.asarray(np.round(values_for(pair[0], np.float32, rng)))   # rounding makes ties
    b = np.asarray(np.round(values_for(pair[1], np.float32, rng)))
    laid = lay_out(a, layout, rng)
    a = laid.values                    # a broadcast layout repeats a row
    ta = as_tensor_of(laid.array)
    tb = as_tensor_of(b)
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        np.testing.assert_array_equal(getattr(ta, op)(tb).numpy(), getattr(a, op)(b))


# ---- reductions and softmax --------------------------------------------------------------------
@st.composite
def reduction_case(draw):
    shape = draw(shapes(1, 4, 1, 5))
    nd = len(shape)
    dims = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd,
                                   unique=True).map(tuple)))
    return shape, dims, draw(st.booleans())


def _axes(dims, nd):
    if dims is None:
        return tuple(range(nd))
    if isinstance(dims, int):
        return (dims % nd,)
    return tuple(d % nd for d in dims)


def _expand(g, shape, axes, keepdim):
    if not keepdim:
        for ax in sorted(axes):
            g = np.expand_dims(g, ax)
    return np.broadcast_to(g, shape)


def _ref_sum(x, dims, keepdim):
    return np.sum(x, axis=_axes(dims, x.ndim), keepdims=keepdim)


def _ref_var(x, dims, keepdim):
    axes = _axes(dims, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes]))
    return np.sum((x - x.mean(axis=axes, keepdims=True)) ** 2, axis=axes, keepdims=keepdim) / (
        n - 1) if n > 1 else np.full(np.sum(x, axis=axes, keepdims=keepdim).shape, np.nan)


REDUCTIONS = {
    "sum": (lambda t, d, k: t.sum(d, keepdim=k), _ref_sum,
            lambda w, x, d, k: _expand(w, x.shape, _axes(d, x.ndim), k)),
    "mean": (lambda t, d, k: t.mean(d, keepdim=k),
             lambda x, d, k: np.mean(x, axis=_axes(d, x.ndim), keepdims=k),
             lambda w, x, d, k: _expand(w, x.shape, _axes(d, x.ndim), k) / np.prod(
                 [x.shape[a] for a in _axes(d, x.ndim)])),
    "var": (lambda t, d, k: t.var(d, keepdim=k), _ref_var,
            lambda w, x, d, k: _expand(w, x.shape, _axes(d, x.ndim), k) * 2 * (
                x - x.mean(axis=_axes(d, x.ndim), keepdims=True)) / (np.prod(
                    [x.shape[a] for a in _axes(d, x.ndim)]) - 1)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@fuzz_settings
@given(case=reduction_case(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_reductions(backend, name, case, layout, dtype):
    shape, dims, keepdim = case
    fn, ref, dref = REDUCTIONS[name]
    n = int(np.prod([shape[a] for a in _axes(dims, len(shape))]))
    if name == "var" and n < 2:
        return
    x = values_for(shape, dtype, np.random.default_rng(1))
    run_case(backend, [x], [layout], dtype, lambda t: fn(t, dims, keepdim),
             lambda a: ref(a, dims, keepdim), lambda w, a: [dref(w, a, dims, keepdim)])


@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(shape=shapes(1, 3, 1, 5), layout=st.sampled_from(LAYOUTS), data=st.data())
def test_max_min_with_dim(backend, shape, layout, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    x = np.random.default_rng(2).permutation(int(np.prod(shape))).reshape(shape).astype(
        np.float32)                                              # distinct: one argmax
    ax = dim % len(shape)

    def bwd(w, a):
        idx = np.expand_dims(np.argmax(a, axis=ax), ax)
        g = np.zeros_like(a)
        np.put_along_axis(g, idx, w if keepdim else np.expand_dims(w, ax), axis=ax)
        return [g]
    run_case(backend, [x], [layout], np.float32, lambda t: t.max(dim, keepdim).values,
             lambda a: np.max(a, axis=ax, keepdims=keepdim), bwd)
    cgrad.set_backend(backend)
    t = as_tensor_of(x)
    np.testing.assert_array_equal(t.argmin(dim, keepdim).numpy(),
                                  np.argmin(x, axis=ax, keepdims=keepdim))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("log", [False, True])
@fuzz_settings
@given(shape=shapes(1, 3, 0, 6), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.float32, np.float64]), data=st.data(), scale=st.sampled_from(
           [1.0, 1e4]), big=st.booleans())
def test_softmax(backend, log, shape, layout, dtype, data, scale, big):
    if big:
        shape = (40, 2049)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = values_for(shape, dtype, np.random.default_rng(4)) * dtype(scale)

    def ref(a):
        if not a.size:
            return a.copy()
        s = a - a.max(axis=dim, keepdims=True)
        ls = s - np.log(np.exp(s).sum(axis=dim, keepdims=True))
        return ls if log else np.exp(ls)

    def bwd(w, a):
        y = ref(a)
        if log:
            return [w - np.exp(y) * w.sum(axis=dim, keepdims=True)]
        return [y * (w - (w * y).sum(axis=dim, keepdims=True))]
    fn = (lambda t: t.log_softmax(dim)) if log else (lambda t: t.softmax(dim))
    run_case(backend, [x], [layout], dtype, fn, ref, bwd)


# ---- matmul ---------------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(0, 6)) for _ in range(3))
    kind = draw(st.sampled_from(["1d1d", "1d2d", "2d1d", "2d2d", "batched", "broadcast"]))
    if kind == "1d1d":
        return (k,), (k,)
    if kind == "1d2d":
        return (k,), (k, n)
    if kind == "2d1d":
        return (m, k), (k,)
    if kind == "2d2d":
        return (m, k), (k, n)
    b = draw(st.integers(1, 3))
    if kind == "batched":
        return (b, m, k), (b, k, n)
    return (b, 1, m, k), (2, k, n)


@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(pair=matmul_shapes(), layouts=st.tuples(st.sampled_from(LAYOUTS),
                                               st.sampled_from(LAYOUTS)),
       dtype=st.sampled_from([np.float32, np.float64]), big=st.booleans())
def test_matmul(backend, pair, layouts, dtype, big):
    if big:
        pair = ((130, 77), (77, 65))
    rng = np.random.default_rng(6)
    a, b = values_for(pair[0], dtype, rng), values_for(pair[1], dtype, rng)

    def bwd(w, x, y):
        if x.ndim == 1 and y.ndim == 1:
            return [w * y, w * x]
        x2 = x[None] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        w2 = w
        if x.ndim == 1:
            w2 = np.expand_dims(w2, -2)
        if y.ndim == 1:
            w2 = np.expand_dims(w2, -1)
        ga = w2 @ np.swapaxes(y2, -1, -2)
        gb = np.swapaxes(x2, -1, -2) @ w2
        ga = unbroadcast(ga, x2.shape).reshape(x.shape)
        gb = unbroadcast(gb, y2.shape).reshape(y.shape)
        return [ga, gb]
    run_case(backend, [a, b], list(layouts), dtype, lambda x, y: x @ y, np.matmul, bwd)


# ---- indexing, shape ops, cat/stack ------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(shape=shapes(1, 3, 1, 5), layout=st.sampled_from(LAYOUTS), data=st.data())
def test_indexing(backend, shape, layout, data):
    n0 = shape[0]
    kind = data.draw(st.sampled_from(["ints", "slice", "int_tensor", "mask", "none_ellipsis"]))
    if kind == "ints":
        key = data.draw(st.integers(-n0, n0 - 1))
    elif kind == "slice":
        key = slice(data.draw(st.integers(0, n0)), None, data.draw(st.integers(1, 3)))
    elif kind == "int_tensor":   # duplicates allowed: gradients must add up
        key = np.array(data.draw(st.lists(st.integers(-n0, n0 - 1), min_size=0, max_size=7)),
                       dtype=np.int64)
    elif kind == "mask":
        key = np.array(data.draw(st.lists(st.booleans(), min_size=n0, max_size=n0)))
    else:
        key = (None, Ellipsis, data.draw(st.integers(-shape[-1], shape[-1] - 1)))
    x = values_for(shape, np.float64, np.random.default_rng(7))

    def cg_key():
        return as_tensor_of(key) if isinstance(key, np.ndarray) else key

    def bwd(w, a):
        g = np.zeros_like(a)
        np.add.at(g, key, w)
        return [g]
    run_case(backend, [x], [layout], np.float64, lambda t: t[cg_key()], lambda a: a[key], bwd)


@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(shape=shapes(2, 4, 1, 4), layout=st.sampled_from(LAYOUTS), data=st.data())
def test_shape_ops(backend, shape, layout, data):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = values_for(shape, np.float32, np.random.default_rng(8))
    run_case(backend, [x], [layout], np.float32,
             lambda t: t.permute(*perm).reshape(-1).view(-1, 1).squeeze(1).unsqueeze(0),
             lambda a: a.transpose(perm).reshape(1, -1),
             lambda w, a: [w.reshape(tuple(np.array(a.shape)[list(perm)])).transpose(
                 np.argsort(perm))])
    run_case(backend, [x], [layout], np.float32, lambda t: t.transpose(0, -1).flatten(),
             lambda a: np.swapaxes(a, 0, -1).reshape(-1),
             lambda w, a: [np.swapaxes(w.reshape(np.swapaxes(a, 0, -1).shape), 0, -1)])


@pytest.mark.parametrize("backend", BACKENDS)
@fuzz_settings
@given(shape=shapes(1, 3, 0, 4), layouts=st.tuples(st.sampled_from(LAYOUTS),
                                                   st.sampled_from(LAYOUTS)),
       stack=st.booleans(), data=st.data())
def test_cat_stack(backend, shape, layouts, stack, data):
    dim = data.draw(st.integers(0, len(shape) - (0 if stack else 1)))
    rng = np.random.default_rng(9)
    a, b = values_for(shape, np.float32, rng), values_for(shape, np.float32, rng)
    if stack:
        run_case(backend, [a, b], list(layouts), np.float32,
                 lambda x, y: cgrad.stack([x, y], dim), lambda x, y: np.stack([x, y], dim),
                 lambda w, x, y: list(np.moveaxis(w, dim, 0)))
    else:
        run_case(backend, [a, b], list(layouts), np.float32,
                 lambda x, y: cgrad.cat([x, y], dim), lambda x, y: np.concatenate([x, y], dim),
                 lambda w, x, y: np.split(w, [x.shape[dim]], axis=dim))


@pytest.fixture(autouse=True)
def _restore_backend():
    previous = cgrad.get_backend()
    yield
    cgrad.set_backend(previous)
