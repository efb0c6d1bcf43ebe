// AVX2/FMA depthwise convolution (kern/dwconv2d.h): 8 channels per ymm,
// otherwise the structure of the AVX-512 variant.
// For each output row and 8-channel block, a 3x3 kernel keeps its nine
// weight vectors and the bias in registers while it sweeps the row; interior
// pixels take no bounds checks, the border columns and rows (and other
// kernel sizes) go through a general per-tap path. The channel tail uses
// masked loads and stores, so nothing past c is written. Bias and the
// activation are fused before the store.
#include "nn/kern/act.h"
#include "nn/kern/dwconv2d.h"

#include "nn/kern/x86/act_simd.h"

#include <immintrin.h>
#include <stddef.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE __m256 load(const float *p, __m256i m, bool full)
{
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

static ALWAYS_INLINE void store(float *p, __m256 v, __m256i m, bool full, ft_act act, int n)
{
    if (full)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, m, v);
    if (act == FT_ACT_SIGMOID)
        for (int i = 0; i < n; i++)
            p[i] = ft_act_apply(p[i], act);
}

// One output pixel, any kernel size, taps outside the input skipped.
static ALWAYS_INLINE __m256 pixel_general(const ft_conv_geom *g, const float *x, const float *w,
                                          __m256 acc, int32_t oy, int32_t ox, int32_t cb, __m256i m,
                                          bool full)
{
    size_t c = (size_t)g->c_in;
    for (int32_t ky = 0; ky < g->kh; ky++) {
        int32_t iy = oy * g->stride - g->pad_top + ky;
        if (iy < 0 || iy >= g->in_h)
            continue;
        for (int32_t kx = 0; kx < g->kw; kx++) {
            int32_t ix = ox * g->stride - g->pad_left + kx;
            if (ix < 0 || ix >= g->in_w)
                continue;
            __m256 xv = load(x + ((size_t)iy * g->in_w + ix) * c + cb, m, full);
            __m256 wv = load(w + ((size_t)ky * g->kw + kx) * c + cb, m, full);
            acc = _mm256_fmadd_ps(xv, wv, acc);
        }
    }
    return acc;
}

static ALWAYS_INLINE void row_block(const ft_conv_geom *g, const float *x, const float *w,
                                    const float *bias, ft_act act, float *y, int32_t oy, int32_t cb,
                                    bool full)
{
    size_t c = (size_t)g->c_in;
    int n = g->c_in - cb < 8 ? g->c_in - cb : 8;
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 b = bias ? load(bias + cb, m, full) : _mm256_setzero_ps();
    float *yrow = y + (size_t)oy * g->out_w * c + cb;
    int32_t iy0 = oy * g->stride - g->pad_top, s = g->stride;

    // Interior output columns [x_lo, x_hi) take the 3x3 fast path; with
    // x_lo = x_hi = out_w every column goes through the general one.
    int32_t x_lo = g->out_w, x_hi = g->out_w;
    if (g->kh == 3 && g->kw == 3 && iy0 >= 0 && iy0 + 2 < g->in_h) {
        // First ox whose window starts inside, last whose window ends inside.
        x_lo = (g->pad_left + s - 1) / s;
        int32_t last = g->in_w - 3 + g->pad_left; // may be negative: floor, not truncate
        x_hi = last < 0 ? 0 : last / s + 1;
        if (x_hi > g->out_w)
            x_hi = g->out_w;
        if (x_lo > x_hi)
            x_lo = x_hi;
    }
    for (int32_t ox = 0; ox < x_lo; ox++)
        store(yrow + (size_t)ox * c, ft_act_ymm(pixel_general(g, x, w, b, oy, ox, cb, m, full), act),
              m, full, act, n);
    if (x_lo < x_hi) {
        size_t rs = (size_t)g->in_w * c; // input row stride
        const float *wp = w + cb;
        __m256 w00 = load(wp, m, full), w01 = load(wp + c, m, full),
               w02 = load(wp + 2 * c, m, full);
        __m256 w10 = load(wp + 3 * c, m, full), w11 = load(wp + 4 * c, m, full);
        __m256 w12 = load(wp + 5 * c, m, full), w20 = load(wp + 6 * c, m, full);
        __m256 w21 = load(wp + 7 * c, m, full), w22 = load(wp + 8 * c, m, full);
        const float *xp = x + ((size_t)iy0 * g->in_w + (size_t)(x_lo * s - g->pad_left)) * c + cb;
        size_t xs = (size_t)s * c;
        for (int32_t ox = x_lo; ox < x_hi; ox++, xp += xs) {
            __m256 a0 = _mm256_fmadd_ps(load(xp, m, full), w00, b);
            __m256 a1 = _mm256_mul_ps(load(xp + rs, m, full), w10);
            __m256 a2 = _mm256_mul_ps(load(xp + 2 * rs, m, full), w20);
            a0 = _mm256_fmadd_ps(load(xp + c, m, full), w01, a0);
            a1 = _mm256_fmadd_ps(load(xp + rs + c, m, full), w11, a1);
            a2 = _mm256_fmadd_ps(load(xp + 2 * rs + c, m, full), w21, a2);
            a0 = _mm256_fmadd_ps(load(xp + 2 * c, m, full), w02, a0);
            a1 = _mm256_fmadd_ps(load(xp + rs + 2 * c, m, full), w12, a1);
            a2 = _mm256_fmadd_ps(load(xp + 2 * rs + 2 * c, m, full), w22, a2);
            __m256 v = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
            store(yrow + (size_t)ox * c, ft_act_ymm(v, act), m, full, act, n);
        }
    }
    for (int32_t ox = x_hi; ox < g->out_w; ox++)
        store(yrow + (size_t)ox * c, ft_act_ymm(pixel_general(g, x, w, b, oy, ox, cb, m, full), act),
              m, full, act, n);
}

// Pixel-major order for a 3x3 row whose three input rows all exist and
// whose channel count is a multiple of 8: all channels of one pixel before
// the next, weights re-read from L1. Input and output are then walked
// sequentially, which the hardware prefetchers stream better than the
// strided channel-block sweeps when the input does not fit in L2.
static ALWAYS_INLINE void row_pixel_major(const ft_conv_geom *g, const float *x, const float *w,
                                          const float *bias, ft_act act, float *y, int32_t oy)
{
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int32_t s = g->stride, iy0 = oy * s - g->pad_top;
    int32_t x_lo = (g->pad_left + s - 1) / s, last = g->in_w - 3 + g->pad_left;
    int32_t x_hi = last < 0 ? 0 : last / s + 1;
    x_hi = x_hi > g->out_w ? g->out_w : x_hi;
    x_lo = x_lo > x_hi ? x_hi : x_lo;
    float *yrow = y + (size_t)oy * g->out_w * c;
    const __m256i ones = _mm256_set1_epi32(-1);
    for (int32_t ox = 0; ox < g->out_w; ox++) {
        float *yp = yrow + (size_t)ox * c;
        if (ox < x_lo || ox >= x_hi) {
            for (size_t cb = 0; cb < c; cb += 8) {
                __m256 b = bias ? _mm256_loadu_ps(bias + cb) : _mm256_setzero_ps();
                __m256 v = pixel_general(g, x, w, b, oy, ox, (int32_t)cb, ones, true);
                store(yp + cb, ft_act_ymm(v, act), ones, true, act, 8);
            }
            continue;
        }
        const float *xp = x + ((size_t)iy0 * g->in_w + (size_t)(ox * s - g->pad_left)) * c;
        for (size_t cb = 0; cb < c; cb += 8) {
            const float *xq = xp + cb, *wq = w + cb;
            __m256 a0 = bias ? _mm256_loadu_ps(bias + cb) : _mm256_setzero_ps();
            __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(xq + rs), _mm256_loadu_ps(wq + 3 * c));
            __m256 a2 = _mm256_mul_ps(_mm256_loadu_ps(xq + 2 * rs), _mm256_loadu_ps(wq + 6 * c));
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xq), _mm256_loadu_ps(wq), a0);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + c), _mm256_loadu_ps(wq + c), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + rs + c), _mm256_loadu_ps(wq + 4 * c), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + 2 * rs + c), _mm256_loadu_ps(wq + 7 * c), a2);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + 2 * c), _mm256_loadu_ps(wq + 2 * c), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + rs + 2 * c), _mm256_loadu_ps(wq + 5 * c), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xq + 2 * rs + 2 * c), _mm256_loadu_ps(wq + 8 * c),
                                 a2);
            __m256 v = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
            store(yp + cb, ft_act_ymm(v, act), ones, true, act, 8);
        }
    }
}

static ALWAYS_INLINE void rows_act(const ft_conv_geom *g, const float *x, const float *w,
                                   const float *bias, ft_act act, float *y, int32_t oy0,
                                   int32_t oy1)
{
    int32_t c_full = g->c_in / 8 * 8;
    // Measured on Zen 4: pixel-major wins for stride 2 (the input is twice
    // the output and streams from L3), channel blocks win for stride 1.
    bool pixel_major = g->stride == 2 && g->kh == 3 && g->kw == 3 && c_full == g->c_in;
    for (int32_t oy = oy0; oy < oy1; oy++) {
        int32_t iy0 = oy * g->stride - g->pad_top;
        if (pixel_major && iy0 >= 0 && iy0 + 2 < g->in_h) {
            row_pixel_major(g, x, w, bias, act, y, oy);
            continue;
        }
        for (int32_t cb = 0; cb < c_full; cb += 8)
            row_block(g, x, w, bias, act, y, oy, cb, true);
        if (c_full < g->c_in)
            row_block(g, x, w, bias, act, y, oy, c_full, false);
    }
}

void ft_kern_dwconv2d_f32_avx2(const ft_conv_geom *g, const float *x, const float *w,
                               const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1)
{
    // One copy of the loops per activation keeps the switch out of them.
    switch (act) {
    case FT_ACT_RELU:
        rows_act(g, x, w, bias, FT_ACT_RELU, y, oy0, oy1);
        break;
    case FT_ACT_RELU6:
        rows_act(g, x, w, bias, FT_ACT_RELU6, y, oy0, oy1);
        break;
    case FT_ACT_LEAKY:
        rows_act(g, x, w, bias, FT_ACT_LEAKY, y, oy0, oy1);
        break;
    case FT_ACT_SIGMOID:
        rows_act(g, x, w, bias, FT_ACT_SIGMOID, y, oy0, oy1);
        break;
    default:
        rows_act(g, x, w, bias, FT_ACT_NONE, y, oy0, oy1);
        break;
    }
}
