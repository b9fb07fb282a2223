"""Attention and the Transformer stack against PyTorch: F.scaled_dot_product_attention,
nn.MultiheadAttention, the encoder and decoder layers and stacks and nn.Transformer. Parameters
are copied from PyTorch's state dict; outputs, attention weights and the gradients of inputs,
masks and parameters are compared for every mask kind, layout and option, then a small
language model trains three Adam steps in both libraries."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F
from test_nn_layers import DTYPES, _cg, _torch_dtype, _twin

torch = pytest.importorskip("torch")

# attention sums over keys and heads in other orders than PyTorch's kernels
TOL = {np.float32: dict(rtol=1e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _randn(*shape, dtype=np.float64, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=_torch_dtype(dtype)).requires_grad_(
        requires_grad)


def _close(c, t, dtype):
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), equal_nan=True,
                               **TOL[dtype])


def _compare(c_outs, t_outs, c_leaves, t_leaves, dtype, modules=None):
    """each output (None where PyTorch's is), then the gradients of the leaves and of the
    modules' parameters after the backward of one random weighting of all outputs"""
    total = []
    for i, (c, t) in enumerate(zip(c_outs, t_outs)):
        if t is None:
            assert c is None
            continue
        _close(c, t, dtype)
        w = _randn(*t.shape, dtype=dtype, seed=100 + i, requires_grad=False)
        total.append(((c * _cg(w)).sum(), (t * w).sum()))
    sum(c for c, _ in total).backward()
    sum(t for _, t in total).backward()
    for c, t in zip(c_leaves, t_leaves):
        if t is not None and t.requires_grad:
            assert (c.grad is None) == (t.grad is None)
            if t.grad is not None:
                _close(c.grad, t.grad, dtype)
    if modules:
        c_mod, t_mod = modules
        for (name, cp), (_, tp) in zip(c_mod.named_parameters(), t_mod.named_parameters()):
            assert (cp.grad is None) == (tp.grad is None), name
            if tp.grad is not None:
                _close(cp.grad, tp.grad, dtype)


def _raises_like_torch(c_call, t_call):
    """c_call raises PyTorch's exception class with PyTorch's message ("torch." as "cgrad.";
    cgrad's message of a failed broadcast goes on to name the two shapes)"""
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(type(t_err.value)) as c_err:
        c_call()
    assert str(c_err.value).startswith(str(t_err.value).replace("torch.", "cgrad."))


def _mask(kind, shape, seed=1):
    """a torch mask of shape: bool (True at random), float (random values, -inf at random), or
    a float one that requires grad"""
    g = torch.Generator().manual_seed(seed)
    hit = torch.rand(shape, generator=g) < 0.3
    if kind == "bool":
        return hit
    values = torch.randn(shape, generator=g, dtype=torch.float64)
    if kind == "float_grad":
        return values.requires_grad_()
    return values.masked_fill(hit, float("-inf"))


# ---- F.scaled_dot_product_attention ---------------------------------------------------------------
SDPA_SHAPES = [((5, 4), (6, 4), (6, 3)),                           # 2-D
               ((2, 5, 4), (2, 6, 4), (2, 6, 3)),                  # 3-D
               ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)),         # 4-D (PyTorch's flash path)
               ((2, 3, 5, 4), (1, 3, 6, 4), (2, 1, 6, 3)),         # batch dims broadcast
               ((2, 1, 2, 5, 4), (2, 1, 2, 6, 4), (2, 1, 2, 6, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SDPA_SHAPES, ids=str)
@pytest.mark.parametrize("mask", [None, "bool", "float", "float_grad", "causal", "scale"])
def test_sdpa_matches_torch(backend, dtype, shapes, mask):
    t_q, t_k, t_v = (_randn(*s, dtype=dtype, seed=i) for i, s in enumerate(shapes))
    t_mask, kwargs = None, {}
    if mask == "causal":
        kwargs = dict(is_causal=True)
    elif mask == "scale":
        kwargs = dict(scale=-0.7)
    elif mask is not None:               # (L, S): broadcast over every batch dim
        t_mask = _mask(mask, (shapes[0][-2], shapes[1][-2]))
        if mask != "bool":
            t_mask = t_mask.detach().to(_torch_dtype(dtype)).requires_grad_(mask == "float_grad")
    c_q, c_k, c_v = _cg(t_q), _cg(t_k), _cg(t_v)
    c_mask = None if t_mask is None else _cg(t_mask)
    t_out = torch.nn.functional.scaled_dot_product_attention(t_q, t_k, t_v, t_mask, **kwargs)
    c_out = F.scaled_dot_product_attention(c_q, c_k, c_v, c_mask, **kwargs)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()
    assert c_out.dtype == (cgrad.float32 if dtype == np.float32 else cgrad.float64)
    _compare([c_out], [t_out], [c_q, c_k, c_v, c_mask], [t_q, t_k, t_v, t_mask], dtype)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_as_torch(backend, kind):
    """a query whose keys are all masked: output 0 and no gradient from it (PyTorch's SDPA),
    the other rows as usual; an L > S causal mask is aligned upper-left"""
    t_q, t_k, t_v = _randn(2, 4, 3), _randn(2, 5, 3, seed=1), _randn(2, 5, 2, seed=2)
    t_mask = torch.tensor([[True, False, True, True, False]]).repeat(4, 1)
    t_mask[2] = False
    if kind == "float":
        t_mask = torch.zeros(4, 5, dtype=torch.float64).masked_fill(~t_mask, float("-inf"))
    c_q, c_k, c_v = _cg(t_q), _cg(t_k), _cg(t_v)
    t_out = torch.nn.functional.scaled_dot_product_attention(t_q, t_k, t_v, t_mask)
    c_out = F.scaled_dot_product_attention(c_q, c_k, c_v, _cg(t_mask))
    assert np.all(c_out.detach().numpy()[:, 2] == 0)
    _compare([c_out], [t_out], [c_q, c_k, c_v], [t_q, t_k, t_v], np.float64)
    assert np.all(c_q.grad.numpy()[:, 2] == 0)
    t_q, t_k, t_v = _randn(1, 6, 3), _randn(1, 4, 3, seed=1), _randn(1, 4, 3, seed=2)
    c_q, c_k, c_v = _cg(t_q), _cg(t_k), _cg(t_v)
    _compare([F.scaled_dot_product_attention(c_q, c_k, c_v, is_causal=True)],
             [torch.nn.functional.scaled_dot_product_attention(t_q, t_k, t_v, is_causal=True)],
             [c_q, c_k, c_v], [t_q, t_k, t_v], np.float64)


def test_sdpa_gqa_matches_torch(backend):
    t_q, t_k, t_v = _randn(2, 4, 3, 5), _randn(2, 2, 6, 5, seed=1), _randn(2, 1, 6, 3, seed=2)
    c_q, c_k, c_v = _cg(t_q), _cg(t_k), _cg(t_v)
    t_out = torch.nn.functional.scaled_dot_product_attention(t_q, t_k, t_v, enable_gqa=True)
    c_out = F.scaled_dot_product_attention(c_q, c_k, c_v, enable_gqa=True)
    _compare([c_out], [t_out], [c_q, c_k, c_v], [t_q, t_k, t_v], np.float64)


def test_sdpa_dropout(backend):
    """with value the identity, the output is the weights themselves: each one dropped (0) or
    scaled by 1 / (1 - p); a seed repeats the draw, p = 1 drops all, and the gradients (and
    second gradients) of a seeded call are those of its finite differences"""
    q, k = cgrad.randn(2, 3, 8, 4), cgrad.randn(2, 3, 8, 4)
    eye = cgrad.eye(8).expand(2, 3, 8, 8)
    weights = F.scaled_dot_product_attention(q, k, eye).numpy()
    cgrad.manual_seed(0)
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.4)
    assert dropped.grad_fn is None and dropped.shape == (2, 3, 8, 8)
    kept = dropped.numpy() != 0
    assert 0.4 < kept.mean() < 0.8
    np.testing.assert_allclose(dropped.numpy()[kept], weights[kept] / 0.6, rtol=1e-6)
    cgrad.manual_seed(0)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, eye, dropout_p=0.4)
                                  .numpy(), dropped.numpy())
    assert not F.scaled_dot_product_attention(q, k, eye, dropout_p=1.0).numpy().any()
    q, k, v = (cgrad.randn(2, 4, 3, dtype=cgrad.float64, requires_grad=True) for _ in range(3))
    mask = cgrad.randn(4, 4, dtype=cgrad.float64, requires_grad=True)

    def seeded(q, k, v, mask):
        cgrad.manual_seed(5)
        return F.scaled_dot_product_attention(q, k, v, mask, dropout_p=0.3)
    assert seeded(q, k, v, mask).grad_fn.name() == "UnsafeViewBackward0"
    assert cgrad.autograd.gradcheck(seeded, [q, k, v, mask])
    assert cgrad.autograd.gradgradcheck(seeded, [q, k, v, mask])


def test_sdpa_double_backward_with_masked_rows(backend):
    q, k, v = (cgrad.randn(2, 3, 4, dtype=cgrad.float64, requires_grad=True) for _ in range(3))
    mask = cgrad.tensor([[True, False, True], [False, False, False], [True, True, True]])
    assert cgrad.autograd.gradgradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), [q, k, v])


def _sdpa_error_cases():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    bool_mask = torch.ones(3, 5, dtype=torch.bool)
    yield dict(query=q, key=k.double(), value=v)                     # dtypes differ
    yield dict(query=q[0, 0], key=k[0, 0], value=v[0, 0])            # 1-D
    yield dict(query=q, key=k[..., :3], value=v)                     # E differs
    yield dict(query=q, key=k, value=v[:, :4])                       # S differs
    yield dict(query=q[0], key=k[0, :, :3], value=v[0])              # 2-D: mm's message
    yield dict(query=torch.randn(3, 3, 4), key=k, value=v)           # batch dims
    yield dict(query=q, key=k, value=v, attn_mask=bool_mask.long())
    yield dict(query=q, key=k, value=v, attn_mask=bool_mask.double())
    yield dict(query=q, key=k, value=v, attn_mask=torch.ones(4, 5, dtype=torch.bool))
    yield dict(query=q, key=k, value=v, attn_mask=torch.ones(1, 2, 3, 5, dtype=torch.bool))
    yield dict(query=q, key=k, value=v, attn_mask=bool_mask, is_causal=True)
    yield dict(query=q.long(), key=k.long(), value=v.long())
    yield dict(query=q, key=k, value=v, dropout_p=1.5)
    yield dict(query=torch.randn(1, 4, 3, 4), key=torch.randn(1, 3, 5, 4),
               value=torch.randn(1, 3, 5, 4), enable_gqa=True)
    yield dict(query=q[0], key=k[0], value=v[0], enable_gqa=True)


@pytest.mark.parametrize("case", range(15))
def test_sdpa_errors_match_torch(case):
    kwargs = list(_sdpa_error_cases())[case]
    c_kwargs = {n: _cg(a) if isinstance(a, torch.Tensor) else a for n, a in kwargs.items()}
    _raises_like_torch(lambda: F.scaled_dot_product_attention(**c_kwargs),
                       lambda: torch.nn.functional.scaled_dot_product_attention(**kwargs))


# ---- nn.MultiheadAttention ------------------------------------------------------------------------
MHA_CONFIGS = [{}, dict(bias=False), dict(add_bias_kv=True), dict(add_zero_attn=True),
               dict(kdim=5, vdim=3), dict(batch_first=True),
               dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3, batch_first=True)]
# (key_padding_mask, attn_mask) kinds
MHA_MASKS = [(None, None), ("bool", None), ("float", None), (None, "bool"), (None, "float"),
             (None, "bool3d"), ("bool", "bool"), ("float", "float3d")]


def _mha_pair(dtype, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _twin(nn.MultiheadAttention(6, 2, **kwargs),
                     torch.nn.MultiheadAttention(6, 2, **kwargs), dtype)


def _mha_inputs(config, dtype, batch=3, self_attention=False, L=4, S=5):
    """torch query, key and value of the config's layout (batch None: unbatched)"""
    def shape(length, features):
        if batch is None:
            return (length, features)
        return (batch, length, features) if config.get("batch_first") else (length, batch,
                                                                              features)
    query = _randn(*shape(L, 6), dtype=dtype)
    if self_attention:
        return query, query, query
    return (query, _randn(*shape(S, config.get("kdim", 6)), dtype=dtype, seed=1),
            _randn(*shape(S, config.get("vdim", 6)), dtype=dtype, seed=2))


def _mha_masks(kpm, am, dtype, batch, L, S, heads=2):
    shapes = {None: None, "bool": (L, S), "float": (L, S), "bool3d": (batch * heads, L, S),
              "float3d": (batch * heads, L, S)}
    t_kpm = None if kpm is None else _mask(kpm, (batch, S), seed=3)
    t_am = None if am is None else _mask(am[:-2] if am.endswith("3d") else am, shapes[am])
    # a float mask in the inputs' dtype; no query has every key masked here
    out = []
    for m in (t_kpm, t_am):
        if m is not None:
            m[..., 0] = False if m.dtype == torch.bool else 0.0
            m = m.to(_torch_dtype(dtype)) if m.is_floating_point() else m
        out.append(m)
    return out


# every config with every mask kind in float64, and with both masks in float32
MHA_CASES = ([(c, m, np.float64) for c in MHA_CONFIGS for m in MHA_MASKS]
             + [(c, ("bool", "bool"), np.float32) for c in MHA_CONFIGS])


@pytest.mark.parametrize("config, masks, dtype", MHA_CASES, ids=str)
def test_multihead_attention_matches_torch(backend, config, masks, dtype):
    """outputs, weights (averaged and per head) and every gradient, with and without weights,
    for every option and mask kind (PyTorch's reference path: training mode, no dropout)"""
    c, t = _mha_pair(dtype, **config)
    assert repr(c) == repr(t)
    t_kpm, t_am = _mha_masks(*masks, dtype, 3, 4, 5)
    for need_weights, average in ((True, True), (True, False), (False, True)):
        c.zero_grad()
        t.zero_grad()
        t_in = _mha_inputs(config, dtype)
        c_in = [_cg(x) for x in t_in]
        kw = dict(need_weights=need_weights, average_attn_weights=average)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # mismatched mask types warn, in both
            t_out = t(*t_in, key_padding_mask=t_kpm, attn_mask=t_am, **kw)
            c_out = c(*c_in, key_padding_mask=None if t_kpm is None else _cg(t_kpm),
                      attn_mask=None if t_am is None else _cg(t_am), **kw)
        _compare(c_out, t_out, c_in, t_in, dtype, (c, t))


@pytest.mark.parametrize("config", [{}, dict(batch_first=True), dict(kdim=5, vdim=3)], ids=str)
def test_multihead_attention_self_and_unbatched(backend, config):
    """self-attention (query, key and value one tensor) batched and unbatched, with a causal
    attn_mask given as such (is_causal) and a key padding mask"""
    c, t = _mha_pair(np.float64, **config)
    for batch in (3, None):
        same = "kdim" not in config
        t_in = _mha_inputs(config, np.float64, batch, self_attention=same, L=4, S=4)
        c_in = [_cg(x) for x in t_in] if not same else [_cg(t_in[0])] * 3
        mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
        kpm = torch.tensor([False, False, True, False])
        kpm = kpm if batch is None else kpm.repeat(batch, 1)
        for need_weights in (True, False):
            c.zero_grad()
            t.zero_grad()
            t_out = t(*t_in, attn_mask=mask, is_causal=True, need_weights=need_weights)
            c_out = c(*c_in, attn_mask=_cg(mask), is_causal=True, need_weights=need_weights)
            _compare(c_out, t_out, c_in[:1] if same else c_in, t_in[:1] if same else t_in,
                     np.float64, (c, t))
            t_out = t(*t_in, key_padding_mask=kpm, need_weights=need_weights)
            c_out = c(*c_in, key_padding_mask=_cg(kpm), need_weights=need_weights)
            _close(c_out[0], t_out[0], np.float64)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        c(*c_in, is_causal=True)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("config", [{}, dict(batch_first=True), dict(add_bias_kv=True),
                                    dict(kdim=3, vdim=5)], ids=str)
def test_multihead_attention_of_an_empty_batch_as_torch(backend, config, need_weights):
    """a batch of 0: PyTorch's empty outputs and zero gradients (cgrad's view(L, 0, -1) of
    the output raised)"""
    c, t = _mha_pair(np.float64, **config)
    t_in = _mha_inputs(config, np.float64, batch=0)
    c_in = [_cg(x) for x in t_in]
    kpm = torch.zeros(0, 5, dtype=torch.bool)
    if not need_weights:      # (PyTorch's view(0, heads, -1, S) of the merged mask raises)
        _raises_like_torch(lambda: c(*c_in, key_padding_mask=_cg(kpm), need_weights=False),
                           lambda: t(*t_in, key_padding_mask=kpm, need_weights=False))
        kpm = None
    t_out = t(*t_in, key_padding_mask=kpm, need_weights=need_weights)
    c_out = c(*c_in, key_padding_mask=None if kpm is None else _cg(kpm),
              need_weights=need_weights)
    _compare(c_out, t_out, c_in, t_in, np.float64, (c, t))


def test_multihead_attention_fully_masked_rows_as_torch(backend):
    """a query with every key masked: NaN where the weights are computed (need_weights, a
    plain softmax), zeros and then the output bias without them (SDPA), as in PyTorch's
    reference path; the other batch elements keep their values and gradients"""
    c, t = _mha_pair(np.float64)
    with torch.no_grad():
        t.out_proj.bias.normal_()
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    t_in = _mha_inputs({}, np.float64, batch=2)
    c_in = [_cg(x) for x in t_in]
    kpm = torch.tensor([[False, False, True, False, False], [True] * 5])
    t_out, t_w = t(*t_in, key_padding_mask=kpm)
    c_out, c_w = c(*c_in, key_padding_mask=_cg(kpm))
    assert np.isnan(c_out.detach().numpy()[:, 1]).all() and np.isnan(c_w.detach().numpy()[1]).all()
    _close(c_out, t_out, np.float64)
    _close(c_w, t_w, np.float64)
    t_out, _ = t(*t_in, key_padding_mask=kpm, need_weights=False)
    c_out, _ = c(*c_in, key_padding_mask=_cg(kpm), need_weights=False)
    np.testing.assert_allclose(c_out.detach().numpy()[:, 1],
                               np.broadcast_to(c.out_proj.bias.detach().numpy(), (4, 6)))
    _compare([c_out], [t_out], c_in, t_in, np.float64, (c, t))


def test_multihead_attention_dropout_and_eval(backend):
    """dropout applies in training only: dropout=1 drops every weight (the output is then the
    output bias, as PyTorch's), eval mode none (the outputs of dropout=0)"""
    c, t = _mha_pair(np.float64, dropout=1.0)
    with torch.no_grad():
        t.out_proj.bias.normal_()
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    t_in = _mha_inputs({}, np.float64)
    c_in = [_cg(x) for x in t_in]
    for need_weights in (True, False):
        t_out, t_w = t(*t_in, need_weights=need_weights)
        c_out, c_w = c(*c_in, need_weights=need_weights)
        _close(c_out, t_out, np.float64)
        assert (c_w is None) == (t_w is None)
        if need_weights:
            assert not c_w.detach().numpy().any()
    c.eval()
    t.eval()
    ref, _ = _mha_pair(np.float64)
    ref.load_state_dict(c.state_dict())
    _close(c(*c_in)[0], ref(*c_in)[0], np.float64)
    with torch.no_grad():               # PyTorch's fast path (its own kernels): rounding apart
        _close(c(*c_in, need_weights=False)[0], t(*t_in, need_weights=False)[0], np.float64)


def test_multihead_attention_init_state_dict_and_repr():
    """PyTorch's parameters, names and default init: xavier-uniform in_proj_weight (or the
    three separate weights), zero biases, xavier-normal bias_k and bias_v"""
    c, t = nn.MultiheadAttention(64, 4), torch.nn.MultiheadAttention(64, 4)
    assert list(c.state_dict()) == list(t.state_dict()) == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bound = (6 / (64 + 3 * 64)) ** 0.5
    w = c.in_proj_weight.detach().numpy()
    assert w.shape == (192, 64) and np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert not c.in_proj_bias.detach().numpy().any() and not c.out_proj.bias.detach().numpy().any()
    assert np.abs(c.out_proj.weight.detach().numpy()).max() <= 1 / 8     # Linear's init
    assert type(c.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(c.out_proj, nn.Linear)
    kw = dict(bias=False, add_bias_kv=True, kdim=32, vdim=16, batch_first=True)
    c, t = nn.MultiheadAttention(64, 4, **kw), torch.nn.MultiheadAttention(64, 4, **kw)
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert c.in_proj_weight is None and c.in_proj_bias is None and c.out_proj.bias is None
    for name, fan in (("q_proj_weight", 64), ("k_proj_weight", 32), ("v_proj_weight", 16)):
        assert np.abs(getattr(c, name).detach().numpy()).max() <= (6 / (64 + fan)) ** 0.5
    bias_kv = np.concatenate([c.bias_k.detach().numpy(), c.bias_v.detach().numpy()])
    assert 0.6 / 8 < bias_kv.std() < 1.4 / 8                  # N(0, 2 / (64 + 64))
    assert repr(c) == repr(t)
    assert (c.embed_dim, c.kdim, c.vdim, c.num_heads, c.head_dim, c.batch_first,
            c._qkv_same_embed_dim) == (t.embed_dim, t.kdim, t.vdim, t.num_heads, t.head_dim,
                                       t.batch_first, t._qkv_same_embed_dim)
    for args in ((6, 4), (0, 2), (6, -1)):
        _raises_like_torch(lambda: nn.MultiheadAttention(*args),
                           lambda: torch.nn.MultiheadAttention(*args))


def _mha_error_cases():
    q, k, v = torch.randn(4, 3, 6), torch.randn(5, 3, 6), torch.randn(5, 3, 6)
    yield (q, k[0], v), {}                                          # key not 3-D
    yield (q[0], k, v), {}                                          # 2-D query, 3-D key
    yield (q[None], k, v), {}                                       # 4-D query
    yield (q, k, v[:4]), {}                                         # key and value differ
    yield (q, k, v), dict(key_padding_mask=torch.zeros(3, 5, 1, dtype=torch.bool))
    yield (q, k, v), dict(key_padding_mask=torch.zeros(2, 5, dtype=torch.bool))
    yield (q, k, v), dict(key_padding_mask=torch.zeros(3, 4, dtype=torch.bool))
    yield (q, k, v), dict(key_padding_mask=torch.zeros(3, 5, dtype=torch.long))
    yield (q, k, v), dict(attn_mask=torch.zeros(4, 4, dtype=torch.bool))
    yield (q, k, v), dict(attn_mask=torch.zeros(5, 4, 5, dtype=torch.bool))
    yield (q, k, v), dict(attn_mask=torch.zeros(1, 1, 4, 5, dtype=torch.bool))
    yield (q[:, 0], k[:, 0], v[:, 0]), dict(attn_mask=torch.zeros(3, 4, 5, dtype=torch.bool))
    yield (q[:, 0], k[:, 0], v[:, 0]), dict(key_padding_mask=torch.zeros(1, 5))
    yield (q[..., :4], k[..., :4], v[..., :4]), {}                  # not embed_dim
    yield (q, k, v), dict(is_causal=True)


@pytest.mark.parametrize("case", range(15))
def test_multihead_attention_errors_match_torch(case):
    (q, k, v), kwargs = list(_mha_error_cases())[case]
    c, t = _mha_pair(np.float32)
    c_kwargs = {n: _cg(a) for n, a in kwargs.items() if isinstance(a, torch.Tensor)}
    c_kwargs.update({n: a for n, a in kwargs.items() if not isinstance(a, torch.Tensor)})
    _raises_like_torch(lambda: c(_cg(q), _cg(k), _cg(v), **c_kwargs),
                       lambda: t(q, k, v, **kwargs))


def test_multi_head_attention_forward_matches_torch(backend):
    """the functional form with separate projection weights and static keys and values"""
    g = torch.Generator().manual_seed(0)
    E, heads, L, S, N = 6, 2, 4, 5, 3
    q, k, v = (torch.randn(n, N, d, generator=g, dtype=torch.float64, requires_grad=True)
               for n, d in ((L, E), (S, 4), (S, 3)))
    w_q, w_k, w_v, w_out = (torch.randn(E, d, generator=g, dtype=torch.float64,
                                        requires_grad=True) for d in (E, 4, 3, E))
    b_in, b_out = (torch.randn(n, generator=g, dtype=torch.float64, requires_grad=True)
                   for n in (3 * E, E))
    static_k, static_v = (torch.randn(N * heads, S, E // heads, generator=g,
                                      dtype=torch.float64, requires_grad=True) for _ in "kv")
    t_args = [q, k, v, w_q, w_k, w_v, w_out, b_in, b_out]
    c_args = [_cg(a) for a in t_args]

    def run(lib, q, k, v, w_q, w_k, w_v, w_out, b_in, b_out, **kw):
        return lib.nn.functional.multi_head_attention_forward(
            q, k, v, E, heads, None, b_in, None, None, False, 0.0, w_out, b_out,
            use_separate_proj_weight=True, q_proj_weight=w_q, k_proj_weight=w_k,
            v_proj_weight=w_v, **kw)
    _compare(run(cgrad, *c_args), run(torch, *t_args), c_args, t_args, np.float64)
    for a in t_args + c_args:
        a.grad = None
    c_static = [_cg(static_k), _cg(static_v)]
    _compare(run(cgrad, *c_args, static_k=c_static[0], static_v=c_static[1],
                 need_weights=False),
             run(torch, *t_args, static_k=static_k, static_v=static_v, need_weights=False),
             c_args + c_static, t_args + [static_k, static_v], np.float64)
    bad = static_k[:, :, :2].detach()
    _raises_like_torch(lambda: run(cgrad, *c_args, static_k=_cg(bad)),
                       lambda: run(torch, *t_args, static_k=bad))


# ---- the Transformer layers ----------------------------------------------------------------------
def _activation(kind):
    """(cgrad, torch) activation arguments of a kind"""
    if kind == "module":
        return nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")
    if kind == "callable":
        return (lambda x: x.tanh()), torch.tanh
    return kind, kind


LAYER_CONFIGS = [{}, dict(norm_first=True), dict(batch_first=True, activation="gelu"),
                 dict(activation="module", bias=False), dict(activation="callable",
                                                             layer_norm_eps=1e-3),
                 dict(batch_first=True, norm_first=True, activation="module")]


def _layer_pair(name, dtype, d_model=8, nhead=2, **config):
    """(cgrad, torch) layers of class name, dropout off, sharing PyTorch's parameters"""
    config = dict(config)
    c_act, t_act = _activation(config.pop("activation", "relu"))
    args = (d_model, nhead, 16, 0.0)
    return _twin(getattr(nn, name)(*args, activation=c_act, **config),
                 getattr(torch.nn, name)(*args, activation=t_act, **config), dtype)


def _seq(config, length, batch, dtype, seed):
    if batch is None:
        return _randn(length, 8, dtype=dtype, seed=seed)
    shape = (batch, length, 8) if config.get("batch_first") else (length, batch, 8)
    return _randn(*shape, dtype=dtype, seed=seed)


def _causal(n):
    return torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)


def _padding(batch, length, seed):
    """a key padding mask of a batch: True at random, never a whole row"""
    m = torch.rand(batch, length, generator=torch.Generator().manual_seed(seed)) < 0.4
    m[:, 0] = False
    return m


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=str)
def test_encoder_layer_matches_torch(backend, config, dtype):
    c, t = _layer_pair("TransformerEncoderLayer", dtype, **config)
    assert repr(c) == repr(t)
    assert c.activation_relu_or_gelu == t.activation_relu_or_gelu
    fdt = _torch_dtype(dtype)
    for batch, mask, kpm in ((3, None, None), (3, _causal(5).to(fdt), None),
                             (3, None, _padding(3, 5, 0)), (3, _causal(5).to(fdt),
                                                            _padding(3, 5, 1).to(fdt) * -1e9),
                             (None, _causal(5).to(fdt), None)):
        c.zero_grad()
        t.zero_grad()
        t_x = _seq(config, 5, batch, dtype, seed=batch or 7)
        c_x = _cg(t_x)
        t_out = t(t_x, src_mask=mask, src_key_padding_mask=kpm)
        c_out = c(c_x, src_mask=None if mask is None else _cg(mask),
                  src_key_padding_mask=None if kpm is None else _cg(kpm))
        _compare([c_out], [t_out], [c_x], [t_x], dtype, (c, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=str)
def test_decoder_layer_matches_torch(backend, config, dtype):
    c, t = _layer_pair("TransformerDecoderLayer", dtype, **config)
    assert repr(c) == repr(t)
    fdt = _torch_dtype(dtype)
    for batch, masks in ((3, {}), (3, dict(tgt_mask=_causal(4).to(fdt), tgt_is_causal=True,
                                           tgt_key_padding_mask=_padding(3, 4, 0).to(fdt)
                                           * -1e9,
                                           memory_key_padding_mask=_padding(3, 6, 1))),
                         (3, dict(memory_mask=torch.rand(4, 6, generator=torch.Generator()
                                                         .manual_seed(2)).to(fdt))),
                         (None, dict(tgt_mask=_causal(4).to(fdt)))):
        c.zero_grad()
        t.zero_grad()
        t_tgt = _seq(config, 4, batch, dtype, seed=1)
        t_mem = _seq(config, 6, batch, dtype, seed=2)
        c_tgt, c_mem = _cg(t_tgt), _cg(t_mem)
        t_out = t(t_tgt, t_mem, **masks)
        c_out = c(c_tgt, c_mem, **{n: _cg(m) if isinstance(m, torch.Tensor) else m
                                   for n, m in masks.items()})
        _compare([c_out], [t_out], [c_tgt, c_mem], [t_tgt, t_mem], dtype, (c, t))


def test_activation_must_be_relu_or_gelu():
    _raises_like_torch(lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"),
                       lambda: torch.nn.TransformerEncoderLayer(8, 2, activation="tanh"))
    _raises_like_torch(lambda: nn.TransformerDecoderLayer(8, 2, activation="silu"),
                       lambda: torch.nn.TransformerDecoderLayer(8, 2, activation="silu"))


def _warnings_of(build):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build()
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", [{}, dict(batch_first=True, norm_first=True)], ids=str)
def test_encoder_and_decoder_stacks_match_torch(backend, config, dtype):
    """the layers cloned (independent parameters), the final norm, the causal mask detected
    (or told), unbatched input; the encoder warns about nested tensors as PyTorch does"""
    kw = dict(batch_first=config.get("batch_first", False), norm_first=config.get(
        "norm_first", False), dropout=0.0, dim_feedforward=16)

    def stacks(lib):
        enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, **kw), 3,
                                        norm=lib.nn.LayerNorm(8), enable_nested_tensor=True)
        dec = lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(8, 2, **kw), 2)
        return enc, dec
    assert _warnings_of(lambda: stacks(cgrad)) == _warnings_of(lambda: stacks(torch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (c_enc, c_dec), (t_enc, t_dec) = stacks(cgrad), stacks(torch)
    assert [n for n, _ in c_enc.named_parameters()][:2] == ["layers.0.self_attn.in_proj_weight",
                                                            "layers.0.self_attn.in_proj_bias"]
    assert c_enc.layers[0].linear1.weight is not c_enc.layers[1].linear1.weight
    assert repr(c_enc) == repr(t_enc) and repr(c_dec) == repr(t_dec)
    assert (c_enc.num_layers, c_enc.enable_nested_tensor, c_enc.use_nested_tensor) == \
        (t_enc.num_layers, t_enc.enable_nested_tensor, t_enc.use_nested_tensor)
    _twin(c_enc, t_enc, dtype)
    _twin(c_dec, t_dec, dtype)
    fdt = _torch_dtype(dtype)
    for batch, is_causal in ((2, None), (2, True), (None, None)):
        for m in (c_enc, c_dec, t_enc, t_dec):
            m.zero_grad()
        t_src, t_tgt = _seq(config, 5, batch, dtype, 0), _seq(config, 4, batch, dtype, 1)
        c_src, c_tgt = _cg(t_src), _cg(t_tgt)
        kpm = None if batch is None else _padding(batch, 5, 3).to(fdt) * -1e9   # (float, as
        t_mem = t_enc(t_src, mask=_causal(5).to(fdt), src_key_padding_mask=kpm,  # the mask)
                      is_causal=is_causal)
        c_mem = c_enc(c_src, mask=_cg(_causal(5).to(fdt)), is_causal=is_causal,
                      src_key_padding_mask=None if kpm is None else _cg(kpm))
        t_out = t_dec(t_tgt, t_mem, tgt_mask=_causal(4).to(fdt), tgt_is_causal=is_causal)
        c_out = c_dec(c_tgt, c_mem, tgt_mask=_cg(_causal(4).to(fdt)), tgt_is_causal=is_causal)
        _compare([c_mem, c_out], [t_mem, t_out], [c_src, c_tgt], [t_src, t_tgt], dtype)
        for c, t in ((c_enc, t_enc), (c_dec, t_dec)):
            for (name, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
                _close(cp.grad, tp.grad, dtype)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_encoder_eval_matches_torch_fast_path(backend):
    """in eval mode without grad PyTorch runs its fused encoder layer (and nested tensors for
    a left-aligned padding mask): the same values up to rounding, and at the padded positions
    the zeros its nested tensors give before the final norm; with grad, the plain values"""
    def stack(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8)).eval()
    c, t = _twin(stack(cgrad), stack(torch), np.float32)
    t_x = _randn(3, 6, 8, dtype=np.float32, requires_grad=False)
    kpm = torch.arange(6)[None] >= torch.tensor([6, 4, 2])[:, None]    # each padded at its end
    with torch.no_grad():
        t_plain, t_padded = t(t_x, _causal(6).float()), t(t_x, src_key_padding_mask=kpm)
    _close(c(_cg(t_x), _cg(_causal(6).float())), t_plain, np.float32)
    assert (t_padded[kpm] == t.norm(torch.zeros(8))).all()   # (the norm of PyTorch's zeros)
    with cgrad.no_grad():
        _close(c(_cg(t_x), src_key_padding_mask=_cg(kpm)), t_padded, np.float32)
    _close(c(_cg(t_x), src_key_padding_mask=_cg(kpm)), t(t_x, src_key_padding_mask=kpm),
           np.float32)                                  # (grad enabled: no nested tensors)
    not_left = kpm.flip(1)                              # padding first: no nested tensors
    with torch.no_grad(), cgrad.no_grad():
        _close(c(_cg(t_x), src_key_padding_mask=_cg(not_left)),
               t(t_x, src_key_padding_mask=not_left), np.float32)


# ---- nn.Transformer ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", [{}, dict(batch_first=True, norm_first=True,
                                             activation="gelu", bias=False)], ids=str)
def test_transformer_matches_torch(backend, config, dtype):
    args = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                dim_feedforward=16, dropout=0.0, **config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, t = _twin(nn.Transformer(**args), torch.nn.Transformer(**args), dtype)
    assert repr(c) == repr(t)
    assert (c.d_model, c.nhead, c.batch_first) == (t.d_model, t.nhead, t.batch_first)
    fdt = _torch_dtype(dtype)
    for batch in (2, None):
        c.zero_grad()
        t.zero_grad()
        t_src, t_tgt = _seq(config, 5, batch, dtype, 0), _seq(config, 4, batch, dtype, 1)
        c_src, c_tgt = _cg(t_src), _cg(t_tgt)
        masks = dict(tgt_mask=t.generate_square_subsequent_mask(4, dtype=fdt))
        if batch is not None:
            masks.update(src_key_padding_mask=_padding(batch, 5, 0),
                         memory_key_padding_mask=_padding(batch, 5, 0),
                         tgt_key_padding_mask=_padding(batch, 4, 1))
        outs = []
        for model, args in ((t, (t_src, t_tgt, masks)),
                            (c, (c_src, c_tgt, {n: _cg(m) for n, m in masks.items()}))):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")          # (a float tgt_mask, a bool padding
                outs.append(model(args[0], args[1], **args[2]))             # mask: warned)
            outs.append([str(w.message) for w in caught])
        t_out, t_warned, c_out, c_warned = outs
        assert c_warned == t_warned and bool(t_warned) == (batch is not None)
        _compare([c_out], [t_out], [c_src, c_tgt], [t_src, t_tgt], dtype, (c, t))


def test_transformer_init_mask_and_errors():
    """every parameter of 2 or more dims re-initialised xavier-uniform, the biases zero or
    Linear's; the causal mask; PyTorch's errors for mismatched inputs"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=64)
    w = c.encoder.layers[0].linear1.weight.detach().numpy()
    bound = (6 / (32 + 64)) ** 0.5
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound       # not Linear's
    out = c.decoder.layers[0].multihead_attn.out_proj.weight.detach().numpy()
    assert np.abs(out).max() > 1 / 32 ** 0.5                  # beyond Linear's bound
    assert not c.encoder.layers[0].self_attn.in_proj_bias.detach().numpy().any()
    assert (c.encoder.norm.weight.detach().numpy() == 1).all()
    for sz, dtype in ((4, None), (1, torch.float64), (0, None)):
        t_mask = torch.nn.Transformer.generate_square_subsequent_mask(sz, dtype=dtype)
        c_mask = nn.Transformer.generate_square_subsequent_mask(
            sz, dtype=None if dtype is None else cgrad.float64)
        assert str(c_mask.dtype) == str(t_mask.dtype).replace("torch", "cgrad")
        np.testing.assert_array_equal(c_mask.numpy(), t_mask.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
        c = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
    for src, tgt in (((5, 2, 8), (4, 3, 8)), ((5, 2, 8), (4, 2, 6)), ((5, 2, 6), (4, 2, 8))):
        t_src, t_tgt = torch.randn(*src), torch.randn(*tgt)
        _raises_like_torch(lambda: c(_cg(t_src), _cg(t_tgt)), lambda: t(t_src, t_tgt))


# ---- end to end: the "language modeling with nn.Transformer" tutorial's model --------------------
def _language_model(lib, ntoken=20, d_model=8, nhead=2, d_hid=16, nlayers=2):
    """the tutorial's TransformerModel (embedding, sinusoidal positions, encoder, linear
    decoder), written once for either library, dropout off"""
    import math

    class PositionalEncoding(lib.nn.Module):
        def __init__(self, d_model, dropout=0.0, max_len=50):
            super().__init__()
            self.dropout = lib.nn.Dropout(p=dropout)
            position = lib.arange(max_len).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = lib.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = lib.sin(position * div_term)
            pe[:, 0, 1::2] = lib.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x):
            return self.dropout(x + self.pe[:x.size(0)])

    class TransformerModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_encoder = PositionalEncoding(d_model)
            layer = lib.nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout=0.0)
            self.transformer_encoder = lib.nn.TransformerEncoder(layer, nlayers)
            self.embedding = lib.nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = lib.nn.Linear(d_model, ntoken)

        def forward(self, src, src_mask=None):
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            return self.linear(self.transformer_encoder(src, src_mask))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # (nested tensors: batch_first is False)
        return TransformerModel()


def test_language_model_trains_as_torch(backend):
    """three Adam steps of the tutorial's model on one batch, from the same weights: the same
    losses (falling) and parameters, to float32 rounding (the weights seeded: Adam scales
    rounding up to steps of lr, so an init drawn from whatever ran before is less stable)"""
    torch.manual_seed(0)
    t_model = _language_model(torch)
    c_model = _language_model(cgrad)
    c_model.load_state_dict({k: _cg(v) for k, v in t_model.state_dict().items()})
    np.testing.assert_allclose(c_model.pos_encoder.pe.numpy(), t_model.pos_encoder.pe.numpy(),
                               rtol=1e-5, atol=1e-6)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=0.01)
    c_opt = cgrad.optim.Adam(c_model.parameters(), lr=0.01)
    data = torch.randint(0, 20, (8, 4), generator=torch.Generator().manual_seed(0))
    src, target = data[:-1], data[1:].reshape(-1)                 # (sequence, batch)
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(7)
    c_mask = nn.Transformer.generate_square_subsequent_mask(7)
    t_losses, c_losses = [], []
    for _ in range(3):
        for model, opt, lib, mask, losses in ((t_model, t_opt, torch, t_mask, t_losses),
                                              (c_model, c_opt, cgrad, c_mask, c_losses)):
            x, y = (src, target) if lib is torch else (_cg(src), _cg(target))
            out = model(x, mask)
            loss = lib.nn.functional.cross_entropy(out.view(-1, 20), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(c_losses, t_losses, rtol=2e-6)
    assert t_losses[2] < t_losses[0]
    for (name, cp), (_, tp) in zip(c_model.named_parameters(), t_model.named_parameters()):
        c_p, t_p = cp.detach().numpy(), tp.detach().numpy()
        if name.endswith("in_proj_bias"):
            # the key bias's gradient is 0 up to rounding (it shifts every score of a query
            # alike), and Adam scales that rounding up to steps of lr
            c_p, t_p = np.delete(c_p, np.s_[8:16]), np.delete(t_p, np.s_[8:16])
        np.testing.assert_allclose(c_p, t_p, rtol=1e-4, atol=1e-5, err_msg=name)
