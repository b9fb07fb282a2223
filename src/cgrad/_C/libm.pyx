"""The C library's own math functions over an array, as PyTorch's serial random kernels call
them (normal_fill's log, cos and sin, exponential_'s log1p, cauchy_'s tan, log_normal_'s exp).

NumPy's loops give the same bits on most hosts, but on an AVX-512 host its float64 log and
exp (and every float32 function) are its own SIMD code, an ulp off libm in ~1 value in 300:
a seeded randn(dtype=float64) then differed from PyTorch's. Each function returns a new
array of its argument's dtype (float64 or float32: the double or the float function).
"""
cimport numpy as cnp
from libc cimport math as cmath

import numpy as np

cnp.import_array()

ctypedef double (*double_fn)(double) noexcept nogil
ctypedef float (*float_fn)(float) noexcept nogil


cdef class Function:
    """one of the C library's functions, elementwise: the double one on a float64 array, the
    float one on a float32 array"""
    cdef double_fn f64
    cdef float_fn f32

    def __call__(self, x):
        cdef cnp.ndarray out = np.array(x, order="C", copy=True)
        cdef Py_ssize_t i, n = out.size
        cdef double* d
        cdef float* s
        if out.dtype == np.float64:
            d = <double*>cnp.PyArray_DATA(out)
            with nogil:
                for i in range(n):
                    d[i] = self.f64(d[i])
        elif out.dtype == np.float32:
            s = <float*>cnp.PyArray_DATA(out)
            with nogil:
                for i in range(n):
                    s[i] = self.f32(s[i])
        else:
            raise TypeError(f"libm functions take float32 or float64 arrays, got {out.dtype}")
        return out


cdef Function function(double_fn f64, float_fn f32):
    cdef Function f = Function.__new__(Function)
    f.f64, f.f32 = f64, f32
    return f


log = function(cmath.log, cmath.logf)
log1p = function(cmath.log1p, cmath.log1pf)
exp = function(cmath.exp, cmath.expf)
cos = function(cmath.cos, cmath.cosf)
sin = function(cmath.sin, cmath.sinf)
tan = function(cmath.tan, cmath.tanf)
