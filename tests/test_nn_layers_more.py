"""More nn layers against PyTorch, from a differential fuzz: F.unfold / F.fold argument checks,
adaptive_avg_pool2d's empty and None sizes, batch norm's single value per channel, integer
inputs, create_graph through the pools and norms, and the padding modules."""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import (DTYPES, _cg, _check_grads, _close, _inputs,  # noqa: E402
                            _randn64, _raises_like_torch, _second_order)


def _both(call):
    """call (a string using lib, F and nn) evaluated with cgrad and with PyTorch"""
    return (lambda: eval(call, {"lib": cgrad, "F": F, "nn": nn, "np": np}),
            lambda: eval(call, {"lib": torch, "F": torch.nn.functional, "nn": torch.nn,
                                "np": np}))


def _same_result(call):
    """call gives PyTorch's shape, dtype and values (integers and bools too)"""
    c, t = (f() for f in _both(call))
    c, t = (c[0], t[0]) if isinstance(t, tuple) else (c, t)
    assert tuple(c.shape) == tuple(t.shape)
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7)


# ---- F.unfold / F.fold -------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    "F.unfold(lib.ones(1, 2, 5, 5), 0)",
    "F.unfold(lib.ones(1, 2, 5, 5), -1)",
    "F.unfold(lib.ones(1, 2, 5, 5), (2, 2, 2))",
    "F.unfold(lib.ones(1, 2, 5, 5), (2,))",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, dilation=0)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, dilation=-1)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, dilation=(1, 1, 1))",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, padding=-1)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, padding=(1, 1, 1))",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, stride=0)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, stride=-1)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2, stride=(1, 2, 3))",
    "F.unfold(lib.ones(1, 2, 5, 5), 6)",
    "F.unfold(lib.ones(1, 2, 5, 5), 3, dilation=3)",
    "F.unfold(lib.ones(5, 5), 2)",
    "F.unfold(lib.ones(1, 1, 2, 5, 5), 2)",
    "F.unfold(lib.ones(1, 0, 5, 5), 2)",
    "F.unfold(lib.ones(1, 2, 0, 5), 2)",
    "F.unfold(lib.ones(1, 2, 5, 5), 2.5)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 0)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), -2)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), (2, 2, 2))",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, dilation=0)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, dilation=(1,))",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, padding=-1)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, stride=0)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, stride=(1, 1, 1))",
    "F.fold(lib.ones(1, 8, 16), (5, 5, 5), 2)",
    "F.fold(lib.ones(1, 8, 16), (1, 1), 2)",
    "F.fold(lib.ones(1, 8, 16), (0, 5), 2)",
    "F.fold(lib.ones(1, 8, 16), (-1, 5), 2)",
    "F.fold(lib.ones(1, 7, 16), (5, 5), 2)",
    "F.fold(lib.ones(1, 8, 15), (5, 5), 2)",
    "F.fold(lib.ones(1, 8, 16), (6, 5), 2)",
    "F.fold(lib.ones(8), (5, 5), 2)",
    "F.fold(lib.ones(1, 1, 8, 16), (5, 5), 2)",
    "F.fold(lib.ones(1, 0, 16), (5, 5), 2)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 6)",
    "F.fold(lib.ones(1, 8, 9), (5, 5), 2, stride=2)",
    "F.fold(lib.ones(1, 8, 16), (0, -15), 2)",
    "F.fold(lib.ones(1, 8, 6), (0, 5), 2, padding=1)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), (2, 2.5))",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 2, stride=True)",
    "F.unfold(lib.ones(1, 2, 5, 7), 8)",
    "F.unfold(lib.ones(1, 2, 5, 5), 0, dilation=0, padding=-1, stride=0)",
    "F.unfold(lib.ones(1, 2, 5, 5), 1, padding=-1, stride=0)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 1, padding=-1, stride=0, dilation=0)",
    "F.fold(lib.ones(1, 8, 16), (5, 5), 1, padding=-1, dilation=0)",])
def test_unfold_fold_arguments_refused_as_torch(call):
    _raises_like_torch(*_both(call))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_unfold_and_fold_match_torch(backend, dtype):
    tx = torch.randn(3, 6, 5, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                     requires_grad=True)
    cx = _cg(tx)
    kw = dict(kernel_size=[2, 3], dilation=(2, 1), padding=[1, 0], stride=1)
    t_out = torch.nn.functional.fold(torch.nn.functional.unfold(tx, **kw), (6, 5), **kw)
    c_out = F.fold(F.unfold(cx, **kw), (6, 5), **kw)
    _close(c_out, t_out, dtype)
    t_out.backward(t_out.detach())
    c_out.backward(c_out.detach())
    _close(cx.grad, tx.grad, dtype)


# ---- adaptive_avg_pool2d -----------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 0, 4), 2)",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 4, 0), 2)",
    "F.adaptive_avg_pool2d(lib.ones(2, 0, 4), 2)",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 0, 4), (0, 2))",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 4, 4), -1)",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 0, 4), (-1, None))",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 4, 4), (2, 2.5))",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 4, 4), (2,))",
    "F.adaptive_avg_pool2d(lib.ones(1, 2, 4, 4), None)"])
def test_adaptive_avg_pool2d_refuses_as_torch(call):
    _raises_like_torch(*_both(call))


@pytest.mark.parametrize("call", [
    "F.adaptive_avg_pool2d(x, 0)", "F.adaptive_avg_pool2d(x, (0, 2))",
    "F.adaptive_avg_pool2d(x, (3, 0))", "F.adaptive_avg_pool2d(x, (None, 2))",
    "F.adaptive_avg_pool2d(x, (3, None))", "F.adaptive_avg_pool2d(x, (None, None))",
    "F.adaptive_avg_pool2d(x[0], (None, 3))",
    "F.adaptive_avg_pool2d(x, 1)", "F.adaptive_avg_pool2d(x[:0], (2, 3))",
    "F.adaptive_avg_pool2d(x[:, :0], 2)", "nn.AdaptiveAvgPool2d((None, 2))(x)"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_avg_pool2d_zero_and_none_sizes_match_torch(backend, call, dtype):
    tx = torch.randn(2, 3, 5, 4, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                     requires_grad=True)
    cx = _cg(tx)
    t_out = eval(call, {"F": torch.nn.functional, "nn": torch.nn, "x": tx})
    c_out = eval(call, {"F": F, "nn": nn, "x": cx})
    _close(c_out, t_out, dtype)
    if t_out.numel():      # (PyTorch's backward refuses an empty output)
        t_out.sum().backward()
        c_out.sum().backward()
        _close(cx.grad, tx.grad, dtype)


def test_adaptive_avg_pool2d_to_one_is_a_mean_as_torch(backend):
    """PyTorch takes a mean for output_size 1: NaN for an empty input, MeanBackward1"""
    x = cgrad.ones(1, 2, 4, 4, requires_grad=True)
    assert F.adaptive_avg_pool2d(x, 1).grad_fn.name() == "MeanBackward1"
    _close(F.adaptive_avg_pool2d(cgrad.ones(1, 2, 0, 4), (1, 1)),
           torch.nn.functional.adaptive_avg_pool2d(torch.ones(1, 2, 0, 4), (1, 1)))


# ---- batch norm of one value per channel, 1-d and empty inputs ---------------------------------
@pytest.mark.parametrize("call", [
    "F.batch_norm(lib.ones(1, 3), None, None, training=True)",
    "F.batch_norm(lib.ones(1, 3, 1), lib.zeros(3), lib.ones(3), training=True)",
    "F.batch_norm(lib.ones(1, 3, 1, 1), None, None, training=True)",
    "F.batch_norm(lib.ones(1), None, None, training=True)",
    "F.batch_norm(lib.ones(3), None, None, training=True)",
    "F.batch_norm(lib.ones(3), lib.zeros(3), lib.ones(3), training=False)",
    "F.batch_norm(lib.ones(3), lib.zeros(0), lib.ones(0), training=False)",
    "F.batch_norm(lib.ones(3), None, None, lib.ones(3), training=True)",
    "F.batch_norm(lib.ones(3), None, None, lib.ones(3), training=False)",
    "F.batch_norm(lib.ones(3), lib.zeros(0), None, training=False)",
    "F.batch_norm(lib.tensor(1.), lib.zeros(1), lib.ones(1), training=False)",
    "F.batch_norm(lib.ones(2, 3), None, None, lib.ones(2), training=False)",
    "F.batch_norm(lib.ones(2, 3), lib.ones(2), lib.ones(2), lib.ones(2), training=False)",
    "nn.BatchNorm1d(3)(lib.ones(1, 3))", "nn.BatchNorm1d(3)(lib.ones(1, 3, 1))",
    "nn.BatchNorm1d(3)(lib.ones(3))", "nn.BatchNorm2d(3)(lib.ones(1, 3, 1, 1))",
    "nn.BatchNorm1d(3, track_running_stats=False).eval()(lib.ones(1, 3))",
    # one running statistic without the other (training used the batch's and went on)
    "F.batch_norm(lib.ones(2, 3), None, lib.ones(3), training=True)",
    "F.batch_norm(lib.ones(2, 3), lib.zeros(3), None, training=True)",
    "F.batch_norm(lib.ones(2, 3).long(), None, lib.ones(3), training=True)",
    "F.batch_norm(lib.ones(2, 3), None, lib.ones(4), training=True)",
    "F.instance_norm(lib.ones(2, 3, 4), None, lib.ones(3))",
    "F.instance_norm(lib.ones(2, 3, 4), lib.zeros(3), None, use_input_stats=False)"])
def test_batch_norm_refuses_as_torch(call):
    _raises_like_torch(*_both(call))


@pytest.mark.parametrize("call", [
    "nn.BatchNorm1d(3).eval()(lib.ones(1, 3) * 2)", "nn.BatchNorm1d(3)(lib.ones(1, 3, 2) * 2)",
    "F.batch_norm(lib.ones(0, 3), lib.zeros(2), None, training=True)",
    "F.batch_norm(lib.ones(0), None, None, training=False)",
    "F.batch_norm(lib.ones(0, 3), None, None, lib.ones(2) * 3, lib.ones(1), training=False)"])
def test_batch_norm_of_few_values_matches_torch(call):
    _same_result(call)


# ---- integer and bool inputs -------------------------------------------------------------------
X = "(lib.arange(-20, 30) * 7 % 23 - 11).reshape(1, 2, 5, 5)"      # int64, scrambled, negatives


@pytest.mark.parametrize("call", [
    f"F.max_pool2d({X}.to(lib.bool), 2)", f"F.avg_pool2d({X}.to(lib.int32), 2)",
    f"F.avg_pool2d({X}.to(lib.uint8), 2)", f"F.avg_pool2d({X}.to(lib.bool), 2)",
    f"F.adaptive_avg_pool2d({X}, 2)", f"F.adaptive_avg_pool2d({X}.to(lib.bool), 2)",
    f"F.adaptive_avg_pool2d({X}.to(lib.uint8), (2, 3))", f"F.adaptive_avg_pool2d({X}, 1)",
    "F.layer_norm(lib.ones(2, 3, dtype=lib.int64), (3,))",
    "F.layer_norm(lib.ones(2, 3, dtype=lib.bool), (3,))",
    "F.layer_norm(lib.ones(2, 3, dtype=lib.int32), (3,), lib.ones(3), lib.ones(3))",
    "nn.LayerNorm(3)(lib.ones(2, 3, dtype=lib.int64))",
    "F.batch_norm(lib.ones(2, 3, dtype=lib.int64), None, None, training=True)",
    "F.batch_norm(lib.ones(2, 3, dtype=lib.int64), lib.zeros(3), lib.ones(3))",
    "F.batch_norm(lib.ones(2, 3, dtype=lib.int64), lib.zeros(3, dtype=lib.int64), "
    "lib.ones(3, dtype=lib.int64))",
    "F.batch_norm(lib.ones(2, 3, dtype=lib.bool), None, None, training=True)",
    "F.batch_norm(lib.ones(2, 3), lib.zeros(3, dtype=lib.int64), lib.ones(3))",
    "nn.BatchNorm1d(3)(lib.ones(2, 3, dtype=lib.int64))",
    "nn.BatchNorm1d(3).eval()(lib.ones(2, 3, dtype=lib.int64))",
    "nn.BatchNorm2d(3)(lib.ones(2, 3, 2, 2, dtype=lib.int32))",
    "F.conv2d(lib.ones(1, 1, 4, 4, dtype=lib.bool), lib.ones(1, 1, 2, 2, dtype=lib.bool))",
    "F.conv2d(lib.ones(1, 1, 4, 4), lib.ones(1, 1, 2, 2), lib.ones(1, dtype=lib.int64))",
    "F.conv2d(lib.ones(1, 1, 4, 4), lib.ones(1, 1, 2, 2), lib.ones(1, dtype=lib.float64))",
    "F.conv2d(lib.ones(1, 1, 4, 4, dtype=lib.float64), lib.ones(1, 1, 2, 2, dtype=lib.float64), "
    "lib.ones(1, dtype=lib.bool))",
    "F.conv2d(lib.ones(1, 1, 4, 4, dtype=lib.int64), lib.ones(1, 1, 2, 2))",
    "nn.Conv2d(1, 1, 2)(lib.ones(1, 1, 4, 4, dtype=lib.int64))",
    "F.embedding(lib.tensor([0, 1]), lib.ones(3, 2, dtype=lib.int64), max_norm=1.0)",
    "F.embedding(lib.tensor([True, False]), lib.ones(3, 2))",
    f"F.unfold({X}, 2)", f"F.unfold({X}.to(lib.uint8), 2)",
    "F.fold(lib.ones(1, 4, 4, dtype=lib.int64), 3, 2)"])
def test_integer_and_bool_inputs_refused_as_torch(backend, call):
    _raises_like_torch(*_both(call))


@pytest.mark.parametrize("call", [
    f"F.max_pool2d({X}, 2)", f"F.max_pool2d({X}.to(lib.int32), 3, 2, 1)",
    f"F.max_pool2d({X}.to(lib.int8), 2, 1, 1, ceil_mode=True)",
    f"F.max_pool2d({X}.to(lib.uint8) * 0, 2, 1, 1)", f"F.max_pool2d({X}.to(lib.int16), 2, 1)",
    f"F.max_pool2d(lib.full((1, 1, 3, 3), -2 ** 63), 2, 1, 1, return_indices=True)[1]",
    f"F.max_pool2d({X}.to(lib.int32), 3, 1, 1, return_indices=True)[1]",
    f"nn.MaxPool2d(2, 1, 1)({X}[0])",
    f"F.avg_pool2d({X}, 2)", f"F.avg_pool2d({X}, 3, 2, 1, ceil_mode=True)",
    f"F.avg_pool2d({X}, 3, 1, 1, count_include_pad=False)",
    f"F.avg_pool2d({X}, 2, divisor_override=-3)", f"nn.AvgPool2d(2, 1)({X}[0])",
    f"F.adaptive_avg_pool2d({X}, 0)", f"F.adaptive_avg_pool2d({X}[:0], 2)",
    f"F.conv2d({X}, {X}[:, :, :3, :2].expand(3, 2, 3, 2), lib.arange(3), padding=1)",
    f"F.conv2d({X}.to(lib.uint8), {X}[:, :, :2, :2].to(lib.uint8))",
    "F.embedding(lib.tensor([0, 2]), lib.arange(6).reshape(3, 2), padding_idx=0)",
    "F.embedding(lib.tensor([0, 2]), lib.ones(3, 2, dtype=lib.bool))",
    f"F.unfold({X}.to(lib.bool), 2, padding=1)", "F.fold(lib.ones(1, 4, 4, dtype=lib.bool), 3, 2)",
    "F.pad(lib.ones(1, 4, dtype=lib.int64), (1, 1), value=1.5)"])
def test_integer_and_bool_inputs_match_torch(backend, call):
    _same_result(call)


# ---- create_graph through the composed layers --------------------------------------------------
def _grad_graph_matches(c_fn, t_fn, t_inputs, wrt):
    """the first gradients (create_graph) of sum(out) with respect to inputs wrt: values,
    whether they require grad and their grad_fn names, then the gradients of
    sum(g^2) + sum(g * input) (a second backward through them) as PyTorch's"""
    c_inputs = [_cg(t) for t in t_inputs]
    t_out, c_out = t_fn(*t_inputs), c_fn(*c_inputs)
    t_wrt, c_wrt = [t_inputs[i] for i in wrt], [c_inputs[i] for i in wrt]
    t_g = torch.autograd.grad(t_out.sum(), t_wrt, create_graph=True)
    c_g = cgrad.autograd.grad(c_out.sum(), c_wrt, create_graph=True)
    for c, t in zip(c_g, t_g):
        _close(c, t)
        assert c.requires_grad == t.requires_grad
        assert (c.grad_fn and c.grad_fn.name()) == (t.grad_fn and t.grad_fn.name())
    if all(t.requires_grad for t in t_g):
        t2 = torch.autograd.grad(sum((g * g).sum() + (g * x).sum() for g, x in zip(t_g, t_wrt)),
                                 t_wrt)
        c2 = cgrad.autograd.grad(sum((g * g).sum() + (g * x).sum() for g, x in zip(c_g, c_wrt)),
                                 c_wrt)
        for c, t in zip(c2, t2):
            _close(c, t)


def _layer_inputs():
    g = torch.Generator().manual_seed(5)
    return [torch.randn(s, dtype=torch.float64, generator=g) for s in
            [(2, 2, 5, 6), (3, 2, 2, 2), (3,), (2,), (2,), (2, 5, 6)]]


@pytest.mark.parametrize("name, call, wrt", [
    ("max", "F.max_pool2d(x, 2)", [0]), ("max padded", "F.max_pool2d(x, 3, 2, 1)", [0]),
    ("max unbatched", "F.max_pool2d(u, 2, 1)", [5]),
    ("avg", "F.avg_pool2d(x, 2)", [0]),
    ("avg padded", "F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)", [0]),
    ("avg divisor", "F.avg_pool2d(x, 2, divisor_override=3)", [0]),
    ("adaptive", "F.adaptive_avg_pool2d(x, (3, 2))", [0]),
    ("adaptive to 1", "F.adaptive_avg_pool2d(x, 1)", [0]),
    ("batch norm eval", "F.batch_norm(x, m.abs(), v.abs() + 1, training=False)", [0]),
    ("batch norm eval, weight", "F.batch_norm(x, m, v.detach().abs(), v, m)", [0, 4]),
    ("batch norm eval, weight only", "F.batch_norm(x, m, v.detach().abs(), v, m)", [4]),
    ("batch norm train", "F.batch_norm(x, None, None, v, training=True) ** 2", [0, 4]),
    ("conv", "F.conv2d(x, w, padding=1)", [0]), ("conv, bias", "F.conv2d(x, w, b)", [0]),
    ("conv unbatched", "F.conv2d(u, w, stride=2)", [5]),
    ("conv, weight", "F.conv2d(x, w, b, groups=1)", [0, 1]),
    ("conv, weight only", "F.conv2d(x, w)", [1]),
    ("unfold", "F.unfold(x, 2)", [0])])
def test_create_graph_through_layers_as_torch(backend, name, call, wrt):
    inputs = _layer_inputs()
    for i in wrt:
        inputs[i].requires_grad_()
    names = "x, w, b, m, v, u"
    _grad_graph_matches(
        eval(f"lambda {names}: {call}", {"F": F}),
        eval(f"lambda {names}: {call}", {"F": torch.nn.functional}), inputs, wrt)


def test_gradient_penalty_on_a_cnn_matches_torch(backend):
    """a WGAN-GP style penalty (||d out / d x|| - 1)^2 through conv, batch norm, pools:
    its gradients with respect to the parameters are PyTorch's"""
    def net(lib):
        m = lib.nn
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                            m.MaxPool2d(2), m.Conv2d(4, 3, 2), m.AvgPool2d(2, 1),
                            m.AdaptiveAvgPool2d((2, 1)), m.Flatten(), m.Linear(6, 1))
    t = net(torch).double()
    c = net(cgrad).to(cgrad.float64)
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    for mode in ("train", "eval"):
        getattr(t, mode)()
        getattr(c, mode)()
        tx = torch.randn(3, 2, 8, 8, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(7), requires_grad=True)
        cx = _cg(tx)
        losses = []
        for lib, m, x in ((torch, t, tx), (cgrad, c, cx)):
            m.zero_grad()
            (g,) = lib.autograd.grad(m(x).sum(), x, create_graph=True)
            penalty = ((g.reshape(3, -1).norm(dim=1) - 1) ** 2).mean()
            penalty.backward()
            losses.append(penalty)
        _close(losses[1], losses[0])
        for (name, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
            if tp.grad is None:                          # (the last bias: no path)
                assert cp.grad is None, name
            else:
                _close(cp.grad, tp.grad)
        _close(cx.grad, tx.grad)


# ---- F.pad's other modes and the padding, Unfold and Fold modules ------------------------------
@pytest.mark.parametrize("call", [
    'F.pad(lib.ones(4), (1, 1), mode="reflect")',
    'F.pad(lib.ones(1, 2, 3, 4), (1, 1), mode="replicate")',
    'F.pad(lib.ones(2, 3, 4), (4, 1), mode="reflect")',
    'F.pad(lib.ones(2, 3, 4), (1, 4), mode="reflect")',
    'F.pad(lib.ones(2, 3, 0), (1, 1), mode="reflect")',
    'F.pad(lib.ones(2, 3, 0), (1, 1), mode="replicate")',
    'F.pad(lib.ones(2, 0, 3), (1, 1), mode="replicate")',
    'F.pad(lib.ones(2, 3, 4), (1, 2, 3), mode="reflect")',
    'F.pad(lib.ones(2, 3, 4), (1, 1), mode="reflect", value=1.0)',
    'F.pad(lib.ones(2, 3, 4), (1, 1), mode="foo")',
    'F.pad(lib.ones(2, 3, 4), (-3, -2), mode="reflect")',
    'F.pad(lib.ones(2, 3, 4), (-4, 0), mode="replicate")',
    'F.pad(lib.ones(2, 3, 4), (-3, -1), mode="replicate")',
    'F.pad(lib.ones(1, 3, 4), (1, 1, 3, 1), mode="reflect")',
    'F.pad(lib.ones(1, 3, 4), (4, 1, 3, 1), mode="reflect")',
    'F.pad(lib.ones(1, 3, 4), (1, 1, 1, 3), mode="reflect")',
    'F.pad(lib.ones(1, 3, 0), (1, 1, 1, 1), mode="reflect")',
    'F.pad(lib.ones(0, 3, 3), (1, 1, 1, 1), mode="replicate")',
    'F.pad(lib.ones(1, 0, 3, 3), (1, 1, 1, 1), mode="replicate")',
    'F.pad(lib.ones(1, 1, 3, 4), (-3, -2, -2, -1), mode="reflect")',
    'F.pad(lib.ones(1, 1, 3, 4), (-3, -2, -2, -1), mode="replicate")',
    'F.pad(lib.ones(1, 1, 3, 4), (1, 1, 1, 1, 4, 1), mode="reflect")',
    'F.pad(lib.ones(1, 1, 3, 4), (1, 1, 1, 1, 2, 1), mode="reflect")',
    'F.pad(lib.ones(2, 3, 4), (-3, -2), mode="circular")',
    'F.pad(lib.ones(2, 3, 4), (5, 0), mode="circular")',
    'F.pad(lib.ones(1, 3, 0), (1, 1, 1, 1), mode="circular")',
    'F.pad(lib.ones(1, 3, 4), (1, 1, -3, -1), mode="circular")',
    'F.pad(lib.ones(1, 1, 3, 4), (1, 1, 1, 1, 4, 1), mode="circular")',
    'F.pad(lib.ones(1, 1, 3, 4), (1, 1, 1, 1, 3, 1), mode="circular")',
    'nn.ReflectionPad1d(3)(lib.ones(2, 3))', 'nn.ReflectionPad2d((1, 1, 2, 0))(lib.ones(2, 2, 3))',
    'nn.ReplicationPad2d(1)(lib.ones(2, 3))', 'nn.ReplicationPad1d(1)(lib.ones(1, 0, 3))',
    'F.pad(lib.arange(12).reshape(1, 3, 4) > 3, (1, 2), mode="reflect")',
    'F.pad(lib.arange(12).reshape(1, 3, 4) > 3, (1, 2, 1, 1), mode="replicate")',
    'F.pad(lib.ones(2, 3, 4), (1.5, 2), mode="reflect")', 'F.pad(lib.ones(2, 3, 4), (1, 2, 3.0))',
    'F.pad(lib.ones(2, 3, 4), (True, 1))',
    'nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(lib.ones(1, 1, 3, 3))'])
def test_pad_modes_refuse_as_torch(call):
    _raises_like_torch(*_both(call))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [
    ((2, 3, 4), (3, 3)), ((3, 4), (1, 2)), ((0, 3, 4), (1, 1)), ((2, 3, 5), (-1, 2)),
    ((2, 3, 4), (0, 0)), ((2, 3, 5), (3, -2)), ((1, 2, 3, 4), (1, 2, 2, 1)),
    ((2, 3, 4), (-2, 1, 2, -1)),
    ((1, 3, 3, 4), (1, 1, 1, 1, 2, 1)), ((1, 3, 4), (-3, -1, 1, 1))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pad_modes_match_torch(backend, mode, shape, pad, dtype):
    tx = torch.randn(shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                     requires_grad=True)
    cx = _cg(tx)
    t_out = torch.nn.functional.pad(tx, pad, mode=mode)
    c_out = F.pad(cx, pad, mode=mode)
    _close(c_out, t_out, dtype)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()   # (circular: CopySlices, its C++ name)
    g = torch.randn(t_out.shape, dtype=t_out.dtype)
    t_out.backward(g)
    c_out.backward(_cg(g))
    _close(cx.grad, tx.grad, dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_double_backward_match_torch(backend, mode):
    _second_order(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode) ** 2,
                  lambda x: torch.nn.functional.pad(x, (2, 1, 1, 2), mode=mode) ** 2,
                  _randn64((2, 3, 4)))


@pytest.mark.parametrize("module, shape", [
    ("ZeroPad2d(1)", (2, 3, 4)), ("ZeroPad2d((1, 0, -1, 2))", (1, 2, 3, 4)),
    ("ConstantPad1d(2, 3.5)", (2, 3)), ("ConstantPad1d((0, 1), -1)", (2, 3, 4)),
    ("ConstantPad2d((1, 2, 0, 1), -1.0)", (2, 3, 4)), ("ConstantPad2d(1, 2)", (3, 4)),
    ("ReflectionPad1d(2)", (2, 3, 4)), ("ReflectionPad1d((0, 3))", (3, 4)),
    ("ReflectionPad2d(1)", (2, 3, 4)), ("ReflectionPad2d((1, 0, 2, 1))", (1, 2, 3, 4)),
    ("ReplicationPad1d((1, 4))", (2, 3, 4)), ("ReplicationPad1d(3)", (3, 2)),
    ("ReplicationPad2d(3)", (2, 3, 4)), ("ReplicationPad2d((1, 0, 2, 5))", (1, 2, 3, 4)),
    ("ReplicationPad3d(1)", (2, 3, 4, 5)),
    ("ReflectionPad3d((1, 0, 2, 1, 0, 1))", (1, 2, 3, 4, 5)),
    ("ZeroPad1d((1, 2))", (2, 3)), ("ZeroPad3d(1)", (1, 2, 3, 4)),
    ("ConstantPad3d((1, 0, 0, 2, 1, 1), 0.5)", (2, 2, 3, 4)),
    ("CircularPad1d(2)", (2, 3, 4)), ("CircularPad2d((1, 0, 2, 1))", (1, 2, 3, 4)),
    ("CircularPad3d(1)", (2, 3, 4, 5)),
    ("Unfold(2)", (2, 3, 4, 5)), ("Unfold((2, 3), 2, 1, (1, 2))", (3, 6, 5)),
    ("Fold((4, 5), 2)", (2, 8, 12)), ("Fold(5, (2, 3), stride=2, padding=1)", (12, 9))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_fold_unfold_modules_match_torch(backend, module, shape, dtype):
    c, t = eval("nn." + module), eval("torch.nn." + module)
    assert repr(c) == repr(t)
    assert list(c.state_dict()) == list(t.state_dict()) == []
    cx, tx = _inputs(shape, dtype)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)


@pytest.mark.parametrize("call", [
    'F.pad(lib.arange(12).reshape(1, 3, 4), (1, 2), mode="reflect")',
    'F.pad(lib.arange(12).reshape(1, 3, 4).to(lib.int32), (1, 2, 1, 1), mode="replicate")',
    'F.pad(lib.arange(12).reshape(1, 3, 4) > 3, (1, 2), mode="circular")',
    'F.pad(lib.arange(12).reshape(1, 3, 4), (1, True))'])
def test_pad_modes_of_integers_match_torch(call):
    _same_result(call)


@pytest.mark.parametrize("kwargs", [
    dict(padding=1, padding_mode="reflect"), dict(padding=(1, 2), padding_mode="replicate"),
    dict(padding="same", padding_mode="circular", kernel_size=(2, 4)),
    dict(padding=2, padding_mode="reflect", stride=2, dilation=(1, 2), groups=2)])
def test_conv2d_padding_modes_match_torch(backend, kwargs):
    kw = {"kernel_size": 3, **kwargs}
    c, t = nn.Conv2d(2, 4, **kw), torch.nn.Conv2d(2, 4, **kw)
    assert repr(c) == repr(t)
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    cx, tx = _inputs((2, 2, 6, 7), np.float32)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), np.float32)


@pytest.mark.parametrize("call", [
    "F.max_pool2d(x, 2)", "F.max_pool2d(x[0], 2, 1, 1)",
    "F.max_pool2d(x, 2, return_indices=True)[0]",
    "F.avg_pool2d(x, 2)", "F.avg_pool2d(x[0], 3, 2, 1)", "F.adaptive_avg_pool2d(x, (2, 3))",
    "F.adaptive_avg_pool2d(x[0], 2)", "F.conv2d(x, w)", "F.conv2d(x, w[:2, :2], groups=2)",
    "F.conv2d(x[0], w, padding=1)", "F.unfold(x, 2)", "F.unfold(x[0], 2, padding=1)"])
def test_layer_outputs_print_torch_grad_fn(backend, call):
    """the composed layers' outputs print the grad_fn of PyTorch's fused op and are
    C-contiguous as its are"""
    outs = []
    for lib, FF in ((cgrad, F), (torch, torch.nn.functional)):
        x, w = lib.ones(2, 4, 5, 6, requires_grad=True), lib.ones(3, 4, 2, 2, requires_grad=True)
        y = eval(call, {"F": FF, "x": x, "w": w})
        outs.append((y.grad_fn.name(), y.is_contiguous(), tuple(y.shape)))
    assert outs[0] == outs[1]


# ---- one_hot -----------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    "F.one_hot(lib.tensor([[0, 2], [1, 1]]))", "F.one_hot(lib.tensor([0, 2]), 5)",
    "F.one_hot(lib.tensor(3))", "F.one_hot(lib.zeros(0, 2, dtype=lib.int64), 3)"])
def test_one_hot_matches_torch(call):
    _same_result(call)


@pytest.mark.parametrize("call", [
    "F.one_hot(lib.zeros(0, dtype=lib.int64))",          # nothing to count the classes from
    "F.one_hot(lib.zeros(0, dtype=lib.int64), 0)", "F.one_hot(lib.zeros(0, dtype=lib.int64), -2)",
    "F.one_hot(lib.tensor([0, 1], dtype=lib.int32))",     # only int64, as PyTorch
    "F.one_hot(lib.tensor([0, 1], dtype=lib.uint8), 3)", "F.one_hot(lib.tensor([0.0]))",
    "F.one_hot(lib.tensor([0, 3]), 3)", "F.one_hot(lib.tensor([0, -1]), 3)",
    "F.one_hot(lib.tensor([0, 1]), -2)"])
def test_one_hot_refuses_as_torch(call):
    _raises_like_torch(*_both(call))


# ---- a norm over no dims: built (0-d parameters), refused at forward, as PyTorch --------------
@pytest.mark.parametrize("layer", ["nn.LayerNorm([])", "nn.RMSNorm([])"])
def test_norm_of_empty_normalized_shape_as_torch(layer):
    c, t = (f() for f in _both(layer))
    assert [tuple(p.shape) for p in c.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert repr(c) == repr(t)
    _raises_like_torch(lambda: c(cgrad.ones(2, 3)), lambda: t(torch.ones(2, 3)))


# ---- messages found by the differential fuzz ---------------------------------------------------
@pytest.mark.parametrize("call", [
    "F.gelu(lib.ones(2), approximate='foo')", "nn.GELU('TANH')(lib.ones(2))",
    "F.cross_entropy(lib.ones(2, 3), lib.rand(2, 3), weight=lib.ones(4))",
    "F.cross_entropy(lib.ones(2, 3), lib.tensor([0, 1]), weight=lib.ones(4))",
    "F.embedding(lib.tensor([[1, 5], [7, 1]]), lib.ones(3, 2), max_norm=1.0)",   # renorm's
    "F.embedding(lib.tensor([-5]), lib.ones(3, 2), max_norm=1.0)",
    "F.embedding(lib.tensor([-1]), lib.ones(3, 2), max_norm=1.0)",             # the lookup's
    "F.embedding(lib.tensor([5]), lib.ones(3, 2))",
    "F.pad(lib.ones(2, 3), (1, 1), value='a')", "F.pad(lib.ones(2, 3), (1, 1), value=[1.0])",
    "F.silu(lib.tensor([1, -2]))", "F.silu(lib.tensor([True]))", "nn.SiLU(True)(lib.tensor([1]))",
    "F.hardtanh(lib.tensor([1, 2], dtype=lib.uint8))",           # (unsigned, negative bound)
    "F.hardtanh(lib.tensor([1, 2], dtype=lib.uint8), 0.0, -1.0)",
    # bilinear checks the dtypes before the shapes
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 3, 1), lib.ones(4, 3, 3).double())",
    "F.bilinear(lib.ones(2, 3), lib.ones(3, 3), lib.ones(4, 3, 3).double())",
    "F.bilinear(lib.ones(2, 3), lib.ones(2, 3), lib.ones(4, 3, 3), lib.ones(5).double())"])
def test_fuzzed_messages_as_torch(call):
    _raises_like_torch(*_both(call))


# ---- load_state_dict: per-module _load_from_state_dict and versions, as PyTorch's -------------
def _state_without_batches(lib, version=None):
    import collections
    sd = collections.OrderedDict(weight=lib.ones(3) * 2, bias=lib.zeros(3),
                                 running_mean=lib.ones(3), running_var=lib.ones(3) * 3)
    if version is not None:
        sd._metadata = {"": {"version": version}}
    return sd


def test_batch_norm_loads_a_state_dict_without_num_batches_tracked_as_torch():
    """an unversioned (plain) state_dict, or one from before version 2, may lack
    num_batches_tracked: the module keeps its own; a version 2 one must have it"""
    results = []
    for lib in (cgrad, torch):
        m = lib.nn.BatchNorm1d(3)
        for _ in range(2):
            m(lib.randn(4, 3))
        keys = m.load_state_dict(_state_without_batches(lib))
        m.load_state_dict(_state_without_batches(lib, version=1))
        results.append((list(keys.missing_keys), int(m.num_batches_tracked),
                        m.running_var.tolist(), m.weight.tolist()))
    assert results[0] == results[1]
    _raises_like_torch(
        lambda: nn.BatchNorm1d(3).load_state_dict(_state_without_batches(cgrad, 2)),
        lambda: torch.nn.BatchNorm1d(3).load_state_dict(_state_without_batches(torch, 2)))


def test_load_from_state_dict_override_adapts_old_keys_as_torch():
    """a subclass's _load_from_state_dict sees its own prefix and may rename keys"""
    def make(lib):
        class Renamed(lib.nn.Linear):
            def _load_from_state_dict(self, state_dict, prefix, *args):
                if prefix + "w" in state_dict:
                    state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
                super()._load_from_state_dict(state_dict, prefix, *args)
        net = lib.nn.Sequential(Renamed(2, 3))
        net.load_state_dict({"0.w": lib.ones(3, 2) * 5, "0.bias": lib.zeros(3)})
        return net[0].weight.tolist()
    assert make(cgrad) == make(torch)


@pytest.mark.parametrize("keys", [("running_mean", "running_var"), ("running_var",)])
@pytest.mark.parametrize("strict", [True, False])
def test_instance_norm_refuses_old_running_stats_as_torch(keys, strict):
    """running statistics in an unversioned state_dict for an InstanceNorm that tracks none:
    PyTorch's error (strict or not), naming the keys"""
    def run(lib):
        net = lib.nn.Sequential(lib.nn.InstanceNorm1d(3))
        return net.load_state_dict({"0." + k: lib.ones(3) for k in keys}, strict=strict)
    _raises_like_torch(lambda: run(cgrad), lambda: run(torch))


@pytest.mark.parametrize("call", ["F.interpolate(lib.ones(1, 1, 4), size=2.5)",
                                  "F.interpolate(lib.ones(1, 1, 4, 4), size=2.0, mode='bilinear')"])
def test_interpolate_refuses_a_float_size_as_torch(call):
    """a float size is a TypeError (it was truncated); PyTorch's message is its kernel's
    argument parser's, so only the class is compared"""
    c, t = _both(call)
    with pytest.raises(TypeError):
        t()
    with pytest.raises(TypeError, match="size"):
        c()
