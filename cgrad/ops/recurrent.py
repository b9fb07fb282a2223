"""One layer-direction of RNN, LSTM or GRU over a whole sequence as one op (as PyTorch's float32
LSTM is one oneDNN node): the steps' formulas are PyTorch's CPU cells' (aten RNN.cpp), in the
order the composed steps in nn/rnn.py take them, but without an autograd node per sigmoid,
chunk and product. At 32 x 128 a step's composition cost ~0.2 ms of Python, more than its
arithmetic. (The float32 LSTM's gates take the kernels' sigmoid and tanh at every size, where
the composed steps take NumPy's below the kernels' thresholds: the two may differ in the last
bit.)"""
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
        k = B.kernels
        if mode == "LSTM":              # the whole loop is a kernel (compiled for float32)
            out, ctx.h_before, *ctx.steps = k.lstm_sequence(x_w, h0, c0, w_hh, b_hh, reverse)
            return out                  # (ctx.steps: act, c_before and tanh_c, by time)
        steps, batch, hidden = x_w.shape[0], h0.shape[0], h0.shape[1]
        times = range(steps - 1, -1, -1) if reverse else range(steps)
        h_before = np.empty((steps, batch, hidden), x_w.dtype)     # each step's h input
        out = np.empty((steps, batch, hidden), x_w.dtype)
        w_t = np.ascontiguousarray(w_hh.T)      # OpenBLAS's h w^T runs ~1.5x slower at 32 x 128
        h = h0

        def h_w(h):                             # W_hh h + b_hh, as F.linear rounds it
            product = k.matmul(h, w_t)
            if b_hh is not None:
                product += b_hh
            return product

        # by time, what backward reads of each step: fresh arrays the caller cannot reach
        ctx.steps = [None] * steps
        if mode == "GRU":
            for t in times:
                h_before[t] = h
                hw = h_w(h)
                h_n = np.ascontiguousarray(hw[:, 2 * hidden:])          # W_hn h + b_hn
                rz = k.sigmoid(hw[:, :2 * hidden] + x_w[t, :, :2 * hidden])
                r, z = rz[:, :hidden], rz[:, hidden:]
                n = k.tanh(x_w[t, :, 2 * hidden:] + h_n * r)
                ctx.steps[t] = rz, n, h_n
                h = out[t] = (h - n) * z + n
        else:
            act = k.relu if mode == "RNN_RELU" else k.tanh
            for t in times:
                h_before[t] = h
                pre = h_w(h)
                pre += x_w[t]
                h = act(pre)
                ctx.steps[t] = (h,)
                out[t] = h
        ctx.h_before = h_before
        return out

    @staticmethod
    def backward(ctx, g):
        x_w, h0, c0, w_hh, b_hh = ctx.saved_tensors
        k = B.kernels
        mode, hidden = ctx.mode, h0.shape[1]
        steps = x_w.shape[0]
        need_x, need_h0, need_c0, need_w, need_b = ctx.needs_input_grad[:5]
        if mode == "LSTM":                          # (a kernel, as the forward)
            d_x, dh, dc = k.lstm_sequence_backward(g, *ctx.steps, w_hh, ctx.reverse)
        else:
            d_x, dh = np.empty(x_w.shape, x_w.dtype), np.zeros(h0.shape, h0.dtype)
        d_h = d_x if mode != "GRU" else np.empty_like(d_x)   # GRU's n: r (W_hn h + b_hn)
        times = range(steps) if ctx.reverse else range(steps - 1, -1, -1)
        if mode == "GRU":
            for t in times:
                dh_t = dh + g[t]
                rz, n, h_n = ctx.steps[t]
                r, z = rz[:, :hidden], rz[:, hidden:]
                d_pre_n = k.tanh_backward(n, dh_t - dh_t * z)
                Dx, Dh = d_x[t], d_h[t]
                Dx[:, :hidden] = Dh[:, :hidden] = k.sigmoid_backward(r, d_pre_n * h_n)
                Dx[:, hidden:2 * hidden] = Dh[:, hidden:2 * hidden] = k.sigmoid_backward(
                    z, dh_t * (ctx.h_before[t] - n))
                Dx[:, 2 * hidden:] = d_pre_n
                Dh[:, 2 * hidden:] = d_pre_n * r
                dh = dh_t * z + k.matmul(Dh, w_hh)
        elif mode != "LSTM":
            for t in times:
                dh_t = dh + g[t]
                h, = ctx.steps[t]
                d_x[t] = (k.relu_backward if mode == "RNN_RELU" else k.tanh_backward)(h, dh_t)
                dh = k.matmul(d_x[t], w_hh)
        rows = d_h.reshape(-1, d_h.shape[-1])
        d_w = k.matmul(rows.T, ctx.h_before.reshape(-1, hidden)) if need_w else None
        d_b = np.add.reduce(rows, axis=0) if need_b and b_hh is not None else None
        return (d_x if need_x else None, dh if need_h0 else None,
                dc if need_c0 and mode == "LSTM" else None, d_w, d_b, None, None)

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
