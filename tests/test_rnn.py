"""nn.RNN, LSTM, GRU and their cells against PyTorch: the same parameters (copied through
load_state_dict of PyTorch's state dict), then outputs, final states and the gradients of
inputs, initial states and every parameter, in float32 and float64 on both backends."""
import math
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from test_nn_layers import DTYPES, _cg, _check_grads, _close, _raises_like_torch, _twin

torch = pytest.importorskip("torch")

# (class name, constructor keyword arguments): RNN's two nonlinearities, LSTM, GRU
MODES = [("RNN", {}), ("RNN", dict(nonlinearity="relu")), ("LSTM", {}), ("GRU", {})]
LAYOUTS = [{}, dict(num_layers=2), dict(bidirectional=True), dict(batch_first=True),
           dict(bias=False), dict(num_layers=3, bidirectional=True, batch_first=True)]


def _pair(name, *args, **kwargs):
    """(cgrad module, torch module) of class name, built with the same arguments"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # dropout with one layer warns, in both
        return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


def _randn(*shape, dtype, seed, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=torch.float32 if dtype == np.float32
                    else torch.float64)
    return t.requires_grad_(requires_grad)


def _flat(out, state):
    """output and the final states as one flat tensor (so one random gradient covers all)"""
    lib = cgrad if isinstance(out, cgrad.Tensor) else torch
    parts = (out, *state) if isinstance(state, tuple) else (out, state)
    return lib.cat([p.reshape(-1) for p in parts])


def _state_shapes(state):
    return [tuple(s.shape) for s in (state if isinstance(state, tuple) else (state,))]


def _compare_run(c, t, t_x, t_hx, dtype):
    """c(x, hx) against t(x, hx): shapes, values and every gradient"""
    c_x = _cg(t_x)
    c_hx = None if t_hx is None else (tuple(_cg(h) for h in t_hx) if isinstance(t_hx, tuple)
                                      else _cg(t_hx))
    t_out, t_state = t(t_x, t_hx)
    c_out, c_state = c(c_x, c_hx)
    assert tuple(c_out.shape) == tuple(t_out.shape)
    assert _state_shapes(c_state) == _state_shapes(t_state)
    t_leaves = [t_x] + list(t_hx if isinstance(t_hx, tuple) else [t_hx] if t_hx is not None
                            else [])
    c_leaves = [c_x] + list(c_hx if isinstance(c_hx, tuple) else [c_hx] if c_hx is not None
                            else [])
    for leaf in t_leaves:
        leaf.grad = None                                     # (a reused input)
    c.zero_grad()
    t.zero_grad()
    _check_grads(c, t, c_leaves, t_leaves, _flat(c_out, c_state), _flat(t_out, t_state), dtype)
    return c_out, c_state, t_out, t_state


def _hidden(name, layers, batch, size, dtype, seed, proj_size=0):
    """an initial state of PyTorch's shape: h, or LSTM's (h, c)"""
    shape = (layers, batch) if batch else (layers,)
    h = _randn(*shape, proj_size or size, dtype=dtype, seed=seed)
    return (h, _randn(*shape, size, dtype=dtype, seed=seed + 1)) if name == "LSTM" else h


# ---- the sequence layers ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("name, mode", MODES, ids=str)
def test_rnn_layers_match_torch(backend, name, mode, layout, dtype):
    kwargs = dict(mode, **layout)
    c, t = _twin(*_pair(name, 3, 5, **kwargs), dtype)
    assert repr(c) == repr(t)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    seq, batch = 4, 2
    shape = (batch, seq, 3) if kwargs.get("batch_first") else (seq, batch, 3)
    # batched, zero initial state
    c_out, c_state, t_out, t_state = _compare_run(c, t, _randn(*shape, dtype=dtype, seed=0),
                                                  None, dtype)
    for c_s, t_s in zip(c_state if name == "LSTM" else (c_state,),
                        t_state if name == "LSTM" else (t_state,)):
        assert c_s.grad_fn.name() == t_s.grad_fn.name() == "StackBackward0"
    if t_out.grad_fn.name() == "MkldnnRnnLayerBackward0":
        # PyTorch's float32 CPU LSTM is one oneDNN op: its graph is the steps' in float64
        assert c_out.grad_fn.name() == "StackBackward0"
    else:        # StackBackward0, CatBackward0, or batch_first's TransposeBackward0 or 1
        assert c_out.grad_fn.name() == t_out.grad_fn.name()
    # batched, a given initial state (whose gradient is compared too)
    _compare_run(c, t, _randn(*shape, dtype=dtype, seed=3),
                 _hidden(name, layers, batch, 5, dtype, seed=4), dtype)
    # unbatched: (L, H_in) input and (layers, H) state
    c_out, c_state, t_out, _ = _compare_run(c, t, _randn(seq, 3, dtype=dtype, seed=6),
                                            _hidden(name, layers, 0, 5, dtype, seed=7), dtype)
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "SqueezeBackward1"
    _compare_run(c, t, _randn(seq, 3, dtype=dtype, seed=8), None, dtype)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", [{}, dict(num_layers=2, bidirectional=True, batch_first=True),
                                    dict(bias=False)], ids=str)
def test_lstm_projection_matches_torch(backend, layout, dtype):
    c, t = _twin(*_pair("LSTM", 3, 5, proj_size=2, **layout), dtype)
    assert repr(c) == repr(t)
    assert tuple(c.weight_hr_l0.shape) == (2, 5) and tuple(c.weight_hh_l0.shape) == (20, 2)
    layers = layout.get("num_layers", 1) * (2 if layout.get("bidirectional") else 1)
    shape = (2, 4, 3) if layout.get("batch_first") else (4, 2, 3)
    c_out, c_state, _, _ = _compare_run(c, t, _randn(*shape, dtype=dtype, seed=0), None, dtype)
    assert c_out.shape[-1] == 2 * (2 if layout.get("bidirectional") else 1)
    _compare_run(c, t, _randn(*shape, dtype=dtype, seed=1),
                 _hidden("LSTM", layers, 2, 5, dtype, seed=2, proj_size=2), dtype)
    _compare_run(c, t, _randn(4, 3, dtype=dtype, seed=3),
                 _hidden("LSTM", layers, 0, 5, dtype, seed=4, proj_size=2), dtype)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers_matches_torch(backend, name):
    # dropout=1 zeroes the input of every layer after the first, in training only, so the
    # result is deterministic and must match PyTorch's exactly; eval mode ignores dropout
    c, t = _twin(*_pair(name, 3, 4, num_layers=3, dropout=1.0), np.float64)
    assert repr(c) == repr(t) == f"{name}(3, 4, num_layers=3, dropout=1.0)"
    x = _randn(5, 2, 3, dtype=np.float64, seed=0)
    c_out, _, t_out, _ = _compare_run(c, t, x, None, np.float64)
    c.eval()
    t.eval()
    c_eval, _, t_eval, _ = _compare_run(c, t, x, None, np.float64)
    assert not np.allclose(c_eval.detach().numpy(), c_out.detach().numpy())
    # p = 0.5: random masks (cgrad's stream, not PyTorch's), so the training output differs
    # from the eval one, and each training run from the next
    c, _ = _pair(name, 3, 4, num_layers=2, dropout=0.5)
    x = cgrad.randn(6, 3, 3)
    first, second = c(x)[0], c(x)[0]
    c.eval()
    plain = c(x)[0]
    assert not np.allclose(first.detach().numpy(), plain.detach().numpy())
    assert not np.allclose(first.detach().numpy(), second.detach().numpy())


def test_dropout_with_one_layer_warns_as_torch():
    for lib in (nn, torch.nn):
        with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater "
                                             "than 1, but got dropout=0.3 and num_layers=1"):
            lib.GRU(2, 3, dropout=0.3)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_rnn_parameters_init_and_state_dict(name):
    chunks = {"RNN": 1, "LSTM": 4, "GRU": 3}[name]
    cgrad.manual_seed(0)
    c, t = _pair(name, 30, 100, num_layers=2, bidirectional=True)
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_parameters()][:6] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
        "weight_hh_l0_reverse"]
    for (n, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        assert tuple(cp.shape) == tuple(tp.shape), n
        assert cp.dtype == cgrad.float32 and cp.requires_grad
        w = cp.detach().numpy()
        bound = 1 / math.sqrt(100)                              # U(-1/sqrt(H), 1/sqrt(H))
        assert np.all(np.abs(w) <= bound)
        if w.size >= 1000:
            assert w.min() < -0.95 * bound and w.max() > 0.95 * bound
            assert abs(w.mean()) < 0.05 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert tuple(c.weight_ih_l1.shape) == (chunks * 100, 200)      # both directions' h in
    assert [[tuple(w.shape) for w in ws] for ws in c.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in t.all_weights]
    d = getattr(nn, name)(3, 4, dtype=cgrad.float64)
    assert all(p.dtype == cgrad.float64 for p in d.parameters())
    d.flatten_parameters()                                     # a no-op, as on PyTorch's CPU


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_rnn_empty_batch_matches_torch(backend, name):
    c, t = _twin(*_pair(name, 3, 4, bidirectional=True), np.float32)
    _compare_run(c, t, _randn(5, 0, 3, dtype=np.float32, seed=0), None, np.float32)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_rnn_double_backward_matches_torch(backend, name):
    # a gradient penalty: the input gradient, differentiated again by the weights
    c, t = _twin(*_pair(name, 3, 4, num_layers=2, bidirectional=True), np.float64)
    _gradient_penalty(c, t, _randn(5, 2, 3, dtype=np.float64, seed=0),
                      lambda lib, m, x: (m(x)[0] ** 2).sum())


@pytest.mark.parametrize("name, part", [("LSTM", "c_n")] + [
    (name, part) for name in ("LSTM", "GRU", "RNN") for part in ("h_n", "output_changed_in_place")])
def test_rnn_gradients_of_each_part_match_torch(backend, name, part):
    """a loss of the last cell state alone (LSTM), of the last h alone, or of the output after
    an in-place change of it (the sequence op keeps its own copies of what backward reads):
    every gradient as PyTorch's"""
    in_place = part == "output_changed_in_place"      # (one layer: the op's own output)
    c, t = _twin(*_pair(name, 3, 4, **({} if in_place else dict(num_layers=2,
                                                                   bidirectional=True))),
                 np.float64)
    grads = []
    for lib, m, x in ((torch, t, _randn(6, 2, 3, dtype=np.float64, seed=0)),
                      (cgrad, c, None)):
        x = _cg(grads[0][0]) if x is None else x
        out, state = m(x)
        if in_place:
            out.add_(1)
            loss = (out * out).sum()
        else:
            loss = (state[1] if part == "c_n" else state[0] if name == "LSTM" else state).sum()
        loss.backward()
        grads.append([x, x.grad] + [p.grad for p in m.parameters()])
    for tg, cg in zip(grads[0][1:], grads[1][1:]):
        _close(cg, tg)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_rnn_forward_gradients_and_vmap_match(backend, name):
    """a layer's steps as one op keep forward-mode derivatives (PyTorch's torch.func.jvp in
    float64, its composed steps, as the oracle) and vmap (a loop over the mapped dim)"""
    t = getattr(torch.nn, name)(3, 4, num_layers=2).double()
    c = getattr(nn, name)(3, 4, num_layers=2).double()
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    x, tangent = _randn(5, 2, 3, dtype=np.float64, seed=0), _randn(5, 2, 3, dtype=np.float64,
                                                                    seed=1)
    want = torch.func.jvp(lambda x: t(x)[0], (x.detach(),), (tangent.detach(),))[1]
    import cgrad.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        out, _ = c(fwAD.make_dual(_cg(x, False), _cg(tangent, False)))
        _close(fwAD.unpack_dual(out).tangent, want)
    xs = _cg(_randn(3, 5, 2, 3, dtype=np.float64, seed=2), False)
    mapped = cgrad.func.vmap(lambda x: c(x)[0])(xs)
    for i in range(3):
        _close(mapped[i], t(torch.tensor(xs[i].numpy()))[0])


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_rnn_nan_gradients_match_torch(backend, nonlinearity):
    """a NaN in the sequence: relu's backward passes its gradient on (PyTorch's
    threshold_backward), tanh's gives NaN, as PyTorch's; every gradient compared"""
    c, t = _twin(*_pair("RNN", 3, 4, nonlinearity=nonlinearity), np.float64)
    t_x = _randn(5, 2, 3, dtype=np.float64, seed=0).detach()
    t_x[2, 1, 0] = math.nan
    t_x.requires_grad_()
    c_x = _cg(t_x)
    t_out, c_out = t(t_x)[0], c(c_x)[0]
    t_out.sum().backward()
    c_out.sum().backward()
    _close(c_out, t_out)
    _close(c_x.grad, t_x.grad)
    for (name, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        _close(cp.grad, tp.grad)


@pytest.mark.parametrize("name, which", [("LSTM", "c")] + [
    (name, which) for name in ("LSTM", "GRU", "RNN") for which in ("h", "weight_hh")])
def test_rnn_mixed_dtypes_raise(backend, name, which):
    """a float64 state or recurrent weight with a float32 layer: an error, as PyTorch's
    (its products'), never a result cast back to float32"""
    m = getattr(nn, name)(3, 4)
    h = cgrad.zeros(1, 2, 4, dtype=cgrad.float64 if which == "h" else cgrad.float32)
    c = cgrad.zeros(1, 2, 4, dtype=cgrad.float64 if which == "c" else cgrad.float32)
    if which == "weight_hh":
        with cgrad.no_grad():
            m.weight_hh_l0 = nn.Parameter(m.weight_hh_l0.double())
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        m(cgrad.randn(5, 2, 3), (h, c) if name == "LSTM" else h)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_rnn_weight_changed_in_place_after_forward_raises(backend, name):
    """W_hh, saved by the steps, changed before backward: PyTorch's error, not a wrong
    gradient"""
    m = getattr(nn, name)(3, 4)
    out, _ = m(cgrad.randn(5, 2, 3))
    with cgrad.no_grad():
        m.weight_hh_l0.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def _gradient_penalty(c, t, x, loss_of):
    """the gradient of loss_of(lib, module, x) by x (create_graph), then the gradients of its
    squares' sum by every parameter: cgrad's against PyTorch's"""
    grads = []
    for lib, m, xi in ((torch, t, x), (cgrad, c, _cg(x))):
        (gx,) = lib.autograd.grad(loss_of(lib, m, xi), xi, create_graph=True)
        grads.append([gx] + list(lib.autograd.grad((gx ** 2).sum(), list(m.parameters()))))
    for tg, cg in zip(*grads):
        _close(cg, tg)


# ---- the cells --------------------------------------------------------------------------------
CELLS = [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", {}),
         ("GRUCell", {})]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name, kwargs", CELLS, ids=str)
def test_cells_match_torch(backend, name, kwargs, bias, dtype):
    c, t = _twin(*_pair(name, 3, 5, bias=bias, **kwargs), dtype)
    assert repr(c) == repr(t)
    assert list(c.state_dict()) == ["weight_ih", "weight_hh"] + ["bias_ih", "bias_hh"] * bias
    lstm = name == "LSTMCell"
    for batch in (4, 0):                                       # 0: unbatched (H_in,) input
        shape = (batch,) if batch else ()
        t_x = _randn(*shape, 3, dtype=dtype, seed=batch)
        t_h = _randn(*shape, 5, dtype=dtype, seed=10 + batch)
        t_hx = (t_h, _randn(*shape, 5, dtype=dtype, seed=20 + batch)) if lstm else t_h
        for hx in (t_hx, None):
            c_hx = None if hx is None else (tuple(_cg(h) for h in hx) if lstm else _cg(hx))
            c_x = _cg(t_x)
            t_x.grad = None
            for h in (t_hx if lstm else (t_hx,)):
                h.grad = None
            t_out, c_out = t(t_x, hx), c(c_x, c_hx)
            t_all = t_out if lstm else (t_out,)
            c_all = c_out if lstm else (c_out,)
            assert [o.grad_fn.name() for o in c_all] == [o.grad_fn.name() for o in t_all]
            t_leaves = [t_x] + list(() if hx is None else hx if lstm else (hx,))
            c_leaves = [c_x] + list(() if c_hx is None else c_hx if lstm else (c_hx,))
            c.zero_grad()
            t.zero_grad()
            _check_grads(c, t, c_leaves, t_leaves, cgrad.cat([o.reshape(-1) for o in c_all]),
                         torch.cat([o.reshape(-1) for o in t_all]), dtype)


def test_cell_unrolled_equals_layer(backend):
    # an LSTMCell stepped over a sequence by hand gives nn.LSTM's output (shared weights)
    cell, layer = nn.LSTMCell(3, 4), nn.LSTM(3, 4)
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = cgrad.randn(6, 2, 3)
    h, c = cgrad.zeros(2, 4), cgrad.zeros(2, 4)
    steps = []
    for x_t in x:
        h, c = cell(x_t, (h, c))
        steps.append(h)
    out, (h_n, c_n) = layer(x)
    np.testing.assert_allclose(cgrad.stack(steps).detach().numpy(), out.detach().numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c_n[0].detach().numpy(), c.detach().numpy(), rtol=1e-6,
                               atol=1e-7)


# ---- errors -------------------------------------------------------------------------------------
def _both(name, *args, **kwargs):
    """callables building name(*args, **kwargs) in cgrad and in PyTorch"""
    return (lambda: getattr(nn, name)(*args, **kwargs),
            lambda: getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("args, kwargs", [
    (("RNN", 3, 4), dict(nonlinearity="sigmoid")), (("RNN", 3, 4, 1, "gelu"), {}),
    (("GRU", 3, 4), dict(proj_size=2)), (("RNN", 3, 4), dict(proj_size=2)),
    (("LSTM", 3, 4), dict(proj_size=4)), (("LSTM", 3, 4), dict(proj_size=-1)),
    (("LSTM", 3, 4), dict(dropout=1.5)), (("GRU", 3, 4), dict(dropout=True)),
    (("LSTM", 3, 0), {}), (("LSTM", 0, 3), {}), (("GRU", 3, 4), dict(num_layers=0)),
    (("LSTM", 3.0, 4), {}), (("RNN", 3, 4.0), {}), (("GRU", 3, 4), dict(bias=1)),
    (("LSTM", 3, 4), dict(batch_first=None))], ids=str)
def test_constructor_errors_match_torch(args, kwargs):
    _raises_like_torch(*_both(*args, **kwargs))


def _run_both(name, args, x_shape, hx_shapes=None, x_dtype=np.float32, **kwargs):
    """callables running name(*args, **kwargs) on zeros of x_shape (and hx of hx_shapes: a
    shape, or LSTM's pair) in cgrad and in PyTorch"""
    c, t = _pair(name, *args, **kwargs)

    def run(lib, m):
        dt = {np.float32: lib.float32, np.float64: lib.float64}[x_dtype]
        if hx_shapes is None:
            return m(lib.zeros(*x_shape, dtype=dt))
        if isinstance(hx_shapes[0], tuple):
            return m(lib.zeros(*x_shape, dtype=dt), tuple(lib.zeros(*s) for s in hx_shapes))
        return m(lib.zeros(*x_shape, dtype=dt), lib.zeros(*hx_shapes))
    return lambda: run(cgrad, c), lambda: run(torch, t)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_forward_errors_match_torch(name):
    lstm = name == "LSTM"
    pair = (lambda a, b: (a, b)) if lstm else (lambda a, b: a)
    cases = [
        ((3, 4), (2,), None), ((3, 4), (2, 3, 4, 5), None),       # input dims
        ((3, 4), (2, 2, 5), None), ((3, 4), (2, 5), None),        # input_size
        ((3, 4), (2, 2, 3), pair((1, 3, 4), (1, 2, 4))),          # hx batch
        ((3, 4), (2, 2, 3), pair((2, 2, 4), (1, 2, 4))),          # hx layers
        ((3, 4), (2, 2, 3), pair((1, 2, 5), (1, 2, 4))),          # hx size
        ((3, 4), (2, 2, 3), pair((1, 2), (1, 2, 4))),             # hx dims, batched
        ((3, 4), (2, 3), pair((1, 2, 4), (1, 4))),                # hx dims, unbatched
        ((3, 4), (2, 3), pair((2, 4), (1, 4))),                   # hx layers, unbatched
        ((3, 4), (0, 2, 3), None),                                # no time steps
    ]
    if lstm:
        cases += [((3, 4), (2, 2, 3), ((1, 2, 4), (1, 2, 5))),    # c size
                  ((3, 4), (2, 2, 3), ((1, 2, 4), (2, 4)))]       # c dims
    for args, x_shape, hx in cases:
        _raises_like_torch(*_run_both(name, args, x_shape, hx))
    if lstm:                                                   # three states, batched or
        for x_shape in ((2, 2, 3), (2, 3)):                    # not (the dims checked first)
            _raises_like_torch(*_run_both(name, (3, 4), x_shape, ((1, 2, 4),) * 3))
    _raises_like_torch(*_run_both(name, (3, 4), (2, 2, 3), x_dtype=np.float64))  # dtype
    _raises_like_torch(*_run_both(name, (3, 4), (2, 2, 5), batch_first=True))
    _raises_like_torch(*_run_both(name, (3, 4), (2, 2, 3), pair((2, 2, 4), (2, 2, 4)),
                                  bidirectional=True, num_layers=2))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_errors_match_torch(name):
    lstm = name == "LSTMCell"
    pair = (lambda a, b: (a, b)) if lstm else (lambda a, b: a)
    cases = [((2, 5), None), ((2, 2, 3), None), ((5,), None),
             ((2, 3), pair((3, 4), (3, 4))), ((2, 3), pair((2, 5), (2, 4))),
             ((2, 3), pair((2, 2, 4), (2, 4))), ((2, 3), pair((4,), (4,))),
             ((3,), pair((2, 4), (2, 4)))]
    if lstm:
        cases += [((2, 3), ((2, 4), (2, 5))), ((2, 3), ((2, 4), (3, 4))),
                  ((2, 3), ((2, 4), (1, 2, 4))), ((2, 3), (2, 4))]     # h alone, not a pair
    for x_shape, hx in cases:
        _raises_like_torch(*_run_both(name, (3, 4), x_shape, hx))
    c, t = _pair("RNNCell", 3, 4)
    c.nonlinearity = t.nonlinearity = "gelu"            # checked at forward, as PyTorch
    _raises_like_torch(lambda: c(cgrad.zeros(2, 3)), lambda: t(torch.zeros(2, 3)))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"


# ---- training -----------------------------------------------------------------------------------
class _Tagger:
    """an LSTM (or GRU) followed by a Linear over each step's output, in either library"""

    def __init__(self, lib, name):
        self.rnn = getattr(lib.nn, name)(4, 8, num_layers=2, batch_first=True,
                                         bidirectional=True)
        self.head = lib.nn.Linear(16, 3)
        self.params = list(self.rnn.parameters()) + list(self.head.parameters())

    def __call__(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_short_training_loop_matches_torch(backend, name):
    torch.manual_seed(0)
    t, c = _Tagger(torch, name), _Tagger(cgrad, name)
    _twin(c.rnn, t.rnn, np.float32)
    _twin(c.head, t.head, np.float32)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 7, 4, generator=g)
    y = x[..., :3].argmax(-1)                  # a learnable target: the largest of 3 features
    t_opt = torch.optim.SGD(t.params, lr=0.5, momentum=0.9)
    c_opt = cgrad.optim.SGD(c.params, lr=0.5, momentum=0.9)
    t_losses, c_losses = [], []
    for _ in range(10):
        for m, opt, losses, lib, xi, yi in ((t, t_opt, t_losses, torch, x, y),
                                           (c, c_opt, c_losses, cgrad, _cg(x), _cg(y))):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(m(xi).reshape(-1, 3), yi.reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(c_losses, t_losses, rtol=2e-5)
    assert c_losses[-1] < 0.9 * c_losses[0]                    # it learns
    for cp, tp in zip(c.params, t.params):
        _close(cp, tp, np.float32)


# ---- the backward of an unrolled loop: the parts of one tensor share one gradient buffer ---------
def test_parts_of_a_tensor_add_into_one_gradient_like_torch(backend):
    # unbind, chunk, x[t], strided slices and None, onto a leaf that already has a
    # .grad (added in place, as PyTorch) and under autograd.grad (no .grad touched)
    def loss(lib, x):
        parts = list(x.unbind(0)) + list(x.chunk(3, 1)) + [x[1], x[-1, 1::2], x[None, 2:, 1]]
        return sum((p * (i + 1)).sum() for i, p in enumerate(parts))
    t_x = _randn(4, 6, dtype=np.float64, seed=0)
    c_x = _cg(t_x)
    t_x.grad, c_x.grad = torch.ones(4, 6, dtype=torch.float64), cgrad.ones(4, 6,
                                                                          dtype=cgrad.float64)
    before = c_x.grad
    loss(torch, t_x).backward()
    loss(cgrad, c_x).backward()
    _close(c_x.grad, t_x.grad)
    assert c_x.grad is before
    (t_g,) = torch.autograd.grad(loss(torch, t_x), t_x)
    (c_g,) = cgrad.autograd.grad(loss(cgrad, c_x), c_x)
    _close(c_g, t_g)
    _close(c_x.grad, t_x.grad)


def test_unbind_backward_is_linear_in_the_parts(backend, monkeypatch):
    # 2000 parts of a (2000, 256) tensor: each part's gradient goes into one buffer; placing
    # each in a full-size array of zeros (2000 x 4 MB, seconds) happens for the first only
    from cgrad.ops.shape import BasicIndex
    placed = []
    place = BasicIndex.gradient.place
    monkeypatch.setattr(BasicIndex.gradient, "place",
                        staticmethod(lambda *args: placed.append(1) or place(*args)))
    x = cgrad.randn(2000, 256, dtype=cgrad.float64, requires_grad=True)
    for _ in range(2):                    # into the engine's buffer, then into x.grad
        sum(p.sum() for p in x.unbind(0)).backward()
    assert len(placed) == 1
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)
