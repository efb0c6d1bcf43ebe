// Reference forward pass for ft_graph: every layer kind as plain loops with
// double accumulators, batch 1, channels last. It is the specification
// the engine-backed runner is checked against, not a fast path.
#include "model/graph.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

void ft_gtensor_deinit(ft_gtensor *t)
{
    if (!t)
        return;
    ft_free(t->data);
    t->data = NULL;
    t->rank = 0;
}

static ft_status tensor_new(ft_gtensor *t, int32_t rank, int32_t d0, int32_t d1, int32_t d2,
                            const char *who, ft_err *err)
{
    size_t n = 1;
    int32_t dims[3] = {d0, d1, d2};
    memset(t, 0, sizeof *t);
    t->rank = rank;
    for (int32_t i = 0; i < rank; i++) {
        if (dims[i] <= 0)
            return ft_err_set(err, FT_E_FORMAT, "layer '%s': empty output", who);
        t->shape[i] = dims[i];
        if (!ft_size_mul(n, (size_t)dims[i], &n) || !ft_size_mul(n, sizeof(float), &(size_t){0}))
            return ft_err_set(err, FT_E_LIMIT, "layer '%s': output too large", who);
    }
    t->data = ft_calloc(n, sizeof(float));
    if (!t->data)
        return ft_err_set(err, FT_E_NOMEM, "layer '%s': out of memory", who);
    return FT_OK;
}

static ft_status tensor_copy(ft_gtensor *dst, const ft_gtensor *src, const char *who, ft_err *err)
{
    ft_status st = tensor_new(dst, src->rank, src->shape[0], src->shape[1], src->shape[2], who, err);
    if (st == FT_OK)
        memcpy(dst->data, src->data, ft_gtensor_count(src) * sizeof(float));
    return st;
}

// ---- Activations ----

static double act1(ft_gact a, double x)
{
    switch (a) {
    case FT_GACT_RELU:
        return x > 0 ? x : 0;
    case FT_GACT_RELU6:
        return x < 0 ? 0 : (x > 6 ? 6 : x);
    case FT_GACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case FT_GACT_TANH:
        return tanh(x);
    case FT_GACT_SWISH:
        return x / (1.0 + exp(-x));
    default:
        return x;
    }
}

static void activate(ft_gtensor *t, ft_gact a)
{
    size_t n = ft_gtensor_count(t);
    if (a == FT_GACT_LINEAR)
        return;
    if (a == FT_GACT_SOFTMAX) {
        size_t c = (size_t)t->shape[t->rank - 1];
        for (size_t base = 0; base < n; base += c) {
            double mx = -INFINITY, sum = 0;
            for (size_t i = 0; i < c; i++)
                mx = fmax(mx, t->data[base + i]);
            for (size_t i = 0; i < c; i++)
                sum += exp((double)t->data[base + i] - mx);
            for (size_t i = 0; i < c; i++)
                t->data[base + i] = (float)(exp((double)t->data[base + i] - mx) / sum);
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        t->data[i] = (float)act1(a, t->data[i]);
}

// ---- Windows (conv and pooling share TensorFlow's geometry) ----

typedef struct win {
    int32_t out, pad_before;
} win;

static bool window(int32_t in, int32_t k, int32_t stride, int32_t dil, ft_gpad pad, win *w)
{
    int32_t ek = (k - 1) * dil + 1;
    if (pad == FT_GPAD_SAME) {
        w->out = (in + stride - 1) / stride;
        int32_t total = (w->out - 1) * stride + ek - in;
        w->pad_before = total > 0 ? total / 2 : 0;
    } else {
        if (in < ek)
            return false;
        w->out = (in - ek) / stride + 1;
        w->pad_before = 0;
    }
    return w->out > 0;
}

static ft_status need_rank3(const ft_glayer *l, const ft_gtensor *x, ft_err *err)
{
    if (x->rank != 3)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s' (%s) needs an HxWxC input, got rank %d",
                          l->name, ft_layer_kind_name(l->kind), (int)x->rank);
    return FT_OK;
}

static ft_status run_conv(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    bool dw = l->kind == FT_LAYER_DWCONV2D;
    const ft_gweight *k = ft_glayer_weight(l, dw ? "depthwise_kernel" : "kernel");
    const ft_gweight *b = l->use_bias ? ft_glayer_weight(l, "bias") : NULL;
    ft_status st = need_rank3(l, x, err);
    win wy, wx;

    if (st != FT_OK)
        return st;
    int32_t H = x->shape[0], W = x->shape[1], C = x->shape[2];
    int32_t kh = k->shape[0], kw = k->shape[1], m = k->shape[3];
    if (k->shape[2] != C)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': kernel expects %d input channels, got %d",
                          l->name, (int)k->shape[2], (int)C);
    if (!window(H, kh, l->strides[0], l->dilation[0], l->padding, &wy) ||
        !window(W, kw, l->strides[1], l->dilation[1], l->padding, &wx))
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': input %dx%d smaller than the kernel",
                          l->name, (int)H, (int)W);
    int32_t CO = dw ? C * m : m;
    st = tensor_new(y, 3, wy.out, wx.out, CO, l->name, err);
    if (st != FT_OK)
        return st;
    for (int32_t oy = 0; oy < wy.out; oy++)
        for (int32_t ox = 0; ox < wx.out; ox++)
            for (int32_t co = 0; co < CO; co++) {
                double acc = b ? b->data[co] : 0.0;
                for (int32_t ky = 0; ky < kh; ky++)
                    for (int32_t kx = 0; kx < kw; kx++) {
                        int32_t iy = oy * l->strides[0] - wy.pad_before + ky * l->dilation[0];
                        int32_t ix = ox * l->strides[1] - wx.pad_before + kx * l->dilation[1];
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                            continue;
                        const float *px = x->data + ((size_t)iy * W + ix) * C;
                        if (dw) {
                            // Output channel c*m + j reads input channel c.
                            int32_t c = co / m, j = co % m;
                            acc += (double)px[c] * k->data[(((size_t)ky * kw + kx) * C + c) * m + j];
                        } else {
                            for (int32_t ci = 0; ci < C; ci++)
                                acc += (double)px[ci] *
                                       k->data[(((size_t)ky * kw + kx) * C + ci) * m + co];
                        }
                    }
                y->data[((size_t)oy * wx.out + ox) * CO + co] = (float)acc;
            }
    activate(y, l->activation);
    return FT_OK;
}

static ft_status run_pool(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    bool avg = l->kind == FT_LAYER_AVGPOOL2D;
    ft_status st = need_rank3(l, x, err);
    win wy, wx;

    if (st != FT_OK)
        return st;
    int32_t H = x->shape[0], W = x->shape[1], C = x->shape[2];
    if (!window(H, l->kernel[0], l->strides[0], 1, l->padding, &wy) ||
        !window(W, l->kernel[1], l->strides[1], 1, l->padding, &wx))
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': input %dx%d smaller than the pool",
                          l->name, (int)H, (int)W);
    st = tensor_new(y, 3, wy.out, wx.out, C, l->name, err);
    if (st != FT_OK)
        return st;
    for (int32_t oy = 0; oy < wy.out; oy++)
        for (int32_t ox = 0; ox < wx.out; ox++)
            for (int32_t c = 0; c < C; c++) {
                // Padded cells take no part: max ignores them and the
                // average divides by the cells inside the input (TF).
                double acc = avg ? 0.0 : -INFINITY;
                int32_t n = 0;
                for (int32_t ky = 0; ky < l->kernel[0]; ky++)
                    for (int32_t kx = 0; kx < l->kernel[1]; kx++) {
                        int32_t iy = oy * l->strides[0] - wy.pad_before + ky;
                        int32_t ix = ox * l->strides[1] - wx.pad_before + kx;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                            continue;
                        double v = x->data[((size_t)iy * W + ix) * C + c];
                        acc = avg ? acc + v : fmax(acc, v);
                        n++;
                    }
                y->data[((size_t)oy * wx.out + ox) * C + c] = (float)(avg ? acc / n : acc);
            }
    return FT_OK;
}

static ft_status run_global_pool(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y,
                                 ft_err *err)
{
    bool avg = l->kind == FT_LAYER_GLOBAL_AVGPOOL2D;
    ft_status st = need_rank3(l, x, err);
    if (st != FT_OK)
        return st;
    int32_t C = x->shape[2];
    size_t n = (size_t)x->shape[0] * (size_t)x->shape[1];
    st = l->keepdims ? tensor_new(y, 3, 1, 1, C, l->name, err)
                     : tensor_new(y, 1, C, 0, 0, l->name, err);
    if (st != FT_OK)
        return st;
    for (int32_t c = 0; c < C; c++) {
        double acc = avg ? 0.0 : -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double v = x->data[i * C + c];
            acc = avg ? acc + v : fmax(acc, v);
        }
        y->data[c] = (float)(avg ? acc / (double)n : acc);
    }
    return FT_OK;
}

static ft_status run_dense(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    const ft_gweight *k = ft_glayer_weight(l, "kernel");
    const ft_gweight *b = l->use_bias ? ft_glayer_weight(l, "bias") : NULL;
    int32_t n_in = x->shape[x->rank - 1], n_out = k->shape[1];
    ft_status st;

    if (k->shape[0] != n_in)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': kernel expects %d inputs, got %d",
                          l->name, (int)k->shape[0], (int)n_in);
    // Keras applies Dense to the last axis of a map too.
    st = x->rank == 3 ? tensor_new(y, 3, x->shape[0], x->shape[1], n_out, l->name, err)
                      : tensor_new(y, 1, n_out, 0, 0, l->name, err);
    if (st != FT_OK)
        return st;
    size_t rows = ft_gtensor_count(x) / (size_t)n_in;
    for (size_t r = 0; r < rows; r++)
        for (int32_t o = 0; o < n_out; o++) {
            double acc = b ? b->data[o] : 0.0;
            for (int32_t i = 0; i < n_in; i++)
                acc += (double)x->data[r * n_in + i] * k->data[(size_t)i * n_out + o];
            y->data[r * n_out + o] = (float)acc;
        }
    activate(y, l->activation);
    return FT_OK;
}

static ft_status run_bn(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    const ft_gweight *mean = ft_glayer_weight(l, "moving_mean");
    const ft_gweight *var = ft_glayer_weight(l, "moving_variance");
    const ft_gweight *gamma = l->scale ? ft_glayer_weight(l, "gamma") : NULL;
    const ft_gweight *beta = l->center ? ft_glayer_weight(l, "beta") : NULL;
    int32_t C = x->shape[x->rank - 1];

    if (mean->shape[0] != C)
        return ft_err_set(err, FT_E_FORMAT, "layer '%s': %d channels, input has %d", l->name,
                          (int)mean->shape[0], (int)C);
    ft_status st = tensor_copy(y, x, l->name, err);
    if (st != FT_OK)
        return st;
    size_t n = ft_gtensor_count(x);
    for (size_t i = 0; i < n; i++) {
        size_t c = i % (size_t)C;
        double v = ((double)x->data[i] - mean->data[c]) / sqrt((double)var->data[c] + l->epsilon);
        if (gamma)
            v *= gamma->data[c];
        if (beta)
            v += beta->data[c];
        y->data[i] = (float)v;
    }
    return FT_OK;
}

static ft_status run_relu(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    ft_status st = tensor_copy(y, x, l->name, err);
    if (st != FT_OK)
        return st;
    size_t n = ft_gtensor_count(x);
    for (size_t i = 0; i < n; i++) {
        double v = x->data[i];
        // Keras ReLU: max_value above the cap, x from the threshold up,
        // negative_slope * (x - threshold) below it.
        if (l->relu_max >= 0 && v >= l->relu_max)
            v = l->relu_max;
        else if (v < l->relu_threshold)
            v = (double)l->relu_slope * (v - l->relu_threshold);
        y->data[i] = (float)v;
    }
    return FT_OK;
}

static ft_status run_zeropad(const ft_glayer *l, const ft_gtensor *x, ft_gtensor *y, ft_err *err)
{
    ft_status st = need_rank3(l, x, err);
    if (st != FT_OK)
        return st;
    int32_t H = x->shape[0], W = x->shape[1], C = x->shape[2];
    int32_t t = l->zero_pad[0], b = l->zero_pad[1], le = l->zero_pad[2], r = l->zero_pad[3];
    if (t > INT32_MAX / 4 || b > INT32_MAX / 4 || le > INT32_MAX / 4 || r > INT32_MAX / 4)
        return ft_err_set(err, FT_E_LIMIT, "layer '%s': padding too large", l->name);
    st = tensor_new(y, 3, H + t + b, W + le + r, C, l->name, err);
    if (st != FT_OK)
        return st;
    for (int32_t iy = 0; iy < H; iy++)
        memcpy(y->data + (((size_t)(iy + t) * (W + le + r)) + le) * C,
               x->data + (size_t)iy * W * C, (size_t)W * C * sizeof(float));
    return FT_OK;
}

// ---- Graph walk ----

typedef struct node_out {
    bool done;
    size_t n;          // outputs of this call
    ft_gtensor *outs;
} node_out;

typedef struct run_state {
    const ft_graph *g;
    node_out **res; // per layer, per call (InputLayer: one)
} run_state;

static size_t calls_of(const ft_glayer *l)
{
    return l->kind == FT_LAYER_INPUT ? 1 : l->n_nodes;
}

static void state_free(run_state *s)
{
    if (!s->res)
        return;
    for (size_t i = 0; i < s->g->n_layers; i++) {
        if (!s->res[i])
            continue;
        for (size_t k = 0; k < calls_of(&s->g->layers[i]); k++) {
            node_out *o = &s->res[i][k];
            for (size_t j = 0; j < o->n; j++)
                ft_gtensor_deinit(&o->outs[j]);
            ft_free(o->outs);
        }
        ft_free(s->res[i]);
    }
    ft_free(s->res);
}

static const ft_gtensor *ref_value(const run_state *s, const ft_gref *r)
{
    const node_out *o = &s->res[r->layer][r->node];
    return o->done ? &o->outs[r->tensor] : NULL;
}

static ft_status run_layer(const ft_glayer *l, const ft_gtensor *const *x, ft_gtensor *outs,
                           ft_err *err)
{
    switch (l->kind) {
    case FT_LAYER_CONV2D:
    case FT_LAYER_DWCONV2D:
        return run_conv(l, x[0], &outs[0], err);
    case FT_LAYER_DENSE:
        return run_dense(l, x[0], &outs[0], err);
    case FT_LAYER_MAXPOOL2D:
    case FT_LAYER_AVGPOOL2D:
        return run_pool(l, x[0], &outs[0], err);
    case FT_LAYER_GLOBAL_MAXPOOL2D:
    case FT_LAYER_GLOBAL_AVGPOOL2D:
        return run_global_pool(l, x[0], &outs[0], err);
    case FT_LAYER_FLATTEN: {
        ft_status st = tensor_copy(&outs[0], x[0], l->name, err);
        if (st == FT_OK) {
            size_t n = ft_gtensor_count(x[0]);
            if (n > INT32_MAX)
                return ft_err_set(err, FT_E_LIMIT, "layer '%s': too large", l->name);
            outs[0].rank = 1;
            outs[0].shape[0] = (int32_t)n;
        }
        return st;
    }
    case FT_LAYER_BATCHNORM:
        return run_bn(l, x[0], &outs[0], err);
    case FT_LAYER_ACTIVATION: {
        ft_status st = tensor_copy(&outs[0], x[0], l->name, err);
        if (st == FT_OK)
            activate(&outs[0], l->activation);
        return st;
    }
    case FT_LAYER_RELU:
        return run_relu(l, x[0], &outs[0], err);
    case FT_LAYER_ZEROPAD2D:
        return run_zeropad(l, x[0], &outs[0], err);
    case FT_LAYER_DROPOUT:
        return tensor_copy(&outs[0], x[0], l->name, err);
    case FT_LAYER_MODEL: {
        // x holds one tensor per nested input, in order.
        ft_gtensor *in = ft_calloc(l->sub->n_inputs, sizeof *in);
        ft_status st = FT_OK;
        if (!in)
            return ft_err_set(err, FT_E_NOMEM, "layer '%s': out of memory", l->name);
        for (size_t i = 0; i < l->sub->n_inputs; i++)
            in[i] = *x[i]; // shallow: run only reads its inputs
        st = ft_graph_run(l->sub, in, l->sub->n_inputs, outs, l->sub->n_outputs, err);
        ft_free(in);
        if (st != FT_OK)
            ft_err_prefix(err, "in '%s': ", l->name);
        return st;
    }
    default:
        return ft_err_set(err, FT_E_UNSUPPORTED, "layer '%s': kind cannot run", l->name);
    }
}

static ft_status check_input(const ft_glayer *l, const ft_gtensor *t, ft_err *err)
{
    bool ok = t->rank == l->input_rank && t->data;
    for (int32_t i = 0; ok && i < t->rank; i++)
        ok = t->shape[i] > 0 && (l->input_shape[i] < 0 || l->input_shape[i] == t->shape[i]);
    if (!ok)
        return ft_err_set(err, FT_E_INVALID,
                          "input '%s': got a rank-%d tensor [%d, %d, %d], expected rank %d "
                          "[%d, %d, %d] (-1 = any)",
                          l->name, (int)t->rank, (int)t->shape[0], (int)t->shape[1],
                          (int)t->shape[2], (int)l->input_rank, (int)l->input_shape[0],
                          (int)l->input_shape[1], (int)l->input_shape[2]);
    return FT_OK;
}

ft_status ft_graph_run(const ft_graph *g, const ft_gtensor *in, size_t n_in, ft_gtensor *out,
                       size_t n_out, ft_err *err)
{
    run_state s = {g, NULL};
    ft_status st = FT_OK;
    const ft_gtensor **xs = NULL;
    size_t max_in = 1, produced = 0;

    if (n_in != g->n_inputs || n_out != g->n_outputs)
        return ft_err_set(err, FT_E_INVALID, "model '%s' takes %zu inputs and gives %zu outputs",
                          g->name, g->n_inputs, g->n_outputs);
    st = ft_graph_check(g, err);
    if (st != FT_OK)
        return st;
    s.res = ft_calloc(g->n_layers ? g->n_layers : 1, sizeof *s.res);
    if (!s.res)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_layers; i++) {
        const ft_glayer *l = &g->layers[i];
        s.res[i] = ft_calloc(calls_of(l) ? calls_of(l) : 1, sizeof **s.res);
        if (!s.res[i]) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto done;
        }
        if (l->kind == FT_LAYER_MODEL && l->sub->n_inputs > max_in)
            max_in = l->sub->n_inputs;
    }
    xs = ft_calloc(max_in, sizeof *xs);
    if (!xs) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        const ft_glayer *l = &g->layers[g->inputs[i].layer];
        node_out *o = &s.res[g->inputs[i].layer][0];
        st = check_input(l, &in[i], err);
        if (st != FT_OK)
            goto done;
        if (o->done)
            continue; // the same input listed twice
        o->outs = ft_calloc(1, sizeof *o->outs);
        if (!o->outs) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto done;
        }
        o->n = 1;
        st = tensor_copy(&o->outs[0], &in[i], l->name, err);
        if (st != FT_OK)
            goto done;
        o->done = true;
    }
    // Keras lists layers in a topological order, but shared layers can make
    // a call wait for a later one: sweep until nothing is left.
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < g->n_layers; i++) {
            const ft_glayer *l = &g->layers[i];
            if (l->kind == FT_LAYER_INPUT)
                continue;
            for (size_t k = 0; k < l->n_nodes; k++) {
                node_out *o = &s.res[i][k];
                const ft_gnode *nd = &l->nodes[k];
                bool ready = !o->done;
                for (size_t j = 0; ready && j < nd->n_inputs; j++)
                    ready = (xs[j] = ref_value(&s, &nd->inputs[j])) != NULL;
                if (!ready)
                    continue;
                size_t n_o = l->kind == FT_LAYER_MODEL ? l->sub->n_outputs : 1;
                o->outs = ft_calloc(n_o, sizeof *o->outs);
                if (!o->outs) {
                    st = ft_err_set(err, FT_E_NOMEM, "out of memory");
                    goto done;
                }
                o->n = n_o;
                st = run_layer(l, xs, o->outs, err);
                if (st != FT_OK)
                    goto done;
                o->done = true;
                progress = true;
            }
        }
    }
    for (size_t i = 0; i < n_out; i++) {
        const ft_gtensor *t = ref_value(&s, &g->outputs[i]);
        if (!t) {
            st = ft_err_set(err, FT_E_FORMAT, "model '%s': output %zu ('%s') is not reachable "
                            "from the inputs", g->name, i, g->layers[g->outputs[i].layer].name);
            goto done;
        }
        st = tensor_copy(&out[i], t, g->name, err);
        if (st != FT_OK)
            goto done;
        produced++;
    }
done:
    if (st != FT_OK)
        for (size_t i = 0; i < produced; i++)
            ft_gtensor_deinit(&out[i]);
    ft_free(xs);
    state_free(&s);
    return st;
}
