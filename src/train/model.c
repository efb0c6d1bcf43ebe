// The face tracker model: parameters, the backbone from the SSD manifest,
// forward passes, prediction and the Keras .h5 mapping. See model.h.
#include "train/model.h"

#include "core/mem.h"
#include "model/graph.h"
#include "model/h5.h"
#include "model/tfjs.h"
#include "nn/train/grad.h"
#include "train/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- Architecture ----

// MobileNetV1 L1..L13: depthwise stride and pointwise output channels.
static const struct {
    int32_t stride, c_out;
} mb_blocks[13] = {{1, 64},  {2, 128}, {1, 128}, {2, 256}, {1, 256}, {2, 512}, {1, 512},
                   {1, 512}, {1, 512}, {1, 512}, {1, 512}, {2, 1024}, {1, 1024}};

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

void ft_fm__conv_name(int i, char *buf, size_t cap)
{
    if (i == 0)
        snprintf(buf, cap, "conv0");
    else
        snprintf(buf, cap, "conv%d_%s", (i + 1) / 2, i % 2 ? "dw" : "pw");
}

static ft_status fm_alloc(const char *const *ids, size_t n_ids, ft_fmodel **out)
{
    ft_fmodel *m = ft_calloc(1, sizeof *m);
    if (!m)
        return FT_E_NOMEM;
    size_t off = 0;
    int32_t h = FT_FM_INPUT, w = FT_FM_INPUT, c = 3;
    for (int i = 0; i < FT_FM_CONVS; i++) {
        ft_fm_conv *cv = &m->conv[i];
        int32_t k, s, co;
        if (i == 0)
            k = 3, s = 2, co = 32, cv->dw = false;
        else if (i % 2 == 1)
            k = 3, s = mb_blocks[(i - 1) / 2].stride, co = c, cv->dw = true;
        else
            k = 1, s = 1, co = mb_blocks[(i - 1) / 2].c_out, cv->dw = false;
        FT_ASSERT(ft_grad_geom(h, w, c, co, k, k, s, FT_PAD_SAME, &cv->g) == FT_OK);
        cv->nw = (size_t)k * k * c * (cv->dw ? 1 : (size_t)co);
        cv->w_off = off;
        off = align16(off + cv->nw);
        cv->b_off = off;
        off = align16(off + (size_t)co);
        h = cv->g.out_h, w = cv->g.out_w, c = co;
    }
    FT_ASSERT(c == FT_FM_FEATURES);
    m->n_backbone = off;
    ft_fm_dense *heads[5] = {&m->d1c, &m->d2c, &m->d1b, &m->d2b, &m->did};
    const int32_t dims[5][2] = {{FT_FM_FEATURES, FT_FM_HIDDEN}, {FT_FM_HIDDEN, 1},
                                {FT_FM_FEATURES, FT_FM_HIDDEN}, {FT_FM_HIDDEN, 4},
                                {FT_FM_FEATURES, (int32_t)n_ids}};
    for (int i = 0; i < 5; i++) {
        heads[i]->n_in = dims[i][0], heads[i]->n_out = dims[i][1];
        heads[i]->w_off = off;
        off = align16(off + (size_t)dims[i][0] * dims[i][1]);
        heads[i]->b_off = off;
        off = align16(off + (size_t)dims[i][1]);
    }
    m->n_params = off;
    m->p = ft_aligned_alloc(off * sizeof(float));
    if (n_ids)
        m->ids = ft_calloc(n_ids, sizeof *m->ids);
    if (!m->p || (n_ids && !m->ids)) {
        ft_fmodel_free(m);
        return FT_E_NOMEM;
    }
    memset(m->p, 0, off * sizeof(float));
    m->n_ids = n_ids;
    m->flip = true;
    for (size_t i = 0; i < n_ids; i++)
        if (!(m->ids[i] = ft_strdup(ids[i]))) {
            ft_fmodel_free(m);
            return FT_E_NOMEM;
        }
    *out = m;
    return FT_OK;
}

void ft_fmodel_free(ft_fmodel *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_ids; i++)
        ft_free(m->ids[i]);
    ft_free(m->ids);
    ft_fm__ws_free(m->ws);
    ft_aligned_free(m->p);
    ft_free(m);
}

void ft_fmodel_box_prior(ft_fmodel *m, const float prior[4])
{
    const ft_fm_dense *d = &m->d2b;
    memset(m->p + d->w_off, 0, (size_t)d->n_in * d->n_out * sizeof(float));
    for (int k = 0; k < 4; k++) {
        double v = prior[k] < 0.02f ? 0.02 : prior[k] > 0.98f ? 0.98 : prior[k];
        m->p[d->b_off + k] = (float)log(v / (1.0 - v));
    }
}

size_t ft_fmodel_n_params(const ft_fmodel *m)
{
    return m->n_params;
}
size_t ft_fmodel_n_ids(const ft_fmodel *m)
{
    return m->n_ids;
}
const char *ft_fmodel_id_name(const ft_fmodel *m, size_t i)
{
    return i < m->n_ids ? m->ids[i] : NULL;
}
float *ft_fmodel_params(ft_fmodel *m)
{
    return m->p;
}

// Glorot-uniform dense kernels (Keras's default), zero biases.
static void init_heads(ft_fmodel *m, uint64_t seed)
{
    ft_rng r;
    ft_rng_seed(&r, seed ^ 0x5EED0F4ACEull);
    ft_fm_dense *heads[5] = {&m->d1c, &m->d2c, &m->d1b, &m->d2b, &m->did};
    for (int i = 0; i < 5; i++) {
        ft_fm_dense *d = heads[i];
        double lim = sqrt(6.0 / (d->n_in + (d->n_out ? d->n_out : 1)));
        for (size_t k = 0; k < (size_t)d->n_in * d->n_out; k++)
            m->p[d->w_off + k] = (float)((2 * ft_rng_uniform(&r) - 1) * lim);
    }
}

ft_status ft_fmodel_new_random(const char *const *ids, size_t n_ids, uint64_t seed,
                               ft_fmodel **out)
{
    ft_fmodel *m;
    ft_status st = fm_alloc(ids, n_ids, &m);
    if (st != FT_OK)
        return st;
    ft_rng r;
    ft_rng_seed(&r, seed);
    // He-uniform-like scale keeps ReLU6 activations alive through 27 layers.
    for (int i = 0; i < FT_FM_CONVS; i++) {
        ft_fm_conv *c = &m->conv[i];
        double fan_in = (double)c->g.kh * c->g.kw * (c->dw ? 1 : c->g.c_in);
        double lim = sqrt(6.0 / fan_in);
        for (size_t k = 0; k < c->nw; k++)
            m->p[c->w_off + k] = (float)((2 * ft_rng_uniform(&r) - 1) * lim);
        for (int32_t k = 0; k < c->g.c_out; k++)
            m->p[c->b_off + k] = (float)(0.1 * ft_rng_uniform(&r));
    }
    init_heads(m, seed);
    *out = m;
    return FT_OK;
}

ft_status ft_fmodel_new(const char *ssd_manifest, const char *const *ids, size_t n_ids,
                        uint64_t seed, ft_fmodel **out, ft_err *err)
{
    ft_fmodel *m = NULL;
    ft_tfjs *t = NULL;
    ft_status st = fm_alloc(ids, n_ids, &m);
    if (st != FT_OK)
        return ft_err_set(err, st, "out of memory");
    ft_tfjs_limits lim = ft_tfjs_limits_default();
    st = ft_tfjs_load(ssd_manifest, &lim, &t, err);
    if (st != FT_OK)
        goto done;
    char name[128];
    for (int i = 0; i < FT_FM_CONVS && st == FT_OK; i++) {
        ft_fm_conv *c = &m->conv[i];
        const ft_conv_geom *g = &c->g;
        float *w = m->p + c->w_off, *b = m->p + c->b_off;
        const float *src, *bias;
        int blk = (i + 1) / 2;
        if (!c->dw) {
            int32_t shape[4] = {g->kh, g->kw, g->c_in, g->c_out}, bshape[1] = {g->c_out};
            snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_pointwise/weights", blk);
            st = ft_tfjs_get(t, name, 4, shape, &src, err);
            if (st != FT_OK)
                break;
            snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_pointwise/convolution_bn_offset",
                     blk);
            st = ft_tfjs_get(t, name, 1, bshape, &bias, err);
            if (st != FT_OK)
                break;
            memcpy(w, src, c->nw * sizeof(float));
            memcpy(b, bias, (size_t)g->c_out * sizeof(float));
            if (i == 0) {
                // Fold x/127.5 - 1 on [0, 255] = 2*u - 1 on [0, 1] input u.
                for (int32_t co = 0; co < g->c_out; co++) {
                    double s = 0;
                    for (size_t k = 0; k < (size_t)g->kh * g->kw * g->c_in; k++)
                        s += w[k * g->c_out + co];
                    b[co] = (float)(b[co] - s);
                }
                for (size_t k = 0; k < c->nw; k++)
                    w[k] *= 2.0f;
            }
        } else {
            int32_t shape[4] = {3, 3, g->c_in, 1}, vshape[1] = {g->c_in};
            const float *gam, *bet, *mean, *var;
            snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", blk);
            st = ft_tfjs_get(t, name, 4, shape, &src, err);
            const char *parts[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
            const float **dst[4] = {&gam, &bet, &mean, &var};
            for (int k = 0; k < 4 && st == FT_OK; k++) {
                snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/%s", blk,
                         parts[k]);
                st = ft_tfjs_get(t, name, 1, vshape, dst[k], err);
            }
            if (st != FT_OK)
                break;
            // BN (eps 0.001) folded: w' = w*s, b' = beta - mean*s, s = gamma/sqrt(var+eps).
            for (int32_t ch = 0; ch < g->c_in; ch++) {
                double s = (double)gam[ch] / sqrt((double)var[ch] + 0.0010000000474974513);
                for (int k = 0; k < 9; k++)
                    w[(size_t)k * g->c_in + ch] = (float)(src[(size_t)k * g->c_in + ch] * s);
                b[ch] = (float)(bet[ch] - mean[ch] * s);
            }
        }
    }
    if (st != FT_OK)
        goto done;
    init_heads(m, seed);
    *out = m;
    m = NULL;
done:
    ft_tfjs_free(t);
    ft_fmodel_free(m);
    return st;
}

// ---- Workspace and forward ----

void ft_fm__ws_free(ft_fm_ws *ws)
{
    if (!ws)
        return;
    ft_aligned_free(ws->block);
    ft_free(ws);
}

ft_status ft_fm__ws_new(const ft_fmodel *m, bool backward, ft_fm_ws **out)
{
    ft_fm_ws *ws = ft_calloc(1, sizeof *ws);
    if (!ws)
        return FT_E_NOMEM;
    size_t total = align16((size_t)FT_FM_INPUT * FT_FM_INPUT * 3), max_act = total, scr = 0;
    for (int i = 0; i < FT_FM_CONVS; i++) {
        const ft_conv_geom *g = &m->conv[i].g;
        size_t n = (size_t)g->out_h * g->out_w * g->c_out;
        total += align16(n);
        max_act = n > max_act ? n : max_act;
        size_t s = ft_grad_conv_scratch(g, m->conv[i].dw);
        scr = s > scr ? s : scr;
    }
    total += align16(scr) + (backward ? 2 * align16(max_act) : 0);
    total += FT_FM_FEATURES;
    ws->block = ft_aligned_alloc(total * sizeof(float));
    if (!ws->block) {
        ft_free(ws);
        return FT_E_NOMEM;
    }
    float *p = ws->block;
    ws->act[0] = p;
    p += align16((size_t)FT_FM_INPUT * FT_FM_INPUT * 3);
    for (int i = 0; i < FT_FM_CONVS; i++) {
        const ft_conv_geom *g = &m->conv[i].g;
        ws->act[i + 1] = p;
        p += align16((size_t)g->out_h * g->out_w * g->c_out);
    }
    ws->scratch = p;
    p += align16(scr);
    if (backward) {
        ws->da[0] = p;
        ws->da[1] = p + align16(max_act);
        p += 2 * align16(max_act);
    }
    ws->feat = p;
    *out = ws;
    return FT_OK;
}

size_t ft_fm__act_size(const ft_fmodel *m, int i)
{
    if (i <= 0)
        return (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    const ft_conv_geom *g = &m->conv[i - 1].g;
    return (size_t)g->out_h * g->out_w * g->c_out;
}

static void bias_relu6(size_t n_pos, int32_t c, const float *b, float *y)
{
    for (size_t p = 0; p < n_pos; p++) {
        float *r = y + p * c;
        for (int32_t ch = 0; ch < c; ch++) {
            float v = r[ch] + b[ch];
            r[ch] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
        }
    }
}

void ft_fm__backbone_fwd(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws)
{
    ft_fm__backbone_fwd_range(m, ops, ws, 0, FT_FM_CONVS);
}

// Convs lo..hi-1 from ws->act[lo]; the pooled features too when hi is the
// last conv. Running 0..k then k..FT_FM_CONVS gives the same bits as one pass.
void ft_fm__backbone_fwd_range(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int lo,
                               int hi)
{
    for (int i = lo; i < hi; i++) {
        const ft_fm_conv *c = &m->conv[i];
        ft_grad_conv_fwd(ops, &c->g, c->dw, ws->act[i], m->p + c->w_off, ws->act[i + 1],
                         ws->scratch);
        bias_relu6((size_t)c->g.out_h * c->g.out_w, c->g.c_out, m->p + c->b_off, ws->act[i + 1]);
    }
    if (hi < FT_FM_CONVS)
        return;
    const ft_conv_geom *g = &m->conv[FT_FM_CONVS - 1].g;
    ft_kern_gmaxpool_fwd_f32_ref((size_t)g->out_h * g->out_w, g->c_out, ws->act[FT_FM_CONVS],
                                 ws->feat, ws->idx);
}

// dA of the last activation in ws->da[0] on entry; accumulates the weight
// gradients of convs >= from into g (laid out like the parameters, offset
// by -base).
void ft_fm__backbone_bwd(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int from,
                         float *g, size_t base)
{
    ft_fm__backbone_bwd_range(m, ops, ws, from, FT_FM_CONVS, g, base);
}

// Convs top-1 down to from; ws->da[0] holds dA of act[top] on entry.
void ft_fm__backbone_bwd_range(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int from,
                               int top, float *g, size_t base)
{
    int cur = 0;
    for (int i = top - 1; i >= from; i--) {
        const ft_fm_conv *c = &m->conv[i];
        float *dy = ws->da[cur], *dx = i > from ? ws->da[cur ^ 1] : NULL;
        ft_kern_bias_act_bwd_f32_ref((size_t)c->g.out_h * c->g.out_w, c->g.c_out, FT_ACT_RELU6,
                                     ws->act[i + 1], dy, g + c->b_off - base);
        ft_grad_conv_bwd(ops, &c->g, c->dw, ws->act[i], m->p + c->w_off, dy, dx,
                         g + c->w_off - base, ws->scratch);
        cur ^= 1;
    }
}

// Fills ws->act[0] from an RGB image already 120x120.
void ft_fm__input(const uint8_t *rgb, float *x)
{
    for (size_t i = 0; i < (size_t)FT_FM_INPUT * FT_FM_INPUT * 3; i++)
        x[i] = rgb[i] * (1.0f / 255.0f);
}

// Heads for one feature vector (inference).
void ft_fm__heads_one(const ft_fmodel *m, const float *feat, ft_fm_pred *out)
{
    float h[FT_FM_HIDDEN], z[4];
    ft_kern_dense_fwd_f32_ref(FT_FM_FEATURES, FT_FM_HIDDEN, feat, m->p + m->d1c.w_off,
                              m->p + m->d1c.b_off, FT_ACT_RELU, h);
    ft_kern_dense_fwd_f32_ref(FT_FM_HIDDEN, 1, h, m->p + m->d2c.w_off, m->p + m->d2c.b_off,
                              FT_ACT_SIGMOID, z);
    out->score = z[0];
    ft_kern_dense_fwd_f32_ref(FT_FM_FEATURES, FT_FM_HIDDEN, feat, m->p + m->d1b.w_off,
                              m->p + m->d1b.b_off, FT_ACT_RELU, h);
    ft_kern_dense_fwd_f32_ref(FT_FM_HIDDEN, 4, h, m->p + m->d2b.w_off, m->p + m->d2b.b_off,
                              FT_ACT_SIGMOID, out->box);
    out->id = -1;
    out->id_prob = 0;
    if (m->n_ids) {
        float zi[4096], pr[4096], dz[4096];
        int32_t k = (int32_t)(m->n_ids < 4096 ? m->n_ids : 4096);
        ft_kern_dense_fwd_f32_ref(FT_FM_FEATURES, k, feat, m->p + m->did.w_off,
                                  m->p + m->did.b_off, FT_ACT_NONE, zi);
        ft_loss_softmax_ce(k, zi, 0, pr, dz);
        for (int32_t i = 0; i < k; i++)
            if (out->id < 0 || pr[i] > out->id_prob)
                out->id = i, out->id_prob = pr[i];
    }
}

void ft_fmodel_set_flip(ft_fmodel *m, bool on)
{
    m->flip = on;
}

void ft_fm__predict_rgb(ft_fmodel *m, const ft_grad_ops *ops, const uint8_t *rgb, ft_fm_pred *out)
{
    ft_fm__input(rgb, m->ws->act[0]);
    ft_fm__backbone_fwd(m, ops, m->ws);
    ft_fm__heads_one(m, m->ws->feat, out);
    if (!m->flip)
        return;
    // The mirror image: each row reversed.
    float *x = m->ws->act[0];
    const int32_t n = FT_FM_INPUT;
    for (int32_t y = 0; y < n; y++)
        for (int32_t c0 = 0; c0 < n / 2; c0++)
            for (int k = 0; k < 3; k++) {
                float *a = x + ((size_t)y * n + c0) * 3 + k;
                float *b = x + ((size_t)y * n + (n - 1 - c0)) * 3 + k;
                float tmp = *a;
                *a = *b;
                *b = tmp;
            }
    ft_fm__backbone_fwd(m, ops, m->ws);
    ft_fm_pred f;
    ft_fm__heads_one(m, m->ws->feat, &f);
    out->score = 0.5f * (out->score + f.score);
    float x1 = 1.0f - f.box[2], x2 = 1.0f - f.box[0];
    out->box[0] = 0.5f * (out->box[0] + x1);
    out->box[2] = 0.5f * (out->box[2] + x2);
    out->box[1] = 0.5f * (out->box[1] + f.box[1]);
    out->box[3] = 0.5f * (out->box[3] + f.box[3]);
    // The identity head keeps the unflipped prediction.
}

ft_status ft_fmodel_predict(ft_fmodel *m, const ft_image *im, ft_fm_pred *out, ft_err *err)
{
    ft_status st;
    ft_image small;
    if (!m->ws && (st = ft_fm__ws_new(m, false, &m->ws)) != FT_OK)
        return ft_err_set(err, st, "out of memory");
    st = ft_train_resize(im, FT_FM_INPUT, FT_FM_INPUT, &small);
    if (st != FT_OK)
        return ft_err_set(err, st, "resizing the photo: %s", ft_status_str(st));
    ft_fm__predict_rgb(m, ft_grad_ops_get(), small.rgb, out);
    ft_image_deinit(&small);
    return FT_OK;
}

// ---- Keras .h5 ----

// Layers: input_1, 27 convs, global_max_pooling2d, dense, dense_1, dense_2,
// dense_3 (+ identity).
#define FM_N_LAYERS (1 + FT_FM_CONVS + 1 + 4)

static ft_status set_name(char **dst, const char *s)
{
    *dst = ft_strdup(s);
    return *dst ? FT_OK : FT_E_NOMEM;
}

static ft_status add_weight(ft_glayer *l, const char *name, int32_t rank, const int32_t *shape,
                            float *data)
{
    ft_gweight *w = &l->weights[l->n_weights];
    if (set_name(&w->name, name) != FT_OK)
        return FT_E_NOMEM;
    w->rank = rank;
    w->n_elems = 1;
    for (int32_t i = 0; i < rank; i++) {
        w->shape[i] = shape[i];
        w->n_elems *= (size_t)shape[i];
    }
    w->data = data;
    l->n_weights++;
    return FT_OK;
}

static ft_status link_from(ft_glayer *l, int32_t from)
{
    l->nodes = ft_calloc(1, sizeof *l->nodes);
    if (!l->nodes)
        return FT_E_NOMEM;
    l->n_nodes = 1;
    if (from < 0)
        return FT_OK;
    l->nodes[0].inputs = ft_calloc(1, sizeof(ft_gref));
    if (!l->nodes[0].inputs)
        return FT_E_NOMEM;
    l->nodes[0].n_inputs = 1;
    l->nodes[0].inputs[0].layer = from;
    return FT_OK;
}

static ft_status build_graph(const ft_fmodel *m, ft_graph **out)
{
    ft_status st = FT_OK;
    size_t n_layers = FM_N_LAYERS + (m->n_ids ? 1 : 0);
    ft_graph *g = ft_calloc(1, sizeof *g);
    if (!g)
        return FT_E_NOMEM;
    g->layers = ft_calloc(n_layers, sizeof *g->layers);
    g->inputs = ft_calloc(1, sizeof *g->inputs);
    g->outputs = ft_calloc(3, sizeof *g->outputs);
    if (!g->layers || !g->inputs || !g->outputs || set_name(&g->name, "facetracker") != FT_OK) {
        st = FT_E_NOMEM;
        goto done;
    }
    g->n_layers = n_layers;
    for (size_t i = 0; i < n_layers; i++) {
        ft_glayer *l = &g->layers[i];
        l->trainable = true;
        l->dilation[0] = l->dilation[1] = 1;
        l->strides[0] = l->strides[1] = 1;
        l->relu_max = -1;
        l->weights = ft_calloc(2, sizeof *l->weights);
        if (!l->weights) {
            st = FT_E_NOMEM;
            goto done;
        }
    }
    ft_glayer *in = &g->layers[0];
    in->kind = FT_LAYER_INPUT;
    in->input_rank = 3;
    in->input_shape[0] = in->input_shape[1] = FT_FM_INPUT;
    in->input_shape[2] = 3;
    st = set_name(&in->name, "input_1");
    if (st == FT_OK)
        st = link_from(in, -1);
    for (int i = 0; i < FT_FM_CONVS && st == FT_OK; i++) {
        const ft_fm_conv *c = &m->conv[i];
        ft_glayer *l = &g->layers[1 + i];
        char name[32];
        ft_fm__conv_name(i, name, sizeof name);
        st = set_name(&l->name, name);
        l->kind = c->dw ? FT_LAYER_DWCONV2D : FT_LAYER_CONV2D;
        l->kernel[0] = c->g.kh, l->kernel[1] = c->g.kw;
        l->strides[0] = l->strides[1] = c->g.stride;
        l->padding = FT_GPAD_SAME;
        l->use_bias = true;
        l->activation = FT_GACT_RELU6;
        l->units = c->dw ? 0 : c->g.c_out;
        l->depth_multiplier = c->dw ? 1 : 0;
        int32_t ks[4] = {c->g.kh, c->g.kw, c->g.c_in, c->dw ? 1 : c->g.c_out}, bs[1] = {c->g.c_out};
        if (st == FT_OK)
            st = add_weight(l, c->dw ? "depthwise_kernel" : "kernel", 4, ks, m->p + c->w_off);
        if (st == FT_OK)
            st = add_weight(l, "bias", 1, bs, m->p + c->b_off);
        if (st == FT_OK)
            st = link_from(l, i);
    }
    int32_t gmp = 1 + FT_FM_CONVS;
    ft_glayer *gl = &g->layers[gmp];
    if (st == FT_OK)
        st = set_name(&gl->name, "global_max_pooling2d");
    gl->kind = FT_LAYER_GLOBAL_MAXPOOL2D;
    if (st == FT_OK)
        st = link_from(gl, gmp - 1);
    const ft_fm_dense *dd[5] = {&m->d1c, &m->d2c, &m->d1b, &m->d2b, &m->did};
    const char *dn[5] = {"dense", "dense_1", "dense_2", "dense_3", "identity"};
    const ft_gact da[5] = {FT_GACT_RELU, FT_GACT_SIGMOID, FT_GACT_RELU, FT_GACT_SIGMOID,
                           FT_GACT_SOFTMAX};
    const int32_t from[5] = {gmp, gmp + 1, gmp, gmp + 3, gmp};
    for (int k = 0; k < (m->n_ids ? 5 : 4) && st == FT_OK; k++) {
        ft_glayer *l = &g->layers[gmp + 1 + k];
        st = set_name(&l->name, dn[k]);
        l->kind = FT_LAYER_DENSE;
        l->units = dd[k]->n_out;
        l->use_bias = true;
        l->activation = da[k];
        int32_t ks[2] = {dd[k]->n_in, dd[k]->n_out}, bs[1] = {dd[k]->n_out};
        if (st == FT_OK)
            st = add_weight(l, "kernel", 2, ks, m->p + dd[k]->w_off);
        if (st == FT_OK)
            st = add_weight(l, "bias", 1, bs, m->p + dd[k]->b_off);
        if (st == FT_OK)
            st = link_from(l, from[k]);
    }
    g->n_inputs = 1;
    g->inputs[0].layer = 0;
    g->n_outputs = m->n_ids ? 3 : 2;
    g->outputs[0].layer = gmp + 2;
    g->outputs[1].layer = gmp + 4;
    g->outputs[2].layer = gmp + 5;
done:
    if (st != FT_OK) {
        ft_graph_free(g);
        return st;
    }
    *out = g;
    return FT_OK;
}

ft_status ft_fmodel_save(const ft_fmodel *m, const char *path, ft_err *err)
{
    ft_graph *g = NULL;
    ft_status st = build_graph(m, &g);
    if (st != FT_OK)
        return ft_err_set(err, st, "out of memory");
    st = ft_h5_model_save(path, g, NULL, err);
    g->block = NULL; // the weights belong to the model
    ft_graph_free(g);
    if (st == FT_OK && m->n_ids) {
        char p2[4096];
        ft_buf b;
        ft_buf_init(&b, 0);
        for (size_t i = 0; i < m->n_ids && st == FT_OK; i++)
            st = ft_buf_printf(&b, "%s\n", m->ids[i]);
        snprintf(p2, sizeof p2, "%s.identities.txt", path);
        if (st == FT_OK)
            st = ft_file_write_atomic(p2, b.data, b.len, err);
        ft_buf_deinit(&b);
    }
    return st;
}

static ft_status copy_weight(const ft_graph *g, const char *path, const char *layer,
                             ft_layer_kind kind, ft_gact act, const char *wname, float *dst,
                             size_t n, ft_err *err)
{
    int32_t li = ft_graph_find(g, layer);
    if (li < 0)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "%s: not a facetracker model (no layer '%s')", path, layer);
    const ft_glayer *l = &g->layers[li];
    if (l->kind != kind || l->activation != act)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "%s: layer '%s' is a %s (%s); facetracker expects a %s (%s)", path,
                          layer, ft_layer_kind_name(l->kind), ft_gact_name(l->activation),
                          ft_layer_kind_name(kind), ft_gact_name(act));
    const ft_gweight *w = ft_glayer_weight(l, wname);
    if (!w || w->n_elems != n)
        return ft_err_set(err, FT_E_FORMAT, "%s: layer '%s': weight '%s' %s (expected %zu values)",
                          path, layer, wname, w ? "has the wrong shape" : "is missing", n);
    memcpy(dst, w->data, n * sizeof(float));
    return FT_OK;
}

ft_status ft_fmodel_load(const char *path, ft_fmodel **out, ft_err *err)
{
    ft_graph *g = NULL;
    ft_fmodel *m = NULL;
    char **ids = NULL;
    size_t n_ids = 0;
    ft_h5_limits lim = ft_h5_limits_default();
    ft_status st = ft_h5_model_load(path, &lim, &g, err);
    if (st != FT_OK)
        return st;
    // Every layer must be one facetracker knows.
    for (size_t i = 0; i < g->n_layers; i++) {
        ft_layer_kind k = g->layers[i].kind;
        if (k != FT_LAYER_INPUT && k != FT_LAYER_CONV2D && k != FT_LAYER_DWCONV2D &&
            k != FT_LAYER_DENSE && k != FT_LAYER_GLOBAL_MAXPOOL2D) {
            st = ft_err_set(err, FT_E_UNSUPPORTED,
                            "%s: layer '%s' (%s) is not part of the facetracker architecture",
                            path, g->layers[i].name, ft_layer_kind_name(k));
            goto done;
        }
    }
    int32_t idl = ft_graph_find(g, "identity");
    if (idl >= 0 && g->layers[idl].kind == FT_LAYER_DENSE)
        n_ids = (size_t)g->layers[idl].units;
    if (n_ids) {
        char p2[4096];
        ft_buf b;
        snprintf(p2, sizeof p2, "%s.identities.txt", path);
        ids = ft_calloc(n_ids, sizeof *ids);
        st = ids ? ft_file_read(p2, 1 << 20, &b, err) : FT_E_NOMEM;
        if (st != FT_OK)
            goto done;
        char *p = (char *)b.data;
        for (size_t i = 0; i < n_ids && st == FT_OK; i++) {
            char *nl = p ? strchr(p, '\n') : NULL;
            if (!nl) {
                st = ft_err_set(err, FT_E_FORMAT, "%s: fewer than %zu names", p2, n_ids);
                break;
            }
            *nl = '\0';
            if (!(ids[i] = ft_strdup(p)))
                st = FT_E_NOMEM;
            p = nl + 1;
        }
        ft_buf_deinit(&b);
        if (st != FT_OK)
            goto done;
    }
    st = fm_alloc((const char *const *)ids, n_ids, &m);
    if (st != FT_OK)
        goto done;
    char name[32];
    for (int i = 0; i < FT_FM_CONVS && st == FT_OK; i++) {
        ft_fm_conv *c = &m->conv[i];
        ft_fm__conv_name(i, name, sizeof name);
        int32_t li = ft_graph_find(g, name);
        if (li >= 0 && (g->layers[li].strides[0] != c->g.stride || g->layers[li].padding !=
                        FT_GPAD_SAME)) {
            st = ft_err_set(err, FT_E_UNSUPPORTED, "%s: layer '%s' has other strides/padding than "
                            "facetracker's", path, name);
            break;
        }
        st = copy_weight(g, path, name, c->dw ? FT_LAYER_DWCONV2D : FT_LAYER_CONV2D,
                         FT_GACT_RELU6, c->dw ? "depthwise_kernel" : "kernel", m->p + c->w_off,
                         c->nw, err);
        if (st == FT_OK)
            st = copy_weight(g, path, name, c->dw ? FT_LAYER_DWCONV2D : FT_LAYER_CONV2D,
                             FT_GACT_RELU6, "bias", m->p + c->b_off, (size_t)c->g.c_out, err);
    }
    const ft_fm_dense *dd[5] = {&m->d1c, &m->d2c, &m->d1b, &m->d2b, &m->did};
    const char *dn[5] = {"dense", "dense_1", "dense_2", "dense_3", "identity"};
    const ft_gact da[5] = {FT_GACT_RELU, FT_GACT_SIGMOID, FT_GACT_RELU, FT_GACT_SIGMOID,
                           FT_GACT_SOFTMAX};
    for (int k = 0; k < (n_ids ? 5 : 4) && st == FT_OK; k++) {
        st = copy_weight(g, path, dn[k], FT_LAYER_DENSE, da[k], "kernel", m->p + dd[k]->w_off,
                         (size_t)dd[k]->n_in * dd[k]->n_out, err);
        if (st == FT_OK)
            st = copy_weight(g, path, dn[k], FT_LAYER_DENSE, da[k], "bias", m->p + dd[k]->b_off,
                             (size_t)dd[k]->n_out, err);
    }
    if (st == FT_OK && ft_graph_find(g, "global_max_pooling2d") < 0)
        st = ft_err_set(err, FT_E_UNSUPPORTED,
                        "%s: not a facetracker model (no layer 'global_max_pooling2d')", path);
    if (st == FT_OK) {
        *out = m;
        m = NULL;
    }
done:
    if (st == FT_E_NOMEM)
        ft_err_set(err, st, "out of memory");
    for (size_t i = 0; ids && i < n_ids; i++)
        ft_free(ids[i]);
    ft_free(ids);
    ft_fmodel_free(m);
    ft_graph_free(g);
    return st;
}
