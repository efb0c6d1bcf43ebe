// The training loop: batched heads, per-sample backbone passes on the
// thread pool, Adam, validation, early stopping, history; and evaluation.
//
// Determinism: every per-sample computation runs on one thread with
// per-sample outputs (features, backbone gradients), which are then
// combined in sample order; the heads run one per thread. So the same
// seed gives the same model whatever the thread count.
#include "train/model.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/pool.h"
#include "nn/train/grad.h"
#include "train/model_internal.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ft_train_opts ft_train_opts_default(void)
{
    ft_train_opts o;
    memset(&o, 0, sizeof o);
    // Chosen on validation (docs/TRAINING.md, issue 14): the last block
    // fine-tuned with the GIoU box loss, the box head started at the mean
    // training box, box loss weighted 0.25, 15 epochs at most, patience 5.
    o.epochs = 15;
    o.patience = 5;
    o.box_prior = true;
    o.fine_tune = true;
    o.fine_tune_from = 25;
    o.box_loss = FT_BOX_LOSS_GIOU;
    o.batch = 10;
    o.seed = 1;
    o.lr = 1e-4;
    o.decay_epochs_factor = 1.0 / 0.75 - 1.0;
    o.box_weight = 0.25;
    o.cache_mb = 4096;
    return o;
}

double ft_train_lr(const ft_train_opts *o, int64_t t, int64_t spe)
{
    double k = (double)(t > 1 ? t - 1 : 0);
    switch (o->lr_schedule) {
    case FT_LR_COSINE: {
        double total = (double)(o->epochs > 0 ? o->epochs : 1) * (double)(spe > 0 ? spe : 1);
        double f = k / total < 1.0 ? k / total : 1.0;
        return o->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * f));
    }
    case FT_LR_CONSTANT:
        return o->lr;
    case FT_LR_INVERSE_TIME:
    default:
        return o->lr / (1.0 + o->decay_epochs_factor / (double)(spe > 0 ? spe : 1) * k);
    }
}

static const char *const lr_names[] = {"inverse-time", "cosine", "constant"};

const char *ft_lr_schedule_name(ft_lr_schedule s)
{
    return (unsigned)s < sizeof lr_names / sizeof lr_names[0] ? lr_names[s] : "?";
}

ft_status ft_lr_schedule_parse(const char *s, ft_lr_schedule *out)
{
    for (size_t i = 0; i < sizeof lr_names / sizeof lr_names[0]; i++)
        if (strcmp(s, lr_names[i]) == 0) {
            *out = (ft_lr_schedule)i;
            return FT_OK;
        }
    return FT_E_INVALID;
}

#define MAXB 64

struct ft_fm_trainer {
    ft_fmodel *m;
    ft_train_opts o;
    ft_adam_opts adam;
    int64_t t;
    int64_t spe; // steps an epoch (ft_train_run), for the learning-rate schedule
    ft_pool *pool;
    int nth;
    const ft_grad_ops *ops;
    ft_fm_ws *ws[MAXB]; // one per sample slot of a batch (fine-tune) or per thread
    float *grad, *am, *av;
    float *sgrad; // fine-tune: per-sample backbone gradients [batch][n_bb_train]
    size_t bb_base, n_bb_train;
    // Fine-tune: the last conv (pointwise 1x1, 4x4x1024 -> 4x4x1024) runs
    // its backward once for the whole batch (two GEMMs over batch x 16
    // positions) instead of once per sample: per sample, its 1024 x 1024
    // weight had to be transposed and its gradient written, zeroed and
    // summed again (a third of an epoch, perf in docs/TRAINING.md). The
    // per-sample part covers convs fine_tune_from..25 only (n_ps floats).
    size_t n_ps;
    float *lx, *ldy, *ldx, *lxt, *lwt; // batch x 16 x 1024 each; lxt, lwt transposes
    // Batch buffers.
    float *F, *Ft, *H1c, *H1b, *zc, *zb, *pb, *zi, *dzc, *dzb, *dzi, *dH1c, *dH1b, *dF, *Ht, *Wt,
        *Wt2, *dFc;
    int32_t n;
    const float *x;
    bool need_dF;
};

static void tr_free_bufs(ft_fm_trainer *t)
{
    float **b[] = {&t->F, &t->Ft, &t->H1c, &t->H1b, &t->zc, &t->zb, &t->pb, &t->zi, &t->dzc,
                   &t->dzb, &t->dzi, &t->dH1c, &t->dH1b, &t->dF, &t->Ht, &t->Wt, &t->Wt2,
                   &t->dFc, &t->grad, &t->am, &t->av, &t->sgrad, &t->lx, &t->ldy, &t->ldx,
                   &t->lxt, &t->lwt};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        ft_aligned_free(*b[i]);
        *b[i] = NULL;
    }
}

void ft_fm_trainer_free(ft_fm_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < MAXB; i++)
        ft_fm__ws_free(t->ws[i]);
    tr_free_bufs(t);
    ft_pool_free(t->pool);
    ft_free(t);
}

static float *zalloc(size_t n, bool *ok)
{
    float *p = ft_aligned_alloc((n ? n : 1) * sizeof(float));
    if (!p)
        *ok = false;
    else
        memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

ft_status ft_fm_trainer_new(ft_fmodel *m, const ft_train_opts *o, ft_fm_trainer **out)
{
    ft_fm_trainer *t = ft_calloc(1, sizeof *t);
    if (!t)
        return FT_E_NOMEM;
    t->m = m;
    t->o = *o;
    if (t->o.batch <= 0 || t->o.batch > MAXB)
        t->o.batch = 10;
    t->adam = ft_adam_opts_default();
    t->adam.lr = o->lr;
    t->ops = ft_grad_ops_get();
    ft_status st = ft_pool_new(o->threads, &t->pool);
    if (st != FT_OK) {
        ft_free(t);
        return st;
    }
    t->nth = ft_pool_size(t->pool);
    int from = o->fine_tune_from < 0 ? 0 : o->fine_tune_from >= FT_FM_CONVS ? FT_FM_CONVS - 1
                                                                            : o->fine_tune_from;
    t->o.fine_tune_from = from;
    t->bb_base = m->conv[from].w_off;
    t->n_bb_train = m->n_backbone - t->bb_base;
    t->n_ps = m->conv[FT_FM_CONVS - 1].w_off - t->bb_base;
    bool ok = true;
    int B = t->o.batch, K = (int)(m->n_ids ? m->n_ids : 1);
    size_t H = FT_FM_HIDDEN, Fd = FT_FM_FEATURES;
    t->grad = zalloc(m->n_params, &ok);
    t->am = zalloc(m->n_params, &ok);
    t->av = zalloc(m->n_params, &ok);
    if (o->fine_tune) {
        const ft_conv_geom *lg = &m->conv[FT_FM_CONVS - 1].g;
        size_t nx = (size_t)B * lg->out_h * lg->out_w * lg->c_in;
        size_t ny = (size_t)B * lg->out_h * lg->out_w * lg->c_out;
        t->sgrad = zalloc((size_t)B * (t->n_ps ? t->n_ps : 1), &ok);
        t->lx = zalloc(nx, &ok), t->lxt = zalloc(nx, &ok), t->ldx = zalloc(nx, &ok);
        t->ldy = zalloc(ny, &ok);
        t->lwt = zalloc((size_t)lg->c_in * lg->c_out, &ok);
    }
    t->F = zalloc(B * Fd, &ok), t->Ft = zalloc(B * Fd, &ok);
    t->H1c = zalloc(B * H, &ok), t->H1b = zalloc(B * H, &ok);
    t->zc = zalloc(B, &ok), t->zb = zalloc(B * 4, &ok), t->pb = zalloc(B * 4, &ok);
    t->zi = zalloc((size_t)B * K, &ok), t->dzi = zalloc((size_t)B * K, &ok);
    t->dzc = zalloc(B, &ok), t->dzb = zalloc(B * 4, &ok);
    t->dH1c = zalloc(B * H, &ok), t->dH1b = zalloc(B * H, &ok);
    t->dF = zalloc(B * Fd, &ok), t->dFc = zalloc(B * Fd, &ok);
    t->Ht = zalloc(2 * B * H, &ok);
    t->Wt = zalloc(H * Fd + Fd * (size_t)K, &ok), t->Wt2 = zalloc(H * Fd, &ok);
    int n_ws = o->fine_tune && B > t->nth ? B : t->nth;
    n_ws = n_ws > MAXB ? MAXB : n_ws;
    for (int i = 0; i < n_ws && ok; i++)
        if (ft_fm__ws_new(m, o->fine_tune, &t->ws[i]) != FT_OK)
            ok = false;
    if (!ok) {
        ft_fm_trainer_free(t);
        return FT_E_NOMEM;
    }
    *out = t;
    return FT_OK;
}

const float *ft_fm_trainer_grad(const ft_fm_trainer *t)
{
    return t->grad;
}

// ---- Heads (batched) ----

static void add_bias_act(int32_t n, int32_t c, const float *b, ft_act act, float *y)
{
    ft_kern_bias_act_fwd_f32_ref((size_t)n, c, b, act, y);
}

// In 32 x 32 tiles: the heads transpose their 1024 x 2048 kernels every
// step, and row-by-row that was a quarter of a fine-tuning epoch (perf,
// docs/TRAINING.md).
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

// Forward of one two-layer head: H = relu(F W1 + b1); z = H W2 + b2.
static void head_fwd(const ft_fm_trainer *t, const ft_fm_dense *d1, const ft_fm_dense *d2,
                     float *H, float *z)
{
    const float *p = t->m->p;
    int32_t n = t->n;
    t->ops->gemm(n, d1->n_out, d1->n_in, t->F, p + d1->w_off, 0.0f, H);
    add_bias_act(n, d1->n_out, p + d1->b_off, FT_ACT_RELU, H);
    t->ops->gemm(n, d2->n_out, d2->n_in, H, p + d2->w_off, 0.0f, z);
    add_bias_act(n, d2->n_out, p + d2->b_off, FT_ACT_NONE, z);
}

// Backward of one head given dz: weight grads into t->grad; dF_out (if not
// NULL) = dH W1^T. Uses Ht (n x H scratch), Wt (W1^T scratch).
static void head_bwd(ft_fm_trainer *t, const ft_fm_dense *d1, const ft_fm_dense *d2,
                     const float *H, const float *dz, float *dH, float *Ht, float *Wt,
                     float *dF_out)
{
    const float *p = t->m->p;
    float *g = t->grad;
    int32_t n = t->n;
    // dW2 += H^T dz; db2 += sum dz
    transpose((size_t)n, (size_t)d2->n_in, H, Ht);
    t->ops->gemm(d2->n_in, d2->n_out, n, Ht, dz, 1.0f, g + d2->w_off);
    for (int32_t i = 0; i < n; i++)
        for (int32_t o = 0; o < d2->n_out; o++)
            g[d2->b_off + o] += dz[i * d2->n_out + o];
    // dH = dz W2^T, masked by relu'
    float w2t[4 * FT_FM_HIDDEN];
    transpose((size_t)d2->n_in, (size_t)d2->n_out, p + d2->w_off, w2t);
    t->ops->gemm(n, d2->n_in, d2->n_out, dz, w2t, 0.0f, dH);
    for (size_t i = 0; i < (size_t)n * d2->n_in; i++)
        dH[i] = H[i] > 0.0f ? dH[i] : 0.0f;
    for (int32_t i = 0; i < n; i++)
        for (int32_t o = 0; o < d1->n_out; o++)
            g[d1->b_off + o] += dH[(size_t)i * d1->n_out + o];
    // dW1 += F^T dH
    t->ops->gemm(d1->n_in, d1->n_out, n, t->Ft, dH, 1.0f, g + d1->w_off);
    if (dF_out) {
        // dF^T = W1 dH^T with W1 as stored (n_in x n_out): two small
        // transposes instead of W1's 2M floats every step.
        transpose((size_t)n, (size_t)d1->n_out, dH, Ht);
        t->ops->gemm(d1->n_in, n, d1->n_out, p + d1->w_off, Ht, 0.0f, Wt);
        transpose((size_t)d1->n_in, (size_t)n, Wt, dF_out);
    }
}

typedef struct head_job {
    ft_fm_trainer *t;
    int phase; // 0 forward, 1 backward
} head_job;

static void heads_slice(void *ctx, int ith, int nth)
{
    head_job *j = ctx;
    ft_fm_trainer *t = j->t;
    ft_fmodel *m = t->m;
    for (int h = ith; h < 2; h += nth) {
        if (j->phase == 0) {
            if (h == 0) {
                head_fwd(t, &m->d1c, &m->d2c, t->H1c, t->zc);
                if (m->n_ids) {
                    t->ops->gemm(t->n, m->did.n_out, m->did.n_in, t->F, m->p + m->did.w_off,
                                 0.0f, t->zi);
                    add_bias_act(t->n, m->did.n_out, m->p + m->did.b_off, FT_ACT_NONE, t->zi);
                }
            } else {
                head_fwd(t, &m->d1b, &m->d2b, t->H1b, t->zb);
            }
        } else {
            if (h == 0) {
                head_bwd(t, &m->d1c, &m->d2c, t->H1c, t->dzc, t->dH1c, t->Ht, t->Wt,
                         t->need_dF ? t->dFc : NULL);
                if (m->n_ids) {
                    const ft_fm_dense *d = &m->did;
                    t->ops->gemm(d->n_in, d->n_out, t->n, t->Ft, t->dzi, 1.0f,
                                 t->grad + d->w_off);
                    for (int32_t i = 0; i < t->n; i++)
                        for (int32_t o = 0; o < d->n_out; o++)
                            t->grad[d->b_off + o] += t->dzi[i * d->n_out + o];
                    if (t->need_dF) {
                        float *wt = t->Wt + (size_t)FT_FM_HIDDEN * FT_FM_FEATURES;
                        transpose((size_t)d->n_in, (size_t)d->n_out, m->p + d->w_off, wt);
                        t->ops->gemm(t->n, d->n_in, d->n_out, t->dzi, wt, 1.0f, t->dFc);
                    }
                }
            } else {
                head_bwd(t, &m->d1b, &m->d2b, t->H1b, t->dzb, t->dH1b,
                         t->Ht + (size_t)MAXB * 0 + (size_t)t->o.batch * FT_FM_HIDDEN, t->Wt2,
                         t->need_dF ? t->dF : NULL);
            }
        }
    }
}

// ---- Backbone on the pool ----

typedef struct bb_job {
    ft_fm_trainer *t;
    const float *x; // n inputs
    const uint8_t *const *rgb; // or n 120x120 RGB images
    const float *const *pre; // or n cached inputs of conv fine_tune_from
    int32_t n;
    bool backward;
    float *feats;   // n x 1024 out (forward)
    float *pre_out; // or: convs 0..fine_tune_from-1 only, n inputs of that conv out
} bb_job;

static void bb_slice(void *ctx, int ith, int nth)
{
    bb_job *j = ctx;
    ft_fm_trainer *t = j->t;
    long lo, hi;
    ft_pool_range(j->n, ith, nth, &lo, &hi);
    size_t in_n = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    int from = t->o.fine_tune_from;
    size_t pre_n = ft_fm__act_size(t->m, from);
    for (long i = lo; i < hi; i++) {
        ft_fm_ws *ws = t->o.fine_tune && !j->pre_out ? t->ws[i] : t->ws[ith];
        if (!j->backward) {
            if (j->pre) {
                memcpy(ws->act[from], j->pre[i], pre_n * sizeof(float));
                ft_fm__backbone_fwd_range(t->m, t->ops, ws, from, FT_FM_CONVS);
            } else {
                if (j->x)
                    memcpy(ws->act[0], j->x + (size_t)i * in_n, in_n * sizeof(float));
                else
                    ft_fm__input(j->rgb[i], ws->act[0]);
                if (j->pre_out) {
                    ft_fm__backbone_fwd_range(t->m, t->ops, ws, 0, from);
                    memcpy(j->pre_out + (size_t)i * pre_n, ws->act[from],
                           pre_n * sizeof(float));
                    continue;
                }
                ft_fm__backbone_fwd(t->m, t->ops, ws);
            }
            memcpy(j->feats + (size_t)i * FT_FM_FEATURES, ws->feat,
                   FT_FM_FEATURES * sizeof(float));
        } else {
            // Convs fine_tune_from..25 of this sample; the last conv's
            // backward (last_bwd) left dA of its input in t->ldx.
            const ft_conv_geom *g = &t->m->conv[FT_FM_CONVS - 1].g;
            size_t nx = (size_t)g->out_h * g->out_w * g->c_in;
            memcpy(ws->da[0], t->ldx + (size_t)i * nx, nx * sizeof(float));
            float *sg = t->sgrad + (size_t)i * t->n_ps;
            memset(sg, 0, t->n_ps * sizeof(float));
            ft_fm__backbone_bwd_range(t->m, t->ops, ws, t->o.fine_tune_from, FT_FM_CONVS - 1, sg,
                                      t->bb_base);
        }
    }
}

// Sums per-sample backbone gradients in sample order, split by range.
typedef struct reduce_job {
    ft_fm_trainer *t;
    int32_t n;
} reduce_job;

static void reduce_slice(void *ctx, int ith, int nth)
{
    reduce_job *j = ctx;
    ft_fm_trainer *t = j->t;
    long lo, hi;
    ft_pool_range((long)t->n_ps, ith, nth, &lo, &hi);
    float *g = t->grad + t->bb_base;
    for (long k = lo; k < hi; k++) {
        float s = 0.0f;
        for (int32_t i = 0; i < j->n; i++)
            s += t->sgrad[(size_t)i * t->n_ps + k];
        g[k] = s;
    }
}

// The last conv's backward over the whole batch (n samples x P positions,
// rows in sample order): dW += X^T dY on one thread, dX = dY W^T on the
// other (each a single GEMM call, so the bits do not depend on the thread
// count).
typedef struct last_job {
    ft_fm_trainer *t;
    int32_t rows;
    bool dx;
} last_job;

static void last_part(last_job *j, int part)
{
    ft_fm_trainer *t = j->t;
    const ft_fm_conv *c = &t->m->conv[FT_FM_CONVS - 1];
    int32_t ci = c->g.c_in, co = c->g.c_out;
    if (part == 0) {
        transpose((size_t)j->rows, (size_t)ci, t->lx, t->lxt);
        t->ops->gemm(ci, co, j->rows, t->lxt, t->ldy, 1.0f, t->grad + c->w_off);
    } else if (j->dx) {
        transpose((size_t)ci, (size_t)co, t->m->p + c->w_off, t->lwt);
        t->ops->gemm(j->rows, ci, co, t->ldy, t->lwt, 0.0f, t->ldx);
    }
}

static void last_slice(void *ctx, int ith, int nth)
{
    for (int part = ith; part < 2; part += nth)
        last_part(ctx, part);
}

// dF (n x 1024) -> the last conv's weight and bias gradients into t->grad,
// and dA of its input into t->ldx when convs before it train.
static void last_bwd(ft_fm_trainer *t, int32_t n)
{
    const ft_fm_conv *c = &t->m->conv[FT_FM_CONVS - 1];
    FT_ASSERT(!c->dw && c->g.kh == 1 && c->g.kw == 1 && c->g.stride == 1);
    size_t P = (size_t)c->g.out_h * c->g.out_w, nx = P * c->g.c_in, ny = P * c->g.c_out;
    for (int32_t i = 0; i < n; i++) {
        ft_fm_ws *ws = t->ws[i];
        float *dy = t->ldy + (size_t)i * ny;
        ft_kern_gmaxpool_bwd_f32_ref(P, c->g.c_out, ws->idx, t->dF + (size_t)i * FT_FM_FEATURES,
                                     dy);
        ft_kern_bias_act_bwd_f32_ref(P, c->g.c_out, FT_ACT_RELU6, ws->act[FT_FM_CONVS], dy,
                                     t->grad + c->b_off);
        memcpy(t->lx + (size_t)i * nx, ws->act[FT_FM_CONVS - 1], nx * sizeof(float));
    }
    last_job j = {t, (int32_t)(P * (size_t)n), t->o.fine_tune_from < FT_FM_CONVS - 1};
    ft_pool_run(t->nth > 1 ? t->pool : NULL, last_slice, &j);
}

typedef struct adam_job {
    ft_fm_trainer *t;
    size_t from;
} adam_job;

static void adam_slice(void *ctx, int ith, int nth)
{
    adam_job *j = ctx;
    ft_fm_trainer *t = j->t;
    long lo, hi;
    ft_pool_range((long)(t->m->n_params - j->from), ith, nth, &lo, &hi);
    size_t o = j->from + (size_t)lo;
    ft_kern_adam_f32_ref((size_t)(hi - lo), &t->adam, t->t, t->grad + o, t->m->p + o, t->am + o,
                         t->av + o);
}

// Losses and output gradients for the batch (t->zc, zb, zi set).
static double batch_losses(ft_fm_trainer *t, const float *face, const float *box,
                           const int32_t *id, double *cl, double *bl, double *il)
{
    int32_t n = t->n;
    double sc = 0, sb = 0, si = 0;
    int32_t n_id = 0;
    for (int32_t i = 0; i < n; i++)
        n_id += id && id[i] >= 0;
    for (int32_t i = 0; i < n; i++) {
        float dz;
        sc += ft_loss_bce_logit(t->zc[i], face[i], &dz);
        t->dzc[i] = 0.5f * dz / (float)n;
        float p[4], dp[4];
        for (int k = 0; k < 4; k++)
            p[k] = ft_sigmoidf(t->zb[i * 4 + k]);
        memcpy(t->pb + i * 4, p, sizeof p);
        if (face[i] > 0.5f) {
            sb += t->o.box_weight * ft_loss_box_iou(t->o.box_loss, p, box + i * 4, dp);
            for (int k = 0; k < 4; k++)
                t->dzb[i * 4 + k] = (float)t->o.box_weight * dp[k] * p[k] * (1 - p[k]);
        } else {
            for (int k = 0; k < 4; k++)
                t->dzb[i * 4 + k] = 0.0f;
        }
        if (t->m->n_ids) {
            int32_t K = (int32_t)t->m->n_ids;
            if (id && id[i] >= 0) {
                si += ft_loss_softmax_ce(K, t->zi + (size_t)i * K, id[i], NULL,
                                         t->dzi + (size_t)i * K);
                for (int32_t k = 0; k < K; k++)
                    t->dzi[(size_t)i * K + k] /= (float)n_id;
            } else {
                memset(t->dzi + (size_t)i * K, 0, sizeof(float) * (size_t)K);
            }
        }
    }
    *cl = sc / n;
    *bl = sb;
    *il = n_id ? si / n_id : 0.0;
    return *bl + 0.5 * *cl + *il;
}

// Forward of the heads on t->F (n rows) and the losses.
static double forward_losses(ft_fm_trainer *t, const float *face, const float *box,
                             const int32_t *id, double *cl, double *bl, double *il)
{
    head_job hj = {t, 0};
    ft_pool_run(t->nth > 1 ? t->pool : NULL, heads_slice, &hj);
    return batch_losses(t, face, box, id, cl, bl, il);
}

// One step on features already in t->F (frozen) or inputs x (fine-tune).
static ft_status step_common(ft_fm_trainer *t, const float *x, const uint8_t *const *rgb,
                             const float *const *pre, const float *face, const float *box, const int32_t *id, int32_t n,
                             bool update, double *loss, double *cl, double *bl, double *il)
{
    if (n <= 0 || n > t->o.batch)
        return FT_E_INVALID;
    t->n = n;
    bool bb = x || rgb || pre;
    if (bb) {
        bb_job j = {t, x, rgb, pre, n, false, t->F, NULL};
        ft_pool_run(t->pool, bb_slice, &j);
    }
    transpose((size_t)n, FT_FM_FEATURES, t->F, t->Ft);
    *loss = forward_losses(t, face, box, id, cl, bl, il);
    if (!update)
        return FT_OK;
    memset(t->grad, 0, t->m->n_params * sizeof(float));
    t->need_dF = t->o.fine_tune && bb;
    head_job hj = {t, 1};
    ft_pool_run(t->nth > 1 ? t->pool : NULL, heads_slice, &hj);
    size_t from = t->m->n_backbone;
    if (t->need_dF) {
        for (size_t i = 0; i < (size_t)n * FT_FM_FEATURES; i++)
            t->dF[i] += t->dFc[i];
        last_bwd(t, n);
        if (t->n_ps > 0) {
            bb_job j = {t, x, rgb, pre, n, true, NULL, NULL};
            ft_pool_run(t->pool, bb_slice, &j);
            reduce_job r = {t, n};
            ft_pool_run(t->pool, reduce_slice, &r);
        }
        from = t->bb_base;
    }
    t->t++;
    if (t->o.lr_schedule != FT_LR_INVERSE_TIME) {
        // Adam's own inverse-time decay stays as it was for the default.
        t->adam.decay = 0.0;
        t->adam.lr = ft_train_lr(&t->o, t->t, t->spe);
    }
    adam_job aj = {t, from};
    ft_pool_run(t->pool, adam_slice, &aj);
    return FT_OK;
}

ft_status ft_fm_trainer_step(ft_fm_trainer *t, const float *x, const float *face, const float *box,
                             const int32_t *id, int32_t n, double *loss, double *class_loss,
                             double *box_loss)
{
    double il;
    return step_common(t, x, NULL, NULL, face, box, id, n, true, loss, class_loss, box_loss,
                       &il);
}

ft_status ft_fm_trainer_loss(ft_fm_trainer *t, const float *x, const float *face, const float *box,
                             const int32_t *id, int32_t n, double *loss)
{
    double cl, bl, il;
    return step_common(t, x, NULL, NULL, face, box, id, n, false, loss, &cl, &bl, &il);
}

// ---- Samples ----

typedef struct samples {
    size_t n;
    uint8_t *rgb; // n x 120x120x3
    float *face, *box;
    int32_t *id;
    float *feat; // frozen mode: n x 1024
    float *pre;  // fine-tune with a cached prefix: n x pre_n
    size_t pre_n;
} samples;

static void samples_free(samples *s)
{
    ft_free(s->rgb);
    ft_free(s->face);
    ft_free(s->box);
    ft_free(s->id);
    ft_aligned_free(s->feat);
    ft_aligned_free(s->pre);
    memset(s, 0, sizeof *s);
}

static int32_t id_index(const char *const *ids, size_t n_ids, const char *label)
{
    for (size_t i = 0; i < n_ids; i++)
        if (strcmp(ids[i], label) == 0)
            return (int32_t)i;
    return -1;
}

// Augmented samples of a split when present, else its photos.
static ft_status load_samples(const char *dir, ft_split split, const char *const *ids,
                              size_t n_ids, bool augmented_only_if_present, samples *out,
                              ft_err *err)
{
    ft_dataset *ds = NULL;
    bool aug = true;
    ft_status st = ft_dataset_load_aug(dir, split, &ds, err);
    if (st == FT_E_NOT_FOUND || !augmented_only_if_present) {
        ft_dataset_free(ds);
        ds = NULL;
        aug = false;
        ft_dataset *all = NULL;
        st = ft_dataset_load(dir, &all, err);
        if (st != FT_OK)
            return st;
        // Keep the split's photos, boxes normalised.
        st = ft_dataset__new(dir, &ds);
        size_t cap = 0;
        for (size_t i = 0; i < all->n && st == FT_OK; i++) {
            ft_ds_sample *s = &all->s[i];
            if (s->split != split)
                continue;
            for (size_t b = 0; b < s->n_boxes; b++) {
                s->boxes[b].x1 /= s->width, s->boxes[b].x2 /= s->width;
                s->boxes[b].y1 /= s->height, s->boxes[b].y2 /= s->height;
            }
            st = ft_dataset__push(ds, &cap, s);
        }
        ft_dataset_free(all);
        if (st != FT_OK) {
            ft_dataset_free(ds);
            return ft_err_set(err, st, "out of memory");
        }
    } else if (st != FT_OK) {
        return st;
    }
    memset(out, 0, sizeof *out);
    size_t n = ds->n, px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    out->rgb = ft_malloc(n * px + 1);
    out->face = ft_calloc(n + 1, sizeof(float));
    out->box = ft_calloc(4 * n + 1, sizeof(float));
    out->id = ft_calloc(n + 1, sizeof(int32_t));
    if (!out->rgb || !out->face || !out->box || !out->id) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    ft_image_limits lim = ft_image_limits_default();
    char path[4096];
    for (size_t i = 0; i < n; i++) {
        const ft_ds_sample *s = &ds->s[i];
        ft_image im, sm;
        snprintf(path, sizeof path, "%s/%s", dir, s->image);
        st = ft_image_load(path, &lim, &im, err);
        if (st != FT_OK)
            goto done;
        if (im.w == FT_FM_INPUT && im.h == FT_FM_INPUT) {
            sm = im;
        } else {
            st = ft_train_resize(&im, FT_FM_INPUT, FT_FM_INPUT, &sm);
            ft_image_deinit(&im);
            if (st != FT_OK) {
                ft_err_set(err, st, "%s: resize failed", path);
                goto done;
            }
        }
        memcpy(out->rgb + i * px, sm.rgb, px);
        ft_image_deinit(&sm);
        out->id[i] = -1;
        if (s->n_boxes > 0) {
            out->face[i] = 1.0f;
            out->box[i * 4 + 0] = (float)s->boxes[0].x1;
            out->box[i * 4 + 1] = (float)s->boxes[0].y1;
            out->box[i * 4 + 2] = (float)s->boxes[0].x2;
            out->box[i * 4 + 3] = (float)s->boxes[0].y2;
            out->id[i] = id_index(ids, n_ids, s->boxes[0].label);
        }
    }
    out->n = n;
    (void)aug;
done:
    if (st != FT_OK)
        samples_free(out);
    ft_dataset_free(ds);
    return st;
}

static ft_status compute_features(ft_fm_trainer *t, samples *s)
{
    s->feat = ft_aligned_alloc((s->n ? s->n : 1) * FT_FM_FEATURES * sizeof(float));
    if (!s->feat)
        return FT_E_NOMEM;
    size_t px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    const uint8_t *ptrs[256];
    for (size_t i0 = 0; i0 < s->n; i0 += 256) {
        int32_t k = (int32_t)(s->n - i0 < 256 ? s->n - i0 : 256);
        for (int32_t i = 0; i < k; i++)
            ptrs[i] = s->rgb + (i0 + (size_t)i) * px;
        bb_job j = {t, NULL, ptrs, NULL, k, false, s->feat + i0 * FT_FM_FEATURES, NULL};
        ft_pool_run(t->pool, bb_slice, &j);
    }
    return FT_OK;
}

// Fine-tune: the frozen convs 0..from-1 once per sample, their output kept.
static ft_status compute_prefix(ft_fm_trainer *t, samples *s)
{
    s->pre_n = ft_fm__act_size(t->m, t->o.fine_tune_from);
    s->pre = ft_aligned_alloc((s->n ? s->n : 1) * s->pre_n * sizeof(float));
    if (!s->pre)
        return FT_E_NOMEM;
    size_t px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    const uint8_t *ptrs[256];
    for (size_t i0 = 0; i0 < s->n; i0 += 256) {
        int32_t k = (int32_t)(s->n - i0 < 256 ? s->n - i0 : 256);
        for (int32_t i = 0; i < k; i++)
            ptrs[i] = s->rgb + (i0 + (size_t)i) * px;
        bb_job j = {t, NULL, ptrs, NULL, k, false, NULL, s->pre + i0 * s->pre_n};
        ft_pool_run(t->pool, bb_slice, &j);
    }
    return FT_OK;
}

// Runs a batch given sample indices: gathers features or images.
static ft_status run_batch(ft_fm_trainer *t, const samples *s, const size_t *idx, int32_t n,
                           bool update, double *loss, double *cl, double *bl, double *il)
{
    float face[MAXB], box[4 * MAXB];
    int32_t id[MAXB];
    const uint8_t *rgb[MAXB];
    const float *pre[MAXB];
    size_t px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    for (int32_t i = 0; i < n; i++) {
        size_t k = idx[i];
        face[i] = s->face[k];
        memcpy(box + 4 * i, s->box + 4 * k, 4 * sizeof(float));
        id[i] = s->id[k];
        rgb[i] = s->rgb + k * px;
        pre[i] = s->pre ? s->pre + k * s->pre_n : NULL;
        if (s->feat)
            memcpy(t->F + (size_t)i * FT_FM_FEATURES, s->feat + k * FT_FM_FEATURES,
                   FT_FM_FEATURES * sizeof(float));
    }
    bool bb = !s->feat;
    return step_common(t, NULL, bb && !s->pre ? rgb : NULL, bb && s->pre ? pre : NULL, face, box,
                       id, n, update, loss, cl, bl, il);
}

static void report(const ft_train_opts *o, const ft_train_progress *p)
{
    if (o->on_progress)
        o->on_progress(o->progress_ctx, p);
}

static bool ds_has_split(const ft_dataset *ds, ft_split sp)
{
    for (size_t i = 0; i < ds->n; i++)
        if (ds->s[i].split == sp)
            return true;
    return false;
}

ft_status ft_train_run(const char *ds_dir, const char *ssd_manifest, const ft_train_opts *o,
                       ft_fmodel **out, ft_train_result *res, ft_err *err)
{
    ft_status st;
    ft_dataset *ds = NULL;
    const char **ids = NULL;
    size_t n_ids = 0;
    samples tr = {0}, va = {0};
    ft_fmodel *m = NULL;
    ft_fm_trainer *t = NULL;
    float *best = NULL;
    size_t *order = NULL;
    ft_train_result r;
    memset(&r, 0, sizeof r);
    double t0 = ft_now_ms();

    st = ft_dataset_load(ds_dir, &ds, err);
    if (st != FT_OK)
        goto done;
    if (o->identities) {
        st = ft_dataset_identities(ds, &ids, &n_ids);
        if (st != FT_OK)
            goto nomem;
        if (n_ids == 0) {
            st = ft_err_set(err, FT_E_INVALID,
                            "%s: --identities needs boxes labelled with person names", ds_dir);
            goto done;
        }
    }
    st = load_samples(ds_dir, FT_SPLIT_TRAIN, ids, n_ids, true, &tr, err);
    if (st == FT_OK)
        st = load_samples(ds_dir, FT_SPLIT_VAL, ids, n_ids, true, &va, err);
    if (st != FT_OK)
        goto done;
    if (tr.n == 0) {
        st = ft_err_set(err, FT_E_INVALID, "%s: no training samples (empty dataset or not split)",
                        ds_dir);
        goto done;
    }
    if (ssd_manifest)
        st = ft_fmodel_new(ssd_manifest, ids, n_ids, o->seed, &m, err);
    else if ((st = ft_fmodel_new_random(ids, n_ids, o->seed, &m)) != FT_OK)
        goto nomem;
    if (st != FT_OK)
        goto done;
    if (o->box_prior) {
        double sum[4] = {0, 0, 0, 0};
        size_t n_face = 0;
        for (size_t i = 0; i < tr.n; i++)
            if (tr.face[i] > 0.5f) {
                for (int k = 0; k < 4; k++)
                    sum[k] += tr.box[4 * i + k];
                n_face++;
            }
        if (n_face) {
            float prior[4];
            for (int k = 0; k < 4; k++)
                prior[k] = (float)(sum[k] / (double)n_face);
            ft_fmodel_box_prior(m, prior);
        }
    }
    st = ft_fm_trainer_new(m, o, &t);
    if (st != FT_OK)
        goto nomem;
    int32_t B = t->o.batch;
    size_t n_batches = (tr.n + (size_t)B - 1) / (size_t)B;
    if (o->max_batches > 0 && n_batches > (size_t)o->max_batches)
        n_batches = (size_t)o->max_batches;
    t->adam.decay = o->decay_epochs_factor / (double)n_batches;
    t->spe = (int64_t)n_batches;
    if (!o->fine_tune) {
        double f0 = ft_now_ms();
        ft_train_progress pr = {.ev = FT_TRAIN_EV_CACHE, .n_train = tr.n, .n_val = va.n,
                                .from = FT_FM_CONVS, .epochs = o->epochs};
        report(o, &pr);
        st = compute_features(t, &tr);
        if (st == FT_OK)
            st = compute_features(t, &va);
        if (st != FT_OK)
            goto nomem;
        r.feature_seconds = (ft_now_ms() - f0) / 1000;
    } else if (t->o.fine_tune_from > 0 &&
               (double)(tr.n + va.n) * ft_fm__act_size(m, t->o.fine_tune_from) * sizeof(float) <=
                   (double)o->cache_mb * 1048576.0) {
        double f0 = ft_now_ms();
        ft_train_progress pr = {.ev = FT_TRAIN_EV_CACHE, .n_train = tr.n, .n_val = va.n,
                                .from = t->o.fine_tune_from, .epochs = o->epochs};
        report(o, &pr);
        st = compute_prefix(t, &tr);
        if (st == FT_OK)
            st = compute_prefix(t, &va);
        if (st != FT_OK)
            goto nomem;
        r.feature_seconds = (ft_now_ms() - f0) / 1000;
    }
    r.history = ft_calloc((size_t)(o->epochs > 0 ? o->epochs : 1), sizeof *r.history);
    best = ft_aligned_alloc(m->n_params * sizeof(float));
    order = ft_malloc((tr.n + va.n + 1) * sizeof *order);
    if (!r.history || !best || !order)
        goto nomem;
    r.n_train = tr.n, r.n_val = va.n;
    double best_loss = INFINITY, train_ms = 0;
    size_t trained = 0;
    int since = 0;
    ft_rng rng;
    ft_rng_seed(&rng, o->seed);
    for (int ep = 1; ep <= o->epochs; ep++) {
        double e0 = ft_now_ms();
        for (size_t i = 0; i < tr.n; i++)
            order[i] = i;
        for (size_t i = tr.n; i > 1; i--) {
            size_t j = (size_t)ft_rng_below(&rng, i), x = order[i - 1];
            order[i - 1] = order[j];
            order[j] = x;
        }
        double sl = 0, sc = 0, sb = 0, si = 0;
        for (size_t b = 0; b < n_batches; b++) {
            int32_t n = (int32_t)(tr.n - b * B < (size_t)B ? tr.n - b * B : (size_t)B);
            double l, cl, bl, il;
            st = run_batch(t, &tr, order + b * B, n, true, &l, &cl, &bl, &il);
            if (st != FT_OK)
                goto done;
            sl += l, sc += cl, sb += bl, si += il;
            trained += (size_t)n;
            if (o->on_progress && (b % 5 == 4 || b + 1 == n_batches)) {
                ft_train_progress pr = {.ev = FT_TRAIN_EV_BATCH, .epoch = ep,
                                        .epochs = o->epochs, .done = b + 1, .total = n_batches,
                                        .loss = sl / (b + 1), .class_loss = sc / (b + 1),
                                        .box_loss = sb / (b + 1),
                                        .elapsed = (ft_now_ms() - e0) / 1000};
                report(o, &pr);
            }
        }
        double e1 = ft_now_ms();
        train_ms += e1 - e0;
        ft_epoch_stats *h = &r.history[ep - 1];
        h->loss = sl / n_batches, h->class_loss = sc / n_batches, h->box_loss = sb / n_batches;
        h->id_loss = si / n_batches;
        h->lr = t->o.lr_schedule == FT_LR_INVERSE_TIME ? ft_adam_lr(&t->adam, t->t)
                                                        : ft_train_lr(&t->o, t->t, t->spe);
        // Validation, same batch size, in order.
        size_t vb = 0;
        double vl = 0, vc = 0, vbx = 0, vi = 0;
        for (size_t i = 0; i < va.n; i++)
            order[i] = i;
        for (size_t b0 = 0; b0 < va.n; b0 += (size_t)B, vb++) {
            int32_t n = (int32_t)(va.n - b0 < (size_t)B ? va.n - b0 : (size_t)B);
            double l, cl, bl, il;
            st = run_batch(t, &va, order + b0, n, false, &l, &cl, &bl, &il);
            if (st != FT_OK)
                goto done;
            vl += l, vc += cl, vbx += bl, vi += il;
        }
        if (vb) {
            h->val_loss = vl / vb, h->val_class_loss = vc / vb, h->val_box_loss = vbx / vb;
            h->val_id_loss = vi / vb;
        } else {
            h->val_loss = h->loss, h->val_class_loss = h->class_loss, h->val_box_loss = h->box_loss;
        }
        h->seconds = (ft_now_ms() - e0) / 1000;
        h->images_per_s = (e1 - e0) > 0 ? (double)n_batches * B / ((e1 - e0) / 1000) : 0;
        r.n_epochs = ep;
        ft_train_progress pe = {.ev = FT_TRAIN_EV_EPOCH, .epoch = ep, .epochs = o->epochs,
                                .stats = h};
        report(o, &pe);
        if (h->val_loss < best_loss) {
            best_loss = h->val_loss;
            r.best_epoch = ep;
            memcpy(best, m->p, m->n_params * sizeof(float));
            since = 0;
        } else if (++since >= o->patience && o->patience > 0) {
            ft_train_progress ps = {.ev = FT_TRAIN_EV_STOP, .epoch = ep, .epochs = o->epochs,
                                    .patience = o->patience};
            report(o, &ps);
            break;
        }
    }
    if (r.best_epoch > 0)
        memcpy(m->p, best, m->n_params * sizeof(float));
    // The restored model on the val photos, for the summary and the plot.
    if (ds_has_split(ds, FT_SPLIT_VAL)) {
        ft_eval_result ev;
        st = ft_fmodel_evaluate(m, ds_dir, FT_SPLIT_VAL, NULL, &ev, err);
        if (st != FT_OK)
            goto done;
        r.has_val_eval = true;
        r.val_accuracy = ev.accuracy;
        r.val_mean_iou = ev.mean_iou;
        memcpy(r.val_iou_hist, ev.iou_hist, sizeof ev.iou_hist);
    }
    r.images_per_s = train_ms > 0 ? (double)trained / (train_ms / 1000) : 0;
    r.seconds = (ft_now_ms() - t0) / 1000;
    *out = m;
    m = NULL;
    if (res) {
        *res = r;
        r.history = NULL;
    }
    goto done;
nomem:
    st = ft_err_set(err, FT_E_NOMEM, "out of memory");
done:
    ft_free(r.history);
    ft_aligned_free(best);
    ft_free(order);
    ft_fm_trainer_free(t);
    ft_fmodel_free(m);
    samples_free(&tr);
    samples_free(&va);
    ft_free(ids);
    ft_dataset_free(ds);
    return st;
}

// ---- History ----

ft_status ft_train_history_csv(const ft_train_result *r, const char *path, ft_err *err)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_status st = ft_buf_puts(&b, "epoch,loss,class_loss,box_loss,val_loss,val_class_loss,"
                                   "val_box_loss,lr,seconds\n");
    for (int32_t i = 0; i < r->n_epochs && st == FT_OK; i++) {
        const ft_epoch_stats *h = &r->history[i];
        st = ft_buf_printf(&b, "%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6g,%.2f\n", i + 1, h->loss,
                           h->class_loss, h->box_loss, h->val_loss, h->val_class_loss,
                           h->val_box_loss, h->lr, h->seconds);
    }
    if (st == FT_OK)
        st = ft_file_write_atomic(path, b.data, b.len, err);
    else
        ft_err_set(err, st, "out of memory");
    ft_buf_deinit(&b);
    return st;
}

ft_status ft_train_history_svg(const ft_train_result *r, const char *path, ft_err *err)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    const int pw = 300, ph = 220, ml = 50, mt = 30, gap = 30;
    int n_panels = r->has_val_eval ? 4 : 3;
    int W = n_panels * (pw + ml) + (n_panels - 1) * gap + 20, H = ph + mt + 50;
    ft_status st = ft_buf_printf(&b,
                                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                                 "height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                                 "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                                 W, H);
    const char *titles[3] = {"total loss", "class loss (BCE)", "box loss"};
    for (int k = 0; k < 3 && st == FT_OK; k++) {
        int x0 = k * (pw + ml + gap) + ml, y0 = mt;
        double mx = 0;
        for (int32_t i = 0; i < r->n_epochs; i++) {
            const ft_epoch_stats *h = &r->history[i];
            double v[2] = {k == 0 ? h->loss : k == 1 ? h->class_loss : h->box_loss,
                           k == 0 ? h->val_loss : k == 1 ? h->val_class_loss : h->val_box_loss};
            mx = fmax(mx, fmax(v[0], v[1]));
        }
        if (mx <= 0)
            mx = 1;
        st = ft_buf_printf(&b,
                           "<text x=\"%d\" y=\"%d\" font-size=\"13\">%s</text>\n"
                           "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                           "stroke=\"#888\"/>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch (1..%d)</text>\n",
                           x0, y0 - 10, titles[k], x0, y0, pw, ph, x0 - 4, y0 + 10, mx, x0 - 4,
                           y0 + ph, x0 + pw / 2, y0 + ph + 18, r->n_epochs);
        for (int s = 0; s < 2 && st == FT_OK; s++) {
            st = ft_buf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                                   "points=\"", s ? "#d62728" : "#1f77b4");
            for (int32_t i = 0; i < r->n_epochs && st == FT_OK; i++) {
                const ft_epoch_stats *h = &r->history[i];
                double v = s == 0 ? (k == 0 ? h->loss : k == 1 ? h->class_loss : h->box_loss)
                                  : (k == 0 ? h->val_loss
                                            : k == 1 ? h->val_class_loss : h->val_box_loss);
                double px = x0 + (r->n_epochs > 1 ? (double)i / (r->n_epochs - 1) : 0.5) * pw;
                double py = y0 + ph - v / mx * ph;
                st = ft_buf_printf(&b, "%.1f,%.1f ", px, py);
            }
            if (st == FT_OK)
                st = ft_buf_puts(&b, "\"/>\n");
        }
    }
    if (st == FT_OK && r->has_val_eval) {
        // IoU histogram of the restored model on the val photos.
        int x0 = 3 * (pw + ml + gap) + ml, y0 = mt;
        size_t mx = 1, n = 0;
        for (int i = 0; i < 10; i++) {
            mx = r->val_iou_hist[i] > mx ? r->val_iou_hist[i] : mx;
            n += r->val_iou_hist[i];
        }
        st = ft_buf_printf(&b,
                           "<text x=\"%d\" y=\"%d\" font-size=\"13\">val photos: IoU of %zu faces, "
                           "mean %.3f</text>\n"
                           "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                           "stroke=\"#888\"/>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%zu</text>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n"
                           "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">IoU with the human "
                           "box (0..1); face/no-face accuracy %.3f</text>\n",
                           x0, y0 - 10, n, r->val_mean_iou, x0, y0, pw, ph,
                           x0 - 4, y0 + 10, mx, x0 - 4, y0 + ph, x0 + pw / 2, y0 + ph + 18,
                           r->val_accuracy);
        for (int i = 0; i < 10 && st == FT_OK; i++) {
            double bh = (double)r->val_iou_hist[i] / (double)mx * ph;
            st = ft_buf_printf(&b,
                               "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                               "fill=\"#2ca02c\"><title>[%.1f, %.1f): %zu</title></rect>\n",
                               x0 + i * pw / 10.0 + 1, y0 + ph - bh, pw / 10.0 - 2, bh, i / 10.0,
                               (i + 1) / 10.0, r->val_iou_hist[i]);
        }
        if (st == FT_OK && r->val_mean_iou > 0)
            st = ft_buf_printf(&b,
                               "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                               "stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\n",
                               x0 + r->val_mean_iou * pw, y0, x0 + r->val_mean_iou * pw, y0 + ph);
    }
    if (st == FT_OK)
        st = ft_buf_printf(&b,
                           "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">training</text>"
                           "<text x=\"%d\" y=\"%d\" fill=\"#d62728\">validation</text>\n</svg>\n",
                           ml, H - 8, ml + 80, H - 8);
    if (st == FT_OK)
        st = ft_file_write_atomic(path, b.data, b.len, err);
    else
        ft_err_set(err, st, "out of memory");
    ft_buf_deinit(&b);
    return st;
}

// ---- Evaluation ----

static double iou(const float *a, const float *b)
{
    double ix = fmin(a[2], b[2]) - fmax(a[0], b[0]), iy = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (ix <= 0 || iy <= 0)
        return 0;
    double in = ix * iy;
    double ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - in;
    return ua > 0 ? in / ua : 0;
}

ft_eval_opts ft_eval_opts_default(void)
{
    ft_eval_opts o;
    memset(&o, 0, sizeof o);
    o.flip = true;
    o.draw_max = 96;
    return o;
}

// The contact sheet of evaluate's draw_dir: cells of 2x the sample with
// the human box (green) and the prediction (red, thin when the score is
// 0.5 or less), score and IoU below.
#define SHEET_CELL (2 * FT_FM_INPUT)
#define SHEET_TEXT 22
#define SHEET_GAP 4
#define SHEET_COLS 8

static void sheet_cell(ft_image *sheet, int32_t k, const uint8_t *rgb, bool face,
                       const float *truth, const ft_fm_pred *p, double v)
{
    int32_t ox = SHEET_GAP + (k % SHEET_COLS) * (SHEET_CELL + SHEET_GAP);
    int32_t oy = SHEET_GAP + (k / SHEET_COLS) * (SHEET_CELL + SHEET_TEXT + SHEET_GAP);
    for (int32_t y = 0; y < SHEET_CELL; y++)
        for (int32_t x = 0; x < SHEET_CELL; x++)
            memcpy(sheet->rgb + ((size_t)(oy + y) * sheet->w + ox + x) * 3,
                   rgb + ((size_t)(y / 2) * FT_FM_INPUT + x / 2) * 3, 3);
    const int32_t c = SHEET_CELL;
    if (face)
        ft_draw_rect(sheet, ox + (int32_t)lround(truth[0] * c), oy + (int32_t)lround(truth[1] * c),
                     (int32_t)lround((truth[2] - truth[0]) * c),
                     (int32_t)lround((truth[3] - truth[1]) * c), 0x00E040, 2);
    if (p->box[2] > p->box[0] && p->box[3] > p->box[1])
        ft_draw_rect(sheet, ox + (int32_t)lround(p->box[0] * c),
                     oy + (int32_t)lround(p->box[1] * c),
                     (int32_t)lround((p->box[2] - p->box[0]) * c),
                     (int32_t)lround((p->box[3] - p->box[1]) * c), 0xFF3030,
                     p->score > 0.5f ? 2 : 1);
    char txt[64];
    bool ok = (p->score > 0.5f) == face;
    if (face)
        snprintf(txt, sizeof txt, "face %.2f  IoU %.2f%s", p->score, v, ok ? "" : " MISS");
    else
        snprintf(txt, sizeof txt, "no face %.2f%s", p->score, ok ? "" : " FALSE");
    ft_draw_text(sheet, ox + 2, oy + SHEET_CELL + 6, txt, ok ? 0xFFFFFF : 0xFF6060, 1);
}

ft_status ft_fmodel_evaluate(ft_fmodel *m, const char *ds_dir, ft_split split,
                             const ft_eval_opts *opts, ft_eval_result *out, ft_err *err)
{
    ft_eval_opts o = opts ? *opts : ft_eval_opts_default();
    samples s;
    ft_image sheet = {0};
    ft_status st = load_samples(ds_dir, split, (const char *const *)m->ids, m->n_ids,
                                o.augmented, &s, err);
    if (st != FT_OK)
        return st;
    if (s.n == 0) {
        samples_free(&s);
        return ft_err_set(err, FT_E_INVALID, "%s: the %s split is empty", ds_dir,
                          ft_split_name(split));
    }
    if (!m->ws && (st = ft_fm__ws_new(m, false, &m->ws)) != FT_OK) {
        samples_free(&s);
        return ft_err_set(err, st, "out of memory");
    }
    int32_t n_draw = 0;
    if (o.draw_dir) {
        n_draw = (int32_t)(s.n < (size_t)(o.draw_max > 0 ? o.draw_max : 96)
                               ? s.n
                               : (size_t)(o.draw_max > 0 ? o.draw_max : 96));
        int32_t rows = (n_draw + SHEET_COLS - 1) / SHEET_COLS;
        st = ft_train__mkdirs(o.draw_dir, err);
        if (st == FT_OK &&
            (st = ft_image_new(SHEET_GAP + SHEET_COLS * (SHEET_CELL + SHEET_GAP),
                               SHEET_GAP + rows * (SHEET_CELL + SHEET_TEXT + SHEET_GAP),
                               &sheet)) != FT_OK)
            ft_err_set(err, st, "out of memory");
        if (st != FT_OK) {
            samples_free(&s);
            return st;
        }
        memset(sheet.rgb, 30, (size_t)sheet.w * sheet.h * 3);
    }
    bool keep_flip = m->flip;
    m->flip = o.flip;
    ft_eval_result r;
    memset(&r, 0, sizeof r);
    const ft_grad_ops *ops = ft_grad_ops_get();
    double sum_iou = 0;
    size_t px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    for (size_t i = 0; i < s.n; i++) {
        ft_fm_pred p;
        ft_fm__predict_rgb(m, ops, s.rgb + i * px, &p);
        bool face = s.face[i] > 0.5f, pred = p.score > 0.5f;
        double v = 0;
        r.n++;
        r.tp += face && pred, r.fp += !face && pred, r.tn += !face && !pred,
            r.fn += face && !pred;
        if (face) {
            r.n_face++;
            v = iou(p.box, s.box + 4 * i);
            sum_iou += v;
            int bin = (int)(v * 10);
            r.iou_hist[bin > 9 ? 9 : bin]++;
            if (s.id[i] >= 0) {
                r.n_id++;
                r.id_correct += p.id == s.id[i];
            }
        }
        if ((int32_t)i < n_draw)
            sheet_cell(&sheet, (int32_t)i, s.rgb + i * px, face, s.box + 4 * i, &p, v);
    }
    m->flip = keep_flip;
    r.accuracy = (double)(r.tp + r.tn) / r.n;
    r.precision = r.tp + r.fp ? (double)r.tp / (r.tp + r.fp) : 0;
    r.recall = r.tp + r.fn ? (double)r.tp / (r.tp + r.fn) : 0;
    r.mean_iou = r.n_face ? sum_iou / r.n_face : 0;
    if (o.draw_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/contact.jpg", o.draw_dir);
        st = ft_image_save(&sheet, path, err);
        ft_image_deinit(&sheet);
        if (st != FT_OK) {
            samples_free(&s);
            return st;
        }
    }
    *out = r;
    samples_free(&s);
    return FT_OK;
}
