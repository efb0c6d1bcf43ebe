// Conformance of YuNet-s in our engine with OpenCV 4.6's cv2.dnn running
// the same ONNX file. Goldens: tests/golden/yunet/<frame>.txt, made by
// tools/gen_yunet_goldens.py (see tests/golden/README.md). Each case
// decodes the photo (its RGB must hash as in the golden: the same pixels
// went into both), cuts the frame the same way, then checks
//  - raw outputs: every value of the sampled cells, and the sum and sum of
//    |x| of each output over all cells;
//  - detections at score > 0.3: the same faces, boxes, scores, keypoints.
#include "core/mem.h"
#include "core/sha256.h"
#include "face/face.h"
#include "ft_test.h"

#include <stdio.h>

// The same pixels go into both (see frame_of), so what differs is float32
// arithmetic: both sides sum the same products in different orders
// (OpenCV's im2col/GEMM blocking vs our kernels, FMA vs separate multiply
// and add) through 20 layers deep, and each rounding differs by up to half
// an ulp of activations of up to ~1e2. Measured on all nine frames: max
// 9.8e-6 (kps), 4.1e-6 (bbox), 1.1e-6 (cls, obj). 1e-4 keeps a 10x
// margin and still catches any wrong layer, padding or layout (those
// move values by 1e-2 and more).
#define TOL_RAW 1e-4
// Sums over up to 384,000 values of those errors, mostly of random sign:
// measured at most 4 % of 1e-6 relative + 0.05 absolute.
#define TOL_SUM_REL 1e-6
#define TOL_SUM_ABS 0.05
// Final boxes and keypoints: raw error x stride (<= 32) x exp(b) (<= ~10):
// measured max 2.5e-4 px; 5e-3 px.
#define TOL_PX 5e-3
// Scores sqrt(cls * obj): measured max 3.3e-7; 1e-5.
#define TOL_SCORE 1e-5

static ft_face_models *models;
static ft_nn_ctx *ctx;

typedef struct cell {
    int stride, idx;
    float v[16];
} cell;

typedef struct face {
    double b[4], score, kp[10];
} face;

typedef struct golden {
    char photo[64];
    int pw, ph;
    char sha[65];
    int half, cx, cy, cw, ch;
    int in_w, in_h;
    char sum_name[12][16];
    long sum_n[12];
    double sum[12], sum_abs[12];
    size_t n_cells, n_faces;
    cell *cells;
    face *faces;
} golden;

static void golden_free(golden *g)
{
    ft_free(g->cells);
    ft_free(g->faces);
}

static bool golden_read(const char *name, golden *g)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/golden/yunet/%s.txt", ft_test_srcdir(), name);
    FILE *f = fopen(p, "r");
    memset(g, 0, sizeof *g);
    if (!f) {
        fprintf(stderr, "cannot open %s\n", p);
        return false;
    }
    char line[4096];
    bool ok = fgets(line, sizeof line, f) && strcmp(line, "# facetracker-golden/yunet 1\n") == 0;
    int n_sum = 0;
    size_t kc = 0, kf = 0;
    while (ok && fgets(line, sizeof line, f)) {
        size_t n;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "photo %63s %d %d %64s", g->photo, &g->pw, &g->ph, g->sha) == 4)
            continue;
        if (sscanf(line, "frame %d %d %d %d %d", &g->half, &g->cx, &g->cy, &g->cw, &g->ch) == 5)
            continue;
        if (sscanf(line, "input %d %d", &g->in_w, &g->in_h) == 2)
            continue;
        if (n_sum < 12 && sscanf(line, "sum %15s %ld %lf %lf", g->sum_name[n_sum],
                                 &g->sum_n[n_sum], &g->sum[n_sum], &g->sum_abs[n_sum]) == 4) {
            n_sum++;
            continue;
        }
        if (sscanf(line, "cells %zu", &n) == 1) {
            g->n_cells = n;
            g->cells = ft_calloc(n + 1, sizeof *g->cells);
            ok = g->cells != NULL;
            continue;
        }
        if (sscanf(line, "faces %zu", &n) == 1) {
            g->n_faces = n;
            g->faces = ft_calloc(n + 1, sizeof *g->faces);
            ok = g->faces != NULL;
            continue;
        }
        if (strncmp(line, "cell ", 5) == 0 && kc < g->n_cells) {
            cell *c = &g->cells[kc++];
            char *s = line + 5, *e;
            c->stride = (int)strtol(s, &e, 10);
            c->idx = (int)strtol(e, &e, 10);
            for (int i = 0; i < 16; i++)
                c->v[i] = strtof(e, &e);
            continue;
        }
        if (strncmp(line, "face ", 5) == 0 && kf < g->n_faces) {
            face *fc = &g->faces[kf++];
            char *e = line + 5;
            for (int i = 0; i < 4; i++)
                fc->b[i] = strtod(e, &e);
            fc->score = strtod(e, &e);
            for (int i = 0; i < 10; i++)
                fc->kp[i] = strtod(e, &e);
            continue;
        }
        ok = false;
    }
    fclose(f);
    ok = ok && n_sum == 12 && kc == g->n_cells && kf == g->n_faces && g->pw > 0;
    if (!ok) {
        fprintf(stderr, "%s: not a valid version 1 YuNet golden\n", p);
        golden_free(g);
    }
    return ok;
}

// The photo decoded by us (checked to be cv2.imread's pixels), then the
// frame: 2x2 box downscale with (a+b+c+d+2)>>2 and/or a crop.
static bool frame_of(const golden *g, ft_image *out)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/demo/%s", ft_test_assets(), g->photo);
    ft_image im = {0};
    ft_err err = {0};
    ft_image_limits lim = ft_image_limits_default();
    ft_status st = ft_image_load(p, &lim, &im, &err);
    FT_CHECK_OK(st, &err);
    if (st != FT_OK)
        return false;
    FT_CHECK_EQ(im.w, g->pw);
    FT_CHECK_EQ(im.h, g->ph);
    char sha[65];
    ft_sha256_hex(im.rgb, (size_t)im.w * im.h * 3, sha);
    FT_CHECK_STREQ(sha, g->sha);
    if (im.w != g->pw || im.h != g->ph) {
        ft_image_deinit(&im);
        return false;
    }
    ft_image src = im;
    uint8_t *half = NULL;
    if (g->half) {
        int32_t w = im.w / 2, h = im.h / 2;
        half = ft_malloc((size_t)w * h * 3);
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    const uint8_t *a = im.rgb + ((size_t)(2 * y) * im.w + 2 * x) * 3 + c;
                    const uint8_t *b = a + (size_t)im.w * 3;
                    half[((size_t)y * w + x) * 3 + c] = (uint8_t)((a[0] + a[3] + b[0] + b[3] + 2) >> 2);
                }
        src = (ft_image){w, h, half};
    }
    out->w = g->cw;
    out->h = g->ch;
    out->rgb = ft_malloc((size_t)g->cw * g->ch * 3);
    for (int32_t y = 0; y < g->ch; y++)
        memcpy(out->rgb + (size_t)y * g->cw * 3,
               src.rgb + ((size_t)(y + g->cy) * src.w + g->cx) * 3, (size_t)g->cw * 3);
    ft_free(half);
    ft_image_deinit(&im);
    return true;
}

static bool setup(void)
{
    if (models)
        return true;
    ft_err err = {0};
    ft_models_opts o = {0};
    o.yunet = true;
    FT_CHECK_OK(ft_face_models_load(&o, &models, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
    return models && ctx;
}

static const char *const head_names[4] = {"cls", "obj", "bbox", "kps"};
static const int head_w[4] = {1, 1, 4, 10};

static void raw(const char *name)
{
    golden g;
    ft_image im = {0};
    if (!setup() || !golden_read(name, &g))
        return;
    if (!frame_of(&g, &im)) {
        golden_free(&g);
        return;
    }
    ft_yunet_raw r;
    ft_err err = {0};
    ft_status st = ft_yunet_run_raw(models, ctx, &im, &r, &err);
    FT_CHECK_OK(st, &err);
    if (st == FT_OK) {
        FT_CHECK_EQ(r.in_w, g.in_w);
        FT_CHECK_EQ(r.in_h, g.in_h);
        // Every value of the sampled cells.
        double max_d[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < g.n_cells; i++) {
            const cell *c = &g.cells[i];
            int k = c->stride == 8 ? 0 : c->stride == 16 ? 1 : 2;
            FT_CHECK((size_t)c->idx < r.n[k]);
            if ((size_t)c->idx >= r.n[k])
                continue;
            const float *ours[4] = {r.cls[k] + c->idx, r.obj[k] + c->idx,
                                    r.bbox[k] + 4 * (size_t)c->idx, r.kps[k] + 10 * (size_t)c->idx};
            int off = 0;
            for (int h = 0; h < 4; h++)
                for (int j = 0; j < head_w[h]; j++, off++)
                    max_d[h] = fmax(max_d[h], fabs((double)ours[h][j] - c->v[off]));
        }
        // Sums over every value of every output.
        double worst_sum = 0;
        for (int s = 0; s < 12; s++) {
            int h = s / 3, k = s % 3;
            const float *d = h == 0 ? r.cls[k] : h == 1 ? r.obj[k] : h == 2 ? r.bbox[k] : r.kps[k];
            size_t n = r.n[k] * (size_t)head_w[h];
            FT_CHECK_EQ((long)n, g.sum_n[s]);
            double sum = 0, sa = 0;
            for (size_t i = 0; i < n; i++) {
                sum += d[i];
                sa += fabs(d[i]);
            }
            double tol = TOL_SUM_ABS + TOL_SUM_REL * g.sum_abs[s];
            worst_sum = fmax(worst_sum, fabs(sum - g.sum[s]) / tol);
            FT_CHECK_NEAR(sum, g.sum[s], tol);
            FT_CHECK_NEAR(sa, g.sum_abs[s], tol);
        }
        fprintf(stderr,
                "%s: %zu cells, max |ours - cv2.dnn|: cls %.3g, obj %.3g, bbox %.3g, kps %.3g; "
                "worst sum deviation %.3g of its tolerance\n",
                name, g.n_cells, max_d[0], max_d[1], max_d[2], max_d[3], worst_sum);
        for (int h = 0; h < 4; h++) {
            (void)head_names[h];
            FT_CHECK_NEAR(max_d[h], 0, TOL_RAW);
        }
    }
    ft_image_deinit(&im);
    golden_free(&g);
}

static void faces(const char *name)
{
    golden g;
    ft_image im = {0};
    if (!setup() || !golden_read(name, &g))
        return;
    if (!frame_of(&g, &im)) {
        golden_free(&g);
        return;
    }
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = FT_DETECTOR_YUNET;
    o.min_score = 0.3;
    o.single_scale = true; // cv2.dnn's one run at the frame's own size
    ft_face_box boxes[64];
    ft_face_kps kps[64];
    size_t n = 0;
    ft_err err = {0};
    ft_status st = ft_detect_kps(models, ctx, &im, &o, boxes, kps, 64, &n, NULL, &err);
    FT_CHECK_OK(st, &err);
    FT_CHECK_EQ(n, g.n_faces);
    double max_px = 0, max_sc = 0;
    for (size_t i = 0; st == FT_OK && i < n && i < g.n_faces; i++) {
        const face *f = &g.faces[i];
        const double b[4] = {boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h};
        for (int j = 0; j < 4; j++)
            max_px = fmax(max_px, fabs(b[j] - f->b[j]));
        FT_CHECK_EQ(kps[i].n, FT_KEYPOINTS);
        for (int j = 0; j < FT_KEYPOINTS; j++) {
            max_px = fmax(max_px, fabs(kps[i].p[j].x - f->kp[2 * j]));
            max_px = fmax(max_px, fabs(kps[i].p[j].y - f->kp[2 * j + 1]));
        }
        max_sc = fmax(max_sc, fabs(boxes[i].score - f->score));
    }
    fprintf(stderr, "%s: %zu faces (cv2.dnn %zu), max box/keypoint diff %.3g px, score %.3g\n",
            name, n, g.n_faces, max_px, max_sc);
    FT_CHECK_NEAR(max_px, 0, TOL_PX);
    FT_CHECK_NEAR(max_sc, 0, TOL_SCORE);
    ft_image_deinit(&im);
    golden_free(&g);
}

// A photo over the 8.5 MP limit is reduced by an integer factor (box
// average) first: sample1 blown up 2x by pixel repetition (9.8 MP) reduces
// to exactly sample1's pixels, so the faces must be sample1's golden
// faces, doubled.
static void reduced(void)
{
    golden g;
    ft_image im = {0};
    if (!setup() || !golden_read("sample1", &g))
        return;
    if (!frame_of(&g, &im)) {
        golden_free(&g);
        return;
    }
    ft_image big = {im.w * 2, im.h * 2, ft_malloc((size_t)im.w * im.h * 12)};
    for (int32_t y = 0; y < big.h; y++)
        for (int32_t x = 0; x < big.w; x++)
            memcpy(big.rgb + ((size_t)y * big.w + x) * 3,
                   im.rgb + ((size_t)(y / 2) * im.w + x / 2) * 3, 3);
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = FT_DETECTOR_YUNET;
    o.min_score = 0.3;
    o.single_scale = true; // cv2.dnn's one run at the frame's own size
    ft_face_box boxes[64];
    ft_face_kps kps[64];
    size_t n = 0;
    ft_err err = {0};
    FT_CHECK_OK(ft_detect_kps(models, ctx, &big, &o, boxes, kps, 64, &n, NULL, &err), &err);
    FT_CHECK_EQ(n, g.n_faces);
    double max_px = 0;
    for (size_t i = 0; i < n && i < g.n_faces; i++) {
        const double b[4] = {boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h};
        for (int j = 0; j < 4; j++)
            max_px = fmax(max_px, fabs(b[j] - 2 * g.faces[i].b[j]));
        for (int j = 0; j < FT_KEYPOINTS; j++)
            max_px = fmax(max_px, fabs(kps[i].p[j].x - 2 * g.faces[i].kp[2 * j]));
        FT_CHECK_NEAR(boxes[i].score, g.faces[i].score, TOL_SCORE);
    }
    fprintf(stderr, "reduced: %zu faces, max diff %.3g px (of the doubled golden)\n", n, max_px);
    // Twice the full-size tolerance: coordinates are doubled.
    FT_CHECK_NEAR(max_px, 0, 2 * TOL_PX);
    ft_free(big.rgb);
    ft_image_deinit(&im);
    golden_free(&g);
}

static double iou4(const double a[4], const double b[4])
{
    double ix = fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]);
    double iy = fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]);
    if (ix <= 0 || iy <= 0)
        return 0;
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy);
}

// A face too large for the run at the photo's own size: a 300 x 300 crop of
// sample1 around its first golden face, blown up 6x by pixel repetition
// (1800 x 1800, the face about 1050 x 1430 px). The reference is cv2.dnn's
// box for that face in the golden, mapped the same way (x 6, shifted);
// cv2.dnn on the photo itself, not our output. The default detection (with
// the run reduced to 640 px) must find it as the one face above 0.5; IoU
// >= 0.7 with the reference, as the two runs see the face at different
// scales (measured 0.86). The run at full size alone (single_scale, what
// cv2.dnn would do on this photo) finds one fragment instead (0.61, IoU
// 0.21 with the reference); printed for the record.
static void coarse(void)
{
    golden g;
    ft_image im = {0};
    if (!setup() || !golden_read("sample1", &g))
        return;
    if (!frame_of(&g, &im)) {
        golden_free(&g);
        return;
    }
    const int32_t x0 = 340, y0 = 280, side = 300, k = 6;
    ft_image big = {side * k, side * k, ft_malloc((size_t)side * side * k * k * 3)};
    for (int32_t y = 0; y < big.h; y++)
        for (int32_t x = 0; x < big.w; x++)
            memcpy(big.rgb + ((size_t)y * big.w + x) * 3,
                   im.rgb + ((size_t)(y0 + y / k) * im.w + x0 + x / k) * 3, 3);
    const double ref[4] = {(g.faces[0].b[0] - x0) * k, (g.faces[0].b[1] - y0) * k,
                           g.faces[0].b[2] * k, g.faces[0].b[3] * k};
    ft_face_box boxes[64];
    size_t n = 0;
    ft_err err = {0};
    for (int single = 1; single >= 0; single--) {
        ft_detect_opts o = ft_detect_opts_default();
        o.kind = FT_DETECTOR_YUNET;
        o.single_scale = single;
        FT_CHECK_OK(ft_detect(models, ctx, &big, &o, boxes, 64, &n, NULL, &err), &err);
        fprintf(stderr, "coarse (%s):", single ? "full size only" : "default");
        for (size_t i = 0; i < n; i++) {
            const double b[4] = {boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h};
            fprintf(stderr, " [%.0f %.0f %.0f %.0f] %.2f IoU %.2f;", b[0], b[1], b[2], b[3],
                    boxes[i].score, iou4(b, ref));
        }
        fprintf(stderr, "\n");
    }
    FT_CHECK_EQ(n, 1);
    if (n == 1) {
        const double b[4] = {boxes[0].x, boxes[0].y, boxes[0].w, boxes[0].h};
        FT_CHECK(iou4(b, ref) >= 0.7);
    }
    ft_free(big.rgb);
    ft_image_deinit(&im);
    golden_free(&g);
}

// ft_landmark_box: the SSD's and the tiny detector's boxes go to the
// landmark net as they are (face-api's pipeline, bit for bit); a YuNet box
// goes through the linear map documented in src/face/yunet.c (fitted on the
// development detection sets: x + 0.0221 w, y - 0.0751 h, 0.9620 w,
// 1.1273 h). Checked on one box, to 1e-9 px (double arithmetic on values
// of ~100: rounding is ~1e-14).
static void landmark_box(void)
{
    ft_face_box b = {10, 20, 100, 120, 0.9};
    ft_face_box s = ft_landmark_box(FT_DETECTOR_SSD, &b), t = ft_landmark_box(FT_DETECTOR_TINY, &b);
    FT_CHECK(memcmp(&s, &b, sizeof b) == 0 && memcmp(&t, &b, sizeof b) == 0);
    ft_face_box y = ft_landmark_box(FT_DETECTOR_YUNET, &b);
    FT_CHECK_NEAR(y.x, 10 + 2.21, 1e-9);
    FT_CHECK_NEAR(y.y, 20 - 9.012, 1e-9);
    FT_CHECK_NEAR(y.w, 96.2, 1e-9);
    FT_CHECK_NEAR(y.h, 135.276, 1e-9);
    FT_CHECK_NEAR(y.score, 0.9, 0);
}

#define FRAME_CASES(n)                                                                             \
    static void raw_##n(void) { raw(#n); }                                                         \
    static void faces_##n(void) { faces(#n); }
FRAME_CASES(sample1)
FRAME_CASES(sample2)
FRAME_CASES(sample3)
FRAME_CASES(sample4)
FRAME_CASES(sample5)
FRAME_CASES(sample6)
FRAME_CASES(frame320x240)
FRAME_CASES(frame640x480)
FRAME_CASES(frame333x257)

#define FRAME_ENTRIES(n) {"raw_" #n, raw_##n}, {"faces_" #n, faces_##n},
static const ft_test_case cases[] = {
    FRAME_ENTRIES(sample1) FRAME_ENTRIES(sample2) FRAME_ENTRIES(sample3) FRAME_ENTRIES(sample4)
        FRAME_ENTRIES(sample5) FRAME_ENTRIES(sample6) FRAME_ENTRIES(frame320x240)
            FRAME_ENTRIES(frame640x480) FRAME_ENTRIES(frame333x257){"reduced", reduced}, {"coarse", coarse}, {"landmark_box", landmark_box}};
FT_TEST_MAIN(cases)
