// AVX-512 packed GEMM (kern/pgemm.h): a 14 x 32 register-tiled micro-kernel
// (28 zmm accumulators, 2 zmm of B, 1 broadcast of A), B read from the
// 32-column panels packed at layer creation, A read in place (for 1x1
// convolutions A is the input map itself; see pack_a_pays for the one
// exception). Blocking: K in chunks of
// at most KC so a 14-row strip of A stays in L1 while the micro-kernel
// sweeps up to NC columns of panels, whose KC x NC block stays in L2.
// Partial sums of a K-chunk go through C; bias and activation are applied
// in registers after the last chunk. A single panel of at most 16 columns
// on A strides of 16, 32 or 64 (YuNet's 16-channel pointwise layers) runs
// 28 x 16 tiles instead (ukernel28). K = 16 on A stride 16 (YuNet's 16 ->
// 16 and 16 -> 32 layers) has its k loop fully unrolled (KK = 16): the same
// FMAs in the same order, B at constant offsets, no loop control.
#include "nn/kern/act.h"
#include "nn/kern/pgemm.h"

#include "nn/kern/x86/act_simd.h"
#include "nn/kern/x86/tile_avx512.h"

#include <immintrin.h>
#include <string.h>

#define MR 14
#define NR FT_PGEMM_NR
#define KC 256
#define NC 512
// A strips copied by pack_a: rows kc + APAD floats apart.
#define APAD 16

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct tile {
    const float *a; // A rows, lda apart
    size_t lda;
    const float *b;
    int32_t kc;
    float *c;
    size_t ldc;
    const float *bias; // this panel's 32 biases or NULL
    int32_t ncols;     // valid columns, 1..32
    bool first, last;
    ft_act act;
} tile;

// C[0..mr, 0..ncols) (+)= A[0..mr, 0..kc) * Bpanel[0..kc, 0..32); nv = 1 when
// only the first 16 columns are valid; LDA: A's row stride when it is a
// constant (every broadcast one immediate offset from one pointer), else 0
// (t->lda: 14 row pointers, one of which GCC keeps on the stack); KK: kc
// when it is a constant (the k loop fully unrolled), else 0 (t->kc).
static ALWAYS_INLINE void ukernel(const int mr, const int nv, const size_t LDA, const int32_t KK,
                                   const tile *t)
{
    __m512 acc[MR][2];
    const float *ar[MR];
#pragma GCC unroll 14
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
        ar[i] = t->a + (size_t)i * (LDA ? LDA : t->lda);
        // The C tile is written at the end: fetch its lines meanwhile.
        __builtin_prefetch(t->c + (size_t)i * t->ldc, 1, 3);
        if (nv > 1)
            __builtin_prefetch(t->c + (size_t)i * t->ldc + 16, 1, 3);
    }
    const float *b = t->b;
    const int32_t kc = KK ? KK : t->kc;
#pragma GCC unroll 16
    for (int32_t k = 0; k < kc; k++, b += NR) {
        __m512 b0 = _mm512_load_ps(b);
        __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(LDA ? t->a[(size_t)i * LDA + (size_t)k] : ar[i][k]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }

    ft_tile_store_zmm(acc, mr, nv, t->c, t->ldc, t->bias, t->ncols, t->first, t->last, t->act);
}

// One 16-column panel, 28 rows: 28 accumulators (two tiles' worth), one
// zmm of B, every broadcast a constant offset (A's stride LDA). Each C
// element is summed as in ukernel (k ascending, the same FMAs), so the
// bits are the same. A tile of 28 halves the per-tile work (call, masks,
// bias, B loads) of YuNet's 16-channel pointwise layers, where K is only
// 16-32: 2576 x 16 x 16 in cache 89 -> 105 GFLOP/s, 1288 x 32 x 16 111 ->
// 121 (docs/BENCHMARKS.md, 2026-12-05). KK as in ukernel: with K = 16
// unrolled, 2576 x 16 x 16 in cache 117-124 -> 139-146 GFLOP/s.
#define MR2 28
static ALWAYS_INLINE void ukernel28(const size_t LDA, const int32_t KK, const tile *t)
{
    __m512 acc[MR2];
#pragma GCC unroll 28
    for (int i = 0; i < MR2; i++) {
        acc[i] = _mm512_setzero_ps();
        __builtin_prefetch(t->c + (size_t)i * t->ldc, 1, 3);
    }
    const float *b = t->b;
    const int32_t kc = KK ? KK : t->kc;
#pragma GCC unroll 16
    for (int32_t k = 0; k < kc; k++, b += NR) {
        __m512 b0 = _mm512_load_ps(b);
#pragma GCC unroll 28
        for (int i = 0; i < MR2; i++)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(t->a[(size_t)i * LDA + (size_t)k]), b0, acc[i]);
    }
    __mmask16 mk = t->ncols >= 16 ? 0xFFFF : (__mmask16)((1u << t->ncols) - 1);
    __m512 bias = _mm512_setzero_ps();
    if (t->last && t->bias)
        bias = _mm512_maskz_loadu_ps(mk, t->bias);
#pragma GCC unroll 28
    for (int i = 0; i < MR2; i++) {
        float *c = t->c + (size_t)i * t->ldc;
        __m512 x = acc[i];
        if (!t->first)
            x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, c));
        if (t->last)
            x = ft_act_zmm(_mm512_add_ps(x, bias), t->act);
        _mm512_mask_storeu_ps(c, mk, x);
    }
    if (t->last && t->act == FT_ACT_SIGMOID)
        for (int i = 0; i < MR2; i++)
            for (int32_t j = 0; j < t->ncols; j++)
                t->c[(size_t)i * t->ldc + j] = ft_act_apply(t->c[(size_t)i * t->ldc + j], t->act);
}

// A 28-row tile when A's stride is one of the 16-column layers' (false:
// not taken, run two 14-row tiles).
static bool ukernel28_any(const tile *t)
{
    if (t->ncols > 16)
        return false;
    switch (t->lda) {
    case 16:
        if (t->kc == 16)
            ukernel28(16, 16, t);
        else
            ukernel28(16, 0, t);
        return true;
    case 32:
        ukernel28(32, 0, t);
        return true;
    case 64:
        ukernel28(64, 0, t);
        return true;
    default:
        return false;
    }
}

#define UK(mr)                                                                                     \
    case mr:                                                                                       \
        if (nv == 2)                                                                               \
            ukernel(mr, 2, 0, 0, t);                                                               \
        else                                                                                       \
            ukernel(mr, 1, 0, 0, t);                                                               \
        break;

static void ukernel_any(int mr, const tile *t)
{
    int nv = t->ncols > 16 ? 2 : 1;
    // Full tiles on the strides of the SSD's and tiny detector's pointwise
    // layers (A = the map, lda = c_in) and of copied strips: +3-4 % on
    // 1022 x 256 x 256 and 1022 x 512 x 512 over the row-pointer form.
    if (mr == MR && nv == 2) {
        switch (t->lda) {
        case 32:
            ukernel(MR, 2, 32, 0, t);
            return;
        case 64:
            ukernel(MR, 2, 64, 0, t);
            return;
        case 128:
            ukernel(MR, 2, 128, 0, t);
            return;
        case 256:
            ukernel(MR, 2, 256, 0, t);
            return;
        case KC + APAD:
            ukernel(MR, 2, KC + APAD, 0, t);
            return;
        default:
            break;
        }
    }
    // One 16-column panel (YuNet's 16-channel pointwise layers, its
    // 64 -> 16 heads): the same constant-stride form for the maps' own
    // strides.
    if (mr == MR && nv == 1) {
        switch (t->lda) {
        case 16:
            ukernel(MR, 1, 16, 0, t);
            return;
        case 32:
            ukernel(MR, 1, 32, 0, t);
            return;
        case 64:
            ukernel(MR, 1, 64, 0, t);
            return;
        default:
            break;
        }
    }
    if (mr == MR && nv == 2 && t->lda == 16) {
        if (t->kc == 16)
            ukernel(MR, 2, 16, 16, t);
        else
            ukernel(MR, 2, 16, 0, t);
        return;
    }
    switch (mr) {
        UK(1)
        UK(2) UK(3) UK(4) UK(5) UK(6) UK(7) UK(8) UK(9) UK(10) UK(11) UK(12) UK(13) default : UK(14)
    }
}

// Rows of A a multiple of 2 KiB apart map to the same few L1 sets (4K
// aliasing): 14 of them thrash an 8-way L1. Such strips are copied first,
// when enough panels reuse the copy, row by row to a buffer whose rows are
// kc + APAD floats apart (a plain copy: transposing to [kc][MR] cost as
// much again, 0.15 ms on a 1024 x 512 A).

static bool pack_a_pays(size_t lda, int32_t panels)
{
    return lda % 512 == 0 && panels >= 4;
}

static void pack_a(const float *a, size_t lda, int32_t kc, float *ap)
{
    for (int i = 0; i < MR; i++)
        memcpy(ap + (size_t)i * (size_t)(kc + APAD), a + (size_t)i * lda,
               (size_t)kc * sizeof(float));
}

void ft_kern_pgemm_f32_avx512(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0,
                              int32_t n1)
{
    int32_t k = g->k;
    int32_t n_kb = (k + KC - 1) / KC, kc_max = (k + n_kb - 1) / n_kb; // even K chunks
    float apack[(KC + APAD) * MR] __attribute__((aligned(64)));
    for (int32_t nb = n0; nb < n1; nb += NC) {
        int32_t nb_end = n1 - nb < NC ? n1 : nb + NC;
        for (int32_t k0 = 0; k0 < k; k0 += kc_max) {
            int32_t kc = k - k0 < kc_max ? k - k0 : kc_max;
            bool pack = pack_a_pays(g->lda, (nb_end - nb + NR - 1) / NR);
            for (int32_t i = m0; i < m1; i += MR) {
                int mr = m1 - i < MR ? m1 - i : MR;
                const float *a = g->a + (size_t)i * g->lda + k0;
                size_t lda = g->lda;
                // One panel of at most 16 columns: 28 rows at a time.
                if (nb_end - nb <= 16 && m1 - i >= MR2 && !pack) {
                    tile t = {.a = a,
                              .lda = lda,
                              .b = g->bp + ((size_t)(nb / NR) * k + k0) * NR,
                              .kc = kc,
                              .c = g->c + (size_t)i * g->ldc + nb,
                              .ldc = g->ldc,
                              .bias = g->bias ? g->bias + nb : NULL,
                              .ncols = nb_end - nb,
                              .first = k0 == 0,
                              .last = k0 + kc == k,
                              .act = g->act};
                    if (ukernel28_any(&t)) {
                        i += MR2 - MR;
                        continue;
                    }
                }
                if (pack && mr == MR) {
                    pack_a(a, lda, kc, apack);
                    a = apack;
                    lda = (size_t)kc + APAD;
                }
                for (int32_t j = nb; j < nb_end; j += NR) {
                    tile t = {.a = a,
                              .lda = lda,
                              .b = g->bp + ((size_t)(j / NR) * k + k0) * NR,
                              .kc = kc,
                              .c = g->c + (size_t)i * g->ldc + j,
                              .ldc = g->ldc,
                              .bias = g->bias ? g->bias + j : NULL,
                              .ncols = nb_end - j < NR ? nb_end - j : NR,
                              .first = k0 == 0,
                              .last = k0 + kc == k,
                              .act = g->act};
                    ukernel_any(mr, &t);
                }
            }
        }
    }
}
