// CPUID/XGETBV probing. x86-64 only; other targets report no features.
#include "core/cpu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

unsigned ft_cpu_features(void)
{
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
    if (!osxsave || !avx)
        return 0;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6)
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    bool avx2 = b & (1u << 5);
    if (avx2 && fma)
        f |= FT_CPU_AVX2;
    bool avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));
    if ((f & FT_CPU_AVX2) && avx512 && (xcr0 & 0xe6) == 0xe6)
        f |= FT_CPU_AVX512;
    return f;
}
#else
unsigned ft_cpu_features(void)
{
    return 0;
}
#endif

unsigned ft_cpu_features_allowed(void)
{
    unsigned f = ft_cpu_features();
    const char *e = getenv("FT_KERNELS");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return f;
    if (strcmp(e, "ref") == 0)
        return 0;
    if (strcmp(e, "avx2") == 0)
        return f & FT_CPU_AVX2;
    return f;
}

const char *ft_cpu_level_name(void)
{
    unsigned f = ft_cpu_features_allowed();
    if (f & FT_CPU_AVX512)
        return "avx512";
    if (f & FT_CPU_AVX2)
        return "avx2";
    return "ref";
}
