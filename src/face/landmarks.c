// The 68-point landmark nets, full and tiny (faceapi-models.md §7): dense
// blocks of separable convs, average pooling, a fully connected layer.
#include "face/face_internal.h"

#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LM_SIZE 112

static ft_status get_sep(const ft_tfjs *w, const char *prefix, int32_t cin, int32_t cout,
                         int32_t stride, ft_act act, ft_conv **dw_out, ft_conv **pw_out,
                         ft_err *err)
{
    char n[160];
    const float *dw, *pw, *b;
    ft_status st;
    snprintf(n, sizeof n, "%s/depthwise_filter", prefix);
    if ((st = ft_face__get(w, n, 4, 3, 3, cin, 1, &dw, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "%s/pointwise_filter", prefix);
    if ((st = ft_face__get(w, n, 4, 1, 1, cin, cout, &pw, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "%s/bias", prefix);
    if ((st = ft_face__get(w, n, 1, cout, 0, 0, 0, &b, err)) != FT_OK)
        return st;
    st = ft_face__conv(prefix, 3, cin, cin, stride, FT_PAD_SAME, true, FT_ACT_NONE, dw, NULL,
                       dw_out, err);
    if (st == FT_OK)
        st = ft_face__conv(prefix, 1, cin, cout, 1, FT_PAD_SAME, false, act, pw, b, pw_out, err);
    return st;
}

ft_status ft_face__lm_build(const ft_tfjs *w, bool tiny, ft_lm_net *net, ft_err *err)
{
    static const int32_t chans[4] = {32, 64, 128, 256};
    char n[96];
    ft_status st = FT_OK;
    const float *f, *b;

    memset(net, 0, sizeof *net);
    net->n_blocks = tiny ? 3 : 4;
    net->n_convs = tiny ? 3 : 4;
    int32_t cin = 3;
    for (int bi = 0; bi < net->n_blocks && st == FT_OK; bi++) {
        ft_lm_block *blk = &net->blocks[bi];
        int32_t c = chans[bi];
        if (bi == 0) {
            st = ft_face__get(w, "dense0/conv0/filters", 4, 3, 3, 3, c, &f, err);
            if (st == FT_OK)
                st = ft_face__get(w, "dense0/conv0/bias", 1, c, 0, 0, 0, &b, err);
            if (st == FT_OK)
                st = ft_face__conv("dense0/conv0", 3, 3, c, 2, FT_PAD_SAME, false, FT_ACT_RELU,
                                   f, b, &blk->conv0, err);
        } else {
            snprintf(n, sizeof n, "dense%d/conv0", bi);
            st = get_sep(w, n, cin, c, 2, FT_ACT_RELU, &blk->conv0_dw, &blk->conv0, err);
        }
        for (int k = 1; k < net->n_convs && st == FT_OK; k++) {
            snprintf(n, sizeof n, "dense%d/conv%d", bi, k);
            st = get_sep(w, n, c, c, 1, FT_ACT_NONE, &blk->sep_dw[k - 1], &blk->sep_pw[k - 1],
                         err);
        }
        cin = c;
    }
    if (st == FT_OK)
        st = ft_face__get(w, "fc/weights", 2, cin, 136, 0, 0, &f, err);
    if (st == FT_OK)
        st = ft_face__get(w, "fc/bias", 1, 136, 0, 0, 0, &b, err);
    if (st == FT_OK && ft_dense_new(cin, 136, f, b, FT_ACT_NONE, &net->fc) != FT_OK)
        st = ft_err_set(err, FT_E_NOMEM, "landmark fc: out of memory");
    if (st != FT_OK)
        ft_face__lm_free(net);
    return st;
}

void ft_face__lm_free(ft_lm_net *net)
{
    for (int bi = 0; bi < 4; bi++) {
        ft_lm_block *blk = &net->blocks[bi];
        ft_conv_free(blk->conv0_dw);
        ft_conv_free(blk->conv0);
        for (int k = 0; k < 3; k++) {
            ft_conv_free(blk->sep_dw[k]);
            ft_conv_free(blk->sep_pw[k]);
        }
    }
    ft_dense_free(net->fc);
    memset(net, 0, sizeof *net);
}

// ---- Dense blocks ----

// The blocks' sums, y = act(t[0] + (t[1] + (... + t[n-1]))), in one pass
// instead of one ft_add per '+': the same float additions in the same
// order, so the same bits as the chain of ft_add calls (test_face checks
// it), with fewer passes over maps that do not all fit in L2.
void ft_face__add_chain(const ft_map *const *t, int n, bool relu, ft_map *y)
{
    FT_ASSERT(n >= 2 && n <= 4);
    for (int k = 0; k < n; k++)
        FT_ASSERT(t[k]->h == y->h && t[k]->w == y->w && t[k]->c == y->c);
    size_t cnt = ft_map_count(y);
    const float *a = t[0]->d, *b = t[1]->d;
    const float *c = n > 2 ? t[2]->d : NULL, *d = n > 3 ? t[3]->d : NULL;
    float *o = y->d; // may alias a: each element is read before it is written
    if (n == 2)
        for (size_t i = 0; i < cnt; i++) {
            float v = a[i] + b[i];
            o[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
        }
    else if (n == 3)
        for (size_t i = 0; i < cnt; i++) {
            float v = a[i] + (b[i] + c[i]);
            o[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
        }
    else
        for (size_t i = 0; i < cnt; i++) {
            float v = a[i] + (b[i] + (c[i] + d[i]));
            o[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
        }
}

// One dense block (§7.2); the block's output lands in `o[0]`'s buffer.
// Buffers: o[0..3] for o1..o4, s for sums (bufs[5] is spare).
static ft_status dense_block(ft_nn_ctx *ctx, const ft_lm_net *net, const ft_lm_block *blk,
                             const ft_map *x, float *const bufs[6], ft_map *out)
{
    ft_map o1, o2, o3, o4, s;
    ft_status st;
    if (blk->conv0_dw)
        st = ft_face__run_sep(ctx, blk->conv0_dw, blk->conv0, x, &o1, bufs[0]);
    else
        st = ft_face__run_conv(ctx, blk->conv0, x, &o1, bufs[0]);
    if (st != FT_OK)
        return st;
    if ((st = ft_face__run_sep(ctx, blk->sep_dw[0], blk->sep_pw[0], &o1, &o2, bufs[1])) != FT_OK)
        return st;
    s = (ft_map){o1.h, o1.w, o1.c, bufs[4]};
    ft_face__add_chain((const ft_map *[]){&o1, &o2}, 2, true, &s);
    if ((st = ft_face__run_sep(ctx, blk->sep_dw[1], blk->sep_pw[1], &s, &o3, bufs[2])) != FT_OK)
        return st;
    if (net->n_convs == 4) {
        // s = ReLU(o1 + (o2 + o3)), o4 = sep3(s), out = ReLU(o1 + (o2 + (o3 + o4)))
        ft_face__add_chain((const ft_map *[]){&o1, &o2, &o3}, 3, true, &s);
        if ((st = ft_face__run_sep(ctx, blk->sep_dw[2], blk->sep_pw[2], &s, &o4, bufs[3])) != FT_OK)
            return st;
        ft_face__add_chain((const ft_map *[]){&o1, &o2, &o3, &o4}, 4, true, &o1);
    } else {
        // out = ReLU(o1 + (o2 + o3))
        ft_face__add_chain((const ft_map *[]){&o1, &o2, &o3}, 3, true, &o1);
    }
    *out = o1;
    return FT_OK;
}

// The crop of §7.1: floor of the clipped box fields. FT_E_INVALID when
// the box does not overlap the image.
static ft_status lm_crop(const ft_image *im, const ft_face_box *b, int32_t r[4])
{
    double x0 = fmax(b->x, 0.0), y0 = fmax(b->y, 0.0);
    double w = fmin(b->x + b->w - x0, im->w - x0), h = fmin(b->y + b->h - y0, im->h - y0);
    r[0] = (int32_t)floor(x0);
    r[1] = (int32_t)floor(y0);
    r[2] = (int32_t)floor(w);
    r[3] = (int32_t)floor(h);
    if (r[2] <= 0 || r[3] <= 0 || r[0] >= im->w || r[1] >= im->h)
        return FT_E_INVALID;
    return FT_OK;
}

ft_status ft_face__lm_crop(const ft_image *im, const ft_face_box *b, int32_t r[4]);
ft_status ft_face__lm_crop(const ft_image *im, const ft_face_box *b, int32_t r[4])
{
    return lm_crop(im, b, r);
}

ft_status ft_landmarks(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                       const ft_face_box *box, bool tiny, ft_point out[FT_LANDMARKS], ft_err *err)
{
    const ft_lm_net *net = tiny ? &m->lm_tiny : &m->lm;
    if (!(tiny ? m->has_lm_tiny : m->has_lm))
        return ft_err_set(err, FT_E_INVALID, "the %slandmark model is not loaded",
                          tiny ? "tiny " : "");
    int32_t r[4];
    if (lm_crop(im, box, r) != FT_OK)
        return ft_err_set(err, FT_E_INVALID, "face box is outside the image");

    ft_arena *ar = ft_nn_ctx_arena(ctx);
    size_t map = (size_t)56 * 56 * 32; // the largest block map
    ft_status st = ft_arena_reserve(ar, (LM_SIZE * LM_SIZE * 3 + 6 * map + 256) * sizeof(float) +
                                            8 * FT_ALIGN * 4);
    if (st != FT_OK)
        return ft_err_set(err, st, "landmarks: %s", ft_status_str(st));
    float *in = ft_arena_floats(ar, LM_SIZE * LM_SIZE * 3);
    float *bufs[6], *pooled = ft_arena_floats(ar, 256);
    for (int i = 0; i < 6; i++)
        bufs[i] = ft_arena_floats(ar, map);
    FT_ASSERT(in && pooled && bufs[5]);

    ft_face__prepare(im, r[0], r[1], r[2], r[3], FT_PADMODE_CENTRED, FT_NORM_FACE, LM_SIZE, in);
    ft_map x = {LM_SIZE, LM_SIZE, 3, in}, y;
    // Block outputs alternate between two buffer sets so the input of a
    // block is never overwritten while it is read.
    float *set_a[6] = {bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5]};
    float *set_b[6] = {bufs[1], bufs[0], bufs[2], bufs[3], bufs[4], bufs[5]};
    for (int bi = 0; bi < net->n_blocks; bi++) {
        st = dense_block(ctx, net, &net->blocks[bi], &x, bi % 2 ? set_b : set_a, &y);
        if (st != FT_OK)
            return ft_err_set(err, st, "landmark net: %s", ft_status_str(st));
        x = y;
    }
    // avgPool (7x7 or 14x14, stride 2, VALID) gives 1x1: the mean.
    ft_map pm = {1, 1, x.c, pooled};
    st = ft_avgpool(ctx, &x, x.h, 2, &pm);
    if (st != FT_OK)
        return ft_err_set(err, st, "landmark net: %s", ft_status_str(st));
    float o[136];
    ft_dense_forward(ctx, net->fc, pooled, o);

    // §7.3: undo the centred padding with float pads.
    double w = r[2], h = r[3];
    double s = LM_SIZE / fmax(w, h);
    double ws = w * s, hs = h * s;
    double pad_x = ws < hs ? (hs - ws) / 2 : 0, pad_y = hs < ws ? (ws - hs) / 2 : 0;
    for (int i = 0; i < FT_LANDMARKS; i++) {
        float rx = (o[2 * i] * 112.0f - (float)pad_x) / (float)ws;
        float ry = (o[2 * i + 1] * 112.0f - (float)pad_y) / (float)hs;
        out[i].x = (double)rx * w + box->x;
        out[i].y = (double)ry * h + box->y;
    }
    return FT_OK;
}
