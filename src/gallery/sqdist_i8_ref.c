// Reference int8 distance kernel and the variant table (see sqdist_i8.h).
#include "gallery/sqdist_i8.h"

#include "core/cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

void ft_kern_sqdist_i8_ref(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                           size_t dim4, const int8_t *q, int32_t *out)
{
    (void)norm; // the specification needs no expansion
    const size_t R = FT_SQDIST_I8_ROWS;
    for (size_t b = 0; b < n_blocks; b++)
        for (size_t j = 0; j < R; j++) {
            int64_t acc = 0;
            for (size_t k = 0; k < dim4; k++) {
                size_t g = k / 4, t = k % 4;
                int32_t c = codes[((b * (dim4 / 4) + g) * R + j) * 4 + t];
                int32_t d = (int32_t)q[k] - c;
                acc += (int64_t)d * d;
            }
            out[b * R + j] = (int32_t)acc;
        }
}

static const ft_sqdist_i8_variant variants[] = {
    {"ref", 0, false, ft_kern_sqdist_i8_ref},
#if defined(__x86_64__)
    {"avx2", FT_CPU_AVX2, false, ft_kern_sqdist_i8_avx2},
    {"avx512vnni", FT_CPU_AVX512, true, ft_kern_sqdist_i8_avx512vnni},
#endif
};

const ft_sqdist_i8_variant *ft_sqdist_i8_variants(size_t *n)
{
    *n = sizeof variants / sizeof variants[0];
    return variants;
}

// AVX512_VNNI is not among core/cpu.h's levels; ft_cpu_features() has
// already checked that the OS saves the ZMM state (FT_CPU_AVX512).
static bool cpu_vnni(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7)
        return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (c >> 11) & 1u;
#else
    return false;
#endif
}

static bool usable(const ft_sqdist_i8_variant *v, unsigned f)
{
    return (v->cpu & f) == v->cpu && (!v->vnni || cpu_vnni());
}

bool ft_sqdist_i8_usable(const ft_sqdist_i8_variant *v)
{
    return usable(v, ft_cpu_features());
}

const ft_sqdist_i8_variant *ft_sqdist_i8_best(void)
{
    unsigned f = ft_cpu_features_allowed();
    const ft_sqdist_i8_variant *best = &variants[0];
    for (size_t i = 1; i < sizeof variants / sizeof variants[0]; i++)
        if (usable(&variants[i], f))
            best = &variants[i]; // ordered from least to most capable
    return best;
}
