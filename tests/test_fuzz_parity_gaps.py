"""Gaps that a differential fuzz against PyTorch found, each checked against PyTorch on both
backends: second derivatives through the composed layers (pads, whole-tensor writes, conv
biases, pools, norms) and of pow at a zero base; the errors PyTorch raises (or does not)
for indexing, pads, pools, kthvalue/nanmedian; RMSprop with alpha=0; grad_fn names."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _np(t):
    return None if t is None else np.asarray((t.detach() + 0).numpy(), np.float64)


def _outcome(call, lib):
    """call(lib)'s result as plain values, or its exception's class and message"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = call(lib)
    except Exception as e:                 # noqa: BLE001 (the class is what is compared)
        return type(e).__name__, str(e).replace("torch.", "cgrad.")
    rs = r if isinstance(r, (tuple, list)) else (r,)
    return [(str(t.dtype).split(".")[-1], tuple(t.shape), _values(t)) for t in rs]


def _values(t):
    a = t.detach().numpy()
    return (a + 0 if a.dtype.kind == "f" else a).tolist()      # (+ 0: -0.0 as 0.0)


def _same_outcome(call):
    assert repr(_outcome(call, cgrad)) == repr(_outcome(call, torch))   # (repr: NaN == NaN)


# ---- 1. second derivatives -------------------------------------------------------------------
def _second_order(f, *arrays):
    """f(lib, *leaves)'s value, its first derivatives (create_graph) of sum(out^3) and the
    derivatives of the sum of their cubes, on cgrad and torch in float64: the same values,
    and None (no path) in the same places"""
    out = []
    for lib in (cgrad, torch):
        xs = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        y = f(lib, *xs)
        gs = lib.autograd.grad((y ** 3).sum(), xs, create_graph=True)
        hs = lib.autograd.grad(sum((g ** 3).sum() for g in gs), xs, allow_unused=True)
        out.append([_np(t) for t in (y, *gs, *hs)])
    for c, t in zip(*out):
        assert (c is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(c, t, rtol=1e-10, atol=1e-12)


def _fill(lib, x, key):
    """x written over all of a clone of zeros at key (PyTorch: a copy_ into a view covering
    it); the sine keeps the second derivative non-zero"""
    y = lib.zeros(x.shape, dtype=lib.float64).clone()
    y[key] = x.sin() * 2
    return y


def _pad(mode, pad):
    return lambda lib, x: lib.nn.functional.pad(x, pad, mode=mode)


RNG = np.random.default_rng(11)
SECOND_ORDER = {
    **{f"pad {mode} {k}d": (_pad(mode, pad), [shape]) for mode in
       ("reflect", "replicate", "circular", "constant") for k, pad, shape in
       [(1, (2, 1), (2, 3, 5)), (2, (1, 2, 2, 0), (1, 2, 4, 5)),
        (3, (1, 1, 0, 2, 1, 0), (1, 1, 3, 4, 3)), (2, (-1, 2, 1, -1), (1, 2, 4, 5))]},
    "setitem [:]": (lambda lib, x: _fill(lib, x, slice(None)), [(3, 4)]),
    "setitem [...]": (lambda lib, x: _fill(lib, x, Ellipsis), [(3, 4)]),
    "setitem [:, :]": (lambda lib, x: _fill(lib, x, (slice(None), slice(None))), [(3, 4)]),
    "setitem [-1:] of one row": (lambda lib, x: _fill(lib, x, slice(-1, None)), [(1, 4)]),
    "setitem over a clone of an input": (
        lambda lib, x, z: (lambda y: (y.__setitem__(slice(None), x.sin()), y)[1])(z.clone()),
        [(3, 4), (3, 4)]),
    "conv1d": (lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, padding=1),
               [(2, 3, 7), (4, 3, 3), (4,)]),
    "conv2d": (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, stride=2, padding=1),
               [(2, 3, 5, 5), (4, 3, 3, 3), (4,)]),
    "conv2d groups": (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, groups=2,
                                                                     dilation=2),
                      [(1, 4, 6, 6), (4, 2, 2, 2), (4,)]),
    "conv2d bias times itself": (
        lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b) * b.view(1, -1, 1, 1),
        [(2, 3, 4, 4), (4, 3, 3, 3), (4,)]),
    "conv_transpose1d": (lambda lib, x, w, b: lib.nn.functional.conv_transpose1d(x, w, b, 2),
                         [(1, 2, 4), (2, 3, 2), (3,)]),
    "max_pool1d": (lambda lib, x: lib.nn.functional.max_pool1d(x, 3, 2, 1), [(2, 3, 8)]),
    "max_pool2d": (lambda lib, x: lib.nn.functional.max_pool2d(x, 2, ceil_mode=True),
                   [(2, 3, 5, 5)]),
    "avg_pool1d": (lambda lib, x: lib.nn.functional.avg_pool1d(x, 3, 2, 1), [(2, 3, 8)]),
    "avg_pool2d": (lambda lib, x: lib.nn.functional.avg_pool2d(
        x, 3, 2, 1, count_include_pad=False), [(2, 3, 6, 6)]),
    "adaptive_avg_pool1d": (lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x, 3),
                            [(2, 3, 7)]),
    "adaptive_avg_pool2d": (lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
                            [(2, 3, 5, 7)]),
    "batch_norm train": (lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, None, None, w, b, training=True), [(4, 3, 5), (3,), (3,)]),
    "batch_norm eval": (lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, lib.tensor([0.1, -0.2, 0.3], dtype=lib.float64),
        lib.tensor([0.5, 1.5, 2.0], dtype=lib.float64), w, b), [(4, 3, 5), (3,), (3,)]),
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 5), w, b),
                   [(4, 3, 5), (3, 5), (3, 5)]),
    "layer_norm without affine": (lambda lib, x: lib.nn.functional.layer_norm(x, (5,)),
                                  [(4, 3, 5)]),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_second_derivatives_through_layers_match_torch(backend, name):
    f, shapes = SECOND_ORDER[name]
    _second_order(f, *[RNG.standard_normal(s) for s in shapes])


ZERO_BASE = np.array([0.0, -0.0, 1.5, -2.0])


@pytest.mark.parametrize("e", [0, 1, 2, 3, 0.5, 1.5, 2.5, -1, -0.5, 0.0, 2.0])
def test_pow_derivatives_at_a_zero_base_match_torch(backend, e):
    """x ** e to the third derivative at x = 0 and -0 (NaN where PyTorch has NaN)"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(ZERO_BASE, dtype=lib.float64, requires_grad=True)
        g = x ** e
        values = [_np(g)]
        for _ in range(3):
            if not g.requires_grad:                 # a constant (e = 0 or 1): as PyTorch's
                break
            g, = lib.autograd.grad(g.sum(), x, create_graph=True)
            values.append(_np(g))
        out.append(values)
    assert len(out[0]) == len(out[1])
    for c, t in zip(*out):
        np.testing.assert_allclose(c, t, rtol=1e-12)


@pytest.mark.parametrize("e", [0.0, 2.0, 0.5, -1.0])
def test_pow_with_a_tensor_exponent_at_a_zero_base_matches_torch(backend, e):
    """PyTorch's exponent gradient is g * where(x == 0 & e >= 0, 0, y * log x): a NaN g stays
    NaN there, which the second derivative reaches (0 * log 0); base and exponent both
    tensors, and a number base of 0 (0 ** p)"""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([0.0, 2.0], dtype=lib.float64, requires_grad=True)
        p = lib.tensor([e, 1.5], dtype=lib.float64, requires_grad=True)
        gx, gp = lib.autograd.grad((x ** p).sum(), [x, p], create_graph=True)
        h = lib.autograd.grad((gx * gx).sum() + (gp * gp).sum(), [x, p])
        gq, = lib.autograd.grad((0.0 ** p).sum(), p, create_graph=True)
        hq, = lib.autograd.grad((gq * gq).sum(), p)
        (x.detach() ** p).backward(lib.tensor([float("nan"), 1.0], dtype=lib.float64))
        out.append([_np(t) for t in (gx, gp, *h, gq, hq, p.grad)])
    for c, t in zip(*out):
        np.testing.assert_allclose(c, t, rtol=1e-12)


@pytest.mark.parametrize("shape, size", [((1, 2, 4, 4), (0, 2)), ((2, 4, 4), (2, 0)),
                                         ((1, 0, 4, 4), (2, 2)), ((3, 4), 0),
                                         ((0, 4, 4), (2, 2)), ((1, 0, 4, 4), 1)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_adaptive_avg_pool_backward_of_an_empty_output_as_torch(backend, shape, size,
                                                                 create_graph):
    """PyTorch's backward refuses a gradient with an empty non-batch dim (its forward gives
    the empty result); an empty batch, or the mean of output size 1, passes"""
    def call(lib):
        x = lib.ones(*shape, requires_grad=True)
        F = lib.nn.functional
        y = F.adaptive_avg_pool1d(x, size) if len(shape) == 2 else \
            F.adaptive_avg_pool2d(x, size)
        g, = lib.autograd.grad(y.sum(), x, create_graph=create_graph)
        assert g.requires_grad == create_graph
        return y, g
    _same_outcome(call)


# ---- 2. indexing: PyTorch's checks and messages ------------------------------------------------
INDEX_KEYS = [
    "3:2, [2]", "3:2, [5]", "[7], 2:1", "3:2, [2], [9]", "[5], []", "[0], False",
    "1:1, [0], [9]",                         # empty results: PyTorch checks no index
    "[5]", "5", "-5", ":, 5", ":, [5]", "1, [5]", "[0, 1], [0, 5]", "..., [5]", "None, [5]",
    "None, 1, None, 7", "[1], 5", "5, [9]", "[[5], [1]], [[0, 1]]", "[5, 1], [0]",
    "[0], None, [9]", "[True, False, True]", ":, [True, False, True]", "0:1, [True, False]",
    "[1, 2], [0, 1, 0]", "0, 0, 0", "..., 5", "[0, 1], :, [0, 1]"]


@pytest.mark.parametrize("shape", [(3, 2), (4, 2, 3), (0, 2), (2, 0, 3)])
def test_index_errors_and_empty_results_as_torch(backend, shape):
    """x[key] and x[key] = 1: PyTorch's IndexError (its dim: an int's position in the key,
    an index array's place among the arrays), or its result where it checks nothing"""
    for key in INDEX_KEYS:
        def get(lib):
            x = lib.arange(int(np.prod(shape)), dtype=lib.float32).reshape(shape)
            return x[eval(f"np.s_[{key}]")]

        def put(lib):
            x = lib.arange(int(np.prod(shape)), dtype=lib.float32).reshape(shape)
            x[eval(f"np.s_[{key}]")] = -1.0
            return x
        _same_outcome(get)
        _same_outcome(put)


def test_index_errors_of_0d_tensors_as_torch(backend):
    for key in (0, [0], (None, 0), (Ellipsis, 0), True, None):
        _same_outcome(lambda lib: lib.zeros(())[key])


def _random_key(rng):
    """1 to 3 items: ints and index arrays partly out of range, slices, None, Ellipsis, masks of
    any shape, Python bools"""
    items = []
    for _ in range(rng.integers(1, 4)):
        kind = rng.integers(0, 8)
        if kind == 0:
            items.append(int(rng.integers(-4, 5)))
        elif kind == 1:
            items.append(slice(*(int(v) for v in rng.integers([-3, -3, 1], [4, 5, 3]))))
        elif kind in (2, 3):
            items.append(None if kind == 2 else Ellipsis)
        elif kind in (4, 5):
            items.append(rng.integers(-4, 5, size=tuple(rng.integers(0, 3, rng.integers(1, 3)))))
        elif kind == 6:
            items.append(rng.random(tuple(rng.integers(0, 4, rng.integers(1, 3)))) < 0.5)
        else:
            items.append(bool(rng.integers(0, 2)))
    if sum(k is Ellipsis for k in items) > 1:       # (PyTorch takes several, NumPy one)
        items = [k for k in items if k is not Ellipsis]
    return items


@pytest.mark.parametrize("seed", range(4))
def test_random_indexing_matches_torch(backend, seed):
    """a differential fuzz of x[key] and x[key] = -1: the same values or the same error"""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        shape = tuple(int(s) for s in rng.integers(0, 4, rng.integers(0, 4)))
        items = _random_key(rng)

        def key(lib):
            return tuple(lib.tensor(k) if isinstance(k, np.ndarray) else k for k in items)

        def get(lib):
            return lib.arange(int(np.prod(shape)), dtype=lib.float32).reshape(shape)[key(lib)]

        def put(lib):
            x = lib.arange(int(np.prod(shape)), dtype=lib.float32).reshape(shape)
            x[key(lib)] = -1.0
            return x
        _same_outcome(get)
        _same_outcome(put)


# ---- 2. pads and pools: PyTorch's errors, or its result ----------------------------------------
def _pad_defined(shape, pad, mode):
    """whether PyTorch's result is defined by the input: its circular pad wraps by copying
    within its output, so a wrap longer than what the crop kept reads memory it never wrote"""
    if mode != "circular":
        return True
    pairs = [pad[2 * i:2 * i + 2] for i in range(len(pad) // 2)]
    kept = [shape[-1 - i] + min(a, 0) + min(b, 0) for i, (a, b) in enumerate(pairs)]
    return all(m > 0 and max(a, b) <= m for m, (a, b) in zip(kept, pairs))


@pytest.mark.parametrize("seed", range(3))
def test_random_reflect_replicate_circular_pads_match_torch(backend, seed):
    """a differential fuzz of F.pad's non-constant modes with negative pads: the same error,
    or the same shape (and values, where PyTorch's are defined)"""
    rng = np.random.default_rng(seed)
    for t in range(300):
        mode = ("reflect", "replicate", "circular")[t % 3]
        k = int(rng.integers(1, 4))
        shape = tuple(int(s) for s in rng.integers(0 if t % 7 == 0 else 1, 4,
                                                     k + int(rng.integers(1, 3))))
        pad = tuple(int(p) for p in rng.integers(-3, 4, 2 * k))
        if mode == "reflect" and 0 in shape and min(
                n + a + b for n, a, b in zip(shape[::-1], pad[::2], pad[1::2])) < 0:
            continue                  # (PyTorch makes an empty tensor of a negative size)

        def call(lib):
            x = lib.arange(float(np.prod(shape))).reshape(shape)
            return lib.nn.functional.pad(x, pad, mode=mode)
        got, want = _outcome(call, cgrad), _outcome(call, torch)
        if isinstance(want, list) and not _pad_defined(shape, pad, mode):
            got, want = [r[:2] for r in got], [r[:2] for r in want]
        assert got == want, (mode, shape, pad)


@pytest.mark.parametrize("shape, pad", [((1, 1, 1), (-1, 1)), ((1, 1, 1), (1, -1)),
                                        ((2, 1, 2), (-2, 1)), ((1, 3, 2), (1, -2, 1, 1))])
def test_circular_pad_of_nothing_kept_gives_zeros_without_gradient(backend, shape, pad):
    """where the crop keeps nothing to wrap, PyTorch's output is never written (and no
    gradient reaches the input); cgrad gives zeros (it raised NumPy's IndexError)"""
    x = cgrad.ones(*shape, requires_grad=True)
    y = cgrad.nn.functional.pad(x, pad, mode="circular")
    t = torch.nn.functional.pad(torch.ones(*shape), pad, mode="circular")
    assert y.shape == t.shape and not y.detach().numpy().any()
    y.sum().backward()
    assert x.grad is not None and not x.grad.numpy().any()


@pytest.mark.parametrize("call", [
    "F.avg_pool1d(lib.ones(1, 2, 0), 1)", "F.avg_pool1d(lib.ones(2, 0), 1)",
    "F.avg_pool1d(lib.ones(1, 0, 3), 1)", "F.avg_pool1d(lib.ones(0, 2, 3), 1)",
    "F.avg_pool2d(lib.ones(1, 2, 0, 3), 1)", "F.avg_pool2d(lib.ones(0, 2, 3), 1)",
    "F.max_pool1d(lib.ones(1, 2, 0), 1, return_indices=True)",
    "F.max_pool2d(lib.ones(1, 2, 3, 0), 1)",
    "F.max_pool1d(lib.arange(6).reshape(1, 2, 3), 2)",
    "F.max_pool1d(lib.arange(6, dtype=lib.uint8).reshape(2, 3), 2)",
    "F.max_pool1d(lib.ones(1, 2, 3, dtype=lib.bool), 2)",
    "nn.MaxPool1d(2)(lib.arange(6, dtype=lib.int32).reshape(1, 2, 3))",
    "F.max_pool1d(lib.arange(6).reshape(1, 2, 3), 2, return_indices=True)",
    "F.max_pool1d(lib.ones(1, 2, 0, requires_grad=True), 1)",
    "F.max_pool1d(lib.ones(1, 2, 3, dtype=lib.float64), 2, padding=2)"])
def test_pool_errors_of_empty_and_integer_inputs_as_torch(backend, call):
    """an empty non-batch dim: PyTorch's shape check; max_pool1d without indices runs a
    float-only kernel (integer inputs raise), with indices its 2-d one (they pass)"""
    _same_outcome(lambda lib: eval(call, {"lib": lib, "F": lib.nn.functional, "nn": lib.nn}))


# ---- 2. kthvalue / median / nanmedian of bool, 0-d and empty inputs -----------------------------
@pytest.mark.parametrize("dtype", ["bool", "int64", "float32"])
def test_kthvalue_and_medians_of_bool_0d_and_empty_inputs_as_torch(backend, dtype):
    """PyTorch handles a 0-d input (kthvalue: its element) and an empty one (NaN, or an empty
    reduction dim's IndexError) before its kernels refuse bool"""
    for shape in [(), (0,), (2, 0), (0, 3), (2, 3)]:
        data = (np.arange(int(np.prod(shape))) % 3 == 1).reshape(shape)
        for op in ["kthvalue(1)", "kthvalue(1, 0)", "kthvalue(2, -1, True)", "median()",
                   "nanmedian()", "median(0)", "nanmedian(-1, True)", "nanmedian(1)"]:
            _same_outcome(lambda lib: eval(f"lib.tensor(data, dtype=lib.{dtype}).{op}",
                                           {"lib": lib, "data": data}))


# ---- 2. RMSprop with alpha = 0 -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum, eps, maximize", [(0.0, 1e-8, False), (0.9, 1e-8, True),
                                                     (0.0, 0.0, False)])
def test_rmsprop_with_alpha_zero_matches_torch(backend, dtype, centered, momentum, eps,
                                               maximize):
    """alpha = 0: the averages are the last gradient, and centered, s - a a = g g - g g is
    left to the rounding of PyTorch's fused multiply-add (NaN where it is negative, a huge
    step where positive): 5 steps as PyTorch's"""
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal((3, 5)).astype(dtype)
    grads = [rng.standard_normal((3, 5)).astype(dtype) for _ in range(5)]
    grads[2][0, :2] = 0.0
    out = []
    for lib in (cgrad, torch):
        p = lib.tensor(p0.copy(), requires_grad=True)
        opt = lib.optim.RMSprop([p], lr=0.01, alpha=0.0, eps=eps, momentum=momentum,
                                centered=centered, maximize=maximize)
        for g in grads:
            p.grad = lib.tensor(g.copy())
            opt.step()
        out.append(p.detach().numpy().copy())
    np.testing.assert_array_equal(np.isnan(out[0]), np.isnan(out[1]))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5)


# ---- 2. F.linear as PyTorch dispatches it ------------------------------------------------------
LINEAR_SHAPES = [((2, 3), (4, 3), (4,)), ((3,), (4, 3), (4,)), ((5, 2, 3), (4, 3), (4,)),
                 ((2, 3), (4, 3), None), ((3,), (3,), ()), ((2, 3), (3,), None),
                 ((5, 2, 3), (3,), ()), ((3,), (3,), (1,)), ((2, 3), (3,), ()),
                 ((2, 3), (4, 3), (2, 4)), ((2, 3), (4, 3), (1,)), ((3,), (4, 3), (1, 4)),
                 ((5, 2, 3), (4, 3), (2, 4)), ((2, 3), (4, 3), (3, 4)),
                 ((5, 2, 3), (4, 3), (1, 1, 4)), ((), (4, 3), None)]
LINEAR_DTYPES = [("float64",) * 3, ("float32", "float64", "float32"),
                 ("float32", "float32", "float64"), ("float32", "float64", "float64"),
                 ("int64",) * 3, ("bool",) * 3]


@pytest.mark.parametrize("dtypes", LINEAR_DTYPES, ids="-".join)
def test_linear_results_errors_and_gradients_as_torch(backend, dtypes):
    """a 2-D input, or a bias of one dim after squeeze, takes PyTorch's addmm (its dtype,
    matrix and expand errors; the bias broadcast to the rows), anything else matmul and an
    in-place add (a 1-D weight too: it raised IndexError); values, dtypes and gradients"""
    for shapes in LINEAR_SHAPES:
        _linear_as_torch(shapes, dtypes)


def _linear_as_torch(shapes, dtypes):
    (xs, ws, bs), (xd, wd, bd) = shapes, dtypes

    def call(lib):
        x = lib.arange(1.0, 1 + int(np.prod(xs))).reshape(xs).to(getattr(lib, xd))
        w = (lib.arange(float(np.prod(ws))).reshape(ws) - 2).to(getattr(lib, wd))
        b = None if bs is None else (lib.arange(float(np.prod(bs))) * 0.5).reshape(bs).to(
            getattr(lib, bd))
        leaves = [t for t in (x, w, b) if t is not None and t.dtype == lib.float64]
        for t in leaves:
            t.requires_grad_()
        y = lib.nn.functional.linear(x, w, b)
        if leaves:
            (y * y).sum().backward()
        return [y] + [t.grad for t in leaves]
    _same_outcome(call)


# ---- 3. grad_fn names --------------------------------------------------------------------------
def _non_leaf(lib, *shape):
    return lib.ones(*shape, requires_grad=True) * 2


def _written(lib, key, value, shape=(1, 4)):
    y = _non_leaf(lib, *shape)
    y[key] = value(lib) if callable(value) else value
    return y


GRAD_FN_NAMES = {
    "zero_": lambda lib: _non_leaf(lib, 3).zero_(),
    "fill_ number": lambda lib: _non_leaf(lib, 3).fill_(2.0),
    "fill_ 0-d tensor": lambda lib: _non_leaf(lib, 3).fill_(lib.tensor(2.0)),
    "addcmul_": lambda lib: _non_leaf(lib, 3).addcmul_(lib.ones(3), lib.ones(3), value=2),
    "addcdiv_": lambda lib: _non_leaf(lib, 3).addcdiv_(_non_leaf(lib, 3), lib.ones(3)),
    "set [-1:] of 1 row": lambda lib: _written(lib, slice(-1, None), 1.0),
    "set [-5:] of 1 row": lambda lib: _written(lib, slice(-5, None), lambda lib: lib.ones(4)),
    "set [:, -9:9]": lambda lib: _written(lib, (slice(None), slice(-9, 9)), 1.0),
    "set [0:5] of 1 row": lambda lib: _written(lib, slice(0, 5), 1.0),
    "get [-1:] of 1 row": lambda lib: _non_leaf(lib, 1, 4)[-1:],
    "batch_norm train": lambda lib: lib.nn.functional.batch_norm(
        lib.ones(4, 3, requires_grad=True), None, None, lib.ones(3), lib.ones(3), training=True),
    "batch_norm eval": lambda lib: lib.nn.BatchNorm2d(3).eval()(lib.ones(2, 3, 2, 2)),
    "layer_norm": lambda lib: lib.nn.functional.layer_norm(lib.ones(4, 3, requires_grad=True),
                                                           (3,)),
    "LayerNorm": lambda lib: lib.nn.LayerNorm(3)(lib.ones(4, 3)),
    "pad constant": lambda lib: lib.nn.functional.pad(lib.ones(2, 3, requires_grad=True),
                                                      (1, -1, 1, 0), value=2.0),
    "ZeroPad2d": lambda lib: lib.nn.ZeroPad2d(1)(lib.ones(1, 2, 3, requires_grad=True)),
    "pad circular": lambda lib: lib.nn.functional.pad(lib.ones(1, 2, 3, requires_grad=True),
                                                      (1, 1), mode="circular"),
}


def test_grad_fn_names_as_torch(backend):
    """in-place fills and addcmul_/addcdiv_ on non-leaves; a slice whose start is not 0 as
    given slices (a view, CopySlices) though it covers the dim after clamping; the norms'
    and the constant pad's fused nodes; circular pads written by slices"""
    for name, f in GRAD_FN_NAMES.items():
        got, want = (f(lib).grad_fn.name().replace("torch::autograd::", "")
                     for lib in (cgrad, torch))
        assert got == want, name


def test_batch_norm_refuses_running_statistics_that_require_grad(backend):
    for training, which in ((False, "m"), (False, "v"), (True, "m"), (True, "both")):
        def call(lib):
            m = lib.zeros(3, requires_grad=which in ("m", "both"))
            v = lib.ones(3, requires_grad=which in ("v", "both"))
            return lib.nn.functional.batch_norm(lib.ones(4, 3), m, v, training=training)
        _same_outcome(call)
    with cgrad.no_grad():                   # (PyTorch checks only where it would record)
        cgrad.nn.functional.batch_norm(cgrad.ones(4, 3), cgrad.zeros(3, requires_grad=True),
                                       cgrad.ones(3))


# ---- 2. other NumPy wording that reached users -------------------------------------------------
@pytest.mark.parametrize("call", [
    "lib.ones(3, 2).masked_select(lib.tensor([True, False, True]))",
    "lib.ones(3, 2).masked_fill(lib.tensor([True, False, True]), 1.0)",
    "lib.ones(2, 3).sum((1, 0, -1))", "lib.ones(2, 3).std((0, -2))",
    "lib.ones(1, 1, 4).expand(10, 4)", "lib.ones(3, 2, dtype=lib.bool).expand(2)",
    "lib.ones(3, 2).expand(4, 3, 2, 5)",
    "lib.zeros(0).reshape(2, 0, -1)", "lib.zeros(0, 3).view(0, -1)",     # (the -1 ambiguous)
    "lib.zeros(3).reshape(0, -1)",
    *(f"lib.special.{name}(lib.ones(2, 3), lib.ones(3, 1, 2))" for name in
      ("xlogy", "xlog1py", "zeta", "gammainc", "gammaincc")),
    "lib.special.xlogy(lib.ones(2, 3), lib.ones(1, 2))",
    "lib.ones(2, 3, dtype=lib.int64).floor_divide_(lib.zeros(2, 2, dtype=lib.int64))",
    "lib.ones(2, 3, dtype=lib.int64).fmod(lib.zeros(2, 2, dtype=lib.int64))",
    "lib.special.gammaincc(lib.ones(1, 3, dtype=lib.int64), lib.ones(0, 0, dtype=lib.int64))",
    "lib.index_put(lib.zeros(3, 2), (lib.tensor([0, 1, 2]),), lib.ones(3), accumulate=True)",
    "lib.zeros(2, 3, 2).index_put_((lib.tensor([0, 1, 1]), lib.tensor([0, 2, 2])), lib.ones(3),"
    " accumulate=True)"])
def test_errors_worded_as_torch(backend, call):
    """the class and PyTorch's message; masked_select, special's binary functions and index_put with accumulate raised
    NumPy's ValueError; gammaincc of integers that do not broadcast, the dtype error first"""
    (c_kind, c_msg), (t_kind, t_msg) = (_outcome(lambda lib: eval(call, {"lib": lib}), lib)
                                        for lib in (cgrad, torch))
    assert c_kind == t_kind and c_msg == t_msg


# ---- 4. a second fuzz: recent top-level functions and torch.special ---------------------------
def _renorm_grads(lib, p):
    """renorm's value and gradient where a slice holds nan or zeros (left unscaled, its
    gradient the upstream one) and where one is scaled"""
    x = lib.tensor([[0.0, 0.0], [1.0, float("nan")], [3.0, 4.0]], dtype=lib.float64,
                   requires_grad=True)
    y = lib.renorm(x, p, 0, 2.0)
    (y * lib.arange(6.0, dtype=lib.float64).reshape(3, 2)).sum().backward()
    return [y, x.grad]


def _softmax_0d(lib, f):
    x = lib.tensor(2.0, requires_grad=True)
    y = f(lib, x)
    (y * 3).backward()
    return [y, x.grad]


def _ints(lib, f):
    m, v = lib.tensor([[1, 2], [3, 4]]), lib.tensor([1, -1])
    return f(lib, lib.tensor([5, 6]), m, v)


@pytest.mark.parametrize("p", [1, 2, 3.5, float("inf")])
def test_renorm_gradient_at_nan_and_zero_slices_as_torch(backend, p):
    """the norm of a slice left unscaled is not differentiated: its gradient was nan there"""
    for c, t in zip(*(_renorm_grads(lib, p) for lib in (cgrad, torch))):
        np.testing.assert_allclose(_np(c), _np(t), rtol=1e-12, atol=1e-14)


def _moments(lib, f, correction, shape):
    """f's values, first derivatives and (create_graph) second derivatives over dim 1"""
    x = (lib.arange(float(np.prod(shape)), dtype=lib.float64) * 0.7 + 1.5).reshape(shape)
    x.requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # (PyTorch warns: dof <= 0)
        r = getattr(lib, f)(x, 1, correction=correction)
    r = r if isinstance(r, tuple) else (r,)
    d, = lib.autograd.grad(sum(((i + 2) * t).sum() for i, t in enumerate(r)), x,
                           retain_graph=True)
    g, = lib.autograd.grad(sum(((i + 2) * t * t).sum() for i, t in enumerate(r)), x,
                           create_graph=True)
    h, = lib.autograd.grad((g * g).sum(), x)
    return [_np(t) for t in (*r, d, g, h)]


@pytest.mark.parametrize("f", ["var", "std", "var_mean", "std_mean"])
def test_var_std_derivatives_where_the_correction_reaches_n_as_torch(backend, f):
    """the backward divides by n - correction unclamped, as PyTorch's: a correction above n
    gave nan gradients where PyTorch's are 0 (and finite)"""
    for shape in ((1, 1), (1, 2), (2, 3)):
        for correction in (0, 1, 2, 3):
            for c, t in zip(*(_moments(lib, f, correction, shape) for lib in (cgrad, torch))):
                np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-14)


def _logit_grad(lib, eps):
    x = lib.tensor([0.0, 0.3, 0.5, 0.7, 1.0], requires_grad=True)
    y = lib.special.logit(x, eps=eps)
    (y * lib.arange(5.0)).sum().backward()
    return [y, x.grad]


@pytest.mark.parametrize("eps", [0.6, 0.5, 0.25, 0.0])
def test_logit_clamps_as_torch_also_with_eps_above_a_half(backend, eps):
    """x < eps -> eps, else x > 1 - eps -> 1 - eps: NumPy's clip gave 1 - eps throughout"""
    for c, t in zip(*(_logit_grad(lib, eps) for lib in (cgrad, torch))):
        np.testing.assert_allclose(_np(c), _np(t), rtol=1e-6)


SECOND_FUZZ = {
    **{f"{name} of 0-d": (lambda lib, f=f: _softmax_0d(lib, f)) for name, f in [
        ("softmax", lambda lib, x: x.softmax(0)),
        ("log_softmax", lambda lib, x: lib.log_softmax(x, -1)),
        ("special.softmax", lambda lib, x: lib.special.softmax(x, 0)),
        ("special.log_softmax", lambda lib, x: lib.special.log_softmax(x, 0))]},
    **{f"integer {name}": (lambda lib, f=f: _ints(lib, f)) for name, f in [
        ("addmv alpha=0.5", lambda lib, i, m, v: lib.addmv(i, m, v, alpha=0.5)),
        ("addmv beta=0.5", lambda lib, i, m, v: lib.addmv(i, m, v, beta=0.5)),
        ("addmm alpha=1.5", lambda lib, i, m, v: lib.addmm(i, m, m, alpha=1.5)),
        ("baddbmm alpha=0.5", lambda lib, i, m, v: lib.baddbmm(i, m[None], m[None], alpha=0.5)),
        ("addbmm beta=2.5", lambda lib, i, m, v: lib.addbmm(i, m[None], m[None], beta=2.5)),
        ("addr beta=1.5", lambda lib, i, m, v: lib.addr(m, i, v, beta=1.5)),
        ("addr alpha=0.5", lambda lib, i, m, v: lib.addr(m, i, v, alpha=0.5))]},
    "special.gammainc of ints": lambda lib: lib.special.gammainc(lib.tensor([1, 2]),
                                                                 lib.tensor([2, 3])),
    "special.gammaincc of bool and int32": lambda lib: lib.special.gammaincc(
        lib.tensor([True]), lib.tensor([2], dtype=lib.int32)),
    "special.gammainc of int and float": lambda lib: lib.special.gammainc(
        lib.tensor([1, 2]), lib.tensor([2.0, 3.0])),
    "searchsorted of no rows": lambda lib: lib.searchsorted(lib.zeros(0, 2), lib.zeros(0, 1)),
    "searchsorted of no values": lambda lib: lib.searchsorted(lib.zeros(0, 4), lib.zeros(0, 0)),
    "searchsorted of empty rows": lambda lib: lib.searchsorted(
        lib.zeros(2, 0), lib.ones(2, 3), out_int32=True),
    "unique of 0-d along a dim": lambda lib: lib.unique(lib.tensor(1.0), dim=-1),
    "unique_consecutive of 0-d along a dim": lambda lib: lib.unique_consecutive(
        lib.tensor(1.0), dim=0),
    "unique along a dim not the empty one": lambda lib: lib.unique(lib.zeros(2, 0), dim=0),
    "unique with two empty dims": lambda lib: lib.unique(lib.zeros(0, 2, 0), dim=0),
    "unique_consecutive along a dim not the empty one": lambda lib: lib.unique_consecutive(
        lib.zeros(0, 2, 0), dim=1),
    "unique along the empty dim": lambda lib: lib.unique(
        lib.zeros(0, 2), dim=0, return_inverse=True, return_counts=True),
    "nanmean of ints": lambda lib: lib.nanmean(lib.tensor([1, 2])),
    "nanmean of bools": lambda lib: lib.tensor([True]).nanmean(),
    "index_add with alpha, index out of range": lambda lib: lib.zeros(2, 2).index_add(
        0, lib.tensor([-1, 0]), lib.ones(2, 2), alpha=2),
    "index_add with alpha, index too big": lambda lib: lib.zeros(2, 2).index_add(
        1, lib.tensor([2, 0]), lib.ones(2, 2), alpha=2),
    "index_add without alpha, index out of range": lambda lib: lib.zeros(2, 2).index_add(
        0, lib.tensor([-1, 0]), lib.ones(2, 2)),
    "sum_to_size of a 0-d bool": lambda lib: lib.tensor(True).sum_to_size(()),
    "sum_to_size of a bool, no dim summed": lambda lib: lib.tensor([True, False]).sum_to_size(2),
    **{f"integer {name} by a zero, nothing computed": (lambda lib, f=f: f(
        lib.zeros(2, 0, dtype=lib.int64), lib.zeros(1, dtype=lib.int64))) for name, f in [
        ("%", lambda x, z: x % z), ("//", lambda x, z: x // z), ("fmod", lambda x, z: x.fmod(z)),
        ("fmod by 0", lambda x, z: x.fmod(0)),
        ("div trunc", lambda x, z: x.div(z, rounding_mode="trunc"))]},
    "integer % by a zero": lambda lib: lib.tensor([5, 3]) % lib.tensor([2, 0]),
    "integer fmod by a zero": lambda lib: lib.tensor([5, 3]).fmod(lib.tensor([2, 0])),
    "trapezoid of 0-d": lambda lib: lib.trapezoid(lib.tensor(1.0)),
    "trapezoid of 0-d, dx and dim 0": lambda lib: lib.trapezoid(lib.tensor(1.0), dx=2.0, dim=0),
    "cumulative_trapezoid of 0-d": lambda lib: lib.cumulative_trapezoid(lib.tensor(1.0)),
    "trapezoid of bools": lambda lib: lib.trapezoid(lib.ones(3, dtype=lib.bool), dx=2),
    "trapezoid of bools over a dim not empty": lambda lib: lib.trapezoid(
        lib.ones(3, 0, dtype=lib.bool), dim=0),
    "trapezoid of bools over nothing": lambda lib: lib.trapezoid(lib.ones(3, 0, dtype=lib.bool)),
    "trapezoid of bools with x": lambda lib: lib.trapezoid(lib.ones(3, dtype=lib.bool),
                                                           lib.arange(2.0)),
    "cumulative_trapezoid of no bools": lambda lib: lib.cumulative_trapezoid(
        lib.ones(1, 0, dtype=lib.bool)),
    "take from nothing": lambda lib: lib.take(lib.zeros(0, 3), lib.tensor([0])),
    "put into nothing": lambda lib: lib.zeros(0).put(lib.tensor([0]), lib.ones(1)),
    "put nothing into nothing": lambda lib: lib.zeros(0).put(lib.tensor([], dtype=lib.int64),
                                                             lib.ones(0)),
    "var_mean of ints": lambda lib: lib.var_mean(lib.tensor([1, 2])),
    "std_mean of ints": lambda lib: lib.std_mean(lib.tensor([1, 2]), 0),
    "searchsorted of a number in rows": lambda lib: lib.searchsorted(lib.zeros(2, 2), 0.5),
    "searchsorted of a 0-d tensor in rows": lambda lib: lib.searchsorted(lib.zeros(2, 2),
                                                                         lib.tensor(0.5)),
    "trapezoid of nothing, ints": lambda lib: lib.trapezoid(lib.ones(3, 0, dtype=lib.int64)),
    "trapezoid of nothing, bools": lambda lib: lib.trapezoid(lib.ones(3, 0, dtype=lib.bool)),
    "bincount of nothing with weights": lambda lib: lib.bincount(
        lib.zeros(0, dtype=lib.int64), lib.zeros(0), minlength=2),
    "polygamma of a float order": lambda lib: lib.polygamma(1.5, lib.tensor([2.0])),
    "special.polygamma of a bool order": lambda lib: lib.special.polygamma(True,
                                                                           lib.tensor([2.0])),
    "polygamma_ of a float order": lambda lib: lib.tensor([2.0]).polygamma_(1.0),
    "histogram of nan": lambda lib: lib.histogram(lib.tensor([float("nan"), 1.0]), bins=2),
    "histogram of inf": lambda lib: lib.histogram(lib.tensor([float("inf"), 1.0]), bins=2),
    "histogram over an infinite range": lambda lib: lib.histogram(
        lib.tensor([1.0]), bins=2, range=(-float("inf"), 1.0)),
}


@pytest.mark.parametrize("name", list(SECOND_FUZZ))
def test_second_fuzz_gaps_match_torch(backend, name):
    """values, gradients, dtypes, or the error's class and message, as PyTorch's: softmax of
    a 0-d tensor had shape [1]; integer addmm-family scalars were not truncated (the results
    float); gammainc took integers; searchsorted
    crashed on empty batches; unique's dim errors were NumPy's AxisError (or no error);
    nanmean's was NotImplementedError; histogram took a range that is not finite; index_add
    with alpha raised RuntimeError for an index out of range; sum_to_size(()) kept a bool;
    integer division by a zero raised where no element is computed; trapezoid of a 0-d tensor
    and take/put with an empty tensor, var_mean/std_mean of integers and searchsorted of a
    number in rows raised with Python's or other functions' messages; trapezoid and bincount
    of nothing had float dtypes where PyTorch's keep the input's (int64 for bincount);
    polygamma took a float or bool order; trapezoid and cumulative_trapezoid took bools"""
    _same_outcome(SECOND_FUZZ[name])


# ---- 5. checks in PyTorch's order: in-place casts, histc, gaussian_nll_loss, conv 'same' -------
_DTYPES = ["int64", "int32", "uint8", "bool", "float32", "float64"]


def _others(lib, dtype):
    """the second operand: a tensor of dtype, or a Python number"""
    numbers = {"int": 2, "float": 2.5, "bool": True}
    return numbers[dtype] if dtype in numbers else lib.tensor([1, 1, 2]).to(getattr(lib,
                                                                                    dtype))


def _same_error_or_dtype(call):
    """the same exception class and message, or results of the same dtypes and shapes"""
    got, want = (_outcome(call, lib) for lib in (cgrad, torch))
    if isinstance(got, tuple) or isinstance(want, tuple):
        assert got == want
    else:
        assert [r[:2] for r in got] == [r[:2] for r in want]


@pytest.mark.parametrize("op", ["bitwise_and_", "bitwise_or_", "bitwise_xor_",
                                "bitwise_left_shift_", "bitwise_right_shift_", "__iand__",
                                "__ilshift__", "__irshift__", "hypot_", "hypot", "ldexp_",
                                "atan2_", "nextafter_"])
def test_in_place_casts_before_kernel_dtypes_as_torch(backend, op):
    """an in-place op whose result's dtype self cannot hold raises PyTorch's cast error
    before its kernel refuses a dtype (int &= float, bool.hypot_(int)); a number where a
    method takes only tensors is named at the method's position (self not counted)"""
    for a in _DTYPES:
        for b in _DTYPES + ["int", "float", "bool"]:
            if op == "ldexp_" and a.startswith("float") and b == "bool":
                continue        # (PyTorch's ldexp refuses a bool exponent there: cgrad not)
            _same_error_or_dtype(lambda lib: getattr(lib.tensor([1, 2, 3]).to(
                getattr(lib, a)), op)(_others(lib, b)))


@pytest.mark.parametrize("name", ["hypot", "fmax", "logaddexp", "nextafter", "gcd",
                                  "heaviside", "atan2", "maximum"])
def test_number_arguments_named_at_torch_positions(backend, name):
    for call in (lambda lib: getattr(lib.ones(2), name)(2),
                 lambda lib: getattr(lib, name)(lib.ones(2), 2),
                 lambda lib: getattr(lib, name)(2, lib.ones(2))):
        _same_outcome(call)


@pytest.mark.parametrize("dtype", _DTYPES + ["int8"])
def test_histc_checks_in_torch_order(backend, dtype):
    """bins, then the range, then the bin edges (a linspace in the input's dtype: none for
    bool, an integer dtype must hold both ends), then the kernel's dtypes"""
    for values in ([1, 2, 3], [], [0, 0], [-128, -128]):
        for kwargs in ({"bins": 0}, {"bins": -1}, {"bins": 3}, {"bins": 3, "min": 3, "max": 1},
                       {"bins": 2, "min": -1, "max": 1}):
            _same_outcome(lambda lib: lib.histc(lib.tensor(values).to(getattr(lib, dtype)),
                                                **kwargs))


@pytest.mark.parametrize("dtype", _DTYPES + ["int8", "int16"])
def test_gaussian_nll_loss_and_clamp_name_dtypes_as_torch(backend, dtype):
    """clamp_ with a number PyTorch's self cannot take names self's C++ type (as
    gaussian_nll_loss's clamp of an integer var does); a tensor bound names it as usual"""
    def loss(lib, var_dtype, input_dtype="float32"):
        return lib.nn.functional.gaussian_nll_loss(
            lib.ones(3, 2).to(getattr(lib, input_dtype)), lib.ones(3, 2),
            lib.ones(3, 2).to(getattr(lib, var_dtype)))
    _same_outcome(lambda lib: loss(lib, dtype))
    _same_outcome(lambda lib: loss(lib, "float32", dtype))
    for bounds in ({"min": 1e-6}, {"max": 2.5}, {"min": 1}, {"min": 0, "max": 2.5},
                   {"min": lambda lib: lib.tensor(0.5)}):
        _same_outcome(lambda lib: lib.ones(3, dtype=getattr(lib, dtype)).clamp_(
            **{k: v(lib) if callable(v) else v for k, v in bounds.items()}))
    _same_outcome(lambda lib: lib.ones(3, dtype=getattr(lib, dtype)).clamp_min_(0.5))
    _same_outcome(lambda lib: lib.ones(3, dtype=getattr(lib, dtype)).clamp_max_(2.5))


@pytest.mark.parametrize("x,w,kwargs", [
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {}),
    ((2, 4, 4, 4), (3, 2, 3, 3, 3), {}),                           # unbatched
    ((1, 2, 4, 4, 4), (3, 2, 3, 3), {}),                           # a 4-d weight
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"stride": 2}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"stride": (1, 1, 2)}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"stride": (1, 1)}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"stride": 0}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"dilation": (1, 2)}),
    ((1, 2, 4, 4, 4), (3, 2, 2, 3, 4), {"dilation": 2}),            # even: padded at the end
    ((1, 2, 9, 9, 9), (3, 2, 2, 2, 2), {"dilation": -1}),
    ((1, 2, 9, 9, 9), (3, 2, 3, 3, 3), {"dilation": -1}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"dilation": 0}),
    ((1, 2, 4, 4, 4), (4, 1, 3, 3, 3), {"groups": 2}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"groups": 0}),
    ((1, 2, 4, 4, 4), (3, 3, 3, 3, 3), {}),
    ((1, 2, 2, 2, 2), (3, 2, 5, 5, 5), {}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"padding": "bad", "stride": (1, 1)}),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), {"padding": "valid", "stride": (1, 1)})])
def test_conv3d_same_padding_checks_as_torch(backend, x, w, kwargs):
    """PyTorch's convolution_same checks the input's dims, stride and dilation lengths (in
    its own words) and strides before the convolution's checks; a negative dilation gives a
    negative padding (C++'s truncating division)"""
    kwargs = {"padding": "same", **kwargs}
    for dtype in ("float32", "float64", "int64"):
        _same_outcome(lambda lib: lib.nn.functional.conv3d(
            lib.ones(x, dtype=getattr(lib, dtype)), lib.ones(w, dtype=getattr(lib, dtype)),
            **kwargs))


# ---- arguments PyTorch refuses ---------------------------------------------------------------
def _same_class(call):
    """the same values, or the same exception class (the messages may be worded apart)"""
    got, want = _outcome(call, cgrad), _outcome(call, torch)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and got[0] == want[0], (got, want)
    else:
        assert repr(got) == repr(want)


@pytest.mark.parametrize("call", [
    lambda L: L.zeros(3).masked_fill([True, False, True], 1.0),
    lambda L: L.zeros(3).masked_fill_(True, 1.0),
    lambda L: L.zeros(3).requires_grad_(1),
    lambda L: L.zeros(3).requires_grad_(np.bool_(True)),
    lambda L: L.zeros(3).requires_grad_(False),
    lambda L: setattr(L.zeros(3), "requires_grad", 1),
    lambda L: L.nn.Parameter(L.zeros(3), requires_grad=1),
    lambda L: L.logical_and(L.tensor([1, 0]), 1),
    lambda L: L.tensor([1, 0]).logical_or(True),
    lambda L: L.tensor([1, 0]).logical_xor_(1),
    lambda L: L.tensor([1, 0]).logical_xor(L.tensor(1)),
    lambda L: L.searchsorted(L.tensor([False, True]), L.tensor([True])),
    lambda L: L.searchsorted(L.tensor([False, True]), L.tensor([1])),
    lambda L: L.bucketize(L.tensor([True]), L.tensor([False, True])),
    lambda L: L.isin(L.tensor([True, False]), L.tensor([1])),
    lambda L: L.isin(L.tensor([1, 0]), L.tensor([2])),
    lambda L: L.zeros(3, dtype=L.bool).scatter_reduce(0, L.tensor([0]), L.tensor([True]),
                                                     "mean"),
    lambda L: L.zeros(3, dtype=L.bool).scatter_reduce(0, L.tensor([0]), L.tensor([True]),
                                                     "amax"),
])
def test_refused_arguments(backend, call):
    _same_class(call)


@pytest.mark.parametrize("margin", [1.0, 1.5, 3, -1.5])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_hinge_embedding_loss_of_integers(backend, margin, reduction):
    """integers stay integers (the margin cast to their dtype) and their mean raises, as in
    PyTorch; cgrad gave floats"""
    _same_class(lambda L: L.nn.functional.hinge_embedding_loss(
        L.tensor([1, 2, -3, 0]), L.tensor([1, -1, -1, 1]), margin=margin, reduction=reduction))
