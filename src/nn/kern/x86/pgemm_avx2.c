// AVX2/FMA packed GEMM (kern/pgemm.h): a 6 x 16 register-tiled micro-kernel
// (12 ymm accumulators, 2 ymm of B, 1 broadcast of A) over each half of the
// 32-column panels, for CPUs without AVX-512. Same blocking as the AVX-512
// variant: K in chunks of at most KC (partial sums go through C), a 6-row
// strip of A kept in L1 while the kernel sweeps up to NC columns whose
// panels stay in L2; bias and activation fused after the last chunk.
#include "nn/kern/act.h"
#include "nn/kern/pgemm.h"

#include "nn/kern/x86/act_simd.h"

#include <immintrin.h>

#define MR 6
#define NR FT_PGEMM_NR
#define KC 256
#define NC 512

#define ALWAYS_INLINE inline __attribute__((always_inline))

// Lanes [0, n) set, n in 0..8.
static ALWAYS_INLINE __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

typedef struct tile {
    const float *a; // A rows (lda apart), or a packed strip [kc][MR] (lda = 0)
    size_t lda;
    const float *b; // this half panel: 16 columns, rows NR floats apart
    int32_t kc;
    float *c;
    size_t ldc;
    const float *bias; // this half panel's 16 biases or NULL
    int32_t ncols;     // valid columns, 1..16
    bool first, last;
    ft_act act;
} tile;

static ALWAYS_INLINE void ukernel(const int mr, const bool packed, const tile *t)
{
    __m256 acc[MR][2];
    const float *ar[MR];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
        ar[i] = t->a + (size_t)i * t->lda;
        __builtin_prefetch(t->c + (size_t)i * t->ldc, 1, 3);
    }
    const float *b = t->b, *ap = t->a;
    for (int32_t k = 0; k < t->kc; k++, b += NR, ap += MR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(packed ? ap + i : ar[i] + k);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }

    bool full = t->ncols == 16;
    __m256i mk[2] = {lane_mask(t->ncols), lane_mask(t->ncols - 8)};
    __m256 bias[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    if (t->last && t->bias) {
        bias[0] = _mm256_maskload_ps(t->bias, mk[0]);
        bias[1] = _mm256_maskload_ps(t->bias + 8, mk[1]);
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *c = t->c + (size_t)i * t->ldc;
#pragma GCC unroll 2
        for (int v = 0; v < 2; v++) {
            __m256 x = acc[i][v];
            if (!t->first)
                x = _mm256_add_ps(x, full ? _mm256_loadu_ps(c + 8 * v)
                                          : _mm256_maskload_ps(c + 8 * v, mk[v]));
            if (t->last)
                x = ft_act_ymm(_mm256_add_ps(x, bias[v]), t->act);
            if (full)
                _mm256_storeu_ps(c + 8 * v, x);
            else
                _mm256_maskstore_ps(c + 8 * v, mk[v], x);
        }
    }
    if (t->last && t->act == FT_ACT_SIGMOID)
        for (int i = 0; i < mr; i++)
            for (int32_t j = 0; j < t->ncols; j++)
                t->c[(size_t)i * t->ldc + j] = ft_act_apply(t->c[(size_t)i * t->ldc + j], t->act);
}

static void ukernel_any(int mr, const tile *t)
{
    if (t->lda == 0) { // packed strips are always full height
        ukernel(MR, true, t);
        return;
    }
    switch (mr) {
    case 1:
        ukernel(1, false, t);
        break;
    case 2:
        ukernel(2, false, t);
        break;
    case 3:
        ukernel(3, false, t);
        break;
    case 4:
        ukernel(4, false, t);
        break;
    case 5:
        ukernel(5, false, t);
        break;
    default:
        ukernel(6, false, t);
        break;
    }
}

// See pgemm_avx512.c: strides that are multiples of 2 KiB alias in L1.
static bool pack_a_pays(size_t lda, int32_t panels)
{
    return lda % 512 == 0 && panels >= 4;
}

static void pack_a(const float *a, size_t lda, int32_t kc, float *ap)
{
    for (int i = 0; i < MR; i++)
        for (int32_t k = 0; k < kc; k++)
            ap[k * MR + i] = a[(size_t)i * lda + k];
}

void ft_kern_pgemm_f32_avx2(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0, int32_t n1)
{
    int32_t k = g->k;
    int32_t n_kb = (k + KC - 1) / KC, kc_max = (k + n_kb - 1) / n_kb;
    float apack[KC * MR] __attribute__((aligned(64)));
    for (int32_t nb = n0; nb < n1; nb += NC) {
        int32_t nb_end = n1 - nb < NC ? n1 : nb + NC;
        for (int32_t k0 = 0; k0 < k; k0 += kc_max) {
            int32_t kc = k - k0 < kc_max ? k - k0 : kc_max;
            bool pack = pack_a_pays(g->lda, (nb_end - nb + NR - 1) / NR);
            for (int32_t i = m0; i < m1; i += MR) {
                int mr = m1 - i < MR ? m1 - i : MR;
                const float *a = g->a + (size_t)i * g->lda + k0;
                size_t lda = g->lda;
                if (pack && mr == MR) {
                    pack_a(a, lda, kc, apack);
                    a = apack;
                    lda = 0;
                }
                for (int32_t j = nb; j < nb_end; j += 16) {
                    tile t = {.a = a,
                              .lda = lda,
                              .b = g->bp + ((size_t)(j / NR) * k + k0) * NR + j % NR,
                              .kc = kc,
                              .c = g->c + (size_t)i * g->ldc + j,
                              .ldc = g->ldc,
                              .bias = g->bias ? g->bias + j : NULL,
                              .ncols = nb_end - j < 16 ? nb_end - j : 16,
                              .first = k0 == 0,
                              .last = k0 + kc == k,
                              .act = g->act};
                    ukernel_any(mr, &t);
                }
            }
        }
    }
}
