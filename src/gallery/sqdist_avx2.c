// AVX2+FMA variant of the distance kernel (see sqdist.h). Built with
// -mavx2 -mfma by file-name suffix; called only when the CPU has both.
#include "gallery/sqdist.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

void ft_kern_sqdist128_f32_avx2(const float *rows, size_t n, const float *q, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * 128;
        // Four accumulators hide the FMA latency.
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (size_t k = 0; k < 128; k += 32) {
            __m256 d0 = _mm256_sub_ps(_mm256_load_ps(r + k), _mm256_loadu_ps(q + k));
            __m256 d1 = _mm256_sub_ps(_mm256_load_ps(r + k + 8), _mm256_loadu_ps(q + k + 8));
            __m256 d2 = _mm256_sub_ps(_mm256_load_ps(r + k + 16), _mm256_loadu_ps(q + k + 16));
            __m256 d3 = _mm256_sub_ps(_mm256_load_ps(r + k + 24), _mm256_loadu_ps(q + k + 24));
            a0 = _mm256_fmadd_ps(d0, d0, a0);
            a1 = _mm256_fmadd_ps(d1, d1, a1);
            a2 = _mm256_fmadd_ps(d2, d2, a2);
            a3 = _mm256_fmadd_ps(d3, d3, a3);
        }
        out[i] = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

// Any length: 8 floats at a time (unaligned loads), the tail in scalar.
void ft_kern_sqdist_f32_avx2(const float *rows, size_t n, size_t dim, const float *q, float *out)
{
    size_t d8 = dim & ~(size_t)7;
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        size_t k = 0;
        for (; k + 16 <= d8; k += 16) {
            __m256 x0 = _mm256_sub_ps(_mm256_loadu_ps(r + k), _mm256_loadu_ps(q + k));
            __m256 x1 = _mm256_sub_ps(_mm256_loadu_ps(r + k + 8), _mm256_loadu_ps(q + k + 8));
            a0 = _mm256_fmadd_ps(x0, x0, a0);
            a1 = _mm256_fmadd_ps(x1, x1, a1);
        }
        for (; k < d8; k += 8) {
            __m256 x0 = _mm256_sub_ps(_mm256_loadu_ps(r + k), _mm256_loadu_ps(q + k));
            a0 = _mm256_fmadd_ps(x0, x0, a0);
        }
        float acc = hsum256(_mm256_add_ps(a0, a1));
        for (; k < dim; k++) {
            float x = r[k] - q[k];
            acc += x * x;
        }
        out[i] = acc;
    }
}
#else
void ft_kern_sqdist128_f32_avx2(const float *rows, size_t n, const float *q, float *out)
{
    ft_kern_sqdist128_f32_ref(rows, n, q, out);
}
void ft_kern_sqdist_f32_avx2(const float *rows, size_t n, size_t dim, const float *q, float *out)
{
    ft_kern_sqdist_f32_ref(rows, n, dim, q, out);
}
#endif
