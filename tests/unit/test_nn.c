// Unit tests for src/nn: reference kernels against hand-computed cases,
// every registered SIMD variant (kern/kernels.inc) against the reference
// over edge-case shape sweeps with canaries around the outputs, and the
// layers (threaded, 1..3 threads) against the direct reference convolution.
#include "core/cpu.h"
#include "core/mem.h"
#include "ft_test.h"
#include "nn/kern/act.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/dwconv2d.h"
#include "nn/kern/pgemm.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"

#include <stdint.h>

// ---- Variant tables, expanded from the registry ----

typedef struct gemm_variant {
    const char *name;
    unsigned feat;
    ft_kern_pgemm_fn fn;
} gemm_variant;

typedef struct dw_variant {
    const char *name;
    unsigned feat;
    ft_kern_dwconv2d_fn fn;
} dw_variant;

typedef struct dconv_variant {
    const char *name;
    unsigned feat;
    ft_kern_dconv2d_fn fn;
} dconv_variant;

typedef struct maxpool_variant {
    const char *name;
    unsigned feat;
    ft_kern_maxpool2d_fn fn;
} maxpool_variant;

#define FT_KERNEL(op, variant, feat, fn) FT_KERNEL_##op(variant, feat, fn)
#define FT_KERNEL_pgemm(v, f, fn) {#v, f, fn},
#define FT_KERNEL_dwconv2d(v, f, fn)
#define FT_KERNEL_dconv2d(v, f, fn)
#define FT_KERNEL_maxpool2d(v, f, fn)
static const gemm_variant gemm_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_pgemm
#undef FT_KERNEL_dwconv2d
#define FT_KERNEL_pgemm(v, f, fn)
#define FT_KERNEL_dwconv2d(v, f, fn) {#v, f, fn},
static const dw_variant dw_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_dwconv2d
#undef FT_KERNEL_dconv2d
#define FT_KERNEL_dwconv2d(v, f, fn)
#define FT_KERNEL_dconv2d(v, f, fn) {#v, f, fn},
static const dconv_variant dconv_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_dconv2d
#undef FT_KERNEL_maxpool2d
#define FT_KERNEL_dconv2d(v, f, fn)
#define FT_KERNEL_maxpool2d(v, f, fn) {#v, f, fn},
static const maxpool_variant maxpool_variants[] = {
#include "nn/kern/kernels.inc"
};
#undef FT_KERNEL_maxpool2d
#undef FT_KERNEL_pgemm
#undef FT_KERNEL_dwconv2d
#undef FT_KERNEL_dconv2d
#undef FT_KERNEL

#define N_GEMM (sizeof gemm_variants / sizeof gemm_variants[0])
#define N_DW (sizeof dw_variants / sizeof dw_variants[0])
#define N_DCONV (sizeof dconv_variants / sizeof dconv_variants[0])
#define N_MAXPOOL (sizeof maxpool_variants / sizeof maxpool_variants[0])

static bool supported(unsigned feat)
{
    return (ft_cpu_features() & feat) == feat;
}

// A kernel table for one level: that level's GEMM and depthwise variants
// (the reference where a level lacks one) and its direct convolution, if
// it has one (as the dispatcher does).
static ft_nn_kernels table_for(const char *level)
{
    ft_nn_kernels k = {.pgemm = ft_kern_pgemm_f32_ref,
                       .pgemm_variant = "ref",
                       .dwconv2d = ft_kern_dwconv2d_f32_ref,
                       .dwconv2d_variant = "ref",
                       .level = level};
    for (size_t i = 0; i < N_DCONV; i++)
        if (strcmp(dconv_variants[i].name, level) == 0) {
            k.dconv2d = dconv_variants[i].fn;
            k.dconv2d_variant = dconv_variants[i].name;
        }
    for (size_t i = 0; i < N_GEMM; i++)
        if (strcmp(gemm_variants[i].name, level) == 0) {
            k.pgemm = gemm_variants[i].fn;
            k.pgemm_variant = gemm_variants[i].name;
        }
    for (size_t i = 0; i < N_DW; i++)
        if (strcmp(dw_variants[i].name, level) == 0) {
            k.dwconv2d = dw_variants[i].fn;
            k.dwconv2d_variant = dw_variants[i].name;
        }
    for (size_t i = 0; i < N_MAXPOOL; i++)
        if (strcmp(maxpool_variants[i].name, level) == 0) {
            k.maxpool2d = maxpool_variants[i].fn;
            k.maxpool2d_variant = maxpool_variants[i].name;
        }
    return k;
}

static const char *const levels[] = {"ref", "avx2", "avx512"};
static const unsigned level_feat[] = {0, FT_CPU_AVX2, FT_CPU_AVX512};

// ---- Helpers: random data, canaries, comparison ----

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rand_buf(size_t n)
{
    float *p = ft_aligned_alloc(n * sizeof(float));
    FT_ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

// Canary: XNNPACK's 0xA5 bytes; as a float it is a small negative number
// that no kernel produces by accident at these positions.
#define CANARY_PAD 64
static float *canary_buf(size_t n)
{
    float *p = ft_aligned_alloc((n + CANARY_PAD) * sizeof(float));
    FT_ASSERT(p);
    memset(p, 0xA5, (n + CANARY_PAD) * sizeof(float));
    return p;
}

static bool is_canary(const float *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return u == 0xA5A5A5A5u;
}

static bool tail_intact(const float *p, size_t n)
{
    for (size_t i = n; i < n + CANARY_PAD; i++)
        if (!is_canary(p + i))
            return false;
    return true;
}

// |got - want| <= tol * max(1, |want|); reports the first few mismatches.
static int compare(const char *what, const float *got, const float *want, size_t n, double tol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), s = fabs(want[i]) > 1 ? fabs(want[i]) : 1;
        if (!(d <= tol * s)) {
            if (bad < 3)
                fprintf(stderr, "  %s: [%zu] got %.9g want %.9g\n", what, i, got[i], want[i]);
            bad++;
        }
    }
    return bad;
}

// ---- Geometry ----

static void test_geom(void)
{
    ft_conv_geom g;
    // SAME, stride 2, even size: 0 before, 1 after (faceapi-models.md §3.1).
    FT_CHECK_OK(ft_conv_geom_make(4, 4, 1, 1, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    FT_CHECK_EQ(g.out_h, 2);
    FT_CHECK_EQ(g.pad_top, 0);
    FT_CHECK_EQ(g.pad_left, 0);
    FT_CHECK_OK(ft_conv_geom_make(512, 512, 3, 32, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    FT_CHECK_EQ(g.out_w, 256);
    FT_CHECK_EQ(g.pad_left, 0);
    // SAME stride 1 pads 1 on every side; 2x2 -> 1x1 for E7.
    FT_CHECK_OK(ft_conv_geom_make(5, 7, 1, 1, 3, 3, 1, FT_PAD_SAME, &g), NULL);
    FT_CHECK(g.out_h == 5 && g.out_w == 7 && g.pad_top == 1 && g.pad_left == 1);
    FT_CHECK_OK(ft_conv_geom_make(2, 2, 1, 1, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    FT_CHECK(g.out_h == 1 && g.out_w == 1 && g.pad_top == 0);
    // Odd size, stride 2: total 2 -> 1 before.
    FT_CHECK_OK(ft_conv_geom_make(5, 5, 1, 1, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    FT_CHECK(g.out_h == 3 && g.pad_top == 1);
    // Max pool 2x2 s1 SAME (tiny detector L5): 0 before, 1 after.
    FT_CHECK_OK(ft_conv_geom_make(13, 13, 1, 1, 2, 2, 1, FT_PAD_SAME, &g), NULL);
    FT_CHECK(g.out_h == 13 && g.pad_top == 0);
    // VALID: recognition stem 150 -> 72 (7x7 s2), 35 -> 17 (3x3 s2).
    FT_CHECK_OK(ft_conv_geom_make(150, 150, 3, 32, 7, 7, 2, FT_PAD_VALID, &g), NULL);
    FT_CHECK(g.out_h == 72 && g.pad_top == 0);
    FT_CHECK_OK(ft_conv_geom_make(35, 35, 3, 32, 3, 3, 2, FT_PAD_VALID, &g), NULL);
    FT_CHECK_EQ(g.out_h, 17);
    FT_CHECK_EQ(ft_conv_geom_make(2, 2, 1, 1, 3, 3, 1, FT_PAD_VALID, &g), FT_E_INVALID);
    FT_CHECK_EQ(ft_conv_geom_make(0, 2, 1, 1, 1, 1, 1, FT_PAD_SAME, &g), FT_E_INVALID);
    FT_CHECK_EQ(ft_conv_geom_make(2, 2, 1, 1, 1, 1, 0, FT_PAD_SAME, &g), FT_E_INVALID);
}

// ---- Reference kernels against hand-computed values ----

static void test_conv_ref_hand(void)
{
    // x = 1..16 on a 4x4 map, one channel; 3x3 stride-2 SAME, all-ones
    // weights: padding is 0 before and 1 after, so output (0,0) sums rows
    // and columns 0..2, and output (1,1) rows/cols 2..3 only.
    float x[16], w[9], y[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = 1.0f;
    ft_conv_geom g;
    FT_CHECK_OK(ft_conv_geom_make(4, 4, 1, 1, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    ft_kern_conv2d_f32_ref(&g, x, w, NULL, FT_ACT_NONE, y);
    FT_CHECK_NEAR(y[0], 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 0); // 54
    FT_CHECK_NEAR(y[1], 3 + 4 + 7 + 8 + 11 + 12, 0);             // 45
    FT_CHECK_NEAR(y[2], 9 + 10 + 11 + 13 + 14 + 15, 0);          // 72
    FT_CHECK_NEAR(y[3], 11 + 12 + 15 + 16, 0);                   // 54

    // Two input channels, two outputs, 1x1 kernel with bias and ReLU:
    // HWIO w[ci][co] = {{1, -1}, {2, 0.5}}.
    float x2[4] = {1, 2, -3, 1}; // two pixels
    float w2[4] = {1, -1, 2, 0.5f}, b2[2] = {0.5f, -1}, y2[4];
    FT_CHECK_OK(ft_conv_geom_make(1, 2, 2, 2, 1, 1, 1, FT_PAD_VALID, &g), NULL);
    ft_kern_conv2d_f32_ref(&g, x2, w2, b2, FT_ACT_RELU, y2);
    FT_CHECK_NEAR(y2[0], 1 * 1 + 2 * 2 + 0.5, 0); // 5.5
    FT_CHECK_NEAR(y2[1], 0, 0);                   // -1 + 1 - 1 = -1 -> 0
    FT_CHECK_NEAR(y2[2], 0, 0);                   // -3 + 2 + 0.5 = -0.5 -> 0
    FT_CHECK_NEAR(y2[3], 3 + 0.5 - 1, 0);         // 2.5
}

static void test_dwconv_ref_hand(void)
{
    // 3x3 map, 2 channels (channel 1 = -channel 0), 3x3 SAME stride 1,
    // weight 1 on channel 0 and the centre-only tap 2 on channel 1.
    float x[18], w[18] = {0}, b[2] = {0, 1}, y[18];
    for (int i = 0; i < 9; i++) {
        x[i * 2] = (float)(i + 1);
        x[i * 2 + 1] = -(float)(i + 1);
        w[i * 2] = 1.0f;
    }
    w[4 * 2 + 1] = 2.0f;
    ft_conv_geom g;
    FT_CHECK_OK(ft_conv_geom_make(3, 3, 2, 2, 3, 3, 1, FT_PAD_SAME, &g), NULL);
    ft_kern_dwconv2d_f32_ref(&g, x, w, b, FT_ACT_NONE, y, 0, 3);
    FT_CHECK_NEAR(y[0], 1 + 2 + 4 + 5, 0); // corner: 4 taps
    FT_CHECK_NEAR(y[4 * 2], 45, 0);        // centre: all 9
    FT_CHECK_NEAR(y[5 * 2], 2 + 3 + 5 + 6 + 8 + 9, 0);
    FT_CHECK_NEAR(y[4 * 2 + 1], -10 + 1, 0); // 2 * -5 + bias
    // Stride 2 SAME on 4x4: out 2x2, rows/cols {0,1,2} and {2,3}.
    float x4[16], w4[9], y4[4];
    for (int i = 0; i < 16; i++)
        x4[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w4[i] = 1.0f;
    FT_CHECK_OK(ft_conv_geom_make(4, 4, 1, 1, 3, 3, 2, FT_PAD_SAME, &g), NULL);
    ft_kern_dwconv2d_f32_ref(&g, x4, w4, NULL, FT_ACT_RELU6, y4, 0, 2);
    FT_CHECK_NEAR(y4[0], 6, 0); // 54 clipped by ReLU6
    ft_kern_dwconv2d_f32_ref(&g, x4, w4, NULL, FT_ACT_NONE, y4, 0, 2);
    FT_CHECK_NEAR(y4[3], 54, 0);
    FT_CHECK_NEAR(y4[1], 45, 0);
}

static void test_gemm_ref_hand(void)
{
    // A 2x3, B 3x2, bias, leaky: C = A B + b.
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, -1, -2}, bias[2] = {0.5f, 0};
    float bp[3 * FT_PGEMM_NR], c[4];
    FT_CHECK_EQ(ft_kern_pgemm_packed_count(3, 2), 3 * FT_PGEMM_NR);
    ft_kern_pgemm_pack_b(3, 2, b, 2, bp);
    FT_CHECK_NEAR(bp[1 * FT_PGEMM_NR + 1], 1, 0);
    FT_CHECK_NEAR(bp[2 * FT_PGEMM_NR + 0], -1, 0);
    FT_CHECK_NEAR(bp[5], 0, 0); // zero padding of the panel
    ft_pgemm_args g = {2, 2, 3, a, 3, bp, bias, c, 2, FT_ACT_LEAKY};
    ft_kern_pgemm_f32_ref(&g, 0, 2, 0, 2);
    // Pre-activation: [1-3+0.5, 2-6, 4-6+0.5, 5-12] = [-1.5, -4, -1.5, -7],
    // all exact in float, then leaky 0.1 in face-api's form.
    FT_CHECK_NEAR(c[0], ft_act_apply(-1.5f, FT_ACT_LEAKY), 0);
    FT_CHECK_NEAR(c[1], ft_act_apply(-4.0f, FT_ACT_LEAKY), 0);
    FT_CHECK_NEAR(c[2], ft_act_apply(-1.5f, FT_ACT_LEAKY), 0);
    FT_CHECK_NEAR(c[3], ft_act_apply(-7.0f, FT_ACT_LEAKY), 0);
    FT_CHECK_NEAR(c[3], -0.7, 1e-6);
}

static void test_act(void)
{
    FT_CHECK_NEAR(ft_act_apply(-2.0f, FT_ACT_RELU), 0, 0);
    FT_CHECK_NEAR(ft_act_apply(7.0f, FT_ACT_RELU6), 6, 0);
    FT_CHECK_NEAR(ft_act_apply(-7.0f, FT_ACT_RELU6), 0, 0);
    FT_CHECK_NEAR(ft_act_apply(3.0f, FT_ACT_LEAKY), 3, 1e-6);
    FT_CHECK_NEAR(ft_act_apply(-3.0f, FT_ACT_LEAKY), -0.3, 1e-6);
    FT_CHECK_NEAR(ft_act_apply(0.0f, FT_ACT_SIGMOID), 0.5, 0);
    FT_CHECK_NEAR(ft_act_apply(2.0f, FT_ACT_SIGMOID), 0.8807970779778823, 1e-7);

    float d[4] = {-1, 2, -3, 4}, e[4] = {0.5f, -3, 1, 1};
    ft_map a = {1, 2, 2, d}, b = {1, 2, 2, e};
    ft_add(NULL, &a, &b, FT_ACT_RELU, &a); // aliasing y = a
    FT_CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 5);
    ft_activate(NULL, &b, FT_ACT_RELU6);
    FT_CHECK(e[0] == 0.5f && e[1] == 0 && e[2] == 1 && e[3] == 1);
}

static void test_pool_hand(void)
{
    // 3x3, one channel, all negative: maxpool 2x2 s2 SAME gives 2x2 with
    // the padding ignored (a zero-padded version would return 0 at the
    // borders).
    float x[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9}, y[4];
    ft_map xm = {3, 3, 1, x}, ym = {2, 2, 1, y};
    FT_CHECK_OK(ft_maxpool(NULL, &xm, 2, 2, FT_PAD_SAME, &ym), NULL);
    FT_CHECK(y[0] == -1 && y[1] == -3 && y[2] == -7 && y[3] == -9);
    // 2x2 stride 1 SAME: pad 0 before, 1 after.
    float y9[9];
    ft_map y9m = {3, 3, 1, y9};
    FT_CHECK_OK(ft_maxpool(NULL, &xm, 2, 1, FT_PAD_SAME, &y9m), NULL);
    FT_CHECK(y9[0] == -1 && y9[2] == -3 && y9[8] == -9 && y9[4] == -5);
    ft_map bad = {3, 3, 1, y9};
    FT_CHECK_EQ(ft_maxpool(NULL, &xm, 2, 2, FT_PAD_SAME, &bad), FT_E_INVALID);
    // avg 2x2 s2 VALID on 3x3 -> 1x1: mean of the top-left 2x2.
    float ya;
    ft_map yam = {1, 1, 1, &ya};
    FT_CHECK_OK(ft_avgpool(NULL, &xm, 2, 2, &yam), NULL);
    FT_CHECK_NEAR(ya, -3.0, 0);
    // Global: two channels.
    float z[8] = {1, -1, 2, -2, 3, -3, 6, -6}, gm[2], gx[2];
    ft_map zm = {2, 2, 2, z};
    ft_global_avgpool(&zm, gm);
    ft_global_maxpool(&zm, gx);
    FT_CHECK(gm[0] == 3 && gm[1] == -3 && gx[0] == 6 && gx[1] == -1);
}

static void test_resize_hand(void)
{
    // 2x2 -> 3x3, §3.4: ratio 2/3, source coords 0, 2/3, 4/3; the upper
    // neighbour clamps to 1. Image [[0, 30], [60, 90]].
    uint8_t img[4] = {0, 30, 60, 90};
    float y[9];
    ft_map ym = {3, 3, 1, y};
    ft_resize_bilinear_u8(img, 2, 2, 2, 1, &ym);
    FT_CHECK_NEAR(y[0], 0, 0);
    FT_CHECK_NEAR(y[1], 20, 1e-5); // 30 * 2/3
    FT_CHECK_NEAR(y[2], 30, 0);    // x0 = 1, x1 = min(1, 2)
    FT_CHECK_NEAR(y[3], 40, 1e-5); // 60 * 2/3
    FT_CHECK_NEAR(y[4], 60, 1e-5); // 20 + (80 - 20) * 2/3
    FT_CHECK_NEAR(y[8], 90, 0);
    FT_CHECK_NEAR(y[5], 30 + 60 * (2.0 / 3), 1e-5); // 70
    // Downscale 4 -> 3 on one row, two channels, with a row stride > w*c:
    // ratio 4/3, coords 0, 4/3, 8/3.
    uint8_t row[12] = {0, 100, 30, 100, 60, 100, 90, 200, 0xEE, 0xEE, 0xEE, 0xEE};
    float z[6];
    ft_map zm = {1, 3, 2, z};
    ft_resize_bilinear_u8(row, 1, 4, 12, 2, &zm);
    FT_CHECK_NEAR(z[0], 0, 0);
    FT_CHECK_NEAR(z[2], 30 + 30.0 / 3, 1e-5);       // 40
    FT_CHECK_NEAR(z[4], 60 + 30 * (2.0 / 3), 1e-5); // 80
    FT_CHECK_NEAR(z[5], 100 + 100 * (2.0 / 3), 1e-4);
    // The float version gives the same on the same values.
    float f[4] = {0, 30, 60, 90}, yf[9];
    ft_map fm = {2, 2, 1, f}, yfm = {3, 3, 1, yf};
    ft_resize_bilinear_f32(&fm, &yfm);
    FT_CHECK(memcmp(yf, y, sizeof y) == 0);
}

// ---- GEMM variants ----

// One GEMM case: variant v against the reference on random A (rows lda
// apart) and B, C rows ldc apart (the gap must keep its canaries); `split`
// runs it in the two row and two column blocks threads would use. Returns
// the number of bad elements.
static int gemm_case(size_t v, int32_t m, int32_t n, int32_t k, size_t lda, size_t ldc,
                     ft_act act, bool with_bias, bool split)
{
    float *a = rand_buf((size_t)m * lda), *b = rand_buf((size_t)k * n);
    float *bias = rand_buf((size_t)n);
    float *bp = ft_aligned_alloc(ft_kern_pgemm_packed_count(k, n) * 4);
    ft_kern_pgemm_pack_b(k, n, b, (size_t)n, bp);
    size_t cn = (size_t)m * ldc;
    float *want = canary_buf(cn), *got = canary_buf(cn);
    ft_pgemm_args g = {m, n, k, a, lda, bp, with_bias ? bias : NULL, want, ldc, act};
    ft_kern_pgemm_f32_ref(&g, 0, m, 0, n);
    g.c = got;
    if (split) {
        int32_t mh = m / 2, nh = (n / 2) / FT_PGEMM_NR * FT_PGEMM_NR;
        gemm_variants[v].fn(&g, 0, mh, 0, nh);
        gemm_variants[v].fn(&g, 0, mh, nh, n);
        gemm_variants[v].fn(&g, mh, m, 0, n);
    } else {
        gemm_variants[v].fn(&g, 0, m, 0, n);
    }
    double tol = 1e-5 * sqrt((double)k);
    int bad = 0;
    for (int32_t i = 0; i < m; i++) {
        bad += compare(gemm_variants[v].name, got + i * ldc, want + i * ldc, (size_t)n, tol);
        for (size_t j = (size_t)n; j < ldc; j++)
            bad += !is_canary(got + i * ldc + j);
    }
    bad += !tail_intact(got, cn);
    if (bad)
        fprintf(stderr, "gemm %s m=%d n=%d k=%d lda=%zu act=%d: %d bad\n", gemm_variants[v].name,
                m, n, k, lda, act, bad);
    float *bufs[] = {a, b, bias, bp, want, got};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        ft_aligned_free(bufs[i]);
    return bad;
}

static void test_gemm_variants(void)
{
    static const int32_t ms[] = {1, 2, 5, 13, 14, 15, 29, 64, 97};
    static const int32_t ns[] = {1, 3, 16, 17, 31, 32, 33, 64, 100};
    static const int32_t ks[] = {1, 2, 7, 27, 64, 300, 600};
    int checked = 0;
    for (size_t v = 0; v < N_GEMM; v++) {
        if (!supported(gemm_variants[v].feat))
            continue;
        for (size_t im = 0; im < sizeof ms / sizeof *ms; im++)
            for (size_t in = 0; in < sizeof ns / sizeof *ns; in++)
                for (size_t ik = 0; ik < sizeof ks / sizeof *ks; ik++) {
                    int32_t m = ms[im], n = ns[in], k = ks[ik];
                    size_t lda = (size_t)k + (im & 1), ldc = (size_t)n + (in % 3);
                    ft_act act = (ft_act)((im + in + ik) % 5);
                    if (gemm_case(v, m, n, k, lda, ldc, act, !(ik & 1), true))
                        ft_test_failures++;
                    checked++;
                }
    }
    FT_CHECK(checked > 0);
}

// Row strides the AVX-512 GEMM has dedicated tiles for (A as a map with 16
// to 256 channels) and the 2 KiB-multiple ones whose strips it copies first
// (with n >= 128, four panels or more), with K below and at the stride.
static void test_gemm_strides(void)
{
    static const int32_t ldas[] = {32, 64, 128, 256, 512, 1024};
    static const int32_t ms[] = {14, 29, 43};
    static const int32_t ns[] = {32, 64, 160};
    int checked = 0;
    for (size_t v = 0; v < N_GEMM; v++) {
        if (!supported(gemm_variants[v].feat))
            continue;
        for (size_t il = 0; il < sizeof ldas / sizeof *ldas; il++)
            for (int kk = 0; kk < 2; kk++)
                for (size_t im = 0; im < sizeof ms / sizeof *ms; im++) {
                    int32_t lda = ldas[il], k = kk ? lda : lda / 2 + 3, m = ms[im];
                    int32_t n = ns[(il + im) % (sizeof ns / sizeof *ns)];
                    ft_act act = (ft_act)((il + im + (size_t)kk) % 4);
                    if (gemm_case(v, m, n, k, (size_t)lda, (size_t)n, act, true, false))
                        ft_test_failures++;
                    checked++;
                }
        // One 16-column panel on the 16/32/64-channel maps' strides and
        // two panels on 16 channels (YuNet's pointwise layers and heads),
        // dedicated tiles in the AVX-512 GEMM (28-row ones for one panel:
        // m 29 and 43 leave 1 and 15 rows to the 14-row tiles).
        static const int32_t small_ldas[] = {16, 32, 64};
        static const int32_t small_ns[] = {16, 9, 24, 32};
        for (size_t il = 0; il < sizeof small_ldas / sizeof *small_ldas; il++)
            for (size_t in = 0; in < sizeof small_ns / sizeof *small_ns; in++)
                for (int kk = 0; kk < 2; kk++)
                    for (size_t im = 0; im < 3; im++) {
                        int32_t lda = small_ldas[il], k = kk ? lda : lda / 2 + 3;
                        int32_t m = ms[im], n = small_ns[in];
                        ft_act act = (ft_act)((il + in + im + (size_t)kk) % 4);
                        if (gemm_case(v, m, n, k, (size_t)lda, (size_t)n + 1, act, kk == 0,
                                      false))
                            ft_test_failures++;
                        checked++;
                    }
    }
    FT_CHECK(checked > 0);
}

// ---- Depthwise variants ----

static void test_dwconv_variants(void)
{
    static const int32_t sizes[][2] = {{1, 1}, {2, 2}, {3, 5},  {4, 4},   {7, 6},
                                       {5, 2}, {9, 1}, {17, 9}, {16, 16}, {4, 37}};
    // 256 and 320: the AVX-512 variant's four-block sweep (c >= 256); 1, 2,
    // 4 and 8: its sweep of pixels across the lanes (row3x3_narrow).
    static const int32_t chans[] = {1, 2, 3, 4, 8, 16, 17, 32, 40, 64, 256, 320};
    static const int32_t kers[] = {3, 1, 5};
    int checked = 0;
    for (size_t v = 0; v < N_DW; v++) {
        if (!supported(dw_variants[v].feat))
            continue;
        for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++)
            for (size_t ic = 0; ic < sizeof chans / sizeof *chans; ic++)
                for (size_t ik = 0; ik < sizeof kers / sizeof *kers; ik++)
                    for (int stride = 1; stride <= 2; stride++)
                        for (int pad = 0; pad < 2; pad++) {
                            int32_t h = sizes[is][0], w = sizes[is][1], c = chans[ic];
                            int32_t kk = kers[ik];
                            ft_conv_geom g;
                            if (ft_conv_geom_make(h, w, c, c, kk, kk, stride, (ft_pad)pad, &g) !=
                                FT_OK)
                                continue;
                            float *x = rand_buf((size_t)h * w * c);
                            float *wt = rand_buf((size_t)kk * kk * c), *bias = rand_buf((size_t)c);
                            size_t yn = (size_t)g.out_h * g.out_w * c;
                            float *want = canary_buf(yn), *got = canary_buf(yn);
                            ft_act act = (ft_act)((is + ic + ik + stride) % 5);
                            const float *b = (ic & 1) ? NULL : bias;
                            ft_kern_dwconv2d_f32_ref(&g, x, wt, b, act, want, 0, g.out_h);
                            // Rows in two calls, the way threads split them.
                            int32_t half = g.out_h / 2;
                            dw_variants[v].fn(&g, x, wt, b, act, got, 0, half);
                            dw_variants[v].fn(&g, x, wt, b, act, got, half, g.out_h);
                            int bad =
                                compare(dw_variants[v].name, got, want, yn, 1e-6 * kk * kk + 1e-7);
                            bad += !tail_intact(got, yn);
                            if (bad) {
                                fprintf(stderr, "dwconv %s %dx%dx%d k%d s%d pad%d: %d bad\n",
                                        dw_variants[v].name, h, w, c, kk, stride, pad, bad);
                                ft_test_failures++;
                            }
                            checked++;
                            ft_aligned_free(x);
                            ft_aligned_free(wt);
                            ft_aligned_free(bias);
                            ft_aligned_free(want);
                            ft_aligned_free(got);
                        }
        // Maps whose rows read by one call exceed 1 MiB: the AVX-512
        // variant's wide stride-1 layers then take the grouped sweep, not
        // the two-row one (dwconv2d_avx512.c, PAIR_WIDE_BYTES); the same map
        // in calls of 5 rows takes the two-row sweep, except with rows over
        // 64 KiB (the last shape: PAIR_WIDE_ROW_BYTES).
        static const int32_t big[][3] = {
            {70, 64, 64}, {36, 75, 128}, {41, 130, 32}, {12, 300, 64}};
        for (size_t ib = 0; ib < sizeof big / sizeof *big; ib++)
            for (int pad = 0; pad < 2; pad++) {
                int32_t h = big[ib][0], w = big[ib][1], c = big[ib][2];
                ft_conv_geom g;
                FT_CHECK(ft_conv_geom_make(h, w, c, c, 3, 3, 1, (ft_pad)pad, &g) == FT_OK);
                float *x = rand_buf((size_t)h * w * c);
                float *wt = rand_buf((size_t)9 * c), *bias = rand_buf((size_t)c);
                size_t yn = (size_t)g.out_h * g.out_w * c;
                float *want = canary_buf(yn), *got = canary_buf(yn), *got2 = canary_buf(yn);
                ft_kern_dwconv2d_f32_ref(&g, x, wt, bias, FT_ACT_RELU, want, 0, g.out_h);
                dw_variants[v].fn(&g, x, wt, bias, FT_ACT_RELU, got, 0, g.out_h);
                for (int32_t r0 = 0; r0 < g.out_h; r0 += 5)
                    dw_variants[v].fn(&g, x, wt, bias, FT_ACT_RELU, got2, r0,
                                      r0 + 5 < g.out_h ? r0 + 5 : g.out_h);
                // The sweep's tolerance: 9 terms summed in another order, with FMA.
                int bad = compare(dw_variants[v].name, got, want, yn, 1e-6 * 9 + 1e-7);
                bad += compare(dw_variants[v].name, got2, want, yn, 1e-6 * 9 + 1e-7);
                bad += !tail_intact(got, yn) + !tail_intact(got2, yn);
                if (bad) {
                    fprintf(stderr, "dwconv %s %dx%dx%d k3 s1 pad%d (large): %d bad\n",
                            dw_variants[v].name, h, w, c, pad, bad);
                    ft_test_failures++;
                }
                checked++;
                ft_aligned_free(x);
                ft_aligned_free(wt);
                ft_aligned_free(bias);
                ft_aligned_free(want);
                ft_aligned_free(got);
                ft_aligned_free(got2);
            }
    }
    FT_CHECK(checked > 0);
}

// Direct convolution variants against the HWIO reference: sizes around the
// 14-pixel tiles, 1-4 input channels, 3x3 / 5x5 / 7x7 / 1x3, strides 1-3,
// both paddings, c_out on and off the 32-column panels; rows in two calls.
static void test_dconv_variants(void)
{
    // 5x75 and 3x131: rows wide enough for the AVX-512 28-pixel tile (run
    // stride 6: 3 channels at stride 2, 2 at stride 3; c_out 1 and 16).
    static const int32_t sizes[][2] = {{1, 1}, {3, 5},  {5, 14}, {4, 15}, {9, 29},
                                       {6, 43}, {2, 2}, {5, 75}, {3, 131}};
    static const int32_t kers[][2] = {{3, 3}, {5, 5}, {7, 7}, {1, 3}};
    static const int32_t couts[] = {1, 16, 17, 32, 40, 64};
    int checked = 0;
    for (size_t v = 0; v < N_DCONV; v++) {
        if (!supported(dconv_variants[v].feat))
            continue;
        for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++)
            for (int32_t c_in = 1; c_in <= 4; c_in++)
                for (size_t ik = 0; ik < sizeof kers / sizeof *kers; ik++)
                    for (int stride = 1; stride <= 3; stride++)
                        for (int pad = 0; pad < 2; pad++) {
                            size_t io = (is + (size_t)c_in + ik + (size_t)stride) %
                                        (sizeof couts / sizeof *couts);
                            int32_t h = sizes[is][0], w = sizes[is][1], c_out = couts[io];
                            int32_t kh = kers[ik][0], kw = kers[ik][1];
                            ft_conv_geom g;
                            if (ft_conv_geom_make(h, w, c_in, c_out, kh, kw, stride, (ft_pad)pad,
                                                  &g) != FT_OK)
                                continue;
                            int32_t k = kh * kw * c_in;
                            float *x = rand_buf((size_t)h * w * c_in);
                            float *wt = rand_buf((size_t)k * c_out), *bias = rand_buf((size_t)c_out);
                            float *bp = ft_aligned_alloc(ft_kern_pgemm_packed_count(k, c_out) *
                                                         sizeof(float));
                            ft_kern_pgemm_pack_b(k, c_out, wt, (size_t)c_out, bp);
                            size_t yn = (size_t)g.out_h * g.out_w * c_out;
                            float *want = canary_buf(yn), *got = canary_buf(yn);
                            ft_act act = (ft_act)((is + ik + (size_t)stride + (size_t)pad) % 5);
                            const float *b = (io & 1) ? NULL : bias;
                            ft_kern_conv2d_f32_ref(&g, x, wt, b, act, want);
                            int32_t half = g.out_h / 2;
                            dconv_variants[v].fn(&g, x, bp, b, act, got, 0, half);
                            dconv_variants[v].fn(&g, x, bp, b, act, got, half, g.out_h);
                            int bad = compare(dconv_variants[v].name, got, want, yn,
                                              1e-5 * sqrt((double)k));
                            bad += !tail_intact(got, yn);
                            if (bad) {
                                fprintf(stderr, "dconv %s %dx%dx%d k%dx%d s%d pad%d c_out %d: %d bad\n",
                                        dconv_variants[v].name, h, w, c_in, kh, kw, stride, pad,
                                        c_out, bad);
                                ft_test_failures++;
                            }
                            checked++;
                            ft_aligned_free(x);
                            ft_aligned_free(wt);
                            ft_aligned_free(bias);
                            ft_aligned_free(bp);
                            ft_aligned_free(want);
                            ft_aligned_free(got);
                        }
    }
    FT_CHECK(checked > 0);
}

// ---- Direct conv on many channels: the GEMM's bits ----
//
// Layers with more than FT_DCONV_RUNS_MAX_CIN input channels take the
// direct kernel (conv.c), which must form the sums of im2col + its level's
// GEMM in the same order, K chunks included: the same bits. The ResNet's
// 3x3 shapes (SAME: a padded copy and row tiles; VALID stride 2: row tiles
// on x itself), small maps (flattened tiles across rows, tap pointers on
// zeros at the edges), K chunk ends inside a tap (K = 288, 1152, 9 * 100;
// 2304: 9 chunks of 256, 10 of 231 with a chunk of 255),
// c_out off the panels, every activation, 1x1 maps (8 of 9 taps outside:
// skipped, see conv2d_avx512.c); the layer with 1 and 2 threads, and the
// kernel alone on the unpadded geometry in two row ranges.
static void test_dconv_gemm_bits(void)
{
    static const struct {
        int32_t h, w, c_in, c_out, stride;
        ft_pad pad;
    } cases[] = {
        {35, 35, 32, 32, 1, FT_PAD_SAME},  {35, 35, 32, 64, 2, FT_PAD_VALID},
        {17, 17, 64, 64, 1, FT_PAD_SAME},  {17, 17, 64, 128, 2, FT_PAD_VALID},
        {8, 8, 128, 128, 1, FT_PAD_SAME},  {8, 8, 128, 256, 2, FT_PAD_VALID},
        {9, 20, 16, 48, 1, FT_PAD_SAME},   {7, 9, 33, 40, 1, FT_PAD_SAME},
        {12, 16, 32, 17, 2, FT_PAD_SAME},  {6, 7, 100, 70, 1, FT_PAD_VALID},
        {3, 30, 64, 33, 1, FT_PAD_SAME},   {5, 6, 100, 20, 2, FT_PAD_SAME},
        {6, 6, 256, 40, 1, FT_PAD_SAME},   {3, 3, 256, 64, 1, FT_PAD_SAME},
        {1, 1, 256, 64, 1, FT_PAD_SAME},   {1, 1, 40, 33, 1, FT_PAD_SAME},
    };
    int checked = 0;
    for (size_t lv = 0; lv < 3; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kd = table_for(levels[lv]), kg = kd;
        if (!kd.dconv2d)
            continue;
        kg.dconv2d = NULL; // im2col + the level's GEMM
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            int32_t h = cases[ci].h, w = cases[ci].w, c_in = cases[ci].c_in;
            int32_t c_out = cases[ci].c_out, k = 9 * c_in;
            ft_act act = (ft_act)(ci % 5);
            ft_conv_desc d = {3, 3, c_in, c_out, cases[ci].stride, cases[ci].pad, false, act};
            float *wt = rand_buf((size_t)k * c_out), *bias = rand_buf((size_t)c_out);
            float *x = rand_buf((size_t)h * w * c_in);
            for (size_t i = 0; i < (size_t)h * w * c_in; i += 5)
                x[i] = 0.0f; // post-ReLU maps hold zeros
            ft_conv *conv;
            FT_CHECK_OK(ft_conv_new(&d, wt, (ci & 1) ? NULL : bias, &conv), NULL);
            ft_conv_geom g;
            FT_CHECK_OK(ft_conv_geom_make(h, w, c_in, c_out, 3, 3, cases[ci].stride,
                                          cases[ci].pad, &g),
                        NULL);
            size_t yn = (size_t)g.out_h * g.out_w * c_out;
            float *want = canary_buf(yn), *got = canary_buf(yn), *ref = canary_buf(yn);
            ft_map xm = {h, w, c_in, x}, ym = {g.out_h, g.out_w, c_out, want};
            ft_nn_ctx *ctx;
            FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kg);
            FT_CHECK_OK(ft_conv_forward(ctx, conv, &xm, &ym), NULL);
            ft_nn_ctx_free(ctx);
            ft_kern_conv2d_f32_ref(&g, x, wt, (ci & 1) ? NULL : bias, act, ref);
            FT_CHECK(compare("gemm", want, ref, yn, 1e-5 * sqrt((double)k)) == 0);
            // nth 1, 2: the layer; nth 0: the kernel alone, on x as it is
            // (padding by tap pointers), in two row ranges.
            for (int nth = 0; nth <= 2; nth++) {
                if (nth == 0) {
                    int32_t half = g.out_h / 2;
                    kd.dconv2d(&g, x, conv->w, conv->bias, act, got, 0, half);
                    kd.dconv2d(&g, x, conv->w, conv->bias, act, got, half, g.out_h);
                } else {
                    FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
                    ft_nn__ctx_set_kernels(ctx, &kd);
                    ym.d = got;
                    FT_CHECK_OK(ft_conv_forward(ctx, conv, &xm, &ym), NULL);
                    ft_nn_ctx_free(ctx);
                }
                int n = 0;
                for (size_t i = 0; i < yn; i++)
                    n += memcmp(&got[i], &want[i], sizeof(float)) != 0;
                if (n || !tail_intact(got, yn)) {
                    fprintf(stderr, "dconv_gemm_bits %s nth=%d %dx%dx%d -> %d s%d: %d differ\n",
                            levels[lv], nth, h, w, c_in, c_out, cases[ci].stride, n);
                    ft_test_failures++;
                }
                memset(got, 0xA5, yn * sizeof(float));
                checked++;
            }
            ft_conv_free(conv);
            ft_aligned_free(wt);
            ft_aligned_free(bias);
            ft_aligned_free(x);
            ft_aligned_free(want);
            ft_aligned_free(got);
            ft_aligned_free(ref);
        }
    }
    FT_CHECK(checked > 0);
}

// ---- Max pooling: every variant bit for bit the reference ----

static void test_maxpool_variants(void)
{
    static const int32_t sizes[][2] = {{1, 1}, {2, 2}, {3, 5}, {7, 9}, {8, 6}, {5, 14}, {17, 3}};
    static const int32_t chans[] = {1, 3, 15, 16, 17, 33, 64};
    // Values the max must treat exactly as the reference: NaN, signed
    // zeros, infinities, ties.
    const float special[] = {NAN, -0.0f, 0.0f, -INFINITY, INFINITY, 0.5f};
    int checked = 0;
    for (size_t v = 0; v < N_MAXPOOL; v++) {
        if (!supported(maxpool_variants[v].feat))
            continue;
        for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++)
            for (size_t ic = 0; ic < sizeof chans / sizeof *chans; ic++)
                for (int32_t k = 2; k <= 3; k++)
                    for (int32_t stride = 1; stride <= 2; stride++)
                        for (int pad = 0; pad < 2; pad++) {
                            int32_t h = sizes[is][0], w = sizes[is][1], c = chans[ic];
                            ft_conv_geom g;
                            if (ft_conv_geom_make(h, w, c, c, k, k, stride, (ft_pad)pad, &g) !=
                                FT_OK)
                                continue;
                            size_t xn = (size_t)h * w * c, yn = (size_t)g.out_h * g.out_w * c;
                            float *x = rand_buf(xn);
                            for (size_t i = 0; i < xn; i += 7)
                                x[i] = special[(i / 7) % (sizeof special / sizeof *special)];
                            for (size_t i = 3; i + c < xn; i += 11)
                                x[i + (size_t)c] = x[i]; // ties between neighbours
                            float *want = canary_buf(yn), *got = canary_buf(yn);
                            ft_kern_maxpool2d_f32_ref(&g, x, want, 0, g.out_h);
                            int32_t half = g.out_h / 2;
                            maxpool_variants[v].fn(&g, x, got, 0, half);
                            maxpool_variants[v].fn(&g, x, got, half, g.out_h);
                            // Bits, not values: NaN and -0 must match too.
                            if (memcmp(got, want, yn * sizeof(float)) != 0 ||
                                !tail_intact(got, yn)) {
                                fprintf(stderr, "maxpool %s %dx%dx%d k%d s%d pad%d: mismatch\n",
                                        maxpool_variants[v].name, h, w, c, k, stride, pad);
                                ft_test_failures++;
                            }
                            checked++;
                            ft_aligned_free(x);
                            ft_aligned_free(want);
                            ft_aligned_free(got);
                        }
    }
    FT_CHECK(checked > 0);
}

// ---- Explicit padding (ft_conv_forward_pad) ----

// Against the reference on a zero-padded copy with VALID padding, for
// every level, regular (direct and im2col paths) and depthwise layers,
// strides 1-2, any pads below the kernel size, 1 and 2 threads.
static void test_conv_pad(void)
{
    static const struct conv_pad_case {
        int32_t h, w, c_in, c_out, k, stride;
        bool dw;
    } cases[] = {{9, 12, 3, 16, 3, 2, false}, {8, 8, 3, 16, 3, 2, false},
                 {7, 5, 3, 17, 3, 1, false},  {6, 9, 8, 24, 3, 2, false},
                 {5, 7, 2, 5, 5, 2, false},   {11, 6, 16, 16, 3, 2, true},
                 {4, 4, 20, 20, 3, 1, true},  {1, 1, 3, 16, 3, 2, false}};
    int checked = 0;
    for (size_t lv = 0; lv < sizeof levels / sizeof *levels; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        for (int nth = 1; nth <= 2; nth++) {
            ft_nn_ctx *ctx = NULL;
            FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kt);
            for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
                const struct conv_pad_case *cc = &cases[ci];
                for (int32_t pt = 0; pt < cc->k; pt++)
                    for (int32_t pl = 0; pl < cc->k; pl++) {
                        int32_t pb = (pt + 1) % cc->k, pr = pl; // asymmetric too
                        int32_t ph = cc->h + pt + pb, pw = cc->w + pl + pr;
                        if (ph < cc->k || pw < cc->k)
                            continue;
                        int32_t oh = (ph - cc->k) / cc->stride + 1;
                        int32_t ow = (pw - cc->k) / cc->stride + 1;
                        ft_conv_desc d = {cc->k, cc->k, cc->c_in, cc->c_out, cc->stride,
                                          FT_PAD_VALID, cc->dw, FT_ACT_RELU};
                        size_t nw = (size_t)cc->k * cc->k * cc->c_in * (cc->dw ? 1 : cc->c_out);
                        float *wt = rand_buf(nw), *bias = rand_buf((size_t)cc->c_out);
                        float *x = rand_buf((size_t)cc->h * cc->w * cc->c_in);
                        float *xp = ft_aligned_alloc((size_t)ph * pw * cc->c_in * sizeof(float));
                        memset(xp, 0, (size_t)ph * pw * cc->c_in * sizeof(float));
                        for (int32_t r = 0; r < cc->h; r++)
                            memcpy(xp + ((size_t)(r + pt) * pw + pl) * cc->c_in,
                                   x + (size_t)r * cc->w * cc->c_in,
                                   (size_t)cc->w * cc->c_in * sizeof(float));
                        ft_conv_geom g;
                        FT_CHECK_OK(ft_conv_geom_make(ph, pw, cc->c_in, cc->c_out, cc->k, cc->k,
                                                      cc->stride, FT_PAD_VALID, &g),
                                    NULL);
                        size_t yn = (size_t)oh * ow * cc->c_out;
                        float *want = canary_buf(yn), *got = canary_buf(yn);
                        if (cc->dw)
                            ft_kern_dwconv2d_f32_ref(&g, xp, wt, bias, FT_ACT_RELU, want, 0, oh);
                        else
                            ft_kern_conv2d_f32_ref(&g, xp, wt, bias, FT_ACT_RELU, want);
                        ft_conv *c = NULL;
                        FT_CHECK_OK(ft_conv_new(&d, wt, bias, &c), NULL);
                        ft_map xm = {cc->h, cc->w, cc->c_in, x}, ym = {oh, ow, cc->c_out, got};
                        ft_status st = ft_conv_forward_pad(ctx, c, &xm, pt, pl, &ym);
                        if (st != FT_OK) {
                            fprintf(stderr, "conv_pad %s: status %s\n", levels[lv],
                                    ft_status_str(st));
                            ft_test_failures++;
                        } else {
                            // The GEMM's tolerance (pgemm.h) with k = kh*kw*c_in.
                            int bad = compare(levels[lv], got, want, yn,
                                              1e-5 * sqrt((double)cc->k * cc->k * cc->c_in));
                            bad += !tail_intact(got, yn);
                            if (bad) {
                                fprintf(stderr,
                                        "conv_pad %s nth %d %dx%dx%d->%d k%d s%d %s pads %d,%d: "
                                        "%d bad\n",
                                        levels[lv], nth, cc->h, cc->w, cc->c_in, cc->c_out, cc->k,
                                        cc->stride, cc->dw ? "dw" : "", pt, pl, bad);
                                ft_test_failures++;
                            }
                        }
                        checked++;
                        ft_conv_free(c);
                        ft_aligned_free(wt);
                        ft_aligned_free(bias);
                        ft_aligned_free(x);
                        ft_aligned_free(xp);
                        ft_aligned_free(want);
                        ft_aligned_free(got);
                    }
            }
            ft_nn_ctx_free(ctx);
        }
    }
    FT_CHECK(checked > 0);
    // Arguments the geometry cannot take.
    ft_conv_desc d = {3, 3, 3, 16, 2, FT_PAD_VALID, false, FT_ACT_NONE};
    float *wt = rand_buf(3 * 3 * 3 * 16), *x = rand_buf(4 * 4 * 3), *y = canary_buf(16 * 16);
    ft_conv *c = NULL;
    ft_nn_ctx *ctx = NULL;
    FT_CHECK_OK(ft_conv_new(&d, wt, NULL, &c), NULL);
    FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
    ft_map xm = {4, 4, 3, x}, ym = {2, 2, 16, y}, far = {4, 2, 16, y};
    FT_CHECK_EQ(ft_conv_forward_pad(ctx, c, &xm, 3, 0, &ym), FT_E_INVALID); // pad >= kh
    FT_CHECK_EQ(ft_conv_forward_pad(ctx, c, &xm, -1, 0, &ym), FT_E_INVALID);
    FT_CHECK_EQ(ft_conv_forward_pad(ctx, c, &xm, 0, 0, &far), FT_E_INVALID); // row 3 reads row 6
    FT_CHECK_OK(ft_conv_forward_pad(ctx, c, &xm, 1, 1, &ym), NULL);
    ft_nn_ctx_free(ctx);
    ft_conv_free(c);
    ft_aligned_free(wt);
    ft_aligned_free(x);
    ft_aligned_free(y);
}

// ---- Layers (threads x variants) against the direct reference ----

typedef struct conv_case {
    int32_t h, w, c_in, c_out, k, stride;
    ft_pad pad;
    bool dw;
} conv_case;

static const conv_case conv_cases[] = {
    {1, 1, 3, 5, 1, 1, FT_PAD_SAME, false},      {1, 1, 16, 33, 3, 1, FT_PAD_SAME, false},
    {5, 7, 3, 16, 3, 1, FT_PAD_VALID, false},    {8, 8, 3, 32, 3, 2, FT_PAD_SAME, false},
    {9, 11, 17, 40, 1, 1, FT_PAD_SAME, false},   {16, 16, 32, 64, 1, 1, FT_PAD_SAME, false},
    {2, 2, 64, 128, 3, 2, FT_PAD_SAME, false},   {23, 23, 3, 32, 7, 2, FT_PAD_VALID, false},
    {17, 17, 32, 64, 3, 2, FT_PAD_VALID, false}, {12, 10, 24, 19, 3, 1, FT_PAD_SAME, false},
    {4, 4, 96, 70, 3, 1, FT_PAD_SAME, false},    {40, 3, 8, 8, 1, 2, FT_PAD_SAME, false},
    {16, 16, 32, 32, 3, 1, FT_PAD_SAME, true},   {15, 13, 17, 17, 3, 2, FT_PAD_SAME, true},
    {6, 6, 64, 64, 3, 2, FT_PAD_VALID, true},    {1, 1, 8, 8, 3, 1, FT_PAD_SAME, true},
    // Few input channels (the direct dconv2d kernel): rows of several
    // 14-pixel tiles with a partial one, both paddings, c_out off the panels.
    {9, 37, 3, 32, 3, 2, FT_PAD_SAME, false},    {7, 30, 4, 40, 3, 1, FT_PAD_SAME, false},
    {6, 33, 1, 8, 5, 1, FT_PAD_SAME, false},     {10, 31, 2, 64, 3, 2, FT_PAD_SAME, false},
};

static void test_conv_layers(void)
{
    for (size_t lv = 0; lv < 3; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        for (int nth = 1; nth <= 3; nth++) {
            ft_nn_ctx *ctx;
            FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kt);
            for (size_t ci = 0; ci < sizeof conv_cases / sizeof *conv_cases; ci++) {
                const conv_case *cc = &conv_cases[ci];
                ft_conv_desc d = {cc->k,      cc->k,   cc->c_in, cc->c_out,
                                  cc->stride, cc->pad, cc->dw,   (ft_act)(ci % 5)};
                size_t wn = (size_t)cc->k * cc->k * cc->c_in * (cc->dw ? 1 : cc->c_out);
                float *w = rand_buf(wn), *bias = rand_buf((size_t)cc->c_out);
                float *x = rand_buf((size_t)cc->h * cc->w * cc->c_in);
                ft_conv *conv;
                FT_CHECK_OK(ft_conv_new(&d, w, (ci & 1) ? bias : NULL, &conv), NULL);
                int32_t oh, ow;
                FT_CHECK_OK(ft_conv_out_shape(conv, cc->h, cc->w, &oh, &ow), NULL);
                ft_conv_geom g;
                ft_conv_geom_make(cc->h, cc->w, cc->c_in, cc->c_out, cc->k, cc->k, cc->stride,
                                  cc->pad, &g);
                FT_CHECK(oh == g.out_h && ow == g.out_w);
                size_t yn = (size_t)oh * ow * cc->c_out;
                float *want = canary_buf(yn), *got = canary_buf(yn);
                if (cc->dw)
                    ft_kern_dwconv2d_f32_ref(&g, x, w, (ci & 1) ? bias : NULL, d.act, want, 0, oh);
                else
                    ft_kern_conv2d_f32_ref(&g, x, w, (ci & 1) ? bias : NULL, d.act, want);
                ft_map xm = {cc->h, cc->w, cc->c_in, x}, ym = {oh, ow, cc->c_out, got};
                FT_CHECK_OK(ft_conv_forward(ctx, conv, &xm, &ym), NULL);
                double k = (double)cc->k * cc->k * (cc->dw ? 1 : cc->c_in);
                int bad = compare(levels[lv], got, want, yn, 1e-5 * sqrt(k));
                bad += !tail_intact(got, yn);
                if (bad) {
                    fprintf(stderr, "conv %s nth=%d case %zu: %d bad\n", levels[lv], nth, ci, bad);
                    ft_test_failures++;
                }
                // Wrong output shapes are refused.
                ft_map wrong = {oh + 1, ow, cc->c_out, got};
                FT_CHECK_EQ(ft_conv_forward(ctx, conv, &xm, &wrong), FT_E_INVALID);
                ft_conv_free(conv);
                ft_aligned_free(w);
                ft_aligned_free(bias);
                ft_aligned_free(x);
                ft_aligned_free(want);
                ft_aligned_free(got);
            }
            ft_nn_ctx_free(ctx);
        }
    }
}

// ---- Fused separable layers against dw then pw ----

typedef struct sep_case {
    int32_t h, w, c, c_out, k, stride;
    ft_pad pad;
} sep_case;

// Edges: 1x1 maps, one column, odd channel counts, c_out off the 32-column
// panels, stride 2 on odd and even sizes, VALID, a 5x5 depthwise kernel
// (general path), maps that take several bands with positions carried
// between bands (60x37x64: 13 rows a band; 9x5x1024: one row a band).
static const sep_case sep_cases[] = {
    {1, 1, 8, 16, 3, 1, FT_PAD_SAME},     {1, 1, 3, 5, 3, 2, FT_PAD_SAME},
    {16, 16, 32, 64, 3, 1, FT_PAD_SAME},  {15, 13, 17, 19, 3, 2, FT_PAD_SAME},
    {6, 6, 64, 40, 3, 2, FT_PAD_VALID},   {60, 37, 64, 33, 3, 1, FT_PAD_SAME},
    {61, 45, 64, 70, 3, 2, FT_PAD_SAME},  {9, 5, 1024, 64, 3, 1, FT_PAD_SAME},
    {40, 1, 8, 8, 3, 1, FT_PAD_SAME},     {33, 200, 24, 32, 3, 1, FT_PAD_SAME},
    {7, 7, 16, 16, 5, 1, FT_PAD_SAME},    {12, 10, 20, 24, 1, 1, FT_PAD_SAME},
    {32, 32, 160, 96, 3, 1, FT_PAD_SAME}, {20, 20, 48, 48, 3, 2, FT_PAD_SAME},
};

static void test_sepconv_layers(void)
{
    static const ft_act dw_acts[] = {FT_ACT_RELU6, FT_ACT_NONE, FT_ACT_LEAKY};
    static const ft_act pw_acts[] = {FT_ACT_RELU6, FT_ACT_LEAKY, FT_ACT_NONE, FT_ACT_SIGMOID,
                                     FT_ACT_RELU};
    for (size_t ci = 0; ci < sizeof sep_cases / sizeof *sep_cases; ci++) {
        const sep_case *sc = &sep_cases[ci];
        ft_conv_desc dd = {sc->k,      sc->k,   sc->c, sc->c,
                           sc->stride, sc->pad, true,  dw_acts[ci % 3]};
        ft_conv_desc pd = {1, 1, sc->c, sc->c_out, 1, FT_PAD_SAME, false, pw_acts[ci % 5]};
        float *dw_w = rand_buf((size_t)sc->k * sc->k * sc->c), *dw_b = rand_buf((size_t)sc->c);
        float *pw_w = rand_buf((size_t)sc->c * sc->c_out), *pw_b = rand_buf((size_t)sc->c_out);
        float *x = rand_buf((size_t)sc->h * sc->w * sc->c);
        ft_conv *dw, *pw;
        FT_CHECK_OK(ft_conv_new(&dd, dw_w, (ci & 1) ? NULL : dw_b, &dw), NULL);
        FT_CHECK_OK(ft_conv_new(&pd, pw_w, (ci & 2) ? NULL : pw_b, &pw), NULL);
        ft_conv_geom g, gp;
        FT_CHECK_OK(ft_conv_geom_make(sc->h, sc->w, sc->c, sc->c, sc->k, sc->k, sc->stride,
                                      sc->pad, &g),
                    NULL);
        ft_conv_geom_make(g.out_h, g.out_w, sc->c, sc->c_out, 1, 1, 1, FT_PAD_SAME, &gp);
        size_t tn = (size_t)g.out_h * g.out_w * sc->c, yn = (size_t)g.out_h * g.out_w * sc->c_out;
        // The specification: reference depthwise, then reference 1x1 conv.
        float *mid = canary_buf(tn), *want = canary_buf(yn);
        ft_kern_dwconv2d_f32_ref(&g, x, dw_w, (ci & 1) ? NULL : dw_b, dd.act, mid, 0, g.out_h);
        ft_kern_conv2d_f32_ref(&gp, mid, pw_w, (ci & 2) ? NULL : pw_b, pd.act, want);
        ft_map xm = {sc->h, sc->w, sc->c, x};
        for (size_t lv = 0; lv < 3; lv++) {
            if (!supported(level_feat[lv]))
                continue;
            ft_nn_kernels kt = table_for(levels[lv]);
            for (int nth = 1; nth <= 3; nth++) {
                ft_nn_ctx *ctx;
                FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
                ft_nn__ctx_set_kernels(ctx, &kt);
                float *got = canary_buf(yn), *unf = canary_buf(yn), *tmp = canary_buf(tn);
                ft_map ym = {g.out_h, g.out_w, sc->c_out, got};
                FT_CHECK_OK(ft_sepconv_forward(ctx, dw, pw, &xm, &ym), NULL);
                // The same kernels unfused: dw to memory, then pw.
                ft_map tm = {g.out_h, g.out_w, sc->c, tmp}, um = {g.out_h, g.out_w, sc->c_out, unf};
                FT_CHECK_OK(ft_conv_forward(ctx, dw, &xm, &tm), NULL);
                FT_CHECK_OK(ft_conv_forward(ctx, pw, &tm, &um), NULL);
                // Tolerance: the depthwise one (kh*kw terms) carried through
                // c products, plus the GEMM's.
                double tol = 1e-5 * sqrt((double)sc->c) * sc->k * sc->k;
                int bad = compare(levels[lv], got, want, yn, tol);
                bad += !tail_intact(got, yn);
                // Fusion changes no element's summation order.
                bad += memcmp(got, unf, yn * sizeof(float)) != 0;
                if (bad) {
                    fprintf(stderr, "sepconv %s nth=%d case %zu: %d bad\n", levels[lv], nth, ci,
                            bad);
                    ft_test_failures++;
                }
                // Wrong shapes and pairs are refused.
                ft_map wrong = {g.out_h, g.out_w, sc->c_out + 1, got};
                FT_CHECK_EQ(ft_sepconv_forward(ctx, dw, pw, &xm, &wrong), FT_E_INVALID);
                FT_CHECK_EQ(ft_sepconv_forward(ctx, pw, dw, &xm, &ym), FT_E_INVALID);
                FT_CHECK_EQ(ft_sepconv_forward(ctx, dw, dw, &xm, &ym), FT_E_INVALID);
                ft_aligned_free(got);
                ft_aligned_free(unf);
                ft_aligned_free(tmp);
                ft_nn_ctx_free(ctx);
            }
        }
        ft_conv_free(dw);
        ft_conv_free(pw);
        ft_aligned_free(dw_w);
        ft_aligned_free(dw_b);
        ft_aligned_free(pw_w);
        ft_aligned_free(pw_b);
        ft_aligned_free(x);
        ft_aligned_free(mid);
        ft_aligned_free(want);
    }
}

// ---- Two separable pairs in a chain against two fused pairs ----

typedef struct chain_case {
    int32_t h, w, c, c_mid, c_out, k1, s1, k2, s2;
    ft_pad pad;
} chain_case;

// Edges: 1x1 maps, one column, odd channel counts, c_mid and c_out off the
// 32-column panels, both strides in both places on odd and even sizes,
// VALID, 5x5 and 1x1 depthwise kernels, and intermediate rows so wide that
// the ring holds only the rows one final row needs (200x256: 200 KiB a
// row), or a few (64x64, 90x33x128), or the whole map (small ones).
static const chain_case chain_cases[] = {
    {1, 1, 8, 16, 8, 3, 1, 3, 2, FT_PAD_SAME},     {1, 1, 3, 5, 7, 3, 2, 3, 1, FT_PAD_SAME},
    {16, 16, 32, 64, 128, 3, 1, 3, 2, FT_PAD_SAME}, {15, 13, 17, 19, 21, 3, 2, 3, 2, FT_PAD_SAME},
    {12, 12, 16, 40, 24, 3, 1, 3, 2, FT_PAD_VALID}, {64, 64, 32, 64, 128, 3, 1, 3, 2, FT_PAD_SAME},
    {90, 33, 64, 128, 70, 3, 1, 3, 1, FT_PAD_SAME}, {9, 200, 16, 256, 40, 3, 1, 3, 2, FT_PAD_SAME},
    {11, 201, 8, 256, 33, 3, 2, 3, 1, FT_PAD_SAME}, {40, 1, 8, 8, 8, 3, 1, 3, 2, FT_PAD_SAME},
    {17, 19, 16, 24, 16, 5, 1, 5, 2, FT_PAD_SAME},  {12, 10, 20, 24, 20, 1, 1, 3, 1, FT_PAD_SAME},
    {31, 29, 48, 96, 64, 3, 2, 5, 1, FT_PAD_SAME},  {33, 35, 64, 64, 32, 3, 1, 3, 2, FT_PAD_VALID},
};

static void test_sepconv_chain(void)
{
    static const ft_act acts[] = {FT_ACT_RELU6, FT_ACT_NONE, FT_ACT_LEAKY, FT_ACT_RELU,
                                  FT_ACT_SIGMOID};
    for (size_t ci = 0; ci < sizeof chain_cases / sizeof *chain_cases; ci++) {
        const chain_case *cc = &chain_cases[ci];
        ft_conv_desc d1 = {cc->k1, cc->k1, cc->c, cc->c, cc->s1, cc->pad, true, acts[ci % 3]};
        ft_conv_desc p1 = {1, 1, cc->c, cc->c_mid, 1, FT_PAD_SAME, false, acts[(ci + 1) % 4]};
        ft_conv_desc d2 = {cc->k2,   cc->k2,  cc->c_mid, cc->c_mid,
                           cc->s2,   cc->pad, true,      acts[(ci + 2) % 3]};
        ft_conv_desc p2 = {1, 1, cc->c_mid, cc->c_out, 1, FT_PAD_SAME, false, acts[ci % 5]};
        float *w1 = rand_buf((size_t)cc->k1 * cc->k1 * cc->c), *b1 = rand_buf((size_t)cc->c);
        float *v1 = rand_buf((size_t)cc->c * cc->c_mid), *e1 = rand_buf((size_t)cc->c_mid);
        float *w2 = rand_buf((size_t)cc->k2 * cc->k2 * cc->c_mid),
              *b2 = rand_buf((size_t)cc->c_mid);
        float *v2 = rand_buf((size_t)cc->c_mid * cc->c_out), *e2 = rand_buf((size_t)cc->c_out);
        float *x = rand_buf((size_t)cc->h * cc->w * cc->c);
        ft_conv *dw1, *pw1, *dw2, *pw2;
        FT_CHECK_OK(ft_conv_new(&d1, w1, (ci & 1) ? NULL : b1, &dw1), NULL);
        FT_CHECK_OK(ft_conv_new(&p1, v1, (ci & 2) ? NULL : e1, &pw1), NULL);
        FT_CHECK_OK(ft_conv_new(&d2, w2, (ci & 4) ? NULL : b2, &dw2), NULL);
        FT_CHECK_OK(ft_conv_new(&p2, v2, (ci & 1) ? NULL : e2, &pw2), NULL);
        ft_conv_geom g1, gp1, g2, gp2;
        FT_CHECK_OK(ft_conv_geom_make(cc->h, cc->w, cc->c, cc->c, cc->k1, cc->k1, cc->s1, cc->pad,
                                      &g1),
                    NULL);
        ft_conv_geom_make(g1.out_h, g1.out_w, cc->c, cc->c_mid, 1, 1, 1, FT_PAD_SAME, &gp1);
        FT_CHECK_OK(ft_conv_geom_make(g1.out_h, g1.out_w, cc->c_mid, cc->c_mid, cc->k2, cc->k2,
                                      cc->s2, cc->pad, &g2),
                    NULL);
        ft_conv_geom_make(g2.out_h, g2.out_w, cc->c_mid, cc->c_out, 1, 1, 1, FT_PAD_SAME, &gp2);
        size_t n1 = (size_t)g1.out_h * g1.out_w * cc->c,
               nm = (size_t)g1.out_h * g1.out_w * cc->c_mid,
               n2 = (size_t)g2.out_h * g2.out_w * cc->c_mid,
               yn = (size_t)g2.out_h * g2.out_w * cc->c_out;
        // The specification: the four reference layers one after another.
        float *t1 = canary_buf(n1), *tm = canary_buf(nm), *t2 = canary_buf(n2),
              *want = canary_buf(yn);
        ft_kern_dwconv2d_f32_ref(&g1, x, w1, (ci & 1) ? NULL : b1, d1.act, t1, 0, g1.out_h);
        ft_kern_conv2d_f32_ref(&gp1, t1, v1, (ci & 2) ? NULL : e1, p1.act, tm);
        ft_kern_dwconv2d_f32_ref(&g2, tm, w2, (ci & 4) ? NULL : b2, d2.act, t2, 0, g2.out_h);
        ft_kern_conv2d_f32_ref(&gp2, t2, v2, (ci & 1) ? NULL : e2, p2.act, want);
        ft_map xm = {cc->h, cc->w, cc->c, x};
        for (size_t lv = 0; lv < 3; lv++) {
            if (!supported(level_feat[lv]))
                continue;
            ft_nn_kernels kt = table_for(levels[lv]);
            for (int nth = 1; nth <= 3; nth++) {
                ft_nn_ctx *ctx;
                FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
                ft_nn__ctx_set_kernels(ctx, &kt);
                float *got = canary_buf(yn), *two = canary_buf(yn), *mid = canary_buf(nm);
                ft_map ym = {g2.out_h, g2.out_w, cc->c_out, got};
                FT_CHECK_OK(ft_sepconv2_forward(ctx, dw1, pw1, dw2, pw2, &xm, &ym), NULL);
                // The same kernels as two fused pairs, the map between in memory.
                ft_map mm = {g1.out_h, g1.out_w, cc->c_mid, mid},
                       tw = {g2.out_h, g2.out_w, cc->c_out, two};
                FT_CHECK_OK(ft_sepconv_forward(ctx, dw1, pw1, &xm, &mm), NULL);
                FT_CHECK_OK(ft_sepconv_forward(ctx, dw2, pw2, &mm, &tw), NULL);
                // Tolerance: both pairs' (see test_sepconv_layers), the
                // first carried through the second's sums.
                double tol = 1e-4 * sqrt((double)cc->c + cc->c_mid) *
                             (cc->k1 * cc->k1 + cc->k2 * cc->k2);
                int bad = compare(levels[lv], got, want, yn, tol);
                bad += !tail_intact(got, yn);
                // Chaining changes no element's summation order.
                bad += memcmp(got, two, yn * sizeof(float)) != 0;
                if (bad) {
                    fprintf(stderr, "sepconv2 %s nth=%d case %zu: %d bad\n", levels[lv], nth, ci,
                            bad);
                    ft_test_failures++;
                }
                // Wrong shapes and chains are refused.
                ft_map wrong = {g2.out_h, g2.out_w, cc->c_out + 1, got};
                FT_CHECK_EQ(ft_sepconv2_forward(ctx, dw1, pw1, dw2, pw2, &xm, &wrong),
                            FT_E_INVALID);
                FT_CHECK_EQ(ft_sepconv2_forward(ctx, dw1, pw1, pw2, dw2, &xm, &ym), FT_E_INVALID);
                if (cc->c != cc->c_mid)
                    FT_CHECK_EQ(ft_sepconv2_forward(ctx, dw2, pw2, dw1, pw1, &xm, &ym),
                                FT_E_INVALID);
                ft_aligned_free(got);
                ft_aligned_free(two);
                ft_aligned_free(mid);
                ft_nn_ctx_free(ctx);
            }
        }
        ft_conv_free(dw1);
        ft_conv_free(pw1);
        ft_conv_free(dw2);
        ft_conv_free(pw2);
        float *bufs[] = {w1, b1, v1, e1, w2, b2, v2, e2, x, t1, tm, t2, want};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            ft_aligned_free(bufs[i]);
    }
}

// ---- Top rows only ----

// Output rows [0, t) of a layer given a y of t rows (nn.h): the full map's
// bits, nothing written past them, and no input row read beyond those the
// rows need (the rest of x is NaN, which would spread into any sum).
static int32_t rows_needed(const ft_conv_geom *g, int32_t t)
{
    int32_t r = (t - 1) * g->stride - g->pad_top + g->kh;
    return r > g->in_h ? g->in_h : r;
}

static float *poisoned_copy(const float *x, int32_t h, int32_t w, int32_t c, int32_t keep)
{
    size_t n = (size_t)h * w * c, k = (size_t)keep * w * c;
    float *p = canary_buf(n);
    memcpy(p, x, k * sizeof(float));
    for (size_t i = k; i < n; i++)
        p[i] = NAN;
    return p;
}

static int top_rows_check(const char *what, const float *full, const float *top, int32_t t,
                          int32_t w, int32_t c)
{
    size_t n = (size_t)t * w * c;
    int bad = memcmp(full, top, n * sizeof(float)) != 0;
    bad += !tail_intact(top, n);
    if (bad)
        fprintf(stderr, "top rows %s: t=%d differs or writes past\n", what, t);
    return bad;
}

static void test_top_rows(void)
{
    int bad = 0;
    size_t runs = 0;
    for (size_t lv = 0; lv < 3; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        for (int nth = 1; nth <= 3; nth += 2) {
            ft_nn_ctx *ctx;
            FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kt);
            // Single layers: depthwise, direct, im2col and 1x1 paths.
            for (size_t ci = 0; ci < sizeof conv_cases / sizeof *conv_cases; ci++) {
                const conv_case *cc = &conv_cases[ci];
                ft_conv_desc d = {cc->k,      cc->k,   cc->c_in, cc->c_out,
                                  cc->stride, cc->pad, cc->dw,   FT_ACT_RELU6};
                float *w = rand_buf((size_t)cc->k * cc->k * cc->c_in * (cc->dw ? 1 : cc->c_out));
                float *x = rand_buf((size_t)cc->h * cc->w * cc->c_in);
                ft_conv *conv;
                FT_CHECK_OK(ft_conv_new(&d, w, NULL, &conv), NULL);
                ft_conv_geom g;
                ft_conv_geom_make(cc->h, cc->w, cc->c_in, cc->c_out, cc->k, cc->k, cc->stride,
                                  cc->pad, &g);
                size_t yn = (size_t)g.out_h * g.out_w * cc->c_out;
                float *full = canary_buf(yn);
                ft_map xm = {cc->h, cc->w, cc->c_in, x}, ym = {g.out_h, g.out_w, cc->c_out, full};
                FT_CHECK_OK(ft_conv_forward(ctx, conv, &xm, &ym), NULL);
                int32_t ts[3] = {1, g.out_h / 2, g.out_h - 1};
                for (int q = 0; q < 3; q++) {
                    int32_t t = ts[q];
                    if (t < 1 || t >= g.out_h || (q && t == ts[q - 1]))
                        continue;
                    float *xp = poisoned_copy(x, cc->h, cc->w, cc->c_in, rows_needed(&g, t));
                    float *top = canary_buf(yn);
                    ft_map xq = {cc->h, cc->w, cc->c_in, xp}, yt = {t, g.out_w, cc->c_out, top};
                    FT_CHECK_OK(ft_conv_forward(ctx, conv, &xq, &yt), NULL);
                    bad += top_rows_check("conv", full, top, t, g.out_w, cc->c_out);
                    runs++;
                    ft_aligned_free(xp);
                    ft_aligned_free(top);
                }
                ft_map none = {0, g.out_w, cc->c_out, full};
                FT_CHECK_EQ(ft_conv_forward(ctx, conv, &xm, &none), FT_E_INVALID);
                ft_conv_free(conv);
                ft_aligned_free(w);
                ft_aligned_free(x);
                ft_aligned_free(full);
            }
            // Chains (and their first pair alone, through ft_sepconv_forward).
            for (size_t ci = 0; ci < sizeof chain_cases / sizeof *chain_cases; ci++) {
                const chain_case *cc = &chain_cases[ci];
                ft_conv_desc d1 = {cc->k1, cc->k1, cc->c, cc->c, cc->s1, cc->pad, true,
                                   FT_ACT_RELU6};
                ft_conv_desc p1 = {1, 1, cc->c, cc->c_mid, 1, FT_PAD_SAME, false, FT_ACT_RELU6};
                ft_conv_desc d2 = {cc->k2, cc->k2,  cc->c_mid, cc->c_mid,
                                   cc->s2, cc->pad, true,      FT_ACT_RELU6};
                ft_conv_desc p2 = {1, 1, cc->c_mid, cc->c_out, 1, FT_PAD_SAME, false, FT_ACT_NONE};
                float *w1 = rand_buf((size_t)cc->k1 * cc->k1 * cc->c);
                float *v1 = rand_buf((size_t)cc->c * cc->c_mid);
                float *w2 = rand_buf((size_t)cc->k2 * cc->k2 * cc->c_mid);
                float *v2 = rand_buf((size_t)cc->c_mid * cc->c_out);
                float *x = rand_buf((size_t)cc->h * cc->w * cc->c);
                ft_conv *dw1, *pw1, *dw2, *pw2;
                FT_CHECK_OK(ft_conv_new(&d1, w1, NULL, &dw1), NULL);
                FT_CHECK_OK(ft_conv_new(&p1, v1, NULL, &pw1), NULL);
                FT_CHECK_OK(ft_conv_new(&d2, w2, NULL, &dw2), NULL);
                FT_CHECK_OK(ft_conv_new(&p2, v2, NULL, &pw2), NULL);
                ft_conv_geom g1, g2;
                ft_conv_geom_make(cc->h, cc->w, cc->c, cc->c, cc->k1, cc->k1, cc->s1, cc->pad, &g1);
                ft_conv_geom_make(g1.out_h, g1.out_w, cc->c_mid, cc->c_mid, cc->k2, cc->k2, cc->s2,
                                  cc->pad, &g2);
                size_t nm = (size_t)g1.out_h * g1.out_w * cc->c_mid,
                       yn = (size_t)g2.out_h * g2.out_w * cc->c_out;
                float *mid = canary_buf(nm), *full = canary_buf(yn);
                ft_map xm = {cc->h, cc->w, cc->c, x}, mm = {g1.out_h, g1.out_w, cc->c_mid, mid},
                       ym = {g2.out_h, g2.out_w, cc->c_out, full};
                FT_CHECK_OK(ft_sepconv_forward(ctx, dw1, pw1, &xm, &mm), NULL);
                FT_CHECK_OK(ft_sepconv2_forward(ctx, dw1, pw1, dw2, pw2, &xm, &ym), NULL);
                int32_t ts[3] = {1, g2.out_h / 2, g2.out_h - 1};
                for (int q = 0; q < 3; q++) {
                    int32_t t = ts[q];
                    if (t < 1 || t >= g2.out_h || (q && t == ts[q - 1]))
                        continue;
                    int32_t need = rows_needed(&g1, rows_needed(&g2, t));
                    float *xp = poisoned_copy(x, cc->h, cc->w, cc->c, need);
                    float *top = canary_buf(yn);
                    ft_map xq = {cc->h, cc->w, cc->c, xp}, yt = {t, g2.out_w, cc->c_out, top};
                    FT_CHECK_OK(ft_sepconv2_forward(ctx, dw1, pw1, dw2, pw2, &xq, &yt), NULL);
                    bad += top_rows_check("sepconv2", full, top, t, g2.out_w, cc->c_out);
                    ft_aligned_free(top);
                    runs++;
                    int32_t t1 = t < g1.out_h ? t : g1.out_h - 1;
                    if (t1 >= 1) {
                        ft_aligned_free(xp);
                        xp = poisoned_copy(x, cc->h, cc->w, cc->c, rows_needed(&g1, t1));
                        xq.d = xp;
                        top = canary_buf(nm);
                        ft_map mt = {t1, g1.out_w, cc->c_mid, top};
                        FT_CHECK_OK(ft_sepconv_forward(ctx, dw1, pw1, &xq, &mt), NULL);
                        bad += top_rows_check("sepconv", mid, top, t1, g1.out_w, cc->c_mid);
                        ft_aligned_free(top);
                        runs++;
                    }
                    ft_aligned_free(xp);
                }
                ft_conv *cv[] = {dw1, pw1, dw2, pw2};
                for (int i = 0; i < 4; i++)
                    ft_conv_free(cv[i]);
                float *bufs[] = {w1, v1, w2, v2, x, mid, full};
                for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                    ft_aligned_free(bufs[i]);
            }
            ft_nn_ctx_free(ctx);
        }
    }
    FT_CHECK_EQ(bad, 0);
    FT_CHECK(runs > 100);
}

// ---- Bands of a taller map (ft_sepconv_forward_rows, ft_sepconv2_forward_rows) ----

// Input rows [*lo, *hi) that output rows [o0, o1) of g read, clipped to the
// map (the rule nn.h states, written out again here).
static void band_input(const ft_conv_geom *g, int32_t o0, int32_t o1, int32_t *lo, int32_t *hi)
{
    int32_t l = o0 * g->stride - g->pad_top, u = (o1 - 1) * g->stride - g->pad_top + g->kh;
    *lo = l < 0 ? 0 : l > g->in_h ? g->in_h : l;
    *hi = u > g->in_h ? g->in_h : u < *lo ? *lo : u;
}

// Output rows [o0, o1) given x = rows [xr0, xr0 + xh) of the input (the
// rows the band reads, plus `more` rows on each side where the map has
// them, which are NaN: a read of them spreads into a sum): the whole map's
// rows bit for bit, nothing written past them. A band one row short of what
// it reads is refused.
static int band_check(ft_nn_ctx *ctx, const ft_conv *const *cv, bool two, const float *x,
                      int32_t h, int32_t w, int32_t c, int32_t lo, int32_t hi, int32_t more,
                      int32_t o0, int32_t o1, const float *full, int32_t ow, int32_t oc)
{
    int32_t xr0 = lo - more < 0 ? 0 : lo - more, xr1 = hi + more > h ? h : hi + more;
    size_t row = (size_t)w * c, n = (size_t)(o1 - o0) * ow * oc;
    float *xb = canary_buf((size_t)(xr1 - xr0) * row);
    for (int32_t r = xr0; r < xr1; r++)
        for (size_t i = 0; i < row; i++)
            xb[(size_t)(r - xr0) * row + i] = r >= lo && r < hi ? x[(size_t)r * row + i] : NAN;
    float *yb = canary_buf(n);
    ft_map xm = {xr1 - xr0, w, c, xb}, ym = {o1 - o0, ow, oc, yb};
    ft_status st = two ? ft_sepconv2_forward_rows(ctx, cv[0], cv[1], cv[2], cv[3], &xm, xr0, h,
                                                  o0, &ym)
                       : ft_sepconv_forward_rows(ctx, cv[0], cv[1], &xm, xr0, h, o0, &ym);
    int bad = st != FT_OK;
    if (!bad) {
        bad += memcmp(full + (size_t)o0 * ow * oc, yb, n * sizeof(float)) != 0;
        bad += !tail_intact(yb, n);
    }
    // One row short at the top (when the band reads a row), then at the bottom.
    if (hi > lo && more == 0) {
        ft_map cut = {xm.h - 1, w, c, xb + row};
        if (cut.h >= 1) {
            bad += (two ? ft_sepconv2_forward_rows(ctx, cv[0], cv[1], cv[2], cv[3], &cut, xr0 + 1,
                                                   h, o0, &ym)
                        : ft_sepconv_forward_rows(ctx, cv[0], cv[1], &cut, xr0 + 1, h, o0, &ym)) !=
                   FT_E_INVALID;
            cut.d = xb;
            bad += (two ? ft_sepconv2_forward_rows(ctx, cv[0], cv[1], cv[2], cv[3], &cut, xr0, h,
                                                   o0, &ym)
                        : ft_sepconv_forward_rows(ctx, cv[0], cv[1], &cut, xr0, h, o0, &ym)) !=
                   FT_E_INVALID;
        }
    }
    if (bad)
        fprintf(stderr, "band %s rows %d..%d (x rows %d..%d of %d): differs, writes past or "
                        "accepts a short band\n",
                two ? "sepconv2" : "sepconv", o0, o1, xr0, xr1, h);
    ft_aligned_free(xb);
    ft_aligned_free(yb);
    return bad;
}

// A chain case's four layers (random weights, ReLU6, ReLU6, leaky, none),
// their input x, and the geometries of its two depthwise layers.
typedef struct chain_fx {
    ft_conv *cv[4];
    float *w[4], *x;
    ft_conv_geom g1, g2;
} chain_fx;

static void chain_open(const chain_case *cc, chain_fx *f)
{
    ft_conv_desc d[4] = {
        {cc->k1, cc->k1, cc->c, cc->c, cc->s1, cc->pad, true, FT_ACT_RELU6},
        {1, 1, cc->c, cc->c_mid, 1, FT_PAD_SAME, false, FT_ACT_RELU6},
        {cc->k2, cc->k2, cc->c_mid, cc->c_mid, cc->s2, cc->pad, true, FT_ACT_LEAKY},
        {1, 1, cc->c_mid, cc->c_out, 1, FT_PAD_SAME, false, FT_ACT_NONE}};
    size_t nw[4] = {(size_t)cc->k1 * cc->k1 * cc->c, (size_t)cc->c * cc->c_mid,
                    (size_t)cc->k2 * cc->k2 * cc->c_mid, (size_t)cc->c_mid * cc->c_out};
    for (int i = 0; i < 4; i++) {
        f->w[i] = rand_buf(nw[i]);
        FT_CHECK_OK(ft_conv_new(&d[i], f->w[i], NULL, &f->cv[i]), NULL);
    }
    f->x = rand_buf((size_t)cc->h * cc->w * cc->c);
    ft_conv_geom_make(cc->h, cc->w, cc->c, cc->c, cc->k1, cc->k1, cc->s1, cc->pad, &f->g1);
    ft_conv_geom_make(f->g1.out_h, f->g1.out_w, cc->c_mid, cc->c_mid, cc->k2, cc->k2, cc->s2,
                      cc->pad, &f->g2);
}

static void chain_close(chain_fx *f)
{
    for (int i = 0; i < 4; i++) {
        ft_conv_free(f->cv[i]);
        ft_aligned_free(f->w[i]);
    }
    ft_aligned_free(f->x);
}

// Runs fn on every chain case with the reference and AVX-512 kernels (and
// AVX2 when `avx2`), on 1 and 3 threads; returns the sum of what fn returns
// (bad results).
typedef int (*chain_fn)(ft_nn_ctx *ctx, int nth, size_t ci, const chain_case *cc, const chain_fx *f,
                        void *arg);
static int each_chain(bool avx2, chain_fn fn, void *arg)
{
    int bad = 0;
    for (size_t lv = 0; lv < 3; lv += avx2 ? 1 : 2) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        for (int nth = 1; nth <= 3; nth += 2) {
            ft_nn_ctx *ctx;
            FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kt);
            for (size_t ci = 0; ci < sizeof chain_cases / sizeof *chain_cases; ci++) {
                chain_fx fx;
                chain_open(&chain_cases[ci], &fx);
                bad += fn(ctx, nth, ci, &chain_cases[ci], &fx, arg);
                chain_close(&fx);
            }
            ft_nn_ctx_free(ctx);
        }
    }
    return bad;
}

static int sep_bands_case(ft_nn_ctx *ctx, int nth, size_t ci, const chain_case *cc,
                          const chain_fx *fx, void *arg)
{
    size_t *runs = arg;
    int bad = 0;
    ft_conv *const *cv = fx->cv;
    float *x = fx->x;
    ft_conv_geom g1 = fx->g1, g2 = fx->g2;
    size_t nm = (size_t)g1.out_h * g1.out_w * cc->c_mid,
           yn = (size_t)g2.out_h * g2.out_w * cc->c_out;
    float *mid = canary_buf(nm), *full = canary_buf(yn);
    ft_map xm = {cc->h, cc->w, cc->c, x}, mm = {g1.out_h, g1.out_w, cc->c_mid, mid},
           ym = {g2.out_h, g2.out_w, cc->c_out, full};
    FT_CHECK_OK(ft_sepconv_forward(ctx, cv[0], cv[1], &xm, &mm), NULL);
    FT_CHECK_OK(ft_sepconv2_forward(ctx, cv[0], cv[1], cv[2], cv[3], &xm, &ym), NULL);
    // Bands: the top row, a middle band, the bottom rows, the
    // whole map, and a band of one row past the middle.
    for (int two = 0; two < 2; two++) {
        int32_t oh = two ? g2.out_h : g1.out_h;
        int32_t bands[5][2] = {{0, 1},
                               {oh / 3, oh / 3 + (oh + 2) / 3},
                               {oh - (oh + 1) / 2, oh},
                               {0, oh},
                               {oh / 2, oh / 2 + 1}};
        for (int q = 0; q < 5; q++) {
            int32_t o0 = bands[q][0], o1 = bands[q][1] > oh ? oh : bands[q][1];
            if (o0 >= o1)
                continue;
            int32_t lo, hi;
            if (two) {
                int32_t ma, mb;
                band_input(&g2, o0, o1, &ma, &mb);
                band_input(&g1, ma, mb, &lo, &hi);
            } else {
                band_input(&g1, o0, o1, &lo, &hi);
            }
            for (int32_t more = 0; more <= 2; more += 2) {
                bad += band_check(ctx, (const ft_conv *const *)cv, two, x, cc->h, cc->w, cc->c, lo,
                                  hi, more, o0, o1, two ? full : mid, two ? g2.out_w : g1.out_w,
                                  two ? cc->c_out : cc->c_mid);
                (*runs)++;
            }
        }
    }
    // Rows outside the map, a row 0 above the map: refused.
    ft_map one = {1, g2.out_w, cc->c_out, full};
    FT_CHECK_EQ(
        ft_sepconv2_forward_rows(ctx, cv[0], cv[1], cv[2], cv[3], &xm, 0, cc->h, g2.out_h, &one),
        FT_E_INVALID);
    FT_CHECK_EQ(ft_sepconv_forward_rows(ctx, cv[0], cv[1], &xm, -1, cc->h, 0, &mm), FT_E_INVALID);
    FT_CHECK_EQ(ft_sepconv_forward_rows(ctx, cv[0], cv[1], &xm, 1, cc->h, 0, &mm), FT_E_INVALID);
    ft_aligned_free(mid);
    ft_aligned_free(full);
    return bad;
}

static void test_sep_bands(void)
{
    size_t runs = 0;
    FT_CHECK_EQ(each_chain(true, sep_bands_case, &runs), 0);
    FT_CHECK(runs > 200);
}

// A map run from the bottom band up in bands of `bh` final rows through
// ft_sepconv2_forward_kept with a ring of `extra` rows more (or fewer) than
// a band reads: each band's input holds only the rows it reads, and the
// output must be the whole map's bit for bit. Returns the
// number of bad bands; *kept: the intermediate rows the ring spared.
static int keep_run(ft_nn_ctx *ctx, const chain_case *cc, const chain_fx *f, const float *full,
                    int32_t bh, int32_t extra, int64_t *kept)
{
    const ft_conv_geom *g1 = &f->g1, *g2 = &f->g2;
    size_t row = (size_t)g1->out_w * cc->c_mid * sizeof(float), page = ft_page_bytes();
    *kept = 0;
    int32_t most = 0; // intermediate rows a band reads
    for (int32_t o1 = g2->out_h; o1 > 0; o1 -= bh) {
        int32_t o0 = o1 - bh < 0 ? 0 : o1 - bh, ma, mb;
        band_input(g2, o0, o1, &ma, &mb);
        most = mb - ma > most ? mb - ma : most;
    }
    // The ring: the rows wanted, rounded up to whole pages.
    int32_t n = most + extra < 1 ? 1 : most + extra;
    while ((size_t)n * row % page)
        n++;
    if (extra < 0 && n >= most) // no page-sized ring that small
        return 0;
    float *ring = ft_mirror_alloc((size_t)n * row);
    FT_CHECK(ring != NULL);
    if (!ring)
        return 1;
    ft_sep2_keep keep = {ring, n, 0, 0};
    int64_t before = ctx->sep2_kept;
    int bad = 0;
    size_t xrow = (size_t)cc->w * cc->c;
    for (int32_t o1 = g2->out_h; o1 > 0; o1 -= bh) {
        int32_t o0 = o1 - bh < 0 ? 0 : o1 - bh, ma, mb, lo, hi;
        band_input(g2, o0, o1, &ma, &mb);
        band_input(g1, ma, mb, &lo, &hi);
        float *xb = canary_buf((size_t)(hi - lo) * xrow);
        memcpy(xb, f->x + (size_t)lo * xrow, (size_t)(hi - lo) * xrow * sizeof(float));
        size_t ny = (size_t)(o1 - o0) * g2->out_w * cc->c_out;
        float *yb = canary_buf(ny);
        ft_map xm = {hi - lo, cc->w, cc->c, xb}, ym = {o1 - o0, g2->out_w, cc->c_out, yb};
        ft_status st = ft_sepconv2_forward_kept(ctx, f->cv[0], f->cv[1], f->cv[2], f->cv[3], &xm,
                                                lo, cc->h, o0, &ym, &keep);
        bad += st != FT_OK ||
               memcmp(full + (size_t)o0 * g2->out_w * cc->c_out, yb, ny * sizeof(float)) != 0 ||
               !tail_intact(yb, ny);
        ft_aligned_free(xb);
        ft_aligned_free(yb);
    }
    ft_mirror_free(ring, (size_t)n * row);
    *kept = ctx->sep2_kept - before;
    return bad;
}

// ft_sepconv2_forward_kept on consecutive bands, bottom to top, with the
// reference and AVX-512 kernels: the whole map's outputs bit for bit. On
// one thread with a ring that holds a band's rows it computes each
// intermediate row once: the rows it spares are exactly those two
// neighbouring bands share, (k2 - s2) per band edge (dw2's halo), for
// bands of 1, 2 and 5 rows. On three threads, or with a ring one page-row
// short of what a band reads, it spares none and still gives the same bits.
static int sep_keep_case(ft_nn_ctx *ctx, int nth, size_t ci, const chain_case *cc,
                         const chain_fx *fx, void *arg)
{
    int64_t *spared = arg;
    int bad = 0;
    size_t yn = (size_t)fx->g2.out_h * fx->g2.out_w * cc->c_out;
    float *full = canary_buf(yn);
    ft_map xm = {cc->h, cc->w, cc->c, fx->x}, ym = {fx->g2.out_h, fx->g2.out_w, cc->c_out, full};
    FT_CHECK_OK(ft_sepconv2_forward(ctx, fx->cv[0], fx->cv[1], fx->cv[2], fx->cv[3], &xm, &ym),
                NULL);
    static const int32_t heights[] = {1, 2, 5};
    for (size_t q = 0; q < 3; q++) {
        int32_t bh = heights[q], oh = fx->g2.out_h;
        // Rows two neighbouring bands share: dw2's taps over an edge,
        // clipped where the map's padding takes them.
        int64_t want = 0;
        for (int32_t o1 = oh - bh; o1 > 0; o1 -= bh) {
            int32_t a0, a1, b0, b1;
            band_input(&fx->g2, o1 < bh ? 0 : o1 - bh, o1, &a0, &a1);
            band_input(&fx->g2, o1, o1 + bh > oh ? oh : o1 + bh, &b0, &b1);
            want += a1 > b0 ? a1 - b0 : 0;
        }
        int64_t kept = 0;
        bad += keep_run(ctx, cc, fx, full, bh, 0, &kept);
        if (kept != (nth == 1 ? want : 0)) {
            fprintf(stderr,
                    "keep case %zu bands of %d, %d threads: %lld rows spared, %lld expected\n", ci,
                    bh, nth, (long long)kept, (long long)(nth == 1 ? want : 0));
            bad++;
        }
        *spared += kept;
        bad += keep_run(ctx, cc, fx, full, bh, -1, &kept);
        bad += kept != 0;
    }
    ft_aligned_free(full);
    return bad;
}

static void test_sep_keep(void)
{
    int64_t spared = 0;
    FT_CHECK_EQ(each_chain(false, sep_keep_case, &spared), 0);
    FT_CHECK(spared > 100);
}

// ---- Depthwise convolution + 2x2 max pooling ----

// The fused kernels (kern/dwconv2d.h) against their own level's depthwise
// kernel followed by max pooling, bit for bit (the network's outputs must
// not move when the chain fuses them), and against the reference within
// the depthwise tolerance; then ft_dwconv_maxpool2_forward_rows on bands
// (the rows read only: NaN around them) with 1 and 3 threads against
// ft_conv_forward + ft_maxpool, and its refusals.
static void test_dwpool(void)
{
    static const ft_kern_dwconv2d_maxpool2_fn fused[] = {ft_kern_dwconv2d_maxpool2_f32_ref,
                                                         ft_kern_dwconv2d_maxpool2_f32_avx512};
    static const ft_kern_dwconv2d_fn plain[] = {ft_kern_dwconv2d_f32_ref,
                                                ft_kern_dwconv2d_f32_avx512};
    static const ft_kern_maxpool2d_fn pools[] = {ft_kern_maxpool2d_f32_ref,
                                                 ft_kern_maxpool2d_f32_avx512};
    static const unsigned feats[] = {0, FT_CPU_AVX512};
    // 6x160 and 9x40: interior pooled rows over more than one prefetch
    // line per output; odd sizes drop the last row or column.
    static const int32_t sizes[][2] = {{2, 2}, {3, 5}, {4, 4}, {7, 6}, {9, 9},
                                       {10, 33}, {6, 160}, {9, 40}, {1, 4}};
    static const int32_t chans[] = {1, 8, 16, 17, 32, 64};
    int bad = 0, runs = 0;
    for (size_t v = 0; v < 2; v++) {
        if (!supported(feats[v]))
            continue;
        for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++)
            for (size_t ic = 0; ic < sizeof chans / sizeof *chans; ic++)
                for (int kk = 1; kk <= 5; kk += 2)
                    for (int stride = 1; stride <= 2; stride++)
                        for (int pad = 0; pad < 2; pad++) {
                            int32_t h = sizes[is][0], w = sizes[is][1], c = chans[ic];
                            ft_conv_geom g, pg;
                            if (ft_conv_geom_make(h, w, c, c, kk, kk, stride, (ft_pad)pad, &g) !=
                                    FT_OK ||
                                g.out_h < 2 || g.out_w < 2)
                                continue;
                            FT_CHECK(ft_conv_geom_make(g.out_h, g.out_w, c, c, 2, 2, 2,
                                                       FT_PAD_VALID, &pg) == FT_OK);
                            ft_act act = (ft_act)((is + ic + (size_t)kk + (size_t)pad) % 5);
                            float *x = rand_buf((size_t)h * w * c);
                            float *wt = rand_buf((size_t)kk * kk * c), *bias = rand_buf((size_t)c);
                            const float *b = (ic & 1) ? NULL : bias;
                            size_t dn = (size_t)g.out_h * g.out_w * c;
                            size_t yn = (size_t)pg.out_h * pg.out_w * c;
                            float *d = canary_buf(dn), *want = canary_buf(yn);
                            float *got = canary_buf(yn), *refy = canary_buf(yn);
                            plain[v](&g, x, wt, b, act, d, 0, g.out_h);
                            pools[v](&pg, d, want, 0, pg.out_h);
                            int32_t half = pg.out_h / 2;
                            fused[v](&g, x, wt, b, act, got, 0, half);
                            fused[v](&g, x, wt, b, act, got, half, pg.out_h);
                            ft_kern_dwconv2d_maxpool2_f32_ref(&g, x, wt, b, act, refy, 0,
                                                              pg.out_h);
                            int e = memcmp(got, want, yn * sizeof(float)) != 0;
                            e += !tail_intact(got, yn);
                            e += compare("dwpool vs ref", got, refy, yn, 1e-6 * kk * kk + 1e-7);
                            if (e) {
                                fprintf(stderr, "dwpool %zu %dx%dx%d k%d s%d pad%d act%d: %d bad\n",
                                        v, h, w, c, kk, stride, pad, (int)act, e);
                                bad++;
                            }
                            runs++;
                            float *bufs[] = {x, wt, bias, d, want, got, refy};
                            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                                ft_aligned_free(bufs[i]);
                        }
    }
    // The layer call on bands, at every level.
    static const int32_t shapes[][3] = {{12, 10, 16}, {17, 33, 64}, {9, 8, 17}};
    for (size_t lv = 0; lv < 3; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        for (int nth = 1; nth <= 3; nth += 2) {
            ft_nn_ctx *ctx;
            FT_CHECK_OK(ft_nn_ctx_new(nth, &ctx), NULL);
            ft_nn__ctx_set_kernels(ctx, &kt);
            for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
                int32_t h = shapes[si][0], w = shapes[si][1], c = shapes[si][2];
                ft_conv_desc dd = {3, 3, c, c, 1, FT_PAD_SAME, true, FT_ACT_RELU};
                float *wt = rand_buf((size_t)9 * c), *bias = rand_buf((size_t)c);
                float *x = rand_buf((size_t)h * w * c);
                ft_conv *cv;
                FT_CHECK_OK(ft_conv_new(&dd, wt, bias, &cv), NULL);
                float *d = canary_buf((size_t)h * w * c);
                int32_t ph = h / 2, pw = w / 2;
                size_t yn = (size_t)ph * pw * c, row = (size_t)w * c;
                float *want = canary_buf(yn), *got = canary_buf(yn);
                ft_map xm = {h, w, c, x}, dm = {h, w, c, d}, ym = {ph, pw, c, want};
                FT_CHECK_OK(ft_conv_forward(ctx, cv, &xm, &dm), NULL);
                FT_CHECK_OK(ft_maxpool(ctx, &dm, 2, 2, FT_PAD_VALID, &ym), NULL);
                int32_t bands[4][2] = {{0, 1}, {ph / 3, ph / 3 + 2}, {ph - 2, ph}, {0, ph}};
                for (int q = 0; q < 4; q++) {
                    int32_t p0 = bands[q][0], p1 = bands[q][1];
                    int32_t lo = 2 * p0 - 1 < 0 ? 0 : 2 * p0 - 1;
                    int32_t hi = 2 * p1 + 1 > h ? h : 2 * p1 + 1;
                    // The band's rows in a buffer of their own, NaN rows
                    // above and below.
                    float *xb = ft_aligned_alloc(((size_t)(hi - lo) + 2) * row * sizeof(float));
                    FT_ASSERT(xb);
                    for (size_t i = 0; i < ((size_t)(hi - lo) + 2) * row; i++)
                        xb[i] = NAN;
                    memcpy(xb + row, x + (size_t)lo * row, (size_t)(hi - lo) * row * sizeof(float));
                    memset(got, 0xA5, (yn + CANARY_PAD) * sizeof(float));
                    ft_map bx = {hi - lo, w, c, xb + row};
                    ft_map by = {p1 - p0, pw, c, got + (size_t)p0 * pw * c};
                    ft_status st = ft_dwconv_maxpool2_forward_rows(ctx, cv, &bx, lo, h, p0, &by);
                    runs++;
                    if (strcmp(levels[lv], "avx2") == 0) {
                        // No fused variant there: the caller runs both.
                        FT_CHECK_EQ(st, FT_E_UNSUPPORTED);
                    } else {
                        FT_CHECK_OK(st, NULL);
                        size_t o = (size_t)p0 * pw * c, n = (size_t)(p1 - p0) * pw * c;
                        if (memcmp(got + o, want + o, n * sizeof(float)) != 0 ||
                            !tail_intact(got, yn) || (o > 0 && !is_canary(got + o - 1)) ||
                            (o + n < yn && !is_canary(got + o + n))) {
                            fprintf(stderr, "dwpool %s nth %d %dx%dx%d rows %d..%d: wrong\n",
                                    levels[lv], nth, h, w, c, p0, p1);
                            bad++;
                        }
                        // One input row short at either end: refused.
                        if (lo > 0) {
                            ft_map sx = {hi - lo - 1, w, c, xb + 2 * row};
                            FT_CHECK_EQ(ft_dwconv_maxpool2_forward_rows(ctx, cv, &sx, lo + 1, h,
                                                                        p0, &by),
                                        FT_E_INVALID);
                        }
                        if (hi < h) {
                            ft_map sx = {hi - lo - 1, w, c, xb + row};
                            FT_CHECK_EQ(ft_dwconv_maxpool2_forward_rows(ctx, cv, &sx, lo, h, p0,
                                                                        &by),
                                        FT_E_INVALID);
                        }
                    }
                    ft_aligned_free(xb);
                }
                ft_conv_free(cv);
                float *bufs[] = {wt, bias, x, d, want, got};
                for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                    ft_aligned_free(bufs[i]);
            }
            ft_nn_ctx_free(ctx);
        }
    }
    FT_CHECK_EQ(bad, 0);
    FT_CHECK(runs > 300);
}

static void test_dense(void)
{
    static const int32_t dims[][2] = {{1, 1}, {256, 128}, {256, 136}, {7, 33}, {100, 5}};
    for (size_t lv = 0; lv < 3; lv++) {
        if (!supported(level_feat[lv]))
            continue;
        ft_nn_kernels kt = table_for(levels[lv]);
        ft_nn_ctx *ctx;
        FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
        ft_nn__ctx_set_kernels(ctx, &kt);
        for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
            int32_t ni = dims[i][0], no = dims[i][1];
            float *w = rand_buf((size_t)ni * no), *b = rand_buf((size_t)no);
            float *x = rand_buf((size_t)ni), *y = canary_buf((size_t)no);
            ft_dense *d;
            FT_CHECK_OK(ft_dense_new(ni, no, w, (i & 1) ? b : NULL, FT_ACT_NONE, &d), NULL);
            ft_dense_forward(ctx, d, x, y);
            int bad = 0;
            for (int32_t o = 0; o < no; o++) {
                double acc = (i & 1) ? b[o] : 0.0;
                for (int32_t k = 0; k < ni; k++)
                    acc += (double)x[k] * w[(size_t)k * no + o];
                float want = (float)acc;
                bad += compare(levels[lv], &y[o], &want, 1, 1e-5 * sqrt((double)ni));
            }
            bad += !tail_intact(y, (size_t)no);
            if (bad) {
                fprintf(stderr, "dense %s %dx%d: %d bad\n", levels[lv], ni, no, bad);
                ft_test_failures++;
            }
            ft_dense_free(d);
            ft_aligned_free(w);
            ft_aligned_free(b);
            ft_aligned_free(x);
            ft_aligned_free(y);
        }
        ft_nn_ctx_free(ctx);
    }
}

// ---- Context, scratch, dispatch ----

static void test_scratch(void)
{
    // The workspace grows to the largest request and is then reused.
    ft_nn_ctx *ctx;
    FT_CHECK_OK(ft_nn_ctx_new(2, &ctx), NULL);
    FT_CHECK_EQ(ft_nn_ctx_threads(ctx), 2);
    FT_CHECK(ft_nn_ctx_pool(ctx) != NULL && ft_nn_ctx_arena(ctx) != NULL);
    ft_conv_desc d = {3, 3, 8, 16, 1, FT_PAD_SAME, false, FT_ACT_RELU};
    float *w = rand_buf(3 * 3 * 8 * 16), *x = rand_buf(20 * 20 * 8), *y = canary_buf(20 * 20 * 16);
    ft_conv *c;
    FT_CHECK_OK(ft_conv_new(&d, w, NULL, &c), NULL);
    ft_map xm = {20, 20, 8, x}, ym = {20, 20, 16, y};
    FT_CHECK_OK(ft_conv_forward(ctx, c, &xm, &ym), NULL);
    float *s1 = ctx->scratch;
    size_t b1 = ctx->scratch_bytes;
    FT_CHECK(s1 != NULL && b1 > 0);
    ft_map xs = {10, 10, 8, x}, ys = {10, 10, 16, y};
    FT_CHECK_OK(ft_conv_forward(ctx, c, &xs, &ys), NULL);
    FT_CHECK_OK(ft_conv_forward(ctx, c, &xm, &ym), NULL);
    FT_CHECK(ctx->scratch == s1 && ctx->scratch_bytes == b1);
    // Invalid descriptors and wrong channel counts are refused.
    ft_conv_desc bad = d;
    bad.stride = 0;
    ft_conv *c2 = (ft_conv *)1;
    FT_CHECK_EQ(ft_conv_new(&bad, w, NULL, &c2), FT_E_INVALID);
    FT_CHECK(c2 == NULL);
    bad = d;
    bad.depthwise = true;
    FT_CHECK_EQ(ft_conv_new(&bad, w, NULL, &c2), FT_E_INVALID);
    ft_map xc = {20, 20, 7, x};
    FT_CHECK_EQ(ft_conv_forward(ctx, c, &xc, &ym), FT_E_INVALID);
    ft_conv_free(c);
    ft_conv_free(NULL);
    ft_dense_free(NULL);
    ft_nn_ctx_free(ctx);
    ft_nn_ctx_free(NULL);
    ft_aligned_free(w);
    ft_aligned_free(x);
    ft_aligned_free(y);
}

static void test_dispatch(void)
{
    // The dispatched level is the best the CPU and FT_KERNELS allow; with
    // FT_KERNELS=ref (the nn.dispatch_ref entry) every op is the reference.
    const char *level = ft_nn_init();
    FT_CHECK_STREQ(level, ft_nn_init());
    const ft_nn_kernels *k = ft_nn__kernels();
    const char *env = getenv("FT_KERNELS");
    if (env && strcmp(env, "ref") == 0) {
        FT_CHECK_STREQ(level, "ref");
        FT_CHECK(k->pgemm == ft_kern_pgemm_f32_ref);
        FT_CHECK(k->dwconv2d == ft_kern_dwconv2d_f32_ref);
        FT_CHECK(k->dconv2d == ft_kern_dconv2d_f32_ref);
    }
    // The direct convolution is dispatched only at its GEMM's level.
    if (k->dconv2d)
        FT_CHECK_STREQ(k->dconv2d_variant, k->pgemm_variant);
    if (strcmp(level, "avx2") == 0)
        FT_CHECK(k->dconv2d == NULL);
    // Every registered variant is reachable: the level reported is one
    // the CPU allows and has a registered GEMM.
    bool found = false;
    for (size_t i = 0; i < N_GEMM; i++)
        if (strcmp(gemm_variants[i].name, level) == 0) {
            found = true;
            FT_CHECK((ft_cpu_features_allowed() & gemm_variants[i].feat) == gemm_variants[i].feat);
        }
    FT_CHECK(found);
    fprintf(stderr, "dispatch: level %s (pgemm %s, dwconv2d %s, dconv2d %s), cpu allows %s\n",
            level, k->pgemm_variant, k->dwconv2d_variant,
            k->dconv2d_variant ? k->dconv2d_variant : "none", ft_cpu_level_name());
}

static const ft_test_case cases[] = {
    {"geom", test_geom},
    {"conv_ref_hand", test_conv_ref_hand},
    {"dwconv_ref_hand", test_dwconv_ref_hand},
    {"gemm_ref_hand", test_gemm_ref_hand},
    {"act", test_act},
    {"pool_hand", test_pool_hand},
    {"resize_hand", test_resize_hand},
    {"gemm_variants", test_gemm_variants},
    {"gemm_strides", test_gemm_strides},
    {"dwconv_variants", test_dwconv_variants},
    {"dconv_variants", test_dconv_variants},
    {"dconv_gemm_bits", test_dconv_gemm_bits},
    {"maxpool_variants", test_maxpool_variants},
    {"conv_pad", test_conv_pad},
    {"conv_layers", test_conv_layers},
    {"sepconv_layers", test_sepconv_layers},
    {"sepconv_chain", test_sepconv_chain},
    {"top_rows", test_top_rows},
    {"sep_bands", test_sep_bands},
    {"sep_keep", test_sep_keep},
    {"dwpool", test_dwpool},
    {"dense", test_dense},
    {"scratch", test_scratch},
    {"dispatch", test_dispatch},
};
FT_TEST_MAIN(cases)
