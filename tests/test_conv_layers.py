"""Conv1d, ConvTranspose1d/2d, the 1-d pools and their F forms against PyTorch: outputs, input,
weight and bias gradients, second derivatives, reprs, state_dict, default init, output_size,
PyTorch's errors, and small networks trained for a few SGD steps. (The helpers twin a cgrad
module with a torch module through PyTorch's state dict, as in test_nn_layers.py.)"""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import (DTYPES, TOL, _cg, _check_grads, _close, _inputs,  # noqa: E402
                            _randn64, _raises_like_torch, _second_order, _twin)

tf = torch.nn.functional


def _module_matches_torch(name, dtype, shape, args, kwargs, transpose, **forward_kw):
    """the module `name` of both libraries, twinned: repr, grad_fn, output and gradients"""
    c, t = _twin(getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs),
                 dtype)
    assert repr(c) == repr(t)
    cx, tx = _inputs(shape, dtype, transpose=transpose)
    c_out, t_out = c(cx, **forward_kw), t(tx, **forward_kw)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()   # (unbatched: SqueezeBackward1)
    assert c_out.is_contiguous() and t_out.is_contiguous()
    _check_grads(c, t, [cx], [tx], c_out, t_out, dtype)


def _default_init_matches_torch(name, args, fan_in):
    """the module `name` of both libraries built from args: parameter names and shapes,
    state_dict keys, float32 weight and bias uniform in 1 / sqrt(fan_in); without bias, in
    float64"""
    cgrad.manual_seed(0)
    c, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert list(c.state_dict()) == list(t.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(fan_in)
    for p in (c.weight, c.bias):
        v = p.detach().numpy()
        assert p.dtype == cgrad.float32 and p.requires_grad
        assert v.min() >= -bound and v.max() <= bound
        assert v.max() > 0.8 * bound and v.min() < -0.8 * bound
    assert abs(c.weight.detach().numpy().std() - bound / np.sqrt(3)) < 0.1 * bound  # uniform
    c64 = getattr(nn, name)(*args, bias=False, dtype=cgrad.float64)
    assert c64.bias is None and c64.weight.dtype == cgrad.float64
    assert list(c64.state_dict()) == ["weight"]


# ---- Conv1d ------------------------------------------------------------------------------------
CONV1D_CASES = [((4, 1, 9), (1, 5, 3), {}),
                ((2, 3, 11), (3, 4, 2), dict(stride=2, padding=2)),
                ((2, 4, 12), (4, 6, 3), dict(dilation=2, padding=1, groups=2)),
                ((2, 4, 9), (4, 4, 3), dict(groups=4, bias=False, stride=3)),
                ((1, 2, 8), (2, 3, 4), dict(padding="same", dilation=3)),
                ((2, 2, 6), (2, 3, (3,)), dict(padding="valid", stride=(1,))),
                ((3, 7), (3, 2, 3), dict(padding=1))]                    # unbatched


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, args, kwargs", CONV1D_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv1d_matches_torch(backend, dtype, shape, args, kwargs, transpose):
    _module_matches_torch("Conv1d", dtype, shape, args, kwargs, transpose)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same"])
def test_conv1d_padding_modes_match_torch(backend, mode, padding):
    """padding_mode pads first (F.pad), as PyTorch's _ConvNd does"""
    c, t = _twin(nn.Conv1d(2, 3, 3, padding=padding, padding_mode=mode),
                 torch.nn.Conv1d(2, 3, 3, padding=padding, padding_mode=mode), np.float64)
    assert repr(c) == repr(t)
    cx, tx = _inputs((2, 2, 7), np.float64)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), np.float64)


def test_convs_record_convolution_backward(backend):
    x = cgrad.randn(1, 2, 5, 5, requires_grad=True)
    for groups in (1, 2):
        out = F.conv2d(x, cgrad.randn(4, 2 // groups, 3, 3), groups=groups)
        assert out.grad_fn.name() == "ConvolutionBackward0"
    y = x[:, :, 0]
    for out in (F.conv1d(y, cgrad.randn(3, 2, 2)), F.conv_transpose1d(y, cgrad.randn(2, 3, 2)),
                F.conv_transpose2d(x, cgrad.randn(2, 3, 2, 2), output_padding=1, stride=2)):
        assert out.grad_fn.name() == "ConvolutionBackward0"


# ---- ConvTranspose2d / ConvTranspose1d ---------------------------------------------------------
TRANSPOSED_2D_CASES = [
    ((2, 3, 4, 5), (3, 4, 3), {}),
    ((2, 4, 4, 5), (4, 6, (3, 2)), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                        groups=2, dilation=(1, 2))),
    ((2, 2, 5, 5), (2, 3, 4), dict(stride=2, padding=1, bias=False)),
    ((1, 2, 3, 3), (2, 2, 3), dict(output_padding=2, dilation=3)),   # past the padding: zeros
    ((2, 4, 3, 4), (4, 4, 2), dict(groups=4, stride=2, padding=(0, 1), output_padding=1)),
    ((3, 4, 5), (3, 2, 3), dict(stride=2, padding=1))]                  # unbatched
TRANSPOSED_1D_CASES = [
    ((2, 3, 7), (3, 4, 3), {}),
    ((2, 4, 7), (4, 6, 3), dict(stride=3, padding=1, output_padding=2, groups=2)),
    ((2, 2, 5), (2, 3, 2), dict(stride=2, dilation=3, output_padding=2, bias=False)),
    ((3, 6), (3, 2, 4), dict(padding=2))]                                # unbatched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, args, kwargs", TRANSPOSED_2D_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_transpose2d_matches_torch(backend, dtype, shape, args, kwargs, transpose):
    _module_matches_torch("ConvTranspose2d", dtype, shape, args, kwargs, transpose)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, args, kwargs", TRANSPOSED_1D_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_transpose1d_matches_torch(backend, dtype, shape, args, kwargs, transpose):
    _module_matches_torch("ConvTranspose1d", dtype, shape, args, kwargs, transpose)


@pytest.mark.parametrize("name, shape, args, kwargs, output_size", [
    ("ConvTranspose2d", (2, 3, 4, 5), (3, 2, 3), dict(stride=2, padding=1), (8, 10)),
    ("ConvTranspose2d", (2, 3, 4, 5), (3, 2, 3), dict(stride=(3, 2), padding=1), [2, 2, 11, 10]),
    ("ConvTranspose2d", (3, 4, 5), (3, 2, 3), dict(stride=3, dilation=2), (2, 14, 17)),
    ("ConvTranspose1d", (2, 3, 6), (3, 2, 3), dict(stride=4), (23,)),
    ("ConvTranspose1d", (3, 6), (3, 2, 3), dict(stride=2, padding=2), [2, 9])])
def test_conv_transpose_output_size_matches_torch(backend, name, shape, args, kwargs,
                                                   output_size):
    """forward's output_size: the output_padding that gives that size"""
    _module_matches_torch(name, np.float64, shape, args, kwargs, False, output_size=output_size)


@pytest.mark.parametrize("name, shape, args, kwargs", [
    ("Conv1d", (0, 3, 5), (3, 6, 3), dict(groups=3, padding=1)),
    ("ConvTranspose2d", (0, 2, 3, 4), (2, 4, 3), dict(stride=2)),
    ("ConvTranspose2d", (0, 4, 3, 4), (4, 2, 3), dict(groups=2, output_padding=1, stride=2)),
    ("ConvTranspose1d", (0, 2, 3), (2, 1, 3), {})])
def test_convs_of_an_empty_batch_match_torch(backend, name, shape, args, kwargs):
    """a batch of none: empty outputs, zero weight and bias gradients"""
    _module_matches_torch(name, np.float64, shape, args, kwargs, False)


@pytest.mark.parametrize("name, args, fan_in", [
    ("Conv1d", (3, 64, 5), 3 * 5),
    ("Conv1d", (4, 64, 3, 1, 0, 1, 2), 2 * 3),
    ("ConvTranspose2d", (3, 64, (5, 4)), 64 * 5 * 4),      # weight.shape[1] = out_channels
    ("ConvTranspose2d", (4, 64, 3, 1, 0, 0, 4), 16 * 3 * 3),
    ("ConvTranspose1d", (64, 48, 7), 48 * 7)])
def test_default_init_and_state_dict(name, args, fan_in):
    """kaiming_uniform(a=sqrt(5)) of the weight, the bias in the same bound 1 / sqrt(fan_in),
    fan_in from weight.shape[1] and the kernel (out_channels / groups where transposed)"""
    _default_init_matches_torch(name, args, fan_in)


# ---- second derivatives ------------------------------------------------------------------------
def test_conv1d_double_backward_matches_torch(backend):
    kw = dict(stride=2, padding=1, dilation=2, groups=2)
    _second_order(lambda x, w, b: F.conv1d(x, w, b, **kw),
                  lambda x, w, b: tf.conv1d(x, w, b, **kw),
                  _randn64((2, 4, 9), (6, 2, 3), (6,)))
    _second_order(lambda x, w: F.conv1d(x, w, padding="same"),
                  lambda x, w: tf.conv1d(x, w, padding="same"),
                  _randn64((3, 6), (2, 3, 4)))


def test_conv_transpose_double_backward_matches_torch(backend):
    kw = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2), groups=2)
    _second_order(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                  lambda x, w, b: tf.conv_transpose2d(x, w, b, **kw),
                  _randn64((2, 4, 3, 4), (4, 2, 3, 2), (4,)))
    kw = dict(output_padding=2, dilation=3)                     # zeros past the padding
    _second_order(lambda x, w: F.conv_transpose2d(x, w, **kw),
                  lambda x, w: tf.conv_transpose2d(x, w, **kw),
                  _randn64((1, 2, 3, 3), (2, 2, 3, 3)))
    kw = dict(stride=3, padding=1, output_padding=1)
    _second_order(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
                  lambda x, w, b: tf.conv_transpose1d(x, w, b, **kw),
                  _randn64((2, 3, 5), (3, 2, 3), (2,)))


def test_conv_transpose_that_reaches_no_output_matches_torch(backend):
    """every window of the input lands in the padding before the output's start (output
    padding past the padding makes the output): the bias alone, zero input and weight
    gradients, at every order; an empty batch gives an empty output"""
    kw = dict(stride=5, padding=2, output_padding=4)
    _second_order(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                  lambda x, w, b: tf.conv_transpose2d(x, w, b, **kw),
                  _randn64((2, 3, 1, 1), (3, 2, 1, 1), (2,)))
    # the gradients' own gradients: zeros, reached through g and the other input (a
    # constant zero there: "appears to not have been used in the graph")
    grads = []
    for lib, fn in ((cgrad, F.conv_transpose2d), (torch, tf.conv_transpose2d)):
        x, w = (lib.ones(*s, dtype=lib.float64, requires_grad=True) for s in
                ((2, 3, 1, 1), (3, 2, 1, 1)))
        y = fn(x, w, **kw)
        g = lib.ones(*y.shape, dtype=lib.float64, requires_grad=True)
        gx, gw = lib.autograd.grad(y, (x, w), g, create_graph=True)
        grads.append(lib.autograd.grad(gx.sum(), (w, g), retain_graph=True)
                     + lib.autograd.grad(gw.sum(), (x, g)))
    for c, t in zip(*grads):
        np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())
    out = F.conv_transpose2d(cgrad.ones(0, 1, 1, 1), cgrad.ones(1, 1, 1, 1), stride=5,
                             padding=2, output_padding=3)
    assert tuple(out.shape) == tuple(tf.conv_transpose2d(
        torch.ones(0, 1, 1, 1), torch.ones(1, 1, 1, 1), stride=5, padding=2,
        output_padding=3).shape) == (0, 1, 0, 0)


@pytest.mark.parametrize("fn, shapes, kw", [
    (F.conv1d, ((2, 4, 7), (4, 2, 3), (4,)), dict(stride=2, padding=1, dilation=2, groups=2)),
    (F.conv_transpose1d, ((2, 3, 4), (3, 2, 3), (2,)), dict(stride=2, output_padding=1)),
    (F.conv_transpose2d, ((1, 4, 3, 3), (4, 1, 2, 3), (2,)),
     dict(stride=(2, 1), padding=(0, 1), output_padding=(1, 0), groups=2, dilation=(1, 2)))])
def test_gradcheck_and_gradgradcheck(backend, fn, shapes, kw):
    """finite differences agree with the first and second derivatives (float64)"""
    cgrad.manual_seed(0)
    args = [cgrad.randn(*s, dtype=cgrad.float64, requires_grad=True) for s in shapes]
    assert cgrad.autograd.gradcheck(lambda *a: fn(*a, **kw), args)
    assert cgrad.autograd.gradgradcheck(lambda *a: fn(*a, **kw), args)


# ---- errors ------------------------------------------------------------------------------------
ERROR_CASES = [
    ("conv1d", (5,), (3, 2, 3), None, {}),
    ("conv1d", (1, 2, 5, 5), (3, 2, 3), None, {}),
    ("conv1d", (1, 2, 5), (3, 2, 3, 3), None, {}),
    ("conv1d", (1, 2, 5), (3, 2), None, {}),
    ("conv1d", (1, 2, 5), (3, 1, 3), None, dict(groups=3)),
    ("conv1d", (1, 2, 5), (2, 1, 3), None, dict(groups=3)),
    ("conv1d", (1, 2, 5), (4, 1, 3), None, dict(groups=3)),
    ("conv1d", (1, 2, 5), (4, 2, 3), (3,), {}),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(dilation=3)),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(stride=0)),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(padding=-1)),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(padding="same", stride=2)),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(padding="foo")),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(stride=(1, 1))),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(dilation=0)),
    ("conv1d", (1, 2, 5), (4, 2, 3), None, dict(groups=0)),
    ("conv1d", (1, 3, 5), (4, 2, 3), "double", {}),
    ("conv2d", (1, 2, 5, 5), (3, 2, 3), None, {}),
    ("conv2d", (1, 2, 5, 5), (4, 2, 3, 3), None, dict(stride=(1, 1, 1))),
    ("conv2d", (1, 2, 5, 5), (4, 2, 3, 3), None, dict(dilation=0)),
    ("conv2d", (1, 2, 5, 5), (4, 2, 3, 3), None, dict(dilation=(1, -1))),
    ("conv2d", (1, 2, 5, 5), (4, 2, 3, 3), None, dict(padding=(1, 1, 1))),
    ("conv_transpose2d", (1, 2, 5), (2, 3, 3, 3), None, {}),
    ("conv_transpose2d", (5, 5), (2, 3, 3, 3), None, {}),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3), None, {}),
    ("conv_transpose2d", (1, 2, 5, 5), (3, 3, 3, 3), None, {}),
    ("conv_transpose2d", (1, 4, 5, 5), (3, 3, 3, 3), None, dict(groups=2)),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, dict(groups=3)),
    ("conv_transpose2d", (1, 4, 5, 5), (2, 3, 3, 3), None, dict(groups=4)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), (4,), {}),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(output_padding=1)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(output_padding=(0, 2),
                                                                 stride=2)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(output_padding=-1)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(output_padding=(1, 1, 1))),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(stride=0)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(padding=-1)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(dilation=0)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(dilation=(2, 0))),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(dilation=(-1, 0))),
    ("conv_transpose2d", (1, 2, 2, 2), (2, 3, 3, 3), None, dict(padding=3)),
    ("conv_transpose2d", (1, 2, 2, 2), (2, 3, 3, 3), None, dict(padding=(1, 2))),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(padding="same")),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), None, dict(groups=0)),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 3, 3, 3), "double", {}),
    ("conv_transpose1d", (1, 2, 5, 5), (2, 3, 3), None, {}),
    ("conv_transpose1d", (1, 2, 5), (2, 3, 3), None, dict(output_padding=1)),
    ("conv_transpose1d", (1, 2, 2), (2, 3, 3), None, dict(padding=3)),
    ("conv_transpose1d", (1, 2, 5), (2, 3, 3), None, dict(dilation=0)),
    ("conv_transpose1d", (1, 2, 5), (2, 3, 3), None, dict(dilation=-1)),
    ("conv_transpose1d", (1, 2, 5), (3, 3, 3), None, {}),
    # images and channels but no pixels (a 1x1 kernel over the padding alone)
    ("conv1d", (2, 2, 0), (3, 2, 1), None, dict(padding=1)),
    ("conv2d", (2, 2, 0, 4), (3, 2, 1, 1), None, dict(padding=1))]


@pytest.mark.parametrize("name, x, w, b, kw", ERROR_CASES)
def test_functional_errors_match_torch(name, x, w, b, kw):
    """wrong dims, channels or groups, bad strides, paddings, dilations and output_paddings,
    a weight of another dtype: PyTorch's exception class and message"""
    def call(lib, functional):
        args = [torch.randn(x), torch.randn(w)]
        if lib is cgrad:
            args = [_cg(a) for a in args]
        if b == "double":
            args[1] = args[1].double()
        bias = None if b in (None, "double") else lib.randn(*b)
        return lambda: getattr(functional, name)(*args, bias, **kw)
    _raises_like_torch(call(cgrad, F), call(torch, tf))


def test_bias_of_another_dtype_as_torch(backend):
    """refused by a convolution; cast to the input's dtype by a transposed one"""
    for name, x, w in [("conv1d", (1, 2, 5), (3, 2, 3)), ("conv2d", (1, 2, 5, 5), (3, 2, 3, 3))]:
        for xd, bd in [(torch.float32, torch.float64), (torch.float64, torch.int64)]:
            tx, tw = torch.randn(x, dtype=xd), torch.randn(w, dtype=xd)
            tb = torch.ones(3, dtype=bd)
            _raises_like_torch(lambda: getattr(F, name)(_cg(tx), _cg(tw), _cg(tb)),
                               lambda: getattr(tf, name)(tx, tw, tb))
    tx, tw = torch.randn(1, 2, 4, 5), torch.randn(2, 3, 3, 3)
    tb = torch.randn(3, dtype=torch.float64)
    tx, tw, tb = (t.requires_grad_() for t in (tx, tw, tb))
    cx, cw, cb = _cg(tx), _cg(tw), _cg(tb)
    t_out = tf.conv_transpose2d(tx, tw, tb, stride=2)
    c_out = F.conv_transpose2d(cx, cw, cb, stride=2)
    assert c_out.dtype == cgrad.float32
    _check_grads(nn.Module(), nn.Module(), [cx, cw, cb], [tx, tw, tb], c_out, t_out, np.float32)
    assert cb.grad.dtype == cgrad.float64


def test_module_errors_match_torch():
    for name, args, kw in [("Conv1d", (3, 4, 3), dict(groups=2)),
                           ("Conv1d", (4, 3, 3), dict(groups=2)),
                           ("Conv1d", (4, 4, 3), dict(groups=0)),
                           ("Conv1d", (4, 4, 3), dict(stride=2, padding="same")),
                           ("ConvTranspose2d", (4, 3, 3), dict(groups=2)),
                           ("ConvTranspose2d", (3, 4, 3), dict(groups=2)),
                           ("ConvTranspose2d", (4, 4, 3), dict(padding_mode="reflect")),
                           ("ConvTranspose1d", (4, 4, 3), dict(padding_mode="circular"))]:
        _raises_like_torch(lambda: getattr(nn, name)(*args, **kw),
                           lambda: getattr(torch.nn, name)(*args, **kw))
    for name in ("conv1d", "conv_transpose1d", "conv_transpose2d"):   # bool: not implemented
        nd = 1 if name.endswith("1d") else 2
        _raises_like_torch(
            lambda: getattr(F, name)(cgrad.ones((1, 2) + (5,) * nd, dtype=cgrad.bool),
                                     cgrad.ones((2, 2) + (3,) * nd, dtype=cgrad.bool)),
            lambda: getattr(tf, name)(torch.ones((1, 2) + (5,) * nd, dtype=torch.bool),
                                      torch.ones((2, 2) + (3,) * nd, dtype=torch.bool)))
    c, t = nn.Conv1d(1, 8, 3), torch.nn.Conv1d(1, 8, 3)
    for shape in ((4, 3, 28), (28,), (1, 1, 2)):
        _raises_like_torch(lambda: c(cgrad.randn(*shape)), lambda: t(torch.randn(shape)))
    for name, shape, kw, size in [("ConvTranspose2d", (1, 2, 4, 4), {}, (1, 1)),
                                  ("ConvTranspose2d", (1, 2, 4, 4), {}, [1, 1, 1]),
                                  ("ConvTranspose2d", (2, 4, 4), dict(stride=2), (2, 9, 12)),
                                  ("ConvTranspose2d", (1, 2, 4, 4), dict(stride=2), (11, 10)),
                                  ("ConvTranspose1d", (2, 4), dict(stride=3), (3, 4, 5)),
                                  ("ConvTranspose1d", (1, 2, 4), dict(stride=3), [9])]:
        c, t = getattr(nn, name)(2, 3, 3, **kw), getattr(torch.nn, name)(2, 3, 3, **kw)
        _raises_like_torch(lambda: c(cgrad.randn(*shape), output_size=size),
                           lambda: t(torch.randn(shape), output_size=size))


# ---- small networks ----------------------------------------------------------------------------
def _train_like_torch(net, make_batch, loss_fn, dtype):
    """net(lib) built in both libraries with the same parameters and trained for 3 SGD steps
    (momentum) on the same batches: the same losses and, after, the same parameters"""
    c, t = _twin(net(cgrad), net(torch), dtype)
    t_opt = torch.optim.SGD(t.parameters(), lr=0.05, momentum=0.9)
    c_opt = cgrad.optim.SGD(c.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        tx, ty = make_batch(g, torch.float32 if dtype == np.float32 else torch.float64)
        t_loss = loss_fn(tf, t(tx), ty)
        c_loss = loss_fn(F, c(_cg(tx)), _cg(ty))
        _close(c_loss, t_loss, dtype)
        for opt, loss in ((t_opt, t_loss), (c_opt, c_loss)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    loose = {k: 10 * v for k, v in TOL[dtype].items()}         # three steps of rounding
    for (k, cv), (_, tv) in zip(c.state_dict().items(), t.state_dict().items()):
        np.testing.assert_allclose(cv.numpy(), tv.detach().numpy(), **loose, err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_1d_cnn_trains_like_torch(backend, dtype):
    """a 1-d CNN over sequences (strided, dilated, grouped convs, batch norm): cross-entropy"""
    def net(lib):
        m = lib.nn
        return m.Sequential(m.Conv1d(2, 8, 5, padding=2), m.BatchNorm1d(8), m.ReLU(),
                            m.Conv1d(8, 8, 3, stride=2, dilation=2, groups=4), m.Tanh(),
                            m.Conv1d(8, 4, 3, padding="same", bias=False), m.Flatten(),
                            m.Linear(4 * 6, 3))
    _train_like_torch(net, lambda g, dt: (torch.randn(6, 2, 16, generator=g, dtype=dt),
                                          torch.randint(0, 3, (6,), generator=g)),
                      lambda fn, out, y: fn.cross_entropy(out, y), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_encoder_decoder_trains_like_torch(backend, dtype):
    """strided convs down, ConvTranspose2d up to the input's size, a reconstruction loss"""
    def net(lib):
        m = lib.nn
        return m.Sequential(m.Conv2d(1, 4, 3, stride=2, padding=1), m.ReLU(),
                            m.Conv2d(4, 8, 3, stride=2, padding=1), m.ReLU(),
                            m.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
                            m.ReLU(),
                            m.ConvTranspose2d(4, 1, 4, stride=2, padding=1, groups=1),
                            m.Sigmoid())
    def batch(g, dt):
        x = torch.rand(4, 1, 12, 12, generator=g, dtype=dt)
        return x, x
    _train_like_torch(net, batch, lambda fn, out, y: fn.mse_loss(out, y), dtype)


# ---- 1-d pools ---------------------------------------------------------------------------------
POOL1D_CASES = [("MaxPool1d", (2, 3, 8), (2,), {}),
                ("MaxPool1d", (2, 3, 9), (3, 2, 1), {}),
                ("MaxPool1d", (1, 2, 11), (3,), dict(stride=2, dilation=3)),
                ("MaxPool1d", (2, 2, 8), (3, 2), dict(padding=1, ceil_mode=True)),
                ("MaxPool1d", (3, 6), (2,), {}),                                # unbatched
                ("AvgPool1d", (2, 3, 8), (2,), {}),
                ("AvgPool1d", (2, 3, 9), (3, 2, 1), {}),
                ("AvgPool1d", (2, 2, 8), (3, 2, 1), dict(ceil_mode=True)),
                ("AvgPool1d", (2, 2, 9), (4, 3, 2), dict(count_include_pad=False,
                                                         ceil_mode=True)),
                ("AvgPool1d", (3, 7), ((3,),), dict(stride=[])),                 # unbatched
                ("AdaptiveAvgPool1d", (2, 3, 10), (4,), {}),
                ("AdaptiveAvgPool1d", (2, 3, 5), (7,), {}),
                ("AdaptiveAvgPool1d", (3, 9), ((2,),), {})]                     # unbatched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args, kwargs", POOL1D_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_pool1d_matches_torch(backend, dtype, name, shape, args, kwargs, transpose):
    _module_matches_torch(name, dtype, shape, args, kwargs, transpose)


def test_max_pool1d_ties_and_indices_match_torch(backend):
    """the gradient goes to each window's first maximum; return_indices gives positions in
    the length, as PyTorch's"""
    tx = torch.tensor([[[1.0, 3.0, 3.0, 2.0, 2.0, 5.0, 5.0, 0.0]]], dtype=torch.float64,
                      requires_grad=True)
    cx = _cg(tx)
    kw = dict(kernel_size=3, stride=2, padding=1, return_indices=True)
    (t_out, t_idx), (c_out, c_idx) = tf.max_pool1d(tx, **kw), F.max_pool1d(cx, **kw)
    assert c_idx.tolist() == t_idx.tolist() and c_idx.dtype == cgrad.int64
    _check_grads(nn.Module(), nn.Module(), [cx], [tx], c_out, t_out, np.float64)
    c, t = nn.MaxPool1d(2, return_indices=True), torch.nn.MaxPool1d(2, return_indices=True)
    assert c(cx)[1].tolist() == t(tx)[1].tolist()


def test_pool1d_double_backward_matches_torch(backend):
    _second_order(lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: tf.max_pool1d(x, 3, 2, 1),
                  _randn64((2, 3, 9)))
    _second_order(lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
                  lambda x: tf.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
                  _randn64((2, 3, 9)))
    _second_order(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: tf.adaptive_avg_pool1d(x, 4),
                  _randn64((3, 9)))


@pytest.mark.parametrize("call", [
    "F.max_pool1d(x(8), 2)", "F.max_pool1d(x(1, 2, 3, 8), 2)", "F.max_pool1d(x(3, 0), 2)",
    "F.max_pool1d(x(2, 3, 8), 2, padding=2)", "F.max_pool1d(x(2, 3, 2), 3)",
    "F.max_pool1d(x(2, 3, 8), 2, stride=0)", "F.max_pool1d(x(2, 3, 8), 0)",
    "F.max_pool1d(x(2, 3, 8), 2, padding=-1)", "F.max_pool1d(x(2, 3, 8), 2, dilation=0)",
    "F.max_pool1d(x(2, 3, 8), (2, 2))", "F.max_pool1d(x(2, 3, 8), 2, stride=(1, 1))",
    "F.max_pool1d(x(2, 3, 8), 2, padding=(1, 1))", "F.max_pool1d(x(2, 3, 8), 2, dilation=(1, 1))",
    "F.max_pool1d(x(2, 3, 8), 3, padding=2, dilation=2)",
    "F.max_pool1d(x(2, 3, 8), 2, return_indices=True, padding=2)",
    "F.max_pool1d(x(2, 3, 2), 3, return_indices=True)",
    "F.max_pool1d(x(8), 3, return_indices=True)",
    "F.max_pool1d(x(2, 3, 8), 0, return_indices=True)",
    "F.max_pool1d(x(2, 3, 8), (2, 2), return_indices=True)",
    "F.avg_pool1d(x(8), 2)", "F.avg_pool1d(x(1, 2, 3, 8), 2)",
    "F.avg_pool1d(x(2, 3, 8), 2, padding=2)", "F.avg_pool1d(x(2, 3, 2), 3)",
    "F.avg_pool1d(x(2, 3, 8), 2, stride=0)", "F.avg_pool1d(x(2, 3, 8), 2, padding=-1)",
    "F.avg_pool1d(x(2, 3, 8), (2, 2))", "F.avg_pool1d(x(2, 3, 8), 2, stride=(2, 2))",
    "F.adaptive_avg_pool1d(x(8), 2)", "F.adaptive_avg_pool1d(x(1, 2, 3, 8), 2)",
    "F.adaptive_avg_pool1d(x(2, 3, 8), (2, 2))", "F.adaptive_avg_pool1d(x(2, 3, 8), -1)",
    "F.adaptive_avg_pool1d(x(3, 0), 2)", "F.adaptive_avg_pool2d(x(2, 3, 0, 4), 2)",
    "F.adaptive_avg_pool2d(x(3, 4, 0), (2, -2))",
    "nn.MaxPool1d(2)(x(8))", "nn.AvgPool1d(3)(x(2, 3, 2))", "nn.AdaptiveAvgPool1d(2)(x(8))"])
def test_pool1d_errors_match_torch(call):
    _raises_like_torch(
        lambda: eval(call, {"x": cgrad.randn, "F": F, "nn": nn}),
        lambda: eval(call, {"x": torch.randn, "F": tf, "nn": torch.nn}))


def test_pools_of_empty_batches_and_sizes_match_torch(backend):
    for call in ["F.max_pool1d(x(0, 3, 8), 2)", "F.avg_pool1d(x(0, 3, 8), 2)",
                 "F.adaptive_avg_pool1d(x(0, 3, 8), 3)", "F.adaptive_avg_pool1d(x(2, 3, 8), 0)",
                 "F.adaptive_avg_pool2d(x(2, 3, 8, 4), (0, 2))"]:
        c = eval(call, {"x": lambda *s: cgrad.zeros(*s), "F": F})
        t = eval(call, {"x": lambda *s: torch.zeros(*s), "F": tf})
        _close(c, t)


@pytest.mark.parametrize("pad", [0, 1, 2, -1])
def test_conv_tbc_matches_torch(backend, pad):
    """F.conv_tbc (= cgrad.conv_tbc): a (time, batch, channel) sequence, a negative pad crops"""
    rng = np.random.default_rng(pad + 3)
    arrays = [rng.standard_normal(s) for s in ((5, 2, 3), (2, 3, 4), (4,))]
    outs = []
    for lib in (cgrad, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = lib.conv_tbc(*ts, pad)
        (y * y).sum().backward()
        outs.append((y, [t.grad for t in ts], type(y.grad_fn).__name__, y.is_contiguous()))
    (y, grads, name, contiguous), (ty, tgrads, tname, tcontiguous) = outs
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12, atol=1e-12)
    assert (name, contiguous) == (tname, tcontiguous)


@pytest.mark.parametrize("shapes, message", [
    (((5, 3), (2, 3, 4), (4,)), "Input must have 3 dims"),
    (((5, 2, 3), (3, 4), (4,)), "Weight tensor must have 3 dims"),
    (((5, 2, 3), (2, 3, 4), (2,)), "Bias size must equal"),
    (((5, 2, 3), (2, 5, 4), (4,)), "Input dim 2"),
])
def test_conv_tbc_refuses_shapes_as_torch(backend, shapes, message):
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError, match=message):
            lib.nn.functional.conv_tbc(*(lib.zeros(*s) for s in shapes))


@pytest.mark.parametrize("d, x_shape, w_shape, groups", [
    (1, (2, 4, 9), (6, 2, 3), 2), (2, (2, 4, 7, 8), (6, 2, 3, 2), 2),
    (3, (1, 2, 5, 6, 4), (3, 2, 2, 3, 2), 1)])
@pytest.mark.parametrize("spaced", [False, True])
def test_nn_grad_matches_torch(backend, d, x_shape, w_shape, groups, spaced):
    """nn.grad.conv{d}d_input / _weight (also F.grad): the convolution's gradients given
    grad_output, differentiable where the given tensors require grad, as PyTorch's"""
    kw = dict(stride=2, padding=1, dilation=2, groups=groups) if spaced else dict(groups=groups)
    rng = np.random.default_rng(d)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    results = []
    for lib in (cgrad, torch):
        X, W = lib.tensor(x), lib.tensor(w, requires_grad=True)
        out_shape = getattr(lib.nn.functional, f"conv{d}d")(X, W, None, **kw).shape
        go = lib.tensor(np.random.default_rng(9).standard_normal(tuple(out_shape)))
        gi = getattr(lib.nn.grad, f"conv{d}d_input")(X.shape, W, go, **kw)
        gw = getattr(lib.nn.functional.grad, f"conv{d}d_weight")(X, W.shape, go, **kw)
        gi.sum().backward()
        results.append([gi.detach().numpy(), gw.detach().numpy(), W.grad.numpy(),
                        gi.requires_grad, gw.requires_grad])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_pool_arguments_checked_again_when_only_their_type_differs():
    """the pools' argument checks are kept for arguments that passed them: 2 passing does not
    let 2.0 (an equal key) through, a list argument still works, and a shape that fails
    fails every time"""
    import cgrad
    F = cgrad.nn.functional
    x = cgrad.ones(1, 2, 6, 6)
    assert F.max_pool2d(x, 2).shape == (1, 2, 3, 3)
    for _ in range(2):
        with pytest.raises(TypeError, match="must be tuple of ints, not float"):
            F.max_pool2d(x, 2.0)
    assert F.max_pool2d(x, [2, 3], stride=[2]).shape == (1, 2, 3, 2)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="Output size is too small"):
            F.max_pool2d(cgrad.ones(1, 2, 1, 1), 2)


@pytest.mark.parametrize("backend", ["cython"], indirect=True)
def test_conv_with_a_dilation_far_past_the_image(backend):
    """a dilation of 2**30 rows, padding 2**29 above and below a 4-row image: every window
    falls in the padding (zeros, as PyTorch), and the compiled kernels' scratch holds only
    the rows the image has (sized by the dilation, it asked for ~69 GB and raised
    MemoryError). (The NumPy reference pads the image first: 64 GB.)"""
    import cgrad
    F = cgrad.nn.functional
    rng = np.random.default_rng(0)
    x = cgrad.tensor(rng.standard_normal((1, 1, 4, 16)).astype(np.float32), requires_grad=True)
    w = cgrad.tensor(np.array([[[[2.0], [3.0]]]], np.float32), requires_grad=True)
    y = F.conv2d(x, w, stride=(1, 2), padding=(2**29, 0), dilation=(2**30, 1))
    assert y.shape == (1, 1, 4, 8)
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((1, 1, 4, 8), np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 1, 4, 16), np.float32))
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((1, 1, 2, 1), np.float32))


def test_max_pool_indices_handed_out_are_a_copy_and_empty_windows_take_no_gradient():
    """changing the indices return_indices gave does not move the gradient (PyTorch raises
    there; the backward reads its own); a dilated window with no element inside the input
    has the value -inf and the index -1 and sends its gradient nowhere (PyTorch accepts the
    geometry, then writes out of bounds)"""
    import cgrad
    F = cgrad.nn.functional
    x = cgrad.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    v, i = F.max_pool2d(x, 2, return_indices=True)
    i.zero_()
    v.sum().backward()
    assert x.grad.flatten().tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]
    x = cgrad.tensor([[[1.0, 2.0]]], requires_grad=True)
    v, i = F.max_pool1d(x, 2, 2, 1, 3, return_indices=True)        # reads -1 and 2: none
    assert v.tolist() == [[[-np.inf]]] and i.tolist() == [[[-1]]]
    v.sum().backward()
    assert x.grad.tolist() == [[[0.0, 0.0]]]
    for create_graph in (False, True):
        x = cgrad.ones(2, 3, 1, 1, requires_grad=True)
        g, = cgrad.autograd.grad(F.max_pool2d(x, 2, 2, 1, 2).sum(), x, create_graph=create_graph)
        assert g.flatten().tolist() == [0.0] * 6
