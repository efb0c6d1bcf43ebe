// faceres (faceres.h): the tfjs graph compiled into engine layers, the
// cropAndResize preprocessing, and the forward pass.
//
// The compiler walks the graph back from `global_pooling/Mean` to the
// Placeholder along the single non-constant input of each node, so only
// the ops that reach the descriptor are looked at (the age/gender heads
// hang off the Mean and are skipped). The chain must read
//   conv (Conv2D | DepthwiseConv2dNative | _FusedConv2D |
//         FusedDepthwiseConv2dNative), then any of
//   Mul / Add / AddV2 / BiasAdd by a constant (per channel or scalar),
//   then any of Relu / Relu6 / Minimum / Maximum by a scalar constant,
// repeated, ending in Mean over axes {1, 2}. Each group becomes one
// ft_conv: Mul is folded into the weights (w * m, rounded to float once),
// Add into the bias, the clamps into the fused activation (their
// composition must be ReLU, ReLU6 or nothing).
//
// Against tfjs running the graph node by node, only float32 rounding
// differs: tfjs rounds conv, then conv*m, then +b; we round (w*m) and sum
// in our kernels' order with FMA. Both are within a few ulps of the exact
// value per layer; tests/golden/README-faceres.md has the measured figures.
#include "face/faceres.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// ---- Loaded network ----

typedef enum fr_step_kind {
    FR_CONV = 0, // one layer
    FR_SEP,      // depthwise + pointwise pair (ft_sepconv_forward)
    FR_SEP2,     // two pairs chained (ft_sepconv2_forward)
} fr_step_kind;

typedef struct fr_layer {
    ft_conv *conv;
    const char *name; // the conv node's name (into the graph, kept alive)
    bool depthwise;
    int32_t in_h, in_w, c_in;
    int32_t out_h, out_w, c_out;
} fr_layer;

typedef struct fr_step {
    fr_step_kind kind;
    size_t first; // layer index; FR_SEP uses 2 layers, FR_SEP2 4
} fr_step;

struct ft_faceres {
    ft_tfjs_graph *graph;
    size_t n_layers;
    fr_layer *layers;
    size_t n_steps;
    fr_step *steps;
    size_t n_nodes_used;
    size_t max_map; // floats in the largest activation map
    int32_t out_c;
};

ft_faceres_limits ft_faceres_limits_default(void)
{
    ft_faceres_limits l;
    l.weights = ft_tfjs_limits_default();
    l.graph = ft_tfjs_graph_limits_default();
    return l;
}

void ft_faceres_free(ft_faceres *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->n_layers; i++)
        ft_conv_free(net->layers[i].conv);
    ft_free(net->layers);
    ft_free(net->steps);
    ft_tfjs_graph_free(net->graph);
    ft_free(net);
}

size_t ft_faceres_steps(const ft_faceres *net)
{
    return net->n_steps;
}

const char *ft_faceres_step_desc(const ft_faceres *net, size_t i, char *buf, size_t cap)
{
    if (i >= net->n_steps) {
        snprintf(buf, cap, "mean %d", (int)net->out_c);
        return buf;
    }
    const fr_step *s = &net->steps[i];
    static const char *const kinds[3] = {"conv", "sep", "sep2"};
    size_t last = s->first + (s->kind == FR_SEP2 ? 3 : s->kind == FR_SEP ? 1 : 0);
    const fr_layer *a = &net->layers[s->first], *b = &net->layers[last];
    snprintf(buf, cap, "%-4s %dx%dx%d -> %dx%dx%d (%s..)", kinds[s->kind], (int)a->in_h,
             (int)a->in_w, (int)a->c_in, (int)b->out_h, (int)b->out_w, (int)b->c_out, a->name);
    return buf;
}

size_t ft_faceres_layers(const ft_faceres *net, size_t *n_nodes)
{
    if (n_nodes)
        *n_nodes = net->n_nodes_used;
    return net->n_layers;
}

// ---- Compiler ----

typedef struct fr_comp {
    const char *file;
    const ft_tfjs_graph *g;
    const ft_tfjs *w;
    ft_err *err;
} fr_comp;

static bool is_op(const ft_tfg_node *n, const char *op)
{
    return strcmp(n->op, op) == 0;
}

static bool is_conv_op(const ft_tfg_node *n)
{
    return is_op(n, "Conv2D") || is_op(n, "DepthwiseConv2dNative") || is_op(n, "_FusedConv2D") ||
           is_op(n, "FusedDepthwiseConv2dNative");
}

// A Const node's float32 values, looked up in the weights by the node's
// name with the shape its "value" attribute gives (so the topology and the
// manifest must agree). `*n` = element count, `dims`/`rank` its shape.
static ft_status const_floats(fr_comp *c, int32_t idx, const float **data, size_t *n,
                              int32_t dims[4], int32_t *rank)
{
    const ft_tfg_node *k = ft_tfjs_graph_node(c->g, (size_t)idx);
    if (!is_op(k, "Const"))
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s' (%s) where a constant was expected",
                          c->file, k->name, k->op);
    const ft_tfg_attr *v = ft_tfg_node_attr(k, "value");
    if (!v || v->kind != FT_TFG_TENSOR || v->n > 4 || (v->s && strcmp(v->s, "DT_FLOAT") != 0))
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: constant '%s': not a float tensor of rank <= 4", c->file, k->name);
    *n = 1;
    for (size_t i = 0; i < v->n; i++) {
        if (v->ints[i] < 0 || v->ints[i] > INT32_MAX || !ft_size_mul(*n, (size_t)v->ints[i], n))
            return ft_err_set(c->err, FT_E_FORMAT, "%s: constant '%s': bad dimension", c->file,
                              k->name);
        dims[i] = (int32_t)v->ints[i];
    }
    *rank = (int32_t)v->n;
    return ft_tfjs_get(c->w, k->name, *rank, dims, data, c->err);
}

static ft_status int_list4(fr_comp *c, const ft_tfg_node *n, const char *attr, int64_t dflt,
                           int64_t v[4])
{
    const ft_tfg_attr *a = ft_tfg_node_attr(n, attr);
    if (!a) {
        v[0] = v[1] = v[2] = v[3] = dflt;
        return FT_OK;
    }
    if (a->kind != FT_TFG_LIST_I || a->n != 4)
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': \"%s\" is not a list of 4",
                          c->file, n->name, attr);
    memcpy(v, a->ints, 4 * sizeof *v);
    return FT_OK;
}

static bool attr_str_is(const ft_tfg_node *n, const char *attr, const char *want, bool dflt)
{
    const ft_tfg_attr *a = ft_tfg_node_attr(n, attr);
    if (!a)
        return dflt;
    return a->kind == FT_TFG_S && a->s_len == strlen(want) && memcmp(a->s, want, a->s_len) == 0;
}

// The layer being assembled: a conv plus the affine ops and clamps after it.
typedef struct fr_pend {
    int32_t node;
    bool dw;
    int32_t kh, kw, cin, cout, stride;
    ft_pad pad;
    float *w, *b; // owned copies (w HWIO or [kh][kw][c]); b NULL until an Add
    double lo, hi; // the clamp so far
    size_t n_nodes;
} fr_pend;

static ft_status pend_conv(fr_comp *c, int32_t idx, int32_t cin, fr_pend *p)
{
    const ft_tfg_node *n = ft_tfjs_graph_node(c->g, (size_t)idx);
    bool dw = is_op(n, "DepthwiseConv2dNative") || is_op(n, "FusedDepthwiseConv2dNative");
    bool fused = n->op[0] == '_' || n->op[0] == 'F';
    int64_t s[4], d[4];
    ft_status st;

    memset(p, 0, sizeof *p);
    p->node = idx;
    p->dw = dw;
    p->lo = -INFINITY;
    p->hi = INFINITY;
    p->n_nodes = 1;
    if ((st = int_list4(c, n, "strides", 1, s)) != FT_OK ||
        (st = int_list4(c, n, "dilations", 1, d)) != FT_OK)
        return st;
    if (s[0] != 1 || s[3] != 1 || s[1] != s[2] || s[1] < 1 || s[1] > 8)
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: node '%s': strides must be [1, s, s, 1] with 1 <= s <= 8", c->file,
                          n->name);
    if (d[0] != 1 || d[1] != 1 || d[2] != 1 || d[3] != 1)
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': dilated convolutions",
                          c->file, n->name);
    if (!attr_str_is(n, "data_format", "NHWC", true))
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': data_format other than NHWC",
                          c->file, n->name);
    if (attr_str_is(n, "padding", "SAME", false))
        p->pad = FT_PAD_SAME;
    else if (attr_str_is(n, "padding", "VALID", false))
        p->pad = FT_PAD_VALID;
    else
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: node '%s': padding must be SAME or VALID", c->file, n->name);
    p->stride = (int32_t)s[1];

    // Data inputs: x, filter (, fused args).
    int32_t in[4];
    size_t n_in = 0;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (!n->inputs[k].control) {
            if (n_in == 4)
                return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': too many inputs",
                                  c->file, n->name);
            in[n_in++] = n->inputs[k].node;
        }
    if (n_in != (fused ? 3u : 2u))
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': %zu inputs, expected %d",
                          c->file, n->name, n_in, fused ? 3 : 2);
    const float *wt;
    size_t nw;
    int32_t dims[4], rank;
    if ((st = const_floats(c, in[1], &wt, &nw, dims, &rank)) != FT_OK)
        return st;
    if (rank != 4 || dims[0] < 1 || dims[1] < 1 || dims[0] > 16 || dims[1] > 16 || dims[2] != cin ||
        (dw && dims[3] != 1) || (!dw && dims[3] < 1))
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: node '%s': filter shape does not fit %d input channels%s", c->file,
                          n->name, (int)cin, dw ? " (depth multiplier 1 only)" : "");
    p->kh = dims[0];
    p->kw = dims[1];
    p->cin = cin;
    p->cout = dw ? cin : dims[3];
    p->w = ft_malloc(nw * sizeof(float));
    if (!p->w)
        return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
    memcpy(p->w, wt, nw * sizeof(float)); // [kh][kw][c][1] is [kh][kw][c]

    if (fused) {
        const ft_tfg_attr *fo = ft_tfg_node_attr(n, "fused_ops");
        if (!fo || fo->kind != FT_TFG_LIST_S || fo->n < 1 || fo->n > 2 ||
            strcmp(fo->strs[0], "BiasAdd") != 0)
            return ft_err_set(c->err, FT_E_UNSUPPORTED,
                              "%s: node '%s': fused_ops must be BiasAdd[, Relu|Relu6]", c->file,
                              n->name);
        const float *bias;
        size_t nb;
        if ((st = const_floats(c, in[2], &bias, &nb, dims, &rank)) != FT_OK)
            return st;
        if (nb != (size_t)p->cout)
            return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': bias of %zu for %d channels",
                              c->file, n->name, nb, (int)p->cout);
        p->b = ft_malloc((size_t)p->cout * sizeof(float));
        if (!p->b)
            return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
        memcpy(p->b, bias, (size_t)p->cout * sizeof(float));
        if (fo->n == 2) {
            if (strcmp(fo->strs[1], "Relu") == 0) {
                p->lo = 0;
            } else if (strcmp(fo->strs[1], "Relu6") == 0) {
                p->lo = 0;
                p->hi = 6;
            } else {
                return ft_err_set(c->err, FT_E_UNSUPPORTED,
                                  "%s: node '%s': fused activation '%s'", c->file, n->name,
                                  fo->strs[1]);
            }
        }
    }
    return FT_OK;
}

// Applies node `idx` (an elementwise op whose data input is the pending
// layer's output) to the pending layer. `cst` is its constant input or -1.
static ft_status pend_apply(fr_comp *c, int32_t idx, int32_t cst, fr_pend *p)
{
    const ft_tfg_node *n = ft_tfjs_graph_node(c->g, (size_t)idx);
    bool clamped = p->lo > -INFINITY || p->hi < INFINITY;
    const float *v = NULL;
    size_t nv = 0;
    int32_t dims[4], rank;
    ft_status st;

    bool mul = is_op(n, "Mul"), add = is_op(n, "Add") || is_op(n, "AddV2") || is_op(n, "BiasAdd");
    bool mn = is_op(n, "Minimum"), mx = is_op(n, "Maximum");
    if (mul || add || mn || mx) {
        if (cst < 0)
            return ft_err_set(c->err, FT_E_UNSUPPORTED,
                              "%s: node '%s' (%s): only a constant second operand is supported",
                              c->file, n->name, n->op);
        if ((st = const_floats(c, cst, &v, &nv, dims, &rank)) != FT_OK)
            return st;
        // A scalar, or one value per channel along the last axis.
        bool per_channel = nv == (size_t)p->cout && rank >= 1 && dims[rank - 1] == p->cout;
        if (nv != 1 && (!per_channel || mn || mx))
            return ft_err_set(c->err, FT_E_UNSUPPORTED,
                              "%s: node '%s' (%s): operand of %zu values for %d channels",
                              c->file, n->name, n->op, nv, (int)p->cout);
    } else if (cst >= 0) {
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s' (%s): unexpected constant input",
                          c->file, n->name, n->op);
    }
    if ((mul || add) && clamped)
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: node '%s' (%s) after an activation is not supported", c->file,
                          n->name, n->op);
    if (mul) {
        size_t per_tap = (size_t)p->cout; // HWIO and [kh][kw][c]: the channel is innermost
        size_t nw = (size_t)p->kh * p->kw * (p->dw ? 1 : (size_t)p->cin) * per_tap;
        for (size_t i = 0; i < nw; i++)
            p->w[i] = p->w[i] * v[nv == 1 ? 0 : i % per_tap];
        for (int32_t ch = 0; p->b && ch < p->cout; ch++)
            p->b[ch] = p->b[ch] * v[nv == 1 ? 0 : ch];
    } else if (add) {
        if (!p->b) {
            p->b = ft_calloc((size_t)p->cout, sizeof(float));
            if (!p->b)
                return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
        }
        for (int32_t ch = 0; ch < p->cout; ch++)
            p->b[ch] = p->b[ch] + v[nv == 1 ? 0 : ch];
    } else if (is_op(n, "Relu")) {
        p->lo = fmax(p->lo, 0.0);
    } else if (is_op(n, "Relu6")) {
        p->lo = fmax(p->lo, 0.0);
        p->hi = fmin(p->hi, 6.0);
    } else if (mn) {
        p->hi = fmin(p->hi, (double)v[0]);
    } else if (mx) {
        p->lo = fmax(p->lo, (double)v[0]);
    } else {
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s': op '%s' is not supported",
                          c->file, n->name, n->op);
    }
    p->n_nodes++;
    return FT_OK;
}

// Turns the pending layer into an engine layer.
static ft_status pend_finish(fr_comp *c, fr_pend *p, int32_t in_h, int32_t in_w, fr_layer *l)
{
    const ft_tfg_node *n = ft_tfjs_graph_node(c->g, (size_t)p->node);
    ft_act act;
    if (p->lo == -INFINITY && p->hi == INFINITY)
        act = FT_ACT_NONE;
    else if (p->lo == 0 && p->hi == INFINITY)
        act = FT_ACT_RELU;
    else if (p->lo == 0 && p->hi == 6)
        act = FT_ACT_RELU6;
    else
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: layer '%s': its clamps make [%g, %g], not ReLU or ReLU6", c->file,
                          n->name, p->lo, p->hi);
    ft_conv_desc d = {p->kh, p->kw, p->cin, p->cout, p->stride, p->pad, p->dw, act};
    ft_status st = ft_conv_new(&d, p->w, p->b, &l->conv);
    if (st != FT_OK)
        return ft_err_set(c->err, st, "%s: layer '%s': cannot prepare: %s", c->file, n->name,
                          ft_status_str(st));
    l->name = n->name;
    l->depthwise = p->dw;
    l->in_h = in_h;
    l->in_w = in_w;
    l->c_in = p->cin;
    l->c_out = p->cout;
    st = ft_conv_out_shape(l->conv, in_h, in_w, &l->out_h, &l->out_w);
    if (st != FT_OK)
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: layer '%s': empty output for %dx%d",
                          c->file, n->name, (int)in_h, (int)in_w);
    return FT_OK;
}

static void pend_clear(fr_pend *p)
{
    ft_free(p->w);
    ft_free(p->b);
    p->w = p->b = NULL;
}

// The data inputs of node `n` that are not Const nodes (`*var`, at most
// one allowed) and the Const one (`*cst`), -1 when absent.
static ft_status split_inputs(fr_comp *c, const ft_tfg_node *n, int32_t *var, int32_t *cst)
{
    *var = *cst = -1;
    for (size_t k = 0; k < n->n_inputs; k++) {
        const ft_tfg_input *in = &n->inputs[k];
        if (in->control)
            continue;
        const ft_tfg_node *src = ft_tfjs_graph_node(c->g, (size_t)in->node);
        int32_t *slot = is_op(src, "Const") ? cst : var;
        if (*slot >= 0 || in->output != 0)
            return ft_err_set(c->err, FT_E_UNSUPPORTED,
                              "%s: node '%s' (%s): not a chain of one-input ops", c->file, n->name,
                              n->op);
        *slot = in->node;
    }
    return FT_OK;
}

// Schedules the layers: a depthwise layer followed by a 1x1 stride-1
// pointwise one runs as a fused pair; two pairs in a row on maps of at
// least SEP2_MIN_PIXELS input pixels run as a chained pair of pairs.
#define SEP2_MIN_PIXELS (56 * 56)

static bool is_pair(const ft_faceres *net, size_t i)
{
    if (i + 1 >= net->n_layers)
        return false;
    const fr_layer *a = &net->layers[i], *b = &net->layers[i + 1];
    const ft_conv_desc *d = ft_conv_get_desc(b->conv);
    return a->depthwise && !b->depthwise && d->kh == 1 && d->kw == 1 && d->stride == 1 &&
           b->c_in == a->c_out;
}

static ft_status schedule(ft_faceres *net)
{
    net->steps = ft_calloc(net->n_layers ? net->n_layers : 1, sizeof *net->steps);
    if (!net->steps)
        return FT_E_NOMEM;
    size_t i = 0;
    while (i < net->n_layers) {
        fr_step *s = &net->steps[net->n_steps++];
        s->first = i;
        if (is_pair(net, i) && is_pair(net, i + 2) &&
            (int64_t)net->layers[i].in_h * net->layers[i].in_w >= SEP2_MIN_PIXELS) {
            s->kind = FR_SEP2;
            i += 4;
        } else if (is_pair(net, i)) {
            s->kind = FR_SEP;
            i += 2;
        } else {
            s->kind = FR_CONV;
            i += 1;
        }
    }
    return FT_OK;
}

static ft_status compile(fr_comp *c, ft_faceres *net)
{
    const ft_tfjs_graph *g = c->g;
    size_t nn = ft_tfjs_graph_count(g);
    int32_t *chain = NULL;
    fr_pend p = {0};
    bool have_pend = false;
    ft_status st = FT_OK;

    int32_t out = ft_tfjs_graph_find(g, "global_pooling/Mean");
    if (out < 0)
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: no node 'global_pooling/Mean'", c->file);
    const ft_tfg_node *mean = ft_tfjs_graph_node(g, (size_t)out);
    int32_t x, axes;
    if (!is_op(mean, "Mean"))
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: 'global_pooling/Mean' is a %s, not a Mean",
                          c->file, mean->op);
    if ((st = split_inputs(c, mean, &x, &axes)) != FT_OK)
        return st;
    size_t n_axes = 0;
    const int32_t *ax = NULL;
    if (x < 0 || axes < 0 ||
        ft_tfjs_get_i32(c->w, ft_tfjs_graph_node(g, (size_t)axes)->name, &n_axes, &ax, c->err) != FT_OK ||
        n_axes != 2 || !((ax[0] == 1 && ax[1] == 2) || (ax[0] == 2 && ax[1] == 1)))
        return ft_err_set(c->err, FT_E_UNSUPPORTED,
                          "%s: 'global_pooling/Mean' must average a map over axes [1, 2]", c->file);
    const ft_tfg_attr *kd = ft_tfg_node_attr(mean, "keep_dims");
    if (kd && (kd->kind != FT_TFG_B || kd->b))
        return ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: 'global_pooling/Mean' keeps its dims",
                          c->file);

    // Back to the Placeholder.
    chain = ft_malloc((nn ? nn : 1) * sizeof *chain);
    if (!chain)
        return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
    size_t len = 0;
    int32_t cur = x;
    for (;;) {
        if (len == nn) {
            st = ft_err_set(c->err, FT_E_FORMAT, "%s: the graph has a cycle", c->file);
            goto done;
        }
        chain[len++] = cur;
        const ft_tfg_node *n = ft_tfjs_graph_node(g, (size_t)cur);
        if (is_op(n, "Placeholder"))
            break;
        int32_t var = -1, cst;
        if (is_conv_op(n)) { // x, then the filter (and fused arguments)
            for (size_t k = 0; k < n->n_inputs && var < 0; k++)
                if (!n->inputs[k].control)
                    var = n->inputs[k].output == 0 ? n->inputs[k].node : -2;
            if (var >= 0 && is_op(ft_tfjs_graph_node(g, (size_t)var), "Const"))
                var = -1;
        } else if ((st = split_inputs(c, n, &var, &cst)) != FT_OK) {
            goto done;
        }
        if (var < 0) {
            st = ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: node '%s' does not lead to the input",
                            c->file, n->name);
            goto done;
        }
        cur = var;
    }

    // The input: [-1 | 1, 224, 224, 3] float.
    const ft_tfg_node *ph = ft_tfjs_graph_node(g, (size_t)chain[len - 1]);
    const ft_tfg_attr *shp = ft_tfg_node_attr(ph, "shape");
    if (!shp || shp->kind != FT_TFG_SHAPE || shp->n != 4 || shp->ints[0] > 1 ||
        (shp->ints[1] != FT_FACERES_SIZE && shp->ints[1] != -1) ||
        (shp->ints[2] != FT_FACERES_SIZE && shp->ints[2] != -1) || shp->ints[3] != 3) {
        st = ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: input '%s' is not [1, 224, 224, 3]", c->file,
                        ph->name);
        goto done;
    }
    const ft_tfg_attr *dt = ft_tfg_node_attr(ph, "dtype");
    if (dt && (dt->kind != FT_TFG_TYPE || strcmp(dt->s, "DT_FLOAT") != 0)) {
        st = ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: input '%s' is not float", c->file,
                        ph->name);
        goto done;
    }

    // Forward: group the chain into layers.
    net->layers = ft_calloc(len, sizeof *net->layers);
    if (!net->layers) {
        st = ft_err_set(c->err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    int32_t h = FT_FACERES_SIZE, wd = FT_FACERES_SIZE, ch = 3;
    for (size_t k = len - 1; k-- > 0;) {
        int32_t idx = chain[k];
        const ft_tfg_node *n = ft_tfjs_graph_node(g, (size_t)idx);
        if (is_conv_op(n)) {
            if (have_pend) {
                fr_layer *l = &net->layers[net->n_layers];
                if ((st = pend_finish(c, &p, h, wd, l)) != FT_OK)
                    goto done;
                net->n_layers++;
                net->n_nodes_used += p.n_nodes;
                h = l->out_h, wd = l->out_w, ch = l->c_out;
                pend_clear(&p);
            }
            have_pend = true;
            if ((st = pend_conv(c, idx, ch, &p)) != FT_OK)
                goto done;
            continue;
        }
        if (!have_pend) {
            st = ft_err_set(c->err, FT_E_UNSUPPORTED,
                            "%s: node '%s' (%s) before the first convolution", c->file, n->name,
                            n->op);
            goto done;
        }
        int32_t var, cst;
        if ((st = split_inputs(c, n, &var, &cst)) != FT_OK ||
            (st = pend_apply(c, idx, cst, &p)) != FT_OK)
            goto done;
    }
    if (!have_pend) {
        st = ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: no convolution before the Mean", c->file);
        goto done;
    }
    fr_layer *l = &net->layers[net->n_layers];
    if ((st = pend_finish(c, &p, h, wd, l)) != FT_OK)
        goto done;
    net->n_layers++;
    net->n_nodes_used += p.n_nodes + 2; // + the Placeholder and the Mean
    net->out_c = l->c_out;
    if (net->out_c != FT_FACERES_DIM) {
        st = ft_err_set(c->err, FT_E_UNSUPPORTED, "%s: the descriptor has %d values, not %d",
                        c->file, (int)net->out_c, FT_FACERES_DIM);
        goto done;
    }
    net->max_map = (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3;
    for (size_t i = 0; i < net->n_layers; i++) {
        size_t m = (size_t)net->layers[i].out_h * net->layers[i].out_w * net->layers[i].c_out;
        if (m > net->max_map)
            net->max_map = m;
    }
    if (schedule(net) != FT_OK)
        st = ft_err_set(c->err, FT_E_NOMEM, "out of memory");
done:
    pend_clear(&p);
    ft_free(chain);
    return st;
}

// ---- Loading ----

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

ft_status ft_faceres_load(const char *path, const ft_faceres_limits *lim, ft_faceres **out,
                          ft_err *err)
{
    ft_faceres_limits dl = ft_faceres_limits_default();
    ft_faceres *net = NULL;
    ft_tfjs *w = NULL;
    char *json = NULL;
    ft_status st;

    *out = NULL;
    if (!lim)
        lim = &dl;
    if (is_dir(path)) {
        static const char *const names[2] = {"faceres.json", "models/faceres.json"};
        size_t n = strlen(path) + 32;
        json = ft_malloc(n);
        if (!json)
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        for (int i = 0; i < 2; i++) {
            snprintf(json, n, "%s/%s", path, names[i]);
            if (is_file(json))
                break;
            if (i == 1) {
                st = ft_err_set(err, FT_E_NOT_FOUND,
                                "%s: no faceres.json or models/faceres.json there (run "
                                "tools/setup.sh)",
                                path);
                goto done;
            }
        }
    } else {
        json = ft_strdup(path);
        if (!json)
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    const char *slash = strrchr(json, '/');
    const char *file = slash ? slash + 1 : json;

    net = ft_calloc(1, sizeof *net);
    if (!net) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    if ((st = ft_tfjs_graph_load(json, &lim->graph, &net->graph, err)) != FT_OK)
        goto done;
    if ((st = ft_tfjs_load(json, &lim->weights, &w, err)) != FT_OK)
        goto done;
    fr_comp c = {file, net->graph, w, err};
    if ((st = compile(&c, net)) != FT_OK)
        goto done;
    *out = net;
    net = NULL;
done:
    ft_tfjs_free(w); // the layers hold their own copies of the weights
    ft_faceres_free(net);
    ft_free(json);
    return st;
}

ft_status ft_faceres_parse(const uint8_t *json, size_t json_len, const uint8_t *bin,
                           size_t bin_len, const ft_faceres_limits *lim, ft_faceres **out,
                           ft_err *err)
{
    ft_faceres_limits dl = ft_faceres_limits_default();
    ft_faceres *net = NULL;
    ft_tfjs *w = NULL;
    ft_status st;

    *out = NULL;
    if (!lim)
        lim = &dl;
    net = ft_calloc(1, sizeof *net);
    if (!net)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    if ((st = ft_tfjs_graph_parse("faceres.json", json, json_len, &lim->graph, &net->graph,
                                  err)) != FT_OK)
        goto done;
    if ((st = ft_tfjs_parse("faceres.json", json, json_len, bin, bin_len, &lim->weights, &w,
                            err)) != FT_OK)
        goto done;
    fr_comp c = {"faceres.json", net->graph, w, err};
    if ((st = compile(&c, net)) != FT_OK)
        goto done;
    *out = net;
    net = NULL;
done:
    ft_tfjs_free(w);
    ft_faceres_free(net);
    return st;
}

// ---- Preprocessing ----

// The ImageNet means as float32 constants (a float32 tensor in tfjs).
static const float fr_mean_bgr[3] = {103.939f, 116.779f, 123.68f};

ft_status ft_faceres_prepare(const ft_image *im, const ft_face_box *box, float *out, ft_err *err)
{
    if (im->w < 2 || im->h < 2)
        return ft_err_set(err, FT_E_INVALID, "faceres: image of %dx%d is too small",
                          (int)im->w, (int)im->h);
    if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) || !isfinite(box->h) ||
        !(box->w > 0) || !(box->h > 0))
        return ft_err_set(err, FT_E_INVALID, "faceres: the face box is empty or not finite");
    // Every expression below is evaluated in double in the order tfjs (and
    // the golden script, tools/gen_faceres_goldens.mjs) evaluates it, so
    // the samples are the same bits.
    double cx = box->x + box->w / 2, cy = box->y + box->h / 2;
    double hw = box->w * FT_FACERES_SCALE / 2, hh = box->h * FT_FACERES_SCALE / 2;
    double wm1 = (double)im->w - 1, hm1 = (double)im->h - 1;
    float y1 = (float)((cy - hh) / hm1), x1 = (float)((cx - hw) / wm1);
    float y2 = (float)((cy + hh) / hm1), x2 = (float)((cx + hw) / wm1);
    // tf.image.cropAndResize, bilinear, extrapolation value 0 (tfjs-backend-cpu).
    const int32_t S = FT_FACERES_SIZE;
    double hs = ((double)y2 - y1) * hm1 / (S - 1), ws = ((double)x2 - x1) * wm1 / (S - 1);
    size_t stride = (size_t)im->w * 3;
    // Per column, once: the left/right pixel offsets and the weight (the
    // same doubles the per-sample expression gives); -1 = extrapolated.
    size_t xo_l[FT_FACERES_SIZE], xo_r[FT_FACERES_SIZE];
    double xlerp[FT_FACERES_SIZE];
    bool xin[FT_FACERES_SIZE];
    for (int32_t x = 0; x < S; x++) {
        double xi = (double)x1 * wm1 + x * ws;
        xin[x] = xi >= 0 && xi <= wm1; // NaN (a huge box) counts as outside
        double l_i = xin[x] ? floor(xi) : 0, r_i = xin[x] ? ceil(xi) : 0;
        xo_l[x] = (size_t)l_i * 3;
        xo_r[x] = (size_t)r_i * 3;
        xlerp[x] = xin[x] ? xi - l_i : 0;
    }
    for (int32_t y = 0; y < S; y++) {
        double yi = (double)y1 * hm1 + y * hs;
        float *row = out + (size_t)y * S * 3;
        bool yin = yi >= 0 && yi <= hm1;
        double top_i = yin ? floor(yi) : 0, bot_i = yin ? ceil(yi) : 0, yl = yi - top_i;
        const uint8_t *rt = im->rgb + (size_t)top_i * stride, *rb = im->rgb + (size_t)bot_i * stride;
        for (int32_t x = 0; x < S; x++) {
            float v[3] = {0, 0, 0}; // RGB
            if (yin && xin[x]) {
                const uint8_t *tl = rt + xo_l[x], *tr = rt + xo_r[x];
                const uint8_t *bl = rb + xo_l[x], *br = rb + xo_r[x];
                double xl = xlerp[x];
                for (int c = 0; c < 3; c++) {
                    double top = tl[c] + ((double)tr[c] - tl[c]) * xl;
                    double bot = bl[c] + ((double)br[c] - bl[c]) * xl;
                    v[c] = (float)(top + (bot - top) * yl);
                }
            }
            // tf.reverse to BGR, then tf.sub of the float32 means.
            for (int c = 0; c < 3; c++)
                row[x * 3 + c] = (float)((double)v[2 - c] - (double)fr_mean_bgr[c]);
        }
    }
    return FT_OK;
}

// ---- Forward ----

static ft_status forward(const ft_faceres *net, ft_nn_ctx *ctx, float *in, float *bufs[2],
                         float out[FT_FACERES_DIM], double *step_ms)
{
    ft_map x = {FT_FACERES_SIZE, FT_FACERES_SIZE, 3, in};
    int nb = 0;
    for (size_t s = 0; s < net->n_steps; s++) {
        const fr_step *st = &net->steps[s];
        const fr_layer *l = &net->layers[st->first];
        size_t last = st->first + (st->kind == FR_SEP2 ? 3 : st->kind == FR_SEP ? 1 : 0);
        const fr_layer *e = &net->layers[last];
        ft_map y = {e->out_h, e->out_w, e->c_out, bufs[nb]};
        ft_status r;
        double t0 = step_ms ? ft_now_ms() : 0;
        if (st->kind == FR_SEP2)
            r = ft_sepconv2_forward(ctx, l[0].conv, l[1].conv, l[2].conv, l[3].conv, &x, &y);
        else if (st->kind == FR_SEP)
            r = ft_sepconv_forward(ctx, l[0].conv, l[1].conv, &x, &y);
        else
            r = ft_conv_forward(ctx, l->conv, &x, &y);
        if (r != FT_OK)
            return r;
        if (step_ms)
            step_ms[s] = ft_now_ms() - t0;
        x = y;
        nb ^= 1;
    }
    double t0 = step_ms ? ft_now_ms() : 0;
    ft_global_avgpool(&x, out);
    if (step_ms)
        step_ms[net->n_steps] = ft_now_ms() - t0;
    return FT_OK;
}

static ft_status arena_bufs(const ft_faceres *net, ft_nn_ctx *ctx, float **in, float *bufs[2],
                            ft_err *err)
{
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    size_t in_n = (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3;
    size_t bytes = (in_n + 2 * net->max_map) * sizeof(float) + 3 * (FT_ALIGN + FT_TENSOR_PAD);
    ft_status st = ft_arena_reserve(ar, bytes);
    if (st != FT_OK)
        return ft_err_set(err, st, "faceres: %s", ft_status_str(st));
    ft_arena_reset(ar);
    *in = ft_arena_floats(ar, in_n);
    bufs[0] = ft_arena_floats(ar, net->max_map);
    bufs[1] = ft_arena_floats(ar, net->max_map);
    FT_ASSERT(*in && bufs[0] && bufs[1]);
    return FT_OK;
}

ft_status ft_faceres_run(const ft_faceres *net, ft_nn_ctx *ctx, const float *in,
                         float out[FT_FACERES_DIM], ft_err *err)
{
    return ft_faceres_run_timed(net, ctx, in, out, NULL, err);
}

ft_status ft_faceres_run_timed(const ft_faceres *net, ft_nn_ctx *ctx, const float *in,
                               float out[FT_FACERES_DIM], double *step_ms, ft_err *err)
{
    float *x = NULL, *bufs[2] = {NULL, NULL};
    ft_status st = arena_bufs(net, ctx, &x, bufs, err);
    if (st != FT_OK)
        return st;
    memcpy(x, in, (size_t)FT_FACERES_SIZE * FT_FACERES_SIZE * 3 * sizeof(float));
    st = forward(net, ctx, x, bufs, out, step_ms);
    if (st != FT_OK)
        return ft_err_set(err, st, "faceres: %s", ft_status_str(st));
    return FT_OK;
}

ft_status ft_faceres_describe(const ft_faceres *net, ft_nn_ctx *ctx, const ft_image *im,
                              const ft_face_box *box, float out[FT_FACERES_DIM], ft_err *err)
{
    float *x = NULL, *bufs[2] = {NULL, NULL};
    ft_status st = arena_bufs(net, ctx, &x, bufs, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_faceres_prepare(im, box, x, err)) != FT_OK)
        return st;
    st = forward(net, ctx, x, bufs, out, NULL);
    if (st != FT_OK)
        return ft_err_set(err, st, "faceres: %s", ft_status_str(st));
    return FT_OK;
}

double ft_faceres_distance(const float a[FT_FACERES_DIM], const float b[FT_FACERES_DIM])
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < FT_FACERES_DIM; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 || bb == 0)
        return 1.0;
    return 1.0 - ab / (sqrt(aa) * sqrt(bb));
}
