"""Fused elementwise kernels: one pass, no temporaries. Callers pass C-contiguous 1-D views of
equal length and one dtype; `add` means out += result instead of out = result."""
from cython cimport floating
from cython.parallel cimport prange
from cgrad._C._parallel cimport MIN_PARALLEL


def tanh_backward_(const floating[::1] y, const floating[::1] g, floating[::1] out, bint add):
    """out (+)= g * (1 - y*y)"""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef floating one = 1
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= MIN_PARALLEL):
        if add:
            out[i] += g[i] * (one - y[i] * y[i])
        else:
            out[i] = g[i] * (one - y[i] * y[i])


def sigmoid_backward_(const floating[::1] y, const floating[::1] g, floating[::1] out, bint add):
    """out (+)= g * (y * (1 - y))"""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef floating one = 1
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= MIN_PARALLEL):
        if add:
            out[i] += g[i] * (y[i] * (one - y[i]))
        else:
            out[i] = g[i] * (y[i] * (one - y[i]))


def relu_(const floating[::1] x, floating[::1] out):
    """out = x if not x < 0 else 0 (NaN stays NaN, -0.0 stays -0.0 like NumPy's where)"""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating zero = 0
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= MIN_PARALLEL):
        out[i] = zero if x[i] < zero else x[i]


def relu_backward_(const floating[::1] y, const floating[::1] g, floating[::1] out, bint add):
    """out (+)= g where y > 0, else 0"""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef floating zero = 0
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= MIN_PARALLEL):
        if add:
            out[i] += g[i] if y[i] > zero else zero
        else:
            out[i] = g[i] if y[i] > zero else zero


def mul_backward_(const floating[::1] a, const floating[::1] b, const floating[::1] g,
                  floating[::1] ga, floating[::1] gb, bint need_a, bint need_b,
                  bint add_a, bint add_b):
    """ga (+)= g * b and gb (+)= g * a, both in one pass over g"""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gi
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= MIN_PARALLEL):
        gi = g[i]
        if need_a:
            if add_a:
                ga[i] += gi * b[i]
            else:
                ga[i] = gi * b[i]
        if need_b:
            if add_b:
                gb[i] += gi * a[i]
            else:
                gb[i] = gi * a[i]
