// Reference GEMM (pgemm.h): the specification the SIMD variants are tested
// against. Plain loops, double accumulation, then bias and activation in
// float. Also the packing routine every variant shares.
#include "nn/kern/pgemm.h"

#include "core/mem.h"
#include "nn/kern/act.h"

size_t ft_kern_pgemm_packed_count(int32_t k, int32_t n)
{
    size_t panels = ((size_t)n + FT_PGEMM_NR - 1) / FT_PGEMM_NR, count;
    if (k <= 0 || n <= 0 || !ft_size_mul(panels * FT_PGEMM_NR, (size_t)k, &count))
        return 0;
    return count;
}

void ft_kern_pgemm_pack_b(int32_t k, int32_t n, const float *b, size_t ldb, float *bp)
{
    int32_t n_panels = (n + FT_PGEMM_NR - 1) / FT_PGEMM_NR;
    for (int32_t p = 0; p < n_panels; p++)
        for (int32_t kk = 0; kk < k; kk++)
            for (int32_t jj = 0; jj < FT_PGEMM_NR; jj++) {
                int32_t j = p * FT_PGEMM_NR + jj;
                bp[((size_t)p * k + kk) * FT_PGEMM_NR + jj] =
                    j < n ? b[(size_t)kk * ldb + j] : 0.0f;
            }
}

// B[kk, j] read back from the packed layout.
static float packed_at(const ft_pgemm_args *g, int32_t kk, int32_t j)
{
    size_t panel = (size_t)(j / FT_PGEMM_NR);
    return g->bp[(panel * g->k + kk) * FT_PGEMM_NR + j % FT_PGEMM_NR];
}

void ft_kern_pgemm_f32_ref(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0, int32_t n1)
{
    for (int32_t i = m0; i < m1; i++)
        for (int32_t j = n0; j < n1; j++) {
            double acc = 0.0;
            for (int32_t kk = 0; kk < g->k; kk++)
                acc += (double)g->a[(size_t)i * g->lda + kk] * (double)packed_at(g, kk, j);
            float v = (float)acc;
            if (g->bias)
                v += g->bias[j];
            g->c[(size_t)i * g->ldc + j] = ft_act_apply(v, g->act);
        }
}
