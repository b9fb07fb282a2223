"""PyTorch's other names for existing ops, the in-place forms cgrad lacked (floor_, eq_, t_,
squeeze_, ...), trunc/frac/exp2/sgn, div's rounding modes and the predicates (is_nonzero,
is_signed, ...): values, dtypes, grad_fn names, gradients and errors against PyTorch, on
both backends (the harness is test_more_ops')."""
import numpy as np
import pytest

import cgrad
from test_more_ops import INF, NAN, compare, same_error, values
from test_more_ops_parity import second_derivatives

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

X = values(np.float64, [0.5, -0.5, 2.5, -0.0, INF, -INF, NAN], -3, 3)
POS = values(np.float64, [1.0, 0.25], 0.1, 3)
INTS = np.array([[5, -5, 7], [0, -8, 3]])

# name: (the tensor to call it on, the arguments); checked as t.name(*args) and m.name(t, ...)
ALIASES = {
    "absolute": (X, ()), "negative": (X, ()), "positive": (X, ()), "multiply": (X, (X,)),
    "subtract": (X, (X,)), "divide": (X, (POS,)), "greater": (X, (0.5,)),
    "greater_equal": (X, (X.T.copy().T,)), "less": (X, (0.5,)), "less_equal": (X, (0.5,)),
    "not_equal": (X, (0.5,)), "swapaxes": (X, (0, 1)), "swapdims": (X, (1, 0)),
    "ravel": (X, ()), "fix": (X, ()), "trunc": (X, ()), "frac": (X, ()), "exp2": (X, ()),
    "sgn": (X, ()), "log2": (POS, ()), "log10": (POS, ()), "clamp_min": (X, (0.5,)),
    "clamp_max": (X, (0.5,)), "tril": (X, (1,)), "triu": (X, (-1,)), "nan_to_num": (X, ()),
}


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_and_new_unary(backend, name, layout):
    x, args = ALIASES[name]
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    numbers = [a for a in args if not isinstance(a, np.ndarray)]

    def call(m, t, *others):
        return getattr(m, name)(t, *others, *numbers)
    grad = name != "sgn"                     # (PyTorch's gradient: a ZeroTensor)
    compare(call, x, *arrays, layout=layout, grad=grad)
    compare(lambda m, t, *o: getattr(t, name)(*o, *numbers), x.astype(np.float32),
            *[a.astype(np.float32) for a in arrays], layout=layout, grad=grad)


@pytest.mark.parametrize("name", ["trunc", "frac", "exp2", "sgn", "log2", "log10"])
def test_new_unary_second_derivatives_and_dtypes(backend, name):
    second_derivatives(lambda m, t: getattr(t, name)() * t, POS)
    for x in (INTS, np.array([True, False])):
        try:
            getattr(torch.tensor(x), name)()
        except Exception:
            same_error(lambda m: getattr(m.tensor(x), name)())
        else:
            compare(lambda m, t: getattr(t, name)(), x, grad=False)


IN_PLACE = ["floor_", "ceil_", "round_", "trunc_", "fix_", "frac_", "sign_", "sgn_",
            "reciprocal_", "rsqrt_", "square_", "expm1_", "log1p_", "log2_", "log10_", "exp2_",
            "erf_", "negative_", "absolute_", "nan_to_num_", "tril_", "triu_", "clip_",
            "clamp_min_", "clamp_max_", "eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_",
            "greater_equal_", "less_", "less_equal_", "not_equal_", "cumsum_", "cumprod_",
            "multiply_", "subtract_", "divide_", "true_divide_"]
ARGS = {"clip_": (-1, 1), "clamp_min_": (0.5,), "clamp_max_": (0.5,), "cumsum_": (1,),
        "cumprod_": (0,), "multiply_": (3.0,), "subtract_": (3.0,), "divide_": (3.0,),
        "true_divide_": (3.0,), "tril_": (0,), "triu_": (1,)}


@pytest.mark.parametrize("name", IN_PLACE)
def test_in_place_forms(backend, name):
    compared = name.rstrip("_") in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less",
                                    "greater_equal", "less_equal", "not_equal")
    args = ARGS.get(name, (0.5,) if compared else ())
    x = POS if name in ("rsqrt_", "log2_", "log10_", "log1p_") else X

    def on_nonleaf(m, t):
        y = t * 1
        out = getattr(y, name)(*args)
        assert out is y and y._version == 1
        return y

    def on_view(m, t):
        y = t * 1
        getattr(y[1:], name)(*args)              # through the base's CopySlices node
        return y
    grad = name != "sgn_"                    # (PyTorch's gradient: a ZeroTensor)
    compare(on_nonleaf, x, grad=grad)
    compare(on_nonleaf, x, layout="transposed", grad=grad)
    compare(on_view, x, grad=grad)
    if hasattr(torch, name):
        compare(lambda m, t: getattr(m, name)(t * 1, *args), x, grad=grad)
    same_error(lambda m: getattr(m.ones(3, 3, requires_grad=True), name)(*args))   # a leaf


def test_in_place_comparisons_with_tensors_and_dtypes(backend):
    a, b = values(np.float32, [1.0], shape=(3, 4)), values(np.float32, [1.0], shape=(4,))
    for name in ("eq_", "lt_", "ge_"):
        compare(lambda m, x, y: getattr(x * 1, name)(y), a, b)         # EqBackward1, zeros
        compare(lambda m, x: getattr(x, name)(2), INTS, grad=False)    # 0/1 in int64
        compare(lambda m, x: getattr(x, name)(True), np.array([True, False]), grad=False)
    same_error(lambda m: m.ones(2, 3).eq_(m.ones(3, 2)))
    same_error(lambda m: m.ones(2, 3).eq_(m.ones(2, 1, 3)))
    for m in (cgrad, torch):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        g, = m.autograd.grad((x * 1).lt_(2.5).sum(), x)
        assert g.tolist() == [0, 0, 0]


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_divide_rounding_modes(backend, mode):
    a = values(np.float64, [5.0, -5.0, 0.0, INF, -7.5], -9, 9)
    b = values(np.float64, [2.0, 2.0, 0.0, 3.0, 0.0], -4, 4, seed=1)
    for fn in (lambda m, x, y: m.div(x, y, rounding_mode=mode),
               lambda m, x, y: x.divide(y, rounding_mode=mode),
               lambda m, x, y: (x * 1).div_(y, rounding_mode=mode)):
        compare(fn, a, b)
        compare(fn, a.astype(np.float32), b.astype(np.float32), layout="transposed")
        compare(fn, INTS, np.array([2, -3, 4]), grad=False)
        compare(fn, INTS.astype(np.int32), np.array(-3, np.int64), grad=False)
    compare(lambda m, x: m.divide(x, 2, rounding_mode=mode), INTS, grad=False)
    compare(lambda m, x: m.divide(x, -2.5, rounding_mode=mode), INTS, grad=False)
    same_error(lambda m: m.tensor([5, -5]).div(0, rounding_mode=mode))
    same_error(lambda m: m.tensor([True]).div(True, rounding_mode=mode))
    same_error(lambda m: m.tensor([5, 3]).div_(2), message=True)        # float into int64
    same_error(lambda m: m.tensor([5, 3]).div_(2.5, rounding_mode=mode), message=True)
    same_error(lambda m: m.ones(2).div(2, rounding_mode="bad"), message=True)


VIEW_IN_PLACE = [("t_", (), (2, 3)), ("t_", (), (3,)), ("transpose_", (0, -1), (2, 3, 4)),
                 ("swapaxes_", (1, 0), (2, 3)), ("swapdims_", (0, 0), (2, 3)),
                 ("squeeze_", (), (1, 3, 1)), ("squeeze_", (0,), (1, 3, 1)),
                 ("squeeze_", (1,), (1, 3, 1)), ("unsqueeze_", (1,), (2, 3)),
                 ("unsqueeze_", (-1,), (2, 3))]


@pytest.mark.parametrize("name,args,shape", VIEW_IN_PLACE)
def test_view_ops_in_place(backend, name, args, shape):
    x = values(np.float64, [], shape=shape)

    def fn(m, t):
        y = t * 2
        out = getattr(y, name)(*args)
        assert out is y and y._version == 1
        return y * 1
    compare(fn, x)
    for m in (cgrad, torch):                       # no graph: the storage is the same
        a = m.tensor(x)
        getattr(a, name)(*args)
        assert a.shape == getattr(m.tensor(x), name.rstrip("_"))(*args).shape
        assert a.stride() == getattr(m.tensor(x), name.rstrip("_"))(*args).stride()
    same_error(lambda m: getattr(m.tensor(x, requires_grad=True), name)(*args))


def test_view_in_place_errors(backend):
    same_error(lambda m: m.ones(2, 3, 4).t_(), message=True)
    same_error(lambda m: m.ones(2, 3).unsqueeze_(5))
    same_error(lambda m: m.ones(2, 3).transpose_(0, 2))


def test_predicates(backend):
    for x in ([], [1, 2], [0.0], [3], [[True]]):
        try:
            expected = torch.tensor(x).is_nonzero()
        except RuntimeError:
            same_error(lambda m: m.tensor(x).is_nonzero(), message=True)
        else:
            assert cgrad.tensor(x).is_nonzero() == cgrad.is_nonzero(cgrad.tensor(x)) == \
                expected
    for dtype in ("float32", "float64", "int64", "int32", "int8", "uint8", "bool"):
        c, t = cgrad.ones(2, dtype=getattr(cgrad, dtype)), torch.ones(2,
                                                                      dtype=getattr(torch, dtype))
        assert c.is_signed() == cgrad.is_signed(c) == t.is_signed()
        assert cgrad.is_floating_point(c) == torch.is_floating_point(t)
    for a, b in (((2, 3), (2, 3)), ((2,), (2, 1)), ((), ())):
        assert cgrad.ones(a).is_same_size(cgrad.ones(b)) == torch.ones(a).is_same_size(
            torch.ones(b)) == cgrad.is_same_size(cgrad.ones(a), cgrad.ones(b))
    for m in (cgrad, torch):
        assert m.ones(2, 3).ndimension() == 2
        x = m.tensor([1.0, 2.0])
        assert x.allclose(x + 1e-9) and not x.allclose(x + 1e-3)
        assert x.isclose(m.tensor([1.0, 2.1])).tolist() == [True, False]
        assert m.positive(x) is x
    same_error(lambda m: m.positive(m.tensor([True])), message=True)
    same_error(lambda m: m.ones(2).allclose(m.ones(2, dtype=m.float64)))


def test_fill_and_zero_functions(backend):
    compare(lambda m, t: m.fill(t, 2.5), X)
    compare(lambda m, t: m.zero_(t * 1), X)
    compare(lambda m, t: m.fill_(t * 1, -1), X)
    compare(lambda m, t: m.fill(t, 3), INTS, grad=False)
    compare(lambda m, t, v: m.fill(t, v), X, np.array(1.5))            # v's gradient: sum(g)
    compare(lambda m, t, v: (t * 1).fill_(v), X, np.array(1.5))
    same_error(lambda m: m.fill(m.ones(2), m.ones(2)), message=True)
    compare(lambda m, t: m.ravel(t.t()), X)                    # a copy first: CloneBackward0
