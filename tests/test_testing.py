"""cgrad.testing: assert_close's outcomes and messages equal torch.testing's case by case;
make_tensor's ranges, dtypes, layouts and errors."""
import math

import numpy as np
import pytest

import cgrad
from cgrad.testing import assert_close, make_tensor

nan, inf = float("nan"), float("inf")

# each case builds its inputs with the given library (cgrad or torch) and calls assert_close
CASES = {
    "close-float32": lambda t, ac: ac(t.tensor([1., 2., 3.]), t.tensor([1., 2.5, 3.1])),
    "within-default-tol": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1.000001, 2.])),
    "dtype-mismatch": lambda t, ac: ac(t.tensor([1., 2.], dtype=t.float64), t.tensor([1., 2.])),
    "dtype-unchecked": lambda t, ac: ac(t.tensor([1., 2., 3.]),
                                        t.tensor([1., 2., 3.000001]).double(), check_dtype=False),
    "int-not-equal": lambda t, ac: ac(t.tensor([1, 2, 3]), t.tensor([1, 2, 4])),
    "int-given-tol": lambda t, ac: ac(t.tensor([1, 2, 3]), t.tensor([1, 2, 4]), rtol=0.5,
                                      atol=0.),
    "int-vs-float-promoted": lambda t, ac: ac(t.tensor([1, 2]), t.tensor([1., 2.5]),
                                              check_dtype=False),
    "int-rel-float32": lambda t, ac: ac(t.tensor([1, 7]), t.tensor([4, 3])),
    "uint8": lambda t, ac: ac(t.tensor([3, 7], dtype=t.uint8), t.tensor([4, 7], dtype=t.uint8)),
    "bool": lambda t, ac: ac(t.tensor([True, False]), t.tensor([True, True])),
    "shape": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1., 2., 3.])),
    "0-dim": lambda t, ac: ac(t.tensor(1.), t.tensor(2.)),
    "2-d-indices": lambda t, ac: ac(t.tensor([[1., 2.], [3., 4.]]),
                                    t.tensor([[1.1, 2.], [3., 4.4]])),
    "all-mismatch": lambda t, ac: ac(t.zeros(3, 4), t.ones(3, 4)),
    "float16": lambda t, ac: ac(t.tensor([1., 2.], dtype=t.float16),
                                t.tensor([1.01, 2.], dtype=t.float16)),
    "float16-within": lambda t, ac: ac(t.tensor([1., 2.], dtype=t.float16),
                                       t.tensor([1.001, 2.], dtype=t.float16)),
    "mixed-precision-loosest": lambda t, ac: ac(t.tensor([1., 2.], dtype=t.float16),
                                                t.tensor([1., 2.01]), check_dtype=False),
    "float64-rel-inf": lambda t, ac: ac(t.tensor([1e-7, 5e-6], dtype=t.float64),
                                        t.tensor([0., 0.], dtype=t.float64)),
    "user-tol": lambda t, ac: ac(t.tensor([1., 2., 3.]), t.tensor([1., 2.5, 3.1]), rtol=0.1,
                                 atol=0),
    "nan": lambda t, ac: ac(t.tensor([nan]), t.tensor([nan])),
    "equal-nan": lambda t, ac: ac(t.tensor([nan, 1.]), t.tensor([nan, 1.]), equal_nan=True),
    "inf-equal": lambda t, ac: ac(t.tensor([1., inf]), t.tensor([1., inf])),
    "inf-opposite": lambda t, ac: ac(t.tensor([1., inf]), t.tensor([1., -inf])),
    "zero-expected": lambda t, ac: ac(t.tensor([0., 1.]), t.tensor([1e-4, 1.])),
    "empty": lambda t, ac: ac(t.tensor([]), t.tensor([])),
    "requires-grad": lambda t, ac: ac(t.tensor([1., 2.]).requires_grad_(), t.tensor([1., 2.])),
    "only-rtol": lambda t, ac: ac(t.tensor([1.]), t.tensor([1.]), rtol=0),
    "only-atol": lambda t, ac: ac(t.tensor([1.]), t.tensor([1.]), atol=0),
    "tensor-vs-number": lambda t, ac: ac(t.tensor([1.]), 1.0),
    "strings": lambda t, ac: ac("a", "b"),
    "floats": lambda t, ac: ac(1.0, 1.5),
    "floats-close": lambda t, ac: ac(1.0, 1.0 + 1e-9),
    "ints": lambda t, ac: ac(1, 2),
    "int-vs-float": lambda t, ac: ac(1, 1.0),
    "int-vs-float-unchecked": lambda t, ac: ac(1, 1.0, check_dtype=False),
    "float-nan": lambda t, ac: ac(nan, nan),
    "float-equal-nan": lambda t, ac: ac(nan, nan, equal_nan=True),
    "none": lambda t, ac: ac(None, 1),
    "bools": lambda t, ac: ac(True, False),
    "list-of-0-dim": lambda t, ac: ac([t.tensor(1.), t.tensor(2.)], [t.tensor(1.), t.tensor(2.1)]),
    "tuple-vs-list": lambda t, ac: ac((1, 2), [1, 2]),
    "sequence-length": lambda t, ac: ac([1, 2], [1, 2, 3]),
    "dict": lambda t, ac: ac({"a": t.tensor(1.)}, {"a": t.tensor(3.)}),
    "nested": lambda t, ac: ac({"a": [t.tensor([1., 2.])]}, {"a": [t.tensor([1., 3.])]}),
    "dict-keys": lambda t, ac: ac({"a": t.tensor(1.)}, {"b": t.tensor(3.)}),
    "msg-string": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1., 3.]), msg="custom"),
    "msg-callable": lambda t, ac: ac([t.tensor([[1., 2.], [3., 4.]])],
                                     [t.tensor([[1., 2.], [3., 5.]])],
                                     msg=lambda m: "<" + m + ">"),
    "subclass": lambda t, ac: ac(t.nn.Parameter(t.tensor([1.])), t.tensor([1.])),
    "subclass-refused": lambda t, ac: ac(t.nn.Parameter(t.tensor([1.])), t.tensor([1.]),
                                         allow_subclasses=False),
    "stride": lambda t, ac: ac(t.ones(2, 3), t.ones(3, 2).t(), check_stride=True),
    "numpy-arrays": lambda t, ac: ac(np.array([1., 2.]), np.array([1., 2.2])),
}


def _outcome(lib, ac, case):
    try:
        CASES[case](lib, ac)
    except Exception as e:         # the class and the message, in cgrad's names
        text = str(e).replace("torch.", "cgrad.").replace("cgrad.tensor.Tensor", "cgrad.Tensor")
        return type(e).__name__, text
    return "passed"


@pytest.mark.parametrize("case", CASES)
def test_assert_close_equals_torch(case, backend):
    torch = pytest.importorskip("torch")
    ours = _outcome(cgrad, assert_close, case)
    assert ours == _outcome(torch, torch.testing.assert_close, case)


def test_assert_close_message_shape():
    """The parts PyTorch's message has, without the oracle."""
    with pytest.raises(AssertionError) as info:
        assert_close(cgrad.tensor([[1., 2.], [3., 4.]]), cgrad.tensor([[1., 2.5], [3., 4.]]))
    assert str(info.value).splitlines() == [
        "Tensor-likes are not close!", "",
        "Mismatched elements: 1 / 4 (25.0%)",
        "Greatest absolute difference: 0.5 at index (0, 1) (up to 1e-05 allowed)",
        "Greatest relative difference: 0.20000000298023224 at index (0, 1) (up to 1.3e-06 "
        "allowed)"]
    assert_close(cgrad.tensor([1., 2.], dtype=cgrad.float64),
                 cgrad.tensor([1. + 5e-8, 2.], dtype=cgrad.float64))
    with pytest.raises(AssertionError, match="up to 1e-07 allowed"):
        assert_close(cgrad.tensor([1.], dtype=cgrad.float64),
                     cgrad.tensor([1. + 1e-6], dtype=cgrad.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int8",
                                   "uint8", "bool"])
def test_make_tensor_ranges(dtype):
    d = getattr(cgrad, dtype if dtype != "bool" else "bool")
    t = make_tensor(40, 50, dtype=d, device="cpu")
    v = t.numpy().astype(np.float64)
    assert t.dtype == d and t.shape == (40, 50) and t.is_contiguous() and not t.requires_grad
    if dtype == "bool":
        assert set(v.ravel()) == {0.0, 1.0}
    elif dtype == "uint8":
        assert v.min() >= 0 and v.max() <= 9 and len(set(v.ravel())) == 10
    elif dtype in ("int64", "int32", "int8"):
        assert v.min() == -9 and v.max() == 9             # [-9, 10): every value drawn
    else:
        assert -9 <= v.min() < -8.5 and 8.5 < v.max() <= 9 and abs(v.mean()) < 0.5


def test_make_tensor_options():
    t = make_tensor((3, 4), dtype=cgrad.float32, device="cpu", low=2, high=3,
                    noncontiguous=True, requires_grad=True)
    assert t.shape == (3, 4) and not t.is_contiguous() and t.requires_grad and t.is_leaf
    assert ((t >= 2) & (t < 3)).all()
    z = make_tensor(200, dtype=cgrad.int64, device="cpu", low=-1, high=1, exclude_zero=True)
    assert set(z.tolist()) == {-1, 1}
    f = make_tensor(5, dtype=cgrad.float32, device="cpu", low=0, high=1e-44, exclude_zero=True)
    assert (f != 0).all()
    tiny = make_tensor(3, dtype=cgrad.float64, device="cpu", low=-math.inf, high=math.inf)
    assert cgrad.isfinite(tiny).all()            # clipped to the dtype's range
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 3 >= 2"):
        make_tensor(2, dtype=cgrad.int64, device="cpu", low=3, high=2)
    with pytest.raises(ValueError, match="`requires_grad=True` is not supported for boolean "
                                         "and integral dtypes"):
        make_tensor(2, dtype=cgrad.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match=r"is \[300, 400\), but cgrad.uint8 only supports "
                                         r"\[0, 256\)"):
        make_tensor(2, dtype=cgrad.uint8, device="cpu", low=300, high=400)
    with pytest.warns(FutureWarning, match="Passing `low==high`"):
        make_tensor(2, dtype=cgrad.float32, device="cpu", low=1.0, high=1.0)
