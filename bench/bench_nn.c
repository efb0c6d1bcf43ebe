// Inference-engine benchmark: validates every registered kernel variant
// against the reference, then times the packed GEMM on a large square
// problem and on the SSD MobileNetV1 pointwise shapes, depthwise 3x3, the
// ResNet 3x3 convolutions and whole SSD / tiny-detector / recognition-net
// layer stacks (random weights; the shapes are what matter), each stack
// with its dw + pw pairs run unfused and fused (ft_sepconv_forward). Prints
// the median of N runs, GFLOP/s (2 flops per MAC) and a checksum of
// outputs. If libopenblas.so.0 can be dlopen'ed, its single-thread sgemm is
// timed on the same GEMM shapes for comparison (not linked: benchmark only).
//
// Usage: bench_nn [quick]   (quick: 3 repetitions, no reference run of the
// whole SSD)
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/dwconv2d.h"
#include "nn/kern/pgemm.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
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
#define FT_KERNEL_dconv2d(v, f, fn)
#define FT_KERNEL_maxpool2d(v, f, fn)
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
#undef FT_KERNEL_dconv2d
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

// The machine's raw FMA throughput right now: 12 independent FMA chains in
// hand-written asm (compilers spill such loops), no memory traffic; the
// yardstick for kernel efficiency. zmm: 24 vfmadd231ps per iteration.
#if defined(__x86_64__)
#define FMA12(R)                                                                                   \
    "vfmadd231ps %%" R "14, %%" R "15, %%" R "0\n vfmadd231ps %%" R "14, %%" R "15, %%" R          \
    "1\n vfmadd231ps %%" R "14, %%" R "15, %%" R "2\n vfmadd231ps %%" R "14, %%" R "15, %%" R      \
    "3\n vfmadd231ps %%" R "14, %%" R "15, %%" R "4\n vfmadd231ps %%" R "14, %%" R "15, %%" R      \
    "5\n vfmadd231ps %%" R "14, %%" R "15, %%" R "6\n vfmadd231ps %%" R "14, %%" R "15, %%" R      \
    "7\n vfmadd231ps %%" R "14, %%" R "15, %%" R "8\n vfmadd231ps %%" R "14, %%" R "15, %%" R      \
    "9\n vfmadd231ps %%" R "14, %%" R "15, %%" R "10\n vfmadd231ps %%" R "14, %%" R "15, %%" R     \
    "11\n"

static double fma_peak(bool zmm)
{
    long n = 2000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_ms();
        if (zmm)
            __asm__ volatile("vpxord %%zmm14, %%zmm14, %%zmm14\n vpxord %%zmm15, %%zmm15, %%zmm15\n"
                             "mov %0, %%rcx\n 1:\n" FMA12("zmm") FMA12("zmm") "dec %%rcx\n jnz 1b\n"
                             :
                             : "r"(n)
                             : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                               "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
        else
            __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n vxorps %%ymm15, %%ymm15, %%ymm15\n"
                             "mov %0, %%rcx\n 1:\n" FMA12("ymm") FMA12("ymm") "dec %%rcx\n jnz 1b\n"
                             :
                             : "r"(n)
                             : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                               "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
        double g = n * 24.0 * (zmm ? 32 : 16) / (cpu_ms() - t0) * 1e-6;
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

// ---- OpenBLAS, for comparison only (dlopen'ed if installed) ----

// cblas_sgemm(CblasRowMajor = 101, CblasNoTrans = 111, ...).
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
static sgemm_fn blas_sgemm;

static void blas_open(void)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    char *(*config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
    char *(*core)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
    blas_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (set_threads)
        set_threads(1);
    printf("openblas:  %s, core %s (OPENBLAS_CORETYPE=%s), 1 thread, plain sgemm (no bias/act)\n",
           config ? config() : "?", core ? core() : "?",
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset");
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
        ft_pgemm_args g = {sh->m, sh->n, sh->k,         a,           (size_t)sh->k, bp,
                           bias,  c,     (size_t)sh->n, FT_ACT_RELU6};
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
        if (blas_sgemm) {
            double t[64];
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_ms();
                blas_sgemm(101, 111, 111, sh->m, sh->n, sh->k, 1.0f, a, sh->k, b, sh->n, 0.0f, c,
                           sh->n);
                t[r] = cpu_ms() - t0;
            }
            double ms = median(t, reps);
            printf("%-30s %-7s %9.3f %9.1f\n", sh->what, "openblas", ms, flops / ms * 1e-6);
        }
        ft_aligned_free(a);
        ft_aligned_free(b);
        ft_aligned_free(bias);
        ft_aligned_free(bp);
        ft_aligned_free(c);
        ft_aligned_free(cref);
    }
}

// ---- Depthwise ----

typedef struct dw_shape {
    const char *what;
    int32_t h, w, c, stride;
} dw_shape;

static const dw_shape dw_shapes[] = {
    {"ssd L1 dw 256x256x32 s1", 256, 256, 32, 1},   {"ssd L2 dw 256x256x64 s2", 256, 256, 64, 2},
    {"ssd L3 dw 128x128x128 s1", 128, 128, 128, 1}, {"ssd L5 dw 64x64x256 s1", 64, 64, 256, 1},
    {"ssd L7 dw 32x32x512 s1", 32, 32, 512, 1},     {"ssd L13 dw 16x16x1024 s1", 16, 16, 1024, 1},
    {"tiny L1 dw 159x159x16 s1", 159, 159, 16, 1},
};

static void bench_dw(void)
{
    printf("\n== dwconv2d 3x3 SAME + bias + relu6 (1 thread) ==\n");
    printf("%-30s %-7s %9s %9s %9s %14s\n", "shape", "variant", "ms", "GFLOP/s", "GB/s",
           "checksum");
    for (size_t s = 0; s < sizeof dw_shapes / sizeof *dw_shapes; s++) {
        const dw_shape *sh = &dw_shapes[s];
        ft_conv_geom g;
        ft_conv_geom_make(sh->h, sh->w, sh->c, sh->c, 3, 3, sh->stride, FT_PAD_SAME, &g);
        size_t xn = (size_t)sh->h * sh->w * sh->c, yn = (size_t)g.out_h * g.out_w * sh->c;
        float *x = rand_buf(xn, 1), *w = rand_buf((size_t)9 * sh->c, 0.3f);
        float *b = rand_buf((size_t)sh->c, 1), *y = ft_aligned_alloc(yn * 4),
              *yr = ft_aligned_alloc(yn * 4);
        ft_kern_dwconv2d_f32_ref(&g, x, w, b, FT_ACT_RELU6, yr, 0, g.out_h);
        double flops = 2.0 * 9 * yn, bytes = 4.0 * (xn + yn);
        for (size_t v = 0; v < N_DW; v++) {
            if ((ft_cpu_features() & dw_variants[v].feat) != dw_variants[v].feat)
                continue;
            double t[64];
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_ms();
                dw_variants[v].fn(&g, x, w, b, FT_ACT_RELU6, y, 0, g.out_h);
                t[r] = cpu_ms() - t0;
            }
            double ms = median(t, reps), err = max_rel_err(y, yr, yn);
            printf("%-30s %-7s %9.3f %9.1f %9.1f %14.6e%s\n", sh->what, dw_variants[v].name, ms,
                   flops / ms * 1e-6, bytes / ms * 1e-6, checksum(y, yn),
                   err > 1e-5 ? "  MISMATCH vs ref" : "");
        }
        ft_aligned_free(x);
        ft_aligned_free(w);
        ft_aligned_free(b);
        ft_aligned_free(y);
        ft_aligned_free(yr);
    }
}

// ---- Regular convolutions through the layer API ----

typedef struct conv_shape {
    const char *what;
    int32_t h, w, c_in, c_out, k, stride;
    ft_pad pad;
} conv_shape;

static const conv_shape conv_shapes[] = {
    {"ssd L0 3x3 s2 512x512 3->32", 512, 512, 3, 32, 3, 2, FT_PAD_SAME},
    {"ssd E1 3x3 s2 16x16 256->512", 16, 16, 256, 512, 3, 2, FT_PAD_SAME},
    {"tiny L0 3x3 320x320 3->16", 320, 320, 3, 16, 3, 1, FT_PAD_VALID},
    {"resnet stem 7x7 s2 150 3->32", 150, 150, 3, 32, 7, 2, FT_PAD_VALID},
    {"resnet 3x3 35x35 32->32", 35, 35, 32, 32, 3, 1, FT_PAD_SAME},
    {"resnet 3x3 17x17 64->64", 17, 17, 64, 64, 3, 1, FT_PAD_SAME},
    {"resnet 3x3 8x8 128->128", 8, 8, 128, 128, 3, 1, FT_PAD_SAME},
    {"resnet 3x3 4x4 256->256", 4, 4, 256, 256, 3, 1, FT_PAD_SAME},
};

static const char *const level_names[] = {"ref", "avx2", "avx512"};
static const unsigned level_feats[] = {0, FT_CPU_AVX2, FT_CPU_AVX512};

static ft_nn_kernels table_for(const char *level)
{
    ft_nn_kernels k = {.pgemm = ft_kern_pgemm_f32_ref,
                       .pgemm_variant = "ref",
                       .dwconv2d = ft_kern_dwconv2d_f32_ref,
                       .dwconv2d_variant = "ref",
                       .level = level};
    // The direct convolution and the max pool where the level has them, as
    // the dispatcher (without a max pool, ft_maxpool runs the reference).
    k.maxpool2d = ft_kern_maxpool2d_f32_ref;
    k.maxpool2d_variant = "ref";
    if (strcmp(level, "avx512") == 0) {
        k.dconv2d = ft_kern_dconv2d_f32_avx512;
        k.dconv2d_variant = "avx512";
        k.maxpool2d = ft_kern_maxpool2d_f32_avx512;
        k.maxpool2d_variant = "avx512";
    } else if (strcmp(level, "ref") == 0) {
        k.dconv2d = ft_kern_dconv2d_f32_ref;
        k.dconv2d_variant = "ref";
    }
    for (size_t i = 0; i < N_PGEMM; i++)
        if (strcmp(pgemm_variants[i].name, level) == 0) {
            k.pgemm = pgemm_variants[i].fn;
            k.pgemm_variant = pgemm_variants[i].name;
        }
    for (size_t i = 0; i < N_DW; i++)
        if (strcmp(dw_variants[i].name, level) == 0) {
            k.dwconv2d = dw_variants[i].fn;
            k.dwconv2d_variant = dw_variants[i].name;
        }
    return k;
}

static void bench_conv(void)
{
    printf("\n== conv2d layers (ft_conv_forward: im2col + pgemm, direct dconv2d at avx512 and ref "
           "for c_in <= 4 and for 3x3 outputs of 9+ pixels; bias + relu; 1 thread) ==\n");
    printf("%-30s %-7s %9s %9s %14s\n", "shape", "variant", "ms", "GFLOP/s", "checksum");
    ft_nn_ctx *ctx;
    if (ft_nn_ctx_new(1, &ctx) != FT_OK)
        exit(1);
    for (size_t s = 0; s < sizeof conv_shapes / sizeof *conv_shapes; s++) {
        const conv_shape *sh = &conv_shapes[s];
        ft_conv_desc d = {sh->k,      sh->k,   sh->c_in, sh->c_out,
                          sh->stride, sh->pad, false,    FT_ACT_RELU};
        float *w = rand_buf((size_t)sh->k * sh->k * sh->c_in * sh->c_out, 0.1f);
        float *b = rand_buf((size_t)sh->c_out, 1),
              *x = rand_buf((size_t)sh->h * sh->w * sh->c_in, 1);
        ft_conv *conv;
        if (ft_conv_new(&d, w, b, &conv) != FT_OK)
            exit(1);
        ft_conv_geom g;
        ft_conv_geom_make(sh->h, sh->w, sh->c_in, sh->c_out, sh->k, sh->k, sh->stride, sh->pad, &g);
        size_t yn = (size_t)g.out_h * g.out_w * sh->c_out;
        float *y = ft_aligned_alloc(yn * 4), *yr = ft_aligned_alloc(yn * 4);
        ft_kern_conv2d_f32_ref(&g, x, w, b, FT_ACT_RELU, yr);
        double flops = 2.0 * yn * sh->k * sh->k * sh->c_in;
        ft_map xm = {sh->h, sh->w, sh->c_in, x}, ym = {g.out_h, g.out_w, sh->c_out, y};
        for (size_t lv = 1; lv < 3; lv++) {
            if ((ft_cpu_features() & level_feats[lv]) != level_feats[lv])
                continue;
            ft_nn_kernels kt = table_for(level_names[lv]);
            ft_nn__ctx_set_kernels(ctx, &kt);
            double t[64];
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_ms();
                ft_conv_forward(ctx, conv, &xm, &ym);
                t[r] = cpu_ms() - t0;
            }
            double ms = median(t, reps), err = max_rel_err(y, yr, yn);
            printf("%-30s %-7s %9.3f %9.1f %14.6e%s\n", sh->what, level_names[lv], ms,
                   flops / ms * 1e-6, checksum(y, yn),
                   err > 1e-5 * sqrt((double)sh->k * sh->k * sh->c_in) ? "  MISMATCH vs ref" : "");
        }
        ft_nn__ctx_set_kernels(ctx, NULL);
        ft_conv_free(conv);
        ft_aligned_free(w);
        ft_aligned_free(b);
        ft_aligned_free(x);
        ft_aligned_free(y);
        ft_aligned_free(yr);
    }
    ft_nn_ctx_free(ctx);
}

// ---- Whole networks (random weights, real shapes) ----

typedef enum { L_CONV, L_DW, L_MAXPOOL } layer_kind;

typedef struct layer {
    layer_kind kind;
    int32_t k, stride, c_out;
    ft_pad pad;
    ft_act act;
    ft_conv *conv;
    double flops, ms[64], fms[64], cms[64]; // unfused, fused pairs (on the pw row), chains
    int32_t out_h, out_w, out_c;
} layer;

typedef struct net {
    const char *name;
    int32_t in_h, in_w, in_c;
    layer *l;
    int n;
    float *buf[2];
    float *x;
} net;

static void net_build(net *nt)
{
    int32_t h = nt->in_h, w = nt->in_w, c = nt->in_c;
    size_t biggest = (size_t)h * w * c;
    for (int i = 0; i < nt->n; i++) {
        layer *L = &nt->l[i];
        int32_t co = L->kind == L_CONV ? L->c_out : c;
        ft_conv_geom g;
        if (ft_conv_geom_make(h, w, c, co, L->k, L->k, L->stride, L->pad, &g) != FT_OK)
            exit(1);
        if (L->kind != L_MAXPOOL) {
            ft_conv_desc d = {L->k, L->k, c, co, L->stride, L->pad, L->kind == L_DW, L->act};
            size_t wn = (size_t)L->k * L->k * c * (L->kind == L_DW ? 1 : co);
            // He-like scale keeps activations O(1) through the stack.
            float *wt =
                rand_buf(wn, (float)sqrt(3.0 / ((double)L->k * L->k * (L->kind == L_DW ? 1 : c))));
            float *b = rand_buf((size_t)co, 0.1f);
            if (ft_conv_new(&d, wt, b, &L->conv) != FT_OK)
                exit(1);
            ft_aligned_free(wt);
            ft_aligned_free(b);
            L->flops = 2.0 * g.out_h * g.out_w * co * L->k * L->k * (L->kind == L_DW ? 1 : c);
        }
        h = g.out_h;
        w = g.out_w;
        c = co;
        L->out_h = h;
        L->out_w = w;
        L->out_c = c;
        if ((size_t)h * w * c > biggest)
            biggest = (size_t)h * w * c;
    }
    nt->buf[0] = ft_aligned_alloc(biggest * 4);
    nt->buf[1] = ft_aligned_alloc(biggest * 4);
    nt->x = rand_buf((size_t)nt->in_h * nt->in_w * nt->in_c, 1);
}

static void net_free(net *nt)
{
    for (int i = 0; i < nt->n; i++)
        ft_conv_free(nt->l[i].conv);
    ft_aligned_free(nt->buf[0]);
    ft_aligned_free(nt->buf[1]);
    ft_aligned_free(nt->x);
}

// A depthwise layer followed by a 1x1 stride-1 conv: one ft_sepconv_forward.
static bool fusible(const net *nt, int i)
{
    return nt->l[i].kind == L_DW && i + 1 < nt->n && nt->l[i + 1].kind == L_CONV &&
           nt->l[i + 1].k == 1 && nt->l[i + 1].stride == 1;
}

// Two fusible pairs in a row whose intermediate map (the first pair's
// output) has at least chain_min_bytes: one ft_sepconv2_forward.
static size_t chain_min_bytes = 4u << 20;

static bool chainable(const net *nt, int i)
{
    return fusible(nt, i) && fusible(nt, i + 2) &&
           (size_t)nt->l[i + 1].out_h * nt->l[i + 1].out_w * nt->l[i + 1].out_c * 4 >=
               chain_min_bytes;
}

// Runs the stack once; per-layer times go to ms[rep], or fms[rep] when
// `fuse` runs each dw + pw pair as one fused layer (timed on the pw row),
// or cms[rep] when `fuse` is 2 and chainable pairs run as one chain (timed
// on the second pw row); thread CPU time with one thread, else wall time.
// Returns the final map.
static ft_map net_run(net *nt, ft_nn_ctx *ctx, int rep, int fuse)
{
    ft_map cur = {nt->in_h, nt->in_w, nt->in_c, nt->x};
    int b = 0; // output buffer of the next layer run
    for (int i = 0; i < nt->n; i++, b ^= 1) {
        layer *L = &nt->l[i];
        double *slot = fuse == 2 ? L->cms : fuse ? L->fms : L->ms;
        bool one = ft_nn_ctx_threads(ctx) == 1, pair = fuse && fusible(nt, i);
        bool chain = fuse == 2 && chainable(nt, i);
        if (chain) {
            for (int q = 0; q < 3 && rep >= 0; q++)
                nt->l[i + q].cms[rep] = 0;
            i += 3;
            L = &nt->l[i];
        } else if (pair) {
            if (rep >= 0)
                slot[rep] = 0;
            L = &nt->l[++i];
        }
        slot = fuse == 2 ? L->cms : fuse ? L->fms : L->ms;
        ft_map out = {L->out_h, L->out_w, L->out_c, nt->buf[b]};
        double t0 = one ? cpu_ms() : ft_now_ms();
        if (chain)
            ft_sepconv2_forward(ctx, nt->l[i - 3].conv, nt->l[i - 2].conv, nt->l[i - 1].conv,
                                L->conv, &cur, &out);
        else if (pair)
            ft_sepconv_forward(ctx, nt->l[i - 1].conv, L->conv, &cur, &out);
        else if (L->kind == L_MAXPOOL)
            ft_maxpool(ctx, &cur, L->k, L->stride, L->pad, &out);
        else
            ft_conv_forward(ctx, L->conv, &cur, &out);
        if (rep >= 0)
            slot[rep] = (one ? cpu_ms() : ft_now_ms()) - t0;
        cur = out;
    }
    return cur;
}

static bool ssd_only; // `bench_nn ssd`: the SSD alone, avx512, 1 thread

static void net_bench(net *nt, bool per_layer, bool validate)
{
    net_build(nt);
    double total_flops = 0;
    for (int i = 0; i < nt->n; i++)
        total_flops += nt->l[i].flops;
    printf("\n== %s: %d layers, %.3f GFLOP ==\n", nt->name, nt->n, total_flops * 1e-9);

    float *ref_out = NULL;
    size_t out_n = 0;
    if (validate) {
        ft_nn_ctx *rc;
        ft_nn_kernels kt = table_for("ref");
        if (ft_nn_ctx_new(1, &rc) != FT_OK)
            exit(1);
        ft_nn__ctx_set_kernels(rc, &kt);
        ft_map o = net_run(nt, rc, -1, false);
        out_n = ft_map_count(&o);
        ref_out = ft_aligned_alloc(out_n * 4);
        memcpy(ref_out, o.d, out_n * 4);
        ft_nn_ctx_free(rc);
    }
    for (size_t lv = ssd_only ? 2 : 1; lv < 3; lv++) {
        if ((ft_cpu_features() & level_feats[lv]) != level_feats[lv])
            continue;
        ft_nn_kernels kt = table_for(level_names[lv]);
        for (int nth = 1; nth <= (ssd_only ? 1 : 2); nth++) {
            ft_nn_ctx *ctx;
            if (ft_nn_ctx_new(nth, &ctx) != FT_OK)
                exit(1);
            ft_nn__ctx_set_kernels(ctx, &kt);
            for (int fuse = 0; fuse <= 2; fuse++) {
                net_run(nt, ctx, -1, fuse); // warm-up: sizes the scratch
                double t[64], c[64];
                ft_map o = {0};
                for (int r = 0; r < reps; r++) {
                    double t0 = ft_now_ms(), c0 = cpu_ms();
                    o = net_run(nt, ctx, r, fuse);
                    t[r] = ft_now_ms() - t0;
                    c[r] = cpu_ms() - c0;
                }
                double ms = median(t, reps), cms = median(c, reps);
                double err = ref_out ? max_rel_err(o.d, ref_out, out_n) : 0;
                printf("%-7s %d thread%s %-7s: %8.2f ms wall (%6.1f GFLOP/s)", level_names[lv],
                       nth, nth > 1 ? "s" : " ", fuse == 2 ? "chained" : fuse ? "fused" : "unfused",
                       ms,
                       total_flops / ms * 1e-6);
                if (nth == 1)
                    printf(", %8.2f ms CPU (%6.1f GFLOP/s)", cms, total_flops / cms * 1e-6);
                printf("  checksum %.6e%s\n", checksum(o.d, ft_map_count(&o)),
                       ref_out ? (err < 1e-3 ? "  (matches ref)" : "  MISMATCH vs ref") : "");
            }
            if (per_layer && nth == 1 && lv == 2) {
                printf("  %-4s %-8s %-16s %8s %8s %10s %8s %10s\n", "#", "op", "out", "ms",
                       "GFLOP/s", "fused ms", "GFLOP/s", "chain ms");
                for (int i = 0; i < nt->n; i++) {
                    layer *L = &nt->l[i];
                    double lm = median(L->ms, reps), fm = median(L->fms, reps),
                           cm = median(L->cms, reps);
                    double ff = L->flops + (i > 0 && fusible(nt, i - 1) ? nt->l[i - 1].flops : 0);
                    char shape[32];
                    snprintf(shape, sizeof shape, "%dx%dx%d", L->out_h, L->out_w, L->out_c);
                    printf("  %-4d %-8s %-16s %8.3f %8.1f", i,
                           L->kind == L_MAXPOOL ? "maxpool"
                           : L->kind == L_DW    ? "dw3x3"
                           : L->k == 1          ? "pw1x1"
                                                : "conv",
                           shape, lm, L->flops / lm * 1e-6);
                    if (fusible(nt, i))
                        printf(" %10s %8s", "(in next)", "");
                    else
                        printf(" %10.3f %8.1f", fm, ff / fm * 1e-6);
                    if (cm > 0)
                        printf(" %10.3f\n", cm);
                    else
                        printf(" %10s\n", "(in next)");
                }
            }
            ft_nn_ctx_free(ctx);
        }
    }
    ft_aligned_free(ref_out);
    net_free(nt);
}

// clang-format off
#define CONV(k, s, co, act) {L_CONV, k, s, co, FT_PAD_SAME, act, NULL, 0, {0}, {0}, {0}, 0, 0, 0}
#define CONVV(k, s, co, act) {L_CONV, k, s, co, FT_PAD_VALID, act, NULL, 0, {0}, {0}, {0}, 0, 0, 0}
#define DW(s, act) {L_DW, 3, s, 0, FT_PAD_SAME, act, NULL, 0, {0}, {0}, {0}, 0, 0, 0}
#define POOL(k, s) {L_MAXPOOL, k, s, 0, FT_PAD_SAME, FT_ACT_NONE, NULL, 0, {0}, {0}, {0}, 0, 0, 0}
#define POOLV(k, s) {L_MAXPOOL, k, s, 0, FT_PAD_VALID, FT_ACT_NONE, NULL, 0, {0}, {0}, {0}, 0, 0, 0}
// clang-format on
#define R6 FT_ACT_RELU6
#define LK FT_ACT_LEAKY
#define NO FT_ACT_NONE
#define RL FT_ACT_RELU

static void bench_ssd(bool validate)
{
    // faceapi-models.md §5.1: backbone and extra layers (the 12 box/class
    // heads add ~1%).
    // clang-format off
    static layer l[] = {
        CONV(3, 2, 32, R6),
        DW(1, R6), CONV(1, 1, 64, R6),  DW(2, R6), CONV(1, 1, 128, R6),
        DW(1, R6), CONV(1, 1, 128, R6), DW(2, R6), CONV(1, 1, 256, R6),
        DW(1, R6), CONV(1, 1, 256, R6), DW(2, R6), CONV(1, 1, 512, R6),
        DW(1, R6), CONV(1, 1, 512, R6), DW(1, R6), CONV(1, 1, 512, R6),
        DW(1, R6), CONV(1, 1, 512, R6), DW(1, R6), CONV(1, 1, 512, R6),
        DW(1, R6), CONV(1, 1, 512, R6), DW(2, R6), CONV(1, 1, 1024, R6),
        DW(1, R6), CONV(1, 1, 1024, R6),
        CONV(1, 1, 256, R6), CONV(3, 2, 512, R6), CONV(1, 1, 128, R6), CONV(3, 2, 256, R6),
        CONV(1, 1, 128, R6), CONV(3, 2, 256, R6), CONV(1, 1, 64, R6),  CONV(3, 2, 128, R6),
    };
    // clang-format on
    net nt = {.name = "SSD MobileNetV1 512x512 (backbone + extras)",
              .in_h = 512,
              .in_w = 512,
              .in_c = 3,
              .l = l,
              .n = (int)(sizeof l / sizeof *l)};
    net_bench(&nt, true, validate);
}

static void bench_tiny(int size)
{
    // faceapi-models.md §6.1.
    // clang-format off
    static layer l[] = {
        CONVV(3, 1, 16, LK),                  POOL(2, 2),
        DW(1, NO), CONV(1, 1, 32, LK),        POOL(2, 2),
        DW(1, NO), CONV(1, 1, 64, LK),        POOL(2, 2),
        DW(1, NO), CONV(1, 1, 128, LK),       POOL(2, 2),
        DW(1, NO), CONV(1, 1, 256, LK),       POOL(2, 2),
        DW(1, NO), CONV(1, 1, 512, LK),       POOL(2, 1),
        CONV(1, 1, 25, NO),
    };
    // clang-format on
    char name[64];
    snprintf(name, sizeof name, "Tiny face detector %dx%d", size, size);
    net nt = {.name = name,
              .in_h = size,
              .in_w = size,
              .in_c = 3,
              .l = l,
              .n = (int)(sizeof l / sizeof *l)};
    net_bench(&nt, size == 320, true);
}

static void bench_resnet(void)
{
    // The recognition net's convolutions in order (faceapi-models.md §8.2),
    // without the shortcut adds and pools (a few microseconds).
    // clang-format off
    static layer l[] = {
        CONVV(7, 2, 32, RL), POOLV(3, 2),
        CONV(3, 1, 32, RL), CONV(3, 1, 32, NO), CONV(3, 1, 32, RL), CONV(3, 1, 32, NO),
        CONV(3, 1, 32, RL), CONV(3, 1, 32, NO),
        CONVV(3, 2, 64, RL), CONV(3, 1, 64, NO),
        CONV(3, 1, 64, RL), CONV(3, 1, 64, NO), CONV(3, 1, 64, RL), CONV(3, 1, 64, NO),
        CONV(3, 1, 64, RL), CONV(3, 1, 64, NO),
        CONVV(3, 2, 128, RL), CONV(3, 1, 128, NO),
        CONV(3, 1, 128, RL), CONV(3, 1, 128, NO), CONV(3, 1, 128, RL), CONV(3, 1, 128, NO),
        CONVV(3, 2, 256, RL), CONV(3, 1, 256, NO),
        CONV(3, 1, 256, RL), CONV(3, 1, 256, NO), CONV(3, 1, 256, RL), CONV(3, 1, 256, NO),
    };
    // clang-format on
    net nt = {.name = "Recognition ResNet 150x150 (convolutions)",
              .in_h = 150,
              .in_w = 150,
              .in_c = 3,
              .l = l,
              .n = (int)(sizeof l / sizeof *l)};
    net_bench(&nt, true, true);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        reps = 3;
    if (argc > 1 && strcmp(argv[1], "ssd") == 0)
        ssd_only = true;
    if (getenv("FT_BENCH_CHAIN_MIN"))
        chain_min_bytes = (size_t)strtoull(getenv("FT_BENCH_CHAIN_MIN"), NULL, 10);
    bool quick = reps == 3;
    print_cpu();
#if defined(__x86_64__)
    unsigned f = ft_cpu_features();
    if (f & FT_CPU_AVX512)
        printf("fma peak:  %.1f GFLOP/s zmm (1 thread, CPU time, this run)\n", fma_peak(true));
    if (f & FT_CPU_AVX2)
        printf("fma peak:  %.1f GFLOP/s ymm\n", fma_peak(false));
#endif
    blas_open();
    if (ssd_only) {
        bench_ssd(true);
        return 0;
    }
    bench_pgemm();
    bench_dw();
    bench_conv();
    bench_ssd(!quick);
    bench_tiny(320);
    bench_tiny(416);
    bench_resnet();
    return 0;
}
