"""Fused optimizer steps: one pass per parameter, reading p, g and the state and writing p and
the state. Each element goes through NumpyKernels' formula in the same operation order, with
hyperparameters rounded once to the parameter's dtype (as NumPy rounds `_scalar(x, p)`), so
the result is bit for bit NumPy's, and PyTorch's: where its single-tensor step rounds once
(add's alpha, addcmul, lerp), so do these, by fused multiply-adds (_fma: an instruction in the
AVX2 and AVX-512 builds, libm's exact fma in the baseline one; NumPy's _fma emulates it).
Callers pass C-contiguous 1-D views of one length and one dtype; arrays a step does not use
may be any 1-element array of that dtype."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fma, fmaf, sqrt, sqrtf
from cgrad._C._parallel cimport cgrad_threads, link_thread_count, parallel
from cgrad._C._vmath cimport cgrad_has_fma

link_thread_count()

cdef enum:
    BLOCK = 16384
    AHEAD = 2048              # how far ahead of the loop each array's lines are asked for

cdef extern from *:
    """
    #include <stdint.h>
    /* In the AVX2 and AVX-512 builds, the loops ask for each array's line AHEAD bytes on, for
       writing, once per line of elements (CGRAD_SPAN_BYTES). The hardware prefetchers alone
       left Adam's step over 10 x 10^6 float32 at 12.8 ms on the Xeon (AVX-512) host; with
       this, 11.3 (RMSprop and Adagrad ~10% faster too, SGD 2-4%). A burst of a whole chunk's
       lines at once did not help. The address is formed as an integer: it may lie past the
       array's end, where a prefetch does nothing (it never faults). The baseline build is
       bound by libm's fma calls, not by memory, and its loops ran 1.1-1.7x slower cut into
       lines: there one span is the whole block. */
    #if defined(__GNUC__) && defined(__AVX2__)
    #define CGRAD_PREFETCH_AHEAD(p, ahead) \\
        __builtin_prefetch((const void*) ((uintptr_t) (p) + (ahead)), 1, 3)
    #define CGRAD_SPAN_BYTES 64
    #else
    #define CGRAD_PREFETCH_AHEAD(p, ahead) ((void) 0)
    #define CGRAD_SPAN_BYTES (1 << 30)
    #endif
    """
    void CGRAD_PREFETCH_AHEAD(const void* p, Py_ssize_t ahead) noexcept nogil
    Py_ssize_t CGRAD_SPAN_BYTES


cdef inline void _prefetch(const void* a, const void* b, const void* c,
                           const void* d) noexcept nogil:
    """Ask for the line AHEAD bytes past each of a loop's arrays (one repeated where a loop
    has fewer)."""
    CGRAD_PREFETCH_AHEAD(a, AHEAD)
    CGRAD_PREFETCH_AHEAD(b, AHEAD)
    CGRAD_PREFETCH_AHEAD(c, AHEAD)
    CGRAD_PREFETCH_AHEAD(d, AHEAD)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _fma(floating a, floating b, floating c) noexcept nogil:
    if floating is float:
        return fmaf(a, b, c)
    else:
        return fma(a, b, c)


cdef inline floating _lerp(floating a, floating b, floating w, floating w1,
                          bint small) noexcept nogil:
    """lerp(a, b, w) by PyTorch's two-sided formula, each side one multiply-add (w1 = 1 - w;
    small: |w| < 0.5)"""
    return _fma(w, b - a, a) if small else _fma(a - b, w1, b)


cdef inline floating _div_by(floating a, floating b, floating inv_b) noexcept nogil:
    """a / b, the same bits, for a divisor b fixed over a loop and inv_b = 1 / b rounded.
    With FMA, q = a inv_b and the remainder a - q b, which one multiply-add gives exactly,
    correct q to the rounded quotient (Markstein's theorem; J.-M. Muller, "Accelerating
    floating-point division when the divisor is known in advance", 2002): a product and two
    multiply-adds in place of the divider, which Adam's square root and other division keep
    busy on Zen 1. Exact while the remainder is no subnormal (|a| above ~2**-102 in float32,
    ~2**-969 in float64) and q is finite. Checked against the division: every float32 a for 7
    divisors (extremes, all-ones significands, 0.7, sqrt(0.001)), a over [1, 2) for 2,100
    more (Adam's schedules, random), and 5e7 float64 pairs. Where a or q is inf or NaN the
    correction is NaN, and q is the quotient."""
    if not cgrad_has_fma:             # the baseline build: fma would be a libm call
        return a / b
    cdef floating q = a * inv_b
    cdef floating d = _fma(_fma(-q, b, a), inv_b, q)
    return d if d == d else q


cdef int _check(Py_ssize_t n, Py_ssize_t m, str name) except -1:
    if m != n:
        raise ValueError(f"{name} has {m} elements, expected {n}")
    return 0


# ---- SGD -------------------------------------------------------------------------------------
cdef inline void _sgd_loop(floating* p, const floating* g, floating* buf, Py_ssize_t n,
                           floating nlr, floating wd, floating mom, floating damp1, bint use_wd,
                           bint use_mom, bint first, bint nesterov,
                           bint maximize) noexcept nogil:
    # Without momentum the loop streams two arrays, which the hardware prefetchers keep up
    # with: there one span is the whole block (prefetching was 8% slower).
    cdef Py_ssize_t i, k, line
    cdef Py_ssize_t span = CGRAD_SPAN_BYTES // sizeof(floating) if use_mom else BLOCK
    cdef floating d, b
    for k in range((n + span - 1) // span):
        line = k * span
        _prefetch(p + line, g + line, buf + line if use_mom else p + line, p + line)
        for i in range(line, min(line + span, n)):
            d = -g[i] if maximize else g[i]
            if use_wd:
                d = _fma(wd, p[i], d)                # g.add(p, alpha=weight_decay)
            if use_mom:
                if first:
                    b = d
                else:
                    b = _fma(damp1, d, buf[i] * mom) # buf.mul_(mom).add_(d, alpha=damp1)
                buf[i] = b
                d = _fma(mom, b, d) if nesterov else b
            p[i] = _fma(nlr, d, p[i])                # p.add_(d, alpha=-lr)


cdef void _sgd_block(floating* p, const floating* g, floating* buf, Py_ssize_t n,
                     floating nlr, floating wd, floating mom, floating damp1, bint use_wd,
                     bint use_mom, bint first, bint nesterov, bint maximize) noexcept nogil:
    # the common flag sets as literal constants: each inlines into a branch-free, vectorised
    # loop (a loop testing the flags inside does not vectorise)
    if maximize or first:
        _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, use_wd, use_mom, first, nesterov, maximize)
    elif not use_mom:
        if use_wd:
            _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, True, False, False, False, False)
        else:
            _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, False, False, False, False, False)
    elif nesterov:
        if use_wd:
            _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, True, True, False, True, False)
        else:
            _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, False, True, False, True, False)
    elif use_wd:
        _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, True, True, False, False, False)
    else:
        _sgd_loop(p, g, buf, n, nlr, wd, mom, damp1, False, True, False, False, False)


def sgd_(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr,
         double weight_decay, double momentum, double dampening, bint nesterov,
         bint maximize, bint first):
    """d = g (+ wd p); buf = momentum buf + (1 - dampening) d, or buf = d when first;
    d = d + momentum buf if nesterov else buf; p += -lr d (buf unused if momentum == 0)"""
    cdef Py_ssize_t n = p.shape[0], b, i, nb
    cdef bint use_mom = momentum != 0
    _check(n, g.shape[0], "g")
    if use_mom:
        _check(n, buf.shape[0], "buf")
    if n == 0:
        return
    cdef floating nlr = <floating> -lr, wd = <floating> weight_decay
    cdef floating mom = <floating> momentum, damp1 = <floating> (1 - dampening)
    cdef bint use_wd = weight_decay != 0
    cdef floating* pp = &p[0]
    cdef const floating* gp = &g[0]
    cdef floating* bp = &buf[0] if use_mom else pp
    nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, nogil=True, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _sgd_block(pp + i, gp + i, bp + i if use_mom else bp, min(<Py_ssize_t> BLOCK, n - i),
                       nlr, wd, mom, damp1, use_wd, use_mom, first, nesterov, maximize)
    else:
        with nogil:
            for b in range(nb):
                i = b * BLOCK
                _sgd_block(pp + i, gp + i, bp + i if use_mom else bp,
                           min(<Py_ssize_t> BLOCK, n - i), nlr, wd, mom, damp1, use_wd, use_mom,
                           first, nesterov, maximize)


# ---- Adam / AdamW ----------------------------------------------------------------------------
cdef inline void _adam_element(floating* p, const floating* g, floating* m, floating* v,
                               floating* vmax, Py_ssize_t i, floating w, floating w1,
                               bint lerp_small, floating beta2, floating one_minus_beta2,
                               floating wd, floating decay, floating bc2, floating inv_bc2,
                               floating eps, floating nstep, bint use_wd, bint decoupled,
                               bint amsgrad, bint maximize, bint bias2) noexcept nogil:
    cdef floating gi, mi, vi, denom
    gi = -g[i] if maximize else g[i]
    if use_wd:
        if decoupled:
            p[i] = p[i] * decay
        else:
            gi = _fma(wd, p[i], gi)
    mi = _lerp(m[i], gi, w, w1, lerp_small)
    m[i] = mi
    vi = _fma(one_minus_beta2 * gi, gi, v[i] * beta2)    # v.mul_(beta2).addcmul_(g, g, ...)
    v[i] = vi
    if amsgrad:
        # np.maximum(vmax, v): NaN in either wins (`|`, not `or`, which did not vectorise)
        vi = vmax[i] if (vmax[i] > vi) | (vmax[i] != vmax[i]) else vi
        vmax[i] = vi
    # sqrt(v) / bc2: sqrt(v) is 0, NaN, inf or in [2**-75, 2**512], and 1 / bc2 <= 2**27
    # (1 - beta2 >= 2**-53), within _div_by's exact range
    denom = (_div_by(_sqrt(vi), bc2, inv_bc2) if bias2 else _sqrt(vi)) + eps
    p[i] = p[i] + (nstep * mi) / denom                   # addcdiv_'s order


cdef inline void _adam_lines(floating* p, const floating* g, floating* m, floating* v,
                             floating* vmax, Py_ssize_t n, floating w, floating w1,
                             bint lerp_small, floating beta2, floating one_minus_beta2,
                             floating wd, floating decay, floating bc2, floating inv_bc2,
                             floating eps, floating nstep, bint use_wd, bint decoupled,
                             bint amsgrad, bint maximize, bint bias2) noexcept nogil:
    cdef Py_ssize_t i, k, line, span = CGRAD_SPAN_BYTES // sizeof(floating)
    for k in range((n + span - 1) // span):
        line = k * span
        _prefetch(p + line, g + line, m + line, v + line)
        if amsgrad:
            _prefetch(vmax + line, vmax + line, vmax + line, vmax + line)
        for i in range(line, min(line + span, n)):
            _adam_element(p, g, m, v, vmax, i, w, w1, lerp_small, beta2, one_minus_beta2, wd,
                          decay, bc2, inv_bc2, eps, nstep, use_wd, decoupled, amsgrad, maximize,
                          bias2)


cdef inline void _adam_loop(floating* p, const floating* g, floating* m, floating* v,
                            floating* vmax, Py_ssize_t n, floating w, floating w1,
                            bint lerp_small, floating beta2, floating one_minus_beta2,
                            floating wd, floating decay, floating bc2, floating eps,
                            floating nstep, bint use_wd, bint decoupled, bint amsgrad,
                            bint maximize) noexcept nogil:
    cdef floating inv_bc2 = 1 / bc2
    # bc2 = sqrt(1 - beta2**t) rounds to 1 after some thousand steps (~16,600 at beta2 0.999 in
    # float32); dividing by it then changes nothing, so it is skipped. Two loops: a test inside
    # one became selects, run on every element.
    if bc2 == 1:
        _adam_lines(p, g, m, v, vmax, n, w, w1, lerp_small, beta2, one_minus_beta2, wd, decay,
                    bc2, inv_bc2, eps, nstep, use_wd, decoupled, amsgrad, maximize, False)
    else:
        _adam_lines(p, g, m, v, vmax, n, w, w1, lerp_small, beta2, one_minus_beta2, wd, decay,
                    bc2, inv_bc2, eps, nstep, use_wd, decoupled, amsgrad, maximize, True)


cdef void _adam_block(floating* p, const floating* g, floating* m, floating* v, floating* vmax,
                      Py_ssize_t n, floating w, floating w1, bint lerp_small, floating beta2,
                      floating one_minus_beta2, floating wd, floating decay, floating bc2,
                      floating eps, floating nstep, bint use_wd, bint decoupled, bint amsgrad,
                      bint maximize) noexcept nogil:
    # common flag sets as literal constants (see _sgd_block)
    if maximize or not lerp_small:
        _adam_loop(p, g, m, v, vmax, n, w, w1, lerp_small, beta2, one_minus_beta2, wd, decay,
                   bc2, eps, nstep, use_wd, decoupled, amsgrad, maximize)
    elif amsgrad:
        if not use_wd:
            _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                       bc2, eps, nstep, False, False, True, False)
        elif decoupled:
            _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                       bc2, eps, nstep, True, True, True, False)
        else:
            _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                       bc2, eps, nstep, True, False, True, False)
    elif not use_wd:
        _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                   bc2, eps, nstep, False, False, False, False)
    elif decoupled:
        _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                   bc2, eps, nstep, True, True, False, False)
    else:
        _adam_loop(p, g, m, v, vmax, n, w, w1, True, beta2, one_minus_beta2, wd, decay,
                   bc2, eps, nstep, True, False, False, False)


def adam_(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
          floating[::1] vmax, double lr, double beta1, double beta2, double eps,
          double weight_decay, bint amsgrad, bint maximize, bint decoupled, long step):
    """Adam(W) for one parameter at step t (already counted): see NumpyKernels.adam_step_"""
    cdef Py_ssize_t n = p.shape[0], b, i, nb
    _check(n, g.shape[0], "g")
    _check(n, m.shape[0], "exp_avg")
    _check(n, v.shape[0], "exp_avg_sq")
    if amsgrad:
        _check(n, vmax.shape[0], "max_exp_avg_sq")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if n == 0:
        return
    cdef double wlerp = 1 - beta1
    cdef double step_size = lr / (1 - beta1 ** step)
    cdef double bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    cdef floating w = <floating> wlerp
    cdef floating w1 = 1 - w                             # (in the dtype, as PyTorch's lerp)
    cdef floating fb2 = <floating> beta2, omb2 = <floating> (1 - beta2)
    cdef floating wd = <floating> weight_decay, decay = <floating> (1 - lr * weight_decay)
    cdef floating bc2 = <floating> bias_correction2_sqrt, feps = <floating> eps
    cdef floating nstep = <floating> -step_size
    cdef bint lerp_small = abs(wlerp) < 0.5, use_wd = weight_decay != 0
    cdef floating* pp = &p[0]
    cdef const floating* gp = &g[0]
    cdef floating* mp = &m[0]
    cdef floating* vp = &v[0]
    cdef floating* xp = &vmax[0] if amsgrad else vp
    nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, nogil=True, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _adam_block(pp + i, gp + i, mp + i, vp + i, xp + i if amsgrad else xp,
                        min(<Py_ssize_t> BLOCK, n - i), w, w1, lerp_small, fb2, omb2, wd, decay,
                        bc2, feps, nstep, use_wd, decoupled, amsgrad, maximize)
    else:
        with nogil:
            for b in range(nb):
                i = b * BLOCK
                _adam_block(pp + i, gp + i, mp + i, vp + i, xp + i if amsgrad else xp,
                            min(<Py_ssize_t> BLOCK, n - i), w, w1, lerp_small, fb2, omb2, wd,
                            decay, bc2, feps, nstep, use_wd, decoupled, amsgrad, maximize)


# ---- RMSprop ---------------------------------------------------------------------------------
cdef inline void _rmsprop_loop(floating* p, const floating* g, floating* s, floating* buf,
                               floating* a, Py_ssize_t n, floating alpha,
                               floating one_minus_alpha, floating w, floating w1,
                               bint lerp_small, floating wd, floating eps, floating mom,
                               floating nlr, bint use_wd, bint centered, bint use_mom,
                               bint maximize) noexcept nogil:
    cdef Py_ssize_t i, k, line, span = CGRAD_SPAN_BYTES // sizeof(floating)
    cdef floating gi, si, ai, avg, bi
    for k in range((n + span - 1) // span):
        line = k * span
        _prefetch(p + line, g + line, s + line, buf + line if use_mom else s + line)
        if centered:
            _prefetch(a + line, a + line, a + line, a + line)
        for i in range(line, min(line + span, n)):
            gi = -g[i] if maximize else g[i]
            if use_wd:
                gi = _fma(wd, p[i], gi)
            si = _fma(one_minus_alpha * gi, gi, s[i] * alpha)
            s[i] = si
            if centered:
                ai = _lerp(a[i], gi, w, w1, lerp_small)
                a[i] = ai
                avg = _sqrt(_fma(-ai, ai, si))       # s.addcmul(a, a, value=-1)
            else:
                avg = _sqrt(si)
            avg = avg + eps
            if use_mom:
                bi = buf[i] * mom
                bi = bi + gi / avg
                buf[i] = bi
                p[i] = _fma(nlr, bi, p[i])
            else:
                p[i] = p[i] + (nlr * gi) / avg      # addcdiv_'s order


cdef void _rmsprop_block(floating* p, const floating* g, floating* s, floating* buf,
                         floating* a, Py_ssize_t n, floating alpha, floating one_minus_alpha,
                         floating w, floating w1, bint lerp_small, floating wd, floating eps,
                         floating mom, floating nlr, bint use_wd, bint centered, bint use_mom,
                         bint maximize) noexcept nogil:
    # common flag sets as literal constants (see _sgd_block)
    if maximize or centered or not lerp_small:
        _rmsprop_loop(p, g, s, buf, a, n, alpha, one_minus_alpha, w, w1, lerp_small, wd, eps,
                      mom, nlr, use_wd, centered, use_mom, maximize)
    elif use_mom:
        if use_wd:
            _rmsprop_loop(p, g, s, buf, a, n, alpha, one_minus_alpha, w, w1, True, wd, eps,
                          mom, nlr, True, False, True, False)
        else:
            _rmsprop_loop(p, g, s, buf, a, n, alpha, one_minus_alpha, w, w1, True, wd, eps,
                          mom, nlr, False, False, True, False)
    elif use_wd:
        _rmsprop_loop(p, g, s, buf, a, n, alpha, one_minus_alpha, w, w1, True, wd, eps,
                      mom, nlr, True, False, False, False)
    else:
        _rmsprop_loop(p, g, s, buf, a, n, alpha, one_minus_alpha, w, w1, True, wd, eps,
                      mom, nlr, False, False, False, False)


def rmsprop_(floating[::1] p, const floating[::1] g, floating[::1] s, floating[::1] buf,
             floating[::1] a, double lr, double alpha, double eps, double weight_decay,
             double momentum, bint centered, bint maximize):
    """RMSprop for one parameter: see NumpyKernels.rmsprop_step_"""
    cdef Py_ssize_t n = p.shape[0], b, i, nb
    cdef bint use_mom = momentum > 0
    _check(n, g.shape[0], "g")
    _check(n, s.shape[0], "square_avg")
    if use_mom:
        _check(n, buf.shape[0], "momentum_buffer")
    if centered:
        _check(n, a.shape[0], "grad_avg")
    if n == 0:
        return
    cdef double wlerp = 1 - alpha
    cdef floating falpha = <floating> alpha, oma = <floating> (1 - alpha)
    cdef floating w = <floating> wlerp
    cdef floating w1 = 1 - w                             # (in the dtype, as PyTorch's lerp)
    cdef floating wd = <floating> weight_decay, feps = <floating> eps
    cdef floating mom = <floating> momentum, nlr = <floating> -lr
    cdef bint lerp_small = abs(wlerp) < 0.5, use_wd = weight_decay != 0
    cdef floating* pp = &p[0]
    cdef const floating* gp = &g[0]
    cdef floating* sp = &s[0]
    cdef floating* bp = &buf[0] if use_mom else sp
    cdef floating* ap = &a[0] if centered else sp
    nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, nogil=True, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _rmsprop_block(pp + i, gp + i, sp + i, bp + i if use_mom else bp,
                           ap + i if centered else ap, min(<Py_ssize_t> BLOCK, n - i), falpha, oma,
                           w, w1, lerp_small, wd, feps, mom, nlr, use_wd, centered, use_mom,
                           maximize)
    else:
        with nogil:
            for b in range(nb):
                i = b * BLOCK
                _rmsprop_block(pp + i, gp + i, sp + i, bp + i if use_mom else bp,
                               ap + i if centered else ap, min(<Py_ssize_t> BLOCK, n - i),
                               falpha, oma, w, w1, lerp_small, wd, feps, mom, nlr, use_wd,
                               centered, use_mom, maximize)


# ---- Adagrad ---------------------------------------------------------------------------------
cdef inline void _adagrad_loop(floating* p, const floating* g, floating* s, Py_ssize_t n,
                               floating wd, floating eps, floating nclr, bint use_wd,
                               bint maximize) noexcept nogil:
    cdef Py_ssize_t i, k, line, span = CGRAD_SPAN_BYTES // sizeof(floating)
    cdef floating gi, si
    for k in range((n + span - 1) // span):
        line = k * span
        _prefetch(p + line, g + line, s + line, s + line)
        for i in range(line, min(line + span, n)):
            gi = -g[i] if maximize else g[i]
            if use_wd:
                gi = _fma(wd, p[i], gi)
            si = _fma(gi, gi, s[i])                  # addcmul_ with value 1
            s[i] = si
            p[i] = p[i] + (nclr * gi) / (_sqrt(si) + eps)


cdef void _adagrad_block(floating* p, const floating* g, floating* s, Py_ssize_t n,
                         floating wd, floating eps, floating nclr, bint use_wd,
                         bint maximize) noexcept nogil:
    if maximize:
        _adagrad_loop(p, g, s, n, wd, eps, nclr, use_wd, True)
    elif use_wd:
        _adagrad_loop(p, g, s, n, wd, eps, nclr, True, False)
    else:
        _adagrad_loop(p, g, s, n, wd, eps, nclr, False, False)


def adagrad_(floating[::1] p, const floating[::1] g, floating[::1] s, double lr,
             double lr_decay, double weight_decay, double eps, bint maximize, long step):
    """Adagrad for one parameter at step t: see NumpyKernels.adagrad_step_"""
    cdef Py_ssize_t n = p.shape[0], b, i, nb
    _check(n, g.shape[0], "g")
    _check(n, s.shape[0], "state_sum")
    if n == 0:
        return
    cdef double clr = lr / (1 + (step - 1) * lr_decay)
    cdef floating wd = <floating> weight_decay, feps = <floating> eps, nclr = <floating> -clr
    cdef bint use_wd = weight_decay != 0
    cdef floating* pp = &p[0]
    cdef const floating* gp = &g[0]
    cdef floating* sp = &s[0]
    nb = (n + BLOCK - 1) // BLOCK
    if parallel(n):
        for b in prange(nb, nogil=True, schedule="static", num_threads=cgrad_threads()):
            i = b * BLOCK
            _adagrad_block(pp + i, gp + i, sp + i, min(<Py_ssize_t> BLOCK, n - i), wd, feps, nclr,
                           use_wd, maximize)
    else:
        with nogil:
            for b in range(nb):
                i = b * BLOCK
                _adagrad_block(pp + i, gp + i, sp + i, min(<Py_ssize_t> BLOCK, n - i), wd, feps,
                               nclr, use_wd, maximize)
