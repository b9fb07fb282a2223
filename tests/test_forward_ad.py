"""cgrad.autograd.forward_ad (torch.autograd.forward_ad): dual tensors' tangents, the levels,
custom Functions' jvp and the errors, against PyTorch on the same inputs, on both backends."""
import numpy as np
import pytest

import cgrad
import cgrad.autograd.forward_ad as fwAD

torch = pytest.importorskip("torch")
import torch.autograd.forward_ad as tfwAD  # noqa: E402  (after the skip)
import torch.func  # noqa: E402
from test_nn_layers import _raises_like_torch as _raises_like  # noqa: E402

LIBS = ((cgrad, fwAD), (torch, tfwAD))
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _np(t):
    return t.detach().numpy()


def _jvp_both(f, primals, tangents, dtype):
    """[(primal, tangent) of f(lib, *duals) as arrays, for cgrad then torch]"""
    results = []
    for lib, ad in LIBS:
        with ad.dual_level():
            duals = [ad.make_dual(lib.tensor(p.astype(dtype)), lib.tensor(t.astype(dtype)))
                     for p, t in zip(primals, tangents)]
            primal, tangent = ad.unpack_dual(f(lib, *duals))
            results.append((_np(primal), _np(tangent)))
    return results


def _check(f, rng, shapes, dtype):
    primals = [rng.standard_normal(s) for s in shapes]
    tangents = [rng.standard_normal(s) for s in shapes]
    (cp, ct), (tp, tt) = _jvp_both(f, primals, tangents, dtype)
    assert ct.dtype == tt.dtype and ct.shape == tt.shape
    np.testing.assert_allclose(cp, tp, **_tol(dtype))
    np.testing.assert_allclose(ct, tt, **_tol(dtype))


PLAIN = np.random.default_rng(1).standard_normal((3, 4))      # a tensor without a tangent

CASES = {
    "elementwise": ([(3, 4), (3, 4)], lambda lib, x, y: (
        x.sin() * y.exp() + x / (1 + y * y) - x.tanh() * lib.tensor(PLAIN, dtype=x.dtype)
        + y.sigmoid() ** 3 + x.relu())),
    "matmul": ([(3, 4), (4, 5)], lambda lib, x, y: (x @ y).t() @ x),
    "reductions": ([(3, 4), (3, 4)], lambda lib, x, y: lib.stack([
        x.sum(), (x * y).mean(), y.norm(), x.logsumexp(1).sum(), x.amax(), (x * y).prod()])),
    "broadcasting": ([(3, 1), (4,)], lambda lib, x, y: x * y + x.exp() - y.cos()),
    "views": ([(3, 4), (2, 6)], lambda lib, x, y: lib.cat(
        [x[1:, ::2].reshape(-1), y.t()[2], x.reshape(2, 6)[:, 1] * y[0, :2]])),
    "softmax": ([(5, 3)], lambda lib, x: lib.nn.functional.softmax(x, dim=1)
                * lib.nn.functional.log_softmax(x * 2, dim=0)),
    "cross_entropy": ([(5, 3)], lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([0, 2, 1, 1, 0]))),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES))
def test_tangents_equal_torch(backend, rng, case, dtype):
    shapes, f = CASES[case]
    _check(f, rng, shapes, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_functional_call_and_reverse_mode(backend, rng, dtype):
    """Dual parameters in functional_call and set on the module (the tutorial's two ways);
    the loss's tangent, torch.func.jvp's, and .grad of the parameters by a backward after."""
    x = rng.standard_normal((6, 4)).astype(dtype)
    target = np.array([0, 2, 1, 1, 0, 2])
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    t_model.to(torch.float64 if dtype == np.float64 else torch.float32)
    c_model = cgrad.nn.Sequential(cgrad.nn.Linear(4, 8), cgrad.nn.Tanh(), cgrad.nn.Linear(8, 3))
    c_model.to(cgrad.float64 if dtype == np.float64 else cgrad.float32)
    c_model.load_state_dict({k: cgrad.tensor(_np(v)) for k, v in t_model.state_dict().items()})
    tangents = {k: rng.standard_normal(tuple(p.shape)).astype(dtype)
                for k, p in t_model.named_parameters()}
    found = []
    for (lib, ad), model in zip(LIBS, (c_model, t_model)):
        params = dict(model.named_parameters())
        tans = {k: lib.tensor(v) for k, v in tangents.items()}

        def loss_of(p):
            logits = lib.func.functional_call(model, p, (lib.tensor(x),))
            return lib.nn.functional.cross_entropy(logits, lib.tensor(target))
        with ad.dual_level():
            duals = {k: ad.make_dual(p, tans[k]) for k, p in params.items()}
            loss = loss_of(duals)
            primal, tangent = ad.unpack_dual(loss)
            assert primal.requires_grad and tangent.requires_grad   # params require grad
            loss.backward()
        grads = {k: _np(p.grad) for k, p in params.items()}
        _, jvp_out = lib.func.jvp(loss_of, ({k: p.detach() for k, p in params.items()},),
                                  (tans,))
        # the module's own attributes replaced by duals (the tutorial's first way)
        lin = model[0]
        with ad.dual_level():
            for name in ("weight", "bias"):
                p = getattr(lin, name)
                delattr(lin, name)
                setattr(lin, name, ad.make_dual(p, tans["0." + name]))
            first = ad.unpack_dual(lin(lib.tensor(x))).tangent
        found.append((_np(primal), _np(tangent), grads, _np(jvp_out), _np(first)))
    (cp, ct, cg, cj, cf), (tp, tt, tg, tj, tf) = found
    np.testing.assert_allclose(cp, tp, **_tol(dtype))
    np.testing.assert_allclose(ct, tt, **_tol(dtype))
    np.testing.assert_allclose(cj, tj, **_tol(dtype))
    np.testing.assert_allclose(cj, ct, **_tol(dtype))
    np.testing.assert_allclose(cf, tf, **_tol(dtype))
    for k in tg:
        np.testing.assert_allclose(cg[k], tg[k], **_tol(dtype))


def _tutorial(lib, ad, data):
    """The forward-mode AD tutorial's first part: the values it computes"""
    primal, tangent, plain = (lib.tensor(a) for a in data)
    with ad.dual_level():
        dual_input = ad.make_dual(primal, tangent)
        assert ad.unpack_dual(dual_input).tangent is tangent
        dual_input_alt = ad.make_dual(primal, tangent.T)      # another layout: copied
        alt = ad.unpack_dual(dual_input_alt).tangent
        assert alt is not tangent
        dual_output = dual_input ** 2 + plain ** 2
        jvp = ad.unpack_dual(dual_output).tangent
    assert ad.unpack_dual(dual_output).tangent is None     # the level exited
    return _np(jvp), _np(alt), alt.stride()


def test_tutorial_first_part(backend, rng):
    data = [rng.standard_normal((10, 10)).astype(np.float32) for _ in range(3)]
    (cj, ca, cs), (tj, ta, ts) = [_tutorial(lib, ad, data) for lib, ad in LIBS]
    np.testing.assert_allclose(cj, tj, rtol=1e-6)
    np.testing.assert_array_equal(ca, ta)
    assert cs == ts


def test_reverse_mode_and_requires_grad_of_the_parts(backend, rng):
    """A backward through duals gives the user's leaves torch's .grad; primal and tangent
    require grad where torch's do, and the tangent differentiates as torch's"""
    a, b, c = (rng.standard_normal(4) for _ in range(3))
    found = []
    for lib, ad in LIBS:
        x = lib.tensor(a)                                    # requires no grad
        p = lib.tensor(b, requires_grad=True)
        t_req = lib.tensor(c, requires_grad=True)            # a tangent that requires grad
        with ad.dual_level():
            dx = ad.make_dual(x, lib.tensor(c))
            dp = ad.make_dual(p, lib.tensor(a))
            z = (dp.exp() * dx).sum()
            zp, zt = ad.unpack_dual(z)
            y = dx * 3
            yp, yt = ad.unpack_dual(y)
            xp, xt = ad.unpack_dual(dx)
            w = (ad.make_dual(x, t_req) ** 2).sum()
            wp, wt = ad.unpack_dual(w)
            wt.backward()
            z.backward()
            flags = [t.requires_grad for t in (zp, zt, yp, yt, xp, xt, wp, wt)]
        found.append((flags, _np(zt), _np(yt), _np(p.grad), _np(t_req.grad), _np(dp),
                      ad.unpack_dual(y).tangent))
    (cf, czt, cyt, cpg, ctg, cdp, after), (tf, tzt, tyt, tpg, ttg, tdp, t_after) = found
    assert cf == tf
    for c_arr, t_arr in ((czt, tzt), (cyt, tyt), (cpg, tpg), (ctg, ttg), (cdp, tdp)):
        np.testing.assert_allclose(c_arr, t_arr, rtol=1e-12)
    assert after is None and t_after is None


def test_levels(backend, rng):
    x = cgrad.tensor(rng.standard_normal(3))
    with fwAD.dual_level() as level:
        assert level == 0
        y = fwAD.make_dual(x, cgrad.ones(3)) * 2
        np.testing.assert_array_equal(_np(fwAD.unpack_dual(y).tangent), [2, 2, 2])
        assert fwAD.unpack_dual(x).tangent is None                  # no tangent
        assert fwAD.unpack_dual(y, level=-1).tangent is None
        assert isinstance(fwAD.unpack_dual(y), fwAD.UnpackedDualTensor)
    assert fwAD.unpack_dual(y).tangent is None and fwAD.unpack_dual(y).primal is y
    assert fwAD.enter_dual_level() == 0                              # a new level, empty
    assert fwAD.unpack_dual(y).tangent is None
    y2 = fwAD.make_dual(x, cgrad.ones(3)).sin()
    np.testing.assert_allclose(_np(fwAD.unpack_dual(y2).tangent), np.cos(_np(x)))
    fwAD.exit_dual_level(level=0)

    @fwAD.dual_level()
    def decorated():
        return fwAD.unpack_dual(fwAD.make_dual(x, x) ** 2).tangent
    np.testing.assert_allclose(_np(decorated()), 2 * _np(x) ** 2)
    assert fwAD._current_level == -1


def _in_level(ad, f):
    def run():
        with ad.dual_level():
            return f()
    return run


def test_errors_equal_torch(backend):
    def both(make, in_level=True):
        c, t = make(cgrad, fwAD), make(torch, tfwAD)
        if in_level:
            c, t = _in_level(fwAD, c), _in_level(tfwAD, t)
        _raises_like(c, t)

    x = lambda lib: lib.ones(3)                                     # noqa: E731
    both(lambda lib, ad: lambda: ad.make_dual(x(lib), x(lib)), in_level=False)
    both(lambda lib, ad: lambda: ad.make_dual(x(lib), x(lib), level=0), in_level=False)
    both(lambda lib, ad: lambda: ad.exit_dual_level(), in_level=False)
    both(lambda lib, ad: lambda: ad.exit_dual_level(level=0), in_level=False)
    both(lambda lib, ad: lambda: ad.enter_dual_level())              # nested
    both(lambda lib, ad: lambda: ad.exit_dual_level(level=1))
    both(lambda lib, ad: lambda: ad.make_dual(x(lib), lib.ones(4)))  # sizes
    both(lambda lib, ad: lambda: ad.make_dual(lib.ones(2, 3), lib.ones(3, 2)))
    both(lambda lib, ad: lambda: ad.make_dual(lib.arange(3), x(lib)))
    both(lambda lib, ad: lambda: ad.make_dual(x(lib), lib.arange(3)))
    both(lambda lib, ad: lambda: ad.make_dual(x(lib), x(lib), level=1))
    both(lambda lib, ad: lambda: ad.make_dual(ad.make_dual(x(lib), x(lib)), x(lib)))
    both(lambda lib, ad: lambda: ad.make_dual(ad.make_dual(x(lib), x(lib)).exp(), x(lib)))
    both(lambda lib, ad: lambda: ad.unpack_dual(ad.make_dual(x(lib), x(lib)) * 2, level=1))
    assert fwAD._current_level == -1                  # every level above was exited
    # a tangent of another dtype is kept as given, as in torch
    for lib, ad in LIBS:
        with ad.dual_level():
            t = lib.ones(3, dtype=lib.float64)
            assert ad.unpack_dual(ad.make_dual(x(lib), t)).tangent is t


# ---- custom autograd.Function ----------------------------------------------------------------
def _functions(lib):
    class Exp(lib.autograd.Function):                  # the tutorial's: jvp, no backward
        @staticmethod
        def forward(ctx, foo):
            result = lib.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, gI):
            gO = gI * ctx.result
            del ctx.result
            return gO

    class Both(lib.autograd.Function):                 # jvp and backward disagree on purpose:
        @staticmethod                                  # forward mode takes jvp's, reverse
        def forward(ctx, x):                           # mode backward's
            ctx.save_for_backward(x)
            ctx.save_for_forward(x)
            return x.sin()

        @staticmethod
        def jvp(ctx, t):
            x, = ctx.saved_tensors
            return 2 * t * x.cos()

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x.cos()

    class Two(lib.autograd.Function):                  # two outputs, a non-Tensor argument
        @staticmethod
        def forward(ctx, a, s, b):
            ctx.s = s
            return a * s + b, a - b

        @staticmethod
        def jvp(ctx, ta, ts, tb):
            assert ts is None                          # tb: zeros (b has no tangent)
            return ta * ctx.s + tb, ta - tb

    class NoJvp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3
    return Exp, Both, Two, NoJvp


def _miscounted(lib, n_out):
    class Miscounted(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return (a * 2, a * 3) if n_out == 2 else a * 2

        @staticmethod
        def jvp(ctx, t):
            return t * 2 if n_out == 2 else (t * 2, t)
    return Miscounted


def test_custom_functions_equal_torch(backend, rng):
    a, b, c = (rng.standard_normal((2, 3)) for _ in range(3))
    found = []
    for lib, ad in LIBS:
        Exp, Both, Two, NoJvp = _functions(lib)
        p = lib.tensor(a, requires_grad=True)
        with ad.dual_level():
            e = Exp.apply(ad.make_dual(p, lib.tensor(b, dtype=lib.float32)))
            e_t = ad.unpack_dual(e * 2).tangent
            name = type(e.grad_fn).__name__
            s = Both.apply(ad.make_dual(p, lib.tensor(b)))
            s_t = ad.unpack_dual(s.exp()).tangent
            s.sum().backward()
            o1, o2 = Two.apply(ad.make_dual(lib.tensor(a), lib.tensor(b)), 2.0, lib.tensor(c))
            two = [ad.unpack_dual(o).tangent for o in (o1, o2)]
            det_t = ad.unpack_dual(lib.linalg.det(ad.make_dual(lib.tensor(c[:, :2]),
                                                               lib.tensor(a[:, :2])))).tangent
        found.append([_np(e_t), name, _np(s_t), _np(p.grad), *map(_np, two), _np(det_t), e])
    cgrad_found, torch_found = found
    assert cgrad_found[1] == torch_found[1] == "ExpBackward"
    for i in (0, 2, 3, 4, 5, 6):
        np.testing.assert_allclose(cgrad_found[i], torch_found[i], rtol=1e-10)
    _raises_like(lambda: cgrad_found[-1].sum().backward(),            # Exp has no backward
                 lambda: torch_found[-1].sum().backward())
    _raises_like(_in_level(fwAD, lambda: _functions(cgrad)[3].apply(fwAD.make_dual(
                     cgrad.ones(2), cgrad.ones(2)))),
                 _in_level(tfwAD, lambda: _functions(torch)[3].apply(tfwAD.make_dual(
                     torch.ones(2), torch.ones(2)))))
    for n_out in (1, 2):                                  # jvp gives one tangent too many/few
        _raises_like(_in_level(fwAD, lambda: _miscounted(cgrad, n_out).apply(fwAD.make_dual(
                         cgrad.ones(2), cgrad.ones(2)))),
                     _in_level(tfwAD, lambda: _miscounted(torch, n_out).apply(tfwAD.make_dual(
                         torch.ones(2), torch.ones(2)))))
    # outside a level, or on tensors without tangents, a Function without jvp just runs
    NoJvp = _functions(cgrad)[3]
    with fwAD.dual_level():
        np.testing.assert_array_equal(_np(NoJvp.apply(cgrad.ones(2))), [3, 3])


def test_gradcheck_checks_forward_ad(backend, rng):
    for lib in (cgrad, torch):
        Exp, Both, _, _ = _functions(lib)
        p = lib.tensor(rng.standard_normal((3, 2)), requires_grad=True)
        kw = dict(check_forward_ad=True, check_backward_ad=False, check_undefined_grad=False,
                  check_batched_grad=False)
        assert lib.autograd.gradcheck(Exp.apply, (p,), **kw)
        # Both's jvp is twice the derivative: forward mode fails, and so does reverse (three)
        assert not lib.autograd.gradcheck(Both.apply, (p,), raise_exception=False, **kw)
        assert not lib.autograd.gradcheck(Both.apply, (p,), raise_exception=False)
        with pytest.raises(RuntimeError) as err:
            lib.autograd.gradcheck(Both.apply, (p,), **kw)
        assert type(err.value).__name__ == "GradcheckError"


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack_dual_equals_func_jvp(backend, rng, dtype):
    x, y, tx, ty = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(4))

    def f(a, b):
        return (a.exp() * b).tanh() @ b.t()
    out = []
    for lib, ad in LIBS:
        _, ref = lib.func.jvp(f, (lib.tensor(x), lib.tensor(y)), (lib.tensor(tx), lib.tensor(ty)))
        with ad.dual_level():
            got = ad.unpack_dual(f(ad.make_dual(lib.tensor(x), lib.tensor(tx)),
                                   ad.make_dual(lib.tensor(y), lib.tensor(ty)))).tangent
        np.testing.assert_allclose(_np(got), _np(ref), **_tol(dtype))
        out.append(_np(got))
    np.testing.assert_allclose(out[0], out[1], **_tol(dtype))


def test_a_level_keeps_only_the_tangents_a_graph_needs(backend):
    x = cgrad.ones(3)
    with fwAD.dual_level():
        for k in range(3):
            y = fwAD.make_dual(x, cgrad.ones(3) * k) * 2
        assert len(fwAD._tangents) == 1        # the earlier graphs are gone, with their tangents
        np.testing.assert_array_equal(_np(fwAD.unpack_dual(y).tangent), [4, 4, 4])
    assert len(fwAD._tangents) == 0
