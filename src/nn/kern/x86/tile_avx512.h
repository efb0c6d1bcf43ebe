// The store that ends an AVX-512 register tile of 14 rows by 16 or 32
// columns, shared by the packed GEMM (pgemm_avx512.c) and the direct and
// implicit-GEMM convolutions (conv2d_avx512.c), and the start of the
// implicit-GEMM tiles (ft_tile_zero_zmm). In the store, row i of acc goes to
// c + i * ldc, columns [0, ncols). first: C is overwritten, else acc is
// added to what C holds (the K chunks' sums, in chunk order); last: then
// the bias (NULL: none) and the activation, sigmoid in scalar after the
// store (act_simd.h). nv: 1 when only the first 16 columns are valid.
// Built for AVX-512 only.
#ifndef FT_NN_KERN_X86_TILE_AVX512_H
#define FT_NN_KERN_X86_TILE_AVX512_H

#include "nn/kern/act.h"
#include "nn/kern/x86/act_simd.h"

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The start of such a tile: acc zeroed, and the lines of C that the store
// will write (16 or 32 floats of each row) fetched meanwhile.
static inline __attribute__((always_inline)) void
ft_tile_zero_zmm(__m512 (*acc)[2], const int mr, const int nv, const float *c0, size_t ldc)
{
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
        __builtin_prefetch(c0 + (size_t)i * ldc, 1, 3);
        if (nv > 1)
            __builtin_prefetch(c0 + (size_t)i * ldc + 16, 1, 3);
    }
}

static inline __attribute__((always_inline)) void
ft_tile_store_zmm(__m512 (*acc)[2], const int mr, const int nv, float *c0, size_t ldc,
                  const float *bias_p, int32_t ncols, bool first, bool last, ft_act act)
{
    __mmask16 mk[2];
    mk[0] = ncols >= 16 ? 0xFFFF : (__mmask16)((1u << ncols) - 1);
    mk[1] = ncols >= 32 ? 0xFFFF : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1) : 0;
    __m512 bias[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    if (last && bias_p) {
        bias[0] = _mm512_maskz_loadu_ps(mk[0], bias_p);
        if (nv > 1)
            bias[1] = _mm512_maskz_loadu_ps(mk[1], bias_p + 16);
    }
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        float *c = c0 + (size_t)i * ldc;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            __m512 x = acc[i][v];
            if (!first)
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], c + 16 * v));
            if (last)
                x = ft_act_zmm(_mm512_add_ps(x, bias[v]), act);
            _mm512_mask_storeu_ps(c + 16 * v, mk[v], x);
        }
    }
    if (last && act == FT_ACT_SIGMOID)
        for (int i = 0; i < mr; i++)
            for (int32_t j = 0; j < ncols; j++)
                c0[(size_t)i * ldc + j] = ft_act_apply(c0[(size_t)i * ldc + j], act);
}

#endif
