// Pooling layers: max (padding ignored; the maxpool2d kernels), average
// (VALID) and global mean/max. The others are reference-speed loops,
// channel-innermost so they vectorise; a few percent of our networks.
#include "nn/nn_internal.h"

#include <math.h>

static ft_status pool_geom(const ft_map *x, int32_t k, int32_t s, ft_pad pad, const ft_map *y,
                           ft_conv_geom *g)
{
    if (ft_conv_geom_make(x->h, x->w, x->c, x->c, k, k, s, pad, g) != FT_OK)
        return FT_E_INVALID;
    if (y->h != g->out_h || y->w != g->out_w || y->c != x->c)
        return FT_E_INVALID;
    return FT_OK;
}

ft_status ft_maxpool(ft_nn_ctx *ctx, const ft_map *x, int32_t k, int32_t s, ft_pad pad, ft_map *y)
{
    ft_conv_geom g;
    ft_status st = pool_geom(x, k, s, pad, y, &g);
    if (st != FT_OK)
        return st;
    const ft_nn_kernels *kern = ctx && ctx->kern ? ctx->kern : ft_nn__kernels();
    ft_kern_maxpool2d_fn fn = kern->maxpool2d ? kern->maxpool2d : ft_kern_maxpool2d_f32_ref;
    fn(&g, x->d, y->d, 0, g.out_h);
    return FT_OK;
}

ft_status ft_avgpool(ft_nn_ctx *ctx, const ft_map *x, int32_t k, int32_t s, ft_map *y)
{
    ft_conv_geom g;
    ft_status st = pool_geom(x, k, s, FT_PAD_VALID, y, &g);
    if (st != FT_OK)
        return st;
    int32_t c = x->c;
    for (int32_t oy = 0; oy < g.out_h; oy++)
        for (int32_t ox = 0; ox < g.out_w; ox++)
            for (int32_t ch = 0; ch < c; ch++) {
                double acc = 0.0; // tfjs sums the window in double, divides, rounds
                for (int32_t r = oy * s; r < oy * s + k; r++)
                    for (int32_t q = ox * s; q < ox * s + k; q++)
                        acc += x->d[((size_t)r * x->w + q) * c + ch];
                y->d[((size_t)oy * g.out_w + ox) * c + ch] = (float)(acc / ((double)k * k));
            }
    return FT_OK;
}

void ft_global_avgpool(const ft_map *x, float *y)
{
    // As tfjs' mean does it (faceapi-models.md §10): each value divided by
    // the count in float, the quotients summed in double, rounded once.
    size_t n = (size_t)x->h * x->w;
    float nf = (float)n;
    for (int32_t ch = 0; ch < x->c; ch++) {
        double acc = 0.0;
        for (size_t i = 0; i < n; i++)
            acc += (double)(x->d[i * x->c + ch] / nf);
        y[ch] = (float)acc;
    }
}

void ft_global_maxpool(const ft_map *x, float *y)
{
    size_t n = (size_t)x->h * x->w;
    for (int32_t ch = 0; ch < x->c; ch++)
        y[ch] = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (int32_t ch = 0; ch < x->c; ch++) {
            float v = x->d[i * x->c + ch];
            y[ch] = v > y[ch] ? v : y[ch];
        }
}
