// AVX-512 direct convolution (kern/conv2d.h, "dconv2d"): the packed GEMM's
// 14 x 32 register tile (28 zmm accumulators, 2 zmm of B and 1 broadcast
// per k, see pgemm_avx512.c) with A read straight from the input map. For
// 14 consecutive output pixels of one row and kernel row ky, tap kk of
// pixel i is x[row(ky) + i*lda + kk] with lda = stride*c_in and kk < kw*c_in:
// the kernel walks the kh runs one after the other, the accumulators stay
// in registers across them, and bias + activation are applied before the
// single store. Tiles whose patches reach outside the input (padding, the
// right edge) copy their input rows (zeros outside) to a stack buffer, or,
// for strides wider than the kernel, their patches, and run the same tile
// on it. For the 3-channel first layers (lda 3 or 6) the
// full tiles get copies with lda a constant: every broadcast is then one
// immediate offset from one pointer. Interior runs of 28 pixels of a
// 16-column layer at run stride 6 (YuNet's 3->16 stride-2 stem) take a
// 28 x 16 tile (dkernel28), as the GEMM's 16-column layers do.
#include "nn/kern/act.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/pgemm.h"

#include "nn/kern/x86/act_simd.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#define MR 14
#define NR FT_PGEMM_NR

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct dtile {
    const float *run[FT_DCONV_MAX_KH]; // per kernel row: pixel 0's run of taps
    size_t lda;                        // floats between two pixels' runs
    int32_t kh, len;                   // runs, taps per run (kw * c_in)
    const float *b;                    // the panel: [kh * len][32]
    float *c;                          // pixel 0's output at the panel
    size_t ldc;
    const float *bias; // the panel's biases or NULL
    int32_t ncols;     // valid columns, 1..32
    ft_act act;
} dtile;

// C[0..mr, 0..ncols) = act(patches * panel + bias); nv = 1 when only the
// first 16 columns are valid; LDA: the run stride when it is a constant,
// else 0 (t->lda).
static ALWAYS_INLINE void dkernel(const int mr, const int nv, const size_t LDA, const dtile *t)
{
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    const size_t lda = LDA ? LDA : t->lda;
    const float *b = t->b;
    for (int32_t ky = 0; ky < t->kh; ky++) {
        const float *a = t->run[ky];
        for (int32_t kk = 0; kk < t->len; kk++, b += NR) {
            __m512 b0 = _mm512_load_ps(b);
            __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
            for (int i = 0; i < mr; i++) {
                __m512 av = _mm512_set1_ps(a[(size_t)i * lda + (size_t)kk]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                if (nv > 1)
                    acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            }
        }
    }
    __mmask16 mk[2];
    mk[0] = t->ncols >= 16 ? 0xFFFF : (__mmask16)((1u << t->ncols) - 1);
    mk[1] = t->ncols >= 32 ? 0xFFFF : t->ncols > 16 ? (__mmask16)((1u << (t->ncols - 16)) - 1) : 0;
    __m512 bias[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    if (t->bias) {
        bias[0] = _mm512_maskz_loadu_ps(mk[0], t->bias);
        if (nv > 1)
            bias[1] = _mm512_maskz_loadu_ps(mk[1], t->bias + 16);
    }
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        float *c = t->c + (size_t)i * t->ldc;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            _mm512_mask_storeu_ps(c + 16 * v, mk[v],
                                  ft_act_zmm(_mm512_add_ps(acc[i][v], bias[v]), t->act));
    }
    if (t->act == FT_ACT_SIGMOID)
        for (int i = 0; i < mr; i++)
            for (int32_t j = 0; j < t->ncols; j++)
                t->c[(size_t)i * t->ldc + j] = ft_act_apply(t->c[(size_t)i * t->ldc + j], t->act);
}

// 28 pixels of one 16-column panel at a constant run stride LDA (YuNet's
// 3->16 stride-2 stem: lda 6): 28 accumulators, one zmm of B per tap, each
// output summed as in dkernel (taps in the same order, the same FMAs), so
// the same bits; half dkernel's B loads and per-tile work.
#define MR2 28
static ALWAYS_INLINE void dkernel28(const size_t LDA, const dtile *t)
{
    __m512 acc[MR2];
#pragma GCC unroll 28
    for (int i = 0; i < MR2; i++)
        acc[i] = _mm512_setzero_ps();
    const float *b = t->b;
    for (int32_t ky = 0; ky < t->kh; ky++) {
        const float *a = t->run[ky];
        for (int32_t kk = 0; kk < t->len; kk++, b += NR) {
            __m512 b0 = _mm512_load_ps(b);
#pragma GCC unroll 28
            for (int i = 0; i < MR2; i++)
                acc[i] =
                    _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)i * LDA + (size_t)kk]), b0, acc[i]);
        }
    }
    __mmask16 mk = t->ncols >= 16 ? 0xFFFF : (__mmask16)((1u << t->ncols) - 1);
    __m512 bias = t->bias ? _mm512_maskz_loadu_ps(mk, t->bias) : _mm512_setzero_ps();
#pragma GCC unroll 28
    for (int i = 0; i < MR2; i++)
        _mm512_mask_storeu_ps(t->c + (size_t)i * t->ldc, mk,
                              ft_act_zmm(_mm512_add_ps(acc[i], bias), t->act));
    if (t->act == FT_ACT_SIGMOID)
        for (int i = 0; i < MR2; i++)
            for (int32_t j = 0; j < t->ncols; j++)
                t->c[(size_t)i * t->ldc + j] = ft_act_apply(t->c[(size_t)i * t->ldc + j], t->act);
}

#define DK(mr)                                                                                     \
    case mr:                                                                                       \
        if (nv == 2)                                                                               \
            dkernel(mr, 2, 0, t);                                                                  \
        else                                                                                       \
            dkernel(mr, 1, 0, t);                                                                  \
        break;

static void dkernel_any(int mr, const dtile *t)
{
    int nv = t->ncols > 16 ? 2 : 1;
    if (mr == MR && nv == 2 && t->lda == 6) {
        dkernel(MR, 2, 6, t);
        return;
    }
    if (mr == MR && nv == 2 && t->lda == 3) {
        dkernel(MR, 2, 3, t);
        return;
    }
    // 16-channel first layers (YuNet's 3->16 stride-2 stem): the same tile
    // with one zmm of B, broadcasts at constant offsets.
    if (mr == MR && nv == 1 && t->lda == 6) {
        dkernel(MR, 1, 6, t);
        return;
    }
    switch (mr) {
        DK(1)
        DK(2) DK(3) DK(4) DK(5) DK(6) DK(7) DK(8) DK(9) DK(10) DK(11) DK(12) DK(13) default : DK(14)
    }
}

void ft_kern_dconv2d_f32_avx512(const ft_conv_geom *g, const float *x, const float *bp,
                                const float *bias, ft_act act, float *y, int32_t oy0,
                                int32_t oy1)
{
    FT_ASSERT(g->kh <= FT_DCONV_MAX_KH && g->kh * g->kw * g->c_in <= FT_DCONV_MAX_K);
    const int32_t s = g->stride, len = g->kw * g->c_in, k = g->kh * len;
    const size_t rs = (size_t)g->in_w * g->c_in; // input row stride
    float patch[MR * FT_DCONV_MAX_K] __attribute__((aligned(64)));
    for (int32_t oy = oy0; oy < oy1; oy++) {
        int32_t iy0 = oy * s - g->pad_top;
        bool rows_in = iy0 >= 0 && iy0 + g->kh <= g->in_h;
        for (int32_t ox = 0; ox < g->out_w; ox += MR) {
            int mr = g->out_w - ox < MR ? g->out_w - ox : MR;
            int32_t ix0 = ox * s - g->pad_left, ix1 = (ox + mr - 1) * s - g->pad_left + g->kw;
            // 28 interior pixels of a 16-column layer at run stride 6.
            if (rows_in && g->c_out <= 16 && g->c_in * s == 6 && g->out_w - ox >= MR2 && ix0 >= 0 &&
                (ox + MR2 - 1) * s - g->pad_left + g->kw <= g->in_w) {
                dtile t = {.kh = g->kh,
                           .len = len,
                           .ldc = (size_t)g->c_out,
                           .act = act,
                           .lda = 6,
                           .b = bp,
                           .bias = bias,
                           .ncols = g->c_out,
                           .c = y + ((size_t)oy * g->out_w + ox) * g->c_out};
                for (int32_t ky = 0; ky < g->kh; ky++)
                    t.run[ky] = x + (size_t)(iy0 + ky) * rs + (size_t)ix0 * g->c_in;
                dkernel28(6, &t);
                ox += MR2 - MR;
                continue;
            }
            dtile t = {.kh = g->kh, .len = len, .ldc = (size_t)g->c_out, .act = act};
            size_t span = (size_t)(ix1 - ix0) * g->c_in; // floats of one row's runs
            if (rows_in && ix0 >= 0 && ix1 <= g->in_w) {
                t.lda = (size_t)s * g->c_in;
                for (int32_t ky = 0; ky < g->kh; ky++)
                    t.run[ky] = x + (size_t)(iy0 + ky) * rs + (size_t)ix0 * g->c_in;
            } else if (s <= g->kw && (size_t)g->kh * span <= sizeof patch / sizeof *patch) {
                // The tile's kh rows over columns [ix0, ix1) copied with
                // zeros outside the input: the runs keep their layout (lda
                // = stride * c_in), a few memcpy calls instead of a patch
                // per pixel. The left and top edges of a padded layer.
                int32_t a = ix0 < 0 ? 0 : ix0, b = ix1 > g->in_w ? g->in_w : ix1;
                size_t c = (size_t)g->c_in;
                for (int32_t ky = 0; ky < g->kh; ky++) {
                    float *d = patch + (size_t)ky * span;
                    int32_t iy = iy0 + ky;
                    t.run[ky] = d;
                    if (iy < 0 || iy >= g->in_h || b <= a) {
                        memset(d, 0, span * sizeof(float));
                        continue;
                    }
                    memset(d, 0, (size_t)(a - ix0) * c * sizeof(float));
                    memcpy(d + (size_t)(a - ix0) * c, x + (size_t)iy * rs + (size_t)a * c,
                           (size_t)(b - a) * c * sizeof(float));
                    memset(d + (size_t)(b - ix0) * c, 0, (size_t)(ix1 - b) * c * sizeof(float));
                }
                t.lda = (size_t)s * g->c_in;
            } else {
                // Patches in (ky, kx, ci) order, zeros for taps outside.
                memset(patch, 0, (size_t)mr * k * sizeof(float));
                for (int i = 0; i < mr; i++)
                    for (int32_t ky = 0; ky < g->kh; ky++) {
                        int32_t iy = iy0 + ky;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int32_t kx = 0; kx < g->kw; kx++) {
                            int32_t ix = (ox + i) * s - g->pad_left + kx;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            // A few floats: a loop, not a libc call per tap.
                            float *pd = patch + (size_t)i * k + (size_t)ky * len +
                                        (size_t)kx * g->c_in;
                            const float *ps = x + (size_t)iy * rs + (size_t)ix * g->c_in;
                            for (int32_t ci = 0; ci < g->c_in; ci++)
                                pd[ci] = ps[ci];
                        }
                    }
                t.lda = (size_t)k;
                for (int32_t ky = 0; ky < g->kh; ky++)
                    t.run[ky] = patch + (size_t)ky * len;
            }
            for (int32_t j = 0; j < g->c_out; j += NR) {
                t.b = bp + (size_t)(j / NR) * k * NR;
                t.c = y + ((size_t)oy * g->out_w + ox) * g->c_out + j;
                t.bias = bias ? bias + j : NULL;
                t.ncols = g->c_out - j < NR ? g->c_out - j : NR;
                dkernel_any(mr, &t);
            }
        }
    }
}
