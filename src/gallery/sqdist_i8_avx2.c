// AVX2 variant of the int8 distance kernel (see sqdist_i8.h). Built with
// -mavx2 by file-name suffix; called only when the CPU has it.
//
// AVX2 has no 4-byte dot product into 32-bit lanes that is exact for
// signed x signed codes: vpmaddubsw multiplies unsigned by signed bytes and
// saturates its 16-bit pair sums. With |q| (unsigned) times the row code
// carrying q's sign (vpsignb), every product is at most 127 * 127 and a
// pair sum at most 32258, below the saturation point; vpmaddwd by ones then
// widens the pairs into one 32-bit lane per row. The distance is expanded
// as |q|^2 + |r|^2 - 2 q.r, exact in 32-bit integers.
#include "gallery/sqdist_i8.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

void ft_kern_sqdist_i8_avx2(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                            size_t dim4, const int8_t *q, int32_t *out)
{
    const size_t ng = dim4 / 4;
    uint32_t qn = 0; // modular: the final sum fits, intermediate ones may not
    for (size_t k = 0; k < dim4; k++)
        qn += (uint32_t)((int32_t)q[k] * q[k]);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i qnv = _mm256_set1_epi32((int32_t)qn);
    for (size_t b = 0; b < n_blocks; b++) {
        const int8_t *blk = codes + b * ng * 64;
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (size_t g = 0; g < ng; g++) {
            int32_t q4;
            memcpy(&q4, q + 4 * g, 4);
            __m256i qb = _mm256_set1_epi32(q4);
            __m256i qa = _mm256_abs_epi8(qb);
            __m256i r0 = _mm256_load_si256((const __m256i *)(blk + g * 64));
            __m256i r1 = _mm256_load_si256((const __m256i *)(blk + g * 64 + 32));
            __m256i p0 = _mm256_maddubs_epi16(qa, _mm256_sign_epi8(r0, qb));
            __m256i p1 = _mm256_maddubs_epi16(qa, _mm256_sign_epi8(r1, qb));
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(p0, ones));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(p1, ones));
        }
        const int32_t *nb = norm + b * 16;
        __m256i n0 = _mm256_loadu_si256((const __m256i *)nb);
        __m256i n1 = _mm256_loadu_si256((const __m256i *)(nb + 8));
        __m256i d0 = _mm256_sub_epi32(_mm256_add_epi32(qnv, n0), _mm256_slli_epi32(lo, 1));
        __m256i d1 = _mm256_sub_epi32(_mm256_add_epi32(qnv, n1), _mm256_slli_epi32(hi, 1));
        _mm256_storeu_si256((__m256i *)(out + b * 16), d0);
        _mm256_storeu_si256((__m256i *)(out + b * 16 + 8), d1);
    }
}
#else
void ft_kern_sqdist_i8_avx2(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                            size_t dim4, const int8_t *q, int32_t *out)
{
    ft_kern_sqdist_i8_ref(codes, norm, n_blocks, dim4, q, out);
}
#endif
