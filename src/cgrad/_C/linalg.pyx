"""Matrix products through BLAS gemm: gradients written straight into their buffers (beta = 1
adds into an existing .grad, beta = 0 fills a fresh one), transposes by BLAS flags, never a
transposed copy. The gemm is scipy's cython_blas, or the one _use_blas names (that of
scipy-openblas32, when installed: cgrad._threads.load_linalg).

Threads: the BLAS runs one thread and a product's rows (or columns) are shared among cgrad's
OpenMP threads here, each computing its own block of c. Two thread pools on the same cores
(OpenBLAS's and OpenMP's, each spinning after its work) starved each other: an MLP step took
90 ms at two threads against 4 ms at one.

Same bits for any thread count: OpenBLAS's general path sums each element of c over k in
fixed panels, and tiles c with micro-kernels whose tails (the last rows or columns that do
not fill a tile) sum differently; small products take its small-matrix kernels (here up to
m n k of ~100^3 in float32 and ~192^3 = 7.1e6 in float64), and a single row or column its
gemv. So only c's rows are cut (BLAS's n, as c is row-major), at multiples of ALIGN rows,
into blocks whose m n k is at least MIN_BLOCK_F32 (2^21) or MIN_BLOCK_F64 (2^23), above
those limits: every element then sits in the same kind of tile as in the whole product.
Columns (BLAS's m) are never cut: the Haswell float32 kernel sums the last 8 rows of each
of its own row panels differently, so a cut there changed bits wherever it fell. ALIGN = 24
kept the bits of the whole product over ~700 random shapes and cuts each with OpenBLAS's
Haswell, SkylakeX, Zen and Sandybridge kernels (OPENBLAS_CORETYPE); 16, 32 and 64 did not
(Haswell float32, SkylakeX float64). tests/test_threads.py checks 1 and 2 threads over random
shapes. On one thread a product is not cut at all (each extra call packs the shared operand
again: +4% at 1024^3)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from cgrad._C._parallel cimport cgrad_threads, link_thread_count

link_thread_count()

# The BLAS gemm (LP64: 32-bit ints): none until _use_blas names one. cgrad._threads.load_linalg
# passes scipy-openblas32's, else scipy's cython_blas's (cimporting those here imported all of
# scipy.linalg, ~18 MB and ~0.1 s, at the first product, for pointers the first then replaced).
ctypedef void (*sgemm_t)(char*, char*, int*, int*, int*, float*, float*, int*, float*, int*,
                         float*, float*, int*) noexcept nogil
ctypedef void (*dgemm_t)(char*, char*, int*, int*, int*, double*, double*, int*, double*,
                         int*, double*, double*, int*) noexcept nogil
cdef sgemm_t _sgemm = NULL
cdef dgemm_t _dgemm = NULL


def _use_blas(size_t sgemm_address, size_t dgemm_address):
    """Call the LP64 sgemm_ / dgemm_ at these addresses from now on (cgrad._threads passes
    scipy-openblas32's: scipy's own OpenBLAS 0.3.30 ran ~7% slower than NumPy's 0.3.31 here).
    Set once, at load, before any product; the addresses are trusted."""
    global _sgemm, _dgemm
    if not sgemm_address or not dgemm_address:
        raise ValueError("_use_blas: a null gemm address")
    _sgemm = <sgemm_t> sgemm_address
    _dgemm = <dgemm_t> dgemm_address


def _blas_addresses():
    """(sgemm, dgemm): the addresses the products call now."""
    return <size_t> _sgemm, <size_t> _dgemm


cdef inline void gemm(bint ta, bint tb, int m, int n, int k, floating alpha,
                      const floating* a, int lda, const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """c (m x n, row-major, leading dimension ldc) = alpha op(a) @ op(b) + beta c. BLAS is
    column-major, so row-major c = op(a) @ op(b) is computed as c^T = op(b)^T @ op(a)^T: the
    operands swap and keep their flags."""
    cdef char ca = b"T" if ta else b"N"
    cdef char cb = b"T" if tb else b"N"
    if floating is float:
        _sgemm(&cb, &ca, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda, &beta, c,
               &ldc)
    else:
        _dgemm(&cb, &ca, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda, &beta, c,
               &ldc)

# Blocks of rows: about BLOCK each, or fewer and larger so that each has an m n k of
# MIN_BLOCK_F32 / MIN_BLOCK_F64 or more (40 us to 1 ms of work at 1 thread; a wake-up of the
# second core is ~5 us), cut at multiples of ALIGN rows.
cdef enum:
    MIN_BLOCK_F32 = 1 << 21
    MIN_BLOCK_F64 = 1 << 23
    MIN_BLOCK_GEMM = 1 << 23     # a batch shared among the threads (whole products)
    SUM_PARTS = 8                # a summed batch's fixed parts (see _gemm_summed)
    BLOCK = 512
    ALIGN = 24

cdef bint _share = False


def share_threads(bint on):
    """Whether gemm_ shares products among the OpenMP threads (True when the BLAS runs one
    thread; cgrad._threads decides)."""
    global _share
    _share = on


cdef int _cut(int m, int n, int k, int threads, double min_block, int* nblocks) noexcept nogil:
    """The rows of every block but the last, a multiple of ALIGN near an even share, and
    their count in nblocks; 0 (one call) when a block's m n k would be below min_block."""
    nblocks[0] = 1
    if threads < 2 or not _share or m < 2 or n < 2:
        return 0
    cdef double n_k = (<double> n) * k
    cdef int count = max(threads, (m + BLOCK - 1) // BLOCK), block, last
    while count > 1:
        block = ALIGN * ((2 * m // ALIGN // count + 1) // 2)
        last = m - (count - 1) * block
        if block > 0 and last > 0 and min(block, last) * n_k >= min_block:
            nblocks[0] = count
            return block
        count -= 1
    return 0


cdef void _gemm_blocks(bint ta, bint tb, int m, int n, int k, const floating* a, int lda,
                       const floating* b, int ldb, floating beta, floating* c, int ldc,
                       int block, int nblocks, int threads) noexcept nogil:
    """c = op(a) @ op(b) + beta c as c's rows cut into nblocks blocks of `block` (the last
    takes the rest), shared among the threads."""
    cdef int p, lo, hi
    cdef floating one = 1
    for p in prange(nblocks, schedule="static", num_threads=threads):
        lo = p * block
        hi = m if p == nblocks - 1 else lo + block
        # rows lo:hi of op(a): row lo of a, or its column lo when ta
        gemm(ta, tb, hi - lo, n, k, one, a + (lo if ta else lo * <Py_ssize_t> lda),
             lda, b, ldb, beta, c + lo * <Py_ssize_t> ldc, ldc)


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
    if _sgemm == NULL or _dgemm == NULL:
        raise RuntimeError("cgrad._C.linalg has no BLAS gemm: load it with "
                           "cgrad._threads.load_linalg()")
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
    cdef int threads = cgrad_threads(), nblocks
    cdef int block = _cut(m, n, k, threads,
                          MIN_BLOCK_F32 if floating is float else MIN_BLOCK_F64, &nblocks)
    cdef floating* scratch
    cdef int parts
    if sc == 0 and batch > 1 and <double> m * n * k * batch >= MIN_BLOCK_GEMM:
        parts = <int> min(batch, <Py_ssize_t> SUM_PARTS)
        scratch = <floating*> malloc((parts - 1) * <size_t> m * n * sizeof(floating))
        if scratch == NULL:
            raise MemoryError(f"gemm_: no scratch for {parts - 1} partial sums of {m}x{n}")
        try:
            with nogil:
                _gemm_summed(ta, tb, m, n, k, ap, lda, sa, bp, ldb, sb, fbeta, cp, ldc, batch,
                             parts, scratch, threads)
        finally:
            free(scratch)
        return
    with nogil:
        if (_share and threads > 1 and sc != 0 and batch > 1
                and <double> m * n * k * batch >= MIN_BLOCK_GEMM):
            # separate outputs: whole products, a batch at a time per thread
            for i in prange(batch, schedule="static", num_threads=threads):
                gemm(ta, tb, m, n, k, one, ap + i * sa, lda, bp + i * sb, ldb, fbeta,
                     cp + i * sc, ldc)
        else:
            for i in range(batch):
                if nblocks > 1:
                    _gemm_blocks(ta, tb, m, n, k, ap + i * sa, lda, bp + i * sb, ldb,
                                 one if (sc == 0 and i > 0) else fbeta, cp + i * sc, ldc,
                                 block, nblocks, threads)
                else:
                    gemm(ta, tb, m, n, k, one, ap + i * sa, lda, bp + i * sb, ldb,
                         one if (sc == 0 and i > 0) else fbeta, cp + i * sc, ldc)


cdef void _gemm_summed(bint ta, bint tb, int m, int n, int k, const floating* a, int lda,
                       Py_ssize_t sa, const floating* b, int ldb, Py_ssize_t sb,
                       floating beta, floating* c, int ldc, Py_ssize_t batch, int parts,
                       floating* scratch, int threads) noexcept nogil:
    """c = sum over i < batch of op(a_i) @ op(b_i) + beta c (a conv's weight gradient: one
    product per image). The batch is cut into `parts` fixed runs (not one per thread: any
    thread count gives the same bits), the first summed into c, each other into its own
    m x n of scratch, then added into c in order; the runs in parallel. (In one chain, as
    before, the 64 products of a Conv1d's weight gradient kept one core of two busy.)"""
    cdef int p, r, j
    if _share and threads > 1:          # (not while the BLAS runs threads of its own)
        for p in prange(parts, schedule="static", num_threads=threads):
            _gemm_run(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, beta, c, ldc, batch, parts,
                      scratch, p)
    else:
        for p in range(parts):
            _gemm_run(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, beta, c, ldc, batch, parts,
                      scratch, p)
    for p in range(1, parts):
        for r in range(m):
            for j in range(n):
                c[r * <Py_ssize_t> ldc + j] += scratch[((p - 1) * <Py_ssize_t> m + r) * n + j]


cdef void _gemm_run(bint ta, bint tb, int m, int n, int k, const floating* a, int lda,
                    Py_ssize_t sa, const floating* b, int ldb, Py_ssize_t sb, floating beta,
                    floating* c, int ldc, Py_ssize_t batch, int parts, floating* scratch,
                    int p) noexcept nogil:
    """run p of _gemm_summed: its products summed into c (p = 0, after beta c) or into its
    own block of scratch (from zero)"""
    cdef Py_ssize_t i, lo = p * batch // parts, hi = (p + 1) * batch // parts
    cdef floating one = 1, zero = 0
    cdef floating* out = c if p == 0 else scratch + (p - 1) * <Py_ssize_t> m * n
    cdef int ld = ldc if p == 0 else n
    for i in range(lo, hi):
        gemm(ta, tb, m, n, k, one, a + i * sa, lda, b + i * sb, ldb,
             (beta if p == 0 else zero) if i == lo else one, out, ld)
