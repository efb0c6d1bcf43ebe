// The ONNX reader (model/onnx.h) and its mapping onto the engine: parsing
// the shipped YuNet-s file, limits, truncation, allocation failure, tensor
// types, refusals that name the node, and small graphs run against
// OpenCV 4.6 cv2.dnn's outputs (tests/data/onnx, made by
// tests/fuzz/make_onnx_corpus.py).
#include "core/mem.h"
#include "face/face.h"
#include "ft_test.h"
#include "model/onnx.h"
#include "nn/nn_internal.h"

#include <stdio.h>
#include <string.h>

static char *path_of(const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", ft_test_srcdir(), rel);
    return buf;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static const char *yunet_path(char *buf, size_t cap)
{
    return path_of("../models/yunet/yunet_s_640_640.onnx", buf, cap);
}

static void yunet_parse(void)
{
    char p[4096];
    ft_onnx *m = NULL;
    ft_err err = {0};
    char sha[65];
    FT_CHECK_OK(ft_onnx_load(yunet_path(p, sizeof p), NULL, &m, sha, &err), &err);
    if (!m)
        return;
    FT_CHECK_STREQ(sha, FT_YUNET_SHA256);
    FT_CHECK_EQ(m->ir_version, 6);
    FT_CHECK_EQ(m->opset, 11);
    FT_CHECK_STREQ(m->producer, "pytorch");
    FT_CHECK_EQ(m->n_nodes, 106);
    FT_CHECK_EQ(m->n_tensors, 112);
    FT_CHECK_EQ(m->n_inputs, 1);
    FT_CHECK_EQ(m->n_outputs, 12);
    FT_CHECK_STREQ(m->inputs[0].name, "input");
    FT_CHECK_EQ(m->inputs[0].rank, 4);
    FT_CHECK_EQ(m->inputs[0].dims[1], 3);
    FT_CHECK_EQ(m->inputs[0].dims[3], 640);
    FT_CHECK_STREQ(m->outputs[0].name, "cls_8");
    FT_CHECK_EQ(m->outputs[0].dims[1], 6400);
    // The first conv: weights 16x3x3x3 from raw_data, attributes as ints.
    const ft_onnx_node *n0 = &m->nodes[0];
    FT_CHECK_STREQ(n0->op_type, "Conv");
    FT_CHECK_EQ(n0->n_inputs, 3);
    const ft_onnx_tensor *w = ft_onnx_initializer(m, n0->inputs[1]);
    FT_CHECK(w != NULL);
    if (w) {
        FT_CHECK_EQ(w->rank, 4);
        FT_CHECK_EQ(w->dims[0], 16);
        FT_CHECK_EQ(w->n_elems, 432);
        FT_CHECK(w->f != NULL);
    }
    const ft_onnx_attr *a = ft_onnx_node_attr(n0, "pads");
    FT_CHECK(a && a->type == FT_ONNX_ATTR_INTS && a->n_ints == 4 && a->ints[0] == 1);
    const ft_onnx_attr *g = ft_onnx_node_attr(&m->nodes[3], "group");
    FT_CHECK(g && g->type == FT_ONNX_ATTR_INT && g->i == 16);
    size_t params = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        params += m->tensors[i].n_elems;
    FT_CHECK_EQ(params, 53121);
    ft_onnx_net *net = NULL;
    FT_CHECK_OK(ft_onnx_net_new(m, &net, &err), &err);
    FT_CHECK_EQ(ft_onnx_net_n_outputs(net), 12);
    FT_CHECK_STREQ(ft_onnx_net_output_name(net, 11), "kps_32");
    // Sizes the residual additions cannot take are refused, not crashed on.
    size_t bytes;
    FT_CHECK_OK(ft_onnx_net_plan(net, 480, 640, &bytes, &err), &err);
    FT_CHECK_OK(ft_onnx_net_plan(net, 100, 100, &bytes, &err), &err); // 3 -> 6 fits
    FT_CHECK_EQ(ft_onnx_net_plan(net, 104, 104, &bytes, &err), FT_E_INVALID); // 6 -> 12 vs 13
    ft_onnx_net_free(net);
    ft_onnx_free(m);
}

static void limits(void)
{
    char p[4096];
    size_t len;
    uint8_t *b = slurp(yunet_path(p, sizeof p), &len);
    FT_CHECK(b != NULL);
    if (!b)
        return;
    ft_err err = {0};
    ft_onnx *m = NULL;
    size_t largest = 0;
    FT_CHECK_OK(ft_onnx_parse(b, len, NULL, &m, &err), &err);
    for (size_t i = 0; m && i < m->n_tensors; i++)
        largest = m->tensors[i].n_elems > largest ? m->tensors[i].n_elems : largest;
    ft_onnx_free(m);
    m = NULL;
    struct {
        size_t *field;
        size_t v;
    } cases[6];
    ft_onnx_limits lim[6];
    for (int i = 0; i < 6; i++)
        lim[i] = ft_onnx_limits_default();
    cases[0] = (typeof(cases[0])){&lim[0].max_bytes, len - 1};
    cases[1] = (typeof(cases[0])){&lim[1].max_nodes, 105};
    cases[2] = (typeof(cases[0])){&lim[2].max_tensors, 111};
    cases[3] = (typeof(cases[0])){&lim[3].max_values, 12};
    cases[4] = (typeof(cases[0])){&lim[4].max_elems, largest - 1};
    cases[5] = (typeof(cases[0])){&lim[5].max_total_elems, 53120};
    for (int i = 0; i < 6; i++) {
        *cases[i].field = cases[i].v;
        FT_CHECK_EQ(ft_onnx_parse(b, len, &lim[i], &m, &err), FT_E_LIMIT);
        FT_CHECK(m == NULL);
    }
    ft_onnx_limits r = ft_onnx_limits_default();
    r.max_rank = 3;
    FT_CHECK_EQ(ft_onnx_parse(b, len, &r, &m, &err), FT_E_LIMIT);
    FT_CHECK_OK(ft_onnx_parse(b, len, NULL, &m, &err), &err);
    ft_onnx_free(m);
    free(b);
}

// Every prefix of a model parses or fails cleanly; most fail as FORMAT.
static void truncated(void)
{
    char p[4096];
    size_t len;
    uint8_t *b = slurp(path_of("data/onnx/conv_bn_dw.onnx", p, sizeof p), &len);
    FT_CHECK(b != NULL);
    if (!b)
        return;
    size_t n_format = 0;
    for (size_t k = 0; k < len; k++) {
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, b, k);
        ft_onnx *m = NULL;
        ft_err err = {0};
        ft_status st = ft_onnx_parse(c, k, NULL, &m, &err);
        FT_CHECK(st == FT_OK || st == FT_E_FORMAT);
        n_format += st == FT_E_FORMAT;
        ft_onnx_free(m);
        free(c);
    }
    FT_CHECK(n_format > len / 2);
    // Garbage: a group wire type, a varint of 11 bytes, a length past the end.
    static const uint8_t bad1[] = {0x0b}, bad2[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                    0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
                         bad3[] = {0x3a, 0x10, 0x0a};
    ft_onnx *m = NULL;
    FT_CHECK_EQ(ft_onnx_parse(bad1, sizeof bad1, NULL, &m, NULL), FT_E_FORMAT);
    FT_CHECK_EQ(ft_onnx_parse(bad2, sizeof bad2, NULL, &m, NULL), FT_E_FORMAT);
    FT_CHECK_EQ(ft_onnx_parse(bad3, sizeof bad3, NULL, &m, NULL), FT_E_FORMAT);
    FT_CHECK_EQ(ft_onnx_parse(NULL, 0, NULL, &m, NULL), FT_E_FORMAT); // no graph
    free(b);
}

static void tensor_types(void)
{
    char p[4096];
    ft_onnx *m = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_onnx_load(path_of("data/onnx/tensor_types.onnx", p, sizeof p), NULL, &m,
                             NULL, &err),
                &err);
    if (!m)
        return;
    const ft_onnx_tensor *t = ft_onnx_initializer(m, "i32");
    FT_CHECK(t && t->i && t->n_elems == 3 && t->i[0] == -3 && t->i[2] == 2147483647);
    t = ft_onnx_initializer(m, "f64");
    FT_CHECK(t && t->f && t->n_elems == 2 && t->f[0] == 0.5f && t->f[1] == -1.25f);
    t = ft_onnx_initializer(m, "i64raw");
    FT_CHECK(t && t->i && t->i[0] == -1 && t->i[1] == (int64_t)1 << 40);
    t = ft_onnx_initializer(m, "ext");
    FT_CHECK(t && t->external && !t->f && t->n_elems == 2);
    ft_onnx_free(m);
}

static void refuse(const char *file, const char *want1, const char *want2)
{
    char p[4096];
    ft_onnx *m = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_onnx_load(path_of(file, p, sizeof p), NULL, &m, NULL, &err), &err);
    if (!m)
        return;
    ft_onnx_net *net = NULL;
    ft_status st = ft_onnx_net_new(m, &net, &err);
    FT_CHECK_EQ(st, FT_E_UNSUPPORTED);
    FT_CHECK(net == NULL);
    FT_CHECK(strstr(err.msg, want1) != NULL);
    FT_CHECK(strstr(err.msg, want2) != NULL);
    fprintf(stderr, "%s: %s\n", file, err.msg);
    ft_onnx_free(m);
}

static void unsupported(void)
{
    refuse("data/onnx/unsupported_op.onnx", "softmax_1", "op Softmax");
    refuse("data/onnx/unsupported_dilation.onnx", "dilated", "dilations");
    refuse("data/onnx/unsupported_group.onnx", "grouped", "group");
}

// Runs tests/data/onnx/NAME.onnx on the fixed input and compares every
// output value with cv2.dnn's.
static void against_opencv(const char *name)
{
    char p[4096], rel[256];
    snprintf(rel, sizeof rel, "data/onnx/%s.expected.txt", name);
    FILE *f = fopen(path_of(rel, p, sizeof p), "r");
    FT_CHECK(f != NULL);
    if (!f)
        return;
    snprintf(rel, sizeof rel, "data/onnx/%s.onnx", name);
    ft_onnx *m = NULL;
    ft_onnx_net *net = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_onnx_load(path_of(rel, p, sizeof p), NULL, &m, NULL, &err), &err);
    if (m)
        FT_CHECK_OK(ft_onnx_net_new(m, &net, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
    static char line[1 << 20];
    int n = 0, c = 0, h = 0, w = 0;
    while (fgets(line, sizeof line, f) && line[0] == '#')
        ;
    FT_CHECK(sscanf(line, "input %d %d %d %d", &n, &c, &h, &w) == 4);
    if (net && ctx && c > 0 && h > 0 && w > 0) {
        size_t bytes = 0, cnt = (size_t)c * h * w;
        FT_CHECK_OK(ft_onnx_net_plan(net, h, w, &bytes, &err), &err);
        ft_arena *ar = ft_nn_ctx_arena(ctx);
        FT_CHECK_OK(ft_arena_reserve(ar, bytes + cnt * 4 + 128), NULL);
        float *x = ft_arena_floats(ar, cnt);
        // x[i] = ((i mod 23) - 11) / 4 in NCHW order, stored HWC.
        for (int ci = 0; ci < c; ci++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    size_t i = ((size_t)ci * h + y) * w + xx;
                    x[((size_t)y * w + xx) * c + ci] = (float)((int)(i % 23) - 11) / 4;
                }
        ft_map xm = {h, w, c, x};
        ft_onnx_out out[8];
        size_t n_out = ft_onnx_net_n_outputs(net);
        FT_CHECK_OK(ft_onnx_net_run(net, ctx, &xm, out, 8, &err), &err);
        char oname[128];
        int rank;
        double max_d = 0;
        size_t n_checked = 0;
        while (fgets(line, sizeof line, f)) {
            int used;
            if (sscanf(line, "output %127s %d%n", oname, &rank, &used) != 2)
                break;
            int64_t dims[8];
            char *e = line + used;
            for (int k = 0; k < rank && k < 8; k++)
                dims[k] = strtoll(e, &e, 10);
            size_t k = 0;
            while (k < n_out && strcmp(ft_onnx_net_output_name(net, k), oname) != 0)
                k++;
            FT_CHECK(k < n_out);
            if (!fgets(line, sizeof line, f) || k >= n_out)
                break;
            FT_CHECK_EQ(out[k].rank, rank);
            for (int d = 0; d < rank && d < out[k].rank; d++)
                FT_CHECK_EQ(out[k].dims[d], dims[d]);
            e = line;
            for (size_t i = 0; i < out[k].n; i++) {
                double v = strtod(e, &e);
                max_d = fmax(max_d, fabs(v - out[k].d[i]));
                n_checked++;
            }
        }
        fprintf(stderr, "%s: %zu values, max |ours - cv2.dnn| %.3g\n", name, n_checked, max_d);
        FT_CHECK(n_checked > 0);
        // float32 with a different summation order over at most 54 products
        // per output, values of order 1-10: measured below 1e-5.
        FT_CHECK_NEAR(max_d, 0, 1e-4);
    }
    fclose(f);
    ft_nn_ctx_free(ctx);
    ft_onnx_net_free(net);
    ft_onnx_free(m);
}

static void run_conv_bn_dw(void)
{
    against_opencv("conv_bn_dw");
}

static void run_heads(void)
{
    against_opencv("heads");
}

static void run_upsample_misc(void)
{
    against_opencv("upsample_misc");
}

// Allocation failure at every point of parse + prepare: a clean NOMEM.
static void oom(void)
{
    char p[4096];
    size_t len;
    uint8_t *b = slurp(path_of("data/onnx/heads.onnx", p, sizeof p), &len);
    FT_CHECK(b != NULL);
    if (!b)
        return;
    for (long k = 0; k < 500; k++) {
        ft_mem_fail_after(k);
        ft_onnx *m = NULL;
        ft_onnx_net *net = NULL;
        ft_err err = {0};
        ft_status st = ft_onnx_parse(b, len, NULL, &m, &err);
        if (st == FT_OK)
            st = ft_onnx_net_new(m, &net, &err);
        long made = ft_mem_fail_after(-1);
        ft_onnx_net_free(net);
        ft_onnx_free(m);
        if (st == FT_OK && made < k)
            break; // succeeded with no failure injected
        FT_CHECK(st == FT_OK || st == FT_E_NOMEM);
    }
    free(b);
}

// YuNet's loader refuses any other file, naming the SHA-256.
static void yunet_sha(void)
{
    char p[4096];
    ft_models_opts o = {0};
    o.yunet = true;
    o.yunet_path = path_of("data/onnx/heads.onnx", p, sizeof p);
    ft_face_models *fm = NULL;
    ft_err err = {0};
    FT_CHECK_EQ(ft_face_models_load(&o, &fm, &err), FT_E_FORMAT);
    FT_CHECK(strstr(err.msg, "SHA-256") != NULL);
    FT_CHECK(fm == NULL);
    ft_detector_kind k;
    FT_CHECK(ft_detector_parse("yunet", &k) && k == FT_DETECTOR_YUNET);
    FT_CHECK(ft_detector_parse("tiny", &k) && k == FT_DETECTOR_TINY);
    FT_CHECK(!ft_detector_parse("YuNet", &k) && !ft_detector_parse(NULL, &k));
    FT_CHECK_STREQ(ft_detector_name(FT_DETECTOR_YUNET), "yunet");
}

// YuNet-s loaded and run from one context, for the banding tests.
typedef struct yunet_fx {
    ft_onnx *m;
    ft_onnx_net *net;
    ft_nn_ctx *ctx;
    ft_err err;
} yunet_fx;

static bool yunet_open(yunet_fx *f)
{
    char p[4096];
    *f = (yunet_fx){0};
    FT_CHECK_OK(ft_onnx_load(yunet_path(p, sizeof p), NULL, &f->m, NULL, &f->err), &f->err);
    if (f->m)
        FT_CHECK_OK(ft_onnx_net_new(f->m, &f->net, &f->err), &f->err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &f->ctx), NULL);
    return f->net && f->ctx;
}

static void yunet_close(yunet_fx *f)
{
    if (f->net)
        ft_onnx__net_set_bands(f->net, FT_ONNX_BANDS_RINGS);
    ft_nn_ctx_free(f->ctx);
    ft_onnx_net_free(f->net);
    ft_onnx_free(f->m);
}

// The net set to banding `b` and planned for h x w, the arena reset and
// holding the input: pixels 0..255 with the low bits of a hash, so every
// position differs. xm->d is NULL when the arena could not hold it.
static void yunet_input(yunet_fx *f, int32_t h, int32_t w, ft_onnx_bands b, ft_map *xm)
{
    size_t cnt = (size_t)h * w * 3, bytes = 0;
    ft_onnx__net_set_bands(f->net, b);
    FT_CHECK_OK(ft_onnx_net_plan(f->net, h, w, &bytes, &f->err), &f->err);
    ft_arena *ar = ft_nn_ctx_arena(f->ctx);
    ar->used = 0;
    FT_CHECK_OK(ft_arena_reserve(ar, bytes + cnt * 4 + 128), NULL);
    float *x = ft_arena_floats(ar, cnt);
    if (x)
        for (size_t i = 0; i < cnt; i++)
            x[i] = (float)((i * 2654435761u) >> 24);
    *xm = (ft_map){h, w, 3, x};
}

// YuNet-s run three ways on the same input: banded chains in rings (the
// default), banded chains in plain buffers whose held rows are moved, and
// every step on whole maps; every output float must be the same bits. At
// 1920x1088 the chains run in one-row bands through maps of 33 MB (rows
// held in rings); 640x480 and 320x256 plan shorter chains in taller
// bands; 352x288 and 1280x736 other heights and widths. In rings, the
// banded two-pair separable step (Conv_7) keeps its intermediate rows from
// band to band (ft_sepconv2_forward_kept) at every size but 320x256; at
// 1920x1088 Conv_51's chain makes the rows of Resize_49 + Add_50 that each
// band reads just before it (the maps that Add reads must live until then).
static void bands(void)
{
    yunet_fx f;
    if (!yunet_open(&f))
        goto out;
    const int32_t sz[][2] = {{1088, 1920}, {480, 640}, {256, 320}, {288, 352}, {736, 1280}};
    for (size_t s = 0; s < sizeof sz / sizeof *sz; s++) {
        int32_t h = sz[s][0], w = sz[s][1];
        size_t total = 0;
        float *keep[12] = {0};
        for (int mode = 0; mode < 3; mode++) {
            ft_map xm;
            yunet_input(&f, h, w, (ft_onnx_bands)mode, &xm);
            if (!xm.d)
                break;
            ft_onnx_out out[12];
            int64_t kept = f.ctx->sep2_kept;
            FT_CHECK_OK(ft_onnx_net_run(f.net, f.ctx, &xm, out, 12, &f.err), &f.err);
            kept = f.ctx->sep2_kept - kept;
            for (int k = 0; k < 12; k++) {
                size_t nb = out[k].n * sizeof(float);
                if (mode == 0) {
                    keep[k] = malloc(nb ? nb : 1);
                    if (keep[k])
                        memcpy(keep[k], out[k].d, nb);
                    total += out[k].n;
                } else if (keep[k]) {
                    FT_CHECK(memcmp(keep[k], out[k].d, nb) == 0);
                }
            }
            if (mode == 0 && h == 1088) // the one-row bands ran in rings
                FT_CHECK(f.ctx->n_rings > 0);
            // Conv_7's two separable pairs, banded, keep their intermediate
            // rows from band to band, in rings only, and not at 320x256
            // (two bands: the rows spared are 3 % of those computed).
            if (mode == 0 && h != 256)
                FT_CHECK(kept > 0);
            else
                FT_CHECK_EQ(kept, 0);
        }
        FT_CHECK(total > 0);
        for (int k = 0; k < 12; k++)
            free(keep[k]);
    }
out:
    yunet_close(&f);
}

// The profile of a run (ft_onnx_net_run_timed) books every step of a
// banded chain its own multiply-adds, the same as the step gets when it
// runs on whole maps, and a time; profiling changes no output bit. At
// 1920x1088 (chains in one-row bands, rings) and 640x480.
static void profile(void)
{
    yunet_fx f;
    double *ms = NULL;
    int64_t *mac[2] = {NULL, NULL};
    if (!yunet_open(&f))
        goto out;
    size_t ns = ft_onnx_net_n_steps(f.net);
    ms = calloc(ns, sizeof *ms);
    mac[0] = calloc(ns, sizeof(int64_t));
    mac[1] = calloc(ns, sizeof(int64_t));
    const int32_t sz[][2] = {{1088, 1920}, {480, 640}};
    for (size_t s = 0; s < 2 && ms && mac[0] && mac[1]; s++) {
        int32_t h = sz[s][0], w = sz[s][1];
        size_t timed = 0, chained = 0;
        float *plain[12] = {0};
        for (int mode = 0; mode < 2; mode++) { // banded chains, then whole maps
            ft_map xm;
            yunet_input(&f, h, w, mode ? FT_ONNX_BANDS_NONE : FT_ONNX_BANDS_RINGS, &xm);
            if (!xm.d)
                break;
            ft_arena *ar = ft_nn_ctx_arena(f.ctx);
            size_t mark = ar->used;
            ft_onnx_out out[12];
            if (mode == 0) {
                FT_CHECK_OK(ft_onnx_net_run(f.net, f.ctx, &xm, out, 12, &f.err), &f.err);
                for (int k = 0; k < 12; k++) {
                    plain[k] = malloc(out[k].n * sizeof(float) + 1);
                    if (plain[k])
                        memcpy(plain[k], out[k].d, out[k].n * sizeof(float));
                }
                ar->used = mark;
            }
            for (size_t k = 0; k < ns; k++)
                ms[k] = -1, mac[mode][k] = -1; // every entry must be written
            FT_CHECK_OK(ft_onnx_net_run_timed(f.net, f.ctx, &xm, out, 12, ms, mac[mode], &f.err),
                        &f.err);
            for (size_t k = 0; k < ns; k++) {
                FT_CHECK(ms[k] >= 0 && mac[mode][k] >= 0);
                if (mode == 0 && mac[mode][k] > 0) {
                    chained++;
                    timed += ms[k] > 0;
                }
            }
            if (mode == 0)
                for (int k = 0; k < 12; k++)
                    if (plain[k])
                        FT_CHECK(memcmp(plain[k], out[k].d, out[k].n * sizeof(float)) == 0);
        }
        for (size_t k = 0; k < ns; k++)
            FT_CHECK_EQ(mac[0][k], mac[1][k]);
        // Every convolution that ran got some time (a fused pool's is its
        // conv's).
        FT_CHECK(chained > 20);
        FT_CHECK_EQ(timed, chained);
        for (int k = 0; k < 12; k++)
            free(plain[k]);
    }
out:
    free(ms);
    free(mac[0]);
    free(mac[1]);
    yunet_close(&f);
}

static const ft_test_case cases[] = {
    {"yunet_parse", yunet_parse},     {"limits", limits},
    {"truncated", truncated},         {"tensor_types", tensor_types},
    {"unsupported", unsupported},     {"run_conv_bn_dw", run_conv_bn_dw},
    {"run_heads", run_heads},         {"run_upsample_misc", run_upsample_misc},
    {"oom", oom},                     {"yunet_sha", yunet_sha},
    {"bands", bands},                 {"profile", profile},
};
FT_TEST_MAIN(cases)
