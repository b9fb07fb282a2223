"""The 3-d layers against PyTorch: Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d,
AdaptiveAvgPool3d, AdaptiveMaxPool1d/2d/3d, MaxUnpool1d/2d/3d, BatchNorm3d, InstanceNorm1d/2d/3d,
GroupNorm and their F forms: outputs, input and parameter gradients, second derivatives, grad_fn
names, reprs, state_dict, default init, batched and unbatched inputs, PyTorch's errors, and a
small 3-d CNN trained for a few SGD steps."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_conv_layers import (_default_init_matches_torch, _module_matches_torch,  # noqa: E402
                              _train_like_torch)
from test_nn_layers import (DTYPES, _cg, _check_grads, _close, _inputs,  # noqa: E402
                            _randn64, _randomise, _raises_like_torch, _second_order,
                            _torch_dtype, _twin)
from test_nn_layers_more import _grad_graph_matches  # noqa: E402

tf = torch.nn.functional


# ---- Conv3d / ConvTranspose3d ------------------------------------------------------------------
CONV3D_CASES = [
    ("Conv3d", (2, 2, 4, 5, 4), (2, 3, 2), {}),
    ("Conv3d", (2, 4, 5, 4, 6), (4, 6, (3, 2, 2)), dict(stride=(1, 2, 1), padding=(1, 0, 2),
                                                        dilation=(1, 1, 2), groups=2)),
    ("Conv3d", (1, 3, 4, 4, 4), (3, 3, 3), dict(groups=3, bias=False, stride=2, padding=1)),
    ("Conv3d", (1, 2, 4, 3, 5), (2, 2, (2, 3, 2)), dict(padding="same", dilation=(2, 1, 1))),
    ("Conv3d", (2, 3, 4, 4), (2, 3, 2), dict(padding="valid")),                 # unbatched
    ("Conv3d", (1, 2, 3, 4, 4), (2, 2, 3), dict(padding=1, padding_mode="reflect")),
    ("Conv3d", (2, 3, 4, 5), (2, 2, 2), dict(padding=(1, 0, 1), padding_mode="replicate")),
    ("Conv3d", (1, 2, 3, 3, 4), (2, 4, 3), dict(padding="same", padding_mode="circular",
                                                groups=2)),
    ("ConvTranspose3d", (2, 2, 3, 4, 3), (2, 3, 2), {}),
    ("ConvTranspose3d", (1, 4, 3, 3, 2), (4, 6, (3, 2, 2)),
     dict(stride=(2, 1, 3), padding=(1, 0, 1), output_padding=(1, 0, 2), groups=2,
          dilation=(1, 2, 1))),
    ("ConvTranspose3d", (1, 2, 2, 2, 2), (2, 2, 3), dict(output_padding=2, dilation=3,
                                                         bias=False)),
    ("ConvTranspose3d", (2, 3, 2, 3), (2, 3, 2), dict(stride=2, padding=1))]    # unbatched


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args, kwargs", CONV3D_CASES)
def test_conv3d_modules_match_torch(backend, dtype, name, shape, args, kwargs):
    """repr, grad_fn (unbatched: SqueezeBackward1), output, input/weight/bias gradients"""
    _module_matches_torch(name, dtype, shape, args, kwargs, transpose=len(shape) == 5)


@pytest.mark.parametrize("shape, kwargs, output_size", [
    ((1, 2, 3, 4, 3), dict(stride=2, padding=1), (6, 7, 6)),
    ((1, 2, 3, 4, 3), dict(stride=(3, 2, 2)), [1, 3, 11, 9, 7]),
    ((2, 2, 3, 3), dict(stride=2, dilation=2), (3, 8, 10, 9))])
def test_conv_transpose3d_output_size_matches_torch(backend, shape, kwargs, output_size):
    """forward's output_size: the output_padding that gives that size"""
    _module_matches_torch("ConvTranspose3d", np.float64, shape, (2, 3, 3), kwargs, False,
                          output_size=output_size)


@pytest.mark.parametrize("name, args, fan_in", [
    ("Conv3d", (3, 64, (3, 2, 4)), 3 * 3 * 2 * 4),
    ("Conv3d", (4, 64, 3, 1, 0, 1, 2), 2 * 27),
    ("ConvTranspose3d", (3, 64, 3), 64 * 27),
    ("ConvTranspose3d", (4, 64, 2, 1, 0, 0, 4), 16 * 8)])
def test_conv3d_default_init_and_state_dict(name, args, fan_in):
    """kaiming_uniform(a=sqrt(5)) of the weight and the bias in 1 / sqrt(fan_in), shapes and
    state_dict keys as PyTorch's"""
    _default_init_matches_torch(name, args, fan_in)


def test_conv3d_double_backward_matches_torch(backend):
    kw = dict(stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2)
    _second_order(lambda x, w, b: F.conv3d(x, w, b, **kw), lambda x, w, b: tf.conv3d(x, w, b, **kw),
                  _randn64((2, 4, 5, 4, 3), (4, 2, 2, 2, 2), (4,)))
    kw = dict(stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 0, 1), groups=2)
    _second_order(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw),
                  lambda x, w, b: tf.conv_transpose3d(x, w, b, **kw),
                  _randn64((1, 4, 2, 3, 2), (4, 1, 3, 2, 2), (2,)))


# ---- pools -------------------------------------------------------------------------------------
POOL3D_CASES = [("MaxPool3d", (2, 2, 4, 5, 6), (2,), {}),
                ("MaxPool3d", (1, 2, 5, 6, 5), ((3, 2, 3), (2, 1, 2), (1, 0, 1)), {}),
                ("MaxPool3d", (1, 2, 7, 5, 6), (3,), dict(stride=2, dilation=(2, 1, 2),
                                                          padding=1, ceil_mode=True)),
                ("MaxPool3d", (2, 4, 4, 5), (2,), dict(stride=1)),                  # unbatched
                ("AvgPool3d", (2, 2, 4, 5, 6), (2,), {}),
                ("AvgPool3d", (1, 2, 5, 6, 5), ((3, 2, 3), (2, 1, 2), (1, 0, 1)), {}),
                ("AvgPool3d", (1, 2, 5, 6, 5), (3, 2, 1), dict(count_include_pad=False,
                                                               ceil_mode=True)),
                ("AvgPool3d", (1, 2, 4, 5, 5), (2, 2, 1), dict(ceil_mode=True)),
                ("AvgPool3d", (2, 4, 4, 4), (2,), dict(divisor_override=3)),          # unbatched
                ("AdaptiveAvgPool3d", (2, 2, 5, 6, 7), ((2, 3, 4),), {}),
                ("AdaptiveAvgPool3d", (2, 2, 5, 6, 7), ((7, None, 2),), {}),
                ("AdaptiveAvgPool3d", (2, 3, 4, 5), (1,), {}),                        # unbatched
                ("AdaptiveMaxPool3d", (2, 2, 5, 6, 7), ((2, 3, 4),), {}),
                ("AdaptiveMaxPool3d", (2, 2, 5, 6, 7), ((7, None, 2),), {}),
                ("AdaptiveMaxPool3d", (2, 3, 4, 5), (1,), {}),                        # unbatched
                ("AdaptiveMaxPool2d", (2, 3, 7, 9), ((4, 5),), {}),
                ("AdaptiveMaxPool2d", (3, 5, 5), ((None, 7),), {}),                   # unbatched
                ("AdaptiveMaxPool1d", (2, 3, 10), (4,), {}),
                ("AdaptiveMaxPool1d", (3, 5), (7,), {})]                              # unbatched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args, kwargs", POOL3D_CASES)
def test_pool3d_modules_match_torch(backend, dtype, name, shape, args, kwargs):
    _module_matches_torch(name, dtype, shape, args, kwargs, transpose=len(shape) == 5)


def test_max_pool3d_ties_nan_and_indices_match_torch(backend):
    """the gradient goes to each window's first maximum, a NaN wins (the last one), a window
    of -inf picks its first element inside the input; return_indices gives flat positions in
    D * H * W, as PyTorch's"""
    g = torch.Generator().manual_seed(4)
    x = torch.randint(0, 3, (2, 2, 4, 5, 4), generator=g).double()
    x[0, 0, 1, 2, 2] = x[1, 1, 0, 0, 1] = x[1, 1, 0, 1, 1] = float("nan")
    x[0, 1] = -float("inf")
    x[0, 1, 3, 4, 3] = 1.0
    x.requires_grad_()
    cx = _cg(x)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), dilation=(2, 1, 1), padding=(0, 1, 1),
                    ceil_mode=True)):
        t_out, t_idx = tf.max_pool3d(x, return_indices=True, **kw)
        c_out, c_idx = F.max_pool3d(cx, return_indices=True, **kw)
        np.testing.assert_array_equal(c_out.detach().numpy(), t_out.detach().numpy())
        np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
        assert c_idx.dtype == cgrad.int64
        w = torch.arange(t_out.numel(), dtype=torch.float64).reshape(t_out.shape)
        (tg,) = torch.autograd.grad((t_out.nan_to_num() * w).sum(), x)
        (cg,) = cgrad.autograd.grad((c_out.nan_to_num() * _cg(w)).sum(), cx)
        np.testing.assert_array_equal(cg.numpy(), tg.numpy())
    c, t = nn.MaxPool3d(2, return_indices=True), torch.nn.MaxPool3d(2, return_indices=True)
    assert repr(c) == repr(t)
    np.testing.assert_array_equal(c(cx[0])[1].numpy(), t(x[0])[1].numpy())      # unbatched


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_max_pool_ties_nan_and_indices_match_torch(backend, n):
    """overlapping bins of uneven sizes, ties, NaN and -inf: the values, indices and gradient
    of PyTorch's adaptive max pooling"""
    g = torch.Generator().manual_seed(5)
    shape = (2, 3) + (5, 7, 4)[:n]
    x = torch.randint(0, 3, shape, generator=g).double()
    x.view(-1)[::7] = float("nan")
    x.view(-1)[3::11] = -float("inf")
    x[1, 2] = -float("inf")
    x.requires_grad_()
    cx = _cg(x)
    sizes = {1: [3, 9], 2: [(3, 4), (6, None)], 3: [(2, 3, 3), (4, 5, 7)]}[n]
    for size in sizes:
        t_out, t_idx = getattr(tf, f"adaptive_max_pool{n}d")(x, size, return_indices=True)
        c_out, c_idx = getattr(F, f"adaptive_max_pool{n}d")(cx, size, return_indices=True)
        np.testing.assert_array_equal(c_out.detach().numpy(), t_out.detach().numpy())
        np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
        assert c_idx.dtype == cgrad.int64
        assert c_out.grad_fn.name() == t_out.grad_fn.name()
        w = torch.arange(t_out.numel(), dtype=torch.float64).reshape(t_out.shape)
        (tg,) = torch.autograd.grad((t_out.nan_to_num() * w).sum(), x)
        (cg,) = cgrad.autograd.grad((c_out.nan_to_num() * _cg(w)).sum(), cx)
        np.testing.assert_array_equal(cg.numpy(), tg.numpy())
    name = f"AdaptiveMaxPool{n}d"
    c, t = getattr(nn, name)(sizes[0], True), getattr(torch.nn, name)(sizes[0], True)
    assert repr(c) == repr(t) and c.return_indices
    np.testing.assert_array_equal(c(cx[0])[1].numpy(), t(x[0])[1].numpy())        # unbatched


@pytest.mark.parametrize("n, shape, kw, output_size", [
    (1, (2, 3, 9), dict(kernel_size=2), None),
    (1, (3, 9), dict(kernel_size=3, stride=2, padding=1), [9]),
    (2, (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1)), None),
    (2, (2, 2, 7, 6), dict(kernel_size=2), (1, 2, 7, 7)),
    (2, (2, 5, 5), dict(kernel_size=3, stride=1, padding=1), None),
    (3, (2, 2, 4, 5, 6), dict(kernel_size=2), (5, 5, 7)),
    (3, (2, 5, 6, 4), dict(kernel_size=(3, 2, 2), stride=(2, 2, 1), padding=(1, 0, 1)), None)])
def test_max_unpool_matches_torch(backend, n, shape, kw, output_size):
    """max_pool then max_unpool (F form and module): the values back at their indices (the
    last one where windows overlap), zeros elsewhere; the gradient gathered at the indices;
    repr and grad_fn as PyTorch's"""
    tx, _ = _randn64(shape, ())
    t_pooled, t_idx = getattr(tf, f"max_pool{n}d")(tx, return_indices=True, **kw)
    t_pooled = t_pooled.detach().requires_grad_()
    c_pooled, c_idx = _cg(t_pooled), _cg(t_idx)
    unpool_kw = {k: v for k, v in kw.items() if k != "dilation"}
    t_out = getattr(tf, f"max_unpool{n}d")(t_pooled, t_idx, output_size=output_size, **unpool_kw)
    c_out = getattr(F, f"max_unpool{n}d")(c_pooled, c_idx, output_size=output_size, **unpool_kw)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()
    _check_grads(nn.Module(), nn.Module(), [c_pooled], [t_pooled], c_out, t_out, np.float64)
    c, t = getattr(nn, f"MaxUnpool{n}d")(**unpool_kw), getattr(torch.nn, f"MaxUnpool{n}d")(
        **unpool_kw)
    assert repr(c) == repr(t)
    _close(c(c_pooled, c_idx, output_size), t(t_pooled, t_idx, output_size))


def test_max_unpool_of_repeated_indices_keeps_the_last_as_torch(backend):
    """two values at one index: the later one is written, both get the gradient there"""
    tx = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[[1, 1, 3]]])
    cx = _cg(tx)
    _check_grads(nn.Module(), nn.Module(), [cx], [tx], F.max_unpool1d(cx, _cg(idx), 2),
                 tf.max_unpool1d(tx, idx, 2), np.float64)


def test_pool3d_double_backward_matches_torch(backend):
    for c_pool, t_pool in [
            (lambda x: F.max_pool3d(x, 3, 2, 1), lambda x: tf.max_pool3d(x, 3, 2, 1)),
            (lambda x: F.avg_pool3d(x, 3, 2, 1, count_include_pad=False),
             lambda x: tf.avg_pool3d(x, 3, 2, 1, count_include_pad=False)),
            (lambda x: F.adaptive_avg_pool3d(x, (3, 2, 4)),
             lambda x: tf.adaptive_avg_pool3d(x, (3, 2, 4))),
            (lambda x: F.adaptive_max_pool3d(x, (3, 2, 4)),
             lambda x: tf.adaptive_max_pool3d(x, (3, 2, 4))),
            (lambda x: F.adaptive_max_pool2d(x[0], (3, 4)),
             lambda x: tf.adaptive_max_pool2d(x[0], (3, 4))),
            (lambda x: F.adaptive_max_pool1d(x[0, 0], 3),
             lambda x: tf.adaptive_max_pool1d(x[0, 0], 3))]:
        _second_order(c_pool, t_pool, _randn64((2, 2, 5, 4, 6)))
    tx, ti = tf.max_pool3d(torch.randn(2, 2, 4, 4, 4, dtype=torch.float64), 2,
                           return_indices=True)
    _second_order(lambda x: F.max_unpool3d(x, _cg(ti), 2), lambda x: tf.max_unpool3d(x, ti, 2),
                  [tx.requires_grad_()])


@pytest.mark.parametrize("call", [
    "F.max_pool3d(x, 2)", "F.max_pool3d(x, 3, 2, 1)", "F.max_pool3d(u, 2, 1)",
    "F.avg_pool3d(x, 2)", "F.avg_pool3d(x, 3, 2, 1, count_include_pad=False)",
    "F.avg_pool3d(x, 2, divisor_override=3)",
    "F.adaptive_avg_pool3d(x, (3, 2, 2))", "F.adaptive_avg_pool3d(x, 1)",
    "F.adaptive_max_pool3d(x, (3, 2, 2))", "F.adaptive_max_pool2d(u, (3, 2))",
    "F.conv3d(x, w, padding=1)", "F.conv3d(u, w, stride=2)", "F.conv_transpose3d(x, w.transpose(0, 1))",
    "F.group_norm(x, 2, b, b)", "F.instance_norm(x, weight=b, bias=b)"])
def test_create_graph_through_3d_layers_as_torch(backend, call):
    """the recorded input gradients: values, requires_grad and grad_fn names as PyTorch's, and a
    second backward through them"""
    g = torch.Generator().manual_seed(6)
    inputs = [torch.randn(s, dtype=torch.float64, generator=g) for s in
              [(2, 2, 5, 4, 6), (3, 2, 2, 2, 2), (2,), (2, 5, 4, 6)]]
    wrt = [3 if "(u," in call else 0]
    inputs[wrt[0]].requires_grad_()
    _grad_graph_matches(eval(f"lambda x, w, b, u: {call}", {"F": F}),
                        eval(f"lambda x, w, b, u: {call}", {"F": tf}), inputs, wrt)


# ---- norms -------------------------------------------------------------------------------------
NORM_CASES = [("BatchNorm3d", (3, 4, 2, 3, 2), (4,), {}),
              ("BatchNorm3d", (2, 4, 2, 2, 3), (4,), dict(momentum=None, eps=1e-3)),
              ("BatchNorm3d", (2, 4, 3, 2, 2), (4,), dict(affine=False)),
              ("BatchNorm3d", (2, 4, 2, 2, 2), (4,), dict(track_running_stats=False)),
              ("InstanceNorm1d", (3, 4, 5), (4,), {}),
              ("InstanceNorm1d", (4, 5), (4,), dict(affine=True)),                   # unbatched
              ("InstanceNorm2d", (2, 4, 3, 5), (4,), dict(affine=True, track_running_stats=True)),
              ("InstanceNorm2d", (2, 4, 3, 5), (4,), dict(affine=True, bias=False, momentum=None,
                                                          track_running_stats=True)),
              ("InstanceNorm3d", (2, 4, 3, 2, 4), (4,), dict(track_running_stats=True,
                                                             momentum=0.3)),
              ("InstanceNorm3d", (4, 3, 2, 4), (4,), dict(affine=True, eps=1e-3)),   # unbatched
              ("GroupNorm", (3, 4, 5), (2, 4), {}),
              ("GroupNorm", (2, 6, 3, 2, 2), (3, 6), dict(eps=1e-3)),
              ("GroupNorm", (2, 8), (2, 8), dict(affine=False)),
              ("GroupNorm", (2, 4, 3, 3), (1, 4), dict(bias=False))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args, kwargs", NORM_CASES)
def test_norms_train_then_eval_match_torch(backend, dtype, name, shape, args, kwargs):
    """repr, state_dict keys, then three training steps (output, grad_fn, input and parameter
    gradients, running statistics) and one in eval mode"""
    c, t = _twin(getattr(nn, name)(*args, **kwargs),
                 _randomise(getattr(torch.nn, name)(*args, **kwargs)), dtype)
    assert repr(c) == repr(t)
    for step in range(4):
        if step == 3:
            c.eval()
            t.eval()
        c.zero_grad()
        t.zero_grad()
        cx, tx = _inputs(shape, dtype, seed=step, transpose=step == 1)
        c_out, t_out = c(cx), t(tx)
        assert c_out.grad_fn.name() == t_out.grad_fn.name()
        _check_grads(c, t, [cx], [tx], c_out, t_out, dtype)
        for (k, cb), (_, tb) in zip(c.state_dict().items(), t.state_dict().items()):
            _close(cb, tb, dtype)
            assert cb.dtype == (cgrad.int64 if k == "num_batches_tracked" else cx.dtype)


@pytest.mark.parametrize("name, args, kwargs, keys", [
    ("BatchNorm3d", (5,), {}, ["weight", "bias", "running_mean", "running_var",
                               "num_batches_tracked"]),
    ("InstanceNorm3d", (5,), {}, []),
    ("InstanceNorm1d", (5,), dict(affine=True), ["weight", "bias"]),
    ("InstanceNorm2d", (5,), dict(track_running_stats=True),
     ["running_mean", "running_var", "num_batches_tracked"]),
    ("GroupNorm", (5, 5), {}, ["weight", "bias"]),
    ("GroupNorm", (1, 5), dict(affine=False), [])])
def test_norm_parameters_and_state_dict_as_torch(name, args, kwargs, keys):
    """ones and zeros, buffers of zeros and ones, in PyTorch's order; float64 on request"""
    c, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert list(c.state_dict()) == list(t.state_dict()) == keys
    for (k, cv), (_, tv) in zip(c.state_dict().items(), t.state_dict().items()):
        np.testing.assert_array_equal(cv.numpy(), tv.numpy(), err_msg=k)
    assert [n for n, p in c.named_parameters() if p.requires_grad] == \
        [n for n, _ in t.named_parameters()]
    c64 = getattr(nn, name)(*args, **kwargs, dtype=cgrad.float64)
    assert all(p.dtype == cgrad.float64 for p in c64.parameters())


def test_instance_norm_warns_of_num_features_as_torch():
    x = cgrad.randn(2, 3, 5)
    with pytest.warns(UserWarning, match=r"input's size at dim=1 does not match num_features"):
        nn.InstanceNorm1d(4)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.InstanceNorm1d(3)(x)


def test_norms_double_backward_match_torch(backend):
    _second_order(lambda x, w, b: F.group_norm(x, 2, w, b, 1e-3),
                  lambda x, w, b: tf.group_norm(x, 2, w, b, 1e-3),
                  _randn64((2, 4, 3, 2, 2), (4,), (4,)))
    _second_order(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                  lambda x, w, b: tf.instance_norm(x, weight=w, bias=b),
                  _randn64((2, 3, 4, 2, 3), (3,), (3,)))
    _second_order(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                  lambda x, w, b: tf.batch_norm(x, None, None, w, b, training=True),
                  _randn64((2, 3, 2, 2, 3), (3,), (3,)))


def test_functional_instance_norm_updates_running_stats_as_torch(backend):
    """the running statistics: the batch's mean of each sample's, with momentum; then used
    where use_input_stats is false"""
    tx = torch.randn(3, 2, 5, 4, dtype=torch.float64)
    tm, tv = torch.randn(2, dtype=torch.float64), torch.rand(2, dtype=torch.float64) + 0.5
    cm, cv = _cg(tm), _cg(tv)
    for use in (True, False):
        _close(F.instance_norm(_cg(tx), cm, cv, use_input_stats=use, momentum=0.3),
               tf.instance_norm(tx, tm, tv, use_input_stats=use, momentum=0.3))
        _close(cm, tm)
        _close(cv, tv)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [3, 0])
def test_instance_norm_in_eval_leaves_the_running_stats_as_torch(backend, dtype, batch):
    """use_input_stats=False: PyTorch leaves them untouched (cgrad wrote back the mean of
    their per-sample copies: off by rounding, NaN for an empty batch)"""
    tx = torch.randn(batch, 2, 5, dtype=_torch_dtype(dtype))
    tm = torch.tensor([0.839461, -0.3], dtype=_torch_dtype(dtype))
    tv = torch.tensor([0.7, 1.3], dtype=_torch_dtype(dtype))
    cm, cv = _cg(tm), _cg(tv)
    _close(F.instance_norm(_cg(tx), cm, cv, use_input_stats=False),
           tf.instance_norm(tx, tm, tv, use_input_stats=False), dtype)
    for c, t in ((cm, tm), (cv, tv)):
        np.testing.assert_array_equal(c.numpy(), t.numpy())
    m = nn.InstanceNorm1d(2, track_running_stats=True).to(cgrad.float64).eval()
    m(cgrad.zeros(0, 2, 3, dtype=cgrad.float64))
    assert m.running_mean.tolist() == [0.0, 0.0] and m.running_var.tolist() == [1.0, 1.0]


def _backward_outcome(x, y):
    """y's shape and grad_fn name, and after y.sum().backward() x's gradient shape or the
    RuntimeError's message"""
    try:
        y.sum().backward()
        return tuple(y.shape), y.grad_fn.name(), tuple(x.grad.shape)
    except RuntimeError as e:
        return tuple(y.shape), y.grad_fn.name(), str(e)


@pytest.mark.parametrize("fn, shape, size", [
    ("adaptive_avg_pool3d", (1, 1, 4, 1, 1), (1, 3, 0)),
    ("adaptive_avg_pool3d", (0, 1, 4, 1, 1), (1, 3, 0)),
    ("adaptive_avg_pool3d", (1, 4, 1, 1), (0, 3, 1)),
    ("adaptive_max_pool3d", (1, 1, 4, 1, 1), (1, 3, 0)),
    ("adaptive_max_pool2d", (1, 1, 4, 1), (1, 0)), ("adaptive_max_pool2d", (1, 4, 1), (0, 2)),
    ("adaptive_max_pool1d", (1, 1, 4), 0), ("adaptive_max_pool1d", (0, 2, 4), 0),
    ("adaptive_avg_pool3d", (0, 1, 4, 1, 1), 2), ("adaptive_max_pool3d", (0, 1, 4, 1, 1), 2),
    ("interpolate", (1, 1, 4, 1, 1), (1, 3, 0))])
def test_adaptive_pools_backward_of_an_empty_output_as_torch(backend, fn, shape, size):
    """PyTorch's forward gives the empty output, its backward refuses the gradient when a
    non-batch dim is empty (only the 2-d average pool did); an empty batch alone passes"""
    out = []
    for lib, functional in ((cgrad, F), (torch, tf)):
        x = lib.ones(*shape, requires_grad=True)
        y = (functional.interpolate(x, size, mode="area") if fn == "interpolate" else
             getattr(functional, fn)(x, size))
        out.append(_backward_outcome(x, y))
    assert out[0] == out[1]


@pytest.mark.parametrize("n, shape, args", [
    (1, (2, 3, 1), (2, 1, 1)), (1, (3, 1), (2, 1, 1)), (2, (2, 1, 1, 1), (2, 1, 1)),
    (2, (1, 1, 1), (2, 1, 1)), (3, (1, 1, 1, 1), (2, 1, 1)), (3, (2, 1, 1, 1, 1), (2, 1, 1)),
    (2, (0, 1, 1, 1), (2, 1, 1)), (2, (1, 1, 2, 2), (2, 2, 0))])
def test_max_unpool_backward_of_an_empty_output_as_torch(backend, n, shape, args):
    """PyTorch's forward gives the empty output, its backward (a gather from the empty
    gradient) refuses a non-empty input's indices (cgrad gave zeros)"""
    out = []
    for lib, functional in ((cgrad, F), (torch, tf)):
        x = lib.ones(*shape, requires_grad=True)
        idx = lib.arange(x.numel()).reshape(shape) + 3
        y = getattr(functional, f"max_unpool{n}d")(x, idx, *args)
        out.append(_backward_outcome(x, y))
    assert out[0] == out[1]


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    # conv3d / conv_transpose3d
    "F.conv3d(x(5, 5, 5), x(3, 2, 2, 2, 2))", "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), stride=(1, 1))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), padding=(1, 1))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), padding='same', stride=2)",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), dilation=0)",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), dilation=(1, -1, 1))",
    "F.conv3d(x(1, 2, 2, 5, 5), x(3, 2, 3, 2, 2), dilation=(1, 2, 3))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 1, 2, 2, 2), groups=2)",
    "F.conv_transpose3d(x(2, 1, 3, 3, 1).double(), x(1, 2, 2, 2, 2).double(), padding=1)",
    "F.conv_transpose1d(x(2, 1, 1).double(), x(1, 2, 2).double(), padding=2)",
    "F.conv_transpose3d(x(1, 1, 5, 0, 3), x(1, 2, 2, 2, 2))",        # (it gave an output)
    "F.conv_transpose1d(x(1, 1, 0), x(1, 2, 2))", "F.conv_transpose2d(x(1, 0, 2), x(1, 2, 1, 1))",
    # PyTorch's argument checks, first
    "F.adaptive_avg_pool2d(x(3, 2), -1)",
    "F.adaptive_max_pool1d(x(2, 3, 4, 4), (None,))", "F.adaptive_avg_pool1d(x(2, 3, 4), (2.5,))",
    "F.max_pool1d(x(2, 3, 4), (None,))", "F.max_pool1d(x(2, 3, 4), 2, (1.5,))",
    "F.max_pool1d(x(2, 3, 4, 5), 2, 1, 0, (None,))",
    "F.max_unpool1d(x(2, 3, 1), i(2, 3, 1), 2, 1, 2)",
    "F.max_unpool2d(x(0, 2, 5, 1), i(0, 2, 5, 1).int(), 2, 1, 2)",
    "F.max_unpool3d(x(1, 2, 1, 1, 1), i(1, 2, 1, 1, 1), 1, 1, 1)",
    "F.conv3d(x(1, 3, 5, 5, 5), x(3, 2, 2, 2, 2))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), x(4))",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2).double())",
    "F.conv3d(x(1, 2, 5, 5, 5), x(3, 2, 2, 2, 2), x(3).double())",
    "F.conv3d(x(1, 2, 5, 5, 5).bool(), x(3, 2, 2, 2, 2).bool())",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5), x(2, 2, 2, 2, 2), dilation=(1, 0, 1))",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5), x(2, 2, 2, 2, 2), output_padding=1)",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5), x(2, 2, 2, 2, 2), output_padding=(0, 0, 2), stride=2)",
    "F.conv_transpose3d(x(1, 2, 2, 2, 2), x(2, 2, 3, 3, 3), padding=(1, 2, 1))",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5), x(2, 2, 2, 2, 2), padding='same')",
    "F.conv_transpose3d(x(1, 3, 5, 5, 5), x(2, 2, 2, 2, 2))",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5).int(), x(2, 2, 2, 2, 2).int())",
    "F.conv_transpose2d(x(1, 2, 5, 5).int(), x(2, 2, 2, 2).int())",
    "nn.Conv3d(4, 4, 3, stride=2, padding='same')", "nn.Conv3d(3, 4, 3, groups=2)",
    "nn.ConvTranspose3d(4, 4, 3, padding_mode='reflect')",
    "nn.Conv3d(1, 2, 3)(x(2, 1, 5, 5))",
    "nn.ConvTranspose3d(2, 3, 3, stride=2)(x(1, 2, 4, 4, 4), output_size=(9, 9))",
    "nn.ConvTranspose3d(2, 3, 3, stride=2)(x(1, 2, 4, 4, 4), output_size=(9, 9, 11))",
    # max_pool3d / avg_pool3d (and the 2-d checks they share)
    "F.max_pool3d(x(5, 5, 5), 2)", "F.max_pool3d(x(1, 1, 5, 5, 5, 5), 2)",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, padding=2)",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 3, padding=2, dilation=2)",
    "F.max_pool3d(x(1, 2, 1, 5, 5), 2)", "F.max_pool3d(x(1, 2, 5, 5, 5), 2, stride=0)",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, padding=-1)", "F.max_pool3d(x(1, 2, 5, 5, 5), 2, dilation=0)",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, 2, 1, -1)", "F.max_pool3d(x(1, 2, 5, 5, 5), -1)",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, -1)", "F.max_pool3d(x(1, 2, 5, 5, 5), (2, 2))",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, stride=(2, 2))",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, padding=(1, 1))",
    "F.max_pool3d(x(1, 2, 5, 5, 5), 2, dilation=(1, 1))",
    "F.max_pool3d(x(1, 2, 5, 5, 5), (2, 2.5, 2))", "F.max_pool3d(x(1, 2, 5, 5, 5), 2.5)",
    "F.max_pool3d(x(1, 0, 5, 5, 5), 2)", "F.max_pool3d(x(2, 0, 5, 5), 2)",
    "F.max_pool3d(x(1, 2, 5, 5, 5).bool(), 2)",
    "F.max_pool2d(x(1, 2, 5, 5), 2, dilation=0)", "F.max_pool2d(x(1, 2, 5, 5), (2, 2, 2))",
    "F.max_pool2d(x(1, 2, 5, 5), 2, stride=(2, 2, 2))", "F.max_pool2d(x(1, 0, 5, 5), 2)",
    "F.max_pool2d(x(1, 2, 0, 5), 2)", "F.max_pool2d(x(1, 2, 5, 5), -1)",
    "F.max_pool2d(x(1, 2, 5, 5), 2, 2, 1, -1)", "F.max_pool2d(x(1, 2, 5, 5), 2.5)",
    "F.avg_pool2d(x(1, 2, 5, 5), (2, 2, 2))", "F.avg_pool2d(x(1, 0, 5, 5), 2)",
    "F.avg_pool2d(x(5, 5), 2)", "F.avg_pool2d(x(1, 1, 5, 5, 5), 2)",
    "F.avg_pool2d(x(1, 2, 5, 5), 2, stride=-1)",
    "F.avg_pool3d(x(5, 5, 5), 2)", "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, padding=2)",
    "F.avg_pool3d(x(1, 2, 1, 5, 5), 2)", "F.avg_pool3d(x(1, 2, 2, 5, 5), 3, padding=1)",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, stride=0)", "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, stride=-1)",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, padding=-1)", "F.avg_pool3d(x(1, 2, 5, 5, 5), (2, 2))",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, stride=(2, 2))",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, padding=(1, 1))",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), 2, divisor_override=0)",
    "F.avg_pool3d(x(1, 0, 5, 5, 5), 2)", "F.avg_pool3d(x(1, 2, 0, 5, 5), 2)",
    "F.avg_pool3d(x(1, 2, 5, 5, 5), -1)", "F.avg_pool3d(x(1, 2, 5, 5, 5).int(), 2)",
    "F.avg_pool3d(x(1, 2, 5, 5, 5).bool(), 2)",
    "nn.MaxPool3d(2)(x(5, 5, 5))", "nn.AvgPool3d(3)(x(2, 2, 2, 5))",
    # adaptive pools
    "F.adaptive_avg_pool3d(x(5, 5, 5), 2)", "F.adaptive_avg_pool3d(x(5, 5), (2, 2, 2))",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5), (2, 2))",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5), (2, -2, 2))",
    "F.adaptive_avg_pool3d(x(1, 2, 0, 5, 5), 2)", "F.adaptive_avg_pool3d(x(1, 0, 5, 5, 5), 2)",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5), (2, 2.5, 2))",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5), 2.5)",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5).long(), 2)",
    "F.adaptive_avg_pool3d(x(0, 2, 5, 5, 5).long(), 2)",
    "F.adaptive_max_pool3d(x(5, 5, 5), 2)", "F.adaptive_max_pool3d(x(1, 2, 5, 5, 5), (2, 2))",
    "F.adaptive_max_pool3d(x(1, 2, 5, 5, 5), (2, -2, 2))",
    "F.adaptive_max_pool3d(x(1, 2, 0, 5, 5), 2)", "F.adaptive_max_pool3d(x(5, 5, 5), (2, -1, 2, 2))",
    "F.adaptive_max_pool3d(x(0, 2, 5, 5, 5).long(), 2)",
    "F.adaptive_max_pool2d(x(5, 5), 2)", "F.adaptive_max_pool2d(x(1, 2, 5, 5), (2, 2, 2))",
    "F.adaptive_max_pool2d(x(1, 2, 5, 5), (2, None, 3))",
    "F.adaptive_max_pool2d(x(1, 2, 5, 5), (2, -2))", "F.adaptive_max_pool2d(x(2, 5, 5), (2, -2))",
    "F.adaptive_max_pool2d(x(1, 0, 5, 5), 2)", "F.adaptive_max_pool2d(x(1, 2, 0, 5), (2, -2))",
    "F.adaptive_max_pool2d(x(1, 2, 5, 5), 2.5)", "F.adaptive_max_pool2d(x(5,), (2, 2))",
    "F.adaptive_max_pool2d(x(1, 2, 5, 5), None)", "F.adaptive_max_pool2d(x(1, 2, 5, 5).int(), 2)",
    "F.adaptive_max_pool1d(x(5), 2)", "F.adaptive_max_pool1d(x(1, 2, 5, 5), 2)",
    "F.adaptive_max_pool1d(x(1, 2, 5), (2, 2))", "F.adaptive_max_pool1d(x(1, 2, 5), -1)",
    "F.adaptive_max_pool1d(x(1, 2, 0), 2)", "F.adaptive_max_pool1d(x(2, 0), 2)",
    "F.adaptive_max_pool1d(x(1, 2, 5), 2.5)", "F.adaptive_max_pool1d(x(1, 2, 5), None)",
    "F.adaptive_max_pool1d(x(1, 2, 5).bool(), 2)",
    "nn.AdaptiveMaxPool3d(2)(x(5, 5, 5))", "nn.AdaptiveAvgPool3d((2, 2))(x(1, 2, 5, 5, 5))",
    # max_unpool
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2).int(), 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2).float(), 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 3), 2)", "F.max_unpool2d(x(2, 2), i(2, 2), 2)",
    "F.max_unpool2d(x(1, 1, 2, 2, 2), i(1, 1, 2, 2, 2), 2)",
    "F.max_unpool2d(x(1, 0, 2, 2), i(1, 0, 2, 2), 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2) + 16, 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2) - 1, 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2), 2, output_size=(6, 5))",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2), 2, output_size=(5,))",
    "F.max_unpool2d(x(1, 2, 2, 2).long(), i(1, 2, 2, 2), 2)",
    "F.max_unpool2d(x(1, 2, 2, 2), i(1, 2, 2, 2), (2, 2, 2))",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), i(1, 2, 2, 2, 2).int(), 2)",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), i(1, 2, 2, 2, 1), 2)",
    "F.max_unpool3d(x(2, 2, 2), i(2, 2, 2), 2)",
    "F.max_unpool3d(x(1, 0, 2, 2, 2), i(1, 0, 2, 2, 2), 2)",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), i(1, 2, 2, 2, 2) + 64, 2)",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), i(1, 2, 2, 2, 2), 2, stride=(1, -1, 1))",
    "F.max_unpool3d(x(1, 2, 2, 2, 2).bool(), i(1, 2, 2, 2, 2), 2)",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), i(1, 2, 2, 2, 2), 2, output_size=[2, 4, 4, 5, 4, 4])",
    "F.max_unpool1d(x(2), i(2), 2)", "F.max_unpool1d(x(1, 2, 2), i(1, 2, 2) + 4, 2)",
    "F.max_unpool1d(x(1, 2, 2), i(1, 2, 2), 2, output_size=[7])",
    "F.max_unpool1d(x(1, 2, 2), i(1, 2, 2), (2, 2))",
    "nn.MaxUnpool2d(2)(x(1, 2, 2, 2), i(1, 2, 2, 2), (1, 1))",
    # norms
    "nn.BatchNorm3d(3)(x(2, 3, 4, 4))", "nn.BatchNorm3d(3)(x(1, 3, 1, 1, 1))",
    "nn.BatchNorm3d(3)(x(2, 4, 2, 2, 2))",
    "F.instance_norm(x(0, 3, 4), weight=x(3), bias=x(3))", "F.instance_norm(x(2, 3, 1))",
    "F.instance_norm(x(2, 3, 4), use_input_stats=False)",
    "F.instance_norm(x(2, 3, 4), x(3), None, use_input_stats=False)",
    "F.instance_norm(x(2, 3, 4), x(4), x(4))", "F.instance_norm(x(2, 3, 4), weight=x(4))",
    "F.instance_norm(x(2, 3, 4), weight=x(3).double())", "F.instance_norm(x(2, 3, 4).long())",
    "F.instance_norm(x(3, 4))",
    "nn.InstanceNorm1d(3, affine=True)(x(2, 4, 5))", "nn.InstanceNorm1d(3)(x(2, 4, 5, 6))",
    "nn.InstanceNorm2d(3)(x(4, 5))", "nn.InstanceNorm3d(3)(x(2, 3, 1, 1, 1))",
    "nn.InstanceNorm3d(3)(x(3, 1, 1, 1))",
    "F.group_norm(x(2, 4, 3), 3)", "F.group_norm(x(2, 4, 3), 0)", "F.group_norm(x(2, 4, 3), -2)",
    "F.group_norm(x(2, 4, 3), 2, x(3))", "F.group_norm(x(2, 4, 3), 2, x(4), x(3))",
    "F.group_norm(x(2, 4, 3), 2, x(2, 2))", "F.group_norm(x(2, 4, 3), 2, x(4).double())",
    "F.group_norm(x(2, 4, 3).long(), 2)", "F.group_norm(x(2, 4, 3).double(), 2, x(4))",
    "F.group_norm(x(4), 2)", "F.group_norm(x(1, 4), 4)", "F.group_norm(x(1, 4, 1, 1), 4)",
    "nn.GroupNorm(3, 4)", "nn.GroupNorm(0, 4)", "nn.GroupNorm(2, 4)(x(2, 3, 4))"])
def test_3d_layers_refuse_as_torch(call):
    """PyTorch's exception class and message for bad shapes, arguments and dtypes"""
    calls = []
    for lib, functional, modules in ((cgrad, F, nn), (torch, tf, torch.nn)):
        env = {"x": lib.randn, "i": lambda *s, lib=lib: lib.zeros(*s, dtype=lib.int64),
               "lib": lib, "F": functional, "nn": modules}
        calls.append(lambda env=env: eval(call, env))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _raises_like_torch(*calls)


@pytest.mark.parametrize("call", [
    "F.conv3d(x(1, 2, 5, 5, 5).long(), x(3, 2, 2, 2, 2).long(), stride=2)",
    "F.conv3d(x(1, 2, 5, 5, 5).int(), x(4, 1, 2, 2, 2).int(), groups=2)",
    "F.conv_transpose3d(x(1, 2, 5, 5, 5).long(), x(2, 2, 2, 2, 2).long(), stride=2)",
    "F.max_pool3d(x(1, 2, 5, 5, 5).int(), 2, padding=1)",
    "F.max_pool3d(x(1, 2, 5, 5, 5).to(lib.uint8), 2, return_indices=True)",
    "F.avg_pool3d(x(1, 2, 5, 5, 5).long() - 1, 3, 2, 1)",
    "F.max_pool3d(x(0, 2, 5, 5, 5), 2)", "F.avg_pool3d(x(0, 2, 5, 5, 5), 2)",
    "F.adaptive_avg_pool3d(x(0, 2, 5, 5, 5), 2)", "F.adaptive_avg_pool3d(x(0, 5, 5, 5), 2)",
    "F.adaptive_avg_pool3d(x(1, 2, 5, 5, 5), 0)", "F.adaptive_avg_pool3d(x(1, 2, 0, 5, 5), 1)",
    "F.adaptive_max_pool3d(x(0, 2, 5, 5, 5), 2)", "F.adaptive_max_pool3d(x(1, 2, 5, 5, 5), 0)",
    "F.adaptive_max_pool1d(x(0, 2, 5), 2)", "F.adaptive_max_pool2d(x(1, 2, 5, 5), (None, 3))",
    "F.max_unpool3d(x(0, 2, 2, 2, 2), lib.zeros(0, 2, 2, 2, 2, dtype=lib.int64), 2)",
    "F.max_unpool3d(x(1, 2, 2, 2, 2), lib.zeros(1, 2, 2, 2, 2, dtype=lib.int64), 1, padding=1)",
    "F.instance_norm(x(0, 3, 4))", "F.group_norm(x(0, 4, 3), 2, x(4), x(4))",
    # adaptive_avg_pool2d's mean shortcut for an output size of 1 comes before its dims check
    "F.adaptive_avg_pool2d(x(3, 1, 5, 2, 1), 1)", "F.adaptive_avg_pool2d(x(3, 2), 1)",
    # an empty output of conv_transpose with an empty batch (it raised)
    "F.conv_transpose1d(x(0, 1, 1), x(1, 2, 2), padding=1)",
    "F.conv_transpose2d(x(0, 1, 3, 1).double(), x(1, 2, 2, 2).double(), x(2).double(), 1, 1)",
    "F.conv_transpose3d(x(0, 1, 1, 1, 1), x(1, 2, 2, 2, 2), x(2), padding=1)"])
def test_3d_layer_edge_cases_match_torch(backend, call):
    """integer inputs where PyTorch takes them, empty batches and sizes: PyTorch's shapes,
    dtypes and values"""
    out = []
    for lib, functional in ((cgrad, F), (torch, tf)):
        g = torch.Generator().manual_seed(0)        # the same whole numbers in both

        def x(*shape, lib=lib, g=g):
            t = (torch.rand(shape, generator=g) * 10).floor()
            return t if lib is torch else _cg(t)
        r = eval(call, {"x": x, "lib": lib, "F": functional})
        out.append(r[0] if isinstance(r, tuple) else r)
    c, t = out
    assert tuple(c.shape) == tuple(t.shape)
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(c.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=1e-6)


# ---- a small 3-d CNN ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_3d_cnn_trains_like_torch(backend, dtype):
    """Conv3d -> BatchNorm3d -> ReLU -> MaxPool3d -> flatten -> Linear, the same initial
    weights as PyTorch's: 3 SGD steps (momentum) give its losses and parameters"""
    def net(lib):
        m = lib.nn
        return m.Sequential(m.Conv3d(2, 4, 3, padding=1), m.BatchNorm3d(4), m.ReLU(),
                            m.MaxPool3d(2), m.Flatten(), m.Linear(4 * 2 * 3 * 2, 3))
    _train_like_torch(net, lambda g, dt: (torch.randn(5, 2, 4, 6, 4, generator=g, dtype=dt),
                                          torch.randint(0, 3, (5,), generator=g)),
                      lambda fn, out, y: fn.cross_entropy(out, y), dtype)
