"""PyTorch 2.13's F.linear_cross_entropy / nn.LinearCrossEntropyLoss / LinearCrossEntropyOptions
and the ATen-level functional aliases (torch.convolution, native_dropout, native_group_norm,
native_channel_shuffle, embedding_renorm_, rnn_tanh / rnn_relu / lstm / gru, grid_sampler,
affine_grid_generator), autograd.is_tensor_like and nn.utils.convert_conv*_weight_memory_format,
against torch: values, gradients on both backends, errors."""
import dataclasses
import warnings

import numpy as np
import pytest

import cgrad
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, _cg, _raises_like_torch, _torch_dtype  # noqa: E402

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _close(c, t, dtype=np.float64):
    assert c is not None and t is not None
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def _randn(*shape, dtype=np.float64, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=_torch_dtype(dtype)).requires_grad_(
        requires_grad)


# ---- linear_cross_entropy ----------------------------------------------------------------------
def _lce_case(batch, num_classes, out_features, probabilities, dtype, bias, ignored=-100):
    """(input, linear_weight, target, linear_bias) torch tensors for one call; one class
    index is the ignored one"""
    in_features = 5
    x = _randn(*batch, in_features, dtype=dtype, seed=1)
    w = _randn(num_classes, *out_features, in_features, dtype=dtype, seed=2)
    b = _randn(num_classes, *out_features, dtype=dtype, seed=3) if bias else None
    g = torch.Generator().manual_seed(4)
    if probabilities:
        t = torch.randn(*batch, num_classes, *out_features, generator=g,
                        dtype=_torch_dtype(dtype)).softmax(len(batch))
    else:
        t = torch.randint(0, num_classes, (*batch, *out_features), generator=g)
        if t.numel() > 1:
            t.view(-1)[1] = ignored
    return x, w, t, b


LCE_CASES = [((3,), 4, (), False), ((), 4, (), False), ((3,), 4, (2, 3), False),
             ((3,), 4, (), True), ((), 4, (), True), ((3,), 4, (2,), True)]


LCE_KWARGS = [{}, dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.2),
              dict(weight=True), dict(bias=True), dict(ignore_index=1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch,num_classes,out_features,probabilities,kwargs",
                         [(*case, kw) for case in LCE_CASES for kw in LCE_KWARGS
                          if not (case[3] and "ignore_index" in kw)])   # (refused: see errors)
def test_linear_cross_entropy_matches_torch(backend, dtype, batch, num_classes, out_features,
                                            probabilities, kwargs):
    kwargs = dict(kwargs)
    bias = kwargs.pop("bias", False)
    tx, tw, tt, tb = _lce_case(batch, num_classes, out_features, probabilities, dtype, bias,
                               kwargs.get("ignore_index", -100))
    if kwargs.get("weight"):
        kwargs["weight"] = torch.rand(num_classes, dtype=_torch_dtype(dtype),
                                      generator=torch.Generator().manual_seed(5)) + 0.5
    ckw = {k: (_cg(v) if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
    cx, cw, ct = _cg(tx), _cg(tw), _cg(tt)
    cb = None if tb is None else _cg(tb)
    t_loss = torch.nn.functional.linear_cross_entropy(tx, tw, tt, linear_bias=tb, **kwargs)
    c_loss = F.linear_cross_entropy(cx, cw, ct, linear_bias=cb, **ckw)
    _close(c_loss, t_loss, dtype)
    g = torch.rand(t_loss.shape, dtype=t_loss.dtype, generator=torch.Generator().manual_seed(6))
    t_loss.backward(g)
    c_loss.backward(_cg(g))
    for c, t in ((cx, tx), (cw, tw), (cb, tb)):
        if t is not None:
            _close(c.grad, t.grad, dtype)


@pytest.mark.parametrize("options", [dict(), dict(batch_chunk_size=2),
                                     dict(chunking_method="aspect_ratio:2"),
                                     dict(acc_policy="accurate", allow_retain_graph=True)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_options_give_torch_chunked_values(backend, options, reduction):
    tx, tw, tt, tb = _lce_case((7,), 11, (), False, np.float64, True)
    kw = dict(linear_bias=tb, reduction=reduction, weight=torch.linspace(0.5, 2, 11,
                                                                          dtype=torch.float64))
    t_loss = torch.nn.functional.linear_cross_entropy(
        tx, tw, tt, options=torch.nn.LinearCrossEntropyOptions(**options), **kw)
    cx, cw, cb = _cg(tx), _cg(tw), _cg(tb)
    c_loss = F.linear_cross_entropy(
        cx, cw, _cg(tt), linear_bias=cb, reduction=reduction, weight=_cg(kw["weight"]),
        options=cgrad.nn.LinearCrossEntropyOptions(**options))
    _close(c_loss, t_loss)
    t_loss.sum().backward()
    c_loss.sum().backward()
    for c, t in ((cx, tx), (cw, tw), (cb, tb)):
        _close(c.grad, t.grad)


def test_linear_cross_entropy_options_warn_where_torch_ignores_them():
    tx, tw, tt, _ = _lce_case((3,), 4, (2,), False, np.float64, False)
    t_opt, c_opt = torch.nn.LinearCrossEntropyOptions(), cgrad.nn.LinearCrossEntropyOptions()
    with pytest.warns(UserWarning) as t_rec:
        torch.nn.functional.linear_cross_entropy(tx, tw, tt, options=t_opt)
    with pytest.warns(UserWarning) as c_rec:
        F.linear_cross_entropy(_cg(tx), _cg(tw), _cg(tt), options=c_opt)
    assert str(c_rec[0].message) == str(t_rec[0].message).replace("torch.", "cgrad.")
    assert c_rec[0].filename == __file__


def test_linear_cross_entropy_options_checks():
    for kw in (dict(acc_policy="fast"), dict(chunking_method="aspect"),
               dict(chunking_method="aspect_ratio:0"), dict(batch_chunk_size=0),
               dict(batch_chunk_size=2.0)):
        _raises_like_torch(lambda: cgrad.nn.LinearCrossEntropyOptions(**kw),
                           lambda: torch.nn.LinearCrossEntropyOptions(**kw))
    with pytest.raises(ValueError, match="acc_dtype must be one of"):
        cgrad.nn.LinearCrossEntropyOptions(acc_dtype=cgrad.int64)
    tx, tw, tt, _ = _lce_case((7,), 11, (), False, np.float32, False)
    for kw in (dict(batch_chunk_size=3, chunking_method="aspect_ratio"),
               dict(acc_dtype=torch.float64)):
        ckw = {k: (cgrad.float64 if v is torch.float64 else v) for k, v in kw.items()}
        _raises_like_torch(
            lambda: F.linear_cross_entropy(_cg(tx), _cg(tw), _cg(tt),
                                           options=cgrad.nn.LinearCrossEntropyOptions(**ckw)),
            lambda: torch.nn.functional.linear_cross_entropy(
                tx, tw, tt, options=torch.nn.LinearCrossEntropyOptions(**kw)))
    t_opt, c_opt = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=3), \
        cgrad.nn.LinearCrossEntropyOptions(batch_chunk_size=3)
    assert repr(c_opt) == repr(t_opt)
    assert repr(c_opt._adjust(7, 5, 11, cgrad.float32)) == repr(
        t_opt._adjust(7, 5, 11, torch.float32)).replace("torch.", "cgrad.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c_opt.batch_chunk_size = 4


@pytest.mark.parametrize("case", range(9))
def test_linear_cross_entropy_errors_match_torch(case):
    x, w, t = _randn(3, 5), _randn(4, 5), torch.tensor([0, 1, 2])
    calls = [lambda m, a, b, c, **k: m(a[0, 0], b, c, **k),
             lambda m, a, b, c, **k: m(a[None], b, c, **k),
             lambda m, a, b, c, **k: m(a, b[0], c, **k),
             lambda m, a, b, c, **k: m(a[:, :4], b, c, **k),
             lambda m, a, b, c, **k: m(a, b, c, linear_bias=b[:, 0], **k),
             lambda m, a, b, c, **k: m(a[0], b[:, None], c[0], **k),
             lambda m, a, b, c, **k: m(a, b, b[:3].softmax(1), ignore_index=0, **k),
             lambda m, a, b, c, **k: m(a, b, c, reduction="avg", **k),
             lambda m, a, b, c, **k: m(a, b, c, label_smoothing=1.5, **k)]
    ct = torch.nn.functional.linear_cross_entropy
    if case == 4:
        b_ok = _randn(4)
        _raises_like_torch(lambda: F.linear_cross_entropy(_cg(x), _cg(w), _cg(t),
                                                          linear_bias=_cg(b_ok[:3])),
                           lambda: ct(x, w, t, linear_bias=b_ok[:3]))
        return
    _raises_like_torch(lambda: calls[case](F.linear_cross_entropy, _cg(x), _cg(w), _cg(t)),
                       lambda: calls[case](ct, x, w, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(), dict(out_features=(2, 3), bias=True),
                                    dict(weight=True, reduction="sum", ignore_index=2,
                                         label_smoothing=0.1)])
def test_linear_cross_entropy_loss_module_matches_torch(backend, dtype, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("weight"):
        kwargs["weight"] = torch.linspace(0.5, 2, 4, dtype=_torch_dtype(dtype))
    t_mod = torch.nn.LinearCrossEntropyLoss(5, 4, dtype=_torch_dtype(dtype), **kwargs)
    c_mod = cgrad.nn.LinearCrossEntropyLoss(
        5, 4, dtype=cgrad.float32 if dtype == np.float32 else cgrad.float64,
        **{k: (_cg(v) if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()})
    assert repr(c_mod) == repr(t_mod)
    t_state = t_mod.state_dict()
    assert list(c_mod.state_dict()) == list(t_state)
    assert [n for n, _ in c_mod.named_parameters()] == [n for n, _ in t_mod.named_parameters()]
    c_mod.load_state_dict({k: _cg(v) for k, v in t_state.items()})
    out = kwargs.get("out_features", ())
    tx = _randn(3, 5, dtype=dtype)
    tt = torch.randint(0, 4, (3, *out), generator=torch.Generator().manual_seed(3))
    cx = _cg(tx)
    t_loss, c_loss = t_mod(tx, tt), c_mod(cx, _cg(tt))
    _close(c_loss, t_loss, dtype)
    t_loss.backward()
    c_loss.backward()
    _close(cx.grad, tx.grad, dtype)
    for (name, c), (_, t) in zip(c_mod.named_parameters(), t_mod.named_parameters()):
        _close(c.grad, t.grad, dtype)


def test_linear_cross_entropy_loss_module_checks():
    for kw in (dict(weight=torch.ones(3)), dict(label_smoothing=-0.1)):
        ckw = {k: (_cg(v) if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
        _raises_like_torch(lambda: cgrad.nn.LinearCrossEntropyLoss(5, 4, **ckw),
                           lambda: torch.nn.LinearCrossEntropyLoss(5, 4, **kw))
