"""nn.utils.rnn (packed sequences) and RNN, LSTM, GRU on packed input, against PyTorch: the
packed data, batch_sizes and indices, padded tensors and lengths, outputs, final states and
the gradients of inputs, initial states and every parameter, in float32 and float64 on both
backends; then PyTorch's errors and a short training loop of an LSTM classifier."""
import numpy as np
import pytest

import cgrad
from cgrad.nn.utils import rnn as crnn
from test_nn_layers import DTYPES, _cg, _close, _raises_like_torch, _twin
from test_rnn import MODES, _gradient_penalty, _hidden, _pair, _randn

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn

LENGTHS = [[5, 3, 3, 1], [2, 5, 1, 4], [3]]           # sorted, unsorted with a tie, one


def _same_ints(c, t):
    """an index tensor (or None) equal to PyTorch's, int64 as PyTorch's"""
    if t is None:
        assert c is None
        return
    assert c.dtype == cgrad.int64 and t.dtype == torch.int64
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def _same_packed(c, t, dtype):
    _close(c.data, t.data, dtype)
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        _same_ints(getattr(c, name), getattr(t, name))


def _backward_both(c_out, t_out, c_leaves, t_leaves, dtype):
    """the same random gradient through both outputs; the leaves' gradients compared"""
    g = torch.randn(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(1))
    t_out.backward(g)
    c_out.backward(_cg(g))
    for c, t in zip(c_leaves, t_leaves):
        _close(c.grad, t.grad, dtype)


def _grad_fn_name(t):
    return t.grad_fn.name().replace("torch::autograd::", "")    # PyTorch's CopySlices


# ---- packing and padding ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 3)], ids=str)
@pytest.mark.parametrize("lengths", LENGTHS, ids=str)
def test_pack_then_pad_matches_torch(backend, lengths, trailing, batch_first, dtype):
    steps, batch = max(lengths) + 1, len(lengths)         # one step of padding past the longest
    shape = ((batch, steps) if batch_first else (steps, batch)) + trailing
    x = _randn(*shape, dtype=dtype, seed=0)
    sort = sorted(lengths, reverse=True) == lengths
    for enforce_sorted in ([True, False] if sort else [False]):
        for as_tensor in (False, True):
            cx, x.grad = _cg(x), None
            c_len = cgrad.tensor(lengths) if as_tensor else lengths
            t_len = torch.tensor(lengths) if as_tensor else lengths
            c = crnn.pack_padded_sequence(cx, c_len, batch_first, enforce_sorted)
            t = trnn.pack_padded_sequence(x, t_len, batch_first, enforce_sorted)
            _same_packed(c, t, dtype)
            assert _grad_fn_name(c.data) == _grad_fn_name(t.data) == \
                "PackPaddedSequenceBackward0"
            for kwargs in ({}, dict(padding_value=-2.5, total_length=steps + 2)):
                c_pad, c_lengths = crnn.pad_packed_sequence(c, batch_first, **kwargs)
                t_pad, t_lengths = trnn.pad_packed_sequence(t, batch_first, **kwargs)
                _same_ints(c_lengths, t_lengths)
                assert _grad_fn_name(c_pad) == _grad_fn_name(t_pad)
                _close(c_pad, t_pad, dtype)
            _backward_both(c_pad, t_pad, [cx], [x], dtype)


def test_pack_with_float_or_int32_lengths_and_integer_data(backend):
    x = torch.arange(12).reshape(4, 3)
    for lengths in (torch.tensor([4.0, 3.0, 2.7]), torch.tensor([4, 3, 2], dtype=torch.int32),
                    [4.0, 3.0, 2.0]):
        c_len = _cg(lengths) if isinstance(lengths, torch.Tensor) else lengths
        c = crnn.pack_padded_sequence(_cg(x), c_len)
        t = trnn.pack_padded_sequence(x, lengths)
        np.testing.assert_array_equal(c.data.numpy(), t.data.numpy())
        _same_ints(c.batch_sizes, t.batch_sizes)
    assert repr(c) == repr(t).replace("torch", "cgrad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(backend, padding_side, batch_first, dtype):
    seqs = [_randn(n, 2, 3, dtype=dtype, seed=n) for n in (3, 5, 1)]
    c_seqs = [_cg(s) for s in seqs]
    c = crnn.pad_sequence(c_seqs, batch_first, 7.0, padding_side)
    t = trnn.pad_sequence(seqs, batch_first, 7.0, padding_side)
    _close(c, t, dtype)
    assert _grad_fn_name(c) == _grad_fn_name(t) == "CopySlices"
    _backward_both(c, t, c_seqs, seqs, dtype)
    # a tensor is a sequence of its rows; a tuple or generator does too
    x = _randn(3, 4, dtype=dtype, seed=0, requires_grad=False)
    _close(crnn.pad_sequence(_cg(x)), trnn.pad_sequence(x), dtype)
    _close(crnn.pad_sequence(iter([_cg(x[0]), _cg(x[1, :2])]), True),
           trnn.pad_sequence(iter([x[0], x[1, :2]]), True), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_unpack_and_unpad_match_torch(backend, enforce_sorted, dtype):
    lengths = (4, 4, 2, 1) if enforce_sorted else (2, 4, 1, 4)
    seqs = [_randn(n, 3, dtype=dtype, seed=i) for i, n in enumerate(lengths)]
    c_seqs = [_cg(s) for s in seqs]
    c = crnn.pack_sequence(c_seqs, enforce_sorted)
    t = trnn.pack_sequence(seqs, enforce_sorted)
    _same_packed(c, t, dtype)
    c_parts, t_parts = crnn.unpack_sequence(c), trnn.unpack_sequence(t)
    assert len(c_parts) == len(t_parts) == len(seqs)
    for cp, tp, s in zip(c_parts, t_parts, seqs):
        _close(cp, tp, dtype)
        _close(cp, s, dtype)
        assert _grad_fn_name(cp) == _grad_fn_name(tp)
    _backward_both(cgrad.cat(c_parts), torch.cat(t_parts), c_seqs, seqs, dtype)
    for batch_first in (False, True):
        t_pad = trnn.pad_sequence(seqs, batch_first).detach()
        c_pad = _cg(t_pad)
        t_len = torch.tensor(lengths)
        c_parts = crnn.unpad_sequence(c_pad, _cg(t_len), batch_first)
        t_parts = trnn.unpad_sequence(t_pad, t_len, batch_first)
        for cp, tp in zip(c_parts, t_parts):
            _close(cp, tp, dtype)


def test_packed_sequence_class_matches_torch():
    t = trnn.pack_sequence([torch.tensor([1, 2, 3]), torch.tensor([4]), torch.tensor([5, 6])],
                           enforce_sorted=False)
    c = crnn.pack_sequence([cgrad.tensor([1, 2, 3]), cgrad.tensor([4]), cgrad.tensor([5, 6])],
                           enforce_sorted=False)
    assert repr(c) == repr(t).replace("torch", "cgrad")
    assert isinstance(c, tuple) and c._fields == t._fields
    data, batch_sizes, sorted_indices, unsorted_indices = c
    assert c.float().data.dtype == cgrad.float32 and c.double().data.dtype == cgrad.float64
    assert c.long() is c and c.to(cgrad.int64) is c and c.cpu() is c and not c.is_cuda
    assert c.float().sorted_indices is sorted_indices
    for name, dtype in (("int", "int32"), ("short", "int16"), ("char", "int8"),
                        ("byte", "uint8"), ("half", "float16")):
        assert str(getattr(c, name)().data.dtype) == str(getattr(t, name)().data.dtype) \
            .replace("torch", "cgrad") == f"cgrad.{dtype}"
    # made from parts: unsorted_indices inverted from sorted_indices; (data, batch_sizes)
    made = crnn.PackedSequence(data, batch_sizes, cgrad.tensor([2, 0, 1]))
    _same_ints(made.unsorted_indices, trnn.invert_permutation(torch.tensor([2, 0, 1])))
    assert crnn.invert_permutation(None) is None
    assert crnn.PackedSequence((data, batch_sizes)).batch_sizes is batch_sizes
    _raises_like_torch(lambda: crnn.PackedSequence(data),
                       lambda: trnn.PackedSequence(t.data))
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        c.cuda()


def test_packing_errors_match_torch():
    x = torch.randn(4, 3, 2)
    cx = _cg(x)
    calls = [
        ("pack_padded_sequence", (x, [2, 4, 3]), {}),                   # not sorted
        ("pack_padded_sequence", (x, [4, 3, 0]), {}),                   # zero length
        ("pack_padded_sequence", (x, [4, 3, -1]), dict(enforce_sorted=False)),
        ("pack_padded_sequence", (x, [0, 3, 4]), dict(enforce_sorted=False)),
        ("pack_padded_sequence", (x, [4, 3]), {}),                      # too few lengths
        ("pack_padded_sequence", (x, torch.tensor([[4, 3, 2]])), {}),   # 2-D lengths
        ("pack_padded_sequence", (torch.randn(4), [4]), {}),            # 1-D input
        ("pack_padded_sequence", (torch.randn(4, 0, 2), []), {}),       # empty
        ("pad_sequence", (5,), {}),
        ("pad_sequence", ([x[0]],), dict(padding_side="middle")),
        ("pad_sequence", ([],), {}),
        ("pad_sequence", ([torch.tensor(1.0)],), {}),
        ("pack_sequence", ([torch.randn(2), torch.randn(3)],), {}),
        ("unpad_sequence", (x, [4, 3, 2]), {}),                         # lengths not a tensor
        ("unpad_sequence", (x, torch.tensor([4, 3])), {}),
    ]
    for name, args, kwargs in calls:
        c_args = [_cg(a) if isinstance(a, torch.Tensor) else
                  [_cg(b) for b in a] if isinstance(a, list) and a and
                  isinstance(a[0], torch.Tensor) else a for a in args]
        _raises_like_torch(lambda: getattr(crnn, name)(*c_args, **kwargs),
                           lambda: getattr(trnn, name)(*args, **kwargs))
    t_packed = trnn.pack_padded_sequence(x, [4, 3, 2])
    c_packed = crnn.pack_padded_sequence(cx, [4, 3, 2])
    _raises_like_torch(lambda: crnn.pad_packed_sequence(c_packed, total_length=3),
                       lambda: trnn.pad_packed_sequence(t_packed, total_length=3))
    with pytest.raises(RuntimeError):           # torch packs trailing dims of the wrong size
        crnn.pad_sequence([cgrad.randn(3, 2), cgrad.randn(2, 3)])
    with pytest.raises(RuntimeError, match="at most the padded length 4"):
        crnn.pack_padded_sequence(cx, [5, 3, 2])    # PyTorch reads past the end here


# ---- recurrent layers on packed input ----------------------------------------------------------
PACKED_LAYOUTS = [{}, dict(num_layers=2, bidirectional=True), dict(bidirectional=True),
                  dict(num_layers=2, bias=False)]


def _packed_pair(t_x, lengths, enforce_sorted):
    c_x = _cg(t_x)
    return (c_x, crnn.pack_padded_sequence(c_x, lengths, enforce_sorted=enforce_sorted),
            trnn.pack_padded_sequence(t_x, lengths, enforce_sorted=enforce_sorted))


def _states(state):
    return state if isinstance(state, tuple) else (state,)


def _compare_packed(c, t, t_x, lengths, t_hx, dtype, enforce_sorted=False):
    """c and t on the same packed input (and initial state): the packed output, the final
    states, their grad_fn names, and the gradients of x, hx and every parameter"""
    c_x, c_in, t_in = _packed_pair(t_x, lengths, enforce_sorted)
    c_hx = None if t_hx is None else (tuple(_cg(h) for h in t_hx) if isinstance(t_hx, tuple)
                                      else _cg(t_hx))
    t_out, t_state = t(t_in, t_hx)
    c_out, c_state = c(c_in, c_hx)
    assert isinstance(c_out, crnn.PackedSequence)
    _same_packed(c_out, t_out, dtype)
    assert c_out.batch_sizes is c_in.batch_sizes
    for cs, ts in zip(_states(c_state), _states(t_state)):
        _close(cs, ts, dtype)
        assert _grad_fn_name(cs) == _grad_fn_name(ts)
    assert _grad_fn_name(c_out.data) == _grad_fn_name(t_out.data)
    t_leaves = [t_x] + ([] if t_hx is None else list(_states(t_hx)))
    c_leaves = [c_x] + ([] if c_hx is None else list(_states(c_hx)))
    for leaf in t_leaves:
        leaf.grad = None
    c.zero_grad()
    t.zero_grad()
    _backward_both(cgrad.cat([c_out.data.reshape(-1)] + [s.reshape(-1) for s in _states(c_state)]),
                   torch.cat([t_out.data.reshape(-1)] + [s.reshape(-1) for s in _states(t_state)]),
                   c_leaves, t_leaves, dtype)
    for (name, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        _close(cp.grad, tp.grad, dtype)
    return c_out, t_out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", PACKED_LAYOUTS, ids=str)
@pytest.mark.parametrize("name, mode", MODES, ids=str)
def test_rnn_layers_on_packed_input_match_torch(backend, name, mode, layout, dtype):
    c, t = _twin(*_pair(name, 3, 5, **mode, **layout), dtype)
    layers = layout.get("num_layers", 1) * (2 if layout.get("bidirectional") else 1)
    x = _randn(6, 4, 3, dtype=dtype, seed=0)
    for lengths, sort in (([6, 4, 4, 1], True), ([2, 6, 1, 4], False), ([3, 3, 3, 3], True)):
        _compare_packed(c, t, x, lengths, None, dtype, sort)
        _compare_packed(c, t, x, lengths, _hidden(name, layers, 4, 5, dtype, seed=1), dtype,
                        sort)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_projection_on_packed_input_matches_torch(backend, dtype):
    c, t = _twin(*_pair("LSTM", 3, 5, proj_size=2, num_layers=2, bidirectional=True), dtype)
    x = _randn(5, 3, 3, dtype=dtype, seed=0)
    _compare_packed(c, t, x, [2, 5, 3], _hidden("LSTM", 4, 3, 5, dtype, seed=1, proj_size=2),
                    dtype)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_output_pads_back_like_torch(backend, name):
    # the usual pack -> rnn -> pad, batch first: padded steps are zero, as PyTorch's
    c, t = _twin(*_pair(name, 3, 4, batch_first=True, bidirectional=True), np.float64)
    x = _randn(3, 5, 3, dtype=np.float64, seed=0)
    c_x, lengths = _cg(x), [2, 5, 3]
    t_out, _ = t(trnn.pack_padded_sequence(x, lengths, True, False))
    c_out, _ = c(crnn.pack_padded_sequence(c_x, lengths, True, False))
    t_pad, t_len = trnn.pad_packed_sequence(t_out, True, total_length=6)
    c_pad, c_len = crnn.pad_packed_sequence(c_out, True, total_length=6)
    _same_ints(c_len, t_len)
    assert tuple(c_pad.shape) == (3, 6, 8)
    assert not c_pad[0, 2:].detach().numpy().any()
    _backward_both(c_pad, t_pad, [c_x], [x], np.float64)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_packed_double_backward_matches_torch(backend, name):
    # a gradient penalty through the packed layers: the input gradient, differentiated again
    c, t = _twin(*_pair(name, 3, 4, num_layers=2, bidirectional=True), np.float64)

    def loss_of(lib, m, x):
        utils = lib.nn.utils.rnn
        out, state = m(utils.pack_padded_sequence(x, [4, 5, 2], enforce_sorted=False))
        return (out.data ** 2).sum() + (_states(state)[0] ** 2).sum()

    _gradient_penalty(c, t, _randn(5, 3, 3, dtype=np.float64, seed=0), loss_of)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_dropout_between_layers_matches_torch(backend, name):
    # dropout=1 zeroes every layer's input after the first: deterministic, as PyTorch's
    c, t = _twin(*_pair(name, 3, 4, num_layers=2, dropout=1.0), np.float64)
    _compare_packed(c, t, _randn(4, 3, 3, dtype=np.float64, seed=0), [4, 1, 3], None,
                    np.float64)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_forward_errors_match_torch(name):
    lstm = name == "LSTM"
    x = torch.randn(4, 3, 2)
    packed = trnn.pack_padded_sequence(x, [4, 3, 2])
    unsorted = trnn.pack_padded_sequence(x, [4, 2, 3], enforce_sorted=False)
    three_d = trnn.PackedSequence(torch.randn(3, 1, 2), torch.tensor([2, 1]))

    def both(args, t_in, hx=None, **kwargs):
        c_mod, t_mod = _pair(name, *args, **kwargs)
        c_in = crnn.PackedSequence(_cg(t_in.data), _cg(t_in.batch_sizes),
                                   None if t_in.sorted_indices is None
                                   else _cg(t_in.sorted_indices))
        c_hx = None if hx is None else tuple(_cg(h) for h in hx) if lstm else _cg(hx)
        return lambda: c_mod(c_in, c_hx), lambda: t_mod(t_in, hx)

    pair = (lambda a, b: (torch.zeros(a), torch.zeros(b))) if lstm else \
        (lambda a, b: torch.zeros(a))
    if not lstm:          # PyTorch's LSTM leaves these to its kernel, with other messages
        _raises_like_torch(*both((2, 3), three_d))
        _raises_like_torch(*both((2, 3), packed, pair((1, 3, 3), (1, 3, 3)), num_layers=2))
        _raises_like_torch(*both((2, 3), unsorted, pair((1, 3, 4), (1, 3, 3))))
        _raises_like_torch(*both((2, 3), packed, pair((3, 3), (1, 3, 3))))
        _raises_like_torch(*both((2, 3), trnn.pack_padded_sequence(x.double(), [4, 3, 2])))
    else:
        _raises_like_torch(*both((5, 3), packed))                   # the matrix product's
        for args, t_in, hx in (((2, 3), three_d, None),
                               ((2, 3), packed, pair((1, 2, 3), (1, 3, 3))),
                               ((2, 3), packed, pair((1, 3, 3), (1, 3, 4)))):
            c_call, t_call = both(args, t_in, hx)
            with pytest.raises(RuntimeError):
                t_call()
            with pytest.raises(RuntimeError):
                c_call()
        c_call, t_call = both((2, 3), trnn.pack_padded_sequence(x.double(), [4, 3, 2]))
        with pytest.raises(RuntimeError, match="same dtype"):
            t_call()
        with pytest.raises(RuntimeError, match="same dtype"):
            c_call()
    if name != "LSTM":
        _raises_like_torch(*both((5, 3), packed))


# ---- training ---------------------------------------------------------------------------------
class _Classifier:
    """embedding -> LSTM over the packed sequences -> a Linear of the last layer's h_n"""

    def __init__(self, lib):
        self.lib = lib
        self.embed = lib.nn.Embedding(10, 4)
        self.lstm = lib.nn.LSTM(4, 6, num_layers=2, bidirectional=True)
        self.head = lib.nn.Linear(12, 3)
        self.params = [p for m in (self.embed, self.lstm, self.head) for p in m.parameters()]

    def __call__(self, tokens, lengths):
        utils = self.lib.nn.utils.rnn
        packed = utils.pack_padded_sequence(self.embed(tokens), lengths, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(self.lib.cat([h[-2], h[-1]], -1))    # both directions' last layer


def test_lstm_classifier_on_variable_lengths_trains_like_torch(backend):
    torch.manual_seed(0)
    t, c = _Classifier(torch), _Classifier(cgrad)
    for cm, tm in ((c.embed, t.embed), (c.lstm, t.lstm), (c.head, t.head)):
        _twin(cm, tm, np.float32)
    g = torch.Generator().manual_seed(0)
    lengths = [3, 7, 1, 5, 7, 2]
    tokens = torch.randint(1, 10, (7, len(lengths)), generator=g)
    for b, n in enumerate(lengths):
        tokens[n:, b] = 0                              # padding, never read
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    t_opt = torch.optim.SGD(t.params, lr=0.5, momentum=0.9)
    c_opt = cgrad.optim.SGD(c.params, lr=0.5, momentum=0.9)
    losses = {torch: [], cgrad: []}
    for _ in range(3):
        for m, opt, lib, tok, y, n in ((t, t_opt, torch, tokens, labels, torch.tensor(lengths)),
                                       (c, c_opt, cgrad, _cg(tokens), _cg(labels),
                                        cgrad.tensor(lengths))):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(m(tok, n), y)
            loss.backward()
            opt.step()
            losses[lib].append(loss.item())
    np.testing.assert_allclose(losses[cgrad], losses[torch], rtol=2e-5)
    assert losses[cgrad][-1] < losses[cgrad][0]                 # it learns
    for cp, tp in zip(c.params, t.params):
        _close(cp, tp, np.float32)
