// AVX-512F variant of the distance kernel (see sqdist.h). Built with the
// AVX-512 flags by file-name suffix; called only when the CPU has them.
// The query stays in eight registers; rows go two at a time for ILP.
#include "gallery/sqdist.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline __m512 row_acc(const float *r, const __m512 qv[8])
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int k = 0; k < 8; k += 2) {
        __m512 d0 = _mm512_sub_ps(_mm512_load_ps(r + 16 * k), qv[k]);
        __m512 d1 = _mm512_sub_ps(_mm512_load_ps(r + 16 * k + 16), qv[k + 1]);
        a0 = _mm512_fmadd_ps(d0, d0, a0);
        a1 = _mm512_fmadd_ps(d1, d1, a1);
    }
    return _mm512_add_ps(a0, a1);
}

void ft_kern_sqdist128_f32_avx512(const float *rows, size_t n, const float *q, float *out)
{
    __m512 qv[8];
    for (int k = 0; k < 8; k++)
        qv[k] = _mm512_loadu_ps(q + 16 * k);
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        __m512 s0 = row_acc(rows + i * 128, qv);
        __m512 s1 = row_acc(rows + (i + 1) * 128, qv);
        out[i] = _mm512_reduce_add_ps(s0);
        out[i + 1] = _mm512_reduce_add_ps(s1);
    }
    for (; i < n; i++)
        out[i] = _mm512_reduce_add_ps(row_acc(rows + i * 128, qv));
}
#else
void ft_kern_sqdist128_f32_avx512(const float *rows, size_t n, const float *q, float *out)
{
    ft_kern_sqdist128_f32_ref(rows, n, q, out);
}
#endif
