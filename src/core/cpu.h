// CPU feature detection for run-time kernel dispatch.
#ifndef FT_CORE_CPU_H
#define FT_CORE_CPU_H

#include <stdbool.h>

enum {
    FT_CPU_AVX2 = 1u << 0, // AVX2 and FMA together
    FT_CPU_AVX512 = 1u << 1, // AVX-512 F, BW, DQ, VL
};

// Features of this CPU that the OS also enables (XSAVE state checked).
unsigned ft_cpu_features(void);

// Features the dispatcher may use: ft_cpu_features() narrowed by the
// FT_KERNELS environment variable ("ref" = none, "avx2" = up to AVX2,
// unset or "auto" = all).
unsigned ft_cpu_features_allowed(void);

// "avx512", "avx2" or "ref": the best level allowed.
const char *ft_cpu_level_name(void);

#endif
