// Reference max pooling (kern/pool2d.h): the specification, plain loops.
#include "nn/kern/pool2d.h"

#include <math.h>
#include <stddef.h>

void ft_kern_maxpool2d_f32_ref(const ft_conv_geom *g, const float *x, float *y, int32_t oy0,
                               int32_t oy1)
{
    const int32_t c = g->c_in;
    for (int32_t oy = oy0; oy < oy1; oy++)
        for (int32_t ox = 0; ox < g->out_w; ox++)
            for (int32_t ch = 0; ch < c; ch++) {
                float m = -INFINITY;
                for (int32_t ky = 0; ky < g->kh; ky++)
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t iy = oy * g->stride - g->pad_top + ky;
                        int32_t ix = ox * g->stride - g->pad_left + kx;
                        if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                            continue;
                        float v = x[((size_t)iy * g->in_w + ix) * c + ch];
                        m = v > m ? v : m;
                    }
                y[((size_t)oy * g->out_w + ox) * c + ch] = m;
            }
}
