"""Every CythonKernels override against the NumPy reference (NumpyKernels), on every layout
the kernels may meet: contiguous, transposed, strided, negative strides, broadcast views,
zero-size, unaligned, read-only, float32, float64 and mixed dtypes. Plain arithmetic must
match bit for bit; libm calls, reductions and BLAS within a per-dtype tolerance."""
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import cgrad
from cgrad.backends import CythonKernels, NumpyKernels
from cgrad.backends.numpy_backend import _channel_sums

pytestmark = pytest.mark.skipif(CythonKernels is None and
                                os.environ.get("CGRAD_EXPECT_NO_EXTENSION") == "1",
                                reason="built without the extension on purpose")

DTYPES = [np.float32, np.float64]
LAYOUTS = ["contiguous", "transposed", "strided", "negative", "broadcast", "empty",
           "unaligned", "readonly"]
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-5),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12)}
REF = NumpyKernels()


def test_extension_loaded():
    """The compiled backend must load, unless CGRAD_EXPECT_NO_EXTENSION=1 says otherwise."""
    if os.environ.get("CGRAD_EXPECT_NO_EXTENSION") == "1":
        pytest.skip("CGRAD_EXPECT_NO_EXTENSION=1")
    assert CythonKernels is not None, cgrad.backends.cython_import_error
    assert "cython" in cgrad.backends.available()


@pytest.fixture
def ck():
    """A CythonKernels that takes every size to its compiled path (min_size 0)."""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    return _all_compiled(CythonKernels())


def _all_compiled(k):
    """k with every size thresholds at 0, so each call takes its compiled path."""
    k.min_size = 0
    k.min_size_fused = 0
    k.min_size_binary = 0
    k.min_size_reduce = 0
    k.max_flops_numpy = -1
    return k


def make(layout, dtype, shape, rng=None, low=-2.0, high=2.0):
    """An array of shape with the given memory layout (values uniform in [low, high))."""
    rng = rng or np.random.default_rng(abs(hash((layout, shape))) % 2**32)
    dtype = np.dtype(dtype)

    def values(s):
        return rng.uniform(low, high, s).astype(dtype)
    if layout == "contiguous":
        return values(shape)
    if layout == "transposed":
        return values(shape[::-1]).T
    if layout == "strided":
        return values(shape[:-1] + (2 * shape[-1],))[..., ::2] if shape else values(shape)
    if layout == "negative":
        return values(shape)[..., ::-1] if shape else values(shape)
    if layout == "broadcast":
        return np.broadcast_to(values((1,) + shape[1:]), shape) if shape else values(shape)
    if layout == "empty":
        return values((0,) + shape[1:])
    if layout == "unaligned":
        n = int(np.prod(shape))
        raw = np.empty(n * dtype.itemsize + 1, np.uint8)[1:]
        a = raw.view(dtype).reshape(shape)
        a[...] = values(shape)
        return a
    if layout == "readonly":
        a = values(shape)
        a.flags.writeable = False
        return a
    raise ValueError(layout)


def assert_same(actual, expected, exact=True):
    """Same shape, dtype and values (bit for bit when exact, else within TOL)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, **TOL[expected.dtype])


def ulps_apart(actual, expected):
    """How many float32 values lie between actual and expected, elementwise (across zero
    too: the bits as a signed magnitude)."""
    def ordered(a):
        bits = np.asarray(a, np.float32).view(np.int32)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits).astype(np.int64)
    return np.abs(ordered(actual) - ordered(expected))


def assert_sum_close(actual, expected, terms_abs):
    """A reduction: the error bound scales with the sum of |terms| (fixed-block summation
    rounds differently from NumPy's pairwise one)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    eps = np.finfo(expected.dtype).eps
    bound = 64 * eps * (np.asarray(terms_abs, np.float64) + 1e-30) + TOL[expected.dtype]["atol"]
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    assert np.all((err <= bound) | (np.isnan(actual) & np.isnan(expected))), (
        f"max error {np.max(err - bound)} over the bound")


def reduce_to(grad, shape):
    return None if grad is None else REF.sum_to_shape(np.asarray(grad), shape)


# ---- the override list -----------------------------------------------------------------------
COMPILED = {
    "accumulate_", "zero_", "as_contiguous", "sum_to_shape",
    "add", "sub", "mul", "div", "maximum", "minimum",
    "mul_backward", "div_backward", "maximum_backward", "minimum_backward",
    "exp", "exp_backward", "log", "log_backward", "sqrt_backward", "tanh", "tanh_backward",
    "sigmoid", "sigmoid_backward", "silu", "silu_backward", "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward", "abs_backward", "clamp",
    "clamp_backward", "hardtanh_backward", "pow_scalar", "pow_scalar_backward",
    "mse_loss", "mse_loss_backward", "elu", "elu_backward", "running_sum",
    "softplus", "softplus_backward", "log_sigmoid", "log_sigmoid_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "smooth_l1_loss", "smooth_l1_loss_backward", "first_max_last_nan", "max_pool",
    "amax", "amin",
    "index_add_", "scatter_add_", "gather", "hardswish", "hardswish_backward", "hardsigmoid",
    "hardsigmoid_backward", "group_norm", "group_norm_backward", "batch_norm_stats",
    "batch_norm", "batch_norm_backward", "add_windows", "take_windows", "lerp", "fma",
    "conv", "conv_backward",
    "lstm_cell", "lstm_cell_backward", "lstm_sequence", "lstm_sequence_backward",
    "gru_sequence", "gru_sequence_backward", "rnn_sequence", "rnn_sequence_backward",
    "resize_linear", "resize_linear_backward",
    "sgd_step_", "adam_step_", "rmsprop_step_", "adagrad_step_",
    "matmul", "matmul_backward", "linear", "linear_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "cross_entropy_forward", "cross_entropy_probs", "cross_entropy_backward",
    "nll_loss_forward", "nll_loss_backward",
    "soft_cross_entropy_forward", "sort_order", "topk_order",
    "soft_cross_entropy_backward", "sum", "mean",
    "expm1", "expm1_backward", "log1p", "log1p_backward", "erf", "erf_backward",
    "mish", "mish_backward", "log2", "log2_backward", "log10", "log10_backward", "exp2",
    "exp2_backward", "atan", "atan_backward", "asin", "asin_backward", "acos", "acos_backward",
    "sinh", "sinh_backward", "cosh", "cosh_backward", "atanh", "atanh_backward", "asinh",
    "asinh_backward", "acosh", "acosh_backward", "tan", "tan_backward", "erfc",
    "erfc_backward", "sign", "erfinv",
}


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_compiled_path_is_taken(ck, monkeypatch, op):
    """With contiguous floats the override computes itself: the NumPy fallback it holds (bound
    when the class was made, so it is swapped where it is passed) would raise."""
    def boom(*args, **kwargs):
        raise AssertionError("fell back to NumPy")
    binary, backward = CythonKernels._binary, CythonKernels._binary_backward_or
    monkeypatch.setattr(CythonKernels, "_binary",
                        lambda self, op, a, b, fallback: binary(self, op, a, b, boom))
    monkeypatch.setattr(CythonKernels, "_binary_backward_or",
                        lambda self, op, fallback, *args: backward(self, op, boom, *args))
    a = make("contiguous", np.float32, (6, 5))
    assert_same(getattr(ck, op)(a, a[0]), getattr(REF, op)(a, a[0]))
    with pytest.raises(AssertionError, match="fell back"):      # (the spy itself works)
        getattr(ck, op)(a.astype(np.int64), a[0].astype(np.int64))
    if op in ("mul", "div", "maximum", "minimum"):
        getattr(ck, f"{op}_backward")(a, a[0], a)
        with pytest.raises(AssertionError, match="fell back"):
            getattr(ck, f"{op}_backward")(a, a[0].astype(np.float64), a)


def test_overrides_are_listed():
    """What CythonKernels computes itself: a NumPy kernel it merely inherits is never taken
    for a compiled one (update COMPILED when adding a kernel)."""
    own = {name for name, v in vars(CythonKernels).items()
           if callable(v) and not name.startswith("_")}
    assert own == COMPILED
    for name in own:
        assert hasattr(NumpyKernels, name), f"{name} is not part of the kernel interface"


# ---- binary elementwise ----------------------------------------------------------------------
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
SHAPE_PAIRS = [((6, 5), (6, 5)), ((6, 5), (5,)), ((5,), (6, 5)), ((6, 5), (6, 1)),
               ((6, 1), (1, 5)), ((4, 3, 5), (5,)), ((4, 3, 5), (3, 1)), ((4, 3, 5), ()),
               ((), (4, 3)), ((7,), (7,)), ((), ()), ((0, 5), (5,)), ((3, 0), (3, 1)),
               ((2, 3, 4), (2, 1, 4)),
               # a channel's value against (N, C, H, W): a third grid dim, taken as columns
               ((2, 3, 4, 5), (1, 3, 1, 1)), ((3, 1, 1), (2, 3, 4, 5)),
               ((2, 3, 4, 5), (3, 4, 1)), ((0, 3, 5), (3, 1)),
               # every other arrangement of three grid dims (O planes of R x C), and four
               ((4, 3, 5), (4, 1, 5)), ((4, 1, 5), (4, 3, 5)), ((4, 3, 1), (4, 1, 5)),
               ((1, 3, 5), (4, 3, 1)), ((4, 1, 5), (1, 3, 1)), ((2, 8, 3, 3), (2, 1, 1, 3)),
               ((3, 2, 700), (3, 1, 700)), ((0, 3, 5), (0, 1, 5)), ((4, 0, 5), (4, 1, 5)),
               ((2, 3, 4, 5), (2, 1, 4, 1))]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_forward_broadcast(ck, op, dtype, shapes):
    a, b = make("contiguous", dtype, shapes[0]), make("contiguous", dtype, shapes[1])
    assert_same(getattr(ck, op)(a, b), getattr(REF, op)(a, b))


def test_binary_grid_takes_planes(ck):
    """Three grid dims are O planes of R x C: a value per channel against (N, C, H, W) is a
    column shared by every plane; an attention mask (N, 1, L) against (N, H, L) a row of its
    own per plane. A fourth dim stays NumPy's."""
    from cgrad.backends import cython_backend as cb
    x, s = np.zeros((2, 3, 4, 5)), np.zeros((1, 3, 1, 1))
    assert cb._bn.grid(x.shape, [x, s]) == (2, 3, 20, [cb._FULL, cb._COL], [True, False])
    assert cb._bn.grid(x.shape, [s.reshape(3, 1, 1), x]) == (
        2, 3, 20, [cb._COL, cb._FULL], [False, True])
    assert cb._bn.grid((2, 3, 4), [np.zeros((2, 3, 4)), np.zeros((2, 1, 4))]) == (
        2, 3, 4, [cb._FULL, cb._ROW], [True, True])
    assert cb._bn.grid((2, 3, 4), [np.zeros((2, 3, 1)), np.zeros((2, 1, 4))]) == (
        2, 3, 4, [cb._COL, cb._ROW], [True, True])
    assert cb._bn.grid(x.shape, [x, np.zeros((2, 1, 4, 1))]) is None      # four groups
    assert cb._bn.grid((6, 5), [np.zeros((6, 5)), np.zeros(5)]) == (
        1, 6, 5, [cb._FULL, cb._ROW], [True, True])
    assert cb._bn.grid((), [np.zeros(()), np.zeros(())]) == (
        1, 1, 1, [cb._FULL, cb._FULL], [True, True])                  # no dims: one element
    assert cb._bn.grid((4, 0, 3), [np.zeros((4, 0, 3)), np.zeros((4, 1, 1))]) == (
        1, 4, 0, [cb._FULL, cb._COL], [True, True])                    # (0 and 3 merge)
    assert cb._bn.grid((7, 1, 2), [np.zeros((7, 1, 2)), np.zeros((1, 1, 1))]) == (
        1, 1, 14, [cb._FULL, cb._COL], [True, True])       # size-1 dims skipped, 7 and 2 merge
    with pytest.raises(ValueError, match="at most 16 arrays"):
        cb._bn.grid((2,), [np.zeros(2)] * 17)
    layout = ck._binary_layout(x, s, None, 0)
    assert layout[2:] == (cb._FULL, layout[3], cb._COL, x.shape, (3, 20, 2, True, False))
    assert layout[3] is not s and np.shares_memory(layout[3], s)        # (a view, no copy)


def test_small_broadcast_outputs_skip_the_layout(monkeypatch):
    """with the default thresholds, a op b whose output is small goes to NumPy before the
    layout's checks, however large the product of the operands' sizes"""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    k = CythonKernels()

    def boom(*args, **kwargs):
        raise AssertionError("took the layout's checks")
    monkeypatch.setattr(CythonKernels, "_binary_layout", boom)
    a, b = np.ones((16, 256), np.float32), np.full(256, 2, np.float32)
    assert_same(k.add(a, b), a + b)
    assert_same(k.mul(b, a), b * a)
    with pytest.raises(ValueError, match="broadcast"):
        k.add(a, np.ones(255, np.float32))


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_forward_layouts(ck, op, dtype, layout):
    a = make(layout, dtype, (6, 5))
    b = make("contiguous", dtype, a.shape)
    assert_same(getattr(ck, op)(a, b), getattr(REF, op)(a, b))
    assert_same(getattr(ck, op)(b, a), getattr(REF, op)(b, a))


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("scalar", [2.5, -3, 0, 1e300, 2**70])
def test_binary_forward_python_scalars(ck, op, scalar):
    for dtype in DTYPES:
        a = make("contiguous", dtype, (4, 3))
        with np.errstate(all="ignore"):
            assert_same(getattr(ck, op)(a, scalar), getattr(REF, op)(a, scalar))
            assert_same(getattr(ck, op)(scalar, a), getattr(REF, op)(scalar, a))


@pytest.mark.parametrize("op", BINARY)
def test_binary_forward_mixed_and_integer(ck, op):
    a32, a64 = make("contiguous", np.float32, (4, 3)), make("contiguous", np.float64, (4, 3))
    ints = np.arange(1, 13).reshape(4, 3)
    for a, b in [(a32, a64), (a64, a32), (ints, ints), (a32, ints), (a32, np.float64(2.0))]:
        assert_same(getattr(ck, op)(a, b), getattr(REF, op)(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_forward_nan_and_signs(ck, dtype):
    # tiled past a few vector widths, so that the vectorised loop meets them, not only its tail
    a = np.tile(np.array([np.nan, 1.0, -0.0, np.inf, -np.inf, 2.0, np.nan], dtype), 12)
    b = np.tile(np.array([1.0, np.nan, 0.0, np.inf, 1.0, -np.inf, np.nan], dtype), 12)
    with np.errstate(all="ignore"):
        for op in BINARY:
            for x, y in [(a, b), (b, a)]:
                assert_same(getattr(ck, op)(x, y), getattr(REF, op)(x, y))


def test_binary_forward_bad_shapes(ck):
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        ck.add(np.ones(3), np.ones(4))


BACKWARD = {
    "mul": ("mul_backward", None),
    "div": ("div_backward", "pos"),
    "maximum": ("maximum_backward", None),
    "minimum": ("minimum_backward", None),
    "pow": ("pow_backward", "pos"),
}


def _backward(k, op, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
    name = BACKWARD[op][0]
    if op == "pow":
        with np.errstate(all="ignore"):
            out = np.power(a, b)
        return getattr(k, name)(a, b, out, g, need_a, need_b, acc_a, acc_b)
    return getattr(k, name)(a, b, g, need_a, need_b, acc_a, acc_b)


def _check_backward(ck, op, a, b, g, need_a=True, need_b=True):
    got = _backward(ck, op, a, b, g, need_a, need_b)
    want = _backward(REF, op, a, b, g, need_a, need_b)
    exact = op != "pow"
    for x, gx, wx in zip((a, b), got, want):
        if wx is None:
            assert gx is None
            continue
        shape = np.shape(x)
        expected = reduce_to(wx, shape)
        if np.shape(wx) == shape:
            assert_same(reduce_to(gx, shape), expected, exact)
        else:
            assert_sum_close(reduce_to(gx, shape), expected, reduce_to(np.abs(wx), shape))


@pytest.mark.parametrize("op", list(BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_backward_broadcast(ck, op, dtype, shapes):
    low = 0.5 if BACKWARD[op][1] else -2.0
    a, b = make("contiguous", dtype, shapes[0], low=low), make("contiguous", dtype, shapes[1],
                                                               low=low)
    g = make("contiguous", dtype, np.broadcast_shapes(a.shape, b.shape))
    _check_backward(ck, op, a, b, g)
    _check_backward(ck, op, a, b, g, need_a=False)
    _check_backward(ck, op, a, b, g, need_b=False)


@pytest.mark.parametrize("op", list(BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_backward_layouts(ck, op, dtype, layout):
    low = 0.5 if BACKWARD[op][1] else -2.0
    a = make(layout, dtype, (6, 5), low=low)
    b = make("contiguous", dtype, a.shape, low=low)
    g = make(layout, dtype, a.shape)
    _check_backward(ck, op, a, b, g)
    _check_backward(ck, op, b, a, g)


@pytest.mark.parametrize("op", list(BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_channel_operand_layouts(ck, op, dtype, layout):
    """a value per channel against (N, C, H, W) of every layout, either side, and a channel
    operand that is itself a view: forward bit for bit, backward within the sums' rounding"""
    low = 0.5 if BACKWARD[op][1] else -2.0
    x = make(layout, dtype, (2, 3, 4, 5), low=low)
    for s_ in (make("contiguous", dtype, (1, 3, 1, 1), low=low),
               make("strided", dtype, (3, 1, 2), low=low)[..., :1]):
        for a, b in ((x, s_), (s_, x)):
            if op in BINARY:
                assert_same(getattr(ck, op)(a, b), getattr(REF, op)(a, b))
            g = make(layout, dtype, np.broadcast_shapes(a.shape, b.shape))
            _check_backward(ck, op, a, b, g)


@pytest.mark.parametrize("op", [op for op in BACKWARD if op != "pow"])   # pow: NumPy's
@pytest.mark.parametrize("shapes", [((6, 5), (6, 5)), ((6, 5), (5,)), ((6, 5), (6, 1)),
                                    ((6, 5), ()), ((0, 5), (5,)), ((4, 3, 5), (3, 1)),
                                    ((3, 1), (4, 3, 5))], ids=str)
def test_binary_backward_adds_into_acc(ck, op, shapes):
    """Given buffers of the inputs' shapes, the gradients are added there and returned."""
    dtype = np.float64
    a, b = make("contiguous", dtype, shapes[0], low=0.5), make("contiguous", dtype, shapes[1],
                                                               low=0.5)
    g = make("contiguous", dtype, np.broadcast_shapes(a.shape, b.shape))
    acc_a, acc_b = np.full(a.shape, 0.25, dtype), np.full(b.shape, -0.5, dtype)
    want = [reduce_to(w, np.shape(x)) for w, x in zip(_backward(REF, op, a, b, g), (a, b))]
    ga, gb = _backward(ck, op, a, b, g, True, True, acc_a, acc_b)
    assert ga is acc_a and gb is acc_b
    np.testing.assert_allclose(ga, 0.25 + want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, -0.5 + want[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [op for op in BACKWARD if op != "pow"])
@pytest.mark.parametrize("g_layout", ["sum_of", "broadcast", "strided", "transposed"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_backward_takes_an_unreadable_g_compiled(ck, monkeypatch, op, g_layout, dtype):
    """a sum's g arrives broadcast from one element, a view's strided: copied once, then the
    fused pass (NumPy's form, patched away, is never called), into fresh buffers and into
    acc; within the sums' rounding of the reference"""
    a = make("contiguous", dtype, (6, 5), low=0.5)
    b = make("contiguous", dtype, (5,), low=0.5)
    g = (np.broadcast_to(np.asarray(0.75, dtype), a.shape) if g_layout == "sum_of"
         else make(g_layout, dtype, a.shape))
    want = [reduce_to(w, np.shape(x)) for w, x in zip(_backward(REF, op, a, b, g), (a, b))]
    monkeypatch.setattr(NumpyKernels, BACKWARD[op][0], None)
    for acc in (None, 0.25):
        acc_a, acc_b = (None, None) if acc is None else (np.full(a.shape, acc, dtype),
                                                         np.full(b.shape, acc, dtype))
        ga, gb = _backward(ck, op, a, b, g, True, True, acc_a, acc_b)
        assert_same(ga, want[0] + (acc or 0))
        np.testing.assert_allclose(gb, want[1] + (acc or 0), **TOL[np.dtype(dtype)])


def test_binary_backward_acc_of_other_dtype_is_left_alone(ck):
    a, b, g = (make("contiguous", np.float64, (6, 5)) for _ in range(3))
    acc = np.zeros((6, 5), np.float32)
    ga, gb = ck.mul_backward(a, b, g, True, True, acc, None)
    assert ga is not acc and not acc.any()
    assert_same(ga, g * b)


def test_binary_backward_scalar_operands(ck):
    """1 / x and 2 ** x hand a Python number or a 0-d array for the other side."""
    x = make("contiguous", np.float32, (5, 4), low=0.5)
    g = make("contiguous", np.float32, (5, 4))
    assert_same(ck.div_backward(1.5, x, g, False, True)[1],
                REF.div_backward(1.5, x, g, False, True)[1])
    c = np.asarray(2.0, np.float32)
    y = np.power(c, x)
    assert_same(ck.pow_backward(c, x, y, g, False, True)[1],
                REF.pow_backward(c, x, y, g, False, True)[1], exact=False)


def test_binary_backward_ties_and_nan(ck):
    a = np.array([1.0, 2.0, np.nan, 3.0, -0.0], np.float32)
    b = np.array([1.0, 1.0, 1.0, np.nan, 0.0], np.float32)
    g = np.arange(1, 6, dtype=np.float32)
    for op in ("maximum", "minimum", "mul", "div"):
        _check_backward(ck, op, a, b, g)


@pytest.mark.parametrize("shapes", [((6, 5), (5,)), ((6, 5), (6, 1)), ((4, 3, 5), ()),
                                    ((2, 3, 4), (1, 3, 1)), ((3, 1, 4), (3, 4)), ((5,), (1, 1))],
                         ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_to_shape(ck, shapes, dtype):
    big, small = shapes
    g = make("contiguous", dtype, np.broadcast_shapes(big, small))
    assert_sum_close(ck.sum_to_shape(g, small), REF.sum_to_shape(g, small),
                     REF.sum_to_shape(np.abs(g), small))
    gt = make("transposed", dtype, g.shape)
    assert_sum_close(ck.sum_to_shape(gt, small), REF.sum_to_shape(gt, small),
                     REF.sum_to_shape(np.abs(gt), small))


def test_binary_planes_compiled(ck, monkeypatch):
    """The three-dim grids run compiled (the NumPy fallbacks raise), with gradients summed per
    plane or over all planes, added into given buffers; a broadcast operand that is a strided
    view too."""
    def boom(*args, **kwargs):
        raise AssertionError("fell back to NumPy")
    for name in ("add", "mul", "mul_backward", "div_backward"):
        monkeypatch.setattr(NumpyKernels, name, boom)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6))
    for other in (rng.standard_normal((3, 1, 6)), rng.standard_normal((4, 1)),
                  rng.standard_normal((3, 4, 1)),
                  rng.standard_normal((3, 1, 12))[:, :, ::2]):     # (a view: copied once)
        assert_same(ck.add(x, other), x + other)
        assert_same(ck.mul(other, x), other * x)
        acc = np.full(other.shape, 0.5)
        ga, gb = ck.mul_backward(x, other, x, True, True, None, acc)
        assert gb is acc
        np.testing.assert_allclose(ga, x * other, rtol=1e-15)
        np.testing.assert_allclose(gb, 0.5 + reduce_to(x * x, other.shape), rtol=1e-13)
        ck.div_backward(other, x, x)


def test_binary_backward_g_wider_than_operands(ck):
    """A g the operands broadcast to (an op's output broadcast on later, as dropout's mask
    does): NumPy's gradients, which the caller reduces; the compiled path raised"""
    rng = np.random.default_rng(8)
    a, b, g = rng.standard_normal((3, 1)), np.asarray(1.5), rng.standard_normal((3, 5))
    for got, want, x in zip(ck.mul_backward(a, b, g), REF.mul_backward(a, b, g), (a, b)):
        assert_same(reduce_to(got, x.shape), reduce_to(want, x.shape))


def test_binary_planes_shared_full_plane_goes_to_numpy(ck):
    """(N, C, 1) * (1, C, L): the second's gradient would sum whole planes over N, which the
    kernel does not do; the forward and the first's gradient still come out right."""
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 4, 1)), rng.standard_normal((1, 4, 5))
    g = rng.standard_normal((3, 4, 5))
    assert_same(ck.mul(a, b), a * b)
    ga, gb = ck.mul_backward(a, b, g)
    np.testing.assert_allclose(reduce_to(ga, a.shape), (g * b).sum(2, keepdims=True),
                               rtol=1e-13)
    np.testing.assert_allclose(reduce_to(gb, b.shape), (g * a).sum(0, keepdims=True),
                               rtol=1e-13)
    assert ck.mul_backward(a, b, g, True, False)[1] is None


@st.composite
def binary_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=6))
    dtype = draw(st.sampled_from(DTYPES))
    layouts = draw(st.lists(st.sampled_from(["contiguous", "contiguous", "transposed",
                                             "negative", "readonly"]), min_size=3, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))
    return shapes, dtype, layouts, seed


@settings(max_examples=150, deadline=None)
@given(binary_case(), st.sampled_from(list(BACKWARD)))
def test_binary_hypothesis(case, op):
    k = _all_compiled(CythonKernels())
    (sa, sb), out_shape = case[0]
    dtype, layouts, seed = case[1], case[2], case[3]
    rng = np.random.default_rng(seed)
    low = 0.5 if BACKWARD[op][1] else -2.0
    a = make(layouts[0], dtype, sa, rng, low=low)
    b = make(layouts[1], dtype, sb, rng, low=low)
    g = make(layouts[2], dtype, out_shape, rng)
    if op != "pow":
        assert_same(getattr(k, op)(a, b), getattr(REF, op)(a, b))
    _check_backward(k, op, a, b, g)


# ---- direct calls of the compiled module -------------------------------------------------
def test_binary_module_checks_lengths_and_dtypes():
    from cgrad._C import binary as bn
    x, out = np.ones(6), np.empty(6)
    with pytest.raises(ValueError, match="5 elements"):
        bn.binary_(bn.ADD, x, bn.FULL, np.ones(5), bn.FULL, out, 2, 3)
    with pytest.raises(ValueError, match="out"):
        bn.binary_(bn.ADD, x, bn.FULL, x, bn.FULL, np.empty(7), 2, 3)
    with pytest.raises((TypeError, ValueError)):
        bn.binary_(bn.ADD, x, bn.FULL, x.astype(np.float32), bn.FULL, out, 2, 3)
    with pytest.raises(ValueError, match="op"):
        bn.binary_(99, x, bn.FULL, x, bn.FULL, out, 2, 3)
    # planes: each operand's length is one plane's or O planes'
    with pytest.raises(ValueError, match="expected 12"):
        bn.binary_(bn.ADD, x, bn.FULL, x, bn.FULL, np.empty(12), 2, 3, 2)
    bn.binary_(bn.ADD, x, bn.FULL, x, bn.FULL, np.empty(12), 2, 3, 2, False, False)
    with pytest.raises(ValueError, match="planes"):
        bn.binary_(bn.ADD, x, bn.FULL, x, bn.FULL, out, 2, 3, -1)
    with pytest.raises(ValueError, match="one-pass"):
        bn.binary_backward_(bn.ADD, x, bn.FULL, np.ones(12), bn.FULL, np.ones(12), np.empty(6),
                            np.empty(12), True, True, False, False, 2, 3, 2, False, True)


# ---- threads -------------------------------------------------------------------------------
@pytest.fixture
def threads():
    """Run a callable at 1 and at 2 threads; restores the thread count."""
    before = cgrad.get_num_threads()

    def run(fn):
        results = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            results.append(fn())
        return results
    yield run
    cgrad.set_num_threads(before)


def test_binary_same_bits_for_any_thread_count(ck, threads):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((700, 300)).astype(np.float32)
    b = rng.standard_normal(300).astype(np.float32)
    c = rng.standard_normal((700, 1)).astype(np.float32)
    g = rng.standard_normal((700, 300)).astype(np.float32)
    x = rng.standard_normal((32, 64, 40)).astype(np.float32)      # (and a channel's scale)
    s = rng.standard_normal((64, 1)).astype(np.float32)
    y = rng.standard_normal((3, 200, 400)).astype(np.float32)     # (planes of two tasks)
    mask = rng.standard_normal((3, 1, 400)).astype(np.float32)
    one, two = threads(lambda: (ck.mul(x, s), ck.mul_backward(x, s, x),
                                ck.add(y, mask), ck.mul_backward(y, mask, y),
                                ck.mul_backward(mask, y[:1, :, :1], y),
                                ck.mul(a, b), ck.mul_backward(a, b, g), ck.div_backward(a, c, g),
                                ck.mul_backward(a, 2.5, g, True, False),
                                ck.maximum_backward(a, np.float32(0.1) * a[:1], g),
                                ck.sum_to_shape(g, (300,))))
    for x, y in zip(one, two):
        for u, v in zip(x if isinstance(x, tuple) else (x,), y if isinstance(y, tuple) else (y,)):
            if u is not None:
                np.testing.assert_array_equal(u, v)


# ---- unary elementwise -----------------------------------------------------------------------
SELU = (1.6732632423543772, 1.0507009873554805)      # selu's alpha and scale
# name -> (call on a kernel object with (s, g, acc), domain low, exact?)
def _plain_backward(name):
    """a backward taking (s, g, acc) and nothing else, called by name"""
    return lambda k, s, g, acc: getattr(k, name)(s, g, acc)


UNARY_BACKWARD = {
    "exp_backward": (_plain_backward("exp_backward"), -2.0, True),
    "log_backward": (_plain_backward("log_backward"), 0.1, True),
    "sqrt_backward": (_plain_backward("sqrt_backward"), 0.1, True),
    "tanh_backward": (_plain_backward("tanh_backward"), -1.0, True),
    "sigmoid_backward": (_plain_backward("sigmoid_backward"), 0.0, True),
    "silu_backward": (_plain_backward("silu_backward"), -5.0, False),
    "elu_backward": (lambda k, s, g, acc: k.elu_backward(s, g, 0.7, acc=acc), -5.0, False),
    "selu_backward": (lambda k, s, g, acc: k.elu_backward(s, g, *SELU, acc=acc), -5.0, False),
    "celu_backward": (lambda k, s, g, acc: k.elu_backward(s, g, 2.0, 1.0, 0.5, acc), -5.0,
                      True),                                    # (NumPy's: the same bits)
    "relu_backward": (_plain_backward("relu_backward"), -2.0, True),
    "leaky_relu_backward": (lambda k, s, g, acc: k.leaky_relu_backward(s, g, 0.1, acc), -2.0,
                            True),
    "abs_backward": (_plain_backward("abs_backward"), -2.0, True),
    "clamp_backward": (lambda k, s, g, acc: k.clamp_backward(s, g, -0.5, 0.75, acc), -2.0, True),
    "clamp_min_backward": (lambda k, s, g, acc: k.clamp_backward(s, g, 0.1, None, acc), -2.0,
                           True),
    "clamp_max_backward": (lambda k, s, g, acc: k.clamp_backward(s, g, None, 0.1, acc), -2.0,
                           True),
    # hardtanh's: g strictly inside; relu6's bound 0 meets the special values' +-0
    "hardtanh_backward": (lambda k, s, g, acc: k.hardtanh_backward(s, g, -0.5, 0.75, acc), -2.0,
                          True),
    "relu6_backward": (lambda k, s, g, acc: k.hardtanh_backward(s, g, 0.0, 6.0, acc), -2.0,
                       True),
    "softplus_backward": (lambda k, s, g, acc: k.softplus_backward(s, g, 1.0, 20.0, acc), -5.0,
                          False),
    "softplus_beta_backward": (lambda k, s, g, acc: k.softplus_backward(s, g, 2.0, 3.0, acc),
                               -5.0, False),
    # a threshold past float32 exp's overflow: NaN there, as NumPy's and PyTorch's z / (z + 1)
    "softplus_high_backward": (lambda k, s, g, acc: k.softplus_backward(s, g, 1.0, 1e4, acc),
                               -5.0, False),
    "log_sigmoid_backward": (_plain_backward("log_sigmoid_backward"), -5.0,
                             False),
    "hardswish_backward": (_plain_backward("hardswish_backward"), -5.0, True),
    "hardsigmoid_backward": (_plain_backward("hardsigmoid_backward"), -5.0,
                             True),
    "gelu_backward": (lambda k, s, g, acc: k.gelu_backward(s, g, "none", acc), -5.0, False),
    "gelu_tanh_backward": (lambda k, s, g, acc: k.gelu_backward(s, g, "tanh", acc), -5.0, False),
    "pow2_backward": (lambda k, s, g, acc: k.pow_scalar_backward(s, 2, g, acc), -2.0, True),
    "pow3_backward": (lambda k, s, g, acc: k.pow_scalar_backward(s, 3, g, acc), -2.0, False),
    "pow5_backward": (lambda k, s, g, acc: k.pow_scalar_backward(s, 5, g, acc), -2.0, False),
    "pow_half_backward": (lambda k, s, g, acc: k.pow_scalar_backward(s, 0.5, g, acc), 0.1,
                          True),
    "expm1_backward": (_plain_backward("expm1_backward"), -1.0, True),
    "log1p_backward": (_plain_backward("log1p_backward"), -0.5, True),
    "erf_backward": (_plain_backward("erf_backward"), -5.0, False),
    "mish_backward": (_plain_backward("mish_backward"), -5.0, False),
    "log2_backward": (_plain_backward("log2_backward"), 0.1, True),
    "log10_backward": (_plain_backward("log10_backward"), -2.0, True),
    "exp2_backward": (_plain_backward("exp2_backward"), -2.0, True),
    "atan_backward": (_plain_backward("atan_backward"), -5.0, True),
    "asin_backward": (_plain_backward("asin_backward"), -1.0, True),
    "acos_backward": (_plain_backward("acos_backward"), -1.0, True),
    # float32: the kernels' cosh and sinh, within an ulp of NumPy's (glibc's)
    "sinh_backward": (_plain_backward("sinh_backward"), -5.0, False),
    "cosh_backward": (_plain_backward("cosh_backward"), -5.0, False),
    "atanh_backward": (_plain_backward("atanh_backward"), -1.0, True),
    "asinh_backward": (_plain_backward("asinh_backward"), -5.0, True),
    "acosh_backward": (_plain_backward("acosh_backward"), 1.0, True),
    "tan_backward": (_plain_backward("tan_backward"), -5.0, True),
    "erfc_backward": (_plain_backward("erfc_backward"), -5.0, False),
}
UNARY_FORWARD = {
    "exp": (lambda k, x: k.exp(x), False),
    "log": (lambda k, x: k.log(x), False),
    "relu": (lambda k, x: k.relu(x), True),
    "sigmoid": (lambda k, x: k.sigmoid(x), False),
    "silu": (lambda k, x: k.silu(x), False),
    "elu": (lambda k, x: k.elu(x, 0.7), False),
    "selu": (lambda k, x: k.elu(x, *SELU), False),
    "celu": (lambda k, x: k.elu(x, 2.0, 1.0, 0.5), True),
    "tanh": (lambda k, x: k.tanh(x), False),
    "leaky_relu": (lambda k, x: k.leaky_relu(x, 0.01), True),
    "gelu": (lambda k, x: k.gelu(x), False),
    "softplus": (lambda k, x: k.softplus(x, 1.0, 20.0), False),
    "softplus_beta": (lambda k, x: k.softplus(x, 2.0, 3.0), False),
    "softplus_high": (lambda k, x: k.softplus(x, 1.0, 1e4), False),    # inf past e**88.7
    "log_sigmoid": (lambda k, x: k.log_sigmoid(x), False),
    "hardswish": (lambda k, x: k.hardswish(x), True),
    "hardsigmoid": (lambda k, x: k.hardsigmoid(x), True),
    "gelu_tanh": (lambda k, x: k.gelu(x, "tanh"), False),
    "clamp": (lambda k, x: k.clamp(x, -0.5, 0.5), True),
    "clamp_min": (lambda k, x: k.clamp(x, 0.25, None), True),
    "clamp_int_bounds": (lambda k, x: k.clamp(x, -1, 2**40), True),
    "pow0": (lambda k, x: k.pow_scalar(x, 0), True),
    "pow1": (lambda k, x: k.pow_scalar(x, 1), True),
    "pow2": (lambda k, x: k.pow_scalar(x, 2), False),
    "pow3": (lambda k, x: k.pow_scalar(x, 3.0), False),
    "pow8": (lambda k, x: k.pow_scalar(x, 8), False),
    "pow_frac": (lambda k, x: k.pow_scalar(x, 1.5), True),
    "expm1": (lambda k, x: k.expm1(x), False),
    "log1p": (lambda k, x: k.log1p(x), False),                # (NaN below -1 on both)
    "erf": (lambda k, x: k.erf(x), False),
    "mish": (lambda k, x: k.mish(x), False),
    "log2": (lambda k, x: k.log2(x), False),
    "log10": (lambda k, x: k.log10(x), False),             # (NaN below 0 on both)
    "exp2": (lambda k, x: k.exp2(x), False),
    "atan": (lambda k, x: k.atan(x), False),
    "asin": (lambda k, x: k.asin(x), False),                # (NaN past +-1 on both)
    "acos": (lambda k, x: k.acos(x), False),
    "sinh": (lambda k, x: k.sinh(x), False),
    "cosh": (lambda k, x: k.cosh(x), False),
    "atanh": (lambda k, x: k.atanh(x), False),              # (NaN past +-1 on both)
    "asinh": (lambda k, x: k.asinh(x), False),
    "acosh": (lambda k, x: k.acosh(x), False),              # (NaN below 1 on both)
    "tan": (lambda k, x: k.tan(x), False),
    "erfc": (lambda k, x: k.erfc(x), False),
    "sign": (lambda k, x: k.sign(x), True),
    "erfinv": (lambda k, x: k.erfinv(x / 6), False),       # (x in [-1, 1])
}


@pytest.mark.parametrize("name", list(UNARY_BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unary_backward(ck, name, dtype, layout):
    low = UNARY_BACKWARD[name][1]
    s = make(layout, dtype, (6, 5), low=low, high=low + 4 if low >= 0 else -low)
    check_unary_backward(ck, name, s, make("contiguous", dtype, s.shape))


def check_unary_backward(ck, name, s, g):
    """UNARY_BACKWARD[name] as the reference's, fresh and added into a buffer"""
    call, low, exact = UNARY_BACKWARD[name]
    assert_same(call(ck, s, g, None), call(REF, s, g, None), exact)
    acc = make("contiguous", s.dtype, s.shape)
    want = call(REF, s, g, acc.copy())
    got = call(ck, s, g, acc)
    assert got is acc
    assert_same(got, want, exact)


@pytest.mark.parametrize("name", list(UNARY_BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_backward_of_a_repeated_gradient(ck, name, dtype):
    """g one value broadcast (a sum's or mean's gradient, every stride 0): the kernel reads
    it as one element, fresh and into a buffer, with the reference's values"""
    low = UNARY_BACKWARD[name][1]
    s = make("contiguous", dtype, (40, 33), low=low, high=low + 4 if low >= 0 else -low)
    check_unary_backward(ck, name, s, np.broadcast_to(np.asarray(-0.375, dtype), s.shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_gradient_reaches_the_kernel_as_one_element(ck, monkeypatch, dtype):
    """the adapter hands a broadcast g to the kernel as one element (spied): no copy of it"""
    from cgrad.backends import cython_backend as cb
    kernels, seen = cb._ew_for[np.dtype(dtype)], []
    real = kernels.unary_backward_
    monkeypatch.setattr(kernels, "unary_backward_",
                        lambda op, s, g, *a: (seen.append(g.shape), real(op, s, g, *a))[1])
    s = make("contiguous", dtype, (40, 33))
    ck.tanh_backward(s, np.broadcast_to(np.asarray(0.5, dtype), s.shape))
    ck.tanh_backward(s, make("contiguous", dtype, s.shape))
    assert seen == [(1,), (40 * 33,)]


# gradients as they reach an op: a slice of a padded buffer (rows with gaps), the gradient
# of a mean over the last dim (broadcast along it), a permuted or reversed view, unaligned
STRIDED_G = ["transposed", "strided", "negative", "unaligned", "mean_of_rows"]


def make_g(layout, dtype, shape):
    if layout == "mean_of_rows":
        return np.broadcast_to(make("contiguous", dtype, shape[:-1] + (1,)), shape)
    return make(layout, dtype, shape)


@pytest.mark.parametrize("name", list(UNARY_BACKWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("g_layout", STRIDED_G)
def test_unary_backward_of_a_strided_gradient(ck, name, dtype, g_layout):
    """g in any layout: the reference's values, fresh and into a buffer"""
    low = UNARY_BACKWARD[name][1]
    s = make("contiguous", dtype, (6, 5), low=low, high=low + 4 if low >= 0 else -low)
    check_unary_backward(ck, name, s, make_g(g_layout, dtype, s.shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["transposed", "strided", "negative", "unaligned",
                                    "channels_last"])
def test_strided_inputs_take_the_compiled_pass_in_their_layout(ck, monkeypatch, dtype, layout):
    """a strided input or gradient is read in memory order (or copied once) by the compiled
    kernels, never handed to NumPy's several passes; the result keeps the input's layout
    (a channels_last input gives a channels_last result), as the reference's does"""
    from cgrad.backends import cython_backend as cb, numpy_backend as nb
    if layout == "channels_last":
        x = make("contiguous", dtype, (2, 5, 4, 3)).transpose(0, 3, 1, 2)
        g = make("contiguous", dtype, (2, 5, 4, 3)).transpose(0, 3, 1, 2)
    else:
        x = make(layout, dtype, (6, 5))
        g = make_g("mean_of_rows" if layout == "strided" else layout, dtype, x.shape)
    forward = ("relu", "gelu", "sigmoid")
    backward = ("relu_backward", "gelu_backward", "hardswish_backward")
    want = [getattr(REF, name)(x) for name in forward]
    want += [getattr(REF, name)(x, g) for name in backward]
    for name in forward:
        monkeypatch.setattr(nb.NumpyKernels, name, None)        # a call would raise
    kernels, calls = cb._ew_for[np.dtype(dtype)], []
    for name in ("unary_", "unary_backward_"):      # (the backwards hold NumPy's at import)
        real = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, real=real, **k: (calls.append(1),
                                                                     real(*a, **k))[1])
    got = [getattr(ck, name)(x) for name in forward]
    for name in backward:
        before = len(calls)
        got.append(getattr(ck, name)(x, g))
        assert len(calls) > before, name            # the compiled pass ran
    for name, ours, theirs in zip(forward + backward, got, want):
        assert_same(ours, theirs, name.startswith(("relu", "hardswish")))
        if layout != "strided":       # (NumPy's order for a strided s and a broadcast g varies)
            assert ours.strides == theirs.strides, (name, ours.strides, theirs.strides)


def test_unary_kernel_takes_one_repeated_g():
    """unary_backward_ with a one-element g gives every element that g; another length is
    refused, naming it"""
    from cgrad._C import elementwise as ew
    s = np.linspace(-3, 3, 1000).astype(np.float32)
    out = np.empty_like(s)
    ew.unary_backward_(ew.TANH, s, np.float32([0.5]), out, False)
    want = np.empty_like(s)
    ew.unary_backward_(ew.TANH, s, np.full_like(s, 0.5), want, False)
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="g has 2 elements, expected 1000"):
        ew.unary_backward_(ew.TANH, s, np.float32([0.5, 1]), out, False)


@pytest.mark.parametrize("name", list(UNARY_FORWARD))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unary_forward(ck, name, dtype, layout):
    call, exact = UNARY_FORWARD[name]
    x = make(layout, dtype, (6, 5), low=-6.0, high=6.0)
    with np.errstate(all="ignore"):
        assert_same(call(ck, x), call(REF, x), exact)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_special_values(ck, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 50.0, -50.0, 4.5, -4.5,
                  100.0, -100.0, 3.0, -3.0, 6.0], dtype)
    g = np.linspace(-1, 1, x.size).astype(dtype)
    with np.errstate(all="ignore"):
        for name, (call, exact) in UNARY_FORWARD.items():
            assert_same(call(ck, x), call(REF, x), exact)
        for name in ("tanh", "relu"):        # the sign of a zero (allclose would not see it)
            got, want = getattr(ck, name)(x), getattr(REF, name)(x)
            np.testing.assert_array_equal(np.signbit(got[x == 0]), np.signbit(want[x == 0]))
        for name, (call, low, exact) in UNARY_BACKWARD.items():
            if name.startswith("gelu") or name.startswith("pow"):
                continue        # kinks and overflow handled alike but not to the last bit
            assert_same(call(ck, x, g, None), call(REF, x, g, None), exact)


def test_unary_integer_and_mixed_inputs_fall_back(ck):
    ints = np.arange(-3, 9).reshape(3, 4)
    assert_same(ck.relu(ints), REF.relu(ints))
    assert_same(ck.clamp(ints, -1, 2), REF.clamp(ints, -1, 2))
    x32 = make("contiguous", np.float32, (3, 4))
    g64 = make("contiguous", np.float64, (3, 4))
    assert_same(ck.tanh_backward(x32, g64), REF.tanh_backward(x32, g64))
    assert_same(ck.clamp(x32, np.float32(0.1), None), REF.clamp(x32, np.float32(0.1), None))


def test_unary_bad_shapes(ck):
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)"):
        ck.tanh_backward(np.ones(3), np.ones(4))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_streams_big_buffers_exactly(ck, dtype, threads):
    """zero_ writes +0.0 over exactly its elements, below and above the 8 MiB where it
    switches to streaming stores, from any start (a view one element in) and any length, on
    one thread or split into whole-line shares over several (the last share shorter)."""
    from cgrad._C import grad as gmod
    itemsize = np.dtype(dtype).itemsize
    before = cgrad.get_num_threads()
    cgrad.set_num_threads(threads)
    try:
        for nbytes in (4096, 1 << 18, (8 << 20) - 8, 8 << 20, (8 << 20) + 200, 33 << 20):
            n = nbytes // itemsize
            for start in (0, 1, 3):
                buf = np.full(n + 8, -1.5, dtype)
                view = buf[start:start + n - 5]
                gmod.zero_(view)
                assert not np.signbit(view).any() and not view.any()
                np.testing.assert_array_equal(buf[:start], -1.5)
                np.testing.assert_array_equal(buf[start + n - 5:], -1.5)
        big = np.full((1 << 21) + 3, 2.0, dtype).reshape(-1)[1:]
        assert ck.zero_(big) is big and not big.any()
    finally:
        cgrad.set_num_threads(before)


def test_unary_module_checks():
    from cgrad._C import elementwise as ew
    with pytest.raises(ValueError, match="g has 4 elements, expected 3"):
        ew.unary_backward_(ew.TANH, np.ones(3), np.ones(4), np.empty(3), False)
    with pytest.raises(ValueError, match="out"):
        ew.unary_(ew.RELU, np.ones(3), np.empty(2))
    with pytest.raises(ValueError, match="aux"):
        ew.unary_backward_(ew.GELU_TANH, np.ones(3), np.ones(3), np.empty(3), False)  # float64
    with pytest.raises(ValueError, match="exponent"):
        ew.unary_(ew.POW_INT, np.ones(3), np.empty(3), 100.0)
    with pytest.raises((TypeError, ValueError)):
        ew.unary_(ew.RELU, np.ones(3), np.empty(3, np.float32))
    with pytest.raises(ValueError, match="read-only"):
        ew.unary_(ew.RELU, np.ones(3), np.broadcast_to(np.ones(3), 3))


def _given_unary(names):
    """hypothesis shapes (0-3 dims, zero-size sides), dtypes, one of names, layouts"""
    return given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7),
                 st.sampled_from(DTYPES), st.sampled_from(list(names)),
                 st.sampled_from(["contiguous", "transposed", "negative", "broadcast"]))


@settings(max_examples=60, deadline=None)
@_given_unary(UNARY_BACKWARD)
def test_unary_hypothesis(shape, dtype, name, layout):
    k = _all_compiled(CythonKernels())
    call, low, exact = UNARY_BACKWARD[name]
    s = make(layout, dtype, shape, low=low, high=low + 4 if low >= 0 else -low)
    g = make("contiguous", dtype, shape)
    assert_same(call(k, s, g, None), call(REF, s, g, None), exact)


@settings(max_examples=60, deadline=None)
@_given_unary(UNARY_FORWARD)
def test_unary_forward_hypothesis(shape, dtype, name, layout):
    k = _all_compiled(CythonKernels())
    call, exact = UNARY_FORWARD[name]
    x = make(layout, dtype, shape, low=-6.0, high=6.0)
    with np.errstate(all="ignore"):
        assert_same(call(k, x), call(REF, x), exact)


# ---- optimizers --------------------------------------------------------------------------
SGD_CASES = [dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
             dict(momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=False, maximize=False),
             dict(momentum=0.9, dampening=0.1, weight_decay=0.0, nesterov=True, maximize=True),
             dict(momentum=0.5, dampening=0.5, weight_decay=0.3, nesterov=False, maximize=True)]
ADAM_CASES = [dict(weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False),
              dict(weight_decay=0.1, amsgrad=False, maximize=False, decoupled_weight_decay=True),
              dict(weight_decay=0.1, amsgrad=True, maximize=True, decoupled_weight_decay=False),
              dict(weight_decay=0.0, amsgrad=True, maximize=False, decoupled_weight_decay=True)]
RMSPROP_CASES = [dict(weight_decay=0.0, momentum=0.0, centered=False, maximize=False),
                 dict(weight_decay=0.1, momentum=0.9, centered=True, maximize=False),
                 dict(weight_decay=0.0, momentum=0.5, centered=False, maximize=True),
                 dict(weight_decay=0.2, momentum=0.0, centered=True, maximize=True)]
ADAGRAD_CASES = [dict(lr_decay=0.0, weight_decay=0.0, maximize=False),
                 dict(lr_decay=0.01, weight_decay=0.1, maximize=True)]


def _opt_state(dtype, shapes, layout, rng):
    params = [make(layout, dtype, s, rng) for s in shapes]
    if layout == "readonly":        # a read-only *gradient* is fine; params must be writeable
        params = [p.copy() for p in params]
    grads = [make(layout, dtype, s, rng) for s in shapes]
    return params, grads


def _run_optimizer(k, name, case, dtype, layout, steps=3, lr=None, first_step=1):
    rng = np.random.default_rng(3)
    shapes = [(40, 30), (30,), (), (0, 3)]
    params, grads = _opt_state(dtype, shapes, layout, rng)
    params = [np.array(p) if not p.flags.writeable else p for p in params]
    zeros = [np.zeros(p.shape, dtype) for p in params]
    if name == "sgd":
        bufs = [None] * len(params)
        for _ in range(steps):
            k.sgd_step_(params, grads, bufs, lr=0.1, **case)
        return params, bufs
    if name == "adam":
        m, v, vmax = ([z.copy() for z in zeros] for _ in range(3))
        for t in range(first_step, first_step + steps):
            k.adam_step_(params, grads, m, v, vmax if case["amsgrad"] else [None] * len(params),
                         [t] * len(params), lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, **case)
        return params, m, v, vmax
    if name == "adam_beta1_big":      # lerp's other branch (1 - beta1 >= 0.5)
        m, v = ([z.copy() for z in zeros] for _ in range(2))
        for t in range(1, steps + 1):
            k.adam_step_(params, grads, m, v, [None] * len(params), [t] * len(params), lr=1e-2,
                         beta1=0.3, beta2=0.9, eps=1e-6, **case)
        return params, m, v
    if name == "rmsprop":
        sq, buf, avg = ([z.copy() for z in zeros] for _ in range(3))
        for _ in range(steps):
            k.rmsprop_step_(params, grads, sq,
                            buf if case["momentum"] > 0 else [None] * len(params),
                            avg if case["centered"] else [None] * len(params), lr=1e-2,
                            alpha=0.99, eps=1e-8, **case)
        return params, sq, buf, avg
    if name == "adagrad":
        sums = [np.full(p.shape, 0.1, dtype) for p in params]
        for t in range(1, steps + 1):
            k.adagrad_step_(params, grads, sums, [t] * len(params), lr=1e-2, eps=1e-10, **case)
        return params, sums
    raise ValueError(name)


OPT_CASES = ([("sgd", c) for c in SGD_CASES] + [("adam", c) for c in ADAM_CASES]
             + [("adam_beta1_big", ADAM_CASES[1])] + [("rmsprop", c) for c in RMSPROP_CASES]
             + [("adagrad", c) for c in ADAGRAD_CASES])


@pytest.mark.parametrize("name,case", OPT_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(OPT_CASES)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "negative", "readonly",
                                    "unaligned"])
def test_optimizer_matches_numpy_bit_for_bit(ck, name, case, dtype, layout):
    got = _run_optimizer(ck, name, case, dtype, layout)
    want = _run_optimizer(REF, name, case, dtype, layout)
    for g_list, w_list in zip(got, want):
        for g, w in zip(g_list, w_list):
            if w is None:
                assert g is None
            else:
                assert_same(g, w)


@pytest.mark.parametrize("case", ADAM_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first_step", [16000, 20000, 40000])
def test_adam_late_steps_match_numpy_bit_for_bit(ck, case, dtype, first_step):
    """Late steps, where sqrt(1 - beta2**t) is just below 1 or rounds to 1 (from ~16,600
    steps at beta2 0.999 in float32, ~36,600 in float64): the kernel skips its division by
    that 1, and every bit stays the reference's."""
    got = _run_optimizer(ck, "adam", case, dtype, "contiguous", first_step=first_step)
    want = _run_optimizer(REF, "adam", case, dtype, "contiguous", first_step=first_step)
    for g_list, w_list in zip(got, want):
        for g, w in zip(g_list, w_list):
            assert_same(g, w)


def _adam_stress_grads(dtype):
    """Gradients whose first-step sqrt(v) fills a binade densely and spans every magnitude,
    with the values that stress a division: 0 and -0, squares that are subnormal or 0 and
    squares that overflow, the extremes of the type, inf and NaN."""
    rng = np.random.default_rng(7)
    info = np.finfo(dtype)
    lo, hi = (-80, 70) if dtype == np.float32 else (-560, 520)
    special = [0.0, -0.0, info.smallest_subnormal, info.tiny, info.max, -info.max, 1e-30,
               1e30, 2.0 ** (hi - 5), np.inf, -np.inf, np.nan]
    parts = [1 + rng.random(1 << 17), -(1 + rng.random(1 << 10)),
             np.exp2(rng.uniform(lo, hi, 1 << 16)) * rng.choice([-1.0, 1.0], 1 << 16),
             np.tile(special, 9)]
    return np.concatenate(parts).astype(dtype)


def _assert_bits(actual, expected):
    """Bit for bit, zero signs included; any NaN matches any NaN."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan)
    uint = np.uint32 if actual.dtype == np.float32 else np.uint64
    bad = np.flatnonzero(actual[~nan].view(uint) != expected[~nan].view(uint))
    assert bad.size == 0, (bad.size, actual[~nan][bad[:5]], expected[~nan][bad[:5]])


@pytest.mark.parametrize("case", ADAM_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta2", [0.999, 0.5, 0.99999])
def test_adam_division_by_bias_correction_is_exact(ck, case, dtype, beta2):
    """Where the build has FMA, sqrt(v) / sqrt(1 - beta2**t) is a product and a correction
    (Markstein's), not a division: every bit must still be the division's, on every
    magnitude of v, on 0, inf and NaN, at several divisors."""
    with np.errstate(all="ignore"):
        out = []
        for k in (ck, REF):
            g = _adam_stress_grads(dtype)
            p = np.linspace(-1, 1, g.size).astype(dtype)
            m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
            for t in (1, 2, 7):
                k.adam_step_([p], [g], [m], [v], [vmax if case["amsgrad"] else None], [t],
                             lr=1e-2, beta1=0.9, beta2=beta2, eps=1e-8, **case)
            out.append((p, m, v, vmax))
    for got, want in zip(*out):
        _assert_bits(got, want)


def test_sgd_creates_momentum_buffers_as_numpy_does(ck):
    p = [np.ones((3, 4), np.float32)]
    g = [np.full((3, 4), 0.5, np.float32)]
    bufs = [None]
    ck.sgd_step_(p, g, bufs, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False)
    assert bufs[0] is not None and bufs[0] is not g[0] and bufs[0].dtype == np.float32
    np.testing.assert_array_equal(bufs[0], g[0])


def test_optim_module_checks():
    from cgrad._C import optim
    p, g = np.ones(4), np.ones(3)
    with pytest.raises(ValueError, match="g has 3 elements, expected 4"):
        optim.sgd_(p, g, p, 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(ValueError, match="step"):
        optim.adam_(p, p, p, p, p, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False, 0)
    with pytest.raises((TypeError, ValueError)):
        optim.adagrad_(p, p.astype(np.float32), p, 0.1, 0.0, 0.0, 1e-10, False, 1)


def test_optimizers_same_bits_for_any_thread_count(ck, threads):
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(200_000).astype(np.float32)
    g = rng.standard_normal(200_000).astype(np.float32)

    def step():
        p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        ck.adam_step_([p], [g], [m], [v], [None], [1], lr=1e-3, beta1=0.9, beta2=0.999,
                      eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=False,
                      decoupled_weight_decay=True)
        return p, m, v
    one, two = threads(step)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ---- linear algebra (BLAS) -----------------------------------------------------------------
BLAS_TOL = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-4),
            np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}
MATMUL_SHAPES = [((7, 5), (5, 6)), ((3, 7, 5), (3, 5, 6)), ((3, 7, 5), (5, 6)),
                 ((7, 5), (3, 5, 6)), ((2, 3, 7, 5), (2, 3, 5, 6)), ((1, 5), (5, 1)),
                 ((2, 3, 7, 5), (5, 6)), ((0, 5), (5, 6)), ((7, 0), (0, 6)),
                 ((2, 1, 7, 5), (1, 3, 5, 6)), ((3, 7, 5), (2, 3, 5, 6))]


def _blas_close(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, **BLAS_TOL[expected.dtype])


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "negative",
                                    "unaligned", "readonly"])
@pytest.mark.parametrize("use_acc", [False, True])
def test_matmul_backward(ck, shapes, dtype, layout, use_acc):
    rng = np.random.default_rng(7)
    a = make(layout, dtype, shapes[0], rng)
    b = make("transposed" if layout == "contiguous" else "contiguous", dtype, shapes[1], rng)
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    g = make(layout if layout != "strided" else "contiguous", dtype, out_shape, rng)
    want = [reduce_to(w, x.shape) for w, x in zip(REF.matmul_backward(a, b, g), (a, b))]
    if use_acc:
        acc = [np.full(a.shape, 0.5, dtype), np.full(b.shape, -1.0, dtype)]
        got = list(ck.matmul_backward(a, b, g, True, True, *acc))
        for i, x in enumerate((a, b)):
            if x.shape[:-2] in ((), out_shape[:-2]):
                assert got[i] is acc[i]           # added in place
            else:    # batch dims broadcast: the whole gradient, for the engine to sum and add
                assert got[i].shape == out_shape[:-2] + x.shape[-2:]
                got[i] = reduce_to(got[i], x.shape) + acc[i]
        want = [want[0] + dtype(0.5), want[1] - dtype(1.0)]
    else:
        got = ck.matmul_backward(a, b, g)
    for x, y, inp in zip(got, want, (a, b)):
        _blas_close(reduce_to(x, inp.shape), y)
    ga, gb = ck.matmul_backward(a, b, g, False, True)
    assert ga is None
    _blas_close(reduce_to(gb, b.shape), want[1] if not use_acc else want[1] + dtype(1.0))
    # one side wanted: the op saves only the other operand, so the unneeded one is None
    ga, gb = ck.matmul_backward(a, None, g, False, True)
    assert ga is None
    _blas_close(reduce_to(gb, b.shape), want[1] if not use_acc else want[1] + dtype(1.0))
    ga, gb = ck.matmul_backward(None, b, g, True, False)
    assert gb is None
    _blas_close(reduce_to(ga, a.shape), want[0] if not use_acc else want[0] - dtype(0.5))


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "negative",
                                    "unaligned", "readonly"])
def test_matmul_forward(ck, shapes, dtype, layout):
    rng = np.random.default_rng(5)
    a = make(layout, dtype, shapes[0], rng)
    b = make("transposed" if layout == "contiguous" else layout, dtype, shapes[1], rng)
    _blas_close(ck.matmul(a, b), REF.matmul(a, b))


def _read_in_place(kind, dtype, rng):
    """(a, b) of matmul as attention and broadcasts hand them over: views whose matrices
    gemm reads where they are (rows some elements apart, one batch stride), except the last
    kind (two batch strides: copied once)"""
    def base(*shape):
        return rng.standard_normal(shape).astype(dtype)
    if kind == "heads":                       # (L, N H, D) projections seen as (N H, L, D)
        q, k = base(9, 12, 5).transpose(1, 0, 2), base(9, 12, 5).transpose(1, 0, 2)
        return q, np.swapaxes(k, 1, 2)                          # q @ k^T
    if kind == "padded_rows":
        return base(3, 7, 8)[..., :5], base(3, 5, 11)[..., 2:8]
    if kind == "broadcast_batch":
        return base(4, 7, 5), np.broadcast_to(base(5, 6), (4, 5, 6))
    return base(2, 9, 3, 5).transpose(0, 2, 1, 3), base(2, 3, 5, 6)     # (N, H, L, D)


@pytest.mark.parametrize("kind", ["heads", "padded_rows", "broadcast_batch", "two_strides"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_reads_strided_matrices_in_place(ck, monkeypatch, kind, dtype):
    """matmul and its backward (both gradients, fresh and into buffers) on views with gaps
    between rows or batches: the reference's values, without a copy where one batch
    stride reaches every matrix"""
    rng = np.random.default_rng(3)
    a, b = _read_in_place(kind, dtype, rng)
    g = rng.standard_normal(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
                            + (a.shape[-2], b.shape[-1])).astype(dtype)
    want = [REF.matmul(a, b)] + [reduce_to(w, x.shape)
                                 for w, x in zip(REF.matmul_backward(a, b, g), (a, b))]
    acc = [np.ones(a.shape, dtype), np.ones(b.shape, dtype)]
    copies = []
    real = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda x, *r, **k: (copies.append(x.shape),
                                                                     real(x, *r, **k))[1])
    got = [ck.matmul(a, b)] + [reduce_to(w, x.shape)
                               for w, x in zip(ck.matmul_backward(a, b, g), (a, b))]
    added = ck.matmul_backward(a, b, g, True, True, *acc)
    monkeypatch.undo()
    for ours, theirs in zip(got, want):
        _blas_close(ours, theirs)
    for i, (ours, x) in enumerate(zip(added, (a, b))):
        if ours is acc[i]:
            _blas_close(ours, want[1 + i] + dtype(1))
        else:                     # (a broadcast side: the whole gradient, for the engine)
            _blas_close(reduce_to(ours, x.shape), want[1 + i])
    assert (copies == []) == (kind != "two_strides"), copies


@pytest.mark.parametrize("x_shape", [(9, 6), (2, 4, 6), (6,), (1, 6), (0, 6)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "negative", "unaligned"])
@pytest.mark.parametrize("bias", [False, True])
def test_linear_forward(ck, x_shape, dtype, layout, bias):
    """x @ w^T + b with the bias copied into the output and the product added by gemm."""
    rng = np.random.default_rng(6)
    x = make(layout, dtype, x_shape, rng)
    w = make(layout, dtype, (5, 6), rng)
    b = make("contiguous", dtype, (5,), rng) if bias else None
    _blas_close(ck.linear(x, w, b), REF.linear(x, w, b))


def test_matmul_forward_mixed_and_vectors_fall_back(ck):
    a32, b64 = make("contiguous", np.float32, (4, 3)), make("contiguous", np.float64, (3, 5))
    _blas_close(ck.matmul(a32, b64), REF.matmul(a32, b64))
    v = make("contiguous", np.float32, (3,))
    _blas_close(ck.matmul(a32, v), REF.matmul(a32, v))
    w32 = b64.T.astype(np.float32)
    _blas_close(ck.linear(a32, w32, None), REF.linear(a32, w32))
    with pytest.raises(ValueError):
        ck.matmul(np.ones((4, 3), np.float32), np.ones((2, 5), np.float32))


@pytest.mark.parametrize("x_shape", [(9, 6), (2, 4, 6), (6,), (1, 6)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "negative"])
@pytest.mark.parametrize("use_acc", [False, True])
def test_linear_backward(ck, x_shape, dtype, layout, use_acc):
    rng = np.random.default_rng(8)
    x = make(layout, dtype, x_shape, rng)
    w = make(layout, dtype, (5, 6), rng)
    g = make(layout, dtype, x_shape[:-1] + (5,), rng)
    want = REF.linear_backward(x, w, g)
    acc = [None] * 3
    if use_acc:
        acc = [np.full(x.shape, 0.25, dtype), np.full(w.shape, 0.5, dtype),
               np.full(5, -1.0, dtype)]
        want = [want[0] + dtype(0.25), want[1] + dtype(0.5), want[2] - dtype(1.0)]
    got = ck.linear_backward(x, w, g, True, True, True, *acc)
    for i in range(3):
        if use_acc:
            assert got[i] is acc[i]
        _blas_close(got[i], want[i])
    gx, gw, gb = ck.linear_backward(x, w, g, False, True, False)
    assert gx is None and gb is None
    _blas_close(gw, REF.linear_backward(x, w, g)[1])


def test_matmul_backward_mixed_and_mismatched_fall_back(ck):
    a32 = make("contiguous", np.float32, (4, 3))
    b64 = make("contiguous", np.float64, (3, 5))
    g64 = make("contiguous", np.float64, (4, 5))
    for x, y in zip(ck.matmul_backward(a32, b64, g64), REF.matmul_backward(a32, b64, g64)):
        _blas_close(x, y)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        ck.matmul_backward(np.ones((4, 3)), np.ones((2, 5)), np.ones((4, 5)))
    for k in (ck, CythonKernels(), REF):   # the compiled path, a size NumPy's takes, NumPy
        with pytest.raises(ValueError, match=r"\(4, 3\).*\(5, 3\).*\(4, 4\)"):
            k.linear_backward(np.ones((4, 3)), np.ones((5, 3)), np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        ck.mul_backward(np.ones(3), np.ones(3), np.ones(4))


def test_gemm_module_checks():
    from cgrad._threads import load_linalg
    linalg = load_linalg()          # (names the BLAS, as the first matrix product would)
    a, b, c = np.ones(6), np.ones(6), np.empty(4)
    linalg.gemm_(False, False, 2, 2, 3, a, 3, b, 2, 0.0, c, 2)
    np.testing.assert_array_equal(c, 3.0)
    with pytest.raises(ValueError, match="a has 6 elements"):
        linalg.gemm_(False, False, 3, 2, 3, a, 3, b, 2, 0.0, c, 2)
    with pytest.raises(ValueError, match="leading dimension"):
        linalg.gemm_(False, False, 2, 2, 3, a, 2, b, 2, 0.0, c, 2)
    with pytest.raises(ValueError, match="c has 4 elements"):
        linalg.gemm_(False, False, 2, 2, 3, a, 3, b, 2, 0.0, c, 2, 2, 0, 0, 4)
    with pytest.raises((TypeError, ValueError)):
        linalg.gemm_(False, False, 2, 2, 3, a, 3, b.astype(np.float32), 2, 0.0, c, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, n, k", [(1, 37, 29), (37, 1, 29), (1, 1, 29), (37, 29, 1),
                                     (1, 29, 1), (29, 1, 1), (1, 1, 1)])
def test_gemm_vectors_and_outer_products(dtype, ta, tb, m, n, k):
    """gemm_'s single rows and columns (its gemv) and k = 1 (its outer product, or BLAS's
    where op(b)'s row is strided): every flag, leading dimensions wider than the matrices,
    beta 0 over a c of NaN (never read), 1 and 0.5, separate and summed batches"""
    from cgrad._threads import load_linalg
    linalg = load_linalg()
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    batch, pad = 3, 3
    sa_rows, sa_cols = (k, m) if ta else (m, k)        # a and b as stored, row-major
    sb_rows, sb_cols = (n, k) if tb else (k, n)
    lda, ldb, ldc = sa_cols + pad, sb_cols + pad, n + pad
    a = rng.standard_normal((batch, sa_rows, lda)).astype(dtype)
    b = rng.standard_normal((batch, sb_rows, ldb)).astype(dtype)
    A, Bm = a[:, :, :sa_cols], b[:, :, :sb_cols]
    A, Bm = (np.swapaxes(A, 1, 2) if ta else A), (np.swapaxes(Bm, 1, 2) if tb else Bm)
    exact = A.astype(np.float64) @ Bm.astype(np.float64)           # (batch, m, n)
    tol = BLAS_TOL[np.dtype(dtype)]
    for beta in (0.0, 1.0, 0.5):
        c0 = rng.standard_normal((batch, m, ldc)).astype(dtype)
        c = np.full_like(c0, np.nan) if beta == 0 else c0.copy()
        linalg.gemm_(ta, tb, m, n, k, a.reshape(-1), lda, b.reshape(-1), ldb, beta,
                     c.reshape(-1), ldc, batch, sa_rows * lda, sb_rows * ldb, m * ldc)
        want = exact + beta * c0[:, :, :n]
        np.testing.assert_allclose(c[:, :, :n], want, **tol)
        if beta:
            assert_same(c[:, :, n:], c0[:, :, n:])                     # the padding kept
        summed = c0[0].copy()                                          # sc = 0: one c
        linalg.gemm_(ta, tb, m, n, k, a.reshape(-1), lda, b.reshape(-1), ldb, beta,
                     summed.reshape(-1), ldc, batch, sa_rows * lda, sb_rows * ldb, 0)
        np.testing.assert_allclose(summed[:, :n], exact.sum(0) + beta * c0[0, :, :n], **tol)
        shared = c0.copy()                                  # sb = 0: one b for every a
        linalg.gemm_(ta, tb, m, n, k, a.reshape(-1), lda, b.reshape(-1), ldb, beta,
                     shared.reshape(-1), ldc, batch, sa_rows * lda, 0, m * ldc)
        np.testing.assert_allclose(shared[:, :, :n], A.astype(np.float64) @ Bm[0].astype(
            np.float64) + beta * c0[:, :, :n], **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_and_outer_products_run_compiled(dtype, monkeypatch):
    """with the default thresholds, the outer products NumPy takes badly (k = 1, 2^12
    elements or more) go to the kernels, and so do the backward passes that hold one (the
    NumPy fallbacks raise), fresh and into gradient buffers, from a broadcast g as a sum's
    backward gives it: the reference's values. A matrix times a vector stays NumPy's."""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    ck = CythonKernels()
    rng = np.random.default_rng(11)

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    def boom(*args, **kwargs):
        raise AssertionError("fell back to NumPy")
    # (a, b, whether the forward's product is an outer one, the backward's)
    products = [(r(1, 300), r(300, 300), False, True), (r(300, 300), r(300, 1), False, True),
                (r(300, 1), r(1, 300), True, False), (r(3, 1, 200), r(200, 200), False, True),
                (r(1, 1), r(1, 5000), True, False), (r(64, 1), r(1, 32), False, False)]
    for a, b, outer_forward, outer_backward in products:
        y = REF.matmul(a, b)
        g = np.broadcast_to(dtype(0.5), y.shape)
        grads = REF.matmul_backward(a, b, g)
        with monkeypatch.context() as patch:
            if outer_forward:
                patch.setattr(NumpyKernels, "matmul", boom)
            _blas_close(ck.matmul(a, b), y)
        with monkeypatch.context() as patch:
            if outer_backward:
                patch.setattr(NumpyKernels, "matmul_backward", boom)
            for got, expect, x in zip(ck.matmul_backward(a, b, g), grads, (a, b)):
                _blas_close(reduce_to(got, x.shape), reduce_to(expect, x.shape))
            if a.ndim == 2:
                acc = [np.ones(a.shape, dtype), np.ones(b.shape, dtype)]
                got = ck.matmul_backward(a, b, g, True, True, *acc)
                assert got[0] is acc[0] and got[1] is acc[1]
                for got_one, expect in zip(got, grads):
                    _blas_close(got_one, expect + 1)
    x, w = r(1, 128), r(96, 128)                       # one row: its weight's is outer
    g = np.broadcast_to(dtype(-2.0), (1, 96))
    want = REF.linear_backward(x, w, g)
    monkeypatch.setattr(NumpyKernels, "linear_backward", boom)
    for got, expect in zip(ck.linear_backward(x, w, g), want):
        _blas_close(got, expect)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_of_a_gradient_with_gaps_between_rows(ck, dtype):
    """g a column slice (cat's backward hands each Linear one): gemm reads it in place, the
    bias sums it; every gradient as the reference's, fresh and into buffers"""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((64, 24)).astype(dtype), rng.standard_normal((40, 24)).astype(dtype)
    g = rng.standard_normal((64, 100)).astype(dtype)[:, 30:70]
    want = REF.linear_backward(x, w, g)
    for ours, theirs in zip(ck.linear_backward(x, w, g), want):
        _blas_close(ours, theirs)
    acc = [np.ones(x.shape, dtype), np.ones(w.shape, dtype), np.ones(40, dtype)]
    for ours, theirs, buf in zip(ck.linear_backward(x, w, g, True, True, True, *acc), want,
                                 acc):
        assert ours is buf
        _blas_close(ours, theirs + dtype(1))


def test_linear_backward_without_saved_x_or_w(ck):
    """The op saves x only when the weight needs a gradient, w only when x does."""
    x, w, g = (make("contiguous", np.float32, s) for s in ((9, 6), (5, 6), (9, 5)))
    gx, gw, gb = ck.linear_backward(None, w, g, True, False, True)
    _blas_close(gx, REF.linear_backward(x, w, g)[0])
    assert gw is None
    _blas_close(gb, g.sum(axis=0))
    gx, gw, gb = ck.linear_backward(x, None, g, False, True, False)
    assert gx is None and gb is None
    _blas_close(gw, REF.linear_backward(x, w, g)[1])


# ---- softmax family, cross-entropy, sums ---------------------------------------------------
SOFTMAX_SHAPES = [(7, 5), (3, 4, 6), (5,), (1, 1), (4, 1), (2, 0), (0, 3), (9, 33)]


@pytest.fixture
def ck_rows(ck):
    """ck with the fused row kernels on for every size (exp_limit off)."""
    ck.exp_limit = 1 << 40
    return ck


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("log_", [False, True])
def test_softmax_forward_backward(ck_rows, shape, dtype, layout, log_):
    x = make(layout, dtype, shape, low=-30.0, high=30.0)
    g = make("contiguous", dtype, x.shape)          # (the empty layout's shape is its own)
    fwd, bwd = ("log_softmax", "log_softmax_backward") if log_ else ("softmax",
                                                                      "softmax_backward")
    for dim in {-1, len(shape) - 1, 0, len(shape) // 2}:
        with np.errstate(all="ignore"):
            y = getattr(ck_rows, fwd)(x, dim)
            assert_same(y, getattr(REF, fwd)(x, dim), exact=False)
            y = getattr(REF, fwd)(x, dim)
            assert_same(getattr(ck_rows, bwd)(y, g, dim), getattr(REF, bwd)(y, g, dim),
                        exact=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", [((4096, 8), 1), ((8, 40), 0), ((4, 6, 5), 1)], ids=str)
def test_softmax_backward_of_a_broadcast_or_strided_g_stays_compiled(ck_rows, monkeypatch,
                                                                     dtype, shape, dim):
    """g one value broadcast (a .sum()'s or .mean()'s gradient), or transposed, is copied once
    for the row and column kernels: the reference's values with its backward spied out"""
    rng = np.random.default_rng(25)
    x = rng.uniform(-30, 30, shape).astype(dtype)
    gs = [np.broadcast_to(np.asarray(0.5, dtype), shape),
          rng.standard_normal(shape[::-1]).astype(dtype).T]
    with np.errstate(all="ignore"):
        for fwd, bwd in (("softmax", "softmax_backward"),
                         ("log_softmax", "log_softmax_backward")):
            y = getattr(REF, fwd)(x, dim)
            want = [getattr(REF, bwd)(y, g, dim) for g in gs]
            with monkeypatch.context() as m:
                m.setattr(NumpyKernels, bwd, None)                 # no fallback
                for g, w in zip(gs, want):
                    assert_same(getattr(ck_rows, bwd)(y, g, dim), w, exact=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_rows(ck_rows, dtype):
    x = np.array([[1e4, -1e4, 0.0, 3.0], [np.nan, 1.0, 2.0, 3.0], [np.inf, 1.0, 2.0, 3.0],
                  [-np.inf, 1.0, 2.0, 3.0], [-np.inf] * 4, [-80.0, -90.0, -100.0, -110.0]],
                 dtype)
    with np.errstate(all="ignore"):
        for fwd in ("softmax", "log_softmax"):
            assert_same(getattr(ck_rows, fwd)(x, 1), getattr(REF, fwd)(x, 1), exact=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", [((3, 5, 2100), 1), ((2, 600, 70), 1), ((4000, 3), 0),
                                        ((2, 21, 8, 8), 1), ((5, 1, 40), 1), ((3, 40, 1, 1), 1)],
                         ids=str)
def test_softmax_along_a_middle_axis(ck_rows, monkeypatch, threads, dtype, shape, dim):
    """softmax and log_softmax off the last dim by the column kernel (NumPy's raises here):
    tasks wider than one, columns of hundreds of classes, a NaN, an inf and a column of -inf;
    the reference's values, the same bits at 1 and 2 threads"""
    rng = np.random.default_rng(21)
    x = rng.uniform(-30, 30, shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    moved = np.moveaxis(x, dim, -1)              # (a view: the writes land in x)
    columns = list(np.ndindex(moved.shape[:-1]))
    moved[columns[0] + (min(1, moved.shape[-1] - 1),)] = np.nan
    moved[columns[-1] + (0,)] = np.inf
    moved[columns[len(columns) // 2]] = -np.inf
    want = {}
    with np.errstate(all="ignore"):
        for fwd, bwd in (("softmax", "softmax_backward"),
                         ("log_softmax", "log_softmax_backward")):
            want[fwd] = getattr(REF, fwd)(x, dim), getattr(REF, bwd)(REF.softmax(x, dim), g, dim)
        for name in ("softmax", "softmax_backward", "log_softmax", "log_softmax_backward"):
            monkeypatch.setattr(NumpyKernels, name, None)
        for fwd, bwd in (("softmax", "softmax_backward"),
                         ("log_softmax", "log_softmax_backward")):
            ys = threads(lambda: getattr(ck_rows, fwd)(x, dim))
            gs = threads(lambda: getattr(ck_rows, bwd)(want["softmax"][0], g, dim))
            for got, ref in ((ys, want[fwd][0]), (gs, want[fwd][1])):
                np.testing.assert_array_equal(got[0], got[1])
                assert_same(got[0], ref, exact=False)


def test_softmax_cols_kernel_checked():
    from cgrad._C import reduce as rd
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3, 5\), expected \(2, 3, 4\)"):
        rd.softmax_cols_(x, np.empty((2, 3, 5), np.float32), False)
    with pytest.raises(ValueError, match="g has shape"):
        rd.softmax_cols_backward_(x, x[:1], np.empty_like(x), True)
    rd.softmax_cols_(x[:0], x[:0].copy(), True)                     # empty: nothing to do


@pytest.mark.parametrize("isa", ["", "avx2", "avx512"])
@pytest.mark.parametrize("c", [1, 2, 7, 8, 10, 15])
def test_short_rows_same_bits_as_long_rows(isa, c):
    """float32 rows of under 16 take their exps as one flat run over a block, and load a row
    followed by 16 elements whole: the same bits as the row-by-row path of a longer row,
    here the same rows padded with -inf to 17 classes (exp(-inf) adds +0, as a masked lane
    does). 40 rows: several blocks of 16, the last rows of each block loaded masked."""
    rmod = _build("reduce", isa)
    rng = np.random.default_rng(c)
    x = rng.uniform(-30, 30, (40, c)).astype(np.float32)
    x[3, 0] = x[5, c - 1] = np.nan            # NaN first in a row (every lane's start), and last
    x[7] = -np.inf
    x[9, c // 2] = np.inf
    t = rng.integers(0, c, 40)
    padded = np.full((40, 17), -np.inf, np.float32)
    padded[:, :c] = x

    def rows(a, width):
        outs = []
        for log_ in (False, True):
            o = np.empty_like(a)
            with np.errstate(all="ignore"):
                rmod.softmax_(a.reshape(-1), o.reshape(-1), 40, width, log_)
            outs.append(o[:, :c])
        o, losses, scale = np.empty_like(a), np.empty(40, np.float32), np.empty(40, np.float32)
        with np.errstate(all="ignore"):
            total, _ = rmod.cross_entropy_(a.reshape(-1), t, a[:0, 0], -100, 0.0,
                                           o.reshape(-1), losses, 40, width, True, scale)
        return outs + [o[:, :c], losses, scale, np.array(total)]

    for got, want in zip(rows(x, c), rows(padded, 17)):
        np.testing.assert_array_equal(got, want)


def test_kernel_exp_within_an_ulp():
    """The kernels' float32 exp, for the arguments they give it (x - max, -|x|, -x*x/2, a
    log-probability: all <= 0)."""
    from cgrad._C import reduce as rd
    x = np.concatenate([np.linspace(-110, 0, 200001), [np.nan, -np.inf, 0.0, -0.0, -1e-30,
                                                       -87.5, -103.9, -104.1]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    rd.exp_(x, out)
    with np.errstate(all="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    finite = np.isfinite(want) & (want > np.finfo(np.float32).tiny)
    assert ulps_apart(out, want)[finite].max() <= 1
    np.testing.assert_allclose(out[~finite], want[~finite], atol=2e-45)
    with pytest.raises(ValueError, match="x <= 0"):
        rd.exp_(np.array([-1.0, 0.5], np.float32), np.empty(2, np.float32))


CE_CASES = [dict(), dict(weight=True), dict(ignore_index=2), dict(label_smoothing=0.1),
            dict(weight=True, label_smoothing=0.2, ignore_index=0)]


@pytest.mark.parametrize("case", CE_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 5), (1, 1), (3, 40), (0, 4)], ids=str)
def test_cross_entropy(ck_rows, case, dtype, shape):
    rng = np.random.default_rng(11)
    n, c = shape
    logits = make("contiguous", dtype, shape, rng, low=-8.0, high=8.0)
    target = rng.integers(0, c, n) if c else np.zeros(n, np.int64)
    weight = rng.uniform(0.5, 2.0, c).astype(dtype) if case.get("weight") else None
    kw = dict(weight=weight, ignore_index=case.get("ignore_index", -100),
              label_smoothing=case.get("label_smoothing", 0.0))
    got = ck_rows.cross_entropy_forward(logits, target, **kw)
    want = REF.cross_entropy_forward(logits, target, **kw)
    assert_same(got[0], want[0], exact=False)
    assert_ce_sums(got, want)
    if kw["label_smoothing"] > 0:            # the log-probabilities, as NumPy saves them
        assert_same(got[1], want[1], exact=False)
    else:                                    # the softmax, which backward reads without an exp
        assert_same(got[1].p, np.exp(want[1]), exact=False)
    for saved in (got[1], want[1]):          # the probabilities from either's saved rows
        assert_same(ck_rows.cross_entropy_probs(saved), np.exp(want[1]), exact=False)
    g_rows = rng.uniform(0.1, 1.0, n).astype(dtype)
    expect = REF.cross_entropy_backward(want[1], target, g_rows, **kw)
    assert_same(ck_rows.cross_entropy_backward(got[1], target, g_rows, **kw), expect,
                exact=False)
    assert_same(ck_rows.cross_entropy_backward(want[1], target, g_rows, **kw), expect,
                exact=False)                 # log-probabilities from elsewhere still work
    g_all = dtype(0.75)                      # one g for every row (a "mean" or "sum")
    assert_same(ck_rows.cross_entropy_backward(got[1], target, np.asarray(g_all), **kw),
                REF.cross_entropy_backward(want[1], target, np.full(n, g_all), **kw),
                exact=False)
    for saved in (got[1], want[1]):          # added into a gradient buffer, in place
        acc = np.full(shape, 0.25, dtype)
        out = ck_rows.cross_entropy_backward(saved, target, g_rows, **kw, acc=acc)
        assert out is acc
        assert_same(acc, expect + dtype(0.25), exact=False)
    acc = np.full(shape, 0.25, dtype)
    assert REF.cross_entropy_backward(want[1], target, g_rows, **kw, acc=acc) is acc
    assert_same(acc, expect + dtype(0.25), exact=False)
    probs = rng.dirichlet(np.ones(c), n).astype(dtype) if c else np.zeros(shape, dtype)
    for a, b in zip(ck_rows.soft_cross_entropy_forward(logits, probs),
                    REF.soft_cross_entropy_forward(logits, probs)):
        assert_same(a, b, exact=False)
    assert_same(ck_rows.soft_cross_entropy_backward(want[1], probs, g_rows),
                REF.soft_cross_entropy_backward(want[1], probs, g_rows), exact=False)



CE_COLS_SHAPES = [(4, 5, 33), (2, 3, 1), (1, 1, 17), (0, 4, 7), (3, 2, 0), (2, 21, 3000)]


@pytest.mark.parametrize("case", CE_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "strided", "broadcast", "readonly"])
@pytest.mark.parametrize("shape", CE_COLS_SHAPES, ids=str)
def test_cross_entropy_along_the_classes_axis(ck_rows, threads, case, dtype, layout, shape):
    """(N, C, L) logits with (N, L) targets (a segmentation's loss per position): the compiled
    pass across the positions (contiguous logits; the others take NumPy's) gives NumPy's
    values, which are those of the (N L, C) rows; and the same bits at 1 and 2 threads
    (2, 21, 3000 is two tasks a batch row)."""
    rng = np.random.default_rng(12)
    n, c, length = shape
    logits = make(layout, dtype, shape, rng, low=-8.0, high=8.0)
    target = rng.integers(0, c, (n, length)) if c else np.zeros((n, length), np.int64)
    if case.get("ignore_index") is not None and target.size:
        target.flat[::3] = case["ignore_index"]
    weight = rng.uniform(0.5, 2.0, c).astype(dtype) if case.get("weight") else None
    kw = dict(weight=weight, ignore_index=case.get("ignore_index", -100),
              label_smoothing=case.get("label_smoothing", 0.0))
    g_each = rng.uniform(0.1, 1.0, (n, length)).astype(dtype)

    def run():
        losses, saved, total, denominator = ck_rows.cross_entropy_forward(logits, target, **kw)
        compiled = type(saved).__name__ == "_Softmax"
        assert compiled == (logits.flags.c_contiguous and c > 0), type(saved)
        return (losses, total, denominator, ck_rows.cross_entropy_probs(saved),
                ck_rows.cross_entropy_backward(saved, target, g_each, **kw),
                ck_rows.cross_entropy_backward(saved, target, np.asarray(dtype(0.75)), **kw),
                ck_rows.cross_entropy_backward(saved, target, g_each, **kw,
                                               acc=np.full(shape, 0.25, dtype)))
    got, again = threads(run)
    for a, b in zip(got, again):
        assert_same(a, b)
    want = REF.cross_entropy_forward(logits, target, **kw)
    assert_same(got[0], want[0], exact=False)
    assert_ce_sums(got[:1] + (None,) + got[1:3], want)
    assert_same(got[3], np.exp(want[1]), exact=False)
    expect = REF.cross_entropy_backward(want[1], target, g_each, **kw)
    assert_same(got[4], expect, exact=False)
    assert_same(got[5], REF.cross_entropy_backward(want[1], target, np.full(target.shape,
                                                   dtype(0.75)), **kw), exact=False)
    assert_same(got[6], expect + dtype(0.25), exact=False)
    # the reference itself: the rows' losses and gradients, laid out per position
    rows = np.ascontiguousarray(logits.transpose(0, 2, 1)).reshape(-1, c)
    by_rows = REF.cross_entropy_forward(rows, target.reshape(-1), **kw)
    assert_same(want[0].reshape(-1), by_rows[0], exact=False)
    rows_grad = REF.cross_entropy_backward(by_rows[1], target.reshape(-1), g_each.reshape(-1),
                                           **kw)
    assert_same(expect, rows_grad.reshape(n, length, c).transpose(0, 2, 1), exact=False)



@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "strided", "broadcast", "readonly"])
@pytest.mark.parametrize("shape", [(16, 5), (1, 1), (0, 4), (3, 0)] + CE_COLS_SHAPES, ids=str)
def test_nll_loss(ck, weighted, dtype, layout, shape):
    """nll_loss's gather and scatter on (N, C) rows and on (N, C, L) log-probabilities with
    (N, L) targets (a loss per position): the compiled kernels give NumPy's values, and
    NumPy's per position are those of the (N L, C) rows"""
    rng = np.random.default_rng(13)
    n, c = shape[:2]
    positions = shape[:1] + shape[2:]
    log_probs = make(layout, dtype, shape, rng, low=-8.0, high=0.0)
    target = rng.integers(0, c, positions) if c else np.full(positions, -100)
    target.flat[::4] = -100
    weight = rng.uniform(0.5, 2.0, c).astype(dtype) if weighted else None
    g = rng.uniform(0.1, 1.0, positions).astype(dtype)
    got, want = (k.nll_loss_forward(log_probs, target, weight) for k in (ck, REF))
    assert_same(got[0], want[0])
    assert_ce_sums(got[:1] + (None,) + got[1:], want[:1] + (None,) + want[1:])
    for g_rows in (g, np.asarray(dtype(0.75))):
        assert_same(ck.nll_loss_backward(target, g_rows, c, weight),
                    REF.nll_loss_backward(target, g_rows, c, weight))
    if len(shape) == 3:
        length = shape[2]
        rows = np.ascontiguousarray(log_probs.transpose(0, 2, 1)).reshape(-1, c)
        assert_same(want[0].reshape(-1),
                    REF.nll_loss_forward(rows, target.reshape(-1), weight)[0])
        by_rows = REF.nll_loss_backward(target.reshape(-1), g.reshape(-1), c, weight)
        assert_same(REF.nll_loss_backward(target, g, c, weight),
                    by_rows.reshape(n, length, c).transpose(0, 2, 1))
    bad = target.copy()
    if bad.size and c:
        bad.flat[-1] = c
        for k in (ck, REF):
            with pytest.raises(IndexError, match=f"Target {c} is out of bounds"):
                k.nll_loss_forward(log_probs, bad, weight)


def test_cross_entropy_along_the_classes_axis_checks_targets(ck_rows):
    logits = np.zeros((2, 3, 5), np.float32)
    target = np.zeros((2, 5), np.int64)
    target[1, 4] = 3
    for k in (ck_rows, REF):
        with pytest.raises(IndexError, match="Target 3 is out of bounds"):
            k.cross_entropy_forward(logits, target)
    from cgrad.backends.cython_backend import _rd
    e, scale, losses, none = np.empty_like(logits), np.empty(10, np.float32), \
        np.empty(10, np.float32), np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="e has shape"):
        _rd.cross_entropy_cols_(logits, target.reshape(-1) * 0, none, -100,
                                np.empty((2, 2, 5), np.float32), scale, losses)
    with pytest.raises(ValueError, match="scale has 9 elements, expected 10"):
        _rd.cross_entropy_cols_(logits, target.reshape(-1) * 0, none, -100, e, scale[:9],
                                losses)
    with pytest.raises(ValueError, match="target has 9 elements, expected 10"):
        _rd.cross_entropy_cols_(logits, target.reshape(-1)[:9] * 0, none, -100, e, scale,
                                losses)
    with pytest.raises(ValueError, match="g_rows has 9 elements, expected 10"):
        _rd.cross_entropy_cols_backward_(e, target.reshape(-1) * 0, scale[:9], none, -100,
                                         scale, e)

def assert_ce_sums(got, want):
    """cross_entropy_forward's total (the losses' sum, in a fixed order: not NumPy's pairwise
    one) and denominator (summed weights of the targets not ignored)"""
    losses, _, total, denominator = got
    assert type(total) is float and type(denominator) is float
    assert np.isclose(total, float(np.sum(losses, dtype=np.float64)),
                      rtol=TOL[losses.dtype]["rtol"] * 4, atol=1e-30)
    assert np.isclose(total, want[2], rtol=TOL[losses.dtype]["rtol"] * 4,
                      atol=TOL[losses.dtype]["atol"] * max(1, len(losses)))
    assert np.isclose(denominator, want[3], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_cross_entropy_kernel_with_no_classes(ck, dtype):
    """R rows of 0 classes: each loss a sum over nothing, 0 (the kernel left them unset)"""
    from cgrad.backends.cython_backend import _rd
    empty = np.zeros(0, dtype)
    losses = np.full(3, np.nan, dtype)
    _rd.soft_cross_entropy_(empty, empty, empty, losses, 3, 0)
    assert_same(losses, np.zeros(3, dtype))


def test_cross_entropy_kernel_sizes_checked(ck):          # (ck: skips without the build)
    from cgrad.backends.cython_backend import _rd
    x, t = np.zeros(12, np.float32), np.zeros(3, np.int64)
    out, losses, none = np.empty(12, np.float32), np.empty(3, np.float32), x[:0]
    with pytest.raises(ValueError, match="scale has 0 elements, expected 3"):
        _rd.cross_entropy_(x, t, none, -100, 0.0, out, losses, 3, 4, True)
    with pytest.raises(ValueError, match="scale has 2 elements, expected 3"):
        _rd.cross_entropy_backward_(x, t, none, none, -100, 0.0, 4.0, out, 3, 4, True, False,
                                    1.0, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="losses has 3 elements, expected 2"):
        _rd.cross_entropy_(x[:8], t[:2], none, -100, 0.0, out[:8], losses, 2, 4)
    with pytest.raises(ValueError, match="probs=True takes no label smoothing"):
        _rd.cross_entropy_backward_(x, t, none, none, -100, 0.1, 4.0, out, 3, 4, True, True,
                                    1.0, np.ones(3, np.float32))


def test_cross_entropy_kernel_arrays_checked(ck):
    """The arrays the cross-entropy kernels read through their data pointers (_arrays.pxd)
    are checked as typed memoryviews would be: dtype, one dimension, C order, writeable
    outputs, an ndarray at all; each error names the argument."""
    from cgrad.backends.cython_backend import _rd
    x, t = np.zeros(12, np.float32), np.zeros(3, np.int64)
    out, losses, none = np.empty(12, np.float32), np.empty(3, np.float32), x[:0]
    scale = np.empty(3, np.float32)
    bad = [
        (dict(target=t.astype(np.int32)), ValueError, "target has dtype int32, expected int64"),
        (dict(losses=losses.astype(np.float64)), ValueError,
         "losses has dtype float64, expected float32"),
        (dict(out=out.reshape(3, 4)), ValueError, "log_probs has 2 dimensions, expected 1"),
        (dict(out=np.empty(24, np.float32)[::2]), ValueError,
         "log_probs is not C-contiguous and aligned"),
        (dict(losses=_readonly(3)), ValueError, "losses is read-only"),
        (dict(scale=[0.0, 0.0, 0.0]), TypeError, "scale must be a NumPy array, not list"),
        (dict(weight=None), TypeError, "weight must be a NumPy array, not NoneType"),
    ]
    for change, error, message in bad:
        a = dict(target=t, weight=none, out=out, losses=losses, scale=scale)
        a.update(change)
        with pytest.raises(error, match=re.escape(message)):
            _rd.cross_entropy_(x, a["target"], a["weight"], -100, 0.0, a["out"], a["losses"],
                               3, 4, True, a["scale"])
    with pytest.raises(ValueError, match="out is read-only"):
        _rd.cross_entropy_backward_(x, t, none, none, -100, 0.0, 4.0, _readonly(12), 3, 4,
                                    True, False, 1.0, scale)
    with pytest.raises(ValueError, match="g_rows has dtype float64, expected float32"):
        _rd.cross_entropy_backward_(x, t, np.zeros(3), none, -100, 0.0, 4.0, out, 3, 4, True,
                                    False, 1.0, scale)
    _rd.cross_entropy_(x, t, none, -100, 0.0, out, losses, 3, 4, True, scale)   # all good
    assert np.allclose(losses, np.log(4)) and np.allclose(scale, 0.25)


def _readonly(n):
    a = np.zeros(n, np.float32)
    a.flags.writeable = False
    return a


def test_cross_entropy_total_keeps_float32_precision(ck_rows):
    """The kernel's loss total adds in double: a mean over 2^21 rows stays within float32
    rounding of the exact mean (a float32 running sum drifts by ~n/16 ulp)."""
    rng = np.random.default_rng(14)
    logits = rng.standard_normal((1 << 21, 3)).astype(np.float32)
    target = rng.integers(0, 3, 1 << 21)
    losses, _, total, _ = ck_rows.cross_entropy_forward(logits, target)
    exact = losses.astype(np.float64).sum()
    assert abs(np.float32(total) - exact) <= 2 * np.spacing(np.float32(exact))


# ---- transposed copies ------------------------------------------------------------------------
TRANSPOSED = [(1024, 1024), (37, 70), (16, 16), (1, 300), (3, 5, 33), (2, 3, 40, 17),
              (0, 16, 20), (4, 0, 7), (2500, 40), (2, 1030, 21)]   # (and rows of a in chunks)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", TRANSPOSED)
def test_transposed_copy_and_accumulate(ck, dtype, shape):
    """a transposed view (the last two axes swapped) made row-major, and added into a
    buffer, by the tiled kernel: the same values as NumPy's strided copy and add, tiles cut
    at any size, zero-size too; other layouts (sliced, both axes reversed, broadcast) take
    NumPy's"""
    rng = np.random.default_rng(9)
    base = rng.standard_normal(shape).astype(dtype)
    views = [base.swapaxes(-1, -2), base[..., ::2].swapaxes(-1, -2),
             base[..., ::-1, ::-1], np.broadcast_to(base[..., :1, :], base.shape).swapaxes(-1, -2)]
    for x in views:
        got = ck.as_contiguous(x)
        assert got.flags.c_contiguous
        # a copy if not row-major already (an empty array shares no memory with anything)
        assert np.shares_memory(got, base) == (x.flags.c_contiguous and x.size > 0)
        assert_same(got, REF.as_contiguous(x))
        acc = rng.standard_normal(x.shape).astype(dtype)
        want = acc + x
        assert ck.accumulate_(acc, x) is acc
        assert_same(acc, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, compact", [((6, 7, 9), (6, 7, 1)), ((6, 7, 9), (1, 7, 9)),
                                            ((6, 7, 9), (6, 1, 9)), ((6, 7, 9), (1, 7, 1)),
                                            ((6, 7, 9), ()), ((6, 7, 9), (6, 1, 1)),
                                            ((6, 7, 9), (1, 1, 9)), ((0, 7, 9), (0, 7, 1)),
                                            ((2, 3, 4, 5), (2, 1, 4, 1))], ids=str)
def test_accumulate_broadcast_gradient(ck, monkeypatch, dtype, shape, compact):
    """acc += g where g is a broadcast view (a sum's gradient expanded back): the add kernel's
    pass over acc (up to three grid dims: NumPy's add raises), the same bits as NumPy's add;
    a sliced view of g too"""
    if len(shape) == 3:
        monkeypatch.setattr(NumpyKernels, "accumulate_", None)
    rng = np.random.default_rng(10)
    small = rng.standard_normal(compact).astype(dtype)
    for g in (np.broadcast_to(small, shape),
              np.broadcast_to(np.repeat(small, 2, -1)[..., ::2] if small.ndim else small,
                              shape)):
        acc = rng.standard_normal(shape).astype(dtype)
        want = acc + g
        assert ck.accumulate_(acc, g) is acc
        assert_same(acc, want)


def test_transpose_kernel_checked(ck):
    from cgrad._C import grad
    a = np.zeros((1, 4, 6), np.float32)
    with pytest.raises(ValueError, match=r"d has shape \(1, 4, 6\), expected \(1, 6, 4\)"):
        grad.transpose_into_(a, np.zeros((1, 4, 6), np.float32), False)
    with pytest.raises(ValueError):
        grad.transpose_into_(a, np.zeros((1, 6, 4), np.float64), False)
    grad.transpose_into_(a[:, :0], np.zeros((1, 6, 0), np.float32), True)    # empty: no-op


def test_transposed_gradient_of_a_leaf(backend):
    """x.t().contiguous(): its backward's transposed gradient becomes x.grad (fresh, then added)
    row-major, as NumPy's copy gives"""
    x = cgrad.randn(300, 500, requires_grad=True)
    g = cgrad.randn(500, 300)
    for _ in range(2):
        x.t().contiguous().backward(g)
    assert x.grad.is_contiguous()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * g.numpy().T)


# ---- running sums ------------------------------------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape, axis", [((70, 90), -1), ((70, 90), 0), ((6, 70, 90), 1),
                                         ((3, 5, 70), 2), ((1, 9), 0), ((5, 1, 3), 1)])
def test_running_sum(ck, layout, dtype, reverse, shape, axis):
    """the running sums along an axis, from either end: the same bits as the reference (a
    double sum from +0, rounded at each place), -0 never among them; rows four at a time
    (3, 5 and 70 of them: a short last group), other axes across the positions after them"""
    x = make(layout, dtype, shape)
    if x.size and x.flags.writeable:
        np.moveaxis(x, axis, 0)[0] = -0.0
    got = ck.running_sum(x, axis, reverse)
    assert_same(got, REF.running_sum(x, axis, reverse))
    assert got.flags.c_contiguous and not np.signbit(got[got == 0]).any()
    if x.size:
        exact = np.cumsum(np.flip(x, axis) if reverse else x, axis=axis, dtype=np.float64)
        want = (np.flip(exact, axis) if reverse else exact).astype(dtype) + dtype(0)
        np.testing.assert_array_equal(got, want)


def test_running_sum_same_bits_for_any_thread_count(ck, threads):
    """rows and the positions along other axes split among the threads: the same bits"""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 300, 1100)).astype(np.float32)
    for axis, reverse in ((-1, False), (1, True), (0, False)):
        one, two = threads(lambda: ck.running_sum(x, axis, reverse))
        assert_same(one, two)


@pytest.mark.parametrize("shape", [(5, 0), (0,), (0, 5), (3, 0, 4)])
def test_running_sum_empty(ck, shape):
    """empty arrays, whatever axis is 0 long: an empty result of their shape"""
    for reverse in (False, True):
        for axis in range(len(shape)):
            assert_same(ck.running_sum(np.zeros(shape, np.float32), axis, reverse),
                        REF.running_sum(np.zeros(shape, np.float32), axis, reverse))


def test_running_sum_kernels_checked(ck):
    from cgrad._C import reduce as rd
    with pytest.raises(ValueError, match=r"out has shape \(2, 3\), expected \(3, 2\)"):
        rd.cumsum_rows_(np.zeros((3, 2)), np.zeros((2, 3)), False)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3, 1\), expected \(2, 1, 3\)"):
        rd.cumsum_cols_(np.zeros((2, 1, 3)), np.zeros((2, 3, 1)), False)
    rd.cumsum_rows_(np.zeros((0, 2)), np.zeros((0, 2)), True)          # empty: no-op
    rd.cumsum_cols_(np.zeros((2, 0, 2)), np.zeros((2, 0, 2)), True)


# ---- mean squared error ----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_mse_loss(ck, layout, dtype, reduction):
    """the loss (a sum: within summation rounding) and both gradients (bit for bit: PyTorch's
    order of operations), fresh and added into buffers"""
    x = make(layout, dtype, (70, 90))
    y = make("contiguous", dtype, x.shape, np.random.default_rng(5))
    got, want = ck.mse_loss(x, y, reduction), REF.mse_loss(x, y, reduction)
    if reduction == "none":
        assert_same(got, want)
    else:
        terms = (x.astype(np.float64) - y) ** 2
        assert_sum_close(got, want, terms.sum() / (max(1, x.size) if reduction == "mean" else 1))
    scale = 2.0 / x.size if reduction == "mean" and x.size else 2.0
    g = (make("contiguous", dtype, x.shape) if reduction == "none"
         else np.asarray(0.75, dtype))
    for need_x, need_y in ((True, True), (True, False), (False, True)):
        got = ck.mse_loss_backward(x, y, g, scale, need_x, need_y)
        want = REF.mse_loss_backward(x, y, g, scale, need_x, need_y)
        for a, b in zip(got, want):
            assert (a is None) == (b is None)
            if a is not None:
                assert_same(a, b)
    acc_x, acc_y = (make("contiguous", dtype, x.shape, np.random.default_rng(k)) for k in (6, 7))
    want = REF.mse_loss_backward(x, y, g, scale, True, True, acc_x.copy(), acc_y.copy())
    got = ck.mse_loss_backward(x, y, g, scale, True, True, acc_x, acc_y)
    assert got[0] is acc_x and got[1] is acc_y
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])


def test_mse_total_keeps_float32_precision(ck):
    """Each block of 256 squared errors sums in 16 float32 lanes, the blocks in double: a mean
    over 2^22 elements within float32 rounding of the exact one, on 1 and 2 threads alike"""
    rng = np.random.default_rng(15)
    x, y = (rng.standard_normal(1 << 22).astype(np.float32) for _ in range(2))
    exact = ((x.astype(np.float64) - y) ** 2).mean()
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append(ck.mse_loss(x, y, "mean"))
    finally:
        cgrad.set_num_threads(before)
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].dtype == np.float32 and got[0].shape == ()
    assert abs(got[0] - exact) <= 2 * np.spacing(np.float32(exact))


def test_mse_kernels_checked(ck):
    from cgrad._C import reduce as rd
    x = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="y has 4 elements, expected 5"):
        rd.sq_diff_sum_(x, x[:4])
    with pytest.raises(ValueError, match="out"):
        rd.sq_diff_backward_(x, x, x[:3], 2.0, 1.0, False)
    with pytest.raises((TypeError, ValueError)):
        rd.sq_diff_sum_(x, x.astype(np.float64))
    assert rd.sq_diff_sum_(x[:0], x[:0]) == 0.0


# ---- binary cross-entropy with logits -------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_bce_with_logits(ck, layout, dtype, reduction):
    """the loss (a sum: within summation rounding of the reference) and the logits' gradient
    for the repeated g a sum or mean spreads (within the float tolerance: the kernels'
    sigmoid against SciPy's expit), with the target's gradient and weights as the reference"""
    x = make(layout, dtype, (70, 90), low=-30.0, high=30.0)
    y = (make("contiguous", dtype, x.shape, np.random.default_rng(5)) > 0).astype(dtype)
    got = ck.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    want = REF.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    if reduction == "none":
        assert_same(got, want, exact=False)
    else:
        terms = REF.binary_cross_entropy_with_logits(x.astype(np.float64), y.astype(np.float64))
        assert_sum_close(got, want, np.abs(terms).sum() / (
            max(1, x.size) if reduction == "mean" else 1))
    spread = 0.75 / max(1, x.size) if reduction == "mean" else 0.75
    g = (make("contiguous", dtype, x.shape) if reduction == "none"
         else np.broadcast_to(np.asarray(spread, dtype), x.shape))
    for need_y in (False, True):
        got = ck.binary_cross_entropy_with_logits_backward(x, y, g, None, None, True, need_y)
        want = REF.binary_cross_entropy_with_logits_backward(x, y, g, None, None, True, need_y)
        assert_same(got[0], want[0], exact=False)
        assert (got[1] is None) == (not need_y)
        if need_y:                      # (log_sigmoid there is the compiled one)
            assert_same(got[1], want[1], exact=False)
    w = make("contiguous", dtype, x.shape[1:], np.random.default_rng(6), low=0.5, high=2.0)
    for weight, pos_weight in ((w, None), (None, w)):    # the reference's formula, its sum
        assert_same(ck.binary_cross_entropy_with_logits(x, y, weight, pos_weight, reduction),
                    REF.binary_cross_entropy_with_logits(x, y, weight, pos_weight, reduction),
                    exact=False)
        assert_same(ck.binary_cross_entropy_with_logits_backward(x, y, g, weight, pos_weight)[0],
                    REF.binary_cross_entropy_with_logits_backward(x, y, g, weight, pos_weight)[0])


def test_bce_with_logits_special_values(ck):
    """inf and NaN logits and targets: the kernels' loss and gradient as the reference's (inf
    logits have finite losses; a NaN anywhere makes the total NaN)"""
    x = np.float32([np.inf, -np.inf, 0.0, -0.0, 100.0, -100.0, 1e-30, 20.0, -20.0, 3.0])
    y = np.float32([1, 0, 1, 0, 0, 1, 0.5, 0.25, 1, 0.5])
    g = np.broadcast_to(np.float32(1.5), x.shape)
    with np.errstate(all="ignore"):
        assert_same(ck.binary_cross_entropy_with_logits(x, y, reduction="sum"),
                    REF.binary_cross_entropy_with_logits(x, y, reduction="sum"), exact=False)
        assert_same(ck.binary_cross_entropy_with_logits_backward(x, y, g)[0],
                    REF.binary_cross_entropy_with_logits_backward(x, y, g)[0], exact=False)
        x_nan, y_nan = x.copy(), y.copy()
        x_nan[3] = y_nan[3] = np.nan
        assert np.isnan(ck.binary_cross_entropy_with_logits(x_nan, y, reduction="mean"))
        assert np.isnan(ck.binary_cross_entropy_with_logits(x, y_nan, reduction="mean"))


def test_bce_with_logits_total_keeps_float32_precision(ck):
    """a mean over 2^22 logits within float32 rounding of the exact one, the same on 1 and 2
    threads"""
    rng = np.random.default_rng(16)
    x = (rng.standard_normal(1 << 22) * 4).astype(np.float32)
    y = (rng.random(1 << 22) < 0.3).astype(np.float32)
    exact = REF.binary_cross_entropy_with_logits(x.astype(np.float64), y.astype(np.float64),
                                                 reduction="mean")
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append(ck.binary_cross_entropy_with_logits(x, y, reduction="mean"))
    finally:
        cgrad.set_num_threads(before)
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].dtype == np.float32 and got[0].shape == ()
    assert abs(got[0] - exact) <= 2 * np.spacing(np.float32(exact))


def test_bce_with_logits_kernels_checked():
    from cgrad._C import reduce as rd
    x = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="y has 4 elements, expected 5"):
        rd.bce_logits_sum_(x, x[:4])
    with pytest.raises(ValueError, match="out has 3 elements, expected 5"):
        rd.bce_logits_backward_(x, x, x[:3], 1.0, False)
    with pytest.raises((TypeError, ValueError)):
        rd.bce_logits_sum_(x, x.astype(np.float64))
    assert rd.bce_logits_sum_(x[:0], x[:0]) == 0.0
    out = np.full(5, 2.0, np.float32)
    rd.bce_logits_backward_(np.zeros(5, np.float32), np.ones(5, np.float32), out, 4.0, True)
    np.testing.assert_array_equal(out, 0.0)              # 2 + (0.5 - 1) * 4, added in place


# ---- sums of every element -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sum_of_every_element(ck, layout, dtype):
    """sum, mean and sum_to_shape down to one element: within summation rounding of the
    reference, for any dims spelling all axes, with kept dims"""
    x = make(layout, dtype, (300, 230), low=-10.0, high=10.0)
    terms = np.abs(x.astype(np.float64)).sum()
    for dim in (None, (0, 1), (-1, 0)):
        for keepdim in (False, True):
            assert_sum_close(ck.sum(x, dim, keepdim), REF.sum(x, dim, keepdim), terms)
            assert_sum_close(ck.mean(x, dim, keepdim), REF.mean(x, dim, keepdim),
                             terms / max(1, x.size))
    for shape in ((), (1,), (1, 1)):
        assert_sum_close(ck.sum_to_shape(x, shape), REF.sum_to_shape(x, shape), terms)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_row_sums(ck, layout, dtype):
    """sum and mean over the trailing axes (one row per leading index, rows past a 4096
    block too): within summation rounding of the reference, with kept dims"""
    x = make(layout, dtype, (30, 7, 1100), low=-10.0, high=10.0)
    for dim in ((2,), (-1,), (1, 2), (2, 1), (-2, -1)):
        axes = tuple(sorted(d % 3 for d in dim))
        terms = np.abs(x.astype(np.float64)).sum(axis=axes)
        count = math.prod(x.shape[a] for a in axes)
        for keepdim in (False, True):
            t = np.expand_dims(terms, axes) if keepdim else terms
            assert_sum_close(ck.sum(x, dim, keepdim), REF.sum(x, dim, keepdim), t)
            assert_sum_close(ck.mean(x, dim, keepdim), REF.mean(x, dim, keepdim),
                             t / max(1, count))


def test_row_sums_keep_float32_precision(ck):
    """rows of 3 x 10^5 positive float32 terms: each within float32 rounding of its exact sum,
    the same on 1 and 2 threads; a single row the same bits as the sum of everything"""
    x = np.abs(np.random.default_rng(18).standard_normal((6, 300000))).astype(np.float32)
    exact = x.astype(np.float64).sum(axis=1)
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append(ck.sum(x, (1,)))
    finally:
        cgrad.set_num_threads(before)
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].dtype == np.float32 and got[0].shape == (6,)
    assert (np.abs(got[0] - exact) <= 2 * np.spacing(exact.astype(np.float32))).all()
    np.testing.assert_array_equal(ck.sum(x[:1], (1,)), ck.sum(x[0]).reshape(1))
    from cgrad._C import reduce as rd
    with pytest.raises(ValueError, match="out has 5 elements, expected 6"):
        rd.sum_rows_(x, np.empty(5, np.float32))
    out = np.full(3, 7.0, np.float32)
    rd.sum_rows_(np.empty((3, 0), np.float32), out)            # empty rows sum to 0
    np.testing.assert_array_equal(out, 0)


def test_sum_of_every_element_keeps_float32_precision(ck):
    """PyTorch's cascade (reduce.torch_sum): 2^22 elements within float32 rounding of the
    exact sum (positive terms: no cancellation to hide behind), on 1 and 2 threads alike (its
    top-level blocks in parallel); equal terms within 3 ulp; special values as the NumPy
    backend's"""
    for n, value in ((70000, 0.1), (10 ** 6, 0.1), (123457, 0.7)):
        exact = np.float64(np.float32(value)) * n
        got = ck.sum(np.full(n, value, np.float32))
        assert abs(got - exact) <= 3 * np.spacing(np.float32(exact)), (n, value)
    x = np.abs(np.random.default_rng(17).standard_normal(1 << 22)).astype(np.float32)
    exact = x.astype(np.float64).sum()
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append(ck.sum(x))
    finally:
        cgrad.set_num_threads(before)
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].dtype == np.float32 and got[0].shape == ()
    assert abs(got[0] - exact) <= 2 * np.spacing(np.float32(exact))
    for value in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[12345] = value
        assert_same(ck.sum(y), REF.sum(y))
    from cgrad._C import reduce as rd
    assert rd.torch_sum(x[:0]) == 0.0 and rd.torch_sum(x[:0]).dtype == np.float32
    assert rd.torch_sum(x[::2]) is None and rd.torch_sum([1.0]) is None
    assert rd.torch_sum(np.ones(3, np.float16)) is None
    assert rd.torch_sum(np.arange(1, 5, dtype=">f4")) is None     # (other byte order)


def test_default_thresholds_send_big_sums_to_the_kernels(small_k, monkeypatch):
    """At the default thresholds, a sum over everything of a dense float array takes
    PyTorch's order at any size (reduce.torch_sum), and a sum of 2^12 or more over the
    trailing axes the row kernel (here spied on); smaller ones the NumPy backend's"""
    from cgrad.backends import cython_backend as cb
    calls = []
    real_all = cb._rd.torch_sum
    monkeypatch.setattr(cb._rd, "torch_sum", lambda a, mean=False: (
        calls.append(("torch_sum", a.shape)), real_all(a, mean))[1])
    kernels = cb._rd_for[np.dtype(np.float32)]
    real_rows = kernels.sum_rows_
    monkeypatch.setattr(kernels, "sum_rows_", lambda *a: (calls.append(("sum_rows_", a[0].shape)),
                                                          real_rows(*a))[1])
    x = np.ones((256, 256), np.float32)
    assert small_k.sum(x) == 65536 and small_k.mean(x) == 1
    np.testing.assert_array_equal(small_k.sum(x, (1,)), 256)
    assert calls == [("torch_sum", (256, 256))] * 2 + [("sum_rows_", (256, 256))]
    small_k.sum(x[:3])
    assert calls[3:] == [("torch_sum", (3, 256))]
    small_k.sum(x[:15], (1,))
    small_k.sum(x, (0,))                                     # leading axes: the grid kernel
    assert len(calls) == 4
    small_k.sum(x[:16], (1,))
    assert calls[4:] == [("sum_rows_", (16, 256))]


def test_sums_of_broadcast_and_strided_inputs(ck, monkeypatch):
    """a broadcast input (a sum's gradient) is summed as its distinct part times its repeats:
    no copy, and within an ulp of the exact sum (70000 equal float32 terms, which the
    kernels' float32 partials took 15 ulp off); a strided one is copied once for the
    kernels, up to max_copy_sum elements, past that NumPy's"""
    row = np.arange(1, 33, dtype=np.float32) / 7
    exact = np.arange(1, 33, dtype=np.float64) / 7
    for dim, rows, want in ((None, 4096, exact.sum() * 4096), ((0,), 512, exact * 512),
                            ((1,), 512, exact.sum())):
        wide = np.broadcast_to(row, (rows, 32))     # (a whole sum: from min_size_sum_all)
        got = ck._reduced(wide, dim)
        assert got.shape == np.sum(wide, axis=dim, keepdims=True).shape
        assert got.flags.writeable and got.flags.c_contiguous
        np.testing.assert_allclose(got, np.broadcast_to(want, got.shape).astype(np.float32),
                                   rtol=np.finfo(np.float32).eps)
    mixed = np.broadcast_to(np.arange(6, dtype=np.float64).reshape(1, 6, 1), (40, 6, 30))
    for dim in ((0,), (1,), (2,), (0, 2), (0, 1)):
        np.testing.assert_allclose(ck._reduced(mixed, dim),
                                   np.sum(mixed, axis=dim, keepdims=True), rtol=1e-15)
    mean_of = np.broadcast_to(np.float32(1 / 70000), (70000,))
    assert ck._reduced(mean_of, None)[0] == np.float32(np.float64(np.float32(1 / 70000)) * 70000)
    strided = np.ones((64, 256), np.float32)[:, ::2]
    np.testing.assert_array_equal(ck._reduced(strided, (1,)), 128)
    monkeypatch.setattr(ck, "max_copy_sum", strided.size - 1)
    assert ck._reduced(strided, (1,)) is None
    # a transpose is summed in memory order, never copied (max_copy_sum is below its size)
    x = np.random.default_rng(2).random((8, 16, 32, 64)).astype(np.float32).transpose(0, 2, 3, 1)
    for dim in ((1,), (3,), (0, 3), (1, 2), (0, 1, 2)):
        got = ck._reduced(x, dim)
        assert got.flags.c_contiguous and got.dtype == np.float32
        np.testing.assert_allclose(got, x.sum(axis=dim, keepdims=True, dtype=np.float64),
                                   rtol=1e-6)
    # a length-1 axis of stride 0 repeats nothing: a transpose with one is summed in memory
    # order too (it went to the repeats' float64 NumPy sum)
    from cgrad.backends import cython_backend as cb
    monkeypatch.setattr(cb, "_sum_of_repeats", None)
    unsqueezed = x[:, :, None]
    assert 0 in unsqueezed.strides and not unsqueezed.flags.c_contiguous
    got = ck._reduced(unsqueezed, (4,))
    np.testing.assert_allclose(got, unsqueezed.sum(axis=4, keepdims=True, dtype=np.float64),
                               rtol=1e-6)
    monkeypatch.setattr(ck, "min_size_sum_cols", 0)
    for shape, dim in (((0, 4), (1,)), ((0,), ()), ((3, 0, 2), (0, 2)), ((0, 3, 0), (2,))):
        x = np.empty(shape, np.float32)                  # no rows, or empty ones: zeros
        assert_same(ck._reduced(x, dim), np.sum(x, axis=dim, keepdims=True))


# ---- smooth L1 and Huber losses ---------------------------------------------------------------
@pytest.mark.parametrize("huber", [False, True], ids=["smooth_l1", "huber"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_smooth_l1_loss(ck, layout, dtype, reduction, huber):
    """the loss (a sum: within summation rounding of the reference's; unreduced: its bits)
    and both gradients for the repeated g a sum or mean spreads, bit for bit (PyTorch's
    formulas, in its order), differences on both sides of beta and on it"""
    x = make(layout, dtype, (70, 90), low=-3.0, high=3.0)
    y = make("contiguous", dtype, x.shape, np.random.default_rng(5), low=-3.0, high=3.0)
    beta = 0.7
    if x.size:
        y.reshape(-1)[:4] = x.reshape(-1)[:4] - dtype(beta) * np.array([1, -1, 0.5, 2], dtype)
    got = ck.smooth_l1_loss(x, y, beta, reduction, huber)
    want = REF.smooth_l1_loss(x, y, beta, reduction, huber)
    if reduction == "none":
        assert_same(got, want)
    else:
        terms = REF.smooth_l1_loss(x.astype(np.float64), y.astype(np.float64), beta, "none",
                                   huber)
        assert_sum_close(got, want, np.abs(terms).sum() / (
            max(1, x.size) if reduction == "mean" else 1))
    spread = 0.75 / max(1, x.size) if reduction == "mean" else 0.75
    g = (make("contiguous", dtype, x.shape) if reduction == "none"
         else np.broadcast_to(np.asarray(spread, dtype), x.shape))
    for need_x, need_y in ((True, True), (True, False), (False, True)):
        got = ck.smooth_l1_loss_backward(x, y, g, beta, huber, need_x, need_y)
        want = REF.smooth_l1_loss_backward(x, y, g, beta, huber, need_x, need_y)
        for a, b in zip(got, want):
            assert (a is None) == (b is None)
            if a is not None:
                assert_same(a, b)


def test_smooth_l1_special_values_and_precision(ck):
    """NaN and inf differences as the reference's (a NaN total, NaN gradients there), and a
    2^22 mean within float32 rounding of the exact one, the same on 1 and 2 threads"""
    x = np.float32([np.nan, np.inf, -np.inf, 0.0, 1.0, -2.0, 0.5, 3.0])
    y = np.float32([0.0, 1.0, 2.0, -0.0, 0.5, np.inf, np.nan, 3.0])
    g = np.broadcast_to(np.float32(0.5), x.shape)
    with np.errstate(all="ignore"):
        for huber in (False, True):
            assert np.isnan(ck.smooth_l1_loss(x, y, 1.0, "sum", huber))
            for a, b in zip(ck.smooth_l1_loss_backward(x, y, g, 1.0, huber),
                            REF.smooth_l1_loss_backward(x, y, g, 1.0, huber)):
                assert_same(a, b)
            assert_same(ck.smooth_l1_loss(x[3:5], y[3:5], 1.0, "sum", huber),
                        REF.smooth_l1_loss(x[3:5], y[3:5], 1.0, "sum", huber))
    rng = np.random.default_rng(20)
    x, y = (rng.standard_normal(1 << 22).astype(np.float32) for _ in range(2))
    exact = REF.smooth_l1_loss(x.astype(np.float64), y.astype(np.float64), 0.5, "mean")
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append(ck.smooth_l1_loss(x, y, 0.5, "mean"))
    finally:
        cgrad.set_num_threads(before)
    np.testing.assert_array_equal(got[0], got[1])
    assert abs(got[0] - exact) <= 2 * np.spacing(np.float32(exact))


def test_smooth_l1_kernels_checked():
    from cgrad._C import reduce as rd
    x = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="beta must be positive, got 0.0"):
        rd.smooth_l1_sum_(x, x, 0.0, False)
    with pytest.raises(ValueError, match="beta must be positive"):
        rd.smooth_l1_backward_(x, x, x, -1.0, 1.0, True, False)
    with pytest.raises(ValueError, match="y has 4 elements, expected 5"):
        rd.smooth_l1_sum_(x, x[:4], 1.0, False)
    with pytest.raises(ValueError, match="out has 3 elements, expected 5"):
        rd.smooth_l1_backward_(x, x, x[:3], 1.0, 1.0, False, False)
    assert rd.smooth_l1_sum_(x[:0], x[:0], 1.0, True) == 0.0


# ---- amax / amin ------------------------------------------------------------------------------
EXTREME_DIMS = [None, (0,), (1,), (2,), (-1,), (0, 1), (1, 2), (0, 1, 2), (0, 2), (2, 0), ()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dims", EXTREME_DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(ck, layout, dtype, dims, keepdim):
    """the reference's values, with NaN (which wins), -inf, inf and ties among them, over one
    run of axes (compiled), split axes or none (NumPy's)"""
    x = make(layout, dtype, (6, 7, 37))
    if x.size:
        x = np.array(np.round(x * 2) / 2)            # ties
        flat = x.reshape(-1)
        flat[[3, 11, 12, 40, 77, 300]] = [np.nan, np.nan, -np.inf, np.inf, np.nan, -np.inf]
    for name in ("amax", "amin"):
        if not x.size and (dims is None or 0 in dims):      # over nothing: NumPy's error
            for k in (ck, REF):
                with pytest.raises(ValueError):
                    getattr(k, name)(x, dims, keepdim)
            continue
        assert_same(getattr(ck, name)(x, dims, keepdim), getattr(REF, name)(x, dims, keepdim))


def test_amax_of_a_long_row_breaks_zero_ties_alike_on_any_thread_count(ck, threads):
    """one row longer than a block is taken in blocks at one thread too: -0 against +0 falls
    the same way at 1 and 2 threads"""
    x = np.full(200000, -1.0, np.float32)
    x[5], x[65536] = 0.0, -0.0
    for name in ("amax", "amin"):
        y = x if name == "amax" else -x
        one, two = threads(lambda: getattr(ck, name)(y, None))
        assert np.signbit(one) == np.signbit(two)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dims", [((3, 70000), (1,)), ((70000,), None),
                                         ((5, 3, 9000), (1,)), ((4, 1000, 17), (1, 2)),
                                         ((2, 15), (1,)), ((40, 16), (1,)), ((9, 64), (1,)),
                                         ((3, 200), (1,)), ((3, 50, 200), (1,)),
                                         ((2, 9, 64), (1,)), ((2, 5, 63), (1,))], ids=str)
def test_amax_amin_long_and_short(ck, threads, dtype, shape, dims):
    """Rows longer than a block (summed in blocks on two threads), columns wider than a task,
    rows shorter than a vector and around a step of 64, columns in steps of four vectors,
    one and one at a time: the same values at 1 and 2 threads; one NaN anywhere gives NaN"""
    rng = np.random.default_rng(17)
    x = rng.standard_normal(shape).astype(dtype)
    for name in ("amax", "amin"):
        want = getattr(REF, name)(x, dims)
        for got in threads(lambda: getattr(ck, name)(x, dims)):
            assert_same(got, want)
        y = x.copy()
        y.reshape(-1)[x.size // 2 + 3] = np.nan
        for got in threads(lambda: getattr(ck, name)(y, dims)):
            assert_same(got, getattr(REF, name)(y, dims))
        assert np.isnan(getattr(ck, name)(y, dims)).any()


def test_amax_compiled_path_is_taken(ck, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("fell back to NumPy")
    monkeypatch.setattr(NumpyKernels, "amax", boom)
    monkeypatch.setattr(NumpyKernels, "amin", boom)
    x = make("contiguous", np.float32, (4, 5, 6))
    assert_same(ck.amax(x, (1, 2), True), x.max(axis=(1, 2), keepdims=True))
    assert_same(ck.amin(x, None), np.asarray(x.min()))
    with pytest.raises(AssertionError, match="fell back"):
        ck.amax(x, (0, 2))


def test_extreme_kernel_checked():
    from cgrad._C import reduce as rd
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3\), expected \(2, 4\)"):
        rd.extreme_(x, np.empty((2, 3), np.float32), False)
    with pytest.raises(ValueError, match="empty"):
        rd.extreme_(np.zeros((2, 0, 4), np.float32), np.empty((2, 4), np.float32), True)
    with pytest.raises((TypeError, ValueError)):
        rd.extreme_(x, np.empty((2, 4), np.float64), False)


# ---- max pooling's pick -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_first_max_last_nan(ck, layout, dtype, axis):
    """the index of the first maximum along axis, or of the last NaN: the reference's, with
    ties, NaN (first, middle, several), -inf and inf among the values"""
    x = make(layout, dtype, (6, 7, 5), low=-2.0, high=2.0)
    if x.size:
        x = np.round(x * 2) / 2                       # ties
        x = np.array(x)                               # (writable, the layout kept where it was)
        flat = x.reshape(-1)
        flat[[3, 11, 12, 40, 77]] = [np.nan, np.nan, -np.inf, np.inf, np.nan]
    if not x.shape[axis]:                            # nothing to pick from: NumPy's error
        for k in (ck, REF):
            with pytest.raises(ValueError, match="empty"):
                k.first_max_last_nan(x, axis)
        return
    assert_same(ck.first_max_last_nan(x, axis), REF.first_max_last_nan(x, axis))


def test_first_max_last_nan_kernel_checked():
    from cgrad._C import reduce as rd
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"best and idx must have shape \(2, 4\)"):
        rd.first_max_last_nan_(x, np.empty((2, 3), np.float32), np.empty((2, 4), np.int64))
    with pytest.raises(ValueError, match="the middle axis is empty"):
        rd.first_max_last_nan_(np.zeros((2, 0, 4), np.float32), np.empty((2, 4), np.float32),
                               np.empty((2, 4), np.int64))
    best, idx = np.empty((2, 4), np.float32), np.empty((2, 4), np.int64)
    x[1, 2, 3], x[0, 1, 0], x[0, 2, 0] = np.nan, 5, 5
    rd.first_max_last_nan_(x, best, idx)
    assert idx.tolist() == [[1, 0, 0, 0], [0, 0, 0, 2]]
    assert best[0, 0] == 5 and np.isnan(best[1, 3])


# (kernel, stride, pad as (before, after) pairs, dilation, spatial): pad's after may exceed
# its before (ceil_mode's extra windows)
MAX_POOLS = {
    "2x2": ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (6, 8)),
    "3x3-pad-ceil": ((3, 3), (2, 2), ((1, 2), (1, 1)), (1, 1), (7, 6)),
    "overlapping-dilated": ((3, 2), (1, 2), ((1, 1), (0, 1)), (2, 1), (7, 5)),
    "1d": ((4,), (3,), ((2, 2),), (1,), (11,)),
    "windows-outside": ((2, 2), (2, 1), ((1, 1), (1, 1)), (3, 3), (2, 5)),   # -1: no element
}


@pytest.mark.parametrize("geometry", list(MAX_POOLS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool(ck, layout, dtype, geometry):
    """each window's pick and its flat index against the reference's (the first maximum, the
    last NaN, the first element inside where all are -inf, the padding never): ties, NaNs,
    infinities among the values, on every layout of the planes"""
    kernel, stride, pad, dilation, spatial = MAX_POOLS[geometry]
    x = make(layout, dtype, (5,) + spatial)
    if x.size:
        x = np.array(np.round(x * 2) / 2)                     # ties
        flat = x.reshape(-1)
        special = {0: -np.inf, 3: np.nan, 11: np.nan, 12: -np.inf, 21: np.inf, 22: np.nan,
                   40: -np.inf}
        at = [i for i in special if i < flat.size]
        flat[at] = [special[i] for i in at]
        flat[-spatial[-1]:] = -np.inf                          # a row of windows all -inf
        x = _in_layout(x, layout)
    got, want = (k.max_pool(x, kernel, dilation, pad, stride, -np.inf) for k in (ck, REF))
    for ours, theirs in zip(got, want, strict=True):
        assert_same(ours, theirs)
    assert (want[1] < 0).any() == (geometry == "windows-outside" and x.size > 0)


def test_max_pool_kernel_checks_and_counts_empty_windows():
    from cgrad._C import grad
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    values, idx = np.empty((1, 2, 2), np.float32), np.empty((1, 2, 2), np.int64)
    with pytest.raises(ValueError, match=r"values \(1, 2, 2\) and indices \(1, 2, 3\)"):
        grad.max_pool2d_(x, values, np.empty((1, 2, 3), np.int64), 2, 2, 0, 0, 1, 1, 2, 2)
    with pytest.raises(ValueError, match="must be positive"):
        grad.max_pool2d_(x, values, idx, 2, 0, 0, 0, 1, 1, 2, 2)
    assert grad.max_pool2d_(x, values, idx, 2, 2, 0, 0, 1, 1, 2, 2) == 0
    assert values.tolist() == [[[5, 7], [9, 11]]] and idx.tolist() == [[[5, 7], [9, 11]]]
    # windows that reach past the plane only: none of their elements inside
    assert grad.max_pool2d_(x, values, idx, 1, 1, 0, 0, 1, 1, 4, 4) == 3
    assert idx.tolist() == [[[0, -1], [-1, -1]]]
    # planes of no element (the padding's windows only): every window empty
    assert grad.max_pool2d_(x[:, :0], values, idx, 2, 2, 1, 1, 1, 1, 1, 1) == 4
    assert values.tolist() == [[[-np.inf] * 2] * 2] and idx.tolist() == [[[-1] * 2] * 2]


# ---- indexing: index_add_, gather, scatter_add_ ----------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_add(ck, layout, dtype, dim):
    """rows added at an index along dim, repeats and negative indices among them: the same
    bits as np.add.at (each element's additions in order), into a buffer that already holds
    values; src of any layout (copied where the kernel cannot read it)"""
    shape = (5, 6, 7)
    rng = np.random.default_rng(dim)
    idx = rng.integers(-shape[dim], shape[dim], 11)
    idx[:3] = [1, 1, -shape[dim] + 1]                # one place three times, one by its negative
    src = make(layout, dtype, shape[:dim] + (11,) + shape[dim + 1:])
    if src.size == 0:                        # the empty layout empties the first axis
        idx = idx[:0] if dim == 0 else idx
        shape = (0,) + shape[1:] if dim else shape
    base = make("contiguous", dtype, shape, rng)
    got, want = base.copy(), base.copy()
    assert ck.index_add_(got, dim, idx, src) is got
    REF.index_add_(want, dim, idx, src)
    assert_same(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_gather_and_scatter_add(ck, layout, dtype, dim):
    """gather along dim and its gradient, scatter_add_, where the index spans the other axes
    (the kernels) and where it is shorter there (NumPy's): the reference's values, bit for
    bit, repeated and negative indices among them"""
    shape = (4, 5, 6)
    rng = np.random.default_rng(10 + dim)
    x = make(layout, dtype, shape)
    for n_other in (None, 2):                # the index as long as x on the other axes, or not
        ishape = tuple(3 if d == dim else (n if n_other is None else min(n, n_other))
                       for d, n in enumerate(shape))
        idx = rng.integers(-shape[dim], shape[dim], ishape)
        if x.size == 0:
            ishape = tuple(0 if d == 0 else n for d, n in enumerate(ishape))
            idx = idx[:0]
        if layout == "transposed":
            idx = np.ascontiguousarray(idx.T).T          # a non-contiguous index too
        assert_same(ck.gather(x, dim, idx), REF.gather(x, dim, idx))
        src = make("contiguous", dtype, idx.shape, rng)
        base = make("contiguous", dtype, shape, rng)
        got, want = base.copy(), base.copy()
        assert ck.scatter_add_(got, dim, idx, src) is got
        REF.scatter_add_(want, dim, idx, src)
        assert_same(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_kernels_take_any_src_layout(ck, dtype, monkeypatch):
    """index_add_ and scatter_add_ copy a src they cannot read once and stay compiled (the
    NumPy fallbacks raise): a sum's gradient reaches embedding's backward broadcast, where
    np.add.at took 3.5 of a 10^4 x 128 step's 3.6 ms"""
    def boom(*args, **kwargs):
        raise AssertionError("fell back to NumPy")
    rng = np.random.default_rng(3)
    idx = rng.integers(-6, 6, 9)
    sidx = rng.integers(-6, 6, (6, 4))
    cases = []
    for layout in ("broadcast", "transposed", "negative"):
        src, ssrc = make(layout, dtype, (9, 5)), make(layout, dtype, (6, 4))
        want = REF.index_add_(np.ones((6, 5), dtype), 0, idx, src)
        swant = REF.scatter_add_(np.ones((6, 4), dtype), 0, sidx[:5], ssrc[:5])
        cases.append((src, want, ssrc, swant))
    for name in ("index_add_", "scatter_add_"):
        monkeypatch.setattr(NumpyKernels, name, boom)
    strided_idx = np.repeat(idx, 2)[::2]                # (the kernel copies it too)
    for src, want, ssrc, swant in cases:
        assert_same(ck.index_add_(np.ones((6, 5), dtype), 0, idx, src), want)
        assert_same(ck.index_add_(np.ones((6, 5), dtype), 0, strided_idx, src), want)
        assert_same(ck.scatter_add_(np.ones((6, 4), dtype), 0, sidx[:5], ssrc[:5]), swant)


def test_indexing_kernels_checked():
    """an index out of range raises IndexError naming it (both signs), a mismatched shape
    ValueError naming the shapes, before anything is written; empty ones do nothing"""
    from cgrad._C import grad as gm
    out = np.zeros((2, 3, 4), np.float32)
    for bad in (3, -4):
        with pytest.raises(IndexError, match=f"index {bad} is out of bounds for dimension "
                                             "with size 3"):
            gm.index_add_(out, np.array([0, bad]), np.ones((2, 2, 4), np.float32))
        idx = np.zeros((2, 2, 4), np.int64)
        idx[1, 1, 3] = bad
        with pytest.raises(IndexError, match=f"index {bad} is out of bounds"):
            gm.scatter_add_(out, idx, np.ones((2, 2, 4), np.float32))
        with pytest.raises(IndexError, match=f"index {bad} is out of bounds"):
            gm.gather_(out, idx, np.empty((2, 2, 4), np.float32))
    assert not out.any()
    with pytest.raises(ValueError, match=r"src has shape \(2, 3, 4\), expected \(2, 2, 4\)"):
        gm.index_add_(out, np.array([0, 1]), np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"index has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        gm.scatter_add_(out, np.zeros((1, 2, 4), np.int64), np.ones((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"values have shape \(2, 2, 3\), expected"):
        gm.gather_(out, np.zeros((2, 2, 4), np.int64), np.empty((2, 2, 3), np.float32))
    gm.index_add_(out, np.array([], np.int64), np.ones((2, 0, 4), np.float32))
    gm.scatter_add_(out, np.zeros((2, 0, 4), np.int64), np.ones((2, 0, 4), np.float32))
    assert not out.any()


def test_indexing_kernels_thread_count_changes_no_bit(ck):
    """big index_add_ / scatter_add_ / gather with many repeats: the same bits on 1 and 2
    threads (columns or rows split, each element's order kept) as np.add.at's"""
    rng = np.random.default_rng(19)
    src = rng.standard_normal((3000, 8192)).astype(np.float32)
    idx = rng.integers(0, 50, 3000)
    sidx = rng.integers(-1024, 1024, (1024, 2048))
    ssrc = rng.standard_normal(sidx.shape).astype(np.float32)
    x = rng.standard_normal((1024, 1024)).astype(np.float32)
    before = cgrad.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            got.append((ck.index_add_(np.zeros((50, 8192), np.float32), 0, idx, src),
                        ck.scatter_add_(np.zeros((1024, 1024), np.float32), 1, sidx, ssrc),
                        ck.gather(x, 1, sidx)))
    finally:
        cgrad.set_num_threads(before)
    want = (REF.index_add_(np.zeros((50, 8192), np.float32), 0, idx, src),
            REF.scatter_add_(np.zeros((1024, 1024), np.float32), 1, sidx, ssrc),
            REF.gather(x, 1, sidx))
    for one, two, ref in zip(*got, want):
        np.testing.assert_array_equal(one, ref)
        np.testing.assert_array_equal(two, ref)


def test_cross_entropy_bad_target(ck_rows):
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        ck_rows.cross_entropy_forward(logits, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds"):
        ck_rows.cross_entropy_backward(logits, np.array([0, -3, 1]), np.ones(3, np.float32))


def test_cross_entropy_falls_back_for_other_layouts(ck_rows):
    logits = make("transposed", np.float32, (6, 4))
    target = np.array([0, 1, 2, 3, 0, 1], np.int32)
    got, want = (ck_rows.cross_entropy_forward(logits, target),
                 REF.cross_entropy_forward(logits, target))
    for a, b in zip(got[:2], want[:2]):
        assert_same(a, b, exact=False)
    assert_ce_sums(got, want)


@pytest.mark.parametrize("shape,dim", [((6, 5), None), ((6, 5), (0,)), ((6, 5), (1,)),
                                       ((4, 3, 5), (0, 1)), ((4, 3, 5), (1, 2)), ((4, 3, 5), (2,)),
                                       ((4, 3, 5), (0, 2)), ((4, 3, 5), (-1,)), ((7,), (0,)),
                                       ((), None), ((4, 3), ())], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean(ck, shape, dim, dtype, keepdim):
    x = make("contiguous", dtype, shape)
    for name in ("sum", "mean"):
        got = getattr(ck, name)(x, dim, keepdim)
        want = getattr(REF, name)(x, dim, keepdim)
        terms = np.asarray(REF.sum(np.abs(x), dim, keepdim))
        if name == "mean":
            terms = terms / max(1, x.size // max(1, np.asarray(want).size))
        assert_sum_close(got, np.asarray(want), terms)


@pytest.mark.parametrize("rows, cols", [(3000, 40), (5000, 10)])     # 10: the short rows
def test_row_kernels_same_bits_for_any_thread_count(ck_rows, threads, rows, cols):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    t = rng.integers(0, cols, rows)
    g = rng.standard_normal((rows, cols)).astype(np.float32)
    big = rng.standard_normal((1000, 300)).astype(np.float32)

    def run():
        losses, lp, total, _ = ck_rows.cross_entropy_forward(x, t, label_smoothing=0.1)
        return (losses, lp, total, ck_rows.cross_entropy_backward(lp, t, losses),
                ck_rows.softmax(x, 1), ck_rows.log_softmax_backward(lp, g, 1),
                ck_rows.sum(big, None), ck_rows.sum(big, (0,)), ck_rows.mean(big, (1,)))
    one, two = threads(run)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_one_sided_backward_of_read_only_gradient(ck):
    """An unneeded gradient never lands in a read-only input (g here is a broadcast view)."""
    x = np.broadcast_to(np.float32(2.0), (1,))
    assert_same(ck.mean(x, None, False), REF.mean(x, None, False))
    a = make("contiguous", np.float32, (6, 5))
    g = make("readonly", np.float32, (6, 5))
    assert ck.mul_backward(a, a, g, True, False)[1] is None
    assert_same(ck.sum_to_shape(g, (5,)), REF.sum_to_shape(g, (5,)), exact=False)


# ---- hypothesis over the remaining families ---------------------------------------------------
def _ck_all():
    k = _all_compiled(CythonKernels())
    k.exp_limit = 1 << 40
    return k


LAYOUT_CHOICES = st.sampled_from(["contiguous", "contiguous", "transposed", "negative",
                                  "readonly", "unaligned"])


@settings(max_examples=80, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
       st.sampled_from(DTYPES), LAYOUT_CHOICES, st.booleans(), st.integers(0, 2**32 - 1))
def test_softmax_hypothesis(shape, dtype, layout, log_, seed):
    k, rng = _ck_all(), np.random.default_rng(seed)
    x = make(layout, dtype, shape, rng, low=-20.0, high=20.0)
    g = make("contiguous", dtype, shape, rng)
    fwd, bwd = ("log_softmax", "log_softmax_backward") if log_ else ("softmax",
                                                                      "softmax_backward")
    dim = int(rng.integers(-len(shape), len(shape)))
    y = getattr(REF, fwd)(x, dim)
    assert_same(getattr(k, fwd)(x, dim), y, exact=False)
    assert_same(getattr(k, bwd)(y, g, dim), getattr(REF, bwd)(y, g, dim), exact=False)


@settings(max_examples=80, deadline=None)
@given(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
       st.sampled_from(DTYPES), LAYOUT_CHOICES, st.booleans(), st.integers(0, 2**32 - 1))
def test_sum_mean_hypothesis(shape, dtype, layout, keepdim, seed):
    k, rng = _ck_all(), np.random.default_rng(seed)
    x = make(layout, dtype, shape, rng)
    dims = None if not shape or rng.random() < 0.2 else tuple(
        int(d) for d in rng.choice(len(shape), rng.integers(0, len(shape) + 1), replace=False))
    terms = np.asarray(REF.sum(np.abs(x), dims, keepdim))
    assert_sum_close(k.sum(x, dims, keepdim), np.asarray(REF.sum(x, dims, keepdim)), terms)
    if x.size:
        n = max(1, x.size // max(1, terms.size))
        assert_sum_close(k.mean(x, dims, keepdim), np.asarray(REF.mean(x, dims, keepdim)),
                         terms / n)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from([(), (3,), (2, 2)]), st.sampled_from(["both", "a", "b"]),
       st.sampled_from(DTYPES), LAYOUT_CHOICES, st.booleans(), st.integers(0, 2**32 - 1))
def test_matmul_backward_hypothesis(m, kk, n, batch, which, dtype, layout, use_acc, seed):
    k, rng = _ck_all(), np.random.default_rng(seed)
    ba = batch if which in ("both", "a") else ()
    bb = batch if which in ("both", "b") else ()
    a = make(layout, dtype, ba + (m, kk), rng)
    b = make("contiguous", dtype, bb + (kk, n), rng)
    g = make(layout, dtype, batch + (m, n), rng)
    want = [reduce_to(w, x.shape) for w, x in zip(REF.matmul_backward(a, b, g), (a, b))]
    acc = [None, None]
    if use_acc:
        acc = [np.ones(a.shape, dtype), np.ones(b.shape, dtype)]
        want = [w + dtype(1) for w in want]
    got = k.matmul_backward(a, b, g, True, True, *acc)
    for x, y, inp in zip(got, want, (a, b)):
        _blas_close(reduce_to(x, inp.shape), y)
    # one side wanted, the other operand not saved (None): into the same kind of buffer
    for i, (a_in, b_in) in enumerate(((None, b), (a, None))):
        acc_one = [np.ones(a.shape, dtype) if use_acc and i == 0 else None,
                   np.ones(b.shape, dtype) if use_acc and i == 1 else None]
        got = k.matmul_backward(a_in, b_in, g, i == 0, i == 1, *acc_one)
        assert got[1 - i] is None
        x = reduce_to(got[i], (a, b)[i].shape)
        if use_acc and got[i] is not acc_one[i]:
            x = x + dtype(1)    # a batched gradient of a 2-D side: the engine sums and adds
        _blas_close(x, want[i])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(1, 9), st.sampled_from(DTYPES), st.booleans(),
       st.sampled_from([0.0, 0.05, 0.3]), st.booleans(), st.integers(0, 2**32 - 1))
def test_cross_entropy_hypothesis(n, c, dtype, weighted, smoothing, ignore, seed):
    k, rng = _ck_all(), np.random.default_rng(seed)
    logits = make("contiguous", dtype, (n, c), rng, low=-10.0, high=10.0)
    target = rng.integers(0, c, n)
    ignore_index = int(target[0]) if ignore and n else -100
    kw = dict(weight=rng.uniform(0.2, 3.0, c).astype(dtype) if weighted else None,
              ignore_index=ignore_index, label_smoothing=smoothing)
    want = REF.cross_entropy_forward(logits, target, **kw)
    losses, lp = want[:2]
    got = k.cross_entropy_forward(logits, target, **kw)
    assert_same(got[0], losses, exact=False)
    assert_ce_sums(got, want)
    assert_same(got[1].p if smoothing == 0 else got[1], np.exp(lp) if smoothing == 0 else lp,
                exact=False)
    g_rows = rng.uniform(0.0, 2.0, n).astype(dtype)
    expect = REF.cross_entropy_backward(lp, target, g_rows, **kw)
    assert_same(k.cross_entropy_backward(got[1], target, g_rows, **kw), expect, exact=False)
    assert_same(k.cross_entropy_backward(lp, target, g_rows, **kw), expect, exact=False)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["sgd", "adam", "adam_beta1_big", "rmsprop", "adagrad"]),
       st.integers(0, 3), st.sampled_from(DTYPES),
       st.sampled_from(["contiguous", "transposed", "unaligned"]), st.integers(1, 4))
def test_optimizer_hypothesis(name, case_i, dtype, layout, steps):
    cases = {"sgd": SGD_CASES, "adam": ADAM_CASES,
             "adam_beta1_big": [c for c in ADAM_CASES if not c["amsgrad"]],
             "rmsprop": RMSPROP_CASES, "adagrad": ADAGRAD_CASES}[name]
    case = cases[case_i % len(cases)]
    got = _run_optimizer(_ck_all(), name, case, dtype, layout, steps)
    want = _run_optimizer(REF, name, case, dtype, layout, steps)
    for g_list, w_list in zip(got, want):
        for a, b in zip(g_list, w_list):
            if b is None:
                assert a is None
            else:
                assert_same(a, b)


def test_mixed_and_integer_inputs_fall_back_everywhere(ck_rows):
    """Integers and mixed float32/float64 never reach a compiled loop: each override hands
    them to NumPy, so the answer is the reference's."""
    k = _all_compiled(ck_rows)
    k.min_size_reduce = 0
    ints = np.arange(12).reshape(3, 4)
    f32 = make("contiguous", np.float32, (3, 4))
    f64 = make("contiguous", np.float64, (3, 4))
    assert_same(k.sum(ints, (0,)), REF.sum(ints, (0,)))
    assert_same(k.softmax(ints.astype(np.float16), 1), REF.softmax(ints.astype(np.float16), 1))
    g33 = np.ascontiguousarray(f64[:, :3])
    for got, want in zip(k.matmul_backward(f32, f64.T, g33), REF.matmul_backward(f32, f64.T, g33)):
        _blas_close(got, want)
    for got, want in zip(k.linear_backward(f32, f64, f64[:, :3]),
                         REF.linear_backward(f32, f64, f64[:, :3])):
        _blas_close(got, want)
    p1, p2 = [f32.copy()], [f32.copy()]
    for kern, p in ((k, p1), (REF, p2)):
        kern.sgd_step_(p, [f64], [None], lr=0.1, momentum=0.9, dampening=0.0,
                       weight_decay=0.1, nesterov=False, maximize=False)
    assert_same(p1[0], p2[0])
    big_endian = f32.astype(">f4")
    assert_same(k.relu(big_endian), REF.relu(big_endian))


# ---- the AVX2 and AVX-512 builds -------------------------------------------------------------
ISAS = ["avx2", "avx512"]


def _twins(name, isa):
    import importlib
    from cgrad.backends.cython_backend import cpu_has_avx2, cpu_has_avx512
    if not (cpu_has_avx2() if isa == "avx2" else cpu_has_avx512()):
        pytest.skip(f"this CPU has no {isa}")
    from cgrad._C._threads import debug_build
    if debug_build():
        pytest.skip("the bounds-checked build has no twins (the release build tests them)")
    return (importlib.import_module(f"cgrad._C.{name}"),
            importlib.import_module(f"cgrad._C.{name}_{isa}"))


def _build(name, isa):
    """kernel module name's baseline build (isa ""), or its isa twin (skipped where this CPU
    or build has none)"""
    import importlib
    return importlib.import_module(f"cgrad._C.{name}") if not isa else _twins(name, isa)[1]


def test_release_build_inlines_the_math_helpers():
    """Every compiled module has _vmath.pxd's Cython-level math helpers (vexp_nonpos,
    vsigmoid, ...) inlined into the loops that call them: one left as a call keeps its loop
    scalar. GCC left vexp_nonpos as a call when a module's entry points grew past its
    inlining limits (setup.py's inlining_flags): silu's forward at one thread took 8 ns an
    element instead of 0.6, binary cross-entropy's backward 8.5 instead of 0.7. The same
    for elementwise.pyx's own helpers. Read from the symbol tables of the modules this
    interpreter loads (other builds' files may lie beside them)."""
    import glob
    import importlib.machinery
    import shutil
    import subprocess
    from cgrad import _C
    from cgrad._C._threads import debug_build
    if debug_build():
        pytest.skip("the bounds-checked build (-Og) inlines nothing")
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm here to read the symbol tables")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    paths = glob.glob(os.path.join(os.path.dirname(_C.__file__), "*" + suffix))
    assert len(paths) >= 8
    helpers = ("_vmath_", "__erf_", "__one_plus_erf", "__gelu_grad", "__tanh_softplus",
               "__exp_first", "__f_from_exp", "__gelu_tanh_inner", "__gelu_exp", "__softplus",
               "__mish_f32")
    for path in paths:
        listing = subprocess.run([nm, path], capture_output=True, text=True, check=True).stdout
        if "__pyx_" not in listing:
            pytest.skip(f"{os.path.basename(path)} is stripped: no symbols to read")
        left = [line.split()[-1] for line in listing.splitlines()
                if any(h in line for h in helpers)]
        assert not left, (os.path.basename(path), left)


def test_backend_uses_the_widest_build_where_it_runs():
    """(the bounds-checked build's widest is its baseline, whatever twins lie beside it)"""
    from cgrad._C._threads import debug_build
    from cgrad.backends import cython_backend as cb
    suffix = cb.isa_levels()[0]
    assert suffix == "" or not debug_build()
    for name, module in (("binary", cb._bn), ("optim", cb._optim), ("elementwise", cb._ew),
                         ("reduce", cb._rd), ("grad", cb._grad)):
        assert module.__name__ == f"cgrad._C.{name}{suffix}"


@pytest.mark.parametrize("env, suffix", [({"CGRAD_NO_AVX512": "1"}, "_avx2"),
                                         ({"CGRAD_NO_AVX2": "1"}, "")])
def test_environment_narrows_the_build(monkeypatch, env, suffix):
    from cgrad._C._threads import debug_build
    from cgrad.backends import cython_backend as cb
    if debug_build():
        pytest.skip("the bounds-checked build has the baseline only")
    if suffix and not cb.cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert cb.isa_levels()[0] == suffix


# Flag sets reaching each specialised loop of optim.pyx's _*_block (the wide builds' loops
# prefetch line by line and end in a part line: 10007 elements is neither a multiple of a
# line nor of a block).
ADAM_FLAGS = [(0.01, True, False, True), (0.01, False, False, True), (0.01, False, False, False),
              (0.0, False, False, False), (0.0, True, False, False), (0.01, True, False, False),
              (0.01, False, True, True)]                 # weight_decay, amsgrad, maximize, AdamW
SGD_FLAGS = [(1e-4, 0.9, 0.1, True, False), (0.0, 0.0, 0.0, False, False),
             (1e-4, 0.0, 0.0, False, False), (0.0, 0.9, 0.0, False, False),
             (1e-4, 0.9, 0.0, False, True)]     # weight_decay, momentum, dampening, nesterov, max
RMSPROP_FLAGS = [(0.1, 0.9, True, False), (0.0, 0.0, False, False), (0.1, 0.0, False, False),
                 (0.0, 0.9, False, False), (0.1, 0.9, False, True)]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_optim_same_bits(dtype, isa):
    base, avx = _twins("optim", isa)
    rng = np.random.default_rng(21)
    p0, g = (rng.standard_normal(10007).astype(dtype) for _ in range(2))
    runs = []
    for mod in (base, avx):
        p, m, v, vmax, s, buf, a = (p0.copy() if i == 0 else np.abs(p0) * 0.1
                                    for i in range(7))
        for t in (1, 2, 3, 10 ** 6):     # 10**6: bias correction 2 rounds to 1 (its own loop)
            for wd, amsgrad, maximize, decoupled in ADAM_FLAGS:
                mod.adam_(p, g, m, v, vmax, 1e-3, 0.9, 0.999, 1e-8, wd, amsgrad, maximize,
                          decoupled, t)
            for wd, momentum, dampening, nesterov, maximize in SGD_FLAGS:
                mod.sgd_(p, g, buf, 0.1, wd, momentum, dampening, nesterov, maximize, t == 1)
            for wd, momentum, centered, maximize in RMSPROP_FLAGS:
                mod.rmsprop_(p, g, s, buf, a, 1e-2, 0.99, 1e-8, wd, momentum, centered,
                             maximize)
            mod.adagrad_(p, g, s, 1e-2, 0.01, 0.1, 1e-10, True, t)
            mod.adagrad_(p, g, s, 1e-2, 0.0, 0.0, 1e-10, False, t)
            runs.append((p.copy(), m.copy(), v.copy(), vmax.copy(), s.copy(), buf.copy(),
                         a.copy()))
    half = len(runs) // 2
    for step_base, step_avx in zip(runs[:half], runs[half:]):
        for x, y in zip(step_base, step_avx):
            np.testing.assert_array_equal(x, y)


def _elementwise_and_rows(mod, rmod, dtype):
    """Every unary and row kernel of one build on the same inputs: (results, fused), fused[i]
    telling whether result i goes through float32 exp or erf (fused multiply-adds in the wide
    builds: _vmath.pxd's CGRAD_FMAF)."""
    rng = np.random.default_rng(22)
    x = np.concatenate([rng.uniform(-6, 6, 4001), [np.nan, np.inf, -np.inf, 0.0, -0.0]])
    x, g, aux = x.astype(dtype), rng.standard_normal(x.size).astype(dtype), np.tanh(x).astype(
        dtype)
    f32 = dtype == np.float32
    res, fused = [], []
    for op in range(mod.EXP, mod.POW_INT + 1):
        o = np.empty_like(x)
        p0 = 3.0 if op == mod.POW_INT else 0.1
        with np.errstate(all="ignore"):
            mod.unary_backward_(op, x, g, o, False, p0, 0.5, 0, aux=aux)
        res.append(o)
        fused.append(f32 and op == mod.GELU_ERF)
    for op in (mod.EXPM1, mod.LOG1P, mod.ERF, mod.MISH, mod.LOG2, mod.LOG10, mod.EXP2, mod.ATAN,
               mod.ASIN, mod.ACOS, mod.SINH, mod.COSH, mod.ATANH, mod.ASINH, mod.ACOSH, mod.TAN,
               mod.ERFC, mod.SIGN):
        for forward in (True, False) if op != mod.SIGN else (True,):
            o = np.empty_like(x)
            with np.errstate(all="ignore"):
                if forward:
                    mod.unary_(op, x, o)
                else:
                    mod.unary_backward_(op, x, g, o, False)
            res.append(o)                # exp and the erf's rational function: fused (not
            fused.append(f32 and op != mod.SIGN and (    # sign: its zeros' bits exactly)
                forward or op in (mod.ERF, mod.ERFC, mod.MISH, mod.SINH, mod.COSH)))
    for op in (mod.GELU_ERF, mod.GELU_TANH) if f32 else ():
        o = np.empty_like(x)             # gelu backwards with their exp / tanh computed inline
        with np.errstate(all="ignore"):
            mod.unary_backward_(op, x, g, o, False)
        res.append(o)
        fused.append(True)
    if f32:                              # erfinv, float32 only: its double formula's FMAs
        o = np.empty_like(x)             # change nothing a float sees (the same bits)
        mod.unary_(mod.ERFINV, x / 6, o)
        res.append(o)
        fused.append(False)
    for op in (mod.RELU, mod.LEAKY_RELU, mod.CLAMP, mod.GELU_ERF, mod.NEG_ABS,
               mod.GELU_TANH_INNER, mod.NEG_HALF_SQUARE, mod.SIGMOID, mod.TANH, mod.GELU_TANH):
        o = np.empty_like(x)
        mod.unary_(op, x, o, 0.1 if op != mod.CLAMP else -1.0, 1.0)
        res.append(o)
        fused.append(f32 and op in (mod.GELU_ERF, mod.SIGMOID, mod.TANH, mod.GELU_TANH))
    t = rng.integers(0, 3, 40)
    for c in (3, 10, 16, 37, 100):       # the masked tails of the row max, exp and sums
        xs = x[:40 * c].reshape(40, c)
        for log_ in (False, True):
            o = np.empty_like(xs)
            rmod.softmax_(xs.reshape(-1), o.reshape(-1), 40, c, log_)
            res.append(o)
        for probs, smoothing in ((True, 0.0), (False, 0.1)):
            o, losses, scale = np.empty_like(xs), np.empty(40, dtype), np.empty(40, dtype)
            with np.errstate(all="ignore"):
                total, _ = rmod.cross_entropy_(xs.reshape(-1), t, xs[:0, 0], -100,
                                               smoothing, o.reshape(-1), losses, 40, c,
                                               probs, scale)
            res += [o, losses, np.array(total)] + ([scale] if probs else [])
    o = np.empty_like(x)
    rmod.exp_(-np.abs(x), o)
    res.append(o)
    fused += [f32] * (len(res) - len(fused))
    return res, fused


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_elementwise_and_rows_same_bits(dtype, isa):
    """The same bits as the baseline build, but where float32 exp and erf fuse their
    multiply-adds: there within 4 ulp, or 8 float32 eps where gelu cancels (1 + erf(x) near
    x = -4, cdf + x * pdf near x = -0.75); the baseline rounds each product and sum."""
    base, avx = _twins("elementwise", isa)
    rbase, ravx = _twins("reduce", isa)
    (want, fused), (got, _) = (_elementwise_and_rows(m, r, dtype)
                               for m, r in ((base, rbase), (avx, ravx)))
    assert any(fused) == (dtype == np.float32)
    for a, b, f in zip(got, want, fused):
        if f:
            finite = np.isfinite(b)
            np.testing.assert_array_equal(a[~finite], b[~finite])       # NaN, inf where due
            eps = np.finfo(np.float32).eps
            np.testing.assert_allclose(a[finite], b[finite], rtol=4 * eps, atol=8 * eps)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_float32_gelu_keeps_its_sign_in_the_far_tail(isa):
    """The rational erf overshoots -1 near x = -3.9 (gelu's x = -5.5): 1 + erf is clamped at
    0, so gelu(x) is never positive for x < 0 (it was for 25581 of these points)."""
    mod = _build("elementwise", isa)
    x = np.linspace(-6, 0, 600001, dtype=np.float32)[:-1]
    y = np.empty_like(x)
    mod.unary_(mod.GELU_ERF, x, y)
    assert np.count_nonzero(y > 0) == 0
    assert y.min() < 0          # and not simply zero: gelu(-1) = -0.1587


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_float32_gelu_backward_within_2e_7(isa):
    """The float32 gelu derivative Phi(x) + x phi(x), from one exp and a polynomial, on every
    build: within 2e-7 of the exact value on a sweep of [-10, 10] (the former erf-based one
    was 2.3e-7 off near x = 3.5), within 5e-4 relative where Phi(x) is small (x in
    [-4.5, -1.5]: 1 + erf(z) had cancelled to 2e-3 there), and PyTorch's values at the
    special points: 0.5 at zero, 1 and 0 far out, NaN for NaN and +-inf (x * 0)."""
    mod = _build("elementwise", isa)
    x = np.linspace(-10, 10, 200001, dtype=np.float32)
    d = np.empty_like(x)
    mod.unary_backward_(mod.GELU_ERF, x, np.ones_like(x), d, False)
    xd = x.astype(np.float64)
    exact = (0.5 * (1 + np.vectorize(math.erf)(xd / math.sqrt(2)))
             + xd * np.exp(-xd * xd / 2) / math.sqrt(2 * math.pi))
    assert np.abs(d - exact).max() <= 2e-7
    tail = (x > -4.5) & (x < -1.5)
    assert (np.abs(d - exact)[tail] / np.abs(exact[tail])).max() <= 5e-4
    special = np.array([0.0, -0.0, 30.0, -30.0, 1e30, -1e30, np.nan, np.inf, -np.inf],
                       np.float32)
    d = np.empty_like(special)
    with np.errstate(all="ignore"):
        mod.unary_backward_(mod.GELU_ERF, special, np.ones_like(special), d, False)
    np.testing.assert_array_equal(d, [0.5, 0.5, 1, 0, 1, 0, np.nan, np.nan, np.nan])


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_exp_forward_within_an_ulp(isa):
    """The float32 exp forward on every build: within an ulp of the rounded value on a dense
    sweep of [-104, 89] and past it, subnormal results within one subnormal step, inf from
    88.7229 up (e**88.7228 stays finite), 0 far below, NaN kept."""
    mod = _build("elementwise", isa)
    pos = np.arange(0, 0x42B20000, 997, dtype=np.int64).astype(np.int32).view(np.float32)
    neg = -np.arange(0, 0x42D00000, 997, dtype=np.int64).astype(np.int32).view(np.float32)
    x = np.concatenate([pos, neg, [np.nan, np.inf, -np.inf, 88.72, 88.7228, 88.7229, 88.73,
                                   89.0, 1e3, 3e38, -87.3, -103.9, -104.0, -1e3, -3e38, 0.0,
                                   -0.0, 1e-30, -1e-30]]).astype(np.float32)
    out = np.empty_like(x)
    mod.unary_(mod.EXP, x, out)
    with np.errstate(all="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    normal = np.isfinite(want) & (want >= np.finfo(np.float32).tiny)
    assert ulps_apart(out, want)[normal].max() <= 1
    small = want < np.finfo(np.float32).tiny
    np.testing.assert_allclose(out[small], want[small], rtol=0, atol=1.5e-45)
    np.testing.assert_array_equal(out[np.isinf(want)], want[np.isinf(want)])
    assert np.isnan(out[np.isnan(x)]).all() and not np.isnan(out[~np.isnan(x)]).any()


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_log_forward_within_an_ulp(isa):
    """The float32 log forward on every build: within an ulp of the rounded value on a sweep
    of every binade, subnormals included; -inf at +-0, NaN below 0 and at NaN, inf at inf."""
    mod = _build("elementwise", isa)
    x = np.arange(1, 0x7F800000, 4099, dtype=np.int64).astype(np.int32).view(np.float32)
    special = np.array([0.0, -0.0, -1.0, -1e-45, -np.inf, np.inf, np.nan, 1.0, 1e-45,
                        np.finfo(np.float32).max, 0.70710677, 0.7071068], np.float32)
    x = np.concatenate([x, special])
    out = np.empty_like(x)
    mod.unary_(mod.LOG, x, out)
    with np.errstate(all="ignore"):
        want = np.log(x.astype(np.float64)).astype(np.float32)
    finite = np.isfinite(want)
    assert ulps_apart(out[finite], want[finite]).max() <= 1
    np.testing.assert_array_equal(out[~finite], want[~finite])     # NaN matches NaN


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_elu_expm1_within_an_ulp(isa):
    """elu's e**x - 1 (x <= 0) on every build: within an ulp of the rounded value on a sweep
    of every binade down to past -30 (where it is -1), -0 kept, NaN kept; x itself above 0"""
    mod = _build("elementwise", isa)
    neg = -np.arange(1, 0x42000000, 2003, dtype=np.int64).astype(np.int32).view(np.float32)
    x = np.concatenate([neg, np.float32([-0.0, 0.0, -1e-45, -np.inf, np.nan, 3.5, np.inf])])
    out = np.empty_like(x)
    mod.unary_(mod.ELU, x, out, 1.0, 1.0)
    with np.errstate(all="ignore"):
        want = np.where(x <= 0, np.expm1(x.astype(np.float64)), x).astype(np.float32)
    finite = ~np.isnan(x)
    assert ulps_apart(out[finite], want[finite]).max() <= 1
    assert np.isnan(out[~finite]).all()
    assert np.signbit(out[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_softplus_and_log_sigmoid_within_2_ulp(isa):
    """softplus (beta 1 and 2) and log-sigmoid on every build: within 2 ulp of the exactly
    rounded value on a sweep of every binade of [-104, 104] (NumPy's own float32 formula is
    3 ulp off there), inf past e**88.7 as NumPy's, NaN kept"""
    mod = _build("elementwise", isa)
    pos = np.arange(0, 0x42D00000, 1999, dtype=np.int64).astype(np.int32).view(np.float32)
    x = np.concatenate([pos, -pos, np.float32([np.inf, -np.inf, 1e-45, -1e-45, 88.72283,
                                                88.72284])])
    x64 = x.astype(np.float64)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        for beta in (1.0, 2.0):
            mod.unary_(mod.SOFTPLUS, x, out, beta, 1e30)
            bx = x64 * beta
            want = np.where(bx > 88.72283172607422, np.inf,
                            (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta)
            want = want.astype(np.float32)
            assert ulps_apart(out, want).max() <= 2
            np.testing.assert_array_equal(out[~np.isfinite(want)], want[~np.isfinite(want)])
        mod.unary_(mod.LOG_SIGMOID, x, out)
        want = (np.minimum(x64, 0) - np.log1p(np.exp(-np.abs(x64)))).astype(np.float32)
        assert ulps_apart(out, want).max() <= 2
        nan = np.float32([np.nan, -np.nan])
        for op in (mod.SOFTPLUS, mod.LOG_SIGMOID):
            o = np.empty_like(nan)
            mod.unary_(op, nan, o, 1.0, 20.0)
            assert np.isnan(o).all()


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_tanh_within_an_ulp(isa):
    """The kernels' float32 tanh on every build: within an ulp of the rounded value (as
    NumPy's and PyTorch's) on a dense sweep of [-12, 12] (beyond, +-1), the sign of a zero
    and NaN kept, +-1 at +-inf, and tiny and subnormal x returned as they are."""
    mod = _build("elementwise", isa)
    bits = np.arange(0, 0x41400000, 1009, dtype=np.int64).astype(np.int32)  # 0 .. 12
    pos = bits.view(np.float32)
    x = np.concatenate([pos, -pos, [np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-38, 20.0,
                                    -100.0, 0.625, -0.625, np.nextafter(np.float32(0.625), 0)]]
                       ).astype(np.float32)
    out = np.empty_like(x)
    mod.unary_(mod.TANH, x, out)
    want = np.tanh(x.astype(np.float64)).astype(np.float32)
    finite = ~np.isnan(x)
    assert ulps_apart(out, want)[finite].max() <= 1
    assert np.isnan(out[~finite]).all()
    np.testing.assert_array_equal(np.signbit(out[x == 0]), np.signbit(x[x == 0]))
    tiny = finite & (np.abs(x) < 1e-4)
    np.testing.assert_array_equal(out[tiny], x[tiny])


def _float32_sweep():
    """every 1009th positive float32 (0 to inf) and their negatives, NaN and the infinities"""
    pos = np.arange(0, 0x7F800001, 1009, dtype=np.int64).astype(np.int32).view(np.float32)
    return np.concatenate([pos, -pos, np.float32([np.nan, -np.nan, np.inf, -np.inf])])


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_expm1_log1p_erf_accuracy(isa):
    """The kernels' float32 expm1, log1p and erf on every build: within an ulp of the rounded
    value (as glibc's, which NumPy calls, and PyTorch's) over the whole float range; tiny x
    returned as it is (expm1, log1p), the sign of a zero kept, and the ends: expm1 -1 and
    inf, log1p -inf at -1 and NaN below, erf +-1, NaN kept by all three"""
    mod = _build("elementwise", isa)
    x = _float32_sweep()
    special = np.float32([0.0, -0.0, 1e-45, -1e-45, 1e-30, -1e-30, 88.72, 88.7229, 89.0, -30.0,
                          -104.0, -1.0, np.nextafter(np.float32(-1), 0), -1.5, 3.9, 4.0, 4.1])
    x = np.concatenate([x, special])
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        from scipy import special as sp
        for op, ref, most in ((mod.EXPM1, np.expm1, 1), (mod.LOG1P, np.log1p, 1),
                              (mod.ERF, sp.erf, 1)):
            out = np.empty_like(x)
            mod.unary_(op, x, out)
            want = ref(x64).astype(np.float32)
            both_nan = np.isnan(out) & np.isnan(want)
            assert ulps_apart(out, want)[~both_nan].max() <= most, op
            np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
            zero = x == 0
            np.testing.assert_array_equal(np.signbit(out[zero]), np.signbit(x[zero]))
            tiny = np.abs(x) < 1e-30
            if op != mod.ERF:
                np.testing.assert_array_equal(out[tiny], x[tiny])


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_log2_log10_exp2_atan_asin_acos_sinh_cosh_accuracy(isa):
    """The kernels' float32 log2, log10, exp2, atan, asin, acos, sinh and cosh on every build:
    within an ulp of the rounded value (as glibc's, which NumPy calls, and PyTorch's) over
    every 1009th float, atan's two thresholds, asin's 1/2 and sinh's 1; the ends exact (-inf
    at +-0, NaN below 0, 0 and inf past exp2's range, +-pi/2 at +-inf, NaN past +-1, sinh
    and cosh inf from 89.42, NaN kept), exact powers exact, and the sign of atan's, asin's
    and sinh's zero kept"""
    mod = _build("elementwise", isa)
    powers = np.arange(-149, 128, dtype=np.float32)
    tens = np.float32(10.0) ** np.arange(11, dtype=np.float32)            # exact: 10**10 < 2**34
    special = np.float32([0.0, -0.0, 1e-45, -1e-45, 128.0, np.nextafter(np.float32(128), 0),
                          -150.0, -151.0, -200.0, 0.41421357, 0.41421354, 2.4142137,
                          2.4142134, 1.0, -1.0, 3e38, 0.5, -0.5, np.nextafter(np.float32(0.5), 1),
                          np.nextafter(np.float32(1), 2), 0.99999994, 89.41, 89.42, -89.42,
                          89.5, 90.0])
    x = np.concatenate([_float32_sweep(), powers, tens, special])
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        outs = {}
        for op, ref in ((mod.LOG2, np.log2), (mod.LOG10, np.log10), (mod.EXP2, np.exp2),
                        (mod.ATAN, np.arctan), (mod.ASIN, np.arcsin), (mod.ACOS, np.arccos),
                        (mod.SINH, np.sinh), (mod.COSH, np.cosh)):
            out = outs[op] = np.empty_like(x)
            mod.unary_(op, x, out)
            want = ref(x64).astype(np.float32)
            both_nan = np.isnan(out) & np.isnan(want)
            assert ulps_apart(out, want)[~both_nan].max() <= 1, op
            np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    n = powers.size
    # 2**k exactly (NumPy's own float32 exp2 on an AVX-512 host gives 2**127 an ulp high)
    exact = np.ldexp(np.float32(1), powers.astype(np.int32))
    np.testing.assert_array_equal(outs[mod.EXP2][-n - tens.size - special.size:][:n], exact)
    np.testing.assert_array_equal(outs[mod.LOG2][x == x.dtype.type(1)], 0)
    power = np.isin(x, exact)
    np.testing.assert_array_equal(
        np.ldexp(np.float32(1), outs[mod.LOG2][power].astype(np.int32)), x[power])
    assert (outs[mod.LOG2][power] % 1 == 0).all()
    np.testing.assert_array_equal(outs[mod.LOG10][-tens.size - special.size:][:tens.size],
                                  np.arange(11))
    zero = x == 0
    for op in (mod.ATAN, mod.ASIN, mod.SINH):
        np.testing.assert_array_equal(np.signbit(outs[op][zero]), np.signbit(x[zero]))
    big = np.abs(x) >= 89.42
    assert (outs[mod.COSH][big] == np.inf).all()
    np.testing.assert_array_equal(outs[mod.SINH][big], np.copysign(np.inf, x[big]))
    assert (outs[mod.LOG2][zero] == -np.inf).all() and (outs[mod.LOG10][zero] == -np.inf).all()
    # the ends exactly (an ulp's tolerance takes inf for the largest float, 0 for 1e-45)
    e = outs[mod.EXP2]
    assert (e[x >= 128] == np.inf).all() and (e[(x < -150) & ~np.isinf(x)] == 0).all()
    assert e[x == -np.inf][0] == 0 and e[x == -149][0] == np.float32(1e-45)
    half_pi = np.float32(np.pi / 2)
    assert outs[mod.ATAN][x == np.inf][0] == half_pi and outs[mod.ATAN][x == -np.inf][0] == -half_pi
    for op in (mod.ASIN, mod.ACOS):
        assert np.isnan(outs[op][np.abs(x) > 1]).all()
    assert outs[mod.ASIN][x == 1][0] == half_pi and outs[mod.ACOS][x == 1][0] == 0
    assert outs[mod.ACOS][x == -1][0] == np.float32(np.pi)


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_atanh_asinh_acosh_tan_erfc_accuracy(isa):
    """The kernels' float32 atanh, asinh, acosh, tan and erfc on every build: within an ulp
    of the rounded value (as glibc's, which NumPy and SciPy call) over every 1009th float,
    near +-1 and 2**13 (where asinh and acosh become ln 2x), near tan's multiples of pi/2 and
    its reduction's limit 2**19 (glibc's tanf beyond), erfc's subnormal results near 10 and
    its cut-off; the ends exact: atanh +-inf at +-1 and NaN past, acosh NaN below 1 and 0 at
    1, inf at inf, tan NaN at +-inf, erfc 2, 1 and 0 at -inf, 0 and inf, NaN kept; a tiny x
    is its own atanh, asinh and tan, with the sign of zero. tan in place (out is x) too,
    past the limit as well."""
    mod = _build("elementwise", isa)
    one_less = np.nextafter(np.float32(1), 0)
    special = np.float32([0.0, -0.0, 1e-45, -1e-45, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0,
                          one_less, -one_less, np.nextafter(np.float32(1), 2), 8192.0,
                          np.nextafter(np.float32(8192), 0), np.nextafter(np.float32(8192), 9e3),
                          3e38, -3e38, np.finfo(np.float32).max, np.inf, -np.inf, np.nan,
                          524288.0, np.nextafter(np.float32(524288), 1e6), -6e5, 1.5707964,
                          -1.5707964, 4.712389, 1e4 * np.pi, 9.2, 10.0, 10.05, 10.06, 10.125,
                          10.2, -10.2, 26.0, -26.0])
    x = np.concatenate([_float32_sweep(), special])
    from scipy import special as sp
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        outs = {}
        for op, ref in ((mod.ATANH, np.arctanh), (mod.ASINH, np.arcsinh),
                        (mod.ACOSH, np.arccosh), (mod.TAN, np.tan), (mod.ERFC, sp.erfc)):
            out = outs[op] = np.empty_like(x)
            mod.unary_(op, x, out)
            want = ref(x64).astype(np.float32)
            both_nan = np.isnan(out) & np.isnan(want)
            assert ulps_apart(out, want)[~both_nan].max() <= 1, op
            np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    atanh, asinh, acosh, tan = outs[mod.ATANH], outs[mod.ASINH], outs[mod.ACOSH], outs[mod.TAN]
    np.testing.assert_array_equal(atanh[np.abs(x) == 1], np.copysign(np.inf, x[np.abs(x) == 1]))
    assert np.isnan(atanh[np.abs(x) > 1]).all() and np.isnan(acosh[x < 1]).all()
    assert (acosh[x == 1] == 0).all() and (acosh[x == np.inf] == np.inf).all()
    np.testing.assert_array_equal(asinh[np.isinf(x)], x[np.isinf(x)])
    assert np.isnan(tan[np.isinf(x)]).all()
    erfc = outs[mod.ERFC]
    assert erfc[x == -np.inf][0] == 2 and erfc[x == np.inf][0] == 0
    assert (erfc[x == 0] == 1).all() and (erfc[x > 10.06] == 0).all()
    assert (erfc[x < -10] == 2).all()
    tiny = np.abs(x) < 1e-30
    for out in (atanh, asinh, tan):
        np.testing.assert_array_equal(out[tiny], x[tiny])
        np.testing.assert_array_equal(np.signbit(out[x == 0]), np.signbit(x[x == 0]))
    in_place = x.copy()
    mod.unary_(mod.TAN, in_place, in_place)
    np.testing.assert_array_equal(in_place, tan)


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_erfinv_accuracy(isa):
    """The kernels' float32 erfinv on every build: within an ulp of the rounded value
    (SciPy's float64 erfinv, rounded) over every 257th float in [-1, 1] and the last 4096
    below 1 in size; the ends exact: +-inf at +-1, NaN past them and at NaN, the sign of
    zero kept, a subnormal x gives x sqrt(pi)/2 rounded. In place (out is x) the same bits.
    float64 refused: libm has no erfinv (SciPy's serves it)."""
    from scipy import special as sp
    mod = _build("elementwise", isa)
    one = np.float32(1)
    below_one = np.arange(0x3F800000 - 4096, 0x3F800000, dtype=np.uint32).view(np.float32)
    grid = np.arange(0, 0x3F800001, 257, dtype=np.uint32).view(np.float32)
    special = np.float32([0.0, -0.0, 1e-45, -1e-45, 1e-38, 1.0, -1.0, np.nextafter(one, 2),
                          -np.nextafter(one, 2), 2.0, np.inf, -np.inf, np.nan, 0.5, -0.5])
    x = np.concatenate([grid, -grid, below_one, -below_one, special])
    out = np.empty_like(x)
    mod.unary_(mod.ERFINV, x, out)
    with np.errstate(all="ignore"):
        want = np.copysign(sp.erfinv(x.astype(np.float64)), x).astype(np.float32)
    inside = np.abs(x) < 1
    assert ulps_apart(out[inside], want[inside]).max() <= 1
    np.testing.assert_array_equal(out[np.abs(x) == 1], np.copysign(np.inf, x[np.abs(x) == 1]))
    assert np.isnan(out[~inside & (np.abs(x) != 1)]).all()
    np.testing.assert_array_equal(np.signbit(out[x == 0]), np.signbit(x[x == 0]))
    tiny = np.float32([1e-45, -1e-45, 1e-38])
    np.testing.assert_array_equal(out[-13:-10], (tiny.astype(np.float64) * math.sqrt(math.pi)
                                                 / 2).astype(np.float32))
    in_place = x.copy()
    mod.unary_(mod.ERFINV, in_place, in_place)
    np.testing.assert_array_equal(in_place, out)
    with pytest.raises(TypeError, match="ERFINV takes float32 only, got float64"):
        mod.unary_(mod.ERFINV, x.astype(np.float64), x.astype(np.float64))
    with pytest.raises(ValueError, match="has no op"):
        mod.unary_backward_(mod.ERFINV, x, x, out, False)


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_exp_first_blocks_same_bits_at_any_offset(isa):
    """float32 tanh, sigmoid, silu, log_sigmoid, softplus, mish and the tanh gelu forward,
    and silu's, mish's and both gelus' backward, take their exps 256 elements at a time
    first, then the rest: an element's value depends neither on where a block starts or ends
    (x[k:] gives the same bits as x, for offsets across a block's end; one element alone
    too), nor on the pass writing over its input; and the backward's four loops (g full or
    one element, out set or added to) agree. (erf, one loop, is held to the same.)"""
    mod = _build("elementwise", isa)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(1000) * 4).astype(np.float32)
    x[::97] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -40.0, 9.5, 10.5, 0.625, 0.6249999]
    x[1::89] = [-105.0, -30.0, 21.0, 3.93, -3.9300001, 4.5, 88.8, -88.8, 1e-40, 50.0, -50.0, 0.5]
    g = rng.standard_normal(1000).astype(np.float32)
    for op, p0, p1 in ((mod.TANH, 0, 0), (mod.SIGMOID, 0, 0), (mod.SILU, 0, 0),
                       (mod.GELU_TANH, 0, 0), (mod.LOG_SIGMOID, 0, 0), (mod.SOFTPLUS, 1, 20),
                       (mod.SOFTPLUS, 2, 3), (mod.MISH, 0, 0), (mod.ERF, 0, 0)):
        full = np.empty_like(x)
        mod.unary_(op, x, full, p0, p1)
        for k in (1, 255, 257, 743, 999):
            part = np.empty_like(x[k:])
            mod.unary_(op, x[k:], part, p0, p1)
            np.testing.assert_array_equal(part, full[k:])
        for i in list(range(0, 1000, 37)) + list(range(1, 1000, 89)):
            one = np.empty(1, np.float32)
            mod.unary_(op, x[i:i + 1], one, p0, p1)
            np.testing.assert_array_equal(one, full[i:i + 1])
        in_place = x.copy()
        mod.unary_(op, in_place, in_place, p0, p1)
        np.testing.assert_array_equal(in_place, full)
    base = rng.standard_normal(1000).astype(np.float32)
    for op in (mod.SILU, mod.GELU_ERF, mod.GELU_TANH, mod.MISH):
        d = np.empty_like(x)
        mod.unary_backward_(op, x, g, d, False)
        for k in (1, 257, 999):
            part = np.empty_like(x[k:])
            mod.unary_backward_(op, x[k:], g[k:], part, False)
            np.testing.assert_array_equal(part, d[k:])
        acc = base.copy()
        mod.unary_backward_(op, x, g, acc, True)
        np.testing.assert_array_equal(acc, base + d)
        d_one, d_full = np.empty_like(x), np.empty_like(x)
        mod.unary_backward_(op, x, g[:1], d_one, False)
        mod.unary_backward_(op, x, np.full_like(x, g[0]), d_full, False)
        np.testing.assert_array_equal(d_one, d_full)
        acc = base.copy()
        mod.unary_backward_(op, x, g[:1], acc, True)
        np.testing.assert_array_equal(acc, base + d_full)


@pytest.mark.parametrize("isa", [""] + ISAS)
def test_kernel_mish_accuracy(isa):
    """The kernels' float32 mish and its derivative from one exp, on every build: within 4 ulp
    of the rounded value over every 1009th float (PyTorch's exp, log1p and tanh in turn: 3;
    134 ulp off at -91.8, where e**x is subnormal), and within an ulp of the smallest
    subnormal where the result is one, down to x = -104 (below, -0: at most 48 subnormal
    steps off, and 0 by -107.4); x where tanh(softplus) rounds to 1, NaN kept, inf at inf and
    NaN at -inf (-inf * 0, as PyTorch's)"""
    mod = _build("elementwise", isa)
    x = _float32_sweep()
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        t = np.tanh(np.logaddexp(0, x64))
        out, grad = np.empty_like(x), np.empty_like(x)
        mod.unary_(mod.MISH, x, out)
        mod.unary_backward_(mod.MISH, x, np.ones_like(x), grad, False)
        want = (x64 * t).astype(np.float32)
        dwant = (t + x64 * (1 - t * t) / (1 + np.exp(-x64))).astype(np.float32)
    finite = np.isfinite(x)
    normal = finite & (np.abs(want) >= np.finfo(np.float32).tiny)
    assert ulps_apart(out, want)[normal].max() <= 4
    assert np.abs(out - want)[finite & ~normal & (x >= -104)].max() <= 2.0 ** -149
    # the derivative: 1 - t*t without cancellation (PyTorch's is 1e-6 off near x = 8); a sum
    # that cancels near its minimum (x = -1.19): 3 ulp or 1e-7 off
    big = ulps_apart(grad, dwant)[finite] > 3
    assert (np.abs(grad - dwant)[finite][big] <= 1e-7).all()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(x) | (x == -np.inf))  # -inf * 0
    big_pos, big_neg = x > 20, (x < -104) & finite
    np.testing.assert_array_equal(out[big_pos], x[big_pos])
    assert (out[big_neg] == 0).all() and np.signbit(out[big_neg]).all()
    assert out[x == np.inf][0] == np.inf


@pytest.mark.parametrize("dtype", DTYPES)
def test_avx2_and_avx512_builds_same_bits(dtype):
    """Both wide builds fuse the same multiply-adds: the same bits, exp and erf included."""
    runs = [_elementwise_and_rows(*(_twins(name, isa)[1] for name in ("elementwise", "reduce")),
                                  dtype)[0] for isa in ISAS]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_binary_same_bits(dtype, isa):
    base, avx = _twins("binary", isa)
    rng = np.random.default_rng(23)
    x, y, g = (rng.uniform(0.5, 2.0, 6 * 7001).astype(dtype) for _ in range(3))
    outs = []
    for mod in (base, avx):
        res = []
        for op in (mod.ADD, mod.SUB, mod.MUL, mod.DIV, mod.MAXIMUM, mod.MINIMUM):
            o = np.empty_like(x)
            mod.binary_(op, x, mod.FULL, y[:7001], mod.ROW, o, 6, 7001)
            res.append(o)
            for ym, yy in ((mod.FULL, y), (mod.ROW, y[:7001]), (mod.COL, y[:6]),
                           (mod.SCALAR, y[:1])):
                ga, gb = np.empty_like(x), np.empty_like(yy)
                mod.binary_backward_(op, x, mod.FULL, yy, ym, g, ga, gb, True, True, False,
                                     False, 6, 7001)
                res += [ga, gb]
        outs.append(res)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_cross_entropy_one_g_for_all_rows_stays_compiled(ck_rows, monkeypatch):
    """A "mean" or "sum" hands backward one 0-d g: the compiled kernel takes it as it is."""
    rng = np.random.default_rng(13)
    logits, target = rng.standard_normal((6, 10)).astype(np.float32), rng.integers(0, 10, 6)
    _, saved, _, _ = ck_rows.cross_entropy_forward(logits, target)
    want = REF.cross_entropy_backward(np.log(saved.p), target, np.full(6, np.float32(0.5)))
    monkeypatch.setattr(NumpyKernels, "cross_entropy_backward", None)   # no fallback
    assert_same(ck_rows.cross_entropy_backward(saved, target, np.asarray(np.float32(0.5))),
                want, exact=False)


def test_vector_exp_gives_the_scalar_exps_bits(ck):
    """_vmath.pxd writes exp twice, once per element (GCC vectorises its loops) and once on 16
    lanes (the row kernels' exp-and-sum): the same operations, so the same bits."""
    from cgrad.backends.cython_backend import _rd
    rng = np.random.default_rng(24)
    r, c = 64, 37                       # rows of 16 + 16 + a masked tail of 5
    x = rng.uniform(-120, 0, (r, c)).astype(np.float32)
    x[:, 0] = 0                         # each row's max is 0: the kernel's exps are exp(x)
    x[1, 5:9] = [-87.3, -103.9, -104.5, -1e-7]
    e, losses, scale = np.empty(r * c, np.float32), np.empty(r, np.float32), np.empty(r,
                                                                                     np.float32)
    _rd.cross_entropy_(x.reshape(-1), np.zeros(r, np.int64), x[:0, 0], -100, 0.0, e, losses,
                       r, c, True, scale)
    one_by_one = np.empty(r * c, np.float32)
    _rd.exp_(x.reshape(-1), one_by_one)
    np.testing.assert_array_equal(e, one_by_one)


@pytest.mark.parametrize("rows", [5000, 70000])
@pytest.mark.parametrize("columns", [1, 3, 10, 16, 40, 129, 1000])
def test_leading_axis_sums_take_the_column_kernel(monkeypatch, threads, columns, rows):
    """At the default thresholds a sum over the leading axis (a bias gradient: sum,
    sum_to_shape, linear_backward's, into a gradient buffer too) runs compiled from 2^12
    elements (NumPy's adds a row at a time, slower at any size), smaller ones NumPy's; the
    values within 3 eps of the float64 sum of |g|, one result at both thread counts"""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    k = CythonKernels()
    g = np.random.default_rng(31).standard_normal((rows // columns, columns)).astype(
        np.float32)
    small = g[:4096 // columns - 1]
    monkeypatch.setattr(NumpyKernels, "sum", lambda *a: "numpy")
    monkeypatch.setattr(NumpyKernels, "sum_to_shape", lambda *a: "numpy")
    assert k.sum(small, (0,)) == "numpy"
    if columns > 1:                                   # (to one element: its own sum)
        assert k.sum_to_shape(small, (columns,)) == "numpy"
    monkeypatch.setattr(NumpyKernels, "sum", None)                 # no fallback
    monkeypatch.setattr(NumpyKernels, "sum_to_shape", None)
    want = g.astype(np.float64).sum(0)
    bound = 3 * np.finfo(np.float32).eps * np.abs(g).astype(np.float64).sum(0) + np.spacing(
        np.abs(want.astype(np.float32)))
    acc = np.linspace(-1, 1, columns, dtype=np.float32)
    one, two = threads(lambda: (
        k.sum(g, (0,)), k.sum_to_shape(g, (1, columns)).reshape(-1),
        k.linear_backward(None, None, g, False, False, True)[2],
        k.linear_backward(None, None, g, False, False, True, acc_b=acc.copy())[2]))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    for a in one[:3]:
        assert a.dtype == np.float32 and np.all(np.abs(a - want) <= bound)
    np.testing.assert_array_equal(one[3], acc + one[0])         # added into the buffer


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dims", [((64, 256, 64), (1,)), ((3, 5, 4, 2100), (1, 2)),
                                         ((6, 70, 2), (1,)), ((2, 20000), (0,)),
                                         ((3, 4, 20000), (0, 1)), ((5, 0, 3), (1,)),
                                         ((4, 30, 5), (1,)), ((3, 4, 0), (1,))], ids=str)
def test_middle_axis_sums_take_the_column_kernel(monkeypatch, threads, dtype, shape, dims):
    """A sum over a run of axes with kept axes after it runs compiled at the default
    thresholds, in double (float32 four rows at a time first): within 3 eps of the float64
    sum of |x| and the result's rounding, one result at both thread counts, the same for
    mean; empty sums give 0"""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    k = CythonKernels()
    k.min_size_sum_cols = 0                          # (the small shapes too)
    for name in ("sum", "mean"):
        monkeypatch.setattr(NumpyKernels, name, None)                   # no fallback
    x = np.random.default_rng(32).standard_normal(shape).astype(dtype)
    want = x.astype(np.float64).sum(dims, keepdims=True)
    one, two = threads(lambda: (k.sum(x, dims, True), k.mean(x, dims)))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    assert one[0].dtype == dtype and one[0].shape == want.shape
    if dtype == np.float32:         # four rows' float32 sum (2 eps), the result rounded
        bound = (3 * np.finfo(np.float32).eps * np.abs(x).astype(np.float64).sum(
            dims, keepdims=True) + np.spacing(np.abs(want.astype(dtype))))
        assert np.all(np.abs(one[0] - want) <= bound)
    else:
        np.testing.assert_allclose(one[0], want, rtol=1e-12, atol=1e-12)
    n = math.prod(shape[d] for d in dims)
    if n:
        np.testing.assert_allclose(one[1], (want / n).reshape(one[1].shape),
                                   **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dims", [((64, 32, 16, 16), (0, 2, 3)), ((8, 3, 5, 7), (0, 2, 3)),
                                         ((2, 3, 4, 5, 6), (0, 1, 4)), ((40, 100, 3), (0, 2)),
                                         ((0, 16, 300), (0, 2)), ((3, 0, 2000), (0, 2)),
                                         ((3, 2000, 0), (0, 2)), ((5, 3000, 1), (0, 2))], ids=str)
def test_sums_over_all_but_a_middle_run(monkeypatch, threads, dtype, shape, dims):
    """every axis but one middle run summed (a convolution's bias gradient, all but C): one
    compiled pass, each kept position's rows in double in a fixed order: within float32's
    rounding of the float64 sum (float64 within 1e-12), the same bits at 1 and 2 threads,
    zero-size sums 0"""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    k = CythonKernels()
    k.min_size_sum_cols = 0
    monkeypatch.setattr(NumpyKernels, "sum", None)                   # no fallback
    x = np.random.default_rng(33).standard_normal(shape).astype(dtype)
    want = x.astype(np.float64).sum(dims, keepdims=True)
    one, two = threads(lambda: k.sum(x, dims, True))
    np.testing.assert_array_equal(one, two)
    assert one.dtype == dtype and one.shape == want.shape
    bound = (8 * np.finfo(dtype).eps * np.abs(x).astype(np.float64).sum(dims, keepdims=True)
             + np.spacing(np.abs(want.astype(dtype))))
    assert np.all(np.abs(one - want) <= bound)


@pytest.mark.parametrize("shape, dims", [((2, 3, 64, 64), (0, 2, 3)), ((6, 20000), (1,)),
                                         ((70000,), None)], ids=str)
def test_lane_sums_overflowing_float32(ck, shape, dims):
    """the row, whole and all-but-a-middle-run sums add a block in float32 lanes first:
    where that overflows (3e38, -3e38, 3e38, -3e38 in one lane's reach: inf - inf) the block
    is summed again in double, its true sum (0 here, not NaN); a NaN stays NaN"""
    ck.min_size_sum_cols = 0
    x = np.zeros(shape, np.float32)
    x.reshape(-1)[:4] = [3e38, -3e38, 3e38, -3e38]
    got = ck.sum(x, dims)
    assert not got.any() and np.isfinite(got).all()
    x.reshape(-1)[7] = np.nan
    assert np.isnan(ck.sum(x, dims)).sum() == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_middle_axis_sums_every_layout(ck, dtype, layout):
    """the column sums and the sums over all but a middle run (x read where it is
    C-contiguous, else NumPy's) against the reference: over a middle dim and a middle run,
    the leading ones, and every dim but one or two middle ones"""
    ck.min_size_reduce_narrow = 0
    ck.min_size_sum_cols = 0
    x = make(layout, dtype, (6, 7, 5, 37))
    for dims in ((1,), (1, 2), (0, 1, 2), (0,), (0, 1), (0, 2, 3), (0, 3)):
        want = REF.sum(x, dims, True)
        assert_sum_close(ck.sum(x, dims, True), want, REF.sum(np.abs(x), dims, True))


def test_sums_of_negative_zeros_are_positive_zero(ck, threads):
    """NumPy's and PyTorch's sums start from +0: all -0 sums to +0, over a middle run and
    the leading axes (the column kernel), all but a middle one, and in sum_to_shape"""
    x = -np.zeros((64, 256, 64), np.float32)
    for got in threads(lambda: (ck.sum(x, (1,), True), ck.sum(x, (0,), True),
                                ck.sum(x, (0, 2), True),
                                ck.sum_to_shape(x, (64, 1, 64)), ck.sum_to_shape(x, (256, 64)),
                                ck.mean(x, (1,)))):
        for a in got:
            assert not np.signbit(a).any()


def test_middle_axis_float64_sums_stay_accurate():
    """2^21 float64 terms down a middle axis: blocks of rows, then the blocks, keep the
    error near the grid kernel's (a running sum over all the rows was 9.9e-8 off)"""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    x = np.random.default_rng(33).random((2, 1 << 21, 1)) + 0.1
    got = CythonKernels().sum(x, (1,), True).reshape(-1)
    want = [math.fsum(x[i, :, 0]) for i in range(2)]
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-9)


def test_sum_over_no_axis_is_x(ck):
    """dim=() sums over nothing: x itself, at any size (the column path looked for a run)"""
    ck.min_size_reduce_narrow = 0
    for x in (make("contiguous", np.float32, (3, 4)), make("contiguous", np.float64, (5,))):
        assert_same(ck.sum(x, (), True), REF.sum(x, (), True))


def test_sum_cols_kernel_checked():
    from cgrad._C import reduce as rd
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3\), expected \(2, 4\)"):
        rd.sum_cols_(x, np.empty((2, 3), np.float32))
    out = np.full((2, 4), 7, np.float32)
    rd.sum_cols_(x[:, :0], out, True)
    assert (out == 7).all()                           # nothing added
    rd.sum_cols_(x[:, :0], out)
    assert not out.any()                              # a sum over nothing
    rd.sum_cols_(x, out, True)
    rd.sum_cols_(x, out, True)
    assert (out == 6).all()                           # added, twice


@pytest.mark.parametrize("columns", [1, 3, 17, 40, 63, 64, 100])
def test_sum_cols_adds_once_at_any_thread_count(threads, columns):
    """a leading-axis sum added into a buffer (a bias gradient's accumulation): short rows
    summed side by side are one task, not one per thread adding the row twice"""
    from cgrad._C import reduce as rd
    x = np.ones((1, 40000, columns), np.float32)

    def run():
        out = np.ones((1, columns), np.float32)
        rd.sum_cols_(x, out, True)
        return out
    for out in threads(run):
        assert (out == 40001).all()


@pytest.mark.parametrize("dims, shape, rows", [((0,), (8, 1024), range(4)),
                                               ((0,), (64, 3), range(0, 64, 16)),
                                               ((1,), (2, 8, 100), range(4))], ids=str)
def test_column_sums_overflowing_four_float32_rows(ck, dims, shape, rows):
    """four float32 rows are added in float32 first (rows 16 apart where rows of 3 go side
    by side): where that overflows (3e38 twice, then -3e38 twice: inf - inf) the column is
    summed again in double, its true sum (0 here, not NaN); a column holding NaN or a sum
    past float32 stays NaN or inf"""
    x = np.zeros(shape, np.float32)
    index = [slice(None)] * len(shape)
    for k, v in zip(rows, (3e38, 3e38, -3e38, -3e38)):
        index[dims[0]] = k
        x[tuple(index)] = v
    ck.min_size_sum_cols = 0
    assert_same(ck.sum(x, dims), np.zeros(np.delete(shape, dims[0]), np.float32))
    index[dims[0]] = 5
    x[tuple(index)] = 3e38                            # past float32 in double too: inf
    index[dims[0]] = 6
    x[tuple(index)] = 3e38
    got = ck.sum(x, dims)
    assert np.isposinf(got).all()
    x.reshape(-1)[-1] = np.nan
    assert np.isnan(ck.sum(x, dims).reshape(-1)[-1])


# ---- sort order (std::sort's, PyTorch's) -----------------------------------------------------
def laid_out(a, layout):
    """a copy of a with the given memory layout (make's layouts, for values built first)"""
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "strided":
        return np.repeat(a, 2, axis=-1)[..., ::2]
    if layout == "negative":
        return np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    if layout == "broadcast":
        return np.broadcast_to(a[:1], a.shape)
    if layout == "empty":
        return a[:0]
    b = np.empty(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape) \
        if layout == "unaligned" else a.copy()
    b[...] = a
    b.flags.writeable = layout != "readonly"
    return b


@pytest.mark.parametrize("compare", ["ascending", "descending", "less"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES + [np.float16, np.int64, np.int32, np.bool_])
def test_sort_order(ck, compare, layout, dtype):
    """std::sort itself against the NumPy backend's replay of it, on rows of ties (and NaN and
    inf) past its 16-element insertion sort, in every layout"""
    rng = np.random.default_rng(5)
    a = rng.integers(-3, 3, (4, 130)).astype(np.float64)          # ties
    if np.dtype(dtype).kind == "f":
        a[rng.random(a.shape) < 0.1] = np.nan
        a[rng.random(a.shape) < 0.1] = np.inf
    a = laid_out(a.astype(dtype) if dtype is not np.bool_ else a > 0, layout)
    assert_same(ck.sort_order(a, compare), REF.sort_order(a, compare))
    assert_same(ck.sort_order(a, compare, stable=True), REF.sort_order(a, compare, True))
    if compare != "less" and a.dtype != np.bool_:
        for k in (0, 1, 2, 13, 130):              # partial_sort (k * 64 <= n), nth_element
            for sorted_ in (True, False):
                assert_same(ck.topk_order(a, k, compare == "descending", sorted_),
                            REF.topk_order(a, k, compare == "descending", sorted_))


# ---- small arrays: cgrad._C.small, below the size thresholds -----------------------------------
# At the default thresholds a small call skips the fused kernels; cgrad._C.small's one-call
# loops take the common layouts and must give NumPy's bits exactly (the same IEEE operation
# an element, NumPy's pairwise order for sums). Everything else still goes to NumPy.
SMALL_SHAPES = [(), (1,), (1, 1), (7,), (3, 4), (100, 1), (2, 3, 5), (0,), (4, 0)]
SMALL_PAIRS = [(s, s) for s in SMALL_SHAPES] + [
    ((), (3, 4)), ((3, 4), ()), ((1,), (3, 4)), ((3, 4), (1, 1)), ((1, 1), (5,)),
    ((1, 1, 1), (3, 4)), ((), (0,)), ((4,), (3, 4)), ((3, 1), (3, 4)), ((1,), ())]


@pytest.fixture
def small_k():
    """A CythonKernels at its default thresholds: small calls take the small paths."""
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    return CythonKernels()


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SMALL_PAIRS, ids=str)
def test_small_binary_forward(small_k, op, dtype, shapes):
    a, b = make("contiguous", dtype, shapes[0]), make("contiguous", dtype, shapes[1])
    b[...] = np.where(b == 0, 1.5, b) if b.ndim else (b if b != 0 else 1.5)
    with np.errstate(all="ignore"):
        assert_same(getattr(small_k, op)(a, b), getattr(REF, op)(a, b))
        for scalar in (0.1, -3.0, 1e300, 0.0):
            assert_same(getattr(small_k, op)(a, scalar), getattr(REF, op)(a, scalar))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_small_binary_forward_layouts(small_k, op, dtype, layout):
    a = make(layout, dtype, (6, 5))
    for b in (make("contiguous", dtype, a.shape), make("contiguous", dtype, ()),
              make(layout, dtype, a.shape)):
        assert_same(getattr(small_k, op)(a, b), getattr(REF, op)(a, b))
        assert_same(getattr(small_k, op)(b, a), getattr(REF, op)(b, a))


def test_small_binary_special_values_and_mixed(small_k):
    a = np.array([np.nan, 1.0, -0.0, np.inf, -np.inf, 2.0, np.nan, 0.0], np.float32)
    b = np.array([1.0, np.nan, 0.0, np.inf, 1.0, -np.inf, np.nan, -0.0], np.float32)
    with np.errstate(all="ignore"):
        for op in ("add", "sub", "mul", "div"):
            assert_same(getattr(small_k, op)(a, b), getattr(REF, op)(a, b))
            assert_same(getattr(small_k, op)(a, b[2:3]), getattr(REF, op)(a, b[2:3]))
            for x, y in [(a, b.astype(np.float64)), (a.astype(np.float64), b), (a, 2),
                         (np.arange(8), np.arange(8)), (3.0, a)]:
                assert_same(getattr(small_k, op)(x, y), getattr(REF, op)(x, y))


@pytest.mark.parametrize("op", ["add", "mul"])
def test_small_binary_path_is_taken(small_k, monkeypatch, op):
    """Contiguous small floats are computed by cgrad._C.small; larger ones (above MAX_BINARY,
    where NumPy's SIMD loop is faster) and other layouts go on to NumPy."""
    from cgrad.backends import cython_backend
    results = []

    class Spy:
        def __getattr__(self, name):
            return getattr(small, name)

        def binary(self, *args):
            results.append(small.binary(*args))
            return results[-1]
    small = cython_backend._small
    monkeypatch.setattr(cython_backend, "_small", Spy())
    b = make("contiguous", np.float32, ())
    for a, taken in [(make("contiguous", np.float32, (100, 1)), True),
                     (make("strided", np.float32, (100, 2)), False),
                     (make("contiguous", np.float32, (2000,)), False)]:
        results.clear()
        assert_same(getattr(small_k, op)(a, b), getattr(REF, op)(a, b))
        assert len(results) == 1 and (results[0] is not None) == taken


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shapes", [((6, 5), ()), ((6, 5), (6, 5)), ((100, 1), ()),
                                    ((6, 5), (5,)), ((), ())], ids=str)
def test_small_mul_backward(small_k, dtype, layout, shapes):
    a = make(layout, dtype, shapes[0])
    b = make("contiguous", dtype, a.shape if shapes[1] == shapes[0] else shapes[1])
    g = make(layout, dtype, np.broadcast_shapes(a.shape, b.shape))
    for need_a, need_b in [(True, True), (True, False), (False, True)]:
        got = small_k.mul_backward(a, b, g, need_a, need_b)
        want = REF.mul_backward(a, b, g, need_a, need_b)
        for x, w in zip(got, want):
            assert (x is None) == (w is None)
            if w is not None:
                assert_same(x, w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_small_pow2_forward_and_backward(small_k, dtype, layout):
    x = make(layout, dtype, (6, 5))
    for g in (make(layout, dtype, x.shape), make("contiguous", dtype, x.shape),
              np.broadcast_to(np.asarray(0.25, dtype), x.shape)):      # a mean's backward
        assert_same(small_k.pow_scalar_backward(x, 2, g), REF.pow_scalar_backward(x, 2, g))
    assert_same(small_k.pow_scalar(x, 2), REF.pow_scalar(x, 2))
    acc = make("contiguous", dtype, x.shape)
    want = REF.pow_scalar_backward(x, 2, x, acc.copy())
    assert_same(small_k.pow_scalar_backward(x, 2, x, acc), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (100, 1), (3, 130), (2, 3, 5), (0, 3),
                                   (5000,), (256, 255)], ids=str)
def test_small_sums_and_means_give_numpys_bits(small_k, monkeypatch, dtype, layout, shape):
    """the NumPy backend's bits, not merely close ones, for the whole sums and means of small
    arrays (a loss's .sum() or .mean(): PyTorch's order on both backends, see test_torch_sum)"""
    g = make(layout, dtype, shape, low=-1e3, high=1e3)
    for target in [(), (1,), (1,) * len(shape)]:
        if len(target) <= len(shape):
            assert_same(small_k.sum_to_shape(g, target), REF.sum_to_shape(g, target))
    with np.errstate(invalid="ignore"):
        assert_same(small_k.mean(g), REF.mean(g))
        assert_same(small_k.mean(g, None, True), REF.mean(g, None, True))
        want_sum, want_mean = REF.sum(g), REF.mean(g)
        assert_same(small_k.sum(g), want_sum)
        assert_same(small_k.sum(g, None, True), REF.sum(g, None, True))
        if layout == "contiguous":              # computed by the small module itself
            monkeypatch.setattr(NumpyKernels, "sum", None)
            monkeypatch.setattr(NumpyKernels, "mean", None)
            assert_same(small_k.sum(g), want_sum)
            assert_same(small_k.mean(g), want_mean)


def test_small_sums_signed_zeros_and_nans(small_k):
    for values in ([-0.0], [-0.0, -0.0], [np.nan, 1.0], [np.inf, -np.inf], [1e38, 1e38],
                   [-1e308, -1e308]):
        for dtype in DTYPES:
            with np.errstate(all="ignore"):
                g = np.array(values, dtype)              # (-1e308 is -inf in float32)
                assert_same(small_k.sum_to_shape(g, ()), REF.sum_to_shape(g, ()))
                assert_same(small_k.mean(g), REF.mean(g))
                assert_same(small_k.sum(g), REF.sum(g))


def test_small_module_refuses_what_it_does_not_take():
    from cgrad._C import small
    f32, f64 = np.ones(4, np.float32), np.ones(4)
    assert small.binary(small.ADD, f32, f64) is None                  # two dtypes
    assert small.binary(small.ADD, f64[::2], f64[:2]) is None          # not contiguous
    assert small.binary(small.ADD, np.ones(4, int), np.ones(4, int)) is None
    assert small.binary(small.ADD, f64, 2) is None                     # a Python int
    assert small.binary(small.ADD, f64, np.ones(3)) is None            # shapes
    assert small.binary(small.ADD, np.ones(3), np.ones((1, 1))) is None   # more dims than
    assert small.binary(small.ADD, np.ones((1, 1)), np.ones(3)) is None   # either: (1, 3)
    np.testing.assert_array_equal(small.binary(small.ADD, np.ones(()), np.ones((1,))), [2.])
    assert small.binary(small.ADD, f64, [1.0] * 4) is None
    assert small.mul_scaled(f64, f32, 2.0) is None
    assert small.mul_scaled(np.ones(3), f64, 2.0) is None
    swapped = np.arange(1, 5, dtype=">f4")             # other byte order: NumPy's ufuncs, then
    assert small.binary(small.MUL, swapped, swapped) is None
    assert small.binary(small.MUL, np.ones(4, np.float32), swapped[:1].reshape(())) is None
    assert small.mul_scaled(swapped, np.ones(4, np.float32), 2.0) is None
    assert small.mul_scaled(np.ones(4, np.float32), swapped, 2.0) is None


def test_small_paths_take_other_byte_orders_through_numpy(small_k):
    """a big-endian array (reachable through NumPy's own arrays in a backend call) computes
    right: the small kernels refuse it, NumPy swaps"""
    a = np.arange(1, 7, dtype=">f8").reshape(2, 3)
    native = a.astype(np.float64)
    for op in ("add", "mul", "div"):
        np.testing.assert_array_equal(getattr(small_k, op)(a, a), getattr(REF, op)(native, native))
    np.testing.assert_array_equal(small_k.sum_to_shape(a, ()), native.sum())
    np.testing.assert_array_equal(small_k.mean(a), native.mean())
    np.testing.assert_array_equal(small_k.sum(a), native.sum())
    np.testing.assert_array_equal(small_k.pow_scalar(a, 2), native ** 2)


@settings(max_examples=200, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=5),
       st.sampled_from(DTYPES), st.sampled_from(["add", "sub", "mul", "div"]),
       st.sampled_from(["contiguous", "contiguous", "transposed", "negative", "readonly",
                        "unaligned"]), st.integers(0, 2**32 - 1))
def test_small_paths_hypothesis(shapes, dtype, op, layout, seed):
    """Every small path against NumPy's on drawn shapes and layouts: the same bits"""
    k = CythonKernels()
    (sa, sb), out = shapes
    rng = np.random.default_rng(seed)
    a, b = make(layout, dtype, sa, rng), make("contiguous", dtype, sb, rng, low=0.5)
    g = make(layout, dtype, out, rng)
    assert_same(getattr(k, op)(a, b), getattr(REF, op)(a, b))
    assert_same(getattr(k, op)(b, a), getattr(REF, op)(b, a))
    for x, y in zip(k.mul_backward(a, b, g), REF.mul_backward(a, b, g)):
        assert_same(x, y)
    assert_same(k.pow_scalar_backward(g, 2, g), REF.pow_scalar_backward(g, 2, g))
    assert_same(k.pow_scalar(a, 2), REF.pow_scalar(a, 2))
    assert_same(k.sum_to_shape(g, ()), REF.sum_to_shape(g, ()))
    with np.errstate(invalid="ignore"):
        assert_same(k.mean(a), REF.mean(a))


# ---- an LSTM step's gates -----------------------------------------------------------------------
LSTM_LAYOUTS = ["contiguous", "transposed", "strided", "negative", "broadcast", "empty",
                "unaligned", "readonly"]


def _lstm_step_arrays(layout, dtype, rows, hidden):
    """gates (rows, 4 hidden) in layout, wide enough that sigmoid and tanh saturate; c, the
    gradients dh and dc (rows, hidden); the empty layout has no rows"""
    rows = 0 if layout == "empty" else rows
    gates = make("contiguous" if layout == "empty" else layout, dtype, (rows, 4 * hidden),
                 low=-12.0, high=12.0)
    return gates, *(make("contiguous" if layout == "empty" else layout, dtype, (rows, hidden))
                    for _ in range(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LSTM_LAYOUTS)
@pytest.mark.parametrize("rows, hidden", [(3, 5), (32, 128), (1, 1)])
def test_lstm_cell_forward_and_backward(ck, dtype, layout, rows, hidden):
    """lstm_cell and its backward against the reference (within float rounding: the kernels'
    sigmoid and tanh against NumPy's), every output and gradient"""
    gates, c, dh, dc = _lstm_step_arrays(layout, dtype, rows, hidden)
    want = REF.lstm_cell(gates.copy(), c)
    again = _lstm_step_arrays(layout, dtype, rows, hidden)[0]     # (lstm_cell may write it)
    for ours, theirs in zip(ck.lstm_cell(again, c), want):
        assert_same(ours, theirs, exact=False)
    act, tanh_c = (_in_layout(a, layout) for a in (want[0], want[2]))
    for ours, theirs in zip(ck.lstm_cell_backward(act, c, tanh_c, dh, dc),
                            REF.lstm_cell_backward(act, c, tanh_c, dh, dc)):
        assert_same(ours, theirs, exact=False)


def _in_layout(a, layout):
    """a's values in a fresh array of layout (as make lays it out; a broadcast cannot hold
    them: contiguous)"""
    if layout in ("contiguous", "empty", "broadcast"):
        return a.copy()
    if layout == "readonly":
        out = a.copy()
        out.flags.writeable = False
        return out
    out = make(layout, a.dtype, a.shape)
    out[...] = a
    return out


def test_lstm_cell_kernel_uses_its_own_pass_and_keeps_a_readonly_gates(ck, monkeypatch):
    """float32 steps never reach NumPy's composition; read-only gates are not written"""
    from cgrad.backends import numpy_backend as nb
    gates, c, dh, dc = _lstm_step_arrays("readonly", np.float32, 4, 6)
    before = gates.copy()
    want = REF.lstm_cell(before.copy(), c)
    want_back = REF.lstm_cell_backward(want[0], c, want[2], dh, dc)
    monkeypatch.setattr(nb.NumpyKernels, "lstm_cell", None)
    monkeypatch.setattr(nb.NumpyKernels, "lstm_cell_backward", None)
    for ours, theirs in zip(ck.lstm_cell(gates, c), want):
        assert_same(ours, theirs, exact=False)
    np.testing.assert_array_equal(gates, before)
    for ours, theirs in zip(ck.lstm_cell_backward(want[0], c, want[2], dh, dc), want_back):
        assert_same(ours, theirs, exact=False)


# ---- a recurrence over a whole sequence ----------------------------------------------------------
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _lstm_sequence_arrays(layout, dtype, steps, batch, hidden, mode="lstm"):
    """x_w (steps, batch, G hidden), h0 and c0 (batch, hidden), w_hh (G hidden, hidden), b_hh
    (G hidden,), each in layout (the empty layout: no steps), G the mode's gates; the
    gradient of the output (steps, or LSTM's steps + 1, batch, hidden)"""
    steps = 0 if layout == "empty" else steps
    other = "contiguous" if layout == "empty" else layout
    gates = GATES[mode]
    rng = np.random.default_rng(steps * 1000 + batch * 10 + hidden)
    x_w = make(other, dtype, (steps, batch, gates * hidden), rng, -3.0, 3.0)
    h0, c0 = (make(other, dtype, (batch, hidden), rng) for _ in range(2))
    w_hh = make(other, dtype, (gates * hidden, hidden), rng, -0.5, 0.5)
    b_hh = make("contiguous", dtype, (gates * hidden,), rng)
    g = make(other, dtype, (steps + (mode == "lstm"), batch, hidden), rng)
    return x_w, h0, c0, w_hh, b_hh, g


def _sequence(k, mode, x_w, h0, c0, w_hh, b_hh, g, reverse, saved=None):
    """k's forward of the mode's sequence kernel, and its backward from saved (the
    forward's own where None): (forward's outputs, backward's)"""
    relu = mode == "rnn_relu"
    if mode == "lstm":
        forward = k.lstm_sequence(x_w, h0, c0, w_hh, b_hh, reverse)
        saved = forward[2:] if saved is None else saved                 # act, c_before, tanh_c
        return forward, k.lstm_sequence_backward(g, *saved, w_hh, reverse)
    if mode == "gru":
        forward = k.gru_sequence(x_w, h0, w_hh, b_hh, reverse)
        saved = forward[1:] if saved is None else saved            # h_before, rz, n, h_n
        return forward, k.gru_sequence_backward(g, *saved, w_hh, reverse)
    forward = k.rnn_sequence(x_w, h0, w_hh, b_hh, reverse, relu)
    saved = forward[:1] if saved is None else saved                          # out
    return forward, k.rnn_sequence_backward(g, *saved, w_hh, reverse, relu)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LSTM_LAYOUTS)
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("steps, batch, hidden", [(5, 3, 4), (3, 8, 32), (1, 1, 1)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_sequence_forward_and_backward(ck, dtype, layout, mode, steps, batch, hidden, reverse,
                                       bias):
    """each recurrence's whole sequence (each step's product, bias, input and cell; reverse
    from the last step) and its backward through time against the reference's steps, every
    output and gradient, within float rounding (the kernels' sigmoid and tanh against
    NumPy's); the backward of both from the reference's saved arrays"""
    x_w, h0, c0, w_hh, b_hh, g = _lstm_sequence_arrays(layout, dtype, steps, batch, hidden,
                                                       mode)
    args = (mode, x_w, h0, c0, w_hh, b_hh if bias else None, g, reverse)
    want, want_back = _sequence(REF, *args)
    got, got_back = _sequence(ck, *args, saved={"lstm": want[2:], "gru": want[1:]}.get(
        mode, want[:1]))
    for ours, theirs in zip(got + got_back, want + want_back, strict=True):
        assert_same(ours, theirs, exact=False)


def test_lstm_sequence_runs_compiled_and_reads_its_steps_in_order(ck, monkeypatch):
    """float32 never reaches the reference's loop; each step reads the h and c the one
    before it wrote (a reversed sequence's first step is the last), so the last c is the
    same as stepping lstm_cell by hand"""
    from cgrad.backends import numpy_backend as nb
    x_w, h0, c0, w_hh, b_hh, g = _lstm_sequence_arrays("contiguous", np.float32, 4, 2, 3)
    by_hand = []
    for reverse in (False, True):
        h, c = h0, c0
        for t in (range(3, -1, -1) if reverse else range(4)):
            act, c, _, h = ck.lstm_cell((h @ w_hh.T + b_hh) + x_w[t], c)
        by_hand.append((h, c))
    monkeypatch.setattr(nb.NumpyKernels, "lstm_sequence", None)
    monkeypatch.setattr(nb.NumpyKernels, "lstm_sequence_backward", None)
    for reverse, (h, c) in zip((False, True), by_hand):
        out, h_before, act, c_before, tanh_c = ck.lstm_sequence(x_w, h0, c0, w_hh, b_hh,
                                                                 reverse)
        assert_same(out[0 if reverse else 3], h, exact=False)
        assert_same(out[4], c, exact=False)
        assert_same(h_before[3 if reverse else 0], h0)
        assert_same(c_before[3 if reverse else 0], c0)
        d_gates, dh, dc = ck.lstm_sequence_backward(g, act, c_before, tanh_c, w_hh, reverse)
        assert d_gates.shape == act.shape and dh.shape == dc.shape == h0.shape


@pytest.mark.parametrize("mode", ["gru", "rnn_tanh", "rnn_relu"])
def test_gru_and_rnn_sequences_run_compiled(ck, monkeypatch, mode):
    """float32 GRU and RNN sequences never reach the reference's loops"""
    from cgrad.backends import numpy_backend as nb
    arrays = _lstm_sequence_arrays("contiguous", np.float32, 4, 2, 3, mode)
    want = _sequence(REF, mode, *arrays, False)
    for name in ("gru_sequence", "gru_sequence_backward", "rnn_sequence",
                 "rnn_sequence_backward"):
        monkeypatch.setattr(nb.NumpyKernels, name, None)
    for ours, theirs in zip(*(a + b for a, b in (_sequence(ck, mode, *arrays, False), want))):
        assert_same(ours, theirs, exact=False)


def test_gru_and_rnn_sequence_kernels_name_a_wrong_shape():
    from cgrad._threads import load_linalg
    linalg = load_linalg()
    x_w, h0, _, w_hh, b_hh, g = _lstm_sequence_arrays("contiguous", np.float32, 4, 2, 3, "gru")
    w_t = np.ascontiguousarray(w_hh.T)
    outs = [np.empty(s, np.float32) for s in [(4, 2, 3), (4, 2, 3), (4, 2, 6), (4, 2, 3),
                                               (4, 2, 3)]]
    with pytest.raises(ValueError, match=r"gru_sequence_: rz has shape \(4, 2, 3\), not "
                                         r"\(4, 2, 6\)"):
        linalg.gru_sequence_(x_w, h0, w_t, b_hh, False, *outs[:2], outs[3], *outs[3:])
    with pytest.raises(ValueError, match=r"gru_sequence_backward_: w_hh has shape \(3, 9\), "
                                         r"not \(9, 3\)"):
        linalg.gru_sequence_backward_(g, outs[1], outs[2], outs[3], outs[4], w_t, False,
                                      np.empty((4, 2, 9), np.float32),
                                      np.empty((4, 2, 9), np.float32),
                                      np.empty((2, 3), np.float32))
    x_r, _, _, w_r, b_r, g_r = _lstm_sequence_arrays("contiguous", np.float32, 4, 2, 3, "rnn_tanh")
    with pytest.raises(ValueError, match=r"rnn_sequence_: b_hh has shape \(2,\), not \(3,\)"):
        linalg.rnn_sequence_(x_r, h0, w_r, b_r[:2], False, False, *outs[:2])
    with pytest.raises(ValueError, match=r"rnn_sequence_backward_: dh has shape \(3, 2\), "
                                         r"not \(2, 3\)"):
        linalg.rnn_sequence_backward_(g_r, outs[0], w_r, False, True, outs[1],
                                      np.empty((3, 2), np.float32))


def test_lstm_sequence_kernels_name_a_wrong_shape():
    from cgrad._threads import load_linalg
    linalg = load_linalg()
    x_w, h0, c0, w_hh, b_hh, g = _lstm_sequence_arrays("contiguous", np.float32, 4, 2, 3)
    outs = [np.empty(s, np.float32) for s in [(5, 2, 3), (4, 2, 3), (4, 2, 12), (4, 2, 3),
                                               (4, 2, 3)]]
    w_t = np.ascontiguousarray(w_hh.T)
    with pytest.raises(ValueError, match=r"c0 has shape \(2, 4\), not \(2, 3\)"):
        linalg.lstm_sequence_(x_w, h0, np.zeros((2, 4), np.float32), w_t, b_hh, False, *outs)
    with pytest.raises(ValueError, match=r"b_hh has shape \(11,\), not \(12,\)"):
        linalg.lstm_sequence_(x_w, h0, c0, w_t, b_hh[:11], False, *outs)
    with pytest.raises(ValueError, match=r"out has shape \(4, 2, 3\), not \(5, 2, 3\)"):
        linalg.lstm_sequence_(x_w, h0, c0, w_t, b_hh, False, outs[1], *outs[1:])
    with pytest.raises(ValueError, match=r"0 steps of 2 x 3"):
        linalg.lstm_sequence_(x_w[:0], h0, c0, w_t, None, False,
                              *[o[:1] if i == 0 else o[:0] for i, o in enumerate(outs)])
    act, c_before, tanh_c = outs[2:]
    dh, dc = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"g has shape \(4, 2, 3\), not \(5, 2, 3\)"):
        linalg.lstm_sequence_backward_(g[:4], act, c_before, tanh_c, w_hh, False,
                                       np.empty_like(act), dh, dc)
    with pytest.raises(ValueError, match=r"w_hh has shape \(3, 12\), not \(12, 3\)"):
        linalg.lstm_sequence_backward_(g, act, c_before, tanh_c, w_t, False,
                                       np.empty_like(act), dh, dc)
    with pytest.raises((ValueError, TypeError), match="dtype"):
        linalg.lstm_sequence_(x_w, h0.astype(np.float64), c0, w_t, b_hh, False, *outs)


def test_lstm_cell_kernels_name_a_wrong_shape():
    from cgrad._C import elementwise as ew
    c = np.zeros((3, 4), np.float32)
    outs = [np.zeros((3, 4), np.float32) for _ in range(3)]
    with pytest.raises(ValueError, match=r"gates has shape \(3, 15\), expected \(3, 16\)"):
        ew.lstm_cell_(np.zeros((3, 15), np.float32), c, np.zeros((3, 16), np.float32), *outs)
    with pytest.raises(ValueError, match=r"dc has shape \(2, 4\), expected \(3, 4\)"):
        ew.lstm_cell_backward_(np.zeros((3, 16), np.float32), c, c, c,
                               np.zeros((2, 4), np.float32), np.zeros((3, 16), np.float32), c)
    with pytest.raises(ValueError, match="Buffer dtype mismatch"):
        ew.lstm_cell_(np.zeros((3, 16)), c, np.zeros((3, 16), np.float32), *outs)


# ---- linear resize along one axis ---------------------------------------------------------------
def _taps(size, taps, dtype, seed=0):
    """taps source indices into an axis of size, repeats and edges included, and weights"""
    rng = np.random.default_rng(seed)
    i0 = rng.integers(0, max(size, 1), taps).astype(np.int64)
    i0[:2] = [0, size - 1][:taps]
    i1 = np.minimum(i0 + 1, size - 1)
    w1 = rng.uniform(0, 1, taps).astype(dtype)
    return i0, i1, (1 - w1).astype(dtype), w1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape, axis, taps", [((4, 3, 6, 5), 2, 11), ((4, 3, 6, 5), 3, 9),
                                               ((7, 5), 0, 3), ((2, 33), 1, 64)])
def test_resize_linear_forward_and_backward(ck, dtype, layout, shape, axis, taps):
    """up and down along a leading, middle or last axis: the reference's values bit for bit
    (the products and sums are the same), every layout of x and of g"""
    x = make(layout, dtype, shape)
    size = x.shape[axis]
    taps = taps if size else 0                  # (an empty axis has nothing to resize)
    taps_ = _taps(size, taps, dtype)
    assert_same(ck.resize_linear(x, axis, *taps_), REF.resize_linear(x, axis, *taps_))
    g = make(layout, dtype, x.shape[:axis] + (taps,) + x.shape[axis + 1:])
    assert_same(ck.resize_linear_backward(g, axis, size, *taps_),
                REF.resize_linear_backward(g, axis, size, *taps_))


def test_resize_linear_kernels_check_their_taps():
    from cgrad._C import grad
    x = np.zeros((2, 4, 3), np.float32)
    i0, i1, w0, w1 = _taps(4, 5, np.float32)
    out = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(IndexError, match="source index 0 or 4 out of range for an axis of 4"):
        grad.resize_linear_(x, i0, np.full_like(i1, 4), w0, w1, out)
    with pytest.raises(IndexError, match="source index -1 or 1 out of range"):
        grad.resize_linear_(x, i0 - 1, i1, w0, w1, out)
    with pytest.raises(ValueError, match="i0, i1, w0, w1 have 5, 5, 4, 5 elements, the "
                                         "resized axis 5"):
        grad.resize_linear_(x, i0, i1, w0[:4], w1, out)
    with pytest.raises(ValueError, match=r"out has shape \(2, 5, 2\), expected \(2, 5, 3\)"):
        grad.resize_linear_(x, i0, i1, w0, w1, np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"scratch has shape \(2, 4, 2\), dx \(2, 4, 3\)"):
        grad.resize_linear_backward_(out, i0, i1, w0, w1, x.copy(),
                                     np.zeros((2, 4, 2), np.float32))


# ---- normalisation of rows (layer_norm, group_norm) -------------------------------------------
# (groups, spatial) over rows of K: layer_norm's one group with a channel per element, and
# group_norm's groups of channels with spatial elements each
NORM_LAYOUTS = {"layer": (1, 1), "group": (3, 5)}


def _norm_params(dtype, channels, which, rng):
    w = rng.uniform(0.5, 2.0, channels).astype(dtype) if "w" in which else None
    b = rng.uniform(-1.0, 1.0, channels).astype(dtype) if "b" in which else None
    return w, b


def _check_group_norm(ck, x, groups, spatial, which, g=None, eps=1e-5):
    """ck's group_norm and its backward (every subset of the gradients) against the
    reference's: values within TOL, channel sums within summation rounding"""
    rng = np.random.default_rng(3)
    R, K = x.shape
    w, b = _norm_params(x.dtype, groups * (K // spatial), which, rng)
    got, want = ck.group_norm(x, w, b, groups, spatial, eps), REF.group_norm(x, w, b, groups,
                                                                           spatial, eps)
    for a, e in zip(got, want):
        assert_same(a, e, exact=False)
    assert got[0].flags.c_contiguous
    g = make("contiguous", x.dtype, x.shape, rng) if g is None else g
    for need in ((True, True, True), (True, False, False), (False, True, False),
                 (False, False, True)):
        got_grads = ck.group_norm_backward(x, g, w, *want[1:], groups, spatial, *need)
        want_grads = REF.group_norm_backward(x, g, w, *want[1:], groups, spatial, *need)
        xhat = (x.astype(np.float64) - want[1][:, None]) * want[2][:, None]
        sizes = [None] + [_channel_sums(np.abs(t), groups, spatial) for t in (g * xhat, g)]
        for i, (a, e) in enumerate(zip(got_grads, want_grads)):
            assert (a is None) == (e is None), (i, need)
            if a is not None and i == 0:
                assert_same(a, e, exact=False)
            elif a is not None:                 # dw, db: sums over the rows
                assert_sum_close(a, e, sizes[i])
    return got


@pytest.mark.parametrize("which", ["wb", "w", "b", ""])
@pytest.mark.parametrize("norm", sorted(NORM_LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_group_norm(ck, layout, dtype, norm, which):
    """the normalised rows, their mean and rstd, and each gradient wanted, on every layout,
    with and without weight and bias, rows of 45 (two full lanes of 16 and a tail)"""
    groups, spatial = NORM_LAYOUTS[norm]
    _check_group_norm(ck, make(layout, dtype, (12, 45)), groups, spatial, which)


def test_group_norm_of_constant_rows_and_special_values(ck):
    """a constant row (variance 0: rstd 1 / sqrt(eps)), a NaN and an inf in a row, as the
    reference gives them"""
    x = np.ones((4, 40), np.float32)
    x[1] *= -3.5
    x[2, 7] = np.nan
    x[3, 0] = np.inf
    with np.errstate(all="ignore"):
        got = ck.group_norm(x, None, None, 1, 1, 1e-5)
        want = REF.group_norm(x, None, None, 1, 1, 1e-5)
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=1e-6)
        g = np.ones_like(x)
        for a, e in zip(ck.group_norm_backward(x, g, None, *want[1:], 1, 1, True, False, True),
                        REF.group_norm_backward(x, g, None, *want[1:], 1, 1, True, False, True)):
            assert (a is None) == (e is None)
            if a is not None:
                np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), channels=st.integers(1, 7), spatial=st.integers(1, 40),
       groups=st.integers(1, 3), dtype=st.sampled_from(DTYPES),
       which=st.sampled_from(["wb", "w", "b", ""]))
def test_group_norm_hypothesis(rows, channels, spatial, groups, dtype, which):
    ck = _all_compiled(CythonKernels())
    x = make("contiguous", dtype, (rows * groups, channels * spatial),
             np.random.default_rng(rows * 1000 + channels * 10 + spatial))
    _check_group_norm(ck, x, groups, spatial, which)


@pytest.mark.parametrize("norm", sorted(NORM_LAYOUTS))
def test_group_norm_same_bits_for_any_thread_count(ck, threads, norm):
    groups, spatial = NORM_LAYOUTS[norm]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 300)).astype(np.float32)
    g = rng.standard_normal((300, 300)).astype(np.float32)
    w, b = _norm_params(np.float32, groups * (300 // spatial), "wb", rng)

    def both():
        y, mean, rstd = ck.group_norm(x, w, b, groups, spatial, 1e-5)
        return (y, mean, rstd) + ck.group_norm_backward(x, g, w, mean, rstd, groups, spatial)
    one, two = threads(both)
    for a, e in zip(one, two):
        np.testing.assert_array_equal(a, e)


def test_group_norm_module_checks():
    """the kernels name the sizes that do not fit"""
    rd = pytest.importorskip("cgrad._C.reduce")
    x, out = np.zeros(12, np.float32), np.zeros(12, np.float32)
    stats, none = np.zeros(3, np.float32), np.zeros(0, np.float32)
    rd.group_norm_(x, none, none, out, stats, stats, 3, 4, 1, 1, 1e-5)
    with pytest.raises(ValueError, match="x has 12 elements, expected 15"):
        rd.group_norm_(x, none, none, out, stats, stats, 3, 5, 1, 1, 1e-5)
    with pytest.raises(ValueError, match="S dividing K"):
        rd.group_norm_(x, none, none, out, stats, stats, 3, 4, 1, 3, 1e-5)
    with pytest.raises(ValueError, match="w has 3 elements, expected 4"):
        rd.group_norm_(x, stats, none, out, stats, stats, 3, 4, 1, 1, 1e-5)
    with pytest.raises(ValueError, match="dw has 3 elements, expected 4"):
        rd.group_norm_backward_(x, x, none, stats, stats, out, stats, none, 3, 4, 1, 1)
    with pytest.raises(ValueError, match="dw wanted without w"):
        rd.group_norm_backward_(x, x, none, stats, stats, out, np.zeros(4, np.float32), none,
                                3, 4, 1, 1)


# ---- batch normalisation: channels of (N, C, S) -----------------------------------------------
def _check_batch_norm(ck, x, which, training, g=None, eps=1e-5):
    """ck's batch-norm statistics, result and gradients (every subset) against the
    reference's: values within TOL, channel sums within summation rounding"""
    rng = np.random.default_rng(4)
    N, C, S = x.shape
    w, b = _norm_params(x.dtype, C, which, rng)
    if training:
        got, want = ck.batch_norm_stats(x), REF.batch_norm_stats(x)
        assert_sum_close(got[0], want[0], np.abs(x).mean((0, 2)) if x.size else np.zeros(C))
        assert_same(got[1], want[1], exact=False)
        mean, var = want
    else:
        mean, var = (rng.uniform(lo, hi, C).astype(x.dtype) for lo, hi in ((-1, 1), (0.5, 2)))
    rstd = x.dtype.type(1) / np.sqrt(var + eps)
    assert_same(ck.batch_norm(x, mean, rstd, w, b), REF.batch_norm(x, mean, rstd, w, b),
                exact=False)
    g = make("contiguous", x.dtype, x.shape, rng) if g is None else g
    xhat = (x.astype(np.float64) - mean[:, None]) * rstd[:, None]
    sizes = [None] + [np.abs(t).sum((0, 2)) for t in (g * xhat, g)]
    for need in ((True, True, True), (True, False, False), (False, True, False),
                 (False, False, True)):
        got = ck.batch_norm_backward(x, g, mean, rstd, w, training, *need)
        want = REF.batch_norm_backward(x, g, mean, rstd, w, training, *need)
        for i, (a, e) in enumerate(zip(got, want)):
            assert (a is None) == (e is None), (i, need)
            if a is not None and i == 0:
                assert_same(a, e, exact=False)
            elif a is not None:
                assert_sum_close(a, e, sizes[i])


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("which", ["wb", "w", "b", ""])
@pytest.mark.parametrize("shape", [(40, 21, 1), (5, 6, 37)], ids=["vectors", "spatial"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_norm(ck, layout, dtype, shape, which, training):
    """a batch of vectors (column sums across the channels) and of spatial maps (each
    channel's spans of 37: two full lanes of 16 and a tail), on every layout, with and without
    weight and bias, by the batch's statistics or given ones"""
    _check_batch_norm(ck, make(layout, dtype, shape), which, training)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 70), c=st.integers(1, 9), s=st.integers(1, 40),
       dtype=st.sampled_from(DTYPES), which=st.sampled_from(["wb", "w", "b", ""]),
       training=st.booleans())
def test_batch_norm_hypothesis(n, c, s, dtype, which, training):
    ck = _all_compiled(CythonKernels())
    x = make("contiguous", dtype, (n, c, s), np.random.default_rng(n * 1000 + c * 10 + s))
    _check_batch_norm(ck, x, which, training)


@pytest.mark.parametrize("shape", [(4096, 16, 1), (16, 8, 4096)], ids=["vectors", "spatial"])
def test_batch_norm_same_bits_for_any_thread_count(ck, threads, shape):
    rng = np.random.default_rng(8)
    x, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    w, b = _norm_params(np.float32, shape[1], "wb", rng)

    def both():
        mean, var = ck.batch_norm_stats(x)
        rstd = np.float32(1) / np.sqrt(var + np.float32(1e-5))
        return (mean, var, ck.batch_norm(x, mean, rstd, w, b)) + ck.batch_norm_backward(
            x, g, mean, rstd, w, True)
    one, two = threads(both)
    for a, e in zip(one, two):
        np.testing.assert_array_equal(a, e)


def test_batch_norm_module_checks():
    """the kernels name the sizes that do not fit"""
    rd = pytest.importorskip("cgrad._C.reduce")
    x, c3, c2 = np.zeros(12, np.float32), np.zeros(3, np.float32), np.zeros(2, np.float32)
    rd.batch_norm_stats_(x, c3, c3, 2, 3, 2)
    with pytest.raises(ValueError, match="x has 12 elements, expected 18"):
        rd.batch_norm_stats_(x, c3, c3, 2, 3, 3)
    with pytest.raises(ValueError, match="expected every size positive"):
        rd.batch_norm_stats_(x, c3, c3, 0, 3, 2)
    with pytest.raises(ValueError, match="var has 2 elements, expected 3"):
        rd.batch_norm_stats_(x, c3, c2, 2, 3, 2)
    with pytest.raises(ValueError, match="b has 2 elements, expected 3"):
        rd.batch_norm_(x, c3, c3, c3, c2, x.copy(), 2, 3, 2)
    with pytest.raises(ValueError, match="g has 11 elements, expected 12"):
        rd.batch_norm_backward_(x, x[:11], c3, c3, c3, x.copy(), c3, c3, 2, 3, 2, True)
    with pytest.raises(ValueError, match="db has 2 elements, expected 3"):
        rd.batch_norm_backward_(x, x, c3, c3, c3, x.copy(), c3, c2, 2, 3, 2, True)


def _norm_kernels(rd, dtype):
    """every norm kernel of the reduce module rd on rows with tails (K = 45, spans of 37)"""
    rng = np.random.default_rng(9)
    out = []
    for (R, K, G, S) in ((24, 45, 1, 1), (24, 45, 3, 5)):
        x, g = (rng.standard_normal(R * K).astype(dtype) for _ in range(2))
        w, b = (rng.standard_normal(G * (K // S)).astype(dtype) for _ in range(2))
        y, mean, rstd = np.empty(R * K, dtype), np.empty(R, dtype), np.empty(R, dtype)
        rd.group_norm_(x, w, b, y, mean, rstd, R, K, G, S, 1e-5)
        dx, dw, db = np.empty(R * K, dtype), np.empty(len(w), dtype), np.empty(len(w), dtype)
        rd.group_norm_backward_(x, g, w, mean, rstd, dx, dw, db, R, K, G, S)
        out += [y, mean, rstd, dx, dw, db]
    for (N, C, S) in ((40, 21, 1), (5, 6, 37)):
        x, g = (rng.standard_normal(N * C * S).astype(dtype) for _ in range(2))
        w, b = (rng.standard_normal(C).astype(dtype) for _ in range(2))
        mean, var = np.empty(C, dtype), np.empty(C, dtype)
        rd.batch_norm_stats_(x, mean, var, N, C, S)
        rstd = dtype(1) / np.sqrt(var + dtype(1e-5))
        y, dx, dw, db = np.empty(N * C * S, dtype), np.empty(N * C * S, dtype), *(
            np.empty(C, dtype) for _ in range(2))
        rd.batch_norm_(x, mean, rstd, w, b, y, N, C, S)
        rd.batch_norm_backward_(x, g, mean, rstd, w, dx, dw, db, N, C, S, True)
        out += [mean, var, y, dx, dw, db]
    return out


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_norm_kernels_same_bits(dtype, isa):
    """layer, group and batch norm: the same bits in the AVX2 and AVX-512 builds as in the
    baseline one (the same lanes, folded in the same tree; no fused multiply-add)"""
    base, avx = _twins("reduce", isa)
    for a, b in zip(_norm_kernels(avx, dtype), _norm_kernels(base, dtype)):
        np.testing.assert_array_equal(a, b)


# ---- col2im: windows added back -----------------------------------------------------------------
@pytest.mark.parametrize("geometry", [((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 3)),
                                      ((2, 2), (1, 1), (1, 1)), ((5, 5), (1, 2), (2, 2)),
                                      ((2, 2), (1, 1), (2, 2)), ((2, 3), (2, 1), (4, 3))],
                         ids=["3x3", "dilated-strided", "2x2", "5x5-strided", "2x2-pool",
                              "dilated-disjoint"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_add_windows(ck, layout, dtype, geometry):
    """windows added back into their planes, bit for bit as the reference adds them (one
    kernel position at a time where they overlap, all in one add where they do not), on
    every layout of the columns and into an out that already holds values"""
    kernel, dilation, stride = geometry
    windows = (6, 7)
    padded = tuple((k - 1) * d + (o - 1) * s + 1 + extra for k, d, o, s, extra in
                   zip(kernel, dilation, windows, stride, (0, 2)))
    cols = make(layout, dtype, (4, 3) + kernel + windows)
    start = make("contiguous", dtype, (len(cols), 3) + padded, np.random.default_rng(2))
    got, want = start.copy(), start.copy()
    assert ck.add_windows(got, cols, dilation, stride) is got
    REF.add_windows(want, cols, dilation, stride)
    assert_same(got, want)


@pytest.mark.parametrize("geometry", [((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 3)),
                                      ((2, 2), (1, 1), (2, 2)), ((5, 5), (1, 2), (2, 2))],
                         ids=["3x3", "dilated-strided", "2x2-pool", "5x5-strided"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_take_windows(ck, layout, dtype, geometry):
    """each window's values copied out (im2col), bit for bit as the reference's copy of the
    windows' view, from every layout of the image (other than C-contiguous: the reference's
    path), the last row and column of the image unread where the windows end short"""
    kernel, dilation, stride = geometry
    windows = (6, 7)
    size = tuple((k - 1) * d + (o - 1) * s + 1 + extra for k, d, o, s, extra in
                 zip(kernel, dilation, windows, stride, (0, 1)))
    x = make(layout, dtype, (4, 3) + size)
    got = ck.take_windows(x, kernel, dilation, stride, windows)
    assert got.flags.c_contiguous and got.shape == (len(x), 3) + kernel + windows
    assert_same(got, REF.take_windows(x, kernel, dilation, stride, windows))


@pytest.mark.parametrize("width", [8, 10, 16, 17, 28])
@pytest.mark.parametrize("dtype", DTYPES)
def test_windows_rows_of_eight_or_more(ck, dtype, width):
    """window rows of 8 or more values are copied eight at a time, the last eight ending at
    the row's end (overlapping the eight before): the reference's values at every width, with
    the image's last columns unread (a wider plane than the windows reach), dilated too, and
    nothing written past the windows; and the convolutions whose windows are taken that way
    (a 5x5 kernel on 14 x 14 images, and a 7x7 one with a column of padding, which cuts the
    first and last kernel columns' rows)"""
    for dilation in ((1, 1), (1, 2)):
        size = (5 + 4, (5 - 1) * dilation[1] + width + 3)
        x = make("contiguous", dtype, (2, 3) + size)
        got = ck.take_windows(x, (5, 5), dilation, (1, 1), (5, width))
        np.testing.assert_array_equal(got, REF.take_windows(x, (5, 5), dilation, (1, 1),
                                                            (5, width)))
    # the module's pass into a slice of a guarded buffer: nothing written outside cols (44
    # planes: in parallel where two threads run)
    from cgrad.backends.cython_backend import _grad_for
    x = make("contiguous", dtype, (44, 9, width + 7))
    guard = np.full(44 * 25 * 5 * width + 64, 7.5, dtype)
    cols = guard[32:-32].reshape(44, 5, 5, 5, width)
    _grad_for[np.dtype(dtype)].take_windows_2d_(x, cols, 1, 1, 1, 1)
    assert (guard[:32] == 7.5).all() and (guard[-32:] == 7.5).all()
    np.testing.assert_array_equal(cols, REF.take_windows(x[:, None], (5, 5), (1, 1), (1, 1),
                                                         (5, width))[:, 0])
    x = make("contiguous", dtype, (3, 2, 14, width + 4))
    for kernel, pad in (((5, 5), ((0, 0), (0, 0))), ((7, 7), ((1, 1), (1, 1)))):
        w = make("contiguous", dtype, (4, 2) + kernel, np.random.default_rng(1))
        args = ((1, 1), pad, (1, 1), 1)
        out = ck.conv(x, w, None, *args)
        _assert_conv_close([out], [REF.conv(x, w, None, *args)],
                           [REF.conv(np.abs(x), np.abs(w), None, *args)])
        g = make("contiguous", dtype, out.shape, np.random.default_rng(3))
        _assert_conv_close(ck.conv_backward(x, w, g, *args)[:2],
                           REF.conv_backward(x, w, g, *args)[:2],
                           REF.conv_backward(np.abs(x), np.abs(w), np.abs(g), *args)[:2])


def test_windows_fall_back_for_other_layouts(ck):
    """a non-contiguous out, mixed dtypes, integer images and 1-d or 3-d windows take the
    reference's path, with its values"""
    rng = np.random.default_rng(3)
    for out_shape, cols_shape, dil, st in [((2, 3, 9), (2, 3, 3, 7), (1,), (1,)),
                                           ((1, 2, 4, 4, 4), (1, 2, 2, 2, 2, 3, 3, 3),
                                            (1, 1, 1), (1, 1, 1))]:
        cols = rng.standard_normal(cols_shape)
        got, want = np.zeros(out_shape), np.zeros(out_shape)
        ck.add_windows(got, cols, dil, st)
        REF.add_windows(want, cols, dil, st)
        assert_same(got, want)
    for x, kernel in [(rng.standard_normal((2, 3, 9)), (3,)), (np.arange(48).reshape(1, 3, 4, 4),
                                                                (2, 2))]:
        out_size = tuple(s - k + 1 for s, k in zip(x.shape[2:], kernel))
        ones = (1,) * len(kernel)
        assert_same(ck.take_windows(x, kernel, ones, ones, out_size),
                    REF.take_windows(x, kernel, ones, ones, out_size))
    out = np.zeros((2, 3, 10, 16))[..., ::2]
    cols = rng.standard_normal((2, 3, 3, 3, 8, 6)).astype(np.float32)
    want = np.zeros((2, 3, 10, 8))
    ck.add_windows(out, cols, (1, 1), (1, 1))
    REF.add_windows(want, cols, (1, 1), (1, 1))
    assert_same(out, want)


def test_windows_module_checks():
    """the kernels name the planes, steps and sizes that do not fit"""
    gr = pytest.importorskip("cgrad._C.grad")
    out, cols = np.zeros((2, 5, 5)), np.zeros((2, 3, 3, 3, 3))
    gr.add_windows_2d_(out, cols, 1, 1, 1, 1)
    gr.take_windows_2d_(out, cols, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"overrun a plane of \(5, 5\)"):
        gr.take_windows_2d_(out, cols, 1, 1, 2, 1)
    with pytest.raises(ValueError, match="cols has 1 planes, the image 2"):
        gr.add_windows_2d_(out, cols[:1], 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"stride \(0, 1\) must be positive"):
        gr.add_windows_2d_(out, cols, 1, 1, 0, 1)
    with pytest.raises(ValueError, match=r"overrun a plane of \(5, 5\)"):
        gr.add_windows_2d_(out, cols, 2, 1, 1, 1)


# ---- lerp ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("w", [0.3, -0.2, 0.0, 0.5, 0.7, 1.0, 1.5])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_lerp(ck, layout, dtype, w):
    """both of PyTorch's forms (|w| < 0.5 from x, else from end), bit for bit as the
    reference computes them, on every layout (the kernel's where x and end share one)"""
    x = make(layout, dtype, (70, 90))
    end = make(layout, dtype, (70, 90), np.random.default_rng(8), low=-3, high=3)
    assert_same(ck.lerp(x, end, w), REF.lerp(x, end, w))
    assert_same(ck.lerp(x, end[:1], w), REF.lerp(x, end[:1], w))          # broadcast: NumPy's


def test_lerp_special_values_and_ends(ck):
    """the ends exactly at w = 0 and 1 (each form is exact at its own end), inf and NaN as
    the reference gives them, and the kernel's length check"""
    x = np.float32([0.1, -3.0, np.inf, np.nan, 1e30, 2.0] * 3)
    end = np.float32([7.0, 0.25, 1.0, 2.0, -1e30, np.inf] * 3)
    with np.errstate(all="ignore"):
        for w in (0.0, 1.0, 0.25, 0.75):
            assert_same(ck.lerp(x, end, w), REF.lerp(x, end, w))
    finite = slice(0, 2)
    assert_same(ck.lerp(x[finite], end[finite], 0.0), x[finite])
    assert_same(ck.lerp(x[finite], end[finite], 1.0), end[finite])
    bn = pytest.importorskip("cgrad._C.binary")
    with pytest.raises(ValueError, match="18, 17 and 18 elements"):
        bn.lerp_(x, end[:17], 0.5, np.empty(18, np.float32))


# ---- fma (add's and sub's alpha) ---------------------------------------------------------------
@pytest.mark.parametrize("a", [1 / 3, -0.1, 3.0, 0.0])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fma(ck, layout, dtype, a):
    """a * y + z rounded once, bit for bit as the reference computes it (float32 through
    double, float64 through long double), on every layout (the kernel's where y and z share
    one), a broadcast z, an array a (the reference's) and float16 (the reference's)"""
    y = make(layout, dtype, (70, 90))
    z = make(layout, dtype, (70, 90), np.random.default_rng(9), low=-3, high=3)
    assert_same(ck.fma(a, y, z), REF.fma(a, y, z))
    assert_same(ck.fma(a, y, z[:1]), REF.fma(a, y, z[:1]))
    assert_same(ck.fma(y[:1], y, z), REF.fma(y[:1], y, z))
    h = y.astype(np.float16)
    assert_same(ck.fma(a, h, h), REF.fma(a, h, h))


def test_fma_special_values_length_and_threads(ck, threads):
    """inf and NaN as the reference gives them, the same bits at 1 and 2 threads over a
    parallel size (and the reference's), and the kernel's length check"""
    y = np.float32([0.1, -3.0, np.inf, np.nan, 1e30, 2.0] * 3)
    z = np.float32([7.0, 0.25, 1.0, 2.0, -1e30, np.inf] * 3)
    with np.errstate(all="ignore"):
        assert_same(ck.fma(0.5, y, z), REF.fma(0.5, y, z))
    big = make("contiguous", np.float32, (300_000,))
    rev = big[::-1].copy()
    one, two = threads(lambda: ck.fma(1 / 3, big, rev))
    assert_same(one, two)
    assert_same(one, REF.fma(1 / 3, big, rev))
    bn = pytest.importorskip("cgrad._C.binary")
    with pytest.raises(ValueError, match="18, 17 and 18 elements"):
        bn.fma_(0.5, y, z[:17], np.empty(18, np.float32))


# ---- convolutions: an image at a time ---------------------------------------------------------
# (kernel, stride, pad as (before, after) pairs, dilation, groups, channels, outputs, spatial)
CONV_GEOMETRIES = {
    "3x3-pad1": ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1, 3, 4, (7, 6)),
    "1x1-direct": ((1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1, 5, 3, (4, 5)),
    "strided-dilated-uneven": ((3, 2), (2, 3), ((2, 0), (1, 3)), (2, 1), 1, 2, 3, (9, 8)),
    "grouped": ((2, 3), (1, 1), ((1, 1), (0, 2)), (1, 1), 2, 4, 6, (5, 6)),
    "depthwise-1d": ((1, 5), (1, 1), ((0, 0), (2, 2)), (1, 1), 3, 3, 3, (1, 11)),
    "windows-in-padding": ((2, 2), (3, 3), ((4, 4), (4, 4)), (1, 1), 1, 2, 2, (3, 3)),
}


def _abs(a):
    return None if a is None else np.abs(a)


def _assert_conv_close(got, want, terms_abs):
    """each result near the reference's, within float rounding of sums of products (bounded
    by the sums of their |terms|), in the reference's shape and dtype"""
    for a, e, t in zip(got, want, terms_abs, strict=True):
        assert_sum_close(a, e, t)


def _conv_inputs(layout, dtype, geometry):
    kernel, stride, pad, dilation, groups, c, o, spatial = CONV_GEOMETRIES[geometry]
    x = make(layout, dtype, (3, c) + spatial)
    w = make("contiguous", dtype, (o, c // groups) + kernel, np.random.default_rng(1))
    b = make("contiguous", dtype, (o,), np.random.default_rng(2))
    return x, w, b, (stride, pad, dilation, groups)


@pytest.mark.parametrize("geometry", list(CONV_GEOMETRIES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv(ck, layout, dtype, geometry):
    """the convolution, with and without a bias, against the reference (im2col and a
    product per group) on every layout of the input: windows that overrun the image read
    its padding as zeros"""
    x, w, b, args = _conv_inputs(layout, dtype, geometry)
    for bias in (b, None):
        got = ck.conv(x, w, bias, *args)
        assert got.flags.c_contiguous
        _assert_conv_close([got], [REF.conv(x, w, bias, *args)],
                           [REF.conv(*map(_abs, (x, w, bias)), *args)])


@pytest.mark.parametrize("geometry", list(CONV_GEOMETRIES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_backward(ck, layout, dtype, geometry):
    """the input's, weight's and bias's gradients against the reference, g of every layout
    (and x of the same), each alone or all together"""
    x, w, _, args = _conv_inputs(layout, dtype, geometry)
    g = make(layout, dtype, REF.conv(x, w, None, *args).shape, np.random.default_rng(3))
    want = REF.conv_backward(x, w, g, *args)
    terms = REF.conv_backward(*map(_abs, (x, w, g)), *args)
    for needs in [(True, True, True), (True, False, False), (False, True, False),
                  (False, False, True)]:
        got = ck.conv_backward(x, w, g, *args, *needs)
        assert [a is None for a in got] == [not need for need in needs]
        _assert_conv_close(*zip(*[(a, e, t) for a, e, t, need in zip(got, want, terms, needs)
                                  if need]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", [l for l in LAYOUTS if l != "empty"])
def test_conv_weight_layouts(ck, layout, dtype):
    """a weight of every layout (transposed, strided, negative, broadcast, unaligned,
    read-only: copied once where the kernels cannot read it), forward and backward against
    the reference"""
    x, _, b, args = _conv_inputs("contiguous", dtype, "grouped")
    w = make(layout, dtype, (6, 2, 2, 3), np.random.default_rng(13))
    _assert_conv_close([ck.conv(x, w, b, *args)], [REF.conv(x, w, b, *args)],
                       [REF.conv(*map(_abs, (x, w, b)), *args)])
    g = make("strided", dtype, REF.conv(x, w, None, *args).shape, np.random.default_rng(14))
    _assert_conv_close(ck.conv_backward(x, w, g, *args), REF.conv_backward(x, w, g, *args),
                       REF.conv_backward(*map(_abs, (x, w, g)), *args))


def test_conv_falls_back_for_other_inputs(ck):
    """3-d windows, integer images, mixed dtypes and a dilation past the kernels' ints take
    the reference's path, with its values; no output channels give an empty output"""
    rng = np.random.default_rng(4)
    x, w1 = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 1, 1))
    args = ((1, 1), ((0, 0), (0, 0)), (2**31, 1), 1)
    assert_same(ck.conv(x, w1, None, *args), REF.conv(x, w1, None, *args))
    empty = np.ones((0, 2, 1, 1))
    assert ck.conv(x, empty, None, *args[:2], (1, 1), 1).shape == (1, 0, 3, 3)
    assert [np.shape(a) for a in ck.conv_backward(x, empty, np.ones((1, 0, 3, 3)), *args[:2],
                                                  (1, 1), 1)] == [x.shape, empty.shape, (0,)]
    x3, w3 = rng.standard_normal((2, 2, 4, 4, 4)), rng.standard_normal((3, 2, 2, 2, 2))
    xi, wi = np.arange(2 * 2 * 16).reshape(2, 2, 4, 4), np.arange(3 * 2 * 4).reshape(3, 2, 2, 2)
    xf, wd = rng.standard_normal((2, 2, 4, 4)).astype(np.float32), rng.standard_normal(
        (3, 2, 2, 2))
    for x, w, k in [(x3, w3, 3), (xi, wi, 2), (xf, wd, 2)]:
        args = ((1,) * k, ((0, 0),) * k, (1,) * k, 1)
        assert_same(ck.conv(x, w, None, *args), REF.conv(x, w, None, *args))
        g = np.ones(REF.conv(x, w, None, *args).shape, x.dtype)
        for a, e in zip(ck.conv_backward(x, w, g, *args), REF.conv_backward(x, w, g, *args)):
            assert_same(a, e)


def test_conv_kernels_check_their_arguments():
    """the compiled kernels name the shapes, groups and steps that do not fit, and take no
    mixed dtypes (the backend sends those to the reference)"""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    x, w = np.zeros((2, 4, 5, 5), np.float32), np.zeros((6, 4 * 9), np.float32)
    out, bias = np.zeros((2, 6, 5, 5), np.float32), np.zeros(6, np.float32)
    linalg.conv2d_(x, w, bias, out, 3, 3, 1, 1, 1, 1, 1, 1, 1)
    linalg.conv2d_backward_(w, out, x, np.zeros_like(x), np.zeros_like(w), 0.0, 3, 3, 1, 1, 1,
                            1, 1, 1, 1)
    bad = [((x, w, bias, np.zeros((2, 5, 5, 5), np.float32), 3, 3, 1, 1, 1, 1, 1, 1, 1),
            r"cannot give an output of shape \(2, 5, 5, 5\)"),
           ((x, w, np.zeros(5, np.float32), out, 3, 3, 1, 1, 1, 1, 1, 1, 1), "bias of 5"),
           ((x, w, bias, out, 3, 3, 1, 1, 1, 1, 1, 1, 3), "into 3 groups"),
           ((x, w, bias, out, 3, 3, 1, 1, 1, 1, 0, 1, 1), "must be positive"),
           ((x, w, bias, out, 3, 3, -1, 1, 1, 1, 1, 1, 1), "not negative"),
           ((x, w, bias, out, 3, 2, 1, 1, 1, 1, 1, 1, 1), r"weight \(6, 36\)")]
    for call, message in bad:
        with pytest.raises(ValueError, match=message):
            linalg.conv2d_(*call)
    with pytest.raises(ValueError, match=r"input's gradient has shape \(2, 4, 5, 4\)"):
        linalg.conv2d_backward_(w, out, x, np.zeros((2, 4, 5, 4), np.float32), None, 0.0, 3,
                                3, 1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"weight's gradient has shape \(6, 35\)"):
        linalg.conv2d_backward_(w, out, x, None, np.zeros((6, 35), np.float32), 0.0, 3, 3, 1,
                                1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="Buffer dtype mismatch"):
        linalg.conv2d_(x, w.astype(np.float64), None, out, 3, 3, 1, 1, 1, 1, 1, 1, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_backward_adds_into_the_weight_gradient(dtype):
    """beta = 1 adds the weight's gradient onto what gw holds; beta = 0 overwrites even a
    NaN"""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 6, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    g = rng.standard_normal((5, 4, 6, 6)).astype(dtype)
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    want = REF.conv_backward(x, w, g, *args, False, True, False)[1].reshape(4, 27)
    start = rng.standard_normal((4, 27)).astype(dtype)
    for beta, before, expected in [(1.0, start, want + start),
                                   (0.0, np.full((4, 27), np.nan, dtype), want)]:
        gw = before.copy()
        linalg.conv2d_backward_(w.reshape(4, 27), g, x, None, gw, beta, 3, 3, 1, 1, 1, 1, 1, 1,
                                1)
        assert_same(gw, expected, exact=False)
    gw = start.copy()                      # no images: beta gw + a sum of nothing
    linalg.conv2d_backward_(w.reshape(4, 27), g[:0], x[:0], None, gw, 0.5, 3, 3, 1, 1, 1, 1, 1,
                            1, 1)
    assert_same(gw, start * dtype(0.5))


@pytest.mark.parametrize("outputs", [1, 3, 8, 9, 15, 16, 17])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_of_few_outputs_without_windows(ck, threads, dtype, outputs):
    """float32 convolutions of one group and at most 16 outputs take _narrow.pxd's direct
    tiles in the wide builds (17, float64 and groups: the windows and BLAS): one vector of
    outputs or two, positions by fours and eights and a rest, padding on either side (a
    zero border; padding after only, as padding="same" of a 2x2 kernel), strides,
    dilations, a bias; against the reference, NaN only where a window
    holds the NaN (none read past an image), the same bits at 1 and 2 threads"""
    rng = np.random.default_rng(outputs)
    for x_shape, kernel, stride, pad, dilation in [
            ((3, 2, 9, 11), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
            ((2, 3, 8, 7), (3, 2), (2, 1), ((2, 2), (1, 1)), (1, 2)),
            ((1, 1, 13, 6), (1, 3), (3, 2), ((1, 1), (0, 2)), (2, 1)),
            ((2, 2, 5, 6), (2, 2), (1, 1), ((0, 1), (0, 1)), (1, 1))]:   # padding="same"
        x = rng.standard_normal(x_shape).astype(dtype)
        x[-1, 0, 2, 0] = np.nan                     # (in some windows of each geometry)
        x[0, -1, -1, -1] = np.nan                   # (the first image's last value)
        w = rng.standard_normal((outputs, x_shape[1]) + kernel).astype(dtype)
        b = rng.standard_normal(outputs).astype(dtype)
        args = (stride, pad, dilation, 1)
        for bias in (b, None):
            want = REF.conv(x, w, bias, *args)
            assert np.isnan(want).any() and not np.isnan(want[-1]).all()
            got = threads(lambda: ck.conv(x, w, bias, *args))
            _assert_conv_close([got[0]], [want], [REF.conv(np.abs(x), np.abs(w),
                                                           None if bias is None else
                                                           np.abs(bias), *args)])
            assert_same(got[1], got[0])


@pytest.mark.parametrize("outputs", range(1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_weight_gradient_of_few_outputs(ck, threads, dtype, outputs):
    """float32 layers of at most 8 outputs (per group) take _narrow.pxd's tiles in the wide
    builds (9, and float64, BLAS's product): every tile width, rows in pairs and a last odd
    one (27 and 25 windows' rows, more than a thread's block of 16), positions by eights and
    a masked rest (2 images side by side: 126; one large image: 342), and 2 groups. Against
    the reference, NaN where it has NaN, the same bits at 1 and 2 threads."""
    rng = np.random.default_rng(outputs)
    for x_shape, kernel, groups in [((5, 3, 9, 11), (3, 3), 1), ((1, 1, 20, 21), (5, 5), 1),
                                    ((3, 2, 7, 12), (2, 3), 2)]:
        x = rng.standard_normal(x_shape).astype(dtype)
        x[-1, 0, 0, 0] = np.nan                     # in the windows of some kernel positions
        w = rng.standard_normal((outputs * groups, x_shape[1] // groups) + kernel).astype(dtype)
        args = ((1, 1), ((0, 0), (1, 0)), (1, 1), groups)
        g = rng.standard_normal(REF.conv(x, w, None, *args).shape).astype(dtype)
        want = REF.conv_backward(x, w, g, *args, False, True, False)[1]
        terms = REF.conv_backward(np.abs(x), np.abs(w), np.abs(g), *args, False, True, False)
        assert np.isnan(want).any() and not np.isnan(want).all()
        got = threads(lambda: ck.conv_backward(x, w, g, *args, False, True, False)[1])
        _assert_conv_close([got[0]], [want], [terms[1]])
        assert_same(got[1], got[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad, groups, dilation", [
    ((2, 32, 40, 37), (8, 32, 3, 3), (2, 1), ((1, 1), (2, 2)), 1, (1, 1)),  # bands: 11 + 9
    ((2, 32, 40, 37), (8, 32, 3, 3), (1, 2), ((3, 3), (1, 1)), 1, (3, 2)),  # ... dilated
    ((2, 32, 40, 37), (8, 16, 3, 3), (2, 1), ((1, 1), (2, 2)), 2, (1, 1)),  # ... in groups
    ((37, 4, 5, 6), (6, 4, 2, 3), (1, 2), ((0, 0), (1, 1)), 1, (1, 1)),  # chunks: 22 + 15
    ((30, 6, 3, 3), (9, 2, 1, 1), (1, 1), ((0, 0), (0, 0)), 3, (1, 1)),  # 1x1: 29 + 1 image
    ((1, 16, 400, 6), (4, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), 1, (1, 1)),  # narrow: 3 bands
])
def test_conv_in_bands_and_chunks(ck, dtype, x_shape, w_shape, stride, pad, groups, dilation):
    """a large image's products in bands of output rows (the windows of the rows at a band's
    edge read across it) and small images' products side by side in chunks (the last one
    short): the reference's values, forward and backward"""
    rng = np.random.default_rng(8)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape))
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    args = (stride, pad, dilation, groups)
    want = REF.conv(x, w, b, *args)
    _assert_conv_close([ck.conv(x, w, b, *args)], [want], [REF.conv(*map(_abs, (x, w, b)), *args)])
    g = rng.standard_normal(want.shape).astype(dtype)
    _assert_conv_close(ck.conv_backward(x, w, g, *args), REF.conv_backward(x, w, g, *args),
                       REF.conv_backward(*map(_abs, (x, w, g)), *args))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad, groups, dilation", [
    ((3, 4, 9, 10), (5, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), 1, (1, 1)),   # the image itself
    ((3, 4, 9, 10), (5, 4, 3, 1), (1, 1), ((2, 0), (0, 3)), 1, (1, 1)),   # narrower: a phase
    ((3, 4, 16, 16), (6, 4, 4, 4), (2, 2), ((1, 1), (1, 1)), 1, (1, 1)),  # DCGAN's stride 2
    ((2, 4, 17, 17), (6, 2, 3, 3), (2, 2), ((1, 1), (1, 1)), 2, (1, 1)),  # odd: uneven phases
    ((2, 3, 20, 26), (4, 3, 3, 2), (3, 2), ((2, 1), (3, 0)), 1, (2, 3)),  # stride 3, dilated
    ((2, 3, 7, 8), (4, 3, 5, 5), (1, 1), ((6, 6), (4, 4)), 1, (1, 1)),    # rows all padding
    ((1, 32, 45, 40), (8, 32, 3, 3), (2, 2), ((1, 1), (1, 1)), 1, (1, 1)),  # bands of rows
    ((1, 24, 70, 60), (8, 24, 4, 4), (1, 1), ((2, 1), (2, 1)), 1, (1, 1)),  # ... the image
])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "broadcast"])
def test_conv_windows_as_runs(ck, layout, dtype, x_shape, w_shape, stride, pad, groups,
                              dilation):
    """outputs at least RUNS_MIN wide whose image (or each of its stride's phases) fits in
    that width: each kernel position's windows taken as one run of the image, or of a phase
    taken apart first, with zeros where a window's column falls outside; and the windows'
    gradient added back the same way, what falls outside dropped (a NaN there too). The
    reference's values, forward and backward, in bands where the image is large; x in
    layouts the kernels copy once (the empty one: test_conv)"""
    rng = np.random.default_rng(12)
    x = make(layout, dtype, x_shape, rng)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    args = (stride, pad, dilation, groups)
    want = REF.conv(x, w, b, *args)
    assert want.shape[3] >= 8 and -(-x_shape[3] // stride[1]) <= want.shape[3]
    _assert_conv_close([ck.conv(x, w, b, *args)], [want], [REF.conv(*map(_abs, (x, w, b)), *args)])
    g = rng.standard_normal(want.shape).astype(dtype)
    _assert_conv_close(ck.conv_backward(x, w, g, *args), REF.conv_backward(x, w, g, *args),
                       REF.conv_backward(*map(_abs, (x, w, g)), *args))
    # windows' values in the padding are dropped, not added into a neighbour: with one
    # kernel position's weights infinite, the same input positions are inf as the reference's
    w[:, :, 0, -1] = np.inf
    gx, want_gx = (k.conv_backward(x, w, g, *args, True, False, False)[0] for k in (ck, REF))
    assert np.array_equal(np.isfinite(gx), np.isfinite(want_gx))
    assert not np.isfinite(gx).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("stride, pad, output_padding, groups, dilation", [
    ((2, 2), ((1, 1), (1, 1)), (0, 0), 1, (1, 1)),      # a DCGAN layer's
    ((2, 3), ((1, 1), (0, 0)), (1, 2), 1, (1, 1)),      # output padding past the padding
    ((3, 1), ((2, 2), (1, 1)), (2, 0), 2, (1, 1)),      # ... taken from it, in groups
    ((1, 2), ((2, 2), (3, 3)), (1, 1), 1, (2, 3)),      # dilated
    ((9, 9), ((40, 0), (45, 0)), (8, 8), 1, (1, 1)),    # no window reaches the rows
])
def test_conv_transpose(ck, layout, dtype, stride, pad, output_padding, groups, dilation):
    """the transposed convolution (the compiled conv's input gradient, which reads only the
    input's shape) and its gradients (the compiled conv and its weight gradient) against the
    reference's"""
    x = make(layout, dtype, (3, 4, 5, 6))
    w = make("contiguous", dtype, (4, 3, 3, 3), np.random.default_rng(9))
    b = make("contiguous", dtype, (3 * groups,), np.random.default_rng(10))
    args = (stride, pad, dilation, groups, output_padding)
    want = REF.conv_transpose(x, w, b, *args)
    _assert_conv_close([ck.conv_transpose(x, w, b, *args)], [want],
                       [REF.conv_transpose(*map(_abs, (x, w, b)), *args)])
    g = make(layout, dtype, want.shape, np.random.default_rng(11))
    _assert_conv_close(ck.conv_transpose_backward(x, w, g, *args),
                       REF.conv_transpose_backward(x, w, g, *args),
                       REF.conv_transpose_backward(*map(_abs, (x, w, g)), *args))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_backward_reads_no_input_for_the_input_gradient(dtype):
    """with x None the kernel gives the input's gradient from gx's shape (in the dtype of
    the other arrays); the weight's gradient needs x"""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    w = rng.standard_normal((4, 27)).astype(dtype)
    g = rng.standard_normal((2, 4, 6, 5)).astype(dtype)
    want, got = np.empty_like(x), np.full_like(x, np.nan)
    linalg.conv2d_backward_(w, g, x, want, None, 0.0, 3, 3, 1, 1, 1, 1, 1, 1, 1)
    linalg.conv2d_backward_(w, g, None, got, None, 0.0, 3, 3, 1, 1, 1, 1, 1, 1, 1)
    assert_same(got, want)
    with pytest.raises(ValueError, match="needs the input x"):
        linalg.conv2d_backward_(w, g, None, got, np.zeros((4, 27), dtype), 0.0, 3, 3, 1,
                                1, 1, 1, 1, 1, 1)
