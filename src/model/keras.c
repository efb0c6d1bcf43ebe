// Keras model_config JSON <-> ft_graph. Reads the functional configs of
// tf.keras 2.x and Keras 3 (legacy h5 flavour), writes the tf.keras 2.x
// flavour (which Keras 3 also reads). See h5.h for the two inbound_nodes
// formats.
#include "model/model_internal.h"

#include "core/mem.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

// A reference as written in the file, resolved once all layers exist.
typedef struct raw_ref {
    const char *layer; // borrowed from the JSON document
    json_int_t node, tensor;
    bool one_based_models; // nested models count their built-in node
} raw_ref;

typedef struct parse_ctx {
    const ft_h5_limits *lim;
    size_t n_layers_total;
    ft_err *err;
} parse_ctx;

// ---- Small JSON readers ----

static ft_status bad(parse_ctx *c, ft_status st, const char *layer, const char *fmt,
                     const char *what)
{
    return ft_err_set(c->err, st, "layer '%s': %s%s", layer ? layer : "?", fmt, what ? what : "");
}

static bool get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *v)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x))
        return false;
    *v = json_integer_value(x);
    return *v >= lo && *v <= hi;
}

// An int or a list of two ints ([a, b]); missing or null = dflt.
static bool pair_value(json_t *x, int32_t dflt, int32_t out[2])
{
    if (!x || json_is_null(x)) {
        out[0] = out[1] = dflt;
        return true;
    }
    if (json_is_integer(x)) {
        json_int_t v = json_integer_value(x);
        if (v < 0 || v > 1 << 20)
            return false;
        out[0] = out[1] = (int32_t)v;
        return true;
    }
    if (!json_is_array(x) || json_array_size(x) != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        json_t *e = json_array_get(x, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 20)
            return false;
        out[i] = (int32_t)json_integer_value(e);
    }
    return true;
}

static bool get_pair(json_t *o, const char *key, int32_t dflt, int32_t out[2])
{
    return pair_value(json_object_get(o, key), dflt, out);
}

static bool get_bool(json_t *o, const char *key, bool dflt, bool *v)
{
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) {
        *v = dflt;
        return true;
    }
    if (!json_is_boolean(x))
        return false;
    *v = json_is_true(x);
    return true;
}

static bool get_num(json_t *o, const char *key, double dflt, double *v)
{
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) {
        *v = dflt;
        return true;
    }
    if (!json_is_number(x))
        return false;
    *v = json_number_value(x);
    return isfinite(*v);
}

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

// ---- Layer configs ----

static ft_status parse_activation(parse_ctx *c, const char *layer, json_t *cfg, ft_gact *a)
{
    json_t *x = json_object_get(cfg, "activation");
    const char *s;
    if (!x || json_is_null(x)) {
        *a = FT_GACT_LINEAR;
        return FT_OK;
    }
    // Keras 3 may serialise a built-in activation as an object whose
    // "config" is the function name.
    s = json_is_object(x) ? get_str(x, "config") : json_string_value(x);
    if (!s)
        return bad(c, FT_E_FORMAT, layer, "activation is not a name", NULL);
    static const struct {
        const char *name;
        ft_gact act;
    } acts[] = {{"linear", FT_GACT_LINEAR}, {"relu", FT_GACT_RELU},   {"relu6", FT_GACT_RELU6},
                {"sigmoid", FT_GACT_SIGMOID}, {"tanh", FT_GACT_TANH}, {"softmax", FT_GACT_SOFTMAX},
                {"swish", FT_GACT_SWISH},   {"silu", FT_GACT_SWISH}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(s, acts[i].name) == 0) {
            *a = acts[i].act;
            return FT_OK;
        }
    return bad(c, FT_E_UNSUPPORTED, layer, "unsupported activation ", s);
}

static ft_status parse_padding(parse_ctx *c, const char *layer, json_t *cfg, ft_gpad *p)
{
    const char *s = get_str(cfg, "padding");
    if (!s || strcmp(s, "valid") == 0)
        *p = FT_GPAD_VALID;
    else if (strcmp(s, "same") == 0)
        *p = FT_GPAD_SAME;
    else
        return bad(c, FT_E_UNSUPPORTED, layer, "unsupported padding ", s);
    return FT_OK;
}

static ft_status check_channels_last(parse_ctx *c, const char *layer, json_t *cfg)
{
    const char *s = get_str(cfg, "data_format");
    if (s && strcmp(s, "channels_last") != 0)
        return bad(c, FT_E_UNSUPPORTED, layer, "unsupported data_format ", s);
    return FT_OK;
}

static const struct {
    const char *cls;
    ft_layer_kind kind;
} class_map[] = {
    {"InputLayer", FT_LAYER_INPUT},
    {"Conv2D", FT_LAYER_CONV2D},
    {"Convolution2D", FT_LAYER_CONV2D},
    {"DepthwiseConv2D", FT_LAYER_DWCONV2D},
    {"Dense", FT_LAYER_DENSE},
    {"MaxPooling2D", FT_LAYER_MAXPOOL2D},
    {"MaxPool2D", FT_LAYER_MAXPOOL2D},
    {"AveragePooling2D", FT_LAYER_AVGPOOL2D},
    {"AvgPool2D", FT_LAYER_AVGPOOL2D},
    {"GlobalMaxPooling2D", FT_LAYER_GLOBAL_MAXPOOL2D},
    {"GlobalMaxPool2D", FT_LAYER_GLOBAL_MAXPOOL2D},
    {"GlobalAveragePooling2D", FT_LAYER_GLOBAL_AVGPOOL2D},
    {"GlobalAvgPool2D", FT_LAYER_GLOBAL_AVGPOOL2D},
    {"Flatten", FT_LAYER_FLATTEN},
    {"BatchNormalization", FT_LAYER_BATCHNORM},
    {"Activation", FT_LAYER_ACTIVATION},
    {"ReLU", FT_LAYER_RELU},
    {"ZeroPadding2D", FT_LAYER_ZEROPAD2D},
    {"Dropout", FT_LAYER_DROPOUT},
    {"Functional", FT_LAYER_MODEL},
    {"Model", FT_LAYER_MODEL},
};

static ft_status parse_graph(parse_ctx *c, json_t *cfg, int32_t depth, ft_graph **out);

static ft_status parse_layer_config(parse_ctx *c, ft_glayer *l, const char *cls, json_t *cfg,
                                    int32_t depth)
{
    const char *n = l->name;
    ft_status st = FT_OK;
    json_int_t v;
    double d;
    bool found = false;

    for (size_t i = 0; i < sizeof class_map / sizeof class_map[0]; i++)
        if (strcmp(cls, class_map[i].cls) == 0) {
            l->kind = class_map[i].kind;
            found = true;
        }
    if (!found)
        return bad(c, FT_E_UNSUPPORTED, n, "unsupported layer type ", cls);
    if (!get_bool(cfg, "trainable", true, &l->trainable))
        return bad(c, FT_E_FORMAT, n, "bad \"trainable\"", NULL);
    st = check_channels_last(c, n, cfg);
    if (st != FT_OK)
        return st;
    l->dilation[0] = l->dilation[1] = 1;
    l->relu_max = -1;

    switch (l->kind) {
    case FT_LAYER_INPUT: {
        json_t *shape = json_object_get(cfg, "batch_input_shape");
        if (!shape)
            shape = json_object_get(cfg, "batch_shape");
        size_t r = json_array_size(shape);
        if (!json_is_array(shape) || (r != 2 && r != 4))
            return bad(c, FT_E_UNSUPPORTED, n, "input must be [batch, n] or [batch, h, w, c]",
                       NULL);
        l->input_rank = (int32_t)r - 1;
        for (size_t i = 1; i < r; i++) {
            json_t *e = json_array_get(shape, i);
            if (json_is_null(e))
                l->input_shape[i - 1] = -1;
            else if (json_is_integer(e) && json_integer_value(e) > 0 &&
                     json_integer_value(e) <= INT32_MAX)
                l->input_shape[i - 1] = (int32_t)json_integer_value(e);
            else
                return bad(c, FT_E_FORMAT, n, "bad input dimension", NULL);
        }
        break;
    }
    case FT_LAYER_CONV2D:
    case FT_LAYER_DWCONV2D:
        if (l->kind == FT_LAYER_CONV2D) {
            if (!get_int(cfg, "filters", 1, 1 << 20, &v))
                return bad(c, FT_E_FORMAT, n, "bad \"filters\"", NULL);
            l->units = (int32_t)v;
            if (json_object_get(cfg, "groups") && !(get_int(cfg, "groups", 1, 1, &v)))
                return bad(c, FT_E_UNSUPPORTED, n, "grouped convolution (groups != 1)", NULL);
        } else {
            if (!json_object_get(cfg, "depth_multiplier"))
                l->depth_multiplier = 1;
            else if (get_int(cfg, "depth_multiplier", 1, 1 << 16, &v))
                l->depth_multiplier = (int32_t)v;
            else
                return bad(c, FT_E_FORMAT, n, "bad \"depth_multiplier\"", NULL);
        }
        if (!get_pair(cfg, "kernel_size", -1, l->kernel) || l->kernel[0] <= 0 ||
            l->kernel[1] <= 0 || !get_pair(cfg, "strides", 1, l->strides) ||
            l->strides[0] <= 0 || l->strides[1] <= 0 ||
            !get_pair(cfg, "dilation_rate", 1, l->dilation) || l->dilation[0] <= 0 ||
            l->dilation[1] <= 0)
            return bad(c, FT_E_FORMAT, n, "bad kernel_size, strides or dilation_rate", NULL);
        if (!get_bool(cfg, "use_bias", true, &l->use_bias))
            return bad(c, FT_E_FORMAT, n, "bad \"use_bias\"", NULL);
        st = parse_padding(c, n, cfg, &l->padding);
        if (st == FT_OK)
            st = parse_activation(c, n, cfg, &l->activation);
        break;
    case FT_LAYER_DENSE:
        if (!get_int(cfg, "units", 1, INT32_MAX, &v))
            return bad(c, FT_E_FORMAT, n, "bad \"units\"", NULL);
        l->units = (int32_t)v;
        if (!get_bool(cfg, "use_bias", true, &l->use_bias))
            return bad(c, FT_E_FORMAT, n, "bad \"use_bias\"", NULL);
        st = parse_activation(c, n, cfg, &l->activation);
        break;
    case FT_LAYER_MAXPOOL2D:
    case FT_LAYER_AVGPOOL2D:
        if (!get_pair(cfg, "pool_size", 2, l->kernel) || l->kernel[0] <= 0 || l->kernel[1] <= 0)
            return bad(c, FT_E_FORMAT, n, "bad \"pool_size\"", NULL);
        // strides: null means the pool size.
        if (!get_pair(cfg, "strides", 0, l->strides))
            return bad(c, FT_E_FORMAT, n, "bad \"strides\"", NULL);
        if (l->strides[0] == 0 && l->strides[1] == 0) {
            l->strides[0] = l->kernel[0];
            l->strides[1] = l->kernel[1];
        }
        if (l->strides[0] <= 0 || l->strides[1] <= 0)
            return bad(c, FT_E_FORMAT, n, "bad \"strides\"", NULL);
        st = parse_padding(c, n, cfg, &l->padding);
        break;
    case FT_LAYER_GLOBAL_MAXPOOL2D:
    case FT_LAYER_GLOBAL_AVGPOOL2D:
        if (!get_bool(cfg, "keepdims", false, &l->keepdims))
            return bad(c, FT_E_FORMAT, n, "bad \"keepdims\"", NULL);
        break;
    case FT_LAYER_BATCHNORM: {
        json_t *ax = json_object_get(cfg, "axis");
        if (json_is_array(ax) && json_array_size(ax) == 1)
            ax = json_array_get(ax, 0);
        // Channels last: the last axis, -1, or 3 for an NHWC map (a
        // rank-2 input's last axis 1 also works, with either rank).
        if (ax && !(json_is_integer(ax) && (json_integer_value(ax) == -1 ||
                                            json_integer_value(ax) == 3 ||
                                            json_integer_value(ax) == 1)))
            return bad(c, FT_E_UNSUPPORTED, n, "batch normalisation over an axis other than the "
                       "last", NULL);
        if (!get_num(cfg, "epsilon", 1e-3, &d) || d < 0)
            return bad(c, FT_E_FORMAT, n, "bad \"epsilon\"", NULL);
        l->epsilon = (float)d;
        if (!get_bool(cfg, "center", true, &l->center) || !get_bool(cfg, "scale", true, &l->scale))
            return bad(c, FT_E_FORMAT, n, "bad \"center\" or \"scale\"", NULL);
        break;
    }
    case FT_LAYER_ACTIVATION:
        st = parse_activation(c, n, cfg, &l->activation);
        break;
    case FT_LAYER_RELU:
        if (!get_num(cfg, "max_value", -1, &d))
            return bad(c, FT_E_FORMAT, n, "bad \"max_value\"", NULL);
        l->relu_max = d < 0 ? -1.0f : (float)d;
        if (!get_num(cfg, "negative_slope", 0, &d))
            return bad(c, FT_E_FORMAT, n, "bad \"negative_slope\"", NULL);
        l->relu_slope = (float)d;
        if (!get_num(cfg, "threshold", 0, &d))
            return bad(c, FT_E_FORMAT, n, "bad \"threshold\"", NULL);
        l->relu_threshold = (float)d;
        break;
    case FT_LAYER_ZEROPAD2D: {
        json_t *p = json_object_get(cfg, "padding");
        int32_t a[2], b[2];
        if (json_is_array(p) && json_array_size(p) == 2 &&
            json_is_array(json_array_get(p, 0))) {
            if (!pair_value(json_array_get(p, 0), 0, a) ||
                !pair_value(json_array_get(p, 1), 0, b))
                return bad(c, FT_E_FORMAT, n, "bad \"padding\"", NULL);
            l->zero_pad[0] = a[0];
            l->zero_pad[1] = a[1];
            l->zero_pad[2] = b[0];
            l->zero_pad[3] = b[1];
        } else if (get_pair(cfg, "padding", 1, a)) {
            // (symmetric_height, symmetric_width) or one int for all.
            l->zero_pad[0] = l->zero_pad[1] = a[0];
            l->zero_pad[2] = l->zero_pad[3] = a[1];
        } else {
            return bad(c, FT_E_FORMAT, n, "bad \"padding\"", NULL);
        }
        break;
    }
    case FT_LAYER_DROPOUT:
        if (!get_num(cfg, "rate", 0, &d))
            return bad(c, FT_E_FORMAT, n, "bad \"rate\"", NULL);
        l->rate = (float)d;
        break;
    case FT_LAYER_MODEL:
        if (depth + 1 > c->lim->max_depth)
            return bad(c, FT_E_LIMIT, n, "models nested too deeply", NULL);
        st = parse_graph(c, cfg, depth + 1, &l->sub);
        if (st != FT_OK)
            ft_err_prefix(c->err, "in '%s': ", n);
        break;
    default:
        break;
    }
    return st;
}

// ---- References and nodes ----

static ft_status collect_k3_refs(parse_ctx *c, const char *layer, json_t *x, raw_ref *refs,
                                 size_t cap, size_t *n)
{
    // A Keras 3 node: {"args": [...], "kwargs": {...}}; tensors anywhere in
    // args are {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}.
    if (json_is_array(x)) {
        size_t i;
        json_t *e;
        json_array_foreach(x, i, e)
        {
            ft_status st = collect_k3_refs(c, layer, e, refs, cap, n);
            if (st != FT_OK)
                return st;
        }
        return FT_OK;
    }
    if (!json_is_object(x))
        return FT_OK;
    const char *cls = get_str(x, "class_name");
    if (!cls || strcmp(cls, "__keras_tensor__") != 0)
        return FT_OK;
    json_t *h = json_object_get(json_object_get(x, "config"), "keras_history");
    if (!json_is_array(h) || json_array_size(h) != 3 || !json_is_string(json_array_get(h, 0)) ||
        !json_is_integer(json_array_get(h, 1)) || !json_is_integer(json_array_get(h, 2)))
        return bad(c, FT_E_FORMAT, layer, "bad keras_history in inbound_nodes", NULL);
    if (*n >= cap)
        return bad(c, FT_E_UNSUPPORTED, layer, "too many inputs", NULL);
    refs[*n].layer = json_string_value(json_array_get(h, 0));
    refs[*n].node = json_integer_value(json_array_get(h, 1));
    refs[*n].tensor = json_integer_value(json_array_get(h, 2));
    refs[*n].one_based_models = false;
    (*n)++;
    return FT_OK;
}

// [name, node, tensor] or [name, node, tensor, kwargs].
static bool parse_list_ref(json_t *e, bool one_based, raw_ref *r)
{
    if (!json_is_array(e) || json_array_size(e) < 3 || json_array_size(e) > 4 ||
        !json_is_string(json_array_get(e, 0)) || !json_is_integer(json_array_get(e, 1)) ||
        !json_is_integer(json_array_get(e, 2)))
        return false;
    r->layer = json_string_value(json_array_get(e, 0));
    r->node = json_integer_value(json_array_get(e, 1));
    r->tensor = json_integer_value(json_array_get(e, 2));
    r->one_based_models = one_based;
    return true;
}

static ft_status resolve(parse_ctx *c, const ft_graph *g, const char *who, const raw_ref *r,
                         ft_gref *out)
{
    int32_t li = ft_graph_find(g, r->layer);
    if (li < 0)
        return ft_err_set(c->err, FT_E_FORMAT, "layer '%s': input from unknown layer '%s'", who,
                          r->layer);
    const ft_glayer *src = &g->layers[li];
    json_int_t node = r->node;
    size_t calls = src->kind == FT_LAYER_INPUT ? 1 : src->n_nodes;
    // A nested functional model starts with a built-in node that the file
    // counts (tf.keras everywhere, Keras 3 in input/output_layers).
    if (src->kind == FT_LAYER_MODEL && r->one_based_models)
        node -= 1;
    if ((node < 0 || (size_t)node >= calls) && calls == 1)
        node = 0; // one call: there is only one thing it can mean
    if (node < 0 || (size_t)node >= calls || r->tensor < 0 || r->tensor > INT32_MAX)
        return ft_err_set(c->err, FT_E_FORMAT, "layer '%s': input from call %lld of '%s', which has %zu",
                          who, (long long)r->node, r->layer, calls);
    out->layer = li;
    out->node = (int32_t)node;
    out->tensor = (int32_t)r->tensor;
    return FT_OK;
}

// Inbound nodes of layer l (json `nodes`), resolved against g.
static ft_status parse_nodes(parse_ctx *c, ft_graph *g, ft_glayer *l, json_t *nodes)
{
    enum { MAX_IN = 64 };
    raw_ref refs[MAX_IN];
    size_t k;
    json_t *nd;

    json_array_foreach(nodes, k, nd)
    {
        size_t n = 0;
        ft_status st;
        if (json_is_object(nd)) {
            st = collect_k3_refs(c, l->name, json_object_get(nd, "args"), refs, MAX_IN, &n);
            if (st != FT_OK)
                return st;
        } else if (json_is_array(nd)) {
            size_t i;
            json_t *e;
            json_array_foreach(nd, i, e)
            {
                if (n >= MAX_IN)
                    return bad(c, FT_E_UNSUPPORTED, l->name, "too many inputs", NULL);
                if (!parse_list_ref(e, true, &refs[n++]))
                    return bad(c, FT_E_FORMAT, l->name, "bad entry in inbound_nodes", NULL);
            }
        } else {
            return bad(c, FT_E_FORMAT, l->name, "bad inbound_nodes", NULL);
        }
        ft_gnode *node = &l->nodes[k];
        node->inputs = ft_calloc(n ? n : 1, sizeof *node->inputs);
        if (!node->inputs)
            return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
        node->n_inputs = n;
        for (size_t i = 0; i < n; i++) {
            st = resolve(c, g, l->name, &refs[i], &node->inputs[i]);
            if (st != FT_OK)
                return st;
        }
    }
    return FT_OK;
}

// input_layers / output_layers: [[name, node, tensor], ...] or one
// [name, node, tensor].
static ft_status parse_io(parse_ctx *c, ft_graph *g, json_t *x, const char *what, ft_gref **out,
                          size_t *n_out)
{
    size_t n = 0;
    raw_ref r;

    if (!json_is_array(x))
        return ft_err_set(c->err, FT_E_FORMAT, "model '%s': no \"%s\"", g->name, what);
    bool single = json_is_string(json_array_get(x, 0));
    n = single ? 1 : json_array_size(x);
    *out = ft_calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        if (!parse_list_ref(single ? x : json_array_get(x, i), true, &r))
            return ft_err_set(c->err, FT_E_UNSUPPORTED, "model '%s': \"%s\" is not a list of "
                              "[layer, node, tensor]", g->name, what);
        ft_status st = resolve(c, g, what, &r, &(*out)[i]);
        if (st != FT_OK)
            return st;
    }
    return FT_OK;
}

static ft_status parse_graph(parse_ctx *c, json_t *cfg, int32_t depth, ft_graph **out)
{
    ft_graph *g = NULL;
    ft_status st = FT_OK;
    json_t *layers = json_object_get(cfg, "layers"), *lj;
    size_t i;

    if (!json_is_object(cfg) || !json_is_array(layers))
        return ft_err_set(c->err, FT_E_FORMAT, "model config has no \"layers\" list");
    g = ft_calloc(1, sizeof *g);
    if (!g)
        return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
    const char *gname = get_str(cfg, "name");
    g->name = ft_strdup(gname ? gname : "model");
    g->n_layers = json_array_size(layers);
    g->layers = ft_calloc(g->n_layers ? g->n_layers : 1, sizeof *g->layers);
    if (!g->name || !g->layers) {
        g->n_layers = 0;
        st = ft_err_set(c->err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    if (!ft_size_add(c->n_layers_total, g->n_layers, &c->n_layers_total) ||
        c->n_layers_total > c->lim->max_layers) {
        g->n_layers = 0;
        st = ft_err_set(c->err, FT_E_LIMIT, "more than %zu layers", c->lim->max_layers);
        goto done;
    }
    // Pass 1: names, kinds, configs; node arrays sized.
    json_array_foreach(layers, i, lj)
    {
        ft_glayer *l = &g->layers[i];
        json_t *lcfg = json_object_get(lj, "config");
        const char *cls = get_str(lj, "class_name");
        const char *name = get_str(lj, "name");
        if (!name)
            name = get_str(lcfg, "name");
        if (!json_is_object(lj) || !cls || !name) {
            st = ft_err_set(c->err, FT_E_FORMAT, "model '%s': layer #%zu has no class_name/name",
                            g->name, i);
            goto done;
        }
        l->name = ft_strdup(name);
        if (!l->name) {
            st = ft_err_set(c->err, FT_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(g->layers[j].name, name) == 0) {
                st = ft_err_set(c->err, FT_E_FORMAT, "layer '%s': duplicate name", name);
                goto done;
            }
        if (strcmp(cls, "Sequential") == 0) {
            st = bad(c, FT_E_UNSUPPORTED, name, "nested Sequential models are not supported",
                     NULL);
            goto done;
        }
        if (!json_is_object(lcfg)) {
            st = bad(c, FT_E_FORMAT, name, "no \"config\" object", NULL);
            goto done;
        }
        st = parse_layer_config(c, l, cls, lcfg, depth);
        if (st != FT_OK)
            goto done;
        json_t *nodes = json_object_get(lj, "inbound_nodes");
        if (nodes && !json_is_array(nodes)) {
            st = bad(c, FT_E_FORMAT, name, "bad inbound_nodes", NULL);
            goto done;
        }
        if (l->kind == FT_LAYER_INPUT)
            continue;
        l->n_nodes = json_array_size(nodes);
        l->nodes = ft_calloc(l->n_nodes ? l->n_nodes : 1, sizeof *l->nodes);
        if (!l->nodes) {
            l->n_nodes = 0;
            st = ft_err_set(c->err, FT_E_NOMEM, "out of memory");
            goto done;
        }
    }
    // Pass 2: inbound nodes (they may name later layers).
    json_array_foreach(layers, i, lj)
    {
        if (g->layers[i].kind == FT_LAYER_INPUT)
            continue;
        st = parse_nodes(c, g, &g->layers[i], json_object_get(lj, "inbound_nodes"));
        if (st != FT_OK)
            goto done;
    }
    st = parse_io(c, g, json_object_get(cfg, "input_layers"), "input_layers", &g->inputs,
                  &g->n_inputs);
    if (st == FT_OK)
        st = parse_io(c, g, json_object_get(cfg, "output_layers"), "output_layers", &g->outputs,
                      &g->n_outputs);
    if (st != FT_OK)
        goto done;
    *out = g;
    g = NULL;
done:
    ft_graph_free(g);
    return st;
}

ft_status ft_model__graph_from_config(const char *json, size_t len, const ft_h5_limits *lim,
                                      ft_graph **out, ft_err *err)
{
    parse_ctx c = {lim, 0, err};
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    ft_status st;

    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        return ft_err_set(err, FT_E_FORMAT, "model_config is not valid JSON (line %d: %s)",
                          je.line, je.text);
    }
    const char *cls = get_str(root, "class_name");
    if (!cls)
        st = ft_err_set(err, FT_E_FORMAT, "model_config has no class_name");
    else if (strcmp(cls, "Functional") != 0 && strcmp(cls, "Model") != 0)
        st = ft_err_set(err, FT_E_UNSUPPORTED, "model class '%s' is not supported (only "
                        "functional models)", cls);
    else
        st = parse_graph(&c, json_object_get(root, "config"), 0, out);
    json_decref(root);
    return st;
}

// ---- Writing (tf.keras 2.x flavour) ----

static json_t *pair(const int32_t v[2])
{
    return json_pack("[ii]", (int)v[0], (int)v[1]);
}

static const char *pad_name(ft_gpad p)
{
    return p == FT_GPAD_SAME ? "same" : "valid";
}

json_t *ft_model__layer_config(const ft_glayer *l)
{
    json_t *c = json_pack("{sssbss}", "name", l->name, "trainable", l->trainable, "dtype",
                          "float32");
    int fail = c == NULL;

    switch (l->kind) {
    case FT_LAYER_INPUT: {
        json_t *shape = json_array();
        fail |= json_array_append_new(shape, json_null());
        for (int32_t i = 0; i < l->input_rank; i++)
            fail |= json_array_append_new(
                shape, l->input_shape[i] < 0 ? json_null() : json_integer(l->input_shape[i]));
        fail |= json_object_set_new(c, "batch_input_shape", shape);
        fail |= json_object_set_new(c, "sparse", json_false());
        fail |= json_object_set_new(c, "ragged", json_false());
        json_object_del(c, "trainable");
        break;
    }
    case FT_LAYER_CONV2D:
    case FT_LAYER_DWCONV2D:
        if (l->kind == FT_LAYER_CONV2D) {
            fail |= json_object_set_new(c, "filters", json_integer(l->units));
            fail |= json_object_set_new(c, "groups", json_integer(1));
        } else {
            fail |= json_object_set_new(c, "depth_multiplier", json_integer(l->depth_multiplier));
        }
        fail |= json_object_set_new(c, "kernel_size", pair(l->kernel));
        fail |= json_object_set_new(c, "strides", pair(l->strides));
        fail |= json_object_set_new(c, "padding", json_string(pad_name(l->padding)));
        fail |= json_object_set_new(c, "data_format", json_string("channels_last"));
        fail |= json_object_set_new(c, "dilation_rate", pair(l->dilation));
        fail |= json_object_set_new(c, "activation", json_string(ft_gact_name(l->activation)));
        fail |= json_object_set_new(c, "use_bias", json_boolean(l->use_bias));
        break;
    case FT_LAYER_DENSE:
        fail |= json_object_set_new(c, "units", json_integer(l->units));
        fail |= json_object_set_new(c, "activation", json_string(ft_gact_name(l->activation)));
        fail |= json_object_set_new(c, "use_bias", json_boolean(l->use_bias));
        break;
    case FT_LAYER_MAXPOOL2D:
    case FT_LAYER_AVGPOOL2D:
        fail |= json_object_set_new(c, "pool_size", pair(l->kernel));
        fail |= json_object_set_new(c, "padding", json_string(pad_name(l->padding)));
        fail |= json_object_set_new(c, "strides", pair(l->strides));
        fail |= json_object_set_new(c, "data_format", json_string("channels_last"));
        break;
    case FT_LAYER_GLOBAL_MAXPOOL2D:
    case FT_LAYER_GLOBAL_AVGPOOL2D:
        fail |= json_object_set_new(c, "data_format", json_string("channels_last"));
        fail |= json_object_set_new(c, "keepdims", json_boolean(l->keepdims));
        break;
    case FT_LAYER_FLATTEN:
        fail |= json_object_set_new(c, "data_format", json_string("channels_last"));
        break;
    case FT_LAYER_BATCHNORM:
        fail |= json_object_set_new(c, "axis", json_integer(-1));
        fail |= json_object_set_new(c, "momentum", json_real(0.99));
        fail |= json_object_set_new(c, "epsilon", json_real(l->epsilon));
        fail |= json_object_set_new(c, "center", json_boolean(l->center));
        fail |= json_object_set_new(c, "scale", json_boolean(l->scale));
        break;
    case FT_LAYER_ACTIVATION:
        fail |= json_object_set_new(c, "activation", json_string(ft_gact_name(l->activation)));
        break;
    case FT_LAYER_RELU:
        fail |= json_object_set_new(c, "max_value",
                                    l->relu_max < 0 ? json_null() : json_real(l->relu_max));
        fail |= json_object_set_new(c, "negative_slope", json_real(l->relu_slope));
        fail |= json_object_set_new(c, "threshold", json_real(l->relu_threshold));
        break;
    case FT_LAYER_ZEROPAD2D:
        fail |= json_object_set_new(c, "padding",
                                    json_pack("[[ii][ii]]", (int)l->zero_pad[0],
                                              (int)l->zero_pad[1], (int)l->zero_pad[2],
                                              (int)l->zero_pad[3]));
        fail |= json_object_set_new(c, "data_format", json_string("channels_last"));
        break;
    case FT_LAYER_DROPOUT:
        fail |= json_object_set_new(c, "rate", json_real(l->rate));
        break;
    default:
        break;
    }
    if (fail) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *ref_json(const ft_graph *g, const ft_gref *r, bool with_kwargs)
{
    const ft_glayer *src = &g->layers[r->layer];
    json_int_t node = r->node + (src->kind == FT_LAYER_MODEL ? 1 : 0);
    if (with_kwargs)
        return json_pack("[sII{}]", src->name, node, (json_int_t)r->tensor);
    return json_pack("[sII]", src->name, node, (json_int_t)r->tensor);
}

static json_t *graph_json(const ft_graph *g);

static json_t *layer_json(const ft_graph *g, const ft_glayer *l)
{
    json_t *cfg = l->kind == FT_LAYER_MODEL ? graph_json(l->sub) : ft_model__layer_config(l);
    json_t *nodes = json_array();
    int fail = !cfg || !nodes;

    if (cfg && l->kind == FT_LAYER_MODEL)
        fail |= json_object_set_new(cfg, "trainable", json_boolean(l->trainable));
    for (size_t k = 0; !fail && k < l->n_nodes; k++) {
        json_t *nd = json_array();
        fail |= nd == NULL;
        for (size_t i = 0; nd && i < l->nodes[k].n_inputs; i++)
            fail |= json_array_append_new(nd, ref_json(g, &l->nodes[k].inputs[i], true));
        fail |= json_array_append_new(nodes, nd);
    }
    json_t *lj = fail ? NULL
                      : json_pack("{sssosssO}", "class_name", ft_layer_kind_name(l->kind), "config",
                                  cfg, "name", l->name, "inbound_nodes", nodes);
    json_decref(nodes);
    if (!lj && !fail)
        return NULL;
    if (fail)
        json_decref(cfg);
    return lj;
}

static json_t *graph_json(const ft_graph *g)
{
    json_t *layers = json_array(), *ins = json_array(), *outs = json_array();
    int fail = !layers || !ins || !outs;
    for (size_t i = 0; !fail && i < g->n_layers; i++)
        fail |= json_array_append_new(layers, layer_json(g, &g->layers[i]));
    for (size_t i = 0; !fail && i < g->n_inputs; i++)
        fail |= json_array_append_new(ins, ref_json(g, &g->inputs[i], false));
    for (size_t i = 0; !fail && i < g->n_outputs; i++)
        fail |= json_array_append_new(outs, ref_json(g, &g->outputs[i], false));
    if (fail) {
        json_decref(layers);
        json_decref(ins);
        json_decref(outs);
        return NULL;
    }
    return json_pack("{sssbsososo}", "name", g->name, "trainable", 1, "layers", layers,
                     "input_layers", ins, "output_layers", outs);
}

ft_status ft_graph_to_keras_json(const ft_graph *g, ft_buf *out, ft_err *err)
{
    ft_status st = ft_graph_check(g, err);
    if (st != FT_OK)
        return st;
    json_t *root = json_pack("{ssso}", "class_name", "Functional", "config", graph_json(g));
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(root);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    st = ft_buf_puts(out, s);
    jfree(s); // allocated by jansson
    if (st != FT_OK)
        return ft_err_set(err, st, "model_config: %s", ft_status_str(st));
    return FT_OK;
}
