# The sliding windows of one 2-D plane (im2col and col2im), shared by grad.pyx's window
# kernels (planes padded beforehand) and linalg.pyx's convolutions (padding read as zeros).
from cython cimport floating


cdef inline Py_ssize_t first_inside(Py_ssize_t offset, Py_ssize_t step) noexcept nogil:
    """the first i >= 0 with offset + i * step >= 0 (step > 0)"""
    return 0 if offset >= 0 else (-offset + step - 1) // step


cdef inline void copy_eight(floating* dst, const floating* src) noexcept nogil:
    """dst[0:8] = src[0:8], all loaded before any is stored, which spares the compiler an
    aliasing check: one vector move each way for float32 at AVX2 (more for double, or in
    narrower builds)"""
    cdef floating v[8]
    cdef int t
    for t in range(8):
        v[t] = src[t]
    for t in range(8):
        dst[t] = v[t]


cdef inline void copy_row(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    """dst[0:n] = src[0:n] for n >= 8 (dst and src apart) as copies of eight, the last one
    ending at n (it overlaps the one before: the same values again). A window row is
    short (10 of a 14-wide plane after a 5x5 kernel): the loop a general copy compiles to
    (its aliasing check, its scalar head and tail) cost more than the copy."""
    cdef Py_ssize_t q
    for q in range(0, n - 8, 8):
        copy_eight(dst + q, src + q)
    copy_eight(dst + n - 8, src + n - 8)


cdef inline void windows_plane(floating* image, floating* cols, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                               Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                               Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t row_step,
                               bint add) noexcept nogil:
    """an H x W image and its windows, cols (KH, KW, OH, OW), kernel positions row_step apart
    in cols (OH OW where nothing lies between them): window (oh, ow)'s kernel
    position (i, j) reads row oh sh + i dh - ph and column ow sw + j dw - pw (ph rows and pw
    columns of padding before the image, as many after as the windows reach). The values
    copied out of the image, zeros where they fall in the padding; or, with add, the windows'
    values added into the image, one kernel position at a time in order (col2im's sums), the
    padding's dropped."""
    cdef Py_ssize_t i, j, oh, ow, lo, hi, row, offset, start
    cdef floating* col
    for i in range(KH):
        for j in range(KW):
            # the windows whose column for j falls inside the image: lo <= ow < hi
            offset = j * dw - pw
            lo = min(first_inside(offset, sw), OW)
            hi = max(lo, OW - first_inside(W - 1 - offset - (OW - 1) * sw, sw))
            for oh in range(OH):
                row = oh * sh + i * dh - ph
                col = cols + (i * KW + j) * row_step + oh * OW
                if row < 0 or row >= H:
                    if not add:
                        for ow in range(OW):
                            col[ow] = 0
                    continue
                start = row * W + j * dw - pw       # the image's index of column ow = 0
                if add and sw == 1:
                    for ow in range(lo, hi):
                        image[start + ow] += col[ow]
                elif add:
                    for ow in range(lo, hi):
                        image[start + ow * sw] += col[ow]
                else:
                    for ow in range(lo):
                        col[ow] = 0
                    if sw == 1 and hi - lo >= 8:
                        copy_row(col + lo, image + start + lo, hi - lo)
                    elif sw == 1:
                        for ow in range(lo, hi):
                            col[ow] = image[start + ow]
                    elif sw == 2:           # (a constant step: the compiler vectorises it)
                        for ow in range(lo, hi):
                            col[ow] = image[start + 2 * ow]
                    else:
                        for ow in range(lo, hi):
                            col[ow] = image[start + ow * sw]
                    for ow in range(hi, OW):
                        col[ow] = 0


# ---- the same windows as long runs, where each plane is OW values wide ------------------------
# windows_plane copies a row of OW at a time: on small outputs (8 x 8, stride 2) each row's
# bounds and zeros cost more than its copy. Where a plane's rows are OW values apart, the
# windows of one kernel position over all output rows are one run of the plane, shifted: one
# copy, then zeros where a window's column falls outside. A stride s maps onto stride 1 by
# taking the image's s_h s_w phases (rows a, a + s_h, ...; columns b, b + s_w, ...) apart first,
# each at a pitch of OW: kernel position (i, j) reads one phase, shifted.

cdef inline Py_ssize_t _floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a // b rounded down, for b > 0 (C's division rounds towards zero)"""
    return a // b if a >= 0 else -((-a + b - 1) // b)


cdef inline bint runs_fit(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t sw) noexcept nogil:
    """whether windows_runs takes these windows: the widest phase, ceil(W / sw), fits in OW"""
    return (W + sw - 1) // sw <= OW


cdef inline Py_ssize_t runs_phase_rows(Py_ssize_t rows, Py_ssize_t KH, Py_ssize_t dh,
                                       Py_ssize_t sh, Py_ssize_t H) noexcept nogil:
    """rows of each phase windows_runs keeps, at most, for `rows` output rows of an image of
    H rows: those the windows reach, but no more than the phase has (a large dilation reaches
    far past the image)"""
    return min(rows + ((KH - 1) * dh + sh - 1) // sh, (H + sh - 1) // sh)


cdef inline void _zero_edges(floating* col, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t clo,
                             Py_ssize_t chi, Py_ssize_t OW) noexcept nogil:
    """col's rows lo to hi (of OW): zeros outside the columns clo to chi"""
    cdef Py_ssize_t oh, ow
    for oh in range(lo, hi):
        for ow in range(clo):
            col[oh * OW + ow] = 0
        for ow in range(chi, OW):
            col[oh * OW + ow] = 0


cdef inline void _shifted_run(floating* plane, floating* col, Py_ssize_t PH, Py_ssize_t PW,
                              Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t roff, Py_ssize_t coff,
                              bint add) noexcept nogil:
    """col (OH x OW) and a plane of PH rows of PW <= OW values, OW apart: col[oh, ow] is
    plane[oh + roff, ow + coff] where that lies inside the plane, copied out (zeros
    elsewhere); or with add, col's values added into the plane (those outside dropped: they
    are zeroed first, in col, which is the caller's scratch). The rows lo to hi and columns
    clo to chi lie inside; between them, one run: source[k] is col[k]'s place."""
    cdef Py_ssize_t lo = min(max(-roff, 0), OH), hi = min(max(PH - roff, lo), OH)
    cdef Py_ssize_t clo = min(max(-coff, 0), OW), chi = min(max(PW - coff, clo), OW)
    cdef Py_ssize_t k, first = lo * OW + clo, last = (hi - 1) * OW + chi
    cdef floating* source = plane + roff * OW + coff
    cdef bint inside = hi > lo and chi > clo
    if add:
        if inside:
            _zero_edges(col, lo, hi, clo, chi, OW)
            for k in range(first, last):
                source[k] += col[k]
        return
    for k in range(lo * OW):
        col[k] = 0
    for k in range(hi * OW, OH * OW):
        col[k] = 0
    if inside:
        for k in range(first, last):
            col[k] = source[k]
    _zero_edges(col, lo, hi, clo, chi, OW)


cdef inline void _phase_line(floating* line, floating* phase, Py_ssize_t width, Py_ssize_t sw,
                             bint back) noexcept nogil:
    """phase[u] = line[u sw] for u < width (an image row's part in a phase), or with back,
    line[u sw] += phase[u]; steps 1 and 2 as constants, which the compiler vectorises"""
    cdef Py_ssize_t u
    if sw == 1:
        for u in range(width):
            if back:
                line[u] += phase[u]
            else:
                phase[u] = line[u]
    elif sw == 2:
        for u in range(width):
            if back:
                line[2 * u] += phase[u]
            else:
                phase[u] = line[2 * u]
    else:
        for u in range(width):
            if back:
                line[u * sw] += phase[u]
            else:
                phase[u] = line[u * sw]


cdef inline void windows_runs(floating* image, floating* cols, floating* phases, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH,
                              Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t row_step,
                              bint add) noexcept nogil:
    """windows_plane's windows (the same arguments; ph may be negative: a band of output
    rows further down) where runs_fit(W, OW, sw), as a run per kernel position. phases is
    scratch for sh sw runs_phase_rows(OH, KH, dh, sh, H) OW values, unused where the image is
    its own phase (stride 1, W == OW). With add, the windows' sums (one kernel position at a
    time, in order) are made in the phases, then added into the image."""
    cdef bint own = sh == 1 and sw == 1 and W == OW
    # the phases' rows kept: t0 <= t < t1, those the band's windows reach that the image has
    cdef Py_ssize_t t0 = 0 if own else max(0, _floor_div(-ph, sh))
    cdef Py_ssize_t t1 = H if own else min(OH + _floor_div((KH - 1) * dh - ph, sh),
                                           (H + sh - 1) // sh)
    cdef Py_ssize_t size = max(0, t1 - t0) * OW     # one phase's values
    cdef Py_ssize_t i, j, a, b, q, r, t, u, rows_a, width_b, k
    cdef floating* phase
    if not own:
        for a in range(sh):
            rows_a = min((H - a + sh - 1) // sh, t1)
            for b in range(sw):
                width_b = (W - b + sw - 1) // sw
                phase = phases + (a * sw + b) * size
                if add:
                    for k in range(size):
                        phase[k] = 0
                    continue
                for t in range(t0, rows_a):
                    for u in range(width_b, OW):        # (read, then zeroed in the windows)
                        phase[(t - t0) * OW + u] = 0
                    _phase_line(image + (a + t * sh) * W + b, phase + (t - t0) * OW, width_b,
                                sw, False)
    for i in range(KH):
        q = i * dh - ph
        a = q - _floor_div(q, sh) * sh              # the phase's row, and its shift
        rows_a = H if own else max(0, min((H - a + sh - 1) // sh, t1) - t0)
        for j in range(KW):
            r = j * dw - pw
            b = r - _floor_div(r, sw) * sw
            _shifted_run(image if own else phases + (a * sw + b) * size,
                         cols + (i * KW + j) * row_step, rows_a, (W - b + sw - 1) // sw,
                         OH, OW, _floor_div(q, sh) - t0, _floor_div(r, sw), add)
    if add and not own:
        for a in range(sh):
            rows_a = min((H - a + sh - 1) // sh, t1)
            for b in range(sw):
                width_b = (W - b + sw - 1) // sw
                phase = phases + (a * sw + b) * size
                for t in range(t0, rows_a):
                    _phase_line(image + (a + t * sh) * W + b, phase + (t - t0) * OW, width_b,
                                sw, True)



# ---- narrow outputs: the windows through a table of indices -----------------------------------
# Under RUNS_MIN output columns a row of windows is a few values, and windows_plane's bounds
# per row cost more than its copy. Every plane of a piece has the same geometry, so the plane
# index each window's kernel position reads (or -1 in the padding) is worked out once, in a
# table, and each plane's windows are a gather through it, or a scatter adding them back.
# (GCC's generic tuning emits no gather instructions: with restrict and a Zen 3 tuning it did,
# at the same speed.)

cdef inline void windows_table(int* table, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KH,
                               Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph,
                               Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t sh,
                               Py_ssize_t sw) noexcept nogil:
    """table (KH KW x OH OW): the index in an H x W plane that each window's kernel position
    reads, -1 where it falls in the padding (windows_plane's geometry; H W < 2**31)"""
    cdef Py_ssize_t i, j, oh, ow, row, column
    cdef int* t
    for i in range(KH):
        for j in range(KW):
            t = table + (i * KW + j) * OH * OW
            for oh in range(OH):
                row = oh * sh + i * dh - ph
                for ow in range(OW):
                    column = ow * sw + j * dw - pw
                    t[oh * OW + ow] = (<int> (row * W + column)
                                       if 0 <= row < H and 0 <= column < W else -1)


cdef inline void windows_indexed(floating* image, floating* cols, const int* table,
                                 Py_ssize_t K, Py_ssize_t L, Py_ssize_t row_step,
                                 bint add) noexcept nogil:
    """cols (K kernel positions' rows of L windows, row_step apart) = the image's values at
    table's indices, zeros at -1; or with add, added into the image there (those at -1
    dropped), one kernel position at a time in order"""
    cdef Py_ssize_t k, l
    cdef floating zero = 0
    cdef floating* col
    cdef const int* t
    for k in range(K):
        col = cols + k * row_step
        t = table + k * L
        for l in range(L):
            if add and t[l] >= 0:
                image[t[l]] += col[l]
            elif not add:
                col[l] = image[t[l]] if t[l] >= 0 else zero
