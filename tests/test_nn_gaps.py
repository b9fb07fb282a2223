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
    (2, 3, (2, 1), (3, 7, 6)), (3, 2, (1, 2, 2), (2, 3, 5, 5, 5)),
    (3, (1, 2, 3), None, (2, 4, 5, 7))])
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
    "F.fractional_max_pool2d(x.long(), 3, output_size=(3, 3))",
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
    "F.max_pool1d_with_indices(x[0], 2)",
    "F.max_pool1d_with_indices(x[0], 3, 2, 1, ceil_mode=True)",
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


# ---- nn.Buffer and Module extras ---------------------------------------------------------------
def _pair_of(build):
    """build(lib) with cgrad and with PyTorch"""
    return build(cgrad), build(torch)


def test_buffer_registers_on_assignment(backend):
    def build(lib):
        m = lib.nn.Module()
        m.a = lib.nn.Buffer(lib.ones(2))
        m.b = lib.nn.Buffer(lib.zeros(3, requires_grad=True), persistent=False)
        m.c = lib.nn.Buffer()
        m.a = lib.ones(4)                      # a plain tensor keeps the name's persistence
        m.b = lib.zeros(1)
        m.p = lib.nn.Parameter(lib.ones(1))
        return m
    ours, theirs = _pair_of(build)
    assert list(ours._buffers) == list(theirs._buffers) == ["a", "b", "c"]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["p", "a", "c"]
    assert ours.a.shape == (4,) and ours.c.shape == (0,)
    assert isinstance(cgrad.nn.Buffer(cgrad.ones(1)), cgrad.nn.Buffer)
    assert not isinstance(cgrad.ones(1), cgrad.nn.Buffer)
    b, tb = cgrad.nn.Buffer(cgrad.ones(2, requires_grad=True)), torch.nn.Buffer(
        torch.ones(2, requires_grad=True))
    assert b.requires_grad is tb.requires_grad is True and b.grad_fn is tb.grad_fn is None
    assert type(b) is cgrad.Tensor and b.persistent is tb.persistent is True


@pytest.mark.parametrize("call", [
    "setattr(m, 'a', 3)", "setattr(m, 'p', nn.Buffer(lib.ones(1)))",
    "setattr(m, 'x', nn.Buffer(lib.ones(1)))", "m.get_buffer('p')", "m.get_buffer('zz')",
    "m.get_buffer('sub.weight')", "m.get_buffer('nope.q')", "m.set_submodule('', nn.ReLU())",
    "m.set_submodule('sub', 3)", "m.set_submodule('sub.r', nn.ReLU(), strict=True)",
    "m.set_submodule('a', nn.ReLU())", "m.set_submodule('nope.r', nn.ReLU())",
    "m.to_empty()", "m.cuda()"])
def test_module_extras_errors_like_torch(backend, call):
    def run(lib, nn_, call):
        m = nn_.Module()
        m.a, m.x = nn_.Buffer(lib.ones(2)), 1
        m.p = nn_.Parameter(lib.ones(1))
        m.sub = nn_.Linear(2, 2)
        m.sub.register_buffer("q", lib.zeros(1))
        eval(call, {"m": m, "nn": nn_, "lib": lib})
    with pytest.raises(Exception) as t_err:
        run(torch, torch.nn, call)
    with pytest.raises(type(t_err.value)) as c_err:
        run(cgrad, nn, call)
    if call != "m.cuda()":                        # (PyTorch's words there, cgrad's here)
        assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")


def test_get_buffer_set_submodule_to_empty_cuda(backend):
    def build(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
        m.set_submodule("0", lib.nn.Linear(2, 3, bias=False))
        m.set_submodule("2", lib.nn.ReLU())
        m.set_submodule("1", lib.nn.BatchNorm1d(3, momentum=0.5), strict=True)
        return m
    ours, theirs = _pair_of(build)
    assert repr(ours) == repr(theirs)
    assert ours.get_buffer("1.running_var") is ours[1].running_var
    params = list(ours.parameters())
    assert ours.to_empty(device="cpu") is ours and ours.to_empty(device=None, recurse=False) is ours
    assert [p is q for p, q in zip(params, ours.parameters())] == [True] * 3
    assert [(k, tuple(v.shape), v.dtype) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape), v.dtype) for k, v in build(cgrad).state_dict().items()]
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        ours.cuda()
    assert cgrad.nn.ReLU().cuda().__class__ is cgrad.nn.ReLU      # nothing to move, as PyTorch
    assert torch.nn.ReLU().cuda().__class__ is torch.nn.ReLU
    with pytest.raises(TypeError, match="no bfloat16"):
        ours.bfloat16()


class _WithExtra:
    """a module class (on lib's Module) keeping a Python object in state_dict"""

    @staticmethod
    def make(lib):
        class Counter(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(2, 1)
                self.count = 0

            def get_extra_state(self):
                return {"count": self.count}

            def set_extra_state(self, state):
                self.count = state["count"]
        return Counter


def test_extra_state_in_state_dict_as_torch(backend):
    ours, theirs = _WithExtra.make(cgrad)(), _WithExtra.make(torch)()
    ours.count = theirs.count = 7
    outer_c, outer_t = cgrad.nn.Sequential(ours), torch.nn.Sequential(theirs)
    assert list(outer_c.state_dict()) == list(outer_t.state_dict()) == \
        ["0._extra_state", "0.lin.weight", "0.lin.bias"]    # (its own entries first)
    assert outer_c.state_dict()["0._extra_state"] == {"count": 7}
    fresh = cgrad.nn.Sequential(_WithExtra.make(cgrad)())
    fresh.load_state_dict(outer_c.state_dict())
    assert fresh[0].count == 7
    for strict in (True, False):
        for lib, m in ((cgrad, outer_c), (torch, outer_t)):
            sd = m.state_dict()
            del sd["0._extra_state"]
            if strict:
                with pytest.raises(RuntimeError) as err:
                    m.load_state_dict(sd)
                assert 'Missing key(s) in state_dict: "0._extra_state"' in str(err.value)
            else:
                assert m.load_state_dict(sd, strict=False).missing_keys == ["0._extra_state"]
    # an _extra_state key for a module without set_extra_state: unexpected, as PyTorch's
    c_err = t_err = None
    for lib in (cgrad, torch):
        m = lib.nn.Linear(2, 1)
        sd = dict(m.state_dict(), _extra_state=1)
        with pytest.raises(RuntimeError) as err:
            m.load_state_dict(sd)
        c_err, t_err = (str(err.value), t_err) if lib is cgrad else (c_err, str(err.value))
        assert m.load_state_dict(sd, strict=False).unexpected_keys == ["_extra_state"]
    assert c_err == t_err


def test_state_dict_hooks_as_torch(backend):
    def run(lib):
        calls = []
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU(),
                                                                     lib.nn.Linear(2, 1)))
        for name, sub in m.named_modules():
            sub.register_state_dict_pre_hook(
                lambda mod, prefix, keep_vars, name=name: calls.append(("pre", name, prefix,
                                                                        keep_vars)))
            sub.register_state_dict_post_hook(
                lambda mod, sd, prefix, meta, name=name: calls.append(("post", name, prefix,
                                                                       list(sd))))

        def drop_bias(mod, sd, prefix, meta):
            del sd[prefix + "bias"]
        handle = m[1][1].register_state_dict_post_hook(drop_bias)
        keys = list(m.state_dict(prefix="top.", keep_vars=True))
        handle.remove()
        keys2 = list(m.state_dict())
        m[0].register_state_dict_post_hook(lambda *a: {})
        with pytest.raises(RuntimeError) as err:
            m.state_dict()
        return calls, keys, keys2, str(err.value)
    assert run(cgrad) == run(torch)


def test_load_state_dict_post_hooks_as_torch(backend):
    def run(lib):
        seen = []
        m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.Linear(2, 1)))
        for name, sub in m.named_modules():
            sub.register_load_state_dict_post_hook(
                lambda mod, keys, name=name: seen.append((name, list(keys.missing_keys),
                                                          list(keys.unexpected_keys))))
        sd = dict(m.state_dict(), extra=lib.ones(1))
        del sd["1.0.bias"]

        def forgive(mod, keys):               # in place: strict's check then passes
            keys.missing_keys.clear()
            keys.unexpected_keys.clear()
        handle = m.register_load_state_dict_post_hook(forgive)
        result = m.load_state_dict(sd)
        handle.remove()
        with pytest.raises(RuntimeError) as missing:
            m.load_state_dict(sd)
        m[0].register_load_state_dict_post_hook(lambda mod, keys: 1)
        with pytest.raises(AssertionError) as returned:
            m.load_state_dict(m.state_dict())
        return seen, repr(result), str(missing.value), str(returned.value)
    assert run(cgrad) == run(torch)


# ---- register_backward_hook (deprecated, as PyTorch's) -----------------------------------------
class _Scale:
    @staticmethod
    def make(lib):
        class Scale(lib.nn.Module):              # one op: x * w (its grad_fn's inputs: x, w)
            def __init__(self):
                super().__init__()
                self.w = lib.nn.Parameter(lib.tensor([1.5, -2.0, 0.5]))

            def forward(self, x):
                return x * self.w
        return Scale


@pytest.mark.parametrize("module", ["nn.ReLU()", "nn.Sigmoid()", "Scale()", "nn.Linear(3, 2)",
                                    "nn.Sequential(nn.Linear(3, 3), nn.Tanh())"])
@pytest.mark.parametrize("leaf_input", [False, True])
def test_register_backward_hook_as_torch(backend, module, leaf_input):
    import warnings

    def run(lib):
        m = eval(module, {"nn": lib.nn, "Scale": _Scale.make(lib)})
        with lib.no_grad():                      # the same parameters in both
            for p in m.parameters():
                p.copy_(lib.tensor(np.linspace(-1, 1, p.numel(), dtype=np.float32)
                                   .reshape(p.shape)))
        seen = []

        def hook(mod, grad_input, grad_output):
            assert mod is m
            seen.append(([None if g is None else g.numpy().copy() for g in grad_input],
                         [g.numpy().copy() for g in grad_output]))
            if grad_input[0] is not None:       # doubled, where the node gives x's first
                return (grad_input[0] * 2,) + tuple(grad_input[1:])
        m.register_backward_hook(hook)
        x0 = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3),
                        requires_grad=True)
        x = x0 if leaf_input else x0 * 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = m(x)
        y.backward(lib.tensor(np.arange(y.numel(), dtype=np.float32).reshape(y.shape)))
        return seen, x0.grad.numpy(), [(w.category, str(w.message)) for w in caught]
    (c_seen, c_grad, c_warn), (t_seen, t_grad, t_warn) = run(cgrad), run(torch)
    assert c_warn == t_warn
    if module == "nn.Linear(3, 2)":             # cgrad's fused linear node takes the weight,
        return                                   # PyTorch's its transpose: other grad_input
    assert len(c_seen) == len(t_seen) == 1
    for c, t in zip(c_seen[0], t_seen[0]):
        assert len(c) == len(t)
        for a, b in zip(c, t):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c_grad, t_grad, rtol=1e-5, atol=1e-5)


def test_backward_hook_kinds_do_not_mix(backend):
    for lib in (cgrad, torch):
        for first, second in [("register_backward_hook", "register_full_backward_hook"),
                              ("register_full_backward_hook", "register_backward_hook")]:
            m = lib.nn.ReLU()
            getattr(m, first)(lambda *a: None).remove()       # (even once removed)
            with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and "
                               "full backward hooks on a single Module. Please use only one "
                               "of them."):
                getattr(m, second)(lambda *a: None)
