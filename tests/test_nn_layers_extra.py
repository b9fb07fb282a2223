"""More layers against PyTorch: PairwiseDistance and CosineSimilarity, Bilinear, the channel
and alpha dropouts (by their statistics: random streams differ), PixelShuffle and
PixelUnshuffle, Upsample and F.interpolate (with bicubic and antialias), ParameterDict, and the
top-level forms."""
import collections
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import (DTYPES, _cg, _close, _raises_like_torch, _second_order,  # noqa: E402
                            _twin)


def _libs(lib):
    return {"lib": lib, "F": F if lib is cgrad else torch.nn.functional,
            "nn": nn if lib is cgrad else torch.nn}


def _compare(call, shapes, dtype, seed=0):
    """call (using a, b, c, d and lib, F, nn) on the same normal inputs of shapes, in both
    libraries: values, then every input's gradient after one backward"""
    rng = np.random.default_rng(seed)
    td = torch.float32 if dtype == np.float32 else torch.float64
    ts = [torch.tensor(rng.standard_normal(s), dtype=td, requires_grad=True) for s in shapes]
    cs = [_cg(t) for t in ts]
    c_out = eval(call, {**_libs(cgrad), **dict(zip("abcd", cs))})
    t_out = eval(call, {**_libs(torch), **dict(zip("abcd", ts))})
    assert str(c_out.dtype) == str(t_out.dtype).replace("torch", "cgrad")
    _close(c_out, t_out, dtype)
    g = rng.standard_normal(tuple(t_out.shape))
    c_out.backward(cgrad.tensor(g, dtype=c_out.dtype))
    t_out.backward(torch.tensor(g, dtype=td))
    for c, t in zip(cs, ts):
        _close(c.grad, t.grad, dtype)
    return c_out


# ---- distances ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call, shapes", [
    ("F.pairwise_distance(a, b)", [(5, 4), (5, 4)]),
    ("F.pairwise_distance(a, b, p=1.0, eps=0.1, keepdim=True)", [(5, 4), (5, 4)]),
    ("F.pairwise_distance(a, b, p=3)", [(5, 4), (4,)]),
    ("F.pairwise_distance(a, b, p=float('inf'))", [(4,), (5, 4)]),
    ("F.pairwise_distance(a, b, p=0.5)", [(2, 3, 4), (2, 3, 4)]),
    ("F.pairwise_distance(a, a.detach())", [(5, 4)]),                    # all-eps differences
    ("lib.pairwise_distance(a, b)", [(5, 4), (5, 4)]),
    ("nn.PairwiseDistance(1.5, 1e-3, True)(a, b)", [(3, 6), (3, 6)]),
    ("nn.PairwiseDistance()(a, b)", [(), ()]),
    ("nn.CosineSimilarity()(a, b)", [(5, 4, 2), (5, 4, 2)]),
    ("nn.CosineSimilarity(-1, 0.5)(a, b)", [(5, 4), (4,)]),
    ("lib.cosine_similarity(a, b, 0)", [(5, 4), (5, 4)])])
def test_distances_match_torch(backend, dtype, call, shapes):
    _compare(call, shapes, dtype)


def test_distance_modules_and_double_backward(backend):
    for make in ["nn.PairwiseDistance()", "nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)",
                 "nn.CosineSimilarity()", "nn.CosineSimilarity(dim=0, eps=1e-6)"]:
        c, t = eval(make, _libs(cgrad)), eval(make, _libs(torch))
        assert repr(c) == repr(t)
        assert vars(c).get("norm", c.eps) == vars(t).get("norm", t.eps) and c.eps == t.eps
    _second_order(lambda a, b: F.pairwise_distance(a, b, 3.0),
                  lambda a, b: torch.nn.functional.pairwise_distance(a, b, 3.0),
                  [torch.randn(4, 5, dtype=torch.float64, requires_grad=True) for _ in "ab"])


# ---- Bilinear ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(6,), (2, 3), ()])
def test_bilinear_matches_torch(backend, dtype, bias, lead):
    c, t = _twin(nn.Bilinear(3, 4, 5, bias=bias), torch.nn.Bilinear(3, 4, 5, bias=bias), dtype)
    assert repr(c) == repr(t)
    call = "F.bilinear(a, b, c, d)" if bias else "F.bilinear(a, b, c)"
    weights = [tuple(p.shape) for p in t.parameters()]
    _compare(call, [lead + (3,), lead + (4,)] + weights, dtype)
    x1, x2 = torch.randn(lead + (3,)), torch.randn(lead + (4,))
    _close(c(_cg(x1).to(c.weight.dtype), _cg(x2).to(c.weight.dtype)),
           t(x1.to(t.weight.dtype), x2.to(t.weight.dtype)), dtype)


def test_bilinear_init_double_backward_and_top_level(backend):
    cgrad.manual_seed(0)
    m = nn.Bilinear(4, 2, 300)
    w = m.weight.detach().numpy()
    assert m.weight.shape == (300, 4, 2) and m.bias.shape == (300,)
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.49 and abs(w.mean()) < 0.02
    assert np.abs(m.bias.detach().numpy()).max() <= 0.5               # U(+-1/sqrt(4))
    _second_order(lambda a, b, w, bias: F.bilinear(a, b, w, bias),
                  lambda a, b, w, bias: torch.nn.functional.bilinear(a, b, w, bias),
                  [torch.randn(s, dtype=torch.float64, requires_grad=True)
                   for s in [(3, 2), (3, 4), (5, 2, 4), (5,)]])
    _compare("lib.bilinear(a, b, c)", [(3, 2), (3, 4), (5, 2, 4)], np.float64)


# ---- dropouts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape, channels", [
    ("nn.Dropout1d(0.3)", (40, 50, 7), 2), ("nn.Dropout1d(0.3)", (2000, 7), 1),
    ("nn.Dropout2d(0.6)", (40, 50, 3, 4), 2), ("nn.Dropout3d(0.3)", (40, 50, 2, 3, 2), 2),
    ("nn.Dropout3d(0.3)", (2000, 2, 3, 2), 1)])
def test_channel_dropouts_zero_whole_channels(backend, make, shape, channels):
    cgrad.manual_seed(0)
    m = eval(make, _libs(cgrad))
    t = eval(make, _libs(torch))
    assert repr(m) == repr(t)
    x = cgrad.tensor(np.random.default_rng(0).uniform(1, 2, shape), requires_grad=True)
    y = m(x)
    y.backward(cgrad.ones_like(y))
    ratio = (y / x).detach().numpy().reshape(shape[:channels] + (-1,))
    kept = ratio[..., 0] != 0
    np.testing.assert_allclose(ratio[kept], 1 / (1 - m.p))          # whole channels kept
    assert not ratio[~kept].any()                                      # or dropped
    assert abs((~kept).mean() - m.p) < 0.03
    np.testing.assert_allclose(x.grad.numpy().reshape(ratio.shape), ratio)
    m.eval()
    assert m(x) is x


def test_dropout_arguments_and_modes_as_torch(backend):
    x = cgrad.randn(3, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # (dropout2d and dropout3d of 3-d input)
        for f in (F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
                  F.feature_alpha_dropout):
            assert f(x, 0.5, training=False) is x and f(x, 0.0, True) is x
            assert not f(x, 1.0, True).numpy().any()                   # p = 1: all zeros
        y = x.clone()
        assert F.dropout2d(y, 0.5, True, inplace=True) is y
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(x, 0.5)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(x, 0.5)
    assert nn.AlphaDropout().p == 0.5 and not nn.FeatureAlphaDropout(0.2).inplace
    for call in ["F.dropout1d(lib.ones(2, 3, 4, 5))", "F.dropout1d(lib.ones(3), 0.5)",
                 "F.dropout3d(lib.tensor(1.0), 0.5)", "F.dropout2d(lib.ones(3), 0.5)",
                 "F.feature_alpha_dropout(lib.ones(3), 0.5, True)",
                 "F.alpha_dropout(lib.ones(2, 3), 1.5, True)", "nn.Dropout2d(-0.1)",
                 "F.dropout2d(lib.ones(2, 3), 2.0)", "nn.AlphaDropout(1.1)"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _raises_like_torch(lambda: eval(call, _libs(cgrad)),
                               lambda: eval(call, _libs(torch)))


@pytest.mark.parametrize("make, feature", [("nn.AlphaDropout(0.2)", False),
                                           ("nn.FeatureAlphaDropout(0.4)", True)])
def test_alpha_dropouts_keep_mean_and_variance(backend, make, feature):
    cgrad.manual_seed(1)
    m = eval(make, _libs(cgrad))
    assert repr(m) == repr(eval(make, _libs(torch)))
    shape = (400, 200, 6) if feature else (200000,)
    x = cgrad.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    y = m(x)
    y.backward(cgrad.ones_like(y))
    p, alpha = m.p, 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    xs, ys, gs = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    kept = np.isclose(ys, a * xs + alpha * a * p)
    dropped = np.isclose(ys, alpha * a * (p - 1))
    assert (kept | dropped).all()
    np.testing.assert_allclose(gs, np.where(kept, a, 0.0))
    if feature:
        assert (kept.all(-1) | dropped.all(-1)).all()             # whole channels
    assert abs(dropped.mean() - p) < 0.01
    assert abs(ys.mean()) < 0.02 and abs(ys.std() - 1) < 0.02       # SELU's fixed point kept
    m.eval()
    assert m(x) is x


# ---- pixel shuffle -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call, shape", [
    ("F.pixel_shuffle(a, 2)", (2, 8, 3, 5)), ("F.pixel_shuffle(a, 3)", (9, 2, 2)),
    ("nn.PixelShuffle(1)(a)", (2, 3, 4, 5)), ("lib.pixel_shuffle(a, 2)", (2, 1, 4, 3, 2)),
    ("F.pixel_unshuffle(a, 2)", (2, 3, 4, 6)), ("nn.PixelUnshuffle(3)(a)", (2, 6, 3)),
    ("lib.pixel_unshuffle(a, 2)", (3, 2, 2, 4, 2)),
    ("F.pixel_unshuffle(F.pixel_shuffle(a, 2), 2) * 1", (2, 8, 3, 5))])
def test_pixel_shuffle_matches_torch(backend, dtype, call, shape):
    _compare(call, [shape], dtype)


def test_pixel_shuffle_reprs_integers_and_errors():
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"
    x = np.arange(48).reshape(1, 8, 2, 3)
    np.testing.assert_array_equal(F.pixel_shuffle(cgrad.tensor(x), 2).numpy(),
                                  torch.nn.functional.pixel_shuffle(torch.tensor(x), 2).numpy())
    for call in ["F.pixel_shuffle(lib.ones(2, 3), 2)", "F.pixel_shuffle(lib.ones(1, 5, 2, 3), 2)",
                 "F.pixel_shuffle(lib.ones(1, 8, 2, 3), 0)",
                 "F.pixel_shuffle(lib.ones(1, 8, 2, 3), -2)",
                 "F.pixel_unshuffle(lib.ones(1, 2, 3, 4), 2)",
                 "F.pixel_unshuffle(lib.ones(1, 2, 4, 3), 2)",
                 "F.pixel_unshuffle(lib.ones(2, 4), 2)",
                 "F.pixel_unshuffle(lib.ones(1, 2, 4, 4), 0)"]:
        _raises_like_torch(lambda: eval(call, _libs(cgrad)), lambda: eval(call, _libs(torch)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call, shape", [
    ("F.channel_shuffle(a, 3)", (2, 6, 4)), ("nn.ChannelShuffle(2)(a)", (2, 4, 3, 5)),
    ("lib.channel_shuffle(a, 1)", (1, 3, 2)), ("F.channel_shuffle(a, 4)", (0, 4, 3, 2))])
def test_channel_shuffle_matches_torch(backend, dtype, call, shape):
    _compare(call, [shape], dtype)


def test_channel_shuffle_repr_integers_and_errors():
    assert repr(nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
    x = np.arange(24).reshape(2, 6, 2)
    np.testing.assert_array_equal(F.channel_shuffle(cgrad.tensor(x), 3).numpy(),
                                  torch.nn.functional.channel_shuffle(torch.tensor(x), 3).numpy())
    for call in ["F.channel_shuffle(lib.ones(1, 5, 2), 2)", "F.channel_shuffle(lib.ones(5, 2), 5)",
                 "F.channel_shuffle(lib.ones(1, 6, 2), 0)",
                 "F.channel_shuffle(lib.ones(1, 6, 2), -2)"]:
        _raises_like_torch(lambda: eval(call, _libs(cgrad)), lambda: eval(call, _libs(torch)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call, shape", [
    ("F.pdist(a)", (5, 3)), ("F.pdist(a, 1)", (4, 6)), ("lib.pdist(a, 3)", (6, 2)),
    ("F.pdist(a, 0.5)", (3, 4)), ("F.pdist(a, float('inf'))", (5, 3)),
    ("F.pdist(a.repeat(2, 1))", (2, 3)),            # equal rows: distance 0, gradient 0
    ("F.pdist(a) * 1", (1, 3))])
def test_pdist_matches_torch(backend, dtype, call, shape):
    _compare(call, [shape], dtype)


def test_pdist_errors_match_torch():
    for call in ["F.pdist(lib.ones(2, 3, 4))", "F.pdist(lib.ones(3, 3, dtype=lib.long))",
                 "F.pdist(lib.ones(3, 3), -1)"]:
        _raises_like_torch(lambda: eval(call, _libs(cgrad)), lambda: eval(call, _libs(torch)))
    # p = 0 counts the differing coordinates; PyTorch's pdist passes zeros back, cgrad's no
    # gradient (as PyTorch's own norm of order 0)
    x = cgrad.tensor([[0.0, 1.0], [0.0, 3.0], [2.0, 3.0]])
    np.testing.assert_array_equal(F.pdist(x, 0).numpy(), [1.0, 2.0, 1.0])
    # no rows: no distances (torch 2.13 gives the same forward, and crashes in backward)
    x = cgrad.ones(0, 3, requires_grad=True)
    d = F.pdist(x)
    assert d.shape == (0,) and d.shape == torch.nn.functional.pdist(torch.ones(0, 3)).shape
    d.sum().backward()
    assert x.grad.shape == (0, 3)


def test_gumbel_softmax_samples_the_categorical(backend):
    cgrad.manual_seed(0)
    logits = cgrad.tensor(np.log([0.1, 0.2, 0.7]), dtype=cgrad.float32).repeat(20000, 1)
    logits.requires_grad_()
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True, dim=1)
    counts = hard.detach().numpy().sum(0) / 20000
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.7], atol=0.015)    # the Gumbel-max trick
    assert set(np.unique(hard.detach().numpy())) == {0.0, 1.0}
    # the straight-through gradient is the soft sample's: zero along each row for a sum
    hard.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), 0.0, atol=1e-5)
    _raises_like_torch(lambda: F.gumbel_softmax(cgrad.ones(3, dtype=cgrad.long)),
                       lambda: torch.nn.functional.gumbel_softmax(torch.ones(3,
                                                                             dtype=torch.long)))


# ---- interpolate -------------------------------------------------------------------------------
INTERPOLATIONS = [
    ("(2, 3, 5)", "size=9"), ("(2, 3, 5)", "size=3"), ("(2, 3, 5)", "scale_factor=2"),
    ("(2, 3, 5)", "scale_factor=1.7"), ("(2, 3, 5)", "scale_factor=0.6"),
    ("(2, 3, 7)", "scale_factor=2.5, recompute_scale_factor=True"),
    ("(1, 2, 4, 5)", "size=(7, 3)"), ("(1, 2, 4, 5)", "scale_factor=(1.5, 2.3)"),
    ("(1, 2, 4, 5)", "size=1"), ("(1, 2, 6, 6)", "scale_factor=0.5"),
    ("(1, 2, 3, 4, 5)", "size=(4, 2, 7)"), ("(1, 2, 3, 4, 3)", "scale_factor=1.5")]


def _interpolate_mode(shape, mode):
    n = len(eval(shape))
    return {"linear": {3: "linear", 4: "bilinear", 5: "trilinear"}[n]}.get(mode, mode)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "linear-corners",
                                  "area"])
@pytest.mark.parametrize("shape, args", INTERPOLATIONS)
def test_interpolate_matches_torch(backend, dtype, mode, shape, args):
    corners = mode == "linear-corners"
    mode = _interpolate_mode(shape, mode.replace("-corners", ""))
    if mode == "area" and len(eval(shape)) == 5 and not hasattr(F, "adaptive_avg_pool3d"):
        with pytest.raises(NotImplementedError, match="no area mode for 5D input"):
            F.interpolate(cgrad.ones(*eval(shape)), size=2, mode="area")
        return
    extra = ", align_corners=True" if corners else ""
    _compare(f"F.interpolate(a, {args}, mode={mode!r}{extra})", [eval(shape)], dtype)


def test_interpolate_indices_at_awkward_scales(backend):
    """the float32 index arithmetic of PyTorch's kernels, where a double one would pick other
    neighbours, and its 2-d nearest kernel's shortcuts (which the 1-d and 3-d lack): every
    length up to 30 against a few scales, along the last dim of 1-, 2- and 3-d inputs"""
    linear = {1: "linear", 2: "bilinear", 3: "trilinear"}
    for n in range(1, 31):
        for size, scale in [(n, None), (None, 1 + n / 13), (None, n / 7 + 0.3),
                            (None, 30 / n - 0.01), (None, 0.55 + n / 97)]:
            if scale and int(n * scale) < 1:
                continue
            for rank in (1, 2, 3):
                x = torch.arange(float(n)).reshape((1, 1) + (1,) * (rank - 1) + (n,))
                kw = dict(size=(1,) * (rank - 1) + (size,)) if size else \
                    dict(scale_factor=(1.0,) * (rank - 1) + (scale,))
                for mode in ("nearest", "nearest-exact", linear[rank]):
                    t = torch.nn.functional.interpolate(x, mode=mode, **kw)
                    c = F.interpolate(_cg(x), mode=mode, **kw)
                    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6,
                                               err_msg=f"{mode} {kw}")


def test_upsample_modules_and_double_backward(backend):
    for make in ["nn.Upsample(scale_factor=2)", "nn.Upsample(size=(3, 5), mode='bilinear')",
                 "nn.Upsample(scale_factor=(2, 1.5), mode='bilinear', align_corners=True)",
                 "nn.UpsamplingNearest2d(scale_factor=2)", "nn.UpsamplingBilinear2d((4, 5))",
                 "nn.Upsample(size=7, mode='linear')",
                 "nn.Upsample(scale_factor=(1.5, 0.7), mode='bicubic', align_corners=True)"]:
        c, t = eval(make, _libs(cgrad)), eval(make, _libs(torch))
        assert repr(c) == repr(t)
        assert (c.size, c.scale_factor, c.mode, c.align_corners, c.recompute_scale_factor) == \
            (t.size, t.scale_factor, t.mode, t.align_corners, t.recompute_scale_factor)
        x = torch.randn((2, 3, 4) if "'linear'" in make else (2, 3, 4, 3))
        _close(c(_cg(x)), t(x), np.float32)
    _second_order(lambda a: F.interpolate(a, scale_factor=1.5, mode="bilinear") ** 2,
                  lambda a: torch.nn.functional.interpolate(a, scale_factor=1.5,
                                                            mode="bilinear") ** 2,
                  [torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)])
    x = cgrad.randn(1, 2, 3, 4)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        y = F.upsample_bilinear(x, scale_factor=2)
    _close(y, torch.nn.functional.interpolate(torch.tensor(x.numpy()), scale_factor=2,
                                              mode="bilinear", align_corners=True),
           np.float32)
    with pytest.warns(UserWarning, match="upsample` is deprecated"):
        assert F.upsample(x, size=5).shape == (1, 2, 5, 5)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        assert F.upsample_nearest(x, scale_factor=3).shape == (1, 2, 9, 12)


@pytest.mark.parametrize("mode, shape", [("linear", (2, 3, 5)), ("bilinear", (1, 2, 3, 4)),
                                         ("trilinear", (1, 2, 3, 2, 4))])
def test_linear_interpolation_third_derivatives_match_torch(backend, mode, shape):
    """each dim's resize is one op whose recorded backward is its adjoint op, and the
    adjoint's is the resize again: gradients of the third order as PyTorch's"""
    t_x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    grads = []
    for lib, x in ((torch, t_x), (cgrad, _cg(t_x))):
        y = lib.nn.functional.interpolate(x, scale_factor=1.7, mode=mode, align_corners=False)
        (g1,) = lib.autograd.grad((y ** 3).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad((g1 ** 3).sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad((g2 ** 2).sum(), x)
        grads.append((y, g1, g2, g3))
    for t, c in zip(*grads):
        _close(c, t)


@pytest.mark.parametrize("call", [
    "F.interpolate(x, size=0)", "F.interpolate(x, scale_factor=0.1)",
    "F.interpolate(x[0], size=0)", "F.interpolate(lib.ones(1, 2, 3, 4, 5), size=0)",
    "F.interpolate(x, size=(2, 3, 4))", "F.interpolate(x, size=(2, 3.0))",
    "F.interpolate(x, scale_factor=(2, 3, 4))", "F.interpolate(x)", "F.interpolate(x, 2, 2)",
    "F.interpolate(x, 2, mode='nearest', align_corners=True)",
    "F.interpolate(x, 2, mode='area', align_corners=False)",
    "F.interpolate(x, 2, mode='linear')", "F.interpolate(x[0], 2, mode='bilinear')",
    "F.interpolate(x, 2, mode='trilinear')", "F.interpolate(x[0, 0], 2)",
    "F.interpolate(x, 2, mode='foo')", "F.interpolate(x, 2, recompute_scale_factor=True)",
    "F.interpolate(x.long(), 3)", "F.interpolate(x.long(), 3, mode='bilinear')",
    "F.interpolate(x[0].long(), 3, mode='linear')", "F.interpolate(x[0].long(), 3)",
    "F.interpolate(x.long(), 3, mode='area')", "F.interpolate(x, scale_factor=-1.0)",
    "F.interpolate(x, size=-2)", "F.interpolate(lib.ones(1, 2, 0, 3), size=2)",
    "F.interpolate(x, 2, mode='nearest', antialias=True)",
    "F.interpolate(x[0], 2, mode='bicubic')", "F.interpolate(x[None], 2, mode='bicubic')",
    "F.interpolate(x[0, 0], 2, mode='bicubic')", "F.interpolate(x, 0, mode='bicubic')",
    "F.interpolate(x, 2, mode='bicubic', antialias=True, recompute_scale_factor=True)",
    "F.interpolate(x[0], 2, mode='linear', antialias=True)",
    "F.interpolate(x[None], 2, mode='trilinear', antialias=True)",
    "F.interpolate(x, 2, mode='area', antialias=True)",
    "F.interpolate(x, 2, mode='nearest-exact', antialias=True)",
    "F.interpolate(x[0], 2, mode='bilinear', antialias=True)",
    "F.interpolate(x[0], 2, mode='bicubic', antialias=True)",
    "F.interpolate(x, 2, mode='lanczos')",
    "F.interpolate(x, 2, mode='lanczos', align_corners=True)",
    "F.interpolate(x, 2, mode='lanczos', antialias=True, align_corners=True)",
    "F.interpolate(x[0], 2, mode='lanczos')", "F.interpolate(x, 2, mode='nearest', "
    "align_corners=False, antialias=True)",
    "F.interpolate(x.long(), 3, mode='bicubic')", "F.interpolate(x.bool(), 3, mode='bicubic')",
    "F.interpolate(x.long(), 3, mode='bilinear', antialias=True)",
    "F.interpolate(x.int(), 3, mode='bicubic', antialias=True)",
    "F.interpolate(x.half(), 3, mode='bicubic', antialias=True)",
    "F.interpolate(x.long(), 3, mode='lanczos', antialias=True)",
    "F.interpolate(x.long(), 0, mode='bicubic')", "F.interpolate(x[:, :, :0], 3, mode='bicubic')",
    "F.interpolate(x[:, :, :, :0], 3, mode='bilinear', antialias=True)",
    "F.interpolate(x[:, :0], 3, mode='bicubic')", "F.interpolate(x[:0, :0], 3, mode='bicubic')",
    "F.interpolate(x[:, :0].long(), 3, mode='bicubic')",
    "F.interpolate(x[:, :0], 3, mode='bilinear', antialias=True)",
    "F.interpolate(x[:, :0], 3, mode='lanczos', antialias=True)",
    "F.interpolate(x[:, :0], 3)", "F.interpolate(x[:, :0, 0], 3, mode='linear')",
    "F.interpolate(lib.ones(1, 0, 2, 3, 4), 3, mode='trilinear')"])
def test_interpolate_errors_match_torch(call):
    def run(lib):
        return eval(call, {**_libs(lib), "x": lib.ones(1, 2, 4, 4)})
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape, size", [((1, 3, 7), 12), ((2, 3, 5, 7), (9, 4)),
                                         ((1, 2, 3, 4, 5), (5, 2, 7))])
def test_interpolate_nearest_copies_uint8_as_torch(mode, shape, size):
    """nearest resizes uint8 images as PyTorch's (other integer dtypes refuse, as there)"""
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    c = F.interpolate(cgrad.tensor(x), size=size, mode=mode)
    t = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode=mode)
    assert c.dtype == cgrad.uint8
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    _raises_like_torch(lambda: F.interpolate(cgrad.tensor(x).long(), size=size, mode=mode),
                       lambda: torch.nn.functional.interpolate(torch.tensor(x).long(),
                                                               size=size, mode=mode))
    if len(shape) == 4:                 # PyTorch's fixed-point uint8 bilinear: not cgrad's
        with pytest.raises(NotImplementedError, match="convert them to float first"):
            F.interpolate(cgrad.tensor(x), size=size, mode="bilinear", antialias=True)


# the resizes by a weight matrix per dim: (mode, antialias) and the grad_fn PyTorch prints
RESIZES = [("bicubic", False, "UpsampleBicubic2DBackward0"),
           ("bicubic", True, "UpsampleBicubic2DAaBackward0"),
           ("bilinear", True, "UpsampleBilinear2DAaBackward0"),
           ("lanczos", True, "UpsampleLanczos2DAaBackward0")]
RESIZE_CASES = [
    ((2, 3, 5, 6), "size=(9, 4)"), ((2, 3, 5, 6), "size=(2, 13)"), ((1, 2, 4, 4), "size=(4, 4)"),
    ((1, 2, 1, 1), "size=(3, 5)"), ((1, 2, 1, 7), "size=(4, 3)"), ((1, 2, 6, 1), "size=(1, 1)"),
    ((1, 2, 8, 7), "size=1"), ((2, 1, 17, 23), "size=(5, 6)"), ((1, 1, 3, 31), "size=(7, 4)"),
    ((2, 3, 5, 6), "scale_factor=2"), ((2, 3, 5, 6), "scale_factor=(1.7, 0.45)"),
    ((1, 2, 13, 9), "scale_factor=(0.3, 2.6)"), ((1, 2, 13, 9), "scale_factor=0.55"),
    ((1, 2, 7, 5), "scale_factor=(1.37, 3.3), recompute_scale_factor=True"),
    ((1, 2, 19, 11), "scale_factor=(0.41, 0.62), recompute_scale_factor=True"),
    ((0, 2, 4, 5), "size=(3, 7)")]


def _resize_call(mode, aa, args, corners):
    return (f"F.interpolate(a, {args}, mode={mode!r}, antialias={aa}"
            f"{', align_corners=True' if corners else ''})")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, aa, name", RESIZES)
@pytest.mark.parametrize("corners", [False, True])
@pytest.mark.parametrize("shape, args", RESIZE_CASES)
def test_bicubic_and_antialias_match_torch(backend, dtype, mode, aa, name, corners, shape, args):
    """values, input gradients and grad_fn; upsampling, downsampling, size-1 dims, non-integer
    scales (which PyTorch's kernels use as given unless recompute_scale_factor)"""
    if mode == "lanczos" and corners:
        return                                      # refused: in the errors' test
    out = _compare(_resize_call(mode, aa, args, corners), [shape], dtype)
    assert out.grad_fn.name() == name


@pytest.mark.parametrize("dtype", DTYPES)
def test_bicubic_and_antialias_random_shapes(backend, dtype):
    """random sizes and scales against PyTorch, forward and input gradient (leaving out the
    cases where PyTorch's kernels disagree with themselves: see the next tests)"""
    rng = np.random.default_rng(7)
    runs = 0
    while runs < 60:
        mode, aa, _ = RESIZES[runs % 4]
        corners = bool(rng.integers(2)) and mode != "lanczos"
        h, w = (int(v) for v in rng.integers(1, 14, 2))
        if rng.integers(2):
            oh, ow = (int(v) for v in rng.integers(1, 18, 2))
            args = f"size=({oh}, {ow})"
            kept_scaled = False
        else:
            sh, sw = (round(float(v), 2) for v in rng.uniform(0.15, 3.5, 2))
            oh, ow = int(h * sh), int(w * sw)
            recompute = bool(rng.integers(2))
            args = f"scale_factor=({sh}, {sw}), recompute_scale_factor={recompute}"
            kept_scaled = not (recompute or corners) and (oh == h and sh != 1
                                                          or ow == w and sw != 1)
        if min(oh, ow) < 1 or kept_scaled or aa and ow == 1 and oh != h:
            continue
        _compare(_resize_call(mode, aa, args, corners), [(2, 2, h, w)], dtype, seed=runs)
        runs += 1


@pytest.mark.parametrize("mode, aa, name", RESIZES[1:])
def test_antialias_to_width_one_as_torch_transposed(backend, mode, aa, name):
    """PyTorch's antialiased kernels give every output row the first one's value where the
    output width is 1 and the height changes (its backward is right); the transposed problem
    is its oracle here"""
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64, requires_grad=True)
    for size in [(3, 1), (11, 1)]:
        t = torch.nn.functional.interpolate(x.transpose(2, 3), size=size[::-1], mode=mode,
                                            antialias=True).transpose(2, 3)
        c = F.interpolate(_cg(x), size=size, mode=mode, antialias=True)
        _close(c, t)
        assert c.grad_fn.name() == name


@pytest.mark.parametrize("mode, aa, name", RESIZES)
def test_bicubic_and_antialias_gradcheck_and_double_backward(backend, mode, aa, name):
    """gradcheck and gradgradcheck in float64, also where a size is kept under a scale_factor
    other than 1: PyTorch's forward then resizes that dim by the scale (bicubic) or copies it
    (antialias), and its backward does the other; cgrad's gradient is its forward's. Then
    the create_graph gradients and their grad_fn against PyTorch's"""
    x = cgrad.randn(1, 2, 5, 6, dtype=cgrad.float64, requires_grad=True)
    for kw in [dict(size=(3, 8)), dict(scale_factor=(1.1, 1.1)), dict(scale_factor=(1.1, 0.5)),
               dict(size=(7, 2), align_corners=mode != "lanczos")]:
        def fn(a):
            return F.interpolate(a, mode=mode, antialias=aa, **kw)
        assert cgrad.autograd.gradcheck(fn, (x,))
        assert cgrad.autograd.gradgradcheck(fn, (x,))
    t = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    _second_order(lambda a: F.interpolate(a, scale_factor=(1.6, 0.7), mode=mode, antialias=aa),
                  lambda a: torch.nn.functional.interpolate(a, scale_factor=(1.6, 0.7),
                                                            mode=mode, antialias=aa), [t])
    c = _cg(t)
    g, = cgrad.autograd.grad((F.interpolate(c, 4, mode=mode, antialias=aa) ** 2).sum(), c,
                             create_graph=True)
    assert g.grad_fn.name() == name.replace("Backward0", "BackwardBackward0")


def test_resizes_with_kept_size_under_a_scale_match_torch_forward(backend):
    """the forward of those cases against PyTorch's"""
    x = torch.randn(2, 3, 5, 6)
    for mode, aa, _ in RESIZES:
        for sf in [(1.1, 1.1), (1.1, 0.5), (0.5, 1.1)]:
            _close(F.interpolate(_cg(x), scale_factor=sf, mode=mode, antialias=aa),
                   torch.nn.functional.interpolate(x, scale_factor=sf, mode=mode, antialias=aa),
                   np.float32)


def test_antialias_upsampling(backend):
    """where the filter is not widened: bilinear with antialias is plain bilinear, bicubic's
    is not (PIL's a = -0.5, weights renormalized at the edges, not edge-clamped indices)"""
    x = cgrad.randn(1, 2, 4, 5)
    plain = F.interpolate(x, size=(9, 11), mode="bilinear")
    _close(F.interpolate(x, size=(9, 11), mode="bilinear", antialias=True), plain, np.float32)
    assert not np.allclose(F.interpolate(x, size=(9, 11), mode="bicubic").numpy(),
                           F.interpolate(x, size=(9, 11), mode="bicubic", antialias=True).numpy())


# ---- bilinear's errors, ParameterDict, top-level forms ----------------------------------------
@pytest.mark.parametrize("call", [
    "F.bilinear(lib.ones(2, 3), lib.ones(4), lib.ones(5, 3, 4))",
    "F.bilinear(lib.ones(2, 3), lib.ones(3, 4), lib.ones(5, 3, 4))",
    "F.bilinear(lib.ones(2, 2), lib.ones(2, 4), lib.ones(5, 3, 4))",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 3), lib.ones(5, 3, 4))",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 4), lib.ones(5, 3, 4), lib.ones(4))",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 4), lib.ones(5, 3, 4, dtype=lib.float64))",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 4), lib.ones(5, 3, 4), lib.ones(5).double())",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 4), lib.ones(3, 4))",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 4), lib.ones(5, 3))"])
def test_bilinear_errors_match_torch(call):
    _raises_like_torch(lambda: eval(call, _libs(cgrad)), lambda: eval(call, _libs(torch)))


def _parameter_dicts():
    made = []
    for lib in (cgrad, torch):
        made.append(lib.nn.ParameterDict({"b": lib.nn.Parameter(lib.ones(2, 3)),
                                          "a": lib.ones(2, dtype=lib.float64), "c": 3}))
    return made


def test_parameter_dict_as_torch():
    c, t = _parameter_dicts()
    assert repr(c) == repr(t).replace("torch.", "cgrad.")
    assert list(c) == list(t) == ["a", "b", "c"]                   # a plain dict: sorted
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(c.state_dict()) == list(t.state_dict())
    assert isinstance(c["a"], nn.Parameter) and c["c"] == 3 and "b" in c and len(c) == 3
    for d in (c, t):
        d.update([("z", d["a"]), ("y", 1.5)])            # pairs, in order
        d["x"] = None
        d.setdefault("w", 7)
        d.update(collections.OrderedDict([("q", 0), ("p", 1)]))
        assert d.get("nope", 5) == 5
    assert list(c.keys()) == list(t.keys())
    assert repr(c) == repr(t).replace("torch.", "cgrad.")
    assert c.pop("b").shape == (2, 3) and c.popitem()[0] == t.popitem()[0] == "p"
    t.pop("b")
    assert list(c) == list(t)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_parameters(remove_duplicate=False)] == ["a", "z"]
    assert list((c | nn.ParameterDict({"k": cgrad.ones(1)})).keys()) == list(c.keys()) + ["k"]
    c2 = c.copy()
    assert c2["a"] is c["a"] and list(c2) == list(c)
    assert list(c.fromkeys(["u", "v"], 2).items()) == [("u", 2), ("v", 2)]
    c.clear()
    assert len(c) == 0 and not list(c.parameters())
    for call in ["d[1] = lib.ones(1)", "d(lib.ones(1))", "d.update(3)", "d.update([(1, 2, 3)])",
                 "d.update([1])"]:
        _raises_like_torch(lambda: exec(call, {"d": nn.ParameterDict(), "lib": cgrad}),
                           lambda: exec(call, {"d": torch.nn.ParameterDict(), "lib": torch}))


def test_parameter_dict_trains_in_a_module(backend):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.params = nn.ParameterDict({"w": nn.Parameter(cgrad.ones(3)),
                                            "b": nn.Parameter(cgrad.zeros(3))})

        def forward(self, x):
            return x * self.params["w"] + self.params["b"]

    m = Model()
    opt = cgrad.optim.SGD(m.parameters(), lr=0.5)
    m(cgrad.tensor([1.0, 2.0, 3.0])).sum().backward()
    opt.step()
    np.testing.assert_allclose(m.params["w"].detach().numpy(), [0.5, 0.0, -0.5])
    np.testing.assert_allclose(m.params["b"].detach().numpy(), [-0.5] * 3)
    assert list(m.state_dict()) == ["params.b", "params.w"]


def test_top_level_forms_are_functionals():
    for name in ["selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "threshold",
                 "threshold_", "hardshrink", "prelu", "bilinear", "pixel_shuffle",
                 "pixel_unshuffle", "pairwise_distance", "cosine_similarity", "alpha_dropout",
                 "feature_alpha_dropout"]:
        assert hasattr(torch, name) and callable(getattr(cgrad, name))
    x = cgrad.tensor([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(cgrad.alpha_dropout(x, 0.5, False).numpy(), x.numpy())
    assert cgrad.threshold_(x, 0.6, 9.0) is x and x.tolist() == [9.0, 9.0, 2.0]
    with pytest.raises(AttributeError):
        cgrad.no_such_function


@pytest.mark.parametrize("shape", [(3, 0, 2), (0, 0, 2), (1, 0, 2, 2), (1, 0, 2, 2, 2)])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
def test_interpolate_of_no_channels_refuses_as_torch(shape, mode):
    """PyTorch's resampling kernels take an empty batch, not an empty channel dim (cgrad
    returned an empty result)"""
    mode = {3: mode, 4: "bilinear", 5: "trilinear"}[len(shape)] if mode == "linear" else mode

    def run(lib, shape=shape):
        return lib.nn.functional.interpolate(lib.ones(*shape), size=4, mode=mode)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))
    empty_batch = (0, 1, *shape[2:])
    assert tuple(run(cgrad, empty_batch).shape) == tuple(run(torch, empty_batch).shape)
