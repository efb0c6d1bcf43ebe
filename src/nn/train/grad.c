// Kernel selection for training and the convolution drivers: im2col for
// regular convolutions, straight GEMMs for pointwise ones, the depthwise
// kernels as they are. See grad.h.
#include "nn/train/grad.h"

#include "core/cpu.h"
#include "nn/train/grad_internal.h"

#include <stdlib.h>
#include <string.h>

static const ft_grad_ops ops_ref = {"ref", ft_kern_gemm_f32_ref, ft_kern_dwconv2d_fwd_f32_ref,
                                    ft_kern_dwconv2d_bwd_f32_ref};
static const ft_grad_ops ops_generic = {"generic", ft_kern_gemm_f32_generic,
                                        ft_kern_dwconv2d_fwd_f32_generic,
                                        ft_kern_dwconv2d_bwd_f32_generic};
#if defined(__x86_64__)
static const ft_grad_ops ops_avx512 = {"avx512", ft_kern_gemm_f32_avx512,
                                       ft_kern_dwconv2d_fwd_f32_avx512,
                                       ft_kern_dwconv2d_bwd_f32_avx512};
#endif

const ft_grad_ops *ft_grad_ops_ref(void)
{
    return &ops_ref;
}

const ft_grad_ops *ft_grad_ops_get(void)
{
    const char *e = getenv("FT_KERNELS");
    if (e && strcmp(e, "ref") == 0)
        return &ops_ref;
#if defined(__x86_64__)
    if (ft_cpu_features_allowed() & FT_CPU_AVX512)
        return &ops_avx512;
#endif
    return &ops_generic;
}

const ft_grad_ops *const *ft_grad_ops_all(size_t *n)
{
    static const ft_grad_ops *const all_avx[] = {&ops_ref, &ops_generic,
#if defined(__x86_64__)
                                                 &ops_avx512
#endif
    };
    static const ft_grad_ops *const all_base[] = {&ops_ref, &ops_generic};
#if defined(__x86_64__)
    if (ft_cpu_features() & FT_CPU_AVX512) {
        *n = sizeof all_avx / sizeof all_avx[0];
        return all_avx;
    }
#endif
    *n = 2;
    return all_base;
}

// ---- Convolution drivers ----

static bool is_pointwise(const ft_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad_top == 0 && g->pad_left == 0;
}

// col[p, (ky*kw + kx)*cin + ci] = x[iy, ix, ci] (0 outside): rows are output
// positions, so col times the HWIO weights viewed as [kh*kw*cin, cout] is
// the convolution.
static void im2col(const ft_conv_geom *g, const float *x, float *col)
{
    size_t kk = (size_t)g->kh * g->kw * g->c_in;
    for (int32_t oy = 0; oy < g->out_h; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            float *row = col + ((size_t)oy * g->out_w + ox) * kk;
            for (int32_t ky = 0; ky < g->kh; ky++)
                for (int32_t kx = 0; kx < g->kw; kx++) {
                    float *dst = row + ((size_t)ky * g->kw + kx) * g->c_in;
                    int32_t iy = oy * g->stride - g->pad_top + ky;
                    int32_t ix = ox * g->stride - g->pad_left + kx;
                    if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                        memset(dst, 0, sizeof(float) * (size_t)g->c_in);
                    else
                        memcpy(dst, x + ((size_t)iy * g->in_w + ix) * g->c_in,
                               sizeof(float) * (size_t)g->c_in);
                }
        }
}

static void col2im_add(const ft_conv_geom *g, const float *col, float *dx)
{
    size_t kk = (size_t)g->kh * g->kw * g->c_in;
    memset(dx, 0, sizeof(float) * (size_t)g->in_h * g->in_w * g->c_in);
    for (int32_t oy = 0; oy < g->out_h; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++) {
            const float *row = col + ((size_t)oy * g->out_w + ox) * kk;
            for (int32_t ky = 0; ky < g->kh; ky++)
                for (int32_t kx = 0; kx < g->kw; kx++) {
                    int32_t iy = oy * g->stride - g->pad_top + ky;
                    int32_t ix = ox * g->stride - g->pad_left + kx;
                    if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                        continue;
                    const float *src = row + ((size_t)ky * g->kw + kx) * g->c_in;
                    float *dst = dx + ((size_t)iy * g->in_w + ix) * g->c_in;
                    for (int32_t ci = 0; ci < g->c_in; ci++)
                        dst[ci] += src[ci];
                }
        }
}

// out[c, r] = in[r, c] for an r x c matrix, in 32x32 blocks.
static void transpose(size_t rows, size_t cols, const float *in, float *out)
{
    for (size_t r0 = 0; r0 < rows; r0 += 32)
        for (size_t c0 = 0; c0 < cols; c0 += 32) {
            size_t r1 = r0 + 32 < rows ? r0 + 32 : rows, c1 = c0 + 32 < cols ? c0 + 32 : cols;
            for (size_t r = r0; r < r1; r++)
                for (size_t c = c0; c < c1; c++)
                    out[c * rows + r] = in[r * cols + c];
        }
}

size_t ft_grad_conv_scratch(const ft_conv_geom *g, bool depthwise)
{
    if (depthwise)
        return 0;
    size_t p = (size_t)g->out_h * g->out_w, kk = (size_t)g->kh * g->kw * g->c_in;
    // im2col matrix, its transpose (or the gradient of the columns), and
    // the transposed weights.
    return 2 * p * kk + kk * (size_t)g->c_out;
}

void ft_grad_conv_fwd(const ft_grad_ops *ops, const ft_conv_geom *g, bool depthwise,
                      const float *x, const float *w, float *y, float *scratch)
{
    if (depthwise) {
        ops->dwconv2d_fwd(g, x, w, y);
        return;
    }
    int32_t p = g->out_h * g->out_w, kk = g->kh * g->kw * g->c_in;
    const float *col = x;
    if (!is_pointwise(g)) {
        im2col(g, x, scratch);
        col = scratch;
    }
    ops->gemm(p, g->c_out, kk, col, w, 0.0f, y);
}

void ft_grad_conv_bwd(const ft_grad_ops *ops, const ft_conv_geom *g, bool depthwise,
                      const float *x, const float *w, const float *dy, float *dx, float *dw,
                      float *scratch)
{
    if (depthwise) {
        ops->dwconv2d_bwd(g, x, w, dy, dx, dw);
        return;
    }
    int32_t p = g->out_h * g->out_w, kk = g->kh * g->kw * g->c_in;
    float *col = scratch, *tmp = scratch + (size_t)p * kk, *wt = tmp + (size_t)p * kk;
    const float *cols = x;
    if (!is_pointwise(g)) {
        im2col(g, x, col);
        cols = col;
    }
    // dW [kk, cout] += cols^T [kk, p] * dy [p, cout]
    transpose((size_t)p, (size_t)kk, cols, tmp);
    ops->gemm(kk, g->c_out, p, tmp, dy, 1.0f, dw);
    if (!dx)
        return;
    // dcols [p, kk] = dy [p, cout] * W^T [cout, kk]
    transpose((size_t)kk, (size_t)g->c_out, w, wt);
    if (is_pointwise(g)) {
        ops->gemm(p, kk, g->c_out, dy, wt, 0.0f, dx);
    } else {
        ops->gemm(p, kk, g->c_out, dy, wt, 0.0f, tmp);
        col2im_add(g, tmp, dx);
    }
}
