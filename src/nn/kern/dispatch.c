// Kernel dispatch: expands kernels.inc once, at ft_nn_init(), choosing for
// each op the best variant the CPU (narrowed by FT_KERNELS) allows.
#include "nn/kern/conv2d.h"
#include "nn/nn_internal.h"

#include <pthread.h>

static ft_nn_kernels g_kern;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int feature_rank(unsigned f)
{
    return (f & FT_CPU_AVX512) ? 2 : (f & FT_CPU_AVX2) ? 1 : 0;
}

static void dispatch_once(void)
{
    unsigned allowed = ft_cpu_features_allowed();
    int best_pgemm = -1, best_dwconv2d = -1, best_dconv2d = -1, best_maxpool2d = -1;
#define FT_KERNEL(op, variant, feat, fn)                                                           \
    if (((unsigned)(feat)&allowed) == (unsigned)(feat) && feature_rank(feat) > best_##op) {        \
        best_##op = feature_rank(feat);                                                            \
        g_kern.op = fn;                                                                            \
        g_kern.op##_variant = #variant;                                                            \
    }
#include "nn/kern/kernels.inc"
#undef FT_KERNEL
    g_kern.level = g_kern.pgemm_variant;
    // The direct convolution only where it matches the GEMM's level: an
    // AVX2 machine keeps im2col + the AVX2 GEMM rather than reference loops.
    if (best_dconv2d != best_pgemm) {
        g_kern.dconv2d = NULL;
        g_kern.dconv2d_variant = NULL;
    }
}

const char *ft_nn_init(void)
{
    pthread_once(&g_once, dispatch_once);
    return g_kern.level;
}

const ft_nn_kernels *ft_nn__kernels(void)
{
    ft_nn_init();
    return &g_kern;
}
