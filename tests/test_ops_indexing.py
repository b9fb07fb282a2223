"""Shape and indexing ops cgrad lacked: unfold, tensor_split/hsplit/vsplit/dsplit, select,
narrow_copy, take/take_along_dim, index_copy/index_fill/index_put, scatter_reduce,
masked_scatter, the *_scatter ops, diagflat, fliplr/flipud, rot90, and the functions that join,
grid or range tensors (atleast_*d, column_stack, dstack, block_diag, meshgrid,
broadcast_tensors/shapes, cartesian_prod, combinations, tril/triu_indices, vander, logspace,
trapezoid, cumulative_trapezoid, gradient, unravel_index): values, dtypes, grad_fn names,
gradients and errors against PyTorch, on both backends."""
import numpy as np
import pytest

import cgrad
from test_more_ops import INF, compare, same_error, values

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

X = values(np.float64, [INF, -1.0], shape=(4, 6))
I64 = np.int64


@pytest.mark.parametrize("dim,size,step", [(0, 2, 1), (1, 3, 2), (-1, 6, 1), (1, 1, 4),
                                           (0, 4, 3), (1, 0, 1)])
def test_unfold(backend, dim, size, step):
    compare(lambda m, t: t.unfold(dim, size, step), X, layout="transposed")
    compare(lambda m, t: t.unfold(dim, size, step) * 2, X.astype(np.float32), layout="strided")
    for m in (cgrad, torch):                                 # a view: writes reach the base
        base = m.zeros(4, 6)
        w = base.unfold(dim, size, step)
        if w.numel():
            w[(0,) * w.ndim] = 5.0
            assert base.sum().item() == 5.0 and w._version == base._version == 1


def test_unfold_edges_and_errors(backend):
    compare(lambda m, t: t.unfold(0, 1, 1), np.array(2.5))
    compare(lambda m, t: t.unfold(0, 3, 1).sum(-1), np.arange(8.0))
    same_error(lambda m: m.ones(10).unfold(0, 11, 1), message=True)
    same_error(lambda m: m.ones(10).unfold(0, 2, 0), message=True)
    same_error(lambda m: m.ones(10).unfold(1, 2, 1))


SPLITS = [3, 4, 7, [2, 5], [1, 1, 9], [-2], (0, 6), [4, 2]]


@pytest.mark.parametrize("how", SPLITS)
@pytest.mark.parametrize("dim", [0, 1])
def test_tensor_split(backend, how, dim):
    for k in range(len(cgrad.tensor_split(cgrad.tensor(X), how, dim))):
        compare(lambda m, t: m.tensor_split(t, how, dim)[k], X)
        compare(lambda m, t: t.tensor_split(m.tensor(how), dim=dim)[k], X,
                layout="transposed")


def test_hsplit_vsplit_dsplit(backend):
    x3 = values(np.float64, [], shape=(2, 4, 6))
    for name, x, how in (("hsplit", X, 3), ("hsplit", X, [1, 4]), ("vsplit", X, 2),
                         ("dsplit", x3, 3), ("dsplit", x3, [5]), ("hsplit", X[0], 2)):
        n = len(getattr(torch, name)(torch.tensor(x), how))
        for k in range(n):
            compare(lambda m, t: getattr(m, name)(t, how)[k], x)
            compare(lambda m, t: getattr(t, name)(how)[k], x)
    same_error(lambda m: m.hsplit(m.ones(10), 3), message=True)
    same_error(lambda m: m.vsplit(m.ones(10), 2), message=True)
    same_error(lambda m: m.dsplit(m.ones(2, 2), 2), message=True)
    same_error(lambda m: m.tensor_split(m.tensor(1.0), 2), message=True)
    same_error(lambda m: m.ones(4).tensor_split(0), message=True)
    for k in range(2):
        compare(lambda m, t: t.split_with_sizes([2, 4], 1)[k], X)


def test_select_narrow_copy_take(backend):
    for dim, index in ((0, 1), (1, -1), (-1, 0)):
        compare(lambda m, t: m.select(t, dim, index), X, layout="transposed")
    compare(lambda m, t: t.narrow_copy(1, -4, 3), X, layout="strided")
    compare(lambda m, t: m.narrow_copy(t, 0, 1, 2), X)
    idx = np.array([[0, -1, 5], [23, 5, 5]])
    compare(lambda m, t, i: m.take(t, i), X, idx, layout="transposed")
    compare(lambda m, t, i: t.take(i), np.array(3.0), np.array([0, -1]))
    same_error(lambda m: m.ones(2, 3).select(1, 3), message=True)
    same_error(lambda m: m.take(m.ones(4), m.tensor([4])), message=True)
    same_error(lambda m: m.take(m.ones(4), m.tensor([1.0])))
    for m in (cgrad, torch):                       # a copy, not a view
        x = m.zeros(3, 4)
        x.narrow_copy(1, 1, 2)[0, 0] = 1.0
        assert x.sum().item() == 0


@pytest.mark.parametrize("dim,index", [(1, [[0], [5], [2], [1]]), (0, [[3, 1, 0, 0, 2, 1]]),
                                       (1, [[0, 1]]), (None, [3, 1, 23]), (-1, [[4, 4, 0]])])
def test_take_along_dim(backend, dim, index):
    idx = np.array(index)
    if dim == -1 and idx.shape[0] == 1:
        compare(lambda m, t, i: m.take_along_dim(t, i, dim), X, idx)
    # (PyTorch views a non-contiguous index for dim=None, and fails)
    compare(lambda m, t, i: t.take_along_dim(i, dim=dim), X, idx,
            layout="contiguous" if dim is None else "transposed")


def test_take_along_dim_errors(backend):
    same_error(lambda m: m.take_along_dim(m.ones(2, 3), m.tensor([0]), dim=1), message=True)


@pytest.mark.parametrize("dim,index", [(0, [3, 0]), (1, [5, 1, 1]), (-1, [2]), (0, 2)])
def test_index_fill_and_copy(backend, dim, index):
    idx = np.array(index)
    compare(lambda m, t, i: t.index_fill(dim, i, -2.5), X, idx, layout="transposed")
    compare(lambda m, t, i, v: m.index_fill(t, dim, i, v), X, idx, np.array(7.0))
    compare(lambda m, t, i: (t * 1).index_fill_(dim, i, 3), X, idx)
    compare(lambda m, t, i: t.index_fill(dim, i, 2), np.arange(24).reshape(4, 6), idx,
            grad=False)
    shape = list(X.shape)
    shape[dim] = idx.size
    src = values(np.float64, [], shape=tuple(shape), seed=4)
    if idx.size == len(set(idx.ravel().tolist())):         # (repeats: an unspecified order)
        compare(lambda m, t, i, s: t.index_copy(dim, i, s), X, idx, src)
        compare(lambda m, t, i, s: (t * 1).index_copy_(dim, i, s), X, idx, src)
        compare(lambda m, t, i, s: m.index_copy(t, dim, i, s), X, idx, src,
                layout="transposed")


def test_index_fill_copy_errors(backend):
    same_error(lambda m: m.ones(2, 3).index_fill(1, m.tensor([3]), 0), message=True)
    same_error(lambda m: m.ones(2, 3).index_fill(1, m.tensor([1.0]), 0))
    same_error(lambda m: m.ones(2, 3).index_fill(1, m.tensor([0]), m.ones(2)), message=True)
    same_error(lambda m: m.ones(2, 3).index_copy(1, m.tensor([0]), m.ones(2, 1).long()),
               message=True)
    same_error(lambda m: m.ones(2, 3).index_copy(1, m.tensor([0]), m.ones(3, 2)))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(backend, accumulate):
    rows, cols = np.array([0, 3, 3]), np.array([1, 5, 5])
    v = values(np.float64, [], shape=(3,), seed=5)
    if accumulate:
        compare(lambda m, t, r, c, u: t.index_put((r, c), u, accumulate=True), X, rows, cols, v)
        compare(lambda m, t, r, u: m.index_put(t, (r,), u[:, None] * 1, True), X, rows, v)
    rows, cols = np.array([0, 3, 2]), np.array([1, 5, 4])
    compare(lambda m, t, r, c, u: t.index_put((r, c), u, accumulate=accumulate), X, rows,
            cols, v, layout="transposed")
    compare(lambda m, t, r, c, u: (t * 1).index_put_((r, c), u, accumulate), X, rows, cols, v)
    compare(lambda m, t, u: m.index_put_(t * 1, (m.tensor(X > 0),), u[0], accumulate), X, v)
    same_error(lambda m: m.ones(3).index_put((m.tensor([0]),), m.tensor([1]), accumulate),
               message=True)


SCATTER_INDEX = np.array([[0, 1, 0, 3, 3, 2], [2, 2, 2, 2, 0, 1]])


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(backend, reduce, include_self):
    x = values(np.float64, [], 0.5, 2, shape=(4, 6))
    src = values(np.float64, [], 0.5, 2, shape=(3, 6), seed=6)
    src[0, 0] = src[1, 0]                 # a tie for amax/amin
    x[2, 1] = src[1, 1]
    compare(lambda m, t, i, s: t.scatter_reduce(0, i, s[:2], reduce,
                                                include_self=include_self),
            x, SCATTER_INDEX, src)
    compare(lambda m, t, i, s: m.scatter_reduce(t, 1, i[:, :4] % 6, s[:2, :4], reduce,
                                                include_self=include_self), x, SCATTER_INDEX,
            src, layout="transposed")
    compare(lambda m, t, i, s: (t * 1).scatter_reduce_(0, i, s[:2], reduce,
                                                        include_self=include_self),
            x, SCATTER_INDEX, src)
    compare(lambda m, t, i, s: t.scatter_reduce(0, i, s, reduce, include_self=include_self),
            x, SCATTER_INDEX, src, grad=False)                 # a src larger than the index
    same_error(lambda m: m.ones(4, 6, requires_grad=True).scatter_reduce(
        0, m.tensor(SCATTER_INDEX), m.tensor(src, requires_grad=True), reduce).sum().backward())
    ints = np.arange(24).reshape(4, 6) - 7
    compare(lambda m, t, i, s: t.scatter_reduce(0, i, s, reduce, include_self=include_self),
            ints, SCATTER_INDEX, (ints[:2] * 3) % 11)
    # 0-d self, index and src: the backward's NumPy math on 0-d arrays gave scalars (TypeError)
    compare(lambda m, t, s: t.scatter_reduce(0, m.tensor(0), s, reduce,
                                             include_self=include_self) * 1.5,
            np.array(2.0), np.array(3.0))


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
def test_scatter_reduce_of_a_src_larger_than_the_index(backend, reduce, include_self):
    # PyTorch's forward reads src at the index's places only, but its prod/amax/amin backward
    # compares all of src with values of the index's shape: they broadcast where the index's
    # dims are 1 (src's unread places get gradients), else that raises its broadcast error
    x = np.round(values(np.float64, [], -2, 2, shape=(4, 6), seed=3))      # ties and zeros
    src = np.round(values(np.float64, [], -2, 2, shape=(4, 6), seed=9))
    column = np.array([[2], [0], [2], [1]])
    for dim, index, s in ((0, SCATTER_INDEX[:1], src[:3]), (1, column, src[:, :4]),
                          (1, column[:3], src[:3])):
        compare(lambda m, t, i, s: t.scatter_reduce(dim, i, s, reduce, include_self=include_self),
                x, index, s)
    compare(lambda m, t, i, s: (t * 1).scatter_reduce_(1, i, s, reduce,
                                                        include_self=include_self),
            x, column, src[:, :3], layout="transposed")
    same_error(lambda m: m.tensor(x, requires_grad=True).scatter_reduce(
        0, m.tensor(SCATTER_INDEX), m.tensor(src[:3], requires_grad=True), reduce,
        include_self=include_self).sum().backward(), message=True)


def test_scatter_reduce_prod_zeros_and_errors(backend):
    x = values(np.float64, [0.0], 0.5, 2, shape=(4, 6))
    src = values(np.float64, [0.0, 1.5, 0.0], 0.5, 2, shape=(2, 6), seed=7)
    for include_self in (True, False):
        compare(lambda m, t, i, s: t.scatter_reduce(0, i, s, "prod", include_self=include_self),
                x, np.array([[1, 0, 0, 3, 3, 2], [2, 2, 0, 2, 0, 1]]), src)
    same_error(lambda m: m.ones(3).scatter_reduce(0, m.tensor([0]), m.ones(1), "bad"),
               message=True)
    same_error(lambda m: m.ones(3).scatter_reduce(0, m.tensor([0]), m.ones(1).long(), "sum"))


def test_masked_scatter(backend):
    mask = X > 0
    source = values(np.float64, [], shape=(5, 6), seed=8)
    compare(lambda m, t, k, s: t.masked_scatter(k, s), X, mask, source)
    compare(lambda m, t, k, s: (t * 1).masked_scatter_(k, s), X, mask, source,
            layout="transposed")
    compare(lambda m, t, k, s: m.masked_scatter(t, k, s), X[0], mask, source)     # broadcast
    same_error(lambda m: m.ones(3).masked_scatter(m.tensor([1, 0, 1]), m.ones(3)))
    same_error(lambda m: m.ones(3).masked_scatter(m.ones(3) > 0, m.ones(2)))


def test_select_slice_diagonal_scatter(backend):
    compare(lambda m, t, s: t.select_scatter(s, 0, -1), X, X[0] * 3)
    compare(lambda m, t, s: m.select_scatter(t, s, 1, 2), X, X[:, 0] * 3, layout="transposed")
    compare(lambda m, t, s: t.slice_scatter(s, 1, 1, 6, 2), X, X[:, :3] + 1)
    compare(lambda m, t, s: m.slice_scatter(t, s), X, X + 1)
    compare(lambda m, t, s: m.slice_scatter(t, s, 0, None, 2), X, X[:2] + 1)
    for offset, d1, d2 in ((0, 0, 1), (2, 0, 1), (-1, 1, 0)):
        n = torch.tensor(X).diagonal(offset, d1, d2).shape[0]
        compare(lambda m, t, s: t.diagonal_scatter(s, offset, d1, d2), X,
                np.arange(n, dtype=np.float64))
    compare(lambda m, t, s: m.diagonal_scatter(t, s, 1), X, np.arange(4.0), layout="strided")
    same_error(lambda m: m.ones(2, 3).select_scatter(m.ones(2), 0, 0), message=True)
    same_error(lambda m: m.ones(2, 3).slice_scatter(m.ones(2, 2), 1, 0, 1), message=True)
    same_error(lambda m: m.ones(2, 3).diagonal_scatter(m.ones(3)), message=True)


def test_diagflat_flips_rot90(backend):
    for offset in (0, 2, -1):
        compare(lambda m, t: m.diagflat(t, offset), X[:2, :3])
        compare(lambda m, t: t.diagflat(offset), np.array(2.0))
    compare(lambda m, t: m.fliplr(t), X, layout="transposed")
    compare(lambda m, t: t.flipud(), X)
    x3 = values(np.float64, [], shape=(2, 3, 4))
    for k in (1, 2, 3, 4, -1, -6):
        for dims in ((0, 1), (1, 0), (2, 0), (-1, 1)):
            compare(lambda m, t: m.rot90(t, k, dims), x3)
    compare(lambda m, t: t.rot90(), X, layout="transposed")
    same_error(lambda m: m.fliplr(m.ones(3)), message=True)
    same_error(lambda m: m.flipud(m.tensor(1.0)), message=True)
    same_error(lambda m: m.rot90(m.ones(3)), message=True)
    same_error(lambda m: m.rot90(m.ones(2, 2), 1, [0, 0]), message=True)
    same_error(lambda m: m.rot90(m.ones(2, 2), 1, [0]), message=True)


def test_at_least_and_stacks(backend):
    shapes = [(), (3,), (2, 3), (2, 3, 4)]
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for s in shapes:
            compare(lambda m, t: getattr(m, name)(t), values(np.float64, [], shape=s))
        for m in (cgrad, torch):
            ts = [m.ones(s) for s in shapes]
            ours = getattr(m, name)(*ts)
            assert [tuple(t.shape) for t in ours] == \
                [tuple(t.shape) for t in getattr(torch, name)(*[torch.ones(s) for s in shapes])]
            assert len(getattr(m, name)(ts)) == 4
            assert getattr(m, name)(ts[3]) is ts[3]
    a, b, c = (values(np.float64, [], shape=s, seed=k) for k, s in
               enumerate([(3,), (3, 2), (3, 1)]))
    compare(lambda m, x, y, z: m.column_stack([x, y, z]), a, b, c)
    compare(lambda m, x, y: m.row_stack([x, y]), a, b.T.copy())
    compare(lambda m, x, y: m.dstack([x, y]), a, a * 2)
    compare(lambda m, x, y: m.dstack((x, y)), b, b * 2)
    compare(lambda m, x, y: m.dstack([x]), b, b)
    s0, s1 = (values(np.float64, [], shape=(), seed=k) for k in (5, 6))
    compare(lambda m, x, y: m.hstack([x, y]), s0, s1)            # 0-d ones as 1-d: joined
    compare(lambda m, x, y: m.hstack((x, y)), s0, a)


def test_block_diag_cartesian_prod_combinations(backend):
    mats = [values(np.float64, [], shape=s, seed=k) for k, s in
            enumerate([(2, 2), (3,), (), (1, 3), (0, 2)])]
    compare(lambda m, *ts: m.block_diag(*ts), *mats, names=False)   # (PyTorch's: one node)
    compare(lambda m, x, y: m.block_diag(x, y), np.ones((1, 1), np.float32),
            np.array([[3, 4]]), grad=False)
    same_error(lambda m: m.block_diag(m.ones(2, 2, 2)), message=True)
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array([-1.0])
    compare(lambda m, x, y, z: m.cartesian_prod(x, y, z), a, b, c)
    compare(lambda m, x: m.cartesian_prod(x), a)
    for r in (0, 1, 2, 3, 5):
        for rep in (False, True):
            compare(lambda m, x: m.combinations(x, r, with_replacement=rep), b)
    compare(lambda m, x: m.combinations(x), np.array([1, 2, 3, 4]), grad=False)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_and_broadcasting(backend, indexing):
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array(7.0)
    for k in range(3):
        compare(lambda m, x, y, z: m.meshgrid(x, y, z, indexing=indexing)[k], a, b, c,
                names=False)
        compare(lambda m, x, y, z: m.meshgrid([x, y, z], indexing=indexing)[k], a, b, c,
                names=False)
    with pytest.warns(UserWarning):              # (PyTorch's: once a process)
        assert cgrad.meshgrid(cgrad.ones(2), cgrad.ones(3))[0].shape == (2, 3)
    same_error(lambda m: m.meshgrid(m.ones(2, 2), indexing=indexing))
    same_error(lambda m: m.meshgrid(m.ones(2), indexing="ab"), message=True)
    shapes = [(3, 1), (4,), (2, 1, 1), ()]
    arrays = [values(np.float64, [], shape=s, seed=k) for k, s in enumerate(shapes)]
    for k in range(4):
        compare(lambda m, *ts: m.broadcast_tensors(*ts)[k], *arrays)
    for case in ([(2, 1), (3,)], [(1,), 4, ()], [(0, 1), (3,)], [], [(5, 1, 3), (2, 1)]):
        assert tuple(cgrad.broadcast_shapes(*case)) == tuple(torch.broadcast_shapes(*case))
    same_error(lambda m: m.broadcast_shapes((2, 1), (3, 4)), message=True)
    same_error(lambda m: m.broadcast_tensors(m.ones(2, 3), m.ones(3, 2)))


def test_indices_vander_logspace(backend):
    for row, col, offset in ((3, 4, 1), (3, 3, -1), (4, 2, 0), (0, 3, 0), (3, 3, 5)):
        for name in ("tril_indices", "triu_indices"):
            compare(lambda m: getattr(m, name)(row, col, offset), grad=False)
            compare(lambda m: getattr(m, name)(row, col, offset, dtype=m.int32), grad=False)
    for n in (None, 0, 1, 2, 5):
        for inc in (False, True):
            # (PyTorch's own backward of vander fails: its cumprod saw an in-place change)
            compare(lambda m, x: m.vander(x, N=n, increasing=inc), np.array([1.5, -2.0, 0.5]),
                    grad=False)
            compare(lambda m, x: m.vander(x, n, inc), np.array([1, 2, 3], np.int32), grad=False)
    same_error(lambda m: m.vander(m.ones(2, 2)), message=True)
    assert cgrad.autograd.gradcheck(lambda x: cgrad.vander(x, 4), (cgrad.tensor(
        [1.5, -2.0, 0.5], dtype=cgrad.float64, requires_grad=True),))
    for args in ((0, 2, 3), (-1, 1.5, 5, 2.0), (2, 0, 4, 3), (0, 1, 1), (0, 1, 0)):
        compare(lambda m: m.logspace(*args), grad=False)
        compare(lambda m: m.logspace(*args, dtype=m.float64), grad=False)


@pytest.mark.parametrize("dim", [-1, 0])
def test_trapezoid(backend, dim):
    y = values(np.float64, [], shape=(3, 5))
    x1 = np.sort(values(np.float64, [], shape=(y.shape[dim],), seed=2))
    for name in ("trapezoid", "trapz", "cumulative_trapezoid"):
        fn = getattr(cgrad, name)
        assert fn is not None
        # (names: PyTorch multiplies by the spacing as a Scalar, MulBackward1)
        compare(lambda m, t: getattr(m, name)(t, dim=dim), y, names=False)
        compare(lambda m, t: getattr(m, name)(t, dx=0.5, dim=dim), y, layout="transposed",
                names=False)
        compare(lambda m, t, x: getattr(m, name)(t, x, dim=dim), y, x1, names=False)
        compare(lambda m, t, x: getattr(m, name)(t, x, dim=dim), y, y * 2 + 1, names=False)
        compare(lambda m, t: getattr(m, name)(t, dim=dim), np.arange(15).reshape(3, 5),
                grad=False)
        compare(lambda m, t: getattr(m, name)(t), np.zeros((2, 0)))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient(backend, edge_order):
    """torch.gradient: every dim, one dim, per-dim spacings and coordinates, integers;
    values, dtypes and gradients (of each estimate, and of their weighted sum)"""
    y = values(np.float64, [], shape=(3, 5))
    x0 = np.array([0.0, 1.0, 3.0])
    x1 = np.sort(values(np.float64, [], shape=(5,), seed=2))
    for k in range(2):
        compare(lambda m, t: m.gradient(t, edge_order=edge_order)[k], y, names=False)
        compare(lambda m, t: m.gradient(t, spacing=[0.5, 2.0], edge_order=edge_order)[k], y,
                layout="transposed", names=False)
        compare(lambda m, t, a, b: m.gradient(t, spacing=(a, b), edge_order=edge_order)[k],
                y, x0, x1, names=False)
    compare(lambda m, t: m.gradient(t, spacing=2.0, dim=-1, edge_order=edge_order)[0], y,
            names=False)
    compare(lambda m, t, x: sum(m.gradient(t, spacing=[x], dim=[1], edge_order=edge_order)),
            y, x1, names=False)
    compare(lambda m: m.gradient(m.tensor([1, 2, 4, 7]), edge_order=edge_order)[0], grad=False)
    assert cgrad.gradient(cgrad.tensor(3.0)) == ()
    same_error(lambda m: m.gradient(m.ones(2, 4), dim=0, edge_order=2), message=True)
    same_error(lambda m: m.gradient(m.ones(2, 4), edge_order=3), message=True)
    same_error(lambda m: m.gradient(m.ones(2, 4), spacing=[1.0, 2.0, 3.0]), message=True)
    with pytest.raises(RuntimeError, match="coordinates of dim 1"):    # (torch computes on)
        cgrad.gradient(cgrad.ones(2, 4), spacing=[cgrad.tensor([0.0, 1.0, 2.0])], dim=1)


def test_unravel_index_and_unflatten(backend):
    for idx in ([5, 11, 0], [[3], [7]], 4, [12, -1]):
        for k in range(2):
            compare(lambda m: m.unravel_index(m.tensor(idx), (3, 4))[k], grad=False)
    compare(lambda m: m.unravel_index(m.tensor([5, 23]), (2, 3, 4))[2], grad=False)
    same_error(lambda m: m.unravel_index(m.tensor([1.0]), (3, 4)))
    compare(lambda m, t: m.unflatten(t, 1, (2, 3)), X)


@pytest.mark.filterwarnings("ignore:Using torch.cross without")
@pytest.mark.parametrize("call", [
    lambda m: m.zeros(2, 3).masked_scatter(m.ones(4, dtype=m.bool), m.zeros(9)),
    lambda m: m.take_along_dim(m.zeros(2, 3), m.zeros(4, 1, dtype=m.int64), 1),
    lambda m: m.cross(m.zeros(2, 3), m.zeros(3, 3)),
    lambda m: m.cross(m.ones(2, 3, dtype=m.bool), m.ones(2, 3, dtype=m.bool), dim=1),
    lambda m: m.linalg.cross(m.ones(2, 3, dtype=m.bool), m.ones(2, 3, dtype=m.bool))])
def test_shape_and_dtype_errors_are_pytorchs(backend, call):
    """masked_scatter, take_along_dim and cross(dim=None) of shapes that do not broadcast let
    NumPy's ValueError out, cross of bools NumPy's TypeError: now PyTorch's errors"""
    same_error(call, message=True)


def test_advanced_indexing_of_a_row_major_tensor_is_row_major(backend):
    """x[:, idx], index_select along a middle dim and masks came out with NumPy's layout (the
    indexed dim outermost), so .view(-1) of them raised where PyTorch's row-major result
    views fine"""
    results = []
    for m in (cgrad, torch):
        x = m.arange(24.0).reshape(2, 3, 4)
        rs = [x[:, [0, 1, 1]], x[:, [0, 1], 1:], x.index_select(1, m.tensor([0, 2])),
              x[:, m.tensor([True, False, True])], x[:, [[0], [1]]], x[..., [0, 1]],
              x[:, 1:, [0, 3]], x.index_select(2, m.tensor([0, 3]))]
        results.append([(r.stride(), r.view(-1).tolist()) for r in rs])
    assert results[0] == results[1]
