"""One layer-direction of RNN, LSTM or GRU over a whole sequence as one op (as PyTorch's float32
LSTM is one oneDNN node): the steps' formulas are PyTorch's CPU cells' (aten RNN.cpp), in the
order the composed steps in nn/rnn.py take them, but without an autograd node per sigmoid,
chunk and product. At 32 x 128 a step's composition cost ~0.2 ms of Python, more than its
arithmetic. The steps themselves are a kernel (lstm_sequence, gru_sequence, rnn_sequence and
their backwards): compiled for float32, no Python between one step's product and the next.
(Their gates take the kernels' sigmoid and tanh at every size, where the composed steps take
NumPy's below the kernels' thresholds: the two may differ in the last bit.)"""
import numpy as np

from .. import backends as B
from ..autograd.function import Op


class Recurrence(Op):
    """hs = the h of every step of x_w (L, N, G H), the input's products with weight_ih
    (bias_ih added), from h0 (and LSTM's c0) through w_hh and b_hh, from the last step back
    where reverse; LSTM's output has one more row, its last c. Backward runs the steps back
    (backpropagation through time): each step's gate gradients D, dh = D w_hh; the weight's
    gradient is one product over all steps, D^T h_before."""
    grad_fn_name = "StackBackward0"              # the composed steps' stack of the h's
    returns_fresh = True

    @staticmethod
    def forward(ctx, x_w, h0, c0, w_hh, b_hh, mode, reverse):
        ctx.save_for_backward(x_w, h0, c0, w_hh, b_hh)
        ctx.mode, ctx.reverse = mode, reverse
        k = B.kernels                   # (the whole loop is a kernel: compiled for float32)
        # ctx.steps: what the backward reads, by time: fresh arrays the caller cannot reach
        if mode == "LSTM":              # act, c_before, tanh_c
            out, ctx.h_before, *ctx.steps = k.lstm_sequence(x_w, h0, c0, w_hh, b_hh, reverse)
        elif mode == "GRU":             # rz, n, h_n
            out, ctx.h_before, *ctx.steps = k.gru_sequence(x_w, h0, w_hh, b_hh, reverse)
        else:                           # the h's: a copy, as out goes to the caller
            out, ctx.h_before = k.rnn_sequence(x_w, h0, w_hh, b_hh, reverse,
                                               mode == "RNN_RELU")
            ctx.steps = [out.copy()]
        return out

    @staticmethod
    def backward(ctx, g):
        x_w, h0, c0, w_hh, b_hh = ctx.saved_tensors
        k = B.kernels
        mode, hidden = ctx.mode, h0.shape[1]
        need_x, need_h0, need_c0, need_w, need_b = ctx.needs_input_grad[:5]
        dc = None
        if mode == "LSTM":              # d_h: the gate gradients w_hh's product takes
            d_x, dh, dc = k.lstm_sequence_backward(g, *ctx.steps, w_hh, ctx.reverse)
            d_h = d_x
        elif mode == "GRU":             # (GRU's n takes r (W_hn h + b_hn) there)
            d_x, d_h, dh = k.gru_sequence_backward(g, ctx.h_before, *ctx.steps, w_hh,
                                                   ctx.reverse)
        else:
            d_x, dh = k.rnn_sequence_backward(g, *ctx.steps, w_hh, ctx.reverse,
                                              mode == "RNN_RELU")
            d_h = d_x
        rows = d_h.reshape(-1, d_h.shape[-1])
        d_w = k.matmul(rows.T, ctx.h_before.reshape(-1, hidden)) if need_w else None
        d_b = np.add.reduce(rows, axis=0) if need_b and b_hh is not None else None
        return (d_x if need_x else None, dh if need_h0 else None,
                dc if need_c0 else None, d_w, d_b, None, None)

    @staticmethod
    def graph_backward(ctx, g):
        """create_graph: the composed steps run again on the inputs and differentiated with
        create_graph, so every order of gradient comes from their ops"""
        from ..autograd import grad
        from ..autograd.grad_mode import enable_grad
        from ..nn.rnn import _composed_recurrence
        args = ctx.saved_for_graph(0, 1, 2, 3, 4)
        wanted = [i for i in range(5) if ctx.needs_input_grad[i]]
        with enable_grad():
            out = _composed_recurrence(ctx.mode, *args, ctx.reverse)
        grads = grad(out, [args[i] for i in wanted], g, create_graph=True, allow_unused=True)
        result = [None] * 7
        for i, d in zip(wanted, grads):
            result[i] = d
        return tuple(result)
