// AVX-512 max pooling (kern/pool2d.h): 16 channels per zmm, the window's
// taps in the reference's order. _mm512_max_ps(v, m) is MAXPS, which
// returns its first operand when it is greater and its second otherwise
// (also when either is NaN, or for +0 vs -0): exactly the reference's
// m = v > m ? v : m, so the results are the same bits. The 2x2 stride-2
// window (every max pool of YuNet) has its own loop with the four taps
// named; the channel tail uses masked loads and stores.
#include "nn/kern/pool2d.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

void ft_kern_maxpool2d_f32_avx512(const ft_conv_geom *g, const float *x, float *y, int32_t oy0,
                                  int32_t oy1)
{
    const int32_t c = g->c_in, s = g->stride;
    const size_t rs = (size_t)g->in_w * c;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const int32_t nb = (c + 15) / 16;
    const __mmask16 tail = (__mmask16)(c % 16 ? (1u << (c % 16)) - 1 : 0xFFFF);
    for (int32_t oy = oy0; oy < oy1; oy++) {
        int32_t iy0 = oy * s - g->pad_top;
        bool rows_in = iy0 >= 0 && iy0 + g->kh <= g->in_h;
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            int32_t ix0 = ox * s - g->pad_left;
            bool in = rows_in && ix0 >= 0 && ix0 + g->kw <= g->in_w;
            float *dst = y + ((size_t)oy * g->out_w + ox) * c;
            if (in && g->kh == 2 && g->kw == 2) {
                const float *p0 = x + (size_t)iy0 * rs + (size_t)ix0 * c, *p1 = p0 + rs;
                for (int32_t b = 0; b < nb; b++) {
                    __mmask16 m = b == nb - 1 ? tail : 0xFFFF;
                    size_t o = (size_t)b * 16;
                    __m512 a = ninf;
                    a = _mm512_max_ps(_mm512_maskz_loadu_ps(m, p0 + o), a);
                    a = _mm512_max_ps(_mm512_maskz_loadu_ps(m, p0 + c + o), a);
                    a = _mm512_max_ps(_mm512_maskz_loadu_ps(m, p1 + o), a);
                    a = _mm512_max_ps(_mm512_maskz_loadu_ps(m, p1 + c + o), a);
                    _mm512_mask_storeu_ps(dst + o, m, a);
                }
                continue;
            }
            for (int32_t b = 0; b < nb; b++) {
                __mmask16 m = b == nb - 1 ? tail : 0xFFFF;
                size_t o = (size_t)b * 16;
                __m512 a = ninf;
                for (int32_t ky = 0; ky < g->kh; ky++) {
                    int32_t iy = iy0 + ky;
                    if (iy < 0 || iy >= g->in_h)
                        continue;
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t ix = ix0 + kx;
                        if (ix < 0 || ix >= g->in_w)
                            continue;
                        a = _mm512_max_ps(
                            _mm512_maskz_loadu_ps(m, x + (size_t)iy * rs + (size_t)ix * c + o), a);
                    }
                }
                _mm512_mask_storeu_ps(dst + o, m, a);
            }
        }
    }
}
