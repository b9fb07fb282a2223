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
m n k of ~100^3 in float32 and ~192^3 = 7.1e6 in float64); a single row or column of c is
a gemv call (never cut) and k = 1 an outer product here (see gemm). So only c's rows are
cut (BLAS's n, as c is row-major), at multiples of ALIGN rows, into blocks whose m n k is
at least MIN_BLOCK_F32 (2^21) or MIN_BLOCK_F64 (2^23), above those limits: every element
then sits in the same kind of tile as in the whole product.
Columns (BLAS's m) are never cut: the Haswell float32 kernel sums the last 8 rows of each
of its own row panels differently, so a cut there changed bits wherever it fell. ALIGN = 24
kept the bits of the whole product over ~700 random shapes and cuts each with OpenBLAS's
Haswell, SkylakeX, Zen and Sandybridge kernels (OPENBLAS_CORETYPE); 16, 32 and 64 did not
(Haswell float32, SkylakeX float64). tests/test_threads.py checks 1 and 2 threads over random
shapes. On one thread a product is not cut at all (each extra call packs the shared operand
again: +4% at 1024^3)."""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdlib cimport calloc, free, malloc
from cgrad._C._parallel cimport cgrad_threads, link_thread_count
from cgrad._C._narrow cimport cgrad_direct_conv, cgrad_narrow_ok, cgrad_narrow_rows
from cgrad._C._recurrent cimport (gru_rows, gru_rows_backward, lstm_rows, lstm_rows_backward,
                                  rnn_rows, rnn_rows_backward)
from cgrad._C._windows cimport (runs_fit, runs_phase_rows, windows_indexed, windows_plane,
                               windows_runs, windows_table)

link_thread_count()

# The BLAS gemm (LP64: 32-bit ints): none until _use_blas names one. cgrad._threads.load_linalg
# passes scipy-openblas32's, else scipy's cython_blas's (cimporting those here imported all of
# scipy.linalg, ~18 MB and ~0.1 s, at the first product, for pointers the first then replaced).
ctypedef void (*sgemm_t)(char*, char*, int*, int*, int*, float*, float*, int*, float*, int*,
                         float*, float*, int*) noexcept nogil
ctypedef void (*dgemm_t)(char*, char*, int*, int*, int*, double*, double*, int*, double*,
                         int*, double*, double*, int*) noexcept nogil
ctypedef void (*sgemv_t)(char*, int*, int*, float*, float*, int*, float*, int*, float*,
                         float*, int*) noexcept nogil
ctypedef void (*dgemv_t)(char*, int*, int*, double*, double*, int*, double*, int*, double*,
                         double*, int*) noexcept nogil
cdef sgemm_t _sgemm = NULL
cdef dgemm_t _dgemm = NULL
cdef sgemv_t _sgemv = NULL
cdef dgemv_t _dgemv = NULL


def _use_blas(size_t sgemm_address, size_t dgemm_address, size_t sgemv_address,
              size_t dgemv_address):
    """Call the LP64 sgemm_ / dgemm_ / sgemv_ / dgemv_ at these addresses from now on
    (cgrad._threads passes scipy-openblas32's: scipy's own OpenBLAS 0.3.30 ran ~7% slower
    than NumPy's 0.3.31 here). Set once, at load, before any product; the addresses are
    trusted."""
    global _sgemm, _dgemm, _sgemv, _dgemv
    if not (sgemm_address and dgemm_address and sgemv_address and dgemv_address):
        raise ValueError("_use_blas: a null BLAS address")
    _sgemm = <sgemm_t> sgemm_address
    _dgemm = <dgemm_t> dgemm_address
    _sgemv = <sgemv_t> sgemv_address
    _dgemv = <dgemv_t> dgemv_address


def _blas_addresses():
    """(sgemm, dgemm, sgemv, dgemv): the addresses the products call now."""
    return <size_t> _sgemm, <size_t> _dgemm, <size_t> _sgemv, <size_t> _dgemv


cdef inline void gemm(bint ta, bint tb, int m, int n, int k, floating alpha,
                      const floating* a, int lda, const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """c (m x n, row-major, leading dimension ldc) = alpha op(a) @ op(b) + beta c. BLAS is
    column-major, so row-major c = op(a) @ op(b) is computed as c^T = op(b)^T @ op(a)^T: the
    operands swap and keep their flags. A single row or column of c is a gemv, and k = 1 an
    outer product (_outer): OpenBLAS's gemm takes either 3-5 times as long as those (a
    512 x 512 matrix times a vector: 66-95 against 26 us; 2048 x 2048: 1.4-1.8 ms against
    0.35; an outer product of 2048: 2.5 ms against 0.6)."""
    if m == 1 or n == 1:
        _gemv_product(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        _matrix_product(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void _matrix_product(bint ta, bint tb, int m, int n, int k, floating alpha,
                                 const floating* a, int lda, const floating* b, int ldb,
                                 floating beta, floating* c, int ldc) noexcept nogil:
    """gemm's product where the whole c has two rows and two columns at least (a block of its
    rows may have one: _gemm_blocks calls this, so that such a block takes the path the
    whole product takes at one thread): _outer for k = 1, else BLAS's gemm"""
    cdef char ca = b"T" if ta else b"N"
    cdef char cb = b"T" if tb else b"N"
    if k == 1 and (ldb == 1 or not tb):
        _outer(ta, tb, m, n, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    if floating is float:
        _sgemm(&cb, &ca, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda, &beta, c,
               &ldc)
    else:
        _dgemm(&cb, &ca, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda, &beta, c,
               &ldc)

cdef void _gemv_product(bint ta, bint tb, int m, int n, int k, floating alpha,
                        const floating* a, int lda, const floating* b, int ldb,
                        floating beta, floating* c, int ldc) noexcept nogil:
    """gemm's product where c is one column (n = 1: c = op(a) @ x, x op(b)'s column) or one
    row (m = 1: c^T = op(b)^T @ x, x op(a)'s row), as a column-major gemv. A zero beta
    clears c first: gemv scales y by beta, which would keep a NaN of the fresh buffer."""
    cdef char trans
    cdef int rows, cols, incx, incy, i
    cdef const floating* mat
    cdef const floating* x
    cdef int ld
    if n == 1:      # row-major op(a) (m x k): a is a column-major k x m (m x k where ta)
        mat, ld, x, incx, incy = a, lda, b, (1 if tb else ldb), ldc
        trans = b"N" if ta else b"T"
        rows, cols = (m, k) if ta else (k, m)
    else:           # row-major op(b)^T (n x k): b is a column-major n x k (k x n where tb)
        mat, ld, x, incx, incy = b, ldb, a, (lda if ta else 1), 1
        trans = b"T" if tb else b"N"
        rows, cols = (k, n) if tb else (n, k)
    if beta == 0:
        for i in range(m if n == 1 else n):
            c[i * <Py_ssize_t> incy] = 0
    if floating is float:
        _sgemv(&trans, &rows, &cols, &alpha, <float*> mat, &ld, <float*> x, &incx, &beta, c,
               &incy)
    else:
        _dgemv(&trans, &rows, &cols, &alpha, <double*> mat, &ld, <double*> x, &incx, &beta,
               c, &incy)


cdef void _outer(bint ta, bint tb, int m, int n, floating alpha, const floating* a, int lda,
                 const floating* b, int ldb, floating beta, floating* c,
                 int ldc) noexcept nogil:
    """gemm's product for k = 1, c = alpha u v^T + beta c with u op(a)'s column and v op(b)'s
    row (contiguous: _matrix_product checks), one vectorised row at a time"""
    cdef Py_ssize_t i, j
    cdef floating u
    cdef floating* row
    for i in range(m):
        u = alpha * a[i if ta else i * <Py_ssize_t> lda]
        row = c + i * <Py_ssize_t> ldc
        if beta == 0:
            for j in range(n):
                row[j] = u * b[j]
        elif beta == 1:
            for j in range(n):
                row[j] = row[j] + u * b[j]
        else:
            for j in range(n):
                row[j] = beta * row[j] + u * b[j]


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
        _matrix_product(ta, tb, hi - lo, n, k, one, a + (lo if ta else lo * <Py_ssize_t> lda),
                        lda, b, ldb, beta, c + lo * <Py_ssize_t> ldc, ldc)


cdef int _check_blas() except -1:
    if _sgemm == NULL or _dgemm == NULL:
        raise RuntimeError(f"{__name__} has no BLAS gemm: cgrad._threads.load_linalg() "
                           "returns the build this CPU runs, its BLAS loaded")
    return 0


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
    _check_blas()
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
    cdef int p
    if _share and threads > 1:          # (not while the BLAS runs threads of its own)
        for p in prange(parts, schedule="static", num_threads=threads):
            _gemm_run(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, beta, c, ldc, batch, parts,
                      scratch, p)
    else:
        for p in range(parts):
            _gemm_run(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, beta, c, ldc, batch, parts,
                      scratch, p)
    _add_parts(c, ldc, scratch, m, n, parts)


cdef void _add_parts(floating* c, int ldc, const floating* scratch, int m, int n,
                     int parts) noexcept nogil:
    """c (m x n) += each of the parts - 1 m x n partial sums in scratch, in order"""
    cdef int p, r, j
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


# ---- convolutions: a few images at a time -----------------------------------------------------
# Each chunk of images has its windows (im2col, C KH KW x the chunk's output positions) taken
# into a buffer that stays in cache, and the products read them from there: the whole batch's
# windows, written out first, ran the gemms ~20% slower (64 images of Conv1d(64, 64, 5) on 256
# steps: 78 against 98 GFLOP/s) and kept K times the input for the backward. The backward
# takes the windows again. A chunk is one image, or as many as make CONV_COLUMNS output
# positions: an 8 x 8 output's products alone (64 columns) ran at ~60% of the gemm's speed.

cdef int _check_conv(tuple x_shape, tuple w_shape, tuple out_shape, Py_ssize_t bias_size,
                     int KH, int KW, int ph, int pw, int dh, int dw, int sh, int sw,
                     int groups) except -1:
    """ValueError naming what does not fit: x (N, C, H, W), w (O, C / groups * KH * KW),
    out (N, O, OH, OW), bias (O,) or none (bias_size -1)"""
    cdef Py_ssize_t C = x_shape[1], O = w_shape[0]
    if min(KH, KW, dh, dw, sh, sw, groups) < 1 or min(ph, pw) < 0:
        raise ValueError(f"conv: kernel ({KH}, {KW}), dilation ({dh}, {dw}), stride ({sh}, "
                         f"{sw}) and groups {groups} must be positive, padding ({ph}, {pw}) "
                         "not negative")
    if C % groups or O % groups:
        raise ValueError(f"conv: {C} channels and {O} outputs do not split into {groups} "
                         "groups")
    if w_shape[1] != C // groups * KH * KW or out_shape[:2] != (x_shape[0], O):
        raise ValueError(f"conv: input {x_shape} and weight {w_shape} (kernel ({KH}, {KW}), "
                         f"{groups} groups) cannot give an output of shape {out_shape}")
    if bias_size not in (-1, O):
        raise ValueError(f"conv: a bias of {bias_size} for {O} outputs")
    return 0


cdef void _gemm_cut(bint ta, bint tb, int m, int n, int k, const floating* a, int lda,
                    const floating* b, int ldb, floating beta, floating* c, int ldc,
                    int threads) noexcept nogil:
    """one product, its rows shared among the threads where it is large enough (the same
    bits as whole: see _cut)"""
    cdef int nblocks
    cdef int block = _cut(m, n, k, threads,
                          MIN_BLOCK_F32 if floating is float else MIN_BLOCK_F64, &nblocks)
    cdef floating one = 1
    if nblocks > 1:
        _gemm_blocks(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, block, nblocks, threads)
    else:
        gemm(ta, tb, m, n, k, one, a, lda, b, ldb, beta, c, ldc)


cdef enum:
    DIRECT_MAX = 16             # outputs up to which conv2d_ runs _conv_direct (no windows)
    CONV_COLUMNS = 256          # a chunk's output positions, at least (where images are small)
    CONV_BAND = 1 << 17         # an image's windows, at most (elements; where images are large)
    RUNS_MIN = 8                # output width from which the windows are taken as runs or rows


cdef struct ConvShape:
    Py_ssize_t N, C, H, W, O, OH, OW, KH, KW, ph, pw, dh, dw, sh, sw
    Py_ssize_t L, Og, Kg   # output positions per image; outputs and windows' rows per group
    Py_ssize_t chunk, chunks          # images a product takes at once; chunks of the batch
    Py_ssize_t band                   # output rows a product takes at once
    int groups
    bint direct            # a 1x1 window at stride 1 without padding: the image is its windows
    bint runs              # the windows taken as runs (windows_runs), not a row at a time
    bint indexed           # ... through a table of indices (windows_indexed)
    Py_ssize_t windows     # values of a piece's windows (0: direct); then windows_runs' phases
    Py_ssize_t cols        # values of a windows buffer: the windows and the phases


cdef ConvShape _conv_shape(tuple x_shape, tuple out_shape, int KH, int KW, int ph, int pw,
                           int dh, int dw, int sh, int sw, int groups):
    cdef ConvShape s
    s.N, s.C, s.H, s.W = x_shape
    s.O, s.OH, s.OW = out_shape[1], out_shape[2], out_shape[3]
    s.KH, s.KW, s.ph, s.pw, s.dh, s.dw, s.sh, s.sw = KH, KW, ph, pw, dh, dw, sh, sw
    s.groups = groups
    s.L, s.Og, s.Kg = s.OH * s.OW, s.O // groups, s.C // groups * KH * KW
    s.direct = (KH == 1 and KW == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
                and s.OH == s.H and s.OW == s.W)
    s.chunk = max(1, min(s.N, (CONV_COLUMNS + s.L - 1) // max(1, s.L)))
    s.chunks = (s.N + s.chunk - 1) // s.chunk
    # a large image's windows in bands of output rows that stay in cache (at least
    # CONV_COLUMNS positions each); a direct image is read where it is
    cdef Py_ssize_t width = max(1, s.OW) * s.C * KH * KW
    s.band = s.OH
    if s.chunk == 1 and not s.direct and width * s.OH > CONV_BAND:
        s.band = max(CONV_BAND // width, (CONV_COLUMNS + s.OW - 1) // max(1, s.OW), 1)
        s.band = min(s.band, s.OH)
    # an output at least RUNS_MIN wide: runs where they fit, else rows; a narrower one through
    # a table (64 images, one thread, 4 x 4 outputs of 64 channels of 8 x 8 at stride 2, the
    # product, weight and input gradients: rows 4.0/4.5/3.6 ms, runs 3.9/4.5/4.0, table
    # 3.2/3.7/3.4); at 8 x 8 and wider the table lost to runs, and to rows by up to 10%
    s.runs = s.OW >= RUNS_MIN and runs_fit(s.W, s.OW, sw)
    s.windows = 0 if s.direct and s.chunk == 1 else s.C * KH * KW * s.chunk * s.band * s.OW
    s.indexed = s.windows and s.OW < RUNS_MIN and s.H * s.W < (<Py_ssize_t> 1 << 31)
    s.cols = s.windows
    if s.windows and s.runs and not (sh == 1 and sw == 1 and s.W == s.OW):
        s.cols += sh * sw * runs_phase_rows(s.band, KH, dh, sh, s.H) * s.OW
    elif s.indexed:                     # (the table's ints, in as many values: enough)
        s.cols += KH * KW * s.band * s.OW
    return s


cdef void _windows(const ConvShape* s, floating* images, floating* cols, Py_ssize_t n,
                   Py_ssize_t oh0, Py_ssize_t rows, bint add) noexcept nogil:
    """output rows oh0 to oh0 + rows of n images: their windows copied into cols (C KH KW x
    n rows OW: each row holds the images' windows side by side), or cols added back into the
    images; a plane at a time, as runs, through a table or a row at a time (_conv_shape);
    the scratch past the windows (s.windows) holds the runs' phases or the table"""
    cdef Py_ssize_t b, c, plane = s.H * s.W, width = rows * s.OW, row = n * width
    cdef int* table = <int*> (cols + s.windows)
    if s.indexed:
        windows_table(table, s.H, s.W, s.KH, s.KW, rows, s.OW, s.ph - oh0 * s.sh, s.pw, s.dh,
                      s.dw, s.sh, s.sw)
    for b in range(n):
        for c in range(s.C):
            if s.indexed:
                windows_indexed(images + (b * s.C + c) * plane,
                                cols + c * s.KH * s.KW * row + b * width, table, s.KH * s.KW,
                                width, row, add)
            elif s.runs:
                windows_runs(images + (b * s.C + c) * plane,
                             cols + c * s.KH * s.KW * row + b * width, cols + s.windows, s.H,
                             s.W, s.KH, s.KW, rows, s.OW, s.ph - oh0 * s.sh, s.pw, s.dh, s.dw,
                             s.sh, s.sw, row, add)
            else:
                windows_plane(images + (b * s.C + c) * plane,
                              cols + c * s.KH * s.KW * row + b * width, s.H, s.W, s.KH, s.KW,
                              rows, s.OW, s.ph - oh0 * s.sh, s.pw, s.dh, s.dw, s.sh, s.sw, row,
                              add)


cdef void _side_by_side(floating* images, floating* rows, Py_ssize_t n, Py_ssize_t R,
                        Py_ssize_t L, bint back) noexcept nogil:
    """n images of R x L each as R rows of n L (the images side by side), or back"""
    cdef Py_ssize_t b, r, l
    cdef floating* image
    cdef floating* row
    for b in range(n):
        for r in range(R):
            image, row = images + (b * R + r) * L, rows + r * n * L + b * L
            if back:
                for l in range(L):
                    image[l] = row[l]
            else:
                for l in range(L):
                    row[l] = image[l]


cdef void _conv_piece(const ConvShape* s, const floating* x, const floating* w,
                      const floating* bias, floating* out, Py_ssize_t n, Py_ssize_t oh0,
                      Py_ssize_t rows, floating* cols, floating* side,
                      int threads) noexcept nogil:
    """output rows oh0 to oh0 + rows of n images (of O x OH OW each) = w (O x C / groups KH
    KW) times their windows, per group, plus bias (where not NULL: filled in first, the
    product added onto it); several images' products are made side by side (in side) and
    copied out"""
    cdef Py_ssize_t row = n * rows * s.OW, o, l
    cdef bint whole = s.direct and n == 1          # the image itself is its windows
    cdef floating* windows = <floating*> x if whole else cols
    cdef floating* product = out + oh0 * s.OW if n == 1 else side
    cdef Py_ssize_t ld = s.L if n == 1 else row
    cdef floating beta = 0
    cdef int grp
    if not whole:
        _windows(s, <floating*> x, cols, n, oh0, rows, False)
    if bias != NULL or s.Kg == 0:
        for o in range(s.O):
            for l in range(row):
                product[o * ld + l] = 0 if bias == NULL else bias[o]
        beta = 1
    if s.Kg:
        for grp in range(s.groups):
            _gemm_cut(False, False, <int> s.Og, <int> row, <int> s.Kg,
                      w + grp * s.Og * s.Kg, <int> s.Kg, windows + grp * s.Kg * row, <int> row,
                      beta, product + grp * s.Og * ld, <int> ld, threads)
    if n > 1:
        _side_by_side(out, side, n, s.O, s.L, True)


cdef void _conv_chunk(const ConvShape* s, const floating* x, const floating* w,
                      const floating* bias, floating* out, Py_ssize_t n, floating* cols,
                      floating* side, int threads) noexcept nogil:
    """the output of n images, in bands of output rows"""
    cdef Py_ssize_t b, oh0
    for b in range((s.OH + s.band - 1) // s.band):
        oh0 = b * s.band
        _conv_piece(s, x, w, bias, out, n, oh0, min(s.band, s.OH - oh0), cols, side, threads)


cdef bint _direct_fits(const ConvShape* s) noexcept nogil:
    """whether _conv_direct takes this convolution: one group of at most DIRECT_MAX outputs,
    padding not negative, a padded image's offsets within an int"""
    return (s.groups == 1 and 0 < s.O <= DIRECT_MAX and s.Kg > 0 and s.ph >= 0 and s.pw >= 0
            and <double> s.C * (s.H + s.OH * s.sh + s.KH * s.dh) * (
                s.W + s.OW * s.sw + s.KW * s.dw) < 2.0 ** 31)


cdef int _conv_direct(const ConvShape* s, const float* x, const float* w, const float* bias,
                      float* out, int threads) except -1:
    """conv2d_ of few outputs without the windows: _narrow.pxd's direct tiles, an image at a
    time (images shared among the threads), each copied into a zero border first where the
    convolution pads it. Each output's sum runs over its window in order: the same bits at
    any thread count."""
    # the rows and columns the windows reach: past x's end too where the output's size pads
    # it after (padding="same" of an even kernel: none before, one after)
    cdef Py_ssize_t opad = (s.O + 7) // 8 * 8, K = s.Kg
    cdef Py_ssize_t Hp = max(s.H + s.ph, (s.OH - 1) * s.sh + (s.KH - 1) * s.dh + 1)
    cdef Py_ssize_t Wp = max(s.W + s.pw, (s.OW - 1) * s.sw + (s.KW - 1) * s.dw + 1)
    cdef bint padded = s.ph > 0 or s.pw > 0 or Hp > s.H or Wp > s.W
    cdef Py_ssize_t image = s.C * Hp * Wp, x_step = s.C * s.H * s.W, out_step = s.O * s.L
    cdef int buffers = <int> min(<Py_ssize_t> threads, s.N) if padded else 1
    # w^T on a 64-byte boundary: the tiles' loads of it split across cache lines otherwise
    # (Conv2d(3, 6, 5) took 1.1 or 1.8 ms by where calloc put it; aligned, 1.0)
    cdef float* wt_block = <float*> calloc(K * opad + 16, sizeof(float))
    cdef float* wt = <float*> ((<size_t> wt_block + 63) & ~(<size_t> 63))
    cdef int* koff = <int*> malloc(K * sizeof(int))
    cdef float* pads = <float*> calloc(buffers * image, sizeof(float)) if padded else NULL
    cdef Py_ssize_t k, o, c, kh, kw, n
    try:
        if wt_block == NULL or koff == NULL or (padded and pads == NULL):
            raise MemoryError(f"conv2d_: no buffers for {K} x {opad} weights")
        for o in range(s.O):                       # w^T, its columns padded to 8s with zeros
            for k in range(K):
                wt[k * opad + o] = w[o * K + k]
        for c in range(s.C):
            for kh in range(s.KH):
                for kw in range(s.KW):
                    koff[(c * s.KH + kh) * s.KW + kw] = <int> (c * Hp * Wp + kh * s.dh * Wp
                                                               + kw * s.dw)
        with nogil:
            if threads > 1 and s.N > 1:
                for n in prange(s.N, schedule="static", num_threads=threads):
                    _direct_image(s, x + n * x_step, pads + threadid() * image if padded
                                  else NULL, Hp, Wp, koff, wt, opad, bias, out + n * out_step)
            else:
                for n in range(s.N):
                    _direct_image(s, x + n * x_step, pads, Hp, Wp, koff, wt, opad, bias,
                                  out + n * out_step)
    finally:
        free(wt_block)
        free(koff)
        free(pads)
    return 0


cdef void _direct_image(const ConvShape* s, const float* x, float* pad, Py_ssize_t Hp,
                        Py_ssize_t Wp, const int* koff, const float* wt, Py_ssize_t opad,
                        const float* bias, float* out) noexcept nogil:
    """one image of _conv_direct: its rows copied into pad's interior (the border stays zero
    from calloc), where pad is not NULL"""
    cdef Py_ssize_t c, h, q
    cdef const float* src = x
    if pad != NULL:
        for c in range(s.C):
            for h in range(s.H):
                for q in range(s.W):
                    pad[(c * Hp + s.ph + h) * Wp + s.pw + q] = x[(c * s.H + h) * s.W + q]
        src = pad
    cgrad_direct_conv(src, koff, s.Kg, wt, opad, s.O, bias, out, s.OH, s.OW, s.sh * Wp, s.sw)


def conv2d_(const floating[:, :, :, ::1] x, const floating[:, ::1] w,
            const floating[::1] bias, floating[:, :, :, ::1] out, int KH, int KW, int ph,
            int pw, int dh, int dw, int sh, int sw, int groups):
    """out (N, O, OH, OW) = the cross-correlation of x (N, C, H, W) with the weight w (O,
    C / groups * KH * KW: a row per output channel) in `groups` groups, plus bias (O,) where
    not None: x padded by ph rows and pw columns before (zeros), the windows sh and sw apart,
    their positions dh and dw apart; as many windows as out has. Per chunk of images: their
    windows (im2col) into a buffer, then a product per group into out; chunks shared among
    the threads, or one chunk's products where there is one chunk."""
    cdef tuple x_shape = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    cdef tuple out_shape = (out.shape[0], out.shape[1], out.shape[2], out.shape[3])
    _check_conv(x_shape, (w.shape[0], w.shape[1]), out_shape,
                -1 if bias is None else bias.shape[0], KH, KW, ph, pw, dh, dw, sh, sw, groups)
    _check_blas()
    cdef ConvShape s = _conv_shape(x_shape, out_shape, KH, KW, ph, pw, dh, dw, sh, sw, groups)
    if s.N == 0 or s.O == 0 or s.L == 0:
        return
    cdef const floating* bias_p = NULL if bias is None else &bias[0]
    if floating is float:
        if cgrad_narrow_ok and _direct_fits(&s) and s.C * s.H * s.W:   # few outputs
            _conv_direct(&s, &x[0, 0, 0, 0], &w[0, 0], bias_p, &out[0, 0, 0, 0],
                         cgrad_threads())
            return
    cdef Py_ssize_t row = s.chunk * s.L, c, lo
    # each thread's buffers: the windows, and the products side by side
    cdef Py_ssize_t per_cols = s.cols                 # (a band, or a chunk)
    cdef Py_ssize_t per_buffer = per_cols + (s.O * row if s.chunk > 1 else 0)
    cdef int threads = cgrad_threads()
    cdef bint by_chunk = (_share and threads > 1 and s.chunks > 1
                          and <double> s.N * s.O * s.L * s.Kg >= MIN_BLOCK_GEMM)
    cdef int buffers = <int> min(threads, s.chunks) if by_chunk else 1
    cdef floating* scratch = <floating*> malloc(max(1, buffers * per_buffer) * sizeof(floating))
    if scratch == NULL:
        raise MemoryError(f"conv2d_: no buffer for {buffers} chunks' windows")
    cdef Py_ssize_t x_step = s.C * s.H * s.W, out_step = s.O * s.L
    # (an empty image, all padding, or no weights per group: nothing of them is read)
    cdef const floating* x_p = &x[0, 0, 0, 0] if x_step else NULL
    cdef const floating* w_p = &w[0, 0] if s.Kg else NULL
    cdef floating* own
    try:
        with nogil:
            if by_chunk:
                for c in prange(s.chunks, schedule="static", num_threads=buffers):
                    own = scratch + threadid() * per_buffer
                    lo = c * s.chunk
                    _conv_chunk(&s, NULL if x_p == NULL else x_p + lo * x_step, w_p, bias_p,
                                &out[0, 0, 0, 0] + lo * out_step, min(s.chunk, s.N - lo), own,
                                own + per_cols, 1)
            else:
                for c in range(s.chunks):
                    lo = c * s.chunk
                    _conv_chunk(&s, NULL if x_p == NULL else x_p + lo * x_step, w_p, bias_p,
                                &out[0, 0, 0, 0] + lo * out_step, min(s.chunk, s.N - lo),
                                scratch, scratch + per_cols, threads)
    finally:
        free(scratch)


cdef void _narrow_product(const float* windows, Py_ssize_t row, const float* g,
                          Py_ssize_t ld, Py_ssize_t Kg, Py_ssize_t Og, float* sum_w, bint first,
                          int threads) noexcept nogil:
    """sum_w (Kg x Og) = (first ? 0 : sum_w) + windows (Kg x row) times g (Og x row, ld)^T,
    its rows shared among the threads in blocks of 16 (the same bits at any count)"""
    cdef Py_ssize_t blocks = (Kg + 15) // 16, b
    if threads > 1 and blocks > 1:
        for b in prange(blocks, schedule="static", num_threads=threads):
            cgrad_narrow_rows(windows, row, g, ld, b * 16, min(Kg, b * 16 + 16), Og, row,
                              sum_w, Og, first)
    else:
        cgrad_narrow_rows(windows, row, g, ld, 0, Kg, Og, row, sum_w, Og, first)


cdef void _conv_backward_piece(const ConvShape* s, const floating* x, const floating* w,
                               const floating* g, floating* gx, floating* sum_w, bint first,
                               Py_ssize_t n, Py_ssize_t oh0, Py_ssize_t rows, floating* cols,
                               floating* gcols, floating* side, int threads) noexcept nogil:
    """output rows oh0 to oh0 + rows of n images: their weight gradients added into sum_w
    (NULL: not wanted; over what it holds unless first), transposed, a (C / groups KH KW x
    O / groups) block per group; their input gradients added into gx (NULL: not wanted)"""
    cdef Py_ssize_t row = n * rows * s.OW
    cdef bint whole = s.direct and n == 1
    cdef const floating* g_p = g + oh0 * s.OW
    cdef Py_ssize_t ld = s.L
    cdef floating* windows
    cdef floating one = 1, zero = 0
    cdef int grp
    if n > 1:                           # the images' gradients side by side
        _side_by_side(<floating*> g, side, n, s.O, s.L, False)
        g_p, ld = side, row
    if sum_w != NULL:
        # sum_w += the windows (Kg x row) times g^T (row x O), per group: OpenBLAS ran the
        # transpose of this, g (O x row) times the windows^T, ~25% slower (Conv1d(64, 64, 5)
        # on 256 steps: 76 against 95 GFLOP/s)
        windows = <floating*> x
        if not whole:
            _windows(s, <floating*> x, cols, n, oh0, rows, False)
            windows = cols
        for grp in range(s.groups):
            if floating is float:
                if cgrad_narrow_ok and s.Og <= 8:        # few outputs: see _narrow.pxd
                    _narrow_product(windows + grp * s.Kg * row, row, g_p + grp * s.Og * ld,
                                    ld, s.Kg, s.Og, sum_w + grp * s.Kg * s.Og, first, threads)
                    continue
            _gemm_cut(False, True, <int> s.Kg, <int> s.Og, <int> row,
                      windows + grp * s.Kg * row, <int> row, g_p + grp * s.Og * ld, <int> ld,
                      zero if first else one, sum_w + grp * s.Kg * s.Og, <int> s.Og, threads)
    if gx != NULL:                      # the windows' gradient w^T g, added back (col2im)
        windows = gx if whole else gcols
        for grp in range(s.groups):
            _gemm_cut(True, False, <int> s.Kg, <int> row, <int> s.Og, w + grp * s.Og * s.Kg,
                      <int> s.Kg, g_p + grp * s.Og * ld, <int> ld, zero,
                      windows + grp * s.Kg * row, <int> row, threads)
        if not whole:
            _windows(s, gx, gcols, n, oh0, rows, True)


cdef void _conv_backward_run(const ConvShape* s, const floating* x, const floating* w,
                             const floating* g, floating* gx, floating* sum_w, Py_ssize_t lo,
                             Py_ssize_t hi, floating* cols, floating* gcols, floating* side,
                             int threads) noexcept nogil:
    """chunks lo to hi of conv2d_backward_, each in bands of output rows: the sum of their
    weight gradients into sum_w (NULL: not wanted); their input gradients into gx (NULL: not
    wanted)"""
    cdef Py_ssize_t x_step = s.C * s.H * s.W, c, first, n, b, oh0, i
    cdef floating* gx_c = NULL
    for c in range(lo, hi):
        first = c * s.chunk
        n = min(s.chunk, s.N - first)
        if gx != NULL:
            gx_c = gx + first * x_step
            if not (s.direct and n == 1):          # (else the product writes it whole)
                for i in range(n * x_step):
                    gx_c[i] = 0
        for b in range((s.OH + s.band - 1) // s.band):
            oh0 = b * s.band
            _conv_backward_piece(s, NULL if x == NULL else x + first * x_step, w,
                                 g + first * s.O * s.L, gx_c, sum_w, c == lo and oh0 == 0, n,
                                 oh0, min(s.band, s.OH - oh0), cols, gcols, side, threads)


cdef void _weight_gradient(floating* gw, double beta, const floating* sums, int parts,
                           Py_ssize_t groups, Py_ssize_t Kg, Py_ssize_t Og) noexcept nogil:
    """gw (O x Kg) = beta gw + the runs' sums (each a transposed Kg x Og block per group)
    added in order"""
    cdef Py_ssize_t grp, o, k, size = groups * Kg * Og
    cdef int p
    cdef floating* row
    cdef const floating* block
    for grp in range(groups):
        for o in range(Og):
            row = gw + (grp * Og + o) * Kg
            block = sums + grp * Kg * Og + o
            for k in range(Kg):
                row[k] = block[k * Og] if beta == 0 else <floating> beta * row[k] + block[k * Og]
            for p in range(1, parts):
                for k in range(Kg):
                    row[k] += block[p * size + k * Og]


def conv2d_backward_(const floating[:, ::1] w, const floating[:, :, :, ::1] g,
                     const floating[:, :, :, ::1] x, floating[:, :, :, ::1] gx,
                     floating[:, ::1] gw, double beta, int KH, int KW, int ph, int pw, int dh,
                     int dw, int sh, int sw, int groups):
    """The gradients of conv2d_(x, w, ...) given g, its output's gradient (N, O, OH, OW): the
    input's into gx (x's shape; None: not wanted), the weight's into gw (w's shape; None: not
    wanted) as gw = beta gw + the gradient; x may be None where gw is (the input's gradient
    reads only its shape: a transposed convolution's forward). Per chunk of images (or band
    of a large image's output rows): their windows again, their product with g^T per group,
    and the windows' gradient w^T g added back into gx (col2im). The chunks' weight
    gradients are summed in SUM_PARTS fixed runs, each into a buffer of its own, then added
    in order, the runs shared among the threads: the same bits at any thread count. (w comes
    first: Cython picks the dtype from the first argument, which must not be None.)"""
    if x is None and gx is None:
        raise ValueError("conv2d_backward_: x and gx are None: no input shape")
    if x is None and gw is not None:
        raise ValueError("conv2d_backward_: the weight's gradient needs the input x")
    cdef tuple x_shape = ((gx.shape[0], gx.shape[1], gx.shape[2], gx.shape[3]) if x is None
                          else (x.shape[0], x.shape[1], x.shape[2], x.shape[3]))
    cdef tuple g_shape = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
    _check_conv(x_shape, (w.shape[0], w.shape[1]), g_shape, -1, KH, KW, ph, pw, dh, dw, sh,
                sw, groups)
    if gx is not None and (gx.shape[0], gx.shape[1], gx.shape[2], gx.shape[3]) != x_shape:
        raise ValueError(f"conv2d_backward_: the input's gradient has shape "
                         f"{(gx.shape[0], gx.shape[1], gx.shape[2], gx.shape[3])}, the input "
                         f"{x_shape}")
    if gw is not None and (gw.shape[0], gw.shape[1]) != (w.shape[0], w.shape[1]):
        raise ValueError(f"conv2d_backward_: the weight's gradient has shape "
                         f"{(gw.shape[0], gw.shape[1])}, the weight {(w.shape[0], w.shape[1])}")
    _check_blas()
    cdef ConvShape s = _conv_shape(x_shape, g_shape, KH, KW, ph, pw, dh, dw, sh, sw, groups)
    cdef Py_ssize_t i, j
    if s.N == 0 or s.L == 0 or s.O == 0 or s.Kg == 0:      # no products: sums of nothing
        if gx is not None:
            gx[...] = 0
        if gw is not None and beta != 1:
            for i in range(gw.shape[0]):
                for j in range(gw.shape[1]):
                    gw[i, j] = 0 if beta == 0 else <floating> beta * gw[i, j]
        return
    # (an empty image, all padding: nothing of it is read, nothing of its gradient written)
    cdef Py_ssize_t x_step = s.C * s.H * s.W
    cdef floating* gx_p = NULL if gx is None or not x_step else &gx[0, 0, 0, 0]
    cdef const floating* x_p = NULL if x is None or not x_step else &x[0, 0, 0, 0]
    cdef bint need_w = gw is not None
    cdef int threads = cgrad_threads(), p
    cdef int parts = <int> min(s.chunks, <Py_ssize_t> SUM_PARTS)
    cdef bint by_part = (_share and threads > 1 and parts > 1
                         and <double> s.N * s.O * s.L * s.Kg >= MIN_BLOCK_GEMM)
    cdef int buffers = min(threads, parts) if by_part else 1
    # each thread's buffers: the windows (for gw), their gradient (for gx), g side by side
    cdef Py_ssize_t row = s.chunk * s.L
    cdef Py_ssize_t per_cols = s.cols                 # (a band, or a chunk)
    cdef Py_ssize_t gcols_at = per_cols if need_w else 0
    cdef Py_ssize_t side_at = gcols_at + (per_cols if gx_p != NULL else 0)
    cdef Py_ssize_t per_buffer = side_at + (s.O * row if s.chunk > 1 else 0)
    cdef Py_ssize_t size_w = s.O * s.Kg
    cdef floating* scratch = <floating*> malloc(
        max(1, buffers * per_buffer + parts * size_w * need_w) * sizeof(floating))
    if scratch == NULL:
        raise MemoryError(f"conv2d_backward_: no buffers for {buffers} chunks' windows")
    cdef floating* sums = scratch + buffers * per_buffer     # each run's weight gradient
    cdef floating* own
    try:
        with nogil:
            if by_part:
                for p in prange(parts, schedule="static", num_threads=buffers):
                    own = scratch + threadid() * per_buffer
                    _conv_backward_run(&s, x_p, &w[0, 0], &g[0, 0, 0, 0], gx_p,
                                       sums + p * size_w if need_w else NULL,
                                       p * s.chunks // parts, (p + 1) * s.chunks // parts, own,
                                       own + gcols_at, own + side_at, 1)
            else:
                for p in range(parts):
                    _conv_backward_run(&s, x_p, &w[0, 0], &g[0, 0, 0, 0], gx_p,
                                       sums + p * size_w if need_w else NULL,
                                       p * s.chunks // parts, (p + 1) * s.chunks // parts,
                                       scratch, scratch + gcols_at, scratch + side_at, threads)
            if need_w:
                _weight_gradient(&gw[0, 0], beta, sums, parts, groups, s.Kg, s.Og)
    finally:
        free(scratch)


# ---- recurrences: a whole sequence in one call ------------------------------------------------
# An LSTM step is a product and an elementwise pass; at batch 8 x hidden 32 the Python between
# them (a matmul call, two adds, the cell kernel's call) cost more than both.

cdef int _check_sequence(str kernel, str name, Py_ssize_t* shape, tuple want) except -1:
    """ValueError naming the array whose shape (as many dims as want has) is not want"""
    cdef tuple got = tuple([shape[i] for i in range(len(want))])
    if got != want:
        raise ValueError(f"{kernel}: {name} has shape {got}, not {want}")
    return 0


cdef int _check_step_inputs(str kernel, Py_ssize_t* x_w, Py_ssize_t* w_t, Py_ssize_t* b_hh,
                            Py_ssize_t* h_before, Py_ssize_t L, Py_ssize_t N, Py_ssize_t H,
                            Py_ssize_t G) except -1:
    """What every sequence kernel's forward takes: x_w (L, N, G), w_t (H, G), b_hh (G,; NULL:
    none), h_before (L, N, H), a BLAS, and steps to run"""
    _check_sequence(kernel, "x_w", x_w, (L, N, G))
    _check_sequence(kernel, "w_t", w_t, (H, G))
    if b_hh != NULL:
        _check_sequence(kernel, "b_hh", b_hh, (G,))
    _check_sequence(kernel, "h_before", h_before, (L, N, H))
    _check_blas()
    _check_steps(kernel, L, N, H)
    return 0


cdef void* _scratch(str kernel, size_t size, str what) except NULL:
    """size bytes from malloc for kernel's scratch (freed by the caller), or MemoryError
    naming what they were for"""
    cdef void* p = malloc(max(<size_t> 1, size))
    if p == NULL:
        raise MemoryError(f"{kernel}: no scratch for {what}")
    return p


cdef floating* _backward_start(str kernel, Py_ssize_t L, Py_ssize_t N, Py_ssize_t H,
                               int buffers, floating[:, ::1] dh) except NULL:
    """a sequence kernel's backward, before its steps: the checks (a BLAS, steps to go back
    through), h0's gradient dh (N x H) zeroed, and `buffers` N x H values of scratch (the
    caller frees them)"""
    _check_blas()
    _check_steps(kernel, L, N, H)
    cdef floating* scratch = <floating*> _scratch(kernel, buffers * N * H * sizeof(floating),
                                                  f"{buffers} x {N} x {H}")
    _zeros_in(&dh[0, 0], N * H)
    return scratch


cdef int _check_steps(str kernel, Py_ssize_t L, Py_ssize_t N, Py_ssize_t H) except -1:
    """ValueError for an empty sequence (the callers take those to the reference)"""
    if L == 0 or N == 0 or H == 0:
        raise ValueError(f"{kernel}: {L} steps of {N} x {H}: nothing to compute")
    return 0


cdef inline void _sum_of(floating* out, const floating* a, const floating* b,
                         Py_ssize_t n) noexcept nogil:
    """out = a + b (n values)"""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = a[i] + b[i]


cdef inline void _copy_of(floating* out, const floating* a, Py_ssize_t n) noexcept nogil:
    """out = a (n values)"""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = a[i]


cdef inline void _zeros_in(floating* out, Py_ssize_t n) noexcept nogil:
    """out = 0 (n values)"""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = 0


cdef void _step_product(const floating* h, floating* h_kept, const floating* w_t,
                        const floating* bias, const floating* x, floating* out, Py_ssize_t N,
                        Py_ssize_t G, Py_ssize_t H, int threads) noexcept nogil:
    """A recurrence's step: h (N x H) kept in h_kept (the step's input, which the backward
    reads), then out (N x G) = (h w_t + bias) + x: h times w_t (H x G), then the bias (G,;
    NULL: none) and x (N x G; NULL: none) added, in F.linear's order and then the input's"""
    cdef Py_ssize_t r, j
    cdef floating zero = 0
    _copy_of(h_kept, h, N * H)
    _gemm_cut(False, False, <int> N, <int> G, <int> H, h, <int> H, w_t, <int> G, zero, out,
              <int> G, threads)
    for r in range(N):
        if bias != NULL:
            for j in range(G):
                out[r * G + j] += bias[j]
        if x != NULL:
            for j in range(G):
                out[r * G + j] += x[r * G + j]


def lstm_sequence_(const floating[:, :, ::1] x_w, const floating[:, ::1] h0,
                   const floating[:, ::1] c0, const floating[:, ::1] w_t,
                   const floating[::1] b_hh, bint reverse, floating[:, :, ::1] out,
                   floating[:, :, ::1] h_before, floating[:, :, ::1] act,
                   floating[:, :, ::1] c_before, floating[:, :, ::1] tanh_c):
    """An LSTM layer-direction over a sequence of steps (the last first where reverse): x_w
    (L, N, 4H) the input's products with weight_ih, w_t (H, 4H) weight_hh transposed, b_hh
    (4H,) or None. Each step t: gates = (h w_t + b_hh) + x_w[t] (the rounding of a product,
    then F.linear's bias, then the input's), then _recurrent.pxd's lstm_rows, in place in
    act[t]. Writes out (L + 1, N, H: each step's h, then the last c) and, by time, what the
    backward reads: h_before and c_before (each step's h and c inputs), act, tanh_c."""
    cdef Py_ssize_t L = x_w.shape[0], N = h0.shape[0], H = h0.shape[1], G = 4 * H
    _check_sequence("lstm_sequence_", "c0", c0.shape, (N, H))
    _check_sequence("lstm_sequence_", "out", out.shape, (L + 1, N, H))
    _check_sequence("lstm_sequence_", "c_before", c_before.shape, (L, N, H))
    _check_sequence("lstm_sequence_", "tanh_c", tanh_c.shape, (L, N, H))
    _check_sequence("lstm_sequence_", "act", act.shape, (L, N, G))
    _check_step_inputs("lstm_sequence_", x_w.shape, w_t.shape,
                       NULL if b_hh is None else b_hh.shape, h_before.shape, L, N, H, G)
    cdef const floating* h = &h0[0, 0]
    cdef const floating* c = &c0[0, 0]
    cdef const floating* bias = NULL if b_hh is None else &b_hh[0]
    cdef floating* gates
    cdef floating* c_out
    cdef Py_ssize_t s, t
    cdef int threads = cgrad_threads()
    with nogil:
        for s in range(L):
            t = L - 1 - s if reverse else s
            if s == 0:                  # (later steps' c is written there by the one before)
                _copy_of(&c_before[t, 0, 0], c, N * H)
            gates = &act[t, 0, 0]
            _step_product(h, &h_before[t, 0, 0], &w_t[0, 0], bias, &x_w[t, 0, 0], gates, N, G,
                          H, threads)
            # c' goes where the next step reads its c, or out's last row
            c_out = &out[L, 0, 0] if s == L - 1 else &c_before[t - 1 if reverse else t + 1, 0, 0]
            lstm_rows(gates, &c_before[t, 0, 0], gates, c_out, &tanh_c[t, 0, 0], &out[t, 0, 0],
                      N, H)
            h = &out[t, 0, 0]


def lstm_sequence_backward_(const floating[:, :, ::1] g, const floating[:, :, ::1] act,
                            const floating[:, :, ::1] c_before,
                            const floating[:, :, ::1] tanh_c, const floating[:, ::1] w_hh,
                            bint reverse, floating[:, :, ::1] d_gates, floating[:, ::1] dh,
                            floating[:, ::1] dc):
    """lstm_sequence_'s backward, given g (L + 1, N, H), the gradient of its out: the steps
    from the last run back (from the first where reverse), each: lstm_rows_backward with dh
    + g[t] and dc, into d_gates[t] (L, N, 4H) and dc, then dh = d_gates[t] w_hh (w_hh (4H,
    H)). dh and dc end as h0's and c0's gradients (dh starts at 0, dc at g[L])."""
    cdef Py_ssize_t L = act.shape[0], N = act.shape[1], H = c_before.shape[2], G = 4 * H
    _check_sequence("lstm_sequence_backward_", "g", g.shape, (L + 1, N, H))
    _check_sequence("lstm_sequence_backward_", "w_hh", w_hh.shape, (G, H))
    _check_sequence("lstm_sequence_backward_", "act", act.shape, (L, N, G))
    _check_sequence("lstm_sequence_backward_", "c_before", c_before.shape, (L, N, H))
    _check_sequence("lstm_sequence_backward_", "tanh_c", tanh_c.shape, (L, N, H))
    _check_sequence("lstm_sequence_backward_", "d_gates", d_gates.shape, (L, N, G))
    _check_sequence("lstm_sequence_backward_", "dh", dh.shape, (N, H))
    _check_sequence("lstm_sequence_backward_", "dc", dc.shape, (N, H))
    cdef floating* dh_t = _backward_start("lstm_sequence_backward_", L, N, H, 1, dh)
    cdef floating* dh_p = &dh[0, 0]
    cdef floating* dc_p = &dc[0, 0]
    cdef floating zero = 0
    cdef Py_ssize_t s, t
    cdef int threads = cgrad_threads()
    try:
        with nogil:
            _copy_of(dc_p, &g[L, 0, 0], N * H)
            for s in range(L):
                t = s if reverse else L - 1 - s
                _sum_of(dh_t, dh_p, &g[t, 0, 0], N * H)
                lstm_rows_backward(&act[t, 0, 0], &c_before[t, 0, 0], &tanh_c[t, 0, 0], dh_t,
                                   dc_p, &d_gates[t, 0, 0], dc_p, N, H)
                _gemm_cut(False, False, <int> N, <int> H, <int> G, &d_gates[t, 0, 0], <int> G,
                          &w_hh[0, 0], <int> H, zero, dh_p, <int> H, threads)
    finally:
        free(dh_t)


def gru_sequence_(const floating[:, :, ::1] x_w, const floating[:, ::1] h0,
                  const floating[:, ::1] w_t, const floating[::1] b_hh, bint reverse,
                  floating[:, :, ::1] out, floating[:, :, ::1] h_before,
                  floating[:, :, ::1] rz, floating[:, :, ::1] n, floating[:, :, ::1] h_n):
    """A GRU layer-direction over a sequence (the last step first where reverse): x_w (L, N,
    3H) the input's products with weight_ih, w_t (H, 3H) weight_hh transposed, b_hh (3H,) or
    None. Each step: hw = h w_t + b_hh, then _recurrent.pxd's gru_rows. Writes out (L, N, H:
    each step's h) and, by time, what the backward reads: h_before (each step's h input),
    rz (L, N, 2H), n and h_n (L, N, H)."""
    cdef Py_ssize_t L = x_w.shape[0], N = h0.shape[0], H = h0.shape[1], G = 3 * H
    _check_sequence("gru_sequence_", "out", out.shape, (L, N, H))
    _check_sequence("gru_sequence_", "rz", rz.shape, (L, N, 2 * H))
    _check_sequence("gru_sequence_", "n", n.shape, (L, N, H))
    _check_sequence("gru_sequence_", "h_n", h_n.shape, (L, N, H))
    _check_step_inputs("gru_sequence_", x_w.shape, w_t.shape,
                       NULL if b_hh is None else b_hh.shape, h_before.shape, L, N, H, G)
    cdef floating* hw = <floating*> _scratch("gru_sequence_", N * G * sizeof(floating),
                                             f"{N} x {G}")
    cdef const floating* h = &h0[0, 0]
    cdef const floating* bias = NULL if b_hh is None else &b_hh[0]
    cdef Py_ssize_t s, t
    cdef int threads = cgrad_threads()
    try:
        with nogil:
            for s in range(L):
                t = L - 1 - s if reverse else s
                _step_product(h, &h_before[t, 0, 0], &w_t[0, 0], bias, NULL, hw, N, G, H,
                              threads)
                gru_rows(hw, &x_w[t, 0, 0], h, &rz[t, 0, 0], &n[t, 0, 0], &h_n[t, 0, 0],
                         &out[t, 0, 0], N, H)
                h = &out[t, 0, 0]
    finally:
        free(hw)


def gru_sequence_backward_(const floating[:, :, ::1] g, const floating[:, :, ::1] h_before,
                           const floating[:, :, ::1] rz, const floating[:, :, ::1] n,
                           const floating[:, :, ::1] h_n, const floating[:, ::1] w_hh,
                           bint reverse, floating[:, :, ::1] d_x, floating[:, :, ::1] d_h,
                           floating[:, ::1] dh):
    """gru_sequence_'s backward given g (L, N, H), the gradient of its out: the steps from
    the last back (the first where reverse), each: gru_rows_backward with dh + g[t], into
    d_x[t] and d_h[t] (L, N, 3H), then dh = (dh + g[t]) z + d_h[t] w_hh (w_hh (3H, H)). dh
    ends as h0's gradient."""
    cdef Py_ssize_t L = g.shape[0], N = g.shape[1], H = g.shape[2], G = 3 * H
    _check_sequence("gru_sequence_backward_", "h_before", h_before.shape, (L, N, H))
    _check_sequence("gru_sequence_backward_", "rz", rz.shape, (L, N, 2 * H))
    _check_sequence("gru_sequence_backward_", "n", n.shape, (L, N, H))
    _check_sequence("gru_sequence_backward_", "h_n", h_n.shape, (L, N, H))
    _check_sequence("gru_sequence_backward_", "w_hh", w_hh.shape, (G, H))
    _check_sequence("gru_sequence_backward_", "d_x", d_x.shape, (L, N, G))
    _check_sequence("gru_sequence_backward_", "d_h", d_h.shape, (L, N, G))
    _check_sequence("gru_sequence_backward_", "dh", dh.shape, (N, H))
    cdef floating* scratch = _backward_start("gru_sequence_backward_", L, N, H, 2, dh)
    cdef floating* dh_t = scratch
    cdef floating* product = scratch + N * H
    cdef floating* dh_p = &dh[0, 0]
    cdef floating zero = 0
    cdef Py_ssize_t s, t, i
    cdef int threads = cgrad_threads()
    try:
        with nogil:
            for s in range(L):
                t = s if reverse else L - 1 - s
                _sum_of(dh_t, dh_p, &g[t, 0, 0], N * H)
                gru_rows_backward(&rz[t, 0, 0], &n[t, 0, 0], &h_n[t, 0, 0], &h_before[t, 0, 0],
                                  dh_t, &d_x[t, 0, 0], &d_h[t, 0, 0], dh_p, N, H)
                _gemm_cut(False, False, <int> N, <int> H, <int> G, &d_h[t, 0, 0], <int> G,
                          &w_hh[0, 0], <int> H, zero, product, <int> H, threads)
                for i in range(N * H):
                    dh_p[i] += product[i]
    finally:
        free(scratch)


def rnn_sequence_(const floating[:, :, ::1] x_w, const floating[:, ::1] h0,
                  const floating[:, ::1] w_t, const floating[::1] b_hh, bint reverse,
                  bint relu, floating[:, :, ::1] out, floating[:, :, ::1] h_before):
    """An Elman RNN layer-direction (tanh, or relu) over a sequence (the last step first
    where reverse): x_w (L, N, H) the input's products with weight_ih, w_t (H, H) weight_hh
    transposed, b_hh (H,) or None. Each step: h = act((h w_t + b_hh) + x_w[t]) (_recurrent.pxd's
    rnn_rows). Writes out (L, N, H: each step's h, which the backward reads) and h_before
    (each step's h input)."""
    cdef Py_ssize_t L = x_w.shape[0], N = h0.shape[0], H = h0.shape[1]
    _check_sequence("rnn_sequence_", "out", out.shape, (L, N, H))
    _check_step_inputs("rnn_sequence_", x_w.shape, w_t.shape,
                       NULL if b_hh is None else b_hh.shape, h_before.shape, L, N, H, H)
    cdef const floating* h = &h0[0, 0]
    cdef const floating* bias = NULL if b_hh is None else &b_hh[0]
    cdef Py_ssize_t s, t
    cdef int threads = cgrad_threads()
    with nogil:
        for s in range(L):
            t = L - 1 - s if reverse else s
            _step_product(h, &h_before[t, 0, 0], &w_t[0, 0], bias, &x_w[t, 0, 0], &out[t, 0, 0],
                          N, H, H, threads)
            rnn_rows(&out[t, 0, 0], N * H, relu)
            h = &out[t, 0, 0]


def rnn_sequence_backward_(const floating[:, :, ::1] g, const floating[:, :, ::1] out,
                           const floating[:, ::1] w_hh, bint reverse, bint relu,
                           floating[:, :, ::1] d_x, floating[:, ::1] dh):
    """rnn_sequence_'s backward given g (L, N, H), the gradient of its out: the steps from
    the last back (the first where reverse), each: d_x[t] = act'(out[t]) (dh + g[t])
    (rnn_rows_backward), then dh = d_x[t] w_hh. dh ends as h0's gradient."""
    cdef Py_ssize_t L = g.shape[0], N = g.shape[1], H = g.shape[2]
    _check_sequence("rnn_sequence_backward_", "out", out.shape, (L, N, H))
    _check_sequence("rnn_sequence_backward_", "w_hh", w_hh.shape, (H, H))
    _check_sequence("rnn_sequence_backward_", "d_x", d_x.shape, (L, N, H))
    _check_sequence("rnn_sequence_backward_", "dh", dh.shape, (N, H))
    cdef floating* dh_t = _backward_start("rnn_sequence_backward_", L, N, H, 1, dh)
    cdef floating* dh_p = &dh[0, 0]
    cdef floating zero = 0
    cdef Py_ssize_t s, t
    cdef int threads = cgrad_threads()
    try:
        with nogil:
            for s in range(L):
                t = s if reverse else L - 1 - s
                _sum_of(dh_t, dh_p, &g[t, 0, 0], N * H)
                rnn_rows_backward(&out[t, 0, 0], dh_t, &d_x[t, 0, 0], N * H, relu)
                _gemm_cut(False, False, <int> N, <int> H, <int> H, &d_x[t, 0, 0], <int> H,
                          &w_hh[0, 0], <int> H, zero, dh_p, <int> H, threads)
    finally:
        free(dh_t)
