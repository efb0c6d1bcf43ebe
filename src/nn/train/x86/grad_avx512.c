// AVX-512 training kernels: a register-tiled GEMM (8 rows x 32 columns of C
// in 16 zmm accumulators, masked column tails) and the portable depthwise
// bodies of grad_fast.inc compiled for AVX-512. Only this file gets the
// AVX-512 flags; ft_grad_ops_get() checks the CPU before using it.
#if defined(__x86_64__)
#include "nn/train/grad.h"
#include "nn/train/grad_internal.h"

#include <immintrin.h>

#define FT_FAST_NAME(op) ft_kern_##op##_f32_avx512
#define FT_FAST_NO_GEMM
#include "nn/train/grad_fast.inc"

static inline __mmask16 tail_mask(int32_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1));
}

#define ROWS 8

// One tile: rows [i0, i0+nr) (nr <= ROWS), columns [j0, j0+32) masked.
static inline void tile(int32_t nr, int32_t n, int32_t k, const float *a, const float *b,
                        float beta, float *c, int32_t i0, int32_t j0, __mmask16 m0, __mmask16 m1)
{
    __m512 acc0[ROWS], acc1[ROWS];
    for (int r = 0; r < ROWS; r++)
        acc0[r] = _mm512_setzero_ps(), acc1[r] = _mm512_setzero_ps();
    const float *bp = b + j0;
    if (nr == ROWS) {
        const float *a0 = a + (size_t)i0 * k;
        for (int32_t p = 0; p < k; p++) {
            __m512 b0 = _mm512_maskz_loadu_ps(m0, bp + (size_t)p * n);
            __m512 b1 = _mm512_maskz_loadu_ps(m1, bp + (size_t)p * n + 16);
#define FT_ROW(r)                                                                                 \
    do {                                                                                          \
        __m512 av = _mm512_set1_ps(a0[(size_t)(r) * k + p]);                                      \
        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);                                               \
        acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);                                               \
    } while (0)
            FT_ROW(0);
            FT_ROW(1);
            FT_ROW(2);
            FT_ROW(3);
            FT_ROW(4);
            FT_ROW(5);
            FT_ROW(6);
            FT_ROW(7);
#undef FT_ROW
        }
    } else {
        for (int32_t r = 0; r < nr; r++) {
            const float *ar = a + (size_t)(i0 + r) * k;
            __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
            for (int32_t p = 0; p < k; p++) {
                __m512 av = _mm512_set1_ps(ar[p]);
                s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m0, bp + (size_t)p * n), s0);
                s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m1, bp + (size_t)p * n + 16), s1);
            }
            acc0[r] = s0;
            acc1[r] = s1;
        }
    }
    for (int32_t r = 0; r < nr; r++) {
        float *cr = c + (size_t)(i0 + r) * n + j0;
        if (beta != 0.0f) {
            __m512 bv = _mm512_set1_ps(beta);
            acc0[r] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m0, cr), acc0[r]);
            acc1[r] = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m1, cr + 16), acc1[r]);
        }
        _mm512_mask_storeu_ps(cr, m0, acc0[r]);
        _mm512_mask_storeu_ps(cr + 16, m1, acc1[r]);
    }
}

void ft_kern_gemm_f32_avx512(int32_t m, int32_t n, int32_t k, const float *a, const float *b,
                             float beta, float *c)
{
    // Columns outer: the k x 32 panel of B is reused by every row tile
    // while it sits in L2.
    for (int32_t j0 = 0; j0 < n; j0 += 32) {
        __mmask16 m0 = tail_mask(n - j0), m1 = tail_mask(n - j0 - 16);
        int32_t i0 = 0;
        for (; i0 + ROWS <= m; i0 += ROWS)
            tile(ROWS, n, k, a, b, beta, c, i0, j0, m0, m1);
        if (i0 < m)
            tile(m - i0, n, k, a, b, beta, c, i0, j0, m0, m1);
    }
}
#else
typedef int ft_grad_avx512_unused;
#endif
