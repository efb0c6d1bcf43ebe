// Inference-engine benchmark: validates every registered kernel variant
// against the reference, then times the packed GEMM on a large square
// problem and on the SSD MobileNetV1 pointwise shapes, depthwise 3x3, the
// ResNet 3x3 convolutions and whole SSD / tiny-detector / recognition-net
// layer stacks (random weights; the shapes are what matter). Prints the
// median of N runs, GFLOP/s (2 flops per MAC) and a checksum of outputs.
//
// Usage: bench_nn [quick]   (quick: fewer repetitions)
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/dwconv2d.h"
#include "nn/kern/pgemm.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

// ---- Variants from the registry ----

typedef struct pgemm_variant {
    const char *name;
    unsigned feat;
    ft_kern_pgemm_fn fn;
} pgemm_variant;

typedef struct dw_variant {
    const char *name;
    unsigned feat;
    ft_kern_dwconv2d_fn fn;
} dw_variant;

#define FT_KERNEL(op, variant, feat, fn) FT_KERNEL_##op(variant, feat, fn)
#define FT_KERNEL_pgemm(v, f, fn) {#v, f, fn},
#define FT_KERNEL_dwconv2d(v, f, fn)
static const pgemm_variant pgemm_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_pgemm
#undef FT_KERNEL_dwconv2d
#define FT_KERNEL_pgemm(v, f, fn)
#define FT_KERNEL_dwconv2d(v, f, fn) {#v, f, fn},
static const dw_variant dw_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_pgemm
#undef FT_KERNEL_dwconv2d
#undef FT_KERNEL

#define N_PGEMM (sizeof pgemm_variants / sizeof pgemm_variants[0])
#define N_DW (sizeof dw_variants / sizeof dw_variants[0])

static int reps = 9;

// Thread CPU time in ms: on a shared machine, wall time mostly measures the
// neighbours. Single-thread numbers use this; threaded ones use wall time.
static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// The machine's raw FMA throughput right now (24 independent zmm or ymm
// FMA chains, no memory traffic): the yardstick for kernel efficiency.
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f,fma"))) static double fma_peak_zmm(void)
{
    __m512 a[24], b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
    for (int i = 0; i < 24; i++)
        a[i] = _mm512_set1_ps((float)i * 1e-3f);
    long n = 20000000 / 24;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_ms();
        for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
            for (int i = 0; i < 24; i++)
                a[i] = _mm512_fmadd_ps(a[i], b, c);
            __asm__ volatile("" : "+v"(a[0]), "+v"(a[1]));
        }
        double g = n * 24.0 * 32 / (cpu_ms() - t0) * 1e-6;
        best = g > best ? g : best;
    }
    float s = 0;
    for (int i = 0; i < 24; i++)
        s += _mm512_reduce_add_ps(a[i]);
    return best + 0 * s;
}

__attribute__((target("avx2,fma"))) static double fma_peak_ymm(void)
{
    __m256 a[12], b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i * 1e-3f);
    long n = 20000000 / 12;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_ms();
        for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++)
                a[i] = _mm256_fmadd_ps(a[i], b, c);
            __asm__ volatile("" : "+v"(a[0]), "+v"(a[1]));
        }
        double g = n * 12.0 * 16 / (cpu_ms() - t0) * 1e-6;
        best = g > best ? g : best;
    }
    return best;
}
#endif

// ---- Helpers ----

static uint64_t rng = 12345;

static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rand_buf(size_t n, float scale)
{
    float *p = ft_aligned_alloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

static double checksum(const float *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i] * (double)((i % 7) + 1);
    return s;
}

static double max_rel_err(const float *got, const float *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
        if (!(d <= worst))
            worst = d; // NaN sticks
    }
    return worst;
}

static void print_cpu(void)
{
    char line[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0)
                break;
        fclose(f);
    }
    char *p = strchr(line, ':');
    printf("cpu:       %s", p ? p + 2 : line);
    if (!strchr(line, '\n'))
        printf("\n");
    printf("compiler:  %s\n", __VERSION__);
    printf("dispatch:  %s (FT_KERNELS=%s)\n", ft_nn_init(),
           getenv("FT_KERNELS") ? getenv("FT_KERNELS") : "auto");
}

// ---- GEMM ----

typedef struct gemm_shape {
    const char *what;
    int32_t m, n, k;
} gemm_shape;

static const gemm_shape gemm_shapes[] = {
    {"square 1024^3", 1024, 1024, 1024},
    {"ssd L1 pw 256x256 32->64", 65536, 64, 32},
    {"ssd L2 pw 128x128 64->128", 16384, 128, 64},
    {"ssd L3 pw 128x128 128->128", 16384, 128, 128},
    {"ssd L4 pw 64x64 128->256", 4096, 256, 128},
    {"ssd L5 pw 64x64 256->256", 4096, 256, 256},
    {"ssd L6 pw 32x32 256->512", 1024, 512, 256},
    {"ssd L7 pw 32x32 512->512", 1024, 512, 512},
    {"ssd L12 pw 16x16 512->1024", 256, 1024, 512},
    {"ssd L13 pw 16x16 1024->1024", 256, 1024, 1024},
};

static double time_pgemm(ft_kern_pgemm_fn fn, const ft_pgemm_args *g)
{
    double t[64];
    int n = reps;
    for (int r = 0; r < n; r++) {
        double t0 = cpu_ms();
        fn(g, 0, g->m, 0, g->n);
        t[r] = cpu_ms() - t0;
    }
    return median(t, n);
}

static void bench_pgemm(void)
{
    printf("\n== pgemm (1 thread): C = act(A B + bias), B packed ==\n");
    printf("%-30s %-7s %9s %9s %14s\n", "shape (m x n x k)", "variant", "ms", "GFLOP/s",
           "checksum");
    for (size_t s = 0; s < sizeof gemm_shapes / sizeof *gemm_shapes; s++) {
        const gemm_shape *sh = &gemm_shapes[s];
        float *a = rand_buf((size_t)sh->m * sh->k, 1), *b = rand_buf((size_t)sh->k * sh->n, 0.1f);
        float *bias = rand_buf((size_t)sh->n, 1);
        float *bp = ft_aligned_alloc(ft_kern_pgemm_packed_count(sh->k, sh->n) * sizeof(float));
        float *c = ft_aligned_alloc((size_t)sh->m * sh->n * sizeof(float));
        float *cref = ft_aligned_alloc((size_t)sh->m * sh->n * sizeof(float));
        ft_kern_pgemm_pack_b(sh->k, sh->n, b, (size_t)sh->n, bp);
        ft_pgemm_args g = {sh->m, sh->n, sh->k, a, (size_t)sh->k, bp, bias, c, (size_t)sh->n,
                           FT_ACT_RELU6};
        // Validate on the first 64 rows against the reference.
        int32_t vm = sh->m < 64 ? sh->m : 64;
        ft_pgemm_args gr = g;
        gr.c = cref;
        ft_kern_pgemm_f32_ref(&gr, 0, vm, 0, sh->n);
        double flops = 2.0 * sh->m * sh->n * sh->k;
        for (size_t v = 0; v < N_PGEMM; v++) {
            if ((ft_cpu_features() & pgemm_variants[v].feat) != pgemm_variants[v].feat)
                continue;
            if (strcmp(pgemm_variants[v].name, "ref") == 0 && flops > 3e8)
                continue;
            pgemm_variants[v].fn(&g, 0, vm, 0, sh->n);
            double err = max_rel_err(c, cref, (size_t)vm * sh->n);
            double ms = time_pgemm(pgemm_variants[v].fn, &g);
            printf("%-30s %-7s %9.3f %9.1f %14.6e%s\n", sh->what, pgemm_variants[v].name, ms,
                   flops / ms * 1e-6, checksum(c, (size_t)sh->m * sh->n),
                   err > 1e-5 * sqrt(sh->k) ? "  MISMATCH vs ref" : "");
        }
        ft_aligned_free(a);
        ft_aligned_free(b);
        ft_aligned_free(bias);
        ft_aligned_free(bp);
        ft_aligned_free(c);
        ft_aligned_free(cref);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        reps = 3;
    print_cpu();
#if defined(__x86_64__)
    unsigned f = ft_cpu_features();
    if (f & FT_CPU_AVX512)
        printf("fma peak:  %.1f GFLOP/s zmm (1 thread, CPU time, this run)\n", fma_peak_zmm());
    if (f & FT_CPU_AVX2)
        printf("fma peak:  %.1f GFLOP/s ymm\n", fma_peak_ymm());
#endif
    bench_pgemm();
    return 0;
}
