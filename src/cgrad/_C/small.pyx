"""Kernels for small arrays, where the cost of a call, not of the arithmetic, is the time.

A NumPy ufunc call costs ~0.4-0.5 us before it touches an element, a reduction ~1 us, and a
fused-type Cython kernel its argument dispatch and memoryviews: on the 100-element tensors of
a tutorial's training loop that is all of an op's time. These take plain arrays, read their
dtype and layout through NumPy's C API, and loop over raw pointers. Each returns None for an
array it does not take (not float32/float64, not C-contiguous, another dtype than its
partner): the caller then runs NumPy, so these are fast paths, never the only path.
"""
cimport numpy as cnp

cnp.import_array()

cdef enum:
    # Elementwise loops stop here: above it NumPy's SIMD loops win (a*b took 0.44 against
    # 0.54 us at 1,000 elements, 2.6 against 1.4 us at 8,000: this build's loops are scalar)
    MAX_BINARY = 1024


ctypedef fused real:
    float
    double


cdef inline int float_type(object x) noexcept:
    """x's NumPy type number if x is a C-contiguous, aligned float32/float64 ndarray in the
    machine's byte order, else -1"""
    if type(x) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int t = cnp.PyArray_TYPE(a)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not (
            cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a)):
        return -1
    return t


def mul_scaled(g, x, double c):
    """g * (x * c) for a c that scales exactly (a power of two: x ** 2's backward g * (x * 2)),
    in one pass, the same bits as NumPy's two ops; g may be one element broadcast over x
    (a 0-strided view, a mean's backward). None unless both are float arrays of one dtype
    that this takes (g contiguous or one element, x contiguous, at most MAX_BINARY elements)."""
    cdef int t = float_type(x)
    if t < 0 or type(g) is not cnp.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef cnp.ndarray ga = <cnp.ndarray>g
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef Py_ssize_t step = 1
    if (cnp.PyArray_TYPE(ga) != t or not same_shape(ga, a)
            or not cnp.PyArray_ISNOTSWAPPED(ga)):
        return None
    if not (cnp.PyArray_IS_C_CONTIGUOUS(ga) and cnp.PyArray_ISALIGNED(ga)):
        if not (is_one_element(ga) and cnp.PyArray_ISALIGNED(ga)):
            return None
        step = 0
    if n > MAX_BINARY:
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), t, 0)
    if t == cnp.NPY_FLOAT32:
        scaled_product(<const float*>cnp.PyArray_DATA(ga), step, <const float*>cnp.PyArray_DATA(a),
                       <float>c, <float*>cnp.PyArray_DATA(out), n)
    else:
        scaled_product(<const double*>cnp.PyArray_DATA(ga), step,
                       <const double*>cnp.PyArray_DATA(a), c, <double*>cnp.PyArray_DATA(out), n)
    return out


cdef void scaled_product(const real* g, Py_ssize_t step, const real* x, real c, real* out,
                         Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = g[i * step] * (x[i] * c)


cdef inline bint is_one_element(cnp.ndarray a) noexcept:
    """whether every stride of a is 0 (one element seen at every index: a broadcast scalar)"""
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDE(a, i) != 0 and cnp.PyArray_DIM(a, i) != 1:
            return False
    return True


cpdef enum:
    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3

cdef inline real arith(int op, real a, real b) noexcept nogil:
    if op == ADD:
        return a + b
    if op == SUB:
        return a - b
    if op == MUL:
        return a * b
    return a / b


cdef void binary_loop(int op, const real* x, const real* y, real* out, Py_ssize_t n,
                      bint x_one, bint y_one) noexcept nogil:
    """out = x op y over n elements; a side marked _one is its first element throughout (the
    three loops, the op fixed in each by unswitching, vectorise)"""
    cdef Py_ssize_t i
    cdef real v
    if x_one:
        v = x[0]
        for i in range(n):
            out[i] = arith(op, v, y[i])
    elif y_one:
        v = y[0]
        for i in range(n):
            out[i] = arith(op, x[i], v)
    else:
        for i in range(n):
            out[i] = arith(op, x[i], y[i])


cdef inline bint one_element(object x, int t) noexcept:
    """whether x is an aligned float array of type t (in the machine's byte order) holding one
    element"""
    return (type(x) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>x) == t
            and cnp.PyArray_SIZE(<cnp.ndarray>x) == 1 and cnp.PyArray_ISALIGNED(<cnp.ndarray>x)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>x))


def binary(int op, a, b):
    """a op b (ADD, SUB, MUL, DIV) for float arrays of one dtype: both C-contiguous of one
    shape, or one of them a single element of no more dims than the other (a 0-d weight, a
    (1,) bias); b may be a Python float (rounded to a's dtype, as NumPy does). The same bits
    as NumPy's ufunc (one IEEE operation an element). None for anything else, and above
    MAX_BINARY elements."""
    cdef int t = float_type(a)
    cdef cnp.ndarray big, out
    cdef bint x_one = False, y_one = False, number = type(b) is float
    cdef double bd = b if number else 0.0
    cdef float bf = <float>bd
    if t < 0:                                    # a may still be the single element
        t = float_type(b)
        if t < 0 or not one_element(a, t) or ndim(a) > ndim(b):
            return None
        x_one, big = True, <cnp.ndarray>b
    elif number:
        y_one, big = True, <cnp.ndarray>a
    elif float_type(b) == t and same_shape(<cnp.ndarray>a, <cnp.ndarray>b):
        big = <cnp.ndarray>a
    elif one_element(b, t) and ndim(b) <= ndim(a):
        y_one, big = True, <cnp.ndarray>a
    elif one_element(a, t) and float_type(b) == t and ndim(a) <= ndim(b):
        x_one, big = True, <cnp.ndarray>b
    else:
        return None                              # (or the result has more dims than either)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(big)
    if n > MAX_BINARY:
        return None
    out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(big), cnp.PyArray_DIMS(big), t, 0)
    cdef void* xp = cnp.PyArray_DATA(<cnp.ndarray>a)
    if t == cnp.NPY_FLOAT32:
        binary_loop(op, <const float*>xp,
                    &bf if number else <const float*>cnp.PyArray_DATA(<cnp.ndarray>b),
                    <float*>cnp.PyArray_DATA(out), n, x_one, y_one)
    else:
        binary_loop(op, <const double*>xp,
                    &bd if number else <const double*>cnp.PyArray_DATA(<cnp.ndarray>b),
                    <double*>cnp.PyArray_DATA(out), n, x_one, y_one)
    return out


cdef inline int ndim(object x) noexcept:
    return cnp.PyArray_NDIM(<cnp.ndarray>x)


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int i
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIM(a, i) != cnp.PyArray_DIM(b, i):
            return False
    return True
