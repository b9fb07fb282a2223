# BLAS is column-major, so row-major C = op(A) @ op(B) is computed as C.T = op(B).T @ op(A).T:
# swap the operands and keep the flags. beta = 1 adds into C. scipy ships the BLAS (no link
# step of our own), and set_num_threads reaches it through threadpoolctl.
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm(bint ta, bint tb, int m, int n, int k, floating alpha,
                      const floating* a, int lda, const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """c (m x n, row-major, leading dimension ldc) = alpha op(a) @ op(b) + beta c"""
    cdef char ca = b"T" if ta else b"N"
    cdef char cb = b"T" if tb else b"N"
    if floating is float:
        sgemm(&cb, &ca, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&cb, &ca, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda, &beta, c,
              &ldc)
