// Reference regular convolution (conv2d.h): the specification for the
// im2col + GEMM path and the direct kernels. Plain loops, double
// accumulation, then bias and activation in float.
#include "nn/kern/conv2d.h"

#include "nn/kern/act.h"
#include "nn/kern/pgemm.h"

#include <stddef.h>

void ft_kern_conv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                            const float *bias, ft_act act, float *y)
{
    for (int32_t oy = 0; oy < g->out_h; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++)
            for (int32_t co = 0; co < g->c_out; co++) {
                double acc = 0.0;
                for (int32_t ky = 0; ky < g->kh; ky++)
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t iy = oy * g->stride - g->pad_top + ky;
                        int32_t ix = ox * g->stride - g->pad_left + kx;
                        if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                            continue;
                        for (int32_t ci = 0; ci < g->c_in; ci++)
                            acc +=
                                (double)x[((size_t)iy * g->in_w + ix) * g->c_in + ci] *
                                (double)
                                    w[(((size_t)ky * g->kw + kx) * g->c_in + ci) * g->c_out + co];
                    }
                float v = (float)acc;
                if (bias)
                    v += bias[co];
                y[((size_t)oy * g->out_w + ox) * g->c_out + co] = ft_act_apply(v, act);
            }
}

// The same sum with the weights read from their packed GEMM panels
// (pgemm.h): w[ky, kx, ci, co] is row (ky*kw + kx)*c_in + ci, column co.
void ft_kern_dconv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *bp,
                             const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1)
{
    size_t k = (size_t)g->kh * g->kw * g->c_in;
    for (int32_t oy = oy0; oy < oy1; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++)
            for (int32_t co = 0; co < g->c_out; co++) {
                const float *panel = bp + (size_t)(co / FT_PGEMM_NR) * k * FT_PGEMM_NR;
                double acc = 0.0;
                for (int32_t ky = 0; ky < g->kh; ky++)
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t iy = oy * g->stride - g->pad_top + ky;
                        int32_t ix = ox * g->stride - g->pad_left + kx;
                        if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                            continue;
                        for (int32_t ci = 0; ci < g->c_in; ci++) {
                            size_t row = ((size_t)ky * g->kw + kx) * g->c_in + ci;
                            acc += (double)x[((size_t)iy * g->in_w + ix) * g->c_in + ci] *
                                   (double)panel[row * FT_PGEMM_NR + co % FT_PGEMM_NR];
                        }
                    }
                float v = (float)acc;
                if (bias)
                    v += bias[co];
                y[((size_t)oy * g->out_w + ox) * g->c_out + co] = ft_act_apply(v, act);
            }
}
