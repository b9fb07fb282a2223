# A product with few columns, c (m x og) = a (m x n) times g (og x n)^T for og <= 8, summed
# over a long n: a convolution's weight gradient where the layer has few outputs (the CIFAR
# tutorial's Conv2d(3, 6, 5): 75 x 6 over each image's 784 positions). OpenBLAS packs both
# sides for each such call and ran it at ~25 GFLOP/s; these tiles keep every sum in a register
# (2 rows of a by og columns, 8 lanes each) and run at ~50. Explicit vectors, as GCC spilled
# the same loops written in Cython. The AVX2 and AVX-512 builds only (FMA); elsewhere
# cgrad_narrow_ok is 0 and the caller takes BLAS's product.
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
    #else
    #define CGRAD_NARROW_OK 0
    static void cgrad_narrow_rows(const float* a, ptrdiff_t lda, const float* g, ptrdiff_t ldg,
                                  ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t og, ptrdiff_t n,
                                  float* c, ptrdiff_t ldc, int first) {}
    #endif
    """
    # whether this build has the tiles (else cgrad_narrow_rows does nothing)
    bint cgrad_narrow_ok "CGRAD_NARROW_OK"
    # rows k0 <= k < k1 of c (ldc) = (first ? 0 : c) + a (lda) times g (og <= 8 rows, ldg)^T
    # over n; the same bits however the rows are split
    void cgrad_narrow_rows(const float* a, Py_ssize_t lda, const float* g, Py_ssize_t ldg,
                           Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t og, Py_ssize_t n,
                           float* c, Py_ssize_t ldc, int first) noexcept nogil
