// Graph bookkeeping: names of kinds and activations, freeing, lookup and
// the static consistency check shared by the HDF5 reader and writer.
#include "model/graph.h"

#include "core/mem.h"

#include <string.h>

static const char *const kind_names[FT_LAYER_KIND_COUNT_] = {
    [FT_LAYER_INPUT] = "InputLayer",
    [FT_LAYER_CONV2D] = "Conv2D",
    [FT_LAYER_DWCONV2D] = "DepthwiseConv2D",
    [FT_LAYER_DENSE] = "Dense",
    [FT_LAYER_MAXPOOL2D] = "MaxPooling2D",
    [FT_LAYER_AVGPOOL2D] = "AveragePooling2D",
    [FT_LAYER_GLOBAL_MAXPOOL2D] = "GlobalMaxPooling2D",
    [FT_LAYER_GLOBAL_AVGPOOL2D] = "GlobalAveragePooling2D",
    [FT_LAYER_FLATTEN] = "Flatten",
    [FT_LAYER_BATCHNORM] = "BatchNormalization",
    [FT_LAYER_ACTIVATION] = "Activation",
    [FT_LAYER_RELU] = "ReLU",
    [FT_LAYER_ZEROPAD2D] = "ZeroPadding2D",
    [FT_LAYER_DROPOUT] = "Dropout",
    [FT_LAYER_MODEL] = "Functional",
};

const char *ft_layer_kind_name(ft_layer_kind k)
{
    return (unsigned)k < FT_LAYER_KIND_COUNT_ ? kind_names[k] : NULL;
}

static const char *const act_names[FT_GACT_COUNT_] = {
    [FT_GACT_LINEAR] = "linear", [FT_GACT_RELU] = "relu",       [FT_GACT_RELU6] = "relu6",
    [FT_GACT_SIGMOID] = "sigmoid", [FT_GACT_TANH] = "tanh",     [FT_GACT_SOFTMAX] = "softmax",
    [FT_GACT_SWISH] = "swish",
};

const char *ft_gact_name(ft_gact a)
{
    return (unsigned)a < FT_GACT_COUNT_ ? act_names[a] : NULL;
}

static void graph_free_inner(ft_graph *g)
{
    for (size_t i = 0; i < g->n_layers; i++) {
        ft_glayer *l = &g->layers[i];
        ft_free(l->name);
        for (size_t k = 0; k < l->n_weights; k++)
            ft_free(l->weights[k].name);
        ft_free(l->weights);
        for (size_t k = 0; k < l->n_nodes; k++)
            ft_free(l->nodes[k].inputs);
        ft_free(l->nodes);
        ft_graph_free(l->sub);
    }
    ft_free(g->layers);
    ft_free(g->inputs);
    ft_free(g->outputs);
    ft_free(g->name);
    ft_aligned_free(g->block);
}

void ft_graph_free(ft_graph *g)
{
    if (!g)
        return;
    graph_free_inner(g);
    ft_free(g);
}

int32_t ft_graph_find(const ft_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

const ft_gweight *ft_glayer_weight(const ft_glayer *l, const char *name)
{
    for (size_t k = 0; k < l->n_weights; k++)
        if (strcmp(l->weights[k].name, name) == 0)
            return &l->weights[k];
    return NULL;
}

// ---- Static check ----

static size_t n_outputs_of(const ft_glayer *l)
{
    return l->kind == FT_LAYER_MODEL && l->sub ? l->sub->n_outputs : 1;
}

static ft_status check_ref(const ft_graph *g, const ft_gref *r, const char *who, ft_err *err)
{
    if (r->layer < 0 || (size_t)r->layer >= g->n_layers)
        return ft_err_set(err, FT_E_FORMAT, "%s: reference to layer #%d out of range", who,
                          (int)r->layer);
    const ft_glayer *src = &g->layers[r->layer];
    size_t n_nodes = src->kind == FT_LAYER_INPUT ? 1 : src->n_nodes;
    if (r->node < 0 || (size_t)r->node >= n_nodes)
        return ft_err_set(err, FT_E_FORMAT, "%s: reference to call %d of layer '%s', which has %zu",
                          who, (int)r->node, src->name, n_nodes);
    if (r->tensor < 0 || (size_t)r->tensor >= n_outputs_of(src))
        return ft_err_set(err, FT_E_FORMAT, "%s: reference to output %d of layer '%s'", who,
                          (int)r->tensor, src->name);
    return FT_OK;
}

static ft_status need_weight(const ft_glayer *l, const char *name, int32_t rank,
                             const ft_gweight **out, ft_err *err)
{
    const ft_gweight *w = ft_glayer_weight(l, name);
    if (!w)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s' (%s): missing weight '%s'", l->name,
                          ft_layer_kind_name(l->kind), name);
    if (w->rank != rank)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': weight '%s' has rank %d, expected %d",
                          l->name, name, (int)w->rank, (int)rank);
    *out = w;
    return FT_OK;
}

static ft_status check_vec(const ft_glayer *l, const char *name, int32_t n, ft_err *err)
{
    const ft_gweight *w;
    ft_status st = need_weight(l, name, 1, &w, err);
    if (st == FT_OK && w->shape[0] != n)
        st = ft_err_set(err, FT_E_FORMAT, "layer '%s': weight '%s' has %d values, expected %d",
                        l->name, name, (int)w->shape[0], (int)n);
    return st;
}

static bool positive2(const int32_t v[2])
{
    return v[0] > 0 && v[1] > 0;
}

static ft_status check_layer(const ft_glayer *l, ft_err *err)
{
    const ft_gweight *w;
    ft_status st = FT_OK;
    size_t expect = 0;

    switch (l->kind) {
    case FT_LAYER_CONV2D:
    case FT_LAYER_DWCONV2D: {
        bool dw = l->kind == FT_LAYER_DWCONV2D;
        if (!positive2(l->kernel) || !positive2(l->strides) || !positive2(l->dilation) ||
            (dw ? l->depth_multiplier <= 0 : l->units <= 0))
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': bad kernel/strides/filters", l->name);
        st = need_weight(l, dw ? "depthwise_kernel" : "kernel", 4, &w, err);
        if (st != FT_OK)
            return st;
        if (w->shape[0] != l->kernel[0] || w->shape[1] != l->kernel[1] ||
            w->shape[3] != (dw ? l->depth_multiplier : l->units))
            return ft_err_set(err, FT_E_FORMAT,
                              "layer '%s': kernel shape [%d, %d, %d, %d] does not match the "
                              "configuration",
                              l->name, (int)w->shape[0], (int)w->shape[1], (int)w->shape[2],
                              (int)w->shape[3]);
        expect = 1;
        if (l->use_bias) {
            st = check_vec(l, "bias", dw ? w->shape[2] * l->depth_multiplier : l->units, err);
            expect++;
        }
        break;
    }
    case FT_LAYER_DENSE:
        if (l->units <= 0)
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': bad units", l->name);
        st = need_weight(l, "kernel", 2, &w, err);
        if (st != FT_OK)
            return st;
        if (w->shape[1] != l->units)
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': kernel shape [%d, %d], units %d",
                              l->name, (int)w->shape[0], (int)w->shape[1], (int)l->units);
        expect = 1;
        if (l->use_bias) {
            st = check_vec(l, "bias", l->units, err);
            expect++;
        }
        break;
    case FT_LAYER_BATCHNORM: {
        const ft_gweight *mean;
        st = need_weight(l, "moving_mean", 1, &mean, err);
        if (st != FT_OK)
            return st;
        int32_t c = mean->shape[0];
        st = check_vec(l, "moving_variance", c, err);
        if (st == FT_OK && l->scale)
            st = check_vec(l, "gamma", c, err);
        if (st == FT_OK && l->center)
            st = check_vec(l, "beta", c, err);
        expect = 2 + (size_t)l->scale + (size_t)l->center;
        break;
    }
    case FT_LAYER_MAXPOOL2D:
    case FT_LAYER_AVGPOOL2D:
        if (!positive2(l->kernel) || !positive2(l->strides))
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': bad pool size or strides", l->name);
        break;
    case FT_LAYER_ZEROPAD2D:
        for (int i = 0; i < 4; i++)
            if (l->zero_pad[i] < 0)
                return ft_err_set(err, FT_E_FORMAT, "layer '%s': negative padding", l->name);
        break;
    case FT_LAYER_MODEL:
        if (!l->sub)
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': nested model missing", l->name);
        st = ft_graph_check(l->sub, err);
        if (st != FT_OK)
            ft_err_prefix(err, "in '%s': ", l->name);
        return st;
    default:
        break;
    }
    if (st == FT_OK && l->n_weights != expect)
        st = ft_err_set(err, FT_E_FORMAT, "layer '%s' (%s): %zu weights, expected %zu", l->name,
                        ft_layer_kind_name(l->kind), l->n_weights, expect);
    return st;
}

ft_status ft_graph_check(const ft_graph *g, ft_err *err)
{
    ft_status st;

    if (g->n_inputs == 0 || g->n_outputs == 0)
        return ft_err_set(err, FT_E_FORMAT, "model '%s' has no inputs or no outputs", g->name);
    for (size_t i = 0; i < g->n_layers; i++) {
        const ft_glayer *l = &g->layers[i];
        if ((unsigned)l->kind >= FT_LAYER_KIND_COUNT_)
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': bad kind", l->name);
        st = check_layer(l, err);
        if (st != FT_OK)
            return st;
        for (size_t k = 0; k < l->n_nodes; k++) {
            const ft_gnode *n = &l->nodes[k];
            size_t want = l->kind == FT_LAYER_MODEL ? l->sub->n_inputs : 1;
            if (l->kind == FT_LAYER_INPUT)
                want = 0;
            if (n->n_inputs != want)
                return ft_err_set(err, FT_E_FORMAT, "layer '%s': call %zu has %zu inputs, expected %zu",
                                  l->name, k, n->n_inputs, want);
            for (size_t j = 0; j < n->n_inputs; j++) {
                st = check_ref(g, &n->inputs[j], l->name, err);
                if (st != FT_OK)
                    return st;
            }
        }
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        st = check_ref(g, &g->inputs[i], "model inputs", err);
        if (st != FT_OK)
            return st;
        if (g->layers[g->inputs[i].layer].kind != FT_LAYER_INPUT)
            return ft_err_set(err, FT_E_FORMAT, "model '%s': input %zu is not an InputLayer",
                              g->name, i);
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        st = check_ref(g, &g->outputs[i], "model outputs", err);
        if (st != FT_OK)
            return st;
    }
    return FT_OK;
}
