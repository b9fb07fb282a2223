"""Gradient buffers: accumulate into .grad and zero it in place, never allocating.
Callers pass C-contiguous 1-D views of equal length and one dtype (transpose_into_: 3-D)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel
from cgrad._C._windows cimport first_inside, windows_plane

link_thread_count()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* From 8 MiB (past most L2s and a share of L3) zeros go out with non-temporal stores:
       they skip the read each ordinary store makes of its cache line first and never fill
       the cache with lines that would be written back anyway. 10^7 floats on an AVX2 EPYC:
       memset 5.1 ms (glibc kept ordinary stores), streamed 1.6-1.9 ms. Below, memset: the buffer
       is likely in cache and about to be read by the next accumulation. */
    #define CGRAD_STREAM_BYTES ((size_t) 8 << 20)
    static void cgrad_zero_bytes(void* p, size_t nbytes) {
    #if defined(__SSE2__)
        if (nbytes >= CGRAD_STREAM_BYTES) {
            char* c = (char*) p;
            size_t head = (size_t) (-(uintptr_t) c) & 15u, whole, i;    /* to a 16-byte line */
            __m128i z = _mm_setzero_si128();
            memset(c, 0, head);
            c += head;
            nbytes -= head;
            whole = nbytes & ~(size_t) 63;
            for (i = 0; i < whole; i += 64) {
                _mm_stream_si128((__m128i*) (c + i), z);
                _mm_stream_si128((__m128i*) (c + i + 16), z);
                _mm_stream_si128((__m128i*) (c + i + 32), z);
                _mm_stream_si128((__m128i*) (c + i + 48), z);
            }
            _mm_sfence();          /* the streamed zeros are seen before anything after */
            memset(c + whole, 0, nbytes - whole);
            return;
        }
    #endif
        memset(p, 0, nbytes);
    }
    """
    void cgrad_zero_bytes(void* p, size_t nbytes) noexcept nogil


def accumulate_(floating[::1] acc, const floating[::1] g):
    """acc += g"""
    cdef Py_ssize_t i, n = acc.shape[0]
    if n == 0:
        return
    if parallel(n):
        for i in prange(n, nogil=True, schedule="static", num_threads=cgrad_threads()):
            acc[i] += g[i]
    else:
        with nogil:
            for i in range(n):
                acc[i] += g[i]


def accumulate_scalar_(floating[::1] acc, floating g):
    """acc += g for one scalar g (a broadcast 0-d or size-1 gradient)"""
    cdef Py_ssize_t i, n = acc.shape[0]
    if parallel(n):
        for i in prange(n, nogil=True, schedule="static", num_threads=cgrad_threads()):
            acc[i] += g
    else:
        with nogil:
            for i in range(n):
                acc[i] += g


def zero_(floating[::1] a):
    """a[:] = 0 (all-zero bytes are +0.0 in IEEE 754; streamed from 8 MiB), one share of the
    bytes a thread (on one thread, 10^7 float32 took 1.66-1.71 ms on the Xeon host at one
    and at two threads, PyTorch's 1.93 and 0.78)"""
    cdef Py_ssize_t n = a.shape[0], b, threads = cgrad_threads()
    cdef size_t total = n * sizeof(floating), share
    cdef char* p
    if n == 0:
        return
    p = <char*> &a[0]
    if parallel(n) and threads > 1:
        share = (total // threads + 63) & ~(<size_t> 63)   # (whole cache lines)
        for b in prange(threads, nogil=True, schedule="static", num_threads=threads):
            if b * share < total:
                cgrad_zero_bytes(p + b * share, min(share, total - b * share))
    else:
        with nogil:
            cgrad_zero_bytes(p, total)


cdef enum:
    TILE = 16          # a tile's side: 16 floats are one 64-byte line
    PREFETCH_TILES = 1 # tiles ahead whose rows of a are prefetched (a column of lines far
                       # apart: the hardware prefetchers do not follow it)
    ROW_CHUNK = 1024   # rows of a a band walks before the next band: their pages stay in the
                       # TLB (4096 rows of 16 KB, a page each, missed it on every line)

cdef extern from *:
    void __builtin_prefetch(const void* p) noexcept nogil


cdef void _transpose_tile(const floating* a, Py_ssize_t lda, floating* d, Py_ssize_t ldd,
                          Py_ssize_t rows, Py_ssize_t cols, bint add) noexcept nogil:
    """d[i, j] (+)= a[j, i] for i < rows, j < cols (<= TILE), through a local buffer: each
    row of a is read and each row of d written in one contiguous run"""
    cdef floating buf[TILE * TILE]
    cdef Py_ssize_t i, j
    for j in range(cols):
        for i in range(rows):
            buf[i * TILE + j] = a[j * lda + i]
    for i in range(rows):
        if add:
            for j in range(cols):
                d[i * ldd + j] += buf[i * TILE + j]
        else:
            for j in range(cols):
                d[i * ldd + j] = buf[i * TILE + j]


cdef void _transpose_band(const floating* a, floating* d, Py_ssize_t t, Py_ssize_t tiles_m,
                          Py_ssize_t n, Py_ssize_t m, Py_ssize_t j_lo, Py_ssize_t j_hi,
                          bint add) noexcept nogil:
    """d's rows i0 .. i0 + TILE of batch element b, t = b * tiles_m + i0 / TILE, over the
    columns j_lo .. j_hi (a's rows)"""
    cdef Py_ssize_t b = t // tiles_m, i0 = (t % tiles_m) * TILE, j0, jt, r, ahead
    cdef const floating* ab = a + b * n * m
    cdef floating* db = d + b * m * n
    for jt in range((j_hi - j_lo + TILE - 1) // TILE):
        j0 = j_lo + jt * TILE
        ahead = j0 + PREFETCH_TILES * TILE
        for r in range(ahead, min(ahead + TILE, j_hi)):
            __builtin_prefetch(ab + r * m + i0)
        _transpose_tile(ab + j0 * m + i0, m, db + i0 * n + j0, n,
                        min(<Py_ssize_t> TILE, m - i0), min(<Py_ssize_t> TILE, j_hi - j0), add)


def transpose_into_(const floating[:, :, ::1] a, floating[:, :, ::1] d, bint add):
    """d[b] (+)= a[b].T for each b (a of shape (B, N, M), d (B, M, N), both C-contiguous): a
    transposed view made contiguous, or a transposed gradient added into .grad, in tiles of
    16 x 16. NumPy's strided copy walks a with a stride of a whole row on every element,
    which for a power-of-two row misses cache and aliases in L1 each time (1024^2 floats:
    3.3 ms a copy, 3.7 an add, on a Zen 4)."""
    cdef Py_ssize_t nb = a.shape[0], n = a.shape[1], m = a.shape[2]
    if d.shape[0] != nb or d.shape[1] != m or d.shape[2] != n:
        raise ValueError(f"d has shape {(d.shape[0], d.shape[1], d.shape[2])}, expected "
                         f"{(nb, m, n)}")
    cdef Py_ssize_t tiles_m = (m + TILE - 1) // TILE, t
    if nb == 0 or m == 0 or n == 0:
        return
    cdef const floating* ap = &a[0, 0, 0]
    cdef floating* dp = &d[0, 0, 0]
    cdef Py_ssize_t j_lo, j_hi, chunk
    with nogil:
        # one task per tile row of d (a band of TILE rows in one batch element), over
        # ROW_CHUNK rows of a at a time
        for chunk in range((n + ROW_CHUNK - 1) // ROW_CHUNK):
            j_lo = chunk * ROW_CHUNK
            j_hi = min(j_lo + ROW_CHUNK, n)
            if parallel(nb * m * n):
                for t in prange(nb * tiles_m, schedule="static", num_threads=cgrad_threads()):
                    _transpose_band(ap, dp, t, tiles_m, n, m, j_lo, j_hi, add)
            else:
                for t in range(nb * tiles_m):
                    _transpose_band(ap, dp, t, tiles_m, n, m, j_lo, j_hi, add)


cdef enum:
    INDEX_ADD_COLS = 4096    # columns per parallel chunk of an index_add_


def index_add_(floating[:, :, ::1] out, const long long[::1] idx,
               const floating[:, :, ::1] src):
    """out[l, idx[i], k] += src[l, i, k] for every l, i and k, each element's additions in
    order of i, as np.add.at makes them (the same bits); a negative index counts from the
    end. The gradient of indexing one axis by an integer array (index_select, x[idx],
    embedding): NumPy's add.at took 38 ms to add 4096 rows of 1024 floats. Column chunks in
    parallel, so the thread count never changes an element's order."""
    cdef Py_ssize_t L = out.shape[0], V = out.shape[1], K = out.shape[2], N = idx.shape[0]
    cdef Py_ssize_t i, c, k0, k1, chunks
    if src.shape[0] != L or src.shape[1] != N or src.shape[2] != K:
        raise ValueError(f"src has shape {(src.shape[0], src.shape[1], src.shape[2])}, "
                         f"expected {(L, N, K)}")
    if N:
        _check_indices(&idx[0], N, V)
    if L == 0 or N == 0 or K == 0:
        return
    chunks = (K + INDEX_ADD_COLS - 1) // INDEX_ADD_COLS
    if parallel(L * N * K) and chunks > 1:
        for c in prange(chunks, nogil=True, schedule="static", num_threads=cgrad_threads()):
            k0 = c * INDEX_ADD_COLS
            k1 = min(k0 + INDEX_ADD_COLS, K)
            _index_add_cols(&out[0, 0, 0], &idx[0], &src[0, 0, 0], L, V, K, N, k0, k1)
    else:
        with nogil:
            _index_add_cols(&out[0, 0, 0], &idx[0], &src[0, 0, 0], L, V, K, N, 0, K)


cdef void _index_add_cols(floating* out, const long long* idx, const floating* src,
                          Py_ssize_t L, Py_ssize_t V, Py_ssize_t K, Py_ssize_t N,
                          Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """index_add_'s additions for the columns k0 <= k < k1"""
    cdef Py_ssize_t l, i, k
    cdef long long j
    cdef floating* o
    cdef const floating* s
    for l in range(L):
        for i in range(N):
            j = idx[i]
            if j < 0:
                j = j + V
            o = out + (l * V + j) * K
            s = src + (l * N + i) * K
            for k in range(k0, k1):
                o[k] += s[k]


def gather_(const floating[:, :, ::1] x, const long long[:, :, ::1] idx,
            floating[:, :, ::1] out):
    """out[l, i, k] = x[l, idx[l, i, k], k] (a negative index counts from the end): gather
    along the middle axis of (L, V, K), rows l in parallel. NumPy's advanced indexing took
    3 ms for 1024 x 1024 floats."""
    cdef Py_ssize_t L = x.shape[0], V = x.shape[1], K = x.shape[2], N = idx.shape[1]
    _check_rows(L, N, K, idx.shape, out.shape)
    if L and N and K:
        _by_rows(False, <floating*> &x[0, 0, 0], &idx[0, 0, 0], &out[0, 0, 0], L, V, K, N)


cdef int _by_rows(bint add, floating* big, const long long* idx, floating* small,
                  Py_ssize_t L, Py_ssize_t V, Py_ssize_t K, Py_ssize_t N) except -1:
    """small (L, N, K) = big (L, V, K) at idx (L, N, K) along the middle axis, or (add) big
    at idx += small: each row l alone, rows in parallel"""
    cdef Py_ssize_t l
    _check_indices(idx, L * N * K, V)
    if parallel(L * N * K) and L > 1:
        for l in prange(L, nogil=True, schedule="static", num_threads=cgrad_threads()):
            _row(add, big + l * V * K, idx + l * N * K, small + l * N * K, V, K, N)
    else:
        with nogil:
            for l in range(L):
                _row(add, big + l * V * K, idx + l * N * K, small + l * N * K, V, K, N)
    return 0


cdef inline void _row(bint add, floating* big, const long long* idx, floating* small,
                      Py_ssize_t V, Py_ssize_t K, Py_ssize_t N) noexcept nogil:
    if add:
        _scatter_add_row(big, idx, small, V, K, N)
    else:
        _gather_row(big, idx, small, V, K, N)


cdef inline void _gather_row(const floating* x, const long long* idx, floating* out,
                             Py_ssize_t V, Py_ssize_t K, Py_ssize_t N) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef long long j
    if K == 1:               # a row of scalars (gather along the last axis): vector gathers
        for i in range(N):
            j = idx[i]
            out[i] = x[j + V if j < 0 else j]
        return
    for i in range(N):
        for k in range(K):
            j = idx[i * K + k]
            if j < 0:
                j = j + V
            out[i * K + k] = x[j * K + k]


cdef int _check_rows(Py_ssize_t L, Py_ssize_t N, Py_ssize_t K, Py_ssize_t* idx_shape,
                     Py_ssize_t* src_shape) except -1:
    """idx and src (or out) of shape (L, N, K) beside an (L, V, K) array"""
    if idx_shape[0] != L or idx_shape[2] != K:
        raise ValueError(f"index has shape {(idx_shape[0], N, idx_shape[2])}, expected "
                         f"{(L, N, K)}")
    if src_shape[0] != L or src_shape[1] != N or src_shape[2] != K:
        raise ValueError(f"values have shape {(src_shape[0], src_shape[1], src_shape[2])}, "
                         f"expected {(L, N, K)}")
    return 0


cdef int _check_indices(const long long* idx, Py_ssize_t n, Py_ssize_t V) except -1:
    """IndexError naming the first index outside [-V, V): one vectorised pass to find out
    whether there is one, a second to name it"""
    cdef Py_ssize_t t
    cdef bint bad = False
    with nogil:
        for t in range(n):
            bad |= (idx[t] < -V) | (idx[t] >= V)
    if bad:
        for t in range(n):
            if not -V <= idx[t] < V:
                raise IndexError(f"index {idx[t]} is out of bounds for dimension with size {V}")
    return 0


def scatter_add_(floating[:, :, ::1] out, const long long[:, :, ::1] idx,
                 const floating[:, :, ::1] src):
    """out[l, idx[l, i, k], k] += src[l, i, k] for every l, i and k, each element's additions
    in order of i, as np.add.at makes them (the same bits); a negative index counts from the
    end. The gradient of gather (and scatter_add itself) along the middle axis of (L, V, K).
    Rows l in parallel: the thread count never changes an element's order."""
    cdef Py_ssize_t L = out.shape[0], V = out.shape[1], K = out.shape[2], N = idx.shape[1]
    _check_rows(L, N, K, idx.shape, src.shape)
    if L and N and K:
        _by_rows(True, &out[0, 0, 0], &idx[0, 0, 0], <floating*> &src[0, 0, 0], L, V, K, N)


cdef inline void _scatter_add_row(floating* out, const long long* idx, const floating* src,
                                  Py_ssize_t V, Py_ssize_t K, Py_ssize_t N) noexcept nogil:
    """scatter_add_'s additions for one l: out (V, K), idx and src (N, K)"""
    cdef Py_ssize_t i, k
    cdef long long j
    for i in range(N):
        for k in range(K):
            j = idx[i * K + k]
            if j < 0:
                j = j + V
            out[j * K + k] += src[i * K + k]


# ---- im2col and col2im: the windows of 2-D planes ----------------------------------------------
def add_windows_2d_(floating[:, :, ::1] out, const floating[:, :, :, :, ::1] cols,
                    Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t sh, Py_ssize_t sw):
    """out[p] (P planes of Hp x Wp) += each window's values, cols[p] (KH, KW, OH, OW) a value
    per kernel position and window, the windows sh and sw apart, their positions dh and dw
    apart (col2im): one kernel position at a time in order (the NumPy backend's sums, bit
    for bit), each plane in cache, planes in parallel"""
    _check_windows(out.shape[0], cols.shape[0], out.shape[1], out.shape[2], cols.shape[1],
                   cols.shape[2], cols.shape[3], cols.shape[4], dh, dw, sh, sw)
    if out.shape[0] and cols.size:
        _windows_2d(&out[0, 0, 0], <floating*> &cols[0, 0, 0, 0, 0], out.shape[0],
                    out.shape[1] * out.shape[2], out.shape[2], &cols.shape[1], dh, dw, sh, sw,
                    True)


def take_windows_2d_(const floating[:, :, ::1] x, floating[:, :, :, :, ::1] cols,
                     Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t sh, Py_ssize_t sw):
    """cols[p] (KH, KW, OH, OW) = each window's values in x[p] (P planes of Hp x Wp), the
    adjoint of add_windows_2d_ (im2col): a row of OW at a time, planes in parallel (NumPy's
    copy of the windows' view stepped through six axes per element)"""
    _check_windows(x.shape[0], cols.shape[0], x.shape[1], x.shape[2], cols.shape[1],
                   cols.shape[2], cols.shape[3], cols.shape[4], dh, dw, sh, sw)
    if x.shape[0] and cols.size:
        _windows_2d(<floating*> &x[0, 0, 0], &cols[0, 0, 0, 0, 0], x.shape[0],
                    x.shape[1] * x.shape[2], x.shape[2], &cols.shape[1], dh, dw, sh, sw, False)


cdef void _windows_2d(floating* image, floating* cols, Py_ssize_t P, Py_ssize_t plane,
                      Py_ssize_t Wp, Py_ssize_t* window_shape, Py_ssize_t dh, Py_ssize_t dw,
                      Py_ssize_t sh, Py_ssize_t sw, bint add) noexcept:
    """each of P planes (of `plane` elements, rows of Wp) and its windows, (KH, KW, OH, OW):
    the windows added into the image (add) or copied out of it"""
    cdef Py_ssize_t KH = window_shape[0], KW = window_shape[1]
    cdef Py_ssize_t OH = window_shape[2], OW = window_shape[3], p
    cdef Py_ssize_t per_plane = KH * KW * OH * OW
    with nogil:
        if parallel(P * per_plane) and P > 1:
            for p in prange(P, schedule="static", num_threads=cgrad_threads()):
                windows_plane(image + p * plane, cols + p * per_plane, plane // Wp, Wp, KH,
                              KW, OH, OW, 0, 0, dh, dw, sh, sw, OH * OW, add)
        else:
            for p in range(P):
                windows_plane(image + p * plane, cols + p * per_plane, plane // Wp, Wp, KH,
                              KW, OH, OW, 0, 0, dh, dw, sh, sw, OH * OW, add)


cdef int _check_windows(Py_ssize_t P, Py_ssize_t P_cols, Py_ssize_t Hp, Py_ssize_t Wp,
                        Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t sh, Py_ssize_t sw) except -1:
    """the windows' geometry against the planes' (ValueError naming what does not fit)"""
    if P_cols != P:
        raise ValueError(f"cols has {P_cols} planes, the image {P}")
    if min(dh, dw, sh, sw) < 1:
        raise ValueError(f"dilation ({dh}, {dw}) and stride ({sh}, {sw}) must be positive")
    if KH and KW and OH and OW and ((KH - 1) * dh + (OH - 1) * sh >= Hp
                                    or (KW - 1) * dw + (OW - 1) * sw >= Wp):
        raise ValueError(f"windows of ({KH}, {KW}) at ({OH}, {OW}) positions overrun a plane "
                         f"of ({Hp}, {Wp})")
    return 0


# ---- linear resize along one axis (F.interpolate's linear modes) -------------------------------
cdef int _check_taps(const long long[::1] i0, const long long[::1] i1, Py_ssize_t taps,
                     Py_ssize_t w0, Py_ssize_t w1, Py_ssize_t size) except -1:
    """the taps' lengths, and every index inside the axis (IndexError naming one that is not)"""
    cdef Py_ssize_t j
    if not (i0.shape[0] == i1.shape[0] == w0 == w1 == taps):
        raise ValueError(f"i0, i1, w0, w1 have {i0.shape[0]}, {i1.shape[0]}, {w0}, {w1} "
                         f"elements, the resized axis {taps}")
    for j in range(taps):
        if not (0 <= i0[j] < size and 0 <= i1[j] < size):
            raise IndexError(f"source index {i0[j]} or {i1[j]} out of range for an axis of "
                             f"{size}")
    return 0


def resize_linear_(const floating[:, :, ::1] x, const long long[::1] i0,
                   const long long[::1] i1, const floating[::1] w0, const floating[::1] w1,
                   floating[:, :, ::1] out):
    """out[o, j, :] = x[o, i0[j], :] w0[j] + x[o, i1[j], :] w1[j] (x (outer, size, inner), out
    (outer, taps, inner)): the NumPy backend's two takes, products and sum in one pass, the
    outer blocks in parallel"""
    _check_taps(i0, i1, out.shape[1], w0.shape[0], w1.shape[0], x.shape[1])
    if out.shape[0] != x.shape[0] or out.shape[2] != x.shape[2]:
        raise ValueError(f"out has shape ({out.shape[0]}, {out.shape[1]}, {out.shape[2]}), "
                         f"expected ({x.shape[0]}, {out.shape[1]}, {x.shape[2]})")
    if out.size:
        _resize(<floating*> &x[0, 0, 0], &i0[0], &i1[0], &w0[0], &w1[0], &out[0, 0, 0], NULL,
                x.shape[0], out.shape[1], x.shape[1], x.shape[2])


def resize_linear_backward_(const floating[:, :, ::1] g, const long long[::1] i0,
                            const long long[::1] i1, const floating[::1] w0,
                            const floating[::1] w1, floating[:, :, ::1] dx,
                            floating[:, :, ::1] scratch):
    """resize_linear_'s adjoint: dx (zeroed, (outer, size, inner)) = the g w0 of each tap added
    at i0, in tap order, plus (scratch: zeroed, dx's shape) the g w1 added at i1 likewise,
    as the NumPy backend's two index_add_ and their sum, bit for bit; outer blocks in
    parallel"""
    cdef Py_ssize_t outer = dx.shape[0], size = dx.shape[1], inner = dx.shape[2]
    _check_taps(i0, i1, g.shape[1], w0.shape[0], w1.shape[0], size)
    if g.shape[0] != outer or g.shape[2] != inner:
        raise ValueError(f"g has shape ({g.shape[0]}, {g.shape[1]}, {g.shape[2]}), expected "
                         f"({outer}, {g.shape[1]}, {inner})")
    if scratch.shape[0] != outer or scratch.shape[1] != size or scratch.shape[2] != inner:
        raise ValueError(f"scratch has shape ({scratch.shape[0]}, {scratch.shape[1]}, "
                         f"{scratch.shape[2]}), dx ({outer}, {size}, {inner})")
    if g.size:
        _resize(&dx[0, 0, 0], &i0[0], &i1[0], &w0[0], &w1[0], <floating*> &g[0, 0, 0],
                &scratch[0, 0, 0], outer, g.shape[1], size, inner)


cdef void _resize(floating* x, const long long* i0, const long long* i1, const floating* w0,
                  const floating* w1, floating* y, floating* scratch, Py_ssize_t outer,
                  Py_ssize_t taps, Py_ssize_t size, Py_ssize_t inner) noexcept:
    """each outer block of x (size, inner) resized into y's (taps, inner), or (scratch given)
    y's added back into x's, the blocks in parallel"""
    cdef Py_ssize_t o, xs = size * inner, ys = taps * inner
    with nogil:
        if parallel(outer * ys) and outer > 1:
            for o in prange(outer, schedule="static", num_threads=cgrad_threads()):
                _resize_block(x + o * xs, i0, i1, w0, w1, y + o * ys,
                              NULL if scratch == NULL else scratch + o * xs, taps, size, inner)
        else:
            for o in range(outer):
                _resize_block(x + o * xs, i0, i1, w0, w1, y + o * ys,
                              NULL if scratch == NULL else scratch + o * xs, taps, size, inner)


cdef void _resize_block(floating* x, const long long* i0, const long long* i1,
                        const floating* w0, const floating* w1, floating* y, floating* scratch,
                        Py_ssize_t taps, Py_ssize_t size, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t j, k
    cdef floating* a
    cdef floating* b
    cdef floating u, v
    for j in range(taps):
        u, v = w0[j], w1[j]
        a = x + i0[j] * inner
        if scratch == NULL:
            b = x + i1[j] * inner
            for k in range(inner):
                y[j * inner + k] = a[k] * u + b[k] * v
        else:
            b = scratch + i1[j] * inner
            for k in range(inner):
                a[k] += y[j * inner + k] * u
                b[k] += y[j * inner + k] * v
    if scratch != NULL:
        for k in range(size * inner):
            x[k] += scratch[k]


# ---- max pooling: each window's pick, read where it lies --------------------------------------
def max_pool2d_(const floating[:, :, ::1] x, floating[:, :, ::1] values, long long[:, :, ::1] idx,
                Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                Py_ssize_t dw, Py_ssize_t sh, Py_ssize_t sw):
    """values[p] (OH, OW) = each window's pick in x[p] (P planes of H x W; ph rows and pw
    columns of padding before, which never win; the windows sh and sw apart, their
    positions dh and dw apart), idx[p] its flat index in H W. The pick is PyTorch's CPU
    max pool's: the first maximum, or the last NaN; a window of -infs (or no larger value)
    picks its first element inside x. One pass over each window where it lies (the NumPy
    backend copies the windows out first), planes in parallel. A window with no element
    inside x (a dilated one can fall in the padding) has the value -inf and the index -1;
    returns how many there were."""
    cdef Py_ssize_t P = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = values.shape[1], OW = values.shape[2], p
    if (values.shape[0], idx.shape[0], idx.shape[1], idx.shape[2]) != (P, P, OH, OW):
        raise ValueError(f"max_pool2d_: values {(values.shape[0], OH, OW)} and indices "
                         f"{(idx.shape[0], idx.shape[1], idx.shape[2])} for {P} planes")
    if min(KH, KW, dh, dw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"max_pool2d_: kernel ({KH}, {KW}), dilation ({dh}, {dw}) and stride "
                         f"({sh}, {sw}) must be positive, padding ({ph}, {pw}) not negative")
    cdef Py_ssize_t empty = 0
    if P == 0 or OH * OW == 0:
        return 0
    if H == 0 or W == 0:                # (planes of no element: every window is empty)
        values[...] = -INFINITY
        idx[...] = -1
        return P * OH * OW
    with nogil:
        if parallel(P * OH * OW * KH * KW) and P > 1:
            for p in prange(P, schedule="static", num_threads=cgrad_threads()):
                empty += _max_pool_plane(&x[p, 0, 0], &values[p, 0, 0], &idx[p, 0, 0], H, W,
                                         OH, OW, KH, KW, ph, pw, dh, dw, sh, sw)
        else:
            for p in range(P):
                empty += _max_pool_plane(&x[p, 0, 0], &values[p, 0, 0], &idx[p, 0, 0], H, W,
                                         OH, OW, KH, KW, ph, pw, dh, dw, sh, sw)
    return empty


cdef Py_ssize_t _max_pool_plane(const floating* x, floating* values, long long* idx,
                                Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                                Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t ph, Py_ssize_t pw,
                                Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t sh,
                                Py_ssize_t sw) noexcept nogil:
    """max_pool2d_ over one plane; returns its windows with no element inside it. A row of
    windows at a time, one kernel position at a time in order over all of them, with
    selects, not branches (a branch on random data mispredicted half the time: 18 ns a
    window of 2 x 2)"""
    cdef Py_ssize_t oh, ow, i, j, row, offset, lo, hi, base, empty = 0
    cdef floating v
    cdef floating* best
    cdef long long* best_at
    cdef bint take, first
    for oh in range(OH):
        best, best_at = values + oh * OW, idx + oh * OW
        for ow in range(OW):
            best[ow], best_at[ow] = -INFINITY, -1
        for i in range(KH):
            row = oh * sh - ph + i * dh
            if row < 0 or row >= H:
                continue
            for j in range(KW):
                # the windows whose column for j falls inside the plane: lo <= ow < hi
                offset = j * dw - pw
                lo = min(first_inside(offset, sw), OW)
                hi = max(lo, OW - first_inside(W - 1 - offset - (OW - 1) * sw, sw))
                base = row * W + offset
                for ow in range(lo, hi):
                    v = x[base + ow * sw]
                    take = (v > best[ow]) | (v != v)             # the first maximum, last NaN
                    first = best_at[ow] < 0                     # (-infs: the first inside)
                    best[ow] = v if take else best[ow]
                    best_at[ow] = base + ow * sw if take | first else best_at[ow]
        for ow in range(OW):
            empty += best_at[ow] < 0
    return empty
