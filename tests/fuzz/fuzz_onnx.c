// libFuzzer target for ft_onnx_parse and the engine mapping. Input layout:
// byte 0 picks options (bit 0: tight limits; bit 1: prepare the net with
// ft_onnx_net_new; bit 2: also run it on a small input), the rest is the
// model. Seeds: tests/fuzz/make_onnx_corpus.py.
#include "core/mem.h"
#include "model/onnx.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ft_nn_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opts = data[0];
    data++;
    size--;
    ft_onnx_limits lim = ft_onnx_limits_default();
    if (opts & 1) {
        lim.max_nodes = 16;
        lim.max_tensors = 16;
        lim.max_values = 16;
        lim.max_attrs = 8;
        lim.max_rank = 4;
        lim.max_elems = 4096;
        lim.max_total_elems = 8192;
    }
    // Running a fuzzed graph must stay cheap: small weights only.
    lim.max_total_elems = lim.max_total_elems < 65536 ? lim.max_total_elems : 65536;
    ft_onnx *m = NULL;
    ft_err err;
    if (ft_onnx_parse(data, size, &lim, &m, &err) != FT_OK)
        return 0;
    // Touch every exposed value so a wrong size shows under ASan.
    volatile float sink = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const ft_onnx_tensor *t = &m->tensors[i];
        for (size_t k = 0; t->f && k < t->n_elems; k++)
            sink += t->f[k];
        for (size_t k = 0; t->i && k < t->n_elems; k++)
            sink += (float)t->i[k];
        if (ft_onnx_initializer(m, t->name) == NULL)
            __builtin_trap();
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        const ft_onnx_node *n = &m->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            sink += (float)strlen(n->inputs[k]);
        for (size_t k = 0; k < n->n_outputs; k++)
            sink += (float)strlen(n->outputs[k]);
        for (size_t k = 0; k < n->n_attrs; k++) {
            const ft_onnx_attr *a = &n->attrs[k];
            for (size_t j = 0; j < a->n_floats; j++)
                sink += a->floats[j];
            for (size_t j = 0; j < a->n_ints; j++)
                sink += (float)a->ints[j];
            if (a->s)
                sink += (float)strlen(a->s);
        }
    }
    (void)sink;
    if (opts & 2) {
        ft_onnx_net *net = NULL;
        if (ft_onnx_net_new(m, &net, &err) == FT_OK && (opts & 4)) {
            if (!ctx && ft_nn_ctx_new(1, &ctx) != FT_OK)
                __builtin_trap();
            int32_t c = ft_onnx_net_input_channels(net), h = 16 + (opts >> 3 & 7),
                    w = 16 + (opts >> 5 & 7);
            size_t bytes;
            ft_arena *ar = ft_nn_ctx_arena(ctx);
            if (c <= 64 && ft_onnx_net_plan(net, h, w, &bytes, &err) == FT_OK &&
                bytes < ((size_t)64 << 20) &&
                ft_arena_reserve(ar, bytes + (size_t)h * w * c * 4 + 128) == FT_OK) {
                float *x = ft_arena_floats(ar, (size_t)h * w * c);
                for (size_t i = 0; i < (size_t)h * w * c; i++)
                    x[i] = (float)(i % 7) - 3;
                ft_map xm = {h, w, c, x};
                ft_onnx_out out[8];
                if (ft_onnx_net_run(net, ctx, &xm, out, 8, &err) == FT_OK)
                    for (size_t k = 0; k < 8 && k < ft_onnx_net_n_outputs(net); k++)
                        for (size_t j = 0; j < out[k].n; j++)
                            sink += out[k].d[j];
            }
        }
        ft_onnx_net_free(net);
    }
    ft_onnx_free(m);
    return 0;
}
