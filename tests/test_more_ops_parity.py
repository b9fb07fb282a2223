"""The ops added on branch more-ops (tan ... atanh and atan2, cumprod, diagonal/diag/trace/
diag_embed, repeat_interleave, scatter/scatter_add/index_add):
values, gradients, dtypes, grad_fn names and error classes against PyTorch, on both
backends, in float32 and float64, with non-contiguous inputs, plus second derivatives
(create_graph) and in-place variants. The harness is test_more_ops' (compare: the same
values, dtype, grad_fn name and gradients of sum(out * w); same_error: the same class)."""
import numpy as np
import pytest

import cgrad
from test_higher_order import _assert_match
from test_more_ops import DTYPES, INF, LAYOUTS, NAN, compare, same_error, values

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf and nan inputs


def second_derivatives(fn, *arrays, rtol=1e-10):
    """fn's first derivatives (create_graph) and the derivatives of their squares' sum, in
    float64, on cgrad and torch"""
    def build(lib, *xs):
        y = fn(lib, *xs)
        gs = lib.autograd.grad(y.sum(), xs, create_graph=True)
        hs = lib.autograd.grad(sum((g * g).sum() for g in gs), xs, allow_unused=True)
        return [y, *gs, *hs]
    _assert_match(build, *arrays, rtol=rtol)


# ---- 1. trigonometric and hyperbolic --------------------------------------------------------
TRIG = {  # name: (edge values, low, high): the domain's edges, infinities, NaN
    "tan": ([0.0, -0.0, 1.5707964, INF, NAN], -1.5, 1.5),
    "asin": ([0.0, 1.0, -1.0, 1.5, -INF], -0.99, 0.99),
    "acos": ([0.0, 1.0, -1.0, 1.5, NAN], -0.99, 0.99),
    "atan": ([0.0, INF, -INF, 1e10, NAN], -5, 5),
    "sinh": ([0.0, -0.0, 100.0, INF, -INF], -3, 3),
    "cosh": ([0.0, -0.0, 100.0, INF, -INF], -3, 3),
    "asinh": ([0.0, -0.0, 1e10, INF, -INF], -5, 5),
    "acosh": ([1.0, 0.5, 1e10, INF, NAN], 1.01, 5),
    "atanh": ([0.0, 1.0, -1.0, 2.0, NAN], -0.99, 0.99),
}
ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
           "acosh": "arccosh", "atanh": "arctanh"}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(TRIG))
def test_trig(backend, name, dtype, layout):
    edges, low, high = TRIG[name]
    x = values(dtype, edges, low, high)
    compare(lambda m, t: getattr(m, name)(t), x, layout=layout)
    compare(lambda m, t: getattr(t, name)(), x, layout=layout)
    if name in ALIASES:
        compare(lambda m, t: getattr(m, ALIASES[name])(t), x, layout=layout)
    compare(lambda m, t: getattr(t, name)(), np.zeros((0, 3), dtype))
    compare(lambda m, t: getattr(t, name)(), np.array(0.5 if name != "acosh" else 1.5, dtype))


@pytest.mark.parametrize("name", sorted(TRIG))
def test_trig_integer_bool_inputs_and_errors(backend, name):
    """integers and bools give the default float, as in PyTorch"""
    ints = np.array([[-3, 0, 2], [5, -1, 1]], dtype=np.int64)
    compare(lambda m, t: getattr(t, name)(), ints, grad=False, names=False)
    compare(lambda m, t: getattr(t, name)(), np.array([True, False]), grad=False, names=False)
    same_error(lambda m: getattr(m, name)(m.ones(2), 3))
    same_error(lambda m: getattr(m.tensor([1, 2]), name + "_")())    # float into int64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(TRIG))
def test_trig_in_place(backend, name, dtype):
    edges, low, high = TRIG[name]
    x = values(dtype, [], low, high)

    def on_nonleaf(m, t):
        y = t * 1
        out = getattr(y, name + "_")()
        assert out is y and y._version == 1
        return y

    def on_view(m, t):
        y = t * 1
        getattr(y[1:], name + "_")()            # through the base's CopySlices node
        return y

    if name in ("asinh", "acosh", "atanh"):     # PyTorch records them, but no derivative
        compare(on_nonleaf, x, grad=False)
        compare(on_view, x, grad=False)
        same_error(lambda m: on_nonleaf(m, m.tensor(x, requires_grad=True)).sum().backward())
        for m in (cgrad, torch):
            assert on_nonleaf(m, m.tensor(x, requires_grad=True)).grad_fn.name().endswith(
                "Backward1")
    else:
        compare(on_nonleaf, x)
        compare(on_nonleaf, x, layout="transposed")
        compare(on_view, x)
        compare(lambda m, t: getattr(m, name + "_")(t * 1), x)
        if name in ALIASES:
            compare(lambda m, t: getattr(t * 1, ALIASES[name] + "_")(), x)
    same_error(lambda m: getattr(m.ones(3, requires_grad=True), name + "_")())    # a leaf
    for m in (cgrad, torch):
        leaf = m.tensor(x.copy(), requires_grad=True)
        with m.no_grad():
            getattr(leaf, name + "_")()
        assert leaf._version == 1 and leaf.grad_fn is None
        np.testing.assert_allclose(leaf.detach().numpy(),
                                   getattr(torch, name)(torch.tensor(x)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(TRIG))
def test_trig_second_derivatives(backend, name):
    low, high = TRIG[name][1:]
    x = values(np.float64, [], low, high)
    second_derivatives(lambda m, t: getattr(t, name)() * t, x)
    gradcheck_ok = cgrad.autograd.gradcheck(lambda t: getattr(t, name)(),
                                            (cgrad.tensor(x, requires_grad=True),))
    assert gradcheck_ok


ATAN2_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((4,), (3, 4)),
                ((3, 4), ()), ((0, 4), (4,))]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", ATAN2_SHAPES, ids=str)
def test_atan2(backend, shapes, dtype, layout):
    a = values(dtype, [0.0, -0.0, 0.0, INF, NAN, 1.0][:int(np.prod(shapes[0]))],
                shape=shapes[0])
    b = values(dtype, [0.0, 0.0, -0.0, INF, 1.0, -INF][:int(np.prod(shapes[1]))],
                shape=shapes[1], seed=1)
    compare(lambda m, x, y: m.atan2(x, y), a, b, layout=layout)
    compare(lambda m, x, y: x.atan2(y), a, b, layout=layout)
    compare(lambda m, x, y: m.arctan2(x, y), a, b, layout=layout)


def test_atan2_dtypes_in_place_and_errors(backend):
    a32, a64 = values(np.float32, [], shape=(3,)), values(np.float64, [], shape=(3,), seed=2)
    # mixed dtypes: cgrad's gradient is computed in the promoted dtype, PyTorch's partly in
    # float32 (self * self): they agree to float32's precision
    mixed = dict(rtol=1e-6, atol=1e-7)
    compare(lambda m, x, y: m.atan2(x, y), a32, a64, tol=mixed)
    compare(lambda m, x, y: m.atan2(x, y), np.array([1, -2, 0]), np.array([0, 3, -1]),
            grad=False)                                          # integers: float32
    compare(lambda m, x, y: m.atan2(x, y), a32, np.array(2.0), tol=mixed)   # 0-d: float32
    def in_place(m, x, y):
        z = x * 1
        assert z.atan2_(y) is z and z._version == 1
        return z

    def on_view(m, x, y):
        z = x * 1
        z[1].atan2_(y)
        return z
    for fn in (in_place, on_view):
        compare(fn, values(np.float64, [], shape=(3, 4)), values(np.float64, [], shape=(4,)))
    same_error(lambda m: m.atan2(m.ones(2), 2.0))
    same_error(lambda m: m.ones(2).atan2_(2.0))
    same_error(lambda m: m.atan2(m.ones(2), m.ones(3)))
    same_error(lambda m: m.ones(2).atan2_(m.ones(2, 2)))          # broadcasts past self
    same_error(lambda m: m.ones(2, dtype=m.int64).atan2_(m.ones(2)))
    same_error(lambda m: m.ones(2, requires_grad=True).atan2_(m.ones(2)))


def test_atan2_second_derivatives(backend):
    a, b = values(np.float64, [], shape=(3, 4)), values(np.float64, [], shape=(4,), seed=3)
    second_derivatives(lambda m, x, y: m.atan2(x * y, y + 3) * x, a, b)
    assert cgrad.autograd.gradcheck(cgrad.atan2, (cgrad.tensor(a, requires_grad=True),
                                                  cgrad.tensor(b, requires_grad=True)))


# ---- 2. cumprod -----------------------------------------------------------------------------
ZERO_ROWS = np.array([[2.0, 0.0, 3.0, 0.0, 4.0],      # two zeros apart
                      [0.0, 0.0, 0.0, 1.5, -2.0],     # several in a row, first place
                      [1.5, -2.0, 0.5, 3.0, 0.0],     # one, last place
                      [1.5, -2.0, 0.5, 3.0, 1.25],    # none
                      [-1.0, 2.0, 0.0, 0.0, 2.5]])    # several in a row, inside


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod(backend, dim, dtype, layout):
    x = values(dtype, [], -2, 2, shape=(3, 5))
    compare(lambda m, t: t.cumprod(dim), x, layout=layout)
    compare(lambda m, t: m.cumprod(t, dim=dim), x, layout=layout)
    compare(lambda m, t: t.cumprod(dim), ZERO_ROWS.astype(dtype), layout=layout)
    compare(lambda m, t: t.cumprod(dim), ZERO_ROWS.T.astype(dtype), layout=layout)


def test_cumprod_dtypes_edges_and_errors(backend):
    x = values(np.float32, [], 0.5, 1.5, shape=(4, 6))
    compare(lambda m, t: t.cumprod(1, dtype=m.float64), x)
    compare(lambda m, t: m.cumprod(t, 0, dtype=m.float64), x)
    compare(lambda m, t: t.cumprod(-1), np.array(2.5))                       # 0-d
    compare(lambda m, t: t.cumprod(0), np.array(0.0))
    compare(lambda m, t: t.cumprod(0), np.array([0.0]))
    compare(lambda m, t: t.cumprod(0), np.zeros((0, 3)))
    compare(lambda m, t: t.cumprod(1), np.zeros((0, 3)))
    compare(lambda m, t: t.cumprod(1), np.zeros((3, 0)))
    compare(lambda m, t: t.cumprod(1), np.array([[INF, 0.0, 2.0], [NAN, 1.0, 0.0]]))
    compare(lambda m, t: t.cumprod(0), np.array([3, -2, 0, 5], dtype=np.int32), grad=False)
    compare(lambda m, t: t.cumprod(0), np.array([True, True, False]), grad=False)
    same_error(lambda m: m.ones(2, 3).cumprod(2))
    same_error(lambda m: m.tensor(3.0).cumprod(1))
    same_error(lambda m: m.ones(2, requires_grad=True).cumprod(0, dtype=m.int64))


def test_cumprod_second_derivatives(backend):
    """through zeros too: the exact gradient is a polynomial, differentiable again"""
    second_derivatives(lambda m, t: t.cumprod(1) * t, ZERO_ROWS)
    second_derivatives(lambda m, t: t.cumprod(0), ZERO_ROWS)
    second_derivatives(lambda m, t: t.cumprod(1), values(np.float64, [], 0.5, 2))
    weights = np.random.default_rng(3).uniform(-1, 1, (2,) + ZERO_ROWS.shape)

    def weighted(lib, t):                # (squares hide the zeros' terms: g = 0 where they act)
        w, v = (lib.tensor(a) for a in weights)
        g, = lib.autograd.grad((t.cumprod(1) * w).sum(), t, create_graph=True)
        return [g, lib.autograd.grad((g * v).sum(), t)[0]]
    _assert_match(weighted, ZERO_ROWS)
    assert cgrad.autograd.gradcheck(lambda t: t.cumprod(1),
                                    (cgrad.tensor(ZERO_ROWS, requires_grad=True),))


# ---- 3. diagonal, diag, diag_embed, trace ---------------------------------------------------
DIAGONALS = [(0, 0, 1), (1, 0, 1), (-2, 0, 1), (1, 1, 0), (0, -1, 0), (2, 0, 2), (-1, 2, 1),
             (7, 0, 1), (-7, 1, 2)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset,dim1,dim2", DIAGONALS)
def test_diagonal(backend, offset, dim1, dim2, dtype, layout):
    x = values(dtype, [INF, NAN], shape=(3, 4, 5))
    compare(lambda m, t: t.diagonal(offset, dim1, dim2), x, layout=layout)
    compare(lambda m, t: m.diagonal(t, offset=offset, dim1=dim1, dim2=dim2), x, layout=layout)
    compare(lambda m, t: t.diagonal(offset, dim1, dim2), np.zeros((0, 3, 2), dtype))
    if max(dim1, dim2) < 2:
        compare(lambda m, t: t.diagonal(offset, dim1, dim2), x[0], layout=layout)


def test_diagonal_is_a_view(backend):
    for m in (cgrad, torch):
        x = m.zeros(3, 4)
        v = x.diagonal(1)
        v[0] = 7.0
        v.add_(1)
        assert x.tolist() == [[0, 8, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
        assert x._version == v._version == 2

    def write_through(m, t):                 # an in-place op on the view reaches the base
        y = t * 1
        v = y.diagonal(-1)
        v.mul_(3)
        return y + v.sum()

    def write_base(m, t):                    # one on the base reaches the view
        y = t * 1
        v = y.diagonal()
        y.mul_(t)
        return v * 2
    for fn in (write_through, write_base):
        compare(fn, values(np.float64, [], shape=(4, 3)), names=False)
        compare(fn, values(np.float64, [], shape=(4, 3)), names=False, layout="strided")
    same_error(lambda m: m.ones(3, 3, requires_grad=True).diagonal().mul_(2))  # leaf's view


def test_diagonal_errors(backend):
    same_error(lambda m: m.ones(2, 3).diagonal(0, 1, 1))
    same_error(lambda m: m.ones(2, 3).diagonal(0, 1, -1))
    same_error(lambda m: m.ones(2, 3).diagonal(0, 0, 2))
    same_error(lambda m: m.ones(()).diagonal())
    same_error(lambda m: m.ones(3).diagonal())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", [0, 1, -2, 5])
def test_diag(backend, offset, dtype, layout):
    compare(lambda m, t: t.diag(offset), values(dtype, [INF], shape=(4,)), layout=layout)
    compare(lambda m, t: m.diag(t, offset), values(dtype, [NAN], shape=(3, 5)), layout=layout)
    compare(lambda m, t: m.diag(t, diagonal=offset), values(dtype, [], shape=(4, 2)),
            layout=layout)
    compare(lambda m, t: t.diag(offset), np.zeros(0, dtype))
    compare(lambda m, t: t.diag(offset), np.zeros((0, 3), dtype))


def test_diag_is_a_copy_and_errors(backend):
    for m in (cgrad, torch):
        x = m.zeros(2, 2)
        x.diag()[0] = 5.0
        assert x.tolist() == [[0, 0], [0, 0]]
    compare(lambda m, t: t.diag(), np.array([1, 2, 3]), grad=False)
    same_error(lambda m: m.ones(()).diag())
    same_error(lambda m: m.ones(2, 2, 2).diag())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset,dim1,dim2", [(0, -2, -1), (1, 0, 2), (-1, 2, 0), (0, 1, 0),
                                              (2, 0, 1)])
def test_diag_embed(backend, offset, dim1, dim2, dtype, layout):
    x = values(dtype, [INF, NAN], shape=(2, 3))
    compare(lambda m, t: t.diag_embed(offset, dim1, dim2), x, layout=layout)
    compare(lambda m, t: m.diag_embed(t, offset=offset, dim1=dim1, dim2=dim2), x,
            layout=layout)
    compare(lambda m, t: t.diag_embed(offset, dim1, dim2), np.zeros((0, 2), dtype))


def test_diag_embed_errors(backend):
    same_error(lambda m: m.ones(3).diag_embed(0, 0, 0))
    same_error(lambda m: m.ones(3).diag_embed(0, 0, 2))
    same_error(lambda m: m.ones(()).diag_embed())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 2), (0, 3), (1, 1)])
def test_trace(backend, shape, dtype, layout):
    compare(lambda m, t: t.trace(), values(dtype, [INF][:int(np.prod(shape))], shape=shape),
            layout=layout)
    compare(lambda m, t: m.trace(t), values(dtype, [], shape=shape), layout=layout)


def test_trace_dtypes_and_errors(backend):
    compare(lambda m, t: t.trace(), np.arange(9, dtype=np.int32).reshape(3, 3), grad=False)
    same_error(lambda m: m.ones(3).trace())
    same_error(lambda m: m.ones(2, 2, 2).trace())
    same_error(lambda m: m.ones(2, 2, dtype=m.bool).trace())


def test_diagonal_ops_second_derivatives(backend):
    x = values(np.float64, [], shape=(3, 4))
    second_derivatives(lambda m, t: t.diagonal(1) * t.diagonal(1).exp(), x)
    second_derivatives(lambda m, t: (t * t).trace() * t, x)
    second_derivatives(lambda m, t: t[0].diag(-1) * t[:, :4].diag_embed(1)[0] ** 2, x)
    second_derivatives(lambda m, t: t.diag() ** 3, x)
    for fn in (lambda t: t.diagonal(-1), lambda t: t.trace(), lambda t: t.diag_embed(),
               lambda t: t.diag(1), lambda t: t[1].diag(1)):
        assert cgrad.autograd.gradcheck(fn, (cgrad.tensor(x, requires_grad=True),))


# ---- 4. repeat_interleave, index_select -----------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("repeats,dim", [(2, 0), (3, 1), (1, -1), (0, 0), (2, None),
                                         ([1, 0, 2], 0), ([2], 1), (2, -2), ("0-d", 1),
                                         ([0, 0, 0, 0], 1), ([3, 1, 0, 2], None)],
                         ids=str)
def test_repeat_interleave(backend, repeats, dim, dtype, layout):
    x = values(dtype, [INF, NAN], shape=(3, 4) if repeats != [3, 1, 0, 2] else (2, 2))

    def counts(m):
        if repeats == "0-d":
            return m.tensor(2)
        return m.tensor(repeats) if isinstance(repeats, list) else repeats
    compare(lambda m, t: t.repeat_interleave(counts(m), dim), x, layout=layout)
    compare(lambda m, t: m.repeat_interleave(t, counts(m), dim=dim), x, layout=layout)


def test_repeat_interleave_edges_and_errors(backend):
    compare(lambda m, t: t.repeat_interleave(3), np.array(1.5))
    compare(lambda m, t: t.repeat_interleave(m.tensor([2])), np.array(1.5))
    compare(lambda m, t: t.repeat_interleave(2, 0), np.zeros((0, 2)))
    compare(lambda m, t: t.repeat_interleave(m.tensor([], dtype=m.int64), 0), np.zeros((0, 2)))
    compare(lambda m, t: t.repeat_interleave(2, 1, output_size=4), np.ones((3, 2)))
    compare(lambda m, t: t.repeat_interleave(m.tensor([1, 2], dtype=m.int32)),
            np.array([1, 2], dtype=np.int32), grad=False)
    compare(lambda m, t: m.repeat_interleave(t), np.array([1, 0, 3]), grad=False)
    compare(lambda m, t: m.repeat_interleave(t), np.array([2, 1], dtype=np.int32), grad=False)
    compare(lambda m, t: m.repeat_interleave(t), np.array([], dtype=np.int64), grad=False)
    same_error(lambda m: m.ones(3).repeat_interleave(-1))
    same_error(lambda m: m.ones(3, 4).repeat_interleave(m.tensor([1, 2]), dim=0))
    same_error(lambda m: m.ones(3, 4).repeat_interleave(m.tensor([1.0, 2, 3]), dim=0))
    same_error(lambda m: m.ones(3, 4).repeat_interleave(m.tensor([1, -2, 3]), dim=0))
    same_error(lambda m: m.ones(3, 4).repeat_interleave(m.tensor([[1, 2, 3]]), dim=0))
    same_error(lambda m: m.ones(3, 4).repeat_interleave(2, dim=2))
    same_error(lambda m: m.ones(()).repeat_interleave(2, dim=0))
    same_error(lambda m: m.ones(2).repeat_interleave(m.tensor([], dtype=m.int64)))
    same_error(lambda m: m.ones(2).repeat_interleave(2, output_size=3))
    same_error(lambda m: m.ones(2).repeat_interleave(m.tensor([1, 2]), output_size=4))
    same_error(lambda m: m.repeat_interleave(m.tensor([[1]])))
    same_error(lambda m: m.repeat_interleave(m.tensor(3)))
    # a 0-d tensor has no dim for a tensor of repeats; an empty dim checks no output_size;
    # the method needs repeats (the function takes counts alone)
    same_error(lambda m: m.tensor(2.0).repeat_interleave(m.tensor([2]), 0), message=True)
    same_error(lambda m: m.tensor(2.0).repeat_interleave(m.tensor(2), -1), message=True)
    compare(lambda m, t: t.repeat_interleave(m.tensor([3]), 1, output_size=1), np.ones((3, 0)))
    same_error(lambda m: m.ones(3, 0).repeat_interleave(3, 1, output_size=5), message=True)
    same_error(lambda m: m.ones(3, 2).repeat_interleave(3, 1, output_size=5), message=True)
    same_error(lambda m: m.ones(3, 2).repeat_interleave(m.tensor([3]), 1, output_size=5),
               message=True)
    compare(lambda m, t: m.repeat_interleave(t, output_size=3), np.array([1, 2]), grad=False)
    same_error(lambda m: m.repeat_interleave(m.tensor([1, 2]), output_size=4), message=True)
    same_error(lambda m: m.repeat_interleave(m.tensor([1, 2]), dim=0), message=True)
    same_error(lambda m: m.tensor([1, 2]).repeat_interleave(), message=True)
    same_error(lambda m: m.tensor([1, 2]).repeat_interleave(output_size=3), message=True)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,index", [(0, [2, 0, 2]), (1, [3]), (-1, []), (1, "0-d")],
                         ids=str)
def test_index_select(backend, dim, index, dtype, layout):
    def idx(m):
        return m.tensor(1) if index == "0-d" else m.tensor(index, dtype=m.int64)
    compare(lambda m, t: t.index_select(dim, idx(m)), values(dtype, [INF]), layout=layout)
    compare(lambda m, t: m.index_select(t, dim, idx(m)), values(dtype, []), layout=layout)


def test_index_select_edges_and_errors(backend):
    compare(lambda m, t: t.index_select(0, m.tensor([0])), np.array(2.0))     # 0-d
    same_error(lambda m: m.tensor(2.0).index_select(0, m.tensor([0, 0])))
    compare(lambda m, t: t.index_select(0, m.tensor(0)), np.array(2.0))
    for index in ([0], [0, 0], [], 0):                  # a 0-d input gathers its one element
        compare(lambda m, t: t.gather(0, m.tensor(index, dtype=m.int64)), np.array(2.0))
    for fn in ("sum", "mean", "nansum"):    # a dim given, even () or None: SumBackward1, ...
        for args in ((), ((),), (None,), (0,), ((0, 1), True)):
            compare(lambda m, t: getattr(t, fn)(*args), np.array([[1.0, NAN], [3.0, 4.0]]))
        compare(lambda m, t: getattr(t, fn)(0), np.array(2.0))
    compare(lambda m, t: t.mean(dtype=m.float64), np.ones((2, 3), np.float32))
    second_derivatives(lambda m, t: t.nansum(1) ** 2 + t.nansum() * t.sum(1),
                       np.array([[1.0, NAN, 2.0], [3.0, 4.0, -1.0]]))
    compare(lambda m, t: t.index_select(0, m.tensor([1], dtype=m.int32)), np.ones((2, 3)))
    same_error(lambda m: m.ones(3).index_select(0, m.tensor([-1])))
    same_error(lambda m: m.ones(3).index_select(0, m.tensor([3])))
    same_error(lambda m: m.ones(3, 2).index_select(1, m.tensor([[0]])))
    same_error(lambda m: m.ones(3, 2).index_select(2, m.tensor([0])))


def test_repeat_interleave_second_derivatives(backend):
    x = values(np.float64, [], shape=(3, 4))
    second_derivatives(lambda m, t: t.repeat_interleave(2, 1) ** 3, x)
    second_derivatives(lambda m, t: t.repeat_interleave(m.tensor([2, 0, 1]), 0) ** 3, x)
    second_derivatives(lambda m, t: t.index_select(1, m.tensor([3, 3, 0])) ** 3, x)


# ---- 5. scatter, scatter_add, index_add -----------------------------------------------------
# index (no repeats within a scatter's target column: PyTorch leaves their order undefined)
SCATTERS = [  # dim, index, src shape
    (0, [[0, 1, 2, 0], [2, 0, 1, 1]], (2, 4)),
    (1, [[3, 0], [1, 2], [0, 0 + 3]], (3, 3)),        # src larger than the index
    (-1, [[2], [0], [1]], (3, 1)),
    (0, [[1, 2]], (2, 5)),
    (0, np.zeros((0, 4), np.int64).tolist(), (1, 4)),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(SCATTERS)))
def test_scatter(backend, case, dtype, layout):
    dim, index, src_shape = SCATTERS[case]
    idx = np.array(index, dtype=np.int64).reshape(-1, 4) if not index else np.array(index)
    x = values(dtype, [INF, NAN], shape=(3, 4))
    src = values(dtype, [-INF], shape=src_shape, seed=4)
    grad_src = tuple(idx.shape) == src_shape or idx.size == 0   # (else PyTorch's backward
    kw = dict(layout=layout)                                      # refuses the src gradient)
    compare(lambda m, t: t.scatter(dim, m.tensor(idx), 2.5), x, **kw)
    compare(lambda m, t: t.scatter(dim, m.tensor(idx), value=-1.0), x, **kw)
    compare(lambda m, t: m.scatter(t, dim, m.tensor(idx), value=-1.0), x, **kw)
    if grad_src:
        compare(lambda m, t, s: t.scatter(dim, m.tensor(idx), s), x, src, **kw)
        compare(lambda m, t, s: m.scatter(t, dim, m.tensor(idx), s), x, src, **kw)
    else:
        compare(lambda m, t: t.scatter(dim, m.tensor(idx), m.tensor(src)), x, **kw)
        same_error(lambda m: m.tensor(x).scatter(dim, m.tensor(idx), m.tensor(
            src, requires_grad=True)).sum().backward())
    # scatter_add: repeats add up
    rep = np.where(idx == 2, 0, idx)
    if grad_src:
        compare(lambda m, t, s: t.scatter_add(dim, m.tensor(rep), s), x, src, **kw)
        compare(lambda m, t, s: m.scatter_add(t, dim, m.tensor(rep), s), x, src, **kw)
    else:
        compare(lambda m, t: t.scatter_add(dim, m.tensor(rep), m.tensor(src)), x, **kw)


def test_scatter_in_place(backend):
    idx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    x = values(np.float64, [], shape=(3, 4))
    src = values(np.float64, [], shape=(2, 4), seed=4)

    def in_place(op, *args):
        def fn(m, t, s):
            y = t * 1
            out = getattr(y, op)(0, m.tensor(idx), *(s if a == "src" else a for a in args))
            assert out is y and y._version == 1
            return y
        return fn

    for fn in (in_place("scatter_", "src"), in_place("scatter_add_", "src"),
               in_place("scatter_", 1.5)):
        compare(fn, x, src)
        compare(fn, x, src, layout="strided")

    def on_view(m, t, s):                  # through the base's CopySlices node
        y = t * 1
        y[1:].scatter_(0, m.tensor(idx[:, :2] % 2), s[:, :2])
        return y
    compare(on_view, x, src)
    for m in (cgrad, torch):                # outside autograd: written, version bumped
        y = m.tensor(x)
        y.scatter_(1, m.tensor([[0], [3], [1]]), 7.0)
        assert y._version == 1 and y[1, 3].item() == 7.0
    same_error(lambda m: m.tensor(x, requires_grad=True).scatter_(0, m.tensor(idx), 1.0))
    same_error(lambda m: m.tensor(x, requires_grad=True).scatter_add_(
        0, m.tensor(idx), m.tensor(src)))

    def saved_then_scattered(m):
        y = m.tensor(x, requires_grad=True) * 2
        z = y * y
        y.scatter_(0, m.tensor(idx), 1.0)
        z.sum().backward()
    same_error(saved_then_scattered)


def test_scatter_edges_and_errors(backend):
    idx = np.array([[0, 1]])
    compare(lambda m, t, s: t.scatter(0, m.tensor(0), s), np.array(1.0), np.array(2.0))
    compare(lambda m, t, s: t.scatter_add(0, m.tensor(0), s), np.array(1.0), np.array(2.0))
    compare(lambda m, t: t.scatter(0, m.tensor(idx, dtype=m.int32), 2.0), np.zeros((3, 4)))
    compare(lambda m, t: t.scatter(0, m.tensor(idx), 2.5), np.zeros((3, 4), np.int64),
            grad=False)                                       # 2.5 cast to int64: 2
    compare(lambda m, t: t.scatter_add(1, m.tensor([[1, 1, 1]]), m.ones(1, 3, dtype=m.int64)),
            np.zeros((2, 3), np.int64), grad=False)
    for name in ("scatter", "scatter_add"):
        def call(m, index=idx, src=None, dim=0, name=name):
            return getattr(m.zeros(3, 4), name)(dim, m.tensor(index),
                                                m.ones(1, 2) if src is None else src(m))
        same_error(lambda m: call(m, src=lambda m: m.ones(1, 2, dtype=m.float64)))
        same_error(lambda m: call(m, index=[0, 1]))
        same_error(lambda m: call(m, index=[[0, 1, 2, 0, 1]], src=lambda m: m.ones(2, 5)))
        same_error(lambda m: call(m, index=[[0], [1], [2], [0]], src=lambda m: m.ones(4, 1),
                                  dim=1))
        same_error(lambda m: call(m, src=lambda m: m.ones(1, 1)))
        same_error(lambda m: call(m, src=lambda m: m.ones(2)))
        same_error(lambda m: call(m, index=[[3, 1]]))
        same_error(lambda m: call(m, index=[[-1, 1]]))
        same_error(lambda m: call(m, dim=2))
        same_error(lambda m: call(m, index=np.array([[0.0, 1.0]])))


INDEX_ADDS = [(0, [0, 2, 0]), (1, [3, 3]), (-1, [1]), (0, [])]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1, 2.5])
@pytest.mark.parametrize("dim,index", INDEX_ADDS, ids=str)
def test_index_add(backend, dim, index, alpha, dtype, layout):
    x = values(dtype, [INF, NAN], shape=(3, 4))
    shape = list(x.shape)
    shape[dim] = len(index)
    src = values(dtype, [], shape=tuple(shape), seed=5)

    def fn(m, t, s):
        return t.index_add(dim, m.tensor(index, dtype=m.int64), s, alpha=alpha)

    def in_place(m, t, s):
        y = t * 1
        assert y.index_add_(dim, m.tensor(index, dtype=m.int64), s, alpha=alpha) is y
        return y
    compare(fn, x, src, layout=layout)
    compare(lambda m, t, s: m.index_add(t, dim, m.tensor(index, dtype=m.int64), s,
                                        alpha=alpha), x, src, layout=layout)
    compare(in_place, x, src, layout=layout)


def test_index_add_edges_and_errors(backend):
    compare(lambda m, t, s: t.index_add(0, m.tensor([0]), s), np.array(1.0), np.array(2.0))
    compare(lambda m, t, s: t.index_add(0, m.tensor([0], dtype=m.int32), s, alpha=2),
            np.zeros((3, 4)), np.ones((1, 4)))
    compare(lambda m, t: t.index_add(0, m.tensor([0, 0]), m.ones(2, dtype=m.int64), alpha=2),
            np.zeros(3, np.int64), grad=False)
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([0, 0]),
                                                 m.ones(2, 4, dtype=m.float64)))
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([0, 0]), m.ones(2, 3)))
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([0, 3]), m.ones(2, 4)))
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([0, -1]), m.ones(2, 4)))
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([[0]]), m.ones(1, 4)))
    same_error(lambda m: m.zeros(3, 4).index_add(0, m.tensor([0.0]), m.ones(1, 4)))
    same_error(lambda m: m.zeros(3, 4).index_add(2, m.tensor([0]), m.ones(1, 4)))
    same_error(lambda m: m.zeros(3, 4, requires_grad=True).index_add_(0, m.tensor([0]),
                                                                      m.ones(1, 4)))


def test_scatter_second_derivatives(backend):
    x = values(np.float64, [], shape=(3, 4))
    src = values(np.float64, [], shape=(2, 4), seed=4)
    idx = [[0, 1, 2, 0], [2, 0, 1, 1]]
    second_derivatives(lambda m, t, s: t.scatter(0, m.tensor(idx), s * s) ** 3, x, src)
    second_derivatives(lambda m, t, s: t.scatter_add(0, m.tensor(idx), s * t[:2]) ** 2, x, src)
    second_derivatives(lambda m, t, s: (t * t).index_add(0, m.tensor([2, 2]), s.exp(),
                                                         alpha=0.5) ** 2, x, src)
    second_derivatives(lambda m, t, s: (t * 1).scatter_(0, m.tensor(idx), s * s) ** 3, x, src)
