// Reference depthwise convolution (dwconv2d.h): plain loops in the order of
// the formula, double accumulation, then bias and activation in float.
#include "nn/kern/dwconv2d.h"

#include "nn/kern/act.h"

#include <math.h>
#include <stddef.h>

// Output (oy, ox) of channel ch, activation applied.
static float dw_out(const ft_conv_geom *g, const float *x, const float *w, const float *bias,
                    ft_act act, int32_t oy, int32_t ox, int32_t ch)
{
    int32_t c = g->c_in;
    double acc = 0.0;
    for (int32_t ky = 0; ky < g->kh; ky++)
        for (int32_t kx = 0; kx < g->kw; kx++) {
            int32_t iy = oy * g->stride - g->pad_top + ky;
            int32_t ix = ox * g->stride - g->pad_left + kx;
            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                continue;
            acc += (double)x[((size_t)iy * g->in_w + ix) * c + ch] *
                   (double)w[((size_t)ky * g->kw + kx) * c + ch];
        }
    float v = (float)acc;
    if (bias)
        v += bias[ch];
    return ft_act_apply(v, act);
}

void ft_kern_dwconv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                              const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1)
{
    int32_t c = g->c_in;
    for (int32_t oy = oy0; oy < oy1; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++)
            for (int32_t ch = 0; ch < c; ch++)
                y[((size_t)oy * g->out_w + ox) * c + ch] = dw_out(g, x, w, bias, act, oy, ox, ch);
}

// The 2x2 window's taps in the order of the max pooling reference
// (pool2d_ref.c): m = -inf, then m = v > m ? v : m for (0,0), (0,1),
// (1,0), (1,1).
void ft_kern_dwconv2d_maxpool2_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                                       const float *bias, ft_act act, float *y, int32_t py0,
                                       int32_t py1)
{
    int32_t c = g->c_in, pw = g->out_w / 2;
    for (int32_t py = py0; py < py1; py++)
        for (int32_t px = 0; px < pw; px++)
            for (int32_t ch = 0; ch < c; ch++) {
                float m = -INFINITY;
                for (int32_t dy = 0; dy < 2; dy++)
                    for (int32_t dx = 0; dx < 2; dx++) {
                        float v = dw_out(g, x, w, bias, act, 2 * py + dy, 2 * px + dx, ch);
                        m = v > m ? v : m;
                    }
                y[((size_t)py * pw + px) * c + ch] = m;
            }
}
