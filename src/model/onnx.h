// ONNX models: a reader of the protobuf messages a model file needs
// (onnx.c) and a network that runs the graph on the engine (onnx_net.c).
//
// The file format (onnx.proto3, protobuf wire format): a ModelProto holds
// ir_version (1), opset_import (8: domain 1, version 2), producer_name (2),
// producer_version (3) and the graph (7). A GraphProto holds nodes (1),
// name (2), initializers (5: TensorProto), inputs (11), outputs (12) and
// value_info (13: ValueInfoProto). A NodeProto has inputs (1), outputs (2),
// name (3), op_type (4), attributes (5) and domain (7). An AttributeProto
// has name (1), type (20), f (2), i (3), s (4), t (5), g (6), floats (7),
// ints (8), strings (9). A TensorProto has dims (1), data_type (2),
// float_data (4), int32_data (5), int64_data (7), name (8), raw_data (9,
// little-endian), double_data (10), data_location (14: 1 = external).
// A ValueInfoProto has name (1) and type (2: TypeProto, whose tensor_type
// (1) has elem_type (1) and shape (2: dims (1) with dim_value (1) or
// dim_param (2))). Every other field is skipped by its wire type; nested
// graphs (If/Loop bodies) are recorded as present but not read.
#ifndef FT_MODEL_ONNX_H
#define FT_MODEL_ONNX_H

#include "core/status.h"
#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_ONNX_MAX_RANK 8

// ONNX TensorProto.DataType values the reader converts; others are kept
// as a type code with no data.
enum { FT_ONNX_FLOAT = 1, FT_ONNX_INT32 = 6, FT_ONNX_INT64 = 7, FT_ONNX_DOUBLE = 11 };

typedef struct ft_onnx_limits {
    size_t max_bytes;      // file size
    size_t max_nodes;      // graph nodes
    size_t max_tensors;    // initializers + tensor attributes
    size_t max_values;     // graph inputs + outputs + value_info entries
    size_t max_attrs;      // attributes of one node; inputs/outputs of one node
    int32_t max_rank;      // dims of a tensor or a value's shape (<= FT_ONNX_MAX_RANK)
    size_t max_elems;      // elements of one tensor
    size_t max_total_elems; // elements of all tensors
} ft_onnx_limits;

// 64 MB, 4096 nodes, 4096 tensors, 4096 values, 64 attributes, rank 8,
// 16 M elements per tensor, 32 M in all.
ft_onnx_limits ft_onnx_limits_default(void);

typedef struct ft_onnx_tensor {
    const char *name;
    int32_t data_type; // TensorProto.DataType
    int32_t rank;
    int64_t dims[FT_ONNX_MAX_RANK];
    size_t n_elems;
    // Converted values: FLOAT and DOUBLE as float32 in `f`, INT32 and
    // INT64 as int64 in `i`; NULL for other types and external data.
    const float *f;
    const int64_t *i;
    bool external; // data_location EXTERNAL: the data is not in the file
} ft_onnx_tensor;

typedef enum ft_onnx_attr_type {
    FT_ONNX_ATTR_UNDEFINED = 0,
    FT_ONNX_ATTR_FLOAT = 1,
    FT_ONNX_ATTR_INT = 2,
    FT_ONNX_ATTR_STRING = 3,
    FT_ONNX_ATTR_TENSOR = 4,
    FT_ONNX_ATTR_GRAPH = 5,
    FT_ONNX_ATTR_FLOATS = 6,
    FT_ONNX_ATTR_INTS = 7,
    FT_ONNX_ATTR_STRINGS = 8,
} ft_onnx_attr_type;

typedef struct ft_onnx_attr {
    const char *name;
    ft_onnx_attr_type type; // from the type field, else inferred from what is set
    float f;
    int64_t i;
    const char *s; // STRING: NUL-terminated copy (s_len bytes before the NUL)
    size_t s_len;
    size_t n_floats, n_ints, n_strings;
    const float *floats;
    const int64_t *ints;
    const ft_onnx_tensor *t; // TENSOR
} ft_onnx_attr;

typedef struct ft_onnx_node {
    const char *name, *op_type, *domain; // never NULL ("" when absent)
    size_t n_inputs, n_outputs, n_attrs;
    const char **inputs; // "" = an omitted optional input
    const char **outputs;
    const ft_onnx_attr *attrs;
} ft_onnx_node;

// A graph input, output or value_info entry. dims[k] < 0: symbolic or
// unknown (dim_param names it when given).
typedef struct ft_onnx_value {
    const char *name;
    int32_t elem_type; // 0 when no tensor type is given
    int32_t rank;      // -1 when no shape is given
    int64_t dims[FT_ONNX_MAX_RANK];
    const char *dim_param[FT_ONNX_MAX_RANK]; // NULL unless symbolic
} ft_onnx_value;

typedef struct ft_onnx {
    int64_t ir_version;
    int64_t opset; // version of the default ("" or "ai.onnx") domain; 0 if absent
    const char *producer, *producer_version, *graph_name;
    size_t n_nodes, n_tensors, n_inputs, n_outputs, n_value_info;
    const ft_onnx_node *nodes;
    const ft_onnx_tensor *tensors; // initializers, file order
    // Graph inputs in file order; older exporters also list initializers
    // here. ft_onnx_is_initializer tells them apart.
    const ft_onnx_value *inputs;
    const ft_onnx_value *outputs;
    const ft_onnx_value *value_info;
    struct ft_onnx_block *mem; // owned storage
} ft_onnx;

// Parses a model from memory. The result owns copies of everything (the
// buffer may be freed after). FT_E_FORMAT for malformed protobuf or ONNX
// (truncated fields, counts that do not fit the bytes, a tensor whose data
// does not match its dims), FT_E_LIMIT when a limit is exceeded,
// FT_E_NOMEM; `err` names the field. `*out` is written only on success.
// Thread-safe (no shared state).
ft_status ft_onnx_parse(const uint8_t *buf, size_t len, const ft_onnx_limits *lim, ft_onnx **out,
                        ft_err *err);
// Reads the file (at most lim->max_bytes) then ft_onnx_parse. FT_E_IO when
// it cannot be read. If `sha256_hex` is non-NULL it receives the file's
// SHA-256 (64 hex digits + NUL).
ft_status ft_onnx_load(const char *path, const ft_onnx_limits *lim, ft_onnx **out,
                       char sha256_hex[65], ft_err *err);
void ft_onnx_free(ft_onnx *m);

// Lookups (linear; graphs are small). NULL / false when absent.
const ft_onnx_tensor *ft_onnx_initializer(const ft_onnx *m, const char *name);
bool ft_onnx_is_initializer(const ft_onnx *m, const char *name);
const ft_onnx_attr *ft_onnx_node_attr(const ft_onnx_node *n, const char *name);

// ---- Running a graph on the engine (onnx_net.c) ----

// A network prepared from an ONNX graph: one image input N=1 x C x H x W
// (float32, any H and W the graph accepts), float32 outputs. Supported ops
// (default domain): Conv (group 1 or depthwise group == channels, any
// explicit pads, dilation 1), BatchNormalization (folded into the
// preceding Conv), Relu, LeakyRelu (alpha 0.1), Sigmoid, Clip (0..6 or
// 0..inf), Add (same shapes, no broadcasting), MaxPool (VALID, or the
// symmetric padding of a stride-1 odd window) and AveragePool (VALID),
// neither with ceil_mode, GlobalAveragePool, Resize / Upsample (nearest,
// integer scales, coordinate rules that mean out[i] = in[i / s]), Concat
// (channels of maps, any axis after a reshape), Transpose, Reshape,
// Flatten, Identity, Dropout, Constant. Anything else is FT_E_UNSUPPORTED
// at ft_onnx_net_new, naming the op or attribute and the node; shapes the
// graph cannot take are FT_E_INVALID when run.
//
// A prepared net is read-only and may be shared by threads; each run uses
// the caller's context.
typedef struct ft_onnx_net ft_onnx_net;

ft_status ft_onnx_net_new(const ft_onnx *m, ft_onnx_net **out, ft_err *err);
void ft_onnx_net_free(ft_onnx_net *n);

size_t ft_onnx_net_n_outputs(const ft_onnx_net *n);
const char *ft_onnx_net_output_name(const ft_onnx_net *n, size_t i);
int32_t ft_onnx_net_input_channels(const ft_onnx_net *n);

// One output of a run: row-major data in the ONNX logical layout (NCHW for
// 4-D maps), `d` in the context's arena (valid until the arena is reset).
typedef struct ft_onnx_out {
    int32_t rank;
    int64_t dims[FT_ONNX_MAX_RANK];
    size_t n;
    const float *d;
} ft_onnx_out;

// Bytes of the context's arena one run at h x w takes (on top of what the
// caller allocated there before, e.g. the input): reserve them first.
// FT_E_INVALID when the graph cannot take that size.
ft_status ft_onnx_net_plan(const ft_onnx_net *n, int32_t h, int32_t w, size_t *bytes, ft_err *err);

// Runs the net on `x` (HWC, the input's channels; the caller resets the
// arena before). Fills out[k] for k < min(cap, n_outputs). FT_E_INVALID
// when a shape does not fit the graph (sizes the convolutions and the
// residual additions cannot take), FT_E_NOMEM.
ft_status ft_onnx_net_run(const ft_onnx_net *n, ft_nn_ctx *ctx, const ft_map *x, ft_onnx_out *out,
                          size_t cap, ft_err *err);

// For profiling (bench/bench_yunet.c): the steps the graph became (after
// folding and fusion), and a run that records each step's time in ms (the
// calling thread's CPU time; in a banded chain, summed over its bands; a
// fused pair's at its first step) and, for convolutions, its multiply-adds
// (arrays of ft_onnx_net_n_steps; either may be NULL; alias steps record 0).
typedef struct ft_onnx_step_info {
    const char *node, *op; // first ONNX node of the step; engine op
    int32_t kh, kw, c_in, c_out, stride; // convolutions only
    bool depthwise;
} ft_onnx_step_info;
size_t ft_onnx_net_n_steps(const ft_onnx_net *n);
void ft_onnx_net_step_info(const ft_onnx_net *n, size_t i, ft_onnx_step_info *info);
ft_status ft_onnx_net_run_timed(const ft_onnx_net *n, ft_nn_ctx *ctx, const ft_map *x,
                                ft_onnx_out *out, size_t cap, double *step_ms, int64_t *step_macs,
                                ft_err *err);

// Tests and benchmarks: how the net runs chains of steps in row bands.
// FT_ONNX_BANDS_RINGS (the default): the steps of a chain in low bands
// (where the rows the band above reads again are a large share of those
// computed) write their rows into rings (ft_nn_ctx_rings), where those
// rows stay in place; other chains as FT_ONNX_BANDS_MOVE.
// FT_ONNX_BANDS_MOVE: plain buffers, those rows moved down before each
// band (also the path taken when no ring can be had). FT_ONNX_BANDS_NONE:
// no chains, every step on whole maps. The outputs are the same bits in all
// three. Set it before planning (ft_onnx_net_plan) and running; not while
// another thread runs the net.
typedef enum { FT_ONNX_BANDS_RINGS, FT_ONNX_BANDS_MOVE, FT_ONNX_BANDS_NONE } ft_onnx_bands;
void ft_onnx__net_set_bands(ft_onnx_net *n, ft_onnx_bands b);

#endif
