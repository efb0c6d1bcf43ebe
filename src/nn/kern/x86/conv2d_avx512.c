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
// 28 x 16 tile (dkernel28), as the GEMM's 16-column layers do. Layers with
// more input channels run an implicit GEMM with pgemm_avx512.c's K chunks
// (see "Many input channels" below): the same bits as im2col + that GEMM.
#include "nn/kern/act.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/pgemm.h"

#include "nn/kern/x86/act_simd.h"
#include "nn/kern/x86/tile_avx512.h"

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
    ft_tile_store_zmm(acc, mr, nv, t->c, t->ldc, t->bias, t->ncols, true, true, t->act);
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
        // The same kernel row of the tile after next (2 * 28 pixels at
        // run stride 6: 336 floats on, 11 lines): at 1080p the stem reads
        // its 25 MB input from memory, which the hardware prefetcher alone
        // left 3-4 % of the network's time waiting for. A prefetch never
        // faults, so it may point past the end of x.
        for (int32_t j = 0; j < 11; j++)
            __builtin_prefetch(a + 2 * MR2 * LDA + 16 * j, 0, 3);
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

// ---- Many input channels: the GEMM's tile on per-tap pointers ----
//
// A layer with more than FT_DCONV_RUNS_MAX_CIN input channels (the
// ResNet's 3x3 convolutions: 32..256 channels) runs an implicit GEMM: the
// GEMM's 14 x 32 tile over 14 consecutive pixels of the flattened output
// (a tile may span output rows), where the c_in floats of tap (ky, kx) of
// pixel i are read where they lie in x, or from a run of zeros when the
// tap is outside it (the im2col copy holds zeros there, and they are
// multiplied the same). The loops are pgemm_avx512.c's: K in its even
// chunks of at most TAPS_KC, a chunk's FMA chain from zero, its sum added
// to C's (acc + C) after the first, bias and activation after the last. So
// each output is the same sum in the same order: the same bits as im2col +
// pgemm_avx512 (nn.dconv_gemm_bits). Pixels go in blocks of up to
// TAPS_BLOCK tiles whose tap pointers are listed once; each chunk sweeps
// the block, its B rows staying in L1 as the GEMM's do. A tap outside x
// for every pixel of a tile is skipped (a 3x3 SAME layer on a 1x1 map
// reads 1/9 of its weights: the ResNet's last 256-channel conv, 0.043 ->
// 0.004 ms): the GEMM adds its products, 0 * w = +-0, to the chunk's sum,
// which changes no bits unless a weight is inf or NaN, or the sum is
// exactly -0 (every product so far -0 or under 2^-150 in magnitude) and
// the bias -0 too. While a tile runs
// a panel's chunk, the next panel's chunk (or the next chunk's first
// panel) is fetched to L2: the ResNet's 3x3x256 layers stream 2.4 MB of
// weights for 9 pixels, 0.11 -> 0.09 ms each in bench_nn's net (from L3),
// 0.069 -> 0.066 ms warm.

// pgemm_avx512.c's KC: its K chunks fix the order of the sums, so they
// must be the same.
#define TAPS_KC 256
#define TAPS_BLOCK 12
#define TAPS_TABLE (TAPS_BLOCK * 9 * MR) // pointers: 12 tiles of 3x3 taps
static const float taps_zeros[FT_DCONV_MAX_CIN] __attribute__((aligned(64)));

typedef struct itile {
    const float *const *tap; // [n_taps][MR]: tap t of pixel i, c_in floats
    uint32_t used;           // bit t: tap t is inside x for some pixel
    int32_t c_in;
    int32_t k0, kc; // this chunk: k in [k0, k0 + kc)
    const float *b;  // the panel's row k0: [kc][32]
    const float *pf; // kc rows of B fetched to L2 meanwhile (the next panel's)
    float *c;        // pixel 0's output at the panel; pixels ldc apart
    size_t ldc;
    const float *bias; // the panel's biases or NULL
    int32_t ncols;     // valid columns, 1..32
    bool first, last;
    ft_act act;
} itile;

// pgemm_avx512.c's ukernel on tap pointers: C[0..mr, 0..ncols) (+)= the
// chunk's patches * the panel's rows; nv = 1 when only the first 16
// columns are valid.
static ALWAYS_INLINE void ikernel(const int mr, const int nv, const itile *t)
{
    __m512 acc[MR][2];
    ft_tile_zero_zmm(acc, mr, nv, t->c, t->ldc);
    const float *b = t->b, *pf = t->pf;
    const int32_t c_in = t->c_in;
    int32_t tp = t->k0 / c_in, c0 = t->k0 % c_in, left = t->kc;
    while (left > 0) {
        const float *const *ap = t->tap + (size_t)tp * MR;
        const float *ar[MR];
#pragma GCC unroll 14
        for (int i = 0; i < mr; i++)
            ar[i] = ap[i];
        int32_t c1 = c_in - c0 < left ? c_in : c0 + left;
        int32_t cs = c0;
        if (!(t->used >> tp & 1)) { // zeros for every pixel: see the banner
            b += (size_t)(c1 - c0) * NR;
            pf += (size_t)(c1 - c0) * NR;
            cs = c1;
        }
        for (int32_t c = cs; c < c1; c++, b += NR, pf += NR) {
            __m512 b0 = _mm512_load_ps(b);
            __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
            __builtin_prefetch(pf, 0, 2);
            __builtin_prefetch(pf + 16, 0, 2);
#pragma GCC unroll 14
            for (int i = 0; i < mr; i++) {
                __m512 av = _mm512_set1_ps(ar[i][c]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                if (nv > 1)
                    acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            }
        }
        left -= c1 - c0;
        c0 = 0;
        tp++;
    }
    ft_tile_store_zmm(acc, mr, nv, t->c, t->ldc, t->bias, t->ncols, t->first, t->last, t->act);
}

#define IK(mr)                                                                                     \
    case mr:                                                                                       \
        if (nv == 2)                                                                               \
            ikernel(mr, 2, t);                                                                     \
        else                                                                                       \
            ikernel(mr, 1, t);                                                                     \
        break;

static void ikernel_any(int mr, const itile *t)
{
    int nv = t->ncols > 16 ? 2 : 1;
    switch (mr) {
        IK(1)
        IK(2) IK(3) IK(4) IK(5) IK(6) IK(7) IK(8) IK(9) IK(10) IK(11) IK(12) IK(13) default : IK(14)
    }
}

// Rows inside the input (no padding: conv.c pads a copy first): a tile is
// up to 14 pixels of one output row, pixel i's kernel row ky one run of
// kw * c_in floats at a + ky * rs + i * LDA (LDA = stride * c_in, a
// constant: every broadcast one immediate offset from one pointer), so a
// chunk walks at most kh runs instead of kh * kw taps. The same sums as
// ikernel (k ascending within the same chunks), so the same bits.
typedef struct rtile {
    const float *a; // pixel 0's tap (0, 0)
    size_t rs;      // floats between two input rows
    int32_t len;    // kw * c_in
    int32_t k0, kc;
    const float *b;
    float *c;
    size_t ldc;
    const float *bias;
    int32_t ncols;
    bool first, last;
    ft_act act;
} rtile;

static ALWAYS_INLINE void rkernel(const int mr, const size_t LDA, const rtile *t)
{
    __m512 acc[MR][2];
    ft_tile_zero_zmm(acc, mr, 2, t->c, t->ldc);
    const float *b = t->b;
    const int32_t len = t->len;
    int32_t ky = t->k0 / len, o = t->k0 % len, left = t->kc;
    while (left > 0) {
        const float *a = t->a + (size_t)ky * t->rs;
        int32_t c1 = len - o < left ? len : o + left;
        for (int32_t kk = o; kk < c1; kk++, b += NR) {
            __m512 b0 = _mm512_load_ps(b);
            __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
            for (int i = 0; i < mr; i++) {
                __m512 av = _mm512_set1_ps(a[(size_t)i * LDA + (size_t)kk]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            }
        }
        left -= c1 - o;
        o = 0;
        ky++;
    }
    ft_tile_store_zmm(acc, mr, 2, t->c, t->ldc, t->bias, t->ncols, t->first, t->last, t->act);
}

#define RK(mr, lda)                                                                                \
    case mr:                                                                                       \
        rkernel(mr, lda, t);                                                                       \
        return true;

#define RK_LDA(lda)                                                                                \
    case lda:                                                                                      \
        switch (mr) {                                                                              \
            RK(7, lda) RK(8, lda) RK(9, lda) RK(10, lda) RK(11, lda) RK(12, lda) RK(13, lda)       \
            RK(14, lda) default : return false;                                                    \
        }

// A row tile of 7..14 pixels, more than 16 columns, at run stride 32, 64
// or 128 (the ResNet's 3x3 layers: 32 or 64 channels at stride 1 or 2, 128
// at stride 1); false: not taken.
static bool rkernel_any(int mr, size_t lda, const rtile *t)
{
    if (t->ncols <= 16)
        return false;
    switch (lda) {
        RK_LDA(32)
        RK_LDA(64)
        RK_LDA(128)
    default:
        return false;
    }
}

static void dconv_taps(const ft_conv_geom *g, const float *x, const float *bp, const float *bias,
                       ft_act act, float *y, int32_t oy0, int32_t oy1)
{
    const int32_t n_taps = g->kh * g->kw, k = n_taps * g->c_in;
    FT_ASSERT(n_taps <= FT_DCONV_MAX_TAPS && g->c_in <= FT_DCONV_MAX_CIN);
    const int32_t n_kb = (k + TAPS_KC - 1) / TAPS_KC, kc_max = (k + n_kb - 1) / n_kb;
    const int32_t s = g->stride, len = g->kw * g->c_in;
    const size_t lda = (size_t)s * g->c_in, rs = (size_t)g->in_w * g->c_in;
    if (g->pad_top == 0 && g->pad_left == 0 && (oy1 - 1) * s + g->kh <= g->in_h &&
        (g->out_w - 1) * s + g->kw <= g->in_w && g->out_w >= FT_DCONV_ROWS_MIN_W &&
        (lda == 32 || lda == 64 || lda == 128) && (g->c_out % NR == 0 || g->c_out % NR > 16)) {
        // Row tiles of balanced sizes (35 = 12 + 12 + 11), blocks of rows
        // of ~168 pixels.
        const int32_t n_t = (g->out_w + MR - 1) / MR;
        const int32_t rows = 168 / g->out_w > 1 ? 168 / g->out_w : 1;
        for (int32_t r0 = oy0; r0 < oy1; r0 += rows) {
            int32_t r1 = oy1 - r0 < rows ? oy1 : r0 + rows;
            for (int32_t k0 = 0; k0 < k; k0 += kc_max) {
                int32_t kc = k - k0 < kc_max ? k - k0 : kc_max;
                rtile t = {.rs = rs,
                           .len = len,
                           .k0 = k0,
                           .kc = kc,
                           .ldc = (size_t)g->c_out,
                           .first = k0 == 0,
                           .last = k0 + kc == k,
                           .act = act};
                for (int32_t oy = r0; oy < r1; oy++)
                    for (int32_t ti = 0, ox = 0; ti < n_t; ti++) {
                        int32_t ox1 = (int32_t)((int64_t)g->out_w * (ti + 1) / n_t);
                        int mr = ox1 - ox;
                        for (int32_t j = 0; j < g->c_out; j += NR) {
                            t.a = x + (size_t)oy * s * rs + (size_t)ox * lda;
                            t.b = bp + ((size_t)(j / NR) * k + k0) * NR;
                            t.c = y + ((size_t)oy * g->out_w + ox) * g->c_out + j;
                            t.bias = bias ? bias + j : NULL;
                            t.ncols = g->c_out - j < NR ? g->c_out - j : NR;
                            bool ok = rkernel_any(mr, lda, &t);
                            FT_ASSERT(ok);
                        }
                        ox = ox1;
                    }
            }
        }
        return;
    }
    const float *tap[TAPS_TABLE];
    uint32_t used[TAPS_TABLE / MR];
    const int32_t per_tile = n_taps * MR, block = TAPS_TABLE / per_tile;
    const int32_t m1 = oy1 * g->out_w;
    int32_t oy = oy0, ox = 0; // the next pixel to list
    for (int32_t mb = oy0 * g->out_w; mb < m1; mb += block * MR) {
        int32_t mb1 = m1 - mb < block * MR ? m1 : mb + block * MR;
        // Tiles of balanced sizes (16 = 8 + 8, not 14 + 2): tile p holds
        // pixels [mb + n * p / n_t, mb + n * (p + 1) / n_t); their tap
        // pointers: tap t of pixel i at tap[p * per_tile + t * MR + i].
        const int32_t n = mb1 - mb, n_t = (n + MR - 1) / MR;
        for (int32_t p = 0; p < n_t; p++) {
            int32_t i1 = (int32_t)((int64_t)n * (p + 1) / n_t) - (int32_t)((int64_t)n * p / n_t);
            used[p] = 0;
            for (int32_t i = 0; i < i1; i++) {
                const float **tp = tap + (size_t)p * per_tile + (size_t)i;
                int32_t iy0 = oy * g->stride - g->pad_top, ix0 = ox * g->stride - g->pad_left;
                for (int32_t ky = 0; ky < g->kh; ky++) {
                    int32_t iy = iy0 + ky;
                    bool row_in = iy >= 0 && iy < g->in_h;
                    const float *row = x + (size_t)(row_in ? iy : 0) * g->in_w * g->c_in;
                    for (int32_t kx = 0; kx < g->kw; kx++, tp += MR) {
                        int32_t ix = ix0 + kx;
                        bool in = row_in && ix >= 0 && ix < g->in_w;
                        *tp = in ? row + (size_t)ix * g->c_in : taps_zeros;
                        used[p] |= (uint32_t)in << (ky * g->kw + kx);
                    }
                }
                if (++ox == g->out_w) {
                    ox = 0;
                    oy++;
                }
            }
        }
        for (int32_t k0 = 0; k0 < k; k0 += kc_max) {
            int32_t kc = k - k0 < kc_max ? k - k0 : kc_max;
            for (int32_t p = 0; p < n_t; p++) {
                int32_t m = mb + (int32_t)((int64_t)n * p / n_t);
                int mr = mb + (int32_t)((int64_t)n * (p + 1) / n_t) - m;
                itile t = {.tap = tap + (size_t)p * per_tile,
                           .used = used[p],
                           .c_in = g->c_in,
                           .k0 = k0,
                           .kc = kc,
                           .ldc = (size_t)g->c_out,
                           .first = k0 == 0,
                           .last = k0 + kc == k,
                           .act = act};
                for (int32_t j = 0; j < g->c_out; j += NR) {
                    t.b = bp + ((size_t)(j / NR) * k + k0) * NR;
                    t.pf = j + NR < g->c_out ? t.b + (size_t)k * NR
                           : k0 + kc < k     ? bp + (size_t)(k0 + kc) * NR
                                             : t.b;
                    t.c = y + (size_t)m * g->c_out + j;
                    t.bias = bias ? bias + j : NULL;
                    t.ncols = g->c_out - j < NR ? g->c_out - j : NR;
                    ikernel_any(mr, &t);
                }
            }
        }
    }
}

void ft_kern_dconv2d_f32_avx512(const ft_conv_geom *g, const float *x, const float *bp,
                                const float *bias, ft_act act, float *y, int32_t oy0,
                                int32_t oy1)
{
    if (g->c_in > FT_DCONV_RUNS_MAX_CIN) {
        dconv_taps(g, x, bp, bias, act, y, oy0, oy1);
        return;
    }
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
