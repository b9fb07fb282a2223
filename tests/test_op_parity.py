"""Tensor ops against PyTorch, case by case: each case runs on cgrad and on torch and must give
the same values, dtype and shape, or raise the same exception class. The cases are the
findings of a differential fuzz of indexing, reductions, shape ops and operators."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _outcome(lib, case):
    """what case(lib) gives: ("raises", class name) or a nested list of (dtype, shape, values)
    (the deprecation warnings some cases meet on purpose are silenced)"""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*deprecated", UserWarning)
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


# ---- indexing -----------------------------------------------------------------------------
def _setitem_value_with_leading_ones(lib):
    """x[0:2] = v of shape (1, 2), and by an index tensor: gradients of x and v"""
    out = []
    for key in (slice(0, 2), lib.tensor([0, 1])):
        leaf = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v = lib.tensor([[5.0, 6.0]], requires_grad=True)
        x = leaf * 1
        x[key] = v
        (x * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        out += [x, leaf.grad, v.grad]
    return out


def _setitem_value_with_leading_ones_create_graph(lib):
    """the same, recorded (create_graph)"""
    leaf = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = lib.tensor([[5.0, 6.0]], requires_grad=True)
    x = leaf * 1
    x[0:2] = v * v
    gv, = lib.autograd.grad((x * x).sum(), v, create_graph=True)
    return [gv, *lib.autograd.grad(gv.sum(), v)]


def _setitem_casts_through_views(lib):
    """a key without index tensors copies into a view, casting the value's dtype"""
    a = lib.zeros(3, dtype=lib.int64)
    a[0:2] = lib.tensor([1.5, 2.5])
    b = lib.zeros(3, dtype=lib.int64)
    b[0] = lib.tensor(7.9)
    c = lib.zeros(2, dtype=lib.bool)
    c[0] = lib.tensor(1.0)
    d = lib.zeros(2)
    d[True] = lib.tensor([1, 2])
    return [a, b, c, d]


def _index_put_needs_one_dtype(lib):
    """an index tensor's put still needs the value's dtype"""
    a = lib.zeros(3, dtype=lib.int64)
    a[lib.tensor([0, 1])] = lib.tensor([1.5, 2.5])
    return a


def _empty_list_index(lib):
    """x[[]], x[:, []] and x[[]] = 0"""
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.clone()
    y[[]] = 0.0
    return [x[[]], x[:, []], y]


def _ellipsis_over_no_dims(lib):
    """x[:, j, ..., i] and x[:, mask, ..., i]: the Ellipsis spans no dim, index dims stay"""
    x = lib.arange(24.0).reshape(2, 3, 4).requires_grad_()
    j, i, m = lib.tensor([0, 2]), lib.tensor([0, 1]), lib.tensor([True, False, True])
    w = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    (x[:, j, ..., i] * w).sum().backward()
    y = x.detach().clone()
    y[:, j, ..., i] = w
    return [x[:, m, ..., i], x[:, j, ..., i], x.grad, y, x[..., j, i], x[j, ..., i]]


def _expand_without_aliasing_is_writable(lib):
    """expand() that broadcasts nothing, or one slice of a broadcast, takes in-place ops"""
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    x.expand(-1, -1).add_(1)
    y = lib.tensor([1.0, 2.0])
    y.expand_as(y).mul_(2)
    z = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    z.expand(3, 2, 2)[0].zero_()
    return [x, y, z]


def _expand_with_aliasing_is_not(lib):
    """an expand() that repeats elements refuses in-place ops"""
    lib.tensor([1.0, 2.0]).expand(3, 2).add_(1)


# ---- reductions ---------------------------------------------------------------------------
def _var_std_unbiased_positional(lib):
    """var(False) / std(False) mean unbiased=False"""
    x = lib.tensor([1.0, 2.0, 4.0])
    return [x.var(False), x.std(False), lib.var(x, False), x.var(True), lib.std(x, False)]


def _argmax_keepdim_without_dim(lib):
    """argmax/argmin(keepdim=True) over everything keep every dim as 1"""
    x = lib.tensor([[1.0, 5.0], [3.0, 2.0]])
    return [x.argmax(keepdim=True), x.argmin(keepdim=True), lib.argmax(x, keepdim=True)]


@_cases(_setitem_value_with_leading_ones, _setitem_value_with_leading_ones_create_graph,
        _setitem_casts_through_views, _index_put_needs_one_dtype, _empty_list_index,
        _ellipsis_over_no_dims, _expand_without_aliasing_is_writable,
        _expand_with_aliasing_is_not, _var_std_unbiased_positional, _argmax_keepdim_without_dim)
def test_indexing_and_reductions(backend, case):
    _assert_same(case)


# ---- layouts ------------------------------------------------------------------------------
def _fresh_results_are_contiguous(lib):
    """softmax, log_softmax, cumsum, masked_fill, cat and stack of a transposed input are
    C-contiguous, as PyTorch's: a following .view works"""
    x = lib.arange(6.0).reshape(2, 3).t()
    return [x.softmax(0).view(-1), x.log_softmax(1).view(-1), x.cumsum(0).view(-1),
            x.masked_fill(x > 1, 0.0).view(-1), lib.cat([x, x]).view(-1),
            lib.stack([x, x]).view(-1), lib.cat([x, x]).is_contiguous()]


@_cases(_fresh_results_are_contiguous)
def test_layouts(backend, case):
    _assert_same(case)


# ---- shapes, dims and dtypes --------------------------------------------------------------
def _split_sizes_must_add_up(lib):
    """split([3, 1]) of 3 elements: RuntimeError"""
    return lib.ones(3).split([3, 1])


def _split_and_chunk_of_empty_dims(lib):
    """split / chunk of a size-0 dim give empty pieces"""
    e = lib.zeros(0, 3)
    return [list(e.split(2)), list(e.chunk(2)), list(lib.ones(5).split(2)),
            list(lib.ones(5).chunk(3))]


def _chunk_zero(lib):
    """chunk(0): RuntimeError"""
    return lib.ones(3).chunk(0)


def _zero_dim_reductions_check_dims(lib):
    """a 0-d tensor takes only dims 0 and -1"""
    s = lib.tensor(2.0)
    out = []
    for f in (lambda: s.sum(1), lambda: s.mean(dim=1), lambda: s.any(1), lambda: s.squeeze(1),
              lambda: s.flatten(0, 2), lambda: s.logsumexp(1), lambda: s.sum(-1),
              lambda: s.transpose(0, -1), lambda: s.mT, lambda: s.flatten(0, -1)):
        try:
            out.append(f())
        except IndexError:
            out.append("IndexError")
    return out


def _zero_dim_split_cat_mT(lib):
    """split/chunk/cat of 0-d tensors and mT of a 1-d one: RuntimeError each"""
    s = lib.tensor(2.0)
    out = []
    for f in (lambda: s.split(1), lambda: s.chunk(1), lambda: lib.cat([s, s]),
              lambda: lib.ones(3).mT):
        try:
            f()
            out.append("ok")
        except RuntimeError:
            out.append("RuntimeError")
    return out


def _gather_indices(lib):
    """gather takes int32 indices and a 0-d input"""
    x = lib.tensor([10.0, 20.0, 30.0])
    return [x.gather(0, lib.tensor([2, 0], dtype=lib.int32)),
            lib.tensor(5.0).gather(0, lib.tensor(0))]


def _gather_negative_index(lib):
    """gather refuses a negative index"""
    return lib.tensor([10.0, 20.0, 30.0]).gather(0, lib.tensor([-1]))


def _index_tensor_dtypes(lib):
    """a uint8 index tensor is a mask (PyTorch's deprecated byte mask)"""
    x = lib.tensor([10.0, 20.0, 30.0])
    return x[lib.tensor([1, 0, 1], dtype=lib.uint8)]


def _int8_index_tensor(lib):
    """an int8 index tensor: IndexError"""
    return lib.tensor([10.0, 20.0, 30.0])[lib.tensor([1, 0], dtype=lib.int8)]


def _list_of_lists_index(lib):
    """x[[[0, 1], [1, 2]]] is x[[0, 1], [1, 2]] (PyTorch's deprecated rule)"""
    return lib.arange(6.0).reshape(2, 3)[[[0, 1], [1, 2]]]


def _mask_put_of_a_wrong_shape(lib):
    """y[mask] = a value of the wrong shape: RuntimeError"""
    y = lib.zeros(2, 3)
    y[lib.ones(2, 3, dtype=lib.bool)] = lib.ones(6, 2)


def _half_results_stay_half(lib):
    """float16 sigmoid and erf stay float16"""
    h = lib.tensor([0.5, -1.0], dtype=lib.float16)
    return [h.sigmoid(), h.erf()]


def _bool_clamp(lib):
    """clamp of a bool tensor by ints is int64; clamp_ refuses to write it back"""
    b = lib.tensor([True, False])
    out = [b.clamp(-1, 1), b.clamp(min=-1), b.clamp(0.5, None), lib.tensor([1, 2]).clamp(0.5, 1.5)]
    try:
        b.clone().clamp_(2)
    except RuntimeError:
        out.append("RuntimeError")
    return out


def _clamp_by_a_0d_tensor_and_a_number(lib):
    """a 0-d tensor that needs no grad beside a number is taken as a number"""
    x = lib.tensor([0.5, 2.0, -1.0])
    return [x.clamp(lib.tensor(0.0), 1), x.clamp(0, lib.tensor(1.0)), lib.clamp(x, None, 1.5)]


def _clamp_by_a_1d_tensor_and_a_number(lib):
    """a 1-d tensor beside a number: TypeError"""
    return lib.tensor([0.5, 2.0]).clamp(lib.tensor([0.0, 0.0]), 1.5)


def _empty_amax(lib):
    """amax of an empty tensor without dim: RuntimeError"""
    return lib.zeros(0).amax()


def _uint8_all_any(lib):
    """all / any of uint8 stay uint8"""
    u = lib.tensor([0, 3], dtype=lib.uint8)
    return [u.all(), u.any(0), u.all(0, keepdim=True)]


def _cat_keeps_empty_inputs(lib):
    """cat with a 1-d empty tensor that requires grad keeps its gradient"""
    e = lib.zeros(0, requires_grad=True)
    t = lib.ones(2, 3, requires_grad=True)
    y = lib.cat([e, t])
    (y * 2).sum().backward()
    return [y, y.requires_grad, e.grad, t.grad]


def _bool_pow_and_remainder(lib):
    """b ** True stays bool; b ** b, b % b, b // b: NotImplementedError"""
    b = lib.tensor([True, False])
    out = [b ** True, b ** False, b ** 2, b % 2, b // 2, 2 ** b]
    for f in (lambda: b ** b, lambda: True ** b, lambda: b % b, lambda: b // b,
              lambda: b % True):
        try:
            f()
        except NotImplementedError:
            out.append("NotImplementedError")
    return out


@_cases(_split_sizes_must_add_up, _split_and_chunk_of_empty_dims, _chunk_zero,
        _zero_dim_reductions_check_dims, _zero_dim_split_cat_mT, _gather_indices,
        _gather_negative_index, _index_tensor_dtypes, _int8_index_tensor, _list_of_lists_index,
        _mask_put_of_a_wrong_shape, _half_results_stay_half, _bool_clamp,
        _clamp_by_a_0d_tensor_and_a_number, _clamp_by_a_1d_tensor_and_a_number, _empty_amax,
        _uint8_all_any, _cat_keeps_empty_inputs, _bool_pow_and_remainder)
def test_shapes_dims_and_dtypes(backend, case):
    _assert_same(case)


def _unflatten_infers_from_the_dim(lib):
    """unflatten's -1 comes from the dim's size (a size-0 tensor too)"""
    return [lib.zeros(1, 0).unflatten(0, (-1, 1)), lib.zeros(2, 0).unflatten(0, (2, -1)),
            lib.arange(6.0).unflatten(0, (2, -1)), lib.arange(6.0).unflatten(0, (-1, 3))]


def _unflatten_sizes_must_match(lib):
    """unflatten to sizes that do not multiply up: RuntimeError"""
    return lib.zeros(6).unflatten(0, (-1, 4))


def _topk_of_bools(lib):
    """topk of a bool tensor: RuntimeError"""
    return lib.tensor([True, False]).topk(1)


def _cumsum_to_ints_with_grad(lib):
    """cumsum(dtype=int64) of a tensor that requires grad: RuntimeError"""
    return lib.tensor([1.0, 2.0], requires_grad=True).cumsum(0, dtype=lib.int64)


@_cases(_unflatten_infers_from_the_dim, _unflatten_sizes_must_match, _topk_of_bools,
        _cumsum_to_ints_with_grad)
def test_more_shape_and_dtype_rules(backend, case):
    _assert_same(case)


def _out_of_range_ints_wrap(lib):
    """a Python int an integer tensor cannot hold wraps around, as PyTorch casts it"""
    u = lib.tensor([1, 5], dtype=lib.uint8)
    i8 = lib.tensor([1, -5], dtype=lib.int8)
    return [u + (-2), u - 2, u * -1, u.clamp(min=-1), u.clone().add_(-1), u > -3,
            u >= lib.tensor(-3), i8 + 200, i8 == 251, u == 257]


def _comparisons_promote(lib):
    """comparisons run in the promoted dtype"""
    i = lib.tensor([16777217, 3])
    f = lib.tensor([16777216.0, 3.5], dtype=lib.float64)
    return [i > 2.5, i == 16777216.0, i.float() == f.float(), lib.tensor([1.5]) < f[1:]]


@_cases(_out_of_range_ints_wrap, _comparisons_promote)
def test_integer_scalars(backend, case):
    _assert_same(case)


# ---- reductions' argument forms -------------------------------------------------------------
def _reduction_forms(expr):
    def case(lib):
        x = lib.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], requires_grad=True)
        r = eval(expr, {"x": x, "lib": lib})
        r = r[0] if isinstance(r, tuple) else r
        r.sum().backward()
        return [r, x.grad]
    case.__doc__ = expr
    return case


@_cases(*(_reduction_forms(e) for e in (
    # keepdim without a dim, and dim=None where only sum and mean take it: TypeError
    "x.mean(keepdim=True)", "x.sum(keepdim=False)", "x.max(keepdim=True)",
    "x.min(keepdim=False)", "x.prod(keepdim=True)", "x.max(dim=None)", "x.min(None, True)",
    "x.prod(None)", "lib.mean(x, keepdim=True)", "lib.max(x, keepdim=True)",
    # the forms PyTorch takes
    "x.sum(None, True)", "x.mean(dim=None, keepdim=True)", "x.sum(dim=(), keepdim=True)",
    "x.max(1, True)", "x.min(0)", "x.max()", "x.prod(1, True)", "x.prod(dtype=lib.float64)",
    "x.prod(0, dtype=lib.float64)", "lib.prod(x, 1, True, dtype=lib.float64)",
    # a cast to integers would cut the graph: RuntimeError
    "x.prod(dtype=lib.int64)", "x.prod(1, dtype=lib.int64)", "x.sum(dtype=lib.int64)")))
def test_reduction_argument_forms(backend, case):
    _assert_same(case)


# ---- findings of a fuzz of the ops added since (cumprod, index_add, scatter, ...) -----------
def _new_ops_edge(expr):
    def case(lib):
        return eval(expr, {"lib": lib})
    case.__doc__ = expr
    return case


def _prod_gradient_with_nan_and_inf(lib):
    """prod's gradient where no factor is 0 is PyTorch's g * prod / x (NaN where one is inf)"""
    grads = []
    for values, dim in (([-2.0, float("nan")], 0), ([2.0, float("inf"), 3.0], None),
                        ([[1.5, -2.0], [0.5, 3.0]], 1)):
        x = lib.tensor(values, requires_grad=True)
        (x.prod() if dim is None else x.prod(dim)).sum().backward()
        grads.append(x.grad)
    return grads


@_cases(_prod_gradient_with_nan_and_inf, *(_new_ops_edge(e) for e in (
    "lib.tensor([[1, 2], [3, 4]], dtype=lib.int32).cumprod(1, dtype=lib.int32)",
    "lib.tensor([1, 2, 3]).cumprod(0, dtype=lib.int16)",
    "lib.tensor([1, 2, 3]).index_add(0, lib.tensor([0, 1]), lib.tensor([5, 5]), alpha=-0.5)",
    "lib.tensor([1, 2, 3]).index_add(0, lib.tensor([0, 1]), lib.tensor([5, 5]), alpha=1.7)",
    "lib.tensor([1.0, 0.0]).sum(dtype=lib.bool)", "lib.tensor([[1, 0], [0, 0]]).sum(0, "
    "dtype=lib.bool)", "lib.tensor([1.0, 0.0]).prod(dtype=lib.bool)",
    "lib.ones(0, 3).repeat_interleave(2, 1)", "lib.ones(2, 0).repeat_interleave(2, dim=0)",
    "lib.ones(3, 4).gather(1, lib.tensor([], dtype=lib.int64))",
    "lib.ones(3, 4, 2).gather(1, lib.zeros(0, 4, dtype=lib.int64))",
    "lib.ones(3, 4).scatter(1, lib.tensor([], dtype=lib.int64), 2.0)",
    "lib.ones(3, 4).scatter(1, lib.tensor([[]]), 2.0)",
    "lib.ones(3, 4).scatter_add(1, lib.zeros(0, 2), lib.ones(3, 4))",
    "lib.ones(4, 0).index_add(1, lib.tensor([0, 0]), lib.ones(4, 2))",
    "lib.ones(0, 3, 4).index_add_(0, lib.tensor([0, 0]), lib.ones(2, 3, 4))",
    # the exception classes, checked in PyTorch's order
    "lib.zeros(3).index_add(0, lib.tensor([3]), lib.ones(1))",
    "lib.zeros(3).index_add_(0, lib.tensor([-1]), lib.ones(1))",
    "lib.zeros(3, 2).index_add(0, lib.tensor([3]), lib.ones(1, 2))",
    "lib.zeros(3, 4).index_add(0, lib.tensor([[0.0]]), lib.ones(1, 4))",
    "lib.ones(3).index_select(0, lib.tensor([0.0]))",
    "lib.ones(0, 2).index_select(0, lib.tensor([0]))",
    "lib.ones(3).repeat_interleave(lib.tensor([[1.0]]))", "lib.tensor([True]).trace()",
    "lib.ones(2, 3, requires_grad=True).sum(dim=5, dtype=lib.int64)",
    "lib.ones(2, 3, requires_grad=True).prod((0, 1), dtype=lib.int64)",
    "lib.ones(2, 3, dtype=lib.int64).mean(-3)")))
def test_new_ops_edges(backend, case):
    _assert_same(case)


# ---- composed ops: values and gradients -----------------------------------------------------
def _with_grads(build):
    """build(lib, x, y) on two float64 leaves; returns the result and both gradients"""
    def case(lib):
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64, requires_grad=True)
        y = lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64, requires_grad=True)
        out = build(lib, x, y)
        w = lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape) + 1)
        (out * w).sum().backward()
        return [out, x.grad, y.grad]
    case.__doc__ = build.__doc__
    return case


COMPOSED = [
    lambda lib, x, y: lib.index_select(x, 1, lib.tensor([3, 0, 3])) + 0 * y.sum(),
    lambda lib, x, y: x.masked_select(y > 0) + 0 * y.sum(),
    lambda lib, x, y: x.clamp_min(0.1) + y.clamp_max(-0.2),
    lambda lib, x, y: (x.abs() + 0.5).log2() + (y * y + 1).log10(),
    lambda lib, x, y: x.lerp(y, 0.3) + lib.lerp(y, x, lib.full((3, 4), 0.75, dtype=lib.float64)),
    lambda lib, x, y: x.addcmul(y, y, value=0.5) + x.addcdiv(y, x * x + 1, value=-2),
    lambda lib, x, y: x.tril() + y.triu(1) + lib.tril(x, -1),
    lambda lib, x, y: x.roll(1, 0) + y.roll((2, -1), (1, 0)) + x.roll(5),
    lambda lib, x, y: x.tile(2) .sum(0) + y.tile((2, 1, 1)).sum(0).sum(0),
    lambda lib, x, y: lib.hstack([x, y]).sum(1) + lib.vstack([x, y]).sum(0)[:3],
    lambda lib, x, y: (x / y).nan_to_num(posinf=9.0) + x.broadcast_to((2, 3, 4)).sum(0),
    lambda lib, x, y: (x.log()).nansum(1) + y.masked_fill(y < -0.5, float("nan")).nanmean(0)[:3],
]


@pytest.mark.parametrize("index", range(len(COMPOSED)))
def test_composed_ops_values_and_gradients(backend, index):
    _assert_same(_with_grads(COMPOSED[index]))


def _logical_and_counting(lib):
    """logical_and/or/xor, nonzero, count_nonzero, eq and friends as functions"""
    a = lib.tensor([[0, 2, 0], [1, 0, 3]])
    b = lib.tensor([True, False, True])
    return [lib.logical_and(a, b), a.logical_or(b), lib.logical_xor(a, a > 1), a.nonzero(),
            list(lib.nonzero(a, as_tuple=True)), a.count_nonzero(), lib.count_nonzero(a, 0),
            lib.eq(a, 2), lib.gt(a, b), lib.le(a, 0), lib.ne(a, a), a.new_full((2,), 7),
            a.floor_divide(2), lib.true_divide(a, 2)]


def _in_place_blends(lib):
    """lerp_, addcmul_ and addcdiv_ write in place (and record, for a non-leaf)"""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    x = w * 1
    x.lerp_(lib.tensor([3.0, 5.0]), 0.5).addcmul_(w, w, value=2).addcdiv_(w, w + 1)
    x.sum().backward()
    return [x, w.grad]


@_cases(_logical_and_counting, _in_place_blends)
def test_logical_and_in_place_blends(backend, case):
    _assert_same(case)


# ---- autograd's API (from a fuzz of hooks, grad modes, grad/backward and Functions) ---------
def _hook_that_removes_itself(lib):
    """a hook that removes itself: the hooks after it still run (tensor and module hooks)"""
    calls = []
    out = []
    for leaf in (True, False):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        t = x if leaf else x * 1
        handle = []
        handle.append(t.register_hook(lambda g: calls.append("once") or handle[0].remove()))
        t.register_hook(lambda g: calls.append("second"))
        (t * 3).sum().backward()
        out.append(list(calls))
    m = lib.nn.Identity()
    handle = []
    handle.append(m.register_forward_hook(lambda *a: calls.append("f1") or handle[0].remove()))
    m.register_forward_hook(lambda *a: calls.append("f2"))
    m(lib.ones(1))
    return out + [calls]


def _requires_grad_off_after_forward(lib):
    """requires_grad_(False) between forward and backward: the leaf gets no .grad"""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    v = lib.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 2).sum() + (v * v).sum()
    w.requires_grad_(False)
    loss.backward()
    return [w.grad is None, v.grad]


def _set_grad_enabled_as_decorator(lib):
    """@set_grad_enabled(False) leaves grad mode alone outside, off inside"""
    @lib.set_grad_enabled(False)
    def f(x):
        return x * 2
    x = lib.ones(2, requires_grad=True)
    return [f(x).requires_grad, lib.is_grad_enabled()]


def _grad_mode_decorated_generators(lib):
    """@no_grad() / @enable_grad() on a generator function apply inside its body"""
    @lib.no_grad()
    def off(x):
        yield x * 2
        yield x * 3

    @lib.enable_grad()
    def on(x):
        yield x * 2
    x = lib.ones(2, requires_grad=True)
    got = [y.requires_grad for y in off(x)]
    with lib.no_grad():
        got += [y.requires_grad for y in on(x)]
    return got + [lib.is_grad_enabled()]


def _materialized_grads(lib):
    """materialize_grads: zeros that require grad under create_graph"""
    x = lib.ones(2, requires_grad=True)
    unused = lib.ones(2, requires_grad=True)
    gx, gu = lib.autograd.grad((x * x).sum(), [x, unused], create_graph=True,
                               materialize_grads=True)
    return [gx, gu, gu.requires_grad]


def _materialized_grads_refuse_allow_unused_false(lib):
    """materialize_grads with allow_unused=False: ValueError"""
    x = lib.ones(2, requires_grad=True)
    return lib.autograd.grad((x * 2).sum(), [x, lib.ones(2, requires_grad=True)],
                             allow_unused=False, materialize_grads=True)


def _backward_inputs_retain_a_non_leafs_grad(lib):
    """backward(inputs=[y]) of a non-leaf y keeps y's .grad from then on"""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    z.backward(inputs=[y], retain_graph=True)
    first = y.grad.clone()
    z.backward(inputs=[y, x])
    return [y.retains_grad, first, y.grad, x.grad]


def _empty_inputs(lib):
    """grad(..., inputs=[]) and backward(inputs=[]): RuntimeError"""
    x = lib.ones(2, requires_grad=True)
    out = []
    for call in (lambda: lib.autograd.grad((x * 2).sum(), []),
                 lambda: (x * 2).sum().backward(inputs=[])):
        try:
            call()
        except RuntimeError:
            out.append("RuntimeError")
    return out


def _gradients_must_be_tensors(lib):
    """a list or a number as gradient / grad_outputs: TypeError"""
    x = lib.ones(2, requires_grad=True)
    out = []
    for call in (lambda: (x * 2).backward([1.0, 2.0]),
                 lambda: lib.autograd.grad(x * 2, x, grad_outputs=[[1.0, 2.0]])):
        try:
            call()
        except TypeError:
            out.append("TypeError")
    return out


def _function_backward_twice(lib):
    """a second backward through a Function runs if its backward reads no saved tensor, and
    raises when it does"""
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Square(Double):
        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x
    x = lib.ones(2, requires_grad=True)
    y = Double.apply(x).sum()
    y.backward()
    y.backward()
    z = Square.apply(x).sum()
    z.backward()
    try:
        z.backward()
        second = "ok"
    except RuntimeError:
        second = "RuntimeError"
    return [x.grad, second]


def _dirty_output_under_no_grad(lib):
    """a mark_dirty Function under no_grad returns its input itself"""
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g
    a = lib.ones(2)
    with lib.no_grad():
        b = AddOne.apply(a)
    return [b is a, a, a._version]


def _inference_mode(lib):
    """nothing records in inference mode, even under enable_grad; inference_mode(False)
    turns grad mode on; is_grad_enabled / is_inference_mode_enabled report both"""
    x = lib.ones(2, requires_grad=True)
    out = []
    with lib.inference_mode():
        with lib.enable_grad():
            out.append([lib.is_grad_enabled(), (x * 2).requires_grad])
            with lib.no_grad():
                out.append(lib.is_grad_enabled())
        out.append([lib.is_grad_enabled(), lib.is_inference_mode_enabled()])
        with lib.set_grad_enabled(True):
            out.append([lib.is_grad_enabled(), (x * 2).requires_grad])
        with lib.inference_mode(False):
            out.append([lib.is_grad_enabled(), (x * 2).requires_grad])
    with lib.no_grad():
        with lib.inference_mode(False):
            out.append(lib.is_grad_enabled())

    @lib.inference_mode()
    def f(a):
        return (a * 2).requires_grad, lib.is_grad_enabled()
    return out + [list(f(x)), lib.is_grad_enabled(), lib.is_inference_mode_enabled()]


def _multi_view_after_in_place(how):
    def case(lib):
        x = lib.ones(2, 3, requires_grad=True)
        y = x * 2
        parts = {"unbind": y.unbind, "split": lambda: y.split(1), "chunk": lambda: y.chunk(2),
                 "split_sizes": lambda: y.split([1, 1])}[how.split()[0]]()
        names = [p.grad_fn.name() for p in parts]
        if how.endswith("base"):
            y.mul_(3)
        else:
            y[0].add_(1)                   # another view of the base
        try:
            (parts[1] * 2).sum().backward()
        except RuntimeError as e:
            return [names, str(e).split(" is a view")[0]]
        return [names, x.grad]
    case.__doc__ = f"a part of {how} changed in place: its backward raises (parts unused: fine)"
    return case


def _grad_of_a_hooked_non_leaf(lib):
    """autograd.grad takes a hooked non-leaf's gradient before its hooks where the walk runs
    on through it to another input, after them where it stops there (PyTorch's engine)"""
    out = []
    for create_graph in (False, True):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y.register_hook(lambda g: g * 10)
        out += list(lib.autograd.grad((y * y).sum(), [y, x], create_graph=create_graph))
        out += list(lib.autograd.grad((y * y).sum(), [y], create_graph=create_graph))
    return out


def _once_differentiable_under_create_graph(lib):
    """an @once_differentiable backward under create_graph gives plain gradients unless an
    incoming gradient requires grad; then differentiating them again raises"""
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    plain, = lib.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    both, = lib.autograd.grad((Square.apply(x) + x * x).sum(), x, create_graph=True)
    v = lib.ones(2, requires_grad=True)
    delayed, = lib.autograd.grad(Square.apply(x), x, grad_outputs=v, create_graph=True)
    try:
        delayed.sum().backward()
        again = "ok"
    except RuntimeError:
        again = "RuntimeError"
    # autograd.grad does not run the error where no path to its inputs needs it
    g, = lib.autograd.grad((Square.apply(x) * x).sum(), x, create_graph=True)
    second, = lib.autograd.grad(g.sum(), x)
    return [plain, plain.requires_grad, both, both.requires_grad, delayed,
            delayed.requires_grad, again, g, second]


def _failed_backward_keeps_finished_leaves(lib):
    """a backward that fails part-way has added the gradients of the leaves no unfinished
    node leads to, as PyTorch accumulates each leaf once its sum is complete"""
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(3, requires_grad=True)
    out = w.exp().sum() * 2 + x.sum()
    out.backward()
    try:
        out.backward()                   # exp's saved result is freed: it raises
    except RuntimeError:
        pass
    a = lib.ones(2, requires_grad=True)
    b = lib.ones(2, requires_grad=True)
    c = lib.ones(2, requires_grad=True)
    h = b * 3
    h.register_hook(lambda g: 1 / 0)     # fails before b's sum ends; a's and c's have ended
    try:
        ((a + h) * 2 + h * c).sum().backward()
    except ZeroDivisionError:
        pass
    return [x.grad, w.grad, a.grad, b.grad, c.grad]


def _post_accumulate_grad_hooks(lib):
    """register_post_accumulate_grad_hook: hook(leaf) after each backward added into .grad
    (once per backward, also where an op adds in place and under create_graph), not for
    autograd.grad; only on leaves that require grad; a hook must return None"""
    x = lib.ones(2, requires_grad=True)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (x * 2).sum().backward()
    (x * 3 + x * x).sum().backward()               # Mul adds into an existing .grad
    lib.autograd.grad((x * 2).sum(), x)
    (x * 2).sum().backward(create_graph=True)
    w = lib.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: seen.append("w"))
    (w * x).sum().backward(inputs=[w])
    handle.remove()
    (x * 2).sum().backward()
    errors = []
    for make in (lambda: x * 2, lambda: lib.ones(2)):
        try:
            make().register_post_accumulate_grad_hook(lambda p: None)
        except RuntimeError:
            errors.append("RuntimeError")
    y = lib.ones(2, requires_grad=True)
    y.register_post_accumulate_grad_hook(lambda p: 5)
    try:
        (y * 2).sum().backward()
    except TypeError:
        errors.append("TypeError")
    return [seen, errors, x.grad, y.grad]


def _gradgradcheck(lib):
    """gradgradcheck passes for correct second derivatives (random grad_outputs, or given
    ones) and catches a first derivative that is not differentiable as claimed"""
    lib.manual_seed(0)
    x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([[0.5, 1.0, -0.2]], dtype=lib.float64, requires_grad=True)
    v = lib.ones(3, dtype=lib.float64, requires_grad=True)
    out = [lib.autograd.gradgradcheck(lambda a: (a ** 3).sum(), (x,)),
           lib.autograd.gradgradcheck(lambda a, b: (a * b).tanh(), (x, w)),
           lib.autograd.gradgradcheck(lambda a: a.sin() * 2, (x,), (v,))]
    cut = lambda a: a.abs().detach().requires_grad_() * a      # noqa: E731
    out.append(lib.autograd.gradgradcheck(cut, (x,), raise_exception=False))
    try:
        lib.autograd.gradgradcheck(cut, (x,))
    except RuntimeError as e:                  # GradcheckError
        out.append(type(e).__name__)
    return out


def _module_full_backward_hooks(lib):
    """register_full_backward_hook / _pre_hook: grad_input (None for inputs that need no
    grad; a hook may replace it), grad_output (None for an output that got no gradient; a
    pre-hook may replace it); the outputs' grad_fn is BackwardHookFunctionBackward; nothing
    runs under no_grad; a wrong number of replacements raises"""
    def kept(grads):
        return [None if g is None else g.detach().clone() for g in grads]

    def linear():
        layer = lib.nn.Linear(2, 2)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor([[0.5, -1.0], [2.0, 0.25]]))
            layer.bias.fill_(0.1)
        return layer
    seen, out = [], []
    lin = linear()
    lin.register_full_backward_hook(lambda m, gi, go: seen.append(["hook", kept(gi), kept(go)]))
    lin.register_full_backward_pre_hook(lambda m, go: seen.append(["pre", kept(go)]))
    y = lin(lib.ones(3, 2))
    out.append(y.grad_fn.name())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # PyTorch's: no input requires grad
        (y * y).sum().backward()
    x = lib.ones(3, 2, requires_grad=True)
    (lin(x) * 2).sum().backward()
    out += [seen, x.grad]

    scaled = linear()
    scaled.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
    scaled.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
    x = lib.ones(1, 2, requires_grad=True)
    scaled(x).sum().backward()
    out += [x.grad, scaled.weight.grad]

    class Two(lib.nn.Module):
        def forward(self, a, b, k=1):
            return a * 2, b * 3
    two, got = Two(), []
    handle = two.register_full_backward_hook(lambda m, gi, go: got.append([kept(gi), kept(go)]))
    a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
    o1, o2 = two(a, b, k=2)
    o1.sum().backward()
    handle.remove()
    two(a, lib.ones(2))[0].sum().backward()
    out += [got, a.grad, b.grad]

    wrong = linear()
    wrong.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    try:
        wrong(lib.ones(1, 2, requires_grad=True)).sum().backward()
    except RuntimeError:
        out.append("RuntimeError")
    quiet = linear()
    quiet.register_full_backward_hook(lambda m, gi, go: out.append("ran"))
    with lib.no_grad():
        out.append(quiet(lib.ones(1, 2, requires_grad=True)).requires_grad)
    return out


def _second_derivative_beside_a_detached_copy(lib):
    """f(t, t.detach()) under create_graph: the detached operand is a constant though it shares
    t's array (and 0-d scalars too)"""
    out = []
    ops = (lambda a, b: a * b, lambda a, b: a / b, lambda a, b: b / a, lambda a, b: a ** b,
           lambda a, b: a.exp() * b.exp())
    for values in ([1.0, 2.0, 3.0, 4.0], 2.0):
        for f in ops:
            t = lib.tensor(values, dtype=lib.float64, requires_grad=True)
            y = t * 1
            g, = lib.autograd.grad(f(y, y.detach()).sum(), t, create_graph=True)
            second = lib.autograd.grad(g.sum(), t)[0] if g.requires_grad else None
            out += [g, second]
    return out


def _multi_view_parts_unused(lib):
    """the base of unbind/split parts changed in place: backward through the base is fine"""
    x = lib.ones(2, 3, requires_grad=True)
    y = x * 2
    parts = y.unbind(0) + y.split(1)
    y.mul_(3)
    y.sum().backward()
    return [x.grad, len(parts)]


@_cases(_hook_that_removes_itself, _inference_mode, _multi_view_parts_unused,
        _grad_of_a_hooked_non_leaf, _once_differentiable_under_create_graph,
        _failed_backward_keeps_finished_leaves, _post_accumulate_grad_hooks, _gradgradcheck,
        _module_full_backward_hooks, _second_derivative_beside_a_detached_copy,
        *(_multi_view_after_in_place(f"{op} {what}") for op in ("unbind", "split", "chunk",
                                                                 "split_sizes")
          for what in ("base", "other view")), _requires_grad_off_after_forward,
        _set_grad_enabled_as_decorator, _grad_mode_decorated_generators, _materialized_grads,
        _materialized_grads_refuse_allow_unused_false, _backward_inputs_retain_a_non_leafs_grad,
        _empty_inputs, _gradients_must_be_tensors, _function_backward_twice,
        _dirty_output_under_no_grad)
def test_autograd_api(backend, case):
    _assert_same(case)


@pytest.mark.parametrize("use", ["list of lists", "uint8 index", "mT of 0-d"])
def test_deprecated_uses_warn_as_pytorch(use):
    """the deprecated forms PyTorch still takes give its UserWarning in cgrad too (PyTorch
    warns once a process, so only cgrad is checked here)"""
    x = cgrad.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="deprecated"):
        if use == "list of lists":
            x[[[0, 1], [1, 2]]]
        elif use == "uint8 index":
            x[cgrad.tensor([1, 0], dtype=cgrad.uint8)]
        else:
            cgrad.tensor(2.0).mT
