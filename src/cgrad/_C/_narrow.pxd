# Convolution kernels for layers of few outputs, where OpenBLAS's products are narrow:
# - the weight gradient, c (m x og) = a (m x n) times g (og x n)^T for og <= 8 summed over a
#   long n (the CIFAR tutorial's Conv2d(3, 6, 5): 75 x 6 over each image's 784 positions).
#   OpenBLAS packs both sides for each such call and ran it at ~25 GFLOP/s; these tiles keep
#   every sum in a register (2 rows of a by og columns, 8 lanes each) and run at ~50;
# - the forward without its windows (im2col), for at most 16 outputs (cgrad_direct_conv):
#   Conv2d(6, 16, 5) on 64 images of 14 x 14, windows and product 975 us, this 385.
# Explicit vectors, as GCC spilled the same loops written in Cython. The AVX2 and AVX-512
# builds only (FMA); elsewhere cgrad_narrow_ok is 0 and the callers take BLAS's products.
cdef extern from *:
    """
    #include <stddef.h>
    #if defined(__AVX2__) && defined(__FMA__)
    #include <immintrin.h>
    #define CGRAD_NARROW_OK 1
    /* 8 on, then 8 off: the first t lanes of a load at (8 - t) */
    static const int cgrad_narrow_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                               0, 0, 0, 0, 0, 0, 0, 0};

    /* c[k ldc + o] = (first ? 0 : c[k ldc + o]) + sum over r < n of a[k lda + r] g[o ldg + r],
       for k < KT, o < OT: each sum in 8 lanes (a masked load for the last n % 8), added
       across the lanes in a fixed order at the end */
    #define CGRAD_NARROW_TILE(KT, OT) \\
    static inline __attribute__((always_inline)) void cgrad_narrow_tile_##KT##_##OT( \\
            const float* a, ptrdiff_t lda, const float* g, ptrdiff_t ldg, ptrdiff_t n, \\
            float* c, ptrdiff_t ldc, int first) { \\
        __m256 acc[KT][OT], av[KT], gv; \\
        ptrdiff_t r; \\
        _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
            _Pragma("GCC unroll 8") for (int o = 0; o < OT; o++) \\
                acc[k][o] = _mm256_setzero_ps(); \\
        for (r = 0; r + 8 <= n; r += 8) { \\
            _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
                av[k] = _mm256_loadu_ps(a + k * lda + r); \\
            _Pragma("GCC unroll 8") for (int o = 0; o < OT; o++) { \\
                gv = _mm256_loadu_ps(g + o * ldg + r); \\
                _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
                    acc[k][o] = _mm256_fmadd_ps(av[k], gv, acc[k][o]); \\
            } \\
        } \\
        if (r < n) { \\
            __m256i m = _mm256_loadu_si256( \\
                (const __m256i*) (cgrad_narrow_mask + 8 - (n - r))); \\
            _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
                av[k] = _mm256_maskload_ps(a + k * lda + r, m); \\
            _Pragma("GCC unroll 8") for (int o = 0; o < OT; o++) { \\
                gv = _mm256_maskload_ps(g + o * ldg + r, m); \\
                _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
                    acc[k][o] = _mm256_fmadd_ps(av[k], gv, acc[k][o]); \\
            } \\
        } \\
        _Pragma("GCC unroll 8") for (int k = 0; k < KT; k++) \\
            _Pragma("GCC unroll 8") for (int o = 0; o < OT; o++) { \\
                __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[k][o]), \\
                                      _mm256_extractf128_ps(acc[k][o], 1)); \\
                h = _mm_add_ps(h, _mm_movehl_ps(h, h)); \\
                h = _mm_add_ss(h, _mm_movehdup_ps(h)); \\
                c[k * ldc + o] = first ? _mm_cvtss_f32(h) : c[k * ldc + o] + _mm_cvtss_f32(h); \\
            } \\
    }
    CGRAD_NARROW_TILE(1, 1) CGRAD_NARROW_TILE(1, 2) CGRAD_NARROW_TILE(1, 3)
    CGRAD_NARROW_TILE(1, 4) CGRAD_NARROW_TILE(1, 5) CGRAD_NARROW_TILE(1, 6)
    CGRAD_NARROW_TILE(1, 7) CGRAD_NARROW_TILE(1, 8)
    CGRAD_NARROW_TILE(2, 1) CGRAD_NARROW_TILE(2, 2) CGRAD_NARROW_TILE(2, 3)
    CGRAD_NARROW_TILE(2, 4) CGRAD_NARROW_TILE(2, 5) CGRAD_NARROW_TILE(2, 6)

    /* rows k of c for k0 <= k < k1: pairs of rows where og <= 6 (12 sums in registers, with 2
       rows of a and a row of g: 15 of the 16), single rows for 7 and 8 and a last odd row */
    static void cgrad_narrow_rows(const float* a, ptrdiff_t lda, const float* g, ptrdiff_t ldg,
                                  ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t og, ptrdiff_t n,
                                  float* c, ptrdiff_t ldc, int first) {
        ptrdiff_t k = k0;
        #define CGRAD_NARROW_AT(KT, OT) cgrad_narrow_tile_##KT##_##OT( \\
            a + k * lda, lda, g, ldg, n, c + k * ldc, ldc, first)
        if (og <= 6) {
            for (; k + 2 <= k1; k += 2) {
                switch (og) {
                case 1: CGRAD_NARROW_AT(2, 1); break;
                case 2: CGRAD_NARROW_AT(2, 2); break;
                case 3: CGRAD_NARROW_AT(2, 3); break;
                case 4: CGRAD_NARROW_AT(2, 4); break;
                case 5: CGRAD_NARROW_AT(2, 5); break;
                default: CGRAD_NARROW_AT(2, 6); break;
                }
            }
        }
        for (; k < k1; k++) {
            switch (og) {
            case 1: CGRAD_NARROW_AT(1, 1); break;
            case 2: CGRAD_NARROW_AT(1, 2); break;
            case 3: CGRAD_NARROW_AT(1, 3); break;
            case 4: CGRAD_NARROW_AT(1, 4); break;
            case 5: CGRAD_NARROW_AT(1, 5); break;
            case 6: CGRAD_NARROW_AT(1, 6); break;
            case 7: CGRAD_NARROW_AT(1, 7); break;
            default: CGRAD_NARROW_AT(1, 8); break;
            }
        }
        #undef CGRAD_NARROW_AT
    }

    /* The forward of a convolution of few outputs without its windows (im2col): for each of
       an image's output positions p and outputs o, the sum over the window's K values, in
       order, of wt[k opad + o] x[koff[k] + offset of p], where a window's values lie koff[k]
       from its corner. NV vectors of 8 outputs by PT positions, all sums in registers
       (2 x 4 or 1 x 8: more spilled two of them, and the store-to-load chain cost 30%). */
    #define CGRAD_DIRECT_TILE(NV, PT) \\
    static inline __attribute__((always_inline)) void cgrad_direct_tile_##NV##_##PT( \\
            const float* x, const int* koff, ptrdiff_t K, const float* wt, ptrdiff_t opad, \\
            const ptrdiff_t* at, float* sums) { \\
        __m256 acc[NV][PT], wv[NV], xv; \\
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \\
            _Pragma("GCC unroll 8") for (int j = 0; j < PT; j++) \\
                acc[v][j] = _mm256_setzero_ps(); \\
        for (ptrdiff_t k = 0; k < K; k++) { \\
            const float* xk = x + koff[k]; \\
            _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \\
                wv[v] = _mm256_loadu_ps(wt + k * opad + 8 * v); \\
            _Pragma("GCC unroll 8") for (int j = 0; j < PT; j++) { \\
                xv = _mm256_broadcast_ss(xk + at[j]); \\
                _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \\
                    acc[v][j] = _mm256_fmadd_ps(wv[v], xv, acc[v][j]); \\
            } \\
        } \\
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \\
            _Pragma("GCC unroll 8") for (int j = 0; j < PT; j++) \\
                _mm256_storeu_ps(sums + (v * PT + j) * 8, acc[v][j]); \\
    }
    CGRAD_DIRECT_TILE(2, 4) CGRAD_DIRECT_TILE(2, 1) CGRAD_DIRECT_TILE(1, 8)
    CGRAD_DIRECT_TILE(1, 1)

    /* one image: out (O x OH OW) = those sums plus bias (NULL: none); wt holds opad >= O
       columns (a multiple of 8, zeros past O); output row oh, column ow reads from
       oh row_step + ow col_step */
    static void cgrad_direct_conv(const float* x, const int* koff, ptrdiff_t K,
                                  const float* wt, ptrdiff_t opad, ptrdiff_t O,
                                  const float* bias, float* out, ptrdiff_t OH, ptrdiff_t OW,
                                  ptrdiff_t row_step, ptrdiff_t col_step) {
        ptrdiff_t L = OH * OW, at[8];
        float sums[2 * 8 * 8];
        for (ptrdiff_t ob = 0; ob < opad; ob += 16) {
            int nv = opad - ob >= 16 ? 2 : 1, tile = nv == 2 ? 4 : 8;
            for (ptrdiff_t p0 = 0; p0 < L; ) {
                int n = L - p0 >= tile ? tile : 1;
                for (int j = 0; j < n; j++)
                    at[j] = (p0 + j) / OW * row_step + (p0 + j) % OW * col_step;
                if (nv == 2 && n == 4)
                    cgrad_direct_tile_2_4(x, koff, K, wt + ob, opad, at, sums);
                else if (nv == 2)
                    cgrad_direct_tile_2_1(x, koff, K, wt + ob, opad, at, sums);
                else if (n == 8)
                    cgrad_direct_tile_1_8(x, koff, K, wt + ob, opad, at, sums);
                else
                    cgrad_direct_tile_1_1(x, koff, K, wt + ob, opad, at, sums);
                for (int v = 0; v < nv; v++)
                    for (int lane = 0; lane < 8 && ob + 8 * v + lane < O; lane++) {
                        ptrdiff_t o = ob + 8 * v + lane;
                        float b = bias ? bias[o] : 0.0f;
                        for (int j = 0; j < n; j++)
                            out[o * L + p0 + j] = sums[(v * n + j) * 8 + lane] + b;
                    }
                p0 += n;
            }
        }
    }
    #else
    #define CGRAD_NARROW_OK 0
    static void cgrad_direct_conv(const float* x, const int* koff, ptrdiff_t K,
                                  const float* wt, ptrdiff_t opad, ptrdiff_t O,
                                  const float* bias, float* out, ptrdiff_t OH, ptrdiff_t OW,
                                  ptrdiff_t row_step, ptrdiff_t col_step) {}
    static void cgrad_narrow_rows(const float* a, ptrdiff_t lda, const float* g, ptrdiff_t ldg,
                                  ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t og, ptrdiff_t n,
                                  float* c, ptrdiff_t ldc, int first) {}
    #endif
    """
    # whether this build has the tiles (else cgrad_narrow_rows and cgrad_direct_conv do
    # nothing)
    bint cgrad_narrow_ok "CGRAD_NARROW_OK"
    # rows k0 <= k < k1 of c (ldc) = (first ? 0 : c) + a (lda) times g (og <= 8 rows, ldg)^T
    # over n; the same bits however the rows are split
    void cgrad_narrow_rows(const float* a, Py_ssize_t lda, const float* g, Py_ssize_t ldg,
                           Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t og, Py_ssize_t n,
                           float* c, Py_ssize_t ldc, int first) noexcept nogil
    # one image's convolution of opad >= O outputs without its windows (see above)
    void cgrad_direct_conv(const float* x, const int* koff, Py_ssize_t K, const float* wt,
                           Py_ssize_t opad, Py_ssize_t O, const float* bias, float* out,
                           Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t row_step,
                           Py_ssize_t col_step) noexcept nogil
