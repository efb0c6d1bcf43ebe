// Element-wise layers: residual add with a fused activation, in-place
// activation, and TF1-legacy bilinear resize (faceapi-models.md §3.4).
#include "nn/kern/act.h"
#include "nn/nn_internal.h"

#include <math.h>

// ---- Add and activations ----

void ft_add(ft_nn_ctx *ctx, const ft_map *a, const ft_map *b, ft_act act, ft_map *y)
{
    FT_ASSERT(a->h == b->h && a->w == b->w && a->c == b->c);
    FT_ASSERT(y->h == a->h && y->w == a->w && y->c == a->c);
    size_t n = ft_map_count(a);
    const float *pa = a->d, *pb = b->d;
    float *py = y->d; // may alias pa or pb: each element is read before it is written
    switch (act) {
    case FT_ACT_NONE:
        for (size_t i = 0; i < n; i++)
            py[i] = pa[i] + pb[i];
        break;
    case FT_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            float v = pa[i] + pb[i];
            py[i] = v > 0.0f ? v : 0.0f;
        }
        break;
    default:
        for (size_t i = 0; i < n; i++)
            py[i] = ft_act_apply(pa[i] + pb[i], act);
        break;
    }
}

void ft_activate(ft_nn_ctx *ctx, ft_map *x, ft_act act)
{
    size_t n = ft_map_count(x);
    float *p = x->d;
    switch (act) {
    case FT_ACT_NONE:
        break;
    case FT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            p[i] = p[i] > 0.0f ? p[i] : 0.0f;
        break;
    default:
        for (size_t i = 0; i < n; i++)
            p[i] = ft_act_apply(p[i], act);
        break;
    }
}

// ---- Bilinear resize ----

// Source coordinate of output index `o` on one axis: the lower and upper
// neighbours and the fraction, all per §3.4 in double.
typedef struct axis_sample {
    int32_t i0, i1;
    double f;
} axis_sample;

static axis_sample axis_at(int32_t o, int32_t in, int32_t out)
{
    double ratio = (double)in / (double)out;
    double s = ratio * o;
    axis_sample a;
    a.i0 = (int32_t)floor(s);
    if (a.i0 < 0)
        a.i0 = 0;
    a.f = s - a.i0;
    double up = ceil(s);
    a.i1 = up > in - 1 ? in - 1 : (int32_t)up;
    return a;
}

static inline double lerp2(double tl, double tr, double bl, double br, double fx, double fy)
{
    double top = tl + (tr - tl) * fx;
    double bottom = bl + (br - bl) * fx;
    return top + (bottom - top) * fy;
}

void ft_resize_bilinear_u8(const uint8_t *src, int32_t src_h, int32_t src_w, size_t stride,
                           int32_t c, ft_map *y)
{
    FT_ASSERT(src_h > 0 && src_w > 0 && y->c == c);
    for (int32_t r = 0; r < y->h; r++) {
        axis_sample sy = axis_at(r, src_h, y->h);
        const uint8_t *row0 = src + (size_t)sy.i0 * stride, *row1 = src + (size_t)sy.i1 * stride;
        float *dst = y->d + (size_t)r * y->w * c;
        for (int32_t q = 0; q < y->w; q++) {
            axis_sample sx = axis_at(q, src_w, y->w);
            size_t x0 = (size_t)sx.i0 * c, x1 = (size_t)sx.i1 * c;
            for (int32_t k = 0; k < c; k++)
                *dst++ = (float)lerp2(row0[x0 + k], row0[x1 + k], row1[x0 + k], row1[x1 + k], sx.f,
                                      sy.f);
        }
    }
}

void ft_resize_bilinear_f32(const ft_map *x, ft_map *y)
{
    FT_ASSERT(x->h > 0 && x->w > 0 && y->c == x->c);
    size_t c = (size_t)x->c, pitch = (size_t)x->w * c;
    for (int32_t r = 0; r < y->h; r++) {
        axis_sample sy = axis_at(r, x->h, y->h);
        const float *row0 = x->d + (size_t)sy.i0 * pitch, *row1 = x->d + (size_t)sy.i1 * pitch;
        float *dst = y->d + (size_t)r * y->w * c;
        for (int32_t q = 0; q < y->w; q++) {
            axis_sample sx = axis_at(q, x->w, y->w);
            size_t x0 = (size_t)sx.i0 * c, x1 = (size_t)sx.i1 * c;
            for (size_t k = 0; k < c; k++)
                *dst++ = (float)lerp2(row0[x0 + k], row0[x1 + k], row1[x0 + k], row1[x1 + k], sx.f,
                                      sy.f);
        }
    }
}
