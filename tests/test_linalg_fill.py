"""linalg.ldl_factor(_ex) / ldl_solve, ormqr, segment_reduce and lobpcg against PyTorch:
values, gradients (on both backends), batched inputs and errors."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

from test_torch_gaps import same_error as _raises_alike  # noqa: E402  (cgrad's call, then torch's)

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _pair(a, requires_grad=False):
    """the same array as a cgrad and a torch tensor"""
    return (cgrad.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(c, t, dtype=np.float64, equal_nan=False):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), equal_nan=equal_nan,
                               **TOL[dtype])


# ---- ldl_factor / ldl_solve ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4), (2, 1, 6, 6), (70, 70)])
def test_ldl_factor_matches_torch(shape, dtype):
    """indefinite and unsymmetric inputs (only the lower triangle is read): LAPACK's sytrf;
    one matrix of the batch with a zero diagonal, so 2 x 2 blocks (negative pivots)"""
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape((-1,) + shape[-2:])[0][np.diag_indices(shape[-1])] = 0
    A, tA = _pair(a)
    for hermitian in (False, True):
        LD, piv, info = cgrad.linalg.ldl_factor_ex(A, hermitian=hermitian)
        tLD, tpiv, tinfo = torch.linalg.ldl_factor_ex(tA, hermitian=hermitian)
        _close(LD, tLD, dtype)
        np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
        np.testing.assert_array_equal(info.numpy(), tinfo.numpy())
        assert piv.dtype == info.dtype == cgrad.int32 and LD.dtype == A.dtype
        assert (piv.numpy() < 0).any()
        LD2, piv2 = cgrad.linalg.ldl_factor(A, hermitian=hermitian)
        np.testing.assert_array_equal(LD2.numpy(), LD.numpy())
        np.testing.assert_array_equal(piv2.numpy(), piv.numpy())


def test_ldl_factor_singular_info_and_errors():
    a = np.random.default_rng(0).standard_normal((2, 3, 3))
    a[1] = 0
    a[1, 2, 2] = 1
    A, tA = _pair(a)
    LD, piv, info = cgrad.linalg.ldl_factor_ex(A)
    tLD, tpiv, tinfo = torch.linalg.ldl_factor_ex(tA)
    _close(LD, tLD)
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    np.testing.assert_array_equal(info.numpy(), [0, 1])
    np.testing.assert_array_equal(info.numpy(), tinfo.numpy())
    # PyTorch's own message ends so (after its internal-assert preamble)
    for call, name in ((lambda m, x: m.linalg.ldl_factor(x), "ldl_factor"),
                       (lambda m, x: m.linalg.ldl_factor_ex(x, check_errors=True),
                        "ldl_factor_ex")):
        with pytest.raises(RuntimeError) as expected:
            call(torch, tA)
        with pytest.raises(RuntimeError, match=rf"torch\.linalg\.{name}: Unknown error code: 1\."):
            call(cgrad, A)
        assert str(expected.value).endswith(f"torch.linalg.{name}: Unknown error code: 1.")
    for shape in [(0, 3, 3), (2, 0, 0)]:
        LD, piv = cgrad.linalg.ldl_factor(cgrad.zeros(shape))
        assert LD.shape == shape and piv.shape == shape[:-1] and piv.dtype == cgrad.int32
    for bad in (np.zeros(3), np.zeros((3, 4)), np.zeros((3, 3), np.int32)):
        _raises_alike(lambda: cgrad.linalg.ldl_factor(cgrad.tensor(bad)),
                      lambda: torch.linalg.ldl_factor(torch.tensor(bad)))
    _raises_alike(lambda: cgrad.linalg.ldl_factor([[1.0]]),
                  lambda: torch.linalg.ldl_factor([[1.0]]))


def test_ldl_has_no_derivative_as_in_torch(backend):
    a = np.random.default_rng(1).standard_normal((4, 4))
    for m in (cgrad, torch):
        A = m.tensor(a + a.T, requires_grad=True)
        LD, piv = m.linalg.ldl_factor(A)
        assert LD.requires_grad and not piv.requires_grad
        assert type(LD.grad_fn).__name__ == "NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is "
                                               "not implemented"):
            LD.sum().backward()
        B = m.tensor(np.ones((4, 2)), requires_grad=True)
        X = m.linalg.ldl_solve(LD.detach(), piv, B)
        assert X.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not "
                                               "implemented"):
            X.sum().backward()
        assert not m.linalg.ldl_solve(LD.detach(), piv, B.detach()).requires_grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ldl_solve_matches_torch(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 5, 5)).astype(dtype)
    a = a + np.swapaxes(a, -1, -2)
    A, tA = _pair(a)
    LD, piv = cgrad.linalg.ldl_factor(A)
    tLD, tpiv = torch.linalg.ldl_factor(tA)
    for b_shape, ld_slice in (((2, 5, 3), slice(None)), ((5, 1), slice(None)),
                              ((4, 5, 2), 0), ((0, 5, 2), 0)):
        b = rng.standard_normal(b_shape).astype(dtype)
        X = cgrad.linalg.ldl_solve(LD[ld_slice], piv[ld_slice], cgrad.tensor(b))
        tX = torch.linalg.ldl_solve(tLD[ld_slice], tpiv[ld_slice], torch.tensor(b))
        assert X.shape == tuple(tX.shape)
        _close(X, tX, dtype)
    # A X = B really holds, and int64 pivots are taken
    b = rng.standard_normal((2, 5, 3)).astype(dtype)
    X = cgrad.linalg.ldl_solve(LD, piv.long(), cgrad.tensor(b), hermitian=True)
    np.testing.assert_allclose(a @ X.numpy(), b, rtol=1e-3 if dtype == np.float32 else 1e-9,
                               atol=1e-3 if dtype == np.float32 else 1e-9)


def test_ldl_solve_errors_like_torch():
    a = np.random.default_rng(3).standard_normal((2, 4, 4))
    (A, tA) = _pair(a)
    LD, piv = cgrad.linalg.ldl_factor(A)
    tLD, tpiv = torch.linalg.ldl_factor(tA)

    def both(ld, p, b, **kw):
        _raises_alike(lambda: cgrad.linalg.ldl_solve(ld(LD), p(piv), cgrad.tensor(b), **kw),
                      lambda: torch.linalg.ldl_solve(ld(tLD), p(tpiv), torch.tensor(b), **kw))

    same = lambda x: x                                                # noqa: E731
    b = np.ones((2, 4, 2))
    both(same, same, np.ones(4))                                      # IndexError
    both(same, same, np.ones(4, np.float32))                          # dtype first
    both(same, same, np.ones((3, 2)))                                 # rows
    both(same, same, b.astype(np.float32))
    both(same, lambda p: p[..., :3], b)
    both(same, lambda p: p[0], b)
    both(same, lambda p: p.double(), b)
    both(same, lambda p: p.bool(), b)
    both(lambda x: x[..., :3], same, b)
    both(lambda x: x[0, 0], same, b)
    both(lambda x: x.int(), same, b)
    both(same, same, np.ones((5, 4, 2)))                              # batch shapes
    both(same, lambda p: p * 0, b)                                    # |pivot| >= 1
    both(same, lambda p: p * 0 + 7, b)                                # |pivot| <= n


# ---- ormqr ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 3)])
def test_ormqr_values_and_gradients(backend, shape, dtype):
    rng = np.random.default_rng(sum(shape))
    a, tau = (x.detach().numpy() for x in torch.geqrf(torch.tensor(
        rng.standard_normal(shape).astype(dtype))))
    m = shape[-2]
    for left in (True, False):
        for transpose in (False, True):
            c = rng.standard_normal(shape[:-2] + ((m, 2) if left else (2, m))).astype(dtype)
            cs = [cgrad.tensor(x, requires_grad=True) for x in (a, tau, c)]
            ts = [torch.tensor(x, requires_grad=True) for x in (a, tau, c)]
            y = cgrad.ormqr(*cs, left, transpose)
            ty = torch.ormqr(*ts, left, transpose)
            _close(y, ty, dtype)
            g = rng.standard_normal(ty.shape).astype(dtype)
            y.backward(cgrad.tensor(g))
            ty.backward(torch.tensor(g))
            for c_, t_ in zip(cs, ts):
                _close(c_.grad, t_.grad, dtype)
    method = cs[0].detach().ormqr(cs[1].detach(), cs[2].detach(), left, transpose)
    np.testing.assert_array_equal(method.numpy(), y.detach().numpy())


def test_ormqr_of_geqrf_is_q():
    """ormqr(geqrf(A), I) is the complete Q of qr(A, 'complete'), and Q^T A = R"""
    a = np.random.default_rng(4).standard_normal((5, 3))
    h, tau = cgrad.geqrf(cgrad.tensor(a))
    Q = cgrad.ormqr(h, tau, cgrad.eye(5, dtype=cgrad.float64))
    np.testing.assert_allclose(Q.numpy(), np.linalg.qr(a, mode="complete")[0], atol=1e-12)
    R = cgrad.ormqr(h, tau, cgrad.tensor(a), transpose=True)
    np.testing.assert_allclose(R.numpy()[:3], np.triu(h.numpy()[:3]), atol=1e-12)
    np.testing.assert_allclose(R.numpy()[3:], 0, atol=1e-12)


def test_ormqr_errors_like_torch():
    a, tau = torch.geqrf(torch.randn(5, 3, dtype=torch.float64))
    c = torch.randn(5, 2, dtype=torch.float64)

    def both(f):
        _raises_alike(lambda: f(cgrad, *(cgrad.tensor(x.numpy()) for x in (a, tau, c))),
                      lambda: f(torch, a, tau, c))

    both(lambda m, a, t, c: m.ormqr(a[0], t, c))
    both(lambda m, a, t, c: m.ormqr(a, t, c[:, 0]))
    both(lambda m, a, t, c: m.ormqr(a, t, c.mT[:, :3], left=False))
    both(lambda m, a, t, c: m.ormqr(a, t, c[:3]))
    both(lambda m, a, t, c: m.ormqr(a, t[:2], c))
    both(lambda m, a, t, c: m.ormqr(a, m.cat([t, t]), c))
    both(lambda m, a, t, c: m.ormqr(a, t[None], c))
    both(lambda m, a, t, c: m.ormqr(a.expand(2, 5, 3), t.expand(2, 3), c))
    both(lambda m, a, t, c: m.ormqr(a.expand(2, 5, 3), t.expand(3, 3), c.expand(2, 5, 2)))
    both(lambda m, a, t, c: m.ormqr(a.expand(2, 5, 3), t.expand(2, 3), c.expand(3, 5, 2)))
    both(lambda m, a, t, c: m.ormqr(a, t.float(), c))
    both(lambda m, a, t, c: m.ormqr(a, t, c.float()))
    both(lambda m, a, t, c: m.ormqr(a.int(), t.int(), c.int()))


# ---- segment_reduce ------------------------------------------------------------------------

REDUCTIONS = ["sum", "mean", "max", "min", "prod"]


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("initial", [None, 0.5])
@pytest.mark.parametrize("use_offsets", [False, True])
def test_segment_reduce_matches_torch(backend, reduce, initial, use_offsets):
    """empty segments, a zero (prod's exclusive product), a NaN and ties (max/min: PyTorch
    divides only the positive gradients among them)"""
    d = np.array([[1.5, -2.0], [1.5, 0.0], [0.3, -2.0], [1.5, np.nan], [-0.7, 2.0],
                  [0.0, 0.0]])
    lengths = np.array([3, 0, 2, 1, 0])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    x, tx = _pair(d, requires_grad=True)
    kw = dict(offsets=offsets) if use_offsets else dict(lengths=lengths)
    y = cgrad.segment_reduce(x, reduce, initial=initial,
                             **{k: cgrad.tensor(v) for k, v in kw.items()})
    ty = torch.segment_reduce(tx, reduce, initial=initial,
                              **{k: torch.tensor(v) for k, v in kw.items()})
    _close(y, ty, equal_nan=True)
    assert type(y.grad_fn).__name__ == "SegmentReduceBackward0"
    g = np.array([[2.0, -3.0], [1.0, 1.0], [-1.0, 4.0], [0.5, 2.0], [1.0, 1.0]])
    y.backward(cgrad.tensor(g))
    ty.backward(torch.tensor(g))
    _close(x.grad, tx.grad, equal_nan=True)


@pytest.mark.parametrize("reduce", REDUCTIONS + ["amax", "amin"])
def test_segment_reduce_batched_axis(backend, reduce):
    rng = np.random.default_rng(5)
    d = rng.standard_normal((2, 6, 3)).astype(np.float32)
    lengths = np.array([[1, 2, 3, 0], [4, 0, 0, 2]], np.int32)
    x, tx = _pair(d, requires_grad=True)
    for kw in (dict(lengths=lengths),
               dict(offsets=np.concatenate([np.zeros((2, 1), np.int32),
                                            np.cumsum(lengths, -1, dtype=np.int32)], -1))):
        y = cgrad.segment_reduce(x, reduce, axis=1, initial=-1.0,
                                 **{k: cgrad.tensor(v) for k, v in kw.items()})
        ty = torch.segment_reduce(tx, reduce, axis=1, initial=-1.0,
                                  **{k: torch.tensor(v) for k, v in kw.items()})
        assert y.shape == tuple(ty.shape) == (2, 4, 3) and y.dtype == cgrad.float32
        _close(y, ty, np.float32)
        g = rng.standard_normal(ty.shape).astype(np.float32)
        gx, = cgrad.autograd.grad(y, x, cgrad.tensor(g))
        tgx, = torch.autograd.grad(ty, tx, torch.tensor(g))
        _close(gx, tgx, np.float32)


def test_segment_reduce_unsafe_and_empty():
    d = np.arange(6.0)
    for kw in (dict(lengths=np.array([2, 2]), unsafe=True), dict(offsets=np.array([1, 3])),
               dict(lengths=np.array([0, 0]), unsafe=False)):
        data = d[:0] if kw.get("unsafe") is False else d
        x, tx = _pair(data, requires_grad=True)
        args = {k: (v if k == "unsafe" else cgrad.tensor(v)) for k, v in kw.items()}
        targs = {k: (v if k == "unsafe" else torch.tensor(v)) for k, v in kw.items()}
        y = cgrad.segment_reduce(x, "sum", **args)
        ty = torch.segment_reduce(tx, "sum", **targs)
        _close(y, ty)
        y.sum().backward()
        ty.sum().backward()
        _close(x.grad, tx.grad)


def test_segment_reduce_errors_like_torch():
    d = np.arange(6.0)

    def both(reduce="sum", data=d, **kw):
        def call(m):
            args = {k: (m.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
            return m.segment_reduce(m.tensor(data), reduce, **args)
        _raises_alike(lambda: call(cgrad), lambda: call(torch))

    both()
    both(indices=np.array([1]))
    both("foo", lengths=np.array([6]))
    both(lengths=np.array([6]), axis=1)
    both(lengths=np.array([[6]]))
    both(offsets=np.array([[0, 6]]))
    both(data=np.float64(1.0), lengths=np.array([1]))
    both(data=np.ones((6, 2)), lengths=np.array([1, 1]), axis=1)
    both(lengths=np.array([2, 2]))
    both(lengths=np.array([7, -1]))
    both(lengths=np.array([7, -1]), unsafe=True)
    both(lengths=np.array([], np.int64))
    both(lengths=np.array([2.0, 4.0]))
    both(lengths=np.array([6], np.int16))
    both(offsets=np.array([0.0, 6.0]))
    both(offsets=np.array([0, 4, 3, 6]))
    both(data=np.arange(6), lengths=np.array([6]))
    both(lengths=[6])
    # where PyTorch reads past its buffers, cgrad raises
    with pytest.raises(RuntimeError, match=r"same batch shape, but got \[2\] and \[3\]"):
        cgrad.segment_reduce(cgrad.ones(2, 3), "sum", lengths=cgrad.ones(3, 3).long(), axis=1)
    with pytest.raises(RuntimeError, match="outside data's 6 elements"):
        cgrad.segment_reduce(cgrad.tensor(d), "sum", offsets=cgrad.tensor([0, 7]))


# ---- lobpcg --------------------------------------------------------------------------------

def _spd_pair(m, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, m))
    b = rng.standard_normal((m, m))
    return a @ a.T + np.eye(m), b @ b.T / m + np.eye(m), rng.standard_normal((m, 2))


def _same_up_to_sign(X, tX, **tol):
    x, tx = X.detach().numpy(), tX.detach().numpy()
    signs = np.sign((x * tx).sum(-2, keepdims=True))
    np.testing.assert_allclose(x * signs, tx, **tol)


@pytest.mark.parametrize("method", ["ortho", "basic"])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("with_b", [False, True])
def test_lobpcg_matches_torch(method, largest, with_b):
    """from the same initial X (the random ones differ), the same iterations"""
    a, b, x = _spd_pair(12, 6)
    kw = dict(k=2, method=method, largest=largest)
    E, X = cgrad.lobpcg(cgrad.tensor(a), B=cgrad.tensor(b) if with_b else None,
                        X=cgrad.tensor(x), **kw)
    tE, tX = torch.lobpcg(torch.tensor(a), B=torch.tensor(b) if with_b else None,
                          X=torch.tensor(x), **kw)
    np.testing.assert_allclose(E.numpy(), tE.numpy(), rtol=1e-9)
    _same_up_to_sign(X, tX, atol=1e-6)
    if method == "ortho":          # ('basic', PyTorch's too, finds one of them twice here)
        w = np.linalg.eigvals(np.linalg.solve(b, a) if with_b else a).real
        w.sort()
        np.testing.assert_allclose(E.numpy(), w[::-1][:2] if largest else w[:2], rtol=1e-6)


def test_lobpcg_batched_preconditioned_tracked():
    a, _, x = _spd_pair(9, 7)
    a2 = np.stack([a, a + 2 * np.eye(9)])
    x2 = np.stack([x[:, :1], x[:, 1:]])
    ik = np.diag(1 / np.diag(a))
    steps = []
    E, X = cgrad.lobpcg(cgrad.tensor(a2), X=cgrad.tensor(x2), iK=cgrad.tensor(ik),
                        tracker=lambda worker: steps.append(worker.ivars["istep"]))
    tE, tX = torch.lobpcg(torch.tensor(a2), X=torch.tensor(x2), iK=torch.tensor(ik))
    assert E.shape == (2, 1) and X.shape == (2, 9, 1) and steps[:2] == [1, 2]
    np.testing.assert_allclose(E.numpy(), tE.numpy(), rtol=1e-9)
    _same_up_to_sign(X, tX, atol=1e-6)


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_gradient_matches_torch(backend, largest):
    """PyTorch's backward: A symmetrized, then the partial eigenspace's Sylvester solution"""
    a, b, x = _spd_pair(10, 8)
    a = a + np.triu(np.ones((10, 10)), 1) * 0.1           # unsymmetric: A_sym is used
    A, tA = _pair(a, requires_grad=True)
    E, X = cgrad.lobpcg(A, k=2, X=cgrad.tensor(x), largest=largest)
    tE, tX = torch.lobpcg(tA, k=2, X=torch.tensor(x), largest=largest)
    assert type(E.grad_fn).__name__ == type(tE.grad_fn).__name__
    weight = np.arange(10.0)[:, None]
    (E.sum() + (X ** 2 * cgrad.tensor(weight)).sum()).backward()
    (tE.sum() + (tX ** 2 * torch.tensor(weight)).sum()).backward()
    np.testing.assert_allclose(A.grad.numpy(), tA.grad.numpy(), rtol=1e-6, atol=1e-9)
    for m in (cgrad, torch):
        B = m.tensor(b, requires_grad=True)
        E, _ = m.lobpcg(m.tensor(a), k=2, B=B, X=m.tensor(x))
        with pytest.raises(ValueError, match="does not support backward with B != I"):
            E.sum().backward()


def test_lobpcg_errors_like_torch():
    a, _, x = _spd_pair(5, 9)
    _raises_alike(lambda: cgrad.lobpcg(cgrad.tensor(a), X=cgrad.tensor(x)),
                  lambda: torch.lobpcg(torch.tensor(a), X=torch.tensor(x)))
    for m in (cgrad, torch):                     # (the Size names its module)
        with pytest.raises(AssertionError, match=rf"A must be square, got shape "
                                                 rf"{m.__name__}\.Size\(\[5, 4\]\)"):
            m.lobpcg(m.tensor(a[:, :4]))
