"""The math of the random stream (cgrad/random.py), compiled, as PyTorch's CPU kernels do it.

- The C library's own log, log1p, exp, cos, sin and tan over an array, as PyTorch's serial
  random kernels call them (normal_fill's scalar path, exponential_, cauchy_, log_normal_).
  NumPy's loops give the same bits on most hosts, but on an AVX-512 host its float64 log and
  exp (and every float32 function) are its own SIMD code, an ulp off libm in ~1 value in 300:
  a seeded randn(dtype=float64) then differed from PyTorch's. Each returns a new array of its
  argument's dtype (float64 or float32: the double or the float function).
- normal_fill_16_avx2: PyTorch's float32 Box-Muller over blocks of 16 uniform draws, its AVX2
  code (which its AVX-512 build runs too): avx_mathfun's log256_ps and sincos256_ps (Cephes'
  logf, sinf and cosf, vectorised), with the fused multiply-adds GCC makes of them under
  -mfma, checked against torch's draws (0 differences in 40,000). A multiply-add rounds once
  here as a float product (exact in double) plus the addend, rounded to double and then to
  float; elsewhere every float operation rounds as the vector code's does.
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


cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>
    /* a b + c rounded once to float (the product of two floats is exact in double) */
    #define CGRAD_FMA32(a, b, c) ((float) ((double) (a) * (double) (b) + (double) (c)))
    static inline int32_t cgrad_bits(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
    static inline float cgrad_float(int32_t i) { float x; memcpy(&x, &i, 4); return x; }

    /* log256_ps for x > 0 (1 - u of a uniform draw u in [0, 1)) */
    static float cgrad_log256(float x) {
        static const double P[9] = {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1,
                                    -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
                                    2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1};
        int32_t bits = cgrad_bits(x > (float) 1.17549435e-38 ? x : (float) 1.17549435e-38);
        float e = (float) ((bits >> 23) - 0x7f) + 1.0f;
        float m = cgrad_float((bits & ~0x7f800000) | 0x3f000000);   /* in [0.5, 1) */
        int small = m < (float) 0.707106781186547524;
        m = (m - 1.0f) + (small ? m : 0.0f);
        e = e - (small ? 1.0f : 0.0f);
        float z = m * m, y = (float) P[0];
        for (int k = 1; k < 9; k++)
            y = CGRAD_FMA32(y, m, (float) P[k]);
        y = CGRAD_FMA32(y * m, z, e * (float) -2.12194440e-4);
        y = CGRAD_FMA32(z, -0.5f, y);
        return CGRAD_FMA32(e, (float) 0.693359375, m + y);
    }

    /* sincos256_ps */
    static void cgrad_sincos256(float x, float *sin_out, float *cos_out) {
        int sign_sin = signbit(x) != 0;
        x = fabsf(x);
        int32_t j = (int32_t) (x * (float) 1.27323954473516);
        j = (j + 1) & ~1;
        float y = (float) j;
        x = CGRAD_FMA32(y, (float) -0.78515625, x);            /* x - j pi/4, in three parts */
        x = CGRAD_FMA32(y, (float) -2.4187564849853515625e-4, x);
        x = CGRAD_FMA32(y, (float) -3.77489497744594108e-8, x);
        sign_sin ^= (j & 4) != 0;
        int sign_cos = (~(j - 2) & 4) != 0;
        float z = x * x;
        float c = CGRAD_FMA32(CGRAD_FMA32((float) 2.443315711809948E-005, z,
                                          (float) -1.388731625493765E-003), z,
                              (float) 4.166664568298827E-002);
        c = CGRAD_FMA32(c * z, z, -(z * 0.5f)) + 1.0f;
        float s = CGRAD_FMA32(CGRAD_FMA32((float) -1.9515295891E-4, z, (float) 8.3321608736E-3),
                              z, (float) -1.6666654611E-1);
        s = CGRAD_FMA32(s * z, x, x);
        if (j & 2) { float t = s; s = c; c = t; }
        *sin_out = sign_sin ? -s : s;
        *cos_out = sign_cos ? -c : c;
    }

    /* normal_fill_16_AVX2 on n rows of 16: u1 = 1 - row[j], u2 = row[j + 8] (j < 8) become
       r cos(theta) std + mean and r sin(theta) std + mean, r = sqrt(-2 log u1),
       theta = 2 pi u2 */
    static void cgrad_normal_fill_16_avx2(float *rows, size_t n, float mean, float std) {
        const float two_pi = (float) 6.283185307179586;
        for (size_t i = 0; i < n; i++) {
            float *row = rows + 16 * i;
            for (int j = 0; j < 8; j++) {
                float radius = sqrtf(-2.0f * cgrad_log256(1.0f - row[j]));
                float s, c;
                cgrad_sincos256(two_pi * row[j + 8], &s, &c);
                row[j] = CGRAD_FMA32(radius * c, std, mean);
                row[j + 8] = CGRAD_FMA32(radius * s, std, mean);
            }
        }
    }
    """
    void cgrad_normal_fill_16_avx2(float* rows, size_t n, float mean, float std) noexcept nogil


def normal_fill_16_avx2(float[:, ::1] rows, float mean, float std):
    """PyTorch's AVX2 normal_fill_16 on each row of 16 float32 uniform draws, in place"""
    if rows.shape[1] != 16:
        raise ValueError(f"rows of 16 draws expected, got {rows.shape[1]}")
    if rows.shape[0]:
        with nogil:
            cgrad_normal_fill_16_avx2(&rows[0, 0], rows.shape[0], mean, std)
