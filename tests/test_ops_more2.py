"""In-place random samplers (bernoulli_, random_, exponential_, ...), multinomial, poisson and
normal's tensor forms, tested by their statistics, shapes, dtypes and errors; the addmm family
(addmv, addr, baddbmm, addbmm), put, fill_diagonal_, index_reduce, renorm, frexp, histogram,
isposinf/isneginf/isreal, sum_to_size and the byte/char/short conversions against PyTorch,
on both backends."""
import numpy as np
import pytest

import cgrad
from test_more_ops import compare, same_error

torch = pytest.importorskip("torch")

N = 20000          # draws per statistic: the tolerances below are > 5 standard errors


def _arr(shape, seed=0, dtype=np.float64, low=-2, high=2):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


# ---- random samplers --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_place_samplers_statistics(backend, dtype):
    dt = getattr(cgrad, dtype)
    cases = [  # (fill, mean, variance)
        (lambda t: t.bernoulli_(0.3), 0.3, 0.21),
        (lambda t: t.random_(3, 7), 4.5, 1.25),
        (lambda t: t.random_(5), 2.0, 2.0),
        (lambda t: t.exponential_(2.0), 0.5, 0.25),
        (lambda t: t.geometric_(0.25), 4.0, 12.0),
        (lambda t: t.log_normal_(0.0, 0.5), np.exp(0.125), (np.exp(0.25) - 1) * np.exp(0.25)),
        (lambda t: t.normal_(1.0, 2.0), 1.0, 4.0),
        (lambda t: t.uniform_(-1.0, 3.0), 1.0, 16 / 12),
    ]
    for fill, mean, var in cases:
        t = cgrad.zeros(N, dtype=dt)
        version = t._version
        assert fill(t) is t and t.dtype == dt and t._version == version + 1
        x = t.numpy().astype(np.float64)
        assert abs(x.mean() - mean) < 6 * np.sqrt(var / N), (fill, x.mean())
        assert abs(x.var() / var - 1) < 0.1, (fill, x.var())
    x = cgrad.zeros(N).random_(3, 7).numpy()
    assert set(np.unique(x)) == {3, 4, 5, 6}
    assert (cgrad.zeros(N).geometric_(0.5).numpy() >= 1).all()
    c = cgrad.zeros(N).cauchy_(2.0, 0.5).numpy()          # median and quartiles 2 -+ 0.5
    assert np.allclose(np.percentile(c, [25, 50, 75]), [1.5, 2.0, 2.5], atol=0.05)
    # a tensor of probabilities, and integer and bool tensors
    p = cgrad.tensor([0.0, 1.0, 0.5]).expand(N, 3)
    b = cgrad.empty(N, 3).bernoulli_(p).numpy()
    assert (b[:, 0] == 0).all() and (b[:, 1] == 1).all() and abs(b[:, 2].mean() - 0.5) < 0.03
    i = cgrad.zeros(N, dtype=cgrad.int64).bernoulli_(0.5)
    assert i.dtype == cgrad.int64 and set(np.unique(i.numpy())) == {0, 1}
    u = cgrad.zeros(N, dtype=cgrad.uint8).random_().numpy()
    assert u.min() == 0 and u.max() == 255
    assert set(np.unique(cgrad.zeros(100, dtype=cgrad.bool).random_().numpy())) == {False, True}


def test_samplers_repeat_with_manual_seed_and_generator():
    draws = []
    for _ in range(2):
        cgrad.manual_seed(7)
        draws.append([cgrad.zeros(5).bernoulli_(0.5), cgrad.zeros(5).random_(0, 100),
                      cgrad.zeros(5).exponential_(), cgrad.zeros(5).geometric_(0.3),
                      cgrad.zeros(5).log_normal_(), cgrad.zeros(5).cauchy_(),
                      cgrad.multinomial(cgrad.ones(2, 6), 3),
                      cgrad.multinomial(cgrad.ones(6), 9, True),
                      cgrad.poisson(cgrad.full((5,), 3.0)), cgrad.bernoulli(cgrad.full((5,), .5)),
                      cgrad.normal(cgrad.zeros(5), 1.0)])
    for a, b in zip(*draws):
        assert np.array_equal(a.numpy(), b.numpy())
    g = cgrad.Generator().manual_seed(3)
    a = cgrad.zeros(8).exponential_(generator=g)
    g.manual_seed(3)
    assert np.array_equal(a.numpy(), cgrad.zeros(8).exponential_(generator=g).numpy())
    assert not np.array_equal(a.numpy(), cgrad.zeros(8).exponential_(generator=g).numpy())


def test_bernoulli_poisson_normal_forms(backend):
    p = np.array([[0.1, 0.9], [0.5, 0.0]], np.float32)
    draws = np.stack([cgrad.bernoulli(cgrad.tensor(p)).numpy() for _ in range(4000)])
    assert draws.dtype == np.float32 and np.allclose(draws.mean(0), p, atol=0.04)
    x = cgrad.tensor(p).bernoulli(0.25)                     # p given: self's shape and dtype
    assert x.shape == (2, 2) and x.dtype == cgrad.float32
    rates = cgrad.tensor([0.0, 1.0, 4.0, 25.0], dtype=cgrad.float64)
    draws = np.stack([cgrad.poisson(rates).numpy() for _ in range(4000)])
    assert draws.dtype == np.float64 and (draws[:, 0] == 0).all()
    assert np.allclose(draws.mean(0), rates.numpy(), rtol=0.05, atol=0.01)
    assert np.allclose(draws.var(0), rates.numpy(), rtol=0.1, atol=0.01)
    # normal: tensor mean and/or std, broadcast; number mean and std with a size
    mean, std = cgrad.tensor([[-5.0], [5.0]]), cgrad.tensor([0.5, 2.0, 4.0])
    draws = np.stack([cgrad.normal(mean, std).numpy() for _ in range(3000)])
    assert draws.shape == (3000, 2, 3) and draws.dtype == np.float32
    assert np.allclose(draws.mean(0), np.broadcast_to(mean.numpy(), (2, 3)), atol=0.3)
    assert np.allclose(draws.std(0), np.broadcast_to(std.numpy(), (2, 3)), rtol=0.08)
    assert cgrad.normal(2.0, cgrad.ones(4, dtype=cgrad.float64)).dtype == cgrad.float64
    assert cgrad.normal(0.0, 1.0, (2, 3)).shape == (2, 3)
    assert cgrad.normal(0.0, 1.0, size=(4,), dtype=cgrad.float64).dtype == cgrad.float64
    # PyTorch's gradient for mean, std and rates is zero
    for m in (cgrad, torch):
        mu = m.tensor([1.0, 2.0], requires_grad=True)
        sd = m.tensor([1.0, 3.0], requires_grad=True)
        r = m.tensor([1.0, 3.0], requires_grad=True)
        (m.normal(mu, sd).sum() + m.normal(mu, 1.0).sum() + m.poisson(r).sum()).backward()
        for t in (mu, sd, r):
            assert t.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial_frequencies(backend, replacement):
    p = np.array([[1.0, 2.0, 0.0, 5.0], [0.0, 0.0, 3.0, 1.0]], np.float32)
    k = 2 if not replacement else 5
    out = cgrad.multinomial(cgrad.tensor(p), k, replacement)
    assert out.shape == (2, k) and out.dtype == cgrad.int64
    draws = np.stack([cgrad.tensor(p).multinomial(k, replacement).numpy() for _ in range(3000)])
    assert not (draws[:, 0] == 2).any() and not np.isin(draws[:, 1], [0, 1]).any()
    if replacement:                     # each draw independent, with probability p / sum(p)
        for row in range(2):
            freq = np.bincount(draws[:, row].ravel(), minlength=4) / draws[:, row].size
            assert np.allclose(freq, p[row] / p[row].sum(), atol=0.02)
    else:                               # no repeats; the first draw follows p, the rest too
        assert (draws[:, :, 0] != draws[:, :, 1]).all()
        assert (np.sort(draws[:, 1], -1) == [2, 3]).all()       # row 1 has two choices
        first = np.bincount(draws[:, 0, 0], minlength=4) / 3000
        assert np.allclose(first, p[0] / p[0].sum(), atol=0.03)
        # P({0, 3}) = P(0 then 3) + P(3 then 0) = 1/8 * 5/7 + 5/8 * 1/3
        pairs = np.mean([sorted(d) == [0, 3] for d in draws[:, 0].tolist()])
        assert abs(pairs - (5 / 56 + 5 / 24)) < 0.04
    # all categories, without replacement: a permutation
    perm = cgrad.multinomial(cgrad.ones(6), 6).numpy()
    assert sorted(perm.tolist()) == list(range(6))
    # zero-probability categories come last when more are asked than have p > 0
    assert sorted(cgrad.multinomial(cgrad.tensor([1.0, 0.0, 0.0]), 2).tolist())[0] == 0


def test_sampler_errors():
    cases = [lambda m: m.zeros(3).bernoulli_(2.0),
             lambda m: m.zeros(3).random_(5, 2),
             lambda m: m.zeros(3, dtype=m.uint8).random_(-1, 3),
             lambda m: m.zeros(3, dtype=m.uint8).random_(0, 300),
             lambda m: m.zeros(3).exponential_(0),
             lambda m: m.zeros(3).exponential_(-1.5),
             lambda m: m.zeros(3, dtype=m.int64).exponential_(),
             lambda m: m.zeros(3).geometric_(0),
             lambda m: m.zeros(3).geometric_(1.5),
             lambda m: m.zeros(3).log_normal_(1, 0),
             lambda m: m.zeros(3).cauchy_(0, 0),
             lambda m: m.multinomial(m.ones(2, 2, 2), 1),
             lambda m: m.multinomial(m.ones(3), 4),
             lambda m: m.multinomial(m.ones(3), 0),
             lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1),
             lambda m: m.multinomial(m.tensor([1.0, float("nan")]), 1),
             lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
             lambda m: m.multinomial(m.tensor([1, 1]), 1),
             lambda m: m.poisson(m.tensor([-1.0, 2.0])),
             lambda m: m.normal(m.zeros(2), m.tensor([-1.0, 1.0])),
             lambda m: m.normal(m.zeros(2), -1.0)]
    for fn in cases:
        same_error(fn, message=True)
    for fn in (lambda m: m.zeros(3).bernoulli_(m.tensor([0.1, 2.0, 0.3])),
               lambda m: m.bernoulli(m.tensor([0.1, 2.0]))):
        same_error(fn)      # (PyTorch's message adds "Could this error message be improved?")
        with pytest.raises(RuntimeError, match=r"^Expected p_in >= 0 && p_in <= 1 to be true"):
            fn(cgrad)
    for fn in (lambda m: m.bernoulli(m.tensor([1, 0])), lambda m: m.poisson(m.tensor([1, 2])),
               lambda m: m.normal(m.zeros(2), m.ones(3))):
        same_error(fn)
    # a leaf that requires grad can't be filled in place
    same_error(lambda m: m.zeros(3, requires_grad=True).exponential_())


# ---- the addmm family ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 1.5)])
def test_addmv_addr_baddbmm_addbmm(backend, dtype, beta, alpha):
    kw = dict(beta=beta, alpha=alpha)
    a = lambda *s, seed=0: _arr(s, seed, dtype)               # noqa: E731
    compare(lambda m, i, x, v: m.addmv(i, x, v, **kw), a(3), a(3, 4, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, v: i.addmv(x, v, **kw), a(1), a(3, 4, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, y: m.addr(i, x, y, **kw), a(3, 4), a(3, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, y: i.addr(x, y, **kw), a(4), a(3, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, y: m.baddbmm(i, x, y, **kw), a(2, 3, 5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    compare(lambda m, i, x, y: i.baddbmm(x, y, **kw), a(3, 5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    compare(lambda m, i, x, y: m.addbmm(i, x, y, **kw), a(3, 5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    compare(lambda m, i, x, y: i.addbmm(x, y, **kw), a(5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    # in-place forms, on a non-leaf (its old value's gradient flows through)
    compare(lambda m, i, x, v: (i * 1).addmv_(x, v, **kw), a(3), a(3, 4, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, y: (i * 1).addr_(x, y, **kw), a(3, 4), a(3, seed=1), a(4, seed=2),
            names=False)
    compare(lambda m, i, x, y: (i * 1).baddbmm_(x, y, **kw), a(2, 3, 5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    compare(lambda m, i, x, y: (i * 1).addbmm_(x, y, **kw), a(3, 5), a(2, 3, 4, seed=1),
            a(2, 4, 5, seed=2), names=False)
    compare(lambda m, i, x, v: m.addmv_(i * 1, x, v, **kw), a(3), a(3, 4, seed=1), a(4, seed=2),
            names=False)


def test_addmm_family_beta_zero_ignores_nan_and_ints():
    for m in (cgrad, torch):
        i = m.full((2,), float("nan"))
        assert m.addmv(i, m.ones(2, 3), m.ones(3), beta=0).tolist() == [3.0, 3.0]
        b = m.full((2, 2), float("nan"))
        assert m.baddbmm(b, m.ones(1, 2, 3), m.ones(1, 3, 2), beta=0).tolist() == [[[3.0] * 2] * 2]
    for fn in (lambda m: m.addr(m.ones(2, 3, dtype=m.int64), m.arange(2), m.arange(3), beta=2,
                                alpha=3),
               lambda m: m.addr(m.zeros(2, 3, dtype=m.bool), m.tensor([True, False]),
                                m.tensor([True, True, False]))):
        ours, theirs = fn(cgrad), fn(torch)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype)[6:] == str(theirs.dtype)[6:]
    t = cgrad.zeros(3)
    v = t._version
    assert t.addmv_(cgrad.ones(3, 2), cgrad.ones(2)) is t and t._version > v


def test_addmm_family_errors():
    z = lambda m, *s: m.zeros(*s)                    # noqa: E731
    cases = [lambda m: m.addmv(z(m, 3), z(m, 2, 3), z(m, 3)),
             lambda m: m.addmv(z(m, 2), z(m, 2, 3), z(m, 2)),
             lambda m: m.addmv(z(m, 2), z(m, 2, 3, 1), z(m, 3)),
             lambda m: m.addr(z(m, 2, 3), z(m, 2, 1), z(m, 3)),
             lambda m: m.baddbmm(z(m, 3, 3), z(m, 2, 2, 4), z(m, 2, 4, 3)),
             lambda m: m.baddbmm(z(m, 2, 3), z(m, 2, 2), z(m, 2, 4, 3)),
             lambda m: m.addbmm(z(m, 3, 3), z(m, 2, 2, 4), z(m, 2, 4, 3)),
             lambda m: m.addbmm(z(m, 2, 3), z(m, 2, 2, 4), z(m, 3, 4, 3)),
             lambda m: z(m, 2, 3).addmv_(z(m, 2, 3), z(m, 3)),
             lambda m: z(m, 3).addr_(z(m, 2), z(m, 3))]
    for fn in cases:
        same_error(fn, message=True)
    same_error(lambda m: m.addr(z(m, 2), z(m, 2), z(m, 3)))


# ---- indexing, norms, predicates ------------------------------------------------------------
def test_put_and_fill_diagonal(backend):
    idx = np.array([4, -1, 0])
    for acc in (False, True):
        compare(lambda m, x, s: x.put(m.tensor(idx), s, acc), _arr((2, 3)), _arr(3, 1), names=False)
        compare(lambda m, x, s: m.put(x, m.tensor([[1, 1], [2, 5]]), s, acc), _arr((2, 3)),
                _arr((2, 2), 1), names=False)
        compare(lambda m, x, s: (x * 1).put_(m.tensor(idx), s, acc), _arr((2, 3)), _arr(3, 1),
                names=False)
        compare(lambda m, x, s: (x.t() * 1).put_(m.tensor(idx), s, acc), _arr((3, 2)),
                _arr(3, 1), names=False)
    t = cgrad.zeros(2, 3)
    assert t.put_(cgrad.tensor([5]), cgrad.ones(1)) is t and t[1, 2].item() == 1
    for shape, wrap in [((3, 3), False), ((7, 3), False), ((7, 3), True), ((3, 5), True),
                        ((3, 3, 3), False)]:
        compare(lambda m, x: (x * 1).fill_diagonal_(2.5, wrap), _arr(shape), names=False)
    for fn in (lambda m: m.zeros(2, 3).put_(m.tensor([1, 2]), m.tensor([1.0])),
               lambda m: m.zeros(2, 3).put_(m.tensor([1, 9]), m.tensor([1.0, 2.0])),
               lambda m: m.zeros(2, 3).put_(m.tensor([1, -9]), m.tensor([1.0, 2.0])),
               lambda m: m.zeros(2, 3).put_(m.tensor([1, 2], dtype=m.int32), m.ones(2)),
               lambda m: m.zeros(2, 3).put_(m.tensor([1, 2]), m.tensor([1, 2])),
               lambda m: m.zeros(3).fill_diagonal_(1),
               lambda m: m.zeros(2, 3, 3).fill_diagonal_(1)):
        same_error(fn, message=True)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(backend, reduce, include_self):
    index = np.array([0, 2, 0, 3])
    kw = dict(include_self=include_self)
    compare(lambda m, x, s: x.index_reduce(0, m.tensor(index), s, reduce, **kw),
            _arr((4, 3)), _arr((4, 3), 1), names=False)
    compare(lambda m, x, s: m.index_reduce(x, 1, m.tensor(index), s, reduce, **kw),
            _arr((2, 5), dtype=np.float32), _arr((2, 4), 1, np.float32), names=False)
    compare(lambda m, x, s: (x * 1).index_reduce_(1, m.tensor(index), s, reduce, **kw),
            _arr((2, 5)), _arr((2, 4), 1), names=False)
    ints = [m.arange(6).reshape(2, 3).index_reduce(1, m.tensor([0, 0]), m.tensor([[5, 7]] * 2),
                                                   reduce, **kw) for m in (cgrad, torch)]
    assert ints[0].tolist() == ints[1].tolist()


def test_index_reduce_errors():
    for fn in (lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([0]), m.ones(1, 3), "sum"),
               lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([0, 1]), m.ones(1, 3), "prod"),
               lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([[0]]), m.ones(1, 3), "prod"),
               lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([5]), m.ones(1, 3), "prod"),
               lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([0]),
                                                     m.ones(1, 3, dtype=m.float64), "prod"),
               lambda m: m.zeros(3, 3).index_reduce_(0, m.tensor([0]), m.ones(1, 2), "prod")):
        same_error(fn, message=True)


def test_renorm_frexp(backend):
    for p, dim, maxnorm in [(2, 0, 1.0), (1, 1, 2.0), (3, -1, 0.5), (2, 1, 100.0)]:
        compare(lambda m, x: x.renorm(p, dim, maxnorm), _arr((3, 4)), names=False)
        compare(lambda m, x: m.renorm(x, p, dim, maxnorm), _arr((2, 3, 2), 0, np.float32),
                names=False)
        compare(lambda m, x: (x * 1).renorm_(p, dim, maxnorm), _arr((3, 4)), names=False)
    for dtype in (np.float32, np.float64):
        edges = np.array([0.0, -0.0, 1.0, 3.0, -5.0, 1e-40, 3e38, np.inf, -np.inf, np.nan],
                         dtype)
        ours, theirs = cgrad.frexp(cgrad.tensor(edges)), torch.frexp(torch.tensor(edges))
        np.testing.assert_array_equal(ours.mantissa.numpy(), theirs.mantissa.numpy())
        ours_e, theirs_e = ours.exponent.numpy(), theirs.exponent.numpy()
        np.testing.assert_array_equal(ours_e[np.isfinite(edges)], theirs_e[np.isfinite(edges)])
        assert ours.exponent.dtype == cgrad.int32
        compare(lambda m, x: x.frexp()[0], _arr((3, 4), 0, dtype, -100, 100), names=False)
    assert repr(cgrad.frexp(cgrad.tensor([2.0])))[:33] == "cgrad.return_types.frexp(\nmantiss"
    same_error(lambda m: m.zeros(3, dtype=m.int64).frexp(), message=True)
    for fn in (lambda m: m.zeros(3, 3).renorm(1, 0, -1), lambda m: m.zeros(3, 3).renorm(0, 0, 1),
               lambda m: m.zeros(3, 3).renorm(-1, 0, 1), lambda m: m.zeros(3).renorm(1, 0, 1),
               lambda m: m.zeros(3, 3).renorm(1, 2, 1)):
        same_error(fn, message=True)


def test_histogram():
    x = _arr(50, 3, np.float32)
    w = _arr(50, 4, np.float32, 0, 1)
    for kw in [dict(bins=5), dict(bins=4, range=(-1.0, 1.0)), dict(bins=3, weight=w),
               dict(bins=6, density=True), dict(bins=3, weight=w, density=True),
               dict(bins=np.array([-2.0, -0.5, 0.0, 3.0], np.float32)),
               dict(bins=np.array([-1.0, 0.5, 1.5], np.float32), density=True)]:
        for dtype in (np.float32, np.float64):
            res = []
            for m in (cgrad, torch):
                kwm = {k: m.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v
                       for k, v in kw.items()}
                res.append(m.histogram(m.tensor(x.astype(dtype)), **kwm))
            for a, b in zip(*res):
                assert a.numpy().dtype == b.numpy().dtype
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    for fn in (lambda m: m.histogram(m.tensor([1.0, 1.0]), 4),
               lambda m: m.tensor([]).histogram(2),
               lambda m: m.tensor([1.0, 5.0]).histogram(2, range=(0.0, 2.0)),
               lambda m: m.tensor([5.0]).histogram(2, range=(0.0, 1.0), density=True),
               # values on an edge: the edges are PyTorch's linspace bit for bit (NumPy's put
               # 0.6 on an edge 1 ulp lower, counting it in the next bin)
               lambda m: m.tensor(0.6, dtype=m.float64).histogram(4),
               lambda m: m.tensor([-0.3, 0.0, 0.3, 0.9, 1.2], dtype=m.float64).histogram(5),
               lambda m: m.tensor([0.1, 0.7, 1.3, 1.9]).histogram(3, range=(0.1, 1.9))):
        a, b = fn(cgrad), fn(torch)
        np.testing.assert_array_equal(a.hist.numpy(), b.hist.numpy())
        assert a.bin_edges.tolist() == b.bin_edges.tolist()
    for fn in (lambda m: m.histogram(m.tensor([1.0, 2.0]), 0),
               lambda m: m.histogram(m.tensor([1.0, 2.0]), 3, range=(2.0, 1.0)),
               lambda m: m.histogram(m.tensor([1.0, 2.0]), m.tensor([[1.0, 2.0]])),
               lambda m: m.histogram(m.tensor([1.0, 2.0]), 2, weight=m.ones(3)),
               lambda m: m.histogram(m.tensor([1.0, 2.0]), m.tensor([1, 2]))):
        same_error(fn, message=True)
    same_error(lambda m: m.histogram(m.tensor([1, 2]), 3))


def test_predicates_sum_to_size_and_conversions(backend):
    x = np.array([1.0, np.inf, -np.inf, np.nan, 0.0], np.float32)
    for name in ("isposinf", "isneginf", "isreal"):
        for a in (x, np.array([1, -2], np.int64)):
            ours, theirs = getattr(cgrad, name)(cgrad.tensor(a)), getattr(torch, name)(
                torch.tensor(a))
            assert ours.dtype == cgrad.bool and ours.tolist() == theirs.tolist()
            assert getattr(cgrad.tensor(a), name)().tolist() == theirs.tolist()
    for size in [(1, 3), (2, 1), (3,), (1, 1), (2, 3), ()]:
        compare(lambda m, t: t.sum_to_size(size), _arr((2, 3)), names=False)
    compare(lambda m, t: t.sum_to_size(2, 1), _arr((2, 3)), names=False)
    compare(lambda m, t: t.sum_to_size((4, 1, 1)), _arr((2, 4, 3, 2)), names=False)
    for fn in (lambda m: m.zeros(2, 3).sum_to_size(3, 2),
               lambda m: m.zeros(2, 3).sum_to_size(1, 2, 3)):
        same_error(fn, message=True)
    a = np.array([-3.7, 0.2, 200.9, 300.0])
    for name in ("byte", "char", "short"):
        ours, theirs = getattr(cgrad.tensor(a), name)(), getattr(torch.tensor(a), name)()
        assert str(ours.dtype)[6:] == str(theirs.dtype)[6:]
        assert ours.tolist()[:3] == theirs.tolist()[:3]   # (300 overflows: undefined in C)
    t = cgrad.zeros(2, 3)
    assert t.ndimension() == 2 and t.is_inference() is False


# ---- nn.LazyLinear --------------------------------------------------------------------------
def test_lazy_linear_before_and_after_first_forward():
    import cgrad.nn  # noqa: F401  (loads lazily)
    ours, theirs = cgrad.nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(ours) == repr(theirs)
    assert repr(ours.weight) == repr(theirs.weight) == "<UninitializedParameter>"
    assert isinstance(ours.weight, cgrad.nn.Parameter)
    assert isinstance(ours.bias, cgrad.nn.UninitializedParameter)
    assert [(k, repr(v)) for k, v in ours.state_dict().items()] == \
        [(k, repr(v)) for k, v in theirs.state_dict().items()]
    same_error(lambda m: m.nn.LazyLinear(3).weight + 1)          # ValueError
    same_error(lambda m: m.nn.LazyLinear(3).weight.shape, message=True)
    with pytest.raises(ValueError, match="uninitialized parameter"):
        ours.weight.sum()
    params = list(ours.parameters())
    opt = cgrad.optim.SGD(ours.parameters(), lr=0.1)       # made before the first forward
    x = _arr((2, 4), 5, np.float32)
    y = ours(cgrad.tensor(x))
    theirs(torch.tensor(x))
    assert repr(ours) == repr(theirs) and type(ours) is cgrad.nn.Linear
    assert ours.in_features == 4 and ours.weight.shape == (3, 4) and ours.bias.shape == (3,)
    assert [p is q for p, q in zip(params, ours.parameters())] == [True, True]
    bound = 1 / np.sqrt(4)                  # reset_parameters ran: Linear's init bounds
    assert np.abs(ours.weight.detach().numpy()).max() <= bound
    assert np.abs(ours.bias.detach().numpy()).max() <= bound
    assert ours.weight.detach().numpy().std() > 0
    with torch.no_grad():                   # same weights: same outputs and gradients
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    y2 = theirs(torch.tensor(x))
    # (atol: an entry whose terms nearly cancel keeps their rounding, ~1e-7 of the O(1) terms;
    # the weights are random: an output of 0.047 once came 6e-8 apart, rtol 1.3e-6)
    np.testing.assert_allclose(y.detach().numpy(), y2.detach().numpy(), rtol=1e-6, atol=2e-7)
    y.square().sum().backward()
    y2.square().sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5,
                               atol=1e-6)
    before = ours.weight.detach().numpy().copy()
    opt.step()
    assert not np.array_equal(before, ours.weight.detach().numpy())


def test_lazy_linear_load_state_dict_bias_false_and_dtype():
    import cgrad.nn  # noqa: F401
    src = cgrad.nn.Linear(5, 2)
    lazy = cgrad.nn.LazyLinear(2)
    lazy.load_state_dict(src.state_dict())
    assert lazy.weight.shape == (2, 5) and type(lazy.weight) is cgrad.nn.Parameter
    x = cgrad.ones(1, 5)
    np.testing.assert_array_equal(lazy(x).detach().numpy(), src(x).detach().numpy())
    ours, theirs = cgrad.nn.LazyLinear(2, bias=False), torch.nn.LazyLinear(2, bias=False)
    assert repr(ours) == repr(theirs) and ours.bias is None
    ours(cgrad.ones(3, 6))
    theirs(torch.ones(3, 6))
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    m = cgrad.nn.LazyLinear(2, dtype=cgrad.float64)
    assert m.weight.dtype == cgrad.float64
    assert m(cgrad.ones(1, 3, dtype=cgrad.float64)).dtype == cgrad.float64
    net = cgrad.nn.Sequential(cgrad.nn.LazyLinear(5), cgrad.nn.ReLU(), cgrad.nn.LazyLinear(1))
    assert net(cgrad.ones(4, 7)).shape == (4, 1) and net[2].in_features == 5
