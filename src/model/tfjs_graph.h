// The topology of a tfjs GRAPH model (model.json with "format":
// "graph-model", as tensorflowjs_converter writes it): the TensorFlow
// GraphDef in JSON. The weights of the same file are read by tfjs.h
// (its "weightsManifest"). Format, field by field:
//   {"format": "graph-model", "modelTopology": {"node": [node...],
//    "library": {...}, "versions": {...}}, "weightsManifest": [...],
//    optional "signature", "generatedBy", "convertedBy", "userDefinedMetadata"}
//   node = {"name": string (unique), "op": string ("Conv2D", "Const", ...),
//           optional "input": [string...], optional "device": string,
//           optional "attr": {attr_name: value...}}
//   input = "producer" (output 0), "producer:k" (output k) or "^producer"
//           (a control dependency: ordering only, no data)
//   value = one of {"s": base64 bytes} {"i": int64 as a decimal string or
//           number} {"f": number} {"b": bool} {"type": "DT_FLOAT"...}
//           {"shape": {"dim": [{"size": "-1"}...]} or {"unknownRank": true}}
//           {"tensor": {"dtype": ..., "tensorShape": {"dim": [...]}}}
//           {"list": {"i"|"s"|"f"|"type": [...]}} ({} = empty list);
//           anything else ("func", "placeholder") is kept as FT_TFG_OTHER.
// Only the structure is validated here (types, names, references, limits);
// what an op needs of its attributes is checked by whoever runs it.
#ifndef FT_MODEL_TFJS_GRAPH_H
#define FT_MODEL_TFJS_GRAPH_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ft_tfjs_graph_limits {
    size_t max_json_bytes;  // the whole model.json; default 16 MiB
    size_t max_nodes;       // default 65536
    size_t max_inputs;      // per node; default 1024
    size_t max_attrs;       // per node; default 64
    size_t max_list;        // elements of one list attribute or shape; default 4096
    size_t max_name_bytes;  // node names, ops, attribute names and strings; default 4096
} ft_tfjs_graph_limits;

ft_tfjs_graph_limits ft_tfjs_graph_limits_default(void);

typedef enum ft_tfg_kind {
    FT_TFG_OTHER = 0, // a kind this reader does not interpret
    FT_TFG_S,         // bytes (decoded from base64), NUL-terminated for convenience
    FT_TFG_I,
    FT_TFG_F,
    FT_TFG_B,
    FT_TFG_TYPE,   // the "DT_..." name in `s`
    FT_TFG_SHAPE,  // dims in `ints` (-1 = unknown); n = rank, unknown rank: n = 0, i = 1
    FT_TFG_TENSOR, // a Const's value: dtype name in `s`, shape in `ints`
    FT_TFG_LIST_I,
    FT_TFG_LIST_F,
    FT_TFG_LIST_S, // also "type" lists (the type names)
} ft_tfg_kind;

typedef struct ft_tfg_attr {
    const char *name;
    ft_tfg_kind kind;
    int64_t i;
    double f;
    bool b;
    const char *s;  // FT_TFG_S / FT_TFG_TYPE / FT_TFG_TENSOR dtype
    size_t s_len;   // bytes of s (FT_TFG_S may hold NULs)
    size_t n;       // elements of the list / dims
    int64_t *ints;  // FT_TFG_LIST_I, FT_TFG_SHAPE, FT_TFG_TENSOR
    double *floats; // FT_TFG_LIST_F
    const char **strs; // FT_TFG_LIST_S (NUL-terminated)
} ft_tfg_attr;

typedef struct ft_tfg_input {
    int32_t node;   // index of the producer in ft_tfjs_graph.nodes
    int32_t output; // which output of the producer (0 for "name")
    bool control;   // "^name": ordering only
} ft_tfg_input;

typedef struct ft_tfg_node {
    const char *name;
    const char *op;
    size_t n_inputs;
    ft_tfg_input *inputs;
    size_t n_attrs;
    ft_tfg_attr *attrs;
} ft_tfg_node;

typedef struct ft_tfjs_graph ft_tfjs_graph;

// Memory entry point: `json` is the model.json text. `name` is used in
// error messages. FT_E_FORMAT (not JSON, not a graph model, bad field
// types, duplicate names, an input naming no node, bad base64), FT_E_LIMIT,
// FT_E_NOMEM. Thread-safe; the result is read-only and shareable.
ft_status ft_tfjs_graph_parse(const char *name, const uint8_t *json, size_t json_len,
                              const ft_tfjs_graph_limits *lim, ft_tfjs_graph **out, ft_err *err);
// Reads the file at `path` and parses it.
ft_status ft_tfjs_graph_load(const char *path, const ft_tfjs_graph_limits *lim,
                             ft_tfjs_graph **out, ft_err *err);
void ft_tfjs_graph_free(ft_tfjs_graph *g);

// Nodes in file order. Pointers are borrowed, valid until ft_tfjs_graph_free.
size_t ft_tfjs_graph_count(const ft_tfjs_graph *g);
const ft_tfg_node *ft_tfjs_graph_node(const ft_tfjs_graph *g, size_t i);
// Index of the node called `name`, or -1.
int32_t ft_tfjs_graph_find(const ft_tfjs_graph *g, const char *name);
// The attribute `name` of node `n`, or NULL.
const ft_tfg_attr *ft_tfg_node_attr(const ft_tfg_node *n, const char *name);

#endif
