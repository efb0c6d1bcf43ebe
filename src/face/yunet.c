// YuNet-s face detector (Wu, Peng, Yu 2023; weights in models/yunet, see
// its NOTICE): the ONNX graph run by the engine (model/onnx.h) at the
// image's own size padded to multiples of 32, then decoded as the README
// beside the weights specifies:
//   input: 1 x 3 x H x W, BGR, 0..255, zeros padded at the bottom/right;
//   for stride s in {8, 16, 32} and cell i (row r = i / (W/s), column
//   c = i % (W/s)): score = sqrt(clip(cls, 0, 1) * clip(obj, 0, 1)),
//   box centre ((c + b0) s, (r + b1) s), size (exp(b2) s, exp(b3) s),
//   keypoint k at ((c + k[2k]) s, (r + k[2k+1]) s);
//   then NMS over all strides (IoU > 0.3 suppresses, as OpenCV's default).
// Photos over YUNET_MAX_PIXELS are first reduced by an integer factor k
// (k x k box average) so memory stays bounded; boxes are scaled back by k.
#include "face/face_internal.h"

#include "core/clock.h"
#include "core/mem.h"
#include "model/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YUNET_NMS_IOU 0.3
// 3840 x 2160 and a little more run at full size; a 50 MP photo at 1/3.
#define YUNET_MAX_PIXELS 8500000.0
// Photos with a longer side over this also run reduced to it (see
// ft_face__yunet_detect).
#define YUNET_COARSE_SIDE 640
#define YUNET_FINE_MAX_SIDE 320.0

// The integer reduction factor for a w x h photo (1 = none).
static int32_t reduction(const ft_image *im)
{
    double px = (double)im->w * im->h;
    int32_t k = 1;
    while (px / ((double)k * k) > YUNET_MAX_PIXELS)
        k++;
    return k;
}

static const int strides[3] = {8, 16, 32};
static const char *const heads[4] = {"cls", "obj", "bbox", "kps"};
static const int head_width[4] = {1, 1, 4, 10};

struct ft_yunet {
    ft_onnx_net *net;
    int out[4][3]; // output index of head h at stride index k
};

void ft_face__yunet_free(ft_yunet *y)
{
    if (!y)
        return;
    ft_onnx_net_free(y->net);
    ft_free(y);
}

ft_status ft_face__yunet_load(const char *path, ft_yunet **out, ft_err *err)
{
    ft_onnx *m = NULL;
    ft_yunet *y = NULL;
    char sha[65];
    ft_onnx_limits lim = ft_onnx_limits_default();
    lim.max_bytes = 16 << 20; // the file is 232,589 bytes
    ft_status st = ft_onnx_load(path, &lim, &m, sha, err);

    *out = NULL;
    if (st != FT_OK) {
        ft_err_prefix(err, "YuNet: ");
        goto done;
    }
    if (strcmp(sha, FT_YUNET_SHA256) != 0) {
        st = ft_err_set(err, FT_E_FORMAT,
                        "YuNet: %s: SHA-256 %s, expected %s (not the YuNet-s file facetracker "
                        "ships in models/yunet)",
                        path, sha, FT_YUNET_SHA256);
        goto done;
    }
    y = ft_calloc(1, sizeof *y);
    if (!y) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    if ((st = ft_onnx_net_new(m, &y->net, err)) != FT_OK) {
        ft_err_prefix(err, "YuNet: %s: ", path);
        goto done;
    }
    for (int h = 0; h < 4; h++)
        for (int k = 0; k < 3; k++) {
            char name[16];
            snprintf(name, sizeof name, "%s_%d", heads[h], strides[k]);
            y->out[h][k] = -1;
            for (size_t i = 0; i < ft_onnx_net_n_outputs(y->net); i++)
                if (strcmp(ft_onnx_net_output_name(y->net, i), name) == 0)
                    y->out[h][k] = (int)i;
            if (y->out[h][k] < 0) {
                st = ft_err_set(err, FT_E_FORMAT, "YuNet: %s: no output '%s'", path, name);
                goto done;
            }
        }
    if (ft_onnx_net_input_channels(y->net) != 3) {
        st = ft_err_set(err, FT_E_FORMAT, "YuNet: %s: the input is not 3 channels", path);
        goto done;
    }
    *out = y;
    y = NULL;
done:
    ft_face__yunet_free(y);
    ft_onnx_free(m);
    return st;
}

// Runs the net on `im` padded to multiples of 32; fills `r`.
static ft_status run(const ft_yunet *y, ft_nn_ctx *ctx, const ft_image *im, int32_t red,
                     ft_yunet_raw *r, double *t_pre, double *t_net, ft_err *err)
{
    double t0 = ft_now_ms();
    int32_t ih = (im->h + red - 1) / red, iw = (im->w + red - 1) / red; // what the net sees
    int32_t H = (ih + 31) / 32 * 32, W = (iw + 31) / 32 * 32;
    size_t plan;
    ft_status st = ft_onnx_net_plan(y->net, H, W, &plan, err);
    if (st != FT_OK)
        return st;
    size_t in_n = (size_t)H * W * 3;
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    if ((st = ft_arena_reserve(ar, in_n * sizeof(float) + 128 + plan)) != FT_OK)
        return ft_err_set(err, st, "YuNet: out of memory for a %dx%d input", (int)W, (int)H);
    float *in = ft_arena_floats(ar, in_n);
    if (!in)
        return ft_err_set(err, FT_E_NOMEM, "YuNet: arena");
    // BGR, 0..255, zero padding at the bottom and right.
    for (int32_t yy = 0; yy < H; yy++) {
        float *o = in + (size_t)yy * W * 3;
        if (yy >= ih) {
            memset(o, 0, (size_t)W * 3 * sizeof(float));
            continue;
        }
        if (red == 1) {
            const uint8_t *p = im->rgb + (size_t)yy * im->w * 3;
            for (int32_t x = 0; x < im->w; x++) {
                o[3 * x + 0] = p[3 * x + 2];
                o[3 * x + 1] = p[3 * x + 1];
                o[3 * x + 2] = p[3 * x + 0];
            }
        } else {
            // Mean of the k x k block (fewer at the right and bottom edges).
            int32_t y0 = yy * red, y1 = y0 + red < im->h ? y0 + red : im->h;
            for (int32_t x = 0; x < iw; x++) {
                int32_t x0 = x * red, x1 = x0 + red < im->w ? x0 + red : im->w;
                uint32_t acc[3] = {0, 0, 0};
                for (int32_t sy = y0; sy < y1; sy++) {
                    const uint8_t *p = im->rgb + ((size_t)sy * im->w + x0) * 3;
                    for (int32_t sx = x0; sx < x1; sx++, p += 3) {
                        acc[0] += p[0];
                        acc[1] += p[1];
                        acc[2] += p[2];
                    }
                }
                float nn = (float)((y1 - y0) * (x1 - x0));
                o[3 * x + 0] = (float)acc[2] / nn;
                o[3 * x + 1] = (float)acc[1] / nn;
                o[3 * x + 2] = (float)acc[0] / nn;
            }
        }
        memset(o + (size_t)iw * 3, 0, (size_t)(W - iw) * 3 * sizeof(float));
    }
    double t1 = ft_now_ms();
    ft_map x = {H, W, 3, in};
    ft_onnx_out outs[16];
    size_t n_out = ft_onnx_net_n_outputs(y->net);
    if (n_out > 16)
        n_out = 16;
    if ((st = ft_onnx_net_run(y->net, ctx, &x, outs, n_out, err)) != FT_OK)
        return st;
    r->in_h = H;
    r->in_w = W;
    for (int k = 0; k < 3; k++) {
        size_t n = (size_t)(H / strides[k]) * (size_t)(W / strides[k]);
        r->n[k] = n;
        const float **dst[4] = {&r->cls[k], &r->obj[k], &r->bbox[k], &r->kps[k]};
        for (int h = 0; h < 4; h++) {
            const ft_onnx_out *o = &outs[y->out[h][k]];
            if (o->n != n * (size_t)head_width[h])
                return ft_err_set(err, FT_E_FORMAT,
                                  "YuNet: output %s_%d has %zu values, expected %zu", heads[h],
                                  strides[k], o->n, n * (size_t)head_width[h]);
            *dst[h] = o->d;
        }
    }
    if (t_pre)
        *t_pre += t1 - t0;
    if (t_net)
        *t_net += ft_now_ms() - t1;
    return FT_OK;
}

ft_status ft_yunet_run_raw(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                           ft_yunet_raw *out, ft_err *err)
{
    if (!m->has_yunet)
        return ft_err_set(err, FT_E_INVALID, "the YuNet detector is not loaded");
    if (im->w <= 0 || im->h <= 0)
        return ft_err_set(err, FT_E_INVALID, "empty image");
    ft_arena_reset(ft_nn_ctx_arena(ctx));
    return run(m->yunet, ctx, im, reduction(im), out, NULL, NULL, err);
}

// ---- Decoding and NMS ----

typedef struct ycand {
    double x, y, w, h, score;
    ft_point kp[FT_KEYPOINTS];
    size_t order; // stride-major cell index: ties keep it
} ycand;

static int ycand_cmp(const void *a, const void *b)
{
    const ycand *p = a, *q = b;
    if (p->score != q->score)
        return p->score > q->score ? -1 : 1;
    return p->order < q->order ? -1 : p->order > q->order;
}

static double yiou(const ycand *a, const ycand *b)
{
    double ix = fmin(a->x + a->w, b->x + b->w) - fmax(a->x, b->x);
    double iy = fmin(a->y + a->h, b->y + b->h) - fmax(a->y, b->y);
    if (ix <= 0 || iy <= 0)
        return 0;
    double inter = ix * iy;
    double u = a->w * a->h + b->w * b->h - inter;
    return u > 0 ? inter / u : 0;
}

static double clip01(float v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

typedef struct ycands {
    ycand *c;
    size_t n, cap, order;
} ycands;

// Runs the net at reduction `red` and appends the candidates above
// `min_score` whose longer side is at most `max_side` pixels of the net's
// input, in the photo's pixels.
static ft_status collect(const ft_yunet *y, ft_nn_ctx *ctx, const ft_image *im, int32_t red,
                         double min_score, double max_side, ycands *cs, double *t_pre,
                         double *t_net, ft_err *err)
{
    ft_yunet_raw r;
    ft_arena_reset(ft_nn_ctx_arena(ctx));
    ft_status st = run(y, ctx, im, red, &r, t_pre, t_net, err);
    if (st != FT_OK)
        return st;
    size_t n = 0;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < r.n[k]; i++)
            n += sqrt(clip01(r.cls[k][i]) * clip01(r.obj[k][i])) > min_score;
    if (cs->n + n > cs->cap) {
        size_t cap = cs->n + n;
        ycand *c = ft_realloc(cs->c, cap * sizeof *c);
        if (!c)
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        cs->c = c;
        cs->cap = cap;
    }
    for (int k = 0; k < 3; k++) {
        int32_t cols = r.in_w / strides[k];
        double s = strides[k] * (double)red; // in the photo's pixels
        for (size_t i = 0; i < r.n[k]; i++, cs->order++) {
            double score = sqrt(clip01(r.cls[k][i]) * clip01(r.obj[k][i]));
            if (!(score > min_score))
                continue;
            double row = (double)(i / (size_t)cols), col = (double)(i % (size_t)cols);
            const float *b = r.bbox[k] + 4 * i, *kp = r.kps[k] + 10 * i;
            double bw = exp(b[2]) * strides[k], bh = exp(b[3]) * strides[k];
            if (bw > max_side || bh > max_side)
                continue;
            ycand *q = &cs->c[cs->n++];
            double cx = (col + b[0]) * s, cy = (row + b[1]) * s;
            q->w = bw * red;
            q->h = bh * red;
            q->x = cx - q->w / 2;
            q->y = cy - q->h / 2;
            q->score = score;
            q->order = cs->order;
            for (int j = 0; j < FT_KEYPOINTS; j++)
                q->kp[j] = (ft_point){(col + kp[2 * j]) * s, (row + kp[2 * j + 1]) * s};
        }
    }
    return FT_OK;
}

ft_status ft_face__yunet_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                                const ft_detect_opts *o, ft_face_box *out, ft_face_kps *kps,
                                size_t cap, size_t *n_out, ft_detect_timing *t, ft_err *err)
{
    double t_pre = 0, t_net = 0;
    ycands cs = {NULL, 0, 0, 0};
    // A face several hundred pixels tall in the net's input comes out as
    // weak fragments (boxes of 450-800 px scoring 0.3-0.7 around the 600-
    // 1000 px faces of recognition_compreface's 12-36 MP photos). A photo
    // whose longer side is over YUNET_COARSE_SIDE therefore also runs
    // reduced to at most that side; from the full-size run only boxes up to
    // YUNET_FINE_MAX_SIDE pixels (of the net's input) are kept, larger faces
    // come from the reduced run, and NMS merges the two.
    int32_t red = reduction(im);
    int32_t side = im->w > im->h ? im->w : im->h;
    int32_t red2 = (side + YUNET_COARSE_SIDE - 1) / YUNET_COARSE_SIDE;
    bool coarse = red2 > red && !o->single_scale;
    ft_status st = collect(m->yunet, ctx, im, red, o->min_score,
                           coarse ? YUNET_FINE_MAX_SIDE : INFINITY, &cs, &t_pre, &t_net, err);
    if (st == FT_OK && coarse)
        st = collect(m->yunet, ctx, im, red2, o->min_score, INFINITY, &cs, &t_pre, &t_net,
                     err);
    if (st != FT_OK) {
        ft_free(cs.c);
        return st;
    }
    double t2 = ft_now_ms();
    ycand *c = cs.c;
    size_t n = cs.n;
    if (n > 1) // c is NULL when no cell passed the threshold
        qsort(c, n, sizeof *c, ycand_cmp);
    size_t n_kept = 0;
    size_t max_keep = o->max_faces > 0 ? (size_t)o->max_faces : SIZE_MAX;
    for (size_t i = 0; i < n && n_kept < max_keep; i++) {
        bool ok = true;
        for (size_t k = 0; k < n_kept && ok; k++)
            ok = yiou(&c[i], &c[k]) <= YUNET_NMS_IOU;
        if (ok)
            c[n_kept++] = c[i];
    }
    for (size_t k = 0; k < n_kept && k < cap; k++) {
        out[k] = (ft_face_box){c[k].x, c[k].y, c[k].w, c[k].h, c[k].score};
        if (kps) {
            memcpy(kps[k].p, c[k].kp, sizeof kps[k].p);
            kps[k].n = FT_KEYPOINTS;
        }
    }
    *n_out = n_kept;
    ft_free(c);
    if (t) {
        t->preprocess_ms = t_pre;
        t->network_ms = t_net;
        t->postprocess_ms = ft_now_ms() - t2;
    }
    return FT_OK;
}

// ---- The box given to the 68-point landmark net ----

// face-api's 68-point net was trained on crops from SSD-style boxes, and
// YuNet's boxes are narrower and taller than the SSD's for the same face.
// A YuNet box is therefore mapped to the box the SSD would give before the
// landmark crop, one linear map per coordinate in units of the box:
//   x' = x + YUNET_LM_X w,  y' = y + YUNET_LM_Y h,  w' = YUNET_LM_W w,
//   h' = YUNET_LM_H h.
// Fitted (least squares on the size-normalised differences, i.e. the mean
// ratio) to the 195 pairs of SSD and YuNet detections (both scoring over
// 0.5, matched greedily at IoU >= 0.4) on the development detection sets
// detection_mitcmu (178) and detection_pascal_dlib (17); mean IoU between
// the pairs 0.784 before, 0.810 after. Measured effect on
// evaluate-recognition (docs/ACCURACY.md): pooled 95.96 -> 96.41 %.
#define YUNET_LM_X 0.0221
#define YUNET_LM_Y (-0.0751)
#define YUNET_LM_W 0.9620
#define YUNET_LM_H 1.1273

ft_face_box ft_landmark_box(ft_detector_kind kind, const ft_face_box *b)
{
    if (kind != FT_DETECTOR_YUNET)
        return *b;
    return (ft_face_box){b->x + YUNET_LM_X * b->w, b->y + YUNET_LM_Y * b->h, YUNET_LM_W * b->w,
                         YUNET_LM_H * b->h, b->score};
}
