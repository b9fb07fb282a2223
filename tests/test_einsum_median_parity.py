"""einsum, median/nanmedian, quantile/nanquantile, kthvalue and mode against PyTorch: values,
dtypes, grad_fn names, gradients of sum(out * w) (test_more_ops' compare) on both backends,
float32 and float64, contiguous, transposed and strided inputs, zero-size inputs, ties and
NaN, second derivatives, and the errors (class, and message where cgrad words it as
PyTorch)."""
import numpy as np
import pytest

import cgrad
from test_more_ops import DTYPES, LAYOUTS, NAN, compare, same_error
from test_more_ops_parity import second_derivatives

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def same_message(fn):
    """the same exception class and message for cgrad as for torch"""
    same_error(fn, message=True)


def randn(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- einsum ---------------------------------------------------------------------------------
EINSUM = [  # (equation, operand shapes)
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),                        # implicit output
    ("i j , j k -> i k", [(2, 3), (3, 4)]),             # spaces
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii->i", [(3, 3)]),                                # a diagonal
    ("ii", [(3, 3)]),                                   # the trace
    ("iij->ji", [(3, 3, 2)]),
    ("i,j->ij", [(3,), (4,)]),                          # an outer product
    ("i,i", [(4,), (4,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("ij,ij->ij", [(2, 3), (1, 3)]),                    # a size-1 dim broadcasts
    ("ij,j", [(2, 3), (1,)]),
    ("bij,bjk->bik", [(4, 2, 3), (4, 3, 5)]),
    ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (1, 3, 4)]),     # a broadcast ellipsis
    ("...ij,...jk", [(5, 2, 3), (3, 4)]),
    ("b...,b...->b...", [(2, 3, 4), (2, 1, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 2)]),
    ("Ab,bA->A", [(3, 2), (2, 3)]),                     # capitals sort before small letters
    ("aBc,cBa", [(2, 3, 4), (4, 3, 2)]),
    ("ij,kj->ikj", [(2, 3), (4, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),         # 3 operands, left to right
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("", [()]),
    ("->", [()]),
    (",i->i", [(), (3,)]),
]
EMPTY = [("ij,jk->ik", [(0, 3), (3, 4)]), ("ij,jk->ik", [(2, 0), (0, 4)]),
         ("i,i", [(0,), (0,)]), ("ij->j", [(0, 3)]), ("ii->i", [(0, 0)]),
         ("...ij,...jk", [(0, 2, 3), (3, 4)])]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("equation, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum(backend, equation, shapes, dtype, layout):
    arrays = [randn(*s, dtype=dtype, seed=k) for k, s in enumerate(shapes)]
    compare(lambda m, *ts: m.einsum(equation, *ts), *arrays, layout=layout)
    compare(lambda m, *ts: m.einsum(equation, list(ts)), *arrays, layout=layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("equation, shapes", EMPTY, ids=[e for e, _ in EMPTY])
def test_einsum_zero_size(backend, equation, shapes, dtype):
    compare(lambda m, *ts: m.einsum(equation, *ts),
            *[randn(*s, dtype=dtype) for s in shapes])


def test_einsum_sublists_integers_and_dtypes(backend):
    a, b = randn(2, 3), randn(3, 4)
    compare(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    compare(lambda m, x, y: m.einsum(x, [Ellipsis, 1], y, [1, 27]), randn(5, 2, 3), b)
    ints = np.arange(6).reshape(2, 3)
    compare(lambda m, x, y: m.einsum("ij,jk->ik", x, y), ints, ints.T.copy(), grad=False)
    compare(lambda m, x: m.einsum("ii", x), np.arange(9).reshape(3, 3), grad=False)
    # a product promotes (no contraction); bmm refuses two dtypes
    compare(lambda m, x, y: m.einsum("i,i->i", x, y), randn(3), randn(3, dtype=np.float32))
    same_message(lambda m: m.einsum("ij,jk", m.ones(2, 3, dtype=m.float64), m.ones(3, 4)))


def test_einsum_second_derivatives():
    second_derivatives(lambda m, x, y: m.einsum("ij,jk->ik", x, y) * x.sum(), randn(2, 3),
                       randn(3, 4))
    second_derivatives(lambda m, x, y: m.einsum("bii,bi->b", x * x, y), randn(2, 3, 3),
                       randn(2, 3))
    second_derivatives(lambda m, x, y: m.einsum("i,j,ij->", x, y, x[:, None] * y), randn(3),
                       randn(2))


EINSUM_ERRORS = [
    ("ij,jk->ik", [(2, 3)]),                   # fewer operands than the equation has
    ("ij,jk->ik", [(2, 3), (3, 4), (4, 5)]),   # more
    ("ijk,jk->ik", [(2, 3), (3, 4)]),          # subscripts against ndim
    ("ijkl...,j->i", [(2, 3), (3,)]),          # more subscripts than dims, with an ellipsis
    ("ij,ik->jk", [(2, 3), (3, 4)]),           # one label, two sizes
    ("ii->i", [(2, 3)]),                       # a repeated label, two sizes
    ("...ij,...jk", [(5, 2, 3), (2, 3, 4)]),   # ellipsis dims that do not broadcast
    ("ij,jk->iz", [(2, 3), (3, 4)]),           # an output label not in the inputs
    ("ij->ii", [(2, 3)]),                      # an output label twice
    ("i1,jk->", [(2, 3), (3, 4)]),             # not a letter
    ("ij,jk->i?", [(2, 3), (3, 4)]),
    ("..ij", [(2, 3)]),                        # a broken ellipsis
    ("...i...", [(2, 3)]),
    ("ij->..", [(2, 3)]),
    ("...ij->......", [(2, 3)]),
]


@pytest.mark.parametrize("equation, shapes", EINSUM_ERRORS, ids=[e for e, _ in EINSUM_ERRORS])
def test_einsum_errors(equation, shapes):
    same_message(lambda m: m.einsum(equation, *[m.ones(*s) for s in shapes]))


def test_einsum_argument_errors():
    same_message(lambda m: m.einsum("ij,jk->ik"))                     # no operand
    same_message(lambda m: m.einsum("ij,jk->ik", []))
    same_message(lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), 3))    # not a tensor
    same_message(lambda m: m.einsum(m.ones(2), [52]))                 # sublist out of range
    same_error(lambda m: m.einsum("ij", m.ones(2, 3)).backward())     # not a scalar


# ---- median, nanmedian ----------------------------------------------------------------------
def ties(dtype, shape=(4, 7), seed=0, nan=0.0):
    """small integers (many ties) as dtype, a share of them NaN"""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, shape).astype(dtype)
    a[rng.random(shape) < nan] = NAN
    return a


MEDIAN_INPUTS = {
    "distinct": lambda dtype: randn(4, 7, dtype=dtype),
    "ties": lambda dtype: ties(dtype),
    "even": lambda dtype: ties(dtype, (6, 4), seed=1),
    "nan": lambda dtype: ties(dtype, seed=2, nan=0.3),
    "all_nan_rows": lambda dtype: np.concatenate([ties(dtype, (2, 7), seed=3, nan=0.5),
                                                  np.full((2, 7), NAN, dtype)]),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs", sorted(MEDIAN_INPUTS))
@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median(backend, name, inputs, dtype, layout):
    x = MEDIAN_INPUTS[inputs](dtype)
    compare(lambda m, t: getattr(t, name)(), x, layout=layout)
    compare(lambda m, t: getattr(m, name)(t), x, layout=layout)
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            for part in (0, 1):            # values, and indices (PyTorch's choice among ties)
                compare(lambda m, t: getattr(t, name)(dim, keepdim)[part], x, layout=layout)
        compare(lambda m, t: getattr(m, name)(t, dim=dim, keepdim=True).values, x,
                layout=layout)


@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_edges(backend, name):
    def both(fn, x, **kw):
        for part in (0, 1):
            compare(lambda m, t: fn(m, t)[part], x, **kw)
    x = np.full((1, 33), NAN)                 # an all-NaN row: nth_element's index
    x[0, 5] = 1.0
    both(lambda m, t: getattr(t, name)(1), x)
    for n in (1, 2, 3, 4, 5, 9, 64, 101):
        both(lambda m, t: getattr(t, name)(0), np.full(n, NAN))
    both(lambda m, t: getattr(t, name)(0), np.array(2.5))             # 0-d
    both(lambda m, t: getattr(t, name)(-1, True), np.array(2.5))
    both(lambda m, t: getattr(t, name)(1), np.zeros((0, 3)))          # empty, reduced dim not
    compare(lambda m, t: getattr(t, name)(), np.zeros((0, 3)))        # NaN
    compare(lambda m, t: getattr(t, name)(), np.array(2.5))
    both(lambda m, t: getattr(t, name)(1), np.array([[-0.0, 0.0, -0.0, 0.0]]))
    both(lambda m, t: getattr(t, name)(0), ties(np.float64, (200, 3)))
    compare(lambda m, t: getattr(t, name)(), ties(np.float64, (20, 11), nan=0.1))
    ints = np.array([[3, 1, 2, 1], [5, 2, 2, 0]])
    for dtype in (np.int64, np.int32, np.uint8):
        compare(lambda m, t: getattr(t, name)(), ints.astype(dtype))
        both(lambda m, t: getattr(t, name)(1), ints.astype(dtype))
    same_message(lambda m: getattr(m.ones(2, 0), name)(1))
    same_message(lambda m: getattr(m.ones(2, 3), name)(2))
    same_message(lambda m: getattr(m.tensor([True, False]), name)())
    same_message(lambda m: getattr(m.tensor([True, False]), name)(0))
    same_error(lambda m: getattr(m.ones(3), name)(None))
    same_error(lambda m: getattr(m.ones(3), name)(keepdim=True))


def test_median_results_and_second_derivatives():
    r = cgrad.tensor([[3.0, 1.0, 2.0, 1.0]]).median(1)
    assert type(r).__name__ == "median" and r.indices.tolist() == [3]
    assert type(cgrad.ones(2).nanmedian(0)).__name__ == "nanmedian"
    x, nan = ties(np.float64, (3, 5)) + 0.5, ties(np.float64, (3, 5), nan=0.2) + 0.5
    second_derivatives(lambda m, t: t.median(1).values * t.sum(1), x)
    second_derivatives(lambda m, t: t.median() * t, x)
    second_derivatives(lambda m, t: t.nanmedian(0).values ** 3, nan)
    second_derivatives(lambda m, t: t.nanmedian() ** 3, nan)


# ---- quantile, nanquantile ------------------------------------------------------------------
# (rows of at most 16 where values tie: PyTorch's default sort, which quantile uses, is stable
# only up to 16 elements, and the tied element it puts first is the one the gradient goes to)
QUANTILE_INPUTS = {
    "distinct": lambda dtype: randn(6, 7, dtype=dtype),
    "ties": lambda dtype: ties(dtype, (3, 5), seed=4),
    "nan": lambda dtype: np.concatenate([ties(dtype, (2, 5), seed=5, nan=0.3),
                                         np.full((1, 5), NAN, dtype)]),
}
INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs", sorted(QUANTILE_INPUTS))
@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantile(backend, name, inputs, dtype, layout):
    x = QUANTILE_INPUTS[inputs](dtype)
    qs = np.array([0.0, 0.3, 0.5, 0.75, 1.0], dtype)
    for interpolation in INTERPOLATIONS:
        for dim, keepdim in ((None, False), (None, True), (0, False), (1, True), (-1, False)):
            def fn(m, t, q=None):
                return getattr(t, name)(0.3 if q is None else q, dim, keepdim,
                                        interpolation=interpolation)
            compare(fn, x, layout=layout)
            compare(fn, x, qs, layout=layout)           # q a tensor, with its gradient
    compare(lambda m, t: getattr(m, name)(t, 1.0, dim=0), x, layout=layout)
    compare(lambda m, t: getattr(m, name)(t, 0, 1, True, interpolation="lower"), x,
            layout=layout)


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantile_edges_and_errors(backend, name):
    def q(m, t, *args, **kw):
        return getattr(t, name)(*args, **kw)
    compare(lambda m, t: q(m, t, 0.3), np.array(2.5))                       # 0-d
    compare(lambda m, t: q(m, t, 0.3, 0, True), np.array(2.5))
    compare(lambda m, t, p: q(m, t, p, keepdim=True), np.array(2.5), np.array([0.2, 0.8]))
    compare(lambda m, t, p: q(m, t, p), randn(3, 4), np.array(0.4))        # a 0-d q tensor
    compare(lambda m, t, p: q(m, t, p, 1), randn(3, 4), np.zeros(0))       # no q
    compare(lambda m, t: q(m, t, 0.5, 1), np.array([[-np.inf, 1.0, np.inf, 2.0]]))
    compare(lambda m, t: q(m, t, 1), randn(5))                             # an int q
    for fn in (lambda m: q(m, m.ones(3, 4), 1.5),                          # q out of range
               lambda m: q(m, m.ones(3, 4), -0.1),
               lambda m: q(m, m.ones(3, 4), NAN),
               lambda m: q(m, m.ones(3, 4), m.tensor([0.5, 1.5])),
               lambda m: q(m, m.ones(3, 4), 0.5, interpolation="foo"),
               lambda m: q(m, m.ones(3, 4), 1.5, interpolation="foo"),       # q first
               lambda m: q(m, m.ones(3, 4), m.tensor([0.5, 1.5]), interpolation="foo"),
               lambda m: q(m, m.ones(0), 0.5, dim=3),                      # empty, then dim
               lambda m: q(m, m.ones(3, 0), 0.5, dim=0),                   # empty elsewhere
               lambda m: q(m, m.ones(3, 4), m.ones(2, 2) / 2),             # a 2-d q
               lambda m: q(m, m.ones(3, 4, dtype=m.int64), 0.5, dim=4),    # integers
               lambda m: q(m, m.ones(3, 4, dtype=m.float16), 0.5),
               lambda m: q(m, m.ones(3, 4), m.ones(2, dtype=m.float64) / 2, dim=4),
               lambda m: q(m, m.ones(3, 4), m.tensor([2.0]), dim=4),        # dim, then range
               lambda m: q(m, m.ones(3, 4), m.tensor(1))):
        same_message(fn)


def test_quantile_second_derivatives():
    x = randn(3, 5)
    second_derivatives(lambda m, t: t.quantile(0.3, 1) * t.sum(1), x)
    second_derivatives(lambda m, t, p: t.nanquantile(p, 0) * t.sum(0) * p[:, None], x,
                       np.array([0.2, 0.9]))


# ---- kthvalue -------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs", sorted(MEDIAN_INPUTS))
def test_kthvalue(backend, inputs, dtype, layout):
    x = MEDIAN_INPUTS[inputs](dtype)
    for k, dim in ((1, 0), (3, 0), (4, 0), (1, -1), (2, 1), (4, 1)):
        for keepdim in (False, True):
            for part in (0, 1):            # values, and indices (PyTorch's choice among ties)
                compare(lambda m, t: t.kthvalue(k, dim, keepdim)[part], x, layout=layout)
    compare(lambda m, t: m.kthvalue(t, 2).values, x, layout=layout)
    compare(lambda m, t: t.kthvalue(k=3, dim=0, keepdim=True).values, x, layout=layout)


def test_kthvalue_ties_edges_and_errors(backend):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, (40, 37)).astype(np.float64)    # long rows of ties: quickselect
    x[rng.random(x.shape) < 0.1] = NAN
    for k in (1, 5, 19, 33, 37):
        for part in (0, 1):
            compare(lambda m, t: t.kthvalue(k, 1)[part], x)
            compare(lambda m, t: t.kthvalue(k)[part], np.ascontiguousarray(x.T[:, :37]))
    for part in (0, 1):
        compare(lambda m, t: t.kthvalue(1, 0)[part], np.array(2.5))        # 0-d
        compare(lambda m, t: t.kthvalue(2, 0)[part], np.zeros((3, 0)))     # empty
        compare(lambda m, t: t.kthvalue(2, 1)[part], np.array([[3, 1, 2, 1]]))
    assert type(cgrad.ones(3).kthvalue(1)).__name__ == "kthvalue"
    for fn in (lambda m: m.ones(2, 3).kthvalue(4, 1), lambda m: m.ones(2, 3).kthvalue(0),
               lambda m: m.tensor(2.0).kthvalue(2), lambda m: m.ones(2, 0).kthvalue(1, 1),
               lambda m: m.ones(2, 0).kthvalue(5, 1), lambda m: m.ones(2, 3).kthvalue(1, 2),
               lambda m: m.tensor([True]).kthvalue(1)):
        same_message(fn)
    second_derivatives(lambda m, t: t.kthvalue(2, 1).values * t.sum(1), randn(3, 4))


# ---- mode -----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs", sorted(MEDIAN_INPUTS))
def test_mode(backend, inputs, dtype, layout):
    x = MEDIAN_INPUTS[inputs](dtype)
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            for part in (0, 1):            # values, and indices (PyTorch's choice among ties)
                compare(lambda m, t: t.mode(dim, keepdim)[part], x, layout=layout)
    compare(lambda m, t: m.mode(t).values, x, layout=layout)
    compare(lambda m, t: t.mode(dim=0, keepdim=True).indices, x, layout=layout)


MODE_ROWS = {   # rows past 16 elements, where std::sort's introsort leaves ties unordered
    "ties": lambda rng: rng.integers(0, 6, (30, 41)).astype(np.float64),
    "nan": lambda rng: np.where(rng.random((30, 41)) < 0.2, NAN,
                                rng.integers(-3, 3, (30, 41))).astype(np.float32),
    "signed_zeros": lambda rng: np.where(rng.random((30, 41)) < 0.5, -0.0,
                                         rng.integers(0, 3, (30, 41))).astype(np.float64),
    "int64": lambda rng: rng.integers(0, 9, (30, 200)),
    "bool": lambda rng: rng.random((30, 17)) < 0.5,
    "sorted": lambda rng: np.repeat(np.arange(100.0), 3)[None].repeat(2, 0),
}


@pytest.mark.parametrize("inputs", sorted(MODE_ROWS))
def test_mode_long_rows_ties_and_nan(backend, inputs):
    x = MODE_ROWS[inputs](np.random.default_rng(7))
    for part in (0, 1):
        compare(lambda m, t: t.mode(1)[part], x, grad=x.dtype.kind == "f")
        compare(lambda m, t: t.mode(0)[part], np.ascontiguousarray(x[:, :20]),
                grad=x.dtype.kind == "f")
    got = cgrad.from_numpy(x).mode(1).values.numpy()
    assert np.array_equal(np.signbit(got), np.signbit(torch.from_numpy(x).mode(1).values.numpy()))


# std::sort of (key, index) pairs by key as PyTorch's sort (NaN the largest) and mode (a plain
# <) compare them; "killer" first builds an input on which introsort's median-of-three pivots
# degrade until it heap-sorts (McIlroy's adversary: undecided elements are "gas" until a
# comparison must freeze one)
SORT_ORACLE = r"""
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
static std::vector<long> val; static long gas, solid = 0, candidate = 0;
static bool adversary(long x, long y) {
    if (val[x] == gas && val[y] == gas) val[x == candidate ? x : y] = solid++;
    if (val[x] == gas) candidate = x; else if (val[y] == gas) candidate = y;
    return val[x] < val[y];
}
int main(int argc, char** argv) {
    if (argc > 1) {                       /* killer n: print the adversary's input */
        long n = atol(argv[1]); gas = n; val.assign(n, gas);
        std::vector<long> ix(n); for (long i = 0; i < n; i++) ix[i] = i;
        std::sort(ix.begin(), ix.end(), adversary);
        for (long v : val) printf("%ld ", v);
        return 0;
    }
    long n, k; int how, sorted; std::vector<std::pair<double, long>> a;
    if (scanf("%d %ld %d %ld", &how, &k, &sorted, &n) != 4) return 1;
    a.resize(n);
    for (long i = 0; i < n; i++) { if (scanf("%lf", &a[i].first) != 1) return 1; a[i].second = i; }
    auto less = [how](const std::pair<double, long>& p, const std::pair<double, long>& q) {
        double x = p.first, y = q.first;
        return how == 0 ? (!std::isnan(x) && std::isnan(y)) || x < y
             : how == 1 ? (std::isnan(x) && !std::isnan(y)) || x > y : x < y; };
    if (k == 0) std::sort(a.begin(), a.end(), less);          /* else topk as PyTorch's */
    else if (k * 64 <= n) std::partial_sort(a.begin(), a.begin() + k, a.end(), less);
    else {
        std::nth_element(a.begin(), a.begin() + k - 1, a.end(), less);
        if (sorted) std::sort(a.begin(), a.begin() + k - 1, less);
    }
    if (k) a.resize(k);
    for (auto& p : a) printf("%ld ", p.second);
}
"""


def test_sort_order_against_std_sort(backend, tmp_path):
    """the kernels' sort_order and topk_order (the orders of PyTorch's sort, quantile, mode
    and topk) against libstdc++'s std::sort, std::partial_sort and std::nth_element
    themselves: ties, NaN, sizes around the 16-element insertion sort, and inputs that drive
    introsort into its heapsort"""
    import shutil
    import subprocess
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler to build the std::sort oracle")
    (tmp_path / "sort.cpp").write_text(SORT_ORACLE)
    exe = str(tmp_path / "sort")
    subprocess.run(["g++", "-O1", "-std=c++14", "-o", exe, str(tmp_path / "sort.cpp")],
                   check=True)

    def std_sort(values, how, k=0, sorted=1):
        text = f"{how} {k} {sorted} {len(values)} " + " ".join(repr(float(v)) for v in values)
        out = subprocess.run([exe], input=text, capture_output=True, text=True, check=True)
        return [int(i) for i in out.stdout.split()]
    rng = np.random.default_rng(3)
    inputs = []
    for n in (1, 2, 15, 16, 17, 33, 100, 600):
        a = rng.integers(0, max(2, n // 4), n).astype(float)
        inputs += [a, np.where(rng.random(n) < 0.15, NAN, a)]
    for n in (200, 1000):
        killer = subprocess.run([exe, str(n)], capture_output=True, text=True, check=True)
        values = np.array(killer.stdout.split(), float)
        inputs += [values, values // 3]     # both heap-sort some part (checked when written)
    kernels = cgrad.backends.kernels
    for values in inputs:
        for how, compare in enumerate(("ascending", "descending", "less")):
            for dtype in (np.float32, np.float64):
                order = kernels.sort_order(values.astype(dtype)[None], compare)
                assert order[0].tolist() == std_sort(values, how), (compare, len(values))
        n = len(values)
        for k in sorted({1, n // 64, n // 3, n} - {0}):       # partial_sort, nth_element
            for largest, sorted_ in ((True, 1), (False, 1), (True, 0)):
                order = kernels.topk_order(values[None], k, largest, bool(sorted_))
                assert order[0].tolist() == std_sort(values, int(largest), k, sorted_)


def test_mode_edges_and_errors(backend):
    for part in (0, 1):
        compare(lambda m, t: t.mode()[part], np.array(2.5))                  # 0-d
        compare(lambda m, t: t.mode(0)[part], np.zeros((2, 0)))              # empty result
        compare(lambda m, t: t.mode(0)[part], np.array([7.0]))
        compare(lambda m, t: t.mode(0)[part], np.array([2.0, 0.0, -0.0, 2.0]))
        compare(lambda m, t: t.mode(0)[part], np.array([NAN, 1.0, NAN]))
    assert type(cgrad.ones(3).mode()).__name__ == "mode"
    assert repr(cgrad.tensor([1.0, 2.0, 2.0]).mode()).startswith("cgrad.return_types.mode(")
    for fn in (lambda m: m.ones(0).mode(), lambda m: m.ones(2, 0).mode(1),
               lambda m: m.ones(2).mode(2)):
        same_message(fn)
    second_derivatives(lambda m, t: t.mode(1).values * t.sum(1), ties(np.float64, (3, 5)))
