// `facetracker model info FILE.h5|FILE.onnx`: the layers of a Keras-layout
// model, or an ONNX graph's inputs, outputs and ops (and whether the
// engine can run it).
#include "cli/cli.h"

#include "model/h5.h"
#include "model/onnx.h"

#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: facetracker model info FILE.h5|FILE.onnx\n"
    "\n"
    "Prints the model's layers (type, output shape, parameters) as JSON.\n"
    "For ONNX: inputs and outputs with their shapes, the ops and how often\n"
    "each occurs, and whether facetracker's engine runs the graph (if not,\n"
    "which op or attribute of which node it does not support).\n";

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static void json_values(ft_buf *b, const ft_onnx_value *v, size_t n)
{
    ft_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        ft_buf_puts(b, i ? ", {\"name\": " : "{\"name\": ");
        ft_buf_json_str(b, v[i].name);
        ft_buf_printf(b, ", \"elem_type\": %d, \"shape\": ", (int)v[i].elem_type);
        if (v[i].rank < 0) {
            ft_buf_puts(b, "null");
        } else {
            ft_buf_puts(b, "[");
            for (int32_t k = 0; k < v[i].rank; k++) {
                if (k)
                    ft_buf_puts(b, ", ");
                if (v[i].dim_param[k])
                    ft_buf_json_str(b, v[i].dim_param[k]);
                else if (v[i].dims[k] < 0)
                    ft_buf_puts(b, "null");
                else
                    ft_buf_printf(b, "%lld", (long long)v[i].dims[k]);
            }
            ft_buf_puts(b, "]");
        }
        ft_buf_puts(b, "}");
    }
    ft_buf_puts(b, "]");
}

static ft_status onnx_info(const char *path, ft_buf *b, ft_err *err)
{
    ft_onnx *m = NULL;
    char sha[65];
    ft_status st = ft_onnx_load(path, NULL, &m, sha, err);
    if (st != FT_OK)
        return st;
    ft_buf_puts(b, "{\"file\": ");
    ft_buf_json_str(b, path);
    ft_buf_printf(b, ", \"format\": \"onnx\", \"sha256\": \"%s\", \"ir_version\": %lld, "
                     "\"opset\": %lld, \"producer\": ",
                  sha, (long long)m->ir_version, (long long)m->opset);
    ft_buf_json_str(b, m->producer);
    ft_buf_puts(b, ", \"producer_version\": ");
    ft_buf_json_str(b, m->producer_version);
    ft_buf_puts(b, ", \"graph\": ");
    ft_buf_json_str(b, m->graph_name);
    // Graph inputs that are initializers (older exporters) are not inputs.
    ft_buf_puts(b, ", \"inputs\": [");
    size_t k = 0;
    for (size_t i = 0; i < m->n_inputs; i++) {
        if (ft_onnx_is_initializer(m, m->inputs[i].name))
            continue;
        ft_buf t;
        ft_buf_init(&t, 0);
        json_values(&t, &m->inputs[i], 1);
        ft_buf_puts(b, k++ ? ", " : "");
        ft_buf_append(b, t.data + 1, t.len - 2);
        ft_buf_deinit(&t);
    }
    ft_buf_puts(b, "], \"outputs\": ");
    json_values(b, m->outputs, m->n_outputs);
    // Ops in first-seen order with their counts.
    ft_buf_puts(b, ", \"ops\": {");
    size_t n_ops = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const ft_onnx_node *nd = &m->nodes[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->nodes[j].op_type, nd->op_type) == 0 &&
                   strcmp(m->nodes[j].domain, nd->domain) == 0;
        if (seen)
            continue;
        size_t cnt = 0;
        for (size_t j = i; j < m->n_nodes; j++)
            cnt += strcmp(m->nodes[j].op_type, nd->op_type) == 0 &&
                   strcmp(m->nodes[j].domain, nd->domain) == 0;
        char name[512];
        snprintf(name, sizeof name, "%s%s%s", nd->domain, *nd->domain ? "." : "", nd->op_type);
        ft_buf_puts(b, n_ops++ ? ", " : "");
        ft_buf_json_str(b, name);
        ft_buf_printf(b, ": %zu", cnt);
    }
    size_t params = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        params += m->tensors[i].n_elems;
    ft_buf_printf(b, "}, \"nodes\": %zu, \"initializers\": %zu, \"params\": %zu, \"engine\": ",
                  m->n_nodes, m->n_tensors, params);
    ft_onnx_net *net = NULL;
    ft_err e2 = {0};
    ft_status s2 = ft_onnx_net_new(m, &net, &e2);
    if (s2 == FT_OK) {
        ft_buf_puts(b, "{\"supported\": true}");
    } else {
        ft_buf_puts(b, "{\"supported\": false, \"error\": ");
        ft_buf_json_str(b, ft_err_msg(&e2, s2));
        ft_buf_puts(b, "}");
    }
    ft_buf_puts(b, "}");
    ft_onnx_net_free(net);
    ft_onnx_free(m);
    return FT_OK;
}

int ft_cmd_model(int argc, char **argv)
{
    if (argc == 2 && ft_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return FT_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "info") != 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_err err = {0};
    ft_status st = ends_with(argv[2], ".onnx") ? onnx_info(argv[2], &b, &err)
                                               : ft_h5_model_info(argv[2], &b, &err);
    if (st == FT_OK)
        ft_cli_emit(&b);
    else
        ft_cli_errorf("model", "%s", ft_err_msg(&err, st));
    ft_buf_deinit(&b);
    return st == FT_OK ? FT_EXIT_OK : FT_EXIT_INPUT;
}
