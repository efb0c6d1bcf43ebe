// Running a parsed ONNX graph (onnx.h) on the engine (src/nn): each node
// becomes a step over prepared layers (ft_conv) or a small loop here;
// BatchNormalization folds into the Conv before it and an activation that
// is a Conv's only consumer is fused into it. Activations are HWC maps
// (ONNX's NCHW with N = 1, stored channels-last) or, after a Transpose or
// Reshape, row-major tensors in ONNX's own layout; a Transpose that only
// reinterprets HWC storage (NCHW -> NHWC) copies nothing.
//
// Memory: one slab from the context's arena per run, laid out by a
// first-fit planner over the values' lifetimes (ggml's graph allocator),
// so a 1080p frame needs a few maps' worth of memory, not every map.
#include "model/onnx.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// ---- Steps ----

typedef enum step_op {
    S_CONV,
    S_ACT,     // an activation on its own
    S_ADD,     // a + b, same shapes
    S_MAXPOOL,
    S_AVGPOOL,
    S_GAP,     // global average pool
    S_UPS,     // nearest upsampling by integer factors
    S_CONCAT,
    S_TRANSPOSE,
    S_RESHAPE, // also Flatten (target computed from the axis)
    S_ALIAS,   // Identity, Dropout
    S_SEP,     // depthwise conv then 1x1 conv, fused (ft_sepconv_forward)
    S_SEP2,    // two such pairs in a chain (ft_sepconv2_forward)
    S_SLICE,   // channels [c0, c0 + c) of a map
} step_op;

enum { K_MAP = 0, K_DENSE = 1 }; // value kinds (static)

#define MAX_IN 16

typedef struct step {
    step_op op;
    const char *node; // for messages
    int n_in;
    int in[MAX_IN];
    int out;
    ft_conv *conv;
    ft_conv *conv2, *conv3, *conv4; // S_SEP: pw in conv2; S_SEP2: dw1 pw1 dw2 pw2
    float *keep_w; // 1x1 convs until merging: HWIO weights then c_out biases (owned)
    bool keep_bias;
    int32_t c0, cn; // S_SLICE
    int32_t prepad[4]; // top, left, bottom, right: explicit padding copied in first
    bool has_prepad;
    ft_act act;
    int32_t k, s;
    ft_pad pad;
    int32_t sh, sw;
    int axis;
    int rank; // transpose: perm rank; reshape: target rank
    int perm[FT_ONNX_MAX_RANK];
    int64_t shape[FT_ONNX_MAX_RANK];
    int flatten_axis; // -1 unless Flatten
} step;

typedef struct val {
    const char *name;
    int kind;
} val;

struct ft_onnx_net {
    size_t n_steps, n_vals;
    step *steps;
    val *vals;
    int input;
    int32_t in_c;
    size_t n_out;
    int *outs;
    const char **out_names;
    char *names; // storage for copied names
    ft_onnx_bands bands;
};

// ---- Preparation ----

typedef struct prep {
    const ft_onnx *m;
    ft_onnx_net *n;
    size_t cap_vals, cap_steps;
    const ft_onnx_tensor **consts; // per node: a Constant's value (else NULL)
    bool *absorbed;                // nodes folded into an earlier step
    ft_err *err;
} prep;

static ft_status unsup(prep *p, const ft_onnx_node *nd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ft_status unsup(prep *p, const ft_onnx_node *nd, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ft_err_set(p->err, FT_E_UNSUPPORTED, "onnx: node '%s' (%s): %s", nd->name,
                      nd->op_type, msg);
}

static int find_val(const ft_onnx_net *n, const char *name)
{
    for (size_t i = n->n_vals; i-- > 0;)
        if (strcmp(n->vals[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_val(prep *p, const char *name, int kind)
{
    ft_onnx_net *n = p->n;
    if (n->n_vals == p->cap_vals)
        return -1;
    n->vals[n->n_vals] = (val){name, kind};
    return (int)n->n_vals++;
}

// An initializer or a Constant node's value by name.
static const ft_onnx_tensor *const_of(prep *p, const char *name)
{
    if (!*name)
        return NULL;
    const ft_onnx_tensor *t = ft_onnx_initializer(p->m, name);
    if (t)
        return t;
    for (size_t i = 0; i < p->m->n_nodes; i++)
        if (p->consts[i] && p->m->nodes[i].n_outputs == 1 &&
            strcmp(p->m->nodes[i].outputs[0], name) == 0)
            return p->consts[i];
    return NULL;
}

static int64_t attr_i(const ft_onnx_node *nd, const char *name, int64_t def)
{
    const ft_onnx_attr *a = ft_onnx_node_attr(nd, name);
    return a && a->type == FT_ONNX_ATTR_INT ? a->i : def;
}

static float attr_f(const ft_onnx_node *nd, const char *name, float def)
{
    const ft_onnx_attr *a = ft_onnx_node_attr(nd, name);
    return a && a->type == FT_ONNX_ATTR_FLOAT ? a->f : def;
}

static const char *attr_s(const ft_onnx_node *nd, const char *name, const char *def)
{
    const ft_onnx_attr *a = ft_onnx_node_attr(nd, name);
    return a && a->type == FT_ONNX_ATTR_STRING ? a->s : def;
}

// INTS attribute of exactly `n` values into out (false if absent or
// another length).
static bool attr_ints(const ft_onnx_node *nd, const char *name, size_t n, int64_t *out)
{
    const ft_onnx_attr *a = ft_onnx_node_attr(nd, name);
    if (!a || a->type != FT_ONNX_ATTR_INTS || a->n_ints != n)
        return false;
    memcpy(out, a->ints, n * sizeof *out);
    return true;
}

// Rejects any attribute not in `known` (NULL-terminated), so an attribute
// we would silently ignore is reported instead.
static ft_status known_attrs(prep *p, const ft_onnx_node *nd, const char *const *known)
{
    for (size_t i = 0; i < nd->n_attrs; i++) {
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, nd->attrs[i].name) == 0;
        if (!ok)
            return unsup(p, nd, "attribute '%s' is not supported", nd->attrs[i].name);
    }
    return FT_OK;
}

// The only node reading value `name` (and not a graph output), or -1.
static int sole_consumer(prep *p, const char *name)
{
    const ft_onnx *m = p->m;
    int who = -1;
    for (size_t i = 0; i < m->n_outputs; i++)
        if (strcmp(m->outputs[i].name, name) == 0)
            return -1;
    for (size_t i = 0; i < m->n_nodes; i++)
        for (size_t k = 0; k < m->nodes[i].n_inputs; k++)
            if (strcmp(m->nodes[i].inputs[k], name) == 0) {
                if (who >= 0)
                    return -1;
                who = (int)i;
            }
    return who;
}

static bool is_op(const ft_onnx_node *nd, const char *op)
{
    return strcmp(nd->op_type, op) == 0 && (!*nd->domain || strcmp(nd->domain, "ai.onnx") == 0);
}

// Input k of a node as a value id (must be defined before).
static ft_status in_val(prep *p, const ft_onnx_node *nd, size_t k, int *out)
{
    if (k >= nd->n_inputs || !*nd->inputs[k])
        return ft_err_set(p->err, FT_E_FORMAT, "onnx: node '%s' (%s): input %zu missing",
                          nd->name, nd->op_type, k);
    int v = find_val(p->n, nd->inputs[k]);
    if (v < 0) {
        if (const_of(p, nd->inputs[k]))
            return unsup(p, nd, "constant input '%s' where a tensor is expected",
                         nd->inputs[k]);
        return ft_err_set(p->err, FT_E_FORMAT,
                          "onnx: node '%s' (%s): input '%s' is not produced before it",
                          nd->name, nd->op_type, nd->inputs[k]);
    }
    *out = v;
    return FT_OK;
}

static step *new_step(prep *p, const ft_onnx_node *nd, step_op o)
{
    ft_onnx_net *n = p->n;
    if (n->n_steps == p->cap_steps)
        return NULL;
    step *s = &n->steps[n->n_steps++];
    memset(s, 0, sizeof *s);
    s->op = o;
    s->node = nd->name;
    s->out = -1;
    s->flatten_axis = -1;
    return s;
}

// Activation of node `nd` as an engine activation, or false.
static bool act_of(prep *p, const ft_onnx_node *nd, ft_act *a)
{
    if (is_op(nd, "Relu")) {
        *a = FT_ACT_RELU;
        return true;
    }
    if (is_op(nd, "Sigmoid")) {
        *a = FT_ACT_SIGMOID;
        return true;
    }
    if (is_op(nd, "LeakyRelu")) {
        *a = FT_ACT_LEAKY; // the engine's slope is 0.1
        return fabsf(attr_f(nd, "alpha", 0.01f) - 0.1f) < 1e-6f;
    }
    if (is_op(nd, "Clip")) {
        // Clip(0, 6): attributes before opset 11, inputs after.
        float lo = attr_f(nd, "min", -INFINITY), hi = attr_f(nd, "max", INFINITY);
        const ft_onnx_tensor *tl = nd->n_inputs > 1 ? const_of(p, nd->inputs[1]) : NULL;
        const ft_onnx_tensor *th = nd->n_inputs > 2 ? const_of(p, nd->inputs[2]) : NULL;
        if ((nd->n_inputs > 1 && *nd->inputs[1] && !(tl && tl->f && tl->n_elems == 1)) ||
            (nd->n_inputs > 2 && *nd->inputs[2] && !(th && th->f && th->n_elems == 1)))
            return false;
        if (tl)
            lo = tl->f[0];
        if (th)
            hi = th->f[0];
        *a = FT_ACT_RELU6;
        if (lo == 0 && hi == 6)
            return true;
        *a = FT_ACT_RELU;
        return lo == 0 && isinf(hi) && hi > 0;
    }
    return false;
}

static ft_status prep_conv(prep *p, size_t ni)
{
    const ft_onnx_node *nd = &p->m->nodes[ni];
    static const char *const known[] = {"auto_pad", "dilations", "group",   "kernel_shape",
                                        "pads",     "strides",   NULL};
    ft_status st = known_attrs(p, nd, known);
    if (st != FT_OK)
        return st;
    int x;
    if ((st = in_val(p, nd, 0, &x)) != FT_OK)
        return st;
    if (p->n->vals[x].kind != K_MAP)
        return unsup(p, nd, "%s", "a Conv over a reshaped tensor");
    const ft_onnx_tensor *w = nd->n_inputs > 1 ? const_of(p, nd->inputs[1]) : NULL;
    const ft_onnx_tensor *b = nd->n_inputs > 2 ? const_of(p, nd->inputs[2]) : NULL;
    if (!w || !w->f || w->rank != 4)
        return unsup(p, nd, "%s", "weights that are not a constant 4-d float tensor");
    if (nd->n_inputs > 2 && *nd->inputs[2] && (!b || !b->f || b->n_elems != (size_t)w->dims[0]))
        return unsup(p, nd, "%s", "a bias that is not a constant float vector of C_out");
    int64_t group = attr_i(nd, "group", 1);
    int64_t cout = w->dims[0], cin_g = w->dims[1], kh = w->dims[2], kw = w->dims[3];
    int64_t v2[2];
    if (cout <= 0 || cin_g <= 0 || kh <= 0 || kw <= 0 || kh > 64 || kw > 64 || group <= 0 ||
        group > 65536 || cout > 65536 || cin_g > 65536 || cin_g * group > 65536)
        return unsup(p, nd, "%s", "weights of this shape");
    if (attr_ints(nd, "kernel_shape", 2, v2) && (v2[0] != kh || v2[1] != kw))
        return ft_err_set(p->err, FT_E_FORMAT, "onnx: node '%s' (Conv): kernel_shape does not "
                                               "match the weights", nd->name);
    if (ft_onnx_node_attr(nd, "dilations") &&
        !(attr_ints(nd, "dilations", 2, v2) && v2[0] == 1 && v2[1] == 1))
        return unsup(p, nd, "%s", "attribute 'dilations' other than 1");
    int64_t sy = 1, sx = 1;
    if (ft_onnx_node_attr(nd, "strides")) {
        if (!attr_ints(nd, "strides", 2, v2) || v2[0] != v2[1] || v2[0] < 1 || v2[0] > 16)
            return unsup(p, nd, "%s", "attribute 'strides' (unequal or out of range)");
        sy = v2[0];
        sx = v2[1];
    }
    (void)sx;
    bool depthwise = false;
    int64_t cin = cin_g;
    if (group == 1 && cin_g == 1 && cout == 1) {
        // One channel in, one out: the same sums as a depthwise conv on one
        // channel (same weight layout), whose kernel suits it better than a
        // GEMM with one column (YuNet's cls/obj heads).
        depthwise = true;
    } else if (group != 1) {
        if (cin_g != 1 || cout != group)
            return unsup(p, nd, "%s", "attribute 'group' (grouped convolution other than "
                                      "depthwise with multiplier 1)");
        depthwise = true;
        cin = group;
    }
    step *s = new_step(p, nd, S_CONV);
    if (!s)
        return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
    s->in[0] = x;
    s->n_in = 1;
    // Padding: zero pads -> VALID; the symmetric (k-1)/2 of a stride-1 odd
    // kernel -> TF's SAME (identical then); SAME_UPPER -> SAME; anything
    // else is copied in explicitly before a VALID convolution.
    ft_pad pad = FT_PAD_VALID;
    const char *ap = attr_s(nd, "auto_pad", "NOTSET");
    if (strcmp(ap, "SAME_UPPER") == 0) {
        pad = FT_PAD_SAME;
    } else if (strcmp(ap, "VALID") == 0) {
        pad = FT_PAD_VALID;
    } else if (strcmp(ap, "NOTSET") == 0) {
        int64_t pd[4] = {0, 0, 0, 0};
        if (ft_onnx_node_attr(nd, "pads") && !attr_ints(nd, "pads", 4, pd))
            return unsup(p, nd, "%s", "attribute 'pads' of this length");
        for (int i = 0; i < 4; i++)
            if (pd[i] < 0 || pd[i] > 64)
                return unsup(p, nd, "%s", "attribute 'pads' out of range");
        // ONNX order: top, left, bottom, right.
        bool zero = !pd[0] && !pd[1] && !pd[2] && !pd[3];
        bool same = sy == 1 && kh % 2 == 1 && kw % 2 == 1 && pd[0] == (kh - 1) / 2 &&
                    pd[2] == pd[0] && pd[1] == (kw - 1) / 2 && pd[3] == pd[1];
        if (same && !zero) {
            pad = FT_PAD_SAME;
        } else if (!zero) {
            s->has_prepad = true;
            for (int i = 0; i < 4; i++)
                s->prepad[i] = (int32_t)pd[i];
        }
    } else {
        return unsup(p, nd, "auto_pad '%s'", ap);
    }

    // Weights to the engine's layouts, BatchNormalization folded in.
    size_t nw = (size_t)w->n_elems;
    float *hw = ft_malloc(nw * sizeof(float) + (size_t)cout * sizeof(float));
    if (!hw)
        return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
    float *bias = hw + nw;
    for (int64_t o = 0; o < cout; o++)
        bias[o] = b ? b->f[o] : 0.0f;
    for (int64_t o = 0; o < cout; o++)
        for (int64_t i = 0; i < cin_g; i++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t xx = 0; xx < kw; xx++) {
                    float v = w->f[((o * cin_g + i) * kh + y) * kw + xx];
                    if (depthwise)
                        hw[(y * kw + xx) * cout + o] = v;
                    else
                        hw[((y * kw + xx) * cin + i) * cout + o] = v;
                }
    const char *out_name = nd->outputs[0];
    bool has_bias = b != NULL;
    int c = sole_consumer(p, out_name);
    if (c >= 0 && is_op(&p->m->nodes[c], "BatchNormalization")) {
        const ft_onnx_node *bn = &p->m->nodes[c];
        const ft_onnx_tensor *g = bn->n_inputs > 4 ? const_of(p, bn->inputs[1]) : NULL;
        const ft_onnx_tensor *be = bn->n_inputs > 4 ? const_of(p, bn->inputs[2]) : NULL;
        const ft_onnx_tensor *mu = bn->n_inputs > 4 ? const_of(p, bn->inputs[3]) : NULL;
        const ft_onnx_tensor *var = bn->n_inputs > 4 ? const_of(p, bn->inputs[4]) : NULL;
        size_t nc = (size_t)cout;
        if (g && be && mu && var && g->f && be->f && mu->f && var->f && g->n_elems == nc &&
            be->n_elems == nc && mu->n_elems == nc && var->n_elems == nc &&
            bn->n_outputs >= 1) {
            double eps = attr_f(bn, "epsilon", 1e-5f);
            for (int64_t o = 0; o < cout; o++) {
                double sc = g->f[o] / sqrt((double)var->f[o] + eps);
                for (size_t k = 0; k < nw / (size_t)cout; k++) {
                    // Output channel o is the fastest-moving index in both layouts.
                    size_t idx = k * (size_t)cout + (size_t)o;
                    hw[idx] = (float)(hw[idx] * sc);
                }
                bias[o] = (float)((bias[o] - mu->f[o]) * sc + be->f[o]);
            }
            has_bias = true;
            p->absorbed[c] = true;
            out_name = bn->outputs[0];
            c = sole_consumer(p, out_name);
        }
    }
    ft_act act = FT_ACT_NONE;
    if (c >= 0 && act_of(p, &p->m->nodes[c], &act) && p->m->nodes[c].n_outputs >= 1) {
        p->absorbed[c] = true;
        out_name = p->m->nodes[c].outputs[0];
    } else {
        act = FT_ACT_NONE;
    }
    ft_conv_desc d = {(int32_t)kh, (int32_t)kw, (int32_t)cin, (int32_t)cout, (int32_t)sy,
                      pad,          depthwise,   act};
    st = ft_conv_new(&d, hw, has_bias ? bias : NULL, &s->conv);
    if (st == FT_OK && kh == 1 && kw == 1 && sy == 1 && !depthwise && !s->has_prepad) {
        s->keep_w = hw; // for merge_siblings
        s->keep_bias = has_bias;
    } else {
        ft_free(hw);
    }
    if (st != FT_OK)
        return ft_err_set(p->err, st, "onnx: node '%s' (Conv): cannot prepare the layer: %s",
                          nd->name, ft_status_str(st));
    s->out = add_val(p, out_name, K_MAP);
    return FT_OK;
}

// Integer scale factors of a nearest Resize/Upsample on an NCHW tensor.
static ft_status ups_scales(prep *p, const ft_onnx_node *nd, const float *sc, size_t n,
                            int32_t *sh, int32_t *sw)
{
    if (n != 4 || sc[0] != 1.0f || sc[1] != 1.0f)
        return unsup(p, nd, "%s", "scales other than [1, 1, sh, sw]");
    for (int i = 2; i < 4; i++)
        if (!(sc[i] >= 1.0f && sc[i] <= 64.0f && sc[i] == floorf(sc[i])))
            return unsup(p, nd, "%s", "non-integer scales");
    *sh = (int32_t)sc[2];
    *sw = (int32_t)sc[3];
    return FT_OK;
}

static ft_status prep_resize(prep *p, const ft_onnx_node *nd)
{
    ft_status st;
    int x;
    if ((st = in_val(p, nd, 0, &x)) != FT_OK)
        return st;
    if (p->n->vals[x].kind != K_MAP)
        return unsup(p, nd, "%s", "resizing a reshaped tensor");
    int32_t sh = 1, sw = 1;
    const char *mode = attr_s(nd, "mode", "nearest");
    if (strcmp(mode, "nearest") != 0)
        return unsup(p, nd, "mode '%s' (only nearest)", mode);
    if (is_op(nd, "Upsample")) {
        static const char *const known[] = {"mode", "scales", NULL};
        if ((st = known_attrs(p, nd, known)) != FT_OK)
            return st;
        const ft_onnx_attr *a = ft_onnx_node_attr(nd, "scales");
        const ft_onnx_tensor *t = nd->n_inputs > 1 ? const_of(p, nd->inputs[1]) : NULL;
        if (a && a->type == FT_ONNX_ATTR_FLOATS)
            st = ups_scales(p, nd, a->floats, a->n_floats, &sh, &sw);
        else if (t && t->f)
            st = ups_scales(p, nd, t->f, t->n_elems, &sh, &sw);
        else
            st = unsup(p, nd, "%s", "scales that are not constant");
        if (st != FT_OK)
            return st;
    } else {
        static const char *const known[] = {"mode", "coordinate_transformation_mode",
                                            "nearest_mode", "cubic_coeff_a", "exclude_outside",
                                            NULL};
        if ((st = known_attrs(p, nd, known)) != FT_OK)
            return st;
        if (attr_i(nd, "exclude_outside", 0) != 0)
            return unsup(p, nd, "%s", "exclude_outside");
        // opset 10: (X, scales); 11+: (X, roi, scales[, sizes]).
        size_t si = p->m->opset >= 11 ? 2 : 1;
        const ft_onnx_tensor *t = nd->n_inputs > si ? const_of(p, nd->inputs[si]) : NULL;
        if (!t || !t->f || t->n_elems == 0)
            return unsup(p, nd, "%s", "sizes instead of constant scales");
        if (nd->n_inputs > si + 1 && *nd->inputs[si + 1])
            return unsup(p, nd, "%s", "sizes instead of constant scales");
        if ((st = ups_scales(p, nd, t->f, t->n_elems, &sh, &sw)) != FT_OK)
            return st;
        // Which coordinate rules give out[i] = in[floor(i / s)] for an
        // integer scale s, with i = q s + r (0 <= r < s):
        //  - asymmetric: source i / s = q + r/s; floor gives q always;
        //    round_prefer_floor gives q while r/s <= 1/2, i.e. for s <= 2;
        //  - half_pixel: source (i + 1/2)/s - 1/2 = q + (r - (s-1)/2)/s,
        //    whose fraction lies strictly inside (-1/2, 1/2): any
        //    round_prefer_* rounding gives q.
        const char *ct = attr_s(nd, "coordinate_transformation_mode", "half_pixel");
        const char *nm = attr_s(nd, "nearest_mode", "round_prefer_floor");
        bool asym = strcmp(ct, "asymmetric") == 0;
        bool half = strcmp(ct, "half_pixel") == 0 || strcmp(ct, "pytorch_half_pixel") == 0;
        bool rpf = strcmp(nm, "round_prefer_floor") == 0;
        bool rpc = strcmp(nm, "round_prefer_ceil") == 0;
        bool ok = (asym && strcmp(nm, "floor") == 0) || (half && (rpf || rpc)) ||
                  (asym && rpf && sh <= 2 && sw <= 2);
        if (!ok) {
            char what[160];
            snprintf(what, sizeof what, "%s + %s", ct, nm);
            return unsup(p, nd, "coordinate_transformation_mode/nearest_mode %s", what);
        }
    }
    step *s = new_step(p, nd, S_UPS);
    if (!s)
        return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
    s->in[0] = x;
    s->n_in = 1;
    s->sh = sh;
    s->sw = sw;
    s->out = add_val(p, nd->outputs[0], K_MAP);
    return FT_OK;
}

static ft_status prep_pool(prep *p, const ft_onnx_node *nd, bool max)
{
    static const char *const known[] = {"auto_pad", "ceil_mode", "kernel_shape", "pads",
                                        "strides", "count_include_pad", "dilations",
                                        "storage_order", NULL};
    ft_status st = known_attrs(p, nd, known);
    if (st != FT_OK)
        return st;
    int x;
    if ((st = in_val(p, nd, 0, &x)) != FT_OK)
        return st;
    if (p->n->vals[x].kind != K_MAP)
        return unsup(p, nd, "%s", "pooling a reshaped tensor");
    if (nd->n_outputs > 1 && *nd->outputs[1])
        return unsup(p, nd, "%s", "the Indices output");
    int64_t k[2], s2[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, dl[2];
    if (!attr_ints(nd, "kernel_shape", 2, k) || k[0] != k[1] || k[0] < 1 || k[0] > 64)
        return unsup(p, nd, "%s", "attribute 'kernel_shape' (must be square, 2-d)");
    if (ft_onnx_node_attr(nd, "strides") &&
        (!attr_ints(nd, "strides", 2, s2) || s2[0] != s2[1] || s2[0] < 1 || s2[0] > 64))
        return unsup(p, nd, "%s", "attribute 'strides' (must be equal)");
    if (attr_i(nd, "ceil_mode", 0) != 0)
        return unsup(p, nd, "%s", "attribute 'ceil_mode' = 1");
    if (ft_onnx_node_attr(nd, "dilations") &&
        !(attr_ints(nd, "dilations", 2, dl) && dl[0] == 1 && dl[1] == 1))
        return unsup(p, nd, "%s", "attribute 'dilations' other than 1");
    if (ft_onnx_node_attr(nd, "pads") && !attr_ints(nd, "pads", 4, pd))
        return unsup(p, nd, "%s", "attribute 'pads' of this length");
    const char *ap = attr_s(nd, "auto_pad", "NOTSET");
    ft_pad pad;
    bool zero = !pd[0] && !pd[1] && !pd[2] && !pd[3];
    bool same = s2[0] == 1 && k[0] % 2 == 1 && pd[0] == (k[0] - 1) / 2 && pd[1] == pd[0] &&
                pd[2] == pd[0] && pd[3] == pd[0];
    if (strcmp(ap, "SAME_UPPER") == 0 && max)
        pad = FT_PAD_SAME;
    else if (strcmp(ap, "VALID") == 0 || (strcmp(ap, "NOTSET") == 0 && zero))
        pad = FT_PAD_VALID;
    else if (strcmp(ap, "NOTSET") == 0 && same && max)
        pad = FT_PAD_SAME;
    else
        return unsup(p, nd, "%s", "this padding");
    step *s = new_step(p, nd, max ? S_MAXPOOL : S_AVGPOOL);
    if (!s)
        return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
    s->in[0] = x;
    s->n_in = 1;
    s->k = (int32_t)k[0];
    s->s = (int32_t)s2[0];
    s->pad = pad;
    s->out = add_val(p, nd->outputs[0], K_MAP);
    return FT_OK;
}

static ft_status prep_node(prep *p, size_t ni)
{
    const ft_onnx_node *nd = &p->m->nodes[ni];
    ft_status st;
    int x;
    ft_act act;

    if (*nd->domain && strcmp(nd->domain, "ai.onnx") != 0)
        return ft_err_set(p->err, FT_E_UNSUPPORTED,
                          "onnx: node '%s': op %s of domain '%s' is not supported", nd->name,
                          nd->op_type, nd->domain);
    if (nd->n_outputs < 1 || !*nd->outputs[0])
        return ft_err_set(p->err, FT_E_FORMAT, "onnx: node '%s' (%s) has no output", nd->name,
                          nd->op_type);
    if (is_op(nd, "Constant"))
        return FT_OK; // read through const_of
    if (is_op(nd, "Conv"))
        return prep_conv(p, ni);
    if (is_op(nd, "Resize") || is_op(nd, "Upsample"))
        return prep_resize(p, nd);
    if (is_op(nd, "MaxPool"))
        return prep_pool(p, nd, true);
    if (is_op(nd, "AveragePool"))
        return prep_pool(p, nd, false);
    if (is_op(nd, "BatchNormalization"))
        return unsup(p, nd, "%s", "a BatchNormalization that does not follow a Conv");
    if (act_of(p, nd, &act)) {
        if ((st = in_val(p, nd, 0, &x)) != FT_OK)
            return st;
        step *s = new_step(p, nd, S_ACT);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        s->in[0] = x;
        s->n_in = 1;
        s->act = act;
        s->out = add_val(p, nd->outputs[0], p->n->vals[x].kind);
        return FT_OK;
    }
    if (is_op(nd, "Relu") || is_op(nd, "LeakyRelu") || is_op(nd, "Clip"))
        return unsup(p, nd, "%s", "these parameters (LeakyRelu alpha 0.1, Clip 0..6 or 0..inf "
                                  "only)");
    if (is_op(nd, "Add")) {
        int a, b;
        if (nd->n_inputs != 2)
            return ft_err_set(p->err, FT_E_FORMAT, "onnx: node '%s' (Add): 2 inputs expected",
                              nd->name);
        if ((st = in_val(p, nd, 0, &a)) != FT_OK || (st = in_val(p, nd, 1, &b)) != FT_OK)
            return st;
        if (p->n->vals[a].kind != p->n->vals[b].kind)
            return unsup(p, nd, "%s", "adding a map and a reshaped tensor");
        step *s = new_step(p, nd, S_ADD);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        s->in[0] = a;
        s->in[1] = b;
        s->n_in = 2;
        s->out = add_val(p, nd->outputs[0], p->n->vals[a].kind);
        return FT_OK;
    }
    if (is_op(nd, "GlobalAveragePool")) {
        if ((st = in_val(p, nd, 0, &x)) != FT_OK)
            return st;
        if (p->n->vals[x].kind != K_MAP)
            return unsup(p, nd, "%s", "pooling a reshaped tensor");
        step *s = new_step(p, nd, S_GAP);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        s->in[0] = x;
        s->n_in = 1;
        s->out = add_val(p, nd->outputs[0], K_MAP);
        return FT_OK;
    }
    if (is_op(nd, "Identity") || is_op(nd, "Dropout")) {
        if ((st = in_val(p, nd, 0, &x)) != FT_OK)
            return st;
        step *s = new_step(p, nd, S_ALIAS);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        s->in[0] = x;
        s->n_in = 1;
        s->out = add_val(p, nd->outputs[0], p->n->vals[x].kind);
        return FT_OK;
    }
    if (is_op(nd, "Concat")) {
        if (nd->n_inputs < 1 || nd->n_inputs > MAX_IN)
            return unsup(p, nd, "%s", "this many inputs");
        step *s = new_step(p, nd, S_CONCAT);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        for (size_t k = 0; k < nd->n_inputs; k++) {
            if ((st = in_val(p, nd, k, &s->in[k])) != FT_OK)
                return st;
            if (p->n->vals[s->in[k]].kind != p->n->vals[s->in[0]].kind)
                return unsup(p, nd, "%s", "concatenating maps and reshaped tensors");
        }
        s->n_in = (int)nd->n_inputs;
        int64_t axis = attr_i(nd, "axis", 1);
        int kind = p->n->vals[s->in[0]].kind;
        if (kind == K_MAP && axis != 1 && axis != -3)
            return unsup(p, nd, "%s", "concatenating maps on an axis other than channels");
        if (axis < -FT_ONNX_MAX_RANK || axis >= FT_ONNX_MAX_RANK)
            return unsup(p, nd, "%s", "this axis");
        s->axis = (int)axis;
        s->out = add_val(p, nd->outputs[0], kind);
        return FT_OK;
    }
    if (is_op(nd, "Transpose")) {
        if ((st = in_val(p, nd, 0, &x)) != FT_OK)
            return st;
        const ft_onnx_attr *a = ft_onnx_node_attr(nd, "perm");
        if (!a || a->type != FT_ONNX_ATTR_INTS || a->n_ints < 1 ||
            a->n_ints > FT_ONNX_MAX_RANK)
            return unsup(p, nd, "%s", "a Transpose without a 'perm' of rank 1..8");
        step *s = new_step(p, nd, S_TRANSPOSE);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        s->rank = (int)a->n_ints;
        unsigned seen = 0;
        for (int i = 0; i < s->rank; i++) {
            if (a->ints[i] < 0 || a->ints[i] >= s->rank || (seen >> a->ints[i] & 1))
                return ft_err_set(p->err, FT_E_FORMAT,
                                  "onnx: node '%s' (Transpose): 'perm' is not a permutation",
                                  nd->name);
            seen |= 1u << a->ints[i];
            s->perm[i] = (int)a->ints[i];
        }
        if (p->n->vals[x].kind == K_MAP && s->rank != 4)
            return ft_err_set(p->err, FT_E_FORMAT,
                              "onnx: node '%s' (Transpose): 'perm' of rank %d for a 4-d map",
                              nd->name, s->rank);
        s->in[0] = x;
        s->n_in = 1;
        s->out = add_val(p, nd->outputs[0], K_DENSE);
        return FT_OK;
    }
    if (is_op(nd, "Reshape") || is_op(nd, "Flatten")) {
        if ((st = in_val(p, nd, 0, &x)) != FT_OK)
            return st;
        step *s = new_step(p, nd, S_RESHAPE);
        if (!s)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        if (is_op(nd, "Flatten")) {
            int64_t ax = attr_i(nd, "axis", 1);
            if (ax < 0 || ax > FT_ONNX_MAX_RANK)
                return unsup(p, nd, "%s", "a negative or large 'axis'");
            s->flatten_axis = (int)ax;
        } else {
            if (attr_i(nd, "allowzero", 0) != 0)
                return unsup(p, nd, "%s", "attribute 'allowzero'");
            const ft_onnx_tensor *t = nd->n_inputs > 1 ? const_of(p, nd->inputs[1]) : NULL;
            if (!t || !t->i || t->rank != 1 || t->n_elems < 1 ||
                t->n_elems > FT_ONNX_MAX_RANK)
                return unsup(p, nd, "%s", "a shape that is not a constant int64 vector");
            s->rank = (int)t->n_elems;
            int neg = 0;
            for (int i = 0; i < s->rank; i++) {
                s->shape[i] = t->i[i];
                if (t->i[i] < -1 || t->i[i] > (int64_t)1 << 31)
                    return ft_err_set(p->err, FT_E_FORMAT,
                                      "onnx: node '%s' (Reshape): bad shape entry", nd->name);
                neg += t->i[i] == -1;
            }
            if (neg > 1)
                return ft_err_set(p->err, FT_E_FORMAT,
                                  "onnx: node '%s' (Reshape): more than one -1", nd->name);
        }
        s->in[0] = x;
        s->n_in = 1;
        s->out = add_val(p, nd->outputs[0], K_DENSE);
        return FT_OK;
    }
    return ft_err_set(p->err, FT_E_UNSUPPORTED, "onnx: node '%s': op %s is not supported",
                      nd->name, nd->op_type);
}

// How many steps read value v (plus one if it is a graph output).
static int readers(const ft_onnx_net *n, int v)
{
    int k = 0;
    for (size_t i = 0; i < n->n_steps; i++)
        for (int j = 0; j < n->steps[i].n_in; j++)
            k += n->steps[i].in[j] == v;
    for (size_t i = 0; i < n->n_out; i++)
        k += n->outs[i] == v;
    return k;
}

static bool is_dw(const step *s)
{
    return s->op == S_CONV && !s->has_prepad && ft_conv_get_desc(s->conv)->depthwise;
}

static bool is_pw(const step *s)
{
    if (s->op != S_CONV || s->has_prepad)
        return false;
    const ft_conv_desc *d = ft_conv_get_desc(s->conv);
    return !d->depthwise && d->kh == 1 && d->kw == 1 && d->stride == 1;
}

// Removes step j (its convs have moved elsewhere).
static void drop_step(ft_onnx_net *n, size_t j)
{
    memmove(&n->steps[j], &n->steps[j + 1], (n->n_steps - j - 1) * sizeof *n->steps);
    n->n_steps--;
}

// A depthwise conv whose only reader is a 1x1 conv becomes one fused step
// (its output never goes to memory; same sums in the same order, so the
// outputs are bit for bit those of the two convs), and two such pairs in
// a chain one S_SEP2 step.
// Sibling 1x1 convolutions (same input, stride 1, same activation), like a
// detector's class, objectness, box and keypoint heads, become one conv
// over all their output channels followed by channel slices: the input is
// read once instead of once per head. Each output is the same dot product,
// possibly summed in another order (float rounding only).
static ft_status merge_siblings(prep *p)
{
    ft_onnx_net *n = p->n;
    ft_status st = FT_OK;
    for (size_t i = 0; i < n->n_steps && st == FT_OK; i++) {
        step *a = &n->steps[i];
        if (a->op != S_CONV || !a->keep_w)
            continue;
        const ft_conv_desc *da = ft_conv_get_desc(a->conv);
        size_t sib[64];
        int k = 0;
        int32_t total = 0;
        for (size_t j = i; j < n->n_steps && k < 64; j++) {
            step *b = &n->steps[j];
            if (b->op != S_CONV || !b->keep_w || b->in[0] != a->in[0])
                continue;
            const ft_conv_desc *db = ft_conv_get_desc(b->conv);
            if (db->act != da->act || db->c_in != da->c_in || total + db->c_out > 65536)
                continue;
            sib[k++] = j;
            total += db->c_out;
        }
        if (k < 2 || n->n_steps + 1 > p->cap_steps || n->n_vals + 1 > p->cap_vals)
            continue;
        int32_t cin = da->c_in;
        float *w = ft_malloc(((size_t)cin * total + (size_t)total) * sizeof(float));
        if (!w)
            return ft_err_set(p->err, FT_E_NOMEM, "out of memory");
        float *bias = w + (size_t)cin * total;
        int32_t c0 = 0;
        for (int q = 0; q < k; q++) {
            const step *b = &n->steps[sib[q]];
            int32_t co = ft_conv_get_desc(b->conv)->c_out;
            for (int32_t ci = 0; ci < cin; ci++)
                memcpy(w + (size_t)ci * total + c0, b->keep_w + (size_t)ci * co,
                       (size_t)co * sizeof(float));
            for (int32_t o = 0; o < co; o++)
                bias[c0 + o] = b->keep_bias ? b->keep_w[(size_t)cin * co + o] : 0.0f;
            c0 += co;
        }
        ft_conv_desc d = *da;
        d.c_out = total;
        ft_conv *merged = NULL;
        st = ft_conv_new(&d, w, bias, &merged);
        ft_free(w);
        if (st != FT_OK)
            return ft_err_set(p->err, st, "onnx: node '%s': cannot prepare merged 1x1 convs",
                              a->node);
        int mv = add_val(p, a->node, K_MAP); // a name for messages only
        // Step i becomes the merged conv; each sibling becomes a slice of
        // it, the first one right after it (one step inserted).
        memmove(&n->steps[i + 2], &n->steps[i + 1], (n->n_steps - i - 1) * sizeof *n->steps);
        n->n_steps++;
        for (int q = 1; q < k; q++)
            sib[q]++;
        n->steps[i + 1] = n->steps[i];
        sib[0] = i + 1;
        step *m0 = &n->steps[i];
        m0->conv = merged;
        m0->keep_w = NULL;
        m0->out = mv;
        c0 = 0;
        for (int q = 0; q < k; q++) {
            step *b = &n->steps[sib[q]];
            int32_t co = ft_conv_get_desc(b->conv)->c_out;
            ft_conv_free(b->conv);
            b->conv = NULL;
            ft_free(b->keep_w);
            b->keep_w = NULL;
            b->op = S_SLICE;
            b->in[0] = mv;
            b->n_in = 1;
            b->c0 = c0;
            b->cn = co;
            c0 += co;
        }
    }
    for (size_t i = 0; i < n->n_steps; i++) {
        ft_free(n->steps[i].keep_w);
        n->steps[i].keep_w = NULL;
    }
    return st;
}

static void fuse_separable(ft_onnx_net *n)
{
    for (size_t i = 0; i < n->n_steps; i++) {
        step *a = &n->steps[i];
        if (!is_dw(a) || readers(n, a->out) != 1)
            continue;
        for (size_t j = i + 1; j < n->n_steps; j++) {
            step *b = &n->steps[j];
            if (b->n_in < 1 || b->in[0] != a->out)
                continue;
            if (is_pw(b) && ft_conv_get_desc(b->conv)->c_in == ft_conv_get_desc(a->conv)->c_out) {
                a->op = S_SEP;
                a->conv2 = b->conv;
                a->out = b->out;
                drop_step(n, j);
            }
            break;
        }
    }
    for (size_t i = 0; i < n->n_steps; i++) {
        step *a = &n->steps[i];
        if (a->op != S_SEP || readers(n, a->out) != 1)
            continue;
        for (size_t j = i + 1; j < n->n_steps; j++) {
            step *b = &n->steps[j];
            if (b->n_in < 1 || b->in[0] != a->out)
                continue;
            if (b->op == S_SEP) {
                a->op = S_SEP2;
                a->conv3 = b->conv;
                a->conv4 = b->conv2;
                a->out = b->out;
                drop_step(n, j);
            }
            break;
        }
    }
}

ft_status ft_onnx_net_new(const ft_onnx *m, ft_onnx_net **out, ft_err *err)
{
    *out = NULL;
    ft_onnx_net *n = ft_calloc(1, sizeof *n);
    prep p = {m, n, 0, 0, NULL, NULL, err};
    ft_status st = FT_OK;
    if (!n)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    p.cap_steps = 2 * m->n_nodes + 1; // merge_siblings adds a step per group
    p.cap_vals = m->n_nodes * 2 + 2; // every node output + the input
    n->steps = ft_calloc(p.cap_steps, sizeof *n->steps);
    n->vals = ft_calloc(p.cap_vals, sizeof *n->vals);
    p.consts = ft_calloc(m->n_nodes + 1, sizeof *p.consts);
    p.absorbed = ft_calloc(m->n_nodes + 1, sizeof *p.absorbed);
    n->outs = ft_calloc(m->n_outputs + 1, sizeof *n->outs);
    n->out_names = ft_calloc(m->n_outputs + 1, sizeof *n->out_names);
    if (!n->steps || !n->vals || !p.consts || !p.absorbed || !n->outs || !n->out_names) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    // Names are borrowed from `m` while preparing and copied at the end.
    // The image input: the one graph input that is not an initializer.
    const ft_onnx_value *in = NULL;
    for (size_t i = 0; i < m->n_inputs; i++) {
        if (ft_onnx_is_initializer(m, m->inputs[i].name))
            continue;
        if (in) {
            st = ft_err_set(err, FT_E_UNSUPPORTED, "onnx: more than one graph input ('%s', "
                                                   "'%s')", in->name, m->inputs[i].name);
            goto done;
        }
        in = &m->inputs[i];
    }
    if (!in) {
        st = ft_err_set(err, FT_E_FORMAT, "onnx: the graph has no input");
        goto done;
    }
    if (in->rank != 4 || (in->elem_type && in->elem_type != FT_ONNX_FLOAT) ||
        (in->dims[0] > 1) || in->dims[1] < 1 || in->dims[1] > 4096) {
        st = ft_err_set(err, FT_E_UNSUPPORTED,
                        "onnx: input '%s': only one float32 image 1 x C x H x W is supported",
                        in->name);
        goto done;
    }
    n->in_c = (int32_t)in->dims[1];
    n->input = add_val(&p, in->name, K_MAP);
    for (size_t i = 0; i < m->n_nodes; i++)
        if (is_op(&m->nodes[i], "Constant")) {
            const ft_onnx_attr *a = ft_onnx_node_attr(&m->nodes[i], "value");
            if (!a || a->type != FT_ONNX_ATTR_TENSOR || !a->t || m->nodes[i].n_outputs != 1) {
                st = ft_err_set(err, FT_E_UNSUPPORTED,
                                "onnx: node '%s' (Constant): only a 'value' tensor is supported",
                                m->nodes[i].name);
                goto done;
            }
            p.consts[i] = a->t;
        }
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (p.absorbed[i])
            continue;
        if ((st = prep_node(&p, i)) != FT_OK)
            goto done;
        if (n->n_steps && n->steps[n->n_steps - 1].out < 0 &&
            !is_op(&m->nodes[i], "Constant")) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_outputs; i++) {
        int v = find_val(n, m->outputs[i].name);
        if (v < 0) {
            st = ft_err_set(err, FT_E_UNSUPPORTED, "onnx: output '%s' is not computed by a "
                                                   "supported node", m->outputs[i].name);
            goto done;
        }
        n->outs[i] = v;
    }
    n->n_out = m->n_outputs;
    if ((st = merge_siblings(&p)) != FT_OK)
        goto done;
    fuse_separable(n);
    // Copy the names we keep (values and outputs).
    size_t bytes = 0;
    for (size_t i = 0; i < n->n_vals; i++)
        bytes += strlen(n->vals[i].name) + 1;
    for (size_t i = 0; i < n->n_steps; i++)
        bytes += strlen(n->steps[i].node) + 1;
    n->names = ft_malloc(bytes + 1);
    if (!n->names) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    char *q = n->names;
    for (size_t i = 0; i < n->n_vals; i++) {
        size_t l = strlen(n->vals[i].name) + 1;
        memcpy(q, n->vals[i].name, l);
        n->vals[i].name = q;
        q += l;
    }
    for (size_t i = 0; i < n->n_steps; i++) {
        size_t l = strlen(n->steps[i].node) + 1;
        memcpy(q, n->steps[i].node, l);
        n->steps[i].node = q;
        q += l;
    }
    for (size_t i = 0; i < n->n_out; i++)
        n->out_names[i] = n->vals[n->outs[i]].name;
done:
    ft_free(p.consts);
    ft_free(p.absorbed);
    if (st != FT_OK) {
        // Names still point into `m`; free only what we own.
        ft_onnx_net_free(n);
        return st;
    }
    *out = n;
    return FT_OK;
}

void ft_onnx_net_free(ft_onnx_net *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_steps; i++) {
        ft_conv_free(n->steps[i].conv);
        ft_conv_free(n->steps[i].conv2);
        ft_conv_free(n->steps[i].conv3);
        ft_conv_free(n->steps[i].conv4);
        ft_free(n->steps[i].keep_w);
    }
    ft_free(n->steps);
    ft_free(n->vals);
    ft_free(n->outs);
    ft_free(n->out_names);
    ft_free(n->names);
    ft_free(n);
}

size_t ft_onnx_net_n_outputs(const ft_onnx_net *n)
{
    return n->n_out;
}

const char *ft_onnx_net_output_name(const ft_onnx_net *n, size_t i)
{
    return i < n->n_out ? n->out_names[i] : NULL;
}

int32_t ft_onnx_net_input_channels(const ft_onnx_net *n)
{
    return n->in_c;
}

// ---- Planning: shapes and memory for one input size ----

typedef struct vshape {
    int32_t h, w, c; // K_MAP
    int rank;        // K_DENSE (and a map's storage view: [1, H, W, C])
    int64_t dims[FT_ONNX_MAX_RANK];
    size_t n;
    int root;     // value whose buffer holds the data (itself unless an alias)
    size_t off;   // byte offset in the slab (roots only)
    size_t bytes; // buffer size (roots only)
    int last;     // last step reading it (roots: over all aliases)
    float *d;
} vshape;

typedef struct plan {
    vshape *v;
    size_t *scratch_off; // per step (prepad copies, band buffers); SIZE_MAX = none
    size_t slab;
    // Banded chains (see "Banded chains" below), per step: at a chain's
    // first step its length (0 elsewhere; -1 for the other members), the
    // final output rows per band and the scratch bytes.
    int *chain_len;
    int32_t *chain_rows;
    size_t *chain_scratch;
} plan;

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static size_t buf_bytes(size_t n)
{
    return ALIGN64(n * sizeof(float) + FT_TENSOR_PAD);
}

// The storage view of a value: dims of the row-major data as stored.
static void storage_dims(const vshape *s, int kind, int *rank, int64_t *dims)
{
    if (kind == K_MAP) {
        *rank = 4;
        dims[0] = 1;
        dims[1] = s->h;
        dims[2] = s->w;
        dims[3] = s->c;
    } else {
        *rank = s->rank;
        memcpy(dims, s->dims, sizeof s->dims);
    }
}

// Logical axis -> storage axis of a map (NCHW over HWC storage).
static const int map_axis[4] = {0, 3, 1, 2};

// Storage-level permutation of a transpose step; true when it moves no
// axis of size > 1 (the data is then unchanged: an alias).
static bool trans_perm(const step *s, const vshape *x, int kind, int *q, int *rank,
                       int64_t *in_dims)
{
    storage_dims(x, kind, rank, in_dims);
    for (int i = 0; i < s->rank; i++)
        q[i] = kind == K_MAP ? map_axis[s->perm[i]] : s->perm[i];
    int prev = -1;
    for (int i = 0; i < s->rank; i++) {
        if (in_dims[q[i]] == 1)
            continue;
        if (q[i] < prev)
            return false;
        prev = q[i];
    }
    return true;
}

static ft_status inval(ft_err *err, const step *s, const char *what)
{
    return ft_err_set(err, FT_E_INVALID, "onnx: node '%s': %s", s->node, what);
}

// Shapes of every value for an input h x w; which values alias which.
static ft_status plan_shapes(const ft_onnx_net *n, int32_t h, int32_t w, vshape *v, ft_err *err)
{
    for (size_t i = 0; i < n->n_vals; i++)
        v[i] = (vshape){.root = (int)i, .last = -1};
    vshape *x0 = &v[n->input];
    x0->h = h;
    x0->w = w;
    x0->c = n->in_c;
    x0->n = (size_t)h * w * n->in_c;
    for (size_t si = 0; si < n->n_steps; si++) {
        const step *s = &n->steps[si];
        const vshape *x = &v[s->in[0]];
        int kind = n->vals[s->in[0]].kind;
        vshape *y = &v[s->out];
        int32_t oh, ow;
        ft_status st;
        switch (s->op) {
        case S_CONV: {
            int32_t ih = x->h + (s->has_prepad ? s->prepad[0] + s->prepad[2] : 0);
            int32_t iw = x->w + (s->has_prepad ? s->prepad[1] + s->prepad[3] : 0);
            if (x->c != ft_conv_get_desc(s->conv)->c_in)
                return inval(err, s, "input channels differ from the weights'");
            if (ft_conv_out_shape(s->conv, ih, iw, &oh, &ow) != FT_OK)
                return inval(err, s, "input too small for the convolution");
            y->h = oh;
            y->w = ow;
            y->c = ft_conv_get_desc(s->conv)->c_out;
            break;
        }
        case S_SLICE:
            if (s->c0 + s->cn > x->c)
                return inval(err, s, "channel slice beyond the map");
            y->h = x->h;
            y->w = x->w;
            y->c = s->cn;
            break;
        case S_SEP:
        case S_SEP2: {
            if (x->c != ft_conv_get_desc(s->conv)->c_in ||
                ft_conv_out_shape(s->conv, x->h, x->w, &oh, &ow) != FT_OK ||
                (s->op == S_SEP2 && ft_conv_out_shape(s->conv3, oh, ow, &oh, &ow) != FT_OK))
                return inval(err, s, "input too small for the convolution");
            y->h = oh;
            y->w = ow;
            y->c = ft_conv_get_desc(s->op == S_SEP2 ? s->conv4 : s->conv2)->c_out;
            break;
        }
        case S_MAXPOOL:
        case S_AVGPOOL: {
            ft_conv_geom g;
            if (ft_conv_geom_make(x->h, x->w, x->c, x->c, s->k, s->k, s->s, s->pad, &g) !=
                FT_OK)
                return inval(err, s, "input too small for the pooling window");
            y->h = g.out_h;
            y->w = g.out_w;
            y->c = x->c;
            break;
        }
        case S_GAP:
            y->h = y->w = 1;
            y->c = x->c;
            break;
        case S_UPS:
            if ((int64_t)x->h * s->sh > 1 << 20 || (int64_t)x->w * s->sw > 1 << 20)
                return inval(err, s, "output too large");
            y->h = x->h * s->sh;
            y->w = x->w * s->sw;
            y->c = x->c;
            break;
        case S_ACT:
        case S_ALIAS:
            *y = *x;
            y->root = s->op == S_ALIAS ? x->root : s->out;
            break;
        case S_ADD: {
            const vshape *b = &v[s->in[1]];
            bool same = kind == K_MAP ? x->h == b->h && x->w == b->w && x->c == b->c
                                      : x->rank == b->rank &&
                                            !memcmp(x->dims, b->dims, sizeof x->dims);
            if (!same)
                return inval(err, s, "Add of different shapes (broadcasting is not supported)");
            *y = *x;
            y->root = s->out;
            break;
        }
        case S_CONCAT: {
            if (kind == K_MAP) {
                int32_t c = 0;
                for (int k = 0; k < s->n_in; k++) {
                    const vshape *a = &v[s->in[k]];
                    if (a->h != x->h || a->w != x->w)
                        return inval(err, s, "Concat of maps of different sizes");
                    c += a->c;
                }
                y->h = x->h;
                y->w = x->w;
                y->c = c;
            } else {
                int ax = s->axis < 0 ? s->axis + x->rank : s->axis;
                if (ax < 0 || ax >= x->rank)
                    return inval(err, s, "Concat axis out of range");
                *y = *x;
                y->dims[ax] = 0;
                for (int k = 0; k < s->n_in; k++) {
                    const vshape *a = &v[s->in[k]];
                    if (a->rank != x->rank)
                        return inval(err, s, "Concat of different ranks");
                    for (int d = 0; d < x->rank; d++)
                        if (d != ax && a->dims[d] != x->dims[d])
                            return inval(err, s, "Concat of different shapes");
                    y->dims[ax] += a->dims[ax];
                }
            }
            break;
        }
        case S_TRANSPOSE: {
            int q[FT_ONNX_MAX_RANK], r;
            int64_t d[FT_ONNX_MAX_RANK];
            bool alias = trans_perm(s, x, kind, q, &r, d);
            if (r != s->rank)
                return inval(err, s, "Transpose 'perm' of another rank than its input");
            y->rank = r;
            for (int i = 0; i < r; i++)
                y->dims[i] = d[q[i]];
            y->root = alias ? x->root : s->out;
            break;
        }
        case S_RESHAPE: {
            int r;
            int64_t d[FT_ONNX_MAX_RANK], ld[FT_ONNX_MAX_RANK];
            storage_dims(x, kind, &r, d);
            // Logical dims of the input (NCHW for a map).
            for (int i = 0; i < r; i++)
                ld[i] = kind == K_MAP ? d[map_axis[i]] : d[i];
            size_t total = kind == K_MAP ? (size_t)x->h * x->w * x->c : 1;
            if (kind != K_MAP)
                for (int i = 0; i < r; i++)
                    total *= (size_t)d[i];
            if (s->flatten_axis >= 0) {
                if (s->flatten_axis > r)
                    return inval(err, s, "Flatten axis beyond the rank");
                int64_t a = 1;
                for (int i = 0; i < s->flatten_axis; i++)
                    a *= ld[i];
                y->rank = 2;
                y->dims[0] = a;
                y->dims[1] = a ? (int64_t)total / a : 0;
            } else {
                y->rank = s->rank;
                int neg = -1;
                int64_t known = 1;
                for (int i = 0; i < s->rank; i++) {
                    int64_t e = s->shape[i];
                    if (e == 0) {
                        if (i >= r)
                            return inval(err, s, "Reshape 0 beyond the input's rank");
                        e = ld[i];
                    }
                    y->dims[i] = e;
                    if (e == -1)
                        neg = i;
                    else
                        known *= e;
                }
                if (neg >= 0) {
                    if (known == 0 || total % (size_t)known)
                        return inval(err, s, "Reshape -1 does not divide");
                    y->dims[neg] = (int64_t)total / known;
                }
            }
            size_t cnt = 1;
            for (int i = 0; i < y->rank; i++)
                cnt *= (size_t)y->dims[i];
            if (cnt != total)
                return inval(err, s, "Reshape to a different element count");
            // A map's HWC storage is its NCHW order when C == 1 or H*W == 1.
            bool alias = kind == K_DENSE || x->c == 1 || (x->h == 1 && x->w == 1);
            y->root = alias ? x->root : s->out;
            break;
        }
        }
        int ykind = n->vals[s->out].kind;
        if (ykind == K_MAP) {
            y->n = (size_t)y->h * y->w * y->c;
        } else if (s->op != S_ACT && s->op != S_ALIAS && s->op != S_ADD) {
            y->n = 1;
            for (int i = 0; i < y->rank; i++)
                y->n *= (size_t)y->dims[i];
        }
        (void)st;
    }
    return FT_OK;
}

// ---- Banded chains ----
//
// A run of steps where each output is read only by the next step, and each
// step computes output row r from input rows [r*s - pt, r*s - pt + k)
// (zero outside the map), runs band by band: for R final output rows the
// rows each step needs are worked out backwards, and every intermediate
// lives only in a cache-sized buffer per step instead of a whole map in
// memory. Rows a step reads on both sides of a band edge (its halo) are
// computed once: each buffer keeps the top rows of its step's output that
// the band above reads again (chain_layout). Same-padded stride-1 steps
// (convolutions, with their padding as geometry, and the fused separable
// steps, told where their band sits in the map) compute exactly their
// band's rows, none above it from a false top edge. Every row kept is that
// of the whole map, bit for bit, as the kernels compute rows independently.
// Bands run bottom to top so the last step can write straight into the
// output (a step that computed rows above its band from a false top edge
// would have them overwritten by the next band up).

#define BAND_BUDGET ((size_t)768 << 10) // bytes of a step's band (band_cost)
#define BAND_MIN_MAP ((size_t)2 << 20)  // chains only pay off on maps this large
#define BAND_MAX_WASTE 1.25             // computed / needed work
// Chains with an intermediate map of BAND_BIG_MAP or more (YuNet at 1080p:
// the 33 MB outputs of Conv_13 and Conv_16, which otherwise go to memory
// and back; at 640x480 the largest is 4.9 MB) may also be longer, in bands
// as low as one row, if the whole scratch of their layout fits
// BAND_BIG_BUDGET (docs/BENCHMARKS.md, 2026-12-05, fourth pass: larger
// budgets let Conv_0's chain grow, slower).
#define BAND_BIG_MAP ((size_t)16 << 20)
#define BAND_BIG_BUDGET ((size_t)1 << 20)

// Row geometry of a step: output row r reads input rows
// [r*s - pt, r*s - pt + k). False for steps that cannot be banded.
static bool row_geom(const step *s, int32_t *k, int32_t *st, int32_t *pt)
{
    const ft_conv_desc *d = s->conv ? ft_conv_get_desc(s->conv) : NULL;
    switch (s->op) {
    case S_CONV:
        if (s->has_prepad) {
            *k = d->kh, *st = d->stride, *pt = s->prepad[0];
            return true;
        }
        // fall through
    case S_SEP:
        if (d->pad == FT_PAD_VALID) {
            *k = d->kh, *st = d->stride, *pt = 0;
            return s->op == S_CONV || d->stride == 1;
        }
        if (d->stride != 1 || d->kh % 2 == 0)
            return false;
        *k = d->kh, *st = 1, *pt = (d->kh - 1) / 2;
        return true;
    case S_SEP2: {
        const ft_conv_desc *d2 = ft_conv_get_desc(s->conv3);
        if (d->pad != FT_PAD_SAME || d2->pad != FT_PAD_SAME || d->stride != 1 ||
            d2->stride != 1 || d->kh % 2 == 0 || d2->kh % 2 == 0)
            return false;
        *pt = (d->kh - 1) / 2 + (d2->kh - 1) / 2;
        *k = 2 * *pt + 1, *st = 1;
        return true;
    }
    case S_MAXPOOL:
        if (s->pad != FT_PAD_VALID)
            return false;
        *k = s->k, *st = s->s, *pt = 0;
        return true;
    case S_ACT:
        *k = 1, *st = 1, *pt = 0;
        return true;
    default:
        return false;
    }
}

// A padded conv whose padding the kernels can take as geometry
// (ft_conv_forward_pad) instead of a zero-padded copy of its input.
static bool prepad_direct(const step *s)
{
    const ft_conv_desc *d = ft_conv_get_desc(s->conv);
    return s->op == S_CONV && s->prepad[0] < d->kh && s->prepad[1] < d->kw &&
           !(d->kh == 1 && d->kw == 1);
}

// Same-padded stride-1 steps compute from the first input row they get.
static bool same_s1(const step *s)
{
    int32_t k = 1, st = 1, pt = 0;
    return row_geom(s, &k, &st, &pt) && !s->has_prepad && st == 1 && pt > 0;
}

// Same-padded stride-1 steps that a chain runs on exactly the rows it
// wants, so no row above the band is computed and thrown away: convolutions
// with their padding given as geometry (ft_conv_forward_pad), the fused
// separable steps told where their band sits in the map
// (ft_sepconv_forward_rows, ft_sepconv2_forward_rows).
static bool exact_s1(const step *s)
{
    return (s->op == S_CONV || s->op == S_SEP || s->op == S_SEP2) && same_s1(s);
}

// A same-padded stride-1 depthwise convolution whose output only a 2x2
// stride-2 max pool `q` reads: run as one (ft_dwconv_maxpool2_forward_rows),
// the convolution's output never written.
static bool dw_pool(const step *s, const step *q)
{
    return s->op == S_CONV && !s->has_prepad && ft_conv_get_desc(s->conv)->depthwise &&
           exact_s1(s) && q->op == S_MAXPOOL && q->k == 2 && q->s == 2 &&
           q->pad == FT_PAD_VALID && q->n_in == 1 && q->in[0] == s->out;
}

// Rows of one band of a chain of `len` steps from `h` whose final output
// rows are [o0, o1): for step i, wanted output rows [a[i], b[i]), of which
// rows from top[i] on are still held from the band below (top[i] >= the
// step's output height when nothing is), so computed output rows are
// [cs[i], e[i]) with e[i] = min(b[i], top[i]); input rows [lo[i], hi[i])
// are those the computed rows read.
static void band_rows(const ft_onnx_net *n, const vshape *v, size_t h, int len, int32_t o0,
                      int32_t o1, const int32_t *top, int32_t *a, int32_t *b, int32_t *e,
                      int32_t *cs, int32_t *lo, int32_t *hi)
{
    a[len - 1] = o0;
    b[len - 1] = o1;
    for (int i = len - 1; i >= 0; i--) {
        const step *s = &n->steps[h + (size_t)i];
        int32_t k = 1, st = 1, pt = 0, H = v[s->in[0]].h;
        row_geom(s, &k, &st, &pt);
        e[i] = i < len - 1 && top[i] < b[i] ? top[i] : b[i];
        int32_t l = a[i] * st - pt, u = (e[i] - 1) * st - pt + k;
        lo[i] = l < 0 ? 0 : l;
        hi[i] = u > H ? H : u;
        if (e[i] <= a[i]) // all held (bands near the top): nothing to compute
            e[i] = a[i], hi[i] = lo[i];
        cs[i] = same_s1(s) && !exact_s1(s) ? lo[i] : a[i];
        if (i > 0) {
            a[i - 1] = lo[i];
            b[i - 1] = hi[i];
        }
    }
}

#define MAX_CHAIN 32

// The layout of a chain run in bands of R final rows, bottom to top. Each
// step but the last has its own buffer, which keeps the top rows of its
// output that the band above reads again (the halo: rows a step reads on
// both sides of a band edge), moved down to the bottom of the buffer, so
// those rows and the rows they were computed from are not computed twice.
// A same-padded step that is not exact_s1 would compute p rows above its
// band (from a false top edge), thrown away. off[i]: the byte offset of step i's
// buffer in the chain's scratch (the padded band of a prepad conv after
// them, at off[len - 1]); *bytes: the whole scratch; *waste: computed
// output / needed output, in bytes, over the whole map. win[i] (if not
// NULL): the most rows step i's buffer holds; most[i] (if not NULL): the
// most output rows step i computes in a band; *held (if not NULL): the
// rows moved down for the band above / the rows computed, in bytes.
static void chain_layout(const ft_onnx_net *n, const vshape *v, size_t h, int len, int32_t R,
                         size_t *off, size_t *bytes, double *waste, int32_t *win, int32_t *most,
                         double *held)
{
    int32_t a[MAX_CHAIN], b[MAX_CHAIN], e[MAX_CHAIN], cs[MAX_CHAIN], lo[MAX_CHAIN],
        hi[MAX_CHAIN], top[MAX_CHAIN];
    size_t rows[MAX_CHAIN] = {0}, pad = 0;
    double work = 0, need = 0, moved = 0;
    const vshape *y = &v[n->steps[h + (size_t)len - 1].out];
    for (int i = 0; i < len; i++) {
        top[i] = INT32_MAX;
        if (most)
            most[i] = 0;
    }
    for (int32_t o1 = y->h; o1 > 0; o1 -= R) {
        int32_t o0 = o1 - R < 0 ? 0 : o1 - R;
        band_rows(n, v, h, len, o0, o1, top, a, b, e, cs, lo, hi);
        for (int i = 0; i < len; i++) {
            const step *s = &n->steps[h + (size_t)i];
            const vshape *o = &v[s->out];
            size_t row = (size_t)o->w * o->c * sizeof(float);
            if (e[i] > a[i])
                work += (double)(e[i] - cs[i]) * row;
            if (most && e[i] - a[i] > most[i])
                most[i] = e[i] - a[i];
            if (i < len - 1 && e[i] < b[i])
                moved += (double)(b[i] - e[i]) * row;
            if (i < len - 1 && (size_t)(b[i] - cs[i]) > rows[i])
                rows[i] = (size_t)(b[i] - cs[i]);
            if (s->has_prepad && !prepad_direct(s) && e[i] > a[i]) {
                const vshape *x = &v[s->in[0]];
                int32_t k = 1, st = 1, pt = 0;
                row_geom(s, &k, &st, &pt);
                size_t pb = ((size_t)(e[i] - a[i] - 1) * st + k) *
                            (size_t)(x->w + s->prepad[1] + s->prepad[3]) * x->c * sizeof(float);
                pad = pb > pad ? pb : pad;
            }
            top[i] = a[i];
        }
    }
    size_t at = 0;
    for (int i = 0; i < len; i++) {
        const vshape *o = &v[n->steps[h + (size_t)i].out];
        need += (double)o->h * o->w * o->c * sizeof(float);
        off[i] = at;
        if (i < len - 1)
            at += ALIGN64(rows[i] * o->w * o->c * sizeof(float) + FT_TENSOR_PAD);
    }
    *bytes = at + (pad ? ALIGN64(pad + FT_TENSOR_PAD) : 0);
    *waste = need > 0 ? work / need : 1e9;
    if (win)
        for (int i = 0; i < len; i++)
            win[i] = (int32_t)rows[i];
    if (held)
        *held = work > 0 ? moved / work : 0;
}

// The choice of chains and band heights: bytes of the largest band buffer
// and waste (computed / needed work) of a band of R rows in the middle, as
// if every band computed all the rows it reads (halo rows included). The
// layout that keeps halo rows (chain_layout) computes less than this, but
// choosing with it (longer chains, lower bands) was measured slower at
// 640x480 and no faster at 1080p (docs/BENCHMARKS.md, 2026-12-05).
static void band_cost(const ft_onnx_net *n, const vshape *v, size_t h, int len, int32_t R,
                      size_t *buf, double *waste)
{
    int32_t a[MAX_CHAIN], b[MAX_CHAIN], e[MAX_CHAIN], cs[MAX_CHAIN], lo[MAX_CHAIN],
        hi[MAX_CHAIN], top[MAX_CHAIN];
    for (int i = 0; i < len; i++)
        top[i] = INT32_MAX;
    const vshape *y = &v[n->steps[h + (size_t)len - 1].out];
    int32_t o0 = y->h / 2 - R / 2;
    if (o0 < 0)
        o0 = 0;
    int32_t o1 = o0 + R > y->h ? y->h : o0 + R;
    band_rows(n, v, h, len, o0, o1, top, a, b, e, cs, lo, hi);
    double work = 0, need = 0;
    *buf = 0;
    for (int i = 0; i < len; i++) {
        const step *s = &n->steps[h + (size_t)i];
        const vshape *o = &v[s->out];
        size_t row = (size_t)o->w * o->c * sizeof(float);
        int32_t c0 = same_s1(s) ? lo[i] : a[i];
        work += (double)(b[i] - c0) * row;
        need += (double)(o1 - o0) * ((double)o->h / y->h) * row;
        if (i < len - 1 && (size_t)(b[i] - c0) * row > *buf)
            *buf = (size_t)(b[i] - c0) * row;
    }
    // `need`: each step's rows in proportion to the band's share of the output.
    *waste = need > 0 ? work / need : 1e9;
}

// Finds the chains worth banding for this input size.
static void plan_chains(const ft_onnx_net *n, const vshape *v, plan *pl)
{
    size_t ns = n->n_steps;
    for (size_t i = 0; i < ns; i++) {
        pl->chain_len[i] = 0;
        pl->chain_rows[i] = 0;
        pl->chain_scratch[i] = 0;
    }
    if (n->bands == FT_ONNX_BANDS_NONE)
        return;
    int32_t k = 1, st = 1, pt = 0;
    for (size_t h = 0; h < ns;) {
        const step *s0 = &n->steps[h];
        if (!row_geom(s0, &k, &st, &pt) || n->vals[s0->in[0]].kind != K_MAP ||
            v[s0->out].root != s0->out) {
            h++;
            continue;
        }
        // The longest run of connected, bandable, single-reader steps.
        int len = 1;
        while (h + (size_t)len < ns && len < MAX_CHAIN) {
            const step *p = &n->steps[h + (size_t)len - 1], *q = &n->steps[h + (size_t)len];
            if (!row_geom(q, &k, &st, &pt) || q->n_in != 1 || q->in[0] != p->out ||
                v[q->out].root != q->out || readers(n, p->out) != 1)
                break;
            len++;
        }
        // The longest prefix (>= 2 steps) that pays: large maps, little waste.
        int best = 0;
        int32_t best_r = 0;
        size_t best_scr = 0;
        for (int l = 2; l <= len; l++) {
            size_t big = 0, most = 0;
            for (int i = 0; i < l - 1; i++) {
                size_t b = v[n->steps[h + (size_t)i].out].n * sizeof(float);
                big += b;
                most = b > most ? b : most;
            }
            if (big < BAND_MIN_MAP)
                continue;
            const vshape *y = &v[n->steps[h + (size_t)l - 1].out];
            bool ok = false;
            for (int32_t R = y->h; R >= 2; R /= 2) {
                size_t buf;
                double waste;
                band_cost(n, v, h, l, R, &buf, &waste);
                if (buf > BAND_BUDGET)
                    continue;
                if (waste <= BAND_MAX_WASTE) {
                    best = l;
                    best_r = R;
                    ok = true;
                }
                break;
            }
            if (ok || most < BAND_BIG_MAP)
                continue;
            // Maps of 1080p frames: a prefix the rule above refuses, in low
            // bands, judged by the layout that keeps halo rows.
            for (int32_t R = y->h; R >= 1; R /= 2) {
                size_t off[MAX_CHAIN], scr;
                double waste;
                chain_layout(n, v, h, l, R, off, &scr, &waste, NULL, NULL, NULL);
                if (scr > BAND_BIG_BUDGET)
                    continue;
                if (waste <= BAND_MAX_WASTE) {
                    best = l;
                    best_r = R;
                }
                break;
            }
        }
        if (!best) {
            h++;
            continue;
        }
        size_t off[MAX_CHAIN];
        double waste;
        chain_layout(n, v, h, best, best_r, off, &best_scr, &waste, NULL, NULL, NULL);
        pl->chain_len[h] = best;
        for (int i = 1; i < best; i++)
            pl->chain_len[h + (size_t)i] = -1;
        pl->chain_rows[h] = best_r;
        pl->chain_scratch[h] = best_scr;
        h += (size_t)best;
    }
}

// A nearest upsampling whose output only the Add after it reads (YuNet's
// Resize_43 + Add_44, Resize_49 + Add_50): the Add's input that the
// upsampling makes (0 or 1), or -1 when they cannot run as one (the
// upsampled map is then written and read back: at 1080p 8 MB each way).
static int ups_add_shape(const ft_onnx_net *n, const plan *pl, size_t si)
{
    const step *s = &n->steps[si], *q = s + 1;
    if (s->op != S_UPS || n->vals[s->in[0]].kind != K_MAP || si + 1 >= n->n_steps ||
        pl->chain_len[si + 1] != 0 || q->op != S_ADD || q->n_in != 2 ||
        n->vals[q->in[0]].kind != K_MAP || readers(n, s->out) != 1 ||
        pl->v[q->out].root != q->out || pl->v[s->out].root != s->out)
        return -1;
    int k = q->in[0] == s->out ? 0 : q->in[1] == s->out ? 1 : -1;
    if (k < 0 || q->in[1 - k] == s->out)
        return -1;
    return k;
}

// ups_add_shape, and the maps as placed in memory allow it.
static int ups_add_input(const ft_onnx_net *n, const plan *pl, size_t si)
{
    int k = ups_add_shape(n, pl, si);
    if (k < 0)
        return -1;
    const step *s = &n->steps[si], *q = s + 1;
    // The Add's output must not overlap the small map, which it reads after
    // writing rows, nor its other input but exactly.
    const vshape *x = &pl->v[s->in[0]], *b = &pl->v[q->in[1 - k]], *y = &pl->v[q->out];
    const float *xd = pl->v[x->root].d, *bd = pl->v[b->root].d, *yd = y->d;
    if (xd < yd + y->n && yd < xd + x->n)
        return -1;
    if (bd != yd && bd < yd + y->n && yd < bd + b->n)
        return -1;
    return k;
}

// Rows [r0, r1) of y = u + b (k = 0) or b + u (k = 1), u the nearest
// upsampling of x by (sh, sw), y of w x c, b the whole of b's map: written
// to dst from its start. The Add's sums in its operand order, the same bits
// as writing u and ft_add.
static void ups_add_rows(const ft_map *x, int32_t sh, int32_t sw, const float *b, int k, int32_t w,
                         int32_t c, int32_t r0, int32_t r1, float *dst)
{
    size_t cc = (size_t)c, orow = (size_t)w * cc;
    for (int32_t oy = r0; oy < r1; oy++) {
        const float *row = x->d + (size_t)(oy / sh) * x->w * cc;
        const float *br = b + (size_t)oy * orow;
        float *o = dst + (size_t)(oy - r0) * orow;
        for (int32_t ox = 0; ox < w; ox++) {
            const float *u = row + (size_t)(ox / sw) * cc;
            const float *bp = br + (size_t)ox * cc;
            float *op = o + (size_t)ox * cc;
            if (k == 0)
                for (size_t i = 0; i < cc; i++)
                    op[i] = u[i] + bp[i];
            else
                for (size_t i = 0; i < cc; i++)
                    op[i] = bp[i] + u[i];
        }
    }
}

// The upsampling step whose fused Add (ups_add_input) makes the input of
// the chain at step h, when the chain's first step alone reads it (YuNet's
// Resize_49 + Add_50 before Conv_51's chain at 1080p), or -1. The chain then
// computes the rows each band reads just before it (ups_add_rows), into the
// top rows of the Add's own map, which nothing else reads: the 8 MB map is
// not written whole and read back from memory.
// The maps the upsampling and the Add read must then live until the chain
// has run (plan_memory, with `placed` false: the shapes only). *k: the
// Add's input that the upsampling makes (ups_add_shape).
static int chain_ups(const ft_onnx_net *n, const plan *pl, size_t h, bool placed, int *k)
{
    if (h < 2 || pl->chain_len[h] <= 0 ||
        (*k = placed ? ups_add_input(n, pl, h - 2) : ups_add_shape(n, pl, h - 2)) < 0)
        return -1;
    const step *q = &n->steps[h - 1], *s = &n->steps[h];
    if (s->in[0] != q->out || readers(n, q->out) != 1)
        return -1;
    if (placed) {
        // Band rows go to the top of the Add's map: not in place over b.
        const vshape *b = &pl->v[q->in[1 - *k]], *y = &pl->v[q->out];
        const float *bd = pl->v[b->root].d, *yd = y->d;
        if (bd < yd + y->n && yd < bd + b->n)
            return -1;
    }
    return (int)h - 2;
}

// Lifetimes and first-fit offsets. Roots read after step t die after t;
// graph outputs and the input never die.
static ft_status plan_memory(const ft_onnx_net *n, vshape *v, const plan *pl,
                             size_t *scratch_off, size_t *slab, size_t *live_off,
                             size_t *live_len, ft_err *err)
{
    size_t ns = n->n_steps;
    for (size_t si = 0; si < ns; si++)
        for (int k = 0; k < n->steps[si].n_in; k++) {
            int r = v[n->steps[si].in[k]].root;
            v[r].last = (int)si;
        }
    for (size_t i = 0; i < n->n_out; i++)
        v[v[n->outs[i]].root].last = (int)ns; // never freed
    for (size_t h = 2; h < ns; h++) {
        int ua, u = chain_ups(n, pl, h, false, &ua);
        if (u < 0)
            continue;
        // The Add is made band by band inside the chain at h (chain_ups).
        const step *us = &n->steps[u];
        int r[2] = {v[us->in[0]].root, v[us[1].in[1 - ua]].root};
        for (int k = 0; k < 2; k++)
            if (v[r[k]].last < (int)h)
                v[r[k]].last = (int)h;
    }
    // live_* hold the allocated intervals, kept sorted by offset.
    size_t n_live = 0, top = 0;
    size_t *own = live_len + (n->n_vals + n->n_steps + 1); // owner ids per interval
    for (size_t si = 0; si < ns; si++) {
        const step *s = &n->steps[si];
        size_t want[2] = {0, 0};
        int ids[2] = {-1, -1};
        if (pl->chain_len[si] > 0) {
            // The whole chain runs here: its scratch, and its final output
            // (allocated now, so it cannot overlap the chain's input).
            int out = n->steps[si + (size_t)pl->chain_len[si] - 1].out;
            want[0] = pl->chain_scratch[si];
            ids[0] = -2 - (int)si;
            want[1] = buf_bytes(v[out].n);
            ids[1] = out;
        } else if (pl->chain_len[si] < 0) {
            // A member: computed with its chain.
        } else if (s->has_prepad) {
            const vshape *x = &v[s->in[0]];
            size_t ph = (size_t)(x->h + s->prepad[0] + s->prepad[2]);
            size_t pw = (size_t)(x->w + s->prepad[1] + s->prepad[3]);
            want[0] = buf_bytes(ph * pw * (size_t)x->c);
            ids[0] = -2 - (int)si; // scratch
        }
        if (pl->chain_len[si] == 0 && v[s->out].root == s->out) {
            want[1] = buf_bytes(v[s->out].n);
            ids[1] = s->out;
        }
        for (int k = 0; k < 2; k++) {
            if (ids[k] == -1)
                continue;
            size_t at = 0, pos = 0;
            for (; pos < n_live; pos++) {
                if (live_off[pos] >= at + want[k])
                    break;
                if (live_off[pos] + live_len[pos] > at)
                    at = live_off[pos] + live_len[pos];
            }
            memmove(&live_off[pos + 1], &live_off[pos], (n_live - pos) * sizeof *live_off);
            memmove(&live_len[pos + 1], &live_len[pos], (n_live - pos) * sizeof *live_len);
            memmove(&own[pos + 1], &own[pos], (n_live - pos) * sizeof *own);
            live_off[pos] = at;
            live_len[pos] = want[k];
            own[pos] = (size_t)(ids[k] + 1 + (int)ns + 1); // shift to non-negative
            n_live++;
            if (at + want[k] > top)
                top = at + want[k];
            if (ids[k] >= 0) {
                v[ids[k]].off = at;
                v[ids[k]].bytes = want[k];
            } else {
                scratch_off[si] = at;
            }
        }
        // Free the scratch and every root whose last reader is this step.
        for (size_t pos = 0; pos < n_live;) {
            int id = (int)own[pos] - (int)ns - 2;
            bool dead = id < -1 ? true : (id >= 0 && id != n->input && v[id].last <= (int)si);
            if (id >= 0 && v[id].root != id)
                dead = false;
            if (dead) {
                memmove(&live_off[pos], &live_off[pos + 1], (n_live - pos - 1) * sizeof *live_off);
                memmove(&live_len[pos], &live_len[pos + 1], (n_live - pos - 1) * sizeof *live_len);
                memmove(&own[pos], &own[pos + 1], (n_live - pos - 1) * sizeof *own);
                n_live--;
            } else {
                pos++;
            }
        }
    }
    (void)err;
    *slab = top;
    return FT_OK;
}

// Scratch the planner needs: shapes, scratch offsets and three interval arrays.
static size_t plan_meta_bytes(const ft_onnx_net *n)
{
    size_t k = n->n_vals + n->n_steps + 1;
    return ALIGN64(n->n_vals * sizeof(vshape)) + ALIGN64(n->n_steps * sizeof(size_t) + 8) +
           ALIGN64(3 * k * sizeof(size_t) + 8) + ALIGN64(n->n_steps * sizeof(int) + 8) +
           ALIGN64(n->n_steps * sizeof(int32_t) + 8) + ALIGN64(n->n_steps * sizeof(size_t) + 8);
}

static ft_status plan_all(const ft_onnx_net *n, int32_t h, int32_t w, unsigned char *meta,
                          plan *pl, ft_err *err)
{
    pl->v = (vshape *)meta;
    meta += ALIGN64(n->n_vals * sizeof(vshape));
    pl->scratch_off = (size_t *)meta;
    meta += ALIGN64(n->n_steps * sizeof(size_t) + 8);
    size_t *live = (size_t *)meta;
    size_t k = n->n_vals + n->n_steps + 1;
    meta += ALIGN64(3 * k * sizeof(size_t) + 8);
    pl->chain_len = (int *)meta;
    meta += ALIGN64(n->n_steps * sizeof(int) + 8);
    pl->chain_rows = (int32_t *)meta;
    meta += ALIGN64(n->n_steps * sizeof(int32_t) + 8);
    pl->chain_scratch = (size_t *)meta;
    for (size_t i = 0; i < n->n_steps; i++)
        pl->scratch_off[i] = SIZE_MAX;
    ft_status st = plan_shapes(n, h, w, pl->v, err);
    if (st != FT_OK)
        return st;
    plan_chains(n, pl->v, pl);
    return plan_memory(n, pl->v, pl, pl->scratch_off, &pl->slab, live, live + k, err);
}

ft_status ft_onnx_net_plan(const ft_onnx_net *n, int32_t h, int32_t w, size_t *bytes, ft_err *err)
{
    if (h < 1 || w < 1 || h > 16384 || w > 16384)
        return ft_err_set(err, FT_E_INVALID, "onnx: input size %dx%d out of range", (int)w,
                          (int)h);
    size_t mb = plan_meta_bytes(n);
    unsigned char *meta = ft_aligned_alloc(mb);
    if (!meta)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    plan pl;
    ft_status st = plan_all(n, h, w, meta, &pl, err);
    if (st == FT_OK) {
        // + the arena's alignment of each allocation, + NCHW copies of
        // map outputs (ft_onnx_net_run's last loop).
        size_t b = mb + pl.slab + 2 * 128;
        for (size_t i = 0; i < n->n_out; i++) {
            const vshape *o = &pl.v[n->outs[i]];
            if (n->vals[n->outs[i]].kind == K_MAP)
                b += buf_bytes(o->n) + 128;
        }
        *bytes = b;
    }
    ft_aligned_free(meta);
    return st;
}

// ---- Execution ----

// Step times for profiling are the calling thread's CPU time: on a shared
// machine wall time mostly measures the other processes (the bench runs
// one thread; with a pool, workers' time is not counted).
static double step_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Steps si and si + 1 ran as one: the profile books the time to the first
// and nothing (time, work) to the second.
static void fused_pair_booked(double *step_ms, int64_t *step_macs, size_t si, double t0)
{
    if (step_ms) {
        step_ms[si] = step_clock_ms() - t0;
        step_ms[si + 1] = 0;
    }
    if (step_macs)
        step_macs[si + 1] = 0;
}

// Generic row-major transpose: y[i0..] = x[...] with y's axis i = x's q[i].
static void transpose(const float *x, int r, const int64_t *xd, const int *q, float *y)
{
    size_t xs[FT_ONNX_MAX_RANK], n = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = n;
        n *= (size_t)xd[i];
    }
    int64_t yd[FT_ONNX_MAX_RANK], idx[FT_ONNX_MAX_RANK] = {0};
    for (int i = 0; i < r; i++)
        yd[i] = xd[q[i]];
    for (size_t o = 0; o < n; o++) {
        size_t src = 0;
        for (int i = 0; i < r; i++)
            src += (size_t)idx[i] * xs[q[i]];
        y[o] = x[src];
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < yd[i])
                break;
            idx[i] = 0;
        }
    }
}

static void act_loop(float *d, size_t n, ft_act a)
{
    for (size_t i = 0; i < n; i++) {
        float v = d[i];
        switch (a) {
        case FT_ACT_RELU:
            v = v > 0 ? v : 0;
            break;
        case FT_ACT_RELU6:
            v = v > 0 ? (v < 6 ? v : 6) : 0;
            break;
        case FT_ACT_LEAKY:
            v = v >= 0 ? v : 0.1f * v;
            break;
        case FT_ACT_SIGMOID:
            v = 1.0f / (1.0f + expf(-v));
            break;
        default:
            break;
        }
        d[i] = v;
    }
}

// One step of a chain on a band: x holds its input rows, y receives y->h
// output rows (top rows only for same-padded steps).
static ft_status band_step(ft_nn_ctx *ctx, const step *s, const ft_map *x, ft_map *y)
{
    switch (s->op) {
    case S_CONV:
        return ft_conv_forward(ctx, s->conv, x, y);
    case S_SEP:
        return ft_sepconv_forward(ctx, s->conv, s->conv2, x, y);
    case S_SEP2:
        return ft_sepconv2_forward(ctx, s->conv, s->conv2, s->conv3, s->conv4, x, y);
    case S_MAXPOOL:
        return ft_maxpool(ctx, x, s->k, s->s, s->pad, y);
    case S_ACT:
        memcpy(y->d, x->d, ft_map_count(y) * sizeof(float));
        ft_activate(ctx, y, s->act);
        return FT_OK;
    default:
        return FT_E_INTERNAL;
    }
}

// Rows [e, b) of a step's buffer were computed for the band below, where
// they sat from row pcs on; they go after the rows [cs, e) computed now.
static void hold_rows(float *buf, size_t orow, int32_t cs, int32_t pcs, int32_t e, int32_t b)
{
    memmove(buf + (size_t)(e - cs) * orow, buf + (size_t)(e - pcs) * orow,
            (size_t)(b - e) * orow * sizeof(float));
}

static int32_t gcd32(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return (int32_t)a;
}

// Chains run in rings when the held rows they would move are at least
// this share of the output rows they compute (chain_layout's *held): YuNet
// at 1080p (Conv_7's chain in one-row bands: 0.50; the others 0.07-0.19),
// 1.5-5 % faster than moving them (interleaved, docs/BENCHMARKS.md,
// 2026-12-05). Below it, the rings' memory, apart from the slab that the
// other steps keep in cache, costs more than the moves it saves: at
// 320x256 (0.008-0.013) rings everywhere were 3-8 % slower.
#define RING_MIN_HELD 0.05

#define CHAIN_RINGS 32 // the most rings ft_nn_ctx_rings gives at once

// Rows of a ring for w rows of `row` bytes: a whole number of pages and
// of rows; 0 when that would take more than twice the rows plus a page.
static int32_t ring_rows(int32_t w, size_t row, size_t page)
{
    int32_t g = (int32_t)(page / (size_t)gcd32((int64_t)row, (int64_t)page));
    if (w < 1)
        w = 1;
    int32_t nr = (w + g - 1) / g * g;
    return (size_t)nr * row > 2 * (size_t)w * row + page ? 0 : nr;
}

// The rings of a chain run in bands (when the context has them):
// - with `rows`, for the steps but the last, whose step i keeps up to
//   win[i] rows: step i's output row r then sits at row r mod nr[i] of
//   ring[i], and a window of up to nr[i] rows from any row reads and writes
//   as contiguous memory (ft_mirror_alloc), so the rows the band above reads
//   again are never moved;
// - on one thread, for each two-pair separable step i, keep[i]: the ring in
//   which ft_sepconv2_forward_kept keeps its intermediate rows from one band
//   to the next (most[i] output rows a band and dw2's halo), so they are
//   not computed twice (keep[i].ring stays NULL for other steps).
// Returns whether the row rings are had; false (plain buffers, no rings at
// all) when a ring would be too large or the context has none.
static bool chain_rings(const ft_onnx_net *n, ft_nn_ctx *ctx, const vshape *v, size_t h, int len,
                        bool rows, const int32_t *win, const int32_t *most, void **ring,
                        int32_t *nr, ft_sep2_keep *keep)
{
    for (int i = 0; i < len; i++)
        keep[i] = (ft_sep2_keep){0};
    if (n->bands != FT_ONNX_BANDS_RINGS || len < 2)
        return false;
    size_t page = ft_page_bytes(), bytes[CHAIN_RINGS];
    void *got[CHAIN_RINGS];
    int want = 0, who[CHAIN_RINGS];
    for (int i = 0; rows && i < len - 1; i++) {
        const vshape *o = &v[n->steps[h + (size_t)i].out];
        size_t row = (size_t)o->w * o->c * sizeof(float);
        nr[i] = ring_rows(win[i], row, page);
        if (!nr[i] || want == CHAIN_RINGS)
            return false;
        who[want] = i;
        bytes[want++] = (size_t)nr[i] * row;
    }
    for (int i = 0; i < len && ft_nn_ctx_threads(ctx) == 1; i++) {
        const step *s = &n->steps[h + (size_t)i];
        if (s->op != S_SEP2)
            continue;
        // As for the row rings: only where the rows it spares, dw2's halo
        // on each band edge, are RING_MIN_HELD of the rows computed (at
        // 320x256, two bands: 3 %).
        const vshape *x = &v[s->in[0]];
        int32_t halo = ft_conv_get_desc(s->conv3)->kh - 1, m = most[i] > 0 ? most[i] : 1;
        double edges = (double)((v[s->out].h + m - 1) / m - 1) * halo;
        if (edges < RING_MIN_HELD * (v[s->out].h + edges))
            continue;
        size_t row = (size_t)x->w * (size_t)ft_conv_get_desc(s->conv2)->c_out * sizeof(float);
        int32_t k = ring_rows(most[i] + halo, row, page);
        if (!k || want == CHAIN_RINGS)
            continue;
        keep[i].n = k;
        who[want] = len + i;
        bytes[want++] = (size_t)k * row;
    }
    if (!want || !ft_nn_ctx_rings(ctx, want, bytes, got)) {
        for (int i = 0; i < len; i++)
            keep[i] = (ft_sep2_keep){0};
        return false;
    }
    for (int q = 0; q < want; q++) {
        if (who[q] < len)
            ring[who[q]] = got[q];
        else
            keep[who[q] - len].ring = got[q];
    }
    return rows;
}

// Runs the chain starting at step h band by band, bottom to top (see
// chain_layout for its buffers, chain_rings for the rings that replace
// them when the context has them).
static ft_status run_chain(const ft_onnx_net *n, ft_nn_ctx *ctx, const plan *pl, size_t h,
                           unsigned char *scratch, double *step_ms, ft_err *err)
{
    int len = pl->chain_len[h];
    const vshape *v = pl->v;
    const step *last = &n->steps[h + (size_t)len - 1];
    const vshape *yv = &v[last->out];
    int32_t R = pl->chain_rows[h];
    size_t off[MAX_CHAIN] = {0}, bytes;
    double waste;
    int32_t win[MAX_CHAIN], most[MAX_CHAIN], nr[MAX_CHAIN];
    void *ring[MAX_CHAIN];
    ft_sep2_keep keep[MAX_CHAIN];
    double held;
    chain_layout(n, v, h, len, R, off, &bytes, &waste, win, most, &held);
    FT_ASSERT(bytes <= pl->chain_scratch[h]);
    bool rings =
        chain_rings(n, ctx, v, h, len, held >= RING_MIN_HELD, win, most, ring, nr, keep);
    int ua, ups = chain_ups(n, pl, h, true, &ua);
    float *padbuf = (float *)(scratch + off[len - 1]);
    int32_t a[MAX_CHAIN], b[MAX_CHAIN], e[MAX_CHAIN], cs[MAX_CHAIN], lo[MAX_CHAIN],
        hi[MAX_CHAIN], top[MAX_CHAIN], pcs[MAX_CHAIN];
    for (int i = 0; i < len; i++)
        top[i] = pcs[i] = INT32_MAX;
    for (int32_t o1 = yv->h; o1 > 0; o1 -= R) {
        int32_t o0 = o1 - R < 0 ? 0 : o1 - R;
        band_rows(n, v, h, len, o0, o1, top, a, b, e, cs, lo, hi);
        const float *in = NULL;
        int moved = -1; // a step whose held rows are already in place
        // Profiling: the time from one step's start to the next's is the
        // first one's (a fused pair's, its first step's).
        double mark = step_ms ? step_clock_ms() : 0;
        int who = 0;
        for (int i = 0; i < len; i++) {
            if (step_ms) {
                double t = step_clock_ms();
                step_ms[h + (size_t)who] += t - mark;
                mark = t;
                who = i;
            }
            const step *s = &n->steps[h + (size_t)i];
            const vshape *xv = &v[s->in[0]], *ov = &v[s->out];
            size_t orow = (size_t)ov->w * ov->c;
            // Where row cs[i] goes: the rows after it are those above.
            float *mine = rings && i < len - 1
                              ? (float *)ring[i] + (size_t)(cs[i] % nr[i]) * orow
                              : (float *)(scratch + off[i]);
            if (!rings && i < len - 1 && e[i] < b[i] && moved != i)
                hold_rows(mine, orow, cs[i], pcs[i], e[i], b[i]);
            pcs[i] = cs[i];
            top[i] = a[i];
            if (e[i] <= a[i]) {
                in = mine + (size_t)(a[i] - cs[i]) * orow;
                continue;
            }
            ft_map xm, ym;
            if (i == 0 && ups >= 0) {
                // The rows this band reads, made now at the top of their map.
                const step *us = &n->steps[ups];
                const vshape *ux = &v[us->in[0]];
                ft_map um = {ux->h, ux->w, ux->c, v[ux->root].d};
                float *base = v[xv->root].d;
                ups_add_rows(&um, us->sh, us->sw, v[v[us[1].in[1 - ua]].root].d, ua, xv->w, xv->c,
                             lo[0], hi[0], base);
                xm = (ft_map){hi[0] - lo[0], xv->w, xv->c, base};
                if (step_ms) {
                    double t = step_clock_ms();
                    step_ms[ups] += t - mark;
                    mark = t;
                }
            } else if (i == 0) {
                const float *base = v[xv->root].d;
                xm = (ft_map){hi[0] - lo[0], xv->w, xv->c,
                              (float *)base + (size_t)lo[0] * xv->w * xv->c};
            } else {
                xm = (ft_map){hi[i] - lo[i], xv->w, xv->c, (float *)in};
            }
            if (s->has_prepad && prepad_direct(s)) {
                // Output rows [a, e) read input rows from a*st - pt on; the
                // kernels pad (zeros) above row 0 and left of column 0.
                int32_t k = 1, st = 1, pt = 0;
                row_geom(s, &k, &st, &pt);
                int32_t xoff = a[i] * st - pt - lo[i], ptop = 0;
                if (xoff >= 0)
                    xm = (ft_map){xm.h - xoff, xm.w, xm.c, xm.d + (size_t)xoff * xm.w * xm.c};
                else
                    ptop = -xoff;
                float *dst = i == len - 1 ? v[ov->root].d + (size_t)a[i] * orow : mine;
                ym = (ft_map){e[i] - a[i], ov->w, ov->c, dst};
                ft_status st2 = ft_conv_forward_pad(ctx, s->conv, &xm, ptop, s->prepad[1], &ym);
                if (st2 != FT_OK)
                    return ft_err_set(err, st2, "onnx: node '%s' (band of rows %d..%d): %s",
                                      s->node, (int)a[i], (int)e[i], ft_status_str(st2));
                in = dst;
                continue;
            }
            if (i + 1 < len && dw_pool(s, s + 1) && e[i + 1] > a[i + 1]) {
                // The pool's rows [a, e) straight from the convolution's
                // input rows; its held rows are moved first, as the call
                // writes below them.
                int q = i + 1;
                const vshape *qv = &v[s[1].out];
                size_t qrow = (size_t)qv->w * qv->c;
                float *qmine = rings && q < len - 1
                                   ? (float *)ring[q] + (size_t)(cs[q] % nr[q]) * qrow
                                   : (float *)(scratch + off[q]);
                if (!rings && q < len - 1 && e[q] < b[q])
                    hold_rows(qmine, qrow, cs[q], pcs[q], e[q], b[q]);
                moved = q;
                float *dst = q == len - 1 ? v[qv->root].d + (size_t)a[q] * qrow : qmine;
                ym = (ft_map){e[q] - a[q], qv->w, qv->c, dst};
                ft_status st2 =
                    ft_dwconv_maxpool2_forward_rows(ctx, s->conv, &xm, lo[i], xv->h, a[q], &ym);
                if (st2 == FT_OK) {
                    pcs[q] = cs[q];
                    top[q] = a[q];
                    in = dst;
                    i++;
                    continue;
                }
                if (st2 != FT_E_UNSUPPORTED)
                    return ft_err_set(err, st2, "onnx: node '%s' (band of rows %d..%d): %s",
                                      s->node, (int)a[i], (int)e[i], ft_status_str(st2));
            }
            if (exact_s1(s)) {
                // Output rows [a, e) from input rows [lo, hi), the padding
                // at the map's edges only.
                const ft_conv_desc *d = ft_conv_get_desc(s->conv);
                int32_t pt = (d->kh - 1) / 2, ptop = a[i] < pt ? pt - a[i] : 0;
                float *dst = i == len - 1 ? v[ov->root].d + (size_t)a[i] * orow : mine;
                ym = (ft_map){e[i] - a[i], ov->w, ov->c, dst};
                ft_status st2;
                if (s->op == S_SEP)
                    st2 = ft_sepconv_forward_rows(ctx, s->conv, s->conv2, &xm, lo[i], xv->h, a[i],
                                                  &ym);
                else if (s->op == S_SEP2)
                    st2 = ft_sepconv2_forward_kept(ctx, s->conv, s->conv2, s->conv3, s->conv4, &xm,
                                                   lo[i], xv->h, a[i], &ym,
                                                   keep[i].ring ? &keep[i] : NULL);
                else
                    st2 = ft_conv_forward_pad(ctx, s->conv, &xm, ptop, (d->kw - 1) / 2, &ym);
                if (st2 != FT_OK)
                    return ft_err_set(err, st2, "onnx: node '%s' (band of rows %d..%d): %s",
                                      s->node, (int)a[i], (int)e[i], ft_status_str(st2));
                in = dst;
                continue;
            }
            if (s->has_prepad) {
                // Rows a*s - pt .. of the padded map, zeros outside.
                int32_t k = 1, st = 1, pt = 0;
                row_geom(s, &k, &st, &pt);
                int32_t first = a[i] * st - pt;
                int32_t rows = (e[i] - a[i] - 1) * st + k;
                int32_t pw = xv->w + s->prepad[1] + s->prepad[3];
                size_t c = (size_t)xv->c;
                memset(padbuf, 0, (size_t)rows * pw * c * sizeof(float));
                for (int32_t r = 0; r < rows; r++) {
                    int32_t src = first + r;
                    if (src < lo[i] || src >= hi[i])
                        continue;
                    memcpy(padbuf + ((size_t)r * pw + s->prepad[1]) * c,
                           xm.d + (size_t)(src - lo[i]) * xv->w * c,
                           (size_t)xv->w * c * sizeof(float));
                }
                xm = (ft_map){rows, pw, xv->c, padbuf};
            }
            float *dst = i == len - 1 ? v[ov->root].d + (size_t)cs[i] * orow : mine;
            ym = (ft_map){e[i] - cs[i], ov->w, ov->c, dst};
            ft_status st = band_step(ctx, s, &xm, &ym);
            if (st != FT_OK)
                return ft_err_set(err, st, "onnx: node '%s' (band of rows %d..%d): %s", s->node,
                                  (int)cs[i], (int)e[i], ft_status_str(st));
            in = dst + (size_t)(a[i] - cs[i]) * orow;
        }
        if (step_ms)
            step_ms[h + (size_t)who] += step_clock_ms() - mark;
    }
    return FT_OK;
}

void ft_onnx__net_set_bands(ft_onnx_net *n, ft_onnx_bands b)
{
    n->bands = b;
}

size_t ft_onnx_net_n_steps(const ft_onnx_net *n)
{
    return n->n_steps;
}

void ft_onnx_net_step_info(const ft_onnx_net *n, size_t i, ft_onnx_step_info *info)
{
    static const char *const names[] = {"Conv",    "Act",      "Add",     "MaxPool",
                                        "AvgPool", "GAP",      "Upsample", "Concat",
                                        "Transpose", "Reshape", "Alias",   "SepConv",
                                        "SepConv2", "Slice"};
    const step *s = &n->steps[i];
    memset(info, 0, sizeof *info);
    info->node = s->node;
    info->op = names[s->op];
    if (s->conv) {
        const ft_conv_desc *d = ft_conv_get_desc(s->conv);
        info->kh = d->kh;
        info->kw = d->kw;
        info->c_in = d->c_in;
        info->c_out = d->c_out;
        info->stride = d->stride;
        info->depthwise = d->depthwise;
    }
}

ft_status ft_onnx_net_run(const ft_onnx_net *n, ft_nn_ctx *ctx, const ft_map *x, ft_onnx_out *out,
                          size_t cap, ft_err *err)
{
    return ft_onnx_net_run_timed(n, ctx, x, out, cap, NULL, NULL, err);
}

ft_status ft_onnx_net_run_timed(const ft_onnx_net *n, ft_nn_ctx *ctx, const ft_map *x,
                                ft_onnx_out *out, size_t cap, double *step_ms, int64_t *step_macs,
                                ft_err *err)
{
    if (x->c != n->in_c)
        return ft_err_set(err, FT_E_INVALID, "onnx: input has %d channels, the graph takes %d",
                          (int)x->c, (int)n->in_c);
    if (x->h < 1 || x->w < 1 || x->h > 16384 || x->w > 16384)
        return ft_err_set(err, FT_E_INVALID, "onnx: input size %dx%d out of range",
                          (int)x->w, (int)x->h);
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    unsigned char *meta = ft_arena_alloc(ar, plan_meta_bytes(n));
    if (!meta)
        return ft_err_set(err, FT_E_NOMEM, "onnx: arena too small (use ft_onnx_net_plan)");
    plan pl;
    ft_status st = plan_all(n, x->h, x->w, meta, &pl, err);
    if (st != FT_OK)
        return st;
    unsigned char *slab = ft_arena_alloc(ar, pl.slab ? pl.slab : 64);
    if (!slab)
        return ft_err_set(err, FT_E_NOMEM, "onnx: arena too small (use ft_onnx_net_plan)");
    vshape *v = pl.v;
    v[n->input].d = x->d;
    for (size_t i = 0; i < n->n_vals; i++)
        if (v[i].root == (int)i && (int)i != n->input)
            v[i].d = (float *)(slab + v[i].off);

    for (size_t si = 0; si < n->n_steps; si++) {
        const step *s = &n->steps[si];
        vshape *xv = &v[s->in[0]];
        vshape *yv = &v[s->out];
        const float *xd = v[xv->root].d;
        int kind = n->vals[s->in[0]].kind;
        if (pl.chain_len[si] < 0)
            continue; // run with its chain, which booked it
        if (step_ms)
            step_ms[si] = 0;
        if (step_macs)
            step_macs[si] = 0;
        if (pl.chain_len[si] > 0) {
            for (int k = 1; k < pl.chain_len[si]; k++) {
                if (step_ms)
                    step_ms[si + (size_t)k] = 0;
                if (step_macs)
                    step_macs[si + (size_t)k] = 0;
            }
            st = run_chain(n, ctx, &pl, si, slab + pl.scratch_off[si], step_ms, err);
            if (st != FT_OK)
                return st;
            if (step_macs) {
                // Nominal (whole-map) work of each of the chain's
                // convolutions (a fused depthwise + pool's at the conv).
                for (int k = 0; k < pl.chain_len[si]; k++) {
                    const step *c = &n->steps[si + (size_t)k];
                    const vshape *cx = &v[c->in[0]];
                    const ft_conv *cs4[4] = {c->conv, c->conv2, c->conv3, c->conv4};
                    int32_t hh = cx->h + (c->has_prepad ? c->prepad[0] + c->prepad[2] : 0);
                    int32_t ww = cx->w + (c->has_prepad ? c->prepad[1] + c->prepad[3] : 0);
                    for (int q = 0; q < 4 && cs4[q]; q++) {
                        const ft_conv_desc *d = ft_conv_get_desc(cs4[q]);
                        ft_conv_out_shape(cs4[q], hh, ww, &hh, &ww);
                        step_macs[si + (size_t)k] += (int64_t)hh * ww * d->c_out * d->kh *
                                                     d->kw * (d->depthwise ? 1 : d->c_in);
                    }
                }
            }
            continue;
        }
        if (yv->root != s->out) {
            yv->d = v[yv->root].d; // an alias: nothing to compute
            continue;
        }
        float *yd = yv->d;
        double t0 = step_ms ? step_clock_ms() : 0;
        if (step_macs && s->conv) {
            // Each conv's output size: the dw's (and dw2's) output size.
            const ft_conv *cs[4] = {s->conv, s->conv2, s->conv3, s->conv4};
            int32_t hh = xv->h + (s->has_prepad ? s->prepad[0] + s->prepad[2] : 0);
            int32_t ww = xv->w + (s->has_prepad ? s->prepad[1] + s->prepad[3] : 0);
            for (int k = 0; k < 4 && cs[k]; k++) {
                const ft_conv_desc *d = ft_conv_get_desc(cs[k]);
                ft_conv_out_shape(cs[k], hh, ww, &hh, &ww);
                step_macs[si] += (int64_t)hh * ww * d->c_out * d->kh * d->kw *
                                 (d->depthwise ? 1 : d->c_in);
            }
        }
        ft_map xm = {xv->h, xv->w, xv->c, (float *)xd};
        ft_map ym = {yv->h, yv->w, yv->c, yd};
        if (si + 1 < n->n_steps && pl.chain_len[si + 1] == 0 && dw_pool(s, s + 1) &&
            v[s[1].out].root == s[1].out && readers(n, s->out) == 1) {
            // The convolution and the max pool that alone reads it, as one.
            vshape *qv = &v[s[1].out];
            ft_map qm = {qv->h, qv->w, qv->c, qv->d};
            st = ft_dwconv_maxpool2_forward_rows(ctx, s->conv, &xm, 0, xv->h, 0, &qm);
            if (st == FT_OK) {
                fused_pair_booked(step_ms, step_macs, si, t0);
                si++;
                continue;
            }
            if (st != FT_E_UNSUPPORTED)
                return ft_err_set(err, st, "onnx: node '%s' (Conv + MaxPool): %s", s->node,
                                  ft_status_str(st));
        }
        int ua = ups_add_input(n, &pl, si);
        int ua2;
        if (ua >= 0 && si + 2 < n->n_steps && chain_ups(n, &pl, si + 2, true, &ua2) == (int)si) {
            // Made band by band by the chain after it, which books its time.
            if (step_ms)
                step_ms[si + 1] = 0;
            if (step_macs)
                step_macs[si + 1] = 0;
            si++;
            continue;
        }
        if (ua >= 0) {
            // The upsampling and the Add that alone reads it, as one.
            const step *q = s + 1;
            vshape *qv = &v[q->out];
            ft_map qm = {qv->h, qv->w, qv->c, qv->d};
            ups_add_rows(&xm, s->sh, s->sw, v[v[q->in[1 - ua]].root].d, ua, qm.w, qm.c, 0, qm.h,
                         qm.d);
            fused_pair_booked(step_ms, step_macs, si, t0);
            si++;
            continue;
        }
        switch (s->op) {
        case S_CONV:
            if (s->has_prepad && prepad_direct(s)) {
                // The kernels take the padding as geometry: no padded copy.
                st = ft_conv_forward_pad(ctx, s->conv, &xm, s->prepad[0], s->prepad[1], &ym);
                if (st != FT_OK)
                    return ft_err_set(err, st, "onnx: node '%s' (Conv): %s", s->node,
                                      ft_status_str(st));
                break;
            }
            if (s->has_prepad) {
                float *pd = (float *)(slab + pl.scratch_off[si]);
                int32_t ph = xv->h + s->prepad[0] + s->prepad[2];
                int32_t pw = xv->w + s->prepad[1] + s->prepad[3];
                size_t c = (size_t)xv->c;
                memset(pd, 0, (size_t)ph * pw * c * sizeof(float));
                for (int32_t yy = 0; yy < xv->h; yy++)
                    memcpy(pd + ((size_t)(yy + s->prepad[0]) * pw + s->prepad[1]) * c,
                           xd + (size_t)yy * xv->w * c, (size_t)xv->w * c * sizeof(float));
                xm = (ft_map){ph, pw, xv->c, pd};
            }
            st = ft_conv_forward(ctx, s->conv, &xm, &ym);
            if (st != FT_OK)
                return ft_err_set(err, st, "onnx: node '%s' (Conv): %s", s->node,
                                  ft_status_str(st));
            break;
        case S_SLICE: {
            // A few channels a pixel (YuNet's heads: 1-10): a plain loop,
            // not a library call per pixel.
            size_t px = (size_t)yv->h * yv->w, cn = (size_t)s->cn, xc = (size_t)xv->c;
            const float *src = xd + s->c0;
            for (size_t i = 0; i < px; i++, yd += cn, src += xc)
                for (size_t j = 0; j < cn; j++)
                    yd[j] = src[j];
            break;
        }
        case S_SEP:
        case S_SEP2:
            st = s->op == S_SEP ? ft_sepconv_forward(ctx, s->conv, s->conv2, &xm, &ym)
                                : ft_sepconv2_forward(ctx, s->conv, s->conv2, s->conv3, s->conv4,
                                                      &xm, &ym);
            if (st != FT_OK)
                return ft_err_set(err, st, "onnx: node '%s' (separable pair): %s", s->node,
                                  ft_status_str(st));
            break;
        case S_MAXPOOL:
        case S_AVGPOOL:
            st = s->op == S_MAXPOOL ? ft_maxpool(ctx, &xm, s->k, s->s, s->pad, &ym)
                                    : ft_avgpool(ctx, &xm, s->k, s->s, &ym);
            if (st != FT_OK)
                return ft_err_set(err, st, "onnx: node '%s' (pool): %s", s->node,
                                  ft_status_str(st));
            break;
        case S_GAP:
            ft_global_avgpool(&xm, yd);
            break;
        case S_UPS: {
            size_t c = (size_t)xv->c, orow = (size_t)yv->w * c;
            for (int32_t oy = 0; oy < yv->h; oy++) {
                float *o = yd + (size_t)oy * orow;
                if (oy % s->sh != 0) {
                    // The same input row as the row above: copy that.
                    memcpy(o, o - orow, orow * sizeof(float));
                    continue;
                }
                const float *row = xd + (size_t)(oy / s->sh) * xv->w * c;
                for (int32_t ox = 0; ox < yv->w; ox++)
                    memcpy(o + (size_t)ox * c, row + (size_t)(ox / s->sw) * c,
                           c * sizeof(float));
            }
            break;
        }
        case S_ACT:
            memcpy(yd, xd, xv->n * sizeof(float));
            if (kind == K_MAP)
                ft_activate(ctx, &ym, s->act);
            else
                act_loop(yd, yv->n, s->act);
            break;
        case S_ADD: {
            const float *bd = v[v[s->in[1]].root].d;
            if (kind == K_MAP) {
                ft_map bm = {xv->h, xv->w, xv->c, (float *)bd};
                ft_add(ctx, &xm, &bm, FT_ACT_NONE, &ym);
            } else {
                for (size_t i = 0; i < yv->n; i++)
                    yd[i] = xd[i] + bd[i];
            }
            break;
        }
        case S_CONCAT:
            if (kind == K_MAP) {
                size_t px = (size_t)yv->h * yv->w, c0 = 0;
                for (int k = 0; k < s->n_in; k++) {
                    const vshape *a = &v[s->in[k]];
                    const float *ad = v[a->root].d;
                    for (size_t i = 0; i < px; i++)
                        memcpy(yd + i * (size_t)yv->c + c0, ad + i * (size_t)a->c,
                               (size_t)a->c * sizeof(float));
                    c0 += (size_t)a->c;
                }
            } else {
                int ax = s->axis < 0 ? s->axis + xv->rank : s->axis;
                size_t outer = 1, inner = 1;
                for (int d = 0; d < ax; d++)
                    outer *= (size_t)yv->dims[d];
                for (int d = ax + 1; d < yv->rank; d++)
                    inner *= (size_t)yv->dims[d];
                size_t pos = 0;
                for (size_t o = 0; o < outer; o++)
                    for (int k = 0; k < s->n_in; k++) {
                        const vshape *a = &v[s->in[k]];
                        size_t len = (size_t)a->dims[ax] * inner;
                        memcpy(yd + pos, v[a->root].d + o * len, len * sizeof(float));
                        pos += len;
                    }
            }
            break;
        case S_TRANSPOSE: {
            int q[FT_ONNX_MAX_RANK], r;
            int64_t d[FT_ONNX_MAX_RANK];
            trans_perm(s, xv, kind, q, &r, d);
            transpose(xd, r, d, q, yd);
            break;
        }
        case S_RESHAPE: {
            // A map whose HWC order is not its NCHW order: write NCHW.
            int64_t d[4] = {1, xv->h, xv->w, xv->c};
            static const int q[4] = {0, 3, 1, 2};
            transpose(xd, 4, d, q, yd);
            break;
        }
        case S_ALIAS:
            break;
        }
        if (step_ms)
            step_ms[si] = step_clock_ms() - t0;
    }
    // Outputs in ONNX's logical layout: maps with C > 1 and H*W > 1 were
    // stored HWC; they are written NCHW into their own space first.
    for (size_t i = 0; i < cap && i < n->n_out; i++) {
        const vshape *o = &v[n->outs[i]];
        ft_onnx_out *r = &out[i];
        memset(r, 0, sizeof *r);
        r->d = v[o->root].d;
        r->n = o->n;
        if (n->vals[n->outs[i]].kind == K_MAP) {
            r->rank = 4;
            r->dims[0] = 1;
            r->dims[1] = o->c;
            r->dims[2] = o->h;
            r->dims[3] = o->w;
            if (o->c > 1 && (size_t)o->h * o->w > 1) {
                float *t = ft_arena_floats(ar, o->n);
                if (!t)
                    return ft_err_set(err, FT_E_NOMEM,
                                      "onnx: arena too small (use ft_onnx_net_plan)");
                int64_t d[4] = {1, o->h, o->w, o->c};
                static const int q[4] = {0, 3, 1, 2};
                transpose(r->d, 4, d, q, t);
                r->d = t;
            }
        } else {
            r->rank = o->rank;
            memcpy(r->dims, o->dims, sizeof o->dims);
        }
    }
    return FT_OK;
}
