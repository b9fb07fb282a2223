# A recurrent step's elementwise work (LSTM, GRU, Elman RNN), a row at a time: the LSTM's
# shared by elementwise.pyx's step kernels and linalg.pyx's whole sequences, which make each
# step's product themselves between them.
from cython cimport floating
from cgrad._C._vmath cimport vsigmoid, vtanh


cdef inline void lstm_rows(const floating* gates, const floating* c, floating* act,
                           floating* c_out, floating* tanh_c, floating* h_out, Py_ssize_t rows,
                           Py_ssize_t hidden) noexcept nogil:
    """One LSTM step from its gates' pre-activations (rows x 4 hidden: i, f, g, o) and c (rows
    x hidden): act = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) (the kernels' sigmoid and
    tanh); c_out = f c + i g and h_out = o tanh(c_out), PyTorch's order. act may be gates
    itself, and c_out c (each element is read before it is written)."""
    cdef Py_ssize_t r, j, G = 4 * hidden
    cdef floating tc
    for r in range(rows):
        for j in range(2 * hidden):
            act[r * G + j] = vsigmoid(gates[r * G + j])
        for j in range(2 * hidden, 3 * hidden):
            act[r * G + j] = vtanh(gates[r * G + j])
        for j in range(3 * hidden, G):
            act[r * G + j] = vsigmoid(gates[r * G + j])
        for j in range(hidden):
            c_out[r * hidden + j] = (act[r * G + hidden + j] * c[r * hidden + j]
                                     + act[r * G + j] * act[r * G + 2 * hidden + j])
        for j in range(hidden):
            tc = vtanh(c_out[r * hidden + j])
            tanh_c[r * hidden + j] = tc
            h_out[r * hidden + j] = act[r * G + 3 * hidden + j] * tc


cdef inline void lstm_rows_backward(const floating* act, const floating* c,
                                    const floating* tanh_c, const floating* dh,
                                    const floating* dc, floating* d_gates, floating* dc_prev,
                                    Py_ssize_t rows, Py_ssize_t hidden) noexcept nogil:
    """lstm_rows' backward from what it saved (act, its input c, tanh_c) and the gradients of
    h_out (dh) and c_out (dc): the gates' pre-activation gradients d_gates (rows x 4 hidden)
    and c's, dc_prev (which may be dc itself). With dc_t = dc + dh o (1 - tanh_c^2): d_i =
    dc_t g i (1 - i), d_f = dc_t c f (1 - f), d_g = dc_t i (1 - g^2), d_o = dh tanh_c o
    (1 - o), dc_prev = dc_t f (the composed steps' products, in their order)."""
    cdef Py_ssize_t r, j, G = 4 * hidden, k
    cdef floating i, f, g, o, tc, dct, one = 1
    for r in range(rows):
        for j in range(hidden):
            k = r * hidden + j
            i = act[r * G + j]
            f = act[r * G + hidden + j]
            g = act[r * G + 2 * hidden + j]
            o = act[r * G + 3 * hidden + j]
            tc = tanh_c[k]
            dct = dc[k] + (dh[k] * o) * (one - tc * tc)
            d_gates[r * G + j] = (dct * g) * (i * (one - i))
            d_gates[r * G + hidden + j] = (dct * c[k]) * (f * (one - f))
            d_gates[r * G + 2 * hidden + j] = (dct * i) * (one - g * g)
            d_gates[r * G + 3 * hidden + j] = (dh[k] * tc) * (o * (one - o))
            dc_prev[k] = dct * f


cdef inline void gru_rows(const floating* hw, const floating* x, const floating* h,
                          floating* rz, floating* n, floating* h_n, floating* h_out,
                          Py_ssize_t rows, Py_ssize_t hidden) noexcept nogil:
    """One GRU step from hw = h w_hh^T + b_hh and x = the input's products (rows x 3 hidden
    each: r, z, n) and h: rz = sigmoid(hw + x) over r and z (rows x 2 hidden), h_n = hw's n
    part, n = tanh(x's n + h_n r), h_out = (h - n) z + n (PyTorch's CPU cell's order)"""
    cdef Py_ssize_t r, j, k, G = 3 * hidden, Z = 2 * hidden
    cdef floating hn, nn
    for r in range(rows):
        for j in range(Z):
            rz[r * Z + j] = vsigmoid(hw[r * G + j] + x[r * G + j])
        for j in range(hidden):
            k = r * hidden + j
            hn = hw[r * G + Z + j]
            h_n[k] = hn
            nn = vtanh(x[r * G + Z + j] + hn * rz[r * Z + j])
            n[k] = nn
            h_out[k] = (h[k] - nn) * rz[r * Z + hidden + j] + nn


cdef inline void gru_rows_backward(const floating* rz, const floating* n, const floating* h_n,
                                   const floating* h, const floating* dh, floating* d_x,
                                   floating* d_h, floating* dh_z, Py_ssize_t rows,
                                   Py_ssize_t hidden) noexcept nogil:
    """gru_rows' backward from what it saved (rz, n, h_n) and its input h, given dh, h_out's
    gradient: the gates' gradients for the input (d_x) and for w_hh (d_h: n's takes r),
    rows x 3 hidden each, and dh z, h's gradient but through w_hh. With d_n = (dh - dh z)
    (1 - n^2): d_r = (d_n h_n) r (1 - r), d_z = (dh (h - n)) z (1 - z), d_x's n = d_n, d_h's
    n = d_n r (the reference's products, in its order)"""
    cdef Py_ssize_t r, j, k, G = 3 * hidden, Z = 2 * hidden
    cdef floating rr, z, nn, d, d_n, d_r, d_z, one = 1
    for r in range(rows):
        for j in range(hidden):
            k = r * hidden + j
            rr, z, nn, d = rz[r * Z + j], rz[r * Z + hidden + j], n[k], dh[k]
            d_n = (d - d * z) * (one - nn * nn)
            d_r = (d_n * h_n[k]) * (rr * (one - rr))
            d_z = (d * (h[k] - nn)) * (z * (one - z))
            d_x[r * G + j] = d_h[r * G + j] = d_r
            d_x[r * G + hidden + j] = d_h[r * G + hidden + j] = d_z
            d_x[r * G + Z + j] = d_n
            d_h[r * G + Z + j] = d_n * rr
            dh_z[k] = d * z


cdef inline void rnn_rows(floating* pre, Py_ssize_t size, bint relu) noexcept nogil:
    """An Elman RNN step's activation, in place: tanh, or relu (NaN stays NaN)"""
    cdef Py_ssize_t k
    cdef floating zero = 0
    for k in range(size):
        pre[k] = (zero if pre[k] < zero else pre[k]) if relu else vtanh(pre[k])


cdef inline void rnn_rows_backward(const floating* h, const floating* dh, floating* d_x,
                                   Py_ssize_t size, bint relu) noexcept nogil:
    """rnn_rows' backward from its output h given dh: dh (1 - h^2), or relu's dh where h > 0
    (0 elsewhere, as relu'(0) = 0)"""
    cdef Py_ssize_t k
    cdef floating zero = 0, one = 1
    for k in range(size):
        d_x[k] = (zero if h[k] <= zero else dh[k]) if relu else dh[k] * (one - h[k] * h[k])
