"""Forward results on edge inputs as PyTorch's: special values (NaN, infinities, -0.), integer
and half dtypes, 0-d and zero-size tensors, values out of a dtype's range. Each case is an
expression run with L = cgrad and L = torch; results must agree in values (NaN-aware, the
sign of zero included), dtype and shape, or both must raise the same exception class."""
import math

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

NAMES = {"nan": math.nan, "inf": math.inf}


def _run(L, expr):
    try:
        return eval(expr, dict(NAMES, L=L))
    except Exception as e:  # noqa: BLE001 (the class is compared with torch's)
        return e


def _assert_same(got, want):
    if isinstance(want, Exception):
        assert type(got) is type(want), f"{got!r}; torch raised {want!r}"
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{got!r} vs {want!r}"
        for g, w in zip(got, want):
            _assert_same(g, w)
    elif isinstance(want, torch.Tensor):
        assert isinstance(got, cgrad.Tensor), f"{got!r}; torch gave {want!r}"
        assert str(got.dtype) == str(want.dtype).replace("torch", "cgrad")
        assert tuple(got.shape) == tuple(want.shape)
        g, w = got.numpy(), want.numpy()
        np.testing.assert_array_equal(g, w)
        if w.dtype.kind == "f":                               # -0. and 0. differ too
            zero = w == 0
            np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(w[zero]))
    else:
        assert type(got) is type(want) and got == want, f"{got!r} vs {want!r}"


def _check(expr):
    _assert_same(_run(cgrad, expr), _run(torch, expr))


SPECIAL = "[-inf, -0.0, 0.0, 2.0, -1.0, inf, nan]"


@pytest.mark.parametrize("expr", [
    # float16 powers take C's pow (no sqrt shortcut): (-inf) ** 0.5 is inf, (-0.) ** -0.5 inf
    f"L.tensor({SPECIAL}, dtype=L.float16) ** 0.5",
    f"L.tensor({SPECIAL}, dtype=L.float16) ** -0.5",
    f"L.pow(L.tensor({SPECIAL}, dtype=L.float16), 0.5)",
    f"L.tensor({SPECIAL}, dtype=L.float32) ** 0.5",
    f"L.tensor({SPECIAL}, dtype=L.float64) ** -0.5",
    # a negative integer power of any integer dtype, uint8 too (not wrapped to 255 first)
    "L.tensor([1, 2], dtype=L.uint8) ** -1",
    "L.tensor([1, 2], dtype=L.int32) ** -2",
    "L.tensor([1, 2], dtype=L.uint8) ** 2",
])
def test_pow_edge_values(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    "L.full((2,), -1, dtype=L.uint8)",               # wraps, as PyTorch's cast
    "L.full((2,), 300, dtype=L.uint8)",              # out of range: RuntimeError
    "L.full((2,), -2.5, dtype=L.uint8)",
    "L.full((2,), 2.7, dtype=L.int64)",
    "L.full((2,), 1e10, dtype=L.int32)",
    "L.full((2,), nan, dtype=L.int64)",
    "L.full_like(L.tensor([1, 2]), inf)",
    "L.full_like(L.tensor([1, 2], dtype=L.uint8), -1)",
    "L.full_like(L.tensor([1, 2], dtype=L.uint8), -0.5)",
    "L.full_like(L.tensor([1, 2], dtype=L.int32), 2 ** 40)",
    "L.full_like(L.tensor([1.0]), 2, dtype=L.int64)",
    "L.full_like(L.tensor([1.0, 2.0], dtype=L.float16), 1e6)",   # (1 element: no check)
])
def test_full_converts_the_value_as_torch(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    # a list holding 0-d tensors: the items' dtypes promoted, a Python float the default's
    "L.tensor([L.tensor(1.5), 2])",
    "L.tensor([L.tensor(1), 2.5])",
    "L.tensor([L.tensor(1.5, dtype=L.float64), 2])",
    "L.tensor([L.tensor(1, dtype=L.int32), 2])",
    "L.tensor([L.tensor(1, dtype=L.int32), L.tensor(2, dtype=L.int32)])",
    "L.tensor([L.tensor(True), 2])",
    "L.tensor([L.tensor(1.5, dtype=L.float16), L.tensor(1.5, dtype=L.float64)])",
    # Python ints past int64: an error unless a float makes the data float
    "L.tensor([2 ** 63])",
    "L.tensor([2 ** 63, 1])",
    "L.tensor([[-2 ** 63 - 1]])",
    "L.tensor(2 ** 64)",
    "L.tensor([2 ** 64, 1.5])",
    "L.tensor([2 ** 63 - 1, -2 ** 63])",
])
def test_tensor_infers_dtype_as_torch(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    "L.where(L.tensor(True))",
    "L.where(L.tensor(0.0))",
    "L.where(L.tensor([[0, 1], [2, 0]]))",
])
def test_where_of_a_condition_alone(backend, expr):
    _check(expr)


_SEQS = ["[-1.0, 0.0, 2.0, inf, nan, nan]", "[nan]", "[1.0, nan, 3.0]", "[-inf, 0.0, 1.0]"]


@pytest.mark.parametrize("seq", _SEQS)
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_with_nan_in_the_sequence(backend, seq, right):
    _check(f"L.searchsorted(L.tensor({seq}), L.tensor([nan, inf, -inf, 2.0, 5.0, -0.0, 1.0]), "
           f"right={right})")


@pytest.mark.parametrize("expr", [
    "L.searchsorted(L.tensor([[1.0, nan, nan], [0.0, 1.0, 2.0]]), L.tensor([[1.0, 0.5], "
    "[nan, 2.0]]))",
    "L.searchsorted(L.tensor([nan, 1.0, 0.0]), L.tensor([0.5, 1.0]), "
    "sorter=L.tensor([2, 1, 0]))",
    "L.searchsorted(L.tensor([nan]), L.tensor(nan))",
    "L.searchsorted(L.tensor([nan, 1.0]), L.zeros(0, 3))",
    "L.searchsorted(L.tensor([[nan, 1.0]]), L.zeros(2, 3))",           # rows must match
    # bool: refused, unless there are no values to search
    "L.searchsorted(L.tensor([False, True]), L.tensor([True]))",
    "L.searchsorted(L.tensor([], dtype=L.bool), L.tensor([], dtype=L.bool))",
    "L.searchsorted(L.tensor([True]), L.zeros(2, 0, dtype=L.bool))",
])
def test_searchsorted_edges(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    "L.erfinv(L.tensor([-0.0, 0.0, -0.5, nan]))",                    # -0. stays -0.
    "L.erfinv(L.tensor([-0.0, 0.0], dtype=L.float64))",
    "L.cumsum(L.tensor([-0.0, -0.0, 1.0]), 0)",                      # sums start from +0.
    "L.cumsum(L.tensor([[-0.0], [-0.0]], dtype=L.float64), 0)",
    "L.cumsum(L.tensor(-0.0), 0)",
    "L.cumsum(L.tensor([-0.0, 2.0]), 0, dtype=L.float16)",
    "L.logcumsumexp(L.tensor([-0.0, -inf, nan]), 0)",
    "L.logcumsumexp(L.tensor(-0.0, dtype=L.float64), 0)",
])
def test_signed_zeros(backend, expr):
    _check(expr)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("bounds", ["min=0.0", "min=-0.0", "max=0.0", "max=-0.0",
                                    "min=-0.0, max=0.0", "min=0", "max=-0.0, min=-1"])
@pytest.mark.parametrize("n", [1, 1025])
def test_clamp_keeps_x_where_it_ties_a_number_bound(backend, dtype, bounds, n):
    """a number bound leaves a tying x (-0. or 0.) as it is (a tensor bound's pick varies
    with the size in PyTorch: not compared)"""
    _check(f"L.clamp(L.tensor([-0.0, 0.0, 1.0, -1.0] * {n}, dtype=L.{dtype}), {bounds})")


@pytest.mark.parametrize("expr", [
    "L.clamp(L.tensor([0, 1, -2]), min=-0.0)",                   # int promoted: 0 is +0.
    "L.tensor([-0.0, 0.0, 2.0]).clamp_(min=0)",
    "L.clamp(L.tensor(-0.0), min=0.0)",
])
def test_clamp_signed_zero_cases(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    # index_select: a 1-d empty self is out of range; a 0-d one takes exactly one index
    "L.zeros(0).index_select(0, L.tensor([0]))",
    "L.zeros(0, 3).index_select(0, L.tensor([0]))",
    "L.zeros(2, 0).index_select(-1, L.tensor([5]))",
    "L.tensor(1.0).index_select(0, L.tensor([0, 0]))",
    "L.tensor(1.0).index_select(0, L.tensor([3, 0]))",
    "L.tensor(1.0).index_select(0, L.tensor([], dtype=L.int64))",
    "L.tensor(1.0).index_select(0, L.tensor([3]))",
    "L.tensor(1.0).index_select(0, L.tensor([0]))",
    # permute: the number of dims checked before each dim
    "L.zeros(3).permute(1, 0)",
    "L.zeros(3).permute()",
    "L.tensor(1.0).permute()",
    "L.zeros(3, 2).permute(0, 5)",
    # expand: -1 is no size for a new leading dim
    "L.zeros(3).expand(-1, -1)",
    "L.zeros(1).expand(-1, 4)",
    "L.zeros(3).expand(2, -1)",
    # gather: an index larger than self off dim (NumPy's IndexError before)
    "L.zeros(2, 3).gather(1, L.zeros(3, 1, dtype=L.int64))",
    "L.zeros(2, 3).gather(0, L.zeros(1, 4, dtype=L.int64))",
    "L.zeros(0, 3).gather(1, L.zeros(3, 1, dtype=L.int64))",
    "L.zeros(2, 3, 4).gather(1, L.zeros(2, 1, 5, dtype=L.int64))",
    "L.zeros(2, 3).gather(1, L.zeros(3, 0, dtype=L.int64))",
    "L.arange(6.0).reshape(2, 3).gather(1, L.tensor([[2], [0]]))",
    # bitwise ops of floats: the shapes are checked before the dtype
    "L.zeros(2, 0) & L.ones(3)",
    "L.bitwise_xor(L.zeros(2, 0), L.ones(3))",
    "L.zeros(2, 3, dtype=L.bool) << L.ones(4, dtype=L.bool)",
    "L.zeros(2, 3) | L.ones(3)",
    # cat of 1-d empty tensors only, roll of an empty tensor: no dim checked
    "L.cat([L.zeros(0), L.zeros(0)], 1)",
    "L.cat([L.zeros(0), L.zeros(0, dtype=L.int64)], -2)",
    "L.cat([L.zeros(0), L.zeros(2, 3)], 2)",
    "L.roll(L.zeros(0), (1, 2), (0, 1))",
    "L.roll(L.zeros(2, 0), 1, 5)",
    "L.roll(L.zeros(0), (1, 2), (0,))",
    "L.roll(L.arange(4), 1, 3)",
    # unflatten: a 0-d tensor has no dim to unflatten, and sizes must be non-empty
    "L.unflatten(L.tensor(1), 0, (1, -1))",
    "L.unflatten(L.tensor(1), -1, ())",
    "L.unflatten(L.tensor(1), 3, (1, 1))",
    "L.unflatten(L.zeros(1, 3), 0, ())",
    "L.unflatten(L.zeros(2, 3), 5, ())",
    "L.unflatten(L.zeros(2, 6), 1, (2, -1))",
])
def test_shape_op_edges(backend, expr):
    _check(expr)


@pytest.mark.parametrize("expr", [
    # a Python int beside an integer tensor converts with PyTorch's range check in clamp,
    # pow and where (add does not check: it wraps)
    "L.clamp(L.tensor([1, 2], dtype=L.uint8), min=300)",
    "L.clamp(L.tensor([1, 2], dtype=L.uint8), min=-1)",
    "L.clamp(L.tensor([1, 2], dtype=L.uint8), min=-256)",
    "L.clamp(L.tensor([1, 2], dtype=L.int32), max=2 ** 40)",
    "L.clamp(L.tensor([1, 2], dtype=L.int32), max=2.5)",
    "L.clamp(L.tensor([1, 2], dtype=L.int32), min=True)",
    "L.tensor([1, 2], dtype=L.uint8) ** 300",
    "L.tensor([1, 2], dtype=L.uint8) ** 255",
    "L.tensor([1, 2], dtype=L.int32) ** (2 ** 40)",
    "L.pow(L.tensor([1, 2], dtype=L.int32), 2 ** 31)",
    "L.tensor([1, 2], dtype=L.uint8) ** -256",
    "L.tensor([True, False]) ** 300",
    "L.where(L.tensor([True, False]), L.tensor([1, 2], dtype=L.uint8), 300)",
    "L.where(L.tensor([True, False]), 300, L.tensor([1, 2], dtype=L.uint8))",
    "L.where(L.tensor([True, False]), L.tensor([1, 2], dtype=L.uint8), -1)",
    "L.where(L.tensor([True, False]), L.tensor([1, 2], dtype=L.int32), 2 ** 40)",
    "L.where(L.tensor([True, False]), L.tensor([1, 2], dtype=L.int32), 2.5)",
    "L.where(L.tensor([True, False]), L.tensor([True, False]), 300)",
    "L.tensor([1, 2], dtype=L.uint8) + 300",
    # clamp of a bool tensor by bools: PyTorch has no kernel
    "L.clamp(L.tensor([True, False]), min=True)",
    "L.clamp(L.tensor([True, False]), min=True, max=True)",
    "L.clamp(L.tensor([True, False]), max=False)",
    "L.clamp(L.tensor([True, False]), min=True, max=1)",
    "L.clamp(L.tensor([True, False]), min=0.5)",
])
def test_numbers_beside_integer_tensors(backend, expr):
    _check(expr)


@pytest.mark.parametrize("args", [
    "-1, 1, 0.1", "0, 1, 0.1", "0, 10, 0.3", "-5, 5, 0.7", "0.1, 0.9, 0.01", "1e-3, 1.0, 1e-3",
    "100, 0, -0.37", "0, 1, 1 / 3", "0, 20000 * 0.1, 0.1", "3, -7000, -0.0513", "0, 1, 1e-5",
    "0.5, 0.6, 0.3", "1000", "0, 512, 2", "-3, 3, 0.5"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_arange_floats_bit_for_bit(backend, args, dtype):
    """PyTorch's kernel fills vectors from a base rounded to the dtype, with fused
    multiply-adds: arange(-1, 1, 0.1)[10] is -2.98e-09 in float32, not 0"""
    _check(f"L.arange({args}, dtype=L.{dtype})")


@pytest.mark.parametrize("threads", [1, 2])
def test_arange_past_one_thread_chunk(backend, threads):
    """past 32768 values each of PyTorch's threads starts its own vector blocks"""
    before = (cgrad.get_num_threads(), torch.get_num_threads())
    cgrad.set_num_threads(threads)
    torch.set_num_threads(threads)
    try:
        for dtype in ("float32", "float64"):
            _check(f"L.arange(-1, 5000, 0.037, dtype=L.{dtype})")
    finally:
        cgrad.set_num_threads(before[0])
        torch.set_num_threads(before[1])


@pytest.mark.parametrize("expr", [
    # an integer dtype: start and step truncated (int64 counts from the truncated values)
    "L.arange(-5.5, 0, 1.5, dtype=L.int64)",
    "L.arange(-5.5, 0, 1.5, dtype=L.int32)",
    "L.arange(0.5, 5.6, 1.7, dtype=L.int64)",
    "L.arange(0.5, 5.6, 1.7, dtype=L.int32)",
    "L.arange(5.9, dtype=L.int64)",
    "L.arange(5.9, dtype=L.int32)",
    "L.arange(2.9, 0, -1, dtype=L.int64)",
    "L.arange(2.9, 0, -1, dtype=L.int32)",
    "L.arange(0, 1, 0.1, dtype=L.int64)",          # a step truncated to 0: ValueError
    "L.arange(0, 1, 0.1, dtype=L.int32)",          # ... but zeros here
    "L.arange(-3, 3, dtype=L.uint8)",
    "L.arange(250, 260, 3, dtype=L.uint8)",
    "L.arange(5, dtype=L.bool)",
    "L.arange(nan)",
    "L.arange(0, inf)",
    "L.arange(1e20)",
    "L.arange(0, 1, nan)",
    "L.arange(0, 5, 0)",
    "L.arange(5, 0)",
    "L.arange(0, 5, -1)",
    "L.arange(L.tensor(3.5))",
    "L.arange(1, 10, 3)",
    # linspace and logspace: 0-d tensor ends, no bool, ends within the dtype's range
    "L.linspace(0, 1, 4, dtype=L.bool)",
    "L.linspace(0, 1, 0, dtype=L.bool)",
    "L.linspace(0, 1e10, 3, dtype=L.int32)",
    "L.linspace(-1, 1, 3, dtype=L.uint8)",
    "L.linspace(-1.5, 1, 3, dtype=L.uint8)",
    "L.linspace(0, 300, 3, dtype=L.uint8)",
    "L.linspace(0, 1e40, 3)",
    "L.linspace(0, inf, 3, dtype=L.int64)",
    "L.linspace(L.tensor([1.5]), 2, 3)",
    "L.linspace(1, L.tensor([[2.0]]), 3)",
    "L.linspace(L.tensor(1.5), L.tensor(2), 3)",
    "L.logspace(0, 1, 3, dtype=L.bool)",
    "L.logspace(0, 1e10, 3, dtype=L.int32)",
    "L.logspace(L.tensor([1.0]), 2, 3)",
    "L.logspace(0, 2, 3, dtype=L.int64)",
    # eye's negative sizes
    "L.eye(-1)",
    "L.eye(2, -1)",
    "L.eye(2, 0)",
    # a finite number past float32's or float16's largest
    "L.full((2,), 1e40)",
    "L.full((2,), 65505.0, dtype=L.float16)",
    "L.full((2,), 65504.0, dtype=L.float16)",
    "L.full((2,), 3.4028235e38)",
    "L.full((2,), -inf, dtype=L.float16)",
    "L.full((2,), 1e300, dtype=L.float64)",
    "L.full_like(L.zeros(2), 1e40)",
    "L.zeros(2).fill_(1e40)",
    "L.zeros(2, dtype=L.float16).fill_(70000.0)",
    "L.zeros(2).masked_fill(L.tensor([True, False]), 1e40)",
    "L.zeros(2, dtype=L.float16).index_fill(0, L.tensor([0]), 1e5)",
    "L.clamp(L.zeros(2, dtype=L.float16), max=70000.0)",
    "L.zeros(2, dtype=L.float16) + 70000.0",
    "L.tensor([1e40], dtype=L.float32)",
])
def test_creation_edges(backend, expr):
    _check(expr)


def _random(shape, dtype, seed=0):
    """normal samples times 3, with special values first, as the expression text of a tensor"""
    a = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    a.flat[:6] = [np.inf, -np.inf, np.nan, -0.0, 0.0, 65504]
    return f"L.tensor({a.tolist()!r}, dtype=L.{np.dtype(dtype).name})".replace(
        "nan", "L_nan").replace("inf", "L_inf")


@pytest.mark.parametrize("op", ["x * s", "s * x", "x / s", "s / x", "x.clone().mul_(s)",
                                "x.clone().div_(s)", "L.mul(x, s)", "L.true_divide(x, s)",
                                "x + s", "x - s", "s - x", "x[::3] * s", "x[:1].reshape(()) / s"])
@pytest.mark.parametrize("s", ["1.1", "0.1", "3.3", "1e-05", "4097", "2049", "1e6", "-0.0"])
def test_float16_times_a_number_in_float32(backend, op, s):
    """PyTorch multiplies and divides a float16 tensor by a Python number in float32, the
    number unrounded (x * 1.1 was x * 1.0996); add and sub round it to float16 first"""
    x = _random((40, 50), np.float16)
    _check(f"(lambda x, s: {op})({x}, {s})".replace("L_nan", "nan").replace("L_inf", "inf"))


@pytest.mark.parametrize("op", ["x.cumsum(0)", "x.cumsum(-1)", "x.cumprod(-1)",
                                "L.logcumsumexp(x, -1)", "L.logcumsumexp(x.T, 0)",
                                "L.cumulative_trapezoid(x)"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_scans_accumulate_as_torch(backend, op, dtype):
    """cumsum/cumprod of float16 and logcumsumexp of float16/float32 accumulate in PyTorch's
    acc_type (float32, float64): their bits"""
    x = _random((6, 300), dtype, seed=1)
    _check(f"(lambda x: {op})({x})".replace("L_nan", "nan").replace("L_inf", "inf"))


@pytest.mark.parametrize("op, dtype", [
    (op, dtype) for op in ["L.rsqrt(x)", "L.deg2rad(x)", "L.rad2deg(x)", "x.deg2rad()",
                           "x.rsqrt()"] for dtype in [np.float16, np.float32, np.float64]] + [
    ("L.sinc(x)", np.float16)])          # (float32 sinc: libm's last bits differ)
def test_float16_formulas_round_once(backend, op, dtype):
    """rsqrt, sinc and deg2rad/rad2deg of float16 computed in float32 and rounded once, as
    PyTorch's vectorised loop (1 / a rounded sqrt, or x times pi / 180 rounded to float16,
    gave other values). 1024 values: PyTorch's last n % 32 go through its scalar loop, whose
    rsqrt rounds to float16 in between, unlike the vectorised one"""
    _check(f"(lambda x: {op})({_random((16, 64), dtype, seed=2)})".replace(
        "L_nan", "nan").replace("L_inf", "inf"))


@pytest.mark.parametrize("expr", [
    # scan's dtype= converts the input first, then accumulates in the acc_type
    "L.cumsum(L.tensor([2 ** 63 - 1, -2 ** 63, -7, 7, 0, -1]), 0, dtype=L.float16)",
    "L.cumsum(L.tensor([32767, -32768, -7, 7, 0, -1], dtype=L.int16), 0, dtype=L.float16)",
    "L.cumsum(L.tensor([1e30, 1.0, -1e30], dtype=L.float64), 0, dtype=L.float32)",
    "L.cumsum(L.tensor([2 ** 40 + 1, 1]), 0, dtype=L.float32)",
    "L.cumprod(L.tensor([0.1, 0.2, 0.3], dtype=L.float64), 0, dtype=L.float16)",
    "L.cumsum(L.tensor([1.5, 2.5]), 0, dtype=L.int64)",
    "L.cumsum(L.tensor([True, True]), 0, dtype=L.float16)",
])
def test_scan_dtype_converts_first(backend, expr):
    _check(expr)
