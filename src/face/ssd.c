// SSD MobileNetV1 face detector (faceapi-models.md §5): graph, anchors,
// box decoding and NMS.
#include "face/face_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define SSD_SIZE 512

static const int32_t dw_stride[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
static const int32_t pw_out[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
static const int32_t extra_k[8] = {1, 3, 1, 3, 1, 3, 1, 3};
static const int32_t extra_out[8] = {256, 512, 128, 256, 128, 256, 64, 128};
static const int32_t head_cin[6] = {512, 1024, 512, 256, 256, 128};
static const int32_t head_anchors[6] = {3, 6, 6, 6, 6, 6};
static const int32_t head_grid[6] = {32, 16, 8, 4, 2, 1};
static const int32_t head_first[6] = {0, 3072, 4608, 4992, 5088, 5112};

// ---- The padding rows ----
//
// The SSD sees the photo anchored top-left in a square padded with black
// (§5.1): a landscape photo leaves the bottom rows of the 512x512 input at
// the padding value. Every layer computes each output position from its
// receptive field alone, by the same kernel code in the same order, so a
// feature-map row whose receptive field lies wholly in the padding holds
// the same numbers for every photo, down to the bit. ssd_forward tracks,
// stage by stage, how many leading rows the photo can reach, computes only
// those (nn's top-rows-only calls: the full map's padding and strides) and
// copies the rest from these saved rows, as far as the next stage reads.
// The rows are saved from the first photos that have padding: a stage
// computed in full keeps its padding-only rows, so nothing is run just to
// fill the store. Kept: rows [h/2, h) of each stage's output (~17 MB at
// most), i.e. photos up to 2:1; wider ones compute the rows above h/2
// themselves. A black band at the bottom of a photo counts as padding: its
// samples are the padding's value, so its rows are the same bits too.
//
// Stages: 0 = L0 (conv 3x3 s2), 1-3 = pairs (0,1) (2,3) (4,5) chained,
// 4-10 = pairs 6..12 one by one. The extra layers (8x8 and smaller) always
// run in full.
#define SSD_STAGES 11

typedef struct ft_ssd_padrows {
    pthread_mutex_t mu;
    int32_t from[SSD_STAGES]; // first saved row (the map's height: none); atomic
    float *rows[SSD_STAGES];  // rows [h/2, h) of the stage's output, saved from `from` on
} ft_ssd_padrows;

static ft_status padrows_new(ft_ssd_padrows **out, ft_err *err)
{
    ft_ssd_padrows *p = ft_calloc(1, sizeof *p);
    if (!p)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    for (int i = 0; i < SSD_STAGES; i++)
        p->from[i] = INT32_MAX;
    *out = p;
    return FT_OK;
}

static void padrows_free(ft_ssd_padrows *p)
{
    if (!p)
        return;
    for (int i = 0; i < SSD_STAGES; i++)
        ft_free(p->rows[i]);
    pthread_mutex_destroy(&p->mu);
    ft_free(p);
}

// ---- Building the layers ----

static ft_status build_dw(const ft_tfjs *w, int i, int32_t c, ft_conv **out, ft_err *err)
{
    char n[128];
    const float *dw, *gamma, *beta, *mean, *var;
    ft_status st;
#define GET1(field, dst)                                                                           \
    snprintf(n, sizeof n, "MobilenetV1/Conv2d_%d_depthwise/%s", i, field);                         \
    st = ft_face__get(w, n, 1, c, 0, 0, 0, dst, err);                                              \
    if (st != FT_OK)                                                                               \
        return st;
    snprintf(n, sizeof n, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", i);
    st = ft_face__get(w, n, 4, 3, 3, c, 1, &dw, err);
    if (st != FT_OK)
        return st;
    GET1("BatchNorm/gamma", &gamma);
    GET1("BatchNorm/beta", &beta);
    GET1("BatchNorm/moving_mean", &mean);
    GET1("BatchNorm/moving_variance", &var);
#undef GET1
    // Batch norm folded into the depthwise weights at load:
    // y = beta + (x*w - mean) * s with s = gamma / sqrt(var + eps).
    float *fw = ft_malloc(sizeof(float) * 9 * (size_t)c);
    float *fb = ft_malloc(sizeof(float) * (size_t)c);
    if (!fw || !fb) {
        ft_free(fw);
        ft_free(fb);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    for (int32_t ch = 0; ch < c; ch++) {
        double s = (double)gamma[ch] / sqrt((double)var[ch] + 0.0010000000474974513);
        for (int k = 0; k < 9; k++)
            fw[k * c + ch] = (float)(dw[k * c + ch] * s);
        fb[ch] = (float)(beta[ch] - mean[ch] * s);
    }
    snprintf(n, sizeof n, "SSD L%d depthwise", i);
    st = ft_face__conv(n, 3, c, c, dw_stride[i - 1], FT_PAD_SAME, true, FT_ACT_RELU6, fw, fb, out,
                       err);
    ft_free(fw);
    ft_free(fb);
    return st;
}

static ft_status build_conv(const ft_tfjs *w, const char *prefix, int32_t k, int32_t cin,
                            int32_t cout, int32_t stride, ft_conv **out, ft_err *err)
{
    char n[128], nb[128];
    const float *wt, *b;
    snprintf(n, sizeof n, "%s/weights", prefix);
    snprintf(nb, sizeof nb, "%s/convolution_bn_offset", prefix);
    ft_status st = ft_face__get(w, n, 4, k, k, cin, cout, &wt, err);
    if (st == FT_OK)
        st = ft_face__get(w, nb, 1, cout, 0, 0, 0, &b, err);
    if (st == FT_OK)
        st = ft_face__conv(prefix, k, cin, cout, stride, FT_PAD_SAME, false, FT_ACT_RELU6, wt, b,
                           out, err);
    return st;
}

static ft_status build_head(const ft_tfjs *w, int i, ft_conv **out, ft_err *err)
{
    char n[128];
    int32_t cin = head_cin[i], a = head_anchors[i];
    const float *bw, *bb, *cw, *cb;
    ft_status st;
    snprintf(n, sizeof n, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/weights", i);
    if ((st = ft_face__get(w, n, 4, 1, 1, cin, a * 4, &bw, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "Prediction/BoxPredictor_%d/BoxEncodingPredictor/biases", i);
    if ((st = ft_face__get(w, n, 1, a * 4, 0, 0, 0, &bb, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "Prediction/BoxPredictor_%d/ClassPredictor/weights", i);
    if ((st = ft_face__get(w, n, 4, 1, 1, cin, a * 3, &cw, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "Prediction/BoxPredictor_%d/ClassPredictor/biases", i);
    if ((st = ft_face__get(w, n, 1, a * 3, 0, 0, 0, &cb, err)) != FT_OK)
        return st;
    // Both heads read the same map: one 1x1 conv with the box channels
    // first, then the class channels.
    int32_t cout = a * 7;
    float *wt = ft_malloc(sizeof(float) * (size_t)cin * (size_t)cout);
    float *b = ft_malloc(sizeof(float) * (size_t)cout);
    if (!wt || !b) {
        ft_free(wt);
        ft_free(b);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    for (int32_t ci = 0; ci < cin; ci++) {
        memcpy(wt + (size_t)ci * cout, bw + (size_t)ci * a * 4, sizeof(float) * a * 4);
        memcpy(wt + (size_t)ci * cout + a * 4, cw + (size_t)ci * a * 3, sizeof(float) * a * 3);
    }
    memcpy(b, bb, sizeof(float) * a * 4);
    memcpy(b + a * 4, cb, sizeof(float) * a * 3);
    snprintf(n, sizeof n, "SSD head %d", i);
    st = ft_face__conv(n, 1, cin, cout, 1, FT_PAD_SAME, false, FT_ACT_NONE, wt, b, out, err);
    ft_free(wt);
    ft_free(b);
    return st;
}

ft_status ft_face__ssd_build(const ft_tfjs *w, ft_ssd_net *net, ft_err *err)
{
    ft_status st;
    char n[64];
    const float *anchors;

    memset(net, 0, sizeof *net);
    st = build_conv(w, "MobilenetV1/Conv2d_0_pointwise", 3, 3, 32, 2, &net->l0, err);
    int32_t c = 32;
    for (int i = 1; i <= 13 && st == FT_OK; i++) {
        st = build_dw(w, i, c, &net->dw[i - 1], err);
        if (st != FT_OK)
            break;
        snprintf(n, sizeof n, "MobilenetV1/Conv2d_%d_pointwise", i);
        st = build_conv(w, n, 1, c, pw_out[i - 1], 1, &net->pw[i - 1], err);
        c = pw_out[i - 1];
    }
    for (int i = 0; i < 8 && st == FT_OK; i++) {
        snprintf(n, sizeof n, "Prediction/Conv2d_%d_pointwise", i);
        st = build_conv(w, n, extra_k[i], c, extra_out[i], extra_k[i] == 3 ? 2 : 1,
                        &net->extra[i], err);
        c = extra_out[i];
    }
    for (int i = 0; i < 6 && st == FT_OK; i++)
        st = build_head(w, i, &net->head[i], err);
    if (st == FT_OK)
        st = ft_face__get(w, "Output/extra_dim", 3, 1, FT_SSD_ANCHORS, 4, 0, &anchors, err);
    if (st == FT_OK) {
        net->anchors = ft_malloc(sizeof(float) * FT_SSD_ANCHORS * 4);
        if (!net->anchors)
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        else
            memcpy(net->anchors, anchors, sizeof(float) * FT_SSD_ANCHORS * 4);
    }
    if (st == FT_OK)
        st = padrows_new(&net->pad, err);
    if (st != FT_OK)
        ft_face__ssd_free(net);
    return st;
}

void ft_face__ssd_free(ft_ssd_net *net)
{
    ft_conv_free(net->l0);
    for (int i = 0; i < 13; i++) {
        ft_conv_free(net->dw[i]);
        ft_conv_free(net->pw[i]);
    }
    for (int i = 0; i < 8; i++)
        ft_conv_free(net->extra[i]);
    for (int i = 0; i < 6; i++)
        ft_conv_free(net->head[i]);
    ft_free(net->anchors);
    padrows_free(net->pad);
    memset(net, 0, sizeof *net);
}

// ---- Running the network ----

// Writes scores and codes of feature map i's anchors.
static ft_status run_head(ft_nn_ctx *ctx, const ft_ssd_net *net, int i, const ft_map *f,
                          float *tmp, float *scores, float *codes)
{
    ft_map y;
    ft_status st = ft_face__run_conv(ctx, net->head[i], f, &y, tmp);
    if (st != FT_OK)
        return st;
    int32_t a = head_anchors[i], g = head_grid[i];
    for (int32_t cell = 0; cell < g * g; cell++) {
        const float *p = y.d + (size_t)cell * a * 7;
        for (int32_t k = 0; k < a; k++) {
            size_t j = (size_t)head_first[i] + (size_t)cell * a + k;
            for (int q = 0; q < 4; q++)
                codes[j * 4 + q] = p[k * 4 + q];
            double logit = p[a * 4 + k * 3 + 1];
            scores[j] = (float)(1.0 / (1.0 + exp(-logit)));
        }
    }
    return FT_OK;
}

// Largest activation: L1's 256x256x64 output.
#define SSD_MAX_MAP ((size_t)256 * 256 * 64)

// The strides of stage s's 3x3 layers (its 1x1 layers keep the rows).
static int stage_strides(int s, int32_t st[2])
{
    if (s == 0) {
        st[0] = 2;
        return 1;
    }
    if (s <= 3) {
        st[0] = dw_stride[2 * (s - 1)];
        st[1] = dw_stride[2 * (s - 1) + 1];
        return 2;
    }
    st[0] = dw_stride[s + 2];
    return 1;
}

// Runs stage s on x into buf: the top `rows` rows of its output (nn.h's
// top rows only); y gets the whole map's shape.
static ft_status run_stage(ft_nn_ctx *ctx, const ft_ssd_net *net, int s, const ft_map *x,
                           int32_t rows, ft_map *y, float *buf)
{
    const ft_conv *first = s == 0 ? net->l0 : s > 3 ? net->dw[s + 2] : net->dw[2 * (s - 1)];
    const ft_conv *last = s == 0 ? net->l0 : s > 3 ? net->pw[s + 2] : net->pw[2 * s - 1];
    int32_t oh, ow;
    ft_status st = ft_conv_out_shape(first, x->h, x->w, &oh, &ow);
    if (st == FT_OK && s >= 1 && s <= 3)
        st = ft_conv_out_shape(net->dw[2 * s - 1], oh, ow, &oh, &ow);
    if (st != FT_OK)
        return st;
    ft_map top = {rows, ow, ft_conv_get_desc(last)->c_out, buf};
    if (s == 0)
        st = ft_conv_forward(ctx, net->l0, x, &top);
    else if (s > 3)
        st = ft_sepconv_forward(ctx, net->dw[s + 2], net->pw[s + 2], x, &top);
    else // pairs 0-5 (256² to 32² maps) as three chains: the maps between are never stored
        st = ft_sepconv2_forward(ctx, net->dw[2 * (s - 1)], net->pw[2 * (s - 1)],
                                 net->dw[2 * s - 1], net->pw[2 * s - 1], x, &top);
    *y = (ft_map){oh, ow, top.c, buf};
    return st;
}

// What stage s computes for one photo (see "The padding rows").
typedef struct stage_plan {
    int32_t h;     // output rows (the full map)
    int32_t reach; // output rows the photo reaches; the rest equal the padding's
    int32_t exact; // output rows computed; rows [exact, h) come from the store
    int32_t from;  // the store's first row when planned
    int32_t need;  // input rows the computed rows read
} stage_plan;

static void plan_stage(const ft_ssd_padrows *pr, int s, int32_t h_in, int32_t reach_in,
                       stage_plan *p)
{
    int32_t strides[2];
    int n = stage_strides(s, strides);
    int32_t h = h_in, reach = reach_in;
    for (int k = 0; k < n; k++) {
        h = strides[k] == 1 ? h : (h + 1) / 2;
        reach = strides[k] == 1 ? reach + 1 : (reach + 1) / 2;
        if (reach > h)
            reach = h;
    }
    p->h = h;
    p->reach = reach;
    p->from = __atomic_load_n(&pr->from[s], __ATOMIC_ACQUIRE);
    p->exact = reach > p->from ? reach : p->from;
    if (p->exact > h)
        p->exact = h;
    // The input rows that output rows [0, exact) read: a 3x3 SAME layer
    // reads one row past its last output row at stride 1 (top padding 1)
    // and two at stride 2 (top padding 0 on these even sizes).
    int32_t r = p->exact;
    for (int k = n - 1; k >= 0; k--)
        r = strides[k] == 1 ? r + 1 : 2 * r + 1;
    p->need = r < h_in ? r : h_in;
}

// Runs stage s for rows [0, p->exact) of its output; y receives rows
// [0, keep) of the output map, the computed ones and then the stored ones.
static ft_status run_stage_padded(ft_nn_ctx *ctx, const ft_ssd_net *net, int s,
                                  const stage_plan *p, int32_t keep, const ft_map *x, ft_map *y,
                                  float *buf)
{
    ft_ssd_padrows *pr = net->pad;
    ft_status st = run_stage(ctx, net, s, x, p->exact, y, buf);
    if (st != FT_OK)
        return st;
    int32_t h = p->h, half = h / 2, exact = p->exact;
    size_t row = (size_t)y->w * (size_t)y->c;
    // The stored rows, as far as the next stage reads.
    if (keep > h)
        keep = h;
    if (exact < keep)
        memcpy(y->d + (size_t)exact * row, pr->rows[s] + (size_t)(exact - half) * row,
               sizeof(float) * (size_t)(keep - exact) * row);
    // Rows [reach, exact) were computed and hold the padding's values: keep
    // those the store does not have yet.
    int32_t lo = p->reach > half ? p->reach : half;
    if (lo < exact && lo < p->from) {
        pthread_mutex_lock(&pr->mu);
        int32_t cur = __atomic_load_n(&pr->from[s], __ATOMIC_RELAXED);
        if (cur > h)
            cur = h;
        if (lo < cur && !pr->rows[s])
            pr->rows[s] = ft_malloc(sizeof(float) * (size_t)(h - half) * row);
        if (lo < cur && pr->rows[s]) { // no memory: no store, still correct
            memcpy(pr->rows[s] + (size_t)(lo - half) * row, y->d + (size_t)lo * row,
                   sizeof(float) * (size_t)(cur - lo) * row);
            __atomic_store_n(&pr->from[s], lo, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&pr->mu);
    }
    return FT_OK;
}

// Leading rows of the prepared input that are not wholly padding (-1, a
// black pixel after the SSD's normalisation).
static int32_t input_reach(const float *in)
{
    size_t row = (size_t)SSD_SIZE * 3;
    for (int32_t r = SSD_SIZE; r > 0; r--) {
        const float *p = in + (size_t)(r - 1) * row;
        for (size_t i = 0; i < row; i++)
            if (p[i] != -1.0f)
                return r;
    }
    return 0;
}

static ft_status ssd_forward(const ft_ssd_net *net, ft_nn_ctx *ctx, const ft_image *im,
                             float *scores, float *codes, ft_detect_timing *t)
{
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    size_t need = (SSD_SIZE * SSD_SIZE * 3 + 2 * SSD_MAX_MAP + 32 * 32 * 3 * 7) * sizeof(float) +
                  8 * FT_ALIGN * 4;
    ft_status st = ft_arena_reserve(ar, need);
    if (st != FT_OK)
        return st;
    float *in = ft_arena_floats(ar, SSD_SIZE * SSD_SIZE * 3);
    float *buf[2] = {ft_arena_floats(ar, SSD_MAX_MAP), ft_arena_floats(ar, SSD_MAX_MAP)};
    float *tmp = ft_arena_floats(ar, 32 * 32 * 3 * 7);
    FT_ASSERT(in && buf[0] && buf[1] && tmp);

    double t0 = ft_now_ms();
    ft_face__prepare(im, 0, 0, im->w, im->h, FT_PADMODE_BOTTOM_RIGHT, FT_NORM_SSD, SSD_SIZE, in);
    double t1 = ft_now_ms();

    ft_map x = {SSD_SIZE, SSD_SIZE, 3, in}, y;
    stage_plan plan[SSD_STAGES];
    for (int s = 0, h = SSD_SIZE, reach = input_reach(in); s < SSD_STAGES; s++) {
        plan_stage(net->pad, s, h, reach, &plan[s]);
        h = plan[s].h;
        reach = plan[s].reach;
    }
    for (int s = 0; s < SSD_STAGES; s++) {
        // Stages 8 and 10 feed the heads, which read every row.
        int32_t keep = s == 8 || s == SSD_STAGES - 1 ? plan[s].h : plan[s + 1].need;
        if ((st = run_stage_padded(ctx, net, s, &plan[s], keep, &x, &y, buf[s & 1])) != FT_OK)
            return st;
        if (s == 8 && (st = run_head(ctx, net, 0, &y, tmp, scores, codes)) != FT_OK)
            return st;
        x = y;
    }
    if ((st = run_head(ctx, net, 1, &y, tmp, scores, codes)) != FT_OK)
        return st;
    int cur = 0; // y is in buf[0] after stage 10
    for (int i = 0; i < 8; i++) {
        x = y;
        cur ^= 1;
        if ((st = ft_face__run_conv(ctx, net->extra[i], &x, &y, buf[cur])) != FT_OK)
            return st;
        if (i % 2 == 1 && (st = run_head(ctx, net, 2 + i / 2, &y, tmp, scores, codes)) != FT_OK)
            return st;
    }
    if (t) {
        t->preprocess_ms = t1 - t0;
        t->network_ms = ft_now_ms() - t1;
    }
    return FT_OK;
}

// ---- Decoding and NMS (§5.3, §5.4) ----

typedef struct cand {
    float score;
    int32_t idx;
    float ymin, xmin, ymax, xmax;
} cand;

static void decode_box(const float *anchor, const float *code, cand *c)
{
    // Each step is a float32 operation, as in tfjs.
    float ha = anchor[2] - anchor[0], wa = anchor[3] - anchor[1];
    float cya = anchor[0] + ha / 2.0f, cxa = anchor[1] + wa / 2.0f;
    float cy = code[0] / 10.0f * ha + cya;
    float cx = code[1] / 10.0f * wa + cxa;
    float hh = (float)exp((double)(code[2] / 5.0f)) * ha / 2.0f;
    float hw = (float)exp((double)(code[3] / 5.0f)) * wa / 2.0f;
    c->ymin = cy - hh;
    c->xmin = cx - hw;
    c->ymax = cy + hh;
    c->xmax = cx + hw;
}

static double iou(const cand *a, const cand *b)
{
    double ay0 = fmin(a->ymin, a->ymax), ay1 = fmax(a->ymin, a->ymax);
    double ax0 = fmin(a->xmin, a->xmax), ax1 = fmax(a->xmin, a->xmax);
    double by0 = fmin(b->ymin, b->ymax), by1 = fmax(b->ymin, b->ymax);
    double bx0 = fmin(b->xmin, b->xmax), bx1 = fmax(b->xmin, b->xmax);
    double area_a = (ay1 - ay0) * (ax1 - ax0), area_b = (by1 - by0) * (bx1 - bx0);
    if (area_a <= 0 || area_b <= 0)
        return 0.0;
    double iy = fmax(0.0, fmin(ay1, by1) - fmax(ay0, by0));
    double ix = fmax(0.0, fmin(ax1, bx1) - fmax(ax0, bx0));
    double inter = iy * ix;
    return inter / (area_a + area_b - inter);
}

// Descending score, ties in anchor order (a stable sort).
static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->idx - b->idx;
}

ft_status ft_ssd_raw(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im, float *scores,
                     float *codes, ft_err *err)
{
    if (!m->has_ssd)
        return ft_err_set(err, FT_E_INVALID, "the SSD model is not loaded");
    ft_status st = ssd_forward(&m->ssd, ctx, im, scores, codes, NULL);
    if (st != FT_OK)
        return ft_err_set(err, st, "SSD network: %s", ft_status_str(st));
    return FT_OK;
}

const float *ft_ssd_anchors(const ft_face_models *m)
{
    return m->has_ssd ? m->ssd.anchors : NULL;
}

ft_status ft_face__ssd_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                              const ft_detect_opts *o, ft_face_box *out, size_t cap,
                              size_t *n_out, ft_detect_timing *t, ft_err *err);

ft_status ft_face__ssd_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                              const ft_detect_opts *o, ft_face_box *out, size_t cap,
                              size_t *n_out, ft_detect_timing *t, ft_err *err)
{
    float *scores = ft_malloc(sizeof(float) * FT_SSD_ANCHORS * 5);
    cand *cands = ft_malloc(sizeof(cand) * FT_SSD_ANCHORS);
    int32_t *kept = ft_malloc(sizeof(int32_t) * FT_SSD_ANCHORS);
    ft_status st = FT_OK;
    if (!scores || !cands || !kept) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    float *codes = scores + FT_SSD_ANCHORS;
    st = ssd_forward(&m->ssd, ctx, im, scores, codes, t);
    if (st != FT_OK) {
        ft_err_set(err, st, "SSD network: %s", ft_status_str(st));
        goto done;
    }
    double t0 = ft_now_ms();
    size_t n = 0;
    for (int32_t j = 0; j < FT_SSD_ANCHORS; j++) {
        if (!(scores[j] > o->min_score))
            continue;
        cands[n].score = scores[j];
        cands[n].idx = j;
        decode_box(m->ssd.anchors + (size_t)j * 4, codes + (size_t)j * 4, &cands[n]);
        n++;
    }
    qsort(cands, n, sizeof *cands, cand_cmp);
    size_t n_kept = 0;
    size_t max_keep = o->max_faces > 0 ? (size_t)o->max_faces : SIZE_MAX;
    for (size_t i = 0; i < n && n_kept < max_keep; i++) {
        bool ok = true;
        for (size_t k = 0; k < n_kept && ok; k++)
            ok = iou(&cands[i], &cands[kept[k]]) <= 0.5;
        if (ok)
            kept[n_kept++] = (int32_t)i;
    }
    // Map to the image (§5.4): the clip is to the padded square.
    double scale = (double)SSD_SIZE / (double)(im->w > im->h ? im->w : im->h);
    double rw = ft_face__js_round(im->w * scale), rh = ft_face__js_round(im->h * scale);
    double pad_x = SSD_SIZE / rw, pad_y = SSD_SIZE / rh;
    for (size_t k = 0; k < n_kept && k < cap; k++) {
        const cand *c = &cands[kept[k]];
        double top = fmax(0.0, c->ymin) * pad_y, bottom = fmin(1.0, c->ymax) * pad_y;
        double left = fmax(0.0, c->xmin) * pad_x, right = fmin(1.0, c->xmax) * pad_x;
        out[k].x = left * im->w;
        out[k].y = top * im->h;
        out[k].w = (right - left) * im->w;
        out[k].h = (bottom - top) * im->h;
        out[k].score = c->score;
    }
    *n_out = n_kept;
    if (t)
        t->postprocess_ms = ft_now_ms() - t0;
done:
    ft_free(scores);
    ft_free(cands);
    ft_free(kept);
    return st;
}
