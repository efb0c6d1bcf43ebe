// Reference distance kernel and the variant table (see sqdist.h).
#include "gallery/sqdist.h"

#include "core/cpu.h"

void ft_kern_sqdist_f32_ref(const float *rows, size_t n, size_t dim, const float *q, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * dim;
        double acc = 0.0;
        for (size_t k = 0; k < dim; k++) {
            double d = (double)r[k] - (double)q[k];
            acc += d * d;
        }
        out[i] = (float)acc;
    }
}

void ft_kern_sqdist128_f32_ref(const float *rows, size_t n, const float *q, float *out)
{
    ft_kern_sqdist_f32_ref(rows, n, 128, q, out);
}

static const ft_sqdist_variant variants[] = {
    {"ref", 0, ft_kern_sqdist128_f32_ref, ft_kern_sqdist_f32_ref},
#if defined(__x86_64__)
    {"avx2", FT_CPU_AVX2, ft_kern_sqdist128_f32_avx2, ft_kern_sqdist_f32_avx2},
    {"avx512", FT_CPU_AVX512, ft_kern_sqdist128_f32_avx512, ft_kern_sqdist_f32_avx2},
#endif
};

const ft_sqdist_variant *ft_sqdist_variants(size_t *n)
{
    *n = sizeof variants / sizeof variants[0];
    return variants;
}

const ft_sqdist_variant *ft_sqdist_best(void)
{
    unsigned f = ft_cpu_features_allowed();
    const ft_sqdist_variant *best = &variants[0];
    for (size_t i = 1; i < sizeof variants / sizeof variants[0]; i++)
        if ((variants[i].cpu & f) == variants[i].cpu)
            best = &variants[i]; // the table is ordered from least to most capable
    return best;
}
