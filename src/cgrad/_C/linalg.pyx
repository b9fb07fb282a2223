"""Matrix-product backward through BLAS gemm: gradients written straight into their buffers
(beta = 1 adds into an existing .grad, beta = 0 fills a fresh one), transposes by BLAS flags,
never a transposed copy. BLAS threads itself, so nothing here runs inside a prange."""
from cython cimport floating
from cgrad._C._blas cimport gemm


cdef int _check(str name, Py_ssize_t size, bint trans, int rows, int cols, int ld,
                Py_ssize_t batch, Py_ssize_t stride) except -1:
    """The stored matrix (rows x cols of op(X), so cols x rows when trans) fits in size."""
    cdef int srows = cols if trans else rows, scols = rows if trans else cols
    if ld < max(1, scols):
        raise ValueError(f"{name}: leading dimension {ld} < {scols} columns")
    if batch < 0 or stride < 0:
        raise ValueError(f"{name}: negative batch or stride")
    cdef Py_ssize_t need = (batch - 1) * stride + (srows - 1) * <Py_ssize_t> ld + scols
    if srows and scols and batch and size < need:
        raise ValueError(f"{name} has {size} elements, a {srows}x{scols} matrix with leading "
                         f"dimension {ld} x {batch} batches (stride {stride}) needs {need}")
    return 0


def gemm_(bint ta, bint tb, int m, int n, int k, const floating[::1] a, int lda,
          const floating[::1] b, int ldb, double beta, floating[::1] c, int ldc,
          Py_ssize_t batch=1, Py_ssize_t sa=0, Py_ssize_t sb=0, Py_ssize_t sc=0):
    """c_i = op(a_i) @ op(b_i) + beta c_i for i < batch, row-major, where x_i starts at
    x[i * sx]: op(a) is m x k, op(b) k x n, c m x n. A stride of 0 reuses one matrix; with
    sc = 0 every product adds into the one c (beta applies to the first only)."""
    if m < 0 or n < 0 or k < 0:
        raise ValueError(f"negative gemm size {m}x{n}x{k}")
    _check("a", a.shape[0], ta, m, k, lda, batch, sa)
    _check("b", b.shape[0], tb, k, n, ldb, batch, sb)
    _check("c", c.shape[0], False, m, n, ldc, batch, sc)
    if m == 0 or n == 0 or batch == 0:
        return
    if k == 0:
        raise ValueError("gemm with k = 0: the caller fills c itself")
    cdef floating one = 1, fbeta = <floating> beta
    cdef const floating* ap = &a[0]
    cdef const floating* bp = &b[0]
    cdef floating* cp = &c[0]
    cdef Py_ssize_t i
    with nogil:
        for i in range(batch):
            gemm(ta, tb, m, n, k, one, ap + i * sa, lda, bp + i * sb, ldb,
                 one if (sc == 0 and i > 0) else fbeta, cp + i * sc, ldc)
