"""Binary elementwise kernels (add, sub, mul, div, maximum, minimum) on a 2-D grid.

The Python adapter collapses a broadcast a op b into O planes of an R x C grid: on a plane,
each operand is FULL (indexed r*C + c), ROW (one row, index c: a bias), COL (one column,
index r) or SCALAR; across planes it either varies (its plane follows the one before) or is
the same for every plane (an attention mask of shape (N, 1, L) against (N, H, L) varies; a
channel's scale against (N, C, H*W) does not). The backward writes a FULL operand's gradient
elementwise and reduces a broadcast operand's gradient in the same pass, through fixed-size
task partials added in task order: no full-size temporary, and the same bits for any thread
count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fma
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel

import numpy as np

link_thread_count()

ctypedef struct OpAdd:
    char tag
ctypedef struct OpSub:
    char tag
ctypedef struct OpMul:
    char tag
ctypedef struct OpDiv:
    char tag
ctypedef struct OpMax:
    char tag
ctypedef struct OpMin:
    char tag

# a compile-time template parameter: each op gets its own specialised, vectorisable loops
ctypedef fused binop:
    OpAdd
    OpSub
    OpMul
    OpDiv
    OpMax
    OpMin

cpdef enum:
    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3
    MAXIMUM = 4
    MINIMUM = 5

cpdef enum:
    FULL = 0
    ROW = 1
    COL = 2
    SCALAR = 3

cdef enum:
    TASK = 65536      # elements per parallel task: fixed, so partial sums never depend on threads
    SEG = 2048        # a row segment: both gradients' loops reread it from L1
    SET = 0
    ADDTO = 1
    SUM = 2
    START = 3         # SET, plus 0: a sum's first term (-0 + 0 = +0, as NumPy's sums start)


def grid(tuple shape, list arrays):
    """(O, R, C, modes, outer): shape seen as O planes of an R x C grid, each array's mode on
    a plane (FULL, ROW, COL or SCALAR), and whether it varies from plane to plane (arrays:
    anything with a shape, the only thing read, broadcasting to shape). Dims where every
    array agrees on broadcast-or-not merge into one grid dimension; None if more than three
    remain (O = 1 below three). Every broadcast a op b and its backward ask this (3.3 us in Python, a third
    of a 262144-element add's overhead)."""
    cdef Py_ssize_t nd = len(shape), na = len(arrays), i, j, k, n
    cdef Py_ssize_t sizes[3]
    cdef int pats[3]
    cdef int count = 0, pat, on_r, on_c
    cdef tuple s
    cdef list shapes = [x.shape for x in arrays]
    if na > 16:
        raise ValueError(f"grid takes at most 16 arrays, got {na}")
    for i in range(nd):
        n = shape[i]
        if n == 1:
            continue
        pat = 0
        for j in range(na):
            s = <tuple> shapes[j]
            k = i - nd + len(s)
            if k >= 0 and s[k] != 1:
                pat |= 1 << j
        if count and pats[count - 1] == pat:
            sizes[count - 1] *= n
        elif count == 3:
            return None
        else:
            sizes[count], pats[count] = n, pat
            count += 1
    for i in range(count - 1, -1, -1):             # right-align: O and R default to 1 x -1
        sizes[i + 3 - count], pats[i + 3 - count] = sizes[i], pats[i]
    for i in range(3 - count):
        sizes[i], pats[i] = 1, -1
    modes, outer = [], []
    for j in range(na):
        on_r, on_c = pats[1] >> j & 1, pats[2] >> j & 1
        modes.append(FULL if on_r and on_c else ROW if on_c else COL if on_r else SCALAR)
        outer.append(bool(pats[0] >> j & 1))
    return sizes[0], sizes[1], sizes[2], modes, outer


cdef inline floating _f(binop* t, floating x, floating y) noexcept nogil:
    """x op y, as NumPy computes it (maximum/minimum propagate NaN)"""
    if binop is OpAdd:
        return x + y
    elif binop is OpSub:
        return x - y
    elif binop is OpMul:
        return x * y
    elif binop is OpDiv:
        return x / y
    elif binop is OpMax:
        # `|`, not `or`: the short circuit's branch kept GCC from vectorising (6.7x slower)
        return x if (x > y) | (x != x) else y
    else:
        return x if (x < y) | (x != x) else y


cdef inline floating _da(binop* t, floating g, floating x, floating y) noexcept nogil:
    """d(x op y)/dx * g, in NumpyKernels' operation order; maximum / minimum: halves on ties,
    0 to the losing side, all of g where x or y is NaN (PyTorch's rule)"""
    cdef floating zero = 0, half = 0.5
    if binop is OpAdd or binop is OpSub:
        return g
    elif binop is OpMul:
        return g * y
    elif binop is OpDiv:
        return g / y
    elif binop is OpMax:
        return g * half if x == y else (zero if x < y else g)
    else:
        return g * half if x == y else (zero if x > y else g)


cdef inline floating _db(binop* t, floating g, floating x, floating y) noexcept nogil:
    """d(x op y)/dy * g, in NumpyKernels' operation order"""
    cdef floating zero = 0, half = 0.5
    if binop is OpAdd:
        return g
    elif binop is OpSub:
        return -g
    elif binop is OpMul:
        return g * x
    elif binop is OpDiv:
        return -g * ((x / y) / y)     # PyTorch's order: x / y**2 over/underflows
    elif binop is OpMax:
        return g * half if x == y else (zero if y < x else g)
    else:
        return g * half if x == y else (zero if y > x else g)


# ---- forward -----------------------------------------------------------------------------------
cdef inline void _fwd_seg(binop* t, const floating* x, Py_ssize_t sx, const floating* y,
                          Py_ssize_t sy, floating* out, Py_ssize_t n) noexcept nogil:
    # called with literal strides 0/1: once inlined, each call is its own vectorised loop
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = _f(t, x[i * sx], y[i * sy])


cdef inline const floating* _at(const floating* p, int mode, Py_ssize_t r, Py_ssize_t c,
                                Py_ssize_t C) noexcept nogil:
    if mode == FULL:
        return p + r * C + c
    elif mode == ROW:
        return p + c
    elif mode == COL:
        return p + r
    return p


cdef void _fwd_task(binop* t, Py_ssize_t task, const floating* x, int xm, const floating* y,
                    int ym, floating* out, Py_ssize_t R, Py_ssize_t C, Py_ssize_t RB,
                    Py_ssize_t CC, Py_ssize_t ncc) noexcept nogil:
    cdef Py_ssize_t r, r0 = (task // ncc) * RB, c0 = (task % ncc) * CC
    cdef Py_ssize_t r1 = min(R, r0 + RB), n = min(C, c0 + CC) - c0
    cdef bint ux = xm == FULL or xm == ROW, uy = ym == FULL or ym == ROW
    cdef const floating* xp
    cdef const floating* yp
    for r in range(r0, r1):
        xp = _at(x, xm, r, c0, C)
        yp = _at(y, ym, r, c0, C)
        if ux and uy:
            _fwd_seg(t, xp, 1, yp, 1, out + r * C + c0, n)
        elif uy:
            _fwd_seg(t, xp, 0, yp, 1, out + r * C + c0, n)
        elif ux:
            _fwd_seg(t, xp, 1, yp, 0, out + r * C + c0, n)
        else:
            _fwd_seg(t, xp, 0, yp, 0, out + r * C + c0, n)


cdef void _fwd(binop* t, const floating* x, int xm, Py_ssize_t xs, const floating* y, int ym,
               Py_ssize_t ys, floating* out, Py_ssize_t O, Py_ssize_t R,
               Py_ssize_t C) noexcept nogil:
    """xs, ys: how far x and y move from one plane to the next (0: the same for every plane)"""
    cdef Py_ssize_t CC = min(C, <Py_ssize_t> TASK), RB = max(1, TASK // CC)
    cdef Py_ssize_t ncc = (C + CC - 1) // CC, per_plane = ((R + RB - 1) // RB) * ncc
    cdef Py_ssize_t ntask = O * per_plane, task
    if ntask > 1 and parallel(O * R * C):
        for task in prange(ntask, schedule="static", num_threads=cgrad_threads()):
            _fwd_plane_task(t, task, per_plane, x, xm, xs, y, ym, ys, out, R, C, RB, CC, ncc)
    else:
        for task in range(ntask):
            _fwd_plane_task(t, task, per_plane, x, xm, xs, y, ym, ys, out, R, C, RB, CC, ncc)


cdef inline void _fwd_plane_task(binop* t, Py_ssize_t task, Py_ssize_t per_plane,
                                 const floating* x, int xm, Py_ssize_t xs, const floating* y,
                                 int ym, Py_ssize_t ys, floating* out, Py_ssize_t R,
                                 Py_ssize_t C, Py_ssize_t RB, Py_ssize_t CC,
                                 Py_ssize_t ncc) noexcept nogil:
    """_fwd_task for task of the whole grid: its plane o's pointers, its task on the plane"""
    cdef Py_ssize_t o = task // per_plane
    _fwd_task(t, task - o * per_plane, x + o * xs, xm, y + o * ys, ym, out + o * R * C, R, C,
              RB, CC, ncc)


cdef Py_ssize_t _length(int mode, Py_ssize_t R, Py_ssize_t C) noexcept nogil:
    """An operand's elements on one R x C plane"""
    return R * C if mode == FULL else C if mode == ROW else R if mode == COL else 1


cdef Py_ssize_t _check(Py_ssize_t n, int mode, bint outer, Py_ssize_t O, Py_ssize_t R,
                       Py_ssize_t C, str name) except -1:
    """How far the operand moves from plane to plane, after checking its length"""
    if mode < FULL or mode > SCALAR:
        raise ValueError(f"{name}: unknown broadcast mode {mode}")
    cdef Py_ssize_t want = _length(mode, R, C) * (O if outer else 1)
    if n != want:
        raise ValueError(f"{name} has {n} elements, expected {want} for {O} planes of an "
                         f"{R}x{C} grid in mode {mode}" + ("" if outer else ", one plane"))
    return _length(mode, R, C) if outer else 0


def binary_(int op, const floating[::1] x, int xm, const floating[::1] y, int ym,
            floating[::1] out, Py_ssize_t R, Py_ssize_t C, Py_ssize_t O=1,
            bint x_outer=True, bint y_outer=True):
    """out[o, r, c] = x[o, r, c] op y[o, r, c] over O planes of an R x C grid, x and y
    indexed by their modes on a plane; x_outer / y_outer false: one plane, read for every o"""
    if O < 0:
        raise ValueError(f"{O} planes")
    cdef Py_ssize_t xs = _check(x.shape[0], xm, x_outer, O, R, C, "x")
    cdef Py_ssize_t ys = _check(y.shape[0], ym, y_outer, O, R, C, "y")
    _check(out.shape[0], FULL, True, O, R, C, "out")
    if op < ADD or op > MINIMUM:
        raise ValueError(f"unknown binary op {op}")
    if O * R * C == 0:
        return
    cdef const floating* xp = &x[0]
    cdef const floating* yp = &y[0]
    cdef floating* op_ = &out[0]
    with nogil:
        if op == ADD:
            _fwd(<OpAdd*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)
        elif op == SUB:
            _fwd(<OpSub*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)
        elif op == MUL:
            _fwd(<OpMul*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)
        elif op == DIV:
            _fwd(<OpDiv*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)
        elif op == MAXIMUM:
            _fwd(<OpMax*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)
        else:
            _fwd(<OpMin*> NULL, xp, xm, xs, yp, ym, ys, op_, O, R, C)


# ---- backward ----------------------------------------------------------------------------------
cdef inline floating _seg(binop* t, bint side_b, int kind, floating* d, const floating* g,
                          const floating* x, Py_ssize_t sx, const floating* y, Py_ssize_t sy,
                          Py_ssize_t n) noexcept nogil:
    """One gradient over a row segment: d[i] = term (SET), 0 + term (START), d[i] += term
    (ADDTO), or return the segment's sum of terms (SUM, eight running sums: one add chain
    would wait on the add latency)."""
    cdef Py_ssize_t i
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    if kind == START:
        for i in range(n):
            d[i] = s0 + (_db(t, g[i], x[i * sx], y[i * sy]) if side_b
                         else _da(t, g[i], x[i * sx], y[i * sy]))
        return s0
    if kind == SET:
        for i in range(n):
            d[i] = (_db(t, g[i], x[i * sx], y[i * sy]) if side_b
                    else _da(t, g[i], x[i * sx], y[i * sy]))
        return s0
    if kind == ADDTO:
        for i in range(n):
            d[i] += (_db(t, g[i], x[i * sx], y[i * sy]) if side_b
                     else _da(t, g[i], x[i * sx], y[i * sy]))
        return s0
    i = 0
    while i + 8 <= n:
        if side_b:
            s0 = s0 + _db(t, g[i], x[i * sx], y[i * sy])
            s1 = s1 + _db(t, g[i + 1], x[(i + 1) * sx], y[(i + 1) * sy])
            s2 = s2 + _db(t, g[i + 2], x[(i + 2) * sx], y[(i + 2) * sy])
            s3 = s3 + _db(t, g[i + 3], x[(i + 3) * sx], y[(i + 3) * sy])
            s4 = s4 + _db(t, g[i + 4], x[(i + 4) * sx], y[(i + 4) * sy])
            s5 = s5 + _db(t, g[i + 5], x[(i + 5) * sx], y[(i + 5) * sy])
            s6 = s6 + _db(t, g[i + 6], x[(i + 6) * sx], y[(i + 6) * sy])
            s7 = s7 + _db(t, g[i + 7], x[(i + 7) * sx], y[(i + 7) * sy])
        else:
            s0 = s0 + _da(t, g[i], x[i * sx], y[i * sy])
            s1 = s1 + _da(t, g[i + 1], x[(i + 1) * sx], y[(i + 1) * sy])
            s2 = s2 + _da(t, g[i + 2], x[(i + 2) * sx], y[(i + 2) * sy])
            s3 = s3 + _da(t, g[i + 3], x[(i + 3) * sx], y[(i + 3) * sy])
            s4 = s4 + _da(t, g[i + 4], x[(i + 4) * sx], y[(i + 4) * sy])
            s5 = s5 + _da(t, g[i + 5], x[(i + 5) * sx], y[(i + 5) * sy])
            s6 = s6 + _da(t, g[i + 6], x[(i + 6) * sx], y[(i + 6) * sy])
            s7 = s7 + _da(t, g[i + 7], x[(i + 7) * sx], y[(i + 7) * sy])
        i = i + 8
    while i < n:
        s0 = s0 + (_db(t, g[i], x[i * sx], y[i * sy]) if side_b
                   else _da(t, g[i], x[i * sx], y[i * sy]))
        i = i + 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


cdef inline floating _seg_strided(binop* t, bint side_b, int kind, floating* d,
                                  const floating* g, const floating* x, bint ux,
                                  const floating* y, bint uy, Py_ssize_t n) noexcept nogil:
    # literal strides, so that each branch inlines into its own vectorised loop
    if ux and uy:
        return _seg(t, side_b, kind, d, g, x, 1, y, 1, n)
    elif uy:
        return _seg(t, side_b, kind, d, g, x, 0, y, 1, n)
    else:
        return _seg(t, side_b, kind, d, g, x, 1, y, 0, n)


cdef inline void _grad_seg(binop* t, bint side_b, int mode, bint add, floating* grad,
                           floating* part, Py_ssize_t task, Py_ssize_t r, Py_ssize_t r0,
                           Py_ssize_t s, Py_ssize_t C, Py_ssize_t cc, Py_ssize_t R,
                           Py_ssize_t rb, const floating* g, const floating* xp, bint ux,
                           const floating* yp, bint uy, Py_ssize_t n) noexcept nogil:
    """Route one segment's gradient to its place: the gradient itself (FULL), the task's
    partial row (ROW), the partial sum of row r (COL) or of the task (SCALAR)."""
    if mode == FULL:
        _seg_strided(t, side_b, ADDTO if add else SET, grad + r * C + s, g, xp, ux, yp, uy,
                     n)
    elif mode == ROW:
        _seg_strided(t, side_b, ADDTO if r > r0 else START, part + rb * C + s, g, xp, ux, yp,
                     uy, n)
    elif mode == COL:
        part[cc * R + r] += _seg_strided(t, side_b, SUM, NULL, g, xp, ux, yp, uy, n)
    else:
        part[task] += _seg_strided(t, side_b, SUM, NULL, g, xp, ux, yp, uy, n)


cdef void _bwd_task(binop* t, Py_ssize_t task, const floating* x, int xm, const floating* y,
                    int ym, const floating* g, floating* ga, floating* gb,
                    bint need_a, bint need_b, bint add_a, bint add_b, floating* pa,
                    floating* pb, Py_ssize_t R, Py_ssize_t C, Py_ssize_t RB, Py_ssize_t CC,
                    Py_ssize_t ncc) noexcept nogil:
    cdef Py_ssize_t rb = task // ncc, cc = task % ncc
    cdef Py_ssize_t r, r0 = rb * RB, c0 = cc * CC, s, n
    cdef Py_ssize_t r1 = min(R, r0 + RB), c1 = min(C, c0 + CC)
    cdef bint ux = xm == FULL or xm == ROW, uy = ym == FULL or ym == ROW
    cdef floating zero = 0
    if need_a and xm == SCALAR:
        pa[task] = zero
    if need_b and ym == SCALAR:
        pb[task] = zero
    for r in range(r0, r1):
        if need_a and xm == COL:
            pa[cc * R + r] = zero
        if need_b and ym == COL:
            pb[cc * R + r] = zero
        s = c0
        while s < c1:
            n = min(<Py_ssize_t> SEG, c1 - s)
            if need_a:
                _grad_seg(t, False, xm, add_a, ga, pa, task, r, r0, s, C, cc, R, rb,
                          g + r * C + s, _at(x, xm, r, s, C), ux, _at(y, ym, r, s, C), uy, n)
            if need_b:
                _grad_seg(t, True, ym, add_b, gb, pb, task, r, r0, s, C, cc, R, rb,
                          g + r * C + s, _at(x, xm, r, s, C), ux, _at(y, ym, r, s, C), uy, n)
            s = s + n


cdef void _combine(floating* grad, bint add, floating* part, Py_ssize_t nparts,
                   Py_ssize_t n) noexcept nogil:
    """grad[j] (+)= part[0, j] + part[1, j] + ... in part order, for j < n. The parts are
    added row after row into part[0]: one contiguous pass each (summed column by column, the
    loop strode through the buffer: a 4096 x 4096 column sum took 4.6 ms against NumPy's
    2.0), and every j still adds its parts in part order, so the same bits."""
    cdef Py_ssize_t j, k
    cdef const floating* p
    for k in range(1, nparts):
        p = part + k * n
        for j in range(n):
            part[j] = part[j] + p[j]
    for j in range(n):
        grad[j] = grad[j] + part[j] if add else part[j]


cdef Py_ssize_t _nparts(int mode, Py_ssize_t R, Py_ssize_t C, Py_ssize_t nrb,
                        Py_ssize_t ncc) noexcept nogil:
    """Size of the partial-sum buffer a broadcast operand's gradient needs."""
    if mode == ROW:
        return nrb * C
    elif mode == COL:
        return ncc * R
    elif mode == SCALAR:
        return nrb * ncc
    return 0


cdef void _bwd(binop* t, const floating* x, int xm, Py_ssize_t xs, const floating* y, int ym,
               Py_ssize_t ys, const floating* g, floating* ga, floating* gb, bint need_a,
               bint need_b, bint add_a, bint add_b, floating* pa, floating* pb, Py_ssize_t O,
               Py_ssize_t R, Py_ssize_t C) noexcept nogil:
    """xs, ys: as in _fwd. pa / pb: _parts(...) floats each, for the partial sums of a
    broadcast operand's gradient: each plane has its own, summed per plane for an operand that
    varies across planes, else over all planes."""
    cdef Py_ssize_t CC = min(C, <Py_ssize_t> TASK), RB = max(1, TASK // CC)
    cdef Py_ssize_t ncc = (C + CC - 1) // CC, nrb = (R + RB - 1) // RB
    cdef Py_ssize_t per_plane = nrb * ncc, ntask = O * per_plane, task
    cdef Py_ssize_t na = _nparts(xm, R, C, nrb, ncc) if need_a else 0   # per plane
    cdef Py_ssize_t nb = _nparts(ym, R, C, nrb, ncc) if need_b else 0
    if ntask > 1 and parallel(O * R * C):
        for task in prange(ntask, schedule="static", num_threads=cgrad_threads()):
            _bwd_plane_task(t, task, per_plane, x, xm, xs, y, ym, ys, g, ga, gb, need_a,
                            need_b, add_a, add_b, pa, na, pb, nb, R, C, RB, CC, ncc)
    else:
        for task in range(ntask):
            _bwd_plane_task(t, task, per_plane, x, xm, xs, y, ym, ys, g, ga, gb, need_a,
                            need_b, add_a, add_b, pa, na, pb, nb, R, C, RB, CC, ncc)
    if na:
        _combine_planes(ga, add_a, pa, na, _length(xm, R, C), O, xs != 0)
    if nb:
        _combine_planes(gb, add_b, pb, nb, _length(ym, R, C), O, ys != 0)


cdef inline void _bwd_plane_task(binop* t, Py_ssize_t task, Py_ssize_t per_plane,
                                 const floating* x, int xm, Py_ssize_t xs, const floating* y,
                                 int ym, Py_ssize_t ys, const floating* g, floating* ga,
                                 floating* gb, bint need_a, bint need_b, bint add_a,
                                 bint add_b, floating* pa, Py_ssize_t na, floating* pb,
                                 Py_ssize_t nb, Py_ssize_t R, Py_ssize_t C, Py_ssize_t RB,
                                 Py_ssize_t CC, Py_ssize_t ncc) noexcept nogil:
    """_bwd_task for task of the whole grid: its plane o's pointers (partials: na, nb a
    plane), its task on the plane"""
    cdef Py_ssize_t o = task // per_plane
    _bwd_task(t, task - o * per_plane, x + o * xs, xm, y + o * ys, ym, g + o * R * C,
              ga + o * xs if need_a else NULL, gb + o * ys if need_b else NULL, need_a, need_b,
              add_a, add_b, pa + o * na, pb + o * nb, R, C, RB, CC, ncc)


cdef void _combine_planes(floating* grad, bint add, floating* part, Py_ssize_t per_plane,
                          Py_ssize_t n, Py_ssize_t O, bint outer) noexcept nogil:
    """A broadcast operand's gradient from its partials, per_plane floats for each of O
    planes: plane o's into grad[o] (outer), or all planes' into grad, in plane order."""
    cdef Py_ssize_t o
    if outer:
        for o in range(O):
            _combine(grad + o * n, add, part + o * per_plane, per_plane // n, n)
    else:
        _combine(grad, add, part, O * per_plane // n, n)


cdef Py_ssize_t _parts(int mode, Py_ssize_t O, Py_ssize_t R, Py_ssize_t C) noexcept nogil:
    """How many partial sums _bwd needs for a gradient of this mode over O R x C planes."""
    cdef Py_ssize_t CC = min(C, <Py_ssize_t> TASK), RB = max(1, TASK // CC)
    return O * _nparts(mode, R, C, (R + RB - 1) // RB, (C + CC - 1) // CC)


def binary_backward_(int op, const floating[::1] x, int xm, const floating[::1] y, int ym,
                     const floating[::1] g, floating[::1] ga,
                     floating[::1] gb, bint need_a, bint need_b, bint add_a, bint add_b,
                     Py_ssize_t R, Py_ssize_t C, Py_ssize_t O=1, bint x_outer=True,
                     bint y_outer=True):
    """ga (+)= dL/dx and gb (+)= dL/dy for out = x op y over O planes of an R x C grid (see
    binary_), one pass over g: a gradient of a broadcast operand (mode ROW, COL or SCALAR, or
    one plane for all) is reduced on the way. An unneeded gradient may be any writeable
    1-element buffer."""
    if O < 0:
        raise ValueError(f"{O} planes")
    cdef Py_ssize_t xs = _check(x.shape[0], xm, x_outer, O, R, C, "x")
    cdef Py_ssize_t ys = _check(y.shape[0], ym, y_outer, O, R, C, "y")
    _check(g.shape[0], FULL, True, O, R, C, "g")
    if need_a:
        _check(ga.shape[0], xm, x_outer, O, R, C, "ga")
    if need_b:
        _check(gb.shape[0], ym, y_outer, O, R, C, "gb")
    if op < ADD or op > MINIMUM:
        raise ValueError(f"unknown binary op {op}")
    for need, mode, outer, name in ((need_a, xm, x_outer, "ga"), (need_b, ym, y_outer, "gb")):
        if need and mode == FULL and not outer and O > 1:
            raise ValueError(f"{name}: a FULL plane shared by {O} planes has no one-pass "
                             f"gradient")
    if O * R * C == 0 or not (need_a or need_b):
        if need_a and not add_a and ga.shape[0]:
            ga[:] = 0        # a sum over nothing
        if need_b and not add_b and gb.shape[0]:
            gb[:] = 0
        return
    cdef const floating* xp = &x[0]
    cdef const floating* yp = &y[0]
    cdef const floating* gp = &g[0]
    cdef floating* gap = &ga[0] if need_a else NULL
    cdef floating* gbp = &gb[0] if need_b else NULL
    # the partial sums in NumPy buffers: the buffer cache hands the same pages back call
    # after call (a fresh 4 MB malloc for a 4096 x 4096 column sum spent 0.7 ms zeroing pages)
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] parts_a = np.empty(_parts(xm, O, R, C) if need_a else 0, dtype)
    cdef floating[::1] parts_b = np.empty(_parts(ym, O, R, C) if need_b else 0, dtype)
    cdef floating* pa = &parts_a[0] if parts_a.shape[0] else NULL
    cdef floating* pb = &parts_b[0] if parts_b.shape[0] else NULL
    with nogil:
        if op == ADD:
            _bwd(<OpAdd*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)
        elif op == SUB:
            _bwd(<OpSub*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)
        elif op == MUL:
            _bwd(<OpMul*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)
        elif op == DIV:
            _bwd(<OpDiv*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)
        elif op == MAXIMUM:
            _bwd(<OpMax*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)
        else:
            _bwd(<OpMin*> NULL, xp, xm, xs, yp, ym, ys, gp, gap, gbp, need_a, need_b, add_a,
                 add_b, pa, pb, O, R, C)


# ---- lerp: x + w (end - x), w one number ----------------------------------------------------
cdef enum:
    LERP_BLOCK = 16384      # elements per parallel block


cdef inline floating _fma_wide(floating a, floating b, floating c) noexcept nogil:
    """a * b + c rounded once to the dtype, as NumpyKernels.fma: float32 through double,
    where the product is exact (the same bits on every build, with or without FMA
    instructions); float64 by fma (an instruction in the wide builds, libm's in the
    baseline one: exact either way)"""
    if floating is float:
        return <float> (<double> a * <double> b + <double> c)
    else:
        return fma(a, b, c)


cdef void _lerp_or_fma_block(bint lerp, floating s, const floating* p, const floating* q,
                             floating* out, Py_ssize_t n) noexcept nogil:
    """lerp (p = x, q = end, s = w): PyTorch's two forms, each exact at its own end and one
    fused multiply-add, as its vectorised loop: x + w (end - x) for |w| < 0.5, else end -
    (end - x)(1 - w); else fma: s p + q, add's and sub's alpha"""
    cdef Py_ssize_t i
    cdef floating rest = 1 - s
    if not lerp:
        for i in range(n):
            out[i] = _fma_wide(s, p[i], q[i])
    elif -0.5 < s < 0.5:
        for i in range(n):
            out[i] = _fma_wide(s, q[i] - p[i], p[i])
    else:
        for i in range(n):
            out[i] = _fma_wide(p[i] - q[i], rest, q[i])


cdef int _lerp_or_fma(bint lerp, double s, const floating[::1] p, const floating[::1] q,
                      floating[::1] out, str names) except -1:
    """_lerp_or_fma_block over p, q and out in one pass, blocks in parallel: s rounded from
    double to the dtype first (and 1 - s computed there), as PyTorch's (and NumpyKernels')"""
    cdef Py_ssize_t n = p.shape[0], nb, b, i
    if q.shape[0] != n or out.shape[0] != n:
        raise ValueError(f"{names} and out have {n}, {q.shape[0]} and {out.shape[0]} "
                         f"elements: expected one length")
    if n == 0:
        return 0
    nb = (n + LERP_BLOCK - 1) // LERP_BLOCK
    with nogil:
        if parallel(n):
            for b in prange(nb, schedule="static", num_threads=cgrad_threads()):
                i = b * LERP_BLOCK
                _lerp_or_fma_block(lerp, <floating> s, &p[i], &q[i], &out[i],
                                   min(<Py_ssize_t> LERP_BLOCK, n - i))
        else:
            _lerp_or_fma_block(lerp, <floating> s, &p[0], &q[0], &out[0], n)
    return 0


def lerp_(const floating[::1] x, const floating[::1] end, double w, floating[::1] out):
    """out = the linear interpolation from x to end at w, in one pass (NumpyKernels.lerp's
    bits)"""
    _lerp_or_fma(True, w, x, end, out, "x, end")


def fma_(double a, const floating[::1] y, const floating[::1] z, floating[::1] out):
    """out = a * y + z rounded once (_fma_wide: NumpyKernels.fma's bits), in one pass"""
    _lerp_or_fma(False, a, y, z, out, "y, z")
