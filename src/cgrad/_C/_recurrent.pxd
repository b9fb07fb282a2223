# An LSTM step's elementwise work, a row at a time: shared by elementwise.pyx's step kernels
# and linalg.pyx's whole sequence (which makes each step's product itself between them).
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
