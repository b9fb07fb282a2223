"""Recurrent layers, PyTorch's RNN, LSTM and GRU and their one-step cells. The arithmetic
follows PyTorch's CPU kernels (aten/src/ATen/native/RNN.cpp) term for term: the input's
product with weight_ih is taken once for the whole sequence, then each step adds it to the
hidden state's product with weight_hh. A layer-direction's steps run as one op
(ops/recurrent.py's Recurrence, float32 and float64); packed sequences, projections, other
dtypes and the cells compose each step from linear, sigmoid, tanh, chunk and stack, which also
give Recurrence its recorded backward (create_graph)."""
import math
import numbers
import warnings

from .. import _dtype
from .._functions import cat, stack
from ..creation import empty, zeros
from ..autograd.function import renamed
from ..ops import shape as S
from ..ops.recurrent import Recurrence
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence
from ..tensor import Tensor, _dim

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
# LSTM's h of every step: rows of Recurrence's output (its last row is c), shown as the
# composed steps' stack
_Steps = renamed("Steps", S.BasicIndex, "StackBackward0", "the h rows of an LSTM's Recurrence")


# ---- one time step: x_w is the input's linear_ih, state a tuple ((h,) or LSTM's (h, c)) ------
def _simple_step(x_w, state, w_hh, b_hh, relu):
    """h' = act(W_hh h + b_hh + x_w), act tanh or relu"""
    pre = F.linear(state[0], w_hh, b_hh) + x_w
    return (pre.relu() if relu else pre.tanh(),)


def _lstm_step(x_w, state, w_hh, b_hh, w_hr=None):
    """gates i, f, g, o of W_hh h + b_hh + x_w; c' = f c + i g, h' = o tanh(c') (times
    W_hr^T with a projection)"""
    h, c = state
    i, f, g, o = (F.linear(h, w_hh, b_hh) + x_w).unsafe_chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr is None else F.linear(h, w_hr), c)


def _gru_step(x_w, state, w_hh, b_hh):
    """r, z = sigmoid(x_w + W_h h + b_h) per gate; n = tanh(x_wn + r (W_hn h + b_hn));
    h' = (h - n) z + n, PyTorch's form of (1 - z) n + z h"""
    h, = state
    x_r, x_z, x_n = x_w.unsafe_chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).unsafe_chunk(3, -1)
    r = (h_r + x_r).sigmoid()
    z = (h_z + x_z).sigmoid()
    n = (x_n + h_n * r).tanh()
    return ((h - n) * z + n,)


def _step(mode, x_w, state, w_hh, b_hh, w_hr=None):
    if mode == "LSTM":
        return _lstm_step(x_w, state, w_hh, b_hh, w_hr)
    if mode == "GRU":
        return _gru_step(x_w, state, w_hh, b_hh)
    return _simple_step(x_w, state, w_hh, b_hh, mode == "RNN_RELU")


def _init_uniform(module):
    """PyTorch's init of every recurrent weight and bias: U(-1/sqrt(hidden), 1/sqrt(hidden))"""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


# ---- the sequence layers ----------------------------------------------------------------------
class RNNBase(Module):
    """What RNN, LSTM and GRU share: num_layers stacked layers of a step run over the sequence
    (each way when bidirectional), dropout between layers in training. Input (L, N, H_in)
    ((N, L, H_in) if batch_first, (L, H_in) unbatched), hidden state (layers * directions, N,
    H_out)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout = float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                                  ("input_size", input_size, int),
                                  ("hidden_size", hidden_size, int)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
            if kind is int and value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        dtype = dtype or _dtype.DEFAULT
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:self._directions]:
                layer_input = input_size if layer == 0 else real_hidden * self._directions
                shapes = {"weight_ih": (gate_size, layer_input),
                          "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    names.append(f"{kind}_l{layer}{suffix}")
                    setattr(self, names[-1], Parameter(empty(*shape, dtype=dtype)))
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        _init_uniform(self)

    def flatten_parameters(self):
        """A no-op, as PyTorch's off cuDNN."""

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self, index):
        """(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr) of layer-direction index, None
        where absent"""
        names = self._all_weights[index]
        suffix = names[0][len("weight_ih"):]
        return [getattr(self, kind + suffix) if kind + suffix in names else None
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]

    # ---- argument checks, with PyTorch's messages --------------------------------------------
    def _input_dims_error(self, input):
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        tensor = " tensor" if name == "RNN" else ""
        return ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{tensor} "
                          "instead")

    def _state(self, hx):
        """hx as a tuple of states: LSTM's (h, c), or the one hidden state"""
        if self.mode != "LSTM":
            return (hx,)
        state = tuple(hx)
        if len(state) != 2:
            raise RuntimeError("lstm expects two hidden states")
        return state

    def _check_hx_dims(self, hx, batched):
        want = 3 if batched else 2
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode == "LSTM":
            if hx[0].dim() != want or hx[1].dim() != want:
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but "
                                   f"got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        elif hx.dim() != want:
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{hx.dim()}-D tensor")

    def _check_forward_args(self, input, state, batch, packed=False):
        weight = self.weight_ih_l0
        # PyTorch's LSTM leaves a packed input's dtype and size to its kernel, where the first
        # matrix product fails (a RuntimeError, as cgrad's F.linear raises)
        lstm_packed = packed and self.mode == "LSTM"
        if input.dtype != weight.dtype and not lstm_packed:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight.dtype}). Convert input: input.to({weight.dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if packed and input.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size and not lstm_packed:
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        for i, (s, size) in enumerate(zip(state, self._state_sizes())):
            expected = (self.num_layers * self._directions, batch, size)
            if tuple(s.shape) != expected:
                which = f"hidden[{i}]" if self.mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(s.shape)}")

    def _state_sizes(self):
        """the last dim of h (and of LSTM's c)"""
        if self.mode == "LSTM":
            return (self.proj_size or self.hidden_size, self.hidden_size)
        return (self.hidden_size,)

    def _zero_state(self, batch, dtype):
        return tuple(zeros(self.num_layers * self._directions, batch, size, dtype=dtype)
                     for size in self._state_sizes())

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, input, hx=None):
        """(output, h_n), or LSTM's (output, (h_n, c_n)); output holds the last layer's h at
        every step (both directions' concatenated). A PackedSequence input gives a
        PackedSequence output."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if input.dim() not in (2, 3):
            raise self._input_dims_error(input)
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        if self.batch_first:
            input = input.transpose(0, 1)
        if hx is None:
            state = self._zero_state(input.shape[1], input.dtype)
        else:
            self._check_hx_dims(hx, batched)
            state = self._state(hx)
            if not batched:
                state = tuple(s.unsqueeze(1) for s in state)
        self._check_forward_args(input, state, input.shape[1])
        if input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        output, state = self._run(input, state)
        if self.batch_first:          # (PyTorch's LSTM transposes out of place, RNN's in place)
            output = (output.transpose(0, 1) if self.mode == "LSTM"
                      else S.TransposeInPlace.apply(output, 0, 1))
        if not batched:
            output = output.squeeze(batch_dim)
            state = tuple(s.squeeze(1) for s in state)
        return output, (state if self.mode == "LSTM" else state[0])

    def _forward_packed(self, packed, hx):
        """PyTorch's packed path: packed.data (sum of lengths, H_in) steps through each layer
        batch_sizes[t] rows at a time. hx and the final states are in the caller's batch
        order: permuted by sorted_indices into the packed order, and back by unsorted_indices."""
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        batch = int(batch_sizes[0])
        if hx is None:
            state = self._zero_state(batch, data.dtype)
        else:
            state = _permuted(self._state(hx), sorted_indices)
        self._check_forward_args(data, state, batch, packed=True)
        sizes = batch_sizes.tolist()
        if (self.mode == "LSTM" and not self.proj_size and data.dtype == _dtype.float32
                and sizes[-1] == batch):
            # PyTorch runs this case (no sequence shorter than another) on oneDNN: padded
            # steps, the output viewed as packed data (ViewBackward0)
            output, state = self._run(data.reshape(len(sizes), batch, -1), state)
            output = output.view(-1, output.shape[-1])
        else:
            output, state = self._run(data, state, sizes)
        state = _permuted(state, unsorted_indices)
        return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                state if self.mode == "LSTM" else state[0])

    def _run(self, input, state, batch_sizes=None):
        """the time-major (L, N, H_in) input, or packed data with its batch_sizes (a list),
        through every layer: (output, final state)"""
        weights = [self._layer_weights(i) for i in range(len(self._all_weights))]
        return _run_layers(self.mode, input, state, weights, self.num_layers, self._directions,
                           self.dropout if self.training else 0, batch_sizes)

    def extra_repr(self):
        # as PyTorch's: the sizes, then each argument that is not at its default
        defaults = (("proj_size", 0), ("num_layers", 1), ("bias", True), ("batch_first", False),
                    ("dropout", 0), ("bidirectional", False))
        return ", ".join([f"{self.input_size}, {self.hidden_size}"]
                         + [f"{k}={getattr(self, k)}" for k, d in defaults if getattr(self, k) != d])


def _permuted(state, permutation):
    """each state tensor's batch (dim 1) reordered by permutation (None: as it is)"""
    if permutation is None:
        return state
    return tuple(s.index_select(1, permutation) for s in state)


def _run_layers(mode, input, state, weights, num_layers, directions, dropout,
                batch_sizes=None):
    """the time-major (L, N, H_in) input, or packed data with its batch_sizes (a list),
    through num_layers layers of directions each, weights[layer * directions + direction] a
    layer's (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr), dropout between layers:
    (output, final state)"""
    initial = [s.unbind(0) for s in state]
    finals = []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            out, last = _run_direction(mode, input, tuple(s[index] for s in initial),
                                       weights[index], direction == 1, batch_sizes)
            outputs.append(out)
            finals.append(last)
        input = outputs[0] if len(outputs) == 1 else cat(outputs, -1)
        if dropout and layer < num_layers - 1:
            input = F.dropout(input, dropout, True)
    return input, tuple(stack(parts) for parts in zip(*finals))


def _run_direction(mode, input, state, weights, reverse, batch_sizes=None):
    """one layer's step over the sequence (from its end if reverse): (the h of every step
    in time order, the last state). Without packing or projection, float32 and float64, the
    steps run as one op (Recurrence); else composed, a few ops a step."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    x_w = F.linear(input, w_ih, b_ih)
    if batch_sizes is not None:
        run = _run_packed_reverse if reverse else _run_packed
        return run(mode, x_w.split(batch_sizes), batch_sizes, state, (w_hh, b_hh, w_hr))
    dtype = x_w.dtype
    # every state and weight of x_w's dtype (a mixed one: the composed steps, whose products
    # raise PyTorch's error)
    if (w_hr is None and dtype in (_dtype.float32, _dtype.float64) and all(
            t is None or t.dtype == dtype for t in (*state, w_hh, b_hh))):
        steps = x_w.shape[0]
        out = Recurrence.apply(x_w, *state, *((None,) if mode != "LSTM" else ()), w_hh, b_hh,
                               mode, reverse)
        hs = out if mode != "LSTM" else _Steps.apply(out, (slice(0, steps),))
        h = hs[0 if reverse else steps - 1]
        return hs, ((h, out[steps]) if mode == "LSTM" else (h,))
    return _composed_direction(mode, x_w, state, (w_hh, b_hh, w_hr), reverse)


def _composed_direction(mode, x_w, state, weights, reverse):
    """_run_direction's steps, an op for each sigmoid, product and chunk"""
    steps = x_w.unbind(0)
    outputs = []
    for x_w in (reversed(steps) if reverse else steps):
        state = _step(mode, x_w, state, *weights)
        outputs.append(state[0])
    if reverse:
        outputs.reverse()
    return stack(outputs), state


def _composed_recurrence(mode, x_w, h0, c0, w_hh, b_hh, reverse):
    """Recurrence's output by the composed steps (its recorded backward differentiates this)"""
    hs, state = _composed_direction(mode, x_w, (h0, c0) if mode == "LSTM" else (h0,),
                                    (w_hh, b_hh), reverse)
    return cat([hs, state[1].unsqueeze(0)]) if mode == "LSTM" else hs


def _run_packed(mode, steps, batch_sizes, state, weights):
    """PyTorch's PackedLayer: where the batch shrinks, the sequences that ended keep
    their state as final; returns (the packed h of every step, the final states in
    packed column order)"""
    outputs, finals = [], []
    for x_w, n in zip(steps, batch_sizes):
        if n < state[0].shape[0]:
            finals.append(tuple(s[n:] for s in state))
            state = tuple(s[:n] for s in state)
        state = _step(mode, x_w, state, *weights)
        outputs.append(state[0])
    finals.append(state)
    return cat(outputs), tuple(cat(parts[::-1]) for parts in zip(*finals))


def _run_packed_reverse(mode, steps, batch_sizes, initial, weights):
    """PyTorch's ReversedPackedLayer: from the last step back, each sequence joins (with
    its initial state) at its own last step"""
    state = tuple(s[:batch_sizes[-1]] for s in initial)
    outputs = []
    for x_w, n in zip(reversed(steps), reversed(batch_sizes)):
        have = state[0].shape[0]
        if n > have:
            state = tuple(cat([s, s0[have:n]]) for s, s0 in zip(state, initial))
        state = _step(mode, x_w, state, *weights)
        outputs.append(state[0])
    return cat(outputs[::-1]), state


def _no_proj_size(kwargs):
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), act tanh or relu.
    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)"""

    def __init__(self, *args, **kwargs):
        _no_proj_size(kwargs)
        if len(args) > 3:                 # nonlinearity is the 4th positional argument
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__("RNN_" + self.nonlinearity.upper(), *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o (in that order in the weights' rows);
    c_t = f c_(t-1) + i g, h_t = o tanh(c_t), projected by weight_hr if proj_size > 0.
    LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0); forward(input, (h_0, c_0)) -> output, (h_n, c_n)"""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n (in that order in the weights' rows);
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h_t = (1 - z) n + z h_(t-1).
    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)"""

    def __init__(self, *args, **kwargs):
        _no_proj_size(kwargs)
        super().__init__("GRU", *args, **kwargs)


# ---- the cells: one step of one layer ---------------------------------------------------------
class RNNCellBase(Module):
    """weight_ih (chunks * hidden, input), weight_hh (chunks * hidden, hidden), bias_ih and
    bias_hh (chunks * hidden) or None, all U(-1/sqrt(hidden), 1/sqrt(hidden))"""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = dtype or _dtype.DEFAULT
        rows = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(name, Parameter(empty(rows, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        _init_uniform(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _forward(self, mode, input, state):
        """checks, then one step on (batch, input_size) input or an unbatched (input_size,)
        one; state a tuple of hidden tensors (None: zeros)"""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             "instead")
        for i, s in enumerate(state or ()):
            if s.dim() not in (1, 2):
                which = f"hx[{i}]" if mode == "LSTM" else "hidden"
                raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {s.dim()}D "
                                 "instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if state is None:
            h = zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
            state = (h, h) if mode == "LSTM" else (h,)
        elif not batched:
            if mode == "LSTM":      # PyTorch's LSTMCell takes hx[0] and hx[1] (IndexError if
                state = (state[0], state[1])    # fewer; more are dropped)
            state = tuple(s.unsqueeze(0) for s in state)
        if mode == "LSTM" and len(state) != 2:      # lstm_cell's first check
            raise RuntimeError("lstm_cell expects two hidden states")
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        for i, s in enumerate(state):
            if input.shape[0] != s.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{i} "
                                   f"batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {s.shape[1]}, "
                                   f"expected {self.hidden_size}")
        x_w = F.linear(input, self.weight_ih, self.bias_ih)
        state = _step(mode, x_w, state, self.weight_hh, self.bias_hh)
        return state if batched else tuple(s.squeeze(0) for s in state)


class RNNCell(RNNCellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu"""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        mode = "RNN_" + self.nonlinearity.upper()
        return self._forward(mode, input, None if hx is None else (hx,))[0]


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)) -> (h', c')"""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if isinstance(hx, Tensor):          # (tuple() would split it into its rows)
            raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                            "not Tensor")
        return self._forward("LSTM", input, None if hx is None else tuple(hx))


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h) -> h'"""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._forward("GRU", input, None if hx is None else (hx,))[0]


# ---- PyTorch's low-level cell functions (torch.lstm_cell, ...): the cells' step, weights given
def _cell_function(mode):
    def cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        state = tuple(hx) if mode == "LSTM" else (hx,)
        if len(state) != 2 and mode == "LSTM":
            raise RuntimeError("lstm_cell expects two hidden states")
        if input.shape[-1] != w_ih.shape[1]:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {w_ih.shape[1]}")
        out = _step(mode, F.linear(input, w_ih, b_ih), state, w_hh, b_hh)
        return out if mode == "LSTM" else out[0]
    cell.__name__ = cell.__qualname__ = {"LSTM": "lstm_cell", "GRU": "gru_cell",
                                         "RNN_TANH": "rnn_tanh_cell",
                                         "RNN_RELU": "rnn_relu_cell"}[mode]
    cell.__doc__ = (f"One {mode} step of input with state hx and the given weights and biases "
                    "(as the matching cell module computes it)")
    return cell


lstm_cell, gru_cell = _cell_function("LSTM"), _cell_function("GRU")
rnn_tanh_cell, rnn_relu_cell = _cell_function("RNN_TANH"), _cell_function("RNN_RELU")


# ---- PyTorch's low-level sequence functions (torch.lstm, ...): nn.RNN/LSTM/GRU's computation,
# weights and states given: fn(input, hx, params, has_biases, num_layers, dropout, train,
# bidirectional, batch_first), or on packed data fn(data, batch_sizes, hx, params, has_biases,
# num_layers, dropout, train, bidirectional)
def _sequence_function(mode, name):
    def run(input, *args):
        packed = isinstance(args[0] if mode == "LSTM" else args[1], Tensor) if args else False
        if len(args) != 8:
            raise TypeError(f"{name}() takes 9 arguments ({len(args) + 1} given)")
        if packed:
            batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional = args
            batch_first, sizes = False, batch_sizes.tolist()
        else:
            hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = args
            sizes = None
        state = tuple(hx) if mode == "LSTM" else (hx,)
        if mode == "LSTM" and len(state) != 2:
            raise RuntimeError("lstm expects two hidden states")
        if input.dim() != (2 if packed else 3):
            _dim(2, input.dim())                     # (PyTorch's IndexError)
        if batch_first:
            input = input.transpose(0, 1)
        directions = 2 if bidirectional else 1
        projected = mode == "LSTM" and state[0].shape[-1] != state[1].shape[-1]
        stride = 2 + 2 * bool(has_biases) + projected
        params = list(params)
        if len(params) != stride * num_layers * directions:     # (PyTorch's checks the
            raise RuntimeError("got an incorrect number of RNN parameters")   # stride only)
        w_hh = params[1]             # (gates * hidden_size, the size of h)
        for i, (s, size) in enumerate(zip(state, (w_hh.shape[1], w_hh.shape[0] // 4))):
            expected = (num_layers * directions, sizes[0] if packed else input.shape[1], size)
            if tuple(s.shape) != expected:
                which = f"hidden[{i}]" if mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(s.shape)}")
        weights = []
        for i in range(0, len(params), stride):
            w_ih, w_hh, *rest = params[i:i + stride]
            b_ih, b_hh = rest[:2] if has_biases else (None, None)
            weights.append((w_ih, w_hh, b_ih, b_hh, rest[-1] if projected else None))
        if train and num_layers > 1 and not 0 <= dropout <= 1:    # (ATen's dropout's error)
            raise RuntimeError(f"dropout probability has to be between 0 and 1, but got "
                               f"{dropout}")
        output, state = _run_layers(mode, input, state, weights, num_layers, directions,
                                    dropout if train else 0, sizes)
        if batch_first:
            output = output.transpose(0, 1)
        return (output,) + state
    run.__name__ = run.__qualname__ = name
    run.__doc__ = (f"(output, {'h_n, c_n' if mode == 'LSTM' else 'h_n'}) of nn.{mode[:3]}'s "
                   f"computation with the weights given (params: each layer's and direction's "
                   f"weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr] in turn)")
    return run


lstm, gru = _sequence_function("LSTM", "lstm"), _sequence_function("GRU", "gru")
rnn_tanh = _sequence_function("RNN_TANH", "rnn_tanh")
rnn_relu = _sequence_function("RNN_RELU", "rnn_relu")
