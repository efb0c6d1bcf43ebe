// faceres: the tfjs graph reader, float16 weights, the graph compiler's
// refusals, allocation failures, and conformance with tfjs running the same
// files (goldens: tests/golden/faceres/*.txt, made by
// tools/gen_faceres_goldens.mjs; tests/golden/README-faceres.md).
#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "face/faceres.h"
#include "ft_test.h"
#include "model/tfjs.h"
#include "model/tfjs_graph.h"

#include <stdio.h>

// ---- Tolerances (conformance with tfjs) ----
//
// Preprocessing: our crop repeats tfjs's cropAndResize and sub expression by
// expression in double, rounded to float32 where tfjs stores into a
// Float32Array, so the input must be the same bits: checked by the SHA-256
// of all 150,528 values (and the sampled values exactly, to say where).
//
// Network: the same weights (float16 decoded as tfjs does) and the same
// input; what differs is float32 rounding. tfjs-cpu rounds each
// conv/depthwise sum after every product (Float32Array accumulator), then
// rounds conv*m and +b separately; we fold m into the weights and sum in
// our kernels' blocked order with FMA. Each of the 27 layers adds relative
// errors of a few ulps (1e-7) of sums of up to 9*1024 products, which the
// next layers carry; the descriptor's values are 0..~3. Measured over the
// 29 golden inputs (every input bit-identical): max |diff| 8.8e-6 with
// FT_KERNELS=ref, 1.4e-5 avx2, 1.2e-5 avx512; cosine distance at most
// 3.9e-11, 1.4e-10, 7.2e-11. The bounds are about 4x those; a wrong layer,
// padding or channel order moves values by 1e-2 and more.
#define TOL_DESC_ABS 5e-5   // per value
#define TOL_DESC_COS 6e-10  // cosine distance between ours and tfjs's

static char *read_text(const char *path, size_t *len)
{
    ft_buf b;
    ft_err err;
    ft_buf_init(&b, 0);
    if (ft_file_read(path, 0, &b, &err) != FT_OK || ft_buf_terminate(&b) != FT_OK) {
        ft_buf_deinit(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return (char *)b.data; // ft_buf's storage is ft_malloc'd; freed with ft_free
}

static const char *model_dir(void)
{
    static char dir[1024];
    const char *env = getenv("FT_FACERES_DIR");
    if (env)
        return env;
    // .cache/face-api-1.7.15 -> .cache/human-3.3.6/models
    snprintf(dir, sizeof dir, "%s/../human-3.3.6/models", ft_test_assets());
    return dir;
}

static ft_faceres *net;
static ft_nn_ctx *ctx;

static void free_net(void)
{
    ft_faceres_free(net);
    ft_nn_ctx_free(ctx);
}

static bool load_net(void)
{
    if (net)
        return true;
    ft_err err;
    ft_status st = ft_faceres_load(model_dir(), NULL, &net, &err);
    if (st != FT_OK) {
        fprintf(stderr, "faceres: %s (%s); run tools/setup.sh\n", ft_status_str(st), err.msg);
        ft_test_failures++;
        return false;
    }
    FT_CHECK_OK(ft_nn_ctx_new(1, &ctx), NULL);
    atexit(free_net);
    return true;
}

// ---- Graph reader ----

static const char graph_json[] =
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": ["
    "{\"name\": \"x\", \"op\": \"Placeholder\", \"attr\": {\"shape\": {\"shape\": {\"dim\": "
    "[{\"size\": \"-1\"}, {\"size\": \"4\"}, {}]}}, \"dtype\": {\"type\": \"DT_FLOAT\"}}},"
    "{\"name\": \"k\", \"op\": \"Const\", \"attr\": {\"value\": {\"tensor\": {\"dtype\": "
    "\"DT_FLOAT\", \"tensorShape\": {\"dim\": [{\"size\": \"2\"}]}}}}},"
    "{\"name\": \"s:1\", \"op\": \"Split\", \"input\": [\"x\"], \"attr\": {\"num_split\": "
    "{\"i\": \"2\"}}},"
    "{\"name\": \"y\", \"op\": \"Conv2D\", \"input\": [\"s:1:1\", \"k\", \"^x\"], \"attr\": {"
    "\"padding\": {\"s\": \"U0FNRQ==\"}, \"strides\": {\"list\": {\"i\": [\"1\", \"2\", 2, "
    "\"1\"]}}, \"explicit_paddings\": {\"list\": {}}, \"use_cudnn_on_gpu\": {\"b\": true}, "
    "\"epsilon\": {\"f\": 0.5}, \"fused_ops\": {\"list\": {\"s\": [\"Qmlhc0FkZA\", "
    "\"UmVsdQ==\"]}}, \"T\": {\"type\": \"DT_FLOAT\"}, \"fn\": {\"func\": {}}}}"
    "]}, \"weightsManifest\": []}";

static void graph_parse(void)
{
    ft_err err;
    ft_tfjs_graph *g = NULL;
    FT_CHECK_OK(ft_tfjs_graph_parse("t.json", (const uint8_t *)graph_json, strlen(graph_json),
                                    NULL, &g, &err),
                &err);
    if (!g)
        return;
    FT_CHECK_EQ(ft_tfjs_graph_count(g), 4);
    int32_t y = ft_tfjs_graph_find(g, "y");
    FT_CHECK_EQ(y, 3);
    FT_CHECK_EQ(ft_tfjs_graph_find(g, "s:1"), 2);
    FT_CHECK_EQ(ft_tfjs_graph_find(g, "s"), -1);
    FT_CHECK_EQ(ft_tfjs_graph_find(g, "yy"), -1);
    const ft_tfg_node *n = ft_tfjs_graph_node(g, 3);
    FT_CHECK_STREQ(n->op, "Conv2D");
    FT_CHECK_EQ(n->n_inputs, 3);
    // "s:1:1" is output 1 of the node called "s:1".
    FT_CHECK_EQ(n->inputs[0].node, 2);
    FT_CHECK_EQ(n->inputs[0].output, 1);
    FT_CHECK_EQ(n->inputs[0].control, false);
    FT_CHECK_EQ(n->inputs[1].node, 1);
    FT_CHECK_EQ(n->inputs[2].node, 0);
    FT_CHECK_EQ(n->inputs[2].control, true);
    const ft_tfg_attr *a = ft_tfg_node_attr(n, "padding");
    FT_CHECK(a && a->kind == FT_TFG_S && a->s_len == 4 && memcmp(a->s, "SAME", 4) == 0);
    a = ft_tfg_node_attr(n, "strides");
    FT_CHECK(a && a->kind == FT_TFG_LIST_I && a->n == 4 && a->ints[1] == 2 && a->ints[2] == 2);
    a = ft_tfg_node_attr(n, "explicit_paddings");
    FT_CHECK(a && a->n == 0);
    a = ft_tfg_node_attr(n, "use_cudnn_on_gpu");
    FT_CHECK(a && a->kind == FT_TFG_B && a->b);
    a = ft_tfg_node_attr(n, "epsilon");
    FT_CHECK(a && a->kind == FT_TFG_F);
    if (a)
        FT_CHECK_DBL_EXACT(a->f, 0.5);
    a = ft_tfg_node_attr(n, "fused_ops");
    FT_CHECK(a && a->kind == FT_TFG_LIST_S && a->n == 2 && strcmp(a->strs[0], "BiasAdd") == 0 &&
             strcmp(a->strs[1], "Relu") == 0);
    a = ft_tfg_node_attr(n, "T");
    FT_CHECK(a && a->kind == FT_TFG_TYPE && strcmp(a->s, "DT_FLOAT") == 0);
    a = ft_tfg_node_attr(n, "fn");
    FT_CHECK(a && a->kind == FT_TFG_OTHER);
    a = ft_tfg_node_attr(ft_tfjs_graph_node(g, 0), "shape");
    FT_CHECK(a && a->kind == FT_TFG_SHAPE && a->n == 3 && a->ints[0] == -1 && a->ints[1] == 4 &&
             a->ints[2] == 0);
    a = ft_tfg_node_attr(ft_tfjs_graph_node(g, 1), "value");
    FT_CHECK(a && a->kind == FT_TFG_TENSOR && a->n == 1 && a->ints[0] == 2 &&
             strcmp(a->s, "DT_FLOAT") == 0);
    ft_tfjs_graph_free(g);
}

static ft_status parse_str(const char *s, const ft_tfjs_graph_limits *lim, ft_err *err)
{
    ft_tfjs_graph *g = NULL;
    ft_status st = ft_tfjs_graph_parse("t.json", (const uint8_t *)s, strlen(s), lim, &g, err);
    ft_tfjs_graph_free(g);
    return st;
}

static void graph_errors(void)
{
    ft_err err;
#define NODES(x) "{\"modelTopology\": {\"node\": [" x "]}}"
    FT_CHECK_EQ(parse_str("[1]", NULL, &err), FT_E_FORMAT);
    FT_CHECK_EQ(parse_str("{\"format\": \"layers-model\", \"modelTopology\": {\"node\": []}}",
                          NULL, &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\"}, {\"name\": \"a\", \"op\": \"Y\"}"),
                          NULL, &err),
                FT_E_FORMAT);
    FT_CHECK(strstr(err.msg, "duplicate") != NULL);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\", \"input\": [\"b\"]}"), NULL, &err),
                FT_E_FORMAT);
    FT_CHECK(strstr(err.msg, "names no node") != NULL);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\", \"input\": [\"^a:1\"]}"), NULL,
                          &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\", \"attr\": {\"p\": {\"s\": "
                                "\"U0F*RQ==\"}}}"),
                          NULL, &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\", \"attr\": {\"p\": {\"i\": "
                                "\"12x\"}}}"),
                          NULL, &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"\", \"op\": \"X\"}"), NULL, &err), FT_E_FORMAT);
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": 3}"), NULL, &err), FT_E_FORMAT);
    ft_tfjs_graph_limits lim = ft_tfjs_graph_limits_default();
    lim.max_nodes = 1;
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\"}, {\"name\": \"b\", \"op\": \"X\"}"),
                          &lim, &err),
                FT_E_LIMIT);
    lim = ft_tfjs_graph_limits_default();
    lim.max_list = 2;
    FT_CHECK_EQ(parse_str(NODES("{\"name\": \"a\", \"op\": \"X\", \"attr\": {\"p\": {\"list\": "
                                "{\"i\": [1, 2, 3]}}}}"),
                          &lim, &err),
                FT_E_LIMIT);
    lim = ft_tfjs_graph_limits_default();
    lim.max_json_bytes = 10;
    FT_CHECK_EQ(parse_str(NODES(""), &lim, &err), FT_E_LIMIT);
#undef NODES
}

// ---- float16 weights ----

static void half_decode(void)
{
    // Every half decodes exactly, as IEEE says (tfjs's tables do too).
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x3c00), 1.0f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0xc000), -2.0f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x4600), 6.0f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x0001), 0x1p-24f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x03ff), 1023 * 0x1p-24f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x0400), 0x1p-14f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x7bff), 65504.0f);
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x3555), 0x1.554p-2f);
    FT_CHECK(isinf(ft_tfjs_half_to_float(0x7c00)) && ft_tfjs_half_to_float(0x7c00) > 0);
    FT_CHECK(isinf(ft_tfjs_half_to_float(0xfc00)) && ft_tfjs_half_to_float(0xfc00) < 0);
    FT_CHECK(isnan(ft_tfjs_half_to_float(0x7e00)));
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x0000), 0.0f);
    float nz = ft_tfjs_half_to_float(0x8000);
    FT_CHECK(nz == 0.0f && signbit(nz));
    FT_CHECK_DBL_EXACT(ft_tfjs_half_to_float(0x8001), -0x1p-24f);
}

static void f16_manifest(void)
{
    // A model.json: the manifest is its "weightsManifest" member.
    static const char js[] =
        "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []}, \"weightsManifest\": "
        "[{\"paths\": [\"w.bin\"], \"weights\": ["
        "{\"name\": \"a\", \"shape\": [3], \"dtype\": \"float32\", \"quantization\": {\"dtype\": "
        "\"float16\", \"original_dtype\": \"float32\"}},"
        "{\"name\": \"i\", \"shape\": [2], \"dtype\": \"int32\"},"
        "{\"name\": \"q\", \"shape\": [2], \"dtype\": \"int32\", \"quantization\": {\"dtype\": "
        "\"uint8\", \"scale\": 0.5, \"min\": -1}}]}]}";
    static const uint8_t bin[] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00,  // 1, -2, 2^-24
                                  1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, // 1, -2
                                  3, 6};                              // round(0.5), 2
    ft_tfjs *m = NULL;
    ft_err err;
    FT_CHECK_OK(ft_tfjs_parse("m.json", (const uint8_t *)js, strlen(js), bin, sizeof bin, NULL, &m,
                              &err),
                &err);
    if (!m)
        return;
    const float *a;
    const int32_t *iv, *qv;
    size_t ni = 0;
    int32_t s3 = 3;
    FT_CHECK_OK(ft_tfjs_get(m, "a", 1, &s3, &a, &err), &err);
    FT_CHECK_OK(ft_tfjs_get_i32(m, "i", &ni, &iv, &err), &err);
    FT_CHECK_EQ(ni, 2);
    FT_CHECK_OK(ft_tfjs_get_i32(m, "q", &ni, &qv, &err), &err);
    FT_CHECK_EQ(ni, 2);
    FT_CHECK_EQ(qv[0], 1); // JavaScript's Math.round(0.5)
    FT_CHECK_EQ(qv[1], 2);
    FT_CHECK_DBL_EXACT(a[0], 1.0f);
    FT_CHECK_DBL_EXACT(a[1], -2.0f);
    FT_CHECK_DBL_EXACT(a[2], 0x1p-24f);
    FT_CHECK_EQ(iv[0], 1);
    FT_CHECK_EQ(iv[1], -2);
    FT_CHECK_EQ(ft_tfjs_get_i32(m, "a", &ni, &iv, &err), FT_E_FORMAT);
    ft_tfjs_free(m);
    // One byte short: the float16 entry needs 2 per element.
    FT_CHECK_EQ(ft_tfjs_parse("m.json", (const uint8_t *)js, strlen(js), bin, sizeof bin - 1, NULL,
                              &m, &err),
                FT_E_FORMAT);
}

// ---- The compiler ----

typedef struct model_bytes {
    char *json;
    size_t json_len;
    uint8_t *bin;
    size_t bin_len;
} model_bytes;

static bool read_model(model_bytes *mb)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/faceres.json", model_dir());
    mb->json = read_text(p, &mb->json_len);
    snprintf(p, sizeof p, "%s/faceres.bin", model_dir());
    mb->bin = (uint8_t *)read_text(p, &mb->bin_len);
    if (!mb->json || !mb->bin) {
        fprintf(stderr, "faceres: cannot read the model in %s; run tools/setup.sh\n", model_dir());
        ft_test_failures++;
        return false;
    }
    return true;
}

static void free_model(model_bytes *mb)
{
    ft_free(mb->json);
    ft_free(mb->bin);
}

// Replaces the first `old` after `after` with `rep` (same length or not)
// and parses the result; returns the status.
static ft_status parse_edited(const model_bytes *mb, const char *after, const char *old,
                              const char *rep, ft_err *err)
{
    const char *at = strstr(mb->json, after);
    const char *o = at ? strstr(at, old) : NULL;
    if (!o) {
        fprintf(stderr, "edit: '%s' after '%s' not found\n", old, after);
        ft_test_failures++;
        return FT_OK;
    }
    size_t pre = (size_t)(o - mb->json), ol = strlen(old), rl = strlen(rep);
    size_t n = mb->json_len - ol + rl;
    char *s = ft_malloc(n + 1);
    memcpy(s, mb->json, pre);
    memcpy(s + pre, rep, rl);
    memcpy(s + pre + rl, o + ol, mb->json_len - pre - ol);
    s[n] = '\0';
    ft_faceres *f = NULL;
    ft_status st = ft_faceres_parse((const uint8_t *)s, n, mb->bin, mb->bin_len, NULL, &f, err);
    ft_faceres_free(f);
    ft_free(s);
    return st;
}

static void compile_refusals(void)
{
    model_bytes mb;
    if (!read_model(&mb))
        return;
    ft_err err;
    ft_faceres *f = NULL;
    FT_CHECK_OK(ft_faceres_parse((const uint8_t *)mb.json, mb.json_len, mb.bin, mb.bin_len, NULL,
                                 &f, &err),
                &err);
    if (f) {
        size_t nodes;
        // conv1 + 13 depthwise/pointwise pairs; 5 + 13 * (6 + 5) + 2 nodes.
        FT_CHECK_EQ(ft_faceres_layers(f, &nodes), 27);
        FT_CHECK_EQ(nodes, 150);
        ft_faceres_free(f);
    }
    // Each edit below must be refused, naming what it does not handle.
    // (faceres.json writes its nodes as compact JSON.)
    const char *N = "\"name\":\"conv_pw_5_bn/batchnorm_1/mul_1\"";
    FT_CHECK_EQ(parse_edited(&mb, N, "U0FNRQ==", "RVhQTElDSVQ=", &err), FT_E_UNSUPPORTED);
    FT_CHECK(strstr(err.msg, "conv_pw_5_bn/batchnorm_1/mul_1") != NULL);
    FT_CHECK_EQ(parse_edited(&mb, N, "\"dilations\":{\"list\":{\"i\":[\"1\",\"1\"",
                             "\"dilations\":{\"list\":{\"i\":[\"1\",\"2\"", &err),
                FT_E_UNSUPPORTED);
    FT_CHECK_EQ(parse_edited(&mb, N, "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\"",
                             "\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"2\"", &err),
                FT_E_UNSUPPORTED);
    FT_CHECK_EQ(parse_edited(&mb, N, "\"data_format\":{\"s\":\"TkhXQw==\"",
                             "\"data_format\":{\"s\":\"TkNIVw==\"", &err), // NCHW
                FT_E_UNSUPPORTED);
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"conv_dw_3_relu/Relu\"", "\"op\":\"Relu\"",
                             "\"op\":\"Elu\"", &err),
                FT_E_UNSUPPORTED);
    FT_CHECK(strstr(err.msg, "Elu") != NULL);
    // Minimum by a tensor that is not a constant.
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"conv_dw_3_relu/clip_by_value/Minimum\"",
                             "\"conv_dw_3_relu/Cast\"", "\"conv_dw_2_relu/Relu\"", &err),
                FT_E_UNSUPPORTED);
    // Minimum by a per-channel vector: not a clamp the kernels fuse.
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"conv_dw_3_relu/clip_by_value/Minimum\"",
                             "\"conv_dw_3_relu/Cast\"", "\"conv_dw_3_bn/batchnorm_1/sub\"",
                             &err),
                FT_E_UNSUPPORTED);
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"global_pooling/Mean\",", "\"op\":\"Mean\"",
                             "\"op\":\"Max\"", &err),
                FT_E_UNSUPPORTED);
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"input_1\",", "\"size\":\"224\"",
                             "\"size\":\"112\"", &err),
                FT_E_UNSUPPORTED);
    // The topology and the manifest disagree on a filter's shape.
    FT_CHECK_EQ(parse_edited(&mb, "\"name\":\"conv_dw_1/depthwise_kernel\"",
                             "\"size\":\"32\"", "\"size\":\"31\"", &err),
                FT_E_FORMAT);
    // Wrong weights size.
    FT_CHECK_EQ(ft_faceres_parse((const uint8_t *)mb.json, mb.json_len, mb.bin, mb.bin_len - 2,
                                 NULL, &f, &err),
                FT_E_FORMAT);
    free_model(&mb);
}

static void oom(void)
{
    model_bytes mb;
    if (!read_model(&mb))
        return;
    long n;
    for (n = 0; n < 100000; n++) {
        ft_err err;
        ft_faceres *f = NULL;
        ft_mem_fail_after(n);
        ft_status st = ft_faceres_parse((const uint8_t *)mb.json, mb.json_len, mb.bin, mb.bin_len,
                                        NULL, &f, &err);
        long made = ft_mem_fail_after(-1);
        ft_faceres_free(f);
        if (st == FT_OK)
            break;
        if (st != FT_E_NOMEM) {
            fprintf(stderr, "allocation %ld failed: got %s (%s)\n", n, ft_status_str(st), err.msg);
            ft_test_failures++;
            break;
        }
        FT_CHECK(made > n);
    }
    fprintf(stderr, "faceres parse: succeeded after %ld injected failures\n", n);
    FT_CHECK(n > 20);
    free_model(&mb);
}

// ---- Preprocessing edges and distance ----

static void prepare_edges(void)
{
    ft_image im;
    ft_err err;
    FT_CHECK_OK(ft_image_new(8, 6, &im), NULL);
    for (size_t i = 0; i < 8 * 6 * 3; i++)
        im.rgb[i] = (uint8_t)(i * 7);
    float *in = ft_malloc(sizeof(float) * FT_FACERES_SIZE * FT_FACERES_SIZE * 3);
    ft_face_box far = {100, 100, 10, 10, 1};
    FT_CHECK_OK(ft_faceres_prepare(&im, &far, in, &err), &err);
    // Wholly outside: every sample is the extrapolation value 0, minus the mean.
    bool all = true;
    for (size_t i = 0; i < (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE; i++)
        all = all && in[3 * i] == 0.0f - 103.939f && in[3 * i + 1] == 0.0f - 116.779f &&
              in[3 * i + 2] == 0.0f - 123.68f;
    FT_CHECK(all);
    // Nearly the whole image (scaled corners 1e-4 px inside the corner
    // pixels' centres): the corner samples are the corner pixels.
    double sw = (7 - 2e-4) / 1.4, sh = (5 - 2e-4) / 1.4;
    ft_face_box whole = {3.5 - sw / 2, 2.5 - sh / 2, sw, sh, 1};
    FT_CHECK_OK(ft_faceres_prepare(&im, &whole, in, &err), &err);
    const float *last = in + ((size_t)FT_FACERES_SIZE * FT_FACERES_SIZE - 1) * 3;
    const uint8_t *lp = im.rgb + (8 * 6 - 1) * 3;
    // 1e-4 px from the pixel centre, where the image changes by at most
    // 21 levels per pixel (neighbours differ by 7*3 or 7*24 mod 256 ...
    // bounded by 255 per pixel): within 255 * 1.5e-4 < 0.05.
    FT_CHECK_NEAR(in[0], im.rgb[2] - 103.939f, 0.05);
    FT_CHECK_NEAR(in[2], im.rgb[0] - 123.68f, 0.05);
    FT_CHECK_NEAR(last[0], lp[2] - 103.939f, 0.05);
    FT_CHECK_NEAR(last[2], lp[0] - 123.68f, 0.05);
    ft_face_box bad[4] = {{0, 0, 0, 5, 1}, {0, 0, 5, -1, 1}, {NAN, 0, 5, 5, 1},
                          {0, 0, INFINITY, 5, 1}};
    for (int i = 0; i < 4; i++)
        FT_CHECK_EQ(ft_faceres_prepare(&im, &bad[i], in, &err), FT_E_INVALID);
    ft_face_box huge = {-1e300, -1e300, 1e300, 1e300, 1};
    FT_CHECK_OK(ft_faceres_prepare(&im, &huge, in, &err), &err);
    ft_image tiny;
    FT_CHECK_OK(ft_image_new(1, 5, &tiny), NULL);
    FT_CHECK_EQ(ft_faceres_prepare(&tiny, &far, in, &err), FT_E_INVALID);
    ft_image_deinit(&tiny);
    ft_image_deinit(&im);
    ft_free(in);
}

static void distance(void)
{
    static float a[FT_FACERES_DIM], b[FT_FACERES_DIM], z[FT_FACERES_DIM];
    for (int i = 0; i < FT_FACERES_DIM; i++) {
        a[i] = (float)(i % 7) - 3;
        b[i] = -2 * a[i];
    }
    // Exact in double for these small integers (sums below 2^53).
    FT_CHECK_NEAR(ft_faceres_distance(a, a), 0.0, 1e-15);
    FT_CHECK_NEAR(ft_faceres_distance(a, b), 2.0, 1e-15);
    FT_CHECK_DBL_EXACT(ft_faceres_distance(a, z), 1.0);
    b[0] = 5;
    for (int i = 1; i < FT_FACERES_DIM; i++)
        b[i] = 0;
    a[0] = 0;
    FT_CHECK_NEAR(ft_faceres_distance(a, b), 1.0, 1e-15);
}

// ---- Conformance with tfjs ----

typedef struct gold_case {
    int tag;
    double box[4];
    size_t n_in;
    char sha[65];
    double sum, sum_abs;
    size_t n_at, at_stride;
    float *at;
    float desc[FT_FACERES_DIM];
} gold_case;

typedef struct gold {
    char photo[64];
    int w, h;
    char rgb_sha[65];
    size_t n;
    gold_case c[16];
} gold;

static void gold_free(gold *g)
{
    for (size_t i = 0; i < g->n; i++)
        ft_free(g->c[i].at);
}

static float *parse_floats(char *s, size_t *n)
{
    size_t cap = 64, k = 0;
    float *v = ft_malloc(cap * sizeof *v);
    char *end;
    for (;;) {
        float x = strtof(s, &end);
        if (end == s)
            break;
        if (k == cap)
            v = ft_realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = x;
        s = end;
    }
    *n = k;
    return v;
}

static bool gold_read(const char *name, gold *g)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/faceres/%s", ft_test_srcdir(), name);
    char *txt = read_text(path, NULL);
    if (!txt) {
        fprintf(stderr, "%s: cannot read\n", path);
        ft_test_failures++;
        return false;
    }
    memset(g, 0, sizeof *g);
    bool ok = strncmp(txt, "# facetracker-golden/faceres 1\n", 31) == 0;
    for (char *line = strtok(txt, "\n"); ok && line; line = strtok(NULL, "\n")) {
        int tag, off = 0;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "photo %63s %d %d %64s", g->photo, &g->w, &g->h, g->rgb_sha) == 4)
            continue;
        if (sscanf(line, "face %d %n", &tag, &off) == 1 && off > 0) {
            if (g->n == 16 || tag != (int)g->n) {
                ok = false;
                break;
            }
            gold_case *c = &g->c[g->n++];
            c->tag = tag;
            ok = sscanf(line + off, "%lf %lf %lf %lf", &c->box[0], &c->box[1], &c->box[2],
                        &c->box[3]) == 4;
            continue;
        }
        gold_case *c = g->n ? &g->c[g->n - 1] : NULL;
        if (!c && strncmp(line, "input 0 ", 8) == 0) { // the synthetic file has no face line
            c = &g->c[g->n++];
        }
        if (!c) {
            ok = false;
            break;
        }
        if (strncmp(line, "input ", 6) == 0) {
            ok = sscanf(line, "input %d %zu %64s %lf %lf", &tag, &c->n_in, c->sha, &c->sum,
                        &c->sum_abs) == 5;
        } else if (sscanf(line, "input_at %d %zu %n", &tag, &c->at_stride, &off) == 2 && off > 0) {
            c->at = parse_floats(line + off, &c->n_at);
        } else if (sscanf(line, "desc %d %n", &tag, &off) == 1 && off > 0) {
            size_t n;
            float *v = parse_floats(line + off, &n);
            ok = n == FT_FACERES_DIM;
            if (ok)
                memcpy(c->desc, v, sizeof c->desc);
            ft_free(v);
        } else {
            ok = false;
        }
    }
    ft_free(txt);
    if (!ok || g->n == 0) {
        fprintf(stderr, "%s: malformed golden\n", path);
        ft_test_failures++;
        gold_free(g);
        return false;
    }
    return true;
}

// Compares our descriptor with tfjs's; prints the measured agreement.
static void check_desc(const char *what, const float *ours, const float *ref)
{
    double max_abs = 0;
    int at = 0;
    for (int i = 0; i < FT_FACERES_DIM; i++) {
        double d = fabs((double)ours[i] - ref[i]);
        if (d > max_abs)
            max_abs = d, at = i;
    }
    double cos = ft_faceres_distance(ours, ref);
    fprintf(stderr, "%s: max |ours - tfjs| %.3g (value %d: %.9g vs %.9g), cosine distance %.3g\n",
            what, max_abs, at, ours[at], ref[at], cos);
    FT_CHECK_NEAR(max_abs, 0, TOL_DESC_ABS);
    FT_CHECK_NEAR(cos, 0, TOL_DESC_COS);
}

static void check_input(const char *what, const gold_case *c, const float *in)
{
    size_t n = (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3;
    char sha[65];
    FT_CHECK_EQ(c->n_in, n);
    ft_sha256_hex(in, n * sizeof(float), sha); // little-endian host, as the script hashes
    double max_abs = 0;
    size_t bad = 0;
    for (size_t k = 0; k < c->n_at && k * c->at_stride < n; k++) {
        double d = fabs((double)in[k * c->at_stride] - c->at[k]);
        if (d > max_abs)
            max_abs = d;
        bad += d != 0;
    }
    fprintf(stderr, "%s: input %s tfjs's (sampled max |diff| %.3g, %zu of %zu differ)\n", what,
            strcmp(sha, c->sha) == 0 ? "is bit-identical to" : "DIFFERS from", max_abs, bad,
            c->n_at);
    FT_CHECK_STREQ(sha, c->sha);
    FT_CHECK_EQ(bad, 0);
}

static void golden_synthetic(void)
{
    gold g;
    if (!load_net() || !gold_read("synthetic.txt", &g))
        return;
    size_t n = (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3;
    float *in = ft_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)i * 2654435761u;
        in[i] = (float)(((double)u / 4294967296.0) * 255 - 120);
    }
    check_input("synthetic", &g.c[0], in);
    float out[FT_FACERES_DIM];
    ft_err err;
    FT_CHECK_OK(ft_faceres_run(net, ctx, in, out, &err), &err);
    check_desc("synthetic", out, g.c[0].desc);
    ft_free(in);
    gold_free(&g);
}

static void golden_photo(int k)
{
    char name[32];
    gold g;
    snprintf(name, sizeof name, "sample%d.txt", k);
    if (!load_net() || !gold_read(name, &g))
        return;
    char path[1100], sha[65];
    snprintf(path, sizeof path, "%s/demo/%s", ft_test_assets(), g.photo);
    ft_image im;
    ft_err err;
    if (ft_image_load(path, NULL, &im, &err) != FT_OK) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        ft_test_failures++;
        gold_free(&g);
        return;
    }
    FT_CHECK_EQ(im.w, g.w);
    FT_CHECK_EQ(im.h, g.h);
    ft_sha256_hex(im.rgb, (size_t)im.w * im.h * 3, sha);
    if (strcmp(sha, g.rgb_sha) != 0)
        fprintf(stderr, "%s: our JPEG decode changed (libjpeg-turbo version?): rerun "
                        "tools/gen_faceres_goldens.mjs\n", g.photo);
    FT_CHECK_STREQ(sha, g.rgb_sha);
    size_t n = (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3;
    float *in = ft_malloc(n * sizeof(float));
    for (size_t i = 0; i < g.n; i++) {
        const gold_case *c = &g.c[i];
        ft_face_box b = {c->box[0], c->box[1], c->box[2], c->box[3], 1};
        char what[64];
        snprintf(what, sizeof what, "%s face %d", g.photo, c->tag);
        FT_CHECK_OK(ft_faceres_prepare(&im, &b, in, &err), &err);
        check_input(what, c, in);
        float out[FT_FACERES_DIM], out2[FT_FACERES_DIM];
        // The network alone on our input (the same bits as tfjs's when the
        // check above passes), then the whole describe call.
        FT_CHECK_OK(ft_faceres_run(net, ctx, in, out, &err), &err);
        check_desc(what, out, c->desc);
        FT_CHECK_OK(ft_faceres_describe(net, ctx, &im, &b, out2, &err), &err);
        FT_CHECK(memcmp(out, out2, sizeof out) == 0);
    }
    ft_free(in);
    ft_image_deinit(&im);
    gold_free(&g);
}

#define PHOTO(k)                                                                                   \
    static void golden_sample##k(void)                                                             \
    {                                                                                              \
        golden_photo(k);                                                                           \
    }
PHOTO(1)
PHOTO(2)
PHOTO(3)
PHOTO(4)
PHOTO(5)
PHOTO(6)

static const ft_test_case cases[] = {
    {"graph_parse", graph_parse},
    {"graph_errors", graph_errors},
    {"half_decode", half_decode},
    {"f16_manifest", f16_manifest},
    {"compile_refusals", compile_refusals},
    {"oom", oom},
    {"prepare_edges", prepare_edges},
    {"distance", distance},
    {"synthetic", golden_synthetic},
    {"sample1", golden_sample1},
    {"sample2", golden_sample2},
    {"sample3", golden_sample3},
    {"sample4", golden_sample4},
    {"sample5", golden_sample5},
    {"sample6", golden_sample6},
};

FT_TEST_MAIN(cases)
