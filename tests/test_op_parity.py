"""Tensor ops against PyTorch, case by case: each case runs on cgrad and on torch and must give
the same values, dtype and shape, or raise the same exception class. The cases are the
findings of a differential fuzz of indexing, reductions, shape ops and operators."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _outcome(lib, case):
    """what case(lib) gives: ("raises", class name) or a nested list of (dtype, shape, values)"""
    try:
        result = case(lib)
    except Exception as e:                     # noqa: BLE001 - the class is the outcome
        return ("raises", type(e).__name__)
    return _describe(result)


def _describe(r):
    if isinstance(r, (list, tuple)):
        return [_describe(x) for x in r]
    if r is None or isinstance(r, (bool, int, float, str)):
        return r
    arr = r.detach().numpy()
    return (str(r.dtype).split(".")[-1], tuple(r.shape), arr.tolist())


def _assert_same(case):
    want = _outcome(torch, case)
    got = _outcome(cgrad, case)
    assert _close(got, want), f"cgrad {got} != torch {want}"


def _close(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, tuple) and len(a) == 3 and isinstance(b, tuple) and len(b) == 3 \
            and a[0] != "raises":
        return a[:2] == b[:2] and np.allclose(np.asarray(a[2], float), np.asarray(b[2], float),
                                              rtol=1e-6, atol=1e-7, equal_nan=True)
    return a == b


def _cases(*cases):
    return pytest.mark.parametrize("case", cases, ids=[c.__doc__ or c.__name__ for c in cases])


# ---- in-place operators -------------------------------------------------------------------
def _ipow_of_view(lib):
    """v **= 2 on a view changes the base"""
    a = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    v = a[0]
    v **= 2
    return a


def _ifloordiv_alias(lib):
    """alias //= 2 changes the original"""
    b = lib.tensor([5, 7])
    alias = b
    alias //= 2
    return b


def _imod_alias(lib):
    """alias %= 3 (float) changes the original"""
    b = lib.tensor([5.5, -7.0])
    alias = b
    alias %= 3
    return b


def _bitwise_in_place(lib):
    """&= |= ^= change the original"""
    b = lib.tensor([5, 7, 12])
    alias = b
    alias &= 6
    alias |= lib.tensor([1, 0, 1])
    alias ^= 3
    return b


def _int_ifloordiv_float(lib):
    """int64 //= 2.5 refuses the float result"""
    b = lib.tensor([5, 7])
    b //= 2.5
    return b


def _int_ipow_float(lib):
    """int64 **= 0.5 refuses the float result"""
    b = lib.tensor([5, 7])
    b **= 0.5
    return b


def _bool_ior_int(lib):
    """bool |= int64 refuses the int result"""
    b = lib.tensor([True, False])
    b |= lib.tensor([2, 2])
    return b


def _leaf_ipow(lib):
    """a leaf that requires grad refuses **="""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    w **= 2
    return w


def _leaf_ifloordiv(lib):
    """a leaf that requires grad refuses //="""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    w //= 2
    return w


def _floordiv_in_graph_forward(lib):
    """y // 2 and y //= 2 on a tensor in a graph: computed, flagged as requiring grad"""
    y = lib.tensor([1.5, 2.5], requires_grad=True) * 2
    z = y // 2
    y //= 2
    return [z, y, z.requires_grad, y.requires_grad]


def _floordiv_in_graph_backward(lib):
    """...and their backward raises (PyTorch: derivative not implemented)"""
    y = lib.tensor([1.5, 2.5], requires_grad=True) * 2
    (y // 2).sum().backward()


def _reflected_bitwise(lib):
    """True | m, 1 & t, 3 ^ t"""
    m = lib.tensor([True, False])
    t = lib.tensor([5, 6])
    return [True | m, 1 & t, 3 ^ t, False & m]


def _bitwise_zero_dim_promotion(lib):
    """int32 & int64 0-d stays int32; uint8 | int64 0-d stays uint8"""
    a = lib.tensor([1, 2, 3], dtype=lib.int32)
    u = lib.tensor([1, 2], dtype=lib.uint8)
    return [a & lib.tensor(6), u | lib.tensor(4), a ^ lib.tensor([7], dtype=lib.int64)]


def _floordiv_bad_shapes(lib):
    """// of shapes that do not broadcast: RuntimeError"""
    return lib.ones(2, 5) // lib.ones(2)


def _bitwise_bad_shapes(lib):
    """& of shapes that do not broadcast: RuntimeError"""
    return lib.ones(2, 5, dtype=lib.int64) & lib.ones(2, dtype=lib.int64)


def _masked_fill_bad_mask(lib):
    """masked_fill with a mask that does not broadcast: RuntimeError"""
    return lib.ones(2, 5).masked_fill(lib.ones(2, dtype=lib.bool), 1.0)


def _masked_fill_int_nan(lib):
    """masked_fill of an int tensor with NaN: RuntimeError"""
    return lib.zeros(2, dtype=lib.int64).masked_fill(lib.tensor([True, False]), float("nan"))


def _masked_fill_1d_value(lib):
    """masked_fill with a 1-d value tensor: RuntimeError"""
    return lib.zeros(3).masked_fill(lib.tensor([True, False, True]), lib.tensor([2.0]))


def _fill_out_of_range(lib):
    """fill_ / index put / masked_fill of values an integer dtype cannot hold"""
    out = []
    for dtype in (lib.int64, lib.int32, lib.uint8):
        for value in (float("nan"), float("inf"), 1e30, 300, -1, -255, -256, 2.7, -1.0):
            for how in ("fill_", "setitem", "masked_fill"):
                x = lib.zeros(2, dtype=dtype)
                try:
                    if how == "fill_":
                        x.fill_(value)
                    elif how == "setitem":
                        x[0] = value
                    else:
                        x = x.masked_fill(lib.tensor([True, False]), value)
                    out.append(x.tolist())
                except RuntimeError:
                    out.append("RuntimeError")
    return out


@_cases(_ipow_of_view, _ifloordiv_alias, _imod_alias, _bitwise_in_place, _int_ifloordiv_float,
        _int_ipow_float, _bool_ior_int, _leaf_ipow, _leaf_ifloordiv, _floordiv_in_graph_forward,
        _floordiv_in_graph_backward, _reflected_bitwise, _bitwise_zero_dim_promotion,
        _floordiv_bad_shapes, _bitwise_bad_shapes, _masked_fill_bad_mask, _masked_fill_int_nan,
        _masked_fill_1d_value, _fill_out_of_range)
def test_operators_and_fills(backend, case):
    _assert_same(case)
