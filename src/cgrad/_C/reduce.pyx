"""Row kernels over an R x C C-contiguous block (the reduced dim last): softmax, log_softmax
and cross-entropy forward and backward, each one compiled call, row-parallel, numerically
stable (every row is shifted by its max). A row's sums run in a fixed order, so the thread
count never changes a result.

exp: float32 uses a Cephes-style polynomial that GCC vectorises (_vmath.pxd: within 1 ulp of
the rounded value; glibc's expf is a call per element); float64 uses libm's exp. At baseline x86-64 (SSE2)
that costs ~1.8 ns an element against NumPy's AVX-512 np.exp at ~0.5 ns, so the adapter uses
these kernels below a size where one fused call beats NumPy's several (CythonKernels' exp_limit)."""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport exp, log, logf, sqrt, sqrtf
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
import numpy as np
cimport numpy as cnp
from cgrad._C._arrays cimport array_data, array_len
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel
from cgrad._C._vmath cimport (cgrad_expf_nonpos, cgrad_row_dev, cgrad_row_devf,
                              cgrad_row_max, cgrad_row_maxf, cgrad_row_sum, cgrad_row_sumf,
                              cgrad_exp_sumf, cgrad_ext1, cgrad_ext1f, cgrad_row_extreme,
                              cgrad_cols_extreme, cgrad_cols_extremef,
                              cgrad_row_extremef,
                              cgrad_short_row_maxf, cgrad_short_row_sumf, vexp_nonpos, vlog,
                              vlog_sigmoid, vsigmoid)

link_thread_count()

cdef enum:
    LANES = 16


cdef void _exp_into(const floating* x, floating m, floating* out, Py_ssize_t n) noexcept nogil:
    """out[i] = exp(x[i] - m)"""
    cdef Py_ssize_t i, j, full = n - n % LANES
    if floating is double:
        for i in range(n):
            out[i] = exp(x[i] - m)
    else:
        for i in range(full):
            out[i] = cgrad_expf_nonpos(x[i] - m)
        # The last n % LANES as one masked block (GCC vectorises the conditional loads and
        # stores at AVX2 and AVX-512): as a scalar tail, a 10-class row took 10 scalar exps.
        for j in range(LANES):
            if full + j < n:
                out[full + j] = cgrad_expf_nonpos(x[full + j] - m)


cdef inline floating _exp_sum(const floating* x, floating m, floating* out,
                             Py_ssize_t n) noexcept nogil:
    """_exp_into, then the sum of out as _sum adds it, in one pass for float32"""
    if floating is float:
        return cgrad_exp_sumf(x, m, out, n)
    else:
        _exp_into(x, m, out, n)
        return _sum(out, n)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating _lanes(const floating* x, const floating* y, Py_ssize_t n,
                            bint dot) noexcept nogil:
    """sum of x[0:n], or of x * y, over 16 lanes folded in a fixed tree (_vmath.pxd: the same
    bits at every ISA and thread count)"""
    if floating is float:
        return cgrad_row_sumf(x, y, n, dot)
    else:
        return cgrad_row_sum(x, y, n, dot)


cdef inline floating _row_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """max of x[0:n] ignoring NaN (x[0] starts every lane; _vmath.pxd). A NaN in a row still
    makes the whole softmax row NaN, through its exp and the row's sum, as NumPy's NaN max
    does."""
    if floating is float:
        return cgrad_row_maxf(x, n)
    else:
        return cgrad_row_max(x, n)


cdef inline floating _sum(const floating* x, Py_ssize_t n) noexcept nogil:
    return _lanes(x, x, n, False)


cdef inline floating _dot(const floating* x, const floating* y, Py_ssize_t n) noexcept nogil:
    return _lanes(x, y, n, True)


cdef void _softmax_finish(const floating* x, floating* out, floating m, floating s,
                          Py_ssize_t C, bint log_) noexcept nogil:
    """out holds exp(x - m) with sum s: softmax divides it by s, log_softmax overwrites it with
    x - m - log(s)"""
    cdef floating lse
    cdef Py_ssize_t i
    if log_:
        lse = _log(s)
        for i in range(C):
            out[i] = (x[i] - m) - lse
    else:
        for i in range(C):
            out[i] = out[i] / s


cdef void _softmax_row(const floating* x, floating* out, Py_ssize_t C, bint log_) noexcept nogil:
    cdef floating m = _row_max(x, C)
    _softmax_finish(x, out, m, _exp_sum(x, m, out, C), C, log_)


# The row kernels run over blocks of rows one step at a time (every row's max, then every row's
# exps and sum, then the rest), so that the rows' steps overlap in the CPU: a 10-class row
# alone is one chain of dependent operations, ~40 ns. A block's rows stay in L1.
cdef enum:
    BLOCK_ROWS = 16
    BLOCK_ELEMS = 2048


cdef inline Py_ssize_t _block_rows(Py_ssize_t C) noexcept nogil:
    return max(1, min(<Py_ssize_t> BLOCK_ROWS, BLOCK_ELEMS // max(C, 1)))


cdef enum:
    FLAT_C = 16
    FLAT_ELEMS = BLOCK_ROWS * FLAT_C


cdef void _max_exp_sums_short(const float* x, float* out, Py_ssize_t rows, Py_ssize_t C,
                              float* m, float* s) noexcept nogil:
    """_max_exp_sums for float32 rows shorter than 16 (a vector's tail each): their exps as
    one flat run over the block, then their sums; a row with 16 elements of the block after
    it loads them whole (_vmath.pxd). The same operations, so the same bits."""
    cdef float shifted[FLAT_ELEMS]
    cdef Py_ssize_t r, i
    for r in range(rows):
        m[r] = (cgrad_short_row_maxf(x + r * C, C) if (rows - r) * C >= FLAT_C
                else _row_max(x + r * C, C))
        for i in range(C):
            shifted[r * C + i] = x[r * C + i] - m[r]
    _exp_into(shifted, 0, out, rows * C)
    for r in range(rows):
        s[r] = (cgrad_short_row_sumf(out + r * C, C) if (rows - r) * C >= FLAT_C
                else _sum(out + r * C, C))


cdef void _max_exp_sums(const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t C,
                        floating* m, floating* s) noexcept nogil:
    """m[r] = max of row r of x (rows x C), out's row r = exp(x - m[r]), s[r] = its sum"""
    cdef Py_ssize_t r
    if floating is float and C < FLAT_C:
        _max_exp_sums_short(x, out, rows, C, m, s)
        return
    for r in range(rows):
        m[r] = _row_max(x + r * C, C)
    for r in range(rows):
        s[r] = _exp_sum(x + r * C, m[r], out + r * C, C)


cdef void _softmax_block(const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t C,
                         bint log_) noexcept nogil:
    cdef floating m[BLOCK_ROWS]
    cdef floating s[BLOCK_ROWS]
    cdef Py_ssize_t r
    _max_exp_sums(x, out, rows, C, m, s)
    for r in range(rows):
        _softmax_finish(x + r * C, out + r * C, m[r], s[r], C, log_)


cdef int _check(Py_ssize_t n, Py_ssize_t expected, str name) except -1:
    if n != expected:
        raise ValueError(f"{name} has {n} elements, expected {expected}")
    return 0


def softmax_(const floating[::1] x, floating[::1] out, Py_ssize_t R, Py_ssize_t C, bint log_):
    """out = softmax (or log_softmax) of each row of x (R x C)"""
    _check(x.shape[0], R * C, "x")
    _check(out.shape[0], R * C, "out")
    if R * C == 0:
        return
    cdef const floating* xp = &x[0]
    cdef floating* op = &out[0]
    cdef Py_ssize_t b, B = _block_rows(C)
    if parallel(R * C):
        for b in prange((R + B - 1) // B, nogil=True, schedule="static",
                        num_threads=cgrad_threads()):
            _softmax_block(xp + b * B * C, op + b * B * C, min(B, R - b * B), C, log_)
    else:
        with nogil:
            for b in range((R + B - 1) // B):
                _softmax_block(xp + b * B * C, op + b * B * C, min(B, R - b * B), C, log_)


cdef void _softmax_bwd_row(const floating* y, const floating* g, floating* out, Py_ssize_t C,
                           bint log_) noexcept nogil:
    cdef floating s, zero = 0
    cdef Py_ssize_t i
    if log_:
        s = _sum(g, C)                      # g - exp(y) sum(g)
        _exp_into(y, zero, out, C)
        for i in range(C):
            out[i] = g[i] - out[i] * s
    else:
        s = _dot(g, y, C)                   # y (g - sum(g y))
        for i in range(C):
            out[i] = y[i] * (g[i] - s)


def softmax_backward_(const floating[::1] y, const floating[::1] g, floating[::1] out,
                      Py_ssize_t R, Py_ssize_t C, bint log_):
    """out = y (g - sum(g y)) per row, or g - exp(y) sum(g) for log_softmax (y the output)"""
    _check(y.shape[0], R * C, "y")
    _check(g.shape[0], R * C, "g")
    _check(out.shape[0], R * C, "out")
    if R * C == 0:
        return
    cdef const floating* yp = &y[0]
    cdef const floating* gp = &g[0]
    cdef floating* op = &out[0]
    cdef Py_ssize_t r
    if parallel(R * C):
        for r in prange(R, nogil=True, schedule="static", num_threads=cgrad_threads()):
            _softmax_bwd_row(yp + r * C, gp + r * C, op + r * C, C, log_)
    else:
        with nogil:
            for r in range(R):
                _softmax_bwd_row(yp + r * C, gp + r * C, op + r * C, C, log_)


# ---- softmax along a middle axis: x as (A, K, L), K the softmax's ------------------------------
# Vectorised across l: each task takes one a and up to _cols_width(K) positions l (their K
# rows fit in L2 for the three passes), every l's max, exps and sum in k order. So the same
# bits at any thread count. A NaN, or an inf (inf - inf), makes its l's column NaN, as the row
# kernels' and PyTorch's.
cdef enum:
    COLS_TASK = 32768       # elements per task, about: K rows of the task's width
    COLS_WIDE = 2048        # the widest task (its max and sum kept on the stack)


cdef inline Py_ssize_t _cols_width(Py_ssize_t K, Py_ssize_t L) noexcept nogil:
    return min(L, <Py_ssize_t> COLS_WIDE,
               max(<Py_ssize_t> 16, (COLS_TASK // max(K, 1)) // 16 * 16))


cdef inline floating _exp_of(floating v) noexcept nogil:
    if floating is float:
        return cgrad_expf_nonpos(v)
    else:
        return exp(v)


cdef void _cols_max_exp_sums(const floating* x, floating* out, Py_ssize_t K, Py_ssize_t n,
                             Py_ssize_t L, floating* m, floating* s) noexcept nogil:
    """m[l] = max over k of x[k, l] (rows L apart), out[k, l] = exp(x[k, l] - m[l]) and s[l]
    = their sum, for l < n"""
    cdef Py_ssize_t k, l
    cdef floating v, e
    cdef const floating* row
    cdef floating* orow
    for l in range(n):
        m[l] = x[l]
        s[l] = 0
    for k in range(1, K):
        row = x + k * L
        for l in range(n):
            v = row[l]
            m[l] = v if v > m[l] else m[l]          # (NaN-blind, as _row_max)
    for k in range(K):
        row, orow = x + k * L, out + k * L
        for l in range(n):
            e = _exp_of(row[l] - m[l])
            orow[l] = e
            s[l] = s[l] + e


cdef void _softmax_cols(const floating* x, floating* out, Py_ssize_t K, Py_ssize_t n,
                        Py_ssize_t L, bint log_, floating* m, floating* s) noexcept nogil:
    """out[k, l] = softmax (log_softmax) over k of x[k, l], rows L apart, for l < n; m, s:
    n floats of scratch each"""
    cdef Py_ssize_t k, l
    cdef const floating* row
    cdef floating* orow
    _cols_max_exp_sums(x, out, K, n, L, m, s)
    if log_:
        for l in range(n):
            s[l] = vlog(s[l])
    for k in range(K):
        row, orow = x + k * L, out + k * L
        if log_:
            for l in range(n):
                orow[l] = (row[l] - m[l]) - s[l]
        else:
            for l in range(n):
                orow[l] = orow[l] / s[l]


cdef void _softmax_cols_bwd(const floating* y, const floating* g, floating* out, Py_ssize_t K,
                            Py_ssize_t n, Py_ssize_t L, bint log_, floating* s) noexcept nogil:
    """out = y (g - sum_k g y), or g - exp(y) sum_k g (log_), over k for l < n"""
    cdef Py_ssize_t k, l
    cdef const floating* yr
    cdef const floating* gr
    cdef floating* orow
    for l in range(n):
        s[l] = 0
    for k in range(K):
        yr, gr = y + k * L, g + k * L
        if log_:
            for l in range(n):
                s[l] = s[l] + gr[l]
        else:
            for l in range(n):
                s[l] = s[l] + gr[l] * yr[l]
    for k in range(K):
        yr, gr, orow = y + k * L, g + k * L, out + k * L
        if log_:
            for l in range(n):
                orow[l] = gr[l] - _exp_of(yr[l]) * s[l]
        else:
            for l in range(n):
                orow[l] = yr[l] * (gr[l] - s[l])


cdef void _cols_task(const floating* x, const floating* g, floating* out, Py_ssize_t task,
                     Py_ssize_t per_a, Py_ssize_t W, Py_ssize_t K, Py_ssize_t L, bint log_,
                     bint backward) noexcept nogil:
    cdef floating m[COLS_WIDE]
    cdef floating s[COLS_WIDE]
    cdef Py_ssize_t a = task // per_a, l0 = (task % per_a) * W
    cdef Py_ssize_t at = a * K * L + l0, n = min(W, L - l0)
    if backward:
        _softmax_cols_bwd(x + at, g + at, out + at, K, n, L, log_, s)
    else:
        _softmax_cols(x + at, out + at, K, n, L, log_, m, s)


cdef void _cols_run(const floating* x, const floating* g, floating* out, Py_ssize_t A,
                    Py_ssize_t K, Py_ssize_t L, bint log_, bint backward) noexcept nogil:
    cdef Py_ssize_t W = _cols_width(K, L), per_a = (L + W - 1) // W, task
    if A * per_a > 1 and parallel(A * K * L):
        for task in prange(A * per_a, schedule="static", num_threads=cgrad_threads()):
            _cols_task(x, g, out, task, per_a, W, K, L, log_, backward)
    else:
        for task in range(A * per_a):
            _cols_task(x, g, out, task, per_a, W, K, L, log_, backward)


cdef int _check_cols(Py_ssize_t a, Py_ssize_t k, Py_ssize_t l, Py_ssize_t A, Py_ssize_t K,
                     Py_ssize_t L, str name) except -1:
    if a != A or k != K or l != L:
        raise ValueError(f"{name} has shape {(a, k, l)}, expected {(A, K, L)}")
    return 0


def softmax_cols_(const floating[:, :, ::1] x, floating[:, :, ::1] out, bint log_):
    """out = softmax (log_softmax) of x (A, K, L) along its middle axis"""
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], L = x.shape[2]
    _check_cols(out.shape[0], out.shape[1], out.shape[2], A, K, L, "out")
    if A * K * L == 0:
        return
    with nogil:
        _cols_run(&x[0, 0, 0], NULL, &out[0, 0, 0], A, K, L, log_, False)


def softmax_cols_backward_(const floating[:, :, ::1] y, const floating[:, :, ::1] g,
                           floating[:, :, ::1] out, bint log_):
    """out = y (g - sum(g y)), or g - exp(y) sum(g) (log_), along y's middle axis (y the
    output)"""
    cdef Py_ssize_t A = y.shape[0], K = y.shape[1], L = y.shape[2]
    _check_cols(g.shape[0], g.shape[1], g.shape[2], A, K, L, "g")
    _check_cols(out.shape[0], out.shape[1], out.shape[2], A, K, L, "out")
    if A * K * L == 0:
        return
    with nogil:
        _cols_run(&y[0, 0, 0], &g[0, 0, 0], &out[0, 0, 0], A, K, L, log_, True)


# ---- cross-entropy ------------------------------------------------------------------------
cdef int _ce_check(Py_ssize_t rows, str rows_name, const int64_t* target, Py_ssize_t n_target,
                   Py_ssize_t n_weight, int64_t ignore_index, Py_ssize_t R,
                   Py_ssize_t C) except -1:
    """The sizes a cross-entropy call shares, and its targets in [0, C) (IndexError, as
    PyTorch): 1 when a weight is given, else 0."""
    _check(rows, R * C, rows_name)
    _check(n_target, R, "target")
    if n_weight > 0:
        _check(n_weight, C, "weight")
    cdef Py_ssize_t r
    cdef bint bad = False
    for r in range(R):                  # (a vectorised scan; the first bad one found after)
        bad = bad | ((target[r] != ignore_index) & ((target[r] < 0) | (target[r] >= C)))
    for r in range(R if bad else 0):
        if target[r] != ignore_index and not (0 <= target[r] < C):
            raise IndexError(f"Target {target[r]} is out of bounds.")
    return n_weight > 0


cdef double _ce_denominator(const int64_t* target, Py_ssize_t R, int64_t ignore_index,
                            const floating* w, bint has_w) noexcept nogil:
    """the summed weights of the targets not ignored (their count without weight)"""
    cdef Py_ssize_t r, count = 0
    cdef double total = 0
    if not has_w:
        for r in range(R):
            count += target[r] != ignore_index
        return count
    for r in range(R):
        if target[r] != ignore_index:
            total += w[target[r]]
    return total


cdef inline int _typenum(floating* kind) noexcept:
    return cnp.NPY_FLOAT if floating is float else cnp.NPY_DOUBLE


cdef double _total(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum of x in double over 8 lanes in a fixed order: a loss total keeps its dtype's
    precision at any batch size (a float32 sum drifts by ~n/16 ulp)"""
    cdef double acc[8]
    cdef Py_ssize_t i, j, full = n - n % 8
    for j in range(8):
        acc[j] = 0
    for i in range(0, full, 8):                     # (acc[j] += x[i + j]: one vector)
        for j in range(8):
            acc[j] += x[i + j]
    for i in range(full, n):
        acc[i % 8] += x[i]
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))


cdef floating _ce_loss(const floating* lp, int64_t t, const floating* w, bint has_w,
                       floating keep, floating spread, Py_ssize_t C) noexcept nogil:
    """a row's loss from its log_probs (NumpyKernels' order of operations)"""
    cdef floating zero = 0, nll, smooth
    nll = -lp[t]
    if has_w:
        nll = nll * w[t]
    if spread != zero:
        smooth = -(_dot(lp, w, C) if has_w else _sum(lp, C))
        nll = keep * nll + spread * smooth
    return nll


cdef floating _ce_probs_loss(const floating* x, floating m, floating s, int64_t t,
                             const floating* w, bint has_w, bint valid) noexcept nogil:
    """a row's loss -w[t] log_softmax(x)[t] from its max m and sum s of exp(x - m), with
    _ce_loss's bits (no label smoothing)"""
    cdef floating nll, zero = 0
    if not valid:
        return zero
    nll = -((x[t] - m) - _log(s))
    return nll * w[t] if has_w else nll


cdef void _ce_block(const floating* x, floating* out, const int64_t* t, const floating* w,
                    bint has_w, int64_t ignore_index, floating keep, floating spread,
                    floating* losses, floating* scale, Py_ssize_t rows, Py_ssize_t C,
                    bint probs) noexcept nogil:
    """out = the rows' log_softmax and their losses; or (probs) their exp(x - max), with
    scale = 1 / their sums: the softmax is out * scale, which backward computes on the way
    (no pass here to normalise the rows)"""
    cdef floating m[BLOCK_ROWS]
    cdef floating s[BLOCK_ROWS]
    cdef floating zero = 0, one = 1
    cdef Py_ssize_t r
    _max_exp_sums(x, out, rows, C, m, s)
    for r in range(rows):
        if probs:
            scale[r] = one / s[r]
            losses[r] = _ce_probs_loss(x + r * C, m[r], s[r], t[r], w, has_w,
                                       t[r] != ignore_index)
        else:
            _softmax_finish(x + r * C, out + r * C, m[r], s[r], C, True)
            losses[r] = (_ce_loss(out + r * C, t[r], w, has_w, keep, spread, C)
                         if t[r] != ignore_index else zero)


def cross_entropy_(const floating[::1] logits, target, weight, int64_t ignore_index,
                   double label_smoothing, log_probs, losses, Py_ssize_t R, Py_ssize_t C,
                   bint probs=False, scale=None):
    """log_probs = log_softmax(logits) and losses[n] = (1 - eps) w[t_n] (-log_probs[n, t_n])
    + eps / C sum_c w_c (-log_probs[n, c]) (0 where t_n == ignore_index); weight may be
    empty (w = 1). A target outside [0, C) raises IndexError. With probs, the rows get
    exp(x - max) and scale (R,) 1 / their sums instead: the softmax, which backward reads
    without an exp (no label smoothing then).
    The arrays besides logits (1-D, C-contiguous; target int64, the others logits' dtype)
    are read through _arrays.array_data: memoryviews of all seven cost ~0.6 us a call.
    Returns (sum of the losses, in a fixed order; summed weights of the targets not ignored,
    their count without weight): what a "sum" or "mean" reduction needs, with no more calls."""
    if probs and label_smoothing > 0:
        raise ValueError("probs=True takes no label smoothing")
    cdef int T = _typenum(<floating*> NULL)
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    cdef floating* lpp = <floating*> array_data(log_probs, T, "log_probs", True)
    cdef floating* lsp = <floating*> array_data(losses, T, "losses", True)
    cdef floating* scp = lsp
    if probs:
        if scale is None:
            _check(0, R, "scale")
        scp = <floating*> array_data(scale, T, "scale", True)
        _check(array_len(scale), R, "scale")
    _check(logits.shape[0], R * C, "logits")
    _check(array_len(losses), R, "losses")
    cdef bint has_w = _ce_check(array_len(log_probs), "log_probs", tp, array_len(target),
                                array_len(weight), ignore_index, R, C)
    cdef Py_ssize_t r
    cdef double denominator = _ce_denominator(tp, R, ignore_index, wp, has_w)
    if R * C == 0:
        for r in range(R):      # C == 0: every target was ignored (any other raised)
            lsp[r] = 0
            if probs:
                scp[r] = 0
        return 0.0, denominator
    cdef floating keep = <floating> (1 - label_smoothing)
    cdef floating spread = <floating> (label_smoothing / C) if label_smoothing > 0 else 0
    cdef const floating* xp = &logits[0]
    if not has_w:
        wp = xp
    cdef Py_ssize_t b, B = _block_rows(C)
    if parallel(R * C):
        for b in prange((R + B - 1) // B, nogil=True, schedule="static",
                        num_threads=cgrad_threads()):
            _ce_block(xp + b * B * C, lpp + b * B * C, tp + b * B, wp, has_w, ignore_index, keep,
                      spread, lsp + b * B, scp + b * B, min(B, R - b * B), C, probs)
    else:
        with nogil:
            for b in range((R + B - 1) // B):
                _ce_block(xp + b * B * C, lpp + b * B * C, tp + b * B, wp, has_w,
                          ignore_index, keep, spread, lsp + b * B, scp + b * B,
                          min(B, R - b * B), C, probs)
    return _total(lsp, R), denominator


cdef inline floating _ce_bwd_elem(floating lp, bint is_t, floating w, floating total,
                                  floating picked, floating spread, bint probs) noexcept nogil:
    """one element of a row's gradient, in the non-adding path's order"""
    cdef floating d = (lp if probs else vexp_nonpos(lp)) * total
    if is_t:
        d = d - picked
    return d - spread * w if spread != 0 else d


cdef void _ce_bwd_row(const floating* lp, floating* out, int64_t t, int64_t ignore_index,
                      const floating* w, bint has_w, floating g, floating keep,
                      floating spread_c, floating w_sum, floating scale, bint probs, bint add,
                      Py_ssize_t C) noexcept nogil:
    if t == ignore_index:       # the row's gradient is 0 (NumpyKernels: g' = 0, target 0)
        t, g = 0, 0
    cdef floating w_t = w[t] if has_w else 1
    cdef floating picked = keep * w_t * g, total = picked, spread
    cdef floating zero = 0, acc_t = out[t] if add else 0
    cdef Py_ssize_t i
    if spread_c != zero:
        total = picked + spread_c * w_sum * g
    if probs:                   # lp holds exp(x - max): the softmax times 1 / scale
        total = total * scale
    if probs and add:
        # into the gradient buffer in the pass; the target's element as acc + (p t - picked)
        for i in range(C):
            out[i] = out[i] + lp[i] * total
        out[t] = acc_t + (lp[t] * total - picked)
        return
    if add:                             # the rare cases: the row first, then the sum
        for i in range(C):
            out[i] = out[i] + _ce_bwd_elem(lp[i], i == t, w[i] if has_w else 1, total, picked,
                                           spread_c * g, probs)
        return
    if probs:                           # lp holds the softmax itself
        for i in range(C):
            out[i] = lp[i] * total
    else:
        _exp_into(lp, zero, out, C)
        for i in range(C):
            out[i] = out[i] * total
    out[t] = out[t] - picked
    if spread_c != zero:
        spread = spread_c * g
        if has_w:
            for i in range(C):
                out[i] = out[i] - spread * w[i]
        else:
            for i in range(C):
                out[i] = out[i] - spread


def cross_entropy_backward_(const floating[::1] log_probs, target, g_rows, weight,
                            int64_t ignore_index, double label_smoothing, double w_sum,
                            out, Py_ssize_t R, Py_ssize_t C, bint probs=False,
                            bint add=False, double g_all=0, scale=None):
    """out[n] = g'_n (sum(a_n) softmax_n - a_n) with a_n = (1 - eps) w[t_n] onehot(t_n) +
    eps / C w, g'_n = 0 for ignored rows; w_sum = sum of weight (C without one). With probs,
    log_probs holds exp(x - max) and scale 1 / the rows' sums (cross_entropy_ with
    probs=True); with add, out += it.
    g_rows holds one g'_n per row; empty, g_all is every row's (a "sum" or "mean" reduction).
    The arrays besides log_probs as cross_entropy_ reads them."""
    if probs and label_smoothing > 0:
        raise ValueError("probs=True takes no label smoothing")
    cdef int T = _typenum(<floating*> NULL)
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* gp = <const floating*> array_data(g_rows, T, "g_rows", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    cdef floating* op = <floating*> array_data(out, T, "out", True)
    cdef floating one = 1
    cdef const floating* scp = &one
    _check(array_len(out), R * C, "out")
    cdef floating g_one = <floating> g_all
    cdef Py_ssize_t g_step = 1 if array_len(g_rows) else 0
    if g_step:
        _check(array_len(g_rows), R, "g_rows")
    else:
        gp = &g_one
    if probs:
        if scale is None:
            _check(0, R, "scale")
        scp = <const floating*> array_data(scale, T, "scale", False)
        _check(array_len(scale), R, "scale")
    cdef bint has_w = _ce_check(log_probs.shape[0], "log_probs", tp, array_len(target),
                                array_len(weight), ignore_index, R, C)
    cdef Py_ssize_t r
    if R * C == 0:
        return
    cdef floating keep = <floating> (1 - label_smoothing)
    cdef floating spread_c = <floating> (label_smoothing / C) if label_smoothing > 0 else 0
    cdef floating ws = <floating> w_sum
    cdef const floating* lpp = &log_probs[0]
    if not has_w:
        wp = lpp
    cdef Py_ssize_t s_step = 1 if probs else 0
    if parallel(R * C):
        for r in prange(R, nogil=True, schedule="static", num_threads=cgrad_threads()):
            _ce_bwd_row(lpp + r * C, op + r * C, tp[r], ignore_index, wp, has_w,
                        gp[r * g_step], keep, spread_c, ws, scp[r * s_step], probs, add, C)
    else:
        with nogil:
            for r in range(R):
                _ce_bwd_row(lpp + r * C, op + r * C, tp[r], ignore_index, wp, has_w,
                            gp[r * g_step], keep, spread_c, ws, scp[r * s_step], probs, add, C)


# ---- cross-entropy along a middle axis (segmentation's (N, C, H, W) logits) --------------
cdef struct _CeCols:
    # a cols call's constants: the loss's options (keep = 1 - eps, spread = eps / C, w_sum =
    # the weights' sum, C without), g_all (every position's g where g is NULL), the layout
    int64_t ignore_index
    bint has_w, add
    double keep, spread, w_sum, g_all
    Py_ssize_t A, C, L, W, per_a


cdef void _ce_cols_fwd(const floating* x, floating* e, const int64_t* t, const floating* w,
                       floating* losses, floating* scale, const _CeCols* o, Py_ssize_t n,
                       floating* m, floating* s, floating* d) noexcept nogil:
    """e = exp(x - max) over the classes k of x[k, l] (rows L apart), scale = 1 / its sums
    and each position's loss, for l < n: _ce_block's results in (C, L) layout. With label
    smoothing, d[l] = sum_k w_k (x[k, l] - max), the smoothing term's -sum_k w_k log_p_k
    then W log s - d[l]: all its terms have one sign, so no cancellation."""
    cdef Py_ssize_t k, l, L = o.L
    cdef floating zero = 0, one = 1, nll, wk, smooth
    cdef floating keep = <floating> o.keep, spread = <floating> o.spread
    cdef floating w_sum = <floating> o.w_sum
    cdef const floating* row
    _cols_max_exp_sums(x, e, o.C, n, L, m, s)
    if spread != zero:
        for l in range(n):
            d[l] = 0
        for k in range(o.C):
            row, wk = x + k * L, (w[k] if o.has_w else one)
            for l in range(n):
                d[l] = d[l] + wk * (row[l] - m[l])
    for l in range(n):
        scale[l] = one / s[l]
        s[l] = vlog(s[l])
    for l in range(n):                              # (a gather: not vectorised)
        if t[l] == o.ignore_index:
            losses[l] = zero
            continue
        nll = -((x[t[l] * L + l] - m[l]) - s[l])
        if o.has_w:
            nll = nll * w[t[l]]
        if spread != zero:
            smooth = w_sum * s[l] - d[l]
            nll = keep * nll + spread * smooth
        losses[l] = nll


cdef void _ce_cols_bwd(const floating* e, floating* out, const int64_t* t, const floating* w,
                       const floating* g, const floating* scale, const _CeCols* o,
                       Py_ssize_t n, floating* picked, floating* total, floating* spread_g,
                       int64_t* target) noexcept nogil:
    """out = g' (sum(a) softmax - a) over the classes of each position l < n, a = keep w_t
    onehot(t) + spread w (g' = g[l], or g_all where g is NULL; 0 where ignored), or added
    into out: _ce_bwd_row's bits in (C, L) layout (the target's element one select per
    element, so the pass vectorises)"""
    cdef Py_ssize_t k, l, L = o.L
    cdef int64_t tl
    cdef floating gl, dv, wk, zero = 0, one = 1
    cdef floating keep = <floating> o.keep, spread = <floating> o.spread
    cdef floating w_sum = <floating> o.w_sum
    cdef const floating* erow
    cdef floating* orow
    for l in range(n):
        tl, gl = t[l], (g[l] if g != NULL else <floating> o.g_all)
        if tl == o.ignore_index:
            tl, gl = -1, zero
        target[l] = tl
        picked[l] = keep * (w[tl] if o.has_w and tl >= 0 else one) * gl
        total[l] = picked[l]
        if spread != zero:
            total[l] = picked[l] + spread * w_sum * gl
            spread_g[l] = spread * gl
        total[l] = total[l] * scale[l]
    for k in range(o.C):
        erow, orow, wk = e + k * L, out + k * L, (w[k] if o.has_w else one)
        for l in range(n):
            dv = erow[l] * total[l]
            dv = dv - (picked[l] if target[l] == k else zero)
            if spread != zero:
                dv = dv - spread_g[l] * wk
            orow[l] = orow[l] + dv if o.add else dv


cdef void _ce_cols_task(const floating* x, floating* out, const int64_t* t, const floating* w,
                        floating* losses, floating* scale, const floating* g,
                        const _CeCols* o, bint backward, Py_ssize_t task) noexcept nogil:
    """one task's (a, l0 .. l0 + W) of the forward (x the logits, out e) or the backward (x
    e, out the gradient)"""
    cdef floating m[COLS_WIDE]
    cdef floating s[COLS_WIDE]
    cdef floating d[COLS_WIDE]
    cdef int64_t target[COLS_WIDE]
    cdef Py_ssize_t a = task // o.per_a, l0 = (task % o.per_a) * o.W
    cdef Py_ssize_t at = a * o.C * o.L + l0, pos = a * o.L + l0, n = min(o.W, o.L - l0)
    if backward:
        _ce_cols_bwd(x + at, out + at, t + pos, w, g + pos if g != NULL else NULL,
                     scale + pos, o, n, m, s, d, target)
    else:
        _ce_cols_fwd(x + at, out + at, t + pos, w, losses + pos, scale + pos, o, n, m, s, d)


cdef void _ce_cols_run(const floating* x, floating* out, const int64_t* t, const floating* w,
                       floating* losses, floating* scale, const floating* g, _CeCols* o,
                       bint backward) noexcept nogil:
    cdef Py_ssize_t task, tasks
    o.W = _cols_width(o.C, o.L)
    o.per_a = (o.L + o.W - 1) // o.W
    tasks = o.A * o.per_a
    if tasks > 1 and parallel(o.A * o.C * o.L):
        for task in prange(tasks, schedule="static", num_threads=cgrad_threads()):
            _ce_cols_task(x, out, t, w, losses, scale, g, o, backward, task)
    else:
        for task in range(tasks):
            _ce_cols_task(x, out, t, w, losses, scale, g, o, backward, task)


cdef _CeCols _ce_cols_options(Py_ssize_t A, Py_ssize_t C, Py_ssize_t L, int64_t ignore_index,
                              bint has_w, double label_smoothing, double w_sum, bint add,
                              double g_all):
    cdef _CeCols o
    o.A, o.C, o.L, o.ignore_index, o.has_w, o.add, o.g_all = A, C, L, ignore_index, has_w, \
        add, g_all
    o.keep = 1 - label_smoothing if label_smoothing > 0 else 1
    o.spread = label_smoothing / C if label_smoothing > 0 else 0
    o.w_sum = w_sum
    return o


def cross_entropy_cols_(const floating[:, :, ::1] logits, target, weight,
                        int64_t ignore_index, floating[:, :, ::1] e, scale, losses,
                        double label_smoothing=0, double w_sum=0):
    """cross_entropy_ with probs=True along the middle axis of logits (A, C, L): e = exp(x -
    max) over the classes, scale (A L) = 1 / their sums, losses[a L + l] = (1 - eps) w[t]
    (-log_softmax(x[a, :, l])[t]) + eps / C sum_c w_c (-log_softmax(x[a, :, l])[c]) with t =
    target[a L + l] (0 where ignored); w_sum = sum of weight (C without one). The same
    checks and results as cross_entropy_; the softmax is saved with label smoothing too."""
    cdef int T = _typenum(<floating*> NULL)
    cdef Py_ssize_t A = logits.shape[0], C = logits.shape[1], L = logits.shape[2], r
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    cdef floating* sp = <floating*> array_data(scale, T, "scale", True)
    cdef floating* lsp = <floating*> array_data(losses, T, "losses", True)
    _check_cols(e.shape[0], e.shape[1], e.shape[2], A, C, L, "e")
    _check(array_len(scale), A * L, "scale")
    _check(array_len(losses), A * L, "losses")
    cdef bint has_w = _ce_check(A * C * L, "logits", tp, array_len(target), array_len(weight),
                                ignore_index, A * L, C)
    cdef double denominator = _ce_denominator(tp, A * L, ignore_index, wp, has_w)
    if A * C * L == 0:
        for r in range(A * L):  # C == 0: every target was ignored (any other raised)
            lsp[r] = 0
            sp[r] = 0
        return 0.0, denominator
    cdef _CeCols o = _ce_cols_options(A, C, L, ignore_index, has_w, label_smoothing, w_sum,
                                      False, 0)
    with nogil:
        _ce_cols_run(&logits[0, 0, 0], &e[0, 0, 0], tp, wp, lsp, sp, NULL, &o, False)
    return _total(lsp, A * L), denominator


def cross_entropy_cols_backward_(const floating[:, :, ::1] e, target, g_rows, weight,
                                 int64_t ignore_index, scale, floating[:, :, ::1] out,
                                 bint add=False, double g_all=0, double label_smoothing=0,
                                 double w_sum=0):
    """cross_entropy_backward_ with probs=True along the middle axis, e and scale from
    cross_entropy_cols_; g_rows (A L) or empty (g_all for every position)"""
    cdef int T = _typenum(<floating*> NULL)
    cdef Py_ssize_t A = e.shape[0], C = e.shape[1], L = e.shape[2]
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* gp = <const floating*> array_data(g_rows, T, "g_rows", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    cdef const floating* sp = <const floating*> array_data(scale, T, "scale", False)
    _check_cols(out.shape[0], out.shape[1], out.shape[2], A, C, L, "out")
    _check(array_len(scale), A * L, "scale")
    if array_len(g_rows):
        _check(array_len(g_rows), A * L, "g_rows")
    else:
        gp = NULL
    cdef bint has_w = _ce_check(A * C * L, "e", tp, array_len(target), array_len(weight),
                                ignore_index, A * L, C)
    if A * C * L == 0:
        return
    cdef _CeCols o = _ce_cols_options(A, C, L, ignore_index, has_w, label_smoothing, w_sum,
                                      add, g_all)
    with nogil:
        _ce_cols_run(&e[0, 0, 0], &out[0, 0, 0], tp, wp, NULL, <floating*> sp, gp, &o, True)


# ---- nll_loss: the target's log-probability of each row or position ---------------------------
def nll_loss_(const floating[::1] log_probs, target, weight, int64_t ignore_index, losses,
              Py_ssize_t A, Py_ssize_t C, Py_ssize_t L):
    """losses[a L + l] = -w[t] log_probs[a, t, l] with t = target[a L + l] (0 where ignored)
    for log_probs (A, C, L) flat: rows (N, C) are L = 1, a segmentation's (N, C, H W) L > 1.
    weight may be empty (w = 1); a target outside [0, C) raises IndexError. Returns
    cross_entropy_'s (sum of the losses, summed weights of the targets not ignored)."""
    cdef int T = _typenum(<floating*> NULL)
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    cdef floating* lsp = <floating*> array_data(losses, T, "losses", True)
    _check(array_len(losses), A * L, "losses")
    cdef bint has_w = _ce_check(log_probs.shape[0], "log_probs", tp, array_len(target),
                                array_len(weight), ignore_index, A * L, C)
    cdef double denominator = _ce_denominator(tp, A * L, ignore_index, wp, has_w)
    cdef const floating* lp = &log_probs[0] if A * C * L else NULL
    cdef floating zero = 0, nll
    cdef Py_ssize_t a, l
    cdef int64_t t
    with nogil:
        for a in range(A):
            for l in range(L):
                t = tp[a * L + l]
                if t == ignore_index:           # (C == 0: every target is, any other raised)
                    lsp[a * L + l] = zero
                else:
                    nll = -lp[(a * C + t) * L + l]
                    lsp[a * L + l] = nll * wp[t] if has_w else nll
    return _total(lsp, A * L), denominator


def nll_loss_backward_(floating[::1] out, target, g_rows, weight, int64_t ignore_index,
                       Py_ssize_t A, Py_ssize_t C, Py_ssize_t L, double g_all=0):
    """out (A, C, L) flat = 0, but -w[t] g at each (a, t, l) not ignored (g = g_rows[a L + l],
    or g_all for every one where g_rows is empty): nll_loss_'s gradient"""
    cdef int T = _typenum(<floating*> NULL)
    cdef const int64_t* tp = <const int64_t*> array_data(target, cnp.NPY_INT64, "target", False)
    cdef const floating* gp = <const floating*> array_data(g_rows, T, "g_rows", False)
    cdef const floating* wp = <const floating*> array_data(weight, T, "weight", False)
    _check(out.shape[0], A * C * L, "out")
    cdef Py_ssize_t g_step = 1 if array_len(g_rows) else 0
    if g_step:
        _check(array_len(g_rows), A * L, "g_rows")
    cdef floating g_one = <floating> g_all
    cdef bint has_w = _ce_check(A * C * L, "out", tp, array_len(target), array_len(weight),
                                ignore_index, A * L, C)
    cdef Py_ssize_t a, l, r
    cdef int64_t t
    cdef floating g
    if A * C * L == 0:
        return
    cdef floating* op = &out[0]
    with nogil:
        memset(op, 0, A * C * L * sizeof(floating))
        for a in range(A):
            for l in range(L):
                r = a * L + l
                t = tp[r]
                if t != ignore_index:
                    g = gp[r] if g_step else g_one
                    op[(a * C + t) * L + l] = -(g * wp[t] if has_w else g)


cdef floating _soft_ce_row(const floating* x, const floating* p, floating* lp,
                           Py_ssize_t C) noexcept nogil:
    _softmax_row(x, lp, C, True)
    return -_dot(p, lp, C)


def soft_cross_entropy_(const floating[::1] logits, const floating[::1] probs,
                        floating[::1] log_probs, floating[::1] losses, Py_ssize_t R,
                        Py_ssize_t C):
    """log_probs = log_softmax(logits), losses[n] = -sum_c probs[n, c] log_probs[n, c]"""
    _check(logits.shape[0], R * C, "logits")
    _check(probs.shape[0], R * C, "probs")
    _check(log_probs.shape[0], R * C, "log_probs")
    _check(losses.shape[0], R, "losses")
    if R * C == 0:
        losses[:] = 0           # C == 0: each loss is a sum over no classes
        return
    cdef const floating* xp = &logits[0]
    cdef const floating* pp = &probs[0]
    cdef floating* lpp = &log_probs[0]
    cdef floating* lsp = &losses[0]
    cdef Py_ssize_t r
    if parallel(R * C):
        for r in prange(R, nogil=True, schedule="static", num_threads=cgrad_threads()):
            lsp[r] = _soft_ce_row(xp + r * C, pp + r * C, lpp + r * C, C)
    else:
        with nogil:
            for r in range(R):
                lsp[r] = _soft_ce_row(xp + r * C, pp + r * C, lpp + r * C, C)


cdef void _soft_ce_bwd_row(const floating* lp, const floating* p, floating g, floating* out,
                           Py_ssize_t C) noexcept nogil:
    cdef floating total = _sum(p, C) * g, zero = 0
    cdef Py_ssize_t i
    _exp_into(lp, zero, out, C)
    for i in range(C):
        out[i] = out[i] * total - p[i] * g


def soft_cross_entropy_backward_(const floating[::1] log_probs, const floating[::1] probs,
                                 const floating[::1] g_rows, floating[::1] out, Py_ssize_t R,
                                 Py_ssize_t C):
    """out[n] = g_n (sum(probs_n) softmax_n - probs_n)"""
    _check(log_probs.shape[0], R * C, "log_probs")
    _check(probs.shape[0], R * C, "probs")
    _check(out.shape[0], R * C, "out")
    _check(g_rows.shape[0], R, "g_rows")
    if R * C == 0:
        return
    cdef const floating* lpp = &log_probs[0]
    cdef const floating* pp = &probs[0]
    cdef const floating* gp = &g_rows[0]
    cdef floating* op = &out[0]
    cdef Py_ssize_t r
    if parallel(R * C):
        for r in prange(R, nogil=True, schedule="static", num_threads=cgrad_threads()):
            _soft_ce_bwd_row(lpp + r * C, pp + r * C, gp[r], op + r * C, C)
    else:
        with nogil:
            for r in range(R):
                _soft_ce_bwd_row(lpp + r * C, pp + r * C, gp[r], op + r * C, C)


# ---- one-pass sums: of every element or row, and of pointwise losses with their backwards --
cdef enum:
    SUM_BLOCK = 256        # elements each partial of a sum covers: 16 a lane (4096, 256 a
                           # lane, put 0.1 x 70000 34 ulp off; 16 keep such sums within ~2,
                           # as PyTorch's)
    LOSS_BWD_BLOCK = 16384 # elements per parallel block of a loss's backward
    SQ_DIFF = 0            # terms (x - y)**2
    BCE_LOGITS = 1         # (1 - y) x - log_sigmoid(x): x logits, y targets
    SMOOTH_L1 = 3          # d = x - y: d*d*(0.5/beta) where |d| < beta, else |d| - 0.5 beta
    HUBER = 4              # d*d*0.5 where |d| < delta, else (|d| - 0.5 delta) delta


cdef floating _plain_block(const floating* x, Py_ssize_t n) noexcept nogil:
    """x[0:n] summed in the dtype's 16 lanes; where that gives inf or NaN, one at a time in
    double: lanes in float32 overflow where the sum need not (3e38, -3e38, 3e38, -3e38: inf -
    inf, NaN, for 0)"""
    cdef floating partial = _lanes_sum(x, x, n, 0)
    cdef double exact = 0
    cdef Py_ssize_t i
    if partial - partial == 0:
        return partial
    for i in range(n):
        exact = exact + x[i]
    return <floating> exact


cdef floating _block_sum(int kind, const floating* x, const floating* y, Py_ssize_t n,
                         floating beta, floating c, floating off) noexcept nogil:
    """the sum of kind's terms over x[0:n], y[0:n] (n <= SUM_BLOCK): 16 lanes folded in
    _vmath's fixed tree. The cross-entropy's and smooth L1's terms go through a buffer on the
    stack (in L1), then the same lanes."""
    cdef floating terms[SUM_BLOCK]
    cdef floating one = 1
    cdef Py_ssize_t i
    if kind == SQ_DIFF:
        return _lanes_sum(x, y, n, 2)
    if kind == BCE_LOGITS:
        # the NumPy backend's order: (1 - y) x, less log_sigmoid(x)
        for i in range(n):
            terms[i] = (one - y[i]) * x[i] - vlog_sigmoid(x[i])
    else:
        _smooth_l1_terms(kind == HUBER, x, y, terms, n, beta, c, off)
    return _lanes_sum(terms, terms, n, 0)


cdef inline void _smooth_l1_terms(bint huber, const floating* x, const floating* y,
                                  floating* out, Py_ssize_t n, floating beta, floating c,
                                  floating off) noexcept nogil:
    """the smooth L1 (or Huber) losses of x - y, in the NumPy backend's order, with its
    constants rounded from double as NumPy rounds a Python float: c = 0.5 / beta (Huber:
    0.5), off = 0.5 beta"""
    cdef Py_ssize_t i
    cdef floating d, a
    if huber:
        for i in range(n):
            d = x[i] - y[i]
            a = d if d >= 0 else -d
            out[i] = d * d * c if a < beta else (a - off) * beta
    else:
        for i in range(n):
            d = x[i] - y[i]
            a = d if d >= 0 else -d
            out[i] = d * d * c if a < beta else a - off


cdef inline floating _lanes_sum(const floating* x, const floating* y, Py_ssize_t n,
                                int dot) noexcept nogil:
    if floating is float:
        return cgrad_row_sumf(x, y, n, dot)
    else:
        return cgrad_row_sum(x, y, n, dot)


cdef double _blocked_sum(int kind, const floating[::1] x, const floating[::1] y,
                         double beta=0) except? -1:
    """kind's terms summed in one pass: a partial in the dtype for each block of SUM_BLOCK
    elements (16 lanes, 16 terms each), the partials added in double in block order, so
    that any thread count and ISA gives the same bits"""
    cdef Py_ssize_t n = x.shape[0], nb, b, i
    _check(y.shape[0], n, "y")
    if n == 0:
        return 0.0
    nb = (n + SUM_BLOCK - 1) // SUM_BLOCK
    cdef double[::1] part = np.empty(nb, np.float64)
    cdef const floating* xp = &x[0]
    cdef const floating* yp = &y[0]
    cdef double total = 0
    cdef floating p = <floating> beta, off = <floating> (0.5 * beta)
    cdef floating c = <floating> (0.5 if kind == HUBER else (0.5 / beta if beta else 0))
    with nogil:
        if parallel(n):
            for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
                i = b * SUM_BLOCK
                part[b] = _block_sum(kind, xp + i, yp + i, min(<Py_ssize_t> SUM_BLOCK, n - i),
                                     p, c, off)
        else:
            for b in range(nb):
                i = b * SUM_BLOCK
                part[b] = _block_sum(kind, xp + i, yp + i, min(<Py_ssize_t> SUM_BLOCK, n - i),
                                     p, c, off)
        for b in range(nb):
            total += part[b]
    return total


cdef double _row_total(const floating* x, Py_ssize_t n) noexcept nogil:
    """x[0:n] summed as _blocked_sum sums its terms: SUM_BLOCK partials in the dtype's
    lanes, added in double in order (the outer sums' rows)"""
    cdef double total = 0
    cdef Py_ssize_t b, i
    for b in range((n + SUM_BLOCK - 1) // SUM_BLOCK):
        i = b * SUM_BLOCK
        total += _plain_block(x + i, min(<Py_ssize_t> SUM_BLOCK, n - i))
    return total


def sum_rows_(const floating[:, ::1] x, floating[::1] out):
    """out[r] = the sum of row r of x in PyTorch's order (torch_sum's, as its sum over the
    trailing dims adds each row): rows in parallel, a single long row by its top-level blocks
    (so a thread count never changes a bit)"""
    cdef Py_ssize_t R = x.shape[0], C = x.shape[1], r
    cdef Py_ssize_t width = CASCADE_VECTOR // sizeof(floating)
    _check(out.shape[0], R, "out")
    if R == 0:
        return
    if C == 0:
        out[:] = 0
        return
    cdef const floating* xp = &x[0, 0]
    cdef floating* op = &out[0]
    with nogil:
        if parallel(R * C) and R > 1:
            for r in prange(R, schedule="static", num_threads=cgrad_threads()):
                op[r] = _torch_sum(xp + r * C, C, width, False)
        else:
            for r in range(R):
                op[r] = _torch_sum(xp + r * C, C, width, R == 1 and parallel(C))


cdef double _outer_total(const floating* x, Py_ssize_t c, Py_ssize_t A, Py_ssize_t C,
                         Py_ssize_t L) noexcept nogil:
    """the sum of x[:, c, :] (x as (A, C, L)): each row (a, c) as _row_total, in a order"""
    cdef double total = 0
    cdef Py_ssize_t a
    for a in range(A):
        total = total + _row_total(x + (a * C + c) * L, L)
    return total


def sum_outer_(const floating[:, :, ::1] x, floating[::1] out):
    """out[c] = the sum of x[:, c, :] (x as (A, C, L)), rounded once: a convolution's bias
    gradient, the sum over every axis but the channels'. Channels in parallel, each in a
    fixed order (the same bits at any thread count)."""
    cdef Py_ssize_t A = x.shape[0], C = x.shape[1], L = x.shape[2], c
    _check(out.shape[0], C, "out")
    if C == 0:
        return
    if A * L == 0:
        out[:] = 0
        return
    cdef const floating* xp = &x[0, 0, 0]
    cdef floating* op = &out[0]
    with nogil:
        if parallel(A * C * L) and C > 1:
            for c in prange(C, schedule="static", num_threads=cgrad_threads()):
                op[c] = <floating> _outer_total(xp, c, A, C, L)
        else:
            for c in range(C):
                op[c] = <floating> _outer_total(xp, c, A, C, L)


cdef void _cols_sums(const floating* x, double* acc, Py_ssize_t K, Py_ssize_t L,
                     Py_ssize_t n, double* blk) noexcept nogil:
    """acc[l] = the sum over k < K of x[k L + l] for l < n, in double from +0 (NumPy's start:
    all -0 sums to +0), k in order: blocks of ~sqrt(K) rows, then the blocks' sums, as a
    float64 sum's error grows with the terms one running sum takes (2^21 rows one after
    another: 9.9e-8 off, in blocks 9.3e-10); blk: n doubles of scratch"""
    cdef Py_ssize_t k, k0, l, rows = max(<Py_ssize_t> 64, <Py_ssize_t> sqrt(K))
    cdef const floating* row
    for l in range(n):
        acc[l] = 0
    k0 = 0
    while k0 < K:
        for l in range(n):
            blk[l] = 0
        row = x + k0 * L
        k = min(rows, K - k0)
        while k >= 4:       # four rows a step, summed in their own precision: one
            for l in range(n):  # conversion to double per 4 floats (the pass's bottleneck)
                blk[l] = blk[l] + ((row[l] + row[l + L]) + (row[l + 2 * L] + row[l + 3 * L]))
            row, k = row + 4 * L, k - 4
        while k > 0:
            for l in range(n):
                blk[l] = blk[l] + row[l]
            row, k = row + L, k - 1
        for l in range(n):
            acc[l] = acc[l] + blk[l]
        k0 = k0 + rows
    for l in range(n):
        if not acc[l] - acc[l] == 0:
            # inf or NaN: four float32 rows added in float32 overflow where their double sum
            # need not (3e38 twice and -3e38 twice: inf - inf, NaN, for 0); one at a time
            acc[l] = 0
            for k in range(K):
                acc[l] = acc[l] + x[k * L + l]


cdef Py_ssize_t _gcd(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    while b:
        a, b = b, a % b
    return a


cdef void _sum_cols_task(const floating* x, floating* out, Py_ssize_t task, Py_ssize_t per_a,
                         Py_ssize_t W, Py_ssize_t K, Py_ssize_t L, Py_ssize_t m,
                         bint add) noexcept nogil:
    """out[a, l0:l0 + W] = the sums over k of x[a, k, l] (_cols_sums), or out + them, each
    rounded first (add). Short rows (m > 1, one task a row: W = L) are summed m at a time as
    one row of m L (each step a vector's worth), then the m partial sums of each l and the
    last K % m rows in order."""
    cdef double acc[COLS_WIDE]
    cdef double blk[COLS_WIDE]
    cdef Py_ssize_t a = task // per_a, l0 = (task % per_a) * W, j, k, l
    cdef Py_ssize_t n = min(W, L - l0), whole = K // m * m
    cdef const floating* xa = x + a * K * L
    cdef double total
    if m == 1:
        _cols_sums(xa + l0, acc, K, L, n, blk)
        for l in range(n):
            _cols_out(out + a * L + l0 + l, acc[l], add)
        return
    _cols_sums(xa, acc, K // m, m * L, m * L, blk)
    for l in range(L):
        total = 0
        for j in range(m):
            total = total + acc[j * L + l]
        for k in range(whole, K):
            total = total + xa[k * L + l]
        _cols_out(out + a * L + l, total, add)


cdef inline void _cols_out(floating* out, double total, bint add) noexcept nogil:
    out[0] = out[0] + <floating> total if add else <floating> total


def sum_cols_(const floating[:, :, ::1] x, floating[:, ::1] out, bint add=False):
    """out[a, l] = the sum of x[a, :, l] (x as (A, K, L)), in double (blocks of rows, then
    their sums), rounded once: tasks of one a and up to COLS_WIDE positions l, vectorised
    across l, each l's sum in an order set by K and L alone (the same bits at any thread
    count). Over a middle run of axes, or the leading ones (a bias gradient). With add, out
    += the sums (each rounded first, as out + x.sum(1))."""
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], L = x.shape[2], task
    if out.shape[0] != A or out.shape[1] != L:
        raise ValueError(f"out has shape {(out.shape[0], out.shape[1])}, expected {(A, L)}")
    if A * L == 0:
        return
    if K == 0:
        if not add:
            out[:, :] = 0
        return
    cdef const floating* xp = &x[0, 0, 0]
    cdef floating* op = &out[0, 0]
    # (one pass: the widest tasks, whose rows are the longest runs; the sums stay in L1. A
    # sum over the leading axes (A = 1, a bias gradient) splits its positions among the
    # threads, in runs of 16 or more)
    # rows of under 64 summed m side by side: 64 or more elements, whole vectors of 16
    cdef Py_ssize_t m = 1, whole_vectors = 16 // _gcd(L, 16)
    if L < 64:
        m = whole_vectors * max(<Py_ssize_t> 1, 64 // (whole_vectors * L))
    cdef Py_ssize_t W = min(L, <Py_ssize_t> COLS_WIDE), per_a, threads = cgrad_threads()
    if A == 1 and m == 1 and threads > 1 and parallel(K * L):   # (m > 1: one task a row)
        W = min(W, max(<Py_ssize_t> 16, (L + threads - 1) // threads + 15) // 16 * 16)
    per_a = (L + W - 1) // W
    with nogil:
        if A * per_a > 1 and parallel(A * K * L):
            for task in prange(A * per_a, schedule="static", num_threads=cgrad_threads()):
                _sum_cols_task(xp, op, task, per_a, W, K, L, m, add)
        else:
            for task in range(A * per_a):
                _sum_cols_task(xp, op, task, per_a, W, K, L, m, add)


# ---- PyTorch's order for the sum of every element -------------------------------------------
# cascade_sum (aten/src/ATen/native/cpu/SumKernel.cpp) on one contiguous run, as PyTorch's CPU
# sum and mean add a dense tensor's elements on one thread: vectors of 32 bytes, four at a time
# (row_sum's ILP), each lane a cascade of partial sums in levels of 2**power rows
# (multi_row_sum); then the leftover vectors, the partials' four vectors, the scalar tail and
# the lanes, in that order. 32 bytes at each of torch 2.13's capabilities, AVX-512's too (its
# sum kernel runs 256-bit vectors: with 64-byte ones 787 of 1236 sums differed). The same bits
# as torch's sum wherever its reduction runs on one thread (always below 32768 elements).
cdef enum:
    CASCADE_LEVELS = 4        # multi_row_sum's num_levels
    CASCADE_VECTOR = 32       # bytes of its Vectorized
    CASCADE_LANES = 32        # a row: row_sum's 4 vectors of at most 8 floats


cdef inline int _ceil_log2(Py_ssize_t x) noexcept nogil:
    """PyTorch's utils::CeilLog2 (1 up to 2)"""
    cdef int k = 0
    if x <= 2:
        return 1
    x -= 1
    while x:
        x >>= 1
        k += 1
    return k


cdef void _cascade(const floating* x, Py_ssize_t first, Py_ssize_t rows, Py_ssize_t lanes,
                   int power, floating* acc) noexcept nogil:
    """multi_row_sum's loop over rows [first, rows) of `lanes` elements (first a multiple of
    2**(3 power)), carrying acc[level * CASCADE_LANES + lane]"""
    if lanes == 32:                    # (a constant: the partial sums stay in registers)
        _cascade_lanes(x, first, rows, 32, power, acc)
    elif lanes == 16:
        _cascade_lanes(x, first, rows, 16, power, acc)
    else:
        _cascade_lanes(x, first, rows, lanes, power, acc)


cdef inline void _cascade_lanes(const floating* x, Py_ssize_t first, Py_ssize_t rows,
                                Py_ssize_t lanes, int power, floating* acc) noexcept nogil:
    # on a local copy of acc: through a pointer that might alias x, the sums stayed in memory
    # (2-3x slower)
    cdef floating a[CASCADE_LEVELS * CASCADE_LANES]
    cdef Py_ssize_t step = (<Py_ssize_t> 1) << power, mask = step - 1, i = first, j, l
    cdef int lv
    memcpy(a, acc, sizeof(a))
    while i + step <= rows:
        for j in range(step):
            for l in range(lanes):
                a[l] += x[(i + j) * lanes + l]
        i += step
        for lv in range(1, CASCADE_LEVELS):
            for l in range(lanes):
                a[lv * CASCADE_LANES + l] += a[(lv - 1) * CASCADE_LANES + l]
                a[(lv - 1) * CASCADE_LANES + l] = 0
            if i & (mask << (lv * power)):
                break
    while i < rows:
        for l in range(lanes):
            a[l] += x[i * lanes + l]
        i += 1
    memcpy(acc, a, sizeof(a))


cdef floating _torch_sum(const floating* x, Py_ssize_t n, Py_ssize_t width,
                         bint threads) noexcept nogil:
    """PyTorch's sum of n contiguous elements, width its Vectorized size (scalar row_sum's four
    lanes below it). With threads, the cascade's top-level blocks (2**(3 power) rows) are
    summed in parallel and added in order: the same bits."""
    cdef floating acc[CASCADE_LEVELS * CASCADE_LANES]
    cdef floating final = 0
    cdef floating* blocks
    cdef Py_ssize_t w = width if n >= width else 1, V, S, lanes, v, l, k, b, nb, big
    cdef int power, lv
    V = n // w
    S = V // 4
    lanes = 4 * w
    power = max(4, _ceil_log2(S) // CASCADE_LEVELS)
    memset(acc, 0, sizeof(acc))
    big = (<Py_ssize_t> 1) << (3 * power)          # rows of a top-level block
    nb = S // big if threads else 0
    blocks = <floating*> malloc(nb * lanes * sizeof(floating)) if nb > 1 else NULL
    if blocks != NULL:
        for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
            _cascade_block(x, b * big, (b + 1) * big, lanes, power, blocks + b * lanes)
        for b in range(nb):                          # acc[3] += each block's, in order
            for l in range(lanes):
                acc[3 * CASCADE_LANES + l] += blocks[b * lanes + l]
        free(blocks)
        _cascade(x, nb * big, S, lanes, power, acc)
    else:
        _cascade(x, 0, S, lanes, power, acc)
    for lv in range(1, CASCADE_LEVELS):
        for l in range(lanes):
            acc[l] += acc[lv * CASCADE_LANES + l]
    for v in range(4 * S, V):                        # the vectors past the last row
        for l in range(w):
            acc[l] += x[v * w + l]
    for k in range(1, 4):
        for l in range(w):
            acc[l] += acc[k * w + l]
    for k in range(V * w, n):                        # the scalar tail, then the lanes
        final += x[k]
    for l in range(w):
        final += acc[l]
    return 0 + final                                 # (stored into a zeroed output: -0 is +0)


cdef void _cascade_block(const floating* x, Py_ssize_t first, Py_ssize_t last,
                         Py_ssize_t lanes, int power, floating* out) noexcept nogil:
    """one top-level block's sum as _cascade leaves it in acc[3]"""
    cdef floating acc[CASCADE_LEVELS * CASCADE_LANES]
    cdef Py_ssize_t l
    memset(acc, 0, sizeof(acc))
    _cascade(x, first, last, lanes, power, acc)
    for l in range(lanes):
        out[l] = acc[3 * CASCADE_LANES + l]


def torch_sum(x, bint mean=False):
    """The sum of every element of x in PyTorch's CPU order (cascade_sum on one thread) as a
    0-d array of x's dtype, or with mean that sum / n (n rounded to the dtype, as PyTorch's
    mean divides its sum; 0 / 0 is NaN); None unless x is a C-contiguous, aligned
    float32/float64 array."""
    if type(x) is not cnp.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray> x
    cdef int t = cnp.PyArray_TYPE(a)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not (
            cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a)):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef bint threads = parallel(n)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(0, NULL, t, 0)
    cdef float total_f
    cdef double total_d
    with nogil:
        if t == cnp.NPY_FLOAT32:
            total_f = _torch_sum(<const float*> cnp.PyArray_DATA(a), n, CASCADE_VECTOR // 4,
                                 threads)
            (<float*> cnp.PyArray_DATA(out))[0] = total_f / <float> n if mean else total_f
        else:
            total_d = _torch_sum(<const double*> cnp.PyArray_DATA(a), n, CASCADE_VECTOR // 8,
                                 threads)
            (<double*> cnp.PyArray_DATA(out))[0] = total_d / <double> n if mean else total_d
    return out


def sq_diff_sum_(const floating[::1] x, const floating[::1] y):
    """sum of (x - y)**2 as a Python float, in one pass (_blocked_sum)"""
    return _blocked_sum(SQ_DIFF, x, y)


def smooth_l1_sum_(const floating[::1] x, const floating[::1] y, double beta, bint huber):
    """sum of the smooth L1 losses of x - y (Huber's with huber, beta its delta) as a Python
    float, in one pass (_blocked_sum)"""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return _blocked_sum(HUBER if huber else SMOOTH_L1, x, y, beta)


def bce_logits_sum_(const floating[::1] x, const floating[::1] y):
    """sum of (1 - y) x - log_sigmoid(x) as a Python float, in one pass (_blocked_sum): binary
    cross-entropy with logits x and targets y"""
    return _blocked_sum(BCE_LOGITS, x, y)


cdef void _loss_bwd_block(int kind, const floating* x, const floating* y, floating* out,
                          floating scale, floating g, bint add, Py_ssize_t n) noexcept nogil:
    # one loop per case, each vectorised
    cdef Py_ssize_t i
    if kind == SQ_DIFF and add:
        for i in range(n):
            out[i] += ((x[i] - y[i]) * scale) * g
    elif kind == SQ_DIFF:
        for i in range(n):
            out[i] = ((x[i] - y[i]) * scale) * g
    elif kind == BCE_LOGITS and add:
        for i in range(n):
            out[i] += (vsigmoid(x[i]) - y[i]) * g
    elif kind == BCE_LOGITS:
        for i in range(n):
            out[i] = (vsigmoid(x[i]) - y[i]) * g
    elif add:
        for i in range(n):
            out[i] += _smooth_l1_grad(kind == HUBER, x[i] - y[i], scale, g)
    else:
        for i in range(n):
            out[i] = _smooth_l1_grad(kind == HUBER, x[i] - y[i], scale, g)


cdef inline floating _smooth_l1_grad(bint huber, floating d, floating beta,
                                     floating g) noexcept nogil:
    """PyTorch's smooth_l1 / huber backward for d = x - y and g (norm included): -g / g (times
    delta for Huber) from -beta down / from beta up, else d g / beta (d g); NaN stays NaN"""
    if huber:
        return -(g * beta) if d <= -beta else (g * beta if d >= beta else d * g)
    return -g if d <= -beta else (g if d >= beta else d * g / beta)


cdef int _loss_backward(int kind, const floating[::1] x, const floating[::1] y,
                        floating[::1] out, double scale, double g, bint add) except -1:
    cdef Py_ssize_t n = x.shape[0], nb, b, i
    _check(y.shape[0], n, "y")
    _check(out.shape[0], n, "out")
    if n == 0:
        return 0
    cdef const floating* xp = &x[0]
    cdef const floating* yp = &y[0]
    cdef floating* op = &out[0]
    cdef floating sc = <floating> scale, gg = <floating> g
    nb = (n + LOSS_BWD_BLOCK - 1) // LOSS_BWD_BLOCK
    with nogil:
        if parallel(n):
            for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
                i = b * LOSS_BWD_BLOCK
                _loss_bwd_block(kind, xp + i, yp + i, op + i, sc, gg, add,
                                min(<Py_ssize_t> LOSS_BWD_BLOCK, n - i))
        else:
            for b in range(nb):
                i = b * LOSS_BWD_BLOCK
                _loss_bwd_block(kind, xp + i, yp + i, op + i, sc, gg, add,
                                min(<Py_ssize_t> LOSS_BWD_BLOCK, n - i))
    return 0


def sq_diff_backward_(const floating[::1] x, const floating[::1] y, floating[::1] out,
                      double scale, double g, bint add):
    """out (+)= ((x - y) * scale) * g in one pass: the mean squared error's backward (scale
    2/n or 2), in PyTorch's order; with -g, the target's (rounding is symmetric in sign: the
    negation of x's, bit for bit)"""
    _loss_backward(SQ_DIFF, x, y, out, scale, g, add)


def smooth_l1_backward_(const floating[::1] x, const floating[::1] y, floating[::1] out,
                        double beta, double g, bint huber, bint add):
    """out (+)= the smooth L1 (or Huber) gradient of x for d = x - y and one upstream g (a
    sum's, or a mean's over its count), in one pass: PyTorch's formulas; with -g, the
    target's"""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    _loss_backward(HUBER if huber else SMOOTH_L1, x, y, out, beta, g, add)


def bce_logits_backward_(const floating[::1] x, const floating[::1] y, floating[::1] out,
                         double g, bint add):
    """out (+)= (sigmoid(x) - y) * g in one pass: the logits' gradient of binary
    cross-entropy with logits, for one upstream g (a sum's, or a mean's over its count)"""
    _loss_backward(BCE_LOGITS, x, y, out, 1.0, g, add)


def exp_(const floating[::1] x, floating[::1] out):
    """out = exp(x) for x <= 0 by the kernels' own exp, which is only ever given such
    arguments (to test it: NumPy's np.exp is faster alone)"""
    _check(out.shape[0], x.shape[0], "out")
    cdef floating zero = 0
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        if x[i] > zero:
            raise ValueError(f"exp_ takes x <= 0, got {x[i]} at index {i}")
    if x.shape[0]:
        _exp_into(&x[0], zero, &out[0], x.shape[0])


# ---- running sums along rows, and along a middle axis -----------------------------------------
cdef void _cumsum_rows(const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t C,
                       bint reverse) noexcept nogil:
    """rows (1 to 4) of x's running sums into out, from the end if reverse, side by side: a
    double sum from +0 per row, rounded to the dtype at each place (PyTorch's acc_type: the
    bits of np.cumsum in float64, then rounded; +0 first, so never a -0). Each sum waits on
    its own add; four chains overlap (one row alone: 1024 x 1000 float32 took 3.6 ms)."""
    cdef double a0 = 0, a1 = 0, a2 = 0, a3 = 0
    cdef Py_ssize_t i, j
    for j in range(C):
        i = C - 1 - j if reverse else j
        a0 += x[i]
        out[i] = <floating> a0
        if rows > 1:
            a1 += x[C + i]
            out[C + i] = <floating> a1
        if rows > 2:
            a2 += x[2 * C + i]
            out[2 * C + i] = <floating> a2
        if rows > 3:
            a3 += x[3 * C + i]
            out[3 * C + i] = <floating> a3


def cumsum_rows_(const floating[:, ::1] x, floating[:, ::1] out, bint reverse):
    """out = the running sums of each row of x (from the row's end if reverse), in double, in
    one pass (NumPy's float64 cumsum and the cast after took 3.5 ms for 1024 rows of 1024
    float32 on a Zen 4); four rows at a time, those in parallel"""
    cdef Py_ssize_t R = x.shape[0], C = x.shape[1], q
    if out.shape[0] != R or out.shape[1] != C:
        raise ValueError(f"out has shape {(out.shape[0], out.shape[1])}, expected {(R, C)}")
    if R == 0 or C == 0:
        return
    cdef const floating* xp = &x[0, 0]
    cdef floating* op = &out[0, 0]
    with nogil:
        if parallel(R * C):
            for q in prange((R + 3) // 4, schedule="static", num_threads=cgrad_threads()):
                _cumsum_rows(xp + 4 * q * C, op + 4 * q * C, min(4, R - 4 * q), C, reverse)
        else:
            for q in range((R + 3) // 4):
                _cumsum_rows(xp + 4 * q * C, op + 4 * q * C, min(4, R - 4 * q), C, reverse)


cdef enum:
    SCAN_COLS = 512          # positions a running-sum task keeps in double (4 KiB, in L1)


cdef void _cumsum_cols_task(const floating* x, floating* out, Py_ssize_t K, Py_ssize_t L,
                            Py_ssize_t width, bint reverse) noexcept nogil:
    """the running sums along k of x[k * L + j] for j < width, from the end if reverse: a
    double sum per position from +0, rounded at each place, vectorised across j"""
    cdef double acc[SCAN_COLS]
    cdef Py_ssize_t j, k, kk
    cdef const floating* row
    cdef floating* dest
    for j in range(width):
        acc[j] = 0
    for kk in range(K):
        k = K - 1 - kk if reverse else kk
        row = x + k * L
        dest = out + k * L
        for j in range(width):
            acc[j] += row[j]
            dest[j] = <floating> acc[j]


def cumsum_cols_(const floating[:, :, ::1] x, floating[:, :, ::1] out, bint reverse):
    """out[a, :, l] = the running sums of x[a, :, l] along the middle axis (from its end if
    reverse), in double, as cumsum_rows_ takes them: one pass, vectorised across l (NumPy's
    float64 cumsum along a middle axis and its cast took 3x PyTorch's time); tasks of
    SCAN_COLS positions of one a, in parallel"""
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], L = x.shape[2], t, a, l0
    if out.shape[0] != A or out.shape[1] != K or out.shape[2] != L:
        raise ValueError(f"out has shape {(out.shape[0], out.shape[1], out.shape[2])}, "
                         f"expected {(A, K, L)}")
    if A == 0 or K == 0 or L == 0:
        return
    cdef Py_ssize_t per_a = (L + SCAN_COLS - 1) // SCAN_COLS
    cdef const floating* xp = &x[0, 0, 0]
    cdef floating* op = &out[0, 0, 0]
    with nogil:
        if parallel(A * K * L) and A * per_a > 1:
            for t in prange(A * per_a, schedule="static", num_threads=cgrad_threads()):
                a = t // per_a
                l0 = (t % per_a) * SCAN_COLS
                _cumsum_cols_task(xp + a * K * L + l0, op + a * K * L + l0, K, L,
                                  min(<Py_ssize_t> SCAN_COLS, L - l0), reverse)
        else:
            for t in range(A * per_a):
                a = t // per_a
                l0 = (t % per_a) * SCAN_COLS
                _cumsum_cols_task(xp + a * K * L + l0, op + a * K * L + l0, K, L,
                                  min(<Py_ssize_t> SCAN_COLS, L - l0), reverse)


# ---- the first maximum along the middle axis (max pooling's pick) -----------------------------
def first_max_last_nan_(const floating[:, :, ::1] x, floating[:, ::1] best,
                        long long[:, ::1] idx):
    """idx[a, l] = the k of x[a, :, l]'s first maximum, or of its last NaN where it has one
    (PyTorch's max pooling pick), best[a, l] that value: one pass over each k's row of L,
    vectorised across l, rows a in parallel. NumPy's argmax along a middle axis, and the
    flipped NaN search after it, took most of a max pool's forward."""
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], L = x.shape[2], a
    if best.shape[0] != A or best.shape[1] != L or idx.shape[0] != A or idx.shape[1] != L:
        raise ValueError(f"best and idx must have shape {(A, L)}")
    if K == 0:
        raise ValueError("the middle axis is empty: no maximum")
    if A == 0 or L == 0:
        return
    with nogil:
        if parallel(A * K * L) and A > 1:
            for a in prange(A, schedule="static", num_threads=cgrad_threads()):
                _first_max_row(&x[a, 0, 0], &best[a, 0], &idx[a, 0], K, L)
        else:
            for a in range(A):
                _first_max_row(&x[a, 0, 0], &best[a, 0], &idx[a, 0], K, L)


cdef void _first_max_row(const floating* x, floating* best, long long* idx, Py_ssize_t K,
                         Py_ssize_t L) noexcept nogil:
    cdef Py_ssize_t k, l
    cdef floating v, b
    cdef bint take
    for l in range(L):
        best[l] = x[l]
        idx[l] = 0
    for k in range(1, K):
        for l in range(L):
            v = x[k * L + l]
            b = best[l]
            # a NaN always takes (a later NaN too); else a larger value, unless a NaN holds
            take = (v != v) | ((v > b) & (b == b))
            best[l] = v if take else b
            idx[l] = k if take else idx[l]


# ---- amax / amin over one run of axes: x as (A, K, L), the K axis reduced -------------------
# NaN wins, as in NumPy and PyTorch: a value takes the place where it is larger (smaller) or
# NaN, so a NaN, once in, stays. The extreme of numbers is exact in any order, so blocks and
# lanes change no bit (but which of -0 and +0 a tie keeps).
cdef enum:
    EXT_COLS = 4096         # l positions per task where L is long
    EXT_BLOCK = 65536       # elements per task of one long row


cdef inline floating _took(floating best, floating v, bint lowest) noexcept nogil:
    """v where it is beyond best or NaN, else best (_vmath.pxd's CGRAD_EXT1)"""
    if floating is float:
        return cgrad_ext1f(best, v, lowest)
    else:
        return cgrad_ext1(best, v, lowest)


cdef void _extreme_cols(const floating* x, floating* out, Py_ssize_t K, Py_ssize_t n,
                        Py_ssize_t stride, bint lowest) noexcept nogil:
    """out[l] = the extreme of x[k * stride + l] over k, for l < n: vectorised across l"""
    if floating is float:
        cgrad_cols_extremef(x, out, K, n, stride, lowest)
    else:
        cgrad_cols_extreme(x, out, K, n, stride, lowest)


cdef inline floating _extreme_row(const floating* x, Py_ssize_t K, bint lowest) noexcept nogil:
    """the extreme of x[:K] (K >= 1), in vectors"""
    if floating is float:
        return cgrad_row_extremef(x, K, lowest)
    else:
        return cgrad_row_extreme(x, K, lowest)


cdef void _extreme_task(const floating* x, floating* out, Py_ssize_t task, Py_ssize_t K,
                        Py_ssize_t L, Py_ssize_t per_a, bint lowest) noexcept nogil:
    """out[a, l0:l0 + EXT_COLS] for task (a, l0) (L > 1)"""
    cdef Py_ssize_t a = task // per_a, l0 = (task % per_a) * EXT_COLS
    _extreme_cols(x + a * K * L + l0, out + a * L + l0, K, min(<Py_ssize_t> EXT_COLS, L - l0),
                  L, lowest)


def extreme_(const floating[:, :, ::1] x, floating[:, ::1] out, bint lowest):
    """out[a, l] = the max (min, if lowest) of x[a, :, l], NaN where one is NaN: rows of one
    long reduction in blocks, else tasks of (a, up to EXT_COLS positions l), in parallel"""
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], L = x.shape[2], task, b, nb
    if out.shape[0] != A or out.shape[1] != L:
        raise ValueError(f"out has shape {(out.shape[0], out.shape[1])}, expected {(A, L)}")
    if K == 0:
        raise ValueError("the reduced axes are empty: no extreme")
    if A * L == 0:
        return
    cdef const floating* xp = &x[0, 0, 0]
    cdef floating* op = &out[0, 0]
    cdef Py_ssize_t per_a = (L + EXT_COLS - 1) // EXT_COLS, ntask = A * per_a
    cdef floating[::1] parts
    if ntask == 1 and L == 1 and K > EXT_BLOCK:
        # one long row: blocks' extremes, then theirs (on one thread too, so that a tie of
        # -0 and +0 falls the same way at any thread count)
        nb = (K + EXT_BLOCK - 1) // EXT_BLOCK
        parts = np.empty(nb, np.float32 if floating is float else np.float64)
        with nogil:
            if parallel(K):
                for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
                    parts[b] = _extreme_row(xp + b * EXT_BLOCK,
                                            min(<Py_ssize_t> EXT_BLOCK, K - b * EXT_BLOCK),
                                            lowest)
            else:
                for b in range(nb):
                    parts[b] = _extreme_row(xp + b * EXT_BLOCK,
                                            min(<Py_ssize_t> EXT_BLOCK, K - b * EXT_BLOCK),
                                            lowest)
            op[0] = _extreme_row(&parts[0], nb, lowest)
        return
    with nogil:
        if L == 1:                             # rows
            if A > 1 and parallel(A * K):
                for task in prange(A, schedule="static", num_threads=cgrad_threads()):
                    op[task] = _extreme_row(xp + task * K, K, lowest)
            else:
                for task in range(A):
                    op[task] = _extreme_row(xp + task * K, K, lowest)
        elif ntask > 1 and parallel(A * K * L):
            for task in prange(ntask, schedule="static", num_threads=cgrad_threads()):
                _extreme_task(xp, op, task, K, L, per_a, lowest)
        else:
            for task in range(ntask):
                _extreme_task(xp, op, task, K, L, per_a, lowest)


# ---- normalisation of rows (layer_norm, group_norm) ------------------------------------------
# Each of R rows of K elements is normalised over itself. The weight and bias are per channel:
# row r holds group r % G of its sample, K // S channels of S elements each (layer_norm:
# G = S = 1, a channel per element); an empty w or b is none (ones, zeros). Rows run in
# parallel. The weight and bias gradients add each block of rows into the block's own partial,
# then the partials in block order, all in double; the blocks depend on R alone, so any thread
# count gives the same bits. (At most NORM_PARTS blocks: a block of 16 rows of 1024 made
# partials of 1/16 of x's size, and their fresh pages cost more than the sums.)
cdef enum:
    NORM_PARTS = 64         # most blocks of rows, each with its weight / bias gradient partial


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef void _norm_row(const floating* x, floating* out, const floating* w, const floating* b,
                    Py_ssize_t K, Py_ssize_t S, floating eps, floating* mean,
                    floating* rstd) noexcept nogil:
    """out = (x - mean) * rstd * w + b over one row (w and b from the row's first channel),
    in the NumPy backend's order: centred first, its squares' mean the variance"""
    cdef Py_ssize_t k, c, s
    cdef floating m = _lanes_sum(x, x, K, 0) / <floating> K, r, wc, bc
    for k in range(K):
        out[k] = x[k] - m
    r = (<floating> 1) / _sqrt(_lanes_sum(out, out, K, 1) / <floating> K + eps)
    mean[0] = m
    rstd[0] = r
    if S == 1:
        for k in range(K):
            out[k] = out[k] * r * w[k] + b[k]
    else:                           # a channel of S elements at a time
        for c in range(K // S):
            wc, bc = w[c], b[c]
            for s in range(c * S, c * S + S):
                out[s] = out[s] * r * wc + bc


cdef int _norm_check(Py_ssize_t R, Py_ssize_t K, Py_ssize_t G, Py_ssize_t S, Py_ssize_t n_x,
                     Py_ssize_t n_w, Py_ssize_t n_b) except -1:
    if R < 0 or K <= 0 or G <= 0 or S <= 0 or K % S or R % G:
        raise ValueError(f"rows {R} of {K} in groups of {G}, channels of {S}: expected K and S "
                         f"positive, S dividing K and G dividing R")
    _check(n_x, R * K, "x")
    for n, name in ((n_w, "w"), (n_b, "b")):
        if n:
            _check(n, G * (K // S), name)
    return 0


def group_norm_(const floating[::1] x, const floating[::1] w, const floating[::1] b,
                floating[::1] out, floating[::1] mean, floating[::1] rstd, Py_ssize_t R,
                Py_ssize_t K, Py_ssize_t G, Py_ssize_t S, double eps):
    """out = x's R rows of K each normalised (mean 0, biased variance 1: times rstd =
    1 / sqrt(var + eps)), times w, plus b per channel; mean and rstd kept per row"""
    _norm_check(R, K, G, S, x.shape[0], w.shape[0], b.shape[0])
    _check(out.shape[0], R * K, "out")
    _check(mean.shape[0], R, "mean")
    _check(rstd.shape[0], R, "rstd")
    if R == 0:
        return
    cdef Py_ssize_t r, C = K // S
    # (a missing weight as ones, bias as zeros: one loop; x 1 is exact, + 0 turns -0 to +0)
    dtype = np.float32 if floating is float else np.float64
    cdef const floating[::1] wv = w if w.shape[0] else np.ones(G * C, dtype)
    cdef const floating[::1] bv = b if b.shape[0] else np.zeros(G * C, dtype)
    cdef floating e = <floating> eps
    with nogil:
        if parallel(R * K) and R > 1:
            for r in prange(R, schedule="static", num_threads=cgrad_threads()):
                _norm_row(&x[r * K], &out[r * K], &wv[(r % G) * C], &bv[(r % G) * C], K, S, e,
                          &mean[r], &rstd[r])
        else:
            for r in range(R):
                _norm_row(&x[r * K], &out[r * K], &wv[(r % G) * C], &bv[(r % G) * C], K, S, e,
                          &mean[r], &rstd[r])


cdef void _norm_bwd_rows(const floating* x, const floating* g, const floating* w,
                         const floating* mean, const floating* rstd, floating* dx, bint want_x,
                         bint want_w, bint want_b, double* pw, double* pb, floating* scratch,
                         Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t K, Py_ssize_t G,
                         Py_ssize_t S) noexcept nogil:
    """group_norm_backward_ over rows r0..r1 (pointers at row 0; w at channel 0, ones for no
    weight): dx's rows (if want_x), and the rows' g xhat and g summed into the block's
    partials pw and pb (with spans, always: u's sums come from them); scratch holds two
    rows"""
    cdef Py_ssize_t r, k, c, C = K // S
    cdef floating m, rs, su, sux, a, total_g
    cdef const floating* xr
    cdef const floating* gr
    cdef const floating* wr
    cdef floating* xhat = scratch
    cdef floating* d
    for c in range(G * C):
        pw[c] = 0
        pb[c] = 0
    for r in range(r0, r1):
        xr, gr, m, rs = x + r * K, g + r * K, mean[r], rstd[r]
        wr, c = w + (r % G) * C, (r % G) * C
        d = dx + r * K if want_x else scratch + K
        if S == 1:
            # xhat and u = g w (into d), then each partial, then u's sums
            for k in range(K):
                xhat[k] = (xr[k] - m) * rs
                d[k] = gr[k] * wr[k]
            if want_w:
                for k in range(K):
                    pw[c + k] += gr[k] * xhat[k]
            if want_b:
                for k in range(K):
                    pb[c + k] += gr[k]
            if not want_x:
                continue
            su = _sum(d, K) / <floating> K
            sux = _dot(d, xhat, K) / <floating> K
            for k in range(K):
                d[k] = rs * (d[k] - su - xhat[k] * sux)
        else:
            # each channel's sums of g xhat and of g; u's are their w-weighted totals
            su = sux = 0
            for k in range(C):
                a = _dev(xr + k * S, m, gr + k * S, S, False) * rs
                total_g = _sum(gr + k * S, S)
                pw[c + k] += a
                pb[c + k] += total_g
                sux = sux + a * wr[k]
                su = su + total_g * wr[k]
            if not want_x:
                continue
            su, sux = su / <floating> K, sux / <floating> K
            for k in range(C):
                _norm_bwd_span(xr + k * S, gr + k * S, d + k * S, S, m, rs, wr[k], su, sux)


cdef void _norm_bwd_span(const floating* x, const floating* g, floating* dx, Py_ssize_t n,
                         floating m, floating rs, floating w, floating su,
                         floating sux) noexcept nogil:
    """dx = rstd (u - mean(u) - xhat mean(u xhat)) over a channel's span, u = g w"""
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = rs * (g[i] * w - su - (x[i] - m) * rs * sux)


def group_norm_backward_(const floating[::1] x, const floating[::1] g, const floating[::1] w,
                         const floating[::1] mean, const floating[::1] rstd, floating[::1] dx,
                         floating[::1] dw, floating[::1] db, Py_ssize_t R, Py_ssize_t K,
                         Py_ssize_t G, Py_ssize_t S):
    """group_norm_'s gradients from the incoming g: dx = rstd (u - mean(u) - xhat mean(u
    xhat)) per row, u = g w; dw and db the sums of g xhat and g per channel. An empty dx, dw
    or db is not wanted (dw: nor without w)."""
    _norm_check(R, K, G, S, x.shape[0], w.shape[0], 0)
    _check(g.shape[0], R * K, "g")
    _check(mean.shape[0], R, "mean")
    _check(rstd.shape[0], R, "rstd")
    cdef Py_ssize_t C = G * (K // S), rows = max(1, (R + NORM_PARTS - 1) // NORM_PARTS)
    cdef Py_ssize_t nb = (R + rows - 1) // rows, blk, r0, t, c
    for out, n, name in ((dx, R * K, "dx"), (dw, C, "dw"), (db, C, "db")):
        if out.shape[0]:
            _check(out.shape[0], n, name)
    if dw.shape[0] and not w.shape[0]:
        raise ValueError("dw wanted without w")
    if R == 0:
        dw[:] = 0
        db[:] = 0
        return
    cdef bint want_x = dx.shape[0] > 0, want_w = dw.shape[0] > 0, want_b = db.shape[0] > 0
    cdef int threads = cgrad_threads() if parallel(R * K) and nb > 1 else 1
    # (partials and a weight of ones even where not wanted: one loop without branches)
    cdef double[:, ::1] part_w = np.empty((nb, C)), part_b = np.empty((nb, C))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] scratch = np.empty((threads, 2 * K), dtype)
    cdef const floating[::1] wv = w if w.shape[0] else np.ones(C, dtype)
    cdef floating* dxp = &dx[0] if want_x else NULL
    cdef double[::1] total = np.empty(C)
    with nogil:
        if threads > 1:
            for blk in prange(nb, schedule="static", num_threads=threads):
                t = threadid()
                r0 = blk * rows
                _norm_bwd_rows(&x[0], &g[0], &wv[0], &mean[0], &rstd[0], dxp, want_x, want_w,
                               want_b, &part_w[blk, 0], &part_b[blk, 0], &scratch[t, 0], r0,
                               min(r0 + rows, R), K, G, S)
        else:
            for blk in range(nb):
                r0 = blk * rows
                _norm_bwd_rows(&x[0], &g[0], &wv[0], &mean[0], &rstd[0], dxp, want_x, want_w,
                               want_b, &part_w[blk, 0], &part_b[blk, 0], &scratch[0, 0], r0,
                               min(r0 + rows, R), K, G, S)
        if want_w:
            _partials_total(&part_w[0, 0], nb, C, &total[0])
            for c in range(C):
                dw[c] = <floating> total[c]
        if want_b:
            _partials_total(&part_b[0, 0], nb, C, &total[0])
            for c in range(C):
                db[c] = <floating> total[c]


cdef void _partials_total(const double* part, Py_ssize_t nb, Py_ssize_t C,
                          double* total) noexcept nogil:
    """total = the nb partial rows of C summed in row order: a row at a time (down each
    column, every load strode 8 KB for 1024 channels)"""
    cdef Py_ssize_t i, c
    for c in range(C):
        total[c] = 0
    for i in range(nb):
        for c in range(C):
            total[c] += part[i * C + c]


# ---- batch normalisation: the channels of an (N, C, S) block ---------------------------------
# Channel c's statistics run over x[:, c, :]. With S > 1 each (n, c) is a span of S elements
# and the channels' sums run in parallel, each over its spans in order; with S == 1 (a batch
# of vectors) they are column sums, vectorised across c, over at most NORM_PARTS fixed blocks
# of rows added in block order. Either way in double, and no thread count changes a bit.
# A missing (empty) weight or bias is taken as ones or zeros (x 1 is exact; + 0 turns -0 into
# +0).
cdef inline floating _dev(const floating* x, floating m, const floating* y, Py_ssize_t n,
                          bint sq) noexcept nogil:
    """the sum of (x - m)^2 (sq) or of (x - m) y over x[0:n], in _vmath's 16 lanes"""
    if floating is float:
        return cgrad_row_devf(x, m, y, n, sq)
    else:
        return cgrad_row_dev(x, m, y, n, sq)


cdef void _column_sums(const floating* x, const floating* y, const floating* m,
                       double* part, Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t C,
                       int kind) noexcept nogil:
    """part[c] = the sum over rows n0..n1 of x's (N, C) rows of kind's term: x (0),
    (x - m)^2 (1), y (x - m) (2)"""
    cdef Py_ssize_t n, c
    cdef floating d
    for c in range(C):
        part[c] = 0
    for n in range(n0, n1):
        if kind == 0:
            for c in range(C):
                part[c] += x[n * C + c]
        elif kind == 1:
            for c in range(C):
                d = x[n * C + c] - m[c]
                part[c] += d * d
        else:
            for c in range(C):
                part[c] += y[n * C + c] * (x[n * C + c] - m[c])


cdef void _channel_sum(const floating* x, const floating* y, floating m, double* out,
                       Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, int kind) noexcept nogil:
    """out[0] = the sum over channel 0's spans (x at its first span) of kind's term, as
    _column_sums numbers them"""
    cdef Py_ssize_t n
    cdef double total = 0
    for n in range(N):
        if kind == 0:
            total += _lanes_sum(x + n * C * S, x, S, 0)
        else:
            total += _dev(x + n * C * S, m, y + n * C * S, S, kind == 1)
    out[0] = total


cdef int _channel_totals(const floating* x, const floating* y, const floating* m,
                         double* out, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                         int kind) except -1:
    """out[c] = the sum of kind's term over channel c (_column_sums' kinds), in one of the two
    fixed orders above"""
    cdef Py_ssize_t c, blk, n0, rows = max(1, (N + NORM_PARTS - 1) // NORM_PARTS)
    cdef Py_ssize_t nb = (N + rows - 1) // rows
    cdef double[:, ::1] part = np.empty((nb if S == 1 else 0, C))
    with nogil:
        if S > 1:
            if parallel(N * C * S) and C > 1:
                for c in prange(C, schedule="static", num_threads=cgrad_threads()):
                    _channel_sum(x + c * S, y + c * S, m[c] if m != NULL else 0, &out[c],
                                 N, C, S, kind)
            else:
                for c in range(C):
                    _channel_sum(x + c * S, y + c * S, m[c] if m != NULL else 0, &out[c],
                                 N, C, S, kind)
            return 0
        if parallel(N * C) and nb > 1:
            for blk in prange(nb, schedule="static", num_threads=cgrad_threads()):
                n0 = blk * rows
                _column_sums(x, y, m, &part[blk, 0], n0, min(n0 + rows, N), C, kind)
        else:
            for blk in range(nb):
                n0 = blk * rows
                _column_sums(x, y, m, &part[blk, 0], n0, min(n0 + rows, N), C, kind)
        _partials_total(&part[0, 0], nb, C, out)
    return 0


cdef int _bn_check(Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, Py_ssize_t n_x,
                   Py_ssize_t n_stats) except -1:
    if N <= 0 or C <= 0 or S <= 0:
        raise ValueError(f"an (N, C, S) block of ({N}, {C}, {S}): expected every size positive")
    _check(n_x, N * C * S, "x")
    _check(n_stats, C, "mean")
    return 0


def batch_norm_stats_(const floating[::1] x, floating[::1] mean, floating[::1] var,
                      Py_ssize_t N, Py_ssize_t C, Py_ssize_t S):
    """each channel's mean and biased variance (its squared deviations from that mean)"""
    _bn_check(N, C, S, x.shape[0], mean.shape[0])
    _check(var.shape[0], C, "var")
    cdef double[::1] total = np.empty(C)
    cdef Py_ssize_t c
    cdef double count = N * S
    _channel_totals(&x[0], &x[0], NULL, &total[0], N, C, S, 0)
    for c in range(C):
        mean[c] = <floating> (total[c] / count)
    _channel_totals(&x[0], &x[0], &mean[0], &total[0], N, C, S, 1)
    for c in range(C):
        var[c] = <floating> (total[c] / count)


cdef void _bn_span(const floating* x, floating* out, Py_ssize_t n, floating m, floating r,
                   floating w, floating b) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = (x[i] - m) * r * w + b


cdef void _bn_row(const floating* x, floating* out, const floating* m, const floating* r,
                  const floating* w, const floating* b, Py_ssize_t C) noexcept nogil:
    cdef Py_ssize_t c
    for c in range(C):
        out[c] = (x[c] - m[c]) * r[c] * w[c] + b[c]


def batch_norm_(const floating[::1] x, const floating[::1] mean, const floating[::1] rstd,
                const floating[::1] w, const floating[::1] b, floating[::1] out, Py_ssize_t N,
                Py_ssize_t C, Py_ssize_t S):
    """out = (x - mean) * rstd * w + b per channel (the NumPy backend's order; an empty w or
    b is none)"""
    _bn_check(N, C, S, x.shape[0], mean.shape[0])
    _check(rstd.shape[0], C, "rstd")
    for n, name in ((w.shape[0], "w"), (b.shape[0], "b")):
        if n:
            _check(n, C, name)
    _check(out.shape[0], N * C * S, "out")
    cdef Py_ssize_t i, c
    dtype = np.float32 if floating is float else np.float64
    cdef const floating[::1] wv = w if w.shape[0] else np.ones(C, dtype)
    cdef const floating[::1] bv = b if b.shape[0] else np.zeros(C, dtype)
    with nogil:
        if S == 1:
            if parallel(N * C) and N > 1:
                for i in prange(N, schedule="static", num_threads=cgrad_threads()):
                    _bn_row(&x[i * C], &out[i * C], &mean[0], &rstd[0], &wv[0], &bv[0], C)
            else:
                for i in range(N):
                    _bn_row(&x[i * C], &out[i * C], &mean[0], &rstd[0], &wv[0], &bv[0], C)
        elif parallel(N * C * S):
            for i in prange(N * C, schedule="static", num_threads=cgrad_threads()):
                c = i % C
                _bn_span(&x[i * S], &out[i * S], S, mean[c], rstd[c], wv[c], bv[c])
        else:
            for i in range(N * C):
                c = i % C
                _bn_span(&x[i * S], &out[i * S], S, mean[c], rstd[c], wv[c], bv[c])


cdef void _bn_bwd_span(const floating* x, const floating* g, floating* dx, Py_ssize_t n,
                       floating m, floating r, floating k, floating a, floating bb,
                       bint training) noexcept nogil:
    """dx = k (g - a - xhat bb) in training, g k in evaluation (k = w rstd)"""
    cdef Py_ssize_t i
    if training:
        for i in range(n):
            dx[i] = k * (g[i] - a - (x[i] - m) * r * bb)
    else:
        for i in range(n):
            dx[i] = g[i] * k


cdef void _bn_bwd_row(const floating* x, const floating* g, floating* dx, Py_ssize_t C,
                      const floating* m, const floating* r, const floating* k,
                      const floating* a, const floating* bb, bint training) noexcept nogil:
    cdef Py_ssize_t c
    if training:
        for c in range(C):
            dx[c] = k[c] * (g[c] - a[c] - (x[c] - m[c]) * r[c] * bb[c])
    else:
        for c in range(C):
            dx[c] = g[c] * k[c]


def batch_norm_backward_(const floating[::1] x, const floating[::1] g,
                         const floating[::1] mean, const floating[::1] rstd,
                         const floating[::1] w, floating[::1] dx, floating[::1] dw,
                         floating[::1] db, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                         bint training):
    """batch_norm_'s gradients from the incoming g, with xhat = (x - mean) rstd and k = w rstd:
    dw = the sum of g xhat and db = the sum of g per channel; dx = k (g - db / M - xhat dw / M)
    in training (M = N S, mean and rstd the batch's), g k in evaluation. An empty w is none;
    an empty dx, dw or db is not wanted."""
    _bn_check(N, C, S, x.shape[0], mean.shape[0])
    _check(g.shape[0], N * C * S, "g")
    _check(rstd.shape[0], C, "rstd")
    for out, n, name in ((w, C, "w"), (dx, N * C * S, "dx"), (dw, C, "dw"), (db, C, "db")):
        if out.shape[0]:
            _check(out.shape[0], n, name)
    cdef bint want_x = dx.shape[0] > 0, want_w = dw.shape[0] > 0, want_b = db.shape[0] > 0
    cdef Py_ssize_t i, c
    cdef double count = N * S
    cdef double[::1] sum_g = np.zeros(C), sum_gx = np.zeros(C)
    if want_w or want_b or (want_x and training):
        _channel_totals(&g[0], &g[0], NULL, &sum_g[0], N, C, S, 0)
        _channel_totals(&x[0], &g[0], &mean[0], &sum_gx[0], N, C, S, 2)
    for c in range(C):
        sum_gx[c] = sum_gx[c] * rstd[c]          # the sum of g xhat
        if want_w:
            dw[c] = <floating> sum_gx[c]
        if want_b:
            db[c] = <floating> sum_g[c]
    if not want_x:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] k = np.empty(C, dtype), a = np.empty(C, dtype), bb = np.empty(C, dtype)
    for c in range(C):
        k[c] = (w[c] if w.shape[0] else 1) * rstd[c]
        a[c] = <floating> (sum_g[c] / count)
        bb[c] = <floating> (sum_gx[c] / count)
    with nogil:
        if S == 1:
            if parallel(N * C) and N > 1:
                for i in prange(N, schedule="static", num_threads=cgrad_threads()):
                    _bn_bwd_row(&x[i * C], &g[i * C], &dx[i * C], C, &mean[0], &rstd[0],
                                &k[0], &a[0], &bb[0], training)
            else:
                for i in range(N):
                    _bn_bwd_row(&x[i * C], &g[i * C], &dx[i * C], C, &mean[0], &rstd[0],
                                &k[0], &a[0], &bb[0], training)
        elif parallel(N * C * S):
            for i in prange(N * C, schedule="static", num_threads=cgrad_threads()):
                c = i % C
                _bn_bwd_span(&x[i * S], &g[i * S], &dx[i * S], S, mean[c], rstd[c], k[c],
                             a[c], bb[c], training)
        else:
            for i in range(N * C):
                c = i % C
                _bn_bwd_span(&x[i * S], &g[i * S], &dx[i * S], S, mean[c], rstd[c], k[c],
                             a[c], bb[c], training)
