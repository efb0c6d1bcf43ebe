// An in-memory Keras-style functional model: layers with their type,
// configuration, weights and inbound nodes. The HDF5 loader (h5.h)
// produces it, the writer consumes it, graph_run.c executes it with plain
// reference loops, and the engine (src/nn) can be fed from it layer by layer.
//
// Conventions (as Keras with data_format "channels_last", batch 1):
//   activations are HWC float32 (rank 3) or vectors (rank 1);
//   Conv2D kernel [kh, kw, cin, cout]; DepthwiseConv2D kernel
//   [kh, kw, cin, depth_multiplier]; Dense kernel [in, out]; BatchNorm
//   gamma/beta/moving_mean/moving_variance [c] (gamma or beta absent when
//   scale/center is false).
// A graph's layers keep their file order. A layer may be called more than
// once (shared layers): each call is one inbound node with its own inputs.
#ifndef FT_MODEL_GRAPH_H
#define FT_MODEL_GRAPH_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ft_layer_kind {
    FT_LAYER_INPUT = 0,
    FT_LAYER_CONV2D,
    FT_LAYER_DWCONV2D,
    FT_LAYER_DENSE,
    FT_LAYER_MAXPOOL2D,
    FT_LAYER_AVGPOOL2D,
    FT_LAYER_GLOBAL_MAXPOOL2D,
    FT_LAYER_GLOBAL_AVGPOOL2D,
    FT_LAYER_FLATTEN,
    FT_LAYER_BATCHNORM,
    FT_LAYER_ACTIVATION, // Activation(...)
    FT_LAYER_RELU,       // ReLU(max_value, negative_slope, threshold)
    FT_LAYER_ZEROPAD2D,
    FT_LAYER_DROPOUT, // identity at inference
    FT_LAYER_MODEL,   // a nested functional model (Keras "Functional"/"Model")
    FT_LAYER_KIND_COUNT_
} ft_layer_kind;

// Keras class name for a kind ("Conv2D"); NULL when out of range.
const char *ft_layer_kind_name(ft_layer_kind k);

typedef enum ft_gact {
    FT_GACT_LINEAR = 0,
    FT_GACT_RELU,
    FT_GACT_RELU6,
    FT_GACT_SIGMOID,
    FT_GACT_TANH,
    FT_GACT_SOFTMAX, // over the last axis
    FT_GACT_SWISH,   // x * sigmoid(x) (Keras "swish" / "silu")
    FT_GACT_COUNT_
} ft_gact;

// Keras activation name ("relu"); NULL when out of range.
const char *ft_gact_name(ft_gact a);

typedef enum ft_gpad {
    FT_GPAD_VALID = 0,
    FT_GPAD_SAME, // TensorFlow's rule: pad_total = max((out-1)*s + k - in, 0), before = total/2
} ft_gpad;

// One weight array. `data` points into the owning top-level graph's block.
typedef struct ft_gweight {
    char *name; // Keras variable name: "kernel", "bias", "gamma", ...
    int32_t rank;
    int32_t shape[4];
    size_t n_elems;
    float *data;
} ft_gweight;

// A reference to a tensor: output `tensor` of call `node` of layer `layer`
// (indices into the same graph; node counts the calls inside this graph,
// from 0, whatever the file's convention).
typedef struct ft_gref {
    int32_t layer, node, tensor;
} ft_gref;

typedef struct ft_gnode {
    size_t n_inputs;
    ft_gref *inputs;
} ft_gnode;

typedef struct ft_graph ft_graph;

typedef struct ft_glayer {
    char *name;
    ft_layer_kind kind;
    // Configuration; only the fields of the kind are meaningful.
    int32_t units;             // Conv2D filters, Dense units
    int32_t kernel[2];         // Conv2D/DepthwiseConv2D kernel, pool size
    int32_t strides[2];        // conv and pooling strides
    int32_t dilation[2];       // conv dilation (1 = none)
    int32_t depth_multiplier;  // DepthwiseConv2D
    ft_gpad padding;           // conv and pooling
    int32_t zero_pad[4];       // ZeroPadding2D: top, bottom, left, right
    bool use_bias;             // conv, dense
    ft_gact activation;        // conv, dense, Activation
    float epsilon;             // BatchNormalization
    bool center, scale;        // BatchNormalization: beta/gamma present
    float relu_max;            // ReLU max_value; negative = none
    float relu_slope;          // ReLU negative_slope
    float relu_threshold;      // ReLU threshold
    float rate;                // Dropout
    bool keepdims;             // global pooling
    int32_t input_shape[3];    // InputLayer: H, W, C without the batch; -1 = any
    int32_t input_rank;        // InputLayer: 1 or 3
    bool trainable;
    // Weights in Keras order (kernel, bias / gamma, beta, mean, variance).
    size_t n_weights;
    ft_gweight *weights;
    ft_graph *sub; // FT_LAYER_MODEL: the nested model (owned)
    size_t n_nodes;
    ft_gnode *nodes;
} ft_glayer;

struct ft_graph {
    char *name;
    size_t n_layers;
    ft_glayer *layers;
    size_t n_inputs, n_outputs;
    ft_gref *inputs;  // each refers to an InputLayer (node 0)
    ft_gref *outputs;
    float *block; // the weight block (top-level graph only; NULL in nested)
    size_t block_floats;
};

void ft_graph_free(ft_graph *g);

// Index of a layer by name, or -1.
int32_t ft_graph_find(const ft_graph *g, const char *name);

// Looks a weight of layer `l` up by variable name ("kernel"); NULL if absent.
const ft_gweight *ft_glayer_weight(const ft_glayer *l, const char *name);

// ---- Reference execution (graph_run.c) ----

// An activation: rank 3 (HWC) or rank 1, owned data.
typedef struct ft_gtensor {
    int32_t rank;
    int32_t shape[3];
    float *data;
} ft_gtensor;

static inline size_t ft_gtensor_count(const ft_gtensor *t)
{
    size_t n = 1;
    for (int32_t i = 0; i < t->rank; i++)
        n *= (size_t)t->shape[i];
    return n;
}

void ft_gtensor_deinit(ft_gtensor *t);

// Runs the graph on `n_in` inputs (one per graph input, batch 1) with
// straightforward loops (double accumulators), writing one tensor per graph
// output into `out` (n_out must equal g->n_outputs; release each with
// ft_gtensor_deinit). Shapes are checked against the InputLayers.
// FT_E_INVALID for a bad input shape, FT_E_FORMAT for a graph whose shapes
// do not agree (errors name the layer), FT_E_NOMEM.
ft_status ft_graph_run(const ft_graph *g, const ft_gtensor *in, size_t n_in, ft_gtensor *out,
                       size_t n_out, ft_err *err);

// The static checks the loader runs and the writer repeats: references in
// range, one input per call for every kind but nested models, the weights
// each kind needs with shapes agreeing with the configuration (kernel size,
// units, bias length). Input-dependent shapes are checked by ft_graph_run.
// FT_E_FORMAT; messages name the layer.
ft_status ft_graph_check(const ft_graph *g, ft_err *err);

#endif
