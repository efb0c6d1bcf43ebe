// Reference training kernels (float and double from one body), the losses
// and the reference Adam step. See ../grad.h for the contracts.
#include "nn/train/grad.h"

#include <math.h>

#define T float
#define FT_GRAD_NAME(op) ft_kern_##op##_f32_ref
#include "nn/train/ref/grad_ref.inc"
#undef T
#undef FT_GRAD_NAME

#define T double
#define FT_GRAD_NAME(op) ft_kern_##op##_f64_ref
#include "nn/train/ref/grad_ref.inc"
#undef T
#undef FT_GRAD_NAME

// ---- Geometry ----

ft_status ft_grad_geom(int32_t in_h, int32_t in_w, int32_t c_in, int32_t c_out, int32_t kh,
                       int32_t kw, int32_t stride, ft_pad pad, ft_conv_geom *g)
{
    if (in_h <= 0 || in_w <= 0 || c_in <= 0 || c_out <= 0 || kh <= 0 || kw <= 0 || stride <= 0)
        return FT_E_INVALID;
    ft_conv_geom r = {0};
    r.in_h = in_h, r.in_w = in_w, r.c_in = c_in, r.c_out = c_out;
    r.kh = kh, r.kw = kw, r.stride = stride;
    if (pad == FT_PAD_SAME) {
        r.out_h = (in_h + stride - 1) / stride;
        r.out_w = (in_w + stride - 1) / stride;
        int32_t th = (r.out_h - 1) * stride + kh - in_h, tw = (r.out_w - 1) * stride + kw - in_w;
        r.pad_top = th > 0 ? th / 2 : 0;
        r.pad_left = tw > 0 ? tw / 2 : 0;
    } else {
        if (in_h < kh || in_w < kw)
            return FT_E_INVALID;
        r.out_h = (in_h - kh) / stride + 1;
        r.out_w = (in_w - kw) / stride + 1;
    }
    *g = r;
    return FT_OK;
}

// ---- Losses ----

double ft_loss_bce_logit_f64(double z, double t, double *dz)
{
    double s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    *dz = s - t;
    return (z > 0 ? z : 0.0) - z * t + log1p(exp(-fabs(z)));
}

double ft_loss_bce_logit(float z, float t, float *dz)
{
    double d;
    double l = ft_loss_bce_logit_f64(z, t, &d);
    *dz = (float)d;
    return l;
}

double ft_loss_box_f64(const double p[4], const double t[4], double dp[4])
{
    double ex = p[0] - t[0], ey = p[1] - t[1];
    double ew = (p[2] - p[0]) - (t[2] - t[0]);
    double eh = (p[3] - p[1]) - (t[3] - t[1]);
    dp[0] = 2 * ex - 2 * ew;
    dp[1] = 2 * ey - 2 * eh;
    dp[2] = 2 * ew;
    dp[3] = 2 * eh;
    return ex * ex + ey * ey + ew * ew + eh * eh;
}

double ft_loss_box(const float p[4], const float t[4], float dp[4])
{
    double pd[4], td[4], dd[4];
    for (int i = 0; i < 4; i++)
        pd[i] = p[i], td[i] = t[i];
    double l = ft_loss_box_f64(pd, td, dd);
    for (int i = 0; i < 4; i++)
        dp[i] = (float)dd[i];
    return l;
}

double ft_loss_softmax_ce_f64(int32_t n, const double *z, int32_t target, double *prob, double *dz)
{
    double mx = z[0];
    for (int32_t i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += exp(z[i] - mx);
    double lse = mx + log(sum);
    for (int32_t i = 0; i < n; i++) {
        double p = exp(z[i] - lse);
        if (prob)
            prob[i] = p;
        dz[i] = p - (i == target ? 1.0 : 0.0);
    }
    return lse - z[target];
}

double ft_loss_softmax_ce(int32_t n, const float *z, int32_t target, float *prob, float *dz)
{
    double mx = z[0];
    for (int32_t i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)z[i] - mx);
    double lse = mx + log(sum);
    for (int32_t i = 0; i < n; i++) {
        double p = exp((double)z[i] - lse);
        if (prob)
            prob[i] = (float)p;
        dz[i] = (float)(p - (i == target ? 1.0 : 0.0));
    }
    return lse - z[target];
}

// ---- Adam ----

ft_adam_opts ft_adam_opts_default(void)
{
    ft_adam_opts o = {1e-4, 0.9, 0.999, 1e-7, 0.0};
    return o;
}

double ft_adam_lr(const ft_adam_opts *o, int64_t t)
{
    return o->lr / (1.0 + o->decay * (double)(t - 1));
}

void ft_kern_adam_f32_ref(size_t n, const ft_adam_opts *o, int64_t t, const float *g, float *w,
                          float *m, float *v)
{
    double lr = ft_adam_lr(o, t);
    double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        double mi = o->beta1 * m[i] + (1.0 - o->beta1) * gi;
        double vi = o->beta2 * v[i] + (1.0 - o->beta2) * gi * gi;
        m[i] = (float)mi;
        v[i] = (float)vi;
        w[i] = (float)((double)w[i] - lr * (mi / bc1) / (sqrt(vi / bc2) + o->eps));
    }
}
