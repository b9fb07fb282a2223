"""nn.utils against PyTorch: conv / linear + batch norm fusion, skip_init, get_total_norm and
clip_grads_with_norm_ (the two halves of clip_grad_norm_), clip_grad_norm's deprecation."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn

torch = pytest.importorskip("torch")

from test_nn_layers import _cg, _raises_like_torch  # noqa: E402


def _pair(build):
    """build(lib) for cgrad and PyTorch, cgrad's given PyTorch's state (in eval mode), with
    PyTorch's batch norm statistics and affine parameters made non-trivial"""
    t = build(torch)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, v in t.state_dict().items():
            if v.is_floating_point() and v.dim() == 1:
                v.copy_(torch.rand(v.shape, generator=g, dtype=v.dtype) + 0.5)
    c = build(cgrad)
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    return c.eval(), t.eval()


def _same_param(c, t):
    assert type(c) is nn.Parameter and c.requires_grad == t.requires_grad
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fuse_conv_bn_eval(backend, dims, transpose, bias, affine, dtype):
    def build(lib):
        conv = getattr(lib.nn, f"ConvTranspose{dims}d" if transpose else f"Conv{dims}d")
        bn = getattr(lib.nn, f"BatchNorm{dims}d")(6, eps=1e-3, affine=affine)
        return lib.nn.Sequential(conv(4, 6, 3, bias=bias), bn).to(getattr(lib, dtype))
    c, t = _pair(build)
    c_fused = nn.utils.fuse_conv_bn_eval(c[0], c[1], transpose=transpose)
    t_fused = torch.nn.utils.fuse_conv_bn_eval(t[0], t[1], transpose=transpose)
    assert c_fused is not c[0] and repr(c_fused) == repr(t_fused)
    assert list(c_fused.state_dict()) == list(t_fused.state_dict())
    _same_param(c_fused.weight, t_fused.weight)
    _same_param(c_fused.bias, t_fused.bias)
    x = torch.randn((2, 4) + (5,) * dims, generator=torch.Generator().manual_seed(0),
                    dtype=getattr(torch, dtype))
    np.testing.assert_allclose(c_fused(_cg(x)).detach().numpy(), t(x).detach().numpy(),
                               rtol=1e-4, atol=1e-5)   # the fused conv computes bn(conv(x))
    assert c[0].weight is not c_fused.weight          # the original is left alone


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("features", [5, 1])
def test_fuse_linear_bn_eval(backend, bias, features):
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(3, 5, bias=bias), lib.nn.BatchNorm1d(features))
    c, t = _pair(build)
    c_fused = nn.utils.fuse_linear_bn_eval(c[0], c[1])
    t_fused = torch.nn.utils.fuse_linear_bn_eval(t[0], t[1])
    _same_param(c_fused.weight, t_fused.weight)
    _same_param(c_fused.bias, t_fused.bias)
    if features == 5:
        x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
        np.testing.assert_allclose(c_fused(_cg(x)).detach().numpy(), t(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_fusion_weights_functions_and_errors():
    g = torch.Generator().manual_seed(4)
    w, rm, rv, bw, bb = (torch.rand(s, generator=g) + 0.5 for s in ((6, 4, 3), 6, 6, 6, 6))
    c_args, t_args = [_cg(w), None, _cg(rm), _cg(rv), 1e-5, None, None], [w, None, rm, rv, 1e-5,
                                                                         None, None]
    for c, t in zip(nn.utils.fuse_conv_bn_weights(*c_args),
                    torch.nn.utils.fuse_conv_bn_weights(*t_args)):
        _same_param(c, t)
    lw = torch.rand(6, 2, generator=g).requires_grad_()
    for c, t in zip(nn.utils.fuse_linear_bn_weights(_cg(lw), None, _cg(rm), _cg(rv), 1e-5,
                                                    _cg(bw), _cg(bb)),
                    torch.nn.utils.fuse_linear_bn_weights(lw, None, rm, rv, 1e-5, bw, bb)):
        _same_param(c, t)
    for lib in (nn, torch.nn):           # a Linear's weight sets the requires_grad of both
        assert lib.utils.fuse_linear_bn_eval(lib.Linear(2, 6).eval(),
                                             lib.BatchNorm1d(6).eval()).bias.requires_grad
    cases = ["fuse_conv_bn_eval(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3).eval())",
             "fuse_conv_bn_eval(nn.Conv1d(2, 3, 1).eval(), nn.BatchNorm1d(3, "
             "track_running_stats=False).eval())",
             "fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(4).eval())",
             "fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(4))"]
    for case in cases:
        _raises_like_torch(lambda: eval("nn.utils." + case, {"nn": nn}),
                           lambda: eval("nn.utils." + case, {"nn": torch.nn}))


def test_skip_init():
    cgrad.manual_seed(0)
    before = cgrad.rand(3)
    cgrad.manual_seed(0)
    m = nn.utils.skip_init(nn.Linear, 4, out_features=2, bias=False, dtype=cgrad.float64)
    assert np.array_equal(cgrad.rand(3).numpy(), before.numpy())    # drew no random numbers
    t = torch.nn.utils.skip_init(torch.nn.Linear, 4, out_features=2, bias=False,
                                 dtype=torch.float64)
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    assert m.weight.shape == t.weight.shape and m.weight.dtype == cgrad.float64
    assert type(m.weight) is nn.Parameter and m.weight.requires_grad
    assert m(cgrad.ones(1, 4, dtype=cgrad.float64)).shape == (1, 2)

    class NoDevice(torch.nn.Module):
        pass

    class CNoDevice(nn.Module):
        pass
    _raises_like_torch(lambda: nn.utils.skip_init(CNoDevice), lambda: torch.nn.utils.skip_init(
        NoDevice))
    with pytest.raises(RuntimeError, match="^Expected a Module; got <class 'int'>$"):
        nn.utils.skip_init(int)


def _grad_params(lib, dtypes=("float32", "float32")):
    g = torch.Generator().manual_seed(5)
    out = []
    for i, (shape, dtype) in enumerate(zip([(3, 4), (5,)], dtypes)):
        v = torch.randn(shape, generator=g, dtype=getattr(torch, dtype)) * 3
        p = (lib.tensor(v.numpy()) if lib is cgrad else v.clone()).requires_grad_()
        p.grad = lib.tensor(v.numpy() * (i + 1)) if lib is cgrad else v * (i + 1)
        out.append(p)
    out.append(lib.zeros(2, requires_grad=True))          # no grad: skipped
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1, "inf", 0.5])
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float32", "float64")])
def test_get_total_norm_and_clip_grads_with_norm(backend, norm_type, dtypes):
    norm_type = float(norm_type)
    c_ps, t_ps = _grad_params(cgrad, dtypes), _grad_params(torch, dtypes)
    c_total = nn.utils.get_total_norm([p.grad for p in c_ps[:2]], norm_type)
    t_total = torch.nn.utils.get_total_norm([p.grad for p in t_ps[:2]], norm_type)
    assert str(c_total.dtype)[6:] == str(t_total.dtype)[6:] and c_total.shape == ()
    np.testing.assert_allclose(c_total.numpy(), t_total.numpy(), rtol=1e-6)
    # get_total_norm takes the tensors themselves, not their grads
    np.testing.assert_allclose(nn.utils.get_total_norm(c_ps[0], norm_type).numpy(),
                               torch.nn.utils.get_total_norm(t_ps[0], norm_type).numpy(),
                               rtol=1e-6)
    versions = [p.grad._version for p in c_ps[:2]]
    assert nn.utils.clip_grads_with_norm_(c_ps, 2.0, c_total) is None
    torch.nn.utils.clip_grads_with_norm_(t_ps, 2.0, t_total)
    assert [p.grad._version for p in c_ps[:2]] == [v + 1 for v in versions]
    for c, t in zip(c_ps, t_ps):
        assert (c.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    # clip_grad_norm_ is the two of them
    c_ps, t_ps = _grad_params(cgrad, dtypes), _grad_params(torch, dtypes)
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(c_ps, 1.5, norm_type).numpy(),
                               torch.nn.utils.clip_grad_norm_(t_ps, 1.5, norm_type).numpy(),
                               rtol=1e-6)
    for c, t in zip(c_ps[:2], t_ps[:2]):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_total_norm_edge_cases_and_warnings():
    for lib in (cgrad, torch):
        assert float(lib.nn.utils.get_total_norm([])) == 0.0
        assert lib.nn.utils.clip_grads_with_norm_([lib.zeros(2, requires_grad=True)], 1.0,
                                                  lib.tensor(3.0)) is None
        p = lib.ones(2, requires_grad=True)
        p.grad = lib.tensor([3.0, 4.0])
        with warnings.catch_warnings(record=True) as w:   # a user's own total norm
            warnings.simplefilter("always")
            lib.nn.utils.clip_grads_with_norm_([p], 1.0, lib.tensor(10.0))
            lib.nn.utils.clip_grad_norm_((q for q in []), 1.0)
            lib.nn.utils.clip_grad_norm([p], 100.0)
        np.testing.assert_allclose(np.asarray(p.grad), [0.3, 0.4], rtol=1e-6)
        assert [(x.category, str(x.message)) for x in w] == [
            (UserWarning, "`parameters` is an empty generator, no gradient clipping will "
                          "occur."),
            (FutureWarning, "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                            "`torch.nn.utils.clip_grad_norm_`.")]
    _raises_like_torch(
        lambda: nn.utils.get_total_norm([cgrad.tensor([1.0, float("inf")])],
                                        error_if_nonfinite=True),
        lambda: torch.nn.utils.get_total_norm([torch.tensor([1.0, float("inf")])],
                                              error_if_nonfinite=True))
