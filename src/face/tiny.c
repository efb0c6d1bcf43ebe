// Tiny face detector (faceapi-models.md §6): a Tiny-YOLOv2-style net with
// separable convs, one class, five anchors.
#include "face/face_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const double anchor_w[5] = {1.603231, 6.041143, 2.882459, 4.266906, 9.041765};
static const double anchor_h[5] = {2.094468, 7.080126, 3.518061, 5.178857, 10.66308};

ft_status ft_face__tiny_build(const ft_tfjs *w, ft_tiny_net *net, ft_err *err)
{
    const float *f, *b, *dw, *pw;
    char n[64];
    ft_status st;

    memset(net, 0, sizeof *net);
    st = ft_face__get(w, "conv0/filters", 4, 3, 3, 3, 16, &f, err);
    if (st == FT_OK)
        st = ft_face__get(w, "conv0/bias", 1, 16, 0, 0, 0, &b, err);
    if (st == FT_OK)
        st = ft_face__conv("tiny conv0", 3, 3, 16, 1, FT_PAD_VALID, false, FT_ACT_LEAKY, f, b,
                           &net->l0, err);
    int32_t c = 16;
    for (int i = 1; i <= 5 && st == FT_OK; i++) {
        int32_t co = c * 2;
        snprintf(n, sizeof n, "conv%d/depthwise_filter", i);
        st = ft_face__get(w, n, 4, 3, 3, c, 1, &dw, err);
        if (st != FT_OK)
            break;
        snprintf(n, sizeof n, "conv%d/pointwise_filter", i);
        st = ft_face__get(w, n, 4, 1, 1, c, co, &pw, err);
        if (st != FT_OK)
            break;
        snprintf(n, sizeof n, "conv%d/bias", i);
        st = ft_face__get(w, n, 1, co, 0, 0, 0, &b, err);
        if (st != FT_OK)
            break;
        // Zero-pad 1 + VALID 3x3 stride 1 is SAME.
        snprintf(n, sizeof n, "tiny conv%d depthwise", i);
        st = ft_face__conv(n, 3, c, c, 1, FT_PAD_SAME, true, FT_ACT_NONE, dw, NULL,
                           &net->dw[i - 1], err);
        if (st != FT_OK)
            break;
        snprintf(n, sizeof n, "tiny conv%d pointwise", i);
        st = ft_face__conv(n, 1, c, co, 1, FT_PAD_SAME, false, FT_ACT_LEAKY, pw, b,
                           &net->pw[i - 1], err);
        c = co;
    }
    if (st == FT_OK)
        st = ft_face__get(w, "conv8/filters", 4, 1, 1, 512, 25, &f, err);
    if (st == FT_OK)
        st = ft_face__get(w, "conv8/bias", 1, 25, 0, 0, 0, &b, err);
    if (st == FT_OK)
        st = ft_face__conv("tiny conv8", 1, 512, 25, 1, FT_PAD_SAME, false, FT_ACT_NONE, f, b,
                           &net->head, err);
    if (st != FT_OK)
        ft_face__tiny_free(net);
    return st;
}

void ft_face__tiny_free(ft_tiny_net *net)
{
    ft_conv_free(net->l0);
    for (int i = 0; i < 5; i++) {
        ft_conv_free(net->dw[i]);
        ft_conv_free(net->pw[i]);
    }
    ft_conv_free(net->head);
    memset(net, 0, sizeof *net);
}

static ft_status pool_into(ft_nn_ctx *ctx, const ft_map *x, int32_t stride, ft_map *y, float *buf)
{
    ft_conv_geom g;
    ft_status st = ft_conv_geom_make(x->h, x->w, x->c, x->c, 2, 2, stride, FT_PAD_SAME, &g);
    if (st != FT_OK)
        return st;
    *y = (ft_map){g.out_h, g.out_w, x->c, buf};
    return ft_maxpool(ctx, x, 2, stride, FT_PAD_SAME, y);
}

typedef struct tcand {
    double x, y, w, h, score;
    int32_t order;
} tcand;

// Highest score first; among equal scores the later one in scan order
// first (face-api takes the last element of an ascending stable sort).
static int tcand_cmp(const void *pa, const void *pb)
{
    const tcand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return b->order - a->order;
}

static double tiou(const tcand *a, const tcand *b)
{
    double ix = fmax(0.0, fmin(a->x + a->w, b->x + b->w) - fmax(a->x, b->x));
    double iy = fmax(0.0, fmin(a->y + a->h, b->y + b->h) - fmax(a->y, b->y));
    double inter = ix * iy;
    return inter / (a->w * a->h + b->w * b->h - inter);
}

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

ft_status ft_face__tiny_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                               const ft_detect_opts *o, ft_face_box *out, size_t cap,
                               size_t *n_out, ft_detect_timing *t, ft_err *err);

ft_status ft_face__tiny_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                               const ft_detect_opts *o, ft_face_box *out, size_t cap,
                               size_t *n_out, ft_detect_timing *t, ft_err *err)
{
    const ft_tiny_net *net = &m->tiny;
    int32_t s = o->input_size;
    if (s < 32 || s > 2048 || s % 32 != 0)
        return ft_err_set(err, FT_E_INVALID, "tiny detector input size %d: must be a multiple of 32 from 32 to 2048", s);
    int32_t g = s / 32;
    size_t max_map = (size_t)(s - 2) * (size_t)(s - 2) * 16;
    size_t m2 = (size_t)(s / 2 + 1) * (size_t)(s / 2 + 1) * 32;
    if (m2 > max_map)
        max_map = m2;
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    ft_status st = ft_arena_reserve(ar, ((size_t)s * s * 3 + 2 * max_map) * sizeof(float) +
                                            4 * FT_ALIGN * 4);
    if (st != FT_OK)
        return ft_err_set(err, st, "tiny detector: %s", ft_status_str(st));
    float *in = ft_arena_floats(ar, (size_t)s * s * 3);
    float *buf[2] = {ft_arena_floats(ar, max_map), ft_arena_floats(ar, max_map)};
    FT_ASSERT(in && buf[0] && buf[1]);

    double t0 = ft_now_ms();
    ft_face__prepare(im, 0, 0, im->w, im->h, FT_PADMODE_BOTTOM_RIGHT, FT_NORM_TINY, s, in);
    double t1 = ft_now_ms();

    ft_map x = {s, s, 3, in}, y;
    int cur = 0;
    st = ft_face__run_conv(ctx, net->l0, &x, &y, buf[cur]);
    for (int i = 0; i < 5 && st == FT_OK; i++) {
        x = y;
        cur ^= 1;
        st = pool_into(ctx, &x, 2, &y, buf[cur]);
        if (st != FT_OK)
            break;
        x = y;
        cur ^= 1;
        st = ft_face__run_sep(ctx, net->dw[i], net->pw[i], &x, &y, buf[cur]);
    }
    if (st == FT_OK) {
        x = y;
        cur ^= 1;
        st = pool_into(ctx, &x, 1, &y, buf[cur]);
    }
    if (st == FT_OK) {
        x = y;
        cur ^= 1;
        st = ft_face__run_conv(ctx, net->head, &x, &y, buf[cur]);
    }
    if (st != FT_OK)
        return ft_err_set(err, st, "tiny detector network: %s", ft_status_str(st));
    FT_ASSERT(y.h == g && y.w == g && y.c == 25);
    double t2 = ft_now_ms();

    size_t n_cells = (size_t)g * (size_t)g * 5;
    tcand *c = ft_malloc(sizeof(tcand) * n_cells);
    if (!c)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    double scale = (double)s / (double)(im->w > im->h ? im->w : im->h);
    double cx_ = s / ft_face__js_round(im->w * scale), cy_ = s / ft_face__js_round(im->h * scale);
    size_t n = 0;
    for (int32_t row = 0; row < g; row++)
        for (int32_t col = 0; col < g; col++)
            for (int a = 0; a < 5; a++) {
                const float *p = y.d + ((size_t)row * g + col) * 25 + a * 5;
                double score = sigmoid(p[4]);
                if (!(score > o->min_score))
                    continue;
                double ctx_ = (col + sigmoid(p[0])) / g * cx_;
                double cty = (row + sigmoid(p[1])) / g * cy_;
                double bw = exp(p[2]) * anchor_w[a] / g * cx_;
                double bh = exp(p[3]) * anchor_h[a] / g * cy_;
                c[n] = (tcand){ctx_ - bw / 2, cty - bh / 2, bw, bh, score, (int32_t)n};
                n++;
            }
    qsort(c, n, sizeof *c, tcand_cmp);
    size_t n_kept = 0;
    size_t max_keep = o->max_faces > 0 ? (size_t)o->max_faces : SIZE_MAX;
    for (size_t i = 0; i < n && n_kept < max_keep; i++) {
        bool ok = true;
        for (size_t k = 0; k < n_kept && ok; k++)
            ok = tiou(&c[i], &c[k]) <= 0.4;
        if (ok)
            c[n_kept++] = c[i]; // kept boxes are compacted at the front
    }
    for (size_t k = 0; k < n_kept && k < cap; k++)
        out[k] = (ft_face_box){c[k].x * im->w, c[k].y * im->h, c[k].w * im->w, c[k].h * im->h,
                               c[k].score};
    *n_out = n_kept;
    ft_free(c);
    if (t) {
        t->preprocess_ms = t1 - t0;
        t->network_ms = t2 - t1;
        t->postprocess_ms = ft_now_ms() - t2;
    }
    return FT_OK;
}
