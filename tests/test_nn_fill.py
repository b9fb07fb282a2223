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


# ---- torch.convolution -------------------------------------------------------------------------
CONV_CASES = [  # (input shape, weight shape, bias, stride, padding, dilation, transposed,
    #              output_padding, groups)
    ((2, 3, 7), (4, 3, 3), True, [2], [1], [1], False, [0], 1),
    ((2, 4, 6, 5), (4, 2, 3, 2), False, [1, 2], [1, 0], [2, 1], False, [0, 0], 2),
    ((2, 4, 6, 5), (4, 2, 3, 2), False, [1, 2], [1, 0], [2, 1], False, [1], 2),
    ((1, 2, 4, 5, 3), (3, 2, 2, 2, 2), True, [1], [1], [1], False, [0], 1),
    ((2, 4, 5), (4, 3, 3), True, [2], [1], [1], True, [1], 1),
    ((2, 4, 4, 3), (4, 1, 3, 2), False, [2, 1], [1, 0], [1, 2], True, [1, 0], 2),
    ((1, 2, 3, 3, 2), (2, 2, 2, 2, 2), True, [2], [0], [1], True, [1], 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution_matches_torch(backend, dtype, case):
    x_shape, w_shape, bias, *args = case
    tx, tw = _randn(*x_shape, dtype=dtype, seed=1), _randn(*w_shape, dtype=dtype, seed=2)
    out_channels = w_shape[1] * args[-1] if args[3] else w_shape[0]
    tb = _randn(out_channels, dtype=dtype, seed=3) if bias else None
    cx, cw, cb = _cg(tx), _cg(tw), None if tb is None else _cg(tb)
    t_out, c_out = torch.convolution(tx, tw, tb, *args), cgrad.convolution(cx, cw, cb, *args)
    _close(c_out, t_out, dtype)
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "ConvolutionBackward0"
    g = torch.rand(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(4))
    if not args[3] and any(args[4]):      # an output_padding the backward refuses
        _raises_like_torch(lambda: c_out.backward(_cg(g)), lambda: t_out.backward(g))
        return
    t_out.backward(g)
    c_out.backward(_cg(g))
    for c, t in ((cx, tx), (cw, tw), (cb, tb)):
        if t is not None:
            _close(c.grad, t.grad, dtype)


CONV_ERRORS = [  # arguments after (input, weight, bias)
    (1, [0, 0], [1, 1], False, [0, 0], 1), ([1, 1.0], [0, 0], [1, 1], False, [0, 0], 1),
    ([1, 1, 1], [0, 0], [1, 1], False, [0, 0], 1), ([1, 1], "same", [1, 1], False, [0, 0], 1),
    ([1, 1], [-1, 0], [1, 1], False, [0, 0], 1), ([1, 1], [0, 0], [1, 1], False, [-1, 0], 1),
    ([1, 1], [0, 0], [1, 1], False, [], 1), ([1, 1], [0, 0], [1, 1], 0, [0, 0], 1),
    ([1, 1], [0, 0], [1, 1], False, [0, 0], 1.0), ([1, 1], [0, 0], [1, 1], False, [0, 0], 0),
    ([1, 1], [0, 0], [1, 1], True, [0, 0], 1), (None, [0, 0], [1, 1], False, [0, 0], 1)]


@pytest.mark.parametrize("args", CONV_ERRORS)
def test_convolution_errors_match_torch(args):
    tx, tw = _randn(2, 3, 5, 5), _randn(4, 3, 3, 3)
    _raises_like_torch(lambda: cgrad.convolution(_cg(tx), _cg(tw), None, *args),
                       lambda: torch.convolution(tx, tw, None, *args))


def test_convolution_dims_errors_match_torch():
    tx, tw = _randn(2, 3, 5, 5), _randn(4, 3, 3, 3)
    args = ([1], [0], [1], False, [0], 1)
    for x, w in ((tx[0], tw), (tx, tw[:, :, 0]), (tx, tw[0, 0]),
                 (_randn(1, 1, 3, 3, 3, 3), _randn(1, 1, 2, 2, 2, 2))):
        _raises_like_torch(lambda: cgrad.convolution(_cg(x), _cg(w), None, *args),
                           lambda: torch.convolution(x, w, None, *args))
    # an output_padding it does not use: ignored
    _close(cgrad.convolution(_cg(tx), _cg(tw), None, [1], [0], [1], False, [1, 1], 1),
           torch.convolution(tx, tw, None, [1], [0], [1], False, [1, 1], 1))


# ---- native_dropout ----------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("train", [True, False, None])
def test_native_dropout_matches_torch(backend, p, train):
    tx = _randn(40, 30)
    cx = _cg(tx)
    t_out, t_mask = torch.native_dropout(tx, p, train)
    c_out, c_mask = cgrad.native_dropout(cx, p, train)
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "NativeDropoutBackward0"
    assert c_mask.dtype == cgrad.bool and tuple(c_mask.shape) == tuple(t_mask.shape)
    training = train is None or train
    scale = (0.0 if p == 1 else 1 / (1 - p)) if training else 1.0
    mask = c_mask.numpy()
    if not training or p == 0:            # no randomness: torch's mask and output exactly
        assert np.array_equal(mask, t_mask.numpy())
        _close(c_out, t_out)
    elif p == 1:
        assert not mask.any() and not t_mask.numpy().any()
    else:                                 # cgrad's own random draws: the mask's rate
        assert abs(mask.mean() - (1 - p)) < 0.06
    np.testing.assert_allclose(c_out.detach().numpy(), tx.detach().numpy() * mask * scale,
                               rtol=1e-12)
    g = torch.rand(40, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    c_out.backward(_cg(g))
    t_out.backward(g)
    np.testing.assert_allclose(cx.grad.numpy(), g.numpy() * mask * scale, rtol=1e-12)
    if not training or p in (0, 1):
        _close(cx.grad, tx.grad)


def test_native_dropout_errors_and_dtypes_match_torch():
    tx = _randn(3, 4, requires_grad=False)
    for p, train in ((1.5, True), (-0.5, True)):
        _raises_like_torch(lambda: cgrad.native_dropout(_cg(tx), p, train),
                           lambda: torch.native_dropout(tx, p, train))
    c_out, _ = cgrad.native_dropout(_cg(tx), 1.5, False)             # unchecked out of training
    _close(c_out, tx)
    tl = (tx * 3).long()
    _raises_like_torch(lambda: cgrad.native_dropout(_cg(tl), 0.5, True),
                       lambda: torch.native_dropout(tl, 0.5, True))
    c_out, c_mask = cgrad.native_dropout(_cg(tl), 0.5, False)
    assert c_out.dtype == cgrad.int64 and np.array_equal(c_out.numpy(), tl.numpy())


# ---- native_group_norm -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,N,C,HxW,group,affine", [
    ((2, 6, 5), 2, 6, 5, 3, True), ((2, 6, 5, 1), 2, 6, 5, 3, False), ((2, 30), 2, 6, 5, 3, True),
    ((60,), 2, 6, 5, 2, True), ((12, 5), 1, 12, 5, 4, False), ((3, 4), 3, 4, 1, 2, True)])
def test_native_group_norm_matches_torch(backend, dtype, shape, N, C, HxW, group, affine):
    tx = _randn(*shape, dtype=dtype)
    tw, tb = (_randn(C, dtype=dtype, seed=s) for s in (2, 3)) if affine else (None, None)
    cx, cw, cb = _cg(tx), *((None, None) if tw is None else (_cg(tw), _cg(tb)))
    t_res = torch.native_group_norm(tx, tw, tb, N, C, HxW, group, 1e-5)
    c_res = cgrad.native_group_norm(cx, cw, cb, N, C, HxW, group, 1e-5)
    for c, t in zip(c_res, t_res):
        _close(c, t, dtype)
    assert c_res[0].grad_fn.name() == "NativeGroupNormBackward0"
    g = torch.rand(shape, dtype=t_res[0].dtype, generator=torch.Generator().manual_seed(4))
    t_res[0].backward(g)
    c_res[0].backward(_cg(g))
    for c, t in ((cx, tx), (cw, tw), (cb, tb)):
        if t is not None:
            _close(c.grad, t.grad, dtype)


def test_native_group_norm_errors_match_torch():
    tx, tw, tb = _randn(2, 6, 5), _randn(6), _randn(6)
    for x, w, b, args in ((tx, tw, tb, (2, 6, 4, 3)), (tx, tw, tb, (3, 6, 5, 3)),
                          (tx, tw, tb, (2, 6, 5, 4)), (tx, tw, tb, (1, 12, 5, 3)),
                          (tx, tw, tb, (2, 6, 5, 0)), (tx, tw[:4], tb, (2, 6, 5, 3)),
                          (tx, tw, tb[:4], (2, 6, 5, 3)), (tx, None, tb[:4], (2, 6, 5, 3))):
        _raises_like_torch(
            lambda: cgrad.native_group_norm(_cg(x), None if w is None else _cg(w), _cg(b),
                                            *args, 1e-5),
            lambda: torch.native_group_norm(x, w, b, *args, 1e-5))
    _raises_like_torch(   # not contiguous
        lambda: cgrad.native_group_norm(_cg(tx)[:, :, ::2], _cg(tw), _cg(tb), 2, 6, 3, 3, 1e-5),
        lambda: torch.native_group_norm(tx[:, :, ::2], tw, tb, 2, 6, 3, 3, 1e-5))
    # contiguous as channels_last, but its strides do not suggest it (PyTorch's ambiguous
    # trailing size-1 dim): refused, as PyTorch
    cx = _cg(tx).detach().permute(0, 2, 1).contiguous().permute(0, 2, 1)[..., None]
    tcx = tx.detach().permute(0, 2, 1).contiguous().permute(0, 2, 1)[..., None]
    assert cx.is_contiguous(memory_format=cgrad.channels_last)
    _raises_like_torch(lambda: cgrad.native_group_norm(cx, None, None, 2, 6, 5, 3, 1e-5),
                       lambda: torch.native_group_norm(tcx, None, None, 2, 6, 5, 3, 1e-5))
    # a channels_last input is taken as it is laid out
    t4 = _randn(2, 6, 5, 3)
    c4 = _cg(t4).detach().contiguous(memory_format=cgrad.channels_last)
    _close(cgrad.native_group_norm(c4, None, None, 2, 6, 15, 3, 1e-5)[0],
           torch.native_group_norm(t4.detach().contiguous(memory_format=torch.channels_last),
                                   None, None, 2, 6, 15, 3, 1e-5)[0])


def test_native_norm_raises_as_torch_for_dense_tensors():
    tx = _randn(2, 3)
    for args in ((), (1,), (2, [1], False, None)):
        with pytest.raises(NotImplementedError) as t_err:
            torch.native_norm(tx, *args)
        with pytest.raises(NotImplementedError) as c_err:
            cgrad.native_norm(_cg(tx), *args)
        assert str(c_err.value).split(" backend.")[0] == str(t_err.value).split(" backend.")[0]


# ---- native_channel_shuffle --------------------------------------------------------------------
def test_native_channel_shuffle_matches_torch(backend):
    tx = _randn(2, 6, 5)
    cx = _cg(tx)
    for fn in (cgrad.native_channel_shuffle, F.native_channel_shuffle):
        c_out = fn(cx, 3)
        t_out = torch.native_channel_shuffle(tx, 3)
        _close(c_out, t_out)
        assert c_out.is_contiguous() and c_out._base is None
        assert c_out.grad_fn.name() == "NotImplemented"
        _raises_like_torch(lambda: c_out.sum().backward(), lambda: t_out.sum().backward())
    with cgrad.no_grad():
        assert cgrad.native_channel_shuffle(cx, 2).grad_fn is None
    for x, groups in ((tx, 4), (tx, 0), (tx[0], 3), (tx[0, 0], 3)):
        _raises_like_torch(lambda: cgrad.native_channel_shuffle(_cg(x), groups),
                           lambda: torch.native_channel_shuffle(x, groups))


# ---- embedding_renorm_ -------------------------------------------------------------------------
@pytest.mark.parametrize("indices", [[0, 2, 2], [[1, 4], [-1, 0]], [3]])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3])
def test_embedding_renorm_matches_torch(backend, indices, norm_type):
    tw = _randn(5, 3, requires_grad=False) * 3
    cw = _cg(tw)
    t_idx = torch.tensor(indices)
    assert cgrad.embedding_renorm_(cw, _cg(t_idx), 1.5, norm_type) is cw
    assert torch.embedding_renorm_(tw, t_idx, 1.5, norm_type) is tw
    _close(cw, tw)
    _close(cgrad.embedding_renorm_(cw, _cg(t_idx.int()), 1.0, 2), torch.embedding_renorm_(
        tw, t_idx.int(), 1.0, 2))


def test_embedding_renorm_errors_match_torch():
    tw, t_idx = _randn(5, 3, requires_grad=False), torch.tensor([0, 2])
    for w, idx in ((tw, t_idx.float()), (tw.long(), t_idx), (tw, torch.tensor([7])),
                   (tw, torch.tensor([-6])), (tw[0], t_idx),
                   (tw.clone().requires_grad_(), t_idx)):
        _raises_like_torch(lambda: cgrad.embedding_renorm_(_cg(w), _cg(idx), 1.0, 2.0),
                           lambda: torch.embedding_renorm_(w, idx, 1.0, 2.0))
    # a tensor in a graph: renormed, and a backward through it raises PyTorch's error
    tl = _randn(5, 3)
    cl = _cg(tl)
    t_out, c_out = torch.embedding_renorm_(tl * 3, t_idx, 1.0, 2.0), \
        cgrad.embedding_renorm_(cl * 3, _cg(t_idx), 1.0, 2.0)
    _close(c_out, t_out)
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "EmbeddingRenormBackward0"
    _raises_like_torch(lambda: c_out.sum().backward(), lambda: t_out.sum().backward())


# ---- grid_sampler, affine_grid_generator -------------------------------------------------------
GRID_CASES = [(name, k, mode, pad, ac) for name, ks in (("grid_sampler", (2, 3)),
                                                        ("grid_sampler_2d", (2,)),
                                                        ("grid_sampler_3d", (3,)))
              for k in ks for mode in range(3 if k == 2 else 2) for pad in range(3)
              for ac in (False, True)]


@pytest.mark.parametrize("name,k,mode,padding_mode,align_corners", GRID_CASES)
def test_grid_sampler_matches_torch(backend, name, k, mode, padding_mode, align_corners):
    tx = _randn(2, 3, *(4, 5, 3)[:k])
    g = torch.Generator().manual_seed(2)
    tg = (torch.rand(2, *(3, 2, 4)[:k], k, generator=g, dtype=torch.float64) * 2.6 - 1.3
          ).requires_grad_()
    cx, cg = _cg(tx), _cg(tg)
    t_out = getattr(torch, name)(tx, tg, mode, padding_mode, align_corners)
    c_out = getattr(cgrad, name)(cx, cg, mode, padding_mode, align_corners)
    _close(c_out, t_out)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()
    w = torch.rand(t_out.shape, dtype=t_out.dtype, generator=g)
    t_out.backward(w)
    c_out.backward(_cg(w))
    _close(cx.grad, tx.grad)
    _close(cg.grad, tg.grad)


def test_grid_sampler_errors_match_torch():
    x4, g4 = _randn(2, 3, 4, 5), _randn(2, 3, 3, 2)
    x5, g5 = _randn(2, 3, 4, 5, 6), _randn(2, 3, 3, 3, 3)
    for name, x, g, args in (("grid_sampler", x4, g4, ("bilinear", 0, False)),
                             ("grid_sampler", x4, g4, (0, 0, None)),
                             ("grid_sampler", x4, g4, (0, 0.0, False)),
                             ("grid_sampler_3d", x4, g4, (1, 1, False)),
                             ("grid_sampler_3d", x5, g5, (2, 1, False)),
                             ("grid_sampler_2d", x5, g5, (1, 1, False)),
                             ("grid_sampler", x4[0], g4[0], (0, 0, False)),
                             ("grid_sampler", x4, g4.float(), (0, 0, False))):
        _raises_like_torch(lambda: getattr(cgrad, name)(_cg(x), _cg(g), *args),
                           lambda: getattr(torch, name)(x, g, *args))
    with pytest.raises(RuntimeError, match="expected interpolation_mode in 0"):
        cgrad.grid_sampler(_cg(x4), _cg(g4), 3, 0, False)


@pytest.mark.parametrize("size", [[2, 3, 4, 5], (2, 1, 3, 2, 4), [2, 3, 1, 5]])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_generator_matches_torch(backend, size, align_corners):
    k = len(size) - 2
    tt = _randn(2, k, k + 1)
    ct = _cg(tt)
    t_out = torch.affine_grid_generator(tt, size, align_corners)
    c_out = cgrad.affine_grid_generator(ct, size, align_corners)
    _close(c_out, t_out)
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "AffineGridGeneratorBackward0"
    w = torch.rand(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(1))
    t_out.backward(w)
    c_out.backward(_cg(w))
    _close(ct.grad, tt.grad)


def test_affine_grid_generator_errors_match_torch():
    th = _randn(2, 2, 3)
    for t, size, ac in ((th, [2, 3, 4, 5, 6], False), (th, [3, 3, 4, 5], False),
                        (th, [2, 3, 4], False), (th[0], [2, 3, 4, 5], False),
                        (_randn(2, 3, 3), [2, 3, 4, 5], False),
                        (_randn(2, 2, 4), [2, 3, 4, 5], False), (th, [2, 3, 4, 5], None),
                        (th, [2, 3, 4.0, 5], False), (th, 4, False)):
        _raises_like_torch(lambda: cgrad.affine_grid_generator(_cg(t), size, ac),
                           lambda: torch.affine_grid_generator(t, size, ac))


# ---- lstm, gru, rnn_tanh, rnn_relu -------------------------------------------------------------
RNN_CASES = [("lstm", dict()), ("lstm", dict(num_layers=2, bidirectional=True)),
             ("lstm", dict(proj_size=2)), ("lstm", dict(bias=False, batch_first=True)),
             ("gru", dict(num_layers=2)), ("gru", dict(bidirectional=True, batch_first=True)),
             ("rnn_tanh", dict(bias=False)), ("rnn_relu", dict(num_layers=2,
                                                               bidirectional=True))]


def _rnn_modules(name, kwargs, dtype):
    cls = {"lstm": "LSTM", "gru": "GRU"}.get(name, "RNN")
    extra = {"nonlinearity": name[4:]} if cls == "RNN" else {}
    t_mod = getattr(torch.nn, cls)(3, 4, **extra, **kwargs).to(_torch_dtype(dtype))
    return t_mod, [_cg(p) for p in t_mod._flat_weights]


@pytest.mark.filterwarnings("ignore:LSTM with projections")     # (torch's, about oneDNN)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kwargs", RNN_CASES)
def test_sequence_functions_match_torch(backend, dtype, name, kwargs):
    torch.manual_seed(0)
    t_mod, c_params = _rnn_modules(name, kwargs, dtype)
    layers = t_mod.num_layers * (2 if t_mod.bidirectional else 1)
    batch_first = kwargs.get("batch_first", False)
    tx = _randn(*((2, 5) if batch_first else (5, 2)), 3, dtype=dtype)
    h_size = t_mod.proj_size or 4
    hx = [_randn(layers, 2, h_size, dtype=dtype, seed=2)]
    if name == "lstm":
        hx.append(_randn(layers, 2, 4, dtype=dtype, seed=3))
    args = (t_mod.bias, t_mod.num_layers, 0.0, False, t_mod.bidirectional, batch_first)
    t_hx = tuple(hx) if name == "lstm" else hx[0]
    c_hx = tuple(_cg(h) for h in hx) if name == "lstm" else _cg(hx[0])
    t_res = getattr(torch, name)(tx, t_hx, t_mod._flat_weights, *args)
    cx = _cg(tx)
    c_res = getattr(cgrad, name)(cx, c_hx, c_params, *args)
    assert len(c_res) == len(t_res) == (3 if name == "lstm" else 2)
    for c, t in zip(c_res, t_res):
        _close(c, t, dtype)
    sum(t.sum() * (i + 1) for i, t in enumerate(t_res)).backward()
    sum(c.sum() * (i + 1) for i, c in enumerate(c_res)).backward()
    _close(cx.grad, tx.grad, dtype)
    for c, t in zip(c_params, t_mod._flat_weights):
        _close(c.grad, t.grad, dtype)
    for c, t in zip(c_hx if name == "lstm" else [c_hx], hx):
        _close(c.grad, t.grad, dtype)


@pytest.mark.parametrize("name,kwargs", [("lstm", dict(num_layers=2, bidirectional=True)),
                                         ("gru", dict()), ("rnn_tanh", dict(num_layers=2))])
def test_sequence_functions_on_packed_data_match_torch(backend, name, kwargs):
    torch.manual_seed(0)
    t_mod, c_params = _rnn_modules(name, kwargs, np.float64)
    layers = t_mod.num_layers * (2 if t_mod.bidirectional else 1)
    packed = torch.nn.utils.rnn.pack_sequence([_randn(n, 3, seed=n) for n in (5, 3, 2)])
    hx = [_randn(layers, 3, 4, seed=7) for _ in range(2 if name == "lstm" else 1)]
    args = (t_mod.bias, t_mod.num_layers, 0.0, False, t_mod.bidirectional)
    t_res = getattr(torch, name)(packed.data, packed.batch_sizes,
                                 tuple(hx) if name == "lstm" else hx[0],
                                 t_mod._flat_weights, *args)
    c_hx = [_cg(h) for h in hx]
    c_data = _cg(packed.data)
    c_res = getattr(cgrad, name)(c_data, _cg(packed.batch_sizes),
                                 tuple(c_hx) if name == "lstm" else c_hx[0], c_params, *args)
    for c, t in zip(c_res, t_res):
        _close(c, t)
    sum(t.sum() * (i + 1) for i, t in enumerate(t_res)).backward()
    sum(c.sum() * (i + 1) for i, c in enumerate(c_res)).backward()
    for c, t in zip(c_params, t_mod._flat_weights):
        _close(c.grad, t.grad)
    for c, t in zip(c_hx, hx):
        _close(c.grad, t.grad)


def test_sequence_functions_dropout_and_errors():
    torch.manual_seed(0)
    t_mod, c_params = _rnn_modules("gru", dict(num_layers=2), np.float64)
    tx, th = _randn(5, 2, 3, requires_grad=False), _randn(2, 2, 4, requires_grad=False)
    cx, ch = _cg(tx), _cg(th)
    _raises_like_torch(lambda: cgrad.gru(cx, ch, c_params, True, 2, 1.5, True, False, False),
                       lambda: torch.gru(tx, th, t_mod._flat_weights, True, 2, 1.5, True, False,
                                         False))
    # dropout between the layers in training: a different output, cgrad's own draws
    cgrad.manual_seed(0)
    train = cgrad.gru(cx, ch, c_params, True, 2, 0.5, True, False, False)[0]
    evaluated = cgrad.gru(cx, ch, c_params, True, 2, 0.5, False, False, False)[0]
    _close(evaluated, torch.gru(tx, th, t_mod._flat_weights, True, 2, 0.5, False, False,
                                False)[0])
    assert not np.allclose(train.detach().numpy(), evaluated.detach().numpy())
    lstm, lstm_params = _rnn_modules("lstm", dict(), np.float64)
    h1 = _randn(1, 2, 4, requires_grad=False)
    for call in (lambda m, x, h, p: m.lstm(x, (h,), p, True, 1, 0.0, False, False, False),
                 lambda m, x, h, p: m.lstm(x, (h, h), p[:-1], True, 1, 0.0, False, False,
                                           False)):
        _raises_like_torch(lambda: call(cgrad, _cg(tx), _cg(h1), lstm_params),
                           lambda: call(torch, tx, h1, lstm._flat_weights))
    with pytest.raises(IndexError, match="Dimension out of range"):    # (PyTorch's, on
        cgrad.lstm(_cg(tx)[:, 0], (_cg(h1), _cg(h1)), lstm_params, True, 1, 0.0, False,
                   False, False)                                     # its oneDNN path)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got"):
        cgrad.lstm(_cg(tx), (_cg(h1[:, :1]), _cg(h1)), lstm_params, True, 1, 0.0, False,
                   False, False)


# ---- is_tensor_like, convert_conv*_weight_memory_format ----------------------------------------
def test_is_tensor_like():
    class Sub(cgrad.Tensor):
        pass

    class TensorLike:
        @classmethod
        def __torch_function__(cls, func, types, args, kwargs):
            return -1

    for obj, expected in ((cgrad.ones(1), True), (6, False), (None, False),
                          (TensorLike(), True), (np.ones(1), False)):
        assert cgrad.autograd.is_tensor_like(obj) is expected
    assert cgrad.autograd.is_tensor_like(cgrad.ones(2).as_subclass(Sub))


@pytest.mark.parametrize("dims", [2, 3])
def test_convert_conv_weight_memory_format_matches_torch(backend, dims):
    fmt = {2: "channels_last", 3: "channels_last_3d"}[dims]
    convert = f"convert_conv{dims}d_weight_memory_format"

    def model(nn):
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ConvTranspose2d(4, 2, 3)),
                             nn.Conv3d(2, 2, 2), nn.ConvTranspose3d(2, 1, 1), nn.Linear(2, 2))

    t_model, c_model = model(torch.nn), model(cgrad.nn)
    c_model.load_state_dict({k: _cg(v) for k, v in t_model.state_dict().items()})
    assert getattr(cgrad.nn.utils, convert)(c_model, getattr(cgrad, fmt)) is c_model
    getattr(torch.nn.utils, convert)(t_model, getattr(torch, fmt))
    for (name, c), (_, t) in zip(c_model.named_parameters(), t_model.named_parameters()):
        assert c.stride() == t.stride(), name
        assert isinstance(c, cgrad.nn.Parameter)
        _close(c, t)
    x = _randn(1, 3, 6, 6, dtype=np.float32, requires_grad=False)
    _close(c_model[0](_cg(x)), t_model[0](x), np.float32)
    _raises_like_torch(
        lambda: cgrad.nn.utils.convert_conv2d_weight_memory_format(cgrad.nn.Conv2d(1, 1, 1),
                                                                   cgrad.channels_last_3d),
        lambda: torch.nn.utils.convert_conv2d_weight_memory_format(torch.nn.Conv2d(1, 1, 1),
                                                                   torch.channels_last_3d))
