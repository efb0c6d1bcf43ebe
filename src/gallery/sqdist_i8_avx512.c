// AVX-512 VNNI variant of the int8 distance kernel (see sqdist_i8.h). Built
// with the AVX-512 flags by file-name suffix, plus VNNI on the function;
// called only when the CPU has AVX512_VNNI.
//
// vpdpbusd multiplies unsigned by signed bytes, four per 32-bit lane, and
// adds without saturation. The rows are made unsigned by flipping their
// sign bit (code + 128), so per row it sums (r + 128) . q = r.q + 128 sum(q),
// and the distance is |q|^2 + 256 sum(q) + |r|^2 - 2 (r + 128).q, exact in
// 32-bit integers (wrapping in between, the result fits).
#include "gallery/sqdist_i8.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void
ft_kern_sqdist_i8_avx512vnni(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                             size_t dim4, const int8_t *q, int32_t *out)
{
    const size_t ng = dim4 / 4;
    uint32_t c = 0; // |q|^2 + 256 sum(q), modular
    for (size_t k = 0; k < dim4; k++)
        c += (uint32_t)((int32_t)q[k] * q[k] + 256 * (int32_t)q[k]);
    const __m512i cv = _mm512_set1_epi32((int32_t)c);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (size_t b = 0; b < n_blocks; b++) {
        const int8_t *blk = codes + b * ng * 64;
        // Four chains hide vpdpbusd's latency.
        __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
        __m512i a2 = _mm512_setzero_si512(), a3 = _mm512_setzero_si512();
        size_t g = 0;
        for (; g + 4 <= ng; g += 4) {
            int32_t q4[4];
            memcpy(q4, q + 4 * g, 16);
            __m512i r0 = _mm512_xor_si512(_mm512_load_si512(blk + g * 64), flip);
            __m512i r1 = _mm512_xor_si512(_mm512_load_si512(blk + g * 64 + 64), flip);
            __m512i r2 = _mm512_xor_si512(_mm512_load_si512(blk + g * 64 + 128), flip);
            __m512i r3 = _mm512_xor_si512(_mm512_load_si512(blk + g * 64 + 192), flip);
            a0 = _mm512_dpbusd_epi32(a0, r0, _mm512_set1_epi32(q4[0]));
            a1 = _mm512_dpbusd_epi32(a1, r1, _mm512_set1_epi32(q4[1]));
            a2 = _mm512_dpbusd_epi32(a2, r2, _mm512_set1_epi32(q4[2]));
            a3 = _mm512_dpbusd_epi32(a3, r3, _mm512_set1_epi32(q4[3]));
        }
        for (; g < ng; g++) {
            int32_t q4;
            memcpy(&q4, q + 4 * g, 4);
            __m512i r0 = _mm512_xor_si512(_mm512_load_si512(blk + g * 64), flip);
            a0 = _mm512_dpbusd_epi32(a0, r0, _mm512_set1_epi32(q4));
        }
        __m512i dot = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
        __m512i nv = _mm512_loadu_si512(norm + b * 16);
        __m512i d = _mm512_sub_epi32(_mm512_add_epi32(cv, nv), _mm512_slli_epi32(dot, 1));
        _mm512_storeu_si512(out + b * 16, d);
    }
}
#else
void ft_kern_sqdist_i8_avx512vnni(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                                  size_t dim4, const int8_t *q, int32_t *out)
{
    ft_kern_sqdist_i8_ref(codes, norm, n_blocks, dim4, q, out);
}
#endif
