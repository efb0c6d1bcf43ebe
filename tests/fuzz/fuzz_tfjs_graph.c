// libFuzzer target for the tfjs graph-model reader (ft_tfjs_graph_parse)
// and, on the same bytes, the faceres graph compiler (ft_faceres_parse).
// Input layout: byte 0 picks options (bit 0: tight limits; bit 1: also
// compile the graph as faceres with the bytes after the JSON as its
// weights), bytes 1-2 are the JSON length L (little-endian), then L bytes
// of model.json; every byte after that is the shard data.
#include "face/faceres.h"
#include "model/tfjs_graph.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t opts = data[0];
    size_t json_len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (json_len > size)
        json_len = size;

    ft_faceres_limits lim = ft_faceres_limits_default();
    if (opts & 1) {
        lim.graph.max_nodes = 16;
        lim.graph.max_inputs = 4;
        lim.graph.max_attrs = 4;
        lim.graph.max_list = 8;
        lim.graph.max_name_bytes = 64;
        lim.weights.max_tensors = 16;
        lim.weights.max_weight_bytes = 1 << 16;
    }
    ft_err err;
    ft_tfjs_graph *g = NULL;
    if (ft_tfjs_graph_parse("fuzz.json", data, json_len, &lim.graph, &g, &err) == FT_OK) {
        // Touch every node, reference and attribute so a bad pointer or
        // length shows under ASan.
        volatile size_t sink = 0;
        size_t n = ft_tfjs_graph_count(g);
        for (size_t i = 0; i < n; i++) {
            const ft_tfg_node *nd = ft_tfjs_graph_node(g, i);
            sink += strlen(nd->name) + strlen(nd->op);
            if (ft_tfjs_graph_find(g, nd->name) != (int32_t)i)
                __builtin_trap();
            for (size_t k = 0; k < nd->n_inputs; k++) {
                if (nd->inputs[k].node < 0 || (size_t)nd->inputs[k].node >= n)
                    __builtin_trap();
                sink += (size_t)nd->inputs[k].output;
            }
            for (size_t k = 0; k < nd->n_attrs; k++) {
                const ft_tfg_attr *a = &nd->attrs[k];
                if (ft_tfg_node_attr(nd, a->name) == NULL)
                    __builtin_trap();
                for (size_t j = 0; a->s && j < a->s_len; j++)
                    sink += (unsigned char)a->s[j];
                for (size_t j = 0; j < a->n; j++) {
                    if (a->ints)
                        sink += (size_t)a->ints[j];
                    if (a->floats)
                        sink += a->floats[j] > 0;
                    if (a->strs)
                        sink += strlen(a->strs[j]);
                }
            }
        }
        (void)sink;
        ft_tfjs_graph_free(g);
    }
    if (opts & 2) {
        ft_faceres *f = NULL;
        if (ft_faceres_parse(data, json_len, data + json_len, size - json_len, &lim, &f, &err) ==
            FT_OK) {
            size_t nodes;
            if (ft_faceres_layers(f, &nodes) == 0)
                __builtin_trap();
            ft_faceres_free(f);
        }
    }
    return 0;
}
