// The vector forms of kern/act.h's activations, for the x86 variant files:
// ft_act_zmm where the file is built for AVX-512, ft_act_ymm for AVX2. The
// same formulas as ft_act_apply, so vector and scalar tails agree to the
// bit; SIGMOID passes through and is applied in scalar after the store (it
// is evaluated in double).
#ifndef FT_NN_KERN_X86_ACT_SIMD_H
#define FT_NN_KERN_X86_ACT_SIMD_H

#include "nn/kern/act.h"

#include <immintrin.h>

#ifdef __AVX512F__
static inline __attribute__((always_inline)) __m512 ft_act_zmm(__m512 x, ft_act act)
{
    const __m512 zero = _mm512_setzero_ps();
    switch (act) {
    case FT_ACT_RELU:
        return _mm512_max_ps(x, zero);
    case FT_ACT_RELU6:
        return _mm512_min_ps(_mm512_max_ps(x, zero), _mm512_set1_ps(6.0f));
    case FT_ACT_LEAKY: {
        __m512 m = _mm512_mul_ps(x, _mm512_set1_ps(0.1f));
        return _mm512_add_ps(_mm512_max_ps(_mm512_sub_ps(x, m), zero), m);
    }
    default: // NONE; SIGMOID after the store
        return x;
    }
}
#endif

#ifdef __AVX2__
static inline __attribute__((always_inline)) __m256 ft_act_ymm(__m256 x, ft_act act)
{
    const __m256 zero = _mm256_setzero_ps();
    switch (act) {
    case FT_ACT_RELU:
        return _mm256_max_ps(x, zero);
    case FT_ACT_RELU6:
        return _mm256_min_ps(_mm256_max_ps(x, zero), _mm256_set1_ps(6.0f));
    case FT_ACT_LEAKY: {
        __m256 m = _mm256_mul_ps(x, _mm256_set1_ps(0.1f));
        return _mm256_add_ps(_mm256_max_ps(_mm256_sub_ps(x, m), zero), m);
    }
    default: // NONE; SIGMOID after the store
        return x;
    }
}
#endif

#endif
