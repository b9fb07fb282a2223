"""nn layers and Module features PyTorch has that cgrad lacked, against PyTorch: local
response norm, the LP pools, fractional max pooling (given PyTorch's random samples), the
F.*_with_indices aliases."""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, _cg, _check_grads, _inputs  # noqa: E402


def _both(call, **names):
    """call (a string using lib, F and nn, and names given as torch tensors) evaluated with
    cgrad and with PyTorch"""
    env = {k: _cg(v) for k, v in names.items()}
    return (lambda: eval(call, {"lib": cgrad, "F": F, "nn": nn, **env}),
            lambda: eval(call, {"lib": torch, "F": torch.nn.functional, "nn": torch.nn,
                                **names}))


def _raises_alike(call, **names):
    """call raises PyTorch's exception class with its message under both libraries"""
    c_call, t_call = _both(call, **names)
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(type(t_err.value)) as c_err:
        c_call()
    assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")


def _module_matches(c_module, t_module, shape, dtype, seed=2):
    """c_module(x) and its gradients as t_module's; the repr as PyTorch's"""
    assert repr(c_module) == repr(t_module)
    c, t = _inputs(shape, dtype, seed)
    c_out, t_out = c_module(c), t_module(t)
    if isinstance(t_out, tuple):
        np.testing.assert_array_equal(c_out[1].numpy(), t_out[1].numpy())
        assert c_out[1].dtype == cgrad.int64
        c_out, t_out = c_out[0], t_out[0]
    assert c_out.grad_fn.name() == t_out.grad_fn.name()
    _check_grads(c_module, t_module, [c], [t], c_out, t_out, dtype)


# ---- LocalResponseNorm -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 6, 3, 4), (2, 7, 3, 4, 2), (1, 3, 2, 2, 2, 2)])
@pytest.mark.parametrize("args", [(3,), (4, 0.1, 0.6, 2.0), (1,)])
def test_local_response_norm_matches_torch(backend, dtype, shape, args):
    _module_matches(nn.LocalResponseNorm(*args), torch.nn.LocalResponseNorm(*args), shape,
                    dtype)


def test_local_response_norm_checks_like_torch(backend):
    _raises_alike("F.local_response_norm(lib.ones(2, 3), 2)")
    c, t = _both("F.local_response_norm(lib.ones(0, 3, 4), 2)")
    assert c().shape == t().shape


# ---- LPPool ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2, 3.0, float("inf"), -float("inf")])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("n, kernel, stride, shape", [
    (1, 3, 2, (2, 3, 8)), (1, 2, None, (3, 7)), (2, (2, 3), None, (2, 3, 7, 8)),
    (2, 3, (2, 1), (3, 7, 6)), (3, 2, (1, 2, 2), (2, 3, 5, 5, 5)), (3, (1, 2, 3), None, (2, 4, 5, 7))])
def test_lp_pool_matches_torch(backend, dtype, p, ceil_mode, n, kernel, stride, shape):
    args = (p, kernel, stride, ceil_mode)
    _module_matches(getattr(nn, f"LPPool{n}d")(*args), getattr(torch.nn, f"LPPool{n}d")(*args),
                    shape, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_pool_fractional_p_and_zero_windows_match_torch(backend, dtype):
    # a fractional p of non-negative input; a window of zeros: a zero gradient, as PyTorch's
    c, t = _inputs((2, 3, 8), dtype)
    with torch.no_grad():
        t.abs_()[:, :, :2] = 0
    c = _cg(t).requires_grad_()
    for p in (1.5, 2):
        c.grad = t.grad = None
        _check_grads(nn.Identity(), torch.nn.Identity(), [c], [t], F.lp_pool1d(c, p, 2),
                     torch.nn.functional.lp_pool1d(t, p, 2), dtype)


def test_lp_pool_functional_forms(backend):
    x = torch.randn(2, 3, 6, 6, 6)
    for call in ["F.lp_pool1d(x[0, 0], 2, 3)", "F.lp_pool2d(x[0], 2., 2, 2)",
                 "F.lp_pool3d(x, 1, (2, 3, 2), ceil_mode=True)"]:
        c, t = _both(call, x=x)
        np.testing.assert_allclose(c().numpy(), t().numpy(), rtol=1e-5, atol=1e-6)


# ---- FractionalMaxPool -------------------------------------------------------------------------
def _samples(shape, n, dtype, seed=3):
    batch = 1 if len(shape) == n + 1 else shape[0]
    return torch.rand(batch, shape[-n - 1], n, dtype=torch.float32 if dtype == np.float32
                      else torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, shape, kernel, size", [
    (2, (2, 3, 9, 11), 3, (4, 5)), (2, (3, 9, 11), (2, 3), (8, 4)), (2, (2, 3, 9, 11), 2, 1),
    (2, (2, 3, 9, 11), 2, (8, 10)), (2, (1, 2, 5, 5), (3, 1), (3, 5)),
    (3, (2, 3, 9, 11, 6), 3, (4, 5, 3)), (3, (3, 9, 11, 7), (2, 3, 1), (7, 4, 3)),
    (3, (1, 2, 4, 4, 4), 2, 2)])
@pytest.mark.parametrize("return_indices", [False, True])
def test_fractional_max_pool_matches_torch(backend, dtype, n, shape, kernel, size,
                                           return_indices):
    samples = _samples(shape, n, dtype)
    t_module = getattr(torch.nn, f"FractionalMaxPool{n}d")(kernel, size,
                                                           return_indices=return_indices,
                                                           _random_samples=samples)
    c_module = getattr(nn, f"FractionalMaxPool{n}d")(kernel, size, return_indices=return_indices,
                                                     _random_samples=_cg(samples))
    assert list(c_module.state_dict()) == list(t_module.state_dict()) == ["_random_samples"]
    _module_matches(c_module, t_module, shape, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, shape, ratio", [(2, (2, 3, 9, 13), (0.5, 0.5)),
                                             (2, (3, 10, 7), 0.7),
                                             (3, (2, 2, 7, 9, 6), (0.5, 0.4, 0.6)),
                                             (3, (2, 8, 8, 8), 0.5)])
def test_fractional_max_pool_ratio_matches_torch(backend, dtype, n, shape, ratio):
    samples = _samples(shape, n, dtype)
    _module_matches(getattr(nn, f"FractionalMaxPool{n}d")(2, output_ratio=ratio,
                                                          _random_samples=_cg(samples)),
                    getattr(torch.nn, f"FractionalMaxPool{n}d")(2, output_ratio=ratio,
                                                                _random_samples=samples),
                    shape, dtype)


def test_fractional_max_pool_ties_and_nan_pick_as_torch(backend):
    x = torch.tensor([[[[1., 1, 2, 2, 0, 0], [1, 1, 2, float("nan"), 0, 0], [3, 3, 3, 3, 3, 3],
                        [0, 0, 0, 0, 0, 0]]]])
    s = torch.tensor([[[0.3, 0.8]]])
    c, t = _both("F.fractional_max_pool2d_with_indices(x, 2, (3, 4), _random_samples=s)",
                 x=x, s=s)
    (cv, ci), (tv, ti) = c(), t()
    np.testing.assert_array_equal(cv.numpy(), tv.numpy())
    np.testing.assert_array_equal(ci.numpy(), ti.numpy())


def test_fractional_max_pool_draws_samples(backend):
    x = cgrad.randn(2, 3, 9, 9)
    out, idx = F.fractional_max_pool2d(x, 2, output_size=4, return_indices=True)
    assert out.shape == (2, 3, 4, 4)
    # each value is the input at its index
    np.testing.assert_array_equal(out.numpy(), np.take_along_axis(
        x.numpy().reshape(2, 3, 81), idx.numpy().reshape(2, 3, 16), 2).reshape(2, 3, 4, 4))
    assert F.fractional_max_pool3d(cgrad.randn(3, 5, 5, 5), 2, output_ratio=0.5).shape == \
        (3, 2, 2, 2)


@pytest.mark.parametrize("call", [
    "F.fractional_max_pool2d(x, 3)",
    "F.fractional_max_pool2d(x, 3, output_ratio=0.5)",
    "F.fractional_max_pool2d(x, 3, output_ratio=(0.5, 0.5, 0.5))",
    "F.fractional_max_pool2d(x, 3, output_size=(6, 8), _random_samples=s2)",
    "F.fractional_max_pool2d(x, 3, output_size=(5, 8), _random_samples=s2)",
    "F.fractional_max_pool2d(x, (3, 3, 3), output_size=(3, 3), _random_samples=s2)",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3, 3), _random_samples=s2)",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3), _random_samples=s3)",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3), _random_samples=s2[:1])",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3), _random_samples=s2[:, :2])",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3), _random_samples=s2[0])",
    "F.fractional_max_pool2d(x, 3, output_size=(3, 3), _random_samples=s2.double())",
    "F.fractional_max_pool2d(x[:, :, :0], 3, output_size=(3, 3), _random_samples=s2)",
    "F.fractional_max_pool2d(x[0, 0, 0], 1, output_size=(1, 1), _random_samples=s2)",
    "F.fractional_max_pool2d(x[None], 1, output_size=(1, 1), _random_samples=s2)",
    "F.fractional_max_pool2d(x.long(), 3, output_size=(3, 3), _random_samples=s2)",
    "F.fractional_max_pool3d(x, 3)",
    "F.fractional_max_pool3d(x, 3, output_size=(1, 3, 3), _random_samples=s3)",
    "F.fractional_max_pool3d(x[None], 3, output_size=(6, 3, 3), _random_samples=s3)",
    "F.fractional_max_pool3d(x[None], 2, output_size=(2, 6, 3), _random_samples=s3)",
    "F.fractional_max_pool3d(x[None], 2, output_size=(2, 3, 9), _random_samples=s3)",
    "F.fractional_max_pool3d(x[None], 2, output_size=(2, 3, 3), _random_samples=s2)",
    "F.fractional_max_pool3d(x[None], (2, 2), output_size=(2, 3, 3), _random_samples=s3)",
    "nn.FractionalMaxPool2d(2)",
    "nn.FractionalMaxPool2d(2, 3, 0.5)",
    "nn.FractionalMaxPool2d(2, output_ratio=1.5)",
    "nn.FractionalMaxPool3d(0, 2)",
    "nn.FractionalMaxPool3d((2, 0, 1), 2)",
    "nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 1))",
])
def test_fractional_max_pool_checks_like_torch(backend, call):
    _raises_alike(call, x=torch.randn(2, 3, 7, 9), s2=torch.rand(2, 3, 2),
                  s3=torch.rand(1, 2, 3))


# ---- F.*_with_indices --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", [
    "F.max_pool1d_with_indices(x[0], 2)", "F.max_pool1d_with_indices(x[0], 3, 2, 1, ceil_mode=True)",
    "F.max_pool2d_with_indices(x, 2)", "F.max_pool2d_with_indices(x, 3, 2, 1, 1, True, False)",
    "F.max_pool3d_with_indices(x[None], 2, return_indices=False)",
    "F.adaptive_max_pool1d_with_indices(x[0], 4)", "F.adaptive_max_pool2d_with_indices(x, 4)",
    "F.adaptive_max_pool2d_with_indices(x, (3, None), False)",
    "F.adaptive_max_pool3d_with_indices(x[None], 3)"])
def test_with_indices_aliases_match_torch(backend, dtype, call):
    c_x, t_x = _inputs((2, 3, 7, 6), dtype)
    c_call, t_call = _both(call)
    (cv, ci), (tv, ti) = (eval(call, {"F": F, "x": c_x}),
                          eval(call, {"F": torch.nn.functional, "x": t_x}))
    np.testing.assert_array_equal(ci.numpy(), ti.numpy())
    _check_grads(nn.Identity(), torch.nn.Identity(), [c_x], [t_x], cv, tv, dtype)


# ---- Lazy modules ------------------------------------------------------------------------------
LAZY = [("LazyConv1d", (4, 3), (2, 3, 9)), ("LazyConv2d", (4, 3), (2, 3, 7, 6)),
        ("LazyConv2d", (6, (3, 2)), (4, 5, 6)),           # unbatched: the channels are dim 0
        ("LazyConv3d", (2, 2), (2, 3, 4, 4, 5)),
        ("LazyConv2d", (6, 3, 2, 1, 1, 2, False), (1, 4, 7, 7)),
        ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
        ("LazyConvTranspose2d", (6, 3, 2, 1, 1, 2), (2, 4, 5, 5)),
        ("LazyConvTranspose3d", (2, 2, 1, 0, 0, 1, False), (1, 3, 3, 4, 2)),
        ("LazyBatchNorm1d", (), (4, 3)), ("LazyBatchNorm1d", (), (4, 3, 5)),
        ("LazyBatchNorm2d", (1e-3, 0.2), (3, 2, 4, 5)),
        ("LazyBatchNorm3d", (1e-5, 0.1, False), (2, 3, 2, 2, 3)),
        ("LazyInstanceNorm1d", (), (2, 3, 6)),
        ("LazyInstanceNorm2d", (1e-5, 0.1, True, False), (2, 3, 4, 5)),
        ("LazyInstanceNorm3d", (1e-5, 0.1, False, True), (2, 3, 2, 3, 4))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, args, shape", LAZY)
def test_lazy_module_becomes_its_plain_class_as_torch(backend, dtype, name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert [(k, repr(v)) for k, v in ours.state_dict().items()] == \
        [(k, repr(v)) for k, v in theirs.state_dict().items()]
    assert [type(p).__name__ for p in ours.parameters()] == \
        [type(p).__name__ for p in theirs.parameters()]
    params = list(ours.parameters())
    opt = cgrad.optim.SGD(params, lr=0.1) if params else None   # made before the forward
    ours.to(cgrad.float64 if dtype == np.float64 else cgrad.float32)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    c, t = _inputs(shape, dtype)
    with torch.no_grad():
        theirs(t)
    ours(c)
    plain = getattr(torch.nn, name).cls_to_become.__name__
    assert type(ours) is getattr(nn, plain) and type(theirs).__name__ == plain
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape), str(v.dtype)[6:]) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape), str(v.dtype)[6:]) for k, v in theirs.state_dict().items()]
    assert all(p is q for p, q in zip(params, ours.parameters()))
    assert all(type(b) is cgrad.Tensor for b in ours.buffers())
    if name.startswith("LazyConv"):                     # reset_parameters ran: Linear's bounds
        fan_in = ours.weight.shape[1] * np.prod(ours.kernel_size)
        for p in ours.parameters():
            assert np.abs(p.detach().numpy()).max() <= 1 / np.sqrt(fan_in)
            assert p.detach().numpy().std() > 0
    else:                                               # and the norms' ones, zeros, stats
        for k, v in theirs.state_dict().items():
            if k != "running_mean":
                np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-6)
    # with the same parameters, the same outputs and gradients
    ours.load_state_dict({k: _cg(v) for k, v in theirs.state_dict().items()})
    c, t = _inputs(shape, dtype, seed=4)
    _check_grads(ours, theirs, [c], [t], ours(c), theirs(t), dtype)
    if opt is not None:
        before = params[0].detach().numpy().copy()
        opt.step()
        assert not np.array_equal(before, params[0].detach().numpy())


@pytest.mark.parametrize("name, args, shape", LAZY[:3] + LAZY[5:6] + LAZY[8:9])
def test_lazy_module_load_state_dict_materializes(backend, name, args, shape):
    src = getattr(torch.nn, name)(*args)
    src(torch.randn(shape))
    ours = getattr(nn, name)(*args)
    ours.load_state_dict({k: _cg(v) for k, v in src.state_dict().items()})
    assert type(ours).__name__ == name and not ours.has_uninitialized_params()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in src.state_dict().items()]
    src.eval(), ours.eval()
    c, t = _inputs(shape, np.float32)
    np.testing.assert_allclose(ours(c).detach().numpy(), src(t).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert type(ours).__name__ == name[4:]


@pytest.mark.parametrize("call", [
    "nn.LazyConv2d(4, 3)(lib.ones(2, 3))", "nn.LazyConv1d(4, 3)(lib.ones(1, 2, 3, 4))",
    "nn.LazyConv2d(4, 3, groups=2)(lib.ones(1, 3, 5, 5))",
    "nn.LazyConvTranspose3d(4, 3)(lib.ones(3, 4, 4, 4, 4, 4))",
    "nn.LazyBatchNorm2d()(lib.ones(2, 3, 4))",
    "nn.LazyLinear(2).initialize_parameters()",
    "nn.UninitializedBuffer().shape"])
def test_lazy_module_errors_like_torch(backend, call):
    _raises_alike(call)


def test_lazy_dtype_and_uninitialized_buffer(backend):
    m = nn.LazyBatchNorm1d(dtype=cgrad.float64)
    assert m.running_mean.dtype == m.weight.dtype == cgrad.float64
    assert m(cgrad.ones(3, 2, dtype=cgrad.float64)).dtype == cgrad.float64
    assert m.running_var.dtype == cgrad.float64 and m.num_features == 2
    b, tb = nn.UninitializedBuffer(), torch.nn.UninitializedBuffer()
    assert repr(b) == repr(tb) == "<UninitializedBuffer>"
    assert isinstance(b, nn.Buffer) and isinstance(tb, torch.nn.Buffer)
    assert b.requires_grad is tb.requires_grad is False
    host, t_host = nn.Module(), torch.nn.Module()
    host.b, t_host.b = b, tb                   # a buffer, as an nn.Buffer is
    assert list(host.state_dict(keep_vars=True)) == list(t_host.state_dict(keep_vars=True)) \
        == ["b"]
    with pytest.raises(ValueError, match="uninitialized parameter"):
        b + 1
    b.materialize((2, 3))
    assert type(b) is cgrad.Tensor and b.shape == (2, 3) and b.dtype == cgrad.float32
    # a lazy module with nothing to infer stays as it was built, as PyTorch's
    ours = nn.LazyInstanceNorm2d(affine=False, track_running_stats=False)
    theirs = torch.nn.LazyInstanceNorm2d(affine=False, track_running_stats=False)
    with pytest.warns(UserWarning, match="does not match num_features"):
        ours(cgrad.ones(1, 2, 3, 3))
    with pytest.warns(UserWarning, match="does not match num_features"):
        theirs(torch.ones(1, 2, 3, 3))
    assert repr(ours) == repr(theirs)
